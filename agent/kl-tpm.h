/*
 * kl-tpm: what the agent needs from its TPM (Keylime spec §1.2, §4.2,
 * §4.5, Appendix C): the EK public area and certificate, the AK public
 * area and Name, TPM2_ActivateCredential of the registrar's blob, PCR
 * reads, and quotes in Keylime's encoding with PCR 16 bound to the NK.
 *
 * KlTpm is an abstract class: KlTpmEsys talks to a TPM through tpm2-tss,
 * KlTpmSoft is an OpenSSL stand-in for tests and benchmarks.  The quote
 * algorithm (PCR 16 reset and extend, quote, read, retry until the digest
 * matches) lives here once; subclasses provide the TPM commands and set
 * the keys with kl_tpm_set_keys() when they are constructed.
 *
 * A KlTpm is not thread safe: one TPM connection, used from one thread
 * at a time.
 */
#pragma once

#include <tss2/tss2_tpm2_types.h>

#include <glib-object.h>

#include "kl-secret.h"
#include "kl-tpm-types.h"

G_BEGIN_DECLS

#define KL_AGENT_TPM_ERROR kl_agent_tpm_error_quark()

typedef enum {
	KL_AGENT_TPM_ERROR_FAILED,	     /* a TPM or TSS command failed */
	KL_AGENT_TPM_ERROR_INVALID_ARGUMENT, /* nonce, mask, blob or digest the caller gave */
	KL_AGENT_TPM_ERROR_NOT_SUPPORTED,    /* an algorithm or key type we do not handle */
	KL_AGENT_TPM_ERROR_INVALID_DATA,     /* the TPM or the AK store returned nonsense */
	KL_AGENT_TPM_ERROR_BUSY,	     /* TPM_RC_RETRY, _YIELDED or _TESTING: try again */
	KL_AGENT_TPM_ERROR_NOT_STARTED,	     /* TPM_RC_INITIALIZE: it needs TPM2_Startup */
	KL_AGENT_TPM_ERROR_CONNECTION,	     /* the TCTI lost the TPM: I/O error, no connection */
} KlAgentTpmError;

GQuark kl_agent_tpm_error_quark(void);

/* TPM2B_DATA: the longest nonce a quote can carry (the Rust agent's MAX_NONCE_SIZE) */
#define KL_TPM_NONCE_MAX 64

/* the data PCR the NK is bound to (§4.5) */
#define KL_TPM_NK_PCR 16

/* Quotes are retried this often when PCRs move between quote and read. */
#define KL_TPM_QUOTE_ATTEMPTS 5

/* agent.conf's TPM options, already parsed */
typedef struct {
	const gchar *tcti;	      /* KlTpmEsys: a TCTI string; NULL: tss2's default */
	guint32 ek_handle;	      /* a persistent EK, or 0 ("generate"): the default EK */
	TPM2_ALG_ID enc_alg;	      /* tpm_encryption_alg: the default EK's type, RSA or ECC */
	TPM2_ALG_ID hash_alg;	      /* tpm_hash_alg: the AK's scheme hash */
	TPM2_ALG_ID sign_alg;	      /* tpm_signing_alg: RSASSA, RSAPSS, ECDSA or ECSCHNORR */
	const gchar *agent_data_path; /* KlTpmEsys: the AK store; NULL: a new AK each time */
} KlTpmOptions;

/* The Rust agent's defaults: generate, rsa, sha256, rsassa, no store. */
void kl_tpm_options_init(KlTpmOptions *options);

#define KL_TYPE_TPM (kl_tpm_get_type())
G_DECLARE_DERIVABLE_TYPE(KlTpm, kl_tpm, KL, TPM, GObject)

struct _KlTpmClass {
	GObjectClass parent_class;

	/* Every TPM command the base class needs; all required. */
	KlSecret *(*activate_credential)(KlTpm *self,
					 const TPM2B_ID_OBJECT *id_object,
					 const TPM2B_ENCRYPTED_SECRET *secret,
					 GError **error);
	gboolean (*pcr_reset)(KlTpm *self, guint pcr, GError **error);
	gboolean (*pcr_extend)(KlTpm *self,
			       guint pcr,
			       TPM2_ALG_ID bank,
			       GBytes *digest,
			       GError **error);
	KlPcrBank *(*read_pcrs)(KlTpm *self, guint32 mask, TPM2_ALG_ID bank, GError **error);
	/* TPM2_Quote with the AK's scheme; the marshalled TPMS_ATTEST and
	 * TPMT_SIGNATURE */
	gboolean (*quote)(KlTpm *self,
			  const guint8 *nonce,
			  gsize nonce_len,
			  guint32 mask,
			  TPM2_ALG_ID bank,
			  GBytes **attest,
			  GBytes **signature,
			  GError **error);

	gpointer padding[8];
};

/* marshalled TPM2B_PUBLIC: ek_tpm and aik_tpm of the registration */
GBytes *kl_tpm_get_ek_public(KlTpm *self);
GBytes *kl_tpm_get_ek_certificate(KlTpm *self); /* DER, or NULL if the TPM has none */
GBytes *kl_tpm_get_ak_public(KlTpm *self);
GBytes *kl_tpm_get_ak_name(KlTpm *self); /* nameAlg || H(TPMT_PUBLIC) */
KlTpmPublic *kl_tpm_get_ek(KlTpm *self);
KlTpmPublic *kl_tpm_get_ak(KlTpm *self);
/* the algorithms the agent reports beside its quotes, Keylime's names */
const gchar *kl_tpm_get_hash_alg(KlTpm *self); /* the AK's scheme hash */
const gchar *kl_tpm_get_sign_alg(KlTpm *self); /* the AK's scheme */
const gchar *kl_tpm_get_enc_alg(KlTpm *self);  /* the EK's type: rsa or ecc */

/* Opens the registrar's MakeCredential blob (tpm2-tools file). */
KlSecret *kl_tpm_activate_credential(KlTpm *self, GBytes *blob, GError **error);

KlPcrBank *kl_tpm_read_pcrs(KlTpm *self, guint32 mask, TPM2_ALG_ID bank, GError **error);

/*
 * "r<b64 TPMS_ATTEST>:<b64 TPMT_SIGNATURE>:<b64 pcrblob>" over @mask and
 * PCR 16 of @bank, after PCR 16 is reset and extended with
 * H_bank(@nk_pubkey_pem); @nonce's bytes are the qualifying data.
 */
gchar *kl_tpm_quote(KlTpm *self,
		    const gchar *nonce,
		    guint32 mask,
		    TPM2_ALG_ID bank,
		    const gchar *nk_pubkey_pem,
		    GError **error);
/* GET /quotes/identity: PCR 16 only, in the AK's hash bank. */
gchar *
kl_tpm_identity_quote(KlTpm *self, const gchar *nonce, const gchar *nk_pubkey_pem, GError **error);

/* For subclasses, once, while they are constructed. */
gboolean kl_tpm_set_keys(KlTpm *self,
			 GBytes *ek_public,
			 GBytes *ek_certificate,
			 GBytes *ak_public,
			 GError **error);
/* The TCG default EK template: RSA-2048 (L-1) or ECC NIST P-256 (L-2). */
gboolean kl_tpm_ek_template(TPM2B_PUBLIC *tpl, TPM2_ALG_ID type, GError **error);
/* The AK an options struct asks for: its type from the signing scheme. */
gboolean
kl_tpm_ak_template(TPM2B_PUBLIC *tpl, TPM2_ALG_ID sign_alg, TPM2_ALG_ID hash_alg, GError **error);

G_END_DECLS
