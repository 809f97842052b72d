#include "config.h"

#include "kl-runtime-policy-cache.h"
#include "kl-x509.h"

static const gchar policy_a[] =
	"{\"meta\": {\"version\": 1, \"generator\": 3}, \"release\": 0,"
	" \"digests\": {\"/bin/a\": [\"0000000000000000000000000000000000000000\"]},"
	" \"excludes\": [], \"keyrings\": {}, \"ima\": {\"ignored_keyrings\": [],"
	" \"log_hash_alg\": \"sha1\", \"dm_policy\": null}, \"ima-buf\": {},"
	" \"verification-keys\": \"\"}";

static const gchar policy_b[] =
	"{\"meta\": {\"version\": 1, \"generator\": 3}, \"release\": 0,"
	" \"digests\": {\"/bin/b\": [\"0000000000000000000000000000000000000000\"]},"
	" \"excludes\": [], \"keyrings\": {}, \"ima\": {\"ignored_keyrings\": [],"
	" \"log_hash_alg\": \"sha1\", \"dm_policy\": null}, \"ima-buf\": {},"
	" \"verification-keys\": \"\"}";

/* Agents enrolled with the same bytes share one parsed policy. */
static void
test_cache_shares(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlRuntimePolicyCache) cache = kl_runtime_policy_cache_new();
	g_autoptr(KlRuntimePolicy) first =
		kl_runtime_policy_cache_load_json(cache, policy_a, strlen(policy_a), &error);
	g_autoptr(KlRuntimePolicy) second =
		kl_runtime_policy_cache_load_json(cache, policy_a, strlen(policy_a), &error);
	g_autoptr(KlRuntimePolicy) other =
		kl_runtime_policy_cache_load_json(cache, policy_b, strlen(policy_b), &error);
	g_autoptr(KlRuntimePolicy) found = NULL;

	g_assert_no_error(error);
	g_assert_true(first == second);
	g_assert_true(first != other);
	g_assert_cmpuint(kl_runtime_policy_cache_get_size(cache), ==, 2);
	found = kl_runtime_policy_cache_lookup(cache, kl_runtime_policy_get_checksum(first));
	g_assert_true(found == first);
	g_assert_true(kl_runtime_policy_cache_forget(cache, kl_runtime_policy_get_checksum(first)));
	g_assert_false(
		kl_runtime_policy_cache_forget(cache, kl_runtime_policy_get_checksum(first)));
	g_assert_cmpuint(kl_runtime_policy_cache_get_size(cache), ==, 1);
	/* Forgetting does not pull a policy from under its users. */
	g_assert_true(kl_runtime_policy_has_runtime_policy(first));
}

static void
test_cache_invalid(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlRuntimePolicyCache) cache = kl_runtime_policy_cache_new();
	g_autoptr(KlRuntimePolicy) policy =
		kl_runtime_policy_cache_load_json(cache, "{}", 2, &error);

	g_assert_null(policy);
	g_assert_nonnull(error);
	g_assert_cmpuint(kl_runtime_policy_cache_get_size(cache), ==, 0);
}

/* A cached signed policy is no shortcut past its signature. */
static void
test_cache_dsse_verified_every_time(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlRuntimePolicyCache) cache = kl_runtime_policy_cache_new();
	g_autoptr(EVP_PKEY) key = kl_key_generate_ec("P-256", &error);
	g_autoptr(EVP_PKEY) other_key = kl_key_generate_ec("P-256", &error);
	g_autofree gchar *envelope = kl_runtime_policy_dsse_sign((const guint8 *)policy_a,
								 strlen(policy_a),
								 key,
								 NULL,
								 &error);
	g_autoptr(KlRuntimePolicy) signed_policy = NULL;
	g_autoptr(KlRuntimePolicy) forged = NULL;
	g_autoptr(KlRuntimePolicy) again = NULL;

	g_assert_no_error(error);
	signed_policy =
		kl_runtime_policy_cache_load_dsse(cache, envelope, strlen(envelope), key, &error);
	g_assert_no_error(error);
	g_assert_nonnull(signed_policy);
	forged = kl_runtime_policy_cache_load_dsse(cache,
						   envelope,
						   strlen(envelope),
						   other_key,
						   &error);
	g_assert_null(forged);
	g_assert_nonnull(error);
	g_clear_error(&error);
	again = kl_runtime_policy_cache_load_dsse(cache, envelope, strlen(envelope), key, &error);
	g_assert_no_error(error);
	g_assert_true(again == signed_policy);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/runtime-policy-cache/shares", test_cache_shares);
	g_test_add_func("/runtime-policy-cache/invalid", test_cache_invalid);
	g_test_add_func("/runtime-policy-cache/dsse-verified-every-time",
			test_cache_dsse_verified_every_time);
	return g_test_run();
}
