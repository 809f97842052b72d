/*
 * KlHttpServer against slow and idle clients (kl-http-guard): raw TCP
 * clients on loopback, bound to chosen 127/8 source addresses, that connect
 * and say nothing, stall a body or open too many connections, while normal
 * requests on other connections must still be answered.  Everything runs in
 * one main context; clients are non-blocking and polled from it.
 */
#include "config.h"

#include "kl-http-server.h"
#include "kl-http-tls.h"
#include "kl-test-ca.h"
#include "kl-test-dir.h"
#include "kl-test-wait.h"

#define KL_GUARD_WAIT_MS     20000
#define KL_GUARD_SHORT_MS    300
#define KL_GUARD_ROUTE_AGENT "/v2/agents/guard-agent"

static KlTestDir *kl_guard_dir;
static KlTestCa *kl_guard_ca;

typedef struct {
	KlHttpServer *server;
	KlHttpGuard *guard; /* kept past the server: its sockets report to it */
	guint handled;
} KlGuardServer;

/* A raw client connection. */
typedef struct {
	GSocket *socket;
	GString *received;
	gboolean closed;
} KlGuardClient;

/* ---- the server ------------------------------------------------------- */

static gboolean
kl_guard_agent_cb(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlGuardServer *self = user_data;
	g_autoptr(JsonNode) results = json_node_init_object(json_node_alloc(), json_object_new());

	self->handled++;
	kl_http_request_reply_ok(request, results);
	return TRUE;
}

static const KlHttpRoute kl_guard_routes[] = {
	{"GET", "/agents/{agent_id}", 0, NULL, NULL, 0, kl_guard_agent_cb},
	{"POST", "/agents/{agent_id}", 0, NULL, NULL, 0, kl_guard_agent_cb},
};

static KlGuardServer *
kl_guard_server_new(KlHttpServerOptions *options)
{
	KlGuardServer *self = g_new0(KlGuardServer, 1);
	gsize n_supported = 0;
	const KlApiVersion *supported = kl_api_version_server_supported(&n_supported);
	KlApiVersion current = KL_API_VERSION_CURRENT;
	g_autoptr(KlHttpRouter) router = kl_http_router_new(&current, supported, n_supported);
	g_autoptr(GError) error = NULL;

	g_assert_true(kl_http_router_add_routes(router,
						kl_guard_routes,
						G_N_ELEMENTS(kl_guard_routes),
						self,
						&error));
	g_assert_no_error(error);
	options->ip = "127.0.0.1";
	self->server = kl_http_server_new(router, options, &error);
	g_assert_no_error(error);
	g_assert_true(kl_http_server_listen(self->server, &error));
	g_assert_no_error(error);
	self->guard = kl_http_guard_ref(kl_http_server_get_guard(self->server));
	return self;
}

static gboolean
kl_guard_no_sockets(gpointer user_data)
{
	KlGuardServer *self = user_data;
	return kl_http_guard_get_n_connections(self->guard, NULL) == 0;
}

/* Waits until every accepted socket is finalized, so nothing is left for
 * LeakSanitizer and the guard's accounting is seen to end. */
static void
kl_guard_server_free(KlGuardServer *self)
{
	g_clear_object(&self->server);
	g_assert_true(kl_test_wait_for(kl_guard_no_sockets, self, KL_GUARD_WAIT_MS));
	kl_http_guard_unref(self->guard);
	g_free(self);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlGuardServer, kl_guard_server_free)

static guint
kl_guard_server_count(KlGuardServer *self, const gchar *ip)
{
	g_autoptr(GInetAddress) address = g_inet_address_new_from_string(ip);
	return kl_http_guard_get_n_connections(self->guard, address);
}

typedef struct {
	KlGuardServer *server;
	const gchar *ip;
	guint count;
} KlGuardCount;

static gboolean
kl_guard_count_is(gpointer user_data)
{
	KlGuardCount *wait = user_data;
	return kl_guard_server_count(wait->server, wait->ip) == wait->count;
}

static void
kl_guard_wait_count(KlGuardServer *server, const gchar *ip, guint count)
{
	KlGuardCount wait = {server, ip, count};
	if (!kl_test_wait_for(kl_guard_count_is, &wait, KL_GUARD_WAIT_MS))
		g_error("%u connections from %s, not %u",
			kl_guard_server_count(server, ip),
			ip,
			count);
}

/* ---- raw clients ------------------------------------------------------ */

static void
kl_guard_client_free(KlGuardClient *self)
{
	g_object_unref(self->socket);
	g_string_free(self->received, TRUE);
	g_free(self);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlGuardClient, kl_guard_client_free)

static gboolean
kl_guard_socket_writable(gpointer user_data)
{
	return g_socket_condition_check(G_SOCKET(user_data), G_IO_OUT | G_IO_ERR | G_IO_HUP) != 0;
}

/* A connection from @source_ip to @server; the server has not necessarily
 * accepted it yet. */
static KlGuardClient *
kl_guard_client_new(KlGuardServer *server, const gchar *source_ip)
{
	g_autoptr(KlGuardClient) self = g_new0(KlGuardClient, 1);
	g_autoptr(GSocketAddress) source = g_inet_socket_address_new_from_string(source_ip, 0);
	g_autoptr(GSocketAddress) target = NULL;
	g_autoptr(GError) error = NULL;

	self->received = g_string_new(NULL);
	self->socket = g_socket_new(G_SOCKET_FAMILY_IPV4,
				    G_SOCKET_TYPE_STREAM,
				    G_SOCKET_PROTOCOL_TCP,
				    &error);
	g_assert_no_error(error);
	g_socket_set_blocking(self->socket, FALSE);
	g_assert_true(g_socket_bind(self->socket, source, FALSE, &error));
	g_assert_no_error(error);
	target = g_inet_socket_address_new_from_string("127.0.0.1",
						       kl_http_server_get_port(server->server));
	if (!g_socket_connect(self->socket, target, NULL, &error)) {
		g_assert_error(error, G_IO_ERROR, G_IO_ERROR_PENDING);
		g_clear_error(&error);
		g_assert_true(
			kl_test_wait_for(kl_guard_socket_writable, self->socket, KL_GUARD_WAIT_MS));
		g_assert_true(g_socket_check_connect_result(self->socket, &error));
		g_assert_no_error(error);
	}
	return g_steal_pointer(&self);
}

static void
kl_guard_client_send(KlGuardClient *self, const gchar *data)
{
	g_autoptr(GError) error = NULL;
	gssize sent = g_socket_send(self->socket, data, strlen(data), NULL, &error);

	/* small writes to a fresh loopback connection go out whole */
	g_assert_no_error(error);
	g_assert_cmpint(sent, ==, (gssize)strlen(data));
}

/* Reads what there is; TRUE when something changed. */
static gboolean
kl_guard_client_poll(KlGuardClient *self)
{
	gboolean changed = FALSE;

	while (!self->closed) {
		g_autoptr(GError) error = NULL;
		gchar buffer[4096];
		gssize n = g_socket_receive(self->socket, buffer, sizeof(buffer), NULL, &error);

		if (n < 0 && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
			break;
		changed = TRUE;
		if (n <= 0) {
			self->closed = TRUE;
			break;
		}
		g_string_append_len(self->received, buffer, n);
	}
	return changed;
}

static gboolean
kl_guard_client_is_closed(gpointer user_data)
{
	KlGuardClient *self = user_data;
	kl_guard_client_poll(self);
	return self->closed;
}

/* A whole response: headers and Content-Length bytes of body. */
static gboolean
kl_guard_client_has_response(gpointer user_data)
{
	KlGuardClient *self = user_data;
	const gchar *end;
	const gchar *length;

	kl_guard_client_poll(self);
	end = strstr(self->received->str, "\r\n\r\n");
	if (end == NULL)
		return self->closed;
	length = g_strstr_len(self->received->str,
			      end - self->received->str,
			      "\r\nContent-Length: ");
	if (length == NULL)
		return TRUE;
	return (gsize)(end + 4 - self->received->str) +
		       g_ascii_strtoull(length + strlen("\r\nContent-Length: "), NULL, 10) <=
	       self->received->len;
}

static void
kl_guard_client_assert_open(KlGuardClient *self)
{
	kl_guard_client_poll(self);
	g_assert_false(self->closed);
}

/* Waits for the server to close @self, and returns how long that took. */
static gint64
kl_guard_client_wait_closed(KlGuardClient *self, gint64 since)
{
	g_assert_true(kl_test_wait_for(kl_guard_client_is_closed, self, KL_GUARD_WAIT_MS));
	return (g_get_monotonic_time() - since) / 1000;
}

/* GET KL_GUARD_ROUTE_AGENT from @source_ip on a new connection. */
static void
kl_guard_get(KlGuardServer *server, const gchar *source_ip)
{
	g_autoptr(KlGuardClient) client = kl_guard_client_new(server, source_ip);

	kl_guard_client_send(client,
			     "GET " KL_GUARD_ROUTE_AGENT " HTTP/1.1\r\n"
			     "Host: 127.0.0.1\r\n"
			     "Connection: close\r\n\r\n");
	g_assert_true(kl_test_wait_for(kl_guard_client_has_response, client, KL_GUARD_WAIT_MS));
	if (!g_str_has_prefix(client->received->str, "HTTP/1.1 200 "))
		g_error("from %s: %s", source_ip, client->received->str);
	g_assert_nonnull(strstr(client->received->str, "\"code\":200"));
}

/* ---- tests ------------------------------------------------------------ */

static void
kl_guard_defaults_test(void)
{
	KlHttpServerOptions options = {0};
	g_autoptr(KlGuardServer) server = kl_guard_server_new(&options);
	const KlHttpGuardLimits *limits = kl_http_guard_get_limits(server->guard);
	KlHttpServerOptions set = {.headers_timeout_ms = 1,
				   .idle_timeout_ms = 2,
				   .body_timeout_ms = 3,
				   .max_connections_per_client = 4};
	g_autoptr(KlGuardServer) other = kl_guard_server_new(&set);

	g_assert_cmpuint(limits->headers_timeout_ms, ==, 10000);
	g_assert_cmpuint(limits->idle_timeout_ms, ==, 60000);
	g_assert_cmpuint(limits->body_timeout_ms, ==, 30000);
	g_assert_cmpuint(limits->max_per_client, ==, 64);
	limits = kl_http_guard_get_limits(other->guard);
	g_assert_cmpuint(limits->headers_timeout_ms, ==, 1);
	g_assert_cmpuint(limits->idle_timeout_ms, ==, 2);
	g_assert_cmpuint(limits->body_timeout_ms, ==, 3);
	g_assert_cmpuint(limits->max_per_client, ==, 4);
}

/* (1) a connection that never sends headers is closed after the headers
 * timeout; a normal request meanwhile is answered */
static void
kl_guard_idle_headers_test(void)
{
	KlHttpServerOptions options = {.headers_timeout_ms = KL_GUARD_SHORT_MS};
	g_autoptr(KlGuardServer) server = kl_guard_server_new(&options);
	g_autoptr(KlGuardClient) idle = NULL;
	gint64 start = g_get_monotonic_time();
	gint64 elapsed;

	idle = kl_guard_client_new(server, "127.0.0.2");
	kl_guard_wait_count(server, "127.0.0.2", 1);
	kl_guard_get(server, "127.0.0.1");
	g_assert_cmpuint(server->handled, ==, 1);
	elapsed = kl_guard_client_wait_closed(idle, start);
	g_test_message("idle connection closed after %" G_GINT64_FORMAT " ms", elapsed);
	g_assert_cmpint(elapsed, >=, KL_GUARD_SHORT_MS - 50);
	g_assert_cmpuint(idle->received->len, ==, 0);
	/* the accounting ends with the socket */
	g_clear_pointer(&idle, kl_guard_client_free);
	kl_guard_wait_count(server, "127.0.0.2", 0);
}

static guint
kl_guard_count_fds(void)
{
	g_autoptr(GDir) dir = g_dir_open("/proc/self/fd", 0, NULL);
	guint n = 0;

	g_assert_nonnull(dir);
	while (g_dir_read_name(dir) != NULL)
		n++;
	return n;
}

static gboolean
kl_guard_fds_are(gpointer user_data)
{
	return kl_guard_count_fds() == GPOINTER_TO_UINT(user_data);
}

/* A whole request sent at once is not cut by a short headers timeout,
 * and a keep-alive connection left idle is closed after the idle timeout. */
static void
kl_guard_keepalive_test(void)
{
	KlHttpServerOptions options = {.headers_timeout_ms = KL_GUARD_SHORT_MS,
				       .idle_timeout_ms = 2 * KL_GUARD_SHORT_MS};
	g_autoptr(KlGuardServer) server = kl_guard_server_new(&options);
	guint fds_before = kl_guard_count_fds();
	g_autoptr(KlGuardClient) client = kl_guard_client_new(server, "127.0.0.1");
	gint64 start;
	gint64 elapsed;

	kl_guard_client_send(client,
			     "GET " KL_GUARD_ROUTE_AGENT " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
	g_assert_true(kl_test_wait_for(kl_guard_client_has_response, client, KL_GUARD_WAIT_MS));
	g_assert_true(g_str_has_prefix(client->received->str, "HTTP/1.1 200 "));
	start = g_get_monotonic_time();
	g_string_truncate(client->received, 0);
	/* still usable for a second request within the idle time */
	kl_guard_client_send(client,
			     "GET " KL_GUARD_ROUTE_AGENT " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
	g_assert_true(kl_test_wait_for(kl_guard_client_has_response, client, KL_GUARD_WAIT_MS));
	g_assert_true(g_str_has_prefix(client->received->str, "HTTP/1.1 200 "));
	g_assert_cmpuint(server->handled, ==, 2);
	start = g_get_monotonic_time();
	elapsed = kl_guard_client_wait_closed(client, start);
	g_test_message("keep-alive connection closed after %" G_GINT64_FORMAT " ms", elapsed);
	/* the idle limit, not the shorter headers one */
	g_assert_cmpint(elapsed, >=, 2 * KL_GUARD_SHORT_MS - 50);
	/* and the server let go of the descriptor: a daemon that kept one
	 * per timed-out client would run out */
	g_clear_pointer(&client, kl_guard_client_free);
	if (!kl_test_wait_for(kl_guard_fds_are, GUINT_TO_POINTER(fds_before), KL_GUARD_WAIT_MS))
		g_error("%u descriptors open, %u before the connection",
			kl_guard_count_fds(),
			fds_before);
}

/* (2) headers, then a body that stalls: dropped after the body timeout,
 * the handler never runs; a whole body in time is served */
static void
kl_guard_stalled_body_test(void)
{
	KlHttpServerOptions options = {.body_timeout_ms = KL_GUARD_SHORT_MS};
	g_autoptr(KlGuardServer) server = kl_guard_server_new(&options);
	g_autoptr(KlGuardClient) slow = kl_guard_client_new(server, "127.0.0.1");
	g_autoptr(KlGuardClient) quick = kl_guard_client_new(server, "127.0.0.1");
	gint64 start = g_get_monotonic_time();
	gint64 elapsed;

	kl_guard_client_send(slow,
			     "POST " KL_GUARD_ROUTE_AGENT " HTTP/1.1\r\n"
			     "Host: 127.0.0.1\r\n"
			     "Content-Type: application/json\r\n"
			     "Content-Length: 100\r\n\r\n"
			     "{\"a\": ");
	kl_guard_client_send(quick,
			     "POST " KL_GUARD_ROUTE_AGENT " HTTP/1.1\r\n"
			     "Host: 127.0.0.1\r\n"
			     "Content-Type: application/json\r\n"
			     "Content-Length: 8\r\n\r\n"
			     "{\"a\": 1}");
	g_assert_true(kl_test_wait_for(kl_guard_client_has_response, quick, KL_GUARD_WAIT_MS));
	g_assert_true(g_str_has_prefix(quick->received->str, "HTTP/1.1 200 "));
	g_assert_cmpuint(server->handled, ==, 1);
	elapsed = kl_guard_client_wait_closed(slow, start);
	g_test_message("stalled body dropped after %" G_GINT64_FORMAT " ms", elapsed);
	g_assert_cmpint(elapsed, >=, KL_GUARD_SHORT_MS - 50);
	g_assert_cmpuint(slow->received->len, ==, 0);
	g_assert_cmpuint(server->handled, ==, 1);
	/* the quick one is a keep-alive connection under the 60 s idle limit */
	kl_guard_client_assert_open(quick);
}

/* (3) connections over the bound from one address are closed at once;
 * another address is still served, and closing frees the slots */
static void
kl_guard_per_client_test(void)
{
	KlHttpServerOptions options = {.max_connections_per_client = 4};
	g_autoptr(KlGuardServer) server = kl_guard_server_new(&options);
	g_autoptr(GPtrArray) held =
		g_ptr_array_new_with_free_func((GDestroyNotify)kl_guard_client_free);
	g_autoptr(KlGuardClient) over = NULL;
	g_autoptr(KlGuardClient) over_again = NULL;

	for (guint i = 0; i < 4; i++) {
		g_ptr_array_add(held, kl_guard_client_new(server, "127.0.0.2"));
		kl_guard_wait_count(server, "127.0.0.2", i + 1);
	}
	over = kl_guard_client_new(server, "127.0.0.2");
	over_again = kl_guard_client_new(server, "127.0.0.2");
	kl_guard_client_wait_closed(over, g_get_monotonic_time());
	kl_guard_client_wait_closed(over_again, g_get_monotonic_time());
	g_assert_cmpuint(over->received->len, ==, 0);
	g_assert_cmpuint(kl_guard_server_count(server, "127.0.0.2"), ==, 4);
	for (guint i = 0; i < held->len; i++)
		kl_guard_client_assert_open(g_ptr_array_index(held, i));

	kl_guard_get(server, "127.0.0.3");
	kl_guard_get(server, "127.0.0.1");
	g_assert_cmpuint(server->handled, ==, 2);

	/* the held ones closed by the client: 127.0.0.2 is served again */
	g_ptr_array_set_size(held, 0);
	kl_guard_wait_count(server, "127.0.0.2", 0);
	kl_guard_get(server, "127.0.0.2");
	g_assert_cmpuint(server->handled, ==, 3);
}

/* (3b) a client that closes its keep-alive connection after each answer
 * (a new connection per request, as upstream's tenant does) frees its slot
 * at once, not after the idle timeout: more requests than the bound all
 * succeed */
static void
kl_guard_closed_after_response_test(void)
{
	KlHttpServerOptions options = {.max_connections_per_client = 4};
	g_autoptr(KlGuardServer) server = kl_guard_server_new(&options);

	for (guint i = 0; i < 12; i++) {
		g_autoptr(KlGuardClient) client = kl_guard_client_new(server, "127.0.0.4");

		kl_guard_client_send(client,
				     "GET " KL_GUARD_ROUTE_AGENT
				     " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
		if (!kl_test_wait_for(kl_guard_client_has_response, client, KL_GUARD_WAIT_MS))
			g_error("request %u from one address got no answer: %u counted",
				i + 1,
				kl_guard_server_count(server, "127.0.0.4"));
		g_assert_true(g_str_has_prefix(client->received->str, "HTTP/1.1 200 "));
	}
	g_assert_cmpuint(server->handled, ==, 12);
}

/* (4) 1000 idle connections from 20 addresses, 50 each (under the default
 * bound of 64), do not keep 200 sequential requests from being served */
static void
kl_guard_many_idle_test(void)
{
	/* the default limits: 10 s for headers covers opening them all */
	KlHttpServerOptions options = {0};
	g_autoptr(KlGuardServer) server = kl_guard_server_new(&options);
	g_autoptr(GPtrArray) idle =
		g_ptr_array_new_with_free_func((GDestroyNotify)kl_guard_client_free);
	guint ok = 0;

	for (guint a = 1; a <= 20; a++) {
		g_autofree gchar *ip = g_strdup_printf("127.0.1.%u", a);
		for (guint i = 0; i < 50; i++)
			g_ptr_array_add(idle, kl_guard_client_new(server, ip));
		kl_guard_wait_count(server, ip, 50);
	}
	g_assert_cmpuint(idle->len, ==, 1000);
	g_assert_cmpuint(kl_http_guard_get_n_connections(server->guard, NULL), ==, 1000);

	for (guint i = 0; i < 200; i++) {
		kl_guard_get(server, "127.0.0.1");
		ok++;
	}
	g_assert_cmpuint(ok, ==, 200);
	g_assert_cmpuint(server->handled, ==, 200);
	/* none of the idle ones was dropped: they are within every limit */
	for (guint i = 0; i < idle->len; i++)
		kl_guard_client_assert_open(g_ptr_array_index(idle, i));
}

static void
kl_guard_send_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GBytes **body = user_data;
	g_autoptr(GError) error = NULL;

	*body = soup_session_send_and_read_finish(SOUP_SESSION(source), res, &error);
	g_assert_no_error(error);
}

/* (5) over TLS: a connection that never starts the handshake is closed
 * after the headers timeout, which covers the handshake; an HTTPS request
 * meanwhile is answered */
static void
kl_guard_tls_handshake_test(void)
{
	KlHttpServerOptions options = {
		.tls = TRUE,
		.server_cert = kl_test_ca_get_server_cert_path(kl_guard_ca),
		.server_key = kl_test_ca_get_server_key_path(kl_guard_ca),
		.trusted_client_ca = kl_test_ca_get_ca_cert_path(kl_guard_ca),
		.client_cert = KL_HTTP_CLIENT_CERT_OPTIONAL,
		.headers_timeout_ms = 2 * KL_GUARD_SHORT_MS,
	};
	g_autoptr(KlGuardServer) server = kl_guard_server_new(&options);
	g_autoptr(KlGuardClient) idle = NULL;
	g_autoptr(SoupSession) session = NULL;
	g_autoptr(SoupMessage) msg = NULL;
	g_autoptr(GBytes) body = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *base = kl_http_server_get_url(server->server);
	g_autofree gchar *url = g_strconcat(base, KL_GUARD_ROUTE_AGENT, NULL);
	gint64 start = g_get_monotonic_time();
	gint64 elapsed;

	idle = kl_guard_client_new(server, "127.0.0.2");
	kl_guard_wait_count(server, "127.0.0.2", 1);

	session = kl_http_client_session_new(kl_test_ca_get_ca_cert_path(kl_guard_ca), &error);
	g_assert_no_error(error);
	msg = soup_message_new("GET", url);
	g_assert_nonnull(msg);
	soup_session_send_and_read_async(session,
					 msg,
					 G_PRIORITY_DEFAULT,
					 NULL,
					 kl_guard_send_cb,
					 &body);
	g_assert_true(kl_test_wait_for_pointer((gpointer *)&body, KL_GUARD_WAIT_MS));
	g_assert_cmpuint(soup_message_get_status(msg), ==, SOUP_STATUS_OK);
	g_assert_cmpuint(server->handled, ==, 1);

	elapsed = kl_guard_client_wait_closed(idle, start);
	g_test_message("TLS connection without handshake closed after %" G_GINT64_FORMAT " ms",
		       elapsed);
	g_assert_cmpint(elapsed, >=, 2 * KL_GUARD_SHORT_MS - 50);
	g_assert_cmpuint(idle->received->len, ==, 0);
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	int rc;

	g_test_init(&argc, &argv, NULL);
	kl_guard_dir = kl_test_dir_new();
	kl_guard_ca = kl_test_ca_new(kl_guard_dir, "guard", &error);
	g_assert_no_error(error);

	g_test_add_func("/rest/guard/defaults", kl_guard_defaults_test);
	g_test_add_func("/rest/guard/idle-headers", kl_guard_idle_headers_test);
	g_test_add_func("/rest/guard/keep-alive", kl_guard_keepalive_test);
	g_test_add_func("/rest/guard/stalled-body", kl_guard_stalled_body_test);
	g_test_add_func("/rest/guard/per-client", kl_guard_per_client_test);
	g_test_add_func("/rest/guard/closed-after-response", kl_guard_closed_after_response_test);
	g_test_add_func("/rest/guard/many-idle", kl_guard_many_idle_test);
	g_test_add_func("/rest/guard/tls-handshake", kl_guard_tls_handshake_test);
	rc = g_test_run();

	kl_test_ca_free(kl_guard_ca);
	kl_test_dir_free(kl_guard_dir);
	return rc;
}
