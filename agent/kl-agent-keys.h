/*
 * kl-agent-keys: the agent's side of Keylime's bootstrap key protocol.
 *
 * The tenant sends U (with auth_tag and, optionally, the encrypted
 * payload) and the verifier sends V, each RSA-OAEP-SHA1 encrypted to the
 * agent's NK.  Shares are kept until both sides have arrived; then every
 * (U, V) pair is tried and the first with HMAC-SHA384(U xor V, agent_id)
 * equal to U's auth_tag gives K, and both lists are cleared, as upstream's
 * keys worker does.  A later matching pair replaces K.
 *
 * Not thread-safe: use it from the agent's main context.  Emits
 * "key-derived" when a new K is accepted.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "kl-crypto.h"
#include "kl-secret.h"

G_BEGIN_DECLS

#define KL_AGENT_AUTH_TAG_SIZE 48 /* SHA-384 */
/* shares kept while waiting for the other side; the oldest is dropped */
#define KL_AGENT_KEYS_MAX_SHARES 16

#define KL_TYPE_AGENT_KEYS (kl_agent_keys_get_type())
G_DECLARE_FINAL_TYPE(KlAgentKeys, kl_agent_keys, KL, AGENT_KEYS, GObject)

/* @nk_private: the agent's NK (payload_key), RSA with its private part */
KlAgentKeys *kl_agent_keys_new(const gchar *agent_id, EVP_PKEY *nk_private);

/* @auth_tag_hex: 96 hex digits; @encrypted_payload: nullable,
 * IV(16) || ciphertext || tag(16) */
gboolean kl_agent_keys_add_u(KlAgentKeys *self,
			     GBytes *encrypted_u,
			     const gchar *auth_tag_hex,
			     GBytes *encrypted_payload,
			     GError **error);
gboolean kl_agent_keys_add_v(KlAgentKeys *self, GBytes *encrypted_v, GError **error);

/* The request bodies of POST /keys/ukey {"auth_tag", "encrypted_key",
 * "payload"?} and /keys/vkey {"encrypted_key"}, base64 checked strictly;
 * errors are KL_ERROR_INVALID_ARGUMENT naming the member (HTTP 400). */
gboolean kl_agent_keys_add_ukey_request(KlAgentKeys *self, JsonObject *body, GError **error);
gboolean kl_agent_keys_add_vkey_request(KlAgentKeys *self, JsonObject *body, GError **error);

gboolean kl_agent_keys_has_key(KlAgentKeys *self);
/* K (16 or 32 bytes), or NULL before both shares matched */
KlSecret *kl_agent_keys_dup_key(KlAgentKeys *self);
guint kl_agent_keys_get_n_pending_u(KlAgentKeys *self);
guint kl_agent_keys_get_n_pending_v(KlAgentKeys *self);

/* GET /keys/verify: hex(HMAC-SHA384(K, challenge)); @challenge must be
 * non-empty and alphanumeric.  Without K: KL_ERROR_INVALID_ARGUMENT (upstream answers 400), "Bootstrap
 * key not yet available." */
gchar *kl_agent_keys_verify_challenge(KlAgentKeys *self, const gchar *challenge, GError **error);

/* The payload that came with the matching U (NULL when it had none) */
gboolean kl_agent_keys_has_payload(KlAgentKeys *self);
/* Decrypts it with K: AES-GCM, 256 or 128 bits by K's size. */
GBytes *kl_agent_keys_decrypt_payload(KlAgentKeys *self, GError **error);

/* Forgets K, the payload and every pending share. */
void kl_agent_keys_reset(KlAgentKeys *self);

G_END_DECLS
