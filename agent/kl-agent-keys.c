/*
 * The U/V key shares: decrypted with the NK on arrival, combined and
 * checked against the auth_tag, K kept as a wiped KlSecret.
 */
#include "config.h"

#include "kl-agent-keys.h"
#include "kl-base64.h"
#include "kl-error.h"
#include "kl-json.h"

typedef struct {
	KlSecret *share;
	GBytes *auth_tag; /* U only */
	GBytes *payload;  /* U only, nullable */
} KlAgentKeyShare;

struct _KlAgentKeys {
	GObject parent_instance;
	gchar *agent_id;
	EVP_PKEY *nk;
	GPtrArray *u_shares; /* of KlAgentKeyShare */
	GPtrArray *v_shares;
	KlSecret *key;
	GBytes *payload;
};

enum {
	SIGNAL_KEY_DERIVED,
	SIGNAL_LAST
};

static guint signals[SIGNAL_LAST] = {0};

G_DEFINE_TYPE(KlAgentKeys, kl_agent_keys, G_TYPE_OBJECT)

static void
kl_agent_key_share_free(gpointer data)
{
	KlAgentKeyShare *share = data;

	g_clear_pointer(&share->share, kl_secret_unref);
	g_clear_pointer(&share->auth_tag, g_bytes_unref);
	g_clear_pointer(&share->payload, g_bytes_unref);
	g_free(share);
}

static void
kl_agent_keys_finalize(GObject *object)
{
	KlAgentKeys *self = KL_AGENT_KEYS(object);

	g_free(self->agent_id);
	g_clear_pointer(&self->nk, EVP_PKEY_free);
	g_ptr_array_unref(self->u_shares);
	g_ptr_array_unref(self->v_shares);
	g_clear_pointer(&self->key, kl_secret_unref);
	g_clear_pointer(&self->payload, g_bytes_unref);
	G_OBJECT_CLASS(kl_agent_keys_parent_class)->finalize(object);
}

static void
kl_agent_keys_class_init(KlAgentKeysClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->finalize = kl_agent_keys_finalize;

	/* a new K has been accepted; the payload (if any) can be run */
	signals[SIGNAL_KEY_DERIVED] = g_signal_new("key-derived",
						   G_TYPE_FROM_CLASS(klass),
						   G_SIGNAL_RUN_LAST,
						   0,
						   NULL,
						   NULL,
						   NULL,
						   G_TYPE_NONE,
						   0);
}

static void
kl_agent_keys_init(KlAgentKeys *self)
{
	self->u_shares = g_ptr_array_new_with_free_func(kl_agent_key_share_free);
	self->v_shares = g_ptr_array_new_with_free_func(kl_agent_key_share_free);
}

KlAgentKeys *
kl_agent_keys_new(const gchar *agent_id, EVP_PKEY *nk_private)
{
	KlAgentKeys *self;

	g_return_val_if_fail(agent_id != NULL, NULL);
	g_return_val_if_fail(nk_private != NULL, NULL);

	self = g_object_new(KL_TYPE_AGENT_KEYS, NULL);
	self->agent_id = g_strdup(agent_id);
	EVP_PKEY_up_ref(nk_private);
	self->nk = nk_private;
	return self;
}

static KlSecret *
kl_agent_keys_decrypt_share(KlAgentKeys *self, GBytes *encrypted, GError **error)
{
	g_autoptr(GError) error_local = NULL;
	g_autoptr(KlSecret) share = NULL;
	gsize size = 0;
	const guint8 *data = g_bytes_get_data(encrypted, &size);

	share = kl_crypto_rsa_oaep_decrypt(self->nk, "sha1", NULL, 0, data, size, &error_local);
	if (share == NULL) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "Failed to decrypt encrypted_key: %s",
			    error_local->message);
		return NULL;
	}
	/* AES-256 or AES-128, as upstream's SymmKey */
	if (kl_secret_get_size(share) != 32 && kl_secret_get_size(share) != 16) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "Invalid decrypted key: %" G_GSIZE_FORMAT " bytes, expected 16 or 32",
			    kl_secret_get_size(share));
		return NULL;
	}
	return g_steal_pointer(&share);
}

/* Tries every (U, V) pair; the first whose HMAC matches U's auth_tag wins. */
static void
kl_agent_keys_try_combine(KlAgentKeys *self)
{
	for (guint i = 0; i < self->u_shares->len; i++) {
		KlAgentKeyShare *u = g_ptr_array_index(self->u_shares, i);
		for (guint j = 0; j < self->v_shares->len; j++) {
			KlAgentKeyShare *v = g_ptr_array_index(self->v_shares, j);
			g_autoptr(KlSecret) k = NULL;
			g_autoptr(GBytes) mac = NULL;
			gsize k_len = 0;
			const guint8 *k_data;

			if (kl_secret_get_size(u->share) != kl_secret_get_size(v->share))
				continue;
			k = kl_secret_xor(u->share, v->share, NULL);
			if (k == NULL)
				continue;
			k_data = kl_secret_get_data(k, &k_len);
			mac = kl_crypto_hmac("sha384",
					     k_data,
					     k_len,
					     (const guint8 *)self->agent_id,
					     strlen(self->agent_id),
					     NULL);
			if (mac == NULL || g_bytes_get_size(mac) != KL_AGENT_AUTH_TAG_SIZE ||
			    !kl_crypto_memeq(g_bytes_get_data(mac, NULL),
					     g_bytes_get_data(u->auth_tag, NULL),
					     KL_AGENT_AUTH_TAG_SIZE))
				continue;

			g_clear_pointer(&self->key, kl_secret_unref);
			self->key = g_steal_pointer(&k);
			g_clear_pointer(&self->payload, g_bytes_unref);
			if (u->payload != NULL)
				self->payload = g_bytes_ref(u->payload);
			g_ptr_array_set_size(self->u_shares, 0);
			g_ptr_array_set_size(self->v_shares, 0);
			g_info("derived the bootstrap key from a U and V share");
			g_signal_emit(self, signals[SIGNAL_KEY_DERIVED], 0);
			return;
		}
	}
	if (self->u_shares->len > 0 && self->v_shares->len > 0)
		g_info("no U and V share combination matches an auth_tag yet");
}

static void
kl_agent_keys_push(GPtrArray *shares, KlAgentKeyShare *share)
{
	if (shares->len >= KL_AGENT_KEYS_MAX_SHARES)
		g_ptr_array_remove_index(shares, 0);
	g_ptr_array_add(shares, share);
}

gboolean
kl_agent_keys_add_u(KlAgentKeys *self,
		    GBytes *encrypted_u,
		    const gchar *auth_tag_hex,
		    GBytes *encrypted_payload,
		    GError **error)
{
	g_autoptr(KlSecret) u = NULL;
	g_autoptr(GBytes) auth_tag = NULL;
	g_autoptr(GError) error_local = NULL;
	KlAgentKeyShare *share;

	g_return_val_if_fail(KL_IS_AGENT_KEYS(self), FALSE);
	g_return_val_if_fail(encrypted_u != NULL, FALSE);
	g_return_val_if_fail(auth_tag_hex != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	auth_tag = kl_crypto_hex_decode(auth_tag_hex, &error_local);
	if (auth_tag == NULL) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "Invalid hex encoding in auth_tag: %s",
			    error_local->message);
		return FALSE;
	}
	if (g_bytes_get_size(auth_tag) != KL_AGENT_AUTH_TAG_SIZE) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "auth_tag is %" G_GSIZE_FORMAT " bytes, expected %d",
			    g_bytes_get_size(auth_tag),
			    KL_AGENT_AUTH_TAG_SIZE);
		return FALSE;
	}
	u = kl_agent_keys_decrypt_share(self, encrypted_u, error);
	if (u == NULL)
		return FALSE;

	share = g_new0(KlAgentKeyShare, 1);
	share->share = g_steal_pointer(&u);
	share->auth_tag = g_steal_pointer(&auth_tag);
	if (encrypted_payload != NULL)
		share->payload = g_bytes_ref(encrypted_payload);
	kl_agent_keys_push(self->u_shares, share);
	kl_agent_keys_try_combine(self);
	return TRUE;
}

gboolean
kl_agent_keys_add_v(KlAgentKeys *self, GBytes *encrypted_v, GError **error)
{
	KlAgentKeyShare *share;
	KlSecret *v;

	g_return_val_if_fail(KL_IS_AGENT_KEYS(self), FALSE);
	g_return_val_if_fail(encrypted_v != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	v = kl_agent_keys_decrypt_share(self, encrypted_v, error);
	if (v == NULL)
		return FALSE;
	share = g_new0(KlAgentKeyShare, 1);
	share->share = v;
	kl_agent_keys_push(self->v_shares, share);
	kl_agent_keys_try_combine(self);
	return TRUE;
}

static GBytes *
kl_agent_keys_get_base64_member(JsonObject *body,
				const gchar *member,
				gboolean optional,
				GError **error)
{
	const gchar *text = NULL;
	GBytes *bytes;

	if (optional) {
		if (!kl_json_object_get_optional_string(body, member, &text, error))
			return NULL;
		if (text == NULL)
			return NULL;
	} else if (!kl_json_object_get_string(body, member, &text, error)) {
		return NULL;
	}
	bytes = kl_base64_decode(text, -1, KL_BASE64_FLAG_NONE, error);
	if (bytes != NULL && g_bytes_get_size(bytes) == 0) {
		g_clear_pointer(&bytes, g_bytes_unref);
		g_set_error_literal(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT, "empty");
	}
	if (bytes == NULL)
		g_prefix_error(error, "Invalid base64 encoding in %s: ", member);
	return bytes;
}

gboolean
kl_agent_keys_add_ukey_request(KlAgentKeys *self, JsonObject *body, GError **error)
{
	g_autoptr(GBytes) encrypted_key = NULL;
	g_autoptr(GBytes) payload = NULL;
	g_autoptr(GError) error_local = NULL;
	const gchar *auth_tag = NULL;

	g_return_val_if_fail(KL_IS_AGENT_KEYS(self), FALSE);
	g_return_val_if_fail(body != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	if (!kl_json_object_get_string(body, "auth_tag", &auth_tag, error))
		return FALSE;
	encrypted_key = kl_agent_keys_get_base64_member(body, "encrypted_key", FALSE, error);
	if (encrypted_key == NULL)
		return FALSE;
	payload = kl_agent_keys_get_base64_member(body, "payload", TRUE, &error_local);
	if (error_local != NULL) {
		g_propagate_error(error, g_steal_pointer(&error_local));
		return FALSE;
	}
	return kl_agent_keys_add_u(self, encrypted_key, auth_tag, payload, error);
}

gboolean
kl_agent_keys_add_vkey_request(KlAgentKeys *self, JsonObject *body, GError **error)
{
	g_autoptr(GBytes) encrypted_key = NULL;

	g_return_val_if_fail(KL_IS_AGENT_KEYS(self), FALSE);
	g_return_val_if_fail(body != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	encrypted_key = kl_agent_keys_get_base64_member(body, "encrypted_key", FALSE, error);
	if (encrypted_key == NULL)
		return FALSE;
	return kl_agent_keys_add_v(self, encrypted_key, error);
}

gboolean
kl_agent_keys_has_key(KlAgentKeys *self)
{
	g_return_val_if_fail(KL_IS_AGENT_KEYS(self), FALSE);
	return self->key != NULL;
}

KlSecret *
kl_agent_keys_dup_key(KlAgentKeys *self)
{
	g_return_val_if_fail(KL_IS_AGENT_KEYS(self), NULL);
	return self->key != NULL ? kl_secret_ref(self->key) : NULL;
}

guint
kl_agent_keys_get_n_pending_u(KlAgentKeys *self)
{
	g_return_val_if_fail(KL_IS_AGENT_KEYS(self), 0);
	return self->u_shares->len;
}

guint
kl_agent_keys_get_n_pending_v(KlAgentKeys *self)
{
	g_return_val_if_fail(KL_IS_AGENT_KEYS(self), 0);
	return self->v_shares->len;
}

gchar *
kl_agent_keys_verify_challenge(KlAgentKeys *self, const gchar *challenge, GError **error)
{
	gsize k_len = 0;
	const guint8 *k_data;

	g_return_val_if_fail(KL_IS_AGENT_KEYS(self), NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (challenge == NULL || challenge[0] == '\0') {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "No challenge provided.");
		return NULL;
	}
	for (const gchar *p = challenge; *p != '\0'; p++) {
		if (!g_ascii_isalnum(*p)) {
			g_set_error_literal(error,
					    KL_ERROR,
					    KL_ERROR_INVALID_ARGUMENT,
					    "Parameters should be strictly alphanumeric");
			return NULL;
		}
	}
	if (self->key == NULL) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "Bootstrap key not yet available.");
		return NULL;
	}
	k_data = kl_secret_get_data(self->key, &k_len);
	return kl_crypto_hmac_sha384_hex(k_data,
					 k_len,
					 (const guint8 *)challenge,
					 strlen(challenge),
					 error);
}

gboolean
kl_agent_keys_has_payload(KlAgentKeys *self)
{
	g_return_val_if_fail(KL_IS_AGENT_KEYS(self), FALSE);
	return self->payload != NULL;
}

GBytes *
kl_agent_keys_decrypt_payload(KlAgentKeys *self, GError **error)
{
	gsize size = 0;
	const guint8 *data;
	GBytes *plain;

	g_return_val_if_fail(KL_IS_AGENT_KEYS(self), NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (self->key == NULL || self->payload == NULL) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_NOT_FOUND,
				    self->key == NULL ? "Bootstrap key not yet available."
						      : "no payload came with the U key");
		return NULL;
	}
	data = g_bytes_get_data(self->payload, &size);
	plain = kl_crypto_aes_gcm_decrypt(self->key, data, size, error);
	if (plain == NULL)
		g_prefix_error(error, "cannot decrypt the payload: ");
	return plain;
}

void
kl_agent_keys_reset(KlAgentKeys *self)
{
	g_return_if_fail(KL_IS_AGENT_KEYS(self));
	g_ptr_array_set_size(self->u_shares, 0);
	g_ptr_array_set_size(self->v_shares, 0);
	g_clear_pointer(&self->key, kl_secret_unref);
	g_clear_pointer(&self->payload, g_bytes_unref);
}
