/*
 * Fuzz target: a POST /verify/evidence body, as the verifier's REST API
 * receives it.  A refused request says why in a message free of control
 * characters; an accepted one is judged in upstream's shape, with status
 * 200 or 400 and failures that name an event id.
 */
#include "config.h"

#include <string.h>

#include "kl-fuzz.h"
#include "kl-json.h"
#include "kl-verifier-evidence.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(JsonObject) body = NULL;
	g_autoptr(JsonNode) results = NULL;
	g_autoptr(GError) error = NULL;
	JsonObject *object;
	JsonArray *failures;
	guint status = 0;

	body = kl_json_parse_object((const gchar *)data,
				    size,
				    KL_JSON_DEFAULT_MAX_SIZE,
				    KL_JSON_DEFAULT_MAX_DEPTH,
				    &error);
	if (body == NULL) {
		g_assert_nonnull(error);
		return 0;
	}
	results = kl_verifier_evidence_verify(body, "accept-all", NULL, &status, &error);
	if (results == NULL) {
		g_assert_nonnull(error);
		g_assert_cmpuint(strlen(error->message), >, 0);
		for (const gchar *p = error->message; *p != '\0'; p++)
			g_assert_false(g_ascii_iscntrl(*p));
		return 0;
	}
	g_assert_no_error(error);
	g_assert_true(status == 200 || status == 400);
	object = json_node_get_object(results);
	failures = json_object_get_array_member(object, "failures");
	g_assert_nonnull(failures);
	g_assert_true(json_object_get_boolean_member(object, "valid") ==
		      (json_array_get_length(failures) == 0));
	if (status == 400)
		g_assert_cmpuint(json_array_get_length(failures), ==, 1);
	for (guint i = 0; i < json_array_get_length(failures); i++) {
		JsonObject *failure = json_array_get_object_element(failures, i);
		g_assert_nonnull(strchr(json_object_get_string_member(failure, "type"), '.'));
		g_assert_true(JSON_NODE_HOLDS_OBJECT(json_object_get_member(failure, "context")));
	}
	return 0;
}
