/*
 * kl-client-private: what KlClient uses of its item types and nothing else
 * does (not installed, not for consoles).
 */
#pragma once

#include "kl-agent-table-format.h"
#include "kl-client-agent.h"
#include "kl-client-event.h"
#include "kl-dbus-verifier.h"

G_BEGIN_DECLS

KlClientAgent *kl_client_agent_new(const gchar *agent_id);
/* Both return TRUE when a property changed (and notify it). */
gboolean kl_client_agent_update_from_record(KlClientAgent *self, const KlAgentTableRecord *record);
gboolean kl_client_agent_update_from_proxy(KlClientAgent *self,
					   KlDBusVerifier1Agent *proxy,
					   gboolean live_fields);

KlClientEvent *kl_client_event_new(KlClientEventKind kind,
				   const gchar *agent_id,
				   guint64 time,
				   const gchar *event_id,
				   gint severity,
				   const gchar *severity_label,
				   const gchar *subject,
				   const gchar *context);

G_END_DECLS
