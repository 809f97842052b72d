/*
 * KlVerifier against real agents in this process (KlAgentService over
 * KlTpmSoft behind a TLS KlHttpServer that requires the verifier's client
 * certificate), with quote_interval 0.2 s: enrolment and its validation,
 * the quote loop and V, IMA failures and their history, unreachable
 * agents, stop/reactivate/delete, named policies, the shared-memory table
 * and a restart on the same database.
 */
#include "config.h"

#include <string.h>

#include "kl-agent-table-reader.h"
#include "kl-agent-table.h"
#include "kl-error.h"
#include "kl-http-router.h"
#include "kl-http-server.h"
#include "kl-ima-log.h"
#include "kl-json.h"
#include "kl-test-agent.h"
#include "kl-test-ca.h"
#include "kl-test-dir.h"
#include "kl-test-wait.h"
#include "kl-tpm-soft.h"
#include "kl-verifier.h"
#include "kl-x509.h"

#define WAIT_MS	  30000
#define INTERVAL  0.2
#define MASK_IMA  "{\"mask\": \"0x400\"}"
#define MASK_NONE "{\"mask\": \"0x0\"}"

static KlTestDir *test_dir;
static const gchar *test_severity_policy; /* NULL: upstream's */
static KlTestCa *test_ca;
static EVP_PKEY *test_nk;
static gchar *test_server_pem;

/* ---- agents ---- */

/* an agent with an (empty) IMA log, listening */
static KlTestAgent *
agent_new(const gchar *agent_id)
{
	g_autofree gchar *name = NULL;
	g_autofree gchar *ima_name = NULL;
	g_autofree gchar *secure_dir = NULL;
	g_autofree gchar *ima_path = NULL;
	KlTestAgent *agent;
	static guint n_agents = 0;

	name = g_strdup_printf("secure-%u", n_agents);
	ima_name = g_strdup_printf("ima-%u", n_agents++);
	secure_dir = kl_test_dir_build(test_dir, name, NULL);
	ima_path = kl_test_dir_build(test_dir, ima_name, NULL);
	agent = kl_test_agent_new(agent_id,
				  test_nk,
				  NULL,
				  secure_dir,
				  kl_test_dir_get_path(test_dir));
	kl_test_agent_set_ima_log(agent, ima_path);
	kl_test_agent_start(agent, test_ca, 0);
	return agent;
}

/* ---- fake agents: a TLS server whose quotes are wrong ---- */

static gboolean
fake_quote_types(KlHttpRequest *request, gpointer user_data, GError **error)
{
	g_autoptr(JsonNode) results = json_node_new(JSON_NODE_OBJECT);
	JsonObject *object = json_object_new();

	/* a "quote" that is no quote, algorithms of the wrong types */
	json_object_set_string_member(object, "quote", "rAAAAAAA");
	json_object_set_int_member(object, "hash_alg", 11);
	json_object_set_boolean_member(object, "enc_alg", TRUE);
	json_object_set_null_member(object, "sign_alg");
	json_node_take_object(results, object);
	kl_http_request_reply_ok(request, results);
	return TRUE;
}

/* results that are no results object: the client refuses the reply */
static gboolean
fake_quote_garbage(KlHttpRequest *request, gpointer user_data, GError **error)
{
	g_autoptr(JsonNode) results = json_node_new(JSON_NODE_ARRAY);
	JsonArray *array = json_array_new();

	json_array_add_string_element(array, "garbage");
	json_node_take_array(results, array);
	kl_http_request_reply_ok(request, results);
	return TRUE;
}

typedef struct {
	KlHttpRouter *router;
	KlHttpServer *server;
	guint16 port;
} Fake;

static void
fake_free(Fake *fake)
{
	kl_http_server_stop(fake->server);
	g_object_unref(fake->server);
	g_object_unref(fake->router);
	g_free(fake);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Fake, fake_free)

/* the router keeps pointers to its routes */
static const KlHttpRoute fake_routes[][1] = {
	{{"GET", "/quotes/integrity", KL_HTTP_ROUTE_FLAG_NONE, NULL, NULL, 0, fake_quote_types}},
	{{"GET", "/quotes/integrity", KL_HTTP_ROUTE_FLAG_NONE, NULL, NULL, 0, fake_quote_garbage}},
};

static Fake *
fake_new(const KlHttpRoute *routes)
{
	Fake *fake = g_new0(Fake, 1);
	g_autoptr(GError) error = NULL;
	gsize n_supported = 0;
	const KlApiVersion *supported = kl_api_version_agent_supported(&n_supported);

	fake->router = kl_http_router_new(&supported[n_supported - 1], supported, n_supported);
	g_assert_true(kl_http_router_add_routes(fake->router, routes, 1, NULL, &error));
	g_assert_no_error(error);
	fake->server =
		kl_test_tls_server_new(fake->router, test_ca, KL_HTTP_CLIENT_CERT_REQUIRED, 0);
	fake->port = kl_http_server_get_port(fake->server);
	return fake;
}

/* upstream's enrolment body for @agent */
static JsonObject *
body_new(KlTestAgent *agent,
	 guint16 port,
	 const gchar *tpm_policy,
	 const gchar *runtime_b64,
	 gboolean v)
{
	JsonObject *body = json_object_new();
	GBytes *ak = kl_tpm_get_ak_public(agent->tpm); /* borrowed */
	g_autofree gchar *ak_b64 =
		g_base64_encode(g_bytes_get_data(ak, NULL), g_bytes_get_size(ak));
	guint8 v_raw[32];
	g_autofree gchar *v_b64 = NULL;
	const gchar *lists[][3] = {
		{"accept_tpm_hash_algs", "sha256", "sha384"},
		{"accept_tpm_encryption_algs", "ecc", "rsa"},
		{"accept_tpm_signing_algs", "ecdsa", "rsassa"},
	};

	memset(v_raw, 0x5a, sizeof(v_raw));
	v_b64 = g_base64_encode(v_raw, sizeof(v_raw));
	if (v)
		json_object_set_string_member(body, "v", v_b64);
	else
		json_object_set_null_member(body, "v");
	json_object_set_string_member(body, "cloudagent_ip", "127.0.0.1");
	json_object_set_int_member(body, "cloudagent_port", port);
	json_object_set_string_member(body, "tpm_policy", tpm_policy);
	json_object_set_string_member(body, "runtime_policy", runtime_b64);
	json_object_set_null_member(body, "mb_policy");
	json_object_set_null_member(body, "mb_policy_name");
	json_object_set_string_member(body, "ima_sign_verification_keys", "");
	json_object_set_string_member(body, "metadata", "{}");
	json_object_set_string_member(body, "revocation_key", "");
	for (guint i = 0; i < G_N_ELEMENTS(lists); i++) {
		JsonArray *array = json_array_new();
		json_array_add_string_element(array, lists[i][1]);
		json_array_add_string_element(array, lists[i][2]);
		json_object_set_array_member(body, lists[i][0], array);
	}
	json_object_set_string_member(body, "ak_tpm", ak_b64);
	json_object_set_string_member(body, "mtls_cert", test_server_pem);
	json_object_set_string_member(body, "supported_version", "2.2");
	return body;
}

/* ---- verifiers ---- */

typedef struct {
	KlVerifier *verifier;
	gchar *db_path;
	GArray *states; /* of guint: every new state, in order */
	guint n_failed_signals;
	guint last_ima_line; /* of the last ima.* finding signalled */
	guint n_revocations;
	GPtrArray *ids;
} Fixture;

static void
state_changed_cb(KlVerifier *verifier,
		 const gchar *agent_id,
		 guint new_state,
		 guint old_state,
		 guint reason,
		 Fixture *fx)
{
	g_array_append_val(fx->states, new_state);
}

static void
attestation_failed_cb(KlVerifier *verifier,
		      const gchar *agent_id,
		      gint64 time,
		      guint severity,
		      GPtrArray *findings,
		      Fixture *fx)
{
	g_assert_cmpuint(findings->len, >, 0);
	fx->n_failed_signals++;
	for (guint i = 0; i < findings->len; i++) {
		KlFinding *finding = g_ptr_array_index(findings, i);

		if (g_str_has_prefix(finding->event_id, "ima.") && finding->line > 0)
			fx->last_ima_line = finding->line;
	}
}

static void
revocation_cb(KlVerifier *verifier,
	      const gchar *agent_id,
	      gint64 time,
	      const gchar *event_id,
	      guint severity,
	      const gchar *context_json,
	      Fixture *fx)
{
	g_assert_nonnull(event_id);
	fx->n_revocations++;
}

static KlVerifier *
verifier_new(Fixture *fx, guint max_retries)
{
	g_autoptr(GError) error = NULL;
	KlVerifierOptions options;
	KlVerifierStore *store = kl_verifier_store_open(fx->db_path, &error);
	KlVerifier *verifier;

	g_assert_no_error(error);
	kl_verifier_options_init(&options);
	options.quote_interval = INTERVAL;
	options.retry_interval = 0.05;
	options.max_retries = max_retries;
	options.exponential_backoff = FALSE;
	options.request_timeout = 10;
	options.client_cert = kl_test_ca_get_client_cert_path(test_ca);
	options.client_key = kl_test_ca_get_client_key_path(test_ca);
	options.n_workers = 2;
	options.severity_policy = test_severity_policy;
	verifier = kl_verifier_new(&options, store, &error);
	g_assert_no_error(error);
	g_signal_connect(verifier, "state-changed", G_CALLBACK(state_changed_cb), fx);
	g_signal_connect(verifier, "attestation-failed", G_CALLBACK(attestation_failed_cb), fx);
	g_signal_connect(verifier, "revocation", G_CALLBACK(revocation_cb), fx);
	g_assert_true(kl_verifier_start(verifier, &error));
	g_assert_no_error(error);
	return verifier;
}

static void
fixture_setup(Fixture *fx, gconstpointer data)
{
	static guint n = 0;
	g_autofree gchar *name = g_strdup_printf("cv_data-%u.sqlite", n++);

	fx->db_path = kl_test_dir_build(test_dir, name, NULL);
	fx->states = g_array_new(FALSE, FALSE, sizeof(guint));
	fx->verifier = verifier_new(fx, 2);
}

static void
fixture_teardown(Fixture *fx, gconstpointer data)
{
	g_clear_object(&fx->verifier);
	g_array_unref(fx->states);
	g_free(fx->db_path);
}

typedef struct {
	KlVerifier *verifier;
	const gchar *agent_id;
	gint64 state;
	gint64 min_count;
} Want;

static gboolean
want_cb(gpointer user_data)
{
	Want *want = user_data;
	g_autoptr(KlVerifierAgent) agent =
		kl_verifier_get_agent(want->verifier, want->agent_id, NULL);

	return agent != NULL && agent->operational_state == want->state &&
	       agent->attestation_count >= want->min_count;
}

static void
wait_state(KlVerifier *verifier, const gchar *agent_id, gint64 state, gint64 min_count)
{
	Want want = {verifier, agent_id, state, min_count};

	if (!kl_test_wait_for(want_cb, &want, WAIT_MS)) {
		g_autoptr(KlVerifierAgent) agent = kl_verifier_get_agent(verifier, agent_id, NULL);
		g_error("agent %s: state %" G_GINT64_FORMAT " count %" G_GINT64_FORMAT
			", wanted %" G_GINT64_FORMAT " count %" G_GINT64_FORMAT " (event %s)",
			agent_id,
			agent != NULL ? agent->operational_state : -2,
			agent != NULL ? agent->attestation_count : -2,
			state,
			min_count,
			agent != NULL ? agent->last_event_id : "gone");
	}
}

static gboolean
states_have(Fixture *fx, guint state)
{
	for (guint i = 0; i < fx->states->len; i++)
		if (g_array_index(fx->states, guint, i) == state)
			return TRUE;
	return FALSE;
}

/* the shm table as a console reads it */
static gint32
table_state(KlVerifier *verifier, const gchar *agent_id)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlAgentTableReader) reader =
		kl_agent_table_reader_open(kl_verifier_get_shm_name(verifier), &error);
	KlAgentTableRecord record;

	g_assert_no_error(error);
	for (guint i = 0; i < kl_agent_table_reader_get_count(reader); i++)
		if (kl_agent_table_reader_read(reader, i, &record) &&
		    g_strcmp0(record.agent_id, agent_id) == 0)
			return record.operational_state;
	return -1;
}

/* ---- tests ---- */

#define ID_A "agent-a"
#define ID_B "agent-b"

static void
test_attest_v_stop_reactivate_delete(Fixture *fx, gconstpointer data)
{
	g_autoptr(KlTestAgent) agent = agent_new(ID_A);
	g_autoptr(JsonObject) body = body_new(agent, agent->port, MASK_NONE, "", TRUE);
	g_autoptr(GError) error = NULL;
	g_autoptr(KlVerifierAgent) got = NULL;
	gboolean pending = TRUE;
	gint64 start = g_get_monotonic_time();

	g_assert_true(kl_verifier_add_agent(fx->verifier, ID_A, body, &error));
	g_assert_no_error(error);
	/* V after the first good quote, then the quote loop */
	wait_state(fx->verifier, ID_A, KL_VERIFIER_STATE_GET_QUOTE, 1);
	g_assert_cmpint(g_get_monotonic_time() - start, <, 10 * G_USEC_PER_SEC);
	wait_state(fx->verifier, ID_A, KL_VERIFIER_STATE_GET_QUOTE, 3);
	g_assert_true(states_have(fx, KL_VERIFIER_STATE_PROVIDE_V));
	g_assert_false(states_have(fx, KL_VERIFIER_STATE_PROVIDE_V_RETRY));
	g_assert_cmpint(table_state(fx->verifier, ID_A), ==, KL_VERIFIER_STATE_GET_QUOTE);
	got = kl_verifier_get_agent(fx->verifier, ID_A, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(got->hash_alg, ==, "sha256");
	g_assert_cmpstr(got->sign_alg, ==, "ecdsa");
	g_assert_nonnull(got->public_key);
	g_assert_cmpuint(kl_verifier_get_n_agents(fx->verifier), ==, 1);

	/* stop */
	g_assert_true(kl_verifier_stop_agent(fx->verifier, ID_A, &error));
	g_assert_no_error(error);
	g_clear_pointer(&got, kl_verifier_agent_free);
	got = kl_verifier_get_agent(fx->verifier, ID_A, &error);
	g_assert_cmpint(got->operational_state, ==, KL_VERIFIER_STATE_TENANT_FAILED);
	g_assert_cmpint(table_state(fx->verifier, ID_A), ==, KL_VERIFIER_STATE_TENANT_FAILED);
	g_assert_cmpuint(kl_verifier_get_n_failed(fx->verifier), ==, 1);

	/* reactivate: attests again */
	g_assert_true(kl_verifier_reactivate_agent(fx->verifier, ID_A, &error));
	g_assert_no_error(error);
	wait_state(fx->verifier, ID_A, KL_VERIFIER_STATE_GET_QUOTE, got->attestation_count + 2);

	/* delete: 200 or 202 depending on the wire; gone either way */
	g_assert_true(kl_verifier_delete_agent(fx->verifier, ID_A, &pending, &error));
	g_assert_no_error(error);
	if (pending) {
		g_autoptr(KlVerifierAgent) terminated =
			kl_verifier_get_agent(fx->verifier, ID_A, NULL);
		g_assert_nonnull(terminated);
		g_assert_cmpint(terminated->operational_state, ==, KL_VERIFIER_STATE_TERMINATED);
		while (kl_verifier_get_n_agents(fx->verifier) > 0)
			g_main_context_iteration(NULL, TRUE);
	}
	g_assert_cmpuint(kl_verifier_get_n_agents(fx->verifier), ==, 0);
	g_assert_null(kl_verifier_get_agent(fx->verifier, ID_A, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_NOT_FOUND);
	g_assert_false(kl_verifier_delete_agent(fx->verifier, ID_A, &pending, NULL));
}

static void
test_ima_invalid_and_neighbour(Fixture *fx, gconstpointer data)
{
	const gchar *allowed[] = {"/usr/bin/good", NULL};
	g_autofree gchar *policy = kl_test_runtime_policy_b64(allowed);
	g_autoptr(KlTestAgent) bad = agent_new(ID_A);
	g_autoptr(KlTestAgent) good = agent_new(ID_B);
	g_autoptr(JsonObject) body_bad = NULL;
	g_autoptr(JsonObject) body_good = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) events = NULL;
	g_autoptr(KlVerifierAgent) before = NULL;
	gboolean named = FALSE;

	kl_test_agent_measure(bad, "/usr/bin/good");
	body_bad = body_new(bad, bad->port, MASK_IMA, policy, FALSE);
	body_good = body_new(good, good->port, MASK_NONE, "", FALSE);
	g_assert_true(kl_verifier_add_agent(fx->verifier, ID_A, body_bad, &error));
	g_assert_no_error(error);
	g_assert_true(kl_verifier_add_agent(fx->verifier, ID_B, body_good, &error));
	g_assert_no_error(error);
	wait_state(fx->verifier, ID_A, KL_VERIFIER_STATE_GET_QUOTE, 2);
	before = kl_verifier_get_agent(fx->verifier, ID_A, NULL);
	g_assert_cmpint(before->next_ima_ml_entry, ==, 1);

	/* a file outside the policy */
	kl_test_agent_measure(bad, "/usr/bin/evil");
	wait_state(fx->verifier, ID_A, KL_VERIFIER_STATE_INVALID_QUOTE, 0);
	g_assert_cmpuint(fx->n_failed_signals, >, 0);
	/* the line of the whole measurement list: entry 1 (0-based) */
	g_assert_cmpuint(fx->last_ima_line, ==, 2);
	g_assert_cmpint(table_state(fx->verifier, ID_A), ==, KL_VERIFIER_STATE_INVALID_QUOTE);
	events = kl_verifier_list_events(fx->verifier, ID_A, KL_VERIFIER_EVENT_FINDING, 10, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(events->len, >, 0);
	for (guint i = 0; i < events->len; i++) {
		KlVerifierEvent *event = g_ptr_array_index(events, i);
		if (g_strstr_len(event->subject, -1, "/usr/bin/evil") != NULL ||
		    g_strstr_len(event->context, -1, "/usr/bin/evil") != NULL)
			named = TRUE;
	}
	g_assert_true(named);
	/* one revocation, recorded in the failed agent's history */
	g_assert_cmpuint(fx->n_revocations, ==, 1);
	g_clear_pointer(&events, g_ptr_array_unref);
	events = kl_verifier_list_events(fx->verifier,
					 ID_A,
					 KL_VERIFIER_EVENT_REVOCATION,
					 10,
					 &error);
	g_assert_no_error(error);
	g_assert_cmpuint(events->len, ==, 1);
	g_assert_nonnull(strstr(((KlVerifierEvent *)g_ptr_array_index(events, 0))->context,
				"\"type\": \"revocation\""));
	/* the other agent keeps attesting */
	{
		g_autoptr(KlVerifierAgent) now = kl_verifier_get_agent(fx->verifier, ID_B, NULL);
		wait_state(fx->verifier,
			   ID_B,
			   KL_VERIFIER_STATE_GET_QUOTE,
			   now->attestation_count + 2);
	}
}

/* a custom severity_policy gives IMA failures a lower label: polling
 * goes on, and the revocation is sent once (the severity did not grow) */
static void
test_lower_severity_keeps_polling(Fixture *fx, gconstpointer data)
{
	const gchar *allowed[] = {"/usr/bin/good", NULL};
	g_autofree gchar *policy = kl_test_runtime_policy_b64(allowed);
	g_autoptr(KlTestAgent) agent = agent_new(ID_A);
	g_autoptr(JsonObject) body = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(KlVerifierAgent) got = NULL;
	g_autoptr(GPtrArray) events = NULL;

	test_severity_policy = "[{'event_id': 'ima.*', 'severity_label': 'warning'}]";
	g_clear_object(&fx->verifier);
	fx->verifier = verifier_new(fx, 2);
	test_severity_policy = NULL;

	kl_test_agent_measure(agent, "/usr/bin/good");
	kl_test_agent_measure(agent, "/usr/bin/evil");
	body = body_new(agent, agent->port, MASK_IMA, policy, FALSE);
	g_assert_true(kl_verifier_add_agent(fx->verifier, ID_A, body, &error));
	g_assert_no_error(error);
	while (fx->n_failed_signals < 3)
		g_main_context_iteration(NULL, TRUE);
	g_assert_true(states_have(fx, KL_VERIFIER_STATE_INVALID_QUOTE));
	got = kl_verifier_get_agent(fx->verifier, ID_A, NULL);
	g_assert_cmpint(got->severity_level, ==, 2);
	g_assert_cmpint(got->attestation_count, ==, 0);
	g_assert_cmpuint(fx->n_revocations, ==, 1);
	g_assert_true(kl_verifier_stop_agent(fx->verifier, ID_A, &error));
	g_assert_no_error(error);
	events = kl_verifier_list_events(fx->verifier,
					 ID_A,
					 KL_VERIFIER_EVENT_REVOCATION,
					 10,
					 &error);
	g_assert_no_error(error);
	g_assert_cmpuint(events->len, ==, 1);
}

static void
test_wrong_ak(Fixture *fx, gconstpointer data)
{
	g_autoptr(KlTestAgent) agent = agent_new(ID_A);
	g_autoptr(KlTestAgent) other = agent_new(ID_B);
	/* the body names the other TPM's AK: the quotes do not verify */
	g_autoptr(JsonObject) body = body_new(other, agent->port, MASK_NONE, "", FALSE);
	g_autoptr(GError) error = NULL;
	g_autoptr(KlVerifierAgent) got = NULL;

	g_assert_true(kl_verifier_add_agent(fx->verifier, ID_A, body, &error));
	g_assert_no_error(error);
	wait_state(fx->verifier, ID_A, KL_VERIFIER_STATE_INVALID_QUOTE, 0);
	got = kl_verifier_get_agent(fx->verifier, ID_A, NULL);
	g_assert_nonnull(got->last_event_id);
	g_assert_cmpint(got->severity_level, ==, 6);
}

/* wrong types and garbage from two agents: each fails with a finding in
 * its history while a third keeps attesting */
static void
test_bad_replies(Fixture *fx, gconstpointer data)
{
	g_autoptr(Fake) types = fake_new(fake_routes[0]);
	g_autoptr(Fake) garbage = fake_new(fake_routes[1]);
	g_autoptr(KlTestAgent) good = agent_new(ID_B);
	g_autoptr(JsonObject) body_types = body_new(good, types->port, MASK_NONE, "", FALSE);
	g_autoptr(JsonObject) body_garbage = body_new(good, garbage->port, MASK_NONE, "", FALSE);
	g_autoptr(JsonObject) body_good = body_new(good, good->port, MASK_NONE, "", FALSE);
	g_autoptr(GError) error = NULL;
	g_autoptr(KlVerifierAgent) failed = NULL;
	g_autoptr(GPtrArray) events = NULL;

	g_assert_true(kl_verifier_add_agent(fx->verifier, "agent-types", body_types, &error));
	g_assert_no_error(error);
	g_assert_true(kl_verifier_add_agent(fx->verifier, "agent-garbage", body_garbage, &error));
	g_assert_no_error(error);
	g_assert_true(kl_verifier_add_agent(fx->verifier, ID_B, body_good, &error));
	g_assert_no_error(error);

	wait_state(fx->verifier, "agent-types", KL_VERIFIER_STATE_INVALID_QUOTE, 0);
	events = kl_verifier_list_events(fx->verifier,
					 "agent-types",
					 KL_VERIFIER_EVENT_FINDING,
					 10,
					 &error);
	g_assert_no_error(error);
	g_assert_cmpuint(events->len, >, 0);

	wait_state(fx->verifier, "agent-garbage", KL_VERIFIER_STATE_FAILED, 0);
	failed = kl_verifier_get_agent(fx->verifier, "agent-garbage", NULL);
	g_assert_cmpstr(failed->last_event_id, ==, "internal.verifier.no_quote");
	g_assert_cmpint(kl_verifier_get_agent_reason(fx->verifier, "agent-garbage"),
			==,
			KL_VERIFIER_REASON_AGENT_ERROR);
	g_clear_pointer(&events, g_ptr_array_unref);
	events = kl_verifier_list_events(fx->verifier,
					 "agent-garbage",
					 KL_VERIFIER_EVENT_FINDING,
					 10,
					 &error);
	g_assert_no_error(error);
	g_assert_cmpuint(events->len, ==, 1);

	wait_state(fx->verifier, ID_B, KL_VERIFIER_STATE_GET_QUOTE, 3);
	g_assert_cmpuint(kl_verifier_get_n_failed(fx->verifier), ==, 2);
}

static void
test_unreachable(Fixture *fx, gconstpointer data)
{
	g_autoptr(KlTestAgent) agent = agent_new(ID_A);
	g_autoptr(JsonObject) body = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(KlVerifierAgent) got = NULL;
	guint16 port = agent->port;

	/* nobody listens there any more */
	kl_http_server_stop(agent->server);
	g_clear_object(&agent->server);
	body = body_new(agent, port, MASK_NONE, "", FALSE);
	g_assert_true(kl_verifier_add_agent(fx->verifier, ID_A, body, &error));
	g_assert_no_error(error);
	wait_state(fx->verifier, ID_A, KL_VERIFIER_STATE_FAILED, 0);
	g_assert_true(states_have(fx, KL_VERIFIER_STATE_GET_QUOTE_RETRY));
	got = kl_verifier_get_agent(fx->verifier, ID_A, NULL);
	g_assert_cmpstr(got->last_event_id, ==, "internal.verifier.not_reachable");
	g_assert_cmpint(kl_verifier_get_agent_reason(fx->verifier, ID_A),
			==,
			KL_VERIFIER_REASON_UNREACHABLE);
}

static void
test_add_validation(Fixture *fx, gconstpointer data)
{
	static const gchar *required[] = {
		"cloudagent_ip",
		"cloudagent_port",
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
	const gchar *allowed[] = {"/usr/bin/good", NULL};
	g_autofree gchar *policy = kl_test_runtime_policy_b64(allowed);
	g_autoptr(KlTestAgent) agent = agent_new(ID_A);
	g_autoptr(GError) error = NULL;

	{
		/* a hostile id (D-Bus passes it as is) is refused before its
		 * policy, named after it, is stored */
		g_autoptr(JsonObject) body = body_new(agent, agent->port, MASK_NONE, policy, FALSE);
		g_autoptr(GPtrArray) names = NULL;

		g_assert_false(kl_verifier_add_agent(fx->verifier, "evil\nid", body, &error));
		g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
		g_clear_error(&error);
		names = kl_verifier_list_policies(fx->verifier, KL_VERIFIER_POLICY_RUNTIME, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(names->len, ==, 0);
	}
	for (guint i = 0; i < G_N_ELEMENTS(required); i++) {
		g_autoptr(JsonObject) body = body_new(agent, agent->port, MASK_NONE, "", FALSE);
		json_object_remove_member(body, required[i]);
		g_assert_false(kl_verifier_add_agent(fx->verifier, ID_A, body, &error));
		g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
		g_assert_nonnull(strstr(error->message, required[i]));
		g_clear_error(&error);
	}
	{
		g_autoptr(JsonObject) body = body_new(agent, agent->port, MASK_NONE, "", FALSE);
		json_object_remove_member(body, "mtls_cert");
		g_assert_false(kl_verifier_add_agent(fx->verifier, ID_A, body, &error));
		g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
		g_assert_cmpstr(error->message, ==, "mTLS certificate for agent is required!");
		g_clear_error(&error);
	}
	{
		/* a named policy that does not exist: 404 */
		g_autoptr(JsonObject) body = body_new(agent, agent->port, MASK_NONE, "", FALSE);
		json_object_set_string_member(body, "runtime_policy_name", "missing");
		g_assert_false(kl_verifier_add_agent(fx->verifier, ID_A, body, &error));
		g_assert_error(error, KL_ERROR, KL_ERROR_NOT_FOUND);
		g_clear_error(&error);
		g_assert_cmpuint(kl_verifier_get_n_agents(fx->verifier), ==, 0);
	}
	{
		/* stored under a name, then that name again with a policy: 409 */
		g_autoptr(JsonObject) body = body_new(agent, agent->port, MASK_NONE, policy, FALSE);
		g_autoptr(JsonObject) again =
			body_new(agent, agent->port, MASK_NONE, policy, FALSE);
		g_autoptr(JsonObject) by_name = body_new(agent, agent->port, MASK_NONE, "", FALSE);
		g_autoptr(KlVerifierPolicy) stored = NULL;
		json_object_set_string_member(body, "runtime_policy_name", "shared");
		json_object_set_string_member(again, "runtime_policy_name", "shared");
		json_object_set_string_member(by_name, "runtime_policy_name", "shared");
		g_assert_true(kl_verifier_add_agent(fx->verifier, ID_A, body, &error));
		g_assert_no_error(error);
		stored = kl_verifier_get_policy(fx->verifier,
						KL_VERIFIER_POLICY_RUNTIME,
						"shared",
						&error);
		g_assert_no_error(error);
		/* the agent exists: 409 */
		g_assert_false(kl_verifier_add_agent(fx->verifier, ID_A, by_name, &error));
		g_assert_error(error, KL_ERROR, KL_ERROR_CONFLICT);
		g_clear_error(&error);
		g_assert_false(kl_verifier_add_agent(fx->verifier, ID_B, again, &error));
		g_assert_error(error, KL_ERROR, KL_ERROR_CONFLICT);
		g_clear_error(&error);
		/* by name only: shares it */
		g_assert_true(kl_verifier_add_agent(fx->verifier, ID_B, by_name, &error));
		g_assert_no_error(error);
		g_assert_cmpuint(kl_verifier_get_n_agents(fx->verifier), ==, 2);
	}
	{
		/* bad runtime policy text */
		g_autofree gchar *garbage = g_base64_encode((const guint8 *)"{not json", 9);
		g_autoptr(JsonObject) body =
			body_new(agent, agent->port, MASK_NONE, garbage, FALSE);
		g_assert_false(kl_verifier_add_agent(fx->verifier, "agent-c", body, &error));
		g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
		g_clear_error(&error);
	}
}

static void
test_policies(Fixture *fx, gconstpointer data)
{
	const gchar *one[] = {"/usr/bin/one", NULL};
	const gchar *two[] = {"/usr/bin/two", NULL};
	g_autofree gchar *b64_one = kl_test_runtime_policy_b64(one);
	g_autofree gchar *b64_two = kl_test_runtime_policy_b64(two);
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) names = NULL;
	g_autoptr(KlVerifierPolicy) got = NULL;
	g_autoptr(KlTestAgent) agent = agent_new(ID_A);
	g_autoptr(JsonObject) body = body_new(agent, agent->port, MASK_NONE, "", FALSE);
	gsize len = 0;
	g_autofree gchar *json_one = (gchar *)g_base64_decode(b64_one, &len);
	g_autofree gchar *json_two = NULL;

	json_one = g_realloc(json_one, len + 1);
	json_one[len] = '\0';
	json_two = (gchar *)g_base64_decode(b64_two, &len);
	json_two = g_realloc(json_two, len + 1);
	json_two[len] = '\0';

	g_assert_true(kl_verifier_put_policy(fx->verifier,
					     KL_VERIFIER_POLICY_RUNTIME,
					     "p",
					     json_one,
					     NULL,
					     NULL,
					     FALSE,
					     &error));
	g_assert_no_error(error);
	g_assert_false(kl_verifier_put_policy(fx->verifier,
					      KL_VERIFIER_POLICY_RUNTIME,
					      "p",
					      json_one,
					      NULL,
					      NULL,
					      FALSE,
					      &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_CONFLICT);
	g_clear_error(&error);
	g_assert_false(kl_verifier_put_policy(fx->verifier,
					      KL_VERIFIER_POLICY_RUNTIME,
					      "q",
					      "{broken",
					      NULL,
					      NULL,
					      FALSE,
					      &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_false(kl_verifier_put_policy(fx->verifier,
					      KL_VERIFIER_POLICY_RUNTIME,
					      "absent",
					      json_one,
					      NULL,
					      NULL,
					      TRUE,
					      &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_true(kl_verifier_put_policy(fx->verifier,
					     KL_VERIFIER_POLICY_RUNTIME,
					     "p",
					     json_two,
					     NULL,
					     NULL,
					     TRUE,
					     &error));
	g_assert_no_error(error);
	got = kl_verifier_get_policy(fx->verifier, KL_VERIFIER_POLICY_RUNTIME, "p", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(got->policy, ==, json_two);
	/* meta.generator is stored: REST's has_runtime_policy reads it */
	g_assert_cmpint(got->generator, ==, KL_RUNTIME_POLICY_GENERATOR_LEGACY_ALLOWLIST);
	names = kl_verifier_list_policies(fx->verifier, KL_VERIFIER_POLICY_RUNTIME, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(names->len, ==, 1);
	g_assert_cmpstr(g_ptr_array_index(names, 0), ==, "p");

	/* in use: 409 */
	json_object_set_string_member(body, "runtime_policy_name", "p");
	g_assert_true(kl_verifier_add_agent(fx->verifier, ID_A, body, &error));
	g_assert_no_error(error);
	g_assert_false(
		kl_verifier_delete_policy(fx->verifier, KL_VERIFIER_POLICY_RUNTIME, "p", &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_CONFLICT);
	g_clear_error(&error);
	g_assert_true(kl_verifier_delete_agent(fx->verifier, ID_A, NULL, &error) || error != NULL);
	g_clear_error(&error);
	while (kl_verifier_get_n_agents(fx->verifier) > 0)
		g_main_context_iteration(NULL, TRUE);
	g_assert_true(
		kl_verifier_delete_policy(fx->verifier, KL_VERIFIER_POLICY_RUNTIME, "p", &error));
	g_assert_no_error(error);
	g_assert_false(
		kl_verifier_delete_policy(fx->verifier, KL_VERIFIER_POLICY_RUNTIME, "p", &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_NOT_FOUND);
	g_clear_error(&error);
}

static void
test_restart(Fixture *fx, gconstpointer data)
{
	const gchar *allowed[] = {"/usr/bin/good", "/usr/bin/also", NULL};
	g_autofree gchar *policy = kl_test_runtime_policy_b64(allowed);
	g_autoptr(KlTestAgent) agent = agent_new(ID_A);
	g_autoptr(KlTestAgent) stopped = agent_new(ID_B);
	g_autoptr(JsonObject) body = NULL;
	g_autoptr(JsonObject) body_stopped = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(KlVerifierAgent) before = NULL;
	g_autoptr(KlVerifierAgent) after = NULL;

	kl_test_agent_measure(agent, "/usr/bin/good");
	body = body_new(agent, agent->port, MASK_IMA, policy, FALSE);
	body_stopped = body_new(stopped, stopped->port, MASK_NONE, "", FALSE);
	g_assert_true(kl_verifier_add_agent(fx->verifier, ID_A, body, &error));
	g_assert_no_error(error);
	g_assert_true(kl_verifier_add_agent(fx->verifier, ID_B, body_stopped, &error));
	g_assert_no_error(error);
	wait_state(fx->verifier, ID_A, KL_VERIFIER_STATE_GET_QUOTE, 2);
	g_assert_true(kl_verifier_stop_agent(fx->verifier, ID_B, &error));
	g_assert_no_error(error);
	before = kl_verifier_get_agent(fx->verifier, ID_A, NULL);
	g_assert_cmpint(before->next_ima_ml_entry, ==, 1);
	g_clear_object(&fx->verifier);

	/* a second verifier on the same file resumes */
	kl_test_agent_measure(agent, "/usr/bin/also");
	fx->verifier = verifier_new(fx, 2);
	g_assert_cmpuint(kl_verifier_get_n_agents(fx->verifier), ==, 2);
	after = kl_verifier_get_agent(fx->verifier, ID_B, NULL);
	g_assert_cmpint(after->operational_state, ==, KL_VERIFIER_STATE_TENANT_FAILED);
	g_clear_pointer(&after, kl_verifier_agent_free);
	after = kl_verifier_get_agent(fx->verifier, ID_A, NULL);
	g_assert_cmpint(after->next_ima_ml_entry, ==, 1);
	g_assert_cmpint(after->operational_state, ==, KL_VERIFIER_STATE_START);
	wait_state(fx->verifier, ID_A, KL_VERIFIER_STATE_GET_QUOTE, before->attestation_count + 2);
	g_clear_pointer(&after, kl_verifier_agent_free);
	after = kl_verifier_get_agent(fx->verifier, ID_A, NULL);
	g_assert_cmpint(after->next_ima_ml_entry, ==, 2);
	g_assert_cmpint(table_state(fx->verifier, ID_A), ==, after->operational_state);
	g_assert_cmpint(table_state(fx->verifier, ID_B), ==, KL_VERIFIER_STATE_TENANT_FAILED);
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	int status;

	g_test_init(&argc, &argv, NULL);
	/* the test agents have no revocation certificate: they refuse the
	 * notifications the verifier sends them with a warning; criticals
	 * stay fatal */
	g_log_set_always_fatal(G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL);
	test_dir = kl_test_dir_new();
	test_ca = kl_test_ca_new(test_dir, "agent", &error);
	g_assert_no_error(error);
	test_nk = kl_key_generate_rsa(2048, &error);
	g_assert_no_error(error);
	g_assert_true(g_file_get_contents(kl_test_ca_get_server_cert_path(test_ca),
					  &test_server_pem,
					  NULL,
					  &error));

#define ADD(path, func) g_test_add(path, Fixture, NULL, fixture_setup, func, fixture_teardown)
	ADD("/verifier/attest-v-stop-reactivate-delete", test_attest_v_stop_reactivate_delete);
	ADD("/verifier/ima-invalid", test_ima_invalid_and_neighbour);
	ADD("/verifier/lower-severity", test_lower_severity_keeps_polling);
	ADD("/verifier/wrong-ak", test_wrong_ak);
	ADD("/verifier/bad-replies", test_bad_replies);
	ADD("/verifier/unreachable", test_unreachable);
	ADD("/verifier/add-validation", test_add_validation);
	ADD("/verifier/policies", test_policies);
	ADD("/verifier/restart", test_restart);
#undef ADD
	status = g_test_run();

	g_free(test_server_pem);
	EVP_PKEY_free(test_nk);
	kl_test_ca_free(test_ca);
	kl_test_dir_free(test_dir);
	return status;
}
