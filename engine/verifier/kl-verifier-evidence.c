/*
 * The pure logic of GET /verify/identity and POST /verify/evidence (spec
 * §2.3, §2.3.1): request parsing with bounds, then the checks of
 * kl-quote and kl-attestation, answered in upstream's shapes.
 */
#include "config.h"

#include <string.h>

#include "kl-attestation.h"
#include "kl-base64.h"
#include "kl-error.h"
#include "kl-json.h"
#include "kl-mb-policy.h"
#include "kl-mb-refstate.h"
#include "kl-quote.h"
#include "kl-runtime-policy.h"
#include "kl-tpm-types.h"
#include "kl-verifier-evidence.h"

#define KL_EVIDENCE_MISSING_PARAM  "tpm.missing_param"
#define KL_EVIDENCE_MISSING_POLICY "tpm.missing_policy"

void
kl_verifier_evidence_request_free(KlVerifierEvidenceRequest *self)
{
	if (self == NULL)
		return;
	g_free(self->quote);
	g_free(self->nonce);
	g_free(self->hash_alg);
	g_free(self->tpm_ak);
	g_free(self->tpm_ek);
	g_free(self->tpm_policy);
	g_free(self->runtime_policy);
	g_free(self->mb_policy);
	g_free(self->ima_measurement_list);
	g_free(self->mb_log);
	g_free(self);
}

/* A string member; JSON null and (unless @required) absence give NULL. */
static gboolean
kl_evidence_get_string(JsonObject *data,
		       const gchar *member,
		       gboolean required,
		       gchar **value,
		       const gchar **missing,
		       GError **error)
{
	const gchar *text = NULL;
	JsonNode *node = json_object_get_member(data, member);

	if (node == NULL || JSON_NODE_HOLDS_NULL(node) ||
	    (required && JSON_NODE_HOLDS_VALUE(node) &&
	     json_node_get_value_type(node) == G_TYPE_STRING &&
	     *json_node_get_string(node) == '\0')) {
		if (!required)
			return TRUE;
		*missing = KL_EVIDENCE_MISSING_PARAM;
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "data.%s: missing required parameter",
			    member);
		return FALSE;
	}
	if (!kl_json_object_get_string(data, member, &text, error))
		return FALSE;
	if (strlen(text) > KL_VERIFIER_EVIDENCE_MAX_FIELD) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "data.%s: longer than %u bytes",
			    member,
			    (guint)KL_VERIFIER_EVIDENCE_MAX_FIELD);
		return FALSE;
	}
	*value = g_strdup(text);
	return TRUE;
}

/* A policy as a JSON string or an object; "" and null give NULL. */
static gboolean
kl_evidence_get_document(JsonObject *data, const gchar *member, gchar **value, GError **error)
{
	JsonNode *node = json_object_get_member(data, member);

	if (node != NULL && JSON_NODE_HOLDS_OBJECT(node)) {
		*value = kl_json_node_to_string(node, FALSE);
		return TRUE;
	}
	if (!kl_evidence_get_string(data, member, FALSE, value, NULL, error))
		return FALSE;
	if (*value != NULL && **value == '\0')
		g_clear_pointer(value, g_free);
	return TRUE;
}

KlVerifierEvidenceRequest *
kl_verifier_evidence_request_parse(JsonObject *body, const gchar **missing, GError **error)
{
	g_autoptr(KlVerifierEvidenceRequest) request = g_new0(KlVerifierEvidenceRequest, 1);
	const gchar *type = NULL;
	JsonObject *data = NULL;
	const gchar *dummy = NULL;

	g_return_val_if_fail(body != NULL, NULL);
	if (missing == NULL)
		missing = &dummy;
	*missing = NULL;

	if (!json_object_has_member(body, "type")) {
		*missing = KL_EVIDENCE_MISSING_PARAM;
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "type: missing required parameter");
		return NULL;
	}
	if (!kl_json_object_get_string(body, "type", &type, error))
		return NULL;
	if (g_strcmp0(type, "tpm") != 0) {
		g_autofree gchar *cut = g_strndup(type, 64);
		g_autofree gchar *shown = g_strescape(cut, NULL);
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "type: evidence type \"%s\" is not supported",
			    shown);
		return NULL;
	}
	if (!json_object_has_member(body, "data")) {
		*missing = KL_EVIDENCE_MISSING_PARAM;
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "data: missing required parameter");
		return NULL;
	}
	if (!kl_json_object_get_object(body, "data", &data, error))
		return NULL;

	if (!kl_evidence_get_string(data, "quote", TRUE, &request->quote, missing, error) ||
	    !kl_evidence_get_string(data, "nonce", TRUE, &request->nonce, missing, error) ||
	    !kl_evidence_get_string(data, "hash_alg", TRUE, &request->hash_alg, missing, error) ||
	    !kl_evidence_get_string(data, "tpm_ak", TRUE, &request->tpm_ak, missing, error) ||
	    !kl_evidence_get_string(data, "tpm_ek", FALSE, &request->tpm_ek, missing, error) ||
	    !kl_evidence_get_document(data, "tpm_policy", &request->tpm_policy, error) ||
	    !kl_evidence_get_document(data, "runtime_policy", &request->runtime_policy, error) ||
	    !kl_evidence_get_document(data, "mb_policy", &request->mb_policy, error) ||
	    !kl_evidence_get_string(data,
				    "ima_measurement_list",
				    FALSE,
				    &request->ima_measurement_list,
				    missing,
				    error) ||
	    !kl_evidence_get_string(data, "mb_log", FALSE, &request->mb_log, missing, error))
		return NULL;
	if (request->tpm_policy == NULL && request->runtime_policy == NULL &&
	    request->mb_policy == NULL) {
		*missing = KL_EVIDENCE_MISSING_POLICY;
		g_set_error_literal(
			error,
			KL_ERROR,
			KL_ERROR_INVALID_ARGUMENT,
			"data: at least one of tpm_policy, runtime_policy and mb_policy "
			"is required");
		return NULL;
	}
	return g_steal_pointer(&request);
}

/* The AK from a base64 TPM2B_PUBLIC, ready to check quotes. */
static KlQuoteKey *
kl_evidence_ak_new(const gchar *ak_b64, const gchar *field, GError **error)
{
	g_autoptr(GBytes) raw = NULL;
	KlTpmPublic *ak = NULL;
	KlQuoteKey *key;

	raw = kl_base64_decode(ak_b64, -1, KL_BASE64_FLAG_NONE, error);
	if (raw != NULL)
		ak = kl_tpm_public_new_from_data(g_bytes_get_data(raw, NULL),
						 g_bytes_get_size(raw),
						 error);
	if (ak == NULL) {
		g_prefix_error(error, "%s: ", field);
		if (error != NULL && *error != NULL && (*error)->domain != KL_ERROR) {
			GError *converted = g_error_new_literal(KL_ERROR,
								KL_ERROR_INVALID_ARGUMENT,
								(*error)->message);
			g_clear_error(error);
			g_propagate_error(error, converted);
		}
		return NULL;
	}
	key = kl_quote_key_new(kl_tpm_public_get_key(ak));
	kl_tpm_public_free(ak);
	return key;
}

/* {"type": event_id, "context": {…}} */
static void
kl_evidence_add_failure(JsonBuilder *builder, const gchar *event_id, const gchar *context_json)
{
	g_autoptr(JsonNode) context = NULL;

	if (context_json != NULL)
		context = kl_json_parse(context_json, strlen(context_json), G_MAXSIZE, 64, NULL);
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "type");
	json_builder_add_string_value(builder, event_id);
	json_builder_set_member_name(builder, "context");
	if (context != NULL && JSON_NODE_HOLDS_OBJECT(context)) {
		json_builder_add_value(builder, g_steal_pointer(&context));
	} else {
		json_builder_begin_object(builder);
		json_builder_end_object(builder);
	}
	json_builder_end_object(builder);
}

static JsonNode *
kl_evidence_results_new(gboolean valid,
			GPtrArray *findings,
			const gchar *failure_id,
			const gchar *message)
{
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "valid");
	json_builder_add_boolean_value(builder, valid);
	json_builder_set_member_name(builder, "claims");
	json_builder_begin_object(builder);
	json_builder_end_object(builder);
	json_builder_set_member_name(builder, "failures");
	json_builder_begin_array(builder);
	for (guint i = 0; findings != NULL && i < findings->len; i++) {
		const KlFinding *finding = g_ptr_array_index(findings, i);
		kl_evidence_add_failure(builder, finding->event_id, finding->context_json);
	}
	if (failure_id != NULL) {
		g_autoptr(KlFinding) finding = kl_finding_new(failure_id, NULL, 0, message);
		kl_evidence_add_failure(builder, finding->event_id, finding->context_json);
	}
	json_builder_end_array(builder);
	json_builder_end_object(builder);
	return json_builder_get_root(builder);
}

/* PCR 16 binds the agent's NK, which a one-shot request does not have:
 * upstream skips the check (§2.3.1). */
static gboolean
kl_evidence_is_pcr16_finding(const KlFinding *finding)
{
	return g_strcmp0(finding->event_id, KL_QUOTE_EVENT_INVALID_PCR16) == 0 ||
	       g_strcmp0(finding->event_id, KL_QUOTE_EVENT_MISSING_PCR16) == 0;
}

static gboolean
kl_evidence_input_add_policies(KlAttestationInput *input,
			       KlVerifierEvidenceRequest *request,
			       const gchar *mb_policy_name,
			       const gchar *const *mb_policy_dirs,
			       GError **error)
{
	if (request->tpm_policy != NULL)
		input->tpm_policy = g_strdup(request->tpm_policy);
	if (request->runtime_policy != NULL) {
		input->runtime_policy =
			kl_runtime_policy_new_from_json(request->runtime_policy,
							strlen(request->runtime_policy),
							error);
		if (input->runtime_policy == NULL) {
			g_prefix_error(error, "data.runtime_policy: ");
			return FALSE;
		}
	}
	if (request->mb_policy != NULL) {
		KlMbRefstate *refstate = NULL;
		KlMbPolicy *policy = NULL;

		refstate = kl_mb_refstate_new_from_json(request->mb_policy,
							strlen(request->mb_policy),
							error);
		if (refstate == NULL) {
			g_prefix_error(error, "data.mb_policy: ");
			return FALSE;
		}
		policy = kl_mb_policy_load(mb_policy_name != NULL ? mb_policy_name : "accept-all",
					   mb_policy_dirs,
					   error);
		if (policy == NULL) {
			kl_mb_refstate_free(refstate);
			return FALSE;
		}
		input->mb = kl_attestation_mb_new(policy, refstate, error);
		if (input->mb == NULL && error != NULL && *error != NULL)
			return FALSE;
	}
	return TRUE;
}

/* Runs the pull loop's round on the one-shot evidence. */
static JsonNode *
kl_evidence_run(KlVerifierEvidenceRequest *request,
		const gchar *mb_policy_name,
		const gchar *const *mb_policy_dirs,
		GError **error)
{
	g_autoptr(KlAttestationInput) input = kl_attestation_input_new();
	g_autoptr(KlAttestationResult) result = NULL;
	g_autoptr(GPtrArray) findings = kl_findings_new();
	g_autoptr(GError) local_error = NULL;
	JsonObject *response;

	input->ak = kl_evidence_ak_new(request->tpm_ak, "data.tpm_ak", &local_error);
	if (input->ak == NULL)
		return kl_evidence_results_new(FALSE,
					       NULL,
					       KL_QUOTE_EVENT_ID,
					       local_error->message);
	if (!kl_evidence_input_add_policies(input,
					    request,
					    mb_policy_name,
					    mb_policy_dirs,
					    &local_error)) {
		/* a policy the verifier cannot read is the caller's mistake */
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    local_error->message);
		return NULL;
	}
	input->nonce = g_strdup(request->nonce);
	/* the algorithms are the quote's own: accept what the request names */
	input->accept_hash_algs = g_new0(gchar *, 2);
	input->accept_hash_algs[0] = g_strdup(request->hash_alg);
	input->accept_enc_algs = g_strsplit("rsa,ecc", ",", -1);
	input->accept_sign_algs = g_strsplit("rsassa,rsapss,ecdsa,ecschnorr,sm2", ",", -1);
	input->nk_pubkey = g_strdup("");

	response = json_object_new();
	json_object_set_string_member(response, "quote", request->quote);
	json_object_set_string_member(response, "hash_alg", request->hash_alg);
	json_object_set_string_member(
		response,
		"enc_alg",
		EVP_PKEY_get_base_id(kl_quote_key_get_pkey(input->ak)) == EVP_PKEY_EC ? "ecc"
										      : "rsa");
	json_object_set_string_member(
		response,
		"sign_alg",
		EVP_PKEY_get_base_id(kl_quote_key_get_pkey(input->ak)) == EVP_PKEY_EC ? "ecdsa"
										      : "rsassa");
	if (request->ima_measurement_list != NULL) {
		json_object_set_string_member(response,
					      "ima_measurement_list",
					      request->ima_measurement_list);
		json_object_set_int_member(response, "ima_measurement_list_entry", 0);
	}
	if (request->mb_log != NULL)
		json_object_set_string_member(response, "mb_measurement_list", request->mb_log);
	input->response = response;

	result = kl_attestation_run(input);
	for (guint i = 0; i < result->findings->len; i++) {
		KlFinding *finding = g_ptr_array_index(result->findings, i);
		if (!kl_evidence_is_pcr16_finding(finding))
			g_ptr_array_add(findings, kl_finding_copy(finding));
	}
	return kl_evidence_results_new(findings->len == 0, findings, NULL, NULL);
}

JsonNode *
kl_verifier_evidence_verify(JsonObject *body,
			    const gchar *mb_policy_name,
			    const gchar *const *mb_policy_dirs,
			    guint *status,
			    GError **error)
{
	g_autoptr(KlVerifierEvidenceRequest) request = NULL;
	g_autoptr(GError) local_error = NULL;
	const gchar *missing = NULL;
	JsonNode *results;

	g_return_val_if_fail(body != NULL, NULL);
	g_return_val_if_fail(status != NULL, NULL);

	request = kl_verifier_evidence_request_parse(body, &missing, &local_error);
	if (request == NULL) {
		if (missing == NULL) {
			g_propagate_error(error, g_steal_pointer(&local_error));
			return NULL;
		}
		*status = 400;
		return kl_evidence_results_new(FALSE, NULL, missing, local_error->message);
	}
	results = kl_evidence_run(request, mb_policy_name, mb_policy_dirs, error);
	if (results != NULL)
		*status = 200;
	return results;
}

JsonNode *
kl_verifier_evidence_verify_identity(const KlVerifierAgent *agent,
				     const gchar *quote,
				     const gchar *nonce,
				     const gchar *hash_alg,
				     GError **error)
{
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
	g_autoptr(GPtrArray) findings = kl_findings_new();
	g_autoptr(GError) local_error = NULL;
	g_autoptr(KlQuoteKey) ak = NULL;
	g_autoptr(KlQuote) parsed = NULL;
	g_autoptr(GString) reason = g_string_new(NULL);
	const gchar *params[][2] = {{"quote", quote}, {"nonce", nonce}, {"hash_alg", hash_alg}};

	g_return_val_if_fail(agent != NULL, NULL);

	for (guint i = 0; i < G_N_ELEMENTS(params); i++) {
		if (params[i][1] == NULL || *params[i][1] == '\0') {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "%s: missing required parameter",
				    params[i][0]);
			return NULL;
		}
	}
	if (agent->ak_tpm == NULL) {
		g_ptr_array_add(findings,
				kl_finding_new(KL_QUOTE_EVENT_ID, "AK", 0, "the agent has no AK"));
	} else if ((ak = kl_evidence_ak_new(agent->ak_tpm, "ak_tpm", &local_error)) == NULL) {
		g_ptr_array_add(findings,
				kl_finding_new(KL_QUOTE_EVENT_ID, "AK", 0, local_error->message));
	} else if ((parsed = kl_quote_new_from_string(quote, &local_error)) == NULL) {
		g_ptr_array_add(
			findings,
			kl_finding_new(KL_QUOTE_EVENT_ID, "quote", 0, local_error->message));
	} else if (kl_quote_verify(parsed,
				   ak,
				   nonce,
				   hash_alg,
				   KL_QUOTE_VERIFY_FLAG_NONE,
				   findings)) {
		KlPcrBank *bank = kl_quote_get_pcr_bank(parsed, hash_alg);
		if (agent->public_key == NULL)
			g_ptr_array_add(
				findings,
				kl_finding_new(KL_QUOTE_EVENT_ID,
					       "pubkey",
					       0,
					       "the agent's NK public key is not known yet"));
		else if (bank == NULL)
			g_ptr_array_add(findings,
					kl_finding_new_printf(KL_QUOTE_EVENT_MISSING_PCR16,
							      "PCR 16",
							      0,
							      "the quote has no %s bank",
							      hash_alg));
		else
			kl_quote_check_pcr16(bank, agent->public_key, findings);
	}

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "valid");
	json_builder_add_int_value(builder, findings->len == 0 ? 1 : 0);
	if (findings->len > 0) {
		for (guint i = 0; i < findings->len; i++) {
			const KlFinding *finding = g_ptr_array_index(findings, i);
			if (i > 0)
				g_string_append(reason, "; ");
			g_string_append(reason,
					finding->context_json != NULL ? finding->context_json
								      : finding->reason);
		}
		json_builder_set_member_name(builder, "reason");
		json_builder_add_string_value(builder, reason->str);
	}
	json_builder_end_object(builder);
	return json_builder_get_root(builder);
}
