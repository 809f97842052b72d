/*
 * The error never echoes the id itself: it is hostile input, and the
 * message will be logged and shown.
 */
#define G_LOG_DOMAIN "KlCore"

#include "config.h"

#include "kl-agent-id.h"
#include "kl-error.h"

static gboolean
kl_agent_id_char_is_allowed(guchar c)
{
	return g_ascii_isalnum(c) || c == '_' || c == '-' || c == '.';
}

gboolean
kl_agent_id_validate(const gchar *agent_id, GError **error)
{
	gsize length;

	if (agent_id == NULL || agent_id[0] == '\0') {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "agent id is empty");
		return FALSE;
	}
	length = strnlen(agent_id, KL_AGENT_ID_MAX_LENGTH + 1);
	if (length > KL_AGENT_ID_MAX_LENGTH) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "agent id is longer than %u characters",
			    (guint)KL_AGENT_ID_MAX_LENGTH);
		return FALSE;
	}
	for (gsize i = 0; i < length; i++) {
		guchar c = (guchar)agent_id[i];
		if (!kl_agent_id_char_is_allowed(c)) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "agent id has a character not in [A-Za-z0-9_.-] at offset "
				    "%" G_GSIZE_FORMAT " (byte 0x%02x)",
				    i,
				    (guint)c);
			return FALSE;
		}
	}
	return TRUE;
}
