/*
 * kl-zip-writer tests: archives are checked by independent readers
 * (Info-ZIP unzip and Python's zipfile), hostile names are refused.
 */
#include "config.h"

#include "kl-error.h"
#include "kl-test-dir.h"
#include "kl-zip-writer.h"

static void
kl_zip_writer_crc32_test(void)
{
	/* the check value of CRC-32/ISO-HDLC */
	g_assert_cmphex(kl_zip_crc32(0, (const guint8 *)"123456789", 9), ==, 0xcbf43926);
	g_assert_cmphex(kl_zip_crc32(0, NULL, 0), ==, 0);
	/* incremental equals one-shot */
	g_assert_cmphex(kl_zip_crc32(kl_zip_crc32(0, (const guint8 *)"1234", 4),
				     (const guint8 *)"56789",
				     5),
			==,
			0xcbf43926);
}

static gchar *
kl_zip_writer_test_write(KlTestDir *dir)
{
	g_autoptr(KlZipWriter) zip = kl_zip_writer_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) text = g_bytes_new_static("hello, zip\n", 11);
	g_autoptr(GBytes) empty = g_bytes_new_static("", 0);
	g_autoptr(GBytes) binary = NULL;
	g_autoptr(GBytes) archive = NULL;
	guint8 raw[1000];

	for (guint i = 0; i < sizeof(raw); i++)
		raw[i] = (guint8)(i * 7);
	binary = g_bytes_new(raw, sizeof(raw));

	g_assert_true(kl_zip_writer_add(zip, "a.txt", text, 0644, &error));
	g_assert_no_error(error);
	g_assert_true(kl_zip_writer_add(zip, "key-private.pem", binary, 0600, &error));
	g_assert_no_error(error);
	g_assert_true(kl_zip_writer_add(zip, "sub/empty", empty, 0644, &error));
	g_assert_no_error(error);
	archive = kl_zip_writer_finish(zip, &error);
	g_assert_no_error(error);
	g_assert_nonnull(archive);

	/* finishing twice or adding afterwards is refused */
	g_assert_null(kl_zip_writer_finish(zip, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_INTERNAL);
	g_clear_error(&error);
	g_assert_false(kl_zip_writer_add(zip, "late", text, 0644, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_INTERNAL);

	return kl_test_dir_write(dir,
				 "test.zip",
				 g_bytes_get_data(archive, NULL),
				 (gssize)g_bytes_get_size(archive));
}

static gboolean
kl_zip_writer_test_have(const gchar *program)
{
	g_autofree gchar *path = g_find_program_in_path(program);
	return path != NULL;
}

static gchar *
kl_zip_writer_test_run(const gchar *const *argv, gint *status)
{
	g_autoptr(GError) error = NULL;
	gchar *out = NULL;

	g_spawn_sync(NULL,
		     (gchar **)argv,
		     NULL,
		     G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
		     NULL,
		     NULL,
		     &out,
		     NULL,
		     status,
		     &error);
	g_assert_no_error(error);
	return out;
}

static void
kl_zip_writer_unzip_test(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_zip_writer_test_write(dir);
	g_autofree gchar *test_out = NULL;
	g_autofree gchar *text_out = NULL;
	g_autofree gchar *empty_out = NULL;
	gint status = -1;

	if (!kl_zip_writer_test_have("unzip")) {
		g_test_skip("unzip not installed");
		return;
	}
	{
		const gchar *argv[] = {"unzip", "-t", path, NULL};
		test_out = kl_zip_writer_test_run(argv, &status);
		g_assert_true(g_spawn_check_wait_status(status, NULL));
		g_assert_nonnull(strstr(test_out, "No errors detected"));
	}
	{
		const gchar *argv[] = {"unzip", "-p", path, "a.txt", NULL};
		text_out = kl_zip_writer_test_run(argv, &status);
		g_assert_true(g_spawn_check_wait_status(status, NULL));
		g_assert_cmpstr(text_out, ==, "hello, zip\n");
	}
	{
		const gchar *argv[] = {"unzip", "-p", path, "sub/empty", NULL};
		empty_out = kl_zip_writer_test_run(argv, &status);
		g_assert_true(g_spawn_check_wait_status(status, NULL));
		g_assert_cmpstr(empty_out, ==, "");
	}
}

/* Python's zipfile is strict about the central directory and exposes the
 * Unix mode and compression method of each entry. */
static void
kl_zip_writer_python_test(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_zip_writer_test_write(dir);
	g_autofree gchar *out = NULL;
	const gchar *script =
		"import sys, zipfile\n"
		"z = zipfile.ZipFile(sys.argv[1])\n"
		"assert z.testzip() is None\n"
		"for i in z.infolist():\n"
		"    print(i.filename, oct(i.external_attr >> 16), i.compress_type, i.file_size)\n"
		"d = z.read('key-private.pem')\n"
		"assert d == bytes((i * 7) & 0xff for i in range(1000))\n"
		"assert z.read('a.txt') == b'hello, zip\\n'\n";
	const gchar *argv[] = {"python3", "-c", script, path, NULL};
	gint status = -1;

	if (!kl_zip_writer_test_have("python3")) {
		g_test_skip("python3 not installed");
		return;
	}
	out = kl_zip_writer_test_run(argv, &status);
	g_assert_true(g_spawn_check_wait_status(status, NULL));
	g_assert_cmpstr(out,
			==,
			"a.txt 0o100644 0 11\n"
			"key-private.pem 0o100600 0 1000\n"
			"sub/empty 0o100644 0 0\n");
}

static void
kl_zip_writer_names_test(void)
{
	g_autoptr(KlZipWriter) zip = kl_zip_writer_new();
	g_autoptr(GBytes) data = g_bytes_new_static("x", 1);
	g_autoptr(GBytes) archive = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *bad[] = {
		"",
		"/etc/passwd",
		"..",
		"../x",
		"a/../../x",
		"a/..",
		"a//b",
		"./a",
		"dir/",
		"a\\..\\b",
		"tab\tname",
		"new\nline",
		"del\x7f",
		"bad-utf8-\xff",
	};

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_assert_false(kl_zip_writer_add(zip, bad[i], data, 0644, &error));
		g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
		g_clear_error(&error);
	}

	/* names that only look suspicious are fine */
	g_assert_true(kl_zip_writer_add(zip, "a..b", data, 0644, &error));
	g_assert_no_error(error);
	g_assert_true(kl_zip_writer_add(zip, "caf\xc3\xa9", data, 0644, &error));
	g_assert_no_error(error);

	/* duplicates */
	g_assert_false(kl_zip_writer_add(zip, "a..b", data, 0644, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_CONFLICT);
	g_clear_error(&error);

	archive = kl_zip_writer_finish(zip, &error);
	g_assert_no_error(error);
	g_assert_nonnull(archive);
}

static void
kl_zip_writer_empty_test(void)
{
	g_autoptr(KlZipWriter) zip = kl_zip_writer_new();
	g_autoptr(GBytes) archive = NULL;
	g_autoptr(GError) error = NULL;
	const guint8 *data;
	gsize size = 0;

	archive = kl_zip_writer_finish(zip, &error);
	g_assert_no_error(error);
	/* just the end-of-central-directory record */
	data = g_bytes_get_data(archive, &size);
	g_assert_cmpuint(size, ==, 22);
	g_assert_cmpmem(data, 4, "PK\x05\x06", 4);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/zip-writer/crc32", kl_zip_writer_crc32_test);
	g_test_add_func("/zip-writer/unzip", kl_zip_writer_unzip_test);
	g_test_add_func("/zip-writer/python", kl_zip_writer_python_test);
	g_test_add_func("/zip-writer/names", kl_zip_writer_names_test);
	g_test_add_func("/zip-writer/empty", kl_zip_writer_empty_test);
	return g_test_run();
}
