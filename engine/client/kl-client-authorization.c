/*
 * kl-client-authorization: whether the verifier would let this client's
 * user make a change, asked the way the verifier's kl-dbus-auth decides
 * (polkit on the system bus, the daemon's own user or root elsewhere), so
 * that consoles disable what would be refused instead of failing later.
 */
#include "config.h"

#include <unistd.h>

#include "kl-client.h"

#define KL_CLIENT_POLKIT_NAME	  "org.freedesktop.PolicyKit1"
#define KL_CLIENT_AUTH_TIMEOUT_MS (10 * 1000)
#define KL_CLIENT_POLKIT_NO_FLAGS 0u /* ask only: never prompt from here */

static void
kl_client_authorization_uid_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	GError *error = NULL;
	g_autoptr(GVariant) reply =
		g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
	guint32 verifier_uid = 0;

	if (reply == NULL) {
		g_dbus_error_strip_remote_error(error);
		g_task_return_error(task, error);
		return;
	}
	g_variant_get(reply, "(u)", &verifier_uid);
	g_task_return_boolean(task, getuid() == 0 || getuid() == verifier_uid);
}

static void
kl_client_authorization_polkit_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	GDBusConnection *connection = G_DBUS_CONNECTION(source);
	GError *error = NULL;
	g_autoptr(GVariant) reply = g_dbus_connection_call_finish(connection, result, &error);
	gboolean authorized = FALSE;
	gboolean challenge = FALSE;

	if (reply == NULL && g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN)) {
		GCancellable *cancellable = g_task_get_cancellable(task);

		/* no polkit on this bus: the verifier's same-user rule */
		g_clear_error(&error);
		g_dbus_connection_call(connection,
				       "org.freedesktop.DBus",
				       "/org/freedesktop/DBus",
				       "org.freedesktop.DBus",
				       "GetConnectionUnixUser",
				       g_variant_new("(s)", KL_CLIENT_BUS_NAME),
				       G_VARIANT_TYPE("(u)"),
				       G_DBUS_CALL_FLAGS_NONE,
				       KL_CLIENT_AUTH_TIMEOUT_MS,
				       cancellable,
				       kl_client_authorization_uid_cb,
				       g_steal_pointer(&task));
		return;
	}
	if (reply == NULL) {
		g_dbus_error_strip_remote_error(error);
		g_task_return_error(task, error);
		return;
	}
	g_variant_get(reply, "((bb@a{ss}))", &authorized, &challenge, NULL);
	/* the verifier lets polkit ask for a password: a challenge may pass */
	g_task_return_boolean(task, authorized || challenge);
}

void
kl_client_check_authorization_async(KlClient *self,
				    const gchar *action_id,
				    GCancellable *cancellable,
				    GAsyncReadyCallback callback,
				    gpointer user_data)
{
	GDBusConnection *connection;
	GTask *task;
	GVariantBuilder subject;
	GVariantBuilder details;

	g_return_if_fail(KL_IS_CLIENT(self));
	g_return_if_fail(action_id != NULL);

	connection = kl_client_get_connection(self);
	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, kl_client_check_authorization_async);
	g_variant_builder_init(&subject, G_VARIANT_TYPE("a{sv}"));
	g_variant_builder_add(&subject,
			      "{sv}",
			      "name",
			      g_variant_new_string(g_dbus_connection_get_unique_name(connection)));
	g_variant_builder_init(&details, G_VARIANT_TYPE("a{ss}"));
	g_dbus_connection_call(connection,
			       KL_CLIENT_POLKIT_NAME,
			       "/org/freedesktop/PolicyKit1/Authority",
			       "org.freedesktop.PolicyKit1.Authority",
			       "CheckAuthorization",
			       g_variant_new("((sa{sv})sa{ss}us)",
					     "system-bus-name",
					     &subject,
					     action_id,
					     &details,
					     KL_CLIENT_POLKIT_NO_FLAGS,
					     ""),
			       G_VARIANT_TYPE("((bba{ss}))"),
			       G_DBUS_CALL_FLAGS_NONE,
			       KL_CLIENT_AUTH_TIMEOUT_MS,
			       cancellable,
			       kl_client_authorization_polkit_cb,
			       task);
}

gboolean
kl_client_check_authorization_finish(KlClient *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
	g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) ==
				     kl_client_check_authorization_async,
			     FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}
