/*
 * kl-tpm-policy: Keylime's tpm_policy, the allowed values of static PCRs —
 * {"15": ["hex", ...], "22": "hex", "mask": "0x408000"} — parsed and
 * normalised as the tenant does (keys 0..23 except 10 and 16, strings
 * wrapped into lists, lower case, mask computed or checked), and
 * evaluated against a quote's PCR bank as in spec §4.6 steps 5 and 6.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "kl-tpm-types.h"

G_BEGIN_DECLS

#define KL_TPM_POLICY_EVENT_MISSING_PCRS "pcr_validation.missing_pcrs"

typedef struct _KlTpmPolicy KlTpmPolicy;

KlTpmPolicy *kl_tpm_policy_new_from_json(const gchar *json, gsize len, GError **error);
KlTpmPolicy *kl_tpm_policy_new_from_object(JsonObject *object, GError **error);
void kl_tpm_policy_free(KlTpmPolicy *self);
guint32 kl_tpm_policy_get_mask(KlTpmPolicy *self); /* "mask", else the PCRs listed */
guint32 kl_tpm_policy_get_pcrs(KlTpmPolicy *self); /* bit n: PCR n has allowed values */
const gchar *const *kl_tpm_policy_get_values(KlTpmPolicy *self, guint pcr); /* NULL if none */
gchar *kl_tpm_policy_to_json(KlTpmPolicy *self); /* normalised, with "mask" */
/* Adds @pcrs (bit n: PCR n) to the quote mask: the tenant's PCR 10 for
 * IMA and the measured-boot PCRs, which a policy does not list itself. */
void kl_tpm_policy_select(KlTpmPolicy *self, guint32 pcrs);

/* Appends pcr_validation.invalid_pcr_<n> for each quoted PCR not in
 * @skip whose value is not allowed, and pcr_validation.missing_pcrs if
 * the policy lists PCRs the bank lacks; TRUE if it appended nothing. */
gboolean kl_tpm_policy_check(KlTpmPolicy *self, KlPcrBank *bank, guint32 skip, GPtrArray *findings);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlTpmPolicy, kl_tpm_policy_free)

G_END_DECLS
