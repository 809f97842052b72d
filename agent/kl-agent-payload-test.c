#include "config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "kl-agent-payload.h"
#include "kl-crypto.h"
#include "kl-error.h"
#include "kl-test-dir.h"
#include "kl-test-wait.h"
#include "kl-zip-writer.h"

typedef struct {
	GAsyncResult *result;
} Waiter;

static void
on_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	Waiter *w = user_data;
	w->result = g_object_ref(res);
}

static GBytes *make_zip(const gchar *first_name, ...) G_GNUC_NULL_TERMINATED;

/* name, contents, mode, ... NULL */
static GBytes *
make_zip(const gchar *first_name, ...)
{
	g_autoptr(KlZipWriter) writer = kl_zip_writer_new();
	g_autoptr(GError) error = NULL;
	va_list args;

	va_start(args, first_name);
	for (const gchar *name = first_name; name != NULL; name = va_arg(args, const gchar *)) {
		const gchar *contents = va_arg(args, const gchar *);
		guint mode = va_arg(args, guint);
		g_autoptr(GBytes) bytes = g_bytes_new(contents, strlen(contents));
		g_assert_true(kl_zip_writer_add(writer, name, bytes, mode, &error));
	}
	va_end(args);
	return kl_zip_writer_finish(writer, &error);
}

/* As the tenant does: AES-256-GCM under K, then back through the agent's
 * decryption, so the test runs on what the agent would have. */
static GBytes *
roundtrip_encrypt(KlSecret *k, GBytes *plain)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) enc = kl_crypto_aes_gcm_encrypt(k,
							  g_bytes_get_data(plain, NULL),
							  g_bytes_get_size(plain),
							  &error);
	GBytes *dec;

	g_assert_no_error(error);
	g_assert_cmpuint(g_bytes_get_size(enc), ==, g_bytes_get_size(plain) + 32);
	dec = kl_crypto_aes_gcm_decrypt(k,
					g_bytes_get_data(enc, NULL),
					g_bytes_get_size(enc),
					&error);
	g_assert_no_error(error);
	return dec;
}

static gboolean
run_payload(const gchar *secure,
	    KlSecret *k,
	    GBytes *payload,
	    const KlAgentPayloadOptions *options,
	    gboolean *script_ran,
	    GError **error)
{
	Waiter w = {0};
	gboolean ok;

	kl_agent_payload_run_async(secure, k, payload, options, NULL, on_done, &w);
	g_assert_true(kl_test_wait_for_pointer((gpointer *)&w.result, 30000));
	ok = kl_agent_payload_run_finish(w.result, script_ran, error);
	g_object_unref(w.result);
	return ok;
}

static gchar *
read_in(const gchar *dir, const gchar *name)
{
	g_autofree gchar *path = g_build_filename(dir, name, NULL);
	gchar *contents = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_true(g_file_get_contents(path, &contents, NULL, &error));
	g_assert_no_error(error);
	return contents;
}

static gboolean
exists_in(const gchar *dir, const gchar *name)
{
	g_autofree gchar *path = g_build_filename(dir, name, NULL);
	struct stat st;
	return lstat(path, &st) == 0;
}

static void
test_autorun(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	const gchar *secure = kl_test_dir_get_path(dir);
	g_autofree gchar *unzipped = g_build_filename(secure, "unzipped", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(KlSecret) k = kl_crypto_random_secret(32, &error);
	g_autoptr(GBytes) zip = make_zip("autorun.sh",
					 "#!/bin/sh\necho hello > autorun-output\npwd > cwd\n"
					 "echo to stdout; echo to stderr >&2\n",
					 0644u,
					 "local_action_x",
					 "#!/bin/sh\nexit 0\n",
					 0644u,
					 "action_list",
					 "local_action_x,missing_action\n",
					 0644u,
					 "data/file.txt",
					 "payload data",
					 0644u,
					 NULL);
	g_autoptr(GBytes) payload = roundtrip_encrypt(k, zip);
	KlAgentPayloadOptions options;
	gboolean script_ran = FALSE;
	g_autofree gchar *output = NULL;
	g_autofree gchar *cwd = NULL;
	g_autofree gchar *data = NULL;
	g_autofree gchar *key = NULL;
	g_autofree gchar *dec = NULL;
	gsize key_len = 0;
	struct stat st;

	kl_agent_payload_options_init(&options);
	g_assert_true(run_payload(secure, k, payload, &options, &script_ran, &error));
	g_assert_no_error(error);
	g_assert_true(script_ran);

	output = read_in(unzipped, "autorun-output");
	g_assert_cmpstr(output, ==, "hello\n");
	cwd = read_in(unzipped, "cwd");
	g_strchomp(cwd);
	{
		g_autofree gchar *real = realpath(unzipped, NULL);
		g_assert_cmpstr(cwd, ==, real);
	}
	data = read_in(unzipped, "data/file.txt");
	g_assert_cmpstr(data, ==, "payload data");
	/* K and the decrypted payload, as upstream writes them */
	{
		g_autofree gchar *key_path = g_build_filename(unzipped, "derived_tci_key", NULL);
		g_assert_true(g_file_get_contents(key_path, &key, &key_len, NULL));
		g_assert_cmpmem(key, key_len, kl_secret_get_data(k, NULL), 32);
		g_assert_cmpint(stat(key_path, &st), ==, 0);
		g_assert_cmpuint(st.st_mode & 07777, ==, 0600);
	}
	{
		gsize len = 0;
		g_autofree gchar *path = g_build_filename(unzipped, "decrypted_payload", NULL);
		g_assert_true(g_file_get_contents(path, &dec, &len, NULL));
		g_assert_cmpmem(dec, len, g_bytes_get_data(zip, NULL), g_bytes_get_size(zip));
	}
	/* the listed action became executable, the script too */
	{
		g_autofree gchar *action = g_build_filename(unzipped, "local_action_x", NULL);
		g_autofree gchar *script = g_build_filename(unzipped, "autorun.sh", NULL);
		g_assert_cmpint(stat(action, &st), ==, 0);
		g_assert_cmpuint(st.st_mode & 07777, ==, 0700);
		g_assert_cmpint(stat(script, &st), ==, 0);
		g_assert_cmpuint(st.st_mode & 07777, ==, 0700);
		g_assert_cmpint(stat(unzipped, &st), ==, 0);
		g_assert_cmpuint(st.st_mode & 07777, ==, 0700);
	}

	/* a second payload replaces the first entirely */
	{
		g_autoptr(GBytes) second = make_zip("other.txt", "second", 0600u, NULL);
		g_assert_true(run_payload(secure, k, second, &options, &script_ran, &error));
		g_assert_no_error(error);
		g_assert_false(script_ran);
		g_assert_false(exists_in(unzipped, "autorun-output"));
		g_assert_true(exists_in(unzipped, "other.txt"));
	}
}

static void
test_not_a_zip(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	const gchar *secure = kl_test_dir_get_path(dir);
	g_autofree gchar *unzipped = g_build_filename(secure, "unzipped", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(KlSecret) k = kl_crypto_random_secret(32, &error);
	g_autoptr(GBytes) plain = g_bytes_new_static("just a secret file", 18);
	KlAgentPayloadOptions options;
	gboolean script_ran = TRUE;
	g_autofree gchar *dec = NULL;

	kl_agent_payload_options_init(&options);
	options.extract_payload_zip = FALSE;
	options.dec_payload_file = "my_secret";
	g_assert_true(run_payload(secure, k, plain, &options, &script_ran, &error));
	g_assert_no_error(error);
	g_assert_false(script_ran);
	dec = read_in(unzipped, "my_secret");
	g_assert_cmpstr(dec, ==, "just a secret file");

	/* with extraction on it is an error, as upstream's unzip fails */
	options.extract_payload_zip = TRUE;
	g_assert_false(run_payload(secure, k, plain, &options, &script_ran, &error));
	g_assert_nonnull(error);
	g_clear_error(&error);

	/* file names from the configuration are plain names */
	options.dec_payload_file = "../escape";
	g_assert_false(run_payload(secure, k, plain, &options, &script_ran, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	{
		g_autofree gchar *escape = kl_test_dir_build(dir, "escape", NULL);
		g_assert_false(g_file_test(escape, G_FILE_TEST_EXISTS));
	}
}

static void
test_hostile_zip(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *secure = kl_test_dir_build(dir, "secure", NULL);
	g_autofree gchar *unzipped = g_build_filename(secure, "unzipped", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(KlSecret) k = kl_crypto_random_secret(32, &error);
	g_autoptr(GBytes) dotdot = NULL;
	g_autoptr(GBytes) bomb = NULL;
	KlAgentPayloadOptions options;
	gboolean script_ran = TRUE;
	gsize size = 0;
	g_autofree gchar *path = NULL;
	g_autofree gchar *contents = NULL;

	g_assert_cmpint(g_mkdir(secure, 0700), ==, 0);
	kl_agent_payload_options_init(&options);
	path = g_test_build_filename(G_TEST_DIST, "data", "fuzz", "zip", "dotdot.zip", NULL);
	g_assert_true(g_file_get_contents(path, &contents, &size, NULL));
	dotdot = g_bytes_new(contents, size);
	g_assert_false(run_payload(secure, k, dotdot, &options, &script_ran, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "../escape.txt"));
	g_assert_false(script_ran);
	g_clear_error(&error);
	g_assert_false(exists_in(secure, "escape.txt"));

	g_clear_pointer(&path, g_free);
	g_clear_pointer(&contents, g_free);
	path = g_test_build_filename(G_TEST_DIST, "data", "fuzz", "zip", "bomb.zip", NULL);
	g_assert_true(g_file_get_contents(path, &contents, &size, NULL));
	bomb = g_bytes_new(contents, size);
	g_assert_false(run_payload(secure, k, bomb, &options, &script_ran, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_TOO_LARGE);
	g_clear_error(&error);

	/* a tighter limit from the options */
	{
		g_autoptr(GBytes) big =
			make_zip("big", "0123456789012345678901234567890123456789", 0600u, NULL);
		options.limits.max_total_size = 16;
		g_assert_false(run_payload(secure, k, big, &options, &script_ran, &error));
		g_assert_error(error, KL_ERROR, KL_ERROR_TOO_LARGE);
	}
}

/* an "unzipped" planted as a link to elsewhere: removed, never followed */
static void
test_planted_link(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *secure = kl_test_dir_build(dir, "secure", NULL);
	g_autofree gchar *outside = kl_test_dir_build(dir, "outside", NULL);
	g_autofree gchar *link = g_build_filename(secure, "unzipped", NULL);
	g_autofree gchar *precious = g_build_filename(outside, "precious", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(KlSecret) k = kl_crypto_random_secret(32, &error);
	g_autoptr(GBytes) zip = make_zip("autorun.sh", "#!/bin/sh\ntouch ran\n", 0755u, NULL);
	KlAgentPayloadOptions options;
	gboolean script_ran = FALSE;
	struct stat st;

	g_assert_cmpint(g_mkdir(secure, 0700), ==, 0);
	g_assert_cmpint(g_mkdir(outside, 0700), ==, 0);
	g_assert_true(g_file_set_contents(precious, "keep me", -1, NULL));
	g_assert_cmpint(symlink(outside, link), ==, 0);
	kl_agent_payload_options_init(&options);
	g_assert_true(run_payload(secure, k, zip, &options, &script_ran, &error));
	g_assert_no_error(error);
	g_assert_true(script_ran);
	g_assert_true(g_file_test(precious, G_FILE_TEST_EXISTS));
	g_assert_cmpint(lstat(link, &st), ==, 0);
	g_assert_true(S_ISDIR(st.st_mode));
	g_assert_true(exists_in(link, "ran"));
	g_assert_false(exists_in(outside, "ran"));
}

static void
test_script_fails(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	const gchar *secure = kl_test_dir_get_path(dir);
	g_autoptr(GError) error = NULL;
	g_autoptr(KlSecret) k = kl_crypto_random_secret(32, &error);
	g_autoptr(GBytes) zip =
		make_zip("autorun.sh", "#!/bin/sh\necho failing\nexit 3\n", 0700u, NULL);
	KlAgentPayloadOptions options;
	gboolean script_ran = FALSE;

	kl_agent_payload_options_init(&options);
	g_assert_false(run_payload(secure, k, zip, &options, &script_ran, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_INTERNAL);
	g_assert_nonnull(strstr(error->message, "status 3"));
	g_assert_true(script_ran);
}

static void
test_script_timeout(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	const gchar *secure = kl_test_dir_get_path(dir);
	g_autoptr(GError) error = NULL;
	g_autoptr(KlSecret) k = kl_crypto_random_secret(32, &error);
	/* the background sleep keeps the pipe open: the whole group must die */
	g_autoptr(GBytes) zip =
		make_zip("autorun.sh", "#!/bin/sh\nsleep 60 &\nsleep 60\n", 0700u, NULL);
	KlAgentPayloadOptions options;
	gboolean script_ran = FALSE;
	gint64 start = g_get_monotonic_time();

	kl_agent_payload_options_init(&options);
	options.timeout_seconds = 1;
	g_assert_false(run_payload(secure, k, zip, &options, &script_ran, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_TIMED_OUT);
	g_assert_cmpint(g_get_monotonic_time() - start, <, 20 * G_USEC_PER_SEC);
}

static void
test_command(void)
{
	Waiter w = {0};
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) output = NULL;
	const gchar *argv[] = {"sh",
			       "-c",
			       "printf out; printf err >&2; head -c 100000 /dev/zero | tr '\\0' x",
			       NULL};
	const gchar *missing[] = {"/nonexistent/command", NULL};

	kl_agent_command_run_async(argv, NULL, NULL, 10, NULL, on_done, &w);
	g_assert_true(kl_test_wait_for_pointer((gpointer *)&w.result, 30000));
	g_assert_true(kl_agent_command_run_finish(w.result, &output, &error));
	g_assert_no_error(error);
	g_clear_object(&w.result);
	/* capped, and stderr merged */
	g_assert_cmpuint(g_bytes_get_size(output), ==, KL_AGENT_COMMAND_MAX_OUTPUT);
	g_assert_nonnull(g_strstr_len(g_bytes_get_data(output, NULL), 10, "outerr"));

	kl_agent_command_run_async(missing, NULL, NULL, 10, NULL, on_done, &w);
	g_assert_true(kl_test_wait_for_pointer((gpointer *)&w.result, 30000));
	g_assert_false(kl_agent_command_run_finish(w.result, NULL, &error));
	g_assert_nonnull(error);
	g_clear_object(&w.result);
}

static void
test_file_names(void)
{
	const gchar *bad[] = {"", ".", "..", "a/b", "/abs", "tab\t", "back\\slash"};
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++)
		g_assert_false(kl_agent_file_name_is_valid(bad[i], NULL));
	g_assert_true(kl_agent_file_name_is_valid("autorun.sh", NULL));
	g_assert_true(kl_agent_file_name_is_valid("..hidden", NULL));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/agent-payload/autorun", test_autorun);
	g_test_add_func("/agent-payload/not-a-zip", test_not_a_zip);
	g_test_add_func("/agent-payload/hostile-zip", test_hostile_zip);
	g_test_add_func("/agent-payload/planted-link", test_planted_link);
	g_test_add_func("/agent-payload/script-fails", test_script_fails);
	g_test_add_func("/agent-payload/script-timeout", test_script_timeout);
	g_test_add_func("/agent-payload/command", test_command);
	g_test_add_func("/agent-payload/file-names", test_file_names);
	return g_test_run();
}
