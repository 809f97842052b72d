/*
 * A software KlTpm.  ActivateCredential is the inverse of
 * engine/core/kl-makecredential.c (TPM 2.0 Part 1 §24): recover the seed
 * (RSA-OAEP with label "IDENTITY", or ECDH with the EK and KDFe), check the
 * outer HMAC over encIdentity || Name, then AES-CFB-decrypt the credential.
 */
#include "config.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <string.h>
#include <tss2/tss2_mu.h>

#include "kl-makecredential.h"
#include "kl-tpm-soft.h"

/* the banks a software TPM keeps, as swtpm can */
static const TPM2_ALG_ID kl_tpm_soft_banks[] = {
	TPM2_ALG_SHA1,
	TPM2_ALG_SHA256,
	TPM2_ALG_SHA384,
	TPM2_ALG_SHA512,
};

struct _KlTpmSoft {
	KlTpm parent_instance;
	EVP_PKEY *ek_key;
	EVP_PKEY *ak_key;
	TPM2_ALG_ID sign_alg;
	TPM2_ALG_ID sign_hash;
	guint8 pcrs[G_N_ELEMENTS(kl_tpm_soft_banks)][KL_TPM_PCR_COUNT][sizeof(TPMU_HA)];
	guint64 clock; /* ms, strictly increasing between quotes */
};

G_DEFINE_TYPE(KlTpmSoft, kl_tpm_soft, KL_TYPE_TPM)

static gboolean
kl_tpm_soft_bank_index(TPM2_ALG_ID bank, guint *index, GError **error)
{
	for (guint i = 0; i < G_N_ELEMENTS(kl_tpm_soft_banks); i++) {
		if (kl_tpm_soft_banks[i] == bank) {
			*index = i;
			return TRUE;
		}
	}
	g_set_error(error,
		    KL_AGENT_TPM_ERROR,
		    KL_AGENT_TPM_ERROR_NOT_SUPPORTED,
		    "PCR bank 0x%x",
		    (guint)bank);
	return FALSE;
}

static void
kl_tpm_soft_set_openssl_error(GError **error, const gchar *what)
{
	kl_crypto_set_error_openssl(error,
				    KL_AGENT_TPM_ERROR,
				    KL_AGENT_TPM_ERROR_FAILED,
				    "%s",
				    what);
}

/* ---- keys as TPM2B_PUBLIC ---- */

static gboolean
kl_tpm_soft_bn_param(EVP_PKEY *key, const gchar *param, guint8 *out, gsize len, GError **error)
{
	g_autoptr(BIGNUM) bn = NULL;

	if (EVP_PKEY_get_bn_param(key, param, &bn) != 1 ||
	    BN_bn2binpad(bn, out, (int)len) != (int)len) {
		kl_tpm_soft_set_openssl_error(error, param);
		return FALSE;
	}
	return TRUE;
}

/* @tpl with @key's public part as its unique field, marshalled. */
static GBytes *
kl_tpm_soft_public(TPM2B_PUBLIC *tpl, EVP_PKEY *key, GError **error)
{
	TPMT_PUBLIC *area = &tpl->publicArea;
	guint8 buf[sizeof(TPM2B_PUBLIC)];
	size_t offset = 0;
	TSS2_RC rc;

	if (area->type == TPM2_ALG_RSA) {
		area->unique.rsa.size = 256;
		if (!kl_tpm_soft_bn_param(key,
					  OSSL_PKEY_PARAM_RSA_N,
					  area->unique.rsa.buffer,
					  256,
					  error))
			return NULL;
	} else {
		area->unique.ecc.x.size = 32;
		area->unique.ecc.y.size = 32;
		if (!kl_tpm_soft_bn_param(key,
					  OSSL_PKEY_PARAM_EC_PUB_X,
					  area->unique.ecc.x.buffer,
					  32,
					  error) ||
		    !kl_tpm_soft_bn_param(key,
					  OSSL_PKEY_PARAM_EC_PUB_Y,
					  area->unique.ecc.y.buffer,
					  32,
					  error))
			return NULL;
	}
	rc = Tss2_MU_TPM2B_PUBLIC_Marshal(tpl, buf, sizeof(buf), &offset);
	if (rc != TSS2_RC_SUCCESS) {
		g_set_error(error,
			    KL_AGENT_TPM_ERROR,
			    KL_AGENT_TPM_ERROR_FAILED,
			    "Tss2_MU_TPM2B_PUBLIC_Marshal: 0x%x",
			    (guint)rc);
		return NULL;
	}
	return g_bytes_new(buf, offset);
}

static EVP_PKEY *
kl_tpm_soft_keygen(TPM2_ALG_ID type, GError **error)
{
	EVP_PKEY *key = type == TPM2_ALG_RSA ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
					     : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (key == NULL)
		kl_tpm_soft_set_openssl_error(error, "key generation");
	return key;
}

/* ---- ActivateCredential ---- */

static KlSecret *
kl_tpm_soft_seed_rsa(KlTpmSoft *self,
		     const gchar *md,
		     const TPM2B_ENCRYPTED_SECRET *secret,
		     GError **error)
{
	static const guint8 label[] = "IDENTITY";

	return kl_crypto_rsa_oaep_decrypt(self->ek_key,
					  md,
					  label,
					  sizeof(label),
					  secret->secret,
					  secret->size,
					  error);
}

/* The ephemeral point MakeCredential sent: a TPMS_ECC_POINT on P-256. */
static EVP_PKEY *
kl_tpm_soft_ecc_point(const TPM2B_ENCRYPTED_SECRET *secret, guint8 x[32], GError **error)
{
	TPMS_ECC_POINT point = {0};
	size_t offset = 0;
	guint8 octets[65];
	g_autoptr(OSSL_PARAM_BLD) bld = OSSL_PARAM_BLD_new();
	g_autoptr(OSSL_PARAM) params = NULL;
	g_autoptr(EVP_PKEY_CTX) ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *key = NULL;

	if (Tss2_MU_TPMS_ECC_POINT_Unmarshal(secret->secret, secret->size, &offset, &point) !=
		    TSS2_RC_SUCCESS ||
	    offset != secret->size || point.x.size != 32 || point.y.size != 32) {
		g_set_error_literal(error,
				    KL_AGENT_TPM_ERROR,
				    KL_AGENT_TPM_ERROR_INVALID_ARGUMENT,
				    "ActivateCredential: the secret is not a P-256 TPMS_ECC_POINT");
		return NULL;
	}
	octets[0] = 0x04;
	memcpy(octets + 1, point.x.buffer, 32);
	memcpy(octets + 33, point.y.buffer, 32);
	memcpy(x, point.x.buffer, 32);
	if (bld == NULL || ctx == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld,
					     OSSL_PKEY_PARAM_PUB_KEY,
					     octets,
					     sizeof(octets)) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_AGENT_TPM_ERROR,
					    KL_AGENT_TPM_ERROR_INVALID_ARGUMENT,
					    "ActivateCredential: the ephemeral point");
		return NULL;
	}
	return key;
}

static KlSecret *
kl_tpm_soft_seed_ecc(KlTpmSoft *self,
		     TPM2_ALG_ID name_alg,
		     const TPM2B_ENCRYPTED_SECRET *secret,
		     GError **error)
{
	guint8 eph_x[32], ek_x[32], z[32];
	gsize z_len = sizeof(z);
	g_autoptr(EVP_PKEY) eph = kl_tpm_soft_ecc_point(secret, eph_x, error);
	g_autoptr(EVP_PKEY_CTX) ctx = NULL;
	KlSecret *seed;

	if (eph == NULL)
		return NULL;
	/* OpenSSL checks the point is on the curve when deriving */
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, self->ek_key, NULL);
	if (ctx == NULL || EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer(ctx, eph) != 1 || EVP_PKEY_derive(ctx, z, &z_len) != 1 ||
	    z_len != sizeof(z)) {
		OPENSSL_cleanse(z, sizeof(z));
		kl_crypto_set_error_openssl(error,
					    KL_AGENT_TPM_ERROR,
					    KL_AGENT_TPM_ERROR_INVALID_ARGUMENT,
					    "ActivateCredential: ECDH with the ephemeral point");
		return NULL;
	}
	if (!kl_tpm_soft_bn_param(self->ek_key, OSSL_PKEY_PARAM_EC_PUB_X, ek_x, 32, error)) {
		OPENSSL_cleanse(z, sizeof(z));
		return NULL;
	}
	seed = kl_makecredential_kdfe(name_alg,
				      z,
				      z_len,
				      "IDENTITY",
				      eph_x,
				      sizeof(eph_x),
				      ek_x,
				      sizeof(ek_x),
				      (guint)kl_tpm_hash_alg_get_digest_size(name_alg) * 8,
				      error);
	OPENSSL_cleanse(z, sizeof(z));
	return seed;
}

static KlSecret *
kl_tpm_soft_decrypt_identity(KlSecret *sym_key, const guint8 *enc, gsize enc_len, GError **error)
{
	static const guint8 iv[16] = {0};
	guint8 plain[sizeof(TPM2B_ID_OBJECT)];
	gint out_len = 0, final_len = 0;
	gsize cred_len;
	gboolean ok;
	KlSecret *credential;
	g_autoptr(EVP_CIPHER_CTX) ctx = EVP_CIPHER_CTX_new();

	ok = ctx != NULL && enc_len <= sizeof(plain) &&
	     EVP_DecryptInit_ex2(ctx,
				 EVP_aes_128_cfb128(),
				 kl_secret_get_data(sym_key, NULL),
				 iv,
				 NULL) == 1 &&
	     EVP_DecryptUpdate(ctx, plain, &out_len, enc, (gint)enc_len) == 1 &&
	     EVP_DecryptFinal_ex(ctx, plain + out_len, &final_len) == 1;
	if (!ok) {
		OPENSSL_cleanse(plain, sizeof(plain));
		kl_tpm_soft_set_openssl_error(error, "ActivateCredential: AES-CFB");
		return NULL;
	}
	cred_len = (gsize)out_len + (gsize)final_len;
	if (cred_len < 2 || ((gsize)plain[0] << 8 | plain[1]) != cred_len - 2 ||
	    cred_len - 2 > sizeof(TPMU_HA)) {
		OPENSSL_cleanse(plain, sizeof(plain));
		g_set_error_literal(error,
				    KL_AGENT_TPM_ERROR,
				    KL_AGENT_TPM_ERROR_INVALID_ARGUMENT,
				    "ActivateCredential: the credential is not a TPM2B_DIGEST");
		return NULL;
	}
	credential = kl_secret_new(plain + 2, cred_len - 2);
	OPENSSL_cleanse(plain, sizeof(plain));
	return credential;
}

static KlSecret *
kl_tpm_soft_activate_credential(KlTpm *tpm,
				const TPM2B_ID_OBJECT *id_object,
				const TPM2B_ENCRYPTED_SECRET *secret,
				GError **error)
{
	KlTpmSoft *self = KL_TPM_SOFT(tpm);
	const TPMT_PUBLIC *ek = kl_tpm_public_get_area(kl_tpm_get_ek(tpm));
	GBytes *name = kl_tpm_get_ak_name(tpm);
	const gchar *md = kl_tpm_hash_alg_to_string(ek->nameAlg);
	gsize digest_len = kl_tpm_hash_alg_get_digest_size(ek->nameAlg);
	const guint8 *seed_data, *hmac_key_data, *integrity, *enc;
	gsize seed_len = 0, hmac_key_len = 0, integrity_len, enc_len;
	g_autoptr(KlSecret) seed = NULL;
	g_autoptr(KlSecret) hmac_key = NULL;
	g_autoptr(KlSecret) sym_key = NULL;
	g_autoptr(GByteArray) hmac_data = g_byte_array_new();
	g_autoptr(GBytes) expected = NULL;

	/* TPM2B_ID_OBJECT.credential: TPM2B integrity || encIdentity */
	integrity_len = id_object->size < 2
				? 0
				: ((gsize)id_object->credential[0] << 8 | id_object->credential[1]);
	if (integrity_len != digest_len || id_object->size < 2 + integrity_len + 2) {
		g_set_error_literal(error,
				    KL_AGENT_TPM_ERROR,
				    KL_AGENT_TPM_ERROR_INVALID_ARGUMENT,
				    "ActivateCredential: malformed TPM2B_ID_OBJECT");
		return NULL;
	}
	integrity = id_object->credential + 2;
	enc = integrity + integrity_len;
	enc_len = id_object->size - 2 - integrity_len;

	seed = ek->type == TPM2_ALG_RSA ? kl_tpm_soft_seed_rsa(self, md, secret, error)
					: kl_tpm_soft_seed_ecc(self, ek->nameAlg, secret, error);
	if (seed == NULL) {
		g_prefix_error(error, "ActivateCredential: the seed: ");
		return NULL;
	}
	seed_data = kl_secret_get_data(seed, &seed_len);

	hmac_key = kl_makecredential_kdfa(ek->nameAlg,
					  seed_data,
					  seed_len,
					  "INTEGRITY",
					  NULL,
					  0,
					  NULL,
					  0,
					  (guint)digest_len * 8,
					  error);
	if (hmac_key == NULL)
		return NULL;
	hmac_key_data = kl_secret_get_data(hmac_key, &hmac_key_len);
	g_byte_array_append(hmac_data, enc, (guint)enc_len);
	g_byte_array_append(hmac_data, g_bytes_get_data(name, NULL), (guint)g_bytes_get_size(name));
	expected = kl_crypto_hmac(md,
				  hmac_key_data,
				  hmac_key_len,
				  hmac_data->data,
				  hmac_data->len,
				  error);
	if (expected == NULL)
		return NULL;
	if (!kl_crypto_memeq(g_bytes_get_data(expected, NULL), integrity, integrity_len)) {
		/* what the TPM answers: TPM_RC_INTEGRITY */
		g_set_error_literal(error,
				    KL_AGENT_TPM_ERROR,
				    KL_AGENT_TPM_ERROR_FAILED,
				    "ActivateCredential: integrity check failed");
		return NULL;
	}
	sym_key = kl_makecredential_kdfa(ek->nameAlg,
					 seed_data,
					 seed_len,
					 "STORAGE",
					 g_bytes_get_data(name, NULL),
					 g_bytes_get_size(name),
					 NULL,
					 0,
					 ek->parameters.asymDetail.symmetric.keyBits.aes,
					 error);
	if (sym_key == NULL)
		return NULL;
	return kl_tpm_soft_decrypt_identity(sym_key, enc, enc_len, error);
}

/* ---- PCRs ---- */

static void
kl_tpm_soft_pcrs_init(KlTpmSoft *self)
{
	/* PC Client: the D-RTM PCRs 17-22 start as all ones */
	memset(self->pcrs, 0, sizeof(self->pcrs));
	for (guint b = 0; b < G_N_ELEMENTS(kl_tpm_soft_banks); b++) {
		for (guint pcr = 17; pcr <= 22; pcr++)
			memset(self->pcrs[b][pcr], 0xff, sizeof(self->pcrs[b][pcr]));
	}
}

static gboolean
kl_tpm_soft_pcr_reset(KlTpm *tpm, guint pcr, GError **error)
{
	KlTpmSoft *self = KL_TPM_SOFT(tpm);

	/* locality 0 may reset the debug PCR 16 and the application PCR 23 */
	if (pcr != 16 && pcr != 23) {
		g_set_error(error,
			    KL_AGENT_TPM_ERROR,
			    KL_AGENT_TPM_ERROR_FAILED,
			    "TPM2_PCR_Reset: PCR %u is not resettable",
			    pcr);
		return FALSE;
	}
	for (guint b = 0; b < G_N_ELEMENTS(kl_tpm_soft_banks); b++)
		memset(self->pcrs[b][pcr], 0, sizeof(self->pcrs[b][pcr]));
	return TRUE;
}

static gboolean
kl_tpm_soft_pcr_extend(KlTpm *tpm, guint pcr, TPM2_ALG_ID bank, GBytes *digest, GError **error)
{
	KlTpmSoft *self = KL_TPM_SOFT(tpm);
	gsize size = kl_tpm_hash_alg_get_digest_size(bank);
	guint8 buf[2 * sizeof(TPMU_HA)];
	gsize out_len = 0;
	guint b = 0;

	if (!kl_tpm_soft_bank_index(bank, &b, error))
		return FALSE;
	if (pcr >= KL_TPM_PCR_COUNT || g_bytes_get_size(digest) != size) {
		g_set_error(error,
			    KL_AGENT_TPM_ERROR,
			    KL_AGENT_TPM_ERROR_INVALID_ARGUMENT,
			    "TPM2_PCR_Extend: PCR %u with a %" G_GSIZE_FORMAT "-byte digest",
			    pcr,
			    g_bytes_get_size(digest));
		return FALSE;
	}
	memcpy(buf, self->pcrs[b][pcr], size);
	memcpy(buf + size, g_bytes_get_data(digest, NULL), size);
	return kl_crypto_digest(kl_tpm_hash_alg_to_string(bank),
				buf,
				2 * size,
				self->pcrs[b][pcr],
				&out_len,
				error);
}

static KlPcrBank *
kl_tpm_soft_read_pcrs(KlTpm *tpm, guint32 mask, TPM2_ALG_ID bank, GError **error)
{
	KlTpmSoft *self = KL_TPM_SOFT(tpm);
	g_autoptr(KlPcrBank) values = NULL;
	guint b = 0;

	if (!kl_tpm_soft_bank_index(bank, &b, error))
		return NULL;
	values = kl_pcr_bank_new(bank, error);
	if (values == NULL)
		return NULL;
	for (guint pcr = 0; pcr < KL_TPM_PCR_COUNT; pcr++) {
		if ((mask & (1u << pcr)) != 0 &&
		    !kl_pcr_bank_set(values,
				     pcr,
				     self->pcrs[b][pcr],
				     kl_tpm_hash_alg_get_digest_size(bank),
				     error))
			return NULL;
	}
	return g_steal_pointer(&values);
}

/* ---- quotes ---- */

/* H_sign(attest) signed as TPM2_Quote signs, into @sig. */
static gboolean
kl_tpm_soft_sign(KlTpmSoft *self,
		 const guint8 *data,
		 gsize len,
		 TPMT_SIGNATURE *sig,
		 GError **error)
{
	const EVP_MD *md = kl_crypto_get_md(kl_tpm_hash_alg_to_string(self->sign_hash), error);
	g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	guint8 out[512];
	gsize out_len = sizeof(out);

	if (md == NULL)
		return FALSE;
	if (ctx == NULL || EVP_DigestSignInit(ctx, &pctx, md, NULL, self->ak_key) != 1 ||
	    (self->sign_alg == TPM2_ALG_RSAPSS &&
	     (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1)) ||
	    EVP_DigestSign(ctx, out, &out_len, data, len) != 1) {
		kl_tpm_soft_set_openssl_error(error, "TPM2_Quote: signing");
		return FALSE;
	}
	sig->sigAlg = self->sign_alg;
	if (self->sign_alg == TPM2_ALG_ECDSA) {
		const guint8 *p = out;
		const BIGNUM *r = NULL, *s = NULL;
		ECDSA_SIG *ecdsa = d2i_ECDSA_SIG(NULL, &p, (long)out_len);
		gboolean ok;

		if (ecdsa == NULL) {
			kl_tpm_soft_set_openssl_error(error, "TPM2_Quote: ECDSA signature");
			return FALSE;
		}
		ECDSA_SIG_get0(ecdsa, &r, &s);
		sig->signature.ecdsa.hash = self->sign_hash;
		sig->signature.ecdsa.signatureR.size = 32;
		sig->signature.ecdsa.signatureS.size = 32;
		ok = BN_bn2binpad(r, sig->signature.ecdsa.signatureR.buffer, 32) == 32 &&
		     BN_bn2binpad(s, sig->signature.ecdsa.signatureS.buffer, 32) == 32;
		ECDSA_SIG_free(ecdsa);
		if (!ok) {
			kl_tpm_soft_set_openssl_error(error, "TPM2_Quote: ECDSA signature");
			return FALSE;
		}
		return TRUE;
	}
	sig->signature.rsassa.hash = self->sign_hash;
	sig->signature.rsassa.sig.size = (UINT16)out_len;
	memcpy(sig->signature.rsassa.sig.buffer, out, out_len);
	return TRUE;
}

static gboolean
kl_tpm_soft_quote(KlTpm *tpm,
		  const guint8 *nonce,
		  gsize nonce_len,
		  guint32 mask,
		  TPM2_ALG_ID bank,
		  GBytes **attest_out,
		  GBytes **signature_out,
		  GError **error)
{
	KlTpmSoft *self = KL_TPM_SOFT(tpm);
	GBytes *name = kl_tpm_get_ak_name(tpm);
	TPMS_ATTEST attest = {0};
	TPMT_SIGNATURE sig = {0};
	TPMS_PCR_SELECTION *sel = &attest.attested.quote.pcrSelect.pcrSelections[0];
	g_autoptr(KlPcrBank) values = NULL;
	g_autoptr(GByteArray) concat = g_byte_array_new();
	guint8 attest_buf[sizeof(TPMS_ATTEST)];
	guint8 sig_buf[sizeof(TPMT_SIGNATURE)];
	size_t attest_len = 0, sig_len = 0;
	gsize digest_len = 0;
	guint64 now = (guint64)(g_get_monotonic_time() / 1000);

	if (nonce_len > sizeof(attest.extraData.buffer)) {
		g_set_error(error,
			    KL_AGENT_TPM_ERROR,
			    KL_AGENT_TPM_ERROR_INVALID_ARGUMENT,
			    "a %" G_GSIZE_FORMAT "-byte nonce",
			    nonce_len);
		return FALSE;
	}
	values = kl_tpm_soft_read_pcrs(tpm, mask, bank, error);
	if (values == NULL)
		return FALSE;
	for (guint pcr = 0; pcr < KL_TPM_PCR_COUNT; pcr++) {
		GBytes *value = kl_pcr_bank_get(values, pcr);
		if (value != NULL)
			g_byte_array_append(concat,
					    g_bytes_get_data(value, NULL),
					    (guint)g_bytes_get_size(value));
	}

	attest.magic = TPM2_GENERATED_VALUE;
	attest.type = TPM2_ST_ATTEST_QUOTE;
	attest.qualifiedSigner.size = (UINT16)g_bytes_get_size(name);
	memcpy(attest.qualifiedSigner.name, g_bytes_get_data(name, NULL), g_bytes_get_size(name));
	attest.extraData.size = (UINT16)nonce_len;
	if (nonce_len > 0)
		memcpy(attest.extraData.buffer, nonce, nonce_len);
	self->clock = MAX(self->clock + 1, now);
	attest.clockInfo.clock = self->clock;
	attest.clockInfo.safe = TPM2_YES;
	attest.attested.quote.pcrSelect.count = 1;
	sel->hash = bank;
	sel->sizeofSelect = 3;
	sel->pcrSelect[0] = (guint8)(mask & 0xff);
	sel->pcrSelect[1] = (guint8)((mask >> 8) & 0xff);
	sel->pcrSelect[2] = (guint8)((mask >> 16) & 0xff);
	if (!kl_crypto_digest(kl_tpm_hash_alg_to_string(self->sign_hash),
			      concat->data,
			      concat->len,
			      attest.attested.quote.pcrDigest.buffer,
			      &digest_len,
			      error))
		return FALSE;
	attest.attested.quote.pcrDigest.size = (UINT16)digest_len;

	if (Tss2_MU_TPMS_ATTEST_Marshal(&attest, attest_buf, sizeof(attest_buf), &attest_len) !=
	    TSS2_RC_SUCCESS) {
		g_set_error_literal(error,
				    KL_AGENT_TPM_ERROR,
				    KL_AGENT_TPM_ERROR_FAILED,
				    "Tss2_MU_TPMS_ATTEST_Marshal failed");
		return FALSE;
	}
	if (!kl_tpm_soft_sign(self, attest_buf, attest_len, &sig, error))
		return FALSE;
	if (Tss2_MU_TPMT_SIGNATURE_Marshal(&sig, sig_buf, sizeof(sig_buf), &sig_len) !=
	    TSS2_RC_SUCCESS) {
		g_set_error_literal(error,
				    KL_AGENT_TPM_ERROR,
				    KL_AGENT_TPM_ERROR_FAILED,
				    "Tss2_MU_TPMT_SIGNATURE_Marshal failed");
		return FALSE;
	}
	*attest_out = g_bytes_new(attest_buf, attest_len);
	*signature_out = g_bytes_new(sig_buf, sig_len);
	return TRUE;
}

/* ---- the class ---- */

static void
kl_tpm_soft_finalize(GObject *object)
{
	KlTpmSoft *self = KL_TPM_SOFT(object);

	g_clear_pointer(&self->ek_key, EVP_PKEY_free);
	g_clear_pointer(&self->ak_key, EVP_PKEY_free);
	G_OBJECT_CLASS(kl_tpm_soft_parent_class)->finalize(object);
}

static void
kl_tpm_soft_class_init(KlTpmSoftClass *klass)
{
	KlTpmClass *tpm_class = KL_TPM_CLASS(klass);

	G_OBJECT_CLASS(klass)->finalize = kl_tpm_soft_finalize;
	tpm_class->activate_credential = kl_tpm_soft_activate_credential;
	tpm_class->pcr_reset = kl_tpm_soft_pcr_reset;
	tpm_class->pcr_extend = kl_tpm_soft_pcr_extend;
	tpm_class->read_pcrs = kl_tpm_soft_read_pcrs;
	tpm_class->quote = kl_tpm_soft_quote;
}

static void
kl_tpm_soft_init(KlTpmSoft *self)
{
	kl_tpm_soft_pcrs_init(self);
}

EVP_PKEY *
kl_tpm_soft_get_ek_key(KlTpmSoft *self)
{
	g_return_val_if_fail(KL_IS_TPM_SOFT(self), NULL);
	return self->ek_key;
}

KlTpm *
kl_tpm_soft_new(const KlTpmOptions *options, GError **error)
{
	g_autoptr(KlTpmSoft) self = g_object_new(KL_TYPE_TPM_SOFT, NULL);
	TPM2B_PUBLIC ek_tpl;
	TPM2B_PUBLIC ak_tpl;
	g_autoptr(GBytes) ek_public = NULL;
	g_autoptr(GBytes) ak_public = NULL;

	g_return_val_if_fail(options != NULL, NULL);

	if (!kl_tpm_ek_template(&ek_tpl, options->enc_alg, error) ||
	    !kl_tpm_ak_template(&ak_tpl, options->sign_alg, options->hash_alg, error))
		return NULL;
	if (options->sign_alg == TPM2_ALG_ECSCHNORR) {
		g_set_error_literal(error,
				    KL_AGENT_TPM_ERROR,
				    KL_AGENT_TPM_ERROR_NOT_SUPPORTED,
				    "ecschnorr quotes in software");
		return NULL;
	}
	self->sign_alg = options->sign_alg;
	self->sign_hash = options->hash_alg;
	self->ek_key = kl_tpm_soft_keygen(ek_tpl.publicArea.type, error);
	if (self->ek_key == NULL)
		return NULL;
	self->ak_key = kl_tpm_soft_keygen(ak_tpl.publicArea.type, error);
	if (self->ak_key == NULL)
		return NULL;
	ek_public = kl_tpm_soft_public(&ek_tpl, self->ek_key, error);
	if (ek_public == NULL)
		return NULL;
	ak_public = kl_tpm_soft_public(&ak_tpl, self->ak_key, error);
	if (ak_public == NULL)
		return NULL;
	if (!kl_tpm_set_keys(KL_TPM(self), ek_public, NULL, ak_public, error))
		return NULL;
	return KL_TPM(g_steal_pointer(&self));
}
