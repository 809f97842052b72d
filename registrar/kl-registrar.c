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

/* The CPU half of a registration, safe in any thread: the body checked
 * and MakeCredential computed.  Needs nothing of the registrar but its
 * tpm_identity. */
static KlRegistrarRequest *
kl_registrar_prepare(const gchar *agent_id,
		     JsonObject *body,
		     KlRegistrarTpmIdentity identity,
		     GBytes **blob,
		     GError **error)
{
	g_autoptr(KlRegistrarRequest) request = NULL;

	request = kl_registrar_request_parse(agent_id, body, identity, error);
	if (request == NULL)
		return NULL;
	*blob = kl_registrar_make_credential(request, error);
	if (*blob == NULL)
		return NULL;
	return g_steal_pointer(&request);
}

/* The store half, on the registrar's thread: the takeover check and the
 * write in one transaction. */
static gboolean
kl_registrar_commit(KlRegistrar *self, KlRegistrarRequest *request, GError **error)
{
	const gchar *agent_id = request->agent->agent_id;
	g_autoptr(KlRegistrarAgent) existing = NULL;
	g_autoptr(KlStoreTransaction) tx = NULL;
	GError *store_error = NULL;

	tx = kl_store_transaction_begin(kl_registrar_store_get_store(self->store), &store_error);
	if (tx == NULL) {
		kl_registrar_store_failed(error, store_error);
		return FALSE;
	}
	existing = kl_registrar_store_get_agent(self->store, agent_id, &store_error);
	if (store_error != NULL) {
		kl_registrar_store_failed(error, store_error);
		return FALSE;
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
		return FALSE;
	}
	request->agent->regcount = existing != NULL ? existing->regcount + 1 : 1;
	request->agent->active = FALSE;
	if (!kl_registrar_store_put_agent(self->store, request->agent, &store_error) ||
	    !kl_store_transaction_commit(tx, &store_error)) {
		kl_registrar_store_failed(error, store_error);
		return FALSE;
	}

	g_debug("registered %s (registration %" G_GINT64_FORMAT ")",
		agent_id,
		request->agent->regcount);
	g_signal_emit(self, signals[SIGNAL_AGENT_REGISTERED], 0, agent_id);
	return TRUE;
}

GBytes *
kl_registrar_register(KlRegistrar *self, const gchar *agent_id, JsonObject *body, GError **error)
{
	g_autoptr(KlRegistrarRequest) request = NULL;
	g_autoptr(GBytes) blob = NULL;

	g_return_val_if_fail(KL_IS_REGISTRAR(self), NULL);
	g_return_val_if_fail(agent_id != NULL, NULL);
	g_return_val_if_fail(body != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	request = kl_registrar_prepare(agent_id, body, self->identity, &blob, error);
	if (request == NULL || !kl_registrar_commit(self, request, error))
		return NULL;
	return g_steal_pointer(&blob);
}

typedef struct {
	gchar *agent_id;
	JsonObject *body;
	KlRegistrarTpmIdentity identity;
	KlRegistrarRequest *request; /* from the worker */
	GBytes *blob;
} KlRegistrarRegistration;

static void
kl_registrar_registration_free(gpointer data)
{
	KlRegistrarRegistration *reg = data;

	g_free(reg->agent_id);
	json_object_unref(reg->body);
	kl_registrar_request_free(reg->request);
	if (reg->blob != NULL)
		g_bytes_unref(reg->blob);
	g_free(reg);
}

static void
kl_registrar_register_thread(GTask *task,
			     gpointer source_object,
			     gpointer task_data,
			     GCancellable *cancellable)
{
	KlRegistrarRegistration *reg = task_data;
	GError *error = NULL;

	reg->request =
		kl_registrar_prepare(reg->agent_id, reg->body, reg->identity, &reg->blob, &error);
	if (reg->request == NULL) {
		g_task_return_error(task, error);
		return;
	}
	g_task_return_boolean(task, TRUE);
}

/*
 * The same as kl_registrar_register(), with the checks and MakeCredential
 * in a worker thread so that the main loop only does I/O and the store.
 * The registrar must not be used from other threads meanwhile (it is not).
 */
void
kl_registrar_register_async(KlRegistrar *self,
			    const gchar *agent_id,
			    JsonObject *body,
			    GCancellable *cancellable,
			    GAsyncReadyCallback callback,
			    gpointer user_data)
{
	g_autoptr(GTask) task = NULL;
	KlRegistrarRegistration *reg;

	g_return_if_fail(KL_IS_REGISTRAR(self));
	g_return_if_fail(agent_id != NULL);
	g_return_if_fail(body != NULL);

	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, kl_registrar_register_async);
	reg = g_new0(KlRegistrarRegistration, 1);
	reg->agent_id = g_strdup(agent_id);
	/* the worker's own copy: json-glib objects are not for sharing */
	reg->body = json_object_ref(body);
	reg->identity = self->identity;
	g_task_set_task_data(task, reg, kl_registrar_registration_free);
	g_task_run_in_thread(task, kl_registrar_register_thread);
}

GBytes *
kl_registrar_register_finish(KlRegistrar *self, GAsyncResult *result, GError **error)
{
	KlRegistrarRegistration *reg;

	g_return_val_if_fail(g_task_is_valid(result, self), NULL);

	if (!g_task_propagate_boolean(G_TASK(result), error))
		return NULL;
	reg = g_task_get_task_data(G_TASK(result));
	if (!kl_registrar_commit(self, reg->request, error))
		return NULL;
	return g_bytes_ref(reg->blob);
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

/* Registered agents, activated or not, without listing them. */
gboolean
kl_registrar_count_agents(KlRegistrar *self, guint *count, GError **error)
{
	GError *store_error = NULL;

	g_return_val_if_fail(KL_IS_REGISTRAR(self), FALSE);
	g_return_val_if_fail(count != NULL, FALSE);

	if (!kl_registrar_store_count_agents(self->store, count, &store_error)) {
		kl_registrar_store_failed(error, store_error);
		return FALSE;
	}
	return TRUE;
}
