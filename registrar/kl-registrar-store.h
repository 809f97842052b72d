/*
 * kl-registrar-store: the registrar's sqlite file (reg_data.sqlite) with
 * upstream's registrarmain table, so a database upstream's registrar made
 * is adopted as it is.  Every write is one transaction.
 */
#pragma once

#include "kl-registrar-agent.h"
#include "kl-store.h"

G_BEGIN_DECLS

typedef struct _KlRegistrarStore KlRegistrarStore;

KlRegistrarStore *kl_registrar_store_open(const gchar *path, GError **error);
void kl_registrar_store_free(KlRegistrarStore *self);
KlStore *kl_registrar_store_get_store(KlRegistrarStore *self);

/* NULL without an error when there is no such agent. */
KlRegistrarAgent *
kl_registrar_store_get_agent(KlRegistrarStore *self, const gchar *agent_id, GError **error);
/* Inserts or replaces the whole row. */
gboolean
kl_registrar_store_put_agent(KlRegistrarStore *self, const KlRegistrarAgent *agent, GError **error);
gboolean kl_registrar_store_set_active(KlRegistrarStore *self,
				       const gchar *agent_id,
				       gboolean active,
				       GError **error);
/* *deleted tells whether there was such an agent. */
gboolean kl_registrar_store_delete_agent(KlRegistrarStore *self,
					 const gchar *agent_id,
					 gboolean *deleted,
					 GError **error);
/* Sorted agent ids; only the active ones when @active_only. */
GPtrArray *
kl_registrar_store_list_agents(KlRegistrarStore *self, gboolean active_only, GError **error);

gboolean kl_registrar_store_count_agents(KlRegistrarStore *self, guint *count, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlRegistrarStore, kl_registrar_store_free)

G_END_DECLS
