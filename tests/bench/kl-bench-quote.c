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
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "kl-finding.h"
#include "kl-ima-verify.h"
#include "kl-quote.h"
#include "kl-test-swtpm.h"

#define BENCH_POOL	  32u
#define BENCH_ZERO_SHA256 "0000000000000000000000000000000000000000000000000000000000000000"

typedef struct {
	gchar *text; /* Keylime's quote string */
	gchar *nonce;
	GBytes *attest; /* for the baseline */
	GBytes *raw_sig;
} BenchQuote;

static void
bench_check(TSS2_RC rc, const gchar *what)
{
	if (rc != TSS2_RC_SUCCESS)
		g_error("%s: 0x%x %s", what, (guint)rc, Tss2_RC_Decode(rc));
}

static ESYS_TR
bench_ek_session(ESYS_CONTEXT *esys)
{
	TPMT_SYM_DEF symmetric = {.algorithm = TPM2_ALG_NULL};
	ESYS_TR session = ESYS_TR_NONE;

	bench_check(Esys_StartAuthSession(esys,
					  ESYS_TR_NONE,
					  ESYS_TR_NONE,
					  ESYS_TR_NONE,
					  ESYS_TR_NONE,
					  ESYS_TR_NONE,
					  NULL,
					  TPM2_SE_POLICY,
					  &symmetric,
					  TPM2_ALG_SHA256,
					  &session),
		    "Esys_StartAuthSession");
	bench_check(Esys_PolicySecret(esys,
				      ESYS_TR_RH_ENDORSEMENT,
				      session,
				      ESYS_TR_PASSWORD,
				      ESYS_TR_NONE,
				      ESYS_TR_NONE,
				      NULL,
				      NULL,
				      NULL,
				      0,
				      NULL,
				      NULL),
		    "Esys_PolicySecret");
	return session;
}

/* A restricted signing key under the EK, loaded; its parsed public out. */
static ESYS_TR
bench_ak_new(ESYS_CONTEXT *esys, ESYS_TR ek, TPM2_ALG_ID type, KlTpmPublic **pub_out)
{
	g_autoptr(GError) error = NULL;
	TPM2B_SENSITIVE_CREATE sensitive = {0};
	TPM2B_PUBLIC tpl = {0};
	TPM2B_DATA outside = {0};
	TPML_PCR_SELECTION creation_pcr = {0};
	TPM2B_PRIVATE *priv = NULL;
	TPM2B_PUBLIC *pub = NULL;
	guint8 buf[sizeof(TPM2B_PUBLIC)];
	size_t offset = 0;
	ESYS_TR session;
	ESYS_TR handle = ESYS_TR_NONE;

	tpl.publicArea.type = type;
	tpl.publicArea.nameAlg = TPM2_ALG_SHA256;
	tpl.publicArea.objectAttributes =
		TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
		TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
	if (type == TPM2_ALG_RSA) {
		tpl.publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
		tpl.publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
		tpl.publicArea.parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
		tpl.publicArea.parameters.rsaDetail.keyBits = 2048;
	} else {
		tpl.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
		tpl.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
		tpl.publicArea.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
		tpl.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
		tpl.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	}
	session = bench_ek_session(esys);
	bench_check(Esys_Create(esys,
				ek,
				session,
				ESYS_TR_NONE,
				ESYS_TR_NONE,
				&sensitive,
				&tpl,
				&outside,
				&creation_pcr,
				&priv,
				&pub,
				NULL,
				NULL,
				NULL),
		    "Esys_Create");
	Esys_FlushContext(esys, session);
	session = bench_ek_session(esys);
	bench_check(Esys_Load(esys, ek, session, ESYS_TR_NONE, ESYS_TR_NONE, priv, pub, &handle),
		    "Esys_Load");
	Esys_FlushContext(esys, session);
	bench_check(Tss2_MU_TPM2B_PUBLIC_Marshal(pub, buf, sizeof(buf), &offset), "marshal");
	*pub_out = kl_tpm_public_new_from_data(buf, offset, &error);
	if (*pub_out == NULL)
		g_error("AK public: %s", error->message);
	Esys_Free(priv);
	Esys_Free(pub);
	return handle;
}

static KlPcrBank *
bench_read_pcrs(ESYS_CONTEXT *esys, const TPML_PCR_SELECTION *sel)
{
	KlPcrBank *bank = kl_pcr_bank_new(TPM2_ALG_SHA256, NULL);
	guint32 mask = kl_tpm_pcr_selection_get_mask(&sel->pcrSelections[0]);
	TPML_DIGEST *values = NULL;
	guint next = 0;

	/* at most 8 values per read: 3 PCRs fit */
	bench_check(Esys_PCR_Read(esys,
				  ESYS_TR_NONE,
				  ESYS_TR_NONE,
				  ESYS_TR_NONE,
				  sel,
				  NULL,
				  NULL,
				  &values),
		    "Esys_PCR_Read");
	for (guint pcr = 0; pcr < KL_TPM_PCR_COUNT; pcr++) {
		if ((mask & (1u << pcr)) == 0)
			continue;
		if (!kl_pcr_bank_set(bank,
				     pcr,
				     values->digests[next].buffer,
				     values->digests[next].size,
				     NULL))
			g_error("PCR %u", pcr);
		next++;
	}
	Esys_Free(values);
	return bank;
}

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
bench_make_pool(ESYS_CONTEXT *esys, ESYS_TR ak, BenchQuote *pool)
{
	TPML_PCR_SELECTION sel = {.count = 1};

	sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
	sel.pcrSelections[0].sizeofSelect = 3;
	sel.pcrSelections[0].pcrSelect[1] = 0x80;
	sel.pcrSelections[0].pcrSelect[2] = 0x41; /* 15, 16, 22 */
	for (guint i = 0; i < BENCH_POOL; i++) {
		TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_NULL};
		TPM2B_DATA qualifying = {0};
		TPM2B_ATTEST *quoted = NULL;
		TPMT_SIGNATURE *sig = NULL;
		guint8 buf[sizeof(TPMT_SIGNATURE)];
		size_t offset = 0;
		g_autoptr(GBytes) sig_bytes = NULL;
		g_autoptr(GBytes) pcrblob = NULL;
		g_autoptr(GPtrArray) banks =
			g_ptr_array_new_with_free_func((GDestroyNotify)kl_pcr_bank_free);

		pool[i].nonce = g_strdup_printf("bench-nonce-%08u", i);
		qualifying.size = (UINT16)strlen(pool[i].nonce);
		memcpy(qualifying.buffer, pool[i].nonce, qualifying.size);
		bench_check(Esys_Quote(esys,
				       ak,
				       ESYS_TR_PASSWORD,
				       ESYS_TR_NONE,
				       ESYS_TR_NONE,
				       &qualifying,
				       &scheme,
				       &sel,
				       &quoted,
				       &sig),
			    "Esys_Quote");
		bench_check(Tss2_MU_TPMT_SIGNATURE_Marshal(sig, buf, sizeof(buf), &offset),
			    "marshal");
		sig_bytes = g_bytes_new(buf, offset);
		g_ptr_array_add(banks, bench_read_pcrs(esys, &sel));
		pcrblob = kl_tpm_pcrblob_build(banks, NULL);
		pool[i].attest = g_bytes_new(quoted->attestationData, quoted->size);
		pool[i].raw_sig = bench_raw_signature(sig);
		pool[i].text = kl_quote_encode(pool[i].attest, sig_bytes, pcrblob);
		Esys_Free(quoted);
		Esys_Free(sig);
	}
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
	g_autoptr(KlTestSwtpm) swtpm = NULL;
	g_autoptr(KlTpmPublic) rsa_pub = NULL;
	g_autoptr(KlTpmPublic) ecc_pub = NULL;
	TSS2_TCTI_CONTEXT *tcti = NULL;
	ESYS_CONTEXT *esys = NULL;
	ESYS_TR ek = ESYS_TR_NONE;
	ESYS_TR ak;
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
	swtpm = kl_test_swtpm_new(&error);
	if (swtpm == NULL)
		g_error("swtpm: %s", error->message);
	bench_check(Tss2_TctiLdr_Initialize(kl_test_swtpm_get_tcti(swtpm), &tcti), "tcti");
	bench_check(Esys_Initialize(&esys, tcti, NULL), "Esys_Initialize");
	bench_check(Esys_TR_FromTPMPublic(esys,
					  KL_TEST_SWTPM_EK_HANDLE_RSA,
					  ESYS_TR_NONE,
					  ESYS_TR_NONE,
					  ESYS_TR_NONE,
					  &ek),
		    "EK");

	/* one AK loaded at a time: swtpm has 3 transient slots */
	ak = bench_ak_new(esys, ek, TPM2_ALG_RSA, &rsa_pub);
	bench_make_pool(esys, ak, rsa_pool);
	Esys_FlushContext(esys, ak);
	ak = bench_ak_new(esys, ek, TPM2_ALG_ECC, &ecc_pub);
	bench_make_pool(esys, ak, ecc_pool);
	Esys_FlushContext(esys, ak);
	Esys_Finalize(&esys);
	Tss2_TctiLdr_Finalize(&tcti);

	g_print("# quote verification, %u quotes per key from a pool of %u swtpm quotes\n",
		iterations,
		BENCH_POOL);
	g_print("# ours = parse the quote string + all checks; raw = EVP_DigestVerify only\n");
	bench_run("RSA-2048 RSASSA-SHA256", rsa_pool, kl_tpm_public_get_key(rsa_pub), iterations);
	bench_run("ECC P-256 ECDSA-SHA256",
		  ecc_pool,
		  kl_tpm_public_get_key(ecc_pub),
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
		EVP_PKEY *key = kl_tpm_public_get_key(rsa_pub);
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
