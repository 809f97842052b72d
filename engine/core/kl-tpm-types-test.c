/*
 * kl-tpm-types: TPM structures marshalled by hand with tss2-mu (and the
 * spec §4.8 fixture rebuilt from its numbers), parsed back, then cut,
 * padded and given hostile lengths.
 */
#include "config.h"

#include <openssl/core_names.h>
#include <tss2/tss2_mu.h>

#include "kl-test-data.h"
#include "kl-tpm-types.h"
#include "kl-x509.h"

/* spec §4.8 */
static const gchar *fixture_nonce = "db1db298db6d60e6385b7231743e9c3056a18003";
static const gchar *fixture_pcr16 =
	"9dbb22387e019c04da95477333546082ce313152c4a7f8a6e1d5f0c77f4fb6f0";
static const gchar *fixture_digest =
	"ec1636c69c548fd09a165a4f874e5d1610a8fbe36241566017e92b17e144b971";

static void
fixture_attest(TPMS_ATTEST *attest)
{
	g_autoptr(GBytes) nonce = kl_test_hex(fixture_nonce);
	g_autoptr(GBytes) digest = kl_test_hex(fixture_digest);
	TPMS_PCR_SELECTION *sel = &attest->attested.quote.pcrSelect.pcrSelections[0];

	memset(attest, 0, sizeof(*attest));
	attest->magic = TPM2_GENERATED_VALUE;
	attest->type = TPM2_ST_ATTEST_QUOTE;
	attest->qualifiedSigner.size = 34;
	memset(attest->qualifiedSigner.name, 0xab, 34);
	attest->extraData.size = (UINT16)g_bytes_get_size(nonce);
	memcpy(attest->extraData.buffer, g_bytes_get_data(nonce, NULL), attest->extraData.size);
	attest->clockInfo.clock = 5994;
	attest->clockInfo.safe = 1;
	attest->firmwareVersion = 0x2013121100072100;
	attest->attested.quote.pcrSelect.count = 1;
	sel->hash = TPM2_ALG_SHA256;
	sel->sizeofSelect = 3;
	sel->pcrSelect[0] = 0x00;
	sel->pcrSelect[1] = 0x80;
	sel->pcrSelect[2] = 0x41;
	attest->attested.quote.pcrDigest.size = 32;
	memcpy(attest->attested.quote.pcrDigest.buffer, g_bytes_get_data(digest, NULL), 32);
}

static GByteArray *
marshal_attest(const TPMS_ATTEST *attest)
{
	GByteArray *buf = g_byte_array_sized_new(sizeof(TPMS_ATTEST));
	size_t offset = 0;

	g_byte_array_set_size(buf, sizeof(TPMS_ATTEST));
	g_assert_cmpint(Tss2_MU_TPMS_ATTEST_Marshal(attest, buf->data, buf->len, &offset), ==, 0);
	g_byte_array_set_size(buf, (guint)offset);
	return buf;
}

static void
test_alg_names(void)
{
	TPM2_ALG_ID alg = 0;

	g_assert_cmpstr(kl_tpm_hash_alg_to_string(TPM2_ALG_SHA256), ==, "sha256");
	g_assert_cmpstr(kl_tpm_hash_alg_to_string(TPM2_ALG_SM3_256), ==, "sm3_256");
	g_assert_null(kl_tpm_hash_alg_to_string(TPM2_ALG_RSA));
	g_assert_true(kl_tpm_hash_alg_from_string("sha384", &alg));
	g_assert_cmpuint(alg, ==, TPM2_ALG_SHA384);
	g_assert_false(kl_tpm_hash_alg_from_string("SHA384", &alg));
	g_assert_false(kl_tpm_hash_alg_from_string("md5", &alg));
	g_assert_cmpuint(kl_tpm_hash_alg_get_digest_size(TPM2_ALG_SHA512), ==, 64);
	g_assert_cmpuint(kl_tpm_hash_alg_get_digest_size(TPM2_ALG_SHA1), ==, 20);
	g_assert_cmpuint(kl_tpm_hash_alg_get_digest_size(0x1234), ==, 0);
	g_assert_cmpstr(kl_tpm_sign_alg_to_string(TPM2_ALG_RSAPSS), ==, "rsapss");
	g_assert_true(kl_tpm_sign_alg_from_string("ecdsa", &alg));
	g_assert_cmpuint(alg, ==, TPM2_ALG_ECDSA);
	g_assert_false(kl_tpm_sign_alg_from_string("rsa", &alg));
	g_assert_cmpstr(kl_tpm_enc_alg_to_string(TPM2_ALG_ECC), ==, "ecc");
	g_assert_true(kl_tpm_enc_alg_from_string("rsa", &alg));
	g_assert_cmpuint(alg, ==, TPM2_ALG_RSA);
	g_assert_false(kl_tpm_enc_alg_from_string(NULL, &alg));
}

static void
test_attest_fixture(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GByteArray) buf = NULL;
	TPMS_ATTEST in;
	TPMS_ATTEST out;

	fixture_attest(&in);
	buf = marshal_attest(&in);
	/* the fixture's quote.out is 133 bytes with a 34-byte signer Name */
	g_assert_cmpuint(buf->len, ==, 133);
	g_assert_true(kl_tpm_attest_unmarshal(buf->data, buf->len, &out, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(out.magic, ==, TPM2_GENERATED_VALUE);
	g_assert_cmpuint(out.type, ==, TPM2_ST_ATTEST_QUOTE);
	g_assert_cmpuint(out.extraData.size, ==, 20);
	g_assert_cmpmem(out.extraData.buffer, 20, in.extraData.buffer, 20);
	g_assert_cmpuint(out.clockInfo.clock, ==, 5994);
	g_assert_cmpuint(out.clockInfo.safe, ==, 1);
	g_assert_cmpuint(out.firmwareVersion, ==, in.firmwareVersion);
	g_assert_cmpuint(out.attested.quote.pcrSelect.count, ==, 1);
	g_assert_cmphex(
		kl_tpm_pcr_selection_get_mask(&out.attested.quote.pcrSelect.pcrSelections[0]),
		==,
		0x418000);
	g_assert_cmpmem(out.attested.quote.pcrDigest.buffer,
			out.attested.quote.pcrDigest.size,
			in.attested.quote.pcrDigest.buffer,
			32);
}

static void
test_attest_truncated(void)
{
	g_autoptr(GByteArray) buf = NULL;
	TPMS_ATTEST attest;

	fixture_attest(&attest);
	buf = marshal_attest(&attest);
	for (guint len = 0; len < buf->len; len++) {
		g_autoptr(GError) error = NULL;
		g_assert_false(kl_tpm_attest_unmarshal(buf->data, len, &attest, &error));
		g_assert_error(error, KL_TPM_ERROR, KL_TPM_ERROR_INVALID_DATA);
		g_assert_true(g_str_has_prefix(error->message, "TPMS_ATTEST."));
	}
	/* one byte too many */
	{
		g_autoptr(GError) error = NULL;
		g_byte_array_append(buf, (const guint8 *)"x", 1);
		g_assert_false(kl_tpm_attest_unmarshal(buf->data, buf->len, &attest, &error));
		g_assert_error(error, KL_TPM_ERROR, KL_TPM_ERROR_INVALID_DATA);
		g_assert_cmpstr(error->message, ==, "TPMS_ATTEST: 1 trailing bytes");
	}
}

static void
test_attest_hostile(void)
{
	g_autoptr(GByteArray) buf = NULL;
	TPMS_ATTEST attest;
	/* offsets in the fixture: magic 0, type 4, signer 6 (2+34), extraData 42 */
	const guint extra_off = 42;
	const guint clock_off = extra_off + 2 + 20;
	const guint safe_off = clock_off + 16;
	const guint sel_off = safe_off + 1 + 8;

	fixture_attest(&attest);
	buf = marshal_attest(&attest);
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GByteArray) copy = g_byte_array_new();
		g_byte_array_append(copy, buf->data, buf->len);
		copy->data[extra_off] = 0x00;
		copy->data[extra_off + 1] = 70;
		g_assert_false(kl_tpm_attest_unmarshal(copy->data, copy->len, &attest, &error));
		g_assert_cmpstr(error->message, ==, "TPMS_ATTEST.extraData: size 70 exceeds 64");
	}
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GByteArray) copy = g_byte_array_new();
		g_byte_array_append(copy, buf->data, buf->len);
		copy->data[extra_off] = 0xff;
		copy->data[extra_off + 1] = 0xff;
		g_assert_false(kl_tpm_attest_unmarshal(copy->data, copy->len, &attest, &error));
		g_assert_cmpstr(error->message, ==, "TPMS_ATTEST.extraData: size 65535 exceeds 64");
	}
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GByteArray) copy = g_byte_array_new();
		g_byte_array_append(copy, buf->data, buf->len);
		/* signer size 40 (< its 68-byte max) runs the fields off by 6 */
		copy->data[7] = 40;
		g_assert_false(kl_tpm_attest_unmarshal(copy->data, copy->len, &attest, &error));
		g_assert_error(error, KL_TPM_ERROR, KL_TPM_ERROR_INVALID_DATA);
		g_test_message("signer shifted: %s", error->message);
	}
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GByteArray) copy = g_byte_array_new();
		g_byte_array_append(copy, buf->data, buf->len);
		copy->data[safe_off] = 2;
		g_assert_false(kl_tpm_attest_unmarshal(copy->data, copy->len, &attest, &error));
		g_assert_cmpstr(error->message,
				==,
				"TPMS_ATTEST.clockInfo.safe: 2 is neither YES nor NO");
	}
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GByteArray) copy = g_byte_array_new();
		g_byte_array_append(copy, buf->data, buf->len);
		copy->data[sel_off + 3] = 17;
		g_assert_false(kl_tpm_attest_unmarshal(copy->data, copy->len, &attest, &error));
		g_assert_cmpstr(error->message,
				==,
				"TPMS_ATTEST.attested.quote.pcrSelect.count: 17 exceeds 16");
	}
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GByteArray) copy = g_byte_array_new();
		g_byte_array_append(copy, buf->data, buf->len);
		copy->data[sel_off + 4 + 2] = 5; /* sizeofSelect */
		g_assert_false(kl_tpm_attest_unmarshal(copy->data, copy->len, &attest, &error));
		g_assert_cmpstr(
			error->message,
			==,
			"TPMS_ATTEST.attested.quote.pcrSelect[0].sizeofSelect: 5 exceeds 4");
	}
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GByteArray) copy = g_byte_array_new();
		g_byte_array_append(copy, buf->data, buf->len);
		copy->data[sel_off + 4 + 3 + 3] = 0;
		copy->data[sel_off + 4 + 3 + 3 + 1] = 65; /* pcrDigest.size */
		g_assert_false(kl_tpm_attest_unmarshal(copy->data, copy->len, &attest, &error));
		g_assert_cmpstr(error->message,
				==,
				"TPMS_ATTEST.attested.quote.pcrDigest: size 65 exceeds 64");
	}
}

/* Another attestation type parses (the verifier reports the type), and a
 * wrong magic too (the verifier reports it, after the signature). */
static void
test_attest_other_type(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GByteArray) buf = NULL;
	TPMS_ATTEST attest;
	TPMS_ATTEST out;

	fixture_attest(&attest);
	attest.magic = 0x12345678;
	attest.type = TPM2_ST_ATTEST_CERTIFY;
	memset(&attest.attested, 0, sizeof(attest.attested));
	attest.attested.certify.name.size = 4;
	buf = marshal_attest(&attest);
	g_assert_true(kl_tpm_attest_unmarshal(buf->data, buf->len, &out, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(out.type, ==, TPM2_ST_ATTEST_CERTIFY);
	g_assert_cmphex(out.magic, ==, 0x12345678);

	/* an unknown type cannot be parsed past the header */
	buf->data[4] = 0x00;
	buf->data[5] = 0x01;
	g_assert_false(kl_tpm_attest_unmarshal(buf->data, buf->len, &out, &error));
	g_assert_error(error, KL_TPM_ERROR, KL_TPM_ERROR_INVALID_DATA);
}

static GByteArray *
marshal_signature(const TPMT_SIGNATURE *sig)
{
	GByteArray *buf = g_byte_array_new();
	size_t offset = 0;

	g_byte_array_set_size(buf, sizeof(TPMT_SIGNATURE) + 16);
	g_assert_cmpint(Tss2_MU_TPMT_SIGNATURE_Marshal(sig, buf->data, buf->len, &offset), ==, 0);
	g_byte_array_set_size(buf, (guint)offset);
	return buf;
}

static void
test_signature(void)
{
	TPMT_SIGNATURE sig = {0};
	TPMT_SIGNATURE out;
	g_autoptr(GByteArray) rsa = NULL;
	g_autoptr(GByteArray) ecc = NULL;

	sig.sigAlg = TPM2_ALG_RSASSA;
	sig.signature.rsassa.hash = TPM2_ALG_SHA256;
	sig.signature.rsassa.sig.size = 256;
	memset(sig.signature.rsassa.sig.buffer, 0x5a, 256);
	rsa = marshal_signature(&sig);
	/* the fixture's quotesig.out: 0x0014, 0x000b, 256, sig */
	g_assert_cmpuint(rsa->len, ==, 262);
	{
		g_autoptr(GError) error = NULL;
		g_assert_true(kl_tpm_signature_unmarshal(rsa->data, rsa->len, &out, &error));
		g_assert_no_error(error);
		g_assert_cmpuint(out.sigAlg, ==, TPM2_ALG_RSASSA);
		g_assert_cmpuint(kl_tpm_signature_get_hash_alg(&out), ==, TPM2_ALG_SHA256);
		g_assert_cmpuint(out.signature.rsassa.sig.size, ==, 256);
	}
	for (guint len = 0; len < rsa->len; len++) {
		g_autoptr(GError) error = NULL;
		g_assert_false(kl_tpm_signature_unmarshal(rsa->data, len, &out, &error));
		g_assert_error(error, KL_TPM_ERROR, KL_TPM_ERROR_INVALID_DATA);
		g_assert_true(g_str_has_prefix(error->message, "TPMT_SIGNATURE."));
	}
	{
		g_autoptr(GError) error = NULL;
		rsa->data[4] = 0x02;
		rsa->data[5] = 0x01; /* 513 */
		g_assert_false(kl_tpm_signature_unmarshal(rsa->data, rsa->len, &out, &error));
		g_assert_cmpstr(error->message,
				==,
				"TPMT_SIGNATURE.signature.sig: size 513 exceeds 512");
	}

	memset(&sig, 0, sizeof(sig));
	sig.sigAlg = TPM2_ALG_ECDSA;
	sig.signature.ecdsa.hash = TPM2_ALG_SHA384;
	sig.signature.ecdsa.signatureR.size = 32;
	sig.signature.ecdsa.signatureS.size = 31;
	ecc = marshal_signature(&sig);
	{
		g_autoptr(GError) error = NULL;
		g_assert_true(kl_tpm_signature_unmarshal(ecc->data, ecc->len, &out, &error));
		g_assert_no_error(error);
		g_assert_cmpuint(kl_tpm_signature_get_hash_alg(&out), ==, TPM2_ALG_SHA384);
		g_assert_cmpuint(out.signature.ecdsa.signatureS.size, ==, 31);
	}
	{
		g_autoptr(GError) error = NULL;
		g_byte_array_append(ecc, (const guint8 *)"\0", 1);
		g_assert_false(kl_tpm_signature_unmarshal(ecc->data, ecc->len, &out, &error));
		g_assert_cmpstr(error->message, ==, "TPMT_SIGNATURE: 1 trailing bytes");
	}
	{
		g_autoptr(GError) error = NULL;
		const guint8 hmac[] = {0x00, 0x05, 0x00, 0x0b};
		g_assert_false(kl_tpm_signature_unmarshal(hmac, sizeof(hmac), &out, &error));
		g_assert_error(error, KL_TPM_ERROR, KL_TPM_ERROR_NOT_SUPPORTED);
		g_assert_cmpstr(error->message,
				==,
				"TPMT_SIGNATURE.sigAlg: unsupported algorithm 0x0005");
		g_assert_cmpuint(kl_tpm_signature_get_hash_alg(&out), ==, TPM2_ALG_NULL);
	}
}

/* TPM2B_PUBLIC */

static void
bn_to_buffer(EVP_PKEY *key, const gchar *param, guint8 *buf, gsize len)
{
	g_autoptr(BIGNUM) bn = NULL;
	g_assert_true(EVP_PKEY_get_bn_param(key, param, &bn));
	g_assert_cmpint(BN_bn2binpad(bn, buf, (int)len), ==, (int)len);
}

static void
rsa_template(EVP_PKEY *key, TPM2B_PUBLIC *pub)
{
	TPMT_PUBLIC *area = &pub->publicArea;

	memset(pub, 0, sizeof(*pub));
	area->type = TPM2_ALG_RSA;
	area->nameAlg = TPM2_ALG_SHA256;
	area->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
				 TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
				 TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
	area->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
	area->parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
	area->parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
	area->parameters.rsaDetail.keyBits = 2048;
	area->unique.rsa.size = 256;
	bn_to_buffer(key, OSSL_PKEY_PARAM_RSA_N, area->unique.rsa.buffer, 256);
}

static void
ecc_template(EVP_PKEY *key, TPMI_ECC_CURVE curve, gsize coord, TPM2B_PUBLIC *pub)
{
	TPMT_PUBLIC *area = &pub->publicArea;

	memset(pub, 0, sizeof(*pub));
	area->type = TPM2_ALG_ECC;
	area->nameAlg = TPM2_ALG_SHA256;
	area->objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_RESTRICTED;
	area->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
	area->parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
	area->parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
	area->parameters.eccDetail.curveID = curve;
	area->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	area->unique.ecc.x.size = (UINT16)coord;
	area->unique.ecc.y.size = (UINT16)coord;
	bn_to_buffer(key, OSSL_PKEY_PARAM_EC_PUB_X, area->unique.ecc.x.buffer, coord);
	bn_to_buffer(key, OSSL_PKEY_PARAM_EC_PUB_Y, area->unique.ecc.y.buffer, coord);
}

static GByteArray *
marshal_public(const TPM2B_PUBLIC *pub)
{
	GByteArray *buf = g_byte_array_new();
	size_t offset = 0;

	g_byte_array_set_size(buf, sizeof(TPM2B_PUBLIC) + 16);
	g_assert_cmpint(Tss2_MU_TPM2B_PUBLIC_Marshal(pub, buf->data, buf->len, &offset), ==, 0);
	g_byte_array_set_size(buf, (guint)offset);
	return buf;
}

static KlTpmPublic *
parse_public(GByteArray *buf, GError **error)
{
	return kl_tpm_public_new_from_data(buf->data, buf->len, error);
}

static void
test_public_rsa(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) key = kl_key_generate_rsa(2048, &error);
	g_autoptr(GByteArray) buf = NULL;
	g_autoptr(KlTpmPublic) pub = NULL;
	g_autoptr(GBytes) expected_name = NULL;
	g_autoptr(GByteArray) name = g_byte_array_new();
	TPM2B_PUBLIC tpl;

	g_assert_no_error(error);
	rsa_template(key, &tpl);
	buf = marshal_public(&tpl);
	pub = parse_public(buf, &error);
	g_assert_no_error(error);
	g_assert_nonnull(pub);
	/* exponent 0 is 65537 */
	g_assert_cmpint(EVP_PKEY_eq(kl_tpm_public_get_key(pub), key), ==, 1);
	g_assert_cmpuint(kl_tpm_public_get_area(pub)->parameters.rsaDetail.keyBits, ==, 2048);
	g_assert_true((kl_tpm_public_get_object_attributes(pub) & TPMA_OBJECT_RESTRICTED) != 0);
	g_assert_true((kl_tpm_public_get_object_attributes(pub) & TPMA_OBJECT_DECRYPT) == 0);

	/* Name = nameAlg || SHA256(TPMT_PUBLIC) */
	g_byte_array_append(name, (const guint8 *)"\x00\x0b", 2);
	expected_name = kl_crypto_digest_bytes("sha256", buf->data + 2, buf->len - 2, &error);
	g_assert_no_error(error);
	g_byte_array_append(name,
			    g_bytes_get_data(expected_name, NULL),
			    (guint)g_bytes_get_size(expected_name));
	g_assert_cmpmem(g_bytes_get_data(kl_tpm_public_get_name(pub), NULL),
			g_bytes_get_size(kl_tpm_public_get_name(pub)),
			name->data,
			name->len);

	/* an explicit 65537 is the same key under another Name */
	{
		g_autoptr(GByteArray) buf2 = NULL;
		g_autoptr(KlTpmPublic) pub2 = NULL;
		tpl.publicArea.parameters.rsaDetail.exponent = 65537;
		buf2 = marshal_public(&tpl);
		pub2 = parse_public(buf2, &error);
		g_assert_no_error(error);
		g_assert_cmpint(EVP_PKEY_eq(kl_tpm_public_get_key(pub2), key), ==, 1);
		g_assert_false(
			g_bytes_equal(kl_tpm_public_get_name(pub), kl_tpm_public_get_name(pub2)));
	}
	/* even exponent */
	{
		g_autoptr(GByteArray) buf2 = NULL;
		tpl.publicArea.parameters.rsaDetail.exponent = 65536;
		buf2 = marshal_public(&tpl);
		g_assert_null(parse_public(buf2, &error));
		g_assert_error(error, KL_TPM_ERROR, KL_TPM_ERROR_INVALID_DATA);
		g_clear_error(&error);
		tpl.publicArea.parameters.rsaDetail.exponent = 0;
	}
	/* keyBits that do not match the modulus */
	{
		g_autoptr(GByteArray) buf2 = NULL;
		tpl.publicArea.parameters.rsaDetail.keyBits = 3072;
		buf2 = marshal_public(&tpl);
		g_assert_null(parse_public(buf2, &error));
		g_assert_cmpstr(error->message,
				==,
				"TPMT_PUBLIC.unique.rsa: size 256 does not match keyBits 3072");
		g_clear_error(&error);
		tpl.publicArea.parameters.rsaDetail.keyBits = 2048;
	}
	/* an even modulus, and an odd one with the factor 5, are not RSA
	 * moduli */
	{
		g_autoptr(GByteArray) buf2 = NULL;
		guint8 saved = tpl.publicArea.unique.rsa.buffer[255];

		tpl.publicArea.unique.rsa.buffer[255] = (guint8)(saved & 0xfe);
		buf2 = marshal_public(&tpl);
		g_assert_null(parse_public(buf2, &error));
		g_assert_cmpstr(error->message,
				==,
				"TPMT_PUBLIC.unique.rsa: not a valid RSA modulus");
		g_clear_error(&error);
		tpl.publicArea.unique.rsa.buffer[255] = saved;
	}
	{
		g_autoptr(GByteArray) buf2 = NULL;
		g_autoptr(BIGNUM) n = BN_bin2bn(tpl.publicArea.unique.rsa.buffer, 256, NULL);
		guint8 saved[256];

		/* n - (n mod 5) is a multiple of 5; minus 5 more if it is even */
		memcpy(saved, tpl.publicArea.unique.rsa.buffer, sizeof(saved));
		g_assert_true(BN_sub_word(n, BN_mod_word(n, 5)));
		if (!BN_is_odd(n))
			g_assert_true(BN_sub_word(n, 5));
		g_assert_cmpint(BN_bn2binpad(n, tpl.publicArea.unique.rsa.buffer, 256), ==, 256);
		buf2 = marshal_public(&tpl);
		g_assert_null(parse_public(buf2, &error));
		g_assert_cmpstr(error->message,
				==,
				"TPMT_PUBLIC.unique.rsa: not a valid RSA modulus");
		g_clear_error(&error);
		memcpy(tpl.publicArea.unique.rsa.buffer, saved, sizeof(saved));
	}
	/* a modulus with its top byte zero is not 2048 bits */
	{
		g_autoptr(GByteArray) buf2 = NULL;
		tpl.publicArea.unique.rsa.buffer[0] = 0;
		buf2 = marshal_public(&tpl);
		g_assert_null(parse_public(buf2, &error));
		g_assert_error(error, KL_TPM_ERROR, KL_TPM_ERROR_INVALID_DATA);
		g_clear_error(&error);
	}
}

static void
test_public_hostile(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) key = kl_key_generate_rsa(2048, &error);
	g_autoptr(GByteArray) buf = NULL;
	TPM2B_PUBLIC tpl;

	g_assert_no_error(error);
	rsa_template(key, &tpl);
	buf = marshal_public(&tpl);
	for (guint len = 0; len < buf->len; len++) {
		g_autoptr(KlTpmPublic) pub = kl_tpm_public_new_from_data(buf->data, len, &error);
		g_assert_null(pub);
		g_assert_error(error, KL_TPM_ERROR, KL_TPM_ERROR_INVALID_DATA);
		g_assert_true(g_str_has_prefix(error->message, "TPM2B_PUBLIC"));
		g_clear_error(&error);
	}
	/* trailing byte */
	g_byte_array_append(buf, (const guint8 *)"\0", 1);
	g_assert_null(parse_public(buf, &error));
	g_assert_cmpstr(error->message, ==, "TPM2B_PUBLIC: 1 trailing bytes");
	g_clear_error(&error);
	/* an outer size that covers the trailing byte: the area is shorter */
	buf->data[1]++;
	g_assert_null(parse_public(buf, &error));
	g_assert_cmpstr(error->message,
			==,
			"TPM2B_PUBLIC.publicArea: 1 bytes left inside the TPM2B");
	g_clear_error(&error);
	/* the unique size beyond its 512-byte buffer */
	g_byte_array_set_size(buf, buf->len - 1);
	buf->data[1]--;
	buf->data[buf->len - 258] = 0x03;
	g_assert_null(parse_public(buf, &error));
	g_assert_error(error, KL_TPM_ERROR, KL_TPM_ERROR_INVALID_DATA);
	g_test_message("%s", error->message);
	g_clear_error(&error);
	/* a KEYEDHASH object is not an AK */
	{
		TPM2B_PUBLIC hmac = {0};
		g_autoptr(GByteArray) buf2 = NULL;
		hmac.publicArea.type = TPM2_ALG_KEYEDHASH;
		hmac.publicArea.nameAlg = TPM2_ALG_SHA256;
		hmac.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
		buf2 = marshal_public(&hmac);
		g_assert_null(parse_public(buf2, &error));
		g_assert_error(error, KL_TPM_ERROR, KL_TPM_ERROR_NOT_SUPPORTED);
		g_clear_error(&error);
	}
	/* an unknown nameAlg */
	{
		g_autoptr(GByteArray) buf2 = NULL;
		tpl.publicArea.nameAlg = TPM2_ALG_SHA3_256;
		buf2 = marshal_public(&tpl);
		g_assert_null(parse_public(buf2, &error));
		g_assert_error(error, KL_TPM_ERROR, KL_TPM_ERROR_NOT_SUPPORTED);
		g_clear_error(&error);
	}
}

static void
test_public_ecc(void)
{
	struct {
		const gchar *curve;
		TPMI_ECC_CURVE id;
		gsize coord;
	} curves[] = {
		{"P-256", TPM2_ECC_NIST_P256, 32},
		{"P-384", TPM2_ECC_NIST_P384, 48},
	};

	for (guint i = 0; i < G_N_ELEMENTS(curves); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(EVP_PKEY) key = kl_key_generate_ec(curves[i].curve, &error);
		g_autoptr(GByteArray) buf = NULL;
		g_autoptr(KlTpmPublic) pub = NULL;
		TPM2B_PUBLIC tpl;

		g_assert_no_error(error);
		ecc_template(key, curves[i].id, curves[i].coord, &tpl);
		buf = marshal_public(&tpl);
		pub = parse_public(buf, &error);
		g_assert_no_error(error);
		g_assert_cmpint(EVP_PKEY_eq(kl_tpm_public_get_key(pub), key), ==, 1);

		/* off the curve */
		{
			g_autoptr(GByteArray) bad = NULL;
			g_autoptr(KlTpmPublic) bad_pub = NULL;
			TPM2B_PUBLIC off = tpl;
			off.publicArea.unique.ecc.y.buffer[curves[i].coord - 1] ^= 1;
			bad = marshal_public(&off);
			bad_pub = parse_public(bad, &error);
			g_assert_null(bad_pub);
			g_assert_error(error, KL_TPM_ERROR, KL_TPM_ERROR_INVALID_DATA);
			g_assert_nonnull(strstr(error->message, curves[i].curve));
			g_test_message("%s", error->message);
			g_clear_error(&error);
		}
		/* a coordinate longer than the curve */
		{
			g_autoptr(GByteArray) bad = NULL;
			TPM2B_PUBLIC big = tpl;
			big.publicArea.unique.ecc.x.size = (UINT16)curves[i].coord + 1;
			bad = marshal_public(&big);
			g_assert_null(parse_public(bad, &error));
			g_assert_error(error, KL_TPM_ERROR, KL_TPM_ERROR_INVALID_DATA);
			g_clear_error(&error);
		}
		/* x = p is not a coordinate */
		if (curves[i].id == TPM2_ECC_NIST_P256) {
			g_autoptr(GByteArray) bad = NULL;
			g_autoptr(GBytes) p = kl_test_hex(
				"ffffffff00000001000000000000000000000000ffffffffffffffffffffffff");
			TPM2B_PUBLIC at_p = tpl;
			memcpy(at_p.publicArea.unique.ecc.x.buffer, g_bytes_get_data(p, NULL), 32);
			bad = marshal_public(&at_p);
			g_assert_null(parse_public(bad, &error));
			g_assert_error(error, KL_TPM_ERROR, KL_TPM_ERROR_INVALID_DATA);
			g_clear_error(&error);
		}
	}
	/* an unsupported curve */
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GByteArray) buf = NULL;
		TPM2B_PUBLIC tpl = {0};
		tpl.publicArea.type = TPM2_ALG_ECC;
		tpl.publicArea.nameAlg = TPM2_ALG_SHA256;
		tpl.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
		tpl.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
		tpl.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
		tpl.publicArea.parameters.eccDetail.curveID = TPM2_ECC_BN_P256;
		tpl.publicArea.unique.ecc.x.size = 32;
		tpl.publicArea.unique.ecc.y.size = 32;
		buf = marshal_public(&tpl);
		g_assert_null(parse_public(buf, &error));
		g_assert_error(error, KL_TPM_ERROR, KL_TPM_ERROR_NOT_SUPPORTED);
	}
}

/* pcrblob */

static GPtrArray *
fixture_banks(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) banks =
		g_ptr_array_new_with_free_func((GDestroyNotify)kl_pcr_bank_free);
	g_autoptr(GBytes) pcr16 = kl_test_hex(fixture_pcr16);
	guint8 zeros[32] = {0};
	guint8 ones[32];
	KlPcrBank *bank = kl_pcr_bank_new(TPM2_ALG_SHA256, &error);

	g_assert_no_error(error);
	memset(ones, 0xff, sizeof(ones));
	g_assert_true(kl_pcr_bank_set(bank, 15, zeros, 32, &error));
	g_assert_true(kl_pcr_bank_set(bank, 16, g_bytes_get_data(pcr16, NULL), 32, &error));
	g_assert_true(kl_pcr_bank_set(bank, 22, ones, 32, &error));
	g_assert_no_error(error);
	g_ptr_array_add(banks, bank);
	return g_steal_pointer(&banks);
}

static void
test_pcrblob_fixture(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) banks = fixture_banks();
	g_autoptr(GPtrArray) parsed = NULL;
	g_autoptr(GBytes) blob = kl_tpm_pcrblob_build(banks, &error);
	g_autoptr(GByteArray) concat = g_byte_array_new();
	g_autoptr(GBytes) digest = NULL;
	g_autofree gchar *digest_hex = NULL;
	g_autofree gchar *pcr16 = NULL;
	TPML_PCR_SELECTION selection;
	KlPcrBank *bank;

	g_assert_no_error(error);
	/* quotepcr.out is 668 bytes = 132 + 4 + 532 */
	g_assert_cmpuint(g_bytes_get_size(blob), ==, 668);
	g_assert_true(kl_tpm_pcrblob_parse(g_bytes_get_data(blob, NULL),
					   g_bytes_get_size(blob),
					   &selection,
					   &parsed,
					   &error));
	g_assert_no_error(error);
	g_assert_cmpuint(selection.count, ==, 1);
	g_assert_cmphex(kl_tpm_pcr_selection_get_mask(&selection.pcrSelections[0]), ==, 0x418000);
	g_assert_cmpuint(parsed->len, ==, 1);
	bank = g_ptr_array_index(parsed, 0);
	g_assert_cmpstr(kl_pcr_bank_get_hash_alg_string(bank), ==, "sha256");
	g_assert_cmpuint(kl_pcr_bank_get_count(bank), ==, 3);
	g_assert_cmphex(kl_pcr_bank_get_mask(bank), ==, 0x418000);
	pcr16 = kl_pcr_bank_get_hex(bank, 16);
	g_assert_cmpstr(pcr16, ==, fixture_pcr16);
	g_assert_false(kl_pcr_bank_has(bank, 0));
	g_assert_null(kl_pcr_bank_get_hex(bank, 0));
	g_assert_null(kl_pcr_bank_get(bank, 99));

	/* the fixture's pcrDigest is SHA256 of the values in order */
	for (guint pcr = 0; pcr < KL_TPM_PCR_COUNT; pcr++) {
		GBytes *value = kl_pcr_bank_get(bank, pcr);
		if (value != NULL)
			g_byte_array_append(concat,
					    g_bytes_get_data(value, NULL),
					    (guint)g_bytes_get_size(value));
	}
	digest = kl_crypto_digest_bytes("sha256", concat->data, concat->len, &error);
	g_assert_no_error(error);
	digest_hex = kl_crypto_hex_encode(g_bytes_get_data(digest, NULL), 32);
	g_assert_cmpstr(digest_hex, ==, fixture_digest);
}

/* 12 sha256 values and 2 sha1 values: two TPML_DIGESTs, selection order */
static void
test_pcrblob_many(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) banks =
		g_ptr_array_new_with_free_func((GDestroyNotify)kl_pcr_bank_free);
	g_autoptr(GPtrArray) parsed = NULL;
	g_autoptr(GBytes) blob = NULL;
	TPML_PCR_SELECTION selection;
	KlPcrBank *sha256 = kl_pcr_bank_new(TPM2_ALG_SHA256, &error);
	KlPcrBank *sha1 = kl_pcr_bank_new(TPM2_ALG_SHA1, &error);
	const guint8 *raw;

	g_assert_no_error(error);
	for (guint pcr = 0; pcr < 12; pcr++) {
		guint8 value[32];
		memset(value, (gint)pcr + 1, sizeof(value));
		g_assert_true(kl_pcr_bank_set(sha256, pcr, value, 32, &error));
	}
	{
		guint8 value[20];
		memset(value, 0xa1, sizeof(value));
		g_assert_true(kl_pcr_bank_set(sha1, 0, value, 20, &error));
		g_assert_true(kl_pcr_bank_set(sha1, 23, value, 20, &error));
		g_assert_false(kl_pcr_bank_set(sha1, 24, value, 20, &error));
		g_assert_error(error, KL_TPM_ERROR, KL_TPM_ERROR_INVALID_DATA);
		g_clear_error(&error);
		g_assert_false(kl_pcr_bank_set(sha1, 1, value, 19, &error));
		g_assert_error(error, KL_TPM_ERROR, KL_TPM_ERROR_INVALID_DATA);
		g_clear_error(&error);
	}
	g_ptr_array_add(banks, sha256);
	g_ptr_array_add(banks, sha1);
	blob = kl_tpm_pcrblob_build(banks, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(g_bytes_get_size(blob), ==, 136 + 2 * 532);
	raw = g_bytes_get_data(blob, NULL);
	g_assert_cmpuint(raw[136], ==, 8); /* first list full */
	g_assert_cmpuint(raw[136 + 532], ==, 6);
	g_assert_true(
		kl_tpm_pcrblob_parse(raw, g_bytes_get_size(blob), &selection, &parsed, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(parsed->len, ==, 2);
	g_assert_cmphex(kl_pcr_bank_get_mask(g_ptr_array_index(parsed, 0)), ==, 0xfff);
	g_assert_cmphex(kl_pcr_bank_get_mask(g_ptr_array_index(parsed, 1)), ==, 0x800001);
	for (guint pcr = 0; pcr < 12; pcr++) {
		GBytes *value = kl_pcr_bank_get(g_ptr_array_index(parsed, 0), pcr);
		g_assert_cmpuint(((const guint8 *)g_bytes_get_data(value, NULL))[0], ==, pcr + 1);
	}
	/* an empty selection is legal: no values, no lists */
	{
		g_autoptr(GPtrArray) none = g_ptr_array_new();
		g_autoptr(GBytes) empty = kl_tpm_pcrblob_build(none, &error);
		g_autoptr(GPtrArray) parsed_none = NULL;
		g_assert_cmpuint(g_bytes_get_size(empty), ==, 136);
		g_assert_true(kl_tpm_pcrblob_parse(g_bytes_get_data(empty, NULL),
						   136,
						   &selection,
						   &parsed_none,
						   &error));
		g_assert_cmpuint(parsed_none->len, ==, 0);
	}
}

static gboolean
parse_blob(GByteArray *blob, GError **error)
{
	g_autoptr(GPtrArray) banks = NULL;
	TPML_PCR_SELECTION selection;
	return kl_tpm_pcrblob_parse(blob->data, blob->len, &selection, &banks, error);
}

static GByteArray *
fixture_blob(void)
{
	g_autoptr(GPtrArray) banks = fixture_banks();
	g_autoptr(GBytes) blob = kl_tpm_pcrblob_build(banks, NULL);
	GByteArray *copy = g_byte_array_new();
	g_byte_array_append(copy, g_bytes_get_data(blob, NULL), (guint)g_bytes_get_size(blob));
	return copy;
}

static void
test_pcrblob_hostile(void)
{
	struct {
		guint offset;
		guint8 value;
		const gchar *message;
	} cases[] = {
		{0, 17, "pcrblob.pcrSelections.count: 17 exceeds 16"},
		{0, 2, "pcrblob.pcrSelections[1].hash: unknown algorithm 0x0000"},
		{6, 4, "pcrblob.pcrSelections[0].sizeofSelect: 4, expected 0 or 3"},
		{6, 0, "pcrblob: 0 PCRs selected but 3 values"},
		{4, 0x04, "pcrblob.pcrSelections[0].hash: 0x0404 selected twice"},
		{7, 0x01, "pcrblob: 4 PCRs selected but 3 values"},
		{132, 2, "pcrblob: 668 bytes, but 2 digest lists need 1200"},
		{136, 9, "pcrblob.digests[0].count: 9 exceeds 8"},
		{136, 2, "pcrblob: 3 PCRs selected but 2 values"},
		{140, 0, "pcrblob.digests[0].digests[0].size: 0 is not 1..64"},
		{140, 65, "pcrblob.digests[0].digests[0].size: 65 is not 1..64"},
		{140, 20, "pcrblob: PCR 15 (sha256): digest size 20, expected 32"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GByteArray) blob = fixture_blob();
		blob->data[cases[i].offset] = cases[i].value;
		if (cases[i].offset == 4) {
			/* a second selection with the same hash */
			blob->data[0] = 2;
			blob->data[12] = 0x0b;
			blob->data[4] = 0x0b;
		}
		g_assert_false(parse_blob(blob, &error));
		g_assert_error(error, KL_TPM_ERROR, KL_TPM_ERROR_INVALID_DATA);
		if (cases[i].offset == 4)
			g_assert_cmpstr(error->message,
					==,
					"pcrblob.pcrSelections[1].hash: 0x000b selected twice");
		else
			g_assert_cmpstr(error->message, ==, cases[i].message);
	}
	/* every truncation and one extra byte */
	{
		g_autoptr(GByteArray) blob = fixture_blob();
		for (guint len = 0; len < blob->len; len++) {
			g_autoptr(GError) error = NULL;
			g_autoptr(GPtrArray) banks = NULL;
			TPML_PCR_SELECTION selection;
			g_assert_false(
				kl_tpm_pcrblob_parse(blob->data, len, &selection, &banks, &error));
			g_assert_error(error, KL_TPM_ERROR, KL_TPM_ERROR_INVALID_DATA);
			g_assert_null(banks);
		}
		g_byte_array_append(blob, (const guint8 *)"\0", 1);
		{
			g_autoptr(GError) error = NULL;
			g_assert_false(parse_blob(blob, &error));
			g_assert_cmpstr(error->message,
					==,
					"pcrblob: 669 bytes, but 1 digest lists need 668");
		}
	}
	/* a huge list count cannot overflow the size check */
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GByteArray) blob = fixture_blob();
		memset(blob->data + 132, 0xff, 4);
		g_assert_false(parse_blob(blob, &error));
		g_assert_error(error, KL_TPM_ERROR, KL_TPM_ERROR_INVALID_DATA);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/tpm-types/alg-names", test_alg_names);
	g_test_add_func("/tpm-types/attest/fixture", test_attest_fixture);
	g_test_add_func("/tpm-types/attest/truncated", test_attest_truncated);
	g_test_add_func("/tpm-types/attest/hostile", test_attest_hostile);
	g_test_add_func("/tpm-types/attest/other-type", test_attest_other_type);
	g_test_add_func("/tpm-types/signature", test_signature);
	g_test_add_func("/tpm-types/public/rsa", test_public_rsa);
	g_test_add_func("/tpm-types/public/ecc", test_public_ecc);
	g_test_add_func("/tpm-types/public/hostile", test_public_hostile);
	g_test_add_func("/tpm-types/pcrblob/fixture", test_pcrblob_fixture);
	g_test_add_func("/tpm-types/pcrblob/many", test_pcrblob_many);
	g_test_add_func("/tpm-types/pcrblob/hostile", test_pcrblob_hostile);
	return g_test_run();
}
