/*
 * Benchmark of keylime_registrar: registrations + activations per second
 * of the real daemon (its path is argv[1], registrar.conf argv[2]) driven
 * by a software fleet.  Each client thread owns a few KlTpmSoft identities
 * (mostly ECC P-256 EKs, whose ActivateCredential is cheap for the client,
 * and one RSA-2048 EK) and one plain HTTP/1.1 keep-alive connection; each
 * pair is a full registration under a fresh agent id: POST
 * /v2.6/agents/{id}, ActivateCredential of the blob, auth_tag, PUT
 * /v2.6/agents/{id}/activate, both 200.
 *
 * Phase A runs with no other connection, phase B with KL_BENCH_IDLE
 * (1000) idle keep-alive connections from 127.0.1.1 onwards, one per
 * address (the server bounds connections per IP), each having done one
 * GET /version so that the server has accepted it.  The targets: A >=
 * 2000 pairs/s and B at most 10 % below A.  The baselines, measured in
 * the same run before the daemon starts: kl_makecredential() plus one
 * sqlite commit (synchronous=FULL, as the daemon's) in-process, and the
 * daemon's logic (KlRegistrar register + activate, two commits) without
 * HTTP.  At the end the daemon is stopped and its database must hold
 * exactly as many active agents as pairs were counted.
 *
 * Environment: KL_BENCH_SECONDS (5) per phase, KL_BENCH_WARMUP (1),
 * KL_BENCH_THREADS (4), KL_BENCH_IDLE (1000), KL_TEST_KEEP=1 keeps the
 * daemon's directory.  Exit 1 only on a functional failure; a missed
 * target is reported, not failed.
 *
 * Run: meson test -C build --benchmark --suite bench kl-bench-registrar -v
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "kl-makecredential.h"
#include "kl-registrar.h"
#include "kl-store.h"
#include "kl-test-dir.h"
#include "kl-tpm-soft.h"

#define BENCH_ECC_PER_THREAD  7u /* and one RSA EK: 1 pair in 8 uses RSA */
#define BENCH_RSA_PER_THREAD  1u
#define BENCH_POOL_PER_THREAD (BENCH_ECC_PER_THREAD + BENCH_RSA_PER_THREAD)
#define BENCH_MAX_RESPONSE    (1024 * 1024)
#define BENCH_IDLE_PER_SUBNET 250u /* 127.0.N.1 .. 127.0.N.250 */
#define BENCH_TARGET_RATE     2000.0
#define BENCH_TARGET_DROP     0.10

typedef struct {
	KlTpm *tpm;
	gchar *body; /* the registration's JSON, the same for every agent id */
	gboolean rsa;
} BenchIdentity;

/* one blocking HTTP/1.1 keep-alive connection */
typedef struct {
	GSocket *socket;
	GByteArray *buf; /* received and not yet consumed */
} BenchConn;

typedef struct {
	guint index;
	BenchIdentity *pool; /* BENCH_POOL_PER_THREAD, this thread's */
	guint next;
	/* this phase */
	guint64 pairs;
	guint64 rsa_pairs;
	gint64 post_us;
	gint64 client_us;
	gint64 put_us;
	gchar *failure;
} BenchWorker;

static struct {
	guint16 port;
	gint stop;
	gint failed;
	gint next_id;
	gint completed;
} bench;

static guint
bench_env_uint(const gchar *name, guint fallback, guint min, guint max)
{
	const gchar *text = g_getenv(name);
	guint64 value;

	if (text == NULL || *text == '\0')
		return fallback;
	if (!g_ascii_string_to_unsigned(text, 10, min, max, &value, NULL))
		g_error("%s=%s: expected an integer in [%u, %u]", name, text, min, max);
	return (guint)value;
}

/* ---- a small HTTP/1.1 client ---- */

static void
bench_conn_free(BenchConn *conn)
{
	if (conn == NULL)
		return;
	if (conn->socket != NULL)
		g_socket_close(conn->socket, NULL);
	g_clear_object(&conn->socket);
	g_byte_array_unref(conn->buf);
	g_free(conn);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(BenchConn, bench_conn_free)

/* From @source (an IPv4 literal, or NULL: the kernel's choice) to the agent port. */
static BenchConn *
bench_conn_new(const gchar *source, GError **error)
{
	g_autoptr(BenchConn) conn = g_new0(BenchConn, 1);
	g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) address = g_inet_socket_address_new(loopback, bench.port);

	conn->buf = g_byte_array_new();
	conn->socket = g_socket_new(G_SOCKET_FAMILY_IPV4,
				    G_SOCKET_TYPE_STREAM,
				    G_SOCKET_PROTOCOL_TCP,
				    error);
	if (conn->socket == NULL)
		return NULL;
	if (!g_socket_set_option(conn->socket, IPPROTO_TCP, TCP_NODELAY, 1, error))
		return NULL;
	if (source != NULL) {
		g_autoptr(GSocketAddress) local = g_inet_socket_address_new_from_string(source, 0);
		if (local == NULL) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s", source);
			return NULL;
		}
		if (!g_socket_bind(conn->socket, local, FALSE, error)) {
			g_prefix_error(error, "bind %s: ", source);
			return NULL;
		}
	}
	if (!g_socket_connect(conn->socket, address, NULL, error))
		return NULL;
	return g_steal_pointer(&conn);
}

static gboolean
bench_conn_send_all(BenchConn *conn, const gchar *data, gsize len, GError **error)
{
	gsize done = 0;

	while (done < len) {
		gssize n = g_socket_send(conn->socket, data + done, len - done, NULL, error);
		if (n < 0)
			return FALSE;
		done += (gsize)n;
	}
	return TRUE;
}

static gboolean
bench_conn_fill(BenchConn *conn, GError **error)
{
	guint8 chunk[16384];
	gssize n;

	if (conn->buf->len > BENCH_MAX_RESPONSE) {
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, "response too long");
		return FALSE;
	}
	n = g_socket_receive(conn->socket, (gchar *)chunk, sizeof(chunk), NULL, error);
	if (n < 0)
		return FALSE;
	if (n == 0) {
		g_set_error_literal(error,
				    G_IO_ERROR,
				    G_IO_ERROR_CONNECTION_CLOSED,
				    "the server closed the connection");
		return FALSE;
	}
	g_byte_array_append(conn->buf, chunk, (guint)n);
	return TRUE;
}

/* The value of header @name in the header block @head, or NULL. */
static gchar *
bench_header(const gchar *head, const gchar *name)
{
	g_auto(GStrv) lines = g_strsplit(head, "\r\n", -1);
	gsize name_len = strlen(name);

	for (guint i = 1; lines[i] != NULL; i++) {
		if (g_ascii_strncasecmp(lines[i], name, name_len) == 0 && lines[i][name_len] == ':')
			return g_strstrip(g_strdup(lines[i] + name_len + 1));
	}
	return NULL;
}

/* One request and its response; the status and the body (text). */
static gboolean
bench_conn_request(BenchConn *conn,
		   const gchar *method,
		   const gchar *path,
		   const gchar *body,
		   guint *status,
		   gchar **response,
		   GError **error)
{
	g_autofree gchar *request = NULL;
	g_autofree gchar *head = NULL;
	g_autofree gchar *length_text = NULL;
	g_autofree gchar *encoding = NULL;
	const gchar *end = NULL;
	gsize body_len = body != NULL ? strlen(body) : 0;
	gsize head_len;
	guint64 length = 0;

	if (body != NULL)
		request = g_strdup_printf("%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
					  "Content-Type: application/json\r\n"
					  "Content-Length: %" G_GSIZE_FORMAT "\r\n\r\n%s",
					  method,
					  path,
					  bench.port,
					  body_len,
					  body);
	else
		request = g_strdup_printf("%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n\r\n",
					  method,
					  path,
					  bench.port);
	if (!bench_conn_send_all(conn, request, strlen(request), error))
		return FALSE;

	while (conn->buf->len == 0 ||
	       (end = g_strstr_len((const gchar *)conn->buf->data, conn->buf->len, "\r\n\r\n")) ==
		       NULL) {
		if (!bench_conn_fill(conn, error))
			return FALSE;
	}
	head_len = (gsize)(end - (const gchar *)conn->buf->data) + 4;
	head = g_strndup((const gchar *)conn->buf->data, head_len - 4);
	if (!g_str_has_prefix(head, "HTTP/1.1 ") || strlen(head) < 12) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "bad status line: %.40s", head);
		return FALSE;
	}
	*status = (guint)g_ascii_strtoull(head + 9, NULL, 10);
	encoding = bench_header(head, "Transfer-Encoding");
	if (encoding != NULL) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_NOT_SUPPORTED,
			    "Transfer-Encoding %s",
			    encoding);
		return FALSE;
	}
	length_text = bench_header(head, "Content-Length");
	if (length_text != NULL &&
	    !g_ascii_string_to_unsigned(length_text, 10, 0, BENCH_MAX_RESPONSE, &length, error))
		return FALSE;
	while (conn->buf->len < head_len + length) {
		if (!bench_conn_fill(conn, error))
			return FALSE;
	}
	if (response != NULL)
		*response = g_strndup((const gchar *)conn->buf->data + head_len, (gsize)length);
	g_byte_array_remove_range(conn->buf, 0, (guint)(head_len + length));
	return TRUE;
}

/* results.blob of a registration's envelope, decoded */
static GBytes *
bench_parse_blob(const gchar *text, GError **error)
{
	g_autoptr(JsonParser) parser = json_parser_new_immutable();
	JsonObject *root;
	JsonObject *results;
	const gchar *blob;
	guchar *data;
	gsize len = 0;

	if (!json_parser_load_from_data(parser, text, -1, error))
		return NULL;
	if (!JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, "not an object");
		return NULL;
	}
	root = json_node_get_object(json_parser_get_root(parser));
	results = json_object_get_object_member(root, "results");
	blob = results != NULL ? json_object_get_string_member_with_default(results, "blob", NULL)
			       : NULL;
	if (blob == NULL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "no results.blob in %s", text);
		return NULL;
	}
	data = g_base64_decode(blob, &len);
	return g_bytes_new_take(data, len);
}

/* ---- the fleet ---- */

static BenchIdentity *
bench_pool_new(guint n_threads)
{
	BenchIdentity *pool = g_new0(BenchIdentity, n_threads * BENCH_POOL_PER_THREAD);

	for (guint i = 0; i < n_threads * BENCH_POOL_PER_THREAD; i++) {
		g_autoptr(GError) error = NULL;
		GBytes *ek;
		GBytes *ak;
		g_autofree gchar *ek_b64 = NULL;
		g_autofree gchar *ak_b64 = NULL;
		KlTpmOptions options;

		kl_tpm_options_init(&options);
		pool[i].rsa = i % BENCH_POOL_PER_THREAD >= BENCH_ECC_PER_THREAD;
		options.enc_alg = pool[i].rsa ? TPM2_ALG_RSA : TPM2_ALG_ECC;
		options.sign_alg = pool[i].rsa ? TPM2_ALG_RSASSA : TPM2_ALG_ECDSA;
		options.hash_alg = TPM2_ALG_SHA256;
		pool[i].tpm = kl_tpm_soft_new(&options, &error);
		if (pool[i].tpm == NULL)
			g_error("KlTpmSoft: %s", error->message);
		ek = kl_tpm_get_ek_public(pool[i].tpm);
		ak = kl_tpm_get_ak_public(pool[i].tpm);
		ek_b64 = g_base64_encode(g_bytes_get_data(ek, NULL), g_bytes_get_size(ek));
		ak_b64 = g_base64_encode(g_bytes_get_data(ak, NULL), g_bytes_get_size(ak));
		pool[i].body = g_strdup_printf("{\"ek_tpm\": \"%s\", \"aik_tpm\": \"%s\", "
					       "\"ip\": \"127.0.0.1\", \"port\": 9002, "
					       "\"mtls_cert\": \"disabled\"}",
					       ek_b64,
					       ak_b64);
	}
	return pool;
}

static void
bench_pool_free(BenchIdentity *pool, guint n)
{
	for (guint i = 0; i < n; i++) {
		g_object_unref(pool[i].tpm);
		g_free(pool[i].body);
	}
	g_free(pool);
}

/* The agent's side of a registration: the auth_tag for @blob. */
static gchar *
bench_client_auth_tag(BenchIdentity *identity, const gchar *agent_id, GBytes *blob, GError **error)
{
	g_autoptr(KlSecret) secret = NULL;
	g_autofree gchar *challenge = NULL;

	secret = kl_tpm_activate_credential(identity->tpm, blob, error);
	if (secret == NULL)
		return NULL;
	challenge = g_strndup((const gchar *)kl_secret_get_data(secret, NULL),
			      kl_secret_get_size(secret));
	return kl_makecredential_auth_tag(challenge, agent_id, error);
}

static gboolean
bench_worker_pair(BenchWorker *worker, BenchConn *conn, GError **error)
{
	BenchIdentity *identity = &worker->pool[worker->next++ % BENCH_POOL_PER_THREAD];
	guint n = (guint)g_atomic_int_add(&bench.next_id, 1);
	g_autofree gchar *agent_id = g_strdup_printf("bench-%u", n);
	g_autofree gchar *path = g_strdup_printf("/v2.6/agents/%s", agent_id);
	g_autofree gchar *activate_path = g_strdup_printf("/v2.6/agents/%s/activate", agent_id);
	g_autofree gchar *response = NULL;
	g_autofree gchar *auth_tag = NULL;
	g_autofree gchar *activate_body = NULL;
	g_autoptr(GBytes) blob = NULL;
	guint status = 0;
	gint64 t0 = g_get_monotonic_time();
	gint64 t1;
	gint64 t2;

	if (!bench_conn_request(conn, "POST", path, identity->body, &status, &response, error))
		return FALSE;
	if (status != 200) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_FAILED,
			    "POST %s: %u %s",
			    path,
			    status,
			    response);
		return FALSE;
	}
	t1 = g_get_monotonic_time();
	blob = bench_parse_blob(response, error);
	if (blob == NULL)
		return FALSE;
	auth_tag = bench_client_auth_tag(identity, agent_id, blob, error);
	if (auth_tag == NULL)
		return FALSE;
	activate_body = g_strdup_printf("{\"auth_tag\": \"%s\"}", auth_tag);
	g_clear_pointer(&response, g_free);
	t2 = g_get_monotonic_time();
	if (!bench_conn_request(conn,
				"PUT",
				activate_path,
				activate_body,
				&status,
				&response,
				error))
		return FALSE;
	if (status != 200) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_FAILED,
			    "PUT %s: %u %s",
			    activate_path,
			    status,
			    response);
		return FALSE;
	}
	worker->post_us += t1 - t0;
	worker->client_us += t2 - t1;
	worker->put_us += g_get_monotonic_time() - t2;
	worker->pairs++;
	if (identity->rsa)
		worker->rsa_pairs++;
	g_atomic_int_inc(&bench.completed);
	return TRUE;
}

static gpointer
bench_worker_run(gpointer user_data)
{
	BenchWorker *worker = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(BenchConn) conn = bench_conn_new(NULL, &error);

	if (conn == NULL) {
		worker->failure = g_strdup_printf("connect: %s", error->message);
		g_atomic_int_set(&bench.failed, 1);
		return NULL;
	}
	/* a started pair is always finished: the database count stays exact */
	while (!g_atomic_int_get(&bench.stop) && !g_atomic_int_get(&bench.failed)) {
		if (!bench_worker_pair(worker, conn, &error)) {
			worker->failure = g_strdup(error->message);
			g_atomic_int_set(&bench.failed, 1);
			return NULL;
		}
	}
	return NULL;
}

/* ---- the daemon ---- */

typedef struct {
	GSubprocess *process;
	gchar *log_path;
	gchar *keylime_dir;
} BenchDaemon;

static gchar *
bench_log_find_port(const gchar *log, const gchar *what)
{
	g_autofree gchar *needle = g_strdup_printf("listening for %s on ", what);
	const gchar *at = strstr(log, needle);
	const gchar *scheme;
	const gchar *colon;

	if (at == NULL)
		return NULL;
	at += strlen(needle);
	scheme = strstr(at, "://");
	if (strchr(at, '\n') == NULL || scheme == NULL)
		return NULL;
	colon = strchr(scheme + 3, ':');
	if (colon == NULL)
		return NULL;
	return g_strndup(colon + 1, strspn(colon + 1, "0123456789"));
}

/* in the child: the daemon must not outlive a benchmark that is killed */
static void
bench_daemon_child_setup(gpointer user_data)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static void
bench_daemon_start(BenchDaemon *daemon, const gchar *registrar, const gchar *config)
{
	g_autoptr(GSubprocessLauncher) launcher =
		g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
	g_autoptr(GError) error = NULL;
	gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;

	g_subprocess_launcher_setenv(launcher, "KEYLIME_DIR", daemon->keylime_dir, TRUE);
	g_subprocess_launcher_setenv(launcher, "KEYLIME_REGISTRAR_CONFIG", config, TRUE);
	g_subprocess_launcher_setenv(launcher, "KEYLIME_REGISTRAR_IP", "127.0.0.1", TRUE);
	g_subprocess_launcher_setenv(launcher, "KEYLIME_REGISTRAR_PORT", "0", TRUE);
	g_subprocess_launcher_setenv(launcher, "KEYLIME_REGISTRAR_TLS_PORT", "0", TRUE);
	g_subprocess_launcher_setenv(launcher, "KEYLIME_REGISTRAR_TLS_DIR", "generate", TRUE);
	g_subprocess_launcher_set_stderr_file_path(launcher, daemon->log_path);
	g_subprocess_launcher_set_stdout_file_path(launcher, "/dev/null");
	g_subprocess_launcher_set_child_setup(launcher, bench_daemon_child_setup, NULL, NULL);
	daemon->process =
		g_subprocess_launcher_spawn(launcher, &error, registrar, "--no-dbus", NULL);
	if (daemon->process == NULL)
		g_error("%s: %s", registrar, error->message);

	for (;;) {
		g_autofree gchar *log = NULL;
		g_autofree gchar *port = NULL;
		g_autofree gchar *tls_port = NULL;

		if (!g_file_get_contents(daemon->log_path, &log, NULL, NULL))
			log = g_strdup("");
		port = bench_log_find_port(log, "agents");
		tls_port = bench_log_find_port(log, "administrators");
		if (port != NULL && tls_port != NULL) {
			bench.port = (guint16)g_ascii_strtoull(port, NULL, 10);
			return;
		}
		if (strstr(log, "keylime_registrar: ") != NULL || g_get_monotonic_time() > deadline)
			g_error("keylime_registrar did not start:\n%s", log);
		g_usleep(20000);
	}
}

/* utime + stime of the daemon, in seconds */
static gdouble
bench_daemon_cpu(BenchDaemon *daemon)
{
	g_autofree gchar *path =
		g_strdup_printf("/proc/%s/stat", g_subprocess_get_identifier(daemon->process));
	g_autofree gchar *stat = NULL;
	g_auto(GStrv) fields = NULL;
	const gchar *after;

	if (!g_file_get_contents(path, &stat, NULL, NULL))
		return 0;
	/* fields after "(comm)": state is field 3, utime 14, stime 15 */
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

/* the daemon's main-loop thread: seconds waiting for a CPU while runnable */
static gdouble
bench_daemon_runqueue(BenchDaemon *daemon)
{
	g_autofree gchar *path =
		g_strdup_printf("/proc/%s/schedstat", g_subprocess_get_identifier(daemon->process));
	g_autofree gchar *stat = NULL;
	g_auto(GStrv) fields = NULL;

	if (!g_file_get_contents(path, &stat, NULL, NULL))
		return 0;
	fields = g_strsplit(stat, " ", -1);
	if (g_strv_length(fields) < 2)
		return 0;
	return (gdouble)g_ascii_strtoull(fields[1], NULL, 10) / 1e9;
}

static gdouble
bench_self_cpu(void)
{
	struct rusage usage;

	getrusage(RUSAGE_SELF, &usage);
	return (gdouble)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
	       (gdouble)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

static gboolean
bench_daemon_stop(BenchDaemon *daemon, GError **error)
{
	g_subprocess_send_signal(daemon->process, SIGTERM);
	if (!g_subprocess_wait(daemon->process, NULL, error))
		return FALSE;
	if (!g_subprocess_get_if_exited(daemon->process) ||
	    g_subprocess_get_exit_status(daemon->process) != 0) {
		g_set_error_literal(error,
				    G_IO_ERROR,
				    G_IO_ERROR_FAILED,
				    "keylime_registrar did not exit cleanly on SIGTERM");
		return FALSE;
	}
	return TRUE;
}

/* agents in the daemon's database, and the active ones among them */
static gboolean
bench_count_agents(const gchar *keylime_dir, gint64 *total, gint64 *active, GError **error)
{
	g_autofree gchar *path = g_build_filename(keylime_dir, KL_STORE_REGISTRAR_FILE, NULL);
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	gboolean ok = FALSE;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db,
			       "SELECT COUNT(*), COALESCE(SUM(active = 1), 0) FROM registrarmain",
			       -1,
			       &stmt,
			       NULL) == SQLITE_OK &&
	    sqlite3_step(stmt) == SQLITE_ROW) {
		*total = sqlite3_column_int64(stmt, 0);
		*active = sqlite3_column_int64(stmt, 1);
		ok = TRUE;
	} else {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_FAILED,
			    "%s: %s",
			    path,
			    sqlite3_errmsg(db));
	}
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return ok;
}

/* ---- phases ---- */

typedef struct {
	gdouble rate;
	guint64 pairs;
	guint64 rsa_pairs;
	gdouble post_us;
	gdouble client_us;
	gdouble put_us;
	gdouble daemon_cpu;	 /* share of one core */
	gdouble daemon_runqueue; /* share of the time runnable but not running */
	gdouble client_cpu;	 /* cores */
} BenchPhase;

static gboolean
bench_phase_run(BenchIdentity *pool,
		guint n_threads,
		guint warmup,
		guint seconds,
		BenchDaemon *daemon,
		BenchPhase *phase)
{
	g_autofree BenchWorker *workers = g_new0(BenchWorker, n_threads);
	g_autofree GThread **threads = g_new0(GThread *, n_threads);
	gboolean ok = TRUE;
	gint c0;
	gint c1;
	gint64 t0;
	gint64 t1;
	gdouble d0;
	gdouble s0;
	gdouble q0;

	*phase = (BenchPhase){0};
	g_atomic_int_set(&bench.stop, 0);
	for (guint i = 0; i < n_threads; i++) {
		workers[i].index = i;
		workers[i].pool = &pool[i * BENCH_POOL_PER_THREAD];
		threads[i] = g_thread_new("bench-client", bench_worker_run, &workers[i]);
	}
	g_usleep((gulong)warmup * G_USEC_PER_SEC);
	c0 = g_atomic_int_get(&bench.completed);
	t0 = g_get_monotonic_time();
	d0 = bench_daemon_cpu(daemon);
	q0 = bench_daemon_runqueue(daemon);
	s0 = bench_self_cpu();
	for (guint64 waited = 0; waited < (guint64)seconds * 10 && !g_atomic_int_get(&bench.failed);
	     waited++)
		g_usleep(G_USEC_PER_SEC / 10);
	c1 = g_atomic_int_get(&bench.completed);
	t1 = g_get_monotonic_time();
	phase->daemon_cpu = (bench_daemon_cpu(daemon) - d0) * G_USEC_PER_SEC / (gdouble)(t1 - t0);
	phase->daemon_runqueue =
		(bench_daemon_runqueue(daemon) - q0) * G_USEC_PER_SEC / (gdouble)(t1 - t0);
	phase->client_cpu = (bench_self_cpu() - s0) * G_USEC_PER_SEC / (gdouble)(t1 - t0);
	g_atomic_int_set(&bench.stop, 1);

	phase->rate = (gdouble)(c1 - c0) * G_USEC_PER_SEC / (gdouble)(t1 - t0);
	for (guint i = 0; i < n_threads; i++) {
		g_thread_join(threads[i]);
		if (workers[i].failure != NULL) {
			g_printerr("client %u: %s\n", i, workers[i].failure);
			g_free(workers[i].failure);
			ok = FALSE;
		}
		phase->pairs += workers[i].pairs;
		phase->rsa_pairs += workers[i].rsa_pairs;
		phase->post_us += (gdouble)workers[i].post_us;
		phase->client_us += (gdouble)workers[i].client_us;
		phase->put_us += (gdouble)workers[i].put_us;
	}
	if (phase->pairs > 0) {
		phase->post_us /= (gdouble)phase->pairs;
		phase->client_us /= (gdouble)phase->pairs;
		phase->put_us /= (gdouble)phase->pairs;
	}
	return ok;
}

/* @n keep-alive connections from distinct 127.0.N.M addresses, each after one GET /version. */
static GPtrArray *
bench_idle_open(guint n, GError **error)
{
	g_autoptr(GPtrArray) conns =
		g_ptr_array_new_with_free_func((GDestroyNotify)bench_conn_free);

	for (guint i = 0; i < n; i++) {
		g_autofree gchar *source = g_strdup_printf("127.0.%u.%u",
							   1 + i / BENCH_IDLE_PER_SUBNET,
							   1 + i % BENCH_IDLE_PER_SUBNET);
		g_autoptr(BenchConn) conn = bench_conn_new(source, error);
		guint status = 0;

		if (conn == NULL)
			return NULL;
		if (!bench_conn_request(conn, "GET", "/version", NULL, &status, NULL, error)) {
			g_prefix_error(error, "idle connection %u from %s: ", i, source);
			return NULL;
		}
		if (status != 200) {
			g_set_error(error,
				    G_IO_ERROR,
				    G_IO_ERROR_FAILED,
				    "GET /version from %s: %u",
				    source,
				    status);
			return NULL;
		}
		g_ptr_array_add(conns, g_steal_pointer(&conn));
	}
	return g_steal_pointer(&conns);
}

/* those the server has not closed (nothing readable, no hang-up) */
static guint
bench_idle_count_open(GPtrArray *conns)
{
	guint open = 0;

	for (guint i = 0; i < conns->len; i++) {
		BenchConn *conn = g_ptr_array_index(conns, i);
		if (g_socket_condition_check(conn->socket, G_IO_IN | G_IO_HUP | G_IO_ERR) == 0)
			open++;
	}
	return open;
}

/* ---- baselines, in-process ---- */

/* kl_makecredential() + one commit of the agent's row: pairs/s */
static gdouble
bench_baseline_raw(BenchIdentity *pool,
		   guint pool_len,
		   const gchar *dir,
		   guint seconds,
		   gdouble *mc_us,
		   gdouble *commit_us)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = g_build_filename(dir, "baseline-raw.sqlite", NULL);
	g_autoptr(KlRegistrarStore) store = kl_registrar_store_open(path, &error);
	gint64 deadline;
	gint64 start;
	gint64 mc = 0;
	gint64 commit = 0;
	guint n = 0;

	if (store == NULL)
		g_error("baseline store: %s", error->message);
	start = g_get_monotonic_time();
	deadline = start + (gint64)seconds * G_USEC_PER_SEC;
	while (g_get_monotonic_time() < deadline) {
		BenchIdentity *identity = &pool[n % pool_len];
		g_autoptr(KlRegistrarAgent) agent = NULL;
		g_autoptr(KlStoreTransaction) tx = NULL;
		g_autoptr(GBytes) blob = NULL;
		GBytes *ek = kl_tpm_get_ek_public(identity->tpm); /* borrowed */
		GBytes *ak = kl_tpm_get_ak_public(identity->tpm);
		g_autofree gchar *agent_id = g_strdup_printf("raw-%u", n);
		g_autofree gchar *challenge = NULL;
		gint64 t0 = g_get_monotonic_time();
		gint64 t1;

		challenge = kl_makecredential_challenge_new(&error);
		if (challenge == NULL)
			g_error("challenge: %s", error->message);
		blob = kl_makecredential(kl_tpm_get_ek(identity->tpm),
					 kl_tpm_get_ak_name(identity->tpm),
					 (const guint8 *)challenge,
					 KL_MAKECREDENTIAL_CHALLENGE_LEN,
					 &error);
		if (blob == NULL)
			g_error("kl_makecredential: %s", error->message);
		t1 = g_get_monotonic_time();
		agent = kl_registrar_agent_new(agent_id);
		agent->key =
			g_base64_encode((const guchar *)challenge, KL_MAKECREDENTIAL_CHALLENGE_LEN);
		agent->ek_tpm = g_base64_encode(g_bytes_get_data(ek, NULL), g_bytes_get_size(ek));
		agent->aik_tpm = g_base64_encode(g_bytes_get_data(ak, NULL), g_bytes_get_size(ak));
		agent->mtls_cert = g_strdup("disabled");
		agent->ip = g_strdup("127.0.0.1");
		agent->port = 9002;
		agent->regcount = 1;
		tx = kl_store_transaction_begin(kl_registrar_store_get_store(store), &error);
		if (tx == NULL || !kl_registrar_store_put_agent(store, agent, &error) ||
		    !kl_store_transaction_commit(tx, &error))
			g_error("baseline commit: %s", error->message);
		mc += t1 - t0;
		commit += g_get_monotonic_time() - t1;
		n++;
	}
	*mc_us = (gdouble)mc / n;
	*commit_us = (gdouble)commit / n;
	return (gdouble)n * G_USEC_PER_SEC / (gdouble)(g_get_monotonic_time() - start);
}

/* KlRegistrar register + activate (the daemon's logic, no HTTP): pairs/s of
 * the time spent in KlRegistrar */
static gdouble
bench_baseline_logic(BenchIdentity *pool, guint pool_len, const gchar *dir, guint seconds)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = g_build_filename(dir, "baseline-logic.sqlite", NULL);
	KlRegistrarStore *store = kl_registrar_store_open(path, &error);
	g_autoptr(KlRegistrar) registrar = NULL;
	gint64 deadline = g_get_monotonic_time() + (gint64)seconds * G_USEC_PER_SEC;
	gint64 inside = 0;
	guint n = 0;

	if (store == NULL)
		g_error("baseline store: %s", error->message);
	registrar = kl_registrar_new(store, KL_REGISTRAR_TPM_IDENTITY_DEFAULT);
	while (g_get_monotonic_time() < deadline) {
		BenchIdentity *identity = &pool[n % pool_len];
		g_autoptr(JsonParser) parser = json_parser_new_immutable();
		g_autoptr(GBytes) blob = NULL;
		g_autofree gchar *agent_id = g_strdup_printf("logic-%u", n);
		g_autofree gchar *auth_tag = NULL;
		gint64 t0 = g_get_monotonic_time();
		gint64 t1;

		/* the daemon parses each body too */
		if (!json_parser_load_from_data(parser, identity->body, -1, &error))
			g_error("body: %s", error->message);
		blob = kl_registrar_register(registrar,
					     agent_id,
					     json_node_get_object(json_parser_get_root(parser)),
					     &error);
		if (blob == NULL)
			g_error("register: %s", error->message);
		t1 = g_get_monotonic_time();
		auth_tag = bench_client_auth_tag(identity, agent_id, blob, &error);
		if (auth_tag == NULL)
			g_error("client: %s", error->message);
		inside += t1 - t0;
		t0 = g_get_monotonic_time();
		if (!kl_registrar_activate(registrar, agent_id, auth_tag, &error))
			g_error("activate: %s", error->message);
		inside += g_get_monotonic_time() - t0;
		n++;
	}
	return (gdouble)n * G_USEC_PER_SEC / (gdouble)inside;
}

/* The machine may be shared: other runnable tasks skew every rate. */
static void
bench_print_load(const gchar *when)
{
	g_autofree gchar *loadavg = NULL;

	if (!g_file_get_contents("/proc/loadavg", &loadavg, NULL, NULL))
		return;
	g_print("# load average %s: %s (%u CPUs)\n",
		when,
		g_strchomp(loadavg),
		g_get_num_processors());
}

static const gchar *
bench_verdict(gboolean pass)
{
	return pass ? "PASS" : "MISS";
}

static void
bench_phase_print(const gchar *name, const BenchPhase *phase)
{
	g_print("%-34s %8.0f pairs/s   (%" G_GUINT64_FORMAT " pairs, %" G_GUINT64_FORMAT
		" with RSA EKs; daemon CPU %.0f%% of a core, client %.0f%%)\n",
		name,
		phase->rate,
		phase->pairs,
		phase->rsa_pairs,
		phase->daemon_cpu * 100,
		phase->client_cpu * 100);
	g_print("#   daemon main loop: %.0f%% on a CPU, %.0f%% runnable waiting for one, the rest "
		"blocked (fsync) or idle\n",
		phase->daemon_cpu * 100,
		phase->daemon_runqueue * 100);
	/* independent of other load on the machine: what one core could do */
	if (phase->rate > 0 && phase->daemon_cpu > 0)
		g_print("#   daemon CPU per pair %.0f us: at most %.0f pairs/s on one free core\n",
			phase->daemon_cpu * G_USEC_PER_SEC / phase->rate,
			phase->rate / phase->daemon_cpu);
	g_print("#   per pair as the client sees it: POST %.0f us, ActivateCredential + auth_tag "
		"%.0f us, PUT %.0f us\n",
		phase->post_us,
		phase->client_us,
		phase->put_us);
}

int
main(int argc, char **argv)
{
	g_autoptr(KlTestDir) dir = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) idle = NULL;
	BenchDaemon daemon = {0};
	BenchIdentity *pool;
	BenchPhase a = {0};
	BenchPhase b = {0};
	guint seconds = bench_env_uint("KL_BENCH_SECONDS", 5, 1, 50);
	guint warmup = bench_env_uint("KL_BENCH_WARMUP", 1, 0, 60);
	guint n_threads = bench_env_uint("KL_BENCH_THREADS", 4, 1, 256);
	guint n_idle = bench_env_uint("KL_BENCH_IDLE", 1000, 0, 250 * BENCH_IDLE_PER_SUBNET);
	guint idle_open;
	gdouble raw;
	gdouble logic;
	gdouble mc_us = 0;
	gdouble commit_us = 0;
	gdouble ratio;
	gint64 total = 0;
	gint64 active = 0;
	gboolean ok;

	if (argc < 3) {
		g_printerr("usage: %s KEYLIME_REGISTRAR REGISTRAR_CONF\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	dir = kl_test_dir_new();
	daemon.keylime_dir = kl_test_dir_build(dir, "keylime", NULL);
	daemon.log_path = kl_test_dir_build(dir, "registrar.log", NULL);
	if (g_mkdir(daemon.keylime_dir, 0700) != 0)
		g_error("%s: %s", daemon.keylime_dir, g_strerror(errno));

	g_print("# keylime_registrar: register + activate pairs per second; %u client threads, "
		"each with %u ECC P-256 and %u RSA-2048 EKs (1 pair in %u uses RSA),\n"
		"# %u s per phase after %u s of warm-up; database in %s\n",
		n_threads,
		BENCH_ECC_PER_THREAD,
		BENCH_RSA_PER_THREAD,
		BENCH_POOL_PER_THREAD,
		seconds,
		warmup,
		kl_test_dir_get_path(dir));
	bench_print_load("at start");
	pool = bench_pool_new(n_threads);

	/* baselines first, while the CPU is ours alone */
	raw = bench_baseline_raw(pool,
				 n_threads * BENCH_POOL_PER_THREAD,
				 kl_test_dir_get_path(dir),
				 MIN(seconds, 2u),
				 &mc_us,
				 &commit_us);
	logic = bench_baseline_logic(pool,
				     n_threads * BENCH_POOL_PER_THREAD,
				     kl_test_dir_get_path(dir),
				     MIN(seconds, 2u));

	bench_daemon_start(&daemon, argv[1], argv[2]);
	g_print("# keylime_registrar pid %s, agent port %u\n",
		g_subprocess_get_identifier(daemon.process),
		bench.port);
	ok = bench_phase_run(pool, n_threads, warmup, seconds, &daemon, &a);
	if (ok) {
		idle = bench_idle_open(n_idle, &error);
		if (idle == NULL) {
			g_printerr("idle connections: %s\n", error->message);
			g_clear_error(&error);
			ok = FALSE;
		}
	}
	if (ok)
		ok = bench_phase_run(pool, n_threads, warmup, seconds, &daemon, &b);
	idle_open = idle != NULL ? bench_idle_count_open(idle) : 0;
	bench_print_load("at the end");
	g_clear_pointer(&idle, g_ptr_array_unref);

	if (!bench_daemon_stop(&daemon, &error)) {
		g_printerr("%s\n", error->message);
		g_clear_error(&error);
		ok = FALSE;
	}
	if (ok && !bench_count_agents(daemon.keylime_dir, &total, &active, &error)) {
		g_printerr("%s\n", error->message);
		g_clear_error(&error);
		ok = FALSE;
	}

	g_print("%-34s %8.0f pairs/s   (kl_makecredential %.0f us + one commit %.0f us)\n",
		"baseline: makecredential + commit",
		raw,
		mc_us,
		commit_us);
	g_print("%-34s %8.0f pairs/s   (KlRegistrar register + activate, 2 commits, no HTTP)\n",
		"baseline: daemon logic in-process",
		logic);
	bench_phase_print("A: no idle connections", &a);
	bench_phase_print("B: idle connections", &b);
	g_print("#   idle connections from 127.0.1.1 on: %u opened, %u still open at the end\n",
		n_idle,
		idle_open);
	ratio = a.rate > 0 ? b.rate / a.rate : 0;
	g_print("%-34s %8.2f   A/makecredential+commit %.2f, A/daemon logic %.2f\n",
		"ratio B/A",
		ratio,
		raw > 0 ? a.rate / raw : 0,
		logic > 0 ? a.rate / logic : 0);
	g_print("target A >= %.0f pairs/s: %s (%.0f)\n",
		BENCH_TARGET_RATE,
		bench_verdict(a.rate >= BENCH_TARGET_RATE),
		a.rate);
	g_print("target B/A >= %.2f (drop <= %.0f%%): %s (drop %.1f%%)\n",
		1 - BENCH_TARGET_DROP,
		BENCH_TARGET_DROP * 100,
		bench_verdict(ratio >= 1 - BENCH_TARGET_DROP),
		(1 - ratio) * 100);
	if (idle_open < n_idle)
		g_print("# note: the server closed %u idle connections during phase B\n",
			n_idle - idle_open);

	if (ok) {
		gint64 counted = g_atomic_int_get(&bench.completed);
		g_print("database: %" G_GINT64_FORMAT " agents, %" G_GINT64_FORMAT
			" active; pairs counted %" G_GINT64_FORMAT ": %s\n",
			total,
			active,
			counted,
			total == counted && active == counted ? "OK" : "MISMATCH");
		if (total != counted || active != counted)
			ok = FALSE;
	}
	if (!ok) {
		g_autofree gchar *log = NULL;
		if (g_file_get_contents(daemon.log_path, &log, NULL, NULL))
			g_printerr("# registrar log:\n%s", log);
	}
	bench_pool_free(pool, n_threads * BENCH_POOL_PER_THREAD);
	g_clear_object(&daemon.process);
	g_free(daemon.keylime_dir);
	g_free(daemon.log_path);
	return ok ? 0 : 1;
}
