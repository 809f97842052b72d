/*
 * kl-quote: quotes built in software from the spec §4.8 fixture numbers
 * and signed with OpenSSL keys (RSASSA, RSAPSS, ECDSA), then verified and
 * broken one check at a time; the quote string's syntax; the clock and
 * PCR 16 checks.  Quotes made by a TPM are in tests/tpm/kl-tpm-quote-test.c.
 */
#include "config.h"

#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include "kl-finding.h"
#include "kl-quote.h"
#include "kl-test-data.h"
#include "kl-x509.h"

/* spec §4.8: 20 raw bytes of nonce, PCRs 15, 16, 22 of sha256 */
static const gchar *fixture_nonce = "db1db298db6d60e6385b7231743e9c3056a18003";
static const gchar *fixture_pcr16 =
	"9dbb22387e019c04da95477333546082ce313152c4a7f8a6e1d5f0c77f4fb6f0";
static const gchar *fixture_digest =
	"ec1636c69c548fd09a165a4f874e5d1610a8fbe36241566017e92b17e144b971";

typedef struct {
	TPMS_ATTEST attest;
	GPtrArray *banks;
	gchar *nonce; /* the fixture's raw bytes as a C string: no NUL in them */
} QuoteParts;

static void
quote_parts_clear(QuoteParts *parts)
{
	g_clear_pointer(&parts->banks, g_ptr_array_unref);
	g_clear_pointer(&parts->nonce, g_free);
}

static void
quote_parts_init(QuoteParts *parts)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) nonce = kl_test_hex(fixture_nonce);
	g_autoptr(GBytes) digest = kl_test_hex(fixture_digest);
	g_autoptr(GBytes) pcr16 = kl_test_hex(fixture_pcr16);
	TPMS_PCR_SELECTION *sel = &parts->attest.attested.quote.pcrSelect.pcrSelections[0];
	guint8 zeros[32] = {0};
	guint8 ones[32];
	KlPcrBank *bank = kl_pcr_bank_new(TPM2_ALG_SHA256, &error);

	memset(parts, 0, sizeof(*parts));
	parts->attest.magic = TPM2_GENERATED_VALUE;
	parts->attest.type = TPM2_ST_ATTEST_QUOTE;
	parts->attest.qualifiedSigner.size = 34;
	parts->attest.extraData.size = 20;
	memcpy(parts->attest.extraData.buffer, g_bytes_get_data(nonce, NULL), 20);
	parts->attest.clockInfo.clock = 5994;
	parts->attest.clockInfo.safe = 1;
	parts->attest.attested.quote.pcrSelect.count = 1;
	sel->hash = TPM2_ALG_SHA256;
	sel->sizeofSelect = 3;
	sel->pcrSelect[1] = 0x80;
	sel->pcrSelect[2] = 0x41;
	parts->attest.attested.quote.pcrDigest.size = 32;
	memcpy(parts->attest.attested.quote.pcrDigest.buffer, g_bytes_get_data(digest, NULL), 32);
	parts->nonce = g_strndup(g_bytes_get_data(nonce, NULL), 20);
	g_assert_cmpuint(strlen(parts->nonce), ==, 20);

	memset(ones, 0xff, sizeof(ones));
	g_assert_true(kl_pcr_bank_set(bank, 15, zeros, 32, &error));
	g_assert_true(kl_pcr_bank_set(bank, 16, g_bytes_get_data(pcr16, NULL), 32, &error));
	g_assert_true(kl_pcr_bank_set(bank, 22, ones, 32, &error));
	g_assert_no_error(error);
	parts->banks = g_ptr_array_new_with_free_func((GDestroyNotify)kl_pcr_bank_free);
	g_ptr_array_add(parts->banks, bank);
}

static GBytes *
marshal_attest(const TPMS_ATTEST *attest)
{
	guint8 buf[sizeof(TPMS_ATTEST)];
	size_t offset = 0;
	g_assert_cmpint(Tss2_MU_TPMS_ATTEST_Marshal(attest, buf, sizeof(buf), &offset), ==, 0);
	return g_bytes_new(buf, offset);
}

/* What a TPM does: sign H(attest) with the scheme. */
static GBytes *
sign_attest(EVP_PKEY *key, TPM2_ALG_ID scheme, const gchar *hash, GBytes *attest)
{
	const EVP_MD *md = kl_crypto_get_md(hash, NULL);
	g_autoptr(EVP_PKEY_CTX) ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	TPMT_SIGNATURE sig = {0};
	guint8 digest[EVP_MAX_MD_SIZE];
	guint8 raw[1024];
	guint8 out[sizeof(TPMT_SIGNATURE)];
	gsize raw_len = sizeof(raw);
	guint digest_len = 0;
	size_t offset = 0;
	TPM2_ALG_ID hash_alg = 0;

	g_assert_nonnull(md);
	g_assert_true(kl_tpm_hash_alg_from_string(hash, &hash_alg));
	g_assert_cmpint(EVP_Digest(g_bytes_get_data(attest, NULL),
				   g_bytes_get_size(attest),
				   digest,
				   &digest_len,
				   md,
				   NULL),
			==,
			1);
	g_assert_cmpint(EVP_PKEY_sign_init(ctx), ==, 1);
	g_assert_cmpint(EVP_PKEY_CTX_set_signature_md(ctx, md), ==, 1);
	if (scheme == TPM2_ALG_RSAPSS) {
		g_assert_cmpint(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING), ==, 1);
		g_assert_cmpint(EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST),
				==,
				1);
	} else if (scheme == TPM2_ALG_RSASSA) {
		g_assert_cmpint(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), ==, 1);
	}
	g_assert_cmpint(EVP_PKEY_sign(ctx, raw, &raw_len, digest, digest_len), ==, 1);

	sig.sigAlg = scheme;
	if (scheme == TPM2_ALG_ECDSA) {
		const guint8 *p = raw;
		ECDSA_SIG *ecdsa = d2i_ECDSA_SIG(NULL, &p, (long)raw_len);
		gint coord = (EVP_PKEY_get_bits(key) + 7) / 8;
		g_assert_nonnull(ecdsa);
		sig.signature.ecdsa.hash = hash_alg;
		sig.signature.ecdsa.signatureR.size = (UINT16)coord;
		sig.signature.ecdsa.signatureS.size = (UINT16)coord;
		BN_bn2binpad(ECDSA_SIG_get0_r(ecdsa), sig.signature.ecdsa.signatureR.buffer, coord);
		BN_bn2binpad(ECDSA_SIG_get0_s(ecdsa), sig.signature.ecdsa.signatureS.buffer, coord);
		ECDSA_SIG_free(ecdsa);
	} else {
		sig.signature.rsassa.hash = hash_alg;
		sig.signature.rsassa.sig.size = (UINT16)raw_len;
		memcpy(sig.signature.rsassa.sig.buffer, raw, raw_len);
	}
	g_assert_cmpint(Tss2_MU_TPMT_SIGNATURE_Marshal(&sig, out, sizeof(out), &offset), ==, 0);
	return g_bytes_new(out, offset);
}

static KlQuote *
make_quote(QuoteParts *parts, EVP_PKEY *key, TPM2_ALG_ID scheme, const gchar *hash)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) attest = marshal_attest(&parts->attest);
	g_autoptr(GBytes) sig = sign_attest(key, scheme, hash, attest);
	g_autoptr(GBytes) pcrblob = kl_tpm_pcrblob_build(parts->banks, &error);
	g_autofree gchar *text = NULL;
	KlQuote *quote;

	g_assert_no_error(error);
	text = kl_quote_encode(attest, sig, pcrblob);
	quote = kl_quote_new_from_string(text, &error);
	g_assert_no_error(error);
	g_assert_nonnull(quote);
	return quote;
}

/* Verifies and returns the subject of the one finding, or NULL if valid. */
static gchar *
verify(KlQuote *quote,
       EVP_PKEY *key,
       const gchar *nonce,
       const gchar *hash,
       KlQuoteVerifyFlags flags)
{
	g_autoptr(GPtrArray) findings = kl_findings_new();
	g_autoptr(KlQuoteKey) ak = kl_quote_key_new(key);
	KlFinding *finding;

	if (kl_quote_verify(quote, ak, nonce, hash, flags, findings)) {
		g_assert_cmpuint(findings->len, ==, 0);
		return NULL;
	}
	g_assert_cmpuint(findings->len, ==, 1);
	finding = g_ptr_array_index(findings, 0);
	g_assert_cmpstr(finding->event_id, ==, "qoute_validation.quote_validation");
	g_assert_true(finding->irrecoverable);
	g_test_message("%s: %s", finding->subject, finding->reason);
	return g_strdup(finding->subject);
}

#define assert_verify(quote, key, nonce, hash, flags, expected)                      \
	G_STMT_START                                                                 \
	{                                                                            \
		g_autofree gchar *_subject = verify(quote, key, nonce, hash, flags); \
		g_assert_cmpstr(_subject, ==, expected);                             \
	}                                                                            \
	G_STMT_END

static void
test_verify_rsassa(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) key = kl_key_generate_rsa(2048, &error);
	g_autoptr(EVP_PKEY) other = kl_key_generate_rsa(2048, &error);
	g_autoptr(KlQuote) quote = NULL;
	g_autofree gchar *b64_nonce = NULL;
	QuoteParts parts;
	KlQuoteClockInfo clock;
	KlPcrBank *bank;

	g_assert_no_error(error);
	quote_parts_init(&parts);
	quote = make_quote(&parts, key, TPM2_ALG_RSASSA, "sha256");
	assert_verify(quote, key, parts.nonce, "sha256", KL_QUOTE_VERIFY_FLAG_NONE, NULL);
	/* push mode sends the nonce base64-encoded */
	b64_nonce = g_base64_encode(kl_quote_get_attest(quote)->extraData.buffer, 20);
	assert_verify(quote, key, b64_nonce, "sha256", KL_QUOTE_VERIFY_FLAG_NONE, NULL);

	kl_quote_get_clock_info(quote, &clock);
	g_assert_cmpuint(clock.clock, ==, 5994);
	g_assert_cmpuint(clock.reset_count, ==, 0);
	g_assert_true(clock.safe);
	bank = kl_quote_get_pcr_bank(quote, "sha256");
	g_assert_nonnull(bank);
	g_assert_cmphex(kl_pcr_bank_get_mask(bank), ==, 0x418000);
	g_assert_null(kl_quote_get_pcr_bank(quote, "sha1"));
	g_assert_null(kl_quote_get_pcr_bank(quote, "bogus"));
	g_assert_cmpuint(kl_quote_get_pcr_banks(quote)->len, ==, 1);
	g_assert_cmpuint(kl_quote_get_signature(quote)->sigAlg, ==, TPM2_ALG_RSASSA);

	assert_verify(quote, key, "another nonce", "sha256", 0, KL_QUOTE_CHECK_NONCE);
	assert_verify(quote, key, "", "sha256", 0, KL_QUOTE_CHECK_NONCE);
	assert_verify(quote, other, parts.nonce, "sha256", 0, KL_QUOTE_CHECK_SIGNATURE);
	assert_verify(quote, key, parts.nonce, "sha384", 0, KL_QUOTE_CHECK_HASH_ALG);
	assert_verify(quote, key, parts.nonce, "md5", 0, KL_QUOTE_CHECK_HASH_ALG);
	quote_parts_clear(&parts);
}

/* Each attested field wrong, re-signed so that only that check fails. */
static void
test_verify_attested_fields(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) key = kl_key_generate_rsa(2048, &error);
	QuoteParts parts;

	g_assert_no_error(error);
	{
		g_autoptr(KlQuote) quote = NULL;
		quote_parts_init(&parts);
		parts.attest.magic = 0xff544348;
		quote = make_quote(&parts, key, TPM2_ALG_RSASSA, "sha256");
		assert_verify(quote, key, parts.nonce, "sha256", 0, KL_QUOTE_CHECK_MAGIC);
		quote_parts_clear(&parts);
	}
	{
		g_autoptr(KlQuote) quote = NULL;
		quote_parts_init(&parts);
		parts.attest.type = TPM2_ST_ATTEST_TIME;
		memset(&parts.attest.attested, 0, sizeof(parts.attest.attested));
		quote = make_quote(&parts, key, TPM2_ALG_RSASSA, "sha256");
		assert_verify(quote, key, parts.nonce, "sha256", 0, KL_QUOTE_CHECK_TYPE);
		quote_parts_clear(&parts);
	}
	{
		g_autoptr(KlQuote) quote = NULL;
		quote_parts_init(&parts);
		parts.attest.attested.quote.pcrSelect.pcrSelections[0].pcrSelect[0] = 0x01;
		quote = make_quote(&parts, key, TPM2_ALG_RSASSA, "sha256");
		assert_verify(quote, key, parts.nonce, "sha256", 0, KL_QUOTE_CHECK_PCR_SELECTION);
		quote_parts_clear(&parts);
	}
	{
		/* the quoted bank differs from the pcrblob's */
		g_autoptr(KlQuote) quote = NULL;
		quote_parts_init(&parts);
		parts.attest.attested.quote.pcrSelect.pcrSelections[0].hash = TPM2_ALG_SHA1;
		quote = make_quote(&parts, key, TPM2_ALG_RSASSA, "sha256");
		assert_verify(quote, key, parts.nonce, "sha256", 0, KL_QUOTE_CHECK_PCR_SELECTION);
		quote_parts_clear(&parts);
	}
	{
		/* a PCR value in the pcrblob changed */
		g_autoptr(KlQuote) quote = NULL;
		guint8 value[32] = {1};
		quote_parts_init(&parts);
		g_assert_true(
			kl_pcr_bank_set(g_ptr_array_index(parts.banks, 0), 22, value, 32, NULL));
		quote = make_quote(&parts, key, TPM2_ALG_RSASSA, "sha256");
		assert_verify(quote, key, parts.nonce, "sha256", 0, KL_QUOTE_CHECK_PCR_DIGEST);
		quote_parts_clear(&parts);
	}
	{
		/* signed with sha384: the pcrDigest must be sha384 too */
		g_autoptr(KlQuote) quote = NULL;
		quote_parts_init(&parts);
		quote = make_quote(&parts, key, TPM2_ALG_RSASSA, "sha384");
		assert_verify(quote, key, parts.nonce, "sha384", 0, KL_QUOTE_CHECK_PCR_DIGEST);
		quote_parts_clear(&parts);
	}
}

static void
test_verify_rsapss(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) key = kl_key_generate_rsa(2048, &error);
	g_autoptr(KlQuote) quote = NULL;
	g_autoptr(KlQuote) rsassa = NULL;
	QuoteParts parts;

	g_assert_no_error(error);
	quote_parts_init(&parts);
	quote = make_quote(&parts, key, TPM2_ALG_RSAPSS, "sha256");
	/* upstream's default rejects RSAPSS; the caller may accept it */
	assert_verify(quote, key, parts.nonce, "sha256", 0, KL_QUOTE_CHECK_SIGNATURE_SCHEME);
	assert_verify(quote, key, parts.nonce, "sha256", KL_QUOTE_VERIFY_FLAG_ALLOW_RSAPSS, NULL);
	/* a PKCS#1 v1.5 signature relabelled as PSS does not verify */
	rsassa = make_quote(&parts, key, TPM2_ALG_RSASSA, "sha256");
	((TPMT_SIGNATURE *)kl_quote_get_signature(rsassa))->sigAlg = TPM2_ALG_RSAPSS;
	assert_verify(rsassa,
		      key,
		      parts.nonce,
		      "sha256",
		      KL_QUOTE_VERIFY_FLAG_ALLOW_RSAPSS,
		      KL_QUOTE_CHECK_SIGNATURE);
	quote_parts_clear(&parts);
}

static void
test_verify_ecdsa(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) key = kl_key_generate_ec("P-256", &error);
	g_autoptr(EVP_PKEY) rsa = kl_key_generate_rsa(2048, &error);
	g_autoptr(KlQuote) quote = NULL;
	g_autoptr(KlQuote) rsa_quote = NULL;
	TPMT_SIGNATURE *sig;
	QuoteParts parts;

	g_assert_no_error(error);
	quote_parts_init(&parts);
	quote = make_quote(&parts, key, TPM2_ALG_ECDSA, "sha256");
	assert_verify(quote, key, parts.nonce, "sha256", 0, NULL);
	/* an ECDSA signature from what the verifier knows as an RSA AK */
	assert_verify(quote, rsa, parts.nonce, "sha256", 0, KL_QUOTE_CHECK_SIGNATURE_SCHEME);
	rsa_quote = make_quote(&parts, rsa, TPM2_ALG_RSASSA, "sha256");
	assert_verify(rsa_quote, key, parts.nonce, "sha256", 0, KL_QUOTE_CHECK_SIGNATURE_SCHEME);

	sig = (TPMT_SIGNATURE *)kl_quote_get_signature(quote);
	sig->signature.ecdsa.signatureS.buffer[5] ^= 0x10;
	assert_verify(quote, key, parts.nonce, "sha256", 0, KL_QUOTE_CHECK_SIGNATURE);
	sig->signature.ecdsa.signatureS.buffer[5] ^= 0x10;
	/* r longer than the curve */
	sig->signature.ecdsa.signatureR.size = 33;
	assert_verify(quote, key, parts.nonce, "sha256", 0, KL_QUOTE_CHECK_SIGNATURE);
	sig->signature.ecdsa.signatureR.size = 0;
	assert_verify(quote, key, parts.nonce, "sha256", 0, KL_QUOTE_CHECK_SIGNATURE);
	sig->signature.ecdsa.signatureR.size = 32;
	assert_verify(quote, key, parts.nonce, "sha256", 0, NULL);
	sig->sigAlg = TPM2_ALG_ECSCHNORR;
	assert_verify(quote, key, parts.nonce, "sha256", 0, KL_QUOTE_CHECK_SIGNATURE_SCHEME);
	quote_parts_clear(&parts);
}

static void
test_parse_errors(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) key = kl_key_generate_rsa(2048, &error);
	g_autoptr(KlQuote) good = NULL;
	g_autoptr(GBytes) attest = NULL;
	g_autoptr(GBytes) sig = NULL;
	g_autoptr(GBytes) pcrblob = NULL;
	g_autofree gchar *text = NULL;
	g_auto(GStrv) tokens = NULL;
	QuoteParts parts;
	const gchar *bad[] = {
		"",
		"r",
		"r:",
		"r::",
		":::",
		"xAAAA:AAAA:AAAA",
	};

	g_assert_no_error(error);
	quote_parts_init(&parts);
	attest = marshal_attest(&parts.attest);
	sig = sign_attest(key, TPM2_ALG_RSASSA, "sha256", attest);
	pcrblob = kl_tpm_pcrblob_build(parts.banks, NULL);
	text = kl_quote_encode(attest, sig, pcrblob);
	good = kl_quote_new_from_string(text, &error);
	g_assert_no_error(error);

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(KlQuote) quote = kl_quote_new_from_string(bad[i], &error);
		g_assert_null(quote);
		g_assert_error(error, KL_TPM_ERROR, KL_TPM_ERROR_INVALID_DATA);
		g_test_message("'%s': %s", bad[i], error->message);
		g_clear_error(&error);
	}

	tokens = g_strsplit(text + 1, ":", -1);
	g_assert_cmpuint(g_strv_length(tokens), ==, 3);
	{
		/* a fourth part, a missing part, a space, '-' (base64url) */
		g_autofree gchar *four = g_strdup_printf("%s:AAAA", text);
		g_autofree gchar *two = g_strdup_printf("r%s:%s", tokens[0], tokens[1]);
		g_autofree gchar *space =
			g_strdup_printf("r%s :%s:%s", tokens[0], tokens[1], tokens[2]);
		g_autofree gchar *dash =
			g_strdup_printf("r-%s:%s:%s", tokens[0] + 1, tokens[1], tokens[2]);
		g_autofree gchar *attest_nopad = g_strndup(tokens[0], strlen(tokens[0]) - 1);
		g_autofree gchar *nopad =
			g_strdup_printf("r%s:%s:%s", attest_nopad, tokens[1], tokens[2]);
		const gchar *cases[] = {four, two, space, dash};
		const gchar *expected[] = {
			"quote: more than 3 parts",
			"quote: 2 parts, expected attest:signature:pcrblob",
			"quote attest: invalid base64 character at offset",
			"quote attest: invalid base64 character at offset 0",
		};
		for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
			g_autoptr(KlQuote) quote = kl_quote_new_from_string(cases[i], &error);
			g_assert_null(quote);
			g_assert_error(error, KL_TPM_ERROR, KL_TPM_ERROR_INVALID_DATA);
			g_assert_true(g_str_has_prefix(error->message, expected[i]));
			g_clear_error(&error);
		}
		/* drop padding: the attest is 133 bytes, its base64 ends in '=' */
		g_assert_true(g_str_has_suffix(tokens[0], "="));
		g_assert_null(kl_quote_new_from_string(nopad, &error));
		g_assert_error(error, KL_TPM_ERROR, KL_TPM_ERROR_INVALID_DATA);
		g_assert_cmpstr(error->message, ==, "quote attest: invalid base64 length 179");
		g_clear_error(&error);
	}
	/* each part truncated by 4 base64 characters (3 bytes) */
	for (guint part = 0; part < 3; part++) {
		g_autofree gchar *cut = g_strndup(tokens[part], strlen(tokens[part]) - 4);
		g_autofree gchar *quote_text = g_strdup_printf("r%s:%s:%s",
							       part == 0 ? cut : tokens[0],
							       part == 1 ? cut : tokens[1],
							       part == 2 ? cut : tokens[2]);
		const gchar *prefixes[] = {"TPMS_ATTEST", "TPMT_SIGNATURE", "pcrblob"};
		g_autoptr(KlQuote) quote = kl_quote_new_from_string(quote_text, &error);
		g_assert_null(quote);
		g_assert_error(error, KL_TPM_ERROR, KL_TPM_ERROR_INVALID_DATA);
		g_assert_true(g_str_has_prefix(error->message, prefixes[part]));
		g_test_message("part %u truncated: %s", part, error->message);
		g_clear_error(&error);
	}
	/* too long */
	{
		g_autofree gchar *huge = g_malloc(KL_QUOTE_MAX_LENGTH + 2);
		memset(huge, 'A', KL_QUOTE_MAX_LENGTH + 1);
		huge[0] = 'r';
		huge[KL_QUOTE_MAX_LENGTH + 1] = '\0';
		g_assert_null(kl_quote_new_from_string(huge, &error));
		g_assert_error(error, KL_TPM_ERROR, KL_TPM_ERROR_INVALID_DATA);
		g_clear_error(&error);
	}
	quote_parts_clear(&parts);
}

static gchar *
check_clock(const KlQuoteClockInfo *previous, const KlQuoteClockInfo *current)
{
	g_autoptr(GPtrArray) findings = kl_findings_new();
	KlFinding *finding;

	if (kl_quote_check_clock(previous, current, findings)) {
		g_assert_cmpuint(findings->len, ==, 0);
		return NULL;
	}
	g_assert_cmpuint(findings->len, ==, 1);
	finding = g_ptr_array_index(findings, 0);
	g_assert_cmpstr(finding->event_id, ==, "qoute_validation.quote_validation");
	g_assert_cmpstr(finding->subject, ==, KL_QUOTE_CHECK_CLOCK);
	g_assert_true(finding->irrecoverable);
	return g_strdup(finding->reason);
}

static void
test_clock(void)
{
	KlQuoteClockInfo initial;
	KlQuoteClockInfo prev = {1000, 2, 3, TRUE};
	struct {
		KlQuoteClockInfo current;
		const gchar *reason;
	} cases[] = {
		{{1001, 2, 3, TRUE}, NULL},
		{{1000, 2, 3, TRUE}, "clock went from 1000 to 1000"},
		{{999, 2, 3, TRUE}, "clock went from 1000 to 999"},
		{{5000, 1, 3, TRUE}, "resetCount decreased from 2 to 1"},
		{{5000, 2, 2, TRUE}, "restartCount decreased from 3 to 2"},
		{{5000, 2, 3, FALSE}, "clock is not safe: it may have been reported before"},
		/* a restart alone: the clock must still move on */
		{{1001, 2, 4, TRUE}, NULL},
		{{999, 2, 4, TRUE}, "clock went from 1000 to 999"},
		/* a TPM Reset sets restartCount to 0; with both changed the
	     * clock may be behind */
		{{999, 3, 0, TRUE}, NULL},
		{{1001, 3, 3, TRUE}, NULL},
		{{999, 3, 3, TRUE}, "clock went from 1000 to 999"},
	};

	kl_quote_clock_info_init(&initial);
	g_assert_cmpuint(initial.clock, ==, 0);
	g_assert_true(initial.safe);
	{
		KlQuoteClockInfo first = {5994, 0, 0, TRUE};
		g_autofree gchar *reason = check_clock(&initial, &first);
		g_assert_null(reason);
	}
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *reason = check_clock(&prev, &cases[i].current);
		g_assert_cmpstr(reason, ==, cases[i].reason);
	}
}

static void
test_pcr16(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) nk = kl_key_generate_rsa(2048, &error);
	g_autofree gchar *pem = kl_key_to_pem_public(nk, &error);
	const gchar *algs[] = {"sha1", "sha256", "sha384"};

	g_assert_no_error(error);
	for (guint i = 0; i < G_N_ELEMENTS(algs); i++) {
		TPM2_ALG_ID alg = 0;
		g_autoptr(KlPcrBank) bank = NULL;
		g_autoptr(GPtrArray) findings = kl_findings_new();
		g_autoptr(GByteArray) extend = g_byte_array_new();
		g_autoptr(GBytes) h_pem = NULL;
		g_autoptr(GBytes) value = NULL;
		KlFinding *finding;
		gsize size;

		g_assert_true(kl_tpm_hash_alg_from_string(algs[i], &alg));
		bank = kl_pcr_bank_new(alg, &error);
		size = kl_pcr_bank_get_digest_size(bank);

		g_assert_false(kl_quote_check_pcr16(bank, pem, findings));
		finding = g_ptr_array_index(findings, 0);
		g_assert_cmpstr(finding->event_id, ==, "pcr_validation.missing_pcr_16");

		/* the extend the agent does after PCR_Reset(16) */
		g_byte_array_set_size(extend, (guint)size);
		memset(extend->data, 0, size);
		h_pem = kl_crypto_digest_bytes(algs[i], (const guint8 *)pem, strlen(pem), &error);
		g_byte_array_append(extend, g_bytes_get_data(h_pem, NULL), (guint)size);
		value = kl_crypto_digest_bytes(algs[i], extend->data, extend->len, &error);
		g_assert_no_error(error);
		g_assert_true(
			kl_pcr_bank_set(bank, 16, g_bytes_get_data(value, NULL), size, &error));
		g_assert_true(kl_quote_check_pcr16(bank, pem, findings));
		g_assert_cmpuint(findings->len, ==, 1);

		/* another NK */
		g_assert_false(
			kl_quote_check_pcr16(bank, "-----BEGIN PUBLIC KEY-----\n", findings));
		g_assert_cmpuint(findings->len, ==, 2);
		finding = g_ptr_array_index(findings, 1);
		g_assert_cmpstr(finding->event_id, ==, "pcr_validation.invalid_pcr_16");
		g_assert_nonnull(strstr(finding->context_json, "\"got\""));
		g_assert_nonnull(strstr(finding->context_json, "\"expected\""));
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/quote/verify/rsassa", test_verify_rsassa);
	g_test_add_func("/quote/verify/attested-fields", test_verify_attested_fields);
	g_test_add_func("/quote/verify/rsapss", test_verify_rsapss);
	g_test_add_func("/quote/verify/ecdsa", test_verify_ecdsa);
	g_test_add_func("/quote/parse-errors", test_parse_errors);
	g_test_add_func("/quote/clock", test_clock);
	g_test_add_func("/quote/pcr16", test_pcr16);
	return g_test_run();
}
