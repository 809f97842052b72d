/*
 * KlTuiApp: keylime-tui's shared state — the KlClient, the current view,
 * the status line and the redraw scheduling — and the ops table every
 * view fills in (tig's view_ops, htop's handler results).  The main loop
 * is GLib's: keys arrive through a stdin GSource, resizes through
 * SIGWINCH, and every change schedules one coalesced redraw.
 */
#pragma once

#include <curses.h>

#include <gio/gio.h>

#include "kl-client.h"
#include "kl-tui-keys.h"

G_BEGIN_DECLS

typedef struct _KlTuiApp KlTuiApp;

typedef enum {
	KL_TUI_RESULT_IGNORED = 0,
	KL_TUI_RESULT_HANDLED = 1 << 0,
	KL_TUI_RESULT_REDRAW = 1 << 1,
} KlTuiResult;

typedef struct {
	KlTuiViewId id;
	const gchar *title; /* N_() */
	const gchar *hint;  /* N_(): the status line's key summary */
	void (*enter)(KlTuiApp *app);
	void (*leave)(KlTuiApp *app);
	/* draws rows [top, top + n_rows) of the screen, @n_cols wide */
	void (*draw)(KlTuiApp *app, gint top, gint n_rows, gint n_cols);
	/* @request from the key table, or KL_TUI_REQ_NONE with the raw key */
	KlTuiResult (*key)(KlTuiApp *app, KlTuiRequest request, guint key, gboolean is_key);
	/* TRUE while keys go to the view raw (a text entry or a question) */
	gboolean (*grabs_keys)(KlTuiApp *app);
} KlTuiViewOps;

/* The views' own states, each defined in its kl-tui-view-*.c. */
typedef struct _KlTuiAgentsView KlTuiAgentsView;
typedef struct _KlTuiDetailView KlTuiDetailView;
typedef struct _KlTuiEventsView KlTuiEventsView;
typedef struct _KlTuiEnrollView KlTuiEnrollView;
typedef struct _KlTuiHelpView KlTuiHelpView;

struct _KlTuiApp {
	KlClient *client; /* NULL until connected */
	GMainLoop *loop;
	GCancellable *cancellable;
	const KlTuiViewOps *view;
	const KlTuiViewOps *help_return; /* the view the help screen came from */
	guint redraw_id;
	gboolean colors;
	/* a terminal without cursor addressing (TERM=dumb): ncurses draws on
	 * /dev/null and each changed frame is written out as plain lines */
	gboolean plain;
	gchar *plain_last;     /* the last frame written */
	const gchar *ellipsis; /* "…" in a UTF-8 locale, "~" otherwise */
	gchar *message;	       /* the status line's message, NULL for the key hints */
	gboolean message_is_error;
	gchar *detail_agent_id; /* the agent the detail view shows */
	/* FALSE once kl_client_check_authorization said the verifier would
	 * refuse org.keylime.verifier.manage-agents (stop, reactivate, remove) */
	gboolean may_manage;
	KlTuiAgentsView *agents;
	KlTuiDetailView *detail;
	KlTuiEventsView *events;
	KlTuiEnrollView *enroll;
	KlTuiHelpView *help;
};

extern const KlTuiViewOps kl_tui_view_agents;
extern const KlTuiViewOps kl_tui_view_detail;
extern const KlTuiViewOps kl_tui_view_events;
extern const KlTuiViewOps kl_tui_view_enroll;
extern const KlTuiViewOps kl_tui_view_help;

/* Each view frees its state (called once at exit). */
void kl_tui_view_agents_free(KlTuiApp *app);
void kl_tui_view_detail_free(KlTuiApp *app);
void kl_tui_view_events_free(KlTuiApp *app);
void kl_tui_view_enroll_free(KlTuiApp *app);
void kl_tui_view_help_free(KlTuiApp *app);

/* kl-tui-app.c */
void kl_tui_app_queue_redraw(KlTuiApp *app);
void kl_tui_app_switch(KlTuiApp *app, const KlTuiViewOps *view);
void kl_tui_app_set_message(KlTuiApp *app, gboolean is_error, const gchar *format, ...)
	G_GNUC_PRINTF(3, 4);
void kl_tui_app_draw(KlTuiApp *app);
void kl_tui_app_handle_key(KlTuiApp *app, guint key, gboolean is_key);

/* kl-tui-draw.c: drawing helpers on stdscr */
typedef enum {
	KL_TUI_STYLE_NORMAL,
	KL_TUI_STYLE_HEADER,
	KL_TUI_STYLE_SELECTED,
	KL_TUI_STYLE_FAILED,
	KL_TUI_STYLE_TITLE,
	KL_TUI_STYLE_ERROR,
} KlTuiStyle;

void kl_tui_draw_init_colors(KlTuiApp *app);
/* plain mode: writes stdscr's text to standard output when it changed */
void kl_tui_draw_dump_plain(KlTuiApp *app);
/* @text cut or padded to @width columns at (@y, @x) */
void
kl_tui_draw_text(KlTuiApp *app, gint y, gint x, guint width, const gchar *text, KlTuiStyle style);
void kl_tui_draw_text_right(KlTuiApp *app,
			    gint y,
			    gint x,
			    guint width,
			    const gchar *text,
			    KlTuiStyle style);
/* "HH:MM:SS" today, "YYYY-MM-DD" before, "-" for never (0) */
gchar *kl_tui_format_time(guint64 unix_seconds, gboolean full);
/* KL_TUI_REQ_UP .. END as a cursor move on a list; FALSE for others */
gboolean kl_tui_request_to_move(KlTuiRequest request, gint *move);
/* the error text without GDBus's remote error prefix */
const gchar *kl_tui_error_text(const GError *error);

G_END_DECLS
