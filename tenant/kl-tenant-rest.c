/*
 * keylime_tenant's mTLS JSON requests (see kl-tenant-rest.h).
 */
#include "config.h"

#include <string.h>

#include <libsoup/soup.h>

#include "kl-api-version.h"
#include "kl-error.h"
#include "kl-http-tls.h"
#include "kl-json.h"
#include "kl-tenant-rest.h"

struct _KlTenantRest {
	gchar *what;
	gchar *base; /* https://host:port/vX.Y */
	SoupSession *session;
	gchar *client_cert;
	gchar *client_key;
};

void
kl_tenant_rest_free(KlTenantRest *self)
{
	if (self == NULL)
		return;
	g_free(self->what);
	g_free(self->base);
	g_clear_object(&self->session);
	g_free(self->client_cert);
	g_free(self->client_key);
	g_free(self);
}

void
kl_tenant_reply_free(KlTenantReply *reply)
{
	if (reply == NULL)
		return;
	g_free(reply->message);
	g_clear_pointer(&reply->results, json_node_unref);
	g_free(reply);
}

KlTenantRest *
kl_tenant_rest_new(const gchar *what,
		   const gchar *host,
		   guint16 port,
		   const gchar *ca_path,
		   const gchar *client_cert,
		   const gchar *client_key,
		   gdouble timeout,
		   GError **error)
{
	g_autoptr(KlTenantRest) self = g_new0(KlTenantRest, 1);
	KlApiVersion current = KL_API_VERSION_CURRENT;
	gchar version[KL_API_VERSION_STRING_SIZE];
	gboolean ipv6 = strchr(host, ':') != NULL;

	self->what = g_strdup(what);
	self->base = g_strdup_printf("https://%s%s%s:%u/v%s",
				     ipv6 ? "[" : "",
				     host,
				     ipv6 ? "]" : "",
				     port,
				     kl_api_version_to_string(&current, version));
	self->session = kl_http_client_session_new(ca_path, error);
	if (self->session == NULL) {
		g_prefix_error(error, "%s: trusted_server_ca: ", what);
		return NULL;
	}
	if (timeout > 0)
		soup_session_set_timeout(self->session, (guint)MAX(1.0, timeout));
	self->client_cert = g_strdup(client_cert);
	self->client_key = g_strdup(client_key);
	return g_steal_pointer(&self);
}

/* The body, at most KL_TENANT_REST_MAX_REPLY bytes. */
static GBytes *
kl_tenant_rest_read(KlTenantRest *self, GInputStream *stream, GError **error)
{
	g_autoptr(GByteArray) data = g_byte_array_new();
	guint8 buffer[16384];

	for (;;) {
		gssize n = g_input_stream_read(stream, buffer, sizeof buffer, NULL, error);

		if (n < 0)
			return NULL;
		if (n == 0)
			break;
		if (data->len + (gsize)n > KL_TENANT_REST_MAX_REPLY) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_TOO_LARGE,
				    "%s: reply larger than %d bytes",
				    self->what,
				    KL_TENANT_REST_MAX_REPLY);
			return NULL;
		}
		g_byte_array_append(data, buffer, (guint)n);
	}
	return g_byte_array_free_to_bytes(g_steal_pointer(&data));
}

KlTenantReply *
kl_tenant_rest_request(KlTenantRest *self,
		       const gchar *method,
		       const gchar *path,
		       JsonNode *body,
		       GError **error)
{
	g_autoptr(KlTenantReply) reply = g_new0(KlTenantReply, 1);
	g_autofree gchar *url = g_strconcat(self->base, path, NULL);
	g_autoptr(SoupMessage) msg = soup_message_new(method, url);
	g_autoptr(GInputStream) stream = NULL;
	g_autoptr(GBytes) data = NULL;
	g_autoptr(JsonObject) envelope = NULL;
	g_autoptr(GError) error_local = NULL;
	JsonNode *results;
	const gchar *text;
	gsize len = 0;

	if (msg == NULL) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "%s: %s is not a valid URL",
			    self->what,
			    url);
		return NULL;
	}
	kl_http_message_ignore_server_name(msg, soup_session_get_tls_database(self->session));
	if (self->client_cert != NULL && !kl_http_message_set_client_certificate(msg,
										 self->client_cert,
										 self->client_key,
										 error)) {
		g_prefix_error(error, "%s: ", self->what);
		return NULL;
	}
	if (body != NULL) {
		g_autofree gchar *json = kl_json_node_to_string(body, FALSE);
		gsize json_len = strlen(json);
		g_autoptr(GBytes) bytes = g_bytes_new_take(g_steal_pointer(&json), json_len);

		soup_message_set_request_body_from_bytes(msg, "application/json", bytes);
	}
	/* one request per connection: the daemons bound idle keep-alives */
	soup_message_headers_replace(soup_message_get_request_headers(msg), "Connection", "close");
	stream = soup_session_send(self->session, msg, NULL, error);
	if (stream == NULL) {
		g_prefix_error(error, "%s %s %s: ", self->what, method, url);
		return NULL;
	}
	data = kl_tenant_rest_read(self, stream, error);
	if (data == NULL)
		return NULL;
	reply->status = soup_message_get_status(msg);
	text = g_bytes_get_data(data, &len);
	if (len == 0) {
		reply->message = g_strdup(soup_message_get_reason_phrase(msg));
		return g_steal_pointer(&reply);
	}
	envelope = kl_json_parse_object(text,
					len,
					KL_TENANT_REST_MAX_REPLY,
					KL_JSON_DEFAULT_MAX_DEPTH,
					&error_local);
	if (envelope == NULL) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "%s %s %s: HTTP %u, not a Keylime reply: %s",
			    self->what,
			    method,
			    url,
			    reply->status,
			    error_local->message);
		return NULL;
	}
	text = NULL;
	if (!kl_json_object_get_optional_string(envelope, "status", &text, &error_local)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "%s %s %s: %s",
			    self->what,
			    method,
			    url,
			    error_local->message);
		return NULL;
	}
	reply->message = g_strdup(text != NULL ? text : "");
	results = json_object_get_member(envelope, "results");
	if (results != NULL)
		reply->results = json_node_copy(results);
	return g_steal_pointer(&reply);
}

gboolean
kl_tenant_rest_error_is_unreachable(const GError *error)
{
	if (error == NULL)
		return FALSE;
	if (error->domain == G_RESOLVER_ERROR || error->domain == G_TLS_ERROR)
		return TRUE;
	if (error->domain == KL_ERROR)
		return error->code == KL_ERROR_TIMED_OUT || error->code == KL_ERROR_UNAVAILABLE;
	if (error->domain != G_IO_ERROR)
		return FALSE;
	switch (error->code) {
	case G_IO_ERROR_CONNECTION_REFUSED:
	case G_IO_ERROR_HOST_UNREACHABLE:
	case G_IO_ERROR_NETWORK_UNREACHABLE:
	case G_IO_ERROR_TIMED_OUT:
	case G_IO_ERROR_CONNECTION_CLOSED:
	case G_IO_ERROR_NOT_CONNECTED:
		return TRUE;
	default:
		return FALSE;
	}
}
