/*
 * kl-tenant-registrar: GET an agent's registrar record and parse it (see
 * kl-tenant-registrar.h).
 */
#define G_LOG_DOMAIN "KlTenant"

#include "config.h"

#include <libsoup/soup.h>

#include "kl-tenant-registrar.h"

#include "engine/core/kl-api-version.h"
#include "engine/core/kl-base64.h"
#include "engine/core/kl-error.h"
#include "engine/core/kl-json.h"
#include "engine/core/kl-x509.h"
#include "engine/http/kl-http-tls.h"

/* an error reply's text quoted in a message */
#define KL_TENANT_REGISTRAR_MAX_QUOTED 200

void
kl_tenant_registrar_record_free(KlTenantRegistrarRecord *self)
{
	if (self == NULL)
		return;
	g_free(self->agent_id);
	g_free(self->aik_tpm);
	g_clear_pointer(&self->ak, kl_tpm_public_free);
	g_free(self->ek_tpm);
	g_clear_pointer(&self->ek, kl_tpm_public_free);
	g_free(self->ekcert);
	g_clear_pointer(&self->ek_certificate, X509_free);
	g_free(self->mtls_cert);
	g_free(self->ip);
	g_free(self);
}

static KlTpmPublic *
kl_tenant_registrar_decode_public(const gchar *name, const gchar *b64, GError **error)
{
	g_autoptr(GBytes) raw = NULL;
	g_autoptr(GError) error_local = NULL;
	KlTpmPublic *pub;

	raw = kl_base64_decode(b64, -1, KL_BASE64_FLAG_NONE, &error_local);
	if (raw == NULL) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "registrar record: %s: %s",
			    name,
			    error_local->message);
		return NULL;
	}
	pub = kl_tpm_public_new_from_data(g_bytes_get_data(raw, NULL),
					  g_bytes_get_size(raw),
					  &error_local);
	if (pub == NULL) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "registrar record: %s: %s",
			    name,
			    error_local->message);
		return NULL;
	}
	return pub;
}

static gboolean
kl_tenant_registrar_dup_string(JsonObject *results,
			       const gchar *member,
			       gchar **value,
			       GError **error)
{
	g_autoptr(GError) error_local = NULL;
	const gchar *text = NULL;

	if (!kl_json_object_get_string(results, member, &text, &error_local)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "registrar record: %s",
			    error_local->message);
		return FALSE;
	}
	*value = g_strdup(text);
	return TRUE;
}

/* "port" is an integer or a decimal string (upstream stores either). */
static gboolean
kl_tenant_registrar_get_port(JsonObject *results, guint16 *port, GError **error)
{
	JsonNode *node = json_object_get_member(results, "port");
	gint64 value = -1;
	const gchar *text;
	guint64 parsed = 0;

	if (node != NULL && JSON_NODE_HOLDS_VALUE(node) &&
	    json_node_get_value_type(node) == G_TYPE_STRING) {
		text = json_node_get_string(node);
		if (g_ascii_string_to_unsigned(text, 10, 1, G_MAXUINT16, &parsed, NULL))
			value = (gint64)parsed;
	} else if (!kl_json_object_get_int(results, "port", 1, G_MAXUINT16, &value, NULL)) {
		value = -1;
	}
	if (value < 1) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "registrar record: \"port\" is missing or not a port number");
		return FALSE;
	}
	*port = (guint16)value;
	return TRUE;
}

KlTenantRegistrarRecord *
kl_tenant_registrar_record_parse(const gchar *agent_id,
				 guint status,
				 const gchar *body,
				 gsize len,
				 GError **error)
{
	g_autoptr(KlTenantRegistrarRecord) record = g_new0(KlTenantRegistrarRecord, 1);
	g_autoptr(JsonObject) results = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *text = NULL;
	g_autofree gchar *quoted = NULL;
	const gchar *value = NULL;
	guint code = 0;

	g_return_val_if_fail(agent_id != NULL, NULL);
	g_return_val_if_fail(body != NULL || len == 0, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (!kl_json_envelope_parse(body != NULL ? body : "",
				    len,
				    KL_TENANT_REGISTRAR_MAX_REPLY,
				    &code,
				    &text,
				    &results,
				    &error_local)) {
		if (status == SOUP_STATUS_OK) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "registrar reply: %s",
				    error_local->message);
			return NULL;
		}
		text = g_strdup("(no Keylime reply)");
	}
	if (status != SOUP_STATUS_OK || code != SOUP_STATUS_OK) {
		quoted = g_utf8_make_valid(text, MIN(strlen(text), KL_TENANT_REGISTRAR_MAX_QUOTED));
		g_set_error(error,
			    KL_ERROR,
			    status == SOUP_STATUS_NOT_FOUND ? KL_ERROR_NOT_FOUND
							    : KL_ERROR_UNAVAILABLE,
			    status == SOUP_STATUS_NOT_FOUND
				    ? "agent %s is not registered or not activated (HTTP %u: %s)"
				    : "agent %s: registrar answered HTTP %u: %s",
			    agent_id,
			    status,
			    quoted);
		return NULL;
	}
	if (results == NULL) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "registrar reply: no results");
		return NULL;
	}

	/* upstream's mandatory keys: aik_tpm, regcount, ek_tpm, ip, port */
	if (!kl_tenant_registrar_dup_string(results, "aik_tpm", &record->aik_tpm, error) ||
	    !kl_tenant_registrar_dup_string(results, "ek_tpm", &record->ek_tpm, error) ||
	    !kl_tenant_registrar_dup_string(results, "ip", &record->ip, error))
		return NULL;
	if (!kl_json_object_get_int(results,
				    "regcount",
				    0,
				    G_MAXINT64,
				    &record->regcount,
				    &error_local)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "registrar record: %s",
			    error_local->message);
		return NULL;
	}
	if (record->ip[0] == '\0') {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "registrar record: empty \"ip\"");
		return NULL;
	}
	if (!kl_tenant_registrar_get_port(results, &record->port, error))
		return NULL;
	record->ak = kl_tenant_registrar_decode_public("aik_tpm", record->aik_tpm, error);
	if (record->ak == NULL)
		return NULL;
	record->ek = kl_tenant_registrar_decode_public("ek_tpm", record->ek_tpm, error);
	if (record->ek == NULL)
		return NULL;

	if (!kl_json_object_get_optional_string(results, "ekcert", &value, &error_local)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "registrar record: %s",
			    error_local->message);
		return NULL;
	}
	if (value != NULL && value[0] != '\0') {
		record->ekcert = g_strdup(value);
		record->ek_certificate = kl_x509_load_pem_or_base64_der(value, &error_local);
		if (record->ek_certificate == NULL) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "registrar record: ekcert: %s",
				    error_local->message);
			return NULL;
		}
	}
	if (!kl_json_object_get_optional_string(results, "mtls_cert", &value, &error_local)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "registrar record: %s",
			    error_local->message);
		return NULL;
	}
	if (g_strcmp0(value, "disabled") == 0)
		record->mtls_disabled = TRUE;
	else if (value != NULL && value[0] != '\0')
		record->mtls_cert = g_strdup(value);

	/* a record for another agent is no answer to our question */
	if (!kl_json_object_get_optional_string(results, "agent_id", &value, &error_local) ||
	    (value != NULL && g_strcmp0(value, agent_id) != 0)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "registrar record: \"agent_id\" is not %s",
			    agent_id);
		return NULL;
	}
	record->agent_id = g_strdup(agent_id);
	return g_steal_pointer(&record);
}

typedef struct {
	gchar *agent_id;
	gchar *url;
	SoupSession *session;
	SoupMessage *msg;
} KlTenantRegistrarGet;

static void
kl_tenant_registrar_get_free(gpointer data)
{
	KlTenantRegistrarGet *get = data;

	g_free(get->agent_id);
	g_free(get->url);
	g_clear_object(&get->msg);
	g_clear_object(&get->session);
	g_free(get);
}

static void
kl_tenant_registrar_get_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	KlTenantRegistrarGet *get = g_task_get_task_data(task);
	g_autoptr(GBytes) body = NULL;
	GError *error = NULL;
	KlTenantRegistrarRecord *record;

	body = soup_session_send_and_read_finish(SOUP_SESSION(source), result, &error);
	if (body == NULL) {
		g_prefix_error(&error, "registrar %s: ", get->url);
		g_task_return_error(task, error);
		return;
	}
	record = kl_tenant_registrar_record_parse(get->agent_id,
						  soup_message_get_status(get->msg),
						  g_bytes_get_data(body, NULL),
						  g_bytes_get_size(body),
						  &error);
	if (record == NULL) {
		g_task_return_error(task, error);
		return;
	}
	g_task_return_pointer(task, record, (GDestroyNotify)kl_tenant_registrar_record_free);
}

void
kl_tenant_registrar_get_agent_async(const KlTenantRegistrarTarget *target,
				    const gchar *agent_id,
				    GCancellable *cancellable,
				    GAsyncReadyCallback callback,
				    gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(NULL, cancellable, callback, user_data);
	KlTenantRegistrarGet *get = g_new0(KlTenantRegistrarGet, 1);
	KlApiVersion current = KL_API_VERSION_CURRENT;
	gchar version[KL_API_VERSION_STRING_SIZE];
	g_autofree gchar *escaped = NULL;
	g_autofree gchar *host = NULL;
	GError *error = NULL;

	g_return_if_fail(target != NULL && target->host != NULL && agent_id != NULL);

	g_task_set_source_tag(task, kl_tenant_registrar_get_agent_async);
	g_task_set_task_data(task, get, kl_tenant_registrar_get_free);
	get->agent_id = g_strdup(agent_id);
	escaped = g_uri_escape_string(agent_id, NULL, FALSE);
	host = strchr(target->host, ':') != NULL ? g_strdup_printf("[%s]", target->host)
						 : g_strdup(target->host);
	/* upstream's tenant asks at the current API version */
	get->url = g_strdup_printf("https://%s:%u/v%s/agents/%s",
				   host,
				   target->port,
				   kl_api_version_to_string(&current, version),
				   escaped);
	if (target->ca_path != NULL)
		get->session = kl_http_client_session_new(target->ca_path, &error);
	else
		get->session = soup_session_new();
	if (get->session == NULL) {
		g_task_return_error(task, error);
		return;
	}
	if (target->timeout > 0)
		soup_session_set_timeout(get->session, (guint)MAX(1.0, target->timeout));
	get->msg = soup_message_new(SOUP_METHOD_GET, get->url);
	if (get->msg == NULL) {
		g_task_return_new_error(task,
					KL_ERROR,
					KL_ERROR_INVALID_ARGUMENT,
					"registrar %s: not a valid URL",
					get->url);
		return;
	}
	/* Keylime identifies the registrar by its CA (check_hostname off) */
	if (soup_session_get_tls_database(get->session) != NULL)
		kl_http_message_ignore_server_name(get->msg,
						   soup_session_get_tls_database(get->session));
	if (target->client_cert != NULL &&
	    !kl_http_message_set_client_certificate(get->msg,
						    target->client_cert,
						    target->client_key,
						    &error)) {
		g_task_return_error(task, error);
		return;
	}
	soup_session_send_and_read_async(get->session,
					 get->msg,
					 G_PRIORITY_DEFAULT,
					 cancellable,
					 kl_tenant_registrar_get_cb,
					 g_steal_pointer(&task));
}

KlTenantRegistrarRecord *
kl_tenant_registrar_get_agent_finish(GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, NULL), NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}
