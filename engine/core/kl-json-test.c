#include "config.h"

#include "kl-error.h"
#include "kl-json.h"

static JsonObject *
parse(const gchar *text, GError **error)
{
	return kl_json_parse_object(text,
				    strlen(text),
				    KL_JSON_DEFAULT_MAX_SIZE,
				    KL_JSON_DEFAULT_MAX_DEPTH,
				    error);
}

static void
test_json_getters(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) object =
		parse("{\"agent_id\": \"a1\", \"port\": 9002, \"ok\": true,"
		      " \"ratio\": 0.5, \"whole\": 3, \"none\": null,"
		      " \"algs\": [\"sha256\", \"sha1\"], \"meta\": {\"k\": 1}}",
		      &error);
	const gchar *text = NULL;
	gint64 number = 0;
	gdouble real = 0;
	gboolean flag = FALSE;
	JsonObject *meta = NULL;
	g_auto(GStrv) algs = NULL;

	g_assert_no_error(error);
	g_assert_true(kl_json_object_get_string(object, "agent_id", &text, &error));
	g_assert_cmpstr(text, ==, "a1");
	g_assert_true(kl_json_object_get_int(object, "port", 1, 65535, &number, &error));
	g_assert_cmpint(number, ==, 9002);
	g_assert_true(kl_json_object_get_boolean(object, "ok", &flag, &error));
	g_assert_true(flag);
	g_assert_true(kl_json_object_get_double(object, "ratio", &real, &error));
	g_assert_cmpfloat(real, ==, 0.5);
	g_assert_true(kl_json_object_get_double(object, "whole", &real, &error));
	g_assert_cmpfloat(real, ==, 3.0);
	g_assert_true(kl_json_object_get_optional_string(object, "none", &text, &error));
	g_assert_null(text);
	g_assert_true(kl_json_object_get_optional_string(object, "absent", &text, &error));
	g_assert_null(text);
	g_assert_true(kl_json_object_get_string_array(object, "algs", &algs, &error));
	g_assert_cmpuint(g_strv_length(algs), ==, 2);
	g_assert_cmpstr(algs[1], ==, "sha1");
	g_assert_true(kl_json_object_get_object(object, "meta", &meta, &error));
	g_assert_true(json_object_has_member(meta, "k"));
	g_assert_no_error(error);
}

/* Wrong types are errors that name the member, never warnings or zeros. */
static void
test_json_wrong_types(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) object =
		parse("{\"s\": 1, \"n\": \"9002\", \"b\": \"true\", \"o\": [], \"a\": {},"
		      " \"f\": 1.5, \"big\": 70000, \"mixed\": [\"x\", 2], \"on\": 5}",
		      &error);
	const gchar *text = NULL;
	gint64 number = 0;
	gboolean flag = FALSE;
	JsonObject *inner = NULL;
	JsonArray *array = NULL;
	g_auto(GStrv) strings = NULL;

	g_assert_no_error(error);
	g_assert_false(kl_json_object_get_string(object, "s", &text, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_assert_cmpstr(error->message, ==, "member 's': expected a string, got a number");
	g_clear_error(&error);
	g_assert_false(kl_json_object_get_int(object, "n", 0, 65535, &number, &error));
	g_assert_cmpstr(error->message, ==, "member 'n': expected an integer, got a string");
	g_clear_error(&error);
	g_assert_false(kl_json_object_get_int(object, "f", 0, 65535, &number, &error));
	g_assert_cmpstr(error->message, ==, "member 'f': expected an integer, got a number");
	g_clear_error(&error);
	g_assert_false(kl_json_object_get_int(object, "big", 1, 65535, &number, &error));
	g_assert_cmpstr(error->message, ==, "member 'big': 70000 is outside 1..65535");
	g_clear_error(&error);
	g_assert_false(kl_json_object_get_boolean(object, "b", &flag, &error));
	g_assert_cmpstr(error->message, ==, "member 'b': expected a boolean, got a string");
	g_clear_error(&error);
	g_assert_false(kl_json_object_get_object(object, "o", &inner, &error));
	g_assert_cmpstr(error->message, ==, "member 'o': expected an object, got an array");
	g_clear_error(&error);
	g_assert_false(kl_json_object_get_array(object, "a", &array, &error));
	g_assert_cmpstr(error->message, ==, "member 'a': expected an array, got an object");
	g_clear_error(&error);
	g_assert_false(kl_json_object_get_string_array(object, "mixed", &strings, &error));
	g_assert_cmpstr(error->message, ==, "member 'mixed'[1]: expected a string, got a number");
	g_assert_null(strings);
	g_clear_error(&error);
	g_assert_false(kl_json_object_get_optional_string(object, "on", &text, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_false(kl_json_object_get_string(object, "missing", &text, &error));
	g_assert_cmpstr(error->message, ==, "member 'missing' is missing");
}

static void
test_json_hostile(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GString) deep = g_string_new(NULL);
	g_autoptr(GString) huge = g_string_new("{\"a\": \"");
	g_autoptr(GString) brackets_in_string = g_string_new("{\"a\": \"");
	g_autoptr(JsonNode) node = NULL;
	g_autoptr(JsonObject) object = NULL;
	const gchar with_nul[] = "{\"a\": 1}\0";

	/* A million brackets would overflow json-glib's recursive parser. */
	for (guint i = 0; i < 1000000; i++)
		g_string_append_c(deep, '[');
	node = kl_json_parse(deep->str, deep->len, 2 * 1024 * 1024, 32, &error);
	g_assert_null(node);
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_assert_cmpstr(error->message, ==, "JSON nested deeper than 32 levels");
	g_clear_error(&error);

	/* Brackets inside strings are not nesting. */
	for (guint i = 0; i < 1000; i++)
		g_string_append(brackets_in_string, "[{\\\"");
	g_string_append(brackets_in_string, "\"}");
	object = parse(brackets_in_string->str, &error);
	g_assert_no_error(error);
	g_assert_nonnull(object);

	/* A string over the size limit is refused before parsing. */
	for (guint i = 0; i < 2 * 1024 * 1024; i++)
		g_string_append_c(huge, 'x');
	g_string_append(huge, "\"}");
	node = kl_json_parse(huge->str, huge->len, KL_JSON_DEFAULT_MAX_SIZE, 32, &error);
	g_assert_null(node);
	g_assert_error(error, KL_ERROR, KL_ERROR_TOO_LARGE);
	g_clear_error(&error);

	node = kl_json_parse(with_nul, sizeof(with_nul) - 1, 100, 32, &error);
	g_assert_null(node);
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);

	node = kl_json_parse("", 0, 100, 32, &error);
	g_assert_null(node);
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);

	node = kl_json_parse("{\"a\": ", 6, 100, 32, &error);
	g_assert_null(node);
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_assert_true(g_str_has_prefix(error->message, "invalid JSON: "));
	g_clear_error(&error);

	g_assert_null(parse("[1, 2]", &error));
	g_assert_cmpstr(error->message, ==, "JSON document is not an object");
}

static void
test_json_envelope(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) results = json_from_string("{\"uuids\": [\"a\"]}", NULL);
	g_autofree gchar *text = kl_json_envelope_new(200, "Success", results);
	g_autofree gchar *empty = kl_json_envelope_new(404, "agent id not found", NULL);
	g_autofree gchar *status = NULL;
	g_autoptr(JsonObject) parsed = NULL;
	g_auto(GStrv) uuids = NULL;
	guint code = 0;
	const gchar *string_code = "{\"code\": \"200\", \"status\": \"\", \"results\": {}}";
	const gchar *no_results = "{\"code\": 200, \"status\": \"\"}";

	g_assert_cmpstr(text,
			==,
			"{\"code\":200,\"status\":\"Success\",\"results\":{\"uuids\":[\"a\"]}}");
	g_assert_cmpstr(empty,
			==,
			"{\"code\":404,\"status\":\"agent id not found\",\"results\":{}}");
	g_assert_true(
		kl_json_envelope_parse(text, strlen(text), 1024, &code, &status, &parsed, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(code, ==, 200);
	g_assert_cmpstr(status, ==, "Success");
	g_assert_true(kl_json_object_get_string_array(parsed, "uuids", &uuids, &error));
	g_assert_cmpstr(uuids[0], ==, "a");

	g_assert_false(kl_json_envelope_parse(string_code,
					      strlen(string_code),
					      1024,
					      NULL,
					      NULL,
					      NULL,
					      &error));
	g_assert_cmpstr(error->message, ==, "member 'code': expected an integer, got a string");
	g_clear_error(&error);
	g_assert_false(kl_json_envelope_parse(no_results,
					      strlen(no_results),
					      1024,
					      NULL,
					      NULL,
					      NULL,
					      &error));
	g_assert_cmpstr(error->message, ==, "member 'results' is missing");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/json/getters", test_json_getters);
	g_test_add_func("/json/wrong-types", test_json_wrong_types);
	g_test_add_func("/json/hostile", test_json_hostile);
	g_test_add_func("/json/envelope", test_json_envelope);
	return g_test_run();
}
