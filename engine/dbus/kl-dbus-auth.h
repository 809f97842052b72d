/*
 * kl-dbus-auth: may the caller of a D-Bus method make this change?  On the
 * system bus polkit decides (org.freedesktop.PolicyKit1, called over D-Bus
 * so the daemons need no libpolkit); when polkit cannot be asked the
 * answer is no.  On a private or session bus (tests, --session) there is
 * no polkit: only the daemon's own user and root may.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
	KL_DBUS_AUTH_POLKIT,	/* the system bus */
	KL_DBUS_AUTH_SAME_USER, /* a session or private bus */
} KlDBusAuthMode;

void kl_dbus_auth_check_async(GDBusMethodInvocation *invocation,
			      KlDBusAuthMode mode,
			      const gchar *action_id,
			      GCancellable *cancellable,
			      GAsyncReadyCallback callback,
			      gpointer user_data);
/* FALSE with KL_ERROR_PERMISSION_DENIED when the caller may not. */
gboolean kl_dbus_auth_check_finish(GAsyncResult *result, GError **error);

G_END_DECLS
