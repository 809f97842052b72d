/*
 * keylime_agent: reads agent.conf, opens the TPM, makes or loads its keys,
 * serves the agent API over mTLS and registers with the registrar.
 * SIGTERM and SIGINT stop it.
 */
#include "config.h"

#include <grp.h>
#include <locale.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <glib-unix.h>

#include "kl-agent-config.h"
#include "kl-agent-identity.h"
#include "kl-agent-registration.h"
#include "kl-agent-secure-dir.h"
#include "kl-agent-service.h"
#include "kl-crypto.h"
#include "kl-error.h"
#include "kl-http-server.h"
#include "kl-tpm-esys.h"
#include "kl-x509.h"

typedef struct {
	GMainLoop *loop;
	KlAgentConfig *config;
	KlTpm *tpm;
	EVP_PKEY *nk;
	gchar *agent_id;
	gchar *secure_dir;
	gchar *mtls_cert_pem;
	gchar *registrar_url;
	gchar *revocation_actions;
	KlAgentPayloadOptions payload;
	KlAgentRevocationOptions revocation;
	KlAgentRegistrationOptions registration;
	KlAgentService *service;
	KlHttpServer *server;
	GCancellable *cancellable;
	gint exit_status;
} KlAgentDaemon;

static void
kl_agent_daemon_clear(KlAgentDaemon *daemon)
{
	if (daemon->cancellable != NULL)
		g_cancellable_cancel(daemon->cancellable);
	if (daemon->server != NULL)
		kl_http_server_stop(daemon->server);
	g_clear_object(&daemon->server);
	g_clear_object(&daemon->service);
	g_clear_object(&daemon->tpm);
	g_clear_pointer(&daemon->nk, EVP_PKEY_free);
	g_clear_object(&daemon->config);
	g_clear_object(&daemon->cancellable);
	g_clear_pointer(&daemon->loop, g_main_loop_unref);
	g_free(daemon->agent_id);
	g_free(daemon->secure_dir);
	g_free(daemon->mtls_cert_pem);
	g_free(daemon->registrar_url);
	g_free(daemon->revocation_actions);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(KlAgentDaemon, kl_agent_daemon_clear)

static gboolean
kl_agent_daemon_parse_alg(KlAgentConfig *config,
			  const gchar *option,
			  gboolean (*from_string)(const gchar *, TPM2_ALG_ID *),
			  TPM2_ALG_ID *alg,
			  GError **error)
{
	const gchar *name = kl_agent_config_get_string(config, option);

	if (name == NULL || !from_string(name, alg)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "%s: %s is not an algorithm this agent supports (%s)",
			    option,
			    name != NULL ? name : "(none)",
			    kl_agent_config_get_source(config, option));
		return FALSE;
	}
	return TRUE;
}

static gboolean
kl_agent_daemon_open_tpm(KlAgentDaemon *daemon, GError **error)
{
	KlTpmOptions options;
	const gchar *ek_handle = kl_agent_config_get_string(daemon->config, "ek_handle");
	guint64 handle = 0;

	kl_tpm_options_init(&options);
	options.tcti = kl_agent_config_get_tcti(daemon->config);
	options.agent_data_path = kl_agent_config_get_agent_data_path(daemon->config);
	if (ek_handle != NULL && ek_handle[0] != '\0' && g_strcmp0(ek_handle, "generate") != 0) {
		const gchar *digits = g_str_has_prefix(ek_handle, "0x") ? ek_handle + 2 : ek_handle;

		if (!g_ascii_string_to_unsigned(digits,
						16,
						0x81000000,
						0x81ffffff,
						&handle,
						NULL)) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "ek_handle: %s is not a persistent handle (0x81xxxxxx) or "
				    "generate",
				    ek_handle);
			return FALSE;
		}
	}
	options.ek_handle = (guint32)handle;
	if (!kl_agent_daemon_parse_alg(daemon->config,
				       "tpm_encryption_alg",
				       kl_tpm_enc_alg_from_string,
				       &options.enc_alg,
				       error) ||
	    !kl_agent_daemon_parse_alg(daemon->config,
				       "tpm_hash_alg",
				       kl_tpm_hash_alg_from_string,
				       &options.hash_alg,
				       error) ||
	    !kl_agent_daemon_parse_alg(daemon->config,
				       "tpm_signing_alg",
				       kl_tpm_sign_alg_from_string,
				       &options.sign_alg,
				       error))
		return FALSE;
	g_message("TPM: %s", options.tcti != NULL ? options.tcti : "tss2's default TCTI");
	daemon->tpm = kl_tpm_esys_new(&options, error);
	return daemon->tpm != NULL;
}

/* hash_ek: the hex SHA-256 of the EK's public key PEM, as the Rust agent */
static gchar *
kl_agent_daemon_hash_ek(KlTpm *tpm, GError **error)
{
	g_autofree gchar *pem = NULL;
	guint8 digest[EVP_MAX_MD_SIZE];
	gsize len = 0;

	pem = kl_key_to_pem_public(kl_tpm_public_get_key(kl_tpm_get_ek(tpm)), error);
	if (pem == NULL)
		return NULL;
	if (!kl_crypto_digest("sha256", (const guint8 *)pem, strlen(pem), digest, &len, error))
		return NULL;
	return kl_crypto_hex_encode(digest, len);
}

static gboolean
kl_agent_daemon_drop_privileges(KlAgentDaemon *daemon, GError **error)
{
	const gchar *run_as = kl_agent_config_get_string(daemon->config, "run_as");
	g_auto(GStrv) parts = NULL;
	struct passwd *user;
	struct group *group;

	if (getuid() != 0 || run_as == NULL || run_as[0] == '\0')
		return TRUE;
	parts = g_strsplit(run_as, ":", 2);
	user = getpwnam(parts[0]);
	group = parts[1] != NULL ? getgrnam(parts[1]) : NULL;
	if (user == NULL || (parts[1] != NULL && group == NULL)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "run_as: %s is not a user[:group] of this system; set run_as = \"\" "
			    "to stay root",
			    run_as);
		return FALSE;
	}
	if (initgroups(user->pw_name, group != NULL ? group->gr_gid : user->pw_gid) != 0 ||
	    setgid(group != NULL ? group->gr_gid : user->pw_gid) != 0 ||
	    setuid(user->pw_uid) != 0) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_PERMISSION_DENIED,
			    "run_as: cannot become %s: %s",
			    run_as,
			    g_strerror(errno));
		return FALSE;
	}
	g_message("running as %s", run_as);
	return TRUE;
}

static gboolean
kl_agent_daemon_listen(KlAgentDaemon *daemon, GError **error)
{
	KlAgentConfig *config = daemon->config;
	KlHttpServerOptions options = {0};
	KlAgentServiceOptions service = {0};
	const gchar *const *cas = kl_agent_config_get_trusted_client_ca(config);
	gboolean mtls = kl_agent_config_get_enable_agent_mtls(config);
	g_autofree gchar *url = NULL;

	service.agent_id = daemon->agent_id;
	service.tpm = daemon->tpm;
	service.nk = daemon->nk;
	service.ima_ml_path = kl_agent_config_get_ima_ml_path(config);
	service.measuredboot_ml_path = kl_agent_config_get_measuredboot_ml_path(config);
	service.secure_dir = daemon->secure_dir;
	service.payload = &daemon->payload;
	service.revocation = &daemon->revocation;
	service.run_payloads =
		mtls || kl_agent_config_get_boolean(config, "enable_insecure_payload");
	daemon->service = kl_agent_service_new(&service, error);
	if (daemon->service == NULL)
		return FALSE;

	options.ip = kl_agent_config_get_ip(config);
	options.port = kl_agent_config_get_port(config);
	if (mtls) {
		const gchar *key = kl_agent_config_get_server_key(config);
		const gchar *cert = kl_agent_config_get_server_cert(config);

		if (cas == NULL || cas[0] == NULL) {
			g_set_error_literal(error,
					    KL_ERROR,
					    KL_ERROR_INVALID_ARGUMENT,
					    "trusted_client_ca: needed with enable_agent_mtls");
			return FALSE;
		}
		if (cas[1] != NULL)
			g_warning("trusted_client_ca: using %s only; put the CAs in one bundle",
				  cas[0]);
		if (!kl_agent_identity_ensure_server_cert(key,
							  cert,
							  daemon->agent_id,
							  kl_agent_config_get_contact_ip(config),
							  error))
			return FALSE;
		if (!g_file_get_contents(cert, &daemon->mtls_cert_pem, NULL, error))
			return FALSE;
		options.tls = TRUE;
		options.server_cert = cert;
		options.server_key = key;
		options.trusted_client_ca = cas[0];
		options.client_cert = KL_HTTP_CLIENT_CERT_REQUIRED;
	} else {
		g_warning("enable_agent_mtls is false: the agent API is served without TLS");
	}
	daemon->server =
		kl_http_server_new(kl_agent_service_get_router(daemon->service), &options, error);
	if (daemon->server == NULL || !kl_http_server_listen(daemon->server, error))
		return FALSE;
	url = kl_http_server_get_url(daemon->server);
	g_message("agent %s listening on %s", daemon->agent_id, url);
	return TRUE;
}

static void
kl_agent_daemon_registered_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	KlAgentDaemon *daemon = user_data;
	g_autoptr(GError) error = NULL;

	if (!kl_agent_register_finish(result, &error)) {
		if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			return;
		g_printerr("keylime_agent: %s\n", error->message);
		daemon->exit_status = 1;
		g_main_loop_quit(daemon->loop);
		return;
	}
	g_message("registered and activated");
}

static void
kl_agent_daemon_register(KlAgentDaemon *daemon)
{
	KlAgentConfig *config = daemon->config;
	KlAgentRegistrationOptions *options = &daemon->registration;
	const gchar *ip = kl_agent_config_get_registrar_ip(config);

	if (g_hostname_is_ip_address(ip) && strchr(ip, ':') != NULL)
		daemon->registrar_url = g_strdup_printf("http://[%s]:%u",
							ip,
							kl_agent_config_get_registrar_port(config));
	else
		daemon->registrar_url = g_strdup_printf("http://%s:%u",
							ip,
							kl_agent_config_get_registrar_port(config));
	options->registrar_url = daemon->registrar_url;
	options->agent_id = daemon->agent_id;
	options->tpm = daemon->tpm;
	options->mtls_cert = daemon->mtls_cert_pem;
	options->contact_ip = kl_agent_config_get_contact_ip(config);
	options->contact_port = kl_agent_config_get_contact_port(config);
	options->max_retries =
		(guint)kl_agent_config_get_uint(config, "exponential_backoff_max_retries");
	options->initial_delay_ms =
		(guint)MIN(kl_agent_config_get_uint(config, "exponential_backoff_initial_delay"),
			   G_MAXUINT);
	options->max_delay_ms =
		(guint)MIN(kl_agent_config_get_uint(config, "exponential_backoff_max_delay"),
			   G_MAXUINT);
	kl_agent_register_async(options,
				daemon->cancellable,
				kl_agent_daemon_registered_cb,
				daemon);
}

static gboolean
kl_agent_daemon_quit_cb(gpointer user_data)
{
	KlAgentDaemon *daemon = user_data;

	g_message("stopping");
	g_main_loop_quit(daemon->loop);
	return G_SOURCE_REMOVE;
}

static gboolean
kl_agent_daemon_start(KlAgentDaemon *daemon, GError **error)
{
	KlAgentConfig *config;
	const gchar *keylime_dir;

	daemon->config = kl_agent_config_load(error);
	if (daemon->config == NULL)
		return FALSE;
	config = daemon->config;
	keylime_dir = kl_agent_config_get_keylime_dir(config);
	if (g_mkdir_with_parents(keylime_dir, 0700) != 0) {
		g_set_error(error,
			    G_IO_ERROR,
			    g_io_error_from_errno(errno),
			    "keylime_dir %s: %s",
			    keylime_dir,
			    g_strerror(errno));
		return FALSE;
	}
	/* as root: the tmpfs, before privileges are dropped */
	daemon->secure_dir = kl_agent_secure_dir_setup(keylime_dir,
						       kl_agent_config_get_secure_size(config),
						       error);
	if (daemon->secure_dir == NULL || !kl_agent_daemon_open_tpm(daemon, error) ||
	    !kl_agent_daemon_drop_privileges(daemon, error))
		return FALSE;

	if (kl_agent_config_get_uuid_mode(config) == KL_AGENT_UUID_MODE_HASH_EK)
		daemon->agent_id = kl_agent_daemon_hash_ek(daemon->tpm, error);
	else
		daemon->agent_id = g_strdup(kl_agent_config_get_uuid(config));
	if (daemon->agent_id == NULL)
		return FALSE;

	daemon->nk = kl_agent_identity_load_nk(kl_agent_config_get_payload_key(config), error);
	if (daemon->nk == NULL)
		return FALSE;

	kl_agent_payload_options_init(&daemon->payload);
	daemon->payload.dec_payload_file = kl_agent_config_get_string(config, "dec_payload_file");
	daemon->payload.enc_keyname = kl_agent_config_get_string(config, "enc_keyname");
	daemon->payload.payload_script = kl_agent_config_get_string(config, "payload_script");
	daemon->payload.extract_payload_zip =
		kl_agent_config_get_boolean(config, "extract_payload_zip");
	kl_agent_revocation_options_init(&daemon->revocation, daemon->secure_dir, keylime_dir);
	daemon->revocation.revocation_cert = kl_agent_config_get_revocation_cert(config);
	daemon->revocation_actions =
		g_strjoinv(", ", (gchar **)kl_agent_config_get_list(config, "revocation_actions"));
	daemon->revocation.revocation_actions = daemon->revocation_actions;
	daemon->revocation.revocation_actions_dir =
		kl_agent_config_get_string(config, "revocation_actions_dir");
	daemon->revocation.allow_payload_revocation_actions =
		kl_agent_config_get_boolean(config, "allow_payload_revocation_actions");

	if (!kl_agent_daemon_listen(daemon, error))
		return FALSE;
	kl_agent_daemon_register(daemon);
	return TRUE;
}

int
main(int argc, char **argv)
{
	g_auto(KlAgentDaemon) daemon = {0};
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	gboolean version = FALSE;
	const GOptionEntry entries[] = {
		{"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL},
		{NULL, 0, 0, G_OPTION_ARG_NONE, NULL, NULL, NULL},
	};

	setlocale(LC_ALL, "");
	/* a payload script or action that exits without reading its input
	 * must not kill the agent */
	signal(SIGPIPE, SIG_IGN);
	context = g_option_context_new(NULL);
	g_option_context_set_summary(context,
				     "Keylime agent: serves TPM quotes and the IMA and UEFI logs.\n"
				     "Configuration: agent.conf (KEYLIME_AGENT_CONFIG, "
				     "KEYLIME_AGENT_<OPTION>).");
	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("keylime_agent: %s\n", error->message);
		return 2;
	}
	if (version) {
		g_print("keylime_agent (keylime-c) %s\n", PACKAGE_VERSION);
		return 0;
	}

	daemon.loop = g_main_loop_new(NULL, FALSE);
	daemon.cancellable = g_cancellable_new();
	if (!kl_agent_daemon_start(&daemon, &error)) {
		g_printerr("keylime_agent: %s\n", error->message);
		return 1;
	}
	g_unix_signal_add(SIGTERM, kl_agent_daemon_quit_cb, &daemon);
	g_unix_signal_add(SIGINT, kl_agent_daemon_quit_cb, &daemon);
	g_main_loop_run(daemon.loop);
	return daemon.exit_status;
}
