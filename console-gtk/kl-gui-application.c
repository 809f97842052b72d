/*
 * KlGuiApplication: the bus chosen from the command line, one KlClient made
 * asynchronously, one window.  The window exists at once and shows "not
 * connected" until the client is there.
 */
#define G_LOG_DOMAIN "KlConsole"
#include "config.h"

#include <glib/gi18n.h>

#include "kl-gui-application.h"
#include "kl-gui-window.h"

struct _KlGuiApplication {
	GtkApplication parent_instance;
	gboolean session_bus;
	GDBusConnection *connection;
	KlClient *client;
	GCancellable *cancellable;
};

G_DEFINE_TYPE(KlGuiApplication, kl_gui_application, GTK_TYPE_APPLICATION)

KlClient *
kl_gui_application_get_client(KlGuiApplication *self)
{
	g_return_val_if_fail(KL_IS_GUI_APPLICATION(self), NULL);
	return self->client;
}

void
kl_gui_application_set_connection(KlGuiApplication *self, GDBusConnection *connection)
{
	g_return_if_fail(KL_IS_GUI_APPLICATION(self));
	g_set_object(&self->connection, connection);
}

static void
kl_gui_application_client_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(KlGuiApplication) self = user_data;
	g_autoptr(GError) error = NULL;
	KlClient *client = kl_client_new_finish(result, &error);
	GtkWindow *window;

	if (client == NULL) {
		if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			g_warning("cannot watch the verifier: %s", error->message);
		return;
	}
	self->client = client;
	window = gtk_application_get_active_window(GTK_APPLICATION(self));
	if (window != NULL)
		kl_gui_window_set_client(KL_GUI_WINDOW(window), client);
}

static void
kl_gui_application_bus_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(KlGuiApplication) self = user_data;
	g_autoptr(GError) error = NULL;
	GDBusConnection *connection = g_bus_get_finish(result, &error);

	if (connection == NULL) {
		if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			g_warning("cannot connect to the bus: %s", error->message);
		return;
	}
	self->connection = connection;
	kl_client_new_async(connection,
			    self->cancellable,
			    kl_gui_application_client_cb,
			    g_object_ref(self));
}

static void
kl_gui_application_startup(GApplication *app)
{
	KlGuiApplication *self = KL_GUI_APPLICATION(app);
	const gchar *quit_accels[] = {"<Control>q", NULL};

	G_APPLICATION_CLASS(kl_gui_application_parent_class)->startup(app);
	gtk_application_set_accels_for_action(GTK_APPLICATION(app), "app.quit", quit_accels);
	if (self->connection != NULL) {
		kl_client_new_async(self->connection,
				    self->cancellable,
				    kl_gui_application_client_cb,
				    g_object_ref(self));
		return;
	}
	g_bus_get(self->session_bus ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM,
		  self->cancellable,
		  kl_gui_application_bus_cb,
		  g_object_ref(self));
}

static void
kl_gui_application_activate(GApplication *app)
{
	KlGuiApplication *self = KL_GUI_APPLICATION(app);
	GtkWindow *window = gtk_application_get_active_window(GTK_APPLICATION(app));

	if (window == NULL) {
		window = GTK_WINDOW(kl_gui_window_new(self));
		if (self->client != NULL)
			kl_gui_window_set_client(KL_GUI_WINDOW(window), self->client);
	}
	gtk_window_present(window);
}

static gint
kl_gui_application_handle_local_options(GApplication *app, GVariantDict *options)
{
	KlGuiApplication *self = KL_GUI_APPLICATION(app);

	if (g_variant_dict_contains(options, "version")) {
		g_print("keylime-console %s\n", PACKAGE_VERSION);
		return 0;
	}
	self->session_bus = g_variant_dict_contains(options, "session");
	return -1;
}

static void
kl_gui_application_quit_activated(GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
	g_application_quit(G_APPLICATION(user_data));
}

static void
kl_gui_application_dispose(GObject *object)
{
	KlGuiApplication *self = KL_GUI_APPLICATION(object);

	g_cancellable_cancel(self->cancellable);
	g_clear_object(&self->client);
	g_clear_object(&self->connection);
	G_OBJECT_CLASS(kl_gui_application_parent_class)->dispose(object);
}

static void
kl_gui_application_finalize(GObject *object)
{
	KlGuiApplication *self = KL_GUI_APPLICATION(object);

	g_clear_object(&self->cancellable);
	G_OBJECT_CLASS(kl_gui_application_parent_class)->finalize(object);
}

static void
kl_gui_application_class_init(KlGuiApplicationClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GApplicationClass *app_class = G_APPLICATION_CLASS(klass);

	object_class->dispose = kl_gui_application_dispose;
	object_class->finalize = kl_gui_application_finalize;
	app_class->startup = kl_gui_application_startup;
	app_class->activate = kl_gui_application_activate;
	app_class->handle_local_options = kl_gui_application_handle_local_options;
}

static void
kl_gui_application_init(KlGuiApplication *self)
{
	const GActionEntry entries[] = {
		{"quit", kl_gui_application_quit_activated, NULL, NULL, NULL, {0}},
	};
	const GOptionEntry options[] = {
		{"session",
		 0,
		 G_OPTION_FLAG_NONE,
		 G_OPTION_ARG_NONE,
		 NULL,
		 N_("Connect to the session bus instead of the system bus"),
		 NULL},
		{"version",
		 0,
		 G_OPTION_FLAG_NONE,
		 G_OPTION_ARG_NONE,
		 NULL,
		 N_("Print the version and exit"),
		 NULL},
		{NULL, 0, 0, 0, NULL, NULL, NULL},
	};

	self->cancellable = g_cancellable_new();
	g_action_map_add_action_entries(G_ACTION_MAP(self), entries, G_N_ELEMENTS(entries), self);
	g_application_add_main_option_entries(G_APPLICATION(self), options);
	g_application_set_option_context_summary(
		G_APPLICATION(self),
		_("Watch and manage the agents a Keylime verifier attests."));
}

KlGuiApplication *
kl_gui_application_new(void)
{
	return g_object_new(KL_TYPE_GUI_APPLICATION,
			    "application-id",
			    KL_GUI_APPLICATION_ID,
			    "flags",
			    G_APPLICATION_DEFAULT_FLAGS,
			    NULL);
}
