/*
 * The verifier's records in sqlite.  Upstream's tables keep their names,
 * columns and types (keylime/db/verifier_db.py): SQLAlchemy's
 * JSONPickleType columns hold json.dumps() of the value, so tpm_policy, a
 * JSON text sent as a string, is stored as a JSON string literal, lists as
 * JSON lists and tpm_clockinfo as a JSON object.  A file of an older
 * upstream release gets the columns it lacks, as Alembic would add them.
 */
#include "config.h"

#include "kl-error.h"
#include "kl-json.h"
#include "kl-verifier-store.h"

/* Bounds for the JSON we read back from columns (lists, clock info). */
#define KL_VERIFIER_STORE_JSON_MAX   (16 * 1024 * 1024)
#define KL_VERIFIER_STORE_JSON_DEPTH 8

struct _KlVerifierStore {
	KlStore *store;
	guint history_limit;
};

/* Schema */

typedef struct {
	const gchar *name;
	const gchar *decl;
} KlVerifierColumn;

typedef struct {
	const gchar *name;
	const KlVerifierColumn *columns; /* the first is the primary key */
	guint n_columns;
	const gchar *constraints; /* table constraints, or NULL */
} KlVerifierTable;

static const KlVerifierColumn allowlists_columns[] = {
	{"id", "INTEGER NOT NULL"},
	{"name", "VARCHAR(255) NOT NULL"},
	{"checksum", "VARCHAR(128)"},
	{"generator", "INTEGER"},
	{"tpm_policy", "TEXT"},
	{"ima_policy", "TEXT"},
};

static const KlVerifierColumn mbpolicies_columns[] = {
	{"id", "INTEGER NOT NULL"},
	{"name", "VARCHAR(255) NOT NULL"},
	{"mb_policy", "TEXT"},
};

static const KlVerifierColumn verifiermain_columns[] = {
	{"agent_id", "VARCHAR(80) NOT NULL"},
	{"v", "VARCHAR(45)"},
	{"ip", "VARCHAR(15)"},
	{"verifier_id", "VARCHAR(80)"},
	{"verifier_ip", "VARCHAR(15)"},
	{"verifier_port", "INTEGER"},
	{"port", "INTEGER"},
	{"operational_state", "INTEGER"},
	{"public_key", "VARCHAR(500)"},
	{"tpm_policy", "TEXT"},
	{"meta_data", "VARCHAR(200)"},
	{"ima_policy_id", "INTEGER REFERENCES allowlists (id)"},
	{"ima_sign_verification_keys", "TEXT"},
	{"mb_policy_id", "INTEGER REFERENCES mbpolicies (id)"},
	{"revocation_key", "VARCHAR(2800)"},
	{"accept_tpm_hash_algs", "TEXT"},
	{"accept_tpm_encryption_algs", "TEXT"},
	{"accept_tpm_signing_algs", "TEXT"},
	{"hash_alg", "VARCHAR(10)"},
	{"enc_alg", "VARCHAR(10)"},
	{"sign_alg", "VARCHAR(10)"},
	{"boottime", "INTEGER"},
	{"ima_pcrs", "TEXT"},
	{"pcr10", "BLOB"},
	{"next_ima_ml_entry", "INTEGER"},
	{"severity_level", "INTEGER"},
	{"last_event_id", "VARCHAR(200)"},
	{"learned_ima_keyrings", "TEXT"},
	{"supported_version", "VARCHAR(20)"},
	{"ak_tpm", "VARCHAR(500)"},
	{"mtls_cert", "VARCHAR(2048)"},
	{"attestation_count", "INTEGER"},
	{"last_received_quote", "INTEGER"},
	{"last_successful_attestation", "INTEGER"},
	{"tpm_clockinfo", "TEXT"},
	{"accept_attestations", "BOOLEAN"},
	{"consecutive_attestation_failures", "INTEGER"},
};

/* Policies first: verifiermain references them. */
static const KlVerifierTable upstream_tables[] = {
	{"allowlists",
	 allowlists_columns,
	 G_N_ELEMENTS(allowlists_columns),
	 "CONSTRAINT uniq_allowlists0name UNIQUE (name)"},
	{"mbpolicies",
	 mbpolicies_columns,
	 G_N_ELEMENTS(mbpolicies_columns),
	 "CONSTRAINT uniq_mbpolicies_name UNIQUE (name)"},
	{"verifiermain", verifiermain_columns, G_N_ELEMENTS(verifiermain_columns), NULL},
};

/* Upstream's tables, Alembic's and push mode's: a file with these is adopted. */
static const gchar *const kl_verifier_store_known_tables[] = {
	"verifiermain",
	"allowlists",
	"mbpolicies",
	"alembic_version",
	"attestations",
	"evidence_items",
	"sessions",
	"kl_events",
	NULL,
};

static gboolean
kl_verifier_store_table_columns(KlStore *store,
				const gchar *table,
				GHashTable *columns,
				GError **error)
{
	g_autofree gchar *sql = g_strdup_printf("PRAGMA table_info(%s)", table);
	g_autoptr(KlStoreQuery) query =
		kl_store_query_new(store, sql, "reading the columns of a table", error);

	if (query == NULL)
		return FALSE;
	for (;;) {
		gboolean has_row = FALSE;
		if (!kl_store_query_step(query, &has_row, error))
			return FALSE;
		if (!has_row)
			return TRUE;
		g_hash_table_add(columns, kl_store_query_dup_text(query, 1));
	}
}

/* CREATE TABLE IF NOT EXISTS, then ADD COLUMN for what an older file lacks. */
static gboolean
kl_verifier_store_create_table(KlStore *store, const KlVerifierTable *table, GError **error)
{
	g_autoptr(GString) sql = g_string_new(NULL);
	g_autoptr(GHashTable) existing =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	g_string_append_printf(sql, "CREATE TABLE IF NOT EXISTS %s (", table->name);
	for (guint i = 0; i < table->n_columns; i++)
		g_string_append_printf(sql,
				       "%s %s, ",
				       table->columns[i].name,
				       table->columns[i].decl);
	g_string_append_printf(sql, "PRIMARY KEY (%s)", table->columns[0].name);
	if (table->constraints != NULL)
		g_string_append_printf(sql, ", %s", table->constraints);
	g_string_append(sql, ")");
	if (!kl_store_exec(store, sql->str, "creating upstream's tables", error))
		return FALSE;

	if (!kl_verifier_store_table_columns(store, table->name, existing, error))
		return FALSE;
	for (guint i = 1; i < table->n_columns; i++) {
		g_autofree gchar *alter = NULL;
		if (g_hash_table_contains(existing, table->columns[i].name))
			continue;
		alter = g_strdup_printf("ALTER TABLE %s ADD COLUMN %s %s",
					table->name,
					table->columns[i].name,
					table->columns[i].decl);
		if (!kl_store_exec(store, alter, "adding a column upstream added later", error))
			return FALSE;
	}
	return TRUE;
}

static gboolean
kl_verifier_store_migrate_upstream(KlStore *store, gpointer user_data, GError **error)
{
	for (guint i = 0; i < G_N_ELEMENTS(upstream_tables); i++) {
		if (!kl_verifier_store_create_table(store, &upstream_tables[i], error))
			return FALSE;
	}
	/* Start-up lists the agents of one verifier_id among many. */
	return kl_store_exec(store,
			     "CREATE INDEX IF NOT EXISTS kl_verifiermain_verifier_id "
			     "ON verifiermain (verifier_id)",
			     "indexing agents by verifier",
			     error);
}

/* Append only: migrations[i] takes version i to i + 1. */
static const KlStoreMigration kl_verifier_store_migrations[] = {
	{NULL, kl_verifier_store_migrate_upstream},
	{"CREATE TABLE IF NOT EXISTS kl_events ("
	 "id INTEGER PRIMARY KEY, "
	 "agent_id VARCHAR(80) NOT NULL "
	 "REFERENCES verifiermain (agent_id) ON DELETE CASCADE, "
	 "kind INTEGER NOT NULL CHECK (kind IN (0, 1)), "
	 "time INTEGER NOT NULL, "
	 "event_id VARCHAR(200) NOT NULL, "
	 "severity INTEGER NOT NULL CHECK (severity >= 0), "
	 "context TEXT, "
	 "subject TEXT);"
	 "CREATE INDEX IF NOT EXISTS kl_events_agent ON kl_events (agent_id, kind, id);"
	 "CREATE INDEX IF NOT EXISTS kl_events_time ON kl_events (time, id)",
	 NULL},
};

KlVerifierStore *
kl_verifier_store_open(const gchar *path, GError **error)
{
	g_autoptr(KlStore) store = NULL;
	KlVerifierStore *self;

	g_return_val_if_fail(path != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	store = kl_store_open(path, error);
	if (store == NULL)
		return NULL;
	if (!kl_store_adopt(store, "verifier", kl_verifier_store_known_tables, error))
		return NULL;
	if (!kl_store_migrate(store,
			      "verifier",
			      kl_verifier_store_migrations,
			      G_N_ELEMENTS(kl_verifier_store_migrations),
			      NULL,
			      error))
		return NULL;

	self = g_new0(KlVerifierStore, 1);
	self->store = g_steal_pointer(&store);
	self->history_limit = KL_VERIFIER_STORE_HISTORY_DEFAULT;
	return self;
}

void
kl_verifier_store_free(KlVerifierStore *self)
{
	if (self == NULL)
		return;
	kl_store_free(self->store);
	g_free(self);
}

KlStore *
kl_verifier_store_get_store(KlVerifierStore *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->store;
}

/*
 * Runs @func in a transaction of its own, or inside the caller's one as a
 * savepoint, so that a failure undoes only this write.
 */
static gboolean
kl_verifier_store_write(KlVerifierStore *self,
			KlStoreTransactionFunc func,
			gpointer user_data,
			GError **error)
{
	g_autoptr(GError) error_local = NULL;

	if (sqlite3_get_autocommit(kl_store_get_db(self->store)))
		return kl_store_run_in_transaction(self->store, func, user_data, error);
	if (!kl_store_exec(self->store, "SAVEPOINT kl_write", "starting a savepoint", error))
		return FALSE;
	if (!func(self->store, user_data, &error_local)) {
		g_autoptr(GError) error_rollback = NULL;
		if (!kl_store_exec(self->store,
				   "ROLLBACK TO kl_write; RELEASE kl_write",
				   "rolling back a savepoint",
				   &error_rollback))
			g_warning("%s", error_rollback->message);
		if (error_local == NULL) {
			g_set_error_literal(&error_local,
					    KL_STORE_ERROR,
					    KL_STORE_ERROR_FAILED,
					    "write failed without a reason");
		}
		g_propagate_error(error, g_steal_pointer(&error_local));
		return FALSE;
	}
	return kl_store_exec(self->store, "RELEASE kl_write", "releasing a savepoint", error);
}

/* Column values */

static void
bind_nullable_int(KlStoreQuery *query, gint param, gint64 value)
{
	if (value < 0)
		kl_store_query_bind_null(query, param);
	else
		kl_store_query_bind_int64(query, param, value);
}

static gint64
get_nullable_int(KlStoreQuery *query, gint column)
{
	if (kl_store_query_is_null(query, column))
		return KL_VERIFIER_NULL;
	return kl_store_query_get_int64(query, column);
}

static void
bind_json_node(KlStoreQuery *query, gint param, JsonNode *node)
{
	g_autofree gchar *text = kl_json_node_to_string(node, FALSE);
	kl_store_query_bind_text(query, param, text);
}

/* A JSON text as json.dumps() of a Python str: a JSON string literal. */
static void
bind_pickled_text(KlStoreQuery *query, gint param, const gchar *value)
{
	g_autoptr(JsonNode) node = NULL;

	if (value == NULL) {
		kl_store_query_bind_null(query, param);
		return;
	}
	node = json_node_init_string(json_node_alloc(), value);
	bind_json_node(query, param, node);
}

static void
bind_strv(KlStoreQuery *query, gint param, GStrv value)
{
	g_autoptr(JsonArray) array = NULL;
	g_autoptr(JsonNode) node = NULL;

	if (value == NULL) {
		kl_store_query_bind_null(query, param);
		return;
	}
	array = json_array_new();
	for (guint i = 0; value[i] != NULL; i++)
		json_array_add_string_element(array, value[i]);
	node = json_node_init_array(json_node_alloc(), array);
	bind_json_node(query, param, node);
}

static void
bind_int_array(KlStoreQuery *query, gint param, GArray *value)
{
	g_autoptr(JsonArray) array = NULL;
	g_autoptr(JsonNode) node = NULL;

	if (value == NULL) {
		kl_store_query_bind_null(query, param);
		return;
	}
	array = json_array_new();
	for (guint i = 0; i < value->len; i++)
		json_array_add_int_element(array, g_array_index(value, gint, i));
	node = json_node_init_array(json_node_alloc(), array);
	bind_json_node(query, param, node);
}

static void
bind_clock_info(KlStoreQuery *query, gint param, const KlVerifierAgent *agent)
{
	g_autoptr(JsonObject) object = NULL;
	g_autoptr(JsonNode) node = NULL;

	if (!agent->has_tpm_clockinfo) {
		kl_store_query_bind_null(query, param);
		return;
	}
	object = json_object_new();
	json_object_set_int_member(object, "clock", (gint64)agent->tpm_clockinfo.clock);
	json_object_set_int_member(object, "resetCount", agent->tpm_clockinfo.reset_count);
	json_object_set_int_member(object, "restartCount", agent->tpm_clockinfo.restart_count);
	json_object_set_int_member(object, "safe", agent->tpm_clockinfo.safe ? 1 : 0);
	node = json_node_init_object(json_node_alloc(), object);
	bind_json_node(query, param, node);
}

/*
 * A column of JSON: *node is NULL for SQL NULL and JSON null.  The parser's
 * own message may quote the text: only the column is named.
 */
static gboolean
get_json(KlStoreQuery *query, gint column, const gchar *name, JsonNode **node, GError **error)
{
	const gchar *text;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(JsonNode) parsed = NULL;

	*node = NULL;
	if (kl_store_query_is_null(query, column))
		return TRUE;
	text = kl_store_query_get_text(query, column);
	parsed = kl_json_parse(text,
			       strlen(text),
			       KL_VERIFIER_STORE_JSON_MAX,
			       KL_VERIFIER_STORE_JSON_DEPTH,
			       &error_local);
	if (parsed == NULL) {
		g_set_error(error,
			    KL_STORE_ERROR,
			    KL_STORE_ERROR_CORRUPT,
			    "verifiermain.%s holds no valid JSON",
			    name);
		return FALSE;
	}
	if (!JSON_NODE_HOLDS_NULL(parsed))
		*node = g_steal_pointer(&parsed);
	return TRUE;
}

static void
set_column_error(GError **error, const gchar *name, const gchar *expected)
{
	g_set_error(error,
		    KL_STORE_ERROR,
		    KL_STORE_ERROR_CORRUPT,
		    "verifiermain.%s holds no %s",
		    name,
		    expected);
}

/* A column holding a JSON list; *array is NULL for NULL, and borrowed from *node. */
static gboolean
get_json_array(KlStoreQuery *query,
	       gint column,
	       const gchar *name,
	       const gchar *expected,
	       JsonNode **node,
	       JsonArray **array,
	       GError **error)
{
	*array = NULL;
	if (!get_json(query, column, name, node, error))
		return FALSE;
	if (*node == NULL)
		return TRUE;
	if (!JSON_NODE_HOLDS_ARRAY(*node)) {
		set_column_error(error, name, expected);
		return FALSE;
	}
	*array = json_node_get_array(*node);
	return TRUE;
}

/* A JSON string gives its text; an object (older releases stored dicts) its JSON. */
static gboolean
get_pickled_text(KlStoreQuery *query, gint column, const gchar *name, gchar **value, GError **error)
{
	g_autoptr(JsonNode) node = NULL;

	if (!get_json(query, column, name, &node, error))
		return FALSE;
	if (node == NULL)
		return TRUE;
	if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING)
		*value = g_strdup(json_node_get_string(node));
	else if (JSON_NODE_HOLDS_OBJECT(node))
		*value = kl_json_node_to_string(node, FALSE);
	else {
		set_column_error(error, name, "JSON text");
		return FALSE;
	}
	return TRUE;
}

static gboolean
get_strv(KlStoreQuery *query, gint column, const gchar *name, GStrv *value, GError **error)
{
	g_autoptr(JsonNode) node = NULL;
	g_autoptr(GStrvBuilder) builder = NULL;
	JsonArray *array;

	if (!get_json_array(query, column, name, "list of strings", &node, &array, error))
		return FALSE;
	if (array == NULL)
		return TRUE;
	builder = g_strv_builder_new();
	for (guint i = 0; i < json_array_get_length(array); i++) {
		JsonNode *element = json_array_get_element(array, i);
		if (!JSON_NODE_HOLDS_VALUE(element) ||
		    json_node_get_value_type(element) != G_TYPE_STRING) {
			set_column_error(error, name, "list of strings");
			return FALSE;
		}
		g_strv_builder_add(builder, json_node_get_string(element));
	}
	*value = g_strv_builder_end(builder);
	return TRUE;
}

static gboolean
get_int_array(KlStoreQuery *query, gint column, const gchar *name, GArray **value, GError **error)
{
	g_autoptr(JsonNode) node = NULL;
	g_autoptr(GArray) result = NULL;
	JsonArray *array;

	if (!get_json_array(query, column, name, "list of integers", &node, &array, error))
		return FALSE;
	if (array == NULL)
		return TRUE;
	result = g_array_sized_new(FALSE, FALSE, sizeof(gint), json_array_get_length(array));
	for (guint i = 0; i < json_array_get_length(array); i++) {
		JsonNode *element = json_array_get_element(array, i);
		gint64 number;
		gint item;
		if (!JSON_NODE_HOLDS_VALUE(element) ||
		    json_node_get_value_type(element) != G_TYPE_INT64) {
			set_column_error(error, name, "list of integers");
			return FALSE;
		}
		number = json_node_get_int(element);
		if (number < G_MININT || number > G_MAXINT) {
			set_column_error(error, name, "list of integers");
			return FALSE;
		}
		item = (gint)number;
		g_array_append_val(result, item);
	}
	*value = g_steal_pointer(&result);
	return TRUE;
}

/* {"clock", "resetCount", "restartCount", "safe"}; safe may be 0/1 or a boolean. */
static gboolean
get_clock_info(KlStoreQuery *query, gint column, KlVerifierAgent *agent, GError **error)
{
	g_autoptr(JsonNode) node = NULL;
	g_autoptr(GError) error_local = NULL;
	JsonObject *object;
	JsonNode *safe;
	gint64 clock = 0;
	gint64 reset_count = 0;
	gint64 restart_count = 0;

	if (!get_json(query, column, "tpm_clockinfo", &node, error))
		return FALSE;
	if (node == NULL)
		return TRUE;
	if (!JSON_NODE_HOLDS_OBJECT(node)) {
		set_column_error(error, "tpm_clockinfo", "clock info");
		return FALSE;
	}
	object = json_node_get_object(node);
	safe = json_object_get_member(object, "safe");
	if (!kl_json_object_get_int(object, "clock", 0, G_MAXINT64, &clock, &error_local) ||
	    !kl_json_object_get_int(object,
				    "resetCount",
				    0,
				    G_MAXUINT32,
				    &reset_count,
				    &error_local) ||
	    !kl_json_object_get_int(object,
				    "restartCount",
				    0,
				    G_MAXUINT32,
				    &restart_count,
				    &error_local) ||
	    safe == NULL || !JSON_NODE_HOLDS_VALUE(safe) ||
	    (json_node_get_value_type(safe) != G_TYPE_INT64 &&
	     json_node_get_value_type(safe) != G_TYPE_BOOLEAN)) {
		set_column_error(error, "tpm_clockinfo", "clock info");
		return FALSE;
	}
	agent->has_tpm_clockinfo = TRUE;
	agent->tpm_clockinfo.clock = (guint64)clock;
	agent->tpm_clockinfo.reset_count = (guint32)reset_count;
	agent->tpm_clockinfo.restart_count = (guint32)restart_count;
	agent->tpm_clockinfo.safe = json_node_get_value_type(safe) == G_TYPE_BOOLEAN
					    ? json_node_get_boolean(safe)
					    : json_node_get_int(safe) != 0;
	return TRUE;
}

/* Agents */

/* The order of the columns in every statement below. */
#define AGENT_COLUMNS                                                                            \
	"agent_id, v, ip, port, verifier_id, verifier_ip, verifier_port, operational_state, "    \
	"public_key, tpm_policy, meta_data, ima_policy_id, mb_policy_id, "                       \
	"ima_sign_verification_keys, revocation_key, accept_tpm_hash_algs, "                     \
	"accept_tpm_encryption_algs, accept_tpm_signing_algs, hash_alg, enc_alg, sign_alg, "     \
	"boottime, ima_pcrs, pcr10, next_ima_ml_entry, learned_ima_keyrings, severity_level, "   \
	"last_event_id, supported_version, ak_tpm, mtls_cert, attestation_count, "               \
	"last_received_quote, last_successful_attestation, tpm_clockinfo, accept_attestations, " \
	"consecutive_attestation_failures"

enum {
	COL_AGENT_ID,
	COL_V,
	COL_IP,
	COL_PORT,
	COL_VERIFIER_ID,
	COL_VERIFIER_IP,
	COL_VERIFIER_PORT,
	COL_OPERATIONAL_STATE,
	COL_PUBLIC_KEY,
	COL_TPM_POLICY,
	COL_META_DATA,
	COL_IMA_POLICY_ID,
	COL_MB_POLICY_ID,
	COL_IMA_SIGN_VERIFICATION_KEYS,
	COL_REVOCATION_KEY,
	COL_ACCEPT_TPM_HASH_ALGS,
	COL_ACCEPT_TPM_ENCRYPTION_ALGS,
	COL_ACCEPT_TPM_SIGNING_ALGS,
	COL_HASH_ALG,
	COL_ENC_ALG,
	COL_SIGN_ALG,
	COL_BOOTTIME,
	COL_IMA_PCRS,
	COL_PCR10,
	COL_NEXT_IMA_ML_ENTRY,
	COL_LEARNED_IMA_KEYRINGS,
	COL_SEVERITY_LEVEL,
	COL_LAST_EVENT_ID,
	COL_SUPPORTED_VERSION,
	COL_AK_TPM,
	COL_MTLS_CERT,
	COL_ATTESTATION_COUNT,
	COL_LAST_RECEIVED_QUOTE,
	COL_LAST_SUCCESSFUL_ATTESTATION,
	COL_TPM_CLOCKINFO,
	COL_ACCEPT_ATTESTATIONS,
	COL_CONSECUTIVE_ATTESTATION_FAILURES,
	N_AGENT_COLUMNS,
};

G_STATIC_ASSERT(N_AGENT_COLUMNS == G_N_ELEMENTS(verifiermain_columns));
G_STATIC_ASSERT(KL_VERIFIER_STATE_TERMINATED == 8);
G_STATIC_ASSERT(KL_VERIFIER_STATE_TENANT_FAILED == 10);

static KlVerifierAgent *
kl_verifier_store_read_agent(KlStoreQuery *query, GError **error)
{
	g_autoptr(KlVerifierAgent) agent = NULL;
	const gchar *agent_id = kl_store_query_get_text(query, COL_AGENT_ID);

	if (agent_id == NULL) {
		set_column_error(error, "agent_id", "agent id");
		return NULL;
	}
	agent = kl_verifier_agent_new(agent_id);
	agent->v = kl_store_query_dup_text(query, COL_V);
	agent->ip = kl_store_query_dup_text(query, COL_IP);
	agent->port = get_nullable_int(query, COL_PORT);
	agent->verifier_id = kl_store_query_dup_text(query, COL_VERIFIER_ID);
	agent->verifier_ip = kl_store_query_dup_text(query, COL_VERIFIER_IP);
	agent->verifier_port = get_nullable_int(query, COL_VERIFIER_PORT);
	agent->operational_state = get_nullable_int(query, COL_OPERATIONAL_STATE);
	agent->public_key = kl_store_query_dup_text(query, COL_PUBLIC_KEY);
	if (!get_pickled_text(query, COL_TPM_POLICY, "tpm_policy", &agent->tpm_policy, error))
		return NULL;
	agent->meta_data = kl_store_query_dup_text(query, COL_META_DATA);
	agent->ima_policy_id = get_nullable_int(query, COL_IMA_POLICY_ID);
	agent->mb_policy_id = get_nullable_int(query, COL_MB_POLICY_ID);
	agent->ima_sign_verification_keys =
		kl_store_query_dup_text(query, COL_IMA_SIGN_VERIFICATION_KEYS);
	agent->revocation_key = kl_store_query_dup_text(query, COL_REVOCATION_KEY);
	if (!get_strv(query,
		      COL_ACCEPT_TPM_HASH_ALGS,
		      "accept_tpm_hash_algs",
		      &agent->accept_tpm_hash_algs,
		      error) ||
	    !get_strv(query,
		      COL_ACCEPT_TPM_ENCRYPTION_ALGS,
		      "accept_tpm_encryption_algs",
		      &agent->accept_tpm_encryption_algs,
		      error) ||
	    !get_strv(query,
		      COL_ACCEPT_TPM_SIGNING_ALGS,
		      "accept_tpm_signing_algs",
		      &agent->accept_tpm_signing_algs,
		      error))
		return NULL;
	agent->hash_alg = kl_store_query_dup_text(query, COL_HASH_ALG);
	agent->enc_alg = kl_store_query_dup_text(query, COL_ENC_ALG);
	agent->sign_alg = kl_store_query_dup_text(query, COL_SIGN_ALG);
	agent->boottime = get_nullable_int(query, COL_BOOTTIME);
	if (!get_int_array(query, COL_IMA_PCRS, "ima_pcrs", &agent->ima_pcrs, error))
		return NULL;
	agent->pcr10 = kl_store_query_dup_bytes(query, COL_PCR10);
	agent->next_ima_ml_entry = get_nullable_int(query, COL_NEXT_IMA_ML_ENTRY);
	agent->learned_ima_keyrings = kl_store_query_dup_text(query, COL_LEARNED_IMA_KEYRINGS);
	agent->severity_level = get_nullable_int(query, COL_SEVERITY_LEVEL);
	agent->last_event_id = kl_store_query_dup_text(query, COL_LAST_EVENT_ID);
	agent->supported_version = kl_store_query_dup_text(query, COL_SUPPORTED_VERSION);
	agent->ak_tpm = kl_store_query_dup_text(query, COL_AK_TPM);
	agent->mtls_cert = kl_store_query_dup_text(query, COL_MTLS_CERT);
	agent->attestation_count = get_nullable_int(query, COL_ATTESTATION_COUNT);
	agent->last_received_quote = get_nullable_int(query, COL_LAST_RECEIVED_QUOTE);
	agent->last_successful_attestation =
		get_nullable_int(query, COL_LAST_SUCCESSFUL_ATTESTATION);
	if (!get_clock_info(query, COL_TPM_CLOCKINFO, agent, error))
		return NULL;
	agent->accept_attestations = kl_store_query_is_null(query, COL_ACCEPT_ATTESTATIONS) ||
				     kl_store_query_get_boolean(query, COL_ACCEPT_ATTESTATIONS);
	agent->consecutive_attestation_failures =
		get_nullable_int(query, COL_CONSECUTIVE_ATTESTATION_FAILURES);
	return g_steal_pointer(&agent);
}

KlVerifierAgent *
kl_verifier_store_get_agent(KlVerifierStore *self, const gchar *agent_id, GError **error)
{
	g_autoptr(KlStoreQuery) query = NULL;
	gboolean has_row = FALSE;

	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(agent_id != NULL, NULL);

	query = kl_store_query_new(self->store,
				   "SELECT " AGENT_COLUMNS " FROM verifiermain WHERE agent_id = ?",
				   "reading an agent",
				   error);
	if (query == NULL)
		return NULL;
	kl_store_query_bind_text(query, 1, agent_id);
	if (!kl_store_query_step(query, &has_row, error))
		return NULL;
	if (!has_row)
		return NULL;
	return kl_verifier_store_read_agent(query, error);
}

/* Binds every column of @agent to parameters 1..N_AGENT_COLUMNS, in AGENT_COLUMNS order. */
static void
kl_verifier_store_bind_agent(KlStoreQuery *query, const KlVerifierAgent *agent)
{
	kl_store_query_bind_text(query, COL_AGENT_ID + 1, agent->agent_id);
	kl_store_query_bind_text(query, COL_V + 1, agent->v);
	kl_store_query_bind_text(query, COL_IP + 1, agent->ip);
	bind_nullable_int(query, COL_PORT + 1, agent->port);
	kl_store_query_bind_text(query, COL_VERIFIER_ID + 1, agent->verifier_id);
	kl_store_query_bind_text(query, COL_VERIFIER_IP + 1, agent->verifier_ip);
	bind_nullable_int(query, COL_VERIFIER_PORT + 1, agent->verifier_port);
	bind_nullable_int(query, COL_OPERATIONAL_STATE + 1, agent->operational_state);
	kl_store_query_bind_text(query, COL_PUBLIC_KEY + 1, agent->public_key);
	bind_pickled_text(query, COL_TPM_POLICY + 1, agent->tpm_policy);
	kl_store_query_bind_text(query, COL_META_DATA + 1, agent->meta_data);
	bind_nullable_int(query, COL_IMA_POLICY_ID + 1, agent->ima_policy_id);
	bind_nullable_int(query, COL_MB_POLICY_ID + 1, agent->mb_policy_id);
	kl_store_query_bind_text(query,
				 COL_IMA_SIGN_VERIFICATION_KEYS + 1,
				 agent->ima_sign_verification_keys);
	kl_store_query_bind_text(query, COL_REVOCATION_KEY + 1, agent->revocation_key);
	bind_strv(query, COL_ACCEPT_TPM_HASH_ALGS + 1, agent->accept_tpm_hash_algs);
	bind_strv(query, COL_ACCEPT_TPM_ENCRYPTION_ALGS + 1, agent->accept_tpm_encryption_algs);
	bind_strv(query, COL_ACCEPT_TPM_SIGNING_ALGS + 1, agent->accept_tpm_signing_algs);
	kl_store_query_bind_text(query, COL_HASH_ALG + 1, agent->hash_alg);
	kl_store_query_bind_text(query, COL_ENC_ALG + 1, agent->enc_alg);
	kl_store_query_bind_text(query, COL_SIGN_ALG + 1, agent->sign_alg);
	bind_nullable_int(query, COL_BOOTTIME + 1, agent->boottime);
	bind_int_array(query, COL_IMA_PCRS + 1, agent->ima_pcrs);
	kl_store_query_bind_bytes(query, COL_PCR10 + 1, agent->pcr10);
	bind_nullable_int(query, COL_NEXT_IMA_ML_ENTRY + 1, agent->next_ima_ml_entry);
	kl_store_query_bind_text(query, COL_LEARNED_IMA_KEYRINGS + 1, agent->learned_ima_keyrings);
	bind_nullable_int(query, COL_SEVERITY_LEVEL + 1, agent->severity_level);
	kl_store_query_bind_text(query, COL_LAST_EVENT_ID + 1, agent->last_event_id);
	kl_store_query_bind_text(query, COL_SUPPORTED_VERSION + 1, agent->supported_version);
	kl_store_query_bind_text(query, COL_AK_TPM + 1, agent->ak_tpm);
	kl_store_query_bind_text(query, COL_MTLS_CERT + 1, agent->mtls_cert);
	bind_nullable_int(query, COL_ATTESTATION_COUNT + 1, agent->attestation_count);
	bind_nullable_int(query, COL_LAST_RECEIVED_QUOTE + 1, agent->last_received_quote);
	bind_nullable_int(query,
			  COL_LAST_SUCCESSFUL_ATTESTATION + 1,
			  agent->last_successful_attestation);
	bind_clock_info(query, COL_TPM_CLOCKINFO + 1, agent);
	kl_store_query_bind_boolean(query, COL_ACCEPT_ATTESTATIONS + 1, agent->accept_attestations);
	bind_nullable_int(query,
			  COL_CONSECUTIVE_ATTESTATION_FAILURES + 1,
			  agent->consecutive_attestation_failures);
}

/* An upsert rather than INSERT OR REPLACE: REPLACE deletes the row first,
 * which would cascade to the agent's history. */
gboolean
kl_verifier_store_put_agent(KlVerifierStore *self, const KlVerifierAgent *agent, GError **error)
{
	g_autoptr(KlStoreQuery) query = NULL;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(agent != NULL && agent->agent_id != NULL, FALSE);

	query = kl_store_query_new(
		self->store,
		"INSERT INTO verifiermain (" AGENT_COLUMNS
		") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
		"?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, "
		"?33, ?34, ?35, ?36, ?37) ON CONFLICT (agent_id) DO UPDATE SET "
		"v = excluded.v, ip = excluded.ip, port = excluded.port, "
		"verifier_id = excluded.verifier_id, verifier_ip = excluded.verifier_ip, "
		"verifier_port = excluded.verifier_port, "
		"operational_state = excluded.operational_state, "
		"public_key = excluded.public_key, tpm_policy = excluded.tpm_policy, "
		"meta_data = excluded.meta_data, ima_policy_id = excluded.ima_policy_id, "
		"mb_policy_id = excluded.mb_policy_id, "
		"ima_sign_verification_keys = excluded.ima_sign_verification_keys, "
		"revocation_key = excluded.revocation_key, "
		"accept_tpm_hash_algs = excluded.accept_tpm_hash_algs, "
		"accept_tpm_encryption_algs = excluded.accept_tpm_encryption_algs, "
		"accept_tpm_signing_algs = excluded.accept_tpm_signing_algs, "
		"hash_alg = excluded.hash_alg, enc_alg = excluded.enc_alg, "
		"sign_alg = excluded.sign_alg, boottime = excluded.boottime, "
		"ima_pcrs = excluded.ima_pcrs, pcr10 = excluded.pcr10, "
		"next_ima_ml_entry = excluded.next_ima_ml_entry, "
		"learned_ima_keyrings = excluded.learned_ima_keyrings, "
		"severity_level = excluded.severity_level, "
		"last_event_id = excluded.last_event_id, "
		"supported_version = excluded.supported_version, ak_tpm = excluded.ak_tpm, "
		"mtls_cert = excluded.mtls_cert, attestation_count = excluded.attestation_count, "
		"last_received_quote = excluded.last_received_quote, "
		"last_successful_attestation = excluded.last_successful_attestation, "
		"tpm_clockinfo = excluded.tpm_clockinfo, "
		"accept_attestations = excluded.accept_attestations, "
		"consecutive_attestation_failures = excluded.consecutive_attestation_failures",
		"storing an agent",
		error);
	if (query == NULL)
		return FALSE;
	kl_verifier_store_bind_agent(query, agent);
	return kl_store_query_exec(query, error);
}

gboolean
kl_verifier_store_delete_agent(KlVerifierStore *self,
			       const gchar *agent_id,
			       gboolean *deleted,
			       GError **error)
{
	g_autoptr(KlStoreQuery) query = NULL;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(agent_id != NULL, FALSE);

	/* One statement: the history goes with it (ON DELETE CASCADE). */
	query = kl_store_query_new(self->store,
				   "DELETE FROM verifiermain WHERE agent_id = ?",
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
kl_verifier_store_list_agent_ids(KlVerifierStore *self, const gchar *verifier_id, GError **error)
{
	g_autoptr(KlStoreQuery) query = NULL;

	g_return_val_if_fail(self != NULL, NULL);

	query = kl_store_query_new(self->store,
				   "SELECT agent_id FROM verifiermain "
				   "WHERE ?1 IS NULL OR verifier_id = ?1 ORDER BY agent_id",
				   "listing agents",
				   error);
	if (query == NULL)
		return NULL;
	kl_store_query_bind_text(query, 1, verifier_id);
	return kl_store_query_collect_texts(query, error);
}

GPtrArray *
kl_verifier_store_list_agents(KlVerifierStore *self, const gchar *verifier_id, GError **error)
{
	g_autoptr(KlStoreQuery) query = NULL;
	g_autoptr(GPtrArray) agents =
		g_ptr_array_new_with_free_func((GDestroyNotify)kl_verifier_agent_free);

	g_return_val_if_fail(self != NULL, NULL);

	query = kl_store_query_new(self->store,
				   "SELECT " AGENT_COLUMNS " FROM verifiermain "
				   "WHERE ?1 IS NULL OR verifier_id = ?1 ORDER BY agent_id",
				   "reading every agent",
				   error);
	if (query == NULL)
		return NULL;
	kl_store_query_bind_text(query, 1, verifier_id);
	for (;;) {
		gboolean has_row = FALSE;
		KlVerifierAgent *agent;
		if (!kl_store_query_step(query, &has_row, error))
			return NULL;
		if (!has_row)
			break;
		agent = kl_verifier_store_read_agent(query, error);
		if (agent == NULL)
			return NULL;
		g_ptr_array_add(agents, agent);
	}
	return g_steal_pointer(&agents);
}

/*
 * Upstream's guard is "operational_state NOT IN (TERMINATED, TENANT_FAILED)";
 * a NULL state (a push agent) passes here rather than silently failing the
 * SQL comparison.
 */
gboolean
kl_verifier_store_update_progress(KlVerifierStore *self,
				  const KlVerifierAgent *agent,
				  gboolean *updated,
				  GError **error)
{
	g_autoptr(KlStoreQuery) query = NULL;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(agent != NULL && agent->agent_id != NULL, FALSE);

	query = kl_store_query_new(self->store,
				   "UPDATE verifiermain SET operational_state = ?2, "
				   "attestation_count = ?3, last_received_quote = ?4, "
				   "last_successful_attestation = ?5, hash_alg = ?6, enc_alg = ?7, "
				   "sign_alg = ?8, tpm_clockinfo = ?9, next_ima_ml_entry = ?10, "
				   "ima_pcrs = ?11, pcr10 = ?12, boottime = ?13, "
				   "learned_ima_keyrings = ?14, severity_level = ?15, "
				   "last_event_id = ?16, consecutive_attestation_failures = ?17 "
				   "WHERE agent_id = ?1 AND (operational_state IS NULL OR "
				   "operational_state NOT IN (8, 10))",
				   "storing attestation progress",
				   error);
	if (query == NULL)
		return FALSE;
	kl_store_query_bind_text(query, 1, agent->agent_id);
	bind_nullable_int(query, 2, agent->operational_state);
	bind_nullable_int(query, 3, agent->attestation_count);
	bind_nullable_int(query, 4, agent->last_received_quote);
	bind_nullable_int(query, 5, agent->last_successful_attestation);
	kl_store_query_bind_text(query, 6, agent->hash_alg);
	kl_store_query_bind_text(query, 7, agent->enc_alg);
	kl_store_query_bind_text(query, 8, agent->sign_alg);
	bind_clock_info(query, 9, agent);
	bind_nullable_int(query, 10, agent->next_ima_ml_entry);
	bind_int_array(query, 11, agent->ima_pcrs);
	kl_store_query_bind_bytes(query, 12, agent->pcr10);
	bind_nullable_int(query, 13, agent->boottime);
	kl_store_query_bind_text(query, 14, agent->learned_ima_keyrings);
	bind_nullable_int(query, 15, agent->severity_level);
	kl_store_query_bind_text(query, 16, agent->last_event_id);
	bind_nullable_int(query, 17, agent->consecutive_attestation_failures);
	if (!kl_store_query_exec(query, error))
		return FALSE;
	if (updated != NULL)
		*updated = kl_store_get_changes(self->store) > 0;
	return TRUE;
}

typedef struct {
	KlVerifierStore *self;
	GPtrArray *agents;
	gboolean *updated;
} KlVerifierUpdateMany;

static gboolean
kl_verifier_store_update_progress_many_tx(KlStore *store, gpointer user_data, GError **error)
{
	KlVerifierUpdateMany *data = user_data;

	for (guint i = 0; i < data->agents->len; i++) {
		if (!kl_verifier_store_update_progress(data->self,
						       g_ptr_array_index(data->agents, i),
						       data->updated != NULL ? &data->updated[i]
									     : NULL,
						       error))
			return FALSE;
	}
	return TRUE;
}

gboolean
kl_verifier_store_update_progress_many(KlVerifierStore *self,
				       GPtrArray *agents,
				       gboolean *updated,
				       GError **error)
{
	KlVerifierUpdateMany data = {self, agents, updated};

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(agents != NULL, FALSE);

	if (agents->len == 0)
		return TRUE;
	return kl_verifier_store_write(self,
				       kl_verifier_store_update_progress_many_tx,
				       &data,
				       error);
}

gboolean
kl_verifier_store_set_state(KlVerifierStore *self,
			    const gchar *agent_id,
			    KlVerifierState state,
			    gboolean *updated,
			    GError **error)
{
	g_autoptr(KlStoreQuery) query = NULL;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(agent_id != NULL, FALSE);
	g_return_val_if_fail(state <= KL_VERIFIER_STATE_TENANT_FAILED, FALSE);

	query = kl_store_query_new(
		self->store,
		"UPDATE verifiermain SET operational_state = ?2 WHERE agent_id = ?1",
		"setting an agent's state",
		error);
	if (query == NULL)
		return FALSE;
	kl_store_query_bind_text(query, 1, agent_id);
	kl_store_query_bind_int64(query, 2, state);
	if (!kl_store_query_exec(query, error))
		return FALSE;
	if (updated != NULL)
		*updated = kl_store_get_changes(self->store) > 0;
	return TRUE;
}

/* Policies */

typedef struct {
	const gchar *table;
	const gchar *what; /* for messages */
	const gchar *sql_find;
	const gchar *sql_get;
	const gchar *sql_get_by_id;
	const gchar *sql_insert;
	const gchar *sql_update;
	const gchar *sql_in_use;
	const gchar *sql_delete;
	const gchar *sql_names;
} KlVerifierPolicySql;

/* Both kinds select (id, name, policy, checksum, generator, tpm_policy) and
 * write ?1 name and ?2 policy; runtime policies also ?3 checksum,
 * ?4 generator and ?5 tpm_policy. */
static const KlVerifierPolicySql policy_sql[] = {
	[KL_VERIFIER_POLICY_RUNTIME] =
		{
			"allowlists",
			"runtime policy",
			"SELECT id FROM allowlists WHERE name = ?1",
			"SELECT id, name, ima_policy, checksum, generator, tpm_policy "
			"FROM allowlists WHERE name = ?1",
			"SELECT id, name, ima_policy, checksum, generator, tpm_policy "
			"FROM allowlists WHERE id = ?1",
			"INSERT INTO allowlists (name, ima_policy, checksum, generator, "
			"tpm_policy) "
			"VALUES (?1, ?2, ?3, ?4, ?5)",
			"UPDATE allowlists SET ima_policy = ?2, checksum = ?3, generator = ?4, "
			"tpm_policy = ?5 WHERE name = ?1",
			"SELECT count(*) FROM verifiermain WHERE ima_policy_id = ?1",
			"DELETE FROM allowlists WHERE id = ?1",
			"SELECT name FROM allowlists ORDER BY name",
		},
	[KL_VERIFIER_POLICY_MB] =
		{
			"mbpolicies",
			"measured boot policy",
			"SELECT id FROM mbpolicies WHERE name = ?1",
			"SELECT id, name, mb_policy, NULL, NULL, NULL FROM mbpolicies WHERE name = "
			"?1",
			"SELECT id, name, mb_policy, NULL, NULL, NULL FROM mbpolicies WHERE id = "
			"?1",
			"INSERT INTO mbpolicies (name, mb_policy) VALUES (?1, ?2)",
			"UPDATE mbpolicies SET mb_policy = ?2 WHERE name = ?1",
			"SELECT count(*) FROM verifiermain WHERE mb_policy_id = ?1",
			"DELETE FROM mbpolicies WHERE id = ?1",
			"SELECT name FROM mbpolicies ORDER BY name",
		},
};

static const KlVerifierPolicySql *
kl_verifier_policy_sql(KlVerifierPolicyKind kind)
{
	g_return_val_if_fail(kind == KL_VERIFIER_POLICY_RUNTIME || kind == KL_VERIFIER_POLICY_MB,
			     &policy_sql[KL_VERIFIER_POLICY_RUNTIME]);
	return &policy_sql[kind];
}

static KlVerifierPolicy *
kl_verifier_store_read_policy(KlStoreQuery *query, KlVerifierPolicyKind kind)
{
	KlVerifierPolicy *policy = kl_verifier_policy_new(
		kind,
		kl_store_query_get_text(query, 1) != NULL ? kl_store_query_get_text(query, 1) : "");

	policy->id = kl_store_query_get_int64(query, 0);
	policy->policy = kl_store_query_dup_text(query, 2);
	policy->checksum = kl_store_query_dup_text(query, 3);
	policy->generator = get_nullable_int(query, 4);
	policy->tpm_policy = kl_store_query_dup_text(query, 5);
	return policy;
}

/* Finds the id of a named policy: *id stays KL_VERIFIER_NULL if there is none. */
static gboolean
kl_verifier_store_find_policy(KlStore *store,
			      const KlVerifierPolicySql *sql,
			      const gchar *name,
			      gint64 *id,
			      GError **error)
{
	g_autoptr(KlStoreQuery) query = NULL;
	gboolean has_row = FALSE;

	*id = KL_VERIFIER_NULL;
	query = kl_store_query_new(store, sql->sql_find, "looking up a policy", error);
	if (query == NULL)
		return FALSE;
	kl_store_query_bind_text(query, 1, name);
	if (!kl_store_query_step(query, &has_row, error))
		return FALSE;
	if (has_row)
		*id = kl_store_query_get_int64(query, 0);
	return TRUE;
}

static void
kl_verifier_store_bind_policy(KlStoreQuery *query, const KlVerifierPolicy *policy)
{
	g_autofree gchar *checksum = NULL;

	kl_store_query_bind_text(query, 1, policy->name);
	kl_store_query_bind_text(query, 2, policy->policy);
	if (policy->kind != KL_VERIFIER_POLICY_RUNTIME)
		return;
	/* upstream: hashlib.sha256(runtime_policy).hexdigest() */
	if (policy->policy != NULL)
		checksum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, policy->policy, -1);
	kl_store_query_bind_text(query, 3, checksum);
	bind_nullable_int(query, 4, policy->generator);
	kl_store_query_bind_text(query, 5, policy->tpm_policy);
}

typedef struct {
	const KlVerifierPolicy *policy;
	gint64 id;
} KlVerifierAddPolicy;

static gboolean
kl_verifier_store_add_policy_tx(KlStore *store, gpointer user_data, GError **error)
{
	KlVerifierAddPolicy *data = user_data;
	const KlVerifierPolicySql *sql = kl_verifier_policy_sql(data->policy->kind);
	g_autoptr(KlStoreQuery) query = NULL;
	gint64 existing = KL_VERIFIER_NULL;

	if (!kl_verifier_store_find_policy(store, sql, data->policy->name, &existing, error))
		return FALSE;
	if (existing != KL_VERIFIER_NULL) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_CONFLICT,
			    "a %s of that name already exists",
			    sql->what);
		return FALSE;
	}
	query = kl_store_query_new(store, sql->sql_insert, "storing a policy", error);
	if (query == NULL)
		return FALSE;
	kl_verifier_store_bind_policy(query, data->policy);
	if (!kl_store_query_exec(query, error))
		return FALSE;
	data->id = kl_store_get_last_insert_rowid(store);
	return TRUE;
}

gboolean
kl_verifier_store_add_policy(KlVerifierStore *self,
			     const KlVerifierPolicy *policy,
			     gint64 *id,
			     GError **error)
{
	KlVerifierAddPolicy data = {policy, KL_VERIFIER_NULL};

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(policy != NULL && policy->name != NULL, FALSE);

	if (!kl_verifier_store_write(self, kl_verifier_store_add_policy_tx, &data, error))
		return FALSE;
	if (id != NULL)
		*id = data.id;
	return TRUE;
}

static KlVerifierPolicy *
kl_verifier_store_get_policy_where(KlVerifierStore *self,
				   KlVerifierPolicyKind kind,
				   const gchar *sql_text,
				   const gchar *name,
				   gint64 id,
				   GError **error)
{
	g_autoptr(KlStoreQuery) query = NULL;
	gboolean has_row = FALSE;

	query = kl_store_query_new(self->store, sql_text, "reading a policy", error);
	if (query == NULL)
		return NULL;
	if (name != NULL)
		kl_store_query_bind_text(query, 1, name);
	else
		kl_store_query_bind_int64(query, 1, id);
	if (!kl_store_query_step(query, &has_row, error))
		return NULL;
	if (!has_row)
		return NULL;
	return kl_verifier_store_read_policy(query, kind);
}

KlVerifierPolicy *
kl_verifier_store_get_policy(KlVerifierStore *self,
			     KlVerifierPolicyKind kind,
			     const gchar *name,
			     GError **error)
{
	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(name != NULL, NULL);

	return kl_verifier_store_get_policy_where(self,
						  kind,
						  kl_verifier_policy_sql(kind)->sql_get,
						  name,
						  0,
						  error);
}

KlVerifierPolicy *
kl_verifier_store_get_policy_by_id(KlVerifierStore *self,
				   KlVerifierPolicyKind kind,
				   gint64 id,
				   GError **error)
{
	g_return_val_if_fail(self != NULL, NULL);

	return kl_verifier_store_get_policy_where(self,
						  kind,
						  kl_verifier_policy_sql(kind)->sql_get_by_id,
						  NULL,
						  id,
						  error);
}

gboolean
kl_verifier_store_replace_policy(KlVerifierStore *self,
				 const KlVerifierPolicy *policy,
				 GError **error)
{
	const KlVerifierPolicySql *sql;
	g_autoptr(KlStoreQuery) query = NULL;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(policy != NULL && policy->name != NULL, FALSE);

	sql = kl_verifier_policy_sql(policy->kind);
	query = kl_store_query_new(self->store, sql->sql_update, "replacing a policy", error);
	if (query == NULL)
		return FALSE;
	kl_verifier_store_bind_policy(query, policy);
	if (!kl_store_query_exec(query, error))
		return FALSE;
	if (kl_store_get_changes(self->store) == 0) {
		g_set_error(error, KL_ERROR, KL_ERROR_NOT_FOUND, "no %s of that name", sql->what);
		return FALSE;
	}
	return TRUE;
}

typedef struct {
	KlVerifierPolicyKind kind;
	const gchar *name;
} KlVerifierDeletePolicy;

static gboolean
kl_verifier_store_delete_policy_tx(KlStore *store, gpointer user_data, GError **error)
{
	KlVerifierDeletePolicy *data = user_data;
	const KlVerifierPolicySql *sql = kl_verifier_policy_sql(data->kind);
	g_autoptr(KlStoreQuery) query = NULL;
	gboolean has_row = FALSE;
	gint64 id = KL_VERIFIER_NULL;

	if (!kl_verifier_store_find_policy(store, sql, data->name, &id, error))
		return FALSE;
	if (id == KL_VERIFIER_NULL) {
		g_set_error(error, KL_ERROR, KL_ERROR_NOT_FOUND, "no %s of that name", sql->what);
		return FALSE;
	}
	query = kl_store_query_new(store, sql->sql_in_use, "looking for agents of a policy", error);
	if (query == NULL)
		return FALSE;
	kl_store_query_bind_int64(query, 1, id);
	if (!kl_store_query_step(query, &has_row, error))
		return FALSE;
	if (has_row && kl_store_query_get_int64(query, 0) > 0) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_CONFLICT,
			    "the %s is in use by %" G_GINT64_FORMAT " agent(s)",
			    sql->what,
			    kl_store_query_get_int64(query, 0));
		return FALSE;
	}
	g_clear_pointer(&query, kl_store_query_free);
	query = kl_store_query_new(store, sql->sql_delete, "deleting a policy", error);
	if (query == NULL)
		return FALSE;
	kl_store_query_bind_int64(query, 1, id);
	return kl_store_query_exec(query, error);
}

gboolean
kl_verifier_store_delete_policy(KlVerifierStore *self,
				KlVerifierPolicyKind kind,
				const gchar *name,
				GError **error)
{
	KlVerifierDeletePolicy data = {kind, name};

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(name != NULL, FALSE);

	return kl_verifier_store_write(self, kl_verifier_store_delete_policy_tx, &data, error);
}

GPtrArray *
kl_verifier_store_list_policy_names(KlVerifierStore *self,
				    KlVerifierPolicyKind kind,
				    GError **error)
{
	g_autoptr(KlStoreQuery) query = NULL;

	g_return_val_if_fail(self != NULL, NULL);

	query = kl_store_query_new(self->store,
				   kl_verifier_policy_sql(kind)->sql_names,
				   "listing policies",
				   error);
	if (query == NULL)
		return NULL;
	return kl_store_query_collect_texts(query, error);
}

/* History */

void
kl_verifier_store_set_history_limit(KlVerifierStore *self, guint limit)
{
	g_return_if_fail(self != NULL);
	self->history_limit = MAX(limit, 1);
}

guint
kl_verifier_store_get_history_limit(KlVerifierStore *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->history_limit;
}

typedef struct {
	GPtrArray *events;
	guint limit;
} KlVerifierAddEvents;

static gboolean
kl_verifier_store_insert_event(KlStore *store, KlVerifierEvent *event, GError **error)
{
	g_autoptr(KlStoreQuery) query = NULL;
	g_autoptr(GError) error_local = NULL;

	query = kl_store_query_new(
		store,
		"INSERT INTO kl_events (agent_id, kind, time, event_id, severity, "
		"context, subject) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
		"recording an event",
		error);
	if (query == NULL)
		return FALSE;
	kl_store_query_bind_text(query, 1, event->agent_id);
	kl_store_query_bind_int64(query, 2, event->kind);
	kl_store_query_bind_int64(query, 3, event->time);
	kl_store_query_bind_text(query, 4, event->event_id);
	kl_store_query_bind_int64(query, 5, event->severity);
	kl_store_query_bind_text(query, 6, event->context);
	kl_store_query_bind_text(query, 7, event->subject);
	if (!kl_store_query_exec(query, &error_local)) {
		/* The agent's row is the parent: it was deleted meanwhile. */
		if (g_error_matches(error_local, KL_STORE_ERROR, KL_STORE_ERROR_CONSTRAINT)) {
			g_set_error_literal(error,
					    KL_ERROR,
					    KL_ERROR_NOT_FOUND,
					    "recording an event: no such agent");
			return FALSE;
		}
		g_propagate_error(error, g_steal_pointer(&error_local));
		return FALSE;
	}
	event->id = kl_store_get_last_insert_rowid(store);
	return TRUE;
}

/* Keeps the newest @limit of one agent's events of one kind. */
static gboolean
kl_verifier_store_trim_events(KlStore *store,
			      const gchar *agent_id,
			      KlVerifierEventKind kind,
			      guint limit,
			      GError **error)
{
	g_autoptr(KlStoreQuery) query = NULL;

	query = kl_store_query_new(
		store,
		"DELETE FROM kl_events WHERE agent_id = ?1 AND kind = ?2 AND "
		"id <= (SELECT id FROM kl_events WHERE agent_id = ?1 AND kind = ?2 "
		"ORDER BY id DESC LIMIT 1 OFFSET ?3)",
		"trimming the history",
		error);
	if (query == NULL)
		return FALSE;
	kl_store_query_bind_text(query, 1, agent_id);
	kl_store_query_bind_int64(query, 2, kind);
	kl_store_query_bind_int64(query, 3, limit);
	return kl_store_query_exec(query, error);
}

static gboolean
kl_verifier_store_add_events_tx(KlStore *store, gpointer user_data, GError **error)
{
	KlVerifierAddEvents *data = user_data;
	g_autoptr(GHashTable) trimmed =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	for (guint i = 0; i < data->events->len; i++) {
		if (!kl_verifier_store_insert_event(store,
						    g_ptr_array_index(data->events, i),
						    error))
			return FALSE;
	}
	for (guint i = 0; i < data->events->len; i++) {
		KlVerifierEvent *event = g_ptr_array_index(data->events, i);
		gchar *key = g_strdup_printf("%u:%s", (guint)event->kind, event->agent_id);
		if (!g_hash_table_add(trimmed, key))
			continue;
		if (!kl_verifier_store_trim_events(store,
						   event->agent_id,
						   event->kind,
						   data->limit,
						   error))
			return FALSE;
	}
	return TRUE;
}

gboolean
kl_verifier_store_add_events(KlVerifierStore *self, GPtrArray *events, GError **error)
{
	KlVerifierAddEvents data = {events, 0};

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(events != NULL, FALSE);

	for (guint i = 0; i < events->len; i++) {
		KlVerifierEvent *event = g_ptr_array_index(events, i);
		g_return_val_if_fail(event != NULL && event->agent_id != NULL &&
					     event->event_id != NULL,
				     FALSE);
		g_return_val_if_fail(event->kind == KL_VERIFIER_EVENT_FINDING ||
					     event->kind == KL_VERIFIER_EVENT_REVOCATION,
				     FALSE);
	}
	if (events->len == 0)
		return TRUE;
	data.limit = self->history_limit;
	return kl_verifier_store_write(self, kl_verifier_store_add_events_tx, &data, error);
}

#define EVENT_COLUMNS "id, kind, agent_id, time, event_id, severity, context, subject"

static GPtrArray *
kl_verifier_store_read_events(KlStoreQuery *query, GError **error)
{
	g_autoptr(GPtrArray) events =
		g_ptr_array_new_with_free_func((GDestroyNotify)kl_verifier_event_free);

	for (;;) {
		gboolean has_row = FALSE;
		KlVerifierEvent *event;
		gint64 kind;
		gint64 severity;

		if (!kl_store_query_step(query, &has_row, error))
			return NULL;
		if (!has_row)
			break;
		kind = kl_store_query_get_int64(query, 1);
		severity = kl_store_query_get_int64(query, 5);
		if (kl_store_query_get_text(query, 2) == NULL ||
		    kl_store_query_get_text(query, 4) == NULL || severity < 0 ||
		    severity > G_MAXUINT ||
		    (kind != KL_VERIFIER_EVENT_FINDING && kind != KL_VERIFIER_EVENT_REVOCATION)) {
			g_set_error_literal(error,
					    KL_STORE_ERROR,
					    KL_STORE_ERROR_CORRUPT,
					    "kl_events holds an invalid row");
			return NULL;
		}
		event = kl_verifier_event_new((KlVerifierEventKind)kind,
					      kl_store_query_get_text(query, 2),
					      kl_store_query_get_int64(query, 3),
					      kl_store_query_get_text(query, 4),
					      (guint)severity,
					      kl_store_query_get_text(query, 6),
					      kl_store_query_get_text(query, 7));
		event->id = kl_store_query_get_int64(query, 0);
		g_ptr_array_add(events, event);
	}
	return g_steal_pointer(&events);
}

GPtrArray *
kl_verifier_store_list_events(KlVerifierStore *self,
			      const gchar *agent_id,
			      KlVerifierEventKind kind,
			      guint max,
			      GError **error)
{
	g_autoptr(KlStoreQuery) query = NULL;

	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(agent_id != NULL, NULL);

	query = kl_store_query_new(self->store,
				   "SELECT " EVENT_COLUMNS " FROM kl_events "
				   "WHERE agent_id = ?1 AND kind = ?2 ORDER BY id DESC LIMIT ?3",
				   "reading an agent's history",
				   error);
	if (query == NULL)
		return NULL;
	kl_store_query_bind_text(query, 1, agent_id);
	kl_store_query_bind_int64(query, 2, kind);
	kl_store_query_bind_int64(query, 3, max);
	return kl_verifier_store_read_events(query, error);
}

GPtrArray *
kl_verifier_store_list_events_since(KlVerifierStore *self, gint64 since, guint max, GError **error)
{
	g_autoptr(KlStoreQuery) query = NULL;

	g_return_val_if_fail(self != NULL, NULL);

	query = kl_store_query_new(self->store,
				   "SELECT " EVENT_COLUMNS " FROM kl_events "
				   "WHERE time >= ?1 ORDER BY time DESC, id DESC LIMIT ?2",
				   "reading recent events",
				   error);
	if (query == NULL)
		return NULL;
	kl_store_query_bind_int64(query, 1, since);
	kl_store_query_bind_int64(query, 2, max);
	return kl_verifier_store_read_events(query, error);
}
