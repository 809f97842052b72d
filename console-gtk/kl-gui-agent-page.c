/*
 * KlGuiAgentPage: the fields are labels refreshed on the agent's "notify";
 * the histories are fetched with GetFailures / GetRevocations when the
 * agent is chosen and again whenever the event feed brings one of its
 * events.  The actions are enabled when the verifier would let this user
 * make them (kl_client_check_authorization: polkit on the system bus, the
 * verifier's own user or root elsewhere), and an action the verifier
 * refuses for lack of permission all the same is disabled, since retrying
 * cannot succeed.
 */
#define G_LOG_DOMAIN "KlConsole"
#include "config.h"

#include <glib/gi18n.h>

#include "kl-error.h"
#include "kl-gui-agent-page.h"
#include "kl-gui-format.h"

#define KL_GUI_AGENT_PAGE_MAX_HISTORY 200

struct _KlGuiAgentPage {
	GtkWidget parent_instance;
	GtkLabel *title_label;
	GtkLabel *error_label;
	GtkGrid *fields_grid;
	GtkListBox *ima_list;
	GtkListBox *findings_list;
	GtkListBox *revocations_list;
	GHashTable *field_labels; /* property name -> GtkLabel */
	KlClient *client;
	KlClientAgent *agent;
	gchar *agent_id;
	GCancellable *cancellable; /* of the history fetches */
	GPtrArray *ima_paths;
	guint n_revocations;
	gboolean may_manage; /* org.keylime.verifier.manage-agents */
};

G_DEFINE_TYPE(KlGuiAgentPage, kl_gui_agent_page, GTK_TYPE_WIDGET)

typedef struct {
	const gchar *property;
	const gchar *title;
} KlGuiAgentPageField;

static const KlGuiAgentPageField kl_gui_agent_page_fields[] = {
	{"state", N_("State")},
	{"state-reason", N_("State reason")},
	{"address", N_("Address")},
	{"last-attestation", N_("Last attestation")},
	{"last-success", N_("Last success")},
	{"attestation-count", N_("Attestations")},
	{"consecutive-failures", N_("Consecutive failures")},
	{"severity-level", N_("Severity")},
	{"last-event-id", N_("Last event")},
	{"runtime-policy", N_("Runtime policy")},
	{"mb-policy", N_("Measured-boot policy")},
	{"hash-alg", N_("Hash algorithm")},
	{"sign-alg", N_("Signing algorithm")},
	{"enc-alg", N_("Encryption algorithm")},
};

/* Org.keylime.Verifier1.Agent's StateReason (see the interface XML). */
static const gchar *
kl_gui_agent_page_reason_label(guint reason)
{
	switch (reason) {
	case 0:
		return _("none");
	case 1:
		return _("attested");
	case 2:
		return _("quote failed");
	case 3:
		return _("unreachable");
	case 4:
		return _("agent error");
	default:
		return _("other");
	}
}

static void
kl_gui_agent_page_set_field(KlGuiAgentPage *self, const gchar *property, const gchar *text)
{
	GtkLabel *label = g_hash_table_lookup(self->field_labels, property);

	if (label != NULL)
		gtk_label_set_text(label, text != NULL && text[0] != '\0' ? text : "—");
}

static void
kl_gui_agent_page_update_fields(KlGuiAgentPage *self)
{
	KlClientAgent *agent = self->agent;
	g_autofree gchar *address = NULL;
	g_autofree gchar *last = NULL;
	g_autofree gchar *success = NULL;
	g_autofree gchar *count = NULL;
	g_autofree gchar *failures = NULL;
	GtkLabel *state_label;

	if (agent == NULL) {
		GHashTableIter iter;
		gpointer value;

		g_hash_table_iter_init(&iter, self->field_labels);
		while (g_hash_table_iter_next(&iter, NULL, &value))
			gtk_label_set_text(GTK_LABEL(value), "—");
		return;
	}
	address = kl_gui_format_address_closure(NULL,
						kl_client_agent_get_ip(agent),
						kl_client_agent_get_port(agent));
	last = kl_gui_format_time(kl_client_agent_get_last_attestation(agent));
	success = kl_gui_format_time(kl_client_agent_get_last_success(agent));
	count = g_strdup_printf("%" G_GUINT64_FORMAT, kl_client_agent_get_attestation_count(agent));
	failures = g_strdup_printf("%u", kl_client_agent_get_consecutive_failures(agent));

	kl_gui_agent_page_set_field(
		self,
		"state",
		kl_client_agent_state_to_label(kl_client_agent_get_state(agent)));
	state_label = g_hash_table_lookup(self->field_labels, "state");
	gtk_widget_set_css_classes(
		GTK_WIDGET(state_label),
		(const gchar *[]){kl_gui_format_state_css_class(kl_client_agent_get_state(agent)),
				  NULL});
	kl_gui_agent_page_set_field(
		self,
		"state-reason",
		kl_gui_agent_page_reason_label(kl_client_agent_get_state_reason(agent)));
	kl_gui_agent_page_set_field(self, "address", address);
	kl_gui_agent_page_set_field(self, "last-attestation", last);
	kl_gui_agent_page_set_field(self, "last-success", success);
	kl_gui_agent_page_set_field(self, "attestation-count", count);
	kl_gui_agent_page_set_field(self, "consecutive-failures", failures);
	kl_gui_agent_page_set_field(
		self,
		"severity-level",
		self->client != NULL
			? kl_client_severity_to_label(self->client,
						      kl_client_agent_get_severity_level(agent))
			: "");
	kl_gui_agent_page_set_field(self,
				    "last-event-id",
				    kl_client_agent_get_last_event_id(agent));
	kl_gui_agent_page_set_field(self,
				    "runtime-policy",
				    kl_client_agent_get_runtime_policy(agent));
	kl_gui_agent_page_set_field(self, "mb-policy", kl_client_agent_get_mb_policy(agent));
	kl_gui_agent_page_set_field(self, "hash-alg", kl_client_agent_get_hash_alg(agent));
	kl_gui_agent_page_set_field(self, "sign-alg", kl_client_agent_get_sign_alg(agent));
	kl_gui_agent_page_set_field(self, "enc-alg", kl_client_agent_get_enc_alg(agent));
}

static void
kl_gui_agent_page_agent_notify_cb(GObject *object, GParamSpec *pspec, gpointer user_data)
{
	kl_gui_agent_page_update_fields(KL_GUI_AGENT_PAGE(user_data));
}

static void
kl_gui_agent_page_clear_list(GtkListBox *list)
{
	GtkWidget *child;

	while ((child = gtk_widget_get_first_child(GTK_WIDGET(list))) != NULL)
		gtk_list_box_remove(list, child);
}

static void
kl_gui_agent_page_add_row(GtkListBox *list,
			  const gchar *first,
			  const gchar *second,
			  const gchar *third)
{
	const gchar *texts[] = {first, second, third};
	GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 12);

	for (guint i = 0; i < G_N_ELEMENTS(texts); i++) {
		GtkWidget *label = gtk_label_new(texts[i]);

		gtk_label_set_xalign(GTK_LABEL(label), 0);
		gtk_label_set_selectable(GTK_LABEL(label), TRUE);
		gtk_label_set_ellipsize(GTK_LABEL(label), PANGO_ELLIPSIZE_MIDDLE);
		gtk_widget_set_hexpand(label, i < 2);
		gtk_box_append(GTK_BOX(box), label);
	}
	gtk_widget_set_margin_start(box, 6);
	gtk_widget_set_margin_end(box, 6);
	gtk_list_box_append(list, box);
}

static void
kl_gui_agent_page_add_empty_row(GtkListBox *list, const gchar *text)
{
	GtkWidget *label = gtk_label_new(text);

	gtk_label_set_xalign(GTK_LABEL(label), 0);
	gtk_widget_add_css_class(label, "dim-label");
	gtk_list_box_append(list, label);
}

static void
kl_gui_agent_page_failures_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) events =
		kl_client_get_failures_finish(KL_CLIENT(source), result, &error);
	KlGuiAgentPage *self;
	guint n_findings = 0;

	if (events == NULL && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	self = KL_GUI_AGENT_PAGE(user_data);
	kl_gui_agent_page_clear_list(self->ima_list);
	kl_gui_agent_page_clear_list(self->findings_list);
	g_ptr_array_set_size(self->ima_paths, 0);
	if (events == NULL) {
		g_debug("GetFailures: %s", error->message);
		kl_gui_agent_page_add_empty_row(self->ima_list, error->message);
		return;
	}
	for (guint i = 0; i < events->len; i++) {
		KlClientEvent *event = g_ptr_array_index(events, i);
		const gchar *event_id = kl_client_event_get_event_id(event);
		g_autofree gchar *time = kl_gui_format_time(kl_client_event_get_time(event));

		if (g_str_has_prefix(event_id, "ima.")) {
			kl_gui_agent_page_add_row(self->ima_list,
						  kl_client_event_get_subject(event),
						  event_id,
						  time);
			g_ptr_array_add(self->ima_paths,
					g_strdup(kl_client_event_get_subject(event)));
		} else {
			kl_gui_agent_page_add_row(self->findings_list,
						  event_id,
						  kl_client_event_get_severity_label(event),
						  time);
			n_findings++;
		}
	}
	if (self->ima_paths->len == 0)
		kl_gui_agent_page_add_empty_row(self->ima_list, _("No failed IMA entries"));
	if (n_findings == 0)
		kl_gui_agent_page_add_empty_row(self->findings_list, _("No findings"));
}

static void
kl_gui_agent_page_revocations_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) events =
		kl_client_get_revocations_finish(KL_CLIENT(source), result, &error);
	KlGuiAgentPage *self;

	if (events == NULL && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	self = KL_GUI_AGENT_PAGE(user_data);
	kl_gui_agent_page_clear_list(self->revocations_list);
	self->n_revocations = 0;
	if (events == NULL) {
		kl_gui_agent_page_add_empty_row(self->revocations_list, error->message);
		return;
	}
	for (guint i = 0; i < events->len; i++) {
		KlClientEvent *event = g_ptr_array_index(events, i);
		g_autofree gchar *time = kl_gui_format_time(kl_client_event_get_time(event));

		kl_gui_agent_page_add_row(self->revocations_list,
					  kl_client_event_get_event_id(event),
					  kl_client_event_get_severity_label(event),
					  time);
	}
	self->n_revocations = events->len;
	if (events->len == 0)
		kl_gui_agent_page_add_empty_row(self->revocations_list, _("No revocations"));
}

static void
kl_gui_agent_page_fetch_history(KlGuiAgentPage *self)
{
	g_cancellable_cancel(self->cancellable);
	g_clear_object(&self->cancellable);
	if (self->client == NULL || self->agent_id == NULL)
		return;
	self->cancellable = g_cancellable_new();
	kl_client_get_failures_async(self->client,
				     self->agent_id,
				     KL_GUI_AGENT_PAGE_MAX_HISTORY,
				     self->cancellable,
				     kl_gui_agent_page_failures_cb,
				     self);
	kl_client_get_revocations_async(self->client,
					self->agent_id,
					KL_GUI_AGENT_PAGE_MAX_HISTORY,
					self->cancellable,
					kl_gui_agent_page_revocations_cb,
					self);
}

static void
kl_gui_agent_page_set_agent(KlGuiAgentPage *self, KlClientAgent *agent)
{
	if (self->agent == agent)
		return;
	if (self->agent != NULL)
		g_signal_handlers_disconnect_by_data(self->agent, self);
	g_set_object(&self->agent, agent);
	if (agent != NULL)
		g_signal_connect_object(agent,
					"notify",
					G_CALLBACK(kl_gui_agent_page_agent_notify_cb),
					self,
					0);
	kl_gui_agent_page_update_fields(self);
}

static void
kl_gui_agent_page_update_actions(KlGuiAgentPage *self)
{
	gboolean enabled = self->agent != NULL && self->may_manage;

	gtk_widget_action_set_enabled(GTK_WIDGET(self), "agent.stop", enabled);
	gtk_widget_action_set_enabled(GTK_WIDGET(self), "agent.reactivate", enabled);
	gtk_widget_action_set_enabled(GTK_WIDGET(self), "agent.remove", enabled);
}

static void
kl_gui_agent_page_lookup(KlGuiAgentPage *self)
{
	KlClientAgent *agent = NULL;

	if (self->client != NULL && self->agent_id != NULL)
		agent = kl_client_lookup_agent(self->client, self->agent_id);
	if (agent != self->agent) {
		kl_gui_agent_page_set_agent(self, agent);
		kl_gui_agent_page_update_actions(self);
	}
}

static void
kl_gui_agent_page_client_changed_cb(KlClient *client, gpointer user_data)
{
	/* the agent may come (enrolled) or go (removed) */
	kl_gui_agent_page_lookup(KL_GUI_AGENT_PAGE(user_data));
}

static void
kl_gui_agent_page_events_changed_cb(GListModel *events,
				    guint position,
				    guint removed,
				    guint added,
				    gpointer user_data)
{
	KlGuiAgentPage *self = KL_GUI_AGENT_PAGE(user_data);

	for (guint i = position; i < position + added; i++) {
		g_autoptr(KlClientEvent) event = g_list_model_get_item(events, i);

		if (event != NULL &&
		    g_strcmp0(kl_client_event_get_agent_id(event), self->agent_id) == 0) {
			kl_gui_agent_page_fetch_history(self);
			return;
		}
	}
}

static void
kl_gui_agent_page_authorization_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(KlGuiAgentPage) self = user_data;
	g_autoptr(GError) error = NULL;
	gboolean may = kl_client_check_authorization_finish(KL_CLIENT(source), result, &error);

	if (self->client != KL_CLIENT(source))
		return;
	/* cannot tell: leave it to the verifier's answer */
	self->may_manage = may || error != NULL;
	if (error != NULL)
		g_debug("cannot ask whether agents may be managed: %s", error->message);
	kl_gui_agent_page_update_actions(self);
}

void
kl_gui_agent_page_set_client(KlGuiAgentPage *self, KlClient *client)
{
	g_return_if_fail(KL_IS_GUI_AGENT_PAGE(self));
	if (self->client != NULL) {
		g_signal_handlers_disconnect_by_data(self->client, self);
		g_signal_handlers_disconnect_by_data(kl_client_get_events(self->client), self);
	}
	g_set_object(&self->client, client);
	if (client != NULL) {
		g_signal_connect_object(client,
					"changed",
					G_CALLBACK(kl_gui_agent_page_client_changed_cb),
					self,
					0);
		g_signal_connect_object(kl_client_get_events(client),
					"items-changed",
					G_CALLBACK(kl_gui_agent_page_events_changed_cb),
					self,
					0);
		kl_client_check_authorization_async(client,
						    "org.keylime.verifier.manage-agents",
						    NULL,
						    kl_gui_agent_page_authorization_cb,
						    g_object_ref(self));
	}
	self->may_manage = FALSE;
	kl_gui_agent_page_update_actions(self);
	kl_gui_agent_page_lookup(self);
	kl_gui_agent_page_fetch_history(self);
}

void
kl_gui_agent_page_set_agent_id(KlGuiAgentPage *self, const gchar *agent_id)
{
	g_return_if_fail(KL_IS_GUI_AGENT_PAGE(self));
	if (g_strcmp0(self->agent_id, agent_id) == 0)
		return;
	g_free(self->agent_id);
	self->agent_id = g_strdup(agent_id);
	gtk_label_set_text(self->title_label, agent_id);
	gtk_widget_set_visible(GTK_WIDGET(self->error_label), FALSE);
	kl_gui_agent_page_clear_list(self->ima_list);
	kl_gui_agent_page_clear_list(self->findings_list);
	kl_gui_agent_page_clear_list(self->revocations_list);
	g_ptr_array_set_size(self->ima_paths, 0);
	self->n_revocations = 0;
	kl_gui_agent_page_lookup(self);
	kl_gui_agent_page_update_actions(self);
	kl_gui_agent_page_fetch_history(self);
}

const gchar *
kl_gui_agent_page_get_agent_id(KlGuiAgentPage *self)
{
	g_return_val_if_fail(KL_IS_GUI_AGENT_PAGE(self), NULL);
	return self->agent_id;
}

const gchar *
kl_gui_agent_page_get_field_text(KlGuiAgentPage *self, const gchar *field)
{
	GtkLabel *label;

	g_return_val_if_fail(KL_IS_GUI_AGENT_PAGE(self), NULL);
	label = g_hash_table_lookup(self->field_labels, field);
	return label != NULL ? gtk_label_get_text(label) : NULL;
}

GStrv
kl_gui_agent_page_dup_ima_paths(KlGuiAgentPage *self)
{
	GStrvBuilder *builder = g_strv_builder_new();
	GStrv paths;

	for (guint i = 0; i < self->ima_paths->len; i++)
		g_strv_builder_add(builder, g_ptr_array_index(self->ima_paths, i));
	paths = g_strv_builder_end(builder);
	g_strv_builder_unref(builder);
	return paths;
}

guint
kl_gui_agent_page_get_n_revocations(KlGuiAgentPage *self)
{
	g_return_val_if_fail(KL_IS_GUI_AGENT_PAGE(self), 0);
	return self->n_revocations;
}

/* One agent action in flight: the page and the action's name. */
typedef struct {
	KlGuiAgentPage *self; /* strong */
	gchar *action_name;
} KlGuiAgentPageAction;

static void
kl_gui_agent_page_action_free(KlGuiAgentPageAction *action)
{
	g_object_unref(action->self);
	g_free(action->action_name);
	g_free(action);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlGuiAgentPageAction, kl_gui_agent_page_action_free)

static void
kl_gui_agent_page_action_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(KlGuiAgentPageAction) action = user_data;
	KlGuiAgentPage *self = action->self;
	KlClient *client = KL_CLIENT(source);
	g_autoptr(GError) error = NULL;
	gboolean ok;

	if (g_str_equal(action->action_name, "agent.stop"))
		ok = kl_client_stop_agent_finish(client, result, &error);
	else if (g_str_equal(action->action_name, "agent.reactivate"))
		ok = kl_client_reactivate_agent_finish(client, result, &error);
	else
		ok = kl_client_remove_agent_finish(client, result, &error);
	if (ok) {
		gtk_widget_set_visible(GTK_WIDGET(self->error_label), FALSE);
		return;
	}
	if (g_error_matches(error, KL_ERROR, KL_ERROR_PERMISSION_DENIED) ||
	    g_error_matches(error, KL_ERROR, KL_ERROR_NOT_AUTHENTICATED) ||
	    g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED) ||
	    g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_AUTH_FAILED))
		gtk_widget_action_set_enabled(GTK_WIDGET(self), action->action_name, FALSE);
	gtk_label_set_text(self->error_label, error->message);
	gtk_widget_set_visible(GTK_WIDGET(self->error_label), TRUE);
}

static void
kl_gui_agent_page_action_activated(GtkWidget *widget, const gchar *action_name, GVariant *parameter)
{
	KlGuiAgentPage *self = KL_GUI_AGENT_PAGE(widget);
	KlGuiAgentPageAction *action;

	if (self->client == NULL || self->agent_id == NULL)
		return;
	action = g_new0(KlGuiAgentPageAction, 1);
	action->self = g_object_ref(self);
	action->action_name = g_strdup(action_name);
	if (g_str_equal(action_name, "agent.stop"))
		kl_client_stop_agent_async(self->client,
					   self->agent_id,
					   NULL,
					   kl_gui_agent_page_action_cb,
					   action);
	else if (g_str_equal(action_name, "agent.reactivate"))
		kl_client_reactivate_agent_async(self->client,
						 self->agent_id,
						 NULL,
						 kl_gui_agent_page_action_cb,
						 action);
	else
		kl_client_remove_agent_async(self->client,
					     self->agent_id,
					     NULL,
					     kl_gui_agent_page_action_cb,
					     action);
}

static void
kl_gui_agent_page_dispose(GObject *object)
{
	KlGuiAgentPage *self = KL_GUI_AGENT_PAGE(object);

	g_cancellable_cancel(self->cancellable);
	g_clear_object(&self->cancellable);
	kl_gui_agent_page_set_agent(self, NULL);
	if (self->client != NULL) {
		g_signal_handlers_disconnect_by_data(self->client, self);
		g_signal_handlers_disconnect_by_data(kl_client_get_events(self->client), self);
	}
	g_clear_object(&self->client);
	gtk_widget_dispose_template(GTK_WIDGET(self), KL_TYPE_GUI_AGENT_PAGE);
	/* the template's root box is not bound: unparent it here */
	kl_gui_format_unparent_children(GTK_WIDGET(self));
	G_OBJECT_CLASS(kl_gui_agent_page_parent_class)->dispose(object);
}

static void
kl_gui_agent_page_finalize(GObject *object)
{
	KlGuiAgentPage *self = KL_GUI_AGENT_PAGE(object);

	g_hash_table_unref(self->field_labels);
	g_ptr_array_unref(self->ima_paths);
	g_free(self->agent_id);
	G_OBJECT_CLASS(kl_gui_agent_page_parent_class)->finalize(object);
}

static void
kl_gui_agent_page_class_init(KlGuiAgentPageClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

	object_class->dispose = kl_gui_agent_page_dispose;
	object_class->finalize = kl_gui_agent_page_finalize;
	gtk_widget_class_set_template_from_resource(widget_class,
						    "/org/keylime/Console/kl-gui-agent-page.ui");
	gtk_widget_class_bind_template_child(widget_class, KlGuiAgentPage, title_label);
	gtk_widget_class_bind_template_child(widget_class, KlGuiAgentPage, error_label);
	gtk_widget_class_bind_template_child(widget_class, KlGuiAgentPage, fields_grid);
	gtk_widget_class_bind_template_child(widget_class, KlGuiAgentPage, ima_list);
	gtk_widget_class_bind_template_child(widget_class, KlGuiAgentPage, findings_list);
	gtk_widget_class_bind_template_child(widget_class, KlGuiAgentPage, revocations_list);
	gtk_widget_class_install_action(widget_class,
					"agent.stop",
					NULL,
					kl_gui_agent_page_action_activated);
	gtk_widget_class_install_action(widget_class,
					"agent.reactivate",
					NULL,
					kl_gui_agent_page_action_activated);
	gtk_widget_class_install_action(widget_class,
					"agent.remove",
					NULL,
					kl_gui_agent_page_action_activated);
	gtk_widget_class_set_layout_manager_type(widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
kl_gui_agent_page_init(KlGuiAgentPage *self)
{
	gtk_widget_init_template(GTK_WIDGET(self));
	self->field_labels = g_hash_table_new(g_str_hash, g_str_equal);
	self->ima_paths = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < G_N_ELEMENTS(kl_gui_agent_page_fields); i++) {
		const KlGuiAgentPageField *field = &kl_gui_agent_page_fields[i];
		GtkWidget *title = gtk_label_new(_(field->title));
		GtkWidget *value = gtk_label_new("—");

		gtk_label_set_xalign(GTK_LABEL(title), 0);
		gtk_widget_add_css_class(title, "dim-label");
		gtk_label_set_xalign(GTK_LABEL(value), 0);
		gtk_label_set_selectable(GTK_LABEL(value), TRUE);
		gtk_grid_attach(self->fields_grid, title, 0, (gint)i, 1, 1);
		gtk_grid_attach(self->fields_grid, value, 1, (gint)i, 1, 1);
		g_hash_table_insert(self->field_labels, (gpointer)field->property, value);
	}
	kl_gui_agent_page_update_actions(self);
}
