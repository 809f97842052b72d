/*
 * kl-tui-keys: lookups per view, and a help screen that lists every
 * request bound in the view once, with all its keys.
 */
#include "config.h"

#include <curses.h>
#include <string.h>

#include "kl-tui-keys.h"

static void
test_lookup(void)
{
	g_assert_cmpint(kl_tui_keys_lookup(KL_TUI_VIEW_AGENTS, 'q'), ==, KL_TUI_REQ_QUIT);
	g_assert_cmpint(kl_tui_keys_lookup(KL_TUI_VIEW_DETAIL, 's'), ==, KL_TUI_REQ_STOP);
	/* 's' means nothing in the agents view: the key is per view */
	g_assert_cmpint(kl_tui_keys_lookup(KL_TUI_VIEW_AGENTS, 's'), ==, KL_TUI_REQ_NONE);
	g_assert_cmpint(kl_tui_keys_lookup(KL_TUI_VIEW_AGENTS, KEY_DOWN), ==, KL_TUI_REQ_DOWN);
	g_assert_cmpint(kl_tui_keys_lookup(KL_TUI_VIEW_AGENTS, '\r'), ==, KL_TUI_REQ_OPEN);
	g_assert_cmpint(kl_tui_keys_lookup(KL_TUI_VIEW_HELP, 127), ==, KL_TUI_REQ_BACK);
	g_assert_cmpint(kl_tui_keys_lookup(KL_TUI_VIEW_ENROLL, KEY_RIGHT),
			==,
			KL_TUI_REQ_NEXT_OPTION);
}

static void
test_no_duplicates(void)
{
	guint n;
	const KlTuiBinding *bindings = kl_tui_keys_get_bindings(&n);

	/* one key means one thing in each view */
	for (guint i = 0; i < n; i++) {
		for (guint j = i + 1; j < n; j++) {
			if (bindings[i].key == bindings[j].key)
				g_assert_cmpuint(bindings[i].views & bindings[j].views, ==, 0);
		}
		g_assert_nonnull(bindings[i].help);
	}
}

static void
test_help(void)
{
	g_autoptr(GPtrArray) lines = kl_tui_keys_help_lines(KL_TUI_VIEW_DETAIL, 12);
	gboolean stop = FALSE;
	gboolean down = FALSE;
	g_autoptr(GPtrArray) enroll = kl_tui_keys_help_lines(KL_TUI_VIEW_ENROLL, 12);
	gboolean enter = FALSE;

	for (guint i = 0; i < lines->len; i++) {
		const gchar *line = g_ptr_array_index(lines, i);

		g_assert_false(g_str_has_prefix(line, "o ")); /* sorting is not here */
		if (g_str_has_prefix(line, "s             Stop attestation"))
			stop = TRUE;
		if (strstr(line, "j, Down") != NULL) {
			g_assert_false(down); /* one line per request */
			down = TRUE;
		}
	}
	g_assert_true(stop);
	g_assert_true(down);
	/* '\n' and KEY_ENTER are both "Enter": listed once */
	for (guint i = 0; i < enroll->len; i++) {
		const gchar *line = g_ptr_array_index(enroll, i);

		g_assert_null(strstr(line, "Enter, Enter"));
		enter |= g_str_has_prefix(line, "Enter ");
	}
	g_assert_true(enter);
}

static void
test_names(void)
{
	g_autofree gchar *enter = kl_tui_keys_name('\n');
	g_autofree gchar *page = kl_tui_keys_name(KEY_NPAGE);
	g_autofree gchar *letter = kl_tui_keys_name('D');

	g_assert_cmpstr(enter, ==, "Enter");
	g_assert_cmpstr(page, ==, "PgDn");
	g_assert_cmpstr(letter, ==, "D");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/tui-keys/lookup", test_lookup);
	g_test_add_func("/tui-keys/no-duplicates", test_no_duplicates);
	g_test_add_func("/tui-keys/help", test_help);
	g_test_add_func("/tui-keys/names", test_names);
	return g_test_run();
}
