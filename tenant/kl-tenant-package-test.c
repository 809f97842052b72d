/*
 * kl-tenant-package: the --cert payload as upstream's tenant builds it —
 * entries, the RevocationNotifier key for the verifier, the metadata, the
 * agent's certificate kept across enrolments, --include and action_list.
 */
#include "config.h"

#include <string.h>

#include "kl-error.h"
#include "kl-json.h"
#include "kl-tenant-package.h"
#include "kl-test-dir.h"
#include "kl-x509.h"
#include "kl-zip-reader.h"

#define KL_TEST_AGENT_ID "d432fbb3-d2f1-4a97-9ef7-75bd81c00000"

static KlZipReader *
kl_test_reader_new(KlTenantPackage *package)
{
	g_autoptr(GError) error = NULL;
	KlZipLimits limits;
	KlZipReader *reader;

	kl_zip_limits_init_default(&limits);
	reader = kl_zip_reader_new(package->zip, &limits, &error);
	g_assert_no_error(error);
	return reader;
}

static gchar *
kl_test_entry(KlZipReader *reader, const gchar *name)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) data = NULL;
	gint index = kl_zip_reader_lookup(reader, name);

	if (index < 0)
		return NULL;
	data = kl_zip_reader_extract(reader, (guint)index, &error);
	g_assert_no_error(error);
	return g_strndup(g_bytes_get_data(data, NULL), g_bytes_get_size(data));
}

static void
test_package_contents(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *ca_dir = kl_test_dir_build(dir, "ca", NULL);
	g_autofree gchar *include = kl_test_dir_build(dir, "include", NULL);
	g_autofree gchar *sub = g_build_filename(include, "subdir", NULL);
	g_autofree gchar *file = g_build_filename(include, "payload.txt", NULL);
	g_autoptr(KlTenantPackage) package = NULL;
	g_autoptr(KlZipReader) reader = NULL;
	g_autoptr(JsonObject) metadata = NULL;
	g_autoptr(EVP_PKEY) key = NULL;
	g_autoptr(X509) cert = NULL;
	g_autoptr(X509) notifier = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = NULL;
	const gchar *actions[] = {"local_action_a", NULL};
	const gchar *expected[] = {KL_TEST_AGENT_ID "-public.pem",
				   KL_TEST_AGENT_ID "-cert.crt",
				   KL_TEST_AGENT_ID "-private.pem",
				   "cacert.crt",
				   "cacrl.der",
				   "cacrl.pem",
				   "RevocationNotifier-cert.crt",
				   "payload.txt",
				   "action_list"};
	const gchar *subject = NULL;
	gint64 serial = 0;

	g_assert_cmpint(g_mkdir_with_parents(sub, 0700), ==, 0);
	g_assert_true(g_file_set_contents(file, "data", -1, NULL));

	/* no CA yet: it is initialised */
	package = kl_tenant_package_new(ca_dir, KL_TEST_AGENT_ID, include, actions, &error);
	g_assert_no_error(error);
	reader = kl_test_reader_new(package);
	g_assert_cmpuint(kl_zip_reader_get_n_entries(reader), ==, G_N_ELEMENTS(expected));
	for (gsize i = 0; i < G_N_ELEMENTS(expected); i++)
		g_assert_cmpint(kl_zip_reader_lookup(reader, expected[i]), >=, 0);
	g_assert_cmpint(kl_zip_reader_lookup(reader, "subdir"), <, 0);
	text = kl_test_entry(reader, "action_list");
	g_assert_cmpstr(text, ==, "local_action_a");
	g_free(text);
	text = kl_test_entry(reader, "payload.txt");
	g_assert_cmpstr(text, ==, "data");
	g_free(text);

	/* metadata names the agent's certificate */
	metadata =
		kl_json_parse_object(package->metadata, strlen(package->metadata), 4096, 4, &error);
	g_assert_no_error(error);
	g_assert_true(
		kl_json_object_get_int(metadata, "cert_serial", 1, G_MAXINT64, &serial, NULL));
	g_assert_true(kl_json_object_get_string(metadata, "subject", &subject, NULL));
	g_assert_nonnull(strstr(subject, KL_TEST_AGENT_ID));
	text = kl_test_entry(reader, KL_TEST_AGENT_ID "-cert.crt");
	cert = kl_x509_load_pem(text, strlen(text), &error);
	g_assert_no_error(error);
	g_assert_cmpuint(kl_x509_get_serial(cert), ==, (guint64)serial);
	g_free(text);

	/* revocation_key is the notifier certificate's key */
	key = kl_key_load_pem(package->revocation_key, strlen(package->revocation_key), &error);
	g_assert_no_error(error);
	text = kl_test_entry(reader, "RevocationNotifier-cert.crt");
	notifier = kl_x509_load_pem(text, strlen(text), &error);
	g_assert_no_error(error);
	g_assert_true(kl_x509_public_key_equal(notifier, key));
	g_assert_false(kl_x509_public_key_equal(cert, key));
}

/* enrolled again (tenant -c update): the same certificate, no new serial */
static void
test_package_reuses_cert(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *ca_dir = kl_test_dir_build(dir, "ca", NULL);
	g_autoptr(KlTenantPackage) first = NULL;
	g_autoptr(KlTenantPackage) second = NULL;
	g_autoptr(KlTenantPackage) other = NULL;
	g_autoptr(GError) error = NULL;

	first = kl_tenant_package_new(ca_dir, KL_TEST_AGENT_ID, NULL, NULL, &error);
	g_assert_no_error(error);
	second = kl_tenant_package_new(ca_dir, KL_TEST_AGENT_ID, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(first->metadata, ==, second->metadata);
	g_assert_cmpstr(first->revocation_key, ==, second->revocation_key);
	other = kl_tenant_package_new(ca_dir, "another-agent", NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(first->metadata, !=, other->metadata);
	g_assert_cmpstr(first->revocation_key, ==, other->revocation_key);
}

static void
test_package_refused(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *ca_dir = kl_test_dir_build(dir, "ca", NULL);
	g_autofree gchar *include = kl_test_dir_build(dir, "include", NULL);
	g_autofree gchar *file = g_build_filename(include, "action_list", NULL);
	g_autofree gchar *missing = kl_test_dir_build(dir, "missing", NULL);
	g_autoptr(KlTenantPackage) package = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *actions[] = {"local_action_a", NULL};

	/* an id that cannot name files */
	package = kl_tenant_package_new(ca_dir, "../escape", NULL, NULL, &error);
	g_assert_null(package);
	g_assert_nonnull(error);
	g_clear_error(&error);

	/* the include directory must exist */
	package = kl_tenant_package_new(ca_dir, KL_TEST_AGENT_ID, missing, NULL, &error);
	g_assert_null(package);
	g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
	g_clear_error(&error);

	/* an action_list in --include and revocation actions: refused, not merged */
	g_assert_cmpint(g_mkdir_with_parents(include, 0700), ==, 0);
	g_assert_true(g_file_set_contents(file, "local_action_b", -1, NULL));
	package = kl_tenant_package_new(ca_dir, KL_TEST_AGENT_ID, include, actions, &error);
	g_assert_null(package);
	g_assert_nonnull(error);
	g_assert_nonnull(strstr(error->message, "action_list"));
}

static void
got_result(GObject *source, GAsyncResult *result, gpointer user_data)
{
	*(GAsyncResult **)user_data = g_object_ref(result);
}

static GAsyncResult *
wait_result(GAsyncResult **result)
{
	while (*result == NULL)
		g_main_context_iteration(NULL, TRUE);
	return *result;
}

/* The worker-thread form: the same package as the direct call (the
 * certificate made by one is reused by the other), errors passed on. */
static void
test_package_async(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *ca_dir = kl_test_dir_build(dir, "ca", NULL);
	g_autoptr(KlTenantPackage) direct = NULL;
	g_autoptr(KlTenantPackage) threaded = NULL;
	g_autoptr(GAsyncResult) result = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *actions[] = {"local_action_a", NULL};

	kl_tenant_package_new_async(ca_dir,
				    KL_TEST_AGENT_ID,
				    NULL,
				    actions,
				    NULL,
				    got_result,
				    &result);
	threaded = kl_tenant_package_new_finish(wait_result(&result), &error);
	g_assert_no_error(error);
	g_assert_nonnull(threaded);
	g_assert_cmpuint(g_bytes_get_size(threaded->zip), >, 0);
	direct = kl_tenant_package_new(ca_dir, KL_TEST_AGENT_ID, NULL, actions, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(threaded->metadata, ==, direct->metadata);
	g_assert_cmpstr(threaded->revocation_key, ==, direct->revocation_key);
	g_clear_object(&result);

	kl_tenant_package_new_async(ca_dir, "../escape", NULL, NULL, NULL, got_result, &result);
	g_assert_null(kl_tenant_package_new_finish(wait_result(&result), &error));
	g_assert_nonnull(error);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/tenant-package/contents", test_package_contents);
	g_test_add_func("/tenant-package/reuses-cert", test_package_reuses_cert);
	g_test_add_func("/tenant-package/refused", test_package_refused);
	g_test_add_func("/tenant-package/async", test_package_async);
	return g_test_run();
}
