/*
 * A recursive-descent TOML reader over one in-memory buffer.  The
 * position (line, column) is tracked as newlines are consumed so that
 * every node and every error can name where it is.  Recursion happens
 * only for arrays, bounded by KL_TOML_MAX_DEPTH.
 */
#define G_LOG_DOMAIN "KlCore"

#include "config.h"

#include <math.h>

#include "kl-config.h"
#include "kl-toml.h"

/* How a table came to exist: TOML allows [a.b] after [a.b.c] (implicit
 * a.b), but not a second [a.b], nor [a.b] after `b.x = 1` under [a]. */
enum {
	KL_TOML_TABLE_IMPLICIT = 1 << 0,
	KL_TOML_TABLE_HEADER = 1 << 1,
	KL_TOML_TABLE_DOTTED = 1 << 2,
};

struct _KlTomlValue {
	gint ref_count;
	KlTomlKind kind;
	guint line;
	guint column;
	guint depth;
	guint flags;
	GRefString *origin;
	gchar *string;
	gint64 integer;
	gdouble real;
	gboolean boolean;
	GPtrArray *items;  /* array elements or table values, owned */
	GPtrArray *keys;   /* table keys, parallel to items */
	GHashTable *index; /* table key → value, borrowed */
};

G_DEFINE_BOXED_TYPE(KlTomlValue, kl_toml_value, kl_toml_value_ref, kl_toml_value_unref)

typedef struct {
	guint line;
	guint column;
} KlTomlMark;

typedef struct {
	const gchar *data;
	gsize length;
	gsize pos;
	guint line;
	gsize line_start;
	GRefString *origin;
	KlTomlValue *root;
	KlTomlValue *current;
	gchar *table_path; /* display name of the current [table], "" at the root */
	gchar *context;	   /* the key being read, for error messages */
} KlTomlParser;

KlTomlValue *
kl_toml_value_ref(KlTomlValue *value)
{
	g_return_val_if_fail(value != NULL, NULL);
	g_atomic_int_inc(&value->ref_count);
	return value;
}

void
kl_toml_value_unref(KlTomlValue *value)
{
	g_return_if_fail(value != NULL);
	if (!g_atomic_int_dec_and_test(&value->ref_count))
		return;
	g_free(value->string);
	g_clear_pointer(&value->items, g_ptr_array_unref);
	g_clear_pointer(&value->keys, g_ptr_array_unref);
	g_clear_pointer(&value->index, g_hash_table_unref);
	g_ref_string_release(value->origin);
	g_free(value);
}

static KlTomlValue *
kl_toml_node_new(KlTomlParser *p, KlTomlKind kind, KlTomlMark mark, guint depth)
{
	KlTomlValue *value = g_new0(KlTomlValue, 1);
	value->ref_count = 1;
	value->kind = kind;
	value->line = mark.line;
	value->column = mark.column;
	value->depth = depth;
	value->origin = g_ref_string_acquire(p->origin);
	if (kind == KL_TOML_KIND_ARRAY || kind == KL_TOML_KIND_TABLE)
		value->items = g_ptr_array_new_with_free_func((GDestroyNotify)kl_toml_value_unref);
	if (kind == KL_TOML_KIND_TABLE) {
		value->keys = g_ptr_array_new_with_free_func(g_free);
		value->index = g_hash_table_new(g_str_hash, g_str_equal);
	}
	return value;
}

/* Takes ownership of child. */
static void
kl_toml_table_insert(KlTomlValue *table, const gchar *key, KlTomlValue *child)
{
	gchar *copy = g_strdup(key);
	g_ptr_array_add(table->keys, copy);
	g_ptr_array_add(table->items, child);
	g_hash_table_insert(table->index, copy, child);
}

static KlTomlMark
kl_toml_mark(KlTomlParser *p)
{
	KlTomlMark mark;
	mark.line = p->line;
	mark.column =
		(guint)g_utf8_strlen(p->data + p->line_start, (gssize)(p->pos - p->line_start)) + 1;
	return mark;
}

static gboolean G_GNUC_PRINTF(4, 5)
	kl_toml_fail_at(KlTomlParser *p, KlTomlMark mark, GError **error, const gchar *format, ...)
{
	va_list args;
	g_autofree gchar *message = NULL;

	va_start(args, format);
	message = g_strdup_vprintf(format, args);
	va_end(args);
	if (p->context != NULL)
		g_set_error(error,
			    KL_CONFIG_ERROR,
			    KL_CONFIG_ERROR_PARSE,
			    "%s:%u:%u: key '%s': %s",
			    p->origin,
			    mark.line,
			    mark.column,
			    p->context,
			    message);
	else
		g_set_error(error,
			    KL_CONFIG_ERROR,
			    KL_CONFIG_ERROR_PARSE,
			    "%s:%u:%u: %s",
			    p->origin,
			    mark.line,
			    mark.column,
			    message);
	return FALSE;
}

#define kl_toml_fail(p, error, ...) kl_toml_fail_at((p), kl_toml_mark(p), (error), __VA_ARGS__)

static gint
kl_toml_peek(KlTomlParser *p, gsize ahead)
{
	if (p->pos + ahead >= p->length)
		return -1;
	return (guchar)p->data[p->pos + ahead];
}

static gboolean
kl_toml_looking_at(KlTomlParser *p, const gchar *text)
{
	gsize len = strlen(text);
	return p->length - p->pos >= len && memcmp(p->data + p->pos, text, len) == 0;
}

/* A newline is LF or CRLF; consumes it and returns TRUE. */
static gboolean
kl_toml_eat_newline(KlTomlParser *p)
{
	if (kl_toml_peek(p, 0) == '\n') {
		p->pos++;
	} else if (kl_toml_peek(p, 0) == '\r' && kl_toml_peek(p, 1) == '\n') {
		p->pos += 2;
	} else {
		return FALSE;
	}
	p->line++;
	p->line_start = p->pos;
	return TRUE;
}

static void
kl_toml_skip_blanks(KlTomlParser *p)
{
	while (kl_toml_peek(p, 0) == ' ' || kl_toml_peek(p, 0) == '\t')
		p->pos++;
}

/* TOML forbids control characters other than tab in comments and strings. */
static gboolean
kl_toml_is_control(gint c)
{
	return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7f;
}

static gboolean
kl_toml_skip_comment(KlTomlParser *p, GError **error)
{
	if (kl_toml_peek(p, 0) != '#')
		return TRUE;
	while (p->pos < p->length) {
		gint c = kl_toml_peek(p, 0);
		if (c == '\n' || (c == '\r' && kl_toml_peek(p, 1) == '\n'))
			break;
		if (kl_toml_is_control(c))
			return kl_toml_fail(p,
					    error,
					    "control character 0x%02x in a comment",
					    (guint)c);
		p->pos++;
	}
	return TRUE;
}

/* Blanks, then an optional comment, then a newline or the end. */
static gboolean
kl_toml_end_of_line(KlTomlParser *p, GError **error)
{
	kl_toml_skip_blanks(p);
	if (!kl_toml_skip_comment(p, error))
		return FALSE;
	if (p->pos >= p->length || kl_toml_eat_newline(p))
		return TRUE;
	return kl_toml_fail(p, error, "expected the end of the line");
}

/* Inside arrays: blanks, comments and newlines in any number. */
static gboolean
kl_toml_skip_space(KlTomlParser *p, GError **error)
{
	for (;;) {
		kl_toml_skip_blanks(p);
		if (!kl_toml_skip_comment(p, error))
			return FALSE;
		if (!kl_toml_eat_newline(p))
			return TRUE;
	}
}

static gboolean
kl_toml_read_hex(KlTomlParser *p, guint digits, gunichar *out, GError **error)
{
	gunichar value = 0;
	for (guint i = 0; i < digits; i++) {
		gint c = kl_toml_peek(p, 0);
		if (c < 0 || !g_ascii_isxdigit(c))
			return kl_toml_fail(p,
					    error,
					    "expected %u hex digits in a \\u escape",
					    digits);
		value = value * 16 + (gunichar)g_ascii_xdigit_value((gchar)c);
		p->pos++;
	}
	if (value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff))
		return kl_toml_fail(p, error, "escape U+%04X is not a Unicode scalar value", value);
	*out = value;
	return TRUE;
}

/* One escape after the backslash (already consumed). */
static gboolean
kl_toml_read_escape(KlTomlParser *p, GString *out, GError **error)
{
	gint c = kl_toml_peek(p, 0);
	gunichar unichar = 0;

	p->pos++;
	switch (c) {
	case 'b':
		g_string_append_c(out, '\b');
		return TRUE;
	case 't':
		g_string_append_c(out, '\t');
		return TRUE;
	case 'n':
		g_string_append_c(out, '\n');
		return TRUE;
	case 'f':
		g_string_append_c(out, '\f');
		return TRUE;
	case 'r':
		g_string_append_c(out, '\r');
		return TRUE;
	case '"':
		g_string_append_c(out, '"');
		return TRUE;
	case '\\':
		g_string_append_c(out, '\\');
		return TRUE;
	case 'u':
		if (!kl_toml_read_hex(p, 4, &unichar, error))
			return FALSE;
		g_string_append_unichar(out, unichar);
		return TRUE;
	case 'U':
		if (!kl_toml_read_hex(p, 8, &unichar, error))
			return FALSE;
		g_string_append_unichar(out, unichar);
		return TRUE;
	default:
		/* Point at the backslash. */
		p->pos -= 2;
		if (c < 0)
			return kl_toml_fail(p, error, "unterminated string");
		return kl_toml_fail(p, error, "invalid escape sequence");
	}
}

/* Appends the UTF-8 character at pos (validated up front) and skips it. */
static void
kl_toml_copy_char(KlTomlParser *p, GString *out)
{
	const gchar *start = p->data + p->pos;
	const gchar *next = g_utf8_next_char(start);
	g_string_append_len(out, start, next - start);
	p->pos += (gsize)(next - start);
}

/* "…" or '…' on one line; the opening quote is at pos. */
static gboolean
kl_toml_read_string_line(KlTomlParser *p, GString *out, GError **error)
{
	gchar quote = p->data[p->pos];

	p->pos++;
	for (;;) {
		gint c = kl_toml_peek(p, 0);
		if (c < 0 || c == '\n' || (c == '\r' && kl_toml_peek(p, 1) == '\n'))
			return kl_toml_fail(p, error, "unterminated string");
		if (c == quote) {
			p->pos++;
			return TRUE;
		}
		if (kl_toml_is_control(c))
			return kl_toml_fail(p,
					    error,
					    "control character 0x%02x in a string",
					    (guint)c);
		if (c == '\\' && quote == '"') {
			p->pos++;
			if (!kl_toml_read_escape(p, out, error))
				return FALSE;
			continue;
		}
		kl_toml_copy_char(p, out);
	}
}

/* """…""" or '''…''': the delimiter is at pos. */
static gboolean
kl_toml_read_string_multiline(KlTomlParser *p, GString *out, GError **error)
{
	gchar quote = p->data[p->pos];
	KlTomlMark start = kl_toml_mark(p);

	p->pos += 3;
	/* A newline right after the opening delimiter is trimmed. */
	kl_toml_eat_newline(p);
	for (;;) {
		gint c = kl_toml_peek(p, 0);
		if (c < 0)
			return kl_toml_fail_at(p, start, error, "unterminated multi-line string");
		if (c == quote) {
			guint run = 0;
			while (kl_toml_peek(p, run) == quote)
				run++;
			if (run < 3) {
				g_string_append_len(out, p->data + p->pos, run);
				p->pos += run;
				continue;
			}
			/* Up to two quotes may sit right before the closing ones. */
			if (run > 5)
				return kl_toml_fail(p,
						    error,
						    "too many quotes in a multi-line string");
			g_string_append_len(out, p->data + p->pos, run - 3);
			p->pos += run;
			return TRUE;
		}
		if (kl_toml_eat_newline(p)) {
			g_string_append_c(out, '\n');
			continue;
		}
		if (kl_toml_is_control(c))
			return kl_toml_fail(p,
					    error,
					    "control character 0x%02x in a string",
					    (guint)c);
		if (c == '\\' && quote == '"') {
			gsize after = 1;
			while (kl_toml_peek(p, after) == ' ' || kl_toml_peek(p, after) == '\t')
				after++;
			if (kl_toml_peek(p, after) == '\n' ||
			    (kl_toml_peek(p, after) == '\r' &&
			     kl_toml_peek(p, after + 1) == '\n')) {
				/* Line-ending backslash: drop whitespace up to the next text. */
				p->pos += after;
				for (;;) {
					kl_toml_skip_blanks(p);
					if (!kl_toml_eat_newline(p))
						break;
				}
				continue;
			}
			p->pos++;
			if (!kl_toml_read_escape(p, out, error))
				return FALSE;
			continue;
		}
		kl_toml_copy_char(p, out);
	}
}

static gboolean
kl_toml_is_bare_key_char(gint c)
{
	return c >= 0 && (g_ascii_isalnum(c) || c == '_' || c == '-');
}

/* A dotted key: parts separated by '.', blanks allowed around the dots. */
static gboolean
kl_toml_read_key(KlTomlParser *p, GPtrArray *parts, GError **error)
{
	for (;;) {
		g_autoptr(GString) part = g_string_new(NULL);
		gint c;

		kl_toml_skip_blanks(p);
		c = kl_toml_peek(p, 0);
		if (c == '"' || c == '\'') {
			if (kl_toml_looking_at(p, c == '"' ? "\"\"\"" : "'''"))
				return kl_toml_fail(p,
						    error,
						    "a key cannot be a multi-line string");
			if (!kl_toml_read_string_line(p, part, error))
				return FALSE;
		} else if (kl_toml_is_bare_key_char(c)) {
			while (kl_toml_is_bare_key_char(kl_toml_peek(p, 0)))
				g_string_append_c(part, p->data[p->pos++]);
		} else {
			return kl_toml_fail(p, error, "expected a key");
		}
		if (parts->len >= KL_TOML_MAX_DEPTH)
			return kl_toml_fail(p,
					    error,
					    "key has more than %u parts",
					    KL_TOML_MAX_DEPTH);
		g_ptr_array_add(parts, g_string_free(g_steal_pointer(&part), FALSE));
		kl_toml_skip_blanks(p);
		if (kl_toml_peek(p, 0) != '.')
			return TRUE;
		p->pos++;
	}
}

static gchar *
kl_toml_join_path(const gchar *prefix, GPtrArray *parts)
{
	GString *path = g_string_new(prefix);
	for (guint i = 0; i < parts->len; i++) {
		if (path->len > 0)
			g_string_append_c(path, '.');
		g_string_append(path, g_ptr_array_index(parts, i));
	}
	return g_string_free(path, FALSE);
}

/* Digits of one base with single underscores between them. */
static gboolean
kl_toml_valid_digits(const gchar *text, gsize len, guint base)
{
	gboolean previous_digit = FALSE;

	if (len == 0)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		gint digit = g_ascii_xdigit_value(text[i]);
		if (text[i] == '_') {
			if (!previous_digit)
				return FALSE;
			previous_digit = FALSE;
			continue;
		}
		if (digit < 0 || (guint)digit >= base || (base != 16 && !g_ascii_isdigit(text[i])))
			return FALSE;
		previous_digit = TRUE;
	}
	return previous_digit;
}

static gboolean
kl_toml_parse_integer(const gchar *token, gint64 *out)
{
	const gchar *digits = token;
	gboolean negative = FALSE;
	guint base = 10;
	guint64 magnitude = 0;
	guint64 limit;
	gsize len;

	if (g_str_has_prefix(token, "0x") || g_str_has_prefix(token, "0o") ||
	    g_str_has_prefix(token, "0b")) {
		base = token[1] == 'x' ? 16 : token[1] == 'o' ? 8 : 2;
		digits = token + 2;
	} else if (token[0] == '+' || token[0] == '-') {
		negative = token[0] == '-';
		digits = token + 1;
	}
	len = strlen(digits);
	if (!kl_toml_valid_digits(digits, len, base))
		return FALSE;
	/* No leading zeros in decimal: 0 alone, or a non-zero first digit. */
	if (base == 10 && digits[0] == '0' && len > 1)
		return FALSE;
	limit = negative ? (guint64)G_MAXINT64 + 1 : (guint64)G_MAXINT64;
	for (gsize i = 0; i < len; i++) {
		guint64 digit;
		if (digits[i] == '_')
			continue;
		digit = (guint64)g_ascii_xdigit_value(digits[i]);
		if (magnitude > (limit - digit) / base)
			return FALSE;
		magnitude = magnitude * base + digit;
	}
	if (negative)
		*out = magnitude == (guint64)G_MAXINT64 + 1 ? G_MININT64 : -(gint64)magnitude;
	else
		*out = (gint64)magnitude;
	return TRUE;
}

static gboolean
kl_toml_parse_float(const gchar *token, gdouble *out)
{
	const gchar *p = token;
	const gchar *start;
	g_autoptr(GString) plain = g_string_new(NULL);
	gchar *end = NULL;
	gdouble value;

	if (g_str_equal(token, "inf") || g_str_equal(token, "+inf")) {
		*out = INFINITY;
		return TRUE;
	}
	if (g_str_equal(token, "-inf")) {
		*out = -INFINITY;
		return TRUE;
	}
	if (g_str_equal(token, "nan") || g_str_equal(token, "+nan") || g_str_equal(token, "-nan")) {
		*out = token[0] == '-' ? -NAN : NAN;
		return TRUE;
	}
	if (*p == '+' || *p == '-')
		p++;
	start = p;
	while (g_ascii_isdigit(*p) || *p == '_')
		p++;
	if (!kl_toml_valid_digits(start, (gsize)(p - start), 10) ||
	    (start[0] == '0' && p - start > 1))
		return FALSE;
	if (*p == '.') {
		start = ++p;
		while (g_ascii_isdigit(*p) || *p == '_')
			p++;
		if (!kl_toml_valid_digits(start, (gsize)(p - start), 10))
			return FALSE;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		start = p;
		while (g_ascii_isdigit(*p) || *p == '_')
			p++;
		if (!kl_toml_valid_digits(start, (gsize)(p - start), 10))
			return FALSE;
	}
	if (*p != '\0')
		return FALSE;
	for (p = token; *p != '\0'; p++) {
		if (*p != '_')
			g_string_append_c(plain, *p);
	}
	value = g_ascii_strtod(plain->str, &end);
	if (end == NULL || *end != '\0' || !isfinite(value))
		return FALSE;
	*out = value;
	return TRUE;
}

static gboolean kl_toml_read_value(KlTomlParser *p, guint depth, KlTomlValue **out, GError **error);

/* Numbers, booleans, and the date-times we decline. */
static gboolean
kl_toml_read_scalar(KlTomlParser *p,
		    KlTomlMark mark,
		    guint depth,
		    KlTomlValue **out,
		    GError **error)
{
	gsize start = p->pos;
	g_autofree gchar *token = NULL;
	gint64 integer = 0;
	gdouble real = 0;

	while (p->pos < p->length) {
		gint c = kl_toml_peek(p, 0);
		if (!(g_ascii_isalnum(c) || c == '_' || c == '+' || c == '-' || c == '.' ||
		      c == ':'))
			break;
		p->pos++;
	}
	token = g_strndup(p->data + start, p->pos - start);
	if (token[0] == '\0')
		return kl_toml_fail_at(p, mark, error, "expected a value");
	if (g_str_equal(token, "true") || g_str_equal(token, "false")) {
		*out = kl_toml_node_new(p, KL_TOML_KIND_BOOLEAN, mark, depth);
		(*out)->boolean = token[0] == 't';
		return TRUE;
	}
	if (strchr(token, ':') != NULL || (strlen(token) >= 5 && g_ascii_isdigit(token[0]) &&
					   g_ascii_isdigit(token[3]) && token[4] == '-'))
		return kl_toml_fail_at(p, mark, error, "date-time values are not supported");
	if (kl_toml_parse_integer(token, &integer)) {
		*out = kl_toml_node_new(p, KL_TOML_KIND_INTEGER, mark, depth);
		(*out)->integer = integer;
		return TRUE;
	}
	if (!g_str_has_prefix(token, "0x") && !g_str_has_prefix(token, "0o") &&
	    !g_str_has_prefix(token, "0b") && strpbrk(token, ".eEin") != NULL &&
	    kl_toml_parse_float(token, &real)) {
		*out = kl_toml_node_new(p, KL_TOML_KIND_FLOAT, mark, depth);
		(*out)->real = real;
		return TRUE;
	}
	if (g_ascii_isdigit(token[0]) || token[0] == '+' || token[0] == '-')
		return kl_toml_fail_at(p,
				       mark,
				       error,
				       "invalid or out-of-range number '%s'",
				       token);
	return kl_toml_fail_at(p,
			       mark,
			       error,
			       "expected a value (strings need quotes), found '%s'",
			       token);
}

static gboolean
kl_toml_read_array(KlTomlParser *p, KlTomlMark mark, guint depth, KlTomlValue **out, GError **error)
{
	g_autoptr(KlTomlValue) array = kl_toml_node_new(p, KL_TOML_KIND_ARRAY, mark, depth);

	p->pos++;
	for (;;) {
		KlTomlValue *element = NULL;
		if (!kl_toml_skip_space(p, error))
			return FALSE;
		if (kl_toml_peek(p, 0) == ']')
			break;
		if (!kl_toml_read_value(p, depth + 1, &element, error))
			return FALSE;
		g_ptr_array_add(array->items, element);
		if (!kl_toml_skip_space(p, error))
			return FALSE;
		if (kl_toml_peek(p, 0) == ',') {
			p->pos++;
			continue;
		}
		if (kl_toml_peek(p, 0) != ']') {
			if (p->pos >= p->length)
				return kl_toml_fail_at(p, mark, error, "unterminated array");
			return kl_toml_fail(p, error, "expected ',' or ']' in an array");
		}
		break;
	}
	p->pos++;
	*out = g_steal_pointer(&array);
	return TRUE;
}

static gboolean
kl_toml_read_value(KlTomlParser *p, guint depth, KlTomlValue **out, GError **error)
{
	KlTomlMark mark = kl_toml_mark(p);
	gint c = kl_toml_peek(p, 0);

	if (depth > KL_TOML_MAX_DEPTH)
		return kl_toml_fail(p, error, "nested deeper than %u levels", KL_TOML_MAX_DEPTH);
	if (c == '"' || c == '\'') {
		g_autoptr(GString) text = g_string_new(NULL);
		gboolean ok;
		if (kl_toml_looking_at(p, c == '"' ? "\"\"\"" : "'''"))
			ok = kl_toml_read_string_multiline(p, text, error);
		else
			ok = kl_toml_read_string_line(p, text, error);
		if (!ok)
			return FALSE;
		*out = kl_toml_node_new(p, KL_TOML_KIND_STRING, mark, depth);
		(*out)->string = g_string_free(g_steal_pointer(&text), FALSE);
		return TRUE;
	}
	if (c == '[')
		return kl_toml_read_array(p, mark, depth, out, error);
	if (c == '{')
		return kl_toml_fail(p, error, "inline tables are not supported");
	if (c < 0 || c == '\n' || c == '\r' || c == '#')
		return kl_toml_fail(p, error, "expected a value");
	return kl_toml_read_scalar(p, mark, depth, out, error);
}

static gboolean
kl_toml_is_table(const KlTomlValue *value)
{
	return value->kind == KL_TOML_KIND_TABLE;
}

/* [a.b.c] */
static gboolean
kl_toml_read_header(KlTomlParser *p, GError **error)
{
	KlTomlMark mark = kl_toml_mark(p);
	g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func(g_free);
	KlTomlValue *table = p->root;

	p->pos++;
	if (kl_toml_peek(p, 0) == '[')
		return kl_toml_fail(p, error, "arrays of tables ([[…]]) are not supported");
	if (!kl_toml_read_key(p, parts, error))
		return FALSE;
	g_free(p->table_path);
	p->table_path = kl_toml_join_path("", parts);
	g_free(p->context);
	p->context = g_strdup(p->table_path);
	if (kl_toml_peek(p, 0) != ']')
		return kl_toml_fail(p, error, "expected ']' after the table name");
	p->pos++;

	for (guint i = 0; i < parts->len; i++) {
		const gchar *name = g_ptr_array_index(parts, i);
		KlTomlValue *child = g_hash_table_lookup(table->index, name);
		gboolean last = i + 1 == parts->len;

		if (child == NULL) {
			child = kl_toml_node_new(p, KL_TOML_KIND_TABLE, mark, table->depth + 1);
			child->flags = last ? KL_TOML_TABLE_HEADER : KL_TOML_TABLE_IMPLICIT;
			kl_toml_table_insert(table, name, child);
		} else if (!kl_toml_is_table(child)) {
			return kl_toml_fail_at(p,
					       mark,
					       error,
					       "'%s' is already a %s (line %u)",
					       name,
					       kl_toml_kind_to_string(child->kind),
					       child->line);
		} else if (last && (child->flags & KL_TOML_TABLE_HEADER) != 0) {
			return kl_toml_fail_at(p,
					       mark,
					       error,
					       "table defined twice (first on line %u)",
					       child->line);
		} else if (last && (child->flags & KL_TOML_TABLE_DOTTED) != 0) {
			return kl_toml_fail_at(p,
					       mark,
					       error,
					       "table already defined by dotted keys on line %u",
					       child->line);
		} else if (last) {
			child->flags = KL_TOML_TABLE_HEADER;
			child->line = mark.line;
			child->column = mark.column;
		}
		table = child;
	}
	if (table->depth > KL_TOML_MAX_DEPTH)
		return kl_toml_fail_at(p,
				       mark,
				       error,
				       "tables nested deeper than %u levels",
				       KL_TOML_MAX_DEPTH);
	p->current = table;
	g_clear_pointer(&p->context, g_free);
	return kl_toml_end_of_line(p, error);
}

/* key = value, with dotted keys creating (or extending) dotted tables. */
static gboolean
kl_toml_read_keyval(KlTomlParser *p, GError **error)
{
	KlTomlMark mark = kl_toml_mark(p);
	g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func(g_free);
	KlTomlValue *table = p->current;
	KlTomlValue *value = NULL;
	const gchar *last;

	if (!kl_toml_read_key(p, parts, error))
		return FALSE;
	g_free(p->context);
	p->context = kl_toml_join_path(p->table_path, parts);
	if (kl_toml_peek(p, 0) != '=')
		return kl_toml_fail(p, error, "expected '=' after the key");
	p->pos++;
	kl_toml_skip_blanks(p);

	for (guint i = 0; i + 1 < parts->len; i++) {
		const gchar *name = g_ptr_array_index(parts, i);
		KlTomlValue *child = g_hash_table_lookup(table->index, name);
		if (child == NULL) {
			child = kl_toml_node_new(p, KL_TOML_KIND_TABLE, mark, table->depth + 1);
			child->flags = KL_TOML_TABLE_DOTTED;
			kl_toml_table_insert(table, name, child);
		} else if (!kl_toml_is_table(child)) {
			return kl_toml_fail_at(p,
					       mark,
					       error,
					       "'%s' is already a %s (line %u)",
					       name,
					       kl_toml_kind_to_string(child->kind),
					       child->line);
		} else if ((child->flags & KL_TOML_TABLE_DOTTED) == 0) {
			return kl_toml_fail_at(
				p,
				mark,
				error,
				"table '%s' was defined by a [header] (line %u); dotted "
				"keys cannot add to it",
				name,
				child->line);
		}
		table = child;
	}
	last = g_ptr_array_index(parts, parts->len - 1);
	if (g_hash_table_contains(table->index, last)) {
		const KlTomlValue *first = g_hash_table_lookup(table->index, last);
		return kl_toml_fail_at(p,
				       mark,
				       error,
				       "duplicate key (first defined on line %u)",
				       first->line);
	}
	if (!kl_toml_read_value(p, table->depth + 1, &value, error))
		return FALSE;
	kl_toml_table_insert(table, last, value);
	if (!kl_toml_end_of_line(p, error))
		return FALSE;
	g_clear_pointer(&p->context, g_free);
	return TRUE;
}

static gboolean
kl_toml_read_document(KlTomlParser *p, GError **error)
{
	while (p->pos < p->length) {
		gint c;
		kl_toml_skip_blanks(p);
		c = kl_toml_peek(p, 0);
		if (c < 0)
			break;
		if (c == '#' || c == '\n' || c == '\r') {
			if (!kl_toml_end_of_line(p, error))
				return FALSE;
		} else if (c == '[') {
			if (!kl_toml_read_header(p, error))
				return FALSE;
		} else if (!kl_toml_read_keyval(p, error)) {
			return FALSE;
		}
	}
	return TRUE;
}

KlTomlValue *
kl_toml_parse(const gchar *data, gsize length, const gchar *origin, GError **error)
{
	KlTomlParser p = {0};
	const gchar *invalid = NULL;
	KlTomlMark mark = {1, 1};
	gboolean ok;

	g_return_val_if_fail(data != NULL || length == 0, NULL);
	if (origin == NULL)
		origin = "(data)";
	if (length > KL_TOML_MAX_SIZE) {
		g_set_error(error,
			    KL_CONFIG_ERROR,
			    KL_CONFIG_ERROR_PARSE,
			    "%s: larger than %u bytes",
			    origin,
			    (guint)KL_TOML_MAX_SIZE);
		return NULL;
	}
	p.data = data != NULL ? data : "";
	p.length = length;
	p.line = 1;
	p.origin = g_ref_string_new(origin);
	if (!g_utf8_validate_len(p.data, length, &invalid)) {
		/* Report the offending byte's position. */
		for (const gchar *c = p.data; c < invalid; c++) {
			if (*c == '\n') {
				p.line++;
				p.line_start = (gsize)(c - p.data) + 1;
			}
		}
		p.pos = (gsize)(invalid - p.data);
		(void)kl_toml_fail(&p,
				   error,
				   *invalid == '\0' ? "contains a NUL byte" : "not valid UTF-8");
		g_ref_string_release(p.origin);
		return NULL;
	}
	p.root = kl_toml_node_new(&p, KL_TOML_KIND_TABLE, mark, 0);
	p.root->flags = KL_TOML_TABLE_HEADER;
	p.current = p.root;
	p.table_path = g_strdup("");
	ok = kl_toml_read_document(&p, error);
	g_free(p.table_path);
	g_free(p.context);
	g_ref_string_release(p.origin);
	if (!ok) {
		kl_toml_value_unref(p.root);
		return NULL;
	}
	return p.root;
}

KlTomlValue *
kl_toml_parse_file(const gchar *path, GError **error)
{
	g_autofree gchar *data = NULL;
	gsize length = 0;

	if (!g_file_get_contents(path, &data, &length, error)) {
		g_prefix_error(error, "cannot read config file: ");
		return NULL;
	}
	return kl_toml_parse(data, length, path, error);
}

KlTomlKind
kl_toml_value_get_kind(const KlTomlValue *value)
{
	return value->kind;
}

const gchar *
kl_toml_kind_to_string(KlTomlKind kind)
{
	switch (kind) {
	case KL_TOML_KIND_TABLE:
		return "table";
	case KL_TOML_KIND_ARRAY:
		return "array";
	case KL_TOML_KIND_STRING:
		return "string";
	case KL_TOML_KIND_INTEGER:
		return "integer";
	case KL_TOML_KIND_FLOAT:
		return "float";
	case KL_TOML_KIND_BOOLEAN:
		return "boolean";
	default:
		return "unknown";
	}
}

const gchar *
kl_toml_value_get_origin(const KlTomlValue *value)
{
	return value->origin;
}

guint
kl_toml_value_get_line(const KlTomlValue *value)
{
	return value->line;
}

guint
kl_toml_value_get_column(const KlTomlValue *value)
{
	return value->column;
}

gchar *
kl_toml_value_describe(const KlTomlValue *value)
{
	return g_strdup_printf("%s:%u:%u", value->origin, value->line, value->column);
}

const gchar *
kl_toml_value_get_string(const KlTomlValue *value)
{
	g_return_val_if_fail(value->kind == KL_TOML_KIND_STRING, NULL);
	return value->string;
}

gint64
kl_toml_value_get_integer(const KlTomlValue *value)
{
	g_return_val_if_fail(value->kind == KL_TOML_KIND_INTEGER, 0);
	return value->integer;
}

gdouble
kl_toml_value_get_float(const KlTomlValue *value)
{
	g_return_val_if_fail(value->kind == KL_TOML_KIND_FLOAT, 0);
	return value->real;
}

gboolean
kl_toml_value_get_boolean(const KlTomlValue *value)
{
	g_return_val_if_fail(value->kind == KL_TOML_KIND_BOOLEAN, FALSE);
	return value->boolean;
}

guint
kl_toml_value_get_length(const KlTomlValue *value)
{
	return value->items != NULL ? value->items->len : 0;
}

KlTomlValue *
kl_toml_value_get_element(const KlTomlValue *value, guint index)
{
	g_return_val_if_fail(value->items != NULL && index < value->items->len, NULL);
	return g_ptr_array_index(value->items, index);
}

const gchar *
kl_toml_value_get_key(const KlTomlValue *table, guint index)
{
	g_return_val_if_fail(table->kind == KL_TOML_KIND_TABLE && index < table->keys->len, NULL);
	return g_ptr_array_index(table->keys, index);
}

KlTomlValue *
kl_toml_value_lookup(const KlTomlValue *table, const gchar *key)
{
	g_return_val_if_fail(table->kind == KL_TOML_KIND_TABLE, NULL);
	return g_hash_table_lookup(table->index, key);
}
