/*
 * REST handlers of keylime_verifier (spec §2.3): each one reads the
 * request, calls KlVerifier (or kl-verifier-evidence for the stateless
 * checks) and answers in Keylime's envelope with upstream's bodies and
 * status codes.
 */
#include "config.h"

#include <string.h>

#include "kl-agent-id.h"
#include "kl-base64.h"
#include "kl-error.h"
#include "kl-json.h"
#include "kl-verifier-evidence.h"
#include "kl-verifier-rest.h"

/* upstream's default max_upload_size */
#define KL_VERIFIER_REST_DEFAULT_MAX_UPLOAD (100 * 1024 * 1024)

static const KlApiVersion kl_verifier_rest_versions[] = {
	{2, 0},
	{2, 1},
	{2, 2},
	{2, 3},
	{2, 4},
	{2, 5},
	{2, 6},
};

/* What every handler gets as user data; owned by the router. */
typedef struct {
	KlVerifier *verifier; /* reference */
	KlVerifierStore *store;
	gchar *mb_policy_name;
	gchar **mb_policy_dirs;
} KlVerifierRestContext;

static void
kl_verifier_rest_context_free(gpointer data)
{
	KlVerifierRestContext *context = data;

	g_clear_object(&context->verifier);
	g_free(context->mb_policy_name);
	g_strfreev(context->mb_policy_dirs);
	g_free(context);
}

void
kl_verifier_rest_options_init(KlVerifierRestOptions *options)
{
	g_return_if_fail(options != NULL);
	memset(options, 0, sizeof(*options));
	options->server.tls = TRUE;
	options->server.client_cert = KL_HTTP_CLIENT_CERT_REQUIRED;
	options->max_upload_size = KL_VERIFIER_REST_DEFAULT_MAX_UPLOAD;
}

const KlApiVersion *
kl_verifier_rest_supported_versions(gsize *n_versions)
{
	g_return_val_if_fail(n_versions != NULL, NULL);
	*n_versions = G_N_ELEMENTS(kl_verifier_rest_versions);
	return kl_verifier_rest_versions;
}

/* --- the status object --- */

/* A float as Python's str() writes it for intervals: 2.0, 0.5, 1.25 */
static gchar *
kl_verifier_rest_python_float(gdouble value)
{
	gchar buffer[G_ASCII_DTOSTR_BUF_SIZE];

	if (value == (gdouble)(gint64)value && value > -1e15 && value < 1e15)
		return g_strdup_printf("%" G_GINT64_FORMAT ".0", (gint64)value);
	for (gint precision = 1; precision <= 17; precision++) {
		gchar format[8];
		g_snprintf(format, sizeof(format), "%%.%dg", precision);
		g_ascii_formatd(buffer, sizeof(buffer), format, value);
		if (g_ascii_strtod(buffer, NULL) == value)
			break;
	}
	return g_strdup(buffer);
}

static void
kl_verifier_rest_add_nullable_int(JsonBuilder *builder, const gchar *member, gint64 value)
{
	json_builder_set_member_name(builder, member);
	if (value == KL_VERIFIER_NULL)
		json_builder_add_null_value(builder);
	else
		json_builder_add_int_value(builder, value);
}

static void
kl_verifier_rest_add_nullable_string(JsonBuilder *builder, const gchar *member, const gchar *value)
{
	json_builder_set_member_name(builder, member);
	if (value == NULL)
		json_builder_add_null_value(builder);
	else
		json_builder_add_string_value(builder, value);
}

static void
kl_verifier_rest_add_strv(JsonBuilder *builder, const gchar *member, GStrv values)
{
	json_builder_set_member_name(builder, member);
	if (values == NULL) {
		json_builder_add_null_value(builder);
		return;
	}
	json_builder_begin_array(builder);
	for (guint i = 0; values[i] != NULL; i++)
		json_builder_add_string_value(builder, values[i]);
	json_builder_end_array(builder);
}

/* upstream: has_runtime_policy when the policy's generator > EmptyAllowList */
static gboolean
kl_verifier_rest_has_runtime_policy(KlVerifierStore *store, const KlVerifierAgent *agent)
{
	g_autoptr(KlVerifierPolicy) policy = NULL;

	if (store == NULL || agent->ima_policy_id == KL_VERIFIER_NULL)
		return FALSE;
	policy = kl_verifier_store_get_policy_by_id(store,
						    KL_VERIFIER_POLICY_RUNTIME,
						    agent->ima_policy_id,
						    NULL);
	return policy != NULL && policy->generator != KL_VERIFIER_NULL && policy->generator > 1;
}

/* upstream: has_mb_refstate when the reference state parses to something truthy */
static gboolean
kl_verifier_rest_has_mb_refstate(KlVerifierStore *store, const KlVerifierAgent *agent)
{
	g_autoptr(KlVerifierPolicy) policy = NULL;
	g_autoptr(JsonNode) node = NULL;
	gsize length;

	if (store == NULL || agent->mb_policy_id == KL_VERIFIER_NULL)
		return FALSE;
	policy = kl_verifier_store_get_policy_by_id(store,
						    KL_VERIFIER_POLICY_MB,
						    agent->mb_policy_id,
						    NULL);
	if (policy == NULL || policy->policy == NULL)
		return FALSE;
	length = strlen(policy->policy);
	node = kl_json_parse(policy->policy, length, length + 1, 512, NULL);
	if (node == NULL || JSON_NODE_HOLDS_NULL(node))
		return FALSE;
	if (JSON_NODE_HOLDS_OBJECT(node))
		return json_object_get_size(json_node_get_object(node)) > 0;
	if (JSON_NODE_HOLDS_ARRAY(node))
		return json_array_get_length(json_node_get_array(node)) > 0;
	return TRUE;
}

/* §2.3: PASS / FAIL / PENDING for pull agents, push agents by their counters */
static const gchar *
kl_verifier_rest_attestation_status(const KlVerifierAgent *agent)
{
	gboolean push = agent->operational_state == KL_VERIFIER_NULL ||
			(agent->ip == NULL && agent->port == KL_VERIFIER_NULL);
	gint64 failures = agent->consecutive_attestation_failures;
	gint64 count = agent->attestation_count;

	if (push) {
		if (failures != KL_VERIFIER_NULL && failures > 0)
			return "FAIL";
		if (!agent->accept_attestations)
			return "TIMEOUT";
		return count != KL_VERIFIER_NULL && count > 0 ? "PASS" : "PENDING";
	}
	switch ((KlVerifierState)agent->operational_state) {
	case KL_VERIFIER_STATE_GET_QUOTE:
	case KL_VERIFIER_STATE_GET_QUOTE_RETRY:
	case KL_VERIFIER_STATE_PROVIDE_V:
	case KL_VERIFIER_STATE_PROVIDE_V_RETRY:
		return "PASS";
	case KL_VERIFIER_STATE_FAILED:
	case KL_VERIFIER_STATE_INVALID_QUOTE:
	case KL_VERIFIER_STATE_TENANT_FAILED:
		return "FAIL";
	case KL_VERIFIER_STATE_REGISTERED:
	case KL_VERIFIER_STATE_START:
	case KL_VERIFIER_STATE_SAVED:
	case KL_VERIFIER_STATE_TERMINATED:
	default:
		return "PENDING";
	}
}

JsonNode *
kl_verifier_rest_status_new(KlVerifier *verifier,
			    KlVerifierStore *store,
			    const KlVerifierAgent *agent)
{
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
	g_autofree gchar *interval = NULL;
	g_autofree gchar *period = NULL;
	g_autofree gchar *maximum = NULL;
	gdouble quote_interval;

	g_return_val_if_fail(KL_IS_VERIFIER(verifier), NULL);
	g_return_val_if_fail(agent != NULL, NULL);

	quote_interval = kl_verifier_get_quote_interval(verifier);
	interval = kl_verifier_rest_python_float(quote_interval);
	period = g_strdup_printf("%ss", interval);
	g_clear_pointer(&interval, g_free);
	interval = kl_verifier_rest_python_float(5 * quote_interval);
	maximum = g_strdup_printf("%ss", interval);

	json_builder_begin_object(builder);
	kl_verifier_rest_add_nullable_int(builder, "operational_state", agent->operational_state);
	kl_verifier_rest_add_nullable_string(builder, "v", agent->v);
	kl_verifier_rest_add_nullable_string(builder, "ip", agent->ip);
	kl_verifier_rest_add_nullable_int(builder, "port", agent->port);
	kl_verifier_rest_add_nullable_string(builder, "tpm_policy", agent->tpm_policy);
	kl_verifier_rest_add_nullable_string(builder, "meta_data", agent->meta_data);
	json_builder_set_member_name(builder, "has_mb_refstate");
	json_builder_add_int_value(builder, kl_verifier_rest_has_mb_refstate(store, agent) ? 1 : 0);
	json_builder_set_member_name(builder, "has_runtime_policy");
	json_builder_add_int_value(builder,
				   kl_verifier_rest_has_runtime_policy(store, agent) ? 1 : 0);
	kl_verifier_rest_add_strv(builder, "accept_tpm_hash_algs", agent->accept_tpm_hash_algs);
	kl_verifier_rest_add_strv(builder,
				  "accept_tpm_encryption_algs",
				  agent->accept_tpm_encryption_algs);
	kl_verifier_rest_add_strv(builder,
				  "accept_tpm_signing_algs",
				  agent->accept_tpm_signing_algs);
	kl_verifier_rest_add_nullable_string(builder, "hash_alg", agent->hash_alg);
	kl_verifier_rest_add_nullable_string(builder, "enc_alg", agent->enc_alg);
	kl_verifier_rest_add_nullable_string(builder, "sign_alg", agent->sign_alg);
	kl_verifier_rest_add_nullable_string(builder, "verifier_id", agent->verifier_id);
	kl_verifier_rest_add_nullable_string(builder, "verifier_ip", agent->verifier_ip);
	kl_verifier_rest_add_nullable_int(builder, "verifier_port", agent->verifier_port);
	kl_verifier_rest_add_nullable_int(builder, "severity_level", agent->severity_level);
	kl_verifier_rest_add_nullable_string(builder, "last_event_id", agent->last_event_id);
	kl_verifier_rest_add_nullable_int(builder, "attestation_count", agent->attestation_count);
	kl_verifier_rest_add_nullable_int(builder,
					  "last_received_quote",
					  agent->last_received_quote);
	kl_verifier_rest_add_nullable_int(builder,
					  "last_successful_attestation",
					  agent->last_successful_attestation);
	json_builder_set_member_name(builder, "attestation_status");
	json_builder_add_string_value(builder, kl_verifier_rest_attestation_status(agent));
	json_builder_set_member_name(builder, "attestation_period");
	json_builder_add_string_value(builder, period);
	json_builder_set_member_name(builder, "maximum_attestation_interval");
	json_builder_add_string_value(builder, maximum);
	json_builder_end_object(builder);
	return json_builder_get_root(builder);
}

/* The engine's copy for its own agents, the store's row for another
 * verifier's (upstream reads the row whatever its verifier_id). */
static KlVerifierAgent *
kl_verifier_rest_lookup_agent(KlVerifierRestContext *context, const gchar *agent_id, GError **error)
{
	g_autoptr(GError) local_error = NULL;
	KlVerifierAgent *agent;

	agent = kl_verifier_get_agent(context->verifier, agent_id, &local_error);
	if (agent != NULL)
		return agent;
	if (!g_error_matches(local_error, KL_ERROR, KL_ERROR_NOT_FOUND) || context->store == NULL) {
		g_propagate_error(error, g_steal_pointer(&local_error));
		return NULL;
	}
	g_clear_error(&local_error);
	agent = kl_verifier_store_get_agent(context->store, agent_id, &local_error);
	if (agent != NULL)
		return agent;
	if (local_error != NULL)
		g_propagate_error(error, g_steal_pointer(&local_error));
	else
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_NOT_FOUND,
			    "agent id not found: %s",
			    agent_id);
	return NULL;
}

/* --- agents --- */

/* POST /agents/{agent_id}: enrolment, checked field by field by the engine */
static gboolean
kl_verifier_rest_add_agent(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlVerifierRestContext *context = user_data;
	const gchar *agent_id = kl_http_request_get_capture(request, "agent_id");
	JsonObject *body;

	body = kl_http_request_require_body(request, error);
	if (body == NULL)
		return FALSE;
	if (!kl_verifier_add_agent(context->verifier, agent_id, body, error))
		return FALSE;
	kl_http_request_reply_ok(request, NULL);
	return TRUE;
}

/* GET /agents/{agent_id} */
static gboolean
kl_verifier_rest_get_agent(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlVerifierRestContext *context = user_data;
	const gchar *agent_id = kl_http_request_get_capture(request, "agent_id");
	g_autoptr(KlVerifierAgent) agent = NULL;
	g_autoptr(JsonNode) results = NULL;

	agent = kl_verifier_rest_lookup_agent(context, agent_id, error);
	if (agent == NULL)
		return FALSE;
	results = kl_verifier_rest_status_new(context->verifier, context->store, agent);
	kl_http_request_reply_ok(request, results);
	return TRUE;
}

static gboolean
kl_verifier_rest_query_is_true(const gchar *value)
{
	return value != NULL &&
	       (g_ascii_strcasecmp(value, "true") == 0 || g_strcmp0(value, "1") == 0);
}

/* The agents of @verifier_id (NULL: every verifier's), as the engine or
 * the store has them.  Of KlVerifierAgent when @records, else ids. */
static GPtrArray *
kl_verifier_rest_list(KlVerifierRestContext *context,
		      const gchar *verifier_id,
		      gboolean records,
		      GError **error)
{
	const gchar *own = kl_verifier_get_verifier_id(context->verifier);
	g_autoptr(GPtrArray) ids = NULL;
	g_autoptr(GPtrArray) agents = NULL;

	if (g_strcmp0(verifier_id, own) != 0 && context->store != NULL) {
		if (!records)
			return kl_verifier_store_list_agent_ids(context->store, verifier_id, error);
		agents = kl_verifier_store_list_agents(context->store, verifier_id, error);
		if (agents == NULL)
			return NULL;
		/* this verifier's own agents as the engine knows them now */
		for (guint i = 0; i < agents->len; i++) {
			KlVerifierAgent *row = g_ptr_array_index(agents, i);
			KlVerifierAgent *fresh = NULL;
			if (g_strcmp0(row->verifier_id, own) != 0)
				continue;
			fresh = kl_verifier_get_agent(context->verifier, row->agent_id, NULL);
			if (fresh == NULL)
				continue;
			kl_verifier_agent_free(row);
			agents->pdata[i] = fresh;
		}
		return g_steal_pointer(&agents);
	}
	ids = kl_verifier_list_agent_ids(context->verifier);
	if (!records)
		return g_steal_pointer(&ids);
	agents = g_ptr_array_new_with_free_func((GDestroyNotify)kl_verifier_agent_free);
	for (guint i = 0; i < ids->len; i++) {
		KlVerifierAgent *agent =
			kl_verifier_get_agent(context->verifier, g_ptr_array_index(ids, i), NULL);
		if (agent != NULL)
			g_ptr_array_add(agents, agent);
	}
	return g_steal_pointer(&agents);
}

/* GET /agents/?verifier=<id>&bulk=True */
static gboolean
kl_verifier_rest_list_agents(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlVerifierRestContext *context = user_data;
	const gchar *verifier_id = kl_http_request_get_query(request, "verifier");
	gboolean bulk = kl_verifier_rest_query_is_true(kl_http_request_get_query(request, "bulk"));
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
	g_autoptr(GPtrArray) list = NULL;
	g_autoptr(JsonNode) results = NULL;

	list = kl_verifier_rest_list(context, verifier_id, bulk, error);
	if (list == NULL)
		return FALSE;
	json_builder_begin_object(builder);
	if (bulk) {
		for (guint i = 0; i < list->len; i++) {
			const KlVerifierAgent *agent = g_ptr_array_index(list, i);
			json_builder_set_member_name(builder, agent->agent_id);
			json_builder_add_value(builder,
					       kl_verifier_rest_status_new(context->verifier,
									   context->store,
									   agent));
		}
	} else {
		/* upstream answers the database rows: a list of one-element lists */
		json_builder_set_member_name(builder, "uuids");
		json_builder_begin_array(builder);
		for (guint i = 0; i < list->len; i++) {
			json_builder_begin_array(builder);
			json_builder_add_string_value(builder, g_ptr_array_index(list, i));
			json_builder_end_array(builder);
		}
		json_builder_end_array(builder);
	}
	json_builder_end_object(builder);
	results = json_builder_get_root(builder);
	kl_http_request_reply_ok(request, results);
	return TRUE;
}

/* DELETE /agents/{agent_id}: 200 at once, 202 while a request is on the wire */
static gboolean
kl_verifier_rest_delete_agent(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlVerifierRestContext *context = user_data;
	const gchar *agent_id = kl_http_request_get_capture(request, "agent_id");
	gboolean pending = FALSE;

	if (!kl_verifier_delete_agent(context->verifier, agent_id, &pending, error))
		return FALSE;
	if (pending)
		kl_http_request_reply(request, SOUP_STATUS_ACCEPTED, "Accepted", NULL);
	else
		kl_http_request_reply_ok(request, NULL);
	return TRUE;
}

/* PUT /agents/{agent_id}/reactivate */
static gboolean
kl_verifier_rest_reactivate(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlVerifierRestContext *context = user_data;
	const gchar *agent_id = kl_http_request_get_capture(request, "agent_id");

	if (!kl_verifier_reactivate_agent(context->verifier, agent_id, error))
		return FALSE;
	kl_http_request_reply_ok(request, NULL);
	return TRUE;
}

/* PUT /agents/{agent_id}/stop */
static gboolean
kl_verifier_rest_stop_agent(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlVerifierRestContext *context = user_data;
	const gchar *agent_id = kl_http_request_get_capture(request, "agent_id");

	if (!kl_verifier_stop_agent(context->verifier, agent_id, error))
		return FALSE;
	kl_http_request_reply_ok(request, NULL);
	return TRUE;
}

/* --- named policies --- */

static KlVerifierPolicyKind
kl_verifier_rest_policy_kind(KlHttpRequest *request)
{
	SoupServerMessage *msg = kl_http_request_get_message(request);
	const gchar *path = g_uri_get_path(soup_server_message_get_uri(msg));

	return strstr(path, "/mbpolicies") != NULL ? KL_VERIFIER_POLICY_MB
						   : KL_VERIFIER_POLICY_RUNTIME;
}

/* A member holding a JSON document: its string, or an object written out. */
static gboolean
kl_verifier_rest_get_document(JsonObject *body,
			      const gchar *member,
			      gboolean required,
			      gchar **text,
			      GError **error)
{
	JsonNode *node = json_object_get_member(body, member);
	const gchar *value = NULL;

	*text = NULL;
	if (node == NULL || JSON_NODE_HOLDS_NULL(node)) {
		if (!required)
			return TRUE;
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "%s: missing required parameter",
			    member);
		return FALSE;
	}
	if (JSON_NODE_HOLDS_OBJECT(node) || JSON_NODE_HOLDS_ARRAY(node)) {
		*text = kl_json_node_to_string(node, FALSE);
		return TRUE;
	}
	if (!kl_json_object_get_string(body, member, &value, error))
		return FALSE;
	*text = g_strdup(value);
	return TRUE;
}

/* A base64 member decoded to text; "" and absent give NULL. */
static gboolean
kl_verifier_rest_get_base64(JsonObject *body,
			    const gchar *member,
			    gboolean required,
			    gchar **text,
			    GError **error)
{
	g_autoptr(GBytes) raw = NULL;
	const gchar *value = NULL;
	gsize size = 0;
	const gchar *data;

	*text = NULL;
	if (!kl_json_object_get_optional_string(body, member, &value, error))
		return FALSE;
	if (value == NULL || *value == '\0') {
		if (!required)
			return TRUE;
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "%s: missing required parameter",
			    member);
		return FALSE;
	}
	raw = kl_base64_decode(value, -1, KL_BASE64_FLAG_ALLOW_SPACE, error);
	if (raw == NULL) {
		g_prefix_error(error, "%s: ", member);
		kl_error_convert(error);
		return FALSE;
	}
	data = g_bytes_get_data(raw, &size);
	if (memchr(data, '\0', size) != NULL || !g_utf8_validate(data, (gssize)size, NULL)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "%s: not UTF-8 text",
			    member);
		return FALSE;
	}
	*text = g_strndup(data, size);
	return TRUE;
}

/* POST (201, 409) and PUT (201, 404) /allowlists/{name}, /mbpolicies/{name} */
static gboolean
kl_verifier_rest_put_policy(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlVerifierRestContext *context = user_data;
	const gchar *name = kl_http_request_get_capture(request, "name");
	KlVerifierPolicyKind kind = kl_verifier_rest_policy_kind(request);
	gboolean replace =
		g_strcmp0(soup_server_message_get_method(kl_http_request_get_message(request)),
			  "PUT") == 0;
	g_autofree gchar *policy = NULL;
	g_autofree gchar *key = NULL;
	g_autofree gchar *tpm_policy = NULL;
	JsonObject *body;

	body = kl_http_request_require_body(request, error);
	if (body == NULL)
		return FALSE;
	switch (kind) {
	case KL_VERIFIER_POLICY_RUNTIME:
		if (!kl_verifier_rest_get_base64(body, "runtime_policy", TRUE, &policy, error) ||
		    !kl_verifier_rest_get_base64(body, "runtime_policy_key", FALSE, &key, error) ||
		    !kl_verifier_rest_get_document(body, "tpm_policy", FALSE, &tpm_policy, error))
			return FALSE;
		break;
	case KL_VERIFIER_POLICY_MB:
		if (!kl_verifier_rest_get_document(body, "mb_policy", TRUE, &policy, error))
			return FALSE;
		break;
	default:
		g_assert_not_reached();
	}
	if (!kl_verifier_put_policy(context->verifier,
				    kind,
				    name,
				    policy,
				    key,
				    tpm_policy,
				    replace,
				    error))
		return FALSE;
	kl_http_request_reply(request, SOUP_STATUS_CREATED, "Created", NULL);
	return TRUE;
}

/* GET /allowlists, /mbpolicies */
static gboolean
kl_verifier_rest_list_policies(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlVerifierRestContext *context = user_data;
	KlVerifierPolicyKind kind = kl_verifier_rest_policy_kind(request);
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
	g_autoptr(GPtrArray) names = NULL;
	g_autoptr(JsonNode) results = NULL;

	names = kl_verifier_list_policies(context->verifier, kind, error);
	if (names == NULL)
		return FALSE;
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder,
				     kind == KL_VERIFIER_POLICY_MB ? "mbpolicy names"
								   : "runtimepolicy names");
	json_builder_begin_array(builder);
	for (guint i = 0; i < names->len; i++)
		json_builder_add_string_value(builder, g_ptr_array_index(names, i));
	json_builder_end_array(builder);
	json_builder_end_object(builder);
	results = json_builder_get_root(builder);
	kl_http_request_reply_ok(request, results);
	return TRUE;
}

/* GET /allowlists/{name}: {name, tmp_policy: null, runtime_policy};
 * GET /mbpolicies/{name}: {name, mb_policy} */
static gboolean
kl_verifier_rest_get_policy(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlVerifierRestContext *context = user_data;
	const gchar *name = kl_http_request_get_capture(request, "name");
	KlVerifierPolicyKind kind = kl_verifier_rest_policy_kind(request);
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
	g_autoptr(KlVerifierPolicy) policy = NULL;
	g_autoptr(JsonNode) results = NULL;

	policy = kl_verifier_get_policy(context->verifier, kind, name, error);
	if (policy == NULL)
		return FALSE;
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "name");
	json_builder_add_string_value(builder, policy->name);
	if (kind == KL_VERIFIER_POLICY_RUNTIME) {
		/* upstream's typo, always null */
		json_builder_set_member_name(builder, "tmp_policy");
		json_builder_add_null_value(builder);
		kl_verifier_rest_add_nullable_string(builder, "runtime_policy", policy->policy);
	} else {
		kl_verifier_rest_add_nullable_string(builder, "mb_policy", policy->policy);
	}
	json_builder_end_object(builder);
	results = json_builder_get_root(builder);
	kl_http_request_reply_ok(request, results);
	return TRUE;
}

/* DELETE /allowlists/{name}, /mbpolicies/{name}: 204, 409 in use, 404 */
static gboolean
kl_verifier_rest_delete_policy(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlVerifierRestContext *context = user_data;
	const gchar *name = kl_http_request_get_capture(request, "name");
	KlVerifierPolicyKind kind = kl_verifier_rest_policy_kind(request);

	if (!kl_verifier_delete_policy(context->verifier, kind, name, error))
		return FALSE;
	kl_http_request_reply_no_content(request);
	return TRUE;
}

/* --- stateless checks --- */

/* GET /verify/identity?agent_uuid=&quote=&nonce=&hash_alg= */
static gboolean
kl_verifier_rest_verify_identity(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlVerifierRestContext *context = user_data;
	const gchar *agent_id = kl_http_request_get_query(request, "agent_uuid");
	g_autoptr(KlVerifierAgent) agent = NULL;
	g_autoptr(JsonNode) results = NULL;

	if (agent_id == NULL || *agent_id == '\0') {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "agent_uuid: missing required parameter");
		return FALSE;
	}
	if (!kl_agent_id_validate(agent_id, error))
		return FALSE;
	agent = kl_verifier_rest_lookup_agent(context, agent_id, error);
	if (agent == NULL)
		return FALSE;
	results =
		kl_verifier_evidence_verify_identity(agent,
						     kl_http_request_get_query(request, "quote"),
						     kl_http_request_get_query(request, "nonce"),
						     kl_http_request_get_query(request, "hash_alg"),
						     error);
	if (results == NULL)
		return FALSE;
	kl_http_request_reply_ok(request, results);
	return TRUE;
}

/* POST /verify/evidence: 200 judged, 400 a missing parameter or policy */
static gboolean
kl_verifier_rest_verify_evidence(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlVerifierRestContext *context = user_data;
	g_autoptr(JsonNode) results = NULL;
	JsonObject *body;
	guint status = 0;

	body = kl_http_request_require_body(request, error);
	if (body == NULL)
		return FALSE;
	results = kl_verifier_evidence_verify(body,
					      context->mb_policy_name,
					      (const gchar *const *)context->mb_policy_dirs,
					      &status,
					      error);
	if (results == NULL)
		return FALSE;
	if (status == SOUP_STATUS_OK)
		kl_http_request_reply_ok(request, results);
	else
		kl_http_request_reply(request, status, "Bad Request", results);
	return TRUE;
}

#define KL_ADMIN KL_HTTP_ROUTE_FLAG_CLIENT_CERT

static const KlHttpRoute kl_verifier_rest_routes[] = {
	{"POST", "/agents/{agent_id}", KL_ADMIN, NULL, NULL, 0, kl_verifier_rest_add_agent},
	{"GET", "/agents/{agent_id}", KL_ADMIN, NULL, NULL, 0, kl_verifier_rest_get_agent},
	{"DELETE", "/agents/{agent_id}", KL_ADMIN, NULL, NULL, 0, kl_verifier_rest_delete_agent},
	{"GET", "/agents", KL_ADMIN, NULL, NULL, 0, kl_verifier_rest_list_agents},
	{"PUT",
	 "/agents/{agent_id}/reactivate",
	 KL_ADMIN,
	 NULL,
	 NULL,
	 0,
	 kl_verifier_rest_reactivate},
	{"PUT", "/agents/{agent_id}/stop", KL_ADMIN, NULL, NULL, 0, kl_verifier_rest_stop_agent},
	{"GET", "/allowlists", KL_ADMIN, NULL, NULL, 0, kl_verifier_rest_list_policies},
	{"GET", "/allowlists/{name}", KL_ADMIN, NULL, NULL, 0, kl_verifier_rest_get_policy},
	{"POST", "/allowlists/{name}", KL_ADMIN, NULL, NULL, 0, kl_verifier_rest_put_policy},
	{"PUT", "/allowlists/{name}", KL_ADMIN, NULL, NULL, 0, kl_verifier_rest_put_policy},
	{"DELETE", "/allowlists/{name}", KL_ADMIN, NULL, NULL, 0, kl_verifier_rest_delete_policy},
	{"GET", "/mbpolicies", KL_ADMIN, NULL, NULL, 0, kl_verifier_rest_list_policies},
	{"GET", "/mbpolicies/{name}", KL_ADMIN, NULL, NULL, 0, kl_verifier_rest_get_policy},
	{"POST", "/mbpolicies/{name}", KL_ADMIN, NULL, NULL, 0, kl_verifier_rest_put_policy},
	{"PUT", "/mbpolicies/{name}", KL_ADMIN, NULL, NULL, 0, kl_verifier_rest_put_policy},
	{"DELETE", "/mbpolicies/{name}", KL_ADMIN, NULL, NULL, 0, kl_verifier_rest_delete_policy},
	{"GET", "/verify/identity", KL_ADMIN, NULL, NULL, 0, kl_verifier_rest_verify_identity},
	{"POST", "/verify/evidence", KL_ADMIN, NULL, NULL, 0, kl_verifier_rest_verify_evidence},
};

KlHttpRouter *
kl_verifier_rest_router_new(KlVerifier *verifier,
			    KlVerifierStore *store,
			    const KlVerifierRestOptions *options,
			    GError **error)
{
	g_autoptr(KlHttpRouter) router = NULL;
	KlApiVersion current = KL_API_VERSION_CURRENT;
	KlVerifierRestOptions defaults;
	KlVerifierRestContext *context;
	guint64 max_upload;

	g_return_val_if_fail(KL_IS_VERIFIER(verifier), NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (options == NULL) {
		kl_verifier_rest_options_init(&defaults);
		options = &defaults;
	}
	max_upload = options->max_upload_size > 0 ? options->max_upload_size
						  : KL_VERIFIER_REST_DEFAULT_MAX_UPLOAD;
	router = kl_http_router_new(&current,
				    kl_verifier_rest_versions,
				    G_N_ELEMENTS(kl_verifier_rest_versions));
	kl_http_router_set_max_body_size(router, (gsize)MIN(max_upload, G_MAXSIZE));

	context = g_new0(KlVerifierRestContext, 1);
	context->verifier = g_object_ref(verifier);
	context->store = store;
	context->mb_policy_name = g_strdup(options->mb_policy_name);
	context->mb_policy_dirs = g_strdupv((gchar **)options->mb_policy_dirs);
	g_object_set_data_full(G_OBJECT(router),
			       "kl-verifier-rest-context",
			       context,
			       kl_verifier_rest_context_free);

	if (!kl_http_router_add_routes(router,
				       kl_verifier_rest_routes,
				       G_N_ELEMENTS(kl_verifier_rest_routes),
				       context,
				       error))
		return NULL;
	return g_steal_pointer(&router);
}

/* --- the listener --- */

struct _KlVerifierRest {
	GObject parent_instance;
	KlHttpServer *server;
};

G_DEFINE_FINAL_TYPE(KlVerifierRest, kl_verifier_rest, G_TYPE_OBJECT)

static void
kl_verifier_rest_dispose(GObject *object)
{
	KlVerifierRest *self = KL_VERIFIER_REST(object);

	if (self->server != NULL)
		kl_http_server_stop(self->server);
	g_clear_object(&self->server);
	G_OBJECT_CLASS(kl_verifier_rest_parent_class)->dispose(object);
}

static void
kl_verifier_rest_class_init(KlVerifierRestClass *klass)
{
	G_OBJECT_CLASS(klass)->dispose = kl_verifier_rest_dispose;
}

static void
kl_verifier_rest_init(KlVerifierRest *self)
{
}

KlVerifierRest *
kl_verifier_rest_new(KlVerifier *verifier,
		     KlVerifierStore *store,
		     const KlVerifierRestOptions *options,
		     GError **error)
{
	g_autoptr(KlVerifierRest) self = NULL;
	g_autoptr(KlHttpRouter) router = NULL;
	KlHttpServerOptions server_options;

	g_return_val_if_fail(KL_IS_VERIFIER(verifier), NULL);
	g_return_val_if_fail(options != NULL, NULL);

	router = kl_verifier_rest_router_new(verifier, store, options, error);
	if (router == NULL)
		return NULL;
	server_options = options->server;
	server_options.tls = TRUE;
	server_options.client_cert = KL_HTTP_CLIENT_CERT_REQUIRED;
	self = g_object_new(KL_TYPE_VERIFIER_REST, NULL);
	self->server = kl_http_server_new(router, &server_options, error);
	if (self->server == NULL)
		return NULL;
	return g_steal_pointer(&self);
}

gboolean
kl_verifier_rest_listen(KlVerifierRest *self, GError **error)
{
	g_return_val_if_fail(KL_IS_VERIFIER_REST(self), FALSE);
	return kl_http_server_listen(self->server, error);
}

void
kl_verifier_rest_stop(KlVerifierRest *self)
{
	g_return_if_fail(KL_IS_VERIFIER_REST(self));
	kl_http_server_stop(self->server);
}

guint16
kl_verifier_rest_get_port(KlVerifierRest *self)
{
	g_return_val_if_fail(KL_IS_VERIFIER_REST(self), 0);
	return kl_http_server_get_port(self->server);
}

gchar *
kl_verifier_rest_get_url(KlVerifierRest *self)
{
	g_return_val_if_fail(KL_IS_VERIFIER_REST(self), NULL);
	return kl_http_server_get_url(self->server);
}

KlHttpServer *
kl_verifier_rest_get_server(KlVerifierRest *self)
{
	g_return_val_if_fail(KL_IS_VERIFIER_REST(self), NULL);
	return self->server;
}
