/*
 * A checksum-keyed table of shared policies, safe to use from worker
 * threads.  A signed policy is verified on every load, whatever the
 * cache holds: the same envelope may arrive with another key.
 */
#define G_LOG_DOMAIN "KlCore"

#include "config.h"

#include "kl-crypto.h"
#include "kl-runtime-policy-cache.h"

struct _KlRuntimePolicyCache {
	GMutex mutex;
	GHashTable *policies; /* checksum → KlRuntimePolicy */
};

KlRuntimePolicyCache *
kl_runtime_policy_cache_new(void)
{
	KlRuntimePolicyCache *self = g_new0(KlRuntimePolicyCache, 1);
	g_mutex_init(&self->mutex);
	self->policies = g_hash_table_new_full(g_str_hash,
					       g_str_equal,
					       g_free,
					       (GDestroyNotify)kl_runtime_policy_unref);
	return self;
}

void
kl_runtime_policy_cache_free(KlRuntimePolicyCache *self)
{
	if (self == NULL)
		return;
	g_hash_table_unref(self->policies);
	g_mutex_clear(&self->mutex);
	g_free(self);
}

/* Keeps the first instance of a checksum; returns the one kept. */
static KlRuntimePolicy *
kl_runtime_policy_cache_intern(KlRuntimePolicyCache *self, KlRuntimePolicy *policy)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->mutex);
	const gchar *checksum = kl_runtime_policy_get_checksum(policy);
	KlRuntimePolicy *kept = g_hash_table_lookup(self->policies, checksum);

	if (kept != NULL) {
		kl_runtime_policy_unref(policy);
		return kl_runtime_policy_ref(kept);
	}
	g_hash_table_insert(self->policies, g_strdup(checksum), kl_runtime_policy_ref(policy));
	return policy;
}

KlRuntimePolicy *
kl_runtime_policy_cache_lookup(KlRuntimePolicyCache *self, const gchar *checksum)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->mutex);
	KlRuntimePolicy *policy = g_hash_table_lookup(self->policies, checksum);
	return policy != NULL ? kl_runtime_policy_ref(policy) : NULL;
}

KlRuntimePolicy *
kl_runtime_policy_cache_load_json(KlRuntimePolicyCache *self,
				  const gchar *data,
				  gsize len,
				  GError **error)
{
	guint8 digest[EVP_MAX_MD_SIZE];
	gsize digest_len = 0;
	g_autofree gchar *checksum = NULL;
	KlRuntimePolicy *policy;

	g_return_val_if_fail(self != NULL, NULL);
	/* Hashing is far cheaper than parsing a policy of 100 000 files. */
	if (!kl_crypto_digest("sha256", (const guint8 *)data, len, digest, &digest_len, error))
		return NULL;
	checksum = kl_crypto_hex_encode(digest, digest_len);
	policy = kl_runtime_policy_cache_lookup(self, checksum);
	if (policy != NULL)
		return policy;
	policy = kl_runtime_policy_new_from_json(data, len, error);
	if (policy == NULL)
		return NULL;
	return kl_runtime_policy_cache_intern(self, policy);
}

KlRuntimePolicy *
kl_runtime_policy_cache_load_dsse(KlRuntimePolicyCache *self,
				  const gchar *data,
				  gsize len,
				  EVP_PKEY *key,
				  GError **error)
{
	KlRuntimePolicy *policy;

	g_return_val_if_fail(self != NULL, NULL);
	policy = kl_runtime_policy_new_from_dsse(data, len, key, error);
	if (policy == NULL)
		return NULL;
	return kl_runtime_policy_cache_intern(self, policy);
}

gboolean
kl_runtime_policy_cache_forget(KlRuntimePolicyCache *self, const gchar *checksum)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->mutex);
	return g_hash_table_remove(self->policies, checksum);
}

guint
kl_runtime_policy_cache_get_size(KlRuntimePolicyCache *self)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->mutex);
	return g_hash_table_size(self->policies);
}
