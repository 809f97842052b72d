/*
 * kl-toml: a bounded TOML 1.0 reader for the Rust agent's agent.conf.
 *
 * Reads comments, [table] headers (dotted, quoted parts), bare, quoted and
 * dotted keys, the four string forms with TOML's escapes, integers
 * (decimal with `_`, signs; 0x/0o/0b), floats (with inf/nan), booleans and
 * arrays (nested, multi-line, trailing comma).  Inline tables, arrays of
 * tables and date-times are rejected with an error that says so: no agent
 * option uses them.  Duplicate keys and table redefinitions are errors, as
 * TOML requires.  Input is at most 1 MiB, nesting at most
 * KL_TOML_MAX_DEPTH levels.
 *
 * The result is a small immutable tree of KlTomlValue rather than a
 * GVariant because every node keeps where it was written (file, line,
 * column): a value that is well-formed TOML but wrong for its option (port
 * 0, an unknown algorithm) must be reported at its own position, which a
 * GVariant cannot carry.  The tree also keeps TOML's integer/float
 * distinction and the order of keys.  Nodes are owned by their parent;
 * getters return borrowed pointers valid while the root is referenced.
 *
 * Errors are KL_CONFIG_ERROR_PARSE in kl-config's domain, worded
 * "file:line:column: key 'table.key': what is wrong".
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define KL_TOML_MAX_SIZE  (1024 * 1024)
#define KL_TOML_MAX_DEPTH 32u

typedef enum {
	KL_TOML_KIND_TABLE,
	KL_TOML_KIND_ARRAY,
	KL_TOML_KIND_STRING,
	KL_TOML_KIND_INTEGER,
	KL_TOML_KIND_FLOAT,
	KL_TOML_KIND_BOOLEAN,
} KlTomlKind;

typedef struct _KlTomlValue KlTomlValue;

#define KL_TYPE_TOML_VALUE (kl_toml_value_get_type())
GType kl_toml_value_get_type(void) G_GNUC_CONST;

KlTomlValue *kl_toml_parse(const gchar *data, gsize length, const gchar *origin, GError **error);
KlTomlValue *kl_toml_parse_file(const gchar *path, GError **error);

KlTomlValue *kl_toml_value_ref(KlTomlValue *value);
void kl_toml_value_unref(KlTomlValue *value);

KlTomlKind kl_toml_value_get_kind(const KlTomlValue *value);
const gchar *kl_toml_kind_to_string(KlTomlKind kind);
const gchar *kl_toml_value_get_origin(const KlTomlValue *value);
guint kl_toml_value_get_line(const KlTomlValue *value);
guint kl_toml_value_get_column(const KlTomlValue *value);
gchar *kl_toml_value_describe(const KlTomlValue *value);

const gchar *kl_toml_value_get_string(const KlTomlValue *value);
gint64 kl_toml_value_get_integer(const KlTomlValue *value);
gdouble kl_toml_value_get_float(const KlTomlValue *value);
gboolean kl_toml_value_get_boolean(const KlTomlValue *value);

/* Arrays and tables: the number of elements / keys, in written order. */
guint kl_toml_value_get_length(const KlTomlValue *value);
KlTomlValue *kl_toml_value_get_element(const KlTomlValue *value, guint index);
const gchar *kl_toml_value_get_key(const KlTomlValue *table, guint index);
/* One key (not a dotted path) of a table, or NULL. */
KlTomlValue *kl_toml_value_lookup(const KlTomlValue *table, const gchar *key);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlTomlValue, kl_toml_value_unref)

G_END_DECLS
