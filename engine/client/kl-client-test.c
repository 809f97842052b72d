/*
 * KlClient against a real org.keylime.Verifier1 service on a private bus:
 * the service is made here from the generated skeletons, with a real
 * KlAgentTable writer for the shared-memory side.  Covers the agent list
 * (order, precise items-changed, properties, coalesced "changed"), the
 * shared-memory path against the D-Bus path, the event feed (backfill, live,
 * newest first, bounded), every method reaching the service with its
 * arguments and fds, and a verifier that leaves the bus.
 */
#include "config.h"

#include <sys/mman.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>

#include "kl-agent-table.h"
#include "kl-client.h"
#include "kl-dbus-registrar.h"
#include "kl-dbus-verifier.h"
#include "kl-error.h"
#include "kl-test-wait.h"

#define WAIT_MS 10000

/* ---- the service -------------------------------------------------------- */

typedef struct {
	GDBusConnection *connection;
	GDBusObjectManagerServer *object_manager;
	KlDBusVerifier1Manager *manager;
	GHashTable *agents; /* agent id → KlDBusVerifier1Agent skeleton */
	KlAgentTable *table;
	GPtrArray *calls; /* "Method arg arg …", in order */
	GVariant *events; /* GetEvents' reply, a(sstsuss) */
} Service;

static GDBusConnection *
connect_to(GTestDBus *bus)
{
	g_autoptr(GError) error = NULL;
	GDBusConnection *connection = g_dbus_connection_new_for_address_sync(
		g_test_dbus_get_bus_address(bus),
		G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
			G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
		NULL,
		NULL,
		&error);
	g_assert_no_error(error);
	return connection;
}

/* The content of the fd a call carried as handle @handle. */
static gchar *
read_fd(GDBusMethodInvocation *invocation, GVariant *handle)
{
	GUnixFDList *fds =
		g_dbus_message_get_unix_fd_list(g_dbus_method_invocation_get_message(invocation));
	g_autoptr(GError) error = NULL;
	g_autoptr(GString) content = g_string_new(NULL);
	gchar buffer[256];
	gssize n;
	int fd;

	g_assert_nonnull(fds);
	fd = g_unix_fd_list_get(fds, g_variant_get_handle(handle), &error);
	g_assert_no_error(error);
	g_assert_cmpint(lseek(fd, 0, SEEK_SET), ==, 0);
	while ((n = read(fd, buffer, sizeof(buffer))) > 0)
		g_string_append_len(content, buffer, n);
	close(fd);
	return g_string_free(g_steal_pointer(&content), FALSE);
}

static void record_call(Service *service, const gchar *format, ...) G_GNUC_PRINTF(2, 3);

static void
record_call(Service *service, const gchar *format, ...)
{
	va_list args;

	va_start(args, format);
	g_ptr_array_add(service->calls, g_strdup_vprintf(format, args));
	va_end(args);
}

static gboolean
handle_remove_agent(KlDBusVerifier1Manager *manager,
		    GDBusMethodInvocation *invocation,
		    const gchar *agent_id,
		    Service *service)
{
	record_call(service, "RemoveAgent %s", agent_id);
	kl_dbus_verifier1_manager_complete_remove_agent(manager, invocation);
	return TRUE;
}

static gboolean
handle_add_agent(KlDBusVerifier1Manager *manager,
		 GDBusMethodInvocation *invocation,
		 const gchar *agent_id,
		 GVariant *options,
		 Service *service)
{
	g_autofree gchar *text = g_variant_print(options, FALSE);
	g_autofree gchar *escaped = g_dbus_escape_object_path(agent_id);
	g_autofree gchar *path = g_strconcat("/org/keylime/Verifier1/agents/", escaped, NULL);

	record_call(service, "AddAgent %s %s", agent_id, text);
	kl_dbus_verifier1_manager_complete_add_agent(manager, invocation, path);
	return TRUE;
}

static gboolean
handle_enroll_agent(KlDBusVerifier1Manager *manager,
		    GDBusMethodInvocation *invocation,
		    GVariant *options,
		    GVariant *payload,
		    Service *service)
{
	g_autofree gchar *text = g_variant_print(options, FALSE);
	g_autofree gchar *content = read_fd(invocation, payload);
	const gchar *agent_id = NULL;

	g_assert_true(g_variant_lookup(options, "agent_id", "&s", &agent_id));
	record_call(service, "EnrollAgent %s [%s]", text, content);
	kl_dbus_verifier1_manager_emit_enrollment_progress(manager,
							   agent_id,
							   "registrar",
							   "Reading the registrar");
	kl_dbus_verifier1_manager_emit_enrollment_progress(manager, agent_id, "done", "Done");
	kl_dbus_verifier1_manager_complete_enroll_agent(manager,
							invocation,
							"/org/keylime/Verifier1/agents/e1");
	return TRUE;
}

static gboolean
handle_get_events(KlDBusVerifier1Manager *manager,
		  GDBusMethodInvocation *invocation,
		  guint64 since,
		  guint max,
		  Service *service)
{
	record_call(service, "GetEvents %" G_GUINT64_FORMAT " %u", since, max);
	kl_dbus_verifier1_manager_complete_get_events(manager, invocation, service->events);
	return TRUE;
}

static gboolean
handle_add_policy(KlDBusVerifier1Manager *manager,
		  GDBusMethodInvocation *invocation,
		  const gchar *name,
		  GVariant *policy,
		  Service *service)
{
	g_autofree gchar *content = read_fd(invocation, policy);

	record_call(service,
		    "%s %s [%s]",
		    g_dbus_method_invocation_get_method_name(invocation),
		    name,
		    content);
	g_dbus_method_invocation_return_value(invocation, NULL);
	return TRUE;
}

static gboolean
handle_list_policies(KlDBusVerifier1Manager *manager,
		     GDBusMethodInvocation *invocation,
		     Service *service)
{
	const gchar *names[] = {"p1", "p2", NULL};

	record_call(service, "%s", g_dbus_method_invocation_get_method_name(invocation));
	g_dbus_method_invocation_return_value(invocation, g_variant_new("(^as)", names));
	return TRUE;
}

static gboolean
handle_get_policy(KlDBusVerifier1Manager *manager,
		  GDBusMethodInvocation *invocation,
		  const gchar *name,
		  Service *service)
{
	record_call(service, "%s %s", g_dbus_method_invocation_get_method_name(invocation), name);
	g_dbus_method_invocation_return_value(invocation, g_variant_new("(s)", "{\"x\": 1}"));
	return TRUE;
}

static gboolean
handle_delete_policy(KlDBusVerifier1Manager *manager,
		     GDBusMethodInvocation *invocation,
		     const gchar *name,
		     Service *service)
{
	record_call(service, "%s %s", g_dbus_method_invocation_get_method_name(invocation), name);
	if (g_str_equal(name, "missing")) {
		g_dbus_method_invocation_return_error(invocation,
						      KL_ERROR,
						      KL_ERROR_NOT_FOUND,
						      "policy %s not found",
						      name);
		return TRUE;
	}
	g_dbus_method_invocation_return_value(invocation, NULL);
	return TRUE;
}

static gboolean
handle_agent_simple(KlDBusVerifier1Agent *agent,
		    GDBusMethodInvocation *invocation,
		    Service *service)
{
	record_call(service,
		    "%s %s",
		    g_dbus_method_invocation_get_method_name(invocation),
		    kl_dbus_verifier1_agent_get_agent_id(agent));
	g_dbus_method_invocation_return_value(invocation, NULL);
	return TRUE;
}

static gboolean
handle_get_failures(KlDBusVerifier1Agent *agent,
		    GDBusMethodInvocation *invocation,
		    guint max,
		    Service *service)
{
	GVariantBuilder builder;

	record_call(service, "GetFailures %s %u", kl_dbus_verifier1_agent_get_agent_id(agent), max);
	g_variant_builder_init(&builder, G_VARIANT_TYPE("a(tsuss)"));
	g_variant_builder_add(&builder,
			      "(tsuss)",
			      (guint64)200,
			      "ima.validation.ima-ng.not_in_allowlist",
			      (guint32)2,
			      "/usr/bin/evil",
			      "{\"message\": \"not in allowlist\"}");
	g_variant_builder_add(&builder,
			      "(tsuss)",
			      (guint64)100,
			      "pcr_validation.invalid_pcr_0",
			      (guint32)1,
			      "",
			      "{}");
	kl_dbus_verifier1_agent_complete_get_failures(agent,
						      invocation,
						      g_variant_builder_end(&builder));
	return TRUE;
}

static gboolean
handle_get_revocations(KlDBusVerifier1Agent *agent,
		       GDBusMethodInvocation *invocation,
		       guint max,
		       Service *service)
{
	GVariantBuilder builder;

	record_call(service,
		    "GetRevocations %s %u",
		    kl_dbus_verifier1_agent_get_agent_id(agent),
		    max);
	g_variant_builder_init(&builder, G_VARIANT_TYPE("a(tsus)"));
	g_variant_builder_add(&builder,
			      "(tsus)",
			      (guint64)300,
			      "revocation.sent",
			      (guint32)2,
			      "{\"type\": \"revocation\"}");
	kl_dbus_verifier1_agent_complete_get_revocations(agent,
							 invocation,
							 g_variant_builder_end(&builder));
	return TRUE;
}

static Service *
service_new(GTestDBus *bus, gboolean with_table)
{
	Service *service = g_new0(Service, 1);
	const gchar *labels[] = {"info", "warning", "error", NULL};
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	GVariantBuilder builder;

	service->connection = connect_to(bus);
	service->calls = g_ptr_array_new_with_free_func(g_free);
	service->agents = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
	service->manager = kl_dbus_verifier1_manager_skeleton_new();
	kl_dbus_verifier1_manager_set_version(service->manager, "0.1-test");
	kl_dbus_verifier1_manager_set_severity_labels(service->manager, labels);
	if (with_table) {
		service->table = kl_agent_table_new(4, &error);
		g_assert_no_error(error);
		kl_dbus_verifier1_manager_set_shm_name(service->manager,
						       kl_agent_table_get_name(service->table));
	}
	g_variant_builder_init(&builder, G_VARIANT_TYPE("a(sstsuss)"));
	/* newest first, as the verifier answers */
	g_variant_builder_add(&builder,
			      "(sstsuss)",
			      "revocation",
			      "a1",
			      (guint64)30,
			      "revocation.sent",
			      (guint32)2,
			      "",
			      "{}");
	g_variant_builder_add(&builder,
			      "(sstsuss)",
			      "finding",
			      "a2",
			      (guint64)20,
			      "ima.validation.ima-ng.not_in_allowlist",
			      (guint32)1,
			      "/usr/bin/x",
			      "{}");
	g_variant_builder_add(&builder,
			      "(sstsuss)",
			      "finding",
			      "a1",
			      (guint64)10,
			      "pcr_validation.invalid_pcr_0",
			      (guint32)2,
			      "",
			      "{}");
	service->events = g_variant_ref_sink(g_variant_builder_end(&builder));

	g_signal_connect(service->manager,
			 "handle-remove-agent",
			 G_CALLBACK(handle_remove_agent),
			 service);
	g_signal_connect(service->manager,
			 "handle-add-agent",
			 G_CALLBACK(handle_add_agent),
			 service);
	g_signal_connect(service->manager,
			 "handle-enroll-agent",
			 G_CALLBACK(handle_enroll_agent),
			 service);
	g_signal_connect(service->manager,
			 "handle-get-events",
			 G_CALLBACK(handle_get_events),
			 service);
	g_signal_connect(service->manager,
			 "handle-add-runtime-policy",
			 G_CALLBACK(handle_add_policy),
			 service);
	g_signal_connect(service->manager,
			 "handle-add-mb-policy",
			 G_CALLBACK(handle_add_policy),
			 service);
	g_signal_connect(service->manager,
			 "handle-list-runtime-policies",
			 G_CALLBACK(handle_list_policies),
			 service);
	g_signal_connect(service->manager,
			 "handle-list-mb-policies",
			 G_CALLBACK(handle_list_policies),
			 service);
	g_signal_connect(service->manager,
			 "handle-get-runtime-policy",
			 G_CALLBACK(handle_get_policy),
			 service);
	g_signal_connect(service->manager,
			 "handle-get-mb-policy",
			 G_CALLBACK(handle_get_policy),
			 service);
	g_signal_connect(service->manager,
			 "handle-delete-runtime-policy",
			 G_CALLBACK(handle_delete_policy),
			 service);
	g_signal_connect(service->manager,
			 "handle-delete-mb-policy",
			 G_CALLBACK(handle_delete_policy),
			 service);

	/* The Manager is at the ObjectManager's own path; the agents below. */
	g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(service->manager),
					 service->connection,
					 "/org/keylime/Verifier1",
					 &error);
	g_assert_no_error(error);
	service->object_manager = g_dbus_object_manager_server_new("/org/keylime/Verifier1");
	g_dbus_object_manager_server_set_connection(service->object_manager, service->connection);
	reply = g_dbus_connection_call_sync(service->connection,
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
	g_assert_no_error(error);
	return service;
}

static void
service_free(Service *service)
{
	if (service == NULL)
		return;
	if (!g_dbus_connection_is_closed(service->connection))
		g_dbus_connection_close_sync(service->connection, NULL, NULL);
	g_clear_pointer(&service->table, kl_agent_table_free);
	g_object_unref(service->object_manager);
	g_object_unref(service->manager);
	g_hash_table_unref(service->agents);
	g_ptr_array_unref(service->calls);
	g_variant_unref(service->events);
	g_object_unref(service->connection);
	g_free(service);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Service, service_free)

/* An agent with every field set from @n, exported on the bus and, when the
 * service has a table, written to the table with the same values. */
static KlDBusVerifier1Agent *
service_add_agent(Service *service, const gchar *agent_id, guint n)
{
	g_autofree gchar *escaped = g_dbus_escape_object_path(agent_id);
	g_autofree gchar *path = g_strconcat("/org/keylime/Verifier1/agents/", escaped, NULL);
	g_autofree gchar *ip = g_strdup_printf("10.0.0.%u", n);
	g_autofree gchar *event_id = g_strdup_printf("event.%u", n);
	g_autoptr(KlDBusObjectSkeleton) object = kl_dbus_object_skeleton_new(path);
	KlDBusVerifier1Agent *agent = kl_dbus_verifier1_agent_skeleton_new();

	kl_dbus_verifier1_agent_set_agent_id(agent, agent_id);
	kl_dbus_verifier1_agent_set_state(agent, 3 + n % 2);
	kl_dbus_verifier1_agent_set_state_reason(agent, 1);
	kl_dbus_verifier1_agent_set_ip(agent, ip);
	kl_dbus_verifier1_agent_set_port(agent, (guint16)(9000 + n));
	kl_dbus_verifier1_agent_set_last_attestation(agent, 1000 + n);
	kl_dbus_verifier1_agent_set_last_success(agent, 900 + n);
	kl_dbus_verifier1_agent_set_attestation_count(agent, 10 * n);
	kl_dbus_verifier1_agent_set_consecutive_failures(agent, n);
	kl_dbus_verifier1_agent_set_severity_level(agent, (gint)(n % 3));
	kl_dbus_verifier1_agent_set_last_event_id(agent, event_id);
	kl_dbus_verifier1_agent_set_runtime_policy(agent, "runtime-policy");
	kl_dbus_verifier1_agent_set_mb_policy(agent, "mb-policy");
	kl_dbus_verifier1_agent_set_hash_alg(agent, "sha256");
	kl_dbus_verifier1_agent_set_sign_alg(agent, "rsassa");
	kl_dbus_verifier1_agent_set_enc_alg(agent, "rsa");
	g_signal_connect(agent, "handle-stop", G_CALLBACK(handle_agent_simple), service);
	g_signal_connect(agent, "handle-reactivate", G_CALLBACK(handle_agent_simple), service);
	g_signal_connect(agent, "handle-get-failures", G_CALLBACK(handle_get_failures), service);
	g_signal_connect(agent,
			 "handle-get-revocations",
			 G_CALLBACK(handle_get_revocations),
			 service);
	kl_dbus_object_skeleton_set_verifier1_agent(object, agent);
	g_dbus_object_manager_server_export(service->object_manager,
					    G_DBUS_OBJECT_SKELETON(object));
	g_hash_table_insert(service->agents, g_strdup(agent_id), agent);

	if (service->table != NULL) {
		g_autoptr(GError) error = NULL;
		KlAgentTableRecord record = {{0}};
		guint slot = 0;

		g_assert_true(kl_agent_table_add(service->table, agent_id, &slot, &error));
		g_assert_no_error(error);
		record.operational_state = (gint32)(3 + n % 2);
		record.severity_level = (gint32)(n % 3);
		kl_agent_table_set_string(record.ip, sizeof(record.ip), ip);
		record.port = (guint16)(9000 + n);
		record.last_attestation = 1000 + n;
		record.last_success = 900 + n;
		record.attestation_count = 10 * n;
		record.consecutive_failures = n;
		kl_agent_table_set_string(record.last_event_id,
					  sizeof(record.last_event_id),
					  event_id);
		kl_agent_table_set_string(record.hash_alg, sizeof(record.hash_alg), "sha256");
		kl_agent_table_set_string(record.sign_alg, sizeof(record.sign_alg), "rsassa");
		kl_agent_table_set_string(record.enc_alg, sizeof(record.enc_alg), "rsa");
		kl_agent_table_update(service->table, slot, &record);
	}
	return agent;
}

static void
service_remove_agent(Service *service, const gchar *agent_id)
{
	g_autofree gchar *escaped = g_dbus_escape_object_path(agent_id);
	g_autofree gchar *path = g_strconcat("/org/keylime/Verifier1/agents/", escaped, NULL);
	guint slot = 0;

	g_assert_true(g_dbus_object_manager_server_unexport(service->object_manager, path));
	g_hash_table_remove(service->agents, agent_id);
	if (service->table != NULL) {
		g_assert_true(kl_agent_table_lookup(service->table, agent_id, &slot));
		kl_agent_table_remove(service->table, slot);
	}
}

/* ---- the client --------------------------------------------------------- */

typedef struct {
	GTestDBus *bus;
	Service *service;
	GDBusConnection *connection;
	KlClient *client;
	GArray *items_changed; /* guint triples: position, removed, added */
	guint n_changed;
	GPtrArray *progress;
} Fixture;

static void
items_changed_cb(GListModel *model, guint position, guint removed, guint added, Fixture *fixture)
{
	guint triple[3] = {position, removed, added};
	g_array_append_vals(fixture->items_changed, triple, 3);
}

static void
changed_cb(KlClient *client, Fixture *fixture)
{
	fixture->n_changed++;
}

static void
progress_cb(KlClient *client,
	    const gchar *agent_id,
	    const gchar *step,
	    const gchar *message,
	    Fixture *fixture)
{
	g_ptr_array_add(fixture->progress, g_strdup_printf("%s %s %s", agent_id, step, message));
}

static void
client_ready(GObject *source, GAsyncResult *result, gpointer user_data)
{
	KlClient **out = user_data;
	g_autoptr(GError) error = NULL;

	*out = kl_client_new_finish(result, &error);
	g_assert_no_error(error);
}

static gboolean
client_is_connected(gpointer user_data)
{
	Fixture *fixture = user_data;
	return kl_client_get_connected(fixture->client);
}

static gboolean
service_calls_include(gpointer user_data)
{
	Fixture *fixture = user_data;
	return fixture->service->calls->len > 0;
}

static void
fixture_set_up(Fixture *fixture, gconstpointer user_data)
{
	gboolean with_table = GPOINTER_TO_INT(user_data);

	fixture->bus = g_test_dbus_new(G_TEST_DBUS_NONE);
	g_test_dbus_up(fixture->bus);
	fixture->service = service_new(fixture->bus, with_table);
	fixture->connection = connect_to(fixture->bus);
	fixture->items_changed = g_array_new(FALSE, FALSE, sizeof(guint));
	fixture->progress = g_ptr_array_new_with_free_func(g_free);
	kl_client_new_async(fixture->connection, NULL, client_ready, &fixture->client);
	g_assert_true(kl_test_wait_for_pointer((gpointer *)&fixture->client, WAIT_MS));
	g_assert_true(kl_test_wait_for(client_is_connected, fixture, WAIT_MS));
	kl_client_set_refresh_interval(fixture->client, 20);
	g_signal_connect(kl_client_get_agents(fixture->client),
			 "items-changed",
			 G_CALLBACK(items_changed_cb),
			 fixture);
	g_signal_connect(fixture->client, "changed", G_CALLBACK(changed_cb), fixture);
	g_signal_connect(fixture->client, "enrollment-progress", G_CALLBACK(progress_cb), fixture);
}

static void
fixture_tear_down(Fixture *fixture, gconstpointer user_data)
{
	g_assert_finalize_object(fixture->client);
	/* Calls the client left pending finish, cancelled. */
	while (g_main_context_iteration(NULL, FALSE))
		;
	g_clear_pointer(&fixture->service, service_free);
	g_dbus_connection_close_sync(fixture->connection, NULL, NULL);
	g_object_unref(fixture->connection);
	g_array_unref(fixture->items_changed);
	g_ptr_array_unref(fixture->progress);
	g_test_dbus_down(fixture->bus);
	g_object_unref(fixture->bus);
}

static gboolean
fixture_n_agents_is(Fixture *fixture, guint n)
{
	return g_list_model_get_n_items(kl_client_get_agents(fixture->client)) == n;
}

typedef struct {
	Fixture *fixture;
	guint n;
} WaitCount;

static gboolean
n_agents_reached(gpointer user_data)
{
	WaitCount *wait = user_data;
	return fixture_n_agents_is(wait->fixture, wait->n);
}

static void
wait_n_agents(Fixture *fixture, guint n)
{
	WaitCount wait = {fixture, n};
	g_assert_true(kl_test_wait_for(n_agents_reached, &wait, WAIT_MS));
}

static gboolean
n_changed_reached(gpointer user_data)
{
	WaitCount *wait = user_data;
	return wait->fixture->n_changed >= wait->n;
}

/* Lets the client settle: every pending "changed" is emitted. */
static void
settle(Fixture *fixture)
{
	WaitCount wait = {fixture, G_MAXUINT};
	kl_test_wait_for(n_changed_reached, &wait, 400);
}

static void
assert_agent_ids(Fixture *fixture, const gchar *const *expected)
{
	GListModel *agents = kl_client_get_agents(fixture->client);
	guint n = g_list_model_get_n_items(agents);

	g_assert_cmpuint(n, ==, g_strv_length((gchar **)expected));
	for (guint i = 0; i < n; i++) {
		g_autoptr(KlClientAgent) agent = g_list_model_get_item(agents, i);
		g_assert_cmpstr(kl_client_agent_get_agent_id(agent), ==, expected[i]);
	}
}

static void
assert_items_changed(Fixture *fixture, const guint *expected, guint n_triples)
{
	g_assert_cmpuint(fixture->items_changed->len, ==, n_triples * 3);
	for (guint i = 0; i < n_triples * 3; i++)
		g_assert_cmpuint(g_array_index(fixture->items_changed, guint, i), ==, expected[i]);
	g_array_set_size(fixture->items_changed, 0);
}

/* Every property of every agent, as text, for comparing two sources. */
static gchar *
snapshot_agents(Fixture *fixture)
{
	GListModel *agents = kl_client_get_agents(fixture->client);
	g_autoptr(GString) out = g_string_new(NULL);

	for (guint i = 0; i < g_list_model_get_n_items(agents); i++) {
		g_autoptr(KlClientAgent) agent = g_list_model_get_item(agents, i);
		guint n_specs = 0;
		g_autofree GParamSpec **specs =
			g_object_class_list_properties(G_OBJECT_GET_CLASS(agent), &n_specs);

		for (guint j = 0; j < n_specs; j++) {
			g_auto(GValue) value = G_VALUE_INIT;
			g_auto(GValue) text = G_VALUE_INIT;

			g_value_init(&value, specs[j]->value_type);
			g_object_get_property(G_OBJECT(agent), specs[j]->name, &value);
			g_value_init(&text, G_TYPE_STRING);
			g_assert_true(g_value_transform(&value, &text));
			g_string_append_printf(out,
					       "%s=%s;",
					       specs[j]->name,
					       g_value_get_string(&text));
		}
		g_string_append_c(out, '\n');
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

/* ---- tests -------------------------------------------------------------- */

static void
test_client_agents_dbus(Fixture *fixture, gconstpointer user_data)
{
	const gchar *sorted[] = {"a1", "b2", "c3", NULL};
	const gchar *after_remove[] = {"a1", "c3", NULL};
	const guint inserts[] = {0, 0, 1, 0, 0, 1, 1, 0, 1};
	const guint removal[] = {1, 1, 0};
	KlDBusVerifier1Agent *a1;
	KlDBusVerifier1Agent *c3;
	KlClientAgent *agent;

	g_assert_false(kl_client_get_uses_shm(fixture->client));
	g_assert_cmpstr(kl_client_get_version(fixture->client), ==, "0.1-test");

	/* Out of order on the bus, in order in the model. */
	c3 = service_add_agent(fixture->service, "c3", 3);
	wait_n_agents(fixture, 1);
	a1 = service_add_agent(fixture->service, "a1", 1);
	wait_n_agents(fixture, 2);
	service_add_agent(fixture->service, "b2", 2);
	wait_n_agents(fixture, 3);
	assert_agent_ids(fixture, sorted);
	assert_items_changed(fixture, inserts, 3);

	agent = kl_client_lookup_agent(fixture->client, "a1");
	g_assert_nonnull(agent);
	g_assert_cmpuint(kl_client_agent_get_state(agent), ==, 4);
	g_assert_cmpstr(kl_client_agent_get_ip(agent), ==, "10.0.0.1");
	g_assert_cmpuint(kl_client_agent_get_port(agent), ==, 9001);
	g_assert_cmpuint(kl_client_agent_get_last_attestation(agent), ==, 1001);
	g_assert_cmpuint(kl_client_agent_get_last_success(agent), ==, 901);
	g_assert_cmpuint(kl_client_agent_get_attestation_count(agent), ==, 10);
	g_assert_cmpuint(kl_client_agent_get_consecutive_failures(agent), ==, 1);
	g_assert_cmpint(kl_client_agent_get_severity_level(agent), ==, 1);
	g_assert_cmpstr(kl_client_agent_get_last_event_id(agent), ==, "event.1");
	g_assert_cmpstr(kl_client_agent_get_runtime_policy(agent), ==, "runtime-policy");
	g_assert_cmpstr(kl_client_agent_get_mb_policy(agent), ==, "mb-policy");
	g_assert_cmpstr(kl_client_agent_get_hash_alg(agent), ==, "sha256");
	g_assert_cmpstr(kl_client_agent_get_sign_alg(agent), ==, "rsassa");
	g_assert_cmpstr(kl_client_agent_get_enc_alg(agent), ==, "rsa");
	g_assert_cmpstr(kl_client_agent_state_to_label(kl_client_agent_get_state(agent)),
			==,
			"Get Quote (retry)");
	g_assert_cmpstr(kl_client_severity_to_label(fixture->client, 1), ==, "warning");

	/* A burst of changes on two agents: each field arrives, and views
	 * hear one "changed". */
	settle(fixture);
	fixture->n_changed = 0;
	kl_dbus_verifier1_agent_set_state(a1, 7);
	kl_dbus_verifier1_agent_set_consecutive_failures(a1, 5);
	kl_dbus_verifier1_agent_set_last_event_id(a1, "pcr_validation.invalid_pcr_0");
	kl_dbus_verifier1_agent_set_state(c3, 9);
	kl_dbus_verifier1_agent_set_runtime_policy(c3, "other");
	settle(fixture);
	g_assert_cmpuint(fixture->n_changed, ==, 1);
	g_assert_cmpuint(kl_client_agent_get_state(agent), ==, 7);
	g_assert_cmpuint(kl_client_agent_get_consecutive_failures(agent), ==, 5);
	g_assert_cmpstr(kl_client_agent_get_last_event_id(agent),
			==,
			"pcr_validation.invalid_pcr_0");
	agent = kl_client_lookup_agent(fixture->client, "c3");
	g_assert_cmpuint(kl_client_agent_get_state(agent), ==, 9);
	g_assert_cmpstr(kl_client_agent_get_runtime_policy(agent), ==, "other");
	assert_items_changed(fixture, NULL, 0);

	/* A removed agent leaves the model at its position. */
	service_remove_agent(fixture->service, "b2");
	wait_n_agents(fixture, 2);
	assert_agent_ids(fixture, after_remove);
	assert_items_changed(fixture, removal, 1);
	g_assert_null(kl_client_lookup_agent(fixture->client, "b2"));
}

static void
connected_notify_cb(KlClient *client, GParamSpec *pspec, guint *n_notify)
{
	(*n_notify)++;
}

static gboolean
client_uses_shm_is(Fixture *fixture, gboolean expected)
{
	return kl_client_get_uses_shm(fixture->client) == expected;
}

static gboolean
client_not_using_shm(gpointer user_data)
{
	return client_uses_shm_is(user_data, FALSE);
}

static gboolean
g7_replaced_c3(gpointer user_data)
{
	Fixture *fixture = user_data;
	return kl_client_lookup_agent(fixture->client, "c3") == NULL &&
	       kl_client_lookup_agent(fixture->client, "g7") != NULL;
}

static void
test_client_agents_shm(Fixture *fixture, gconstpointer user_data)
{
	const gchar *sorted[] = {"a1", "b2", "c3", "d4", "e5", NULL};
	const guint removal[] = {1, 1, 0};
	const guint insert[] = {4, 0, 1};
	const gchar *after_reuse[] = {"a1", "d4", "e5", "f6", "g7", NULL};
	const guint reuse[] = {1, 1, 0, 4, 0, 1};
	g_autofree gchar *via_shm = NULL;
	g_autofree gchar *via_dbus = NULL;
	KlAgentTableRecord record;
	KlClientAgent *agent;
	guint slot = 0;

	g_assert_true(kl_client_get_uses_shm(fixture->client));
	/* More agents than the table's first capacity: it grows under the
	 * reader's mapping. */
	service_add_agent(fixture->service, "e5", 5);
	service_add_agent(fixture->service, "c3", 3);
	service_add_agent(fixture->service, "a1", 1);
	service_add_agent(fixture->service, "d4", 4);
	service_add_agent(fixture->service, "b2", 2);
	wait_n_agents(fixture, 5);
	assert_agent_ids(fixture, sorted);
	settle(fixture);

	/* What the table lacks comes from the objects. */
	agent = kl_client_lookup_agent(fixture->client, "c3");
	g_assert_nonnull(agent);
	g_assert_cmpstr(kl_client_agent_get_ip(agent), ==, "10.0.0.3");
	g_assert_cmpstr(kl_client_agent_get_runtime_policy(agent), ==, "runtime-policy");
	g_assert_cmpuint(kl_client_agent_get_state_reason(agent), ==, 1);

	/* A live field written only to the table reaches the agent, with one
	 * "changed". */
	g_array_set_size(fixture->items_changed, 0);
	fixture->n_changed = 0;
	g_assert_true(kl_agent_table_lookup(fixture->service->table, "c3", &slot));
	kl_agent_table_get(fixture->service->table, slot, &record);
	record.attestation_count = 12345;
	record.operational_state = 7;
	kl_agent_table_update(fixture->service->table, slot, &record);
	g_assert_true(kl_agent_table_lookup(fixture->service->table, "a1", &slot));
	kl_agent_table_get(fixture->service->table, slot, &record);
	record.consecutive_failures = 77;
	kl_agent_table_update(fixture->service->table, slot, &record);
	settle(fixture);
	g_assert_cmpuint(fixture->n_changed, ==, 1);
	g_assert_cmpuint(kl_client_agent_get_attestation_count(agent), ==, 12345);
	g_assert_cmpuint(kl_client_agent_get_state(agent), ==, 7);
	g_assert_cmpuint(kl_client_agent_get_consecutive_failures(
				 kl_client_lookup_agent(fixture->client, "a1")),
			 ==,
			 77);
	assert_items_changed(fixture, NULL, 0);
	/* Put the same values on the bus, for the comparison below. */
	kl_dbus_verifier1_agent_set_attestation_count(
		g_hash_table_lookup(fixture->service->agents, "c3"),
		12345);
	kl_dbus_verifier1_agent_set_state(g_hash_table_lookup(fixture->service->agents, "c3"), 7);
	kl_dbus_verifier1_agent_set_consecutive_failures(
		g_hash_table_lookup(fixture->service->agents, "a1"),
		77);

	/* Removal and insertion through the table. */
	service_remove_agent(fixture->service, "b2");
	wait_n_agents(fixture, 4);
	assert_items_changed(fixture, removal, 1);
	service_add_agent(fixture->service, "f6", 6);
	wait_n_agents(fixture, 5);
	assert_items_changed(fixture, insert, 1);
	settle(fixture);

	/* A slot freed and taken by another agent within one refresh. */
	service_remove_agent(fixture->service, "c3");
	service_add_agent(fixture->service, "g7", 7);
	g_assert_true(kl_test_wait_for(g7_replaced_c3, fixture, WAIT_MS));
	assert_agent_ids(fixture, after_reuse);
	assert_items_changed(fixture, reuse, 2);
	settle(fixture);

	/* The same fields through D-Bus: the verifier stops publishing the
	 * table, the client falls back to the objects. */
	via_shm = snapshot_agents(fixture);
	kl_dbus_verifier1_manager_set_shm_name(fixture->service->manager, "");
	g_assert_true(kl_test_wait_for(client_not_using_shm, fixture, WAIT_MS));
	wait_n_agents(fixture, 5);
	settle(fixture);
	via_dbus = snapshot_agents(fixture);
	g_assert_cmpstr(via_dbus, ==, via_shm);
}

static void
test_client_shm_refused(Fixture *fixture, gconstpointer user_data)
{
	/* A name that does not map: the objects are used instead. */
	kl_dbus_verifier1_manager_set_shm_name(fixture->service->manager, "/keylime-no-such-table");
	service_add_agent(fixture->service, "a1", 1);
	wait_n_agents(fixture, 1);
	settle(fixture);
	g_assert_false(kl_client_get_uses_shm(fixture->client));
	g_assert_cmpstr(kl_client_agent_get_ip(kl_client_lookup_agent(fixture->client, "a1")),
			==,
			"10.0.0.1");
}

static void
test_client_shm_closed(Fixture *fixture, gconstpointer user_data)
{
	const gchar *sorted[] = {"a1", "b2", NULL};
	guint n_notify = 0;

	service_add_agent(fixture->service, "b2", 2);
	service_add_agent(fixture->service, "a1", 1);
	wait_n_agents(fixture, 2);
	g_assert_true(kl_client_get_uses_shm(fixture->client));
	g_signal_connect(fixture->client,
			 "notify::uses-shm",
			 G_CALLBACK(connected_notify_cb),
			 &n_notify);

	/* The verifier frees its table but stays on the bus: the objects
	 * take over, and later Manager changes do not bring the table back. */
	g_clear_pointer(&fixture->service->table, kl_agent_table_free);
	g_assert_true(kl_test_wait_for(client_not_using_shm, fixture, WAIT_MS));
	g_assert_cmpuint(n_notify, ==, 1);
	wait_n_agents(fixture, 2);
	assert_agent_ids(fixture, sorted);
	kl_dbus_verifier1_manager_set_num_agents(fixture->service->manager, 2);
	kl_dbus_verifier1_agent_set_state(g_hash_table_lookup(fixture->service->agents, "b2"), 9);
	settle(fixture);
	g_assert_false(kl_client_get_uses_shm(fixture->client));
	g_assert_cmpuint(kl_client_agent_get_state(kl_client_lookup_agent(fixture->client, "b2")),
			 ==,
			 9);
}

typedef struct {
	Fixture *fixture;
	guint n;
} WaitEvents;

static gboolean
n_events_reached(gpointer user_data)
{
	WaitEvents *wait = user_data;
	return g_list_model_get_n_items(kl_client_get_events(wait->fixture->client)) == wait->n;
}

static KlClientEvent *
event_at(Fixture *fixture, guint position)
{
	return g_list_model_get_item(kl_client_get_events(fixture->client), position);
}

static void
assert_event(Fixture *fixture,
	     guint position,
	     KlClientEventKind kind,
	     const gchar *agent_id,
	     guint64 time,
	     const gchar *event_id,
	     const gchar *severity_label)
{
	g_autoptr(KlClientEvent) event = event_at(fixture, position);

	g_assert_nonnull(event);
	g_assert_cmpint(kl_client_event_get_kind(event), ==, kind);
	g_assert_cmpstr(kl_client_event_get_agent_id(event), ==, agent_id);
	g_assert_cmpuint(kl_client_event_get_time(event), ==, time);
	g_assert_cmpstr(kl_client_event_get_event_id(event), ==, event_id);
	g_assert_cmpstr(kl_client_event_get_severity_label(event), ==, severity_label);
}

static gboolean
top_event_is_evil(gpointer user_data)
{
	g_autoptr(KlClientEvent) top = event_at(user_data, 0);
	return top != NULL && g_str_equal(kl_client_event_get_subject(top), "/usr/bin/evil");
}

static gboolean
top_event_is_other(gpointer user_data)
{
	g_autoptr(KlClientEvent) top = event_at(user_data, 0);
	return top != NULL && g_str_equal(kl_client_event_get_subject(top), "/usr/bin/other");
}

static void
test_client_events(Fixture *fixture, gconstpointer user_data)
{
	WaitEvents wait = {fixture, 3};
	GVariantBuilder builder;

	/* Backfilled on connection, newest first. */
	g_assert_true(kl_test_wait_for(n_events_reached, &wait, WAIT_MS));
	g_assert_cmpstr(g_ptr_array_index(fixture->service->calls, 0), ==, "GetEvents 0 10000");
	assert_event(fixture, 0, KL_CLIENT_EVENT_REVOCATION, "a1", 30, "revocation.sent", "error");
	assert_event(fixture,
		     1,
		     KL_CLIENT_EVENT_FINDING,
		     "a2",
		     20,
		     "ima.validation.ima-ng.not_in_allowlist",
		     "warning");
	assert_event(fixture,
		     2,
		     KL_CLIENT_EVENT_FINDING,
		     "a1",
		     10,
		     "pcr_validation.invalid_pcr_0",
		     "error");

	/* A signal of the wrong signature from the verifier's name is
	 * dropped (by GDBusProxy, against the interface), not half-read. */
	{
		g_autoptr(GError) error = NULL;
		WaitEvents dropped = {fixture, 4};

		g_test_expect_message("GLib-GIO",
				      G_LOG_LEVEL_WARNING,
				      "Dropping signal Revocation*");
		g_test_expect_message("GLib-GIO",
				      G_LOG_LEVEL_WARNING,
				      "Dropping signal AttestationFailed*");
		g_dbus_connection_emit_signal(fixture->service->connection,
					      NULL,
					      "/org/keylime/Verifier1",
					      "org.keylime.Verifier1.Manager",
					      "Revocation",
					      g_variant_new("(s)", "a9"),
					      &error);
		g_assert_no_error(error);
		g_dbus_connection_emit_signal(fixture->service->connection,
					      NULL,
					      "/org/keylime/Verifier1",
					      "org.keylime.Verifier1.Manager",
					      "AttestationFailed",
					      g_variant_new("(ostus)",
							    "/org/keylime/Verifier1/agents/a9",
							    "a9",
							    (guint64)1,
							    (guint32)1,
							    "x"),
					      &error);
		g_assert_no_error(error);
		/* no event is added meanwhile */
		g_assert_false(kl_test_wait_for(n_events_reached, &dropped, 300));
		g_test_assert_expected_messages();
	}

	/* Live events go on top; the oldest fall off past the bound. */
	kl_client_set_max_events(fixture->client, 5);
	kl_dbus_verifier1_manager_emit_revocation(fixture->service->manager,
						  "/org/keylime/Verifier1/agents/a3",
						  "a3",
						  40,
						  "revocation.sent",
						  0,
						  "{}");
	wait.n = 4;
	g_assert_true(kl_test_wait_for(n_events_reached, &wait, WAIT_MS));
	assert_event(fixture, 0, KL_CLIENT_EVENT_REVOCATION, "a3", 40, "revocation.sent", "info");

	g_variant_builder_init(&builder, G_VARIANT_TYPE("a(ssb)"));
	g_variant_builder_add(&builder,
			      "(ssb)",
			      "pcr_validation.invalid_pcr_7",
			      "{\"pcr\": 7}",
			      TRUE);
	g_variant_builder_add(&builder, "(ssb)", "quote_validation.quote_validation", "{}", FALSE);
	kl_dbus_verifier1_manager_emit_attestation_failed(fixture->service->manager,
							  "/org/keylime/Verifier1/agents/a4",
							  "a4",
							  50,
							  2,
							  g_variant_builder_end(&builder));
	wait.n = 5;
	g_assert_true(kl_test_wait_for(n_events_reached, &wait, WAIT_MS));
	/* check order kept top-down; the two oldest backfilled are gone */
	assert_event(fixture,
		     0,
		     KL_CLIENT_EVENT_FINDING,
		     "a4",
		     50,
		     "pcr_validation.invalid_pcr_7",
		     "error");
	assert_event(fixture,
		     1,
		     KL_CLIENT_EVENT_FINDING,
		     "a4",
		     50,
		     "quote_validation.quote_validation",
		     "error");
	assert_event(fixture, 2, KL_CLIENT_EVENT_REVOCATION, "a3", 40, "revocation.sent", "info");
	assert_event(fixture,
		     4,
		     KL_CLIENT_EVENT_FINDING,
		     "a2",
		     20,
		     "ima.validation.ima-ng.not_in_allowlist",
		     "warning");
	{
		g_autoptr(KlClientEvent) first = event_at(fixture, 0);
		g_assert_cmpstr(kl_client_event_get_context(first), ==, "{\"pcr\": 7}");
	}

	/* One round with an IMA finding: AttestationFailed then its entries.
	 * The IMA finding is shown once, with its path and the round's
	 * severity. */
	g_variant_builder_init(&builder, G_VARIANT_TYPE("a(ssb)"));
	g_variant_builder_add(&builder,
			      "(ssb)",
			      "ima.validation.ima-ng.not_in_allowlist",
			      "{\"line\": 12}",
			      FALSE);
	g_variant_builder_add(&builder, "(ssb)", "pcr_validation.invalid_pcr_0", "{}", FALSE);
	kl_dbus_verifier1_manager_emit_attestation_failed(fixture->service->manager,
							  "/org/keylime/Verifier1/agents/a5",
							  "a5",
							  60,
							  1,
							  g_variant_builder_end(&builder));
	g_variant_builder_init(&builder, G_VARIANT_TYPE("a(ussa{sv})"));
	{
		GVariantBuilder extras;
		g_variant_builder_init(&extras, G_VARIANT_TYPE_VARDICT);
		g_variant_builder_add(
			&extras,
			"{sv}",
			"event_id",
			g_variant_new_string("ima.validation.ima-ng.not_in_allowlist"));
		g_variant_builder_add(&extras,
				      "{sv}",
				      "context",
				      g_variant_new_string("{\"line\": 12}"));
		g_variant_builder_add(&builder,
				      "(ussa{sv})",
				      (guint32)12,
				      "/usr/bin/evil",
				      "not in allowlist",
				      &extras);
	}
	kl_dbus_verifier1_manager_emit_ima_entries_failed(fixture->service->manager,
							  "/org/keylime/Verifier1/agents/a5",
							  "a5",
							  60,
							  g_variant_builder_end(&builder));
	g_assert_true(kl_test_wait_for(top_event_is_evil, fixture, WAIT_MS));
	{
		g_autoptr(KlClientEvent) top = event_at(fixture, 0);
		g_assert_cmpstr(kl_client_event_get_subject(top), ==, "/usr/bin/evil");
		g_assert_cmpstr(kl_client_event_get_event_id(top),
				==,
				"ima.validation.ima-ng.not_in_allowlist");
		g_assert_cmpstr(kl_client_event_get_context(top), ==, "{\"line\": 12}");
		g_assert_cmpint(kl_client_event_get_severity(top), ==, 1);
	}
	assert_event(fixture,
		     1,
		     KL_CLIENT_EVENT_FINDING,
		     "a5",
		     60,
		     "pcr_validation.invalid_pcr_0",
		     "warning");
	assert_event(fixture,
		     2,
		     KL_CLIENT_EVENT_FINDING,
		     "a4",
		     50,
		     "pcr_validation.invalid_pcr_7",
		     "error");
	g_assert_cmpuint(g_list_model_get_n_items(kl_client_get_events(fixture->client)), ==, 5);

	/* entries without their round (another time) have no severity */
	g_variant_builder_init(&builder, G_VARIANT_TYPE("a(ussa{sv})"));
	{
		GVariantBuilder extras;
		g_variant_builder_init(&extras, G_VARIANT_TYPE_VARDICT);
		g_variant_builder_add(&builder,
				      "(ussa{sv})",
				      (guint32)13,
				      "/usr/bin/other",
				      "not in allowlist",
				      &extras);
	}
	kl_dbus_verifier1_manager_emit_ima_entries_failed(fixture->service->manager,
							  "/org/keylime/Verifier1/agents/a5",
							  "a5",
							  61,
							  g_variant_builder_end(&builder));
	g_assert_true(kl_test_wait_for(top_event_is_other, fixture, WAIT_MS));
	{
		g_autoptr(KlClientEvent) top = event_at(fixture, 0);
		g_assert_cmpint(kl_client_event_get_severity(top), ==, -1);
	}
}

typedef struct {
	GAsyncResult *result;
} Call;

static void
call_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
	Call *call = user_data;
	call->result = g_object_ref(result);
}

static GAsyncResult *
wait_call(Call *call)
{
	g_assert_true(kl_test_wait_for_pointer((gpointer *)&call->result, WAIT_MS));
	return call->result;
}

static int
memfd_with(const gchar *content)
{
	int fd = memfd_create("kl-client-test", MFD_CLOEXEC);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(write(fd, content, strlen(content)), ==, (gssize)strlen(content));
	return fd;
}

static const gchar *
last_call(Fixture *fixture)
{
	GPtrArray *calls = fixture->service->calls;
	g_assert_cmpuint(calls->len, >, 0);
	return g_ptr_array_index(calls, calls->len - 1);
}

static void
test_client_methods(Fixture *fixture, gconstpointer user_data)
{
	KlClient *client = fixture->client;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) failures = NULL;
	g_autoptr(GPtrArray) revocations = NULL;
	g_auto(GStrv) names = NULL;
	g_autofree gchar *policy = NULL;
	g_autofree gchar *path = NULL;
	Call call = {NULL};
	GVariantDict options;
	int fd;

	service_add_agent(fixture->service, "a1", 1);
	wait_n_agents(fixture, 1);
	g_assert_true(kl_test_wait_for(service_calls_include, fixture, WAIT_MS));
	g_ptr_array_set_size(fixture->service->calls, 0);

	kl_client_stop_agent_async(client, "a1", NULL, call_done, &call);
	g_assert_true(kl_client_stop_agent_finish(client, wait_call(&call), &error));
	g_assert_no_error(error);
	g_assert_cmpstr(last_call(fixture), ==, "Stop a1");
	g_clear_object(&call.result);

	kl_client_reactivate_agent_async(client, "a1", NULL, call_done, &call);
	g_assert_true(kl_client_reactivate_agent_finish(client, wait_call(&call), &error));
	g_assert_cmpstr(last_call(fixture), ==, "Reactivate a1");
	g_clear_object(&call.result);

	kl_client_remove_agent_async(client, "a1", NULL, call_done, &call);
	g_assert_true(kl_client_remove_agent_finish(client, wait_call(&call), &error));
	g_assert_cmpstr(last_call(fixture), ==, "RemoveAgent a1");
	g_clear_object(&call.result);

	/* An id that is no agent id never reaches the bus. */
	kl_client_stop_agent_async(client, "a1/../x", NULL, call_done, &call);
	g_assert_false(kl_client_stop_agent_finish(client, wait_call(&call), &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_cmpstr(last_call(fixture), ==, "RemoveAgent a1");
	g_clear_object(&call.result);

	kl_client_get_failures_async(client, "a1", 5, NULL, call_done, &call);
	failures = kl_client_get_failures_finish(client, wait_call(&call), &error);
	g_assert_no_error(error);
	g_assert_cmpstr(last_call(fixture), ==, "GetFailures a1 5");
	g_assert_cmpuint(failures->len, ==, 2);
	g_assert_cmpstr(kl_client_event_get_agent_id(g_ptr_array_index(failures, 0)), ==, "a1");
	g_assert_cmpstr(kl_client_event_get_subject(g_ptr_array_index(failures, 0)),
			==,
			"/usr/bin/evil");
	g_assert_cmpstr(kl_client_event_get_severity_label(g_ptr_array_index(failures, 0)),
			==,
			"error");
	g_assert_cmpuint(kl_client_event_get_time(g_ptr_array_index(failures, 1)), ==, 100);
	g_clear_object(&call.result);

	kl_client_get_revocations_async(client, "a1", 3, NULL, call_done, &call);
	revocations = kl_client_get_revocations_finish(client, wait_call(&call), &error);
	g_assert_no_error(error);
	g_assert_cmpstr(last_call(fixture), ==, "GetRevocations a1 3");
	g_assert_cmpuint(revocations->len, ==, 1);
	g_assert_cmpint(kl_client_event_get_kind(g_ptr_array_index(revocations, 0)),
			==,
			KL_CLIENT_EVENT_REVOCATION);
	g_clear_object(&call.result);

	g_variant_dict_init(&options, NULL);
	g_variant_dict_insert(&options, "cloudagent_ip", "s", "10.1.1.1");
	g_variant_dict_insert(&options, "cloudagent_port", "i", 9002);
	kl_client_add_agent_async(client,
				  "n1",
				  g_variant_dict_end(&options),
				  NULL,
				  call_done,
				  &call);
	path = kl_client_add_agent_finish(client, wait_call(&call), &error);
	g_assert_no_error(error);
	g_assert_cmpstr(path, ==, "/org/keylime/Verifier1/agents/n1");
	g_assert_cmpstr(last_call(fixture),
			==,
			"AddAgent n1 {'cloudagent_ip': <'10.1.1.1'>, 'cloudagent_port': <9002>}");
	g_clear_object(&call.result);
	g_clear_pointer(&path, g_free);

	/* EnrollAgent: the payload goes as an fd, progress comes back. */
	g_variant_dict_init(&options, NULL);
	g_variant_dict_insert(&options, "agent_id", "s", "e1");
	g_variant_dict_insert(&options, "runtime_policy_name", "s", "p1");
	fd = memfd_with("secret payload");
	kl_client_enroll_agent_async(client,
				     g_variant_dict_end(&options),
				     fd,
				     NULL,
				     call_done,
				     &call);
	close(fd); /* the client duplicated it */
	path = kl_client_enroll_agent_finish(client, wait_call(&call), &error);
	g_assert_no_error(error);
	g_assert_cmpstr(path, ==, "/org/keylime/Verifier1/agents/e1");
	g_assert_cmpstr(
		last_call(fixture),
		==,
		"EnrollAgent {'agent_id': <'e1'>, 'runtime_policy_name': <'p1'>} [secret payload]");
	g_assert_cmpuint(fixture->progress->len, ==, 2);
	g_assert_cmpstr(g_ptr_array_index(fixture->progress, 0),
			==,
			"e1 registrar Reading the registrar");
	g_assert_cmpstr(g_ptr_array_index(fixture->progress, 1), ==, "e1 done Done");
	g_clear_object(&call.result);

	fd = memfd_with("{\"digests\": {}}");
	kl_client_add_policy_async(client,
				   KL_CLIENT_POLICY_RUNTIME,
				   "rp",
				   fd,
				   NULL,
				   call_done,
				   &call);
	close(fd);
	g_assert_true(kl_client_add_policy_finish(client, wait_call(&call), &error));
	g_assert_no_error(error);
	g_assert_cmpstr(last_call(fixture), ==, "AddRuntimePolicy rp [{\"digests\": {}}]");
	g_clear_object(&call.result);

	fd = memfd_with("{\"mb\": 1}");
	kl_client_add_policy_async(client,
				   KL_CLIENT_POLICY_MEASURED_BOOT,
				   "mp",
				   fd,
				   NULL,
				   call_done,
				   &call);
	close(fd);
	g_assert_true(kl_client_add_policy_finish(client, wait_call(&call), &error));
	g_assert_cmpstr(last_call(fixture), ==, "AddMbPolicy mp [{\"mb\": 1}]");
	g_clear_object(&call.result);

	kl_client_list_policies_async(client,
				      KL_CLIENT_POLICY_MEASURED_BOOT,
				      NULL,
				      call_done,
				      &call);
	names = kl_client_list_policies_finish(client, wait_call(&call), &error);
	g_assert_no_error(error);
	g_assert_cmpstr(last_call(fixture), ==, "ListMbPolicies");
	g_assert_cmpuint(g_strv_length(names), ==, 2);
	g_assert_cmpstr(names[1], ==, "p2");
	g_clear_object(&call.result);

	kl_client_get_policy_async(client, KL_CLIENT_POLICY_RUNTIME, "rp", NULL, call_done, &call);
	policy = kl_client_get_policy_finish(client, wait_call(&call), &error);
	g_assert_no_error(error);
	g_assert_cmpstr(last_call(fixture), ==, "GetRuntimePolicy rp");
	g_assert_cmpstr(policy, ==, "{\"x\": 1}");
	g_clear_object(&call.result);

	kl_client_delete_policy_async(client,
				      KL_CLIENT_POLICY_MEASURED_BOOT,
				      "mp",
				      NULL,
				      call_done,
				      &call);
	g_assert_true(kl_client_delete_policy_finish(client, wait_call(&call), &error));
	g_assert_cmpstr(last_call(fixture), ==, "DeleteMbPolicy mp");
	g_clear_object(&call.result);

	/* The verifier's errors come back as KL_ERROR with its message. */
	kl_client_delete_policy_async(client,
				      KL_CLIENT_POLICY_RUNTIME,
				      "missing",
				      NULL,
				      call_done,
				      &call);
	g_assert_false(kl_client_delete_policy_finish(client, wait_call(&call), &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_NOT_FOUND);
	g_assert_cmpstr(error->message, ==, "policy missing not found");
	g_assert_cmpstr(last_call(fixture), ==, "DeleteRuntimePolicy missing");
	g_clear_object(&call.result);
}

static gboolean
client_is_disconnected(gpointer user_data)
{
	Fixture *fixture = user_data;
	return !kl_client_get_connected(fixture->client);
}

static void
test_client_vanish(Fixture *fixture, gconstpointer user_data)
{
	gboolean with_table = GPOINTER_TO_INT(user_data);
	const guint emptied[] = {0, 3, 0};
	guint n_notify = 0;

	service_add_agent(fixture->service, "a1", 1);
	service_add_agent(fixture->service, "b2", 2);
	service_add_agent(fixture->service, "c3", 3);
	wait_n_agents(fixture, 3);
	g_assert_cmpint(kl_client_get_uses_shm(fixture->client), ==, with_table);
	settle(fixture);
	g_array_set_size(fixture->items_changed, 0);
	g_signal_connect(fixture->client,
			 "notify::connected",
			 G_CALLBACK(connected_notify_cb),
			 &n_notify);

	/* The verifier leaves the bus (and frees its table). */
	g_clear_pointer(&fixture->service, service_free);
	g_assert_true(kl_test_wait_for(client_is_disconnected, fixture, WAIT_MS));
	g_assert_cmpuint(n_notify, ==, 1);
	wait_n_agents(fixture, 0);
	assert_items_changed(fixture, emptied, 1);
	g_assert_false(kl_client_get_uses_shm(fixture->client));

	/* ... and comes back. */
	fixture->service = service_new(fixture->bus, with_table);
	service_add_agent(fixture->service, "z9", 9);
	g_assert_true(kl_test_wait_for(client_is_connected, fixture, WAIT_MS));
	wait_n_agents(fixture, 1);
	g_assert_cmpuint(n_notify, ==, 2);
	g_assert_cmpint(kl_client_get_uses_shm(fixture->client), ==, with_table);
	g_assert_nonnull(kl_client_lookup_agent(fixture->client, "z9"));
}

/* ---- the registrar's questions ------------------------------------------ */

static gboolean
registrar_list_agents(KlDBusRegistrar1Manager *manager, GDBusMethodInvocation *invocation)
{
	const gchar *ids[] = {"a1", "b2", "c3", NULL};

	kl_dbus_registrar1_manager_complete_list_agents(manager, invocation, ids);
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
registrar_get_agent(KlDBusRegistrar1Manager *manager,
		    GDBusMethodInvocation *invocation,
		    const gchar *agent_id)
{
	GVariantDict record;

	if (g_strcmp0(agent_id, "b2") != 0) {
		g_dbus_method_invocation_return_error(invocation,
						      KL_ERROR,
						      KL_ERROR_NOT_FOUND,
						      "agent %s is not registered",
						      agent_id);
		return G_DBUS_METHOD_INVOCATION_HANDLED;
	}
	g_variant_dict_init(&record, NULL);
	g_variant_dict_insert(&record, "agent_id", "s", agent_id);
	g_variant_dict_insert(&record, "ip", "s", "127.0.0.1");
	g_variant_dict_insert(&record, "port", "u", (guint32)9002);
	g_variant_dict_insert(&record, "active", "b", TRUE);
	kl_dbus_registrar1_manager_complete_get_agent(manager,
						      invocation,
						      g_variant_dict_end(&record));
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
test_client_registrar(Fixture *fixture, gconstpointer user_data)
{
	KlClient *client = fixture->client;
	g_autoptr(KlDBusRegistrar1Manager) registrar = kl_dbus_registrar1_manager_skeleton_new();
	g_autoptr(GDBusConnection) connection = connect_to(fixture->bus);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) record = NULL;
	g_auto(GStrv) unenrolled = NULL;
	const gchar *ip = NULL;
	guint32 port = 0;
	Call call = {NULL};

	/* No registrar on the bus: the wizards say so. */
	kl_client_list_unenrolled_agents_async(client, NULL, call_done, &call);
	unenrolled = kl_client_list_unenrolled_agents_finish(client, wait_call(&call), &error);
	g_assert_error(error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN);
	g_assert_null(unenrolled);
	g_clear_error(&error);
	g_clear_object(&call.result);

	g_signal_connect(registrar, "handle-list-agents", G_CALLBACK(registrar_list_agents), NULL);
	g_signal_connect(registrar, "handle-get-agent", G_CALLBACK(registrar_get_agent), NULL);
	g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(registrar),
					 connection,
					 KL_CLIENT_REGISTRAR_OBJECT_PATH,
					 &error);
	g_assert_no_error(error);
	g_bus_own_name_on_connection(connection,
				     KL_CLIENT_REGISTRAR_BUS_NAME,
				     G_BUS_NAME_OWNER_FLAGS_NONE,
				     NULL,
				     NULL,
				     NULL,
				     NULL);

	/* a1 is attested by the verifier already; the others are offered, in order. */
	service_add_agent(fixture->service, "a1", 1);
	wait_n_agents(fixture, 1);
	do {
		g_clear_pointer(&unenrolled, g_strfreev);
		g_clear_error(&error);
		g_clear_object(&call.result);
		kl_client_list_unenrolled_agents_async(client, NULL, call_done, &call);
		unenrolled =
			kl_client_list_unenrolled_agents_finish(client, wait_call(&call), &error);
	} while (g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN));
	g_assert_no_error(error);
	g_assert_cmpstrv(unenrolled, ((const gchar *[]){"b2", "c3", NULL}));
	g_clear_object(&call.result);

	kl_client_get_registered_agent_async(client, "b2", NULL, call_done, &call);
	record = kl_client_get_registered_agent_finish(client, wait_call(&call), &error);
	g_assert_no_error(error);
	g_assert_true(g_variant_lookup(record, "ip", "&s", &ip));
	g_assert_cmpstr(ip, ==, "127.0.0.1");
	g_assert_true(g_variant_lookup(record, "port", "u", &port));
	g_assert_cmpuint(port, ==, 9002);
	g_clear_object(&call.result);

	kl_client_get_registered_agent_async(client, "zz", NULL, call_done, &call);
	g_assert_null(kl_client_get_registered_agent_finish(client, wait_call(&call), &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, "zz"));
	g_clear_object(&call.result);
}

/* ---- authorization ------------------------------------------------------- */

/* A stand-in for polkit's Authority: answers (authorized, challenge). */
typedef struct {
	gboolean authorized;
	gboolean challenge;
	gchar *action_id;
	guint32 flags;
} FakePolkit;

static const gchar fake_polkit_xml[] =
	"<node><interface name='org.freedesktop.PolicyKit1.Authority'>"
	"<method name='CheckAuthorization'>"
	"<arg name='subject' type='(sa{sv})' direction='in'/>"
	"<arg name='action_id' type='s' direction='in'/>"
	"<arg name='details' type='a{ss}' direction='in'/>"
	"<arg name='flags' type='u' direction='in'/>"
	"<arg name='cancellation_id' type='s' direction='in'/>"
	"<arg name='result' type='(bba{ss})' direction='out'/>"
	"</method></interface></node>";

static void
fake_polkit_call(GDBusConnection *connection,
		 const gchar *sender,
		 const gchar *object_path,
		 const gchar *interface_name,
		 const gchar *method_name,
		 GVariant *parameters,
		 GDBusMethodInvocation *invocation,
		 gpointer user_data)
{
	FakePolkit *polkit = user_data;

	g_free(polkit->action_id);
	g_variant_get(parameters,
		      "(@(sa{sv})s@a{ss}u&s)",
		      NULL,
		      &polkit->action_id,
		      NULL,
		      &polkit->flags,
		      NULL);
	g_dbus_method_invocation_return_value(
		invocation,
		g_variant_new("((bb@a{ss}))",
			      polkit->authorized,
			      polkit->challenge,
			      g_variant_new_array(G_VARIANT_TYPE("{ss}"), NULL, 0)));
}

static gboolean
check_authorization(Fixture *fixture, GError **error)
{
	Call call = {NULL};
	gboolean may;

	kl_client_check_authorization_async(fixture->client,
					    "org.keylime.verifier.manage-agents",
					    NULL,
					    call_done,
					    &call);
	may = kl_client_check_authorization_finish(fixture->client, wait_call(&call), error);
	g_clear_object(&call.result);
	return may;
}

static void
test_client_authorization(Fixture *fixture, gconstpointer user_data)
{
	static const GDBusInterfaceVTable vtable = {fake_polkit_call, NULL, NULL, {NULL}};
	g_autoptr(GDBusNodeInfo) info = g_dbus_node_info_new_for_xml(fake_polkit_xml, NULL);
	g_autoptr(GDBusConnection) connection = connect_to(fixture->bus);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	FakePolkit polkit = {FALSE, FALSE, NULL, 99};

	/* No polkit on a private bus: the verifier's user (this one) may. */
	g_assert_true(check_authorization(fixture, &error));
	g_assert_no_error(error);

	g_assert_nonnull(info);
	g_assert_cmpuint(g_dbus_connection_register_object(connection,
							   "/org/freedesktop/PolicyKit1/Authority",
							   info->interfaces[0],
							   &vtable,
							   &polkit,
							   NULL,
							   &error),
			 >,
			 0);
	g_assert_no_error(error);
	reply = g_dbus_connection_call_sync(connection,
					    "org.freedesktop.DBus",
					    "/org/freedesktop/DBus",
					    "org.freedesktop.DBus",
					    "RequestName",
					    g_variant_new("(su)", "org.freedesktop.PolicyKit1", 0u),
					    G_VARIANT_TYPE("(u)"),
					    G_DBUS_CALL_FLAGS_NONE,
					    -1,
					    NULL,
					    &error);
	g_assert_no_error(error);

	/* polkit says no: refused, asked about the action without prompting */
	g_assert_false(check_authorization(fixture, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(polkit.action_id, ==, "org.keylime.verifier.manage-agents");
	g_assert_cmpuint(polkit.flags, ==, 0);

	/* after authentication (the verifier lets polkit ask) or outright */
	polkit.challenge = TRUE;
	g_assert_true(check_authorization(fixture, &error));
	polkit.challenge = FALSE;
	polkit.authorized = TRUE;
	g_assert_true(check_authorization(fixture, &error));
	g_assert_no_error(error);
	g_free(polkit.action_id);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_dbus_unset();

	g_test_add("/client/agents/dbus",
		   Fixture,
		   GINT_TO_POINTER(FALSE),
		   fixture_set_up,
		   test_client_agents_dbus,
		   fixture_tear_down);
	g_test_add("/client/agents/shm",
		   Fixture,
		   GINT_TO_POINTER(TRUE),
		   fixture_set_up,
		   test_client_agents_shm,
		   fixture_tear_down);
	g_test_add("/client/agents/shm-refused",
		   Fixture,
		   GINT_TO_POINTER(FALSE),
		   fixture_set_up,
		   test_client_shm_refused,
		   fixture_tear_down);
	g_test_add("/client/agents/shm-closed",
		   Fixture,
		   GINT_TO_POINTER(TRUE),
		   fixture_set_up,
		   test_client_shm_closed,
		   fixture_tear_down);
	g_test_add("/client/events",
		   Fixture,
		   GINT_TO_POINTER(FALSE),
		   fixture_set_up,
		   test_client_events,
		   fixture_tear_down);
	g_test_add("/client/methods",
		   Fixture,
		   GINT_TO_POINTER(FALSE),
		   fixture_set_up,
		   test_client_methods,
		   fixture_tear_down);
	g_test_add("/client/vanish/dbus",
		   Fixture,
		   GINT_TO_POINTER(FALSE),
		   fixture_set_up,
		   test_client_vanish,
		   fixture_tear_down);
	g_test_add("/client/vanish/shm",
		   Fixture,
		   GINT_TO_POINTER(TRUE),
		   fixture_set_up,
		   test_client_vanish,
		   fixture_tear_down);
	g_test_add("/client/authorization",
		   Fixture,
		   GINT_TO_POINTER(FALSE),
		   fixture_set_up,
		   test_client_authorization,
		   fixture_tear_down);
	g_test_add("/client/registrar",
		   Fixture,
		   GINT_TO_POINTER(FALSE),
		   fixture_set_up,
		   test_client_registrar,
		   fixture_tear_down);
	return g_test_run();
}
