/*
 * KlGuiPolicyChooser: the stored names come from ListRuntimePolicies /
 * ListMbPolicies; an imported file is sent with AddRuntimePolicy /
 * AddMbPolicy (the verifier validates it) and then listed and chosen like
 * any stored one.  "name" changes whenever the choice does.
 */
#define G_LOG_DOMAIN "KlConsole"
#include "config.h"

#include <fcntl.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "kl-gui-format.h"
#include "kl-gui-policy-chooser.h"

struct _KlGuiPolicyChooser {
	GtkWidget parent_instance;
	GtkLabel *intro_label;
	GtkCheckButton *none_check;
	GtkCheckButton *named_check;
	GtkDropDown *names_dropdown;
	GtkEntry *import_name_entry;
	GtkButton *import_button;
	GtkLabel *status_label;
	GtkStringList *names;
	KlClient *client;
	KlClientPolicyKind kind;
	GCancellable *cancellable;
	gchar *pending_select; /* chosen once the list arrives */
	GtkFileChooserNative *file_chooser;
};

G_DEFINE_TYPE(KlGuiPolicyChooser, kl_gui_policy_chooser, GTK_TYPE_WIDGET)

enum {
	PROP_0,
	PROP_NAME,
	N_PROPS,
};

static GParamSpec *properties[N_PROPS];

const gchar *
kl_gui_policy_chooser_get_name(KlGuiPolicyChooser *self)
{
	guint selected;

	g_return_val_if_fail(KL_IS_GUI_POLICY_CHOOSER(self), NULL);
	if (!gtk_check_button_get_active(self->named_check))
		return NULL;
	selected = gtk_drop_down_get_selected(self->names_dropdown);
	if (selected == GTK_INVALID_LIST_POSITION)
		return NULL;
	return gtk_string_list_get_string(self->names, selected);
}

static void
kl_gui_policy_chooser_changed_cb(GtkCheckButton *button, gpointer user_data)
{
	g_object_notify_by_pspec(G_OBJECT(user_data), properties[PROP_NAME]);
}

static void
kl_gui_policy_chooser_selected_cb(GtkDropDown *dropdown, GParamSpec *pspec, gpointer user_data)
{
	g_object_notify_by_pspec(G_OBJECT(user_data), properties[PROP_NAME]);
}

gboolean
kl_gui_policy_chooser_select(KlGuiPolicyChooser *self, const gchar *name)
{
	guint n;

	g_return_val_if_fail(KL_IS_GUI_POLICY_CHOOSER(self), FALSE);
	if (name == NULL) {
		gtk_check_button_set_active(self->none_check, TRUE);
		return TRUE;
	}
	n = g_list_model_get_n_items(G_LIST_MODEL(self->names));
	for (guint i = 0; i < n; i++) {
		if (g_strcmp0(gtk_string_list_get_string(self->names, i), name) == 0) {
			gtk_drop_down_set_selected(self->names_dropdown, i);
			gtk_check_button_set_active(self->named_check, TRUE);
			return TRUE;
		}
	}
	return FALSE;
}

static void
kl_gui_policy_chooser_list_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) names = kl_client_list_policies_finish(KL_CLIENT(source), result, &error);
	KlGuiPolicyChooser *self;
	guint n_old;

	if (names == NULL && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	self = KL_GUI_POLICY_CHOOSER(user_data);
	if (names == NULL) {
		gtk_label_set_text(self->status_label, error->message);
		return;
	}
	n_old = g_list_model_get_n_items(G_LIST_MODEL(self->names));
	gtk_string_list_splice(self->names, 0, n_old, (const gchar *const *)names);
	gtk_widget_set_sensitive(GTK_WIDGET(self->named_check), names[0] != NULL);
	if (self->pending_select != NULL) {
		g_autofree gchar *name = g_steal_pointer(&self->pending_select);

		kl_gui_policy_chooser_select(self, name);
	}
	g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_NAME]);
}

void
kl_gui_policy_chooser_refresh(KlGuiPolicyChooser *self)
{
	g_return_if_fail(KL_IS_GUI_POLICY_CHOOSER(self));
	kl_client_list_policies_async(self->client,
				      self->kind,
				      self->cancellable,
				      kl_gui_policy_chooser_list_cb,
				      self);
}

static void
kl_gui_policy_chooser_add_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	KlGuiPolicyChooser *self;

	if (!kl_client_add_policy_finish(KL_CLIENT(source), result, &error)) {
		if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			return;
		self = KL_GUI_POLICY_CHOOSER(user_data);
		g_clear_pointer(&self->pending_select, g_free);
		gtk_label_set_text(self->status_label, error->message);
		gtk_widget_set_sensitive(GTK_WIDGET(self->import_button), TRUE);
		return;
	}
	self = KL_GUI_POLICY_CHOOSER(user_data);
	gtk_widget_set_sensitive(GTK_WIDGET(self->import_button), TRUE);
	{
		/* TRANSLATORS: %s is a policy name */
		g_autofree gchar *text =
			g_strdup_printf(_("Imported as “%s”."), self->pending_select);
		gtk_label_set_text(self->status_label, text);
	}
	kl_gui_policy_chooser_refresh(self);
}

void
kl_gui_policy_chooser_import(KlGuiPolicyChooser *self, GFile *file, const gchar *name)
{
	g_autofree gchar *path = g_file_get_path(file);
	int fd;

	g_return_if_fail(KL_IS_GUI_POLICY_CHOOSER(self));
	if (name == NULL || name[0] == '\0') {
		gtk_label_set_text(self->status_label, _("Name the policy before importing it."));
		return;
	}
	fd = path != NULL ? g_open(path, O_RDONLY | O_CLOEXEC, 0) : -1;
	if (fd < 0) {
		/* TRANSLATORS: %s is a file name */
		g_autofree gchar *text =
			g_strdup_printf(_("Cannot read %s."), path != NULL ? path : "?");
		gtk_label_set_text(self->status_label, text);
		return;
	}
	g_free(self->pending_select);
	self->pending_select = g_strdup(name);
	gtk_widget_set_sensitive(GTK_WIDGET(self->import_button), FALSE);
	gtk_label_set_text(self->status_label, _("Importing…"));
	/* the client duplicates the descriptor */
	kl_client_add_policy_async(self->client,
				   self->kind,
				   name,
				   fd,
				   self->cancellable,
				   kl_gui_policy_chooser_add_cb,
				   self);
	close(fd);
}

static void
kl_gui_policy_chooser_file_response_cb(GtkNativeDialog *dialog, gint response, gpointer user_data)
{
	KlGuiPolicyChooser *self = KL_GUI_POLICY_CHOOSER(user_data);
	g_autoptr(GFile) file = NULL;

	if (response == GTK_RESPONSE_ACCEPT)
		file = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(dialog));
	g_clear_object(&self->file_chooser);
	if (file == NULL)
		return;
	if (gtk_entry_get_text_length(self->import_name_entry) == 0) {
		g_autofree gchar *base = g_file_get_basename(file);
		gchar *dot = strrchr(base, '.');

		if (dot != NULL && dot != base)
			*dot = '\0';
		gtk_editable_set_text(GTK_EDITABLE(self->import_name_entry), base);
	}
	kl_gui_policy_chooser_import(self,
				     file,
				     gtk_editable_get_text(GTK_EDITABLE(self->import_name_entry)));
}

static void
kl_gui_policy_chooser_import_clicked_cb(GtkButton *button, gpointer user_data)
{
	KlGuiPolicyChooser *self = KL_GUI_POLICY_CHOOSER(user_data);
	GtkRoot *root = gtk_widget_get_root(GTK_WIDGET(self));
	g_autoptr(GtkFileFilter) json = gtk_file_filter_new();

	if (self->file_chooser != NULL)
		return;
	self->file_chooser =
		gtk_file_chooser_native_new(_("Import a Policy"),
					    GTK_IS_WINDOW(root) ? GTK_WINDOW(root) : NULL,
					    GTK_FILE_CHOOSER_ACTION_OPEN,
					    _("_Import"),
					    _("_Cancel"));
	gtk_file_filter_set_name(json, _("JSON policies"));
	gtk_file_filter_add_pattern(json, "*.json");
	gtk_file_chooser_add_filter(GTK_FILE_CHOOSER(self->file_chooser), json);
	gtk_native_dialog_set_modal(GTK_NATIVE_DIALOG(self->file_chooser), TRUE);
	g_signal_connect(self->file_chooser,
			 "response",
			 G_CALLBACK(kl_gui_policy_chooser_file_response_cb),
			 self);
	gtk_native_dialog_show(GTK_NATIVE_DIALOG(self->file_chooser));
}

static void
kl_gui_policy_chooser_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	KlGuiPolicyChooser *self = KL_GUI_POLICY_CHOOSER(object);

	switch (prop_id) {
	case PROP_NAME:
		g_value_set_string(value, kl_gui_policy_chooser_get_name(self));
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
		break;
	}
}

static void
kl_gui_policy_chooser_dispose(GObject *object)
{
	KlGuiPolicyChooser *self = KL_GUI_POLICY_CHOOSER(object);

	g_cancellable_cancel(self->cancellable);
	if (self->file_chooser != NULL) {
		g_signal_handlers_disconnect_by_data(self->file_chooser, self);
		gtk_native_dialog_destroy(GTK_NATIVE_DIALOG(self->file_chooser));
		g_clear_object(&self->file_chooser);
	}
	gtk_widget_dispose_template(GTK_WIDGET(self), KL_TYPE_GUI_POLICY_CHOOSER);
	/* the template's root box is not bound: unparent it here */
	kl_gui_format_unparent_children(GTK_WIDGET(self));
	g_clear_object(&self->names);
	g_clear_object(&self->client);
	G_OBJECT_CLASS(kl_gui_policy_chooser_parent_class)->dispose(object);
}

static void
kl_gui_policy_chooser_finalize(GObject *object)
{
	KlGuiPolicyChooser *self = KL_GUI_POLICY_CHOOSER(object);

	g_clear_object(&self->cancellable);
	g_free(self->pending_select);
	G_OBJECT_CLASS(kl_gui_policy_chooser_parent_class)->finalize(object);
}

static void
kl_gui_policy_chooser_class_init(KlGuiPolicyChooserClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

	object_class->get_property = kl_gui_policy_chooser_get_property;
	object_class->dispose = kl_gui_policy_chooser_dispose;
	object_class->finalize = kl_gui_policy_chooser_finalize;
	properties[PROP_NAME] = g_param_spec_string("name",
						    NULL,
						    NULL,
						    NULL,
						    G_PARAM_READABLE | G_PARAM_STATIC_STRINGS |
							    G_PARAM_EXPLICIT_NOTIFY);
	g_object_class_install_properties(object_class, N_PROPS, properties);

	gtk_widget_class_set_template_from_resource(
		widget_class,
		"/org/keylime/Console/kl-gui-policy-chooser.ui");
	gtk_widget_class_bind_template_child(widget_class, KlGuiPolicyChooser, intro_label);
	gtk_widget_class_bind_template_child(widget_class, KlGuiPolicyChooser, none_check);
	gtk_widget_class_bind_template_child(widget_class, KlGuiPolicyChooser, named_check);
	gtk_widget_class_bind_template_child(widget_class, KlGuiPolicyChooser, names_dropdown);
	gtk_widget_class_bind_template_child(widget_class, KlGuiPolicyChooser, import_name_entry);
	gtk_widget_class_bind_template_child(widget_class, KlGuiPolicyChooser, import_button);
	gtk_widget_class_bind_template_child(widget_class, KlGuiPolicyChooser, status_label);
	gtk_widget_class_bind_template_callback(widget_class, kl_gui_policy_chooser_changed_cb);
	gtk_widget_class_bind_template_callback(widget_class, kl_gui_policy_chooser_selected_cb);
	gtk_widget_class_bind_template_callback(widget_class,
						kl_gui_policy_chooser_import_clicked_cb);
	gtk_widget_class_set_layout_manager_type(widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
kl_gui_policy_chooser_init(KlGuiPolicyChooser *self)
{
	gtk_widget_init_template(GTK_WIDGET(self));
	self->cancellable = g_cancellable_new();
	self->names = gtk_string_list_new(NULL);
	gtk_drop_down_set_model(self->names_dropdown, G_LIST_MODEL(self->names));
	gtk_widget_set_sensitive(GTK_WIDGET(self->named_check), FALSE);
}

KlGuiPolicyChooser *
kl_gui_policy_chooser_new(KlClient *client, KlClientPolicyKind kind)
{
	KlGuiPolicyChooser *self = g_object_new(KL_TYPE_GUI_POLICY_CHOOSER, NULL);

	self->client = g_object_ref(client);
	self->kind = kind;
	gtk_label_set_text(
		self->intro_label,
		kind == KL_CLIENT_POLICY_RUNTIME
			? _("The runtime policy (allowlist) the agent's IMA entries are "
			    "checked against.")
			: _("The measured-boot reference state the agent's boot event log "
			    "is checked against."));
	kl_gui_policy_chooser_refresh(self);
	return self;
}
