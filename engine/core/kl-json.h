/*
 * kl-json: JSON from the network, parsed with limits and read through
 * checked getters whose errors name the member.  Also Keylime's response
 * envelope {"code": N, "status": "...", "results": {...}}.
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Defaults for request bodies; callers with bigger documents pass theirs. */
#define KL_JSON_DEFAULT_MAX_SIZE  (1024 * 1024)
#define KL_JSON_DEFAULT_MAX_DEPTH 32

JsonNode *
kl_json_parse(const gchar *data, gsize length, gsize max_size, guint max_depth, GError **error);
JsonObject *kl_json_parse_object(const gchar *data,
				 gsize length,
				 gsize max_size,
				 guint max_depth,
				 GError **error);

gboolean kl_json_object_get_string(JsonObject *object,
				   const gchar *member,
				   const gchar **value,
				   GError **error);
gboolean kl_json_object_get_optional_string(JsonObject *object,
					    const gchar *member,
					    const gchar **value,
					    GError **error);
gboolean kl_json_object_get_int(JsonObject *object,
				const gchar *member,
				gint64 minimum,
				gint64 maximum,
				gint64 *value,
				GError **error);
gboolean
kl_json_object_get_double(JsonObject *object, const gchar *member, gdouble *value, GError **error);
gboolean kl_json_object_get_boolean(JsonObject *object,
				    const gchar *member,
				    gboolean *value,
				    GError **error);
gboolean kl_json_object_get_object(JsonObject *object,
				   const gchar *member,
				   JsonObject **value,
				   GError **error);
gboolean kl_json_object_get_array(JsonObject *object,
				  const gchar *member,
				  JsonArray **value,
				  GError **error);
gboolean kl_json_object_get_string_array(JsonObject *object,
					 const gchar *member,
					 gchar ***value,
					 GError **error);

gchar *kl_json_node_to_string(JsonNode *node, gboolean pretty);
gchar *kl_json_envelope_new(guint code, const gchar *status, JsonNode *results);
gboolean kl_json_envelope_parse(const gchar *data,
				gsize length,
				gsize max_size,
				guint *code,
				gchar **status,
				JsonObject **results,
				GError **error);

/* Appends @text (valid UTF-8) as a JSON string literal the way Python's
 * json.dumps() writes it (ensure_ascii: \uXXXX beyond printable ASCII),
 * for texts that upstream signs or hashes byte for byte. */
void kl_json_append_python_string(GString *out, const gchar *text);

G_END_DECLS
