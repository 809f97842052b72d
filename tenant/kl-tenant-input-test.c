#include "config.h"

#include "kl-error.h"
#include "kl-tenant-input.h"
#include "kl-test-dir.h"

static void
test_input_whole_file(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_test_dir_write(dir, "in.txt", "abc\0def", 7);
	g_autoptr(GError) error = NULL;
	gsize length = 0;
	g_autofree gchar *data = kl_tenant_read_input(path, 7, &length, &error);

	g_assert_no_error(error);
	g_assert_cmpuint(length, ==, 7);
	g_assert_cmpmem(data, length, "abc\0def", 7);
	/* one NUL past the end, so text can be used as a string */
	g_assert_cmpint(data[7], ==, '\0');
}

static void
test_input_limit_and_errors(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *big = g_strnfill(200000, 'x');
	g_autofree gchar *path = kl_test_dir_write(dir, "big.txt", big, -1);
	g_autofree gchar *missing = kl_test_dir_build(dir, "missing", NULL);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *data = kl_tenant_read_input(path, 199999, NULL, &error);
	g_autofree gchar *none = NULL;

	g_assert_null(data);
	g_assert_error(error, KL_ERROR, KL_ERROR_TOO_LARGE);
	g_clear_error(&error);
	none = kl_tenant_read_input(missing, 100, NULL, &error);
	g_assert_null(none);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, "missing"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/tenant-input/whole-file", test_input_whole_file);
	g_test_add_func("/tenant-input/limit-and-errors", test_input_limit_and_errors);
	return g_test_run();
}
