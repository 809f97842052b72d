/*
 * kl-x509: keys and certificates for keylime-c — key generation and PEM
 * I/O, issuing the CA/server/client certificates Keylime's components use,
 * loading TPM EK certificates (PEM or base64 DER, as in Keylime's ekcert
 * field), chain verification and CRLs.
 *
 * Every function returning a new object or string transfers ownership; the
 * OpenSSL autoptr cleanups come from kl-crypto.h.
 */
#pragma once

#include <glib.h>

#include "kl-crypto.h"

G_BEGIN_DECLS

#define KL_X509_ERROR kl_x509_error_quark()

typedef enum {
	KL_X509_ERROR_FAILED,
	KL_X509_ERROR_INVALID_INPUT,
	KL_X509_ERROR_INVALID_KEY,
	KL_X509_ERROR_VERIFY,
	KL_X509_ERROR_NOT_FOUND,
} KlX509Error;

GQuark kl_x509_error_quark(void);

/* keys */
EVP_PKEY *kl_key_generate_rsa(guint bits, GError **error);
EVP_PKEY *kl_key_generate_ec(const gchar *curve /* "P-256", "P-384" */, GError **error);
EVP_PKEY *kl_key_load_pem(const gchar *pem, gsize len, GError **error); /* private or public PEM */
EVP_PKEY *kl_key_load_pem_file(const gchar *path, GError **error);
gchar *kl_key_to_pem_private(EVP_PKEY *key, GError **error); /* PKCS#8, unencrypted */
gchar *kl_key_to_pem_public(EVP_PKEY *key, GError **error);  /* SubjectPublicKeyInfo */
gboolean
kl_key_save_private_pem_file(EVP_PKEY *key, const gchar *path, GError **error); /* 0600, atomic */

/* certificates */
typedef enum {
	KL_CERT_USAGE_CA,
	KL_CERT_USAGE_SERVER,
	KL_CERT_USAGE_CLIENT,
	KL_CERT_USAGE_SERVER_CLIENT,
} KlCertUsage;

typedef struct {
	const gchar *common_name;
	const gchar *organization;	  /* nullable */
	const gchar *organizational_unit; /* nullable */
	const gchar *country;		  /* nullable */
	const gchar *state;		  /* nullable */
	const gchar *locality;		  /* nullable */
	guint64 serial;			  /* 0: random */
	guint days;
	KlCertUsage usage;
	const gchar *const *dns_names;	  /* nullable, NULL-terminated */
	const gchar *const *ip_addresses; /* nullable, NULL-terminated */
} KlCertRequest;

X509 *kl_x509_issue(const KlCertRequest *request,
		    EVP_PKEY *subject_key,
		    X509 *issuer /* NULL: self-signed */,
		    EVP_PKEY *issuer_key,
		    GError **error);
X509 *kl_x509_load_pem(const gchar *pem, gsize len, GError **error);
X509 *kl_x509_load_pem_file(const gchar *path, GError **error);
X509 *kl_x509_load_der(const guint8 *der, gsize len, GError **error); /* must consume exactly len */
X509 *kl_x509_load_pem_or_base64_der(const gchar *text, GError **error); /* Keylime's ekcert */
GPtrArray *
kl_x509_load_pem_bundle_file(const gchar *path, GError **error); /* of X509*; error if none */
GPtrArray *kl_x509_load_pem_bundle(const gchar *pem, gsize len, GError **error);
gchar *kl_x509_to_pem(X509 *cert, GError **error);
GBytes *kl_x509_to_der(X509 *cert, GError **error);
gboolean kl_x509_verify_chain(X509 *cert,
			      GPtrArray *trusted,
			      GPtrArray *intermediates /* nullable */,
			      GError **error);
gboolean kl_x509_public_key_equal(X509 *cert, EVP_PKEY *key);
guint64 kl_x509_get_serial(X509 *cert);
gchar *kl_x509_get_subject(X509 *cert); /* "CN=..,O=.." one line */
gchar *kl_x509_get_issuer(X509 *cert);

/* CRLs */
X509_CRL *kl_x509_crl_issue(X509 *ca,
			    EVP_PKEY *ca_key,
			    const guint64 *revoked_serials,
			    guint n_revoked,
			    guint days,
			    GError **error);
X509_CRL *kl_x509_crl_load_pem(const gchar *pem, gsize len, GError **error);
gchar *kl_x509_crl_to_pem(X509_CRL *crl, GError **error);
GBytes *kl_x509_crl_to_der(X509_CRL *crl, GError **error);

G_END_DECLS
