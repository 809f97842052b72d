/*
 * KlRegistrar: the registrar's logic, with no network in it.  Binds an
 * agent's AK to its TPM's EK (software MakeCredential over a fresh
 * challenge, checked by the auth_tag the agent returns), refuses identity
 * takeovers, and keeps the records in a KlRegistrarStore.  The REST and
 * D-Bus front-ends translate to these calls and follow its signals.
 */
#pragma once

#include "kl-registrar-request.h"
#include "kl-registrar-store.h"

G_BEGIN_DECLS

#define KL_TYPE_REGISTRAR (kl_registrar_get_type())
G_DECLARE_FINAL_TYPE(KlRegistrar, kl_registrar, KL, REGISTRAR, GObject)

/* Takes @store. */
KlRegistrar *kl_registrar_new(KlRegistrarStore *store, KlRegistrarTpmIdentity identity);

/* Returns the MakeCredential blob (tpm2-tools credential file format). */
GBytes *
kl_registrar_register(KlRegistrar *self, const gchar *agent_id, JsonObject *body, GError **error);
void kl_registrar_register_async(KlRegistrar *self,
				 const gchar *agent_id,
				 JsonObject *body,
				 GCancellable *cancellable,
				 GAsyncReadyCallback callback,
				 gpointer user_data);
GBytes *kl_registrar_register_finish(KlRegistrar *self, GAsyncResult *result, GError **error);
gboolean kl_registrar_activate(KlRegistrar *self,
			       const gchar *agent_id,
			       const gchar *auth_tag,
			       GError **error);

/* KL_ERROR_NOT_FOUND unless the agent exists and, for @active_only, is active. */
KlRegistrarAgent *kl_registrar_get_agent(KlRegistrar *self,
					 const gchar *agent_id,
					 gboolean active_only,
					 GError **error);
GPtrArray *kl_registrar_list_agents(KlRegistrar *self, GError **error);
gboolean kl_registrar_count_agents(KlRegistrar *self, guint *count, GError **error);
gboolean kl_registrar_delete_agent(KlRegistrar *self, const gchar *agent_id, GError **error);

G_END_DECLS
