/*
 * Fuzz target: the router's path and version parsing.  The first byte
 * picks the method, the rest is the request path, looked up in a table
 * shaped like the registrar's and verifier's.
 */
#include "config.h"

#include "kl-error.h"
#include "kl-fuzz.h"
#include "kl-http-router.h"

static gboolean
kl_fuzz_http_path_handler(KlHttpRequest *request, gpointer user_data, GError **error)
{
	return TRUE;
}

static const KlHttpRoute kl_fuzz_http_path_routes[] = {
	{"GET",
	 "/agents",
	 KL_HTTP_ROUTE_FLAG_CLIENT_CERT,
	 NULL,
	 NULL,
	 0,
	 kl_fuzz_http_path_handler},
	{"GET", "/agents/{agent_id}", 0, "2.0", NULL, 0, kl_fuzz_http_path_handler},
	{"POST", "/agents/{agent_id}", 0, "2.0", NULL, 0, kl_fuzz_http_path_handler},
	{"PUT", "/agents/{agent_id}/activate", 0, "2.0", "2.6", 0, kl_fuzz_http_path_handler},
	{"GET", "/allowlists/{name}", 0, NULL, NULL, 0, kl_fuzz_http_path_handler},
	{"GET", "/", 0, NULL, NULL, 0, kl_fuzz_http_path_handler},
	{"GET", "/ping", KL_HTTP_ROUTE_FLAG_UNVERSIONED, NULL, NULL, 0, kl_fuzz_http_path_handler},
};

static KlHttpRouter *
kl_fuzz_http_path_router(void)
{
	static KlHttpRouter *router = NULL;
	if (router == NULL) {
		gsize n = 0;
		const KlApiVersion *supported = kl_api_version_server_supported(&n);
		KlApiVersion current = KL_API_VERSION_CURRENT;
		router = kl_http_router_new(&current, supported, n);
		g_assert_true(kl_http_router_add_routes(router,
							kl_fuzz_http_path_routes,
							G_N_ELEMENTS(kl_fuzz_http_path_routes),
							NULL,
							NULL));
		g_assert_true(kl_http_router_add_version_route(router, NULL));
	}
	return router;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const gchar *methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH"};
	KlHttpRouter *router = kl_fuzz_http_path_router();
	g_autoptr(KlHttpRouteMatch) match = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *allow = NULL;
	g_autofree gchar *path = NULL;
	const gchar *method;

	if (size == 0)
		return 0;
	method = methods[data[0] % G_N_ELEMENTS(methods)];
	path = g_strndup((const gchar *)data + 1, size - 1);
	match = kl_http_router_lookup(router, method, path, &allow, &error);
	if (match != NULL) {
		const gchar *agent_id = g_hash_table_lookup(match->captures, "agent_id");
		g_assert_no_error(error);
		g_assert_cmpstr(match->route->method, ==, method);
		if (agent_id != NULL)
			g_assert_true(strlen(agent_id) <= 255);
		return 0;
	}
	g_assert_nonnull(error);
	g_assert_true(error->domain == KL_ERROR);
	g_assert_true(error->code == KL_ERROR_NOT_FOUND || error->code == KL_ERROR_NOT_SUPPORTED ||
		      error->code == KL_ERROR_INVALID_ARGUMENT);
	g_assert_true((allow != NULL) == (error->code == KL_ERROR_NOT_SUPPORTED));
	return 0;
}
