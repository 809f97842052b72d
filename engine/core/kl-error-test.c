#include "config.h"

#include "kl-config.h"
#include "kl-error.h"

static void
test_error_http_status(void)
{
	g_autoptr(GError) invalid = g_error_new_literal(KL_ERROR, KL_ERROR_INVALID_ARGUMENT, "x");
	g_autoptr(GError) missing = g_error_new_literal(KL_ERROR, KL_ERROR_NOT_FOUND, "x");
	g_autoptr(GError) denied = g_error_new_literal(KL_ERROR, KL_ERROR_PERMISSION_DENIED, "x");
	g_autoptr(GError) foreign = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "x");

	g_assert_cmpuint(kl_error_to_http_status(NULL), ==, 200);
	g_assert_cmpuint(kl_error_to_http_status(invalid), ==, 400);
	g_assert_cmpuint(kl_error_to_http_status(missing), ==, 404);
	g_assert_cmpuint(kl_error_to_http_status(denied), ==, 403);
	/* Unconverted foreign errors are the server's fault. */
	g_assert_cmpuint(kl_error_to_http_status(foreign), ==, 500);
}

static void
test_error_convert(void)
{
	g_autoptr(GError) io = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "slow");
	g_autoptr(GError) config =
		g_error_new_literal(KL_CONFIG_ERROR, KL_CONFIG_ERROR_PARSE, "bad");
	g_autoptr(GError) unknown =
		g_error_new_literal(g_quark_from_static_string("other-quark"), 3, "?");
	GError *none = NULL;

	kl_error_convert(&io);
	g_assert_error(io, KL_ERROR, KL_ERROR_TIMED_OUT);
	g_assert_cmpstr(io->message, ==, "slow");
	kl_error_convert(&config);
	g_assert_error(config, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	kl_error_convert(&unknown);
	g_assert_error(unknown, KL_ERROR, KL_ERROR_INTERNAL);
	kl_error_convert(&none);
	g_assert_null(none);
	kl_error_convert(NULL);
}

/* KL_ERROR travels over D-Bus under registered names and comes back. */
static void
test_error_dbus(void)
{
	g_autoptr(GError) error = g_error_new_literal(KL_ERROR, KL_ERROR_CONFLICT, "exists");
	g_autofree gchar *name = g_dbus_error_encode_gerror(error);
	g_autoptr(GError) decoded = g_dbus_error_new_for_dbus_error(name, "exists");

	g_assert_cmpstr(name, ==, "org.keylime.Error.Conflict");
	g_assert_cmpstr(kl_error_to_dbus_name(KL_ERROR_NOT_FOUND),
			==,
			"org.keylime.Error.NotFound");
	g_assert_error(decoded, KL_ERROR, KL_ERROR_CONFLICT);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/error/http-status", test_error_http_status);
	g_test_add_func("/error/convert", test_error_convert);
	g_test_add_func("/error/dbus", test_error_dbus);
	return g_test_run();
}
