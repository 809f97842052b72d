/*
 * org.keylime.Verifier1 on a private bus (GTestDBus), served by
 * KlVerifierDbus over a real KlVerifier attesting a real in-process agent
 * (KlAgentService over KlTpmSoft behind mTLS, its IMA log a file here).
 * EnrollAgent runs the tenant's flow against an in-process registrar.
 * The client side is what consoles use: the ObjectManager's cached
 * properties, signals and async method calls with file descriptors.
 */
#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>

#include "kl-agent-client.h"
#include "kl-agent-service.h"
#include "kl-crypto.h"
#include "kl-dbus-verifier.h"
#include "kl-error.h"
#include "kl-http-server.h"
#include "kl-ima-log.h"
#include "kl-makecredential.h"
#include "kl-registrar-rest.h"
#include "kl-registrar.h"
#include "kl-test-agent.h"
#include "kl-test-ca.h"
#include "kl-test-dir.h"
#include "kl-test-wait.h"
#include "kl-tpm-soft.h"
#include "kl-verifier-dbus-enroll.h"
#include "kl-verifier-dbus.h"
#include "kl-x509.h"
#include "kl-zip-writer.h"

#define KL_TEST_WAIT_MS	      60000
#define KL_TEST_AGENT_ID      "d432fbb3-d2f1-4a97-9ef7-75bd81c00000"
#define KL_TEST_POLICY	      "dbus-runtime"
#define KL_TEST_MAX_UPLOAD    (64 * 1024)
#define KL_TEST_GOOD_PATH_1   "/usr/bin/keylime-one"
#define KL_TEST_GOOD_PATH_2   "/usr/lib/keylime-two.so"
#define KL_TEST_UNLISTED_PATH "/usr/bin/not-in-the-policy"

/* made once in main() */
static GTestDBus *test_bus;
static KlTestDir *test_dir;
static KlTestCa *test_ca;
static EVP_PKEY *test_nk;
static gchar *test_agent_cert; /* the agents' server certificate, PEM */

typedef struct {
	gchar *member;
	GVariant *parameters;
} KlTestSignal;

static void
kl_test_signal_free(gpointer data)
{
	KlTestSignal *signal = data;

	g_free(signal->member);
	g_variant_unref(signal->parameters);
	g_free(signal);
}

typedef struct {
	KlTestAgent *agent; /* its IMA log has the good paths */
	/* the verifier */
	KlVerifier *verifier;
	KlVerifierDbus *dbus;
	GDBusConnection *service_bus;
	/* EnrollAgent: a registrar that knows the agent */
	KlRegistrar *registrar;
	KlHttpServer *registrar_server;
	KlVerifierDbusEnroll *enroll;
	/* the client */
	GDBusConnection *client_bus;
	GDBusObjectManager *objects;
	guint subscription;
	GPtrArray *signals; /* of KlTestSignal */
} Fixture;

/* g_test_expect_message() does not see structured logging on GLib 2.74:
 * kl-dbus-auth's "polkit could not be asked" warnings are counted here
 * while a test expects them; any other warning stays fatal. */
static guint polkit_warnings = G_MAXUINT;

static GLogWriterOutput
kl_test_log_writer(GLogLevelFlags level,
		   const GLogField *fields,
		   gsize n_fields,
		   gpointer user_data)
{
	const gchar *message = NULL;

	for (gsize i = 0; i < n_fields; i++) {
		if (g_str_equal(fields[i].key, "MESSAGE"))
			message = fields[i].value;
	}
	if (polkit_warnings != G_MAXUINT && (level & G_LOG_LEVEL_WARNING) != 0 && message != NULL &&
	    g_str_has_prefix(message, "polkit could not be asked about ")) {
		g_test_message("kl-dbus-auth warned: %s", message);
		polkit_warnings++;
		return G_LOG_WRITER_HANDLED;
	}
	return g_log_writer_default(level, fields, n_fields, user_data);
}

/* ---- helpers ---- */

static void
kl_test_got_result(GObject *source, GAsyncResult *result, gpointer user_data)
{
	GAsyncResult **out = user_data;

	*out = g_object_ref(result);
}

static GDBusConnection *
kl_test_connect(void)
{
	g_autoptr(GError) error = NULL;
	GDBusConnection *connection = g_dbus_connection_new_for_address_sync(
		g_test_dbus_get_bus_address(test_bus),
		G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
			G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
		NULL,
		NULL,
		&error);

	g_assert_no_error(error);
	return connection;
}

/* A method call from the client, the main loop running meanwhile (the
 * service answers on it). */
static GVariant *
fx_call_fds(Fixture *fx,
	    const gchar *path,
	    const gchar *interface,
	    const gchar *method,
	    GVariant *parameters,
	    GUnixFDList *fds,
	    GError **error)
{
	g_autoptr(GAsyncResult) result = NULL;

	g_dbus_connection_call_with_unix_fd_list(fx->client_bus,
						 g_dbus_connection_get_unique_name(fx->service_bus),
						 path,
						 interface,
						 method,
						 parameters,
						 NULL,
						 G_DBUS_CALL_FLAGS_NONE,
						 KL_TEST_WAIT_MS,
						 fds,
						 NULL,
						 kl_test_got_result,
						 &result);
	g_assert_true(kl_test_wait_for_pointer((gpointer *)&result, KL_TEST_WAIT_MS));
	return g_dbus_connection_call_with_unix_fd_list_finish(fx->client_bus, NULL, result, error);
}

static GVariant *
fx_call(Fixture *fx, const gchar *method, GVariant *parameters, GError **error)
{
	return fx_call_fds(fx,
			   KL_VERIFIER_DBUS_PATH,
			   "org.keylime.Verifier1.Manager",
			   method,
			   parameters,
			   NULL,
			   error);
}

static GVariant *
fx_call_agent(Fixture *fx, const gchar *method, GVariant *parameters, GError **error)
{
	g_autofree gchar *path = kl_verifier_dbus_agent_path(KL_TEST_AGENT_ID);

	return fx_call_fds(fx,
			   path,
			   "org.keylime.Verifier1.Agent",
			   method,
			   parameters,
			   NULL,
			   error);
}

static void
fx_signal_cb(GDBusConnection *connection,
	     const gchar *sender,
	     const gchar *path,
	     const gchar *interface,
	     const gchar *member,
	     GVariant *parameters,
	     gpointer user_data)
{
	Fixture *fx = user_data;
	KlTestSignal *signal = g_new0(KlTestSignal, 1);

	signal->member = g_strdup(member);
	signal->parameters = g_variant_ref(parameters);
	g_ptr_array_add(fx->signals, signal);
}

/* The first recorded signal @member, or NULL. */
static GVariant *
fx_find_signal(Fixture *fx, const gchar *member)
{
	for (guint i = 0; i < fx->signals->len; i++) {
		KlTestSignal *signal = g_ptr_array_index(fx->signals, i);

		if (g_str_equal(signal->member, member))
			return signal->parameters;
	}
	return NULL;
}

typedef struct {
	Fixture *fx;
	const gchar *member;
	guint state; /* StateChanged: the new state */
	guint reason;
} KlTestSignalWait;

static gboolean
kl_test_has_signal(gpointer user_data)
{
	KlTestSignalWait *wait = user_data;

	for (guint i = 0; i < wait->fx->signals->len; i++) {
		KlTestSignal *signal = g_ptr_array_index(wait->fx->signals, i);
		guint new_state = 0;
		guint reason = 0;

		if (!g_str_equal(signal->member, wait->member))
			continue;
		if (!g_str_equal(wait->member, "StateChanged"))
			return TRUE;
		g_variant_get(signal->parameters, "(uuu)", &new_state, NULL, &reason);
		if (new_state == wait->state &&
		    (wait->reason == G_MAXUINT || reason == wait->reason))
			return TRUE;
	}
	return FALSE;
}

static void
fx_wait_signal(Fixture *fx, const gchar *member)
{
	KlTestSignalWait wait = {fx, member, 0, G_MAXUINT};

	g_assert_true(kl_test_wait_for(kl_test_has_signal, &wait, KL_TEST_WAIT_MS));
}

static void
fx_wait_state_changed(Fixture *fx, guint state, guint reason)
{
	KlTestSignalWait wait = {fx, "StateChanged", state, reason};

	g_assert_true(kl_test_wait_for(kl_test_has_signal, &wait, KL_TEST_WAIT_MS));
}

/* The agent's proxy from the ObjectManager client, NULL while absent. */
static KlDBusVerifier1Agent *
fx_agent_proxy(Fixture *fx)
{
	g_autofree gchar *path = kl_verifier_dbus_agent_path(KL_TEST_AGENT_ID);
	g_autoptr(GDBusObject) object = g_dbus_object_manager_get_object(fx->objects, path);

	if (object == NULL)
		return NULL;
	return kl_dbus_object_get_verifier1_agent(KL_DBUS_OBJECT(object));
}

typedef struct {
	Fixture *fx;
	guint state;
} KlTestStateWait;

static gboolean
kl_test_proxy_in_state(gpointer user_data)
{
	KlTestStateWait *wait = user_data;
	g_autoptr(KlDBusVerifier1Agent) agent = fx_agent_proxy(wait->fx);

	return agent != NULL && kl_dbus_verifier1_agent_get_state(agent) == wait->state;
}

static void
fx_wait_proxy_state(Fixture *fx, guint state)
{
	KlTestStateWait wait = {fx, state};

	g_assert_true(kl_test_wait_for(kl_test_proxy_in_state, &wait, KL_TEST_WAIT_MS));
}

static gboolean
kl_test_agent_gone(gpointer user_data)
{
	g_autoptr(KlDBusVerifier1Agent) agent = fx_agent_proxy(user_data);

	return agent == NULL;
}

static gchar *
kl_test_sha256_hex(const gchar *text)
{
	guint8 digest[32];
	gsize len = 0;

	g_assert_true(
		kl_crypto_digest("sha256", (const guint8 *)text, strlen(text), digest, &len, NULL));
	return kl_crypto_hex_encode(digest, 32);
}

/* A runtime policy allowing the two good paths. */
static gchar *
kl_test_runtime_policy(void)
{
	g_autofree gchar *one = kl_test_sha256_hex(KL_TEST_GOOD_PATH_1);
	g_autofree gchar *two = kl_test_sha256_hex(KL_TEST_GOOD_PATH_2);

	return g_strdup_printf("{\"meta\": {\"version\": 1, \"generator\": 3}, \"release\": 0, "
			       "\"digests\": {\"" KL_TEST_GOOD_PATH_1 "\": [\"%s\"], "
			       "\"" KL_TEST_GOOD_PATH_2 "\": [\"%s\"]}, \"excludes\": [], "
			       "\"keyrings\": {}, \"ima\": {\"ignored_keyrings\": [], "
			       "\"log_hash_alg\": \"sha1\", \"dm_policy\": null}, \"ima-buf\": {}, "
			       "\"verification-keys\": \"\"}",
			       one,
			       two);
}

/* A descriptor reading @text, in a list for a call. */
static GUnixFDList *
kl_test_fd_for(const gchar *name, const gchar *text, gsize length)
{
	g_autofree gchar *path = kl_test_dir_write(test_dir, name, text, (gssize)length);
	g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
	g_autoptr(GError) error = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(g_unix_fd_list_append(fds, fd, &error), ==, 0);
	g_assert_no_error(error);
	close(fd);
	return g_steal_pointer(&fds);
}

/* @reply is (a…) with no elements */
static void
kl_test_assert_empty_list(GVariant *reply)
{
	g_autoptr(GVariant) list = g_variant_get_child_value(reply, 0);

	g_assert_cmpuint(g_variant_n_children(list), ==, 0);
}

/* ---- the fixture ---- */

typedef enum {
	KL_TEST_SAME_USER, /* a private bus: the same user may */
	KL_TEST_POLKIT,	   /* polkit, which a private bus has not */
	KL_TEST_ENROLL,	   /* same user, EnrollAgent with a registrar */
	KL_TEST_BUSY,	   /* same user, quote_interval 0: rounds back to back */
} KlTestKind;

/* The registrar's side of the agent's registration and activation. */
static void
fx_register(Fixture *fx)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) body = json_object_new();
	g_autoptr(GBytes) blob = NULL;
	g_autoptr(KlSecret) secret = NULL;
	g_autofree gchar *challenge = NULL;
	g_autofree gchar *auth_tag = NULL;
	g_autofree gchar *ek_b64 = NULL;
	g_autofree gchar *ak_b64 = NULL;
	GBytes *ek = kl_tpm_get_ek_public(fx->agent->tpm); /* borrowed */
	GBytes *ak = kl_tpm_get_ak_public(fx->agent->tpm);

	ek_b64 = g_base64_encode(g_bytes_get_data(ek, NULL), g_bytes_get_size(ek));
	ak_b64 = g_base64_encode(g_bytes_get_data(ak, NULL), g_bytes_get_size(ak));
	json_object_set_string_member(body, "ek_tpm", ek_b64);
	json_object_set_string_member(body, "aik_tpm", ak_b64);
	json_object_set_string_member(body, "mtls_cert", test_agent_cert);
	json_object_set_string_member(body, "ip", "127.0.0.1");
	json_object_set_int_member(body, "port", fx->agent->port);
	blob = kl_registrar_register(fx->registrar, KL_TEST_AGENT_ID, body, &error);
	g_assert_no_error(error);
	secret = kl_tpm_activate_credential(fx->agent->tpm, blob, &error);
	g_assert_no_error(error);
	challenge = g_strndup((const gchar *)kl_secret_get_data(secret, NULL),
			      kl_secret_get_size(secret));
	auth_tag = kl_makecredential_auth_tag(challenge, KL_TEST_AGENT_ID, &error);
	g_assert_no_error(error);
	g_assert_true(kl_registrar_activate(fx->registrar, KL_TEST_AGENT_ID, auth_tag, &error));
	g_assert_no_error(error);
}

static void
fx_start_registrar(Fixture *fx)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlRegistrarStore) store = NULL;
	g_autoptr(KlHttpRouter) router = NULL;
	g_autofree gchar *db = NULL;
	g_autofree gchar *name = NULL;
	static guint n_registrars = 0;

	name = g_strdup_printf("registrar-%u.sqlite", n_registrars++);
	db = kl_test_dir_build(test_dir, name, NULL);
	store = kl_registrar_store_open(db, &error);
	g_assert_no_error(error);
	fx->registrar =
		kl_registrar_new(g_steal_pointer(&store), KL_REGISTRAR_TPM_IDENTITY_DEFAULT);
	router = kl_registrar_rest_router_new(fx->registrar, &error);
	g_assert_no_error(error);
	fx->registrar_server =
		kl_test_tls_server_new(router, test_ca, KL_HTTP_CLIENT_CERT_OPTIONAL, 0);
	fx_register(fx);
}

/* What keylime_verifier would read from tenant.conf. */
static KlTenantEnrollOptions *
fx_enroll_config(gpointer user_data)
{
	Fixture *fx = user_data;
	KlTenantEnrollOptions *options = kl_tenant_enroll_options_new();
	const gchar *hash[] = {"sha256", NULL};
	const gchar *enc[] = {"ecc", "rsa", NULL};
	const gchar *sign[] = {"ecdsa", "rsassa", NULL};

	options->registrar_host = g_strdup("127.0.0.1");
	options->registrar_port = kl_http_server_get_port(fx->registrar_server);
	options->registrar_ca = g_strdup(kl_test_ca_get_ca_cert_path(test_ca));
	options->client_cert = g_strdup(kl_test_ca_get_client_cert_path(test_ca));
	options->client_key = g_strdup(kl_test_ca_get_client_key_path(test_ca));
	options->require_ek_cert = FALSE; /* KlTpmSoft has no EK certificate */
	g_strfreev(options->accept_hash_algs);
	options->accept_hash_algs = g_strdupv((gchar **)hash);
	g_strfreev(options->accept_enc_algs);
	options->accept_enc_algs = g_strdupv((gchar **)enc);
	g_strfreev(options->accept_sign_algs);
	options->accept_sign_algs = g_strdupv((gchar **)sign);
	options->request_timeout = 10.0;
	return options;
}

static void
fx_start_agent(Fixture *fx)
{
	static guint n_agents = 0;
	g_autofree gchar *name = g_strdup_printf("secure-%u", n_agents++);
	g_autofree gchar *secure_dir = kl_test_dir_build(test_dir, name, NULL);
	g_autofree gchar *ima_path = NULL;

	fx->agent = kl_test_agent_new(KL_TEST_AGENT_ID, test_nk, NULL, secure_dir, secure_dir);
	ima_path = g_build_filename(secure_dir, "ascii_runtime_measurements", NULL);
	kl_test_agent_set_ima_log(fx->agent, ima_path);
	kl_test_agent_measure(fx->agent, KL_TEST_GOOD_PATH_1);
	kl_test_agent_measure(fx->agent, KL_TEST_GOOD_PATH_2);
	kl_test_agent_start(fx->agent, test_ca, 0);
}

static void
fx_setup(Fixture *fx, gconstpointer data)
{
	KlTestKind kind = GPOINTER_TO_UINT(data);
	KlDBusAuthMode mode = kind == KL_TEST_POLKIT ? KL_DBUS_AUTH_POLKIT : KL_DBUS_AUTH_SAME_USER;
	g_autofree gchar *db_path = NULL;
	g_autoptr(GAsyncResult) result = NULL;
	g_autoptr(GError) error = NULL;
	KlVerifierStore *store;
	KlVerifierOptions options;
	static guint n_fixtures = 0;
	g_autofree gchar *db_name = g_strdup_printf("cv_data-%u.sqlite", n_fixtures++);

	fx->signals = g_ptr_array_new_with_free_func(kl_test_signal_free);
	fx_start_agent(fx);

	db_path = kl_test_dir_build(test_dir, db_name, NULL);
	store = kl_verifier_store_open(db_path, &error);
	g_assert_no_error(error);
	kl_verifier_options_init(&options);
	options.verifier_id = "dbus-test";
	options.verifier_ip = "127.0.0.1";
	options.quote_interval = kind == KL_TEST_BUSY ? 0 : 0.2;
	options.retry_interval = 0.2;
	options.enable_agent_mtls = TRUE;
	options.client_cert = kl_test_ca_get_client_cert_path(test_ca);
	options.client_key = kl_test_ca_get_client_key_path(test_ca);
	options.n_workers = 2;
	options.max_upload_size = KL_TEST_MAX_UPLOAD;
	fx->verifier = kl_verifier_new(&options, store, &error);
	g_assert_no_error(error);
	g_assert_true(kl_verifier_start(fx->verifier, &error));
	g_assert_no_error(error);

	fx->service_bus = kl_test_connect();
	fx->client_bus = kl_test_connect();
	fx->dbus = kl_verifier_dbus_new(fx->verifier,
					fx->service_bus,
					mode,
					KL_TEST_MAX_UPLOAD,
					&error);
	g_assert_no_error(error);
	if (kind == KL_TEST_ENROLL) {
		fx_start_registrar(fx);
		fx->enroll = kl_verifier_dbus_enroll_new(fx->dbus, fx_enroll_config, fx, NULL);
	}

	fx->subscription = g_dbus_connection_signal_subscribe(
		fx->client_bus,
		g_dbus_connection_get_unique_name(fx->service_bus),
		NULL,
		NULL,
		NULL,
		NULL,
		G_DBUS_SIGNAL_FLAGS_NONE,
		fx_signal_cb,
		fx,
		NULL);
	kl_dbus_object_manager_client_new(fx->client_bus,
					  G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_NONE,
					  g_dbus_connection_get_unique_name(fx->service_bus),
					  KL_VERIFIER_DBUS_PATH,
					  NULL,
					  kl_test_got_result,
					  &result);
	g_assert_true(kl_test_wait_for_pointer((gpointer *)&result, KL_TEST_WAIT_MS));
	fx->objects = kl_dbus_object_manager_client_new_finish(result, &error);
	g_assert_no_error(error);
}

static void
fx_teardown(Fixture *fx, gconstpointer data)
{
	g_dbus_connection_signal_unsubscribe(fx->client_bus, fx->subscription);
	g_clear_object(&fx->objects);
	g_clear_pointer(&fx->enroll, kl_verifier_dbus_enroll_free);
	g_clear_pointer(&fx->dbus, kl_verifier_dbus_free);
	if (fx->registrar_server != NULL)
		kl_http_server_stop(fx->registrar_server);
	g_clear_object(&fx->registrar_server);
	g_clear_object(&fx->registrar);
	g_clear_object(&fx->verifier);
	/* what is on its way is delivered (and freed) before the close */
	g_dbus_connection_flush_sync(fx->service_bus, NULL, NULL);
	g_dbus_connection_close_sync(fx->client_bus, NULL, NULL);
	g_dbus_connection_close_sync(fx->service_bus, NULL, NULL);
	while (g_main_context_iteration(NULL, FALSE))
		;
	g_clear_object(&fx->client_bus);
	g_clear_object(&fx->service_bus);
	g_clear_pointer(&fx->agent, kl_test_agent_free);
	g_ptr_array_unref(fx->signals);
}

/* AddAgent's options for the fixture's agent, its runtime policy stored
 * under @policy_name. */
static GVariant *
fx_add_options_named(Fixture *fx, const gchar *runtime_policy_b64, const gchar *policy_name)
{
	GBytes *ak = kl_tpm_get_ak_public(fx->agent->tpm); /* borrowed */
	g_autofree gchar *ak_b64 =
		g_base64_encode(g_bytes_get_data(ak, NULL), g_bytes_get_size(ak));
	g_autofree gchar *v = NULL;
	guint8 v_bytes[32];
	GVariantBuilder builder;
	const gchar *hash_algs[] = {"sha256", NULL};
	const gchar *enc_algs[] = {"ecc", "rsa", NULL};
	const gchar *sign_algs[] = {"ecdsa", "rsassa", NULL};

	g_assert_true(kl_crypto_random_bytes(v_bytes, sizeof(v_bytes), NULL));
	v = g_base64_encode(v_bytes, sizeof(v_bytes));
	g_variant_builder_init(&builder, G_VARIANT_TYPE("a{sv}"));
#define ADD(key, value) g_variant_builder_add(&builder, "{sv}", key, value)
	ADD("v", g_variant_new_string(v));
	ADD("cloudagent_ip", g_variant_new_string("127.0.0.1"));
	ADD("cloudagent_port", g_variant_new_uint16(fx->agent->port));
	ADD("tpm_policy", g_variant_new_string("{\"mask\": \"0x400\"}"));
	ADD("runtime_policy", g_variant_new_string(runtime_policy_b64));
	ADD("runtime_policy_name", g_variant_new_string(policy_name));
	ADD("mb_policy", g_variant_new_string("")); /* D-Bus has no null: "" */
	ADD("mb_policy_name", g_variant_new_string(""));
	ADD("ima_sign_verification_keys", g_variant_new_string(""));
	ADD("metadata", g_variant_new_string("{}"));
	ADD("revocation_key", g_variant_new_string(""));
	ADD("accept_tpm_hash_algs", g_variant_new_strv(hash_algs, -1));
	ADD("accept_tpm_encryption_algs", g_variant_new_strv(enc_algs, -1));
	ADD("accept_tpm_signing_algs", g_variant_new_strv(sign_algs, -1));
	ADD("ak_tpm", g_variant_new_string(ak_b64));
	ADD("mtls_cert", g_variant_new_string(test_agent_cert));
	ADD("supported_version", g_variant_new_string("2.2"));
#undef ADD
	return g_variant_builder_end(&builder);
}

static GVariant *
fx_add_options(Fixture *fx, const gchar *runtime_policy_b64)
{
	return fx_add_options_named(fx, runtime_policy_b64, KL_TEST_POLICY);
}

static void
fx_add_agent_named(Fixture *fx, const gchar *policy_name)
{
	g_autofree gchar *policy = kl_test_runtime_policy();
	g_autofree gchar *policy_b64 = g_base64_encode((const guint8 *)policy, strlen(policy));
	g_autofree gchar *expected = kl_verifier_dbus_agent_path(KL_TEST_AGENT_ID);
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *path = NULL;

	reply = fx_call(fx,
			"AddAgent",
			g_variant_new("(s@a{sv})",
				      KL_TEST_AGENT_ID,
				      fx_add_options_named(fx, policy_b64, policy_name)),
			&error);
	g_assert_no_error(error);
	g_variant_get(reply, "(&o)", &path);
	g_assert_cmpstr(path, ==, expected);
}

static void
fx_add_agent(Fixture *fx)
{
	fx_add_agent_named(fx, KL_TEST_POLICY);
}

/* ---- tests ---- */

/* The engine's name for policy @id ("" for none). */
static const gchar *
fx_policy_name(Fixture *fx, KlVerifierPolicyKind kind, gint64 id)
{
	g_autoptr(GPtrArray) names = kl_verifier_list_policies(fx->verifier, kind, NULL);

	g_assert_nonnull(names);
	for (guint i = 0; id >= 0 && i < names->len; i++) {
		g_autoptr(KlVerifierPolicy) policy =
			kl_verifier_get_policy(fx->verifier,
					       kind,
					       g_ptr_array_index(names, i),
					       NULL);

		if (policy != NULL && policy->id == id)
			return g_intern_string(policy->name);
	}
	return "";
}

/* The properties a console shows are the engine's. */
static void
fx_assert_agent_matches(Fixture *fx)
{
	g_autoptr(KlDBusVerifier1Agent) proxy = fx_agent_proxy(fx);
	g_autoptr(KlVerifierAgent) agent = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_nonnull(proxy);
	agent = kl_verifier_get_agent(fx->verifier, KL_TEST_AGENT_ID, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(kl_dbus_verifier1_agent_get_agent_id(proxy), ==, agent->agent_id);
	g_assert_cmpint(kl_dbus_verifier1_agent_get_state(proxy), ==, agent->operational_state);
	g_assert_cmpstr(kl_dbus_verifier1_agent_get_ip(proxy), ==, agent->ip);
	g_assert_cmpint(kl_dbus_verifier1_agent_get_port(proxy), ==, agent->port);
	g_assert_cmpstr(kl_dbus_verifier1_agent_get_hash_alg(proxy), ==, agent->hash_alg);
	g_assert_cmpstr(kl_dbus_verifier1_agent_get_sign_alg(proxy), ==, agent->sign_alg);
	g_assert_cmpstr(kl_dbus_verifier1_agent_get_enc_alg(proxy), ==, agent->enc_alg);
	g_assert_cmpstr(kl_dbus_verifier1_agent_get_hash_alg(proxy),
			==,
			kl_tpm_get_hash_alg(fx->agent->tpm));
	g_assert_cmpstr(kl_dbus_verifier1_agent_get_runtime_policy(proxy), ==, KL_TEST_POLICY);
	g_test_message("MbPolicy: '%s'", kl_dbus_verifier1_agent_get_mb_policy(proxy));
	g_assert_cmpstr(kl_dbus_verifier1_agent_get_mb_policy(proxy),
			==,
			fx_policy_name(fx, KL_VERIFIER_POLICY_MB, agent->mb_policy_id));
	g_assert_cmpuint(kl_dbus_verifier1_agent_get_attestation_count(proxy), >, 0);
	g_assert_cmpuint(kl_dbus_verifier1_agent_get_attestation_count(proxy),
			 <=,
			 (guint64)agent->attestation_count);
	g_assert_cmpuint(kl_dbus_verifier1_agent_get_last_success(proxy), >, 0);
	g_assert_cmpuint(kl_dbus_verifier1_agent_get_state_reason(proxy),
			 ==,
			 KL_VERIFIER_REASON_ATTESTED);
}

static gboolean
kl_test_attested(gpointer user_data)
{
	g_autoptr(KlDBusVerifier1Agent) agent = fx_agent_proxy(user_data);

	return agent != NULL && kl_dbus_verifier1_agent_get_state(agent) == 3 &&
	       kl_dbus_verifier1_agent_get_attestation_count(agent) > 0;
}

static void
fx_assert_manager(Fixture *fx, guint n_agents, guint n_failed)
{
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GError) error = NULL;
	guint got_agents = 0;
	guint got_failed = 0;

	reply = fx_call_fds(fx,
			    KL_VERIFIER_DBUS_PATH,
			    "org.freedesktop.DBus.Properties",
			    "GetAll",
			    g_variant_new("(s)", "org.keylime.Verifier1.Manager"),
			    NULL,
			    &error);
	g_assert_no_error(error);
	{
		g_autoptr(GVariant) all = g_variant_get_child_value(reply, 0);
		g_autoptr(GVariantDict) dict = g_variant_dict_new(all);
		g_autofree const gchar **labels = NULL;
		g_autofree const gchar **versions = NULL;
		KlSeverityPolicy *severity = kl_verifier_get_severity_policy(fx->verifier);
		const gchar *text = NULL;
		gdouble interval = 0;

		g_assert_true(g_variant_dict_lookup(dict, "NumAgents", "u", &got_agents));
		g_assert_true(g_variant_dict_lookup(dict, "NumFailed", "u", &got_failed));
		g_assert_cmpuint(got_agents, ==, n_agents);
		g_assert_cmpuint(got_failed, ==, n_failed);
		g_assert_true(g_variant_dict_lookup(dict, "VerifierId", "&s", &text));
		g_assert_cmpstr(text, ==, "dbus-test");
		g_assert_true(g_variant_dict_lookup(dict, "ShmName", "&s", &text));
		g_assert_cmpstr(text, ==, kl_verifier_get_shm_name(fx->verifier));
		g_assert_true(g_variant_dict_lookup(dict, "Version", "&s", &text));
		g_assert_cmpstr(text, ==, PACKAGE_VERSION);
		g_assert_true(g_variant_dict_lookup(dict, "QuoteInterval", "d", &interval));
		g_assert_cmpfloat_with_epsilon(interval, 0.2, 1e-9);
		g_assert_true(g_variant_dict_lookup(dict, "SeverityLabels", "^a&s", &labels));
		g_assert_cmpuint(g_strv_length((gchar **)labels),
				 ==,
				 kl_severity_policy_get_max_level(severity) + 1);
		g_assert_cmpstr(labels[0], ==, kl_severity_policy_get_label(severity, 0));
		g_assert_true(g_variant_dict_lookup(dict, "ApiVersions", "^a&s", &versions));
		g_assert_true(g_strv_contains(versions, "2.2"));
	}
}

typedef struct {
	Fixture *fx;
	guint n_failed;
} KlTestCountWait;

static gboolean
kl_test_n_failed_is(gpointer user_data)
{
	KlTestCountWait *wait = user_data;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) value = NULL;

	reply = fx_call_fds(wait->fx,
			    KL_VERIFIER_DBUS_PATH,
			    "org.freedesktop.DBus.Properties",
			    "Get",
			    g_variant_new("(ss)", "org.keylime.Verifier1.Manager", "NumFailed"),
			    NULL,
			    NULL);
	if (reply == NULL)
		return FALSE;
	g_variant_get(reply, "(v)", &value);
	return g_variant_get_uint32(value) == wait->n_failed;
}

/* An agent attests, fails on an unlisted file, and is stopped,
 * reactivated and removed through D-Bus. */

typedef struct {
	Fixture *fx;
	const gchar *name;
} KlTestPolicyWait;

static gboolean
kl_test_proxy_policy_is(gpointer user_data)
{
	KlTestPolicyWait *wait = user_data;
	g_autoptr(KlDBusVerifier1Agent) agent = fx_agent_proxy(wait->fx);

	return agent != NULL &&
	       g_strcmp0(kl_dbus_verifier1_agent_get_runtime_policy(agent), wait->name) == 0;
}

/* An agent removed, its policy deleted behind D-Bus's back (as REST does)
 * and enrolled again with another policy — which the store may give the
 * deleted one's id — shows the new policy's name. */
static void
test_verifier_dbus_reenrolled_policy(Fixture *fx, gconstpointer data)
{
	KlTestPolicyWait old_policy = {fx, "p-old"};
	KlTestPolicyWait new_policy = {fx, "p-new"};
	g_autoptr(GError) error = NULL;
	gboolean pending = FALSE;

	fx_add_agent_named(fx, "p-old");
	g_assert_true(kl_test_wait_for(kl_test_proxy_policy_is, &old_policy, KL_TEST_WAIT_MS));
	g_assert_true(kl_verifier_delete_agent(fx->verifier, KL_TEST_AGENT_ID, &pending, &error));
	g_assert_no_error(error);
	g_assert_true(kl_test_wait_for(kl_test_agent_gone, fx, KL_TEST_WAIT_MS));
	g_assert_true(kl_verifier_delete_policy(fx->verifier,
						KL_VERIFIER_POLICY_RUNTIME,
						"p-old",
						&error));
	g_assert_no_error(error);

	fx_add_agent_named(fx, "p-new");
	g_assert_true(kl_test_wait_for(kl_test_proxy_policy_is, &new_policy, KL_TEST_WAIT_MS));
}

static void
test_verifier_dbus_lifecycle(Fixture *fx, gconstpointer data)
{
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) entries = NULL;
	g_autoptr(GVariant) events = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = kl_verifier_dbus_agent_path(KL_TEST_AGENT_ID);
	g_autofree const gchar **ids = NULL;
	KlTestCountWait failed_wait = {fx, 1};
	GVariant *signal;
	GVariantIter iter;
	const gchar *text = NULL;
	const gchar *event_id = NULL;
	const gchar *subject = NULL;
	const gchar *reason = NULL;
	GVariant *extras = NULL;
	gboolean found = FALSE;
	guint line = 0;

	fx_add_agent(fx);
	g_assert_true(kl_test_wait_for(kl_test_attested, fx, KL_TEST_WAIT_MS));
	/* a round later the coalesced properties have caught up */
	fx_wait_state_changed(fx, 3, G_MAXUINT);
	fx_assert_agent_matches(fx);
	fx_assert_manager(fx, 1, 0);
	reply = fx_call(fx, "ListAgents", NULL, &error);
	g_assert_no_error(error);
	g_variant_get(reply, "(^a&s)", &ids);
	g_assert_cmpuint(g_strv_length((gchar **)ids), ==, 1);
	g_assert_cmpstr(ids[0], ==, KL_TEST_AGENT_ID);
	g_clear_pointer(&reply, g_variant_unref);

	/* an unlisted file: Invalid Quote, and the events say which */
	kl_test_agent_measure(fx->agent, KL_TEST_UNLISTED_PATH);
	fx_wait_state_changed(fx, 9, KL_VERIFIER_REASON_QUOTE_FAILED);
	fx_wait_signal(fx, "AttestationFailed");
	fx_wait_signal(fx, "ImaEntriesFailed");
	fx_wait_proxy_state(fx, 9);
	g_assert_true(kl_test_wait_for(kl_test_n_failed_is, &failed_wait, KL_TEST_WAIT_MS));

	signal = fx_find_signal(fx, "AttestationFailed");
	g_variant_get(signal, "(&o&stu@a(ssb))", &text, NULL, NULL, NULL, &events);
	g_assert_cmpstr(text, ==, path);
	g_assert_cmpuint(g_variant_n_children(events), >, 0);
	g_variant_iter_init(&iter, events);
	while (g_variant_iter_next(&iter, "(&s&sb)", &event_id, NULL, NULL))
		found = found || g_str_has_prefix(event_id, "ima.");
	g_assert_true(found);

	signal = fx_find_signal(fx, "ImaEntriesFailed");
	g_variant_get(signal, "(&o&st@a(ussa{sv}))", &text, NULL, NULL, &entries);
	g_assert_cmpstr(text, ==, path);
	g_assert_cmpuint(g_variant_n_children(entries), ==, 1);
	g_variant_get_child(entries, 0, "(u&s&s@a{sv})", &line, &subject, &reason, &extras);
	g_assert_cmpstr(subject, ==, KL_TEST_UNLISTED_PATH);
	/* the engine numbers lines within the round's part of the list */
	g_assert_cmpuint(line, >=, 1);
	g_assert_cmpstr(reason, !=, "");
	{
		g_autoptr(GVariant) owned = extras;
		g_autoptr(GVariantDict) dict = g_variant_dict_new(owned);

		g_assert_true(g_variant_dict_lookup(dict, "event_id", "&s", &event_id));
		g_assert_true(g_str_has_prefix(event_id, "ima."));
		g_assert_true(g_variant_dict_lookup(dict, "context", "&s", &text));
	}

	/* the backfill has it too */
	reply = fx_call(fx, "GetEvents", g_variant_new("(tu)", (guint64)0, 100), &error);
	g_assert_no_error(error);
	{
		g_autoptr(GVariant) list = g_variant_get_child_value(reply, 0);
		const gchar *kind = NULL;
		const gchar *agent_id = NULL;

		found = FALSE;
		g_variant_iter_init(&iter, list);
		while (g_variant_iter_next(&iter,
					   "(&s&st&su&s&s)",
					   &kind,
					   &agent_id,
					   NULL,
					   &event_id,
					   NULL,
					   &subject,
					   NULL))
			found = found || (g_str_equal(kind, "finding") &&
					  g_str_equal(agent_id, KL_TEST_AGENT_ID) &&
					  g_str_equal(subject, KL_TEST_UNLISTED_PATH));
		g_assert_true(found);
	}
	g_clear_pointer(&reply, g_variant_unref);
	reply = fx_call_agent(fx, "GetFailures", g_variant_new("(u)", 10), &error);
	g_assert_no_error(error);
	{
		g_autoptr(GVariant) list = g_variant_get_child_value(reply, 0);

		found = FALSE;
		g_variant_iter_init(&iter, list);
		while (g_variant_iter_next(&iter, "(t&su&s&s)", NULL, NULL, NULL, &subject, NULL))
			found = found || g_str_equal(subject, KL_TEST_UNLISTED_PATH);
		g_assert_true(found);
	}
	g_clear_pointer(&reply, g_variant_unref);
	/* the failure revoked the agent: signalled and in its history */
	fx_wait_signal(fx, "Revocation");
	signal = fx_find_signal(fx, "Revocation");
	g_variant_get(signal, "(&o&st&su&s)", &text, &subject, NULL, &event_id, NULL, NULL);
	g_assert_cmpstr(text, ==, path);
	g_assert_cmpstr(subject, ==, KL_TEST_AGENT_ID);
	g_assert_cmpstr(event_id, !=, "");
	reply = fx_call_agent(fx, "GetRevocations", g_variant_new("(u)", 10), &error);
	g_assert_no_error(error);
	{
		g_autoptr(GVariant) list = g_variant_get_child_value(reply, 0);
		const gchar *revoked = NULL;

		g_assert_cmpuint(g_variant_n_children(list), ==, 1);
		g_variant_get_child(list, 0, "(t&su&s)", NULL, &revoked, NULL, NULL);
		g_assert_cmpstr(revoked, ==, event_id);
	}
	g_clear_pointer(&reply, g_variant_unref);

	/* Reactivate starts over (and fails again: the file is still there) */
	reply = fx_call_agent(fx, "Reactivate", NULL, &error);
	g_assert_no_error(error);
	g_clear_pointer(&reply, g_variant_unref);
	fx_wait_state_changed(fx, KL_VERIFIER_STATE_START, KL_VERIFIER_REASON_REACTIVATED);

	/* Stop: Tenant Quote Failed */
	reply = fx_call_agent(fx, "Stop", NULL, &error);
	g_assert_no_error(error);
	g_clear_pointer(&reply, g_variant_unref);
	fx_wait_state_changed(fx, KL_VERIFIER_STATE_TENANT_FAILED, KL_VERIFIER_REASON_STOPPED);
	fx_wait_proxy_state(fx, KL_VERIFIER_STATE_TENANT_FAILED);

	/* Remove: the object goes, and the agent is no more */
	reply = fx_call_agent(fx, "Remove", NULL, &error);
	g_assert_no_error(error);
	g_clear_pointer(&reply, g_variant_unref);
	g_assert_true(kl_test_wait_for(kl_test_agent_gone, fx, KL_TEST_WAIT_MS));
	reply = fx_call(fx, "ListAgents", NULL, &error);
	g_assert_no_error(error);
	kl_test_assert_empty_list(reply);
	g_clear_pointer(&reply, g_variant_unref);
	failed_wait.n_failed = 0;
	g_assert_true(kl_test_wait_for(kl_test_n_failed_is, &failed_wait, KL_TEST_WAIT_MS));
	fx_assert_manager(fx, 0, 0);

	reply = fx_call(fx, "RemoveAgent", g_variant_new("(s)", KL_TEST_AGENT_ID), &error);
	g_assert_null(reply);
	g_assert_error(error, KL_ERROR, KL_ERROR_NOT_FOUND);
}

static void
fx_policy_round_trip(Fixture *fx, const gchar *kind, const gchar *text)
{
	g_autofree gchar *add = g_strdup_printf("Add%sPolicy", kind);
	g_autofree gchar *list = g_strdup_printf("List%sPolicies", kind);
	g_autofree gchar *get = g_strdup_printf("Get%sPolicy", kind);
	g_autofree gchar *delete = g_strdup_printf("Delete%sPolicy", kind);
	g_autoptr(GUnixFDList) fds = kl_test_fd_for(kind, text, strlen(text));
	g_autoptr(GUnixFDList) again = kl_test_fd_for(kind, text, strlen(text));
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree const gchar **names = NULL;
	const gchar *got = NULL;

	reply = fx_call_fds(fx,
			    KL_VERIFIER_DBUS_PATH,
			    "org.keylime.Verifier1.Manager",
			    add,
			    g_variant_new("(sh)", "from-fd", 0),
			    fds,
			    &error);
	g_assert_no_error(error);
	g_clear_pointer(&reply, g_variant_unref);

	reply = fx_call(fx, list, NULL, &error);
	g_assert_no_error(error);
	g_variant_get(reply, "(^a&s)", &names);
	g_assert_true(g_strv_contains(names, "from-fd"));
	g_clear_pointer(&reply, g_variant_unref);

	reply = fx_call(fx, get, g_variant_new("(s)", "from-fd"), &error);
	g_assert_no_error(error);
	g_variant_get(reply, "(&s)", &got);
	{
		g_autoptr(JsonNode) sent = json_from_string(text, NULL);
		g_autoptr(JsonNode) stored = json_from_string(got, NULL);

		g_assert_nonnull(stored);
		g_assert_true(json_node_equal(sent, stored));
	}
	g_clear_pointer(&reply, g_variant_unref);

	reply = fx_call_fds(fx,
			    KL_VERIFIER_DBUS_PATH,
			    "org.keylime.Verifier1.Manager",
			    add,
			    g_variant_new("(sh)", "from-fd", 0),
			    again,
			    &error);
	g_assert_null(reply);
	g_assert_error(error, KL_ERROR, KL_ERROR_CONFLICT);
	g_clear_error(&error);

	reply = fx_call(fx, delete, g_variant_new("(s)", "from-fd"), &error);
	g_assert_no_error(error);
	g_clear_pointer(&reply, g_variant_unref);
	reply = fx_call(fx, get, g_variant_new("(s)", "from-fd"), &error);
	g_assert_null(reply);
	g_assert_error(error, KL_ERROR, KL_ERROR_NOT_FOUND);
}

/* Policies go in through descriptors and come back as they went. */
static void
test_verifier_dbus_policies(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *runtime = kl_test_runtime_policy();
	g_autofree gchar *mb = NULL;
	g_autofree gchar *big = g_malloc(KL_TEST_MAX_UPLOAD + 2);
	g_autoptr(GUnixFDList) big_fds = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *mb_path = g_build_filename(g_getenv("G_TEST_SRCDIR"),
						     "..",
						     "data",
						     "mb-policies",
						     "accept-all.json",
						     NULL);

	g_assert_true(g_file_get_contents(mb_path, &mb, NULL, &error));
	g_assert_no_error(error);
	fx_policy_round_trip(fx, "Runtime", runtime);
	fx_policy_round_trip(fx, "Mb", mb);

	/* longer than max_upload_size */
	memset(big, ' ', KL_TEST_MAX_UPLOAD + 1);
	big[KL_TEST_MAX_UPLOAD + 1] = '\0';
	big_fds = kl_test_fd_for("big", big, KL_TEST_MAX_UPLOAD + 1);
	reply = fx_call_fds(fx,
			    KL_VERIFIER_DBUS_PATH,
			    "org.keylime.Verifier1.Manager",
			    "AddRuntimePolicy",
			    g_variant_new("(sh)", "big", 0),
			    big_fds,
			    &error);
	g_assert_null(reply);
	g_assert_error(error, KL_ERROR, KL_ERROR_TOO_LARGE);
	g_clear_error(&error);

	/* a handle with no descriptor behind it */
	reply = fx_call(fx, "AddMbPolicy", g_variant_new("(sh)", "none", 3), &error);
	g_assert_null(reply);
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
}

/* Options D-Bus can carry but the body cannot are refused by name. */
static void
test_verifier_dbus_bad_options(Fixture *fx, gconstpointer data)
{
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GError) error = NULL;
	GVariantBuilder builder;

	g_variant_builder_init(&builder, G_VARIANT_TYPE("a{sv}"));
	g_variant_builder_add(&builder, "{sv}", "cloudagent_port", g_variant_new("(uu)", 90, 2));
	reply = fx_call(fx,
			"AddAgent",
			g_variant_new("(sa{sv})", KL_TEST_AGENT_ID, &builder),
			&error);
	g_assert_null(reply);
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "cloudagent_port"));
	g_clear_error(&error);

	/* what the engine refuses comes back the same way */
	g_variant_builder_init(&builder, G_VARIANT_TYPE("a{sv}"));
	g_variant_builder_add(&builder, "{sv}", "cloudagent_ip", g_variant_new_string("127.0.0.1"));
	reply = fx_call(fx,
			"AddAgent",
			g_variant_new("(sa{sv})", KL_TEST_AGENT_ID, &builder),
			&error);
	g_assert_null(reply);
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_assert_cmpuint(kl_verifier_get_n_agents(fx->verifier), ==, 0);
}

/* Without polkit on the bus nobody may change anything; reading still
 * works. */
static void
test_verifier_dbus_unauthorized(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *policy = kl_test_runtime_policy();
	g_autofree gchar *policy_b64 = g_base64_encode((const guint8 *)policy, strlen(policy));
	g_autoptr(GUnixFDList) fds = kl_test_fd_for("refused", policy, strlen(policy));
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GError) error = NULL;

	polkit_warnings = 0;
	reply = fx_call(
		fx,
		"AddAgent",
		g_variant_new("(s@a{sv})", KL_TEST_AGENT_ID, fx_add_options(fx, policy_b64)),
		&error);
	g_assert_null(reply);
	g_assert_error(error, KL_ERROR, KL_ERROR_PERMISSION_DENIED);
	g_assert_nonnull(strstr(error->message, KL_VERIFIER_DBUS_ACTION_MANAGE_AGENTS));
	g_clear_error(&error);
	g_assert_cmpuint(kl_verifier_get_n_agents(fx->verifier), ==, 0);

	reply = fx_call_fds(fx,
			    KL_VERIFIER_DBUS_PATH,
			    "org.keylime.Verifier1.Manager",
			    "AddRuntimePolicy",
			    g_variant_new("(sh)", "refused", 0),
			    fds,
			    &error);
	g_assert_null(reply);
	g_assert_error(error, KL_ERROR, KL_ERROR_PERMISSION_DENIED);
	g_clear_error(&error);
	/* no polkit on a private bus: kl-dbus-auth said so for each call */
	g_assert_cmpuint(polkit_warnings, ==, 2);
	polkit_warnings = G_MAXUINT;

	reply = fx_call(fx, "ListRuntimePolicies", NULL, &error);
	g_assert_no_error(error);
	kl_test_assert_empty_list(reply);
}

/* The Agent interface's PropertiesChanged signals recorded so far. */
static guint
fx_count_agent_changes(Fixture *fx)
{
	guint n = 0;

	for (guint i = 0; i < fx->signals->len; i++) {
		KlTestSignal *signal = g_ptr_array_index(fx->signals, i);
		const gchar *interface = NULL;

		if (!g_str_equal(signal->member, "PropertiesChanged"))
			continue;
		g_variant_get_child(signal->parameters, 0, "&s", &interface);
		if (g_str_equal(interface, "org.keylime.Verifier1.Agent"))
			n++;
	}
	return n;
}

static gboolean
kl_test_never(gpointer user_data)
{
	return FALSE;
}

/* Rounds back to back: the agent's properties are published at most once
 * per KL_VERIFIER_DBUS_COALESCE_MS however often the engine reports. */
static void
test_verifier_dbus_coalesced(Fixture *fx, gconstpointer data)
{
	g_autoptr(KlVerifierAgent) before = NULL;
	g_autoptr(KlVerifierAgent) after = NULL;
	gint64 started;
	gint64 elapsed_ms;
	guint64 rounds;
	guint n_before;
	guint n_changes;

	fx_add_agent(fx);
	g_assert_true(kl_test_wait_for(kl_test_attested, fx, KL_TEST_WAIT_MS));
	before = kl_verifier_get_agent(fx->verifier, KL_TEST_AGENT_ID, NULL);
	n_before = fx_count_agent_changes(fx);
	started = g_get_monotonic_time();
	kl_test_wait_for(kl_test_never, NULL, 1000);
	elapsed_ms = (g_get_monotonic_time() - started) / 1000;
	after = kl_verifier_get_agent(fx->verifier, KL_TEST_AGENT_ID, NULL);
	n_changes = fx_count_agent_changes(fx) - n_before;
	rounds = (guint64)(after->attestation_count - before->attestation_count);
	g_test_message("%" G_GUINT64_FORMAT " rounds, %u PropertiesChanged in %" G_GINT64_FORMAT
		       " ms",
		       rounds,
		       n_changes,
		       elapsed_ms);
	/* the properties did follow the rounds */
	g_assert_cmpuint(rounds, >, 0);
	g_assert_cmpuint(n_changes, >, 0);
	g_assert_cmpuint(n_changes, <=, elapsed_ms / KL_VERIFIER_DBUS_COALESCE_MS + 2);
}

static GVariant *
fx_enroll(Fixture *fx, GVariant *options, const gchar *payload, gsize length, GError **error)
{
	g_autoptr(GUnixFDList) fds = kl_test_fd_for("payload", payload, length);

	return fx_call_fds(fx,
			   KL_VERIFIER_DBUS_PATH,
			   "org.keylime.Verifier1.Manager",
			   "EnrollAgent",
			   g_variant_new("(@a{sv}h)", options, 0),
			   fds,
			   error);
}

/* The steps EnrollmentProgress announced, in order, without repeats. */
static gchar *
fx_enroll_steps(Fixture *fx)
{
	g_autoptr(GString) steps = g_string_new(NULL);
	const gchar *last = NULL;

	for (guint i = 0; i < fx->signals->len; i++) {
		KlTestSignal *signal = g_ptr_array_index(fx->signals, i);
		const gchar *agent_id = NULL;
		const gchar *step = NULL;
		const gchar *message = NULL;

		if (!g_str_equal(signal->member, "EnrollmentProgress"))
			continue;
		g_variant_get(signal->parameters, "(&s&s&s)", &agent_id, &step, &message);
		g_assert_cmpstr(agent_id, ==, KL_TEST_AGENT_ID);
		g_assert_cmpstr(message, !=, "");
		if (g_strcmp0(last, step) == 0)
			continue;
		if (steps->len > 0)
			g_string_append_c(steps, ' ');
		g_string_append(steps, step);
		last = step;
	}
	return g_string_free(g_steal_pointer(&steps), FALSE);
}

/* EnrollAgent: the tenant's flow inside the verifier, and the agent
 * attests with the named policy. */
static void
test_verifier_dbus_enroll(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *policy = kl_test_runtime_policy();
	g_autoptr(GUnixFDList) fds = kl_test_fd_for("enroll-policy", policy, strlen(policy));
	g_autofree gchar *expected = kl_verifier_dbus_agent_path(KL_TEST_AGENT_ID);
	g_autofree gchar *steps = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(KlDBusVerifier1Agent) agent = NULL;
	GVariantBuilder options;
	const gchar *path = NULL;

	reply = fx_call_fds(fx,
			    KL_VERIFIER_DBUS_PATH,
			    "org.keylime.Verifier1.Manager",
			    "AddRuntimePolicy",
			    g_variant_new("(sh)", "enroll-policy", 0),
			    fds,
			    &error);
	g_assert_no_error(error);
	g_clear_pointer(&reply, g_variant_unref);

	g_variant_builder_init(&options, G_VARIANT_TYPE("a{sv}"));
	g_variant_builder_add(&options, "{sv}", "agent_id", g_variant_new_string(KL_TEST_AGENT_ID));
	g_variant_builder_add(&options,
			      "{sv}",
			      "runtime_policy_name",
			      g_variant_new_string("enroll-policy"));
	g_variant_builder_add(&options,
			      "{sv}",
			      "tpm_policy",
			      g_variant_new_string("{\"mask\": \"0x400\"}"));
	reply = fx_enroll(fx, g_variant_builder_end(&options), "", 0, &error);
	g_assert_no_error(error);
	g_variant_get(reply, "(&o)", &path);
	g_assert_cmpstr(path, ==, expected);

	steps = fx_enroll_steps(fx);
	g_assert_cmpstr(steps, ==, "registrar ek-certificate identity-quote payload verifier done");
	g_assert_true(kl_test_wait_for(kl_test_attested, fx, KL_TEST_WAIT_MS));
	agent = fx_agent_proxy(fx);
	g_assert_cmpstr(kl_dbus_verifier1_agent_get_runtime_policy(agent), ==, "enroll-policy");
}

/* EnrollAgent with a certificate package a console made: the verifier
 * keeps the package's metadata and revocation key for the agent. */
static void
test_verifier_dbus_enroll_package(Fixture *fx, gconstpointer data)
{
	const gchar *metadata = "{\"cert_serial\": 7, \"subject\": \"CN=agent\"}";
	const gchar *revocation_key = "-----BEGIN PRIVATE KEY-----\nnot checked here\n";
	g_autoptr(KlZipWriter) zip = kl_zip_writer_new();
	g_autoptr(GBytes) readme = g_bytes_new_static("hello\n", 6);
	g_autoptr(GBytes) package = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(KlVerifierAgent) agent = NULL;
	GVariantBuilder options;

	g_assert_true(kl_zip_writer_add(zip, "readme.txt", readme, 0644, &error));
	package = kl_zip_writer_finish(zip, &error);
	g_assert_no_error(error);

	g_variant_builder_init(&options, G_VARIANT_TYPE("a{sv}"));
	g_variant_builder_add(&options, "{sv}", "agent_id", g_variant_new_string(KL_TEST_AGENT_ID));
	g_variant_builder_add(&options, "{sv}", "cert_package", g_variant_new_boolean(TRUE));
	g_variant_builder_add(&options, "{sv}", "metadata", g_variant_new_string(metadata));
	g_variant_builder_add(&options,
			      "{sv}",
			      "revocation_key",
			      g_variant_new_string(revocation_key));
	reply = fx_enroll(fx,
			  g_variant_builder_end(&options),
			  g_bytes_get_data(package, NULL),
			  g_bytes_get_size(package),
			  &error);
	g_assert_no_error(error);
	agent = kl_verifier_get_agent(fx->verifier, KL_TEST_AGENT_ID, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(agent->revocation_key, ==, revocation_key);
	g_assert_nonnull(strstr(agent->meta_data, "\"cert_serial\": 7"));
	g_clear_pointer(&reply, g_variant_unref);

	/* metadata that is not a JSON object is refused by name */
	g_variant_builder_init(&options, G_VARIANT_TYPE("a{sv}"));
	g_variant_builder_add(&options, "{sv}", "agent_id", g_variant_new_string("other-agent"));
	g_variant_builder_add(&options, "{sv}", "cert_package", g_variant_new_boolean(TRUE));
	g_variant_builder_add(&options, "{sv}", "metadata", g_variant_new_string("[1]"));
	reply = fx_enroll(fx,
			  g_variant_builder_end(&options),
			  g_bytes_get_data(package, NULL),
			  g_bytes_get_size(package),
			  &error);
	g_assert_null(reply);
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "metadata"));
}

/* Options the flow cannot take are refused before anything runs. */
static void
test_verifier_dbus_enroll_refused(Fixture *fx, gconstpointer data)
{
	static const struct {
		const gchar *key;
		const gchar *type;
		const gchar *value;
		const gchar *named;
	} cases[] = {
		{"agent_id", "s", "", "agent_id"},
		{"colour", "s", "blue", "colour"},
		{"verify", "s", "yes", "verify"},
		/* a package's metadata and key only travel with a package */
		{"metadata", "s", "{}", "metadata"},
		{"revocation_key", "s", "PEM", "revocation_key"},
	};
	g_autoptr(GError) error = NULL;

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GVariant) reply = NULL;
		GVariantBuilder options;

		g_variant_builder_init(&options, G_VARIANT_TYPE("a{sv}"));
		if (!g_str_equal(cases[i].key, "agent_id"))
			g_variant_builder_add(&options,
					      "{sv}",
					      "agent_id",
					      g_variant_new_string(KL_TEST_AGENT_ID));
		g_variant_builder_add(&options,
				      "{sv}",
				      cases[i].key,
				      g_variant_new(cases[i].type, cases[i].value));
		reply = fx_enroll(fx, g_variant_builder_end(&options), "", 0, &error);
		g_assert_null(reply);
		g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
		g_assert_nonnull(strstr(error->message, cases[i].named));
		g_clear_error(&error);
	}

	/* a certificate package that is not a zip */
	{
		g_autoptr(GVariant) reply = NULL;
		GVariantBuilder options;

		g_variant_builder_init(&options, G_VARIANT_TYPE("a{sv}"));
		g_variant_builder_add(&options,
				      "{sv}",
				      "agent_id",
				      g_variant_new_string(KL_TEST_AGENT_ID));
		g_variant_builder_add(&options,
				      "{sv}",
				      "cert_package",
				      g_variant_new_boolean(TRUE));
		reply = fx_enroll(fx, g_variant_builder_end(&options), "plain text", 10, &error);
		g_assert_null(reply);
		g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
		g_assert_nonnull(strstr(error->message, "zip"));
	}
	g_assert_null(fx_find_signal(fx, "EnrollmentProgress"));
	g_assert_cmpuint(kl_verifier_get_n_agents(fx->verifier), ==, 0);
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	int status;

	g_test_init(&argc, &argv, NULL);
	g_log_set_writer_func(kl_test_log_writer, NULL, NULL);
	test_dir = kl_test_dir_new();
	test_ca = kl_test_ca_new(test_dir, "agent", &error);
	g_assert_no_error(error);
	test_nk = kl_key_generate_rsa(2048, &error);
	g_assert_no_error(error);
	g_assert_true(g_file_get_contents(kl_test_ca_get_server_cert_path(test_ca),
					  &test_agent_cert,
					  NULL,
					  &error));
	test_bus = g_test_dbus_new(G_TEST_DBUS_NONE);
	g_test_dbus_up(test_bus);

	g_test_add("/verifier-dbus/lifecycle",
		   Fixture,
		   GUINT_TO_POINTER(KL_TEST_SAME_USER),
		   fx_setup,
		   test_verifier_dbus_lifecycle,
		   fx_teardown);
	g_test_add("/verifier-dbus/enroll-package",
		   Fixture,
		   GUINT_TO_POINTER(KL_TEST_ENROLL),
		   fx_setup,
		   test_verifier_dbus_enroll_package,
		   fx_teardown);
	g_test_add("/verifier-dbus/reenrolled-policy",
		   Fixture,
		   GUINT_TO_POINTER(KL_TEST_SAME_USER),
		   fx_setup,
		   test_verifier_dbus_reenrolled_policy,
		   fx_teardown);
	g_test_add("/verifier-dbus/policies",
		   Fixture,
		   GUINT_TO_POINTER(KL_TEST_SAME_USER),
		   fx_setup,
		   test_verifier_dbus_policies,
		   fx_teardown);
	g_test_add("/verifier-dbus/bad-options",
		   Fixture,
		   GUINT_TO_POINTER(KL_TEST_SAME_USER),
		   fx_setup,
		   test_verifier_dbus_bad_options,
		   fx_teardown);
	g_test_add("/verifier-dbus/unauthorized",
		   Fixture,
		   GUINT_TO_POINTER(KL_TEST_POLKIT),
		   fx_setup,
		   test_verifier_dbus_unauthorized,
		   fx_teardown);
	g_test_add("/verifier-dbus/coalesced",
		   Fixture,
		   GUINT_TO_POINTER(KL_TEST_BUSY),
		   fx_setup,
		   test_verifier_dbus_coalesced,
		   fx_teardown);
	g_test_add("/verifier-dbus/enroll",
		   Fixture,
		   GUINT_TO_POINTER(KL_TEST_ENROLL),
		   fx_setup,
		   test_verifier_dbus_enroll,
		   fx_teardown);
	g_test_add("/verifier-dbus/enroll-refused",
		   Fixture,
		   GUINT_TO_POINTER(KL_TEST_ENROLL),
		   fx_setup,
		   test_verifier_dbus_enroll_refused,
		   fx_teardown);
	status = g_test_run();

	g_test_dbus_down(test_bus);
	g_clear_object(&test_bus);
	g_free(test_agent_cert);
	EVP_PKEY_free(test_nk);
	kl_test_ca_free(test_ca);
	kl_test_dir_free(test_dir);
	return status;
}
