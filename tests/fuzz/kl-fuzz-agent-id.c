/* Fuzz target: agent id validation, on ids with and without NUL bytes. */
#include "config.h"

#include "kl-agent-id.h"
#include "kl-fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree gchar *id = g_strndup((const gchar *)data, size);
	g_autoptr(GError) error = NULL;

	if (kl_agent_id_validate(id, &error))
		g_assert_true(strlen(id) > 0 && strlen(id) <= KL_AGENT_ID_MAX_LENGTH);
	else
		g_assert_nonnull(error);
	return 0;
}
