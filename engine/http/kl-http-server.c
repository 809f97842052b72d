/*
 * One KlHttpServer per listening address.  TLS material is loaded here, at
 * start-up, so that a bad path is an error naming it rather than failed
 * handshakes later.
 */
#define G_LOG_DOMAIN "KlHttp"

#include "config.h"

#include <netinet/in.h>

#include "kl-error.h"
#include "kl-http-server.h"
#include "kl-http-tls.h"

struct _KlHttpServer {
	GObject parent_instance;
	SoupServer *server;
	KlHttpRouter *router;
	KlHttpGuard *guard;
	GInetAddress *address;
	guint16 port;
	gboolean tls;
	guint16 bound_port;
};

G_DEFINE_TYPE(KlHttpServer, kl_http_server, G_TYPE_OBJECT)

static void
kl_http_server_dispose(GObject *object)
{
	KlHttpServer *self = KL_HTTP_SERVER(object);

	if (self->server != NULL)
		soup_server_disconnect(self->server);
	g_clear_object(&self->server);
	g_clear_object(&self->router);
	/* libsoup 3.2 leaves idle keep-alive connections open after this */
	if (self->guard != NULL)
		kl_http_guard_detach(self->guard);
	g_clear_pointer(&self->guard, kl_http_guard_unref);
	g_clear_object(&self->address);
	G_OBJECT_CLASS(kl_http_server_parent_class)->dispose(object);
}

static void
kl_http_server_class_init(KlHttpServerClass *klass)
{
	G_OBJECT_CLASS(klass)->dispose = kl_http_server_dispose;
}

static void
kl_http_server_init(KlHttpServer *self)
{
}

static gboolean
kl_http_server_setup_tls(KlHttpServer *self, const KlHttpServerOptions *options, GError **error)
{
	g_autoptr(GTlsCertificate) cert = NULL;
	g_autoptr(GTlsDatabase) ca = NULL;
	GTlsAuthenticationMode mode = G_TLS_AUTHENTICATION_NONE;

	if (options->server_cert == NULL || options->server_key == NULL) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "TLS needs a server certificate and key");
		return FALSE;
	}
	cert = g_tls_certificate_new_from_files(options->server_cert, options->server_key, error);
	if (cert == NULL) {
		g_prefix_error(error,
			       "server certificate %s with key %s: ",
			       options->server_cert,
			       options->server_key);
		return FALSE;
	}
	soup_server_set_tls_certificate(self->server, cert);

	switch (options->client_cert) {
	case KL_HTTP_CLIENT_CERT_NONE:
		return TRUE;
	case KL_HTTP_CLIENT_CERT_OPTIONAL:
		mode = G_TLS_AUTHENTICATION_REQUESTED;
		break;
	case KL_HTTP_CLIENT_CERT_REQUIRED:
		mode = G_TLS_AUTHENTICATION_REQUIRED;
		break;
	default:
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "unknown client certificate mode");
		return FALSE;
	}
	if (options->trusted_client_ca == NULL) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "client certificates need a trusted client CA");
		return FALSE;
	}
	ca = kl_http_tls_database_new(options->trusted_client_ca, error);
	if (ca == NULL)
		return FALSE;
	return kl_http_server_set_client_certificate_mode(self->server, ca, mode, error);
}

KlHttpServer *
kl_http_server_new(KlHttpRouter *router, const KlHttpServerOptions *options, GError **error)
{
	g_autoptr(KlHttpServer) self = NULL;
	g_autoptr(KlHttpRouteMatch) version_route = NULL;
	const gchar *ip;
	KlHttpGuardLimits limits = {0};

	g_return_val_if_fail(KL_HTTP_IS_ROUTER(router), NULL);
	g_return_val_if_fail(options != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	self = g_object_new(KL_HTTP_TYPE_SERVER, NULL);
	ip = options->ip != NULL && options->ip[0] != '\0' ? options->ip : "127.0.0.1";
	self->address = g_inet_address_new_from_string(ip);
	if (self->address == NULL) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "ip %s is not an IPv4 or IPv6 address",
			    ip);
		return NULL;
	}
	self->port = options->port;
	self->tls = options->tls;
	self->router = g_object_ref(router);
	self->server = soup_server_new("server-header", "keylime-c/" PACKAGE_VERSION, NULL);
	/* body size limits are the router's (413 from Content-Length) */
	limits.headers_timeout_ms = options->headers_timeout_ms;
	limits.idle_timeout_ms = options->idle_timeout_ms;
	limits.body_timeout_ms = options->body_timeout_ms;
	limits.max_per_client = options->max_connections_per_client;
	self->guard = kl_http_guard_new(&limits);
	kl_http_guard_attach(self->guard, self->server);
	if (options->tls && !kl_http_server_setup_tls(self, options, error))
		return NULL;
	if (!options->tls && options->client_cert != KL_HTTP_CLIENT_CERT_NONE) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "client certificates need TLS");
		return NULL;
	}
	/* an agent answers /version its own way */
	version_route = kl_http_router_lookup(router, "GET", "/version", NULL, NULL);
	if (version_route == NULL && !kl_http_router_add_version_route(router, error))
		return NULL;
	kl_http_router_attach(router, self->server);
	return g_steal_pointer(&self);
}

/* The listening socket, with a backlog deep enough for a fleet's burst of
 * connections (libsoup's own is 10: the rest wait for SYN retransmits). */
static GSocket *
kl_http_server_listen_socket_new(GSocketAddress *address, GError **error)
{
	g_autoptr(GSocket) socket = NULL;
	GSocketFamily family = g_socket_address_get_family(address);

	socket = g_socket_new(family, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);
	if (socket == NULL)
		return NULL;
	if (family == G_SOCKET_FAMILY_IPV6 &&
	    !g_socket_set_option(socket, IPPROTO_IPV6, IPV6_V6ONLY, TRUE, error))
		return NULL;
	g_socket_set_listen_backlog(socket, KL_HTTP_SERVER_LISTEN_BACKLOG);
	if (!g_socket_bind(socket, address, TRUE, error) || !g_socket_listen(socket, error))
		return NULL;
	return g_steal_pointer(&socket);
}

gboolean
kl_http_server_listen(KlHttpServer *self, GError **error)
{
	g_autoptr(GSocketAddress) address = NULL;
	g_autoptr(GSocket) socket = NULL;
	GSList *listeners;

	g_return_val_if_fail(KL_HTTP_IS_SERVER(self), FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	address = g_inet_socket_address_new(self->address, self->port);
	socket = kl_http_server_listen_socket_new(address, error);
	if (socket == NULL || !soup_server_listen_socket(self->server,
							 socket,
							 self->tls ? SOUP_SERVER_LISTEN_HTTPS : 0,
							 error)) {
		g_autofree gchar *ip = g_inet_address_to_string(self->address);
		g_prefix_error(error, "listening on %s port %u: ", ip, (guint)self->port);
		return FALSE;
	}
	listeners = soup_server_get_listeners(self->server);
	self->bound_port = self->port;
	for (GSList *l = listeners; l != NULL; l = l->next) {
		g_autoptr(GSocketAddress) local =
			g_socket_get_local_address(G_SOCKET(l->data), NULL);
		if (local != NULL && G_IS_INET_SOCKET_ADDRESS(local))
			self->bound_port =
				g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local));
	}
	g_slist_free(listeners);
	return TRUE;
}

void
kl_http_server_stop(KlHttpServer *self)
{
	g_return_if_fail(KL_HTTP_IS_SERVER(self));
	soup_server_disconnect(self->server);
	kl_http_guard_close_all(self->guard);
	self->bound_port = 0;
}

/* The port actually bound, for port 0; 0 before listening. */
guint16
kl_http_server_get_port(KlHttpServer *self)
{
	g_return_val_if_fail(KL_HTTP_IS_SERVER(self), 0);
	return self->bound_port;
}

gchar *
kl_http_server_get_url(KlHttpServer *self)
{
	g_autofree gchar *ip = NULL;
	gboolean ipv6;

	g_return_val_if_fail(KL_HTTP_IS_SERVER(self), NULL);

	ip = g_inet_address_to_string(self->address);
	ipv6 = g_inet_address_get_family(self->address) == G_SOCKET_FAMILY_IPV6;
	return g_strdup_printf("%s://%s%s%s:%u",
			       self->tls ? "https" : "http",
			       ipv6 ? "[" : "",
			       ip,
			       ipv6 ? "]" : "",
			       (guint)self->bound_port);
}

SoupServer *
kl_http_server_get_soup_server(KlHttpServer *self)
{
	g_return_val_if_fail(KL_HTTP_IS_SERVER(self), NULL);
	return self->server;
}

KlHttpRouter *
kl_http_server_get_router(KlHttpServer *self)
{
	g_return_val_if_fail(KL_HTTP_IS_SERVER(self), NULL);
	return self->router;
}

/* The connection limits; connections still open keep it alive. */
KlHttpGuard *
kl_http_server_get_guard(KlHttpServer *self)
{
	g_return_val_if_fail(KL_HTTP_IS_SERVER(self), NULL);
	return self->guard;
}
