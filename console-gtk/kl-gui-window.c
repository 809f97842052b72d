/*
 * KlGuiWindow: the stack of pages under a header bar with a stack switcher,
 * a banner while the verifier is not on the bus, and the window's size,
 * maximized state and page saved in GSettings (when the schema is
 * installed: a console run from the build tree works without it).
 */
#define G_LOG_DOMAIN "KlConsole"
#include "config.h"

#include <glib/gi18n.h>

#include "kl-gui-enroll-wizard.h"
#include "kl-gui-window.h"

struct _KlGuiWindow {
	GtkApplicationWindow parent_instance;
	GtkStack *stack;
	GtkWidget *banner;
	KlGuiAgentsPage *agents_page;
	KlGuiAgentPage *agent_page;
	KlGuiEventsPage *events_page;
	KlClient *client;
	GSettings *settings;
	GtkWindow *wizard;
};

G_DEFINE_TYPE(KlGuiWindow, kl_gui_window, GTK_TYPE_APPLICATION_WINDOW)

static void
kl_gui_window_update_banner(KlGuiWindow *self)
{
	gtk_widget_set_visible(self->banner,
			       self->client == NULL || !kl_client_get_connected(self->client));
}

static void
kl_gui_window_connected_cb(GObject *object, GParamSpec *pspec, gpointer user_data)
{
	kl_gui_window_update_banner(KL_GUI_WINDOW(user_data));
}

void
kl_gui_window_set_client(KlGuiWindow *self, KlClient *client)
{
	g_return_if_fail(KL_IS_GUI_WINDOW(self));
	if (self->client != NULL)
		g_signal_handlers_disconnect_by_data(self->client, self);
	g_set_object(&self->client, client);
	if (client != NULL)
		g_signal_connect_object(client,
					"notify::connected",
					G_CALLBACK(kl_gui_window_connected_cb),
					self,
					0);
	kl_gui_agents_page_set_client(self->agents_page, client);
	kl_gui_agent_page_set_client(self->agent_page, client);
	kl_gui_events_page_set_client(self->events_page, client);
	gtk_widget_action_set_enabled(GTK_WIDGET(self), "win.enroll", client != NULL);
	kl_gui_window_update_banner(self);
}

void
kl_gui_window_show_page(KlGuiWindow *self, const gchar *name)
{
	g_return_if_fail(KL_IS_GUI_WINDOW(self));
	if (gtk_stack_get_child_by_name(self->stack, name) != NULL)
		gtk_stack_set_visible_child_name(self->stack, name);
}

void
kl_gui_window_show_agent(KlGuiWindow *self, const gchar *agent_id)
{
	g_return_if_fail(KL_IS_GUI_WINDOW(self));
	kl_gui_agent_page_set_agent_id(self->agent_page, agent_id);
	gtk_stack_set_visible_child_name(self->stack, "agent");
}

KlGuiAgentsPage *
kl_gui_window_get_agents_page(KlGuiWindow *self)
{
	return self->agents_page;
}

KlGuiAgentPage *
kl_gui_window_get_agent_page(KlGuiWindow *self)
{
	return self->agent_page;
}

KlGuiEventsPage *
kl_gui_window_get_events_page(KlGuiWindow *self)
{
	return self->events_page;
}

GtkWindow *
kl_gui_window_get_enroll_wizard(KlGuiWindow *self)
{
	return self->wizard;
}

static void
kl_gui_window_agent_activated_cb(KlGuiAgentsPage *page, const gchar *agent_id, gpointer user_data)
{
	kl_gui_window_show_agent(KL_GUI_WINDOW(user_data), agent_id);
}

static void
kl_gui_window_wizard_destroy_cb(GtkWidget *wizard, gpointer user_data)
{
	KlGuiWindow *self = KL_GUI_WINDOW(user_data);

	if (self->wizard == GTK_WINDOW(wizard))
		self->wizard = NULL;
}

static void
kl_gui_window_enroll_activated(GtkWidget *widget, const gchar *action_name, GVariant *parameter)
{
	KlGuiWindow *self = KL_GUI_WINDOW(widget);

	if (self->client == NULL)
		return;
	if (self->wizard != NULL) {
		gtk_window_present(self->wizard);
		return;
	}
	self->wizard = GTK_WINDOW(kl_gui_enroll_wizard_new(GTK_WINDOW(self), self->client));
	g_signal_connect_object(self->wizard,
				"destroy",
				G_CALLBACK(kl_gui_window_wizard_destroy_cb),
				self,
				0);
	gtk_window_present(self->wizard);
}

static void
kl_gui_window_show_page_activated(GtkWidget *widget, const gchar *action_name, GVariant *parameter)
{
	kl_gui_window_show_page(KL_GUI_WINDOW(widget), g_variant_get_string(parameter, NULL));
}

static GSettings *
kl_gui_window_settings_new(void)
{
	GSettingsSchemaSource *source = g_settings_schema_source_get_default();
	g_autoptr(GSettingsSchema) schema = NULL;

	if (source == NULL)
		return NULL;
	schema = g_settings_schema_source_lookup(source, KL_GUI_APPLICATION_ID, TRUE);
	if (schema == NULL) {
		g_debug("schema %s not installed: window state is not kept", KL_GUI_APPLICATION_ID);
		return NULL;
	}
	return g_settings_new_full(schema, NULL, NULL);
}

static void
kl_gui_window_save_state(KlGuiWindow *self)
{
	gint width;
	gint height;
	const gchar *page;

	if (self->settings == NULL)
		return;
	gtk_window_get_default_size(GTK_WINDOW(self), &width, &height);
	g_settings_set_boolean(self->settings,
			       "window-maximized",
			       gtk_window_is_maximized(GTK_WINDOW(self)));
	if (!gtk_window_is_maximized(GTK_WINDOW(self)))
		g_settings_set(self->settings, "window-size", "(ii)", width, height);
	page = gtk_stack_get_visible_child_name(self->stack);
	/* the agent page needs an agent: start on the list */
	if (page != NULL && g_strcmp0(page, "agent") != 0)
		g_settings_set_string(self->settings, "selected-page", page);
}

static gboolean
kl_gui_window_close_request(GtkWindow *window)
{
	kl_gui_window_save_state(KL_GUI_WINDOW(window));
	return GTK_WINDOW_CLASS(kl_gui_window_parent_class)->close_request(window);
}

static void
kl_gui_window_dispose(GObject *object)
{
	KlGuiWindow *self = KL_GUI_WINDOW(object);

	if (self->wizard != NULL)
		gtk_window_destroy(g_steal_pointer(&self->wizard));
	if (self->client != NULL)
		g_signal_handlers_disconnect_by_data(self->client, self);
	g_clear_object(&self->client);
	g_clear_object(&self->settings);
	gtk_widget_dispose_template(GTK_WIDGET(self), KL_TYPE_GUI_WINDOW);
	G_OBJECT_CLASS(kl_gui_window_parent_class)->dispose(object);
}

static void
kl_gui_window_class_init(KlGuiWindowClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
	GtkWindowClass *window_class = GTK_WINDOW_CLASS(klass);

	object_class->dispose = kl_gui_window_dispose;
	window_class->close_request = kl_gui_window_close_request;

	g_type_ensure(KL_TYPE_GUI_AGENTS_PAGE);
	g_type_ensure(KL_TYPE_GUI_AGENT_PAGE);
	g_type_ensure(KL_TYPE_GUI_EVENTS_PAGE);
	gtk_widget_class_set_template_from_resource(widget_class,
						    "/org/keylime/Console/kl-gui-window.ui");
	gtk_widget_class_bind_template_child(widget_class, KlGuiWindow, stack);
	gtk_widget_class_bind_template_child(widget_class, KlGuiWindow, banner);
	gtk_widget_class_bind_template_child(widget_class, KlGuiWindow, agents_page);
	gtk_widget_class_bind_template_child(widget_class, KlGuiWindow, agent_page);
	gtk_widget_class_bind_template_child(widget_class, KlGuiWindow, events_page);
	gtk_widget_class_bind_template_callback(widget_class, kl_gui_window_agent_activated_cb);

	gtk_widget_class_install_action(widget_class,
					"win.enroll",
					NULL,
					kl_gui_window_enroll_activated);
	gtk_widget_class_install_action(widget_class,
					"win.show-page",
					"s",
					kl_gui_window_show_page_activated);
	gtk_widget_class_add_binding_action(widget_class,
					    GDK_KEY_n,
					    GDK_CONTROL_MASK,
					    "win.enroll",
					    NULL);
	gtk_widget_class_add_binding_action(widget_class,
					    GDK_KEY_1,
					    GDK_ALT_MASK,
					    "win.show-page",
					    "s",
					    "agents");
	gtk_widget_class_add_binding_action(widget_class,
					    GDK_KEY_2,
					    GDK_ALT_MASK,
					    "win.show-page",
					    "s",
					    "agent");
	gtk_widget_class_add_binding_action(widget_class,
					    GDK_KEY_3,
					    GDK_ALT_MASK,
					    "win.show-page",
					    "s",
					    "events");
}

static void
kl_gui_window_init(KlGuiWindow *self)
{
	g_autoptr(GtkCssProvider) css = gtk_css_provider_new();

	gtk_widget_init_template(GTK_WIDGET(self));
	gtk_css_provider_load_from_resource(css, "/org/keylime/Console/style.css");
	gtk_style_context_add_provider_for_display(gtk_widget_get_display(GTK_WIDGET(self)),
						   GTK_STYLE_PROVIDER(css),
						   GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
	gtk_widget_action_set_enabled(GTK_WIDGET(self), "win.enroll", FALSE);

	self->settings = kl_gui_window_settings_new();
	if (self->settings != NULL) {
		gint width;
		gint height;
		g_autofree gchar *page = NULL;

		g_settings_get(self->settings, "window-size", "(ii)", &width, &height);
		gtk_window_set_default_size(GTK_WINDOW(self), width, height);
		if (g_settings_get_boolean(self->settings, "window-maximized"))
			gtk_window_maximize(GTK_WINDOW(self));
		page = g_settings_get_string(self->settings, "selected-page");
		kl_gui_window_show_page(self, page);
	}
}

KlGuiWindow *
kl_gui_window_new(KlGuiApplication *app)
{
	return g_object_new(KL_TYPE_GUI_WINDOW, "application", app, NULL);
}
