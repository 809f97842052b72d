/*
 * Benchmark of one attestation round (kl_attestation_run): a quote of PCR
 * 10 and 16 by a KlTpmSoft AK, RSA-2048 (RSASSA) and ECDSA P-256, with 5
 * new IMA entries (the last of 10 000 in the log), judged against a 10 000
 * entry runtime policy, on one thread — rounds per second per core —
 * beside the raw OpenSSL verify rate of the same key over the same
 * signature in the same run, and their ratio.
 *
 * Run: meson test -C build --benchmark --verbose kl-bench-attestation
 */
#include "config.h"

#include <openssl/ecdsa.h>

#include "kl-attestation.h"
#include "kl-tpm-soft.h"

#define BENCH_POLICY  10000u
#define BENCH_NEW     5u
#define BENCH_SECONDS 1.0
#define BENCH_NONCE   "kl-bench-attestation-nonce"
#define BENCH_NK      "-----BEGIN PUBLIC KEY-----\nbench\n-----END PUBLIC KEY-----\n"

static void
put_u32le(GByteArray *array, guint32 value)
{
	guint32 le = GUINT32_TO_LE(value);
	g_byte_array_append(array, (const guint8 *)&le, 4);
}

/* an ima-ng line and its PCR 10 extend value */
static gchar *
bench_line(guint i, gchar **digest_hex_out, GBytes **pcr_hash)
{
	g_autofree gchar *path = g_strdup_printf("/usr/lib/bench/dir%03u/lib%06u.so", i % 1000, i);
	g_autoptr(GByteArray) data = g_byte_array_new();
	g_autofree gchar *thash_hex = NULL;
	guint8 digest[32];
	guint8 thash[20];
	gsize len = 0;

	kl_crypto_digest("sha256", (const guint8 *)path, strlen(path), digest, &len, NULL);
	put_u32le(data, 6 + 2 + 32);
	g_byte_array_append(data, (const guint8 *)"sha256:\0", 8);
	g_byte_array_append(data, digest, 32);
	put_u32le(data, (guint32)strlen(path) + 1);
	g_byte_array_append(data, (const guint8 *)path, (guint)strlen(path) + 1);
	kl_crypto_digest("sha1", data->data, data->len, thash, &len, NULL);
	*pcr_hash = kl_crypto_digest_bytes("sha256", data->data, data->len, NULL);
	*digest_hex_out = kl_crypto_hex_encode(digest, 32);
	thash_hex = kl_crypto_hex_encode(thash, 20);
	return g_strdup_printf("10 %s ima-ng sha256:%s %s\n", thash_hex, *digest_hex_out, path);
}

/* the quote's signature as OpenSSL verifies it, over H(TPMS_ATTEST) */
static GBytes *
bench_raw_signature(const gchar *quote_text, GBytes **attest_out)
{
	g_auto(GStrv) parts = g_strsplit(quote_text + 1, ":", 3);
	g_autofree guint8 *attest = NULL;
	g_autofree guint8 *sig = NULL;
	gsize attest_len = 0, sig_len = 0;
	TPMT_SIGNATURE tpm_sig = {0};

	attest = g_base64_decode(parts[0], &attest_len);
	sig = g_base64_decode(parts[1], &sig_len);
	*attest_out = g_bytes_new(attest, attest_len);
	if (!kl_tpm_signature_unmarshal(sig, sig_len, &tpm_sig, NULL))
		g_error("signature does not parse");
	if (tpm_sig.sigAlg == TPM2_ALG_RSASSA)
		return g_bytes_new(tpm_sig.signature.rsassa.sig.buffer,
				   tpm_sig.signature.rsassa.sig.size);
	{
		ECDSA_SIG *ec = ECDSA_SIG_new();
		guint8 *der = NULL;
		gint der_len;
		GBytes *out;
		ECDSA_SIG_set0(ec,
			       BN_bin2bn(tpm_sig.signature.ecdsa.signatureR.buffer,
					 tpm_sig.signature.ecdsa.signatureR.size,
					 NULL),
			       BN_bin2bn(tpm_sig.signature.ecdsa.signatureS.buffer,
					 tpm_sig.signature.ecdsa.signatureS.size,
					 NULL));
		der_len = i2d_ECDSA_SIG(ec, &der);
		out = g_bytes_new(der, (gsize)der_len);
		OPENSSL_free(der);
		ECDSA_SIG_free(ec);
		return out;
	}
}

/* verifies per second: EVP_DigestVerify with a reused context */
static gdouble
bench_raw(EVP_PKEY *key, GBytes *attest, GBytes *sig)
{
	g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new();
	const EVP_MD *md = kl_crypto_get_md("sha256", NULL);
	gint64 start = g_get_monotonic_time();
	guint n = 0;

	while (g_get_monotonic_time() - start < BENCH_SECONDS * G_USEC_PER_SEC) {
		gsize sig_len = 0, attest_len = 0;
		const guint8 *s = g_bytes_get_data(sig, &sig_len);
		const guint8 *a = g_bytes_get_data(attest, &attest_len);
		if (EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) != 1 ||
		    EVP_DigestVerify(ctx, s, sig_len, a, attest_len) != 1)
			g_error("raw verify failed");
		n++;
	}
	return n / ((gdouble)(g_get_monotonic_time() - start) / G_USEC_PER_SEC);
}

static gdouble
bench_rounds(KlAttestationInput *input)
{
	gint64 start = g_get_monotonic_time();
	guint n = 0;

	while (g_get_monotonic_time() - start < BENCH_SECONDS * G_USEC_PER_SEC) {
		g_autoptr(KlAttestationResult) result = kl_attestation_run(input);
		if (!result->passed || result->ima_state.next_entry != BENCH_POLICY)
			g_error("benchmark round failed: %u findings, next %" G_GUINT64_FORMAT,
				result->findings->len,
				result->ima_state.next_entry);
		n++;
	}
	return n / ((gdouble)(g_get_monotonic_time() - start) / G_USEC_PER_SEC);
}

static void
bench_key(const gchar *name, TPM2_ALG_ID enc_alg, TPM2_ALG_ID sign_alg, KlRuntimePolicy *policy)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTpm) tpm = NULL;
	g_autoptr(KlAttestationInput) input = kl_attestation_input_new();
	g_autoptr(GString) batch = g_string_new(NULL);
	g_autoptr(GBytes) attest = NULL;
	g_autoptr(GBytes) sig = NULL;
	g_autofree gchar *quote = NULL;
	KlTpmOptions options;
	KlImaState state;
	EVP_PKEY *key;
	gdouble ours = 0, raw = 0;

	kl_tpm_options_init(&options);
	options.enc_alg = enc_alg;
	options.sign_alg = sign_alg;
	tpm = kl_tpm_soft_new(&options, &error);
	if (tpm == NULL)
		g_error("%s", error->message);

	/* the first BENCH_POLICY entries were attested before */
	kl_ima_state_init(&state);
	for (guint i = 0; i < BENCH_POLICY; i++) {
		g_autofree gchar *hex = NULL;
		g_autoptr(GBytes) extend = NULL;
		g_autofree gchar *line = bench_line(i, &hex, &extend);
		if (i + BENCH_NEW == BENCH_POLICY) {
			/* the saved state: PCR 10 before the new entries */
			g_autoptr(KlPcrBank) bank =
				kl_tpm_read_pcrs(tpm, 1u << 10, TPM2_ALG_SHA256, &error);
			GBytes *value = bank != NULL ? kl_pcr_bank_get(bank, 10) : NULL;
			if (value == NULL)
				g_error("PCR 10 read failed");
			memcpy(state.pcr10[KL_IMA_BANK_SHA256], g_bytes_get_data(value, NULL), 32);
			state.known_banks = 1u << KL_IMA_BANK_SHA256;
			state.next_entry = BENCH_POLICY - BENCH_NEW;
		}
		if (!KL_TPM_GET_CLASS(tpm)->pcr_extend(tpm, 10, TPM2_ALG_SHA256, extend, &error))
			g_error("%s", error->message);
		if (i + BENCH_NEW < BENCH_POLICY)
			continue;
		g_string_append(batch, line);
	}
	quote = kl_tpm_quote(tpm, BENCH_NONCE, 1u << 10, TPM2_ALG_SHA256, BENCH_NK, &error);
	if (quote == NULL)
		g_error("%s", error->message);

	input->response = json_object_new();
	json_object_set_string_member(input->response, "quote", quote);
	json_object_set_string_member(input->response, "hash_alg", "sha256");
	json_object_set_string_member(input->response, "enc_alg", kl_tpm_get_enc_alg(tpm));
	json_object_set_string_member(input->response, "sign_alg", kl_tpm_get_sign_alg(tpm));
	json_object_set_string_member(input->response, "ima_measurement_list", batch->str);
	json_object_set_int_member(input->response,
				   "ima_measurement_list_entry",
				   BENCH_POLICY - BENCH_NEW);
	input->nonce = g_strdup(BENCH_NONCE);
	input->ak = kl_quote_key_new(kl_tpm_public_get_key(kl_tpm_get_ak(tpm)));
	input->nk_pubkey = g_strdup(BENCH_NK);
	input->accept_hash_algs = g_strsplit("sha256", ",", -1);
	input->accept_enc_algs = g_strsplit("rsa,ecc", ",", -1);
	input->accept_sign_algs = g_strsplit("rsassa,ecdsa", ",", -1);
	input->runtime_policy = kl_runtime_policy_ref(policy);
	input->attestation_count = 1;
	input->ima_state = state;
	/* parsed once from verifier.conf by the engine */
	input->severity = kl_attestation_severity_policy_parse(NULL, NULL, NULL);

	key = kl_tpm_public_get_key(kl_tpm_get_ak(tpm));
	sig = bench_raw_signature(quote, &attest);
	/* best of three, interleaved so both see the same machine */
	for (guint i = 0; i < 3; i++) {
		ours = MAX(ours, bench_rounds(input));
		raw = MAX(raw, bench_raw(key, attest, sig));
	}
	g_print("%-12s %8.0f rounds/s per core   raw OpenSSL verify %8.0f/s   ratio %.2f\n",
		name,
		ours,
		raw,
		ours / raw);
}

int
main(int argc, char **argv)
{
	g_autoptr(KlRuntimePolicyBuilder) builder = kl_runtime_policy_builder_new();
	g_autoptr(KlRuntimePolicy) policy = NULL;
	g_autoptr(GError) error = NULL;

	for (guint i = 0; i < BENCH_POLICY; i++) {
		g_autofree gchar *hex = NULL;
		g_autoptr(GBytes) extend = NULL;
		g_autofree gchar *line = bench_line(i, &hex, &extend);
		g_autofree gchar *path = g_strdup(strrchr(line, ' ') + 1);
		g_strchomp(path);
		if (!kl_runtime_policy_builder_add_digest(builder,
							  KL_RUNTIME_POLICY_MAP_DIGESTS,
							  path,
							  hex,
							  &error))
			g_error("%s", error->message);
	}
	policy = kl_runtime_policy_builder_build(builder, &error);
	if (policy == NULL)
		g_error("%s", error->message);
	g_print("attestation round: PCR 10+16 quoted, %u new IMA entries, %u-entry policy\n",
		BENCH_NEW,
		BENCH_POLICY);
	bench_key("RSA-2048", TPM2_ALG_RSA, TPM2_ALG_RSASSA, policy);
	bench_key("ECDSA P-256", TPM2_ALG_ECC, TPM2_ALG_ECDSA, policy);
	return 0;
}
