/*
 * KlVerifier: the attestation engine of keylime_verifier (spec §1.4, §3).
 *
 * It owns the agent table (shared memory), the store (cv_data.sqlite), the
 * client to the agents and a pool of worker threads, and drives every
 * enrolled pull agent through upstream's operational states: a quote every
 * quote_interval (with jitter), retries with back-off, V after the first
 * good quote, INVALID_QUOTE and revocations on failure.  It knows nothing
 * of REST or D-Bus servers: the front-ends call the functions below and
 * follow its signals.  Everything runs on the thread-default main context
 * of kl_verifier_new(); checks run in worker threads.
 *
 * Errors are KL_ERROR codes, so that the front-ends map them the same way:
 * INVALID_ARGUMENT (400, the message names the field), NOT_FOUND (404),
 * CONFLICT (409: the agent or policy exists, a policy is in use),
 * NOT_AUTHENTICATED (401: a runtime policy's signature is missing or bad
 * with require_allow_list_signatures), INTERNAL (500: the store failed).
 */
#pragma once

#include <json-glib/json-glib.h>

#include "kl-attestation.h"
#include "kl-verifier-record.h"
#include "kl-verifier-store.h"

G_BEGIN_DECLS

/* verifier.conf, as the engine uses it (kl_verifier_options_init() gives
 * upstream's defaults).  Borrowed by kl_verifier_new(), which copies. */
typedef struct {
	const gchar *verifier_id; /* [verifier] uuid */
	const gchar *verifier_ip; /* stored in the rows this verifier owns */
	guint16 verifier_port;
	gdouble quote_interval; /* seconds; 0: at once */
	gdouble retry_interval; /* seconds */
	guint max_retries;
	gboolean exponential_backoff;
	gdouble request_timeout;      /* seconds, per request to an agent */
	gboolean enable_agent_mtls;   /* FALSE: plain HTTP to agents */
	const gchar *client_cert;     /* PEM file: the verifier's certificate to agents */
	const gchar *client_key;      /* PEM file */
	guint max_in_flight;	      /* requests to agents on the wire at once */
	const gchar *severity_labels; /* Python literals; NULL: upstream's */
	const gchar *severity_policy;
	KlMbEvaluate mb_evaluate;	     /* measured_boot_evaluate */
	const gchar *mb_default_policy_name; /* measured_boot_policy_name, e.g. accept-all */
	gboolean ignore_tomtou_errors;
	gboolean require_allow_list_signatures;
	guint64 max_upload_size; /* bytes of a policy or an enrolment */
	/* [revocations] */
	const gchar *const
		*revocation_notifiers; /* enabled_revocation_notifications: "agent", "webhook" */
	const gchar *webhook_url;      /* NULL or "": none */
	/* the engine itself */
	const gchar *shm_name; /* NULL: a fresh "/keylime-verifier-<pid>-<random>" */
	guint table_capacity;  /* initial; the table grows */
	guint n_workers;       /* 0: the number of processors */
	guint history_limit;   /* findings and revocations kept per agent */
} KlVerifierOptions;

void kl_verifier_options_init(KlVerifierOptions *options);

/* Why an agent is in its state (the D-Bus StateReason). */
typedef enum {
	KL_VERIFIER_REASON_NONE,	 /* enrolled, or restarted */
	KL_VERIFIER_REASON_ATTESTED,	 /* a quote passed */
	KL_VERIFIER_REASON_QUOTE_FAILED, /* a check failed: findings */
	KL_VERIFIER_REASON_UNREACHABLE,	 /* retries exhausted */
	KL_VERIFIER_REASON_AGENT_ERROR,	 /* the agent answered an error or garbage */
	KL_VERIFIER_REASON_STOPPED,	 /* PUT …/stop */
	KL_VERIFIER_REASON_REACTIVATED,	 /* PUT …/reactivate */
	KL_VERIFIER_REASON_DELETING,	 /* DELETE while a request was on the wire */
	KL_VERIFIER_REASON_INTERNAL,	 /* an unexpected error in the verifier */
} KlVerifierReason;

#define KL_TYPE_VERIFIER (kl_verifier_get_type())
G_DECLARE_FINAL_TYPE(KlVerifier, kl_verifier, KL, VERIFIER, GObject)

/*
 * Signals (all on the main context, after the store has the change):
 *
 *   agent-added    (const gchar *agent_id)
 *   agent-removed  (const gchar *agent_id)
 *   state-changed  (const gchar *agent_id, guint new_state, guint old_state, guint reason)
 *   agent-changed  (const gchar *agent_id)   counters, times or algorithms moved
 *                  (at most once per round; front-ends coalesce further)
 *   attestation-failed (const gchar *agent_id, gint64 time, guint severity,
 *                  GPtrArray *findings)    of KlFinding, IMA ones capped
 *   revocation     (const gchar *agent_id, gint64 time, const gchar *event_id,
 *                  guint severity, const gchar *context_json)
 *                  a revocation or comm_error notification was sent
 */

/* Takes @store.  Creates the shared-memory table; starts nothing yet. */
KlVerifier *
kl_verifier_new(const KlVerifierOptions *options, KlVerifierStore *store, GError **error);

/* Loads this verifier_id's agents: rows in START, GET_QUOTE(_RETRY),
 * PROVIDE_V(_RETRY) restart from START (upstream's
 * APPROVED_REACTIVATE_STATES) with their saved IMA progress; FAILED,
 * INVALID_QUOTE and TENANT_FAILED rows stay stopped; TERMINATED rows are
 * deleted. */
gboolean kl_verifier_start(KlVerifier *self, GError **error);

const gchar *kl_verifier_get_verifier_id(KlVerifier *self);
const gchar *kl_verifier_get_shm_name(KlVerifier *self);
gdouble kl_verifier_get_quote_interval(KlVerifier *self);
KlSeverityPolicy *kl_verifier_get_severity_policy(KlVerifier *self);
guint kl_verifier_get_n_agents(KlVerifier *self);
guint kl_verifier_get_n_failed(KlVerifier *self); /* FAILED, INVALID_QUOTE, TENANT_FAILED */

/* --- agents --- */

/* POST /v2.x/agents/{id}: @body is upstream's enrolment object (spec
 * §2.3), checked field by field; named policies are stored or loaded as
 * upstream does.  The agent is stored in START and its loop starts. */
gboolean
kl_verifier_add_agent(KlVerifier *self, const gchar *agent_id, JsonObject *body, GError **error);

/* The agent as the engine knows it now (the store may lag by one
 * main-loop turn): a copy.  KL_ERROR_NOT_FOUND if this verifier has no
 * such agent. */
KlVerifierAgent *kl_verifier_get_agent(KlVerifier *self, const gchar *agent_id, GError **error);

/* Why the agent is in its state. */
KlVerifierReason kl_verifier_get_agent_reason(KlVerifier *self, const gchar *agent_id);

/* Sorted ids of this verifier's agents. */
GPtrArray *kl_verifier_list_agent_ids(KlVerifier *self);

/* DELETE: removed at once (*pending FALSE, 200) unless a request to the
 * agent is on the wire: then TERMINATED and the loop removes it (*pending
 * TRUE, 202). */
gboolean kl_verifier_delete_agent(KlVerifier *self,
				  const gchar *agent_id,
				  gboolean *pending,
				  GError **error);
/* PUT …/stop: TENANT_FAILED, polling stops. */
gboolean kl_verifier_stop_agent(KlVerifier *self, const gchar *agent_id, GError **error);
/* PUT …/reactivate: START, polling restarts (partial=0, retries reset). */
gboolean kl_verifier_reactivate_agent(KlVerifier *self, const gchar *agent_id, GError **error);

/* --- named policies (allowlists, mbpolicies) --- */

/* POST (@replace FALSE) or PUT (@replace TRUE) /v2.x/allowlists/{name}
 * and /v2.x/mbpolicies/{name}.  @policy_text: the runtime policy JSON or
 * DSSE envelope (already base64-decoded), or the measured-boot reference
 * state JSON; checked before it is stored.  @policy_key: a runtime
 * policy's DSSE verification key PEM (nullable).  @tpm_policy: nullable.
 * A replaced policy takes effect at each of its agents' next round. */
gboolean kl_verifier_put_policy(KlVerifier *self,
				KlVerifierPolicyKind kind,
				const gchar *name,
				const gchar *policy_text,
				const gchar *policy_key,
				const gchar *tpm_policy,
				gboolean replace,
				GError **error);
KlVerifierPolicy *kl_verifier_get_policy(KlVerifier *self,
					 KlVerifierPolicyKind kind,
					 const gchar *name,
					 GError **error);
/* Sorted names. */
GPtrArray *kl_verifier_list_policies(KlVerifier *self, KlVerifierPolicyKind kind, GError **error);
/* KL_ERROR_CONFLICT while an agent uses it. */
gboolean kl_verifier_delete_policy(KlVerifier *self,
				   KlVerifierPolicyKind kind,
				   const gchar *name,
				   GError **error);

/* --- history --- */

/* One agent's findings or revocations, newest first (KlVerifierEvent). */
GPtrArray *kl_verifier_list_events(KlVerifier *self,
				   const gchar *agent_id,
				   KlVerifierEventKind kind,
				   guint max,
				   GError **error);
/* Every agent's events since @since (unix s), newest first. */
GPtrArray *kl_verifier_list_events_since(KlVerifier *self, gint64 since, guint max, GError **error);

G_END_DECLS
