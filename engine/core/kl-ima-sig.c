/*
 * IMA signature v2 checks and the keyrings learned from ima-buf entries,
 * following upstream's file_signatures.py: the same header checks, the
 * same key formats tried in the same order, RSA PKCS#1 v1.5 or ECDSA over
 * the prehashed file digest.
 */
#define G_LOG_DOMAIN "KlCore"

#include "config.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "kl-ima-log.h"
#include "kl-ima-sig.h"
#include "kl-json.h"
#include "kl-x509.h"

/* keylime's verifier caps the keyrings it stores; so do we */
#define KL_IMA_KEYRINGS_MAX_JSON (4 * 1024 * 1024)

static const struct {
	guint8 id;
	const gchar *name;
} kl_ima_hash_algos[] = {
	{1, "md5"},
	{2, "sha1"},
	{4, "sha256"},
	{5, "sha384"},
	{6, "sha512"},
	{7, "sha224"},
	{18, "streebog256"},
	{19, "streebog512"},
};

const gchar *
kl_ima_sig_hash_algo_to_string(guint8 hash_algo)
{
	for (guint i = 0; i < G_N_ELEMENTS(kl_ima_hash_algos); i++) {
		if (kl_ima_hash_algos[i].id == hash_algo)
			return kl_ima_hash_algos[i].name;
	}
	return NULL;
}

gint
kl_ima_sig_hash_algo_from_string(const gchar *name)
{
	for (guint i = 0; i < G_N_ELEMENTS(kl_ima_hash_algos); i++) {
		if (g_strcmp0(kl_ima_hash_algos[i].name, name) == 0)
			return kl_ima_hash_algos[i].id;
	}
	return -1;
}

gboolean
kl_ima_sig_parse(const guint8 *data, gsize len, KlImaSigHeader *header, GError **error)
{
	g_return_val_if_fail(header != NULL, FALSE);

	if (data == NULL || len < KL_IMA_SIG_HEADER_SIZE) {
		g_set_error(error,
			    KL_IMA_ERROR,
			    KL_IMA_ERROR_SIGNATURE,
			    "signature header too short (%" G_GSIZE_FORMAT " bytes)",
			    len);
		return FALSE;
	}
	header->type = data[0];
	header->version = data[1];
	header->hash_algo = data[2];
	header->keyid = ((guint32)data[3] << 24) | ((guint32)data[4] << 16) |
			((guint32)data[5] << 8) | data[6];
	header->sig_size = (guint16)((data[7] << 8) | data[8]);
	header->sig = data + KL_IMA_SIG_HEADER_SIZE;
	if (KL_IMA_SIG_HEADER_SIZE + (gsize)header->sig_size != len) {
		g_set_error(error,
			    KL_IMA_ERROR,
			    KL_IMA_ERROR_SIGNATURE,
			    "malformed signature: 9 + %u != %" G_GSIZE_FORMAT,
			    header->sig_size,
			    len);
		return FALSE;
	}
	if (header->type != KL_IMA_SIG_TYPE_DIGSIG &&
	    header->type != KL_IMA_SIG_TYPE_PORTABLE_DIGSIG) {
		g_set_error(error,
			    KL_IMA_ERROR,
			    KL_IMA_ERROR_SIGNATURE,
			    "malformed signature: type %u",
			    header->type);
		return FALSE;
	}
	if (header->version != 2) {
		g_set_error(error,
			    KL_IMA_ERROR,
			    KL_IMA_ERROR_SIGNATURE,
			    "malformed signature: version %u",
			    header->version);
		return FALSE;
	}
	return TRUE;
}

/* keyrings */

typedef struct {
	guint32 keyid;
	EVP_PKEY *key;
} KlImaKey;

typedef struct {
	gchar *name;
	GArray *keys; /* of KlImaKey */
} KlImaKeyring;

struct _KlImaKeyrings {
	GPtrArray *rings; /* of KlImaKeyring, in the order they were learned */
};

static void
kl_ima_key_clear(KlImaKey *key)
{
	g_clear_pointer(&key->key, EVP_PKEY_free);
}

static void
kl_ima_keyring_free(KlImaKeyring *ring)
{
	g_free(ring->name);
	g_array_unref(ring->keys);
	g_free(ring);
}

KlImaKeyrings *
kl_ima_keyrings_new(void)
{
	KlImaKeyrings *self = g_new0(KlImaKeyrings, 1);
	self->rings = g_ptr_array_new_with_free_func((GDestroyNotify)kl_ima_keyring_free);
	return self;
}

void
kl_ima_keyrings_free(KlImaKeyrings *self)
{
	if (self == NULL)
		return;
	g_ptr_array_unref(self->rings);
	g_free(self);
}

void
kl_ima_keyrings_clear(KlImaKeyrings *self)
{
	g_ptr_array_set_size(self->rings, 0);
}

void
kl_ima_keyrings_add(KlImaKeyrings *self, const gchar *keyring, guint32 keyid, EVP_PKEY *key)
{
	KlImaKeyring *ring = NULL;
	KlImaKey item = {keyid, NULL};

	g_return_if_fail(self != NULL);
	g_return_if_fail(keyring != NULL);
	g_return_if_fail(key != NULL);

	for (guint i = 0; i < self->rings->len; i++) {
		KlImaKeyring *tmp = g_ptr_array_index(self->rings, i);
		if (g_strcmp0(tmp->name, keyring) == 0) {
			ring = tmp;
			break;
		}
	}
	if (ring == NULL) {
		ring = g_new0(KlImaKeyring, 1);
		ring->name = g_strdup(keyring);
		ring->keys = g_array_new(FALSE, FALSE, sizeof(KlImaKey));
		g_array_set_clear_func(ring->keys, (GDestroyNotify)kl_ima_key_clear);
		g_ptr_array_add(self->rings, ring);
	}
	EVP_PKEY_up_ref(key);
	item.key = key;
	/* upstream's keyring is a dict by key id: the last one wins */
	for (guint i = 0; i < ring->keys->len; i++) {
		KlImaKey *old = &g_array_index(ring->keys, KlImaKey, i);
		if (old->keyid == keyid) {
			kl_ima_key_clear(old);
			*old = item;
			return;
		}
	}
	g_array_append_val(ring->keys, item);
}

EVP_PKEY *
kl_ima_keyrings_lookup(KlImaKeyrings *self, guint32 keyid)
{
	g_return_val_if_fail(self != NULL, NULL);
	for (guint i = 0; i < self->rings->len; i++) {
		KlImaKeyring *ring = g_ptr_array_index(self->rings, i);
		for (guint j = 0; j < ring->keys->len; j++) {
			KlImaKey *key = &g_array_index(ring->keys, KlImaKey, j);
			if (key->keyid == keyid)
				return key->key;
		}
	}
	return NULL;
}

guint
kl_ima_keyrings_get_n_keys(KlImaKeyrings *self)
{
	guint n = 0;
	for (guint i = 0; i < self->rings->len; i++) {
		KlImaKeyring *ring = g_ptr_array_index(self->rings, i);
		n += ring->keys->len;
	}
	return n;
}

static gchar *
kl_ima_keyring_to_json(KlImaKeyring *ring, GError **error)
{
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
	g_autoptr(JsonNode) root = NULL;

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "pubkeys");
	json_builder_begin_array(builder);
	for (guint i = 0; i < ring->keys->len; i++) {
		KlImaKey *key = &g_array_index(ring->keys, KlImaKey, i);
		g_autofree guint8 *der = NULL;
		g_autofree gchar *b64 = NULL;
		gint der_len = i2d_PUBKEY(key->key, &der);
		if (der_len <= 0) {
			kl_crypto_set_error_openssl(error,
						    KL_IMA_ERROR,
						    KL_IMA_ERROR_INVALID_KEY,
						    "cannot encode a learned key");
			return NULL;
		}
		b64 = g_base64_encode(der, (gsize)der_len);
		json_builder_add_string_value(builder, b64);
	}
	json_builder_end_array(builder);
	json_builder_set_member_name(builder, "keyids");
	json_builder_begin_array(builder);
	for (guint i = 0; i < ring->keys->len; i++) {
		KlImaKey *key = &g_array_index(ring->keys, KlImaKey, i);
		json_builder_add_int_value(builder, key->keyid);
	}
	json_builder_end_array(builder);
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	return kl_json_node_to_string(root, FALSE);
}

gchar *
kl_ima_keyrings_to_json(KlImaKeyrings *self, GError **error)
{
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
	g_autoptr(JsonNode) root = NULL;

	g_return_val_if_fail(self != NULL, NULL);

	json_builder_begin_object(builder);
	for (guint i = 0; i < self->rings->len; i++) {
		KlImaKeyring *ring = g_ptr_array_index(self->rings, i);
		g_autofree gchar *text = kl_ima_keyring_to_json(ring, error);
		if (text == NULL)
			return NULL;
		json_builder_set_member_name(builder, ring->name);
		json_builder_add_string_value(builder, text);
	}
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	return kl_json_node_to_string(root, FALSE);
}

KlImaKeyrings *
kl_ima_keyrings_new_from_json(const gchar *json, gsize len, GError **error)
{
	g_autoptr(KlImaKeyrings) self = kl_ima_keyrings_new();
	g_autoptr(JsonObject) object = NULL;
	g_autoptr(GList) members = NULL;

	object = kl_json_parse_object(json, len, KL_IMA_KEYRINGS_MAX_JSON, 4, error);
	if (object == NULL) {
		g_prefix_error(error, "learned IMA keyrings: ");
		return NULL;
	}
	members = json_object_get_members(object);
	for (GList *l = members; l != NULL; l = l->next) {
		const gchar *name = l->data;
		const gchar *text = NULL;
		g_autoptr(GPtrArray) keys = NULL;

		if (!kl_json_object_get_string(object, name, &text, error)) {
			g_prefix_error(error, "learned IMA keyrings: ");
			return NULL;
		}
		keys = kl_runtime_policy_parse_keyring(text, strlen(text), error);
		if (keys == NULL) {
			g_prefix_error(error, "learned IMA keyring %s: ", name);
			return NULL;
		}
		for (guint i = 0; i < keys->len; i++) {
			KlRuntimePolicyKey *key = g_ptr_array_index(keys, i);
			kl_ima_keyrings_add(self, name, key->keyid, key->key);
		}
	}
	return g_steal_pointer(&self);
}

/* keys carried by ima-buf entries */

static guint32
kl_ima_keyid_from_cert(X509 *cert)
{
	const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(cert);
	const guint8 *data;
	gint len;

	if (skid == NULL)
		return 0;
	data = ASN1_STRING_get0_data(skid);
	len = ASN1_STRING_length(skid);
	if (len < 4)
		return 0;
	return ((guint32)data[len - 4] << 24) | ((guint32)data[len - 3] << 16) |
	       ((guint32)data[len - 2] << 8) | data[len - 1];
}

/* Upstream's get_pubkey(): certificate DER, certificate PEM, public key
 * DER, public key PEM, private key DER, private key PEM. */
static EVP_PKEY *
kl_ima_key_try_formats(const guint8 *buf, gsize len, guint32 *keyid)
{
	const guint8 *p;
	g_autoptr(X509) cert = NULL;
	EVP_PKEY *key = NULL;
	/* cheap guards first: most ima-buf events (kexec command lines, dm
	 * tables) are neither DER (a SEQUENCE) nor PEM */
	gboolean der = len > 0 && buf[0] == 0x30;
	gboolean pem = len > 0 && memmem(buf, len, "-----BEGIN ", 11) != NULL;

	*keyid = 0;
	if ((!der && !pem) || len > G_MAXINT)
		return NULL;
	if (der)
		cert = kl_x509_load_der(buf, len, NULL);
	if (cert == NULL && pem)
		cert = kl_x509_load_pem((const gchar *)buf, len, NULL);
	if (cert != NULL) {
		*keyid = kl_ima_keyid_from_cert(cert);
		return X509_get_pubkey(cert);
	}
	if (der) {
		p = buf;
		key = d2i_PUBKEY(NULL, &p, (long)len);
	}
	if (key == NULL && pem) {
		g_autoptr(BIO) bio = BIO_new_mem_buf(buf, (int)len);
		key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	}
	if (key == NULL && der) {
		p = buf;
		key = d2i_AutoPrivateKey(NULL, &p, (long)len);
	}
	if (key == NULL && pem) {
		g_autoptr(BIO) bio = BIO_new_mem_buf(buf, (int)len);
		/* an empty password: never prompt on a terminal */
		key = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
	}
	return key;
}

EVP_PKEY *
kl_ima_key_from_buffer(const guint8 *buf, gsize len, guint32 *keyid, GError **error)
{
	g_autoptr(EVP_PKEY) key = NULL;
	guint32 id = 0;

	key = kl_ima_key_try_formats(buf, len, &id);
	/* the failed attempts leave their reasons behind */
	ERR_clear_error();
	if (key == NULL)
		return NULL;
	if (!EVP_PKEY_is_a(key, "RSA") && !EVP_PKEY_is_a(key, "EC")) {
		g_set_error(error,
			    KL_IMA_ERROR,
			    KL_IMA_ERROR_INVALID_KEY,
			    "unsupported key type %s",
			    EVP_PKEY_get0_type_name(key));
		return NULL;
	}
	if (id == 0 && !kl_runtime_policy_compute_key_id(key, &id, error))
		return NULL;
	if (keyid != NULL)
		*keyid = id;
	return g_steal_pointer(&key);
}

/* verification */

static EVP_PKEY *
kl_ima_sig_find_key(guint32 keyid, GPtrArray *policy_keys, KlImaKeyrings *learned)
{
	if (policy_keys != NULL) {
		for (guint i = 0; i < policy_keys->len; i++) {
			KlRuntimePolicyKey *key = g_ptr_array_index(policy_keys, i);
			if (key->keyid == keyid)
				return key->key;
		}
	}
	if (learned != NULL)
		return kl_ima_keyrings_lookup(learned, keyid);
	return NULL;
}

gboolean
kl_ima_sig_verify(const guint8 *sig,
		  gsize sig_len,
		  const guint8 *digest,
		  gsize digest_len,
		  const gchar *digest_alg,
		  GPtrArray *policy_keys,
		  KlImaKeyrings *learned,
		  GError **error)
{
	KlImaSigHeader header = {0};
	const gchar *hash_name;
	const EVP_MD *md;
	EVP_PKEY *key;
	g_autoptr(EVP_PKEY_CTX) ctx = NULL;

	if (!kl_ima_sig_parse(sig, sig_len, &header, error))
		return FALSE;
	hash_name = kl_ima_sig_hash_algo_to_string(header.hash_algo);
	if (hash_name == NULL) {
		g_set_error(error,
			    KL_IMA_ERROR,
			    KL_IMA_ERROR_SIGNATURE,
			    "unsupported signature hash algorithm id %u",
			    header.hash_algo);
		return FALSE;
	}
	if (g_strcmp0(hash_name, digest_alg) != 0) {
		g_set_error(error,
			    KL_IMA_ERROR,
			    KL_IMA_ERROR_SIGNATURE,
			    "signature hash %s does not match the file digest's %s",
			    hash_name,
			    digest_alg);
		return FALSE;
	}
	key = kl_ima_sig_find_key(header.keyid, policy_keys, learned);
	if (key == NULL) {
		g_set_error(error,
			    KL_IMA_ERROR,
			    KL_IMA_ERROR_SIGNATURE,
			    "no key with id 0x%08x",
			    header.keyid);
		return FALSE;
	}
	/* md5, sha224 and streebog are not in kl_crypto_get_md(): such
	 * signatures fail here and the entry falls back to the digests */
	md = kl_crypto_get_md(hash_name, error);
	if (md == NULL)
		return FALSE;
	if ((gsize)EVP_MD_get_size(md) != digest_len) {
		g_set_error(error,
			    KL_IMA_ERROR,
			    KL_IMA_ERROR_SIGNATURE,
			    "file digest has %" G_GSIZE_FORMAT " bytes, not a %s digest",
			    digest_len,
			    hash_name);
		return FALSE;
	}
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (ctx == NULL || EVP_PKEY_verify_init(ctx) != 1 ||
	    (EVP_PKEY_is_a(key, "RSA") &&
	     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1) ||
	    EVP_PKEY_CTX_set_signature_md(ctx, md) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_IMA_ERROR,
					    KL_IMA_ERROR_SIGNATURE,
					    "cannot verify with key 0x%08x",
					    header.keyid);
		return FALSE;
	}
	if (EVP_PKEY_verify(ctx, header.sig, header.sig_size, digest, digest_len) != 1) {
		ERR_clear_error();
		g_set_error(error,
			    KL_IMA_ERROR,
			    KL_IMA_ERROR_SIGNATURE,
			    "signature does not verify with key 0x%08x",
			    header.keyid);
		return FALSE;
	}
	return TRUE;
}
