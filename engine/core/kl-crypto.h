/*
 * kl-crypto: the cryptographic primitives Keylime's protocol needs, on
 * OpenSSL 3 EVP: random bytes and passwords, cached digests, HMAC (the
 * auth_tag), constant-time comparison, AES-GCM in Keylime's payload layout
 * (16-byte IV || ciphertext || 16-byte tag), RSA-OAEP for U/V transport and
 * MakeCredential, RSA-PSS for revocation messages, and strict hex.
 *
 * The OpenSSL autoptr cleanups are declared here, once, for all of
 * keylime-c.
 */
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <glib.h>

#include "kl-secret.h"

G_BEGIN_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_PKEY, EVP_PKEY_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_PKEY_CTX, EVP_PKEY_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_MD_CTX, EVP_MD_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_CIPHER_CTX, EVP_CIPHER_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_MAC_CTX, EVP_MAC_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509, X509_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_STORE, X509_STORE_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_STORE_CTX, X509_STORE_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_CRL, X509_CRL_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_REVOKED, X509_REVOKED_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_NAME, X509_NAME_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_EXTENSION, X509_EXTENSION_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BIO, BIO_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BIGNUM, BN_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ASN1_INTEGER, ASN1_INTEGER_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ASN1_TIME, ASN1_TIME_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ASN1_OCTET_STRING, ASN1_OCTET_STRING_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GENERAL_NAMES, GENERAL_NAMES_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OSSL_PARAM_BLD, OSSL_PARAM_BLD_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OSSL_PARAM, OSSL_PARAM_free)

#define KL_CRYPTO_ERROR kl_crypto_error_quark()

typedef enum {
	KL_CRYPTO_ERROR_FAILED,
	KL_CRYPTO_ERROR_INVALID_KEY,
	KL_CRYPTO_ERROR_DECRYPT,
	KL_CRYPTO_ERROR_VERIFY,
	KL_CRYPTO_ERROR_INVALID_INPUT,
	KL_CRYPTO_ERROR_NOT_SUPPORTED,
} KlCryptoError;

GQuark kl_crypto_error_quark(void);

/* Sets @error in @domain/@code to "@prefix: <OpenSSL error queue>" and
 * clears the queue; for kl-x509 and other OpenSSL users. */
void kl_crypto_set_error_openssl(GError **error, GQuark domain, gint code, const gchar *format, ...)
	G_GNUC_PRINTF(4, 5);

/* random */
gboolean kl_crypto_random_bytes(guint8 *buf, gsize len, GError **error);
KlSecret *kl_crypto_random_secret(gsize len, GError **error);
gchar *kl_crypto_random_password(guint len, GError **error);
gchar *kl_crypto_password_from_bytes(const guint8 *raw, gsize len);

/* digests; names as Keylime spells them: sha1 sha256 sha384 sha512 sm3_256 */
const EVP_MD *kl_crypto_get_md(const gchar *alg, GError **error);
gboolean kl_crypto_digest(const gchar *alg,
			  const guint8 *data,
			  gsize len,
			  guint8 *out /* EVP_MAX_MD_SIZE */,
			  gsize *out_len,
			  GError **error);
GBytes *kl_crypto_digest_bytes(const gchar *alg, const guint8 *data, gsize len, GError **error);

/* HMAC */
GBytes *kl_crypto_hmac(const gchar *alg,
		       const guint8 *key,
		       gsize key_len,
		       const guint8 *msg,
		       gsize msg_len,
		       GError **error);
gchar *kl_crypto_hmac_sha384_hex(const guint8 *key,
				 gsize key_len,
				 const guint8 *msg,
				 gsize msg_len,
				 GError **error);

/* constant time */
gboolean kl_crypto_memeq(const void *a, const void *b, gsize len);
gboolean kl_crypto_hex_equal(const gchar *a, const gchar *b);

/* hex */
gchar *kl_crypto_hex_encode(const guint8 *data, gsize len);
GBytes *kl_crypto_hex_decode(const gchar *hex, GError **error);

/* AES-GCM, Keylime layout: IV(16) || ciphertext || tag(16), no AAD */
#define KL_CRYPTO_GCM_IV_SIZE  16
#define KL_CRYPTO_GCM_TAG_SIZE 16

GBytes *kl_crypto_aes_gcm_encrypt(KlSecret *key, const guint8 *plain, gsize len, GError **error);
GBytes *kl_crypto_aes_gcm_encrypt_with_iv(KlSecret *key,
					  const guint8 *iv,
					  gsize iv_len,
					  const guint8 *plain,
					  gsize len,
					  GError **error);
GBytes *kl_crypto_aes_gcm_decrypt(KlSecret *key, const guint8 *data, gsize len, GError **error);

/* RSA-OAEP; @md is "sha1" (U/V) or "sha256" (MakeCredential), MGF1 uses the same */
GBytes *kl_crypto_rsa_oaep_encrypt(EVP_PKEY *pub,
				   const gchar *md,
				   const guint8 *label,
				   gsize label_len,
				   const guint8 *data,
				   gsize len,
				   GError **error);
KlSecret *kl_crypto_rsa_oaep_decrypt(EVP_PKEY *priv,
				     const gchar *md,
				     const guint8 *label,
				     gsize label_len,
				     const guint8 *data,
				     gsize len,
				     GError **error);

/* RSA-PSS with SHA-256 (and MGF1-SHA-256) */
GBytes *kl_crypto_rsa_pss_sign(EVP_PKEY *key, const guint8 *data, gsize len, GError **error);
gboolean kl_crypto_rsa_pss_verify(EVP_PKEY *key,
				  const guint8 *data,
				  gsize len,
				  const guint8 *sig,
				  gsize sig_len,
				  GError **error);

G_END_DECLS
