/*
 * The verifier's D-Bus front-end.  Properties and lists answer at once;
 * every change (and the reading of histories and policy texts) is
 * authorized first and made when kl-dbus-auth answers.  Agent properties
 * follow the engine's agent-changed and state-changed, coalesced so that
 * a fleet's rounds make at most one PropertiesChanged per agent per
 * KL_VERIFIER_DBUS_COALESCE_MS; StateChanged and the Manager's event
 * signals go out at once.  Errors travel as org.keylime.Error.* (kl-error).
 */
#include "config.h"

#include <string.h>

#include <gio/gunixfdlist.h>
#include <gio/gunixinputstream.h>

#include "kl-api-version.h"
#include "kl-error.h"
#include "kl-finding.h"
#include "kl-verifier-dbus-options.h"
#include "kl-verifier-dbus.h"

/* GetEvents, GetFailures, GetRevocations answer at most this many */
#define KL_VERIFIER_DBUS_MAX_HISTORY 10000
/* a policy is read from its descriptor in chunks of this size */
#define KL_VERIFIER_DBUS_READ_CHUNK 65536

struct _KlVerifierDbus {
	KlVerifier *verifier;
	KlDBusAuthMode auth_mode;
	guint64 max_upload_size;
	GCancellable *cancellable;
	KlDBusVerifier1Manager *manager;
	GDBusObjectManagerServer *object_manager;
	GHashTable *agents; /* agent_id → KlDBusObjectSkeleton */
	GHashTable *dirty;  /* agent_ids whose properties are to be published */
	guint flush_id;
	/* KlVerifierPolicyKind → (gint64 id → name); an id names one policy
	 * for its lifetime, so misses refill the map */
	GHashTable *policy_names[2];
};

/* ---- agent objects ---- */

gchar *
kl_verifier_dbus_agent_path(const gchar *agent_id)
{
	g_autofree gchar *escaped = g_dbus_escape_object_path(agent_id);

	return g_strconcat(KL_VERIFIER_DBUS_AGENTS_PATH "/", escaped, NULL);
}

static void
kl_verifier_dbus_remember_policy(KlVerifierDbus *self, const KlVerifierPolicy *policy)
{
	g_hash_table_insert(self->policy_names[policy->kind],
			    g_memdup2(&policy->id, sizeof(policy->id)),
			    g_strdup(policy->name));
}

static void
kl_verifier_dbus_fill_policy_names(KlVerifierDbus *self, KlVerifierPolicyKind kind)
{
	g_autoptr(GPtrArray) names = NULL;
	g_autoptr(GError) error = NULL;

	names = kl_verifier_list_policies(self->verifier, kind, &error);
	if (names == NULL) {
		g_warning("listing policies: %s", error->message);
		return;
	}
	g_hash_table_remove_all(self->policy_names[kind]);
	for (guint i = 0; i < names->len; i++) {
		g_autoptr(KlVerifierPolicy) policy = NULL;
		g_autoptr(GError) get_error = NULL;

		policy = kl_verifier_get_policy(self->verifier,
						kind,
						g_ptr_array_index(names, i),
						&get_error);
		if (policy == NULL)
			continue; /* deleted meanwhile */
		kl_verifier_dbus_remember_policy(self, policy);
	}
}

/* The name of policy @id of @agent_id.  An enrolment's own policy is
 * stored under the agent's id (upstream's rule): tried first, so that a
 * fleet of agents with their own policies costs one lookup each rather
 * than a listing each. */
static const gchar *
kl_verifier_dbus_policy_name(KlVerifierDbus *self,
			     KlVerifierPolicyKind kind,
			     gint64 id,
			     const gchar *agent_id)
{
	g_autoptr(KlVerifierPolicy) own = NULL;
	const gchar *name;

	if (id < 0)
		return "";
	name = g_hash_table_lookup(self->policy_names[kind], &id);
	if (name != NULL)
		return name;
	own = kl_verifier_get_policy(self->verifier, kind, agent_id, NULL);
	if (own != NULL && own->id == id) {
		kl_verifier_dbus_remember_policy(self, own);
	} else {
		kl_verifier_dbus_fill_policy_names(self, kind);
	}
	name = g_hash_table_lookup(self->policy_names[kind], &id);
	return name != NULL ? name : "";
}

static guint64
kl_verifier_dbus_unsigned(gint64 value)
{
	return value < 0 ? 0 : (guint64)value;
}

static const gchar *
kl_verifier_dbus_string(const gchar *value)
{
	return value != NULL ? value : "";
}

/* Sets every Agent property from the engine's copy; the skeleton sends
 * the ones that changed in one PropertiesChanged. */
static void
kl_verifier_dbus_sync_agent(KlVerifierDbus *self, const gchar *agent_id)
{
	KlDBusObjectSkeleton *object = g_hash_table_lookup(self->agents, agent_id);
	g_autoptr(KlDBusVerifier1Agent) iface = NULL;
	g_autoptr(KlVerifierAgent) agent = NULL;
	g_autoptr(GError) error = NULL;

	if (object == NULL)
		return;
	agent = kl_verifier_get_agent(self->verifier, agent_id, &error);
	if (agent == NULL) {
		if (!g_error_matches(error, KL_ERROR, KL_ERROR_NOT_FOUND))
			g_warning("agent %s: %s", agent_id, error->message);
		return;
	}
	iface = kl_dbus_object_get_verifier1_agent(KL_DBUS_OBJECT(object));
	kl_dbus_verifier1_agent_set_agent_id(iface, agent->agent_id);
	kl_dbus_verifier1_agent_set_state(
		iface,
		(guint)MIN(kl_verifier_dbus_unsigned(agent->operational_state), G_MAXUINT));
	kl_dbus_verifier1_agent_set_state_reason(
		iface,
		(guint)kl_verifier_get_agent_reason(self->verifier, agent_id));
	kl_dbus_verifier1_agent_set_ip(iface, kl_verifier_dbus_string(agent->ip));
	kl_dbus_verifier1_agent_set_port(
		iface,
		(guint16)MIN(kl_verifier_dbus_unsigned(agent->port), G_MAXUINT16));
	kl_dbus_verifier1_agent_set_last_attestation(
		iface,
		kl_verifier_dbus_unsigned(agent->last_received_quote));
	kl_dbus_verifier1_agent_set_last_success(
		iface,
		kl_verifier_dbus_unsigned(agent->last_successful_attestation));
	kl_dbus_verifier1_agent_set_attestation_count(
		iface,
		kl_verifier_dbus_unsigned(agent->attestation_count));
	kl_dbus_verifier1_agent_set_consecutive_failures(
		iface,
		(guint)MIN(kl_verifier_dbus_unsigned(agent->consecutive_attestation_failures),
			   G_MAXUINT));
	kl_dbus_verifier1_agent_set_severity_level(iface,
						   agent->severity_level < 0 ||
								   agent->severity_level > G_MAXINT
							   ? -1
							   : (gint)agent->severity_level);
	kl_dbus_verifier1_agent_set_last_event_id(iface,
						  kl_verifier_dbus_string(agent->last_event_id));
	kl_dbus_verifier1_agent_set_runtime_policy(
		iface,
		kl_verifier_dbus_policy_name(self,
					     KL_VERIFIER_POLICY_RUNTIME,
					     agent->ima_policy_id,
					     agent_id));
	kl_dbus_verifier1_agent_set_mb_policy(iface,
					      kl_verifier_dbus_policy_name(self,
									   KL_VERIFIER_POLICY_MB,
									   agent->mb_policy_id,
									   agent_id));
	kl_dbus_verifier1_agent_set_hash_alg(iface, kl_verifier_dbus_string(agent->hash_alg));
	kl_dbus_verifier1_agent_set_sign_alg(iface, kl_verifier_dbus_string(agent->sign_alg));
	kl_dbus_verifier1_agent_set_enc_alg(iface, kl_verifier_dbus_string(agent->enc_alg));
}

static void
kl_verifier_dbus_update_counts(KlVerifierDbus *self)
{
	kl_dbus_verifier1_manager_set_num_agents(self->manager,
						 kl_verifier_get_n_agents(self->verifier));
	kl_dbus_verifier1_manager_set_num_failed(self->manager,
						 kl_verifier_get_n_failed(self->verifier));
}

static gboolean
kl_verifier_dbus_flush_cb(gpointer user_data)
{
	KlVerifierDbus *self = user_data;
	g_autoptr(GHashTable) dirty = g_steal_pointer(&self->dirty);
	GHashTableIter iter;
	gpointer agent_id;

	self->dirty = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->flush_id = 0;
	g_hash_table_iter_init(&iter, dirty);
	while (g_hash_table_iter_next(&iter, &agent_id, NULL))
		kl_verifier_dbus_sync_agent(self, agent_id);
	kl_verifier_dbus_update_counts(self);
	return G_SOURCE_REMOVE;
}

static void
kl_verifier_dbus_mark_dirty(KlVerifierDbus *self, const gchar *agent_id)
{
	g_hash_table_add(self->dirty, g_strdup(agent_id));
	if (self->flush_id == 0)
		self->flush_id = g_timeout_add(KL_VERIFIER_DBUS_COALESCE_MS,
					       kl_verifier_dbus_flush_cb,
					       self);
}

/* ---- calls checked by kl-dbus-auth ---- */

typedef struct _KlVerifierDbusCall KlVerifierDbusCall;
/* Makes the change once the caller is authorized; takes the call and
 * answers it. */
typedef void (*KlVerifierDbusRun)(KlVerifierDbus *self, KlVerifierDbusCall *call);

struct _KlVerifierDbusCall {
	KlVerifierDbus *self; /* valid while cancellable is not cancelled */
	GCancellable *cancellable;
	GDBusMethodInvocation *invocation;
	KlVerifierDbusRun run;
	gchar *agent_id; /* or a policy's name */
	KlVerifierPolicyKind kind;
	guint max;
	guint64 since;
	JsonObject *body;
	gint32 handle; /* a policy's descriptor among the call's */
};

static void
kl_verifier_dbus_call_free(KlVerifierDbusCall *call)
{
	g_clear_object(&call->cancellable);
	/* answering the call consumes the reference */
	g_clear_object(&call->invocation);
	g_free(call->agent_id);
	g_clear_pointer(&call->body, json_object_unref);
	g_free(call);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlVerifierDbusCall, kl_verifier_dbus_call_free)

static void
kl_verifier_dbus_call_return_error(KlVerifierDbusCall *call, const GError *error)
{
	g_dbus_method_invocation_return_gerror(g_steal_pointer(&call->invocation), error);
}

static void
kl_verifier_dbus_call_return(KlVerifierDbusCall *call, GVariant *value)
{
	g_dbus_method_invocation_return_value(g_steal_pointer(&call->invocation), value);
}

static KlVerifierDbusCall *
kl_verifier_dbus_call_new(KlVerifierDbus *self,
			  GDBusMethodInvocation *invocation,
			  KlVerifierDbusRun run,
			  const gchar *agent_id)
{
	KlVerifierDbusCall *call = g_new0(KlVerifierDbusCall, 1);

	call->self = self;
	call->cancellable = g_object_ref(self->cancellable);
	call->invocation = invocation; /* the handler's reference: answering consumes it */
	call->run = run;
	call->agent_id = g_strdup(agent_id);
	return call;
}

static void
kl_verifier_dbus_authorized_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(KlVerifierDbusCall) call = user_data;
	g_autoptr(GError) error = NULL;
	KlVerifierDbusRun run = call->run;
	KlVerifierDbus *self = call->self;

	if (!kl_dbus_auth_check_finish(result, &error)) {
		kl_verifier_dbus_call_return_error(call, error);
		return;
	}
	if (g_cancellable_set_error_if_cancelled(call->cancellable, &error)) {
		kl_verifier_dbus_call_return_error(call, error);
		return;
	}
	/* the run answers the call, or takes it along to answer later */
	run(self, g_steal_pointer(&call));
}

/* Takes @call: runs it once the caller may @action_id. */
static gboolean
kl_verifier_dbus_call_authorize(KlVerifierDbusCall *call, const gchar *action_id)
{
	KlVerifierDbus *self = call->self;

	kl_dbus_auth_check_async(call->invocation,
				 self->auth_mode,
				 action_id,
				 self->cancellable,
				 kl_verifier_dbus_authorized_cb,
				 call);
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- Manager: agents ---- */

static void
kl_verifier_dbus_run_add_agent(KlVerifierDbus *self, KlVerifierDbusCall *call)
{
	g_autoptr(KlVerifierDbusCall) owned = call;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = NULL;

	if (!kl_verifier_add_agent(self->verifier, call->agent_id, call->body, &error)) {
		kl_verifier_dbus_call_return_error(call, error);
		return;
	}
	path = kl_verifier_dbus_agent_path(call->agent_id);
	kl_verifier_dbus_call_return(call, g_variant_new("(o)", path));
}

static gboolean
kl_verifier_dbus_handle_add_agent(KlDBusVerifier1Manager *manager,
				  GDBusMethodInvocation *invocation,
				  const gchar *agent_id,
				  GVariant *options,
				  gpointer user_data)
{
	KlVerifierDbus *self = user_data;
	g_autoptr(KlVerifierDbusCall) call = NULL;
	g_autoptr(GError) error = NULL;
	JsonObject *body = kl_verifier_dbus_options_to_body(options, &error);

	if (body == NULL) {
		g_dbus_method_invocation_return_gerror(invocation, error);
		return G_DBUS_METHOD_INVOCATION_HANDLED;
	}
	call = kl_verifier_dbus_call_new(self,
					 invocation,
					 kl_verifier_dbus_run_add_agent,
					 agent_id);
	call->body = body;
	return kl_verifier_dbus_call_authorize(g_steal_pointer(&call),
					       KL_VERIFIER_DBUS_ACTION_MANAGE_AGENTS);
}

static void
kl_verifier_dbus_run_remove_agent(KlVerifierDbus *self, KlVerifierDbusCall *call)
{
	g_autoptr(KlVerifierDbusCall) owned = call;
	g_autoptr(GError) error = NULL;
	gboolean pending = FALSE;

	if (!kl_verifier_delete_agent(self->verifier, call->agent_id, &pending, &error)) {
		kl_verifier_dbus_call_return_error(call, error);
		return;
	}
	/* a pending removal ends with agent-removed */
	kl_verifier_dbus_call_return(call, NULL);
}

static gboolean
kl_verifier_dbus_handle_remove_agent(KlDBusVerifier1Manager *manager,
				     GDBusMethodInvocation *invocation,
				     const gchar *agent_id,
				     gpointer user_data)
{
	return kl_verifier_dbus_call_authorize(
		kl_verifier_dbus_call_new(user_data,
					  invocation,
					  kl_verifier_dbus_run_remove_agent,
					  agent_id),
		KL_VERIFIER_DBUS_ACTION_MANAGE_AGENTS);
}

static gboolean
kl_verifier_dbus_handle_list_agents(KlDBusVerifier1Manager *manager,
				    GDBusMethodInvocation *invocation,
				    gpointer user_data)
{
	KlVerifierDbus *self = user_data;
	g_autoptr(GPtrArray) ids = kl_verifier_list_agent_ids(self->verifier);

	g_ptr_array_add(ids, NULL);
	kl_dbus_verifier1_manager_complete_list_agents(manager,
						       invocation,
						       (const gchar *const *)ids->pdata);
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static guint
kl_verifier_dbus_history_max(guint max)
{
	return max == 0 ? KL_VERIFIER_DBUS_MAX_HISTORY : MIN(max, KL_VERIFIER_DBUS_MAX_HISTORY);
}

static void
kl_verifier_dbus_run_get_events(KlVerifierDbus *self, KlVerifierDbusCall *call)
{
	g_autoptr(KlVerifierDbusCall) owned = call;
	g_autoptr(GPtrArray) events = NULL;
	g_autoptr(GError) error = NULL;
	GVariantBuilder builder;

	events = kl_verifier_list_events_since(self->verifier,
					       (gint64)MIN(call->since, (guint64)G_MAXINT64),
					       kl_verifier_dbus_history_max(call->max),
					       &error);
	if (events == NULL) {
		kl_verifier_dbus_call_return_error(call, error);
		return;
	}
	g_variant_builder_init(&builder, G_VARIANT_TYPE("a(sstsuss)"));
	for (guint i = 0; i < events->len; i++) {
		const KlVerifierEvent *event = g_ptr_array_index(events, i);

		g_variant_builder_add(&builder,
				      "(sstsuss)",
				      event->kind == KL_VERIFIER_EVENT_FINDING ? "finding"
									       : "revocation",
				      event->agent_id,
				      kl_verifier_dbus_unsigned(event->time),
				      kl_verifier_dbus_string(event->event_id),
				      event->severity,
				      kl_verifier_dbus_string(event->subject),
				      kl_verifier_dbus_string(event->context));
	}
	kl_verifier_dbus_call_return(call, g_variant_new("(a(sstsuss))", &builder));
}

static gboolean
kl_verifier_dbus_handle_get_events(KlDBusVerifier1Manager *manager,
				   GDBusMethodInvocation *invocation,
				   guint64 since,
				   guint max,
				   gpointer user_data)
{
	KlVerifierDbusCall *call = kl_verifier_dbus_call_new(user_data,
							     invocation,
							     kl_verifier_dbus_run_get_events,
							     NULL);

	call->since = since;
	call->max = max;
	return kl_verifier_dbus_call_authorize(call, KL_VERIFIER_DBUS_ACTION_MONITOR);
}

/* ---- Manager: policies ---- */

typedef struct {
	GInputStream *stream;
	GByteArray *data;
	guint64 max_size;
} KlVerifierDbusRead;

static void
kl_verifier_dbus_read_free(gpointer data)
{
	KlVerifierDbusRead *read = data;

	g_clear_object(&read->stream);
	g_clear_pointer(&read->data, g_byte_array_unref);
	g_free(read);
}

static void kl_verifier_dbus_read_cb(GObject *source, GAsyncResult *result, gpointer user_data);

static void
kl_verifier_dbus_read_next(GTask *task)
{
	KlVerifierDbusRead *read = g_task_get_task_data(task);

	g_input_stream_read_bytes_async(read->stream,
					KL_VERIFIER_DBUS_READ_CHUNK,
					G_PRIORITY_DEFAULT,
					g_task_get_cancellable(task),
					kl_verifier_dbus_read_cb,
					task);
}

static void
kl_verifier_dbus_read_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	KlVerifierDbusRead *read = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) chunk = NULL;

	chunk = g_input_stream_read_bytes_finish(G_INPUT_STREAM(source), result, &error);
	if (chunk == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	if (g_bytes_get_size(chunk) == 0) {
		g_task_return_pointer(task,
				      g_byte_array_free_to_bytes(g_steal_pointer(&read->data)),
				      (GDestroyNotify)g_bytes_unref);
		return;
	}
	if ((guint64)read->data->len + g_bytes_get_size(chunk) > read->max_size) {
		g_task_return_new_error(task,
					KL_ERROR,
					KL_ERROR_TOO_LARGE,
					"longer than %" G_GUINT64_FORMAT " bytes",
					read->max_size);
		return;
	}
	g_byte_array_append(read->data,
			    g_bytes_get_data(chunk, NULL),
			    (guint)g_bytes_get_size(chunk));
	kl_verifier_dbus_read_next(g_steal_pointer(&task));
}

void
kl_verifier_dbus_read_handle_async(GDBusMethodInvocation *invocation,
				   gint32 handle,
				   guint64 max_size,
				   GCancellable *cancellable,
				   GAsyncReadyCallback callback,
				   gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(NULL, cancellable, callback, user_data);
	GUnixFDList *fds =
		g_dbus_message_get_unix_fd_list(g_dbus_method_invocation_get_message(invocation));
	KlVerifierDbusRead *read;
	GError *error = NULL;
	gint fd;

	g_task_set_source_tag(task, kl_verifier_dbus_read_handle_async);
	if (fds == NULL || handle < 0 || handle >= g_unix_fd_list_get_length(fds)) {
		g_task_return_new_error(task,
					KL_ERROR,
					KL_ERROR_INVALID_ARGUMENT,
					"no file descriptor was passed");
		return;
	}
	fd = g_unix_fd_list_get(fds, handle, &error);
	if (fd < 0) {
		g_task_return_error(task, error);
		return;
	}
	read = g_new0(KlVerifierDbusRead, 1);
	read->stream = g_unix_input_stream_new(fd, TRUE);
	read->data = g_byte_array_new();
	/* a GByteArray's length is a guint */
	read->max_size = MIN(max_size, (guint64)G_MAXUINT);
	g_task_set_task_data(task, read, kl_verifier_dbus_read_free);
	kl_verifier_dbus_read_next(g_steal_pointer(&task));
}

GBytes *
kl_verifier_dbus_read_handle_finish(GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, NULL), NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

static void
kl_verifier_dbus_policy_read_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(KlVerifierDbusCall) call = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) bytes = kl_verifier_dbus_read_handle_finish(result, &error);
	g_autofree gchar *text = NULL;
	gsize length = 0;

	/* once cancelled, call->self may be gone */
	if (bytes != NULL && g_cancellable_set_error_if_cancelled(call->cancellable, &error))
		g_clear_pointer(&bytes, g_bytes_unref);
	if (bytes == NULL) {
		g_prefix_error(&error, "policy: ");
		kl_verifier_dbus_call_return_error(call, error);
		return;
	}
	length = g_bytes_get_size(bytes);
	text = g_strndup(g_bytes_get_data(bytes, NULL), length);
	if (strlen(text) != length || !g_utf8_validate(text, -1, NULL)) {
		g_set_error(&error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT, "policy: not UTF-8 text");
		kl_verifier_dbus_call_return_error(call, error);
		return;
	}
	if (!kl_verifier_put_policy(call->self->verifier,
				    call->kind,
				    call->agent_id,
				    text,
				    NULL,
				    NULL,
				    FALSE,
				    &error)) {
		kl_verifier_dbus_call_return_error(call, error);
		return;
	}
	kl_verifier_dbus_call_return(call, NULL);
}

/* Authorized: read the descriptor without blocking the main loop. */
static void
kl_verifier_dbus_run_add_policy(KlVerifierDbus *self, KlVerifierDbusCall *call)
{
	kl_verifier_dbus_read_handle_async(call->invocation,
					   call->handle,
					   self->max_upload_size,
					   call->cancellable,
					   kl_verifier_dbus_policy_read_cb,
					   call);
}

static gboolean
kl_verifier_dbus_add_policy(KlVerifierDbus *self,
			    GDBusMethodInvocation *invocation,
			    KlVerifierPolicyKind kind,
			    const gchar *name,
			    GVariant *handle)
{
	KlVerifierDbusCall *call =
		kl_verifier_dbus_call_new(self, invocation, kl_verifier_dbus_run_add_policy, name);

	call->kind = kind;
	call->handle = g_variant_get_handle(handle);
	return kl_verifier_dbus_call_authorize(call, KL_VERIFIER_DBUS_ACTION_MANAGE_POLICIES);
}

static gboolean
kl_verifier_dbus_handle_add_runtime_policy(KlDBusVerifier1Manager *manager,
					   GDBusMethodInvocation *invocation,
					   const gchar *name,
					   GVariant *policy,
					   gpointer user_data)
{
	return kl_verifier_dbus_add_policy(user_data,
					   invocation,
					   KL_VERIFIER_POLICY_RUNTIME,
					   name,
					   policy);
}

static gboolean
kl_verifier_dbus_handle_add_mb_policy(KlDBusVerifier1Manager *manager,
				      GDBusMethodInvocation *invocation,
				      const gchar *name,
				      GVariant *policy,
				      gpointer user_data)
{
	return kl_verifier_dbus_add_policy(user_data,
					   invocation,
					   KL_VERIFIER_POLICY_MB,
					   name,
					   policy);
}

static gboolean
kl_verifier_dbus_list_policies(KlVerifierDbus *self,
			       GDBusMethodInvocation *invocation,
			       KlVerifierPolicyKind kind)
{
	g_autoptr(GPtrArray) names = NULL;
	g_autoptr(GError) error = NULL;

	names = kl_verifier_list_policies(self->verifier, kind, &error);
	if (names == NULL) {
		g_dbus_method_invocation_return_gerror(invocation, error);
		return G_DBUS_METHOD_INVOCATION_HANDLED;
	}
	g_ptr_array_add(names, NULL);
	g_dbus_method_invocation_return_value(
		invocation,
		g_variant_new("(^as)", (const gchar *const *)names->pdata));
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
kl_verifier_dbus_handle_list_runtime_policies(KlDBusVerifier1Manager *manager,
					      GDBusMethodInvocation *invocation,
					      gpointer user_data)
{
	return kl_verifier_dbus_list_policies(user_data, invocation, KL_VERIFIER_POLICY_RUNTIME);
}

static gboolean
kl_verifier_dbus_handle_list_mb_policies(KlDBusVerifier1Manager *manager,
					 GDBusMethodInvocation *invocation,
					 gpointer user_data)
{
	return kl_verifier_dbus_list_policies(user_data, invocation, KL_VERIFIER_POLICY_MB);
}

static void
kl_verifier_dbus_run_get_policy(KlVerifierDbus *self, KlVerifierDbusCall *call)
{
	g_autoptr(KlVerifierDbusCall) owned = call;
	g_autoptr(KlVerifierPolicy) policy = NULL;
	g_autoptr(GError) error = NULL;

	policy = kl_verifier_get_policy(self->verifier, call->kind, call->agent_id, &error);
	if (policy == NULL) {
		kl_verifier_dbus_call_return_error(call, error);
		return;
	}
	kl_verifier_dbus_call_return(call,
				     g_variant_new("(s)", kl_verifier_dbus_string(policy->policy)));
}

static gboolean
kl_verifier_dbus_get_policy(KlVerifierDbus *self,
			    GDBusMethodInvocation *invocation,
			    KlVerifierPolicyKind kind,
			    const gchar *name)
{
	KlVerifierDbusCall *call =
		kl_verifier_dbus_call_new(self, invocation, kl_verifier_dbus_run_get_policy, name);

	call->kind = kind;
	return kl_verifier_dbus_call_authorize(call, KL_VERIFIER_DBUS_ACTION_MONITOR);
}

static gboolean
kl_verifier_dbus_handle_get_runtime_policy(KlDBusVerifier1Manager *manager,
					   GDBusMethodInvocation *invocation,
					   const gchar *name,
					   gpointer user_data)
{
	return kl_verifier_dbus_get_policy(user_data, invocation, KL_VERIFIER_POLICY_RUNTIME, name);
}

static gboolean
kl_verifier_dbus_handle_get_mb_policy(KlDBusVerifier1Manager *manager,
				      GDBusMethodInvocation *invocation,
				      const gchar *name,
				      gpointer user_data)
{
	return kl_verifier_dbus_get_policy(user_data, invocation, KL_VERIFIER_POLICY_MB, name);
}

static void
kl_verifier_dbus_run_delete_policy(KlVerifierDbus *self, KlVerifierDbusCall *call)
{
	g_autoptr(KlVerifierDbusCall) owned = call;
	g_autoptr(GError) error = NULL;

	if (!kl_verifier_delete_policy(self->verifier, call->kind, call->agent_id, &error)) {
		kl_verifier_dbus_call_return_error(call, error);
		return;
	}
	/* its id may be given to another policy */
	g_hash_table_remove_all(self->policy_names[call->kind]);
	kl_verifier_dbus_call_return(call, NULL);
}

static gboolean
kl_verifier_dbus_delete_policy(KlVerifierDbus *self,
			       GDBusMethodInvocation *invocation,
			       KlVerifierPolicyKind kind,
			       const gchar *name)
{
	KlVerifierDbusCall *call = kl_verifier_dbus_call_new(self,
							     invocation,
							     kl_verifier_dbus_run_delete_policy,
							     name);

	call->kind = kind;
	return kl_verifier_dbus_call_authorize(call, KL_VERIFIER_DBUS_ACTION_MANAGE_POLICIES);
}

static gboolean
kl_verifier_dbus_handle_delete_runtime_policy(KlDBusVerifier1Manager *manager,
					      GDBusMethodInvocation *invocation,
					      const gchar *name,
					      gpointer user_data)
{
	return kl_verifier_dbus_delete_policy(user_data,
					      invocation,
					      KL_VERIFIER_POLICY_RUNTIME,
					      name);
}

static gboolean
kl_verifier_dbus_handle_delete_mb_policy(KlDBusVerifier1Manager *manager,
					 GDBusMethodInvocation *invocation,
					 const gchar *name,
					 gpointer user_data)
{
	return kl_verifier_dbus_delete_policy(user_data, invocation, KL_VERIFIER_POLICY_MB, name);
}

/* ---- Agent methods ---- */

static void
kl_verifier_dbus_run_stop(KlVerifierDbus *self, KlVerifierDbusCall *call)
{
	g_autoptr(KlVerifierDbusCall) owned = call;
	g_autoptr(GError) error = NULL;

	if (!kl_verifier_stop_agent(self->verifier, call->agent_id, &error))
		kl_verifier_dbus_call_return_error(call, error);
	else
		kl_verifier_dbus_call_return(call, NULL);
}

static void
kl_verifier_dbus_run_reactivate(KlVerifierDbus *self, KlVerifierDbusCall *call)
{
	g_autoptr(KlVerifierDbusCall) owned = call;
	g_autoptr(GError) error = NULL;

	if (!kl_verifier_reactivate_agent(self->verifier, call->agent_id, &error))
		kl_verifier_dbus_call_return_error(call, error);
	else
		kl_verifier_dbus_call_return(call, NULL);
}

/* GetFailures, a(tsuss), and GetRevocations, a(tsus): the same history,
 * findings with their subject. */
static void
kl_verifier_dbus_return_events(KlVerifierDbus *self,
			       KlVerifierDbusCall *call,
			       KlVerifierEventKind kind)
{
	g_autoptr(KlVerifierDbusCall) owned = call;
	g_autoptr(GPtrArray) events = NULL;
	g_autoptr(GError) error = NULL;
	gboolean findings = kind == KL_VERIFIER_EVENT_FINDING;
	GVariantBuilder builder;

	events = kl_verifier_list_events(self->verifier,
					 call->agent_id,
					 kind,
					 kl_verifier_dbus_history_max(call->max),
					 &error);
	if (events == NULL) {
		kl_verifier_dbus_call_return_error(call, error);
		return;
	}
	g_variant_builder_init(&builder,
			       findings ? G_VARIANT_TYPE("a(tsuss)") : G_VARIANT_TYPE("a(tsus)"));
	for (guint i = 0; i < events->len; i++) {
		const KlVerifierEvent *event = g_ptr_array_index(events, i);

		if (findings)
			g_variant_builder_add(&builder,
					      "(tsuss)",
					      kl_verifier_dbus_unsigned(event->time),
					      kl_verifier_dbus_string(event->event_id),
					      event->severity,
					      kl_verifier_dbus_string(event->subject),
					      kl_verifier_dbus_string(event->context));
		else
			g_variant_builder_add(&builder,
					      "(tsus)",
					      kl_verifier_dbus_unsigned(event->time),
					      kl_verifier_dbus_string(event->event_id),
					      event->severity,
					      kl_verifier_dbus_string(event->context));
	}
	kl_verifier_dbus_call_return(call, g_variant_new("(@*)", g_variant_builder_end(&builder)));
}

static void
kl_verifier_dbus_run_get_failures(KlVerifierDbus *self, KlVerifierDbusCall *call)
{
	kl_verifier_dbus_return_events(self, call, KL_VERIFIER_EVENT_FINDING);
}

static void
kl_verifier_dbus_run_get_revocations(KlVerifierDbus *self, KlVerifierDbusCall *call)
{
	kl_verifier_dbus_return_events(self, call, KL_VERIFIER_EVENT_REVOCATION);
}

static gboolean
kl_verifier_dbus_agent_call(KlDBusVerifier1Agent *agent,
			    GDBusMethodInvocation *invocation,
			    KlVerifierDbusRun run,
			    guint max,
			    const gchar *action_id,
			    KlVerifierDbus *self)
{
	KlVerifierDbusCall *call =
		kl_verifier_dbus_call_new(self,
					  invocation,
					  run,
					  kl_dbus_verifier1_agent_get_agent_id(agent));

	call->max = max;
	return kl_verifier_dbus_call_authorize(call, action_id);
}

static gboolean
kl_verifier_dbus_handle_stop(KlDBusVerifier1Agent *agent,
			     GDBusMethodInvocation *invocation,
			     gpointer user_data)
{
	return kl_verifier_dbus_agent_call(agent,
					   invocation,
					   kl_verifier_dbus_run_stop,
					   0,
					   KL_VERIFIER_DBUS_ACTION_MANAGE_AGENTS,
					   user_data);
}

static gboolean
kl_verifier_dbus_handle_reactivate(KlDBusVerifier1Agent *agent,
				   GDBusMethodInvocation *invocation,
				   gpointer user_data)
{
	return kl_verifier_dbus_agent_call(agent,
					   invocation,
					   kl_verifier_dbus_run_reactivate,
					   0,
					   KL_VERIFIER_DBUS_ACTION_MANAGE_AGENTS,
					   user_data);
}

static gboolean
kl_verifier_dbus_handle_remove(KlDBusVerifier1Agent *agent,
			       GDBusMethodInvocation *invocation,
			       gpointer user_data)
{
	return kl_verifier_dbus_agent_call(agent,
					   invocation,
					   kl_verifier_dbus_run_remove_agent,
					   0,
					   KL_VERIFIER_DBUS_ACTION_MANAGE_AGENTS,
					   user_data);
}

static gboolean
kl_verifier_dbus_handle_get_failures(KlDBusVerifier1Agent *agent,
				     GDBusMethodInvocation *invocation,
				     guint max,
				     gpointer user_data)
{
	return kl_verifier_dbus_agent_call(agent,
					   invocation,
					   kl_verifier_dbus_run_get_failures,
					   max,
					   KL_VERIFIER_DBUS_ACTION_MONITOR,
					   user_data);
}

static gboolean
kl_verifier_dbus_handle_get_revocations(KlDBusVerifier1Agent *agent,
					GDBusMethodInvocation *invocation,
					guint max,
					gpointer user_data)
{
	return kl_verifier_dbus_agent_call(agent,
					   invocation,
					   kl_verifier_dbus_run_get_revocations,
					   max,
					   KL_VERIFIER_DBUS_ACTION_MONITOR,
					   user_data);
}

/* ---- the engine's signals ---- */

static void
kl_verifier_dbus_add_object(KlVerifierDbus *self, const gchar *agent_id)
{
	g_autofree gchar *path = NULL;
	g_autoptr(KlDBusObjectSkeleton) object = NULL;
	g_autoptr(KlDBusVerifier1Agent) iface = NULL;

	if (g_hash_table_contains(self->agents, agent_id))
		return;
	path = kl_verifier_dbus_agent_path(agent_id);
	object = kl_dbus_object_skeleton_new(path);
	iface = kl_dbus_verifier1_agent_skeleton_new();
	kl_dbus_verifier1_agent_set_agent_id(iface, agent_id);
	kl_dbus_verifier1_agent_set_severity_level(iface, -1);
	g_signal_connect(iface, "handle-stop", G_CALLBACK(kl_verifier_dbus_handle_stop), self);
	g_signal_connect(iface,
			 "handle-reactivate",
			 G_CALLBACK(kl_verifier_dbus_handle_reactivate),
			 self);
	g_signal_connect(iface, "handle-remove", G_CALLBACK(kl_verifier_dbus_handle_remove), self);
	g_signal_connect(iface,
			 "handle-get-failures",
			 G_CALLBACK(kl_verifier_dbus_handle_get_failures),
			 self);
	g_signal_connect(iface,
			 "handle-get-revocations",
			 G_CALLBACK(kl_verifier_dbus_handle_get_revocations),
			 self);
	kl_dbus_object_skeleton_set_verifier1_agent(object, iface);
	g_hash_table_insert(self->agents, g_strdup(agent_id), g_object_ref(object));
	/* the properties travel with InterfacesAdded */
	kl_verifier_dbus_sync_agent(self, agent_id);
	g_dbus_object_manager_server_export(self->object_manager, G_DBUS_OBJECT_SKELETON(object));
}

static void
kl_verifier_dbus_object_disconnect(gpointer data, gpointer user_data)
{
	KlDBusObject *object = data;
	g_autoptr(KlDBusVerifier1Agent) iface = kl_dbus_object_get_verifier1_agent(object);

	if (iface != NULL)
		g_signal_handlers_disconnect_by_data(iface, user_data);
}

static void
kl_verifier_dbus_agent_added_cb(KlVerifier *verifier, const gchar *agent_id, gpointer user_data)
{
	KlVerifierDbus *self = user_data;

	/* The store may give a new enrolment's policy the id of one deleted
	 * since the names were cached (a re-enrolled agent's own policy). */
	for (gsize i = 0; i < G_N_ELEMENTS(self->policy_names); i++)
		g_hash_table_remove_all(self->policy_names[i]);
	kl_verifier_dbus_add_object(self, agent_id);
	kl_verifier_dbus_update_counts(self);
}

static void
kl_verifier_dbus_agent_removed_cb(KlVerifier *verifier, const gchar *agent_id, gpointer user_data)
{
	KlVerifierDbus *self = user_data;
	g_autofree gchar *path = kl_verifier_dbus_agent_path(agent_id);
	KlDBusObject *object = g_hash_table_lookup(self->agents, agent_id);

	if (object != NULL) {
		kl_verifier_dbus_object_disconnect(object, self);
		g_dbus_object_manager_server_unexport(self->object_manager, path);
		g_hash_table_remove(self->agents, agent_id);
	}
	g_hash_table_remove(self->dirty, agent_id);
	kl_verifier_dbus_update_counts(self);
}

static void
kl_verifier_dbus_state_changed_cb(KlVerifier *verifier,
				  const gchar *agent_id,
				  guint new_state,
				  guint old_state,
				  guint reason,
				  gpointer user_data)
{
	KlVerifierDbus *self = user_data;
	KlDBusObject *object = g_hash_table_lookup(self->agents, agent_id);
	g_autoptr(KlDBusVerifier1Agent) iface = NULL;

	if (object == NULL)
		return;
	iface = kl_dbus_object_get_verifier1_agent(object);
	kl_dbus_verifier1_agent_emit_state_changed(iface, new_state, old_state, reason);
	kl_verifier_dbus_mark_dirty(self, agent_id);
}

static void
kl_verifier_dbus_agent_changed_cb(KlVerifier *verifier, const gchar *agent_id, gpointer user_data)
{
	kl_verifier_dbus_mark_dirty(user_data, agent_id);
}

static gboolean
kl_verifier_dbus_is_ima(const KlFinding *finding)
{
	return finding->event_id != NULL && g_str_has_prefix(finding->event_id, "ima.");
}

static void
kl_verifier_dbus_attestation_failed_cb(KlVerifier *verifier,
				       const gchar *agent_id,
				       gint64 time,
				       guint severity,
				       GPtrArray *findings,
				       gpointer user_data)
{
	KlVerifierDbus *self = user_data;
	g_autofree gchar *path = kl_verifier_dbus_agent_path(agent_id);
	guint64 when = kl_verifier_dbus_unsigned(time);
	GVariantBuilder events;
	GVariantBuilder entries;
	guint n_events = 0;
	guint n_entries = 0;

	g_variant_builder_init(&events, G_VARIANT_TYPE("a(ssb)"));
	g_variant_builder_init(&entries, G_VARIANT_TYPE("a(ussa{sv})"));
	for (guint i = 0; findings != NULL && i < findings->len; i++) {
		const KlFinding *finding = g_ptr_array_index(findings, i);
		const gchar *context = finding->context_json != NULL ? finding->context_json : "{}";

		if (n_events < KL_VERIFIER_DBUS_MAX_ENTRIES) {
			g_variant_builder_add(&events,
					      "(ssb)",
					      kl_verifier_dbus_string(finding->event_id),
					      context,
					      finding->irrecoverable);
			n_events++;
		}
		if (kl_verifier_dbus_is_ima(finding) && n_entries < KL_VERIFIER_DBUS_MAX_ENTRIES) {
			GVariantBuilder extras;

			g_variant_builder_init(&extras, G_VARIANT_TYPE("a{sv}"));
			g_variant_builder_add(&extras,
					      "{sv}",
					      "event_id",
					      g_variant_new_string(finding->event_id));
			g_variant_builder_add(&extras,
					      "{sv}",
					      "context",
					      g_variant_new_string(context));
			g_variant_builder_add(&entries,
					      "(ussa{sv})",
					      finding->line,
					      kl_verifier_dbus_string(finding->subject),
					      kl_verifier_dbus_string(finding->reason),
					      &extras);
			n_entries++;
		}
	}
	kl_dbus_verifier1_manager_emit_attestation_failed(self->manager,
							  path,
							  agent_id,
							  when,
							  severity,
							  g_variant_builder_end(&events));
	if (n_entries > 0)
		kl_dbus_verifier1_manager_emit_ima_entries_failed(self->manager,
								  path,
								  agent_id,
								  when,
								  g_variant_builder_end(&entries));
	else
		g_variant_builder_clear(&entries);
}

static void
kl_verifier_dbus_revocation_cb(KlVerifier *verifier,
			       const gchar *agent_id,
			       gint64 time,
			       const gchar *event_id,
			       guint severity,
			       const gchar *context_json,
			       gpointer user_data)
{
	KlVerifierDbus *self = user_data;
	g_autofree gchar *path = kl_verifier_dbus_agent_path(agent_id);

	kl_dbus_verifier1_manager_emit_revocation(self->manager,
						  path,
						  agent_id,
						  kl_verifier_dbus_unsigned(time),
						  kl_verifier_dbus_string(event_id),
						  severity,
						  context_json != NULL ? context_json : "{}");
}

/* ---- the front-end ---- */

static void
kl_verifier_dbus_set_static_properties(KlVerifierDbus *self)
{
	g_autoptr(GPtrArray) versions = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) labels = g_ptr_array_new();
	KlSeverityPolicy *severity = kl_verifier_get_severity_policy(self->verifier);
	const KlApiVersion *supported;
	gsize n_supported = 0;

	supported = kl_api_version_server_supported(&n_supported);
	for (gsize i = 0; i < n_supported; i++) {
		gchar buffer[KL_API_VERSION_STRING_SIZE];

		g_ptr_array_add(versions,
				g_strdup(kl_api_version_to_string(&supported[i], buffer)));
	}
	g_ptr_array_add(versions, NULL);
	if (severity != NULL) {
		for (guint i = 0; i <= kl_severity_policy_get_max_level(severity); i++)
			g_ptr_array_add(labels,
					(gpointer)kl_severity_policy_get_label(severity, i));
	}
	g_ptr_array_add(labels, NULL);

	kl_dbus_verifier1_manager_set_version(self->manager, PACKAGE_VERSION);
	kl_dbus_verifier1_manager_set_api_versions(self->manager,
						   (const gchar *const *)versions->pdata);
	kl_dbus_verifier1_manager_set_verifier_id(
		self->manager,
		kl_verifier_dbus_string(kl_verifier_get_verifier_id(self->verifier)));
	kl_dbus_verifier1_manager_set_quote_interval(
		self->manager,
		kl_verifier_get_quote_interval(self->verifier));
	kl_dbus_verifier1_manager_set_severity_labels(self->manager,
						      (const gchar *const *)labels->pdata);
	kl_dbus_verifier1_manager_set_shm_name(
		self->manager,
		kl_verifier_dbus_string(kl_verifier_get_shm_name(self->verifier)));
	kl_verifier_dbus_update_counts(self);
}

static void
kl_verifier_dbus_connect_manager(KlVerifierDbus *self)
{
	static const struct {
		const gchar *signal;
		GCallback handler;
	} handlers[] = {
		{"handle-add-agent", G_CALLBACK(kl_verifier_dbus_handle_add_agent)},
		{"handle-remove-agent", G_CALLBACK(kl_verifier_dbus_handle_remove_agent)},
		{"handle-list-agents", G_CALLBACK(kl_verifier_dbus_handle_list_agents)},
		{"handle-get-events", G_CALLBACK(kl_verifier_dbus_handle_get_events)},
		{"handle-add-runtime-policy",
		 G_CALLBACK(kl_verifier_dbus_handle_add_runtime_policy)},
		{"handle-list-runtime-policies",
		 G_CALLBACK(kl_verifier_dbus_handle_list_runtime_policies)},
		{"handle-get-runtime-policy",
		 G_CALLBACK(kl_verifier_dbus_handle_get_runtime_policy)},
		{"handle-delete-runtime-policy",
		 G_CALLBACK(kl_verifier_dbus_handle_delete_runtime_policy)},
		{"handle-add-mb-policy", G_CALLBACK(kl_verifier_dbus_handle_add_mb_policy)},
		{"handle-list-mb-policies", G_CALLBACK(kl_verifier_dbus_handle_list_mb_policies)},
		{"handle-get-mb-policy", G_CALLBACK(kl_verifier_dbus_handle_get_mb_policy)},
		{"handle-delete-mb-policy", G_CALLBACK(kl_verifier_dbus_handle_delete_mb_policy)},
	};

	for (gsize i = 0; i < G_N_ELEMENTS(handlers); i++)
		g_signal_connect(self->manager, handlers[i].signal, handlers[i].handler, self);
}

static void
kl_verifier_dbus_connect_engine(KlVerifierDbus *self)
{
	g_signal_connect(self->verifier,
			 "agent-added",
			 G_CALLBACK(kl_verifier_dbus_agent_added_cb),
			 self);
	g_signal_connect(self->verifier,
			 "agent-removed",
			 G_CALLBACK(kl_verifier_dbus_agent_removed_cb),
			 self);
	g_signal_connect(self->verifier,
			 "state-changed",
			 G_CALLBACK(kl_verifier_dbus_state_changed_cb),
			 self);
	g_signal_connect(self->verifier,
			 "agent-changed",
			 G_CALLBACK(kl_verifier_dbus_agent_changed_cb),
			 self);
	g_signal_connect(self->verifier,
			 "attestation-failed",
			 G_CALLBACK(kl_verifier_dbus_attestation_failed_cb),
			 self);
	g_signal_connect(self->verifier,
			 "revocation",
			 G_CALLBACK(kl_verifier_dbus_revocation_cb),
			 self);
}

KlVerifierDbus *
kl_verifier_dbus_new(KlVerifier *verifier,
		     GDBusConnection *connection,
		     KlDBusAuthMode auth_mode,
		     guint64 max_upload_size,
		     GError **error)
{
	g_autoptr(KlVerifierDbus) self = g_new0(KlVerifierDbus, 1);
	g_autoptr(GPtrArray) ids = NULL;

	g_return_val_if_fail(KL_IS_VERIFIER(verifier), NULL);
	g_return_val_if_fail(G_IS_DBUS_CONNECTION(connection), NULL);

	self->verifier = g_object_ref(verifier);
	self->auth_mode = auth_mode;
	self->max_upload_size = max_upload_size;
	self->cancellable = g_cancellable_new();
	self->agents = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
	self->dirty = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (gsize i = 0; i < G_N_ELEMENTS(self->policy_names); i++)
		self->policy_names[i] =
			g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	self->manager = kl_dbus_verifier1_manager_skeleton_new();
	self->object_manager = g_dbus_object_manager_server_new(KL_VERIFIER_DBUS_PATH);

	kl_verifier_dbus_set_static_properties(self);
	kl_verifier_dbus_connect_manager(self);
	ids = kl_verifier_list_agent_ids(verifier);
	for (guint i = 0; i < ids->len; i++)
		kl_verifier_dbus_add_object(self, g_ptr_array_index(ids, i));
	kl_verifier_dbus_connect_engine(self);

	if (!g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(self->manager),
					      connection,
					      KL_VERIFIER_DBUS_PATH,
					      error))
		return NULL;
	g_dbus_object_manager_server_set_connection(self->object_manager, connection);
	return g_steal_pointer(&self);
}

KlVerifier *
kl_verifier_dbus_get_verifier(KlVerifierDbus *self)
{
	return self->verifier;
}

KlDBusVerifier1Manager *
kl_verifier_dbus_get_manager(KlVerifierDbus *self)
{
	return self->manager;
}

KlDBusAuthMode
kl_verifier_dbus_get_auth_mode(KlVerifierDbus *self)
{
	return self->auth_mode;
}

void
kl_verifier_dbus_free(KlVerifierDbus *self)
{
	if (self == NULL)
		return;
	/* pending calls hold the cancellable and answer with an error */
	if (self->cancellable != NULL)
		g_cancellable_cancel(self->cancellable);
	if (self->verifier != NULL)
		g_signal_handlers_disconnect_by_data(self->verifier, self);
	if (self->flush_id != 0)
		g_source_remove(self->flush_id);
	if (self->agents != NULL) {
		g_autoptr(GList) objects = g_hash_table_get_values(self->agents);

		g_list_foreach(objects, kl_verifier_dbus_object_disconnect, self);
	}
	if (self->object_manager != NULL)
		g_dbus_object_manager_server_set_connection(self->object_manager, NULL);
	if (self->manager != NULL) {
		GDBusInterfaceSkeleton *skeleton = G_DBUS_INTERFACE_SKELETON(self->manager);

		g_signal_handlers_disconnect_by_data(self->manager, self);
		if (g_dbus_interface_skeleton_get_connection(skeleton) != NULL)
			g_dbus_interface_skeleton_unexport(skeleton);
	}
	g_clear_object(&self->object_manager);
	g_clear_object(&self->manager);
	g_clear_pointer(&self->agents, g_hash_table_unref);
	g_clear_pointer(&self->dirty, g_hash_table_unref);
	for (gsize i = 0; i < G_N_ELEMENTS(self->policy_names); i++)
		g_clear_pointer(&self->policy_names[i], g_hash_table_unref);
	g_clear_object(&self->verifier);
	g_clear_object(&self->cancellable);
	g_free(self);
}
