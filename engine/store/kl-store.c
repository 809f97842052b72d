/*
 * The sqlite file of one service.  Durability: synchronous=FULL, so a
 * commit acknowledged to a client (a registration, a deleted agent, a
 * revocation) survives a power cut as well as a crash; NORMAL in WAL mode
 * may lose the last commits on power loss and bring a deleted agent back.
 * Upstream (SQLAlchemy on sqlite) is FULL too.  Writers that commit often
 * should batch several records into one transaction instead.
 */
#define G_LOG_DOMAIN "KlStore"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "kl-store.h"

GQuark
kl_store_error_quark(void)
{
	return g_quark_from_static_string("kl-store-error-quark");
}

typedef struct {
	sqlite3_stmt *stmt;
	gboolean in_use;
} KlStoreCached;

struct _KlStore {
	gchar *path;
	sqlite3 *db;
	GHashTable *stmts; /* SQL text → KlStoreCached */
};

struct _KlStoreQuery {
	KlStore *store;
	sqlite3_stmt *stmt;
	KlStoreCached *cached; /* NULL: a private statement, finalized on free */
	gchar *purpose;
	gint bind_rc;
	gint bind_param;
};

struct _KlStoreTransaction {
	KlStore *store;
	gboolean done;
};

static gint
kl_store_error_code(gint rc)
{
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
		return KL_STORE_ERROR_CONSTRAINT;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return KL_STORE_ERROR_BUSY;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return KL_STORE_ERROR_CORRUPT;
	default:
		return KL_STORE_ERROR_FAILED;
	}
}

/* sqlite's message names tables and columns, never the bound values. */
static void
kl_store_set_error(GError **error, KlStore *self, gint rc, const gchar *purpose)
{
	const gchar *msg = self->db != NULL ? sqlite3_errmsg(self->db) : sqlite3_errstr(rc);
	g_set_error(error,
		    KL_STORE_ERROR,
		    kl_store_error_code(rc),
		    "%s: %s (sqlite %d)",
		    purpose,
		    msg,
		    rc);
}

static void
kl_store_cached_free(KlStoreCached *cached)
{
	sqlite3_finalize(cached->stmt);
	g_free(cached);
}

void
kl_store_free(KlStore *self)
{
	if (self == NULL)
		return;
	g_hash_table_unref(self->stmts);
	/* close_v2 waits for statements a careless caller still holds. */
	sqlite3_close_v2(self->db);
	g_free(self->path);
	g_free(self);
}

const gchar *
kl_store_get_path(KlStore *self)
{
	return self->path;
}

sqlite3 *
kl_store_get_db(KlStore *self)
{
	return self->db;
}

gint64
kl_store_get_changes(KlStore *self)
{
	return sqlite3_changes64(self->db);
}

gint64
kl_store_get_last_insert_rowid(KlStore *self)
{
	return sqlite3_last_insert_rowid(self->db);
}

gboolean
kl_store_exec(KlStore *self, const gchar *sql, const gchar *purpose, GError **error)
{
	gint rc = sqlite3_exec(self->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		kl_store_set_error(error, self, rc, purpose);
		return FALSE;
	}
	return TRUE;
}

/*
 * Keylime's database_url: "sqlite" is the default file under the state
 * directory; otherwise an SQLAlchemy URL, of which only sqlite is served.
 * As in SQLAlchemy, sqlite:////abs/file is absolute; sqlite:///rel/file is
 * taken under the state directory rather than a daemon's working directory.
 */
gchar *
kl_store_resolve_url(const gchar *database_url,
		     const gchar *state_dir,
		     const gchar *default_file,
		     GError **error)
{
	g_autofree gchar *url = g_strstrip(g_strdup(database_url != NULL ? database_url : ""));
	g_autofree gchar *scheme = NULL;
	g_autofree gchar *driver = NULL;
	const gchar *sep;
	const gchar *rest;
	const gchar *file;

	g_return_val_if_fail(state_dir != NULL, NULL);
	g_return_val_if_fail(default_file != NULL, NULL);

	if (g_strcmp0(url, "sqlite") == 0)
		return g_build_filename(state_dir, default_file, NULL);
	sep = strstr(url, "://");
	if (sep == NULL || sep == url) {
		g_set_error_literal(error,
				    KL_STORE_ERROR,
				    KL_STORE_ERROR_NOT_SUPPORTED,
				    "database_url: expected 'sqlite' or a sqlite:/// URL");
		return NULL;
	}
	/* Only the scheme goes into messages: the rest may hold a password. */
	scheme = g_ascii_strdown(url, sep - url);
	driver = g_strdup(scheme);
	if (strchr(driver, '+') != NULL)
		*strchr(driver, '+') = '\0';
	if (g_strcmp0(driver, "sqlite") != 0) {
		g_set_error(error,
			    KL_STORE_ERROR,
			    KL_STORE_ERROR_NOT_SUPPORTED,
			    "database_url: %s databases are not supported, only sqlite",
			    g_str_is_ascii(driver) ? driver : "these");
		return NULL;
	}
	rest = sep + 3;
	if (rest[0] != '/') {
		g_set_error_literal(error,
				    KL_STORE_ERROR,
				    KL_STORE_ERROR_NOT_SUPPORTED,
				    "database_url: in-memory or host-qualified sqlite URLs are not "
				    "supported; use sqlite:////absolute/path");
		return NULL;
	}
	file = rest + 1;
	if (strchr(file, '?') != NULL) {
		g_set_error_literal(error,
				    KL_STORE_ERROR,
				    KL_STORE_ERROR_NOT_SUPPORTED,
				    "database_url: URL parameters are not supported");
		return NULL;
	}
	if (file[0] == '\0') {
		g_set_error_literal(error,
				    KL_STORE_ERROR,
				    KL_STORE_ERROR_NOT_SUPPORTED,
				    "database_url: the sqlite URL names no file");
		return NULL;
	}
	if (g_path_is_absolute(file))
		return g_strdup(file);
	return g_build_filename(state_dir, file, NULL);
}

/* Creates the file 0600 ourselves: sqlite gives its -wal and -shm the same mode. */
static gboolean
kl_store_prepare_file(const gchar *path, GError **error)
{
	g_autofree gchar *dir = g_path_get_dirname(path);
	struct stat st;
	gint fd;
	gint saved_errno;

	if (g_mkdir_with_parents(dir, 0700) != 0) {
		saved_errno = errno;
		g_set_error(error,
			    KL_STORE_ERROR,
			    KL_STORE_ERROR_FAILED,
			    "creating directory %s: %s",
			    dir,
			    g_strerror(saved_errno));
		return FALSE;
	}
	fd = g_open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		saved_errno = errno;
		g_set_error(error,
			    KL_STORE_ERROR,
			    KL_STORE_ERROR_FAILED,
			    "opening %s: %s",
			    path,
			    g_strerror(saved_errno));
		return FALSE;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		g_set_error(error,
			    KL_STORE_ERROR,
			    KL_STORE_ERROR_FAILED,
			    "%s is not a regular file",
			    path);
		close(fd);
		return FALSE;
	}
	/* The verifier's file holds V and revocation keys: nobody else reads it. */
	if ((st.st_mode & 077) != 0) {
		g_info("tightening the permissions of %s to 0600", path);
		if (fchmod(fd, 0600) != 0) {
			saved_errno = errno;
			g_set_error(error,
				    KL_STORE_ERROR,
				    KL_STORE_ERROR_FAILED,
				    "chmod %s: %s",
				    path,
				    g_strerror(saved_errno));
			close(fd);
			return FALSE;
		}
	}
	close(fd);
	return TRUE;
}

KlStore *
kl_store_open(const gchar *path, GError **error)
{
	g_autoptr(KlStore) self = NULL;
	g_autoptr(KlStoreQuery) query = NULL;
	const gchar *mode;
	gboolean has_row = FALSE;
	gint rc;

	g_return_val_if_fail(path != NULL, NULL);

	if (path[0] == '\0') {
		g_set_error_literal(error,
				    KL_STORE_ERROR,
				    KL_STORE_ERROR_FAILED,
				    "no database file given");
		return NULL;
	}
	if (!kl_store_prepare_file(path, error))
		return NULL;

	self = g_new0(KlStore, 1);
	self->path = g_strdup(path);
	self->stmts = g_hash_table_new_full(g_str_hash,
					    g_str_equal,
					    g_free,
					    (GDestroyNotify)kl_store_cached_free);
	/* NOMUTEX: a KlStore is used by one thread at a time (see the header). */
	rc = sqlite3_open_v2(path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		kl_store_set_error(error, self, rc, "opening the database");
		g_prefix_error(error, "%s: ", path);
		return NULL;
	}
	sqlite3_extended_result_codes(self->db, 1);
	sqlite3_busy_timeout(self->db, KL_STORE_BUSY_TIMEOUT_MS);
	/* Refuse writes to sqlite_master and similar ways to corrupt the file. */
	sqlite3_db_config(self->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(self->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);

	/* The first statement reads the header: a damaged file fails here. */
	query = kl_store_query_new(self, "PRAGMA journal_mode=WAL", "enabling WAL", error);
	if (query == NULL || !kl_store_query_step(query, &has_row, error)) {
		g_prefix_error(error, "%s: ", path);
		return NULL;
	}
	mode = has_row ? kl_store_query_get_text(query, 0) : NULL;
	if (g_strcmp0(mode, "wal") != 0) {
		g_set_error(error,
			    KL_STORE_ERROR,
			    KL_STORE_ERROR_FAILED,
			    "%s: sqlite kept journal mode %s instead of WAL",
			    path,
			    mode != NULL ? mode : "(none)");
		return NULL;
	}
	g_clear_pointer(&query, kl_store_query_free);

	/* secure_delete: a deleted agent's V and keys do not linger in free pages. */
	if (!kl_store_exec(self,
			   "PRAGMA synchronous=FULL;"
			   "PRAGMA foreign_keys=ON;"
			   "PRAGMA secure_delete=ON;",
			   "setting pragmas",
			   error)) {
		g_prefix_error(error, "%s: ", path);
		return NULL;
	}
	return g_steal_pointer(&self);
}

/* A full read of every page: slow on large files, meant for tools and checks. */
gboolean
kl_store_check_integrity(KlStore *self, GError **error)
{
	g_autoptr(KlStoreQuery) query = NULL;
	const gchar *result;
	gboolean has_row = FALSE;

	query = kl_store_query_new(self, "PRAGMA quick_check", "checking integrity", error);
	if (query == NULL || !kl_store_query_step(query, &has_row, error))
		return FALSE;
	result = has_row ? kl_store_query_get_text(query, 0) : NULL;
	if (g_strcmp0(result, "ok") != 0) {
		g_auto(GStrv) lines = g_strsplit(result != NULL ? result : "no result", "\n", 4);
		g_autofree gchar *summary = NULL;
		/* The first findings, on one line: page numbers, never contents. */
		if (g_strv_length(lines) > 3)
			g_clear_pointer(&lines[3], g_free);
		summary = g_strjoinv("; ", lines);
		g_set_error(error,
			    KL_STORE_ERROR,
			    KL_STORE_ERROR_CORRUPT,
			    "%s: the database is damaged: %s",
			    self->path,
			    summary);
		return FALSE;
	}
	return TRUE;
}

/* Transactions */

KlStoreTransaction *
kl_store_transaction_begin(KlStore *self, GError **error)
{
	KlStoreTransaction *tx;

	if (!sqlite3_get_autocommit(self->db)) {
		g_set_error_literal(error,
				    KL_STORE_ERROR,
				    KL_STORE_ERROR_FAILED,
				    "beginning a transaction: one is already open");
		return NULL;
	}
	/* IMMEDIATE takes the write lock now, under the busy timeout, rather than
	 * failing with SQLITE_BUSY halfway through. */
	if (!kl_store_exec(self, "BEGIN IMMEDIATE", "beginning a transaction", error))
		return NULL;
	tx = g_new0(KlStoreTransaction, 1);
	tx->store = self;
	return tx;
}

gboolean
kl_store_transaction_commit(KlStoreTransaction *tx, GError **error)
{
	g_return_val_if_fail(tx != NULL, FALSE);
	g_return_val_if_fail(!tx->done, FALSE);

	/* On failure the transaction may still be open; free rolls it back. */
	if (!kl_store_exec(tx->store, "COMMIT", "committing a transaction", error))
		return FALSE;
	tx->done = TRUE;
	return TRUE;
}

void
kl_store_transaction_free(KlStoreTransaction *tx)
{
	if (tx == NULL)
		return;
	/* sqlite rolls back by itself after some errors: then nothing is open. */
	if (!tx->done && !sqlite3_get_autocommit(tx->store->db)) {
		g_autoptr(GError) error = NULL;
		if (!kl_store_exec(tx->store, "ROLLBACK", "rolling back a transaction", &error))
			g_warning("%s", error->message);
	}
	g_free(tx);
}

gboolean
kl_store_run_in_transaction(KlStore *self,
			    KlStoreTransactionFunc func,
			    gpointer user_data,
			    GError **error)
{
	g_autoptr(KlStoreTransaction) tx = kl_store_transaction_begin(self, error);
	g_autoptr(GError) error_local = NULL;

	if (tx == NULL)
		return FALSE;
	if (!func(self, user_data, &error_local)) {
		if (error_local == NULL) {
			g_set_error_literal(&error_local,
					    KL_STORE_ERROR,
					    KL_STORE_ERROR_FAILED,
					    "transaction failed without a reason");
		}
		g_propagate_error(error, g_steal_pointer(&error_local));
		return FALSE;
	}
	return kl_store_transaction_commit(tx, error);
}

/* Schema versions */

static gboolean
kl_store_read_schema(KlStore *self,
		     const gchar *schema_name,
		     gboolean *exists,
		     guint *version,
		     GError **error)
{
	g_autoptr(KlStoreQuery) query = NULL;
	gboolean has_row = FALSE;
	gint64 value;

	query = kl_store_query_new(self,
				   "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
				   "name = 'kl_schema'",
				   "looking for the schema version",
				   error);
	if (query == NULL || !kl_store_query_step(query, &has_row, error))
		return FALSE;
	*exists = has_row && kl_store_query_get_int64(query, 0) > 0;
	g_clear_pointer(&query, kl_store_query_free);
	if (!*exists) {
		*version = 0;
		return TRUE;
	}

	query = kl_store_query_new(self,
				   "SELECT name, version FROM kl_schema WHERE id = 1",
				   "reading the schema version",
				   error);
	if (query == NULL || !kl_store_query_step(query, &has_row, error))
		return FALSE;
	if (!has_row) {
		g_set_error(error,
			    KL_STORE_ERROR,
			    KL_STORE_ERROR_SCHEMA,
			    "%s: the schema version table is empty",
			    self->path);
		return FALSE;
	}
	if (g_strcmp0(kl_store_query_get_text(query, 0), schema_name) != 0) {
		g_set_error(error,
			    KL_STORE_ERROR,
			    KL_STORE_ERROR_SCHEMA,
			    "%s holds another schema than %s",
			    self->path,
			    schema_name);
		return FALSE;
	}
	value = kl_store_query_get_int64(query, 1);
	if (value < 0 || value > G_MAXINT) {
		g_set_error(error,
			    KL_STORE_ERROR,
			    KL_STORE_ERROR_SCHEMA,
			    "%s: invalid schema version",
			    self->path);
		return FALSE;
	}
	*version = (guint)value;
	return TRUE;
}

gboolean
kl_store_get_version(KlStore *self, const gchar *schema_name, guint *version, GError **error)
{
	gboolean exists = FALSE;
	return kl_store_read_schema(self, schema_name, &exists, version, error);
}

static gboolean
kl_store_write_schema(KlStore *self, const gchar *schema_name, GError **error)
{
	g_autoptr(KlStoreQuery) query = NULL;

	if (!kl_store_exec(self,
			   "CREATE TABLE kl_schema (id INTEGER PRIMARY KEY CHECK (id = 1), "
			   "name TEXT NOT NULL, version INTEGER NOT NULL CHECK (version >= 0))",
			   "creating the schema version table",
			   error))
		return FALSE;
	query = kl_store_query_new(self,
				   "INSERT INTO kl_schema (id, name, version) VALUES (1, ?1, 0)",
				   "writing the schema version",
				   error);
	if (query == NULL)
		return FALSE;
	kl_store_query_bind_text(query, 1, schema_name);
	return kl_store_query_exec(query, error);
}

/* Only a database with no tables at all may become ours. */
static gboolean
kl_store_create_schema(KlStore *self, const gchar *schema_name, GError **error)
{
	g_autoptr(KlStoreQuery) query = NULL;
	gboolean has_row = FALSE;

	query = kl_store_query_new(self,
				   "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
				   "counting tables",
				   error);
	if (query == NULL || !kl_store_query_step(query, &has_row, error))
		return FALSE;
	if (has_row && kl_store_query_get_int64(query, 0) > 0) {
		g_set_error(error,
			    KL_STORE_ERROR,
			    KL_STORE_ERROR_SCHEMA,
			    "%s has tables but no keylime-c schema version",
			    self->path);
		return FALSE;
	}
	g_clear_pointer(&query, kl_store_query_free);
	return kl_store_write_schema(self, schema_name, error);
}

/*
 * Upstream's file has its tables (and Alembic's) but no kl_schema.  Every
 * table must be one the caller knows, so that another program's file is
 * still refused; sqlite's own tables (sqlite_sequence, sqlite_stat1) are
 * not counted.  Names of tables are not secrets and go into the error.
 */
static gboolean
kl_store_adopt_tables(KlStore *self,
		      const gchar *schema_name,
		      const gchar *const *tables,
		      GError **error)
{
	g_autoptr(KlStoreQuery) query = NULL;
	guint n_tables = 0;

	query = kl_store_query_new(self,
				   "SELECT name FROM sqlite_master WHERE type = 'table' AND "
				   "name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
				   "listing tables",
				   error);
	if (query == NULL)
		return FALSE;
	for (;;) {
		gboolean has_row = FALSE;
		const gchar *name;

		if (!kl_store_query_step(query, &has_row, error))
			return FALSE;
		if (!has_row)
			break;
		name = kl_store_query_get_text(query, 0);
		if (name == NULL || !g_strv_contains(tables, name)) {
			g_set_error(error,
				    KL_STORE_ERROR,
				    KL_STORE_ERROR_SCHEMA,
				    "%s has table %s, which schema %s does not know",
				    self->path,
				    name != NULL ? name : "(null)",
				    schema_name);
			return FALSE;
		}
		n_tables++;
	}
	g_clear_pointer(&query, kl_store_query_free);
	/* An empty file is left to kl_store_migrate(), which creates it anew. */
	if (n_tables == 0)
		return TRUE;
	if (!kl_store_write_schema(self, schema_name, error))
		return FALSE;
	g_info("%s: adopting the tables of another program as schema %s", self->path, schema_name);
	return TRUE;
}

gboolean
kl_store_adopt(KlStore *self, const gchar *schema_name, const gchar *const *tables, GError **error)
{
	g_autoptr(KlStoreTransaction) tx = NULL;
	gboolean exists = FALSE;
	guint version = 0;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(schema_name != NULL, FALSE);
	g_return_val_if_fail(tables != NULL, FALSE);

	tx = kl_store_transaction_begin(self, error);
	if (tx == NULL)
		return FALSE;
	if (!kl_store_read_schema(self, schema_name, &exists, &version, error))
		return FALSE;
	if (!exists && !kl_store_adopt_tables(self, schema_name, tables, error)) {
		g_prefix_error(error, "adopting %s: ", self->path);
		return FALSE;
	}
	return kl_store_transaction_commit(tx, error);
}

/* One step in one transaction with its version bump; re-reads the version
 * under the write lock, as another process may have migrated meanwhile. */
static gboolean
kl_store_migrate_step(KlStore *self,
		      const gchar *schema_name,
		      const KlStoreMigration *migrations,
		      guint n_migrations,
		      gpointer user_data,
		      gboolean *finished,
		      GError **error)
{
	g_autoptr(KlStoreTransaction) tx = kl_store_transaction_begin(self, error);
	g_autoptr(KlStoreQuery) query = NULL;
	const KlStoreMigration *step;
	gboolean exists = FALSE;
	guint version = 0;

	if (tx == NULL)
		return FALSE;
	if (!kl_store_read_schema(self, schema_name, &exists, &version, error))
		return FALSE;
	if (!exists && !kl_store_create_schema(self, schema_name, error))
		return FALSE;
	if (version > n_migrations) {
		g_set_error(error,
			    KL_STORE_ERROR,
			    KL_STORE_ERROR_SCHEMA,
			    "%s: schema %s version %u is newer than this program's %u; "
			    "refusing to downgrade",
			    self->path,
			    schema_name,
			    version,
			    n_migrations);
		return FALSE;
	}
	if (version == n_migrations) {
		*finished = TRUE;
		return kl_store_transaction_commit(tx, error);
	}

	step = &migrations[version];
	if (step->sql != NULL && !kl_store_exec(self, step->sql, "running the migration", error))
		return FALSE;
	if (step->func != NULL && !step->func(self, user_data, error))
		return FALSE;
	query = kl_store_query_new(self,
				   "UPDATE kl_schema SET version = ?1 WHERE id = 1",
				   "writing the schema version",
				   error);
	if (query == NULL)
		return FALSE;
	kl_store_query_bind_int64(query, 1, (gint64)version + 1);
	if (!kl_store_query_exec(query, error))
		return FALSE;
	g_clear_pointer(&query, kl_store_query_free);
	if (!kl_store_transaction_commit(tx, error))
		return FALSE;
	g_debug("%s: schema %s migrated to version %u", self->path, schema_name, version + 1);
	return TRUE;
}

gboolean
kl_store_migrate(KlStore *self,
		 const gchar *schema_name,
		 const KlStoreMigration *migrations,
		 guint n_migrations,
		 gpointer user_data,
		 GError **error)
{
	gboolean finished = FALSE;

	g_return_val_if_fail(schema_name != NULL, FALSE);
	g_return_val_if_fail(migrations != NULL || n_migrations == 0, FALSE);

	while (!finished) {
		guint before = 0;
		g_autoptr(GError) error_local = NULL;
		if (!kl_store_get_version(self, schema_name, &before, error))
			return FALSE;
		if (!kl_store_migrate_step(self,
					   schema_name,
					   migrations,
					   n_migrations,
					   user_data,
					   &finished,
					   &error_local)) {
			if (error_local == NULL) {
				g_set_error_literal(&error_local,
						    KL_STORE_ERROR,
						    KL_STORE_ERROR_FAILED,
						    "migration failed without a reason");
			}
			g_propagate_prefixed_error(error,
						   g_steal_pointer(&error_local),
						   "migrating schema %s from version %u: ",
						   schema_name,
						   before);
			return FALSE;
		}
	}
	return TRUE;
}

/* Queries */

KlStoreQuery *
kl_store_query_new(KlStore *self, const gchar *sql, const gchar *purpose, GError **error)
{
	KlStoreCached *cached;
	KlStoreQuery *query;
	sqlite3_stmt *stmt = NULL;
	const gchar *tail = NULL;
	gint rc;

	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(sql != NULL, NULL);
	g_return_val_if_fail(purpose != NULL, NULL);

	cached = g_hash_table_lookup(self->stmts, sql);
	if (cached != NULL && !cached->in_use) {
		cached->in_use = TRUE;
		query = g_new0(KlStoreQuery, 1);
		query->store = self;
		query->stmt = cached->stmt;
		query->cached = cached;
		query->purpose = g_strdup(purpose);
		return query;
	}

	/* The same SQL already in use (a nested loop): a private statement. */
	rc = sqlite3_prepare_v3(self->db,
				sql,
				-1,
				cached == NULL ? SQLITE_PREPARE_PERSISTENT : 0,
				&stmt,
				&tail);
	if (rc != SQLITE_OK) {
		kl_store_set_error(error, self, rc, purpose);
		return NULL;
	}
	while (tail != NULL && g_ascii_isspace(*tail))
		tail++;
	if (stmt == NULL || (tail != NULL && *tail != '\0')) {
		sqlite3_finalize(stmt);
		g_set_error(error,
			    KL_STORE_ERROR,
			    KL_STORE_ERROR_FAILED,
			    "%s: expected exactly one SQL statement",
			    purpose);
		return NULL;
	}
	query = g_new0(KlStoreQuery, 1);
	query->store = self;
	query->stmt = stmt;
	query->purpose = g_strdup(purpose);
	if (cached == NULL) {
		cached = g_new0(KlStoreCached, 1);
		cached->stmt = stmt;
		cached->in_use = TRUE;
		g_hash_table_insert(self->stmts, g_strdup(sql), cached);
		query->cached = cached;
	}
	return query;
}

void
kl_store_query_free(KlStoreQuery *query)
{
	if (query == NULL)
		return;
	if (query->cached != NULL) {
		/* Reset ends the read; clearing drops copies of the values. */
		sqlite3_reset(query->stmt);
		sqlite3_clear_bindings(query->stmt);
		query->cached->in_use = FALSE;
	} else {
		sqlite3_finalize(query->stmt);
	}
	g_free(query->purpose);
	g_free(query);
}

sqlite3_stmt *
kl_store_query_get_stmt(KlStoreQuery *query)
{
	return query->stmt;
}

/* Keeps the first failed bind for the next step to report. */
static void
kl_store_query_note_bind(KlStoreQuery *query, gint param, gint rc)
{
	if (rc != SQLITE_OK && query->bind_rc == SQLITE_OK) {
		query->bind_rc = rc;
		query->bind_param = param;
	}
}

void
kl_store_query_bind_null(KlStoreQuery *query, gint param)
{
	kl_store_query_note_bind(query, param, sqlite3_bind_null(query->stmt, param));
}

void
kl_store_query_bind_text(KlStoreQuery *query, gint param, const gchar *value)
{
	gint rc;
	if (value == NULL)
		rc = sqlite3_bind_null(query->stmt, param);
	else
		rc = sqlite3_bind_text(query->stmt, param, value, -1, SQLITE_TRANSIENT);
	kl_store_query_note_bind(query, param, rc);
}

void
kl_store_query_bind_int64(KlStoreQuery *query, gint param, gint64 value)
{
	kl_store_query_note_bind(query, param, sqlite3_bind_int64(query->stmt, param, value));
}

void
kl_store_query_bind_boolean(KlStoreQuery *query, gint param, gboolean value)
{
	kl_store_query_note_bind(query, param, sqlite3_bind_int(query->stmt, param, value ? 1 : 0));
}

/* NULL data is SQL NULL; an empty blob stays an empty blob. */
void
kl_store_query_bind_blob(KlStoreQuery *query, gint param, const guint8 *data, gsize len)
{
	gint rc;
	if (data == NULL)
		rc = sqlite3_bind_null(query->stmt, param);
	else if (len == 0)
		rc = sqlite3_bind_zeroblob(query->stmt, param, 0);
	else
		rc = sqlite3_bind_blob64(query->stmt, param, data, len, SQLITE_TRANSIENT);
	kl_store_query_note_bind(query, param, rc);
}

void
kl_store_query_bind_bytes(KlStoreQuery *query, gint param, GBytes *bytes)
{
	gconstpointer data;
	gsize len = 0;

	if (bytes == NULL) {
		kl_store_query_bind_null(query, param);
		return;
	}
	data = g_bytes_get_data(bytes, &len);
	kl_store_query_bind_blob(query, param, data != NULL ? data : (const guint8 *)"", len);
}

gboolean
kl_store_query_step(KlStoreQuery *query, gboolean *has_row, GError **error)
{
	gint rc;

	if (query->bind_rc != SQLITE_OK) {
		g_set_error(error,
			    KL_STORE_ERROR,
			    kl_store_error_code(query->bind_rc),
			    "%s: binding parameter %d: %s",
			    query->purpose,
			    query->bind_param,
			    sqlite3_errstr(query->bind_rc));
		return FALSE;
	}
	rc = sqlite3_step(query->stmt);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		if (has_row != NULL)
			*has_row = rc == SQLITE_ROW;
		return TRUE;
	}
	kl_store_set_error(error, query->store, rc, query->purpose);
	return FALSE;
}

gboolean
kl_store_query_exec(KlStoreQuery *query, GError **error)
{
	gboolean has_row = TRUE;
	while (has_row) {
		if (!kl_store_query_step(query, &has_row, error))
			return FALSE;
	}
	return TRUE;
}

GPtrArray *
kl_store_query_collect_texts(KlStoreQuery *query, GError **error)
{
	g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func(g_free);

	for (;;) {
		gboolean has_row = FALSE;

		if (!kl_store_query_step(query, &has_row, error))
			return NULL;
		if (!has_row)
			return g_steal_pointer(&texts);
		g_ptr_array_add(texts, kl_store_query_dup_text(query, 0));
	}
}

gboolean
kl_store_query_is_null(KlStoreQuery *query, gint column)
{
	return sqlite3_column_type(query->stmt, column) == SQLITE_NULL;
}

/* Valid until the next step or the query's free. */
const gchar *
kl_store_query_get_text(KlStoreQuery *query, gint column)
{
	return (const gchar *)sqlite3_column_text(query->stmt, column);
}

gchar *
kl_store_query_dup_text(KlStoreQuery *query, gint column)
{
	return g_strdup(kl_store_query_get_text(query, column));
}

gint64
kl_store_query_get_int64(KlStoreQuery *query, gint column)
{
	return sqlite3_column_int64(query->stmt, column);
}

gboolean
kl_store_query_get_boolean(KlStoreQuery *query, gint column)
{
	return sqlite3_column_int64(query->stmt, column) != 0;
}

GBytes *
kl_store_query_dup_bytes(KlStoreQuery *query, gint column)
{
	const void *data;
	gint len;

	if (kl_store_query_is_null(query, column))
		return NULL;
	data = sqlite3_column_blob(query->stmt, column);
	len = sqlite3_column_bytes(query->stmt, column);
	return g_bytes_new(data, len > 0 ? (gsize)len : 0);
}
