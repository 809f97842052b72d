/*
 * The verifier's REST API (spec §2.3) end to end: a real KlVerifier on a
 * temporary cv_data.sqlite behind KlVerifierRest on 127.0.0.1 with
 * certificates from KlTestCa, and a SoupSession client with a client
 * certificate.  Every route's success and error codes and the exact JSON
 * shapes upstream's tenant reads; requests without a certificate, with one
 * from another CA or in plain HTTP are refused on every route.
 *
 * Agents here point at a closed port (they retry, so the tests stop them
 * before deleting) or at a listener that takes the request and never
 * answers (a request on the wire: DELETE answers 202).
 */
#include "config.h"

#include "kl-error.h"
#include "kl-http-tls.h"
#include "kl-json.h"
#include "kl-runtime-policy.h"
#include "kl-test-ca.h"
#include "kl-test-data.h"
#include "kl-test-dir.h"
#include "kl-test-wait.h"
#include "kl-tpm-soft.h"
#include "kl-verifier-rest.h"

#define TIMEOUT_MS 60000
#define NONCE	   "kl-verifier-rest-nonce-0123"

/* made once in main(): RSA key generation is slow */
static KlTpm *soft_tpm;
static gchar *ak_b64;
static gchar *nk_pem;

typedef enum {
	CLIENT_CERT,	   /* the trusted CA's client certificate */
	CLIENT_NO_CERT,	   /* none */
	CLIENT_OTHER_CA,   /* a client certificate from another CA */
	CLIENT_PLAIN_HTTP, /* http:// to the HTTPS port */
} ClientMode;

typedef struct {
	KlTestDir *dir;
	KlTestCa *ca;
	KlTestCa *other_ca;
	KlVerifierStore *store; /* owned by the verifier */
	KlVerifier *verifier;
	KlVerifierRest *rest;
	guint16 port;
	SoupSession *session;
	guint16 closed_port;  /* nothing listens there */
	GSocketService *hang; /* accepts agents' requests and never answers */
	guint16 hang_port;
	GPtrArray *hung; /* of GSocketConnection */
} Fixture;

typedef struct {
	gpointer done;
	GBytes *body;
	GError *error;
	guint status;
	JsonObject *envelope;
} Reply;

static void
reply_clear(Reply *reply)
{
	g_clear_pointer(&reply->body, g_bytes_unref);
	g_clear_error(&reply->error);
	g_clear_pointer(&reply->envelope, json_object_unref);
	reply->done = NULL;
	reply->status = 0;
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Reply, reply_clear)

static guint16
closed_port_new(void)
{
	g_autoptr(GSocket) socket = NULL;
	g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) address = g_inet_socket_address_new(loopback, 0);
	g_autoptr(GSocketAddress) bound = NULL;
	g_autoptr(GError) error = NULL;

	socket = g_socket_new(G_SOCKET_FAMILY_IPV4,
			      G_SOCKET_TYPE_STREAM,
			      G_SOCKET_PROTOCOL_TCP,
			      &error);
	g_assert_no_error(error);
	g_assert_true(g_socket_bind(socket, address, FALSE, &error));
	bound = g_socket_get_local_address(socket, &error);
	g_assert_no_error(error);
	return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
}

static gboolean
hang_incoming_cb(GSocketService *service,
		 GSocketConnection *connection,
		 GObject *source,
		 gpointer user_data)
{
	Fixture *fx = user_data;

	g_ptr_array_add(fx->hung, g_object_ref(connection));
	return TRUE;
}

static void
fixture_setup(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *db = NULL;
	g_autofree gchar *mb_dir =
		g_test_build_filename(G_TEST_DIST, "..", "data", "mb-policies", NULL);
	const gchar *mb_dirs[] = {mb_dir, NULL};
	KlVerifierOptions options;
	KlVerifierRestOptions rest_options;

	fx->dir = kl_test_dir_new();
	fx->ca = kl_test_ca_new(fx->dir, "cv", &error);
	g_assert_no_error(error);
	fx->other_ca = kl_test_ca_new(fx->dir, "other", &error);
	g_assert_no_error(error);

	db = kl_test_dir_build(fx->dir, "cv_data.sqlite", NULL);
	fx->store = kl_verifier_store_open(db, &error);
	g_assert_no_error(error);
	kl_verifier_options_init(&options);
	options.verifier_id = "default";
	options.verifier_ip = "127.0.0.1";
	options.verifier_port = 8881;
	options.quote_interval = 2;
	options.retry_interval = 60;
	options.max_retries = 3;
	options.exponential_backoff = FALSE;
	options.request_timeout = 60;
	options.enable_agent_mtls = FALSE;
	options.n_workers = 1;
	options.mb_default_policy_name = "accept-all";
	options.max_upload_size = 1024 * 1024;
	fx->verifier = kl_verifier_new(&options, fx->store, &error);
	g_assert_no_error(error);
	g_assert_true(kl_verifier_start(fx->verifier, &error));
	g_assert_no_error(error);

	kl_verifier_rest_options_init(&rest_options);
	rest_options.server.ip = "127.0.0.1";
	rest_options.server.server_cert = kl_test_ca_get_server_cert_path(fx->ca);
	rest_options.server.server_key = kl_test_ca_get_server_key_path(fx->ca);
	rest_options.server.trusted_client_ca = kl_test_ca_get_ca_cert_path(fx->ca);
	/* handshakes under sanitizers on a loaded machine can take seconds */
	rest_options.server.headers_timeout_ms = 120000;
	rest_options.max_upload_size = 1024 * 1024;
	rest_options.mb_policy_name = "accept-all";
	rest_options.mb_policy_dirs = mb_dirs;
	fx->rest = kl_verifier_rest_new(fx->verifier, fx->store, &rest_options, &error);
	g_assert_no_error(error);
	g_assert_true(kl_verifier_rest_listen(fx->rest, &error));
	g_assert_no_error(error);
	fx->port = kl_verifier_rest_get_port(fx->rest);

	fx->session = kl_http_client_session_new(kl_test_ca_get_ca_cert_path(fx->ca), &error);
	g_assert_no_error(error);

	fx->closed_port = closed_port_new();
	fx->hung = g_ptr_array_new_with_free_func(g_object_unref);
	fx->hang = g_socket_service_new();
	fx->hang_port =
		g_socket_listener_add_any_inet_port(G_SOCKET_LISTENER(fx->hang), NULL, &error);
	g_assert_no_error(error);
	g_signal_connect(fx->hang, "incoming", G_CALLBACK(hang_incoming_cb), fx);
	g_socket_service_start(fx->hang);
}

static gboolean
pointer_cleared_cb(gpointer user_data)
{
	gpointer *location = user_data;
	return *location == NULL;
}

static void
fixture_teardown(Fixture *fx, gconstpointer data)
{
	KlHttpServer *server = kl_verifier_rest_get_server(fx->rest);

	/* connections still closing hold the server until the loop runs */
	g_object_add_weak_pointer(G_OBJECT(server), (gpointer *)&server);
	g_socket_service_stop(fx->hang);
	g_socket_listener_close(G_SOCKET_LISTENER(fx->hang));
	g_object_unref(fx->hang);
	g_ptr_array_unref(fx->hung);
	g_object_unref(fx->session);
	kl_verifier_rest_stop(fx->rest);
	g_object_unref(fx->rest);
	g_object_unref(fx->verifier);
	g_assert_true(kl_test_wait_for(pointer_cleared_cb, &server, TIMEOUT_MS));
	kl_test_ca_free(fx->other_ca);
	kl_test_ca_free(fx->ca);
	kl_test_dir_free(fx->dir);
}

static void
send_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	Reply *reply = user_data;

	reply->body =
		soup_session_send_and_read_finish(SOUP_SESSION(source), result, &reply->error);
	reply->done = GINT_TO_POINTER(1);
}

/* @path below https://127.0.0.1:port, e.g. "/v2.6/agents/a" */
static void
request(Fixture *fx,
	const gchar *method,
	const gchar *path,
	const gchar *body,
	ClientMode mode,
	Reply *reply)
{
	g_autofree gchar *url = g_strdup_printf("%s://127.0.0.1:%u%s",
						mode == CLIENT_PLAIN_HTTP ? "http" : "https",
						fx->port,
						path);
	g_autoptr(SoupMessage) msg = soup_message_new(method, url);
	g_autoptr(GError) error = NULL;
	g_autoptr(SoupSession) session = NULL;
	KlTestCa *ca = mode == CLIENT_OTHER_CA ? fx->other_ca : fx->ca;

	g_assert_nonnull(msg);
	reply_clear(reply);
	if (mode == CLIENT_CERT || mode == CLIENT_OTHER_CA) {
		g_assert_true(
			kl_http_message_set_client_certificate(msg,
							       kl_test_ca_get_client_cert_path(ca),
							       kl_test_ca_get_client_key_path(ca),
							       &error));
		g_assert_no_error(error);
	}
	if (body != NULL) {
		g_autoptr(GBytes) bytes = g_bytes_new(body, strlen(body));
		soup_message_set_request_body_from_bytes(msg, "application/json", bytes);
	}
	/* a fresh session for refused clients: no connection is reused */
	session = mode == CLIENT_CERT
			  ? g_object_ref(fx->session)
			  : kl_http_client_session_new(kl_test_ca_get_ca_cert_path(fx->ca), &error);
	g_assert_no_error(error);
	soup_session_send_and_read_async(session, msg, G_PRIORITY_DEFAULT, NULL, send_cb, reply);
	g_assert_true(kl_test_wait_for_pointer(&reply->done, TIMEOUT_MS));
	reply->status = soup_message_get_status(msg);
	if (reply->body != NULL && g_bytes_get_size(reply->body) > 0)
		reply->envelope = kl_json_parse_object(g_bytes_get_data(reply->body, NULL),
						       g_bytes_get_size(reply->body),
						       G_MAXSIZE,
						       64,
						       NULL);
}

/* The envelope of a reply with @status: {"code", "status", "results"}; its results. */
static JsonObject *
expect(Reply *reply, guint status)
{
	if (reply->error != NULL)
		g_test_message("error: %s", reply->error->message);
	if (reply->body != NULL)
		g_test_message("%u %.*s",
			       reply->status,
			       (int)MIN(g_bytes_get_size(reply->body), 2000),
			       (const gchar *)g_bytes_get_data(reply->body, NULL));
	g_assert_no_error(reply->error);
	g_assert_cmpuint(reply->status, ==, status);
	if (status == 204) {
		g_assert_cmpuint(g_bytes_get_size(reply->body), ==, 0);
		return NULL;
	}
	g_assert_nonnull(reply->envelope);
	g_assert_cmpuint(json_object_get_size(reply->envelope), ==, 3);
	g_assert_cmpint(json_object_get_int_member(reply->envelope, "code"), ==, status);
	g_assert_nonnull(json_object_get_string_member(reply->envelope, "status"));
	return json_object_get_object_member(reply->envelope, "results");
}

static void
expect_body(Reply *reply, guint status, const gchar *golden)
{
	g_autofree gchar *text = NULL;
	JsonObject *results = expect(reply, status);
	g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), results);

	text = kl_json_node_to_string(node, FALSE);
	g_assert_cmpstr(text, ==, golden);
}

/* An error reply whose status text mentions @part */
static void
expect_error(Reply *reply, guint status, const gchar *part)
{
	const gchar *text;
	JsonObject *results = expect(reply, status);

	g_assert_cmpuint(json_object_get_size(results), ==, 0);
	text = json_object_get_string_member(reply->envelope, "status");
	if (part != NULL && strstr(text, part) == NULL)
		g_error("\"%s\" does not mention \"%s\"", text, part);
}

/* --- bodies --- */

static JsonObject *
enrolment_new(guint16 agent_port)
{
	JsonObject *body = json_object_new();
	JsonArray *hash = json_array_new();
	JsonArray *enc = json_array_new();
	JsonArray *sign = json_array_new();

	json_array_add_string_element(hash, "sha512");
	json_array_add_string_element(hash, "sha384");
	json_array_add_string_element(hash, "sha256");
	json_array_add_string_element(enc, "ecc");
	json_array_add_string_element(enc, "rsa");
	json_array_add_string_element(sign, "ecschnorr");
	json_array_add_string_element(sign, "rsassa");
	json_object_set_null_member(body, "v");
	json_object_set_string_member(body, "cloudagent_ip", "127.0.0.1");
	json_object_set_int_member(body, "cloudagent_port", agent_port);
	json_object_set_string_member(body, "verifier_ip", "127.0.0.1");
	json_object_set_int_member(body, "verifier_port", 8881);
	json_object_set_string_member(body, "tpm_policy", "{\"mask\": \"0x0\"}");
	json_object_set_string_member(body, "runtime_policy", "");
	json_object_set_string_member(body, "runtime_policy_name", "");
	json_object_set_string_member(body, "runtime_policy_key", "");
	json_object_set_null_member(body, "mb_policy");
	json_object_set_string_member(body, "mb_policy_name", "");
	json_object_set_string_member(body, "ima_sign_verification_keys", "");
	json_object_set_string_member(body, "metadata", "{\"cert_serial\": 4}");
	json_object_set_string_member(body, "revocation_key", "");
	json_object_set_array_member(body, "accept_tpm_hash_algs", hash);
	json_object_set_array_member(body, "accept_tpm_encryption_algs", enc);
	json_object_set_array_member(body, "accept_tpm_signing_algs", sign);
	json_object_set_string_member(body, "ak_tpm", ak_b64);
	json_object_set_string_member(body, "supported_version", "2.1");
	return body;
}

static gchar *
object_text(JsonObject *object)
{
	g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), object);
	return kl_json_node_to_string(node, FALSE);
}

static void
enrol(Fixture *fx, const gchar *agent_id, JsonObject *body, guint status)
{
	g_auto(Reply) reply = {0};
	g_autofree gchar *path = g_strdup_printf("/v2.6/agents/%s", agent_id);
	g_autofree gchar *text = object_text(body);

	request(fx, "POST", path, text, CLIENT_CERT, &reply);
	if (status == 200)
		expect_body(&reply, 200, "{}");
	else
		expect_error(&reply, status, NULL);
}

static void
enrol_idle(Fixture *fx, const gchar *agent_id)
{
	g_autoptr(JsonObject) body = enrolment_new(fx->closed_port);
	enrol(fx, agent_id, body, 200);
}

static JsonObject *
get_status(Fixture *fx, const gchar *agent_id, Reply *reply)
{
	g_autofree gchar *path = g_strdup_printf("/v2.6/agents/%s", agent_id);

	request(fx, "GET", path, NULL, CLIENT_CERT, reply);
	return expect(reply, 200);
}

static gint64
get_state(Fixture *fx, const gchar *agent_id)
{
	g_auto(Reply) reply = {0};
	JsonObject *status = get_status(fx, agent_id, &reply);

	return json_object_get_int_member(status, "operational_state");
}

static void
put_simple(Fixture *fx, const gchar *method, const gchar *path, guint status)
{
	g_auto(Reply) reply = {0};

	request(fx, method, path, NULL, CLIENT_CERT, &reply);
	if (status == 200)
		expect_body(&reply, 200, "{}");
	else if (status == 204)
		expect(&reply, 204);
	else
		expect_error(&reply, status, NULL);
}

static gchar *
runtime_policy_b64(const gchar *path)
{
	g_autoptr(KlRuntimePolicyBuilder) builder = kl_runtime_policy_builder_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *json = NULL;

	g_assert_true(kl_runtime_policy_builder_add_digest(
		builder,
		KL_RUNTIME_POLICY_MAP_DIGESTS,
		path,
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		&error));
	g_assert_no_error(error);
	json = kl_runtime_policy_builder_to_json(builder);
	return g_base64_encode((const guchar *)json, strlen(json));
}

/* --- tests --- */

static void
test_version(Fixture *fx, gconstpointer data)
{
	g_auto(Reply) reply = {0};
	const gchar *unsupported[] = {"/v9.9/agents/",
				      "/v1.0/agents/",
				      "/v2.7/agents/",
				      "/v3.0/agents/"};

	request(fx, "GET", "/version", NULL, CLIENT_CERT, &reply);
	expect_body(&reply,
		    200,
		    "{\"current_version\":\"2.6\",\"supported_versions\":[\"2.0\",\"2.1\",\"2.2\","
		    "\"2.3\",\"2.4\",\"2.5\",\"2.6\"]}");
	for (guint i = 0; i < G_N_ELEMENTS(unsupported); i++) {
		request(fx, "GET", unsupported[i], NULL, CLIENT_CERT, &reply);
		expect_error(&reply, 400, "API Version not supported");
	}
	/* every supported version and the bare major */
	request(fx, "GET", "/v2.0/agents/", NULL, CLIENT_CERT, &reply);
	expect_body(&reply, 200, "{\"uuids\":[]}");
	request(fx, "GET", "/v2/agents/", NULL, CLIENT_CERT, &reply);
	expect_body(&reply, 200, "{\"uuids\":[]}");
}

static void
test_enrol(Fixture *fx, gconstpointer data)
{
	g_autoptr(JsonObject) body = enrolment_new(fx->closed_port);
	g_auto(Reply) reply = {0};
	const gchar *required[] = {
		"tpm_policy",
		"runtime_policy",
		"mb_policy",
		"mb_policy_name",
		"ima_sign_verification_keys",
		"metadata",
		"revocation_key",
		"accept_tpm_hash_algs",
		"accept_tpm_encryption_algs",
		"accept_tpm_signing_algs",
		"ak_tpm",
	};

	enrol(fx, "agent-1", body, 200);
	/* duplicate */
	enrol(fx, "agent-1", body, 409);
	/* empty body, not JSON, not an object */
	request(fx, "POST", "/v2.6/agents/agent-2", NULL, CLIENT_CERT, &reply);
	expect_error(&reply, 400, NULL);
	request(fx, "POST", "/v2.6/agents/agent-2", "{not json", CLIENT_CERT, &reply);
	expect_error(&reply, 400, NULL);
	request(fx, "POST", "/v2.6/agents/agent-2", "[1]", CLIENT_CERT, &reply);
	expect_error(&reply, 400, NULL);
	/* an invalid agent id */
	request(fx, "POST", "/v2.6/agents/bad%20id", "{}", CLIENT_CERT, &reply);
	expect_error(&reply, 400, NULL);
	/* each required key */
	for (guint i = 0; i < G_N_ELEMENTS(required); i++) {
		g_autoptr(JsonObject) partial = enrolment_new(fx->closed_port);
		g_autofree gchar *text = NULL;

		json_object_remove_member(partial, required[i]);
		text = object_text(partial);
		request(fx, "POST", "/v2.6/agents/agent-2", text, CLIENT_CERT, &reply);
		expect_error(&reply, 400, required[i]);
	}
	/* none of them enrolled agent-2 */
	request(fx, "GET", "/v2.6/agents/agent-2", NULL, CLIENT_CERT, &reply);
	expect_error(&reply, 404, NULL);
	/* a body above max_upload_size */
	{
		g_autofree gchar *big = g_strnfill(2 * 1024 * 1024, ' ');
		big[0] = '{';
		big[2 * 1024 * 1024 - 1] = '}';
		request(fx, "POST", "/v2.6/agents/agent-3", big, CLIENT_CERT, &reply);
		g_assert_no_error(reply.error);
		g_assert_cmpuint(reply.status, ==, 413);
	}
}

static const gchar *status_keys[] = {
	"operational_state",
	"v",
	"ip",
	"port",
	"tpm_policy",
	"meta_data",
	"has_mb_refstate",
	"has_runtime_policy",
	"accept_tpm_hash_algs",
	"accept_tpm_encryption_algs",
	"accept_tpm_signing_algs",
	"hash_alg",
	"enc_alg",
	"sign_alg",
	"verifier_id",
	"verifier_ip",
	"verifier_port",
	"severity_level",
	"last_event_id",
	"attestation_count",
	"last_received_quote",
	"last_successful_attestation",
	"attestation_status",
	"attestation_period",
	"maximum_attestation_interval",
};

static void
assert_status_shape(JsonObject *status)
{
	g_autoptr(GList) members = json_object_get_members(status);
	guint i = 0;

	for (GList *l = members; l != NULL; l = l->next, i++) {
		g_assert_cmpuint(i, <, G_N_ELEMENTS(status_keys));
		g_assert_cmpstr(l->data, ==, status_keys[i]);
	}
	g_assert_cmpuint(i, ==, G_N_ELEMENTS(status_keys));
}

static void
test_status(Fixture *fx, gconstpointer data)
{
	g_auto(Reply) reply = {0};
	g_autofree gchar *hash = NULL;
	JsonObject *status;
	gint64 state;

	enrol_idle(fx, "agent-s");
	status = get_status(fx, "agent-s", &reply);
	assert_status_shape(status);
	state = json_object_get_int_member(status, "operational_state");
	g_assert_true(state == KL_VERIFIER_STATE_START || state == KL_VERIFIER_STATE_GET_QUOTE ||
		      state == KL_VERIFIER_STATE_GET_QUOTE_RETRY);
	g_assert_true(json_object_get_null_member(status, "v"));
	g_assert_cmpstr(json_object_get_string_member(status, "ip"), ==, "127.0.0.1");
	g_assert_cmpint(json_object_get_int_member(status, "port"), ==, fx->closed_port);
	g_assert_cmpstr(json_object_get_string_member(status, "tpm_policy"),
			==,
			"{\"mask\": \"0x0\"}");
	g_assert_cmpstr(json_object_get_string_member(status, "meta_data"),
			==,
			"{\"cert_serial\": 4}");
	g_assert_cmpint(json_object_get_int_member(status, "has_mb_refstate"), ==, 0);
	g_assert_cmpint(json_object_get_int_member(status, "has_runtime_policy"), ==, 0);
	{
		g_autoptr(JsonNode) node = json_node_init_array(
			json_node_alloc(),
			json_object_get_array_member(status, "accept_tpm_hash_algs"));
		hash = kl_json_node_to_string(node, FALSE);
	}
	g_assert_cmpstr(hash, ==, "[\"sha512\",\"sha384\",\"sha256\"]");
	g_assert_cmpstr(json_object_get_string_member(status, "verifier_id"), ==, "default");
	g_assert_true(json_object_get_null_member(status, "severity_level"));
	g_assert_true(json_object_get_null_member(status, "last_event_id"));
	g_assert_cmpint(json_object_get_int_member(status, "attestation_count"), ==, 0);
	/* upstream: PENDING in START, PASS once in the quote loop */
	g_assert_cmpstr(json_object_get_string_member(status, "attestation_status"),
			==,
			state == KL_VERIFIER_STATE_START ? "PENDING" : "PASS");
	g_assert_cmpstr(json_object_get_string_member(status, "attestation_period"), ==, "2.0s");
	g_assert_cmpstr(json_object_get_string_member(status, "maximum_attestation_interval"),
			==,
			"10.0s");

	request(fx, "GET", "/v2.6/agents/nobody", NULL, CLIENT_CERT, &reply);
	expect_error(&reply, 404, NULL);
}

static void
test_list(Fixture *fx, gconstpointer data)
{
	g_autoptr(KlVerifierAgent) foreign = kl_verifier_agent_new("agent-x");
	g_autoptr(GError) error = NULL;
	g_auto(Reply) reply = {0};
	JsonObject *results;

	enrol_idle(fx, "agent-b");
	enrol_idle(fx, "agent-a");
	/* a row of another verifier in the same database */
	foreign->verifier_id = g_strdup("other");
	foreign->operational_state = KL_VERIFIER_STATE_GET_QUOTE;
	foreign->ip = g_strdup("127.0.0.1");
	foreign->port = 9002;
	g_assert_true(kl_verifier_store_put_agent(fx->store, foreign, &error));
	g_assert_no_error(error);

	request(fx, "GET", "/v2.6/agents/?verifier=default", NULL, CLIENT_CERT, &reply);
	expect_body(&reply, 200, "{\"uuids\":[[\"agent-a\"],[\"agent-b\"]]}");
	request(fx, "GET", "/v2.6/agents/?verifier=other", NULL, CLIENT_CERT, &reply);
	expect_body(&reply, 200, "{\"uuids\":[[\"agent-x\"]]}");
	request(fx, "GET", "/v2.6/agents/?verifier=nobody", NULL, CLIENT_CERT, &reply);
	expect_body(&reply, 200, "{\"uuids\":[]}");
	request(fx, "GET", "/v2.6/agents/", NULL, CLIENT_CERT, &reply);
	expect_body(&reply, 200, "{\"uuids\":[[\"agent-a\"],[\"agent-b\"],[\"agent-x\"]]}");

	request(fx, "GET", "/v2.6/agents/?bulk=True&verifier=default", NULL, CLIENT_CERT, &reply);
	results = expect(&reply, 200);
	g_assert_cmpuint(json_object_get_size(results), ==, 2);
	assert_status_shape(json_object_get_object_member(results, "agent-a"));
	assert_status_shape(json_object_get_object_member(results, "agent-b"));
	g_assert_cmpstr(
		json_object_get_string_member(json_object_get_object_member(results, "agent-b"),
					      "verifier_id"),
		==,
		"default");

	request(fx, "GET", "/v2.6/agents/?bulk=true&verifier=other", NULL, CLIENT_CERT, &reply);
	results = expect(&reply, 200);
	g_assert_cmpuint(json_object_get_size(results), ==, 1);
	assert_status_shape(json_object_get_object_member(results, "agent-x"));
	g_assert_cmpint(
		json_object_get_int_member(json_object_get_object_member(results, "agent-x"),
					   "port"),
		==,
		9002);

	/* GET of another verifier's agent reads its row, as upstream */
	results = get_status(fx, "agent-x", &reply);
	g_assert_cmpstr(json_object_get_string_member(results, "verifier_id"), ==, "other");
}

static void
test_stop_reactivate(Fixture *fx, gconstpointer data)
{
	g_auto(Reply) reply = {0};
	JsonObject *status;
	gint64 state;

	enrol_idle(fx, "agent-r");
	put_simple(fx, "PUT", "/v2.6/agents/agent-r/stop", 200);
	status = get_status(fx, "agent-r", &reply);
	g_assert_cmpint(json_object_get_int_member(status, "operational_state"),
			==,
			KL_VERIFIER_STATE_TENANT_FAILED);
	g_assert_cmpstr(json_object_get_string_member(status, "attestation_status"), ==, "FAIL");

	put_simple(fx, "PUT", "/v2.6/agents/agent-r/reactivate", 200);
	state = get_state(fx, "agent-r");
	g_assert_true(state == KL_VERIFIER_STATE_START || state == KL_VERIFIER_STATE_GET_QUOTE ||
		      state == KL_VERIFIER_STATE_GET_QUOTE_RETRY);

	put_simple(fx, "PUT", "/v2.6/agents/nobody/stop", 404);
	put_simple(fx, "PUT", "/v2.6/agents/nobody/reactivate", 404);
}

static gboolean
hung_cb(gpointer user_data)
{
	Fixture *fx = user_data;
	return fx->hung->len > 0;
}

static void
test_delete(Fixture *fx, gconstpointer data)
{
	g_autoptr(JsonObject) hanging = enrolment_new(0);
	g_auto(Reply) reply = {0};
	gint64 state;

	/* idle (stopped): removed at once */
	enrol_idle(fx, "agent-d");
	put_simple(fx, "PUT", "/v2.6/agents/agent-d/stop", 200);
	put_simple(fx, "DELETE", "/v2.6/agents/agent-d", 200);
	request(fx, "GET", "/v2.6/agents/agent-d", NULL, CLIENT_CERT, &reply);
	expect_error(&reply, 404, NULL);
	put_simple(fx, "DELETE", "/v2.6/agents/agent-d", 404);

	/* a quote request on the wire: TERMINATED, the loop removes it */
	json_object_set_int_member(hanging, "cloudagent_port", fx->hang_port);
	enrol(fx, "agent-h", hanging, 200);
	g_assert_true(kl_test_wait_for(hung_cb, fx, TIMEOUT_MS));
	request(fx, "DELETE", "/v2.6/agents/agent-h", NULL, CLIENT_CERT, &reply);
	expect_body(&reply, 202, "{}");
	g_assert_cmpstr(json_object_get_string_member(reply.envelope, "status"), ==, "Accepted");
	request(fx, "GET", "/v2.6/agents/agent-h", NULL, CLIENT_CERT, &reply);
	if (reply.status == 200) {
		state = json_object_get_int_member(
			json_object_get_object_member(reply.envelope, "results"),
			"operational_state");
		g_assert_cmpint(state, ==, KL_VERIFIER_STATE_TERMINATED);
	} else {
		expect_error(&reply, 404, NULL);
	}
}

static void
test_runtime_policies(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *policy = runtime_policy_b64("/bin/true");
	g_autofree gchar *policy2 = runtime_policy_b64("/bin/false");
	g_autofree gchar *body = g_strdup_printf("{\"runtime_policy\": \"%s\"}", policy);
	g_autofree gchar *body2 = g_strdup_printf("{\"runtime_policy\": \"%s\"}", policy2);
	g_autofree gchar *text = NULL;
	g_autoptr(JsonObject) enrolment = NULL;
	g_auto(Reply) reply = {0};
	JsonObject *results;
	gsize len = 0;

	request(fx, "GET", "/v2.6/allowlists/", NULL, CLIENT_CERT, &reply);
	expect_body(&reply, 200, "{\"runtimepolicy names\":[]}");
	request(fx, "POST", "/v2.6/allowlists/p1", body, CLIENT_CERT, &reply);
	expect_body(&reply, 201, "{}");
	request(fx, "POST", "/v2.6/allowlists/p1", body, CLIENT_CERT, &reply);
	expect_error(&reply, 409, NULL);
	request(fx, "POST", "/v2.6/allowlists/p2", "{}", CLIENT_CERT, &reply);
	expect_error(&reply, 400, "runtime_policy");
	request(fx,
		"POST",
		"/v2.6/allowlists/p2",
		"{\"runtime_policy\": \"!!\"}",
		CLIENT_CERT,
		&reply);
	expect_error(&reply, 400, NULL);
	request(fx, "GET", "/v2.6/allowlists/", NULL, CLIENT_CERT, &reply);
	expect_body(&reply, 200, "{\"runtimepolicy names\":[\"p1\"]}");
	/* a runtime policy named like the other collection stays a runtime policy */
	request(fx, "POST", "/v2/allowlists/mbpolicies", body, CLIENT_CERT, &reply);
	expect_body(&reply, 201, "{}");
	request(fx, "GET", "/v2/mbpolicies/", NULL, CLIENT_CERT, &reply);
	expect_body(&reply, 200, "{\"mbpolicy names\":[]}");
	put_simple(fx, "DELETE", "/v2/allowlists/mbpolicies", 204);

	request(fx, "GET", "/v2.6/allowlists/p1", NULL, CLIENT_CERT, &reply);
	results = expect(&reply, 200);
	g_assert_cmpuint(json_object_get_size(results), ==, 3);
	g_assert_cmpstr(json_object_get_string_member(results, "name"), ==, "p1");
	g_assert_true(json_object_get_null_member(results, "tmp_policy"));
	text = (gchar *)g_base64_decode(policy, &len);
	g_assert_cmpstr(json_object_get_string_member(results, "runtime_policy"), ==, text);

	request(fx, "PUT", "/v2.6/allowlists/p1", body2, CLIENT_CERT, &reply);
	expect_body(&reply, 201, "{}");
	request(fx, "PUT", "/v2.6/allowlists/nothing", body2, CLIENT_CERT, &reply);
	expect_error(&reply, 404, NULL);
	request(fx, "GET", "/v2.6/allowlists/nothing", NULL, CLIENT_CERT, &reply);
	expect_error(&reply, 404, NULL);

	/* named policy rules at enrolment */
	enrolment = enrolment_new(fx->closed_port);
	json_object_set_string_member(enrolment, "runtime_policy_name", "p1");
	enrol(fx, "agent-p", enrolment, 200); /* loads p1 */
	request(fx, "GET", "/v2.6/agents/agent-p", NULL, CLIENT_CERT, &reply);
	results = expect(&reply, 200);
	g_assert_cmpint(json_object_get_int_member(results, "has_runtime_policy"), ==, 1);
	json_object_set_string_member(enrolment, "runtime_policy", policy);
	enrol(fx, "agent-q", enrolment, 409); /* p1 exists */
	json_object_set_string_member(enrolment, "runtime_policy", "");
	json_object_set_string_member(enrolment, "runtime_policy_name", "absent");
	enrol(fx, "agent-q", enrolment, 404); /* no such policy */
	json_object_set_string_member(enrolment, "runtime_policy", policy2);
	json_object_set_string_member(enrolment, "runtime_policy_name", "p3");
	enrol(fx, "agent-q", enrolment, 200); /* stored under p3 */
	enrol_idle(fx, "agent-e");	      /* neither: stored under the agent id */
	request(fx, "GET", "/v2.6/allowlists/", NULL, CLIENT_CERT, &reply);
	expect_body(&reply, 200, "{\"runtimepolicy names\":[\"agent-e\",\"p1\",\"p3\"]}");

	/* in use */
	put_simple(fx, "DELETE", "/v2.6/allowlists/p1", 409);
	put_simple(fx, "PUT", "/v2.6/agents/agent-p/stop", 200);
	put_simple(fx, "DELETE", "/v2.6/agents/agent-p", 200);
	put_simple(fx, "DELETE", "/v2.6/allowlists/p1", 204);
	put_simple(fx, "DELETE", "/v2.6/allowlists/p1", 404);
}

static void
test_mb_policies(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *refstate =
		kl_test_load_data(NULL, "fuzz", "mb-refstate", "refstate-no-secureboot.json", NULL);
	g_autoptr(JsonObject) body = json_object_new();
	g_autoptr(JsonObject) enrolment = enrolment_new(0);
	g_autofree gchar *text = NULL;
	g_auto(Reply) reply = {0};
	JsonObject *results;

	json_object_set_string_member(body, "mb_policy", refstate);
	text = object_text(body);
	request(fx, "GET", "/v2.6/mbpolicies", NULL, CLIENT_CERT, &reply);
	expect_body(&reply, 200, "{\"mbpolicy names\":[]}");
	request(fx, "POST", "/v2.6/mbpolicies/m1", text, CLIENT_CERT, &reply);
	expect_body(&reply, 201, "{}");
	request(fx, "POST", "/v2.6/mbpolicies/m1", text, CLIENT_CERT, &reply);
	expect_error(&reply, 409, NULL);
	request(fx, "POST", "/v2.6/mbpolicies/m2", "{}", CLIENT_CERT, &reply);
	expect_error(&reply, 400, "mb_policy");
	request(fx, "GET", "/v2.6/mbpolicies", NULL, CLIENT_CERT, &reply);
	expect_body(&reply, 200, "{\"mbpolicy names\":[\"m1\"]}");
	request(fx, "GET", "/v2.6/mbpolicies/m1", NULL, CLIENT_CERT, &reply);
	results = expect(&reply, 200);
	g_assert_cmpuint(json_object_get_size(results), ==, 2);
	g_assert_cmpstr(json_object_get_string_member(results, "name"), ==, "m1");
	g_assert_nonnull(json_object_get_string_member(results, "mb_policy"));
	request(fx, "PUT", "/v2.6/mbpolicies/m1", text, CLIENT_CERT, &reply);
	expect_body(&reply, 201, "{}");
	request(fx, "PUT", "/v2.6/mbpolicies/none", text, CLIENT_CERT, &reply);
	expect_error(&reply, 404, NULL);
	request(fx, "GET", "/v2.6/mbpolicies/none", NULL, CLIENT_CERT, &reply);
	expect_error(&reply, 404, NULL);

	json_object_set_int_member(enrolment, "cloudagent_port", fx->closed_port);
	json_object_set_string_member(enrolment, "mb_policy_name", "m1");
	enrol(fx, "agent-m", enrolment, 200);
	results = get_status(fx, "agent-m", &reply);
	g_assert_cmpint(json_object_get_int_member(results, "has_mb_refstate"), ==, 1);
	put_simple(fx, "DELETE", "/v2.6/mbpolicies/m1", 409);
	put_simple(fx, "PUT", "/v2.6/agents/agent-m/stop", 200);
	put_simple(fx, "DELETE", "/v2.6/agents/agent-m", 200);
	put_simple(fx, "DELETE", "/v2.6/mbpolicies/m1", 204);
	put_simple(fx, "DELETE", "/v2.6/mbpolicies/m1", 404);
}

static gchar *
identity_path(const gchar *agent_id, const gchar *quote, const gchar *nonce)
{
	g_autofree gchar *q = g_uri_escape_string(quote, NULL, FALSE);

	return g_strdup_printf(
		"/v2.6/verify/identity?agent_uuid=%s&quote=%s&nonce=%s&hash_alg=sha256",
		agent_id,
		q,
		nonce);
}

static void
test_verify_identity(Fixture *fx, gconstpointer data)
{
	g_autoptr(KlVerifierAgent) agent = kl_verifier_agent_new("agent-i");
	g_autoptr(GError) error = NULL;
	g_autofree gchar *quote = NULL;
	g_autofree gchar *tampered = NULL;
	g_autofree gchar *path = NULL;
	g_auto(Reply) reply = {0};
	JsonObject *results;

	/* a row with an NK: what a verifier stores after the first good quote */
	agent->verifier_id = g_strdup("other");
	agent->operational_state = KL_VERIFIER_STATE_TENANT_FAILED;
	agent->ip = g_strdup("127.0.0.1");
	agent->port = fx->closed_port;
	agent->ak_tpm = g_strdup(ak_b64);
	agent->public_key = g_strdup(nk_pem);
	g_assert_true(kl_verifier_store_put_agent(fx->store, agent, &error));
	g_assert_no_error(error);

	quote = kl_tpm_quote(soft_tpm, NONCE, 1u << 16, TPM2_ALG_SHA256, nk_pem, &error);
	g_assert_no_error(error);
	path = identity_path("agent-i", quote, NONCE);
	request(fx, "GET", path, NULL, CLIENT_CERT, &reply);
	expect_body(&reply, 200, "{\"valid\":1}");

	tampered = g_strdup(quote);
	/* one character of the signature */
	{
		gchar *c = strchr(tampered, ':') + 10;
		*c = *c == 'A' ? 'B' : 'A';
	}
	g_clear_pointer(&path, g_free);
	path = identity_path("agent-i", tampered, NONCE);
	request(fx, "GET", path, NULL, CLIENT_CERT, &reply);
	results = expect(&reply, 200);
	g_assert_cmpint(json_object_get_int_member(results, "valid"), ==, 0);
	g_assert_cmpuint(strlen(json_object_get_string_member(results, "reason")), >, 0);

	g_clear_pointer(&path, g_free);
	path = identity_path("agent-i", quote, "another-nonce");
	request(fx, "GET", path, NULL, CLIENT_CERT, &reply);
	results = expect(&reply, 200);
	g_assert_cmpint(json_object_get_int_member(results, "valid"), ==, 0);

	request(fx,
		"GET",
		"/v2.6/verify/identity?agent_uuid=agent-i&quote=r&hash_alg=sha256",
		NULL,
		CLIENT_CERT,
		&reply);
	expect_error(&reply, 400, "nonce");
	request(fx,
		"GET",
		"/v2.6/verify/identity?quote=r&nonce=n&hash_alg=sha256",
		NULL,
		CLIENT_CERT,
		&reply);
	expect_error(&reply, 400, "agent_uuid");
	g_clear_pointer(&path, g_free);
	path = identity_path("nobody", quote, NONCE);
	request(fx, "GET", path, NULL, CLIENT_CERT, &reply);
	expect_error(&reply, 404, NULL);
}

static gchar *
evidence_body(const gchar *quote, const gchar *type, const gchar *pcr23)
{
	return g_strdup_printf(
		"{\"type\": \"%s\", \"data\": {\"quote\": \"%s\", \"nonce\": \"%s\", "
		"\"hash_alg\": \"sha256\", \"tpm_ak\": \"%s\", \"tpm_ek\": \"%s\", "
		"\"tpm_policy\": \"{\\\"23\\\": [\\\"%s\\\"], \\\"mask\\\": "
		"\\\"0x800000\\\"}\"}}",
		type,
		quote,
		NONCE,
		ak_b64,
		ak_b64,
		pcr23);
}

static void
test_verify_evidence(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *quote = NULL;
	g_autofree gchar *pass = NULL;
	g_autofree gchar *fail = NULL;
	g_autofree gchar *tee = NULL;
	g_auto(Reply) reply = {0};
	JsonObject *results;
	JsonArray *failures;

	quote = kl_tpm_quote(soft_tpm,
			     NONCE,
			     (1u << 23) | (1u << 16),
			     TPM2_ALG_SHA256,
			     nk_pem,
			     &error);
	g_assert_no_error(error);
	pass = evidence_body(quote,
			     "tpm",
			     "0000000000000000000000000000000000000000000000000000000000000000");
	fail = evidence_body(quote,
			     "tpm",
			     "1111111111111111111111111111111111111111111111111111111111111111");
	tee = evidence_body(quote, "tee", "00");

	request(fx, "POST", "/v2.6/verify/evidence", pass, CLIENT_CERT, &reply);
	expect_body(&reply, 200, "{\"valid\":true,\"claims\":{},\"failures\":[]}");

	request(fx, "POST", "/v2.6/verify/evidence", fail, CLIENT_CERT, &reply);
	results = expect(&reply, 200);
	g_assert_false(json_object_get_boolean_member(results, "valid"));
	failures = json_object_get_array_member(results, "failures");
	g_assert_cmpuint(json_array_get_length(failures), ==, 1);
	g_assert_cmpstr(
		json_object_get_string_member(json_array_get_object_element(failures, 0), "type"),
		==,
		"pcr_validation.invalid_pcr_23");

	request(fx, "POST", "/v2.6/verify/evidence", tee, CLIENT_CERT, &reply);
	expect_error(&reply, 400, "\"tee\" is not supported");

	request(fx,
		"POST",
		"/v2.6/verify/evidence",
		"{\"type\": \"tpm\", \"data\": {\"nonce\": \"n\"}}",
		CLIENT_CERT,
		&reply);
	results = expect(&reply, 400);
	g_assert_false(json_object_get_boolean_member(results, "valid"));
	g_assert_cmpstr(json_object_get_string_member(
				json_array_get_object_element(
					json_object_get_array_member(results, "failures"),
					0),
				"type"),
			==,
			"tpm.missing_param");
}

typedef struct {
	const gchar *method;
	const gchar *path;
	const gchar *body;
} Route;

static void
test_refused(Fixture *fx, gconstpointer data)
{
	g_autoptr(JsonObject) enrolment = enrolment_new(0);
	g_autofree gchar *enrol_text = object_text(enrolment);
	g_autofree gchar *policy = runtime_policy_b64("/bin/true");
	g_autofree gchar *policy_body = g_strdup_printf("{\"runtime_policy\": \"%s\"}", policy);
	g_auto(Reply) reply = {0};
	const Route routes[] = {
		{"GET", "/version", NULL},
		{"POST", "/v2.6/agents/refused", enrol_text},
		{"GET", "/v2.6/agents/agent-k", NULL},
		{"GET", "/v2.6/agents/", NULL},
		{"GET", "/v2.6/agents/?bulk=True", NULL},
		{"DELETE", "/v2.6/agents/agent-k", NULL},
		{"PUT", "/v2.6/agents/agent-k/stop", NULL},
		{"PUT", "/v2.6/agents/agent-k/reactivate", NULL},
		{"GET", "/v2.6/allowlists/", NULL},
		{"GET", "/v2.6/allowlists/agent-k", NULL},
		{"POST", "/v2.6/allowlists/refused", policy_body},
		{"PUT", "/v2.6/allowlists/agent-k", policy_body},
		{"DELETE", "/v2.6/allowlists/agent-k", NULL},
		{"GET", "/v2.6/mbpolicies/", NULL},
		{"GET", "/v2.6/mbpolicies/agent-k", NULL},
		{"POST", "/v2.6/mbpolicies/refused", "{\"mb_policy\": \"{}\"}"},
		{"PUT", "/v2.6/mbpolicies/agent-k", "{\"mb_policy\": \"{}\"}"},
		{"DELETE", "/v2.6/mbpolicies/agent-k", NULL},
		{"GET",
		 "/v2.6/verify/identity?agent_uuid=agent-k&quote=r&nonce=n&hash_alg=sha256",
		 NULL},
		{"POST", "/v2.6/verify/evidence", "{\"type\": \"tpm\", \"data\": {}}"},
	};
	const ClientMode modes[] = {CLIENT_NO_CERT, CLIENT_OTHER_CA, CLIENT_PLAIN_HTTP};

	enrol_idle(fx, "agent-k");
	put_simple(fx, "PUT", "/v2.6/agents/agent-k/stop", 200);
	for (guint m = 0; m < G_N_ELEMENTS(modes); m++) {
		for (guint i = 0; i < G_N_ELEMENTS(routes); i++) {
			request(fx,
				routes[i].method,
				routes[i].path,
				routes[i].body,
				modes[m],
				&reply);
			g_test_message("mode %u %s %s: %u %s",
				       m,
				       routes[i].method,
				       routes[i].path,
				       reply.status,
				       reply.error != NULL ? reply.error->message : "");
			/* refused in the handshake: no HTTP answer at all */
			g_assert_nonnull(reply.error);
			g_assert_null(reply.envelope);
		}
	}
	/* nothing changed */
	g_assert_cmpint(get_state(fx, "agent-k"), ==, KL_VERIFIER_STATE_TENANT_FAILED);
	request(fx, "GET", "/v2.6/agents/refused", NULL, CLIENT_CERT, &reply);
	expect_error(&reply, 404, NULL);
	request(fx, "GET", "/v2.6/allowlists/", NULL, CLIENT_CERT, &reply);
	expect_body(&reply, 200, "{\"runtimepolicy names\":[\"agent-k\"]}");
	request(fx, "GET", "/v2.6/mbpolicies/refused", NULL, CLIENT_CERT, &reply);
	expect_error(&reply, 404, NULL);
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	KlTpmOptions options;
	GBytes *ak;
	int status;

	g_test_init(&argc, &argv, NULL);

	kl_tpm_options_init(&options);
	options.enc_alg = TPM2_ALG_RSA;
	options.sign_alg = TPM2_ALG_RSASSA;
	options.hash_alg = TPM2_ALG_SHA256;
	soft_tpm = kl_tpm_soft_new(&options, &error);
	g_assert_no_error(error);
	ak = kl_tpm_get_ak_public(soft_tpm);
	ak_b64 = g_base64_encode(g_bytes_get_data(ak, NULL), g_bytes_get_size(ak));
	nk_pem = kl_test_load_data(NULL, "ima", "ima-key-rsa.pub.pem", NULL);

#define ADD(path, func) g_test_add(path, Fixture, NULL, fixture_setup, func, fixture_teardown)
	ADD("/verifier-rest/version", test_version);
	ADD("/verifier-rest/enrol", test_enrol);
	ADD("/verifier-rest/status", test_status);
	ADD("/verifier-rest/list", test_list);
	ADD("/verifier-rest/stop-reactivate", test_stop_reactivate);
	ADD("/verifier-rest/delete", test_delete);
	ADD("/verifier-rest/allowlists", test_runtime_policies);
	ADD("/verifier-rest/mbpolicies", test_mb_policies);
	ADD("/verifier-rest/verify-identity", test_verify_identity);
	ADD("/verifier-rest/verify-evidence", test_verify_evidence);
	ADD("/verifier-rest/refused", test_refused);
#undef ADD
	status = g_test_run();
	g_object_unref(soft_tpm);
	g_free(ak_b64);
	g_free(nk_pem);
	return status;
}
