/*
 * The tpm suite's quote checks: AKs created under the EK of a fixture
 * swtpm over ESYS (RSA-2048 with RSASSA and each hash, RSAPSS, ECC P-256
 * ECDSA), quotes made as the agent makes them (PCR 16 reset and extended
 * with H(NK PEM)), encoded as Keylime sends them, then verified by
 * kl-quote — genuine ones pass, altered ones fail with the right check.
 *
 * swtpm's only active bank is sha256, so a quote signed with sha1, sha384
 * or sha512 still covers sha256 PCRs: its pcrDigest is H_sig(sha256
 * values).  The tests show both sides of that.
 *
 * With KL_TEST_WRITE_FUZZ_SEEDS=DIR the RSA and ECC quotes and AK
 * publics are written to DIR/quote and DIR/tpm2b-public (the fuzz seeds).
 */
#include "config.h"

#include <tss2/tss2_mu.h>

#include <gio/gio.h>

#include "kl-finding.h"
#include "kl-quote.h"
#include "kl-test-tpm.h"
#include "kl-tpm-policy.h"
#include "kl-x509.h"

/* PCRs 15, 16, 22: the fixture's selection */
#define TEST_MASK 0x418000u
/* 0..9, 15, 16, 22: 13 values, two TPML_DIGESTs */
#define TEST_MASK_MANY 0x4183ffu

/* the fuzz target's fixed nonce */
#define TEST_SEED_NONCE "kl-fuzz-nonce-000001"

static KlTestTpm *
tpm_new(void)
{
	g_autoptr(GError) error = NULL;
	KlTestTpm *tpm = kl_test_tpm_new_fixture(&error);

	g_assert_no_error(error);
	g_assert_nonnull(tpm);
	return tpm;
}

/* An AK under the EK, checked against what the TPM says about it. */
static KlTestTpmAk *
ak_new(KlTestTpm *tpm, TPM2_ALG_ID type, TPM2_ALG_ID scheme, TPM2_ALG_ID hash, gboolean load)
{
	g_autoptr(GError) error = NULL;
	KlTestTpmAk *ak = kl_test_tpm_create_ak(tpm, type, scheme, hash, load, &error);

	g_assert_no_error(error);
	g_assert_nonnull(ak);
	g_assert_nonnull(ak->pub);
	g_assert_cmpint(EVP_PKEY_get_base_id(kl_tpm_public_get_key(ak->pub)),
			==,
			type == TPM2_ALG_RSA ? EVP_PKEY_RSA : EVP_PKEY_EC);
	g_assert_cmpuint(kl_tpm_public_get_object_attributes(ak->pub) &
				 (TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT),
			 ==,
			 TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT);
	if (load) {
		/* our Name is the TPM's */
		g_autoptr(GBytes) name = kl_test_tpm_get_name(tpm, ak->handle, &error);
		g_assert_no_error(error);
		g_assert_cmpmem(g_bytes_get_data(kl_tpm_public_get_name(ak->pub), NULL),
				g_bytes_get_size(kl_tpm_public_get_name(ak->pub)),
				g_bytes_get_data(name, NULL),
				g_bytes_get_size(name));
	}
	return ak;
}

static void
ak_unload(KlTestTpm *tpm, KlTestTpmAk *ak)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(kl_test_tpm_unload_ak(tpm, ak, &error));
	g_assert_no_error(error);
}

static GBytes *
sha256(const gchar *text)
{
	g_autoptr(GError) error = NULL;
	GBytes *digest =
		kl_crypto_digest_bytes("sha256", (const guint8 *)text, strlen(text), &error);
	g_assert_no_error(error);
	return digest;
}

static void
pcr_extend(KlTestTpm *tpm, guint pcr, GBytes *digest)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(kl_test_tpm_extend(tpm, pcr, TPM2_ALG_SHA256, digest, &error));
	g_assert_no_error(error);
}

/* The agent's NK binding: PCR_Reset(16), PCR_Extend(16, H(pem)). */
static void
bind_nk(KlTestTpm *tpm, const gchar *pem)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) digest = sha256(pem);

	g_assert_true(kl_test_tpm_reset(tpm, 16, &error));
	g_assert_no_error(error);
	pcr_extend(tpm, 16, digest);
}

static KlPcrBank *
read_pcrs(KlTestTpm *tpm, guint32 mask)
{
	g_autoptr(GError) error = NULL;
	KlPcrBank *bank = kl_test_tpm_read_pcrs(tpm, mask, TPM2_ALG_SHA256, &error);

	g_assert_no_error(error);
	g_assert_nonnull(bank);
	return bank;
}

static KlTestTpmQuote *
make_raw_quote(KlTestTpm *tpm, KlTestTpmAk *ak, const gchar *nonce, guint32 mask)
{
	g_autoptr(GError) error = NULL;
	KlTestTpmQuote *raw = kl_test_tpm_quote_raw(tpm, ak, nonce, mask, TPM2_ALG_SHA256, &error);

	g_assert_no_error(error);
	g_assert_nonnull(raw);
	return raw;
}

static gchar *
encode(GBytes *attest, GBytes *sig, GPtrArray *banks)
{
	g_autoptr(GError) error = NULL;
	gchar *text = kl_test_tpm_quote_encode(attest, sig, banks, &error);

	g_assert_no_error(error);
	g_assert_nonnull(text);
	return text;
}

static gchar *
make_quote(KlTestTpm *tpm, KlTestTpmAk *ak, const gchar *nonce, guint32 mask)
{
	g_autoptr(GError) error = NULL;
	gchar *text = kl_test_tpm_quote(tpm, ak, nonce, mask, TPM2_ALG_SHA256, &error);

	g_assert_no_error(error);
	g_assert_nonnull(text);
	return text;
}

/* Parses and verifies; the subject of the one finding, or NULL if valid. */
static gchar *
verify(const gchar *text,
       EVP_PKEY *key,
       const gchar *nonce,
       const gchar *hash,
       KlQuoteVerifyFlags flags)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlQuote) quote = kl_quote_new_from_string(text, &error);
	g_autoptr(GPtrArray) findings = kl_findings_new();
	g_autoptr(KlQuoteKey) ak = kl_quote_key_new(key);
	KlFinding *finding;

	g_assert_no_error(error);
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

#define assert_verify(text, key, nonce, hash, flags, expected)                      \
	G_STMT_START                                                                \
	{                                                                           \
		g_autofree gchar *_subject = verify(text, key, nonce, hash, flags); \
		g_assert_cmpstr(_subject, ==, expected);                            \
	}                                                                           \
	G_STMT_END

static void
write_seed(const gchar *kind, const gchar *name, gconstpointer data, gsize len)
{
	g_autoptr(GError) error = NULL;
	const gchar *dir = g_getenv("KL_TEST_WRITE_FUZZ_SEEDS");
	g_autofree gchar *subdir = NULL;
	g_autofree gchar *path = NULL;

	if (dir == NULL)
		return;
	subdir = g_build_filename(dir, kind, NULL);
	g_mkdir_with_parents(subdir, 0755);
	path = g_build_filename(subdir, name, NULL);
	g_file_set_contents(path, data, (gssize)len, &error);
	g_assert_no_error(error);
}

static gboolean
skip_without_swtpm(void)
{
	if (kl_test_swtpm_available())
		return FALSE;
	g_test_skip("swtpm not installed");
	return TRUE;
}

static void
test_rsa_sha256(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTestTpm) tpm = NULL;
	g_autoptr(KlTestTpmAk) ak = NULL;
	g_autoptr(KlTestTpmAk) other = NULL;
	g_autoptr(EVP_PKEY) nk = NULL;
	g_autofree gchar *pem = NULL;
	g_autofree gchar *text = NULL;
	g_autofree gchar *text2 = NULL;
	g_autofree gchar *many = NULL;
	g_autoptr(GBytes) pcr15_extend = sha256("boot aggregate of PCR 15");
	g_autoptr(KlQuote) quote = NULL;
	g_autoptr(KlQuote) quote2 = NULL;
	g_auto(GStrv) tokens = NULL;
	g_autoptr(KlTestTpmQuote) raw = NULL;
	EVP_PKEY *key;
	const gchar *nonce = "1234567890abcdefghij";
	KlQuoteClockInfo clock1;
	KlQuoteClockInfo clock2;

	if (skip_without_swtpm())
		return;
	tpm = tpm_new();
	ak = ak_new(tpm, TPM2_ALG_RSA, TPM2_ALG_RSASSA, TPM2_ALG_SHA256, TRUE);
	other = ak_new(tpm, TPM2_ALG_RSA, TPM2_ALG_RSASSA, TPM2_ALG_SHA256, FALSE);
	key = kl_tpm_public_get_key(ak->pub);
	nk = kl_key_generate_rsa(2048, &error);
	pem = kl_key_to_pem_public(nk, &error);
	g_assert_no_error(error);
	bind_nk(tpm, pem);
	pcr_extend(tpm, 15, pcr15_extend);

	raw = make_raw_quote(tpm, ak, nonce, TEST_MASK);
	text = encode(raw->attest, raw->signature, raw->banks);
	assert_verify(text, key, nonce, "sha256", 0, NULL);

	/* PCR 16 binds the NK; tpm_policy over PCRs 15 and 22 */
	quote = kl_quote_new_from_string(text, &error);
	g_assert_no_error(error);
	{
		g_autoptr(GPtrArray) findings = kl_findings_new();
		KlPcrBank *bank = kl_quote_get_pcr_bank(quote, "sha256");
		g_autofree gchar *pcr15 = kl_pcr_bank_get_hex(bank, 15);
		g_autofree gchar *json = g_strdup_printf(
			"{\"15\": \"%s\", \"22\": [\"%s\"], \"mask\": \"0x408000\"}",
			pcr15,
			"0000000000000000000000000000000000000000000000000000000000000000");
		g_autoptr(KlTpmPolicy) policy =
			kl_tpm_policy_new_from_json(json, strlen(json), &error);
		g_assert_no_error(error);
		g_assert_cmphex(kl_pcr_bank_get_mask(bank), ==, TEST_MASK);
		g_assert_true(kl_quote_check_pcr16(bank, pem, findings));
		/* PCR 22 is all ones after reset on swtpm: not allowed */
		g_assert_false(kl_tpm_policy_check(policy, bank, 0, findings));
		g_assert_cmpuint(findings->len, ==, 1);
		g_assert_cmpstr(((KlFinding *)g_ptr_array_index(findings, 0))->event_id,
				==,
				"pcr_validation.invalid_pcr_22");
		g_assert_false(kl_quote_check_pcr16(bank, "another NK", findings));
		g_assert_cmpstr(((KlFinding *)g_ptr_array_index(findings, 1))->event_id,
				==,
				"pcr_validation.invalid_pcr_16");
	}

	/* altered: the nonce, the expected hash, the AK */
	assert_verify(text, key, "1234567890abcdefghik", "sha256", 0, KL_QUOTE_CHECK_NONCE);
	assert_verify(text, key, nonce, "sha384", 0, KL_QUOTE_CHECK_HASH_ALG);
	assert_verify(text, key, nonce, "sha1", 0, KL_QUOTE_CHECK_HASH_ALG);
	assert_verify(text,
		      kl_tpm_public_get_key(other->pub),
		      nonce,
		      "sha256",
		      0,
		      KL_QUOTE_CHECK_SIGNATURE);
	/* a PCR value in the pcrblob */
	{
		g_autofree gchar *altered = NULL;
		guint8 value[32] = {0x42};
		g_assert_true(
			kl_pcr_bank_set(g_ptr_array_index(raw->banks, 0), 15, value, 32, NULL));
		altered = encode(raw->attest, raw->signature, raw->banks);
		assert_verify(altered, key, nonce, "sha256", 0, KL_QUOTE_CHECK_PCR_DIGEST);
	}
	/* the signature, and the attest body (a byte of extraData) */
	{
		g_autoptr(GByteArray) sig = g_byte_array_new();
		g_autoptr(GByteArray) attest = g_byte_array_new();
		g_autoptr(GBytes) sig_bytes = NULL;
		g_autoptr(GBytes) attest_bytes = NULL;
		g_autofree gchar *bad_sig = NULL;
		g_autofree gchar *bad_attest = NULL;
		g_autoptr(GPtrArray) banks =
			g_ptr_array_new_with_free_func((GDestroyNotify)kl_pcr_bank_free);

		g_ptr_array_add(banks, read_pcrs(tpm, TEST_MASK));
		g_byte_array_append(sig,
				    g_bytes_get_data(raw->signature, NULL),
				    (guint)g_bytes_get_size(raw->signature));
		sig->data[sig->len - 10] ^= 0x01;
		sig_bytes = g_byte_array_free_to_bytes(g_steal_pointer(&sig));
		bad_sig = encode(raw->attest, sig_bytes, banks);
		assert_verify(bad_sig, key, nonce, "sha256", 0, KL_QUOTE_CHECK_SIGNATURE);

		g_byte_array_append(attest,
				    g_bytes_get_data(raw->attest, NULL),
				    (guint)g_bytes_get_size(raw->attest));
		/* magic 4, type 2, signer 2+34, then extraData: its first byte */
		g_assert_cmpuint(attest->data[42 + 2], ==, (guint8)nonce[0]);
		attest->data[42 + 2] = 'X';
		attest_bytes = g_byte_array_free_to_bytes(g_steal_pointer(&attest));
		bad_attest = encode(attest_bytes, raw->signature, banks);
		assert_verify(bad_attest,
			      key,
			      "X234567890abcdefghij",
			      "sha256",
			      0,
			      KL_QUOTE_CHECK_SIGNATURE);
	}
	/* each part truncated by one base64 quantum */
	tokens = g_strsplit(text + 1, ":", -1);
	for (guint part = 0; part < 3; part++) {
		const gchar *prefixes[] = {"TPMS_ATTEST", "TPMT_SIGNATURE", "pcrblob"};
		g_autofree gchar *cut = g_strndup(tokens[part], strlen(tokens[part]) - 4);
		g_autofree gchar *truncated = g_strdup_printf("r%s:%s:%s",
							      part == 0 ? cut : tokens[0],
							      part == 1 ? cut : tokens[1],
							      part == 2 ? cut : tokens[2]);
		g_autoptr(KlQuote) bad = kl_quote_new_from_string(truncated, &error);
		g_assert_null(bad);
		g_assert_error(error, KL_TPM_ERROR, KL_TPM_ERROR_INVALID_DATA);
		g_assert_true(g_str_has_prefix(error->message, prefixes[part]));
		g_test_message("part %u truncated: %s", part, error->message);
		g_clear_error(&error);
	}

	/* a later quote: the clock moved on; replayed, it did not */
	text2 = make_quote(tpm, ak, nonce, TEST_MASK);
	quote2 = kl_quote_new_from_string(text2, &error);
	g_assert_no_error(error);
	kl_quote_get_clock_info(quote, &clock1);
	kl_quote_get_clock_info(quote2, &clock2);
	{
		g_autoptr(GPtrArray) findings = kl_findings_new();
		KlQuoteClockInfo initial;
		kl_quote_clock_info_init(&initial);
		g_assert_true(kl_quote_check_clock(&initial, &clock1, findings));
		g_assert_true(kl_quote_check_clock(&clock1, &clock2, findings));
		g_assert_false(kl_quote_check_clock(&clock2, &clock1, findings));
		g_assert_false(kl_quote_check_clock(&clock2, &clock2, findings));
		g_assert_cmpuint(findings->len, ==, 2);
	}

	/* more than 8 PCRs: the pcrblob needs two TPML_DIGESTs */
	many = make_quote(tpm, ak, nonce, TEST_MASK_MANY);
	assert_verify(many, key, nonce, "sha256", 0, NULL);

	write_seed("quote", "rsa-sha256", text, strlen(text));
	write_seed("quote", "rsa-sha256-13-pcrs", many, strlen(many));
	write_seed("tpm2b-public",
		   "rsa-2048",
		   g_bytes_get_data(ak->public_blob, NULL),
		   g_bytes_get_size(ak->public_blob));
	ak_unload(tpm, ak);
}

/* Signed with sha1/sha384/sha512 over the sha256 bank. */
static void
test_rsa_hashes(void)
{
	g_autoptr(KlTestTpm) tpm = NULL;
	struct {
		TPM2_ALG_ID alg;
		const gchar *name;
		gsize size;
	} hashes[] = {
		{TPM2_ALG_SHA1, "sha1", 20},
		{TPM2_ALG_SHA384, "sha384", 48},
		{TPM2_ALG_SHA512, "sha512", 64},
	};
	const gchar *nonce = "nonce-for-other-hash";

	if (skip_without_swtpm())
		return;
	tpm = tpm_new();
	for (guint i = 0; i < G_N_ELEMENTS(hashes); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(KlTestTpmAk) ak =
			ak_new(tpm, TPM2_ALG_RSA, TPM2_ALG_RSASSA, hashes[i].alg, TRUE);
		g_autofree gchar *text = make_quote(tpm, ak, nonce, TEST_MASK);
		g_autoptr(KlQuote) quote = kl_quote_new_from_string(text, &error);
		EVP_PKEY *key = kl_tpm_public_get_key(ak->pub);
		const TPMS_ATTEST *attest;

		g_assert_no_error(error);
		attest = kl_quote_get_attest(quote);
		/* the signature hash is the AK's, the bank is sha256 */
		g_assert_cmpuint(kl_tpm_signature_get_hash_alg(kl_quote_get_signature(quote)),
				 ==,
				 hashes[i].alg);
		g_assert_cmpuint(attest->attested.quote.pcrSelect.pcrSelections[0].hash,
				 ==,
				 TPM2_ALG_SHA256);
		g_assert_nonnull(kl_quote_get_pcr_bank(quote, "sha256"));
		g_assert_null(kl_quote_get_pcr_bank(quote, hashes[i].name));
		/* pcrDigest is H_sig over the sha256 values */
		g_assert_cmpuint(attest->attested.quote.pcrDigest.size, ==, hashes[i].size);

		assert_verify(text, key, nonce, hashes[i].name, 0, NULL);
		assert_verify(text, key, nonce, "sha256", 0, KL_QUOTE_CHECK_HASH_ALG);
		assert_verify(text,
			      key,
			      "nonce-for-other-hasH",
			      hashes[i].name,
			      0,
			      KL_QUOTE_CHECK_NONCE);
		ak_unload(tpm, ak);
	}
}

static void
test_rsapss(void)
{
	g_autoptr(KlTestTpm) tpm = NULL;
	g_autoptr(KlTestTpmAk) ak = NULL;
	g_autoptr(KlTestTpmAk) rsassa = NULL;
	g_autofree gchar *text = NULL;
	g_auto(GStrv) tokens = NULL;
	const gchar *nonce = "rsapss-nonce";
	EVP_PKEY *key;

	if (skip_without_swtpm())
		return;
	tpm = tpm_new();
	ak = ak_new(tpm, TPM2_ALG_RSA, TPM2_ALG_RSAPSS, TPM2_ALG_SHA256, TRUE);
	key = kl_tpm_public_get_key(ak->pub);
	text = make_quote(tpm, ak, nonce, TEST_MASK);
	/* upstream's pull path rejects RSAPSS; accepting it is opt-in */
	assert_verify(text, key, nonce, "sha256", 0, KL_QUOTE_CHECK_SIGNATURE_SCHEME);
	assert_verify(text, key, nonce, "sha256", KL_QUOTE_VERIFY_FLAG_ALLOW_RSAPSS, NULL);
	assert_verify(text,
		      key,
		      "rsapss-noncE",
		      "sha256",
		      KL_QUOTE_VERIFY_FLAG_ALLOW_RSAPSS,
		      KL_QUOTE_CHECK_NONCE);
	ak_unload(tpm, ak);

	/* another RSA AK's key does not verify it */
	rsassa = ak_new(tpm, TPM2_ALG_RSA, TPM2_ALG_RSASSA, TPM2_ALG_SHA256, FALSE);
	assert_verify(text,
		      kl_tpm_public_get_key(rsassa->pub),
		      nonce,
		      "sha256",
		      KL_QUOTE_VERIFY_FLAG_ALLOW_RSAPSS,
		      KL_QUOTE_CHECK_SIGNATURE);
	write_seed("quote", "rsapss-sha256", text, strlen(text));
}

static void
test_ecdsa_p256(void)
{
	g_autoptr(KlTestTpm) tpm = NULL;
	g_autoptr(KlTestTpmAk) ak = NULL;
	g_autoptr(KlTestTpmAk) rsa = NULL;
	g_autofree gchar *text = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(KlQuote) quote = NULL;
	const gchar *nonce = "ecdsa-nonce-0123";
	EVP_PKEY *key;
	const TPMT_SIGNATURE *sig;

	if (skip_without_swtpm())
		return;
	tpm = tpm_new();
	ak = ak_new(tpm, TPM2_ALG_ECC, TPM2_ALG_ECDSA, TPM2_ALG_SHA256, TRUE);
	rsa = ak_new(tpm, TPM2_ALG_RSA, TPM2_ALG_RSASSA, TPM2_ALG_SHA256, FALSE);
	key = kl_tpm_public_get_key(ak->pub);
	text = make_quote(tpm, ak, nonce, TEST_MASK);
	quote = kl_quote_new_from_string(text, &error);
	g_assert_no_error(error);
	sig = kl_quote_get_signature(quote);
	g_assert_cmpuint(sig->sigAlg, ==, TPM2_ALG_ECDSA);
	g_assert_cmpuint(sig->signature.ecdsa.signatureR.size, <=, 32);

	assert_verify(text, key, nonce, "sha256", 0, NULL);
	assert_verify(text, key, "ecdsa-nonce-0124", "sha256", 0, KL_QUOTE_CHECK_NONCE);
	assert_verify(text, key, nonce, "sha384", 0, KL_QUOTE_CHECK_HASH_ALG);
	assert_verify(text,
		      kl_tpm_public_get_key(rsa->pub),
		      nonce,
		      "sha256",
		      0,
		      KL_QUOTE_CHECK_SIGNATURE_SCHEME);
	/* a byte of s */
	{
		TPMT_SIGNATURE bad = *sig;
		guint8 buf[sizeof(TPMT_SIGNATURE)];
		size_t offset = 0;
		g_auto(GStrv) tokens = g_strsplit(text + 1, ":", -1);
		g_autofree gchar *b64 = NULL;
		g_autofree gchar *bad_text = NULL;

		bad.signature.ecdsa.signatureS.buffer[3] ^= 0x80;
		g_assert_cmphex(Tss2_MU_TPMT_SIGNATURE_Marshal(&bad, buf, sizeof(buf), &offset),
				==,
				TSS2_RC_SUCCESS);
		b64 = g_base64_encode(buf, offset);
		bad_text = g_strdup_printf("r%s:%s:%s", tokens[0], b64, tokens[2]);
		assert_verify(bad_text, key, nonce, "sha256", 0, KL_QUOTE_CHECK_SIGNATURE);
	}
	ak_unload(tpm, ak);

	write_seed("quote", "ecdsa-p256", text, strlen(text));
	write_seed("tpm2b-public",
		   "ecc-p256",
		   g_bytes_get_data(ak->public_blob, NULL),
		   g_bytes_get_size(ak->public_blob));
}

/* The fuzz target's seeds: quotes over the fixed nonce by two AKs whose
 * TPM2B_PUBLICs the target embeds (printed here as hex). */
static void
test_fuzz_seeds(void)
{
	g_autoptr(KlTestTpm) tpm = NULL;
	const gchar *dir = g_getenv("KL_TEST_WRITE_FUZZ_SEEDS");
	TPM2_ALG_ID types[] = {TPM2_ALG_RSA, TPM2_ALG_ECC};
	TPM2_ALG_ID schemes[] = {TPM2_ALG_RSASSA, TPM2_ALG_ECDSA};
	const gchar *names[] = {"rsa", "ecdsa"};

	if (dir == NULL) {
		g_test_skip("KL_TEST_WRITE_FUZZ_SEEDS not set");
		return;
	}
	if (skip_without_swtpm())
		return;
	tpm = tpm_new();
	for (guint i = 0; i < G_N_ELEMENTS(types); i++) {
		g_autoptr(KlTestTpmAk) ak =
			ak_new(tpm, types[i], schemes[i], TPM2_ALG_SHA256, TRUE);
		g_autofree gchar *text = make_quote(tpm, ak, TEST_SEED_NONCE, TEST_MASK);
		g_autofree gchar *many = make_quote(tpm, ak, TEST_SEED_NONCE, TEST_MASK_MANY);
		g_autofree gchar *name = g_strdup_printf("%s-fixed-key", names[i]);
		g_autofree gchar *name_many = g_strdup_printf("%s-fixed-key-13-pcrs", names[i]);
		g_autofree gchar *hex =
			kl_crypto_hex_encode(g_bytes_get_data(ak->public_blob, NULL),
					     g_bytes_get_size(ak->public_blob));

		assert_verify(text,
			      kl_tpm_public_get_key(ak->pub),
			      TEST_SEED_NONCE,
			      "sha256",
			      0,
			      NULL);
		write_seed("quote", name, text, strlen(text));
		write_seed("quote", name_many, many, strlen(many));
		write_seed("tpm2b-public",
			   names[i],
			   g_bytes_get_data(ak->public_blob, NULL),
			   g_bytes_get_size(ak->public_blob));
		g_test_message("%s AK TPM2B_PUBLIC: %s", names[i], hex);
		ak_unload(tpm, ak);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/tpm/quote/rsa-sha256", test_rsa_sha256);
	g_test_add_func("/tpm/quote/rsa-other-hashes", test_rsa_hashes);
	g_test_add_func("/tpm/quote/rsapss", test_rsapss);
	g_test_add_func("/tpm/quote/ecdsa-p256", test_ecdsa_p256);
	g_test_add_func("/tpm/quote/fuzz-seeds", test_fuzz_seeds);
	return g_test_run();
}
