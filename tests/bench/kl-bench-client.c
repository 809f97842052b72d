/*
 * Benchmark of KlClient's shared-memory path at 100 000 agents (what a
 * console on the verifier's host pays), each against a baseline measured in
 * the same run: a bare pass of kl_agent_table_reader_read() over every
 * record, which is the floor of any reader.
 *
 *  - first fill: from the connected client mapping the table to 100 000
 *    KlClientAgents in the list (one items-changed);
 *  - refresh, one agent changed: the client re-reads the whole table when
 *    the generation moved; the cost of that scan;
 *  - refresh, every agent changed: the scan plus a notification per
 *    changed property.
 *
 * The service is a Manager skeleton on a private bus publishing ShmName.
 * The ratio is baseline time / our time.
 *
 * Run: meson test -C build --benchmark --verbose kl-bench-client
 */
#include "config.h"

#include "kl-agent-table-reader.h"
#include "kl-agent-table.h"
#include "kl-client.h"
#include "kl-dbus-verifier.h"
#include "kl-test-wait.h"

#define KL_BENCH_AGENTS	 100000u
#define KL_BENCH_WAIT_MS 120000

typedef struct {
	KlClient *client;
	gboolean notified;
} KlBenchState;

static void
kl_bench_client_ready(GObject *source, GAsyncResult *result, gpointer user_data)
{
	KlClient **out = user_data;
	g_autoptr(GError) error = NULL;

	*out = kl_client_new_finish(result, &error);
	if (*out == NULL)
		g_error("%s", error->message);
}

static gboolean
kl_bench_filled(gpointer user_data)
{
	KlBenchState *state = user_data;
	return g_list_model_get_n_items(kl_client_get_agents(state->client)) == KL_BENCH_AGENTS;
}

static gboolean
kl_bench_notified(gpointer user_data)
{
	KlBenchState *state = user_data;
	return state->notified;
}

static void
kl_bench_notify_cb(GObject *object, GParamSpec *pspec, KlBenchState *state)
{
	state->notified = TRUE;
}

static GDBusConnection *
kl_bench_connect(GTestDBus *bus)
{
	g_autoptr(GError) error = NULL;
	GDBusConnection *connection = g_dbus_connection_new_for_address_sync(
		g_test_dbus_get_bus_address(bus),
		G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
			G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
		NULL,
		NULL,
		&error);
	if (connection == NULL)
		g_error("%s", error->message);
	return connection;
}

/* Microseconds of a bare pass of the reader over every slot. */
static gdouble
kl_bench_reader_pass(const gchar *name)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlAgentTableReader) reader = kl_agent_table_reader_open(name, &error);
	guint consistent = 0;
	gint64 start;

	if (reader == NULL)
		g_error("%s", error->message);
	start = g_get_monotonic_time();
	for (guint i = 0; i < kl_agent_table_reader_get_count(reader); i++) {
		KlAgentTableRecord record;
		consistent += kl_agent_table_reader_read(reader, i, &record);
	}
	if (consistent != KL_BENCH_AGENTS)
		g_error("reader saw %u agents", consistent);
	return (gdouble)(g_get_monotonic_time() - start);
}

static void
kl_bench_report(const gchar *name, gdouble ours_us, gdouble baseline_us)
{
	g_print("%-32s %8.1f ms  %7.1f ns/agent   baseline (reader pass) %6.1f ms   ratio %.2fx\n",
		name,
		ours_us / 1000.0,
		ours_us * 1000.0 / KL_BENCH_AGENTS,
		baseline_us / 1000.0,
		baseline_us / ours_us);
}

/* Waits until the agent of the slot scanned last notifies its new
 * attestation count, and returns the microseconds since @start. */
static gdouble
kl_bench_wait_refresh(KlBenchState *state, gint64 start)
{
	if (!kl_test_wait_for(kl_bench_notified, state, KL_BENCH_WAIT_MS))
		g_error("the client did not see the change");
	return (gdouble)(g_get_monotonic_time() - start);
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GTestDBus) bus = g_test_dbus_new(G_TEST_DBUS_NONE);
	g_autoptr(GDBusConnection) service = NULL;
	g_autoptr(GDBusConnection) connection = NULL;
	g_autoptr(GDBusObjectManagerServer) object_manager = NULL;
	g_autoptr(KlDBusVerifier1Manager) manager = NULL;
	g_autoptr(KlAgentTable) table = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autofree gchar *last_id = NULL;
	KlAgentTableRecord record = {{0}};
	KlBenchState state = {NULL, FALSE};
	KlClientAgent *last;
	guint last_slot = 0;
	gdouble baseline;
	gdouble fill;
	gdouble one;
	gdouble all;
	gint64 start;

	g_test_dbus_unset();
	g_test_dbus_up(bus);
	service = kl_bench_connect(bus);
	connection = kl_bench_connect(bus);

	table = kl_agent_table_new(1024, &error);
	if (table == NULL)
		g_error("%s", error->message);
	record.operational_state = 3;
	record.severity_level = -1;
	record.port = 9002;
	kl_agent_table_set_string(record.ip, sizeof(record.ip), "192.168.100.200");
	kl_agent_table_set_string(record.hash_alg, sizeof(record.hash_alg), "sha256");
	kl_agent_table_set_string(record.sign_alg, sizeof(record.sign_alg), "rsassa");
	kl_agent_table_set_string(record.enc_alg, sizeof(record.enc_alg), "rsa");
	for (guint i = 0; i < KL_BENCH_AGENTS; i++) {
		g_autofree gchar *id = g_strdup_printf("d432fbb3-d2f1-4a97-9ef7-%012u", i);
		if (!kl_agent_table_add(table, id, &last_slot, &error))
			g_error("%s", error->message);
		record.attestation_count = i;
		kl_agent_table_update(table, last_slot, &record);
		if (i == KL_BENCH_AGENTS - 1)
			last_id = g_steal_pointer(&id);
	}

	manager = kl_dbus_verifier1_manager_skeleton_new();
	kl_dbus_verifier1_manager_set_shm_name(manager, kl_agent_table_get_name(table));
	if (!g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(manager),
					      service,
					      KL_CLIENT_OBJECT_PATH,
					      &error))
		g_error("%s", error->message);
	object_manager = g_dbus_object_manager_server_new(KL_CLIENT_OBJECT_PATH);
	g_dbus_object_manager_server_set_connection(object_manager, service);
	reply = g_dbus_connection_call_sync(service,
					    "org.freedesktop.DBus",
					    "/org/freedesktop/DBus",
					    "org.freedesktop.DBus",
					    "RequestName",
					    g_variant_new("(su)", KL_CLIENT_BUS_NAME, (guint32)0),
					    G_VARIANT_TYPE("(u)"),
					    G_DBUS_CALL_FLAGS_NONE,
					    -1,
					    NULL,
					    &error);
	if (reply == NULL)
		g_error("%s", error->message);

	baseline = kl_bench_reader_pass(kl_agent_table_get_name(table));
	g_print("# keylime-c KlClient over the shared-memory table, %u agents\n", KL_BENCH_AGENTS);

	start = g_get_monotonic_time();
	kl_client_new_async(connection, NULL, kl_bench_client_ready, &state.client);
	if (!kl_test_wait_for_pointer((gpointer *)&state.client, KL_BENCH_WAIT_MS))
		g_error("no client");
	kl_client_set_refresh_interval(state.client, 1);
	if (!kl_test_wait_for(kl_bench_filled, &state, KL_BENCH_WAIT_MS))
		g_error("the client did not list every agent");
	fill = (gdouble)(g_get_monotonic_time() - start);
	if (!kl_client_get_uses_shm(state.client))
		g_error("the client did not map the table");
	kl_bench_report("connect + first fill", fill, baseline);

	last = kl_client_lookup_agent(state.client, last_id);
	g_signal_connect(last, "notify::attestation-count", G_CALLBACK(kl_bench_notify_cb), &state);

	/* One agent changed: the slot scanned last. */
	record.attestation_count = G_MAXUINT32;
	kl_agent_table_update(table, last_slot, &record);
	state.notified = FALSE;
	start = g_get_monotonic_time();
	one = kl_bench_wait_refresh(&state, start);
	kl_bench_report("refresh, 1 agent changed", one, baseline);

	/* Every agent changed: written first, then timed. */
	for (guint i = 0; i < KL_BENCH_AGENTS; i++) {
		KlAgentTableRecord current;
		kl_agent_table_get(table, i, &current);
		current.attestation_count++;
		current.consecutive_failures++;
		kl_agent_table_update(table, i, &current);
	}
	state.notified = FALSE;
	start = g_get_monotonic_time();
	all = kl_bench_wait_refresh(&state, start);
	kl_bench_report("refresh, every agent changed", all, baseline);

	g_clear_object(&state.client);
	g_dbus_connection_close_sync(service, NULL, NULL);
	g_dbus_connection_close_sync(connection, NULL, NULL);
	g_test_dbus_down(bus);
	return 0;
}
