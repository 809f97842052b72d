/*
 * The registrar's agent record: copying, comparing identities and the
 * JSON the admin API answers with.
 */
#include "config.h"

#include "kl-registrar-agent.h"

KlRegistrarAgent *
kl_registrar_agent_new(const gchar *agent_id)
{
	KlRegistrarAgent *agent = g_new0(KlRegistrarAgent, 1);

	g_return_val_if_fail(agent_id != NULL, NULL);

	agent->agent_id = g_strdup(agent_id);
	return agent;
}

KlRegistrarAgent *
kl_registrar_agent_copy(const KlRegistrarAgent *agent)
{
	KlRegistrarAgent *copy;

	g_return_val_if_fail(agent != NULL, NULL);

	copy = kl_registrar_agent_new(agent->agent_id);
	copy->key = g_strdup(agent->key);
	copy->aik_tpm = g_strdup(agent->aik_tpm);
	copy->ek_tpm = g_strdup(agent->ek_tpm);
	copy->ekcert = g_strdup(agent->ekcert);
	copy->mtls_cert = g_strdup(agent->mtls_cert);
	copy->ip = g_strdup(agent->ip);
	copy->port = agent->port;
	copy->active = agent->active;
	copy->regcount = agent->regcount;
	return copy;
}

void
kl_registrar_agent_free(KlRegistrarAgent *agent)
{
	if (agent == NULL)
		return;
	g_free(agent->agent_id);
	g_free(agent->key);
	g_free(agent->aik_tpm);
	g_free(agent->ek_tpm);
	g_free(agent->ekcert);
	g_free(agent->mtls_cert);
	g_free(agent->ip);
	g_free(agent);
}

gboolean
kl_registrar_agent_same_identity(const KlRegistrarAgent *a, const KlRegistrarAgent *b)
{
	g_return_val_if_fail(a != NULL && b != NULL, FALSE);

	/* the fields are canonical base64 of the decoded bytes, so equal
	 * text is equal content */
	return g_strcmp0(a->ek_tpm, b->ek_tpm) == 0 && g_strcmp0(a->ekcert, b->ekcert) == 0 &&
	       g_strcmp0(a->aik_tpm, b->aik_tpm) == 0;
}

static void
kl_registrar_agent_add_string(JsonBuilder *builder, const gchar *name, const gchar *value)
{
	json_builder_set_member_name(builder, name);
	if (value != NULL)
		json_builder_add_string_value(builder, value);
	else
		json_builder_add_null_value(builder);
}

JsonNode *
kl_registrar_agent_to_json(const KlRegistrarAgent *agent)
{
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();

	g_return_val_if_fail(agent != NULL, NULL);

	json_builder_begin_object(builder);
	kl_registrar_agent_add_string(builder, "agent_id", agent->agent_id);
	kl_registrar_agent_add_string(builder, "ek_tpm", agent->ek_tpm);
	kl_registrar_agent_add_string(builder, "ekcert", agent->ekcert);
	kl_registrar_agent_add_string(builder, "aik_tpm", agent->aik_tpm);
	kl_registrar_agent_add_string(builder, "mtls_cert", agent->mtls_cert);
	kl_registrar_agent_add_string(builder, "ip", agent->ip);
	json_builder_set_member_name(builder, "port");
	if (agent->port > 0)
		json_builder_add_int_value(builder, agent->port);
	else
		json_builder_add_null_value(builder);
	json_builder_set_member_name(builder, "regcount");
	json_builder_add_int_value(builder, agent->regcount);
	json_builder_end_object(builder);
	return json_builder_get_root(builder);
}
