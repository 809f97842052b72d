/*
 * KlHttpRouter and KlHttpServer end to end: a TLS server on 127.0.0.1
 * port 0 with optional client certificates (KlTestCa), driven by an
 * asynchronous libsoup client in the same main context.  Every answer is
 * checked to be exactly Keylime's {"code", "status", "results"} envelope.
 */
#include "config.h"

#include "kl-error.h"
#include "kl-http-server.h"
#include "kl-http-tls.h"
#include "kl-json.h"
#include "kl-test-ca.h"
#include "kl-test-dir.h"
#include "kl-test-wait.h"

#define KL_ROUTER_TIMEOUT_MS 20000

static KlTestDir *kl_router_dir;
static KlTestCa *kl_router_ca;

typedef struct {
	KlHttpServer *server;
	SoupSession *session;
	gchar *url;
	guint handled;
} KlRouterFixture;

typedef struct {
	gpointer done;
	GBytes *body;
	GError *error;
	guint status;
	gchar *allow;
	/* the parsed envelope */
	guint code;
	gchar *text;
	JsonObject *results;
} KlRouterResult;

static void
kl_router_result_clear(KlRouterResult *result)
{
	g_clear_pointer(&result->body, g_bytes_unref);
	g_clear_error(&result->error);
	g_clear_pointer(&result->allow, g_free);
	g_clear_pointer(&result->text, g_free);
	g_clear_pointer(&result->results, json_object_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(KlRouterResult, kl_router_result_clear)

/* ---- handlers --------------------------------------------------------- */

static JsonNode *
kl_router_results_new(KlHttpRequest *request, const gchar *extra_name, const gchar *extra)
{
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
	const gchar *agent_id = kl_http_request_get_capture(request, "agent_id");
	gchar buffer[KL_API_VERSION_STRING_SIZE];

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "version");
	json_builder_add_string_value(
		builder,
		kl_api_version_to_string(kl_http_request_get_version(request), buffer));
	if (agent_id != NULL) {
		json_builder_set_member_name(builder, "agent_id");
		json_builder_add_string_value(builder, agent_id);
	}
	if (extra_name != NULL) {
		json_builder_set_member_name(builder, extra_name);
		json_builder_add_string_value(builder, extra);
	}
	json_builder_end_object(builder);
	return json_builder_get_root(builder);
}

static gboolean
kl_router_echo_cb(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlRouterFixture *fixture = user_data;
	g_autoptr(JsonNode) results = kl_router_results_new(request, NULL, NULL);

	fixture->handled++;
	kl_http_request_reply_ok(request, results);
	return TRUE;
}

static gboolean
kl_router_activate_cb(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlRouterFixture *fixture = user_data;
	JsonObject *body = kl_http_request_get_body(request);
	g_autoptr(JsonNode) results = NULL;
	const gchar *auth_tag = NULL;

	fixture->handled++;
	if (body == NULL) {
		g_set_error_literal(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT, "empty body");
		return FALSE;
	}
	if (!kl_json_object_get_string(body, "auth_tag", &auth_tag, error))
		return FALSE;
	results = kl_router_results_new(request, "auth_tag", auth_tag);
	kl_http_request_reply_ok(request, results);
	return TRUE;
}

static gboolean
kl_router_peer_cb(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlRouterFixture *fixture = user_data;
	GTlsCertificate *peer = kl_http_request_get_peer_certificate(request);
	g_autofree gchar *subject = NULL;
	g_autoptr(JsonNode) results = NULL;

	fixture->handled++;
	g_assert_nonnull(peer);
	g_object_get(peer, "subject-name", &subject, NULL);
	results = kl_router_results_new(request, "peer", subject);
	kl_http_request_reply_ok(request, results);
	return TRUE;
}

/* GET /fail/{kind}: errors of several domains, mapped by the router */
static gboolean
kl_router_fail_cb(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlRouterFixture *fixture = user_data;
	const gchar *kind = kl_http_request_get_capture(request, "kind");

	fixture->handled++;
	if (g_strcmp0(kind, "io-not-found") == 0) {
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no such agent");
	} else if (g_strcmp0(kind, "conflict") == 0) {
		g_set_error_literal(error, KL_ERROR, KL_ERROR_CONFLICT, "agent exists");
	} else if (g_strcmp0(kind, "module") == 0) {
		KlApiVersion version;
		kl_api_version_parse("bad", &version, error);
	} else if (g_strcmp0(kind, "reply") == 0) {
		/* a handler may also answer an error itself */
		g_autoptr(GError) error_local =
			g_error_new_literal(KL_ERROR, KL_ERROR_UNAVAILABLE, "busy");
		kl_http_request_reply_error(request, error_local);
		return TRUE;
	} else {
		g_set_error_literal(error, G_FILE_ERROR, G_FILE_ERROR_IO, "disk on fire");
	}
	return FALSE;
}

static gboolean
kl_router_async_idle_cb(gpointer user_data)
{
	KlHttpRequest *request = user_data;
	g_autoptr(JsonNode) results = kl_router_results_new(request, "async", "yes");

	g_assert_false(kl_http_request_has_replied(request));
	kl_http_request_reply_ok(request, results);
	return G_SOURCE_REMOVE;
}

static gboolean
kl_router_async_cb(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlRouterFixture *fixture = user_data;
	const gchar *agent_id = kl_http_request_get_capture(request, "agent_id");

	fixture->handled++;
	if (g_strcmp0(agent_id, "refuse") == 0) {
		g_set_error_literal(error, KL_ERROR, KL_ERROR_NOT_FOUND, "refused early");
		return FALSE;
	}
	/* the reply comes from a later main loop iteration, as after I/O */
	g_timeout_add_full(G_PRIORITY_DEFAULT,
			   50,
			   kl_router_async_idle_cb,
			   kl_http_request_ref(request),
			   (GDestroyNotify)kl_http_request_unref);
	return TRUE;
}

static const KlHttpRoute kl_router_routes[] = {
	{"GET", "/agents/{agent_id}", 0, "2.0", NULL, 0, kl_router_echo_cb},
	{"POST", "/agents/{agent_id}", 0, "2.0", NULL, 1024, kl_router_activate_cb},
	{"PUT", "/agents/{agent_id}/activate", 0, "2.0", NULL, 0, kl_router_activate_cb},
	{"GET", "/agents", KL_HTTP_ROUTE_FLAG_CLIENT_CERT, NULL, NULL, 0, kl_router_peer_cb},
	{"GET", "/info", 0, NULL, NULL, 0, kl_router_echo_cb},
	{"GET", "/old", 0, NULL, "2.1", 0, kl_router_echo_cb},
	{"GET", "/", 0, NULL, NULL, 0, kl_router_echo_cb},
	{"GET", "/fail/{kind}", 0, NULL, NULL, 0, kl_router_fail_cb},
	{"GET", "/async/{agent_id}", KL_HTTP_ROUTE_FLAG_ASYNC, NULL, NULL, 0, kl_router_async_cb},
	{"GET", "/ping", KL_HTTP_ROUTE_FLAG_UNVERSIONED, NULL, NULL, 0, kl_router_echo_cb},
};

/* ---- fixture and client ----------------------------------------------- */

static KlHttpRouter *
kl_router_new(KlRouterFixture *fixture)
{
	gsize n_supported = 0;
	const KlApiVersion *supported = kl_api_version_server_supported(&n_supported);
	KlApiVersion current = KL_API_VERSION_CURRENT;
	g_autoptr(KlHttpRouter) router = kl_http_router_new(&current, supported, n_supported);
	g_autoptr(GError) error = NULL;

	g_assert_true(kl_http_router_add_routes(router,
						kl_router_routes,
						G_N_ELEMENTS(kl_router_routes),
						fixture,
						&error));
	g_assert_no_error(error);
	return g_steal_pointer(&router);
}

static void
kl_router_fixture_setup(KlRouterFixture *fixture, gconstpointer user_data)
{
	g_autoptr(KlHttpRouter) router = kl_router_new(fixture);
	g_autoptr(GError) error = NULL;
	KlHttpServerOptions options = {
		.ip = "127.0.0.1",
		.port = 0,
		.tls = TRUE,
		.server_cert = kl_test_ca_get_server_cert_path(kl_router_ca),
		.server_key = kl_test_ca_get_server_key_path(kl_router_ca),
		.trusted_client_ca = kl_test_ca_get_ca_cert_path(kl_router_ca),
		.client_cert = KL_HTTP_CLIENT_CERT_OPTIONAL,
	};

	fixture->server = kl_http_server_new(router, &options, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(kl_http_server_get_port(fixture->server), ==, 0);
	g_assert_true(kl_http_server_listen(fixture->server, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(kl_http_server_get_port(fixture->server), >, 0);
	fixture->url = kl_http_server_get_url(fixture->server);
	g_assert_true(g_str_has_prefix(fixture->url, "https://127.0.0.1:"));
	fixture->session =
		kl_http_client_session_new(kl_test_ca_get_ca_cert_path(kl_router_ca), &error);
	g_assert_no_error(error);
}

static gboolean
kl_router_never(gpointer user_data)
{
	return FALSE;
}

static void
kl_router_fixture_teardown(KlRouterFixture *fixture, gconstpointer user_data)
{
	g_clear_object(&fixture->session);
	g_clear_object(&fixture->server);
	g_free(fixture->url);
	/* closed TLS connections are freed from callbacks of GnuTLS threads */
	kl_test_wait_for(kl_router_never, NULL, 300);
}

static void
kl_router_send_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	KlRouterResult *result = user_data;
	result->body = soup_session_send_and_read_finish(SOUP_SESSION(source), res, &result->error);
	result->done = GINT_TO_POINTER(1);
}

/* The body must be exactly {"code": N, "status": "...", "results": {...}}. */
static void
kl_router_parse_envelope(KlRouterResult *result)
{
	g_autoptr(JsonObject) object = NULL;
	g_autoptr(GError) error = NULL;
	gsize length = 0;
	const gchar *data = g_bytes_get_data(result->body, &length);
	g_autoptr(GList) members = NULL;

	object = kl_json_parse_object(data, length, 1 << 20, 32, &error);
	g_assert_no_error(error);
	members = json_object_get_members(object);
	g_assert_cmpuint(g_list_length(members), ==, 3);
	g_assert_true(json_object_has_member(object, "code"));
	g_assert_true(json_object_has_member(object, "status"));
	g_assert_true(json_object_has_member(object, "results"));
	g_assert_true(kl_json_envelope_parse(data,
					     length,
					     1 << 20,
					     &result->code,
					     &result->text,
					     &result->results,
					     &error));
	g_assert_no_error(error);
	g_assert_cmpuint(result->code, ==, result->status);
	g_test_message("%u %s", result->code, result->text);
}

static void
kl_router_request_full(KlRouterFixture *fixture,
		       const gchar *method,
		       const gchar *path,
		       const gchar *body,
		       gsize body_length,
		       gboolean client_cert,
		       KlRouterResult *result)
{
	g_autofree gchar *url = g_strconcat(fixture->url, path, NULL);
	g_autoptr(SoupMessage) msg = soup_message_new(method, url);
	g_autoptr(GError) error = NULL;
	SoupMessageHeaders *headers;

	g_assert_nonnull(msg);
	if (body != NULL) {
		g_autoptr(GBytes) bytes = g_bytes_new(body, body_length);
		soup_message_set_request_body_from_bytes(msg, "application/json", bytes);
	}
	if (client_cert) {
		g_assert_true(kl_http_message_set_client_certificate(
			msg,
			kl_test_ca_get_client_cert_path(kl_router_ca),
			kl_test_ca_get_client_key_path(kl_router_ca),
			&error));
		g_assert_no_error(error);
	}
	soup_session_send_and_read_async(fixture->session,
					 msg,
					 G_PRIORITY_DEFAULT,
					 NULL,
					 kl_router_send_cb,
					 result);
	g_assert_true(kl_test_wait_for_pointer(&result->done, KL_ROUTER_TIMEOUT_MS));
	g_assert_no_error(result->error);
	result->status = soup_message_get_status(msg);
	headers = soup_message_get_response_headers(msg);
	result->allow = g_strdup(soup_message_headers_get_one(headers, "Allow"));
	/* libsoup answers some malformed requests itself, without JSON */
	if (g_strcmp0(soup_message_headers_get_content_type(headers, NULL), "application/json") ==
	    0)
		kl_router_parse_envelope(result);
}

static void
kl_router_request(KlRouterFixture *fixture,
		  const gchar *method,
		  const gchar *path,
		  const gchar *body,
		  KlRouterResult *result)
{
	kl_router_request_full(fixture,
			       method,
			       path,
			       body,
			       body != NULL ? strlen(body) : 0,
			       FALSE,
			       result);
}

static const gchar *
kl_router_result_string(KlRouterResult *result, const gchar *member)
{
	g_assert_nonnull(result->results);
	if (!json_object_has_member(result->results, member))
		return NULL;
	return json_object_get_string_member(result->results, member);
}

static void
kl_router_assert_error(KlRouterResult *result, guint status, const gchar *text)
{
	g_assert_cmpuint(result->status, ==, status);
	g_assert_nonnull(result->text);
	if (text != NULL && strstr(result->text, text) == NULL)
		g_error("status \"%s\" does not contain \"%s\"", result->text, text);
	/* errors carry an empty results object */
	g_assert_cmpuint(json_object_get_size(result->results), ==, 0);
}

/* ---- tests ------------------------------------------------------------ */

static void
kl_router_versions_test(KlRouterFixture *fixture, gconstpointer user_data)
{
	const struct {
		const gchar *path;
		const gchar *version; /* NULL: 400 not supported */
	} cases[] = {
		{"/v2.6/agents/abc", "2.6"},
		{"/v2.1/agents/abc", "2.1"},
		{"/v2.0/agents/abc", "2.0"},
		{"/v2/agents/abc", "2.6"},
		{"/v2/agents/abc/", "2.6"},
		{"/v3/agents/abc", "3.0"},
		{"/v3.0/info", "3.0"},
		/* 1.0 is served, but this route starts at 2.0 */
		{"/v1/agents/abc", NULL},
		{"/v1.0/agents/abc", NULL},
		{"/v1/info", "1.0"},
		{"/v1.0/info", "1.0"},
		{"/v2.1/old", "2.1"},
		{"/v2.2/old", NULL},
		{"/v2/old", NULL},
		{"/v9.9/agents/abc", NULL},
		{"/v9/agents/abc", NULL},
		{"/v2.7/agents/abc", NULL},
		{"/v9.9/no/such/path", NULL},
		{"/v2.6.1/agents/abc", NULL},
		{"/v26/agents/abc", NULL},
		{"/v2.x/agents/abc", NULL},
		{"/v2.6/", "2.6"},
		{"/v2", "2.6"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_auto(KlRouterResult) result = {0};
		g_test_message("GET %s", cases[i].path);
		kl_router_request(fixture, "GET", cases[i].path, NULL, &result);
		if (cases[i].version == NULL) {
			kl_router_assert_error(&result, 400, NULL);
			g_assert_cmpstr(result.text, ==, "API Version not supported");
			continue;
		}
		g_assert_cmpuint(result.status, ==, 200);
		g_assert_cmpstr(result.text, ==, "Success");
		g_assert_cmpstr(kl_router_result_string(&result, "version"), ==, cases[i].version);
	}
}

static void
kl_router_version_route_test(KlRouterFixture *fixture, gconstpointer user_data)
{
	g_auto(KlRouterResult) result = {0};
	g_auto(KlRouterResult) ping = {0};
	g_auto(KlRouterResult) post = {0};
	JsonArray *supported;
	const gchar *expected[] = {"1.0", "2.0", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "3.0"};

	kl_router_request(fixture, "GET", "/version", NULL, &result);
	g_assert_cmpuint(result.status, ==, 200);
	g_assert_cmpuint(json_object_get_size(result.results), ==, 2);
	g_assert_cmpstr(kl_router_result_string(&result, "current_version"), ==, "2.6");
	supported = json_object_get_array_member(result.results, "supported_versions");
	g_assert_cmpuint(json_array_get_length(supported), ==, G_N_ELEMENTS(expected));
	for (guint i = 0; i < G_N_ELEMENTS(expected); i++)
		g_assert_cmpstr(json_array_get_string_element(supported, i), ==, expected[i]);

	/* other unversioned routes, and the wrong method on one */
	kl_router_request(fixture, "GET", "/ping", NULL, &ping);
	g_assert_cmpuint(ping.status, ==, 200);
	g_assert_cmpstr(kl_router_result_string(&ping, "version"), ==, "0.0");
	kl_router_request(fixture, "POST", "/version", "{}", &post);
	kl_router_assert_error(&post, 405, "Method Not Allowed");
	g_assert_cmpstr(post.allow, ==, "GET");
}

static void
kl_router_captures_test(KlRouterFixture *fixture, gconstpointer user_data)
{
	g_auto(KlRouterResult) result = {0};
	g_auto(KlRouterResult) activate = {0};
	g_auto(KlRouterResult) encoded = {0};

	kl_router_request(fixture,
			  "GET",
			  "/v2.6/agents/d432fbb3-d2f1-4a97-9ef7-75bd81c00000",
			  NULL,
			  &result);
	g_assert_cmpuint(result.status, ==, 200);
	g_assert_cmpstr(kl_router_result_string(&result, "agent_id"),
			==,
			"d432fbb3-d2f1-4a97-9ef7-75bd81c00000");

	kl_router_request(fixture,
			  "PUT",
			  "/v2.6/agents/agent_1.x/activate",
			  "{\"auth_tag\": \"abcd\"}",
			  &activate);
	g_assert_cmpuint(activate.status, ==, 200);
	g_assert_cmpstr(kl_router_result_string(&activate, "agent_id"), ==, "agent_1.x");
	g_assert_cmpstr(kl_router_result_string(&activate, "auth_tag"), ==, "abcd");

	/* captures are percent-decoded before they are checked */
	kl_router_request(fixture, "GET", "/v2/agents/%61bc", NULL, &encoded);
	g_assert_cmpuint(encoded.status, ==, 200);
	g_assert_cmpstr(kl_router_result_string(&encoded, "agent_id"), ==, "abc");
}

static void
kl_router_not_found_test(KlRouterFixture *fixture, gconstpointer user_data)
{
	const gchar *paths[] = {"/v2.6/nothing",
				"/v2.6/agents/abc/nothing",
				"/v2.6/agents/abc/activate/x",
				"/",
				"/foo",
				"/vfoo/agents/abc",
				"/v2.6//abc",
				"/v2.6/agents//activate"};
	guint handled = fixture->handled;

	for (guint i = 0; i < G_N_ELEMENTS(paths); i++) {
		g_auto(KlRouterResult) result = {0};
		g_test_message("GET %s", paths[i]);
		kl_router_request(fixture, "GET", paths[i], NULL, &result);
		kl_router_assert_error(&result, 404, NULL);
		g_assert_cmpstr(result.text, ==, "Not Found");
	}
	g_assert_cmpuint(fixture->handled, ==, handled);
}

static void
kl_router_method_test(KlRouterFixture *fixture, gconstpointer user_data)
{
	g_auto(KlRouterResult) result = {0};
	g_auto(KlRouterResult) activate = {0};

	kl_router_request(fixture, "DELETE", "/v2.6/agents/abc", NULL, &result);
	kl_router_assert_error(&result, 405, "Method Not Allowed");
	g_assert_cmpstr(result.allow, ==, "GET, POST");

	kl_router_request(fixture, "GET", "/v2.6/agents/abc/activate", NULL, &activate);
	kl_router_assert_error(&activate, 405, NULL);
	g_assert_cmpstr(activate.allow, ==, "PUT");
}

static void
kl_router_bad_agent_id_test(KlRouterFixture *fixture, gconstpointer user_data)
{
	const struct {
		const gchar *path;
		const gchar *text;
	} cases[] = {
		{"/v2.6/agents/abc%0A",
		 "agent_id not valid: agent id has a character not in "
		 "[A-Za-z0-9_.-] at offset 3 (byte 0x0a)"},
		{"/v2.6/agents/%1B%5B31m", "(byte 0x1b)"},
		{"/v2.6/agents/a%20b/activate", "(byte 0x20)"},
		{"/v2.6/agents/%C3%A9", "(byte 0xc3)"},
	};
	guint handled = fixture->handled;

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_auto(KlRouterResult) result = {0};
		g_test_message("%s", cases[i].path);
		kl_router_request(fixture,
				  g_str_has_suffix(cases[i].path, "activate") ? "PUT" : "GET",
				  cases[i].path,
				  NULL,
				  &result);
		kl_router_assert_error(&result, 400, cases[i].text);
		/* the hostile bytes are not echoed */
		g_assert_null(strchr(result.text, '\n'));
		g_assert_null(strchr(result.text, '\x1b'));
	}
	/* libsoup refuses %00 before any handler */
	{
		g_auto(KlRouterResult) result = {0};
		kl_router_request(fixture, "GET", "/v2.6/agents/a%00b", NULL, &result);
		g_assert_cmpuint(result.status, ==, 400);
	}
	/* libsoup normalises %2F to a separator: the id is never seen */
	{
		g_auto(KlRouterResult) result = {0};
		kl_router_request(fixture, "GET", "/v2.6/agents/a%2Fb", NULL, &result);
		g_assert_cmpuint(result.status, ==, 404);
	}
	{
		g_autofree gchar *long_id = g_strnfill(256, 'a');
		g_autofree gchar *path = g_strconcat("/v2.6/agents/", long_id, NULL);
		g_auto(KlRouterResult) result = {0};
		kl_router_request(fixture, "GET", path, NULL, &result);
		kl_router_assert_error(&result, 400, "longer than 255");
	}
	g_assert_cmpuint(fixture->handled, ==, handled);
}

static void
kl_router_body_test(KlRouterFixture *fixture, gconstpointer user_data)
{
	g_autofree gchar *big = NULL;
	g_auto(KlRouterResult) too_large = {0};
	g_auto(KlRouterResult) limit = {0};
	g_auto(KlRouterResult) malformed = {0};
	g_auto(KlRouterResult) not_object = {0};
	g_auto(KlRouterResult) missing = {0};
	g_auto(KlRouterResult) wrong_type = {0};
	g_auto(KlRouterResult) empty = {0};
	g_auto(KlRouterResult) nul = {0};
	guint handled = fixture->handled;

	/* the POST route allows 1024 bytes */
	big = g_strdup_printf("{\"auth_tag\": \"%0*d\"}", 2048, 0);
	kl_router_request(fixture, "POST", "/v2.6/agents/abc", big, &too_large);
	kl_router_assert_error(&too_large, 413, "larger than 1024 bytes");
	g_assert_cmpuint(fixture->handled, ==, handled);

	/* exactly at the limit is fine */
	{
		g_autofree gchar *fits = NULL;
		gsize pad = 1024 - strlen("{\"auth_tag\": \"\"}");
		fits = g_strdup_printf("{\"auth_tag\": \"%0*d\"}", (gint)pad, 0);
		g_assert_cmpuint(strlen(fits), ==, 1024);
		kl_router_request(fixture, "POST", "/v2.6/agents/abc", fits, &limit);
		g_assert_cmpuint(limit.status, ==, 200);
	}

	kl_router_request(fixture,
			  "PUT",
			  "/v2.6/agents/abc/activate",
			  "{\"auth_tag\": }",
			  &malformed);
	kl_router_assert_error(&malformed, 400, "request body: invalid JSON:");
	/* json-glib names the line and column */
	g_assert_nonnull(strstr(malformed.text, ":1:"));

	kl_router_request(fixture, "PUT", "/v2.6/agents/abc/activate", "[1, 2]", &not_object);
	kl_router_assert_error(&not_object, 400, "not an object");

	kl_router_request(fixture,
			  "PUT",
			  "/v2.6/agents/abc/activate",
			  "{\"auth\": \"x\"}",
			  &missing);
	kl_router_assert_error(&missing, 400, "auth_tag");

	kl_router_request(fixture,
			  "PUT",
			  "/v2.6/agents/abc/activate",
			  "{\"auth_tag\": 5}",
			  &wrong_type);
	kl_router_assert_error(&wrong_type, 400, "auth_tag");

	kl_router_request(fixture, "PUT", "/v2.6/agents/abc/activate", NULL, &empty);
	kl_router_assert_error(&empty, 400, "empty body");

	kl_router_request_full(fixture,
			       "PUT",
			       "/v2.6/agents/abc/activate",
			       "{\"a\": \"\0\"}",
			       10,
			       FALSE,
			       &nul);
	kl_router_assert_error(&nul, 400, "NUL");
}

static void
kl_router_router_limit_test(void)
{
	KlRouterFixture fixture = {0};
	g_autoptr(KlHttpRouter) router = kl_router_new(&fixture);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *body = g_strdup_printf("{\"auth_tag\": \"%0*d\"}", 200, 0);
	g_auto(KlRouterResult) result = {0};
	KlHttpServerOptions options = {.ip = "127.0.0.1"};

	/* a plain HTTP server (the registrar's open port) with a small limit */
	kl_http_router_set_max_body_size(router, 100);
	fixture.server = kl_http_server_new(router, &options, &error);
	g_assert_no_error(error);
	g_assert_true(kl_http_server_listen(fixture.server, &error));
	g_assert_no_error(error);
	fixture.url = kl_http_server_get_url(fixture.server);
	g_assert_true(g_str_has_prefix(fixture.url, "http://127.0.0.1:"));
	fixture.session = soup_session_new();
	kl_router_request(&fixture, "PUT", "/v2/agents/abc/activate", body, &result);
	kl_router_assert_error(&result, 413, "larger than 100 bytes");
	g_assert_cmpuint(fixture.handled, ==, 0);
	kl_router_fixture_teardown(&fixture, NULL);
}

static void
kl_router_mtls_test(KlRouterFixture *fixture, gconstpointer user_data)
{
	g_auto(KlRouterResult) refused = {0};
	g_auto(KlRouterResult) accepted = {0};
	g_auto(KlRouterResult) again = {0};
	g_auto(KlRouterResult) open = {0};
	g_autofree gchar *cn = g_strdup_printf("CN=%s", kl_test_ca_get_client_name(kl_router_ca));
	guint handled = fixture->handled;

	/* open routes need no certificate on the same server */
	kl_router_request(fixture, "GET", "/v2/agents/abc", NULL, &open);
	g_assert_cmpuint(open.status, ==, 200);

	kl_router_request(fixture, "GET", "/v2.6/agents", NULL, &refused);
	kl_router_assert_error(&refused, 403, "mTLS client certificate");
	g_assert_cmpuint(fixture->handled, ==, handled + 1);

	/* a fresh session: the one above has a connection without a cert */
	g_clear_object(&fixture->session);
	fixture->session =
		kl_http_client_session_new(kl_test_ca_get_ca_cert_path(kl_router_ca), NULL);
	kl_router_request_full(fixture, "GET", "/v2.6/agents", NULL, 0, TRUE, &accepted);
	g_assert_cmpuint(accepted.status, ==, 200);
	g_assert_nonnull(strstr(kl_router_result_string(&accepted, "peer"), cn));
	/* keep-alive: the certificate is still known for the second request */
	kl_router_request_full(fixture, "GET", "/v2/agents", NULL, 0, TRUE, &again);
	g_assert_cmpuint(again.status, ==, 200);
	g_assert_nonnull(strstr(kl_router_result_string(&again, "peer"), cn));
}

static void
kl_router_errors_test(KlRouterFixture *fixture, gconstpointer user_data)
{
	const struct {
		const gchar *kind;
		guint status;
		const gchar *text;
	} cases[] = {
		{"io-not-found", 404, "no such agent"},
		{"conflict", 409, "agent exists"},
		{"module", 400, "API version is not of the form <digit>.<digit>"},
		{"reply", 503, "busy"},
		{"internal", 500, "disk on fire"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *path = g_strdup_printf("/v2.6/fail/%s", cases[i].kind);
		g_auto(KlRouterResult) result = {0};
		kl_router_request(fixture, "GET", path, NULL, &result);
		kl_router_assert_error(&result, cases[i].status, NULL);
		g_assert_cmpstr(result.text, ==, cases[i].text);
	}
}

static void
kl_router_async_test(KlRouterFixture *fixture, gconstpointer user_data)
{
	g_auto(KlRouterResult) first = {0};
	g_auto(KlRouterResult) second = {0};
	g_auto(KlRouterResult) refused = {0};
	g_autofree gchar *url = NULL;
	g_autoptr(SoupMessage) msg_a = NULL;
	g_autoptr(SoupMessage) msg_b = NULL;

	/* two requests in flight at once: the server is not blocked */
	url = g_strconcat(fixture->url, "/v2/async/one", NULL);
	msg_a = soup_message_new("GET", url);
	g_free(url);
	url = g_strconcat(fixture->url, "/v2.5/async/two", NULL);
	msg_b = soup_message_new("GET", url);
	soup_session_send_and_read_async(fixture->session,
					 msg_a,
					 G_PRIORITY_DEFAULT,
					 NULL,
					 kl_router_send_cb,
					 &first);
	soup_session_send_and_read_async(fixture->session,
					 msg_b,
					 G_PRIORITY_DEFAULT,
					 NULL,
					 kl_router_send_cb,
					 &second);
	g_assert_true(kl_test_wait_for_pointer(&first.done, KL_ROUTER_TIMEOUT_MS));
	g_assert_true(kl_test_wait_for_pointer(&second.done, KL_ROUTER_TIMEOUT_MS));
	g_assert_no_error(first.error);
	g_assert_no_error(second.error);
	first.status = soup_message_get_status(msg_a);
	second.status = soup_message_get_status(msg_b);
	kl_router_parse_envelope(&first);
	kl_router_parse_envelope(&second);
	g_assert_cmpuint(first.status, ==, 200);
	g_assert_cmpstr(kl_router_result_string(&first, "agent_id"), ==, "one");
	g_assert_cmpstr(kl_router_result_string(&first, "async"), ==, "yes");
	g_assert_cmpstr(kl_router_result_string(&second, "agent_id"), ==, "two");
	g_assert_cmpstr(kl_router_result_string(&second, "version"), ==, "2.5");

	/* an async handler failing at once: the router answers and unpauses */
	kl_router_request(fixture, "GET", "/v2/async/refuse", NULL, &refused);
	kl_router_assert_error(&refused, 404, "refused early");
}

/* Route tables are checked when added; lookup works without a server. */
static void
kl_router_table_test(void)
{
	const KlHttpRoute bad[][1] = {
		{{"GET", "agents", 0, NULL, NULL, 0, kl_router_echo_cb}},
		{{"GET", "/agents/{}", 0, NULL, NULL, 0, kl_router_echo_cb}},
		{{"GET", "/agents/{id", 0, NULL, NULL, 0, kl_router_echo_cb}},
		{{"GET", "/agents//x", 0, NULL, NULL, 0, kl_router_echo_cb}},
		{{"GET", "/agents", 0, "2", NULL, 0, kl_router_echo_cb}},
		{{"GET", "/agents", 0, NULL, "2.6.1", 0, kl_router_echo_cb}},
		{{NULL, "/agents", 0, NULL, NULL, 0, kl_router_echo_cb}},
		{{"GET", "/agents", 0, NULL, NULL, 0, NULL}},
	};
	KlRouterFixture fixture = {0};
	g_autoptr(KlHttpRouter) router = kl_router_new(&fixture);
	g_autoptr(KlHttpRouteMatch) match = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *allow = NULL;
	gsize n_versions = 0;

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_assert_false(kl_http_router_add_routes(router, bad[i], 1, NULL, &error));
		g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
		g_test_message("%s", error->message);
		g_assert_true(g_str_has_prefix(error->message, "route "));
		g_clear_error(&error);
	}

	match = kl_http_router_lookup(router, "PUT", "/v2.3/agents/x-1/activate", NULL, &error);
	g_assert_no_error(error);
	g_assert_true(match->route == &kl_router_routes[2]);
	g_assert_true(match->user_data == &fixture);
	g_assert_cmpuint(match->version.major, ==, 2);
	g_assert_cmpuint(match->version.minor, ==, 3);
	g_assert_cmpstr(g_hash_table_lookup(match->captures, "agent_id"), ==, "x-1");
	g_assert_cmpuint(g_hash_table_size(match->captures), ==, 1);
	g_clear_pointer(&match, kl_http_route_match_free);

	match = kl_http_router_lookup(router, "PATCH", "/v2/agents/x", &allow, &error);
	g_assert_null(match);
	g_assert_error(error, KL_ERROR, KL_ERROR_NOT_SUPPORTED);
	g_assert_cmpuint(kl_error_to_http_status(error), ==, 405);
	g_assert_cmpstr(allow, ==, "GET, POST");
	g_clear_error(&error);

	/* libsoup's client refuses to send these, a raw client may not */
	match = kl_http_router_lookup(router, "GET", "/v2/agents/a%zzb", NULL, &error);
	g_assert_null(match);
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_assert_cmpstr(error->message, ==, "malformed percent-encoding in path segment 3");
	g_clear_error(&error);
	match = kl_http_router_lookup(router, "GET", "/v2/agents/a%00b", NULL, &error);
	g_assert_null(match);
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	match = kl_http_router_lookup(router, "GET", "/v2/agents/a%0d", NULL, &error);
	g_assert_null(match);
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "byte 0x0d"));
	g_clear_error(&error);

	match = kl_http_router_lookup(router, "GET", "relative", NULL, &error);
	g_assert_null(match);
	g_assert_error(error, KL_ERROR, KL_ERROR_NOT_FOUND);
	g_clear_error(&error);

	/* no more than 16 segments are looked at */
	match = kl_http_router_lookup(router,
				      "GET",
				      "/v2/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a",
				      NULL,
				      &error);
	g_assert_null(match);
	g_assert_error(error, KL_ERROR, KL_ERROR_NOT_FOUND);
	g_clear_error(&error);

	g_assert_cmpuint(kl_http_router_get_current_version(router)->minor, ==, 6);
	g_assert_nonnull(kl_http_router_get_supported_versions(router, &n_versions));
	g_assert_cmpuint(n_versions, ==, 9);
}

static void
kl_router_server_errors_test(void)
{
	KlRouterFixture fixture = {0};
	g_autoptr(KlHttpRouter) router = kl_router_new(&fixture);
	g_autoptr(KlHttpServer) server = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *missing = kl_test_dir_build(kl_router_dir, "missing.pem", NULL);
	KlHttpServerOptions bad_ip = {.ip = "localhost.example"};
	KlHttpServerOptions no_key = {.tls = TRUE};
	KlHttpServerOptions bad_cert = {.tls = TRUE, .server_cert = missing, .server_key = missing};
	KlHttpServerOptions no_ca = {
		.tls = TRUE,
		.server_cert = kl_test_ca_get_server_cert_path(kl_router_ca),
		.server_key = kl_test_ca_get_server_key_path(kl_router_ca),
		.client_cert = KL_HTTP_CLIENT_CERT_REQUIRED,
	};
	KlHttpServerOptions plain_mtls = {.client_cert = KL_HTTP_CLIENT_CERT_OPTIONAL};
	KlHttpServerOptions ok = {.ip = "127.0.0.1"};

	server = kl_http_server_new(router, &bad_ip, &error);
	g_assert_null(server);
	g_assert_nonnull(strstr(error->message, "localhost.example"));
	g_clear_error(&error);
	server = kl_http_server_new(router, &no_key, &error);
	g_assert_null(server);
	g_assert_nonnull(error);
	g_clear_error(&error);
	server = kl_http_server_new(router, &bad_cert, &error);
	g_assert_null(server);
	g_assert_nonnull(strstr(error->message, missing));
	g_clear_error(&error);
	server = kl_http_server_new(router, &no_ca, &error);
	g_assert_null(server);
	g_assert_nonnull(strstr(error->message, "trusted client CA"));
	g_clear_error(&error);
	server = kl_http_server_new(router, &plain_mtls, &error);
	g_assert_null(server);
	g_assert_nonnull(strstr(error->message, "need TLS"));
	g_clear_error(&error);

	/* a port in use is an error naming it */
	server = kl_http_server_new(router, &ok, &error);
	g_assert_no_error(error);
	g_assert_true(kl_http_server_listen(server, &error));
	g_assert_no_error(error);
	{
		g_autoptr(KlHttpServer) second = NULL;
		g_autofree gchar *port = g_strdup_printf("%u", kl_http_server_get_port(server));
		KlHttpServerOptions same = {.ip = "127.0.0.1",
					    .port = kl_http_server_get_port(server)};
		second = kl_http_server_new(router, &same, &error);
		g_assert_no_error(error);
		g_assert_false(kl_http_server_listen(second, &error));
		g_assert_nonnull(error);
		g_assert_nonnull(strstr(error->message, port));
	}
	g_assert_true(kl_http_server_get_router(server) == router);
	g_assert_true(SOUP_IS_SERVER(kl_http_server_get_soup_server(server)));
	kl_http_server_stop(server);
	g_assert_cmpuint(kl_http_server_get_port(server), ==, 0);
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	int rc;

	g_test_init(&argc, &argv, NULL);
	kl_router_dir = kl_test_dir_new();
	kl_router_ca = kl_test_ca_new(kl_router_dir, "router", &error);
	g_assert_no_error(error);

#define KL_ROUTER_ADD(path, func)           \
	g_test_add(path,                    \
		   KlRouterFixture,         \
		   NULL,                    \
		   kl_router_fixture_setup, \
		   func,                    \
		   kl_router_fixture_teardown)
	KL_ROUTER_ADD("/rest/router/versions", kl_router_versions_test);
	KL_ROUTER_ADD("/rest/router/version-route", kl_router_version_route_test);
	KL_ROUTER_ADD("/rest/router/captures", kl_router_captures_test);
	KL_ROUTER_ADD("/rest/router/not-found", kl_router_not_found_test);
	KL_ROUTER_ADD("/rest/router/method", kl_router_method_test);
	KL_ROUTER_ADD("/rest/router/bad-agent-id", kl_router_bad_agent_id_test);
	KL_ROUTER_ADD("/rest/router/body", kl_router_body_test);
	KL_ROUTER_ADD("/rest/router/mtls", kl_router_mtls_test);
	KL_ROUTER_ADD("/rest/router/errors", kl_router_errors_test);
	KL_ROUTER_ADD("/rest/router/async", kl_router_async_test);
	g_test_add_func("/rest/router/router-limit", kl_router_router_limit_test);
	g_test_add_func("/rest/router/table", kl_router_table_test);
	g_test_add_func("/rest/router/server-errors", kl_router_server_errors_test);
	rc = g_test_run();

	kl_test_ca_free(kl_router_ca);
	kl_test_dir_free(kl_router_dir);
	return rc;
}
