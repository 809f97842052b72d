/*
 * kl-registrar-dbus: KlRegistrar on D-Bus as org.keylime.Registrar1
 * (engine/dbus/org.keylime.Registrar1.xml): the Manager object, its
 * methods, and KlRegistrar's signals forwarded.
 */
#pragma once

#include "kl-dbus-auth.h"
#include "kl-registrar.h"

G_BEGIN_DECLS

#define KL_REGISTRAR_DBUS_NAME		"org.keylime.Registrar1"
#define KL_REGISTRAR_DBUS_PATH		"/org/keylime/Registrar1"
#define KL_REGISTRAR_DBUS_ACTION_MANAGE "org.keylime.registrar.manage"

typedef struct _KlRegistrarDBus KlRegistrarDBus;

/* Exports the Manager on @connection; the caller owns the bus name. */
KlRegistrarDBus *kl_registrar_dbus_new(KlRegistrar *registrar,
				       GDBusConnection *connection,
				       KlDBusAuthMode auth_mode,
				       GError **error);
void kl_registrar_dbus_free(KlRegistrarDBus *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlRegistrarDBus, kl_registrar_dbus_free)

G_END_DECLS
