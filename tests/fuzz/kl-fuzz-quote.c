/*
 * Fuzz target: Keylime's quote string — split, strict base64, TPMS_ATTEST,
 * TPMT_SIGNATURE and pcrblob parsing — then every verification path with
 * two fixed AKs, the swtpm AKs that made the "fixed-key" seeds in
 * tests/data/fuzz/quote (so mutations reach the checks past the
 * signature), the PCR 16 and tpm_policy checks on what parsed, and the
 * clock check.
 */
#include "config.h"

#include "kl-finding.h"
#include "kl-fuzz.h"
#include "kl-quote.h"
#include "kl-tpm-policy.h"

/* the seeds' nonce, see tests/tpm/kl-tpm-quote-test.c */
#define FUZZ_NONCE "kl-fuzz-nonce-000001"

/* TPM2B_PUBLIC of the seeds' RSA-2048 RSASSA and ECC P-256 ECDSA AKs */
static const gchar *fuzz_ak_rsa = "01180001000b00050072000000100014000b0800000000000100a075a2040609"
				  "08745b366c9aef347575542af3fa8ccb153f1e34febf891075f4d885c1da3db2"
				  "19420554f497fb0a0dafa18431defddd3c66331c36a74409dd3b7a2efb72e9d8"
				  "4df51e20996c0cd0320814cf4d81728b54896e1ec1f84e32579c7823dd4955c0"
				  "5cb1d81969535596419a4b7282dbdf46a8cb252a0d967aa9b90ab02d9466530e"
				  "5aa5d6cae344e5dbd59704d944dc09b1443486b77ecaefd98f1e3d76f1f28105"
				  "ce4e24f9acaa3f65e487573845aa716c6632b0f5df11deb1266329daa2795432"
				  "c3fb143ac6b63b0d280855de5ddd67d2cc916b31fb90e8d381a34ff356e0ad60"
				  "58835da557a04067ca423c18c6be13c8e4f371bc4c7a1d31cea3";
static const gchar *fuzz_ak_ecc = "00580023000b00050072000000100018000b000300100020299cc783d0080bd9"
				  "2230ce48ede1966d10d5f7a66e1bc63df5c60fc829d95bda00209810df08aa96"
				  "ba4464d071a7a265aed12d032d4784989ed54f3d6c86d1a8fd21";

static KlQuoteKey *fuzz_keys[2];
static KlTpmPolicy *fuzz_policy;

/* Keys are parsed once, as the verifier does. */
static void
fuzz_init(void)
{
	const gchar *hex[] = {fuzz_ak_rsa, fuzz_ak_ecc};
	const gchar *policy =
		"{\"15\": \"0000000000000000000000000000000000000000000000000000000000000000\","
		" \"22\": \"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\"}";

	for (guint i = 0; i < G_N_ELEMENTS(hex); i++) {
		g_autoptr(GBytes) raw = kl_crypto_hex_decode(hex[i], NULL);
		g_autoptr(KlTpmPublic) pub =
			kl_tpm_public_new_from_data(g_bytes_get_data(raw, NULL),
						    g_bytes_get_size(raw),
						    NULL);
		if (pub == NULL)
			g_error("fixed AK %u does not parse", i);
		fuzz_keys[i] = kl_quote_key_new(kl_tpm_public_get_key(pub));
	}
	fuzz_policy = kl_tpm_policy_new_from_json(policy, strlen(policy), NULL);
	if (fuzz_policy == NULL)
		g_error("fixed policy does not parse");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static gsize initialized = 0;
	g_autofree gchar *text = g_strndup((const gchar *)data, size);
	g_autoptr(KlQuote) quote = NULL;
	g_autoptr(GPtrArray) findings = kl_findings_new();
	KlQuoteClockInfo initial;
	KlQuoteClockInfo clock;
	GPtrArray *banks;

	if (g_once_init_enter(&initialized)) {
		fuzz_init();
		g_once_init_leave(&initialized, 1);
	}
	quote = kl_quote_new_from_string(text, NULL);
	if (quote == NULL)
		return 0;
	for (guint i = 0; i < G_N_ELEMENTS(fuzz_keys); i++) {
		kl_quote_verify(quote, fuzz_keys[i], FUZZ_NONCE, "sha256", 0, findings);
		kl_quote_verify(quote,
				fuzz_keys[i],
				FUZZ_NONCE,
				"sha256",
				KL_QUOTE_VERIFY_FLAG_ALLOW_RSAPSS,
				findings);
		kl_quote_verify(quote, fuzz_keys[i], "a2wtZnV6eg==", "sha1", 0, findings);
	}
	kl_quote_clock_info_init(&initial);
	kl_quote_get_clock_info(quote, &clock);
	kl_quote_check_clock(&initial, &clock, findings);
	banks = kl_quote_get_pcr_banks(quote);
	for (guint i = 0; i < banks->len; i++) {
		KlPcrBank *bank = g_ptr_array_index(banks, i);
		kl_quote_check_pcr16(bank, "-----BEGIN PUBLIC KEY-----\n", findings);
		kl_tpm_policy_check(fuzz_policy, bank, 0, findings);
	}
	for (guint i = 0; i < findings->len; i++) {
		g_autofree gchar *line = kl_finding_to_string(g_ptr_array_index(findings, i));
	}
	return 0;
}
