/*
 * KlGuiEventsPage: the verifier's event feed (kl_client_get_events()),
 * newest first, live.
 */
#pragma once

#include <gtk/gtk.h>

#include "kl-client.h"

G_BEGIN_DECLS

#define KL_TYPE_GUI_EVENTS_PAGE (kl_gui_events_page_get_type())
G_DECLARE_FINAL_TYPE(KlGuiEventsPage, kl_gui_events_page, KL, GUI_EVENTS_PAGE, GtkWidget)

void kl_gui_events_page_set_client(KlGuiEventsPage *self, KlClient *client);
/* the rows shown (KlClientEvent items, newest first) */
GListModel *kl_gui_events_page_get_model(KlGuiEventsPage *self);

G_END_DECLS
