/*
 * Tests for kl-x509: keys, issued certificate chains checked by
 * `openssl verify`, CRLs, and hostile certificate input.
 */
#include "config.h"

#include <string.h>
#include <sys/stat.h>

#include "kl-test-dir.h"
#include "kl-x509.h"

static gboolean
openssl_verify(const gchar *cafile, const gchar *certfile, gchar **out)
{
	gint status = 0;
	g_autofree gchar *path = g_find_program_in_path("openssl");
	g_autoptr(GError) error = NULL;
	const gchar *argv[] = {path, "verify", "-CAfile", cafile, certfile, NULL};

	g_assert_nonnull(path);
	g_assert_true(g_spawn_sync(NULL,
				   (gchar **)argv,
				   NULL,
				   G_SPAWN_STDERR_TO_DEV_NULL,
				   NULL,
				   NULL,
				   out,
				   NULL,
				   &status,
				   &error));
	g_assert_no_error(error);
	return g_spawn_check_wait_status(status, NULL);
}

typedef struct {
	EVP_PKEY *key;
	X509 *cert;
} Issued;

static void
issued_clear(Issued *i)
{
	g_clear_pointer(&i->key, EVP_PKEY_free);
	g_clear_pointer(&i->cert, X509_free);
}

static void
issue(Issued *out,
      const gchar *cn,
      KlCertUsage usage,
      guint64 serial,
      const Issued *issuer,
      const gchar *const *dns,
      const gchar *const *ips)
{
	g_autoptr(GError) error = NULL;
	KlCertRequest req = {
		.common_name = cn,
		.organization = "keylime-c",
		.country = "US",
		.serial = serial,
		.days = 30,
		.usage = usage,
		.dns_names = dns,
		.ip_addresses = ips,
	};

	out->key = usage == KL_CERT_USAGE_CA ? kl_key_generate_rsa(2048, &error)
					     : kl_key_generate_ec("P-256", &error);
	g_assert_no_error(error);
	out->cert = kl_x509_issue(&req,
				  out->key,
				  issuer != NULL ? issuer->cert : NULL,
				  issuer != NULL ? issuer->key : NULL,
				  &error);
	g_assert_no_error(error);
	g_assert_nonnull(out->cert);
}

static gchar *
write_cert(KlTestDir *dir, const gchar *name, X509 *cert)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *pem = kl_x509_to_pem(cert, &error);
	g_assert_no_error(error);
	return kl_test_dir_write(dir, name, pem, -1);
}

static void
test_key_pem_roundtrip(void)
{
	const gchar *curves[] = {"P-256", "P-384"};
	g_autoptr(GError) error = NULL;

	for (guint i = 0; i < G_N_ELEMENTS(curves); i++) {
		g_autoptr(EVP_PKEY) key = kl_key_generate_ec(curves[i], &error);
		g_autofree gchar *priv = NULL;
		g_autofree gchar *pub = NULL;
		g_autoptr(EVP_PKEY) priv2 = NULL;
		g_autoptr(EVP_PKEY) pub2 = NULL;
		g_assert_no_error(error);
		priv = kl_key_to_pem_private(key, &error);
		g_assert_no_error(error);
		g_assert_true(g_str_has_prefix(priv, "-----BEGIN PRIVATE KEY-----"));
		pub = kl_key_to_pem_public(key, &error);
		g_assert_no_error(error);
		g_assert_true(g_str_has_prefix(pub, "-----BEGIN PUBLIC KEY-----"));
		priv2 = kl_key_load_pem(priv, strlen(priv), &error);
		g_assert_no_error(error);
		pub2 = kl_key_load_pem(pub, strlen(pub), &error);
		g_assert_no_error(error);
		g_assert_cmpint(EVP_PKEY_eq(key, priv2), ==, 1);
		g_assert_cmpint(EVP_PKEY_eq(key, pub2), ==, 1);
	}
	g_assert_null(kl_key_generate_ec("P-192", &error));
	g_assert_error(error, KL_X509_ERROR, KL_X509_ERROR_INVALID_INPUT);
	g_clear_error(&error);
	g_assert_null(kl_key_generate_rsa(512, &error));
	g_assert_error(error, KL_X509_ERROR, KL_X509_ERROR_INVALID_INPUT);
}

static void
test_key_save_private(void)
{
	struct stat st;
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_test_dir_write(dir, "key.pem", "old contents", -1);
	g_autoptr(EVP_PKEY) key = kl_key_generate_ec("P-256", &error);
	g_autoptr(EVP_PKEY) back = NULL;

	g_assert_no_error(error);
	g_assert_cmpint(chmod(path, 0644), ==, 0);
	g_assert_true(kl_key_save_private_pem_file(key, path, &error));
	g_assert_no_error(error);
	g_assert_cmpint(stat(path, &st), ==, 0);
	g_assert_cmpuint(st.st_mode & 0777, ==, 0600);
	back = kl_key_load_pem_file(path, &error);
	g_assert_no_error(error);
	g_assert_cmpint(EVP_PKEY_eq(key, back), ==, 1);

	g_assert_false(kl_key_save_private_pem_file(key, "/nonexistent-dir/key.pem", &error));
	g_assert_nonnull(error);
}

static void
test_key_garbage(void)
{
	const gchar *garbage = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
	g_autoptr(GError) error = NULL;

	g_assert_null(kl_key_load_pem(garbage, strlen(garbage), &error));
	g_assert_error(error, KL_X509_ERROR, KL_X509_ERROR_INVALID_KEY);
	g_clear_error(&error);
	g_assert_null(kl_key_load_pem("", 0, &error));
	g_assert_error(error, KL_X509_ERROR, KL_X509_ERROR_INVALID_INPUT);
}

static void
test_chain_openssl_verify(void)
{
	const gchar *dns[] = {"localhost", "verifier.example", NULL};
	const gchar *ips[] = {"127.0.0.1", "::1", NULL};
	Issued ca = {0};
	Issued server = {0};
	Issued other_ca = {0};
	Issued stranger = {0};
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autoptr(GPtrArray) trusted = g_ptr_array_new();
	g_autoptr(GPtrArray) other = g_ptr_array_new();
	g_autofree gchar *ca_path = NULL;
	g_autofree gchar *server_path = NULL;
	g_autofree gchar *stranger_path = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *subject = NULL;
	g_autofree gchar *openssl = g_find_program_in_path("openssl");

	issue(&ca, "Keylime Certificate Authority", KL_CERT_USAGE_CA, 1, NULL, NULL, NULL);
	issue(&server, "server", KL_CERT_USAGE_SERVER_CLIENT, 0, &ca, dns, ips);
	issue(&other_ca, "Other CA", KL_CERT_USAGE_CA, 1, NULL, NULL, NULL);
	issue(&stranger, "stranger", KL_CERT_USAGE_CLIENT, 7, &other_ca, NULL, NULL);

	g_assert_cmpuint(kl_x509_get_serial(ca.cert), ==, 1);
	g_assert_cmpuint(kl_x509_get_serial(server.cert), !=, 0);
	g_assert_cmpuint(kl_x509_get_serial(stranger.cert), ==, 7);
	subject = kl_x509_get_subject(server.cert);
	g_assert_cmpstr(subject, ==, "CN=server,O=keylime-c,C=US");
	g_assert_true(kl_x509_public_key_equal(server.cert, server.key));
	g_assert_false(kl_x509_public_key_equal(server.cert, ca.key));

	g_ptr_array_add(trusted, ca.cert);
	g_ptr_array_add(other, other_ca.cert);
	g_assert_true(kl_x509_verify_chain(server.cert, trusted, NULL, &error));
	g_assert_no_error(error);
	g_assert_false(kl_x509_verify_chain(stranger.cert, trusted, NULL, &error));
	g_assert_error(error, KL_X509_ERROR, KL_X509_ERROR_VERIFY);
	g_assert_nonnull(strstr(error->message, "unable to get local issuer certificate"));
	g_clear_error(&error);
	g_assert_false(kl_x509_verify_chain(server.cert, other, NULL, &error));
	g_assert_error(error, KL_X509_ERROR, KL_X509_ERROR_VERIFY);

	if (openssl == NULL) {
		g_test_skip("openssl not installed");
	} else {
		ca_path = write_cert(dir, "ca.pem", ca.cert);
		server_path = write_cert(dir, "server.pem", server.cert);
		stranger_path = write_cert(dir, "stranger.pem", stranger.cert);
		g_assert_true(openssl_verify(ca_path, server_path, &out));
		g_assert_true(g_str_has_suffix(out, "OK\n"));
		g_assert_false(openssl_verify(ca_path, stranger_path, NULL));
	}
	issued_clear(&ca);
	issued_clear(&server);
	issued_clear(&other_ca);
	issued_clear(&stranger);
}

static void
test_intermediate(void)
{
	Issued root = {0};
	Issued mid = {0};
	Issued leaf = {0};
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) trusted = g_ptr_array_new();
	g_autoptr(GPtrArray) inter = g_ptr_array_new();

	issue(&root, "root", KL_CERT_USAGE_CA, 1, NULL, NULL, NULL);
	issue(&mid, "intermediate", KL_CERT_USAGE_CA, 2, &root, NULL, NULL);
	issue(&leaf, "leaf", KL_CERT_USAGE_CLIENT, 3, &mid, NULL, NULL);
	g_ptr_array_add(trusted, root.cert);
	g_assert_false(kl_x509_verify_chain(leaf.cert, trusted, NULL, &error));
	g_assert_error(error, KL_X509_ERROR, KL_X509_ERROR_VERIFY);
	g_clear_error(&error);
	g_ptr_array_add(inter, mid.cert);
	g_assert_true(kl_x509_verify_chain(leaf.cert, trusted, inter, &error));
	g_assert_no_error(error);

	/* issuer key that does not belong to the issuer certificate */
	{
		KlCertRequest req = {.common_name = "x", .days = 1, .usage = KL_CERT_USAGE_CLIENT};
		g_autoptr(X509) bad = kl_x509_issue(&req, leaf.key, mid.cert, root.key, &error);
		g_assert_null(bad);
		g_assert_error(error, KL_X509_ERROR, KL_X509_ERROR_INVALID_KEY);
		g_clear_error(&error);
	}
	issued_clear(&root);
	issued_clear(&mid);
	issued_clear(&leaf);
}

static void
test_der_roundtrip(void)
{
	Issued ca = {0};
	gsize len = 0;
	const guint8 *der;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) bytes = NULL;
	g_autoptr(X509) back = NULL;
	g_autoptr(X509) from_b64 = NULL;
	g_autoptr(X509) from_pem = NULL;
	g_autofree gchar *b64 = NULL;
	g_autofree gchar *pem = NULL;
	g_autofree guint8 *trailing = NULL;

	issue(&ca, "ca", KL_CERT_USAGE_CA, 5, NULL, NULL, NULL);
	bytes = kl_x509_to_der(ca.cert, &error);
	g_assert_no_error(error);
	der = g_bytes_get_data(bytes, &len);
	back = kl_x509_load_der(der, len, &error);
	g_assert_no_error(error);
	g_assert_cmpint(X509_cmp(back, ca.cert), ==, 0);

	b64 = g_base64_encode(der, len);
	from_b64 = kl_x509_load_pem_or_base64_der(b64, &error);
	g_assert_no_error(error);
	g_assert_cmpint(X509_cmp(from_b64, ca.cert), ==, 0);
	pem = kl_x509_to_pem(ca.cert, &error);
	from_pem = kl_x509_load_pem_or_base64_der(pem, &error);
	g_assert_no_error(error);
	g_assert_cmpint(X509_cmp(from_pem, ca.cert), ==, 0);

	/* trailing bytes after the DER certificate */
	trailing = g_malloc0(len + 3);
	memcpy(trailing, der, len);
	g_assert_null(kl_x509_load_der(trailing, len + 3, &error));
	g_assert_error(error, KL_X509_ERROR, KL_X509_ERROR_INVALID_INPUT);
	g_assert_nonnull(strstr(error->message, "3 trailing bytes"));
	g_clear_error(&error);

	/* truncated DER */
	g_assert_null(kl_x509_load_der(der, len - 1, &error));
	g_assert_error(error, KL_X509_ERROR, KL_X509_ERROR_INVALID_INPUT);
	g_clear_error(&error);

	/* base64 with junk characters is refused, not skipped */
	g_assert_null(kl_x509_load_pem_or_base64_der("MII*AAAA", &error));
	g_assert_error(error, KL_X509_ERROR, KL_X509_ERROR_INVALID_INPUT);
	issued_clear(&ca);
}

static void
test_garbage_pem(void)
{
	const gchar *garbage = "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n"
			       "-----END CERTIFICATE-----\n";
	g_autoptr(GError) error = NULL;

	g_assert_null(kl_x509_load_pem(garbage, strlen(garbage), &error));
	g_assert_error(error, KL_X509_ERROR, KL_X509_ERROR_INVALID_INPUT);
	g_assert_nonnull(strstr(error->message, "not a PEM certificate"));
	g_clear_error(&error);
	g_assert_null(kl_x509_load_pem("hello", 5, &error));
	g_assert_error(error, KL_X509_ERROR, KL_X509_ERROR_INVALID_INPUT);
}

static void
test_bundle(void)
{
	Issued a = {0};
	Issued b = {0};
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *pa = NULL;
	g_autofree gchar *pb = NULL;
	g_autofree gchar *both = NULL;
	g_autofree gchar *path = NULL;
	g_autofree gchar *empty = kl_test_dir_write(dir, "empty.pem", "", 0);
	g_autofree gchar *bad = NULL;
	g_autoptr(GPtrArray) certs = NULL;

	issue(&a, "a", KL_CERT_USAGE_CA, 1, NULL, NULL, NULL);
	issue(&b, "b", KL_CERT_USAGE_CA, 2, NULL, NULL, NULL);
	pa = kl_x509_to_pem(a.cert, &error);
	pb = kl_x509_to_pem(b.cert, &error);
	both = g_strconcat("# comment\n", pa, "\n", pb, NULL);
	path = kl_test_dir_write(dir, "bundle.pem", both, -1);
	certs = kl_x509_load_pem_bundle_file(path, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(certs->len, ==, 2);
	g_assert_cmpuint(kl_x509_get_serial(g_ptr_array_index(certs, 1)), ==, 2);

	g_assert_null(kl_x509_load_pem_bundle_file(empty, &error));
	g_assert_error(error, KL_X509_ERROR, KL_X509_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, "empty.pem"));
	g_clear_error(&error);

	bad = kl_test_dir_write(dir,
				"bad.pem",
				"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
				-1);
	g_assert_null(kl_x509_load_pem_bundle_file(bad, &error));
	g_assert_error(error, KL_X509_ERROR, KL_X509_ERROR_INVALID_INPUT);
	issued_clear(&a);
	issued_clear(&b);
}

static void
test_crl(void)
{
	const guint64 revoked[] = {42, 7};
	Issued ca = {0};
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autoptr(X509_CRL) crl = NULL;
	g_autoptr(X509_CRL) back = NULL;
	g_autoptr(GBytes) der = NULL;
	g_autofree gchar *pem = NULL;
	g_autofree gchar *crl_path = NULL;
	g_autofree gchar *ca_path = NULL;
	g_autofree gchar *openssl = g_find_program_in_path("openssl");

	issue(&ca, "ca", KL_CERT_USAGE_CA, 1, NULL, NULL, NULL);
	crl = kl_x509_crl_issue(ca.cert, ca.key, revoked, G_N_ELEMENTS(revoked), 30, &error);
	g_assert_no_error(error);
	g_assert_cmpint(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), ==, 2);
	g_assert_cmpint(X509_CRL_verify(crl, ca.key), ==, 1);
	pem = kl_x509_crl_to_pem(crl, &error);
	g_assert_no_error(error);
	back = kl_x509_crl_load_pem(pem, strlen(pem), &error);
	g_assert_no_error(error);
	der = kl_x509_crl_to_der(crl, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(g_bytes_get_size(der), >, 0);

	if (openssl != NULL) {
		gint status = 0;
		g_autofree gchar *out = NULL;
		const gchar *argv[] =
			{openssl, "crl", "-in", NULL, "-CAfile", NULL, "-noout", "-text", NULL};
		crl_path = kl_test_dir_write(dir, "crl.pem", pem, -1);
		ca_path = write_cert(dir, "ca.pem", ca.cert);
		argv[3] = crl_path;
		argv[5] = ca_path;
		g_assert_true(g_spawn_sync(NULL,
					   (gchar **)argv,
					   NULL,
					   G_SPAWN_STDERR_TO_DEV_NULL,
					   NULL,
					   NULL,
					   &out,
					   NULL,
					   &status,
					   &error));
		g_assert_no_error(error);
		g_assert_true(g_spawn_check_wait_status(status, NULL));
		g_assert_nonnull(strstr(out, "Serial Number: 2A"));
		g_assert_nonnull(strstr(out, "Serial Number: 07"));
	}
	issued_clear(&ca);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/x509/key/pem-roundtrip", test_key_pem_roundtrip);
	g_test_add_func("/x509/key/save-private", test_key_save_private);
	g_test_add_func("/x509/key/garbage", test_key_garbage);
	g_test_add_func("/x509/chain/openssl-verify", test_chain_openssl_verify);
	g_test_add_func("/x509/chain/intermediate", test_intermediate);
	g_test_add_func("/x509/der/roundtrip", test_der_roundtrip);
	g_test_add_func("/x509/pem/garbage", test_garbage_pem);
	g_test_add_func("/x509/bundle", test_bundle);
	g_test_add_func("/x509/crl", test_crl);
	return g_test_run();
}
