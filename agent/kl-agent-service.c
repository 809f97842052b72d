/*
 * The agent's REST handlers.  Every query parameter is checked before the
 * TPM is touched; TPM failures answer 500 ("Unable to retrieve quote"),
 * which the verifier retries, and the agent keeps serving.
 */
#include "config.h"

#include <string.h>

#include "kl-agent-identity.h"
#include "kl-agent-keys.h"
#include "kl-agent-logs.h"
#include "kl-agent-service.h"
#include "kl-error.h"
#include "kl-json.h"

#define KL_AGENT_NONCE_MAX     64
#define KL_AGENT_CHALLENGE_MAX 1024
#define KL_AGENT_PCR_MASK_MAX  0xffffffu /* PCRs 0 to 23 */
#define KL_AGENT_UEFI_PCR      0
#define KL_AGENT_IMA_PCR       10
/* a ukey request carries the payload: upstream's tenant allows 1 MiB of
 * payload, base64 and the envelope make it bigger */
#define KL_AGENT_MAX_UKEY_BODY (2 * 1024 * 1024)

struct _KlAgentService {
	GObject parent_instance;
	KlAgentServiceOptions options;
	gchar *agent_id;
	gchar *nk_pem;
	KlAgentKeys *keys;
	KlHttpRouter *router;
	GCancellable *cancellable;
	gboolean payload_running;
};

enum {
	SIGNAL_PAYLOAD_DONE,
	SIGNAL_REVOCATION_DONE,
	SIGNAL_LAST,
};

static guint signals[SIGNAL_LAST];

G_DEFINE_TYPE(KlAgentService, kl_agent_service, G_TYPE_OBJECT)

static void
kl_agent_service_dispose(GObject *object)
{
	KlAgentService *self = KL_AGENT_SERVICE(object);

	if (self->cancellable != NULL)
		g_cancellable_cancel(self->cancellable);
	if (self->keys != NULL)
		g_signal_handlers_disconnect_by_data(self->keys, self);
	g_clear_object(&self->keys);
	g_clear_object(&self->router);
	g_clear_object(&self->cancellable);
	G_OBJECT_CLASS(kl_agent_service_parent_class)->dispose(object);
}

static void
kl_agent_service_finalize(GObject *object)
{
	KlAgentService *self = KL_AGENT_SERVICE(object);

	g_free(self->agent_id);
	g_free(self->nk_pem);
	G_OBJECT_CLASS(kl_agent_service_parent_class)->finalize(object);
}

static void
kl_agent_service_class_init(KlAgentServiceClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = kl_agent_service_dispose;
	object_class->finalize = kl_agent_service_finalize;

	signals[SIGNAL_PAYLOAD_DONE] = g_signal_new("payload-done",
						    G_TYPE_FROM_CLASS(klass),
						    G_SIGNAL_RUN_LAST,
						    0,
						    NULL,
						    NULL,
						    NULL,
						    G_TYPE_NONE,
						    1,
						    G_TYPE_BOOLEAN);
	signals[SIGNAL_REVOCATION_DONE] = g_signal_new("revocation-done",
						       G_TYPE_FROM_CLASS(klass),
						       G_SIGNAL_RUN_LAST,
						       0,
						       NULL,
						       NULL,
						       NULL,
						       G_TYPE_NONE,
						       2,
						       G_TYPE_UINT,
						       G_TYPE_BOOLEAN);
}

static void
kl_agent_service_init(KlAgentService *self)
{
	self->cancellable = g_cancellable_new();
}

/* ---- parameters ------------------------------------------------------- */

static const gchar *
kl_agent_service_require_query(KlHttpRequest *request, const gchar *name, GError **error)
{
	const gchar *value = kl_http_request_get_query(request, name);

	if (value == NULL || value[0] == '\0')
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "%s: the query parameter is required",
			    name);
	return value != NULL && value[0] != '\0' ? value : NULL;
}

/* nonce and challenge: letters and digits only, bounded */
static const gchar *
kl_agent_service_alnum_query(KlHttpRequest *request, const gchar *name, gsize max, GError **error)
{
	const gchar *value = kl_agent_service_require_query(request, name, error);
	gsize len;

	if (value == NULL)
		return NULL;
	len = strlen(value);
	if (len > max) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "%s: longer than %" G_GSIZE_FORMAT " characters",
			    name,
			    max);
		return NULL;
	}
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isalnum(value[i])) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "%s: only letters and digits are allowed",
				    name);
			return NULL;
		}
	}
	return value;
}

static gboolean
kl_agent_service_parse_mask(const gchar *text, guint32 *mask, GError **error)
{
	guint64 value = 0;

	if (g_str_has_prefix(text, "0x") || g_str_has_prefix(text, "0X"))
		text += 2;
	if (text[0] == '\0' || strlen(text) > 8 ||
	    !g_ascii_string_to_unsigned(text, 16, 0, KL_AGENT_PCR_MASK_MAX, &value, NULL)) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "mask: not a hexadecimal PCR mask of PCRs 0 to 23");
		return FALSE;
	}
	*mask = (guint32)value;
	return TRUE;
}

/* ---- replies ---------------------------------------------------------- */

/* enc_alg: "rsa"/"ecc" up to API 2.4, with the key size from 2.5 */
static gchar *
kl_agent_service_enc_alg(KlAgentService *self, const KlApiVersion *version)
{
	const TPMT_PUBLIC *area = kl_tpm_public_get_area(kl_tpm_get_ek(self->options.tpm));
	KlApiVersion v25 = {2, 5};

	if (kl_api_version_compare(version, &v25) < 0)
		return g_strdup(kl_tpm_get_enc_alg(self->options.tpm));
	if (area->type == TPM2_ALG_RSA)
		return g_strdup_printf("rsa%u", (guint)area->parameters.rsaDetail.keyBits);
	switch (area->parameters.eccDetail.curveID) {
	case TPM2_ECC_NIST_P256:
		return g_strdup("ecc256");
	case TPM2_ECC_NIST_P384:
		return g_strdup("ecc384");
	case TPM2_ECC_NIST_P521:
		return g_strdup("ecc521");
	default:
		return g_strdup(kl_tpm_get_enc_alg(self->options.tpm));
	}
}

static void
kl_agent_service_add_quote_fields(KlAgentService *self,
				  JsonBuilder *builder,
				  KlHttpRequest *request,
				  const gchar *quote)
{
	g_autofree gchar *enc_alg =
		kl_agent_service_enc_alg(self, kl_http_request_get_version(request));

	json_builder_set_member_name(builder, "quote");
	json_builder_add_string_value(builder, quote);
	json_builder_set_member_name(builder, "hash_alg");
	json_builder_add_string_value(builder, kl_tpm_get_hash_alg(self->options.tpm));
	json_builder_set_member_name(builder, "enc_alg");
	json_builder_add_string_value(builder, enc_alg);
	json_builder_set_member_name(builder, "sign_alg");
	json_builder_add_string_value(builder, kl_tpm_get_sign_alg(self->options.tpm));
}

static void
kl_agent_service_reply_object(KlHttpRequest *request, JsonBuilder *builder)
{
	g_autoptr(JsonNode) results = json_builder_get_root(builder);

	kl_http_request_reply_ok(request, results);
}

/* the TPM's message goes to the log; the client learns only that it failed */
static gboolean
kl_agent_service_tpm_failed(GError **error, GError *tpm_error)
{
	g_warning("TPM: %s", tpm_error->message);
	g_error_free(tpm_error);
	g_set_error_literal(error, KL_ERROR, KL_ERROR_INTERNAL, "Unable to retrieve quote");
	return FALSE;
}

/* ---- handlers --------------------------------------------------------- */

/* GET /version: the Rust agent's shape */
static gboolean
kl_agent_service_version(KlHttpRequest *request, gpointer user_data, GError **error)
{
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
	gsize n = 0;
	const KlApiVersion *supported = kl_api_version_agent_supported(&n);
	gchar buffer[KL_API_VERSION_STRING_SIZE];

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "supported_version");
	json_builder_add_string_value(builder, kl_api_version_to_string(&supported[n - 1], buffer));
	json_builder_set_member_name(builder, "supported_versions");
	json_builder_begin_array(builder);
	for (gsize i = 0; i < n; i++)
		json_builder_add_string_value(builder,
					      kl_api_version_to_string(&supported[i], buffer));
	json_builder_end_array(builder);
	json_builder_end_object(builder);
	kl_agent_service_reply_object(request, builder);
	return TRUE;
}

/* GET /keys/pubkey */
static gboolean
kl_agent_service_pubkey(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlAgentService *self = user_data;
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "pubkey");
	json_builder_add_string_value(builder, self->nk_pem);
	json_builder_end_object(builder);
	kl_agent_service_reply_object(request, builder);
	return TRUE;
}

/* POST /keys/ukey */
static gboolean
kl_agent_service_ukey(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlAgentService *self = user_data;
	JsonObject *body = kl_http_request_require_body(request, error);

	if (body == NULL || !kl_agent_keys_add_ukey_request(self->keys, body, error))
		return FALSE;
	kl_http_request_reply_ok(request, NULL);
	return TRUE;
}

/* POST /keys/vkey */
static gboolean
kl_agent_service_vkey(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlAgentService *self = user_data;
	JsonObject *body = kl_http_request_require_body(request, error);

	if (body == NULL || !kl_agent_keys_add_vkey_request(self->keys, body, error))
		return FALSE;
	kl_http_request_reply_ok(request, NULL);
	return TRUE;
}

/* GET /keys/verify?challenge= */
static gboolean
kl_agent_service_verify(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlAgentService *self = user_data;
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
	g_autofree gchar *hmac = NULL;
	const gchar *challenge;

	challenge =
		kl_agent_service_alnum_query(request, "challenge", KL_AGENT_CHALLENGE_MAX, error);
	if (challenge == NULL)
		return FALSE;
	hmac = kl_agent_keys_verify_challenge(self->keys, challenge, error);
	if (hmac == NULL)
		return FALSE;
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "hmac");
	json_builder_add_string_value(builder, hmac);
	json_builder_end_object(builder);
	kl_agent_service_reply_object(request, builder);
	return TRUE;
}

/* GET /quotes/identity?nonce= */
static gboolean
kl_agent_service_identity_quote(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlAgentService *self = user_data;
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
	g_autofree gchar *quote = NULL;
	GError *tpm_error = NULL;
	const gchar *nonce;

	nonce = kl_agent_service_alnum_query(request, "nonce", KL_AGENT_NONCE_MAX, error);
	if (nonce == NULL)
		return FALSE;
	quote = kl_tpm_identity_quote(self->options.tpm, nonce, self->nk_pem, &tpm_error);
	if (quote == NULL)
		return kl_agent_service_tpm_failed(error, tpm_error);

	json_builder_begin_object(builder);
	kl_agent_service_add_quote_fields(self, builder, request, quote);
	json_builder_set_member_name(builder, "pubkey");
	json_builder_add_string_value(builder, self->nk_pem);
	json_builder_end_object(builder);
	kl_agent_service_reply_object(request, builder);
	return TRUE;
}

/* The IMA entries from @first; FALSE without an error when there is no
 * IMA log on this machine (the member is then left out). */
static gboolean
kl_agent_service_add_ima(KlAgentService *self, JsonBuilder *builder, guint64 first, GError **error)
{
	g_autofree gchar *entries = NULL;
	g_autoptr(GError) error_local = NULL;
	guint64 start = 0;

	if (self->options.ima_ml_path == NULL)
		return TRUE;
	if (!kl_agent_ima_log_read(self->options.ima_ml_path,
				   first,
				   &entries,
				   &start,
				   &error_local)) {
		if (g_error_matches(error_local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
			return TRUE;
		g_warning("IMA log: %s", error_local->message);
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INTERNAL,
				    "Unable to read the IMA measurement list");
		return FALSE;
	}
	json_builder_set_member_name(builder, "ima_measurement_list");
	json_builder_add_string_value(builder, entries);
	json_builder_set_member_name(builder, "ima_measurement_list_entry");
	json_builder_add_int_value(builder, (gint64)start);
	return TRUE;
}

static gboolean
kl_agent_service_add_uefi(KlAgentService *self, JsonBuilder *builder, GError **error)
{
	g_autoptr(GBytes) log = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *b64 = NULL;

	if (self->options.measuredboot_ml_path == NULL)
		return TRUE;
	log = kl_agent_uefi_log_read(self->options.measuredboot_ml_path, &error_local);
	if (log == NULL) {
		if (g_error_matches(error_local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
			return TRUE;
		g_warning("UEFI event log: %s", error_local->message);
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INTERNAL,
				    "Unable to read the measured boot log");
		return FALSE;
	}
	b64 = g_base64_encode(g_bytes_get_data(log, NULL), g_bytes_get_size(log));
	json_builder_set_member_name(builder, "mb_measurement_list");
	json_builder_add_string_value(builder, b64);
	return TRUE;
}

/* GET /quotes/integrity?nonce=&mask=&partial=&ima_ml_entry= */
static gboolean
kl_agent_service_integrity_quote(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlAgentService *self = user_data;
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
	g_autofree gchar *quote = NULL;
	GError *tpm_error = NULL;
	const gchar *nonce;
	const gchar *mask_text;
	const gchar *partial;
	const gchar *entry_text;
	guint64 first = 0;
	guint32 mask = 0;
	TPM2_ALG_ID bank = TPM2_ALG_SHA256;

	nonce = kl_agent_service_alnum_query(request, "nonce", KL_AGENT_NONCE_MAX, error);
	if (nonce == NULL)
		return FALSE;
	mask_text = kl_agent_service_require_query(request, "mask", error);
	if (mask_text == NULL || !kl_agent_service_parse_mask(mask_text, &mask, error))
		return FALSE;
	partial = kl_agent_service_require_query(request, "partial", error);
	if (partial == NULL)
		return FALSE;
	if (g_strcmp0(partial, "0") != 0 && g_strcmp0(partial, "1") != 0) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "partial: must be 0 or 1");
		return FALSE;
	}
	entry_text = kl_http_request_get_query(request, "ima_ml_entry");
	if (entry_text != NULL &&
	    !g_ascii_string_to_unsigned(entry_text, 10, 0, G_MAXINT64, &first, NULL)) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "ima_ml_entry: not a non-negative integer");
		return FALSE;
	}

	/* the quote is over the AK's hash bank, as the Rust agent's */
	if (!kl_tpm_hash_alg_from_string(kl_tpm_get_hash_alg(self->options.tpm), &bank))
		bank = TPM2_ALG_SHA256;
	quote = kl_tpm_quote(self->options.tpm, nonce, mask, bank, self->nk_pem, &tpm_error);
	if (quote == NULL)
		return kl_agent_service_tpm_failed(error, tpm_error);

	json_builder_begin_object(builder);
	kl_agent_service_add_quote_fields(self, builder, request, quote);
	if (g_strcmp0(partial, "0") == 0) {
		json_builder_set_member_name(builder, "pubkey");
		json_builder_add_string_value(builder, self->nk_pem);
	}
	if ((mask & (1u << KL_AGENT_IMA_PCR)) != 0 &&
	    !kl_agent_service_add_ima(self, builder, first, error))
		return FALSE;
	if ((mask & (1u << KL_AGENT_UEFI_PCR)) != 0 &&
	    !kl_agent_service_add_uefi(self, builder, error))
		return FALSE;
	json_builder_end_object(builder);
	kl_agent_service_reply_object(request, builder);
	return TRUE;
}

static void
kl_agent_service_revocation_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(KlAgentService) self = user_data;
	g_autoptr(GError) error = NULL;
	guint n_run = 0;
	gboolean ok;

	ok = kl_agent_revocation_run_actions_finish(result, &n_run, &error);
	if (ok)
		g_message("revocation: %u action(s) ran", n_run);
	else
		g_warning("revocation actions: %s", error->message);
	g_signal_emit(self, signals[SIGNAL_REVOCATION_DONE], 0, n_run, ok);
}

/* POST /notifications/revocation: verified here, acted on afterwards */
static gboolean
kl_agent_service_revocation(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlAgentService *self = user_data;
	g_autoptr(X509) cert = NULL;
	g_autoptr(JsonObject) event = NULL;
	g_autofree gchar *msg = NULL;
	g_autoptr(GError) error_local = NULL;
	JsonObject *body = kl_http_request_require_body(request, error);

	if (body == NULL)
		return FALSE;
	cert = kl_agent_revocation_load_cert(self->options.revocation, &error_local);
	if (cert == NULL) {
		g_warning("revocation: %s", error_local->message);
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_UNAVAILABLE,
				    "no revocation certificate: no payload has delivered one");
		return FALSE;
	}
	event = kl_agent_revocation_verify_request(cert, body, &msg, error);
	if (event == NULL)
		return FALSE;
	g_message("revocation notification verified");
	kl_agent_revocation_run_actions_async(self->options.revocation,
					      msg,
					      self->cancellable,
					      kl_agent_service_revocation_cb,
					      g_object_ref(self));
	kl_http_request_reply_ok(request, NULL);
	return TRUE;
}

/* GET /agent/info (API 2.2 and later) */
static gboolean
kl_agent_service_info(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlAgentService *self = user_data;
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
	g_autofree gchar *enc_alg =
		kl_agent_service_enc_alg(self, kl_http_request_get_version(request));

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "agent_uuid");
	json_builder_add_string_value(builder, self->agent_id);
	json_builder_set_member_name(builder, "tpm_hash_alg");
	json_builder_add_string_value(builder, kl_tpm_get_hash_alg(self->options.tpm));
	json_builder_set_member_name(builder, "tpm_enc_alg");
	json_builder_add_string_value(builder, enc_alg);
	json_builder_set_member_name(builder, "tpm_sign_alg");
	json_builder_add_string_value(builder, kl_tpm_get_sign_alg(self->options.tpm));
	/* the AK is a transient object reloaded per use: no handle to report */
	json_builder_set_member_name(builder, "ak_handle");
	json_builder_add_int_value(builder, 0);
	json_builder_end_object(builder);
	kl_agent_service_reply_object(request, builder);
	return TRUE;
}

static const KlHttpRoute kl_agent_service_routes[] = {
	{"GET",
	 "/version",
	 KL_HTTP_ROUTE_FLAG_UNVERSIONED,
	 NULL,
	 NULL,
	 0,
	 kl_agent_service_version},
	{"GET", "/keys/pubkey", KL_HTTP_ROUTE_FLAG_NONE, NULL, NULL, 0, kl_agent_service_pubkey},
	{"POST",
	 "/keys/ukey",
	 KL_HTTP_ROUTE_FLAG_NONE,
	 NULL,
	 NULL,
	 KL_AGENT_MAX_UKEY_BODY,
	 kl_agent_service_ukey},
	{"POST", "/keys/vkey", KL_HTTP_ROUTE_FLAG_NONE, NULL, NULL, 0, kl_agent_service_vkey},
	{"GET", "/keys/verify", KL_HTTP_ROUTE_FLAG_NONE, NULL, NULL, 0, kl_agent_service_verify},
	{"GET",
	 "/quotes/identity",
	 KL_HTTP_ROUTE_FLAG_NONE,
	 NULL,
	 NULL,
	 0,
	 kl_agent_service_identity_quote},
	{"GET",
	 "/quotes/integrity",
	 KL_HTTP_ROUTE_FLAG_NONE,
	 NULL,
	 NULL,
	 0,
	 kl_agent_service_integrity_quote},
	{"POST",
	 "/notifications/revocation",
	 KL_HTTP_ROUTE_FLAG_NONE,
	 NULL,
	 NULL,
	 0,
	 kl_agent_service_revocation},
	{"GET", "/agent/info", KL_HTTP_ROUTE_FLAG_NONE, "2.2", NULL, 0, kl_agent_service_info},
};

/* ---- payloads --------------------------------------------------------- */

static void
kl_agent_service_payload_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(KlAgentService) self = user_data;
	g_autoptr(GError) error = NULL;
	gboolean script_ran = FALSE;
	gboolean ok;

	self->payload_running = FALSE;
	ok = kl_agent_payload_run_finish(result, &script_ran, &error);
	if (ok)
		g_message("payload installed%s", script_ran ? "; its script ran" : "");
	else
		g_warning("payload: %s", error->message);
	g_signal_emit(self, signals[SIGNAL_PAYLOAD_DONE], 0, ok);
}

static void
kl_agent_service_key_derived_cb(KlAgentKeys *keys, gpointer user_data)
{
	KlAgentService *self = user_data;
	g_autoptr(KlSecret) key = NULL;
	g_autoptr(GBytes) payload = NULL;
	g_autoptr(GError) error = NULL;

	g_message("the bootstrap key K is derived");
	if (!self->options.run_payloads) {
		g_message("not running payloads: mTLS is off and enable_insecure_payload is false");
		return;
	}
	if (self->payload_running) {
		g_warning("a payload is still running; not starting another");
		return;
	}
	key = kl_agent_keys_dup_key(keys);
	if (kl_agent_keys_has_payload(keys)) {
		payload = kl_agent_keys_decrypt_payload(keys, &error);
		if (payload == NULL) {
			g_warning("payload: %s", error->message);
			g_signal_emit(self, signals[SIGNAL_PAYLOAD_DONE], 0, FALSE);
			return;
		}
	} else {
		payload = g_bytes_new(NULL, 0);
	}
	self->payload_running = TRUE;
	kl_agent_payload_run_async(self->options.secure_dir,
				   key,
				   payload,
				   self->options.payload,
				   self->cancellable,
				   kl_agent_service_payload_cb,
				   g_object_ref(self));
}

KlAgentService *
kl_agent_service_new(const KlAgentServiceOptions *options, GError **error)
{
	g_autoptr(KlAgentService) self = NULL;
	gsize n_supported = 0;
	const KlApiVersion *supported = kl_api_version_agent_supported(&n_supported);

	g_return_val_if_fail(options != NULL, NULL);
	g_return_val_if_fail(KL_IS_TPM(options->tpm), NULL);
	g_return_val_if_fail(options->nk != NULL && options->agent_id != NULL, NULL);

	self = g_object_new(KL_TYPE_AGENT_SERVICE, NULL);
	self->options = *options;
	self->agent_id = g_strdup(options->agent_id);
	self->nk_pem = kl_agent_identity_nk_pem(options->nk, error);
	if (self->nk_pem == NULL)
		return NULL;
	self->keys = kl_agent_keys_new(options->agent_id, options->nk);
	g_signal_connect(self->keys,
			 "key-derived",
			 G_CALLBACK(kl_agent_service_key_derived_cb),
			 self);

	self->router = kl_http_router_new(&supported[n_supported - 1], supported, n_supported);
	if (!kl_http_router_add_routes(self->router,
				       kl_agent_service_routes,
				       G_N_ELEMENTS(kl_agent_service_routes),
				       self,
				       error))
		return NULL;
	return g_steal_pointer(&self);
}

KlHttpRouter *
kl_agent_service_get_router(KlAgentService *self)
{
	g_return_val_if_fail(KL_IS_AGENT_SERVICE(self), NULL);
	return self->router;
}

const gchar *
kl_agent_service_get_nk_pem(KlAgentService *self)
{
	g_return_val_if_fail(KL_IS_AGENT_SERVICE(self), NULL);
	return self->nk_pem;
}
