/*
 * Fuzz target: measured boot reference states and boot policies as the
 * verifier and keylime-check read them — the input parsed as a reference
 * state, as a policy (compiled against a fixed reference state and run
 * over fixed events), as an events array for building a reference state,
 * and as a reference state for the shipped example policy's shape.
 */
#include "config.h"

#include <string.h>

#include "kl-finding.h"
#include "kl-fuzz.h"
#include "kl-json.h"
#include "kl-mb-policy.h"

static const gchar kl_fuzz_events[] =
	"[{\"EventNum\": 0, \"PCRIndex\": 0, \"EventType\": \"EV_NO_ACTION\", \"Digests\": "
	"[{\"AlgorithmId\": \"sha256\", \"Digest\": \"00\"}], \"Event\": null},"
	" {\"EventNum\": 1, \"PCRIndex\": 7, \"EventType\": \"EV_EFI_VARIABLE_DRIVER_CONFIG\", "
	"\"Digests\": [], \"Event\": {\"VariableName\": \"8be4df61-93ca-11d2-aa0d-00e098032b8c\", "
	"\"UnicodeName\": \"SecureBoot\", \"VariableData\": {\"Enabled\": \"Yes\"}}},"
	" {\"EventNum\": 2, \"PCRIndex\": 4, \"EventType\": \"EV_EFI_BOOT_SERVICES_APPLICATION\", "
	"\"Digests\": [{\"AlgorithmId\": \"sha256\", \"Digest\": \"ab\"}], \"Event\": "
	"{\"DevicePath\": "
	"\"x\"}},"
	" {\"EventNum\": 3, \"PCRIndex\": 8, \"EventType\": \"EV_IPL\", \"Digests\": [], "
	"\"Event\": "
	"{\"String\": \"kernel_cmdline: ro\"}}]";

/* a policy with one of each rule, for the fuzzed reference state */
static const gchar kl_fuzz_policy[] =
	"{\"name\": \"fuzz\", \"relevant_pcrs\": [0, 4], \"collect\": [\"c\"], \"events\": "
	"{\"op\": \"dispatch\", \"keys\": [\"PCRIndex\", \"EventType\"], \"cases\": ["
	" {\"match\": [0, \"EV_NO_ACTION\"], \"test\": {\"op\": \"once\", \"test\": {\"op\": "
	"\"accept\"}}},"
	" {\"match\": [7, \"EV_EFI_VARIABLE_DRIVER_CONFIG\"], \"test\": {\"op\": \"field\", "
	"\"name\": "
	"\"Event\", \"test\": {\"op\": \"field\", \"name\": \"VariableData\", \"test\": {\"op\": "
	"\"or\", "
	"\"any\": [{\"op\": \"key_subset\", \"sig_types\": [\"a\"], \"keys\": {\"ref\": \"pk\", "
	"\"default\": []}}, {\"op\": \"key_superset\", \"sig_types\": [\"a\"], \"keys\": {\"ref\": "
	"\"dbx\", \"default\": []}}]}}}},"
	" {\"match\": [[4, 8], [\"EV_EFI_BOOT_SERVICES_APPLICATION\", \"EV_IPL\"]], \"test\": "
	"{\"op\": "
	"\"collect\", \"into\": \"c\"}}]},"
	" \"final\": {\"op\": \"for_each\", \"in\": {\"ref\": \"kernels\", \"default\": []}, "
	"\"as\": "
	"\"k\", \"test\": {\"op\": \"field\", \"name\": \"c\", \"test\": {\"op\": \"tuple\", "
	"\"pad\": "
	"true, \"items\": [{\"op\": \"digests\", \"allowed\": {\"ref\": "
	"\"$k.shim_authcode_sha256\", "
	"\"default\": \"0x00\"}}, {\"op\": \"field\", \"name\": \"Event\", \"test\": {\"op\": "
	"\"field\", "
	"\"name\": \"String\", \"test\": {\"op\": \"regex\", \"pattern\": [\"kernel_cmdline: \", "
	"{\"ref\": \"$k.kernel_cmdline\", \"default\": \".*\"}]}}}]}}}}";

static void
kl_fuzz_run(KlMbPolicy *policy, KlMbRefstate *refstate)
{
	g_autoptr(JsonNode) events = kl_json_parse(kl_fuzz_events,
						   strlen(kl_fuzz_events),
						   KL_JSON_DEFAULT_MAX_SIZE,
						   KL_JSON_DEFAULT_MAX_DEPTH,
						   NULL);
	g_autoptr(GPtrArray) findings = kl_findings_new();
	g_autoptr(GError) error = NULL;

	kl_mb_policy_evaluate(policy, refstate, json_node_get_array(events), findings, &error);
	kl_mb_policy_check_missing_pcrs(policy, 0x1, findings);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const gchar *text = (const gchar *)data;
	g_autoptr(KlMbRefstate) refstate = kl_mb_refstate_new_from_json(text, size, NULL);
	g_autoptr(KlMbPolicy) policy = kl_mb_policy_new_from_json(text, size, NULL);
	g_autoptr(JsonNode) node = kl_json_parse(text,
						 size,
						 KL_JSON_DEFAULT_MAX_SIZE,
						 KL_JSON_DEFAULT_MAX_DEPTH,
						 NULL);

	if (refstate != NULL) {
		g_autoptr(KlMbPolicy) fixed =
			kl_mb_policy_new_from_json(kl_fuzz_policy, strlen(kl_fuzz_policy), NULL);
		g_autofree gchar *json = kl_mb_refstate_to_json(refstate, FALSE);
		g_assert_nonnull(fixed);
		kl_mb_refstate_has_secureboot(refstate);
		kl_fuzz_run(fixed, refstate);
	}
	if (policy != NULL) {
		const gchar *ref =
			"{\"has_secureboot\": true, \"pk\": [], \"kernels\": "
			"[{\"shim_authcode_sha256\": \"0xab\", \"kernel_cmdline\": \"ro\"}]}";
		g_autoptr(KlMbRefstate) fixed =
			kl_mb_refstate_new_from_json(ref, strlen(ref), NULL);
		g_assert_nonnull(fixed);
		kl_mb_policy_get_name(policy);
		kl_fuzz_run(policy, fixed);
	}
	/* an events array, as the parser's JSON would give it */
	if (node != NULL && JSON_NODE_HOLDS_ARRAY(node)) {
		g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
		g_autoptr(KlMbRefstate) built =
			kl_mb_refstate_new_from_events(json_node_get_array(node),
						       TRUE,
						       warnings,
						       NULL);
		if (built != NULL) {
			g_autofree gchar *json = kl_mb_refstate_to_json(built, FALSE);
		}
	}
	return 0;
}
