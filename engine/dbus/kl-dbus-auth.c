/*
 * Authorizing D-Bus callers.  Both checks ask the bus about the sender's
 * unique name, which the bus daemon vouches for; nothing the caller says
 * about itself is trusted.
 */
#include "config.h"

#include <unistd.h>

#include "kl-dbus-auth.h"
#include "kl-error.h"

/* polkit's CheckAuthorization flags: let an agent ask for a password */
#define KL_DBUS_AUTH_POLKIT_ALLOW_INTERACTION 1u
#define KL_DBUS_AUTH_TIMEOUT_MS		      (60 * 1000)

static void
kl_dbus_auth_denied(GTask *task, const gchar *action_id, const gchar *why)
{
	g_task_return_new_error(task,
				KL_ERROR,
				KL_ERROR_PERMISSION_DENIED,
				"not authorized for %s: %s",
				action_id,
				why);
}

static void
kl_dbus_auth_polkit_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = G_TASK(user_data);
	const gchar *action_id = g_task_get_task_data(task);
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GError) error = NULL;
	gboolean authorized = FALSE;
	gboolean challenge = FALSE;

	reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
	if (reply == NULL) {
		g_warning("polkit could not be asked about %s: %s", action_id, error->message);
		kl_dbus_auth_denied(task, action_id, "polkit is not available");
		return;
	}
	g_variant_get(reply, "((bb@a{ss}))", &authorized, &challenge, NULL);
	if (!authorized) {
		kl_dbus_auth_denied(task, action_id, "polkit said no");
		return;
	}
	g_task_return_boolean(task, TRUE);
}

static void
kl_dbus_auth_check_polkit(GTask *task, GDBusMethodInvocation *invocation, const gchar *action_id)
{
	GVariantBuilder subject;
	GVariantBuilder details;

	g_variant_builder_init(&subject, G_VARIANT_TYPE("a{sv}"));
	g_variant_builder_add(
		&subject,
		"{sv}",
		"name",
		g_variant_new_string(g_dbus_method_invocation_get_sender(invocation)));
	g_variant_builder_init(&details, G_VARIANT_TYPE("a{ss}"));
	g_dbus_connection_call(g_dbus_method_invocation_get_connection(invocation),
			       "org.freedesktop.PolicyKit1",
			       "/org/freedesktop/PolicyKit1/Authority",
			       "org.freedesktop.PolicyKit1.Authority",
			       "CheckAuthorization",
			       g_variant_new("((sa{sv})sa{ss}us)",
					     "system-bus-name",
					     &subject,
					     action_id,
					     &details,
					     KL_DBUS_AUTH_POLKIT_ALLOW_INTERACTION,
					     ""),
			       G_VARIANT_TYPE("((bba{ss}))"),
			       G_DBUS_CALL_FLAGS_NONE,
			       KL_DBUS_AUTH_TIMEOUT_MS,
			       g_task_get_cancellable(task),
			       kl_dbus_auth_polkit_cb,
			       task);
}

static void
kl_dbus_auth_unix_user_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = G_TASK(user_data);
	const gchar *action_id = g_task_get_task_data(task);
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GError) error = NULL;
	guint32 uid = 0;

	reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
	if (reply == NULL) {
		kl_dbus_auth_denied(task, action_id, error->message);
		return;
	}
	g_variant_get(reply, "(u)", &uid);
	if (uid != 0 && uid != (guint32)getuid()) {
		kl_dbus_auth_denied(task, action_id, "not the daemon's user or root");
		return;
	}
	g_task_return_boolean(task, TRUE);
}

static void
kl_dbus_auth_check_same_user(GTask *task, GDBusMethodInvocation *invocation)
{
	g_dbus_connection_call(
		g_dbus_method_invocation_get_connection(invocation),
		"org.freedesktop.DBus",
		"/org/freedesktop/DBus",
		"org.freedesktop.DBus",
		"GetConnectionUnixUser",
		g_variant_new("(s)", g_dbus_method_invocation_get_sender(invocation)),
		G_VARIANT_TYPE("(u)"),
		G_DBUS_CALL_FLAGS_NONE,
		KL_DBUS_AUTH_TIMEOUT_MS,
		g_task_get_cancellable(task),
		kl_dbus_auth_unix_user_cb,
		task);
}

void
kl_dbus_auth_check_async(GDBusMethodInvocation *invocation,
			 KlDBusAuthMode mode,
			 const gchar *action_id,
			 GCancellable *cancellable,
			 GAsyncReadyCallback callback,
			 gpointer user_data)
{
	GTask *task;

	g_return_if_fail(G_IS_DBUS_METHOD_INVOCATION(invocation));
	g_return_if_fail(action_id != NULL);

	task = g_task_new(NULL, cancellable, callback, user_data);
	g_task_set_source_tag(task, kl_dbus_auth_check_async);
	g_task_set_task_data(task, g_strdup(action_id), g_free);

	switch (mode) {
	case KL_DBUS_AUTH_POLKIT:
		kl_dbus_auth_check_polkit(task, invocation, action_id);
		break;
	case KL_DBUS_AUTH_SAME_USER:
		kl_dbus_auth_check_same_user(task, invocation);
		break;
	default:
		g_assert_not_reached();
	}
}

gboolean
kl_dbus_auth_check_finish(GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, NULL), FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}
