/*
 * kl-attestation: one attestation round, see kl-attestation.h.  Checks are
 * libkl-core's; the order, the early returns on irrecoverable failures,
 * the incremental IMA state and the severity are this file's.
 */
#define G_LOG_DOMAIN "KlVerifier"

#include "config.h"

#include "kl-attestation.h"
#include "kl-base64.h"
#include "kl-eventlog.h"
#include "kl-ima-verify.h"
#include "kl-json.h"
#include "kl-tpm-policy.h"

/* verifier.conf values are one line; a generous bound */
#define KL_SEVERITY_MAX_SIZE  (64 * 1024)
#define KL_SEVERITY_MAX_DEPTH 4

/* the UEFI log of a real machine is well below this */
#define KL_ATTESTATION_MAX_MB_LOG (16 * 1024 * 1024)

G_DEFINE_QUARK(kl - attestation - error - quark, kl_attestation_error)

/* ------------------------------------------------------------------ */
/* severity */

typedef struct {
	GRegex *regex;
	guint level;
} KlSeverityRule;

struct _KlSeverityPolicy {
	gchar **labels;
	guint n_labels;
	GArray *rules; /* of KlSeverityRule */
};

static void
kl_severity_rule_clear(KlSeverityRule *rule)
{
	g_clear_pointer(&rule->regex, g_regex_unref);
}

static void
kl_severity_policy_clear(KlSeverityPolicy *self)
{
	g_strfreev(self->labels);
	if (self->rules != NULL)
		g_array_unref(self->rules);
}

KlSeverityPolicy *
kl_severity_policy_ref(KlSeverityPolicy *self)
{
	return g_atomic_rc_box_acquire(self);
}

void
kl_severity_policy_unref(KlSeverityPolicy *self)
{
	g_atomic_rc_box_release_full(self, (GDestroyNotify)kl_severity_policy_clear);
}

/* A Python literal (configparser value read by ast.literal_eval) as JSON:
 * '…' strings become "…", True/False/None become JSON's, and a trailing
 * comma before ] or } goes.  Anything else is left for the JSON parser to
 * refuse. */
static gchar *
kl_python_literal_to_json(const gchar *text)
{
	g_autoptr(GString) out = g_string_sized_new(strlen(text) + 8);
	const gchar *p = text;

	while (*p != '\0') {
		if (*p == '\'' || *p == '"') {
			gchar quote = *p++;
			g_string_append_c(out, '"');
			while (*p != '\0' && *p != quote) {
				if (*p == '\\' && p[1] != '\0') {
					/* \' is not a JSON escape */
					if (p[1] == '\'')
						g_string_append_c(out, '\'');
					else
						g_string_append_len(out, p, 2);
					p += 2;
					continue;
				}
				if (*p == '"' && quote == '\'')
					g_string_append(out, "\\\"");
				else
					g_string_append_c(out, *p);
				p++;
			}
			if (*p == '\0')
				return NULL; /* unterminated string */
			g_string_append_c(out, '"');
			p++;
		} else if (*p == ',') {
			const gchar *q = p + 1;
			while (g_ascii_isspace(*q))
				q++;
			if (*q != ']' && *q != '}')
				g_string_append_c(out, ',');
			p++;
		} else if (g_str_has_prefix(p, "True")) {
			g_string_append(out, "true");
			p += 4;
		} else if (g_str_has_prefix(p, "False")) {
			g_string_append(out, "false");
			p += 5;
		} else if (g_str_has_prefix(p, "None")) {
			g_string_append(out, "null");
			p += 4;
		} else {
			g_string_append_c(out, *p++);
		}
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

static JsonArray *
kl_severity_parse_list(const gchar *option, const gchar *text, GError **error)
{
	g_autofree gchar *json = kl_python_literal_to_json(text);
	g_autoptr(JsonNode) root = NULL;

	if (json == NULL) {
		g_set_error(error,
			    KL_ATTESTATION_ERROR,
			    KL_ATTESTATION_ERROR_INVALID_SEVERITY,
			    "%s: unterminated string",
			    option);
		return NULL;
	}
	root = kl_json_parse(json,
			     strlen(json),
			     KL_SEVERITY_MAX_SIZE,
			     KL_SEVERITY_MAX_DEPTH,
			     error);
	if (root == NULL) {
		g_prefix_error(error, "%s: ", option);
		return NULL;
	}
	if (!JSON_NODE_HOLDS_ARRAY(root)) {
		g_set_error(error,
			    KL_ATTESTATION_ERROR,
			    KL_ATTESTATION_ERROR_INVALID_SEVERITY,
			    "%s: not a list",
			    option);
		return NULL;
	}
	return json_array_ref(json_node_get_array(root));
}

static gboolean
kl_severity_parse_labels(KlSeverityPolicy *self, const gchar *text, GError **error)
{
	g_autoptr(JsonArray) array = kl_severity_parse_list("severity_labels", text, error);
	g_autoptr(GPtrArray) labels = g_ptr_array_new_with_free_func(g_free);

	if (array == NULL)
		return FALSE;
	for (guint i = 0; i < json_array_get_length(array); i++) {
		JsonNode *node = json_array_get_element(array, i);
		const gchar *label;
		if (!JSON_NODE_HOLDS_VALUE(node) ||
		    json_node_get_value_type(node) != G_TYPE_STRING ||
		    *(label = json_node_get_string(node)) == '\0') {
			g_set_error(error,
				    KL_ATTESTATION_ERROR,
				    KL_ATTESTATION_ERROR_INVALID_SEVERITY,
				    "severity_labels: item %u is not a non-empty string",
				    i + 1);
			return FALSE;
		}
		for (guint j = 0; j < labels->len; j++) {
			if (g_strcmp0(g_ptr_array_index(labels, j), label) != 0)
				continue;
			g_set_error(error,
				    KL_ATTESTATION_ERROR,
				    KL_ATTESTATION_ERROR_INVALID_SEVERITY,
				    "severity_labels: \"%s\" is listed twice",
				    label);
			return FALSE;
		}
		g_ptr_array_add(labels, g_strdup(label));
	}
	if (labels->len == 0) {
		g_set_error_literal(error,
				    KL_ATTESTATION_ERROR,
				    KL_ATTESTATION_ERROR_INVALID_SEVERITY,
				    "severity_labels: the list is empty");
		return FALSE;
	}
	self->n_labels = labels->len;
	g_ptr_array_add(labels, NULL);
	self->labels = (gchar **)g_ptr_array_free(g_steal_pointer(&labels), FALSE);
	return TRUE;
}

static gboolean
kl_severity_parse_rules(KlSeverityPolicy *self, const gchar *text, GError **error)
{
	g_autoptr(JsonArray) array = kl_severity_parse_list("severity_policy", text, error);

	if (array == NULL)
		return FALSE;
	for (guint i = 0; i < json_array_get_length(array); i++) {
		JsonNode *node = json_array_get_element(array, i);
		const gchar *event_id = NULL;
		const gchar *label = NULL;
		g_autofree gchar *anchored = NULL;
		g_autoptr(GError) regex_error = NULL;
		KlSeverityRule rule = {NULL, 0};
		guint level;

		if (!JSON_NODE_HOLDS_OBJECT(node) ||
		    !kl_json_object_get_string(json_node_get_object(node),
					       "event_id",
					       &event_id,
					       error) ||
		    !kl_json_object_get_string(json_node_get_object(node),
					       "severity_label",
					       &label,
					       error)) {
			if (error != NULL && *error == NULL)
				g_set_error_literal(error,
						    KL_ATTESTATION_ERROR,
						    KL_ATTESTATION_ERROR_INVALID_SEVERITY,
						    "not an object");
			g_prefix_error(error, "severity_policy: rule %u: ", i + 1);
			return FALSE;
		}
		for (level = 0; level < self->n_labels; level++) {
			if (g_strcmp0(self->labels[level], label) == 0)
				break;
		}
		if (level == self->n_labels) {
			g_set_error(error,
				    KL_ATTESTATION_ERROR,
				    KL_ATTESTATION_ERROR_INVALID_SEVERITY,
				    "severity_policy: rule %u: \"%s\" is not in severity_labels",
				    i + 1,
				    label);
			return FALSE;
		}
		/* Python's re.fullmatch */
		anchored = g_strdup_printf("(?:%s)\\z", event_id);
		rule.regex = g_regex_new(anchored,
					 G_REGEX_OPTIMIZE,
					 G_REGEX_MATCH_ANCHORED,
					 &regex_error);
		if (rule.regex == NULL) {
			g_set_error(error,
				    KL_ATTESTATION_ERROR,
				    KL_ATTESTATION_ERROR_INVALID_SEVERITY,
				    "severity_policy: rule %u: event_id: %s",
				    i + 1,
				    regex_error->message);
			return FALSE;
		}
		rule.level = level;
		g_array_append_val(self->rules, rule);
	}
	return TRUE;
}

KlSeverityPolicy *
kl_attestation_severity_policy_parse(const gchar *severity_labels,
				     const gchar *severity_policy,
				     GError **error)
{
	g_autoptr(KlSeverityPolicy) self = g_atomic_rc_box_new0(KlSeverityPolicy);

	g_autoptr(GError) error_local = NULL;

	self->rules = g_array_new(FALSE, TRUE, sizeof(KlSeverityRule));
	g_array_set_clear_func(self->rules, (GDestroyNotify)kl_severity_rule_clear);
	if (severity_labels == NULL)
		severity_labels = KL_ATTESTATION_DEFAULT_SEVERITY_LABELS;
	if (severity_policy == NULL)
		severity_policy = KL_ATTESTATION_DEFAULT_SEVERITY_POLICY;
	if (!kl_severity_parse_labels(self, severity_labels, &error_local) ||
	    !kl_severity_parse_rules(self, severity_policy, &error_local)) {
		/* one domain for the config front-end, whatever failed inside */
		g_set_error_literal(error,
				    KL_ATTESTATION_ERROR,
				    KL_ATTESTATION_ERROR_INVALID_SEVERITY,
				    error_local->message);
		return NULL;
	}
	return g_steal_pointer(&self);
}

guint
kl_severity_policy_get_max_level(KlSeverityPolicy *self)
{
	return self->n_labels - 1;
}

const gchar *
kl_severity_policy_get_label(KlSeverityPolicy *self, guint level)
{
	g_return_val_if_fail(level < self->n_labels, NULL);
	return self->labels[level];
}

guint
kl_severity_policy_get_level(KlSeverityPolicy *self, const gchar *event_id, gboolean irrecoverable)
{
	if (irrecoverable || event_id == NULL)
		return self->n_labels - 1;
	for (guint i = 0; i < self->rules->len; i++) {
		KlSeverityRule *rule = &g_array_index(self->rules, KlSeverityRule, i);
		if (g_regex_match(rule->regex, event_id, 0, NULL))
			return rule->level;
	}
	return self->n_labels - 1;
}

/* ------------------------------------------------------------------ */
/* measured boot */

struct _KlAttestationMb {
	KlMbPolicy *policy;
	KlMbRefstate *refstate;
	KlMbCheck *check;
};

static void
kl_attestation_mb_clear(KlAttestationMb *self)
{
	kl_mb_check_free(self->check);
	kl_mb_refstate_free(self->refstate);
	kl_mb_policy_free(self->policy);
}

KlAttestationMb *
kl_attestation_mb_new(KlMbPolicy *policy, KlMbRefstate *refstate, GError **error)
{
	g_autoptr(KlAttestationMb) self = NULL;

	g_return_val_if_fail(policy != NULL, NULL);
	g_return_val_if_fail(refstate != NULL, NULL);

	self = g_atomic_rc_box_new0(KlAttestationMb);
	self->policy = policy;
	self->refstate = refstate;
	if (kl_mb_refstate_is_empty(refstate))
		return NULL;
	self->check = kl_mb_policy_compile(policy, refstate, error);
	if (self->check == NULL)
		return NULL;
	return g_steal_pointer(&self);
}

KlAttestationMb *
kl_attestation_mb_ref(KlAttestationMb *self)
{
	return g_atomic_rc_box_acquire(self);
}

void
kl_attestation_mb_unref(KlAttestationMb *self)
{
	g_atomic_rc_box_release_full(self, (GDestroyNotify)kl_attestation_mb_clear);
}

/* ------------------------------------------------------------------ */
/* input and result */

static void
kl_attestation_input_clear(KlAttestationInput *self)
{
	g_clear_pointer(&self->response, json_object_unref);
	g_free(self->nonce);
	g_clear_pointer(&self->ak, kl_quote_key_unref);
	g_free(self->nk_pubkey);
	g_strfreev(self->accept_hash_algs);
	g_strfreev(self->accept_enc_algs);
	g_strfreev(self->accept_sign_algs);
	g_free(self->tpm_policy);
	g_clear_pointer(&self->runtime_policy, kl_runtime_policy_unref);
	g_clear_pointer(&self->ima_keys, g_ptr_array_unref);
	g_clear_pointer(&self->mb, kl_attestation_mb_unref);
	g_free(self->learned_keyrings);
	g_clear_pointer(&self->severity, kl_severity_policy_unref);
}

KlAttestationInput *
kl_attestation_input_new(void)
{
	KlAttestationInput *self = g_atomic_rc_box_new0(KlAttestationInput);

	self->mb_evaluate = KL_MB_EVALUATE_ONCE;
	kl_ima_state_init(&self->ima_state);
	kl_quote_clock_info_init(&self->clock_info);
	return self;
}

KlAttestationInput *
kl_attestation_input_ref(KlAttestationInput *self)
{
	return g_atomic_rc_box_acquire(self);
}

void
kl_attestation_input_unref(KlAttestationInput *self)
{
	g_atomic_rc_box_release_full(self, (GDestroyNotify)kl_attestation_input_clear);
}

void
kl_attestation_result_free(KlAttestationResult *self)
{
	if (self == NULL)
		return;
	g_ptr_array_unref(self->findings);
	g_free(self->severity_label);
	g_free(self->event_id);
	g_free(self->learned_keyrings);
	g_free(self->nk_pubkey);
	g_free(self->hash_alg);
	g_free(self->enc_alg);
	g_free(self->sign_alg);
	g_free(self);
}

/* ------------------------------------------------------------------ */
/* the round */

typedef struct {
	KlAttestationInput *input;
	KlAttestationResult *result;
	KlSeverityPolicy *severity;
	gboolean have_severity; /* result->severity_level holds a finding's level */
	/* from the response */
	const gchar *quote;
	const gchar *hash_alg;
	const gchar *enc_alg;
	const gchar *sign_alg;
	const gchar *pubkey;
	const gchar *ima_list; /* NULL: absent or null */
	gint64 ima_entry;
	const gchar *mb_list;
	gint64 boottime; /* 0: not sent */
} KlRound;

/* Adds @finding (taken), updating the severity; @keep FALSE only counts it. */
static void
kl_round_add(KlRound *round, KlFinding *finding, gboolean keep)
{
	KlAttestationResult *result = round->result;
	guint level = kl_severity_policy_get_level(round->severity,
						   finding->event_id,
						   finding->irrecoverable);

	if (finding->irrecoverable)
		result->irrecoverable = TRUE;
	if (!round->have_severity || level > result->severity_level) {
		round->have_severity = TRUE;
		result->severity_level = level;
		g_free(result->event_id);
		result->event_id = g_strdup(finding->event_id);
	}
	if (keep)
		g_ptr_array_add(result->findings, finding);
	else
		kl_finding_free(finding);
}

static void
kl_round_add_all(KlRound *round, GPtrArray *findings)
{
	for (guint i = 0; i < findings->len; i++)
		kl_round_add(round, g_steal_pointer(&findings->pdata[i]), TRUE);
	g_ptr_array_set_size(findings, 0);
}

static void kl_round_fail(KlRound *round,
			  const gchar *event_id,
			  const gchar *subject,
			  gboolean irrecoverable,
			  const gchar *format,
			  ...) G_GNUC_PRINTF(5, 6);

static void
kl_round_fail(KlRound *round,
	      const gchar *event_id,
	      const gchar *subject,
	      gboolean irrecoverable,
	      const gchar *format,
	      ...)
{
	g_autofree gchar *reason = NULL;
	KlFinding *finding;
	va_list args;

	va_start(args, format);
	reason = g_strdup_vprintf(format, args);
	va_end(args);
	finding = kl_finding_new(event_id, subject, 0, reason);
	finding->irrecoverable = irrecoverable;
	kl_round_add(round, finding, TRUE);
}

/* A member that must be a string when present (JSON null = absent). */
static gboolean
kl_round_get_string(KlRound *round, const gchar *member, gboolean required, const gchar **value)
{
	JsonObject *response = round->input->response;
	g_autoptr(GError) error = NULL;
	JsonNode *node = response != NULL ? json_object_get_member(response, member) : NULL;

	*value = NULL;
	if (node == NULL || JSON_NODE_HOLDS_NULL(node)) {
		if (!required)
			return TRUE;
		kl_round_fail(round,
			      KL_QUOTE_EVENT_ID,
			      member,
			      TRUE,
			      "the agent's response lacks \"%s\"",
			      member);
		return FALSE;
	}
	if (!kl_json_object_get_string(response, member, value, &error)) {
		kl_round_fail(round, KL_QUOTE_EVENT_ID, member, TRUE, "%s", error->message);
		return FALSE;
	}
	return TRUE;
}

static gboolean
kl_round_get_int(KlRound *round, const gchar *member, gint64 *value)
{
	JsonObject *response = round->input->response;
	g_autoptr(GError) error = NULL;
	JsonNode *node = response != NULL ? json_object_get_member(response, member) : NULL;

	*value = 0;
	if (node == NULL || JSON_NODE_HOLDS_NULL(node))
		return TRUE;
	if (!kl_json_object_get_int(response, member, 0, G_MAXINT64, value, &error)) {
		kl_round_fail(round, KL_QUOTE_EVENT_ID, member, TRUE, "%s", error->message);
		return FALSE;
	}
	return TRUE;
}

static gboolean
kl_round_read_response(KlRound *round)
{
	if (round->input->response == NULL) {
		kl_round_fail(round, KL_QUOTE_EVENT_ID, "response", TRUE, "no response object");
		return FALSE;
	}
	return kl_round_get_string(round, "quote", TRUE, &round->quote) &&
	       kl_round_get_string(round, "hash_alg", TRUE, &round->hash_alg) &&
	       kl_round_get_string(round, "enc_alg", TRUE, &round->enc_alg) &&
	       kl_round_get_string(round, "sign_alg", TRUE, &round->sign_alg) &&
	       kl_round_get_string(round, "pubkey", FALSE, &round->pubkey) &&
	       kl_round_get_string(round, "ima_measurement_list", FALSE, &round->ima_list) &&
	       kl_round_get_int(round, "ima_measurement_list_entry", &round->ima_entry) &&
	       kl_round_get_string(round, "mb_measurement_list", FALSE, &round->mb_list) &&
	       kl_round_get_int(round, "boottime", &round->boottime);
}

/* upstream's aliases: rsa is rsa2048, ecc is ecc256 */
static const gchar *
kl_enc_alg_normalise(const gchar *alg)
{
	if (g_strcmp0(alg, "rsa") == 0)
		return "rsa2048";
	if (g_strcmp0(alg, "ecc") == 0)
		return "ecc256";
	return alg;
}

static gboolean
kl_alg_accepted(const gchar *alg, gchar **accepted, gboolean enc)
{
	for (guint i = 0; accepted != NULL && accepted[i] != NULL; i++) {
		if (enc ? g_strcmp0(kl_enc_alg_normalise(accepted[i]), kl_enc_alg_normalise(alg)) ==
				    0
			: g_strcmp0(accepted[i], alg) == 0)
			return TRUE;
	}
	return FALSE;
}

/* §4.4: irrecoverable, checked before the quote */
static gboolean
kl_round_check_algs(KlRound *round)
{
	KlAttestationInput *input = round->input;
	TPM2_ALG_ID alg = 0;

	if (!kl_tpm_hash_alg_from_string(round->hash_alg, &alg) ||
	    !kl_alg_accepted(round->hash_alg, input->accept_hash_algs, FALSE)) {
		kl_round_fail(round,
			      "qoute_validation.invalid_hash_alg",
			      "hash_alg",
			      TRUE,
			      "hash algorithm \"%s\" is not accepted",
			      round->hash_alg);
		return FALSE;
	}
	if (!kl_alg_accepted(round->enc_alg, input->accept_enc_algs, TRUE)) {
		kl_round_fail(round,
			      "qoute_validation.invalid_enc_alg",
			      "enc_alg",
			      TRUE,
			      "encryption algorithm \"%s\" is not accepted",
			      round->enc_alg);
		return FALSE;
	}
	if (!kl_alg_accepted(round->sign_alg, input->accept_sign_algs, FALSE)) {
		kl_round_fail(round,
			      "qoute_validation.invalid_sign_alg",
			      "sign_alg",
			      TRUE,
			      "signing algorithm \"%s\" is not accepted",
			      round->sign_alg);
		return FALSE;
	}
	round->result->hash_alg = g_strdup(round->hash_alg);
	round->result->enc_alg = g_strdup(round->enc_alg);
	round->result->sign_alg = g_strdup(round->sign_alg);
	return TRUE;
}

/* §5.6: where this batch starts.  FALSE: an irrecoverable entry number. */
static gboolean
kl_round_ima_start(KlRound *round, gboolean *skip)
{
	KlAttestationInput *input = round->input;
	KlAttestationResult *result = round->result;
	gboolean rebooted = FALSE;

	*skip = FALSE;
	if (round->boottime != 0)
		rebooted = input->boottime != 0 && round->boottime != input->boottime;
	if (rebooted || (round->ima_list != NULL && round->ima_entry == 0)) {
		kl_ima_state_init(&result->ima_state);
		result->ima_evaluated = TRUE;
	}
	if (round->ima_list == NULL)
		return TRUE;
	if ((guint64)round->ima_entry != result->ima_state.next_entry) {
		/* a rebooted agent's log restarts: ask for entry 0 next time */
		if (rebooted) {
			*skip = TRUE;
			return TRUE;
		}
		kl_round_fail(round,
			      "qoute_validation.invalid_ima_entry_nb",
			      "ima_measurement_list_entry",
			      TRUE,
			      "the IMA list starts at entry %" G_GINT64_FORMAT
			      ", entry %" G_GUINT64_FORMAT " was asked for",
			      round->ima_entry,
			      result->ima_state.next_entry);
		return FALSE;
	}
	return TRUE;
}

static KlEventLog *
kl_round_parse_mb_log(KlRound *round)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) raw = NULL;
	KlEventLog *log;

	if (round->mb_list == NULL)
		return NULL;
	if (strlen(round->mb_list) > KL_ATTESTATION_MAX_MB_LOG / 3 * 4 + 4) {
		g_set_error(&error,
			    KL_EVENTLOG_ERROR,
			    KL_EVENTLOG_ERROR_INVALID_DATA,
			    "mb_measurement_list: larger than %u bytes",
			    (guint)KL_ATTESTATION_MAX_MB_LOG);
	} else {
		raw = kl_base64_decode(round->mb_list, -1, KL_BASE64_FLAG_NONE, &error);
	}
	if (raw == NULL) {
		kl_round_add(round, kl_eventlog_parse_failure_finding(error), TRUE);
		return NULL;
	}
	log = kl_eventlog_new_from_data(g_bytes_get_data(raw, NULL), g_bytes_get_size(raw), &error);
	if (log == NULL)
		kl_round_add(round, kl_eventlog_parse_failure_finding(error), TRUE);
	return log;
}

/* §4.6 step 3 and §5.3: the batch against the quoted PCR 10 */
static void
kl_round_check_ima(KlRound *round, KlPcrBank *bank, KlEventLog *mb_log)
{
	KlAttestationInput *input = round->input;
	KlAttestationResult *result = round->result;
	g_autoptr(GError) error = NULL;
	g_autoptr(KlImaKeyrings) learned = NULL;
	g_autoptr(KlImaLogParser) parser = NULL;
	g_autoptr(GPtrArray) aggregates = g_ptr_array_new_with_free_func(g_free);
	g_auto(KlImaResult) ima = {0};
	KlImaVerifyOptions options = {0};
	GBytes *quoted = kl_pcr_bank_get(bank, KL_IMA_PCR);
	gboolean skip = FALSE;
	guint kept = 0;

	if (quoted == NULL || !kl_round_ima_start(round, &skip))
		return;
	if (round->ima_list == NULL) {
		kl_round_fail(round,
			      "pcr_validation.unused_pcr_10",
			      "PCR 10",
			      FALSE,
			      "PCR 10 is quoted but the agent sent no IMA measurement list");
		return;
	}
	if (skip)
		return;
	if (!kl_ima_bank_from_string(round->hash_alg, &options.bank, &error)) {
		kl_round_fail(round,
			      "ima.pcr_mismatch",
			      "PCR 10",
			      FALSE,
			      "IMA cannot replay the %s bank",
			      round->hash_alg);
		return;
	}
	if (input->learned_keyrings != NULL && !kl_ima_state_is_fresh(&result->ima_state)) {
		learned = kl_ima_keyrings_new_from_json(input->learned_keyrings,
							strlen(input->learned_keyrings),
							&error);
		if (learned == NULL)
			g_clear_error(&error); /* relearned when the log is replayed again */
	}
	if (learned == NULL)
		learned = kl_ima_keyrings_new();
	if (mb_log != NULL) {
		TPM2_ALG_ID alg = kl_pcr_bank_get_hash_alg(bank);
		for (guint last = 7; last <= 9; last += 2) {
			gchar *aggregate = kl_eventlog_get_boot_aggregate(mb_log, alg, last, NULL);
			if (aggregate != NULL)
				g_ptr_array_add(aggregates, aggregate);
		}
	}
	g_ptr_array_add(aggregates, NULL);

	options.resume = &result->ima_state;
	options.quoted_pcr10 = g_bytes_get_data(quoted, &options.quoted_pcr10_len);
	options.policy = input->runtime_policy;
	options.verification_keys = input->ima_keys;
	options.learned = learned;
	options.boot_aggregates = (const gchar *const *)aggregates->pdata;
	options.ignore_tomtou_errors = input->ignore_tomtou_errors;
	parser = kl_ima_log_parser_new_for_data(round->ima_list, strlen(round->ima_list));
	if (!kl_ima_verify(parser, &options, &ima, &error)) {
		kl_round_fail(round, "ima.pcr_mismatch", "PCR 10", FALSE, "%s", error->message);
		kl_ima_state_init(&result->ima_state);
		result->ima_evaluated = TRUE;
		return;
	}
	for (guint i = 0; i < ima.findings->len; i++) {
		gboolean keep = kept < KL_ATTESTATION_MAX_IMA_FINDINGS;
		KlFinding *finding = ima.findings->pdata[i];

		/* lines of the whole measurement list, not of this round's part */
		if (finding->line > 0 && (guint64)round->ima_entry <= G_MAXUINT - finding->line)
			finding->line += (guint)round->ima_entry;
		kl_round_add(round, g_steal_pointer(&ima.findings->pdata[i]), keep);
		if (keep)
			kept++;
		else
			result->ima_findings_dropped++;
	}
	g_ptr_array_set_size(ima.findings, 0);
	result->ima_state = ima.state;
	result->ima_counts = ima.counts;
	result->ima_evaluated = TRUE;
	if (kl_ima_keyrings_get_n_keys(learned) > 0)
		result->learned_keyrings = kl_ima_keyrings_to_json(learned, NULL);
}

/* §4.6 steps 4 and 7, §7.4 */
static void
kl_round_check_mb(KlRound *round, KlPcrBank *bank, KlEventLog *mb_log)
{
	KlAttestationInput *input = round->input;
	KlAttestationMb *mb = input->mb;
	g_autoptr(GPtrArray) findings = kl_findings_new();
	guint32 quoted = kl_pcr_bank_get_mask(bank);
	guint32 relevant = kl_mb_policy_get_relevant_pcrs(mb->policy);
	guint32 pcrs = KL_EVENTLOG_MEASURED_BOOT_PCRS & quoted;

	if (relevant != 0)
		pcrs &= relevant;
	if (mb_log == NULL && round->mb_list == NULL) {
		for (guint pcr = 0; pcr < KL_TPM_PCR_COUNT; pcr++) {
			g_autofree gchar *event_id = NULL;
			g_autofree gchar *subject = NULL;
			if ((pcrs & (1u << pcr)) == 0)
				continue;
			event_id = g_strdup_printf("pcr_validation.unused_pcr_%u", pcr);
			subject = g_strdup_printf("PCR %u", pcr);
			kl_round_fail(round,
				      event_id,
				      subject,
				      FALSE,
				      "PCR %u is quoted for measured boot but the agent sent no "
				      "UEFI event log",
				      pcr);
		}
	} else if (mb_log != NULL) {
		kl_eventlog_compare_pcrs(mb_log, bank, pcrs, findings);
	}
	kl_mb_policy_check_missing_pcrs(mb->policy, quoted, findings);
	if (mb_log != NULL &&
	    (input->mb_evaluate == KL_MB_EVALUATE_ALWAYS || input->attestation_count == 0)) {
		g_autoptr(JsonNode) events = kl_eventlog_events_to_json(mb_log);
		kl_mb_check_evaluate(mb->check, json_node_get_array(events), findings);
	}
	kl_round_add_all(round, findings);
}

/* §4.6: PCR 16, IMA, measured boot, tpm_policy, missing PCRs */
static void
kl_round_check_pcrs(KlRound *round, KlQuote *quote, const gchar *pubkey)
{
	KlAttestationInput *input = round->input;
	g_autoptr(GPtrArray) findings = kl_findings_new();
	g_autoptr(KlPcrBank) empty = NULL;
	g_autoptr(KlEventLog) mb_log = NULL;
	g_autoptr(KlTpmPolicy) tpm_policy = NULL;
	KlPcrBank *bank = kl_quote_get_pcr_bank(quote, round->hash_alg);
	TPM2_ALG_ID alg = 0;

	if (bank == NULL) {
		/* a TPM without this bank: every PCR is missing */
		if (!kl_tpm_hash_alg_from_string(round->hash_alg, &alg))
			return;
		empty = kl_pcr_bank_new(alg, NULL);
		if (empty == NULL)
			return;
		bank = empty;
	}
	mb_log = kl_round_parse_mb_log(round);

	kl_quote_check_pcr16(bank, pubkey, findings);
	kl_round_add_all(round, findings);

	kl_round_check_ima(round, bank, mb_log);
	if (round->result->irrecoverable)
		return;

	if (input->mb != NULL)
		kl_round_check_mb(round, bank, mb_log);

	if (input->tpm_policy != NULL) {
		g_autoptr(GError) error = NULL;
		tpm_policy = kl_tpm_policy_new_from_json(input->tpm_policy,
							 strlen(input->tpm_policy),
							 &error);
		if (tpm_policy == NULL) {
			kl_round_fail(round,
				      "internal.verifier.exception",
				      "tpm_policy",
				      TRUE,
				      "%s",
				      error->message);
			return;
		}
		kl_tpm_policy_check(tpm_policy, bank, (1u << KL_IMA_PCR) | (1u << 16), findings);
		kl_round_add_all(round, findings);
	}
}

static void
kl_round_run(KlRound *round)
{
	KlAttestationInput *input = round->input;
	KlAttestationResult *result = round->result;
	g_autoptr(GPtrArray) findings = kl_findings_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(KlQuote) quote = NULL;
	KlQuoteClockInfo clock_info;
	const gchar *pubkey;

	if (!kl_round_read_response(round))
		return;
	if (round->boottime != 0)
		result->boottime = round->boottime;
	pubkey = round->pubkey != NULL ? round->pubkey : input->nk_pubkey;
	if (pubkey == NULL) {
		kl_round_fail(round,
			      "qoute_validation.no_pubkey",
			      "pubkey",
			      TRUE,
			      "the agent sent no NK public key and none is cached");
		return;
	}
	if (!kl_round_check_algs(round))
		return;
	result->nk_pubkey = g_strdup(round->pubkey);

	/* §4.3 */
	if (input->ak == NULL) {
		kl_round_fail(round, KL_QUOTE_EVENT_ID, "AK", TRUE, "no AK is bound to the agent");
		return;
	}
	quote = kl_quote_new_from_string(round->quote, &error);
	if (quote == NULL) {
		kl_round_fail(round, KL_QUOTE_EVENT_ID, "quote", TRUE, "%s", error->message);
		return;
	}
	if (!kl_quote_verify(quote,
			     input->ak,
			     input->nonce != NULL ? input->nonce : "",
			     round->hash_alg,
			     KL_QUOTE_VERIFY_FLAG_NONE,
			     findings)) {
		kl_round_add_all(round, findings);
		return;
	}
	kl_quote_get_clock_info(quote, &clock_info);
	if (!kl_quote_check_clock(&input->clock_info, &clock_info, findings)) {
		kl_round_add_all(round, findings);
		return;
	}
	result->clock_info = clock_info;
	result->have_clock_info = TRUE;

	kl_round_check_pcrs(round, quote, pubkey);
}

KlAttestationResult *
kl_attestation_run(KlAttestationInput *input)
{
	g_autoptr(KlSeverityPolicy) defaults = NULL;
	KlAttestationResult *result = g_new0(KlAttestationResult, 1);
	KlRound round = {0};

	g_return_val_if_fail(input != NULL, NULL);

	result->findings = kl_findings_new();
	result->ima_state = input->ima_state;
	result->boottime = input->boottime;
	result->clock_info = input->clock_info;
	round.input = input;
	round.result = result;
	round.severity = input->severity;
	if (round.severity == NULL) {
		defaults = kl_attestation_severity_policy_parse(NULL, NULL, NULL);
		round.severity = defaults;
	}

	kl_round_run(&round);

	result->passed = !round.have_severity;
	if (!result->passed) {
		result->severity_label = g_strdup(
			kl_severity_policy_get_label(round.severity, result->severity_level));
		result->stop_polling =
			result->irrecoverable ||
			result->severity_level == kl_severity_policy_get_max_level(round.severity);
	}
	return result;
}
