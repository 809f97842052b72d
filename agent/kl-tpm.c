/*
 * The TPM-independent half of the agent's TPM layer: the keys as the
 * subclass found them, and the quote algorithm of the Rust agent (spec
 * §4.2): PCR 16 := H(0^n || H(NK PEM)), then quote and read the PCRs until
 * the read values hash to the quote's pcrDigest.
 */
#include "config.h"

#include <string.h>
#include <tss2/tss2_mu.h>

#include "kl-finding.h"
#include "kl-makecredential.h"
#include "kl-quote.h"
#include "kl-tpm.h"

typedef struct {
	GBytes *ek_public;
	GBytes *ek_certificate;
	GBytes *ak_public;
	KlTpmPublic *ek;
	KlTpmPublic *ak;
} KlTpmPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE(KlTpm, kl_tpm, G_TYPE_OBJECT)

G_DEFINE_QUARK(kl - agent - tpm - error - quark, kl_agent_tpm_error)

void
kl_tpm_options_init(KlTpmOptions *options)
{
	memset(options, 0, sizeof(*options));
	options->enc_alg = TPM2_ALG_RSA;
	options->hash_alg = TPM2_ALG_SHA256;
	options->sign_alg = TPM2_ALG_RSASSA;
}

static void
kl_tpm_finalize(GObject *object)
{
	KlTpmPrivate *priv = kl_tpm_get_instance_private(KL_TPM(object));

	g_clear_pointer(&priv->ek_public, g_bytes_unref);
	g_clear_pointer(&priv->ek_certificate, g_bytes_unref);
	g_clear_pointer(&priv->ak_public, g_bytes_unref);
	g_clear_pointer(&priv->ek, kl_tpm_public_free);
	g_clear_pointer(&priv->ak, kl_tpm_public_free);
	G_OBJECT_CLASS(kl_tpm_parent_class)->finalize(object);
}

static void
kl_tpm_class_init(KlTpmClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = kl_tpm_finalize;
}

static void
kl_tpm_init(KlTpm *self)
{
}

/* PolicySecret(TPM_RH_ENDORSEMENT) with SHA-256: the default EKs' authPolicy */
static const guint8 kl_tpm_ek_policy[] = {
	0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc,
	0x8d, 0x46, 0xa5, 0xd7, 0x24, 0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52,
	0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
};

gboolean
kl_tpm_ek_template(TPM2B_PUBLIC *tpl, TPM2_ALG_ID type, GError **error)
{
	TPMT_PUBLIC *area = &tpl->publicArea;

	memset(tpl, 0, sizeof(*tpl));
	area->nameAlg = TPM2_ALG_SHA256;
	area->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
				 TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
				 TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
	area->authPolicy.size = sizeof(kl_tpm_ek_policy);
	memcpy(area->authPolicy.buffer, kl_tpm_ek_policy, sizeof(kl_tpm_ek_policy));
	switch (type) {
	case TPM2_ALG_RSA:
		area->type = TPM2_ALG_RSA;
		area->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
		area->parameters.rsaDetail.symmetric.keyBits.aes = 128;
		area->parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
		area->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
		area->parameters.rsaDetail.keyBits = 2048;
		area->unique.rsa.size = 256;
		return TRUE;
	case TPM2_ALG_ECC:
		area->type = TPM2_ALG_ECC;
		area->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
		area->parameters.eccDetail.symmetric.keyBits.aes = 128;
		area->parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
		area->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
		area->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
		area->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
		area->unique.ecc.x.size = 32;
		area->unique.ecc.y.size = 32;
		return TRUE;
	default:
		g_set_error(error,
			    KL_AGENT_TPM_ERROR,
			    KL_AGENT_TPM_ERROR_NOT_SUPPORTED,
			    "EK type 0x%x: rsa or ecc",
			    (guint)type);
		return FALSE;
	}
}

gboolean
kl_tpm_ak_template(TPM2B_PUBLIC *tpl, TPM2_ALG_ID sign_alg, TPM2_ALG_ID hash_alg, GError **error)
{
	if (kl_tpm_hash_alg_get_digest_size(hash_alg) == 0) {
		g_set_error(error,
			    KL_AGENT_TPM_ERROR,
			    KL_AGENT_TPM_ERROR_NOT_SUPPORTED,
			    "AK hash algorithm 0x%x",
			    (guint)hash_alg);
		return FALSE;
	}
	memset(tpl, 0, sizeof(*tpl));
	tpl->publicArea.nameAlg = TPM2_ALG_SHA256;
	tpl->publicArea.objectAttributes =
		TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
		TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
	switch (sign_alg) {
	case TPM2_ALG_RSASSA:
	case TPM2_ALG_RSAPSS: {
		TPMS_RSA_PARMS *rsa = &tpl->publicArea.parameters.rsaDetail;
		tpl->publicArea.type = TPM2_ALG_RSA;
		rsa->symmetric.algorithm = TPM2_ALG_NULL;
		rsa->scheme.scheme = sign_alg;
		rsa->scheme.details.anySig.hashAlg = hash_alg;
		rsa->keyBits = 2048;
		return TRUE;
	}
	case TPM2_ALG_ECDSA:
	case TPM2_ALG_ECSCHNORR: {
		TPMS_ECC_PARMS *ecc = &tpl->publicArea.parameters.eccDetail;
		tpl->publicArea.type = TPM2_ALG_ECC;
		ecc->symmetric.algorithm = TPM2_ALG_NULL;
		ecc->scheme.scheme = sign_alg;
		ecc->scheme.details.anySig.hashAlg = hash_alg;
		ecc->curveID = TPM2_ECC_NIST_P256;
		ecc->kdf.scheme = TPM2_ALG_NULL;
		return TRUE;
	}
	default:
		g_set_error(error,
			    KL_AGENT_TPM_ERROR,
			    KL_AGENT_TPM_ERROR_NOT_SUPPORTED,
			    "AK signing algorithm 0x%x",
			    (guint)sign_alg);
		return FALSE;
	}
}

gboolean
kl_tpm_set_keys(KlTpm *self,
		GBytes *ek_public,
		GBytes *ek_certificate,
		GBytes *ak_public,
		GError **error)
{
	KlTpmPrivate *priv = kl_tpm_get_instance_private(self);
	g_autoptr(KlTpmPublic) ek = NULL;
	g_autoptr(KlTpmPublic) ak = NULL;

	g_return_val_if_fail(KL_IS_TPM(self), FALSE);
	g_return_val_if_fail(ek_public != NULL && ak_public != NULL, FALSE);

	ek = kl_tpm_public_new_from_data(g_bytes_get_data(ek_public, NULL),
					 g_bytes_get_size(ek_public),
					 error);
	if (ek == NULL) {
		g_prefix_error(error, "EK: ");
		return FALSE;
	}
	ak = kl_tpm_public_new_from_data(g_bytes_get_data(ak_public, NULL),
					 g_bytes_get_size(ak_public),
					 error);
	if (ak == NULL) {
		g_prefix_error(error, "AK: ");
		return FALSE;
	}
	g_clear_pointer(&priv->ek_public, g_bytes_unref);
	g_clear_pointer(&priv->ek_certificate, g_bytes_unref);
	g_clear_pointer(&priv->ak_public, g_bytes_unref);
	g_clear_pointer(&priv->ek, kl_tpm_public_free);
	g_clear_pointer(&priv->ak, kl_tpm_public_free);
	priv->ek_public = g_bytes_ref(ek_public);
	priv->ek_certificate = ek_certificate != NULL ? g_bytes_ref(ek_certificate) : NULL;
	priv->ak_public = g_bytes_ref(ak_public);
	priv->ek = g_steal_pointer(&ek);
	priv->ak = g_steal_pointer(&ak);
	return TRUE;
}

GBytes *
kl_tpm_get_ek_public(KlTpm *self)
{
	KlTpmPrivate *priv = kl_tpm_get_instance_private(self);
	g_return_val_if_fail(KL_IS_TPM(self), NULL);
	return priv->ek_public;
}

GBytes *
kl_tpm_get_ek_certificate(KlTpm *self)
{
	KlTpmPrivate *priv = kl_tpm_get_instance_private(self);
	g_return_val_if_fail(KL_IS_TPM(self), NULL);
	return priv->ek_certificate;
}

GBytes *
kl_tpm_get_ak_public(KlTpm *self)
{
	KlTpmPrivate *priv = kl_tpm_get_instance_private(self);
	g_return_val_if_fail(KL_IS_TPM(self), NULL);
	return priv->ak_public;
}

GBytes *
kl_tpm_get_ak_name(KlTpm *self)
{
	KlTpmPrivate *priv = kl_tpm_get_instance_private(self);
	g_return_val_if_fail(KL_IS_TPM(self), NULL);
	return kl_tpm_public_get_name(priv->ak);
}

KlTpmPublic *
kl_tpm_get_ek(KlTpm *self)
{
	KlTpmPrivate *priv = kl_tpm_get_instance_private(self);
	g_return_val_if_fail(KL_IS_TPM(self), NULL);
	return priv->ek;
}

KlTpmPublic *
kl_tpm_get_ak(KlTpm *self)
{
	KlTpmPrivate *priv = kl_tpm_get_instance_private(self);
	g_return_val_if_fail(KL_IS_TPM(self), NULL);
	return priv->ak;
}

/* the AK's signing scheme and its hash */
static void
kl_tpm_get_ak_scheme(KlTpm *self, TPM2_ALG_ID *scheme, TPM2_ALG_ID *hash_alg)
{
	const TPMT_PUBLIC *area = kl_tpm_public_get_area(kl_tpm_get_ak(self));

	if (area->type == TPM2_ALG_RSA) {
		*scheme = area->parameters.rsaDetail.scheme.scheme;
		*hash_alg = area->parameters.rsaDetail.scheme.details.anySig.hashAlg;
	} else {
		*scheme = area->parameters.eccDetail.scheme.scheme;
		*hash_alg = area->parameters.eccDetail.scheme.details.anySig.hashAlg;
	}
}

const gchar *
kl_tpm_get_hash_alg(KlTpm *self)
{
	TPM2_ALG_ID scheme, hash_alg;

	g_return_val_if_fail(KL_IS_TPM(self), NULL);
	kl_tpm_get_ak_scheme(self, &scheme, &hash_alg);
	return kl_tpm_hash_alg_to_string(hash_alg);
}

const gchar *
kl_tpm_get_sign_alg(KlTpm *self)
{
	TPM2_ALG_ID scheme, hash_alg;

	g_return_val_if_fail(KL_IS_TPM(self), NULL);
	kl_tpm_get_ak_scheme(self, &scheme, &hash_alg);
	return kl_tpm_sign_alg_to_string(scheme);
}

const gchar *
kl_tpm_get_enc_alg(KlTpm *self)
{
	g_return_val_if_fail(KL_IS_TPM(self), NULL);
	return kl_tpm_enc_alg_to_string(kl_tpm_public_get_area(kl_tpm_get_ek(self))->type);
}

KlSecret *
kl_tpm_activate_credential(KlTpm *self, GBytes *blob, GError **error)
{
	TPM2B_ID_OBJECT id_object = {0};
	TPM2B_ENCRYPTED_SECRET secret = {0};

	g_return_val_if_fail(KL_IS_TPM(self), NULL);
	g_return_val_if_fail(blob != NULL, NULL);

	if (!kl_makecredential_blob_parse(g_bytes_get_data(blob, NULL),
					  g_bytes_get_size(blob),
					  &id_object,
					  &secret,
					  error))
		return NULL;
	return KL_TPM_GET_CLASS(self)->activate_credential(self, &id_object, &secret, error);
}

static gboolean
kl_tpm_check_mask(guint32 mask, TPM2_ALG_ID bank, GError **error)
{
	if (mask >= (1u << KL_TPM_PCR_COUNT)) {
		g_set_error(error,
			    KL_AGENT_TPM_ERROR,
			    KL_AGENT_TPM_ERROR_INVALID_ARGUMENT,
			    "PCR mask 0x%x selects PCRs above %u",
			    mask,
			    (guint)KL_TPM_PCR_COUNT - 1);
		return FALSE;
	}
	if (kl_tpm_hash_alg_get_digest_size(bank) == 0) {
		g_set_error(error,
			    KL_AGENT_TPM_ERROR,
			    KL_AGENT_TPM_ERROR_NOT_SUPPORTED,
			    "PCR bank 0x%x",
			    (guint)bank);
		return FALSE;
	}
	return TRUE;
}

KlPcrBank *
kl_tpm_read_pcrs(KlTpm *self, guint32 mask, TPM2_ALG_ID bank, GError **error)
{
	g_return_val_if_fail(KL_IS_TPM(self), NULL);
	if (!kl_tpm_check_mask(mask, bank, error))
		return NULL;
	return KL_TPM_GET_CLASS(self)->read_pcrs(self, mask, bank, error);
}

/* PCR 16 := H(0^n || H_bank(@nk_pubkey_pem)): reset, then one extend. */
static gboolean
kl_tpm_bind_nk(KlTpm *self, TPM2_ALG_ID bank, const gchar *nk_pubkey_pem, GError **error)
{
	KlTpmClass *klass = KL_TPM_GET_CLASS(self);
	g_autoptr(GBytes) digest = kl_crypto_digest_bytes(kl_tpm_hash_alg_to_string(bank),
							  (const guint8 *)nk_pubkey_pem,
							  strlen(nk_pubkey_pem),
							  error);

	if (digest == NULL)
		return FALSE;
	if (!klass->pcr_reset(self, KL_TPM_NK_PCR, error))
		return FALSE;
	return klass->pcr_extend(self, KL_TPM_NK_PCR, bank, digest, error);
}

/* Whether PCR 16 in @values is what kl_tpm_bind_nk() made of it. */
static gboolean
kl_tpm_pcr16_is_bound(KlPcrBank *values, const gchar *nk_pubkey_pem)
{
	g_autoptr(GPtrArray) findings =
		g_ptr_array_new_with_free_func((GDestroyNotify)kl_finding_free);

	return kl_quote_check_pcr16(values, nk_pubkey_pem, findings);
}

/* Whether @values hash to the quote's pcrDigest, with the signature's hash
 * as TPM2_Quote does. */
static gboolean
kl_tpm_quote_digest_matches(GBytes *attest_bytes,
			    GBytes *signature_bytes,
			    KlPcrBank *values,
			    gboolean *matches,
			    GError **error)
{
	TPMS_ATTEST attest;
	TPMT_SIGNATURE signature;
	const TPM2B_DIGEST *quoted;
	g_autoptr(GByteArray) concat = g_byte_array_new();
	guint8 digest[EVP_MAX_MD_SIZE];
	gsize digest_len = 0;

	if (!kl_tpm_attest_unmarshal(g_bytes_get_data(attest_bytes, NULL),
				     g_bytes_get_size(attest_bytes),
				     &attest,
				     error) ||
	    !kl_tpm_signature_unmarshal(g_bytes_get_data(signature_bytes, NULL),
					g_bytes_get_size(signature_bytes),
					&signature,
					error)) {
		g_prefix_error(error, "TPM2_Quote: ");
		return FALSE;
	}
	for (guint pcr = 0; pcr < KL_TPM_PCR_COUNT; pcr++) {
		GBytes *value = kl_pcr_bank_get(values, pcr);
		if (value != NULL)
			g_byte_array_append(concat,
					    g_bytes_get_data(value, NULL),
					    (guint)g_bytes_get_size(value));
	}
	if (!kl_crypto_digest(kl_tpm_hash_alg_to_string(kl_tpm_signature_get_hash_alg(&signature)),
			      concat->data,
			      concat->len,
			      digest,
			      &digest_len,
			      error))
		return FALSE;
	quoted = &attest.attested.quote.pcrDigest;
	*matches = quoted->size == digest_len && memcmp(quoted->buffer, digest, digest_len) == 0;
	return TRUE;
}

gchar *
kl_tpm_quote(KlTpm *self,
	     const gchar *nonce,
	     guint32 mask,
	     TPM2_ALG_ID bank,
	     const gchar *nk_pubkey_pem,
	     GError **error)
{
	KlTpmClass *klass = KL_TPM_GET_CLASS(self);
	gsize nonce_len;

	g_return_val_if_fail(KL_IS_TPM(self), NULL);
	g_return_val_if_fail(nonce != NULL, NULL);
	g_return_val_if_fail(nk_pubkey_pem != NULL, NULL);

	nonce_len = strlen(nonce);
	if (nonce_len > KL_TPM_NONCE_MAX) {
		g_set_error(error,
			    KL_AGENT_TPM_ERROR,
			    KL_AGENT_TPM_ERROR_INVALID_ARGUMENT,
			    "a %" G_GSIZE_FORMAT "-byte nonce, at most %u allowed",
			    nonce_len,
			    (guint)KL_TPM_NONCE_MAX);
		return NULL;
	}
	if (!kl_tpm_check_mask(mask, bank, error))
		return NULL;
	mask |= 1u << KL_TPM_NK_PCR;
	if (!kl_tpm_bind_nk(self, bank, nk_pubkey_pem, error))
		return NULL;

	for (guint attempt = 0; attempt < KL_TPM_QUOTE_ATTEMPTS; attempt++) {
		g_autoptr(GBytes) attest = NULL;
		g_autoptr(GBytes) signature = NULL;
		g_autoptr(KlPcrBank) values = NULL;
		g_autoptr(GPtrArray) banks = NULL;
		g_autoptr(GBytes) pcrblob = NULL;
		gboolean matches = FALSE;

		if (!klass->quote(self,
				  (const guint8 *)nonce,
				  nonce_len,
				  mask,
				  bank,
				  &attest,
				  &signature,
				  error))
			return NULL;
		values = klass->read_pcrs(self, mask, bank, error);
		if (values == NULL)
			return NULL;
		if (!kl_tpm_quote_digest_matches(attest, signature, values, &matches, error))
			return NULL;
		if (!matches) {
			g_debug("PCRs changed between quote and read, attempt %u", attempt + 1);
			continue;
		}
		/* PCR 16 reset since the binding (a power cycle, or another
		 * client of a shared TPM): a verifier would refuse this quote,
		 * so bind again and quote again */
		if (!kl_tpm_pcr16_is_bound(values, nk_pubkey_pem)) {
			g_debug("PCR 16 lost the NK binding, attempt %u", attempt + 1);
			if (!kl_tpm_bind_nk(self, bank, nk_pubkey_pem, error))
				return NULL;
			continue;
		}
		banks = g_ptr_array_new_with_free_func((GDestroyNotify)kl_pcr_bank_free);
		g_ptr_array_add(banks, g_steal_pointer(&values));
		pcrblob = kl_tpm_pcrblob_build(banks, error);
		if (pcrblob == NULL)
			return NULL;
		return kl_quote_encode(attest, signature, pcrblob);
	}
	g_set_error(error,
		    KL_AGENT_TPM_ERROR,
		    KL_AGENT_TPM_ERROR_FAILED,
		    "PCRs kept changing between TPM2_Quote and TPM2_PCR_Read (%u attempts)",
		    (guint)KL_TPM_QUOTE_ATTEMPTS);
	return NULL;
}

gchar *
kl_tpm_identity_quote(KlTpm *self, const gchar *nonce, const gchar *nk_pubkey_pem, GError **error)
{
	TPM2_ALG_ID scheme, bank;

	g_return_val_if_fail(KL_IS_TPM(self), NULL);
	kl_tpm_get_ak_scheme(self, &scheme, &bank);
	return kl_tpm_quote(self, nonce, 0, bank, nk_pubkey_pem, error);
}
