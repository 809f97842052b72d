#include "config.h"

#include "kl-config.h"
#include "kl-test-dir.h"

static KlConfig *
load_text(const gchar *text, GError **error)
{
	g_autoptr(KlConfig) config = kl_config_new();
	if (!kl_config_load_data(config, text, strlen(text), "test.conf", error))
		return NULL;
	return g_steal_pointer(&config);
}

static void
test_config_syntax(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlConfig) config = load_text("# comment\n"
					       "; another comment\n"
					       "[verifier]\n"
					       "ip = 127.0.0.1\n"
					       "Port: 8881\n"
					       "empty =\n"
					       "quoted = \"generate\"\n"
					       "spaced   =   a b c   \r\n"
					       "multi = first\n"
					       "   second\n"
					       "\n"
					       "   third\n"
					       "[revocations]\n"
					       "zmq_port = 8992\n",
					       &error);

	g_assert_no_error(error);
	g_assert_nonnull(config);
	g_assert_cmpstr(kl_config_get_string(config, "verifier", "ip", NULL), ==, "127.0.0.1");
	/* configparser folds option names to lower case. */
	g_assert_cmpstr(kl_config_get_string(config, "verifier", "port", NULL), ==, "8881");
	g_assert_cmpstr(kl_config_get_string(config, "verifier", "PORT", NULL), ==, "8881");
	g_assert_cmpstr(kl_config_get_string(config, "verifier", "empty", "x"), ==, "");
	g_assert_cmpstr(kl_config_get_string(config, "verifier", "quoted", NULL), ==, "generate");
	g_assert_cmpstr(kl_config_get_string(config, "verifier", "spaced", NULL), ==, "a b c");
	g_assert_cmpstr(kl_config_get_string(config, "verifier", "multi", NULL),
			==,
			"first\nsecond\n\nthird");
	g_assert_cmpstr(kl_config_get_string(config, "revocations", "zmq_port", NULL), ==, "8992");
	g_assert_cmpstr(kl_config_get_string(config, "verifier", "absent", "dflt"), ==, "dflt");
	g_assert_cmpstr(kl_config_get_string(config, "nosection", "ip", NULL), ==, NULL);
}

static void
test_config_default_section(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlConfig) config =
		load_text("[DEFAULT]\nlevel = INFO\n[logger_root]\nhandlers = a\n", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(kl_config_get_string(config, "logger_root", "level", NULL), ==, "INFO");
}

static void
test_config_typed(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlConfig) config =
		load_text("[v]\n"
			  "yes = Yes\nno = off\nnum = 42\nneg = -3\n"
			  "real = 60.5\nlist = ['agent', \"webhook\", 'a\\'b',]\n"
			  "empty_list = []\nplain_list = a, b ,c\n"
			  "bad_bool = maybe\nbad_int = 12abc\nbig = 99999\n"
			  "bad_list = ['a' 'b']\nbad_real = 1e999\n",
			  &error);
	gboolean flag = FALSE;
	gint64 number = 0;
	gdouble real = 0;
	g_auto(GStrv) list = NULL;
	g_auto(GStrv) empty = NULL;
	g_auto(GStrv) plain = NULL;
	g_auto(GStrv) absent = NULL;
	g_auto(GStrv) bad = NULL;

	g_assert_no_error(error);
	g_assert_true(kl_config_get_boolean(config, "v", "yes", FALSE, &flag, &error));
	g_assert_true(flag);
	g_assert_true(kl_config_get_boolean(config, "v", "no", TRUE, &flag, &error));
	g_assert_false(flag);
	g_assert_true(kl_config_get_boolean(config, "v", "absent", TRUE, &flag, &error));
	g_assert_true(flag);
	g_assert_true(kl_config_get_int(config, "v", "num", 0, 0, 100, &number, &error));
	g_assert_cmpint(number, ==, 42);
	g_assert_true(kl_config_get_int(config, "v", "neg", 0, -10, 10, &number, &error));
	g_assert_cmpint(number, ==, -3);
	g_assert_true(kl_config_get_int(config, "v", "absent", 7, 0, 10, &number, &error));
	g_assert_cmpint(number, ==, 7);
	g_assert_true(kl_config_get_double(config, "v", "real", 0, &real, &error));
	g_assert_cmpfloat(real, ==, 60.5);
	g_assert_true(kl_config_get_list(config, "v", "list", &list, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(g_strv_length(list), ==, 3);
	g_assert_cmpstr(list[0], ==, "agent");
	g_assert_cmpstr(list[1], ==, "webhook");
	g_assert_cmpstr(list[2], ==, "a'b");
	g_assert_true(kl_config_get_list(config, "v", "empty_list", &empty, &error));
	g_assert_cmpuint(g_strv_length(empty), ==, 0);
	g_assert_true(kl_config_get_list(config, "v", "plain_list", &plain, &error));
	g_assert_cmpuint(g_strv_length(plain), ==, 3);
	g_assert_cmpstr(plain[2], ==, "c");
	g_assert_true(kl_config_get_list(config, "v", "absent", &absent, &error));
	g_assert_cmpuint(g_strv_length(absent), ==, 0);

	/* Malformed values name the file, the line and the option. */
	g_assert_false(kl_config_get_boolean(config, "v", "bad_bool", FALSE, &flag, &error));
	g_assert_error(error, KL_CONFIG_ERROR, KL_CONFIG_ERROR_INVALID_VALUE);
	g_assert_nonnull(strstr(error->message, "test.conf:10: [v] bad_bool"));
	g_clear_error(&error);
	g_assert_false(kl_config_get_int(config, "v", "bad_int", 0, 0, 100, &number, &error));
	g_assert_nonnull(strstr(error->message, "test.conf:11: [v] bad_int"));
	g_clear_error(&error);
	g_assert_false(kl_config_get_int(config, "v", "big", 0, 0, 65535, &number, &error));
	g_assert_nonnull(strstr(error->message, "0 to 65535"));
	g_clear_error(&error);
	g_assert_false(kl_config_get_list(config, "v", "bad_list", &bad, &error));
	g_assert_nonnull(strstr(error->message, "test.conf:13: [v] bad_list"));
	g_assert_null(bad);
	g_clear_error(&error);
	g_assert_false(kl_config_get_double(config, "v", "bad_real", 0, &real, &error));
	g_assert_error(error, KL_CONFIG_ERROR, KL_CONFIG_ERROR_INVALID_VALUE);
}

static void
test_config_malformed(void)
{
	const struct {
		const gchar *text;
		const gchar *message;
	} cases[] = {
		{"ip = 1\n", "test.conf:1: option outside of any [section]"},
		{"[a]\njust a line\n", "test.conf:2: expected 'option = value'"},
		{"[a]\n= value\n", "test.conf:2: expected 'option = value'"},
		{"[a\nx = 1\n", "test.conf:1: malformed section header"},
		{"[]\n", "test.conf:1: malformed section header"},
		{"[a]\nx = 1\n[a]\n", "test.conf:3: section [a] appears twice"},
		{"[a]\nx = 1\nX = 2\n", "test.conf:3: option 'x' appears twice in [a]"},
		{"[a]\nx = \xff\xfe\n", "test.conf:2: not valid UTF-8"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(KlConfig) config = load_text(cases[i].text, &error);
		g_assert_null(config);
		g_assert_error(error, KL_CONFIG_ERROR, KL_CONFIG_ERROR_PARSE);
		g_assert_cmpstr(error->message, ==, cases[i].message);
	}
}

static void
test_config_hostile(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlConfig) config = kl_config_new();
	g_autofree gchar *huge = g_malloc(2 * 1024 * 1024);
	const gchar with_nul[] = "[a]\nx = 1\0y = 2\n";
	g_autoptr(GString) long_line = g_string_new("[a]\nx = ");

	/* An empty file is a valid, empty configuration. */
	g_assert_true(kl_config_load_data(config, NULL, 0, "empty.conf", &error));
	g_assert_no_error(error);

	memset(huge, 'a', 2 * 1024 * 1024);
	g_assert_false(kl_config_load_data(config, huge, 2 * 1024 * 1024, "huge.conf", &error));
	g_assert_error(error, KL_CONFIG_ERROR, KL_CONFIG_ERROR_PARSE);
	g_clear_error(&error);

	g_assert_false(
		kl_config_load_data(config, with_nul, sizeof(with_nul) - 1, "nul.conf", &error));
	g_assert_cmpstr(error->message, ==, "nul.conf: contains a NUL byte");
	g_clear_error(&error);

	/* A long value within the size limit is just a long value. */
	for (guint i = 0; i < 100000; i++)
		g_string_append_c(long_line, 'v');
	g_assert_true(kl_config_load_data(config, long_line->str, long_line->len, "long", &error));
	g_assert_no_error(error);
	g_assert_cmpuint(strlen(kl_config_get_string(config, "a", "x", "")), ==, 100000);
}

static void
test_config_component(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(KlConfig) config = kl_config_new();
	g_autofree gchar *main_path =
		kl_test_dir_write(dir,
				  "verifier.conf",
				  "[verifier]\nport = 1\nip = a\nmode = pull\n"
				  "[revocations]\nzmq_port = 1\n",
				  -1);
	g_autofree gchar *dropin_b =
		kl_test_dir_write(dir, "verifier.conf.d/20-b.conf", "[verifier]\nport = 3\n", -1);
	g_autofree gchar *dropin_a = kl_test_dir_write(dir,
						       "verifier.conf.d/10-a.conf",
						       "[verifier]\nport = 2\nip = b\n",
						       -1);
	g_autofree gchar *bad_dropin = NULL;
	g_autofree gchar *ignored =
		kl_test_dir_write(dir, "verifier.conf.d/30.conf.bak", "[verifier]\nip = c\n", -1);

	g_setenv("KEYLIME_VERIFIER_CONFIG", main_path, TRUE);
	g_setenv("KEYLIME_VERIFIER_MODE", "push", TRUE);
	g_setenv("KEYLIME_VERIFIER_REVOCATIONS_ZMQ_PORT", "9", TRUE);
	g_assert_true(kl_config_load_component(config, "verifier", &error));
	g_assert_no_error(error);
	/* Drop-ins apply in lexical order, the environment last. */
	g_assert_cmpstr(kl_config_get_string(config, "verifier", "port", NULL), ==, "3");
	g_assert_cmpstr(kl_config_get_string(config, "verifier", "ip", NULL), ==, "b");
	g_assert_cmpstr(kl_config_get_string(config, "verifier", "mode", NULL), ==, "push");
	g_assert_cmpstr(kl_config_get_string(config, "revocations", "zmq_port", NULL), ==, "9");
	g_assert_false(kl_config_has_option(config, "verifier", "config"));
	g_unsetenv("KEYLIME_VERIFIER_MODE");
	g_unsetenv("KEYLIME_VERIFIER_REVOCATIONS_ZMQ_PORT");

	/* A path that names no file is an error, not silent defaults. */
	g_setenv("KEYLIME_VERIFIER_CONFIG", "/nonexistent/verifier.conf", TRUE);
	g_clear_object(&config);
	config = kl_config_new();
	g_assert_false(kl_config_load_component(config, "verifier", &error));
	g_assert_error(error, KL_CONFIG_ERROR, KL_CONFIG_ERROR_NOT_FOUND);
	g_clear_error(&error);

	/* A malformed drop-in fails the load and names itself. */
	bad_dropin = kl_test_dir_write(dir, "verifier.conf.d/40-bad.conf", "port = 4\n", -1);
	g_setenv("KEYLIME_VERIFIER_CONFIG", main_path, TRUE);
	g_assert_false(kl_config_load_component(config, "verifier", &error));
	g_assert_nonnull(strstr(error->message, "40-bad.conf:1"));
	g_unsetenv("KEYLIME_VERIFIER_CONFIG");
}

/* Every file that data/config ships parses, with every option typed. */
static void
test_config_shipped_files(void)
{
	const gchar *const components[] = {"verifier", "registrar", "tenant", "ca", "logging"};

	for (guint i = 0; i < G_N_ELEMENTS(components); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(KlConfig) config = kl_config_new();
		g_autofree gchar *name = g_strdup_printf("%s.conf", components[i]);
		g_autofree gchar *path =
			g_test_build_filename(G_TEST_DIST, "..", "data", "config", name, NULL);
		g_auto(GStrv) sections = NULL;

		g_assert_true(kl_config_load_file(config, path, &error));
		g_assert_no_error(error);
		sections = kl_config_get_sections(config);
		g_assert_cmpuint(g_strv_length(sections), >, 0);
		if (g_strcmp0(components[i], "logging") != 0) {
			g_assert_true(kl_config_has_option(config, components[i], "version"));
			g_assert_cmpstr(
				kl_config_get_string(config, components[i], "version", NULL),
				==,
				"2.6");
		}
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/config/syntax", test_config_syntax);
	g_test_add_func("/config/default-section", test_config_default_section);
	g_test_add_func("/config/typed", test_config_typed);
	g_test_add_func("/config/malformed", test_config_malformed);
	g_test_add_func("/config/hostile", test_config_hostile);
	g_test_add_func("/config/component", test_config_component);
	g_test_add_func("/config/shipped-files", test_config_shipped_files);
	return g_test_run();
}
