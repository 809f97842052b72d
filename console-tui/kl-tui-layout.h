/*
 * kl-tui-layout: the geometry of keylime-tui's screens, apart from
 * ncurses so that it is tested on its own: how the columns of a table
 * share the terminal's width, and which rows of a long list are shown so
 * that the selected one stays visible (a list of 10 000 agents draws only
 * the rows on screen).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
	guint min;    /* columns it needs */
	guint weight; /* share of the columns left over; 0: stays at min */
} KlTuiColumnSpec;

/*
 * Fills @widths (n_columns) for a table @total columns wide, one blank
 * column between two table columns: every column gets its minimum, the
 * rest goes to the weighted ones in proportion (remainder to the first).
 * When the minimums do not fit, the columns at the end shrink, down to 0.
 */
void
kl_tui_layout_columns(const KlTuiColumnSpec *specs, guint n_columns, guint total, guint *widths);

/*
 * The first row to show of @n_items in a window of @n_rows, given the one
 * shown first so far (@top) and the selected row: unchanged while the
 * selection is visible, moved just enough otherwise, and never past the
 * end (no blank rows below the last item when the list is long enough).
 */
guint kl_tui_layout_scroll(guint top, guint selected, guint n_rows, guint n_items);

/* A selection in a scrolling list: the selected item and the first shown. */
typedef struct {
	guint selected;
	guint top;
} KlTuiCursor;

typedef enum {
	KL_TUI_MOVE_UP,
	KL_TUI_MOVE_DOWN,
	KL_TUI_MOVE_PAGE_UP,
	KL_TUI_MOVE_PAGE_DOWN,
	KL_TUI_MOVE_HOME,
	KL_TUI_MOVE_END,
} KlTuiMove;

/* Moves @cursor in a list of @n_items shown @n_rows at a time; clamps it
 * when the list shrank (@move may then be any value, to clamp only). */
void kl_tui_cursor_move(KlTuiCursor *cursor, KlTuiMove move, guint n_items, guint n_rows);
void kl_tui_cursor_clamp(KlTuiCursor *cursor, guint n_items, guint n_rows);

G_END_DECLS
