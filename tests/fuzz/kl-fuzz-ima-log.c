/*
 * Fuzz target: an IMA measurement list batch as an agent sends it —
 * parsed, replayed into PCR 10 (first bytes of the input reused as the
 * quoted value, so matches happen), resumed from a saved state, and
 * judged against a small runtime policy with learned keyrings.
 */
#include "config.h"

#include "kl-fuzz.h"
#include "kl-ima-verify.h"

static KlRuntimePolicy *
kl_fuzz_ima_policy(void)
{
	static KlRuntimePolicy *policy = NULL;
	g_autoptr(KlRuntimePolicyBuilder) builder = NULL;

	if (policy != NULL)
		return policy;
	builder = kl_runtime_policy_builder_new();
	kl_runtime_policy_builder_add_digest(
		builder,
		KL_RUNTIME_POLICY_MAP_DIGESTS,
		"boot_aggregate",
		"f4845392eca429a4c941a6a07fc32faf843a88c5c3dfa3b9329ab8f4171d9ce3",
		NULL);
	kl_runtime_policy_builder_add_digest(
		builder,
		KL_RUNTIME_POLICY_MAP_DIGESTS,
		"/data",
		"96d7fae8adb7286a419a88f78c13d35fb782d63df654b7db56f154765698b754",
		NULL);
	kl_runtime_policy_builder_add_digest(
		builder,
		KL_RUNTIME_POLICY_MAP_KEYRINGS,
		".ima",
		"a7d52aaa18c23d2d9bb2abb4308c0eeee67387a42259f4a6b1a42257065f3d5a",
		NULL);
	kl_runtime_policy_builder_add_exclude(builder, "/tmp/.*", NULL);
	kl_runtime_policy_builder_add_exclude(builder, "^/var/log/", NULL);
	policy = kl_runtime_policy_builder_build(builder, NULL);
	return policy;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(KlImaKeyrings) learned = kl_ima_keyrings_new();
	g_autoptr(KlImaLogParser) parser =
		kl_ima_log_parser_new_for_data((const gchar *)data, size);
	g_autoptr(GInputStream) stream =
		g_memory_input_stream_new_from_data(data, (gssize)size, NULL);
	g_autoptr(KlImaLogParser) streamed = kl_ima_log_parser_new_for_stream(stream);
	g_auto(KlImaResult) first = {0};
	g_auto(KlImaResult) second = {0};
	KlImaVerifyOptions options = {0};
	guint8 quoted[32] = {0};
	KlImaState resume;

	memcpy(quoted, data, MIN(size, sizeof(quoted)));
	options.bank = KL_IMA_BANK_SHA256;
	options.policy = kl_fuzz_ima_policy();
	options.learned = learned;
	options.quoted_pcr10 = quoted;
	options.quoted_pcr10_len = sizeof(quoted);
	if (kl_ima_verify(parser, &options, &first, NULL)) {
		g_autofree gchar *summary = kl_ima_counts_to_string(&first.counts);
		g_autofree gchar *keyrings = kl_ima_keyrings_to_json(learned, NULL);
		if (first.findings->len > 0) {
			g_autofree gchar *text =
				kl_finding_to_string(g_ptr_array_index(first.findings, 0));
		}
	}

	/* the stream reader on the same bytes: a saved state, the SHA-1
	 * bank, no quote, upstream's tomtou flag */
	kl_ima_state_init(&resume);
	resume.next_entry = 7;
	resume.known_banks = 1u << KL_IMA_BANK_SHA1;
	memcpy(resume.pcr10[KL_IMA_BANK_SHA1], quoted, 20);
	options.bank = KL_IMA_BANK_SHA1;
	options.quoted_pcr10 = NULL;
	options.quoted_pcr10_len = 0;
	options.resume = &resume;
	options.ignore_tomtou_errors = TRUE;
	kl_ima_verify(streamed, &options, &second, NULL);
	return 0;
}
