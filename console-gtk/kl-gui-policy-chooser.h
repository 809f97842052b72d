/*
 * KlGuiPolicyChooser: the enrollment wizard's choice of a runtime or
 * measured-boot policy — none, one the verifier stores, or a file imported
 * into the verifier under a new name (AddRuntimePolicy / AddMbPolicy).
 */
#pragma once

#include <gtk/gtk.h>

#include "kl-client.h"

G_BEGIN_DECLS

#define KL_TYPE_GUI_POLICY_CHOOSER (kl_gui_policy_chooser_get_type())
G_DECLARE_FINAL_TYPE(KlGuiPolicyChooser, kl_gui_policy_chooser, KL, GUI_POLICY_CHOOSER, GtkWidget)

KlGuiPolicyChooser *kl_gui_policy_chooser_new(KlClient *client, KlClientPolicyKind kind);
/* reloads the stored names */
void kl_gui_policy_chooser_refresh(KlGuiPolicyChooser *self);
/* the chosen policy's name, NULL for none */
const gchar *kl_gui_policy_chooser_get_name(KlGuiPolicyChooser *self);
/* chooses the stored policy @name (NULL: none); FALSE if it is not listed */
gboolean kl_gui_policy_chooser_select(KlGuiPolicyChooser *self, const gchar *name);
/* imports @file as @name, then chooses it; "notify::name" when done */
void kl_gui_policy_chooser_import(KlGuiPolicyChooser *self, GFile *file, const gchar *name);

G_END_DECLS
