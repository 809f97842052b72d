/*
 * kl-attestation: one pull-mode attestation round judged as a pure
 * function of immutable inputs (spec §4.3-§4.7, §5.3-§5.6, §7.4): the
 * agent's GET /quotes/integrity results against the AK bound at
 * enrollment, the nonce, the accepted algorithms, the NK binding in PCR
 * 16, the IMA list against the runtime policy from the saved incremental
 * state, the UEFI log against a measured-boot policy, the tpm_policy and
 * the clock — in upstream's order, with upstream's event ids, then the
 * severity of the failure by verifier.conf's severity_policy (§3).
 *
 * The checks themselves live in libkl-core (kl-quote, kl-tpm-policy,
 * kl-ima-verify, kl-eventlog, kl-mb-policy); this module orchestrates
 * them.  kl_attestation_run() touches no global and no main context:
 * the engine hands a reference on a KlAttestationInput to a GThreadPool
 * worker and gets a KlAttestationResult back.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "kl-finding.h"
#include "kl-ima-log.h"
#include "kl-mb-policy.h"
#include "kl-quote.h"
#include "kl-runtime-policy.h"

G_BEGIN_DECLS

#define KL_ATTESTATION_ERROR kl_attestation_error_quark()

typedef enum {
	KL_ATTESTATION_ERROR_INVALID_SEVERITY, /* severity_labels/severity_policy; names the option */
} KlAttestationError;

GQuark kl_attestation_error_quark(void);

/* Per-entry IMA findings kept in a result; the rest are only counted. */
#define KL_ATTESTATION_MAX_IMA_FINDINGS 100

/* --- severity (verifier.conf [verifier] severity_labels, severity_policy) --- */

#define KL_ATTESTATION_DEFAULT_SEVERITY_LABELS \
	"[\"info\", \"notice\", \"warning\", \"error\", \"critical\", \"alert\", \"emergency\"]"
#define KL_ATTESTATION_DEFAULT_SEVERITY_POLICY \
	"[{\"event_id\": \".*\", \"severity_label\": \"emergency\"}]"

/* Labels in order (index = level) and {event_id regex, label} rules; immutable. */
typedef struct _KlSeverityPolicy KlSeverityPolicy;

/* Both are Python literals as in verifier.conf (single or double quotes);
 * NULL takes upstream's default.  Errors name the option. */
KlSeverityPolicy *kl_attestation_severity_policy_parse(const gchar *severity_labels,
						       const gchar *severity_policy,
						       GError **error);
KlSeverityPolicy *kl_severity_policy_ref(KlSeverityPolicy *self);
void kl_severity_policy_unref(KlSeverityPolicy *self);
guint kl_severity_policy_get_max_level(KlSeverityPolicy *self);
const gchar *kl_severity_policy_get_label(KlSeverityPolicy *self, guint level);
/* First rule whose regex matches all of @event_id; none or irrecoverable: max */
guint
kl_severity_policy_get_level(KlSeverityPolicy *self, const gchar *event_id, gboolean irrecoverable);

/* --- measured boot --- */

typedef enum {
	KL_MB_EVALUATE_ONCE,   /* only while attestation_count == 0 (upstream's default) */
	KL_MB_EVALUATE_ALWAYS, /* every round */
} KlMbEvaluate;

/* A measured-boot policy compiled against an agent's reference state;
 * immutable and shared.  An empty reference state ("{}") means no boot
 * policy, as upstream: kl_attestation_mb_new() then returns NULL and no
 * error. */
typedef struct _KlAttestationMb KlAttestationMb;

KlAttestationMb *kl_attestation_mb_new(KlMbPolicy *policy /* transfer full */,
				       KlMbRefstate *refstate /* transfer full */,
				       GError **error);
KlAttestationMb *kl_attestation_mb_ref(KlAttestationMb *self);
void kl_attestation_mb_unref(KlAttestationMb *self);

/* --- one round --- */

/* Everything a round reads; set by the engine, then never changed (hand
 * out references).  kl_attestation_input_unref() frees what it holds. */
typedef struct {
	JsonObject *response;		 /* "results" of GET /quotes/integrity (reference held) */
	gchar *nonce;			 /* what the verifier asked for */
	KlQuoteKey *ak;			 /* the AK bound at enrollment */
	gchar *nk_pubkey;		 /* cached NK PEM for partial=1; nullable */
	gchar **accept_hash_algs;	 /* accept_tpm_hash_algs */
	gchar **accept_enc_algs;	 /* accept_tpm_encryption_algs (rsa, ecc aliases) */
	gchar **accept_sign_algs;	 /* accept_tpm_signing_algs */
	gchar *tpm_policy;		 /* tpm_policy JSON incl. mask; nullable */
	KlRuntimePolicy *runtime_policy; /* nullable */
	GPtrArray *ima_keys; /* ima_sign_verification_keys (KlRuntimePolicyKey); nullable */
	KlAttestationMb *mb; /* nullable */
	KlMbEvaluate mb_evaluate;
	gboolean ignore_tomtou_errors;
	/* the agent's state after the previous round */
	KlImaState ima_state;
	gint64 boottime;	     /* 0: not known yet */
	gchar *learned_keyrings;     /* upstream's learned_ima_keyrings JSON; nullable */
	KlQuoteClockInfo clock_info; /* kl_quote_clock_info_init() before the first quote */
	guint64 attestation_count;
	KlSeverityPolicy *severity; /* nullable: upstream's defaults, parsed per round: pass one */
} KlAttestationInput;

KlAttestationInput *kl_attestation_input_new(void); /* fresh state, defaults */
KlAttestationInput *kl_attestation_input_ref(KlAttestationInput *self);
void kl_attestation_input_unref(KlAttestationInput *self);

typedef struct {
	gboolean passed;
	GPtrArray *findings;	    /* of KlFinding, check order; IMA ones capped */
	guint ima_findings_dropped; /* IMA findings beyond the cap */
	gboolean irrecoverable;	    /* any finding irrecoverable: stop polling */
	guint severity_level;	    /* highest over the findings; 0 when passed */
	gchar *severity_label;	    /* NULL when passed */
	gchar *event_id;	    /* first finding at the highest severity; NULL when passed */
	gboolean stop_polling;	    /* irrecoverable or the highest label is the max (§3) */
	/* to persist */
	gboolean ima_evaluated; /* the IMA state below is new (store it) */
	KlImaState ima_state;
	gint64 boottime;
	gchar *learned_keyrings; /* nullable */
	KlImaCounts ima_counts;
	gboolean have_clock_info; /* the quote verified: store clock_info */
	KlQuoteClockInfo clock_info;
	gchar *nk_pubkey; /* from a partial=0 response, to cache; else NULL */
	gchar *hash_alg;  /* as the agent reported them, once accepted */
	gchar *enc_alg;
	gchar *sign_alg;
} KlAttestationResult;

void kl_attestation_result_free(KlAttestationResult *self);

/* Never fails: unusable responses are findings. */
KlAttestationResult *kl_attestation_run(KlAttestationInput *input);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlSeverityPolicy, kl_severity_policy_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlAttestationMb, kl_attestation_mb_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlAttestationInput, kl_attestation_input_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlAttestationResult, kl_attestation_result_free)

G_END_DECLS
