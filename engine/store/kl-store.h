/*
 * kl-store: one sqlite database file of a service (registrar, verifier):
 * opened with WAL, synchronous=FULL, foreign keys and a busy timeout;
 * a schema version and a caller-given chain of forward migrations;
 * write transactions that roll back unless committed; prepared statements
 * cached per SQL text behind KlStoreQuery, whose typed binds and columns
 * report sqlite errors as GErrors naming the statement's purpose — never
 * the bound values, which may be secrets.
 *
 * Threads: a KlStore is one sqlite connection and is not locked.  Use it
 * from one thread at a time; give each worker thread its own KlStore on the
 * same file (WAL lets readers run while a writer commits, and the busy
 * timeout serialises writers, in this process or another).
 */
#pragma once

#include <sqlite3.h>

#include <glib.h>

G_BEGIN_DECLS

#define KL_STORE_ERROR kl_store_error_quark()

typedef enum {
	KL_STORE_ERROR_FAILED,	      /* any other sqlite or file-system error */
	KL_STORE_ERROR_NOT_SUPPORTED, /* a database_url we cannot serve */
	KL_STORE_ERROR_CORRUPT,	      /* not a database, or a damaged one */
	KL_STORE_ERROR_SCHEMA,	      /* newer than this program, or another program's */
	KL_STORE_ERROR_BUSY,	      /* locked by another writer past the timeout */
	KL_STORE_ERROR_CONSTRAINT,    /* UNIQUE, PRIMARY KEY, FOREIGN KEY, CHECK, NOT NULL */
} KlStoreError;

GQuark kl_store_error_quark(void);

/* Upstream's default file names under the state directory (§10). */
#define KL_STORE_VERIFIER_FILE	"cv_data.sqlite"
#define KL_STORE_REGISTRAR_FILE "reg_data.sqlite"

/* How long a writer waits for another writer before KL_STORE_ERROR_BUSY. */
#define KL_STORE_BUSY_TIMEOUT_MS 5000

typedef struct _KlStore KlStore;
typedef struct _KlStoreQuery KlStoreQuery;
typedef struct _KlStoreTransaction KlStoreTransaction;

gchar *kl_store_resolve_url(const gchar *database_url,
			    const gchar *state_dir,
			    const gchar *default_file,
			    GError **error);

KlStore *kl_store_open(const gchar *path, GError **error);
void kl_store_free(KlStore *self);
const gchar *kl_store_get_path(KlStore *self);
sqlite3 *kl_store_get_db(KlStore *self);
gboolean kl_store_check_integrity(KlStore *self, GError **error);

/* Schema versions: migrations[i] takes the schema from version i to i + 1. */
typedef gboolean (*KlStoreMigrateFunc)(KlStore *store, gpointer user_data, GError **error);

typedef struct {
	const gchar *sql;	 /* one or more statements, or NULL */
	KlStoreMigrateFunc func; /* run after sql, or NULL */
} KlStoreMigration;

gboolean kl_store_migrate(KlStore *self,
			  const gchar *schema_name,
			  const KlStoreMigration *migrations,
			  guint n_migrations,
			  gpointer user_data,
			  GError **error);
/*
 * A file another program made (upstream Keylime's cv_data.sqlite) becomes
 * @schema_name at version 0 when it has no schema version yet and each of
 * its tables is named in @tables; the migrations then run over it, so they
 * must create those tables IF NOT EXISTS.  Call before kl_store_migrate();
 * a file with a version, or with no tables, is left as it is.
 */
gboolean
kl_store_adopt(KlStore *self, const gchar *schema_name, const gchar *const *tables, GError **error);
gboolean
kl_store_get_version(KlStore *self, const gchar *schema_name, guint *version, GError **error);

/* A write transaction (BEGIN IMMEDIATE); freed uncommitted, it rolls back. */
KlStoreTransaction *kl_store_transaction_begin(KlStore *self, GError **error);
gboolean kl_store_transaction_commit(KlStoreTransaction *tx, GError **error);
void kl_store_transaction_free(KlStoreTransaction *tx);

typedef gboolean (*KlStoreTransactionFunc)(KlStore *store, gpointer user_data, GError **error);
gboolean kl_store_run_in_transaction(KlStore *self,
				     KlStoreTransactionFunc func,
				     gpointer user_data,
				     GError **error);

/* Runs statements without parameters (schema, pragmas); not for values. */
gboolean kl_store_exec(KlStore *self, const gchar *sql, const gchar *purpose, GError **error);
gint64 kl_store_get_changes(KlStore *self);
gint64 kl_store_get_last_insert_rowid(KlStore *self);

/*
 * A statement from the cache, reset and its bindings cleared when freed.
 * A failed bind is kept and reported by the next step or exec, so a run of
 * binds needs no checks of its own.  Parameters and columns count as
 * sqlite counts them: parameters from 1, columns from 0.
 */
KlStoreQuery *
kl_store_query_new(KlStore *self, const gchar *sql, const gchar *purpose, GError **error);
void kl_store_query_free(KlStoreQuery *query);
void kl_store_query_bind_null(KlStoreQuery *query, gint param);
void kl_store_query_bind_text(KlStoreQuery *query, gint param, const gchar *value);
void kl_store_query_bind_int64(KlStoreQuery *query, gint param, gint64 value);
void kl_store_query_bind_boolean(KlStoreQuery *query, gint param, gboolean value);
void kl_store_query_bind_blob(KlStoreQuery *query, gint param, const guint8 *data, gsize len);
void kl_store_query_bind_bytes(KlStoreQuery *query, gint param, GBytes *bytes);
gboolean kl_store_query_step(KlStoreQuery *query, gboolean *has_row, GError **error);
gboolean kl_store_query_exec(KlStoreQuery *query, GError **error);
/* Runs @query to the end: the first column of every row, as strings. */
GPtrArray *kl_store_query_collect_texts(KlStoreQuery *query, GError **error);
gboolean kl_store_query_is_null(KlStoreQuery *query, gint column);
const gchar *kl_store_query_get_text(KlStoreQuery *query, gint column);
gchar *kl_store_query_dup_text(KlStoreQuery *query, gint column);
gint64 kl_store_query_get_int64(KlStoreQuery *query, gint column);
gboolean kl_store_query_get_boolean(KlStoreQuery *query, gint column);
GBytes *kl_store_query_dup_bytes(KlStoreQuery *query, gint column);
sqlite3_stmt *kl_store_query_get_stmt(KlStoreQuery *query);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlStore, kl_store_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlStoreQuery, kl_store_query_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlStoreTransaction, kl_store_transaction_free)
/* For statements outside the cache; sqlite3_finalize(NULL) is harmless. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sqlite3_stmt, sqlite3_finalize)

G_END_DECLS
