/*
 * KlRevocationNotifier: the message text as upstream writes it, its
 * signature as the agents check it, and its delivery to real agents in
 * this process (KlAgentService over KlTpmSoft behind mTLS) and to a
 * webhook test server on 127.0.0.1 that answers as each test scripts it.
 */
#include "config.h"

#include <openssl/rsa.h>
#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>

#include "kl-agent-client.h"
#include "kl-agent-revocation.h"
#include "kl-agent-service.h"
#include "kl-base64.h"
#include "kl-crypto.h"
#include "kl-error.h"
#include "kl-http-server.h"
#include "kl-json.h"
#include "kl-revocation-notifier.h"
#include "kl-test-ca.h"
#include "kl-test-dir.h"
#include "kl-test-wait.h"
#include "kl-tpm-soft.h"
#include "kl-x509.h"

#define KL_TEST_WAIT_MS	 60000
#define KL_TEST_AGENT_ID "d432fbb3-d2f1-4a97-9ef7-75bd81c00000"
#define KL_TEST_AUG_3	 G_GINT64_CONSTANT(1785741254) /* Mon Aug  3 07:14:14 2026 UTC */
#define KL_TEST_NOV_28	 G_GINT64_CONSTANT(1795892709) /* Sat Nov 28 19:05:09 2026 UTC */

/* made once in main() */
static KlTestDir *test_dir;
static KlTestCa *test_ca;
static EVP_PKEY *test_nk;
static GTlsCertificate *test_pin; /* the agents' server certificate */
static EVP_PKEY *notifier_key;	  /* the tenant's revocation_key */
static X509 *notifier_cert;	  /* RevocationNotifier-cert.crt */
static gchar *notifier_key_pem;

/* g_test_expect_message() does not see structured logging on GLib 2.74:
 * the notifier's warnings (domain KlVerifier) are kept here, and each test
 * says which it expects. */
static GPtrArray *warnings;

static GLogWriterOutput
test_capture_writer(GLogLevelFlags level,
		    const GLogField *fields,
		    gsize n_fields,
		    gpointer user_data)
{
	const gchar *domain = NULL;
	const gchar *message = NULL;

	for (gsize i = 0; i < n_fields; i++) {
		if (g_str_equal(fields[i].key, "GLIB_DOMAIN"))
			domain = fields[i].value;
		else if (g_str_equal(fields[i].key, "MESSAGE"))
			message = fields[i].value;
	}
	if ((level & G_LOG_LEVEL_WARNING) != 0 && g_strcmp0(domain, "KlVerifier") == 0 &&
	    message != NULL) {
		g_ptr_array_add(warnings, g_strdup(message));
		return G_LOG_WRITER_HANDLED;
	}
	return g_log_writer_default(level, fields, n_fields, user_data);
}

/* Exactly one warning per pattern was logged, in order; clears the list. */
static void
test_assert_warnings(const gchar *first, ...)
{
	va_list args;
	guint i = 0;

	va_start(args, first);
	for (const gchar *pattern = first; pattern != NULL; pattern = va_arg(args, const gchar *)) {
		g_assert_cmpuint(i, <, warnings->len);
		if (!g_pattern_match_simple(pattern, g_ptr_array_index(warnings, i)))
			g_error("warning \"%s\" does not match \"%s\"",
				(const gchar *)g_ptr_array_index(warnings, i),
				pattern);
		i++;
	}
	va_end(args);
	g_assert_cmpuint(i, ==, warnings->len);
	g_ptr_array_set_size(warnings, 0);
}

static KlVerifierAgent *
test_agent_record_new(void)
{
	KlVerifierAgent *agent = kl_verifier_agent_new(KL_TEST_AGENT_ID);

	agent->ip = g_strdup("10.0.0.5");
	agent->port = 9002;
	agent->tpm_policy = g_strdup("{\"mask\": \"0x400\"}");
	agent->meta_data = g_strdup("{}");
	return agent;
}

/* ---- the message and its signature ---- */

static void
test_message_text(void)
{
	g_autoptr(KlVerifierAgent) agent = test_agent_record_new();
	g_autofree gchar *msg = NULL;
	g_autofree gchar *comm = NULL;
	g_autoptr(JsonObject) parsed = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *text = NULL;
	gint64 port = 0;

	g_free(agent->meta_data);
	agent->meta_data = g_strdup("{\"cert_serial\": 4, \"subject\": \"\u00c4 \\\"q\\\"\\n\"}");
	msg = kl_revocation_message_new(
		KL_REVOCATION_TYPE_REVOCATION,
		agent,
		KL_TEST_AUG_3,
		"ima.validation.ima-ng.not_in_allowlist",
		"emergency",
		"{\"message\": \"File not found in allowlist: /tmp/evil\"}");
	/* what Python's json.dumps() makes of upstream's dict */
	g_assert_cmpstr(
		msg,
		==,
		"{\"type\": \"revocation\", \"ip\": \"10.0.0.5\", \"agent_id\": "
		"\"d432fbb3-d2f1-4a97-9ef7-75bd81c00000\", \"port\": 9002, \"tpm_policy\": "
		"\"{\\\"mask\\\": \\\"0x400\\\"}\", \"meta_data\": \"{\\\"cert_serial\\\": 4, "
		"\\\"subject\\\": \\\"\\u00c4 \\\\\\\"q\\\\\\\"\\\\n\\\"}\", \"event_time\": \"Mon "
		"Aug  "
		"3 07:14:14 2026\", \"event_id\": \"ima.validation.ima-ng.not_in_allowlist\", "
		"\"severity_label\": \"emergency\", \"context\": \"{\\\"message\\\": \\\"File not "
		"found in allowlist: /tmp/evil\\\"}\"}");

	/* and what a reader finds in it */
	parsed = kl_json_parse_object(msg, strlen(msg), 65536, KL_JSON_DEFAULT_MAX_DEPTH, &error);
	g_assert_no_error(error);
	g_assert_true(kl_json_object_get_string(parsed, "type", &text, &error));
	g_assert_cmpstr(text, ==, "revocation");
	g_assert_true(kl_json_object_get_string(parsed, "agent_id", &text, &error));
	g_assert_cmpstr(text, ==, KL_TEST_AGENT_ID);
	g_assert_true(kl_json_object_get_string(parsed, "ip", &text, &error));
	g_assert_cmpstr(text, ==, "10.0.0.5");
	g_assert_true(kl_json_object_get_int(parsed, "port", 0, 65535, &port, &error));
	g_assert_cmpint(port, ==, 9002);
	g_assert_true(kl_json_object_get_string(parsed, "tpm_policy", &text, &error));
	g_assert_cmpstr(text, ==, agent->tpm_policy);
	g_assert_true(kl_json_object_get_string(parsed, "meta_data", &text, &error));
	g_assert_cmpstr(text, ==, agent->meta_data);
	g_assert_true(kl_json_object_get_string(parsed, "event_time", &text, &error));
	g_assert_cmpstr(text, ==, "Mon Aug  3 07:14:14 2026");
	g_assert_true(kl_json_object_get_string(parsed, "severity_label", &text, &error));
	g_assert_cmpstr(text, ==, "emergency");
	g_assert_true(kl_json_object_get_string(parsed, "context", &text, &error));
	g_assert_cmpstr(text, ==, "{\"message\": \"File not found in allowlist: /tmp/evil\"}");
	g_assert_no_error(error);

	/* no event: the last three are left out; a two-digit day */
	g_free(agent->meta_data);
	agent->meta_data = g_strdup("{}");
	comm = kl_revocation_message_new(KL_REVOCATION_TYPE_COMM_ERROR,
					 agent,
					 KL_TEST_NOV_28,
					 NULL,
					 NULL,
					 NULL);
	g_assert_cmpstr(comm,
			==,
			"{\"type\": \"comm_error\", \"ip\": \"10.0.0.5\", \"agent_id\": "
			"\"d432fbb3-d2f1-4a97-9ef7-75bd81c00000\", \"port\": 9002, \"tpm_policy\": "
			"\"{\\\"mask\\\": \\\"0x400\\\"}\", \"meta_data\": \"{}\", \"event_time\": "
			"\"Sat Nov 28 19:05:09 2026\"}");
}

/* An independent check: PSS with SHA-256, MGF1-SHA-256 and exactly the
 * maximal salt (key bytes - hash bytes - 2), as upstream's
 * padding.PSS.MAX_LENGTH signs. */
static gboolean
test_pss_verify_max_salt(const gchar *msg, GBytes *signature)
{
	g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int salt = EVP_PKEY_get_size(notifier_key) - 32 - 2;

	g_assert_nonnull(ctx);
	g_assert_cmpint(
		EVP_DigestVerifyInit_ex(ctx, &pctx, "SHA2-256", NULL, NULL, notifier_key, NULL),
		==,
		1);
	g_assert_cmpint(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), >, 0);
	g_assert_cmpint(EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA2-256", NULL), >, 0);
	g_assert_cmpint(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt), >, 0);
	return EVP_DigestVerify(ctx,
				g_bytes_get_data(signature, NULL),
				g_bytes_get_size(signature),
				(const guint8 *)msg,
				strlen(msg)) == 1;
}

static void
test_transport_signed(void)
{
	g_autoptr(KlVerifierAgent) agent = test_agent_record_new();
	g_autofree gchar *msg = NULL;
	g_autofree gchar *transport = NULL;
	g_autoptr(JsonObject) object = NULL;
	g_autoptr(JsonObject) event = NULL;
	g_autoptr(GBytes) signature = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *tampered = NULL;
	const gchar *text = NULL;
	const gchar *signature_b64 = NULL;

	msg = kl_revocation_message_new(KL_REVOCATION_TYPE_REVOCATION,
					agent,
					KL_TEST_AUG_3,
					"pcr_validation.invalid_pcr_15",
					"emergency",
					"{}");
	transport = kl_revocation_transport_new(msg, notifier_key_pem, &error);
	g_assert_no_error(error);
	object = kl_json_parse_object(transport,
				      strlen(transport),
				      65536,
				      KL_JSON_DEFAULT_MAX_DEPTH,
				      &error);
	g_assert_no_error(error);
	g_assert_cmpuint(json_object_get_size(object), ==, 2);
	g_assert_true(kl_json_object_get_string(object, "msg", &text, &error));
	g_assert_cmpstr(text, ==, msg);
	g_assert_true(kl_json_object_get_string(object, "signature", &signature_b64, &error));

	/* the agent's check */
	event = kl_agent_revocation_verify_request(notifier_cert, object, NULL, &error);
	g_assert_no_error(error);
	g_assert_nonnull(event);

	/* an independent one, with the salt length pinned */
	signature = kl_base64_decode(signature_b64, -1, KL_BASE64_FLAG_NONE, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(g_bytes_get_size(signature), ==, 256);
	g_assert_true(test_pss_verify_max_salt(msg, signature));
	tampered = g_strdup(msg);
	tampered[2] = 'T';
	g_assert_false(test_pss_verify_max_salt(tampered, signature));
}

static void
test_transport_unsigned(void)
{
	g_autoptr(GError) error = NULL;
	const gchar *keys[] = {NULL, ""};

	for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
		g_autofree gchar *transport =
			kl_revocation_transport_new("{\"type\": \"revocation\"}", keys[i], &error);
		g_assert_no_error(error);
		g_assert_cmpstr(
			transport,
			==,
			"{\"msg\": \"{\\\"type\\\": \\\"revocation\\\"}\", \"signature\": \"\"}");
	}
}

static void
test_transport_bad_key(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) ec = NULL;
	g_autofree gchar *ec_pem = NULL;
	gchar *transport;

	transport = kl_revocation_transport_new("{}",
						"-----BEGIN PRIVATE KEY-----\nnot a key\n"
						"-----END PRIVATE KEY-----\n",
						&error);
	g_assert_null(transport);
	g_assert_nonnull(error);
	g_assert_nonnull(strstr(error->message, "revocation_key"));
	g_clear_error(&error);

	/* a key, but not one RSA-PSS can use */
	ec = kl_key_generate_ec("P-256", &error);
	g_assert_no_error(error);
	ec_pem = kl_key_to_pem_private(ec, &error);
	g_assert_no_error(error);
	transport = kl_revocation_transport_new("{}", ec_pem, &error);
	g_assert_null(transport);
	g_assert_nonnull(error);
	g_assert_nonnull(strstr(error->message, "revocation_key"));
}

/* ---- one send() ---- */

typedef struct {
	gboolean done;
	guint n_sent;
	guint n_failed;
	guint n_done_signals;
} TestDone;

static void
test_done_cb(KlRevocationNotifier *notifier, guint n_sent, guint n_failed, gpointer user_data)
{
	TestDone *done = user_data;

	done->done = TRUE;
	done->n_sent = n_sent;
	done->n_failed = n_failed;
	done->n_done_signals++;
}

static gboolean
test_done_is_done(gpointer user_data)
{
	return ((TestDone *)user_data)->done;
}

/* Sends @transport and waits for "done"; returns the seconds it took. */
static gdouble
test_send_and_wait(KlRevocationNotifier *notifier,
		   const gchar *transport,
		   GPtrArray *targets,
		   TestDone *done)
{
	gint64 start = g_get_monotonic_time();
	gulong id = g_signal_connect(notifier, "done", G_CALLBACK(test_done_cb), done);
	gdouble returned_after;

	memset(done, 0, sizeof(*done));
	kl_revocation_notifier_send(notifier, transport, targets);
	returned_after = (gdouble)(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
	/* send() never waits for the network */
	g_assert_cmpfloat(returned_after, <, 0.5);
	g_assert_false(done->done);
	g_assert_true(kl_test_wait_for(test_done_is_done, done, KL_TEST_WAIT_MS));
	g_signal_handler_disconnect(notifier, id);
	g_assert_cmpuint(kl_revocation_notifier_get_pending(notifier), ==, 0);
	return (gdouble)(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
}

/* ---- real agents ---- */

typedef struct {
	KlTpm *tpm;
	gchar *secure_dir;
	gchar *actions_dir;
	gchar *received; /* what the "record" action wrote */
	KlAgentPayloadOptions payload;
	KlAgentRevocationOptions revocation;
	KlAgentService *service;
	KlHttpServer *server;
	guint n_revocations;
	gboolean actions_ok;
} TestAgent;

static void
test_agent_free(TestAgent *agent)
{
	if (agent->server != NULL)
		kl_http_server_stop(agent->server);
	g_clear_object(&agent->server);
	g_clear_object(&agent->service);
	g_clear_object(&agent->tpm);
	g_free(agent->secure_dir);
	g_free(agent->actions_dir);
	g_free(agent->received);
	g_free(agent);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(TestAgent, test_agent_free)

static void
test_agent_revocation_done_cb(KlAgentService *service, guint n_run, gboolean ok, gpointer user_data)
{
	TestAgent *agent = user_data;

	agent->n_revocations++;
	agent->actions_ok = ok && n_run == 1;
}

/* An agent that holds the RevocationNotifier certificate (as a payload
 * delivers it) and runs one action, "record", that keeps the message. */
static TestAgent *
test_agent_new(void)
{
	g_autoptr(TestAgent) agent = g_new0(TestAgent, 1);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *name = NULL;
	g_autofree gchar *unzipped = NULL;
	g_autofree gchar *cert_path = NULL;
	g_autofree gchar *cert_pem = NULL;
	g_autofree gchar *script_path = NULL;
	g_autofree gchar *script = NULL;
	KlAgentServiceOptions service = {0};
	KlHttpServerOptions options = {0};
	KlTpmOptions tpm = {0};
	static guint n_agents = 0;

	kl_tpm_options_init(&tpm);
	tpm.enc_alg = TPM2_ALG_ECC;
	tpm.sign_alg = TPM2_ALG_ECDSA;
	agent->tpm = kl_tpm_soft_new(&tpm, &error);
	g_assert_no_error(error);
	name = g_strdup_printf("agent-%u", n_agents++);
	agent->secure_dir = kl_test_dir_build(test_dir, name, "secure", NULL);
	agent->actions_dir = kl_test_dir_build(test_dir, name, "actions", NULL);
	agent->received = kl_test_dir_build(test_dir, name, "received", NULL);
	unzipped = g_build_filename(agent->secure_dir, "unzipped", NULL);
	g_assert_cmpint(g_mkdir_with_parents(unzipped, 0700), ==, 0);
	g_assert_cmpint(g_mkdir_with_parents(agent->actions_dir, 0700), ==, 0);

	cert_pem = kl_x509_to_pem(notifier_cert, &error);
	g_assert_no_error(error);
	cert_path = g_build_filename(unzipped, KL_AGENT_REVOCATION_CERT_NAME, NULL);
	g_assert_true(g_file_set_contents(cert_path, cert_pem, -1, &error));
	script_path = g_build_filename(agent->actions_dir, "record", NULL);
	script = g_strdup_printf("#!/bin/sh\ncat > '%s'\n", agent->received);
	g_assert_true(g_file_set_contents(script_path, script, -1, &error));
	g_assert_cmpint(g_chmod(script_path, 0700), ==, 0);

	kl_agent_payload_options_init(&agent->payload);
	kl_agent_revocation_options_init(&agent->revocation,
					 agent->secure_dir,
					 kl_test_dir_get_path(test_dir));
	agent->revocation.revocation_actions = "record";
	agent->revocation.revocation_actions_dir = agent->actions_dir;
	agent->revocation.timeout_seconds = 30;

	service.agent_id = KL_TEST_AGENT_ID;
	service.tpm = agent->tpm;
	service.nk = test_nk;
	service.secure_dir = agent->secure_dir;
	service.payload = &agent->payload;
	service.revocation = &agent->revocation;
	agent->service = kl_agent_service_new(&service, &error);
	g_assert_no_error(error);
	g_signal_connect(agent->service,
			 "revocation-done",
			 G_CALLBACK(test_agent_revocation_done_cb),
			 agent);

	options.tls = TRUE;
	options.server_cert = kl_test_ca_get_server_cert_path(test_ca);
	options.server_key = kl_test_ca_get_server_key_path(test_ca);
	options.trusted_client_ca = kl_test_ca_get_ca_cert_path(test_ca);
	options.client_cert = KL_HTTP_CLIENT_CERT_REQUIRED;
	agent->server =
		kl_http_server_new(kl_agent_service_get_router(agent->service), &options, &error);
	g_assert_no_error(error);
	g_assert_true(kl_http_server_listen(agent->server, &error));
	g_assert_no_error(error);
	return g_steal_pointer(&agent);
}

static KlAgentTarget *
test_target_new(guint16 port)
{
	KlAgentTarget target = {
		.agent_id = KL_TEST_AGENT_ID,
		.ip = "127.0.0.1",
		.port = port,
		.api_version = {2, 6},
		.mtls_cert = test_pin,
	};

	return kl_agent_target_copy(&target);
}

/* A port nobody listens on: bound once, then closed. */
static guint16
test_closed_port(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GSocket) socket = NULL;
	g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) any = g_inet_socket_address_new(loopback, 0);
	g_autoptr(GSocketAddress) bound = NULL;

	socket = g_socket_new(G_SOCKET_FAMILY_IPV4,
			      G_SOCKET_TYPE_STREAM,
			      G_SOCKET_PROTOCOL_TCP,
			      &error);
	g_assert_no_error(error);
	g_assert_true(g_socket_bind(socket, any, FALSE, &error));
	bound = g_socket_get_local_address(socket, &error);
	g_assert_no_error(error);
	g_assert_true(g_socket_close(socket, &error));
	return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
}

static KlAgentClient *
test_client_new(void)
{
	KlAgentClientOptions options;
	g_autoptr(GError) error = NULL;
	KlAgentClient *client;

	kl_agent_client_options_init(&options);
	options.client_cert = kl_test_ca_get_client_cert_path(test_ca);
	options.client_key = kl_test_ca_get_client_key_path(test_ca);
	options.request_timeout = 10.0;
	client = kl_agent_client_new(&options, &error);
	g_assert_no_error(error);
	return client;
}

static void
test_options_init(KlRevocationNotifierOptions *options)
{
	memset(options, 0, sizeof(*options));
	options->max_retries = 2;
	options->retry_interval = 0.05;
	options->exponential_backoff = FALSE;
	options->request_timeout = 5.0;
}

static gboolean
test_agents_acted(gpointer user_data)
{
	TestAgent **agents = user_data;

	return agents[0]->n_revocations > 0 && agents[1]->n_revocations > 0;
}

static void
test_deliver_to_agents(void)
{
	g_autoptr(TestAgent) agent0 = test_agent_new();
	g_autoptr(TestAgent) agent1 = test_agent_new();
	TestAgent *agents[] = {agent0, agent1};
	g_autoptr(KlAgentClient) client = test_client_new();
	g_autoptr(KlRevocationNotifier) notifier = NULL;
	g_autoptr(KlVerifierAgent) record = test_agent_record_new();
	g_autoptr(GPtrArray) targets =
		g_ptr_array_new_with_free_func((GDestroyNotify)kl_agent_target_free);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *msg = NULL;
	g_autofree gchar *transport = NULL;
	KlRevocationNotifierOptions options;
	TestDone done;

	test_options_init(&options);
	options.to_agents = TRUE;
	notifier = kl_revocation_notifier_new(&options, client, &error);
	g_assert_no_error(error);

	g_ptr_array_add(targets, test_target_new(kl_http_server_get_port(agent0->server)));
	g_ptr_array_add(targets, test_target_new(test_closed_port()));
	g_ptr_array_add(targets, test_target_new(kl_http_server_get_port(agent1->server)));

	msg = kl_revocation_message_new(KL_REVOCATION_TYPE_REVOCATION,
					record,
					KL_TEST_AUG_3,
					"pcr_validation.invalid_pcr_15",
					"emergency",
					"{\"pcr\": 15}");
	transport = kl_revocation_transport_new(msg, notifier_key_pem, &error);
	g_assert_no_error(error);

	memset(&done, 0, sizeof(done));
	g_signal_connect(notifier, "done", G_CALLBACK(test_done_cb), &done);
	kl_revocation_notifier_send(notifier, transport, targets);
	g_assert_cmpuint(kl_revocation_notifier_get_pending(notifier), ==, 3);
	/* the caller may drop its targets at once */
	g_clear_pointer(&targets, g_ptr_array_unref);
	g_assert_true(kl_test_wait_for(test_done_is_done, &done, KL_TEST_WAIT_MS));
	g_assert_cmpuint(done.n_sent, ==, 2);
	g_assert_cmpuint(done.n_failed, ==, 1);
	g_assert_cmpuint(done.n_done_signals, ==, 1);
	/* the failure names the agent and its address */
	test_assert_warnings("revocation notification not delivered: agent " KL_TEST_AGENT_ID
			     " (127.0.0.1:*) POST /v2.6/notifications/revocation: *",
			     NULL);
	g_assert_cmpuint(kl_revocation_notifier_get_pending(notifier), ==, 0);

	/* each agent verified it and ran its action with the message */
	g_assert_true(kl_test_wait_for(test_agents_acted, agents, KL_TEST_WAIT_MS));
	for (guint i = 0; i < G_N_ELEMENTS(agents); i++) {
		g_autofree gchar *received = NULL;

		g_assert_cmpuint(agents[i]->n_revocations, ==, 1);
		g_assert_true(agents[i]->actions_ok);
		g_assert_true(g_file_get_contents(agents[i]->received, &received, NULL, &error));
		g_assert_cmpstr(received, ==, msg);
	}
}

/* An agent refuses a message signed with another key: a failed delivery. */
static void
test_deliver_wrong_key(void)
{
	g_autoptr(TestAgent) agent = test_agent_new();
	g_autoptr(KlAgentClient) client = test_client_new();
	g_autoptr(KlRevocationNotifier) notifier = NULL;
	g_autoptr(GPtrArray) targets =
		g_ptr_array_new_with_free_func((GDestroyNotify)kl_agent_target_free);
	g_autoptr(EVP_PKEY) other = NULL;
	g_autofree gchar *other_pem = NULL;
	g_autofree gchar *transport = NULL;
	g_autoptr(GError) error = NULL;
	KlRevocationNotifierOptions options;
	TestDone done;

	test_options_init(&options);
	options.to_agents = TRUE;
	notifier = kl_revocation_notifier_new(&options, client, &error);
	g_assert_no_error(error);
	other = kl_key_generate_rsa(2048, &error);
	g_assert_no_error(error);
	other_pem = kl_key_to_pem_private(other, &error);
	g_assert_no_error(error);
	transport = kl_revocation_transport_new("{\"type\": \"revocation\"}", other_pem, &error);
	g_assert_no_error(error);
	g_ptr_array_add(targets, test_target_new(kl_http_server_get_port(agent->server)));

	test_send_and_wait(notifier, transport, targets, &done);
	g_assert_cmpuint(done.n_sent, ==, 0);
	g_assert_cmpuint(done.n_failed, ==, 1);
	g_assert_cmpuint(agent->n_revocations, ==, 0);
	test_assert_warnings("revocation notification not delivered: agent * HTTP 4*", NULL);
}

/* Nothing to send to: "done" (0, 0) still comes, from the main loop. */
static void
test_nothing_to_do(void)
{
	g_autoptr(KlRevocationNotifier) notifier = NULL;
	g_autoptr(GError) error = NULL;
	KlRevocationNotifierOptions options;
	TestDone done;

	test_options_init(&options);
	notifier = kl_revocation_notifier_new(&options, NULL, &error);
	g_assert_no_error(error);
	test_send_and_wait(notifier, "{}", NULL, &done);
	g_assert_cmpuint(done.n_sent, ==, 0);
	g_assert_cmpuint(done.n_failed, ==, 0);
}

/* ---- the webhook ---- */

typedef struct {
	SoupServer *server;
	gchar *url;
	const guint *statuses; /* answers in order; the last one repeats; 0: never answer */
	guint n_statuses;
	guint n_requests;
	gchar *last_body;
	gchar *last_type;
	GPtrArray *paused; /* of SoupServerMessage never answered */
} TestWebhook;

static void
test_webhook_handler(SoupServer *server,
		     SoupServerMessage *msg,
		     const char *path,
		     GHashTable *query,
		     gpointer user_data)
{
	TestWebhook *hook = user_data;
	SoupMessageBody *body = soup_server_message_get_request_body(msg);
	g_autoptr(GBytes) data = soup_message_body_flatten(body);
	guint status = hook->statuses[MIN(hook->n_requests, hook->n_statuses - 1)];

	hook->n_requests++;
	g_free(hook->last_body);
	hook->last_body = g_strndup(g_bytes_get_data(data, NULL), g_bytes_get_size(data));
	g_free(hook->last_type);
	hook->last_type = g_strdup(
		soup_message_headers_get_content_type(soup_server_message_get_request_headers(msg),
						      NULL));
	if (status == 0) {
		g_ptr_array_add(hook->paused, g_object_ref(msg));
		soup_server_message_pause(msg);
		return;
	}
	soup_server_message_set_status(msg, status, NULL);
	soup_server_message_set_response(msg, "text/plain", SOUP_MEMORY_STATIC, "ok", 2);
}

static TestWebhook *
test_webhook_new(const guint *statuses, guint n_statuses, gboolean https)
{
	TestWebhook *hook = g_new0(TestWebhook, 1);
	g_autoptr(GError) error = NULL;
	g_autoptr(GTlsCertificate) cert = NULL;
	GSList *uris;

	hook->statuses = statuses;
	hook->n_statuses = n_statuses;
	hook->paused = g_ptr_array_new_with_free_func(g_object_unref);
	if (https) {
		cert = g_tls_certificate_new_from_files(kl_test_ca_get_server_cert_path(test_ca),
							kl_test_ca_get_server_key_path(test_ca),
							&error);
		g_assert_no_error(error);
	}
	hook->server = soup_server_new("tls-certificate", cert, NULL);
	soup_server_add_handler(hook->server, "/hook", test_webhook_handler, hook, NULL);
	g_assert_true(soup_server_listen_local(hook->server,
					       0,
					       SOUP_SERVER_LISTEN_IPV4_ONLY |
						       (https ? SOUP_SERVER_LISTEN_HTTPS : 0),
					       &error));
	g_assert_no_error(error);
	uris = soup_server_get_uris(hook->server);
	g_assert_nonnull(uris);
	hook->url = g_strdup_printf("%s://127.0.0.1:%d/hook",
				    https ? "https" : "http",
				    g_uri_get_port(uris->data));
	g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
	return hook;
}

static void
test_webhook_free(TestWebhook *hook)
{
	soup_server_disconnect(hook->server);
	g_ptr_array_unref(hook->paused);
	g_object_unref(hook->server);
	g_free(hook->url);
	g_free(hook->last_body);
	g_free(hook->last_type);
	g_free(hook);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(TestWebhook, test_webhook_free)

#define TEST_TRANSPORT "{\"msg\": \"{\\\"type\\\": \\\"revocation\\\"}\", \"signature\": \"\"}"

static KlRevocationNotifier *
test_webhook_notifier_new(const KlRevocationNotifierOptions *options)
{
	g_autoptr(GError) error = NULL;
	KlRevocationNotifier *notifier = kl_revocation_notifier_new(options, NULL, &error);

	g_assert_no_error(error);
	return notifier;
}

static void
test_webhook_ok(void)
{
	static const guint statuses[] = {200};
	g_autoptr(TestWebhook) hook = test_webhook_new(statuses, 1, FALSE);
	g_autoptr(KlRevocationNotifier) notifier = NULL;
	KlRevocationNotifierOptions options;
	TestDone done;

	test_options_init(&options);
	options.webhook_url = hook->url;
	notifier = test_webhook_notifier_new(&options);
	test_send_and_wait(notifier, TEST_TRANSPORT, NULL, &done);
	g_assert_cmpuint(done.n_sent, ==, 1);
	g_assert_cmpuint(done.n_failed, ==, 0);
	g_assert_cmpuint(hook->n_requests, ==, 1);
	test_assert_warnings(NULL);
	g_assert_cmpstr(hook->last_body, ==, TEST_TRANSPORT);
	g_assert_cmpstr(hook->last_type, ==, "application/json");
}

static void
test_webhook_retried(void)
{
	static const guint statuses[] = {500, 500, 202};
	g_autoptr(TestWebhook) hook = test_webhook_new(statuses, 3, FALSE);
	g_autoptr(KlRevocationNotifier) notifier = NULL;
	KlRevocationNotifierOptions options;
	TestDone done;
	gdouble seconds;

	test_options_init(&options);
	options.webhook_url = hook->url;
	options.max_retries = 3;
	options.retry_interval = 0.2;
	notifier = test_webhook_notifier_new(&options);
	seconds = test_send_and_wait(notifier, TEST_TRANSPORT, NULL, &done);
	g_assert_cmpuint(done.n_sent, ==, 1);
	g_assert_cmpuint(done.n_failed, ==, 0);
	g_assert_cmpuint(hook->n_requests, ==, 3);
	/* two waits of retry_interval */
	g_assert_cmpfloat(seconds, >=, 0.4);
	test_assert_warnings(NULL);
}

static void
test_webhook_gives_up(void)
{
	static const guint statuses[] = {500};
	g_autoptr(TestWebhook) hook = test_webhook_new(statuses, 1, FALSE);
	g_autoptr(KlRevocationNotifier) notifier = NULL;
	KlRevocationNotifierOptions options;
	TestDone done;

	test_options_init(&options);
	options.webhook_url = hook->url;
	options.max_retries = 2;
	notifier = test_webhook_notifier_new(&options);
	test_send_and_wait(notifier, TEST_TRANSPORT, NULL, &done);
	g_assert_cmpuint(done.n_sent, ==, 0);
	g_assert_cmpuint(done.n_failed, ==, 1);
	/* the first attempt and max_retries more */
	g_assert_cmpuint(hook->n_requests, ==, 3);
	test_assert_warnings(
		"revocation webhook http://127.0.0.1:*/hook failed after 3 attempt(s): "
		"HTTP 500 *",
		NULL);
}

/* Exponential back-off: retry n waits retry_interval**n (upstream's
 * retry_time with a base above 1). */
static void
test_webhook_backoff(void)
{
	static const guint statuses[] = {503};
	g_autoptr(TestWebhook) hook = test_webhook_new(statuses, 1, FALSE);
	g_autoptr(KlRevocationNotifier) notifier = NULL;
	KlRevocationNotifierOptions options;
	TestDone done;
	gdouble seconds;

	test_options_init(&options);
	options.webhook_url = hook->url;
	options.max_retries = 2;
	options.retry_interval = 1.2;
	options.exponential_backoff = TRUE;
	notifier = test_webhook_notifier_new(&options);
	seconds = test_send_and_wait(notifier, TEST_TRANSPORT, NULL, &done);
	g_assert_cmpuint(done.n_failed, ==, 1);
	g_assert_cmpuint(hook->n_requests, ==, 3);
	/* 1.2 + 1.44 s, not 2 x 1.2 s */
	g_assert_cmpfloat(seconds, >=, 2.6);
	g_assert_cmpfloat(seconds, <, 20.0);
	test_assert_warnings("revocation webhook * failed after 3 attempt(s): HTTP 503 *", NULL);
}

static void
test_webhook_timeout(void)
{
	static const guint statuses[] = {0};
	g_autoptr(TestWebhook) hook = test_webhook_new(statuses, 1, FALSE);
	g_autoptr(KlRevocationNotifier) notifier = NULL;
	KlRevocationNotifierOptions options;
	TestDone done;
	gdouble seconds;

	test_options_init(&options);
	options.webhook_url = hook->url;
	options.max_retries = 1;
	options.request_timeout = 0.5;
	notifier = test_webhook_notifier_new(&options);
	seconds = test_send_and_wait(notifier, TEST_TRANSPORT, NULL, &done);
	g_assert_cmpuint(done.n_sent, ==, 0);
	g_assert_cmpuint(done.n_failed, ==, 1);
	g_assert_cmpuint(hook->n_requests, ==, 2);
	g_assert_cmpfloat(seconds, >=, 1.0);
	g_assert_cmpfloat(seconds, <, 20.0);
	test_assert_warnings(
		"revocation webhook * failed after 2 attempt(s): no answer within 0.5 s",
		NULL);
}

/* https: the server is trusted through webhook_ca_file, else refused. */
static void
test_webhook_https(void)
{
	static const guint statuses[] = {200};
	g_autoptr(TestWebhook) hook = test_webhook_new(statuses, 1, TRUE);
	g_autoptr(KlRevocationNotifier) trusting = NULL;
	g_autoptr(KlRevocationNotifier) system = NULL;
	KlRevocationNotifierOptions options;
	TestDone done;

	test_options_init(&options);
	options.webhook_url = hook->url;
	options.max_retries = 0;
	options.webhook_ca_file = kl_test_ca_get_ca_cert_path(test_ca);
	trusting = test_webhook_notifier_new(&options);
	test_send_and_wait(trusting, TEST_TRANSPORT, NULL, &done);
	g_assert_cmpuint(done.n_sent, ==, 1);
	g_assert_cmpuint(hook->n_requests, ==, 1);

	options.webhook_ca_file = NULL;
	system = test_webhook_notifier_new(&options);
	test_send_and_wait(system, TEST_TRANSPORT, NULL, &done);
	g_assert_cmpuint(done.n_sent, ==, 0);
	g_assert_cmpuint(done.n_failed, ==, 1);
	g_assert_cmpuint(hook->n_requests, ==, 1);
	test_assert_warnings(
		"revocation webhook https://127.0.0.1:*/hook failed after 1 attempt(s): *",
		NULL);
}

static void
test_bad_options(void)
{
	KlRevocationNotifierOptions options;
	g_autoptr(GError) error = NULL;
	KlRevocationNotifier *notifier;
	const gchar *urls[] = {"not a url", "ftp://example.org/x", "http://"};

	for (guint i = 0; i < G_N_ELEMENTS(urls); i++) {
		test_options_init(&options);
		options.webhook_url = urls[i];
		notifier = kl_revocation_notifier_new(&options, NULL, &error);
		g_assert_null(notifier);
		g_assert_nonnull(error);
		g_assert_nonnull(strstr(error->message, "webhook_url"));
		g_clear_error(&error);
	}
	test_options_init(&options);
	options.webhook_url = "https://127.0.0.1:1/hook";
	options.webhook_ca_file = "/nonexistent/ca.crt";
	notifier = kl_revocation_notifier_new(&options, NULL, &error);
	g_assert_null(notifier);
	g_assert_nonnull(error);
	g_clear_error(&error);

	test_options_init(&options);
	options.to_agents = TRUE;
	notifier = kl_revocation_notifier_new(&options, NULL, &error);
	g_assert_null(notifier);
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *pem = NULL;
	gsize len = 0;
	KlCertRequest request = {
		.common_name = "RevocationNotifier",
		.days = 30,
		.usage = KL_CERT_USAGE_CLIENT,
	};
	int status;

	/* as keylime_agent does: an action that does not read stdin */
	signal(SIGPIPE, SIG_IGN);
	g_test_init(&argc, &argv, NULL);
	warnings = g_ptr_array_new_with_free_func(g_free);
	g_log_set_writer_func(test_capture_writer, NULL, NULL);
	test_dir = kl_test_dir_new();
	test_ca = kl_test_ca_new(test_dir, "agent", &error);
	g_assert_no_error(error);
	test_nk = kl_key_generate_rsa(2048, &error);
	g_assert_no_error(error);
	g_assert_true(
		g_file_get_contents(kl_test_ca_get_server_cert_path(test_ca), &pem, &len, &error));
	test_pin = kl_agent_client_pin_new(pem, len, &error);
	g_assert_no_error(error);
	notifier_key = kl_key_generate_rsa(2048, &error);
	g_assert_no_error(error);
	notifier_key_pem = kl_key_to_pem_private(notifier_key, &error);
	g_assert_no_error(error);
	notifier_cert = kl_x509_issue(&request, notifier_key, NULL, notifier_key, &error);
	g_assert_no_error(error);

	g_test_add_func("/revocation/message-text", test_message_text);
	g_test_add_func("/revocation/transport-signed", test_transport_signed);
	g_test_add_func("/revocation/transport-unsigned", test_transport_unsigned);
	g_test_add_func("/revocation/transport-bad-key", test_transport_bad_key);
	g_test_add_func("/revocation/bad-options", test_bad_options);
	g_test_add_func("/revocation/nothing-to-do", test_nothing_to_do);
	g_test_add_func("/revocation/agents", test_deliver_to_agents);
	g_test_add_func("/revocation/agent-wrong-key", test_deliver_wrong_key);
	g_test_add_func("/revocation/webhook-ok", test_webhook_ok);
	g_test_add_func("/revocation/webhook-retried", test_webhook_retried);
	g_test_add_func("/revocation/webhook-gives-up", test_webhook_gives_up);
	g_test_add_func("/revocation/webhook-backoff", test_webhook_backoff);
	g_test_add_func("/revocation/webhook-timeout", test_webhook_timeout);
	g_test_add_func("/revocation/webhook-https", test_webhook_https);
	status = g_test_run();

	g_free(notifier_key_pem);
	X509_free(notifier_cert);
	EVP_PKEY_free(notifier_key);
	g_clear_object(&test_pin);
	EVP_PKEY_free(test_nk);
	kl_test_ca_free(test_ca);
	kl_test_dir_free(test_dir);
	g_ptr_array_unref(warnings);
	return status;
}
