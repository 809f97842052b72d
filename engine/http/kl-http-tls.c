/*
 * mTLS helpers on libsoup 3.2 and glib-networking (GnuTLS): CA databases,
 * required client certificates on servers, client certificates on
 * requests.  See kl-http-tls.h for the libsoup quirks handled here.
 */
#define G_LOG_DOMAIN "KlHttp"

#include "config.h"

#include "kl-error.h"
#include "kl-http-tls.h"

/* object data keys */
#define KL_HTTP_PEER_CERTIFICATE_KEY "kl-http-peer-certificate"
#define KL_HTTP_REQUIRE_CLIENT_KEY   "kl-http-require-client-certificate"
#define KL_HTTP_PIN_REFUSED_KEY	     "kl-http-pin-refused"

GTlsDatabase *
kl_http_tls_database_new(const gchar *ca_path, GError **error)
{
	g_autofree gchar *path = NULL;
	GList *certs;
	GError *error_local = NULL;

	g_return_val_if_fail(ca_path != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	/* a relative path gives a database that silently trusts nothing */
	path = g_canonicalize_filename(ca_path, NULL);
	certs = g_tls_certificate_list_new_from_file(path, &error_local);
	if (error_local != NULL) {
		g_propagate_prefixed_error(error, error_local, "CA file %s: ", path);
		return NULL;
	}
	if (certs == NULL) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "CA file %s: no certificate found",
			    path);
		return NULL;
	}
	g_list_free_full(certs, g_object_unref);
	return g_tls_file_database_new(path, error);
}

static gboolean
kl_http_server_accept_certificate_cb(SoupServerMessage *msg,
				     GTlsCertificate *peer,
				     GTlsCertificateFlags errors,
				     gpointer user_data)
{
	GSocket *socket;

	if (errors != 0) {
		g_debug("refusing client certificate: TLS errors 0x%x", (guint)errors);
		return FALSE;
	}
	/* libsoup reports the peer certificate for the first request on a
	 * connection only; keep it with the connection's socket */
	socket = soup_server_message_get_socket(msg);
	if (socket != NULL && peer != NULL) {
		g_object_set_data_full(G_OBJECT(socket),
				       KL_HTTP_PEER_CERTIFICATE_KEY,
				       g_object_ref(peer),
				       g_object_unref);
	}
	return TRUE;
}

/* The first message of a connection is created, and request-started
 * emitted, before the TLS handshake that emits accept-certificate. */
static void
kl_http_server_request_started_cb(SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
	g_signal_connect(msg,
			 "accept-certificate",
			 G_CALLBACK(kl_http_server_accept_certificate_cb),
			 NULL);
}

/* REQUIRED refuses clients without a certificate in the handshake;
 * REQUESTED (Keylime's CERT_OPTIONAL) lets them in, and routes decide. */
gboolean
kl_http_server_set_client_certificate_mode(SoupServer *server,
					   GTlsDatabase *ca,
					   GTlsAuthenticationMode mode,
					   GError **error)
{
	g_return_val_if_fail(SOUP_IS_SERVER(server), FALSE);
	g_return_val_if_fail(G_IS_TLS_DATABASE(ca), FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	if (soup_server_get_tls_certificate(server) == NULL) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "client certificates need a server with a TLS certificate");
		return FALSE;
	}
	soup_server_set_tls_database(server, ca);
	soup_server_set_tls_auth_mode(server, mode);
	if (g_object_get_data(G_OBJECT(server), KL_HTTP_REQUIRE_CLIENT_KEY) == NULL) {
		g_signal_connect(server,
				 "request-started",
				 G_CALLBACK(kl_http_server_request_started_cb),
				 NULL);
		g_object_set_data(G_OBJECT(server), KL_HTTP_REQUIRE_CLIENT_KEY, GINT_TO_POINTER(1));
	}
	return TRUE;
}

gboolean
kl_http_server_require_client_certificate(SoupServer *server, GTlsDatabase *ca, GError **error)
{
	return kl_http_server_set_client_certificate_mode(server,
							  ca,
							  G_TLS_AUTHENTICATION_REQUIRED,
							  error);
}

GTlsCertificate *
kl_http_server_message_get_peer_certificate(SoupServerMessage *msg)
{
	GTlsCertificate *peer;
	GSocket *socket;

	g_return_val_if_fail(SOUP_IS_SERVER_MESSAGE(msg), NULL);

	peer = soup_server_message_get_tls_peer_certificate(msg);
	if (peer != NULL)
		return peer;
	socket = soup_server_message_get_socket(msg);
	if (socket == NULL)
		return NULL;
	return g_object_get_data(G_OBJECT(socket), KL_HTTP_PEER_CERTIFICATE_KEY);
}

SoupSession *
kl_http_client_session_new(const gchar *ca_path, GError **error)
{
	g_autoptr(GTlsDatabase) ca = NULL;

	g_return_val_if_fail(ca_path != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	ca = kl_http_tls_database_new(ca_path, error);
	if (ca == NULL)
		return NULL;
	return soup_session_new_with_options("tls-database", ca, NULL);
}

/* A certificate and its private key from PEM files, loaded once. */
GTlsCertificate *
kl_http_tls_certificate_new(const gchar *cert_path, const gchar *key_path, GError **error)
{
	GTlsCertificate *cert;

	g_return_val_if_fail(cert_path != NULL, NULL);
	g_return_val_if_fail(key_path != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	cert = g_tls_certificate_new_from_files(cert_path, key_path, error);
	if (cert == NULL)
		g_prefix_error(error, "client certificate %s with key %s: ", cert_path, key_path);
	return cert;
}

gboolean
kl_http_message_set_client_certificate(SoupMessage *msg,
				       const gchar *cert_path,
				       const gchar *key_path,
				       GError **error)
{
	g_autoptr(GTlsCertificate) cert = NULL;

	g_return_val_if_fail(SOUP_IS_MESSAGE(msg), FALSE);

	cert = kl_http_tls_certificate_new(cert_path, key_path, error);
	if (cert == NULL)
		return FALSE;
	soup_message_set_tls_client_certificate(msg, cert);
	return TRUE;
}

static gboolean
kl_http_message_pinned_accept_cb(SoupMessage *msg,
				 GTlsCertificate *peer,
				 GTlsCertificateFlags errors,
				 gpointer user_data)
{
	GTlsCertificate *pinned = G_TLS_CERTIFICATE(user_data);

	/* the pin stands for the CA and the host name check (check_hostname
	 * off upstream); the validity period still counts, as it does for
	 * OpenSSL with the certificate as its only CA */
	errors &= ~(G_TLS_CERTIFICATE_UNKNOWN_CA | G_TLS_CERTIFICATE_BAD_IDENTITY);
	if (errors == 0 && peer != NULL && g_tls_certificate_is_same(peer, pinned))
		return TRUE;
	g_debug("refusing server certificate: %s",
		errors != 0 ? "not valid now" : "not the pinned certificate");
	g_object_set_data(G_OBJECT(msg), KL_HTTP_PIN_REFUSED_KEY, GINT_TO_POINTER(1));
	return FALSE;
}

/* Accepts exactly @pinned as the server's certificate for @msg. */
void
kl_http_message_pin_certificate(SoupMessage *msg, GTlsCertificate *pinned)
{
	g_return_if_fail(SOUP_IS_MESSAGE(msg));
	g_return_if_fail(G_IS_TLS_CERTIFICATE(pinned));

	g_signal_connect_data(msg,
			      "accept-certificate",
			      G_CALLBACK(kl_http_message_pinned_accept_cb),
			      g_object_ref(pinned),
			      (GClosureNotify)(void (*)(void))g_object_unref,
			      0);
}

static gboolean
kl_http_message_chain_accept_cb(SoupMessage *msg,
				GTlsCertificate *peer,
				GTlsCertificateFlags errors,
				gpointer user_data)
{
	GTlsDatabase *ca = G_TLS_DATABASE(user_data);
	g_autoptr(GError) error = NULL;
	GTlsCertificateFlags chain;

	if (peer == NULL)
		return FALSE;
	/* the chain again, without a peer identity: only the name may differ */
	chain = g_tls_database_verify_chain(ca,
					    peer,
					    G_TLS_DATABASE_PURPOSE_AUTHENTICATE_SERVER,
					    NULL,
					    NULL,
					    G_TLS_DATABASE_VERIFY_NONE,
					    NULL,
					    &error);
	if (error != NULL || chain != 0) {
		g_debug("refusing server certificate: TLS errors 0x%x",
			(guint)(error != NULL ? errors : chain));
		return FALSE;
	}
	return TRUE;
}

/* Keylime identifies servers by their CA, not their name (upstream's
 * check_hostname off): @msg accepts a server certificate that chains to
 * @ca whatever names it holds.  The session's tls-database is @ca. */
void
kl_http_message_ignore_server_name(SoupMessage *msg, GTlsDatabase *ca)
{
	g_return_if_fail(SOUP_IS_MESSAGE(msg));
	g_return_if_fail(G_IS_TLS_DATABASE(ca));

	g_signal_connect_data(msg,
			      "accept-certificate",
			      G_CALLBACK(kl_http_message_chain_accept_cb),
			      g_object_ref(ca),
			      (GClosureNotify)(void (*)(void))g_object_unref,
			      0);
}

/* Whether the handshake failed because of the pin. */
gboolean
kl_http_message_pin_refused(SoupMessage *msg)
{
	g_return_val_if_fail(SOUP_IS_MESSAGE(msg), FALSE);
	return g_object_get_data(G_OBJECT(msg), KL_HTTP_PIN_REFUSED_KEY) != NULL;
}

/* After the response headers: the connection's peer is @pinned. */
gboolean
kl_http_message_peer_is_pinned(SoupMessage *msg, GTlsCertificate *pinned)
{
	GTlsCertificate *peer;

	g_return_val_if_fail(SOUP_IS_MESSAGE(msg), FALSE);
	g_return_val_if_fail(G_IS_TLS_CERTIFICATE(pinned), FALSE);

	peer = soup_message_get_tls_peer_certificate(msg);
	return peer != NULL && g_tls_certificate_is_same(peer, pinned);
}
