/*
 * kl-tui-entry: typing, UTF-8 aware backspace, Esc restores, the limit.
 */
#include "config.h"

#include <curses.h>

#include "kl-tui-entry.h"

static void
test_typing(void)
{
	KlTuiEntry entry = {0};

	kl_tui_entry_begin(&entry, "ab", 4);
	g_assert_cmpint(kl_tui_entry_key(&entry, 0xfc /* ü */, FALSE), ==, KL_TUI_ENTRY_EDITING);
	g_assert_cmpstr(entry.text->str, ==, "abü");
	kl_tui_entry_key(&entry, KEY_BACKSPACE, TRUE);
	g_assert_cmpstr(entry.text->str, ==, "ab");
	kl_tui_entry_key(&entry, 0x1b5b, FALSE); /* not a control: a character */
	kl_tui_entry_key(&entry, 'x', FALSE);
	kl_tui_entry_key(&entry, 'y', FALSE); /* over the limit of 4 */
	g_assert_cmpuint(g_utf8_strlen(entry.text->str, -1), ==, 4);
	kl_tui_entry_key(&entry, 7, FALSE); /* control characters are dropped */
	g_assert_true(g_utf8_validate(entry.text->str, -1, NULL));
	g_assert_cmpint(kl_tui_entry_key(&entry, '\r', FALSE), ==, KL_TUI_ENTRY_DONE);
	kl_tui_entry_clear(&entry);
}

static void
test_cancel(void)
{
	KlTuiEntry entry = {0};

	kl_tui_entry_begin(&entry, "keep", 64);
	kl_tui_entry_key(&entry, 21, FALSE); /* Ctrl-U */
	g_assert_cmpstr(entry.text->str, ==, "");
	kl_tui_entry_key(&entry, 'z', FALSE);
	g_assert_cmpint(kl_tui_entry_key(&entry, 27, FALSE), ==, KL_TUI_ENTRY_CANCEL);
	g_assert_cmpstr(entry.text->str, ==, "keep");
	kl_tui_entry_clear(&entry);
	kl_tui_entry_begin(&entry, NULL, 64);
	kl_tui_entry_key(&entry, KEY_BACKSPACE, TRUE);
	g_assert_cmpstr(entry.text->str, ==, "");
	kl_tui_entry_clear(&entry);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/tui-entry/typing", test_typing);
	g_test_add_func("/tui-entry/cancel", test_cancel);
	return g_test_run();
}
