/*
 * KlGuiAgentPage: one agent — every field of KlClientAgent, its failed IMA
 * entries, measured-boot and PCR findings and revocations — with the
 * agent.stop, agent.reactivate and agent.remove actions.
 */
#pragma once

#include <gtk/gtk.h>

#include "kl-client.h"

G_BEGIN_DECLS

#define KL_TYPE_GUI_AGENT_PAGE (kl_gui_agent_page_get_type())
G_DECLARE_FINAL_TYPE(KlGuiAgentPage, kl_gui_agent_page, KL, GUI_AGENT_PAGE, GtkWidget)

void kl_gui_agent_page_set_client(KlGuiAgentPage *self, KlClient *client);
void kl_gui_agent_page_set_agent_id(KlGuiAgentPage *self, const gchar *agent_id);
const gchar *kl_gui_agent_page_get_agent_id(KlGuiAgentPage *self);
/* the value shown for a field ("state", "last-attestation", ...) */
const gchar *kl_gui_agent_page_get_field_text(KlGuiAgentPage *self, const gchar *field);
/* the subjects (file paths) of the failed IMA entries shown, newest first */
GStrv kl_gui_agent_page_dup_ima_paths(KlGuiAgentPage *self);
/* how many revocations are listed */
guint kl_gui_agent_page_get_n_revocations(KlGuiAgentPage *self);

G_END_DECLS
