/*
 * Fuzz target: runtime policies as the verifier and keylime-policy receive
 * them — the v1 JSON, a DSSE envelope, a legacy allowlist (flat or JSON),
 * an exclude list and a verification-keys keyring — and the lookups the
 * verifier then makes on whatever parsed.
 */
#include "config.h"

#include "kl-fuzz.h"
#include "kl-runtime-policy.h"
#include "kl-x509.h"

static EVP_PKEY *
kl_fuzz_key(void)
{
	static EVP_PKEY *key = NULL;
	if (key == NULL)
		key = kl_key_generate_ec("P-256", NULL);
	return key;
}

static void
kl_fuzz_use_policy(KlRuntimePolicy *policy)
{
	const guint8 digest[32] = {0};
	const gchar *paths[] = {"/usr/bin/bash", "boot_aggregate", "/tmp/x", "", "aaaaaaaaaaaa!"};

	for (guint i = 0; i < G_N_ELEMENTS(paths); i++) {
		kl_runtime_policy_is_excluded(policy, paths[i]);
		kl_runtime_policy_is_keyring_ignored(policy, paths[i]);
		for (guint map = KL_RUNTIME_POLICY_MAP_DIGESTS;
		     map <= KL_RUNTIME_POLICY_MAP_IMA_BUF;
		     map++) {
			g_autoptr(GPtrArray) hex =
				kl_runtime_policy_get_digests_hex(policy, map, paths[i]);
			kl_runtime_policy_lookup(policy, map, paths[i], digest, 20);
			kl_runtime_policy_lookup(policy, map, paths[i], digest, sizeof(digest));
		}
	}
	kl_runtime_policy_get_checksum(policy);
	kl_runtime_policy_has_runtime_policy(policy);
	kl_runtime_policy_get_verification_keys(policy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const gchar *text = (const gchar *)data;
	g_autoptr(KlRuntimePolicy) policy = kl_runtime_policy_new_from_json(text, size, NULL);
	g_autoptr(KlRuntimePolicy) signed_policy = NULL;
	g_autoptr(KlRuntimePolicyBuilder) builder = kl_runtime_policy_builder_new();
	g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) keys = kl_runtime_policy_parse_keyring(text, size, NULL);

	if (policy != NULL)
		kl_fuzz_use_policy(policy);
	if (kl_runtime_policy_is_dsse(text, size)) {
		g_autoptr(GBytes) payload = NULL;
		signed_policy = kl_runtime_policy_new_from_dsse(text, size, kl_fuzz_key(), NULL);
		payload = kl_runtime_policy_dsse_verify(text, size, kl_fuzz_key(), NULL);
	}
	kl_runtime_policy_builder_set_timestamp(builder, NULL);
	if (kl_runtime_policy_builder_add_allowlist(builder, text, size, warnings, NULL) &&
	    kl_runtime_policy_builder_add_exclude_list(builder, text, size, NULL)) {
		g_autofree gchar *json = kl_runtime_policy_builder_to_json(builder);
		g_autoptr(KlRuntimePolicy) built = kl_runtime_policy_builder_build(builder, NULL);
		/* excludes valid one by one may still clash once combined */
		if (built != NULL)
			kl_fuzz_use_policy(built);
	}
	return 0;
}
