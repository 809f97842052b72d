/* Fuzz target: JSON with limits, the checked getters and the envelope. */
#include "config.h"

#include "kl-fuzz.h"
#include "kl-json.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(JsonObject) object = NULL;
	g_autoptr(JsonObject) results = NULL;
	g_autofree gchar *status = NULL;
	const gchar *const members[] = {"code", "status", "results", "agent_id", "port", "algs"};
	guint code;

	kl_json_envelope_parse((const gchar *)data, size, 65536, &code, &status, &results, NULL);
	object = kl_json_parse_object((const gchar *)data, size, 65536, 16, NULL);
	if (object == NULL)
		return 0;
	for (guint i = 0; i < G_N_ELEMENTS(members); i++) {
		const gchar *text;
		gint64 number;
		gdouble real;
		gboolean flag;
		JsonObject *inner;
		JsonArray *array;
		g_auto(GStrv) strings = NULL;
		kl_json_object_get_string(object, members[i], &text, NULL);
		kl_json_object_get_optional_string(object, members[i], &text, NULL);
		kl_json_object_get_int(object, members[i], 0, 65535, &number, NULL);
		kl_json_object_get_double(object, members[i], &real, NULL);
		kl_json_object_get_boolean(object, members[i], &flag, NULL);
		kl_json_object_get_object(object, members[i], &inner, NULL);
		kl_json_object_get_array(object, members[i], &array, NULL);
		kl_json_object_get_string_array(object, members[i], &strings, NULL);
	}
	return 0;
}
