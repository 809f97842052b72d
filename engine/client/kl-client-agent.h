/*
 * KlClientAgent: one agent of the verifier as a console shows it, with a
 * notify-able property per field of org.keylime.Verifier1.Agent.  KlClient
 * owns and updates them (from the shared-memory table when it is local,
 * from D-Bus otherwise); views bind to the properties.
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define KL_TYPE_CLIENT_AGENT (kl_client_agent_get_type())
G_DECLARE_FINAL_TYPE(KlClientAgent, kl_client_agent, KL, CLIENT_AGENT, GObject)

const gchar *kl_client_agent_get_agent_id(KlClientAgent *self);
guint kl_client_agent_get_state(KlClientAgent *self);
guint kl_client_agent_get_state_reason(KlClientAgent *self);
const gchar *kl_client_agent_get_ip(KlClientAgent *self);
guint kl_client_agent_get_port(KlClientAgent *self);
guint64 kl_client_agent_get_last_attestation(KlClientAgent *self);
guint64 kl_client_agent_get_last_success(KlClientAgent *self);
guint64 kl_client_agent_get_attestation_count(KlClientAgent *self);
guint kl_client_agent_get_consecutive_failures(KlClientAgent *self);
gint kl_client_agent_get_severity_level(KlClientAgent *self);
const gchar *kl_client_agent_get_last_event_id(KlClientAgent *self);
const gchar *kl_client_agent_get_runtime_policy(KlClientAgent *self);
const gchar *kl_client_agent_get_mb_policy(KlClientAgent *self);
const gchar *kl_client_agent_get_hash_alg(KlClientAgent *self);
const gchar *kl_client_agent_get_sign_alg(KlClientAgent *self);
const gchar *kl_client_agent_get_enc_alg(KlClientAgent *self);

/* Upstream's operational state (spec §3, 0–10) as the tenant prints it,
 * translated ("Get Quote", "Failed", ...); "Unknown" out of range. */
const gchar *kl_client_agent_state_to_label(guint state);

G_END_DECLS
