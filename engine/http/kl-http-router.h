/*
 * kl-http-router: the static route table of a Keylime REST server.
 *
 * Routes are a method and a path pattern below the version prefix, e.g.
 * GET /agents/{agent_id}; the router strips and negotiates /v2, /v2.6, …,
 * checks captured agent ids, the mTLS client certificate, the body size
 * and the JSON body, and answers every failure with Keylime's
 * {"code", "status", "results"} envelope.  Handlers answer through
 * KlHttpRequest, synchronously or, for routes flagged ASYNC, later from
 * the main context.
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "kl-api-version.h"

G_BEGIN_DECLS

typedef enum {
	KL_HTTP_ROUTE_FLAG_NONE = 0,
	/* matched against the whole path, without a /vX.Y prefix (/version) */
	KL_HTTP_ROUTE_FLAG_UNVERSIONED = 1 << 0,
	/* refused without a verified mTLS client certificate */
	KL_HTTP_ROUTE_FLAG_CLIENT_CERT = 1 << 1,
	/* the handler keeps a reference to the request and replies later */
	KL_HTTP_ROUTE_FLAG_ASYNC = 1 << 2,
} KlHttpRouteFlags;

typedef struct _KlHttpRequest KlHttpRequest;

/*
 * Returns TRUE once it has replied (or, for ASYNC routes, taken a
 * reference to reply later); FALSE with @error to have the router reply
 * with the error's status.
 */
typedef gboolean (*KlHttpHandlerFunc)(KlHttpRequest *request, gpointer user_data, GError **error);

/* Captures named "agent_id" are checked with kl_agent_id_validate(). */
typedef struct {
	const gchar *method;
	const gchar *pattern;
	KlHttpRouteFlags flags;
	const gchar *min_version; /* NULL: no lower bound */
	const gchar *max_version; /* NULL: no upper bound */
	gsize max_body_size;	  /* 0: the router's limit */
	KlHttpHandlerFunc handler;
} KlHttpRoute;

typedef struct {
	const KlHttpRoute *route;
	gpointer user_data;
	KlApiVersion version; /* 0.0 for unversioned routes */
	GHashTable *captures; /* name → decoded segment */
} KlHttpRouteMatch;

void kl_http_route_match_free(KlHttpRouteMatch *match);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlHttpRouteMatch, kl_http_route_match_free)

#define KL_HTTP_TYPE_ROUTER (kl_http_router_get_type())
G_DECLARE_FINAL_TYPE(KlHttpRouter, kl_http_router, KL_HTTP, ROUTER, GObject)

KlHttpRouter *
kl_http_router_new(const KlApiVersion *current, const KlApiVersion *supported, gsize n_supported);
const KlApiVersion *kl_http_router_get_current_version(KlHttpRouter *self);
const KlApiVersion *kl_http_router_get_supported_versions(KlHttpRouter *self, gsize *n_versions);
void kl_http_router_set_max_body_size(KlHttpRouter *self, gsize max_body_size);
gboolean kl_http_router_add_routes(KlHttpRouter *self,
				   const KlHttpRoute *routes,
				   gsize n_routes,
				   gpointer user_data,
				   GError **error);
gboolean kl_http_router_add_version_route(KlHttpRouter *self, GError **error);
KlHttpRouteMatch *kl_http_router_lookup(KlHttpRouter *self,
					const gchar *method,
					const gchar *path,
					gchar **allow,
					GError **error);
void kl_http_router_attach(KlHttpRouter *self, SoupServer *server);

KlHttpRequest *kl_http_request_ref(KlHttpRequest *self);
void kl_http_request_unref(KlHttpRequest *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlHttpRequest, kl_http_request_unref)

SoupServerMessage *kl_http_request_get_message(KlHttpRequest *self);
const KlApiVersion *kl_http_request_get_version(KlHttpRequest *self);
const gchar *kl_http_request_get_capture(KlHttpRequest *self, const gchar *name);
const gchar *kl_http_request_get_query(KlHttpRequest *self, const gchar *name);
JsonObject *kl_http_request_get_body(KlHttpRequest *self);
JsonObject *kl_http_request_require_body(KlHttpRequest *self, GError **error);
GTlsCertificate *kl_http_request_get_peer_certificate(KlHttpRequest *self);
gboolean kl_http_request_has_replied(KlHttpRequest *self);

void kl_http_request_reply(KlHttpRequest *self, guint code, const gchar *status, JsonNode *results);
void kl_http_request_reply_ok(KlHttpRequest *self, JsonNode *results);
void kl_http_request_reply_error(KlHttpRequest *self, const GError *error);
void kl_http_request_reply_no_content(KlHttpRequest *self);

void
kl_http_message_reply(SoupServerMessage *msg, guint code, const gchar *status, JsonNode *results);
void kl_http_message_reply_error(SoupServerMessage *msg, const GError *error);

G_END_DECLS
