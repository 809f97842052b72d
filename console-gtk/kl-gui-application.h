/*
 * KlGuiApplication: keylime-console's GtkApplication (org.keylime.Console).
 * It connects to the bus (--session, or the system bus honouring
 * DBUS_SYSTEM_BUS_ADDRESS), owns the one KlClient and opens the window.
 */
#pragma once

#include <gtk/gtk.h>

#include "kl-client.h"

G_BEGIN_DECLS

#define KL_GUI_APPLICATION_ID "org.keylime.Console"

#define KL_TYPE_GUI_APPLICATION (kl_gui_application_get_type())
G_DECLARE_FINAL_TYPE(KlGuiApplication, kl_gui_application, KL, GUI_APPLICATION, GtkApplication)

KlGuiApplication *kl_gui_application_new(void);
/* NULL until the client is made (after "startup" and the bus connection) */
KlClient *kl_gui_application_get_client(KlGuiApplication *self);
/* tests: the bus to use instead of the one the options name */
void kl_gui_application_set_connection(KlGuiApplication *self, GDBusConnection *connection);

G_END_DECLS
