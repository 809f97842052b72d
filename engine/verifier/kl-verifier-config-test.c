/*
 * Tests of kl-verifier-config: verifier.conf into KlVerifierOptions, the
 * listener, client TLS files and the database path; bad values rejected
 * with errors that name the option.
 */
#include "config.h"

#include <string.h>

#include "kl-error.h"
#include "kl-test-dir.h"
#include "kl-verifier-config.h"

static const gchar *const test_notifiers[] = {"agent", NULL};

/* What kl_verifier_options_init() gives, as far as the test relies on it. */
static void
test_defaults(KlVerifierOptions *options)
{
	memset(options, 0, sizeof(*options));
	options->verifier_id = "default";
	options->quote_interval = 2;
	options->retry_interval = 2;
	options->max_retries = 5;
	options->exponential_backoff = TRUE;
	options->request_timeout = 60;
	options->enable_agent_mtls = TRUE;
	options->max_in_flight = 64;
	options->mb_evaluate = KL_MB_EVALUATE_ONCE;
	options->mb_default_policy_name = "accept-all";
	options->max_upload_size = 104857600;
	options->revocation_notifiers = test_notifiers;
}

static KlConfig *
test_config(const gchar *text)
{
	g_autoptr(KlConfig) config = kl_config_new();
	g_autoptr(GError) error = NULL;

	g_assert_true(kl_config_load_data(config, text, strlen(text), "verifier.conf", &error));
	g_assert_no_error(error);
	return g_steal_pointer(&config);
}

/* A tls_dir with nothing to generate, so that tests stay fast. */
#define TEST_TLS "tls_dir = tls\n"

static KlVerifierConfig *
test_load(KlTestDir *dir, const gchar *text, GError **error)
{
	g_autoptr(KlConfig) config = test_config(text);
	KlVerifierOptions defaults;

	test_defaults(&defaults);
	return kl_verifier_config_new(config, kl_test_dir_get_path(dir), &defaults, error);
}

static void
test_config_defaults(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(KlVerifierConfig) cfg = test_load(dir, "[verifier]\n" TEST_TLS, &error);
	g_autofree gchar *tls = kl_test_dir_build(dir, "tls", NULL);
	g_autofree gchar *db = kl_test_dir_build(dir, "cv_data.sqlite", NULL);
	g_autofree gchar *cert = g_build_filename(tls, "server-cert.crt", NULL);
	g_autofree gchar *key = g_build_filename(tls, "server-private.pem", NULL);
	g_autofree gchar *ca = g_build_filename(tls, "cacert.crt", NULL);
	g_autofree gchar *client_cert = g_build_filename(tls, "client-cert.crt", NULL);
	g_autofree gchar *client_key = g_build_filename(tls, "client-private.pem", NULL);

	g_assert_no_error(error);
	g_assert_nonnull(cfg);
	g_assert_cmpstr(cfg->ip, ==, "127.0.0.1");
	g_assert_cmpuint(cfg->port, ==, 8881);
	g_assert_cmpstr(cfg->database_path, ==, db);
	g_assert_cmpstr(cfg->tls->server_cert, ==, cert);
	g_assert_cmpstr(cfg->tls->server_key, ==, key);
	g_assert_cmpstr(cfg->tls->trusted_client_ca, ==, ca);
	g_assert_cmpstr(cfg->client_cert, ==, client_cert);
	g_assert_cmpstr(cfg->client_key, ==, client_key);
	g_assert_cmpstr(cfg->trusted_server_ca, ==, ca);
	g_assert_cmpstr(cfg->options.client_cert, ==, client_cert);
	g_assert_cmpstr(cfg->options.verifier_id, ==, "default");
	g_assert_cmpstr(cfg->options.verifier_ip, ==, "127.0.0.1");
	g_assert_cmpuint(cfg->options.verifier_port, ==, 8881);
	g_assert_cmpfloat(cfg->options.quote_interval, ==, 2);
	g_assert_cmpuint(cfg->options.max_retries, ==, 5);
	g_assert_cmpuint(cfg->options.max_in_flight, ==, 64);
	g_assert_true(cfg->options.enable_agent_mtls);
	g_assert_true(cfg->notify_agents);
	g_assert_false(cfg->notify_webhook);
	g_assert_null(cfg->options.webhook_url);
}

/* The file as shipped (data/config/verifier.conf) loads as it is. */
static void
test_config_shipped(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autoptr(KlConfig) config = kl_config_new();
	g_autoptr(KlVerifierConfig) cfg = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path =
		g_test_build_filename(G_TEST_DIST, "..", "data", "config", "verifier.conf", NULL);
	g_autofree gchar *ca = kl_test_dir_build(dir, "cv_ca", "cacert.crt", NULL);
	g_autofree gchar *client = kl_test_dir_build(dir, "cv_ca", "client-cert.crt", NULL);
	KlVerifierOptions defaults;

	g_assert_true(kl_config_load_file(config, path, &error));
	g_assert_no_error(error);
	test_defaults(&defaults);
	defaults.quote_interval = 99;
	cfg = kl_verifier_config_new(config, kl_test_dir_get_path(dir), &defaults, &error);
	g_assert_no_error(error);
	g_assert_nonnull(cfg);
	/* tls_dir = generate made the CV CA with a server and a client cert */
	g_assert_true(g_file_test(ca, G_FILE_TEST_IS_REGULAR));
	g_assert_true(g_file_test(client, G_FILE_TEST_IS_REGULAR));
	g_assert_true(g_file_test(cfg->tls->server_cert, G_FILE_TEST_IS_REGULAR));
	g_assert_true(g_file_test(cfg->client_key, G_FILE_TEST_IS_REGULAR));
	g_assert_cmpfloat(cfg->options.quote_interval, ==, 2);
	g_assert_cmpfloat(cfg->options.request_timeout, ==, 60);
	g_assert_cmpstr(cfg->options.severity_labels, !=, NULL);
	g_assert_true(cfg->notify_agents);
}

static void
test_config_values(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(KlVerifierConfig) cfg =
		test_load(dir,
			  "[verifier]\n" TEST_TLS "uuid = cv-east\n"
			  "ip = \"192.0.2.7\"\n"
			  "port = 9881\n"
			  "quote_interval = 0.5\n"
			  "retry_interval = 1.5\n"
			  "max_retries = 2\n"
			  "exponential_backoff = False\n"
			  "request_timeout = 7\n"
			  "enable_agent_mtls = False\n"
			  "client_cert = /etc/pki/me.crt\n"
			  "client_key = me.key\n"
			  "trusted_server_ca = ['/etc/pki/agents.pem']\n"
			  "num_workers = 3\n"
			  "max_upload_size = 1000\n"
			  "measured_boot_evaluate = always\n"
			  "measured_boot_policy_name = reject-all\n"
			  "ignore_tomtou_errors = True\n"
			  "require_allow_list_signatures = yes\n"
			  "severity_labels = ['low', 'high']\n"
			  "severity_policy = [{'event_id': 'ima.*', 'severity_label': 'low'}, "
			  "{'event_id': '.*', 'severity_label': 'high'}]\n"
			  "database_url = sqlite:////srv/cv.db\n"
			  "[revocations]\n"
			  "enabled_revocation_notifications = ['webhook', 'agent']\n"
			  "webhook_url = http://127.0.0.1:9/hook\n",
			  &error);
	g_autofree gchar *key = kl_test_dir_build(dir, "tls", "me.key", NULL);

	g_assert_no_error(error);
	g_assert_nonnull(cfg);
	g_assert_cmpstr(cfg->options.verifier_id, ==, "cv-east");
	g_assert_cmpstr(cfg->ip, ==, "192.0.2.7");
	g_assert_cmpuint(cfg->port, ==, 9881);
	g_assert_cmpuint(cfg->options.verifier_port, ==, 9881);
	g_assert_cmpfloat(cfg->options.quote_interval, ==, 0.5);
	g_assert_cmpfloat(cfg->options.retry_interval, ==, 1.5);
	g_assert_cmpuint(cfg->options.max_retries, ==, 2);
	g_assert_false(cfg->options.exponential_backoff);
	g_assert_cmpfloat(cfg->options.request_timeout, ==, 7);
	g_assert_false(cfg->options.enable_agent_mtls);
	g_assert_cmpstr(cfg->client_cert, ==, "/etc/pki/me.crt");
	g_assert_cmpstr(cfg->client_key, ==, key);
	g_assert_cmpstr(cfg->trusted_server_ca, ==, "/etc/pki/agents.pem");
	g_assert_cmpuint(cfg->options.n_workers, ==, 3);
	g_assert_cmpuint(cfg->options.max_upload_size, ==, 1000);
	g_assert_cmpint(cfg->options.mb_evaluate, ==, KL_MB_EVALUATE_ALWAYS);
	g_assert_cmpstr(cfg->options.mb_default_policy_name, ==, "reject-all");
	g_assert_true(cfg->options.ignore_tomtou_errors);
	g_assert_true(cfg->options.require_allow_list_signatures);
	g_assert_cmpstr(cfg->options.severity_labels, ==, "['low', 'high']");
	g_assert_cmpstr(cfg->database_path, ==, "/srv/cv.db");
	g_assert_true(cfg->notify_agents);
	g_assert_true(cfg->notify_webhook);
	g_assert_cmpstrv(cfg->options.revocation_notifiers,
			 ((const gchar *[]){"agent", "webhook", NULL}));
	g_assert_cmpstr(cfg->options.webhook_url, ==, "http://127.0.0.1:9/hook");
}

/* KEYLIME_VERIFIER_* overrides reach the options through kl-config. */
static void
test_config_environment(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path =
		kl_test_dir_write(dir,
				  "verifier.conf",
				  "[verifier]\nquote_interval = 5\n" TEST_TLS "[revocations]\n",
				  -1);
	g_autoptr(KlConfig) config = kl_config_new();
	g_autoptr(KlVerifierConfig) cfg = NULL;
	g_autoptr(GError) error = NULL;
	KlVerifierOptions defaults;

	g_setenv("KEYLIME_VERIFIER_CONFIG", path, TRUE);
	g_setenv("KEYLIME_VERIFIER_QUOTE_INTERVAL", "1", TRUE);
	g_setenv("KEYLIME_VERIFIER_REVOCATIONS_ENABLED_REVOCATION_NOTIFICATIONS", "[]", TRUE);
	g_assert_true(kl_config_load_component(config, "verifier", &error));
	g_unsetenv("KEYLIME_VERIFIER_CONFIG");
	g_unsetenv("KEYLIME_VERIFIER_QUOTE_INTERVAL");
	g_unsetenv("KEYLIME_VERIFIER_REVOCATIONS_ENABLED_REVOCATION_NOTIFICATIONS");
	g_assert_no_error(error);
	test_defaults(&defaults);
	cfg = kl_verifier_config_new(config, kl_test_dir_get_path(dir), &defaults, &error);
	g_assert_no_error(error);
	g_assert_cmpfloat(cfg->options.quote_interval, ==, 1);
	g_assert_false(cfg->notify_agents);
	g_assert_nonnull(cfg->options.revocation_notifiers);
	g_assert_null(cfg->options.revocation_notifiers[0]);
}

typedef struct {
	const gchar *text;
	const gchar *names; /* in the message */
} BadCase;

static void
test_config_bad(void)
{
	const BadCase cases[] = {
		{"[verifier]\nport = 70000\n", "[verifier] port"},
		{"[verifier]\nport = http\n", "[verifier] port"},
		{"[verifier]\nquote_interval = -1\n", "[verifier] quote_interval"},
		{"[verifier]\nquote_interval = nan\n", "[verifier] quote_interval"},
		{"[verifier]\nretry_interval = soon\n", "[verifier] retry_interval"},
		{"[verifier]\nrequest_timeout = 0\n", "[verifier] request_timeout"},
		{"[verifier]\nmax_retries = -2\n", "[verifier] max_retries"},
		{"[verifier]\nexponential_backoff = maybe\n", "[verifier] exponential_backoff"},
		{"[verifier]\nenable_agent_mtls = 2\n", "[verifier] enable_agent_mtls"},
		{"[verifier]\nmax_upload_size = 0\n", "[verifier] max_upload_size"},
		{"[verifier]\nmeasured_boot_evaluate = sometimes\n",
		 "[verifier] measured_boot_evaluate"},
		{"[verifier]\nseverity_labels = ['a', 'a']\n", "severity_labels"},
		{"[verifier]\nseverity_policy = [{'event_id': '(', 'severity_label': 'alert'}]\n",
		 "severity_policy"},
		{"[verifier]\nuuid = \n", "[verifier] uuid"},
		{"[verifier]\nip = \n", "[verifier] ip"},
		{"[verifier]\nmode = push\n", "[verifier] mode"},
		{"[verifier]\ndatabase_url = mysql://u:secret@db/keylime\n",
		 "[verifier] database_url"},
		{"[verifier]\ndatabase_url = sqlite://\n", "[verifier] database_url"},
		{"[verifier]\nclient_key_password = pw\n", "[verifier] client_key_password"},
		{"[verifier]\ntrusted_server_ca = ['a.pem', 'b.pem']\n",
		 "[verifier] trusted_server_ca"},
		{"[revocations]\nenabled_revocation_notifications = ['zeromq']\n",
		 "[revocations] enabled_revocation_notifications"},
		{"[revocations]\nenabled_revocation_notifications = ['email']\n",
		 "[revocations] enabled_revocation_notifications"},
		{"[revocations]\nenabled_revocation_notifications = ['webhook']\n",
		 "[revocations] webhook_url"},
		{"[revocations]\nwebhook_url = ftp://host/x\n", "[revocations] webhook_url"},
		{"[revocations]\nwebhook_url = http://\n", "[revocations] webhook_url"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(KlTestDir) dir = kl_test_dir_new();
		g_autoptr(GError) error = NULL;
		g_autofree gchar *text =
			g_strconcat("[verifier]\n" TEST_TLS,
				    g_str_has_prefix(cases[i].text, "[verifier]\n")
					    ? cases[i].text + strlen("[verifier]\n")
					    : cases[i].text,
				    NULL);
		g_autoptr(KlVerifierConfig) cfg = test_load(dir, text, &error);

		g_test_message("case %u: %s", i, cases[i].text);
		g_assert_null(cfg);
		g_assert_nonnull(error);
		g_assert_nonnull(strstr(error->message, cases[i].names));
		/* secrets in a database URL stay out of messages */
		g_assert_null(strstr(error->message, "secret"));
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/verifier-config/defaults", test_config_defaults);
	g_test_add_func("/verifier-config/shipped", test_config_shipped);
	g_test_add_func("/verifier-config/values", test_config_values);
	g_test_add_func("/verifier-config/environment", test_config_environment);
	g_test_add_func("/verifier-config/bad", test_config_bad);
	return g_test_run();
}
