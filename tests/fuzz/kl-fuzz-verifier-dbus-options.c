/* Fuzz target: AddAgent's a{sv} (any bytes as a serialized a{sv}, as
 * GDBus would hand them over after its own checks) into the enrolment
 * JSON body. */
#include "config.h"

#include "kl-error.h"
#include "kl-fuzz.h"
#include "kl-verifier-dbus-options.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GBytes) bytes = g_bytes_new(data, size);
	g_autoptr(GVariant) serialized =
		g_variant_new_from_bytes(G_VARIANT_TYPE("a{sv}"), bytes, FALSE);
	g_autoptr(GVariant) options = g_variant_get_normal_form(serialized);
	g_autoptr(JsonObject) body = NULL;
	g_autoptr(GError) error = NULL;

	body = kl_verifier_dbus_options_to_body(options, &error);
	if (body == NULL) {
		g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
		g_assert_true(g_str_has_prefix(error->message, "option "));
		return 0;
	}
	g_assert_no_error(error);
	/* every key arrives, once (the last one wins, as in JSON) */
	g_assert_cmpuint(json_object_get_size(body), <=, g_variant_n_children(options));
	g_assert_cmpuint(json_object_get_size(body) == 0, ==, g_variant_n_children(options) == 0);
	return 0;
}
