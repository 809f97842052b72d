/*
 * kl-ima-verify: judges an IMA measurement list batch the way upstream
 * Keylime's verifier does (spec §5.3-§5.5) — PCR 10 replay and match
 * against the quote, template hashes, and each entry against the runtime
 * policy: file digests, excludes, keys loaded into keyrings (learned for
 * later signature checks), other ima-buf events, boot_aggregate and
 * ima-sig signatures with upstream's fallback to the digests.
 *
 * The verifier and keylime-check both call kl_ima_verify_log(); every
 * problem is a KlFinding with upstream's event id, the counts give
 * upstream's "IMA ERRORS: template-hash 0 fnf 1 hash 0 good 781" line.
 */
#pragma once

#include "kl-ima-log.h"
#include "kl-ima-sig.h"
#include "kl-runtime-policy.h"

G_BEGIN_DECLS

typedef struct {
	KlImaBank bank;
	const KlImaState *resume;   /* nullable: fresh */
	const guint8 *quoted_pcr10; /* nullable: no quote, replay only */
	gsize quoted_pcr10_len;
	/* nullable, or generator <= 1: no runtime policy */
	KlRuntimePolicy *policy;
	/* nullable: the tenant's ima_sign_verification_keys (of
	 * KlRuntimePolicyKey); they replace the policy's verification keys */
	GPtrArray *verification_keys;
	/* in/out, nullable: keys learned from the log.  Non-NULL (or any
	 * verification key) means "keyrings exist" in upstream's sense. */
	KlImaKeyrings *learned;
	/* nullable, NULL-terminated hex: boot aggregates computed from the
	 * UEFI log, accepted for the boot_aggregate entry */
	const gchar *const *boot_aggregates;
	gboolean ignore_tomtou_errors; /* [verifier] ignore_tomtou_errors, inverted as upstream */
} KlImaVerifyOptions;

gboolean kl_ima_verify(KlImaLogParser *parser,
		       const KlImaVerifyOptions *options,
		       KlImaResult *result,
		       GError **error);

/* The common case: a log batch in memory, @bank by name ("sha256"),
 * @quoted_pcr10 of the bank's size.  Initialises @result. */
gboolean kl_ima_verify_log(const gchar *log,
			   gsize len,
			   const KlImaState *resume /* nullable */,
			   const gchar *bank,
			   const guint8 *quoted_pcr10 /* nullable: no quote, just replay */,
			   KlRuntimePolicy *policy /* nullable */,
			   KlImaKeyrings *learned /* in/out, nullable */,
			   KlImaResult *result,
			   GError **error);

G_END_DECLS
