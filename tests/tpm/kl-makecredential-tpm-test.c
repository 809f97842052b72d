/*
 * The tpm suite's MakeCredential checks: blobs made by kl_makecredential()
 * for the fixture swtpm's RSA-2048 EK and its ECC P-384 EK are opened by
 * TPM2_ActivateCredential with an AK under that EK (over ESYS, and with
 * tpm2-tools reading the file as an independent consumer of the format),
 * and give back the exact challenge.  A blob for another AK's Name and a
 * blob with a flipped byte are refused by the TPM.
 */
#include "config.h"

#include <string.h>

#include <gio/gio.h>

#include "kl-makecredential.h"
#include "kl-test-dir.h"
#include "kl-test-tpm.h"

static gboolean
skip_without_swtpm(void)
{
	if (kl_test_swtpm_available())
		return FALSE;
	g_test_skip("swtpm not installed");
	return TRUE;
}

static KlTpmPublic *
ek_public(KlTestTpm *tpm, TPM2_ALG_ID type)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) blob = NULL;
	KlTpmPublic *ek;

	g_assert_true(kl_test_tpm_use_ek(tpm, type, &error));
	g_assert_no_error(error);
	blob = kl_test_tpm_get_ek_public(tpm, &error);
	g_assert_no_error(error);
	ek = kl_tpm_public_new_from_data(g_bytes_get_data(blob, NULL),
					 g_bytes_get_size(blob),
					 &error);
	g_assert_no_error(error);
	g_assert_cmpuint(kl_tpm_public_get_area(ek)->type, ==, type);
	return ek;
}

static void
check_activate(TPM2_ALG_ID ek_type, TPM2_ALG_ID ak_type, TPM2_ALG_ID ak_scheme)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTestTpm) tpm = kl_test_tpm_new_fixture(&error);
	g_autoptr(KlTpmPublic) ek = NULL;
	g_autoptr(KlTestTpmAk) ak = NULL;
	g_autoptr(KlTestTpmAk) other = NULL;
	g_autoptr(GBytes) tpm_name = NULL;
	g_autoptr(GBytes) blob = NULL;
	g_autoptr(GBytes) wrong = NULL;
	g_autoptr(GBytes) out = NULL;
	g_autofree gchar *challenge = NULL;
	GBytes *name;
	gsize size = 0;
	const guint8 *data;

	g_assert_no_error(error);
	ek = ek_public(tpm, ek_type);
	ak = kl_test_tpm_create_ak(tpm, ak_type, ak_scheme, TPM2_ALG_SHA256, TRUE, &error);
	g_assert_no_error(error);
	other = kl_test_tpm_create_ak(tpm, ak_type, ak_scheme, TPM2_ALG_SHA256, FALSE, &error);
	g_assert_no_error(error);

	/* the Name the registrar computes is the TPM's */
	name = kl_tpm_public_get_name(ak->pub);
	tpm_name = kl_test_tpm_get_name(tpm, ak->handle, &error);
	g_assert_no_error(error);
	g_assert_true(g_bytes_equal(name, tpm_name));

	challenge = kl_makecredential_challenge_new(&error);
	g_assert_no_error(error);
	blob = kl_makecredential(ek, name, (const guint8 *)challenge, strlen(challenge), &error);
	g_assert_no_error(error);
	out = kl_test_tpm_activate_credential(tpm, ak, blob, &error);
	g_assert_no_error(error);
	g_assert_cmpmem(g_bytes_get_data(out, NULL), g_bytes_get_size(out), challenge, 32);

	/* made for another AK's Name: the integrity check fails in the TPM */
	wrong = kl_makecredential(ek,
				  kl_tpm_public_get_name(other->pub),
				  (const guint8 *)challenge,
				  strlen(challenge),
				  &error);
	g_assert_no_error(error);
	g_clear_pointer(&out, g_bytes_unref);
	out = kl_test_tpm_activate_credential(tpm, ak, wrong, &error);
	g_assert_error(error, KL_AGENT_TPM_ERROR, KL_AGENT_TPM_ERROR_FAILED);
	g_assert_null(out);
	g_clear_error(&error);

	/* one flipped byte in the integrity, the encrypted identity, the secret */
	data = g_bytes_get_data(blob, &size);
	for (guint i = 0; i < 3; i++) {
		gsize at[] = {8 + 2 + 2 + 3,
			      8 + 2 + 2 +
				      kl_tpm_hash_alg_get_digest_size(
					      kl_tpm_public_get_area(ek)->nameAlg) +
				      1,
			      size - 5};
		g_autofree guint8 *copy = g_memdup2(data, size);
		g_autoptr(GBytes) flipped = NULL;

		copy[at[i]] ^= 0x01;
		flipped = g_bytes_new(copy, size);
		out = kl_test_tpm_activate_credential(tpm, ak, flipped, &error);
		g_assert_error(error, KL_AGENT_TPM_ERROR, KL_AGENT_TPM_ERROR_FAILED);
		g_assert_null(out);
		g_clear_error(&error);
	}
	g_assert_true(kl_test_tpm_unload_ak(tpm, ak, &error));
	g_assert_no_error(error);
}

static void
test_rsa_ek(void)
{
	if (skip_without_swtpm())
		return;
	check_activate(TPM2_ALG_RSA, TPM2_ALG_RSA, TPM2_ALG_RSASSA);
}

static void
test_ecc_ek(void)
{
	if (skip_without_swtpm())
		return;
	check_activate(TPM2_ALG_ECC, TPM2_ALG_RSA, TPM2_ALG_RSASSA);
	check_activate(TPM2_ALG_ECC, TPM2_ALG_ECC, TPM2_ALG_ECDSA);
}

/* Runs @script with sh -e in @dir against @swtpm; fails the test on error. */
static void
tools_run(KlTestDir *dir, KlTestSwtpm *swtpm, const gchar *script)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(
		G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
	g_autoptr(GSubprocess) proc = NULL;
	g_autofree gchar *output = NULL;

	g_subprocess_launcher_set_cwd(launcher, kl_test_dir_get_path(dir));
	g_subprocess_launcher_setenv(launcher,
				     "TPM2TOOLS_TCTI",
				     kl_test_swtpm_get_tcti(swtpm),
				     TRUE);
	proc = g_subprocess_launcher_spawn(launcher, &error, "sh", "-ec", script, NULL);
	g_assert_no_error(error);
	g_subprocess_communicate_utf8(proc, NULL, NULL, &output, NULL, &error);
	g_assert_no_error(error);
	if (!g_subprocess_get_successful(proc))
		g_error("tpm2-tools script failed:\n%s\n%s", script, output);
}

static GBytes *
read_file(KlTestDir *dir, const gchar *name)
{
	g_autofree gchar *path = kl_test_dir_build(dir, name, NULL);
	g_autoptr(GError) error = NULL;
	gchar *contents = NULL;
	gsize len = 0;

	g_file_get_contents(path, &contents, &len, &error);
	g_assert_no_error(error);
	return g_bytes_new_take(contents, len);
}

/*
 * With the RSA EK every use needs a fresh PolicySecret(endorsement)
 * session; the ECC EK takes the (empty) password.
 */
static void
check_tools(TPM2_ALG_ID ek_type)
{
	const gchar *handle = ek_type == TPM2_ALG_RSA ? "0x81010001" : "0x81010016";
	const gchar *session = ek_type == TPM2_ALG_RSA
				       ? "tpm2_startauthsession --policy-session -S s.ctx\n"
					 "tpm2_policysecret -S s.ctx -c e >/dev/null\n"
				       : "";
	const gchar *auth = ek_type == TPM2_ALG_RSA ? "-P session:s.ctx" : "";
	const gchar *flush = ek_type == TPM2_ALG_RSA ? "tpm2_flushcontext s.ctx\n" : "";
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTestSwtpm) swtpm = kl_test_swtpm_new(&error);
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autoptr(GBytes) ek_blob = NULL;
	g_autoptr(GBytes) name = NULL;
	g_autoptr(GBytes) cred = NULL;
	g_autoptr(GBytes) out = NULL;
	g_autoptr(KlTpmPublic) ek = NULL;
	g_autofree gchar *challenge = NULL;
	g_autofree gchar *create = NULL;
	g_autofree gchar *activate = NULL;
	g_autofree gchar *path = NULL;

	g_assert_no_error(error);
	create = g_strdup_printf(
		"tpm2_readpublic -c %s -o ek.pub >/dev/null\n"
		"%s"
		"tpm2_create -C %s %s -G rsa2048:rsassa-sha256:null "
		"-a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign' "
		"-u ak.pub -r ak.priv >/dev/null\n"
		"%s%s"
		"tpm2_load -C %s %s -u ak.pub -r ak.priv -c ak.ctx -n ak.name >/dev/null\n"
		"%s",
		handle,
		session,
		handle,
		auth,
		flush,
		session,
		handle,
		auth,
		flush);
	tools_run(dir, swtpm, create);

	ek_blob = read_file(dir, "ek.pub");
	ek = kl_tpm_public_new_from_data(g_bytes_get_data(ek_blob, NULL),
					 g_bytes_get_size(ek_blob),
					 &error);
	g_assert_no_error(error);
	g_assert_cmpuint(kl_tpm_public_get_area(ek)->type, ==, ek_type);
	name = read_file(dir, "ak.name");
	challenge = kl_makecredential_challenge_new(&error);
	g_assert_no_error(error);
	cred = kl_makecredential(ek, name, (const guint8 *)challenge, strlen(challenge), &error);
	g_assert_no_error(error);
	path = kl_test_dir_build(dir, "cred.blob", NULL);
	g_file_set_contents(path,
			    g_bytes_get_data(cred, NULL),
			    (gssize)g_bytes_get_size(cred),
			    &error);
	g_assert_no_error(error);

	activate = g_strdup_printf(
		"%s"
		"tpm2_activatecredential -c ak.ctx -C %s -i cred.blob -o out.secret %s "
		">/dev/null\n"
		"%s",
		session,
		handle,
		auth,
		flush);
	tools_run(dir, swtpm, activate);
	out = read_file(dir, "out.secret");
	g_assert_cmpmem(g_bytes_get_data(out, NULL), g_bytes_get_size(out), challenge, 32);
}

static gboolean
skip_without_tools(void)
{
	g_autofree gchar *tool = NULL;

	if (skip_without_swtpm())
		return TRUE;
	tool = g_find_program_in_path("tpm2_activatecredential");
	if (tool != NULL)
		return FALSE;
	g_test_skip("tpm2-tools not installed");
	return TRUE;
}

static void
test_tools_rsa(void)
{
	if (skip_without_tools())
		return;
	check_tools(TPM2_ALG_RSA);
}

static void
test_tools_ecc(void)
{
	if (skip_without_tools())
		return;
	check_tools(TPM2_ALG_ECC);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/tpm/makecredential/rsa-ek", test_rsa_ek);
	g_test_add_func("/tpm/makecredential/ecc-p384-ek", test_ecc_ek);
	g_test_add_func("/tpm/makecredential/tpm2-tools/rsa-ek", test_tools_rsa);
	g_test_add_func("/tpm/makecredential/tpm2-tools/ecc-p384-ek", test_tools_ecc);
	return g_test_run();
}
