/*
 * Fuzz target: an agent's registration body, as the registrar's open port
 * receives it.  What is accepted must be a complete record with an AK of
 * the right attributes; what is refused must say why, in a message free of
 * the input's control characters.
 */
#include "config.h"

#include <string.h>

#include "kl-fuzz.h"
#include "kl-json.h"
#include "kl-registrar-request.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(JsonObject) body = NULL;
	g_autoptr(KlRegistrarRequest) request = NULL;
	g_autoptr(GError) error = NULL;

	body = kl_json_parse_object((const gchar *)data,
				    size,
				    KL_JSON_DEFAULT_MAX_SIZE,
				    KL_JSON_DEFAULT_MAX_DEPTH,
				    &error);
	if (body == NULL) {
		g_assert_nonnull(error);
		return 0;
	}
	request = kl_registrar_request_parse("fuzz-agent",
					     body,
					     KL_REGISTRAR_TPM_IDENTITY_DEFAULT,
					     &error);
	if (request == NULL) {
		/* the message goes back in the envelope and into the log:
		 * nothing of the input's control characters may reach it */
		g_assert_nonnull(error);
		g_assert_cmpuint(strlen(error->message), >, 0);
		for (const gchar *p = error->message; *p != '\0'; p++)
			g_assert_false(g_ascii_iscntrl(*p));
		return 0;
	}
	g_assert_no_error(error);
	g_assert_nonnull(request->agent->aik_tpm);
	g_assert_nonnull(request->agent->ek_tpm);
	g_assert_cmpuint(kl_tpm_public_get_object_attributes(request->ak) &
				 (KL_REGISTRAR_AK_ATTRIBUTES | TPMA_OBJECT_DECRYPT),
			 ==,
			 KL_REGISTRAR_AK_ATTRIBUTES);
	g_assert_true(request->agent->port >= 0 && request->agent->port <= 65535);
	return 0;
}
