/*
 * kl-verifier-store: the verifier's sqlite file (cv_data.sqlite).  Agents
 * live in upstream's verifiermain table and named policies in allowlists
 * and mbpolicies, created only if missing, so a database upstream's
 * verifier made is adopted as it is.  Policies are stored once and
 * referenced by id from every agent that uses them.  Our own table
 * kl_events keeps a bounded history of findings and revocations per agent.
 *
 * Every write is one transaction.  Callers may group several writes (an
 * enrollment: a named policy, then the agent) in one transaction of their
 * own on kl_verifier_store_get_store(); the writes then join it.
 *
 * Errors: KL_STORE_ERROR for the database; KL_ERROR_CONFLICT and
 * KL_ERROR_NOT_FOUND for the policy rules upstream answers with 409/404.
 * No message carries a stored value (V and revocation keys are secrets).
 */
#pragma once

#include "kl-store.h"
#include "kl-verifier-record.h"

G_BEGIN_DECLS

#define KL_VERIFIER_STORE_HISTORY_DEFAULT 100

typedef struct _KlVerifierStore KlVerifierStore;

KlVerifierStore *kl_verifier_store_open(const gchar *path, GError **error);
void kl_verifier_store_free(KlVerifierStore *self);
KlStore *kl_verifier_store_get_store(KlVerifierStore *self);

/* Agents */

/* NULL without an error when there is no such agent. */
KlVerifierAgent *
kl_verifier_store_get_agent(KlVerifierStore *self, const gchar *agent_id, GError **error);
/* Inserts or replaces every column of the row; columns we do not know are kept. */
gboolean
kl_verifier_store_put_agent(KlVerifierStore *self, const KlVerifierAgent *agent, GError **error);
/* Also drops the agent's history.  *deleted tells whether there was such an agent. */
gboolean kl_verifier_store_delete_agent(KlVerifierStore *self,
					const gchar *agent_id,
					gboolean *deleted,
					GError **error);
/* Sorted agent ids, of one verifier_id or (NULL) of all. */
GPtrArray *
kl_verifier_store_list_agent_ids(KlVerifierStore *self, const gchar *verifier_id, GError **error);
/* Every record (KlVerifierAgent), sorted by id, of one verifier_id or (NULL) of all. */
GPtrArray *
kl_verifier_store_list_agents(KlVerifierStore *self, const gchar *verifier_id, GError **error);

/*
 * After a quote: writes only the progress columns of @agent —
 * operational_state, attestation_count, last_received_quote,
 * last_successful_attestation, hash_alg, enc_alg, sign_alg, tpm_clockinfo,
 * the IMA state (next_ima_ml_entry, ima_pcrs, pcr10, boottime,
 * learned_ima_keyrings), severity_level, last_event_id and
 * consecutive_attestation_failures — unless the row is TERMINATED or
 * TENANT_FAILED, as upstream guards it.  *updated is FALSE when the row was
 * left alone or is gone: then the agent's loop stops.
 */
gboolean kl_verifier_store_update_progress(KlVerifierStore *self,
					   const KlVerifierAgent *agent,
					   gboolean *updated,
					   GError **error);
/*
 * The same for several agents in one transaction: each commit waits for the
 * disk (synchronous=FULL, a few ms), so a verifier with thousands of agents
 * gathers the updates of one main-loop turn here.  @updated, if not NULL,
 * has agents->len entries.
 */
gboolean kl_verifier_store_update_progress_many(KlVerifierStore *self,
						GPtrArray *agents,
						gboolean *updated,
						GError **error);
/* Unguarded (stop, reactivate, delete requests).  *updated: such a row exists. */
gboolean kl_verifier_store_set_state(KlVerifierStore *self,
				     const gchar *agent_id,
				     KlVerifierState state,
				     gboolean *updated,
				     GError **error);

/* Named policies (runtime: allowlists, measured boot: mbpolicies) */

/* KL_ERROR_CONFLICT if the name exists.  Computes the checksum; *id may be NULL. */
gboolean kl_verifier_store_add_policy(KlVerifierStore *self,
				      const KlVerifierPolicy *policy,
				      gint64 *id,
				      GError **error);
/* NULL without an error when there is no such policy. */
KlVerifierPolicy *kl_verifier_store_get_policy(KlVerifierStore *self,
					       KlVerifierPolicyKind kind,
					       const gchar *name,
					       GError **error);
KlVerifierPolicy *kl_verifier_store_get_policy_by_id(KlVerifierStore *self,
						     KlVerifierPolicyKind kind,
						     gint64 id,
						     GError **error);
/* The policy of that name gets new contents and keeps its id: the agents
 * that use it follow.  KL_ERROR_NOT_FOUND if there is none. */
gboolean kl_verifier_store_replace_policy(KlVerifierStore *self,
					  const KlVerifierPolicy *policy,
					  GError **error);
/* KL_ERROR_NOT_FOUND if absent, KL_ERROR_CONFLICT while an agent uses it. */
gboolean kl_verifier_store_delete_policy(KlVerifierStore *self,
					 KlVerifierPolicyKind kind,
					 const gchar *name,
					 GError **error);
/* Sorted names. */
GPtrArray *kl_verifier_store_list_policy_names(KlVerifierStore *self,
					       KlVerifierPolicyKind kind,
					       GError **error);

/* History of findings and revocations */

/* How many events of each kind an agent keeps (default 100, at least 1). */
void kl_verifier_store_set_history_limit(KlVerifierStore *self, guint limit);
guint kl_verifier_store_get_history_limit(KlVerifierStore *self);
/*
 * Appends @events (KlVerifierEvent, any agents and kinds) and drops each
 * agent's oldest beyond the limit, in one transaction.  Assigns their ids.
 * KL_ERROR_NOT_FOUND if an agent is gone: nothing is written then.
 */
gboolean kl_verifier_store_add_events(KlVerifierStore *self, GPtrArray *events, GError **error);
/* One agent's events of one kind, newest first, at most @max. */
GPtrArray *kl_verifier_store_list_events(KlVerifierStore *self,
					 const gchar *agent_id,
					 KlVerifierEventKind kind,
					 guint max,
					 GError **error);
/* Every agent's events of both kinds with time >= @since, newest first, at most @max. */
GPtrArray *
kl_verifier_store_list_events_since(KlVerifierStore *self, gint64 since, guint max, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlVerifierStore, kl_verifier_store_free)

G_END_DECLS
