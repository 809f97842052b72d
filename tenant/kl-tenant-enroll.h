/*
 * kl-tenant-enroll: the tenant's add flow (spec §1.3) as an asynchronous
 * object, shared by keylime_tenant's "-c add" and the verifier's D-Bus
 * EnrollAgent.
 *
 * Steps, each announced by the "progress" signal (step, message) with the
 * stable names of org.keylime.Verifier1's EnrollmentProgress:
 *
 *   registrar       GET /v2.x/agents/{id} on the registrar (mTLS), the
 *                   mandatory keys checked
 *   ek-certificate  the EK certificate chained to tpm_cert_store (when
 *                   require_ek_cert), then the optional ek_check_script
 *   identity-quote  GET /version (highest common version < 3.0), then
 *                   GET /quotes/identity with a fresh nonce: algorithms,
 *                   the quote against the registrar's AK, PCR 16 == NK
 *   payload         K, U, V and auth_tag; the certificate package when
 *                   asked; POST /keys/ukey (U, auth_tag, payload)
 *   verifier        the enrolment body (§2.3) handed to the caller's
 *                   verifier step
 *   verify          optional: GET /keys/verify until the agent derived K
 *   done
 *
 * A failure names its step (kl_tenant_enrollment_get_failed_step()) and
 * its message starts with it ("ek-certificate: ..."); the error keeps the
 * domain and code of what failed (KL_ERROR, KL_X509_ERROR,
 * KL_AGENT_CLIENT_ERROR, G_IO_ERROR ...).  Nothing reaches the verifier
 * step unless every step before it passed, and nothing reaches the agent
 * before the registrar record and the EK passed.  After a "verify"
 * failure the agent is enrolled: upstream's tenant then stops it on the
 * verifier (PUT /agents/{id}/stop), which is the caller's to do.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define KL_TENANT_STEP_REGISTRAR      "registrar"
#define KL_TENANT_STEP_EK_CERTIFICATE "ek-certificate"
#define KL_TENANT_STEP_IDENTITY_QUOTE "identity-quote"
#define KL_TENANT_STEP_PAYLOAD	      "payload"
#define KL_TENANT_STEP_VERIFIER	      "verifier"
#define KL_TENANT_STEP_VERIFY	      "verify"
#define KL_TENANT_STEP_DONE	      "done"

/* tenant.conf max_payload_size */
#define KL_TENANT_MAX_PAYLOAD_SIZE (1024 * 1024)

typedef enum {
	KL_TENANT_PAYLOAD_NONE,
	KL_TENANT_PAYLOAD_FILE,	       /* payload_file encrypted as it is (-f) */
	KL_TENANT_PAYLOAD_CERT_PACKAGE /* --cert ca_dir [--include dir] */
} KlTenantPayloadKind;

/*
 * Everything the flow needs; every field is owned (g_free'd, g_strfreev'd,
 * unref'd by kl_tenant_enroll_options_free()).  _new() sets upstream's
 * defaults: require_ek_cert TRUE, the accepted algorithm lists, agent_mtls
 * TRUE, tpm_policy "{}", verify tries and interval.
 */
typedef struct {
	gchar *agent_id;
	/* the registrar's admin (TLS) port and the tenant's credentials */
	gchar *registrar_host;
	guint16 registrar_port;
	gchar *registrar_ca; /* PEM file trusted for the registrar's server cert */
	gchar *client_cert;  /* PEM file: the tenant's client certificate */
	gchar *client_key;   /* PEM file */
	/* the agent: NULL/0 take the registrar record's ip/port */
	gchar *agent_host;
	guint16 agent_port;
	gchar *cv_agent_host; /* cloudagent_ip for the verifier; NULL: the agent's */
	gboolean agent_mtls;  /* FALSE: plain HTTP to the agent */
	/* the EK */
	gchar *tpm_cert_store; /* directory of CA certificates (PEM) */
	gboolean require_ek_cert;
	gchar *ek_check_script; /* nullable */
	/* accepted algorithms (§4.4) */
	gchar **accept_hash_algs;
	gchar **accept_enc_algs;
	gchar **accept_sign_algs;
	/* policies, as the verifier takes them (§2.3) */
	gchar *tpm_policy;		   /* JSON text */
	gchar *runtime_policy;		   /* JSON text; nullable */
	gchar *runtime_policy_name;	   /* nullable */
	gchar *mb_policy;		   /* refstate JSON text; nullable */
	gchar *mb_policy_name;		   /* nullable */
	gchar *ima_sign_verification_keys; /* nullable: "" */
	gchar *supported_version;	   /* agent API version; NULL: GET /version */
	/* the payload */
	KlTenantPayloadKind payload_kind;
	GBytes *payload_file;	    /* KL_TENANT_PAYLOAD_FILE */
	gchar *ca_dir;		    /* KL_TENANT_PAYLOAD_CERT_PACKAGE: keylime_ca dir */
	gchar *include_dir;	    /* nullable: regular files added to the package */
	gchar **revocation_actions; /* nullable: written as action_list */
	/* KL_TENANT_PAYLOAD_FILE holding a certificate package made elsewhere
	 * (a console's): what the verifier keeps of it; nullable */
	gchar *payload_metadata;       /* JSON object text, else "{}" */
	gchar *payload_revocation_key; /* PEM, else "" */
	/* --verify */
	gboolean verify;
	guint verify_tries;
	guint verify_interval_ms;
	gdouble request_timeout; /* seconds per request */
} KlTenantEnrollOptions;

KlTenantEnrollOptions *kl_tenant_enroll_options_new(void);
void kl_tenant_enroll_options_free(KlTenantEnrollOptions *options);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlTenantEnrollOptions, kl_tenant_enroll_options_free)

#define KL_TYPE_TENANT_ENROLLMENT (kl_tenant_enrollment_get_type())
G_DECLARE_FINAL_TYPE(KlTenantEnrollment, kl_tenant_enrollment, KL, TENANT_ENROLLMENT, GObject)

/*
 * The verifier step: called once with the enrolment body (borrowed, valid
 * until kl_tenant_enrollment_verifier_done()).  The caller enrols the agent
 * (POST to a verifier, or kl_verifier_add_agent() in-process) and then
 * calls kl_tenant_enrollment_verifier_done(), at once (from inside the
 * step) or later from the same main context.  The run's cancellable is
 * not watched while the step is pending.
 */
typedef void (*KlTenantVerifierStep)(KlTenantEnrollment *self,
				     const gchar *agent_id,
				     JsonObject *body,
				     gpointer user_data);

/* Takes @options; the verifier step is required. */
KlTenantEnrollment *kl_tenant_enrollment_new(KlTenantEnrollOptions *options,
					     KlTenantVerifierStep verifier_step,
					     gpointer user_data,
					     GDestroyNotify user_data_free);

/* @error (transfer full): NULL when the verifier accepted the agent. */
void kl_tenant_enrollment_verifier_done(KlTenantEnrollment *self, GError *error);

/* Once per object; callbacks in the thread-default main context of the call. */
void kl_tenant_enrollment_run_async(KlTenantEnrollment *self,
				    GCancellable *cancellable,
				    GAsyncReadyCallback callback,
				    gpointer user_data);
gboolean
kl_tenant_enrollment_run_finish(KlTenantEnrollment *self, GAsyncResult *result, GError **error);

const gchar *kl_tenant_enrollment_get_agent_id(KlTenantEnrollment *self);
/* The step that failed; NULL while running or after success. */
const gchar *kl_tenant_enrollment_get_failed_step(KlTenantEnrollment *self);
/* After the verifier step: the body it was given (nullable). */
JsonObject *kl_tenant_enrollment_get_body(KlTenantEnrollment *self);
/* After identity-quote: the agent's NK (PEM) and API version (nullable). */
const gchar *kl_tenant_enrollment_get_nk_pubkey(KlTenantEnrollment *self);
const gchar *kl_tenant_enrollment_get_api_version(KlTenantEnrollment *self);

G_END_DECLS
