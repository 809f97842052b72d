/*
 * kl-test-tpm: the ESYS plumbing that tests and benchmarks share against a
 * KlTestSwtpm — a connection with the fixture's persisted RSA EK (or its
 * ECC P-384 EK), AKs made under that EK, ActivateCredential, PCR reads,
 * resets and extends, quotes as the agent makes them and encoded as Keylime
 * sends them, and NV reads.
 *
 * The TPM commands are the agent's (kl-tpm-esys.h).  Every call that talks
 * to the TPM takes a GError: a TSS return code is reported as
 * KL_AGENT_TPM_ERROR_FAILED with the command's name and Tss2_RC_Decode()'s
 * text, so a test can assert on it.
 */
#pragma once

#include <tss2/tss2_esys.h>

#include <glib.h>

#include "kl-test-swtpm.h"
#include "kl-tpm-esys.h"
#include "kl-tpm-types.h"

G_BEGIN_DECLS

/* TPM2_PT_NV_BUFFER_MAX of swtpm; real TPMs are at least this large. */
#define KL_TEST_TPM_NV_CHUNK 1024

typedef struct _KlTestTpm KlTestTpm;

typedef struct {
	ESYS_TR handle;	     /* ESYS_TR_NONE when not loaded */
	GBytes *public_blob; /* marshalled TPM2B_PUBLIC: the agent's ak_tpm */
	KlTpmPublic *pub;
} KlTestTpmAk;

typedef struct {
	GBytes *attest;	   /* TPMS_ATTEST as signed */
	GBytes *signature; /* marshalled TPMT_SIGNATURE */
	GPtrArray *banks;  /* of KlPcrBank: the quoted PCRs, read after the quote */
} KlTestTpmQuote;

KlTestTpm *kl_test_tpm_new(KlTestSwtpm *swtpm, GError **error);
KlTestTpm *kl_test_tpm_new_fixture(GError **error);
KlTestSwtpm *kl_test_tpm_get_swtpm(KlTestTpm *self);
ESYS_CONTEXT *kl_test_tpm_get_esys(KlTestTpm *self);
void kl_test_tpm_free(KlTestTpm *self);
gboolean kl_test_tpm_use_ek(KlTestTpm *self, TPM2_ALG_ID type, GError **error); /* RSA default */
GBytes *kl_test_tpm_get_ek_public(KlTestTpm *self, GError **error);

KlTestTpmAk *kl_test_tpm_create_ak(KlTestTpm *self,
				   TPM2_ALG_ID type,
				   TPM2_ALG_ID scheme,
				   TPM2_ALG_ID hash,
				   gboolean load,
				   GError **error);
gboolean kl_test_tpm_unload_ak(KlTestTpm *self, KlTestTpmAk *ak, GError **error);
void kl_test_tpm_ak_free(KlTestTpmAk *ak);
GBytes *kl_test_tpm_get_name(KlTestTpm *self, ESYS_TR handle, GError **error);
GBytes *
kl_test_tpm_activate_credential(KlTestTpm *self, KlTestTpmAk *ak, GBytes *blob, GError **error);

KlPcrBank *kl_test_tpm_read_pcrs(KlTestTpm *self, guint32 mask, TPM2_ALG_ID bank, GError **error);
gboolean kl_test_tpm_reset(KlTestTpm *self, guint pcr, GError **error);
gboolean
kl_test_tpm_extend(KlTestTpm *self, guint pcr, TPM2_ALG_ID bank, GBytes *digest, GError **error);

KlTestTpmQuote *kl_test_tpm_quote_raw(KlTestTpm *self,
				      KlTestTpmAk *ak,
				      const gchar *nonce,
				      guint32 mask,
				      TPM2_ALG_ID bank,
				      GError **error);
gchar *kl_test_tpm_quote(KlTestTpm *self,
			 KlTestTpmAk *ak,
			 const gchar *nonce,
			 guint32 mask,
			 TPM2_ALG_ID bank,
			 GError **error);
gchar *
kl_test_tpm_quote_encode(GBytes *attest, GBytes *signature, GPtrArray *banks, GError **error);
void kl_test_tpm_quote_free(KlTestTpmQuote *quote);

GBytes *kl_test_tpm_nv_read(KlTestTpm *self, TPM2_HANDLE index, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlTestTpm, kl_test_tpm_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlTestTpmAk, kl_test_tpm_ak_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlTestTpmQuote, kl_test_tpm_quote_free)

G_END_DECLS
