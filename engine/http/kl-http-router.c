/*
 * The route table is matched by path segments, after percent-decoding,
 * so that a capture is exactly what the handler sees.  Lookup needs no
 * libsoup object, so that it can be fuzzed; the SoupServer glue is an
 * early handler (body size from Content-Length, before the body is read)
 * and one catch-all handler.
 */
#define G_LOG_DOMAIN "KlHttp"

#include "config.h"

#include "kl-agent-id.h"
#include "kl-error.h"
#include "kl-http-router.h"
#include "kl-http-tls.h"
#include "kl-json.h"

/* no Keylime path comes near this; it bounds the work per request */
#define KL_HTTP_ROUTER_MAX_SEGMENTS 16

#define KL_HTTP_STATUS_VERSION_NOT_SUPPORTED "API Version not supported"

typedef struct {
	const KlHttpRoute *route;
	gpointer user_data;
	gchar **segments;
	KlApiVersion min_version;
	KlApiVersion max_version;
} KlHttpRouterEntry;

struct _KlHttpRouter {
	GObject parent_instance;
	KlApiVersion current;
	GArray *supported;  /* of KlApiVersion, ascending */
	GPtrArray *entries; /* of KlHttpRouterEntry */
	gsize max_body_size;
};

G_DEFINE_TYPE(KlHttpRouter, kl_http_router, G_TYPE_OBJECT)

struct _KlHttpRequest {
	SoupServerMessage *msg;
	KlHttpRouteMatch *match;
	GHashTable *query;
	JsonObject *body;
	GTlsCertificate *peer;
	gulong finished_id;
	gboolean paused;
	gboolean replied;
	gboolean finished;
};

static void
kl_http_router_entry_free(KlHttpRouterEntry *entry)
{
	g_strfreev(entry->segments);
	g_free(entry);
}

void
kl_http_route_match_free(KlHttpRouteMatch *match)
{
	if (match == NULL)
		return;
	g_clear_pointer(&match->captures, g_hash_table_unref);
	g_free(match);
}

static void
kl_http_router_finalize(GObject *object)
{
	KlHttpRouter *self = KL_HTTP_ROUTER(object);

	g_array_unref(self->supported);
	g_ptr_array_unref(self->entries);
	G_OBJECT_CLASS(kl_http_router_parent_class)->finalize(object);
}

static void
kl_http_router_class_init(KlHttpRouterClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = kl_http_router_finalize;
}

static void
kl_http_router_init(KlHttpRouter *self)
{
	self->supported = g_array_new(FALSE, FALSE, sizeof(KlApiVersion));
	self->entries = g_ptr_array_new_with_free_func((GDestroyNotify)kl_http_router_entry_free);
	self->max_body_size = KL_JSON_DEFAULT_MAX_SIZE;
}

static gint
kl_http_router_version_cmp(gconstpointer a, gconstpointer b)
{
	return kl_api_version_compare(a, b);
}

KlHttpRouter *
kl_http_router_new(const KlApiVersion *current, const KlApiVersion *supported, gsize n_supported)
{
	KlHttpRouter *self;

	g_return_val_if_fail(current != NULL, NULL);
	g_return_val_if_fail(supported != NULL || n_supported == 0, NULL);

	self = g_object_new(KL_HTTP_TYPE_ROUTER, NULL);
	self->current = *current;
	g_array_append_vals(self->supported, supported, (guint)n_supported);
	g_array_sort(self->supported, kl_http_router_version_cmp);
	return self;
}

const KlApiVersion *
kl_http_router_get_current_version(KlHttpRouter *self)
{
	g_return_val_if_fail(KL_HTTP_IS_ROUTER(self), NULL);
	return &self->current;
}

const KlApiVersion *
kl_http_router_get_supported_versions(KlHttpRouter *self, gsize *n_versions)
{
	g_return_val_if_fail(KL_HTTP_IS_ROUTER(self), NULL);
	g_return_val_if_fail(n_versions != NULL, NULL);
	*n_versions = self->supported->len;
	return (const KlApiVersion *)(gpointer)self->supported->data;
}

void
kl_http_router_set_max_body_size(KlHttpRouter *self, gsize max_body_size)
{
	g_return_if_fail(KL_HTTP_IS_ROUTER(self));
	g_return_if_fail(max_body_size > 0);
	self->max_body_size = max_body_size;
}

static gboolean
kl_http_router_pattern_is_valid(gchar **segments, GError **error)
{
	guint n = g_strv_length(segments);

	if (n > KL_HTTP_ROUTER_MAX_SEGMENTS) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "more than %u segments",
			    (guint)KL_HTTP_ROUTER_MAX_SEGMENTS);
		return FALSE;
	}
	for (guint i = 0; i < n; i++) {
		gsize len = strlen(segments[i]);
		/* an empty segment is only allowed for the root pattern "/" */
		if (len == 0 && n > 1) {
			g_set_error_literal(error,
					    KL_ERROR,
					    KL_ERROR_INVALID_ARGUMENT,
					    "empty segment");
			return FALSE;
		}
		if (segments[i][0] == '{' && (len < 3 || segments[i][len - 1] != '}')) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "bad capture %s",
				    segments[i]);
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean
kl_http_router_add_route(KlHttpRouter *self,
			 const KlHttpRoute *route,
			 gpointer user_data,
			 GError **error)
{
	g_autoptr(GError) error_local = NULL;
	KlHttpRouterEntry *entry;
	KlApiVersion min_version = {0, 0};
	KlApiVersion max_version = {9, 9};
	g_auto(GStrv) segments = NULL;

	if (route->method == NULL || route->pattern == NULL || route->handler == NULL ||
	    route->pattern[0] != '/') {
		g_set_error_literal(&error_local,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "needs a method, a handler and a pattern starting with /");
	} else if (route->min_version != NULL &&
		   !kl_api_version_parse(route->min_version, &min_version, &error_local)) {
		g_prefix_error(&error_local, "min_version: ");
	} else if (route->max_version != NULL &&
		   !kl_api_version_parse(route->max_version, &max_version, &error_local)) {
		g_prefix_error(&error_local, "max_version: ");
	} else {
		/* "/" is the version root (GET /v2.6/); it has no segment */
		segments = route->pattern[1] == '\0' ? g_new0(gchar *, 1)
						     : g_strsplit(route->pattern + 1, "/", -1);
		kl_http_router_pattern_is_valid(segments, &error_local);
	}
	if (error_local != NULL) {
		kl_error_convert(&error_local);
		g_propagate_prefixed_error(error,
					   g_steal_pointer(&error_local),
					   "route %s %s: ",
					   route->method != NULL ? route->method : "(null)",
					   route->pattern != NULL ? route->pattern : "(null)");
		return FALSE;
	}
	entry = g_new0(KlHttpRouterEntry, 1);
	entry->route = route;
	entry->user_data = user_data;
	entry->segments = g_steal_pointer(&segments);
	entry->min_version = min_version;
	entry->max_version = max_version;
	g_ptr_array_add(self->entries, entry);
	return TRUE;
}

/* @routes is a static table: the router keeps pointers into it. */
gboolean
kl_http_router_add_routes(KlHttpRouter *self,
			  const KlHttpRoute *routes,
			  gsize n_routes,
			  gpointer user_data,
			  GError **error)
{
	g_return_val_if_fail(KL_HTTP_IS_ROUTER(self), FALSE);
	g_return_val_if_fail(routes != NULL || n_routes == 0, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	for (gsize i = 0; i < n_routes; i++) {
		if (!kl_http_router_add_route(self, &routes[i], user_data, error))
			return FALSE;
	}
	return TRUE;
}

static gboolean
kl_http_router_version_cb(KlHttpRequest *request, gpointer user_data, GError **error)
{
	KlHttpRouter *self = KL_HTTP_ROUTER(user_data);
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
	g_autoptr(JsonNode) results = NULL;
	gchar buffer[KL_API_VERSION_STRING_SIZE];

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "current_version");
	json_builder_add_string_value(builder, kl_api_version_to_string(&self->current, buffer));
	json_builder_set_member_name(builder, "supported_versions");
	json_builder_begin_array(builder);
	for (guint i = 0; i < self->supported->len; i++) {
		const KlApiVersion *version = &g_array_index(self->supported, KlApiVersion, i);
		json_builder_add_string_value(builder, kl_api_version_to_string(version, buffer));
	}
	json_builder_end_array(builder);
	json_builder_end_object(builder);
	results = json_builder_get_root(builder);
	kl_http_request_reply_ok(request, results);
	return TRUE;
}

static const KlHttpRoute kl_http_router_version_routes[] = {
	{"GET",
	 "/version",
	 KL_HTTP_ROUTE_FLAG_UNVERSIONED,
	 NULL,
	 NULL,
	 0,
	 kl_http_router_version_cb},
};

/* GET /version → {current_version, supported_versions} (registrar, verifier) */
gboolean
kl_http_router_add_version_route(KlHttpRouter *self, GError **error)
{
	g_return_val_if_fail(KL_HTTP_IS_ROUTER(self), FALSE);
	return kl_http_router_add_routes(self,
					 kl_http_router_version_routes,
					 G_N_ELEMENTS(kl_http_router_version_routes),
					 self,
					 error);
}

/* The decoded segments of @path, without a trailing empty one ("/a/"). */
static GPtrArray *
kl_http_router_split_path(const gchar *path, GError **error)
{
	g_autoptr(GPtrArray) segments = g_ptr_array_new_with_free_func(g_free);
	g_auto(GStrv) raw = NULL;
	guint n;

	if (path == NULL || path[0] != '/') {
		g_set_error_literal(error, KL_ERROR, KL_ERROR_NOT_FOUND, "Not Found");
		return NULL;
	}
	raw = g_strsplit(path + 1, "/", KL_HTTP_ROUTER_MAX_SEGMENTS + 2);
	n = g_strv_length(raw);
	if (n > 0 && raw[n - 1][0] == '\0')
		n--;
	if (n > KL_HTTP_ROUTER_MAX_SEGMENTS) {
		g_set_error_literal(error, KL_ERROR, KL_ERROR_NOT_FOUND, "Not Found");
		return NULL;
	}
	for (guint i = 0; i < n; i++) {
		/* NULL for bad escapes and for %00 */
		gchar *decoded = g_uri_unescape_string(raw[i], NULL);
		if (decoded == NULL) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "malformed percent-encoding in path segment %u",
				    i + 1);
			return NULL;
		}
		g_ptr_array_add(segments, decoded);
	}
	return g_steal_pointer(&segments);
}

static gboolean
kl_http_router_entry_matches_path(const KlHttpRouterEntry *entry,
				  gchar **segments,
				  guint n_segments,
				  GHashTable *captures)
{
	guint n = g_strv_length(entry->segments);

	if (n != n_segments)
		return FALSE;
	for (guint i = 0; i < n; i++) {
		const gchar *pattern = entry->segments[i];
		if (pattern[0] == '{') {
			if (segments[i][0] == '\0')
				return FALSE;
		} else if (g_strcmp0(pattern, segments[i]) != 0) {
			return FALSE;
		}
	}
	if (captures == NULL)
		return TRUE;
	for (guint i = 0; i < n; i++) {
		const gchar *pattern = entry->segments[i];
		if (pattern[0] != '{')
			continue;
		g_hash_table_insert(captures,
				    g_strndup(pattern + 1, strlen(pattern) - 2),
				    g_strdup(segments[i]));
	}
	return TRUE;
}

static gboolean
kl_http_router_entry_has_version(const KlHttpRouterEntry *entry, const KlApiVersion *version)
{
	return kl_api_version_compare(version, &entry->min_version) >= 0 &&
	       kl_api_version_compare(version, &entry->max_version) <= 0;
}

/*
 * Matches @path against the routes of one kind (versioned or not).
 * Returns the entry, or NULL with @error: 404 for no path match, 400 for
 * a path matched only outside its versions, 405 (and @allow) for a path
 * matched only with other methods.
 */
static const KlHttpRouterEntry *
kl_http_router_find(KlHttpRouter *self,
		    const gchar *method,
		    gboolean versioned,
		    const KlApiVersion *version,
		    gchar **segments,
		    guint n_segments,
		    gchar **allow,
		    GError **error)
{
	g_autoptr(GPtrArray) methods = g_ptr_array_new();
	gboolean path_matched = FALSE;

	for (guint i = 0; i < self->entries->len; i++) {
		const KlHttpRouterEntry *entry = g_ptr_array_index(self->entries, i);
		gboolean entry_versioned =
			(entry->route->flags & KL_HTTP_ROUTE_FLAG_UNVERSIONED) == 0;

		if (entry_versioned != versioned)
			continue;
		if (!kl_http_router_entry_matches_path(entry, segments, n_segments, NULL))
			continue;
		path_matched = TRUE;
		if (versioned && !kl_http_router_entry_has_version(entry, version))
			continue;
		if (g_strcmp0(entry->route->method, method) == 0)
			return entry;
		if (!g_ptr_array_find_with_equal_func(methods,
						      entry->route->method,
						      g_str_equal,
						      NULL))
			g_ptr_array_add(methods, (gpointer)entry->route->method);
	}
	if (methods->len > 0) {
		if (allow != NULL) {
			g_ptr_array_add(methods, NULL);
			*allow = g_strjoinv(", ", (gchar **)methods->pdata);
		}
		g_set_error_literal(error, KL_ERROR, KL_ERROR_NOT_SUPPORTED, "Method Not Allowed");
		return NULL;
	}
	if (path_matched) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    KL_HTTP_STATUS_VERSION_NOT_SUPPORTED);
		return NULL;
	}
	g_set_error_literal(error, KL_ERROR, KL_ERROR_NOT_FOUND, "Not Found");
	return NULL;
}

static gboolean
kl_http_router_check_captures(GHashTable *captures, GError **error)
{
	const gchar *agent_id = g_hash_table_lookup(captures, "agent_id");

	if (agent_id != NULL && !kl_agent_id_validate(agent_id, error)) {
		g_prefix_error(error, "agent_id not valid: ");
		return FALSE;
	}
	return TRUE;
}

/*
 * Unversioned routes first (/version), then /v<major>[.<minor>]/… — a
 * first segment of "v" and a digit is always a version, so that /v9.9/x
 * is "API Version not supported" and not "Not Found".  Errors are
 * KL_ERROR with the status text Keylime sends.
 */
KlHttpRouteMatch *
kl_http_router_lookup(KlHttpRouter *self,
		      const gchar *method,
		      const gchar *path,
		      gchar **allow,
		      GError **error)
{
	g_autoptr(GPtrArray) segments = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(KlHttpRouteMatch) match = NULL;
	const KlHttpRouterEntry *entry;
	KlApiVersion version = {0, 0};
	gchar **rest;
	guint n_rest;

	g_return_val_if_fail(KL_HTTP_IS_ROUTER(self), NULL);
	g_return_val_if_fail(method != NULL, NULL);
	g_return_val_if_fail(allow == NULL || *allow == NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	segments = kl_http_router_split_path(path, error);
	if (segments == NULL)
		return NULL;
	g_ptr_array_add(segments, NULL);
	rest = (gchar **)segments->pdata;
	n_rest = segments->len - 1;

	entry = kl_http_router_find(self, method, FALSE, NULL, rest, n_rest, allow, &error_local);
	if (entry == NULL && !g_error_matches(error_local, KL_ERROR, KL_ERROR_NOT_FOUND)) {
		g_propagate_error(error, g_steal_pointer(&error_local));
		return NULL;
	}
	if (entry == NULL) {
		g_clear_error(&error_local);
		if (n_rest == 0 || rest[0][0] != 'v' || !g_ascii_isdigit(rest[0][1])) {
			g_set_error_literal(error, KL_ERROR, KL_ERROR_NOT_FOUND, "Not Found");
			return NULL;
		}
		if (!kl_api_version_from_path_segment(
			    rest[0],
			    (const KlApiVersion *)(gpointer)self->supported->data,
			    self->supported->len,
			    &version,
			    NULL)) {
			g_set_error_literal(error,
					    KL_ERROR,
					    KL_ERROR_INVALID_ARGUMENT,
					    KL_HTTP_STATUS_VERSION_NOT_SUPPORTED);
			return NULL;
		}
		rest++;
		n_rest--;
		entry = kl_http_router_find(self,
					    method,
					    TRUE,
					    &version,
					    rest,
					    n_rest,
					    allow,
					    error);
		if (entry == NULL)
			return NULL;
	}

	match = g_new0(KlHttpRouteMatch, 1);
	match->route = entry->route;
	match->user_data = entry->user_data;
	match->version = version;
	match->captures = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	kl_http_router_entry_matches_path(entry, rest, n_rest, match->captures);
	if (!kl_http_router_check_captures(match->captures, error))
		return NULL;
	return g_steal_pointer(&match);
}

/* ---- replies ---------------------------------------------------------- */

void
kl_http_message_reply(SoupServerMessage *msg, guint code, const gchar *status, JsonNode *results)
{
	gchar *body;

	g_return_if_fail(SOUP_IS_SERVER_MESSAGE(msg));
	g_return_if_fail(status != NULL);

	body = kl_json_envelope_new(code, status, results);
	soup_server_message_set_status(msg, code, NULL);
	soup_server_message_set_response(msg,
					 "application/json",
					 SOUP_MEMORY_TAKE,
					 body,
					 strlen(body));
}

void
kl_http_message_reply_error(SoupServerMessage *msg, const GError *error)
{
	g_autoptr(GError) converted = NULL;

	g_return_if_fail(SOUP_IS_SERVER_MESSAGE(msg));
	g_return_if_fail(error != NULL);

	converted = g_error_copy(error);
	kl_error_convert(&converted);
	kl_http_message_reply(msg, kl_error_to_http_status(converted), converted->message, NULL);
}

/* ---- requests --------------------------------------------------------- */

static void
kl_http_request_finished_cb(SoupServerMessage *msg, gpointer user_data)
{
	KlHttpRequest *self = user_data;
	self->finished = TRUE;
}

static void
kl_http_request_clear(KlHttpRequest *self)
{
	g_signal_handler_disconnect(self->msg, self->finished_id);
	g_object_unref(self->msg);
	kl_http_route_match_free(self->match);
	g_clear_pointer(&self->query, g_hash_table_unref);
	g_clear_pointer(&self->body, json_object_unref);
	g_clear_object(&self->peer);
}

static KlHttpRequest *
kl_http_request_new(SoupServerMessage *msg,
		    KlHttpRouteMatch *match,
		    GHashTable *query,
		    JsonObject *body,
		    GTlsCertificate *peer)
{
	KlHttpRequest *self = g_atomic_rc_box_new0(KlHttpRequest);

	self->msg = g_object_ref(msg);
	self->match = match;
	self->query = query != NULL ? g_hash_table_ref(query) : NULL;
	self->body = body != NULL ? json_object_ref(body) : NULL;
	self->peer = peer != NULL ? g_object_ref(peer) : NULL;
	/* a client that goes away while an async handler works */
	self->finished_id =
		g_signal_connect(msg, "finished", G_CALLBACK(kl_http_request_finished_cb), self);
	return self;
}

KlHttpRequest *
kl_http_request_ref(KlHttpRequest *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return g_atomic_rc_box_acquire(self);
}

void
kl_http_request_unref(KlHttpRequest *self)
{
	g_return_if_fail(self != NULL);
	g_atomic_rc_box_release_full(self, (GDestroyNotify)kl_http_request_clear);
}

SoupServerMessage *
kl_http_request_get_message(KlHttpRequest *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->msg;
}

const KlApiVersion *
kl_http_request_get_version(KlHttpRequest *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return &self->match->version;
}

const gchar *
kl_http_request_get_capture(KlHttpRequest *self, const gchar *name)
{
	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(name != NULL, NULL);
	return g_hash_table_lookup(self->match->captures, name);
}

const gchar *
kl_http_request_get_query(KlHttpRequest *self, const gchar *name)
{
	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(name != NULL, NULL);
	if (self->query == NULL)
		return NULL;
	return g_hash_table_lookup(self->query, name);
}

/* NULL when the request had no body. */
JsonObject *
kl_http_request_get_body(KlHttpRequest *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->body;
}

/* The JSON body, or KL_ERROR_INVALID_ARGUMENT for a request without one. */
JsonObject *
kl_http_request_require_body(KlHttpRequest *self, GError **error)
{
	g_return_val_if_fail(self != NULL, NULL);
	if (self->body == NULL)
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "request body: a JSON object is required");
	return self->body;
}

GTlsCertificate *
kl_http_request_get_peer_certificate(KlHttpRequest *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->peer;
}

gboolean
kl_http_request_has_replied(KlHttpRequest *self)
{
	g_return_val_if_fail(self != NULL, FALSE);
	return self->replied;
}

static void
kl_http_request_done(KlHttpRequest *self)
{
	self->replied = TRUE;
	if (self->paused) {
		self->paused = FALSE;
		soup_server_message_unpause(self->msg);
	}
}

void
kl_http_request_reply(KlHttpRequest *self, guint code, const gchar *status, JsonNode *results)
{
	g_return_if_fail(self != NULL);
	g_return_if_fail(!self->replied);

	/* the connection is gone: nobody to answer */
	if (self->finished) {
		self->replied = TRUE;
		return;
	}
	kl_http_message_reply(self->msg, code, status, results);
	kl_http_request_done(self);
}

void
kl_http_request_reply_ok(KlHttpRequest *self, JsonNode *results)
{
	kl_http_request_reply(self, SOUP_STATUS_OK, "Success", results);
}

void
kl_http_request_reply_error(KlHttpRequest *self, const GError *error)
{
	g_autoptr(GError) converted = NULL;

	g_return_if_fail(self != NULL);
	g_return_if_fail(error != NULL);

	converted = g_error_copy(error);
	kl_error_convert(&converted);
	kl_http_request_reply(self, kl_error_to_http_status(converted), converted->message, NULL);
}

/* 204 has no body, so no envelope (DELETE of a policy). */
void
kl_http_request_reply_no_content(KlHttpRequest *self)
{
	g_return_if_fail(self != NULL);
	g_return_if_fail(!self->replied);

	if (self->finished) {
		self->replied = TRUE;
		return;
	}
	soup_server_message_set_status(self->msg, SOUP_STATUS_NO_CONTENT, NULL);
	kl_http_request_done(self);
}

/* ---- SoupServer glue -------------------------------------------------- */

static gsize
kl_http_router_body_limit(KlHttpRouter *self, const KlHttpRoute *route)
{
	return route->max_body_size > 0 ? route->max_body_size : self->max_body_size;
}

static void
kl_http_router_reply_too_large(SoupServerMessage *msg, gsize limit)
{
	g_autofree gchar *status =
		g_strdup_printf("request body is larger than %" G_GSIZE_FORMAT " bytes", limit);
	kl_http_message_reply(msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, status, NULL);
}

static const gchar *
kl_http_router_message_path(SoupServerMessage *msg)
{
	return g_uri_get_path(soup_server_message_get_uri(msg));
}

/* Runs after the headers: refuses a too large body before reading it. */
static void
kl_http_router_early_cb(SoupServer *server,
			SoupServerMessage *msg,
			const char *path,
			GHashTable *query,
			gpointer user_data)
{
	KlHttpRouter *self = KL_HTTP_ROUTER(user_data);
	SoupMessageHeaders *headers = soup_server_message_get_request_headers(msg);
	g_autoptr(KlHttpRouteMatch) match = NULL;
	goffset length;
	gsize limit;

	if (soup_message_headers_get_encoding(headers) != SOUP_ENCODING_CONTENT_LENGTH)
		return;
	match = kl_http_router_lookup(self,
				      soup_server_message_get_method(msg),
				      kl_http_router_message_path(msg),
				      NULL,
				      NULL);
	if (match == NULL)
		return;
	length = soup_message_headers_get_content_length(headers);
	limit = kl_http_router_body_limit(self, match->route);
	if (length > 0 && (guint64)length > limit)
		kl_http_router_reply_too_large(msg, limit);
}

static gboolean
kl_http_router_read_body(KlHttpRouter *self,
			 SoupServerMessage *msg,
			 const KlHttpRoute *route,
			 JsonObject **body,
			 GError **error)
{
	SoupMessageBody *request_body = soup_server_message_get_request_body(msg);
	g_autoptr(GBytes) bytes = soup_message_body_flatten(request_body);
	gsize limit = kl_http_router_body_limit(self, route);
	gsize length = 0;
	const gchar *data = g_bytes_get_data(bytes, &length);

	/* chunked bodies have no Content-Length for the early check */
	if (length > limit) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_TOO_LARGE,
			    "request body is larger than %" G_GSIZE_FORMAT " bytes",
			    limit);
		return FALSE;
	}
	if (length == 0)
		return TRUE;
	*body = kl_json_parse_object(data, length, limit, KL_JSON_DEFAULT_MAX_DEPTH, error);
	if (*body == NULL) {
		g_prefix_error(error, "request body: ");
		return FALSE;
	}
	return TRUE;
}

static void
kl_http_router_handler_cb(SoupServer *server,
			  SoupServerMessage *msg,
			  const char *path,
			  GHashTable *query,
			  gpointer user_data)
{
	KlHttpRouter *self = KL_HTTP_ROUTER(user_data);
	g_autoptr(KlHttpRouteMatch) match = NULL;
	g_autoptr(KlHttpRequest) request = NULL;
	g_autoptr(JsonObject) body = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *allow = NULL;
	GTlsCertificate *peer;
	const KlHttpRoute *route;

	match = kl_http_router_lookup(self,
				      soup_server_message_get_method(msg),
				      kl_http_router_message_path(msg),
				      &allow,
				      &error);
	if (match == NULL) {
		if (allow != NULL)
			soup_message_headers_replace(soup_server_message_get_response_headers(msg),
						     "Allow",
						     allow);
		kl_http_message_reply_error(msg, error);
		return;
	}
	route = match->route;
	peer = kl_http_server_message_get_peer_certificate(msg);
	if ((route->flags & KL_HTTP_ROUTE_FLAG_CLIENT_CERT) != 0 && peer == NULL) {
		g_set_error_literal(&error,
				    KL_ERROR,
				    KL_ERROR_PERMISSION_DENIED,
				    "Forbidden: this action needs an mTLS client certificate");
		kl_http_message_reply_error(msg, error);
		return;
	}
	if (!kl_http_router_read_body(self, msg, route, &body, &error)) {
		kl_http_message_reply_error(msg, error);
		return;
	}

	request = kl_http_request_new(msg, g_steal_pointer(&match), query, body, peer);
	if ((route->flags & KL_HTTP_ROUTE_FLAG_ASYNC) != 0) {
		soup_server_message_pause(msg);
		request->paused = TRUE;
	}
	if (!route->handler(request, request->match->user_data, &error)) {
		if (error == NULL) {
			g_critical("handler for %s %s failed without an error",
				   route->method,
				   route->pattern);
			g_set_error_literal(&error, KL_ERROR, KL_ERROR_INTERNAL, "Internal Error");
		}
		if (!request->replied)
			kl_http_request_reply_error(request, error);
		return;
	}
	if ((route->flags & KL_HTTP_ROUTE_FLAG_ASYNC) == 0 && !request->replied) {
		g_critical("handler for %s %s gave no reply", route->method, route->pattern);
		kl_http_request_reply(request,
				      SOUP_STATUS_INTERNAL_SERVER_ERROR,
				      "Internal Error",
				      NULL);
	}
}

/* Serves every path of @server through the router. */
void
kl_http_router_attach(KlHttpRouter *self, SoupServer *server)
{
	g_return_if_fail(KL_HTTP_IS_ROUTER(self));
	g_return_if_fail(SOUP_IS_SERVER(server));

	soup_server_add_early_handler(server,
				      NULL,
				      kl_http_router_early_cb,
				      g_object_ref(self),
				      g_object_unref);
	soup_server_add_handler(server,
				NULL,
				kl_http_router_handler_cb,
				g_object_ref(self),
				g_object_unref);
}
