/*
 * keylime_verifier: reads verifier.conf, opens cv_data.sqlite, starts the
 * attestation engine (KlVerifier, whose agent table lives in shared
 * memory), serves the tenant-facing REST API (HTTPS, client certificates
 * from the configured CA) and owns org.keylime.Verifier1 on the system bus
 * (--session: the session bus; --no-dbus: none).  SIGTERM and SIGINT stop
 * it cleanly: the agent table is unlinked and the database closed.
 */
#include "config.h"

#include <locale.h>

#include <glib-unix.h>

#include "kl-config.h"
#include "kl-error.h"
#include "kl-http-tls-files.h"
#include "kl-verifier-config.h"
#include "kl-verifier-dbus.h"
#include "kl-verifier-rest.h"
#include "kl-verifier.h"

typedef struct {
	GMainLoop *loop;
	KlConfig *config;
	KlVerifierConfig *settings;
	KlVerifier *verifier;
	KlVerifierStore *store; /* owned by verifier */
	KlVerifierRest *rest;
	GDBusConnection *bus;
	KlVerifierDbus *dbus;
	guint bus_name_id;
	KlDBusAuthMode auth_mode;
} KlVerifierDaemon;

static void
kl_verifier_daemon_clear(KlVerifierDaemon *daemon)
{
	/* front-ends first: nobody may call into the engine while it goes */
	if (daemon->bus_name_id != 0)
		g_bus_unown_name(daemon->bus_name_id);
	daemon->bus_name_id = 0;
	g_clear_pointer(&daemon->dbus, kl_verifier_dbus_free);
	if (daemon->bus != NULL)
		g_dbus_connection_flush_sync(daemon->bus, NULL, NULL);
	g_clear_object(&daemon->bus);
	if (daemon->rest != NULL)
		kl_verifier_rest_stop(daemon->rest);
	g_clear_object(&daemon->rest);
	/* the engine unlinks the table and closes the store */
	daemon->store = NULL;
	g_clear_object(&daemon->verifier);
	g_clear_pointer(&daemon->settings, kl_verifier_config_free);
	g_clear_object(&daemon->config);
	g_clear_pointer(&daemon->loop, g_main_loop_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(KlVerifierDaemon, kl_verifier_daemon_clear)

static gboolean
kl_verifier_daemon_open(KlVerifierDaemon *daemon,
			const gchar *keylime_dir,
			const gchar *shm_name,
			GError **error)
{
	KlVerifierOptions defaults;
	KlVerifierStore *store;

	kl_verifier_options_init(&defaults);
	daemon->settings = kl_verifier_config_new(daemon->config, keylime_dir, &defaults, error);
	if (daemon->settings == NULL)
		return FALSE;
	if (shm_name != NULL)
		daemon->settings->options.shm_name = shm_name;

	store = kl_verifier_store_open(daemon->settings->database_path, error);
	if (store == NULL)
		return FALSE;
	g_message("database %s", daemon->settings->database_path);
	daemon->store = store;
	daemon->verifier = kl_verifier_new(&daemon->settings->options, store, error);
	if (daemon->verifier == NULL) {
		daemon->store = NULL;
		return FALSE;
	}
	g_message("agent table in shared memory %s", kl_verifier_get_shm_name(daemon->verifier));
	return TRUE;
}

static gboolean
kl_verifier_daemon_listen(KlVerifierDaemon *daemon, GError **error)
{
	KlVerifierConfig *settings = daemon->settings;
	KlVerifierRestOptions options;
	g_autofree gchar *url = NULL;

	kl_verifier_rest_options_init(&options);
	options.server.ip = settings->ip;
	options.server.port = settings->port;
	options.server.tls = TRUE;
	options.server.server_cert = settings->tls->server_cert;
	options.server.server_key = settings->tls->server_key;
	options.server.trusted_client_ca = settings->tls->trusted_client_ca;
	options.server.client_cert = KL_HTTP_CLIENT_CERT_REQUIRED;
	options.max_upload_size = settings->options.max_upload_size;
	options.mb_policy_name = settings->options.mb_default_policy_name;

	daemon->rest = kl_verifier_rest_new(daemon->verifier, daemon->store, &options, error);
	if (daemon->rest == NULL || !kl_verifier_rest_listen(daemon->rest, error))
		return FALSE;
	url = kl_verifier_rest_get_url(daemon->rest);
	g_message("listening for tenants on %s", url);
	return TRUE;
}

static void
kl_verifier_daemon_name_acquired_cb(GDBusConnection *connection,
				    const gchar *name,
				    gpointer user_data)
{
	g_message("owning %s", name);
}

static void
kl_verifier_daemon_name_lost_cb(GDBusConnection *connection, const gchar *name, gpointer user_data)
{
	/* attestation and REST go on without the bus */
	g_warning("could not own %s on D-Bus; serving REST only", name);
}

static gboolean
kl_verifier_daemon_export(KlVerifierDaemon *daemon, GBusType bus_type, GError **error)
{
	daemon->bus = g_bus_get_sync(bus_type, NULL, error);
	if (daemon->bus == NULL)
		return FALSE;
	/* a vanished bus must not take the attestation engine with it */
	g_dbus_connection_set_exit_on_close(daemon->bus, FALSE);
	daemon->dbus = kl_verifier_dbus_new(daemon->verifier,
					    daemon->bus,
					    daemon->auth_mode,
					    daemon->settings->options.max_upload_size,
					    error);
	if (daemon->dbus == NULL)
		return FALSE;
	daemon->bus_name_id = g_bus_own_name_on_connection(daemon->bus,
							   KL_VERIFIER_DBUS_NAME,
							   G_BUS_NAME_OWNER_FLAGS_NONE,
							   kl_verifier_daemon_name_acquired_cb,
							   kl_verifier_daemon_name_lost_cb,
							   NULL,
							   NULL);
	return TRUE;
}

static gboolean
kl_verifier_daemon_quit_cb(gpointer user_data)
{
	KlVerifierDaemon *daemon = user_data;

	if (g_main_loop_is_running(daemon->loop))
		g_message("stopping");
	g_main_loop_quit(daemon->loop);
	/* removed by main(), so that a second signal is no default action */
	return G_SOURCE_CONTINUE;
}

int
main(int argc, char **argv)
{
	g_auto(KlVerifierDaemon) daemon = {0};
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *keylime_dir = NULL;
	g_autofree gchar *config_path = NULL;
	g_autofree gchar *state_dir = NULL;
	g_autofree gchar *shm_name = NULL;
	gboolean session_bus = FALSE;
	gboolean no_dbus = FALSE;
	gboolean version = FALSE;
	guint sigterm_id;
	guint sigint_id;
	const GOptionEntry entries[] = {
		{"config",
		 'c',
		 0,
		 G_OPTION_ARG_FILENAME,
		 &config_path,
		 "verifier.conf to read (drop-ins beside it apply)",
		 "FILE"},
		{"state-dir",
		 0,
		 0,
		 G_OPTION_ARG_FILENAME,
		 &state_dir,
		 "State directory (default $KEYLIME_DIR or /var/lib/keylime)",
		 "DIR"},
		{"shm-name",
		 0,
		 0,
		 G_OPTION_ARG_STRING,
		 &shm_name,
		 "Name of the shared-memory agent table (default: a fresh one)",
		 "/NAME"},
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
	g_option_context_set_summary(
		context,
		"Keylime verifier: attests every enrolled agent continuously.\n"
		"Configuration: verifier.conf (KEYLIME_VERIFIER_CONFIG), "
		"state under KEYLIME_DIR (/var/lib/keylime).");
	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("keylime_verifier: %s\n", error->message);
		return 2;
	}
	if (version) {
		g_print("keylime_verifier (keylime-c) %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (argc > 1) {
		g_printerr("keylime_verifier: unexpected argument %s\n", argv[1]);
		return 2;
	}
	if (config_path != NULL && !g_file_test(config_path, G_FILE_TEST_IS_REGULAR)) {
		g_printerr("keylime_verifier: --config %s is not a file\n", config_path);
		return 2;
	}
	if (config_path != NULL)
		g_setenv("KEYLIME_VERIFIER_CONFIG", config_path, TRUE);

	daemon.loop = g_main_loop_new(NULL, FALSE);
	daemon.config = kl_config_new();
	daemon.auth_mode = session_bus ? KL_DBUS_AUTH_SAME_USER : KL_DBUS_AUTH_POLKIT;
	keylime_dir = state_dir != NULL ? g_strdup(state_dir)
					: kl_http_tls_files_default_keylime_dir();
	/* the signal sources exist before anything that needs a clean stop */
	sigterm_id = g_unix_signal_add(SIGTERM, kl_verifier_daemon_quit_cb, &daemon);
	sigint_id = g_unix_signal_add(SIGINT, kl_verifier_daemon_quit_cb, &daemon);
	if (!kl_config_load_component(daemon.config, "verifier", &error) ||
	    !kl_verifier_daemon_open(&daemon, keylime_dir, shm_name, &error) ||
	    !kl_verifier_start(daemon.verifier, &error) ||
	    !kl_verifier_daemon_listen(&daemon, &error)) {
		g_printerr("keylime_verifier: %s\n", error->message);
		g_source_remove(sigterm_id);
		g_source_remove(sigint_id);
		return 1;
	}
	if (!no_dbus &&
	    !kl_verifier_daemon_export(&daemon,
				       session_bus ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM,
				       &error)) {
		g_warning("D-Bus: %s; serving REST only", error->message);
		g_clear_error(&error);
	}
	g_message("%u agents, quote interval %.1f s",
		  kl_verifier_get_n_agents(daemon.verifier),
		  kl_verifier_get_quote_interval(daemon.verifier));

	g_main_loop_run(daemon.loop);
	g_source_remove(sigterm_id);
	g_source_remove(sigint_id);
	kl_verifier_daemon_clear(&daemon);
	g_message("stopped");
	return 0;
}
