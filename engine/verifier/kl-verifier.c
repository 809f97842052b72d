/*
 * KlVerifier: the attestation engine (see kl-verifier.h).  One small loop
 * record per agent, one scheduler source for the fleet, checks in a
 * GThreadPool whose results come back in batches through one wakeup
 * source, progress written once per main-loop turn.
 */
#include "config.h"

#include <openssl/pem.h>
#include <string.h>

#include "kl-agent-client.h"
#include "kl-agent-id.h"
#include "kl-agent-table.h"
#include "kl-base64.h"
#include "kl-crypto.h"
#include "kl-error.h"
#include "kl-json.h"
#include "kl-mb-refstate.h"
#include "kl-revocation-notifier.h"
#include "kl-scheduler.h"
#include "kl-tpm-policy.h"
#include "kl-tpm-types.h"
#include "kl-verifier.h"

#define KL_VERIFIER_NONCE_LEN 20

/* ---- one agent's loop ---- */

typedef struct {
	KlSchedulerEntry entry; /* first: the scheduler hands it back */
	gint ref_count;
	KlVerifier *verifier; /* borrowed */
	KlVerifierAgent *agent;
	guint slot;
	KlVerifierReason reason;
	guint retries;
	gboolean partial;     /* next quote with partial=1 */
	gboolean v_delivered; /* since the last START */
	gboolean busy;	      /* a request or a check of this round is running */
	gboolean removed;     /* no longer in the verifier */
	gboolean requote;     /* a failure with a lower label: quote again */
	guint round;	      /* bumped when a round starts or is abandoned */
	gint64 round_start;   /* monotonic µs */
	guint32 mask;
	KlApiVersion api_version;
	KlQuoteKey *ak;
	GTlsCertificate *pin;
	GPtrArray *ima_keys; /* ima_sign_verification_keys, nullable */
	GCancellable *cancellable;
	gchar *nonce;
	KlImaState ima_state;
} KlVerifierLoop;

/* a compiled named policy, shared by every agent that uses it */
typedef struct {
	KlRuntimePolicy *runtime; /* nullable: empty policy */
	KlAttestationMb *mb;	  /* nullable: empty reference state */
} KlVerifierCompiled;

/* one request or check of one round */
typedef struct {
	KlVerifierLoop *loop; /* reference */
	guint round;
	KlAttestationInput *input;
	KlAttestationResult *result;
} KlVerifierCall;

struct _KlVerifier {
	GObject parent_instance;

	gchar *verifier_id;
	gchar *verifier_ip;
	guint16 verifier_port;
	gdouble quote_interval;
	gdouble retry_interval;
	guint max_retries;
	gboolean exponential_backoff;
	gboolean enable_agent_mtls;
	KlMbEvaluate mb_evaluate;
	gchar *mb_default_policy_name;
	gboolean ignore_tomtou_errors;
	gboolean require_allow_list_signatures;
	guint64 max_upload_size;
	guint history_limit;

	GMainContext *context;
	KlVerifierStore *store;
	KlAgentTable *table;
	KlAgentClient *client;
	KlRevocationNotifier *notifier;
	KlSeverityPolicy *severity;
	KlScheduler *scheduler;
	GThreadPool *pool;
	GAsyncQueue *done; /* of KlVerifierCall, from the workers */
	GSource *done_source;
	GSource *flush_source;
	GHashTable *loops;	 /* agent id -> KlVerifierLoop */
	GHashTable *progress;	 /* agent id -> KlVerifierLoop (reference): to flush */
	GPtrArray *history;	 /* KlVerifierEvent to store at the next flush */
	GHashTable *compiled[2]; /* KlVerifierPolicyKind: gint64 id -> KlVerifierCompiled */
};

G_DEFINE_TYPE(KlVerifier, kl_verifier, G_TYPE_OBJECT)

enum {
	SIGNAL_AGENT_ADDED,
	SIGNAL_AGENT_REMOVED,
	SIGNAL_STATE_CHANGED,
	SIGNAL_AGENT_CHANGED,
	SIGNAL_ATTESTATION_FAILED,
	SIGNAL_REVOCATION,
	N_SIGNALS,
};

static guint signals[N_SIGNALS];

static void kl_verifier_start_round(KlVerifier *self, KlVerifierLoop *loop);
static void kl_verifier_target_init(KlVerifierLoop *loop, KlAgentTarget *target);
static void kl_verifier_drop_own_policies(KlVerifier *self, const gchar *agent_id);

/* ---- options ---- */

void
kl_verifier_options_init(KlVerifierOptions *options)
{
	static const gchar *const notifiers[] = {"agent", NULL};

	memset(options, 0, sizeof(*options));
	options->verifier_id = "default";
	options->verifier_ip = "127.0.0.1";
	options->verifier_port = 8881;
	options->quote_interval = 2;
	options->retry_interval = 2;
	options->max_retries = 5;
	options->exponential_backoff = TRUE;
	options->request_timeout = KL_AGENT_CLIENT_DEFAULT_TIMEOUT;
	options->enable_agent_mtls = TRUE;
	options->max_in_flight = KL_AGENT_CLIENT_DEFAULT_MAX_IN_FLIGHT;
	options->mb_evaluate = KL_MB_EVALUATE_ONCE;
	options->mb_default_policy_name = "accept-all";
	options->max_upload_size = 104857600;
	options->revocation_notifiers = notifiers;
	options->table_capacity = 64;
	options->history_limit = KL_VERIFIER_STORE_HISTORY_DEFAULT;
}

/* ---- loops ---- */

static KlVerifierLoop *
kl_verifier_loop_ref(KlVerifierLoop *loop)
{
	loop->ref_count++;
	return loop;
}

static void
kl_verifier_loop_unref(KlVerifierLoop *loop)
{
	if (--loop->ref_count > 0)
		return;
	kl_verifier_agent_free(loop->agent);
	g_clear_pointer(&loop->ak, kl_quote_key_unref);
	g_clear_object(&loop->pin);
	g_clear_pointer(&loop->ima_keys, g_ptr_array_unref);
	g_clear_object(&loop->cancellable);
	g_free(loop->nonce);
	g_free(loop);
}

static gboolean
kl_verifier_state_is_stopped(gint64 state)
{
	return state == KL_VERIFIER_STATE_FAILED || state == KL_VERIFIER_STATE_INVALID_QUOTE ||
	       state == KL_VERIFIER_STATE_TENANT_FAILED || state == KL_VERIFIER_STATE_TERMINATED;
}

/* the record's pcr10 column: the digests of the banks known, in bank
 * order; the sizes 20, 32, 48 and 64 have distinct subset sums, so the
 * length says which banks they are */
static GBytes *
kl_verifier_pcr10_encode(const KlImaState *state)
{
	GByteArray *bytes = g_byte_array_new();

	for (guint bank = 0; bank < KL_IMA_BANK_LAST; bank++)
		if (state->known_banks & (1u << bank))
			g_byte_array_append(bytes,
					    state->pcr10[bank],
					    kl_ima_bank_get_size((KlImaBank)bank));
	return g_byte_array_free_to_bytes(bytes);
}

static void
kl_verifier_pcr10_decode(KlImaState *state, gint64 next_entry, GBytes *pcr10)
{
	gsize len = 0;
	const guint8 *data = pcr10 != NULL ? g_bytes_get_data(pcr10, &len) : NULL;

	memset(state, 0, sizeof(*state));
	if (next_entry <= 0 || data == NULL)
		return;
	for (guint banks = 1; banks < (1u << KL_IMA_BANK_LAST); banks++) {
		gsize total = 0;
		gsize offset = 0;
		for (guint bank = 0; bank < KL_IMA_BANK_LAST; bank++)
			if (banks & (1u << bank))
				total += kl_ima_bank_get_size((KlImaBank)bank);
		if (total != len)
			continue;
		for (guint bank = 0; bank < KL_IMA_BANK_LAST; bank++) {
			gsize size = kl_ima_bank_get_size((KlImaBank)bank);
			if (!(banks & (1u << bank)))
				continue;
			memcpy(state->pcr10[bank], data + offset, size);
			offset += size;
		}
		state->known_banks = banks;
		state->next_entry = (guint64)next_entry;
		return;
	}
	/* unusable: read the log again from the start */
}

static void
kl_verifier_loop_table_update(KlVerifier *self, KlVerifierLoop *loop)
{
	KlAgentTableRecord record;
	KlVerifierAgent *agent = loop->agent;

	memset(&record, 0, sizeof(record));
	record.operational_state = (gint32)agent->operational_state;
	record.severity_level =
		agent->severity_level == KL_VERIFIER_NULL ? -1 : (gint32)agent->severity_level;
	kl_agent_table_set_string(record.last_event_id,
				  sizeof(record.last_event_id),
				  agent->last_event_id);
	kl_agent_table_set_string(record.ip, sizeof(record.ip), agent->ip);
	record.port = agent->port > 0 && agent->port <= G_MAXUINT16 ? (guint16)agent->port : 0;
	record.last_attestation = MAX(agent->last_received_quote, 0);
	record.last_success = MAX(agent->last_successful_attestation, 0);
	record.attestation_count = (guint64)MAX(agent->attestation_count, 0);
	record.consecutive_failures =
		(guint32)CLAMP(agent->consecutive_attestation_failures, 0, G_MAXUINT32);
	record.flags = kl_verifier_state_is_stopped(agent->operational_state)
			       ? KL_AGENT_TABLE_FLAG_STOPPED
			       : 0;
	kl_agent_table_set_string(record.hash_alg, sizeof(record.hash_alg), agent->hash_alg);
	kl_agent_table_set_string(record.sign_alg, sizeof(record.sign_alg), agent->sign_alg);
	kl_agent_table_set_string(record.enc_alg, sizeof(record.enc_alg), agent->enc_alg);
	kl_agent_table_update(self->table, loop->slot, &record);
}

static void
kl_verifier_set_state(KlVerifier *self,
		      KlVerifierLoop *loop,
		      KlVerifierState state,
		      KlVerifierReason reason)
{
	gint64 old = loop->agent->operational_state;

	loop->agent->operational_state = state;
	loop->reason = reason;
	kl_verifier_loop_table_update(self, loop);
	if (old != state)
		g_signal_emit(self,
			      signals[SIGNAL_STATE_CHANGED],
			      0,
			      loop->agent->agent_id,
			      (guint)state,
			      (guint)MAX(old, 0),
			      (guint)reason);
}

/* the progress of @loop goes to the store at the end of this turn */
static void
kl_verifier_queue_progress(KlVerifier *self, KlVerifierLoop *loop)
{
	if (!g_hash_table_contains(self->progress, loop->agent->agent_id))
		g_hash_table_insert(self->progress,
				    loop->agent->agent_id,
				    kl_verifier_loop_ref(loop));
	g_source_set_ready_time(self->flush_source, 0);
}

/* Forgets @loop: table slot, scheduler, in-memory record. */
static void
kl_verifier_forget_loop(KlVerifier *self, KlVerifierLoop *loop)
{
	g_autofree gchar *agent_id = g_strdup(loop->agent->agent_id);

	loop->removed = TRUE;
	loop->round++;
	if (loop->cancellable != NULL)
		g_cancellable_cancel(loop->cancellable);
	kl_scheduler_cancel(self->scheduler, &loop->entry);
	kl_agent_table_remove(self->table, loop->slot);
	g_hash_table_remove(self->progress, agent_id);
	g_hash_table_remove(self->loops, agent_id);
	g_signal_emit(self, signals[SIGNAL_AGENT_REMOVED], 0, agent_id);
}

static void kl_verifier_flush_history(KlVerifier *self);

/* Deletes the row and the loop (DELETE, or TERMINATED found by the loop). */
static void
kl_verifier_finish_delete(KlVerifier *self, KlVerifierLoop *loop)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *agent_id = g_strdup(loop->agent->agent_id);
	gboolean deleted = FALSE;

	kl_verifier_flush_history(self);
	if (!kl_verifier_store_delete_agent(self->store, agent_id, &deleted, &error))
		g_warning("agent %s: cannot delete it: %s", agent_id, error->message);
	kl_verifier_forget_loop(self, loop);
	kl_verifier_drop_own_policies(self, agent_id);
}

/* Stops polling @loop: nothing in flight counts any more. */
static void
kl_verifier_loop_halt(KlVerifier *self, KlVerifierLoop *loop)
{
	loop->round++;
	loop->busy = FALSE;
	loop->requote = FALSE;
	if (loop->cancellable != NULL)
		g_cancellable_cancel(loop->cancellable);
	g_clear_object(&loop->cancellable);
	kl_scheduler_cancel(self->scheduler, &loop->entry);
}

static void
kl_verifier_schedule_first(KlVerifier *self, KlVerifierLoop *loop)
{
	/* jitter: the fleet's first rounds spread over one interval */
	gdouble delay = self->quote_interval > 0 ? g_random_double() * self->quote_interval : 0;

	kl_scheduler_schedule_in(self->scheduler, &loop->entry, delay);
}

/* ---- compiled policies ---- */

static void
kl_verifier_compiled_free(gpointer data)
{
	KlVerifierCompiled *compiled = data;

	g_clear_pointer(&compiled->runtime, kl_runtime_policy_unref);
	g_clear_pointer(&compiled->mb, kl_attestation_mb_unref);
	g_free(compiled);
}

static void
kl_verifier_forget_compiled(KlVerifier *self, KlVerifierPolicyKind kind, const gchar *name)
{
	g_autoptr(KlVerifierPolicy) policy =
		kl_verifier_store_get_policy(self->store, kind, name, NULL);

	if (policy != NULL)
		g_hash_table_remove(self->compiled[kind], &policy->id);
}

/* A stored runtime policy's text: "" is no policy. */
static KlRuntimePolicy *
kl_verifier_parse_runtime(const gchar *text, GError **error)
{
	if (text == NULL || text[0] == '\0')
		return NULL;
	return kl_runtime_policy_new_from_json(text, strlen(text), error);
}

static gboolean
kl_verifier_compile_mb(KlVerifier *self, const gchar *text, KlAttestationMb **mb, GError **error)
{
	g_autoptr(KlMbRefstate) refstate = NULL;
	KlMbPolicy *policy;

	*mb = NULL;
	if (text == NULL || text[0] == '\0' || g_strcmp0(text, "null") == 0)
		return TRUE;
	refstate = kl_mb_refstate_new_from_json(text, strlen(text), error);
	if (refstate == NULL)
		return FALSE;
	if (kl_mb_refstate_is_empty(refstate))
		return TRUE;
	policy = kl_mb_policy_load(self->mb_default_policy_name, NULL, error);
	if (policy == NULL)
		return FALSE;
	*mb = kl_attestation_mb_new(policy, g_steal_pointer(&refstate), error);
	return *mb != NULL || (error == NULL || *error == NULL);
}

static KlVerifierCompiled *
kl_verifier_get_compiled(KlVerifier *self, KlVerifierPolicyKind kind, gint64 id, GError **error)
{
	g_autoptr(KlVerifierPolicy) policy = NULL;
	KlVerifierCompiled *compiled;
	gint64 *key;

	if (id == KL_VERIFIER_NULL)
		return NULL;
	compiled = g_hash_table_lookup(self->compiled[kind], &id);
	if (compiled != NULL)
		return compiled;
	policy = kl_verifier_store_get_policy_by_id(self->store, kind, id, error);
	if (policy == NULL) {
		if (error != NULL && *error == NULL)
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_NOT_FOUND,
				    "policy %" G_GINT64_FORMAT " is gone",
				    id);
		return NULL;
	}
	compiled = g_new0(KlVerifierCompiled, 1);
	if (kind == KL_VERIFIER_POLICY_RUNTIME) {
		g_autoptr(GError) local_error = NULL;
		compiled->runtime = kl_verifier_parse_runtime(policy->policy, &local_error);
		if (local_error != NULL) {
			kl_verifier_compiled_free(compiled);
			g_propagate_error(error, g_steal_pointer(&local_error));
			return NULL;
		}
	} else if (!kl_verifier_compile_mb(self, policy->policy, &compiled->mb, error)) {
		kl_verifier_compiled_free(compiled);
		return NULL;
	}
	key = g_new(gint64, 1);
	*key = id;
	g_hash_table_insert(self->compiled[kind], key, compiled);
	return compiled;
}

/* ---- history and failures ---- */

static guint
kl_verifier_finding_level(KlVerifier *self, const KlFinding *finding)
{
	return kl_severity_policy_get_level(self->severity,
					    finding->event_id,
					    finding->irrecoverable);
}

/* Findings and revocations go to the store with the next flush, like
 * progress: one commit per main-loop turn, not one per failed round. */
static void
kl_verifier_queue_history(KlVerifier *self, GPtrArray *events)
{
	for (guint i = 0; i < events->len; i++)
		g_ptr_array_add(self->history, g_steal_pointer(&events->pdata[i]));
	g_ptr_array_set_size(events, 0);
	if (self->history->len > 0)
		g_source_set_ready_time(self->flush_source, 0);
}

/* Stores the queued history: at the flush, and before the store is read
 * or an agent's history deleted. */
static void
kl_verifier_flush_history(KlVerifier *self)
{
	g_autoptr(GError) error = NULL;

	if (self->history == NULL || self->history->len == 0)
		return;
	if (!kl_verifier_store_add_events(self->store, self->history, &error))
		g_warning("cannot record %u findings and revocations: %s",
			  self->history->len,
			  error->message);
	g_ptr_array_set_size(self->history, 0);
}

static void
kl_verifier_add_history(KlVerifier *self, KlVerifierLoop *loop, gint64 now, GPtrArray *findings)
{
	g_autoptr(GPtrArray) events =
		g_ptr_array_new_with_free_func((GDestroyNotify)kl_verifier_event_free);
	g_autoptr(GError) error = NULL;

	for (guint i = 0; i < findings->len; i++) {
		const KlFinding *finding = g_ptr_array_index(findings, i);
		g_ptr_array_add(events,
				kl_verifier_event_new(KL_VERIFIER_EVENT_FINDING,
						      loop->agent->agent_id,
						      now,
						      finding->event_id,
						      kl_verifier_finding_level(self, finding),
						      finding->context_json,
						      finding->subject));
	}
	kl_verifier_queue_history(self, events);
}

/* A revocation or comm_error notification (spec §9) to the other agents
 * of this verifier and the webhook, recorded in the agent's history. */
static void
kl_verifier_notify(KlVerifier *self,
		   KlVerifierLoop *loop,
		   KlRevocationType type,
		   const gchar *event_id,
		   guint level,
		   const gchar *context_json)
{
	KlVerifierAgent *agent = loop->agent;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	const gchar *label = kl_severity_policy_get_label(self->severity, level);
	g_autofree gchar *msg =
		kl_revocation_message_new(type, agent, now, event_id, label, context_json);
	g_autofree gchar *transport = NULL;
	g_autoptr(GPtrArray) targets =
		g_ptr_array_new_with_free_func((GDestroyNotify)kl_agent_target_free);
	g_autoptr(GPtrArray) events =
		g_ptr_array_new_with_free_func((GDestroyNotify)kl_verifier_event_free);
	g_autoptr(GError) error = NULL;
	GHashTableIter iter;
	gpointer value;

	transport = kl_revocation_transport_new(msg, agent->revocation_key, &error);
	if (transport == NULL) {
		g_warning("agent %s: cannot sign its revocation message: %s",
			  agent->agent_id,
			  error->message);
		return;
	}
	g_hash_table_iter_init(&iter, self->loops);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		KlVerifierLoop *other = value;
		KlAgentTarget target;
		if (other == loop || other->removed || other->agent->ip == NULL)
			continue;
		kl_verifier_target_init(other, &target);
		g_ptr_array_add(targets, kl_agent_target_copy(&target));
	}
	kl_revocation_notifier_send(self->notifier, transport, targets);
	g_ptr_array_add(events,
			kl_verifier_event_new(KL_VERIFIER_EVENT_REVOCATION,
					      agent->agent_id,
					      now,
					      event_id,
					      level,
					      msg,
					      NULL));
	kl_verifier_queue_history(self, events);
	g_signal_emit(self,
		      signals[SIGNAL_REVOCATION],
		      0,
		      agent->agent_id,
		      now,
		      event_id,
		      level,
		      context_json);
}

/* the context of the first finding named @event_id */
static const gchar *
kl_verifier_findings_context(GPtrArray *findings, const gchar *event_id)
{
	for (guint i = 0; i < findings->len; i++) {
		const KlFinding *finding = g_ptr_array_index(findings, i);
		if (g_strcmp0(finding->event_id, event_id) == 0)
			return finding->context_json;
	}
	return NULL;
}

/* process_agent for FAILED and INVALID_QUOTE (spec §3, step 2) */
static void
kl_verifier_fail(KlVerifier *self,
		 KlVerifierLoop *loop,
		 KlVerifierState state,
		 KlVerifierReason reason,
		 guint level,
		 const gchar *event_id,
		 GPtrArray *findings,
		 gboolean stop_polling)
{
	KlVerifierAgent *agent = loop->agent;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	gboolean increased = FALSE;

	if (agent->severity_level == KL_VERIFIER_NULL || agent->severity_level < (gint64)level) {
		agent->severity_level = level;
		g_free(agent->last_event_id);
		agent->last_event_id = g_strdup(event_id);
		increased = TRUE;
	}
	kl_verifier_add_history(self, loop, now, findings);
	kl_verifier_set_state(self, loop, state, reason);
	kl_verifier_queue_progress(self, loop);
	/* revocations only when the severity increased (spec §9) */
	if (state == KL_VERIFIER_STATE_INVALID_QUOTE && increased)
		kl_verifier_notify(self,
				   loop,
				   KL_REVOCATION_TYPE_REVOCATION,
				   event_id,
				   level,
				   kl_verifier_findings_context(findings, event_id));
	g_signal_emit(self,
		      signals[SIGNAL_ATTESTATION_FAILED],
		      0,
		      agent->agent_id,
		      now,
		      level,
		      findings);
	loop->busy = FALSE;
	g_clear_object(&loop->cancellable);
	if (stop_polling) {
		loop->requote = FALSE;
		kl_scheduler_cancel(self->scheduler, &loop->entry);
	} else {
		/* a lower label: back to GET_QUOTE and quote again at once,
		 * without the interval, as upstream */
		kl_verifier_set_state(self, loop, KL_VERIFIER_STATE_GET_QUOTE, reason);
		loop->requote = TRUE;
		loop->round_start = g_get_monotonic_time();
		kl_scheduler_schedule_in(self->scheduler, &loop->entry, 0);
	}
}

/* FAILED with one internal finding, polling stops */
static void
kl_verifier_fail_internal(KlVerifier *self,
			  KlVerifierLoop *loop,
			  KlVerifierReason reason,
			  const gchar *event_id,
			  gboolean irrecoverable,
			  const gchar *message)
{
	g_autoptr(GPtrArray) findings = kl_findings_new();
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) root = NULL;
	KlFinding *finding = kl_finding_new(event_id, loop->agent->agent_id, 0, message);

	finding->irrecoverable = irrecoverable;
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "message");
	json_builder_add_string_value(builder, message);
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	g_free(finding->context_json);
	finding->context_json = kl_json_node_to_string(root, FALSE);
	g_ptr_array_add(findings, finding);
	g_message("agent %s: %s: %s", loop->agent->agent_id, event_id, message);
	kl_verifier_fail(self,
			 loop,
			 KL_VERIFIER_STATE_FAILED,
			 reason,
			 kl_verifier_finding_level(self, finding),
			 event_id,
			 findings,
			 TRUE);
}

/* ---- requests ---- */

static void
kl_verifier_target_init(KlVerifierLoop *loop, KlAgentTarget *target)
{
	memset(target, 0, sizeof(*target));
	target->agent_id = loop->agent->agent_id;
	target->ip = loop->agent->ip;
	target->port = (guint16)CLAMP(loop->agent->port, 0, G_MAXUINT16);
	target->api_version = loop->api_version;
	target->mtls_cert = loop->pin;
}

static KlVerifierCall *
kl_verifier_call_new(KlVerifierLoop *loop)
{
	KlVerifierCall *call = g_new0(KlVerifierCall, 1);

	call->loop = kl_verifier_loop_ref(loop);
	call->round = loop->round;
	return call;
}

static void
kl_verifier_call_free(KlVerifierCall *call)
{
	kl_verifier_loop_unref(call->loop);
	g_clear_pointer(&call->input, kl_attestation_input_unref);
	g_clear_pointer(&call->result, kl_attestation_result_free);
	g_free(call);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlVerifierCall, kl_verifier_call_free)

/* Whether the answer to @call still matters; follows a TERMINATED loop. */
static gboolean
kl_verifier_call_is_current(KlVerifier *self, KlVerifierCall *call)
{
	KlVerifierLoop *loop = call->loop;

	if (loop->removed)
		return FALSE;
	if (loop->agent->operational_state == KL_VERIFIER_STATE_TERMINATED) {
		kl_verifier_finish_delete(self, loop);
		return FALSE;
	}
	return call->round == loop->round;
}

static void
kl_verifier_send_comm_error(KlVerifier *self, KlVerifierLoop *loop, const gchar *event_id)
{
	kl_verifier_notify(self,
			   loop,
			   KL_REVOCATION_TYPE_COMM_ERROR,
			   event_id,
			   (guint)MAX(loop->agent->severity_level, 0),
			   NULL);
}

/* a request failed with RETRYABLE: back off, or give up (spec §3, step 4) */
static void
kl_verifier_retry(KlVerifier *self, KlVerifierLoop *loop, gboolean provide_v, const GError *error)
{
	if (loop->retries >= self->max_retries) {
		const gchar *event_id = provide_v ? "internal.verifier.not_reachable_v"
						  : "internal.verifier.not_reachable";
		g_autofree gchar *message = g_strdup_printf("no answer after %u retries: %s",
							    loop->retries,
							    error->message);
		kl_verifier_fail_internal(self,
					  loop,
					  KL_VERIFIER_REASON_UNREACHABLE,
					  event_id,
					  FALSE,
					  message);
		if (provide_v || loop->agent->attestation_count > 0)
			kl_verifier_send_comm_error(self, loop, event_id);
		return;
	}
	loop->retries++;
	loop->busy = FALSE;
	g_clear_object(&loop->cancellable);
	if (!provide_v)
		loop->partial = FALSE;
	g_debug("agent %s: retry %u: %s", loop->agent->agent_id, loop->retries, error->message);
	kl_verifier_set_state(self,
			      loop,
			      provide_v ? KL_VERIFIER_STATE_PROVIDE_V_RETRY
					: KL_VERIFIER_STATE_GET_QUOTE_RETRY,
			      KL_VERIFIER_REASON_UNREACHABLE);
	kl_verifier_queue_progress(self, loop);
	kl_scheduler_schedule_in(self->scheduler,
				 &loop->entry,
				 kl_scheduler_retry_time(self->exponential_backoff,
							 self->retry_interval,
							 loop->retries));
}

static void
kl_verifier_version_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(KlVerifierCall) call = user_data;
	KlVerifier *self = call->loop->verifier;
	KlVerifierLoop *loop = call->loop;
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) supported = NULL;
	KlApiVersion common;
	gchar text[KL_API_VERSION_STRING_SIZE];
	gboolean provide_v;

	if (!kl_agent_client_get_version_finish(KL_AGENT_CLIENT(source),
						result,
						&supported,
						&common,
						&error)) {
		if (!kl_verifier_call_is_current(self, call))
			return;
		provide_v = loop->agent->operational_state == KL_VERIFIER_STATE_PROVIDE_V ||
			    loop->agent->operational_state == KL_VERIFIER_STATE_PROVIDE_V_RETRY;
		if (kl_agent_client_classify(error) == KL_AGENT_CLIENT_RESULT_RETRYABLE)
			kl_verifier_retry(self, loop, provide_v, error);
		else
			kl_verifier_fail_internal(self,
						  loop,
						  KL_VERIFIER_REASON_AGENT_ERROR,
						  provide_v ? "internal.verifier.no_v"
							    : "internal.verifier.no_quote",
						  TRUE,
						  error->message);
		return;
	}
	if (!kl_verifier_call_is_current(self, call))
		return;
	loop->api_version = common;
	kl_api_version_to_string(&common, text);
	g_free(loop->agent->supported_version);
	loop->agent->supported_version = g_strdup(text);
	if (!kl_verifier_store_put_agent(self->store, loop->agent, &error))
		g_warning("agent %s: cannot store its API version: %s",
			  loop->agent->agent_id,
			  error->message);
	/* the same step again, with the common version */
	loop->busy = FALSE;
	g_clear_object(&loop->cancellable);
	kl_scheduler_schedule_in(self->scheduler, &loop->entry, 0);
}

/* VERSION: GET /version, then the step again (counts as a retry) */
static void
kl_verifier_renegotiate(KlVerifier *self, KlVerifierLoop *loop, gboolean provide_v, GError *error)
{
	KlAgentTarget target;

	if (loop->retries >= self->max_retries) {
		kl_verifier_fail_internal(self,
					  loop,
					  KL_VERIFIER_REASON_AGENT_ERROR,
					  provide_v ? "internal.verifier.no_v"
						    : "internal.verifier.no_quote",
					  TRUE,
					  error->message);
		return;
	}
	loop->retries++;
	kl_verifier_target_init(loop, &target);
	kl_agent_client_get_version_async(self->client,
					  &target,
					  loop->cancellable,
					  kl_verifier_version_cb,
					  kl_verifier_call_new(loop));
}

static void
kl_verifier_next_round(KlVerifier *self, KlVerifierLoop *loop)
{
	gint64 due = loop->round_start + (gint64)(self->quote_interval * G_USEC_PER_SEC);

	loop->busy = FALSE;
	g_clear_object(&loop->cancellable);
	kl_scheduler_schedule(self->scheduler, &loop->entry, MAX(due, g_get_monotonic_time()));
}

/* A V or quote request failed with @error: retried, renegotiated or the
 * agent failed with @event_id. */
static void
kl_verifier_request_failed(KlVerifier *self,
			   KlVerifierLoop *loop,
			   gboolean provide_v,
			   GError *error,
			   const gchar *event_id)
{
	switch (kl_agent_client_classify(error)) {
	case KL_AGENT_CLIENT_RESULT_RETRYABLE:
		kl_verifier_retry(self, loop, provide_v, error);
		break;
	case KL_AGENT_CLIENT_RESULT_VERSION:
		kl_verifier_renegotiate(self, loop, provide_v, error);
		break;
	case KL_AGENT_CLIENT_RESULT_OK:
	case KL_AGENT_CLIENT_RESULT_FATAL:
	default:
		kl_verifier_fail_internal(self,
					  loop,
					  KL_VERIFIER_REASON_AGENT_ERROR,
					  event_id,
					  TRUE,
					  error->message);
		break;
	}
}

static void
kl_verifier_vkey_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(KlVerifierCall) call = user_data;
	KlVerifier *self = call->loop->verifier;
	KlVerifierLoop *loop = call->loop;
	g_autoptr(GError) error = NULL;
	gboolean ok = kl_agent_client_post_vkey_finish(KL_AGENT_CLIENT(source), result, &error);

	if (!kl_verifier_call_is_current(self, call))
		return;
	if (ok) {
		loop->v_delivered = TRUE;
		loop->retries = 0;
		kl_verifier_set_state(self,
				      loop,
				      KL_VERIFIER_STATE_GET_QUOTE,
				      KL_VERIFIER_REASON_ATTESTED);
		kl_verifier_queue_progress(self, loop);
		g_signal_emit(self, signals[SIGNAL_AGENT_CHANGED], 0, loop->agent->agent_id);
		kl_verifier_next_round(self, loop);
		return;
	}
	kl_verifier_request_failed(self, loop, TRUE, error, "internal.verifier.no_v");
}

/* PROVIDE_V: RSA-OAEP-SHA1(NK, V) to POST /keys/vkey */
static void
kl_verifier_send_v(KlVerifier *self, KlVerifierLoop *loop)
{
	KlVerifierAgent *agent = loop->agent;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) v = NULL;
	g_autoptr(GBytes) encrypted = NULL;
	g_autofree gchar *encrypted_b64 = NULL;
	EVP_PKEY *nk = NULL;
	BIO *bio;
	KlAgentTarget target;

	if (agent->public_key == NULL) {
		kl_verifier_fail_internal(self,
					  loop,
					  KL_VERIFIER_REASON_INTERNAL,
					  "internal.verifier.exception",
					  TRUE,
					  "no NK to encrypt V with");
		return;
	}
	bio = BIO_new_mem_buf(agent->public_key, -1);
	if (bio != NULL)
		nk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	v = kl_base64_decode(agent->v, -1, KL_BASE64_FLAG_NONE, &error);
	if (nk != NULL && v != NULL)
		encrypted = kl_crypto_rsa_oaep_encrypt(nk,
						       "sha1",
						       NULL,
						       0,
						       g_bytes_get_data(v, NULL),
						       g_bytes_get_size(v),
						       &error);
	EVP_PKEY_free(nk);
	if (encrypted == NULL) {
		kl_verifier_fail_internal(self,
					  loop,
					  KL_VERIFIER_REASON_INTERNAL,
					  "internal.verifier.exception",
					  TRUE,
					  error != NULL ? error->message
							: "the agent's NK is not a public key PEM");
		return;
	}
	encrypted_b64 =
		g_base64_encode(g_bytes_get_data(encrypted, NULL), g_bytes_get_size(encrypted));
	g_clear_object(&loop->cancellable);
	loop->cancellable = g_cancellable_new();
	kl_verifier_target_init(loop, &target);
	kl_agent_client_post_vkey_async(self->client,
					&target,
					encrypted_b64,
					loop->cancellable,
					kl_verifier_vkey_cb,
					kl_verifier_call_new(loop));
}

/* ---- checks ---- */

static void
kl_verifier_worker(gpointer data, gpointer user_data)
{
	KlVerifierCall *call = data;
	KlVerifier *self = user_data;

	call->result = kl_attestation_run(call->input);
	g_async_queue_push(self->done, call);
	/* thread safe: one wakeup for however many results are waiting */
	g_source_set_ready_time(self->done_source, 0);
}

static KlAttestationInput *
kl_verifier_input_new(KlVerifier *self, KlVerifierLoop *loop, JsonObject *results, GError **error)
{
	g_autoptr(KlAttestationInput) input = kl_attestation_input_new();
	KlVerifierAgent *agent = loop->agent;
	KlVerifierCompiled *runtime;
	KlVerifierCompiled *mb;

	runtime = kl_verifier_get_compiled(self,
					   KL_VERIFIER_POLICY_RUNTIME,
					   agent->ima_policy_id,
					   error);
	if (runtime == NULL && error != NULL && *error != NULL)
		return NULL;
	mb = kl_verifier_get_compiled(self, KL_VERIFIER_POLICY_MB, agent->mb_policy_id, error);
	if (mb == NULL && error != NULL && *error != NULL)
		return NULL;

	input->response = json_object_ref(results);
	input->nonce = g_steal_pointer(&loop->nonce);
	input->ak = kl_quote_key_ref(loop->ak);
	input->nk_pubkey = g_strdup(agent->public_key);
	input->accept_hash_algs = g_strdupv(agent->accept_tpm_hash_algs);
	input->accept_enc_algs = g_strdupv(agent->accept_tpm_encryption_algs);
	input->accept_sign_algs = g_strdupv(agent->accept_tpm_signing_algs);
	input->tpm_policy = g_strdup(agent->tpm_policy);
	if (runtime != NULL && runtime->runtime != NULL)
		input->runtime_policy = kl_runtime_policy_ref(runtime->runtime);
	if (loop->ima_keys != NULL)
		input->ima_keys = g_ptr_array_ref(loop->ima_keys);
	if (mb != NULL && mb->mb != NULL)
		input->mb = kl_attestation_mb_ref(mb->mb);
	input->mb_evaluate = self->mb_evaluate;
	input->ignore_tomtou_errors = self->ignore_tomtou_errors;
	input->ima_state = loop->ima_state;
	input->boottime = MAX(agent->boottime, 0);
	input->learned_keyrings = g_strdup(agent->learned_ima_keyrings);
	if (agent->has_tpm_clockinfo)
		input->clock_info = agent->tpm_clockinfo;
	else
		kl_quote_clock_info_init(&input->clock_info);
	input->attestation_count = (guint64)MAX(agent->attestation_count, 0);
	input->severity = kl_severity_policy_ref(self->severity);
	return g_steal_pointer(&input);
}

static void
kl_verifier_set_string(gchar **field, const gchar *value)
{
	if (value == NULL || g_strcmp0(*field, value) == 0)
		return;
	g_free(*field);
	*field = g_strdup(value);
}

/* A check came back: the state machine (spec §3 process_agent). */
static void
kl_verifier_apply(KlVerifier *self, KlVerifierCall *call)
{
	KlVerifierLoop *loop = call->loop;
	KlVerifierAgent *agent = loop->agent;
	KlAttestationResult *result = call->result;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	if (!kl_verifier_call_is_current(self, call))
		return;
	agent->last_received_quote = now;
	kl_verifier_set_string(&agent->hash_alg, result->hash_alg);
	kl_verifier_set_string(&agent->enc_alg, result->enc_alg);
	kl_verifier_set_string(&agent->sign_alg, result->sign_alg);
	kl_verifier_set_string(&agent->public_key, result->nk_pubkey);
	if (result->have_clock_info) {
		agent->has_tpm_clockinfo = TRUE;
		agent->tpm_clockinfo = result->clock_info;
	}
	if (result->ima_evaluated) {
		loop->ima_state = result->ima_state;
		agent->next_ima_ml_entry = (gint64)result->ima_state.next_entry;
		g_clear_pointer(&agent->pcr10, g_bytes_unref);
		agent->pcr10 = kl_verifier_pcr10_encode(&result->ima_state);
		agent->boottime = result->boottime;
		g_free(agent->learned_ima_keyrings);
		agent->learned_ima_keyrings = g_strdup(result->learned_keyrings);
		if (agent->ima_pcrs->len == 0) {
			gint ten = 10;
			g_array_append_val(agent->ima_pcrs, ten);
		}
	}

	if (!result->passed) {
		agent->consecutive_attestation_failures++;
		if (result->ima_findings_dropped > 0)
			g_message("agent %s: %u more IMA findings not kept",
				  agent->agent_id,
				  result->ima_findings_dropped);
		kl_verifier_fail(self,
				 loop,
				 KL_VERIFIER_STATE_INVALID_QUOTE,
				 KL_VERIFIER_REASON_QUOTE_FAILED,
				 result->severity_level,
				 result->event_id,
				 result->findings,
				 result->stop_polling);
		g_signal_emit(self, signals[SIGNAL_AGENT_CHANGED], 0, agent->agent_id);
		return;
	}

	agent->attestation_count++;
	agent->last_successful_attestation = now;
	agent->consecutive_attestation_failures = 0;
	loop->retries = 0;
	loop->partial = agent->public_key != NULL;
	if (agent->v != NULL && agent->v[0] != '\0' && !loop->v_delivered) {
		kl_verifier_set_state(self,
				      loop,
				      KL_VERIFIER_STATE_PROVIDE_V,
				      KL_VERIFIER_REASON_ATTESTED);
		kl_verifier_queue_progress(self, loop);
		g_signal_emit(self, signals[SIGNAL_AGENT_CHANGED], 0, agent->agent_id);
		kl_verifier_send_v(self, loop);
		return;
	}
	kl_verifier_set_state(self, loop, KL_VERIFIER_STATE_GET_QUOTE, KL_VERIFIER_REASON_ATTESTED);
	kl_verifier_queue_progress(self, loop);
	g_signal_emit(self, signals[SIGNAL_AGENT_CHANGED], 0, agent->agent_id);
	kl_verifier_next_round(self, loop);
}

static gboolean
kl_verifier_done_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
	KlVerifier *self = user_data;
	KlVerifierCall *call;

	g_source_set_ready_time(source, -1);
	while ((call = g_async_queue_try_pop(self->done)) != NULL) {
		kl_verifier_apply(self, call);
		kl_verifier_call_free(call);
	}
	return G_SOURCE_CONTINUE;
}

static void
kl_verifier_quote_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(KlVerifierCall) call = user_data;
	KlVerifier *self = call->loop->verifier;
	KlVerifierLoop *loop = call->loop;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) results =
		kl_agent_client_get_integrity_quote_finish(KL_AGENT_CLIENT(source), result, &error);

	if (!kl_verifier_call_is_current(self, call))
		return;
	if (results == NULL) {
		kl_verifier_request_failed(self, loop, FALSE, error, "internal.verifier.no_quote");
		return;
	}
	call->input = kl_verifier_input_new(self, loop, results, &error);
	if (call->input == NULL) {
		kl_verifier_fail_internal(self,
					  loop,
					  KL_VERIFIER_REASON_INTERNAL,
					  "internal.verifier.exception",
					  TRUE,
					  error->message);
		return;
	}
	g_thread_pool_push(self->pool, g_steal_pointer(&call), NULL);
}

static void
kl_verifier_request_quote(KlVerifier *self, KlVerifierLoop *loop)
{
	g_autoptr(GError) error = NULL;
	KlAgentTarget target;
	gboolean partial = loop->partial && loop->agent->public_key != NULL;

	g_free(loop->nonce);
	loop->nonce = kl_crypto_random_password(KL_VERIFIER_NONCE_LEN, &error);
	if (loop->nonce == NULL) {
		kl_verifier_fail_internal(self,
					  loop,
					  KL_VERIFIER_REASON_INTERNAL,
					  "internal.verifier.exception",
					  TRUE,
					  error->message);
		return;
	}
	g_clear_object(&loop->cancellable);
	loop->cancellable = g_cancellable_new();
	kl_verifier_target_init(loop, &target);
	kl_agent_client_get_integrity_quote_async(self->client,
						  &target,
						  loop->nonce,
						  loop->mask,
						  partial,
						  (guint64)MAX(loop->agent->next_ima_ml_entry, 0),
						  loop->cancellable,
						  kl_verifier_quote_cb,
						  kl_verifier_call_new(loop));
}

static void
kl_verifier_start_round(KlVerifier *self, KlVerifierLoop *loop)
{
	gint64 state = loop->agent->operational_state;

	if (loop->busy || loop->removed)
		return;
	if (kl_verifier_state_is_stopped(state) &&
	    !(loop->requote && state != KL_VERIFIER_STATE_TERMINATED &&
	      state != KL_VERIFIER_STATE_TENANT_FAILED))
		return;
	loop->requote = FALSE;
	loop->busy = TRUE;
	loop->round++;
	loop->round_start = g_get_monotonic_time();
	if (state == KL_VERIFIER_STATE_START) {
		loop->retries = 0;
		loop->partial = FALSE;
		loop->v_delivered = FALSE;
		kl_verifier_set_state(self, loop, KL_VERIFIER_STATE_GET_QUOTE, loop->reason);
	}
	if (state == KL_VERIFIER_STATE_PROVIDE_V || state == KL_VERIFIER_STATE_PROVIDE_V_RETRY)
		kl_verifier_send_v(self, loop);
	else
		kl_verifier_request_quote(self, loop);
}

static void
kl_verifier_due_cb(KlSchedulerEntry *entry, gpointer user_data)
{
	kl_verifier_start_round(user_data, (KlVerifierLoop *)entry);
}

/* ---- progress, once per main-loop turn ---- */

static void
kl_verifier_follow_row(KlVerifier *self, KlVerifierLoop *loop)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlVerifierAgent) row =
		kl_verifier_store_get_agent(self->store, loop->agent->agent_id, &error);

	if (row == NULL && error != NULL) {
		g_warning("agent %s: %s", loop->agent->agent_id, error->message);
		return;
	}
	if (row == NULL) {
		kl_verifier_forget_loop(self, loop);
	} else if (row->operational_state == KL_VERIFIER_STATE_TERMINATED) {
		kl_verifier_finish_delete(self, loop);
	} else if (row->operational_state == KL_VERIFIER_STATE_TENANT_FAILED) {
		kl_verifier_loop_halt(self, loop);
		kl_verifier_set_state(self,
				      loop,
				      KL_VERIFIER_STATE_TENANT_FAILED,
				      KL_VERIFIER_REASON_STOPPED);
	}
}

static gboolean
kl_verifier_flush_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
	KlVerifier *self = user_data;
	g_autoptr(GPtrArray) loops = NULL;
	g_autoptr(GPtrArray) agents = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gboolean *updated = NULL;
	GHashTableIter iter;
	gpointer value;

	g_source_set_ready_time(source, -1);
	kl_verifier_flush_history(self);
	if (g_hash_table_size(self->progress) == 0)
		return G_SOURCE_CONTINUE;
	loops = g_ptr_array_new_with_free_func((GDestroyNotify)kl_verifier_loop_unref);
	agents = g_ptr_array_new();
	g_hash_table_iter_init(&iter, self->progress);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		KlVerifierLoop *loop = value;
		g_ptr_array_add(loops, kl_verifier_loop_ref(loop));
		g_ptr_array_add(agents, loop->agent);
	}
	g_hash_table_remove_all(self->progress);
	updated = g_new0(gboolean, agents->len);
	if (!kl_verifier_store_update_progress_many(self->store, agents, updated, &error)) {
		g_warning("cannot store the progress of %u agents: %s",
			  agents->len,
			  error->message);
		return G_SOURCE_CONTINUE;
	}
	for (guint i = 0; i < loops->len; i++) {
		KlVerifierLoop *loop = g_ptr_array_index(loops, i);
		if (!updated[i] && !loop->removed)
			kl_verifier_follow_row(self, loop);
	}
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs kl_verifier_done_funcs = {
	.dispatch = kl_verifier_done_dispatch,
};

static GSourceFuncs kl_verifier_flush_funcs = {
	.dispatch = kl_verifier_flush_dispatch,
};

/* a source that runs when its ready time is set to 0 (from any thread) */
static GSource *
kl_verifier_wake_source_new(KlVerifier *self, GSourceFuncs *funcs, const gchar *name)
{
	GSource *source = g_source_new(funcs, sizeof(GSource));

	g_source_set_name(source, name);
	g_source_set_ready_time(source, -1);
	g_source_set_callback(source, NULL, self, NULL);
	g_source_attach(source, self->context);
	return source;
}

/* ---- loading and adding agents ---- */

/* Parses what each round needs once: AK, pin, mask, keyring, version. */
static KlVerifierLoop *
kl_verifier_loop_new(KlVerifier *self, KlVerifierAgent *agent /* transfer full */, GError **error)
{
	g_autoptr(KlVerifierAgent) owned = agent;
	g_autoptr(GBytes) ak_data = NULL;
	g_autoptr(KlTpmPublic) ak = NULL;
	g_autoptr(KlTpmPolicy) tpm_policy = NULL;
	KlVerifierLoop *loop;
	KlApiVersion version = KL_API_VERSION_CURRENT;

	ak_data = kl_base64_decode(agent->ak_tpm != NULL ? agent->ak_tpm : "",
				   -1,
				   KL_BASE64_FLAG_NONE,
				   error);
	if (ak_data == NULL)
		return NULL;
	ak = kl_tpm_public_new_from_data(g_bytes_get_data(ak_data, NULL),
					 g_bytes_get_size(ak_data),
					 error);
	if (ak == NULL)
		return NULL;
	if (agent->tpm_policy != NULL && agent->tpm_policy[0] != '\0') {
		tpm_policy = kl_tpm_policy_new_from_json(agent->tpm_policy,
							 strlen(agent->tpm_policy),
							 error);
		if (tpm_policy == NULL)
			return NULL;
	}
	if (agent->supported_version != NULL &&
	    !kl_api_version_parse(agent->supported_version, &version, NULL))
		version = KL_API_VERSION_CURRENT;

	loop = g_new0(KlVerifierLoop, 1);
	loop->ref_count = 1;
	loop->verifier = self;
	kl_scheduler_entry_init(&loop->entry);
	loop->api_version = version;
	loop->mask = tpm_policy != NULL ? kl_tpm_policy_get_mask(tpm_policy) : 0;
	loop->ak = kl_quote_key_new(kl_tpm_public_get_key(ak));
	if (self->enable_agent_mtls && agent->mtls_cert != NULL && agent->mtls_cert[0] != '\0') {
		loop->pin =
			kl_agent_client_pin_new(agent->mtls_cert, strlen(agent->mtls_cert), error);
		if (loop->pin == NULL) {
			kl_verifier_loop_unref(loop);
			return NULL;
		}
	}
	if (agent->ima_sign_verification_keys != NULL &&
	    agent->ima_sign_verification_keys[0] != '\0') {
		loop->ima_keys =
			kl_runtime_policy_parse_keyring(agent->ima_sign_verification_keys,
							strlen(agent->ima_sign_verification_keys),
							error);
		if (loop->ima_keys == NULL) {
			kl_verifier_loop_unref(loop);
			return NULL;
		}
	}
	kl_verifier_pcr10_decode(&loop->ima_state, agent->next_ima_ml_entry, agent->pcr10);
	if (agent->ima_pcrs == NULL)
		agent->ima_pcrs = g_array_new(FALSE, FALSE, sizeof(gint));
	loop->agent = g_steal_pointer(&owned);
	return loop;
}

static gboolean
kl_verifier_insert_loop(KlVerifier *self, KlVerifierLoop *loop, GError **error)
{
	if (!kl_agent_table_add(self->table, loop->agent->agent_id, &loop->slot, error))
		return FALSE;
	g_hash_table_insert(self->loops, loop->agent->agent_id, loop);
	kl_verifier_loop_table_update(self, loop);
	return TRUE;
}

/* ---- GObject ---- */

static void
kl_verifier_dispose(GObject *object)
{
	KlVerifier *self = KL_VERIFIER(object);
	KlVerifierCall *call;

	if (self->pool != NULL) {
		g_thread_pool_free(self->pool, FALSE, TRUE);
		self->pool = NULL;
	}
	if (self->done != NULL) {
		while ((call = g_async_queue_try_pop(self->done)) != NULL)
			kl_verifier_call_free(call);
	}
	if (self->flush_source != NULL)
		kl_verifier_flush_dispatch(self->flush_source, NULL, self);
	if (self->loops != NULL) {
		GHashTableIter iter;
		gpointer value;
		g_hash_table_iter_init(&iter, self->loops);
		while (g_hash_table_iter_next(&iter, NULL, &value)) {
			KlVerifierLoop *loop = value;
			loop->removed = TRUE;
			if (loop->cancellable != NULL)
				g_cancellable_cancel(loop->cancellable);
			kl_scheduler_cancel(self->scheduler, &loop->entry);
		}
	}
	G_OBJECT_CLASS(kl_verifier_parent_class)->dispose(object);
}

static void
kl_verifier_finalize(GObject *object)
{
	KlVerifier *self = KL_VERIFIER(object);

	if (self->done_source != NULL) {
		g_source_destroy(self->done_source);
		g_source_unref(self->done_source);
	}
	if (self->flush_source != NULL) {
		g_source_destroy(self->flush_source);
		g_source_unref(self->flush_source);
	}
	g_clear_pointer(&self->progress, g_hash_table_unref);
	g_clear_pointer(&self->history, g_ptr_array_unref);
	g_clear_pointer(&self->loops, g_hash_table_unref);
	g_clear_pointer(&self->compiled[0], g_hash_table_unref);
	g_clear_pointer(&self->compiled[1], g_hash_table_unref);
	g_clear_pointer(&self->scheduler, kl_scheduler_free);
	g_clear_pointer(&self->done, g_async_queue_unref);
	g_clear_object(&self->notifier);
	g_clear_object(&self->client);
	g_clear_pointer(&self->severity, kl_severity_policy_unref);
	g_clear_pointer(&self->table, kl_agent_table_free);
	g_clear_pointer(&self->store, kl_verifier_store_free);
	g_clear_pointer(&self->context, g_main_context_unref);
	g_free(self->verifier_id);
	g_free(self->verifier_ip);
	g_free(self->mb_default_policy_name);
	G_OBJECT_CLASS(kl_verifier_parent_class)->finalize(object);
}

static void
kl_verifier_class_init(KlVerifierClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = kl_verifier_dispose;
	object_class->finalize = kl_verifier_finalize;

	signals[SIGNAL_AGENT_ADDED] = g_signal_new("agent-added",
						   G_TYPE_FROM_CLASS(klass),
						   G_SIGNAL_RUN_LAST,
						   0,
						   NULL,
						   NULL,
						   NULL,
						   G_TYPE_NONE,
						   1,
						   G_TYPE_STRING);
	signals[SIGNAL_AGENT_REMOVED] = g_signal_new("agent-removed",
						     G_TYPE_FROM_CLASS(klass),
						     G_SIGNAL_RUN_LAST,
						     0,
						     NULL,
						     NULL,
						     NULL,
						     G_TYPE_NONE,
						     1,
						     G_TYPE_STRING);
	signals[SIGNAL_STATE_CHANGED] = g_signal_new("state-changed",
						     G_TYPE_FROM_CLASS(klass),
						     G_SIGNAL_RUN_LAST,
						     0,
						     NULL,
						     NULL,
						     NULL,
						     G_TYPE_NONE,
						     4,
						     G_TYPE_STRING,
						     G_TYPE_UINT,
						     G_TYPE_UINT,
						     G_TYPE_UINT);
	signals[SIGNAL_AGENT_CHANGED] = g_signal_new("agent-changed",
						     G_TYPE_FROM_CLASS(klass),
						     G_SIGNAL_RUN_LAST,
						     0,
						     NULL,
						     NULL,
						     NULL,
						     G_TYPE_NONE,
						     1,
						     G_TYPE_STRING);
	signals[SIGNAL_ATTESTATION_FAILED] = g_signal_new("attestation-failed",
							  G_TYPE_FROM_CLASS(klass),
							  G_SIGNAL_RUN_LAST,
							  0,
							  NULL,
							  NULL,
							  NULL,
							  G_TYPE_NONE,
							  4,
							  G_TYPE_STRING,
							  G_TYPE_INT64,
							  G_TYPE_UINT,
							  G_TYPE_PTR_ARRAY);
	signals[SIGNAL_REVOCATION] = g_signal_new("revocation",
						  G_TYPE_FROM_CLASS(klass),
						  G_SIGNAL_RUN_LAST,
						  0,
						  NULL,
						  NULL,
						  NULL,
						  G_TYPE_NONE,
						  5,
						  G_TYPE_STRING,
						  G_TYPE_INT64,
						  G_TYPE_STRING,
						  G_TYPE_UINT,
						  G_TYPE_STRING);
}

static void
kl_verifier_init(KlVerifier *self)
{
}

KlVerifier *
kl_verifier_new(const KlVerifierOptions *options, KlVerifierStore *store, GError **error)
{
	g_autoptr(KlVerifier) self = g_object_new(KL_TYPE_VERIFIER, NULL);
	KlAgentClientOptions client_options;
	KlRevocationNotifierOptions notifier_options = {0};
	guint capacity = MAX(options->table_capacity, 1);

	self->store = store;
	self->verifier_id =
		g_strdup(options->verifier_id != NULL ? options->verifier_id : "default");
	self->verifier_ip = g_strdup(options->verifier_ip);
	self->verifier_port = options->verifier_port;
	self->quote_interval = MAX(options->quote_interval, 0);
	self->retry_interval = options->retry_interval;
	self->max_retries = options->max_retries;
	self->exponential_backoff = options->exponential_backoff;
	self->enable_agent_mtls = options->enable_agent_mtls;
	self->mb_evaluate = options->mb_evaluate;
	self->mb_default_policy_name =
		g_strdup(options->mb_default_policy_name != NULL ? options->mb_default_policy_name
								 : "accept-all");
	self->ignore_tomtou_errors = options->ignore_tomtou_errors;
	self->require_allow_list_signatures = options->require_allow_list_signatures;
	self->max_upload_size = options->max_upload_size;
	self->history_limit = options->history_limit;
	if (self->history_limit > 0)
		kl_verifier_store_set_history_limit(store, self->history_limit);
	self->context = g_main_context_ref_thread_default();

	self->severity = kl_attestation_severity_policy_parse(options->severity_labels,
							      options->severity_policy,
							      error);
	if (self->severity == NULL)
		return NULL;
	self->table = options->shm_name != NULL
			      ? kl_agent_table_new_with_name(options->shm_name, capacity, error)
			      : kl_agent_table_new(capacity, error);
	if (self->table == NULL)
		return NULL;
	kl_agent_client_options_init(&client_options);
	client_options.mtls = options->enable_agent_mtls;
	client_options.client_cert = options->client_cert;
	client_options.client_key = options->client_key;
	if (options->request_timeout > 0)
		client_options.request_timeout = options->request_timeout;
	if (options->max_in_flight > 0)
		client_options.max_in_flight = options->max_in_flight;
	self->client = kl_agent_client_new(&client_options, error);
	if (self->client == NULL)
		return NULL;
	notifier_options.to_agents = options->revocation_notifiers != NULL &&
				     g_strv_contains(options->revocation_notifiers, "agent");
	notifier_options.webhook_url =
		options->revocation_notifiers != NULL &&
				g_strv_contains(options->revocation_notifiers, "webhook") &&
				options->webhook_url != NULL && options->webhook_url[0] != '\0'
			? options->webhook_url
			: NULL;
	notifier_options.max_retries = options->max_retries;
	notifier_options.retry_interval = options->retry_interval;
	notifier_options.exponential_backoff = options->exponential_backoff;
	notifier_options.request_timeout = client_options.request_timeout;
	self->notifier = kl_revocation_notifier_new(&notifier_options, self->client, error);
	if (self->notifier == NULL)
		return NULL;
	self->pool = g_thread_pool_new(kl_verifier_worker,
				       self,
				       options->n_workers > 0 ? (gint)options->n_workers
							      : (gint)g_get_num_processors(),
				       FALSE,
				       error);
	if (self->pool == NULL)
		return NULL;
	self->done = g_async_queue_new();
	self->scheduler = kl_scheduler_new(self->context, kl_verifier_due_cb, self);
	self->done_source =
		kl_verifier_wake_source_new(self, &kl_verifier_done_funcs, "KlVerifier results");
	self->flush_source =
		kl_verifier_wake_source_new(self, &kl_verifier_flush_funcs, "KlVerifier progress");
	self->loops = g_hash_table_new_full(g_str_hash,
					    g_str_equal,
					    NULL,
					    (GDestroyNotify)kl_verifier_loop_unref);
	self->history = g_ptr_array_new_with_free_func((GDestroyNotify)kl_verifier_event_free);
	self->progress = g_hash_table_new_full(g_str_hash,
					       g_str_equal,
					       NULL,
					       (GDestroyNotify)kl_verifier_loop_unref);
	for (guint i = 0; i < 2; i++)
		self->compiled[i] = g_hash_table_new_full(g_int64_hash,
							  g_int64_equal,
							  g_free,
							  kl_verifier_compiled_free);
	return g_steal_pointer(&self);
}

gboolean
kl_verifier_start(KlVerifier *self, GError **error)
{
	g_autoptr(GPtrArray) rows =
		kl_verifier_store_list_agents(self->store, self->verifier_id, error);

	if (rows == NULL)
		return FALSE;
	for (guint i = 0; i < rows->len; i++) {
		KlVerifierAgent *agent = g_ptr_array_index(rows, i);
		g_autoptr(GError) local_error = NULL;
		KlVerifierLoop *loop;
		gint64 state = agent->operational_state;
		gboolean deleted;

		if (g_hash_table_contains(self->loops, agent->agent_id))
			continue;
		if (state == KL_VERIFIER_STATE_TERMINATED) {
			if (!kl_verifier_store_delete_agent(self->store,
							    agent->agent_id,
							    &deleted,
							    error))
				return FALSE;
			continue;
		}
		if (state == KL_VERIFIER_NULL ||
		    (agent->ip == NULL && agent->port == KL_VERIFIER_NULL))
			continue; /* push agents are not polled */
		agent = g_ptr_array_steal_index(rows, i--);
		loop = kl_verifier_loop_new(self, agent, &local_error);
		if (loop == NULL) {
			g_warning("agent %s: cannot resume it: %s",
				  agent->agent_id,
				  local_error->message);
			continue;
		}
		if (state == KL_VERIFIER_STATE_START || state == KL_VERIFIER_STATE_GET_QUOTE ||
		    state == KL_VERIFIER_STATE_GET_QUOTE_RETRY ||
		    state == KL_VERIFIER_STATE_PROVIDE_V ||
		    state == KL_VERIFIER_STATE_PROVIDE_V_RETRY) {
			loop->agent->operational_state = KL_VERIFIER_STATE_START;
			if (!kl_verifier_insert_loop(self, loop, error)) {
				kl_verifier_loop_unref(loop);
				return FALSE;
			}
			kl_verifier_queue_progress(self, loop);
			kl_verifier_schedule_first(self, loop);
		} else if (!kl_verifier_insert_loop(self, loop, error)) {
			kl_verifier_loop_unref(loop);
			return FALSE;
		}
	}
	return TRUE;
}

const gchar *
kl_verifier_get_verifier_id(KlVerifier *self)
{
	return self->verifier_id;
}

const gchar *
kl_verifier_get_shm_name(KlVerifier *self)
{
	return kl_agent_table_get_name(self->table);
}

gdouble
kl_verifier_get_quote_interval(KlVerifier *self)
{
	return self->quote_interval;
}

KlSeverityPolicy *
kl_verifier_get_severity_policy(KlVerifier *self)
{
	return self->severity;
}

guint
kl_verifier_get_n_agents(KlVerifier *self)
{
	return g_hash_table_size(self->loops);
}

guint
kl_verifier_get_n_failed(KlVerifier *self)
{
	GHashTableIter iter;
	gpointer value;
	guint n = 0;

	g_hash_table_iter_init(&iter, self->loops);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		gint64 state = ((KlVerifierLoop *)value)->agent->operational_state;
		n += state == KL_VERIFIER_STATE_FAILED ||
		     state == KL_VERIFIER_STATE_INVALID_QUOTE ||
		     state == KL_VERIFIER_STATE_TENANT_FAILED;
	}
	return n;
}

/* ---- policies ---- */

static EVP_PKEY *
kl_verifier_parse_public_key(const gchar *pem, GError **error)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key = bio != NULL ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;

	BIO_free(bio);
	if (key == NULL)
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "runtime_policy_key: not a PEM public key");
	return key;
}

/* Checks a runtime policy as received; returns the text to store: the
 * policy JSON (a DSSE envelope's verified payload), and its meta.generator
 * for the allowlists row (has_runtime_policy is generator > 1). */
static gchar *
kl_verifier_check_runtime(KlVerifier *self,
			  const gchar *text,
			  const gchar *key_pem,
			  gint64 *generator,
			  GError **error)
{
	g_autoptr(KlRuntimePolicy) policy = NULL;
	g_autoptr(GError) local_error = NULL;
	gsize len = strlen(text);
	GBytes *document;

	*generator = KL_RUNTIME_POLICY_GENERATOR_EMPTY_ALLOWLIST;
	if (len == 0) {
		if (self->require_allow_list_signatures) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_NOT_AUTHENTICATED,
				    "runtime_policy: a signed policy is required");
			return NULL;
		}
		return g_strdup("");
	}
	if (kl_runtime_policy_is_dsse(text, len)) {
		EVP_PKEY *key;
		if (key_pem == NULL || key_pem[0] == '\0') {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_NOT_AUTHENTICATED,
				    "runtime_policy: a signed policy needs runtime_policy_key");
			return NULL;
		}
		key = kl_verifier_parse_public_key(key_pem, error);
		if (key == NULL)
			return NULL;
		policy = kl_runtime_policy_new_from_dsse(text, len, key, &local_error);
		EVP_PKEY_free(key);
		if (policy == NULL) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_NOT_AUTHENTICATED,
				    "runtime_policy: %s",
				    local_error->message);
			return NULL;
		}
		*generator = kl_runtime_policy_get_generator(policy);
		document = kl_runtime_policy_get_document(policy);
		return g_strndup(g_bytes_get_data(document, NULL), g_bytes_get_size(document));
	}
	if (self->require_allow_list_signatures) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_NOT_AUTHENTICATED,
			    "runtime_policy: a signed policy is required");
		return NULL;
	}
	policy = kl_runtime_policy_new_from_json(text, len, &local_error);
	if (policy == NULL) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "runtime_policy: %s",
			    local_error->message);
		return NULL;
	}
	*generator = kl_runtime_policy_get_generator(policy);
	return g_strdup(text);
}

static gboolean
kl_verifier_check_mb(const gchar *text, GError **error)
{
	g_autoptr(GError) local_error = NULL;
	g_autoptr(KlMbRefstate) refstate = NULL;

	if (text == NULL || text[0] == '\0')
		return TRUE;
	refstate = kl_mb_refstate_new_from_json(text, strlen(text), &local_error);
	if (refstate == NULL) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "mb_policy: %s",
			    local_error->message);
		return FALSE;
	}
	return TRUE;
}

gboolean
kl_verifier_put_policy(KlVerifier *self,
		       KlVerifierPolicyKind kind,
		       const gchar *name,
		       const gchar *policy_text,
		       const gchar *policy_key,
		       const gchar *tpm_policy,
		       gboolean replace,
		       GError **error)
{
	g_autoptr(KlVerifierPolicy) policy = kl_verifier_policy_new(kind, name);

	if (name == NULL || name[0] == '\0') {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "name: a policy needs a name");
		return FALSE;
	}
	if (policy_text == NULL) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    kind == KL_VERIFIER_POLICY_RUNTIME ? "runtime_policy: missing"
							       : "mb_policy: missing");
		return FALSE;
	}
	if (self->max_upload_size > 0 && strlen(policy_text) > self->max_upload_size) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_TOO_LARGE,
			    "policy larger than max_upload_size");
		return FALSE;
	}
	if (kind == KL_VERIFIER_POLICY_RUNTIME) {
		policy->policy = kl_verifier_check_runtime(self,
							   policy_text,
							   policy_key,
							   &policy->generator,
							   error);
		if (policy->policy == NULL)
			return FALSE;
		if (tpm_policy != NULL && tpm_policy[0] != '\0') {
			g_autoptr(KlTpmPolicy) parsed =
				kl_tpm_policy_new_from_json(tpm_policy, strlen(tpm_policy), error);
			if (parsed == NULL)
				return FALSE;
		}
		policy->tpm_policy = g_strdup(tpm_policy);
	} else {
		if (!kl_verifier_check_mb(policy_text, error))
			return FALSE;
		policy->policy = g_strdup(policy_text);
	}
	if (!replace)
		return kl_verifier_store_add_policy(self->store, policy, NULL, error);
	if (!kl_verifier_store_replace_policy(self->store, policy, error))
		return FALSE;
	/* recompiled once, at the next round of any agent that uses it */
	kl_verifier_forget_compiled(self, kind, name);
	return TRUE;
}

KlVerifierPolicy *
kl_verifier_get_policy(KlVerifier *self,
		       KlVerifierPolicyKind kind,
		       const gchar *name,
		       GError **error)
{
	g_autoptr(GError) local_error = NULL;
	KlVerifierPolicy *policy =
		kl_verifier_store_get_policy(self->store, kind, name, &local_error);

	if (policy == NULL && local_error == NULL)
		g_set_error(error, KL_ERROR, KL_ERROR_NOT_FOUND, "no policy named %s", name);
	else if (local_error != NULL)
		g_propagate_error(error, g_steal_pointer(&local_error));
	return policy;
}

GPtrArray *
kl_verifier_list_policies(KlVerifier *self, KlVerifierPolicyKind kind, GError **error)
{
	return kl_verifier_store_list_policy_names(self->store, kind, error);
}

gboolean
kl_verifier_delete_policy(KlVerifier *self,
			  KlVerifierPolicyKind kind,
			  const gchar *name,
			  GError **error)
{
	g_autoptr(KlVerifierPolicy) policy =
		kl_verifier_store_get_policy(self->store, kind, name, NULL);

	if (!kl_verifier_store_delete_policy(self->store, kind, name, error))
		return FALSE;
	if (policy != NULL)
		g_hash_table_remove(self->compiled[kind], &policy->id);
	return TRUE;
}

/* ---- agents ---- */

static KlVerifierLoop *
kl_verifier_lookup(KlVerifier *self, const gchar *agent_id, GError **error)
{
	KlVerifierLoop *loop = agent_id != NULL ? g_hash_table_lookup(self->loops, agent_id) : NULL;

	if (loop == NULL)
		g_set_error(error, KL_ERROR, KL_ERROR_NOT_FOUND, "agent %s not found", agent_id);
	return loop;
}

KlVerifierAgent *
kl_verifier_get_agent(KlVerifier *self, const gchar *agent_id, GError **error)
{
	KlVerifierLoop *loop = kl_verifier_lookup(self, agent_id, error);

	return loop != NULL ? kl_verifier_agent_copy(loop->agent) : NULL;
}

KlVerifierReason
kl_verifier_get_agent_reason(KlVerifier *self, const gchar *agent_id)
{
	KlVerifierLoop *loop = kl_verifier_lookup(self, agent_id, NULL);

	return loop != NULL ? loop->reason : KL_VERIFIER_REASON_NONE;
}

static gint
kl_verifier_compare_strings(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const gchar *const *)a, *(const gchar *const *)b);
}

GPtrArray *
kl_verifier_list_agent_ids(KlVerifier *self)
{
	GPtrArray *ids = g_ptr_array_new_with_free_func(g_free);
	GHashTableIter iter;
	gpointer key;

	g_hash_table_iter_init(&iter, self->loops);
	while (g_hash_table_iter_next(&iter, &key, NULL))
		g_ptr_array_add(ids, g_strdup(key));
	g_ptr_array_sort(ids, kl_verifier_compare_strings);
	return ids;
}

/* upstream removes the policies named after the agent with it */
static void
kl_verifier_drop_own_policies(KlVerifier *self, const gchar *agent_id)
{
	for (guint kind = 0; kind < 2; kind++) {
		g_autoptr(GError) error = NULL;
		if (!kl_verifier_delete_policy(self,
					       (KlVerifierPolicyKind)kind,
					       agent_id,
					       &error) &&
		    !g_error_matches(error, KL_ERROR, KL_ERROR_NOT_FOUND) &&
		    !g_error_matches(error, KL_ERROR, KL_ERROR_CONFLICT))
			g_warning("agent %s: cannot drop its policy: %s", agent_id, error->message);
	}
}

gboolean
kl_verifier_delete_agent(KlVerifier *self, const gchar *agent_id, gboolean *pending, GError **error)
{
	KlVerifierLoop *loop = kl_verifier_lookup(self, agent_id, error);
	g_autofree gchar *id = g_strdup(agent_id);
	gboolean deleted = FALSE;
	gboolean updated = FALSE;

	if (pending != NULL)
		*pending = FALSE;
	if (loop == NULL)
		return FALSE;
	if (loop->busy && !kl_verifier_state_is_stopped(loop->agent->operational_state)) {
		/* a request is on the wire: the loop deletes when it comes back */
		if (!kl_verifier_store_set_state(self->store,
						 agent_id,
						 KL_VERIFIER_STATE_TERMINATED,
						 &updated,
						 error))
			return FALSE;
		kl_verifier_set_state(self,
				      loop,
				      KL_VERIFIER_STATE_TERMINATED,
				      KL_VERIFIER_REASON_DELETING);
		/* the answer (or its cancellation) completes the deletion */
		if (loop->cancellable != NULL)
			g_cancellable_cancel(loop->cancellable);
		if (pending != NULL)
			*pending = TRUE;
		return TRUE;
	}
	kl_verifier_flush_history(self);
	if (!kl_verifier_store_delete_agent(self->store, agent_id, &deleted, error))
		return FALSE;
	kl_verifier_forget_loop(self, loop);
	kl_verifier_drop_own_policies(self, id);
	return TRUE;
}

/* Stop and reactivate: @agent_id's row to @state, its loop halted and
 * moved to @state for @reason.  NULL (and @error) when it is not there. */
static KlVerifierLoop *
kl_verifier_move_agent(KlVerifier *self,
		       const gchar *agent_id,
		       KlVerifierState state,
		       KlVerifierReason reason,
		       GError **error)
{
	KlVerifierLoop *loop = kl_verifier_lookup(self, agent_id, error);
	gboolean updated = FALSE;

	if (loop == NULL)
		return NULL;
	if (!kl_verifier_store_set_state(self->store, agent_id, state, &updated, error))
		return NULL;
	kl_verifier_loop_halt(self, loop);
	if (state == KL_VERIFIER_STATE_START) {
		loop->retries = 0;
		loop->partial = FALSE;
	}
	kl_verifier_set_state(self, loop, state, reason);
	return loop;
}

gboolean
kl_verifier_stop_agent(KlVerifier *self, const gchar *agent_id, GError **error)
{
	return kl_verifier_move_agent(self,
				      agent_id,
				      KL_VERIFIER_STATE_TENANT_FAILED,
				      KL_VERIFIER_REASON_STOPPED,
				      error) != NULL;
}

gboolean
kl_verifier_reactivate_agent(KlVerifier *self, const gchar *agent_id, GError **error)
{
	KlVerifierLoop *loop = kl_verifier_move_agent(self,
						      agent_id,
						      KL_VERIFIER_STATE_START,
						      KL_VERIFIER_REASON_REACTIVATED,
						      error);

	if (loop == NULL)
		return FALSE;
	kl_scheduler_schedule_in(self->scheduler, &loop->entry, 0);
	return TRUE;
}

/* A required member that may be a string or null. */
static gboolean
kl_verifier_get_nullable_string(JsonObject *body,
				const gchar *member,
				const gchar **value,
				GError **error)
{
	if (!json_object_has_member(body, member)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "missing member '%s'",
			    member);
		return FALSE;
	}
	return kl_json_object_get_optional_string(body, member, value, error);
}

/* cloudagent_port: an integer or a numeric string, as tenants send it */
static gboolean
kl_verifier_get_port(JsonObject *body, const gchar *member, gint64 *port, GError **error)
{
	JsonNode *node = json_object_get_member(body, member);
	const gchar *text;
	guint64 value;

	if (node != NULL && JSON_NODE_HOLDS_VALUE(node) &&
	    json_node_get_value_type(node) == G_TYPE_STRING) {
		text = json_node_get_string(node);
		if (!g_ascii_string_to_unsigned(text, 10, 1, G_MAXUINT16, &value, NULL)) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "member '%s': not a port",
				    member);
			return FALSE;
		}
		*port = (gint64)value;
		return TRUE;
	}
	return kl_json_object_get_int(body, member, 1, G_MAXUINT16, port, error);
}

/* Stores or loads the named policy of an enrolment (spec §2.3). */
static gboolean
kl_verifier_enrol_policy(KlVerifier *self,
			 KlVerifierPolicyKind kind,
			 const gchar *agent_id,
			 const gchar *text,
			 const gchar *name,
			 const gchar *key_pem,
			 gint64 *id,
			 GError **error)
{
	g_autoptr(KlVerifierPolicy) policy = NULL;

	if (text != NULL && text[0] != '\0') {
		policy = kl_verifier_policy_new(kind,
						name != NULL && name[0] != '\0' ? name : agent_id);
		if (kind == KL_VERIFIER_POLICY_RUNTIME) {
			policy->policy = kl_verifier_check_runtime(self,
								   text,
								   key_pem,
								   &policy->generator,
								   error);
			if (policy->policy == NULL)
				return FALSE;
		} else {
			if (!kl_verifier_check_mb(text, error))
				return FALSE;
			policy->policy = g_strdup(text);
		}
		return kl_verifier_store_add_policy(self->store, policy, id, error);
	}
	if (name != NULL && name[0] != '\0') {
		policy = kl_verifier_get_policy(self, kind, name, error);
		if (policy == NULL)
			return FALSE;
		*id = policy->id;
		return TRUE;
	}
	if (kind == KL_VERIFIER_POLICY_RUNTIME && self->require_allow_list_signatures) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_NOT_AUTHENTICATED,
			    "runtime_policy: a signed policy is required");
		return FALSE;
	}
	policy = kl_verifier_policy_new(kind, agent_id);
	policy->policy = g_strdup("");
	return kl_verifier_store_add_policy(self->store, policy, id, error);
}

static gchar *
kl_verifier_decode_b64_text(const gchar *member, const gchar *b64, GError **error)
{
	g_autoptr(GError) local_error = NULL;
	g_autoptr(GBytes) bytes =
		kl_base64_decode(b64, -1, KL_BASE64_FLAG_ALLOW_SPACE, &local_error);
	gsize len;
	const gchar *data;

	if (bytes == NULL) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "%s: %s",
			    member,
			    local_error->message);
		return NULL;
	}
	data = g_bytes_get_data(bytes, &len);
	if (memchr(data, '\0', len) != NULL || !g_utf8_validate(data, (gssize)len, NULL)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "%s: not UTF-8 text",
			    member);
		return NULL;
	}
	return g_strndup(data, len);
}

gboolean
kl_verifier_add_agent(KlVerifier *self, const gchar *agent_id, JsonObject *body, GError **error)
{
	g_autoptr(KlVerifierAgent) agent = kl_verifier_agent_new(agent_id);
	g_autoptr(KlVerifierAgent) existing = NULL;
	g_autoptr(KlStoreTransaction) tx = NULL;
	g_autofree gchar *runtime_text = NULL;
	g_autofree gchar *runtime_key = NULL;
	const gchar *v = NULL, *ip = NULL, *tpm_policy = NULL, *runtime_b64 = NULL;
	const gchar *runtime_name = NULL, *runtime_key_b64 = NULL, *mb_policy = NULL;
	const gchar *mb_name = NULL, *ima_keys = NULL, *metadata = NULL, *revocation_key = NULL;
	const gchar *ak_tpm = NULL, *mtls_cert = NULL, *supported = NULL;
	const gchar *verifier_ip = NULL;
	gint64 port = 0, verifier_port = self->verifier_port;
	KlApiVersion version = KL_API_VERSION_CURRENT;
	gchar version_text[KL_API_VERSION_STRING_SIZE];
	KlVerifierLoop *loop;

	/* before anything is stored: D-Bus passes the caller's string as is */
	if (agent_id == NULL || strlen(agent_id) > KL_AGENT_TABLE_AGENT_ID_SIZE) {
		g_set_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT, "agent_id: invalid");
		return FALSE;
	}
	if (!kl_agent_id_validate(agent_id, error)) {
		kl_error_convert(error);
		return FALSE;
	}
	if (!kl_verifier_get_nullable_string(body, "v", &v, error) ||
	    !kl_json_object_get_string(body, "cloudagent_ip", &ip, error) ||
	    !kl_verifier_get_port(body, "cloudagent_port", &port, error) ||
	    !kl_json_object_get_string(body, "tpm_policy", &tpm_policy, error) ||
	    !kl_json_object_get_string(body, "runtime_policy", &runtime_b64, error) ||
	    !kl_json_object_get_optional_string(body,
						"runtime_policy_name",
						&runtime_name,
						error) ||
	    !kl_json_object_get_optional_string(body,
						"runtime_policy_key",
						&runtime_key_b64,
						error) ||
	    !kl_verifier_get_nullable_string(body, "mb_policy", &mb_policy, error) ||
	    !kl_verifier_get_nullable_string(body, "mb_policy_name", &mb_name, error) ||
	    !kl_json_object_get_string(body, "ima_sign_verification_keys", &ima_keys, error) ||
	    !kl_json_object_get_string(body, "metadata", &metadata, error) ||
	    !kl_json_object_get_string(body, "revocation_key", &revocation_key, error) ||
	    !kl_json_object_get_string_array(body,
					     "accept_tpm_hash_algs",
					     &agent->accept_tpm_hash_algs,
					     error) ||
	    !kl_json_object_get_string_array(body,
					     "accept_tpm_encryption_algs",
					     &agent->accept_tpm_encryption_algs,
					     error) ||
	    !kl_json_object_get_string_array(body,
					     "accept_tpm_signing_algs",
					     &agent->accept_tpm_signing_algs,
					     error) ||
	    !kl_json_object_get_string(body, "ak_tpm", &ak_tpm, error) ||
	    !kl_json_object_get_optional_string(body, "mtls_cert", &mtls_cert, error) ||
	    !kl_json_object_get_optional_string(body, "supported_version", &supported, error) ||
	    !kl_json_object_get_optional_string(body, "verifier_ip", &verifier_ip, error))
		return FALSE;
	if (json_object_has_member(body, "verifier_port") &&
	    !json_object_get_null_member(body, "verifier_port") &&
	    !kl_verifier_get_port(body, "verifier_port", &verifier_port, error))
		return FALSE;
	if (supported != NULL) {
		gsize n_versions = 0;
		const KlApiVersion *versions = kl_api_version_agent_supported(&n_versions);
		/* unsupported: the verifier's current one, as upstream */
		if (!kl_api_version_parse(supported, &version, NULL) ||
		    !kl_api_version_is_supported(&version, versions, n_versions))
			version = KL_API_VERSION_CURRENT;
	}
	kl_api_version_to_string(&version, version_text);
	if (self->enable_agent_mtls && (mtls_cert == NULL || mtls_cert[0] == '\0') &&
	    g_strcmp0(version_text, "1.0") != 0) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "mTLS certificate for agent is required!");
		return FALSE;
	}
	if (v != NULL && v[0] != '\0') {
		g_autoptr(GBytes) v_bytes = kl_base64_decode(v, -1, KL_BASE64_FLAG_NONE, NULL);
		if (v_bytes == NULL || g_bytes_get_size(v_bytes) != 32) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "v: not base64 of 32 bytes");
			return FALSE;
		}
	}
	if (runtime_b64[0] != '\0') {
		runtime_text = kl_verifier_decode_b64_text("runtime_policy", runtime_b64, error);
		if (runtime_text == NULL)
			return FALSE;
	}
	if (runtime_key_b64 != NULL && runtime_key_b64[0] != '\0') {
		runtime_key =
			kl_verifier_decode_b64_text("runtime_policy_key", runtime_key_b64, error);
		if (runtime_key == NULL)
			return FALSE;
	}

	agent->v = g_strdup(v);
	agent->ip = g_strdup(ip);
	agent->port = port;
	agent->verifier_id = g_strdup(self->verifier_id);
	agent->verifier_ip = g_strdup(verifier_ip != NULL ? verifier_ip : self->verifier_ip);
	agent->verifier_port = verifier_port;
	agent->operational_state = KL_VERIFIER_STATE_START;
	agent->tpm_policy = g_strdup(tpm_policy);
	agent->meta_data = g_strdup(metadata);
	agent->ima_sign_verification_keys = g_strdup(ima_keys);
	agent->revocation_key = g_strdup(revocation_key);
	agent->ak_tpm = g_strdup(ak_tpm);
	agent->mtls_cert = g_strdup(mtls_cert);
	agent->supported_version = g_strdup(version_text);
	agent->attestation_count = 0;
	agent->next_ima_ml_entry = 0;
	agent->consecutive_attestation_failures = 0;
	agent->ima_pcrs = g_array_new(FALSE, FALSE, sizeof(gint));

	/* the pieces each round uses, parsed now: bad ones are the tenant's error */
	loop = kl_verifier_loop_new(self, kl_verifier_agent_copy(agent), error);
	if (loop == NULL) {
		if (error != NULL && *error != NULL && (*error)->domain != KL_ERROR) {
			GError *wrapped = g_error_new(KL_ERROR,
						      KL_ERROR_INVALID_ARGUMENT,
						      "enrolment: %s",
						      (*error)->message);
			g_clear_error(error);
			g_propagate_error(error, wrapped);
		}
		return FALSE;
	}

	if (g_hash_table_contains(self->loops, agent_id)) {
		kl_verifier_loop_unref(loop);
		g_set_error(error, KL_ERROR, KL_ERROR_CONFLICT, "agent %s exists", agent_id);
		return FALSE;
	}
	tx = kl_store_transaction_begin(kl_verifier_store_get_store(self->store), error);
	if (tx == NULL)
		goto failed;
	existing = kl_verifier_store_get_agent(self->store, agent_id, error);
	if (existing != NULL) {
		g_set_error(error, KL_ERROR, KL_ERROR_CONFLICT, "agent %s exists", agent_id);
		goto failed;
	}
	if (error != NULL && *error != NULL)
		goto failed;
	if (!kl_verifier_enrol_policy(self,
				      KL_VERIFIER_POLICY_RUNTIME,
				      agent_id,
				      runtime_text,
				      runtime_name,
				      runtime_key,
				      &loop->agent->ima_policy_id,
				      error) ||
	    !kl_verifier_enrol_policy(self,
				      KL_VERIFIER_POLICY_MB,
				      agent_id,
				      mb_policy,
				      mb_name,
				      NULL,
				      &loop->agent->mb_policy_id,
				      error) ||
	    !kl_verifier_store_put_agent(self->store, loop->agent, error) ||
	    !kl_store_transaction_commit(tx, error))
		goto failed;
	if (!kl_verifier_insert_loop(self, loop, error)) {
		gboolean deleted;
		kl_verifier_flush_history(self);
		kl_verifier_store_delete_agent(self->store, agent_id, &deleted, NULL);
		kl_verifier_loop_unref(loop);
		return FALSE;
	}
	g_signal_emit(self, signals[SIGNAL_AGENT_ADDED], 0, agent_id);
	kl_verifier_schedule_first(self, loop);
	return TRUE;

failed:
	kl_verifier_loop_unref(loop);
	return FALSE;
}

/* ---- history ---- */

GPtrArray *
kl_verifier_list_events(KlVerifier *self,
			const gchar *agent_id,
			KlVerifierEventKind kind,
			guint max,
			GError **error)
{
	if (kl_verifier_lookup(self, agent_id, error) == NULL)
		return NULL;
	kl_verifier_flush_history(self);
	return kl_verifier_store_list_events(self->store, agent_id, kind, max, error);
}

GPtrArray *
kl_verifier_list_events_since(KlVerifier *self, gint64 since, guint max, GError **error)
{
	kl_verifier_flush_history(self);
	return kl_verifier_store_list_events_since(self->store, since, max, error);
}
