/*
 * kl-client-registrar: what the enrollment wizards ask keylime_registrar
 * (org.keylime.Registrar1.Manager) on the client's bus connection — the
 * registered agents the verifier does not attest yet, and one record.
 */
#include "kl-client.h"

#define KL_CLIENT_REGISTRAR_IFACE "org.keylime.Registrar1.Manager"

static void
kl_client_registrar_call_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	GError *error = NULL;
	GVariant *reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);

	if (reply == NULL) {
		g_dbus_error_strip_remote_error(error);
		g_task_return_error(task, error);
		return;
	}
	g_task_return_pointer(task, reply, (GDestroyNotify)g_variant_unref);
}

static void
kl_client_registrar_call(KlClient *self,
			 const gchar *method,
			 GVariant *parameters,
			 const gchar *reply_type,
			 gpointer source_tag,
			 GCancellable *cancellable,
			 GAsyncReadyCallback callback,
			 gpointer user_data)
{
	GTask *task = g_task_new(self, cancellable, callback, user_data);

	g_task_set_source_tag(task, source_tag);
	g_dbus_connection_call(kl_client_get_connection(self),
			       KL_CLIENT_REGISTRAR_BUS_NAME,
			       KL_CLIENT_REGISTRAR_OBJECT_PATH,
			       KL_CLIENT_REGISTRAR_IFACE,
			       method,
			       parameters,
			       G_VARIANT_TYPE(reply_type),
			       G_DBUS_CALL_FLAGS_NONE,
			       -1,
			       cancellable,
			       kl_client_registrar_call_done,
			       task);
}

void
kl_client_list_unenrolled_agents_async(KlClient *self,
				       GCancellable *cancellable,
				       GAsyncReadyCallback callback,
				       gpointer user_data)
{
	g_return_if_fail(KL_IS_CLIENT(self));
	kl_client_registrar_call(self,
				 "ListAgents",
				 NULL,
				 "(as)",
				 kl_client_list_unenrolled_agents_async,
				 cancellable,
				 callback,
				 user_data);
}

GStrv
kl_client_list_unenrolled_agents_finish(KlClient *self, GAsyncResult *result, GError **error)
{
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GStrvBuilder) unenrolled = g_strv_builder_new();
	g_autoptr(GVariantIter) ids = NULL;
	const gchar *agent_id;

	g_return_val_if_fail(g_task_is_valid(result, self), NULL);
	g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) ==
				     kl_client_list_unenrolled_agents_async,
			     NULL);
	reply = g_task_propagate_pointer(G_TASK(result), error);
	if (reply == NULL)
		return NULL;
	/* The registrar sends them sorted; keep that order. */
	g_variant_get(reply, "(as)", &ids);
	while (g_variant_iter_next(ids, "&s", &agent_id)) {
		if (kl_client_lookup_agent(self, agent_id) == NULL)
			g_strv_builder_add(unenrolled, agent_id);
	}
	return g_strv_builder_end(unenrolled);
}

void
kl_client_get_registered_agent_async(KlClient *self,
				     const gchar *agent_id,
				     GCancellable *cancellable,
				     GAsyncReadyCallback callback,
				     gpointer user_data)
{
	g_return_if_fail(KL_IS_CLIENT(self));
	g_return_if_fail(agent_id != NULL);
	kl_client_registrar_call(self,
				 "GetAgent",
				 g_variant_new("(s)", agent_id),
				 "(a{sv})",
				 kl_client_get_registered_agent_async,
				 cancellable,
				 callback,
				 user_data);
}

GVariant *
kl_client_get_registered_agent_finish(KlClient *self, GAsyncResult *result, GError **error)
{
	g_autoptr(GVariant) reply = NULL;

	g_return_val_if_fail(g_task_is_valid(result, self), NULL);
	g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) ==
				     kl_client_get_registered_agent_async,
			     NULL);
	reply = g_task_propagate_pointer(G_TASK(result), error);
	if (reply == NULL)
		return NULL;
	return g_variant_get_child_value(reply, 0);
}
