/*
 * kl-agent-client: the verifier's asynchronous client to pull agents (spec
 * §1.4, §2.5, §3): integrity quotes, V delivery and version discovery over
 * HTTPS with mTLS, for a whole fleet on one SoupSession.
 *
 * Each agent's server certificate is pinned: exactly its registrar record's
 * mtls_cert is trusted (upstream loads it as the only CA, check_hostname
 * off).  Requests run at most max_in_flight at a time across the fleet,
 * the rest wait in FIFO order; the timeout covers connect, TLS, headers and
 * body; bodies are streamed and bounded.  Connections are kept alive per
 * agent (ip:port) and reused.
 *
 * Every failure is a KL_AGENT_CLIENT_ERROR whose code says what the pull
 * loop does next (§3): RETRYABLE (transport error, timeout, 408/500/503/
 * 599), VERSION (400 "API version not supported": GET /version and retry)
 * or FATAL (any other status, a bad reply, a refused certificate).  The
 * message names the agent, the request and the reason.  A caller's
 * cancellation is G_IO_ERROR_CANCELLED.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "kl-api-version.h"

G_BEGIN_DECLS

#define KL_AGENT_CLIENT_ERROR kl_agent_client_error_quark()

typedef enum {
	KL_AGENT_CLIENT_ERROR_RETRYABLE,
	KL_AGENT_CLIENT_ERROR_VERSION,
	KL_AGENT_CLIENT_ERROR_FATAL,
} KlAgentClientError;

GQuark kl_agent_client_error_quark(void);

/* How the pull loop goes on after a request. */
typedef enum {
	KL_AGENT_CLIENT_RESULT_OK,
	KL_AGENT_CLIENT_RESULT_RETRYABLE,
	KL_AGENT_CLIENT_RESULT_VERSION,
	KL_AGENT_CLIENT_RESULT_FATAL,
} KlAgentClientResult;

/* NULL: OK; errors of other domains (cancellation included): FATAL. */
KlAgentClientResult kl_agent_client_classify(const GError *error);

/* Defaults of kl_agent_client_options_init() */
#define KL_AGENT_CLIENT_DEFAULT_TIMEOUT		60.0 /* verifier.conf request_timeout */
#define KL_AGENT_CLIENT_DEFAULT_MAX_RESPONSE	(128 * 1024 * 1024)
#define KL_AGENT_CLIENT_DEFAULT_MAX_IN_FLIGHT	64
#define KL_AGENT_CLIENT_DEFAULT_MAX_CONNECTIONS 512
#define KL_AGENT_CLIENT_DEFAULT_MAX_PER_AGENT	2

/* Borrowed by kl_agent_client_new() only. */
typedef struct {
	gboolean mtls;		   /* enable_agent_mtls; FALSE: plain HTTP, nothing pinned */
	const gchar *client_cert;  /* tls_dir/client_cert PEM; NULL: no client certificate */
	const gchar *client_key;   /* tls_dir/client_key PEM */
	gdouble request_timeout;   /* seconds for a whole request, from dispatch */
	guint64 max_response_size; /* bytes of a 200 body */
	guint max_in_flight;	   /* requests on the wire at once, fleet-wide */
	guint max_connections;	   /* open sockets, idle keep-alive ones included */
	guint max_connections_per_agent;
} KlAgentClientOptions;

void kl_agent_client_options_init(KlAgentClientOptions *options);

/* One agent as the pull loop knows it; copied by each call. */
typedef struct {
	const gchar *agent_id; /* names the agent in errors */
	const gchar *ip;       /* address literal or host name */
	guint16 port;
	KlApiVersion api_version;   /* the /v{major}.{minor}/ prefix */
	GTlsCertificate *mtls_cert; /* pinned; needed with mtls */
} KlAgentTarget;

/* An owned copy (strings duplicated, certificate referenced), for
 * callers that keep targets beyond one call. */
KlAgentTarget *kl_agent_target_copy(const KlAgentTarget *target);
void kl_agent_target_free(KlAgentTarget *target);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlAgentTarget, kl_agent_target_free)

/* The registrar record's mtls_cert PEM, parsed once per agent. */
GTlsCertificate *kl_agent_client_pin_new(const gchar *pem, gsize len, GError **error);

#define KL_TYPE_AGENT_CLIENT (kl_agent_client_get_type())
G_DECLARE_FINAL_TYPE(KlAgentClient, kl_agent_client, KL, AGENT_CLIENT, GObject)

/* Calls and callbacks belong to the thread-default main context of new(). */
KlAgentClient *kl_agent_client_new(const KlAgentClientOptions *options, GError **error);
guint kl_agent_client_get_in_flight(KlAgentClient *self);
guint kl_agent_client_get_queued(KlAgentClient *self);

/* GET /v{ver}/quotes/integrity?nonce=&mask=0x..&partial=&ima_ml_entry=;
 * @nonce is the caller's fresh nonce (alphanumeric, 1 to 64 characters). */
void kl_agent_client_get_integrity_quote_async(KlAgentClient *self,
					       const KlAgentTarget *agent,
					       const gchar *nonce,
					       guint32 mask,
					       gboolean partial,
					       guint64 ima_ml_entry,
					       GCancellable *cancellable,
					       GAsyncReadyCallback callback,
					       gpointer user_data);
/* The results object; it has a string "quote", the rest is unchecked. */
JsonObject *kl_agent_client_get_integrity_quote_finish(KlAgentClient *self,
						       GAsyncResult *result,
						       GError **error);

/* POST /v{ver}/keys/vkey {"encrypted_key": @encrypted_key_b64} */
void kl_agent_client_post_vkey_async(KlAgentClient *self,
				     const KlAgentTarget *agent,
				     const gchar *encrypted_key_b64,
				     GCancellable *cancellable,
				     GAsyncReadyCallback callback,
				     gpointer user_data);
gboolean
kl_agent_client_post_vkey_finish(KlAgentClient *self, GAsyncResult *result, GError **error);

/* POST /v{ver}/notifications/revocation with @transport_json (spec §9) */
void kl_agent_client_post_revocation_async(KlAgentClient *self,
					   const KlAgentTarget *agent,
					   const gchar *transport_json,
					   GCancellable *cancellable,
					   GAsyncReadyCallback callback,
					   gpointer user_data);
gboolean
kl_agent_client_post_revocation_finish(KlAgentClient *self, GAsyncResult *result, GError **error);

/* GET /version (unversioned) */
void kl_agent_client_get_version_async(KlAgentClient *self,
				       const KlAgentTarget *agent,
				       GCancellable *cancellable,
				       GAsyncReadyCallback callback,
				       gpointer user_data);
/* @supported (nullable): the agent's versions as it sent them; @common:
 * the highest one the verifier speaks to agents (kl-api-version). */
gboolean kl_agent_client_get_version_finish(KlAgentClient *self,
					    GAsyncResult *result,
					    gchar ***supported,
					    KlApiVersion *common,
					    GError **error);

/*
 * The pure parts, for the fuzz target: a reply's HTTP status and body
 * (at most @max_size bytes parsed) to its results or a classified error,
 * and GET /version's results to the highest common version.
 */
JsonObject *kl_agent_client_parse_reply(guint status,
					const gchar *body,
					gsize len,
					gsize max_size,
					GError **error);
gboolean kl_agent_client_parse_versions(JsonObject *results,
					gchar ***supported,
					KlApiVersion *common,
					GError **error);

/*
 * The tenant's add flow (spec §1.3, tenant/kl-tenant-enroll.c): the
 * identity quote, U with the payload, and the key-derivation check.
 */

/* GET /v{ver}/quotes/identity?nonce=; the results have a string "quote". */
void kl_agent_client_get_identity_quote_async(KlAgentClient *self,
					      const KlAgentTarget *agent,
					      const gchar *nonce,
					      GCancellable *cancellable,
					      GAsyncReadyCallback callback,
					      gpointer user_data);
JsonObject *kl_agent_client_get_identity_quote_finish(KlAgentClient *self,
						      GAsyncResult *result,
						      GError **error);

/* POST /v{ver}/keys/ukey {"encrypted_key", "auth_tag", "payload"?} */
void kl_agent_client_post_ukey_async(KlAgentClient *self,
				     const KlAgentTarget *agent,
				     const gchar *encrypted_key_b64,
				     const gchar *auth_tag,
				     const gchar *payload_b64 /* nullable */,
				     GCancellable *cancellable,
				     GAsyncReadyCallback callback,
				     gpointer user_data);
gboolean
kl_agent_client_post_ukey_finish(KlAgentClient *self, GAsyncResult *result, GError **error);

/* GET /v{ver}/keys/verify?challenge=; returns the "hmac" (hex). */
void kl_agent_client_get_keys_verify_async(KlAgentClient *self,
					   const KlAgentTarget *agent,
					   const gchar *challenge,
					   GCancellable *cancellable,
					   GAsyncReadyCallback callback,
					   gpointer user_data);
gchar *
kl_agent_client_get_keys_verify_finish(KlAgentClient *self, GAsyncResult *result, GError **error);

G_END_DECLS
