/*
 * Mutual TLS end to end: certificates made by the built keylime_ca (its
 * path is the first argument) and by KlTestCa, a SoupServer set up with
 * kl-http-tls on 127.0.0.1, and asynchronous libsoup clients driven from
 * the same main context (a sync call here would deadlock the server).
 */
#include "config.h"

#include <glib/gstdio.h>

#include "kl-http-tls.h"
#include "kl-test-ca.h"
#include "kl-test-dir.h"
#include "kl-test-wait.h"

#define KL_MTLS_TIMEOUT_MS 20000

/* made once in main(): a keylime_ca directory with localhost and client */
static const gchar *kl_mtls_keylime_ca;
static KlTestDir *kl_mtls_dir;
static gchar *kl_mtls_ca_dir;

typedef struct {
	SoupServer *server;
	gchar *url;
	guint requests;
	gchar *last_peer;
	GPtrArray *sockets; /* of GSocket, one per request served */
} KlMtlsServer;

typedef struct {
	gpointer done;
	GBytes *body;
	GError *error;
	guint status;
} KlMtlsResult;

static gchar *
kl_mtls_ca_path(const gchar *basename)
{
	return g_build_filename(kl_mtls_ca_dir, basename, NULL);
}

static void
kl_mtls_run_keylime_ca(const gchar *const *args)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *conf = kl_test_dir_build(kl_mtls_dir, "ca.conf", NULL);
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	g_auto(GStrv) envp = g_get_environ();
	gint status = -1;

	/* never read the host's /etc/keylime/ca.conf */
	envp = g_environ_setenv(envp, "KEYLIME_CA_CONFIG", conf, TRUE);
	g_ptr_array_add(argv, (gpointer)kl_mtls_keylime_ca);
	g_ptr_array_add(argv, (gpointer) "-d");
	g_ptr_array_add(argv, kl_mtls_ca_dir);
	for (guint i = 0; args[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)args[i]);
	g_ptr_array_add(argv, NULL);
	g_spawn_sync(NULL,
		     (gchar **)argv->pdata,
		     envp,
		     G_SPAWN_DEFAULT,
		     NULL,
		     NULL,
		     &out,
		     &err,
		     &status,
		     &error);
	g_assert_no_error(error);
	if (!g_spawn_check_wait_status(status, &error))
		g_test_message("keylime_ca: %s%s", out, err);
	g_assert_no_error(error);
}

static void
kl_mtls_handler_cb(SoupServer *server,
		   SoupServerMessage *msg,
		   const char *path,
		   GHashTable *query,
		   gpointer user_data)
{
	KlMtlsServer *self = user_data;
	GTlsCertificate *peer = kl_http_server_message_get_peer_certificate(msg);
	g_autofree gchar *subject = NULL;

	if (peer != NULL)
		g_object_get(peer, "subject-name", &subject, NULL);
	self->requests++;
	g_free(self->last_peer);
	self->last_peer = g_strdup(subject != NULL ? subject : "");
	g_ptr_array_add(self->sockets, g_object_ref(soup_server_message_get_socket(msg)));
	soup_server_message_set_status(msg,
				       peer != NULL ? SOUP_STATUS_OK : SOUP_STATUS_FORBIDDEN,
				       NULL);
	soup_server_message_set_response(msg,
					 "text/plain",
					 SOUP_MEMORY_COPY,
					 self->last_peer,
					 strlen(self->last_peer));
}

static KlMtlsServer *
kl_mtls_server_new(const gchar *cert_path, const gchar *key_path, const gchar *ca_path)
{
	KlMtlsServer *self = g_new0(KlMtlsServer, 1);
	g_autoptr(GError) error = NULL;
	g_autoptr(GTlsCertificate) cert = NULL;
	g_autoptr(GTlsDatabase) ca = NULL;
	GSList *uris;

	cert = g_tls_certificate_new_from_files(cert_path, key_path, &error);
	g_assert_no_error(error);
	ca = kl_http_tls_database_new(ca_path, &error);
	g_assert_no_error(error);
	self->sockets = g_ptr_array_new_with_free_func(g_object_unref);
	self->server = soup_server_new("tls-certificate", cert, NULL);
	g_assert_true(kl_http_server_require_client_certificate(self->server, ca, &error));
	g_assert_no_error(error);
	/* twice is harmless: one accept-certificate handler per message */
	g_assert_true(kl_http_server_require_client_certificate(self->server, ca, &error));
	g_assert_no_error(error);
	soup_server_add_handler(self->server, NULL, kl_mtls_handler_cb, self, NULL);
	g_assert_true(
		soup_server_listen_local(self->server,
					 0,
					 SOUP_SERVER_LISTEN_HTTPS | SOUP_SERVER_LISTEN_IPV4_ONLY,
					 &error));
	g_assert_no_error(error);
	uris = soup_server_get_uris(self->server);
	g_assert_nonnull(uris);
	self->url = g_strdup_printf("https://127.0.0.1:%d/v2.1/agents", g_uri_get_port(uris->data));
	g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
	return self;
}

static void
kl_mtls_server_free(KlMtlsServer *self)
{
	soup_server_disconnect(self->server);
	g_object_unref(self->server);
	g_ptr_array_unref(self->sockets);
	g_free(self->url);
	g_free(self->last_peer);
	g_free(self);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlMtlsServer, kl_mtls_server_free)

static void
kl_mtls_result_clear(KlMtlsResult *result)
{
	g_clear_pointer(&result->body, g_bytes_unref);
	g_clear_error(&result->error);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(KlMtlsResult, kl_mtls_result_clear)

static void
kl_mtls_send_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	KlMtlsResult *result = user_data;
	result->body = soup_session_send_and_read_finish(SOUP_SESSION(source), res, &result->error);
	result->done = GINT_TO_POINTER(1);
}

/* GET @url asynchronously, with a client certificate if @cert_path. */
static void
kl_mtls_get(SoupSession *session,
	    const gchar *url,
	    const gchar *cert_path,
	    const gchar *key_path,
	    KlMtlsResult *result)
{
	g_autoptr(SoupMessage) msg = soup_message_new("GET", url);
	g_autoptr(GError) error = NULL;

	if (cert_path != NULL) {
		g_assert_true(
			kl_http_message_set_client_certificate(msg, cert_path, key_path, &error));
		g_assert_no_error(error);
	}
	soup_session_send_and_read_async(session,
					 msg,
					 G_PRIORITY_DEFAULT,
					 NULL,
					 kl_mtls_send_cb,
					 result);
	g_assert_true(kl_test_wait_for_pointer(&result->done, KL_MTLS_TIMEOUT_MS));
	result->status = soup_message_get_status(msg);
}

static void
kl_mtls_assert_refused(const KlMtlsResult *result)
{
	g_assert_null(result->body);
	g_assert_nonnull(result->error);
	/* refused in the handshake: the client sees a TLS or I/O error */
	g_assert_true(result->error->domain == G_TLS_ERROR || result->error->domain == G_IO_ERROR);
	g_test_message("refused: %s", result->error->message);
}

static void
kl_mtls_keylime_ca_client_test(void)
{
	g_autofree gchar *cacert = kl_mtls_ca_path("cacert.crt");
	g_autofree gchar *server_cert = kl_mtls_ca_path("localhost-cert.crt");
	g_autofree gchar *server_key = kl_mtls_ca_path("localhost-private.pem");
	g_autofree gchar *client_cert = kl_mtls_ca_path("client-cert.crt");
	g_autofree gchar *client_key = kl_mtls_ca_path("client-private.pem");
	g_autoptr(KlMtlsServer) server = kl_mtls_server_new(server_cert, server_key, cacert);
	g_autoptr(SoupSession) session = NULL;
	g_autoptr(GError) error = NULL;
	g_auto(KlMtlsResult) first = {0};
	g_auto(KlMtlsResult) second = {0};

	session = kl_http_client_session_new(cacert, &error);
	g_assert_no_error(error);

	kl_mtls_get(session, server->url, client_cert, client_key, &first);
	g_assert_no_error(first.error);
	g_assert_cmpuint(first.status, ==, SOUP_STATUS_OK);
	g_assert_cmpuint(server->requests, ==, 1);
	g_assert_nonnull(strstr(server->last_peer, "CN=client"));

	/* libsoup 3.2 reports no peer certificate for this one by itself */
	kl_mtls_get(session, server->url, client_cert, client_key, &second);
	g_assert_no_error(second.error);
	g_assert_cmpuint(second.status, ==, SOUP_STATUS_OK);
	g_assert_cmpuint(server->requests, ==, 2);
	g_assert_nonnull(strstr(server->last_peer, "CN=client"));
	g_assert_cmpmem(g_bytes_get_data(second.body, NULL),
			g_bytes_get_size(second.body),
			server->last_peer,
			strlen(server->last_peer));
	/* both requests came over one keep-alive connection */
	g_assert_true(g_ptr_array_index(server->sockets, 0) ==
		      g_ptr_array_index(server->sockets, 1));
}

static void
kl_mtls_no_client_cert_test(void)
{
	g_autofree gchar *cacert = kl_mtls_ca_path("cacert.crt");
	g_autofree gchar *server_cert = kl_mtls_ca_path("localhost-cert.crt");
	g_autofree gchar *server_key = kl_mtls_ca_path("localhost-private.pem");
	g_autoptr(KlMtlsServer) server = kl_mtls_server_new(server_cert, server_key, cacert);
	g_autoptr(SoupSession) session = NULL;
	g_autoptr(GError) error = NULL;
	g_auto(KlMtlsResult) result = {0};

	session = kl_http_client_session_new(cacert, &error);
	g_assert_no_error(error);
	kl_mtls_get(session, server->url, NULL, NULL, &result);
	kl_mtls_assert_refused(&result);
	g_assert_cmpuint(server->requests, ==, 0);
}

static void
kl_mtls_foreign_client_cert_test(void)
{
	g_autofree gchar *cacert = kl_mtls_ca_path("cacert.crt");
	g_autofree gchar *server_cert = kl_mtls_ca_path("localhost-cert.crt");
	g_autofree gchar *server_key = kl_mtls_ca_path("localhost-private.pem");
	g_autoptr(KlMtlsServer) server = kl_mtls_server_new(server_cert, server_key, cacert);
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autoptr(KlTestCa) foreign = NULL;
	g_autoptr(SoupSession) session = NULL;
	g_autoptr(GError) error = NULL;
	g_auto(KlMtlsResult) result = {0};

	foreign = kl_test_ca_new(dir, "foreign", &error);
	g_assert_no_error(error);
	session = kl_http_client_session_new(cacert, &error);
	g_assert_no_error(error);
	kl_mtls_get(session,
		    server->url,
		    kl_test_ca_get_client_cert_path(foreign),
		    kl_test_ca_get_client_key_path(foreign),
		    &result);
	kl_mtls_assert_refused(&result);
	g_assert_cmpuint(server->requests, ==, 0);
}

/* The KlTestCa fixture on its own: server and client from one CA. */
static void
kl_mtls_test_ca_test(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autoptr(KlTestCa) ca = NULL;
	g_autoptr(KlMtlsServer) server = NULL;
	g_autoptr(SoupSession) session = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *cn = NULL;
	g_auto(KlMtlsResult) result = {0};

	ca = kl_test_ca_new(dir, "fixture", &error);
	g_assert_no_error(error);
	server = kl_mtls_server_new(kl_test_ca_get_server_cert_path(ca),
				    kl_test_ca_get_server_key_path(ca),
				    kl_test_ca_get_ca_cert_path(ca));
	session = kl_http_client_session_new(kl_test_ca_get_ca_cert_path(ca), &error);
	g_assert_no_error(error);
	kl_mtls_get(session,
		    server->url,
		    kl_test_ca_get_client_cert_path(ca),
		    kl_test_ca_get_client_key_path(ca),
		    &result);
	g_assert_no_error(result.error);
	g_assert_cmpuint(result.status, ==, SOUP_STATUS_OK);
	cn = g_strdup_printf("CN=%s", kl_test_ca_get_client_name(ca));
	g_assert_nonnull(strstr(server->last_peer, cn));
}

/* A client that does not trust the server's CA gives up. */
static void
kl_mtls_untrusted_server_test(void)
{
	g_autofree gchar *cacert = kl_mtls_ca_path("cacert.crt");
	g_autofree gchar *server_cert = kl_mtls_ca_path("localhost-cert.crt");
	g_autofree gchar *server_key = kl_mtls_ca_path("localhost-private.pem");
	g_autofree gchar *client_cert = kl_mtls_ca_path("client-cert.crt");
	g_autofree gchar *client_key = kl_mtls_ca_path("client-private.pem");
	g_autoptr(KlMtlsServer) server = kl_mtls_server_new(server_cert, server_key, cacert);
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autoptr(KlTestCa) foreign = NULL;
	g_autoptr(SoupSession) session = NULL;
	g_autoptr(GError) error = NULL;
	g_auto(KlMtlsResult) result = {0};

	foreign = kl_test_ca_new(dir, "foreign", &error);
	g_assert_no_error(error);
	session = kl_http_client_session_new(kl_test_ca_get_ca_cert_path(foreign), &error);
	g_assert_no_error(error);
	kl_mtls_get(session, server->url, client_cert, client_key, &result);
	g_assert_error(result.error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
	g_assert_cmpuint(server->requests, ==, 0);
}

static void
kl_mtls_errors_test(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *empty = kl_test_dir_write(dir, "empty.pem", "", 0);
	g_autofree gchar *missing = kl_test_dir_build(dir, "missing.pem", NULL);
	g_autoptr(GTlsDatabase) db = NULL;
	g_autoptr(SoupSession) session = NULL;
	g_autoptr(SoupServer) plain = soup_server_new(NULL, NULL);
	g_autoptr(SoupMessage) msg = soup_message_new("GET", "https://127.0.0.1:1/");
	g_autoptr(GError) error = NULL;
	g_autofree gchar *cacert = kl_mtls_ca_path("cacert.crt");
	g_autofree gchar *cwd = g_get_current_dir();

	db = kl_http_tls_database_new(empty, &error);
	g_assert_null(db);
	g_assert_nonnull(error);
	g_assert_nonnull(strstr(error->message, empty));
	g_clear_error(&error);

	db = kl_http_tls_database_new(missing, &error);
	g_assert_null(db);
	g_assert_nonnull(error);
	g_clear_error(&error);

	session = kl_http_client_session_new(missing, &error);
	g_assert_null(session);
	g_assert_nonnull(error);
	g_clear_error(&error);

	/* a relative path is made absolute (GTlsFileDatabase needs that) */
	{
		g_autofree gchar *relative = NULL;
		g_autofree gchar *path = NULL;
		g_assert_true(g_str_has_prefix(cacert, "/"));
		relative = g_strdup(cacert + 1);
		g_assert_cmpint(g_chdir("/"), ==, 0);
		db = kl_http_tls_database_new(relative, &error);
		g_assert_cmpint(g_chdir(cwd), ==, 0);
		g_assert_no_error(error);
		g_object_get(db, "anchors", &path, NULL);
		g_assert_cmpstr(path, ==, cacert);
	}

	/* client certificates need a TLS server */
	g_assert_false(kl_http_server_require_client_certificate(plain, db, &error));
	g_assert_nonnull(error);
	g_clear_error(&error);

	g_assert_false(kl_http_message_set_client_certificate(msg, missing, missing, &error));
	g_assert_nonnull(error);
	g_assert_nonnull(strstr(error->message, missing));
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *conf = NULL;
	const gchar *init[] = {"-c", "init", NULL};
	const gchar *create_server[] = {"-c", "create", "-n", "localhost", NULL};
	const gchar *create_client[] = {"-c", "create", "-n", "client", NULL};
	int rc;

	g_test_init(&argc, &argv, NULL);
	if (argc < 2) {
		g_printerr("usage: %s KEYLIME_CA\n", argv[0]);
		return 1;
	}
	kl_mtls_keylime_ca = argv[1];

	kl_mtls_dir = kl_test_dir_new();
	kl_mtls_ca_dir = kl_test_dir_build(kl_mtls_dir, "ca", NULL);
	conf = kl_test_dir_write(kl_mtls_dir,
				 "ca.conf",
				 "[ca]\ncert_organization = KlRestTest\n",
				 -1);
	kl_mtls_run_keylime_ca(init);
	kl_mtls_run_keylime_ca(create_server);
	kl_mtls_run_keylime_ca(create_client);

	g_test_add_func("/rest/mtls/keylime-ca-client", kl_mtls_keylime_ca_client_test);
	g_test_add_func("/rest/mtls/no-client-cert", kl_mtls_no_client_cert_test);
	g_test_add_func("/rest/mtls/foreign-client-cert", kl_mtls_foreign_client_cert_test);
	g_test_add_func("/rest/mtls/test-ca", kl_mtls_test_ca_test);
	g_test_add_func("/rest/mtls/untrusted-server", kl_mtls_untrusted_server_test);
	g_test_add_func("/rest/mtls/errors", kl_mtls_errors_test);
	rc = g_test_run();

	g_free(kl_mtls_ca_dir);
	kl_test_dir_free(kl_mtls_dir);
	return rc;
}
