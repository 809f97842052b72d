/*
 * The agents view: the verifier's agents as a table (id, address, state,
 * last attestation, count, failures, runtime policy), sorted and filtered
 * by kl-tui-agent-rows, scrolled by kl-tui-layout.  The rows borrow the
 * agents' strings, which KlClient may replace between two main loop
 * iterations: they are rebuilt before every draw and every key (a few
 * milliseconds for 10 000 agents), and a redraw is scheduled when KlClient
 * says "changed".  Only the rows on screen are drawn.
 */
#define G_LOG_DOMAIN "KlTui"

#include "config.h"

#include <glib/gi18n.h>

#include "kl-tui-agent-rows.h"
#include "kl-tui-app.h"
#include "kl-tui-entry.h"
#include "kl-tui-layout.h"

enum {
	COL_ID,
	COL_ADDRESS,
	COL_STATE,
	COL_LAST,
	COL_COUNT,
	COL_FAILURES,
	COL_POLICY,
	N_COLS,
};

static const KlTuiColumnSpec kl_tui_agents_columns[N_COLS] = {
	[COL_ID] = {12, 3},
	[COL_ADDRESS] = {15, 1},
	[COL_STATE] = {14, 0},
	[COL_LAST] = {8, 0},
	[COL_COUNT] = {6, 0},
	[COL_FAILURES] = {4, 0},
	[COL_POLICY] = {6, 1},
};

/* The marker columns before the table: selection and failure. */
#define KL_TUI_AGENTS_MARKERS 2

struct _KlTuiAgentsView {
	GArray *rows; /* KlTuiAgentRow, filtered and sorted */
	KlTuiCursor cursor;
	KlTuiSortKey sort;
	gboolean descending;
	KlTuiStateFilter filter;
	gchar *text;
	gboolean editing;
	KlTuiEntry entry;
	gchar *selected_id; /* kept across rebuilds */
	gulong changed_id;
	guint n_rows; /* rows on screen at the last draw */
};

static KlTuiAgentsView *
kl_tui_agents_get(KlTuiApp *app)
{
	if (app->agents == NULL) {
		app->agents = g_new0(KlTuiAgentsView, 1);
		app->agents->rows = g_array_new(FALSE, TRUE, sizeof(KlTuiAgentRow));
		app->agents->n_rows = 1;
	}
	return app->agents;
}

void
kl_tui_view_agents_free(KlTuiApp *app)
{
	KlTuiAgentsView *self = app->agents;

	if (self == NULL)
		return;
	if (self->changed_id != 0 && app->client != NULL)
		g_signal_handler_disconnect(app->client, self->changed_id);
	g_array_unref(self->rows);
	g_free(self->text);
	g_free(self->selected_id);
	kl_tui_entry_clear(&self->entry);
	g_clear_pointer(&app->agents, g_free);
}

static void
kl_tui_agents_changed_cb(KlClient *client, gpointer user_data)
{
	KlTuiApp *app = user_data;

	if (app->view == &kl_tui_view_agents)
		kl_tui_app_queue_redraw(app);
}

static void
kl_tui_agents_rebuild(KlTuiApp *app)
{
	KlTuiAgentsView *self = kl_tui_agents_get(app);
	GListModel *model = kl_client_get_agents(app->client);
	guint n = g_list_model_get_n_items(model);

	g_array_set_size(self->rows, 0);
	for (guint i = 0; i < n; i++) {
		g_autoptr(KlClientAgent) agent = g_list_model_get_item(model, i);
		KlTuiAgentRow row = {
			.agent_id = kl_client_agent_get_agent_id(agent),
			.ip = kl_client_agent_get_ip(agent),
			.port = kl_client_agent_get_port(agent),
			.state = kl_client_agent_get_state(agent),
			.last_attestation = kl_client_agent_get_last_attestation(agent),
			.attestation_count = kl_client_agent_get_attestation_count(agent),
			.consecutive_failures = kl_client_agent_get_consecutive_failures(agent),
			.runtime_policy = kl_client_agent_get_runtime_policy(agent),
			.data = agent, /* the model keeps it alive */
		};
		if (kl_tui_agent_row_matches(&row, self->filter, self->text))
			g_array_append_val(self->rows, row);
	}
	kl_tui_agent_rows_sort(self->rows, self->sort, self->descending);
	/* keep the same agent selected when it is still there */
	if (self->selected_id != NULL) {
		for (guint i = 0; i < self->rows->len; i++) {
			KlTuiAgentRow *row = &g_array_index(self->rows, KlTuiAgentRow, i);

			if (g_strcmp0(row->agent_id, self->selected_id) == 0) {
				self->cursor.selected = i;
				break;
			}
		}
	}
	kl_tui_cursor_clamp(&self->cursor, self->rows->len, self->n_rows);
}

static void
kl_tui_agents_remember_selection(KlTuiAgentsView *self)
{
	g_clear_pointer(&self->selected_id, g_free);
	if (self->cursor.selected < self->rows->len) {
		KlTuiAgentRow *row =
			&g_array_index(self->rows, KlTuiAgentRow, self->cursor.selected);

		self->selected_id = g_strdup(row->agent_id);
	}
}

static void
kl_tui_agents_enter(KlTuiApp *app)
{
	KlTuiAgentsView *self = kl_tui_agents_get(app);

	if (self->changed_id == 0)
		self->changed_id = g_signal_connect(app->client,
						    "changed",
						    G_CALLBACK(kl_tui_agents_changed_cb),
						    app);
}

static void
kl_tui_agents_draw_row(KlTuiApp *app,
		       gint y,
		       const guint *widths,
		       const KlTuiAgentRow *row,
		       gboolean selected)
{
	gboolean failed = kl_tui_agent_state_is_failed(row->state);
	KlTuiStyle style = selected ? KL_TUI_STYLE_SELECTED
			   : failed ? KL_TUI_STYLE_FAILED
				    : KL_TUI_STYLE_NORMAL;
	g_autofree gchar *address = g_strdup_printf("%s:%u", row->ip, row->port);
	g_autofree gchar *last = kl_tui_format_time(row->last_attestation, FALSE);
	g_autofree gchar *count = g_strdup_printf("%" G_GUINT64_FORMAT, row->attestation_count);
	g_autofree gchar *failures = g_strdup_printf("%u", row->consecutive_failures);
	gint x = KL_TUI_AGENTS_MARKERS;
	const gchar *cells[N_COLS] = {
		[COL_ID] = row->agent_id,
		[COL_ADDRESS] = address,
		[COL_STATE] = kl_client_agent_state_to_label(row->state),
		[COL_LAST] = last,
		[COL_COUNT] = count,
		[COL_FAILURES] = failures,
		[COL_POLICY] = row->runtime_policy,
	};

	/* plain markers, readable on a terminal without attributes */
	kl_tui_draw_text(app, y, 0, 1, selected ? ">" : " ", style);
	kl_tui_draw_text(app, y, 1, 1, failed ? "!" : " ", style);
	for (guint c = 0; c < N_COLS; c++) {
		if (c == COL_COUNT || c == COL_FAILURES)
			kl_tui_draw_text_right(app, y, x, widths[c], cells[c], style);
		else
			kl_tui_draw_text(app, y, x, widths[c], cells[c], style);
		x += (gint)widths[c];
		if (c + 1 < N_COLS) {
			kl_tui_draw_text(app, y, x, 1, " ", style);
			x++;
		}
	}
}

static void
kl_tui_agents_draw(KlTuiApp *app, gint top, gint n_rows, gint n_cols)
{
	KlTuiAgentsView *self = kl_tui_agents_get(app);
	guint widths[N_COLS];
	const gchar *titles[N_COLS] = {
		[COL_ID] = _("Agent ID"),
		[COL_ADDRESS] = _("Address"),
		[COL_STATE] = _("State"),
		[COL_LAST] = _("Last"),
		[COL_COUNT] = _("Count"),
		[COL_FAILURES] = _("Fail"),
		[COL_POLICY] = _("Policy"),
	};
	g_autofree gchar *summary = NULL;
	gint x = KL_TUI_AGENTS_MARKERS;
	guint list_rows = n_rows > 2 ? (guint)n_rows - 2 : 1;

	self->n_rows = list_rows;
	kl_tui_agents_rebuild(app);
	kl_tui_cursor_clamp(&self->cursor, self->rows->len, list_rows);

	kl_tui_layout_columns(kl_tui_agents_columns,
			      N_COLS,
			      (guint)MAX(n_cols - KL_TUI_AGENTS_MARKERS, 0),
			      widths);
	kl_tui_draw_text(app, top, 0, KL_TUI_AGENTS_MARKERS, "", KL_TUI_STYLE_HEADER);
	for (guint c = 0; c < N_COLS; c++) {
		kl_tui_draw_text(app, top, x, widths[c] + 1, titles[c], KL_TUI_STYLE_HEADER);
		x += (gint)widths[c] + 1;
	}
	for (guint i = 0; i < list_rows; i++) {
		guint index = self->cursor.top + i;

		if (index >= self->rows->len)
			break;
		kl_tui_agents_draw_row(app,
				       top + 1 + (gint)i,
				       widths,
				       &g_array_index(self->rows, KlTuiAgentRow, index),
				       index == self->cursor.selected);
	}
	if (self->rows->len == 0)
		kl_tui_draw_text(app,
				 top + 1,
				 2,
				 (guint)n_cols - 2,
				 _("No agents (3 enrolls one)."),
				 KL_TUI_STYLE_NORMAL);
	if (self->editing) {
		summary = g_strdup_printf(_("Filter: %s_"), self->entry.text->str);
	} else {
		summary = g_strdup_printf(
			_("%u of %u shown | sort: %s%s | state: %s | text: %s"),
			self->rows->len,
			g_list_model_get_n_items(kl_client_get_agents(app->client)),
			kl_tui_sort_key_to_label(self->sort),
			self->descending ? _(" (reversed)") : "",
			kl_tui_state_filter_to_label(self->filter),
			self->text != NULL && self->text[0] != '\0' ? self->text : "-");
	}
	kl_tui_draw_text(app, top + n_rows - 1, 0, (guint)n_cols, summary, KL_TUI_STYLE_NORMAL);
}

static KlTuiResult
kl_tui_agents_key_editing(KlTuiApp *app, guint key, gboolean is_key)
{
	KlTuiAgentsView *self = app->agents;

	switch (kl_tui_entry_key(&self->entry, key, is_key)) {
	case KL_TUI_ENTRY_EDITING:
		break;
	case KL_TUI_ENTRY_DONE:
	case KL_TUI_ENTRY_CANCEL:
	default:
		self->editing = FALSE;
		break;
	}
	/* the filter follows the typing */
	g_free(self->text);
	self->text = g_strdup(self->entry.text->str);
	return KL_TUI_RESULT_HANDLED | KL_TUI_RESULT_REDRAW;
}

static KlTuiResult
kl_tui_agents_key(KlTuiApp *app, KlTuiRequest request, guint key, gboolean is_key)
{
	KlTuiAgentsView *self = kl_tui_agents_get(app);
	gint move;

	if (self->editing)
		return kl_tui_agents_key_editing(app, key, is_key);
	kl_tui_agents_rebuild(app);
	if (kl_tui_request_to_move(request, &move)) {
		kl_tui_cursor_move(&self->cursor, (KlTuiMove)move, self->rows->len, self->n_rows);
		kl_tui_agents_remember_selection(self);
		return KL_TUI_RESULT_HANDLED | KL_TUI_RESULT_REDRAW;
	}
	switch (request) {
	case KL_TUI_REQ_OPEN:
		if (self->cursor.selected >= self->rows->len)
			return KL_TUI_RESULT_HANDLED;
		kl_tui_agents_remember_selection(self);
		g_free(app->detail_agent_id);
		app->detail_agent_id = g_strdup(self->selected_id);
		kl_tui_app_switch(app, &kl_tui_view_detail);
		return KL_TUI_RESULT_HANDLED;
	case KL_TUI_REQ_SORT:
		self->sort = self->sort == KL_TUI_SORT_LAST ? KL_TUI_SORT_ID : self->sort + 1;
		return KL_TUI_RESULT_HANDLED | KL_TUI_RESULT_REDRAW;
	case KL_TUI_REQ_SORT_REVERSE:
		self->descending = !self->descending;
		return KL_TUI_RESULT_HANDLED | KL_TUI_RESULT_REDRAW;
	case KL_TUI_REQ_FILTER_STATE:
		self->filter = self->filter == KL_TUI_STATE_FILTER_LAST ? KL_TUI_STATE_FILTER_ALL
									: self->filter + 1;
		return KL_TUI_RESULT_HANDLED | KL_TUI_RESULT_REDRAW;
	case KL_TUI_REQ_FILTER_TEXT:
		kl_tui_entry_begin(&self->entry, self->text, 64);
		self->editing = TRUE;
		return KL_TUI_RESULT_HANDLED | KL_TUI_RESULT_REDRAW;
	case KL_TUI_REQ_NONE:
	case KL_TUI_REQ_QUIT:
	case KL_TUI_REQ_HELP:
	case KL_TUI_REQ_BACK:
	case KL_TUI_REQ_VIEW_AGENTS:
	case KL_TUI_REQ_VIEW_EVENTS:
	case KL_TUI_REQ_VIEW_ENROLL:
	case KL_TUI_REQ_UP:
	case KL_TUI_REQ_DOWN:
	case KL_TUI_REQ_PAGE_UP:
	case KL_TUI_REQ_PAGE_DOWN:
	case KL_TUI_REQ_HOME:
	case KL_TUI_REQ_END:
	case KL_TUI_REQ_STOP:
	case KL_TUI_REQ_REACTIVATE:
	case KL_TUI_REQ_REMOVE:
	case KL_TUI_REQ_PREV_OPTION:
	case KL_TUI_REQ_NEXT_OPTION:
	case KL_TUI_REQ_REVIEW:
	case KL_TUI_REQ_RELOAD:
	default:
		return KL_TUI_RESULT_IGNORED;
	}
}

static gboolean
kl_tui_agents_grabs_keys(KlTuiApp *app)
{
	return app->agents != NULL && app->agents->editing;
}

const KlTuiViewOps kl_tui_view_agents = {
	.id = KL_TUI_VIEW_AGENTS,
	.title = N_("Agents"),
	.hint = N_("Enter:open  /:filter  f:state  o:sort  2:events  3:enroll  ?:help"),
	.enter = kl_tui_agents_enter,
	.draw = kl_tui_agents_draw,
	.key = kl_tui_agents_key,
	.grabs_keys = kl_tui_agents_grabs_keys,
};
