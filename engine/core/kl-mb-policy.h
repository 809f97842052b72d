/*
 * kl-mb-policy: the measured-boot policy engine.  Upstream writes its
 * "elchecking" policies in Python; here a policy is data — a JSON rule set
 * (data/mb-policies/NAME.json) that this engine compiles against a
 * reference state and runs over the events of a parsed UEFI event log.
 * Failures are KlFindings with upstream's event id
 * "measured_boot.policy_<name>" naming the event number and type.
 *
 * Rule language (each rule a JSON object with "op"; values V are literal
 * JSON or {"ref": "member"} into the reference state, or
 * {"ref": "$var.member"} into a for_each binding, with an optional
 * "default"):
 *   accept | reject{reason} | and{all:[R]} | or{any:[R]}
 *   dispatch{keys:[K], cases:[{match:[v | [v, ...]], test:R}]}
 *   field{name, test, show_name} | each{test} | tuple{items:[R], pad}
 *   string{equal:V, ignore_case} | regex{pattern:V | [V, ...], dotall}
 *   tuple{in:V, as, item:R} (one item per member of a list)
 *   int{equal} | digests{allowed:V, alg} | once{test, times}
 *   collect{into} | key_subset{sig_types, keys:V} | key_superset{sig_types, keys:V}
 *   separator | efi_action{pcr}
 *   if{cond:V | [V, ...], then:R, else:R} | for_each{in:V, as, combine:"or"|"and", test:R}
 * A policy file: {"name", "relevant_pcrs":[n], "collect":[name], "events":R,
 * "final":R} — "events" judges each event, "final" the collected lists.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "kl-mb-refstate.h"

G_BEGIN_DECLS

#define KL_MB_POLICY_MAX_SIZE (1024 * 1024)

typedef struct _KlMbPolicy KlMbPolicy;
/* a policy compiled against one reference state; evaluate it many times */
typedef struct _KlMbCheck KlMbCheck;

KlMbPolicy *kl_mb_policy_new_from_json(const gchar *data, gsize length, GError **error);
/* NAME.json from @dirs, or when NULL from $KL_MB_POLICY_DIR, then
 * SYSCONFDIR/keylime/mb-policies, then <data dir>/keylime-c/mb-policies */
KlMbPolicy *kl_mb_policy_load(const gchar *name, const gchar *const *dirs, GError **error);
void kl_mb_policy_free(KlMbPolicy *self);

const gchar *kl_mb_policy_get_name(KlMbPolicy *self);
/* bit n set for PCR n; 0 means "no restriction" (accept-all, reject-all) */
guint32 kl_mb_policy_get_relevant_pcrs(KlMbPolicy *self);
/* measured_boot.missing_pcrs for relevant PCRs absent from @quoted_mask;
 * TRUE if nothing was appended */
gboolean
kl_mb_policy_check_missing_pcrs(KlMbPolicy *self, guint32 quoted_mask, GPtrArray *findings);

/* FALSE with KL_MB_ERROR_INVALID_REFSTATE if the reference state lacks
 * what the policy refers to */
KlMbCheck *kl_mb_policy_compile(KlMbPolicy *self, KlMbRefstate *refstate, GError **error);
void kl_mb_check_free(KlMbCheck *self);
/* @events: the "events" array of kl_eventlog_events_to_json(); appends a
 * finding per failing event and one for the final checks; TRUE if none */
gboolean kl_mb_check_evaluate(KlMbCheck *self, JsonArray *events, GPtrArray *findings);

/* compile and evaluate: failures are appended to @findings; FALSE (with
 * @error) only when the reference state does not fit the policy.  An empty
 * reference state ("{}") passes unchecked, as upstream. */
gboolean kl_mb_policy_evaluate(KlMbPolicy *self,
			       KlMbRefstate *refstate,
			       JsonArray *events,
			       GPtrArray *findings,
			       GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlMbPolicy, kl_mb_policy_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlMbCheck, kl_mb_check_free)

G_END_DECLS
