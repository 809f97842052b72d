/*
 * keylime_registrar: reads registrar.conf, opens the database, serves the
 * agent-facing port (plain HTTP, open) and the admin port (HTTPS, client
 * certificates from the configured CA), and owns org.keylime.Registrar1
 * on the system bus (--session: the session bus; --no-dbus: none).
 * SIGTERM and SIGINT stop it cleanly.
 */
#include "config.h"

#include <locale.h>

#include <glib-unix.h>
#include <glib/gi18n.h>

#include "kl-config.h"
#include "kl-error.h"
#include "kl-http-server.h"
#include "kl-http-tls-files.h"
#include "kl-registrar-dbus.h"
#include "kl-registrar-rest.h"
#include "kl-registrar.h"

#define KL_REGISTRAR_SECTION "registrar"

typedef struct {
	GMainLoop *loop;
	KlConfig *config;
	KlRegistrar *registrar;
	KlHttpServer *agent_server;
	KlHttpServer *admin_server;
	GDBusConnection *bus;
	KlRegistrarDBus *dbus;
	guint bus_name_id;
	KlDBusAuthMode auth_mode;
	gint exit_status;
} KlRegistrarDaemon;

static void
kl_registrar_daemon_clear(KlRegistrarDaemon *daemon)
{
	if (daemon->bus_name_id != 0)
		g_bus_unown_name(daemon->bus_name_id);
	g_clear_pointer(&daemon->dbus, kl_registrar_dbus_free);
	g_clear_object(&daemon->bus);
	if (daemon->agent_server != NULL)
		kl_http_server_stop(daemon->agent_server);
	if (daemon->admin_server != NULL)
		kl_http_server_stop(daemon->admin_server);
	g_clear_object(&daemon->agent_server);
	g_clear_object(&daemon->admin_server);
	g_clear_object(&daemon->registrar);
	g_clear_object(&daemon->config);
	g_clear_pointer(&daemon->loop, g_main_loop_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(KlRegistrarDaemon, kl_registrar_daemon_clear)

static gboolean
kl_registrar_daemon_open(KlRegistrarDaemon *daemon, const gchar *keylime_dir, GError **error)
{
	g_autofree gchar *path = NULL;
	KlRegistrarTpmIdentity identity = KL_REGISTRAR_TPM_IDENTITY_DEFAULT;
	KlRegistrarStore *store;
	const gchar *database_url;
	const gchar *tpm_identity;

	tpm_identity = kl_config_get_string(daemon->config,
					    KL_REGISTRAR_SECTION,
					    "tpm_identity",
					    "default");
	if (!kl_registrar_tpm_identity_from_string(tpm_identity, &identity, error))
		return FALSE;
	database_url = kl_config_get_string(daemon->config,
					    KL_REGISTRAR_SECTION,
					    "database_url",
					    "sqlite");
	path = kl_store_resolve_url(database_url, keylime_dir, KL_STORE_REGISTRAR_FILE, error);
	if (path == NULL)
		return FALSE;
	store = kl_registrar_store_open(path, error);
	if (store == NULL)
		return FALSE;
	g_message("database %s", path);
	daemon->registrar = kl_registrar_new(store, identity);
	return TRUE;
}

static gboolean
kl_registrar_daemon_listen(KlRegistrarDaemon *daemon, const gchar *keylime_dir, GError **error)
{
	g_autoptr(KlHttpRouter) router = NULL;
	g_autoptr(KlHttpTlsFiles) tls = NULL;
	g_autofree gchar *agent_url = NULL;
	g_autofree gchar *admin_url = NULL;
	KlHttpServerOptions agent_options = {0};
	KlHttpServerOptions admin_options = {0};
	const gchar *ip;
	gint64 port = 0;
	gint64 tls_port = 0;

	ip = kl_config_get_string(daemon->config, KL_REGISTRAR_SECTION, "ip", "127.0.0.1");
	if (!kl_config_get_int(daemon->config,
			       KL_REGISTRAR_SECTION,
			       "port",
			       8890,
			       0,
			       65535,
			       &port,
			       error) ||
	    !kl_config_get_int(daemon->config,
			       KL_REGISTRAR_SECTION,
			       "tls_port",
			       8891,
			       0,
			       65535,
			       &tls_port,
			       error))
		return FALSE;
	tls = kl_http_tls_files_from_config(daemon->config,
					    KL_REGISTRAR_SECTION,
					    keylime_dir,
					    "reg_ca",
					    error);
	if (tls == NULL)
		return FALSE;
	if (tls->server_key_password != NULL) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_NOT_SUPPORTED,
				    "server_key_password: encrypted server keys are not supported; "
				    "leave it empty");
		return FALSE;
	}

	router = kl_registrar_rest_router_new(daemon->registrar, error);
	if (router == NULL)
		return FALSE;

	agent_options.ip = ip;
	agent_options.port = (guint16)port;
	daemon->agent_server = kl_http_server_new(router, &agent_options, error);
	if (daemon->agent_server == NULL || !kl_http_server_listen(daemon->agent_server, error))
		return FALSE;

	/* admin routes need a certificate; registration stays open here too,
	 * for agents with registrar_tls_enabled (upstream's CERT_OPTIONAL) */
	admin_options.ip = ip;
	admin_options.port = (guint16)tls_port;
	admin_options.tls = TRUE;
	admin_options.server_cert = tls->server_cert;
	admin_options.server_key = tls->server_key;
	admin_options.trusted_client_ca = tls->trusted_client_ca;
	admin_options.client_cert = KL_HTTP_CLIENT_CERT_OPTIONAL;
	daemon->admin_server = kl_http_server_new(router, &admin_options, error);
	if (daemon->admin_server == NULL || !kl_http_server_listen(daemon->admin_server, error))
		return FALSE;

	agent_url = kl_http_server_get_url(daemon->agent_server);
	admin_url = kl_http_server_get_url(daemon->admin_server);
	g_message("listening for agents on %s", agent_url);
	g_message("listening for administrators on %s", admin_url);
	return TRUE;
}

static void
kl_registrar_daemon_name_acquired_cb(GDBusConnection *connection,
				     const gchar *name,
				     gpointer user_data)
{
	g_message("owning %s on D-Bus", name);
}

static void
kl_registrar_daemon_name_lost_cb(GDBusConnection *connection, const gchar *name, gpointer user_data)
{
	/* REST is what agents and tenants need; keep serving it */
	g_warning("could not own %s on D-Bus; serving REST only", name);
}

static gboolean
kl_registrar_daemon_export(KlRegistrarDaemon *daemon, GBusType bus_type, GError **error)
{
	daemon->bus = g_bus_get_sync(bus_type, NULL, error);
	if (daemon->bus == NULL)
		return FALSE;
	daemon->dbus =
		kl_registrar_dbus_new(daemon->registrar, daemon->bus, daemon->auth_mode, error);
	if (daemon->dbus == NULL)
		return FALSE;
	daemon->bus_name_id = g_bus_own_name_on_connection(daemon->bus,
							   KL_REGISTRAR_DBUS_NAME,
							   G_BUS_NAME_OWNER_FLAGS_NONE,
							   kl_registrar_daemon_name_acquired_cb,
							   kl_registrar_daemon_name_lost_cb,
							   NULL,
							   NULL);
	return TRUE;
}

static gboolean
kl_registrar_daemon_quit_cb(gpointer user_data)
{
	KlRegistrarDaemon *daemon = user_data;

	g_message("stopping");
	g_main_loop_quit(daemon->loop);
	return G_SOURCE_REMOVE;
}

int
main(int argc, char **argv)
{
	g_auto(KlRegistrarDaemon) daemon = {0};
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *keylime_dir = NULL;
	gboolean session_bus = FALSE;
	gboolean no_dbus = FALSE;
	gboolean version = FALSE;
	const GOptionEntry entries[] = {
		{"session",
		 0,
		 0,
		 G_OPTION_ARG_NONE,
		 &session_bus,
		 "Use the session bus (tests) instead of the system bus",
		 NULL},
		{"no-dbus", 0, 0, G_OPTION_ARG_NONE, &no_dbus, "Serve REST only", NULL},
		{"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL},
		{NULL, 0, 0, G_OPTION_ARG_NONE, NULL, NULL, NULL},
	};

	setlocale(LC_ALL, "");
	context = g_option_context_new(NULL);
	g_option_context_set_summary(context,
				     "Keylime registrar: binds each agent's AK to its TPM's EK.\n"
				     "Configuration: registrar.conf (KEYLIME_REGISTRAR_CONFIG), "
				     "state under KEYLIME_DIR (/var/lib/keylime).");
	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("keylime_registrar: %s\n", error->message);
		return 2;
	}
	if (version) {
		g_print("keylime_registrar (keylime-c) %s\n", PACKAGE_VERSION);
		return 0;
	}

	daemon.loop = g_main_loop_new(NULL, FALSE);
	daemon.config = kl_config_new();
	daemon.auth_mode = session_bus ? KL_DBUS_AUTH_SAME_USER : KL_DBUS_AUTH_POLKIT;
	keylime_dir = kl_http_tls_files_default_keylime_dir();
	if (!kl_config_load_component(daemon.config, "registrar", &error) ||
	    !kl_registrar_daemon_open(&daemon, keylime_dir, &error) ||
	    !kl_registrar_daemon_listen(&daemon, keylime_dir, &error)) {
		g_printerr("keylime_registrar: %s\n", error->message);
		return 1;
	}
	if (!no_dbus &&
	    !kl_registrar_daemon_export(&daemon,
					session_bus ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM,
					&error)) {
		g_warning("D-Bus: %s; serving REST only", error->message);
		g_clear_error(&error);
	}

	g_unix_signal_add(SIGTERM, kl_registrar_daemon_quit_cb, &daemon);
	g_unix_signal_add(SIGINT, kl_registrar_daemon_quit_cb, &daemon);
	g_main_loop_run(daemon.loop);
	return daemon.exit_status;
}
