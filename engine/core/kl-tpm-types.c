/*
 * Strict parsers for the TPM structures in Keylime's evidence.  The TPM's
 * own structures are big-endian and read field by field with tss2-mu so
 * that each error names its field; tpm2-tools' pcrblob is a little-endian
 * memory dump with a fixed layout and is read by hand.
 */
#define G_LOG_DOMAIN "KlCore"

#include "config.h"

#include <openssl/core_names.h>
#include <tss2/tss2_mu.h>

#include "kl-tpm-types.h"

/* Spelled out: clang-format mangles G_DEFINE_QUARK's dashed argument. */
GQuark
kl_tpm_error_quark(void)
{
	return g_quark_from_static_string("kl-tpm-error-quark");
}

/* algorithm names */

typedef struct {
	TPM2_ALG_ID alg;
	const gchar *name;
	gsize digest_size; /* hashes only */
} KlTpmAlgName;

static const KlTpmAlgName kl_tpm_hash_algs[] = {
	{TPM2_ALG_SHA1, "sha1", 20},
	{TPM2_ALG_SHA256, "sha256", 32},
	{TPM2_ALG_SHA384, "sha384", 48},
	{TPM2_ALG_SHA512, "sha512", 64},
	{TPM2_ALG_SM3_256, "sm3_256", 32},
};

static const KlTpmAlgName kl_tpm_sign_algs[] = {
	{TPM2_ALG_RSASSA, "rsassa", 0},
	{TPM2_ALG_RSAPSS, "rsapss", 0},
	{TPM2_ALG_ECDSA, "ecdsa", 0},
	{TPM2_ALG_ECSCHNORR, "ecschnorr", 0},
	{TPM2_ALG_ECDAA, "ecdaa", 0},
	{TPM2_ALG_SM2, "sm2", 0},
};

static const KlTpmAlgName kl_tpm_enc_algs[] = {
	{TPM2_ALG_RSA, "rsa", 0},
	{TPM2_ALG_ECC, "ecc", 0},
};

static const KlTpmAlgName *
kl_tpm_alg_lookup_id(const KlTpmAlgName *table, guint n, TPM2_ALG_ID alg)
{
	for (guint i = 0; i < n; i++) {
		if (table[i].alg == alg)
			return &table[i];
	}
	return NULL;
}

static gboolean
kl_tpm_alg_lookup_name(const KlTpmAlgName *table, guint n, const gchar *name, TPM2_ALG_ID *alg)
{
	if (name == NULL)
		return FALSE;
	for (guint i = 0; i < n; i++) {
		if (g_strcmp0(table[i].name, name) == 0) {
			if (alg != NULL)
				*alg = table[i].alg;
			return TRUE;
		}
	}
	return FALSE;
}

const gchar *
kl_tpm_hash_alg_to_string(TPM2_ALG_ID alg)
{
	const KlTpmAlgName *entry =
		kl_tpm_alg_lookup_id(kl_tpm_hash_algs, G_N_ELEMENTS(kl_tpm_hash_algs), alg);
	return entry != NULL ? entry->name : NULL;
}

gboolean
kl_tpm_hash_alg_from_string(const gchar *name, TPM2_ALG_ID *alg)
{
	return kl_tpm_alg_lookup_name(kl_tpm_hash_algs, G_N_ELEMENTS(kl_tpm_hash_algs), name, alg);
}

gsize
kl_tpm_hash_alg_get_digest_size(TPM2_ALG_ID alg)
{
	const KlTpmAlgName *entry =
		kl_tpm_alg_lookup_id(kl_tpm_hash_algs, G_N_ELEMENTS(kl_tpm_hash_algs), alg);
	return entry != NULL ? entry->digest_size : 0;
}

const gchar *
kl_tpm_sign_alg_to_string(TPM2_ALG_ID alg)
{
	const KlTpmAlgName *entry =
		kl_tpm_alg_lookup_id(kl_tpm_sign_algs, G_N_ELEMENTS(kl_tpm_sign_algs), alg);
	return entry != NULL ? entry->name : NULL;
}

gboolean
kl_tpm_sign_alg_from_string(const gchar *name, TPM2_ALG_ID *alg)
{
	return kl_tpm_alg_lookup_name(kl_tpm_sign_algs, G_N_ELEMENTS(kl_tpm_sign_algs), name, alg);
}

const gchar *
kl_tpm_enc_alg_to_string(TPM2_ALG_ID alg)
{
	const KlTpmAlgName *entry =
		kl_tpm_alg_lookup_id(kl_tpm_enc_algs, G_N_ELEMENTS(kl_tpm_enc_algs), alg);
	return entry != NULL ? entry->name : NULL;
}

gboolean
kl_tpm_enc_alg_from_string(const gchar *name, TPM2_ALG_ID *alg)
{
	return kl_tpm_alg_lookup_name(kl_tpm_enc_algs, G_N_ELEMENTS(kl_tpm_enc_algs), name, alg);
}

/* tss2-mu logs an error for a NULL buffer even when the size is 0 */
static const guint8 *
kl_tpm_nonnull(const guint8 *data)
{
	static const guint8 empty[1] = {0};
	return data != NULL ? data : empty;
}

/* a big-endian reader over tss2-mu that names fields in its errors */

typedef struct {
	const guint8 *data;
	gsize size;
	gsize offset;
	const gchar *structure;
} KlTpmReader;

static gboolean
kl_tpm_reader_truncated(KlTpmReader *reader, const gchar *field, gsize needed, GError **error)
{
	g_set_error(error,
		    KL_TPM_ERROR,
		    KL_TPM_ERROR_INVALID_DATA,
		    "%s.%s: truncated at offset %" G_GSIZE_FORMAT " (%" G_GSIZE_FORMAT
		    " bytes needed, %" G_GSIZE_FORMAT " left)",
		    reader->structure,
		    field,
		    reader->offset,
		    needed,
		    reader->size - reader->offset);
	return FALSE;
}

static gboolean
kl_tpm_reader_u8(KlTpmReader *reader, const gchar *field, guint8 *value, GError **error)
{
	if (Tss2_MU_UINT8_Unmarshal(reader->data, reader->size, &reader->offset, value) !=
	    TSS2_RC_SUCCESS)
		return kl_tpm_reader_truncated(reader, field, 1, error);
	return TRUE;
}

static gboolean
kl_tpm_reader_u16(KlTpmReader *reader, const gchar *field, guint16 *value, GError **error)
{
	if (Tss2_MU_UINT16_Unmarshal(reader->data, reader->size, &reader->offset, value) !=
	    TSS2_RC_SUCCESS)
		return kl_tpm_reader_truncated(reader, field, 2, error);
	return TRUE;
}

static gboolean
kl_tpm_reader_u32(KlTpmReader *reader, const gchar *field, guint32 *value, GError **error)
{
	if (Tss2_MU_UINT32_Unmarshal(reader->data, reader->size, &reader->offset, value) !=
	    TSS2_RC_SUCCESS)
		return kl_tpm_reader_truncated(reader, field, 4, error);
	return TRUE;
}

static gboolean
kl_tpm_reader_u64(KlTpmReader *reader, const gchar *field, guint64 *value, GError **error)
{
	if (Tss2_MU_UINT64_Unmarshal(reader->data, reader->size, &reader->offset, value) !=
	    TSS2_RC_SUCCESS)
		return kl_tpm_reader_truncated(reader, field, 8, error);
	return TRUE;
}

static gboolean
kl_tpm_reader_bytes(KlTpmReader *reader, const gchar *field, guint8 *dest, gsize n, GError **error)
{
	if (reader->size - reader->offset < n)
		return kl_tpm_reader_truncated(reader, field, n, error);
	if (n > 0)
		memcpy(dest, reader->data + reader->offset, n);
	reader->offset += n;
	return TRUE;
}

/* A TPM2B: u16 size, then size bytes into @buffer of @max bytes. */
static gboolean
kl_tpm_reader_tpm2b(KlTpmReader *reader,
		    const gchar *field,
		    guint16 *size,
		    guint8 *buffer,
		    gsize max,
		    GError **error)
{
	if (!kl_tpm_reader_u16(reader, field, size, error))
		return FALSE;
	if (*size > max) {
		g_set_error(error,
			    KL_TPM_ERROR,
			    KL_TPM_ERROR_INVALID_DATA,
			    "%s.%s: size %u exceeds %" G_GSIZE_FORMAT,
			    reader->structure,
			    field,
			    (guint)*size,
			    max);
		return FALSE;
	}
	return kl_tpm_reader_bytes(reader, field, buffer, *size, error);
}

static gboolean
kl_tpm_reader_end(KlTpmReader *reader, GError **error)
{
	if (reader->offset != reader->size) {
		g_set_error(error,
			    KL_TPM_ERROR,
			    KL_TPM_ERROR_INVALID_DATA,
			    "%s: %" G_GSIZE_FORMAT " trailing bytes",
			    reader->structure,
			    reader->size - reader->offset);
		return FALSE;
	}
	return TRUE;
}

static gboolean
kl_tpm_reader_pcr_selection(KlTpmReader *reader,
			    const gchar *field,
			    TPML_PCR_SELECTION *selection,
			    GError **error)
{
	g_autofree gchar *count_field = g_strdup_printf("%s.count", field);

	memset(selection, 0, sizeof(*selection));
	if (!kl_tpm_reader_u32(reader, count_field, &selection->count, error))
		return FALSE;
	if (selection->count > TPM2_NUM_PCR_BANKS) {
		g_set_error(error,
			    KL_TPM_ERROR,
			    KL_TPM_ERROR_INVALID_DATA,
			    "%s.%s: %u exceeds %u",
			    reader->structure,
			    count_field,
			    selection->count,
			    (guint)TPM2_NUM_PCR_BANKS);
		return FALSE;
	}
	for (guint i = 0; i < selection->count; i++) {
		TPMS_PCR_SELECTION *entry = &selection->pcrSelections[i];
		g_autofree gchar *hash_field = g_strdup_printf("%s[%u].hash", field, i);
		g_autofree gchar *size_field = g_strdup_printf("%s[%u].sizeofSelect", field, i);
		g_autofree gchar *select_field = g_strdup_printf("%s[%u].pcrSelect", field, i);

		if (!kl_tpm_reader_u16(reader, hash_field, &entry->hash, error))
			return FALSE;
		if (!kl_tpm_reader_u8(reader, size_field, &entry->sizeofSelect, error))
			return FALSE;
		if (entry->sizeofSelect > TPM2_PCR_SELECT_MAX) {
			g_set_error(error,
				    KL_TPM_ERROR,
				    KL_TPM_ERROR_INVALID_DATA,
				    "%s.%s: %u exceeds %u",
				    reader->structure,
				    size_field,
				    (guint)entry->sizeofSelect,
				    (guint)TPM2_PCR_SELECT_MAX);
			return FALSE;
		}
		if (!kl_tpm_reader_bytes(reader,
					 select_field,
					 entry->pcrSelect,
					 entry->sizeofSelect,
					 error))
			return FALSE;
	}
	return TRUE;
}

gboolean
kl_tpm_attest_unmarshal(const guint8 *data, gsize size, TPMS_ATTEST *attest, GError **error)
{
	KlTpmReader reader = {kl_tpm_nonnull(data), size, 0, "TPMS_ATTEST"};
	TPMS_CLOCK_INFO *clock = &attest->clockInfo;

	g_return_val_if_fail(data != NULL || size == 0, FALSE);
	g_return_val_if_fail(attest != NULL, FALSE);

	memset(attest, 0, sizeof(*attest));
	/* magic and type are checked by the verifier, in upstream's order */
	if (!kl_tpm_reader_u32(&reader, "magic", &attest->magic, error))
		return FALSE;
	if (!kl_tpm_reader_u16(&reader, "type", &attest->type, error))
		return FALSE;
	if (!kl_tpm_reader_tpm2b(&reader,
				 "qualifiedSigner",
				 &attest->qualifiedSigner.size,
				 attest->qualifiedSigner.name,
				 sizeof(attest->qualifiedSigner.name),
				 error))
		return FALSE;
	if (!kl_tpm_reader_tpm2b(&reader,
				 "extraData",
				 &attest->extraData.size,
				 attest->extraData.buffer,
				 sizeof(attest->extraData.buffer),
				 error))
		return FALSE;
	if (!kl_tpm_reader_u64(&reader, "clockInfo.clock", &clock->clock, error))
		return FALSE;
	if (!kl_tpm_reader_u32(&reader, "clockInfo.resetCount", &clock->resetCount, error))
		return FALSE;
	if (!kl_tpm_reader_u32(&reader, "clockInfo.restartCount", &clock->restartCount, error))
		return FALSE;
	if (!kl_tpm_reader_u8(&reader, "clockInfo.safe", &clock->safe, error))
		return FALSE;
	if (clock->safe > 1) {
		g_set_error(error,
			    KL_TPM_ERROR,
			    KL_TPM_ERROR_INVALID_DATA,
			    "TPMS_ATTEST.clockInfo.safe: %u is neither YES nor NO",
			    (guint)clock->safe);
		return FALSE;
	}
	if (!kl_tpm_reader_u64(&reader, "firmwareVersion", &attest->firmwareVersion, error))
		return FALSE;
	if (attest->type == TPM2_ST_ATTEST_QUOTE) {
		TPMS_QUOTE_INFO *quote = &attest->attested.quote;
		if (!kl_tpm_reader_pcr_selection(&reader,
						 "attested.quote.pcrSelect",
						 &quote->pcrSelect,
						 error))
			return FALSE;
		if (!kl_tpm_reader_tpm2b(&reader,
					 "attested.quote.pcrDigest",
					 &quote->pcrDigest.size,
					 quote->pcrDigest.buffer,
					 sizeof(quote->pcrDigest.buffer),
					 error))
			return FALSE;
	} else {
		/* other attestation types are well-formed evidence of the
		 * wrong kind: the verifier reports the type */
		if (Tss2_MU_TPMU_ATTEST_Unmarshal(reader.data,
						  size,
						  &reader.offset,
						  attest->type,
						  &attest->attested) != TSS2_RC_SUCCESS) {
			g_set_error(error,
				    KL_TPM_ERROR,
				    KL_TPM_ERROR_INVALID_DATA,
				    "TPMS_ATTEST.attested: malformed or unknown for type 0x%04x",
				    (guint)attest->type);
			return FALSE;
		}
	}
	return kl_tpm_reader_end(&reader, error);
}

gboolean
kl_tpm_signature_unmarshal(const guint8 *data, gsize size, TPMT_SIGNATURE *sig, GError **error)
{
	KlTpmReader reader = {kl_tpm_nonnull(data), size, 0, "TPMT_SIGNATURE"};

	g_return_val_if_fail(data != NULL || size == 0, FALSE);
	g_return_val_if_fail(sig != NULL, FALSE);

	memset(sig, 0, sizeof(*sig));
	if (!kl_tpm_reader_u16(&reader, "sigAlg", &sig->sigAlg, error))
		return FALSE;
	if (sig->sigAlg == TPM2_ALG_RSASSA || sig->sigAlg == TPM2_ALG_RSAPSS) {
		TPMS_SIGNATURE_RSA *rsa = &sig->signature.rsassa;
		if (!kl_tpm_reader_u16(&reader, "signature.hash", &rsa->hash, error))
			return FALSE;
		if (!kl_tpm_reader_tpm2b(&reader,
					 "signature.sig",
					 &rsa->sig.size,
					 rsa->sig.buffer,
					 sizeof(rsa->sig.buffer),
					 error))
			return FALSE;
	} else if (sig->sigAlg == TPM2_ALG_ECDSA || sig->sigAlg == TPM2_ALG_ECSCHNORR ||
		   sig->sigAlg == TPM2_ALG_SM2 || sig->sigAlg == TPM2_ALG_ECDAA) {
		/* one layout for every ECC scheme: the verifier rejects all
		 * but ECDSA with a finding */
		TPMS_SIGNATURE_ECC *ecc = &sig->signature.ecdsa;
		if (!kl_tpm_reader_u16(&reader, "signature.hash", &ecc->hash, error))
			return FALSE;
		if (!kl_tpm_reader_tpm2b(&reader,
					 "signature.signatureR",
					 &ecc->signatureR.size,
					 ecc->signatureR.buffer,
					 sizeof(ecc->signatureR.buffer),
					 error))
			return FALSE;
		if (!kl_tpm_reader_tpm2b(&reader,
					 "signature.signatureS",
					 &ecc->signatureS.size,
					 ecc->signatureS.buffer,
					 sizeof(ecc->signatureS.buffer),
					 error))
			return FALSE;
	} else {
		g_set_error(error,
			    KL_TPM_ERROR,
			    KL_TPM_ERROR_NOT_SUPPORTED,
			    "TPMT_SIGNATURE.sigAlg: unsupported algorithm 0x%04x",
			    (guint)sig->sigAlg);
		return FALSE;
	}
	return kl_tpm_reader_end(&reader, error);
}

TPM2_ALG_ID
kl_tpm_signature_get_hash_alg(const TPMT_SIGNATURE *sig)
{
	if (sig->sigAlg == TPM2_ALG_RSASSA || sig->sigAlg == TPM2_ALG_RSAPSS)
		return sig->signature.rsassa.hash;
	if (sig->sigAlg == TPM2_ALG_ECDSA || sig->sigAlg == TPM2_ALG_ECSCHNORR ||
	    sig->sigAlg == TPM2_ALG_SM2 || sig->sigAlg == TPM2_ALG_ECDAA)
		return sig->signature.ecdsa.hash;
	return TPM2_ALG_NULL;
}

guint32
kl_tpm_pcr_selection_get_mask(const TPMS_PCR_SELECTION *selection)
{
	guint32 mask = 0;
	for (guint i = 0; i < MIN(selection->sizeofSelect, TPM2_PCR_SELECT_MAX); i++)
		mask |= (guint32)selection->pcrSelect[i] << (8 * i);
	return mask;
}

/* TPM2B_PUBLIC */

struct _KlTpmPublic {
	TPMT_PUBLIC area;
	EVP_PKEY *key;
	GBytes *name;
};

void
kl_tpm_public_free(KlTpmPublic *self)
{
	if (self == NULL)
		return;
	EVP_PKEY_free(self->key);
	if (self->name != NULL)
		g_bytes_unref(self->name);
	g_free(self);
}

static EVP_PKEY *
kl_tpm_public_fromdata(const gchar *type, OSSL_PARAM_BLD *bld, const gchar *what, GError **error)
{
	g_autoptr(OSSL_PARAM) params = OSSL_PARAM_BLD_to_param(bld);
	g_autoptr(EVP_PKEY_CTX) ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *key = NULL;

	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_TPM_ERROR,
					    KL_TPM_ERROR_INVALID_DATA,
					    "%s: not a valid public key",
					    what);
		return NULL;
	}
	return key;
}

/* The primes below 1024, for a small-factor check of RSA moduli. */
static gboolean
kl_tpm_rsa_modulus_is_plausible(const BIGNUM *n)
{
	if (!BN_is_odd(n))
		return FALSE;
	for (BN_ULONG p = 3; p < 1024; p += 2) {
		gboolean prime = TRUE;

		for (BN_ULONG d = 3; d * d <= p && prime; d += 2)
			prime = p % d != 0;
		if (prime && BN_mod_word(n, p) == 0)
			return FALSE;
	}
	return TRUE;
}

static EVP_PKEY *
kl_tpm_public_rsa_key(const TPMT_PUBLIC *area, GError **error)
{
	const TPMS_RSA_PARMS *parms = &area->parameters.rsaDetail;
	const TPM2B_PUBLIC_KEY_RSA *n = &area->unique.rsa;
	guint32 exponent = parms->exponent != 0 ? parms->exponent : 65537;
	g_autoptr(BIGNUM) bn_n = NULL;
	g_autoptr(BIGNUM) bn_e = NULL;
	g_autoptr(OSSL_PARAM_BLD) bld = OSSL_PARAM_BLD_new();
	g_autoptr(EVP_PKEY) key = NULL;

	if (parms->keyBits != 1024 && parms->keyBits != 2048 && parms->keyBits != 3072 &&
	    parms->keyBits != 4096) {
		g_set_error(error,
			    KL_TPM_ERROR,
			    KL_TPM_ERROR_NOT_SUPPORTED,
			    "TPMT_PUBLIC.parameters.rsaDetail.keyBits: %u is not supported",
			    (guint)parms->keyBits);
		return NULL;
	}
	if ((guint)n->size * 8 != parms->keyBits) {
		g_set_error(error,
			    KL_TPM_ERROR,
			    KL_TPM_ERROR_INVALID_DATA,
			    "TPMT_PUBLIC.unique.rsa: size %u does not match keyBits %u",
			    (guint)n->size,
			    (guint)parms->keyBits);
		return NULL;
	}
	if (exponent < 3 || exponent % 2 == 0) {
		g_set_error(error,
			    KL_TPM_ERROR,
			    KL_TPM_ERROR_INVALID_DATA,
			    "TPMT_PUBLIC.parameters.rsaDetail.exponent: %u is not a valid exponent",
			    exponent);
		return NULL;
	}
	bn_n = BN_bin2bn(n->buffer, n->size, NULL);
	bn_e = BN_new();
	if (bld == NULL || bn_n == NULL || bn_e == NULL || BN_set_word(bn_e, exponent) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_TPM_ERROR,
					    KL_TPM_ERROR_INVALID_DATA,
					    "TPMT_PUBLIC.unique.rsa: cannot build the key");
		return NULL;
	}
	if (BN_num_bits(bn_n) != parms->keyBits) {
		g_set_error(error,
			    KL_TPM_ERROR,
			    KL_TPM_ERROR_INVALID_DATA,
			    "TPMT_PUBLIC.unique.rsa: modulus has %d bits, keyBits says %u",
			    BN_num_bits(bn_n),
			    (guint)parms->keyBits);
		return NULL;
	}
	key = kl_tpm_public_fromdata("RSA", bld, "TPMT_PUBLIC.unique.rsa", error);
	if (key == NULL)
		return NULL;
	/* n odd and without small factors: deterministic and cheap.  Not
	 * EVP_PKEY_public_check(): its Miller-Rabin step costs ~4 ms per
	 * 2048-bit key (the registrar's whole budget for a registration)
	 * and proves nothing a verifier relies on about someone else's key. */
	if (!kl_tpm_rsa_modulus_is_plausible(bn_n)) {
		g_set_error_literal(error,
				    KL_TPM_ERROR,
				    KL_TPM_ERROR_INVALID_DATA,
				    "TPMT_PUBLIC.unique.rsa: not a valid RSA modulus");
		return NULL;
	}
	return g_steal_pointer(&key);
}

static EVP_PKEY *
kl_tpm_public_ecc_key(const TPMT_PUBLIC *area, GError **error)
{
	const TPMS_ECC_POINT *point = &area->unique.ecc;
	const gchar *group = NULL;
	const gchar *curve = NULL;
	gsize coord = 0;
	guint8 encoded[1 + 2 * 66] = {0};
	g_autoptr(OSSL_PARAM_BLD) bld = OSSL_PARAM_BLD_new();
	g_autoptr(EVP_PKEY) key = NULL;
	g_autoptr(EVP_PKEY_CTX) check = NULL;

	switch (area->parameters.eccDetail.curveID) {
	case TPM2_ECC_NIST_P256:
		group = "prime256v1";
		curve = "P-256";
		coord = 32;
		break;
	case TPM2_ECC_NIST_P384:
		group = "secp384r1";
		curve = "P-384";
		coord = 48;
		break;
	case TPM2_ECC_NIST_P521:
		group = "secp521r1";
		curve = "P-521";
		coord = 66;
		break;
	default:
		g_set_error(error,
			    KL_TPM_ERROR,
			    KL_TPM_ERROR_NOT_SUPPORTED,
			    "TPMT_PUBLIC.parameters.eccDetail.curveID: 0x%04x is not a NIST curve",
			    (guint)area->parameters.eccDetail.curveID);
		return NULL;
	}
	/* TPMs send full-length coordinates; shorter ones are left-padded */
	if (point->x.size == 0 || point->x.size > coord || point->y.size == 0 ||
	    point->y.size > coord) {
		g_set_error(error,
			    KL_TPM_ERROR,
			    KL_TPM_ERROR_INVALID_DATA,
			    "TPMT_PUBLIC.unique.ecc: coordinate sizes %u and %u do not fit %s",
			    (guint)point->x.size,
			    (guint)point->y.size,
			    curve);
		return NULL;
	}
	encoded[0] = 0x04;
	memcpy(encoded + 1 + coord - point->x.size, point->x.buffer, point->x.size);
	memcpy(encoded + 1 + 2 * coord - point->y.size, point->y.buffer, point->y.size);
	if (bld == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld,
					     OSSL_PKEY_PARAM_PUB_KEY,
					     encoded,
					     1 + 2 * coord) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_TPM_ERROR,
					    KL_TPM_ERROR_INVALID_DATA,
					    "TPMT_PUBLIC.unique.ecc: cannot build the key");
		return NULL;
	}
	/* fromdata refuses points off the curve and coordinates >= p */
	key = kl_tpm_public_fromdata("EC", bld, "TPMT_PUBLIC.unique.ecc", error);
	if (key == NULL) {
		g_prefix_error(error, "%s point: ", curve);
		return NULL;
	}
	/* on the curve and not the point at infinity; the NIST curves TPMs
	 * use have cofactor 1, so the full check's n*Q = O adds nothing */
	check = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (check == NULL || EVP_PKEY_public_check_quick(check) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_TPM_ERROR,
					    KL_TPM_ERROR_INVALID_DATA,
					    "TPMT_PUBLIC.unique.ecc: not a valid %s point",
					    curve);
		return NULL;
	}
	return g_steal_pointer(&key);
}

static const gchar *
kl_tpm_mu_rc_to_string(TSS2_RC rc)
{
	switch (rc) {
	case TSS2_MU_RC_INSUFFICIENT_BUFFER:
		return "truncated";
	case TSS2_MU_RC_BAD_SIZE:
		return "a size exceeds its buffer";
	case TSS2_MU_RC_BAD_VALUE:
		return "unknown algorithm or selector";
	default:
		return "malformed";
	}
}

KlTpmPublic *
kl_tpm_public_new_from_data(const guint8 *data, gsize size, GError **error)
{
	KlTpmReader reader = {kl_tpm_nonnull(data), size, 0, "TPM2B_PUBLIC"};
	g_autoptr(KlTpmPublic) self = g_new0(KlTpmPublic, 1);
	guint16 inner = 0;
	gsize offset;
	const gchar *name_alg;
	const EVP_MD *md;
	guint8 name[2 + EVP_MAX_MD_SIZE];
	guint name_len = 0;
	TSS2_RC rc;

	g_return_val_if_fail(data != NULL || size == 0, NULL);

	if (!kl_tpm_reader_u16(&reader, "size", &inner, error))
		return NULL;
	if (inner == 0 || inner > size - 2) {
		g_set_error(error,
			    KL_TPM_ERROR,
			    KL_TPM_ERROR_INVALID_DATA,
			    "TPM2B_PUBLIC.size: %u, but %" G_GSIZE_FORMAT " bytes follow",
			    (guint)inner,
			    size - 2);
		return NULL;
	}
	if (inner < size - 2) {
		g_set_error(error,
			    KL_TPM_ERROR,
			    KL_TPM_ERROR_INVALID_DATA,
			    "TPM2B_PUBLIC: %" G_GSIZE_FORMAT " trailing bytes",
			    size - 2 - inner);
		return NULL;
	}
	/* tss2-mu bounds every TPM2B inside by its array; the outer size
	 * bounds the whole area */
	offset = 2;
	rc = Tss2_MU_TPMT_PUBLIC_Unmarshal(reader.data, size, &offset, &self->area);
	if (rc != TSS2_RC_SUCCESS) {
		g_set_error(error,
			    KL_TPM_ERROR,
			    KL_TPM_ERROR_INVALID_DATA,
			    "TPM2B_PUBLIC.publicArea: %s (0x%x)",
			    kl_tpm_mu_rc_to_string(rc),
			    (guint)rc);
		return NULL;
	}
	if (offset != size) {
		g_set_error(error,
			    KL_TPM_ERROR,
			    KL_TPM_ERROR_INVALID_DATA,
			    "TPM2B_PUBLIC.publicArea: %" G_GSIZE_FORMAT
			    " bytes left inside the TPM2B",
			    size - offset);
		return NULL;
	}

	if (self->area.type == TPM2_ALG_RSA) {
		self->key = kl_tpm_public_rsa_key(&self->area, error);
	} else if (self->area.type == TPM2_ALG_ECC) {
		self->key = kl_tpm_public_ecc_key(&self->area, error);
	} else {
		g_set_error(error,
			    KL_TPM_ERROR,
			    KL_TPM_ERROR_NOT_SUPPORTED,
			    "TPMT_PUBLIC.type: 0x%04x is neither RSA nor ECC",
			    (guint)self->area.type);
		return NULL;
	}
	if (self->key == NULL)
		return NULL;

	/* the Name hashes the TPMT_PUBLIC bytes as received */
	name_alg = kl_tpm_hash_alg_to_string(self->area.nameAlg);
	if (name_alg == NULL) {
		g_set_error(error,
			    KL_TPM_ERROR,
			    KL_TPM_ERROR_NOT_SUPPORTED,
			    "TPMT_PUBLIC.nameAlg: unsupported algorithm 0x%04x",
			    (guint)self->area.nameAlg);
		return NULL;
	}
	md = kl_crypto_get_md(name_alg, error);
	if (md == NULL)
		return NULL;
	name[0] = (guint8)(self->area.nameAlg >> 8);
	name[1] = (guint8)(self->area.nameAlg & 0xff);
	if (EVP_Digest(reader.data + 2, inner, name + 2, &name_len, md, NULL) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_TPM_ERROR,
					    KL_TPM_ERROR_INVALID_DATA,
					    "TPMT_PUBLIC: cannot compute the Name");
		return NULL;
	}
	self->name = g_bytes_new(name, 2 + name_len);
	return g_steal_pointer(&self);
}

const TPMT_PUBLIC *
kl_tpm_public_get_area(KlTpmPublic *self)
{
	return &self->area;
}

TPMA_OBJECT
kl_tpm_public_get_object_attributes(KlTpmPublic *self)
{
	return self->area.objectAttributes;
}

EVP_PKEY *
kl_tpm_public_get_key(KlTpmPublic *self)
{
	return self->key;
}

GBytes *
kl_tpm_public_get_name(KlTpmPublic *self)
{
	return self->name;
}

/* KlPcrBank */

struct _KlPcrBank {
	TPM2_ALG_ID hash_alg;
	gsize digest_size;
	GBytes *values[KL_TPM_PCR_COUNT];
};

KlPcrBank *
kl_pcr_bank_new(TPM2_ALG_ID hash_alg, GError **error)
{
	KlPcrBank *self;
	gsize digest_size = kl_tpm_hash_alg_get_digest_size(hash_alg);

	if (digest_size == 0) {
		g_set_error(error,
			    KL_TPM_ERROR,
			    KL_TPM_ERROR_NOT_SUPPORTED,
			    "PCR bank: unsupported hash algorithm 0x%04x",
			    (guint)hash_alg);
		return NULL;
	}
	self = g_new0(KlPcrBank, 1);
	self->hash_alg = hash_alg;
	self->digest_size = digest_size;
	return self;
}

void
kl_pcr_bank_free(KlPcrBank *self)
{
	if (self == NULL)
		return;
	for (guint i = 0; i < KL_TPM_PCR_COUNT; i++) {
		if (self->values[i] != NULL)
			g_bytes_unref(self->values[i]);
	}
	g_free(self);
}

TPM2_ALG_ID
kl_pcr_bank_get_hash_alg(KlPcrBank *self)
{
	return self->hash_alg;
}

const gchar *
kl_pcr_bank_get_hash_alg_string(KlPcrBank *self)
{
	return kl_tpm_hash_alg_to_string(self->hash_alg);
}

gsize
kl_pcr_bank_get_digest_size(KlPcrBank *self)
{
	return self->digest_size;
}

gboolean
kl_pcr_bank_set(KlPcrBank *self, guint index, const guint8 *digest, gsize size, GError **error)
{
	if (index >= KL_TPM_PCR_COUNT) {
		g_set_error(error,
			    KL_TPM_ERROR,
			    KL_TPM_ERROR_INVALID_DATA,
			    "PCR %u: index out of range 0..%u",
			    index,
			    (guint)KL_TPM_PCR_COUNT - 1);
		return FALSE;
	}
	if (size != self->digest_size) {
		g_set_error(error,
			    KL_TPM_ERROR,
			    KL_TPM_ERROR_INVALID_DATA,
			    "PCR %u (%s): digest size %" G_GSIZE_FORMAT
			    ", expected %" G_GSIZE_FORMAT,
			    index,
			    kl_pcr_bank_get_hash_alg_string(self),
			    size,
			    self->digest_size);
		return FALSE;
	}
	if (self->values[index] != NULL)
		g_bytes_unref(self->values[index]);
	self->values[index] = g_bytes_new(digest, size);
	return TRUE;
}

GBytes *
kl_pcr_bank_get(KlPcrBank *self, guint index)
{
	if (index >= KL_TPM_PCR_COUNT)
		return NULL;
	return self->values[index];
}

gchar *
kl_pcr_bank_get_hex(KlPcrBank *self, guint index)
{
	GBytes *value = kl_pcr_bank_get(self, index);
	if (value == NULL)
		return NULL;
	return kl_crypto_hex_encode(g_bytes_get_data(value, NULL), g_bytes_get_size(value));
}

gboolean
kl_pcr_bank_has(KlPcrBank *self, guint index)
{
	return kl_pcr_bank_get(self, index) != NULL;
}

guint32
kl_pcr_bank_get_mask(KlPcrBank *self)
{
	guint32 mask = 0;
	for (guint i = 0; i < KL_TPM_PCR_COUNT; i++) {
		if (self->values[i] != NULL)
			mask |= 1u << i;
	}
	return mask;
}

guint
kl_pcr_bank_get_count(KlPcrBank *self)
{
	return (guint)__builtin_popcount(kl_pcr_bank_get_mask(self));
}

/* pcrblob: tpm2-tools' little-endian memory dump (spec §4.1) */

#define KL_PCRBLOB_SELECTION_SIZE 8 /* u16 hash, u8 sizeofSelect, u8 pcrSelect[4], pad */
#define KL_PCRBLOB_HEADER_SIZE	  (4 + TPM2_NUM_PCR_BANKS * KL_PCRBLOB_SELECTION_SIZE)
#define KL_PCRBLOB_DIGEST_SIZE	  (2 + 64)
#define KL_PCRBLOB_LIST_SIZE	  (4 + 8 * KL_PCRBLOB_DIGEST_SIZE)

static guint16
kl_pcrblob_le16(const guint8 *p)
{
	return (guint16)(p[0] | (p[1] << 8));
}

static guint32
kl_pcrblob_le32(const guint8 *p)
{
	return (guint32)p[0] | ((guint32)p[1] << 8) | ((guint32)p[2] << 16) | ((guint32)p[3] << 24);
}

gboolean
kl_tpm_pcrblob_parse(const guint8 *data,
		     gsize size,
		     TPML_PCR_SELECTION *selection,
		     GPtrArray **banks,
		     GError **error)
{
	guint32 n_lists;
	guint n_selected = 0;
	guint next = 0;
	g_autoptr(GPtrArray) values = g_ptr_array_new(); /* const guint8 * into @data */
	g_autoptr(GArray) sizes = g_array_new(FALSE, FALSE, sizeof(guint16));
	g_autoptr(GPtrArray) result =
		g_ptr_array_new_with_free_func((GDestroyNotify)kl_pcr_bank_free);

	g_return_val_if_fail(data != NULL || size == 0, FALSE);
	g_return_val_if_fail(selection != NULL, FALSE);
	g_return_val_if_fail(banks != NULL, FALSE);

	memset(selection, 0, sizeof(*selection));
	if (size < KL_PCRBLOB_HEADER_SIZE + 4) {
		g_set_error(error,
			    KL_TPM_ERROR,
			    KL_TPM_ERROR_INVALID_DATA,
			    "pcrblob: %" G_GSIZE_FORMAT " bytes, shorter than its %u-byte header",
			    size,
			    (guint)KL_PCRBLOB_HEADER_SIZE + 4);
		return FALSE;
	}
	selection->count = kl_pcrblob_le32(data);
	if (selection->count > TPM2_NUM_PCR_BANKS) {
		g_set_error(error,
			    KL_TPM_ERROR,
			    KL_TPM_ERROR_INVALID_DATA,
			    "pcrblob.pcrSelections.count: %u exceeds %u",
			    selection->count,
			    (guint)TPM2_NUM_PCR_BANKS);
		return FALSE;
	}
	for (guint i = 0; i < selection->count; i++) {
		const guint8 *p = data + 4 + i * KL_PCRBLOB_SELECTION_SIZE;
		TPMS_PCR_SELECTION *entry = &selection->pcrSelections[i];
		g_autoptr(KlPcrBank) bank = NULL;

		entry->hash = kl_pcrblob_le16(p);
		entry->sizeofSelect = p[2];
		if (entry->sizeofSelect != 0 && entry->sizeofSelect != 3) {
			g_set_error(error,
				    KL_TPM_ERROR,
				    KL_TPM_ERROR_INVALID_DATA,
				    "pcrblob.pcrSelections[%u].sizeofSelect: %u, expected 0 or 3",
				    i,
				    (guint)entry->sizeofSelect);
			return FALSE;
		}
		memcpy(entry->pcrSelect, p + 3, entry->sizeofSelect);
		for (guint j = 0; j < i; j++) {
			if (selection->pcrSelections[j].hash == entry->hash) {
				g_set_error(error,
					    KL_TPM_ERROR,
					    KL_TPM_ERROR_INVALID_DATA,
					    "pcrblob.pcrSelections[%u].hash: 0x%04x selected twice",
					    i,
					    (guint)entry->hash);
				return FALSE;
			}
		}
		if (kl_tpm_hash_alg_get_digest_size(entry->hash) == 0) {
			g_set_error(error,
				    KL_TPM_ERROR,
				    KL_TPM_ERROR_INVALID_DATA,
				    "pcrblob.pcrSelections[%u].hash: unknown algorithm 0x%04x",
				    i,
				    (guint)entry->hash);
			return FALSE;
		}
		bank = kl_pcr_bank_new(entry->hash, error);
		if (bank == NULL)
			return FALSE;
		n_selected += (guint)__builtin_popcount(kl_tpm_pcr_selection_get_mask(entry));
		g_ptr_array_add(result, g_steal_pointer(&bank));
	}

	n_lists = kl_pcrblob_le32(data + KL_PCRBLOB_HEADER_SIZE);
	if (n_lists > (size - KL_PCRBLOB_HEADER_SIZE - 4) / KL_PCRBLOB_LIST_SIZE ||
	    size != KL_PCRBLOB_HEADER_SIZE + 4 + (gsize)n_lists * KL_PCRBLOB_LIST_SIZE) {
		g_set_error(error,
			    KL_TPM_ERROR,
			    KL_TPM_ERROR_INVALID_DATA,
			    "pcrblob: %" G_GSIZE_FORMAT
			    " bytes, but %u digest lists need %" G_GUINT64_FORMAT,
			    size,
			    n_lists,
			    (guint64)KL_PCRBLOB_HEADER_SIZE + 4 +
				    (guint64)n_lists * KL_PCRBLOB_LIST_SIZE);
		return FALSE;
	}
	for (guint l = 0; l < n_lists; l++) {
		const guint8 *list = data + KL_PCRBLOB_HEADER_SIZE + 4 + l * KL_PCRBLOB_LIST_SIZE;
		guint32 count = kl_pcrblob_le32(list);
		if (count > 8) {
			g_set_error(error,
				    KL_TPM_ERROR,
				    KL_TPM_ERROR_INVALID_DATA,
				    "pcrblob.digests[%u].count: %u exceeds 8",
				    l,
				    count);
			return FALSE;
		}
		for (guint d = 0; d < count; d++) {
			const guint8 *digest = list + 4 + d * KL_PCRBLOB_DIGEST_SIZE;
			guint16 digest_size = kl_pcrblob_le16(digest);
			if (digest_size == 0 || digest_size > 64) {
				g_set_error(error,
					    KL_TPM_ERROR,
					    KL_TPM_ERROR_INVALID_DATA,
					    "pcrblob.digests[%u].digests[%u].size: %u is not 1..64",
					    l,
					    d,
					    (guint)digest_size);
				return FALSE;
			}
			g_ptr_array_add(values, (gpointer)(digest + 2));
			g_array_append_val(sizes, digest_size);
		}
	}
	if (values->len != n_selected) {
		g_set_error(error,
			    KL_TPM_ERROR,
			    KL_TPM_ERROR_INVALID_DATA,
			    "pcrblob: %u PCRs selected but %u values",
			    n_selected,
			    values->len);
		return FALSE;
	}
	for (guint i = 0; i < selection->count; i++) {
		KlPcrBank *bank = g_ptr_array_index(result, i);
		guint32 mask = kl_tpm_pcr_selection_get_mask(&selection->pcrSelections[i]);
		for (guint pcr = 0; pcr < KL_TPM_PCR_COUNT; pcr++) {
			if ((mask & (1u << pcr)) == 0)
				continue;
			if (!kl_pcr_bank_set(bank,
					     pcr,
					     g_ptr_array_index(values, next),
					     g_array_index(sizes, guint16, next),
					     error)) {
				g_prefix_error(error, "pcrblob: ");
				return FALSE;
			}
			next++;
		}
	}
	*banks = g_steal_pointer(&result);
	return TRUE;
}

static void
kl_pcrblob_put_le16(guint8 *p, guint16 value)
{
	p[0] = (guint8)(value & 0xff);
	p[1] = (guint8)(value >> 8);
}

static void
kl_pcrblob_put_le32(guint8 *p, guint32 value)
{
	for (guint i = 0; i < 4; i++)
		p[i] = (guint8)((value >> (8 * i)) & 0xff);
}

GBytes *
kl_tpm_pcrblob_build(GPtrArray *banks, GError **error)
{
	guint n_values = 0;
	guint n_lists;
	guint next = 0;
	gsize size;
	g_autofree guint8 *blob = NULL;

	g_return_val_if_fail(banks != NULL, NULL);

	if (banks->len > TPM2_NUM_PCR_BANKS) {
		g_set_error(error,
			    KL_TPM_ERROR,
			    KL_TPM_ERROR_INVALID_DATA,
			    "pcrblob: %u banks exceed %u",
			    banks->len,
			    (guint)TPM2_NUM_PCR_BANKS);
		return NULL;
	}
	for (guint i = 0; i < banks->len; i++)
		n_values += kl_pcr_bank_get_count(g_ptr_array_index(banks, i));
	n_lists = (n_values + 7) / 8;
	size = KL_PCRBLOB_HEADER_SIZE + 4 + (gsize)n_lists * KL_PCRBLOB_LIST_SIZE;
	blob = g_malloc0(size);

	kl_pcrblob_put_le32(blob, banks->len);
	for (guint i = 0; i < banks->len; i++) {
		KlPcrBank *bank = g_ptr_array_index(banks, i);
		guint8 *p = blob + 4 + i * KL_PCRBLOB_SELECTION_SIZE;
		guint32 mask = kl_pcr_bank_get_mask(bank);

		kl_pcrblob_put_le16(p, bank->hash_alg);
		p[2] = 3;
		p[3] = (guint8)(mask & 0xff);
		p[4] = (guint8)((mask >> 8) & 0xff);
		p[5] = (guint8)((mask >> 16) & 0xff);
	}
	kl_pcrblob_put_le32(blob + KL_PCRBLOB_HEADER_SIZE, n_lists);
	for (guint i = 0; i < banks->len; i++) {
		KlPcrBank *bank = g_ptr_array_index(banks, i);
		for (guint pcr = 0; pcr < KL_TPM_PCR_COUNT; pcr++) {
			guint8 *list;
			guint8 *digest;
			if (bank->values[pcr] == NULL)
				continue;
			list = blob + KL_PCRBLOB_HEADER_SIZE + 4 +
			       (next / 8) * KL_PCRBLOB_LIST_SIZE;
			digest = list + 4 + (next % 8) * KL_PCRBLOB_DIGEST_SIZE;
			kl_pcrblob_put_le32(list, kl_pcrblob_le32(list) + 1);
			kl_pcrblob_put_le16(digest, (guint16)bank->digest_size);
			memcpy(digest + 2,
			       g_bytes_get_data(bank->values[pcr], NULL),
			       bank->digest_size);
			next++;
		}
	}
	return g_bytes_new_take(g_steal_pointer(&blob), size);
}
