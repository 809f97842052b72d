/*
 * The registrar's operations.  Each write is one sqlite transaction, so a
 * crash leaves the old record or the new one, never half of either.
 *
 * Signals (all with the agent id):
 *   agent-registered  a registration was stored (pending activation)
 *   agent-activated   the agent proved it holds the EK and the AK
 *   agent-deleted     a record was removed (by an admin or a failed
 *                     activation)
 */
#include "config.h"

#include "kl-agent-id.h"
#include "kl-base64.h"
#include "kl-error.h"
#include "kl-makecredential.h"
#include "kl-registrar.h"

struct _KlRegistrar {
	GObject parent_instance;
	KlRegistrarStore *store;
	KlRegistrarTpmIdentity identity;
};

enum {
	SIGNAL_AGENT_REGISTERED,
	SIGNAL_AGENT_ACTIVATED,
	SIGNAL_AGENT_DELETED,
	SIGNAL_LAST,
};

static guint signals[SIGNAL_LAST];

G_DEFINE_TYPE(KlRegistrar, kl_registrar, G_TYPE_OBJECT)

static void
kl_registrar_finalize(GObject *object)
{
	KlRegistrar *self = KL_REGISTRAR(object);

	kl_registrar_store_free(self->store);
	G_OBJECT_CLASS(kl_registrar_parent_class)->finalize(object);
}

static void
kl_registrar_class_init(KlRegistrarClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->finalize = kl_registrar_finalize;

	signals[SIGNAL_AGENT_REGISTERED] = g_signal_new("agent-registered",
							G_TYPE_FROM_CLASS(klass),
							G_SIGNAL_RUN_LAST,
							0,
							NULL,
							NULL,
							NULL,
							G_TYPE_NONE,
							1,
							G_TYPE_STRING);
	signals[SIGNAL_AGENT_ACTIVATED] = g_signal_new("agent-activated",
						       G_TYPE_FROM_CLASS(klass),
						       G_SIGNAL_RUN_LAST,
						       0,
						       NULL,
						       NULL,
						       NULL,
						       G_TYPE_NONE,
						       1,
						       G_TYPE_STRING);
	signals[SIGNAL_AGENT_DELETED] = g_signal_new("agent-deleted",
						     G_TYPE_FROM_CLASS(klass),
						     G_SIGNAL_RUN_LAST,
						     0,
						     NULL,
						     NULL,
						     NULL,
						     G_TYPE_NONE,
						     1,
						     G_TYPE_STRING);
}

static void
kl_registrar_init(KlRegistrar *self)
{
}

KlRegistrar *
kl_registrar_new(KlRegistrarStore *store, KlRegistrarTpmIdentity identity)
{
	KlRegistrar *self;

	g_return_val_if_fail(store != NULL, NULL);

	self = g_object_new(KL_TYPE_REGISTRAR, NULL);
	self->store = store;
	self->identity = identity;
	return self;
}

/* Store errors are this host's failures, whatever sqlite said. */
static void
kl_registrar_store_failed(GError **error, GError *store_error)
{
	g_warning("registrar database: %s", store_error->message);
	g_set_error(error, KL_ERROR, KL_ERROR_INTERNAL, "database: %s", store_error->message);
	g_error_free(store_error);
}

/* A fresh challenge for @agent: its base64 text is the auth_tag key. */
static GBytes *
kl_registrar_make_credential(KlRegistrarRequest *request, GError **error)
{
	g_autofree gchar *challenge = NULL;
	g_autoptr(GError) error_local = NULL;
	GBytes *blob;

	challenge = kl_makecredential_challenge_new(error);
	if (challenge == NULL)
		return NULL;
	blob = kl_makecredential(request->ek,
				 kl_tpm_public_get_name(request->ak),
				 (const guint8 *)challenge,
				 KL_MAKECREDENTIAL_CHALLENGE_LEN,
				 &error_local);
	if (blob == NULL) {
		/* the EK is the client's: one we cannot encrypt to is its error */
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "ek_tpm: %s",
			    error_local->message);
		return NULL;
	}
	g_free(request->agent->key);
	request->agent->key =
		g_base64_encode((const guchar *)challenge, KL_MAKECREDENTIAL_CHALLENGE_LEN);
	return blob;
}

GBytes *
kl_registrar_register(KlRegistrar *self, const gchar *agent_id, JsonObject *body, GError **error)
{
	g_autoptr(KlRegistrarRequest) request = NULL;
	g_autoptr(KlRegistrarAgent) existing = NULL;
	g_autoptr(KlStoreTransaction) tx = NULL;
	g_autoptr(GBytes) blob = NULL;
	GError *store_error = NULL;

	g_return_val_if_fail(KL_IS_REGISTRAR(self), NULL);
	g_return_val_if_fail(agent_id != NULL, NULL);
	g_return_val_if_fail(body != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	request = kl_registrar_request_parse(agent_id, body, self->identity, error);
	if (request == NULL)
		return NULL;
	blob = kl_registrar_make_credential(request, error);
	if (blob == NULL)
		return NULL;

	tx = kl_store_transaction_begin(kl_registrar_store_get_store(self->store), &store_error);
	if (tx == NULL) {
		kl_registrar_store_failed(error, store_error);
		return NULL;
	}
	existing = kl_registrar_store_get_agent(self->store, agent_id, &store_error);
	if (store_error != NULL) {
		kl_registrar_store_failed(error, store_error);
		return NULL;
	}
	/* the same id with another TPM would take over the agent's record:
	 * the verifier would then trust the new AK (CVE-2025-13609 class) */
	if (existing != NULL && !kl_registrar_agent_same_identity(existing, request->agent)) {
		g_message("refused re-registration of %s with a different EK, EK certificate or AK",
			  agent_id);
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_PERMISSION_DENIED,
			    "agent %s is registered with a different TPM identity; delete it "
			    "first",
			    agent_id);
		return NULL;
	}
	request->agent->regcount = existing != NULL ? existing->regcount + 1 : 1;
	request->agent->active = FALSE;
	if (!kl_registrar_store_put_agent(self->store, request->agent, &store_error) ||
	    !kl_store_transaction_commit(tx, &store_error)) {
		kl_registrar_store_failed(error, store_error);
		return NULL;
	}

	g_debug("registered %s (registration %" G_GINT64_FORMAT ")",
		agent_id,
		request->agent->regcount);
	g_signal_emit(self, signals[SIGNAL_AGENT_REGISTERED], 0, agent_id);
	return g_steal_pointer(&blob);
}

/* The challenge back from its base64 text, for the auth_tag check. */
static gchar *
kl_registrar_agent_get_challenge(KlRegistrarAgent *agent)
{
	g_autoptr(GBytes) bytes = NULL;

	if (agent->key == NULL)
		return NULL;
	bytes = kl_base64_decode(agent->key, -1, KL_BASE64_FLAG_NONE, NULL);
	if (bytes == NULL)
		return NULL;
	return g_strndup(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes));
}

gboolean
kl_registrar_activate(KlRegistrar *self,
		      const gchar *agent_id,
		      const gchar *auth_tag,
		      GError **error)
{
	g_autoptr(KlRegistrarAgent) agent = NULL;
	g_autoptr(KlStoreTransaction) tx = NULL;
	g_autofree gchar *challenge = NULL;
	GError *store_error = NULL;
	gboolean deleted = FALSE;

	g_return_val_if_fail(KL_IS_REGISTRAR(self), FALSE);
	g_return_val_if_fail(agent_id != NULL, FALSE);
	g_return_val_if_fail(auth_tag != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	if (!kl_agent_id_validate(agent_id, error))
		return FALSE;
	tx = kl_store_transaction_begin(kl_registrar_store_get_store(self->store), &store_error);
	if (tx == NULL) {
		kl_registrar_store_failed(error, store_error);
		return FALSE;
	}
	agent = kl_registrar_store_get_agent(self->store, agent_id, &store_error);
	if (store_error != NULL) {
		kl_registrar_store_failed(error, store_error);
		return FALSE;
	}
	if (agent == NULL) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_NOT_FOUND,
			    "agent %s is not registered",
			    agent_id);
		return FALSE;
	}

	challenge = kl_registrar_agent_get_challenge(agent);
	if (challenge != NULL && kl_makecredential_auth_tag_verify(challenge, agent_id, auth_tag)) {
		if (!kl_registrar_store_set_active(self->store, agent_id, TRUE, &store_error) ||
		    !kl_store_transaction_commit(tx, &store_error)) {
			kl_registrar_store_failed(error, store_error);
			return FALSE;
		}
		g_debug("activated %s", agent_id);
		g_signal_emit(self, signals[SIGNAL_AGENT_ACTIVATED], 0, agent_id);
		return TRUE;
	}

	/* Upstream deletes the pending registration so the agent starts
	 * over; an active record is left alone, or anyone could delete any
	 * agent with one unauthenticated request. */
	if (!agent->active) {
		if (!kl_registrar_store_delete_agent(self->store,
						     agent_id,
						     &deleted,
						     &store_error) ||
		    !kl_store_transaction_commit(tx, &store_error)) {
			kl_registrar_store_failed(error, store_error);
			return FALSE;
		}
	}
	g_message("activation of %s failed: auth_tag mismatch%s",
		  agent_id,
		  deleted ? "; registration deleted" : "");
	if (deleted)
		g_signal_emit(self, signals[SIGNAL_AGENT_DELETED], 0, agent_id);
	g_set_error(error,
		    KL_ERROR,
		    KL_ERROR_INVALID_ARGUMENT,
		    "auth_tag: does not match the challenge for agent %s",
		    agent_id);
	return FALSE;
}

KlRegistrarAgent *
kl_registrar_get_agent(KlRegistrar *self,
		       const gchar *agent_id,
		       gboolean active_only,
		       GError **error)
{
	g_autoptr(KlRegistrarAgent) agent = NULL;
	GError *store_error = NULL;

	g_return_val_if_fail(KL_IS_REGISTRAR(self), NULL);
	g_return_val_if_fail(agent_id != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (!kl_agent_id_validate(agent_id, error))
		return NULL;
	agent = kl_registrar_store_get_agent(self->store, agent_id, &store_error);
	if (store_error != NULL) {
		kl_registrar_store_failed(error, store_error);
		return NULL;
	}
	if (agent == NULL || (active_only && !agent->active)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_NOT_FOUND,
			    agent == NULL ? "agent %s is not registered"
					  : "agent %s is registered but not activated",
			    agent_id);
		return NULL;
	}
	return g_steal_pointer(&agent);
}

GPtrArray *
kl_registrar_list_agents(KlRegistrar *self, GError **error)
{
	GError *store_error = NULL;
	GPtrArray *ids;

	g_return_val_if_fail(KL_IS_REGISTRAR(self), NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	ids = kl_registrar_store_list_agents(self->store, FALSE, &store_error);
	if (ids == NULL)
		kl_registrar_store_failed(error, store_error);
	return ids;
}

gboolean
kl_registrar_delete_agent(KlRegistrar *self, const gchar *agent_id, GError **error)
{
	g_autoptr(KlStoreTransaction) tx = NULL;
	GError *store_error = NULL;
	gboolean deleted = FALSE;

	g_return_val_if_fail(KL_IS_REGISTRAR(self), FALSE);
	g_return_val_if_fail(agent_id != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	if (!kl_agent_id_validate(agent_id, error))
		return FALSE;
	tx = kl_store_transaction_begin(kl_registrar_store_get_store(self->store), &store_error);
	if (tx == NULL ||
	    !kl_registrar_store_delete_agent(self->store, agent_id, &deleted, &store_error) ||
	    !kl_store_transaction_commit(tx, &store_error)) {
		kl_registrar_store_failed(error, store_error);
		return FALSE;
	}
	if (!deleted) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_NOT_FOUND,
			    "agent %s is not registered",
			    agent_id);
		return FALSE;
	}
	g_signal_emit(self, signals[SIGNAL_AGENT_DELETED], 0, agent_id);
	return TRUE;
}
