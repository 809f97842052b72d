/*
 * Benchmark of quote verification: a pool of quotes made at start on a
 * fixture swtpm by an RSA-2048 RSASSA AK and an ECC P-256 ECDSA AK, each
 * parsed from Keylime's string and verified by kl-quote (all checks),
 * against the raw EVP signature-verify rate of the same key over the same
 * attest bytes in the same run (EVP_DigestVerifyInit + EVP_DigestVerify,
 * the signature already in OpenSSL's form).  Ratio = ours / raw rate;
 * the target is >= 0.8.  Also a round with an empty IMA delta against
 * the bare quote: the target is at most 1.2 times the cost.
 *
 * Run: meson test -C build --benchmark --verbose kl-bench-quote
 */
#include "config.h"

#include <openssl/ec.h>
#include <tss2/tss2_mu.h>

#include "kl-finding.h"
#include "kl-ima-verify.h"
#include "kl-quote.h"
#include "kl-test-tpm.h"

#define BENCH_POOL	  32u
#define BENCH_MASK	  0x418000u /* PCRs 15, 16, 22: the tpm suite's selection */
#define BENCH_ZERO_SHA256 "0000000000000000000000000000000000000000000000000000000000000000"

typedef struct {
	gchar *text; /* Keylime's quote string */
	gchar *nonce;
	GBytes *attest; /* for the baseline */
	GBytes *raw_sig;
} BenchQuote;

static GBytes *
bench_raw_signature(const TPMT_SIGNATURE *sig)
{
	guint8 *der = NULL;
	ECDSA_SIG *ecdsa;
	int len;

	if (sig->sigAlg == TPM2_ALG_RSASSA)
		return g_bytes_new(sig->signature.rsassa.sig.buffer,
				   sig->signature.rsassa.sig.size);
	ecdsa = ECDSA_SIG_new();
	ECDSA_SIG_set0(ecdsa,
		       BN_bin2bn(sig->signature.ecdsa.signatureR.buffer,
				 sig->signature.ecdsa.signatureR.size,
				 NULL),
		       BN_bin2bn(sig->signature.ecdsa.signatureS.buffer,
				 sig->signature.ecdsa.signatureS.size,
				 NULL));
	len = i2d_ECDSA_SIG(ecdsa, &der);
	ECDSA_SIG_free(ecdsa);
	if (len <= 0)
		g_error("i2d_ECDSA_SIG");
	{
		GBytes *out = g_bytes_new(der, (gsize)len);
		OPENSSL_free(der);
		return out;
	}
}

static void
bench_make_pool(KlTestTpm *tpm, KlTestTpmAk *ak, BenchQuote *pool)
{
	for (guint i = 0; i < BENCH_POOL; i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(KlTestTpmQuote) quote = NULL;
		TPMT_SIGNATURE sig = {0};
		size_t offset = 0;

		pool[i].nonce = g_strdup_printf("bench-nonce-%08u", i);
		quote = kl_test_tpm_quote_raw(tpm,
					      ak,
					      pool[i].nonce,
					      BENCH_MASK,
					      TPM2_ALG_SHA256,
					      &error);
		if (quote == NULL)
			g_error("quote: %s", error->message);
		/* the baseline wants the signature in OpenSSL's form */
		if (Tss2_MU_TPMT_SIGNATURE_Unmarshal(g_bytes_get_data(quote->signature, NULL),
						     g_bytes_get_size(quote->signature),
						     &offset,
						     &sig) != TSS2_RC_SUCCESS)
			g_error("TPMT_SIGNATURE");
		pool[i].attest = g_bytes_ref(quote->attest);
		pool[i].raw_sig = bench_raw_signature(&sig);
		pool[i].text = kl_test_tpm_quote_encode(quote->attest,
							quote->signature,
							quote->banks,
							&error);
		if (pool[i].text == NULL)
			g_error("encode: %s", error->message);
	}
}

/* A restricted signing key under the EK, loaded, made from @tpm. */
static KlTestTpmAk *
bench_ak_new(KlTestTpm *tpm, TPM2_ALG_ID type, TPM2_ALG_ID scheme)
{
	g_autoptr(GError) error = NULL;
	KlTestTpmAk *ak = kl_test_tpm_create_ak(tpm, type, scheme, TPM2_ALG_SHA256, TRUE, &error);

	if (ak == NULL)
		g_error("AK: %s", error->message);
	return ak;
}

static void
bench_free_pool(BenchQuote *pool)
{
	for (guint i = 0; i < BENCH_POOL; i++) {
		g_free(pool[i].text);
		g_free(pool[i].nonce);
		g_bytes_unref(pool[i].attest);
		g_bytes_unref(pool[i].raw_sig);
	}
}

/* ours: string → KlQuote → every check */
static gdouble
bench_ours(BenchQuote *pool, EVP_PKEY *key, guint iterations)
{
	/* The verifier prepares each agent's AK once, at enrollment. */
	g_autoptr(KlQuoteKey) ak = kl_quote_key_new(key);
	gint64 start = g_get_monotonic_time();

	for (guint n = 0; n < iterations; n++) {
		BenchQuote *q = &pool[n % BENCH_POOL];
		g_autoptr(KlQuote) quote = kl_quote_new_from_string(q->text, NULL);
		g_autoptr(GPtrArray) findings = kl_findings_new();
		if (quote == NULL || !kl_quote_verify(quote, ak, q->nonce, "sha256", 0, findings))
			g_error("a genuine quote failed");
	}
	return (gdouble)iterations * G_USEC_PER_SEC / (gdouble)(g_get_monotonic_time() - start);
}

/*
 * An attestation round whose IMA delta is empty: the quote, then the
 * measurement list since the saved state (no lines) against a runtime
 * policy.  It should cost little more than the quote alone.
 */
static gdouble
bench_ours_empty_ima_delta(BenchQuote *pool,
			   EVP_PKEY *key,
			   KlRuntimePolicy *policy,
			   guint iterations)
{
	g_autoptr(KlQuoteKey) ak = kl_quote_key_new(key);
	const guint8 pcr10[32] = {0};
	KlImaState state;
	gint64 start;

	kl_ima_state_init(&state);
	start = g_get_monotonic_time();
	for (guint n = 0; n < iterations; n++) {
		BenchQuote *q = &pool[n % BENCH_POOL];
		g_autoptr(KlQuote) quote = kl_quote_new_from_string(q->text, NULL);
		g_autoptr(GPtrArray) findings = kl_findings_new();
		g_auto(KlImaResult) result = {0};
		if (quote == NULL || !kl_quote_verify(quote, ak, q->nonce, "sha256", 0, findings))
			g_error("a genuine quote failed");
		kl_ima_result_init(&result);
		if (!kl_ima_verify_log("",
				       0,
				       &state,
				       "sha256",
				       pcr10,
				       policy,
				       NULL,
				       &result,
				       NULL) ||
		    result.findings->len > 0)
			g_error("an empty IMA delta failed");
	}
	return (gdouble)iterations * G_USEC_PER_SEC / (gdouble)(g_get_monotonic_time() - start);
}

/* raw: one EVP_DigestVerify of the signature over the attest bytes */
static gdouble
bench_raw(BenchQuote *pool, EVP_PKEY *key, guint iterations)
{
	const EVP_MD *md = kl_crypto_get_md("sha256", NULL);
	g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new();
	gint64 start = g_get_monotonic_time();

	for (guint n = 0; n < iterations; n++) {
		BenchQuote *q = &pool[n % BENCH_POOL];
		if (EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) != 1 ||
		    EVP_DigestVerify(ctx,
				     g_bytes_get_data(q->raw_sig, NULL),
				     g_bytes_get_size(q->raw_sig),
				     g_bytes_get_data(q->attest, NULL),
				     g_bytes_get_size(q->attest)) != 1)
			g_error("raw verify failed");
	}
	return (gdouble)iterations * G_USEC_PER_SEC / (gdouble)(g_get_monotonic_time() - start);
}

static void
bench_run(const gchar *name, BenchQuote *pool, EVP_PKEY *key, guint iterations)
{
	gdouble ours;
	gdouble raw;

	/* warm up both, then alternate to even out frequency drift */
	bench_ours(pool, key, iterations / 10 + 1);
	bench_raw(pool, key, iterations / 10 + 1);
	raw = bench_raw(pool, key, iterations);
	ours = bench_ours(pool, key, iterations);
	raw = (raw + bench_raw(pool, key, iterations)) / 2;
	ours = (ours + bench_ours(pool, key, iterations)) / 2;
	g_print("%-28s %9.0f quotes/s   raw EVP verify %9.0f/s   ratio %.2f (target >= 0.80)\n",
		name,
		ours,
		raw,
		ours / raw);
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTestTpm) tpm = NULL;
	g_autoptr(KlTestTpmAk) rsa_ak = NULL;
	g_autoptr(KlTestTpmAk) ecc_ak = NULL;
	BenchQuote rsa_pool[BENCH_POOL] = {{NULL}};
	BenchQuote ecc_pool[BENCH_POOL] = {{NULL}};
	guint iterations = 20000;

	if (argc > 1)
		iterations = (guint)g_ascii_strtoull(argv[1], NULL, 10);
	if (!kl_test_swtpm_available()) {
		g_print("# swtpm not installed: skipped\n");
		return 77;
	}
	g_setenv("TSS2_LOG", "all+NONE", FALSE);
	tpm = kl_test_tpm_new_fixture(&error);
	if (tpm == NULL)
		g_error("swtpm: %s", error->message);

	/* one AK loaded at a time: swtpm has 3 transient slots */
	rsa_ak = bench_ak_new(tpm, TPM2_ALG_RSA, TPM2_ALG_RSASSA);
	bench_make_pool(tpm, rsa_ak, rsa_pool);
	if (!kl_test_tpm_unload_ak(tpm, rsa_ak, &error))
		g_error("%s", error->message);
	ecc_ak = bench_ak_new(tpm, TPM2_ALG_ECC, TPM2_ALG_ECDSA);
	bench_make_pool(tpm, ecc_ak, ecc_pool);
	if (!kl_test_tpm_unload_ak(tpm, ecc_ak, &error))
		g_error("%s", error->message);
	g_clear_pointer(&tpm, kl_test_tpm_free);

	g_print("# quote verification, %u quotes per key from a pool of %u swtpm quotes\n",
		iterations,
		BENCH_POOL);
	g_print("# ours = parse the quote string + all checks; raw = EVP_DigestVerify only\n");
	bench_run("RSA-2048 RSASSA-SHA256",
		  rsa_pool,
		  kl_tpm_public_get_key(rsa_ak->pub),
		  iterations);
	bench_run("ECC P-256 ECDSA-SHA256",
		  ecc_pool,
		  kl_tpm_public_get_key(ecc_ak->pub),
		  iterations / 4);
	{
		const gchar *policy_json =
			"{\"meta\": {\"version\": 1, \"generator\": 3}, \"release\": 0,"
			" \"digests\": {\"/usr/bin/true\": [\"" BENCH_ZERO_SHA256 "\"]},"
			" \"excludes\": [\"/tmp/.*\"], \"keyrings\": {}, \"ima\": "
			"{\"ignored_keyrings\": [],"
			" \"log_hash_alg\": \"sha1\", \"dm_policy\": null}, \"ima-buf\": {},"
			" \"verification-keys\": \"\"}";
		g_autoptr(KlRuntimePolicy) policy =
			kl_runtime_policy_new_from_json(policy_json, strlen(policy_json), &error);
		EVP_PKEY *key = kl_tpm_public_get_key(rsa_ak->pub);
		gdouble bare;
		gdouble with_ima;
		if (policy == NULL)
			g_error("policy: %s", error->message);
		bare = bench_ours(rsa_pool, key, iterations);
		with_ima = bench_ours_empty_ima_delta(rsa_pool, key, policy, iterations);
		bare = (bare + bench_ours(rsa_pool, key, iterations)) / 2;
		with_ima =
			(with_ima + bench_ours_empty_ima_delta(rsa_pool, key, policy, iterations)) /
			2;
		g_print("%-28s %9.0f rounds/s   bare quote     %9.0f/s   cost %.2fx (target <= "
			"1.20)\n",
			"RSA quote + empty IMA delta",
			with_ima,
			bare,
			bare / with_ima);
	}
	bench_free_pool(rsa_pool);
	bench_free_pool(ecc_pool);
	return 0;
}
