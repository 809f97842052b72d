/*
 * kl-tui-layout: columns fill the width exactly and shrink from the end;
 * scrolling keeps the selection on screen and never shows blank rows
 * below a long list.
 */
#include "config.h"

#include "kl-tui-layout.h"

static const KlTuiColumnSpec specs[] = {{10, 2}, {5, 0}, {4, 1}};

static void
test_columns_fill(void)
{
	guint widths[3];

	kl_tui_layout_columns(specs, 3, 80, widths);
	/* 80 - 2 gaps = 78 columns, all given out */
	g_assert_cmpuint(widths[0] + widths[1] + widths[2], ==, 78);
	g_assert_cmpuint(widths[1], ==, 5);
	g_assert_cmpuint(widths[0], >, widths[2]);
}

static void
test_columns_shrink(void)
{
	guint widths[3];

	kl_tui_layout_columns(specs, 3, 15, widths);
	g_assert_cmpuint(widths[0], ==, 10);
	g_assert_cmpuint(widths[1], ==, 3);
	g_assert_cmpuint(widths[2], ==, 0);
	kl_tui_layout_columns(specs, 3, 0, widths);
	g_assert_cmpuint(widths[0] + widths[1] + widths[2], ==, 0);
}

static void
test_scroll(void)
{
	/* visible selection: top stays */
	g_assert_cmpuint(kl_tui_layout_scroll(10, 15, 20, 10000), ==, 10);
	/* below the window: just enough */
	g_assert_cmpuint(kl_tui_layout_scroll(0, 25, 20, 10000), ==, 6);
	/* above: the selection becomes the top */
	g_assert_cmpuint(kl_tui_layout_scroll(50, 3, 20, 10000), ==, 3);
	/* the list shrank: no blank rows at the end */
	g_assert_cmpuint(kl_tui_layout_scroll(90, 95, 20, 100), ==, 80);
	g_assert_cmpuint(kl_tui_layout_scroll(5, 2, 20, 10), ==, 0);
	g_assert_cmpuint(kl_tui_layout_scroll(5, 2, 0, 10), ==, 0);
}

static void
test_cursor(void)
{
	KlTuiCursor cursor = {0, 0};

	kl_tui_cursor_move(&cursor, KL_TUI_MOVE_END, 10000, 21);
	g_assert_cmpuint(cursor.selected, ==, 9999);
	g_assert_cmpuint(cursor.top, ==, 9979);
	kl_tui_cursor_move(&cursor, KL_TUI_MOVE_PAGE_UP, 10000, 21);
	g_assert_cmpuint(cursor.selected, ==, 9979);
	kl_tui_cursor_move(&cursor, KL_TUI_MOVE_DOWN, 10000, 21);
	g_assert_cmpuint(cursor.selected, ==, 9980);
	/* the list shrinks under the cursor */
	kl_tui_cursor_clamp(&cursor, 3, 21);
	g_assert_cmpuint(cursor.selected, ==, 2);
	g_assert_cmpuint(cursor.top, ==, 0);
	kl_tui_cursor_move(&cursor, KL_TUI_MOVE_DOWN, 0, 21);
	g_assert_cmpuint(cursor.selected, ==, 0);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/tui-layout/columns-fill", test_columns_fill);
	g_test_add_func("/tui-layout/columns-shrink", test_columns_shrink);
	g_test_add_func("/tui-layout/scroll", test_scroll);
	g_test_add_func("/tui-layout/cursor", test_cursor);
	return g_test_run();
}
