/*
 * kl-agent-id: the one check of an agent id, applied wherever an id enters
 * from outside (URL path, JSON body, D-Bus, command line).  Upstream allows
 * [\w.-]+; keylime-c allows the ASCII subset, so that an id can never carry
 * newlines, escape sequences or look-alike characters into logs and
 * consoles.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define KL_AGENT_ID_MAX_LENGTH 255

gboolean kl_agent_id_validate(const gchar *agent_id, GError **error);

G_END_DECLS
