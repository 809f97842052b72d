/*
 * A reader for Keylime's INI files with Python configparser's rules
 * (RawConfigParser, strict): `=` or `:` separators, `#` and `;` full-line
 * comments, indented continuation lines, a DEFAULT section, option names
 * folded to lower case, duplicates within one file rejected.  Values are
 * kept raw; the typed getters interpret them (booleans as configparser,
 * lists as Python literals).
 */
#define G_LOG_DOMAIN "KlCore"

#include "config.h"

#include <math.h>

#include "kl-config.h"

/* Config files are small; anything larger is not a config file. */
#define KL_CONFIG_MAX_FILE_SIZE (1024 * 1024)

/* Spelled out: clang-format mangles G_DEFINE_QUARK's dashed argument. */
GQuark
kl_config_error_quark(void)
{
	return g_quark_from_static_string("kl-config-error-quark");
}

typedef struct {
	gchar *value; /* as written, one pair of matching quotes removed */
	gchar *origin;
	guint line;
} KlConfigValue;

struct _KlConfig {
	GObject parent_instance;
	GHashTable *sections; /* name → GHashTable (option → KlConfigValue) */
	GPtrArray *section_order;
};

G_DEFINE_TYPE(KlConfig, kl_config, G_TYPE_OBJECT)

static void
kl_config_value_free(KlConfigValue *value)
{
	g_free(value->value);
	g_free(value->origin);
	g_free(value);
}

static void
kl_config_finalize(GObject *object)
{
	KlConfig *self = KL_CONFIG(object);
	g_hash_table_unref(self->sections);
	g_ptr_array_unref(self->section_order);
	G_OBJECT_CLASS(kl_config_parent_class)->finalize(object);
}

static void
kl_config_class_init(KlConfigClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = kl_config_finalize;
}

static void
kl_config_init(KlConfig *self)
{
	self->sections = g_hash_table_new_full(g_str_hash,
					       g_str_equal,
					       g_free,
					       (GDestroyNotify)g_hash_table_unref);
	self->section_order = g_ptr_array_new_with_free_func(g_free);
}

KlConfig *
kl_config_new(void)
{
	return g_object_new(KL_TYPE_CONFIG, NULL);
}

static GHashTable *
kl_config_ensure_section(KlConfig *self, const gchar *section)
{
	GHashTable *options = g_hash_table_lookup(self->sections, section);
	if (options != NULL)
		return options;
	options = g_hash_table_new_full(g_str_hash,
					g_str_equal,
					g_free,
					(GDestroyNotify)kl_config_value_free);
	g_hash_table_insert(self->sections, g_strdup(section), options);
	g_ptr_array_add(self->section_order, g_strdup(section));
	return options;
}

static void
kl_config_store(KlConfig *self,
		const gchar *section,
		const gchar *option,
		const gchar *value,
		const gchar *origin,
		guint line)
{
	GHashTable *options = kl_config_ensure_section(self, section);
	KlConfigValue *entry = g_new0(KlConfigValue, 1);
	gsize len = strlen(value);

	/* Operators often quote values; configparser would keep the quotes,
	 * Keylime's readers strip them. */
	if (len >= 2 && (value[0] == '"' || value[0] == '\'') && value[len - 1] == value[0])
		entry->value = g_strndup(value + 1, len - 2);
	else
		entry->value = g_strdup(value);
	entry->origin = g_strdup(origin);
	entry->line = line;
	g_hash_table_insert(options, g_ascii_strdown(option, -1), entry);
}

void
kl_config_set_string(KlConfig *self,
		     const gchar *section,
		     const gchar *option,
		     const gchar *value,
		     const gchar *origin)
{
	g_return_if_fail(KL_IS_CONFIG(self));
	g_return_if_fail(section != NULL && option != NULL && value != NULL);
	kl_config_store(self, section, option, value, origin != NULL ? origin : "(set)", 0);
}

static const KlConfigValue *
kl_config_lookup(KlConfig *self, const gchar *section, const gchar *option)
{
	g_autofree gchar *key = g_ascii_strdown(option, -1);
	GHashTable *options = g_hash_table_lookup(self->sections, section);
	KlConfigValue *value = NULL;

	if (options != NULL)
		value = g_hash_table_lookup(options, key);
	if (value == NULL) {
		/* configparser: DEFAULT supplies values for every section. */
		options = g_hash_table_lookup(self->sections, "DEFAULT");
		if (options != NULL)
			value = g_hash_table_lookup(options, key);
	}
	return value;
}

/* One parse of one file: tracks what this file defined, for strictness. */
typedef struct {
	KlConfig *config;
	const gchar *origin;
	gchar *section;
	GHashTable *seen_sections;
	GHashTable *seen_options; /* "section\nOPTION" */
	GString *value;
	gchar *option;
	guint option_line;
	guint option_indent;
} KlConfigParse;

static void
kl_config_parse_flush(KlConfigParse *parse)
{
	if (parse->option == NULL)
		return;
	/* configparser drops trailing blank continuation lines. */
	while (parse->value->len > 0 && parse->value->str[parse->value->len - 1] == '\n')
		g_string_truncate(parse->value, parse->value->len - 1);
	kl_config_store(parse->config,
			parse->section,
			parse->option,
			parse->value->str,
			parse->origin,
			parse->option_line);
	g_clear_pointer(&parse->option, g_free);
	g_string_truncate(parse->value, 0);
}

static guint
kl_config_indent_of(const gchar *line)
{
	guint indent = 0;
	while (line[indent] == ' ' || line[indent] == '\t')
		indent++;
	return indent;
}

static gboolean
kl_config_parse_section(KlConfigParse *parse, const gchar *stripped, guint lineno, GError **error)
{
	gsize len = strlen(stripped);
	g_autofree gchar *name = NULL;

	if (len < 3 || stripped[len - 1] != ']') {
		g_set_error(error,
			    KL_CONFIG_ERROR,
			    KL_CONFIG_ERROR_PARSE,
			    "%s:%u: malformed section header",
			    parse->origin,
			    lineno);
		return FALSE;
	}
	name = g_strndup(stripped + 1, len - 2);
	if (g_hash_table_contains(parse->seen_sections, name)) {
		g_set_error(error,
			    KL_CONFIG_ERROR,
			    KL_CONFIG_ERROR_PARSE,
			    "%s:%u: section [%s] appears twice",
			    parse->origin,
			    lineno,
			    name);
		return FALSE;
	}
	g_hash_table_add(parse->seen_sections, g_strdup(name));
	g_free(parse->section);
	parse->section = g_steal_pointer(&name);
	kl_config_ensure_section(parse->config, parse->section);
	return TRUE;
}

static gboolean
kl_config_parse_option(KlConfigParse *parse,
		       const gchar *line,
		       const gchar *stripped,
		       guint lineno,
		       GError **error)
{
	const gchar *separator = strpbrk(stripped, "=:");
	g_autofree gchar *name = NULL;
	g_autofree gchar *option = NULL;
	g_autofree gchar *seen_key = NULL;

	if (parse->section == NULL) {
		g_set_error(error,
			    KL_CONFIG_ERROR,
			    KL_CONFIG_ERROR_PARSE,
			    "%s:%u: option outside of any [section]",
			    parse->origin,
			    lineno);
		return FALSE;
	}
	if (separator == NULL || separator == stripped) {
		g_set_error(error,
			    KL_CONFIG_ERROR,
			    KL_CONFIG_ERROR_PARSE,
			    "%s:%u: expected 'option = value'",
			    parse->origin,
			    lineno);
		return FALSE;
	}
	name = g_strndup(stripped, separator - stripped);
	option = g_ascii_strdown(g_strstrip(name), -1);
	seen_key = g_strdup_printf("%s\n%s", parse->section, option);
	if (g_hash_table_contains(parse->seen_options, seen_key)) {
		g_set_error(error,
			    KL_CONFIG_ERROR,
			    KL_CONFIG_ERROR_PARSE,
			    "%s:%u: option '%s' appears twice in [%s]",
			    parse->origin,
			    lineno,
			    option,
			    parse->section);
		return FALSE;
	}
	g_hash_table_add(parse->seen_options, g_steal_pointer(&seen_key));
	parse->option = g_steal_pointer(&option);
	parse->option_line = lineno;
	parse->option_indent = kl_config_indent_of(line);
	g_string_assign(parse->value, separator + 1);
	g_strstrip(parse->value->str);
	parse->value->len = strlen(parse->value->str);
	return TRUE;
}

static gboolean
kl_config_parse_line(KlConfigParse *parse, gchar *line, guint lineno, GError **error)
{
	gchar *stripped;
	guint indent;

	if (!g_utf8_validate(line, -1, NULL)) {
		g_set_error(error,
			    KL_CONFIG_ERROR,
			    KL_CONFIG_ERROR_PARSE,
			    "%s:%u: not valid UTF-8",
			    parse->origin,
			    lineno);
		return FALSE;
	}
	indent = kl_config_indent_of(line);
	stripped = g_strstrip(g_strdup(line));

	/* Blank lines inside a value are kept until a continuation proves it. */
	if (stripped[0] == '\0') {
		if (parse->option != NULL)
			g_string_append_c(parse->value, '\n');
		g_free(stripped);
		return TRUE;
	}
	if (stripped[0] == '#' || stripped[0] == ';') {
		g_free(stripped);
		return TRUE;
	}
	if (parse->option != NULL && indent > parse->option_indent) {
		g_string_append_c(parse->value, '\n');
		g_string_append(parse->value, stripped);
		g_free(stripped);
		return TRUE;
	}
	kl_config_parse_flush(parse);
	if (stripped[0] == '[') {
		gboolean ok = kl_config_parse_section(parse, stripped, lineno, error);
		g_free(stripped);
		return ok;
	}
	if (!kl_config_parse_option(parse, line, stripped, lineno, error)) {
		g_free(stripped);
		return FALSE;
	}
	g_free(stripped);
	return TRUE;
}

gboolean
kl_config_load_data(KlConfig *self,
		    const gchar *data,
		    gsize length,
		    const gchar *origin,
		    GError **error)
{
	g_autofree gchar *text = NULL;
	g_auto(GStrv) lines = NULL;
	g_autoptr(GHashTable) seen_sections = NULL;
	g_autoptr(GHashTable) seen_options = NULL;
	g_autoptr(GString) value = NULL;
	KlConfigParse parse = {0};
	gboolean ok = TRUE;

	g_return_val_if_fail(KL_IS_CONFIG(self), FALSE);
	g_return_val_if_fail(data != NULL || length == 0, FALSE);

	if (origin == NULL)
		origin = "(data)";
	if (length > KL_CONFIG_MAX_FILE_SIZE) {
		g_set_error(error,
			    KL_CONFIG_ERROR,
			    KL_CONFIG_ERROR_PARSE,
			    "%s: larger than %u bytes",
			    origin,
			    (guint)KL_CONFIG_MAX_FILE_SIZE);
		return FALSE;
	}
	if (length > 0 && memchr(data, '\0', length) != NULL) {
		g_set_error(error,
			    KL_CONFIG_ERROR,
			    KL_CONFIG_ERROR_PARSE,
			    "%s: contains a NUL byte",
			    origin);
		return FALSE;
	}

	if (length == 0)
		return TRUE;
	text = g_strndup(data, length);
	lines = g_strsplit(text, "\n", -1);
	seen_sections = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	seen_options = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	value = g_string_new(NULL);
	parse.config = self;
	parse.origin = origin;
	parse.seen_sections = seen_sections;
	parse.seen_options = seen_options;
	parse.value = value;

	for (guint i = 0; lines[i] != NULL && ok; i++) {
		gsize len = strlen(lines[i]);
		if (len > 0 && lines[i][len - 1] == '\r')
			lines[i][len - 1] = '\0';
		ok = kl_config_parse_line(&parse, lines[i], i + 1, error);
	}
	if (ok)
		kl_config_parse_flush(&parse);
	g_free(parse.option);
	g_free(parse.section);
	return ok;
}

gboolean
kl_config_load_file(KlConfig *self, const gchar *path, GError **error)
{
	g_autofree gchar *data = NULL;
	gsize length = 0;

	g_return_val_if_fail(KL_IS_CONFIG(self), FALSE);
	if (!g_file_get_contents(path, &data, &length, error)) {
		g_prefix_error(error, "cannot read config file: ");
		return FALSE;
	}
	return kl_config_load_data(self, data, length, path, error);
}

static gint
kl_config_compare_names(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(*(const gchar *const *)a, *(const gchar *const *)b);
}

/* The paths of <directory>/ *.conf in lexical order; none if no directory. */
gchar **
kl_config_list_dropins(const gchar *directory, GError **error)
{
	g_autoptr(GDir) dir = NULL;
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	const gchar *name;

	if (g_file_test(directory, G_FILE_TEST_IS_DIR)) {
		dir = g_dir_open(directory, 0, error);
		if (dir == NULL)
			return NULL;
		while ((name = g_dir_read_name(dir)) != NULL) {
			if (g_str_has_suffix(name, ".conf"))
				g_ptr_array_add(names, g_build_filename(directory, name, NULL));
		}
		g_ptr_array_sort(names, kl_config_compare_names);
	}
	g_ptr_array_add(names, NULL);
	return (gchar **)g_ptr_array_free(g_steal_pointer(&names), FALSE);
}

/* <dir>/<component>.conf.d/ *.conf, in lexical order. */
static gboolean
kl_config_load_dropins(KlConfig *self,
		       const gchar *main_path,
		       const gchar *component,
		       GError **error)
{
	g_autofree gchar *parent = g_path_get_dirname(main_path);
	g_autofree gchar *dirname = g_strdup_printf("%s.conf.d", component);
	g_autofree gchar *path = g_build_filename(parent, dirname, NULL);
	g_auto(GStrv) files = kl_config_list_dropins(path, error);

	if (files == NULL)
		return FALSE;
	for (guint i = 0; files[i] != NULL; i++) {
		if (!kl_config_load_file(self, files[i], error))
			return FALSE;
	}
	return TRUE;
}

/* KEYLIME_<COMPONENT>_[<SECTION>_]<OPTION>, folded to lower case. */
static void
kl_config_apply_environment(KlConfig *self, const gchar *component)
{
	g_autofree gchar *upper = g_ascii_strup(component, -1);
	g_autofree gchar *prefix = g_strdup_printf("KEYLIME_%s_", upper);
	g_autofree gchar *path_variable = g_strdup_printf("KEYLIME_%s_CONFIG", upper);
	g_auto(GStrv) environment = g_get_environ();

	for (guint i = 0; environment[i] != NULL; i++) {
		const gchar *entry = environment[i];
		const gchar *equals = strchr(entry, '=');
		g_autofree gchar *name = NULL;
		g_autofree gchar *rest = NULL;
		const gchar *section = component;
		const gchar *option;

		if (equals == NULL || !g_str_has_prefix(entry, prefix))
			continue;
		name = g_strndup(entry, equals - entry);
		if (g_strcmp0(name, path_variable) == 0)
			continue;
		rest = g_ascii_strdown(name + strlen(prefix), -1);
		option = rest;
		for (guint j = 0; j < self->section_order->len; j++) {
			const gchar *candidate = g_ptr_array_index(self->section_order, j);
			gsize len = strlen(candidate);
			if (g_strcmp0(candidate, component) == 0)
				continue;
			if (strncmp(rest, candidate, len) == 0 && rest[len] == '_' &&
			    rest[len + 1] != '\0') {
				section = candidate;
				option = rest + len + 1;
				break;
			}
		}
		if (option[0] == '\0')
			continue;
		kl_config_store(self, section, option, equals + 1, name, 0);
	}
}

gboolean
kl_config_load_component(KlConfig *self, const gchar *component, GError **error)
{
	g_autofree gchar *upper = NULL;
	g_autofree gchar *variable = NULL;
	g_autofree gchar *filename = NULL;
	g_autofree gchar *path = NULL;
	const gchar *override;
	const gchar *const search_dirs[] = {KL_SYSCONFDIR "/keylime",
					    "/etc/keylime",
					    "/usr/etc/keylime"};

	g_return_val_if_fail(KL_IS_CONFIG(self), FALSE);
	g_return_val_if_fail(component != NULL, FALSE);

	upper = g_ascii_strup(component, -1);
	variable = g_strdup_printf("KEYLIME_%s_CONFIG", upper);
	filename = g_strdup_printf("%s.conf", component);
	override = g_getenv(variable);
	if (override != NULL && override[0] != '\0') {
		/* An explicit path must exist: a typo should not mean defaults. */
		if (!g_file_test(override, G_FILE_TEST_IS_REGULAR)) {
			g_set_error(error,
				    KL_CONFIG_ERROR,
				    KL_CONFIG_ERROR_NOT_FOUND,
				    "%s names %s, which is not a file",
				    variable,
				    override);
			return FALSE;
		}
		path = g_strdup(override);
	} else {
		for (guint i = 0; i < G_N_ELEMENTS(search_dirs) && path == NULL; i++) {
			g_autofree gchar *candidate =
				g_build_filename(search_dirs[i], filename, NULL);
			if (g_file_test(candidate, G_FILE_TEST_IS_REGULAR))
				path = g_steal_pointer(&candidate);
		}
	}
	if (path != NULL) {
		if (!kl_config_load_file(self, path, error))
			return FALSE;
		if (!kl_config_load_dropins(self, path, component, error))
			return FALSE;
	}
	kl_config_apply_environment(self, component);
	return TRUE;
}

gboolean
kl_config_has_option(KlConfig *self, const gchar *section, const gchar *option)
{
	g_return_val_if_fail(KL_IS_CONFIG(self), FALSE);
	return kl_config_lookup(self, section, option) != NULL;
}

gchar **
kl_config_get_sections(KlConfig *self)
{
	GPtrArray *names = g_ptr_array_new();
	for (guint i = 0; i < self->section_order->len; i++)
		g_ptr_array_add(names, g_strdup(g_ptr_array_index(self->section_order, i)));
	g_ptr_array_add(names, NULL);
	return (gchar **)g_ptr_array_free(names, FALSE);
}

gchar **
kl_config_get_options(KlConfig *self, const gchar *section)
{
	GHashTable *options = g_hash_table_lookup(self->sections, section);
	g_autoptr(GPtrArray) names = g_ptr_array_new();
	GHashTableIter iter;
	gpointer key;

	if (options != NULL) {
		g_hash_table_iter_init(&iter, options);
		while (g_hash_table_iter_next(&iter, &key, NULL))
			g_ptr_array_add(names, g_strdup(key));
	}
	g_ptr_array_sort(names, kl_config_compare_names);
	g_ptr_array_add(names, NULL);
	return (gchar **)g_ptr_array_free(g_steal_pointer(&names), FALSE);
}

/* "file:line" of where an option came from, for error messages. */
gchar *
kl_config_describe(KlConfig *self, const gchar *section, const gchar *option)
{
	const KlConfigValue *value = kl_config_lookup(self, section, option);
	if (value == NULL)
		return g_strdup_printf("[%s] %s", section, option);
	if (value->line == 0)
		return g_strdup_printf("%s: [%s] %s", value->origin, section, option);
	return g_strdup_printf("%s:%u: [%s] %s", value->origin, value->line, section, option);
}

static gboolean
kl_config_invalid(KlConfig *self,
		  const gchar *section,
		  const gchar *option,
		  GError **error,
		  const gchar *expected)
{
	g_autofree gchar *where = kl_config_describe(self, section, option);
	g_set_error(error,
		    KL_CONFIG_ERROR,
		    KL_CONFIG_ERROR_INVALID_VALUE,
		    "%s: expected %s",
		    where,
		    expected);
	return FALSE;
}

const gchar *
kl_config_get_string(KlConfig *self,
		     const gchar *section,
		     const gchar *option,
		     const gchar *default_value)
{
	const KlConfigValue *value;

	g_return_val_if_fail(KL_IS_CONFIG(self), default_value);
	value = kl_config_lookup(self, section, option);
	return value != NULL ? value->value : default_value;
}

gboolean
kl_config_get_boolean(KlConfig *self,
		      const gchar *section,
		      const gchar *option,
		      gboolean default_value,
		      gboolean *value,
		      GError **error)
{
	const gchar *text = kl_config_get_string(self, section, option, NULL);
	const gchar *const truthy[] = {"1", "yes", "true", "on"};
	const gchar *const falsy[] = {"0", "no", "false", "off"};

	if (text == NULL) {
		*value = default_value;
		return TRUE;
	}
	for (guint i = 0; i < G_N_ELEMENTS(truthy); i++) {
		if (g_ascii_strcasecmp(text, truthy[i]) == 0) {
			*value = TRUE;
			return TRUE;
		}
		if (g_ascii_strcasecmp(text, falsy[i]) == 0) {
			*value = FALSE;
			return TRUE;
		}
	}
	return kl_config_invalid(self,
				 section,
				 option,
				 error,
				 "a boolean (true/false, yes/no, on/off, 1/0)");
}

gboolean
kl_config_get_int(KlConfig *self,
		  const gchar *section,
		  const gchar *option,
		  gint64 default_value,
		  gint64 minimum,
		  gint64 maximum,
		  gint64 *value,
		  GError **error)
{
	const gchar *text = kl_config_get_string(self, section, option, NULL);
	gint64 parsed = 0;
	g_autofree gchar *expected = NULL;

	if (text == NULL) {
		*value = default_value;
		return TRUE;
	}
	expected = g_strdup_printf("an integer from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT,
				   minimum,
				   maximum);
	if (!g_ascii_string_to_signed(text, 10, minimum, maximum, &parsed, NULL))
		return kl_config_invalid(self, section, option, error, expected);
	*value = parsed;
	return TRUE;
}

gboolean
kl_config_get_double(KlConfig *self,
		     const gchar *section,
		     const gchar *option,
		     gdouble default_value,
		     gdouble *value,
		     GError **error)
{
	const gchar *text = kl_config_get_string(self, section, option, NULL);
	gchar *end = NULL;
	gdouble parsed;

	if (text == NULL) {
		*value = default_value;
		return TRUE;
	}
	parsed = g_ascii_strtod(text, &end);
	if (text[0] == '\0' || end == NULL || *end != '\0' || !isfinite(parsed))
		return kl_config_invalid(self, section, option, error, "a number");
	*value = parsed;
	return TRUE;
}

/* One Python string literal at *cursor: '…' or "…" with backslash escapes. */
static gboolean
kl_config_parse_list_item(const gchar **cursor, GString *item)
{
	const gchar *p = *cursor;
	gchar quote = *p++;

	while (*p != '\0' && *p != quote) {
		if (*p == '\\') {
			p++;
			switch (*p) {
			case 'n':
				g_string_append_c(item, '\n');
				break;
			case 't':
				g_string_append_c(item, '\t');
				break;
			case '\\':
			case '\'':
			case '"':
				g_string_append_c(item, *p);
				break;
			default:
				return FALSE;
			}
			p++;
			continue;
		}
		g_string_append_c(item, *p++);
	}
	if (*p != quote)
		return FALSE;
	*cursor = p + 1;
	return TRUE;
}

static void
kl_config_skip_space(const gchar **cursor)
{
	while (g_ascii_isspace(**cursor))
		(*cursor)++;
}

/* A Python list literal of strings: ['a', "b",] or []. */
static gboolean
kl_config_parse_python_list(const gchar *text, GPtrArray *items)
{
	const gchar *p = text + 1;

	for (;;) {
		g_autoptr(GString) item = g_string_new(NULL);
		kl_config_skip_space(&p);
		if (*p == ']')
			break;
		if (*p != '\'' && *p != '"')
			return FALSE;
		if (!kl_config_parse_list_item(&p, item))
			return FALSE;
		g_ptr_array_add(items, g_string_free(g_steal_pointer(&item), FALSE));
		kl_config_skip_space(&p);
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p != ']')
			return FALSE;
	}
	p++;
	kl_config_skip_space(&p);
	return *p == '\0';
}

gboolean
kl_config_get_list(KlConfig *self,
		   const gchar *section,
		   const gchar *option,
		   gchar ***value,
		   GError **error)
{
	const gchar *text = kl_config_get_string(self, section, option, NULL);
	g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(g_free);

	if (text != NULL && text[0] == '[') {
		if (!kl_config_parse_python_list(text, items))
			return kl_config_invalid(self,
						 section,
						 option,
						 error,
						 "a list of quoted strings like ['a', 'b']");
	} else if (text != NULL && text[0] != '\0') {
		/* Plain "a, b" lists, as older Keylime configs wrote them. */
		g_auto(GStrv) parts = g_strsplit(text, ",", -1);
		for (guint i = 0; parts[i] != NULL; i++) {
			g_strstrip(parts[i]);
			if (parts[i][0] != '\0')
				g_ptr_array_add(items, g_strdup(parts[i]));
		}
	}
	g_ptr_array_add(items, NULL);
	*value = (gchar **)g_ptr_array_free(g_steal_pointer(&items), FALSE);
	return TRUE;
}
