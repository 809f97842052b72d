/*
 * kl-x509: key generation and PEM I/O, certificates issued for Keylime's
 * CA and TLS endpoints, EK certificate loading, chain verification and
 * CRLs, on OpenSSL 3.
 */
#define G_LOG_DOMAIN "KlCore"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "kl-base64.h"
#include "kl-x509.h"

/* Spelled out: clang-format mangles G_DEFINE_QUARK's dashed argument. */
GQuark
kl_x509_error_quark(void)
{
	return g_quark_from_static_string("kl-x509-error-quark");
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(OSSL_DECODER_CTX, OSSL_DECODER_CTX_free)

static void
kl_x509_stack_free(STACK_OF(X509) * sk)
{
	sk_X509_free(sk);
}

typedef STACK_OF(X509) KlX509Stack;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlX509Stack, kl_x509_stack_free)

static gchar *
kl_x509_bio_to_string(BIO *bio, GError **error)
{
	BUF_MEM *mem = NULL;

	if (BIO_get_mem_ptr(bio, &mem) != 1 || mem == NULL) {
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_FAILED,
					    "cannot read memory BIO");
		return NULL;
	}
	return g_strndup(mem->data, mem->length);
}

static BIO *
kl_x509_mem_bio(const gchar *data, gsize len, GError **error)
{
	BIO *bio;

	if (len > G_MAXINT) {
		g_set_error(error,
			    KL_X509_ERROR,
			    KL_X509_ERROR_INVALID_INPUT,
			    "input of %" G_GSIZE_FORMAT " bytes is too large",
			    len);
		return NULL;
	}
	bio = BIO_new_mem_buf(data != NULL ? data : "", (int)len);
	if (bio == NULL)
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_FAILED,
					    "cannot create memory BIO");
	return bio;
}

/* keys */

EVP_PKEY *
kl_key_generate_rsa(guint bits, GError **error)
{
	EVP_PKEY *key;

	if (bits < 2048 || bits > 16384) {
		g_set_error(error,
			    KL_X509_ERROR,
			    KL_X509_ERROR_INVALID_INPUT,
			    "RSA key size %u not in 2048..16384",
			    bits);
		return NULL;
	}
	key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	if (key == NULL)
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_FAILED,
					    "RSA-%u key generation failed",
					    bits);
	return key;
}

EVP_PKEY *
kl_key_generate_ec(const gchar *curve, GError **error)
{
	const gchar *curves[] = {"P-256", "P-384", "P-521"};
	EVP_PKEY *key;
	gboolean known = FALSE;

	g_return_val_if_fail(curve != NULL, NULL);

	for (guint i = 0; i < G_N_ELEMENTS(curves); i++) {
		if (g_strcmp0(curve, curves[i]) == 0)
			known = TRUE;
	}
	if (!known) {
		g_set_error(error,
			    KL_X509_ERROR,
			    KL_X509_ERROR_INVALID_INPUT,
			    "unsupported EC curve '%s'",
			    curve);
		return NULL;
	}
	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
	if (key == NULL)
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_FAILED,
					    "EC %s key generation failed",
					    curve);
	return key;
}

/* Encrypted keys are refused instead of prompting on a terminal. */
static int
kl_x509_no_password_cb(char *buf G_GNUC_UNUSED,
		       int size G_GNUC_UNUSED,
		       int rwflag G_GNUC_UNUSED,
		       void *userdata G_GNUC_UNUSED)
{
	return -1;
}

EVP_PKEY *
kl_key_load_pem(const gchar *pem, gsize len, GError **error)
{
	EVP_PKEY *key = NULL;
	const guint8 *data = (const guint8 *)pem;
	size_t left = len;
	g_autoptr(OSSL_DECODER_CTX) dctx = NULL;

	g_return_val_if_fail(pem != NULL || len == 0, NULL);

	if (len == 0) {
		g_set_error(error, KL_X509_ERROR, KL_X509_ERROR_INVALID_INPUT, "empty key PEM");
		return NULL;
	}
	/* selection 0: private key, public key or SubjectPublicKeyInfo */
	dctx = OSSL_DECODER_CTX_new_for_pkey(&key, "PEM", NULL, NULL, 0, NULL, NULL);
	if (dctx == NULL ||
	    OSSL_DECODER_CTX_set_pem_password_cb(dctx, kl_x509_no_password_cb, NULL) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_FAILED,
					    "cannot create key decoder");
		return NULL;
	}
	if (OSSL_DECODER_from_data(dctx, &data, &left) != 1 || key == NULL) {
		EVP_PKEY_free(key);
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_INVALID_KEY,
					    "not a PEM key (or an encrypted one)");
		return NULL;
	}
	ERR_clear_error();
	return key;
}

EVP_PKEY *
kl_key_load_pem_file(const gchar *path, GError **error)
{
	gsize len = 0;
	EVP_PKEY *key;
	g_autofree gchar *pem = NULL;

	if (!g_file_get_contents(path, &pem, &len, error))
		return NULL;
	key = kl_key_load_pem(pem, len, error);
	if (key == NULL)
		g_prefix_error(error, "%s: ", path);
	/* the file may hold a private key */
	memset(pem, 0, len);
	return key;
}

gchar *
kl_key_to_pem_private(EVP_PKEY *key, GError **error)
{
	g_autoptr(BIO) bio = BIO_new(BIO_s_secmem());

	g_return_val_if_fail(key != NULL, NULL);

	if (bio == NULL || PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_INVALID_KEY,
					    "cannot write private key PEM");
		return NULL;
	}
	return kl_x509_bio_to_string(bio, error);
}

gchar *
kl_key_to_pem_public(EVP_PKEY *key, GError **error)
{
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());

	g_return_val_if_fail(key != NULL, NULL);

	if (bio == NULL || PEM_write_bio_PUBKEY(bio, key) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_INVALID_KEY,
					    "cannot write public key PEM");
		return NULL;
	}
	return kl_x509_bio_to_string(bio, error);
}

static gboolean
kl_x509_write_all(int fd, const gchar *data, gsize len, GError **error)
{
	gsize done = 0;

	while (done < len) {
		gssize n = write(fd, data + done, len - done);
		if (n < 0) {
			gint saved = errno;
			if (saved == EINTR)
				continue;
			g_set_error(error,
				    G_IO_ERROR,
				    g_io_error_from_errno(saved),
				    "write failed: %s",
				    g_strerror(saved));
			return FALSE;
		}
		done += (gsize)n;
	}
	return TRUE;
}

gboolean
kl_key_save_private_pem_file(EVP_PKEY *key, const gchar *path, GError **error)
{
	int fd;
	gboolean ok;
	g_autofree gchar *pem = NULL;
	g_autofree gchar *dir = NULL;
	g_autofree gchar *base = NULL;
	g_autofree gchar *tmp = NULL;

	g_return_val_if_fail(key != NULL, FALSE);
	g_return_val_if_fail(path != NULL, FALSE);

	pem = kl_key_to_pem_private(key, error);
	if (pem == NULL)
		return FALSE;
	dir = g_path_get_dirname(path);
	base = g_path_get_basename(path);
	tmp = g_strdup_printf("%s/.%s.XXXXXX", dir, base);
	/* created 0600: the key is never readable by others, not even briefly */
	fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0) {
		gint saved = errno;
		memset(pem, 0, strlen(pem));
		g_set_error(error,
			    G_IO_ERROR,
			    g_io_error_from_errno(saved),
			    "cannot create %s: %s",
			    tmp,
			    g_strerror(saved));
		return FALSE;
	}
	ok = kl_x509_write_all(fd, pem, strlen(pem), error);
	memset(pem, 0, strlen(pem));
	if (ok && fchmod(fd, 0600) != 0) {
		gint saved = errno;
		g_set_error(error,
			    G_IO_ERROR,
			    g_io_error_from_errno(saved),
			    "chmod failed: %s",
			    g_strerror(saved));
		ok = FALSE;
	}
	if (ok && fsync(fd) != 0) {
		gint saved = errno;
		g_set_error(error,
			    G_IO_ERROR,
			    g_io_error_from_errno(saved),
			    "fsync failed: %s",
			    g_strerror(saved));
		ok = FALSE;
	}
	if (close(fd) != 0 && ok) {
		gint saved = errno;
		g_set_error(error,
			    G_IO_ERROR,
			    g_io_error_from_errno(saved),
			    "close failed: %s",
			    g_strerror(saved));
		ok = FALSE;
	}
	if (ok && g_rename(tmp, path) != 0) {
		gint saved = errno;
		g_set_error(error,
			    G_IO_ERROR,
			    g_io_error_from_errno(saved),
			    "cannot rename to %s: %s",
			    path,
			    g_strerror(saved));
		ok = FALSE;
	}
	if (!ok) {
		g_unlink(tmp);
		g_prefix_error(error, "%s: ", path);
	}
	return ok;
}

/* certificates */

static gboolean
kl_x509_name_add(X509_NAME *name, const gchar *field, const gchar *value, GError **error)
{
	if (value == NULL)
		return TRUE;
	if (X509_NAME_add_entry_by_txt(name,
				       field,
				       MBSTRING_UTF8,
				       (const guchar *)value,
				       -1,
				       -1,
				       0) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_INVALID_INPUT,
					    "invalid subject %s '%s'",
					    field,
					    value);
		return FALSE;
	}
	return TRUE;
}

static gboolean
kl_x509_add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const gchar *value, GError **error)
{
	g_autoptr(X509_EXTENSION) ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);

	if (ext == NULL || X509_add_ext(cert, ext, -1) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_FAILED,
					    "cannot add extension %s = %s",
					    OBJ_nid2sn(nid),
					    value);
		return FALSE;
	}
	return TRUE;
}

static gboolean
kl_x509_add_san(X509 *cert, const KlCertRequest *request, GError **error)
{
	g_autoptr(GENERAL_NAMES) names = sk_GENERAL_NAME_new_null();

	if (names == NULL) {
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_FAILED,
					    "out of memory");
		return FALSE;
	}
	for (guint i = 0; request->dns_names != NULL && request->dns_names[i] != NULL; i++) {
		const gchar *dns = request->dns_names[i];
		GENERAL_NAME *gen;
		ASN1_IA5STRING *ia5;
		if (dns[0] == '\0' || !g_str_is_ascii(dns)) {
			g_set_error(error,
				    KL_X509_ERROR,
				    KL_X509_ERROR_INVALID_INPUT,
				    "invalid DNS name '%s'",
				    dns);
			return FALSE;
		}
		ia5 = ASN1_IA5STRING_new();
		if (ia5 == NULL || ASN1_STRING_set(ia5, dns, -1) != 1) {
			ASN1_IA5STRING_free(ia5);
			kl_crypto_set_error_openssl(error,
						    KL_X509_ERROR,
						    KL_X509_ERROR_FAILED,
						    "cannot encode DNS name");
			return FALSE;
		}
		gen = GENERAL_NAME_new();
		if (gen == NULL) {
			ASN1_IA5STRING_free(ia5);
			kl_crypto_set_error_openssl(error,
						    KL_X509_ERROR,
						    KL_X509_ERROR_FAILED,
						    "out of memory");
			return FALSE;
		}
		GENERAL_NAME_set0_value(gen, GEN_DNS, ia5);
		if (sk_GENERAL_NAME_push(names, gen) <= 0) {
			GENERAL_NAME_free(gen);
			kl_crypto_set_error_openssl(error,
						    KL_X509_ERROR,
						    KL_X509_ERROR_FAILED,
						    "out of memory");
			return FALSE;
		}
	}
	for (guint i = 0; request->ip_addresses != NULL && request->ip_addresses[i] != NULL; i++) {
		const gchar *ip = request->ip_addresses[i];
		GENERAL_NAME *gen;
		ASN1_OCTET_STRING *oct = a2i_IPADDRESS(ip);
		if (oct == NULL) {
			ERR_clear_error();
			g_set_error(error,
				    KL_X509_ERROR,
				    KL_X509_ERROR_INVALID_INPUT,
				    "invalid IP address '%s'",
				    ip);
			return FALSE;
		}
		gen = GENERAL_NAME_new();
		if (gen == NULL) {
			ASN1_OCTET_STRING_free(oct);
			kl_crypto_set_error_openssl(error,
						    KL_X509_ERROR,
						    KL_X509_ERROR_FAILED,
						    "out of memory");
			return FALSE;
		}
		GENERAL_NAME_set0_value(gen, GEN_IPADD, oct);
		if (sk_GENERAL_NAME_push(names, gen) <= 0) {
			GENERAL_NAME_free(gen);
			kl_crypto_set_error_openssl(error,
						    KL_X509_ERROR,
						    KL_X509_ERROR_FAILED,
						    "out of memory");
			return FALSE;
		}
	}
	if (sk_GENERAL_NAME_num(names) == 0)
		return TRUE;
	if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_FAILED,
					    "cannot add subjectAltName");
		return FALSE;
	}
	return TRUE;
}

static gboolean
kl_x509_set_serial(X509 *cert, guint64 serial, GError **error)
{
	ASN1_INTEGER *asn1 = X509_get_serialNumber(cert);

	/* 63 random bits: positive, non-zero, and fits guint64 */
	while (serial == 0) {
		if (!kl_crypto_random_bytes((guint8 *)&serial, sizeof(serial), error))
			return FALSE;
		serial &= G_GUINT64_CONSTANT(0x7fffffffffffffff);
	}
	if (ASN1_INTEGER_set_uint64(asn1, serial) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_FAILED,
					    "cannot set serial");
		return FALSE;
	}
	return TRUE;
}

static const gchar *
kl_x509_usage_key_usage(KlCertUsage usage, EVP_PKEY *key)
{
	gboolean rsa = EVP_PKEY_is_a(key, "RSA");

	switch (usage) {
	case KL_CERT_USAGE_CA:
		return "critical,keyCertSign,cRLSign,digitalSignature";
	case KL_CERT_USAGE_SERVER:
	case KL_CERT_USAGE_CLIENT:
	case KL_CERT_USAGE_SERVER_CLIENT:
		/* key transport only exists for RSA */
		return rsa ? "critical,digitalSignature,keyEncipherment"
			   : "critical,digitalSignature";
	default:
		return NULL;
	}
}

static const gchar *
kl_x509_usage_ext_key_usage(KlCertUsage usage)
{
	switch (usage) {
	case KL_CERT_USAGE_SERVER:
		return "serverAuth";
	case KL_CERT_USAGE_CLIENT:
		return "clientAuth";
	case KL_CERT_USAGE_SERVER_CLIENT:
		return "serverAuth,clientAuth";
	case KL_CERT_USAGE_CA:
	default:
		return NULL;
	}
}

X509 *
kl_x509_issue(const KlCertRequest *request,
	      EVP_PKEY *subject_key,
	      X509 *issuer,
	      EVP_PKEY *issuer_key,
	      GError **error)
{
	const EVP_MD *md;
	const gchar *key_usage;
	const gchar *ext_key_usage;
	EVP_PKEY *signing_key;
	X509V3_CTX v3ctx;
	X509_NAME *subject;
	g_autoptr(X509) cert = NULL;

	g_return_val_if_fail(request != NULL, NULL);
	g_return_val_if_fail(subject_key != NULL, NULL);

	if (request->common_name == NULL || request->common_name[0] == '\0') {
		g_set_error(error,
			    KL_X509_ERROR,
			    KL_X509_ERROR_INVALID_INPUT,
			    "certificate request has no common name");
		return NULL;
	}
	if (request->days == 0) {
		g_set_error(error,
			    KL_X509_ERROR,
			    KL_X509_ERROR_INVALID_INPUT,
			    "certificate validity must be at least one day");
		return NULL;
	}
	key_usage = kl_x509_usage_key_usage(request->usage, subject_key);
	if (key_usage == NULL) {
		g_set_error(error,
			    KL_X509_ERROR,
			    KL_X509_ERROR_INVALID_INPUT,
			    "unknown certificate usage %d",
			    (gint)request->usage);
		return NULL;
	}
	ext_key_usage = kl_x509_usage_ext_key_usage(request->usage);
	if (issuer != NULL) {
		if (issuer_key == NULL) {
			g_set_error(error,
				    KL_X509_ERROR,
				    KL_X509_ERROR_INVALID_KEY,
				    "issuer certificate given without its key");
			return NULL;
		}
		if (X509_check_private_key(issuer, issuer_key) != 1) {
			kl_crypto_set_error_openssl(error,
						    KL_X509_ERROR,
						    KL_X509_ERROR_INVALID_KEY,
						    "issuer key does not match issuer certificate");
			return NULL;
		}
		signing_key = issuer_key;
	} else {
		signing_key = issuer_key != NULL ? issuer_key : subject_key;
	}
	md = kl_crypto_get_md("sha256", error);
	if (md == NULL)
		return NULL;

	cert = X509_new();
	if (cert == NULL || X509_set_version(cert, X509_VERSION_3) != 1 ||
	    X509_set_pubkey(cert, subject_key) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_FAILED,
					    "cannot create certificate");
		return NULL;
	}
	if (!kl_x509_set_serial(cert, request->serial, error))
		return NULL;
	/* a minute of slack for peers whose clocks run slightly behind */
	if (X509_gmtime_adj(X509_getm_notBefore(cert), -60) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), (int)MIN(request->days, 36500u), 0, NULL) ==
		    NULL) {
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_FAILED,
					    "cannot set validity");
		return NULL;
	}
	subject = X509_get_subject_name(cert);
	if (!kl_x509_name_add(subject, "C", request->country, error) ||
	    !kl_x509_name_add(subject, "ST", request->state, error) ||
	    !kl_x509_name_add(subject, "L", request->locality, error) ||
	    !kl_x509_name_add(subject, "O", request->organization, error) ||
	    !kl_x509_name_add(subject, "OU", request->organizational_unit, error) ||
	    !kl_x509_name_add(subject, "CN", request->common_name, error))
		return NULL;
	if (X509_set_issuer_name(cert, issuer != NULL ? X509_get_subject_name(issuer) : subject) !=
	    1) {
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_FAILED,
					    "cannot set issuer name");
		return NULL;
	}

	/* SKI first: a self-signed certificate's AKI is taken from it */
	X509V3_set_ctx(&v3ctx, issuer != NULL ? issuer : cert, cert, NULL, NULL, 0);
	if (!kl_x509_add_ext(cert,
			     &v3ctx,
			     NID_basic_constraints,
			     request->usage == KL_CERT_USAGE_CA ? "critical,CA:TRUE"
								: "critical,CA:FALSE",
			     error) ||
	    !kl_x509_add_ext(cert, &v3ctx, NID_key_usage, key_usage, error) ||
	    (ext_key_usage != NULL &&
	     !kl_x509_add_ext(cert, &v3ctx, NID_ext_key_usage, ext_key_usage, error)) ||
	    !kl_x509_add_ext(cert, &v3ctx, NID_subject_key_identifier, "hash", error) ||
	    !kl_x509_add_ext(cert, &v3ctx, NID_authority_key_identifier, "keyid:always", error))
		return NULL;
	if (!kl_x509_add_san(cert, request, error))
		return NULL;
	if (X509_sign(cert, signing_key, md) <= 0) {
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_FAILED,
					    "cannot sign certificate");
		return NULL;
	}
	return g_steal_pointer(&cert);
}

X509 *
kl_x509_load_pem(const gchar *pem, gsize len, GError **error)
{
	X509 *cert;
	g_autoptr(BIO) bio = NULL;

	g_return_val_if_fail(pem != NULL || len == 0, NULL);

	bio = kl_x509_mem_bio(pem, len, error);
	if (bio == NULL)
		return NULL;
	cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (cert == NULL) {
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_INVALID_INPUT,
					    "not a PEM certificate");
		return NULL;
	}
	return cert;
}

X509 *
kl_x509_load_pem_file(const gchar *path, GError **error)
{
	gsize len = 0;
	X509 *cert;
	g_autofree gchar *pem = NULL;

	if (!g_file_get_contents(path, &pem, &len, error))
		return NULL;
	cert = kl_x509_load_pem(pem, len, error);
	if (cert == NULL)
		g_prefix_error(error, "%s: ", path);
	return cert;
}

X509 *
kl_x509_load_der(const guint8 *der, gsize len, GError **error)
{
	const guint8 *p = der;
	g_autoptr(X509) cert = NULL;

	g_return_val_if_fail(der != NULL || len == 0, NULL);

	if (len == 0 || len > G_MAXLONG) {
		g_set_error(error,
			    KL_X509_ERROR,
			    KL_X509_ERROR_INVALID_INPUT,
			    "DER certificate of %" G_GSIZE_FORMAT " bytes",
			    len);
		return NULL;
	}
	cert = d2i_X509(NULL, &p, (long)len);
	if (cert == NULL) {
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_INVALID_INPUT,
					    "not a DER certificate");
		return NULL;
	}
	if (p != der + len) {
		g_set_error(error,
			    KL_X509_ERROR,
			    KL_X509_ERROR_INVALID_INPUT,
			    "DER certificate followed by %" G_GSIZE_FORMAT " trailing bytes",
			    (gsize)(der + len - p));
		return NULL;
	}
	return g_steal_pointer(&cert);
}

/* EK certificates are untrusted input: strict base64, line breaks allowed */
static GBytes *
kl_x509_base64_decode_strict(const gchar *text, GError **error)
{
	g_autoptr(GError) error_local = NULL;
	GBytes *bytes = kl_base64_decode(text, -1, KL_BASE64_FLAG_ALLOW_SPACE, &error_local);

	if (bytes != NULL && g_bytes_get_size(bytes) == 0) {
		g_bytes_unref(bytes);
		g_set_error_literal(error,
				    KL_X509_ERROR,
				    KL_X509_ERROR_INVALID_INPUT,
				    "empty base64");
		return NULL;
	}
	if (bytes == NULL)
		g_set_error_literal(error,
				    KL_X509_ERROR,
				    KL_X509_ERROR_INVALID_INPUT,
				    error_local->message);
	return bytes;
}

X509 *
kl_x509_load_pem_or_base64_der(const gchar *text, GError **error)
{
	gsize len = 0;
	const guint8 *der;
	g_autoptr(GBytes) bytes = NULL;

	g_return_val_if_fail(text != NULL, NULL);

	if (strstr(text, "-----BEGIN") != NULL)
		return kl_x509_load_pem(text, strlen(text), error);
	bytes = kl_x509_base64_decode_strict(text, error);
	if (bytes == NULL) {
		g_prefix_error(error, "certificate is neither PEM nor base64 DER: ");
		return NULL;
	}
	der = g_bytes_get_data(bytes, &len);
	return kl_x509_load_der(der, len, error);
}

GPtrArray *
kl_x509_load_pem_bundle(const gchar *pem, gsize len, GError **error)
{
	g_autoptr(BIO) bio = NULL;
	g_autoptr(GPtrArray) certs = g_ptr_array_new_with_free_func((GDestroyNotify)X509_free);

	g_return_val_if_fail(pem != NULL || len == 0, NULL);

	bio = kl_x509_mem_bio(pem, len, error);
	if (bio == NULL)
		return NULL;
	for (;;) {
		unsigned long err;
		X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		if (cert != NULL) {
			g_ptr_array_add(certs, cert);
			continue;
		}
		/* running out of PEM blocks is the normal end */
		err = ERR_peek_last_error();
		if (ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE) {
			ERR_clear_error();
			break;
		}
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_INVALID_INPUT,
					    "invalid certificate #%u in bundle",
					    certs->len + 1);
		return NULL;
	}
	if (certs->len == 0) {
		g_set_error(error,
			    KL_X509_ERROR,
			    KL_X509_ERROR_NOT_FOUND,
			    "no PEM certificate found");
		return NULL;
	}
	return g_steal_pointer(&certs);
}

GPtrArray *
kl_x509_load_pem_bundle_file(const gchar *path, GError **error)
{
	gsize len = 0;
	GPtrArray *certs;
	g_autofree gchar *pem = NULL;

	if (!g_file_get_contents(path, &pem, &len, error))
		return NULL;
	certs = kl_x509_load_pem_bundle(pem, len, error);
	if (certs == NULL)
		g_prefix_error(error, "%s: ", path);
	return certs;
}

gchar *
kl_x509_to_pem(X509 *cert, GError **error)
{
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());

	g_return_val_if_fail(cert != NULL, NULL);

	if (bio == NULL || PEM_write_bio_X509(bio, cert) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_FAILED,
					    "cannot write certificate PEM");
		return NULL;
	}
	return kl_x509_bio_to_string(bio, error);
}

GBytes *
kl_x509_to_der(X509 *cert, GError **error)
{
	guint8 *der = NULL;
	int len;
	GBytes *bytes;

	g_return_val_if_fail(cert != NULL, NULL);

	len = i2d_X509(cert, &der);
	if (len <= 0) {
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_FAILED,
					    "cannot encode certificate DER");
		return NULL;
	}
	bytes = g_bytes_new(der, (gsize)len);
	OPENSSL_free(der);
	return bytes;
}

gboolean
kl_x509_verify_chain(X509 *cert, GPtrArray *trusted, GPtrArray *intermediates, GError **error)
{
	int verr;
	X509 *failed;
	g_autofree gchar *failed_subject = NULL;
	g_autoptr(X509_STORE) store = NULL;
	g_autoptr(X509_STORE_CTX) ctx = NULL;
	g_autoptr(KlX509Stack) untrusted = NULL;

	g_return_val_if_fail(cert != NULL, FALSE);
	g_return_val_if_fail(trusted != NULL, FALSE);

	if (trusted->len == 0) {
		g_set_error(error,
			    KL_X509_ERROR,
			    KL_X509_ERROR_VERIFY,
			    "no trusted certificates to verify against");
		return FALSE;
	}
	store = X509_STORE_new();
	untrusted = sk_X509_new_null();
	ctx = X509_STORE_CTX_new();
	if (store == NULL || untrusted == NULL || ctx == NULL) {
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_FAILED,
					    "cannot create certificate store");
		return FALSE;
	}
	for (guint i = 0; i < trusted->len; i++) {
		if (X509_STORE_add_cert(store, g_ptr_array_index(trusted, i)) != 1) {
			kl_crypto_set_error_openssl(error,
						    KL_X509_ERROR,
						    KL_X509_ERROR_FAILED,
						    "cannot add trusted certificate");
			return FALSE;
		}
	}
	/* Every certificate the caller trusts is an anchor, as with Keylime's
	 * tpm_cert_store which mixes roots and intermediates. */
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
	for (guint i = 0; intermediates != NULL && i < intermediates->len; i++) {
		if (sk_X509_push(untrusted, g_ptr_array_index(intermediates, i)) <= 0) {
			kl_crypto_set_error_openssl(error,
						    KL_X509_ERROR,
						    KL_X509_ERROR_FAILED,
						    "out of memory");
			return FALSE;
		}
	}
	if (X509_STORE_CTX_init(ctx, store, cert, untrusted) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_FAILED,
					    "cannot initialise verification");
		return FALSE;
	}
	if (X509_verify_cert(ctx) == 1) {
		ERR_clear_error();
		return TRUE;
	}
	verr = X509_STORE_CTX_get_error(ctx);
	failed = X509_STORE_CTX_get_current_cert(ctx);
	failed_subject = failed != NULL ? kl_x509_get_subject(failed) : g_strdup("?");
	ERR_clear_error();
	g_set_error(error,
		    KL_X509_ERROR,
		    KL_X509_ERROR_VERIFY,
		    "certificate verification failed at depth %d (%s): %s",
		    X509_STORE_CTX_get_error_depth(ctx),
		    failed_subject,
		    X509_verify_cert_error_string(verr));
	return FALSE;
}

gboolean
kl_x509_public_key_equal(X509 *cert, EVP_PKEY *key)
{
	EVP_PKEY *cert_key;

	g_return_val_if_fail(cert != NULL, FALSE);
	g_return_val_if_fail(key != NULL, FALSE);

	cert_key = X509_get0_pubkey(cert);
	if (cert_key == NULL) {
		ERR_clear_error();
		return FALSE;
	}
	return EVP_PKEY_eq(cert_key, key) == 1;
}

guint64
kl_x509_get_serial(X509 *cert)
{
	guint64 serial = 0;

	g_return_val_if_fail(cert != NULL, 0);

	if (ASN1_INTEGER_get_uint64(&serial, X509_get0_serialNumber(cert)) != 1) {
		/* negative or wider than 64 bits */
		ERR_clear_error();
		return 0;
	}
	return serial;
}

static gchar *
kl_x509_name_to_string(const X509_NAME *name)
{
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	BUF_MEM *mem = NULL;

	/* RFC 4514 order as upstream's rfc4514_string(), UTF-8 kept as is */
	if (bio == NULL ||
	    X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0 ||
	    BIO_get_mem_ptr(bio, &mem) != 1 || mem == NULL) {
		ERR_clear_error();
		return g_strdup("");
	}
	return g_strndup(mem->data, mem->length);
}

gchar *
kl_x509_get_subject(X509 *cert)
{
	g_return_val_if_fail(cert != NULL, NULL);
	return kl_x509_name_to_string(X509_get_subject_name(cert));
}

gchar *
kl_x509_get_issuer(X509 *cert)
{
	g_return_val_if_fail(cert != NULL, NULL);
	return kl_x509_name_to_string(X509_get_issuer_name(cert));
}

/* CRLs */

X509_CRL *
kl_x509_crl_issue(X509 *ca,
		  EVP_PKEY *ca_key,
		  const guint64 *revoked_serials,
		  guint n_revoked,
		  guint days,
		  GError **error)
{
	const EVP_MD *md;
	X509V3_CTX v3ctx;
	g_autoptr(X509_CRL) crl = NULL;
	g_autoptr(ASN1_TIME) now = NULL;
	g_autoptr(ASN1_TIME) next = NULL;
	g_autoptr(ASN1_INTEGER) number = NULL;
	g_autoptr(X509_EXTENSION) aki = NULL;

	g_return_val_if_fail(ca != NULL, NULL);
	g_return_val_if_fail(ca_key != NULL, NULL);
	g_return_val_if_fail(revoked_serials != NULL || n_revoked == 0, NULL);

	if (days == 0) {
		g_set_error(error,
			    KL_X509_ERROR,
			    KL_X509_ERROR_INVALID_INPUT,
			    "CRL validity must be at least one day");
		return NULL;
	}
	if (X509_check_private_key(ca, ca_key) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_INVALID_KEY,
					    "CA key does not match CA certificate");
		return NULL;
	}
	md = kl_crypto_get_md("sha256", error);
	if (md == NULL)
		return NULL;
	crl = X509_CRL_new();
	now = X509_gmtime_adj(NULL, 0);
	next = X509_time_adj_ex(NULL, (int)MIN(days, 36500u), 0, NULL);
	number = ASN1_INTEGER_new();
	if (crl == NULL || now == NULL || next == NULL || number == NULL ||
	    X509_CRL_set_version(crl, X509_CRL_VERSION_2) != 1 ||
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) != 1 ||
	    X509_CRL_set1_lastUpdate(crl, now) != 1 || X509_CRL_set1_nextUpdate(crl, next) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_FAILED,
					    "cannot create CRL");
		return NULL;
	}
	for (guint i = 0; i < n_revoked; i++) {
		g_autoptr(X509_REVOKED) rev = X509_REVOKED_new();
		g_autoptr(ASN1_INTEGER) serial = ASN1_INTEGER_new();
		if (rev == NULL || serial == NULL ||
		    ASN1_INTEGER_set_uint64(serial, revoked_serials[i]) != 1 ||
		    X509_REVOKED_set_serialNumber(rev, serial) != 1 ||
		    X509_REVOKED_set_revocationDate(rev, now) != 1 ||
		    X509_CRL_add0_revoked(crl, rev) != 1) {
			kl_crypto_set_error_openssl(error,
						    KL_X509_ERROR,
						    KL_X509_ERROR_FAILED,
						    "cannot add revoked serial %" G_GUINT64_FORMAT,
						    revoked_serials[i]);
			return NULL;
		}
		rev = NULL; /* owned by the CRL now */
	}
	X509_CRL_sort(crl);
	X509V3_set_ctx(&v3ctx, ca, NULL, NULL, crl, 0);
	aki = X509V3_EXT_conf_nid(NULL, &v3ctx, NID_authority_key_identifier, "keyid:always");
	/* CRL number: a fresh CRL per call, so its time is a monotonic number */
	if (aki == NULL || X509_CRL_add_ext(crl, aki, -1) != 1 ||
	    ASN1_INTEGER_set_int64(number, (gint64)(g_get_real_time() / G_USEC_PER_SEC)) != 1 ||
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, X509V3_ADD_DEFAULT) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_FAILED,
					    "cannot add CRL extensions");
		return NULL;
	}
	if (X509_CRL_sign(crl, ca_key, md) <= 0) {
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_FAILED,
					    "cannot sign CRL");
		return NULL;
	}
	return g_steal_pointer(&crl);
}

X509_CRL *
kl_x509_crl_load_pem(const gchar *pem, gsize len, GError **error)
{
	X509_CRL *crl;
	g_autoptr(BIO) bio = NULL;

	g_return_val_if_fail(pem != NULL || len == 0, NULL);

	bio = kl_x509_mem_bio(pem, len, error);
	if (bio == NULL)
		return NULL;
	crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
	if (crl == NULL) {
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_INVALID_INPUT,
					    "not a PEM CRL");
		return NULL;
	}
	return crl;
}

gchar *
kl_x509_crl_to_pem(X509_CRL *crl, GError **error)
{
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());

	g_return_val_if_fail(crl != NULL, NULL);

	if (bio == NULL || PEM_write_bio_X509_CRL(bio, crl) != 1) {
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_FAILED,
					    "cannot write CRL PEM");
		return NULL;
	}
	return kl_x509_bio_to_string(bio, error);
}

GBytes *
kl_x509_crl_to_der(X509_CRL *crl, GError **error)
{
	guint8 *der = NULL;
	int len;
	GBytes *bytes;

	g_return_val_if_fail(crl != NULL, NULL);

	len = i2d_X509_CRL(crl, &der);
	if (len <= 0) {
		kl_crypto_set_error_openssl(error,
					    KL_X509_ERROR,
					    KL_X509_ERROR_FAILED,
					    "cannot encode CRL DER");
		return NULL;
	}
	bytes = g_bytes_new(der, (gsize)len);
	OPENSSL_free(der);
	return bytes;
}
