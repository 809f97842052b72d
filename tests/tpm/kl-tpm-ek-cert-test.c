/*
 * The tpm suite's EK certificate checks: read the RSA and ECC EK
 * certificates out of a fixture swtpm's NV indices over ESYS, as the agent
 * will, and verify them against that fixture's local CA — and not against
 * another fixture's CA, which shows that every test has its own CA.
 */
#include "config.h"

#include <openssl/ec.h>

#include <gio/gio.h>

#include "kl-test-tpm.h"
#include "kl-x509.h"

#define KL_TPM_TEST_N_PARALLEL 4

static X509 *
kl_tpm_test_read_ek_cert(KlTestSwtpm *swtpm, TPM2_HANDLE index)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTestTpm) tpm = NULL;
	g_autoptr(GBytes) der = NULL;
	X509 *cert;

	tpm = kl_test_tpm_new(swtpm, &error);
	g_assert_no_error(error);
	der = kl_test_tpm_nv_read(tpm, index, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(g_bytes_get_size(der), >, KL_TEST_TPM_NV_CHUNK / 2);
	cert = kl_x509_load_der(g_bytes_get_data(der, NULL), g_bytes_get_size(der), &error);
	g_assert_no_error(error);
	g_assert_nonnull(cert);
	return cert;
}

static gboolean
kl_tpm_test_verify(X509 *cert, KlTestSwtpm *ca_owner, GError **error)
{
	g_autoptr(GPtrArray) trusted = NULL;

	trusted = kl_x509_load_pem_bundle_file(kl_test_swtpm_get_ca_file(ca_owner), error);
	if (trusted == NULL)
		return FALSE;
	/* root and intermediate: two certificates */
	g_assert_cmpuint(trusted->len, ==, 2);
	return kl_x509_verify_chain(cert, trusted, NULL, error);
}

static KlTestSwtpm *
kl_tpm_test_swtpm_new(void)
{
	g_autoptr(GError) error = NULL;
	KlTestSwtpm *swtpm = kl_test_swtpm_new(&error);
	g_assert_no_error(error);
	g_assert_nonnull(swtpm);
	return swtpm;
}

static void
kl_tpm_test_ek_cert_rsa(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTestSwtpm) swtpm = NULL;
	g_autoptr(X509) cert = NULL;
	g_autofree gchar *issuer = NULL;
	EVP_PKEY *key;

	if (!kl_test_swtpm_available()) {
		g_test_skip("swtpm not installed");
		return;
	}
	swtpm = kl_tpm_test_swtpm_new();
	cert = kl_tpm_test_read_ek_cert(swtpm, KL_TEST_SWTPM_NV_EK_CERT_RSA);
	key = X509_get0_pubkey(cert);
	g_assert_nonnull(key);
	g_assert_cmpint(EVP_PKEY_get_base_id(key), ==, EVP_PKEY_RSA);
	g_assert_cmpint(EVP_PKEY_get_bits(key), ==, 2048);
	issuer = kl_x509_get_issuer(cert);
	g_assert_cmpstr(issuer, ==, "CN=swtpm-localca");

	g_assert_true(kl_tpm_test_verify(cert, swtpm, &error));
	g_assert_no_error(error);
}

static void
kl_tpm_test_ek_cert_ecc(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTestSwtpm) swtpm = NULL;
	g_autoptr(X509) cert = NULL;
	gchar curve[64] = {0};
	EVP_PKEY *key;

	if (!kl_test_swtpm_available()) {
		g_test_skip("swtpm not installed");
		return;
	}
	swtpm = kl_tpm_test_swtpm_new();
	cert = kl_tpm_test_read_ek_cert(swtpm, KL_TEST_SWTPM_NV_EK_CERT_ECC);
	key = X509_get0_pubkey(cert);
	g_assert_nonnull(key);
	g_assert_cmpint(EVP_PKEY_get_base_id(key), ==, EVP_PKEY_EC);
	g_assert_true(EVP_PKEY_get_group_name(key, curve, sizeof(curve), NULL));
	g_assert_cmpstr(curve, ==, "secp384r1");

	g_assert_true(kl_tpm_test_verify(cert, swtpm, &error));
	g_assert_no_error(error);
}

/* Two fixtures, two CAs: each EK certificate verifies against its own CA
 * only. */
static void
kl_tpm_test_ek_cert_other_ca(void)
{
	g_autoptr(KlTestSwtpm) a = NULL;
	g_autoptr(KlTestSwtpm) b = NULL;
	g_autoptr(X509) cert_a = NULL;
	g_autoptr(X509) cert_b = NULL;

	if (!kl_test_swtpm_available()) {
		g_test_skip("swtpm not installed");
		return;
	}
	a = kl_tpm_test_swtpm_new();
	b = kl_tpm_test_swtpm_new();
	g_assert_cmpstr(kl_test_swtpm_get_tcti(a), !=, kl_test_swtpm_get_tcti(b));
	g_assert_cmpstr(kl_test_swtpm_get_state_dir(a), !=, kl_test_swtpm_get_state_dir(b));
	cert_a = kl_tpm_test_read_ek_cert(a, KL_TEST_SWTPM_NV_EK_CERT_RSA);
	cert_b = kl_tpm_test_read_ek_cert(b, KL_TEST_SWTPM_NV_EK_CERT_RSA);

	{
		g_autoptr(GError) error = NULL;
		g_assert_true(kl_tpm_test_verify(cert_a, a, &error));
		g_assert_no_error(error);
	}
	{
		g_autoptr(GError) error = NULL;
		g_assert_false(kl_tpm_test_verify(cert_a, b, &error));
		g_assert_error(error, KL_X509_ERROR, KL_X509_ERROR_VERIFY);
		g_test_message("A's EK cert against B's CA: %s", error->message);
	}
	{
		g_autoptr(GError) error = NULL;
		g_assert_false(kl_tpm_test_verify(cert_b, a, &error));
		g_assert_error(error, KL_X509_ERROR, KL_X509_ERROR_VERIFY);
	}
}

static gpointer
kl_tpm_test_parallel_thread(gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTestSwtpm) swtpm = kl_tpm_test_swtpm_new();
	g_autoptr(X509) cert = kl_tpm_test_read_ek_cert(swtpm, KL_TEST_SWTPM_NV_EK_CERT_RSA);

	g_assert_true(kl_tpm_test_verify(cert, swtpm, &error));
	g_assert_no_error(error);
	return GUINT_TO_POINTER(kl_test_swtpm_get_port(swtpm));
}

/* Four fixtures at once, from four threads: distinct ports, no shared
 * state, and the wall time shows whether they really overlap. */
static void
kl_tpm_test_parallel(void)
{
	GThread *threads[KL_TPM_TEST_N_PARALLEL];
	guint ports[KL_TPM_TEST_N_PARALLEL];
	gint64 start = g_get_monotonic_time();

	if (!kl_test_swtpm_available()) {
		g_test_skip("swtpm not installed");
		return;
	}
	for (guint i = 0; i < KL_TPM_TEST_N_PARALLEL; i++)
		threads[i] = g_thread_new("swtpm-fixture", kl_tpm_test_parallel_thread, NULL);
	for (guint i = 0; i < KL_TPM_TEST_N_PARALLEL; i++)
		ports[i] = GPOINTER_TO_UINT(g_thread_join(threads[i]));
	for (guint i = 0; i < KL_TPM_TEST_N_PARALLEL; i++) {
		g_assert_cmpuint(ports[i], !=, 0);
		for (guint j = i + 1; j < KL_TPM_TEST_N_PARALLEL; j++)
			g_assert_cmpuint(ports[i], !=, ports[j]);
	}
	g_test_message("%d fixtures in parallel (setup, start, EK read, verify, stop): %.0f ms",
		       KL_TPM_TEST_N_PARALLEL,
		       (g_get_monotonic_time() - start) / 1000.0);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/tpm/ek-cert/rsa", kl_tpm_test_ek_cert_rsa);
	g_test_add_func("/tpm/ek-cert/ecc", kl_tpm_test_ek_cert_ecc);
	g_test_add_func("/tpm/ek-cert/other-ca", kl_tpm_test_ek_cert_other_ca);
	g_test_add_func("/tpm/swtpm/parallel", kl_tpm_test_parallel);
	return g_test_run();
}
