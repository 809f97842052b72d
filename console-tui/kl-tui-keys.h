/*
 * kl-tui-keys: every key binding of keylime-tui, declared once in one
 * table (key, views, request, help text).  The views look requests up
 * here, and the help screen (?) is generated from the same table, so that
 * it cannot disagree with what the keys do.  Pure: no ncurses calls (only
 * its KEY_* numbers).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The views, as bits so that a binding can belong to several. */
typedef enum {
	KL_TUI_VIEW_AGENTS = 1 << 0,
	KL_TUI_VIEW_DETAIL = 1 << 1,
	KL_TUI_VIEW_EVENTS = 1 << 2,
	KL_TUI_VIEW_ENROLL = 1 << 3,
	KL_TUI_VIEW_HELP = 1 << 4,
} KlTuiViewId;

#define KL_TUI_VIEW_ALL                                                                      \
	(KL_TUI_VIEW_AGENTS | KL_TUI_VIEW_DETAIL | KL_TUI_VIEW_EVENTS | KL_TUI_VIEW_ENROLL | \
	 KL_TUI_VIEW_HELP)
#define KL_TUI_VIEW_LISTS (KL_TUI_VIEW_ALL)

typedef enum {
	KL_TUI_REQ_NONE,
	KL_TUI_REQ_QUIT,
	KL_TUI_REQ_HELP,
	KL_TUI_REQ_BACK,
	KL_TUI_REQ_VIEW_AGENTS,
	KL_TUI_REQ_VIEW_EVENTS,
	KL_TUI_REQ_VIEW_ENROLL,
	KL_TUI_REQ_UP,
	KL_TUI_REQ_DOWN,
	KL_TUI_REQ_PAGE_UP,
	KL_TUI_REQ_PAGE_DOWN,
	KL_TUI_REQ_HOME,
	KL_TUI_REQ_END,
	KL_TUI_REQ_OPEN,
	KL_TUI_REQ_SORT,
	KL_TUI_REQ_SORT_REVERSE,
	KL_TUI_REQ_FILTER_STATE,
	KL_TUI_REQ_FILTER_TEXT,
	KL_TUI_REQ_STOP,
	KL_TUI_REQ_REACTIVATE,
	KL_TUI_REQ_REMOVE,
	KL_TUI_REQ_PREV_OPTION,
	KL_TUI_REQ_NEXT_OPTION,
	KL_TUI_REQ_REVIEW,
	KL_TUI_REQ_RELOAD,
} KlTuiRequest;

typedef struct {
	gint key;    /* a character or an ncurses KEY_* code */
	guint views; /* KlTuiViewId bits */
	KlTuiRequest request;
	const gchar *help; /* N_() text, untranslated */
} KlTuiBinding;

/* The request @key makes in @view, KL_TUI_REQ_NONE when unbound. */
KlTuiRequest kl_tui_keys_lookup(KlTuiViewId view, gint key);

/* The whole table, in the order the help screen lists it. */
const KlTuiBinding *kl_tui_keys_get_bindings(guint *n_bindings);

/* "j", "Down", "Enter", "PgDn", "Esc", ... */
gchar *kl_tui_keys_name(gint key);

/*
 * The help screen's lines for @view: one per request bound in it, its keys
 * joined by ", " in a column @key_width wide, then the translated help.
 */
GPtrArray *kl_tui_keys_help_lines(KlTuiViewId view, guint key_width);

G_END_DECLS
