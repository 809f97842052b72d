/*
 * The events view: the verifier's event feed (kl_client_get_events():
 * failed attestations, IMA findings and revocations), newest first and
 * live — a redraw is scheduled whenever the feed grows.
 */
#define G_LOG_DOMAIN "KlTui"

#include "config.h"

#include <glib/gi18n.h>

#include "kl-tui-app.h"
#include "kl-tui-layout.h"

enum {
	COL_TIME,
	COL_KIND,
	COL_AGENT,
	COL_SEVERITY,
	COL_SUBJECT,
	N_COLS,
};

static const KlTuiColumnSpec kl_tui_events_columns[N_COLS] = {
	[COL_TIME] = {8, 0},
	[COL_KIND] = {10, 0},
	[COL_AGENT] = {12, 2},
	[COL_SEVERITY] = {9, 0},
	[COL_SUBJECT] = {10, 3},
};

struct _KlTuiEventsView {
	KlTuiCursor cursor;
	guint n_rows;
	gulong items_id;
};

static KlTuiEventsView *
kl_tui_events_get(KlTuiApp *app)
{
	if (app->events == NULL) {
		app->events = g_new0(KlTuiEventsView, 1);
		app->events->n_rows = 1;
	}
	return app->events;
}

static void
kl_tui_events_items_changed_cb(GListModel *model,
			       guint position,
			       guint removed,
			       guint added,
			       gpointer user_data)
{
	KlTuiApp *app = user_data;

	/* keep the selected event selected as newer ones arrive on top */
	if (app->events->cursor.selected > 0 && position == 0)
		app->events->cursor.selected += added;
	if (app->view == &kl_tui_view_events)
		kl_tui_app_queue_redraw(app);
}

static void
kl_tui_events_enter(KlTuiApp *app)
{
	KlTuiEventsView *self = kl_tui_events_get(app);

	if (self->items_id == 0)
		self->items_id = g_signal_connect(kl_client_get_events(app->client),
						  "items-changed",
						  G_CALLBACK(kl_tui_events_items_changed_cb),
						  app);
}

void
kl_tui_view_events_free(KlTuiApp *app)
{
	if (app->events == NULL)
		return;
	if (app->events->items_id != 0 && app->client != NULL)
		g_signal_handler_disconnect(kl_client_get_events(app->client),
					    app->events->items_id);
	g_clear_pointer(&app->events, g_free);
}

static void
kl_tui_events_draw(KlTuiApp *app, gint top, gint n_rows, gint n_cols)
{
	KlTuiEventsView *self = kl_tui_events_get(app);
	GListModel *model = kl_client_get_events(app->client);
	guint n_items = g_list_model_get_n_items(model);
	guint widths[N_COLS];
	const gchar *titles[N_COLS] = {
		[COL_TIME] = _("Time"),
		[COL_KIND] = _("Kind"),
		[COL_AGENT] = _("Agent"),
		[COL_SEVERITY] = _("Severity"),
		[COL_SUBJECT] = _("Subject"),
	};
	gint x = 2;

	self->n_rows = n_rows > 1 ? (guint)n_rows - 1 : 1;
	kl_tui_cursor_clamp(&self->cursor, n_items, self->n_rows);
	kl_tui_layout_columns(kl_tui_events_columns, N_COLS, (guint)MAX(n_cols - 2, 0), widths);
	kl_tui_draw_text(app, top, 0, 2, "", KL_TUI_STYLE_HEADER);
	for (guint c = 0; c < N_COLS; c++) {
		kl_tui_draw_text(app, top, x, widths[c] + 1, titles[c], KL_TUI_STYLE_HEADER);
		x += (gint)widths[c] + 1;
	}
	if (n_items == 0)
		kl_tui_draw_text(app,
				 top + 1,
				 2,
				 (guint)n_cols - 2,
				 _("No events."),
				 KL_TUI_STYLE_NORMAL);
	for (guint i = 0; i < self->n_rows && self->cursor.top + i < n_items; i++) {
		guint index = self->cursor.top + i;
		g_autoptr(KlClientEvent) event = g_list_model_get_item(model, index);
		g_autofree gchar *when = kl_tui_format_time(kl_client_event_get_time(event), FALSE);
		gboolean selected = index == self->cursor.selected;
		KlTuiStyle style = selected ? KL_TUI_STYLE_SELECTED : KL_TUI_STYLE_NORMAL;
		const gchar *severity = kl_client_event_get_severity_label(event);
		const gchar *subject = kl_client_event_get_subject(event);
		const gchar *cells[N_COLS] = {
			[COL_TIME] = when,
			[COL_KIND] = kl_client_event_get_kind(event) == KL_CLIENT_EVENT_REVOCATION
					     ? _("revocation")
					     : _("finding"),
			[COL_AGENT] = kl_client_event_get_agent_id(event),
			[COL_SEVERITY] = severity[0] != '\0' ? severity : "-",
			[COL_SUBJECT] = subject[0] != '\0' ? subject
							   : kl_client_event_get_event_id(event),
		};
		gint y = top + 1 + (gint)i;

		x = 2;
		kl_tui_draw_text(app, y, 0, 2, selected ? ">" : " ", style);
		for (guint c = 0; c < N_COLS; c++) {
			kl_tui_draw_text(app, y, x, widths[c], cells[c], style);
			kl_tui_draw_text(app, y, x + (gint)widths[c], 1, " ", style);
			x += (gint)widths[c] + 1;
		}
	}
}

static KlTuiResult
kl_tui_events_key(KlTuiApp *app, KlTuiRequest request, guint key, gboolean is_key)
{
	KlTuiEventsView *self = kl_tui_events_get(app);
	gint move;

	if (!kl_tui_request_to_move(request, &move))
		return KL_TUI_RESULT_IGNORED;
	kl_tui_cursor_move(&self->cursor,
			   (KlTuiMove)move,
			   g_list_model_get_n_items(kl_client_get_events(app->client)),
			   self->n_rows);
	return KL_TUI_RESULT_HANDLED | KL_TUI_RESULT_REDRAW;
}

const KlTuiViewOps kl_tui_view_events = {
	.id = KL_TUI_VIEW_EVENTS,
	.title = N_("Events"),
	.hint = N_("j/k:move  Esc:back  1:agents  ?:help  q:quit"),
	.enter = kl_tui_events_enter,
	.draw = kl_tui_events_draw,
	.key = kl_tui_events_key,
};
