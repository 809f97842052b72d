/*
 * The help screen (?): generated from the key table (kl-tui-keys) for the
 * view it was opened from, then the keys every view shares.
 */
#define G_LOG_DOMAIN "KlTui"

#include "config.h"

#include <glib/gi18n.h>

#include "kl-tui-app.h"
#include "kl-tui-layout.h"

#define KL_TUI_HELP_KEY_WIDTH 16

struct _KlTuiHelpView {
	KlTuiCursor cursor;
	guint n_rows;
};

void
kl_tui_view_help_free(KlTuiApp *app)
{
	g_clear_pointer(&app->help, g_free);
}

static GPtrArray *
kl_tui_help_lines(KlTuiApp *app)
{
	const KlTuiViewOps *from = app->help_return != NULL ? app->help_return
							    : &kl_tui_view_agents;
	g_autoptr(GPtrArray) lines = kl_tui_keys_help_lines(from->id, KL_TUI_HELP_KEY_WIDTH);

	g_ptr_array_insert(lines, 0, g_strdup_printf(_("Keys of the %s view:"), _(from->title)));
	return g_steal_pointer(&lines);
}

static void
kl_tui_help_draw(KlTuiApp *app, gint top, gint n_rows, gint n_cols)
{
	KlTuiHelpView *self = app->help;
	g_autoptr(GPtrArray) lines = kl_tui_help_lines(app);

	if (self == NULL)
		self = app->help = g_new0(KlTuiHelpView, 1);
	self->n_rows = (guint)MAX(n_rows, 1);
	kl_tui_cursor_clamp(&self->cursor, lines->len, self->n_rows);
	/* the help scrolls as a page: the selection is its first line */
	self->cursor.top = MIN(self->cursor.selected,
			       lines->len > self->n_rows ? lines->len - self->n_rows : 0);
	for (guint i = 0; i < self->n_rows && self->cursor.top + i < lines->len; i++)
		kl_tui_draw_text(app,
				 top + (gint)i,
				 1,
				 (guint)n_cols - 1,
				 g_ptr_array_index(lines, self->cursor.top + i),
				 i == 0 && self->cursor.top == 0 ? KL_TUI_STYLE_HEADER
								 : KL_TUI_STYLE_NORMAL);
}

static KlTuiResult
kl_tui_help_key(KlTuiApp *app, KlTuiRequest request, guint key, gboolean is_key)
{
	gint move;

	if (request == KL_TUI_REQ_BACK || request == KL_TUI_REQ_HELP) {
		kl_tui_app_switch(app,
				  app->help_return != NULL ? app->help_return
							   : &kl_tui_view_agents);
		return KL_TUI_RESULT_HANDLED;
	}
	if (app->help != NULL && kl_tui_request_to_move(request, &move)) {
		g_autoptr(GPtrArray) lines = kl_tui_help_lines(app);
		guint max_top = lines->len > app->help->n_rows ? lines->len - app->help->n_rows : 0;

		kl_tui_cursor_move(&app->help->cursor,
				   (KlTuiMove)move,
				   max_top + 1,
				   app->help->n_rows);
		return KL_TUI_RESULT_HANDLED | KL_TUI_RESULT_REDRAW;
	}
	return KL_TUI_RESULT_IGNORED;
}

static void
kl_tui_help_enter(KlTuiApp *app)
{
	if (app->help == NULL)
		app->help = g_new0(KlTuiHelpView, 1);
	app->help->cursor.selected = 0;
	app->help->cursor.top = 0;
}

const KlTuiViewOps kl_tui_view_help = {
	.id = KL_TUI_VIEW_HELP,
	.title = N_("Help"),
	.hint = N_("j/k:scroll  Esc:back  q:quit"),
	.enter = kl_tui_help_enter,
	.draw = kl_tui_help_draw,
	.key = kl_tui_help_key,
};
