/*
 * kl-ima-sig: IMA file signatures (the `sig` field of ima-sig entries,
 * struct signature_v2_hdr) and the keyrings they are checked against —
 * the runtime policy's verification keys first, then the keys that the
 * log itself loaded into the kernel's .ima (or other) keyrings, learned
 * from ima-buf entries (spec §5.5).
 *
 * Key ids come from kl_runtime_policy_compute_key_id(), the one
 * implementation of upstream's keyidv2.
 */
#pragma once

#include <glib.h>

#include "kl-crypto.h"
#include "kl-runtime-policy.h"

G_BEGIN_DECLS

/* struct signature_v2_hdr, all big-endian */
#define KL_IMA_SIG_HEADER_SIZE 9

typedef enum {
	KL_IMA_SIG_TYPE_DIGSIG = 3,	     /* EVM_IMA_XATTR_DIGSIG */
	KL_IMA_SIG_TYPE_PORTABLE_DIGSIG = 5, /* EVM_XATTR_PORTABLE_DIGSIG */
} KlImaSigType;

typedef struct {
	guint8 type;
	guint8 version;
	guint8 hash_algo; /* Linux hash_info id */
	guint32 keyid;
	guint16 sig_size;
	const guint8 *sig; /* borrowed from the parsed data */
} KlImaSigHeader;

/* Checks 9 + sig_size == len, type 3 or 5 and version 2. */
gboolean kl_ima_sig_parse(const guint8 *data, gsize len, KlImaSigHeader *header, GError **error);
/* Linux hash_info ids: md5=1 sha1=2 sha256=4 sha384=5 sha512=6 sha224=7
 * streebog256=18 streebog512=19; NULL if unknown */
const gchar *kl_ima_sig_hash_algo_to_string(guint8 hash_algo);
gint kl_ima_sig_hash_algo_from_string(const gchar *name); /* -1 if unknown */

/* Keys learned from the log, by keyring name, in the order they came. */
typedef struct _KlImaKeyrings KlImaKeyrings;

KlImaKeyrings *kl_ima_keyrings_new(void);
void kl_ima_keyrings_free(KlImaKeyrings *self);
void kl_ima_keyrings_clear(KlImaKeyrings *self);
/* takes a reference on @key; keyid replaces an existing one in @keyring */
void kl_ima_keyrings_add(KlImaKeyrings *self, const gchar *keyring, guint32 keyid, EVP_PKEY *key);
EVP_PKEY *kl_ima_keyrings_lookup(KlImaKeyrings *self, guint32 keyid); /* borrowed */
guint kl_ima_keyrings_get_n_keys(KlImaKeyrings *self);
/* Upstream's learned_ima_keyrings column: {"name": "<keyring JSON>"} */
gchar *kl_ima_keyrings_to_json(KlImaKeyrings *self, GError **error);
KlImaKeyrings *kl_ima_keyrings_new_from_json(const gchar *json, gsize len, GError **error);

/* What an ima-buf payload holds: a certificate (DER or PEM), a public key
 * or a private key (DER or PEM), as upstream tries them.  Returns the
 * public key, or NULL with @error unset if the buffer is no key, or NULL
 * with @error set for a key of an unsupported type (ima.invalid_key).
 * @keyid: from the certificate's subject key identifier, else computed. */
EVP_PKEY *kl_ima_key_from_buffer(const guint8 *buf, gsize len, guint32 *keyid, GError **error);

/* Verifies @sig (a signature_v2_hdr) over the prehashed file digest with
 * the key of its key id, looked up in @policy_keys (of KlRuntimePolicyKey,
 * nullable) then @learned (nullable).  The header's hash must be
 * @digest_alg. */
gboolean kl_ima_sig_verify(const guint8 *sig,
			   gsize sig_len,
			   const guint8 *digest,
			   gsize digest_len,
			   const gchar *digest_alg,
			   GPtrArray *policy_keys,
			   KlImaKeyrings *learned,
			   GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlImaKeyrings, kl_ima_keyrings_free)

G_END_DECLS
