/*
 * kl-agent-service: the agent's REST API (spec §2.5, the Rust agent's
 * routes for API 2.1 to 2.6) on a KlHttpRouter: quotes from the TPM with
 * the IMA and UEFI logs, the NK, the U and V key shares, the /keys/verify
 * challenge, revocation notifications and /agent/info.  When U and V
 * combine into K, the payload is installed and its script run.
 */
#pragma once

#include <openssl/evp.h>

#include "kl-agent-payload.h"
#include "kl-agent-revocation.h"
#include "kl-http-router.h"
#include "kl-tpm.h"

G_BEGIN_DECLS

/* Everything borrowed for the service's lifetime. */
typedef struct {
	const gchar *agent_id;
	KlTpm *tpm;
	EVP_PKEY *nk;
	const gchar *ima_ml_path;
	const gchar *measuredboot_ml_path;
	const gchar *secure_dir;
	const KlAgentPayloadOptions *payload;
	const KlAgentRevocationOptions *revocation;
	gboolean run_payloads; /* mTLS on, or enable_insecure_payload */
} KlAgentServiceOptions;

#define KL_TYPE_AGENT_SERVICE (kl_agent_service_get_type())
G_DECLARE_FINAL_TYPE(KlAgentService, kl_agent_service, KL, AGENT_SERVICE, GObject)

KlAgentService *kl_agent_service_new(const KlAgentServiceOptions *options, GError **error);
/* The router for KlHttpServer; GET /version is the agent's own. */
KlHttpRouter *kl_agent_service_get_router(KlAgentService *self);
/* The NK's SubjectPublicKeyInfo PEM, as served and bound to PCR 16. */
const gchar *kl_agent_service_get_nk_pem(KlAgentService *self);

/* Signals: "payload-done" (gboolean success) after a payload ran;
 * "revocation-done" (guint actions run, gboolean success). */

G_END_DECLS
