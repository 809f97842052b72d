#include "config.h"

#include "kl-error.h"
#include "kl-secret.h"

static void
test_secret_basics(void)
{
	const guint8 bytes[] = {1, 2, 3, 4};
	g_autoptr(KlSecret) a = kl_secret_new(bytes, sizeof(bytes));
	g_autoptr(KlSecret) b = kl_secret_new(bytes, sizeof(bytes));
	g_autoptr(KlSecret) c = kl_secret_new(bytes, 3);
	g_autoptr(KlSecret) empty = kl_secret_new(NULL, 0);
	gsize size = 0;

	g_assert_cmpmem(kl_secret_get_data(a, &size), size, bytes, sizeof(bytes));
	g_assert_true(kl_secret_equal(a, b));
	g_assert_false(kl_secret_equal(a, c));
	g_assert_cmpuint(kl_secret_get_size(empty), ==, 0);
}

/* K = U xor V, and V xor U gives K back as upstream's agent tries pairs. */
static void
test_secret_xor(void)
{
	const guint8 u_bytes[] = {0xff, 0x00, 0xaa};
	const guint8 v_bytes[] = {0x0f, 0xf0, 0xaa};
	const guint8 k_bytes[] = {0xf0, 0xf0, 0x00};
	g_autoptr(KlSecret) u = kl_secret_new(u_bytes, 3);
	g_autoptr(KlSecret) v = kl_secret_new(v_bytes, 3);
	g_autoptr(KlSecret) k_expected = kl_secret_new(k_bytes, 3);
	g_autoptr(KlSecret) short_v = kl_secret_new(v_bytes, 2);
	g_autoptr(KlSecret) k = NULL;
	g_autoptr(KlSecret) bad = NULL;
	g_autoptr(GError) error = NULL;

	k = kl_secret_xor(u, v, &error);
	g_assert_no_error(error);
	g_assert_true(kl_secret_equal(k, k_expected));
	bad = kl_secret_xor(u, short_v, &error);
	g_assert_null(bad);
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
}

/* A secret in a GValue never prints its bytes. */
static void
test_secret_redacted(void)
{
	const guint8 bytes[] = {'s', 'e', 'c', 'r', 'e', 't'};
	g_autoptr(KlSecret) secret = kl_secret_new(bytes, sizeof(bytes));
	g_auto(GValue) value = G_VALUE_INIT;
	g_auto(GValue) text = G_VALUE_INIT;
	g_autofree gchar *contents = NULL;

	g_value_init(&value, KL_TYPE_SECRET);
	g_value_set_boxed(&value, secret);
	g_value_init(&text, G_TYPE_STRING);
	g_assert_true(g_value_transform(&value, &text));
	g_assert_cmpstr(g_value_get_string(&text), ==, "<redacted>");
	contents = g_strdup_value_contents(&value);
	g_assert_null(strstr(contents, "secret"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/secret/basics", test_secret_basics);
	g_test_add_func("/secret/xor", test_secret_xor);
	g_test_add_func("/secret/redacted", test_secret_redacted);
	return g_test_run();
}
