/*
 * Hex decoding through kl_crypto_hex_decode(), and fixtures read from the
 * distributed "data" folder (G_TEST_DIST, tests/data), each asserting that
 * nothing went wrong so that a test can use the result directly.
 */
#include "config.h"

#include "kl-crypto.h"
#include "kl-test-data.h"

/* @hex must decode: the bytes, never NULL */
GBytes *
kl_test_hex(const gchar *hex)
{
	g_autoptr(GError) error = NULL;
	GBytes *bytes = kl_crypto_hex_decode(hex, &error);

	g_assert_no_error(error);
	g_assert_nonnull(bytes);
	return bytes;
}

/* The contents of tests/data/@first_element/..., NUL-terminated, with
 * their length in @length if it is not NULL; a missing or unreadable
 * file fails the test. */
gchar *
kl_test_load_data(gsize *length, const gchar *first_element, ...)
{
	g_autoptr(GPtrArray) elements = g_ptr_array_new();
	g_autofree gchar *relative = NULL;
	g_autofree gchar *path = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *element;
	gchar *contents = NULL;
	gboolean ok;
	va_list args;

	g_ptr_array_add(elements, (gpointer) "data");
	va_start(args, first_element);
	for (element = first_element; element != NULL; element = va_arg(args, const gchar *))
		g_ptr_array_add(elements, (gpointer)element);
	va_end(args);
	g_ptr_array_add(elements, NULL);

	relative = g_build_filenamev((gchar **)elements->pdata);
	path = g_test_build_filename(G_TEST_DIST, relative, NULL);
	ok = g_file_get_contents(path, &contents, length, &error);
	g_assert_no_error(error);
	g_assert_true(ok);
	return contents;
}
