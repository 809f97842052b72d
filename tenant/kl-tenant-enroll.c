/*
 * kl-tenant-enroll: the tenant's add flow, one step after the other (see
 * kl-tenant-enroll.h for the steps and the guarantees).
 */
#define G_LOG_DOMAIN "KlTenant"

#include "config.h"

#include <string.h>

#include "kl-tenant-enroll.h"
#include "kl-tenant-package.h"
#include "kl-tenant-registrar.h"

#include "engine/core/kl-base64.h"
#include "engine/core/kl-ca.h"
#include "engine/core/kl-crypto.h"
#include "engine/core/kl-error.h"
#include "engine/core/kl-finding.h"
#include "engine/core/kl-json.h"
#include "engine/core/kl-quote.h"
#include "engine/core/kl-tpm-policy.h"
#include "engine/core/kl-x509.h"
#include "engine/verifier/kl-agent-client.h"

/* K, V and U are 32 bytes (AES-256) */
#define KL_TENANT_KEY_SIZE 32
/* upstream's random_password(20) for nonces and challenges */
#define KL_TENANT_NONCE_LENGTH 20
/* a tpm_cert_store file read whole */
#define KL_TENANT_MAX_CERT_FILE (1024 * 1024)

struct _KlTenantEnrollment {
	GObject parent_instance;
	KlTenantEnrollOptions *options;
	KlTenantVerifierStep verifier_step;
	gpointer verifier_step_data;
	GDestroyNotify verifier_step_data_free;

	GTask *task; /* while running */
	gboolean started;
	gboolean waiting_for_verifier;
	gchar *failed_step;

	KlTenantRegistrarRecord *record;
	KlAgentClient *client;
	KlAgentTarget target; /* strings owned below */
	gchar *agent_ip;
	gchar *api_version;
	gchar *nk_pubkey;
	KlSecret *k;
	KlSecret *v;
	gchar *metadata;
	gchar *revocation_key;
	gchar *tpm_policy; /* as sent: the options', with the IMA and boot PCRs in its mask */
	JsonObject *body;
	gchar *challenge;
	guint verify_tries;
	guint verify_source;
};

G_DEFINE_TYPE(KlTenantEnrollment, kl_tenant_enrollment, G_TYPE_OBJECT)

/* upstream's config.IMA_PCR and MEASUREDBOOT_PCRS (0-9, 11-15) */
#define KL_TENANT_IMA_PCR   10
#define KL_TENANT_BOOT_PCRS 0xfbffu

enum {
	SIGNAL_PROGRESS,
	N_SIGNALS,
};

static guint signals[N_SIGNALS];

KlTenantEnrollOptions *
kl_tenant_enroll_options_new(void)
{
	KlTenantEnrollOptions *options = g_new0(KlTenantEnrollOptions, 1);
	const gchar *hash[] = {"sha512", "sha384", "sha256", NULL};
	const gchar *enc[] = {"ecc", "rsa", NULL};
	const gchar *sign[] = {"ecschnorr", "rsassa", NULL};

	options->require_ek_cert = TRUE;
	options->agent_mtls = TRUE;
	options->accept_hash_algs = g_strdupv((gchar **)hash);
	options->accept_enc_algs = g_strdupv((gchar **)enc);
	options->accept_sign_algs = g_strdupv((gchar **)sign);
	options->tpm_policy = g_strdup("{}");
	/* tenant.conf max_retries, retry_interval */
	options->verify_tries = 5;
	options->verify_interval_ms = 2000;
	options->request_timeout = 60.0;
	return options;
}

void
kl_tenant_enroll_options_free(KlTenantEnrollOptions *options)
{
	if (options == NULL)
		return;
	g_free(options->agent_id);
	g_free(options->registrar_host);
	g_free(options->registrar_ca);
	g_free(options->client_cert);
	g_free(options->client_key);
	g_free(options->agent_host);
	g_free(options->cv_agent_host);
	g_free(options->tpm_cert_store);
	g_free(options->ek_check_script);
	g_strfreev(options->accept_hash_algs);
	g_strfreev(options->accept_enc_algs);
	g_strfreev(options->accept_sign_algs);
	g_free(options->tpm_policy);
	g_free(options->runtime_policy);
	g_free(options->runtime_policy_name);
	g_free(options->mb_policy);
	g_free(options->mb_policy_name);
	g_free(options->ima_sign_verification_keys);
	g_free(options->supported_version);
	g_clear_pointer(&options->payload_file, g_bytes_unref);
	g_free(options->ca_dir);
	g_free(options->include_dir);
	g_strfreev(options->revocation_actions);
	g_free(options->payload_metadata);
	g_free(options->payload_revocation_key);
	g_free(options);
}

static void
kl_tenant_enrollment_finalize(GObject *object)
{
	KlTenantEnrollment *self = KL_TENANT_ENROLLMENT(object);

	g_assert(self->task == NULL);
	if (self->verifier_step_data_free != NULL)
		self->verifier_step_data_free(self->verifier_step_data);
	kl_tenant_enroll_options_free(self->options);
	g_free(self->failed_step);
	g_clear_pointer(&self->record, kl_tenant_registrar_record_free);
	g_clear_object(&self->client);
	g_clear_object(&self->target.mtls_cert);
	g_free(self->agent_ip);
	g_free(self->api_version);
	g_free(self->nk_pubkey);
	g_clear_pointer(&self->k, kl_secret_unref);
	g_clear_pointer(&self->v, kl_secret_unref);
	g_free(self->metadata);
	g_free(self->revocation_key);
	g_free(self->tpm_policy);
	g_clear_pointer(&self->body, json_object_unref);
	g_free(self->challenge);
	G_OBJECT_CLASS(kl_tenant_enrollment_parent_class)->finalize(object);
}

static void
kl_tenant_enrollment_class_init(KlTenantEnrollmentClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->finalize = kl_tenant_enrollment_finalize;
	/* (step, message): step is one of KL_TENANT_STEP_* */
	signals[SIGNAL_PROGRESS] = g_signal_new("progress",
						G_TYPE_FROM_CLASS(klass),
						G_SIGNAL_RUN_LAST,
						0,
						NULL,
						NULL,
						NULL,
						G_TYPE_NONE,
						2,
						G_TYPE_STRING,
						G_TYPE_STRING);
}

static void
kl_tenant_enrollment_init(KlTenantEnrollment *self)
{
	(void)self;
}

KlTenantEnrollment *
kl_tenant_enrollment_new(KlTenantEnrollOptions *options,
			 KlTenantVerifierStep verifier_step,
			 gpointer user_data,
			 GDestroyNotify user_data_free)
{
	KlTenantEnrollment *self;

	g_return_val_if_fail(options != NULL, NULL);
	g_return_val_if_fail(verifier_step != NULL, NULL);

	self = g_object_new(KL_TYPE_TENANT_ENROLLMENT, NULL);
	self->options = options;
	self->verifier_step = verifier_step;
	self->verifier_step_data = user_data;
	self->verifier_step_data_free = user_data_free;
	return self;
}

const gchar *
kl_tenant_enrollment_get_agent_id(KlTenantEnrollment *self)
{
	g_return_val_if_fail(KL_IS_TENANT_ENROLLMENT(self), NULL);
	return self->options->agent_id;
}

const gchar *
kl_tenant_enrollment_get_failed_step(KlTenantEnrollment *self)
{
	g_return_val_if_fail(KL_IS_TENANT_ENROLLMENT(self), NULL);
	return self->failed_step;
}

JsonObject *
kl_tenant_enrollment_get_body(KlTenantEnrollment *self)
{
	g_return_val_if_fail(KL_IS_TENANT_ENROLLMENT(self), NULL);
	return self->body;
}

const gchar *
kl_tenant_enrollment_get_nk_pubkey(KlTenantEnrollment *self)
{
	g_return_val_if_fail(KL_IS_TENANT_ENROLLMENT(self), NULL);
	return self->nk_pubkey;
}

const gchar *
kl_tenant_enrollment_get_api_version(KlTenantEnrollment *self)
{
	g_return_val_if_fail(KL_IS_TENANT_ENROLLMENT(self), NULL);
	return self->api_version;
}

static void
kl_tenant_enrollment_progress(KlTenantEnrollment *self, const gchar *step, const gchar *format, ...)
	G_GNUC_PRINTF(3, 4);

static void
kl_tenant_enrollment_progress(KlTenantEnrollment *self, const gchar *step, const gchar *format, ...)
{
	g_autofree gchar *message = NULL;
	va_list args;

	va_start(args, format);
	message = g_strdup_vprintf(format, args);
	va_end(args);
	g_debug("enrolment of %s: %s: %s", self->options->agent_id, step, message);
	g_signal_emit(self, signals[SIGNAL_PROGRESS], 0, step, message);
}

/* Ends the run with @error (owned), named after @step. */
static void
kl_tenant_enrollment_fail(KlTenantEnrollment *self, const gchar *step, GError *error)
{
	g_autoptr(GTask) task = g_steal_pointer(&self->task);

	g_assert(task != NULL);
	g_free(self->failed_step);
	self->failed_step = g_strdup(step);
	g_prefix_error(&error, "%s: ", step);
	g_task_return_error(task, error);
}

static void kl_tenant_enrollment_fail_printf(KlTenantEnrollment *self,
					     const gchar *step,
					     gint code,
					     const gchar *format,
					     ...) G_GNUC_PRINTF(4, 5);

static void
kl_tenant_enrollment_fail_printf(KlTenantEnrollment *self,
				 const gchar *step,
				 gint code,
				 const gchar *format,
				 ...)
{
	va_list args;
	GError *error;

	va_start(args, format);
	error = g_error_new_valist(KL_ERROR, code, format, args);
	va_end(args);
	kl_tenant_enrollment_fail(self, step, error);
}

static GCancellable *
kl_tenant_enrollment_cancellable(KlTenantEnrollment *self)
{
	return g_task_get_cancellable(self->task);
}

/* --- step: verify --- */

static void kl_tenant_enrollment_verify_next(KlTenantEnrollment *self);

static void
kl_tenant_enrollment_done(KlTenantEnrollment *self)
{
	g_autoptr(GTask) task = g_steal_pointer(&self->task);

	kl_tenant_enrollment_progress(self,
				      KL_TENANT_STEP_DONE,
				      "agent %s is enrolled",
				      self->options->agent_id);
	g_task_return_boolean(task, TRUE);
}

static gboolean
kl_tenant_enrollment_verify_timeout_cb(gpointer user_data)
{
	KlTenantEnrollment *self = user_data;

	self->verify_source = 0;
	kl_tenant_enrollment_verify_next(self);
	return G_SOURCE_REMOVE;
}

static void
kl_tenant_enrollment_verify_retry(KlTenantEnrollment *self, GError *error)
{
	g_autoptr(GError) owned = error;

	if (self->verify_tries >= self->options->verify_tries ||
	    g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		g_prefix_error(&owned,
			       "the agent did not derive the bootstrap key after %u tries: ",
			       self->verify_tries);
		kl_tenant_enrollment_fail(self, KL_TENANT_STEP_VERIFY, g_steal_pointer(&owned));
		return;
	}
	g_debug("verify try %u: %s", self->verify_tries, error->message);
	/* the task holds us while the timeout is pending */
	self->verify_source = g_timeout_add(self->options->verify_interval_ms,
					    kl_tenant_enrollment_verify_timeout_cb,
					    self);
}

static void
kl_tenant_enrollment_verify_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	KlTenantEnrollment *self = user_data;
	g_autofree gchar *hmac = NULL;
	g_autofree gchar *expected = NULL;
	const guint8 *k;
	gsize k_len = 0;
	GError *error = NULL;

	hmac = kl_agent_client_get_keys_verify_finish(KL_AGENT_CLIENT(source), result, &error);
	if (hmac == NULL) {
		kl_tenant_enrollment_verify_retry(self, error);
		return;
	}
	k = kl_secret_get_data(self->k, &k_len);
	expected = kl_crypto_hmac_sha384_hex(k,
					     k_len,
					     (const guint8 *)self->challenge,
					     strlen(self->challenge),
					     &error);
	if (expected == NULL) {
		kl_tenant_enrollment_fail(self, KL_TENANT_STEP_VERIFY, error);
		return;
	}
	if (!kl_crypto_hex_equal(hmac, expected)) {
		kl_tenant_enrollment_verify_retry(
			self,
			g_error_new(KL_ERROR,
				    KL_ERROR_VERIFICATION_FAILED,
				    "the agent's HMAC of the challenge does not match K"));
		return;
	}
	kl_tenant_enrollment_progress(self,
				      KL_TENANT_STEP_VERIFY,
				      "the agent derived the bootstrap key");
	kl_tenant_enrollment_done(self);
}

static void
kl_tenant_enrollment_verify_next(KlTenantEnrollment *self)
{
	GError *error = NULL;

	self->verify_tries++;
	g_free(self->challenge);
	self->challenge = kl_crypto_random_password(KL_TENANT_NONCE_LENGTH, &error);
	if (self->challenge == NULL) {
		kl_tenant_enrollment_fail(self, KL_TENANT_STEP_VERIFY, error);
		return;
	}
	kl_agent_client_get_keys_verify_async(self->client,
					      &self->target,
					      self->challenge,
					      kl_tenant_enrollment_cancellable(self),
					      kl_tenant_enrollment_verify_cb,
					      self);
}

static void
kl_tenant_enrollment_step_verify(KlTenantEnrollment *self)
{
	if (!self->options->verify) {
		kl_tenant_enrollment_done(self);
		return;
	}
	if (self->k == NULL) {
		kl_tenant_enrollment_fail_printf(
			self,
			KL_TENANT_STEP_VERIFY,
			KL_ERROR_INVALID_ARGUMENT,
			"verifying needs a payload (there is no key to check)");
		return;
	}
	kl_tenant_enrollment_progress(self,
				      KL_TENANT_STEP_VERIFY,
				      "waiting for agent %s to derive the bootstrap key",
				      self->options->agent_id);
	self->verify_tries = 0;
	kl_tenant_enrollment_verify_next(self);
}

/* --- step: verifier --- */

static void
kl_tenant_body_add_string_array(JsonObject *body, const gchar *name, gchar **values)
{
	JsonArray *array = json_array_new();

	for (gsize i = 0; values != NULL && values[i] != NULL; i++)
		json_array_add_string_element(array, values[i]);
	json_object_set_array_member(body, name, array);
}

static void
kl_tenant_body_add_nullable_string(JsonObject *body, const gchar *name, const gchar *value)
{
	if (value != NULL)
		json_object_set_string_member(body, name, value);
	else
		json_object_set_null_member(body, name);
}

/* upstream's enrolment body (spec §2.3) */
static JsonObject *
kl_tenant_enrollment_build_body(KlTenantEnrollment *self)
{
	KlTenantEnrollOptions *options = self->options;
	JsonObject *body = json_object_new();
	g_autofree gchar *v_b64 = NULL;
	g_autofree gchar *runtime_b64 = NULL;
	const guint8 *v;
	gsize v_len = 0;

	if (self->v != NULL) {
		v = kl_secret_get_data(self->v, &v_len);
		v_b64 = g_base64_encode(v, v_len);
	}
	kl_tenant_body_add_nullable_string(body, "v", v_b64);
	json_object_set_string_member(body,
				      "cloudagent_ip",
				      options->cv_agent_host != NULL ? options->cv_agent_host
								     : self->agent_ip);
	json_object_set_int_member(body, "cloudagent_port", self->target.port);
	json_object_set_string_member(body, "tpm_policy", self->tpm_policy);
	if (options->runtime_policy != NULL)
		runtime_b64 = g_base64_encode((const guint8 *)options->runtime_policy,
					      strlen(options->runtime_policy));
	json_object_set_string_member(body,
				      "runtime_policy",
				      runtime_b64 != NULL ? runtime_b64 : "");
	kl_tenant_body_add_nullable_string(body,
					   "runtime_policy_name",
					   options->runtime_policy_name);
	kl_tenant_body_add_nullable_string(body, "mb_policy", options->mb_policy);
	kl_tenant_body_add_nullable_string(body, "mb_policy_name", options->mb_policy_name);
	json_object_set_string_member(body,
				      "ima_sign_verification_keys",
				      options->ima_sign_verification_keys != NULL
					      ? options->ima_sign_verification_keys
					      : "");
	json_object_set_string_member(body,
				      "metadata",
				      self->metadata != NULL ? self->metadata : "{}");
	json_object_set_string_member(body,
				      "revocation_key",
				      self->revocation_key != NULL ? self->revocation_key : "");
	kl_tenant_body_add_string_array(body, "accept_tpm_hash_algs", options->accept_hash_algs);
	kl_tenant_body_add_string_array(body,
					"accept_tpm_encryption_algs",
					options->accept_enc_algs);
	kl_tenant_body_add_string_array(body, "accept_tpm_signing_algs", options->accept_sign_algs);
	json_object_set_string_member(body, "ak_tpm", self->record->aik_tpm);
	kl_tenant_body_add_nullable_string(body,
					   "mtls_cert",
					   self->record->mtls_disabled ? "disabled"
								       : self->record->mtls_cert);
	/* the version the tenant talked to the agent with */
	json_object_set_string_member(body, "supported_version", self->api_version);
	return body;
}

void
kl_tenant_enrollment_verifier_done(KlTenantEnrollment *self, GError *error)
{
	g_return_if_fail(KL_IS_TENANT_ENROLLMENT(self));
	g_return_if_fail(self->waiting_for_verifier);

	self->waiting_for_verifier = FALSE;
	if (error != NULL) {
		kl_tenant_enrollment_fail(self, KL_TENANT_STEP_VERIFIER, error);
		return;
	}
	kl_tenant_enrollment_progress(self,
				      KL_TENANT_STEP_VERIFIER,
				      "the verifier accepted agent %s",
				      self->options->agent_id);
	kl_tenant_enrollment_step_verify(self);
}

static void
kl_tenant_enrollment_step_verifier(KlTenantEnrollment *self)
{
	g_clear_pointer(&self->body, json_object_unref);
	self->body = kl_tenant_enrollment_build_body(self);
	kl_tenant_enrollment_progress(self,
				      KL_TENANT_STEP_VERIFIER,
				      "enrolling agent %s with the verifier",
				      self->options->agent_id);
	self->waiting_for_verifier = TRUE;
	/* the task keeps us alive until verifier_done() */
	self->verifier_step(self, self->options->agent_id, self->body, self->verifier_step_data);
}

/* --- step: payload --- */

static void
kl_tenant_enrollment_ukey_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	KlTenantEnrollment *self = user_data;
	GError *error = NULL;

	if (!kl_agent_client_post_ukey_finish(KL_AGENT_CLIENT(source), result, &error)) {
		kl_tenant_enrollment_fail(self, KL_TENANT_STEP_PAYLOAD, error);
		return;
	}
	kl_tenant_enrollment_progress(self,
				      KL_TENANT_STEP_PAYLOAD,
				      "agent %s received U and the payload",
				      self->options->agent_id);
	kl_tenant_enrollment_step_verifier(self);
}

/* The plaintext to deliver, or NULL with @error. */
static GBytes *
kl_tenant_enrollment_plaintext(KlTenantEnrollment *self, GError **error)
{
	KlTenantEnrollOptions *options = self->options;
	g_autoptr(KlTenantPackage) package = NULL;

	switch (options->payload_kind) {
	case KL_TENANT_PAYLOAD_FILE:
		if (options->payload_file == NULL) {
			g_set_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT, "no payload file");
			return NULL;
		}
		self->metadata = g_strdup(options->payload_metadata);
		self->revocation_key = g_strdup(options->payload_revocation_key);
		return g_bytes_ref(options->payload_file);
	case KL_TENANT_PAYLOAD_CERT_PACKAGE:
		package = kl_tenant_package_new(options->ca_dir,
						options->agent_id,
						options->include_dir,
						(const gchar *const *)options->revocation_actions,
						error);
		if (package == NULL)
			return NULL;
		self->metadata = g_strdup(package->metadata);
		self->revocation_key = g_strdup(package->revocation_key);
		return g_bytes_ref(package->zip);
	case KL_TENANT_PAYLOAD_NONE:
	default:
		g_set_error(error, KL_ERROR, KL_ERROR_INTERNAL, "no payload");
		return NULL;
	}
}

static void
kl_tenant_enrollment_step_payload(KlTenantEnrollment *self)
{
	g_autoptr(GBytes) plaintext = NULL;
	g_autoptr(GBytes) ciphertext = NULL;
	g_autoptr(GBytes) encrypted_u = NULL;
	g_autoptr(KlSecret) u = NULL;
	g_autoptr(EVP_PKEY) nk = NULL;
	g_autofree gchar *auth_tag = NULL;
	g_autofree gchar *payload_b64 = NULL;
	g_autofree gchar *encrypted_u_b64 = NULL;
	const guint8 *data;
	gsize len = 0;
	GError *error = NULL;

	if (self->options->payload_kind == KL_TENANT_PAYLOAD_NONE) {
		kl_tenant_enrollment_progress(self,
					      KL_TENANT_STEP_PAYLOAD,
					      "no payload: nothing is sent to the agent");
		kl_tenant_enrollment_step_verifier(self);
		return;
	}
	kl_tenant_enrollment_progress(self,
				      KL_TENANT_STEP_PAYLOAD,
				      "encrypting the payload and sending U to agent %s",
				      self->options->agent_id);
	plaintext = kl_tenant_enrollment_plaintext(self, &error);
	if (plaintext == NULL) {
		kl_tenant_enrollment_fail(self, KL_TENANT_STEP_PAYLOAD, error);
		return;
	}
	if (g_bytes_get_size(plaintext) > KL_TENANT_MAX_PAYLOAD_SIZE) {
		kl_tenant_enrollment_fail_printf(self,
						 KL_TENANT_STEP_PAYLOAD,
						 KL_ERROR_TOO_LARGE,
						 "the payload has %" G_GSIZE_FORMAT
						 " bytes, more than the %u allowed",
						 g_bytes_get_size(plaintext),
						 (guint)KL_TENANT_MAX_PAYLOAD_SIZE);
		return;
	}
	/* K and V random, U = K xor V (spec §8) */
	self->k = kl_crypto_random_secret(KL_TENANT_KEY_SIZE, &error);
	if (self->k != NULL)
		self->v = kl_crypto_random_secret(KL_TENANT_KEY_SIZE, &error);
	if (self->v != NULL)
		u = kl_secret_xor(self->k, self->v, &error);
	if (u == NULL) {
		kl_tenant_enrollment_fail(self, KL_TENANT_STEP_PAYLOAD, error);
		return;
	}
	data = kl_secret_get_data(self->k, &len);
	auth_tag = kl_crypto_hmac_sha384_hex(data,
					     len,
					     (const guint8 *)self->options->agent_id,
					     strlen(self->options->agent_id),
					     &error);
	if (auth_tag != NULL)
		ciphertext = kl_crypto_aes_gcm_encrypt(self->k,
						       g_bytes_get_data(plaintext, NULL),
						       g_bytes_get_size(plaintext),
						       &error);
	if (ciphertext != NULL)
		nk = kl_key_load_pem(self->nk_pubkey, strlen(self->nk_pubkey), &error);
	if (nk != NULL) {
		data = kl_secret_get_data(u, &len);
		encrypted_u = kl_crypto_rsa_oaep_encrypt(nk, "sha1", NULL, 0, data, len, &error);
	}
	if (encrypted_u == NULL) {
		kl_tenant_enrollment_fail(self, KL_TENANT_STEP_PAYLOAD, error);
		return;
	}
	payload_b64 =
		g_base64_encode(g_bytes_get_data(ciphertext, NULL), g_bytes_get_size(ciphertext));
	encrypted_u_b64 =
		g_base64_encode(g_bytes_get_data(encrypted_u, NULL), g_bytes_get_size(encrypted_u));
	kl_agent_client_post_ukey_async(self->client,
					&self->target,
					encrypted_u_b64,
					auth_tag,
					payload_b64,
					kl_tenant_enrollment_cancellable(self),
					kl_tenant_enrollment_ukey_cb,
					self);
}

/* --- step: identity-quote --- */

static const gchar *
kl_tenant_enc_alg_normalise(const gchar *alg)
{
	if (g_strcmp0(alg, "rsa") == 0)
		return "rsa2048";
	if (g_strcmp0(alg, "ecc") == 0)
		return "ecc256";
	return alg;
}

/* §4.4: @alg among @accepted (encryption algorithms with their aliases) */
static gboolean
kl_tenant_alg_accepted(const gchar *alg, gchar **accepted, gboolean enc)
{
	for (gsize i = 0; accepted != NULL && accepted[i] != NULL; i++) {
		if (enc ? g_strcmp0(kl_tenant_enc_alg_normalise(accepted[i]),
				    kl_tenant_enc_alg_normalise(alg)) == 0
			: g_strcmp0(accepted[i], alg) == 0)
			return TRUE;
	}
	return FALSE;
}

static gboolean
kl_tenant_enrollment_check_quote(KlTenantEnrollment *self,
				 JsonObject *results,
				 const gchar *nonce,
				 GError **error)
{
	KlTenantEnrollOptions *options = self->options;
	g_autoptr(GPtrArray) findings = kl_findings_new();
	g_autoptr(KlQuote) quote = NULL;
	g_autoptr(KlQuoteKey) ak = NULL;
	g_autoptr(EVP_PKEY) nk = NULL;
	g_autofree gchar *reason = NULL;
	const gchar *quote_text = NULL;
	const gchar *hash_alg = NULL;
	const gchar *enc_alg = NULL;
	const gchar *sign_alg = NULL;
	const gchar *pubkey = NULL;
	TPM2_ALG_ID alg = 0;
	KlPcrBank *bank;

	if (!kl_json_object_get_string(results, "quote", &quote_text, error) ||
	    !kl_json_object_get_string(results, "hash_alg", &hash_alg, error) ||
	    !kl_json_object_get_string(results, "enc_alg", &enc_alg, error) ||
	    !kl_json_object_get_string(results, "sign_alg", &sign_alg, error) ||
	    !kl_json_object_get_string(results, "pubkey", &pubkey, error)) {
		g_prefix_error(error, "the agent's reply: ");
		return FALSE;
	}
	if (!kl_tpm_hash_alg_from_string(hash_alg, &alg) ||
	    !kl_tenant_alg_accepted(hash_alg, options->accept_hash_algs, FALSE)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_VERIFICATION_FAILED,
			    "hash algorithm \"%s\" is not accepted",
			    hash_alg);
		return FALSE;
	}
	if (!kl_tenant_alg_accepted(enc_alg, options->accept_enc_algs, TRUE)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_VERIFICATION_FAILED,
			    "encryption algorithm \"%s\" is not accepted",
			    enc_alg);
		return FALSE;
	}
	if (!kl_tenant_alg_accepted(sign_alg, options->accept_sign_algs, FALSE)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_VERIFICATION_FAILED,
			    "signing algorithm \"%s\" is not accepted",
			    sign_alg);
		return FALSE;
	}
	/* the NK must be an RSA key: U is RSA-OAEP encrypted to it */
	nk = kl_key_load_pem(pubkey, strlen(pubkey), error);
	if (nk == NULL) {
		g_prefix_error(error, "the agent's NK: ");
		return FALSE;
	}
	if (EVP_PKEY_get_base_id(nk) != EVP_PKEY_RSA) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_VERIFICATION_FAILED,
			    "the agent's NK is not an RSA key");
		return FALSE;
	}
	quote = kl_quote_new_from_string(quote_text, error);
	if (quote == NULL) {
		g_prefix_error(error, "the identity quote: ");
		return FALSE;
	}
	ak = kl_quote_key_new(kl_tpm_public_get_key(self->record->ak));
	if (kl_quote_verify(quote, ak, nonce, hash_alg, KL_QUOTE_VERIFY_FLAG_NONE, findings)) {
		bank = kl_quote_get_pcr_bank(quote, hash_alg);
		if (bank == NULL)
			g_ptr_array_add(
				findings,
				kl_finding_new(KL_QUOTE_EVENT_MISSING_PCR16,
					       "PCR 16",
					       0,
					       "the quote has no PCR 16 in its hash algorithm"));
		else
			kl_quote_check_pcr16(bank, pubkey, findings);
	}
	if (findings->len > 0) {
		reason = kl_finding_to_string(g_ptr_array_index(findings, 0));
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_VERIFICATION_FAILED,
			    "the identity quote does not verify with the registrar's AK: %s",
			    reason);
		return FALSE;
	}
	self->nk_pubkey = g_strdup(pubkey);
	return TRUE;
}

typedef struct {
	KlTenantEnrollment *self;
	gchar *nonce;
} KlTenantQuoteCall;

static void
kl_tenant_enrollment_quote_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	KlTenantQuoteCall *call = user_data;
	KlTenantEnrollment *self = call->self;
	g_autofree gchar *nonce = call->nonce;
	g_autoptr(JsonObject) results = NULL;
	GError *error = NULL;

	g_free(call);
	results =
		kl_agent_client_get_identity_quote_finish(KL_AGENT_CLIENT(source), result, &error);
	if (results == NULL) {
		kl_tenant_enrollment_fail(self, KL_TENANT_STEP_IDENTITY_QUOTE, error);
		return;
	}
	if (!kl_tenant_enrollment_check_quote(self, results, nonce, &error)) {
		kl_tenant_enrollment_fail(self, KL_TENANT_STEP_IDENTITY_QUOTE, error);
		return;
	}
	kl_tenant_enrollment_progress(self,
				      KL_TENANT_STEP_IDENTITY_QUOTE,
				      "the identity quote verified and binds the agent's NK");
	kl_tenant_enrollment_step_payload(self);
}

/* GET /quotes/identity at the version in self->target */
static void
kl_tenant_enrollment_get_quote(KlTenantEnrollment *self)
{
	gchar version[KL_API_VERSION_STRING_SIZE];
	KlTenantQuoteCall *call;
	g_autofree gchar *nonce = NULL;
	GError *error = NULL;

	g_free(self->api_version);
	self->api_version = g_strdup(kl_api_version_to_string(&self->target.api_version, version));
	nonce = kl_crypto_random_password(KL_TENANT_NONCE_LENGTH, &error);
	if (nonce == NULL) {
		kl_tenant_enrollment_fail(self, KL_TENANT_STEP_IDENTITY_QUOTE, error);
		return;
	}
	call = g_new0(KlTenantQuoteCall, 1);
	call->self = self;
	call->nonce = g_steal_pointer(&nonce);
	kl_agent_client_get_identity_quote_async(self->client,
						 &self->target,
						 call->nonce,
						 kl_tenant_enrollment_cancellable(self),
						 kl_tenant_enrollment_quote_cb,
						 call);
}

static void
kl_tenant_enrollment_version_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	KlTenantEnrollment *self = user_data;
	KlApiVersion common = {0};
	GError *error = NULL;

	if (!kl_agent_client_get_version_finish(KL_AGENT_CLIENT(source),
						result,
						NULL,
						&common,
						&error)) {
		kl_tenant_enrollment_fail(self, KL_TENANT_STEP_IDENTITY_QUOTE, error);
		return;
	}
	self->target.api_version = common;
	kl_tenant_enrollment_get_quote(self);
}

static gboolean
kl_tenant_enrollment_make_client(KlTenantEnrollment *self, GError **error)
{
	KlTenantEnrollOptions *options = self->options;
	KlTenantRegistrarRecord *record = self->record;
	KlAgentClientOptions client_options;

	kl_agent_client_options_init(&client_options);
	client_options.mtls = options->agent_mtls && !record->mtls_disabled;
	client_options.client_cert = options->client_cert;
	client_options.client_key = options->client_key;
	client_options.request_timeout = options->request_timeout;
	client_options.max_in_flight = 1;
	if (client_options.mtls) {
		if (record->mtls_cert == NULL) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_NOT_SUPPORTED,
				    "the registrar has no mtls_cert for agent %s (agent API 1.0 "
				    "is not supported)",
				    options->agent_id);
			return FALSE;
		}
		self->target.mtls_cert = kl_agent_client_pin_new(record->mtls_cert,
								 strlen(record->mtls_cert),
								 error);
		if (self->target.mtls_cert == NULL)
			return FALSE;
	} else if (record->mtls_disabled) {
		g_warning("agent %s has mTLS disabled: talking plain HTTP to it",
			  options->agent_id);
	}
	self->client = kl_agent_client_new(&client_options, error);
	return self->client != NULL;
}

static void
kl_tenant_enrollment_step_identity_quote(KlTenantEnrollment *self)
{
	GError *error = NULL;

	kl_tenant_enrollment_progress(self,
				      KL_TENANT_STEP_IDENTITY_QUOTE,
				      "asking agent %s at %s:%u for an identity quote",
				      self->options->agent_id,
				      self->agent_ip,
				      self->target.port);
	if (!kl_tenant_enrollment_make_client(self, &error)) {
		kl_tenant_enrollment_fail(self, KL_TENANT_STEP_IDENTITY_QUOTE, error);
		return;
	}
	/* --supported-version: upstream skips GET /version and uses it */
	if (self->options->supported_version != NULL) {
		if (!kl_api_version_parse(self->options->supported_version,
					  &self->target.api_version,
					  &error)) {
			kl_tenant_enrollment_fail(self, KL_TENANT_STEP_IDENTITY_QUOTE, error);
			return;
		}
		kl_tenant_enrollment_get_quote(self);
		return;
	}
	kl_agent_client_get_version_async(self->client,
					  &self->target,
					  kl_tenant_enrollment_cancellable(self),
					  kl_tenant_enrollment_version_cb,
					  self);
}

/* --- step: ek-certificate --- */

/* Every certificate in the files of @dir; unreadable files are skipped
 * (upstream does the same). */
static GPtrArray *
kl_tenant_load_cert_store(const gchar *dir, GError **error)
{
	g_autoptr(GPtrArray) certs = g_ptr_array_new_with_free_func((GDestroyNotify)X509_free);
	g_autoptr(GDir) handle = NULL;
	const gchar *name;

	handle = g_dir_open(dir, 0, error);
	if (handle == NULL)
		return NULL;
	while ((name = g_dir_read_name(handle)) != NULL) {
		g_autofree gchar *path = g_build_filename(dir, name, NULL);
		g_autoptr(GPtrArray) bundle = NULL;
		g_autoptr(GError) error_local = NULL;

		if (!g_file_test(path, G_FILE_TEST_IS_REGULAR))
			continue;
		bundle = kl_x509_load_pem_bundle_file(path, &error_local);
		if (bundle == NULL) {
			g_debug("tpm_cert_store: skipping %s: %s", path, error_local->message);
			continue;
		}
		for (guint i = 0; i < bundle->len; i++) {
			X509 *cert = g_ptr_array_index(bundle, i);
			X509_up_ref(cert);
			g_ptr_array_add(certs, cert);
		}
	}
	if (certs->len == 0) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_NOT_FOUND,
			    "tpm_cert_store %s holds no certificate",
			    dir);
		return NULL;
	}
	return g_steal_pointer(&certs);
}

static gboolean
kl_tenant_enrollment_check_ek_cert(KlTenantEnrollment *self, GError **error)
{
	KlTenantRegistrarRecord *record = self->record;
	g_autoptr(GPtrArray) store = NULL;

	if (record->ek_certificate == NULL) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_VERIFICATION_FAILED,
			    "agent %s has no EK certificate and require_ek_cert is set",
			    self->options->agent_id);
		return FALSE;
	}
	if (self->options->tpm_cert_store == NULL) {
		g_set_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT, "no tpm_cert_store");
		return FALSE;
	}
	store = kl_tenant_load_cert_store(self->options->tpm_cert_store, error);
	if (store == NULL)
		return FALSE;
	if (!kl_x509_verify_chain(record->ek_certificate, store, store, error)) {
		g_prefix_error(error,
			       "the EK certificate does not chain to tpm_cert_store %s: ",
			       self->options->tpm_cert_store);
		return FALSE;
	}
	if (!kl_x509_public_key_equal(record->ek_certificate, kl_tpm_public_get_key(record->ek))) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_VERIFICATION_FAILED,
			    "the EK certificate is not for the registered EK");
		return FALSE;
	}
	return TRUE;
}

static void
kl_tenant_enrollment_ek_script_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	KlTenantEnrollment *self = user_data;
	GError *error = NULL;

	if (!g_subprocess_wait_check_finish(G_SUBPROCESS(source), result, &error)) {
		g_prefix_error(&error, "ek_check_script %s: ", self->options->ek_check_script);
		kl_tenant_enrollment_fail(self, KL_TENANT_STEP_EK_CERTIFICATE, error);
		return;
	}
	kl_tenant_enrollment_progress(self,
				      KL_TENANT_STEP_EK_CERTIFICATE,
				      "ek_check_script accepted the EK");
	kl_tenant_enrollment_step_identity_quote(self);
}

/* upstream's environment: AGENT_UUID, EK (PEM), EK_TPM (b64), EK_CERT (b64
 * DER or ""), PROVKEYS (JSON), TPM_CERT_STORE */
static gboolean
kl_tenant_enrollment_run_ek_script(KlTenantEnrollment *self, GError **error)
{
	KlTenantRegistrarRecord *record = self->record;
	g_autoptr(GSubprocessLauncher) launcher =
		g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
	g_autoptr(GSubprocess) process = NULL;
	g_autoptr(GBytes) der = NULL;
	g_autofree gchar *ek_pem = NULL;
	g_autofree gchar *ek_cert_b64 = NULL;

	ek_pem = kl_key_to_pem_public(kl_tpm_public_get_key(record->ek), error);
	if (ek_pem == NULL)
		return FALSE;
	if (record->ek_certificate != NULL) {
		der = kl_x509_to_der(record->ek_certificate, error);
		if (der == NULL)
			return FALSE;
		ek_cert_b64 = g_base64_encode(g_bytes_get_data(der, NULL), g_bytes_get_size(der));
	}
	g_subprocess_launcher_setenv(launcher, "AGENT_UUID", self->options->agent_id, TRUE);
	g_subprocess_launcher_setenv(launcher, "EK", ek_pem, TRUE);
	g_subprocess_launcher_setenv(launcher, "EK_TPM", record->ek_tpm, TRUE);
	g_subprocess_launcher_setenv(launcher,
				     "EK_CERT",
				     ek_cert_b64 != NULL ? ek_cert_b64 : "",
				     TRUE);
	g_subprocess_launcher_setenv(launcher, "PROVKEYS", "{}", TRUE);
	g_subprocess_launcher_setenv(
		launcher,
		"TPM_CERT_STORE",
		self->options->tpm_cert_store != NULL ? self->options->tpm_cert_store : "",
		TRUE);
	process = g_subprocess_launcher_spawn(launcher,
					      error,
					      "/bin/sh",
					      "-c",
					      self->options->ek_check_script,
					      NULL);
	if (process == NULL)
		return FALSE;
	g_subprocess_wait_check_async(process,
				      kl_tenant_enrollment_cancellable(self),
				      kl_tenant_enrollment_ek_script_cb,
				      self);
	return TRUE;
}

static void
kl_tenant_enrollment_step_ek_certificate(KlTenantEnrollment *self)
{
	GError *error = NULL;

	if (self->options->require_ek_cert) {
		kl_tenant_enrollment_progress(self,
					      KL_TENANT_STEP_EK_CERTIFICATE,
					      "checking the EK certificate against %s",
					      self->options->tpm_cert_store != NULL
						      ? self->options->tpm_cert_store
						      : "(no tpm_cert_store)");
		if (!kl_tenant_enrollment_check_ek_cert(self, &error)) {
			kl_tenant_enrollment_fail(self, KL_TENANT_STEP_EK_CERTIFICATE, error);
			return;
		}
	} else {
		kl_tenant_enrollment_progress(
			self,
			KL_TENANT_STEP_EK_CERTIFICATE,
			"require_ek_cert is off: the EK certificate is not checked");
	}
	if (self->options->ek_check_script != NULL && self->options->ek_check_script[0] != '\0') {
		kl_tenant_enrollment_progress(self,
					      KL_TENANT_STEP_EK_CERTIFICATE,
					      "running ek_check_script");
		if (!kl_tenant_enrollment_run_ek_script(self, &error)) {
			g_prefix_error(&error, "ek_check_script: ");
			kl_tenant_enrollment_fail(self, KL_TENANT_STEP_EK_CERTIFICATE, error);
		}
		return;
	}
	kl_tenant_enrollment_step_identity_quote(self);
}

/* --- step: registrar --- */

static void
kl_tenant_enrollment_registrar_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	KlTenantEnrollment *self = user_data;
	KlTenantEnrollOptions *options = self->options;
	GError *error = NULL;

	(void)source;
	self->record = kl_tenant_registrar_get_agent_finish(result, &error);
	if (self->record == NULL) {
		kl_tenant_enrollment_fail(self, KL_TENANT_STEP_REGISTRAR, error);
		return;
	}
	self->agent_ip =
		g_strdup(options->agent_host != NULL ? options->agent_host : self->record->ip);
	self->target.agent_id = options->agent_id;
	self->target.ip = self->agent_ip;
	self->target.port = options->agent_port != 0 ? options->agent_port : self->record->port;
	kl_tenant_enrollment_progress(self,
				      KL_TENANT_STEP_REGISTRAR,
				      "agent %s is registered (contact %s:%u)",
				      options->agent_id,
				      self->agent_ip,
				      self->target.port);
	kl_tenant_enrollment_step_ek_certificate(self);
}

static gboolean
kl_tenant_is_set(const gchar *value)
{
	return value != NULL && *value != '\0';
}

/*
 * The tpm_policy the verifier gets (spec §4.7): the operator's, with PCR
 * 10 in the mask when IMA is checked (a runtime policy, its name or IMA
 * signature keys) and the measured-boot PCRs when a boot policy is; a
 * policy listing one of those boot PCRs beside a boot policy is refused.
 * Without PCR 10 quoted, the verifier never sees the IMA log.
 */
static gchar *
kl_tenant_enrollment_tpm_policy(KlTenantEnrollOptions *options, GError **error)
{
	const gchar *text = options->tpm_policy != NULL ? options->tpm_policy : "{}";
	g_autoptr(KlTpmPolicy) policy = kl_tpm_policy_new_from_json(text, strlen(text), error);
	gboolean ima;
	gboolean boot;

	if (policy == NULL) {
		g_prefix_error(error, "tpm_policy: ");
		return NULL;
	}
	ima = kl_tenant_is_set(options->runtime_policy) ||
	      kl_tenant_is_set(options->runtime_policy_name) ||
	      kl_tenant_is_set(options->ima_sign_verification_keys);
	boot = kl_tenant_is_set(options->mb_policy) || kl_tenant_is_set(options->mb_policy_name);
	if (boot && (kl_tpm_policy_get_pcrs(policy) & KL_TENANT_BOOT_PCRS) != 0) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "tpm_policy lists a PCR that measured boot uses (0-9, 11-15): "
			    "leave it to the boot policy");
		return NULL;
	}
	if (ima)
		kl_tpm_policy_select(policy, 1u << KL_TENANT_IMA_PCR);
	if (boot)
		kl_tpm_policy_select(policy, KL_TENANT_BOOT_PCRS);
	return kl_tpm_policy_to_json(policy);
}

static gboolean
kl_tenant_enrollment_check_options(KlTenantEnrollOptions *options, GError **error)
{
	if (options->agent_id == NULL || options->agent_id[0] == '\0') {
		g_set_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT, "no agent id");
		return FALSE;
	}
	if (options->registrar_host == NULL || options->registrar_port == 0) {
		g_set_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT, "no registrar address");
		return FALSE;
	}
	if (options->verify && options->payload_kind == KL_TENANT_PAYLOAD_NONE) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "verifying needs a payload (there is no key to check)");
		return FALSE;
	}
	if (options->payload_kind == KL_TENANT_PAYLOAD_CERT_PACKAGE && options->ca_dir == NULL) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "a certificate package needs a CA directory");
		return FALSE;
	}
	if (options->include_dir != NULL &&
	    options->payload_kind != KL_TENANT_PAYLOAD_CERT_PACKAGE) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "an include directory needs a certificate package");
		return FALSE;
	}
	return TRUE;
}

void
kl_tenant_enrollment_run_async(KlTenantEnrollment *self,
			       GCancellable *cancellable,
			       GAsyncReadyCallback callback,
			       gpointer user_data)
{
	KlTenantEnrollOptions *options;
	KlTenantRegistrarTarget target = {0};
	GError *error = NULL;

	g_return_if_fail(KL_IS_TENANT_ENROLLMENT(self));
	g_return_if_fail(!self->started);

	options = self->options;
	self->started = TRUE;
	self->task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(self->task, kl_tenant_enrollment_run_async);
	if (!kl_tenant_enrollment_check_options(options, &error)) {
		kl_tenant_enrollment_fail(self, KL_TENANT_STEP_REGISTRAR, error);
		return;
	}
	self->tpm_policy = kl_tenant_enrollment_tpm_policy(options, &error);
	if (self->tpm_policy == NULL) {
		kl_tenant_enrollment_fail(self, KL_TENANT_STEP_REGISTRAR, error);
		return;
	}
	kl_tenant_enrollment_progress(self,
				      KL_TENANT_STEP_REGISTRAR,
				      "looking up agent %s at the registrar %s:%u",
				      options->agent_id,
				      options->registrar_host,
				      options->registrar_port);
	target.host = options->registrar_host;
	target.port = options->registrar_port;
	target.ca_path = options->registrar_ca;
	target.client_cert = options->client_cert;
	target.client_key = options->client_key;
	target.timeout = options->request_timeout;
	kl_tenant_registrar_get_agent_async(&target,
					    options->agent_id,
					    cancellable,
					    kl_tenant_enrollment_registrar_cb,
					    self);
}

gboolean
kl_tenant_enrollment_run_finish(KlTenantEnrollment *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}
