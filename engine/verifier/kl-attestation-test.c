/*
 * Tests of one attestation round with real evidence: quotes made by the
 * agent's KlTpmSoft with PCR 16 bound to an NK and PCR 10 extended with
 * the IMA entries it reports, IMA logs from tests/data/ima and entries
 * made here, UEFI logs from tests/data/eventlogs with the shipped boot
 * policies.
 */
#include "config.h"

#include "kl-attestation.h"
#include "kl-crypto.h"
#include "kl-eventlog.h"
#include "kl-json.h"
#include "kl-test-agent.h"
#include "kl-test-data.h"
#include "kl-tpm-soft.h"

#define NONCE	 "kl-attestation-nonce-01"
#define MASK_IMA (1u << 10)

typedef struct {
	KlTpm *tpm;
	gchar *nk_pem;
	GString *log; /* entries reported so far */
	guint n_entries;
	KlRuntimePolicyBuilder *builder;
} Fixture;

static KlTpm *
soft_new(TPM2_ALG_ID enc_alg, TPM2_ALG_ID sign_alg)
{
	g_autoptr(GError) error = NULL;
	KlTpmOptions options;
	KlTpm *tpm;

	kl_tpm_options_init(&options);
	options.enc_alg = enc_alg;
	options.sign_alg = sign_alg;
	options.hash_alg = TPM2_ALG_SHA256;
	tpm = kl_tpm_soft_new(&options, &error);
	g_assert_no_error(error);
	return tpm;
}

static void
fixture_setup(Fixture *fx, gconstpointer data)
{
	fx->tpm = soft_new(TPM2_ALG_RSA, TPM2_ALG_RSASSA);
	fx->nk_pem = kl_test_load_data(NULL, "ima", "ima-key-rsa.pub.pem", NULL);
	fx->log = g_string_new(NULL);
	fx->builder = kl_runtime_policy_builder_new();
}

static void
fixture_teardown(Fixture *fx, gconstpointer data)
{
	g_object_unref(fx->tpm);
	g_free(fx->nk_pem);
	g_string_free(fx->log, TRUE);
	kl_runtime_policy_builder_free(fx->builder);
}

static void
extend(KlTpm *tpm, guint pcr, const guint8 *digest, gsize len)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) bytes = g_bytes_new(digest, len);

	g_assert_true(KL_TPM_GET_CLASS(tpm)->pcr_extend(tpm, pcr, TPM2_ALG_SHA256, bytes, &error));
	g_assert_no_error(error);
}

/* Parses @lines (an IMA ascii list); for each entry extends PCR 10 as
 * the kernel does (@measure) or lists the file in the policy (!@measure). */
static void
fixture_ima(Fixture *fx, const gchar *lines, gboolean measure)
{
	g_autoptr(KlImaLogParser) parser = kl_ima_log_parser_new_for_data(lines, strlen(lines));
	g_autoptr(GError) error = NULL;
	const KlImaEntry *entry;

	while ((entry = kl_ima_log_parser_next(parser, NULL, &error)) != NULL) {
		guint8 hash[EVP_MAX_MD_SIZE];
		gsize len = 0;
		if (!measure) {
			g_assert_true(
				kl_runtime_policy_builder_add_digest(fx->builder,
								     KL_RUNTIME_POLICY_MAP_DIGESTS,
								     entry->name,
								     entry->digest_hex,
								     &error));
			continue;
		}
		g_assert_true(kl_crypto_digest("sha256",
					       entry->template_data,
					       entry->template_data_len,
					       hash,
					       &len,
					       NULL));
		extend(fx->tpm, 10, hash, len);
		fx->n_entries++;
	}
	g_assert_no_error(error);
	if (measure)
		g_string_append(fx->log, lines);
}

static gchar *
fixture_quote(Fixture *fx, const gchar *nonce, guint32 mask)
{
	g_autoptr(GError) error = NULL;
	gchar *quote = kl_tpm_quote(fx->tpm, nonce, mask, TPM2_ALG_SHA256, fx->nk_pem, &error);

	g_assert_no_error(error);
	return quote;
}

/* GET /quotes/integrity results */
static JsonObject *
response_new(KlTpm *tpm, const gchar *quote, const gchar *pubkey)
{
	JsonObject *response = json_object_new();

	json_object_set_string_member(response, "quote", quote);
	json_object_set_string_member(response, "hash_alg", kl_tpm_get_hash_alg(tpm));
	json_object_set_string_member(response, "enc_alg", kl_tpm_get_enc_alg(tpm));
	json_object_set_string_member(response, "sign_alg", kl_tpm_get_sign_alg(tpm));
	if (pubkey != NULL)
		json_object_set_string_member(response, "pubkey", pubkey);
	return response;
}

static void
response_set_ima(JsonObject *response, const gchar *list, gint64 entry, gint64 boottime)
{
	json_object_set_string_member(response, "ima_measurement_list", list);
	json_object_set_int_member(response, "ima_measurement_list_entry", entry);
	json_object_set_int_member(response, "boottime", boottime);
}

static KlQuoteKey *
ak_of(KlTpm *tpm)
{
	return kl_quote_key_new(kl_tpm_public_get_key(kl_tpm_get_ak(tpm)));
}

static KlAttestationInput *
input_new(KlTpm *tpm, JsonObject *response, KlRuntimePolicy *policy)
{
	KlAttestationInput *input = kl_attestation_input_new();

	input->response = response;
	input->nonce = g_strdup(NONCE);
	input->ak = ak_of(tpm);
	input->accept_hash_algs = g_strsplit("sha256 sha384", " ", -1);
	input->accept_enc_algs = g_strsplit("rsa2048 ecc", " ", -1);
	input->accept_sign_algs = g_strsplit("rsassa ecdsa", " ", -1);
	input->runtime_policy = policy != NULL ? kl_runtime_policy_ref(policy) : NULL;
	return input;
}

static KlFinding *
find(KlAttestationResult *result, const gchar *event_id)
{
	for (guint i = 0; i < result->findings->len; i++) {
		KlFinding *finding = g_ptr_array_index(result->findings, i);
		if (g_strcmp0(finding->event_id, event_id) == 0)
			return finding;
	}
	return NULL;
}

static void
dump(KlAttestationResult *result)
{
	for (guint i = 0; i < result->findings->len; i++) {
		g_autofree gchar *text =
			kl_finding_to_string(g_ptr_array_index(result->findings, i));
		g_test_message("finding: %s", text);
	}
}

static KlRuntimePolicy *
fixture_policy(Fixture *fx)
{
	g_autoptr(GError) error = NULL;
	KlRuntimePolicy *policy = kl_runtime_policy_builder_build(fx->builder, &error);

	g_assert_no_error(error);
	return policy;
}

static KlAttestationResult *
run(KlAttestationInput *input)
{
	KlAttestationResult *result = kl_attestation_run(input);
	dump(result);
	return result;
}

/* a first round from entry 0, then two new entries from the saved state */
static void
test_good_then_incremental(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *first = kl_test_load_data(NULL, "ima", "ima-log-sha256", NULL);
	g_autofree gchar *line1 = kl_test_ima_ng_line("/usr/bin/keylime-one", NULL);
	g_autofree gchar *line2 = kl_test_ima_ng_line("/usr/lib/keylime-two.so", NULL);
	g_autofree gchar *batch2 = g_strconcat(line1, line2, NULL);
	g_autofree gchar *quote1 = NULL;
	g_autofree gchar *quote2 = NULL;
	g_autoptr(KlRuntimePolicy) policy = NULL;
	g_autoptr(KlAttestationInput) input1 = NULL;
	g_autoptr(KlAttestationInput) input2 = NULL;
	g_autoptr(KlAttestationResult) result1 = NULL;
	g_autoptr(KlAttestationResult) result2 = NULL;
	JsonObject *response;

	fixture_ima(fx, first, FALSE);
	fixture_ima(fx, batch2, FALSE);
	policy = fixture_policy(fx);

	fixture_ima(fx, first, TRUE);
	quote1 = fixture_quote(fx, NONCE, MASK_IMA);
	response = response_new(fx->tpm, quote1, fx->nk_pem);
	response_set_ima(response, first, 0, 1700000000);
	input1 = input_new(fx->tpm, response, policy);
	result1 = run(input1);
	g_assert_true(result1->passed);
	g_assert_cmpuint(result1->findings->len, ==, 0);
	g_assert_null(result1->severity_label);
	g_assert_true(result1->ima_evaluated);
	g_assert_cmpuint(result1->ima_state.next_entry, ==, 2);
	g_assert_cmpint(result1->boottime, ==, 1700000000);
	g_assert_true(result1->have_clock_info);
	g_assert_cmpstr(result1->nk_pubkey, ==, fx->nk_pem);
	g_assert_cmpstr(result1->hash_alg, ==, "sha256");
	g_assert_cmpstr(result1->enc_alg, ==, "rsa");
	g_assert_cmpstr(result1->sign_alg, ==, "rsassa");
	g_assert_cmpuint(result1->ima_counts.good, ==, 2);

	/* partial=1: no pubkey, the cached one is used */
	fixture_ima(fx, batch2, TRUE);
	quote2 = fixture_quote(fx, NONCE, MASK_IMA);
	response = response_new(fx->tpm, quote2, NULL);
	response_set_ima(response, batch2, 2, 1700000000);
	input2 = input_new(fx->tpm, response, policy);
	input2->nk_pubkey = g_strdup(fx->nk_pem);
	input2->ima_state = result1->ima_state;
	input2->boottime = result1->boottime;
	input2->clock_info = result1->clock_info;
	input2->attestation_count = 1;
	result2 = run(input2);
	g_assert_true(result2->passed);
	g_assert_cmpuint(result2->ima_state.next_entry, ==, 4);
	g_assert_cmpuint(result2->ima_counts.entries, ==, 2);
	g_assert_null(result2->nk_pubkey);
	g_assert_cmpuint(result2->clock_info.clock, >, result1->clock_info.clock);

	/* the same batch again from the old state: entry number mismatch */
	{
		g_autoptr(KlAttestationInput) input3 = NULL;
		g_autoptr(KlAttestationResult) result3 = NULL;
		g_autofree gchar *quote3 = fixture_quote(fx, NONCE, MASK_IMA);
		response = response_new(fx->tpm, quote3, fx->nk_pem);
		response_set_ima(response, batch2, 3, 1700000000);
		input3 = input_new(fx->tpm, response, policy);
		input3->ima_state = result2->ima_state;
		input3->boottime = result2->boottime;
		result3 = run(input3);
		g_assert_false(result3->passed);
		g_assert_nonnull(find(result3, "qoute_validation.invalid_ima_entry_nb"));
		g_assert_true(result3->irrecoverable);
		g_assert_true(result3->stop_polling);
	}
}

/* upstream's base policy lists neither file of the log */
static void
test_not_in_allowlist(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *first = kl_test_load_data(NULL, "ima", "ima-log-sha256", NULL);
	g_autofree gchar *policy_json = kl_test_load_data(NULL, "ima", "policy-sha256", NULL);
	g_autofree gchar *quote = NULL;
	g_autoptr(KlRuntimePolicy) policy = NULL;
	g_autoptr(KlAttestationInput) input = NULL;
	g_autoptr(KlAttestationResult) result = NULL;
	g_autoptr(GError) error = NULL;
	JsonObject *response;
	KlFinding *finding;

	policy = kl_runtime_policy_new_from_json(policy_json, strlen(policy_json), &error);
	g_assert_no_error(error);
	fixture_ima(fx, first, TRUE);
	quote = fixture_quote(fx, NONCE, MASK_IMA);
	response = response_new(fx->tpm, quote, fx->nk_pem);
	response_set_ima(response, first, 0, 1);
	input = input_new(fx->tpm, response, policy);
	result = run(input);
	g_assert_false(result->passed);
	finding = find(result, "ima.validation.ima-ng.not_in_allowlist");
	g_assert_nonnull(finding);
	g_assert_cmpstr(finding->subject, ==, "boot_aggregate");
	finding = g_ptr_array_index(result->findings, 1);
	g_assert_cmpstr(finding->event_id, ==, "ima.validation.ima-ng.not_in_allowlist");
	g_assert_cmpstr(finding->subject, ==, "/data");
	g_assert_false(result->irrecoverable);
	g_assert_cmpstr(result->severity_label, ==, "emergency");
	g_assert_cmpstr(result->event_id, ==, "ima.validation.ima-ng.not_in_allowlist");
	g_assert_true(result->stop_polling);
	/* a failed batch is replayed from the start next time */
	g_assert_true(result->ima_evaluated);
	g_assert_cmpuint(result->ima_state.next_entry, ==, 0);
}

static KlAttestationResult *
quote_round(Fixture *fx, const gchar *quote, const gchar *pubkey, KlTpm *ak_tpm)
{
	g_autoptr(KlAttestationInput) input = NULL;

	input = input_new(ak_tpm, response_new(fx->tpm, quote, pubkey), NULL);
	input->tpm_policy = g_strdup(
		"{\"15\": \"0000000000000000000000000000000000000000000000000000000000000000\"}");
	return run(input);
}

static void
assert_quote_failure(KlAttestationResult *result, const gchar *event_id, const gchar *subject)
{
	KlFinding *finding = find(result, event_id);

	g_assert_false(result->passed);
	g_assert_nonnull(finding);
	if (subject != NULL)
		g_assert_cmpstr(finding->subject, ==, subject);
}

static void
test_quote_failures(Fixture *fx, gconstpointer data)
{
	g_autoptr(KlTpm) other = soft_new(TPM2_ALG_RSA, TPM2_ALG_RSASSA);
	g_autofree gchar *good = fixture_quote(fx, NONCE, 1u << 15);
	g_autofree gchar *wrong_nonce = fixture_quote(fx, "another-nonce", 1u << 15);
	g_autofree gchar *tampered = NULL;
	g_autofree gchar *no_pcr16 = NULL;
	g_autoptr(KlAttestationResult) ok = NULL;
	g_autoptr(KlAttestationResult) nonce = NULL;
	g_autoptr(KlAttestationResult) ak = NULL;
	g_autoptr(KlAttestationResult) blob = NULL;
	g_autoptr(KlAttestationResult) pcr16 = NULL;
	g_autoptr(KlAttestationResult) nk = NULL;
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) parts = NULL;

	ok = quote_round(fx, good, fx->nk_pem, fx->tpm);
	g_assert_true(ok->passed);

	nonce = quote_round(fx, wrong_nonce, fx->nk_pem, fx->tpm);
	assert_quote_failure(nonce, "qoute_validation.quote_validation", "nonce");
	g_assert_true(nonce->irrecoverable);
	g_assert_false(nonce->have_clock_info);

	ak = quote_round(fx, good, fx->nk_pem, other);
	assert_quote_failure(ak, "qoute_validation.quote_validation", "signature");
	g_assert_true(ak->irrecoverable);

	/* another PCR 15 value in the blob than the one signed */
	{
		g_autoptr(GBytes) attest = NULL;
		g_autoptr(GBytes) sig = NULL;
		g_autoptr(GBytes) pcrs = NULL;
		g_autoptr(GPtrArray) banks = NULL;
		g_autoptr(KlPcrBank) bank = NULL;
		g_autofree guint8 *a = NULL;
		g_autofree guint8 *s = NULL;
		gsize a_len = 0, s_len = 0;
		guint8 ones[32];

		parts = g_strsplit(good + 1, ":", 3);
		a = g_base64_decode(parts[0], &a_len);
		s = g_base64_decode(parts[1], &s_len);
		attest = g_bytes_new(a, a_len);
		sig = g_bytes_new(s, s_len);
		memset(ones, 0x11, sizeof(ones));
		bank = kl_tpm_read_pcrs(fx->tpm, (1u << 15) | (1u << 16), TPM2_ALG_SHA256, &error);
		g_assert_no_error(error);
		g_assert_true(kl_pcr_bank_set(bank, 15, ones, 32, &error));
		banks = g_ptr_array_new();
		g_ptr_array_add(banks, bank);
		pcrs = kl_tpm_pcrblob_build(banks, &error);
		g_assert_no_error(error);
		tampered = kl_quote_encode(attest, sig, pcrs);
	}
	blob = quote_round(fx, tampered, fx->nk_pem, fx->tpm);
	assert_quote_failure(blob, "qoute_validation.quote_validation", "PCR digest");

	/* a quote the TPM signed without PCR 16 */
	{
		g_autoptr(GBytes) attest = NULL;
		g_autoptr(GBytes) sig = NULL;
		g_autoptr(GBytes) pcrs = NULL;
		g_autoptr(GPtrArray) banks = g_ptr_array_new();
		g_autoptr(KlPcrBank) bank = NULL;

		g_assert_true(KL_TPM_GET_CLASS(fx->tpm)->quote(fx->tpm,
							       (const guint8 *)NONCE,
							       strlen(NONCE),
							       1u << 15,
							       TPM2_ALG_SHA256,
							       &attest,
							       &sig,
							       &error));
		bank = kl_tpm_read_pcrs(fx->tpm, 1u << 15, TPM2_ALG_SHA256, &error);
		g_assert_no_error(error);
		g_ptr_array_add(banks, bank);
		pcrs = kl_tpm_pcrblob_build(banks, &error);
		g_assert_no_error(error);
		no_pcr16 = kl_quote_encode(attest, sig, pcrs);
	}
	pcr16 = quote_round(fx, no_pcr16, fx->nk_pem, fx->tpm);
	assert_quote_failure(pcr16, "pcr_validation.missing_pcr_16", "PCR 16");

	{
		g_autofree gchar *other_nk =
			kl_test_load_data(NULL, "ima", "ima-key-ec.pub.pem", NULL);
		nk = quote_round(fx, good, other_nk, fx->tpm);
		assert_quote_failure(nk, "pcr_validation.invalid_pcr_16", NULL);
		g_assert_false(nk->irrecoverable);
	}
}

static void
test_tpm_policy_and_ecdsa(Fixture *fx, gconstpointer data)
{
	g_autoptr(KlTpm) ecc = soft_new(TPM2_ALG_ECC, TPM2_ALG_ECDSA);
	g_autoptr(KlAttestationResult) pass = NULL;
	g_autoptr(KlAttestationResult) fail = NULL;
	g_autoptr(KlAttestationInput) input = NULL;
	g_autofree gchar *quote = NULL;
	guint8 digest[32];

	g_set_object(&fx->tpm, ecc);
	quote = fixture_quote(fx, NONCE, 1u << 15);
	pass = quote_round(fx, quote, fx->nk_pem, ecc);
	g_assert_true(pass->passed);
	g_assert_cmpstr(pass->enc_alg, ==, "ecc");

	memset(digest, 0xab, sizeof(digest));
	extend(ecc, 15, digest, sizeof(digest));
	g_clear_pointer(&quote, g_free);
	quote = fixture_quote(fx, NONCE, 1u << 15);
	fail = quote_round(fx, quote, fx->nk_pem, ecc);
	assert_quote_failure(fail, "pcr_validation.invalid_pcr_15", "PCR 15");

	/* the policy lists PCR 22, which is not quoted */
	input = input_new(ecc, response_new(ecc, quote, fx->nk_pem), NULL);
	input->tpm_policy = g_strdup(
		"{\"22\": [\"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\"]}");
	{
		g_autoptr(KlAttestationResult) missing = run(input);
		assert_quote_failure(missing, "pcr_validation.missing_pcrs", NULL);
	}
}

static void
test_algorithms(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *quote = fixture_quote(fx, NONCE, 0);
	const struct {
		const gchar *hash, *enc, *sign;
		const gchar *event_id;
	} cases[] = {
		{"sha512", "rsa2048", "rsassa", "qoute_validation.invalid_hash_alg"},
		{"sha256", "ecc", "rsassa", "qoute_validation.invalid_enc_alg"},
		{"sha256", "rsa2048", "ecschnorr", "qoute_validation.invalid_sign_alg"},
		{"sha256", "rsa", "rsassa", NULL}, /* the alias: rsa is rsa2048 */
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(KlAttestationInput) input =
			input_new(fx->tpm, response_new(fx->tpm, quote, fx->nk_pem), NULL);
		g_autoptr(KlAttestationResult) result = NULL;
		g_strfreev(input->accept_hash_algs);
		g_strfreev(input->accept_enc_algs);
		g_strfreev(input->accept_sign_algs);
		input->accept_hash_algs = g_strsplit(cases[i].hash, " ", -1);
		input->accept_enc_algs = g_strsplit(cases[i].enc, " ", -1);
		input->accept_sign_algs = g_strsplit(cases[i].sign, " ", -1);
		result = run(input);
		if (cases[i].event_id == NULL) {
			g_assert_true(result->passed);
			continue;
		}
		assert_quote_failure(result, cases[i].event_id, NULL);
		g_assert_true(result->irrecoverable);
		g_assert_true(result->stop_polling);
		g_assert_cmpuint(result->findings->len, ==, 1);
		g_assert_null(result->hash_alg);
	}
}

static void
test_clock_backwards(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *quote = fixture_quote(fx, NONCE, 0);
	g_autoptr(KlAttestationInput) input =
		input_new(fx->tpm, response_new(fx->tpm, quote, fx->nk_pem), NULL);
	g_autoptr(KlAttestationResult) result = NULL;

	input->clock_info.clock = G_MAXUINT64 / 2;
	result = run(input);
	assert_quote_failure(result, "qoute_validation.quote_validation", "clock");
	g_assert_true(result->irrecoverable);
	g_assert_false(result->have_clock_info);
}

static void
test_reboot(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *first = kl_test_load_data(NULL, "ima", "ima-log-sha256", NULL);
	g_autofree gchar *quote = NULL;
	g_autoptr(KlAttestationInput) input = NULL;
	g_autoptr(KlAttestationInput) fresh = NULL;
	g_autoptr(KlAttestationResult) result = NULL;
	g_autoptr(KlAttestationResult) fresh_result = NULL;
	JsonObject *response;

	fixture_ima(fx, first, TRUE);
	quote = fixture_quote(fx, NONCE, MASK_IMA);

	/* the agent rebooted: its log no longer has entry 7 */
	response = response_new(fx->tpm, quote, fx->nk_pem);
	response_set_ima(response, "", 7, 2000);
	input = input_new(fx->tpm, response, NULL);
	input->ima_state.next_entry = 7;
	input->boottime = 1000;
	result = run(input);
	g_assert_true(result->passed);
	g_assert_true(result->ima_evaluated);
	g_assert_true(kl_ima_state_is_fresh(&result->ima_state));
	g_assert_cmpint(result->boottime, ==, 2000);

	/* entry 0 with a fresh log replays from the start */
	response = response_new(fx->tpm, quote, fx->nk_pem);
	response_set_ima(response, first, 0, 1000);
	fresh = input_new(fx->tpm, response, NULL);
	fresh->ima_state.next_entry = 7;
	fresh->boottime = 1000;
	fresh_result = run(fresh);
	g_assert_true(fresh_result->passed);
	g_assert_cmpuint(fresh_result->ima_state.next_entry, ==, 2);

	/* PCR 10 quoted without a list */
	{
		g_autoptr(KlAttestationInput) none =
			input_new(fx->tpm, response_new(fx->tpm, quote, fx->nk_pem), NULL);
		g_autoptr(KlAttestationResult) none_result = run(none);
		assert_quote_failure(none_result, "pcr_validation.unused_pcr_10", "PCR 10");
	}
}

static KlAttestationMb *
mb_new(const gchar *name, JsonArray *events)
{
	g_autofree gchar *dir =
		g_test_build_filename(G_TEST_DIST, "..", "data", "mb-policies", NULL);
	const gchar *dirs[] = {dir, NULL};
	g_autoptr(GError) error = NULL;
	KlMbPolicy *policy = kl_mb_policy_load(name, dirs, &error);
	KlMbRefstate *refstate = NULL;
	KlAttestationMb *mb;

	g_assert_no_error(error);
	refstate = kl_mb_refstate_new_from_events(events, TRUE, NULL, &error);
	g_assert_no_error(error);
	mb = kl_attestation_mb_new(policy, refstate, &error);
	g_assert_no_error(error);
	g_assert_nonnull(mb);
	return mb;
}

static void
test_measured_boot(Fixture *fx, gconstpointer data)
{
	gsize len = 0;
	g_autofree gchar *raw =
		kl_test_load_data(&len, "eventlogs", "binary_bios_measurements-secureboot", NULL);
	g_autofree gchar *b64 = g_base64_encode((const guint8 *)raw, len);
	g_autoptr(GError) error = NULL;
	g_autoptr(KlEventLog) log = kl_eventlog_new_from_data((const guint8 *)raw, len, &error);
	g_autoptr(JsonNode) events = NULL;
	g_autoptr(KlAttestationMb) accept = NULL;
	g_autoptr(KlAttestationMb) reject = NULL;
	g_autofree gchar *quote0 = NULL;
	g_autofree gchar *quote = NULL;
	const struct {
		gboolean reject;
		guint64 count;
		KlMbEvaluate mode;
		gboolean passes;
	} cases[] = {
		{FALSE, 0, KL_MB_EVALUATE_ONCE, TRUE},
		{TRUE, 0, KL_MB_EVALUATE_ONCE, FALSE},
		{TRUE, 3, KL_MB_EVALUATE_ONCE, TRUE}, /* evaluated once: skipped now */
		{TRUE, 3, KL_MB_EVALUATE_ALWAYS, FALSE},
	};

	g_assert_no_error(error);
	events = kl_eventlog_events_to_json(log);
	accept = mb_new("accept-all", json_node_get_array(events));
	reject = mb_new("reject-all", json_node_get_array(events));

	/* PCR 0 before the boot was replayed into it: the log does not match */
	quote0 = fixture_quote(fx, NONCE, 1u << 0);
	{
		g_autoptr(KlAttestationInput) input = NULL;
		g_autoptr(KlAttestationResult) result = NULL;
		JsonObject *response = response_new(fx->tpm, quote0, fx->nk_pem);
		json_object_set_string_member(response, "mb_measurement_list", b64);
		input = input_new(fx->tpm, response, NULL);
		input->mb = kl_attestation_mb_ref(accept);
		result = run(input);
		assert_quote_failure(result, "measured_boot.invalid_pcr_0", NULL);
	}

	/* the TPM measures the boot the log records */
	{
		GPtrArray *list = kl_eventlog_get_events(log);
		KlPcrBank *replayed = kl_eventlog_get_pcrs(log, TPM2_ALG_SHA256, &error);
		g_autoptr(KlPcrBank) now = NULL;
		g_assert_no_error(error);
		for (guint i = 0; i < list->len; i++) {
			const KlEvent *event = g_ptr_array_index(list, i);
			GBytes *digest = kl_event_get_digest(event, TPM2_ALG_SHA256);
			if (event->type == KL_EV_NO_ACTION || digest == NULL || event->pcr >= 16)
				continue;
			extend(fx->tpm,
			       event->pcr,
			       g_bytes_get_data(digest, NULL),
			       g_bytes_get_size(digest));
		}
		now = kl_tpm_read_pcrs(fx->tpm, 0xffff & ~(1u << 10), TPM2_ALG_SHA256, &error);
		g_assert_no_error(error);
		if (!g_bytes_equal(kl_pcr_bank_get(now, 0), kl_pcr_bank_get(replayed, 0)))
			g_test_message("PCR 0 differs (startup locality)");
	}
	quote = fixture_quote(fx, NONCE, 0x7bfeu); /* PCR 1-9, 11-14 */

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(KlAttestationInput) input = NULL;
		g_autoptr(KlAttestationResult) result = NULL;
		JsonObject *response = response_new(fx->tpm, quote, fx->nk_pem);
		json_object_set_string_member(response, "mb_measurement_list", b64);
		input = input_new(fx->tpm, response, NULL);
		input->mb = kl_attestation_mb_ref(cases[i].reject ? reject : accept);
		input->attestation_count = cases[i].count;
		input->mb_evaluate = cases[i].mode;
		result = run(input);
		g_assert_cmpint(result->passed, ==, cases[i].passes);
		if (!cases[i].passes)
			g_assert_nonnull(find(result, "measured_boot.policy_reject-all"));
	}

	/* measured boot PCRs quoted and no log sent */
	{
		g_autoptr(KlAttestationInput) input =
			input_new(fx->tpm, response_new(fx->tpm, quote, fx->nk_pem), NULL);
		g_autoptr(KlAttestationResult) result = NULL;
		input->mb = kl_attestation_mb_ref(accept);
		result = run(input);
		assert_quote_failure(result, "pcr_validation.unused_pcr_1", "PCR 1");
	}
}

static void
test_severity_policy(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *first = kl_test_load_data(NULL, "ima", "ima-log-sha256", NULL);
	g_autofree gchar *quote = NULL;
	g_autoptr(KlSeverityPolicy) policy = NULL;
	g_autoptr(KlAttestationInput) input = NULL;
	g_autoptr(KlAttestationResult) result = NULL;
	g_autoptr(KlRuntimePolicy) empty = NULL;
	g_autoptr(GError) error = NULL;
	JsonObject *response;
	const struct {
		const gchar *labels, *policy, *option;
	} bad[] = {
		{"['a', 'a']", NULL, "severity_labels"},
		{"[]", NULL, "severity_labels"},
		{"['a', 1]", NULL, "severity_labels"},
		{"{'a': 1}", NULL, "severity_labels"},
		{NULL, "[{'event_id': '.*', 'severity_label': 'nope'}]", "severity_policy"},
		{NULL, "[{'event_id': '(', 'severity_label': 'info'}]", "severity_policy"},
		{NULL, "[{'event_id': '.*'}]", "severity_policy"},
		{NULL, "['x']", "severity_policy"},
		{NULL, "[{'event_id': '.*", "severity_policy"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(KlSeverityPolicy) p =
			kl_attestation_severity_policy_parse(bad[i].labels, bad[i].policy, &error);
		g_assert_null(p);
		g_assert_error(error, KL_ATTESTATION_ERROR, KL_ATTESTATION_ERROR_INVALID_SEVERITY);
		g_assert_true(g_str_has_prefix(error->message, bad[i].option));
		g_clear_error(&error);
	}

	/* Python literals as verifier.conf writes them; fullmatch semantics */
	policy = kl_attestation_severity_policy_parse(
		"['info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency',]",
		"[{'event_id': 'ima\\\\..*', 'severity_label': 'warning'},"
		" {\"event_id\": \"pcr_validation\", \"severity_label\": \"error\"}]",
		&error);
	g_assert_no_error(error);
	g_assert_cmpuint(kl_severity_policy_get_level(policy, "ima.pcr_mismatch", FALSE), ==, 2);
	g_assert_cmpuint(kl_severity_policy_get_level(policy, "ima.pcr_mismatch", TRUE), ==, 6);
	g_assert_cmpuint(kl_severity_policy_get_level(policy, "pcr_validation.x", FALSE), ==, 6);
	g_assert_cmpuint(kl_severity_policy_get_level(policy, "xima.y", FALSE), ==, 6);

	empty = fixture_policy(fx);
	fixture_ima(fx, first, TRUE);
	quote = fixture_quote(fx, NONCE, MASK_IMA);
	response = response_new(fx->tpm, quote, fx->nk_pem);
	response_set_ima(response, first, 0, 1);
	input = input_new(fx->tpm, response, empty);
	input->severity = kl_severity_policy_ref(policy);
	result = run(input);
	g_assert_false(result->passed);
	g_assert_cmpstr(result->severity_label, ==, "warning");
	g_assert_cmpuint(result->severity_level, ==, 2);
	g_assert_false(result->irrecoverable);
	g_assert_false(result->stop_polling); /* a lower label: poll again at once */
}

static void
test_garbage(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *quote = fixture_quote(fx, NONCE, MASK_IMA);
	const gchar *responses[] = {
		"{}",
		"{\"quote\": 5, \"hash_alg\": \"sha256\", \"enc_alg\": \"rsa\", \"sign_alg\": "
		"\"rsassa\"}",
		"{\"hash_alg\": \"sha256\", \"enc_alg\": \"rsa\", \"sign_alg\": \"rsassa\", "
		"\"pubkey\": \"x\"}",
		"{\"quote\": \"rAAAA:BBBB:CCCC\", \"hash_alg\": \"sha256\", \"enc_alg\": \"rsa\", "
		"\"sign_alg\": \"rsassa\", \"pubkey\": \"x\"}",
		"{\"quote\": \"QUOTE\", \"hash_alg\": [1], \"enc_alg\": \"rsa\", \"sign_alg\": "
		"\"rsassa\"}",
		"{\"quote\": \"QUOTE\", \"hash_alg\": \"sha256\", \"enc_alg\": \"rsa\", "
		"\"sign_alg\": \"rsassa\", \"pubkey\": \"x\", \"ima_measurement_list\": 3}",
		"{\"quote\": \"QUOTE\", \"hash_alg\": \"sha256\", \"enc_alg\": \"rsa\", "
		"\"sign_alg\": \"rsassa\", \"pubkey\": \"x\", \"ima_measurement_list\": \"10 "
		"zz\\n\", "
		"\"ima_measurement_list_entry\": \"x\"}",
		"{\"quote\": \"QUOTE\", \"hash_alg\": \"sha256\", \"enc_alg\": \"rsa\", "
		"\"sign_alg\": \"rsassa\", \"pubkey\": \"x\", \"ima_measurement_list\": \"10 "
		"zz\\n\", "
		"\"ima_measurement_list_entry\": -4}",
		"{\"quote\": \"QUOTE\", \"hash_alg\": \"sha256\", \"enc_alg\": \"rsa\", "
		"\"sign_alg\": \"rsassa\", \"pubkey\": \"x\", \"ima_measurement_list\": \"10 "
		"zz\\n\", "
		"\"mb_measurement_list\": \"!!\"}",
		"{\"quote\": \"QUOTE\", \"hash_alg\": \"sha256\", \"enc_alg\": \"rsa\", "
		"\"sign_alg\": \"rsassa\", \"pubkey\": \"x\", \"ima_measurement_list\": \"10 "
		"zz\\n\", "
		"\"boottime\": {}}",
	};

	for (guint i = 0; i < G_N_ELEMENTS(responses); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GString) text = g_string_new(responses[i]);
		g_autoptr(KlAttestationInput) input = NULL;
		g_autoptr(KlAttestationResult) result = NULL;
		JsonObject *response;

		g_string_replace(text, "QUOTE", quote, 0);
		response = kl_json_parse_object(text->str, text->len, 1 << 20, 8, &error);
		g_assert_no_error(error);
		input = input_new(fx->tpm, response, NULL);
		result = run(input);
		g_assert_false(result->passed);
		g_assert_cmpuint(result->findings->len, >, 0);
		g_assert_nonnull(result->event_id);
	}
	{
		g_autoptr(KlAttestationInput) input = input_new(fx->tpm, NULL, NULL);
		g_autoptr(KlAttestationResult) result = run(input);
		g_assert_false(result->passed);
		g_assert_true(result->irrecoverable);
	}
}

/* many IMA failures: all count for the severity, a capped number is kept */
static void
test_ima_cap(Fixture *fx, gconstpointer data)
{
	g_autoptr(GString) lines = g_string_new(NULL);
	g_autoptr(KlRuntimePolicy) empty = NULL;
	g_autoptr(KlAttestationInput) input = NULL;
	g_autoptr(KlAttestationResult) result = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *quote = NULL;
	JsonObject *response;

	for (guint i = 0; i < KL_ATTESTATION_MAX_IMA_FINDINGS + 20; i++) {
		g_autofree gchar *path = g_strdup_printf("/bin/f%u", i);
		g_autofree gchar *line = kl_test_ima_ng_line(path, NULL);
		g_string_append(lines, line);
	}
	empty = fixture_policy(fx);
	fixture_ima(fx, lines->str, TRUE);
	quote = fixture_quote(fx, NONCE, MASK_IMA);
	response = response_new(fx->tpm, quote, fx->nk_pem);
	response_set_ima(response, lines->str, 0, 1);
	input = input_new(fx->tpm, response, empty);
	result = kl_attestation_run(input);
	g_assert_false(result->passed);
	g_assert_cmpuint(result->findings->len, ==, KL_ATTESTATION_MAX_IMA_FINDINGS);
	g_assert_cmpuint(result->ima_findings_dropped, ==, 20);
	g_assert_cmpuint(result->ima_counts.fnf, ==, KL_ATTESTATION_MAX_IMA_FINDINGS + 20);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add("/attestation/good-then-incremental",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_good_then_incremental,
		   fixture_teardown);
	g_test_add("/attestation/not-in-allowlist",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_not_in_allowlist,
		   fixture_teardown);
	g_test_add("/attestation/quote-failures",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_quote_failures,
		   fixture_teardown);
	g_test_add("/attestation/tpm-policy-and-ecdsa",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_tpm_policy_and_ecdsa,
		   fixture_teardown);
	g_test_add("/attestation/algorithms",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_algorithms,
		   fixture_teardown);
	g_test_add("/attestation/clock-backwards",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_clock_backwards,
		   fixture_teardown);
	g_test_add("/attestation/reboot",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_reboot,
		   fixture_teardown);
	g_test_add("/attestation/measured-boot",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_measured_boot,
		   fixture_teardown);
	g_test_add("/attestation/severity-policy",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_severity_policy,
		   fixture_teardown);
	g_test_add("/attestation/garbage",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_garbage,
		   fixture_teardown);
	g_test_add("/attestation/ima-cap",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_ima_cap,
		   fixture_teardown);
	return g_test_run();
}
