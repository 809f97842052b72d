/*
 * kl-tui-draw: keylime-tui's drawing helpers — styles that fall back to
 * attributes without colours and to nothing on a dumb terminal (the views
 * then mark rows with plain characters), cells cut by kl-tui-text, and
 * time stamps.
 */
#define G_LOG_DOMAIN "KlTui"

#include "config.h"

#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include "kl-tui-app.h"
#include "kl-tui-layout.h"
#include "kl-tui-text.h"

enum {
	KL_TUI_PAIR_HEADER = 1,
	KL_TUI_PAIR_SELECTED,
	KL_TUI_PAIR_FAILED,
	KL_TUI_PAIR_TITLE,
};

void
kl_tui_draw_init_colors(KlTuiApp *app)
{
	app->colors = has_colors() && start_color() == OK;
	if (!app->colors)
		return;
	use_default_colors();
	init_pair(KL_TUI_PAIR_HEADER, COLOR_BLACK, COLOR_CYAN);
	init_pair(KL_TUI_PAIR_SELECTED, COLOR_BLACK, COLOR_WHITE);
	init_pair(KL_TUI_PAIR_FAILED, COLOR_RED, -1);
	init_pair(KL_TUI_PAIR_TITLE, COLOR_WHITE, COLOR_BLUE);
}

static attr_t
kl_tui_draw_attr(KlTuiApp *app, KlTuiStyle style)
{
	switch (style) {
	case KL_TUI_STYLE_NORMAL:
		return A_NORMAL;
	case KL_TUI_STYLE_HEADER:
		return app->colors ? COLOR_PAIR(KL_TUI_PAIR_HEADER) : A_UNDERLINE;
	case KL_TUI_STYLE_SELECTED:
		return app->colors ? COLOR_PAIR(KL_TUI_PAIR_SELECTED) : A_REVERSE;
	case KL_TUI_STYLE_FAILED:
	case KL_TUI_STYLE_ERROR:
		return app->colors ? COLOR_PAIR(KL_TUI_PAIR_FAILED) | A_BOLD : A_BOLD;
	case KL_TUI_STYLE_TITLE:
		return app->colors ? COLOR_PAIR(KL_TUI_PAIR_TITLE) | A_BOLD : A_REVERSE;
	default:
		return A_NORMAL;
	}
}

static void
kl_tui_draw_cell(KlTuiApp *app, gint y, gint x, const gchar *cell, KlTuiStyle style)
{
	attr_t attr = kl_tui_draw_attr(app, style);

	if (y < 0 || y >= LINES || x >= COLS)
		return;
	attron(attr);
	mvaddstr(y, x, cell);
	attroff(attr);
}

void
kl_tui_draw_text(KlTuiApp *app, gint y, gint x, guint width, const gchar *text, KlTuiStyle style)
{
	g_autofree gchar *cell = NULL;

	if (x + (gint)width > COLS)
		width = COLS > x ? (guint)(COLS - x) : 0;
	/* the last cell of the screen would scroll it: leave it out */
	if (y == LINES - 1 && x + (gint)width == COLS && width > 0)
		width--;
	cell = kl_tui_text_fit(text, width, app->ellipsis);
	kl_tui_draw_cell(app, y, x, cell, style);
}

void
kl_tui_draw_text_right(KlTuiApp *app,
		       gint y,
		       gint x,
		       guint width,
		       const gchar *text,
		       KlTuiStyle style)
{
	g_autofree gchar *cell = NULL;

	if (x + (gint)width > COLS)
		width = COLS > x ? (guint)(COLS - x) : 0;
	cell = kl_tui_text_fit_right(text, width, app->ellipsis);
	kl_tui_draw_cell(app, y, x, cell, style);
}

gchar *
kl_tui_format_time(guint64 unix_seconds, gboolean full)
{
	g_autoptr(GDateTime) when = NULL;
	g_autoptr(GDateTime) now = NULL;

	if (unix_seconds == 0 || unix_seconds > G_MAXINT64)
		return g_strdup("-");
	when = g_date_time_new_from_unix_local((gint64)unix_seconds);
	if (when == NULL)
		return g_strdup("-");
	if (full)
		return g_date_time_format(when, "%Y-%m-%d %H:%M:%S");
	now = g_date_time_new_now_local();
	if (g_date_time_get_year(now) == g_date_time_get_year(when) &&
	    g_date_time_get_day_of_year(now) == g_date_time_get_day_of_year(when))
		return g_date_time_format(when, "%H:%M:%S");
	return g_date_time_format(when, "%Y-%m-%d");
}

const gchar *
kl_tui_error_text(const GError *error)
{
	const gchar *text = error->message;

	if (g_str_has_prefix(text, "GDBus.Error:")) {
		const gchar *space = strchr(text, ' ');

		if (space != NULL)
			text = space + 1;
	}
	return text;
}

gboolean
kl_tui_request_to_move(KlTuiRequest request, gint *move)
{
	switch (request) {
	case KL_TUI_REQ_UP:
		*move = KL_TUI_MOVE_UP;
		return TRUE;
	case KL_TUI_REQ_DOWN:
		*move = KL_TUI_MOVE_DOWN;
		return TRUE;
	case KL_TUI_REQ_PAGE_UP:
		*move = KL_TUI_MOVE_PAGE_UP;
		return TRUE;
	case KL_TUI_REQ_PAGE_DOWN:
		*move = KL_TUI_MOVE_PAGE_DOWN;
		return TRUE;
	case KL_TUI_REQ_HOME:
		*move = KL_TUI_MOVE_HOME;
		return TRUE;
	case KL_TUI_REQ_END:
		*move = KL_TUI_MOVE_END;
		return TRUE;
	case KL_TUI_REQ_NONE:
	case KL_TUI_REQ_QUIT:
	case KL_TUI_REQ_HELP:
	case KL_TUI_REQ_BACK:
	case KL_TUI_REQ_VIEW_AGENTS:
	case KL_TUI_REQ_VIEW_EVENTS:
	case KL_TUI_REQ_VIEW_ENROLL:
	case KL_TUI_REQ_OPEN:
	case KL_TUI_REQ_SORT:
	case KL_TUI_REQ_SORT_REVERSE:
	case KL_TUI_REQ_FILTER_STATE:
	case KL_TUI_REQ_FILTER_TEXT:
	case KL_TUI_REQ_STOP:
	case KL_TUI_REQ_REACTIVATE:
	case KL_TUI_REQ_REMOVE:
	case KL_TUI_REQ_PREV_OPTION:
	case KL_TUI_REQ_NEXT_OPTION:
	case KL_TUI_REQ_REVIEW:
	case KL_TUI_REQ_RELOAD:
	default:
		return FALSE;
	}
}

void
kl_tui_draw_dump_plain(KlTuiApp *app)
{
	g_autoptr(GString) frame = g_string_new(NULL);
	g_autofree wchar_t *line = g_new0(wchar_t, (gsize)COLS + 1);

	for (gint y = 0; y < LINES; y++) {
		g_autofree gchar *text = NULL;
		gsize len;

		if (mvinnwstr(y, 0, line, COLS) == ERR)
			line[0] = L'\0';
		/* wchar_t is UCS-4 with glibc */
		text = g_ucs4_to_utf8((const gunichar *)line, -1, NULL, NULL, NULL);
		if (text == NULL)
			text = g_strdup("");
		len = strlen(text);
		while (len > 0 && text[len - 1] == ' ')
			len--;
		/* lines joined, no newline after the last: a frame is exactly
		 * the terminal's height, the next one starts with a newline */
		if (y > 0)
			g_string_append_c(frame, '\n');
		g_string_append_len(frame, text, (gssize)len);
	}
	if (g_strcmp0(frame->str, app->plain_last) == 0)
		return;
	if (app->plain_last != NULL)
		fputc('\n', stdout);
	fputs(frame->str, stdout);
	fflush(stdout);
	g_free(app->plain_last);
	app->plain_last = g_string_free(g_steal_pointer(&frame), FALSE);
}
