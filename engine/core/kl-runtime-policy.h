/*
 * kl-runtime-policy: Keylime's IMA runtime policy (format v1, spec §6),
 * validated and indexed once so that the verifier can share one immutable,
 * reference-counted instance between all agents using it.
 *
 * Sources: upstream's JSON v1 document, a DSSE envelope around one (spec
 * §6.2), and through KlRuntimePolicyBuilder the legacy inputs (flat or JSON
 * allowlist, exclude list) that keylime-policy converts.
 *
 * Lookups follow spec §5.4: excludes are one anchored regex (Python
 * re.match semantics: anchored at the start, a prefix match is enough),
 * digest lists are compared on the binary digest only (the algorithm
 * prefix of the log is not part of the policy).  A policy never changes
 * after construction, so lookups are safe from any thread.
 *
 * Hostile excludes: PCRE2's match limit stops catastrophic backtracking;
 * kl_runtime_policy_match_exclude() then reports
 * KL_RUNTIME_POLICY_ERROR_MATCH and kl_runtime_policy_is_excluded() fails
 * closed (not excluded, so the entry is still checked against the
 * digests).  The same holds for a path that is not UTF-8.
 *
 * boot_aggregate digests computed from a UEFI log are not added to the
 * policy (it is shared and immutable): kl-ima-verify checks them itself.
 *
 * Errors: KL_RUNTIME_POLICY_ERROR, or KL_ERROR from kl_json_parse() for a
 * document that is too large, too deep or not JSON.
 */
#pragma once

#include <glib.h>

#include "kl-crypto.h"

G_BEGIN_DECLS

#define KL_RUNTIME_POLICY_ERROR kl_runtime_policy_error_quark()

typedef enum {
	KL_RUNTIME_POLICY_ERROR_INVALID,   /* the document breaks the format; names the member */
	KL_RUNTIME_POLICY_ERROR_SIGNED,	   /* a DSSE envelope where a plain policy was expected */
	KL_RUNTIME_POLICY_ERROR_SIGNATURE, /* no signature verifies with the given key */
	KL_RUNTIME_POLICY_ERROR_MATCH,	   /* an exclude regex gave up (match limit) */
} KlRuntimePolicyError;

GQuark kl_runtime_policy_error_quark(void);

/* Size and depth limits for policy documents (they can be large). */
#define KL_RUNTIME_POLICY_MAX_SIZE  (256 * 1024 * 1024)
#define KL_RUNTIME_POLICY_MAX_DEPTH 8

#define KL_RUNTIME_POLICY_DSSE_PAYLOAD_TYPE "application/vnd.keylime+json"

/* meta.generator; the verifier treats <= EMPTY_ALLOWLIST as "no policy" */
typedef enum {
	KL_RUNTIME_POLICY_GENERATOR_UNKNOWN = 0,
	KL_RUNTIME_POLICY_GENERATOR_EMPTY_ALLOWLIST = 1,
	KL_RUNTIME_POLICY_GENERATOR_COMPATIBLE_ALLOWLIST = 2,
	KL_RUNTIME_POLICY_GENERATOR_LEGACY_ALLOWLIST = 3,
} KlRuntimePolicyGenerator;

/* The three path/name → digest-list maps of a policy. */
typedef enum {
	KL_RUNTIME_POLICY_MAP_DIGESTS,	/* "digests": file paths, boot_aggregate */
	KL_RUNTIME_POLICY_MAP_KEYRINGS, /* "keyrings": keyring name → key digests */
	KL_RUNTIME_POLICY_MAP_IMA_BUF,	/* "ima-buf": ima-buf event name → buffer digests */
} KlRuntimePolicyMap;

typedef enum {
	KL_RUNTIME_POLICY_LOOKUP_MATCH,	     /* listed, and the digest is in its list */
	KL_RUNTIME_POLICY_LOOKUP_NOT_LISTED, /* upstream's "not_in_allowlist" */
	KL_RUNTIME_POLICY_LOOKUP_MISMATCH,   /* listed, digest not in the list ("..._hash") */
} KlRuntimePolicyLookup;

/* One key of the "verification-keys" keyring. */
typedef struct {
	guint32 keyid; /* IMA key id: explicit in the JSON, else computed */
	EVP_PKEY *key; /* public key, owned by the policy */
} KlRuntimePolicyKey;

typedef struct _KlRuntimePolicy KlRuntimePolicy;

/* construction; the checksum is over exactly @data */
KlRuntimePolicy *kl_runtime_policy_new_from_json(const gchar *data, gsize len, GError **error);
KlRuntimePolicy *
kl_runtime_policy_new_from_dsse(const gchar *data, gsize len, EVP_PKEY *key, GError **error);
gboolean kl_runtime_policy_is_dsse(const gchar *data, gsize len);
KlRuntimePolicy *kl_runtime_policy_ref(KlRuntimePolicy *self);
void kl_runtime_policy_unref(KlRuntimePolicy *self);

/* properties */
const gchar *kl_runtime_policy_get_checksum(KlRuntimePolicy *self); /* SHA-256 hex */
GBytes *kl_runtime_policy_get_document(KlRuntimePolicy *self); /* borrowed; DSSE: the payload */
KlRuntimePolicyGenerator kl_runtime_policy_get_generator(KlRuntimePolicy *self);
gboolean kl_runtime_policy_has_runtime_policy(KlRuntimePolicy *self); /* generator > 1 */
gint64 kl_runtime_policy_get_release(KlRuntimePolicy *self);
const gchar *kl_runtime_policy_get_log_hash_alg(KlRuntimePolicy *self);
const gchar *const *kl_runtime_policy_get_excludes(KlRuntimePolicy *self);

/* lookups */
gboolean kl_runtime_policy_is_excluded(KlRuntimePolicy *self, const gchar *path);
gboolean kl_runtime_policy_match_exclude(KlRuntimePolicy *self,
					 const gchar *path,
					 gboolean *excluded,
					 GError **error);
KlRuntimePolicyLookup kl_runtime_policy_lookup(KlRuntimePolicy *self,
					       KlRuntimePolicyMap map,
					       const gchar *name,
					       const guint8 *digest,
					       gsize digest_len);
guint kl_runtime_policy_get_n_entries(KlRuntimePolicy *self, KlRuntimePolicyMap map);
GPtrArray *kl_runtime_policy_get_digests_hex(KlRuntimePolicy *self,
					     KlRuntimePolicyMap map,
					     const gchar *name); /* of gchar*; NULL if not listed */
gboolean kl_runtime_policy_is_keyring_ignored(KlRuntimePolicy *self, const gchar *name);
GPtrArray *kl_runtime_policy_get_verification_keys(KlRuntimePolicy *self); /* borrowed */

/* IMA keyrings (spec §5.5) */
gboolean kl_runtime_policy_compute_key_id(EVP_PKEY *key, guint32 *keyid, GError **error);
GPtrArray *kl_runtime_policy_parse_keyring(const gchar *json,
					   gsize len,
					   GError **error); /* of KlRuntimePolicyKey */
void kl_runtime_policy_key_free(KlRuntimePolicyKey *key);

/* DSSE (spec §6.2) */
gchar *kl_runtime_policy_dsse_ecdsa_keyid(EVP_PKEY *key, GError **error);
gchar *kl_runtime_policy_dsse_x509_keyid(X509 *cert, GError **error);
gchar *kl_runtime_policy_dsse_sign(const guint8 *payload,
				   gsize len,
				   EVP_PKEY *key,
				   const gchar *keyid /* nullable */,
				   GError **error);
GBytes *kl_runtime_policy_dsse_verify(const gchar *envelope,
				      gsize len,
				      EVP_PKEY *key,
				      GError **error); /* the payload */

/* builder: what keylime-policy create/convert produce */
typedef struct _KlRuntimePolicyBuilder KlRuntimePolicyBuilder;

KlRuntimePolicyBuilder *kl_runtime_policy_builder_new(void);
void kl_runtime_policy_builder_free(KlRuntimePolicyBuilder *self);
gboolean kl_runtime_policy_builder_add_digest(KlRuntimePolicyBuilder *self,
					      KlRuntimePolicyMap map,
					      const gchar *name,
					      const gchar *hex,
					      GError **error);
gboolean kl_runtime_policy_builder_add_exclude(KlRuntimePolicyBuilder *self,
					       const gchar *regex,
					       GError **error);
void kl_runtime_policy_builder_add_ignored_keyring(KlRuntimePolicyBuilder *self, const gchar *name);
gboolean kl_runtime_policy_builder_set_log_hash_alg(KlRuntimePolicyBuilder *self,
						    const gchar *alg,
						    GError **error);
gboolean kl_runtime_policy_builder_set_verification_keys(KlRuntimePolicyBuilder *self,
							 const gchar *keyring_json,
							 GError **error);
void kl_runtime_policy_builder_set_timestamp(KlRuntimePolicyBuilder *self,
					     const gchar *timestamp /* nullable: omit */);
gboolean kl_runtime_policy_builder_add_allowlist(KlRuntimePolicyBuilder *self,
						 const gchar *data,
						 gsize len,
						 GPtrArray *warnings /* nullable, of gchar* */,
						 GError **error);
gboolean kl_runtime_policy_builder_add_exclude_list(KlRuntimePolicyBuilder *self,
						    const gchar *data,
						    gsize len,
						    GError **error);
gboolean kl_runtime_policy_builder_add_policy(KlRuntimePolicyBuilder *self,
					      KlRuntimePolicy *policy,
					      GError **error);
gchar *kl_runtime_policy_builder_to_json(KlRuntimePolicyBuilder *self);
KlRuntimePolicy *kl_runtime_policy_builder_build(KlRuntimePolicyBuilder *self, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlRuntimePolicy, kl_runtime_policy_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlRuntimePolicyBuilder, kl_runtime_policy_builder_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlRuntimePolicyKey, kl_runtime_policy_key_free)

G_END_DECLS
