/*
 * Fleet benchmark of keylime_verifier (issue 7): the real daemon (argv[1],
 * its verifier.conf template argv[2], optional) pinned to CPU 0 attests a
 * fleet simulated by kl-fleet-sim (argv[3]) pinned to the other CPUs, over
 * mTLS on loopback, at quote_interval = 2 s.
 *
 * The daemon gets its own keylime_dir and a CA made with kl-ca (server and
 * client certificates; the simulator requires the client one), its REST
 * port, sqlite database and settings through KEYLIME_VERIFIER_* overrides.
 * Agents are enrolled over REST as upstream's tenant does it: one named
 * runtime policy (POST /v2.6/allowlists/fleet, the simulator's), then
 * POST /v2.6/agents/{id} per agent with tpm_policy {"mask": "0x400"}.
 * States are read from the daemon's shared-memory agent table (named
 * with --shm-name, mapped read-only with KlAgentTableReader).
 *
 * Reported, each beside the same-run OpenSSL ECDSA P-256 verify rate of
 * one core (the work a quote costs at the least):
 * - the largest N the daemon sustains: N steps up (1k, 2k, 5k, 10k, 15k,
 *   ... within KL_BENCH_SECONDS; 100, 200 and 500 first, so that a
 *   slow machine still reports a number), each enrolled, brought to Get Quote (3)
 *   and then measured for KL_BENCH_WINDOW seconds; sustained when the
 *   p99 lag (interval between two quote requests of one agent, minus the
 *   2 s interval, measured by the simulator) is at most 10 % of the
 *   interval and every agent is still in state 3;
 * - detection latency p50/p99 over KL_BENCH_INJECTIONS (200) injections
 *   of an unlisted IMA entry into distinct agents at the largest N
 *   sustained (the agents of a step beyond it are deleted first): the
 *   simulator's CLOCK_REALTIME at injection to the moment
 *   the agent's record shows Invalid Quote (9);
 * - the daemon's VmRSS at 1k and 10k agents and the slope per agent
 *   (between the first and the last step when 10k is not reached).
 * Targets: >= 10 000 agents per core, p99 detection <= interval + 100 ms,
 * <= 16 KB per agent.
 *
 * Environment: KL_BENCH_SECONDS (600) total budget, KL_BENCH_WINDOW (10),
 * KL_BENCH_MAX_AGENTS (12000, and what the file limit allows),
 * KL_BENCH_INJECTIONS (200), KL_BENCH_VERIFIER_ARGS ("--no-dbus"),
 * KL_TEST_KEEP=1 keeps the directory.  Exit 1 on a functional failure
 * (the daemon or the simulator fails, enrolment is refused); a missed
 * target is reported, not failed.
 *
 * Run: meson test -C build --benchmark --suite bench kl-bench-fleet -v
 */
#include "config.h"

#include <errno.h>
#include <openssl/evp.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "kl-agent-table-reader.h"
#include "kl-ca.h"
#include "kl-crypto.h"
#include "kl-http-tls.h"
#include "kl-test-dir.h"

#define BENCH_INTERVAL	      2.0
#define BENCH_LAG_LIMIT	      0.10 /* of the interval */
#define BENCH_TARGET_AGENTS   10000u
#define BENCH_TARGET_DETECT   (BENCH_INTERVAL * 1000 + 100) /* ms */
#define BENCH_TARGET_KB	      16.0
#define BENCH_ENROL_PARALLEL  32u
#define BENCH_STATE_GET_QUOTE 3
#define BENCH_STATE_INVALID   9
#define BENCH_POLICY_NAME     "fleet"
#define BENCH_ENROL_RETRIES   1000u /* transport failures retried per batch */

static const guint bench_steps[] = {100, 200, 500, 1000, 2000, 5000, 10000, 15000, 20000, 50000};

typedef struct {
	gchar *agent_id;
	gchar *ip;
	guint port;
	gchar *ak_tpm;
	gchar *mtls_cert;
	guint slot; /* in the agent table, G_MAXUINT until found */
} BenchAgent;

typedef struct {
	GSubprocess *process;
	gchar *log_path;
	gchar *pid;
} BenchProcess;

typedef struct {
	/* set-up */
	KlTestDir *dir;
	gchar *keylime_dir;
	gchar *ca_dir;
	gchar *policy_path;
	guint16 port;
	gchar *base_url;
	SoupSession *session;
	GTlsCertificate *client_cert;
	BenchProcess verifier;
	BenchProcess sim;
	GDataInputStream *sim_out;
	GOutputStream *sim_in;
	GPtrArray *agents; /* BenchAgent */
	KlAgentTableReader *reader;
	gchar *shm_name;
	/* enrolment in flight */
	guint enrol_next;
	guint enrol_end;
	guint enrol_in_flight;
	gboolean enrol_delete; /* DELETE instead of POST */
	GArray *enrol_retry;   /* guint agent indexes whose request to send again */
	guint enrol_retries;   /* transport failures retried in this batch */
	gchar *enrol_failure;
	/* results */
	gdouble verify_rate;
	gint64 rss_1k;
	gint64 rss_10k;
} Bench;

static Bench bench;

/* ---- small helpers ----------------------------------------------------- */

static guint
bench_env_uint(const gchar *name, guint fallback)
{
	const gchar *value = g_getenv(name);
	guint64 parsed = 0;

	if (value == NULL || !g_ascii_string_to_unsigned(value, 10, 1, G_MAXUINT, &parsed, NULL))
		return fallback;
	return (guint)parsed;
}

static const gchar *
bench_verdict(gboolean met)
{
	return met ? "MET" : "MISSED";
}

static gint
bench_compare_double(gconstpointer a, gconstpointer b)
{
	gdouble x = *(const gdouble *)a, y = *(const gdouble *)b;
	return x < y ? -1 : x > y ? 1 : 0;
}

static gdouble
bench_percentile(GArray *sorted, gdouble p)
{
	if (sorted->len == 0)
		return 0;
	return g_array_index(sorted, gdouble, (guint)(p * (sorted->len - 1) + 0.5));
}

static gint64
bench_realtime_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (gint64)ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

/* ---- the baseline: OpenSSL ECDSA P-256 verifies per second, one core ---- */

static gdouble
bench_baseline_verify(void)
{
	g_autoptr(EVP_PKEY) key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new();
	guint8 message[145]; /* a TPMS_ATTEST quote of PCR 10 and 16 */
	guint8 sig[80];
	gsize sig_len = sizeof(sig);
	gdouble best = 0;

	memset(message, 0x5a, sizeof(message));
	if (key == NULL || ctx == NULL ||
	    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(ctx, sig, &sig_len, message, sizeof(message)) != 1)
		g_error("baseline: ECDSA P-256 signing failed");
	for (guint round = 0; round < 3; round++) {
		gint64 start = g_get_monotonic_time();
		guint n = 0;

		while (g_get_monotonic_time() - start < G_USEC_PER_SEC / 2) {
			if (EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
			    EVP_DigestVerify(ctx, sig, sig_len, message, sizeof(message)) != 1)
				g_error("baseline: verify failed");
			n++;
		}
		best = MAX(best, n / ((gdouble)(g_get_monotonic_time() - start) / G_USEC_PER_SEC));
	}
	return best;
}

/* ---- processes ----------------------------------------------------------- */

/* in the child: pinned to @user_data's CPU set; dies with the benchmark */
static void
bench_child_setup(gpointer user_data)
{
	cpu_set_t *set = user_data;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (CPU_COUNT(set) > 0)
		sched_setaffinity(0, sizeof(*set), set);
}

static gdouble
bench_process_cpu(BenchProcess *process)
{
	g_autofree gchar *path = g_strdup_printf("/proc/%s/stat", process->pid);
	g_autofree gchar *stat = NULL;
	g_auto(GStrv) fields = NULL;
	const gchar *after;

	if (!g_file_get_contents(path, &stat, NULL, NULL))
		return 0;
	after = strrchr(stat, ')');
	if (after == NULL)
		return 0;
	fields = g_strsplit(after + 2, " ", -1);
	if (g_strv_length(fields) < 13)
		return 0;
	return (gdouble)(g_ascii_strtoull(fields[11], NULL, 10) +
			 g_ascii_strtoull(fields[12], NULL, 10)) /
	       (gdouble)sysconf(_SC_CLK_TCK);
}

/* VmRSS in bytes, 0 if unknown */
static gint64
bench_process_rss(BenchProcess *process)
{
	g_autofree gchar *path = g_strdup_printf("/proc/%s/status", process->pid);
	g_autofree gchar *status = NULL;
	const gchar *at;

	if (!g_file_get_contents(path, &status, NULL, NULL) ||
	    (at = strstr(status, "VmRSS:")) == NULL)
		return 0;
	return (gint64)g_ascii_strtoull(at + 6 + strspn(at + 6, " \t"), NULL, 10) * 1024;
}

static gboolean
bench_process_alive(BenchProcess *process)
{
	g_autofree gchar *path = g_strdup_printf("/proc/%s/stat", process->pid);
	g_autofree gchar *stat = NULL;
	const gchar *after;

	if (!g_file_get_contents(path, &stat, NULL, NULL))
		return FALSE;
	after = strrchr(stat, ')');
	return after != NULL && after[1] == ' ' && after[2] != 'Z' && after[2] != 'X';
}

static void
bench_dump_log(BenchProcess *process, const gchar *name)
{
	g_autofree gchar *log = NULL;
	gsize len = 0;

	if (process->log_path == NULL || !g_file_get_contents(process->log_path, &log, &len, NULL))
		return;
	/* the end says why it stopped */
	g_printerr("# %s log (last 4 KB of %s):\n%s\n",
		   name,
		   process->log_path,
		   len > 4096 ? log + len - 4096 : log);
}

static void
bench_process_stop(BenchProcess *process)
{
	if (process->process == NULL)
		return;
	g_subprocess_send_signal(process->process, SIGTERM);
	g_subprocess_wait(process->process, NULL, NULL);
	g_clear_object(&process->process);
}

/* ---- the simulator ------------------------------------------------------- */

static gchar *
bench_sim_read_line(void)
{
	g_autoptr(GError) error = NULL;
	gchar *line = g_data_input_stream_read_line_utf8(bench.sim_out, NULL, NULL, &error);

	if (line == NULL) {
		bench_dump_log(&bench.sim, "kl-fleet-sim");
		g_error("kl-fleet-sim: %s", error != NULL ? error->message : "end of output");
	}
	return line;
}

static gchar *
bench_sim_command(const gchar *command)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *line = g_strconcat(command, "\n", NULL);

	if (!g_output_stream_write_all(bench.sim_in, line, strlen(line), NULL, NULL, &error))
		g_error("kl-fleet-sim: %s", error->message);
	return bench_sim_read_line();
}

static void
bench_agent_free(gpointer data)
{
	BenchAgent *agent = data;

	g_free(agent->agent_id);
	g_free(agent->ip);
	g_free(agent->ak_tpm);
	g_free(agent->mtls_cert);
	g_free(agent);
}

static void
bench_sim_start(const gchar *sim_path, guint n_agents, const cpu_set_t *cpus)
{
	g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(
		G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *n_text = g_strdup_printf("%u", n_agents);
	g_autofree gchar *sim_dir = kl_test_dir_build(bench.dir, "sim", NULL);
	g_autofree gchar *ca_cert = g_build_filename(bench.ca_dir, "cacert.crt", NULL);
	g_autofree gchar *ready = NULL;
	g_autofree gchar *expected = NULL;

	if (g_mkdir(sim_dir, 0700) != 0)
		g_error("%s: %s", sim_dir, g_strerror(errno));
	bench.sim.log_path = kl_test_dir_build(bench.dir, "sim.log", NULL);
	g_subprocess_launcher_set_stderr_file_path(launcher, bench.sim.log_path);
	g_subprocess_launcher_set_child_setup(launcher,
					      bench_child_setup,
					      g_memdup2(cpus, sizeof(*cpus)),
					      g_free);
	bench.sim.process = g_subprocess_launcher_spawn(launcher,
							&error,
							sim_path,
							"--agents",
							n_text,
							"--client-ca",
							ca_cert,
							"--dir",
							sim_dir,
							"--policy-out",
							bench.policy_path,
							NULL);
	if (bench.sim.process == NULL)
		g_error("%s: %s", sim_path, error->message);
	bench.sim.pid = g_strdup(g_subprocess_get_identifier(bench.sim.process));
	bench.sim_out = g_data_input_stream_new(g_subprocess_get_stdout_pipe(bench.sim.process));
	bench.sim_in = g_subprocess_get_stdin_pipe(bench.sim.process);
	bench.agents = g_ptr_array_new_with_free_func(bench_agent_free);
	for (guint i = 0; i < n_agents; i++) {
		g_autofree gchar *line = bench_sim_read_line();
		g_autoptr(JsonNode) node = json_from_string(line, &error);
		JsonObject *object;
		BenchAgent *agent;

		if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node))
			g_error("kl-fleet-sim: enrolment line %u: %s",
				i,
				error != NULL ? error->message : "not an object");
		object = json_node_get_object(node);
		agent = g_new0(BenchAgent, 1);
		agent->agent_id = g_strdup(json_object_get_string_member(object, "agent_id"));
		agent->ip = g_strdup(json_object_get_string_member(object, "ip"));
		agent->port = (guint)json_object_get_int_member(object, "port");
		agent->ak_tpm = g_strdup(json_object_get_string_member(object, "ak_tpm"));
		agent->mtls_cert = g_strdup(json_object_get_string_member(object, "mtls_cert"));
		agent->slot = G_MAXUINT;
		g_ptr_array_add(bench.agents, agent);
	}
	ready = bench_sim_read_line();
	expected = g_strdup_printf("ready %u", n_agents);
	if (g_strcmp0(ready, expected) != 0)
		g_error("kl-fleet-sim: expected \"%s\", got \"%s\"", expected, ready);
}

/* "stats {json}" → the object */
static JsonObject *
bench_sim_stats(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *line = bench_sim_command("stats");
	g_autoptr(JsonNode) node = NULL;

	if (!g_str_has_prefix(line, "stats ") ||
	    (node = json_from_string(line + 6, &error)) == NULL || !JSON_NODE_HOLDS_OBJECT(node))
		g_error("kl-fleet-sim: bad stats line \"%s\"", line);
	return json_object_ref(json_node_get_object(node));
}

/* ---- the verifier -------------------------------------------------------- */

static guint16
bench_free_port(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GSocket) socket = g_socket_new(G_SOCKET_FAMILY_IPV4,
						 G_SOCKET_TYPE_STREAM,
						 G_SOCKET_PROTOCOL_TCP,
						 &error);
	g_autoptr(GInetAddress) ip = g_inet_address_new_from_string("127.0.0.1");
	g_autoptr(GSocketAddress) address = g_inet_socket_address_new(ip, 0);
	g_autoptr(GSocketAddress) local = NULL;

	if (socket == NULL || !g_socket_bind(socket, address, FALSE, &error) ||
	    (local = g_socket_get_local_address(socket, &error)) == NULL)
		g_error("a free port: %s", error->message);
	return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local));
}

static void
bench_make_ca(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlCaSettings) settings = kl_ca_settings_new();
	g_autoptr(KlCa) ca = NULL;

	bench.ca_dir = g_build_filename(bench.keylime_dir, "cv_ca", NULL);
	ca = kl_ca_init(bench.ca_dir, settings, &error);
	/* the server certificate is named by its address: its IP SAN */
	if (ca == NULL || !kl_ca_create_cert(ca, "127.0.0.1", &error) ||
	    !kl_ca_create_cert(ca, "client", &error))
		g_error("kl-ca: %s", error->message);
}

static void
bench_verifier_start(const gchar *verifier_path, const gchar *config, const cpu_set_t *cpus)
{
	g_autoptr(GSubprocessLauncher) launcher =
		g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *port = NULL;
	g_autofree gchar *interval = g_strdup_printf("%g", BENCH_INTERVAL);
	g_autofree gchar *config_path = NULL;
	const gchar *extra = g_getenv("KL_BENCH_VERIFIER_ARGS");
	g_auto(GStrv) extra_args = g_strsplit(extra != NULL ? extra : "--no-dbus", " ", -1);

	if (config == NULL) {
		/* no template: the options this benchmark sets, the rest defaults */
		config_path = kl_test_dir_write(bench.dir,
						"verifier.conf",
						"[verifier]\nversion = 2.6\n\n[revocations]\n",
						-1);
		config = config_path;
	}
	bench.port = bench_free_port();
	port = g_strdup_printf("%u", (guint)bench.port);
	g_subprocess_launcher_setenv(launcher, "KEYLIME_DIR", bench.keylime_dir, TRUE);
	g_subprocess_launcher_setenv(launcher, "KEYLIME_VERIFIER_CONFIG", config, TRUE);
	g_subprocess_launcher_setenv(launcher, "KEYLIME_VERIFIER_UUID", "default", TRUE);
	g_subprocess_launcher_setenv(launcher, "KEYLIME_VERIFIER_IP", "127.0.0.1", TRUE);
	g_subprocess_launcher_setenv(launcher, "KEYLIME_VERIFIER_PORT", port, TRUE);
	g_subprocess_launcher_setenv(launcher, "KEYLIME_VERIFIER_TLS_DIR", bench.ca_dir, TRUE);
	g_subprocess_launcher_setenv(launcher,
				     "KEYLIME_VERIFIER_SERVER_CERT",
				     "127.0.0.1-cert.crt",
				     TRUE);
	g_subprocess_launcher_setenv(launcher,
				     "KEYLIME_VERIFIER_SERVER_KEY",
				     "127.0.0.1-private.pem",
				     TRUE);
	g_subprocess_launcher_setenv(launcher,
				     "KEYLIME_VERIFIER_TRUSTED_CLIENT_CA",
				     "cacert.crt",
				     TRUE);
	g_subprocess_launcher_setenv(launcher,
				     "KEYLIME_VERIFIER_CLIENT_CERT",
				     "client-cert.crt",
				     TRUE);
	g_subprocess_launcher_setenv(launcher,
				     "KEYLIME_VERIFIER_CLIENT_KEY",
				     "client-private.pem",
				     TRUE);
	g_subprocess_launcher_setenv(launcher,
				     "KEYLIME_VERIFIER_TRUSTED_SERVER_CA",
				     "cacert.crt",
				     TRUE);
	g_subprocess_launcher_setenv(launcher, "KEYLIME_VERIFIER_ENABLE_AGENT_MTLS", "True", TRUE);
	g_subprocess_launcher_setenv(launcher, "KEYLIME_VERIFIER_DATABASE_URL", "sqlite", TRUE);
	g_subprocess_launcher_setenv(launcher, "KEYLIME_VERIFIER_QUOTE_INTERVAL", interval, TRUE);
	g_subprocess_launcher_setenv(launcher, "KEYLIME_VERIFIER_MODE", "pull", TRUE);
	/* a failed agent must not set off 10 000 revocation POSTs */
	g_subprocess_launcher_setenv(
		launcher,
		"KEYLIME_VERIFIER_REVOCATIONS_ENABLED_REVOCATION_NOTIFICATIONS",
		"[]",
		TRUE);
	bench.verifier.log_path = kl_test_dir_build(bench.dir, "verifier.log", NULL);
	g_subprocess_launcher_set_stderr_file_path(launcher, bench.verifier.log_path);
	g_subprocess_launcher_set_stdout_file_path(launcher, "/dev/null");
	g_subprocess_launcher_set_child_setup(launcher,
					      bench_child_setup,
					      g_memdup2(cpus, sizeof(*cpus)),
					      g_free);
	g_ptr_array_add(argv, g_strdup(verifier_path));
	bench.shm_name = g_strdup_printf("/kl-bench-fleet-%d", (gint)getpid());
	g_ptr_array_add(argv, g_strdup_printf("--shm-name=%s", bench.shm_name));
	for (guint i = 0; extra_args[i] != NULL; i++) {
		if (extra_args[i][0] != '\0')
			g_ptr_array_add(argv, g_strdup(extra_args[i]));
	}
	g_ptr_array_add(argv, NULL);
	bench.verifier.process =
		g_subprocess_launcher_spawnv(launcher, (const gchar *const *)argv->pdata, &error);
	if (bench.verifier.process == NULL)
		g_error("%s: %s", verifier_path, error->message);
	bench.verifier.pid = g_strdup(g_subprocess_get_identifier(bench.verifier.process));
	bench.base_url = g_strdup_printf("https://127.0.0.1:%u", (guint)bench.port);
}

/* ---- REST ---------------------------------------------------------------- */

static SoupMessage *
bench_message_new(const gchar *method, const gchar *path, const gchar *body)
{
	g_autofree gchar *url = g_strconcat(bench.base_url, path, NULL);
	SoupMessage *msg = soup_message_new(method, url);

	if (msg == NULL)
		g_error("bad URL %s", url);
	soup_message_set_tls_client_certificate(msg, bench.client_cert);
	/* as the e2e test does: libkl-http counts a keep-alive client that
	 * has gone until its idle timeout, and refuses a client IP beyond 64 */
	soup_message_headers_replace(soup_message_get_request_headers(msg), "Connection", "close");
	if (body != NULL) {
		g_autoptr(GBytes) bytes = g_bytes_new(body, strlen(body));
		soup_message_set_request_body_from_bytes(msg, "application/json", bytes);
	}
	return msg;
}

/* a blocking request on the main context; the status, 0 on a transport error */
static guint
bench_request(const gchar *method, const gchar *path, const gchar *body, gchar **reply)
{
	g_autoptr(SoupMessage) msg = bench_message_new(method, path, body);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) bytes = soup_session_send_and_read(bench.session, msg, NULL, &error);

	if (bytes == NULL) {
		if (reply != NULL)
			*reply = g_strdup(error->message);
		return 0;
	}
	if (reply != NULL)
		*reply = g_strndup(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes));
	return soup_message_get_status(msg);
}

static void
bench_wait_for_verifier(void)
{
	gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;

	for (;;) {
		g_autofree gchar *reply = NULL;

		if (bench_request("GET", "/version", NULL, &reply) == 200)
			return;
		if (!bench_process_alive(&bench.verifier) || g_get_monotonic_time() > deadline) {
			bench_dump_log(&bench.verifier, "keylime_verifier");
			g_error("keylime_verifier did not answer GET /version: %s", reply);
		}
		g_usleep(100000);
	}
}

/* the daemon's segment, named by --shm-name */
static void
bench_open_table(void)
{
	gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;

	while (bench.reader == NULL) {
		g_autoptr(GError) error = NULL;

		bench.reader = kl_agent_table_reader_open(bench.shm_name, &error);
		if (bench.reader == NULL) {
			if (g_get_monotonic_time() > deadline)
				g_error("agent table %s: %s", bench.shm_name, error->message);
			g_usleep(100000);
		}
	}
}

static gchar *
bench_enrol_body(BenchAgent *agent)
{
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
	g_autoptr(JsonNode) root = NULL;
	static const gchar *const hash_algs[] = {"sha256", NULL};
	static const gchar *const enc_algs[] = {"ecc", "rsa", NULL};
	static const gchar *const sign_algs[] = {"ecdsa", "rsassa", NULL};
	const gchar *const *lists[] = {hash_algs, enc_algs, sign_algs};
	const gchar *list_names[] = {
		"accept_tpm_hash_algs",
		"accept_tpm_encryption_algs",
		"accept_tpm_signing_algs",
	};

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "v");
	json_builder_add_null_value(builder);
	json_builder_set_member_name(builder, "cloudagent_ip");
	json_builder_add_string_value(builder, agent->ip);
	json_builder_set_member_name(builder, "cloudagent_port");
	json_builder_add_int_value(builder, agent->port);
	json_builder_set_member_name(builder, "tpm_policy");
	json_builder_add_string_value(builder, "{\"mask\": \"0x400\"}");
	json_builder_set_member_name(builder, "runtime_policy");
	json_builder_add_string_value(builder, "");
	json_builder_set_member_name(builder, "runtime_policy_name");
	json_builder_add_string_value(builder, BENCH_POLICY_NAME);
	json_builder_set_member_name(builder, "mb_policy");
	json_builder_add_null_value(builder);
	json_builder_set_member_name(builder, "mb_policy_name");
	json_builder_add_null_value(builder);
	json_builder_set_member_name(builder, "ima_sign_verification_keys");
	json_builder_add_string_value(builder, "");
	json_builder_set_member_name(builder, "metadata");
	json_builder_add_string_value(builder, "{}");
	json_builder_set_member_name(builder, "revocation_key");
	json_builder_add_string_value(builder, "");
	for (guint l = 0; l < G_N_ELEMENTS(lists); l++) {
		json_builder_set_member_name(builder, list_names[l]);
		json_builder_begin_array(builder);
		for (guint i = 0; lists[l][i] != NULL; i++)
			json_builder_add_string_value(builder, lists[l][i]);
		json_builder_end_array(builder);
	}
	json_builder_set_member_name(builder, "ak_tpm");
	json_builder_add_string_value(builder, agent->ak_tpm);
	json_builder_set_member_name(builder, "mtls_cert");
	json_builder_add_string_value(builder, agent->mtls_cert);
	json_builder_set_member_name(builder, "supported_version");
	json_builder_add_string_value(builder, "2.2");
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	return json_to_string(root, FALSE);
}

static void bench_enrol_next(void);

static void
bench_enrol_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(SoupMessage) msg = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) body =
		soup_session_send_and_read_finish(SOUP_SESSION(source), result, &error);

	bench.enrol_in_flight--;
	/* an overloaded daemon drops handshakes (headers timeout): again,
	 * within a bound */
	if (body == NULL && bench.enrol_retries < BENCH_ENROL_RETRIES) {
		guint index = GPOINTER_TO_UINT(g_object_get_data(G_OBJECT(msg), "bench-index"));

		bench.enrol_retries++;
		g_array_append_val(bench.enrol_retry, index);
	} else if (body == NULL && bench.enrol_failure == NULL)
		bench.enrol_failure = g_strdup(error->message);
	else if (body != NULL && soup_message_get_status(msg) != 200 &&
		 soup_message_get_status(msg) != 202 && bench.enrol_failure == NULL)
		bench.enrol_failure = g_strdup_printf("HTTP %u: %.*s",
						      soup_message_get_status(msg),
						      (gint)MIN(g_bytes_get_size(body), 300),
						      (const gchar *)g_bytes_get_data(body, NULL));
	bench_enrol_next();
}

/* POST or DELETE /v2.6/agents/{id} of agent @index */
static void
bench_enrol_send(guint index)
{
	BenchAgent *agent = g_ptr_array_index(bench.agents, index);
	g_autofree gchar *body = bench.enrol_delete ? NULL : bench_enrol_body(agent);
	g_autofree gchar *path = g_strdup_printf("/v2.6/agents/%s", agent->agent_id);
	SoupMessage *msg = bench_message_new(bench.enrol_delete ? "DELETE" : "POST", path, body);

	g_object_set_data(G_OBJECT(msg), "bench-index", GUINT_TO_POINTER(index));
	bench.enrol_in_flight++;
	soup_session_send_and_read_async(bench.session,
					 msg,
					 G_PRIORITY_DEFAULT,
					 NULL,
					 bench_enrol_cb,
					 msg);
}

static void
bench_enrol_next(void)
{
	while (bench.enrol_failure == NULL &&
	       (bench.enrol_next < bench.enrol_end || bench.enrol_retry->len > 0) &&
	       bench.enrol_in_flight < BENCH_ENROL_PARALLEL) {
		guint index = bench.enrol_next;

		if (bench.enrol_retry->len > 0) {
			index = g_array_index(bench.enrol_retry, guint, bench.enrol_retry->len - 1);
			g_array_set_size(bench.enrol_retry, bench.enrol_retry->len - 1);
		} else {
			bench.enrol_next++;
		}
		bench_enrol_send(index);
	}
}

/* POST agents [from, to); TRUE when all were accepted */
static gboolean
bench_enrol(guint from, guint to, gdouble *seconds)
{
	gint64 start = g_get_monotonic_time();

	bench.enrol_delete = FALSE;
	bench.enrol_retries = 0;
	bench.enrol_next = from;
	bench.enrol_end = to;
	bench_enrol_next();
	while (bench.enrol_in_flight > 0)
		g_main_context_iteration(NULL, TRUE);
	*seconds = (gdouble)(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
	if (bench.enrol_failure != NULL) {
		g_printerr("enrolment refused: %s\n", bench.enrol_failure);
		return FALSE;
	}
	return TRUE;
}

/* DELETE agents [from, to): back to a fleet the daemon sustains */
static gboolean
bench_unenrol(guint from, guint to)
{
	bench.enrol_delete = TRUE;
	bench.enrol_retries = 0;
	bench.enrol_next = from;
	bench.enrol_end = to;
	bench_enrol_next();
	while (bench.enrol_in_flight > 0)
		g_main_context_iteration(NULL, TRUE);
	if (bench.enrol_failure != NULL) {
		g_printerr("deletion refused: %s\n", bench.enrol_failure);
		return FALSE;
	}
	return TRUE;
}

static gboolean
bench_post_policy(void)
{
	g_autofree gchar *policy = NULL;
	g_autofree gchar *b64 = NULL;
	g_autofree gchar *body = NULL;
	g_autofree gchar *reply = NULL;
	g_autoptr(GError) error = NULL;
	gsize len = 0;
	guint status;

	if (!g_file_get_contents(bench.policy_path, &policy, &len, &error))
		g_error("%s", error->message);
	b64 = g_base64_encode((const guint8 *)policy, len);
	body = g_strdup_printf("{\"runtime_policy\": \"%s\"}", b64);
	status = bench_request("POST", "/v2.6/allowlists/" BENCH_POLICY_NAME, body, &reply);
	if (status != 201 && status != 200) {
		g_printerr("POST /v2.6/allowlists/%s: %u %s\n", BENCH_POLICY_NAME, status, reply);
		return FALSE;
	}
	return TRUE;
}

/* ---- the agent table ------------------------------------------------------ */

/* Finds the slots of agents [0, n) not found yet; the number still missing. */
static guint
bench_map_slots(guint n)
{
	g_autoptr(GHashTable) wanted = g_hash_table_new(g_str_hash, g_str_equal);
	guint missing = 0;
	guint count;

	kl_agent_table_reader_refresh(bench.reader, NULL);
	for (guint i = 0; i < n; i++) {
		BenchAgent *agent = g_ptr_array_index(bench.agents, i);
		if (agent->slot == G_MAXUINT)
			g_hash_table_insert(wanted, agent->agent_id, agent);
	}
	if (g_hash_table_size(wanted) == 0)
		return 0;
	count = kl_agent_table_reader_get_count(bench.reader);
	for (guint slot = 0; slot < count; slot++) {
		KlAgentTableRecord record;
		BenchAgent *agent;

		if (!kl_agent_table_reader_read(bench.reader, slot, &record))
			continue;
		agent = g_hash_table_lookup(wanted, record.agent_id);
		if (agent != NULL)
			agent->slot = slot;
	}
	for (guint i = 0; i < n; i++)
		missing += ((BenchAgent *)g_ptr_array_index(bench.agents, i))->slot == G_MAXUINT;
	return missing;
}

/* agents [0, n) attested at least once and in Get Quote now */
static guint
bench_count_attesting(guint n, guint *failed)
{
	guint ok = 0;

	*failed = 0;
	for (guint i = 0; i < n; i++) {
		BenchAgent *agent = g_ptr_array_index(bench.agents, i);
		KlAgentTableRecord record;

		if (agent->slot == G_MAXUINT ||
		    !kl_agent_table_reader_read(bench.reader, agent->slot, &record))
			continue;
		if (record.operational_state == BENCH_STATE_GET_QUOTE &&
		    record.attestation_count > 0)
			ok++;
		else if (record.operational_state >= 7)
			(*failed)++;
	}
	return ok;
}

/* ---- one step of N -------------------------------------------------------- */

typedef struct {
	guint n;
	gboolean enrolled;
	gboolean converged;
	gdouble enrol_s;
	gdouble converge_s;
	gdouble lag_p50_ms;
	gdouble lag_p99_ms;
	gdouble quotes_per_s;
	gdouble verifier_cpu;
	gdouble sim_cpu;
	gint64 rss;
	guint attesting;
	guint failed;
	gboolean sustained;
} BenchStep;

static void
bench_step_print(const BenchStep *step)
{
	g_print("N=%-6u enrol %5.1f s, %s after %5.1f s; lag p50 %7.1f ms p99 %7.1f ms; "
		"%6.0f quotes/s; verifier CPU %3.0f %%, simulator CPU %3.0f %%; RSS %6.1f MB; "
		"attesting %u, failed %u: %s\n",
		step->n,
		step->enrol_s,
		step->converged ? "all in Get Quote" : "NOT all in Get Quote",
		step->converge_s,
		step->lag_p50_ms,
		step->lag_p99_ms,
		step->quotes_per_s,
		step->verifier_cpu * 100,
		step->sim_cpu * 100,
		step->rss / 1048576.0,
		step->attesting,
		step->failed,
		step->sustained ? "sustained" : "NOT sustained");
}

static gboolean
bench_step_run(BenchStep *step, guint from, guint window)
{
	g_autoptr(JsonObject) stats = NULL;
	gint64 deadline;
	gint64 start;
	gdouble cpu0, sim0, wall0;

	step->enrolled = bench_enrol(from, step->n, &step->enrol_s);
	if (!step->enrolled)
		return FALSE;
	/* every agent attested once and in Get Quote: 3 intervals + 1 s/1000 */
	start = g_get_monotonic_time();
	deadline = start + (gint64)((3 * BENCH_INTERVAL + step->n / 1000.0) * G_USEC_PER_SEC);
	for (;;) {
		guint missing = bench_map_slots(step->n);
		guint failed = 0;

		step->attesting = missing == 0 ? bench_count_attesting(step->n, &failed) : 0;
		if (step->attesting == step->n) {
			step->converged = TRUE;
			break;
		}
		if (!bench_process_alive(&bench.verifier)) {
			bench_dump_log(&bench.verifier, "keylime_verifier");
			g_printerr("keylime_verifier died at N=%u\n", step->n);
			return FALSE;
		}
		if (g_get_monotonic_time() > deadline)
			break;
		g_usleep(100000);
	}
	step->converge_s = (gdouble)(g_get_monotonic_time() - start) / G_USEC_PER_SEC;

	/* the window: lag as the simulator sees it */
	g_free(bench_sim_command("reset"));
	cpu0 = bench_process_cpu(&bench.verifier);
	sim0 = bench_process_cpu(&bench.sim);
	wall0 = (gdouble)g_get_monotonic_time() / G_USEC_PER_SEC;
	g_usleep((gulong)window * G_USEC_PER_SEC);
	stats = bench_sim_stats();
	wall0 = (gdouble)g_get_monotonic_time() / G_USEC_PER_SEC - wall0;
	step->verifier_cpu = (bench_process_cpu(&bench.verifier) - cpu0) / wall0;
	step->sim_cpu = (bench_process_cpu(&bench.sim) - sim0) / wall0;
	step->lag_p50_ms = json_object_get_double_member(stats, "lag_p50_ms");
	step->lag_p99_ms = json_object_get_double_member(stats, "lag_p99_ms");
	step->quotes_per_s = (gdouble)json_object_get_int_member(stats, "quotes") / wall0;
	step->rss = bench_process_rss(&bench.verifier);
	bench_map_slots(step->n);
	step->attesting = bench_count_attesting(step->n, &step->failed);
	step->sustained = step->converged && step->attesting == step->n &&
			  json_object_get_int_member(stats, "lag_samples") > 0 &&
			  step->lag_p99_ms <= BENCH_LAG_LIMIT * BENCH_INTERVAL * 1000;
	return TRUE;
}

/* ---- detection latency ---------------------------------------------------- */

/* @count injections into distinct agents of [0, n), one every 50 ms; the
 * latencies in ms, sorted, and how many were never detected */
static GArray *
bench_detect(guint n, guint count, guint *undetected)
{
	g_autoptr(GArray) injected_at = g_array_sized_new(FALSE, TRUE, sizeof(gint64), count);
	g_autofree guint *index = g_new0(guint, count);
	GArray *latencies = g_array_sized_new(FALSE, FALSE, sizeof(gdouble), count);
	guint next = 0, pending = 0;
	gint64 next_at = g_get_monotonic_time();
	gint64 deadline = 0;

	count = MIN(count, n);
	g_array_set_size(injected_at, count);
	for (guint i = 0; i < count; i++)
		index[i] = (guint)((guint64)i * n / count);
	for (;;) {
		gint64 now = g_get_monotonic_time();

		if (next < count && now >= next_at) {
			g_autofree gchar *command = g_strdup_printf("inject %u", index[next]);
			g_autofree gchar *line = bench_sim_command(command);
			g_auto(GStrv) words = g_strsplit(line, " ", 3);

			if (g_strv_length(words) != 3 || g_strcmp0(words[0], "injected") != 0)
				g_error("kl-fleet-sim: %s", line);
			g_array_index(injected_at, gint64, next) =
				g_ascii_strtoll(words[2], NULL, 10);
			next++;
			pending++;
			next_at += 50000;
			if (next == count)
				deadline =
					now + (gint64)((3 * BENCH_INTERVAL + 10) * G_USEC_PER_SEC);
		}
		for (guint i = 0; i < next; i++) {
			BenchAgent *agent = g_ptr_array_index(bench.agents, index[i]);
			gint64 *at = &g_array_index(injected_at, gint64, i);
			KlAgentTableRecord record;

			if (*at == 0 || agent->slot == G_MAXUINT ||
			    !kl_agent_table_reader_read(bench.reader, agent->slot, &record) ||
			    record.operational_state != BENCH_STATE_INVALID)
				continue;
			{
				gdouble ms = (gdouble)(bench_realtime_us() - *at) / 1000.0;
				g_array_append_val(latencies, ms);
			}
			*at = 0;
			pending--;
		}
		if (next == count && (pending == 0 || g_get_monotonic_time() > deadline))
			break;
		g_usleep(1000);
	}
	*undetected = pending;
	g_array_sort(latencies, bench_compare_double);
	return latencies;
}

/* ---- main ----------------------------------------------------------------- */

static guint
bench_sim_capacity(void)
{
	struct rlimit limit;

	/* one listening socket per agent, plus the verifier's connections */
	if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_max == RLIM_INFINITY)
		return 15000;
	return limit.rlim_max > 4096 ? (guint)MIN(limit.rlim_max - 3072, 60000) : 1000;
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GArray) steps = g_array_new(FALSE, TRUE, sizeof(BenchStep));
	g_autoptr(GArray) latencies = NULL;
	g_autofree gchar *client_cert = NULL;
	g_autofree gchar *client_key = NULL;
	g_autofree gchar *ca_cert = NULL;
	g_autoptr(GTlsDatabase) ca = NULL;
	guint budget = bench_env_uint("KL_BENCH_SECONDS", 600);
	guint window = bench_env_uint("KL_BENCH_WINDOW", 10);
	guint injections = bench_env_uint("KL_BENCH_INJECTIONS", 200);
	guint max_agents = MIN(bench_env_uint("KL_BENCH_MAX_AGENTS", 12000), bench_sim_capacity());
	guint enrolled = 0, sustained_n = 0, undetected = 0;
	gint64 started = g_get_monotonic_time();
	gdouble last_step_s = 0;
	cpu_set_t verifier_cpus, sim_cpus;
	glong n_cpus = sysconf(_SC_NPROCESSORS_ONLN);
	gboolean ok = TRUE;

	if (argc < 4) {
		g_printerr("usage: %s KEYLIME_VERIFIER VERIFIER_CONF|'' KL_FLEET_SIM\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	CPU_ZERO(&verifier_cpus);
	CPU_ZERO(&sim_cpus);
	CPU_SET(0, &verifier_cpus);
	for (glong cpu = 1; cpu < n_cpus; cpu++)
		CPU_SET((gint)cpu, &sim_cpus);
	if (n_cpus < 2)
		CPU_SET(0, &sim_cpus);
	/* the driver polls the table and talks REST beside the simulator */
	sched_setaffinity(0, sizeof(sim_cpus), &sim_cpus);

	bench.dir = kl_test_dir_new();
	bench.enrol_retry = g_array_new(FALSE, FALSE, sizeof(guint));
	bench.keylime_dir = kl_test_dir_build(bench.dir, "keylime", NULL);
	bench.policy_path = kl_test_dir_build(bench.dir, "policy.json", NULL);
	if (g_mkdir(bench.keylime_dir, 0700) != 0)
		g_error("%s: %s", bench.keylime_dir, g_strerror(errno));

	/* the baseline first, while the machine is quiet */
	bench.verify_rate = bench_baseline_verify();
	g_print("# fleet benchmark: keylime_verifier on CPU 0, kl-fleet-sim on CPU 1-%ld; "
		"quote_interval %g s, PCR 10 + IMA; window %u s per step; budget %u s; "
		"up to %u agents; directory %s\n",
		n_cpus - 1,
		BENCH_INTERVAL,
		window,
		budget,
		max_agents,
		kl_test_dir_get_path(bench.dir));
	g_print("baseline: OpenSSL ECDSA P-256 verify %8.0f/s on one core "
		"(%.0f agents at %g s if a quote cost one verify)\n",
		bench.verify_rate,
		bench.verify_rate * BENCH_INTERVAL,
		BENCH_INTERVAL);

	bench_make_ca();
	ca_cert = g_build_filename(bench.ca_dir, "cacert.crt", NULL);
	client_cert = g_build_filename(bench.ca_dir, "client-cert.crt", NULL);
	client_key = g_build_filename(bench.ca_dir, "client-private.pem", NULL);
	bench.client_cert = kl_http_tls_certificate_new(client_cert, client_key, &error);
	if (bench.client_cert == NULL)
		g_error("%s", error->message);
	ca = kl_http_tls_database_new(ca_cert, &error);
	if (ca == NULL)
		g_error("%s", error->message);
	bench.session = soup_session_new_with_options("tls-database",
						      ca,
						      "max-conns",
						      (gint)BENCH_ENROL_PARALLEL,
						      "max-conns-per-host",
						      (gint)BENCH_ENROL_PARALLEL,
						      "timeout",
						      120,
						      NULL);

	bench_sim_start(argv[3], max_agents, &sim_cpus);
	g_print("# kl-fleet-sim pid %s: %u agents ready\n", bench.sim.pid, max_agents);
	bench_verifier_start(argv[1], argv[2][0] != '\0' ? argv[2] : NULL, &verifier_cpus);
	bench_wait_for_verifier();
	bench_open_table();
	g_print("# keylime_verifier pid %s on %s, RSS %.1f MB with no agents\n",
		bench.verifier.pid,
		bench.base_url,
		bench_process_rss(&bench.verifier) / 1048576.0);
	if (!bench_post_policy())
		ok = FALSE;

	for (guint s = 0; ok && s < G_N_ELEMENTS(bench_steps); s++) {
		BenchStep step = {0};
		gdouble elapsed = (gdouble)(g_get_monotonic_time() - started) / G_USEC_PER_SEC;

		/* a fleet smaller than the first step: one step of its size */
		if (bench_steps[s] > max_agents && (s > 0 || max_agents == 0))
			break;
		/* the next step costs at least the last one again */
		if (s > 0 && elapsed + 2 * last_step_s > budget) {
			g_print("# stopping before N=%u: the time budget (KL_BENCH_SECONDS=%u)\n",
				bench_steps[s],
				budget);
			break;
		}
		step.n = MIN(bench_steps[s], max_agents);
		if (!bench_step_run(&step, enrolled, window)) {
			ok = FALSE;
			break;
		}
		enrolled = step.n;
		last_step_s =
			(gdouble)(g_get_monotonic_time() - started) / G_USEC_PER_SEC - elapsed;
		bench_step_print(&step);
		g_array_append_val(steps, step);
		if (step.n == 1000)
			bench.rss_1k = step.rss;
		if (step.n == 10000)
			bench.rss_10k = step.rss;
		if (!step.sustained)
			break;
		sustained_n = step.n;
	}

	/* detection on the largest fleet sustained, not an overloaded one */
	if (ok && sustained_n > 0 && enrolled > sustained_n) {
		g_print("# deleting agents %u to %u, then %g s to settle\n",
			sustained_n,
			enrolled - 1,
			3 * BENCH_INTERVAL);
		ok = bench_unenrol(sustained_n, enrolled);
		enrolled = sustained_n;
		g_usleep((gulong)(3 * BENCH_INTERVAL * G_USEC_PER_SEC));
	}
	if (ok && enrolled > 0) {
		latencies = bench_detect(enrolled, injections, &undetected);
		g_print("detection at N=%u over %u injections: p50 %.0f ms, p99 %.0f ms, max %.0f "
			"ms; %u not detected\n",
			enrolled,
			latencies->len + undetected,
			bench_percentile(latencies, 0.50),
			bench_percentile(latencies, 0.99),
			bench_percentile(latencies, 1.0),
			undetected);
	}

	g_print("\n# summary (baseline: OpenSSL ECDSA P-256 verify %.0f/s on one core)\n",
		bench.verify_rate);
	g_print("largest N sustained on one core: %u   (%.2f of the verify-bound %.0f); "
		"target >= %u: %s\n",
		sustained_n,
		sustained_n / (bench.verify_rate * BENCH_INTERVAL),
		bench.verify_rate * BENCH_INTERVAL,
		BENCH_TARGET_AGENTS,
		bench_verdict(sustained_n >= BENCH_TARGET_AGENTS));
	if (latencies != NULL)
		g_print("detection latency p50 %.0f ms, p99 %.0f ms; target p99 <= %.0f ms: %s\n",
			bench_percentile(latencies, 0.50),
			bench_percentile(latencies, 0.99),
			BENCH_TARGET_DETECT,
			bench_verdict(undetected == 0 && latencies->len > 0 &&
				      bench_percentile(latencies, 0.99) <= BENCH_TARGET_DETECT));
	if (bench.rss_1k > 0 && bench.rss_10k > 0) {
		gdouble slope_kb = (gdouble)(bench.rss_10k - bench.rss_1k) / 9000.0 / 1024.0;
		g_print("RSS %.1f MB at 1k, %.1f MB at 10k: %.2f KB per agent; target <= %.0f KB: "
			"%s\n",
			bench.rss_1k / 1048576.0,
			bench.rss_10k / 1048576.0,
			slope_kb,
			BENCH_TARGET_KB,
			bench_verdict(slope_kb <= BENCH_TARGET_KB));
	} else if (steps->len >= 2) {
		const BenchStep *first = &g_array_index(steps, BenchStep, 0);
		const BenchStep *last = &g_array_index(steps, BenchStep, steps->len - 1);
		gdouble slope_kb =
			(gdouble)(last->rss - first->rss) / (last->n - first->n) / 1024.0;
		g_print("RSS %.1f MB at %u, %.1f MB at %u (10k not reached): %.2f KB per agent; "
			"target <= %.0f KB: %s\n",
			first->rss / 1048576.0,
			first->n,
			last->rss / 1048576.0,
			last->n,
			slope_kb,
			BENCH_TARGET_KB,
			bench_verdict(slope_kb <= BENCH_TARGET_KB));
	}

	if (!ok) {
		bench_dump_log(&bench.verifier, "keylime_verifier");
		bench_dump_log(&bench.sim, "kl-fleet-sim");
	}
	if (bench.sim_in != NULL)
		g_output_stream_close(bench.sim_in, NULL, NULL);
	bench_process_stop(&bench.verifier);
	bench_process_stop(&bench.sim);
	g_clear_pointer(&bench.reader, kl_agent_table_reader_close);
	g_clear_pointer(&bench.agents, g_ptr_array_unref);
	g_clear_object(&bench.sim_out);
	g_clear_object(&bench.session);
	g_clear_object(&bench.client_cert);
	g_free(bench.verifier.log_path);
	g_free(bench.verifier.pid);
	g_free(bench.sim.log_path);
	g_free(bench.sim.pid);
	g_free(bench.base_url);
	g_free(bench.shm_name);
	g_free(bench.ca_dir);
	g_free(bench.keylime_dir);
	g_free(bench.policy_path);
	g_free(bench.enrol_failure);
	g_array_unref(bench.enrol_retry);
	kl_test_dir_free(bench.dir);
	return ok ? 0 : 1;
}
