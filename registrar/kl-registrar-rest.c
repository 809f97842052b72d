/*
 * REST handlers of keylime_registrar: each one reads the request, calls
 * KlRegistrar and answers in Keylime's envelope; KlRegistrar's errors map
 * to HTTP statuses through kl-error (400, 403, 404, 500).
 */
#include "config.h"

#include <string.h>

#include "kl-error.h"
#include "kl-json.h"
#include "kl-registrar-rest.h"

/* a hex HMAC-SHA384 is 96 characters */
#define KL_REGISTRAR_REST_MAX_AUTH_TAG 256
/* a registration carries two TPM2B_PUBLICs and two certificates */
#define KL_REGISTRAR_REST_MAX_BODY (256 * 1024)

static const KlApiVersion kl_registrar_rest_versions[] = {
	{2, 0},
	{2, 1},
	{2, 2},
	{2, 3},
	{2, 4},
	{2, 5},
	{2, 6},
};

const KlApiVersion *
kl_registrar_rest_supported_versions(gsize *n_versions)
{
	g_return_val_if_fail(n_versions != NULL, NULL);
	*n_versions = G_N_ELEMENTS(kl_registrar_rest_versions);
	return kl_registrar_rest_versions;
}

static void
kl_registrar_rest_registered_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(KlHttpRequest) request = user_data;
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
	g_autoptr(GBytes) blob = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *blob_b64 = NULL;
	g_autoptr(JsonNode) results = NULL;

	blob = kl_registrar_register_finish(KL_REGISTRAR(source), result, &error);
	if (blob == NULL) {
		kl_http_request_reply_error(request, error);
		return;
	}
	blob_b64 = g_base64_encode(g_bytes_get_data(blob, NULL), g_bytes_get_size(blob));
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "blob");
	json_builder_add_string_value(builder, blob_b64);
	json_builder_end_object(builder);
	results = json_builder_get_root(builder);
	kl_http_request_reply_ok(request, results);
}

/* POST /agents/{agent_id}: checks and MakeCredential in a worker thread */
static gboolean
kl_registrar_rest_register(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlRegistrar *registrar = KL_REGISTRAR(user_data);
	const gchar *agent_id = kl_http_request_get_capture(request, "agent_id");
	JsonObject *body;

	body = kl_http_request_require_body(request, error);
	if (body == NULL)
		return FALSE;
	kl_registrar_register_async(registrar,
				    agent_id,
				    body,
				    NULL,
				    kl_registrar_rest_registered_cb,
				    kl_http_request_ref(request));
	return TRUE;
}

/* PUT /agents/{agent_id}, PUT|POST /agents/{agent_id}/activate */
static gboolean
kl_registrar_rest_activate(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlRegistrar *registrar = KL_REGISTRAR(user_data);
	const gchar *agent_id = kl_http_request_get_capture(request, "agent_id");
	const gchar *auth_tag = NULL;
	JsonObject *body;

	body = kl_http_request_require_body(request, error);
	if (body == NULL)
		return FALSE;
	if (!kl_json_object_get_string(body, "auth_tag", &auth_tag, error))
		return FALSE;
	if (strlen(auth_tag) > KL_REGISTRAR_REST_MAX_AUTH_TAG) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "auth_tag: too long");
		return FALSE;
	}
	if (!kl_registrar_activate(registrar, agent_id, auth_tag, error))
		return FALSE;
	kl_http_request_reply_ok(request, NULL);
	return TRUE;
}

/* GET /agents */
static gboolean
kl_registrar_rest_list(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlRegistrar *registrar = KL_REGISTRAR(user_data);
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
	g_autoptr(GPtrArray) ids = NULL;
	g_autoptr(JsonNode) results = NULL;

	ids = kl_registrar_list_agents(registrar, error);
	if (ids == NULL)
		return FALSE;
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "uuids");
	json_builder_begin_array(builder);
	for (guint i = 0; i < ids->len; i++)
		json_builder_add_string_value(builder, g_ptr_array_index(ids, i));
	json_builder_end_array(builder);
	json_builder_end_object(builder);
	results = json_builder_get_root(builder);
	kl_http_request_reply_ok(request, results);
	return TRUE;
}

/* GET /agents/{agent_id}: only activated agents, as upstream */
static gboolean
kl_registrar_rest_show(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlRegistrar *registrar = KL_REGISTRAR(user_data);
	const gchar *agent_id = kl_http_request_get_capture(request, "agent_id");
	g_autoptr(KlRegistrarAgent) agent = NULL;
	g_autoptr(JsonNode) results = NULL;

	agent = kl_registrar_get_agent(registrar, agent_id, TRUE, error);
	if (agent == NULL)
		return FALSE;
	results = kl_registrar_agent_to_json(agent);
	kl_http_request_reply_ok(request, results);
	return TRUE;
}

/* DELETE /agents/{agent_id} */
static gboolean
kl_registrar_rest_delete(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlRegistrar *registrar = KL_REGISTRAR(user_data);
	const gchar *agent_id = kl_http_request_get_capture(request, "agent_id");

	if (!kl_registrar_delete_agent(registrar, agent_id, error))
		return FALSE;
	kl_http_request_reply_ok(request, NULL);
	return TRUE;
}

static const KlHttpRoute kl_registrar_rest_routes[] = {
	{"POST",
	 "/agents/{agent_id}",
	 KL_HTTP_ROUTE_FLAG_ASYNC,
	 NULL,
	 NULL,
	 KL_REGISTRAR_REST_MAX_BODY,
	 kl_registrar_rest_register},
	{"PUT",
	 "/agents/{agent_id}",
	 KL_HTTP_ROUTE_FLAG_NONE,
	 NULL,
	 NULL,
	 0,
	 kl_registrar_rest_activate},
	{"PUT",
	 "/agents/{agent_id}/activate",
	 KL_HTTP_ROUTE_FLAG_NONE,
	 NULL,
	 NULL,
	 0,
	 kl_registrar_rest_activate},
	{"POST",
	 "/agents/{agent_id}/activate",
	 KL_HTTP_ROUTE_FLAG_NONE,
	 NULL,
	 NULL,
	 0,
	 kl_registrar_rest_activate},
	{"GET", "/agents", KL_HTTP_ROUTE_FLAG_CLIENT_CERT, NULL, NULL, 0, kl_registrar_rest_list},
	{"GET",
	 "/agents/{agent_id}",
	 KL_HTTP_ROUTE_FLAG_CLIENT_CERT,
	 NULL,
	 NULL,
	 0,
	 kl_registrar_rest_show},
	{"DELETE",
	 "/agents/{agent_id}",
	 KL_HTTP_ROUTE_FLAG_CLIENT_CERT,
	 NULL,
	 NULL,
	 0,
	 kl_registrar_rest_delete},
};

KlHttpRouter *
kl_registrar_rest_router_new(KlRegistrar *registrar, GError **error)
{
	g_autoptr(KlHttpRouter) router = NULL;
	KlApiVersion current = KL_API_VERSION_CURRENT;

	g_return_val_if_fail(KL_IS_REGISTRAR(registrar), NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	router = kl_http_router_new(&current,
				    kl_registrar_rest_versions,
				    G_N_ELEMENTS(kl_registrar_rest_versions));
	if (!kl_http_router_add_routes(router,
				       kl_registrar_rest_routes,
				       G_N_ELEMENTS(kl_registrar_rest_routes),
				       registrar,
				       error))
		return NULL;
	return g_steal_pointer(&router);
}
