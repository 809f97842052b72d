/*
 * kl-http-server: a SoupServer for a Keylime daemon, set up from the
 * options Keylime's configuration gives (ip, port, TLS certificate and
 * key, trusted client CA, whether clients must present a certificate),
 * serving every path through a KlHttpRouter, GET /version included.
 */
#pragma once

#include "kl-http-guard.h"
#include "kl-http-router.h"

G_BEGIN_DECLS

/* pending connections the kernel queues for accept (capped by somaxconn) */
#define KL_HTTP_SERVER_LISTEN_BACKLOG 4096

typedef enum {
	KL_HTTP_CLIENT_CERT_NONE,     /* no client certificates asked for */
	KL_HTTP_CLIENT_CERT_OPTIONAL, /* verified if sent (upstream CERT_OPTIONAL) */
	KL_HTTP_CLIENT_CERT_REQUIRED, /* refused in the handshake without one */
} KlHttpClientCertMode;

typedef struct {
	const gchar *ip; /* an address literal; NULL: 127.0.0.1 */
	guint16 port;	 /* 0: any free port */
	gboolean tls;
	const gchar *server_cert;
	const gchar *server_key;
	const gchar *trusted_client_ca; /* needed unless client_cert is NONE */
	KlHttpClientCertMode client_cert;
	/* slow and idle clients (kl-http-guard.h); 0: the default */
	guint headers_timeout_ms; /* accept to first request headers, TLS handshake included: 10 s */
	guint idle_timeout_ms;	  /* keep-alive wait for the next request headers: 60 s */
	guint body_timeout_ms;	  /* request headers to the end of the body: 30 s */
	guint max_connections_per_client; /* simultaneous connections per IP address: 64 */
} KlHttpServerOptions;

#define KL_HTTP_TYPE_SERVER (kl_http_server_get_type())
G_DECLARE_FINAL_TYPE(KlHttpServer, kl_http_server, KL_HTTP, SERVER, GObject)

KlHttpServer *
kl_http_server_new(KlHttpRouter *router, const KlHttpServerOptions *options, GError **error);
gboolean kl_http_server_listen(KlHttpServer *self, GError **error);
void kl_http_server_stop(KlHttpServer *self);
guint16 kl_http_server_get_port(KlHttpServer *self);
gchar *kl_http_server_get_url(KlHttpServer *self);
SoupServer *kl_http_server_get_soup_server(KlHttpServer *self);
KlHttpRouter *kl_http_server_get_router(KlHttpServer *self);
KlHttpGuard *kl_http_server_get_guard(KlHttpServer *self);

G_END_DECLS
