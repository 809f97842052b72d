#include "config.h"

#include <math.h>

#include "kl-config.h"
#include "kl-toml.h"

static KlTomlValue *
parse(const gchar *text, GError **error)
{
	return kl_toml_parse(text, strlen(text), "t.toml", error);
}

/* Follows keys through nested tables; each argument is one key. */
static KlTomlValue *
at(KlTomlValue *root, const gchar *first, ...)
{
	va_list args;
	KlTomlValue *value = root;

	va_start(args, first);
	for (const gchar *key = first; key != NULL; key = va_arg(args, const gchar *)) {
		g_assert_cmpint(kl_toml_value_get_kind(value), ==, KL_TOML_KIND_TABLE);
		value = kl_toml_value_lookup(value, key);
		if (value == NULL)
			g_error("no key %s", key);
	}
	va_end(args);
	return value;
}

static void
assert_parse_error(const gchar *text, const gchar *expected)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTomlValue) root = parse(text, &error);
	if (root != NULL)
		g_error("accepted: %s", text);
	g_assert_error(error, KL_CONFIG_ERROR, KL_CONFIG_ERROR_PARSE);
	if (strstr(error->message, expected) == NULL)
		g_error("for «%s»: expected '%s' in '%s'", text, expected, error->message);
}

static void
test_toml_document(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTomlValue) root = parse("# leading comment\n"
					    "top = 1 # trailing comment\r\n"
					    "\n"
					    "[agent]\n"
					    "  ip = \"127.0.0.1\"\n"
					    "\"quoted key\" = true\n"
					    "'literal.key' = false\n"
					    "dotted . inner = 2\n"
					    "[ a . \"b c\" . d ]\n"
					    "x = 3\n"
					    "[a]\n"
					    "y = 4\n"
					    "[a.\"b c\".e]\n"
					    "z = 5",
					    &error);
	KlTomlValue *agent;
	KlTomlValue *ip;

	g_assert_no_error(error);
	g_assert_cmpint(kl_toml_value_get_integer(at(root, "top", NULL)), ==, 1);
	agent = at(root, "agent", NULL);
	g_assert_cmpuint(kl_toml_value_get_length(agent), ==, 4);
	/* Keys keep their written order. */
	g_assert_cmpstr(kl_toml_value_get_key(agent, 0), ==, "ip");
	g_assert_cmpstr(kl_toml_value_get_key(agent, 1), ==, "quoted key");
	g_assert_cmpstr(kl_toml_value_get_key(agent, 2), ==, "literal.key");
	g_assert_cmpstr(kl_toml_value_get_key(agent, 3), ==, "dotted");
	ip = at(root, "agent", "ip", NULL);
	g_assert_cmpstr(kl_toml_value_get_string(ip), ==, "127.0.0.1");
	g_assert_cmpuint(kl_toml_value_get_line(ip), ==, 5);
	g_assert_cmpuint(kl_toml_value_get_column(ip), ==, 8);
	g_assert_cmpstr(kl_toml_value_get_origin(ip), ==, "t.toml");
	g_assert_true(kl_toml_value_get_boolean(at(root, "agent", "quoted key", NULL)));
	g_assert_false(kl_toml_value_get_boolean(at(root, "agent", "literal.key", NULL)));
	g_assert_cmpint(kl_toml_value_get_integer(at(root, "agent", "dotted", "inner", NULL)),
			==,
			2);
	g_assert_cmpint(kl_toml_value_get_integer(at(root, "a", "b c", "d", "x", NULL)), ==, 3);
	g_assert_cmpint(kl_toml_value_get_integer(at(root, "a", "y", NULL)), ==, 4);
	g_assert_cmpint(kl_toml_value_get_integer(at(root, "a", "b c", "e", "z", NULL)), ==, 5);
	g_assert_null(kl_toml_value_lookup(agent, "absent"));
}

static void
test_toml_empty(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTomlValue) empty = kl_toml_parse(NULL, 0, NULL, &error);
	g_autoptr(KlTomlValue) comments = parse("# only\n\n   # comments\n", &error);

	g_assert_no_error(error);
	g_assert_cmpint(kl_toml_value_get_kind(empty), ==, KL_TOML_KIND_TABLE);
	g_assert_cmpuint(kl_toml_value_get_length(empty), ==, 0);
	g_assert_cmpuint(kl_toml_value_get_length(comments), ==, 0);
}

static void
test_toml_strings(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTomlValue) root =
		parse("basic = \"a\\tb \\\"q\\\" \\\\ \\b\\f\\r\\n \\u00e9 \\U0001F600\"\n"
		      "literal = 'C:\\Users\\n \"x\"'\n"
		      "ml = \"\"\"\n"
		      "first \\\n"
		      "     second\n"
		      "third\"\"\"\n"
		      "ml_crlf = \"\"\"\r\nx\r\ny\"\"\"\n"
		      "mll = '''\n"
		      "raw \\n 'one' ''two''\n"
		      "'''\n"
		      "quotes = \"\"\"a\"\"b\"\"\"\"\"\n"
		      "lquotes = '''x'''''\n"
		      "empty = \"\"\n"
		      "utf8 = \"ünïcödé\"\n",
		      &error);

	g_assert_no_error(error);
	g_assert_cmpstr(kl_toml_value_get_string(at(root, "basic", NULL)),
			==,
			"a\tb \"q\" \\ \b\f\r\n \xc3\xa9 \xf0\x9f\x98\x80");
	g_assert_cmpstr(kl_toml_value_get_string(at(root, "literal", NULL)),
			==,
			"C:\\Users\\n \"x\"");
	g_assert_cmpstr(kl_toml_value_get_string(at(root, "ml", NULL)), ==, "first second\nthird");
	g_assert_cmpstr(kl_toml_value_get_string(at(root, "ml_crlf", NULL)), ==, "x\ny");
	g_assert_cmpstr(kl_toml_value_get_string(at(root, "mll", NULL)),
			==,
			"raw \\n 'one' ''two''\n");
	g_assert_cmpstr(kl_toml_value_get_string(at(root, "quotes", NULL)), ==, "a\"\"b\"\"");
	g_assert_cmpstr(kl_toml_value_get_string(at(root, "lquotes", NULL)), ==, "x''");
	g_assert_cmpstr(kl_toml_value_get_string(at(root, "empty", NULL)), ==, "");
	g_assert_cmpstr(kl_toml_value_get_string(at(root, "utf8", NULL)), ==, "ünïcödé");
}

static void
test_toml_bad_strings(void)
{
	assert_parse_error("a = \"open\n", "t.toml:1:10: key 'a': unterminated string");
	assert_parse_error("a = 'open", "unterminated string");
	assert_parse_error("a = \"\"\"never closed\n\n",
			   "t.toml:1:5: key 'a': unterminated multi-line");
	assert_parse_error("a = \"bad \\q\"", "t.toml:1:10: key 'a': invalid escape");
	assert_parse_error("a = \"\\u12\"", "hex digits");
	assert_parse_error("a = \"\\uD800\"", "not a Unicode scalar");
	assert_parse_error("a = \"\\U00110000\"", "not a Unicode scalar");
	assert_parse_error("a = \"ctl \x01\"", "control character 0x01");
	assert_parse_error("a = 'del \x7f'", "control character 0x7f");
	assert_parse_error("a = \"\"\"a\"\"\"\"\"\"", "too many quotes");
	assert_parse_error("a = \"\"\"x\\ y\"\"\"", "invalid escape");
	assert_parse_error("a = \"x\" # ctl \x02\n", "in a comment");
	assert_parse_error("a = \"\xc3\x28\"", "t.toml:1:6: not valid UTF-8");
	assert_parse_error("a = 1\nb = \"x\r\"", "t.toml:2:7: key 'b': control character 0x0d");
	assert_parse_error("\"\"\"k\"\"\" = 1", "multi-line");
}

static void
test_toml_integers(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTomlValue) root = parse("a = +99\n"
					    "b = -17\n"
					    "c = 0\n"
					    "d = 1_000_000\n"
					    "e = 0xDEAD_beef\n"
					    "f = 0o755\n"
					    "g = 0b1101\n"
					    "h = -9223372036854775808\n"
					    "i = 9223372036854775807\n"
					    "j = 0x7fffffffffffffff\n"
					    "k = -0\n",
					    &error);

	g_assert_no_error(error);
	g_assert_cmpint(kl_toml_value_get_integer(at(root, "a", NULL)), ==, 99);
	g_assert_cmpint(kl_toml_value_get_integer(at(root, "b", NULL)), ==, -17);
	g_assert_cmpint(kl_toml_value_get_integer(at(root, "c", NULL)), ==, 0);
	g_assert_cmpint(kl_toml_value_get_integer(at(root, "d", NULL)), ==, 1000000);
	g_assert_cmpint(kl_toml_value_get_integer(at(root, "e", NULL)), ==, 0xdeadbeef);
	g_assert_cmpint(kl_toml_value_get_integer(at(root, "f", NULL)), ==, 0755);
	g_assert_cmpint(kl_toml_value_get_integer(at(root, "g", NULL)), ==, 13);
	g_assert_cmpint(kl_toml_value_get_integer(at(root, "h", NULL)), ==, G_MININT64);
	g_assert_cmpint(kl_toml_value_get_integer(at(root, "i", NULL)), ==, G_MAXINT64);
	g_assert_cmpint(kl_toml_value_get_integer(at(root, "j", NULL)), ==, G_MAXINT64);
	g_assert_cmpint(kl_toml_value_get_integer(at(root, "k", NULL)), ==, 0);
	g_assert_cmpint(kl_toml_value_get_kind(at(root, "a", NULL)), ==, KL_TOML_KIND_INTEGER);
}

static void
test_toml_bad_numbers(void)
{
	const gchar *const bad[] = {
		"a = 9223372036854775808",
		"a = -9223372036854775809",
		"a = 99999999999999999999999",
		"a = 0x8000000000000000",
		"a = 0123",
		"a = 1__0",
		"a = _1",
		"a = 1_",
		"a = +0x10",
		"a = 0b102",
		"a = 0o8",
		"a = 0x",
		"a = 1.",
		"a = .5",
		"a = 1.e5",
		"a = 1e",
		"a = 01.5",
		"a = 1e400",
		"a = 1.2.3",
		"a = 12abc",
	};
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(KlTomlValue) root = parse(bad[i], &error);
		if (root != NULL)
			g_error("accepted %s", bad[i]);
		g_assert_error(error, KL_CONFIG_ERROR, KL_CONFIG_ERROR_PARSE);
		g_assert_true(g_str_has_prefix(error->message, "t.toml:1:5: key 'a': "));
	}
}

static void
test_toml_floats_booleans(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTomlValue) root = parse("a = 3.1415\n"
					    "b = -0.01\n"
					    "c = 5e+22\n"
					    "d = 6.626E-34\n"
					    "e = 1_000.000_1\n"
					    "f = inf\n"
					    "g = -inf\n"
					    "h = nan\n"
					    "i = true\n"
					    "j = false\n"
					    "k = 0.0\n",
					    &error);

	g_assert_no_error(error);
	g_assert_cmpfloat(kl_toml_value_get_float(at(root, "a", NULL)), ==, 3.1415);
	g_assert_cmpfloat(kl_toml_value_get_float(at(root, "b", NULL)), ==, -0.01);
	g_assert_cmpfloat(kl_toml_value_get_float(at(root, "c", NULL)), ==, 5e22);
	g_assert_cmpfloat(kl_toml_value_get_float(at(root, "d", NULL)), ==, 6.626e-34);
	g_assert_cmpfloat(kl_toml_value_get_float(at(root, "e", NULL)), ==, 1000.0001);
	g_assert_true(isinf(kl_toml_value_get_float(at(root, "f", NULL))));
	g_assert_cmpfloat(kl_toml_value_get_float(at(root, "g", NULL)), <, 0);
	g_assert_true(isnan(kl_toml_value_get_float(at(root, "h", NULL))));
	g_assert_true(kl_toml_value_get_boolean(at(root, "i", NULL)));
	g_assert_false(kl_toml_value_get_boolean(at(root, "j", NULL)));
	g_assert_cmpint(kl_toml_value_get_kind(at(root, "k", NULL)), ==, KL_TOML_KIND_FLOAT);
	assert_parse_error("a = True", "strings need quotes");
	assert_parse_error("a = truex", "strings need quotes");
	assert_parse_error("a = bare", "found 'bare'");
}

static void
test_toml_arrays(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTomlValue) root = parse("empty = []\n"
					    "ints = [1, 2, 3]\n"
					    "mixed = [\"a\", 'b', 1.5, true]\n"
					    "nested = [[1, 2], [\"x\"], [[]]]\n"
					    "multi = [\n"
					    "  \"one\",  # first\n"
					    "  # a comment line\n"
					    "  \"two\",\n"
					    "]\n"
					    "after = 1\n",
					    &error);
	KlTomlValue *nested;
	KlTomlValue *multi;

	g_assert_no_error(error);
	g_assert_cmpint(kl_toml_value_get_kind(at(root, "empty", NULL)), ==, KL_TOML_KIND_ARRAY);
	g_assert_cmpuint(kl_toml_value_get_length(at(root, "empty", NULL)), ==, 0);
	g_assert_cmpuint(kl_toml_value_get_length(at(root, "ints", NULL)), ==, 3);
	g_assert_cmpint(
		kl_toml_value_get_integer(kl_toml_value_get_element(at(root, "ints", NULL), 2)),
		==,
		3);
	g_assert_cmpuint(kl_toml_value_get_length(at(root, "mixed", NULL)), ==, 4);
	nested = at(root, "nested", NULL);
	g_assert_cmpuint(kl_toml_value_get_length(nested), ==, 3);
	g_assert_cmpstr(kl_toml_value_get_string(
				kl_toml_value_get_element(kl_toml_value_get_element(nested, 1), 0)),
			==,
			"x");
	multi = at(root, "multi", NULL);
	g_assert_cmpuint(kl_toml_value_get_length(multi), ==, 2);
	g_assert_cmpstr(kl_toml_value_get_string(kl_toml_value_get_element(multi, 1)), ==, "two");
	g_assert_cmpuint(kl_toml_value_get_line(kl_toml_value_get_element(multi, 1)), ==, 8);
	g_assert_cmpint(kl_toml_value_get_integer(at(root, "after", NULL)), ==, 1);

	assert_parse_error("a = [1 2]", "t.toml:1:8: key 'a': expected ',' or ']'");
	assert_parse_error("a = [1,,2]", "expected a value");
	assert_parse_error("a = [1, 2\n", "t.toml:1:5: key 'a': unterminated array");
	assert_parse_error("a = [,]", "expected a value");
}

static void
test_toml_duplicates(void)
{
	assert_parse_error("[agent]\nport = 1\nport = 2\n",
			   "t.toml:3:1: key 'agent.port': duplicate key (first defined on line 2)");
	assert_parse_error("a = 1\n\"a\" = 2\n", "duplicate key");
	assert_parse_error("[agent]\n[agent]\n", "t.toml:2:1: key 'agent': table defined twice");
	assert_parse_error("a = 1\n[a]\n", "'a' is already a integer");
	assert_parse_error("a = 1\na.b = 2\n", "'a' is already a integer");
	assert_parse_error("[a.b]\n[a]\nb = 1\n", "duplicate key");
	assert_parse_error("[a]\nb.c = 1\n[a.b]\n", "already defined by dotted keys");
	assert_parse_error("[a.b.c]\n[a]\nb.d = 1\n", "dotted keys cannot add to it");
	assert_parse_error("a.b = 1\na.b.c = 2\n", "'b' is already a integer");
	assert_parse_error("x = [1]\n[x.y]\n", "'x' is already a array");
}

static void
test_toml_dotted_extension(void)
{
	g_autoptr(GError) error = NULL;
	/* Sub-tables of dotted tables and implicit tables made explicit are fine. */
	g_autoptr(KlTomlValue) root = parse("[fruit]\n"
					    "apple.color = \"red\"\n"
					    "apple.taste.sweet = true\n"
					    "[fruit.apple.texture]\n"
					    "smooth = true\n"
					    "[x.y.z]\n"
					    "[x]\n"
					    "w = 1\n",
					    &error);
	g_assert_no_error(error);
	g_assert_cmpstr(kl_toml_value_get_string(at(root, "fruit", "apple", "color", NULL)),
			==,
			"red");
	g_assert_true(
		kl_toml_value_get_boolean(at(root, "fruit", "apple", "texture", "smooth", NULL)));
	g_assert_cmpint(kl_toml_value_get_integer(at(root, "x", "w", NULL)), ==, 1);
}

static void
test_toml_syntax_errors(void)
{
	assert_parse_error("a = 1 b = 2\n", "t.toml:1:7: key 'a': expected the end of the line");
	assert_parse_error("a 1\n", "t.toml:1:3: key 'a': expected '='");
	assert_parse_error("= 1\n", "t.toml:1:1: expected a key");
	assert_parse_error("a =\n", "expected a value");
	assert_parse_error("a = # nothing\n", "expected a value");
	assert_parse_error("[agent\nport = 1\n", "t.toml:1:7: key 'agent': expected ']'");
	assert_parse_error("[]\n", "expected a key");
	assert_parse_error("[a] x = 1\n", "expected the end of the line");
	assert_parse_error("a = 1\r", "expected the end of the line");
	assert_parse_error("a = { b = 1 }\n", "inline tables are not supported");
	assert_parse_error("[[servers]]\n", "arrays of tables");
	assert_parse_error("a = 1979-05-27\n", "date-time values are not supported");
	assert_parse_error("a = 07:32:00\n", "date-time values are not supported");
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(KlTomlValue) root =
			kl_toml_parse("[agent]\nport = 8\0", 17, "n.toml", &error);
		g_assert_null(root);
		g_assert_error(error, KL_CONFIG_ERROR, KL_CONFIG_ERROR_PARSE);
		g_assert_cmpstr(error->message, ==, "n.toml:2:9: contains a NUL byte");
	}
}

static void
test_toml_limits(void)
{
	g_autoptr(GString) deep = g_string_new("a = ");
	g_autoptr(GString) ok = g_string_new("a = ");
	g_autoptr(GString) header = g_string_new("[");
	g_autofree gchar *big = g_malloc(KL_TOML_MAX_SIZE + 2);
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTomlValue) shallow = NULL;
	g_autoptr(KlTomlValue) too_big = NULL;

	for (guint i = 0; i < KL_TOML_MAX_DEPTH + 1; i++)
		g_string_append_c(deep, '[');
	for (guint i = 0; i < KL_TOML_MAX_DEPTH + 1; i++)
		g_string_append_c(deep, ']');
	assert_parse_error(deep->str, "nested deeper than");

	for (guint i = 0; i < KL_TOML_MAX_DEPTH - 1; i++)
		g_string_append_c(ok, '[');
	for (guint i = 0; i < KL_TOML_MAX_DEPTH - 1; i++)
		g_string_append_c(ok, ']');
	shallow = parse(ok->str, &error);
	g_assert_no_error(error);
	g_assert_nonnull(shallow);

	for (guint i = 0; i < KL_TOML_MAX_DEPTH + 1; i++)
		g_string_append(header, i == 0 ? "t" : ".t");
	g_string_append(header, "]\n");
	assert_parse_error(header->str, "more than");

	memset(big, '#', KL_TOML_MAX_SIZE + 1);
	big[KL_TOML_MAX_SIZE + 1] = '\0';
	too_big = kl_toml_parse(big, KL_TOML_MAX_SIZE + 1, "big.toml", &error);
	g_assert_null(too_big);
	g_assert_error(error, KL_CONFIG_ERROR, KL_CONFIG_ERROR_PARSE);
	g_assert_true(g_str_has_prefix(error->message, "big.toml: larger than"));
}

static void
test_toml_agent_conf(void)
{
	g_autofree gchar *path =
		g_test_build_filename(G_TEST_DIST, "..", "data", "config", "agent.conf", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTomlValue) root = kl_toml_parse_file(path, &error);
	KlTomlValue *port;
	g_autofree gchar *where = NULL;

	g_assert_no_error(error);
	g_assert_cmpuint(kl_toml_value_get_length(root), ==, 1);
	g_assert_cmpuint(kl_toml_value_get_length(at(root, "agent", NULL)), >, 60);
	port = at(root, "agent", "port", NULL);
	g_assert_cmpint(kl_toml_value_get_integer(port), ==, 9002);
	where = kl_toml_value_describe(port);
	g_assert_true(g_str_has_suffix(where, ":22:8"));
	g_assert_cmpstr(kl_toml_value_get_string(at(root, "agent", "uuid", NULL)),
			==,
			"d432fbb3-d2f1-4a97-9ef7-75bd81c00000");
	g_assert_cmpstr(kl_toml_value_get_string(at(root, "agent", "secure_size", NULL)), ==, "1m");
}

static void
test_toml_missing_file(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTomlValue) root = kl_toml_parse_file("/nonexistent/agent.conf", &error);
	g_assert_null(root);
	g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
}

static void
test_toml_refcount(void)
{
	g_autoptr(GError) error = NULL;
	KlTomlValue *root = parse("[a]\nb = [\"c\"]\n", &error);
	KlTomlValue *array = kl_toml_value_ref(at(root, "a", "b", NULL));

	g_assert_no_error(error);
	kl_toml_value_unref(root);
	/* A referenced subtree outlives its root. */
	g_assert_cmpstr(kl_toml_value_get_string(kl_toml_value_get_element(array, 0)), ==, "c");
	g_assert_true(G_TYPE_IS_BOXED(KL_TYPE_TOML_VALUE));
	kl_toml_value_unref(array);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/toml/document", test_toml_document);
	g_test_add_func("/toml/empty", test_toml_empty);
	g_test_add_func("/toml/strings", test_toml_strings);
	g_test_add_func("/toml/bad-strings", test_toml_bad_strings);
	g_test_add_func("/toml/integers", test_toml_integers);
	g_test_add_func("/toml/bad-numbers", test_toml_bad_numbers);
	g_test_add_func("/toml/floats-booleans", test_toml_floats_booleans);
	g_test_add_func("/toml/arrays", test_toml_arrays);
	g_test_add_func("/toml/duplicates", test_toml_duplicates);
	g_test_add_func("/toml/dotted-extension", test_toml_dotted_extension);
	g_test_add_func("/toml/syntax-errors", test_toml_syntax_errors);
	g_test_add_func("/toml/limits", test_toml_limits);
	g_test_add_func("/toml/agent-conf", test_toml_agent_conf);
	g_test_add_func("/toml/missing-file", test_toml_missing_file);
	g_test_add_func("/toml/refcount", test_toml_refcount);
	return g_test_run();
}
