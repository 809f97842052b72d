/*
 * kl-tui-layout: column widths and scrolling (see kl-tui-layout.h).
 */
#define G_LOG_DOMAIN "KlTui"

#include "config.h"

#include "kl-tui-layout.h"

void
kl_tui_layout_columns(const KlTuiColumnSpec *specs, guint n_columns, guint total, guint *widths)
{
	guint gaps = n_columns > 0 ? n_columns - 1 : 0;
	guint needed = gaps;
	guint weights = 0;
	guint spare;
	guint given = 0;
	guint first_weighted = n_columns;

	for (guint i = 0; i < n_columns; i++) {
		needed += specs[i].min;
		weights += specs[i].weight;
		widths[i] = specs[i].min;
		if (specs[i].weight > 0 && first_weighted == n_columns)
			first_weighted = i;
	}
	if (needed > total) {
		guint excess = needed - total;

		for (guint i = n_columns; i > 0 && excess > 0; i--) {
			guint cut = MIN(widths[i - 1], excess);

			widths[i - 1] -= cut;
			excess -= cut;
		}
		return;
	}
	spare = total - needed;
	if (weights == 0)
		return;
	for (guint i = 0; i < n_columns; i++) {
		guint share = spare * specs[i].weight / weights;

		widths[i] += share;
		given += share;
	}
	widths[first_weighted] += spare - given;
}

guint
kl_tui_layout_scroll(guint top, guint selected, guint n_rows, guint n_items)
{
	if (n_rows == 0 || n_items == 0)
		return 0;
	if (selected >= n_items)
		selected = n_items - 1;
	if (selected < top)
		top = selected;
	else if (selected >= top + n_rows)
		top = selected - n_rows + 1;
	if (n_items > n_rows && top > n_items - n_rows)
		top = n_items - n_rows;
	if (n_items <= n_rows)
		top = 0;
	return top;
}

void
kl_tui_cursor_clamp(KlTuiCursor *cursor, guint n_items, guint n_rows)
{
	if (n_items == 0) {
		cursor->selected = 0;
		cursor->top = 0;
		return;
	}
	if (cursor->selected >= n_items)
		cursor->selected = n_items - 1;
	cursor->top = kl_tui_layout_scroll(cursor->top, cursor->selected, n_rows, n_items);
}

void
kl_tui_cursor_move(KlTuiCursor *cursor, KlTuiMove move, guint n_items, guint n_rows)
{
	guint page = n_rows > 1 ? n_rows - 1 : 1;

	switch (move) {
	case KL_TUI_MOVE_UP:
		if (cursor->selected > 0)
			cursor->selected--;
		break;
	case KL_TUI_MOVE_DOWN:
		if (cursor->selected + 1 < n_items)
			cursor->selected++;
		break;
	case KL_TUI_MOVE_PAGE_UP:
		cursor->selected = cursor->selected > page ? cursor->selected - page : 0;
		break;
	case KL_TUI_MOVE_PAGE_DOWN:
		cursor->selected += page;
		break;
	case KL_TUI_MOVE_HOME:
		cursor->selected = 0;
		break;
	case KL_TUI_MOVE_END:
		cursor->selected = n_items > 0 ? n_items - 1 : 0;
		break;
	default:
		break;
	}
	kl_tui_cursor_clamp(cursor, n_items, n_rows);
}
