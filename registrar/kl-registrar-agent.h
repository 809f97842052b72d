/*
 * kl-registrar-agent: one row of the registrar's registrarmain table, the
 * record the tenant and the verifier trust: the TPM identity (EK, its
 * certificate, the AK bound to it), how to reach the agent, and the
 * pending MakeCredential challenge.
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct {
	gchar *agent_id;
	gchar *key;	  /* base64 text of the challenge (the auth_tag HMAC key) */
	gchar *aik_tpm;	  /* base64 TPM2B_PUBLIC */
	gchar *ek_tpm;	  /* base64 TPM2B_PUBLIC */
	gchar *ekcert;	  /* base64 DER, or NULL */
	gchar *mtls_cert; /* PEM, "disabled", or NULL */
	gchar *ip;	  /* or NULL */
	gint64 port;	  /* 0: not given */
	gboolean active;  /* the agent proved it holds the EK and the AK */
	gint64 regcount;  /* registrations of this identity */
} KlRegistrarAgent;

KlRegistrarAgent *kl_registrar_agent_new(const gchar *agent_id);
KlRegistrarAgent *kl_registrar_agent_copy(const KlRegistrarAgent *agent);
void kl_registrar_agent_free(KlRegistrarAgent *agent);

/* Same EK, EK certificate and AK: a re-registration, not a takeover. */
gboolean kl_registrar_agent_same_identity(const KlRegistrarAgent *a, const KlRegistrarAgent *b);

/* The results of GET /agents/{id}, as upstream names them. */
JsonNode *kl_registrar_agent_to_json(const KlRegistrarAgent *agent);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlRegistrarAgent, kl_registrar_agent_free)

G_END_DECLS
