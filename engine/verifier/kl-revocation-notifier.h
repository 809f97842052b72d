/*
 * KlRevocationNotifier: revocation and comm_error notifications (spec §1.6,
 * §9), sent off the attestation path.
 *
 * The message is upstream's JSON text, signed with the failed agent's
 * revocation_key (RSA-PSS, SHA-256, MGF1-SHA-256, maximal salt; "" without
 * a key) into the transport object {"msg", "signature"}.  It goes to the
 * other agents of this verifier (POST /v{ver}/notifications/revocation,
 * through the engine's KlAgentClient, so with the same pinning and
 * concurrency bound) and to a webhook (POST of the transport object; 200
 * or 202 is success; retried max_retries times with the verifier's
 * back-off).  Sending never blocks the caller; failures are logged with
 * the agent or URL they concern.
 */
#pragma once

#include "kl-agent-client.h"
#include "kl-verifier-record.h"

G_BEGIN_DECLS

typedef enum {
	KL_REVOCATION_TYPE_REVOCATION, /* "revocation": INVALID_QUOTE */
	KL_REVOCATION_TYPE_COMM_ERROR, /* "comm_error": an attested agent is unreachable */
} KlRevocationType;

/* Upstream's msg text (spec §9): type, ip, agent_id, port, tpm_policy,
 * meta_data, event_time (asctime of @time, UTC), and event_id,
 * severity_label, context when @event_id is not NULL. */
gchar *kl_revocation_message_new(KlRevocationType type,
				 const KlVerifierAgent *agent,
				 gint64 time,
				 const gchar *event_id,
				 const gchar *severity_label,
				 const gchar *context_json);

/* {"msg": @msg, "signature": b64 RSA-PSS over @msg} as JSON text;
 * @revocation_key_pem NULL or "": signature "". */
gchar *
kl_revocation_transport_new(const gchar *msg, const gchar *revocation_key_pem, GError **error);

/* Borrowed by kl_revocation_notifier_new(). */
typedef struct {
	gboolean to_agents;	  /* "agent" in enabled_revocation_notifications */
	const gchar *webhook_url; /* "webhook" enabled and a URL set; else NULL */
	guint max_retries;	  /* webhook retries */
	gdouble retry_interval;
	gboolean exponential_backoff;
	gdouble request_timeout;
	const gchar *webhook_ca_file; /* PEM CAs for an https webhook; NULL: system's */
} KlRevocationNotifierOptions;

#define KL_TYPE_REVOCATION_NOTIFIER (kl_revocation_notifier_get_type())
G_DECLARE_FINAL_TYPE(KlRevocationNotifier, kl_revocation_notifier, KL, REVOCATION_NOTIFIER, GObject)

/* Holds a reference on @client. */
KlRevocationNotifier *kl_revocation_notifier_new(const KlRevocationNotifierOptions *options,
						 KlAgentClient *client,
						 GError **error);

/* Sends @transport_json to each of @targets (KlAgentTarget copies made
 * with kl_agent_target_copy(); may be NULL or empty) and to the webhook.
 * Returns at once.  "done" (guint n_sent, guint n_failed) is emitted when
 * every delivery of this call has finished or given up (tests wait on
 * it). */
void kl_revocation_notifier_send(KlRevocationNotifier *self,
				 const gchar *transport_json,
				 GPtrArray *targets);

/* Deliveries still running. */
guint kl_revocation_notifier_get_pending(KlRevocationNotifier *self);

G_END_DECLS
