/*
 * KlGuiEnrollWizard: enrolls a registered agent through the verifier's
 * EnrollAgent — agent, runtime policy, measured-boot policy, TPM policy,
 * payload (none, one file, or a certificate package built here as
 * keylime_tenant --cert builds it), review, then the flow's progress step
 * by step.
 */
#pragma once

#include <gtk/gtk.h>

#include "kl-client.h"
#include "kl-gui-policy-chooser.h"

G_BEGIN_DECLS

typedef enum {
	KL_GUI_PAYLOAD_NONE,
	KL_GUI_PAYLOAD_FILE,
	KL_GUI_PAYLOAD_PACKAGE,
} KlGuiPayloadKind;

typedef enum {
	KL_GUI_ENROLL_IDLE,
	KL_GUI_ENROLL_RUNNING,
	KL_GUI_ENROLL_DONE,
	KL_GUI_ENROLL_FAILED,
} KlGuiEnrollStatus;

#define KL_TYPE_GUI_ENROLL_WIZARD (kl_gui_enroll_wizard_get_type())
G_DECLARE_FINAL_TYPE(KlGuiEnrollWizard, kl_gui_enroll_wizard, KL, GUI_ENROLL_WIZARD, GtkWindow)

KlGuiEnrollWizard *kl_gui_enroll_wizard_new(GtkWindow *parent, KlClient *client);

/* What the pages hold, for tests and scripted use; the buttons are the
 * actions wizard.back, wizard.next (Enroll on the review page) and
 * wizard.refresh. */
const gchar *kl_gui_enroll_wizard_get_page(KlGuiEnrollWizard *self);
/* the agents offered on the first page (borrowed model of GtkStringObject) */
GListModel *kl_gui_enroll_wizard_get_agents(KlGuiEnrollWizard *self);
gboolean kl_gui_enroll_wizard_select_agent(KlGuiEnrollWizard *self, const gchar *agent_id);
KlGuiPolicyChooser *
kl_gui_enroll_wizard_get_policy_chooser(KlGuiEnrollWizard *self, KlClientPolicyKind kind);
void kl_gui_enroll_wizard_set_tpm_policy(KlGuiEnrollWizard *self, const gchar *json);
/* @file: the payload file, or a package's CA directory */
void kl_gui_enroll_wizard_set_payload(KlGuiEnrollWizard *self, KlGuiPayloadKind kind, GFile *file);
/* a certificate package: @ca_dir (initialised when empty), the files of
 * @include_dir (nullable) and revocation @actions ("a, b"; nullable) */
void kl_gui_enroll_wizard_set_package(KlGuiEnrollWizard *self,
				      GFile *ca_dir,
				      GFile *include_dir,
				      const gchar *actions);
KlGuiEnrollStatus kl_gui_enroll_wizard_get_status(KlGuiEnrollWizard *self);
/* the steps reported so far, "step: message" each */
GStrv kl_gui_enroll_wizard_dup_steps(KlGuiEnrollWizard *self);
/* the final message (the agent's object path or the error) */
const gchar *kl_gui_enroll_wizard_get_result(KlGuiEnrollWizard *self);

G_END_DECLS
