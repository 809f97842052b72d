/*
 * kl-tui-entry: one-line text editing (see kl-tui-entry.h).
 */
#define G_LOG_DOMAIN "KlTui"

#include "config.h"

#include <curses.h>

#include "kl-tui-entry.h"

void
kl_tui_entry_begin(KlTuiEntry *self, const gchar *initial, gsize max_chars)
{
	kl_tui_entry_clear(self);
	self->text = g_string_new(initial != NULL ? initial : "");
	self->saved = g_strdup(self->text->str);
	self->max_chars = max_chars;
}

void
kl_tui_entry_clear(KlTuiEntry *self)
{
	if (self->text != NULL)
		g_string_free(self->text, TRUE);
	self->text = NULL;
	g_clear_pointer(&self->saved, g_free);
}

static void
kl_tui_entry_backspace(KlTuiEntry *self)
{
	const gchar *last;

	if (self->text->len == 0)
		return;
	last = g_utf8_find_prev_char(self->text->str, self->text->str + self->text->len);
	if (last == NULL)
		last = self->text->str;
	g_string_truncate(self->text, (gsize)(last - self->text->str));
}

KlTuiEntryResult
kl_tui_entry_key(KlTuiEntry *self, guint key, gboolean is_key)
{
	if (is_key) {
		if (key == KEY_BACKSPACE)
			kl_tui_entry_backspace(self);
		else if (key == KEY_ENTER)
			return KL_TUI_ENTRY_DONE;
		return KL_TUI_ENTRY_EDITING;
	}
	if (key == '\n' || key == '\r')
		return KL_TUI_ENTRY_DONE;
	if (key == 27) {
		g_string_assign(self->text, self->saved);
		return KL_TUI_ENTRY_CANCEL;
	}
	if (key == 127 || key == 8) {
		kl_tui_entry_backspace(self);
		return KL_TUI_ENTRY_EDITING;
	}
	if (key == 21) { /* Ctrl-U: clear */
		g_string_truncate(self->text, 0);
		return KL_TUI_ENTRY_EDITING;
	}
	if (!g_unichar_validate(key) || g_unichar_iscntrl(key))
		return KL_TUI_ENTRY_EDITING;
	if (g_utf8_strlen(self->text->str, -1) >= (glong)self->max_chars)
		return KL_TUI_ENTRY_EDITING;
	g_string_append_unichar(self->text, key);
	return KL_TUI_ENTRY_EDITING;
}
