/*
 * The registrar's D-Bus front-end.  Reads answer at once; DeleteAgent is
 * authorized first (polkit on the system bus) and answered when the check
 * returns.  Errors travel as org.keylime.Error.* (kl-error).
 */
#include "config.h"

#include "kl-dbus-registrar.h"
#include "kl-error.h"
#include "kl-registrar-dbus.h"
#include "kl-registrar-rest.h"

struct _KlRegistrarDBus {
	KlRegistrar *registrar;
	KlDBusRegistrar1Manager *manager;
	KlDBusAuthMode auth_mode;
	GCancellable *cancellable;
};

typedef struct {
	KlRegistrar *registrar;
	GDBusMethodInvocation *invocation;
	gchar *agent_id;
} KlRegistrarDBusDelete;

static void
kl_registrar_dbus_delete_free(KlRegistrarDBusDelete *pending)
{
	g_object_unref(pending->registrar);
	/* answering the call consumes the reference */
	g_clear_object(&pending->invocation);
	g_free(pending->agent_id);
	g_free(pending);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlRegistrarDBusDelete, kl_registrar_dbus_delete_free)

/* NumAgents after each change: a count, not a listing, on the
 * registration path */
static void
kl_registrar_dbus_update_count(KlRegistrarDBus *self)
{
	g_autoptr(GError) error = NULL;
	guint count = 0;

	if (!kl_registrar_count_agents(self->registrar, &count, &error)) {
		g_warning("counting agents: %s", error->message);
		return;
	}
	kl_dbus_registrar1_manager_set_num_agents(self->manager, count);
}

static gboolean
kl_registrar_dbus_handle_list_agents(KlDBusRegistrar1Manager *manager,
				     GDBusMethodInvocation *invocation,
				     gpointer user_data)
{
	KlRegistrarDBus *self = user_data;
	g_autoptr(GPtrArray) ids = NULL;
	g_autoptr(GError) error = NULL;

	ids = kl_registrar_list_agents(self->registrar, &error);
	if (ids == NULL) {
		g_dbus_method_invocation_return_gerror(invocation, error);
		return G_DBUS_METHOD_INVOCATION_HANDLED;
	}
	g_ptr_array_add(ids, NULL);
	kl_dbus_registrar1_manager_complete_list_agents(manager,
							invocation,
							(const gchar *const *)ids->pdata);
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
kl_registrar_dbus_add_string(GVariantBuilder *builder, const gchar *key, const gchar *value)
{
	if (value != NULL)
		g_variant_builder_add(builder, "{sv}", key, g_variant_new_string(value));
}

static GVariant *
kl_registrar_dbus_agent_to_variant(const KlRegistrarAgent *agent)
{
	GVariantBuilder builder;

	g_variant_builder_init(&builder, G_VARIANT_TYPE("a{sv}"));
	kl_registrar_dbus_add_string(&builder, "agent_id", agent->agent_id);
	kl_registrar_dbus_add_string(&builder, "ek_tpm", agent->ek_tpm);
	kl_registrar_dbus_add_string(&builder, "ekcert", agent->ekcert);
	kl_registrar_dbus_add_string(&builder, "aik_tpm", agent->aik_tpm);
	kl_registrar_dbus_add_string(&builder, "mtls_cert", agent->mtls_cert);
	kl_registrar_dbus_add_string(&builder, "ip", agent->ip);
	if (agent->port > 0)
		g_variant_builder_add(&builder,
				      "{sv}",
				      "port",
				      g_variant_new_uint32((guint32)agent->port));
	g_variant_builder_add(&builder, "{sv}", "regcount", g_variant_new_int64(agent->regcount));
	g_variant_builder_add(&builder, "{sv}", "active", g_variant_new_boolean(agent->active));
	return g_variant_builder_end(&builder);
}

static gboolean
kl_registrar_dbus_handle_get_agent(KlDBusRegistrar1Manager *manager,
				   GDBusMethodInvocation *invocation,
				   const gchar *agent_id,
				   gpointer user_data)
{
	KlRegistrarDBus *self = user_data;
	g_autoptr(KlRegistrarAgent) agent = NULL;
	g_autoptr(GError) error = NULL;

	agent = kl_registrar_get_agent(self->registrar, agent_id, FALSE, &error);
	if (agent == NULL) {
		g_dbus_method_invocation_return_gerror(invocation, error);
		return G_DBUS_METHOD_INVOCATION_HANDLED;
	}
	kl_dbus_registrar1_manager_complete_get_agent(manager,
						      invocation,
						      kl_registrar_dbus_agent_to_variant(agent));
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
kl_registrar_dbus_delete_authorized_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(KlRegistrarDBusDelete) pending = user_data;
	g_autoptr(GError) error = NULL;

	if (!kl_dbus_auth_check_finish(result, &error) ||
	    !kl_registrar_delete_agent(pending->registrar, pending->agent_id, &error)) {
		g_dbus_method_invocation_return_gerror(g_steal_pointer(&pending->invocation),
						       error);
		return;
	}
	g_dbus_method_invocation_return_value(g_steal_pointer(&pending->invocation), NULL);
}

static gboolean
kl_registrar_dbus_handle_delete_agent(KlDBusRegistrar1Manager *manager,
				      GDBusMethodInvocation *invocation,
				      const gchar *agent_id,
				      gpointer user_data)
{
	KlRegistrarDBus *self = user_data;
	KlRegistrarDBusDelete *pending = g_new0(KlRegistrarDBusDelete, 1);

	pending->registrar = g_object_ref(self->registrar);
	pending->invocation = invocation; /* the handler's reference: answering consumes it */
	pending->agent_id = g_strdup(agent_id);
	kl_dbus_auth_check_async(invocation,
				 self->auth_mode,
				 KL_REGISTRAR_DBUS_ACTION_MANAGE,
				 self->cancellable,
				 kl_registrar_dbus_delete_authorized_cb,
				 pending);
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
kl_registrar_dbus_agent_registered_cb(KlRegistrar *registrar,
				      const gchar *agent_id,
				      gpointer user_data)
{
	KlRegistrarDBus *self = user_data;

	kl_registrar_dbus_update_count(self);
	kl_dbus_registrar1_manager_emit_agent_registered(self->manager, agent_id);
}

static void
kl_registrar_dbus_agent_activated_cb(KlRegistrar *registrar,
				     const gchar *agent_id,
				     gpointer user_data)
{
	KlRegistrarDBus *self = user_data;

	kl_dbus_registrar1_manager_emit_agent_activated(self->manager, agent_id);
}

static void
kl_registrar_dbus_agent_deleted_cb(KlRegistrar *registrar,
				   const gchar *agent_id,
				   gpointer user_data)
{
	KlRegistrarDBus *self = user_data;

	kl_registrar_dbus_update_count(self);
	kl_dbus_registrar1_manager_emit_agent_deleted(self->manager, agent_id);
}

KlRegistrarDBus *
kl_registrar_dbus_new(KlRegistrar *registrar,
		      GDBusConnection *connection,
		      KlDBusAuthMode auth_mode,
		      GError **error)
{
	g_autoptr(KlRegistrarDBus) self = g_new0(KlRegistrarDBus, 1);
	g_autoptr(GPtrArray) versions = g_ptr_array_new_with_free_func(g_free);
	const KlApiVersion *supported;
	gsize n_supported = 0;

	g_return_val_if_fail(KL_IS_REGISTRAR(registrar), NULL);
	g_return_val_if_fail(G_IS_DBUS_CONNECTION(connection), NULL);

	self->registrar = g_object_ref(registrar);
	self->auth_mode = auth_mode;
	self->cancellable = g_cancellable_new();
	self->manager = kl_dbus_registrar1_manager_skeleton_new();

	supported = kl_registrar_rest_supported_versions(&n_supported);
	for (gsize i = 0; i < n_supported; i++) {
		gchar buffer[KL_API_VERSION_STRING_SIZE];

		g_ptr_array_add(versions,
				g_strdup(kl_api_version_to_string(&supported[i], buffer)));
	}
	g_ptr_array_add(versions, NULL);
	kl_dbus_registrar1_manager_set_version(self->manager, PACKAGE_VERSION);
	kl_dbus_registrar1_manager_set_api_versions(self->manager,
						    (const gchar *const *)versions->pdata);
	kl_registrar_dbus_update_count(self);

	g_signal_connect(self->manager,
			 "handle-list-agents",
			 G_CALLBACK(kl_registrar_dbus_handle_list_agents),
			 self);
	g_signal_connect(self->manager,
			 "handle-get-agent",
			 G_CALLBACK(kl_registrar_dbus_handle_get_agent),
			 self);
	g_signal_connect(self->manager,
			 "handle-delete-agent",
			 G_CALLBACK(kl_registrar_dbus_handle_delete_agent),
			 self);
	g_signal_connect(registrar,
			 "agent-registered",
			 G_CALLBACK(kl_registrar_dbus_agent_registered_cb),
			 self);
	g_signal_connect(registrar,
			 "agent-activated",
			 G_CALLBACK(kl_registrar_dbus_agent_activated_cb),
			 self);
	g_signal_connect(registrar,
			 "agent-deleted",
			 G_CALLBACK(kl_registrar_dbus_agent_deleted_cb),
			 self);

	if (!g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(self->manager),
					      connection,
					      KL_REGISTRAR_DBUS_PATH,
					      error))
		return NULL;
	return g_steal_pointer(&self);
}

void
kl_registrar_dbus_free(KlRegistrarDBus *self)
{
	if (self == NULL)
		return;
	/* pending authorizations hold their own references */
	g_cancellable_cancel(self->cancellable);
	if (self->registrar != NULL)
		g_signal_handlers_disconnect_by_data(self->registrar, self);
	if (self->manager != NULL) {
		GDBusInterfaceSkeleton *skeleton = G_DBUS_INTERFACE_SKELETON(self->manager);

		g_signal_handlers_disconnect_by_data(self->manager, self);
		if (g_dbus_interface_skeleton_get_connection(skeleton) != NULL)
			g_dbus_interface_skeleton_unexport(skeleton);
	}
	g_clear_object(&self->manager);
	g_clear_object(&self->registrar);
	g_clear_object(&self->cancellable);
	g_free(self);
}
