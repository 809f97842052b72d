/*
 * KlGuiAgentsPage: every agent of the verifier in a sortable GtkColumnView,
 * filtered by state and by text; rows update live through property
 * bindings.  "agent-activated" (agent id) when a row is activated.
 */
#pragma once

#include <gtk/gtk.h>

#include "kl-client.h"

G_BEGIN_DECLS

#define KL_TYPE_GUI_AGENTS_PAGE (kl_gui_agents_page_get_type())
G_DECLARE_FINAL_TYPE(KlGuiAgentsPage, kl_gui_agents_page, KL, GUI_AGENTS_PAGE, GtkWidget)

void kl_gui_agents_page_set_client(KlGuiAgentsPage *self, KlClient *client);
/* the list shown, KlClientAgent items (set_client sets the client's) */
void kl_gui_agents_page_set_agents(KlGuiAgentsPage *self, GListModel *agents);
/* the rows shown, filtered and sorted (KlClientAgent items) */
GListModel *kl_gui_agents_page_get_model(KlGuiAgentsPage *self);
/* -1: every state; else only agents in @state */
void kl_gui_agents_page_set_state_filter(KlGuiAgentsPage *self, gint state);
void kl_gui_agents_page_set_search_text(KlGuiAgentsPage *self, const gchar *text);
/* sorts by the column @column_id ("id", "state", "last", ...) */
void kl_gui_agents_page_sort_by(KlGuiAgentsPage *self, const gchar *column_id, GtkSortType order);

G_END_DECLS
