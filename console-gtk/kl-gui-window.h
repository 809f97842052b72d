/*
 * KlGuiWindow: keylime-console's main window — the agents, agent and
 * events pages in a stack, the enrollment wizard (win.enroll), the window
 * state kept in GSettings org.keylime.Console.
 */
#pragma once

#include <gtk/gtk.h>

#include "kl-client.h"
#include "kl-gui-agent-page.h"
#include "kl-gui-agents-page.h"
#include "kl-gui-application.h"
#include "kl-gui-events-page.h"

G_BEGIN_DECLS

#define KL_TYPE_GUI_WINDOW (kl_gui_window_get_type())
G_DECLARE_FINAL_TYPE(KlGuiWindow, kl_gui_window, KL, GUI_WINDOW, GtkApplicationWindow)

KlGuiWindow *kl_gui_window_new(KlGuiApplication *app);
void kl_gui_window_set_client(KlGuiWindow *self, KlClient *client);
/* the agent page for @agent_id */
void kl_gui_window_show_agent(KlGuiWindow *self, const gchar *agent_id);
/* "agents", "agent" or "events" */
void kl_gui_window_show_page(KlGuiWindow *self, const gchar *name);

KlGuiAgentsPage *kl_gui_window_get_agents_page(KlGuiWindow *self);
KlGuiAgentPage *kl_gui_window_get_agent_page(KlGuiWindow *self);
KlGuiEventsPage *kl_gui_window_get_events_page(KlGuiWindow *self);
/* the wizard win.enroll opened last, NULL if none is open */
GtkWindow *kl_gui_window_get_enroll_wizard(KlGuiWindow *self);

G_END_DECLS
