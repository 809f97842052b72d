/*
 * kl-http-tls: mutual TLS for libsoup 3.2 servers and clients.
 *
 * Works around libsoup 3.2.3's behaviour: the server must answer
 * SoupServerMessage::accept-certificate itself (or every client is refused),
 * and the peer certificate is only reported for the first request on a
 * keep-alive connection, so it is kept on the connection's socket.
 *
 * Clients can pin a server's certificate instead of trusting a CA (the
 * verifier and the tenant with an agent's registered mtls_cert): the
 * session must have no TLS database (tls-database NULL), so that every
 * handshake asks the message's accept-certificate, which accepts exactly
 * the pinned certificate; a message sent on a reused connection is checked
 * again with kl_http_message_peer_is_pinned() once its headers arrived.
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
GTlsCertificate *
kl_http_tls_certificate_new(const gchar *cert_path, const gchar *key_path, GError **error);
gboolean kl_http_message_set_client_certificate(SoupMessage *msg,
						const gchar *cert_path,
						const gchar *key_path,
						GError **error);

void kl_http_message_pin_certificate(SoupMessage *msg, GTlsCertificate *pinned);
/* Accept a server certificate that chains to @ca (the session's
 * tls-database) whatever names it holds, as upstream's check_hostname off. */
void kl_http_message_ignore_server_name(SoupMessage *msg, GTlsDatabase *ca);
gboolean kl_http_message_pin_refused(SoupMessage *msg);
gboolean kl_http_message_peer_is_pinned(SoupMessage *msg, GTlsCertificate *pinned);

G_END_DECLS
