/*
 * KlTuiApp: switching views, the title and status lines, coalesced
 * redraws and the dispatch of keys through the key table (see
 * kl-tui-app.h).
 */
#define G_LOG_DOMAIN "KlTui"

#include "config.h"

#include <glib/gi18n.h>

#include "kl-tui-app.h"

static gboolean
kl_tui_app_redraw_cb(gpointer user_data)
{
	KlTuiApp *app = user_data;

	app->redraw_id = 0;
	kl_tui_app_draw(app);
	return G_SOURCE_REMOVE;
}

void
kl_tui_app_queue_redraw(KlTuiApp *app)
{
	if (app->redraw_id == 0)
		app->redraw_id = g_idle_add(kl_tui_app_redraw_cb, app);
}

void
kl_tui_app_switch(KlTuiApp *app, const KlTuiViewOps *view)
{
	if (app->view == view)
		return;
	if (app->view != NULL && app->view->leave != NULL)
		app->view->leave(app);
	if (view == &kl_tui_view_help)
		app->help_return = app->view;
	app->view = view;
	g_clear_pointer(&app->message, g_free);
	if (view->enter != NULL)
		view->enter(app);
	kl_tui_app_queue_redraw(app);
}

void
kl_tui_app_set_message(KlTuiApp *app, gboolean is_error, const gchar *format, ...)
{
	va_list args;

	g_free(app->message);
	va_start(args, format);
	app->message = g_strdup_vprintf(format, args);
	va_end(args);
	app->message_is_error = is_error;
	kl_tui_app_queue_redraw(app);
}

static void
kl_tui_app_draw_title(KlTuiApp *app)
{
	g_autofree gchar *title = NULL;
	const gchar *view = app->view != NULL ? _(app->view->title) : "";

	if (app->client == NULL) {
		title = g_strdup_printf("keylime-tui | %s | %s", view, _("connecting…"));
	} else if (!kl_client_get_connected(app->client)) {
		title = g_strdup_printf("keylime-tui | %s | %s",
					view,
					_("verifier not on the bus"));
	} else {
		guint n_agents = kl_client_get_num_agents(app->client);
		g_autofree gchar *agents =
			g_strdup_printf(ngettext("%u agent", "%u agents", n_agents), n_agents);

		title = g_strdup_printf(_("keylime-tui | %s | verifier %s | %s, %u failed"),
					view,
					kl_client_get_verifier_id(app->client),
					agents,
					kl_client_get_num_failed(app->client));
	}
	kl_tui_draw_text(app, 0, 0, (guint)COLS, title, KL_TUI_STYLE_TITLE);
}

static void
kl_tui_app_draw_status(KlTuiApp *app)
{
	const gchar *hint = app->view != NULL && app->view->hint != NULL ? _(app->view->hint)
									 : _("?:help  q:quit");

	if (app->message != NULL) {
		kl_tui_draw_text(app,
				 LINES - 1,
				 0,
				 (guint)COLS,
				 app->message,
				 app->message_is_error ? KL_TUI_STYLE_ERROR : KL_TUI_STYLE_NORMAL);
		return;
	}
	kl_tui_draw_text(app, LINES - 1, 0, (guint)COLS, hint, KL_TUI_STYLE_NORMAL);
}

void
kl_tui_app_draw(KlTuiApp *app)
{
	erase();
	if (LINES < 3 || COLS < 10) {
		mvaddstr(0, 0, "…");
		refresh();
		return;
	}
	kl_tui_app_draw_title(app);
	if (app->view != NULL && app->client != NULL)
		app->view->draw(app, 1, LINES - 2, COLS);
	kl_tui_app_draw_status(app);
	refresh();
	if (app->plain)
		kl_tui_draw_dump_plain(app);
}

void
kl_tui_app_handle_key(KlTuiApp *app, guint key, gboolean is_key)
{
	KlTuiRequest request = KL_TUI_REQ_NONE;
	KlTuiResult result;

	if (app->view == NULL || app->client == NULL) {
		if (!is_key && key == 'q')
			g_main_loop_quit(app->loop);
		return;
	}
	if (app->view->grabs_keys == NULL || !app->view->grabs_keys(app)) {
		request = kl_tui_keys_lookup(app->view->id, (gint)key);
		/* a character that is also a KEY_* number is not a binding */
		if (!is_key && key >= KEY_MIN && key <= KEY_MAX)
			request = KL_TUI_REQ_NONE;
		if (is_key && key < KEY_MIN)
			request = KL_TUI_REQ_NONE;
	}
	result = app->view->key(app, request, key, is_key);
	if ((result & KL_TUI_RESULT_HANDLED) != 0) {
		if ((result & KL_TUI_RESULT_REDRAW) != 0)
			kl_tui_app_queue_redraw(app);
		return;
	}
	switch (request) {
	case KL_TUI_REQ_QUIT:
		g_main_loop_quit(app->loop);
		break;
	case KL_TUI_REQ_HELP:
		kl_tui_app_switch(app, &kl_tui_view_help);
		break;
	case KL_TUI_REQ_VIEW_AGENTS:
		kl_tui_app_switch(app, &kl_tui_view_agents);
		break;
	case KL_TUI_REQ_VIEW_EVENTS:
		kl_tui_app_switch(app, &kl_tui_view_events);
		break;
	case KL_TUI_REQ_VIEW_ENROLL:
		kl_tui_app_switch(app, &kl_tui_view_enroll);
		break;
	case KL_TUI_REQ_BACK:
		kl_tui_app_switch(app, &kl_tui_view_agents);
		break;
	case KL_TUI_REQ_NONE:
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
	case KL_TUI_REQ_STOP:
	case KL_TUI_REQ_REACTIVATE:
	case KL_TUI_REQ_REMOVE:
	case KL_TUI_REQ_PREV_OPTION:
	case KL_TUI_REQ_NEXT_OPTION:
	case KL_TUI_REQ_REVIEW:
	case KL_TUI_REQ_RELOAD:
	default:
		break;
	}
}
