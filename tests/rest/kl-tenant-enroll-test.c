/*
 * KlTenantEnrollment against a real registrar and a real agent in this
 * process: the registrar (KlRegistrar behind its REST router on an mTLS
 * port) holds a software agent registered and activated the way the agent
 * does it; the agent is KlAgentService over KlTpmSoft behind an mTLS
 * server; its EK certificate is issued by a "TPM vendor" CA whose
 * certificate is the tenant's tpm_cert_store.  The test plays the
 * verifier: its verifier step records the enrolment body and posts V to
 * the agent as the verifier would after the first quote.
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "kl-agent-client.h"
#include "kl-agent-service.h"
#include "kl-crypto.h"
#include "kl-error.h"
#include "kl-http-server.h"
#include "kl-json.h"
#include "kl-makecredential.h"
#include "kl-registrar-rest.h"
#include "kl-registrar.h"
#include "kl-tenant-enroll.h"
#include "kl-test-agent.h"
#include "kl-test-ca.h"
#include "kl-test-dir.h"
#include "kl-test-wait.h"
#include "kl-tpm-soft.h"
#include "kl-x509.h"

#define KL_TEST_WAIT_MS	    60000
#define KL_TEST_ZERO_DIGEST "0000000000000000000000000000000000000000000000000000000000000000"
#define KL_TEST_AGENT_ID    "d432fbb3-d2f1-4a97-9ef7-75bd81c00000"

/* made once in main() */
static KlTestDir *test_dir;
static KlTestCa *test_ca;     /* mTLS: registrar, agent, tenant */
static KlTestCa *vendor_ca;   /* issues EK certificates; the tpm_cert_store */
static KlTestCa *stranger_ca; /* issues EK certificates nobody trusts */
static gchar *cert_store;
static EVP_PKEY *test_nk;

typedef struct {
	KlRegistrar *registrar;
	KlHttpServer *registrar_server;
	KlTestAgent *agent; /* no server when the agent is down */
	KlTpm *registered;  /* the TPM registered (the agent's unless tampered) */
	guint16 agent_port;
	guint agent_requests;
	gboolean payload_done;
	gboolean payload_ok;
	/* the run */
	KlTenantEnrollment *enrollment;
	GPtrArray *steps; /* distinct steps in the order they came */
	guint verifier_calls;
	JsonObject *body;
	gboolean post_v; /* the verifier step delivers V first */
	KlAgentClient *verifier_client;
	gboolean finished;
	gboolean ok;
	GError *error;
} KlTestEnv;

typedef enum {
	KL_TEST_EK_VENDOR,
	KL_TEST_EK_STRANGER,
} KlTestEkIssuer;

static gboolean
kl_test_drained(gpointer user_data)
{
	return *(gboolean *)user_data;
}

static gboolean
kl_test_drain_cb(gpointer user_data)
{
	*(gboolean *)user_data = TRUE;
	return G_SOURCE_REMOVE;
}

static void
kl_test_env_free(KlTestEnv *env)
{
	gboolean drained = FALSE;

	/* clients first, then the servers; the main context runs a while so
	 * that closed connections are noticed and let go of their servers */
	g_clear_object(&env->enrollment);
	g_clear_object(&env->verifier_client);
	if (env->agent != NULL && env->agent->server != NULL)
		kl_http_server_stop(env->agent->server);
	if (env->registrar_server != NULL)
		kl_http_server_stop(env->registrar_server);
	g_timeout_add(100, kl_test_drain_cb, &drained);
	g_assert_true(kl_test_wait_for(kl_test_drained, &drained, KL_TEST_WAIT_MS));
	g_clear_pointer(&env->agent, kl_test_agent_free);
	g_clear_object(&env->registrar_server);
	g_clear_object(&env->registrar);
	g_clear_object(&env->registered);
	g_clear_pointer(&env->steps, g_ptr_array_unref);
	g_clear_pointer(&env->body, json_object_unref);
	g_clear_error(&env->error);
	g_free(env);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlTestEnv, kl_test_env_free)

static KlTpm *
kl_test_tpm_new(void)
{
	g_autoptr(GError) error = NULL;
	KlTpmOptions options;
	KlTpm *tpm;

	kl_tpm_options_init(&options); /* RSA EK, RSASSA-SHA256 AK */
	tpm = kl_tpm_soft_new(&options, &error);
	g_assert_no_error(error);
	return tpm;
}

/* b64 DER of an EK certificate for @tpm's EK issued by @ca */
static gchar *
kl_test_ek_cert(KlTpm *tpm, KlTestCa *ca)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(X509) issuer = NULL;
	g_autoptr(EVP_PKEY) issuer_key = NULL;
	g_autoptr(X509) cert = NULL;
	g_autoptr(GBytes) der = NULL;
	KlCertRequest request = {0};

	issuer = kl_x509_load_pem_file(kl_test_ca_get_ca_cert_path(ca), &error);
	g_assert_no_error(error);
	issuer_key = kl_key_load_pem_file(kl_test_ca_get_ca_key_path(ca), &error);
	g_assert_no_error(error);
	request.common_name = "EK";
	request.organization = "TPM vendor";
	request.days = 365;
	request.usage = KL_CERT_USAGE_CLIENT;
	cert = kl_x509_issue(&request,
			     kl_tpm_soft_get_ek_key(KL_TPM_SOFT(tpm)),
			     issuer,
			     issuer_key,
			     &error);
	g_assert_no_error(error);
	der = kl_x509_to_der(cert, &error);
	g_assert_no_error(error);
	return g_base64_encode(g_bytes_get_data(der, NULL), g_bytes_get_size(der));
}

static void
kl_test_agent_request_cb(SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
	KlTestEnv *env = user_data;

	env->agent_requests++;
}

static void
kl_test_payload_done_cb(KlAgentService *service, gboolean ok, gpointer user_data)
{
	KlTestEnv *env = user_data;

	env->payload_done = TRUE;
	env->payload_ok = ok;
}

/* The registrar's side of registration and activation, with the agent's
 * answers computed by @env->registered. */
static void
kl_test_register(KlTestEnv *env, KlTestEkIssuer issuer, guint16 port)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) body = json_object_new();
	g_autoptr(GBytes) blob = NULL;
	g_autoptr(KlSecret) secret = NULL;
	g_autofree gchar *challenge = NULL;
	g_autofree gchar *auth_tag = NULL;
	g_autofree gchar *mtls_cert = NULL;
	g_autofree gchar *ek_b64 = NULL;
	g_autofree gchar *ak_b64 = NULL;
	g_autofree gchar *ekcert = NULL;
	GBytes *ek = kl_tpm_get_ek_public(env->registered);
	GBytes *ak = kl_tpm_get_ak_public(env->registered);

	ek_b64 = g_base64_encode(g_bytes_get_data(ek, NULL), g_bytes_get_size(ek));
	ak_b64 = g_base64_encode(g_bytes_get_data(ak, NULL), g_bytes_get_size(ak));
	ekcert = kl_test_ek_cert(env->registered,
				 issuer == KL_TEST_EK_VENDOR ? vendor_ca : stranger_ca);
	json_object_set_string_member(body, "ek_tpm", ek_b64);
	json_object_set_string_member(body, "aik_tpm", ak_b64);
	json_object_set_string_member(body, "ekcert", ekcert);
	g_assert_true(g_file_get_contents(kl_test_ca_get_server_cert_path(test_ca),
					  &mtls_cert,
					  NULL,
					  NULL));
	json_object_set_string_member(body, "mtls_cert", mtls_cert);
	json_object_set_string_member(body, "ip", "127.0.0.1");
	json_object_set_int_member(body, "port", port);

	blob = kl_registrar_register(env->registrar, KL_TEST_AGENT_ID, body, &error);
	g_assert_no_error(error);
	secret = kl_tpm_activate_credential(env->registered, blob, &error);
	g_assert_no_error(error);
	challenge = g_strndup((const gchar *)kl_secret_get_data(secret, NULL),
			      kl_secret_get_size(secret));
	auth_tag = kl_makecredential_auth_tag(challenge, KL_TEST_AGENT_ID, &error);
	g_assert_no_error(error);
	g_assert_true(kl_registrar_activate(env->registrar, KL_TEST_AGENT_ID, auth_tag, &error));
	g_assert_no_error(error);
}

/* A registrar and an agent.  @tampered: the agent's TPM is not the one
 * registered; @agent_down: the registered port has no agent. */
static KlTestEnv *
kl_test_env_new(KlTestEkIssuer issuer, gboolean tampered, gboolean agent_down)
{
	g_autoptr(KlTestEnv) env = g_new0(KlTestEnv, 1);
	g_autoptr(GError) error = NULL;
	g_autoptr(KlRegistrarStore) store = NULL;
	g_autoptr(KlHttpRouter) router = NULL;
	g_autoptr(GSocket) socket = NULL;
	g_autoptr(GSocketAddress) any = NULL;
	g_autoptr(GSocketAddress) bound = NULL;
	g_autofree gchar *db = NULL;
	g_autofree gchar *name = NULL;
	g_autoptr(KlTpm) tpm = NULL;
	g_autofree gchar *secure_dir = NULL;
	static guint n_envs = 0;
	guint16 port;

	env->steps = g_ptr_array_new_with_free_func(g_free);
	name = g_strdup_printf("registrar-%u.sqlite", n_envs);
	db = kl_test_dir_build(test_dir, name, NULL);
	store = kl_registrar_store_open(db, &error);
	g_assert_no_error(error);
	env->registrar =
		kl_registrar_new(g_steal_pointer(&store), KL_REGISTRAR_TPM_IDENTITY_DEFAULT);
	router = kl_registrar_rest_router_new(env->registrar, &error);
	g_assert_no_error(error);
	/* the first TLS handshakes are slow under sanitizers on a busy machine */
	env->registrar_server = kl_test_tls_server_new(router,
						       test_ca,
						       KL_HTTP_CLIENT_CERT_OPTIONAL,
						       KL_TEST_WAIT_MS);

	tpm = kl_test_tpm_new();
	env->registered = tampered ? kl_test_tpm_new() : g_object_ref(tpm);

	g_free(name);
	name = g_strdup_printf("secure-%u", n_envs++);
	secure_dir = kl_test_dir_build(test_dir, name, NULL);
	env->agent = kl_test_agent_new(KL_TEST_AGENT_ID,
				       test_nk,
				       tpm,
				       secure_dir,
				       kl_test_dir_get_path(test_dir));
	env->agent->options.run_payloads = TRUE;
	/* the first TLS handshakes are slow under sanitizers on a busy machine */
	kl_test_agent_start(env->agent, agent_down ? NULL : test_ca, KL_TEST_WAIT_MS);
	g_signal_connect(env->agent->service,
			 "payload-done",
			 G_CALLBACK(kl_test_payload_done_cb),
			 env);

	if (agent_down) {
		/* a port that was free a moment ago: nothing listens on it */
		socket = g_socket_new(G_SOCKET_FAMILY_IPV4,
				      G_SOCKET_TYPE_STREAM,
				      G_SOCKET_PROTOCOL_TCP,
				      &error);
		g_assert_no_error(error);
		any = g_inet_socket_address_new_from_string("127.0.0.1", 0);
		g_assert_true(g_socket_bind(socket, any, FALSE, &error));
		bound = g_socket_get_local_address(socket, &error);
		g_assert_no_error(error);
		port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
		g_socket_close(socket, NULL);
	} else {
		g_signal_connect(kl_http_server_get_soup_server(env->agent->server),
				 "request-read",
				 G_CALLBACK(kl_test_agent_request_cb),
				 env);
		port = env->agent->port;
	}
	env->agent_port = port;
	kl_test_register(env, issuer, port);
	return g_steal_pointer(&env);
}

static KlTenantEnrollOptions *
kl_test_options_new(KlTestEnv *env)
{
	KlTenantEnrollOptions *options = kl_tenant_enroll_options_new();

	options->agent_id = g_strdup(KL_TEST_AGENT_ID);
	options->registrar_host = g_strdup("127.0.0.1");
	options->registrar_port = kl_http_server_get_port(env->registrar_server);
	options->registrar_ca = g_strdup(kl_test_ca_get_ca_cert_path(test_ca));
	options->client_cert = g_strdup(kl_test_ca_get_client_cert_path(test_ca));
	options->client_key = g_strdup(kl_test_ca_get_client_key_path(test_ca));
	options->tpm_cert_store = g_strdup(cert_store);
	g_free(options->tpm_policy);
	options->tpm_policy = g_strdup("{\"mask\": \"0x0\"}");
	options->runtime_policy = g_strdup("{\"meta\": {\"version\": 1}}");
	options->runtime_policy_name = g_strdup("policy-1");
	options->verify_interval_ms = 100;
	options->verify_tries = 50;
	options->request_timeout = 10.0;
	return options;
}

static void
kl_test_progress_cb(KlTenantEnrollment *enrollment,
		    const gchar *step,
		    const gchar *message,
		    gpointer user_data)
{
	KlTestEnv *env = user_data;

	g_assert_nonnull(message);
	g_assert_cmpstr(message, !=, "");
	if (env->steps->len == 0 ||
	    g_strcmp0(g_ptr_array_index(env->steps, env->steps->len - 1), step) != 0)
		g_ptr_array_add(env->steps, g_strdup(step));
}

static void
kl_test_vkey_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	KlTestEnv *env = user_data;
	GError *error = NULL;

	kl_agent_client_post_vkey_finish(KL_AGENT_CLIENT(source), result, &error);
	kl_tenant_enrollment_verifier_done(env->enrollment, error);
}

/* The verifier: records the body; with post_v, delivers V to the agent
 * (RSA-OAEP-SHA1 to the NK) before accepting. */
static void
kl_test_verifier_step(KlTenantEnrollment *enrollment,
		      const gchar *agent_id,
		      JsonObject *body,
		      gpointer user_data)
{
	KlTestEnv *env = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree guchar *v = NULL;
	gsize v_len = 0;
	g_autoptr(GBytes) encrypted = NULL;
	g_autofree gchar *encrypted_b64 = NULL;
	KlAgentClientOptions options;
	KlAgentTarget target = {0};
	const gchar *v_b64;

	g_assert_cmpstr(agent_id, ==, KL_TEST_AGENT_ID);
	env->verifier_calls++;
	env->body = json_object_ref(body);
	if (!env->post_v) {
		kl_tenant_enrollment_verifier_done(enrollment, NULL);
		return;
	}
	v_b64 = json_object_get_string_member(body, "v");
	g_assert_nonnull(v_b64);
	v = g_base64_decode(v_b64, &v_len);
	g_assert_cmpuint(v_len, ==, 32);
	encrypted = kl_crypto_rsa_oaep_encrypt(test_nk, "sha1", NULL, 0, v, v_len, &error);
	g_assert_no_error(error);
	encrypted_b64 =
		g_base64_encode(g_bytes_get_data(encrypted, NULL), g_bytes_get_size(encrypted));

	kl_agent_client_options_init(&options);
	options.client_cert = kl_test_ca_get_client_cert_path(test_ca);
	options.client_key = kl_test_ca_get_client_key_path(test_ca);
	env->verifier_client = kl_agent_client_new(&options, &error);
	g_assert_no_error(error);
	target.agent_id = agent_id;
	target.ip = json_object_get_string_member(body, "cloudagent_ip");
	target.port = (guint16)json_object_get_int_member(body, "cloudagent_port");
	g_assert_true(kl_api_version_parse(json_object_get_string_member(body, "supported_version"),
					   &target.api_version,
					   &error));
	target.mtls_cert =
		kl_agent_client_pin_new(json_object_get_string_member(body, "mtls_cert"),
					strlen(json_object_get_string_member(body, "mtls_cert")),
					&error);
	g_assert_no_error(error);
	kl_agent_client_post_vkey_async(env->verifier_client,
					&target,
					encrypted_b64,
					NULL,
					kl_test_vkey_cb,
					env);
	g_object_unref(target.mtls_cert);
}

static void
kl_test_run_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	KlTestEnv *env = user_data;

	env->ok =
		kl_tenant_enrollment_run_finish(KL_TENANT_ENROLLMENT(source), result, &env->error);
	env->finished = TRUE;
}

static gboolean
kl_test_finished(gpointer user_data)
{
	return ((KlTestEnv *)user_data)->finished;
}

static void
kl_test_run(KlTestEnv *env, KlTenantEnrollOptions *options)
{
	env->enrollment = kl_tenant_enrollment_new(options, kl_test_verifier_step, env, NULL);
	g_signal_connect(env->enrollment, "progress", G_CALLBACK(kl_test_progress_cb), env);
	kl_tenant_enrollment_run_async(env->enrollment, NULL, kl_test_run_cb, env);
	g_assert_true(kl_test_wait_for(kl_test_finished, env, KL_TEST_WAIT_MS));
}

static gboolean
kl_test_payload_done(gpointer user_data)
{
	return ((KlTestEnv *)user_data)->payload_done;
}

static void
kl_test_assert_steps(KlTestEnv *env, const gchar *const *expected)
{
	g_autofree gchar *got = NULL;
	g_autofree gchar *want = NULL;

	g_ptr_array_add(env->steps, NULL);
	got = g_strjoinv(",", (gchar **)env->steps->pdata);
	want = g_strjoinv(",", (gchar **)expected);
	g_ptr_array_remove_index(env->steps, env->steps->len - 1);
	g_assert_cmpstr(got, ==, want);
}

static gchar *
kl_test_read_unzipped(KlTestEnv *env, const gchar *name)
{
	g_autofree gchar *path = g_build_filename(env->agent->secure_dir, "unzipped", name, NULL);
	gchar *contents = NULL;

	if (!g_file_get_contents(path, &contents, NULL, NULL))
		return NULL;
	return contents;
}

static void
kl_test_assert_no_payload(KlTestEnv *env)
{
	g_autofree gchar *unzipped = g_build_filename(env->agent->secure_dir, "unzipped", NULL);

	g_assert_false(g_file_test(unzipped, G_FILE_TEST_EXISTS));
	g_assert_cmpuint(env->verifier_calls, ==, 0);
	g_assert_null(kl_tenant_enrollment_get_body(env->enrollment));
}

/* single file: the body, U + payload at the agent, V from the "verifier",
 * then --verify sees the agent derive K */
static void
test_tenant_enroll_file(void)
{
	g_autoptr(KlTestEnv) env = kl_test_env_new(KL_TEST_EK_VENDOR, FALSE, FALSE);
	KlTenantEnrollOptions *options = kl_test_options_new(env);
	const gchar *const steps[] = {"registrar",
				      "ek-certificate",
				      "identity-quote",
				      "payload",
				      "verifier",
				      "verify",
				      "done",
				      NULL};
	const gchar *secret = "the secret payload\n";
	g_autofree gchar *decrypted = NULL;
	g_autofree gchar *runtime_b64 = NULL;
	g_autofree gchar *ak_b64 = NULL;
	g_autofree gchar *mtls_cert = NULL;
	JsonArray *algs;
	GBytes *ak;
	gsize v_len = 0;
	guchar *v_raw;

	env->agent->payload.extract_payload_zip = FALSE;
	env->post_v = TRUE;
	options->payload_kind = KL_TENANT_PAYLOAD_FILE;
	options->payload_file = g_bytes_new_static(secret, strlen(secret));
	options->verify = TRUE;
	kl_test_run(env, options);
	g_assert_no_error(env->error);
	g_assert_true(env->ok);
	g_assert_null(kl_tenant_enrollment_get_failed_step(env->enrollment));
	kl_test_assert_steps(env, steps);
	g_assert_cmpuint(env->verifier_calls, ==, 1);

	/* the body: upstream's keys and values */
	v_raw = g_base64_decode(json_object_get_string_member(env->body, "v"), &v_len);
	g_free(v_raw);
	g_assert_cmpuint(v_len, ==, 32);
	g_assert_cmpstr(json_object_get_string_member(env->body, "cloudagent_ip"), ==, "127.0.0.1");
	g_assert_cmpint(json_object_get_int_member(env->body, "cloudagent_port"),
			==,
			env->agent_port);
	/* a runtime policy puts PCR 10 in the mask (spec §4.7) */
	g_assert_cmpstr(json_object_get_string_member(env->body, "tpm_policy"),
			==,
			"{\"mask\":\"0x400\"}");
	runtime_b64 = g_base64_encode((const guchar *)"{\"meta\": {\"version\": 1}}",
				      strlen("{\"meta\": {\"version\": 1}}"));
	g_assert_cmpstr(json_object_get_string_member(env->body, "runtime_policy"),
			==,
			runtime_b64);
	g_assert_cmpstr(json_object_get_string_member(env->body, "runtime_policy_name"),
			==,
			"policy-1");
	g_assert_true(json_object_get_null_member(env->body, "mb_policy"));
	g_assert_true(json_object_get_null_member(env->body, "mb_policy_name"));
	g_assert_cmpstr(json_object_get_string_member(env->body, "ima_sign_verification_keys"),
			==,
			"");
	g_assert_cmpstr(json_object_get_string_member(env->body, "metadata"), ==, "{}");
	g_assert_cmpstr(json_object_get_string_member(env->body, "revocation_key"), ==, "");
	algs = json_object_get_array_member(env->body, "accept_tpm_hash_algs");
	g_assert_cmpuint(json_array_get_length(algs), ==, 3);
	g_assert_cmpstr(json_array_get_string_element(algs, 0), ==, "sha512");
	algs = json_object_get_array_member(env->body, "accept_tpm_encryption_algs");
	g_assert_cmpstr(json_array_get_string_element(algs, 0), ==, "ecc");
	algs = json_object_get_array_member(env->body, "accept_tpm_signing_algs");
	g_assert_cmpstr(json_array_get_string_element(algs, 1), ==, "rsassa");
	ak = kl_tpm_get_ak_public(env->agent->tpm);
	ak_b64 = g_base64_encode(g_bytes_get_data(ak, NULL), g_bytes_get_size(ak));
	g_assert_cmpstr(json_object_get_string_member(env->body, "ak_tpm"), ==, ak_b64);
	g_assert_true(g_file_get_contents(kl_test_ca_get_server_cert_path(test_ca),
					  &mtls_cert,
					  NULL,
					  NULL));
	g_assert_cmpstr(json_object_get_string_member(env->body, "mtls_cert"), ==, mtls_cert);
	g_assert_cmpstr(json_object_get_string_member(env->body, "supported_version"),
			==,
			kl_tenant_enrollment_get_api_version(env->enrollment));
	g_assert_cmpstr(kl_tenant_enrollment_get_nk_pubkey(env->enrollment),
			==,
			kl_agent_service_get_nk_pem(env->agent->service));

	/* the agent combined U and V, decrypted and stored the payload */
	g_assert_true(kl_test_wait_for(kl_test_payload_done, env, KL_TEST_WAIT_MS));
	g_assert_true(env->payload_ok);
	decrypted = kl_test_read_unzipped(env, "decrypted_payload");
	g_assert_cmpstr(decrypted, ==, secret);
}

/* certificate package with an include directory and revocation actions */
static void
test_tenant_enroll_cert_package(void)
{
	g_autoptr(KlTestEnv) env = kl_test_env_new(KL_TEST_EK_VENDOR, FALSE, FALSE);
	KlTenantEnrollOptions *options = kl_test_options_new(env);
	const gchar *actions[] = {"local_action_a", "local_action_b", NULL};
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) metadata = NULL;
	g_autoptr(EVP_PKEY) revocation_key = NULL;
	g_autoptr(X509) agent_cert = NULL;
	g_autoptr(X509) notifier_cert = NULL;
	g_autofree gchar *include = kl_test_dir_build(test_dir, "include", NULL);
	g_autofree gchar *ca_dir = kl_test_dir_build(test_dir, "tenant-ca", NULL);
	g_autofree gchar *file = NULL;
	g_autofree gchar *cert_name = g_strconcat(KL_TEST_AGENT_ID, "-cert.crt", NULL);
	g_autofree gchar *key_name = g_strconcat(KL_TEST_AGENT_ID, "-private.pem", NULL);
	const gchar *revocation_pem;
	const gchar *metadata_text;
	const gchar *subject = NULL;
	gint64 serial = 0;

	g_assert_cmpint(g_mkdir_with_parents(include, 0700), ==, 0);
	file = g_build_filename(include, "hello.txt", NULL);
	g_assert_true(g_file_set_contents(file, "hello from the tenant\n", -1, NULL));
	g_free(file);
	file = g_build_filename(include, "autorun.sh", NULL);
	g_assert_true(g_file_set_contents(file, "#!/bin/sh\necho ran > autorun.out\n", -1, NULL));

	env->post_v = TRUE;
	options->payload_kind = KL_TENANT_PAYLOAD_CERT_PACKAGE;
	options->ca_dir = g_strdup(ca_dir);
	options->include_dir = g_strdup(include);
	options->revocation_actions = g_strdupv((gchar **)actions);
	kl_test_run(env, options);
	g_assert_no_error(env->error);
	g_assert_true(env->ok);

	/* metadata and revocation_key as upstream's tenant sends them */
	metadata_text = json_object_get_string_member(env->body, "metadata");
	metadata = kl_json_parse_object(metadata_text, strlen(metadata_text), 4096, 8, &error);
	g_assert_no_error(error);
	g_assert_true(
		kl_json_object_get_int(metadata, "cert_serial", 1, G_MAXINT64, &serial, NULL));
	g_assert_true(kl_json_object_get_string(metadata, "subject", &subject, NULL));
	g_assert_nonnull(strstr(subject, KL_TEST_AGENT_ID));
	revocation_pem = json_object_get_string_member(env->body, "revocation_key");
	revocation_key = kl_key_load_pem(revocation_pem, strlen(revocation_pem), &error);
	g_assert_no_error(error);

	/* the agent unpacked the package and ran autorun.sh */
	g_assert_true(kl_test_wait_for(kl_test_payload_done, env, KL_TEST_WAIT_MS));
	g_assert_true(env->payload_ok);
	g_free(file);
	file = kl_test_read_unzipped(env, cert_name);
	g_assert_nonnull(file);
	agent_cert = kl_x509_load_pem(file, strlen(file), &error);
	g_assert_no_error(error);
	g_assert_cmpuint(kl_x509_get_serial(agent_cert), ==, (guint64)serial);
	g_free(file);
	file = kl_test_read_unzipped(env, key_name);
	g_assert_nonnull(file);
	g_free(file);
	file = kl_test_read_unzipped(env, "cacert.crt");
	g_assert_nonnull(file);
	g_free(file);
	/* the notifier certificate is the one of the key the verifier got */
	file = kl_test_read_unzipped(env, "RevocationNotifier-cert.crt");
	g_assert_nonnull(file);
	notifier_cert = kl_x509_load_pem(file, strlen(file), &error);
	g_assert_no_error(error);
	g_assert_true(kl_x509_public_key_equal(notifier_cert, revocation_key));
	g_free(file);
	file = kl_test_read_unzipped(env, "hello.txt");
	g_assert_cmpstr(file, ==, "hello from the tenant\n");
	g_free(file);
	file = kl_test_read_unzipped(env, "action_list");
	g_assert_cmpstr(file, ==, "local_action_a,local_action_b");
	g_free(file);
	file = kl_test_read_unzipped(env, "autorun.out");
	g_assert_cmpstr(file, ==, "ran\n");
}

/* no payload and a given agent API version: no GET /version, no U, "v"
 * null, the verifier still gets the agent */
static void
test_tenant_enroll_no_payload(void)
{
	g_autoptr(KlTestEnv) env = kl_test_env_new(KL_TEST_EK_VENDOR, FALSE, FALSE);
	KlTenantEnrollOptions *options = kl_test_options_new(env);
	const gchar *const steps[] = {"registrar",
				      "ek-certificate",
				      "identity-quote",
				      "payload",
				      "verifier",
				      "done",
				      NULL};

	options->supported_version = g_strdup("2.4");
	kl_test_run(env, options);
	g_assert_no_error(env->error);
	g_assert_true(env->ok);
	kl_test_assert_steps(env, steps);
	g_assert_true(json_object_get_null_member(env->body, "v"));
	g_assert_cmpstr(json_object_get_string_member(env->body, "supported_version"), ==, "2.4");
	g_assert_cmpstr(json_object_get_string_member(env->body, "runtime_policy_name"),
			==,
			"policy-1");
	/* GET /v2.4/quotes/identity only */
	g_assert_cmpuint(env->agent_requests, ==, 1);
}

/* an EK certificate from a CA outside tpm_cert_store: nothing reaches the
 * agent or the verifier */
static void
test_tenant_enroll_ek_untrusted(void)
{
	g_autoptr(KlTestEnv) env = kl_test_env_new(KL_TEST_EK_STRANGER, FALSE, FALSE);
	KlTenantEnrollOptions *options = kl_test_options_new(env);
	const gchar *const steps[] = {"registrar", "ek-certificate", NULL};

	options->payload_kind = KL_TENANT_PAYLOAD_FILE;
	options->payload_file = g_bytes_new_static("x", 1);
	kl_test_run(env, options);
	g_assert_false(env->ok);
	g_assert_error(env->error, KL_X509_ERROR, KL_X509_ERROR_VERIFY);
	g_assert_true(g_str_has_prefix(env->error->message, "ek-certificate: "));
	g_assert_cmpstr(kl_tenant_enrollment_get_failed_step(env->enrollment),
			==,
			KL_TENANT_STEP_EK_CERTIFICATE);
	kl_test_assert_steps(env, steps);
	g_assert_cmpuint(env->agent_requests, ==, 0);
	kl_test_assert_no_payload(env);
}

/* the ek_check_script sees upstream's environment and can refuse */
static void
test_tenant_enroll_ek_script(void)
{
	g_autoptr(KlTestEnv) env = kl_test_env_new(KL_TEST_EK_VENDOR, FALSE, FALSE);
	KlTenantEnrollOptions *options = kl_test_options_new(env);
	g_autofree gchar *out = kl_test_dir_build(test_dir, "ek-script.out", NULL);
	g_autofree gchar *seen = NULL;

	options->ek_check_script =
		g_strdup_printf("echo \"$AGENT_UUID $TPM_CERT_STORE\" > '%s'; "
				"test -n \"$EK_TPM\" && test -n \"$EK_CERT\" && "
				"case \"$EK\" in *'BEGIN PUBLIC KEY'*) ;; *) exit 3;; esac; exit 1",
				out);
	kl_test_run(env, options);
	g_assert_false(env->ok);
	g_assert_cmpstr(kl_tenant_enrollment_get_failed_step(env->enrollment),
			==,
			KL_TENANT_STEP_EK_CERTIFICATE);
	/* exit 1: the script ran with everything set and refused */
	g_assert_nonnull(strstr(env->error->message, "exited with"));
	g_assert_nonnull(strstr(env->error->message, "1"));
	g_assert_true(g_file_get_contents(out, &seen, NULL, NULL));
	g_assert_true(g_str_has_prefix(seen, KL_TEST_AGENT_ID " "));
	g_assert_nonnull(strstr(seen, cert_store));
	g_assert_cmpuint(env->agent_requests, ==, 0);
	kl_test_assert_no_payload(env);
}

/* the agent answers with another TPM's quote than the registered AK's */
static void
test_tenant_enroll_tampered_quote(void)
{
	g_autoptr(KlTestEnv) env = kl_test_env_new(KL_TEST_EK_VENDOR, TRUE, FALSE);
	KlTenantEnrollOptions *options = kl_test_options_new(env);
	const gchar *const steps[] = {"registrar", "ek-certificate", "identity-quote", NULL};

	options->payload_kind = KL_TENANT_PAYLOAD_FILE;
	options->payload_file = g_bytes_new_static("x", 1);
	kl_test_run(env, options);
	g_assert_false(env->ok);
	g_assert_error(env->error, KL_ERROR, KL_ERROR_VERIFICATION_FAILED);
	g_assert_true(g_str_has_prefix(env->error->message, "identity-quote: "));
	g_assert_nonnull(strstr(env->error->message, "signature"));
	kl_test_assert_steps(env, steps);
	/* GET /version and GET /quotes/identity, no U */
	g_assert_cmpuint(env->agent_requests, ==, 2);
	kl_test_assert_no_payload(env);
}

/* algorithms outside the accepted lists are refused */
static void
test_tenant_enroll_alg_refused(void)
{
	g_autoptr(KlTestEnv) env = kl_test_env_new(KL_TEST_EK_VENDOR, FALSE, FALSE);
	KlTenantEnrollOptions *options = kl_test_options_new(env);
	const gchar *hash[] = {"sha384", NULL};

	g_strfreev(options->accept_hash_algs);
	options->accept_hash_algs = g_strdupv((gchar **)hash);
	kl_test_run(env, options);
	g_assert_false(env->ok);
	g_assert_cmpstr(kl_tenant_enrollment_get_failed_step(env->enrollment),
			==,
			KL_TENANT_STEP_IDENTITY_QUOTE);
	g_assert_nonnull(strstr(env->error->message, "sha256"));
	kl_test_assert_no_payload(env);
}

/* nobody listens at the registered address */
static void
test_tenant_enroll_agent_down(void)
{
	g_autoptr(KlTestEnv) env = kl_test_env_new(KL_TEST_EK_VENDOR, FALSE, TRUE);
	KlTenantEnrollOptions *options = kl_test_options_new(env);

	kl_test_run(env, options);
	g_assert_false(env->ok);
	g_assert_error(env->error, KL_AGENT_CLIENT_ERROR, KL_AGENT_CLIENT_ERROR_RETRYABLE);
	g_assert_cmpstr(kl_tenant_enrollment_get_failed_step(env->enrollment),
			==,
			KL_TENANT_STEP_IDENTITY_QUOTE);
	g_assert_nonnull(strstr(env->error->message, KL_TEST_AGENT_ID));
	g_assert_nonnull(strstr(env->error->message, "127.0.0.1"));
	kl_test_assert_no_payload(env);
}

/* an agent the registrar does not know */
static void
test_tenant_enroll_not_registered(void)
{
	g_autoptr(KlTestEnv) env = kl_test_env_new(KL_TEST_EK_VENDOR, FALSE, FALSE);
	KlTenantEnrollOptions *options = kl_test_options_new(env);

	g_free(options->agent_id);
	options->agent_id = g_strdup("not-registered");
	kl_test_run(env, options);
	g_assert_false(env->ok);
	g_assert_error(env->error, KL_ERROR, KL_ERROR_NOT_FOUND);
	g_assert_cmpstr(kl_tenant_enrollment_get_failed_step(env->enrollment),
			==,
			KL_TENANT_STEP_REGISTRAR);
	g_assert_cmpuint(env->agent_requests, ==, 0);
	kl_test_assert_no_payload(env);
}

/* a tpm_policy on a PCR measured boot uses, beside a boot policy: refused
 * before anything is asked of anyone (spec §4.7) */
static void
test_tenant_enroll_boot_pcr_in_tpm_policy(void)
{
	g_autoptr(KlTestEnv) env = kl_test_env_new(KL_TEST_EK_VENDOR, FALSE, FALSE);
	KlTenantEnrollOptions *options = kl_test_options_new(env);

	g_free(options->tpm_policy);
	options->tpm_policy = g_strdup("{\"7\": \"" KL_TEST_ZERO_DIGEST "\"}");
	options->mb_policy_name = g_strdup("example");
	kl_test_run(env, options);
	g_assert_false(env->ok);
	g_assert_error(env->error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(env->error->message, "measured boot"));
	g_assert_cmpstr(kl_tenant_enrollment_get_failed_step(env->enrollment),
			==,
			KL_TENANT_STEP_REGISTRAR);
	g_assert_cmpuint(env->agent_requests, ==, 0);
	kl_test_assert_no_payload(env);
}

/* cancelled at once: the registrar step ends with G_IO_ERROR_CANCELLED */
static void
test_tenant_enroll_cancelled(void)
{
	g_autoptr(KlTestEnv) env = kl_test_env_new(KL_TEST_EK_VENDOR, FALSE, FALSE);
	KlTenantEnrollOptions *options = kl_test_options_new(env);
	g_autoptr(GCancellable) cancellable = g_cancellable_new();

	env->enrollment = kl_tenant_enrollment_new(options, kl_test_verifier_step, env, NULL);
	kl_tenant_enrollment_run_async(env->enrollment, cancellable, kl_test_run_cb, env);
	g_cancellable_cancel(cancellable);
	g_assert_true(kl_test_wait_for(kl_test_finished, env, KL_TEST_WAIT_MS));
	g_assert_false(env->ok);
	g_assert_error(env->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	g_assert_cmpstr(kl_tenant_enrollment_get_failed_step(env->enrollment),
			==,
			KL_TENANT_STEP_REGISTRAR);
	g_assert_cmpuint(env->agent_requests, ==, 0);
	kl_test_assert_no_payload(env);
}

/* the verifier refuses: the run fails at "verifier" */
static void
kl_test_refusing_verifier(KlTenantEnrollment *enrollment,
			  const gchar *agent_id,
			  JsonObject *body,
			  gpointer user_data)
{
	kl_tenant_enrollment_verifier_done(
		enrollment,
		g_error_new(KL_ERROR, KL_ERROR_CONFLICT, "agent %s exists", agent_id));
}

static void
test_tenant_enroll_verifier_refuses(void)
{
	g_autoptr(KlTestEnv) env = kl_test_env_new(KL_TEST_EK_VENDOR, FALSE, FALSE);
	KlTenantEnrollOptions *options = kl_test_options_new(env);

	env->enrollment = kl_tenant_enrollment_new(options, kl_test_refusing_verifier, NULL, NULL);
	kl_tenant_enrollment_run_async(env->enrollment, NULL, kl_test_run_cb, env);
	g_assert_true(kl_test_wait_for(kl_test_finished, env, KL_TEST_WAIT_MS));
	g_assert_false(env->ok);
	g_assert_error(env->error, KL_ERROR, KL_ERROR_CONFLICT);
	g_assert_true(g_str_has_prefix(env->error->message, "verifier: "));
	g_assert_cmpstr(kl_tenant_enrollment_get_failed_step(env->enrollment),
			==,
			KL_TENANT_STEP_VERIFIER);
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *vendor_pem = NULL;
	g_autofree gchar *path = NULL;
	int ret;

	g_test_init(&argc, &argv, NULL);
	test_dir = kl_test_dir_new();
	test_ca = kl_test_ca_new(test_dir, "mtls", &error);
	g_assert_no_error(error);
	vendor_ca = kl_test_ca_new(test_dir, "vendor", &error);
	g_assert_no_error(error);
	stranger_ca = kl_test_ca_new(test_dir, "stranger", &error);
	g_assert_no_error(error);
	cert_store = kl_test_dir_build(test_dir, "tpm_cert_store", NULL);
	g_assert_cmpint(g_mkdir_with_parents(cert_store, 0700), ==, 0);
	g_assert_true(g_file_get_contents(kl_test_ca_get_ca_cert_path(vendor_ca),
					  &vendor_pem,
					  NULL,
					  NULL));
	path = g_build_filename(cert_store, "vendor-root.pem", NULL);
	g_assert_true(g_file_set_contents(path, vendor_pem, -1, NULL));
	g_free(path);
	/* a file that is no certificate is skipped, as upstream skips it */
	path = g_build_filename(cert_store, "README", NULL);
	g_assert_true(g_file_set_contents(path, "not a certificate\n", -1, NULL));
	test_nk = kl_key_generate_rsa(2048, &error);
	g_assert_no_error(error);

	g_test_add_func("/tenant-enroll/file", test_tenant_enroll_file);
	g_test_add_func("/tenant-enroll/cert-package", test_tenant_enroll_cert_package);
	g_test_add_func("/tenant-enroll/no-payload", test_tenant_enroll_no_payload);
	g_test_add_func("/tenant-enroll/ek-untrusted", test_tenant_enroll_ek_untrusted);
	g_test_add_func("/tenant-enroll/ek-script", test_tenant_enroll_ek_script);
	g_test_add_func("/tenant-enroll/tampered-quote", test_tenant_enroll_tampered_quote);
	g_test_add_func("/tenant-enroll/alg-refused", test_tenant_enroll_alg_refused);
	g_test_add_func("/tenant-enroll/agent-down", test_tenant_enroll_agent_down);
	g_test_add_func("/tenant-enroll/not-registered", test_tenant_enroll_not_registered);
	g_test_add_func("/tenant-enroll/boot-pcr-in-tpm-policy",
			test_tenant_enroll_boot_pcr_in_tpm_policy);
	g_test_add_func("/tenant-enroll/cancelled", test_tenant_enroll_cancelled);
	g_test_add_func("/tenant-enroll/verifier-refuses", test_tenant_enroll_verifier_refuses);
	ret = g_test_run();

	EVP_PKEY_free(test_nk);
	g_free(cert_store);
	kl_test_ca_free(stranger_ca);
	kl_test_ca_free(vendor_ca);
	kl_test_ca_free(test_ca);
	kl_test_dir_free(test_dir);
	return ret;
}
