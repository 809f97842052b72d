/*
 * Fuzz target: an agent's reply as the verifier's client reads it.  The
 * first two bytes are the HTTP status (big-endian), the rest is the body:
 * classified, and a 200's results read as a quote and as GET /version's
 * answer.
 */
#include "config.h"

#include "kl-agent-client.h"
#include "kl-fuzz.h"
#include "kl-json.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(JsonObject) results = NULL;
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) supported = NULL;
	const gchar *quote = NULL;
	KlApiVersion common;
	guint status;

	if (size < 2)
		return 0;
	status = (guint)data[0] << 8 | data[1];
	results = kl_agent_client_parse_reply(status,
					      (const gchar *)data + 2,
					      size - 2,
					      65536,
					      &error);
	g_assert((results == NULL) == (error != NULL));
	if (results == NULL) {
		g_assert(error->domain == KL_AGENT_CLIENT_ERROR);
		return 0;
	}
	g_assert(status == 200);
	kl_json_object_get_string(results, "quote", &quote, NULL);
	if (!kl_agent_client_parse_versions(results, &supported, &common, NULL))
		return 0;
	g_assert(supported != NULL && common.major == 2);
	return 0;
}
