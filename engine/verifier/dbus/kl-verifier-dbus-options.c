/*
 * AddAgent's options, converted member by member (no
 * json_gvariant_serialize(): it takes any type, and the engine's errors
 * should name upstream's keys, not GVariant types).
 */
#include "config.h"

#include "kl-error.h"
#include "kl-verifier-dbus-options.h"

static JsonNode *
kl_verifier_dbus_option_to_json(const gchar *key, GVariant *value, GError **error)
{
	JsonNode *node = NULL;

	if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING)) {
		node = json_node_init_string(json_node_alloc(), g_variant_get_string(value, NULL));
	} else if (g_variant_is_of_type(value, G_VARIANT_TYPE_BOOLEAN)) {
		node = json_node_init_boolean(json_node_alloc(), g_variant_get_boolean(value));
	} else if (g_variant_is_of_type(value, G_VARIANT_TYPE_BYTE)) {
		node = json_node_init_int(json_node_alloc(), g_variant_get_byte(value));
	} else if (g_variant_is_of_type(value, G_VARIANT_TYPE_INT16)) {
		node = json_node_init_int(json_node_alloc(), g_variant_get_int16(value));
	} else if (g_variant_is_of_type(value, G_VARIANT_TYPE_UINT16)) {
		node = json_node_init_int(json_node_alloc(), g_variant_get_uint16(value));
	} else if (g_variant_is_of_type(value, G_VARIANT_TYPE_INT32)) {
		node = json_node_init_int(json_node_alloc(), g_variant_get_int32(value));
	} else if (g_variant_is_of_type(value, G_VARIANT_TYPE_UINT32)) {
		node = json_node_init_int(json_node_alloc(), g_variant_get_uint32(value));
	} else if (g_variant_is_of_type(value, G_VARIANT_TYPE_INT64)) {
		node = json_node_init_int(json_node_alloc(), g_variant_get_int64(value));
	} else if (g_variant_is_of_type(value, G_VARIANT_TYPE_UINT64)) {
		if (g_variant_get_uint64(value) > G_MAXINT64) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "option %s: out of range",
				    key);
			return NULL;
		}
		node = json_node_init_int(json_node_alloc(), (gint64)g_variant_get_uint64(value));
	} else if (g_variant_is_of_type(value, G_VARIANT_TYPE_DOUBLE)) {
		node = json_node_init_double(json_node_alloc(), g_variant_get_double(value));
	} else if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING_ARRAY)) {
		g_autoptr(JsonArray) array = json_array_new();
		g_autofree const gchar **strings = g_variant_get_strv(value, NULL);

		for (guint i = 0; strings[i] != NULL; i++)
			json_array_add_string_element(array, strings[i]);
		node = json_node_init_array(json_node_alloc(), array);
	} else {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "option %s: a value of type %s is not accepted (s, b, an integer, d or "
			    "as)",
			    key,
			    g_variant_get_type_string(value));
	}
	return node;
}

JsonObject *
kl_verifier_dbus_options_to_body(GVariant *options, GError **error)
{
	g_autoptr(JsonObject) body = json_object_new();
	GVariantIter iter;
	const gchar *key;
	GVariant *value;

	g_variant_iter_init(&iter, options);
	while (g_variant_iter_next(&iter, "{&sv}", &key, &value)) {
		g_autoptr(GVariant) owned = value;
		JsonNode *node = kl_verifier_dbus_option_to_json(key, owned, error);

		if (node == NULL)
			return NULL;
		json_object_set_member(body, key, node);
	}
	return g_steal_pointer(&body);
}
