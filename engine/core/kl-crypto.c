/*
 * kl-crypto: Keylime's cryptographic primitives on OpenSSL 3 EVP.  Digests,
 * ciphers and the HMAC implementation are fetched once per process and
 * reused; every OpenSSL failure carries the error-queue text and leaves the
 * queue empty.
 */
#define G_LOG_DOMAIN "KlCore"

#include "config.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <string.h>

#include "kl-crypto.h"

/* Spelled out: clang-format mangles G_DEFINE_QUARK's dashed argument. */
GQuark
kl_crypto_error_quark(void)
{
	return g_quark_from_static_string("kl-crypto-error-quark");
}

/* OpenSSL takes int lengths; larger buffers are fed in pieces. */
#define KL_CRYPTO_CHUNK (1 << 30)

static gchar *
kl_crypto_openssl_errors(void)
{
	GString *str = g_string_new(NULL);
	unsigned long code;

	while ((code = ERR_get_error()) != 0) {
		gchar buf[256];
		ERR_error_string_n(code, buf, sizeof(buf));
		if (str->len > 0)
			g_string_append(str, "; ");
		g_string_append(str, buf);
	}
	ERR_clear_error();
	if (str->len == 0)
		g_string_append(str, "no OpenSSL error detail");
	return g_string_free(str, FALSE);
}

void
kl_crypto_set_error_openssl(GError **error, GQuark domain, gint code, const gchar *format, ...)
{
	va_list args;
	g_autofree gchar *msg = NULL;
	g_autofree gchar *detail = kl_crypto_openssl_errors();

	va_start(args, format);
	msg = g_strdup_vprintf(format, args);
	va_end(args);
	g_set_error(error, domain, code, "%s: %s", msg, detail);
}

/* random */

gboolean
kl_crypto_random_bytes(guint8 *buf, gsize len, GError **error)
{
	gsize done = 0;

	while (done < len) {
		gsize n = MIN(len - done, (gsize)KL_CRYPTO_CHUNK);
		if (RAND_bytes(buf + done, (int)n) != 1) {
			kl_crypto_set_error_openssl(error,
						    KL_CRYPTO_ERROR,
						    KL_CRYPTO_ERROR_FAILED,
						    "RAND_bytes failed");
			return FALSE;
		}
		done += n;
	}
	return TRUE;
}

KlSecret *
kl_crypto_random_secret(gsize len, GError **error)
{
	/* kl_secret_new_take() wipes exactly @len bytes: keep one spare byte so
	 * an empty secret still owns a buffer, as kl_secret_new() does. */
	guint8 *buf = g_malloc0(len + 1);

	if (!kl_crypto_random_bytes(buf, len, error)) {
		g_free(buf);
		return NULL;
	}
	return kl_secret_new_take(buf, len);
}

/* Upstream's random_password(): string.ascii_letters + string.digits,
 * one character per random byte, chars[b % 62]. */
gchar *
kl_crypto_password_from_bytes(const guint8 *raw, gsize len)
{
	static const gchar chars[] = "abcdefghijklmnopqrstuvwxyz"
				     "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				     "0123456789";
	gchar *out = g_malloc0(len + 1);

	for (gsize i = 0; i < len; i++)
		out[i] = chars[raw[i] % (sizeof(chars) - 1)];
	return out;
}

gchar *
kl_crypto_random_password(guint len, GError **error)
{
	gchar *out;
	g_autofree guint8 *raw = g_malloc0((gsize)len + 1);

	if (!kl_crypto_random_bytes(raw, len, error))
		return NULL;
	out = kl_crypto_password_from_bytes(raw, len);
	OPENSSL_cleanse(raw, len);
	return out;
}

/* fetched algorithms, cached for the life of the process */

static GMutex kl_crypto_cache_mutex;
static GHashTable *kl_crypto_md_cache = NULL;	  /* name → EVP_MD* */
static GHashTable *kl_crypto_cipher_cache = NULL; /* name → EVP_CIPHER* */

static const gchar *
kl_crypto_md_openssl_name(const gchar *alg)
{
	struct {
		const gchar *keylime;
		const gchar *openssl;
	} map[] = {
		{"sha1", "SHA1"},
		{"sha256", "SHA2-256"},
		{"sha384", "SHA2-384"},
		{"sha512", "SHA2-512"},
		{"sm3_256", "SM3"},
	};
	for (guint i = 0; i < G_N_ELEMENTS(map); i++) {
		if (g_ascii_strcasecmp(alg, map[i].keylime) == 0)
			return map[i].openssl;
	}
	return NULL;
}

const EVP_MD *
kl_crypto_get_md(const gchar *alg, GError **error)
{
	const gchar *name;
	EVP_MD *md;
	g_autoptr(GMutexLocker) locker = NULL;

	g_return_val_if_fail(alg != NULL, NULL);

	name = kl_crypto_md_openssl_name(alg);
	if (name == NULL) {
		g_set_error(error,
			    KL_CRYPTO_ERROR,
			    KL_CRYPTO_ERROR_NOT_SUPPORTED,
			    "unsupported hash algorithm '%s'",
			    alg);
		return NULL;
	}
	locker = g_mutex_locker_new(&kl_crypto_cache_mutex);
	if (kl_crypto_md_cache == NULL)
		kl_crypto_md_cache = g_hash_table_new(g_str_hash, g_str_equal);
	md = g_hash_table_lookup(kl_crypto_md_cache, name);
	if (md != NULL)
		return md;
	md = EVP_MD_fetch(NULL, name, NULL);
	if (md == NULL) {
		kl_crypto_set_error_openssl(error,
					    KL_CRYPTO_ERROR,
					    KL_CRYPTO_ERROR_NOT_SUPPORTED,
					    "hash algorithm '%s' unavailable",
					    alg);
		return NULL;
	}
	g_hash_table_insert(kl_crypto_md_cache, (gpointer)name, md);
	return md;
}

static const EVP_CIPHER *
kl_crypto_get_cipher(const gchar *name, GError **error)
{
	EVP_CIPHER *cipher;
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&kl_crypto_cache_mutex);

	if (kl_crypto_cipher_cache == NULL)
		kl_crypto_cipher_cache = g_hash_table_new(g_str_hash, g_str_equal);
	cipher = g_hash_table_lookup(kl_crypto_cipher_cache, name);
	if (cipher != NULL)
		return cipher;
	cipher = EVP_CIPHER_fetch(NULL, name, NULL);
	if (cipher == NULL) {
		kl_crypto_set_error_openssl(error,
					    KL_CRYPTO_ERROR,
					    KL_CRYPTO_ERROR_NOT_SUPPORTED,
					    "cipher '%s' unavailable",
					    name);
		return NULL;
	}
	g_hash_table_insert(kl_crypto_cipher_cache, (gpointer)name, cipher);
	return cipher;
}

/*
 * An HMAC context per digest with the digest already set, duplicated per
 * call: initialising a fresh context by digest name makes OpenSSL fetch
 * the digest again on every call.
 */
static EVP_MAC_CTX *
kl_crypto_new_hmac_ctx(const gchar *alg, GError **error)
{
	static EVP_MAC *mac = NULL;
	static GHashTable *templates = NULL; /* OpenSSL name → EVP_MAC_CTX* */
	const EVP_MD *md = kl_crypto_get_md(alg, error);
	g_autoptr(GMutexLocker) locker = NULL;
	EVP_MAC_CTX *template_ctx;
	EVP_MAC_CTX *ctx;

	if (md == NULL)
		return NULL;
	locker = g_mutex_locker_new(&kl_crypto_cache_mutex);
	if (mac == NULL) {
		mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
		if (mac == NULL) {
			kl_crypto_set_error_openssl(error,
						    KL_CRYPTO_ERROR,
						    KL_CRYPTO_ERROR_NOT_SUPPORTED,
						    "HMAC unavailable");
			return NULL;
		}
		templates = g_hash_table_new(g_str_hash, g_str_equal);
	}
	template_ctx = g_hash_table_lookup(templates, EVP_MD_get0_name(md));
	if (template_ctx == NULL) {
		OSSL_PARAM params[] = {
			OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
							 (gchar *)EVP_MD_get0_name(md),
							 0),
			OSSL_PARAM_construct_end(),
		};
		template_ctx = EVP_MAC_CTX_new(mac);
		if (template_ctx == NULL || EVP_MAC_CTX_set_params(template_ctx, params) != 1) {
			EVP_MAC_CTX_free(template_ctx);
			kl_crypto_set_error_openssl(error,
						    KL_CRYPTO_ERROR,
						    KL_CRYPTO_ERROR_FAILED,
						    "cannot create an HMAC-%s context",
						    alg);
			return NULL;
		}
		g_hash_table_insert(templates, (gpointer)EVP_MD_get0_name(md), template_ctx);
	}
	ctx = EVP_MAC_CTX_dup(template_ctx);
	if (ctx == NULL)
		kl_crypto_set_error_openssl(error,
					    KL_CRYPTO_ERROR,
					    KL_CRYPTO_ERROR_FAILED,
					    "cannot create an HMAC-%s context",
					    alg);
	return ctx;
}

/* digests */

gboolean
kl_crypto_digest(const gchar *alg,
		 const guint8 *data,
		 gsize len,
		 guint8 *out,
		 gsize *out_len,
		 GError **error)
{
	const EVP_MD *md = kl_crypto_get_md(alg, error);
	unsigned int size = 0;

	g_return_val_if_fail(data != NULL || len == 0, FALSE);
	g_return_val_if_fail(out != NULL, FALSE);

	if (md == NULL)
		return FALSE;
	if (EVP_Digest(data != NULL ? data : (const guint8 *)"", len, out, &size, md, NULL) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_CRYPTO_ERROR,
					    KL_CRYPTO_ERROR_FAILED,
					    "%s digest failed",
					    alg);
		return FALSE;
	}
	if (out_len != NULL)
		*out_len = size;
	return TRUE;
}

GBytes *
kl_crypto_digest_bytes(const gchar *alg, const guint8 *data, gsize len, GError **error)
{
	guint8 out[EVP_MAX_MD_SIZE];
	gsize out_len = 0;

	if (!kl_crypto_digest(alg, data, len, out, &out_len, error))
		return NULL;
	return g_bytes_new(out, out_len);
}

/* HMAC */

GBytes *
kl_crypto_hmac(const gchar *alg,
	       const guint8 *key,
	       gsize key_len,
	       const guint8 *msg,
	       gsize msg_len,
	       GError **error)
{
	guint8 out[EVP_MAX_MD_SIZE];
	gsize out_len = 0;
	g_autoptr(EVP_MAC_CTX) ctx = NULL;

	g_return_val_if_fail(key != NULL || key_len == 0, NULL);
	g_return_val_if_fail(msg != NULL || msg_len == 0, NULL);

	ctx = kl_crypto_new_hmac_ctx(alg, error);
	if (ctx == NULL)
		return NULL;
	/* An empty key is legal HMAC; OpenSSL wants a non-NULL pointer. */
	if (EVP_MAC_init(ctx, key != NULL ? key : (const guint8 *)"", key_len, NULL) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_CRYPTO_ERROR,
					    KL_CRYPTO_ERROR_FAILED,
					    "HMAC-%s init failed",
					    alg);
		return NULL;
	}
	if (msg_len > 0 && EVP_MAC_update(ctx, msg, msg_len) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_CRYPTO_ERROR,
					    KL_CRYPTO_ERROR_FAILED,
					    "HMAC-%s update failed",
					    alg);
		return NULL;
	}
	if (EVP_MAC_final(ctx, out, &out_len, sizeof(out)) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_CRYPTO_ERROR,
					    KL_CRYPTO_ERROR_FAILED,
					    "HMAC-%s final failed",
					    alg);
		return NULL;
	}
	return g_bytes_new(out, out_len);
}

gchar *
kl_crypto_hmac_sha384_hex(const guint8 *key,
			  gsize key_len,
			  const guint8 *msg,
			  gsize msg_len,
			  GError **error)
{
	gsize size = 0;
	const guint8 *data;
	g_autoptr(GBytes) mac = kl_crypto_hmac("sha384", key, key_len, msg, msg_len, error);

	if (mac == NULL)
		return NULL;
	data = g_bytes_get_data(mac, &size);
	return kl_crypto_hex_encode(data, size);
}

/* constant time */

gboolean
kl_crypto_memeq(const void *a, const void *b, gsize len)
{
	if (len == 0)
		return TRUE;
	g_return_val_if_fail(a != NULL && b != NULL, FALSE);
	return CRYPTO_memcmp(a, b, len) == 0;
}

gboolean
kl_crypto_hex_equal(const gchar *a, const gchar *b)
{
	gsize len;

	/* Exact, case-sensitive, like upstream's hmac.compare_digest(); the
	 * length of an auth tag is public, its contents are not. */
	if (a == NULL || b == NULL)
		return FALSE;
	len = strlen(a);
	if (strlen(b) != len)
		return FALSE;
	return kl_crypto_memeq(a, b, len);
}

/* hex */

gchar *
kl_crypto_hex_encode(const guint8 *data, gsize len)
{
	static const gchar digits[] = "0123456789abcdef";
	gchar *out = g_malloc(len * 2 + 1);

	for (gsize i = 0; i < len; i++) {
		out[i * 2] = digits[data[i] >> 4];
		out[i * 2 + 1] = digits[data[i] & 0x0f];
	}
	out[len * 2] = '\0';
	return out;
}

GBytes *
kl_crypto_hex_decode(const gchar *hex, GError **error)
{
	gsize len;
	g_autofree guint8 *out = NULL;

	g_return_val_if_fail(hex != NULL, NULL);

	len = strlen(hex);
	if (len % 2 != 0) {
		g_set_error(error,
			    KL_CRYPTO_ERROR,
			    KL_CRYPTO_ERROR_INVALID_INPUT,
			    "hex string has odd length %" G_GSIZE_FORMAT,
			    len);
		return NULL;
	}
	out = g_malloc0(len / 2 + 1);
	for (gsize i = 0; i < len; i += 2) {
		gint hi = g_ascii_xdigit_value(hex[i]);
		gint lo = g_ascii_xdigit_value(hex[i + 1]);
		if (hi < 0 || lo < 0) {
			g_set_error(error,
				    KL_CRYPTO_ERROR,
				    KL_CRYPTO_ERROR_INVALID_INPUT,
				    "invalid hex digit at offset %" G_GSIZE_FORMAT,
				    hi < 0 ? i : i + 1);
			return NULL;
		}
		out[i / 2] = (guint8)((hi << 4) | lo);
	}
	return g_bytes_new_take(g_steal_pointer(&out), len / 2);
}

/* Buffers that held plaintext or key material are wiped when released. */
typedef struct {
	guint8 *data;
	gsize len;
} KlCryptoWiped;

static void
kl_crypto_wiped_free(gpointer user_data)
{
	KlCryptoWiped *w = user_data;
	OPENSSL_cleanse(w->data, w->len);
	g_free(w->data);
	g_free(w);
}

static GBytes *
kl_crypto_wiped_bytes_new_take(guint8 *data, gsize len, gsize alloc_len)
{
	KlCryptoWiped *w = g_new0(KlCryptoWiped, 1);
	w->data = data;
	w->len = alloc_len;
	return g_bytes_new_with_free_func(data, len, kl_crypto_wiped_free, w);
}

/* AES-GCM */

static const EVP_CIPHER *
kl_crypto_gcm_cipher_for_key(KlSecret *key, GError **error)
{
	gsize size = kl_secret_get_size(key);

	if (size == 32)
		return kl_crypto_get_cipher("AES-256-GCM", error);
	if (size == 16)
		return kl_crypto_get_cipher("AES-128-GCM", error);
	g_set_error(error,
		    KL_CRYPTO_ERROR,
		    KL_CRYPTO_ERROR_INVALID_KEY,
		    "AES-GCM key is %" G_GSIZE_FORMAT " bytes, expected 16 or 32",
		    size);
	return NULL;
}

/* Runs EVP_CipherUpdate over @len bytes in int-sized pieces. */
static gboolean
kl_crypto_cipher_update(EVP_CIPHER_CTX *ctx,
			guint8 *out,
			const guint8 *in,
			gsize len,
			gsize *written,
			GError **error)
{
	gsize done = 0;

	*written = 0;
	while (done < len) {
		gsize n = MIN(len - done, (gsize)KL_CRYPTO_CHUNK);
		int outl = 0;
		if (EVP_CipherUpdate(ctx, out + *written, &outl, in + done, (int)n) != 1) {
			kl_crypto_set_error_openssl(error,
						    KL_CRYPTO_ERROR,
						    KL_CRYPTO_ERROR_FAILED,
						    "AES-GCM update failed");
			return FALSE;
		}
		done += n;
		*written += (gsize)outl;
	}
	return TRUE;
}

static EVP_CIPHER_CTX *
kl_crypto_gcm_init(KlSecret *key, const guint8 *iv, gsize iv_len, int enc, GError **error)
{
	const EVP_CIPHER *cipher = kl_crypto_gcm_cipher_for_key(key, error);
	g_autoptr(EVP_CIPHER_CTX) ctx = NULL;

	if (cipher == NULL)
		return NULL;
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL || EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, enc) != 1 ||
	    /* Keylime uses a 16-byte IV, not GCM's usual 12 */
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)iv_len, NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, kl_secret_get_data(key, NULL), iv, enc) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_CRYPTO_ERROR,
					    KL_CRYPTO_ERROR_FAILED,
					    "AES-GCM init failed");
		return NULL;
	}
	return g_steal_pointer(&ctx);
}

GBytes *
kl_crypto_aes_gcm_encrypt_with_iv(KlSecret *key,
				  const guint8 *iv,
				  gsize iv_len,
				  const guint8 *plain,
				  gsize len,
				  GError **error)
{
	gsize total;
	gsize written = 0;
	int outl = 0;
	g_autofree guint8 *out = NULL;
	g_autoptr(EVP_CIPHER_CTX) ctx = NULL;

	g_return_val_if_fail(key != NULL, NULL);
	g_return_val_if_fail(iv != NULL, NULL);
	g_return_val_if_fail(plain != NULL || len == 0, NULL);

	if (iv_len == 0 || iv_len > 128) {
		g_set_error(error,
			    KL_CRYPTO_ERROR,
			    KL_CRYPTO_ERROR_INVALID_INPUT,
			    "AES-GCM IV is %" G_GSIZE_FORMAT " bytes, expected 1 to 128",
			    iv_len);
		return NULL;
	}
	if (len > G_MAXSIZE - iv_len - KL_CRYPTO_GCM_TAG_SIZE) {
		g_set_error(error,
			    KL_CRYPTO_ERROR,
			    KL_CRYPTO_ERROR_INVALID_INPUT,
			    "AES-GCM plaintext too large");
		return NULL;
	}
	ctx = kl_crypto_gcm_init(key, iv, iv_len, 1, error);
	if (ctx == NULL)
		return NULL;

	total = iv_len + len + KL_CRYPTO_GCM_TAG_SIZE;
	out = g_malloc0(total);
	memcpy(out, iv, iv_len);
	if (!kl_crypto_cipher_update(ctx, out + iv_len, plain, len, &written, error))
		return NULL;
	if (EVP_CipherFinal_ex(ctx, out + iv_len + written, &outl) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_CRYPTO_ERROR,
					    KL_CRYPTO_ERROR_FAILED,
					    "AES-GCM final failed");
		return NULL;
	}
	if (EVP_CIPHER_CTX_ctrl(ctx,
				EVP_CTRL_GCM_GET_TAG,
				KL_CRYPTO_GCM_TAG_SIZE,
				out + iv_len + len) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_CRYPTO_ERROR,
					    KL_CRYPTO_ERROR_FAILED,
					    "AES-GCM cannot get tag");
		return NULL;
	}
	return g_bytes_new_take(g_steal_pointer(&out), total);
}

GBytes *
kl_crypto_aes_gcm_encrypt(KlSecret *key, const guint8 *plain, gsize len, GError **error)
{
	guint8 iv[KL_CRYPTO_GCM_IV_SIZE];

	if (!kl_crypto_random_bytes(iv, sizeof(iv), error))
		return NULL;
	return kl_crypto_aes_gcm_encrypt_with_iv(key, iv, sizeof(iv), plain, len, error);
}

GBytes *
kl_crypto_aes_gcm_decrypt(KlSecret *key, const guint8 *data, gsize len, GError **error)
{
	const guint8 *iv = data;
	const guint8 *ct = data + KL_CRYPTO_GCM_IV_SIZE;
	gsize ct_len;
	gsize written = 0;
	int outl = 0;
	guint8 tag[KL_CRYPTO_GCM_TAG_SIZE];
	guint8 *out;
	g_autoptr(EVP_CIPHER_CTX) ctx = NULL;

	g_return_val_if_fail(key != NULL, NULL);

	if (data == NULL || len < KL_CRYPTO_GCM_IV_SIZE + KL_CRYPTO_GCM_TAG_SIZE) {
		g_set_error(error,
			    KL_CRYPTO_ERROR,
			    KL_CRYPTO_ERROR_INVALID_INPUT,
			    "AES-GCM data is %" G_GSIZE_FORMAT
			    " bytes, shorter than IV and tag (%d bytes)",
			    data == NULL ? 0 : len,
			    KL_CRYPTO_GCM_IV_SIZE + KL_CRYPTO_GCM_TAG_SIZE);
		return NULL;
	}
	ct_len = len - KL_CRYPTO_GCM_IV_SIZE - KL_CRYPTO_GCM_TAG_SIZE;
	memcpy(tag, ct + ct_len, sizeof(tag));
	ctx = kl_crypto_gcm_init(key, iv, KL_CRYPTO_GCM_IV_SIZE, 0, error);
	if (ctx == NULL)
		return NULL;

	out = g_malloc0(ct_len + 1);
	if (!kl_crypto_cipher_update(ctx, out, ct, ct_len, &written, error)) {
		OPENSSL_cleanse(out, ct_len + 1);
		g_free(out);
		return NULL;
	}
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, sizeof(tag), tag) != 1) {
		OPENSSL_cleanse(out, ct_len + 1);
		g_free(out);
		kl_crypto_set_error_openssl(error,
					    KL_CRYPTO_ERROR,
					    KL_CRYPTO_ERROR_FAILED,
					    "AES-GCM cannot set tag");
		return NULL;
	}
	if (EVP_CipherFinal_ex(ctx, out + written, &outl) != 1) {
		/* unauthenticated plaintext must not escape */
		OPENSSL_cleanse(out, ct_len + 1);
		g_free(out);
		ERR_clear_error();
		g_set_error(error,
			    KL_CRYPTO_ERROR,
			    KL_CRYPTO_ERROR_DECRYPT,
			    "AES-GCM authentication tag mismatch (wrong key or corrupted data)");
		return NULL;
	}
	return kl_crypto_wiped_bytes_new_take(out, ct_len, ct_len + 1);
}

/* RSA-OAEP */

static EVP_PKEY_CTX *
kl_crypto_oaep_ctx(EVP_PKEY *key,
		   gboolean encrypt,
		   const gchar *md_alg,
		   const guint8 *label,
		   gsize label_len,
		   GError **error)
{
	const EVP_MD *md;
	g_autoptr(EVP_PKEY_CTX) ctx = NULL;

	if (!EVP_PKEY_is_a(key, "RSA")) {
		g_set_error(error,
			    KL_CRYPTO_ERROR,
			    KL_CRYPTO_ERROR_INVALID_KEY,
			    "RSA-OAEP needs an RSA key, got %s",
			    EVP_PKEY_get0_type_name(key) != NULL ? EVP_PKEY_get0_type_name(key)
								 : "unknown");
		return NULL;
	}
	md = kl_crypto_get_md(md_alg, error);
	if (md == NULL)
		return NULL;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (ctx == NULL ||
	    (encrypt ? EVP_PKEY_encrypt_init(ctx) : EVP_PKEY_decrypt_init(ctx)) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) <= 0) {
		kl_crypto_set_error_openssl(error,
					    KL_CRYPTO_ERROR,
					    KL_CRYPTO_ERROR_FAILED,
					    "RSA-OAEP setup failed");
		return NULL;
	}
	if (label_len > 0) {
		/* set0 takes ownership of an OPENSSL_malloc'd copy */
		guint8 *copy = OPENSSL_memdup(label, label_len);
		if (copy == NULL ||
		    EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, copy, (int)label_len) <= 0) {
			OPENSSL_free(copy);
			kl_crypto_set_error_openssl(error,
						    KL_CRYPTO_ERROR,
						    KL_CRYPTO_ERROR_FAILED,
						    "RSA-OAEP cannot set label");
			return NULL;
		}
	}
	return g_steal_pointer(&ctx);
}

GBytes *
kl_crypto_rsa_oaep_encrypt(EVP_PKEY *pub,
			   const gchar *md,
			   const guint8 *label,
			   gsize label_len,
			   const guint8 *data,
			   gsize len,
			   GError **error)
{
	gsize out_len = 0;
	g_autofree guint8 *out = NULL;
	g_autoptr(EVP_PKEY_CTX) ctx = NULL;

	g_return_val_if_fail(pub != NULL, NULL);
	g_return_val_if_fail(md != NULL, NULL);
	g_return_val_if_fail(label != NULL || label_len == 0, NULL);
	g_return_val_if_fail(data != NULL || len == 0, NULL);

	if (label_len > G_MAXINT) {
		g_set_error(error,
			    KL_CRYPTO_ERROR,
			    KL_CRYPTO_ERROR_INVALID_INPUT,
			    "RSA-OAEP label too long");
		return NULL;
	}
	ctx = kl_crypto_oaep_ctx(pub, TRUE, md, label, label_len, error);
	if (ctx == NULL)
		return NULL;
	if (EVP_PKEY_encrypt(ctx, NULL, &out_len, data, len) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_CRYPTO_ERROR,
					    KL_CRYPTO_ERROR_FAILED,
					    "RSA-OAEP cannot size output");
		return NULL;
	}
	out = g_malloc0(out_len);
	if (EVP_PKEY_encrypt(ctx, out, &out_len, data != NULL ? data : (const guint8 *)"", len) !=
	    1) {
		kl_crypto_set_error_openssl(error,
					    KL_CRYPTO_ERROR,
					    KL_CRYPTO_ERROR_INVALID_INPUT,
					    "RSA-OAEP encryption of %" G_GSIZE_FORMAT
					    " bytes failed",
					    len);
		return NULL;
	}
	return g_bytes_new_take(g_steal_pointer(&out), out_len);
}

KlSecret *
kl_crypto_rsa_oaep_decrypt(EVP_PKEY *priv,
			   const gchar *md,
			   const guint8 *label,
			   gsize label_len,
			   const guint8 *data,
			   gsize len,
			   GError **error)
{
	gsize out_len = 0;
	gsize key_size;
	guint8 *out;
	KlSecret *secret;
	g_autoptr(EVP_PKEY_CTX) ctx = NULL;

	g_return_val_if_fail(priv != NULL, NULL);
	g_return_val_if_fail(md != NULL, NULL);
	g_return_val_if_fail(label != NULL || label_len == 0, NULL);

	if (label_len > G_MAXINT) {
		g_set_error(error,
			    KL_CRYPTO_ERROR,
			    KL_CRYPTO_ERROR_INVALID_INPUT,
			    "RSA-OAEP label too long");
		return NULL;
	}
	ctx = kl_crypto_oaep_ctx(priv, FALSE, md, label, label_len, error);
	if (ctx == NULL)
		return NULL;
	key_size = (gsize)EVP_PKEY_get_size(priv);
	if (data == NULL || len != key_size) {
		g_set_error(error,
			    KL_CRYPTO_ERROR,
			    KL_CRYPTO_ERROR_INVALID_INPUT,
			    "RSA-OAEP ciphertext is %" G_GSIZE_FORMAT
			    " bytes, the key needs exactly %" G_GSIZE_FORMAT,
			    data == NULL ? 0 : len,
			    key_size);
		return NULL;
	}
	out_len = key_size;
	out = g_malloc0(key_size + 1);
	if (EVP_PKEY_decrypt(ctx, out, &out_len, data, len) != 1) {
		OPENSSL_cleanse(out, key_size + 1);
		g_free(out);
		kl_crypto_set_error_openssl(error,
					    KL_CRYPTO_ERROR,
					    KL_CRYPTO_ERROR_DECRYPT,
					    "RSA-OAEP decryption failed");
		return NULL;
	}
	secret = kl_secret_new(out, out_len);
	OPENSSL_cleanse(out, key_size + 1);
	g_free(out);
	return secret;
}

/* RSA-PSS */

static EVP_MD_CTX *
kl_crypto_pss_ctx(EVP_PKEY *key, gboolean sign, GError **error)
{
	EVP_PKEY_CTX *pctx = NULL; /* owned by the EVP_MD_CTX */
	g_autoptr(EVP_MD_CTX) ctx = NULL;
	int rc;

	if (!EVP_PKEY_is_a(key, "RSA")) {
		g_set_error(error,
			    KL_CRYPTO_ERROR,
			    KL_CRYPTO_ERROR_INVALID_KEY,
			    "RSA-PSS needs an RSA key, got %s",
			    EVP_PKEY_get0_type_name(key) != NULL ? EVP_PKEY_get0_type_name(key)
								 : "unknown");
		return NULL;
	}
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL) {
		kl_crypto_set_error_openssl(error,
					    KL_CRYPTO_ERROR,
					    KL_CRYPTO_ERROR_FAILED,
					    "cannot create digest context");
		return NULL;
	}
	if (sign)
		rc = EVP_DigestSignInit_ex(ctx, &pctx, "SHA2-256", NULL, NULL, key, NULL);
	else
		rc = EVP_DigestVerifyInit_ex(ctx, &pctx, "SHA2-256", NULL, NULL, key, NULL);
	if (rc != 1 || EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA2-256", NULL) <= 0 ||
	    /* upstream signs with PSS.MAX_LENGTH; accept any salt on verify */
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
					     sign ? RSA_PSS_SALTLEN_MAX : RSA_PSS_SALTLEN_AUTO) <=
		    0) {
		kl_crypto_set_error_openssl(error,
					    KL_CRYPTO_ERROR,
					    KL_CRYPTO_ERROR_FAILED,
					    "RSA-PSS setup failed");
		return NULL;
	}
	return g_steal_pointer(&ctx);
}

GBytes *
kl_crypto_rsa_pss_sign(EVP_PKEY *key, const guint8 *data, gsize len, GError **error)
{
	gsize sig_len = 0;
	g_autofree guint8 *sig = NULL;
	g_autoptr(EVP_MD_CTX) ctx = NULL;

	g_return_val_if_fail(key != NULL, NULL);
	g_return_val_if_fail(data != NULL || len == 0, NULL);

	ctx = kl_crypto_pss_ctx(key, TRUE, error);
	if (ctx == NULL)
		return NULL;
	if (EVP_DigestSign(ctx, NULL, &sig_len, data, len) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_CRYPTO_ERROR,
					    KL_CRYPTO_ERROR_FAILED,
					    "RSA-PSS cannot size signature");
		return NULL;
	}
	sig = g_malloc0(sig_len);
	if (EVP_DigestSign(ctx, sig, &sig_len, data != NULL ? data : (const guint8 *)"", len) !=
	    1) {
		kl_crypto_set_error_openssl(error,
					    KL_CRYPTO_ERROR,
					    KL_CRYPTO_ERROR_FAILED,
					    "RSA-PSS signing failed");
		return NULL;
	}
	return g_bytes_new_take(g_steal_pointer(&sig), sig_len);
}

gboolean
kl_crypto_rsa_pss_verify(EVP_PKEY *key,
			 const guint8 *data,
			 gsize len,
			 const guint8 *sig,
			 gsize sig_len,
			 GError **error)
{
	int rc;
	g_autoptr(EVP_MD_CTX) ctx = NULL;

	g_return_val_if_fail(key != NULL, FALSE);
	g_return_val_if_fail(data != NULL || len == 0, FALSE);

	if (sig == NULL || sig_len != (gsize)EVP_PKEY_get_size(key)) {
		g_set_error(error,
			    KL_CRYPTO_ERROR,
			    KL_CRYPTO_ERROR_VERIFY,
			    "RSA-PSS signature is %" G_GSIZE_FORMAT
			    " bytes, the key needs exactly %d",
			    sig == NULL ? 0 : sig_len,
			    EVP_PKEY_get_size(key));
		return FALSE;
	}
	ctx = kl_crypto_pss_ctx(key, FALSE, error);
	if (ctx == NULL)
		return FALSE;
	rc = EVP_DigestVerify(ctx, sig, sig_len, data != NULL ? data : (const guint8 *)"", len);
	if (rc == 1)
		return TRUE;
	if (rc == 0) {
		ERR_clear_error();
		g_set_error(error,
			    KL_CRYPTO_ERROR,
			    KL_CRYPTO_ERROR_VERIFY,
			    "RSA-PSS signature does not verify");
		return FALSE;
	}
	kl_crypto_set_error_openssl(error,
				    KL_CRYPTO_ERROR,
				    KL_CRYPTO_ERROR_VERIFY,
				    "RSA-PSS verification failed");
	return FALSE;
}
