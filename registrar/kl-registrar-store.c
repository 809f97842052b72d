/*
 * The registrar's records in sqlite.  The table keeps upstream's name and
 * columns (keylime/db/registrar_db.py), created only if missing, so that an
 * operator can point keylime_registrar at upstream's reg_data.sqlite.
 */
#include "config.h"

#include "kl-registrar-store.h"

struct _KlRegistrarStore {
	KlStore *store;
};

static const KlStoreMigration kl_registrar_store_migrations[] = {
	{"CREATE TABLE IF NOT EXISTS registrarmain ("
	 "agent_id VARCHAR(80) NOT NULL PRIMARY KEY, "
	 "key VARCHAR(45), "
	 "aik_tpm VARCHAR(500), "
	 "ekcert VARCHAR(2048), "
	 "ek_tpm VARCHAR(500), "
	 "iak_tpm VARCHAR(500), "
	 "idevid_tpm VARCHAR(500), "
	 "iak_cert VARCHAR(2048), "
	 "idevid_cert VARCHAR(2048), "
	 "mtls_cert VARCHAR(2048), "
	 "virtual INTEGER, "
	 "ip VARCHAR(15), "
	 "port INTEGER, "
	 "active INTEGER, "
	 "provider_keys TEXT, "
	 "regcount INTEGER)",
	 NULL},
};

/* upstream's registrar database: its table and alembic's bookkeeping */
static const gchar *const kl_registrar_store_known_tables[] = {
	"registrarmain",
	"alembic_version",
	NULL,
};

KlRegistrarStore *
kl_registrar_store_open(const gchar *path, GError **error)
{
	g_autoptr(KlStore) store = NULL;
	KlRegistrarStore *self;

	g_return_val_if_fail(path != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	store = kl_store_open(path, error);
	if (store == NULL)
		return NULL;
	if (!kl_store_adopt(store, "registrar", kl_registrar_store_known_tables, error) ||
	    !kl_store_migrate(store,
			      "registrar",
			      kl_registrar_store_migrations,
			      G_N_ELEMENTS(kl_registrar_store_migrations),
			      NULL,
			      error))
		return NULL;

	self = g_new0(KlRegistrarStore, 1);
	self->store = g_steal_pointer(&store);
	return self;
}

void
kl_registrar_store_free(KlRegistrarStore *self)
{
	if (self == NULL)
		return;
	kl_store_free(self->store);
	g_free(self);
}

KlStore *
kl_registrar_store_get_store(KlRegistrarStore *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->store;
}

KlRegistrarAgent *
kl_registrar_store_get_agent(KlRegistrarStore *self, const gchar *agent_id, GError **error)
{
	g_autoptr(KlStoreQuery) query = NULL;
	g_autoptr(KlRegistrarAgent) agent = NULL;
	gboolean has_row = FALSE;

	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(agent_id != NULL, NULL);

	query = kl_store_query_new(self->store,
				   "SELECT key, aik_tpm, ek_tpm, ekcert, mtls_cert, ip, port, "
				   "active, regcount FROM registrarmain WHERE agent_id = ?",
				   "reading an agent",
				   error);
	if (query == NULL)
		return NULL;
	kl_store_query_bind_text(query, 1, agent_id);
	if (!kl_store_query_step(query, &has_row, error))
		return NULL;
	if (!has_row)
		return NULL;

	agent = kl_registrar_agent_new(agent_id);
	agent->key = kl_store_query_dup_text(query, 0);
	agent->aik_tpm = kl_store_query_dup_text(query, 1);
	agent->ek_tpm = kl_store_query_dup_text(query, 2);
	agent->ekcert = kl_store_query_dup_text(query, 3);
	agent->mtls_cert = kl_store_query_dup_text(query, 4);
	agent->ip = kl_store_query_dup_text(query, 5);
	agent->port = kl_store_query_get_int64(query, 6);
	agent->active = kl_store_query_get_boolean(query, 7);
	agent->regcount = kl_store_query_get_int64(query, 8);
	return g_steal_pointer(&agent);
}

gboolean
kl_registrar_store_put_agent(KlRegistrarStore *self, const KlRegistrarAgent *agent, GError **error)
{
	g_autoptr(KlStoreQuery) query = NULL;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(agent != NULL, FALSE);

	query = kl_store_query_new(
		self->store,
		"INSERT OR REPLACE INTO registrarmain (agent_id, key, aik_tpm, "
		"ek_tpm, ekcert, mtls_cert, ip, port, active, regcount, virtual) "
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
		"storing an agent",
		error);
	if (query == NULL)
		return FALSE;
	kl_store_query_bind_text(query, 1, agent->agent_id);
	kl_store_query_bind_text(query, 2, agent->key);
	kl_store_query_bind_text(query, 3, agent->aik_tpm);
	kl_store_query_bind_text(query, 4, agent->ek_tpm);
	kl_store_query_bind_text(query, 5, agent->ekcert);
	kl_store_query_bind_text(query, 6, agent->mtls_cert);
	kl_store_query_bind_text(query, 7, agent->ip);
	if (agent->port > 0)
		kl_store_query_bind_int64(query, 8, agent->port);
	else
		kl_store_query_bind_null(query, 8);
	kl_store_query_bind_boolean(query, 9, agent->active);
	kl_store_query_bind_int64(query, 10, agent->regcount);
	return kl_store_query_exec(query, error);
}

gboolean
kl_registrar_store_set_active(KlRegistrarStore *self,
			      const gchar *agent_id,
			      gboolean active,
			      GError **error)
{
	g_autoptr(KlStoreQuery) query = NULL;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(agent_id != NULL, FALSE);

	query = kl_store_query_new(self->store,
				   "UPDATE registrarmain SET active = ? WHERE agent_id = ?",
				   "activating an agent",
				   error);
	if (query == NULL)
		return FALSE;
	kl_store_query_bind_boolean(query, 1, active);
	kl_store_query_bind_text(query, 2, agent_id);
	return kl_store_query_exec(query, error);
}

gboolean
kl_registrar_store_delete_agent(KlRegistrarStore *self,
				const gchar *agent_id,
				gboolean *deleted,
				GError **error)
{
	g_autoptr(KlStoreQuery) query = NULL;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(agent_id != NULL, FALSE);

	query = kl_store_query_new(self->store,
				   "DELETE FROM registrarmain WHERE agent_id = ?",
				   "deleting an agent",
				   error);
	if (query == NULL)
		return FALSE;
	kl_store_query_bind_text(query, 1, agent_id);
	if (!kl_store_query_exec(query, error))
		return FALSE;
	if (deleted != NULL)
		*deleted = kl_store_get_changes(self->store) > 0;
	return TRUE;
}

GPtrArray *
kl_registrar_store_list_agents(KlRegistrarStore *self, gboolean active_only, GError **error)
{
	g_autoptr(KlStoreQuery) query = NULL;

	g_return_val_if_fail(self != NULL, NULL);

	query = kl_store_query_new(self->store,
				   "SELECT agent_id FROM registrarmain WHERE active OR NOT ? "
				   "ORDER BY agent_id",
				   "listing agents",
				   error);
	if (query == NULL)
		return NULL;
	kl_store_query_bind_boolean(query, 1, active_only);
	return kl_store_query_collect_texts(query, error);
}

gboolean
kl_registrar_store_count_agents(KlRegistrarStore *self, guint *count, GError **error)
{
	g_autoptr(KlStoreQuery) query = NULL;
	gboolean has_row = FALSE;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(count != NULL, FALSE);

	query = kl_store_query_new(self->store,
				   "SELECT count(*) FROM registrarmain",
				   "counting agents",
				   error);
	if (query == NULL || !kl_store_query_step(query, &has_row, error))
		return FALSE;
	*count = has_row ? (guint)kl_store_query_get_int64(query, 0) : 0;
	return TRUE;
}
