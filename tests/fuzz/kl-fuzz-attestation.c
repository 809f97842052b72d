/*
 * Fuzz target: an agent's GET /quotes/integrity results object through
 * every check of an attestation round (kl_attestation_run) with fixed
 * inputs: a KlTpmSoft ECDSA AK made at start, an NK bound in PCR 16, PCR
 * 10 extended with tests/data/ima/ima-log-sha256's two entries, a runtime
 * policy listing them and a tpm_policy.  The quote changes with every
 * process (the soft TPM's keys are new), so a "quote" of "@QUOTE@" is
 * replaced by the real one: mutations of every other member then reach
 * the IMA, PCR and UEFI log checks.  Quote strings themselves are
 * kl-fuzz-quote's.  The input also goes through the severity parser.
 */
#include "config.h"

#include "kl-attestation.h"
#include "kl-fuzz.h"
#include "kl-json.h"
#include "kl-tpm-soft.h"

#define FUZZ_NONCE "kl-fuzz-attestation-nonce"
#define FUZZ_NK                                                                       \
	"-----BEGIN PUBLIC KEY-----\n"                                                \
	"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEkl-fuzz-nk-not-a-real-key-but-bytes==\n" \
	"-----END PUBLIC KEY-----\n"

/* tests/data/ima/ima-log-sha256 */
static const gchar *fuzz_ima[][2] = {
	{"boot_aggregate", "f4845392eca429a4c941a6a07fc32faf843a88c5c3dfa3b9329ab8f4171d9ce3"},
	{"/data", "96d7fae8adb7286a419a88f78c13d35fb782d63df654b7db56f154765698b754"},
};
/* their template data SHA-256, what the kernel extends PCR 10 with */
static const gchar *fuzz_ima_log =
	"10 6309e2c83b7814367bb3912a55e5473454623535 ima-ng "
	"sha256:f4845392eca429a4c941a6a07fc32faf843a88c5c3dfa3b9329ab8f4171d9ce3 boot_aggregate\n"
	"10 80255d9c7dad91ef5f21b18560a47642d6f4d653 ima-ng "
	"sha256:96d7fae8adb7286a419a88f78c13d35fb782d63df654b7db56f154765698b754 /data\n";

static KlTpm *fuzz_tpm;
static gchar *fuzz_quote;
static KlRuntimePolicy *fuzz_policy;

static void
fuzz_init(void)
{
	g_autoptr(KlRuntimePolicyBuilder) builder = kl_runtime_policy_builder_new();
	g_autoptr(KlImaLogParser) parser =
		kl_ima_log_parser_new_for_data(fuzz_ima_log, strlen(fuzz_ima_log));
	g_autoptr(GError) error = NULL;
	const KlImaEntry *entry;
	KlTpmOptions options;

	kl_tpm_options_init(&options);
	options.enc_alg = TPM2_ALG_ECC;
	options.sign_alg = TPM2_ALG_ECDSA;
	fuzz_tpm = kl_tpm_soft_new(&options, &error);
	if (fuzz_tpm == NULL)
		g_error("soft TPM: %s", error->message);
	while ((entry = kl_ima_log_parser_next(parser, NULL, &error)) != NULL) {
		g_autoptr(GBytes) hash = kl_crypto_digest_bytes("sha256",
								entry->template_data,
								entry->template_data_len,
								NULL);
		if (!KL_TPM_GET_CLASS(fuzz_tpm)
			     ->pcr_extend(fuzz_tpm, 10, TPM2_ALG_SHA256, hash, &error))
			g_error("extend: %s", error->message);
	}
	fuzz_quote = kl_tpm_quote(fuzz_tpm, FUZZ_NONCE, 1u << 10, TPM2_ALG_SHA256, FUZZ_NK, &error);
	if (fuzz_quote == NULL)
		g_error("quote: %s", error->message);
	for (guint i = 0; i < G_N_ELEMENTS(fuzz_ima); i++) {
		if (!kl_runtime_policy_builder_add_digest(builder,
							  KL_RUNTIME_POLICY_MAP_DIGESTS,
							  fuzz_ima[i][0],
							  fuzz_ima[i][1],
							  &error))
			g_error("policy: %s", error->message);
	}
	fuzz_policy = kl_runtime_policy_builder_build(builder, &error);
	if (fuzz_policy == NULL)
		g_error("policy: %s", error->message);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static gsize initialized = 0;
	g_autofree gchar *text = g_strndup((const gchar *)data, size);
	g_autoptr(KlSeverityPolicy) severity = NULL;
	g_autoptr(KlAttestationInput) input = NULL;
	g_autoptr(KlAttestationResult) result = NULL;
	JsonObject *response;
	const gchar *quote;

	if (g_once_init_enter(&initialized)) {
		fuzz_init();
		g_once_init_leave(&initialized, 1);
	}
	severity = kl_attestation_severity_policy_parse(text, NULL, NULL);
	g_clear_pointer(&severity, kl_severity_policy_unref);
	severity = kl_attestation_severity_policy_parse(NULL, text, NULL);
	g_clear_pointer(&severity, kl_severity_policy_unref);

	response = kl_json_parse_object((const gchar *)data, size, 1 << 20, 16, NULL);
	if (response == NULL)
		return 0;
	quote = json_object_has_member(response, "quote") &&
				JSON_NODE_HOLDS_VALUE(json_object_get_member(response, "quote")) &&
				json_node_get_value_type(
					json_object_get_member(response, "quote")) == G_TYPE_STRING
			? json_object_get_string_member(response, "quote")
			: NULL;
	if (g_strcmp0(quote, "@QUOTE@") == 0)
		json_object_set_string_member(response, "quote", fuzz_quote);

	input = kl_attestation_input_new();
	input->response = response;
	input->nonce = g_strdup(FUZZ_NONCE);
	input->ak = kl_quote_key_new(kl_tpm_public_get_key(kl_tpm_get_ak(fuzz_tpm)));
	input->nk_pubkey = g_strdup(FUZZ_NK);
	input->accept_hash_algs = g_strsplit("sha256,sha1", ",", -1);
	input->accept_enc_algs = g_strsplit("rsa,ecc", ",", -1);
	input->accept_sign_algs = g_strsplit("rsassa,ecdsa", ",", -1);
	input->tpm_policy = g_strdup(
		"{\"15\": \"0000000000000000000000000000000000000000000000000000000000000000\"}");
	input->runtime_policy = kl_runtime_policy_ref(fuzz_policy);
	input->boottime = 1700000000;
	result = kl_attestation_run(input);
	for (guint i = 0; i < result->findings->len; i++) {
		g_autofree gchar *line =
			kl_finding_to_string(g_ptr_array_index(result->findings, i));
	}
	return 0;
}
