/*
 * kl-verifier-evidence: the two stateless checks of the verifier's REST
 * API (spec §2.3, §2.3.1) as pure functions, so that they are tested and
 * fuzzed without a server:
 *
 *   GET /v2.x/verify/identity: a quote against an enrolled agent's AK, the
 *   nonce and the PCR 16 binding of its NK → {"valid": 1} or
 *   {"valid": 0, "reason": "<contexts joined by '; '>"};
 *
 *   POST /v2.x/verify/evidence: {"type": "tpm", "data": {...}} checked like
 *   a round of the pull loop without the clock and PCR 16 checks →
 *   {"valid": bool, "claims": {}, "failures": [{"type", "context"}]}.
 *   Only the tpm type is implemented; "tee" is refused as not supported.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "kl-verifier-record.h"

G_BEGIN_DECLS

/* Strings longer than this in an evidence request are refused. */
#define KL_VERIFIER_EVIDENCE_MAX_FIELD (64 * 1024 * 1024)

/* The parsed body of POST /verify/evidence, type tpm.  Policies given as
 * JSON objects are kept as their text. */
typedef struct {
	gchar *quote;
	gchar *nonce;
	gchar *hash_alg;
	gchar *tpm_ak;		     /* base64 TPM2B_PUBLIC */
	gchar *tpm_ek;		     /* base64 TPM2B_PUBLIC; nullable, not checked (as upstream) */
	gchar *tpm_policy;	     /* nullable */
	gchar *runtime_policy;	     /* JSON text; nullable */
	gchar *mb_policy;	     /* reference state JSON text; nullable */
	gchar *ima_measurement_list; /* nullable */
	gchar *mb_log;		     /* base64 UEFI event log; nullable */
} KlVerifierEvidenceRequest;

/*
 * Parses @body.  Errors are KL_ERROR_INVALID_ARGUMENT naming the field;
 * a missing required field or a request without any policy also sets
 * *@missing to the failure event id to report ("tpm.missing_param",
 * "tpm.missing_policy"), NULL otherwise.  "tee" and unknown types:
 * KL_ERROR_INVALID_ARGUMENT "… type \"tee\" is not supported".
 */
KlVerifierEvidenceRequest *
kl_verifier_evidence_request_parse(JsonObject *body, const gchar **missing, GError **error);
void kl_verifier_evidence_request_free(KlVerifierEvidenceRequest *self);

/*
 * POST /verify/evidence: parses @body and runs the checks.  Returns the
 * "results" object and the HTTP status to answer with in *@status (200,
 * or 400 for a missing parameter or policy); NULL with @error (whose
 * KL_ERROR code gives the status) when the request is not a tpm request
 * or cannot be read.  @mb_policy_name is verifier.conf's
 * measured_boot_policy_name, looked up in @mb_policy_dirs (NULL: the
 * default directories).
 */
JsonNode *kl_verifier_evidence_verify(JsonObject *body,
				      const gchar *mb_policy_name,
				      const gchar *const *mb_policy_dirs,
				      guint *status,
				      GError **error);

/*
 * GET /verify/identity for @agent (its ak_tpm and public_key): the
 * "results" object.  A missing or empty @quote, @nonce or @hash_alg is
 * KL_ERROR_INVALID_ARGUMENT naming the parameter.
 */
JsonNode *kl_verifier_evidence_verify_identity(const KlVerifierAgent *agent,
					       const gchar *quote,
					       const gchar *nonce,
					       const gchar *hash_alg,
					       GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlVerifierEvidenceRequest, kl_verifier_evidence_request_free)

G_END_DECLS
