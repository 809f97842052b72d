/*
 * The verifier's rows: construction, deep copies and frees that wipe the
 * secrets (V and the revocation key) before giving the memory back.
 */
#include "config.h"

#include <openssl/crypto.h>

#include "kl-verifier-record.h"

static void
kl_verifier_secret_free(gchar *secret)
{
	if (secret == NULL)
		return;
	OPENSSL_cleanse(secret, strlen(secret));
	g_free(secret);
}

static GArray *
kl_verifier_int_array_copy(GArray *array)
{
	GArray *copy;

	if (array == NULL)
		return NULL;
	copy = g_array_sized_new(FALSE, FALSE, sizeof(gint), array->len);
	g_array_append_vals(copy, array->data, array->len);
	return copy;
}

KlVerifierAgent *
kl_verifier_agent_new(const gchar *agent_id)
{
	KlVerifierAgent *agent;

	g_return_val_if_fail(agent_id != NULL, NULL);

	agent = g_new0(KlVerifierAgent, 1);
	agent->agent_id = g_strdup(agent_id);
	agent->port = KL_VERIFIER_NULL;
	agent->verifier_port = KL_VERIFIER_NULL;
	agent->operational_state = KL_VERIFIER_NULL;
	agent->ima_policy_id = KL_VERIFIER_NULL;
	agent->mb_policy_id = KL_VERIFIER_NULL;
	agent->boottime = KL_VERIFIER_NULL;
	agent->next_ima_ml_entry = KL_VERIFIER_NULL;
	agent->severity_level = KL_VERIFIER_NULL;
	agent->attestation_count = KL_VERIFIER_NULL;
	agent->last_received_quote = KL_VERIFIER_NULL;
	agent->last_successful_attestation = KL_VERIFIER_NULL;
	agent->accept_attestations = TRUE;
	agent->consecutive_attestation_failures = KL_VERIFIER_NULL;
	return agent;
}

KlVerifierAgent *
kl_verifier_agent_copy(const KlVerifierAgent *agent)
{
	KlVerifierAgent *copy;

	g_return_val_if_fail(agent != NULL, NULL);

	/* The scalars first, then every pointer replaced by its own copy. */
	copy = g_new(KlVerifierAgent, 1);
	*copy = *agent;
	copy->agent_id = g_strdup(agent->agent_id);
	copy->v = g_strdup(agent->v);
	copy->ip = g_strdup(agent->ip);
	copy->verifier_id = g_strdup(agent->verifier_id);
	copy->verifier_ip = g_strdup(agent->verifier_ip);
	copy->public_key = g_strdup(agent->public_key);
	copy->tpm_policy = g_strdup(agent->tpm_policy);
	copy->meta_data = g_strdup(agent->meta_data);
	copy->ima_sign_verification_keys = g_strdup(agent->ima_sign_verification_keys);
	copy->revocation_key = g_strdup(agent->revocation_key);
	copy->accept_tpm_hash_algs = g_strdupv(agent->accept_tpm_hash_algs);
	copy->accept_tpm_encryption_algs = g_strdupv(agent->accept_tpm_encryption_algs);
	copy->accept_tpm_signing_algs = g_strdupv(agent->accept_tpm_signing_algs);
	copy->hash_alg = g_strdup(agent->hash_alg);
	copy->enc_alg = g_strdup(agent->enc_alg);
	copy->sign_alg = g_strdup(agent->sign_alg);
	copy->ima_pcrs = kl_verifier_int_array_copy(agent->ima_pcrs);
	copy->pcr10 = agent->pcr10 != NULL ? g_bytes_ref(agent->pcr10) : NULL;
	copy->learned_ima_keyrings = g_strdup(agent->learned_ima_keyrings);
	copy->last_event_id = g_strdup(agent->last_event_id);
	copy->supported_version = g_strdup(agent->supported_version);
	copy->ak_tpm = g_strdup(agent->ak_tpm);
	copy->mtls_cert = g_strdup(agent->mtls_cert);
	return copy;
}

void
kl_verifier_agent_free(KlVerifierAgent *agent)
{
	if (agent == NULL)
		return;
	g_free(agent->agent_id);
	kl_verifier_secret_free(agent->v);
	g_free(agent->ip);
	g_free(agent->verifier_id);
	g_free(agent->verifier_ip);
	g_free(agent->public_key);
	g_free(agent->tpm_policy);
	g_free(agent->meta_data);
	g_free(agent->ima_sign_verification_keys);
	kl_verifier_secret_free(agent->revocation_key);
	g_strfreev(agent->accept_tpm_hash_algs);
	g_strfreev(agent->accept_tpm_encryption_algs);
	g_strfreev(agent->accept_tpm_signing_algs);
	g_free(agent->hash_alg);
	g_free(agent->enc_alg);
	g_free(agent->sign_alg);
	g_clear_pointer(&agent->ima_pcrs, g_array_unref);
	g_clear_pointer(&agent->pcr10, g_bytes_unref);
	g_free(agent->learned_ima_keyrings);
	g_free(agent->last_event_id);
	g_free(agent->supported_version);
	g_free(agent->ak_tpm);
	g_free(agent->mtls_cert);
	g_free(agent);
}

KlVerifierPolicy *
kl_verifier_policy_new(KlVerifierPolicyKind kind, const gchar *name)
{
	KlVerifierPolicy *policy;

	g_return_val_if_fail(name != NULL, NULL);

	policy = g_new0(KlVerifierPolicy, 1);
	policy->kind = kind;
	policy->id = KL_VERIFIER_NULL;
	policy->name = g_strdup(name);
	policy->generator = KL_VERIFIER_NULL;
	return policy;
}

KlVerifierPolicy *
kl_verifier_policy_copy(const KlVerifierPolicy *policy)
{
	KlVerifierPolicy *copy;

	g_return_val_if_fail(policy != NULL, NULL);

	copy = g_new(KlVerifierPolicy, 1);
	*copy = *policy;
	copy->name = g_strdup(policy->name);
	copy->policy = g_strdup(policy->policy);
	copy->checksum = g_strdup(policy->checksum);
	copy->tpm_policy = g_strdup(policy->tpm_policy);
	return copy;
}

void
kl_verifier_policy_free(KlVerifierPolicy *policy)
{
	if (policy == NULL)
		return;
	g_free(policy->name);
	g_free(policy->policy);
	g_free(policy->checksum);
	g_free(policy->tpm_policy);
	g_free(policy);
}

KlVerifierEvent *
kl_verifier_event_new(KlVerifierEventKind kind,
		      const gchar *agent_id,
		      gint64 time,
		      const gchar *event_id,
		      guint severity,
		      const gchar *context,
		      const gchar *subject)
{
	KlVerifierEvent *event;

	g_return_val_if_fail(agent_id != NULL, NULL);
	g_return_val_if_fail(event_id != NULL, NULL);

	event = g_new0(KlVerifierEvent, 1);
	event->kind = kind;
	event->id = KL_VERIFIER_NULL;
	event->agent_id = g_strdup(agent_id);
	event->time = time;
	event->event_id = g_strdup(event_id);
	event->severity = severity;
	event->context = g_strdup(context);
	event->subject = g_strdup(subject);
	return event;
}

KlVerifierEvent *
kl_verifier_event_copy(const KlVerifierEvent *event)
{
	KlVerifierEvent *copy;

	g_return_val_if_fail(event != NULL, NULL);

	copy = kl_verifier_event_new(event->kind,
				     event->agent_id,
				     event->time,
				     event->event_id,
				     event->severity,
				     event->context,
				     event->subject);
	copy->id = event->id;
	return copy;
}

void
kl_verifier_event_free(KlVerifierEvent *event)
{
	if (event == NULL)
		return;
	g_free(event->agent_id);
	g_free(event->event_id);
	g_free(event->context);
	g_free(event->subject);
	g_free(event);
}
