/*
 * The agent detail view: every property of one agent, its failed IMA
 * entries (GetFailures) and its revocations (GetRevocations), fetched when
 * the view opens and again when the event feed grows; stop, reactivate and
 * remove, each after a y/n question.
 */
#define G_LOG_DOMAIN "KlTui"

#include "config.h"

#include <glib/gi18n.h>

#include "kl-tui-app.h"
#include "kl-tui-layout.h"

#define KL_TUI_DETAIL_MAX_EVENTS 100

struct _KlTuiDetailView {
	KlTuiCursor cursor;
	guint n_rows;
	guint n_lines;		/* at the last draw */
	GPtrArray *failures;	/* KlClientEvent, NULL until fetched */
	GPtrArray *revocations; /* KlClientEvent, NULL until fetched */
	KlTuiRequest pending;	/* the action waiting for y/n */
	GCancellable *cancellable;
	gulong events_id;
	gulong changed_id;
};

static KlTuiDetailView *
kl_tui_detail_get(KlTuiApp *app)
{
	if (app->detail == NULL) {
		app->detail = g_new0(KlTuiDetailView, 1);
		app->detail->n_rows = 1;
	}
	return app->detail;
}

static void
kl_tui_detail_reset(KlTuiApp *app)
{
	KlTuiDetailView *self = kl_tui_detail_get(app);

	if (self->cancellable != NULL)
		g_cancellable_cancel(self->cancellable);
	g_clear_object(&self->cancellable);
	g_clear_pointer(&self->failures, g_ptr_array_unref);
	g_clear_pointer(&self->revocations, g_ptr_array_unref);
	if (self->events_id != 0)
		g_signal_handler_disconnect(kl_client_get_events(app->client), self->events_id);
	if (self->changed_id != 0)
		g_signal_handler_disconnect(app->client, self->changed_id);
	self->events_id = 0;
	self->changed_id = 0;
	self->pending = KL_TUI_REQ_NONE;
}

void
kl_tui_view_detail_free(KlTuiApp *app)
{
	if (app->detail == NULL)
		return;
	kl_tui_detail_reset(app);
	g_clear_pointer(&app->detail, g_free);
}

static void
kl_tui_detail_failures_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	KlTuiApp *app = user_data;
	g_autoptr(GError) error = NULL;
	GPtrArray *events = kl_client_get_failures_finish(KL_CLIENT(source), result, &error);

	if (events == NULL) {
		if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			return;
		kl_tui_app_set_message(app, TRUE, _("Failed IMA entries: %s"), error->message);
		events = g_ptr_array_new();
	}
	g_clear_pointer(&app->detail->failures, g_ptr_array_unref);
	app->detail->failures = events;
	kl_tui_app_queue_redraw(app);
}

static void
kl_tui_detail_revocations_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	KlTuiApp *app = user_data;
	g_autoptr(GError) error = NULL;
	GPtrArray *events = kl_client_get_revocations_finish(KL_CLIENT(source), result, &error);

	if (events == NULL) {
		if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			return;
		kl_tui_app_set_message(app, TRUE, _("Revocations: %s"), error->message);
		events = g_ptr_array_new();
	}
	g_clear_pointer(&app->detail->revocations, g_ptr_array_unref);
	app->detail->revocations = events;
	kl_tui_app_queue_redraw(app);
}

static void
kl_tui_detail_fetch(KlTuiApp *app)
{
	KlTuiDetailView *self = app->detail;

	if (self->cancellable != NULL)
		g_cancellable_cancel(self->cancellable);
	g_clear_object(&self->cancellable);
	self->cancellable = g_cancellable_new();
	kl_client_get_failures_async(app->client,
				     app->detail_agent_id,
				     KL_TUI_DETAIL_MAX_EVENTS,
				     self->cancellable,
				     kl_tui_detail_failures_cb,
				     app);
	kl_client_get_revocations_async(app->client,
					app->detail_agent_id,
					KL_TUI_DETAIL_MAX_EVENTS,
					self->cancellable,
					kl_tui_detail_revocations_cb,
					app);
}

static void
kl_tui_detail_events_changed_cb(GListModel *model,
				guint position,
				guint removed,
				guint added,
				gpointer user_data)
{
	KlTuiApp *app = user_data;

	if (added > 0)
		kl_tui_detail_fetch(app);
}

static void
kl_tui_detail_changed_cb(KlClient *client, gpointer user_data)
{
	kl_tui_app_queue_redraw(user_data);
}

static void
kl_tui_detail_enter(KlTuiApp *app)
{
	KlTuiDetailView *self = kl_tui_detail_get(app);

	kl_tui_detail_reset(app);
	self->cursor.selected = 0;
	self->cursor.top = 0;
	self->events_id = g_signal_connect(kl_client_get_events(app->client),
					   "items-changed",
					   G_CALLBACK(kl_tui_detail_events_changed_cb),
					   app);
	self->changed_id =
		g_signal_connect(app->client, "changed", G_CALLBACK(kl_tui_detail_changed_cb), app);
	kl_tui_detail_fetch(app);
}

static void
kl_tui_detail_leave(KlTuiApp *app)
{
	kl_tui_detail_reset(app);
}

static void
kl_tui_detail_add(GPtrArray *lines, const gchar *label, const gchar *value)
{
	g_ptr_array_add(lines, g_strdup_printf("%-22s %s", label, value));
}

static void
kl_tui_detail_add_events(GPtrArray *lines, const gchar *title, GPtrArray *events)
{
	g_ptr_array_add(lines, g_strdup(""));
	if (events == NULL) {
		g_ptr_array_add(lines, g_strdup_printf("%s: %s", title, _("loading…")));
		return;
	}
	g_ptr_array_add(lines, g_strdup_printf("%s: %u", title, events->len));
	for (guint i = 0; i < events->len; i++) {
		KlClientEvent *event = g_ptr_array_index(events, i);
		g_autofree gchar *when = kl_tui_format_time(kl_client_event_get_time(event), TRUE);
		const gchar *subject = kl_client_event_get_subject(event);

		g_ptr_array_add(lines,
				g_strdup_printf("  %s  %s  %s",
						when,
						subject[0] != '\0' ? subject : "-",
						kl_client_event_get_event_id(event)));
	}
}

/* The view's text, rebuilt on each draw from the live agent. */
static GPtrArray *
kl_tui_detail_lines(KlTuiApp *app, KlClientAgent *agent)
{
	g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *state = NULL;
	g_autofree gchar *address = NULL;
	g_autofree gchar *last = NULL;
	g_autofree gchar *success = NULL;
	g_autofree gchar *count = NULL;
	g_autofree gchar *failures = NULL;
	const gchar *severity;

	state = g_strdup_printf("%s (%u), %s %u",
				kl_client_agent_state_to_label(kl_client_agent_get_state(agent)),
				kl_client_agent_get_state(agent),
				_("reason"),
				kl_client_agent_get_state_reason(agent));
	address = g_strdup_printf("%s:%u",
				  kl_client_agent_get_ip(agent),
				  kl_client_agent_get_port(agent));
	last = kl_tui_format_time(kl_client_agent_get_last_attestation(agent), TRUE);
	success = kl_tui_format_time(kl_client_agent_get_last_success(agent), TRUE);
	count = g_strdup_printf("%" G_GUINT64_FORMAT, kl_client_agent_get_attestation_count(agent));
	failures = g_strdup_printf("%u", kl_client_agent_get_consecutive_failures(agent));
	severity =
		kl_client_severity_to_label(app->client, kl_client_agent_get_severity_level(agent));

	kl_tui_detail_add(lines, _("Agent ID"), kl_client_agent_get_agent_id(agent));
	kl_tui_detail_add(lines, _("State"), state);
	kl_tui_detail_add(lines, _("Address"), address);
	kl_tui_detail_add(lines, _("Last attestation"), last);
	kl_tui_detail_add(lines, _("Last success"), success);
	kl_tui_detail_add(lines, _("Attestations"), count);
	kl_tui_detail_add(lines, _("Consecutive failures"), failures);
	kl_tui_detail_add(lines, _("Severity"), severity[0] != '\0' ? severity : "-");
	kl_tui_detail_add(lines, _("Last event"), kl_client_agent_get_last_event_id(agent));
	kl_tui_detail_add(lines, _("Runtime policy"), kl_client_agent_get_runtime_policy(agent));
	kl_tui_detail_add(lines, _("Measured boot policy"), kl_client_agent_get_mb_policy(agent));
	kl_tui_detail_add(lines, _("Hash algorithm"), kl_client_agent_get_hash_alg(agent));
	kl_tui_detail_add(lines, _("Signing algorithm"), kl_client_agent_get_sign_alg(agent));
	kl_tui_detail_add(lines, _("Encryption algorithm"), kl_client_agent_get_enc_alg(agent));
	kl_tui_detail_add_events(lines, _("Failed IMA entries"), app->detail->failures);
	kl_tui_detail_add_events(lines, _("Revocations"), app->detail->revocations);
	return g_steal_pointer(&lines);
}

static void
kl_tui_detail_draw(KlTuiApp *app, gint top, gint n_rows, gint n_cols)
{
	KlTuiDetailView *self = kl_tui_detail_get(app);
	KlClientAgent *agent = kl_client_lookup_agent(app->client, app->detail_agent_id);
	g_autoptr(GPtrArray) lines = NULL;
	g_autofree gchar *header = NULL;

	header = g_strdup_printf(_("Agent %s"), app->detail_agent_id);
	kl_tui_draw_text(app, top, 0, (guint)n_cols, header, KL_TUI_STYLE_HEADER);
	self->n_rows = n_rows > 1 ? (guint)n_rows - 1 : 1;
	if (agent == NULL) {
		kl_tui_draw_text(app,
				 top + 1,
				 0,
				 (guint)n_cols,
				 _("The verifier does not attest this agent (any more)."),
				 KL_TUI_STYLE_NORMAL);
		return;
	}
	lines = kl_tui_detail_lines(app, agent);
	self->n_lines = lines->len;
	/* the view scrolls as a page: the cursor is its first line */
	self->cursor.selected = MIN(self->cursor.selected,
				    lines->len > self->n_rows ? lines->len - self->n_rows : 0);
	self->cursor.top = self->cursor.selected;
	for (guint i = 0; i < self->n_rows && self->cursor.top + i < lines->len; i++) {
		const gchar *line = g_ptr_array_index(lines, self->cursor.top + i);

		kl_tui_draw_text(app,
				 top + 1 + (gint)i,
				 1,
				 (guint)n_cols - 1,
				 line,
				 KL_TUI_STYLE_NORMAL);
	}
}

typedef struct {
	KlTuiApp *app;
	KlTuiRequest action;
	gchar *agent_id;
} KlTuiDetailAction;

static void
kl_tui_detail_action_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	KlTuiDetailAction *call = user_data;
	KlTuiApp *app = call->app;
	KlClient *client = KL_CLIENT(source);
	g_autoptr(GError) error = NULL;
	gboolean ok = FALSE;

	if (call->action == KL_TUI_REQ_STOP)
		ok = kl_client_stop_agent_finish(client, result, &error);
	else if (call->action == KL_TUI_REQ_REACTIVATE)
		ok = kl_client_reactivate_agent_finish(client, result, &error);
	else
		ok = kl_client_remove_agent_finish(client, result, &error);
	if (!ok) {
		if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			kl_tui_app_set_message(app, TRUE, "%s: %s", call->agent_id, error->message);
	} else if (call->action == KL_TUI_REQ_STOP) {
		kl_tui_app_set_message(app, FALSE, _("Stopped %s."), call->agent_id);
	} else if (call->action == KL_TUI_REQ_REACTIVATE) {
		kl_tui_app_set_message(app, FALSE, _("Reactivated %s."), call->agent_id);
	} else {
		if (app->view == &kl_tui_view_detail &&
		    g_strcmp0(app->detail_agent_id, call->agent_id) == 0)
			kl_tui_app_switch(app, &kl_tui_view_agents);
		kl_tui_app_set_message(app, FALSE, _("Removed %s."), call->agent_id);
	}
	g_free(call->agent_id);
	g_free(call);
}

static void
kl_tui_detail_run(KlTuiApp *app, KlTuiRequest action)
{
	KlTuiDetailAction *call = g_new0(KlTuiDetailAction, 1);

	call->app = app;
	call->action = action;
	call->agent_id = g_strdup(app->detail_agent_id);
	if (action == KL_TUI_REQ_STOP)
		kl_client_stop_agent_async(app->client,
					   call->agent_id,
					   app->cancellable,
					   kl_tui_detail_action_cb,
					   call);
	else if (action == KL_TUI_REQ_REACTIVATE)
		kl_client_reactivate_agent_async(app->client,
						 call->agent_id,
						 app->cancellable,
						 kl_tui_detail_action_cb,
						 call);
	else
		kl_client_remove_agent_async(app->client,
					     call->agent_id,
					     app->cancellable,
					     kl_tui_detail_action_cb,
					     call);
}

static KlTuiResult
kl_tui_detail_key(KlTuiApp *app, KlTuiRequest request, guint key, gboolean is_key)
{
	KlTuiDetailView *self = kl_tui_detail_get(app);
	gint move;

	if (self->pending != KL_TUI_REQ_NONE) {
		KlTuiRequest action = self->pending;

		self->pending = KL_TUI_REQ_NONE;
		g_clear_pointer(&app->message, g_free);
		if (!is_key && (key == 'y' || key == 'Y'))
			kl_tui_detail_run(app, action);
		return KL_TUI_RESULT_HANDLED | KL_TUI_RESULT_REDRAW;
	}
	if (kl_tui_request_to_move(request, &move)) {
		guint max_top = self->n_lines > self->n_rows ? self->n_lines - self->n_rows : 0;

		kl_tui_cursor_move(&self->cursor, (KlTuiMove)move, max_top + 1, self->n_rows);
		return KL_TUI_RESULT_HANDLED | KL_TUI_RESULT_REDRAW;
	}
	if ((request == KL_TUI_REQ_STOP || request == KL_TUI_REQ_REACTIVATE ||
	     request == KL_TUI_REQ_REMOVE) &&
	    !app->may_manage) {
		kl_tui_app_set_message(
			app,
			TRUE,
			_("Not allowed: the verifier would refuse (polkit action %s)."),
			"org.keylime.verifier.manage-agents");
		return KL_TUI_RESULT_HANDLED | KL_TUI_RESULT_REDRAW;
	}
	switch (request) {
	case KL_TUI_REQ_STOP:
		self->pending = request;
		kl_tui_app_set_message(app,
				       FALSE,
				       _("Stop attestation of %s? (y/n)"),
				       app->detail_agent_id);
		return KL_TUI_RESULT_HANDLED;
	case KL_TUI_REQ_REACTIVATE:
		self->pending = request;
		kl_tui_app_set_message(app,
				       FALSE,
				       _("Reactivate attestation of %s? (y/n)"),
				       app->detail_agent_id);
		return KL_TUI_RESULT_HANDLED;
	case KL_TUI_REQ_REMOVE:
		self->pending = request;
		kl_tui_app_set_message(app,
				       FALSE,
				       _("Remove %s from the verifier? (y/n)"),
				       app->detail_agent_id);
		return KL_TUI_RESULT_HANDLED;
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
	case KL_TUI_REQ_OPEN:
	case KL_TUI_REQ_SORT:
	case KL_TUI_REQ_SORT_REVERSE:
	case KL_TUI_REQ_FILTER_STATE:
	case KL_TUI_REQ_FILTER_TEXT:
	case KL_TUI_REQ_PREV_OPTION:
	case KL_TUI_REQ_NEXT_OPTION:
	case KL_TUI_REQ_REVIEW:
	case KL_TUI_REQ_RELOAD:
	default:
		return KL_TUI_RESULT_IGNORED;
	}
}

static gboolean
kl_tui_detail_grabs_keys(KlTuiApp *app)
{
	return app->detail != NULL && app->detail->pending != KL_TUI_REQ_NONE;
}

const KlTuiViewOps kl_tui_view_detail = {
	.id = KL_TUI_VIEW_DETAIL,
	.title = N_("Agent"),
	.hint = N_("s:stop  r:reactivate  D:remove  Esc:back  ?:help  q:quit"),
	.enter = kl_tui_detail_enter,
	.leave = kl_tui_detail_leave,
	.draw = kl_tui_detail_draw,
	.key = kl_tui_detail_key,
	.grabs_keys = kl_tui_detail_grabs_keys,
};
