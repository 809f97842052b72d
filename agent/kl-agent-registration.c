/*
 * Registration as a chain of asynchronous steps on one GTask: version,
 * register, activate; any failure restarts the chain after a delay until
 * the retries run out.
 */
#include "config.h"

#include <libsoup/soup.h>

#include "kl-agent-registration.h"
#include "kl-api-version.h"
#include "kl-base64.h"
#include "kl-error.h"
#include "kl-json.h"
#include "kl-makecredential.h"

#define KL_AGENT_REGISTRATION_TIMEOUT_S 60

typedef struct {
	KlAgentRegistrationOptions options;
	SoupSession *session;
	KlApiVersion version;
	guint attempt;
	guint delay_ms;
	gchar *path; /* /v2.x/agents/<id> */
} KlAgentRegistration;

static void
kl_agent_registration_free(gpointer data)
{
	KlAgentRegistration *reg = data;

	g_clear_object(&reg->session);
	g_free(reg->path);
	g_free(reg);
}

static void kl_agent_registration_start(GTask *task);

static gboolean
kl_agent_registration_retry_cb(gpointer user_data)
{
	kl_agent_registration_start(G_TASK(user_data));
	return G_SOURCE_REMOVE;
}

/* Ends the attempt: retried later, or the task fails with @error. */
static void
kl_agent_registration_failed(GTask *task, GError *error)
{
	KlAgentRegistration *reg = g_task_get_task_data(task);

	if (g_task_return_error_if_cancelled(task)) {
		g_error_free(error);
		g_object_unref(task);
		return;
	}
	if (reg->attempt > reg->options.max_retries) {
		g_prefix_error(&error, "registration failed after %u attempts: ", reg->attempt);
		g_task_return_error(task, error);
		g_object_unref(task);
		return;
	}
	g_warning("registration attempt %u: %s; retrying in %u ms",
		  reg->attempt,
		  error->message,
		  reg->delay_ms);
	g_error_free(error);
	g_timeout_add(reg->delay_ms, kl_agent_registration_retry_cb, task);
	reg->delay_ms = MIN(reg->delay_ms * 2, reg->options.max_delay_ms);
}

/* The envelope's results from a reply, or an error naming the step. */
static JsonObject *
kl_agent_registration_parse_reply(SoupMessage *msg, GBytes *body, const gchar *step, GError **error)
{
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *text = NULL;
	JsonObject *results = NULL;
	guint code = 0;
	gsize len = 0;
	const gchar *data = g_bytes_get_data(body, &len);

	if (!kl_json_envelope_parse(data,
				    len,
				    KL_JSON_DEFAULT_MAX_SIZE,
				    &code,
				    &text,
				    &results,
				    &error_local)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_UNAVAILABLE,
			    "%s: HTTP %u, not a Keylime reply: %s",
			    step,
			    soup_message_get_status(msg),
			    error_local->message);
		return NULL;
	}
	if (soup_message_get_status(msg) != SOUP_STATUS_OK) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_UNAVAILABLE,
			    "%s: HTTP %u: %s",
			    step,
			    soup_message_get_status(msg),
			    text);
		json_object_unref(results);
		return NULL;
	}
	return results;
}

static void
kl_agent_registration_send(GTask *task,
			   const gchar *method,
			   const gchar *path,
			   JsonNode *body,
			   GAsyncReadyCallback callback)
{
	KlAgentRegistration *reg = g_task_get_task_data(task);
	g_autofree gchar *url = g_strconcat(reg->options.registrar_url, path, NULL);
	g_autoptr(SoupMessage) msg = soup_message_new(method, url);

	if (msg == NULL) {
		kl_agent_registration_failed(task,
					     g_error_new(KL_ERROR,
							 KL_ERROR_INVALID_ARGUMENT,
							 "registrar URL %s is not valid",
							 url));
		return;
	}
	if (body != NULL) {
		g_autofree gchar *text = kl_json_node_to_string(body, FALSE);
		gsize len = strlen(text);

		soup_message_set_request_body_from_bytes(
			msg,
			"application/json",
			g_bytes_new_take(g_steal_pointer(&text), len));
	}
	g_object_set_data_full(G_OBJECT(task), "message", g_object_ref(msg), g_object_unref);
	soup_session_send_and_read_async(reg->session,
					 msg,
					 G_PRIORITY_DEFAULT,
					 g_task_get_cancellable(task),
					 callback,
					 task);
}

static JsonObject *
kl_agent_registration_finish_step(GTask *task,
				  GAsyncResult *result,
				  const gchar *step,
				  GError **error)
{
	KlAgentRegistration *reg = g_task_get_task_data(task);
	SoupMessage *msg = g_object_get_data(G_OBJECT(task), "message");
	g_autoptr(GBytes) body = NULL;

	body = soup_session_send_and_read_finish(reg->session, result, error);
	if (body == NULL) {
		g_prefix_error(error, "%s: ", step);
		return NULL;
	}
	return kl_agent_registration_parse_reply(msg, body, step, error);
}

static void
kl_agent_registration_activated_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	GTask *task = G_TASK(user_data);
	KlAgentRegistration *reg = g_task_get_task_data(task);
	g_autoptr(JsonObject) results = NULL;
	GError *error = NULL;

	results = kl_agent_registration_finish_step(task, result, "activation", &error);
	if (results == NULL) {
		kl_agent_registration_failed(task, error);
		return;
	}
	g_message("activated with the registrar as %s (API %u.%u)",
		  reg->options.agent_id,
		  reg->version.major,
		  reg->version.minor);
	g_task_return_boolean(task, TRUE);
	g_object_unref(task);
}

static void
kl_agent_registration_registered_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	GTask *task = G_TASK(user_data);
	KlAgentRegistration *reg = g_task_get_task_data(task);
	g_autoptr(JsonObject) results = NULL;
	g_autoptr(GBytes) blob = NULL;
	g_autoptr(KlSecret) secret = NULL;
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
	g_autoptr(JsonNode) body = NULL;
	g_autofree gchar *challenge = NULL;
	g_autofree gchar *auth_tag = NULL;
	const gchar *blob_b64 = NULL;
	GError *error = NULL;

	results = kl_agent_registration_finish_step(task, result, "registration", &error);
	if (results == NULL || !kl_json_object_get_string(results, "blob", &blob_b64, &error)) {
		kl_agent_registration_failed(task, error);
		return;
	}
	blob = kl_base64_decode(blob_b64, -1, KL_BASE64_FLAG_NONE, &error);
	if (blob == NULL) {
		g_prefix_error(&error, "blob: ");
		kl_agent_registration_failed(task, error);
		return;
	}
	secret = kl_tpm_activate_credential(reg->options.tpm, blob, &error);
	if (secret == NULL) {
		kl_agent_registration_failed(task, error);
		return;
	}
	challenge = g_strndup((const gchar *)kl_secret_get_data(secret, NULL),
			      kl_secret_get_size(secret));
	auth_tag = kl_makecredential_auth_tag(challenge, reg->options.agent_id, &error);
	if (auth_tag == NULL) {
		kl_agent_registration_failed(task, error);
		return;
	}
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "auth_tag");
	json_builder_add_string_value(builder, auth_tag);
	json_builder_end_object(builder);
	body = json_builder_get_root(builder);
	/* the route the Rust agent uses; upstream's registrar serves both */
	kl_agent_registration_send(task,
				   "PUT",
				   reg->path,
				   body,
				   kl_agent_registration_activated_cb);
}

static void
kl_agent_registration_add_base64(JsonBuilder *builder, const gchar *name, GBytes *bytes)
{
	g_autofree gchar *b64 =
		g_base64_encode(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes));

	json_builder_set_member_name(builder, name);
	json_builder_add_string_value(builder, b64);
}

static void
kl_agent_registration_version_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	GTask *task = G_TASK(user_data);
	KlAgentRegistration *reg = g_task_get_task_data(task);
	g_autoptr(JsonObject) results = NULL;
	g_auto(GStrv) theirs = NULL;
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
	g_autoptr(JsonNode) body = NULL;
	GBytes *ek_cert;
	gsize n_ours = 0;
	const KlApiVersion *ours = kl_api_version_agent_supported(&n_ours);
	gchar buffer[KL_API_VERSION_STRING_SIZE];
	GError *error = NULL;

	results = kl_agent_registration_finish_step(task, result, "registrar version", &error);
	if (results == NULL ||
	    !kl_json_object_get_string_array(results, "supported_versions", &theirs, &error) ||
	    !kl_api_version_pick_highest_common(ours,
						n_ours,
						(const gchar *const *)theirs,
						NULL,
						&reg->version,
						&error)) {
		kl_agent_registration_failed(task, error);
		return;
	}
	g_free(reg->path);
	reg->path = g_strdup_printf("/v%s/agents/%s",
				    kl_api_version_to_string(&reg->version, buffer),
				    reg->options.agent_id);

	json_builder_begin_object(builder);
	kl_agent_registration_add_base64(builder, "ek_tpm", kl_tpm_get_ek_public(reg->options.tpm));
	kl_agent_registration_add_base64(builder,
					 "aik_tpm",
					 kl_tpm_get_ak_public(reg->options.tpm));
	ek_cert = kl_tpm_get_ek_certificate(reg->options.tpm);
	if (ek_cert != NULL)
		kl_agent_registration_add_base64(builder, "ekcert", ek_cert);
	json_builder_set_member_name(builder, "mtls_cert");
	json_builder_add_string_value(builder,
				      reg->options.mtls_cert != NULL ? reg->options.mtls_cert
								     : "disabled");
	json_builder_set_member_name(builder, "ip");
	json_builder_add_string_value(builder, reg->options.contact_ip);
	json_builder_set_member_name(builder, "port");
	json_builder_add_int_value(builder, reg->options.contact_port);
	json_builder_end_object(builder);
	body = json_builder_get_root(builder);
	kl_agent_registration_send(task,
				   "POST",
				   reg->path,
				   body,
				   kl_agent_registration_registered_cb);
}

static void
kl_agent_registration_start(GTask *task)
{
	KlAgentRegistration *reg = g_task_get_task_data(task);

	reg->attempt++;
	kl_agent_registration_send(task, "GET", "/version", NULL, kl_agent_registration_version_cb);
}

void
kl_agent_register_async(const KlAgentRegistrationOptions *options,
			GCancellable *cancellable,
			GAsyncReadyCallback callback,
			gpointer user_data)
{
	GTask *task;
	KlAgentRegistration *reg;

	g_return_if_fail(options != NULL);
	g_return_if_fail(options->registrar_url != NULL && options->agent_id != NULL);
	g_return_if_fail(KL_IS_TPM(options->tpm));

	task = g_task_new(NULL, cancellable, callback, user_data);
	g_task_set_source_tag(task, kl_agent_register_async);
	reg = g_new0(KlAgentRegistration, 1);
	reg->options = *options;
	reg->delay_ms = MAX(options->initial_delay_ms, 1);
	reg->session = soup_session_new_with_options("timeout",
						     KL_AGENT_REGISTRATION_TIMEOUT_S,
						     "user-agent",
						     "keylime-c-agent/" PACKAGE_VERSION,
						     NULL);
	g_task_set_task_data(task, reg, kl_agent_registration_free);
	kl_agent_registration_start(task);
}

gboolean
kl_agent_register_finish(GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, NULL), FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}
