/*
 * KlStore against real sqlite files in a private directory: creation and
 * permissions, WAL, migrations, transactions, crashes of a forked writer,
 * concurrent readers and writers, damaged files and database_url.
 */
#include "config.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "kl-store.h"
#include "kl-test-dir.h"

static gint64
query_int(KlStore *store, const gchar *sql)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlStoreQuery) query = kl_store_query_new(store, sql, "test query", &error);
	gboolean has_row = FALSE;

	g_assert_no_error(error);
	g_assert_true(kl_store_query_step(query, &has_row, &error));
	g_assert_no_error(error);
	g_assert_true(has_row);
	return kl_store_query_get_int64(query, 0);
}

static gchar *
query_text(KlStore *store, const gchar *sql)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlStoreQuery) query = kl_store_query_new(store, sql, "test query", &error);
	gboolean has_row = FALSE;

	g_assert_no_error(error);
	g_assert_true(kl_store_query_step(query, &has_row, &error));
	g_assert_no_error(error);
	g_assert_true(has_row);
	return kl_store_query_dup_text(query, 0);
}

static KlStore *
open_ok(const gchar *path)
{
	g_autoptr(GError) error = NULL;
	KlStore *store = kl_store_open(path, &error);
	g_assert_no_error(error);
	g_assert_nonnull(store);
	return store;
}

static void
insert_item(KlStore *store, const gchar *name)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlStoreQuery) query = kl_store_query_new(store,
							   "INSERT INTO items (name) VALUES (?1)",
							   "adding an item",
							   &error);
	g_assert_no_error(error);
	kl_store_query_bind_text(query, 1, name);
	g_assert_true(kl_store_query_exec(query, &error));
	g_assert_no_error(error);
}

static guint
file_mode(const gchar *path)
{
	struct stat st;
	g_assert_cmpint(g_stat(path, &st), ==, 0);
	return st.st_mode & 0777;
}

static void
test_store_open(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_test_dir_build(dir, "a", "b", "state.sqlite", NULL);
	g_autofree gchar *parent = kl_test_dir_build(dir, "a", "b", NULL);
	g_autofree gchar *wal = g_strconcat(path, "-wal", NULL);
	g_autofree gchar *mode = NULL;
	g_autoptr(KlStore) store = NULL;
	g_autoptr(GError) error = NULL;
	mode_t old_umask = umask(0);

	store = open_ok(path);
	umask(old_umask);
	g_assert_cmpstr(kl_store_get_path(store), ==, path);
	g_assert_cmpuint(file_mode(parent), ==, 0700);
	g_assert_cmpuint(file_mode(path), ==, 0600);

	mode = query_text(store, "PRAGMA journal_mode");
	g_assert_cmpstr(mode, ==, "wal");
	g_assert_cmpint(query_int(store, "PRAGMA synchronous"), ==, 2);
	g_assert_cmpint(query_int(store, "PRAGMA foreign_keys"), ==, 1);
	g_assert_cmpint(query_int(store, "PRAGMA busy_timeout"), ==, KL_STORE_BUSY_TIMEOUT_MS);

	/* A write goes to the WAL file, which inherits the file's mode. */
	g_assert_true(kl_store_exec(store,
				    "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
				    "CREATE TABLE child (p INTEGER NOT NULL REFERENCES parent(id))",
				    "creating tables",
				    &error));
	g_assert_no_error(error);
	g_assert_true(g_file_test(wal, G_FILE_TEST_EXISTS));
	g_assert_cmpuint(file_mode(wal), ==, 0600);

	/* Foreign keys are enforced, and reported as a constraint. */
	g_assert_false(
		kl_store_exec(store, "INSERT INTO child VALUES (42)", "adding a child", &error));
	g_assert_error(error, KL_STORE_ERROR, KL_STORE_ERROR_CONSTRAINT);
	g_assert_nonnull(strstr(error->message, "adding a child"));
	g_assert_true(kl_store_check_integrity(store, NULL));
}

static void
test_store_open_tightens_mode(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_test_dir_write(dir, "loose.sqlite", "", 0);
	g_autoptr(KlStore) store = NULL;

	g_assert_cmpint(g_chmod(path, 0644), ==, 0);
	store = open_ok(path);
	g_assert_cmpuint(file_mode(path), ==, 0600);
}

static void
test_store_url(void)
{
	struct {
		const gchar *url;
		const gchar *path; /* NULL: refused */
	} cases[] = {
		{"sqlite", "/var/lib/keylime/cv_data.sqlite"},
		{"  sqlite  ", "/var/lib/keylime/cv_data.sqlite"},
		{"sqlite:////srv/kl/db.sqlite", "/srv/kl/db.sqlite"},
		{"SQLite+pysqlite:////srv/db", "/srv/db"},
		{"sqlite:///relative/db.sqlite", "/var/lib/keylime/relative/db.sqlite"},
		{"sqlite://", NULL},
		{"sqlite:///", NULL},
		{"sqlite://host/db", NULL},
		{"sqlite:////srv/db?mode=ro", NULL},
		{"mysql+pymysql://u:p@h/db", NULL},
		{"", NULL},
		{"cv_data.sqlite", NULL},
		{"://x", NULL},
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *path = kl_store_resolve_url(cases[i].url,
							      "/var/lib/keylime",
							      KL_STORE_VERIFIER_FILE,
							      &error);
		if (cases[i].path != NULL) {
			g_assert_no_error(error);
			g_assert_cmpstr(path, ==, cases[i].path);
		} else {
			g_assert_error(error, KL_STORE_ERROR, KL_STORE_ERROR_NOT_SUPPORTED);
			g_assert_null(path);
		}
	}
}

/* A password in the URL never reaches the message. */
static void
test_store_url_postgres(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = kl_store_resolve_url("postgresql://keylime:s3cr3t@db.example/kl",
						      "/var/lib/keylime",
						      KL_STORE_REGISTRAR_FILE,
						      &error);
	g_assert_null(path);
	g_assert_error(error, KL_STORE_ERROR, KL_STORE_ERROR_NOT_SUPPORTED);
	g_assert_nonnull(strstr(error->message, "postgresql"));
	g_assert_nonnull(strstr(error->message, "not supported"));
	g_assert_null(strstr(error->message, "s3cr3t"));
	g_assert_null(strstr(error->message, "db.example"));
}

typedef struct {
	guint calls;
	gboolean fail;
} MigrateData;

static gboolean
migrate_seed(KlStore *store, gpointer user_data, GError **error)
{
	MigrateData *data = user_data;
	g_autoptr(KlStoreQuery) query = NULL;

	data->calls++;
	query = kl_store_query_new(store,
				   "INSERT INTO items (name) VALUES ('seeded')",
				   "seeding items",
				   error);
	if (query == NULL || !kl_store_query_exec(query, error))
		return FALSE;
	if (data->fail) {
		g_set_error_literal(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "seed refused");
		return FALSE;
	}
	return TRUE;
}

static const KlStoreMigration test_migrations[] = {
	{"CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)", NULL},
	{"ALTER TABLE items ADD COLUMN size INTEGER NOT NULL DEFAULT 0", migrate_seed},
	{"CREATE TABLE tags (item INTEGER NOT NULL REFERENCES items(id), tag TEXT);"
	 "CREATE INDEX tags_item ON tags (item)",
	 NULL},
};

static guint
get_version(KlStore *store)
{
	g_autoptr(GError) error = NULL;
	guint version = G_MAXUINT;
	g_assert_true(kl_store_get_version(store, "test", &version, &error));
	g_assert_no_error(error);
	return version;
}

static void
test_store_migrate_empty(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_test_dir_build(dir, "m.sqlite", NULL);
	g_autoptr(KlStore) store = open_ok(path);
	g_autoptr(GError) error = NULL;
	MigrateData data = {0};

	g_assert_cmpuint(get_version(store), ==, 0);
	g_assert_true(kl_store_migrate(store,
				       "test",
				       test_migrations,
				       G_N_ELEMENTS(test_migrations),
				       &data,
				       &error));
	g_assert_no_error(error);
	g_assert_cmpuint(get_version(store), ==, 3);
	g_assert_cmpuint(data.calls, ==, 1);
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM items WHERE name = 'seeded'"),
			==,
			1);
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM tags"), ==, 0);

	/* Again, and after a reopen: nothing to do. */
	g_assert_true(kl_store_migrate(store, "test", test_migrations, 3, &data, &error));
	g_clear_pointer(&store, kl_store_free);
	store = open_ok(path);
	g_assert_true(kl_store_migrate(store, "test", test_migrations, 3, &data, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(data.calls, ==, 1);
	g_assert_cmpuint(get_version(store), ==, 3);
}

static void
test_store_migrate_intermediate(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_test_dir_build(dir, "m.sqlite", NULL);
	g_autoptr(KlStore) store = open_ok(path);
	g_autoptr(GError) error = NULL;
	MigrateData data = {0};

	/* An older program knew only the first step. */
	g_assert_true(kl_store_migrate(store, "test", test_migrations, 1, &data, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(get_version(store), ==, 1);
	insert_item(store, "old");
	g_clear_pointer(&store, kl_store_free);

	store = open_ok(path);
	g_assert_true(kl_store_migrate(store, "test", test_migrations, 3, &data, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(get_version(store), ==, 3);
	g_assert_cmpuint(data.calls, ==, 1);
	g_assert_cmpint(
		query_int(store, "SELECT count(*) FROM items WHERE name = 'old' AND size = 0"),
		==,
		1);
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM items"), ==, 2);
}

static void
test_store_migrate_newer(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_test_dir_build(dir, "m.sqlite", NULL);
	g_autoptr(KlStore) store = open_ok(path);
	g_autoptr(GError) error = NULL;
	MigrateData data = {0};

	g_assert_true(kl_store_migrate(store, "test", test_migrations, 3, &data, &error));
	g_assert_no_error(error);
	g_clear_pointer(&store, kl_store_free);

	store = open_ok(path);
	g_assert_false(kl_store_migrate(store, "test", test_migrations, 2, &data, &error));
	g_assert_error(error, KL_STORE_ERROR, KL_STORE_ERROR_SCHEMA);
	g_assert_nonnull(strstr(error->message, "newer"));
	g_assert_cmpuint(get_version(store), ==, 3);
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM tags"), ==, 0);
}

static void
test_store_migrate_failed(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_test_dir_build(dir, "m.sqlite", NULL);
	g_autoptr(KlStore) store = open_ok(path);
	g_autoptr(GError) error = NULL;
	MigrateData data = {0};
	const KlStoreMigration broken[] = {
		test_migrations[0],
		{"CREATE TABLE half (x INTEGER); INSERT INTO nosuch VALUES (1)", NULL},
	};

	g_assert_true(kl_store_migrate(store, "test", test_migrations, 1, &data, &error));
	g_assert_no_error(error);
	insert_item(store, "kept");

	/* SQL that fails halfway: the table it created is gone too. */
	g_assert_false(kl_store_migrate(store, "test", broken, 2, &data, &error));
	g_assert_error(error, KL_STORE_ERROR, KL_STORE_ERROR_FAILED);
	g_assert_nonnull(strstr(error->message, "from version 1"));
	g_assert_nonnull(strstr(error->message, "nosuch"));
	g_clear_error(&error);
	g_assert_cmpuint(get_version(store), ==, 1);
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM sqlite_master WHERE name = 'half'"),
			==,
			0);

	/* A callback that fails after the SQL and its own insert. */
	data.fail = TRUE;
	g_assert_false(kl_store_migrate(store, "test", test_migrations, 3, &data, &error));
	g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED);
	g_assert_nonnull(strstr(error->message, "seed refused"));
	g_clear_error(&error);
	g_clear_pointer(&store, kl_store_free);

	store = open_ok(path);
	g_assert_cmpuint(get_version(store), ==, 1);
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM items"), ==, 1);
	g_assert_cmpint(query_int(store,
				  "SELECT count(*) FROM pragma_table_info('items') "
				  "WHERE name = 'size'"),
			==,
			0);

	data.fail = FALSE;
	g_assert_true(kl_store_migrate(store, "test", test_migrations, 3, &data, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(get_version(store), ==, 3);
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM items"), ==, 2);
}

static void
test_store_migrate_foreign(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_test_dir_build(dir, "m.sqlite", NULL);
	g_autofree gchar *other = kl_test_dir_build(dir, "o.sqlite", NULL);
	g_autoptr(KlStore) store = open_ok(path);
	g_autoptr(GError) error = NULL;
	guint version = 0;

	/* Another program's tables and no version: not adopted. */
	g_assert_true(
		kl_store_exec(store, "CREATE TABLE registrarmain (agent_id TEXT)", "t", NULL));
	g_assert_false(kl_store_migrate(store, "test", test_migrations, 3, NULL, &error));
	g_assert_error(error, KL_STORE_ERROR, KL_STORE_ERROR_SCHEMA);
	g_clear_error(&error);
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM sqlite_master WHERE name = 'items'"),
			==,
			0);

	/* The registrar's file opened as the verifier's. */
	g_clear_pointer(&store, kl_store_free);
	store = open_ok(other);
	g_assert_true(kl_store_migrate(store, "registrar", test_migrations, 1, NULL, &error));
	g_assert_no_error(error);
	g_assert_false(kl_store_migrate(store, "verifier", test_migrations, 1, NULL, &error));
	g_assert_error(error, KL_STORE_ERROR, KL_STORE_ERROR_SCHEMA);
	g_clear_error(&error);
	g_assert_false(kl_store_get_version(store, "verifier", &version, &error));
	g_assert_error(error, KL_STORE_ERROR, KL_STORE_ERROR_SCHEMA);
}

/* Upstream's file: its tables and no version; adopted when all are known. */
static const KlStoreMigration adopt_migrations[] = {
	{"CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
	 "CREATE TABLE IF NOT EXISTS kl_extra (id INTEGER PRIMARY KEY)",
	 NULL},
};

static void
test_store_adopt(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_test_dir_build(dir, "up.sqlite", NULL);
	g_autofree gchar *other = kl_test_dir_build(dir, "other.sqlite", NULL);
	g_autofree gchar *empty = kl_test_dir_build(dir, "empty.sqlite", NULL);
	const gchar *const known[] = {"items", "alembic_version", NULL};
	g_autoptr(KlStore) store = open_ok(path);
	g_autoptr(GError) error = NULL;

	g_assert_true(kl_store_exec(store,
				    "CREATE TABLE alembic_version (version_num VARCHAR(32));"
				    "CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, "
				    "name TEXT NOT NULL);"
				    "INSERT INTO items (name) VALUES ('upstream')",
				    "upstream's tables",
				    &error));
	g_assert_no_error(error);
	/* sqlite_sequence (from AUTOINCREMENT) is sqlite's, not a stranger's. */
	g_assert_cmpint(
		query_int(store,
			  "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_sequence'"),
		==,
		1);
	g_assert_true(kl_store_adopt(store, "test", known, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(get_version(store), ==, 0);
	g_assert_true(kl_store_migrate(store, "test", adopt_migrations, 1, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(get_version(store), ==, 1);
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM items WHERE name = 'upstream'"),
			==,
			1);
	/* Once versioned, adopting again changes nothing. */
	g_assert_true(kl_store_adopt(store, "test", known, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(get_version(store), ==, 1);

	/* An unknown table: refused, and nothing is written. */
	g_clear_pointer(&store, kl_store_free);
	store = open_ok(other);
	g_assert_true(kl_store_exec(store,
				    "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);"
				    "CREATE TABLE registrarmain (agent_id TEXT)",
				    "tables",
				    NULL));
	g_assert_false(kl_store_adopt(store, "test", known, &error));
	g_assert_error(error, KL_STORE_ERROR, KL_STORE_ERROR_SCHEMA);
	g_assert_nonnull(strstr(error->message, "registrarmain"));
	g_clear_error(&error);
	g_assert_cmpint(
		query_int(store, "SELECT count(*) FROM sqlite_master WHERE name = 'kl_schema'"),
		==,
		0);

	/* An empty file is left for the migrations to create. */
	g_clear_pointer(&store, kl_store_free);
	store = open_ok(empty);
	g_assert_true(kl_store_adopt(store, "test", known, &error));
	g_assert_no_error(error);
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM sqlite_master"), ==, 0);
	g_assert_true(kl_store_migrate(store, "test", adopt_migrations, 1, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(get_version(store), ==, 1);
}

static KlStore *
open_items(KlTestDir *dir, const gchar *name)
{
	g_autofree gchar *path = kl_test_dir_build(dir, name, NULL);
	g_autoptr(KlStore) store = open_ok(path);
	g_autoptr(GError) error = NULL;

	g_assert_true(kl_store_migrate(store, "test", test_migrations, 1, NULL, &error));
	g_assert_no_error(error);
	return g_steal_pointer(&store);
}

static gboolean
insert_two_then_fail(KlStore *store, gpointer user_data, GError **error)
{
	insert_item(store, "one");
	insert_item(store, "two");
	/* NOT NULL violated: the helpers' own error, not a hand-made one. */
	return kl_store_exec(store,
			     "INSERT INTO items (name) VALUES (NULL)",
			     "adding a bad item",
			     error);
}

static gboolean
insert_two(KlStore *store, gpointer user_data, GError **error)
{
	insert_item(store, "one");
	insert_item(store, "two");
	return TRUE;
}

static void
test_store_transaction(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autoptr(KlStore) store = open_items(dir, "t.sqlite");
	g_autoptr(GError) error = NULL;

	g_assert_false(kl_store_run_in_transaction(store, insert_two_then_fail, NULL, &error));
	g_assert_error(error, KL_STORE_ERROR, KL_STORE_ERROR_CONSTRAINT);
	g_assert_nonnull(strstr(error->message, "adding a bad item"));
	g_clear_error(&error);
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM items"), ==, 0);

	g_assert_true(kl_store_run_in_transaction(store, insert_two, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM items"), ==, 2);

	/* A guard dropped without commit rolls back. */
	{
		g_autoptr(KlStoreTransaction) tx = kl_store_transaction_begin(store, &error);
		g_assert_no_error(error);
		insert_item(store, "dropped");
		g_assert_cmpint(query_int(store, "SELECT count(*) FROM items"), ==, 3);

		/* No nesting. */
		g_assert_null(kl_store_transaction_begin(store, &error));
		g_assert_error(error, KL_STORE_ERROR, KL_STORE_ERROR_FAILED);
		g_clear_error(&error);
	}
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM items"), ==, 2);

	{
		g_autoptr(KlStoreTransaction) tx = kl_store_transaction_begin(store, &error);
		g_assert_no_error(error);
		insert_item(store, "kept");
		g_assert_true(kl_store_transaction_commit(tx, &error));
		g_assert_no_error(error);
	}
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM items"), ==, 3);
}

static void
test_store_query(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autoptr(KlStore) store = open_items(dir, "q.sqlite");
	g_autoptr(GError) error = NULL;
	g_autoptr(KlStoreQuery) query = NULL;
	g_autoptr(KlStoreQuery) inner = NULL;
	g_autoptr(GBytes) bytes = NULL;
	const guint8 blob[] = {0x00, 0xff, 0x00, 0x01};
	sqlite3_stmt *first;
	gboolean has_row = FALSE;

	g_assert_true(kl_store_exec(
		store,
		"CREATE TABLE v (t TEXT, i INTEGER, b BLOB, e BLOB, n BLOB, f INTEGER)",
		"creating v",
		&error));
	query = kl_store_query_new(store,
				   "INSERT INTO v VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
				   "v",
				   &error);
	g_assert_no_error(error);
	first = kl_store_query_get_stmt(query);
	kl_store_query_bind_text(query, 1, "tëxt");
	kl_store_query_bind_int64(query, 2, G_MININT64);
	kl_store_query_bind_blob(query, 3, blob, sizeof(blob));
	kl_store_query_bind_blob(query, 4, blob, 0);
	kl_store_query_bind_bytes(query, 5, NULL);
	kl_store_query_bind_boolean(query, 6, TRUE);
	g_assert_true(kl_store_query_exec(query, &error));
	g_assert_no_error(error);
	g_assert_cmpint(kl_store_get_changes(store), ==, 1);
	g_assert_cmpint(kl_store_get_last_insert_rowid(store), ==, 1);
	g_clear_pointer(&query, kl_store_query_free);

	/* The cache hands the same statement out again, bindings cleared. */
	query = kl_store_query_new(store,
				   "INSERT INTO v VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
				   "v",
				   &error);
	g_assert_true(kl_store_query_get_stmt(query) == first);
	g_assert_true(kl_store_query_exec(query, &error));
	g_assert_no_error(error);
	g_clear_pointer(&query, kl_store_query_free);

	query = kl_store_query_new(store,
				   "SELECT t, i, b, e, n, f FROM v ORDER BY rowid",
				   "v",
				   &error);
	g_assert_no_error(error);
	g_assert_true(kl_store_query_step(query, &has_row, &error));
	g_assert_true(has_row);
	g_assert_cmpstr(kl_store_query_get_text(query, 0), ==, "tëxt");
	g_assert_cmpint(kl_store_query_get_int64(query, 1), ==, G_MININT64);
	bytes = kl_store_query_dup_bytes(query, 2);
	g_assert_cmpmem(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes), blob, sizeof(blob));
	g_clear_pointer(&bytes, g_bytes_unref);
	bytes = kl_store_query_dup_bytes(query, 3);
	g_assert_nonnull(bytes);
	g_assert_cmpuint(g_bytes_get_size(bytes), ==, 0);
	g_assert_null(kl_store_query_dup_bytes(query, 4));
	g_assert_true(kl_store_query_is_null(query, 4));
	g_assert_true(kl_store_query_get_boolean(query, 5));

	/* The same SQL while the first is open: a private statement. */
	inner = kl_store_query_new(store,
				   "SELECT t, i, b, e, n, f FROM v ORDER BY rowid",
				   "v",
				   &error);
	g_assert_no_error(error);
	g_assert_true(kl_store_query_get_stmt(inner) != kl_store_query_get_stmt(query));
	g_assert_true(kl_store_query_step(inner, &has_row, &error));
	g_assert_true(has_row);
	g_clear_pointer(&inner, kl_store_query_free);

	g_assert_true(kl_store_query_step(query, &has_row, &error));
	g_assert_true(has_row);
	g_assert_null(kl_store_query_get_text(query, 0));
	g_assert_null(kl_store_query_dup_text(query, 0));
	g_assert_false(kl_store_query_get_boolean(query, 5));
	g_assert_true(kl_store_query_step(query, &has_row, &error));
	g_assert_false(has_row);
	g_assert_no_error(error);
	g_clear_pointer(&query, kl_store_query_free);

	/* One statement per query; bad SQL names its purpose. */
	g_assert_null(kl_store_query_new(store, "SELECT 1; SELECT 2", "two", &error));
	g_assert_error(error, KL_STORE_ERROR, KL_STORE_ERROR_FAILED);
	g_clear_error(&error);
	g_assert_null(kl_store_query_new(store, "SELEKT 1", "reading agents", &error));
	g_assert_error(error, KL_STORE_ERROR, KL_STORE_ERROR_FAILED);
	g_assert_nonnull(strstr(error->message, "reading agents"));
}

/* Errors carry the purpose and never the values bound. */
static void
test_store_query_errors(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autoptr(KlStore) store = open_items(dir, "e.sqlite");
	g_autoptr(GError) error = NULL;
	g_autoptr(KlStoreQuery) query = NULL;

	g_assert_true(kl_store_exec(store,
				    "CREATE TABLE secrets (id TEXT PRIMARY KEY, v TEXT)",
				    "creating secrets",
				    &error));
	for (guint i = 0; i < 2; i++) {
		query = kl_store_query_new(store,
					   "INSERT INTO secrets (id, v) VALUES (?1, ?2)",
					   "storing V",
					   &error);
		g_assert_no_error(error);
		kl_store_query_bind_text(query, 1, "agent-TOPSECRET-ID");
		kl_store_query_bind_text(query, 2, "TOPSECRET-V");
		if (i == 0) {
			g_assert_true(kl_store_query_exec(query, &error));
			g_assert_no_error(error);
		} else {
			g_assert_false(kl_store_query_exec(query, &error));
			g_assert_error(error, KL_STORE_ERROR, KL_STORE_ERROR_CONSTRAINT);
			g_assert_nonnull(strstr(error->message, "storing V"));
			g_assert_null(strstr(error->message, "TOPSECRET"));
			g_clear_error(&error);
		}
		g_clear_pointer(&query, kl_store_query_free);
	}

	/* A bind to a missing parameter is reported by the step. */
	query = kl_store_query_new(store,
				   "SELECT v FROM secrets WHERE id = ?1",
				   "reading V",
				   &error);
	g_assert_no_error(error);
	kl_store_query_bind_text(query, 1, "agent-TOPSECRET-ID");
	kl_store_query_bind_text(query, 7, "TOPSECRET-V");
	g_assert_false(kl_store_query_step(query, NULL, &error));
	g_assert_error(error, KL_STORE_ERROR, KL_STORE_ERROR_FAILED);
	g_assert_nonnull(strstr(error->message, "reading V"));
	g_assert_nonnull(strstr(error->message, "parameter 7"));
	g_assert_null(strstr(error->message, "TOPSECRET"));
}

/* Crash safety: a child killed before COMMIT leaves nothing behind. */
static void
test_store_crash_uncommitted(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_test_dir_build(dir, "c.sqlite", NULL);
	g_autofree gchar *wal = g_strconcat(path, "-wal", NULL);
	g_autoptr(KlStore) store = open_items(dir, "c.sqlite");
	gint fds[2];
	gchar byte = 0;
	gint status = 0;
	pid_t pid;
	struct stat st;

	insert_item(store, "committed");
	g_clear_pointer(&store, kl_store_free);

	g_assert_cmpint(pipe(fds), ==, 0);
	pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		/* The child: no GLib test machinery, only an exit status. */
		g_autoptr(KlStore) child = kl_store_open(path, NULL);
		g_autoptr(KlStoreTransaction) tx = NULL;
		g_autofree gchar *big = g_strnfill(4000, 'x');
		close(fds[0]);
		if (child == NULL)
			_exit(2);
		tx = kl_store_transaction_begin(child, NULL);
		/* A tiny page cache makes sqlite spill uncommitted pages to the WAL. */
		if (tx == NULL || !kl_store_exec(child, "PRAGMA cache_size=8", "cache", NULL))
			_exit(3);
		for (guint i = 0; i < 300; i++) {
			g_autoptr(KlStoreQuery) query =
				kl_store_query_new(child,
						   "INSERT INTO items (name) VALUES (?1)",
						   "adding",
						   NULL);
			if (query == NULL)
				_exit(4);
			kl_store_query_bind_text(query, 1, big);
			if (!kl_store_query_exec(query, NULL))
				_exit(5);
		}
		if (write(fds[1], "w", 1) != 1)
			_exit(6);
		for (;;)
			pause();
	}
	close(fds[1]);
	g_assert_cmpint(read(fds[0], &byte, 1), ==, 1);
	close(fds[0]);
	g_assert_cmpint(g_stat(wal, &st), ==, 0);
	g_assert_cmpint(st.st_size, >, 100000); /* the spilled pages really are on disk */
	g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(WIFSIGNALED(status));
	g_assert_cmpint(WTERMSIG(status), ==, SIGKILL);

	store = open_ok(path);
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM items"), ==, 1);
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM items WHERE name = 'committed'"),
			==,
			1);
	g_assert_true(kl_store_check_integrity(store, NULL));
	insert_item(store, "after");
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM items"), ==, 2);
}

/* A child that commits and is killed without closing: its WAL is recovered. */
static void
test_store_crash_committed(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_test_dir_build(dir, "c.sqlite", NULL);
	g_autoptr(KlStore) store = open_items(dir, "c.sqlite");
	gint status = 0;
	pid_t pid;

	g_clear_pointer(&store, kl_store_free);
	pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		KlStore *child = kl_store_open(path, NULL);
		KlStoreTransaction *tx = child != NULL ? kl_store_transaction_begin(child, NULL)
						       : NULL;
		KlStoreTransaction *tx2;
		KlStoreQuery *query;
		if (tx == NULL)
			_exit(2);
		query = kl_store_query_new(child,
					   "INSERT INTO items (name) VALUES ('c1')",
					   "a",
					   NULL);
		if (query == NULL || !kl_store_query_exec(query, NULL))
			_exit(3);
		kl_store_query_free(query);
		if (!kl_store_transaction_commit(tx, NULL))
			_exit(4);
		/* A second transaction left open: only the first may survive. */
		tx2 = kl_store_transaction_begin(child, NULL);
		query = kl_store_query_new(child,
					   "INSERT INTO items (name) VALUES ('c2')",
					   "a",
					   NULL);
		if (tx2 == NULL || query == NULL || !kl_store_query_exec(query, NULL))
			_exit(5);
		/* Killed, not exited: no atexit, no close, no leak report. */
		raise(SIGKILL);
		_exit(6);
	}
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_false(WIFEXITED(status)); /* else the exit code says which step failed */
	g_assert_true(WIFSIGNALED(status));
	g_assert_cmpint(WTERMSIG(status), ==, SIGKILL);

	store = open_ok(path);
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM items WHERE name = 'c1'"), ==, 1);
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM items"), ==, 1);
	g_assert_true(kl_store_check_integrity(store, NULL));
}

#define ACCOUNT_TOTAL 1000
#define TRANSFERS     300

typedef struct {
	const gchar *path;
	gint writer_done;
	gint reads;
	gint progress_seen;
} ConcurrentData;

static gpointer
writer_thread(gpointer user_data)
{
	ConcurrentData *data = user_data;
	g_autoptr(KlStore) store = open_ok(data->path);
	g_autoptr(GError) error = NULL;

	for (guint i = 0; i < TRANSFERS; i++) {
		g_autoptr(KlStoreTransaction) tx = kl_store_transaction_begin(store, &error);
		g_assert_no_error(error);
		g_assert_true(
			kl_store_exec(store,
				      "UPDATE accounts SET balance = balance - 1 WHERE id = 1",
				      "debit",
				      &error));
		g_assert_true(
			kl_store_exec(store,
				      "UPDATE accounts SET balance = balance + 1 WHERE id = 2",
				      "credit",
				      &error));
		g_assert_true(kl_store_transaction_commit(tx, &error));
		g_assert_no_error(error);
	}
	g_atomic_int_set(&data->writer_done, 1);
	return NULL;
}

/* Two separate SELECTs in one read transaction see one snapshot. */
static gpointer
reader_thread(gpointer user_data)
{
	ConcurrentData *data = user_data;
	g_autoptr(KlStore) store = open_ok(data->path);
	g_autoptr(GError) error = NULL;
	gint64 last = 0;

	while (!g_atomic_int_get(&data->writer_done)) {
		gint64 a, b;
		g_assert_true(kl_store_exec(store, "BEGIN DEFERRED", "read", &error));
		g_assert_no_error(error);
		a = query_int(store, "SELECT balance FROM accounts WHERE id = 1");
		b = query_int(store, "SELECT balance FROM accounts WHERE id = 2");
		g_assert_true(kl_store_exec(store, "COMMIT", "read", &error));
		g_assert_no_error(error);
		g_assert_cmpint(a + b, ==, ACCOUNT_TOTAL);
		g_assert_cmpint(b, >=, last);
		if (b > last && b < TRANSFERS)
			g_atomic_int_set(&data->progress_seen, 1);
		last = b;
		g_atomic_int_inc(&data->reads);
	}
	g_assert_cmpint(query_int(store, "SELECT balance FROM accounts WHERE id = 2"),
			==,
			TRANSFERS);
	return NULL;
}

static void
test_store_concurrent_readers(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_test_dir_build(dir, "r.sqlite", NULL);
	g_autoptr(KlStore) store = open_ok(path);
	g_autoptr(GError) error = NULL;
	ConcurrentData data = {.path = path};
	GThread *readers[3];
	GThread *writer;

	g_assert_true(
		kl_store_exec(store,
			      "CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER);"
			      "INSERT INTO accounts VALUES (1, 1000), (2, 0)",
			      "creating accounts",
			      &error));
	g_assert_no_error(error);
	for (guint i = 0; i < G_N_ELEMENTS(readers); i++)
		readers[i] = g_thread_new("reader", reader_thread, &data);
	writer = g_thread_new("writer", writer_thread, &data);
	g_thread_join(writer);
	for (guint i = 0; i < G_N_ELEMENTS(readers); i++)
		g_thread_join(readers[i]);
	g_assert_cmpint(g_atomic_int_get(&data.reads), >, 0);
	g_test_message("%d consistent reads during %d commits (%s)",
		       data.reads,
		       TRANSFERS,
		       data.progress_seen ? "intermediate states seen"
					  : "no intermediate state seen");
	g_assert_cmpint(query_int(store, "SELECT sum(balance) FROM accounts"), ==, ACCOUNT_TOTAL);
}

static gpointer
increment_thread(gpointer user_data)
{
	const gchar *path = user_data;
	g_autoptr(KlStore) store = open_ok(path);

	for (guint i = 0; i < 100; i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(KlStoreTransaction) tx = kl_store_transaction_begin(store, &error);
		g_autoptr(KlStoreQuery) query = NULL;
		g_assert_no_error(error);
		query = kl_store_query_new(store,
					   "UPDATE counter SET n = n + 1",
					   "incrementing",
					   &error);
		g_assert_true(kl_store_query_exec(query, &error));
		g_clear_pointer(&query, kl_store_query_free);
		g_assert_true(kl_store_transaction_commit(tx, &error));
		g_assert_no_error(error);
	}
	return NULL;
}

/* Writers on separate connections wait for each other instead of failing. */
static void
test_store_concurrent_writers(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_test_dir_build(dir, "w.sqlite", NULL);
	g_autoptr(KlStore) store = open_ok(path);
	GThread *threads[3];

	g_assert_true(
		kl_store_exec(store,
			      "CREATE TABLE counter (n INTEGER); INSERT INTO counter VALUES (0)",
			      "creating counter",
			      NULL));
	for (guint i = 0; i < G_N_ELEMENTS(threads); i++)
		threads[i] = g_thread_new("writer", increment_thread, path);
	for (guint i = 0; i < G_N_ELEMENTS(threads); i++)
		g_thread_join(threads[i]);
	g_assert_cmpint(query_int(store, "SELECT n FROM counter"), ==, 300);
}

/* One transaction: 2000 commits, each synced, would take seconds. */
static gboolean
insert_many(KlStore *store, gpointer user_data, GError **error)
{
	for (guint i = 0; i < 2000; i++)
		insert_item(store, user_data);
	return TRUE;
}

static void
test_store_hostile_garbage(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(GRand) rand = g_rand_new_with_seed(42);
	g_autofree gchar *garbage = g_malloc(8192);
	g_autofree gchar *path = NULL;
	g_autofree gchar *after = NULL;
	gsize after_len = 0;
	KlStore *store;

	for (guint i = 0; i < 8192; i++)
		garbage[i] = (gchar)g_rand_int_range(rand, 0, 256);
	path = kl_test_dir_write(dir, "garbage.sqlite", garbage, 8192);
	store = kl_store_open(path, &error);
	g_assert_null(store);
	g_assert_error(error, KL_STORE_ERROR, KL_STORE_ERROR_CORRUPT);
	g_assert_nonnull(strstr(error->message, path));
	g_test_message("%s", error->message);

	/* The file is left as it was, for whoever investigates. */
	g_assert_true(g_file_get_contents(path, &after, &after_len, NULL));
	g_assert_cmpmem(after, after_len, garbage, 8192);
}

static void
test_store_hostile_truncated(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_test_dir_build(dir, "t.sqlite", NULL);
	g_autofree gchar *header = NULL;
	g_autofree gchar *contents = NULL;
	g_autofree gchar *big = g_strnfill(300, 'y');
	g_autoptr(KlStore) store = open_items(dir, "t.sqlite");
	g_autoptr(GError) error = NULL;
	gsize len = 0;
	gboolean failed;

	g_assert_true(kl_store_run_in_transaction(store, insert_many, big, NULL));
	/* Closing the last connection checkpoints the WAL into the file. */
	g_clear_pointer(&store, kl_store_free);
	g_assert_true(g_file_get_contents(path, &contents, &len, NULL));
	g_assert_cmpuint(len, >, 500000);

	/* Cut in the middle of the table: found by a full read, never a crash. */
	g_assert_cmpint(truncate(path, (off_t)(len / 2)), ==, 0);
	store = kl_store_open(path, &error);
	if (store == NULL) {
		g_assert_error(error, KL_STORE_ERROR, KL_STORE_ERROR_CORRUPT);
		g_test_message("%s", error->message);
	} else {
		g_autoptr(KlStoreQuery) query =
			kl_store_query_new(store,
					   "SELECT sum(length(name)) FROM items",
					   "summing",
					   NULL);
		failed = query == NULL || !kl_store_query_exec(query, &error);
		g_assert_true(failed);
		g_assert_error(error, KL_STORE_ERROR, KL_STORE_ERROR_CORRUPT);
		g_test_message("%s", error->message);
		g_clear_error(&error);
		g_clear_pointer(&query, kl_store_query_free);
		g_assert_false(kl_store_check_integrity(store, &error));
		g_assert_error(error, KL_STORE_ERROR, KL_STORE_ERROR_CORRUPT);
		g_test_message("%s", error->message);
	}
	g_clear_error(&error);
	g_clear_pointer(&store, kl_store_free);

	/* Only part of the header left. */
	header = kl_test_dir_write(dir, "header.sqlite", contents, 60);
	store = kl_store_open(header, &error);
	g_assert_null(store);
	g_assert_error(error, KL_STORE_ERROR, KL_STORE_ERROR_CORRUPT);
	g_test_message("%s", error->message);
}

/* A page scribbled over in the middle: the header still opens, reads fail. */
static void
test_store_hostile_scribbled(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_test_dir_build(dir, "s.sqlite", NULL);
	g_autofree gchar *contents = NULL;
	g_autofree gchar *big = g_strnfill(300, 'z');
	g_autoptr(KlStore) store = open_items(dir, "s.sqlite");
	g_autoptr(KlStoreQuery) query = NULL;
	g_autoptr(GError) error = NULL;
	gsize len = 0;
	gsize page;

	g_assert_true(kl_store_run_in_transaction(store, insert_many, big, NULL));
	g_clear_pointer(&store, kl_store_free);
	g_assert_true(g_file_get_contents(path, &contents, &len, NULL));
	page = (len / 2) & ~(gsize)4095;
	memset(contents + page, 0xa5, 4096);
	g_assert_true(g_file_set_contents(path, contents, (gssize)len, NULL));

	store = open_ok(path);
	g_assert_cmpuint(get_version(store), ==, 1);
	query = kl_store_query_new(store, "SELECT sum(length(name)) FROM items", "summing", &error);
	g_assert_no_error(error);
	g_assert_false(kl_store_query_exec(query, &error));
	g_assert_error(error, KL_STORE_ERROR, KL_STORE_ERROR_CORRUPT);
	g_assert_nonnull(strstr(error->message, "summing"));
	g_test_message("%s", error->message);
	g_clear_error(&error);
	g_clear_pointer(&query, kl_store_query_free);
	g_assert_false(kl_store_check_integrity(store, &error));
	g_assert_error(error, KL_STORE_ERROR, KL_STORE_ERROR_CORRUPT);
	g_test_message("%s", error->message);
}

static void
test_store_hostile_paths(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *blocker = kl_test_dir_write(dir, "file", "x", 1);
	g_autofree gchar *below_file = kl_test_dir_build(dir, "file", "db.sqlite", NULL);
	g_autoptr(GError) error = NULL;

	g_assert_null(kl_store_open(kl_test_dir_get_path(dir), &error));
	g_assert_error(error, KL_STORE_ERROR, KL_STORE_ERROR_FAILED);
	g_clear_error(&error);
	g_assert_null(kl_store_open(below_file, &error));
	g_assert_error(error, KL_STORE_ERROR, KL_STORE_ERROR_FAILED);
	g_clear_error(&error);
	g_assert_null(kl_store_open("", &error));
	g_assert_error(error, KL_STORE_ERROR, KL_STORE_ERROR_FAILED);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/store/open", test_store_open);
	g_test_add_func("/store/open/tightens-mode", test_store_open_tightens_mode);
	g_test_add_func("/store/url", test_store_url);
	g_test_add_func("/store/url/postgres", test_store_url_postgres);
	g_test_add_func("/store/migrate/empty", test_store_migrate_empty);
	g_test_add_func("/store/migrate/intermediate", test_store_migrate_intermediate);
	g_test_add_func("/store/migrate/newer", test_store_migrate_newer);
	g_test_add_func("/store/migrate/failed", test_store_migrate_failed);
	g_test_add_func("/store/migrate/foreign", test_store_migrate_foreign);
	g_test_add_func("/store/adopt", test_store_adopt);
	g_test_add_func("/store/transaction", test_store_transaction);
	g_test_add_func("/store/query", test_store_query);
	g_test_add_func("/store/query/errors", test_store_query_errors);
	g_test_add_func("/store/crash/uncommitted", test_store_crash_uncommitted);
	g_test_add_func("/store/crash/committed", test_store_crash_committed);
	g_test_add_func("/store/concurrent/readers", test_store_concurrent_readers);
	g_test_add_func("/store/concurrent/writers", test_store_concurrent_writers);
	g_test_add_func("/store/hostile/garbage", test_store_hostile_garbage);
	g_test_add_func("/store/hostile/truncated", test_store_hostile_truncated);
	g_test_add_func("/store/hostile/scribbled", test_store_hostile_scribbled);
	g_test_add_func("/store/hostile/paths", test_store_hostile_paths);
	return g_test_run();
}
