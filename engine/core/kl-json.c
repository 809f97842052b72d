/*
 * json-glib parses recursively and has no limits, so every document is
 * measured first: its size, and its nesting depth with a linear scan that
 * knows about strings.  The getters check node and value types, because
 * json-glib's own getters warn and return zero on a type mismatch.
 */
#define G_LOG_DOMAIN "KlCore"

#include "config.h"

#include "kl-error.h"
#include "kl-json.h"

static gboolean
kl_json_check_depth(const gchar *data, gsize length, guint max_depth, GError **error)
{
	gboolean in_string = FALSE;
	gboolean escaped = FALSE;
	guint depth = 0;

	for (gsize i = 0; i < length; i++) {
		gchar c = data[i];
		if (in_string) {
			if (escaped)
				escaped = FALSE;
			else if (c == '\\')
				escaped = TRUE;
			else if (c == '"')
				in_string = FALSE;
			continue;
		}
		if (c == '"') {
			in_string = TRUE;
		} else if (c == '[' || c == '{') {
			if (++depth > max_depth) {
				g_set_error(error,
					    KL_ERROR,
					    KL_ERROR_INVALID_ARGUMENT,
					    "JSON nested deeper than %u levels",
					    max_depth);
				return FALSE;
			}
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return TRUE;
}

JsonNode *
kl_json_parse(const gchar *data, gsize length, gsize max_size, guint max_depth, GError **error)
{
	g_autoptr(JsonParser) parser = NULL;
	g_autoptr(GError) parse_error = NULL;
	JsonNode *root;

	if (length > max_size) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_TOO_LARGE,
			    "JSON document of %" G_GSIZE_FORMAT
			    " bytes exceeds the limit of %" G_GSIZE_FORMAT,
			    length,
			    max_size);
		return NULL;
	}
	if (length == 0) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "empty JSON document");
		return NULL;
	}
	if (memchr(data, '\0', length) != NULL) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "JSON document contains a NUL byte");
		return NULL;
	}
	if (!kl_json_check_depth(data, length, max_depth, error))
		return NULL;

	parser = json_parser_new_immutable();
	if (!json_parser_load_from_data(parser, data, (gssize)length, &parse_error)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "invalid JSON: %s",
			    parse_error->message);
		return NULL;
	}
	root = json_parser_get_root(parser);
	if (root == NULL) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "empty JSON document");
		return NULL;
	}
	return json_node_copy(root);
}

JsonObject *
kl_json_parse_object(const gchar *data,
		     gsize length,
		     gsize max_size,
		     guint max_depth,
		     GError **error)
{
	g_autoptr(JsonNode) root = kl_json_parse(data, length, max_size, max_depth, error);
	if (root == NULL)
		return NULL;
	if (!JSON_NODE_HOLDS_OBJECT(root)) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "JSON document is not an object");
		return NULL;
	}
	return json_object_ref(json_node_get_object(root));
}

static const gchar *
kl_json_describe_node(JsonNode *node)
{
	switch (json_node_get_node_type(node)) {
	case JSON_NODE_OBJECT:
		return "an object";
	case JSON_NODE_ARRAY:
		return "an array";
	case JSON_NODE_NULL:
		return "null";
	case JSON_NODE_VALUE:
		switch (json_node_get_value_type(node)) {
		case G_TYPE_STRING:
			return "a string";
		case G_TYPE_BOOLEAN:
			return "a boolean";
		case G_TYPE_INT64:
		case G_TYPE_DOUBLE:
			return "a number";
		default:
			return "a value";
		}
	default:
		return "something else";
	}
}

static gboolean
kl_json_type_error(JsonNode *node, const gchar *member, const gchar *expected, GError **error)
{
	g_set_error(error,
		    KL_ERROR,
		    KL_ERROR_INVALID_ARGUMENT,
		    "member '%s': expected %s, got %s",
		    member,
		    expected,
		    kl_json_describe_node(node));
	return FALSE;
}

/* The member's node, or an error naming it when it is missing. */
static JsonNode *
kl_json_require_member(JsonObject *object, const gchar *member, GError **error)
{
	JsonNode *node = json_object_get_member(object, member);
	if (node == NULL)
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "member '%s' is missing",
			    member);
	return node;
}

static gboolean
kl_json_node_is_value_of(JsonNode *node, GType type)
{
	return JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == type;
}

gboolean
kl_json_object_get_string(JsonObject *object,
			  const gchar *member,
			  const gchar **value,
			  GError **error)
{
	JsonNode *node = kl_json_require_member(object, member, error);
	if (node == NULL)
		return FALSE;
	if (!kl_json_node_is_value_of(node, G_TYPE_STRING))
		return kl_json_type_error(node, member, "a string", error);
	*value = json_node_get_string(node);
	return TRUE;
}

/* Absent or null gives NULL; any other non-string is an error. */
gboolean
kl_json_object_get_optional_string(JsonObject *object,
				   const gchar *member,
				   const gchar **value,
				   GError **error)
{
	JsonNode *node = json_object_get_member(object, member);
	if (node == NULL || JSON_NODE_HOLDS_NULL(node)) {
		*value = NULL;
		return TRUE;
	}
	return kl_json_object_get_string(object, member, value, error);
}

gboolean
kl_json_object_get_int(JsonObject *object,
		       const gchar *member,
		       gint64 minimum,
		       gint64 maximum,
		       gint64 *value,
		       GError **error)
{
	JsonNode *node = kl_json_require_member(object, member, error);
	gint64 number;

	if (node == NULL)
		return FALSE;
	if (!kl_json_node_is_value_of(node, G_TYPE_INT64))
		return kl_json_type_error(node, member, "an integer", error);
	number = json_node_get_int(node);
	if (number < minimum || number > maximum) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "member '%s': %" G_GINT64_FORMAT " is outside %" G_GINT64_FORMAT
			    "..%" G_GINT64_FORMAT,
			    member,
			    number,
			    minimum,
			    maximum);
		return FALSE;
	}
	*value = number;
	return TRUE;
}

gboolean
kl_json_object_get_double(JsonObject *object, const gchar *member, gdouble *value, GError **error)
{
	JsonNode *node = kl_json_require_member(object, member, error);
	if (node == NULL)
		return FALSE;
	if (kl_json_node_is_value_of(node, G_TYPE_INT64)) {
		*value = (gdouble)json_node_get_int(node);
		return TRUE;
	}
	if (!kl_json_node_is_value_of(node, G_TYPE_DOUBLE))
		return kl_json_type_error(node, member, "a number", error);
	*value = json_node_get_double(node);
	return TRUE;
}

gboolean
kl_json_object_get_boolean(JsonObject *object, const gchar *member, gboolean *value, GError **error)
{
	JsonNode *node = kl_json_require_member(object, member, error);
	if (node == NULL)
		return FALSE;
	if (!kl_json_node_is_value_of(node, G_TYPE_BOOLEAN))
		return kl_json_type_error(node, member, "a boolean", error);
	*value = json_node_get_boolean(node);
	return TRUE;
}

gboolean
kl_json_object_get_object(JsonObject *object,
			  const gchar *member,
			  JsonObject **value,
			  GError **error)
{
	JsonNode *node = kl_json_require_member(object, member, error);
	if (node == NULL)
		return FALSE;
	if (!JSON_NODE_HOLDS_OBJECT(node))
		return kl_json_type_error(node, member, "an object", error);
	*value = json_node_get_object(node);
	return TRUE;
}

gboolean
kl_json_object_get_array(JsonObject *object, const gchar *member, JsonArray **value, GError **error)
{
	JsonNode *node = kl_json_require_member(object, member, error);
	if (node == NULL)
		return FALSE;
	if (!JSON_NODE_HOLDS_ARRAY(node))
		return kl_json_type_error(node, member, "an array", error);
	*value = json_node_get_array(node);
	return TRUE;
}

gboolean
kl_json_object_get_string_array(JsonObject *object,
				const gchar *member,
				gchar ***value,
				GError **error)
{
	JsonArray *array = NULL;
	g_autoptr(GPtrArray) strings = g_ptr_array_new_with_free_func(g_free);

	if (!kl_json_object_get_array(object, member, &array, error))
		return FALSE;
	for (guint i = 0; i < json_array_get_length(array); i++) {
		JsonNode *node = json_array_get_element(array, i);
		if (!kl_json_node_is_value_of(node, G_TYPE_STRING)) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "member '%s'[%u]: expected a string, got %s",
				    member,
				    i,
				    kl_json_describe_node(node));
			return FALSE;
		}
		g_ptr_array_add(strings, g_strdup(json_node_get_string(node)));
	}
	g_ptr_array_add(strings, NULL);
	*value = (gchar **)g_ptr_array_free(g_steal_pointer(&strings), FALSE);
	return TRUE;
}

gchar *
kl_json_node_to_string(JsonNode *node, gboolean pretty)
{
	g_autoptr(JsonGenerator) generator = json_generator_new();
	json_generator_set_pretty(generator, pretty);
	json_generator_set_root(generator, node);
	return json_generator_to_data(generator, NULL);
}

/* Keylime's response body; @results NULL stands for {}. */
gchar *
kl_json_envelope_new(guint code, const gchar *status, JsonNode *results)
{
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
	g_autoptr(JsonNode) root = NULL;

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "code");
	json_builder_add_int_value(builder, code);
	json_builder_set_member_name(builder, "status");
	json_builder_add_string_value(builder, status);
	json_builder_set_member_name(builder, "results");
	if (results != NULL && JSON_NODE_HOLDS_OBJECT(results)) {
		json_builder_add_value(builder, json_node_copy(results));
	} else {
		json_builder_begin_object(builder);
		json_builder_end_object(builder);
	}
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	return kl_json_node_to_string(root, FALSE);
}

gboolean
kl_json_envelope_parse(const gchar *data,
		       gsize length,
		       gsize max_size,
		       guint *code,
		       gchar **status,
		       JsonObject **results,
		       GError **error)
{
	g_autoptr(JsonObject) root = NULL;
	JsonObject *results_object = NULL;
	const gchar *status_text = NULL;
	gint64 code_value = 0;

	root = kl_json_parse_object(data, length, max_size, KL_JSON_DEFAULT_MAX_DEPTH, error);
	if (root == NULL)
		return FALSE;
	if (!kl_json_object_get_int(root, "code", 100, 599, &code_value, error))
		return FALSE;
	if (!kl_json_object_get_string(root, "status", &status_text, error))
		return FALSE;
	if (!kl_json_object_get_object(root, "results", &results_object, error))
		return FALSE;
	if (code != NULL)
		*code = (guint)code_value;
	if (status != NULL)
		*status = g_strdup(status_text);
	if (results != NULL)
		*results = json_object_ref(results_object);
	return TRUE;
}

/* ---- Python's json.dumps() string literals ---- */

void
kl_json_append_python_string(GString *out, const gchar *text)
{
	g_return_if_fail(out != NULL && text != NULL);

	g_string_append_c(out, '"');
	for (const gchar *p = text; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		switch (c) {
		case '"':
			g_string_append(out, "\\\"");
			break;
		case '\\':
			g_string_append(out, "\\\\");
			break;
		case '\n':
			g_string_append(out, "\\n");
			break;
		case '\r':
			g_string_append(out, "\\r");
			break;
		case '\t':
			g_string_append(out, "\\t");
			break;
		case '\b':
			g_string_append(out, "\\b");
			break;
		case '\f':
			g_string_append(out, "\\f");
			break;
		default:
			if (c < 0x20 || (c >= 0x7f && c < 0x10000)) {
				g_string_append_printf(out, "\\u%04x", (guint)c);
			} else if (c >= 0x10000) {
				gunichar v = c - 0x10000;
				g_string_append_printf(out,
						       "\\u%04x\\u%04x",
						       (guint)(0xd800 + (v >> 10)),
						       (guint)(0xdc00 + (v & 0x3ff)));
			} else {
				g_string_append_c(out, (gchar)c);
			}
			break;
		}
	}
	g_string_append_c(out, '"');
}
