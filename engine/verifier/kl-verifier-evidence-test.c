/*
 * Tests of GET /verify/identity and POST /verify/evidence logic with real
 * quotes from the agent's KlTpmSoft: good ones pass, tampered ones, wrong
 * nonces, other NKs and PCR values off policy fail with upstream's event
 * ids, missing parameters are 400 failures and tee is refused.
 */
#include "config.h"

#include "kl-error.h"
#include "kl-json.h"
#include "kl-test-data.h"
#include "kl-tpm-soft.h"
#include "kl-verifier-evidence.h"

#define NONCE	"kl-evidence-nonce-0123"
#define MASK_23 (1u << 23)
#define ZERO_64 "0000000000000000000000000000000000000000000000000000000000000000"
#define ONES_64 "1111111111111111111111111111111111111111111111111111111111111111"

typedef struct {
	KlTpm *tpm;
	gchar *nk_pem;
	gchar *ak_b64;
	gchar *quote; /* NONCE, PCRs 16 and 23, sha256 */
} Fixture;

static void
fixture_setup(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	GBytes *ak = NULL;
	KlTpmOptions options;

	kl_tpm_options_init(&options);
	options.enc_alg = TPM2_ALG_RSA;
	options.sign_alg = TPM2_ALG_RSASSA;
	options.hash_alg = TPM2_ALG_SHA256;
	fx->tpm = kl_tpm_soft_new(&options, &error);
	g_assert_no_error(error);
	fx->nk_pem = kl_test_load_data(NULL, "ima", "ima-key-rsa.pub.pem", NULL);
	ak = kl_tpm_get_ak_public(fx->tpm);
	fx->ak_b64 = g_base64_encode(g_bytes_get_data(ak, NULL), g_bytes_get_size(ak));
	fx->quote = kl_tpm_quote(fx->tpm,
				 NONCE,
				 MASK_23 | (1u << 16),
				 TPM2_ALG_SHA256,
				 fx->nk_pem,
				 &error);
	g_assert_no_error(error);
}

static void
fixture_teardown(Fixture *fx, gconstpointer data)
{
	g_object_unref(fx->tpm);
	g_free(fx->nk_pem);
	g_free(fx->ak_b64);
	g_free(fx->quote);
}

/* The quote with one character of its signature part changed. */
static gchar *
tamper(const gchar *quote)
{
	gchar *copy = g_strdup(quote);
	gchar *signature = strchr(copy, ':') + 10;

	*signature = *signature == 'A' ? 'B' : 'A';
	return copy;
}

static KlVerifierAgent *
agent_new(Fixture *fx)
{
	KlVerifierAgent *agent = kl_verifier_agent_new("evidence-agent");

	agent->ak_tpm = g_strdup(fx->ak_b64);
	agent->public_key = g_strdup(fx->nk_pem);
	return agent;
}

static gchar *
to_string(JsonNode *node)
{
	return kl_json_node_to_string(node, FALSE);
}

static void
test_identity_valid(Fixture *fx, gconstpointer data)
{
	g_autoptr(KlVerifierAgent) agent = agent_new(fx);
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) results = NULL;
	g_autofree gchar *text = NULL;

	results = kl_verifier_evidence_verify_identity(agent, fx->quote, NONCE, "sha256", &error);
	g_assert_no_error(error);
	text = to_string(results);
	g_assert_cmpstr(text, ==, "{\"valid\":1}");
}

static void
assert_invalid(JsonNode *results, const gchar *reason_part)
{
	JsonObject *object = json_node_get_object(results);
	const gchar *reason = json_object_get_string_member(object, "reason");

	g_assert_cmpint(json_object_get_int_member(object, "valid"), ==, 0);
	g_assert_cmpuint(json_object_get_size(object), ==, 2);
	g_test_message("reason: %s", reason);
	g_assert_nonnull(strstr(reason, reason_part));
}

static void
test_identity_invalid(Fixture *fx, gconstpointer data)
{
	g_autoptr(KlVerifierAgent) agent = agent_new(fx);
	g_autoptr(KlVerifierAgent) other_nk = agent_new(fx);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *tampered = tamper(fx->quote);
	g_autofree gchar *other_pem = kl_test_load_data(NULL, "ima", "ima-key-ec.pub.pem", NULL);
	JsonNode *results;

	/* a signature that does not verify */
	results = kl_verifier_evidence_verify_identity(agent, tampered, NONCE, "sha256", &error);
	g_assert_no_error(error);
	assert_invalid(results, "");
	json_node_unref(results);

	/* another nonce than the quote's */
	results = kl_verifier_evidence_verify_identity(agent,
						       fx->quote,
						       "another-nonce-4567",
						       "sha256",
						       &error);
	g_assert_no_error(error);
	assert_invalid(results, "nonce");
	json_node_unref(results);

	/* PCR 16 binds another NK */
	g_free(other_nk->public_key);
	other_nk->public_key = g_steal_pointer(&other_pem);
	results =
		kl_verifier_evidence_verify_identity(other_nk, fx->quote, NONCE, "sha256", &error);
	g_assert_no_error(error);
	assert_invalid(results, "");
	json_node_unref(results);

	/* a quote that is not one */
	results = kl_verifier_evidence_verify_identity(agent, "rgarbage", NONCE, "sha256", &error);
	g_assert_no_error(error);
	assert_invalid(results, "");
	json_node_unref(results);
}

static void
test_identity_missing(Fixture *fx, gconstpointer data)
{
	g_autoptr(KlVerifierAgent) agent = agent_new(fx);
	const gchar *names[] = {"quote", "nonce", "hash_alg"};

	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(JsonNode) results =
			kl_verifier_evidence_verify_identity(agent,
							     i == 0 ? NULL : fx->quote,
							     i == 1 ? "" : NONCE,
							     i == 2 ? NULL : "sha256",
							     &error);
		g_assert_null(results);
		g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
		g_assert_true(g_str_has_prefix(error->message, names[i]));
	}
}

/* {"type": "tpm", "data": {...}} with a tpm_policy for PCR 23 */
static JsonObject *
evidence_new(Fixture *fx, const gchar *quote, const gchar *pcr23)
{
	g_autofree gchar *text = NULL;
	g_autoptr(GError) error = NULL;
	JsonObject *body;

	text = g_strdup_printf(
		"{\"type\": \"tpm\", \"data\": {\"quote\": \"%s\", \"nonce\": \"%s\", "
		"\"hash_alg\": \"sha256\", \"tpm_ak\": \"%s\", \"tpm_ek\": \"%s\", "
		"\"tpm_policy\": \"{\\\"23\\\": [\\\"%s\\\"], \\\"mask\\\": "
		"\\\"0x800000\\\"}\"}}",
		quote,
		NONCE,
		fx->ak_b64,
		fx->ak_b64,
		pcr23);
	body = kl_json_parse_object(text, strlen(text), G_MAXSIZE, 32, &error);
	g_assert_no_error(error);
	return body;
}

static JsonNode *
verify(JsonObject *body, guint expected_status)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = NULL;
	guint status = 0;
	JsonNode *results = kl_verifier_evidence_verify(body, NULL, NULL, &status, &error);

	g_assert_no_error(error);
	g_assert_nonnull(results);
	text = to_string(results);
	g_test_message("%u %s", status, text);
	g_assert_cmpuint(status, ==, expected_status);
	return results;
}

static const gchar *
first_failure(JsonNode *results)
{
	JsonArray *failures =
		json_object_get_array_member(json_node_get_object(results), "failures");

	g_assert_cmpuint(json_array_get_length(failures), >, 0);
	return json_object_get_string_member(json_array_get_object_element(failures, 0), "type");
}

static void
test_evidence_pass(Fixture *fx, gconstpointer data)
{
	g_autoptr(JsonObject) body = evidence_new(fx, fx->quote, ZERO_64);
	g_autoptr(JsonNode) results = verify(body, 200);
	g_autofree gchar *text = to_string(results);

	g_assert_cmpstr(text, ==, "{\"valid\":true,\"claims\":{},\"failures\":[]}");
}

static void
test_evidence_fail(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *tampered = tamper(fx->quote);
	g_autoptr(JsonObject) off_policy = evidence_new(fx, fx->quote, ONES_64);
	g_autoptr(JsonObject) bad_quote = evidence_new(fx, tampered, ZERO_64);
	g_autoptr(JsonNode) results = NULL;
	JsonObject *failure;

	results = verify(off_policy, 200);
	g_assert_false(json_object_get_boolean_member(json_node_get_object(results), "valid"));
	g_assert_cmpstr(first_failure(results), ==, "pcr_validation.invalid_pcr_23");
	failure = json_array_get_object_element(
		json_object_get_array_member(json_node_get_object(results), "failures"),
		0);
	g_assert_true(JSON_NODE_HOLDS_OBJECT(json_object_get_member(failure, "context")));
	g_clear_pointer(&results, json_node_unref);

	results = verify(bad_quote, 200);
	g_assert_false(json_object_get_boolean_member(json_node_get_object(results), "valid"));
	g_assert_cmpstr(first_failure(results), ==, "qoute_validation.quote_validation");
}

static void
test_evidence_missing(Fixture *fx, gconstpointer data)
{
	const gchar *required[] = {"quote", "nonce", "hash_alg", "tpm_ak"};
	g_autoptr(JsonNode) results = NULL;

	for (guint i = 0; i < G_N_ELEMENTS(required); i++) {
		g_autoptr(JsonObject) body = evidence_new(fx, fx->quote, ZERO_64);
		json_object_remove_member(json_object_get_object_member(body, "data"), required[i]);
		results = verify(body, 400);
		g_assert_cmpstr(first_failure(results), ==, "tpm.missing_param");
		g_clear_pointer(&results, json_node_unref);
	}
	{
		g_autoptr(JsonObject) body = evidence_new(fx, fx->quote, ZERO_64);
		json_object_remove_member(json_object_get_object_member(body, "data"),
					  "tpm_policy");
		results = verify(body, 400);
		g_assert_cmpstr(first_failure(results), ==, "tpm.missing_policy");
	}
}

static void
test_evidence_unsupported(Fixture *fx, gconstpointer data)
{
	const gchar *bodies[] = {
		"{\"type\": \"tee\", \"data\": {\"nonce\": \"abc\"}}",
		"{\"type\": \"sgx\", \"data\": {}}",
		"{\"type\": 3, \"data\": {}}",
		"{\"type\": \"tpm\", \"data\": []}",
	};
	const gchar *named[] = {"\"tee\" is not supported",
				"\"sgx\" is not supported",
				"type",
				"data"};

	for (guint i = 0; i < G_N_ELEMENTS(bodies); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(JsonObject) body =
			kl_json_parse_object(bodies[i], strlen(bodies[i]), G_MAXSIZE, 32, NULL);
		g_autoptr(JsonNode) results = NULL;
		guint status = 0;

		results = kl_verifier_evidence_verify(body, NULL, NULL, &status, &error);
		g_assert_null(results);
		g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
		g_test_message("%s", error->message);
		g_assert_nonnull(strstr(error->message, named[i]));
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

#define ADD(path, func) g_test_add(path, Fixture, NULL, fixture_setup, func, fixture_teardown)
	ADD("/verifier-evidence/identity/valid", test_identity_valid);
	ADD("/verifier-evidence/identity/invalid", test_identity_invalid);
	ADD("/verifier-evidence/identity/missing", test_identity_missing);
	ADD("/verifier-evidence/evidence/pass", test_evidence_pass);
	ADD("/verifier-evidence/evidence/fail", test_evidence_fail);
	ADD("/verifier-evidence/evidence/missing", test_evidence_missing);
	ADD("/verifier-evidence/evidence/unsupported", test_evidence_unsupported);
#undef ADD
	return g_test_run();
}
