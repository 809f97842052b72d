/*
 * Reading verifier.conf into KlVerifierOptions and the program's listener,
 * client TLS and database settings.
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "kl-error.h"
#include "kl-store.h"
#include "kl-verifier-config.h"

#define KL_VERIFIER_CONFIG_CLIENT_CERT "client-cert.crt"
#define KL_VERIFIER_CONFIG_CLIENT_KEY  "client-private.pem"
#define KL_VERIFIER_CONFIG_SERVER_CA   "cacert.crt"

void
kl_verifier_config_free(KlVerifierConfig *self)
{
	if (self == NULL)
		return;
	g_free(self->ip);
	g_clear_pointer(&self->tls, kl_http_tls_files_free);
	g_free(self->client_cert);
	g_free(self->client_key);
	g_free(self->trusted_server_ca);
	g_free(self->database_path);
	g_free(self->verifier_id);
	g_free(self->severity_labels);
	g_free(self->severity_policy);
	g_free(self->mb_default_policy_name);
	g_free(self->webhook_url);
	g_strfreev(self->revocation_notifiers);
	g_free(self);
}

static void
kl_verifier_config_set_invalid(GError **error,
			       KlConfig *config,
			       const gchar *section,
			       const gchar *option,
			       const gchar *expected)
{
	g_autofree gchar *where = kl_config_describe(config, section, option);

	g_set_error(error,
		    KL_CONFIG_ERROR,
		    KL_CONFIG_ERROR_INVALID_VALUE,
		    "%s: expected %s",
		    where,
		    expected);
}

static void
kl_verifier_config_set_unsupported(GError **error,
				   KlConfig *config,
				   const gchar *section,
				   const gchar *option,
				   const gchar *what)
{
	g_autofree gchar *where = kl_config_describe(config, section, option);

	g_set_error(error, KL_ERROR, KL_ERROR_NOT_SUPPORTED, "%s: %s", where, what);
}

/* A duration in seconds: finite, >= @minimum (> @minimum if @exclusive). */
static gboolean
kl_verifier_config_get_seconds(KlConfig *config,
			       const gchar *option,
			       gdouble default_value,
			       gboolean exclusive,
			       gdouble *value,
			       GError **error)
{
	gdouble seconds = 0;

	if (!kl_config_get_double(config,
				  KL_VERIFIER_CONFIG_SECTION,
				  option,
				  default_value,
				  &seconds,
				  error))
		return FALSE;
	/* a day bounds every interval the engine schedules */
	if (!isfinite(seconds) || seconds < 0 || (exclusive && seconds == 0) || seconds > 86400) {
		kl_verifier_config_set_invalid(
			error,
			config,
			KL_VERIFIER_CONFIG_SECTION,
			option,
			exclusive ? "a number of seconds above 0 and at most 86400"
				  : "a number of seconds from 0 to 86400");
		return FALSE;
	}
	*value = seconds;
	return TRUE;
}

/* A file option resolved as kl-http-tls-files does: "default" or empty is
 * @default_name; relative paths are under the TLS directory. */
static gchar *
kl_verifier_config_tls_path(KlConfig *config,
			    const gchar *dir,
			    const gchar *option,
			    const gchar *default_name)
{
	const gchar *value =
		kl_config_get_string(config, KL_VERIFIER_CONFIG_SECTION, option, "default");

	if (value == NULL || value[0] == '\0' || g_strcmp0(value, "default") == 0)
		value = default_name;
	if (g_path_is_absolute(value))
		return g_strdup(value);
	return g_build_filename(dir, value, NULL);
}

static gboolean
kl_verifier_config_read_listener(KlVerifierConfig *self,
				 KlConfig *config,
				 const gchar *keylime_dir,
				 GError **error)
{
	g_auto(GStrv) server_cas = NULL;
	const gchar *password;
	gint64 port = 0;

	self->ip = g_strdup(
		kl_config_get_string(config, KL_VERIFIER_CONFIG_SECTION, "ip", "127.0.0.1"));
	if (self->ip[0] == '\0') {
		kl_verifier_config_set_invalid(error,
					       config,
					       KL_VERIFIER_CONFIG_SECTION,
					       "ip",
					       "an address");
		return FALSE;
	}
	if (!kl_config_get_int(config,
			       KL_VERIFIER_CONFIG_SECTION,
			       "port",
			       8881,
			       0,
			       65535,
			       &port,
			       error))
		return FALSE;
	self->port = (guint16)port;
	self->options.verifier_ip = self->ip;
	self->options.verifier_port = self->port;

	self->tls = kl_http_tls_files_from_config(config,
						  KL_VERIFIER_CONFIG_SECTION,
						  keylime_dir,
						  KL_VERIFIER_CONFIG_GENERATE_DIR,
						  error);
	if (self->tls == NULL)
		return FALSE;
	if (self->tls->server_key_password != NULL) {
		kl_verifier_config_set_unsupported(
			error,
			config,
			KL_VERIFIER_CONFIG_SECTION,
			"server_key_password",
			"encrypted server keys are not supported; leave it empty");
		return FALSE;
	}
	password =
		kl_config_get_string(config, KL_VERIFIER_CONFIG_SECTION, "client_key_password", "");
	if (password != NULL && password[0] != '\0') {
		kl_verifier_config_set_unsupported(
			error,
			config,
			KL_VERIFIER_CONFIG_SECTION,
			"client_key_password",
			"encrypted client keys are not supported; leave it empty");
		return FALSE;
	}
	self->client_cert = kl_verifier_config_tls_path(config,
							self->tls->dir,
							"client_cert",
							KL_VERIFIER_CONFIG_CLIENT_CERT);
	self->client_key = kl_verifier_config_tls_path(config,
						       self->tls->dir,
						       "client_key",
						       KL_VERIFIER_CONFIG_CLIENT_KEY);
	if (!kl_config_get_list(config,
				KL_VERIFIER_CONFIG_SECTION,
				"trusted_server_ca",
				&server_cas,
				error))
		return FALSE;
	if (server_cas != NULL && g_strv_length(server_cas) > 1) {
		kl_verifier_config_set_unsupported(
			error,
			config,
			KL_VERIFIER_CONFIG_SECTION,
			"trusted_server_ca",
			"one CA file is supported; put the certificates in one PEM bundle");
		return FALSE;
	}
	if (server_cas == NULL || server_cas[0] == NULL || server_cas[0][0] == '\0' ||
	    g_strcmp0(server_cas[0], "default") == 0)
		self->trusted_server_ca =
			g_build_filename(self->tls->dir, KL_VERIFIER_CONFIG_SERVER_CA, NULL);
	else if (g_path_is_absolute(server_cas[0]))
		self->trusted_server_ca = g_strdup(server_cas[0]);
	else
		self->trusted_server_ca = g_build_filename(self->tls->dir, server_cas[0], NULL);
	self->options.client_cert = self->client_cert;
	self->options.client_key = self->client_key;
	return TRUE;
}

static gboolean
kl_verifier_config_read_engine(KlVerifierConfig *self, KlConfig *config, GError **error)
{
	KlVerifierOptions *options = &self->options;
	g_autoptr(KlSeverityPolicy) severity = NULL;
	const gchar *text;
	gint64 number = 0;

	text = kl_config_get_string(config, KL_VERIFIER_CONFIG_SECTION, "mode", "pull");
	if (g_strcmp0(text, "pull") != 0) {
		kl_verifier_config_set_unsupported(error,
						   config,
						   KL_VERIFIER_CONFIG_SECTION,
						   "mode",
						   "only pull mode is supported");
		return FALSE;
	}
	text = kl_config_get_string(config, KL_VERIFIER_CONFIG_SECTION, "uuid", NULL);
	if (text != NULL) {
		if (text[0] == '\0' || strlen(text) > 80 || !g_utf8_validate(text, -1, NULL)) {
			kl_verifier_config_set_invalid(error,
						       config,
						       KL_VERIFIER_CONFIG_SECTION,
						       "uuid",
						       "a verifier id of 1 to 80 characters");
			return FALSE;
		}
		self->verifier_id = g_strdup(text);
		options->verifier_id = self->verifier_id;
	}

	if (!kl_verifier_config_get_seconds(config,
					    "quote_interval",
					    options->quote_interval,
					    FALSE,
					    &options->quote_interval,
					    error) ||
	    !kl_verifier_config_get_seconds(config,
					    "retry_interval",
					    options->retry_interval,
					    FALSE,
					    &options->retry_interval,
					    error) ||
	    !kl_verifier_config_get_seconds(config,
					    "request_timeout",
					    options->request_timeout,
					    TRUE,
					    &options->request_timeout,
					    error))
		return FALSE;
	if (!kl_config_get_int(config,
			       KL_VERIFIER_CONFIG_SECTION,
			       "max_retries",
			       options->max_retries,
			       0,
			       10000,
			       &number,
			       error))
		return FALSE;
	options->max_retries = (guint)number;
	if (!kl_config_get_int(config,
			       KL_VERIFIER_CONFIG_SECTION,
			       "num_workers",
			       options->n_workers,
			       0,
			       1024,
			       &number,
			       error))
		return FALSE;
	options->n_workers = (guint)number;
	if (!kl_config_get_int(config,
			       KL_VERIFIER_CONFIG_SECTION,
			       "max_upload_size",
			       (gint64)MIN(options->max_upload_size, (guint64)G_MAXINT64),
			       1,
			       G_MAXINT64,
			       &number,
			       error))
		return FALSE;
	options->max_upload_size = (guint64)number;
	if (!kl_config_get_boolean(config,
				   KL_VERIFIER_CONFIG_SECTION,
				   "exponential_backoff",
				   options->exponential_backoff,
				   &options->exponential_backoff,
				   error) ||
	    !kl_config_get_boolean(config,
				   KL_VERIFIER_CONFIG_SECTION,
				   "enable_agent_mtls",
				   options->enable_agent_mtls,
				   &options->enable_agent_mtls,
				   error) ||
	    !kl_config_get_boolean(config,
				   KL_VERIFIER_CONFIG_SECTION,
				   "ignore_tomtou_errors",
				   options->ignore_tomtou_errors,
				   &options->ignore_tomtou_errors,
				   error) ||
	    !kl_config_get_boolean(config,
				   KL_VERIFIER_CONFIG_SECTION,
				   "require_allow_list_signatures",
				   options->require_allow_list_signatures,
				   &options->require_allow_list_signatures,
				   error))
		return FALSE;

	text = kl_config_get_string(config,
				    KL_VERIFIER_CONFIG_SECTION,
				    "measured_boot_evaluate",
				    NULL);
	if (g_strcmp0(text, "once") == 0) {
		options->mb_evaluate = KL_MB_EVALUATE_ONCE;
	} else if (g_strcmp0(text, "always") == 0) {
		options->mb_evaluate = KL_MB_EVALUATE_ALWAYS;
	} else if (text != NULL) {
		kl_verifier_config_set_invalid(error,
					       config,
					       KL_VERIFIER_CONFIG_SECTION,
					       "measured_boot_evaluate",
					       "once or always");
		return FALSE;
	}
	text = kl_config_get_string(config,
				    KL_VERIFIER_CONFIG_SECTION,
				    "measured_boot_policy_name",
				    NULL);
	if (text != NULL && text[0] != '\0') {
		self->mb_default_policy_name = g_strdup(text);
		options->mb_default_policy_name = self->mb_default_policy_name;
	}

	/* severity: checked here, so that a typo stops the start, not a round */
	text = kl_config_get_string(config, KL_VERIFIER_CONFIG_SECTION, "severity_labels", NULL);
	if (text != NULL && text[0] != '\0') {
		self->severity_labels = g_strdup(text);
		options->severity_labels = self->severity_labels;
	}
	text = kl_config_get_string(config, KL_VERIFIER_CONFIG_SECTION, "severity_policy", NULL);
	if (text != NULL && text[0] != '\0') {
		self->severity_policy = g_strdup(text);
		options->severity_policy = self->severity_policy;
	}
	severity = kl_attestation_severity_policy_parse(options->severity_labels,
							options->severity_policy,
							error);
	if (severity == NULL) {
		g_autofree gchar *where =
			kl_config_describe(config, KL_VERIFIER_CONFIG_SECTION, "severity_policy");

		g_prefix_error(error, "%s: ", where);
		return FALSE;
	}
	return TRUE;
}

static gboolean
kl_verifier_config_read_revocations(KlVerifierConfig *self, KlConfig *config, GError **error)
{
	const gchar *section = KL_VERIFIER_CONFIG_REVOCATIONS_SECTION;
	g_autoptr(GPtrArray) enabled = g_ptr_array_new_with_free_func(g_free);
	g_auto(GStrv) list = NULL;
	const gchar *url;

	if (!kl_config_has_option(config, section, "enabled_revocation_notifications")) {
		/* keep the caller's default */
		self->notify_agents = FALSE;
		self->notify_webhook = FALSE;
		for (guint i = 0; self->options.revocation_notifiers != NULL &&
				  self->options.revocation_notifiers[i] != NULL;
		     i++) {
			self->notify_agents |=
				g_strcmp0(self->options.revocation_notifiers[i], "agent") == 0;
			self->notify_webhook |=
				g_strcmp0(self->options.revocation_notifiers[i], "webhook") == 0;
		}
	} else {
		if (!kl_config_get_list(config,
					section,
					"enabled_revocation_notifications",
					&list,
					error))
			return FALSE;
		for (guint i = 0; list != NULL && list[i] != NULL; i++) {
			if (g_strcmp0(list[i], "agent") == 0) {
				self->notify_agents = TRUE;
			} else if (g_strcmp0(list[i], "webhook") == 0) {
				self->notify_webhook = TRUE;
			} else if (g_strcmp0(list[i], "zeromq") == 0) {
				kl_verifier_config_set_unsupported(
					error,
					config,
					section,
					"enabled_revocation_notifications",
					"zeromq is not supported; use agent or webhook");
				return FALSE;
			} else if (list[i][0] != '\0') {
				kl_verifier_config_set_invalid(error,
							       config,
							       section,
							       "enabled_revocation_notifications",
							       "a list of agent and webhook");
				return FALSE;
			}
		}
		if (self->notify_agents)
			g_ptr_array_add(enabled, g_strdup("agent"));
		if (self->notify_webhook)
			g_ptr_array_add(enabled, g_strdup("webhook"));
		g_ptr_array_add(enabled, NULL);
		self->revocation_notifiers =
			(GStrv)g_ptr_array_free(g_steal_pointer(&enabled), FALSE);
		self->options.revocation_notifiers =
			(const gchar *const *)self->revocation_notifiers;
	}

	url = kl_config_get_string(config, section, "webhook_url", NULL);
	if (url != NULL && url[0] != '\0') {
		g_autoptr(GUri) uri = g_uri_parse(url, G_URI_FLAGS_NONE, NULL);

		if (uri == NULL ||
		    (g_strcmp0(g_uri_get_scheme(uri), "http") != 0 &&
		     g_strcmp0(g_uri_get_scheme(uri), "https") != 0) ||
		    g_uri_get_host(uri) == NULL || g_uri_get_host(uri)[0] == '\0') {
			kl_verifier_config_set_invalid(error,
						       config,
						       section,
						       "webhook_url",
						       "an http:// or https:// URL");
			return FALSE;
		}
		self->webhook_url = g_strdup(url);
		self->options.webhook_url = self->webhook_url;
	} else if (url != NULL) {
		self->options.webhook_url = NULL;
	}
	if (self->notify_webhook &&
	    (self->options.webhook_url == NULL || self->options.webhook_url[0] == '\0')) {
		kl_verifier_config_set_invalid(error,
					       config,
					       section,
					       "webhook_url",
					       "a URL when webhook notifications are enabled");
		return FALSE;
	}
	return TRUE;
}

KlVerifierConfig *
kl_verifier_config_new(KlConfig *config,
		       const gchar *keylime_dir,
		       const KlVerifierOptions *defaults,
		       GError **error)
{
	g_autoptr(KlVerifierConfig) self = g_new0(KlVerifierConfig, 1);
	const gchar *database_url;

	g_return_val_if_fail(KL_IS_CONFIG(config), NULL);
	g_return_val_if_fail(keylime_dir != NULL, NULL);
	g_return_val_if_fail(defaults != NULL, NULL);

	self->options = *defaults;
	if (!kl_verifier_config_read_engine(self, config, error) ||
	    !kl_verifier_config_read_revocations(self, config, error))
		return NULL;

	database_url =
		kl_config_get_string(config, KL_VERIFIER_CONFIG_SECTION, "database_url", "sqlite");
	self->database_path =
		kl_store_resolve_url(database_url, keylime_dir, KL_STORE_VERIFIER_FILE, error);
	if (self->database_path == NULL) {
		g_autofree gchar *where =
			kl_config_describe(config, KL_VERIFIER_CONFIG_SECTION, "database_url");

		/* the store's message begins with "database_url: " */
		if (error != NULL && *error != NULL &&
		    g_str_has_prefix((*error)->message, "database_url: ")) {
			g_autofree gchar *rest =
				g_strdup((*error)->message + strlen("database_url: "));

			g_free((*error)->message);
			(*error)->message = g_strdup_printf("%s: %s", where, rest);
		} else {
			g_prefix_error(error, "%s: ", where);
		}
		return NULL;
	}

	/* last: with tls_dir = generate this writes a CA */
	if (!kl_verifier_config_read_listener(self, config, keylime_dir, error))
		return NULL;
	return g_steal_pointer(&self);
}
