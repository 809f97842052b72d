/*
 * kl-http-tls: mutual TLS for libsoup 3.2 servers and clients.
 *
 * Works around libsoup 3.2.3's behaviour: the server must answer
 * SoupServerMessage::accept-certificate itself (or every client is refused),
 * and the peer certificate is only reported for the first request on a
 * keep-alive connection, so it is kept on the connection's socket.
 */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

GTlsDatabase *kl_http_tls_database_new(const gchar *ca_path, GError **error);

gboolean
kl_http_server_require_client_certificate(SoupServer *server, GTlsDatabase *ca, GError **error);
gboolean kl_http_server_set_client_certificate_mode(SoupServer *server,
						    GTlsDatabase *ca,
						    GTlsAuthenticationMode mode,
						    GError **error);
GTlsCertificate *kl_http_server_message_get_peer_certificate(SoupServerMessage *msg);

SoupSession *kl_http_client_session_new(const gchar *ca_path, GError **error);
gboolean kl_http_message_set_client_certificate(SoupMessage *msg,
						const gchar *cert_path,
						const gchar *key_path,
						GError **error);

G_END_DECLS
