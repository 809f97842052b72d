/*
 * kl-tpm-types: the TPM 2.0 structures a verifier receives from agents,
 * parsed strictly with tss2-mu: TPMS_ATTEST, TPMT_SIGNATURE, TPM2B_PUBLIC
 * (to an EVP_PKEY and the object's TPM Name), and tpm2-tools' pcrblob
 * (little-endian dump of TPML_PCR_SELECTION and TPML_DIGESTs) with the PCR
 * values it carries as KlPcrBanks.  Also the TPM algorithm ids in Keylime's
 * spelling.
 *
 * Every length is checked against the buffer, trailing bytes are errors,
 * and the error message names the structure and field.
 */
#pragma once

#include <tss2/tss2_tpm2_types.h>

#include <glib.h>

#include "kl-crypto.h"

G_BEGIN_DECLS

#define KL_TPM_ERROR kl_tpm_error_quark()

typedef enum {
	KL_TPM_ERROR_INVALID_DATA,  /* malformed structure */
	KL_TPM_ERROR_NOT_SUPPORTED, /* well-formed but an algorithm we do not handle */
} KlTpmError;

GQuark kl_tpm_error_quark(void);

/* PCR indices Keylime can select: 3 select bytes. */
#define KL_TPM_PCR_COUNT 24

/* algorithm ids in Keylime's names; NULL or FALSE for anything else */
const gchar *kl_tpm_hash_alg_to_string(TPM2_ALG_ID alg); /* sha1 sha256 sha384 sha512 sm3_256 */
gboolean kl_tpm_hash_alg_from_string(const gchar *name, TPM2_ALG_ID *alg);
gsize kl_tpm_hash_alg_get_digest_size(TPM2_ALG_ID alg);	 /* 0 if unknown */
const gchar *kl_tpm_sign_alg_to_string(TPM2_ALG_ID alg); /* rsassa rsapss ecdsa ecschnorr ... */
gboolean kl_tpm_sign_alg_from_string(const gchar *name, TPM2_ALG_ID *alg);
const gchar *kl_tpm_enc_alg_to_string(TPM2_ALG_ID alg); /* rsa ecc */
gboolean kl_tpm_enc_alg_from_string(const gchar *name, TPM2_ALG_ID *alg);

/* structures */
gboolean
kl_tpm_attest_unmarshal(const guint8 *data, gsize size, TPMS_ATTEST *attest, GError **error);
gboolean
kl_tpm_signature_unmarshal(const guint8 *data, gsize size, TPMT_SIGNATURE *sig, GError **error);
TPM2_ALG_ID kl_tpm_signature_get_hash_alg(const TPMT_SIGNATURE *sig); /* TPM2_ALG_NULL if none */

/* A 24-bit PCR bitmap from a selection's select bytes (bit n = PCR n). */
guint32 kl_tpm_pcr_selection_get_mask(const TPMS_PCR_SELECTION *selection);

/* TPM2B_PUBLIC: the public key, attributes and Name of a TPM object */
typedef struct _KlTpmPublic KlTpmPublic;

KlTpmPublic *kl_tpm_public_new_from_data(const guint8 *data, gsize size, GError **error);
void kl_tpm_public_free(KlTpmPublic *self);
const TPMT_PUBLIC *kl_tpm_public_get_area(KlTpmPublic *self);
TPMA_OBJECT kl_tpm_public_get_object_attributes(KlTpmPublic *self);
EVP_PKEY *kl_tpm_public_get_key(KlTpmPublic *self); /* borrowed; EVP_PKEY_up_ref to keep */
GBytes *kl_tpm_public_get_name(KlTpmPublic *self);  /* nameAlg || H(TPMT_PUBLIC) */

/* One PCR bank of a quote: index → digest of the bank's size. */
typedef struct _KlPcrBank KlPcrBank;

KlPcrBank *kl_pcr_bank_new(TPM2_ALG_ID hash_alg, GError **error);
void kl_pcr_bank_free(KlPcrBank *self);
TPM2_ALG_ID kl_pcr_bank_get_hash_alg(KlPcrBank *self);
const gchar *kl_pcr_bank_get_hash_alg_string(KlPcrBank *self);
gsize kl_pcr_bank_get_digest_size(KlPcrBank *self);
gboolean
kl_pcr_bank_set(KlPcrBank *self, guint index, const guint8 *digest, gsize size, GError **error);
GBytes *kl_pcr_bank_get(KlPcrBank *self, guint index);	  /* borrowed; NULL if absent */
gchar *kl_pcr_bank_get_hex(KlPcrBank *self, guint index); /* NULL if absent */
gboolean kl_pcr_bank_has(KlPcrBank *self, guint index);
guint32 kl_pcr_bank_get_mask(KlPcrBank *self);
guint kl_pcr_bank_get_count(KlPcrBank *self);

/* tpm2-tools' pcrblob (Keylime spec §4.1).  @banks receives one KlPcrBank
 * per selection, in selection order; the values are taken in selection
 * order, PCR 0..23 within a selection. */
gboolean kl_tpm_pcrblob_parse(const guint8 *data,
			      gsize size,
			      TPML_PCR_SELECTION *selection,
			      GPtrArray **banks,
			      GError **error);
/* The inverse, for agents and tests: values taken from @banks in order. */
GBytes *kl_tpm_pcrblob_build(GPtrArray *banks, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlTpmPublic, kl_tpm_public_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlPcrBank, kl_pcr_bank_free)

G_END_DECLS
