/*
 * KlClient: the consoles' view of keylime_verifier (ARCHITECTURE.md,
 * "Layering rules" rule 4 and "D-Bus API"): a cache of org.keylime.Verifier1
 * in the UDisksClient / NMClient way.
 *
 * - kl_client_get_agents(): a GListModel of KlClientAgent sorted by agent
 *   id, with precise items-changed.  On the verifier's host, when the
 *   Manager's ShmName can be mapped, the list and the live fields come from
 *   the shared-memory table (re-read every refresh interval, only when its
 *   generation moved) and D-Bus objects only fill in what the table lacks
 *   (state-reason, runtime-policy, mb-policy); otherwise everything comes
 *   from the ObjectManager's objects.
 * - "changed": emitted at most once per 100 ms after anything in the agent
 *   list, an agent or the Manager's properties changed, for views that
 *   redraw as a whole.
 * - kl_client_get_events(): a GListModel of KlClientEvent, newest first,
 *   bounded (KL_CLIENT_MAX_EVENTS by default), backfilled with GetEvents
 *   on every (re)connection and fed by AttestationFailed, ImaEntriesFailed
 *   and Revocation; a failed IMA entry is one event, with its path and its
 *   round's severity, as the backfill has it.
 * - "connected": FALSE while the verifier is not on the bus; the agent list
 *   is then empty.  It fills again when the verifier comes back.
 * - asynchronous wrappers of every method; errors are KL_ERROR codes when
 *   the verifier sent org.keylime.Error.*.
 *
 * Everything runs in the thread-default main context of kl_client_new_async().
 */
#pragma once

#include <gio/gio.h>

#include "kl-client-agent.h"
#include "kl-client-event.h"

G_BEGIN_DECLS

#define KL_CLIENT_BUS_NAME		"org.keylime.Verifier1"
#define KL_CLIENT_OBJECT_PATH		"/org/keylime/Verifier1"
#define KL_CLIENT_REGISTRAR_BUS_NAME	"org.keylime.Registrar1"
#define KL_CLIENT_REGISTRAR_OBJECT_PATH "/org/keylime/Registrar1"
#define KL_CLIENT_MAX_EVENTS		10000

typedef enum {
	KL_CLIENT_POLICY_RUNTIME,	/* runtime policies (allowlists) */
	KL_CLIENT_POLICY_MEASURED_BOOT, /* measured-boot reference states */
} KlClientPolicyKind;

#define KL_TYPE_CLIENT (kl_client_get_type())
G_DECLARE_FINAL_TYPE(KlClient, kl_client, KL, CLIENT, GObject)

void kl_client_new_async(GDBusConnection *connection,
			 GCancellable *cancellable,
			 GAsyncReadyCallback callback,
			 gpointer user_data);
KlClient *kl_client_new_finish(GAsyncResult *result, GError **error);

GDBusConnection *kl_client_get_connection(KlClient *self);
gboolean kl_client_get_connected(KlClient *self);
/* TRUE while the agents come from the shared-memory table */
gboolean kl_client_get_uses_shm(KlClient *self);
GListModel *kl_client_get_agents(KlClient *self);
KlClientAgent *kl_client_lookup_agent(KlClient *self, const gchar *agent_id);
GListModel *kl_client_get_events(KlClient *self);

/* The Manager's properties ("" / 0 / NULL while disconnected). */
const gchar *kl_client_get_version(KlClient *self);
const gchar *kl_client_get_verifier_id(KlClient *self);
guint kl_client_get_num_agents(KlClient *self);
guint kl_client_get_num_failed(KlClient *self);
gdouble kl_client_get_quote_interval(KlClient *self);
/* The verifier's severity labels, in order; "" out of range. */
const gchar *kl_client_severity_to_label(KlClient *self, gint severity_level);

/* Tuning, mostly for tests: how many events to keep (oldest dropped) and
 * how often the shared-memory table is looked at. */
void kl_client_set_max_events(KlClient *self, guint max_events);
void kl_client_set_refresh_interval(KlClient *self, guint interval_ms);

/* Agent methods (org.keylime.Verifier1.Agent and Manager.RemoveAgent). */
void kl_client_stop_agent_async(KlClient *self,
				const gchar *agent_id,
				GCancellable *cancellable,
				GAsyncReadyCallback callback,
				gpointer user_data);
gboolean kl_client_stop_agent_finish(KlClient *self, GAsyncResult *result, GError **error);
void kl_client_reactivate_agent_async(KlClient *self,
				      const gchar *agent_id,
				      GCancellable *cancellable,
				      GAsyncReadyCallback callback,
				      gpointer user_data);
gboolean kl_client_reactivate_agent_finish(KlClient *self, GAsyncResult *result, GError **error);
void kl_client_remove_agent_async(KlClient *self,
				  const gchar *agent_id,
				  GCancellable *cancellable,
				  GAsyncReadyCallback callback,
				  gpointer user_data);
gboolean kl_client_remove_agent_finish(KlClient *self, GAsyncResult *result, GError **error);
/* Both finish with a GPtrArray of KlClientEvent, newest first. */
void kl_client_get_failures_async(KlClient *self,
				  const gchar *agent_id,
				  guint max,
				  GCancellable *cancellable,
				  GAsyncReadyCallback callback,
				  gpointer user_data);
GPtrArray *kl_client_get_failures_finish(KlClient *self, GAsyncResult *result, GError **error);
void kl_client_get_revocations_async(KlClient *self,
				     const gchar *agent_id,
				     guint max,
				     GCancellable *cancellable,
				     GAsyncReadyCallback callback,
				     gpointer user_data);
GPtrArray *kl_client_get_revocations_finish(KlClient *self, GAsyncResult *result, GError **error);

/* Manager.AddAgent: @options is an a{sv} of upstream's POST keys (a
 * floating reference is sunk).  Finishes with the agent's object path. */
void kl_client_add_agent_async(KlClient *self,
			       const gchar *agent_id,
			       GVariant *options,
			       GCancellable *cancellable,
			       GAsyncReadyCallback callback,
			       gpointer user_data);
gchar *kl_client_add_agent_finish(KlClient *self, GAsyncResult *result, GError **error);
/* Manager.EnrollAgent: @options a{sv} ("agent_id", ...), the payload read
 * from @payload_fd (duplicated; an empty file for none).  The verifier's
 * EnrollmentProgress signals are re-emitted as "enrollment-progress". */
void kl_client_enroll_agent_async(KlClient *self,
				  GVariant *options,
				  int payload_fd,
				  GCancellable *cancellable,
				  GAsyncReadyCallback callback,
				  gpointer user_data);
gchar *kl_client_enroll_agent_finish(KlClient *self, GAsyncResult *result, GError **error);
/* The same with the payload in memory (NULL: none), handed over in an
 * anonymous file; finishes with kl_client_enroll_agent_finish(). */
void kl_client_enroll_agent_bytes_async(KlClient *self,
					GVariant *options,
					GBytes *payload,
					GCancellable *cancellable,
					GAsyncReadyCallback callback,
					gpointer user_data);

/*
 * The enrollment wizards' list: org.keylime.Registrar1's activated agents
 * (on the same bus connection) that the verifier does not attest yet,
 * sorted.  Finishes with a GStrv; with G_DBUS_ERROR_SERVICE_UNKNOWN when
 * the registrar is not on the bus (it is D-Bus activated on a system bus).
 * Implemented in kl-client-registrar.c.
 */
void kl_client_list_unenrolled_agents_async(KlClient *self,
					    GCancellable *cancellable,
					    GAsyncReadyCallback callback,
					    gpointer user_data);
GStrv kl_client_list_unenrolled_agents_finish(KlClient *self, GAsyncResult *result, GError **error);
/* Registrar1.GetAgent: the record as an a{sv} (agent_id, ip, port, regcount,
 * active, ...), for the wizards' review page. */
void kl_client_get_registered_agent_async(KlClient *self,
					  const gchar *agent_id,
					  GCancellable *cancellable,
					  GAsyncReadyCallback callback,
					  gpointer user_data);
GVariant *
kl_client_get_registered_agent_finish(KlClient *self, GAsyncResult *result, GError **error);

/*
 * May this client's user make the changes polkit action @action_id guards
 * (org.keylime.verifier.manage-agents, ...)?  Asks polkit without
 * interaction, as the verifier does on the system bus: TRUE when it
 * authorizes or would after authentication.  Without polkit on the bus (a
 * session or private bus) the verifier lets its own user and root: so
 * does this.  Consoles grey out what would be refused.  Implemented in
 * kl-client-authorization.c.
 */
void kl_client_check_authorization_async(KlClient *self,
					 const gchar *action_id,
					 GCancellable *cancellable,
					 GAsyncReadyCallback callback,
					 gpointer user_data);
/* FALSE without @error: not authorized; FALSE with @error: cannot tell. */
gboolean kl_client_check_authorization_finish(KlClient *self, GAsyncResult *result, GError **error);

/* Named policies; the policy is read from @policy_fd (duplicated). */
void kl_client_add_policy_async(KlClient *self,
				KlClientPolicyKind kind,
				const gchar *name,
				int policy_fd,
				GCancellable *cancellable,
				GAsyncReadyCallback callback,
				gpointer user_data);
gboolean kl_client_add_policy_finish(KlClient *self, GAsyncResult *result, GError **error);
void kl_client_list_policies_async(KlClient *self,
				   KlClientPolicyKind kind,
				   GCancellable *cancellable,
				   GAsyncReadyCallback callback,
				   gpointer user_data);
GStrv kl_client_list_policies_finish(KlClient *self, GAsyncResult *result, GError **error);
void kl_client_get_policy_async(KlClient *self,
				KlClientPolicyKind kind,
				const gchar *name,
				GCancellable *cancellable,
				GAsyncReadyCallback callback,
				gpointer user_data);
gchar *kl_client_get_policy_finish(KlClient *self, GAsyncResult *result, GError **error);
void kl_client_delete_policy_async(KlClient *self,
				   KlClientPolicyKind kind,
				   const gchar *name,
				   GCancellable *cancellable,
				   GAsyncReadyCallback callback,
				   gpointer user_data);
gboolean kl_client_delete_policy_finish(KlClient *self, GAsyncResult *result, GError **error);

G_END_DECLS
