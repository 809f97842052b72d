/*
 * kl-tpm-esys: KlTpm on tpm2-tss ESYS, as the Rust agent drives its TPM
 * (spec Appendix C): the default EK created as a transient primary, or a
 * persistent EK; the EK certificate from the TCG NV index for the EK's
 * type; an AK under the EK, kept in agent_data.json and reloaded while the
 * EK and the algorithms match.
 *
 * Nothing stays loaded between calls: the EK (when generated) and every
 * session are flushed after each use, and the AK is kept as a saved
 * context that each quote loads and flushes, so the agent fits a TPM
 * without a resource manager (swtpm has 3 object slots).  One ESYS
 * context, not thread safe: call from one thread at a time.
 *
 * Each call recovers from what a TPM does to a long-running agent, on the
 * calling thread and bounded: a busy TPM (TPM_RC_RETRY, _YIELDED,
 * _TESTING) is asked again a few times after a short pause; a TPM that was
 * power-cycled (TPM_RC_INITIALIZE) gets TPM2_Startup(CLEAR) and the
 * command once more, and the AK and a generated EK are loaded again from
 * their blobs and template; after a TCTI error the ESYS context is dropped
 * (the command is not repeated: it may have run) and the next call
 * connects again, once.
 *
 * Below the class, the ESYS commands it is made of, for tests that need
 * them on their own (tests/lib/kl-test-tpm.c).  TSS return codes become
 * KL_AGENT_TPM_ERROR errors with the command's name and Tss2_RC_Decode()'s
 * text, in kl_tpm_esys_check_rc() only: _BUSY, _NOT_STARTED and
 * _CONNECTION for the conditions above, _FAILED for the rest.
 */
#pragma once

#include <tss2/tss2_esys.h>

#include "kl-tpm.h"

G_BEGIN_DECLS

#define KL_TYPE_TPM_ESYS (kl_tpm_esys_get_type())
G_DECLARE_FINAL_TYPE(KlTpmEsys, kl_tpm_esys, KL, TPM_ESYS, KlTpm)

KlTpm *kl_tpm_esys_new(const KlTpmOptions *options, GError **error);
/* borrowed, for tests that inspect the TPM (GetCapability); NULL while
 * the connection is down */
ESYS_CONTEXT *kl_tpm_esys_get_context(KlTpmEsys *self);

/* TCG EK Credential Profile NV indices of EK certificates */
#define KL_TPM_NV_EK_CERT_RSA2048     0x01c00002
#define KL_TPM_NV_EK_CERT_ECC_P256    0x01c0000a
#define KL_TPM_NV_EK_CERT_RSA2048_HR  0x01c00012
#define KL_TPM_NV_EK_CERT_ECC_P256_HR 0x01c00014
#define KL_TPM_NV_EK_CERT_ECC_P384_HR 0x01c00016
#define KL_TPM_NV_EK_CERT_ECC_P521_HR 0x01c00018
#define KL_TPM_NV_EK_CERT_RSA3072_HR  0x01c0001c
#define KL_TPM_NV_EK_CERT_RSA4096_HR  0x01c0001e

/* ESYS building blocks */
gboolean kl_tpm_esys_check_rc(TSS2_RC rc, const gchar *command, GError **error);
GBytes *kl_tpm_esys_marshal_public(const TPM2B_PUBLIC *pub, GError **error);
GBytes *kl_tpm_esys_read_public(ESYS_CONTEXT *esys, ESYS_TR object, GError **error);
/* The session that authorises @ek: a fresh PolicySecret(TPM_RH_ENDORSEMENT)
 * one, or ESYS_TR_PASSWORD for an EK with userWithAuth set.  Pass the
 * result to kl_tpm_esys_session_flush() after the command. */
gboolean kl_tpm_esys_ek_session_start(ESYS_CONTEXT *esys,
				      const TPMT_PUBLIC *ek,
				      ESYS_TR *session,
				      GError **error);
void kl_tpm_esys_session_flush(ESYS_CONTEXT *esys, ESYS_TR session);
gboolean kl_tpm_esys_create(ESYS_CONTEXT *esys,
			    ESYS_TR ek,
			    const TPMT_PUBLIC *ek_area,
			    const TPM2B_PUBLIC *tpl,
			    TPM2B_PRIVATE **out_private,
			    TPM2B_PUBLIC **out_public,
			    GError **error);
gboolean kl_tpm_esys_load(ESYS_CONTEXT *esys,
			  ESYS_TR ek,
			  const TPMT_PUBLIC *ek_area,
			  const TPM2B_PRIVATE *in_private,
			  const TPM2B_PUBLIC *in_public,
			  ESYS_TR *object,
			  GError **error);
KlSecret *kl_tpm_esys_activate_credential(ESYS_CONTEXT *esys,
					  ESYS_TR ak,
					  ESYS_TR ek,
					  const TPMT_PUBLIC *ek_area,
					  const TPM2B_ID_OBJECT *id_object,
					  const TPM2B_ENCRYPTED_SECRET *secret,
					  GError **error);
KlPcrBank *
kl_tpm_esys_read_pcrs(ESYS_CONTEXT *esys, guint32 mask, TPM2_ALG_ID bank, GError **error);
gboolean kl_tpm_esys_pcr_reset(ESYS_CONTEXT *esys, guint pcr, GError **error);
gboolean kl_tpm_esys_pcr_extend(ESYS_CONTEXT *esys,
				guint pcr,
				TPM2_ALG_ID bank,
				GBytes *digest,
				GError **error);
/* TPM2_Quote with @ak's own scheme; marshalled TPMS_ATTEST and TPMT_SIGNATURE */
gboolean kl_tpm_esys_quote(ESYS_CONTEXT *esys,
			   ESYS_TR ak,
			   const guint8 *nonce,
			   gsize nonce_len,
			   guint32 mask,
			   TPM2_ALG_ID bank,
			   GBytes **attest,
			   GBytes **signature,
			   GError **error);
/* Whether an NV index is defined. */
gboolean
kl_tpm_esys_nv_exists(ESYS_CONTEXT *esys, TPM2_HANDLE index, gboolean *exists, GError **error);
/* A whole NV index, in TPM2_PT_NV_BUFFER_MAX chunks, authorised by itself. */
GBytes *kl_tpm_esys_nv_read(ESYS_CONTEXT *esys, TPM2_HANDLE index, GError **error);

G_END_DECLS
