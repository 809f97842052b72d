/*
 * kl-tui-text: cells are exactly as wide as asked, never split a UTF-8
 * character, and never pass control characters or invalid bytes through.
 */
#include "config.h"

#include "kl-tui-text.h"

static void
test_pad_and_cut(void)
{
	g_autofree gchar *padded = kl_tui_text_fit("abc", 5, "~");
	g_autofree gchar *cut = kl_tui_text_fit("abcdef", 4, "~");
	g_autofree gchar *exact = kl_tui_text_fit("abcd", 4, "~");
	g_autofree gchar *right = kl_tui_text_fit_right("42", 5, "~");
	g_autofree gchar *zero = kl_tui_text_fit("abc", 0, "~");
	g_autofree gchar *null = kl_tui_text_fit(NULL, 2, "~");

	g_assert_cmpstr(padded, ==, "abc  ");
	g_assert_cmpstr(cut, ==, "abc~");
	g_assert_cmpstr(exact, ==, "abcd");
	g_assert_cmpstr(right, ==, "   42");
	g_assert_cmpstr(zero, ==, "");
	g_assert_cmpstr(null, ==, "  ");
}

static void
test_utf8_boundaries(void)
{
	/* "Prüfung" is 7 columns in 8 bytes: a byte count would cut the ü */
	g_autofree gchar *cut = kl_tui_text_fit("Prüfung", 4, "…");
	g_autofree gchar *fits = kl_tui_text_fit("Prüfung", 7, "…");

	g_assert_cmpstr(cut, ==, "Prü…");
	g_assert_true(g_utf8_validate(cut, -1, NULL));
	g_assert_cmpstr(fits, ==, "Prüfung");
	g_assert_cmpuint(kl_tui_text_width("Prüfung"), ==, 7);
}

static void
test_wide_characters(void)
{
	/* three CJK characters, two columns each */
	const gchar *wide = "\xe6\xbc\xa2\xe5\xad\x97\xe5\x90\x8d";
	g_autofree gchar *cut = kl_tui_text_fit(wide, 4, "~");
	g_autofree gchar *odd = kl_tui_text_fit(wide, 5, "~");

	g_assert_cmpuint(kl_tui_text_width(wide), ==, 6);
	/* one whole character (2), a pad where the half would be, the mark */
	g_assert_cmpstr(cut, ==, "\xe6\xbc\xa2 ~");
	g_assert_cmpuint(kl_tui_text_width(cut), ==, 4);
	g_assert_cmpuint(kl_tui_text_width(odd), ==, 5);
}

static void
test_hostile_input(void)
{
	g_autofree gchar *controls = kl_tui_text_fit("a\x1b[2Jb\n", 8, "~");
	g_autofree gchar *invalid = kl_tui_text_fit("a\xff\xfe"
						    "b",
						    4,
						    "~");
	g_autofree gchar *truncated = kl_tui_text_fit("ab\xc3", 4, "~");

	g_assert_cmpstr(controls, ==, "a?[2Jb? ");
	g_assert_cmpstr(invalid, ==, "a??b");
	g_assert_cmpstr(truncated, ==, "ab? ");
	g_assert_true(g_utf8_validate(invalid, -1, NULL));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/tui-text/pad-and-cut", test_pad_and_cut);
	g_test_add_func("/tui-text/utf8-boundaries", test_utf8_boundaries);
	g_test_add_func("/tui-text/wide-characters", test_wide_characters);
	g_test_add_func("/tui-text/hostile-input", test_hostile_input);
	return g_test_run();
}
