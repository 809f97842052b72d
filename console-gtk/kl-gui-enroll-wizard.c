/*
 * KlGuiEnrollWizard: a GtkStack of pages; wizard.next is enabled only when
 * the page is complete (an agent chosen, the TPM policy empty or a JSON
 * object — kl-tpm-policy needs tss2, so its PCR rules are the verifier's
 * to check — a payload file chosen when one is wanted).
 * Enroll sends EnrollAgent with the options kl-verifier-dbus-enroll.c
 * reads ("agent_id", "runtime_policy_name", "mb_policy_name",
 * "tpm_policy", "verify"; a certificate package adds "cert_package",
 * "metadata" and "revocation_key") and the payload as a file descriptor
 * (the chosen file, or the package in memory), then lists each
 * "enrollment-progress" step of that agent until the call returns.
 */
#define G_LOG_DOMAIN "KlConsole"
#include "config.h"

#include <fcntl.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "kl-gui-enroll-wizard.h"
#include "kl-json.h"
#include "kl-tenant-package.h"

/* a tpm_policy names at most 22 PCRs with a few values each */
#define KL_GUI_ENROLL_WIZARD_MAX_TPM_POLICY   (64 * 1024)
#define KL_GUI_ENROLL_WIZARD_TPM_POLICY_DEPTH 4

static const gchar *const kl_gui_enroll_wizard_pages[] = {
	"agent",
	"runtime",
	"mb",
	"tpm",
	"payload",
	"review",
	"progress",
};

struct _KlGuiEnrollWizard {
	GtkWindow parent_instance;
	GtkLabel *heading_label;
	GtkStack *stack;
	GtkDropDown *agent_dropdown;
	GtkLabel *agent_label;
	GtkBox *runtime_box;
	GtkBox *mb_box;
	GtkTextView *tpm_view;
	GtkLabel *tpm_status_label;
	GtkCheckButton *payload_none_check;
	GtkCheckButton *payload_file_check;
	GtkCheckButton *payload_package_check;
	GtkButton *payload_button;
	GtkLabel *payload_label;
	GtkCheckButton *verify_check;
	GtkWidget *package_box;
	GtkButton *include_button;
	GtkLabel *include_label;
	GtkEntry *actions_entry;
	GtkLabel *review_label;
	GtkListBox *progress_list;
	GtkLabel *result_label;
	GtkButton *next_button;

	KlClient *client;
	GCancellable *cancellable;
	GVariant *package_options; /* EnrollAgent's, while the package is made */
	GtkStringList *agents;
	KlGuiPolicyChooser *runtime_chooser;
	KlGuiPolicyChooser *mb_chooser;
	gchar *tpm_policy; /* normalised, NULL when none */
	gboolean tpm_valid;
	GFile *payload_file; /* the file, or the CA directory of a package */
	GFile *include_dir;  /* a package's extra files, nullable */
	GtkFileChooserNative *file_chooser;
	gboolean choosing_include;
	KlGuiEnrollStatus status;
	gchar *enrolling_id;
	GPtrArray *steps;
	gchar *result;
};

G_DEFINE_TYPE(KlGuiEnrollWizard, kl_gui_enroll_wizard, GTK_TYPE_WINDOW)

static guint
kl_gui_enroll_wizard_page_index(KlGuiEnrollWizard *self)
{
	const gchar *name = gtk_stack_get_visible_child_name(self->stack);

	for (guint i = 0; i < G_N_ELEMENTS(kl_gui_enroll_wizard_pages); i++) {
		if (g_strcmp0(name, kl_gui_enroll_wizard_pages[i]) == 0)
			return i;
	}
	return 0;
}

const gchar *
kl_gui_enroll_wizard_get_page(KlGuiEnrollWizard *self)
{
	g_return_val_if_fail(KL_IS_GUI_ENROLL_WIZARD(self), NULL);
	return gtk_stack_get_visible_child_name(self->stack);
}

static const gchar *
kl_gui_enroll_wizard_agent_id(KlGuiEnrollWizard *self)
{
	guint selected = gtk_drop_down_get_selected(self->agent_dropdown);

	if (selected == GTK_INVALID_LIST_POSITION)
		return NULL;
	return gtk_string_list_get_string(self->agents, selected);
}

static KlGuiPayloadKind
kl_gui_enroll_wizard_payload_kind(KlGuiEnrollWizard *self)
{
	if (gtk_check_button_get_active(self->payload_file_check))
		return KL_GUI_PAYLOAD_FILE;
	if (gtk_check_button_get_active(self->payload_package_check))
		return KL_GUI_PAYLOAD_PACKAGE;
	return KL_GUI_PAYLOAD_NONE;
}

static gboolean
kl_gui_enroll_wizard_page_complete(KlGuiEnrollWizard *self)
{
	const gchar *page = gtk_stack_get_visible_child_name(self->stack);

	if (g_strcmp0(page, "agent") == 0)
		return kl_gui_enroll_wizard_agent_id(self) != NULL;
	if (g_strcmp0(page, "tpm") == 0)
		return self->tpm_valid;
	if (g_strcmp0(page, "payload") == 0)
		return kl_gui_enroll_wizard_payload_kind(self) == KL_GUI_PAYLOAD_NONE ||
		       self->payload_file != NULL;
	if (g_strcmp0(page, "progress") == 0)
		return FALSE;
	return TRUE;
}

static void
kl_gui_enroll_wizard_update_buttons(KlGuiEnrollWizard *self)
{
	guint index = kl_gui_enroll_wizard_page_index(self);
	gboolean running = self->status == KL_GUI_ENROLL_RUNNING;
	gboolean on_progress = g_strcmp0(kl_gui_enroll_wizard_pages[index], "progress") == 0;

	gtk_widget_action_set_enabled(GTK_WIDGET(self),
				      "wizard.back",
				      index > 0 && !running && self->status != KL_GUI_ENROLL_DONE);
	gtk_widget_action_set_enabled(GTK_WIDGET(self),
				      "wizard.next",
				      kl_gui_enroll_wizard_page_complete(self));
	gtk_button_set_label(self->next_button,
			     g_strcmp0(kl_gui_enroll_wizard_pages[index], "review") == 0
				     ? _("_Enroll")
				     : _("_Next"));
	gtk_widget_set_visible(GTK_WIDGET(self->next_button), !on_progress);
}

static void
kl_gui_enroll_wizard_update_review(KlGuiEnrollWizard *self)
{
	const gchar *runtime = kl_gui_policy_chooser_get_name(self->runtime_chooser);
	const gchar *mb = kl_gui_policy_chooser_get_name(self->mb_chooser);
	g_autofree gchar *payload = NULL;
	g_autofree gchar *text = NULL;

	switch (kl_gui_enroll_wizard_payload_kind(self)) {
	case KL_GUI_PAYLOAD_FILE:
	case KL_GUI_PAYLOAD_PACKAGE:
		payload = self->payload_file != NULL ? g_file_get_parse_name(self->payload_file)
						     : g_strdup("?");
		break;
	case KL_GUI_PAYLOAD_NONE:
	default:
		payload = g_strdup(_("none"));
		break;
	}
	/* TRANSLATORS: the review page; each %s is one of the choices */
	text = g_strdup_printf(_("Agent: %s\n"
				 "Runtime policy: %s\n"
				 "Measured-boot policy: %s\n"
				 "TPM policy: %s\n"
				 "Payload: %s"),
			       kl_gui_enroll_wizard_agent_id(self),
			       runtime != NULL ? runtime : _("none"),
			       mb != NULL ? mb : _("none"),
			       self->tpm_policy != NULL ? self->tpm_policy : _("none"),
			       payload);
	gtk_label_set_text(self->review_label, text);
}

static void
kl_gui_enroll_wizard_page_changed_cb(GtkStack *stack, GParamSpec *pspec, gpointer user_data)
{
	KlGuiEnrollWizard *self = KL_GUI_ENROLL_WIZARD(user_data);
	GtkWidget *child = gtk_stack_get_visible_child(stack);

	if (child == NULL)
		return;
	gtk_label_set_text(self->heading_label,
			   gtk_stack_page_get_title(gtk_stack_get_page(stack, child)));
	if (g_strcmp0(gtk_stack_get_visible_child_name(stack), "review") == 0)
		kl_gui_enroll_wizard_update_review(self);
	kl_gui_enroll_wizard_update_buttons(self);
}

/* --- page 1: the agent --------------------------------------------------- */

static void
kl_gui_enroll_wizard_record_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) record =
		kl_client_get_registered_agent_finish(KL_CLIENT(source), result, &error);
	KlGuiEnrollWizard *self;
	const gchar *ip = NULL;
	gint64 port = 0;
	g_autofree gchar *port_text = NULL;
	g_autofree gchar *text = NULL;

	if (record == NULL && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	self = KL_GUI_ENROLL_WIZARD(user_data);
	if (record == NULL) {
		gtk_label_set_text(self->agent_label, error->message);
		return;
	}
	g_variant_lookup(record, "ip", "&s", &ip);
	if (!g_variant_lookup(record, "port", "x", &port)) {
		gint32 port32 = 0;

		if (g_variant_lookup(record, "port", "i", &port32))
			port = port32;
	}
	port_text = g_strdup_printf("%" G_GINT64_FORMAT, port);
	/* TRANSLATORS: the registrar's record of an agent: address and port */
	text = g_strdup_printf(_("Registered at %s, port %s."), ip != NULL ? ip : "?", port_text);
	gtk_label_set_text(self->agent_label, text);
}

static void
kl_gui_enroll_wizard_agent_selected_cb(GtkDropDown *dropdown, GParamSpec *pspec, gpointer user_data)
{
	KlGuiEnrollWizard *self = KL_GUI_ENROLL_WIZARD(user_data);
	const gchar *agent_id = kl_gui_enroll_wizard_agent_id(self);

	gtk_label_set_text(self->agent_label, "");
	if (agent_id != NULL && self->client != NULL)
		kl_client_get_registered_agent_async(self->client,
						     agent_id,
						     self->cancellable,
						     kl_gui_enroll_wizard_record_cb,
						     self);
	kl_gui_enroll_wizard_update_buttons(self);
}

static void
kl_gui_enroll_wizard_unenrolled_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) ids =
		kl_client_list_unenrolled_agents_finish(KL_CLIENT(source), result, &error);
	KlGuiEnrollWizard *self;

	if (ids == NULL && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	self = KL_GUI_ENROLL_WIZARD(user_data);
	gtk_string_list_splice(self->agents,
			       0,
			       g_list_model_get_n_items(G_LIST_MODEL(self->agents)),
			       ids != NULL ? (const gchar *const *)ids : NULL);
	if (ids == NULL)
		gtk_label_set_text(self->agent_label, error->message);
	else if (ids[0] == NULL)
		gtk_label_set_text(self->agent_label,
				   _("Every registered agent is attested already."));
	kl_gui_enroll_wizard_update_buttons(self);
}

static void
kl_gui_enroll_wizard_refresh_activated(GtkWidget *widget,
				       const gchar *action_name,
				       GVariant *parameter)
{
	KlGuiEnrollWizard *self = KL_GUI_ENROLL_WIZARD(widget);

	kl_client_list_unenrolled_agents_async(self->client,
					       self->cancellable,
					       kl_gui_enroll_wizard_unenrolled_cb,
					       self);
	kl_gui_policy_chooser_refresh(self->runtime_chooser);
	kl_gui_policy_chooser_refresh(self->mb_chooser);
}

GListModel *
kl_gui_enroll_wizard_get_agents(KlGuiEnrollWizard *self)
{
	g_return_val_if_fail(KL_IS_GUI_ENROLL_WIZARD(self), NULL);
	return G_LIST_MODEL(self->agents);
}

gboolean
kl_gui_enroll_wizard_select_agent(KlGuiEnrollWizard *self, const gchar *agent_id)
{
	guint n;

	g_return_val_if_fail(KL_IS_GUI_ENROLL_WIZARD(self), FALSE);
	n = g_list_model_get_n_items(G_LIST_MODEL(self->agents));
	for (guint i = 0; i < n; i++) {
		if (g_strcmp0(gtk_string_list_get_string(self->agents, i), agent_id) == 0) {
			gtk_drop_down_set_selected(self->agent_dropdown, i);
			return TRUE;
		}
	}
	return FALSE;
}

KlGuiPolicyChooser *
kl_gui_enroll_wizard_get_policy_chooser(KlGuiEnrollWizard *self, KlClientPolicyKind kind)
{
	g_return_val_if_fail(KL_IS_GUI_ENROLL_WIZARD(self), NULL);
	return kind == KL_CLIENT_POLICY_RUNTIME ? self->runtime_chooser : self->mb_chooser;
}

/* --- page 4: the TPM policy ---------------------------------------------- */

static void
kl_gui_enroll_wizard_tpm_changed_cb(GtkTextBuffer *buffer, gpointer user_data)
{
	KlGuiEnrollWizard *self = KL_GUI_ENROLL_WIZARD(user_data);
	g_autofree gchar *text = NULL;
	g_autoptr(GError) error = NULL;
	JsonObject *policy;
	GtkTextIter start;
	GtkTextIter end;

	gtk_text_buffer_get_bounds(buffer, &start, &end);
	text = gtk_text_buffer_get_text(buffer, &start, &end, FALSE);
	g_strstrip(text);
	g_clear_pointer(&self->tpm_policy, g_free);
	if (text[0] == '\0') {
		self->tpm_valid = TRUE;
		gtk_label_set_text(self->tpm_status_label, _("No TPM policy."));
		kl_gui_enroll_wizard_update_buttons(self);
		return;
	}
	/* the verifier checks the PCRs and values (kl-tpm-policy), which
	 * this program cannot link: here only that it is a JSON object */
	policy = kl_json_parse_object(text,
				      strlen(text),
				      KL_GUI_ENROLL_WIZARD_MAX_TPM_POLICY,
				      KL_GUI_ENROLL_WIZARD_TPM_POLICY_DEPTH,
				      &error);
	self->tpm_valid = policy != NULL;
	if (policy != NULL) {
		self->tpm_policy = g_steal_pointer(&text);
		json_object_unref(policy);
		gtk_label_set_text(self->tpm_status_label,
				   _("A JSON object: the verifier checks the PCRs."));
	} else {
		gtk_label_set_text(self->tpm_status_label, error->message);
	}
	kl_gui_enroll_wizard_update_buttons(self);
}

void
kl_gui_enroll_wizard_set_tpm_policy(KlGuiEnrollWizard *self, const gchar *json)
{
	g_return_if_fail(KL_IS_GUI_ENROLL_WIZARD(self));
	gtk_text_buffer_set_text(gtk_text_view_get_buffer(self->tpm_view), json, -1);
}

/* --- page 5: the payload ------------------------------------------------- */

static void
kl_gui_enroll_wizard_update_payload(KlGuiEnrollWizard *self)
{
	gboolean wanted = kl_gui_enroll_wizard_payload_kind(self) != KL_GUI_PAYLOAD_NONE;
	g_autofree gchar *name = NULL;

	gboolean package = kl_gui_enroll_wizard_payload_kind(self) == KL_GUI_PAYLOAD_PACKAGE;
	g_autofree gchar *include = NULL;

	gtk_widget_set_sensitive(GTK_WIDGET(self->payload_button), wanted);
	gtk_widget_set_sensitive(GTK_WIDGET(self->verify_check), wanted);
	gtk_widget_set_sensitive(self->package_box, package);
	gtk_widget_set_sensitive(GTK_WIDGET(self->actions_entry), package);
	if (wanted && self->payload_file != NULL)
		name = g_file_get_parse_name(self->payload_file);
	gtk_label_set_text(self->payload_label, name != NULL ? name : "");
	if (package && self->include_dir != NULL)
		include = g_file_get_parse_name(self->include_dir);
	gtk_label_set_text(self->include_label, include != NULL ? include : "");
	kl_gui_enroll_wizard_update_buttons(self);
}

static void
kl_gui_enroll_wizard_payload_changed_cb(GtkCheckButton *button, gpointer user_data)
{
	kl_gui_enroll_wizard_update_payload(KL_GUI_ENROLL_WIZARD(user_data));
}

void
kl_gui_enroll_wizard_set_payload(KlGuiEnrollWizard *self, KlGuiPayloadKind kind, GFile *file)
{
	g_return_if_fail(KL_IS_GUI_ENROLL_WIZARD(self));
	g_set_object(&self->payload_file, file);
	switch (kind) {
	case KL_GUI_PAYLOAD_FILE:
		gtk_check_button_set_active(self->payload_file_check, TRUE);
		break;
	case KL_GUI_PAYLOAD_PACKAGE:
		gtk_check_button_set_active(self->payload_package_check, TRUE);
		break;
	case KL_GUI_PAYLOAD_NONE:
	default:
		gtk_check_button_set_active(self->payload_none_check, TRUE);
		break;
	}
	kl_gui_enroll_wizard_update_payload(self);
}

static void
kl_gui_enroll_wizard_file_response_cb(GtkNativeDialog *dialog, gint response, gpointer user_data)
{
	KlGuiEnrollWizard *self = KL_GUI_ENROLL_WIZARD(user_data);
	g_autoptr(GFile) file = NULL;

	if (response == GTK_RESPONSE_ACCEPT)
		file = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(dialog));
	g_clear_object(&self->file_chooser);
	if (file == NULL)
		return;
	if (self->choosing_include) {
		g_set_object(&self->include_dir, file);
		kl_gui_enroll_wizard_update_payload(self);
		return;
	}
	kl_gui_enroll_wizard_set_payload(self, kl_gui_enroll_wizard_payload_kind(self), file);
}

static void
kl_gui_enroll_wizard_choose(KlGuiEnrollWizard *self, gboolean include)
{
	gboolean folder =
		include || kl_gui_enroll_wizard_payload_kind(self) == KL_GUI_PAYLOAD_PACKAGE;
	const gchar *title = include  ? _("Choose the Files to Include")
			     : folder ? _("Choose the CA Directory")
				      : _("Choose the Payload");

	if (self->file_chooser != NULL)
		return;
	self->choosing_include = include;
	self->file_chooser = gtk_file_chooser_native_new(
		title,
		GTK_WINDOW(self),
		folder ? GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER : GTK_FILE_CHOOSER_ACTION_OPEN,
		_("_Choose"),
		_("_Cancel"));
	gtk_native_dialog_set_modal(GTK_NATIVE_DIALOG(self->file_chooser), TRUE);
	g_signal_connect(self->file_chooser,
			 "response",
			 G_CALLBACK(kl_gui_enroll_wizard_file_response_cb),
			 self);
	gtk_native_dialog_show(GTK_NATIVE_DIALOG(self->file_chooser));
}

static void
kl_gui_enroll_wizard_payload_clicked_cb(GtkButton *button, gpointer user_data)
{
	kl_gui_enroll_wizard_choose(KL_GUI_ENROLL_WIZARD(user_data), FALSE);
}

static void
kl_gui_enroll_wizard_include_clicked_cb(GtkButton *button, gpointer user_data)
{
	kl_gui_enroll_wizard_choose(KL_GUI_ENROLL_WIZARD(user_data), TRUE);
}

void
kl_gui_enroll_wizard_set_package(KlGuiEnrollWizard *self,
				 GFile *ca_dir,
				 GFile *include_dir,
				 const gchar *actions)
{
	g_return_if_fail(KL_IS_GUI_ENROLL_WIZARD(self));
	g_set_object(&self->include_dir, include_dir);
	gtk_editable_set_text(GTK_EDITABLE(self->actions_entry), actions != NULL ? actions : "");
	kl_gui_enroll_wizard_set_payload(self, KL_GUI_PAYLOAD_PACKAGE, ca_dir);
}

/* --- the enrollment ------------------------------------------------------ */

/* The flow's step names (kl-tenant-enroll.h) as an operator reads them. */
static const gchar *
kl_gui_enroll_wizard_step_label(const gchar *step)
{
	if (g_strcmp0(step, "registrar") == 0)
		return _("Registrar record");
	if (g_strcmp0(step, "ek-certificate") == 0)
		return _("EK certificate");
	if (g_strcmp0(step, "identity-quote") == 0)
		return _("Identity quote");
	if (g_strcmp0(step, "payload") == 0)
		return _("Payload to the agent");
	if (g_strcmp0(step, "verifier") == 0)
		return _("Verifier");
	if (g_strcmp0(step, "verify") == 0)
		return _("Payload check");
	if (g_strcmp0(step, "done") == 0)
		return _("Done");
	return step;
}

static void
kl_gui_enroll_wizard_add_step(KlGuiEnrollWizard *self, const gchar *step, const gchar *message)
{
	g_autofree gchar *text =
		g_strdup_printf("%s: %s", kl_gui_enroll_wizard_step_label(step), message);
	GtkWidget *label = gtk_label_new(text);

	gtk_label_set_xalign(GTK_LABEL(label), 0);
	gtk_label_set_wrap(GTK_LABEL(label), TRUE);
	gtk_list_box_append(self->progress_list, label);
	g_ptr_array_add(self->steps, g_strdup_printf("%s: %s", step, message));
}

static void
kl_gui_enroll_wizard_progress_cb(KlClient *client,
				 const gchar *agent_id,
				 const gchar *step,
				 const gchar *message,
				 gpointer user_data)
{
	KlGuiEnrollWizard *self = KL_GUI_ENROLL_WIZARD(user_data);

	if (self->status == KL_GUI_ENROLL_RUNNING && g_strcmp0(agent_id, self->enrolling_id) == 0)
		kl_gui_enroll_wizard_add_step(self, step, message);
}

/* The end of a run: the agent's object path (taken), or why it failed. */
static void
kl_gui_enroll_wizard_finished(KlGuiEnrollWizard *self, gchar *path, const GError *error)
{
	g_free(self->result);
	if (path != NULL) {
		self->status = KL_GUI_ENROLL_DONE;
		self->result = g_steal_pointer(&path);
		gtk_label_set_text(self->result_label,
				   _("Enrolled: the verifier now attests the agent."));
	} else {
		g_autofree gchar *text = NULL;

		self->status = KL_GUI_ENROLL_FAILED;
		self->result = g_strdup(error->message);
		/* TRANSLATORS: %s is the verifier's error message */
		text = g_strdup_printf(_("The enrollment failed: %s"), error->message);
		gtk_label_set_text(self->result_label, text);
	}
	kl_gui_enroll_wizard_update_buttons(self);
}

static void
kl_gui_enroll_wizard_enroll_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(KlGuiEnrollWizard) self = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = kl_client_enroll_agent_finish(KL_CLIENT(source), result, &error);

	kl_gui_enroll_wizard_finished(self, g_steal_pointer(&path), error);
}

static void
kl_gui_enroll_wizard_package_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(KlGuiEnrollWizard) self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTenantPackage) package = kl_tenant_package_new_finish(result, &error);
	g_autoptr(GVariantDict) options = NULL;

	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	if (package == NULL) {
		kl_gui_enroll_wizard_finished(self, NULL, error);
		return;
	}
	options = g_variant_dict_new(self->package_options);
	kl_tenant_package_add_enroll_options(package, options);
	kl_client_enroll_agent_bytes_async(self->client,
					   g_variant_dict_end(options),
					   package->zip,
					   self->cancellable,
					   kl_gui_enroll_wizard_enroll_cb,
					   g_object_ref(self));
}

/* The certificate package keylime_tenant --cert would send (the agent's
 * certificate from the CA directory, made on first use), built in a worker
 * thread; its metadata and RevocationNotifier key join @options, then
 * EnrollAgent runs. */
static void
kl_gui_enroll_wizard_enroll_package(KlGuiEnrollWizard *self, GVariant *options)
{
	g_autofree gchar *ca_dir = g_file_get_path(self->payload_file);
	g_autofree gchar *include = self->include_dir != NULL ? g_file_get_path(self->include_dir)
							      : NULL;
	g_auto(GStrv) actions =
		g_strsplit(gtk_editable_get_text(GTK_EDITABLE(self->actions_entry)), ",", -1);
	g_autoptr(GStrvBuilder) named = g_strv_builder_new();
	g_auto(GStrv) action_names = NULL;

	/* empty names (",," or an empty entry) are dropped */
	for (guint i = 0; actions[i] != NULL; i++) {
		g_strstrip(actions[i]);
		if (actions[i][0] != '\0')
			g_strv_builder_add(named, actions[i]);
	}
	action_names = g_strv_builder_end(named);
	g_clear_pointer(&self->package_options, g_variant_unref);
	self->package_options = g_variant_ref_sink(options);
	kl_tenant_package_new_async(ca_dir,
				    self->enrolling_id,
				    include,
				    action_names[0] != NULL ? (const gchar *const *)action_names
							    : NULL,
				    self->cancellable,
				    kl_gui_enroll_wizard_package_cb,
				    g_object_ref(self));
}

/* The single-file payload, opened for EnrollAgent; -1 with @error. */
static int
kl_gui_enroll_wizard_payload_file_fd(KlGuiEnrollWizard *self, GError **error)
{
	g_autofree gchar *path = g_file_get_path(self->payload_file);
	int fd = path != NULL ? g_open(path, O_RDONLY | O_CLOEXEC, 0) : -1;

	if (fd < 0)
		/* TRANSLATORS: %s is a file name */
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_FAILED,
			    _("Cannot read %s."),
			    path != NULL ? path : "?");
	return fd;
}

static void
kl_gui_enroll_wizard_enroll(KlGuiEnrollWizard *self)
{
	g_auto(GVariantDict) options = G_VARIANT_DICT_INIT(NULL);
	const gchar *runtime = kl_gui_policy_chooser_get_name(self->runtime_chooser);
	const gchar *mb = kl_gui_policy_chooser_get_name(self->mb_chooser);
	KlGuiPayloadKind payload = kl_gui_enroll_wizard_payload_kind(self);
	g_autoptr(GError) error = NULL;
	int fd = -1;

	g_free(self->enrolling_id);
	self->enrolling_id = g_strdup(kl_gui_enroll_wizard_agent_id(self));
	g_variant_dict_insert(&options, "agent_id", "s", self->enrolling_id);
	if (runtime != NULL)
		g_variant_dict_insert(&options, "runtime_policy_name", "s", runtime);
	if (mb != NULL)
		g_variant_dict_insert(&options, "mb_policy_name", "s", mb);
	if (self->tpm_policy != NULL)
		g_variant_dict_insert(&options, "tpm_policy", "s", self->tpm_policy);
	if (payload != KL_GUI_PAYLOAD_NONE && gtk_check_button_get_active(self->verify_check))
		g_variant_dict_insert(&options, "verify", "b", TRUE);

	while (gtk_widget_get_first_child(GTK_WIDGET(self->progress_list)) != NULL)
		gtk_list_box_remove(self->progress_list,
				    gtk_widget_get_first_child(GTK_WIDGET(self->progress_list)));
	g_ptr_array_set_size(self->steps, 0);
	gtk_label_set_text(self->result_label, "");

	if (payload == KL_GUI_PAYLOAD_FILE)
		fd = kl_gui_enroll_wizard_payload_file_fd(self, &error);
	if (error != NULL) {
		gtk_stack_set_visible_child_name(self->stack, "progress");
		kl_gui_enroll_wizard_finished(self, NULL, error);
		return;
	}
	self->status = KL_GUI_ENROLL_RUNNING;
	gtk_label_set_text(self->result_label, _("Enrolling…"));
	gtk_stack_set_visible_child_name(self->stack, "progress");
	if (payload == KL_GUI_PAYLOAD_PACKAGE) {
		kl_gui_enroll_wizard_enroll_package(self, g_variant_dict_end(&options));
	} else if (fd >= 0) {
		/* the client duplicates the descriptor */
		kl_client_enroll_agent_async(self->client,
					     g_variant_dict_end(&options),
					     fd,
					     self->cancellable,
					     kl_gui_enroll_wizard_enroll_cb,
					     g_object_ref(self));
		close(fd);
	} else {
		kl_client_enroll_agent_bytes_async(self->client,
						   g_variant_dict_end(&options),
						   NULL,
						   self->cancellable,
						   kl_gui_enroll_wizard_enroll_cb,
						   g_object_ref(self));
	}
	kl_gui_enroll_wizard_update_buttons(self);
}

static void
kl_gui_enroll_wizard_next_activated(GtkWidget *widget,
				    const gchar *action_name,
				    GVariant *parameter)
{
	KlGuiEnrollWizard *self = KL_GUI_ENROLL_WIZARD(widget);
	guint index = kl_gui_enroll_wizard_page_index(self);

	if (!kl_gui_enroll_wizard_page_complete(self))
		return;
	if (g_strcmp0(kl_gui_enroll_wizard_pages[index], "review") == 0) {
		kl_gui_enroll_wizard_enroll(self);
		return;
	}
	if (index + 1 < G_N_ELEMENTS(kl_gui_enroll_wizard_pages))
		gtk_stack_set_visible_child_name(self->stack,
						 kl_gui_enroll_wizard_pages[index + 1]);
}

static void
kl_gui_enroll_wizard_back_activated(GtkWidget *widget,
				    const gchar *action_name,
				    GVariant *parameter)
{
	KlGuiEnrollWizard *self = KL_GUI_ENROLL_WIZARD(widget);
	guint index = kl_gui_enroll_wizard_page_index(self);

	if (index == 0 || self->status == KL_GUI_ENROLL_RUNNING)
		return;
	/* from the result of a failed run back to the review */
	if (g_strcmp0(kl_gui_enroll_wizard_pages[index], "progress") == 0)
		self->status = KL_GUI_ENROLL_IDLE;
	gtk_stack_set_visible_child_name(self->stack, kl_gui_enroll_wizard_pages[index - 1]);
}

KlGuiEnrollStatus
kl_gui_enroll_wizard_get_status(KlGuiEnrollWizard *self)
{
	g_return_val_if_fail(KL_IS_GUI_ENROLL_WIZARD(self), KL_GUI_ENROLL_IDLE);
	return self->status;
}

GStrv
kl_gui_enroll_wizard_dup_steps(KlGuiEnrollWizard *self)
{
	GStrvBuilder *builder = g_strv_builder_new();
	GStrv steps;

	for (guint i = 0; i < self->steps->len; i++)
		g_strv_builder_add(builder, g_ptr_array_index(self->steps, i));
	steps = g_strv_builder_end(builder);
	g_strv_builder_unref(builder);
	return steps;
}

const gchar *
kl_gui_enroll_wizard_get_result(KlGuiEnrollWizard *self)
{
	g_return_val_if_fail(KL_IS_GUI_ENROLL_WIZARD(self), NULL);
	return self->result;
}

static void
kl_gui_enroll_wizard_chooser_notify_cb(GObject *object, GParamSpec *pspec, gpointer user_data)
{
	kl_gui_enroll_wizard_update_buttons(KL_GUI_ENROLL_WIZARD(user_data));
}

static void
kl_gui_enroll_wizard_dispose(GObject *object)
{
	KlGuiEnrollWizard *self = KL_GUI_ENROLL_WIZARD(object);

	g_cancellable_cancel(self->cancellable);
	if (self->file_chooser != NULL) {
		g_signal_handlers_disconnect_by_data(self->file_chooser, self);
		gtk_native_dialog_destroy(GTK_NATIVE_DIALOG(self->file_chooser));
		g_clear_object(&self->file_chooser);
	}
	if (self->client != NULL)
		g_signal_handlers_disconnect_by_data(self->client, self);
	gtk_widget_dispose_template(GTK_WIDGET(self), KL_TYPE_GUI_ENROLL_WIZARD);
	g_clear_object(&self->client);
	g_clear_object(&self->agents);
	g_clear_object(&self->payload_file);
	g_clear_object(&self->include_dir);
	G_OBJECT_CLASS(kl_gui_enroll_wizard_parent_class)->dispose(object);
}

static void
kl_gui_enroll_wizard_finalize(GObject *object)
{
	KlGuiEnrollWizard *self = KL_GUI_ENROLL_WIZARD(object);

	g_clear_object(&self->cancellable);
	g_clear_pointer(&self->package_options, g_variant_unref);
	g_free(self->tpm_policy);
	g_free(self->enrolling_id);
	g_free(self->result);
	g_ptr_array_unref(self->steps);
	G_OBJECT_CLASS(kl_gui_enroll_wizard_parent_class)->finalize(object);
}

static void
kl_gui_enroll_wizard_class_init(KlGuiEnrollWizardClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

	object_class->dispose = kl_gui_enroll_wizard_dispose;
	object_class->finalize = kl_gui_enroll_wizard_finalize;
	gtk_widget_class_set_template_from_resource(widget_class,
						    "/org/keylime/Console/kl-gui-enroll-wizard.ui");
#define BIND(name) gtk_widget_class_bind_template_child(widget_class, KlGuiEnrollWizard, name)
	BIND(heading_label);
	BIND(stack);
	BIND(agent_dropdown);
	BIND(agent_label);
	BIND(runtime_box);
	BIND(mb_box);
	BIND(tpm_view);
	BIND(tpm_status_label);
	BIND(payload_none_check);
	BIND(payload_file_check);
	BIND(payload_package_check);
	BIND(payload_button);
	BIND(payload_label);
	BIND(verify_check);
	BIND(package_box);
	BIND(include_button);
	BIND(include_label);
	BIND(actions_entry);
	BIND(review_label);
	BIND(progress_list);
	BIND(result_label);
	BIND(next_button);
#undef BIND
	gtk_widget_class_bind_template_callback(widget_class, kl_gui_enroll_wizard_page_changed_cb);
	gtk_widget_class_bind_template_callback(widget_class,
						kl_gui_enroll_wizard_agent_selected_cb);
	gtk_widget_class_bind_template_callback(widget_class,
						kl_gui_enroll_wizard_payload_changed_cb);
	gtk_widget_class_bind_template_callback(widget_class,
						kl_gui_enroll_wizard_payload_clicked_cb);
	gtk_widget_class_bind_template_callback(widget_class,
						kl_gui_enroll_wizard_include_clicked_cb);
	gtk_widget_class_install_action(widget_class,
					"wizard.next",
					NULL,
					kl_gui_enroll_wizard_next_activated);
	gtk_widget_class_install_action(widget_class,
					"wizard.back",
					NULL,
					kl_gui_enroll_wizard_back_activated);
	gtk_widget_class_install_action(widget_class,
					"wizard.refresh",
					NULL,
					kl_gui_enroll_wizard_refresh_activated);
	gtk_widget_class_add_binding_action(widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
kl_gui_enroll_wizard_init(KlGuiEnrollWizard *self)
{
	gtk_widget_init_template(GTK_WIDGET(self));
	self->cancellable = g_cancellable_new();
	self->steps = g_ptr_array_new_with_free_func(g_free);
	self->agents = gtk_string_list_new(NULL);
	self->tpm_valid = TRUE;
	gtk_drop_down_set_model(self->agent_dropdown, G_LIST_MODEL(self->agents));
	kl_gui_enroll_wizard_update_payload(self);
	g_signal_connect(gtk_text_view_get_buffer(self->tpm_view),
			 "changed",
			 G_CALLBACK(kl_gui_enroll_wizard_tpm_changed_cb),
			 self);
}

KlGuiEnrollWizard *
kl_gui_enroll_wizard_new(GtkWindow *parent, KlClient *client)
{
	KlGuiEnrollWizard *self =
		g_object_new(KL_TYPE_GUI_ENROLL_WIZARD, "transient-for", parent, NULL);

	self->client = g_object_ref(client);
	self->runtime_chooser = kl_gui_policy_chooser_new(client, KL_CLIENT_POLICY_RUNTIME);
	self->mb_chooser = kl_gui_policy_chooser_new(client, KL_CLIENT_POLICY_MEASURED_BOOT);
	gtk_box_append(self->runtime_box, GTK_WIDGET(self->runtime_chooser));
	gtk_box_append(self->mb_box, GTK_WIDGET(self->mb_chooser));
	g_signal_connect_object(self->runtime_chooser,
				"notify::name",
				G_CALLBACK(kl_gui_enroll_wizard_chooser_notify_cb),
				self,
				0);
	g_signal_connect_object(client,
				"enrollment-progress",
				G_CALLBACK(kl_gui_enroll_wizard_progress_cb),
				self,
				0);
	gtk_widget_activate_action(GTK_WIDGET(self), "wizard.refresh", NULL);
	kl_gui_enroll_wizard_page_changed_cb(self->stack, NULL, self);
	return self;
}
