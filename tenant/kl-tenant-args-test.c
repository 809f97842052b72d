/*
 * keylime_tenant's command line: the bounded parser over the option
 * table, and the man page and bash completion agreeing with the table.
 */
#include "config.h"

#include <string.h>

#include "kl-tenant-args.h"

static KlTenantArgs *
parse(GError **error, ...)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	const gchar *arg;
	va_list args;

	va_start(args, error);
	while ((arg = va_arg(args, const gchar *)) != NULL)
		g_ptr_array_add(argv, (gpointer)arg);
	va_end(args);
	return kl_tenant_args_parse((gint)argv->len, (const gchar *const *)argv->pdata, error);
}

static void
test_args_upstream_short_options(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTenantArgs) args = parse(&error,
					     "-c",
					     "add",
					     "-u",
					     "agent-1",
					     "-t",
					     "10.0.0.2",
					     "-tp",
					     "9002",
					     "-v",
					     "10.0.0.1",
					     "-vp",
					     "8881",
					     "-r",
					     "10.0.0.3",
					     "-rp",
					     "8891",
					     "-f",
					     "payload.txt",
					     "--verify",
					     NULL);
	guint16 port = 0;

	g_assert_no_error(error);
	g_assert_cmpstr(kl_tenant_args_get(args, KL_TENANT_OPT_COMMAND), ==, "add");
	g_assert_cmpstr(kl_tenant_args_get(args, KL_TENANT_OPT_UUID), ==, "agent-1");
	g_assert_cmpstr(kl_tenant_args_get(args, KL_TENANT_OPT_TARGETHOST), ==, "10.0.0.2");
	g_assert_cmpstr(kl_tenant_args_get(args, KL_TENANT_OPT_CV), ==, "10.0.0.1");
	g_assert_cmpstr(kl_tenant_args_get(args, KL_TENANT_OPT_REGISTRARHOST), ==, "10.0.0.3");
	g_assert_cmpstr(kl_tenant_args_get(args, KL_TENANT_OPT_FILE), ==, "payload.txt");
	g_assert_nonnull(kl_tenant_args_get(args, KL_TENANT_OPT_VERIFY));
	g_assert_null(kl_tenant_args_get(args, KL_TENANT_OPT_JSON));
	g_assert_true(kl_tenant_args_port(args, KL_TENANT_OPT_TARGETPORT, &port, &error));
	g_assert_cmpuint(port, ==, 9002);
	g_assert_true(kl_tenant_args_port(args, KL_TENANT_OPT_CVPORT, &port, &error));
	g_assert_cmpuint(port, ==, 8881);
	g_assert_true(kl_tenant_args_port(args, KL_TENANT_OPT_REGISTRARPORT, &port, &error));
	g_assert_cmpuint(port, ==, 8891);
}

static void
test_args_long_forms_aliases_and_last_wins(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTenantArgs) args = parse(&error,
					     "--command=cvstatus",
					     "--uuid",
					     "first",
					     "--uuid=second",
					     "--mb_refstate",
					     "refstate.json",
					     "--supported-version",
					     "2.1",
					     "--signature-verification-key",
					     "key.pem",
					     "--tpm_policy={\"mask\": \"0x400\"}",
					     "--json",
					     NULL);

	g_assert_no_error(error);
	g_assert_cmpstr(kl_tenant_args_get(args, KL_TENANT_OPT_COMMAND), ==, "cvstatus");
	g_assert_cmpstr(kl_tenant_args_get(args, KL_TENANT_OPT_UUID), ==, "second");
	g_assert_cmpstr(kl_tenant_args_get(args, KL_TENANT_OPT_MB_POLICY), ==, "refstate.json");
	g_assert_cmpstr(kl_tenant_args_get(args, KL_TENANT_OPT_AGENT_API_VERSION), ==, "2.1");
	g_assert_cmpstr(kl_tenant_args_get(args, KL_TENANT_OPT_SIGN_VERIFICATION_KEY),
			==,
			"key.pem");
	g_assert_cmpstr(kl_tenant_args_get(args, KL_TENANT_OPT_TPM_POLICY),
			==,
			"{\"mask\": \"0x400\"}");
	g_assert_nonnull(kl_tenant_args_get(args, KL_TENANT_OPT_JSON));
}

static void
assert_refused(const gchar *what, KlTenantArgs *args, GError *error, GOptionError code)
{
	g_test_message("%s: %s", what, error != NULL ? error->message : "(accepted)");
	g_assert_null(args);
	g_assert_error(error, G_OPTION_ERROR, (gint)code);
}

static void
test_args_refused(void)
{
	GError *error = NULL;
	KlTenantArgs *args;
	g_autofree gchar *long_value = g_strnfill(KL_TENANT_ARGS_MAX_LENGTH + 1, 'x');
	g_autofree gchar *long_arg = g_strconcat("--uuid=", long_value, NULL);
	const gchar *many[KL_TENANT_ARGS_MAX_COUNT + 1];

	args = parse(&error, "-x", NULL);
	assert_refused("unknown option", args, error, G_OPTION_ERROR_UNKNOWN_OPTION);
	g_clear_error(&error);
	/* -tp is one option, not -t with "p" */
	args = parse(&error, "-tpx", "1", NULL);
	assert_refused("no prefix matching", args, error, G_OPTION_ERROR_UNKNOWN_OPTION);
	g_clear_error(&error);
	/* argparse's "=" is for long options only */
	args = parse(&error, "-u=agent", NULL);
	assert_refused("short option with =", args, error, G_OPTION_ERROR_UNKNOWN_OPTION);
	g_clear_error(&error);
	args = parse(&error, "-u", NULL);
	assert_refused("value missing", args, error, G_OPTION_ERROR_BAD_VALUE);
	g_clear_error(&error);
	args = parse(&error, "--json=yes", NULL);
	assert_refused("value on a flag", args, error, G_OPTION_ERROR_BAD_VALUE);
	g_clear_error(&error);
	args = parse(&error, "add", NULL);
	assert_refused("positional", args, error, G_OPTION_ERROR_FAILED);
	g_clear_error(&error);
	args = parse(&error, "-", NULL);
	assert_refused("lone dash", args, error, G_OPTION_ERROR_FAILED);
	g_clear_error(&error);
	args = parse(&error, "-c", "addagent", NULL);
	assert_refused("unknown command", args, error, G_OPTION_ERROR_BAD_VALUE);
	g_clear_error(&error);
	args = parse(&error, long_arg, NULL);
	assert_refused("argument too long", args, error, G_OPTION_ERROR_BAD_VALUE);
	g_clear_error(&error);
	args = parse(&error, "-u", long_value, NULL);
	assert_refused("value too long", args, error, G_OPTION_ERROR_BAD_VALUE);
	g_clear_error(&error);
	for (gsize i = 0; i < G_N_ELEMENTS(many); i++)
		many[i] = "--json";
	args = kl_tenant_args_parse((gint)G_N_ELEMENTS(many), many, &error);
	assert_refused("too many arguments", args, error, G_OPTION_ERROR_FAILED);
	g_clear_error(&error);
	/* at the bound it is fine */
	args = kl_tenant_args_parse(KL_TENANT_ARGS_MAX_COUNT, many, &error);
	g_assert_no_error(error);
	kl_tenant_args_free(args);
}

static void
test_args_ports(void)
{
	const gchar *bad[] = {"0", "65536", "-1", "80x", "", " 80", "0x50"};

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(KlTenantArgs) args = parse(&error, "-tp", bad[i], NULL);
		guint16 port = 7;

		g_assert_no_error(error);
		g_assert_false(kl_tenant_args_port(args, KL_TENANT_OPT_TARGETPORT, &port, &error));
		g_assert_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE);
		g_assert_nonnull(strstr(error->message, "--targetport"));
		g_assert_cmpuint(port, ==, 7);
	}
}

static void
test_args_help_lists_everything(void)
{
	g_autofree gchar *help = kl_tenant_args_help("keylime_tenant");
	const KlTenantOption *options;
	const KlTenantCommand *commands;
	gsize n_options = 0;
	gsize n_commands = 0;

	options = kl_tenant_args_options(&n_options);
	commands = kl_tenant_args_commands(&n_commands);
	for (gsize i = 0; i < n_options; i++) {
		for (gsize n = 0; n < KL_TENANT_OPTION_MAX_NAMES && options[i].names[n] != NULL;
		     n++)
			g_assert_nonnull(strstr(help, options[i].names[n]));
		g_assert_cmpint(options[i].id, ==, (gint)i);
	}
	for (gsize i = 0; i < n_commands; i++)
		g_assert_nonnull(strstr(help, commands[i].name));
	g_assert_nonnull(strstr(help, "3  a service could not be reached"));
}

/* Every option name of the table, in table order. */
static GPtrArray *
table_names(void)
{
	GPtrArray *names = g_ptr_array_new();
	gsize n_options = 0;
	const KlTenantOption *options = kl_tenant_args_options(&n_options);

	for (gsize i = 0; i < n_options; i++) {
		for (gsize n = 0; n < KL_TENANT_OPTION_MAX_NAMES && options[i].names[n] != NULL;
		     n++)
			g_ptr_array_add(names, (gpointer)options[i].names[n]);
	}
	return names;
}

static gchar *
read_data_file(const gchar *dir, const gchar *name)
{
	g_autofree gchar *path = g_test_build_filename(G_TEST_DIST, "..", "data", dir, name, NULL);
	g_autoptr(GError) error = NULL;
	gchar *text = NULL;

	g_file_get_contents(path, &text, NULL, &error);
	g_assert_no_error(error);
	return text;
}

static void
assert_same_words(const gchar *what, GPtrArray *expected, const gchar *const *words)
{
	g_autofree gchar *joined = g_strjoinv(" ", (gchar **)words);

	g_test_message("%s: %s", what, joined);
	g_assert_cmpuint(g_strv_length((gchar **)words), ==, expected->len);
	for (guint i = 0; i < expected->len; i++)
		g_assert_cmpstr(words[i], ==, g_ptr_array_index(expected, i));
}

/* The words of the completion's 'local NAME="..."' line. */
static gchar **
completion_words(const gchar *script, const gchar *name)
{
	g_autofree gchar *start = g_strdup_printf("local %s=\"", name);
	const gchar *begin = strstr(script, start);
	const gchar *end;
	g_autofree gchar *list = NULL;

	g_assert_nonnull(begin);
	begin += strlen(start);
	end = strchr(begin, '"');
	g_assert_nonnull(end);
	list = g_strndup(begin, (gsize)(end - begin));
	return g_strsplit(list, " ", -1);
}

static KlTenantComplete
completion_kind(const gchar *line)
{
	g_autofree gchar *action = g_strstrip(g_strdup(line));

	if (strstr(action, "compgen -W \"$commands\"") != NULL)
		return KL_TENANT_COMPLETE_COMMAND;
	if (strstr(action, "compgen -f") != NULL)
		return KL_TENANT_COMPLETE_FILE;
	if (strstr(action, "compgen -d") != NULL)
		return KL_TENANT_COMPLETE_DIR;
	if (strstr(action, "compgen -A hostname") != NULL)
		return KL_TENANT_COMPLETE_HOST;
	g_assert_cmpstr(action, ==, "return");
	return KL_TENANT_COMPLETE_NONE;
}

static void
test_args_completion_agrees_with_table(void)
{
	g_autofree gchar *script = read_data_file("completions", "keylime_tenant");
	g_autoptr(GPtrArray) names = table_names();
	g_autoptr(GPtrArray) command_names = g_ptr_array_new();
	g_auto(GStrv) opts = completion_words(script, "opts");
	g_auto(GStrv) commands = completion_words(script, "commands");
	g_auto(GStrv) lines = g_strsplit(script, "\n", -1);
	g_autoptr(GHashTable) kinds = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	gsize n_options = 0;
	gsize n_commands = 0;
	const KlTenantOption *options = kl_tenant_args_options(&n_options);
	const KlTenantCommand *table_commands = kl_tenant_args_commands(&n_commands);

	assert_same_words("opts", names, (const gchar *const *)opts);
	for (gsize i = 0; i < n_commands; i++)
		g_ptr_array_add(command_names, (gpointer)table_commands[i].name);
	assert_same_words("commands", command_names, (const gchar *const *)commands);

	/* the case arms on the previous word: "-f | --file)" then the action */
	for (guint i = 0; lines[i] != NULL && lines[i + 1] != NULL; i++) {
		g_autofree gchar *line = g_strstrip(g_strdup(lines[i]));
		g_auto(GStrv) patterns = NULL;
		KlTenantComplete kind;

		if (line[0] != '-' || !g_str_has_suffix(line, ")"))
			continue;
		line[strlen(line) - 1] = '\0';
		patterns = g_strsplit(line, " | ", -1);
		kind = completion_kind(lines[i + 1]);
		for (guint p = 0; patterns[p] != NULL; p++) {
			g_assert_false(g_hash_table_contains(kinds, patterns[p]));
			g_hash_table_insert(kinds,
					    g_strdup(patterns[p]),
					    GINT_TO_POINTER(kind + 1));
		}
	}
	for (gsize i = 0; i < n_options; i++) {
		for (gsize n = 0; n < KL_TENANT_OPTION_MAX_NAMES && options[i].names[n] != NULL;
		     n++) {
			gint kind =
				GPOINTER_TO_INT(g_hash_table_lookup(kinds, options[i].names[n]));

			g_test_message("%s: completion kind %d", options[i].names[n], kind - 1);
			if (options[i].arg == NULL)
				g_assert_cmpint(kind, ==, 0);
			else
				g_assert_cmpint(kind - 1, ==, (gint)options[i].complete);
			g_hash_table_remove(kinds, options[i].names[n]);
		}
	}
	/* no arm for an option the table does not have */
	g_assert_cmpuint(g_hash_table_size(kinds), ==, 0);
}

/* The text of a man page's section, from ".SH NAME" to the next ".SH". */
static gchar *
man_section(const gchar *page, const gchar *name)
{
	g_autofree gchar *heading = g_strdup_printf("\n.SH %s\n", name);
	const gchar *begin = strstr(page, heading);
	const gchar *end;

	g_assert_nonnull(begin);
	begin += strlen(heading);
	end = strstr(begin, "\n.SH ");
	return end != NULL ? g_strndup(begin, (gsize)(end - begin)) : g_strdup(begin);
}

static void
test_args_man_page_agrees_with_table(void)
{
	g_autofree gchar *page = read_data_file("man", "keylime_tenant.1");
	g_autofree gchar *options = man_section(page, "OPTIONS");
	g_autofree gchar *commands = man_section(page, "COMMANDS");
	g_autoptr(GPtrArray) names = table_names();
	g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) command_names = g_ptr_array_new();
	g_autoptr(GRegex) option_regex = NULL;
	g_autoptr(GRegex) command_regex = NULL;
	g_autoptr(GMatchInfo) match = NULL;
	g_autoptr(GError) error = NULL;
	gsize n_commands = 0;
	const KlTenantCommand *table_commands = kl_tenant_args_commands(&n_commands);

	/* the .TP lines' bold names: \fB\-tp\fR, \fB\-\-targetport\fR */
	option_regex = g_regex_new("^\\\\fB(\\\\-[^\\\\]*(?:\\\\-[^\\\\]*)*)\\\\fR|, "
				   "\\\\fB(\\\\-[^\\\\]*(?:\\\\-[^\\\\]*)*)\\\\fR",
				   G_REGEX_MULTILINE,
				   0,
				   &error);
	g_assert_no_error(error);
	g_regex_match(option_regex, options, 0, &match);
	while (g_match_info_matches(match)) {
		g_autofree gchar *first = g_match_info_fetch(match, 1);
		g_autofree gchar *second = g_match_info_fetch(match, 2);
		const gchar *roff = first != NULL && first[0] != '\0' ? first : second;
		g_autoptr(GString) name = g_string_new(roff);

		g_string_replace(name, "\\-", "-", 0);
		g_ptr_array_add(found, g_string_free(g_steal_pointer(&name), FALSE));
		g_match_info_next(match, NULL);
	}
	g_ptr_array_add(found, NULL);
	assert_same_words("man OPTIONS", names, (const gchar *const *)found->pdata);

	g_clear_pointer(&match, g_match_info_free);
	g_clear_pointer(&found, g_ptr_array_unref);
	found = g_ptr_array_new_with_free_func(g_free);
	command_regex = g_regex_new("^\\.B (\\S+)$", G_REGEX_MULTILINE, 0, &error);
	g_assert_no_error(error);
	g_regex_match(command_regex, commands, 0, &match);
	while (g_match_info_matches(match)) {
		g_ptr_array_add(found, g_match_info_fetch(match, 1));
		g_match_info_next(match, NULL);
	}
	g_ptr_array_add(found, NULL);
	for (gsize i = 0; i < n_commands; i++)
		g_ptr_array_add(command_names, (gpointer)table_commands[i].name);
	assert_same_words("man COMMANDS", command_names, (const gchar *const *)found->pdata);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/tenant-args/upstream-short-options", test_args_upstream_short_options);
	g_test_add_func("/tenant-args/long-forms-aliases-last-wins",
			test_args_long_forms_aliases_and_last_wins);
	g_test_add_func("/tenant-args/refused", test_args_refused);
	g_test_add_func("/tenant-args/ports", test_args_ports);
	g_test_add_func("/tenant-args/help", test_args_help_lists_everything);
	g_test_add_func("/tenant-args/completion", test_args_completion_agrees_with_table);
	g_test_add_func("/tenant-args/man-page", test_args_man_page_agrees_with_table);
	return g_test_run();
}
