/*
 * EnrollAgent: the call's options checked at once, then polkit
 * (manage-agents), then the payload read from its descriptor, then the
 * tenant's flow with the call's options over the configured settings.
 * The call is answered when the flow ends: the agent's object path, or
 * the failed step's error (its message starts with the step's name).
 */
#include "config.h"

#include <string.h>

#include "kl-error.h"
#include "kl-verifier-dbus-enroll.h"

/* a certificate package is a zip: its local file header */
#define KL_VERIFIER_DBUS_ZIP_MAGIC "PK\003\004"

struct _KlVerifierDbusEnroll {
	KlVerifier *verifier;
	KlDBusVerifier1Manager *manager;
	KlDBusAuthMode auth_mode;
	GCancellable *cancellable;
	gulong handler_id;
	KlVerifierDbusEnrollConfig config;
	gpointer user_data;
	GDestroyNotify user_data_free;
};

/* One EnrollAgent call. */
typedef struct {
	KlVerifierDbusEnroll *self; /* valid while cancellable is not cancelled */
	GCancellable *cancellable;
	KlVerifier *verifier;
	KlDBusVerifier1Manager *manager;
	GDBusMethodInvocation *invocation;
	gchar *agent_id;
	gchar *runtime_policy_name;
	gchar *mb_policy_name;
	gchar *tpm_policy;
	gchar *metadata;       /* with cert_package: the package's, for the verifier */
	gchar *revocation_key; /* idem */
	gboolean cert_package;
	gboolean verify;
	gint32 handle;
	KlTenantEnrollment *enrollment;
} KlVerifierDbusEnrollCall;

static void
kl_verifier_dbus_enroll_call_free(KlVerifierDbusEnrollCall *call)
{
	g_clear_object(&call->cancellable);
	g_clear_object(&call->verifier);
	g_clear_object(&call->manager);
	/* answering the call consumes the reference */
	g_clear_object(&call->invocation);
	g_free(call->agent_id);
	g_free(call->runtime_policy_name);
	g_free(call->mb_policy_name);
	g_free(call->tpm_policy);
	g_free(call->metadata);
	g_free(call->revocation_key);
	if (call->enrollment != NULL)
		g_signal_handlers_disconnect_by_data(call->enrollment, call);
	g_clear_object(&call->enrollment);
	g_free(call);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlVerifierDbusEnrollCall, kl_verifier_dbus_enroll_call_free)

static void
kl_verifier_dbus_enroll_return_error(KlVerifierDbusEnrollCall *call, const GError *error)
{
	g_dbus_method_invocation_return_gerror(g_steal_pointer(&call->invocation), error);
}

static gboolean
kl_verifier_dbus_enroll_option(const gchar *key,
			       GVariant *value,
			       const GVariantType *type,
			       GError **error)
{
	if (g_variant_is_of_type(value, type))
		return TRUE;
	g_set_error(error,
		    KL_ERROR,
		    KL_ERROR_INVALID_ARGUMENT,
		    "option %s: expected type %.*s, got %s",
		    key,
		    (int)g_variant_type_get_string_length(type),
		    g_variant_type_peek_string(type),
		    g_variant_get_type_string(value));
	return FALSE;
}

/* The call's a{sv} into @call; unknown keys are refused by name. */
static gboolean
kl_verifier_dbus_enroll_parse(KlVerifierDbusEnrollCall *call, GVariant *options, GError **error)
{
	static const gchar *const string_keys[] = {"agent_id",
						   "runtime_policy_name",
						   "mb_policy_name",
						   "tpm_policy",
						   "metadata",
						   "revocation_key"};
	gchar **string_fields[] = {&call->agent_id,
				   &call->runtime_policy_name,
				   &call->mb_policy_name,
				   &call->tpm_policy,
				   &call->metadata,
				   &call->revocation_key};
	GVariantIter iter;
	const gchar *key;
	GVariant *value;

	g_variant_iter_init(&iter, options);
	while (g_variant_iter_next(&iter, "{&sv}", &key, &value)) {
		g_autoptr(GVariant) owned = value;
		gboolean known = FALSE;

		for (gsize i = 0; i < G_N_ELEMENTS(string_keys); i++) {
			if (!g_str_equal(key, string_keys[i]))
				continue;
			if (!kl_verifier_dbus_enroll_option(key,
							    owned,
							    G_VARIANT_TYPE_STRING,
							    error))
				return FALSE;
			g_free(*string_fields[i]);
			*string_fields[i] = g_variant_dup_string(owned, NULL);
			known = TRUE;
		}
		if (g_str_equal(key, "cert_package") || g_str_equal(key, "verify")) {
			if (!kl_verifier_dbus_enroll_option(key,
							    owned,
							    G_VARIANT_TYPE_BOOLEAN,
							    error))
				return FALSE;
			if (g_str_equal(key, "verify"))
				call->verify = g_variant_get_boolean(owned);
			else
				call->cert_package = g_variant_get_boolean(owned);
			known = TRUE;
		}
		if (!known) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "option %s: unknown",
				    key);
			return FALSE;
		}
	}
	if (call->agent_id == NULL || call->agent_id[0] == '\0') {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "option agent_id: required");
		return FALSE;
	}
	if ((call->metadata != NULL || call->revocation_key != NULL) && !call->cert_package) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "option %s: only with cert_package",
			    call->metadata != NULL ? "metadata" : "revocation_key");
		return FALSE;
	}
	if (call->metadata != NULL) {
		g_autoptr(JsonNode) metadata = json_from_string(call->metadata, NULL);

		if (metadata == NULL || !JSON_NODE_HOLDS_OBJECT(metadata)) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "option metadata: not a JSON object");
			return FALSE;
		}
	}
	return TRUE;
}

static void
kl_verifier_dbus_enroll_progress_cb(KlTenantEnrollment *enrollment,
				    const gchar *step,
				    const gchar *message,
				    gpointer user_data)
{
	KlVerifierDbusEnrollCall *call = user_data;

	kl_dbus_verifier1_manager_emit_enrollment_progress(call->manager,
							   call->agent_id,
							   step,
							   message);
}

/* The flow's verifier step: this verifier enrols the agent. */
static void
kl_verifier_dbus_enroll_verifier_step(KlTenantEnrollment *enrollment,
				      const gchar *agent_id,
				      JsonObject *body,
				      gpointer user_data)
{
	KlVerifierDbusEnrollCall *call = user_data;
	GError *error = NULL;

	kl_verifier_add_agent(call->verifier, agent_id, body, &error);
	kl_tenant_enrollment_verifier_done(enrollment, error);
}

static void
kl_verifier_dbus_enroll_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(KlVerifierDbusEnrollCall) call = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = NULL;

	if (!kl_tenant_enrollment_run_finish(KL_TENANT_ENROLLMENT(source), result, &error)) {
		kl_verifier_dbus_enroll_return_error(call, error);
		return;
	}
	path = kl_verifier_dbus_agent_path(call->agent_id);
	g_dbus_method_invocation_return_value(g_steal_pointer(&call->invocation),
					      g_variant_new("(o)", path));
}

/* The call's options over the configured settings. */
static KlTenantEnrollOptions *
kl_verifier_dbus_enroll_options(KlVerifierDbusEnrollCall *call, GBytes *payload, GError **error)
{
	KlVerifierDbusEnroll *self = call->self;
	g_autoptr(KlTenantEnrollOptions) options = self->config(self->user_data);
	gsize size = g_bytes_get_size(payload);

	if (call->cert_package && (size < strlen(KL_VERIFIER_DBUS_ZIP_MAGIC) ||
				   memcmp(g_bytes_get_data(payload, NULL),
					  KL_VERIFIER_DBUS_ZIP_MAGIC,
					  strlen(KL_VERIFIER_DBUS_ZIP_MAGIC)) != 0)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "payload: cert_package is set but the payload is not a zip file");
		return NULL;
	}
	g_free(options->agent_id);
	options->agent_id = g_strdup(call->agent_id);
	if (call->runtime_policy_name != NULL) {
		g_clear_pointer(&options->runtime_policy, g_free);
		g_free(options->runtime_policy_name);
		options->runtime_policy_name = g_strdup(call->runtime_policy_name);
	}
	if (call->mb_policy_name != NULL) {
		g_clear_pointer(&options->mb_policy, g_free);
		g_free(options->mb_policy_name);
		options->mb_policy_name = g_strdup(call->mb_policy_name);
	}
	if (call->tpm_policy != NULL) {
		g_free(options->tpm_policy);
		options->tpm_policy = g_strdup(call->tpm_policy);
	}
	options->verify = call->verify;
	g_clear_pointer(&options->payload_file, g_bytes_unref);
	if (size == 0) {
		options->payload_kind = KL_TENANT_PAYLOAD_NONE;
	} else {
		/* a package made elsewhere travels as a file does */
		options->payload_kind = KL_TENANT_PAYLOAD_FILE;
		options->payload_file = g_bytes_ref(payload);
		options->payload_metadata = g_strdup(call->metadata);
		options->payload_revocation_key = g_strdup(call->revocation_key);
	}
	return g_steal_pointer(&options);
}

static void
kl_verifier_dbus_enroll_payload_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(KlVerifierDbusEnrollCall) call = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) payload = kl_verifier_dbus_read_handle_finish(result, &error);
	KlTenantEnrollOptions *options;
	KlTenantEnrollment *enrollment;
	GCancellable *cancellable;

	/* once cancelled, call->self may be gone */
	if (payload != NULL && g_cancellable_set_error_if_cancelled(call->cancellable, &error))
		g_clear_pointer(&payload, g_bytes_unref);
	if (payload == NULL) {
		g_prefix_error(&error, "payload: ");
		kl_verifier_dbus_enroll_return_error(call, error);
		return;
	}
	options = kl_verifier_dbus_enroll_options(call, payload, &error);
	if (options == NULL) {
		kl_verifier_dbus_enroll_return_error(call, error);
		return;
	}
	call->enrollment = kl_tenant_enrollment_new(options,
						    kl_verifier_dbus_enroll_verifier_step,
						    call,
						    NULL);
	g_signal_connect(call->enrollment,
			 "progress",
			 G_CALLBACK(kl_verifier_dbus_enroll_progress_cb),
			 call);
	enrollment = call->enrollment;
	cancellable = call->cancellable;
	kl_tenant_enrollment_run_async(enrollment,
				       cancellable,
				       kl_verifier_dbus_enroll_done_cb,
				       g_steal_pointer(&call));
}

static void
kl_verifier_dbus_enroll_authorized_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(KlVerifierDbusEnrollCall) call = user_data;
	g_autoptr(GError) error = NULL;
	GDBusMethodInvocation *invocation = call->invocation;
	GCancellable *cancellable = call->cancellable;
	gint32 handle = call->handle;

	if (!kl_dbus_auth_check_finish(result, &error)) {
		kl_verifier_dbus_enroll_return_error(call, error);
		return;
	}
	kl_verifier_dbus_read_handle_async(invocation,
					   handle,
					   KL_TENANT_MAX_PAYLOAD_SIZE,
					   cancellable,
					   kl_verifier_dbus_enroll_payload_cb,
					   g_steal_pointer(&call));
}

static gboolean
kl_verifier_dbus_enroll_handle(KlDBusVerifier1Manager *manager,
			       GDBusMethodInvocation *invocation,
			       GVariant *options,
			       GVariant *payload,
			       gpointer user_data)
{
	KlVerifierDbusEnroll *self = user_data;
	g_autoptr(KlVerifierDbusEnrollCall) call = g_new0(KlVerifierDbusEnrollCall, 1);
	g_autoptr(GError) error = NULL;

	call->self = self;
	call->cancellable = g_object_ref(self->cancellable);
	call->verifier = g_object_ref(self->verifier);
	call->manager = g_object_ref(self->manager);
	call->invocation = invocation; /* the handler's reference: answering consumes it */
	call->handle = g_variant_get_handle(payload);
	if (!kl_verifier_dbus_enroll_parse(call, options, &error)) {
		kl_verifier_dbus_enroll_return_error(call, error);
		return G_DBUS_METHOD_INVOCATION_HANDLED;
	}
	kl_dbus_auth_check_async(invocation,
				 self->auth_mode,
				 KL_VERIFIER_DBUS_ACTION_MANAGE_AGENTS,
				 self->cancellable,
				 kl_verifier_dbus_enroll_authorized_cb,
				 g_steal_pointer(&call));
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

KlVerifierDbusEnroll *
kl_verifier_dbus_enroll_new(KlVerifierDbus *dbus,
			    KlVerifierDbusEnrollConfig config,
			    gpointer user_data,
			    GDestroyNotify user_data_free)
{
	KlVerifierDbusEnroll *self = g_new0(KlVerifierDbusEnroll, 1);

	g_return_val_if_fail(dbus != NULL, NULL);
	g_return_val_if_fail(config != NULL, NULL);

	self->verifier = g_object_ref(kl_verifier_dbus_get_verifier(dbus));
	self->manager = g_object_ref(kl_verifier_dbus_get_manager(dbus));
	self->auth_mode = kl_verifier_dbus_get_auth_mode(dbus);
	self->cancellable = g_cancellable_new();
	self->config = config;
	self->user_data = user_data;
	self->user_data_free = user_data_free;
	self->handler_id = g_signal_connect(self->manager,
					    "handle-enroll-agent",
					    G_CALLBACK(kl_verifier_dbus_enroll_handle),
					    self);
	return self;
}

void
kl_verifier_dbus_enroll_free(KlVerifierDbusEnroll *self)
{
	if (self == NULL)
		return;
	/* calls under way end with an error; they hold what they use */
	g_cancellable_cancel(self->cancellable);
	g_clear_signal_handler(&self->handler_id, self->manager);
	if (self->user_data_free != NULL)
		self->user_data_free(self->user_data);
	g_clear_object(&self->manager);
	g_clear_object(&self->verifier);
	g_clear_object(&self->cancellable);
	g_free(self);
}
