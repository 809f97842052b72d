/*
 * kl-tui-agent-rows: sorting and filtering the agents table (see
 * kl-tui-agent-rows.h).
 */
#define G_LOG_DOMAIN "KlTui"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "kl-tui-agent-rows.h"

gboolean
kl_tui_agent_state_is_failed(guint state)
{
	return state == 7 || state == 9 || state == 10;
}

const gchar *
kl_tui_sort_key_to_label(KlTuiSortKey key)
{
	switch (key) {
	case KL_TUI_SORT_ID:
		return _("id");
	case KL_TUI_SORT_STATE:
		return _("state");
	case KL_TUI_SORT_LAST_ATTESTATION:
		return _("last attestation");
	case KL_TUI_SORT_FAILURES:
		return _("failures");
	default:
		return "";
	}
}

const gchar *
kl_tui_state_filter_to_label(KlTuiStateFilter filter)
{
	switch (filter) {
	case KL_TUI_STATE_FILTER_ALL:
		return _("all");
	case KL_TUI_STATE_FILTER_ATTESTING:
		return _("attesting");
	case KL_TUI_STATE_FILTER_FAILED:
		return _("failed");
	case KL_TUI_STATE_FILTER_OTHER:
		return _("other");
	default:
		return "";
	}
}

static gboolean
kl_tui_agent_row_state_passes(guint state, KlTuiStateFilter filter)
{
	switch (filter) {
	case KL_TUI_STATE_FILTER_ALL:
		return TRUE;
	case KL_TUI_STATE_FILTER_ATTESTING:
		return state >= 1 && state <= 6;
	case KL_TUI_STATE_FILTER_FAILED:
		return kl_tui_agent_state_is_failed(state);
	case KL_TUI_STATE_FILTER_OTHER:
		return !(state >= 1 && state <= 6) && !kl_tui_agent_state_is_failed(state);
	default:
		return FALSE;
	}
}

/* Case-insensitive substring search: ASCII needles (the usual case)
 * without allocating, others by Unicode case folding. */
static gboolean
kl_tui_contains(const gchar *haystack, const gchar *needle, gboolean ascii)
{
	g_autofree gchar *folded = NULL;
	g_autofree gchar *needle_folded = NULL;

	if (haystack == NULL || !g_utf8_validate(haystack, -1, NULL))
		return FALSE;
	if (ascii)
		return strcasestr(haystack, needle) != NULL;
	folded = g_utf8_casefold(haystack, -1);
	needle_folded = g_utf8_casefold(needle, -1);
	return strstr(folded, needle_folded) != NULL;
}

static gboolean
kl_tui_is_ascii(const gchar *text)
{
	for (const gchar *p = text; *p != '\0'; p++) {
		if ((guchar)*p >= 0x80)
			return FALSE;
	}
	return TRUE;
}

gboolean
kl_tui_agent_row_matches(const KlTuiAgentRow *row, KlTuiStateFilter filter, const gchar *text)
{
	g_autofree gchar *address = NULL;
	gboolean ascii;

	if (!kl_tui_agent_row_state_passes(row->state, filter))
		return FALSE;
	if (text == NULL || text[0] == '\0')
		return TRUE;
	if (!g_utf8_validate(text, -1, NULL))
		return FALSE;
	ascii = kl_tui_is_ascii(text);
	if (kl_tui_contains(row->agent_id, text, ascii) || kl_tui_contains(row->ip, text, ascii) ||
	    kl_tui_contains(row->runtime_policy, text, ascii))
		return TRUE;
	/* "ip:port" only when the text could span the colon */
	if (strchr(text, ':') == NULL)
		return FALSE;
	address = g_strdup_printf("%s:%u", row->ip != NULL ? row->ip : "", row->port);
	return kl_tui_contains(address, text, ascii);
}

static gint
kl_tui_cmp_u64(guint64 a, guint64 b)
{
	return a < b ? -1 : (a > b ? 1 : 0);
}

static gint
kl_tui_agent_rows_cmp(gconstpointer pa, gconstpointer pb, gpointer user_data)
{
	const KlTuiAgentRow *a = pa;
	const KlTuiAgentRow *b = pb;
	gint key = GPOINTER_TO_INT(user_data);
	gboolean descending = key < 0;
	gint cmp = 0;

	switch ((KlTuiSortKey)(descending ? -key - 1 : key)) {
	case KL_TUI_SORT_ID:
		break;
	case KL_TUI_SORT_STATE:
		cmp = kl_tui_cmp_u64(a->state, b->state);
		break;
	case KL_TUI_SORT_LAST_ATTESTATION:
		cmp = kl_tui_cmp_u64(a->last_attestation, b->last_attestation);
		break;
	case KL_TUI_SORT_FAILURES:
		cmp = kl_tui_cmp_u64(a->consecutive_failures, b->consecutive_failures);
		break;
	default:
		break;
	}
	if (descending)
		cmp = -cmp;
	if (cmp == 0) {
		cmp = g_strcmp0(a->agent_id, b->agent_id);
		if (descending && key == -(gint)KL_TUI_SORT_ID - 1)
			cmp = -cmp;
	}
	return cmp;
}

void
kl_tui_agent_rows_sort(GArray *rows, KlTuiSortKey key, gboolean descending)
{
	gint encoded = descending ? -(gint)key - 1 : (gint)key;

	g_array_sort_with_data(rows, kl_tui_agent_rows_cmp, GINT_TO_POINTER(encoded));
}
