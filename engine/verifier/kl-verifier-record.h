/*
 * kl-verifier-record: the rows of the verifier's database, typed.
 * KlVerifierAgent is one verifiermain row (upstream's columns, §10.1),
 * KlVerifierPolicy one named runtime policy (allowlists) or measured-boot
 * policy (mbpolicies), KlVerifierEvent one entry of an agent's bounded
 * history of findings and revocations.
 *
 * Integers that upstream lets be NULL hold KL_VERIFIER_NULL for NULL: none
 * of them is negative otherwise (states, ports, counts, unix times, ids).
 * Strings, lists and blobs are NULL for NULL; an empty list is "[]".
 */
#pragma once

#include "kl-quote.h"

G_BEGIN_DECLS

#define KL_VERIFIER_NULL G_GINT64_CONSTANT(-1)

/* Upstream's operational states (§3). */
typedef enum {
	KL_VERIFIER_STATE_REGISTERED = 0,
	KL_VERIFIER_STATE_START = 1,
	KL_VERIFIER_STATE_SAVED = 2,
	KL_VERIFIER_STATE_GET_QUOTE = 3,
	KL_VERIFIER_STATE_GET_QUOTE_RETRY = 4,
	KL_VERIFIER_STATE_PROVIDE_V = 5,
	KL_VERIFIER_STATE_PROVIDE_V_RETRY = 6,
	KL_VERIFIER_STATE_FAILED = 7,
	KL_VERIFIER_STATE_TERMINATED = 8,
	KL_VERIFIER_STATE_INVALID_QUOTE = 9,
	KL_VERIFIER_STATE_TENANT_FAILED = 10,
} KlVerifierState;

typedef struct {
	gchar *agent_id;
	gchar *v; /* base64 V: a secret, wiped when freed */
	gchar *ip;
	gint64 port;
	gchar *verifier_id;
	gchar *verifier_ip;
	gint64 verifier_port;
	gint64 operational_state; /* a KlVerifierState; NULL for push agents */
	gchar *public_key;	  /* the NK, PEM */
	gchar *tpm_policy;	  /* the JSON text the tenant sent */
	gchar *meta_data;	  /* JSON text */
	gint64 ima_policy_id;	  /* allowlists.id */
	gint64 mb_policy_id;	  /* mbpolicies.id */
	gchar *ima_sign_verification_keys;
	gchar *revocation_key; /* PEM private key: a secret, wiped when freed */
	GStrv accept_tpm_hash_algs;
	GStrv accept_tpm_encryption_algs;
	GStrv accept_tpm_signing_algs;
	gchar *hash_alg;
	gchar *enc_alg;
	gchar *sign_alg;
	/* incremental IMA state (§5.6) */
	gint64 boottime;
	GArray *ima_pcrs; /* of gint */
	GBytes *pcr10;	  /* the running PCR 10 value */
	gint64 next_ima_ml_entry;
	gchar *learned_ima_keyrings; /* a JSON object as text */
	/* the last failure (§3) */
	gint64 severity_level;
	gchar *last_event_id;
	gchar *supported_version;
	gchar *ak_tpm; /* base64 TPM2B_PUBLIC */
	gchar *mtls_cert;
	gint64 attestation_count;
	gint64 last_received_quote;	    /* unix seconds */
	gint64 last_successful_attestation; /* unix seconds */
	gboolean has_tpm_clockinfo;
	KlQuoteClockInfo tpm_clockinfo; /* after the last good quote (§4.3 step 5) */
	gboolean accept_attestations;	/* push mode; NULL reads as TRUE */
	gint64 consecutive_attestation_failures;
} KlVerifierAgent;

/* Every nullable integer NULL, accept_attestations TRUE. */
KlVerifierAgent *kl_verifier_agent_new(const gchar *agent_id);
KlVerifierAgent *kl_verifier_agent_copy(const KlVerifierAgent *agent);
void kl_verifier_agent_free(KlVerifierAgent *agent);

typedef enum {
	KL_VERIFIER_POLICY_RUNTIME, /* allowlists */
	KL_VERIFIER_POLICY_MB,	    /* mbpolicies */
} KlVerifierPolicyKind;

typedef struct {
	KlVerifierPolicyKind kind;
	gint64 id; /* assigned by the store */
	gchar *name;
	gchar *policy; /* allowlists.ima_policy or mbpolicies.mb_policy */
	/* runtime policies only */
	gchar *checksum; /* SHA-256 hex of policy, computed by the store */
	gint64 generator;
	gchar *tpm_policy;
} KlVerifierPolicy;

KlVerifierPolicy *kl_verifier_policy_new(KlVerifierPolicyKind kind, const gchar *name);
KlVerifierPolicy *kl_verifier_policy_copy(const KlVerifierPolicy *policy);
void kl_verifier_policy_free(KlVerifierPolicy *policy);

typedef enum {
	KL_VERIFIER_EVENT_FINDING,
	KL_VERIFIER_EVENT_REVOCATION,
} KlVerifierEventKind;

typedef struct {
	KlVerifierEventKind kind;
	gint64 id; /* assigned by the store, increasing */
	gchar *agent_id;
	gint64 time;	 /* unix seconds */
	gchar *event_id; /* upstream's, e.g. "pcr_validation.invalid_pcr_15" */
	guint severity;	 /* index into severity_labels */
	gchar *context;	 /* JSON text */
	gchar *subject;	 /* findings only: what failed */
} KlVerifierEvent;

KlVerifierEvent *kl_verifier_event_new(KlVerifierEventKind kind,
				       const gchar *agent_id,
				       gint64 time,
				       const gchar *event_id,
				       guint severity,
				       const gchar *context,
				       const gchar *subject);
KlVerifierEvent *kl_verifier_event_copy(const KlVerifierEvent *event);
void kl_verifier_event_free(KlVerifierEvent *event);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlVerifierAgent, kl_verifier_agent_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlVerifierPolicy, kl_verifier_policy_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlVerifierEvent, kl_verifier_event_free)

G_END_DECLS
