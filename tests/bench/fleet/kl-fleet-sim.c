/*
 * kl-fleet-sim: one process that plays N pull agents for the verifier's
 * fleet benchmark (issue 7, tests/bench/fleet).  Each agent listens on its
 * own port of 127.0.0.1, all on one SoupServer (the accepted connection's
 * local port names the agent), with HTTPS and one self-signed P-256 server
 * certificate shared by the fleet (so every agent's mtls_cert pin is that
 * certificate); with --client-ca the verifier's client certificate is
 * required, as the agent requires it.
 *
 * The listening sockets are not in the main loop's poll set but in one
 * epoll set (the loop watches its fd), so that 10 000 idle listeners cost
 * nothing per loop iteration.
 *
 * Each agent has its own software TPM (KlTpmSoft: ECC P-256 EK and ECDSA
 * P-256/SHA-256 AK, a PCR bank) and a short IMA log (boot_aggregate and a
 * few files, the same for every agent, PCR 10 extended accordingly), and
 * answers what the verifier asks of a pull agent: GET /version,
 * GET /v{x}/quotes/integrity (nonce, mask, partial, ima_ml_entry honoured,
 * PCR 16 bound to one NK shared by the fleet) and POST /v{x}/keys/vkey.
 *
 * Output on stdout, one line each: the enrolment data of every agent as a
 * JSON object (agent_id, ip, port, ak_tpm, mtls_cert), then "ready N".
 * --policy-out writes the runtime policy (upstream JSON) that allows the
 * simulated logs.  Commands on stdin, one per line:
 *   inject I   append an IMA entry no policy allows to agent I's log;
 *              answers "injected I <CLOCK_REALTIME µs>"
 *   stats      "stats {json}": quotes served, errors, lag p50/p99 (ms),
 *              where lag = interval between two quote requests of one
 *              agent minus --interval, and the process's CPU seconds
 *   reset      forget the lag samples and counters; answers "reset"
 *   quit       exit (end of input too), printing stats first
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "kl-agent-identity.h"
#include "kl-api-version.h"
#include "kl-error.h"
#include "kl-http-server.h"
#include "kl-http-tls.h"
#include "kl-tpm-soft.h"

#define FLEET_IP	"127.0.0.1"
#define FLEET_NONCE_MAX 64
#define FLEET_IMA_PCR	10
#define FLEET_BACKLOG	64
#define FLEET_NO_AGENT	G_MAXUINT32

typedef struct {
	gchar *agent_id;
	KlTpm *tpm;
	GString *log;	   /* IMA ascii_runtime_measurements lines */
	GArray *line_ends; /* guint: offset just past each line */
	gint64 last_arrival;
	int listen_fd;
	guint16 port;
	guint injected;
} FleetAgent;

typedef struct {
	FleetAgent *agents;
	guint n_agents;
	guint32 port_to_agent[65536];
	gchar *nk_pem;
	gint64 interval_us;
	GArray *lags; /* gint64 µs */
	guint64 quotes;
	guint64 errors;
	KlHttpServer *server;
	GTlsCertificate *certificate; /* the fleet's server certificate */
	GTlsDatabase *client_ca;      /* NULL: no client certificate asked for */
	int epoll_fd;		      /* every agent's listening socket */
	GMainLoop *loop;
	GDataInputStream *control;
	GCancellable *cancellable;
} FleetSim;

/* ---- the IMA log ----------------------------------------------------- */

static void
fleet_put_u32le(GByteArray *array, guint32 value)
{
	guint32 le = GUINT32_TO_LE(value);
	g_byte_array_append(array, (const guint8 *)&le, 4);
}

/* An ima-ng line for @path with @digest (sha256) and its PCR 10 extend
 * value (sha256 of the template data, as the kernel extends the bank). */
static gchar *
fleet_ima_line(const gchar *path, const guint8 digest[32], guint8 extend[32])
{
	g_autoptr(GByteArray) data = g_byte_array_new();
	g_autofree gchar *digest_hex = kl_crypto_hex_encode(digest, 32);
	g_autofree gchar *thash_hex = NULL;
	guint8 thash[20];
	gsize len = 0;

	fleet_put_u32le(data, 6 + 2 + 32);
	g_byte_array_append(data, (const guint8 *)"sha256:\0", 8);
	g_byte_array_append(data, digest, 32);
	fleet_put_u32le(data, (guint32)strlen(path) + 1);
	g_byte_array_append(data, (const guint8 *)path, (guint)strlen(path) + 1);
	kl_crypto_digest("sha1", data->data, data->len, thash, &len, NULL);
	kl_crypto_digest("sha256", data->data, data->len, extend, &len, NULL);
	thash_hex = kl_crypto_hex_encode(thash, 20);
	return g_strdup_printf("10 %s ima-ng sha256:%s %s\n", thash_hex, digest_hex, path);
}

/* the path and digest of good entry @i (0 is boot_aggregate) */
static gchar *
fleet_good_entry(guint i, guint8 digest[32])
{
	gsize len = 0;
	/* boot_aggregate's digest is any non-zero value (zero is a violation) */
	gchar *path = i == 0 ? g_strdup("boot_aggregate")
			     : g_strdup_printf("/usr/lib/fleet/lib%04u.so", i);

	kl_crypto_digest("sha256", (const guint8 *)path, strlen(path), digest, &len, NULL);
	return path;
}

static gboolean
fleet_agent_append(FleetAgent *agent, const gchar *path, const guint8 digest[32], GError **error)
{
	guint8 extend[32];
	g_autofree gchar *line = fleet_ima_line(path, digest, extend);
	g_autoptr(GBytes) value = g_bytes_new(extend, sizeof(extend));
	guint end;

	if (!KL_TPM_GET_CLASS(agent->tpm)
		     ->pcr_extend(agent->tpm, FLEET_IMA_PCR, TPM2_ALG_SHA256, value, error))
		return FALSE;
	g_string_append(agent->log, line);
	end = (guint)agent->log->len;
	g_array_append_val(agent->line_ends, end);
	return TRUE;
}

/* the runtime policy allowing every agent's initial log */
static gchar *
fleet_policy_json(guint n_entries)
{
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
	g_autoptr(JsonNode) root = NULL;

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "meta");
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "version");
	json_builder_add_int_value(builder, 1);
	json_builder_set_member_name(builder, "generator");
	json_builder_add_int_value(builder, 3);
	json_builder_end_object(builder);
	json_builder_set_member_name(builder, "release");
	json_builder_add_int_value(builder, 0);
	json_builder_set_member_name(builder, "digests");
	json_builder_begin_object(builder);
	for (guint i = 0; i <= n_entries; i++) {
		guint8 digest[32];
		g_autofree gchar *path = fleet_good_entry(i, digest);
		g_autofree gchar *hex = kl_crypto_hex_encode(digest, 32);

		json_builder_set_member_name(builder, path);
		json_builder_begin_array(builder);
		json_builder_add_string_value(builder, hex);
		json_builder_end_array(builder);
	}
	json_builder_end_object(builder);
	json_builder_set_member_name(builder, "excludes");
	json_builder_begin_array(builder);
	json_builder_end_array(builder);
	json_builder_set_member_name(builder, "keyrings");
	json_builder_begin_object(builder);
	json_builder_end_object(builder);
	json_builder_set_member_name(builder, "ima");
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "ignored_keyrings");
	json_builder_begin_array(builder);
	json_builder_end_array(builder);
	json_builder_set_member_name(builder, "log_hash_alg");
	json_builder_add_string_value(builder, "sha1");
	json_builder_set_member_name(builder, "dm_policy");
	json_builder_add_null_value(builder);
	json_builder_end_object(builder);
	json_builder_set_member_name(builder, "ima-buf");
	json_builder_begin_object(builder);
	json_builder_end_object(builder);
	json_builder_set_member_name(builder, "verification-keys");
	json_builder_add_string_value(builder, "");
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	return json_to_string(root, FALSE);
}

/* ---- agents ---------------------------------------------------------- */

static void
fleet_agent_clear(FleetAgent *agent)
{
	g_clear_pointer(&agent->agent_id, g_free);
	g_clear_object(&agent->tpm);
	if (agent->log != NULL)
		g_string_free(g_steal_pointer(&agent->log), TRUE);
	g_clear_pointer(&agent->line_ends, g_array_unref);
	if (agent->listen_fd >= 0)
		close(agent->listen_fd);
	agent->listen_fd = -1;
}

static gboolean
fleet_agent_init(FleetAgent *agent, guint index, guint n_entries, GError **error)
{
	KlTpmOptions options;

	agent->listen_fd = -1;
	kl_tpm_options_init(&options);
	options.enc_alg = TPM2_ALG_ECC;
	options.sign_alg = TPM2_ALG_ECDSA;
	options.hash_alg = TPM2_ALG_SHA256;
	/* UUID-shaped and stable across runs, so logs can be compared */
	agent->agent_id = g_strdup_printf("f1ee7000-0000-4000-8000-%012x", index);
	agent->tpm = kl_tpm_soft_new(&options, error);
	if (agent->tpm == NULL)
		return FALSE;
	agent->log = g_string_sized_new(128 * (n_entries + 2));
	agent->line_ends = g_array_sized_new(FALSE, FALSE, sizeof(guint), n_entries + 2);
	for (guint i = 0; i <= n_entries; i++) {
		guint8 digest[32];
		g_autofree gchar *path = fleet_good_entry(i, digest);

		if (!fleet_agent_append(agent, path, digest, error))
			return FALSE;
	}
	return TRUE;
}

static gboolean
fleet_agent_inject(FleetAgent *agent, GError **error)
{
	g_autofree gchar *path =
		g_strdup_printf("/tmp/fleet-injected-%s-%u", agent->agent_id, agent->injected++);
	guint8 digest[32];
	gsize len = 0;

	kl_crypto_digest("sha256", (const guint8 *)path, strlen(path), digest, &len, NULL);
	digest[0] ^= 0xff; /* a file of that name, not as the policy knows it */
	return fleet_agent_append(agent, path, digest, error);
}

static FleetAgent *
fleet_sim_agent_for(FleetSim *sim, KlHttpRequest *request, GError **error)
{
	SoupServerMessage *msg = kl_http_request_get_message(request);
	GSocketAddress *local = soup_server_message_get_local_address(msg);
	guint32 index = FLEET_NO_AGENT;

	if (local != NULL && G_IS_INET_SOCKET_ADDRESS(local))
		index = sim->port_to_agent[g_inet_socket_address_get_port(
			G_INET_SOCKET_ADDRESS(local))];
	if (index == FLEET_NO_AGENT || index >= sim->n_agents) {
		g_set_error_literal(error, KL_ERROR, KL_ERROR_INTERNAL, "no agent on this port");
		return NULL;
	}
	return &sim->agents[index];
}

/* ---- handlers -------------------------------------------------------- */

static gboolean
fleet_sim_version(KlHttpRequest *request, gpointer user_data, GError **error)
{
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
	g_autoptr(JsonNode) results = NULL;
	gsize n = 0;
	const KlApiVersion *supported = kl_api_version_agent_supported(&n);
	gchar buffer[KL_API_VERSION_STRING_SIZE];

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "supported_version");
	json_builder_add_string_value(builder, kl_api_version_to_string(&supported[n - 1], buffer));
	json_builder_set_member_name(builder, "supported_versions");
	json_builder_begin_array(builder);
	for (gsize i = 0; i < n; i++)
		json_builder_add_string_value(builder,
					      kl_api_version_to_string(&supported[i], buffer));
	json_builder_end_array(builder);
	json_builder_end_object(builder);
	results = json_builder_get_root(builder);
	kl_http_request_reply_ok(request, results);
	return TRUE;
}

static gboolean
fleet_sim_bad_request(GError **error, const gchar *what)
{
	g_set_error_literal(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT, what);
	return FALSE;
}

static void
fleet_sim_record_arrival(FleetSim *sim, FleetAgent *agent)
{
	gint64 now = g_get_monotonic_time();

	if (agent->last_arrival != 0) {
		gint64 lag = now - agent->last_arrival - sim->interval_us;
		g_array_append_val(sim->lags, lag);
	}
	agent->last_arrival = now;
}

/* GET /quotes/integrity?nonce=&mask=&partial=&ima_ml_entry= */
static gboolean
fleet_sim_integrity_quote(KlHttpRequest *request, gpointer user_data, GError **error)
{
	FleetSim *sim = user_data;
	FleetAgent *agent = fleet_sim_agent_for(sim, request, error);
	const gchar *nonce = kl_http_request_get_query(request, "nonce");
	const gchar *mask_text = kl_http_request_get_query(request, "mask");
	const gchar *partial = kl_http_request_get_query(request, "partial");
	const gchar *entry_text = kl_http_request_get_query(request, "ima_ml_entry");
	g_autoptr(JsonBuilder) builder = NULL;
	g_autoptr(JsonNode) results = NULL;
	g_autofree gchar *quote = NULL;
	guint64 first = 0, mask = 0;
	gsize start = 0;

	if (agent == NULL)
		return FALSE;
	fleet_sim_record_arrival(sim, agent);
	if (nonce == NULL || nonce[0] == '\0' || strlen(nonce) > FLEET_NONCE_MAX)
		return fleet_sim_bad_request(error, "nonce: 1 to 64 alphanumeric characters");
	for (const gchar *p = nonce; *p != '\0'; p++) {
		if (!g_ascii_isalnum(*p))
			return fleet_sim_bad_request(error,
						     "nonce: 1 to 64 alphanumeric characters");
	}
	if (mask_text == NULL)
		return fleet_sim_bad_request(error, "mask: missing");
	if (g_str_has_prefix(mask_text, "0x") || g_str_has_prefix(mask_text, "0X"))
		mask_text += 2;
	if (mask_text[0] == '\0' || strlen(mask_text) > 8 ||
	    !g_ascii_string_to_unsigned(mask_text, 16, 0, 0xffffff, &mask, NULL))
		return fleet_sim_bad_request(error, "mask: not a PCR mask of PCRs 0 to 23");
	if (g_strcmp0(partial, "0") != 0 && g_strcmp0(partial, "1") != 0)
		return fleet_sim_bad_request(error, "partial: must be 0 or 1");
	if (entry_text != NULL &&
	    !g_ascii_string_to_unsigned(entry_text, 10, 0, G_MAXINT64, &first, NULL))
		return fleet_sim_bad_request(error, "ima_ml_entry: not a non-negative integer");

	quote = kl_tpm_quote(agent->tpm, nonce, (guint32)mask, TPM2_ALG_SHA256, sim->nk_pem, error);
	if (quote == NULL) {
		sim->errors++;
		return FALSE;
	}
	builder = json_builder_new_immutable();
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "quote");
	json_builder_add_string_value(builder, quote);
	json_builder_set_member_name(builder, "hash_alg");
	json_builder_add_string_value(builder, kl_tpm_get_hash_alg(agent->tpm));
	json_builder_set_member_name(builder, "enc_alg");
	json_builder_add_string_value(builder, kl_tpm_get_enc_alg(agent->tpm));
	json_builder_set_member_name(builder, "sign_alg");
	json_builder_add_string_value(builder, kl_tpm_get_sign_alg(agent->tpm));
	if (g_strcmp0(partial, "0") == 0) {
		json_builder_set_member_name(builder, "pubkey");
		json_builder_add_string_value(builder, sim->nk_pem);
	}
	if ((mask & (1u << FLEET_IMA_PCR)) != 0) {
		/* more entries asked than the log has: a new boot, from 0 */
		if (first > agent->line_ends->len)
			first = 0;
		start = first == 0 ? 0 : g_array_index(agent->line_ends, guint, first - 1);
		json_builder_set_member_name(builder, "ima_measurement_list");
		json_builder_add_string_value(builder, agent->log->str + start);
		json_builder_set_member_name(builder, "ima_measurement_list_entry");
		json_builder_add_int_value(builder, (gint64)first);
	}
	json_builder_end_object(builder);
	results = json_builder_get_root(builder);
	kl_http_request_reply_ok(request, results);
	sim->quotes++;
	return TRUE;
}

/* POST /keys/vkey: accepted, as an agent waiting for U does */
static gboolean
fleet_sim_vkey(KlHttpRequest *request, gpointer user_data, GError **error)
{
	FleetSim *sim = user_data;
	JsonObject *body = kl_http_request_require_body(request, error);

	if (body == NULL || fleet_sim_agent_for(sim, request, error) == NULL)
		return FALSE;
	if (!json_object_has_member(body, "encrypted_key") ||
	    json_node_get_value_type(json_object_get_member(body, "encrypted_key")) !=
		    G_TYPE_STRING)
		return fleet_sim_bad_request(error, "encrypted_key: a string is required");
	kl_http_request_reply_ok(request, NULL);
	return TRUE;
}

static const KlHttpRoute fleet_sim_routes[] = {
	{"GET", "/version", KL_HTTP_ROUTE_FLAG_UNVERSIONED, NULL, NULL, 0, fleet_sim_version},
	{"GET",
	 "/quotes/integrity",
	 KL_HTTP_ROUTE_FLAG_NONE,
	 NULL,
	 NULL,
	 0,
	 fleet_sim_integrity_quote},
	{"POST", "/keys/vkey", KL_HTTP_ROUTE_FLAG_NONE, NULL, NULL, 0, fleet_sim_vkey},
};

/* ---- statistics ------------------------------------------------------ */

static gint
fleet_compare_gint64(gconstpointer a, gconstpointer b)
{
	gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
	return x < y ? -1 : x > y ? 1 : 0;
}

static gdouble
fleet_percentile_ms(GArray *sorted, gdouble p)
{
	guint i;

	if (sorted->len == 0)
		return 0;
	i = (guint)(p * (sorted->len - 1) + 0.5);
	return g_array_index(sorted, gint64, i) / 1000.0;
}

static void
fleet_sim_print_stats(FleetSim *sim)
{
	g_autoptr(GArray) sorted = g_array_copy(sim->lags);
	struct rusage usage;
	gdouble cpu = 0;

	g_array_sort(sorted, fleet_compare_gint64);
	if (getrusage(RUSAGE_SELF, &usage) == 0)
		cpu = (gdouble)usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
		      (gdouble)usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
	printf("stats {\"agents\":%u,\"quotes\":%" G_GUINT64_FORMAT ",\"errors\":%" G_GUINT64_FORMAT
	       ",\"lag_samples\":%u,\"lag_p50_ms\":%.3f,\"lag_p99_ms\":%.3f,\"lag_max_ms\":%.3f,"
	       "\"cpu_s\":%.3f}\n",
	       sim->n_agents,
	       sim->quotes,
	       sim->errors,
	       sorted->len,
	       fleet_percentile_ms(sorted, 0.50),
	       fleet_percentile_ms(sorted, 0.99),
	       fleet_percentile_ms(sorted, 1.0),
	       cpu);
	fflush(stdout);
}

/* ---- the control channel --------------------------------------------- */

static void fleet_sim_read_command(FleetSim *sim);

static void
fleet_sim_command(FleetSim *sim, const gchar *line)
{
	g_autoptr(GError) error = NULL;
	guint64 index = 0;

	if (g_str_has_prefix(line, "inject ")) {
		struct timespec ts;

		if (!g_ascii_string_to_unsigned(line + 7, 10, 0, sim->n_agents - 1, &index, NULL)) {
			printf("error inject: no agent %s\n", line + 7);
		} else if (!fleet_agent_inject(&sim->agents[index], &error)) {
			printf("error inject %u: %s\n", (guint)index, error->message);
		} else {
			clock_gettime(CLOCK_REALTIME, &ts);
			printf("injected %u %" G_GINT64_FORMAT "\n",
			       (guint)index,
			       (gint64)ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000);
		}
	} else if (g_strcmp0(line, "stats") == 0) {
		fleet_sim_print_stats(sim);
	} else if (g_strcmp0(line, "reset") == 0) {
		g_array_set_size(sim->lags, 0);
		sim->quotes = 0;
		sim->errors = 0;
		printf("reset\n");
	} else if (g_strcmp0(line, "quit") == 0) {
		g_main_loop_quit(sim->loop);
		return;
	} else if (line[0] != '\0') {
		printf("error unknown command: %s\n", line);
	}
	fflush(stdout);
}

static void
fleet_sim_command_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	FleetSim *sim = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *line = g_data_input_stream_read_line_finish(G_DATA_INPUT_STREAM(source),
								      result,
								      NULL,
								      &error);

	if (line == NULL) {
		/* end of input or an error: the driver has gone */
		if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			g_main_loop_quit(sim->loop);
		return;
	}
	g_strstrip(line);
	fleet_sim_command(sim, line);
	if (g_main_loop_is_running(sim->loop))
		fleet_sim_read_command(sim);
}

static void
fleet_sim_read_command(FleetSim *sim)
{
	g_data_input_stream_read_line_async(sim->control,
					    G_PRIORITY_DEFAULT,
					    sim->cancellable,
					    fleet_sim_command_cb,
					    sim);
}

/* ---- set-up ---------------------------------------------------------- */

static void
fleet_raise_nofile(guint n_agents)
{
	struct rlimit limit;

	if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
		return;
	limit.rlim_cur = limit.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur < (rlim_t)n_agents + 256)
		g_printerr("kl-fleet-sim: %u agents with at most %lu open files\n",
			   n_agents,
			   (gulong)limit.rlim_cur);
}

/* One listening socket per agent on 127.0.0.1 (any free port), outside
 * the main loop's poll set: the sockets sit in one epoll set that the main
 * loop watches as a single fd, so 10 000 idle listeners cost nothing per
 * loop iteration.  An accepted connection becomes a GTlsServerConnection
 * handed to SoupServer, which then sees it as one of its own. */
static gboolean
fleet_sim_listen_one(FleetSim *sim, guint index, GError **error)
{
	struct sockaddr_in address = {0};
	socklen_t len = sizeof(address);
	struct epoll_event event = {0};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	address.sin_family = AF_INET;
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	event.events = EPOLLIN;
	event.data.u32 = index;
	if (fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof(address)) != 0 ||
	    listen(fd, FLEET_BACKLOG) != 0 ||
	    getsockname(fd, (struct sockaddr *)&address, &len) != 0 ||
	    epoll_ctl(sim->epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0) {
		int saved = errno;

		if (fd >= 0)
			close(fd);
		g_set_error(error,
			    G_IO_ERROR,
			    g_io_error_from_errno(saved),
			    "a listening socket on " FLEET_IP ": %s",
			    g_strerror(saved));
		return FALSE;
	}
	sim->agents[index].listen_fd = fd;
	sim->agents[index].port = ntohs(address.sin_port);
	sim->port_to_agent[sim->agents[index].port] = index;
	return TRUE;
}

/* glib-networking asks about every client certificate, valid or not:
 * the one the CA database validated is the one accepted */
static gboolean
fleet_sim_accept_certificate_cb(GTlsConnection *tls,
				GTlsCertificate *peer,
				GTlsCertificateFlags errors,
				gpointer user_data)
{
	return errors == 0;
}

typedef struct {
	FleetSim *sim;
	GIOStream *tls;
	GSocketAddress *local;
	GSocketAddress *remote;
} FleetHandshake;

static void
fleet_handshake_free(FleetHandshake *handshake)
{
	g_object_unref(handshake->tls);
	g_object_unref(handshake->local);
	g_object_unref(handshake->remote);
	g_free(handshake);
}

static void
fleet_sim_handshake_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	FleetHandshake *handshake = user_data;
	g_autoptr(GError) error = NULL;

	/* a refused client certificate or a client gone: nothing to serve */
	if (g_tls_connection_handshake_finish(G_TLS_CONNECTION(source), result, &error) &&
	    !soup_server_accept_iostream(kl_http_server_get_soup_server(handshake->sim->server),
					 G_IO_STREAM(source),
					 handshake->local,
					 handshake->remote,
					 &error))
		g_warning("accepting a connection: %s", error->message);
	fleet_handshake_free(handshake);
}

/* glib-networking runs each handshake in a thread of GLib's small shared
 * pool, blocking on the peer: started before the ClientHello is there, the
 * pool's threads wait on verifier connections whose own handshake threads
 * wait in the verifier's pool for ours, and both sides stall until
 * timeouts.  Once the ClientHello has arrived, the client is mid-handshake
 * and a thread here never waits long. */
static gboolean
fleet_sim_client_hello_cb(GSocket *socket, GIOCondition condition, gpointer user_data)
{
	FleetHandshake *handshake = user_data;

	g_tls_connection_handshake_async(G_TLS_CONNECTION(handshake->tls),
					 G_PRIORITY_DEFAULT,
					 NULL,
					 fleet_sim_handshake_cb,
					 handshake);
	return G_SOURCE_REMOVE;
}

static void
fleet_sim_accept_one(FleetSim *sim, FleetAgent *agent, int fd)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GSocket) socket = g_socket_new_from_fd(fd, &error);
	g_autoptr(GSocketConnection) connection = NULL;
	g_autoptr(GIOStream) tls = NULL;
	g_autoptr(GSocketAddress) remote = NULL;
	g_autoptr(GInetAddress) ip = NULL;
	g_autoptr(GSocketAddress) local = NULL;
	g_autoptr(GSource) hello = NULL;
	FleetHandshake *handshake;

	if (socket == NULL) {
		close(fd);
		g_warning("accepted socket: %s", error->message);
		return;
	}
	g_socket_set_option(socket, IPPROTO_TCP, TCP_NODELAY, TRUE, NULL);
	connection = g_socket_connection_factory_create_connection(socket);
	remote = g_socket_get_remote_address(socket, NULL);
	ip = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	local = g_inet_socket_address_new(ip, agent->port);
	tls = g_tls_server_connection_new(G_IO_STREAM(connection), sim->certificate, &error);
	if (tls == NULL || remote == NULL) {
		g_warning("TLS for a connection to port %u: %s",
			  (guint)agent->port,
			  error != NULL ? error->message : "no remote address");
		return;
	}
	g_object_set(tls,
		     "require-close-notify",
		     FALSE,
		     "database",
		     sim->client_ca,
		     "authentication-mode",
		     sim->client_ca != NULL ? G_TLS_AUTHENTICATION_REQUIRED
					    : G_TLS_AUTHENTICATION_NONE,
		     NULL);
	g_signal_connect(tls,
			 "accept-certificate",
			 G_CALLBACK(fleet_sim_accept_certificate_cb),
			 NULL);
	/* as SoupServer does for its own sockets: the handshake first (an
	 * implicit one under libsoup's reads spins), once the client spoke */
	handshake = g_new0(FleetHandshake, 1);
	handshake->sim = sim;
	handshake->tls = g_steal_pointer(&tls);
	handshake->local = g_steal_pointer(&local);
	handshake->remote = g_steal_pointer(&remote);
	hello = g_socket_create_source(socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
	g_source_set_callback(hello, G_SOURCE_FUNC(fleet_sim_client_hello_cb), handshake, NULL);
	g_source_attach(hello, NULL);
}

static gboolean
fleet_sim_accept_cb(gint epoll_fd, GIOCondition condition, gpointer user_data)
{
	FleetSim *sim = user_data;
	struct epoll_event events[64];
	int n = epoll_wait(epoll_fd, events, G_N_ELEMENTS(events), 0);

	for (int i = 0; i < n; i++) {
		FleetAgent *agent = &sim->agents[events[i].data.u32];
		int fd;

		while ((fd = accept4(agent->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >=
		       0)
			fleet_sim_accept_one(sim, agent, fd);
		if (errno != EAGAIN && errno != ECONNABORTED)
			g_warning("accept on port %u: %s", (guint)agent->port, g_strerror(errno));
	}
	return G_SOURCE_CONTINUE;
}

static gboolean
fleet_sim_print_enrolment(FleetSim *sim, const gchar *cert_pem, FILE *out, GError **error)
{
	for (guint i = 0; i < sim->n_agents; i++) {
		FleetAgent *agent = &sim->agents[i];
		GBytes *ak = kl_tpm_get_ak_public(agent->tpm);
		g_autofree gchar *ak_b64 =
			g_base64_encode(g_bytes_get_data(ak, NULL), g_bytes_get_size(ak));
		g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
		g_autoptr(JsonNode) root = NULL;
		g_autofree gchar *text = NULL;

		json_builder_begin_object(builder);
		json_builder_set_member_name(builder, "agent_id");
		json_builder_add_string_value(builder, agent->agent_id);
		json_builder_set_member_name(builder, "ip");
		json_builder_add_string_value(builder, FLEET_IP);
		json_builder_set_member_name(builder, "port");
		json_builder_add_int_value(builder, agent->port);
		json_builder_set_member_name(builder, "ak_tpm");
		json_builder_add_string_value(builder, ak_b64);
		json_builder_set_member_name(builder, "mtls_cert");
		json_builder_add_string_value(builder, cert_pem);
		json_builder_end_object(builder);
		root = json_builder_get_root(builder);
		text = json_to_string(root, FALSE);
		if (fprintf(out, "%s\n", text) < 0) {
			g_set_error_literal(error,
					    G_IO_ERROR,
					    G_IO_ERROR_FAILED,
					    "writing the enrolment data");
			return FALSE;
		}
	}
	return fflush(out) == 0;
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(KlHttpRouter) router = NULL;
	g_autoptr(GInputStream) stdin_stream = NULL;
	g_autofree gchar *dir = NULL;
	g_autofree gchar *key_path = NULL;
	g_autofree gchar *cert_path = NULL;
	g_autofree gchar *nk_path = NULL;
	g_autofree gchar *cert_pem = NULL;
	g_autofree gchar *client_ca = NULL;
	g_autofree gchar *policy_out = NULL;
	g_autofree gchar *enrol_out = NULL;
	g_autoptr(EVP_PKEY) nk = NULL;
	gint n_agents = 3, n_entries = 5;
	gdouble interval = 2.0;
	gsize n_supported = 0;
	const KlApiVersion *supported = kl_api_version_agent_supported(&n_supported);
	KlHttpServerOptions options = {0};
	FleetSim *sim;
	FILE *out = stdout;
	GOptionEntry entries[] = {
		{"agents", 'n', 0, G_OPTION_ARG_INT, &n_agents, "Agents to simulate (3)", "N"},
		{"entries", 0, 0, G_OPTION_ARG_INT, &n_entries, "Files in each IMA log (5)", "K"},
		{"interval",
		 0,
		 0,
		 G_OPTION_ARG_DOUBLE,
		 &interval,
		 "The verifier's quote_interval, for lag (2)",
		 "S"},
		{"client-ca",
		 0,
		 0,
		 G_OPTION_ARG_FILENAME,
		 &client_ca,
		 "Require client certificates chained to this CA",
		 "PEM"},
		{"dir",
		 0,
		 0,
		 G_OPTION_ARG_FILENAME,
		 &dir,
		 "Where the server key, certificate and NK go (a new temporary directory)",
		 "DIR"},
		{"policy-out",
		 0,
		 0,
		 G_OPTION_ARG_FILENAME,
		 &policy_out,
		 "Write the runtime policy allowing the logs here",
		 "FILE"},
		{"enrolment-out",
		 0,
		 0,
		 G_OPTION_ARG_FILENAME,
		 &enrol_out,
		 "Write the enrolment lines here instead of stdout",
		 "FILE"},
		{NULL},
	};

	context = g_option_context_new("- simulate a fleet of pull agents");
	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error) || n_agents < 1 ||
	    n_agents > 60000 || n_entries < 0 || interval <= 0) {
		g_printerr("kl-fleet-sim: %s\n",
			   error != NULL ? error->message
					 : "bad --agents, --entries or --interval");
		return 2;
	}
	fleet_raise_nofile((guint)n_agents);
	if (dir == NULL && (dir = g_dir_make_tmp("kl-fleet-sim-XXXXXX", &error)) == NULL)
		g_error("%s", error->message);
	key_path = g_build_filename(dir, "server-key.pem", NULL);
	cert_path = g_build_filename(dir, "server-cert.pem", NULL);
	nk_path = g_build_filename(dir, "nk.pem", NULL);

	sim = g_new0(FleetSim, 1);
	memset(sim->port_to_agent, 0xff, sizeof(sim->port_to_agent));
	sim->interval_us = (gint64)(interval * G_USEC_PER_SEC);
	sim->lags = g_array_sized_new(FALSE, FALSE, sizeof(gint64), 1024);
	sim->n_agents = (guint)n_agents;
	sim->agents = g_new0(FleetAgent, sim->n_agents);
	sim->loop = g_main_loop_new(NULL, FALSE);
	sim->cancellable = g_cancellable_new();

	if (!kl_agent_identity_ensure_server_cert(key_path,
						  cert_path,
						  "kl-fleet-sim",
						  FLEET_IP,
						  &error) ||
	    !g_file_get_contents(cert_path, &cert_pem, NULL, &error) ||
	    (nk = kl_agent_identity_load_nk(nk_path, &error)) == NULL ||
	    (sim->nk_pem = kl_agent_identity_nk_pem(nk, &error)) == NULL)
		g_error("kl-fleet-sim: %s", error->message);

	for (guint i = 0; i < sim->n_agents; i++) {
		if (!fleet_agent_init(&sim->agents[i], i, (guint)n_entries, &error))
			g_error("kl-fleet-sim: agent %u: %s", i, error->message);
	}
	if (policy_out != NULL) {
		g_autofree gchar *policy = fleet_policy_json((guint)n_entries);
		if (!g_file_set_contents(policy_out, policy, -1, &error))
			g_error("kl-fleet-sim: %s", error->message);
	}

	router = kl_http_router_new(&supported[n_supported - 1], supported, n_supported);
	if (!kl_http_router_add_routes(router,
				       fleet_sim_routes,
				       G_N_ELEMENTS(fleet_sim_routes),
				       sim,
				       &error))
		g_error("kl-fleet-sim: %s", error->message);
	/* TLS is set up per connection (fleet_sim_accept_one) */
	options.ip = FLEET_IP;
	/* every connection comes from the verifier on 127.0.0.1 */
	options.max_connections_per_client = G_MAXUINT;
	sim->server = kl_http_server_new(router, &options, &error);
	if (sim->server == NULL)
		g_error("kl-fleet-sim: %s", error->message);
	/* libsoup keeps connections alive only while the server has a
	 * listener of its own: one on a port no agent uses */
	if (!kl_http_server_listen(sim->server, &error))
		g_error("kl-fleet-sim: %s", error->message);
	sim->certificate = g_tls_certificate_new_from_files(cert_path, key_path, &error);
	if (sim->certificate == NULL ||
	    (client_ca != NULL &&
	     (sim->client_ca = kl_http_tls_database_new(client_ca, &error)) == NULL))
		g_error("kl-fleet-sim: %s", error->message);
	sim->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (sim->epoll_fd < 0)
		g_error("kl-fleet-sim: epoll_create1: %s", g_strerror(errno));
	for (guint i = 0; i < sim->n_agents; i++) {
		if (!fleet_sim_listen_one(sim, i, &error))
			g_error("kl-fleet-sim: listening for agent %u: %s", i, error->message);
	}
	g_unix_fd_add(sim->epoll_fd, G_IO_IN, fleet_sim_accept_cb, sim);

	if (enrol_out != NULL && (out = fopen(enrol_out, "w")) == NULL)
		g_error("kl-fleet-sim: %s: %s", enrol_out, g_strerror(errno));
	if (!fleet_sim_print_enrolment(sim, cert_pem, out, &error))
		g_error("kl-fleet-sim: %s", error != NULL ? error->message : "writing");
	if (out != stdout)
		fclose(out);
	printf("ready %u\n", sim->n_agents);
	fflush(stdout);

	stdin_stream = g_unix_input_stream_new(0, FALSE);
	sim->control = g_data_input_stream_new(stdin_stream);
	fleet_sim_read_command(sim);
	g_main_loop_run(sim->loop);
	fleet_sim_print_stats(sim);

	g_cancellable_cancel(sim->cancellable);
	kl_http_server_stop(sim->server);
	g_clear_object(&sim->server);
	g_clear_object(&sim->certificate);
	g_clear_object(&sim->client_ca);
	g_clear_object(&sim->control);
	g_clear_object(&sim->cancellable);
	for (guint i = 0; i < sim->n_agents; i++)
		fleet_agent_clear(&sim->agents[i]);
	g_free(sim->agents);
	close(sim->epoll_fd);
	g_free(sim->nk_pem);
	g_array_unref(sim->lags);
	g_main_loop_unref(sim->loop);
	g_free(sim);
	return 0;
}
