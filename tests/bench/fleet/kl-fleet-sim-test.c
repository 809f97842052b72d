/*
 * Smoke test of kl-fleet-sim (argv[1]): three simulated agents behind
 * mTLS; the verifier's own client (KlAgentClient, pinned to the enrolment
 * mtls_cert, with a client certificate from the CA the simulator trusts)
 * fetches quotes that verify against each agent's enrolment AK and pass a
 * whole attestation round (kl_attestation_run) with the simulator's
 * runtime policy; after "inject" the next round fails naming the injected
 * file; another agent's AK and a client without a certificate are refused.
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "kl-agent-client.h"
#include "kl-attestation.h"
#include "kl-quote.h"
#include "kl-test-ca.h"
#include "kl-test-dir.h"
#include "kl-test-wait.h"

#define SIM_AGENTS  3
#define SIM_ENTRIES 5	  /* the simulator's default: boot_aggregate + 5 files */
#define WAIT_MS	    90000 /* a TLS handshake under ASan on a loaded machine is slow */

static const gchar *sim_path;

typedef struct {
	KlTestDir *dir;
	KlTestCa *ca;
	GSubprocess *sim;
	GDataInputStream *out;
	GOutputStream *in;
	JsonObject *agents[SIM_AGENTS];
	gchar *policy_path;
} Fixture;

typedef struct {
	gboolean done;
	JsonObject *results;
	GError *error;
} Outcome;

static gchar *
sim_read_line(Fixture *f)
{
	g_autoptr(GError) error = NULL;
	gchar *line = g_data_input_stream_read_line_utf8(f->out, NULL, NULL, &error);

	g_assert_no_error(error);
	g_assert_nonnull(line);
	return line;
}

static void
sim_command(Fixture *f, const gchar *command)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *line = g_strconcat(command, "\n", NULL);

	g_assert_true(g_output_stream_write_all(f->in, line, strlen(line), NULL, NULL, &error));
	g_assert_no_error(error);
}

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *ready = NULL;
	g_autofree gchar *sim_dir = NULL;

	f->dir = kl_test_dir_new();
	f->ca = kl_test_ca_new(f->dir, "verifier", &error);
	g_assert_no_error(error);
	f->policy_path = kl_test_dir_build(f->dir, "policy.json", NULL);
	sim_dir = kl_test_dir_build(f->dir, "sim", NULL);
	g_assert_cmpint(g_mkdir(sim_dir, 0700), ==, 0);
	f->sim = g_subprocess_new(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE,
				  &error,
				  sim_path,
				  "--agents",
				  G_STRINGIFY(SIM_AGENTS),
				  "--client-ca",
				  kl_test_ca_get_ca_cert_path(f->ca),
				  "--dir",
				  sim_dir,
				  "--policy-out",
				  f->policy_path,
				  NULL);
	g_assert_no_error(error);
	f->out = g_data_input_stream_new(g_subprocess_get_stdout_pipe(f->sim));
	f->in = g_subprocess_get_stdin_pipe(f->sim);
	for (guint i = 0; i < SIM_AGENTS; i++) {
		g_autofree gchar *line = sim_read_line(f);
		g_autoptr(JsonNode) node = json_from_string(line, &error);

		g_assert_no_error(error);
		g_assert_true(JSON_NODE_HOLDS_OBJECT(node));
		f->agents[i] = json_object_ref(json_node_get_object(node));
		g_assert_cmpstr(json_object_get_string_member(f->agents[i], "ip"), ==, "127.0.0.1");
	}
	ready = sim_read_line(f);
	g_assert_cmpstr(ready, ==, "ready " G_STRINGIFY(SIM_AGENTS));
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	sim_command(f, "quit");
	g_assert_true(g_subprocess_wait_check(f->sim, NULL, &error));
	g_assert_no_error(error);
	for (guint i = 0; i < SIM_AGENTS; i++)
		json_object_unref(f->agents[i]);
	g_clear_object(&f->out);
	g_clear_object(&f->sim);
	g_free(f->policy_path);
	kl_test_ca_free(f->ca);
	kl_test_dir_free(f->dir);
}

static KlAgentClient *
new_client(Fixture *f, gboolean with_cert)
{
	g_autoptr(GError) error = NULL;
	KlAgentClientOptions options;
	KlAgentClient *client;

	kl_agent_client_options_init(&options);
	options.mtls = TRUE;
	options.request_timeout = 60;
	if (with_cert) {
		options.client_cert = kl_test_ca_get_client_cert_path(f->ca);
		options.client_key = kl_test_ca_get_client_key_path(f->ca);
	}
	client = kl_agent_client_new(&options, &error);
	g_assert_no_error(error);
	return client;
}

static void
quote_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	Outcome *outcome = user_data;

	outcome->results = kl_agent_client_get_integrity_quote_finish(KL_AGENT_CLIENT(source),
								      result,
								      &outcome->error);
	outcome->done = TRUE;
}

static gboolean
outcome_done(gpointer user_data)
{
	return ((Outcome *)user_data)->done;
}

/* GET /quotes/integrity of agent @index: the results, or NULL and @error */
static JsonObject *
fetch_quote(Fixture *f,
	    KlAgentClient *client,
	    guint index,
	    const gchar *nonce,
	    guint64 ima_ml_entry,
	    GError **error)
{
	JsonObject *agent = f->agents[index];
	const gchar *pem = json_object_get_string_member(agent, "mtls_cert");
	g_autoptr(GError) pin_error = NULL;
	g_autoptr(GTlsCertificate) pin = kl_agent_client_pin_new(pem, strlen(pem), &pin_error);
	KlAgentTarget target = {0};
	Outcome outcome = {0};

	g_assert_no_error(pin_error);
	target.agent_id = json_object_get_string_member(agent, "agent_id");
	target.ip = json_object_get_string_member(agent, "ip");
	target.port = (guint16)json_object_get_int_member(agent, "port");
	target.api_version.major = 2;
	target.api_version.minor = 2;
	target.mtls_cert = pin;
	kl_agent_client_get_integrity_quote_async(client,
						  &target,
						  nonce,
						  1u << 10,
						  FALSE,
						  ima_ml_entry,
						  NULL,
						  quote_cb,
						  &outcome);
	g_assert_true(kl_test_wait_for(outcome_done, &outcome, WAIT_MS));
	if (outcome.error != NULL)
		g_propagate_error(error, outcome.error);
	return outcome.results;
}

static KlQuoteKey *
agent_ak(Fixture *f, guint index)
{
	g_autoptr(GError) error = NULL;
	gsize len = 0;
	g_autofree guint8 *der =
		g_base64_decode(json_object_get_string_member(f->agents[index], "ak_tpm"), &len);
	g_autoptr(KlTpmPublic) ak = kl_tpm_public_new_from_data(der, len, &error);

	g_assert_no_error(error);
	return kl_quote_key_new(kl_tpm_public_get_key(ak));
}

static KlRuntimePolicy *
load_policy(Fixture *f)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = NULL;
	gsize len = 0;
	KlRuntimePolicy *policy;

	g_assert_true(g_file_get_contents(f->policy_path, &text, &len, &error));
	policy = kl_runtime_policy_new_from_json(text, len, &error);
	g_assert_no_error(error);
	return policy;
}

static KlAttestationInput *
round_input(JsonObject *results,
	    const gchar *nonce,
	    KlQuoteKey *ak,
	    KlRuntimePolicy *policy,
	    const KlImaState *state)
{
	KlAttestationInput *input = kl_attestation_input_new();

	input->response = json_object_ref(results);
	input->nonce = g_strdup(nonce);
	input->ak = kl_quote_key_ref(ak);
	input->accept_hash_algs = g_strsplit("sha256", ",", -1);
	input->accept_enc_algs = g_strsplit("ecc", ",", -1);
	input->accept_sign_algs = g_strsplit("ecdsa", ",", -1);
	input->tpm_policy = g_strdup("{\"mask\": \"0x400\"}");
	input->runtime_policy = kl_runtime_policy_ref(policy);
	if (state != NULL)
		input->ima_state = *state;
	return input;
}

static gboolean
quote_verifies(JsonObject *results, KlQuoteKey *ak, const gchar *nonce)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlQuote) quote =
		kl_quote_new_from_string(json_object_get_string_member(results, "quote"), &error);
	g_autoptr(GPtrArray) findings = kl_findings_new();

	g_assert_no_error(error);
	return kl_quote_verify(quote, ak, nonce, "sha256", KL_QUOTE_VERIFY_FLAG_NONE, findings) &&
	       findings->len == 0;
}

static void
test_quote_and_inject(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlAgentClient) client = new_client(f, TRUE);
	g_autoptr(KlQuoteKey) ak = agent_ak(f, 1);
	g_autoptr(KlQuoteKey) other_ak = agent_ak(f, 0);
	g_autoptr(KlRuntimePolicy) policy = load_policy(f);
	g_autoptr(JsonObject) first = NULL;
	g_autoptr(JsonObject) second = NULL;
	g_autoptr(KlAttestationInput) input1 = NULL;
	g_autoptr(KlAttestationInput) input2 = NULL;
	g_autoptr(KlAttestationResult) round1 = NULL;
	g_autoptr(KlAttestationResult) round2 = NULL;
	g_autofree gchar *injected = NULL;
	g_autofree gchar *stats = NULL;
	g_autoptr(JsonNode) stats_node = NULL;
	gboolean named = FALSE;

	/* a quote of agent 1, with its IMA log from the start */
	first = fetch_quote(f, client, 1, "fleetnonce1", 0, &error);
	g_assert_no_error(error);
	g_assert_true(quote_verifies(first, ak, "fleetnonce1"));
	g_assert_false(quote_verifies(first, other_ak, "fleetnonce1"));
	g_assert_false(quote_verifies(first, ak, "fleetnonce2"));
	g_assert_true(json_object_has_member(first, "pubkey"));
	input1 = round_input(first, "fleetnonce1", ak, policy, NULL);
	round1 = kl_attestation_run(input1);
	for (guint i = 0; i < round1->findings->len; i++)
		g_test_message("finding: %s",
			       kl_finding_to_string(g_ptr_array_index(round1->findings, i)));
	g_assert_true(round1->passed);
	g_assert_true(round1->ima_evaluated);
	g_assert_cmpuint(round1->ima_state.next_entry, ==, SIM_ENTRIES + 1);

	/* one unlisted file in agent 1's log: the next round, resuming at
	 * the saved entry, fails and names it */
	sim_command(f, "inject 1");
	injected = sim_read_line(f);
	g_assert_true(g_str_has_prefix(injected, "injected 1 "));
	second = fetch_quote(f, client, 1, "fleetnonce3", round1->ima_state.next_entry, &error);
	g_assert_no_error(error);
	g_assert_cmpint(json_object_get_int_member(second, "ima_measurement_list_entry"),
			==,
			SIM_ENTRIES + 1);
	input2 = round_input(second, "fleetnonce3", ak, policy, &round1->ima_state);
	round2 = kl_attestation_run(input2);
	g_assert_false(round2->passed);
	for (guint i = 0; i < round2->findings->len; i++) {
		KlFinding *finding = g_ptr_array_index(round2->findings, i);
		if (finding->subject != NULL && strstr(finding->subject, "fleet-injected") != NULL)
			named = TRUE;
	}
	g_assert_true(named);

	/* the simulator counted both quotes and one interval between them */
	sim_command(f, "stats");
	stats = sim_read_line(f);
	g_assert_true(g_str_has_prefix(stats, "stats "));
	stats_node = json_from_string(stats + 6, &error);
	g_assert_no_error(error);
	g_assert_cmpint(json_object_get_int_member(json_node_get_object(stats_node), "quotes"),
			==,
			2);
	g_assert_cmpint(json_object_get_int_member(json_node_get_object(stats_node), "lag_samples"),
			==,
			1);
}

static void
test_refuses_without_client_cert(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlAgentClient) client = new_client(f, FALSE);
	g_autoptr(JsonObject) results = fetch_quote(f, client, 2, "fleetnonce4", 0, &error);

	g_assert_null(results);
	g_assert_nonnull(error);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	if (argc < 2) {
		g_printerr("usage: %s KL-FLEET-SIM\n", argv[0]);
		return 2;
	}
	sim_path = argv[1];
	g_test_add("/fleet-sim/quote-and-inject",
		   Fixture,
		   NULL,
		   fixture_set_up,
		   test_quote_and_inject,
		   fixture_tear_down);
	g_test_add("/fleet-sim/refuses-without-client-cert",
		   Fixture,
		   NULL,
		   fixture_set_up,
		   test_refuses_without_client_cert,
		   fixture_tear_down);
	return g_test_run();
}
