/* kl-base64: what strict decoding accepts and refuses. */
#include "config.h"

#include <string.h>

#include "kl-base64.h"
#include "kl-error.h"

static void
assert_decodes(const gchar *text, KlBase64Flags flags, const gchar *expected)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) bytes = kl_base64_decode(text, -1, flags, &error);
	gsize len = 0;
	const gchar *data;

	g_assert_no_error(error);
	g_assert_nonnull(bytes);
	data = g_bytes_get_data(bytes, &len);
	g_assert_cmpmem(data, len, expected, strlen(expected));
}

static void
assert_refused(const gchar *text, KlBase64Flags flags, const gchar *message)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) bytes = kl_base64_decode(text, -1, flags, &error);

	g_assert_null(bytes);
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, message));
}

static void
test_base64_valid(void)
{
	assert_decodes("", KL_BASE64_FLAG_NONE, "");
	assert_decodes("aGVsbG8=", KL_BASE64_FLAG_NONE, "hello");
	assert_decodes("aGk=", KL_BASE64_FLAG_NONE, "hi");
	assert_decodes("aGVsbG8h", KL_BASE64_FLAG_NONE, "hello!");
	assert_decodes("aGVs\nbG8=\n", KL_BASE64_FLAG_ALLOW_SPACE, "hello");
	/* 0xfb 0xff as standard "+/8=" and URL-safe "-_8=" */
	assert_decodes("-_8=", KL_BASE64_FLAG_URL_SAFE, "\xfb\xff");
	assert_decodes("+/8=", KL_BASE64_FLAG_NONE, "\xfb\xff");
}

static void
test_base64_invalid(void)
{
	/* g_base64_decode() would skip these and return something shorter */
	assert_refused("aGVs*bG8=", KL_BASE64_FLAG_NONE, "character at offset 4");
	assert_refused("aGVs bG8=", KL_BASE64_FLAG_NONE, "character at offset 4");
	assert_refused("aGVsbG8", KL_BASE64_FLAG_NONE, "length 7");
	assert_refused("aG=sbG8=", KL_BASE64_FLAG_NONE, "character at offset 3");
	assert_refused("aGVsb===", KL_BASE64_FLAG_NONE, "length");
	assert_refused("-_8=", KL_BASE64_FLAG_NONE, "character at offset 0");
	assert_refused("+/8=", KL_BASE64_FLAG_URL_SAFE, "character at offset 0");
	assert_refused("aGk=\n", KL_BASE64_FLAG_NONE, "character at offset 4");
}

static void
test_base64_length_argument(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) bytes = kl_base64_decode("aGk=:rest", 4, KL_BASE64_FLAG_NONE, &error);

	g_assert_no_error(error);
	g_assert_cmpmem(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes), "hi", 2);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/base64/valid", test_base64_valid);
	g_test_add_func("/base64/invalid", test_base64_invalid);
	g_test_add_func("/base64/length-argument", test_base64_length_argument);
	return g_test_run();
}
