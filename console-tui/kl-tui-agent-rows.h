/*
 * kl-tui-agent-rows: which agents the agents table shows, and in what
 * order.  A row is a snapshot of the fields the table sorts and filters
 * on (strings borrowed from the KlClientAgent, valid until the list next
 * changes); the view rebuilds the rows when KlClient says "changed".
 * Pure: no ncurses, no D-Bus.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
	const gchar *agent_id;
	const gchar *ip;
	guint port;
	guint state;
	guint64 last_attestation; /* unix seconds, 0 never */
	guint64 attestation_count;
	guint consecutive_failures;
	const gchar *runtime_policy;
	gpointer data; /* the KlClientAgent, borrowed */
} KlTuiAgentRow;

typedef enum {
	KL_TUI_SORT_ID,
	KL_TUI_SORT_STATE,
	KL_TUI_SORT_LAST_ATTESTATION,
	KL_TUI_SORT_FAILURES,
	KL_TUI_SORT_LAST = KL_TUI_SORT_FAILURES,
} KlTuiSortKey;

typedef enum {
	KL_TUI_STATE_FILTER_ALL,
	KL_TUI_STATE_FILTER_ATTESTING, /* Start .. Provide V Retry (1-6) */
	KL_TUI_STATE_FILTER_FAILED,    /* Failed, Invalid Quote, Tenant Quote Failed */
	KL_TUI_STATE_FILTER_OTHER,     /* Registered, Terminated, unknown */
	KL_TUI_STATE_FILTER_LAST = KL_TUI_STATE_FILTER_OTHER,
} KlTuiStateFilter;

/* TRUE for the failed states 7, 9 and 10 (the verifier's NumFailed). */
gboolean kl_tui_agent_state_is_failed(guint state);

/* The translated names shown in the status line. */
const gchar *kl_tui_sort_key_to_label(KlTuiSortKey key);
const gchar *kl_tui_state_filter_to_label(KlTuiStateFilter filter);

/*
 * TRUE when @row passes @filter and contains @text (case-insensitive, in
 * the agent id, the address "ip:port" or the runtime policy name; NULL or
 * "" matches everything).
 */
gboolean
kl_tui_agent_row_matches(const KlTuiAgentRow *row, KlTuiStateFilter filter, const gchar *text);

/*
 * Sorts @rows (an array of KlTuiAgentRow) by @key, ties broken by agent id
 * so that the order is the same on every redraw; @descending reverses the
 * key's order (the ties stay by ascending id).
 */
void kl_tui_agent_rows_sort(GArray *rows, KlTuiSortKey key, gboolean descending);

G_END_DECLS
