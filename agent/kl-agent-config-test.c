#include "config.h"

#include "kl-agent-config.h"
#include "kl-config.h"
#include "kl-test-dir.h"

/* g_test_expect_message() does not see structured logging on GLib 2.74:
 * warnings of this domain are captured here instead, and each test says
 * which it expects. */
static GPtrArray *warnings;

static GLogWriterOutput
capture_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
	const gchar *domain = NULL;
	const gchar *message = NULL;

	for (gsize i = 0; i < n_fields; i++) {
		if (g_str_equal(fields[i].key, "GLIB_DOMAIN"))
			domain = fields[i].value;
		else if (g_str_equal(fields[i].key, "MESSAGE"))
			message = fields[i].value;
	}
	if ((level & G_LOG_LEVEL_WARNING) != 0 && g_strcmp0(domain, G_LOG_DOMAIN) == 0 &&
	    message != NULL) {
		g_ptr_array_add(warnings, g_strdup(message));
		return G_LOG_WRITER_HANDLED;
	}
	return g_log_writer_default(level, fields, n_fields, user_data);
}

/* Exactly the given patterns were warned, in order; clears the list. */
static void
assert_warnings(const gchar *first, ...)
{
	va_list args;
	guint i = 0;

	va_start(args, first);
	for (const gchar *pattern = first; pattern != NULL; pattern = va_arg(args, const gchar *)) {
		if (i >= warnings->len)
			g_error("missing warning %s", pattern);
		if (!g_pattern_match_simple(pattern, g_ptr_array_index(warnings, i)))
			g_error("warning '%s' does not match %s",
				(const gchar *)g_ptr_array_index(warnings, i),
				pattern);
		i++;
	}
	va_end(args);
	if (i < warnings->len)
		g_error("unexpected warning: %s", (const gchar *)g_ptr_array_index(warnings, i));
	g_ptr_array_set_size(warnings, 0);
}

static gchar *
shipped_agent_conf(void)
{
	return g_test_build_filename(G_TEST_DIST, "..", "data", "config", "agent.conf", NULL);
}

static KlAgentConfig *
load_one(const gchar *path, const gchar *const *envp, GError **error)
{
	const gchar *sources[] = {path, NULL};
	return kl_agent_config_load_sources(sources, envp, error);
}

static void
test_agent_config_shipped_defaults(void)
{
	g_autofree gchar *path = shipped_agent_conf();
	g_autoptr(GError) error = NULL;
	/* Any unknown option would warn, and warnings are fatal here. */
	g_autoptr(KlAgentConfig) config = load_one(path, NULL, &error);
	const gchar *const *ca;
	const gchar *const *versions;

	g_assert_no_error(error);
	g_assert_cmpstr(kl_agent_config_get_uuid(config),
			==,
			"d432fbb3-d2f1-4a97-9ef7-75bd81c00000");
	g_assert_cmpint(kl_agent_config_get_uuid_mode(config), ==, KL_AGENT_UUID_MODE_LITERAL);
	g_assert_cmpstr(kl_agent_config_get_ip(config), ==, "127.0.0.1");
	g_assert_cmpuint(kl_agent_config_get_port(config), ==, 9002);
	g_assert_cmpuint(kl_agent_config_get_contact_port(config), ==, 9002);
	g_assert_cmpuint(kl_agent_config_get_registrar_port(config), ==, 8890);
	g_assert_cmpuint(kl_agent_config_get_uint(config, "registrar_tls_port"), ==, 8891);
	g_assert_false(kl_agent_config_get_boolean(config, "registrar_tls_enabled"));
	g_assert_true(kl_agent_config_get_enable_agent_mtls(config));
	g_assert_cmpstr(kl_agent_config_get_keylime_dir(config), ==, "/var/lib/keylime");
	g_assert_cmpstr(kl_agent_config_get_server_key(config),
			==,
			"/var/lib/keylime/server-private.pem");
	g_assert_cmpstr(kl_agent_config_get_server_cert(config),
			==,
			"/var/lib/keylime/server-cert.crt");
	g_assert_cmpstr(kl_agent_config_get_payload_key(config),
			==,
			"/var/lib/keylime/payload-private.pem");
	g_assert_cmpstr(kl_agent_config_get_agent_data_path(config),
			==,
			"/var/lib/keylime/agent_data.json");
	g_assert_cmpstr(kl_agent_config_get_revocation_cert(config),
			==,
			"/var/lib/keylime/secure/unzipped/RevocationNotifier-cert.crt");
	ca = kl_agent_config_get_trusted_client_ca(config);
	g_assert_cmpstr(ca[0], ==, "/var/lib/keylime/cv_ca/cacert.crt");
	g_assert_null(ca[1]);
	g_assert_cmpstr(kl_agent_config_get_ima_ml_path(config),
			==,
			"/sys/kernel/security/ima/ascii_runtime_measurements");
	g_assert_cmpstr(kl_agent_config_get_measuredboot_ml_path(config),
			==,
			"/sys/kernel/security/tpm0/binary_bios_measurements");
	g_assert_cmpuint(kl_agent_config_get_secure_size(config), ==, 1024 * 1024);
	g_assert_cmpstr(kl_agent_config_get_string(config, "enc_keyname"), ==, "derived_tci_key");
	g_assert_cmpstr(kl_agent_config_get_string(config, "dec_payload_file"),
			==,
			"decrypted_payload");
	g_assert_cmpstr(kl_agent_config_get_string(config, "payload_script"), ==, "autorun.sh");
	g_assert_true(kl_agent_config_get_boolean(config, "extract_payload_zip"));
	g_assert_false(kl_agent_config_get_boolean(config, "enable_insecure_payload"));
	g_assert_true(kl_agent_config_get_boolean(config, "allow_payload_revocation_actions"));
	g_assert_cmpstr(kl_agent_config_get_string(config, "revocation_actions_dir"),
			==,
			"/usr/libexec/keylime");
	g_assert_null(kl_agent_config_get_list(config, "revocation_actions")[0]);
	g_assert_cmpstr(kl_agent_config_get_string(config, "tpm_hash_alg"), ==, "sha256");
	g_assert_cmpstr(kl_agent_config_get_string(config, "tpm_encryption_alg"), ==, "rsa");
	g_assert_cmpstr(kl_agent_config_get_string(config, "tpm_signing_alg"), ==, "rsassa");
	g_assert_cmpstr(kl_agent_config_get_string(config, "ek_handle"), ==, "");
	g_assert_false(kl_agent_config_get_boolean(config, "enable_iak_idevid"));
	g_assert_cmpstr(kl_agent_config_get_string(config, "run_as"), ==, "keylime:tss");
	g_assert_cmpuint(kl_agent_config_get_uint(config, "exponential_backoff_max_retries"),
			 ==,
			 5);
	g_assert_cmpuint(kl_agent_config_get_uint(config, "exponential_backoff_initial_delay"),
			 ==,
			 10000);
	g_assert_cmpuint(kl_agent_config_get_uint(config, "exponential_backoff_max_delay"),
			 ==,
			 300000);
	g_assert_cmpuint(kl_agent_config_get_uint(config, "attestation_interval_seconds"), ==, 60);
	g_assert_cmpstr(kl_agent_config_get_tcti(config), ==, "device:/dev/tpmrm0");
	versions = kl_agent_config_get_api_versions(config);
	g_assert_nonnull(versions[0]);
	g_assert_true(g_str_has_prefix(kl_agent_config_get_source(config, "port"), path));
	g_assert_true(g_str_has_suffix(kl_agent_config_get_source(config, "port"), ":22:8"));
	g_assert_cmpstr(kl_agent_config_get_source(config, "tcti"), ==, "default");
}

static void
test_agent_config_no_file(void)
{
	const gchar *sources[] = {"/nonexistent/agent.conf", "/nonexistent/agent.conf.d", NULL};
	g_autoptr(GError) error = NULL;
	g_autoptr(KlAgentConfig) config = kl_agent_config_load_sources(sources, NULL, &error);

	g_assert_no_error(error);
	g_assert_cmpuint(kl_agent_config_get_port(config), ==, 9002);
	g_assert_cmpstr(kl_agent_config_get_string(config, "iak_idevid_template"), ==, "detect");
	/* Upstream: IAK/IDevID certs may stay empty; here they are "default". */
	g_assert_cmpstr(kl_agent_config_get_string(config, "iak_cert"),
			==,
			"/var/lib/keylime/iak-cert.crt");
}

static void
test_agent_config_precedence(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *usr = kl_test_dir_build(dir, "usr", NULL);
	g_autofree gchar *etc = kl_test_dir_build(dir, "etc", NULL);
	g_autofree gchar *a = NULL;
	g_autofree gchar *b = NULL;
	g_autofree gchar *c = NULL;
	g_autofree gchar *ignored = NULL;
	const gchar *dirs[] = {usr, etc, NULL};
	const gchar *envp[] = {"KEYLIME_AGENT_REGISTRAR_PORT=7000",
			       "KEYLIME_AGENT_ENABLE_AGENT_MTLS=False",
			       "KEYLIME_DIR=/srv/kl",
			       "TPM2TOOLS_TCTI=swtpm:port=2321",
			       NULL};
	g_autoptr(GError) error = NULL;
	g_autoptr(KlAgentConfig) config = NULL;

	g_free(kl_test_dir_write(dir,
				 "usr/agent.conf",
				 "[agent]\nport = 1\nip = \"10.0.0.1\"\ncontact_port = 5\n",
				 -1));
	g_free(kl_test_dir_write(dir, "usr/agent.conf.d/10.conf", "[agent]\nport = 2\n", -1));
	a = kl_test_dir_write(dir, "etc/agent.conf", "[agent]\nport = 3\nregistrar_port = 4\n", -1);
	b = kl_test_dir_write(dir, "etc/agent.conf.d/20-b.conf", "[agent]\nport = 6\n", -1);
	c = kl_test_dir_write(dir,
			      "etc/agent.conf.d/10-a.conf",
			      "[agent]\nport = 5\ntcti = \"mssim:\"\n",
			      -1);
	ignored =
		kl_test_dir_write(dir, "etc/agent.conf.d/30.conf.bak", "[agent]\nport = 99\n", -1);

	config = kl_agent_config_load_full(envp, dirs, &error);
	g_assert_no_error(error);
	/* usr < usr drop-ins < etc < etc drop-ins (lexical) < environment */
	g_assert_cmpuint(kl_agent_config_get_port(config), ==, 6);
	g_assert_true(g_str_has_prefix(kl_agent_config_get_source(config, "port"), b));
	g_assert_true(g_str_has_suffix(kl_agent_config_get_source(config, "port"), ":2:8"));
	g_assert_cmpstr(kl_agent_config_get_ip(config), ==, "10.0.0.1");
	g_assert_cmpuint(kl_agent_config_get_contact_port(config), ==, 5);
	g_assert_cmpuint(kl_agent_config_get_registrar_port(config), ==, 7000);
	g_assert_cmpstr(kl_agent_config_get_source(config, "registrar_port"),
			==,
			"KEYLIME_AGENT_REGISTRAR_PORT");
	g_assert_false(kl_agent_config_get_enable_agent_mtls(config));
	g_assert_cmpstr(kl_agent_config_get_keylime_dir(config), ==, "/srv/kl");
	g_assert_cmpstr(kl_agent_config_get_server_key(config), ==, "/srv/kl/server-private.pem");
	/* TPM2TOOLS_TCTI beats the tcti option. */
	g_assert_cmpstr(kl_agent_config_get_tcti(config), ==, "swtpm:port=2321");
	g_clear_object(&config);

	{
		const gchar *tcg[] = {"TCG_TCTI=device:/dev/tpm0", "TPM2TOOLS_TCTI=x", NULL};
		const gchar *none[] = {NULL};
		config = kl_agent_config_load_full(tcg, dirs, &error);
		g_assert_no_error(error);
		g_assert_cmpstr(kl_agent_config_get_tcti(config), ==, "device:/dev/tpm0");
		g_clear_object(&config);
		config = kl_agent_config_load_full(none, dirs, &error);
		g_assert_no_error(error);
		g_assert_cmpstr(kl_agent_config_get_tcti(config), ==, "mssim:");
		g_clear_object(&config);
	}
	{
		/* KEYLIME_AGENT_CONFIG replaces every system file and drop-in. */
		g_autofree gchar *only =
			kl_test_dir_write(dir, "only.conf", "[agent]\nregistrar_port = 1234\n", -1);
		g_autofree gchar *variable = g_strconcat("KEYLIME_AGENT_CONFIG=", only, NULL);
		const gchar *env2[] = {variable, NULL};
		const gchar *missing[] = {"KEYLIME_AGENT_CONFIG=/nonexistent.conf", NULL};
		config = kl_agent_config_load_full(env2, dirs, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(kl_agent_config_get_port(config), ==, 9002);
		g_assert_cmpuint(kl_agent_config_get_registrar_port(config), ==, 1234);
		g_clear_object(&config);
		config = kl_agent_config_load_full(missing, dirs, &error);
		g_assert_null(config);
		g_assert_error(error, KL_CONFIG_ERROR, KL_CONFIG_ERROR_NOT_FOUND);
	}
}

static KlAgentConfig *
load_text(KlTestDir *dir, const gchar *text, const gchar *const *envp, gchar **path, GError **error)
{
	g_autofree gchar *file = kl_test_dir_write(dir, "agent.conf", text, -1);
	KlAgentConfig *config = load_one(file, envp, error);
	if (path != NULL)
		*path = g_steal_pointer(&file);
	return config;
}

static void
test_agent_config_uuid_modes(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(KlAgentConfig) config = NULL;
	g_autofree gchar *first = NULL;

	config = load_text(dir,
			   "[agent]\nuuid = \"D432FBB3-D2F1-4A97-9EF7-75BD81C00001\"\n",
			   NULL,
			   NULL,
			   &error);
	g_assert_no_error(error);
	g_assert_cmpint(kl_agent_config_get_uuid_mode(config), ==, KL_AGENT_UUID_MODE_LITERAL);
	g_assert_cmpstr(kl_agent_config_get_uuid(config),
			==,
			"d432fbb3-d2f1-4a97-9ef7-75bd81c00001");
	g_clear_object(&config);

	config = load_text(dir, "[agent]\nuuid = \"generate\"\n", NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(kl_agent_config_get_uuid_mode(config), ==, KL_AGENT_UUID_MODE_GENERATE);
	g_assert_true(g_uuid_string_is_valid(kl_agent_config_get_uuid(config)));
	first = g_strdup(kl_agent_config_get_uuid(config));
	g_clear_object(&config);
	config = load_text(dir, "[agent]\nuuid = \"generate\"\n", NULL, NULL, &error);
	g_assert_cmpstr(kl_agent_config_get_uuid(config), !=, first);
	g_clear_object(&config);

	config = load_text(dir, "[agent]\nuuid = \"hash_ek\"\n", NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(kl_agent_config_get_uuid_mode(config), ==, KL_AGENT_UUID_MODE_HASH_EK);
	g_assert_cmpstr(kl_agent_config_get_uuid(config), ==, "hash_ek");
	g_clear_object(&config);

	config = load_text(dir, "[agent]\nuuid = \"hostname\"\n", NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(kl_agent_config_get_uuid_mode(config), ==, KL_AGENT_UUID_MODE_HOSTNAME);
	g_assert_cmpstr(kl_agent_config_get_uuid(config), ==, g_get_host_name());
	g_clear_object(&config);

	config = load_text(dir, "[agent]\nuuid = \"not-a-uuid\"\n", NULL, NULL, &error);
	assert_warnings("*misformatted agent UUID 'not-a-uuid'*", NULL);
	g_assert_no_error(error);
	g_assert_cmpint(kl_agent_config_get_uuid_mode(config), ==, KL_AGENT_UUID_MODE_FALLBACK);
	g_assert_true(g_uuid_string_is_valid(kl_agent_config_get_uuid(config)));
	g_clear_object(&config);

	{
		const gchar *envp[] = {"KEYLIME_AGENT_UUID=hash_ek", NULL};
		config = load_text(dir, "[agent]\nuuid = \"generate\"\n", envp, NULL, &error);
		g_assert_no_error(error);
		g_assert_cmpint(kl_agent_config_get_uuid_mode(config),
				==,
				KL_AGENT_UUID_MODE_HASH_EK);
	}
}

static void
assert_bad(const gchar *text, const gchar *const *envp, const gchar *expected)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = NULL;
	g_autoptr(KlAgentConfig) config = load_text(dir, text, envp, &path, &error);
	g_auto(GStrv) pieces = g_strsplit(expected, "%s", -1);
	g_autofree gchar *full = NULL;

	if (config != NULL)
		g_error("accepted: %s", text);
	/* "%s" in the expected text stands for the file's path. */
	full = g_strjoinv(path, pieces);
	g_assert_nonnull(error);
	g_assert_true(error->domain == KL_CONFIG_ERROR);
	if (strstr(error->message, full) == NULL)
		g_error("expected '%s' in '%s'", full, error->message);
}

static void
test_agent_config_bad_values(void)
{
	const gchar *bad_env[] = {"KEYLIME_AGENT_PORT=eighty", NULL};
	const gchar *bad_bool_env[] = {"KEYLIME_AGENT_ENABLE_AGENT_MTLS=maybe", NULL};

	assert_bad("[agent]\nport = 0\n",
		   NULL,
		   "%s:2:8: [agent] port: expected an integer from 1 to 65535");
	assert_bad("[agent]\nport = 65536\n",
		   NULL,
		   "%s:2:8: [agent] port: expected an integer from 1 to 65535");
	assert_bad("[agent]\nport = \"x\"\n", NULL, "%s:2:8: [agent] port: expected an integer");
	assert_bad("[agent]\nregistrar_port = true\n",
		   NULL,
		   "[agent] registrar_port: expected an integer");
	assert_bad("[agent]\nenable_agent_mtls = 1\n",
		   NULL,
		   "%s:2:21: [agent] enable_agent_mtls: expected a boolean");
	assert_bad("[agent]\nenable_agent_mtls = \"perhaps\"\n",
		   NULL,
		   "[agent] enable_agent_mtls: expected a boolean");
	assert_bad("[agent]\nip = [\"a\"]\n", NULL, "%s:2:6: [agent] ip: expected a string");
	assert_bad("[agent]\ntrusted_client_ca = [\"a\", 1]\n",
		   NULL,
		   "%s:2:27: [agent] trusted_client_ca: expected a list of strings");
	assert_bad("[agent]\ntpm_hash_alg = \"md5\"\n",
		   NULL,
		   "%s:2:16: [agent] tpm_hash_alg: expected one of sha1, sha256");
	assert_bad("[agent]\ntpm_encryption_alg = \"dsa\"\n",
		   NULL,
		   "[agent] tpm_encryption_alg: expected one of rsa");
	assert_bad("[agent]\ntpm_signing_alg = \"rsa\"\n",
		   NULL,
		   "[agent] tpm_signing_alg: expected one of rsassa");
	assert_bad("[agent]\niak_idevid_template = \"H-9\"\n", NULL, "[agent] iak_idevid_template");
	assert_bad("[agent]\nsecure_size = \"1q\"\n",
		   NULL,
		   "%s:2:15: [agent] secure_size: expected a size");
	assert_bad("[agent]\nsecure_size = \"0\"\n", NULL, "[agent] secure_size");
	assert_bad("[agent]\nrun_as = \"keylime\"\n", NULL, "[agent] run_as: expected user:group");
	assert_bad("[agent]\nip = \"bad host!\"\n",
		   NULL,
		   "[agent] ip: expected an IP address or a host name");
	assert_bad("[agent]\nexponential_backoff_max_retries = -1\n",
		   NULL,
		   "[agent] exponential_backoff_max_retries");
	assert_bad("[agent]\nenable_revocation_notifications = true\nrevocation_actions_dir = "
		   "\"/nonexistent/dir\"\n",
		   NULL,
		   "[agent] revocation_actions_dir: expected an existing directory");
	assert_bad("agent = 1\n", NULL, "'agent' must be a table");
	assert_bad("[agent]\nport = 1\nport = 2\n",
		   NULL,
		   "%s:3:1: key 'agent.port': duplicate key");
	assert_bad("[agent]\n",
		   bad_env,
		   "KEYLIME_AGENT_PORT: [agent] port: expected an integer from 1 to 65535");
	assert_bad(
		"[agent]\n",
		bad_bool_env,
		"KEYLIME_AGENT_ENABLE_AGENT_MTLS: [agent] enable_agent_mtls: expected a boolean");
}

static void
test_agent_config_unknown_options(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(KlAgentConfig) config = NULL;
	const gchar *envp[] = {"KEYLIME_AGENT_NO_SUCH=1", NULL};

	config = load_text(dir,
			   "[other]\nx = 1\n[agent]\nport = 9\nfrobnicate = true\n",
			   envp,
			   NULL,
			   &error);
	assert_warnings("*agent.conf:5:14: unknown option 'frobnicate' in [agent], ignored",
			"KEYLIME_AGENT_NO_SUCH: unknown agent option 'no_such'*",
			NULL);
	g_assert_no_error(error);
	g_assert_cmpuint(kl_agent_config_get_port(config), ==, 9);
}

static void
test_agent_config_rust_style(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(KlAgentConfig) config = NULL;
	const gchar *const *ca;
	const gchar *const *actions;
	const gchar *const *versions;

	/* The shape of upstream's keylime-agent.conf: quoted strings, lists as
	 * strings or arrays, literal strings, integers for ports. */
	config =
		load_text(dir,
			  "# Keylime agent configuration\n"
			  "[agent]\n"
			  "version = \"2.0\"\n"
			  "uuid = 'b0acd25f-2205-4c37-932d-e8f99a8d39ef'\n"
			  "ip = \"[::1]\"\n"
			  "port = 9_002\n"
			  "contact_ip = \"agent.example.com\"\n"
			  "registrar_ip = \"127.0.0.1\"\n"
			  "registrar_port = \"8890\"\n"
			  "keylime_dir = \"/var/lib/keylime\"\n"
			  "server_key = \"/etc/keylime/agent-key.pem\"\n"
			  "server_cert = \"certs/agent.crt\"\n"
			  "trusted_client_ca = \"['default', \\\"/etc/keylime/extra-ca.crt\\\"]\"\n"
			  "revocation_actions = [\n"
			  "    \"local_action_one\",\n"
			  "    \"local_action_two\",  # trailing comma next\n"
			  "]\n"
			  "api_versions = \"2.1, 2.2, 9.9\"\n"
			  "secure_size = \"512k\"\n"
			  "tpm_encryption_alg = \"ecc384\"\n"
			  "tpm_signing_alg = \"ecdsa\"\n"
			  "tpm_hash_alg = \"sha384\"\n"
			  "ek_handle = \"0x81000000\"\n"
			  "run_as = \"\"\n"
			  "ima_ml_path = \"tmp/ima\"\n"
			  "measuredboot_ml_path = '/tmp/bios'\n"
			  "enable_agent_mtls = true\n"
			  "exponential_backoff_max_delay = 600_000\n",
			  NULL,
			  NULL,
			  &error);
	/* "9.9" is not a version the agent serves: skipped with a warning. */
	assert_warnings("*skipping API version \"9.9\"*", NULL);
	g_assert_no_error(error);
	g_assert_cmpstr(kl_agent_config_get_uuid(config),
			==,
			"b0acd25f-2205-4c37-932d-e8f99a8d39ef");
	g_assert_cmpstr(kl_agent_config_get_ip(config), ==, "::1");
	g_assert_cmpuint(kl_agent_config_get_port(config), ==, 9002);
	g_assert_cmpstr(kl_agent_config_get_contact_ip(config), ==, "agent.example.com");
	g_assert_cmpuint(kl_agent_config_get_registrar_port(config), ==, 8890);
	g_assert_cmpstr(kl_agent_config_get_server_key(config), ==, "/etc/keylime/agent-key.pem");
	g_assert_cmpstr(kl_agent_config_get_server_cert(config),
			==,
			"/var/lib/keylime/certs/agent.crt");
	ca = kl_agent_config_get_trusted_client_ca(config);
	g_assert_cmpstr(ca[0], ==, "/var/lib/keylime/cv_ca/cacert.crt");
	g_assert_cmpstr(ca[1], ==, "/etc/keylime/extra-ca.crt");
	g_assert_null(ca[2]);
	actions = kl_agent_config_get_list(config, "revocation_actions");
	g_assert_cmpstr(actions[0], ==, "local_action_one");
	g_assert_cmpstr(actions[1], ==, "local_action_two");
	g_assert_null(actions[2]);
	versions = kl_agent_config_get_api_versions(config);
	g_assert_cmpstr(versions[0], ==, "2.1");
	g_assert_cmpstr(versions[1], ==, "2.2");
	g_assert_null(versions[2]);
	g_assert_cmpuint(kl_agent_config_get_secure_size(config), ==, 512 * 1024);
	g_assert_cmpstr(kl_agent_config_get_string(config, "ek_handle"), ==, "0x81000000");
	g_assert_cmpstr(kl_agent_config_get_string(config, "run_as"), ==, "");
	g_assert_cmpstr(kl_agent_config_get_ima_ml_path(config), ==, "/tmp/ima");
	g_assert_cmpstr(kl_agent_config_get_measuredboot_ml_path(config), ==, "/tmp/bios");
	g_assert_cmpuint(kl_agent_config_get_uint(config, "exponential_backoff_max_delay"),
			 ==,
			 600000);
}

static void
test_agent_config_helpers(void)
{
	g_auto(GStrv) a = kl_agent_config_parse_list("a b,c\n'd e' \"f\"");
	g_auto(GStrv) b = kl_agent_config_parse_list("[]");
	g_auto(GStrv) c = kl_agent_config_parse_list("['x', '', \"y\"]");
	guint64 bytes = 0;
	const gchar *expected_a[] = {"a", "b", "c", "d e", "f", NULL};
	const gchar *expected_c[] = {"x", "y", NULL};

	g_assert_true(g_strv_equal((const gchar *const *)a, expected_a));
	g_assert_null(b[0]);
	g_assert_true(g_strv_equal((const gchar *const *)c, expected_c));
	g_assert_true(kl_agent_config_parse_size("4096", &bytes));
	g_assert_cmpuint(bytes, ==, 4096);
	g_assert_true(kl_agent_config_parse_size("2G", &bytes));
	g_assert_cmpuint(bytes, ==, G_GUINT64_CONSTANT(2) << 30);
	g_assert_false(kl_agent_config_parse_size("", &bytes));
	g_assert_false(kl_agent_config_parse_size("-1m", &bytes));
	g_assert_false(kl_agent_config_parse_size("1mb", &bytes));
	g_assert_false(kl_agent_config_parse_size("50%", &bytes));
	g_assert_false(kl_agent_config_parse_size("99999999999999999999", &bytes));
	g_assert_false(kl_agent_config_parse_size("17179869184e", &bytes));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	warnings = g_ptr_array_new_with_free_func(g_free);
	g_log_set_writer_func(capture_writer, NULL, NULL);
	g_test_add_func("/agent-config/shipped-defaults", test_agent_config_shipped_defaults);
	g_test_add_func("/agent-config/no-file", test_agent_config_no_file);
	g_test_add_func("/agent-config/precedence", test_agent_config_precedence);
	g_test_add_func("/agent-config/uuid-modes", test_agent_config_uuid_modes);
	g_test_add_func("/agent-config/bad-values", test_agent_config_bad_values);
	g_test_add_func("/agent-config/unknown-options", test_agent_config_unknown_options);
	g_test_add_func("/agent-config/rust-style", test_agent_config_rust_style);
	g_test_add_func("/agent-config/helpers", test_agent_config_helpers);
	return g_test_run();
}
