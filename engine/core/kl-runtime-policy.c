/*
 * Keylime's runtime policy: the v1 JSON validated member by member with
 * errors naming the member path, digests decoded once into hash tables,
 * excludes compiled once into one anchored GRegex, verification keys
 * parsed once into EVP_PKEYs; DSSE envelopes; and the builder that
 * keylime-policy uses to write upstream's JSON.
 */
#define G_LOG_DOMAIN "KlCore"

#include "config.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <string.h>

#include "kl-base64.h"
#include "kl-error.h"
#include "kl-json.h"
#include "kl-runtime-policy.h"
#include "kl-x509.h"

/* Spelled out: clang-format mangles G_DEFINE_QUARK's dashed argument. */
GQuark
kl_runtime_policy_error_quark(void)
{
	return g_quark_from_static_string("kl-runtime-policy-error-quark");
}

/* verification-keys is a JSON document inside a string: its own limits */
#define KL_RUNTIME_POLICY_KEYRING_MAX_SIZE (16 * 1024 * 1024)
#define KL_RUNTIME_POLICY_KEYRING_DEPTH	   4
/* names in error messages are shortened: they come from the document */
#define KL_RUNTIME_POLICY_NAME_MAX 200

static const gchar *const map_members[] = {
	[KL_RUNTIME_POLICY_MAP_DIGESTS] = "digests",
	[KL_RUNTIME_POLICY_MAP_KEYRINGS] = "keyrings",
	[KL_RUNTIME_POLICY_MAP_IMA_BUF] = "ima-buf",
};
#define KL_RUNTIME_POLICY_N_MAPS G_N_ELEMENTS(map_members)

static const gchar *const log_hash_algs[] = {"sha1", "sha256", "sha384", "sha512", NULL};

struct _KlRuntimePolicy {
	gatomicrefcount refcount;
	GBytes *document;
	gchar *checksum;
	gint64 version;
	KlRuntimePolicyGenerator generator;
	gchar *timestamp;
	gint64 release;
	gchar **excludes;
	GRegex *exclude_regex; /* NULL: no excludes */
	/* name → GByteArray of entries [u8 len][len bytes of digest] */
	GHashTable *maps[KL_RUNTIME_POLICY_N_MAPS];
	gchar **ignored_keyrings;
	gboolean ignore_all_keyrings;
	gchar *log_hash_alg;
	gchar *verification_keys_json;
	GPtrArray *verification_keys; /* of KlRuntimePolicyKey */
};

static gboolean
kl_runtime_policy_invalid(GError **error, const gchar *format, ...) G_GNUC_PRINTF(2, 3);

static gboolean
kl_runtime_policy_invalid(GError **error, const gchar *format, ...)
{
	va_list args;
	g_autofree gchar *message = NULL;

	va_start(args, format);
	message = g_strdup_vprintf(format, args);
	va_end(args);
	g_set_error_literal(error,
			    KL_RUNTIME_POLICY_ERROR,
			    KL_RUNTIME_POLICY_ERROR_INVALID,
			    message);
	return FALSE;
}

/* A document-supplied name made safe and short for an error message. */
static gchar *
kl_runtime_policy_quote_name(const gchar *name)
{
	g_autofree gchar *escaped = g_strescape(name, NULL);
	if (strlen(escaped) > KL_RUNTIME_POLICY_NAME_MAX) {
		escaped[KL_RUNTIME_POLICY_NAME_MAX] = '\0';
		return g_strdup_printf("%s…", escaped);
	}
	return g_steal_pointer(&escaped);
}

/* upstream's schema: ^[0-9a-f]{40,128}$; odd lengths can never match a
 * digest, so they are refused as well */
static gboolean
kl_runtime_policy_hex_is_valid(const gchar *hex)
{
	gsize len = strlen(hex);
	if (len < 40 || len > 128 || len % 2 != 0)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isdigit(hex[i]) && !(hex[i] >= 'a' && hex[i] <= 'f'))
			return FALSE;
	}
	return TRUE;
}

static void
kl_runtime_policy_entries_append(GByteArray *entries, GBytes *digest)
{
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(digest, &len);
	guint8 len8 = (guint8)len; /* <= 64 by kl_runtime_policy_hex_is_valid */
	g_byte_array_append(entries, &len8, 1);
	g_byte_array_append(entries, data, (guint)len);
}

/* @member is map_members[@map], or "hashes" in an old JSON allowlist */
static gboolean
kl_runtime_policy_parse_map(KlRuntimePolicy *self,
			    JsonObject *root,
			    const gchar *member,
			    KlRuntimePolicyMap map,
			    GError **error)
{
	JsonObject *object = NULL;
	JsonObjectIter iter;
	const gchar *name = NULL;
	JsonNode *node = NULL;

	if (!kl_json_object_get_object(root, member, &object, error))
		return FALSE;
	json_object_iter_init(&iter, object);
	while (json_object_iter_next(&iter, &name, &node)) {
		g_autofree gchar *quoted = kl_runtime_policy_quote_name(name);
		g_autoptr(GByteArray) entries = NULL;
		JsonArray *array;
		guint n;

		if (!JSON_NODE_HOLDS_ARRAY(node))
			return kl_runtime_policy_invalid(error,
							 "%s.%s: expected an array of digests",
							 member,
							 quoted);
		array = json_node_get_array(node);
		n = json_array_get_length(array);
		if (n == 0)
			return kl_runtime_policy_invalid(error,
							 "%s.%s: the digest list is empty",
							 member,
							 quoted);
		entries = g_byte_array_sized_new(n * 33);
		for (guint i = 0; i < n; i++) {
			JsonNode *element = json_array_get_element(array, i);
			const gchar *hex;
			g_autoptr(GBytes) digest = NULL;

			if (!JSON_NODE_HOLDS_VALUE(element) ||
			    json_node_get_value_type(element) != G_TYPE_STRING)
				return kl_runtime_policy_invalid(error,
								 "%s.%s[%u]: expected a string",
								 member,
								 quoted,
								 i);
			hex = json_node_get_string(element);
			if (!kl_runtime_policy_hex_is_valid(hex))
				return kl_runtime_policy_invalid(error,
								 "%s.%s[%u]: not a lowercase hex "
								 "digest of 40–128 characters",
								 member,
								 quoted,
								 i);
			digest = kl_crypto_hex_decode(hex, error);
			if (digest == NULL)
				return FALSE;
			kl_runtime_policy_entries_append(entries, digest);
		}
		g_hash_table_replace(self->maps[map], g_strdup(name), g_steal_pointer(&entries));
	}
	return TRUE;
}

static gboolean
kl_runtime_policy_parse_meta(KlRuntimePolicy *self, JsonObject *root, GError **error)
{
	JsonObject *meta = NULL;
	const gchar *timestamp = NULL;
	gint64 generator = 0;

	if (!kl_json_object_get_object(root, "meta", &meta, error))
		return FALSE;
	if (!kl_json_object_get_int(meta, "version", 0, G_MAXINT64, &self->version, error) ||
	    !kl_json_object_get_int(meta,
				    "generator",
				    KL_RUNTIME_POLICY_GENERATOR_UNKNOWN,
				    KL_RUNTIME_POLICY_GENERATOR_LEGACY_ALLOWLIST,
				    &generator,
				    error)) {
		g_prefix_error(error, "meta: ");
		return FALSE;
	}
	if (json_object_has_member(meta, "timestamp")) {
		if (!kl_json_object_get_string(meta, "timestamp", &timestamp, error)) {
			g_prefix_error(error, "meta: ");
			return FALSE;
		}
		self->timestamp = g_strdup(timestamp);
	}
	self->generator = (KlRuntimePolicyGenerator)generator;
	return TRUE;
}

static gboolean
kl_runtime_policy_parse_ima(KlRuntimePolicy *self, JsonObject *root, GError **error)
{
	JsonObject *ima = NULL;
	JsonNode *dm_policy;
	const gchar *alg = NULL;

	if (!kl_json_object_get_object(root, "ima", &ima, error))
		return FALSE;
	if (!kl_json_object_get_string_array(ima,
					     "ignored_keyrings",
					     &self->ignored_keyrings,
					     error) ||
	    !kl_json_object_get_string(ima, "log_hash_alg", &alg, error)) {
		g_prefix_error(error, "ima: ");
		return FALSE;
	}
	if (!g_strv_contains(log_hash_algs, alg)) {
		g_autofree gchar *quoted = kl_runtime_policy_quote_name(alg);
		return kl_runtime_policy_invalid(
			error,
			"ima.log_hash_alg: '%s' is not one of sha1, sha256, sha384, sha512",
			quoted);
	}
	self->log_hash_alg = g_strdup(alg);
	self->ignore_all_keyrings =
		g_strv_contains((const gchar *const *)self->ignored_keyrings, "*");
	/* the schema pins dm_policy to null: device-mapper validation is off */
	dm_policy = json_object_get_member(ima, "dm_policy");
	if (dm_policy == NULL)
		return kl_runtime_policy_invalid(error, "ima.dm_policy: missing");
	if (!JSON_NODE_HOLDS_NULL(dm_policy))
		return kl_runtime_policy_invalid(error, "ima.dm_policy: must be null");
	return TRUE;
}

/* One regex "(e1)|(e2)|…", anchored like Python's re.match; GRegex is in
 * UTF-8 mode with Unicode \w, \d and \b, as Python 3 str patterns are.
 * Each exclude is compiled on its own first so that an error names it. */
static gboolean
kl_runtime_policy_compile_excludes(KlRuntimePolicy *self, GError **error)
{
	g_autoptr(GString) combined = g_string_new(NULL);
	g_autoptr(GError) regex_error = NULL;
	const GRegexCompileFlags flags = G_REGEX_ANCHORED | G_REGEX_OPTIMIZE;

	if (self->excludes[0] == NULL)
		return TRUE;
	for (guint i = 0; self->excludes[i] != NULL; i++) {
		g_autoptr(GRegex) single = g_regex_new(self->excludes[i], 0, 0, &regex_error);
		if (single == NULL) {
			g_autofree gchar *quoted = kl_runtime_policy_quote_name(self->excludes[i]);
			return kl_runtime_policy_invalid(error,
							 "excludes[%u]: invalid regex '%s': %s",
							 i,
							 quoted,
							 regex_error->message);
		}
		if (i > 0)
			g_string_append_c(combined, '|');
		g_string_append_printf(combined, "(%s)", self->excludes[i]);
	}
	self->exclude_regex = g_regex_new(combined->str, flags, 0, &regex_error);
	if (self->exclude_regex == NULL)
		return kl_runtime_policy_invalid(error,
						 "excludes: the combined regex is invalid: %s",
						 regex_error->message);
	return TRUE;
}

void
kl_runtime_policy_key_free(KlRuntimePolicyKey *key)
{
	if (key == NULL)
		return;
	EVP_PKEY_free(key->key);
	g_free(key);
}

static gboolean
kl_runtime_policy_set_openssl_error(GError **error, const gchar *what)
{
	kl_crypto_set_error_openssl(error,
				    KL_RUNTIME_POLICY_ERROR,
				    KL_RUNTIME_POLICY_ERROR_INVALID,
				    "%s",
				    what);
	return FALSE;
}

/* spec §5.5: last 4 bytes (big endian) of SHA-1 over the RSAPublicKey DER,
 * or over the uncompressed EC point */
gboolean
kl_runtime_policy_compute_key_id(EVP_PKEY *key, guint32 *keyid, GError **error)
{
	g_autofree guint8 *der = NULL;
	gsize der_len = 0;
	guint8 md[EVP_MAX_MD_SIZE];
	gsize md_len = 0;

	g_return_val_if_fail(key != NULL, FALSE);

	if (EVP_PKEY_is_a(key, "RSA")) {
		guint8 *out = NULL;
		int len = i2d_PublicKey(key, &out);
		if (len <= 0)
			return kl_runtime_policy_set_openssl_error(error,
								   "cannot encode the RSA key");
		der = g_memdup2(out, (gsize)len);
		der_len = (gsize)len;
		OPENSSL_free(out);
	} else if (EVP_PKEY_is_a(key, "EC")) {
		g_autoptr(BIGNUM) x = NULL;
		g_autoptr(BIGNUM) y = NULL;
		gint bits = EVP_PKEY_get_bits(key);
		gsize field = (gsize)(bits + 7) / 8;

		if (bits <= 0 || EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
		    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1)
			return kl_runtime_policy_set_openssl_error(error,
								   "cannot read the EC point");
		der_len = 1 + 2 * field;
		der = g_malloc0(der_len);
		der[0] = 0x04;
		if (BN_bn2binpad(x, der + 1, (int)field) < 0 ||
		    BN_bn2binpad(y, der + 1 + field, (int)field) < 0)
			return kl_runtime_policy_set_openssl_error(error,
								   "cannot encode the EC point");
	} else {
		g_set_error(error,
			    KL_RUNTIME_POLICY_ERROR,
			    KL_RUNTIME_POLICY_ERROR_INVALID,
			    "unsupported key type %s for IMA signatures",
			    EVP_PKEY_get0_type_name(key));
		return FALSE;
	}
	if (!kl_crypto_digest("sha1", der, der_len, md, &md_len, error))
		return FALSE;
	*keyid = ((guint32)md[16] << 24) | ((guint32)md[17] << 16) | ((guint32)md[18] << 8) |
		 (guint32)md[19];
	return TRUE;
}

/* upstream's dsse.b64dec: hex first, then standard, then URL-safe base64 */
static GBytes *
kl_runtime_policy_dsse_b64dec(const gchar *text, const gchar *member, GError **error)
{
	GBytes *bytes;
	gsize len = strlen(text);
	gboolean is_hex = len > 0 && len % 2 == 0;

	for (gsize i = 0; is_hex && i < len; i++)
		is_hex = g_ascii_isxdigit(text[i]);
	if (is_hex)
		return kl_crypto_hex_decode(text, error);
	bytes = kl_base64_decode(text, -1, KL_BASE64_FLAG_NONE, NULL);
	if (bytes == NULL)
		bytes = kl_base64_decode(text, -1, KL_BASE64_FLAG_URL_SAFE, NULL);
	if (bytes == NULL)
		kl_runtime_policy_invalid(error, "%s: not base64", member);
	return bytes;
}

static KlRuntimePolicyKey *
kl_runtime_policy_key_new_from_der(GBytes *der, GError **error)
{
	g_autoptr(KlRuntimePolicyKey) key = g_new0(KlRuntimePolicyKey, 1);
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(der, &len);
	const guint8 *p = data;

	if (len > G_MAXLONG) {
		kl_runtime_policy_invalid(error, "the key is too large");
		return NULL;
	}
	key->key = d2i_PUBKEY(NULL, &p, (long)len);
	if (key->key == NULL || p != data + len) {
		kl_runtime_policy_set_openssl_error(error,
						    "not a DER SubjectPublicKeyInfo of its length");
		return NULL;
	}
	ERR_clear_error();
	return g_steal_pointer(&key);
}

GPtrArray *
kl_runtime_policy_parse_keyring(const gchar *json, gsize len, GError **error)
{
	g_autoptr(JsonObject) root = NULL;
	g_autoptr(GPtrArray) keys =
		g_ptr_array_new_with_free_func((GDestroyNotify)kl_runtime_policy_key_free);
	JsonArray *keyids = NULL;
	JsonArray *pubkeys = NULL;

	root = kl_json_parse_object(json,
				    len,
				    KL_RUNTIME_POLICY_KEYRING_MAX_SIZE,
				    KL_RUNTIME_POLICY_KEYRING_DEPTH,
				    error);
	if (root == NULL)
		return NULL;
	if (!kl_json_object_get_array(root, "keyids", &keyids, error) ||
	    !kl_json_object_get_array(root, "pubkeys", &pubkeys, error))
		return NULL;
	if (json_array_get_length(keyids) > json_array_get_length(pubkeys)) {
		kl_runtime_policy_invalid(error, "keyids: more key ids than pubkeys");
		return NULL;
	}
	for (guint i = 0; i < json_array_get_length(pubkeys); i++) {
		JsonNode *node = json_array_get_element(pubkeys, i);
		g_autofree gchar *member = g_strdup_printf("pubkeys[%u]", i);
		g_autoptr(GBytes) der = NULL;
		g_autoptr(KlRuntimePolicyKey) key = NULL;

		if (!JSON_NODE_HOLDS_VALUE(node) ||
		    json_node_get_value_type(node) != G_TYPE_STRING) {
			kl_runtime_policy_invalid(error, "%s: expected a string", member);
			return NULL;
		}
		der = kl_base64_decode(json_node_get_string(node), -1, KL_BASE64_FLAG_NONE, NULL);
		if (der == NULL) {
			kl_runtime_policy_invalid(error, "%s: not base64", member);
			return NULL;
		}
		key = kl_runtime_policy_key_new_from_der(der, error);
		if (key == NULL) {
			g_prefix_error(error, "%s: ", member);
			return NULL;
		}
		/* an explicit key id wins over the computed one */
		if (i < json_array_get_length(keyids)) {
			JsonNode *id = json_array_get_element(keyids, i);
			gint64 value;
			if (!JSON_NODE_HOLDS_VALUE(id) ||
			    json_node_get_value_type(id) != G_TYPE_INT64) {
				kl_runtime_policy_invalid(error,
							  "keyids[%u]: expected an integer",
							  i);
				return NULL;
			}
			value = json_node_get_int(id);
			if (value < 0 || value > G_MAXUINT32) {
				kl_runtime_policy_invalid(error,
							  "keyids[%u]: not a 32-bit key id",
							  i);
				return NULL;
			}
			key->keyid = (guint32)value;
		} else if (!kl_runtime_policy_compute_key_id(key->key, &key->keyid, error)) {
			g_prefix_error(error, "%s: ", member);
			return NULL;
		}
		g_ptr_array_add(keys, g_steal_pointer(&key));
	}
	return g_steal_pointer(&keys);
}

static gboolean
kl_runtime_policy_parse_verification_keys(KlRuntimePolicy *self, JsonObject *root, GError **error)
{
	const gchar *text = NULL;

	if (!kl_json_object_get_string(root, "verification-keys", &text, error))
		return FALSE;
	self->verification_keys_json = g_strdup(text);
	if (text[0] == '\0') {
		self->verification_keys =
			g_ptr_array_new_with_free_func((GDestroyNotify)kl_runtime_policy_key_free);
		return TRUE;
	}
	self->verification_keys = kl_runtime_policy_parse_keyring(text, strlen(text), error);
	if (self->verification_keys == NULL) {
		g_prefix_error(error, "verification-keys: ");
		return FALSE;
	}
	return TRUE;
}

static KlRuntimePolicy *
kl_runtime_policy_new(void)
{
	KlRuntimePolicy *self = g_new0(KlRuntimePolicy, 1);
	g_atomic_ref_count_init(&self->refcount);
	for (guint i = 0; i < KL_RUNTIME_POLICY_N_MAPS; i++)
		self->maps[i] = g_hash_table_new_full(g_str_hash,
						      g_str_equal,
						      g_free,
						      (GDestroyNotify)g_byte_array_unref);
	return self;
}

KlRuntimePolicy *
kl_runtime_policy_ref(KlRuntimePolicy *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	g_atomic_ref_count_inc(&self->refcount);
	return self;
}

void
kl_runtime_policy_unref(KlRuntimePolicy *self)
{
	g_return_if_fail(self != NULL);
	if (!g_atomic_ref_count_dec(&self->refcount))
		return;
	g_clear_pointer(&self->document, g_bytes_unref);
	g_free(self->checksum);
	g_free(self->timestamp);
	g_strfreev(self->excludes);
	g_clear_pointer(&self->exclude_regex, g_regex_unref);
	for (guint i = 0; i < KL_RUNTIME_POLICY_N_MAPS; i++)
		g_clear_pointer(&self->maps[i], g_hash_table_unref);
	g_strfreev(self->ignored_keyrings);
	g_free(self->log_hash_alg);
	g_free(self->verification_keys_json);
	g_clear_pointer(&self->verification_keys, g_ptr_array_unref);
	g_free(self);
}

static gchar *
kl_runtime_policy_checksum(const gchar *data, gsize len, GError **error)
{
	guint8 md[EVP_MAX_MD_SIZE];
	gsize md_len = 0;
	if (!kl_crypto_digest("sha256", (const guint8 *)data, len, md, &md_len, error))
		return NULL;
	return kl_crypto_hex_encode(md, md_len);
}

/* The v1 document in @root; every required member, in upstream's order. */
static gboolean
kl_runtime_policy_load(KlRuntimePolicy *self, JsonObject *root, GError **error)
{
	if (json_object_has_member(root, "payload")) {
		g_set_error_literal(error,
				    KL_RUNTIME_POLICY_ERROR,
				    KL_RUNTIME_POLICY_ERROR_SIGNED,
				    "the runtime policy is a DSSE envelope: a key is needed");
		return FALSE;
	}
	if (!kl_runtime_policy_parse_meta(self, root, error))
		return FALSE;
	if (!kl_json_object_get_int(root, "release", 0, G_MAXINT64, &self->release, error))
		return FALSE;
	if (!kl_runtime_policy_parse_map(self,
					 root,
					 map_members[KL_RUNTIME_POLICY_MAP_DIGESTS],
					 KL_RUNTIME_POLICY_MAP_DIGESTS,
					 error))
		return FALSE;
	if (!kl_json_object_get_string_array(root, "excludes", &self->excludes, error))
		return FALSE;
	if (!kl_runtime_policy_compile_excludes(self, error))
		return FALSE;
	if (!kl_runtime_policy_parse_map(self,
					 root,
					 map_members[KL_RUNTIME_POLICY_MAP_KEYRINGS],
					 KL_RUNTIME_POLICY_MAP_KEYRINGS,
					 error))
		return FALSE;
	if (!kl_runtime_policy_parse_ima(self, root, error))
		return FALSE;
	if (!kl_runtime_policy_parse_map(self,
					 root,
					 map_members[KL_RUNTIME_POLICY_MAP_IMA_BUF],
					 KL_RUNTIME_POLICY_MAP_IMA_BUF,
					 error))
		return FALSE;
	return kl_runtime_policy_parse_verification_keys(self, root, error);
}

static KlRuntimePolicy *
kl_runtime_policy_new_from_document(GBytes *document, const gchar *checksum, GError **error)
{
	g_autoptr(KlRuntimePolicy) self = kl_runtime_policy_new();
	g_autoptr(JsonObject) root = NULL;
	gsize len = 0;
	const gchar *data = g_bytes_get_data(document, &len);

	root = kl_json_parse_object(data,
				    len,
				    KL_RUNTIME_POLICY_MAX_SIZE,
				    KL_RUNTIME_POLICY_MAX_DEPTH,
				    error);
	if (root == NULL)
		return NULL;
	if (!kl_runtime_policy_load(self, root, error))
		return NULL;
	self->document = g_bytes_ref(document);
	self->checksum = g_strdup(checksum);
	return g_steal_pointer(&self);
}

KlRuntimePolicy *
kl_runtime_policy_new_from_json(const gchar *data, gsize len, GError **error)
{
	g_autoptr(GBytes) document = NULL;
	g_autofree gchar *checksum = NULL;

	g_return_val_if_fail(data != NULL || len == 0, NULL);

	/* before hashing it: a huge document is refused without reading it */
	if (len > KL_RUNTIME_POLICY_MAX_SIZE) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_TOO_LARGE,
			    "runtime policy of %" G_GSIZE_FORMAT " bytes exceeds the limit of %d",
			    len,
			    KL_RUNTIME_POLICY_MAX_SIZE);
		return NULL;
	}
	checksum = kl_runtime_policy_checksum(data, len, error);
	if (checksum == NULL)
		return NULL;
	document = g_bytes_new(data, len);
	return kl_runtime_policy_new_from_document(document, checksum, error);
}

gboolean
kl_runtime_policy_is_dsse(const gchar *data, gsize len)
{
	g_autoptr(JsonObject) root = NULL;

	root = kl_json_parse_object(data,
				    len,
				    KL_RUNTIME_POLICY_MAX_SIZE,
				    KL_RUNTIME_POLICY_MAX_DEPTH,
				    NULL);
	return root != NULL && json_object_has_member(root, "payload");
}

/* "DSSEv1 <len(type)> <type> <len(payload)> <payload>" */
static GByteArray *
kl_runtime_policy_dsse_pae(const gchar *payload_type, const guint8 *payload, gsize len)
{
	GByteArray *pae = g_byte_array_new();
	g_autofree gchar *head =
		g_strdup_printf("DSSEv1 %" G_GSIZE_FORMAT " %s %" G_GSIZE_FORMAT " ",
				strlen(payload_type),
				payload_type,
				len);
	g_byte_array_append(pae, (const guint8 *)head, (guint)strlen(head));
	g_byte_array_append(pae, payload, (guint)len);
	return pae;
}

static gboolean
kl_runtime_policy_ecdsa_verify(EVP_PKEY *key,
			       const guint8 *message,
			       gsize len,
			       const guint8 *sig,
			       gsize sig_len)
{
	g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new();
	gboolean ok = ctx != NULL &&
		      EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
		      EVP_DigestVerify(ctx, sig, sig_len, message, len) == 1;
	ERR_clear_error();
	return ok;
}

GBytes *
kl_runtime_policy_dsse_verify(const gchar *envelope, gsize len, EVP_PKEY *key, GError **error)
{
	g_autoptr(JsonObject) root = NULL;
	g_autoptr(GBytes) payload = NULL;
	g_autoptr(GByteArray) pae = NULL;
	const gchar *payload_type = NULL;
	const gchar *payload_b64 = NULL;
	JsonArray *signatures = NULL;
	gsize payload_len = 0;
	const guint8 *payload_data;

	g_return_val_if_fail(key != NULL, NULL);

	root = kl_json_parse_object(envelope,
				    len,
				    KL_RUNTIME_POLICY_MAX_SIZE,
				    KL_RUNTIME_POLICY_MAX_DEPTH,
				    error);
	if (root == NULL)
		return NULL;
	if (!json_object_has_member(root, "payload")) {
		g_set_error_literal(error,
				    KL_RUNTIME_POLICY_ERROR,
				    KL_RUNTIME_POLICY_ERROR_SIGNATURE,
				    "the runtime policy is not signed (no DSSE payload)");
		return NULL;
	}
	if (!kl_json_object_get_string(root, "payloadType", &payload_type, error) ||
	    !kl_json_object_get_string(root, "payload", &payload_b64, error) ||
	    !kl_json_object_get_array(root, "signatures", &signatures, error))
		return NULL;
	payload = kl_runtime_policy_dsse_b64dec(payload_b64, "payload", error);
	if (payload == NULL)
		return NULL;
	payload_data = g_bytes_get_data(payload, &payload_len);
	pae = kl_runtime_policy_dsse_pae(payload_type, payload_data, payload_len);
	/* like upstream without strict key id matching: any signature will do */
	for (guint i = 0; i < json_array_get_length(signatures); i++) {
		JsonNode *node = json_array_get_element(signatures, i);
		g_autofree gchar *member = g_strdup_printf("signatures[%u]", i);
		g_autoptr(GBytes) sig = NULL;
		const gchar *sig_text = NULL;
		gsize sig_len = 0;
		const guint8 *sig_data;

		if (!JSON_NODE_HOLDS_OBJECT(node)) {
			kl_runtime_policy_invalid(error, "%s: expected an object", member);
			return NULL;
		}
		if (!kl_json_object_get_string(json_node_get_object(node),
					       "sig",
					       &sig_text,
					       error)) {
			g_prefix_error(error, "%s: ", member);
			return NULL;
		}
		sig = kl_runtime_policy_dsse_b64dec(sig_text, member, error);
		if (sig == NULL)
			return NULL;
		sig_data = g_bytes_get_data(sig, &sig_len);
		if (kl_runtime_policy_ecdsa_verify(key, pae->data, pae->len, sig_data, sig_len))
			return g_steal_pointer(&payload);
	}
	g_set_error_literal(error,
			    KL_RUNTIME_POLICY_ERROR,
			    KL_RUNTIME_POLICY_ERROR_SIGNATURE,
			    "no valid signature found for the runtime policy");
	return NULL;
}

KlRuntimePolicy *
kl_runtime_policy_new_from_dsse(const gchar *data, gsize len, EVP_PKEY *key, GError **error)
{
	g_autoptr(GBytes) payload = NULL;
	g_autofree gchar *checksum = NULL;

	g_return_val_if_fail(data != NULL || len == 0, NULL);
	g_return_val_if_fail(key != NULL, NULL);

	payload = kl_runtime_policy_dsse_verify(data, len, key, error);
	if (payload == NULL)
		return NULL;
	/* the checksum is over the bytes received, the envelope */
	checksum = kl_runtime_policy_checksum(data, len, error);
	if (checksum == NULL)
		return NULL;
	return kl_runtime_policy_new_from_document(payload, checksum, error);
}

gchar *
kl_runtime_policy_dsse_ecdsa_keyid(EVP_PKEY *key, GError **error)
{
	g_autofree gchar *pem = kl_key_to_pem_public(key, error);
	if (pem == NULL)
		return NULL;
	return kl_runtime_policy_checksum(pem, strlen(pem), error);
}

gchar *
kl_runtime_policy_dsse_x509_keyid(X509 *cert, GError **error)
{
	g_autofree gchar *pem = kl_x509_to_pem(cert, error);
	if (pem == NULL)
		return NULL;
	return g_base64_encode((const guchar *)pem, strlen(pem));
}

/* The envelope as upstream's json.dumps() writes it. */
gchar *
kl_runtime_policy_dsse_sign(const guint8 *payload,
			    gsize len,
			    EVP_PKEY *key,
			    const gchar *keyid,
			    GError **error)
{
	g_autoptr(GByteArray) pae = NULL;
	g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new();
	g_autofree guint8 *sig = NULL;
	g_autofree gchar *sig_b64 = NULL;
	g_autofree gchar *payload_b64 = NULL;
	g_autofree gchar *keyid_member = NULL;
	size_t sig_len = 0;

	g_return_val_if_fail(key != NULL, NULL);

	if (!EVP_PKEY_is_a(key, "EC")) {
		g_set_error_literal(error,
				    KL_RUNTIME_POLICY_ERROR,
				    KL_RUNTIME_POLICY_ERROR_SIGNATURE,
				    "only elliptic curve keys are supported for signing");
		return NULL;
	}
	pae = kl_runtime_policy_dsse_pae(KL_RUNTIME_POLICY_DSSE_PAYLOAD_TYPE, payload, len);
	if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(ctx, NULL, &sig_len, pae->data, pae->len) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_RUNTIME_POLICY_ERROR,
					    KL_RUNTIME_POLICY_ERROR_SIGNATURE,
					    "cannot sign the policy");
		return NULL;
	}
	sig = g_malloc(sig_len);
	if (EVP_DigestSign(ctx, sig, &sig_len, pae->data, pae->len) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_RUNTIME_POLICY_ERROR,
					    KL_RUNTIME_POLICY_ERROR_SIGNATURE,
					    "cannot sign the policy");
		return NULL;
	}
	sig_b64 = g_base64_encode(sig, sig_len);
	payload_b64 = g_base64_encode(payload, len);
	/* key ids are hex or base64: nothing to escape */
	if (keyid != NULL)
		keyid_member = g_strdup_printf("\"keyid\": \"%s\", ", keyid);
	return g_strdup_printf("{\"payload\": \"%s\", \"payloadType\": \"%s\", "
			       "\"signatures\": [{%s\"sig\": \"%s\"}]}",
			       payload_b64,
			       KL_RUNTIME_POLICY_DSSE_PAYLOAD_TYPE,
			       keyid_member != NULL ? keyid_member : "",
			       sig_b64);
}

const gchar *
kl_runtime_policy_get_checksum(KlRuntimePolicy *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->checksum;
}

GBytes *
kl_runtime_policy_get_document(KlRuntimePolicy *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->document;
}

KlRuntimePolicyGenerator
kl_runtime_policy_get_generator(KlRuntimePolicy *self)
{
	g_return_val_if_fail(self != NULL, KL_RUNTIME_POLICY_GENERATOR_UNKNOWN);
	return self->generator;
}

gboolean
kl_runtime_policy_has_runtime_policy(KlRuntimePolicy *self)
{
	g_return_val_if_fail(self != NULL, FALSE);
	return self->generator > KL_RUNTIME_POLICY_GENERATOR_EMPTY_ALLOWLIST;
}

gint64
kl_runtime_policy_get_release(KlRuntimePolicy *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->release;
}

const gchar *
kl_runtime_policy_get_log_hash_alg(KlRuntimePolicy *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->log_hash_alg;
}

const gchar *const *
kl_runtime_policy_get_excludes(KlRuntimePolicy *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return (const gchar *const *)self->excludes;
}

/*
 * FALSE with @error when the regex engine gives up: PCRE2's match limit
 * stops catastrophic backtracking, and a path that is not UTF-8 cannot be
 * matched the way Python matches str.
 */
gboolean
kl_runtime_policy_match_exclude(KlRuntimePolicy *self,
				const gchar *path,
				gboolean *excluded,
				GError **error)
{
	g_autoptr(GMatchInfo) match_info = NULL;
	g_autoptr(GError) match_error = NULL;
	gboolean matched;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(path != NULL, FALSE);
	g_return_val_if_fail(excluded != NULL, FALSE);

	*excluded = FALSE;
	if (self->exclude_regex == NULL)
		return TRUE;
	if (!g_utf8_validate(path, -1, NULL)) {
		g_set_error_literal(error,
				    KL_RUNTIME_POLICY_ERROR,
				    KL_RUNTIME_POLICY_ERROR_MATCH,
				    "the path is not valid UTF-8");
		return FALSE;
	}
	matched =
		g_regex_match_full(self->exclude_regex, path, -1, 0, 0, &match_info, &match_error);
	if (match_error != NULL) {
		g_set_error(error,
			    KL_RUNTIME_POLICY_ERROR,
			    KL_RUNTIME_POLICY_ERROR_MATCH,
			    "the exclude regex gave up: %s",
			    match_error->message);
		return FALSE;
	}
	*excluded = matched;
	return TRUE;
}

/* Fails closed: a path the regex engine gave up on is not excluded, so it
 * is checked against the digests. */
gboolean
kl_runtime_policy_is_excluded(KlRuntimePolicy *self, const gchar *path)
{
	g_autoptr(GError) error = NULL;
	gboolean excluded = FALSE;

	if (!kl_runtime_policy_match_exclude(self, path, &excluded, &error)) {
		g_debug("not excluding %s: %s", path, error->message);
		return FALSE;
	}
	return excluded;
}

KlRuntimePolicyLookup
kl_runtime_policy_lookup(KlRuntimePolicy *self,
			 KlRuntimePolicyMap map,
			 const gchar *name,
			 const guint8 *digest,
			 gsize digest_len)
{
	GByteArray *entries;

	g_return_val_if_fail(self != NULL, KL_RUNTIME_POLICY_LOOKUP_NOT_LISTED);
	g_return_val_if_fail((guint)map < KL_RUNTIME_POLICY_N_MAPS,
			     KL_RUNTIME_POLICY_LOOKUP_NOT_LISTED);
	g_return_val_if_fail(name != NULL, KL_RUNTIME_POLICY_LOOKUP_NOT_LISTED);

	entries = g_hash_table_lookup(self->maps[map], name);
	if (entries == NULL)
		return KL_RUNTIME_POLICY_LOOKUP_NOT_LISTED;
	for (guint offset = 0; offset < entries->len;) {
		guint len = entries->data[offset];
		if (len == digest_len &&
		    kl_crypto_memeq(entries->data + offset + 1, digest, digest_len))
			return KL_RUNTIME_POLICY_LOOKUP_MATCH;
		offset += 1 + len;
	}
	return KL_RUNTIME_POLICY_LOOKUP_MISMATCH;
}

guint
kl_runtime_policy_get_n_entries(KlRuntimePolicy *self, KlRuntimePolicyMap map)
{
	g_return_val_if_fail(self != NULL, 0);
	g_return_val_if_fail((guint)map < KL_RUNTIME_POLICY_N_MAPS, 0);
	return g_hash_table_size(self->maps[map]);
}

GPtrArray *
kl_runtime_policy_get_digests_hex(KlRuntimePolicy *self, KlRuntimePolicyMap map, const gchar *name)
{
	GByteArray *entries;
	GPtrArray *hex;

	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail((guint)map < KL_RUNTIME_POLICY_N_MAPS, NULL);
	g_return_val_if_fail(name != NULL, NULL);

	entries = g_hash_table_lookup(self->maps[map], name);
	if (entries == NULL)
		return NULL;
	hex = g_ptr_array_new_with_free_func(g_free);
	for (guint offset = 0; offset < entries->len;) {
		guint len = entries->data[offset];
		g_ptr_array_add(hex, kl_crypto_hex_encode(entries->data + offset + 1, len));
		offset += 1 + len;
	}
	return hex;
}

gboolean
kl_runtime_policy_is_keyring_ignored(KlRuntimePolicy *self, const gchar *name)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(name != NULL, FALSE);
	return self->ignore_all_keyrings ||
	       g_strv_contains((const gchar *const *)self->ignored_keyrings, name);
}

GPtrArray *
kl_runtime_policy_get_verification_keys(KlRuntimePolicy *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->verification_keys;
}

/* ---- builder ---- */

struct _KlRuntimePolicyBuilder {
	GHashTable *maps[KL_RUNTIME_POLICY_N_MAPS]; /* name → set of hex */
	GHashTable *excludes;			    /* set */
	GHashTable *ignored_keyrings;		    /* set */
	gchar *log_hash_alg;
	gchar *verification_keys;
	gchar *timestamp;
};

static GHashTable *
kl_runtime_policy_string_set_new(void)
{
	return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
}

/* Python's str(datetime.now()): "2024-10-09 18:47:35.306609" */
static gchar *
kl_runtime_policy_timestamp_now(void)
{
	g_autoptr(GDateTime) now = g_date_time_new_now_local();
	g_autofree gchar *seconds = g_date_time_format(now, "%Y-%m-%d %H:%M:%S");
	gint usec = g_date_time_get_microsecond(now);
	if (usec == 0)
		return g_steal_pointer(&seconds);
	return g_strdup_printf("%s.%06d", seconds, usec);
}

KlRuntimePolicyBuilder *
kl_runtime_policy_builder_new(void)
{
	KlRuntimePolicyBuilder *self = g_new0(KlRuntimePolicyBuilder, 1);
	for (guint i = 0; i < KL_RUNTIME_POLICY_N_MAPS; i++)
		self->maps[i] = g_hash_table_new_full(g_str_hash,
						      g_str_equal,
						      g_free,
						      (GDestroyNotify)g_hash_table_unref);
	self->excludes = kl_runtime_policy_string_set_new();
	self->ignored_keyrings = kl_runtime_policy_string_set_new();
	self->log_hash_alg = g_strdup("sha1");
	self->verification_keys = g_strdup("");
	self->timestamp = kl_runtime_policy_timestamp_now();
	return self;
}

void
kl_runtime_policy_builder_free(KlRuntimePolicyBuilder *self)
{
	if (self == NULL)
		return;
	for (guint i = 0; i < KL_RUNTIME_POLICY_N_MAPS; i++)
		g_hash_table_unref(self->maps[i]);
	g_hash_table_unref(self->excludes);
	g_hash_table_unref(self->ignored_keyrings);
	g_free(self->log_hash_alg);
	g_free(self->verification_keys);
	g_free(self->timestamp);
	g_free(self);
}

/* Upper-case hex is accepted and written lower-case. */
gboolean
kl_runtime_policy_builder_add_digest(KlRuntimePolicyBuilder *self,
				     KlRuntimePolicyMap map,
				     const gchar *name,
				     const gchar *hex,
				     GError **error)
{
	g_autofree gchar *lower = NULL;
	GHashTable *set;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail((guint)map < KL_RUNTIME_POLICY_N_MAPS, FALSE);
	g_return_val_if_fail(name != NULL && hex != NULL, FALSE);

	if (!g_utf8_validate(name, -1, NULL))
		return kl_runtime_policy_invalid(error,
						 "%s: a name is not UTF-8",
						 map_members[map]);
	lower = g_ascii_strdown(hex, -1);
	if (!kl_runtime_policy_hex_is_valid(lower)) {
		g_autofree gchar *quoted = kl_runtime_policy_quote_name(hex);
		return kl_runtime_policy_invalid(error,
						 "'%s' is not a hex digest of 40–128 characters",
						 quoted);
	}
	set = g_hash_table_lookup(self->maps[map], name);
	if (set == NULL) {
		set = kl_runtime_policy_string_set_new();
		g_hash_table_insert(self->maps[map], g_strdup(name), set);
	}
	g_hash_table_add(set, g_steal_pointer(&lower));
	return TRUE;
}

gboolean
kl_runtime_policy_builder_add_exclude(KlRuntimePolicyBuilder *self,
				      const gchar *regex,
				      GError **error)
{
	g_autoptr(GRegex) compiled = NULL;
	g_autoptr(GError) regex_error = NULL;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(regex != NULL, FALSE);

	compiled = g_regex_new(regex, 0, 0, &regex_error);
	if (compiled == NULL) {
		g_autofree gchar *quoted = kl_runtime_policy_quote_name(regex);
		return kl_runtime_policy_invalid(error,
						 "invalid regex '%s': %s",
						 quoted,
						 regex_error->message);
	}
	g_hash_table_add(self->excludes, g_strdup(regex));
	return TRUE;
}

void
kl_runtime_policy_builder_add_ignored_keyring(KlRuntimePolicyBuilder *self, const gchar *name)
{
	g_return_if_fail(self != NULL);
	g_return_if_fail(name != NULL);
	g_hash_table_add(self->ignored_keyrings, g_strdup(name));
}

gboolean
kl_runtime_policy_builder_set_log_hash_alg(KlRuntimePolicyBuilder *self,
					   const gchar *alg,
					   GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(alg != NULL, FALSE);

	if (!g_strv_contains(log_hash_algs, alg)) {
		g_autofree gchar *quoted = kl_runtime_policy_quote_name(alg);
		return kl_runtime_policy_invalid(
			error,
			"log hash algorithm '%s' is not one of sha1, sha256, sha384, sha512",
			quoted);
	}
	g_free(self->log_hash_alg);
	self->log_hash_alg = g_strdup(alg);
	return TRUE;
}

gboolean
kl_runtime_policy_builder_set_verification_keys(KlRuntimePolicyBuilder *self,
						const gchar *keyring_json,
						GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(keyring_json != NULL, FALSE);

	if (keyring_json[0] != '\0') {
		g_autoptr(GPtrArray) keys =
			kl_runtime_policy_parse_keyring(keyring_json, strlen(keyring_json), error);
		if (keys == NULL) {
			g_prefix_error(error, "verification-keys: ");
			return FALSE;
		}
	}
	g_free(self->verification_keys);
	self->verification_keys = g_strdup(keyring_json);
	return TRUE;
}

void
kl_runtime_policy_builder_set_timestamp(KlRuntimePolicyBuilder *self, const gchar *timestamp)
{
	g_return_if_fail(self != NULL);
	g_free(self->timestamp);
	self->timestamp = g_strdup(timestamp);
}

gboolean
kl_runtime_policy_builder_add_policy(KlRuntimePolicyBuilder *self,
				     KlRuntimePolicy *policy,
				     GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(policy != NULL, FALSE);

	for (guint map = 0; map < KL_RUNTIME_POLICY_N_MAPS; map++) {
		GHashTableIter iter;
		gpointer key = NULL;
		gpointer value = NULL;

		g_hash_table_iter_init(&iter, policy->maps[map]);
		while (g_hash_table_iter_next(&iter, &key, &value)) {
			g_autoptr(GPtrArray) hex =
				kl_runtime_policy_get_digests_hex(policy, map, key);
			for (guint i = 0; i < hex->len; i++) {
				if (!kl_runtime_policy_builder_add_digest(self,
									  map,
									  key,
									  g_ptr_array_index(hex, i),
									  error))
					return FALSE;
			}
		}
	}
	for (guint i = 0; policy->excludes[i] != NULL; i++)
		g_hash_table_add(self->excludes, g_strdup(policy->excludes[i]));
	for (guint i = 0; policy->ignored_keyrings[i] != NULL; i++)
		g_hash_table_add(self->ignored_keyrings, g_strdup(policy->ignored_keyrings[i]));
	g_free(self->log_hash_alg);
	self->log_hash_alg = g_strdup(policy->log_hash_alg);
	if (policy->verification_keys_json[0] != '\0') {
		g_free(self->verification_keys);
		self->verification_keys = g_strdup(policy->verification_keys_json);
	}
	return TRUE;
}

/* Old JSON allowlist: {"hashes": {...}, "keyrings"?, "ima-buf"?, "excludes"?,
 * "ima"?: {"ignored_keyrings"?, "log_hash_alg"?}} */
static gboolean
kl_runtime_policy_builder_add_json_allowlist(KlRuntimePolicyBuilder *self,
					     const gchar *data,
					     gsize len,
					     GError **error)
{
	g_autoptr(JsonObject) root = NULL;
	g_autoptr(KlRuntimePolicy) policy = kl_runtime_policy_new();
	JsonObject *ima = NULL;
	const gchar *alg = "sha1";

	root = kl_json_parse_object(data,
				    len,
				    KL_RUNTIME_POLICY_MAX_SIZE,
				    KL_RUNTIME_POLICY_MAX_DEPTH,
				    error);
	if (root == NULL)
		return FALSE;
	/* a v1 policy given as an allowlist is merged as is */
	if (json_object_has_member(root, "digests")) {
		g_autoptr(KlRuntimePolicy) v1 = kl_runtime_policy_new_from_json(data, len, error);
		if (v1 == NULL)
			return FALSE;
		return kl_runtime_policy_builder_add_policy(self, v1, error);
	}
	if (!json_object_has_member(root, "hashes"))
		return kl_runtime_policy_invalid(error,
						 "a JSON allowlist needs 'hashes' or 'digests'");
	/* upstream renames hashes to digests */
	if (!kl_runtime_policy_parse_map(policy,
					 root,
					 "hashes",
					 KL_RUNTIME_POLICY_MAP_DIGESTS,
					 error))
		return FALSE;
	for (guint map = KL_RUNTIME_POLICY_MAP_KEYRINGS; map < KL_RUNTIME_POLICY_N_MAPS; map++) {
		if (json_object_has_member(root, map_members[map]) &&
		    !kl_runtime_policy_parse_map(policy, root, map_members[map], map, error))
			return FALSE;
	}
	if (json_object_has_member(root, "excludes")) {
		if (!kl_json_object_get_string_array(root, "excludes", &policy->excludes, error))
			return FALSE;
	} else {
		policy->excludes = g_new0(gchar *, 1);
	}
	if (json_object_has_member(root, "ima") &&
	    !kl_json_object_get_object(root, "ima", &ima, error))
		return FALSE;
	if (ima != NULL && json_object_has_member(ima, "ignored_keyrings")) {
		if (!kl_json_object_get_string_array(ima,
						     "ignored_keyrings",
						     &policy->ignored_keyrings,
						     error)) {
			g_prefix_error(error, "ima: ");
			return FALSE;
		}
	} else {
		policy->ignored_keyrings = g_new0(gchar *, 1);
	}
	if (ima != NULL && json_object_has_member(ima, "log_hash_alg") &&
	    !kl_json_object_get_string(ima, "log_hash_alg", &alg, error)) {
		g_prefix_error(error, "ima: ");
		return FALSE;
	}
	if (!kl_runtime_policy_builder_set_log_hash_alg(self, alg, error)) {
		g_prefix_error(error, "ima.log_hash_alg: ");
		return FALSE;
	}
	policy->log_hash_alg = g_strdup(alg);
	policy->verification_keys_json = g_strdup("");
	for (guint i = 0; policy->excludes[i] != NULL; i++) {
		if (!kl_runtime_policy_builder_add_exclude(self, policy->excludes[i], error)) {
			g_prefix_error(error, "excludes[%u]: ", i);
			return FALSE;
		}
	}
	return kl_runtime_policy_builder_add_policy(self, policy, error);
}

/*
 * Flat allowlist: "<hex> <path>" lines; "alg:" before the digest is
 * dropped, "%keyring:<name>" paths go to keyrings, spaces in paths become
 * '_' as IMA writes them.  Lines without two fields are skipped with a
 * warning, as upstream does; a bad digest is an error naming its line.
 */
gboolean
kl_runtime_policy_builder_add_allowlist(KlRuntimePolicyBuilder *self,
					const gchar *data,
					gsize len,
					GPtrArray *warnings,
					GError **error)
{
	g_autofree gchar *text = NULL;
	g_auto(GStrv) lines = NULL;
	gsize start = 0;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(data != NULL || len == 0, FALSE);

	while (start < len && g_ascii_isspace(data[start]))
		start++;
	if (start < len && data[start] == '{')
		return kl_runtime_policy_builder_add_json_allowlist(self, data, len, error);
	if (memchr(data, '\0', len) != NULL)
		return kl_runtime_policy_invalid(error, "the allowlist contains a NUL byte");
	if (!g_utf8_validate(data, (gssize)len, NULL))
		return kl_runtime_policy_invalid(error, "the allowlist is not UTF-8");

	text = g_strndup(data, len);
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		gchar *line = g_strstrip(lines[i]);
		gchar *path;
		const gchar *hex;
		gchar *colon;
		KlRuntimePolicyMap map = KL_RUNTIME_POLICY_MAP_DIGESTS;
		g_autoptr(GError) line_error = NULL;

		if (line[0] == '\0')
			continue;
		path = line + strcspn(line, " \t\r\v\f");
		if (*path == '\0') {
			if (warnings != NULL)
				g_ptr_array_add(warnings,
						g_strdup_printf("line %u: not a digest and a path, "
								"skipped",
								i + 1));
			continue;
		}
		*path++ = '\0';
		while (g_ascii_isspace(*path))
			path++;
		hex = line;
		colon = strrchr(line, ':');
		if (colon != NULL)
			hex = colon + 1;
		if (g_str_has_prefix(path, "%keyring:")) {
			map = KL_RUNTIME_POLICY_MAP_KEYRINGS;
			path += strlen("%keyring:");
		} else {
			g_strdelimit(path, " ", '_');
		}
		if (!kl_runtime_policy_builder_add_digest(self, map, path, hex, &line_error)) {
			g_set_error(error,
				    KL_RUNTIME_POLICY_ERROR,
				    KL_RUNTIME_POLICY_ERROR_INVALID,
				    "line %u: %s",
				    i + 1,
				    line_error->message);
			return FALSE;
		}
	}
	return TRUE;
}

/* One regex per line; '#' comments and blank lines are ignored. */
gboolean
kl_runtime_policy_builder_add_exclude_list(KlRuntimePolicyBuilder *self,
					   const gchar *data,
					   gsize len,
					   GError **error)
{
	g_autofree gchar *text = NULL;
	g_auto(GStrv) lines = NULL;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(data != NULL || len == 0, FALSE);

	if (memchr(data, '\0', len) != NULL)
		return kl_runtime_policy_invalid(error, "the exclude list contains a NUL byte");
	if (!g_utf8_validate(data, (gssize)len, NULL))
		return kl_runtime_policy_invalid(error, "the exclude list is not UTF-8");
	text = g_strndup(data, len);
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		gchar *line = g_strstrip(lines[i]);
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (!kl_runtime_policy_builder_add_exclude(self, line, error)) {
			g_prefix_error(error, "line %u: ", i + 1);
			return FALSE;
		}
	}
	return TRUE;
}

static gint
kl_runtime_policy_strcmp_p(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const gchar *const *)a, *(const gchar *const *)b);
}

static GPtrArray *
kl_runtime_policy_sorted_keys(GHashTable *table)
{
	GPtrArray *keys = g_ptr_array_new();
	GHashTableIter iter;
	gpointer key = NULL;

	g_hash_table_iter_init(&iter, table);
	while (g_hash_table_iter_next(&iter, &key, NULL))
		g_ptr_array_add(keys, key);
	g_ptr_array_sort(keys, kl_runtime_policy_strcmp_p);
	return keys;
}

static void
kl_runtime_policy_append_string_list(GString *out, GHashTable *set)
{
	g_autoptr(GPtrArray) items = kl_runtime_policy_sorted_keys(set);

	g_string_append_c(out, '[');
	for (guint i = 0; i < items->len; i++) {
		if (i > 0)
			g_string_append(out, ", ");
		kl_json_append_python_string(out, g_ptr_array_index(items, i));
	}
	g_string_append_c(out, ']');
}

static void
kl_runtime_policy_append_map(GString *out, GHashTable *map)
{
	g_autoptr(GPtrArray) names = kl_runtime_policy_sorted_keys(map);

	g_string_append_c(out, '{');
	for (guint i = 0; i < names->len; i++) {
		const gchar *name = g_ptr_array_index(names, i);
		if (i > 0)
			g_string_append(out, ", ");
		kl_json_append_python_string(out, name);
		g_string_append(out, ": ");
		kl_runtime_policy_append_string_list(out, g_hash_table_lookup(map, name));
	}
	g_string_append_c(out, '}');
}

/* Upstream's layout: json.dumps() of the policy dict, lists sorted. */
gchar *
kl_runtime_policy_builder_to_json(KlRuntimePolicyBuilder *self)
{
	GString *out = g_string_new(NULL);

	g_return_val_if_fail(self != NULL, NULL);

	g_string_append(out, "{\"meta\": {\"version\": 1, \"generator\": 3");
	if (self->timestamp != NULL) {
		g_string_append(out, ", \"timestamp\": ");
		kl_json_append_python_string(out, self->timestamp);
	}
	g_string_append(out, "}, \"release\": 0, \"digests\": ");
	kl_runtime_policy_append_map(out, self->maps[KL_RUNTIME_POLICY_MAP_DIGESTS]);
	g_string_append(out, ", \"excludes\": ");
	kl_runtime_policy_append_string_list(out, self->excludes);
	g_string_append(out, ", \"keyrings\": ");
	kl_runtime_policy_append_map(out, self->maps[KL_RUNTIME_POLICY_MAP_KEYRINGS]);
	g_string_append(out, ", \"ima\": {\"ignored_keyrings\": ");
	kl_runtime_policy_append_string_list(out, self->ignored_keyrings);
	g_string_append(out, ", \"log_hash_alg\": ");
	kl_json_append_python_string(out, self->log_hash_alg);
	g_string_append(out, ", \"dm_policy\": null}, \"ima-buf\": ");
	kl_runtime_policy_append_map(out, self->maps[KL_RUNTIME_POLICY_MAP_IMA_BUF]);
	g_string_append(out, ", \"verification-keys\": ");
	kl_json_append_python_string(out, self->verification_keys);
	g_string_append_c(out, '}');
	return g_string_free(out, FALSE);
}

/* The serialised policy, parsed back: what keylime-policy writes is
 * exactly what the verifier will accept. */
KlRuntimePolicy *
kl_runtime_policy_builder_build(KlRuntimePolicyBuilder *self, GError **error)
{
	g_autofree gchar *json = NULL;

	g_return_val_if_fail(self != NULL, NULL);

	json = kl_runtime_policy_builder_to_json(self);
	return kl_runtime_policy_new_from_json(json, strlen(json), error);
}
