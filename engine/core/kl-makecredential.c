/*
 * kl-makecredential: TPM2_MakeCredential in software (TPM 2.0 Part 1 §24,
 * Keylime spec §1.2.1).  A seed is shared with the EK — RSA-OAEP with the
 * label "IDENTITY\0", or ECDH with an ephemeral key and KDFe — and from it
 * KDFa derives the AES-CFB key that wraps the credential (bound to the
 * AK's Name) and the HMAC key of the outer integrity.  KDFa is OpenSSL's
 * KBKDF in counter mode and KDFe its single-step KDF: both are the
 * SP800-108/56A constructions the TPM uses, checked against independent
 * vectors in the tests.
 */
#define G_LOG_DOMAIN "KlCore"

#include "config.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <string.h>

#include "kl-crypto.h"
#include "kl-makecredential.h"

/* Spelled out: clang-format mangles G_DEFINE_QUARK's dashed argument. */
GQuark
kl_makecredential_error_quark(void)
{
	return g_quark_from_static_string("kl-makecredential-error-quark");
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_KDF_CTX, EVP_KDF_CTX_free)

/* the label is marshalled with its terminating NUL (Part 1 §11.4.10.4) */
static const guint8 kl_makecredential_identity_label[] = "IDENTITY";

static const gchar *
kl_makecredential_md_name(TPM2_ALG_ID hash_alg, GError **error)
{
	const gchar *alg = kl_tpm_hash_alg_to_string(hash_alg);
	const EVP_MD *md;

	if (alg == NULL) {
		g_set_error(error,
			    KL_MAKECREDENTIAL_ERROR,
			    KL_MAKECREDENTIAL_ERROR_NOT_SUPPORTED,
			    "unsupported hash algorithm 0x%04x",
			    (guint)hash_alg);
		return NULL;
	}
	md = kl_crypto_get_md(alg, error);
	if (md == NULL)
		return NULL;
	return EVP_MD_get0_name(md);
}

/* Runs the KDF @name with @params into a new secret of @bits bits. */
static KlSecret *
kl_makecredential_kdf(const gchar *name, OSSL_PARAM *params, guint bits, GError **error)
{
	gsize len = (bits + 7) / 8;
	guint8 *out;
	EVP_KDF *kdf;
	g_autoptr(EVP_KDF_CTX) ctx = NULL;

	if (bits == 0 || bits % 8 != 0 || len > 1024) {
		g_set_error(error,
			    KL_MAKECREDENTIAL_ERROR,
			    KL_MAKECREDENTIAL_ERROR_INVALID_DATA,
			    "cannot derive %u bits",
			    bits);
		return NULL;
	}
	kdf = EVP_KDF_fetch(NULL, name, NULL);
	if (kdf == NULL) {
		kl_crypto_set_error_openssl(error,
					    KL_CRYPTO_ERROR,
					    KL_CRYPTO_ERROR_NOT_SUPPORTED,
					    "%s unavailable",
					    name);
		return NULL;
	}
	ctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	if (ctx == NULL) {
		kl_crypto_set_error_openssl(error,
					    KL_CRYPTO_ERROR,
					    KL_CRYPTO_ERROR_FAILED,
					    "%s context",
					    name);
		return NULL;
	}
	out = g_malloc0(len);
	if (EVP_KDF_derive(ctx, out, len, params) != 1) {
		OPENSSL_cleanse(out, len);
		g_free(out);
		kl_crypto_set_error_openssl(error,
					    KL_CRYPTO_ERROR,
					    KL_CRYPTO_ERROR_FAILED,
					    "%s failed",
					    name);
		return NULL;
	}
	return kl_secret_new_take(out, len);
}

static GByteArray *
kl_makecredential_concat(const guint8 *a, gsize a_len, const guint8 *b, gsize b_len)
{
	GByteArray *buf = g_byte_array_sized_new(a_len + b_len + 1);

	if (a_len > 0)
		g_byte_array_append(buf, a, a_len);
	if (b_len > 0)
		g_byte_array_append(buf, b, b_len);
	return buf;
}

/*
 * KDFa: HMAC in counter mode, K(i) = HMAC(key, BE32(i) || label || 0x00 ||
 * contextU || contextV || BE32(bits)) — exactly OpenSSL's KBKDF defaults.
 */
KlSecret *
kl_makecredential_kdfa(TPM2_ALG_ID hash_alg,
		       const guint8 *key,
		       gsize key_len,
		       const gchar *label,
		       const guint8 *context_u,
		       gsize context_u_len,
		       const guint8 *context_v,
		       gsize context_v_len,
		       guint bits,
		       GError **error)
{
	const gchar *md = kl_makecredential_md_name(hash_alg, error);
	g_autoptr(GByteArray) context = NULL;
	OSSL_PARAM params[7];
	guint n = 0;

	g_return_val_if_fail(key != NULL && key_len > 0, NULL);
	g_return_val_if_fail(label != NULL, NULL);
	g_return_val_if_fail(context_u != NULL || context_u_len == 0, NULL);
	g_return_val_if_fail(context_v != NULL || context_v_len == 0, NULL);

	if (md == NULL)
		return NULL;
	context = kl_makecredential_concat(context_u, context_u_len, context_v, context_v_len);
	params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, (gchar *)"counter", 0);
	params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, (gchar *)"HMAC", 0);
	params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (gchar *)md, 0);
	params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (guint8 *)key, key_len);
	params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
							(gchar *)label,
							strlen(label));
	params[n++] =
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, context->data, context->len);
	params[n] = OSSL_PARAM_construct_end();
	return kl_makecredential_kdf("KBKDF", params, bits, error);
}

/*
 * KDFe: the single-step hash KDF, H(BE32(i) || Z || label || 0x00 ||
 * partyU || partyV), which is OpenSSL's SSKDF with that as FixedInfo.
 */
KlSecret *
kl_makecredential_kdfe(TPM2_ALG_ID hash_alg,
		       const guint8 *z,
		       gsize z_len,
		       const gchar *label,
		       const guint8 *party_u,
		       gsize party_u_len,
		       const guint8 *party_v,
		       gsize party_v_len,
		       guint bits,
		       GError **error)
{
	const gchar *md = kl_makecredential_md_name(hash_alg, error);
	g_autoptr(GByteArray) info = NULL;
	OSSL_PARAM params[4];
	guint n = 0;

	g_return_val_if_fail(z != NULL && z_len > 0, NULL);
	g_return_val_if_fail(label != NULL, NULL);
	g_return_val_if_fail(party_u != NULL || party_u_len == 0, NULL);
	g_return_val_if_fail(party_v != NULL || party_v_len == 0, NULL);

	if (md == NULL)
		return NULL;
	info = g_byte_array_new();
	g_byte_array_append(info, (const guint8 *)label, strlen(label) + 1);
	if (party_u_len > 0)
		g_byte_array_append(info, party_u, party_u_len);
	if (party_v_len > 0)
		g_byte_array_append(info, party_v, party_v_len);
	params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (gchar *)md, 0);
	params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (guint8 *)z, z_len);
	params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info->data, info->len);
	params[n] = OSSL_PARAM_construct_end();
	return kl_makecredential_kdf("SSKDF", params, bits, error);
}

static void
kl_makecredential_put_u16(GByteArray *buf, guint16 value)
{
	guint8 be[2] = {value >> 8, value & 0xff};

	g_byte_array_append(buf, be, sizeof(be));
}

static void
kl_makecredential_put_u32(GByteArray *buf, guint32 value)
{
	guint8 be[4] = {value >> 24, (value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff};

	g_byte_array_append(buf, be, sizeof(be));
}

/* The EK's symmetric definition: what the TPM will decrypt the credential with. */
static const EVP_CIPHER *
kl_makecredential_get_cipher(const TPMT_PUBLIC *area, guint *key_bits, GError **error)
{
	const TPMT_SYM_DEF_OBJECT *sym = &area->parameters.asymDetail.symmetric;

	if (sym->algorithm != TPM2_ALG_AES || sym->mode.aes != TPM2_ALG_CFB) {
		g_set_error(error,
			    KL_MAKECREDENTIAL_ERROR,
			    KL_MAKECREDENTIAL_ERROR_NOT_SUPPORTED,
			    "EK symmetric algorithm 0x%04x mode 0x%04x is not AES-CFB",
			    (guint)sym->algorithm,
			    (guint)sym->mode.aes);
		return NULL;
	}
	*key_bits = sym->keyBits.aes;
	switch (sym->keyBits.aes) {
	case 128:
		return EVP_aes_128_cfb128();
	case 192:
		return EVP_aes_192_cfb128();
	case 256:
		return EVP_aes_256_cfb128();
	default:
		g_set_error(error,
			    KL_MAKECREDENTIAL_ERROR,
			    KL_MAKECREDENTIAL_ERROR_NOT_SUPPORTED,
			    "EK AES key size %u",
			    (guint)sym->keyBits.aes);
		return NULL;
	}
}

/* The RSA seed travels OAEP-encrypted under the EK. */
static KlSecret *
kl_makecredential_seed_rsa(KlTpmPublic *ek,
			   const gchar *md,
			   gsize seed_len,
			   GBytes **encrypted,
			   GError **error)
{
	g_autoptr(KlSecret) seed = kl_crypto_random_secret(seed_len, error);
	const guint8 *data;
	gsize size = 0;

	if (seed == NULL)
		return NULL;
	data = kl_secret_get_data(seed, &size);
	*encrypted = kl_crypto_rsa_oaep_encrypt(kl_tpm_public_get_key(ek),
						md,
						kl_makecredential_identity_label,
						sizeof(kl_makecredential_identity_label),
						data,
						size,
						error);
	if (*encrypted == NULL) {
		g_prefix_error(error, "encrypting the seed to the EK: ");
		return NULL;
	}
	return g_steal_pointer(&seed);
}

/* A public coordinate of an EC key, left-padded to @len bytes. */
static gboolean
kl_makecredential_ec_coord(EVP_PKEY *key,
			   const gchar *param,
			   guint8 *out,
			   gsize len,
			   GError **error)
{
	g_autoptr(BIGNUM) bn = NULL;

	if (EVP_PKEY_get_bn_param(key, param, &bn) != 1 ||
	    BN_bn2binpad(bn, out, (int)len) != (int)len) {
		kl_crypto_set_error_openssl(error,
					    KL_CRYPTO_ERROR,
					    KL_CRYPTO_ERROR_INVALID_KEY,
					    "EC public coordinate");
		return FALSE;
	}
	return TRUE;
}

/*
 * The ECC seed: ECDH of an ephemeral key with the EK, through KDFe; the
 * ephemeral public point is what travels, as a TPMS_ECC_POINT.
 */
static KlSecret *
kl_makecredential_seed_ecc(KlTpmPublic *ek,
			   TPM2_ALG_ID name_alg,
			   gsize seed_len,
			   GBytes **encrypted,
			   GError **error)
{
	EVP_PKEY *ek_key = kl_tpm_public_get_key(ek);
	const TPMT_PUBLIC *area = kl_tpm_public_get_area(ek);
	const gchar *group;
	gsize coord = (gsize)(EVP_PKEY_get_bits(ek_key) + 7) / 8;
	guint8 eph_x[66], eph_y[66], ek_x[66];
	guint8 z[66];
	gsize z_len = sizeof(z);
	KlSecret *seed;
	GByteArray *point;
	g_autoptr(EVP_PKEY) eph = NULL;
	g_autoptr(EVP_PKEY_CTX) ctx = NULL;

	switch (area->parameters.eccDetail.curveID) {
	case TPM2_ECC_NIST_P256:
		group = "P-256";
		break;
	case TPM2_ECC_NIST_P384:
		group = "P-384";
		break;
	default:
		g_set_error(error,
			    KL_MAKECREDENTIAL_ERROR,
			    KL_MAKECREDENTIAL_ERROR_NOT_SUPPORTED,
			    "EK curve 0x%04x",
			    (guint)area->parameters.eccDetail.curveID);
		return NULL;
	}
	eph = EVP_PKEY_Q_keygen(NULL, NULL, "EC", group);
	if (eph == NULL) {
		kl_crypto_set_error_openssl(error,
					    KL_CRYPTO_ERROR,
					    KL_CRYPTO_ERROR_FAILED,
					    "ephemeral %s key",
					    group);
		return NULL;
	}
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, eph, NULL);
	/* OpenSSL's ECDH output is the x-coordinate padded to the field size */
	if (ctx == NULL || EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer(ctx, ek_key) != 1 || EVP_PKEY_derive(ctx, z, &z_len) != 1 ||
	    z_len != coord) {
		OPENSSL_cleanse(z, sizeof(z));
		kl_crypto_set_error_openssl(error,
					    KL_CRYPTO_ERROR,
					    KL_CRYPTO_ERROR_FAILED,
					    "ECDH with the EK");
		return NULL;
	}
	if (!kl_makecredential_ec_coord(eph, OSSL_PKEY_PARAM_EC_PUB_X, eph_x, coord, error) ||
	    !kl_makecredential_ec_coord(eph, OSSL_PKEY_PARAM_EC_PUB_Y, eph_y, coord, error) ||
	    !kl_makecredential_ec_coord(ek_key, OSSL_PKEY_PARAM_EC_PUB_X, ek_x, coord, error)) {
		OPENSSL_cleanse(z, sizeof(z));
		return NULL;
	}
	seed = kl_makecredential_kdfe(name_alg,
				      z,
				      z_len,
				      (const gchar *)kl_makecredential_identity_label,
				      eph_x,
				      coord,
				      ek_x,
				      coord,
				      (guint)seed_len * 8,
				      error);
	OPENSSL_cleanse(z, sizeof(z));
	if (seed == NULL)
		return NULL;
	point = g_byte_array_sized_new(4 + 2 * coord);
	kl_makecredential_put_u16(point, (guint16)coord);
	g_byte_array_append(point, eph_x, coord);
	kl_makecredential_put_u16(point, (guint16)coord);
	g_byte_array_append(point, eph_y, coord);
	*encrypted = g_byte_array_free_to_bytes(point);
	return seed;
}

/* AES-CFB with a zero IV over BE16(len) || credential. */
static GBytes *
kl_makecredential_encrypt_identity(const EVP_CIPHER *cipher,
				   KlSecret *key,
				   const guint8 *credential,
				   gsize len,
				   GError **error)
{
	static const guint8 iv[16] = {0};
	guint8 plain[2 + sizeof(TPMU_HA)];
	guint8 out[sizeof(plain) + 16];
	gint out_len = 0, final_len = 0;
	gboolean ok;
	g_autoptr(EVP_CIPHER_CTX) ctx = EVP_CIPHER_CTX_new();

	plain[0] = len >> 8;
	plain[1] = len & 0xff;
	memcpy(plain + 2, credential, len);
	ok = ctx != NULL &&
	     EVP_EncryptInit_ex2(ctx, cipher, kl_secret_get_data(key, NULL), iv, NULL) == 1 &&
	     EVP_EncryptUpdate(ctx, out, &out_len, plain, (gint)(len + 2)) == 1 &&
	     EVP_EncryptFinal_ex(ctx, out + out_len, &final_len) == 1;
	OPENSSL_cleanse(plain, sizeof(plain));
	if (!ok) {
		kl_crypto_set_error_openssl(error,
					    KL_CRYPTO_ERROR,
					    KL_CRYPTO_ERROR_FAILED,
					    "AES-CFB encryption");
		return NULL;
	}
	return g_bytes_new(out, (gsize)(out_len + final_len));
}

static gboolean
kl_makecredential_check_name(GBytes *ak_name, GError **error)
{
	gsize size = 0;
	const guint8 *name = g_bytes_get_data(ak_name, &size);
	gsize digest;

	if (size < 2 || size > sizeof(TPMU_NAME)) {
		g_set_error(error,
			    KL_MAKECREDENTIAL_ERROR,
			    KL_MAKECREDENTIAL_ERROR_INVALID_DATA,
			    "AK Name of %" G_GSIZE_FORMAT " bytes",
			    size);
		return FALSE;
	}
	digest = kl_tpm_hash_alg_get_digest_size((TPM2_ALG_ID)(name[0] << 8 | name[1]));
	if (digest == 0 || digest + 2 != size) {
		g_set_error(error,
			    KL_MAKECREDENTIAL_ERROR,
			    KL_MAKECREDENTIAL_ERROR_INVALID_DATA,
			    "AK Name of %" G_GSIZE_FORMAT " bytes with hash 0x%02x%02x",
			    size,
			    (guint)name[0],
			    (guint)name[1]);
		return FALSE;
	}
	return TRUE;
}

GBytes *
kl_makecredential(KlTpmPublic *ek,
		  GBytes *ak_name,
		  const guint8 *credential,
		  gsize len,
		  GError **error)
{
	const TPMT_PUBLIC *area;
	const gchar *md;
	const EVP_CIPHER *cipher;
	const guint8 *name, *hmac_key_data, *seed_data, *enc_data, *integrity_data, *secret_data;
	gsize name_len = 0, digest_len, hmac_key_len = 0, seed_len = 0, enc_len = 0;
	gsize integrity_len = 0, secret_len = 0;
	guint key_bits = 0;
	GByteArray *blob;
	g_autoptr(KlSecret) seed = NULL;
	g_autoptr(KlSecret) sym_key = NULL;
	g_autoptr(KlSecret) hmac_key = NULL;
	g_autoptr(GBytes) secret = NULL;
	g_autoptr(GBytes) enc_identity = NULL;
	g_autoptr(GBytes) integrity = NULL;
	g_autoptr(GByteArray) hmac_data = NULL;

	g_return_val_if_fail(ek != NULL, NULL);
	g_return_val_if_fail(ak_name != NULL, NULL);
	g_return_val_if_fail(credential != NULL || len == 0, NULL);

	if (len == 0 || len > sizeof(TPMU_HA)) {
		g_set_error(error,
			    KL_MAKECREDENTIAL_ERROR,
			    KL_MAKECREDENTIAL_ERROR_INVALID_DATA,
			    "credential of %" G_GSIZE_FORMAT " bytes (1 to %" G_GSIZE_FORMAT ")",
			    len,
			    sizeof(TPMU_HA));
		return NULL;
	}
	if (!kl_makecredential_check_name(ak_name, error))
		return NULL;
	name = g_bytes_get_data(ak_name, &name_len);

	area = kl_tpm_public_get_area(ek);
	md = kl_tpm_hash_alg_to_string(area->nameAlg);
	digest_len = kl_tpm_hash_alg_get_digest_size(area->nameAlg);
	if (md == NULL || digest_len == 0) {
		g_set_error(error,
			    KL_MAKECREDENTIAL_ERROR,
			    KL_MAKECREDENTIAL_ERROR_NOT_SUPPORTED,
			    "EK nameAlg 0x%04x",
			    (guint)area->nameAlg);
		return NULL;
	}
	cipher = kl_makecredential_get_cipher(area, &key_bits, error);
	if (cipher == NULL)
		return NULL;

	switch (area->type) {
	case TPM2_ALG_RSA:
		seed = kl_makecredential_seed_rsa(ek, md, digest_len, &secret, error);
		break;
	case TPM2_ALG_ECC:
		seed = kl_makecredential_seed_ecc(ek, area->nameAlg, digest_len, &secret, error);
		break;
	default:
		g_set_error(error,
			    KL_MAKECREDENTIAL_ERROR,
			    KL_MAKECREDENTIAL_ERROR_NOT_SUPPORTED,
			    "EK type 0x%04x",
			    (guint)area->type);
		return NULL;
	}
	if (seed == NULL)
		return NULL;
	seed_data = kl_secret_get_data(seed, &seed_len);

	sym_key = kl_makecredential_kdfa(area->nameAlg,
					 seed_data,
					 seed_len,
					 "STORAGE",
					 name,
					 name_len,
					 NULL,
					 0,
					 key_bits,
					 error);
	if (sym_key == NULL)
		return NULL;
	enc_identity = kl_makecredential_encrypt_identity(cipher, sym_key, credential, len, error);
	if (enc_identity == NULL)
		return NULL;
	enc_data = g_bytes_get_data(enc_identity, &enc_len);

	hmac_key = kl_makecredential_kdfa(area->nameAlg,
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
	hmac_data = kl_makecredential_concat(enc_data, enc_len, name, name_len);
	integrity = kl_crypto_hmac(md,
				   hmac_key_data,
				   hmac_key_len,
				   hmac_data->data,
				   hmac_data->len,
				   error);
	if (integrity == NULL)
		return NULL;
	integrity_data = g_bytes_get_data(integrity, &integrity_len);
	secret_data = g_bytes_get_data(secret, &secret_len);

	/* both fit their TPM2B by construction: 2+64+66 and 4+2*48 or 512 bytes */
	blob = g_byte_array_new();
	kl_makecredential_put_u32(blob, KL_MAKECREDENTIAL_BLOB_MAGIC);
	kl_makecredential_put_u32(blob, KL_MAKECREDENTIAL_BLOB_VERSION);
	kl_makecredential_put_u16(blob, (guint16)(2 + integrity_len + enc_len));
	kl_makecredential_put_u16(blob, (guint16)integrity_len);
	g_byte_array_append(blob, integrity_data, integrity_len);
	g_byte_array_append(blob, enc_data, enc_len);
	kl_makecredential_put_u16(blob, (guint16)secret_len);
	g_byte_array_append(blob, secret_data, secret_len);
	return g_byte_array_free_to_bytes(blob);
}

static gboolean
kl_makecredential_read_u16(const guint8 *data, gsize size, gsize *offset, guint16 *value)
{
	if (size - *offset < 2)
		return FALSE;
	*value = (guint16)(data[*offset] << 8 | data[*offset + 1]);
	*offset += 2;
	return TRUE;
}

gboolean
kl_makecredential_blob_parse(const guint8 *data,
			     gsize size,
			     TPM2B_ID_OBJECT *id_object,
			     TPM2B_ENCRYPTED_SECRET *secret,
			     GError **error)
{
	guint32 magic, version;
	guint16 id_size = 0, integrity_size, secret_size = 0;
	gsize offset = 8;

	g_return_val_if_fail(data != NULL || size == 0, FALSE);
	g_return_val_if_fail(id_object != NULL && secret != NULL, FALSE);

	if (size < 8) {
		g_set_error(error,
			    KL_MAKECREDENTIAL_ERROR,
			    KL_MAKECREDENTIAL_ERROR_INVALID_DATA,
			    "credential blob of %" G_GSIZE_FORMAT " bytes",
			    size);
		return FALSE;
	}
	magic = (guint32)data[0] << 24 | (guint32)data[1] << 16 | (guint32)data[2] << 8 | data[3];
	version = (guint32)data[4] << 24 | (guint32)data[5] << 16 | (guint32)data[6] << 8 | data[7];
	if (magic != KL_MAKECREDENTIAL_BLOB_MAGIC || version != KL_MAKECREDENTIAL_BLOB_VERSION) {
		g_set_error(error,
			    KL_MAKECREDENTIAL_ERROR,
			    KL_MAKECREDENTIAL_ERROR_INVALID_DATA,
			    "credential blob magic 0x%08x version %u",
			    magic,
			    version);
		return FALSE;
	}
	if (!kl_makecredential_read_u16(data, size, &offset, &id_size) || id_size < 2 ||
	    id_size > sizeof(id_object->credential) || size - offset < id_size) {
		g_set_error(error,
			    KL_MAKECREDENTIAL_ERROR,
			    KL_MAKECREDENTIAL_ERROR_INVALID_DATA,
			    "credential blob: bad TPM2B_ID_OBJECT size %u",
			    (guint)id_size);
		return FALSE;
	}
	/* the integrity HMAC is a TPM2B inside the ID object */
	integrity_size = (guint16)(data[offset] << 8 | data[offset + 1]);
	if (integrity_size == 0 || integrity_size > sizeof(TPMU_HA) ||
	    integrity_size > id_size - 2) {
		g_set_error(error,
			    KL_MAKECREDENTIAL_ERROR,
			    KL_MAKECREDENTIAL_ERROR_INVALID_DATA,
			    "credential blob: integrity of %u bytes in an ID object of %u",
			    (guint)integrity_size,
			    (guint)id_size);
		return FALSE;
	}
	id_object->size = id_size;
	memcpy(id_object->credential, data + offset, id_size);
	offset += id_size;

	if (!kl_makecredential_read_u16(data, size, &offset, &secret_size) || secret_size == 0 ||
	    secret_size > sizeof(secret->secret) || size - offset < secret_size) {
		g_set_error(error,
			    KL_MAKECREDENTIAL_ERROR,
			    KL_MAKECREDENTIAL_ERROR_INVALID_DATA,
			    "credential blob: bad TPM2B_ENCRYPTED_SECRET size %u",
			    (guint)secret_size);
		return FALSE;
	}
	secret->size = secret_size;
	memcpy(secret->secret, data + offset, secret_size);
	offset += secret_size;
	if (offset != size) {
		g_set_error(error,
			    KL_MAKECREDENTIAL_ERROR,
			    KL_MAKECREDENTIAL_ERROR_INVALID_DATA,
			    "credential blob: %" G_GSIZE_FORMAT " trailing bytes",
			    size - offset);
		return FALSE;
	}
	return TRUE;
}

gchar *
kl_makecredential_challenge_new(GError **error)
{
	return kl_crypto_random_password(KL_MAKECREDENTIAL_CHALLENGE_LEN, error);
}

gchar *
kl_makecredential_auth_tag(const gchar *challenge, const gchar *agent_id, GError **error)
{
	g_autofree gchar *key = NULL;
	gchar *tag;

	g_return_val_if_fail(challenge != NULL, NULL);
	g_return_val_if_fail(agent_id != NULL, NULL);

	/* the key is the base64 TEXT of the challenge, on both sides */
	key = g_base64_encode((const guchar *)challenge, strlen(challenge));
	tag = kl_crypto_hmac_sha384_hex((const guint8 *)key,
					strlen(key),
					(const guint8 *)agent_id,
					strlen(agent_id),
					error);
	OPENSSL_cleanse(key, strlen(key));
	return tag;
}

gboolean
kl_makecredential_auth_tag_verify(const gchar *challenge,
				  const gchar *agent_id,
				  const gchar *auth_tag_hex)
{
	g_autofree gchar *expected = NULL;
	g_autoptr(GError) error = NULL;

	if (challenge == NULL || agent_id == NULL || auth_tag_hex == NULL)
		return FALSE;
	expected = kl_makecredential_auth_tag(challenge, agent_id, &error);
	if (expected == NULL) {
		g_warning("auth_tag: %s", error->message);
		return FALSE;
	}
	return kl_crypto_hex_equal(expected, auth_tag_hex);
}
