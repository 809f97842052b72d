/*
 * kl-runtime-policy-cache: one KlRuntimePolicy per distinct policy, shared
 * by every agent that uses it.  Policies are immutable, so agents that
 * were enrolled with the same bytes share one parsed instance, found by
 * the SHA-256 of those bytes before anything is parsed again.
 */
#pragma once

#include "kl-runtime-policy.h"

G_BEGIN_DECLS

typedef struct _KlRuntimePolicyCache KlRuntimePolicyCache;

KlRuntimePolicyCache *kl_runtime_policy_cache_new(void);
void kl_runtime_policy_cache_free(KlRuntimePolicyCache *self);
KlRuntimePolicy *kl_runtime_policy_cache_load_json(KlRuntimePolicyCache *self,
						   const gchar *data,
						   gsize len,
						   GError **error);
KlRuntimePolicy *kl_runtime_policy_cache_load_dsse(KlRuntimePolicyCache *self,
						   const gchar *data,
						   gsize len,
						   EVP_PKEY *key,
						   GError **error);
KlRuntimePolicy *kl_runtime_policy_cache_lookup(KlRuntimePolicyCache *self, const gchar *checksum);
gboolean kl_runtime_policy_cache_forget(KlRuntimePolicyCache *self, const gchar *checksum);
guint kl_runtime_policy_cache_get_size(KlRuntimePolicyCache *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlRuntimePolicyCache, kl_runtime_policy_cache_free)

G_END_DECLS
