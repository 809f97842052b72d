/*
 * kl-tenant-rest: keylime_tenant's synchronous mTLS JSON client for the
 * verifier's and the registrar's admin APIs (spec §2.2, §2.3): one request,
 * the reply read bounded and Keylime's {code, status, results} envelope
 * parsed.  A transport failure keeps its domain (G_IO_ERROR, G_TLS_ERROR,
 * G_RESOLVER_ERROR) so that the tool can tell "cannot reach" apart.
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* replies above this are refused (bulkinfo of many agents fits) */
#define KL_TENANT_REST_MAX_REPLY (16 * 1024 * 1024)

typedef struct _KlTenantRest KlTenantRest;

/* @what names the service in errors ("verifier", "registrar"). */
KlTenantRest *kl_tenant_rest_new(const gchar *what,
				 const gchar *host,
				 guint16 port,
				 const gchar *ca_path,
				 const gchar *client_cert,
				 const gchar *client_key,
				 gdouble timeout,
				 GError **error);
void kl_tenant_rest_free(KlTenantRest *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlTenantRest, kl_tenant_rest_free)

typedef struct {
	guint status;	   /* HTTP status */
	gchar *message;	   /* the envelope's "status"; "" without a body */
	JsonNode *results; /* the envelope's "results"; NULL without a body */
} KlTenantReply;

void kl_tenant_reply_free(KlTenantReply *reply);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlTenantReply, kl_tenant_reply_free)

/* @path: under the current API version ("/agents/ID"); @body nullable. */
KlTenantReply *kl_tenant_rest_request(KlTenantRest *self,
				      const gchar *method,
				      const gchar *path,
				      JsonNode *body,
				      GError **error);

/* TRUE when @error means the service could not be reached. */
gboolean kl_tenant_rest_error_is_unreachable(const GError *error);

G_END_DECLS
