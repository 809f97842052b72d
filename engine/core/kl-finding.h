/*
 * kl-finding: one reason why evidence failed, in upstream Keylime's terms
 * (its failure event id such as "ima.validation.ima-ng.not_in_allowlist",
 * and its context JSON) and in an operator's terms (component, subject,
 * reason, line).  Every check in libkl-core reports KlFindings; the
 * verifier turns them into states and revocations, keylime-check prints
 * them.
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef struct {
	gchar *event_id; /* upstream's id, e.g. "pcr_validation.invalid_pcr_15" */
	gchar *subject;	 /* what failed: a path, "PCR 15", a field name */
	gchar *reason;	 /* one sentence for people */
	guint line;	 /* 1-based line in the evidence; 0 if not applicable */
	gboolean irrecoverable;
	gchar *context_json; /* upstream's event context, a JSON object as text */
} KlFinding;

#define KL_TYPE_FINDING (kl_finding_get_type())

GType kl_finding_get_type(void);
KlFinding *
kl_finding_new(const gchar *event_id, const gchar *subject, guint line, const gchar *reason);
KlFinding *kl_finding_new_printf(const gchar *event_id,
				 const gchar *subject,
				 guint line,
				 const gchar *format,
				 ...) G_GNUC_PRINTF(4, 5);
KlFinding *kl_finding_copy(const KlFinding *self);
void kl_finding_free(KlFinding *self);
gchar *kl_finding_get_component(const KlFinding *self);
void kl_finding_set_context_got_expected(KlFinding *self, const gchar *got, const gchar *expected);
GPtrArray *kl_findings_new(void);
gchar *kl_finding_to_string(const KlFinding *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlFinding, kl_finding_free)

G_END_DECLS
