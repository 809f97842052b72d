/*
 * kl-verifier-dbus: KlVerifier on D-Bus as org.keylime.Verifier1
 * (engine/dbus/org.keylime.Verifier1.xml): the Manager at
 * /org/keylime/Verifier1 beside an ObjectManager with one object per
 * agent, the engine's signals translated, and every change authorized
 * (kl-dbus-auth) before the engine sees it.
 */
#pragma once

#include "kl-dbus-auth.h"
#include "kl-verifier.h"

G_BEGIN_DECLS

#define KL_VERIFIER_DBUS_NAME			"org.keylime.Verifier1"
#define KL_VERIFIER_DBUS_PATH			"/org/keylime/Verifier1"
#define KL_VERIFIER_DBUS_AGENTS_PATH		KL_VERIFIER_DBUS_PATH "/agents"
#define KL_VERIFIER_DBUS_ACTION_MONITOR		"org.keylime.verifier.monitor"
#define KL_VERIFIER_DBUS_ACTION_MANAGE_AGENTS	"org.keylime.verifier.manage-agents"
#define KL_VERIFIER_DBUS_ACTION_MANAGE_POLICIES "org.keylime.verifier.manage-policies"

/* Agent properties are published at most this often per agent. */
#define KL_VERIFIER_DBUS_COALESCE_MS 100
/* AttestationFailed events and ImaEntriesFailed entries per round */
#define KL_VERIFIER_DBUS_MAX_ENTRIES 100

typedef struct _KlVerifierDbus KlVerifierDbus;

/*
 * Exports the Manager and the ObjectManager on @connection (the caller
 * owns the bus name) with an object for each agent @verifier has now.
 * @max_upload_size bounds a policy read from a file descriptor (verifier.conf
 * max_upload_size).
 */
KlVerifierDbus *kl_verifier_dbus_new(KlVerifier *verifier,
				     GDBusConnection *connection,
				     KlDBusAuthMode auth_mode,
				     guint64 max_upload_size,
				     GError **error);
void kl_verifier_dbus_free(KlVerifierDbus *self);

/* The object path of an agent's object. */
gchar *kl_verifier_dbus_agent_path(const gchar *agent_id);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlVerifierDbus, kl_verifier_dbus_free)

G_END_DECLS
