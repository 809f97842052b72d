/*
 * kl-tui-keys: the key table and the help screen made from it (see
 * kl-tui-keys.h).
 */
#define G_LOG_DOMAIN "KlTui"

#include "config.h"

#include <curses.h>

#include <glib/gi18n.h>

#include "kl-tui-keys.h"
#include "kl-tui-text.h"

#define KL_TUI_KEY_ESC 27

#define ALL	KL_TUI_VIEW_ALL
#define AGENTS	KL_TUI_VIEW_AGENTS
#define DETAIL	KL_TUI_VIEW_DETAIL
#define EVENTS	KL_TUI_VIEW_EVENTS
#define ENROLL	KL_TUI_VIEW_ENROLL
#define HELP	KL_TUI_VIEW_HELP
#define SCROLLS (AGENTS | DETAIL | EVENTS | HELP)

static const KlTuiBinding kl_tui_bindings[] = {
	{'?', ALL, KL_TUI_REQ_HELP, N_("Show this help")},
	{'q', ALL, KL_TUI_REQ_QUIT, N_("Quit")},
	{KL_TUI_KEY_ESC, DETAIL | EVENTS | ENROLL | HELP, KL_TUI_REQ_BACK, N_("Go back")},
	{KEY_BACKSPACE, DETAIL | EVENTS | HELP, KL_TUI_REQ_BACK, N_("Go back")},
	{'1', ALL, KL_TUI_REQ_VIEW_AGENTS, N_("Agents")},
	{'2', ALL, KL_TUI_REQ_VIEW_EVENTS, N_("Events")},
	{'3', ALL, KL_TUI_REQ_VIEW_ENROLL, N_("Enroll an agent")},
	{'k', SCROLLS | ENROLL, KL_TUI_REQ_UP, N_("Move up")},
	{KEY_UP, SCROLLS | ENROLL, KL_TUI_REQ_UP, N_("Move up")},
	{'j', SCROLLS | ENROLL, KL_TUI_REQ_DOWN, N_("Move down")},
	{KEY_DOWN, SCROLLS | ENROLL, KL_TUI_REQ_DOWN, N_("Move down")},
	{'\t', ENROLL, KL_TUI_REQ_DOWN, N_("Move down")},
	{KEY_PPAGE, SCROLLS, KL_TUI_REQ_PAGE_UP, N_("Page up")},
	{KEY_NPAGE, SCROLLS, KL_TUI_REQ_PAGE_DOWN, N_("Page down")},
	{' ', SCROLLS, KL_TUI_REQ_PAGE_DOWN, N_("Page down")},
	{'g', SCROLLS, KL_TUI_REQ_HOME, N_("First line")},
	{KEY_HOME, SCROLLS, KL_TUI_REQ_HOME, N_("First line")},
	{'G', SCROLLS, KL_TUI_REQ_END, N_("Last line")},
	{KEY_END, SCROLLS, KL_TUI_REQ_END, N_("Last line")},
	{'\n', AGENTS | ENROLL, KL_TUI_REQ_OPEN, N_("Open the agent / edit the field")},
	{KEY_ENTER, AGENTS | ENROLL, KL_TUI_REQ_OPEN, N_("Open the agent / edit the field")},
	{'o', AGENTS, KL_TUI_REQ_SORT, N_("Sort by the next column")},
	{'O', AGENTS, KL_TUI_REQ_SORT_REVERSE, N_("Reverse the order")},
	{'f',
	 AGENTS,
	 KL_TUI_REQ_FILTER_STATE,
	 N_("Filter by state (all, attesting, failed, other)")},
	{'/', AGENTS, KL_TUI_REQ_FILTER_TEXT, N_("Filter by text (id, address, policy)")},
	{'s', DETAIL, KL_TUI_REQ_STOP, N_("Stop attestation")},
	{'r', DETAIL, KL_TUI_REQ_REACTIVATE, N_("Reactivate attestation")},
	{'D', DETAIL, KL_TUI_REQ_REMOVE, N_("Remove the agent from the verifier")},
	{KEY_LEFT, ENROLL, KL_TUI_REQ_PREV_OPTION, N_("Previous choice")},
	{KEY_RIGHT, ENROLL, KL_TUI_REQ_NEXT_OPTION, N_("Next choice")},
	{'R', ENROLL, KL_TUI_REQ_RELOAD, N_("Reload agents and policies")},
	{'v', ENROLL, KL_TUI_REQ_REVIEW, N_("Review and enroll")},
};

KlTuiRequest
kl_tui_keys_lookup(KlTuiViewId view, gint key)
{
	if (key == '\r')
		key = '\n';
	if (key == 127 || key == 8)
		key = KEY_BACKSPACE;
	for (gsize i = 0; i < G_N_ELEMENTS(kl_tui_bindings); i++) {
		if (kl_tui_bindings[i].key == key && (kl_tui_bindings[i].views & view) != 0)
			return kl_tui_bindings[i].request;
	}
	return KL_TUI_REQ_NONE;
}

const KlTuiBinding *
kl_tui_keys_get_bindings(guint *n_bindings)
{
	*n_bindings = G_N_ELEMENTS(kl_tui_bindings);
	return kl_tui_bindings;
}

gchar *
kl_tui_keys_name(gint key)
{
	switch (key) {
	case '\n':
	case KEY_ENTER:
		return g_strdup(_("Enter"));
	case '\t':
		return g_strdup(_("Tab"));
	case ' ':
		return g_strdup(_("Space"));
	case KL_TUI_KEY_ESC:
		return g_strdup(_("Esc"));
	case KEY_BACKSPACE:
		return g_strdup(_("Backspace"));
	case KEY_UP:
		return g_strdup(_("Up"));
	case KEY_DOWN:
		return g_strdup(_("Down"));
	case KEY_LEFT:
		return g_strdup(_("Left"));
	case KEY_RIGHT:
		return g_strdup(_("Right"));
	case KEY_PPAGE:
		return g_strdup(_("PgUp"));
	case KEY_NPAGE:
		return g_strdup(_("PgDn"));
	case KEY_HOME:
		return g_strdup(_("Home"));
	case KEY_END:
		return g_strdup(_("End"));
	default:
		if (key > 32 && key < 127)
			return g_strdup_printf("%c", key);
		return g_strdup_printf("#%d", key);
	}
}

/* TRUE when @name is one of the ", "-separated names in @keys. */
static gboolean
kl_tui_keys_listed(const gchar *keys, const gchar *name)
{
	g_auto(GStrv) names = g_strsplit(keys, ", ", -1);

	return g_strv_contains((const gchar *const *)names, name);
}

GPtrArray *
kl_tui_keys_help_lines(KlTuiViewId view, guint key_width)
{
	g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
	gboolean done[G_N_ELEMENTS(kl_tui_bindings)] = {FALSE};

	for (gsize i = 0; i < G_N_ELEMENTS(kl_tui_bindings); i++) {
		g_autoptr(GString) keys = g_string_new(NULL);
		g_autofree gchar *cell = NULL;

		if (done[i] || (kl_tui_bindings[i].views & view) == 0)
			continue;
		for (gsize j = i; j < G_N_ELEMENTS(kl_tui_bindings); j++) {
			g_autofree gchar *name = NULL;

			if (kl_tui_bindings[j].request != kl_tui_bindings[i].request ||
			    (kl_tui_bindings[j].views & view) == 0)
				continue;
			done[j] = TRUE;
			name = kl_tui_keys_name(kl_tui_bindings[j].key);
			/* Enter and KEY_ENTER share a name */
			if (kl_tui_keys_listed(keys->str, name))
				continue;
			if (keys->len > 0)
				g_string_append(keys, ", ");
			g_string_append(keys, name);
		}
		cell = kl_tui_text_fit(keys->str, key_width, "~");
		g_ptr_array_add(lines, g_strdup_printf("%s  %s", cell, _(kl_tui_bindings[i].help)));
	}
	return g_steal_pointer(&lines);
}
