/*
 * kl-tui-entry: the one-line text editor of keylime-tui (the text filter,
 * the enrollment form's fields).  It takes keys as wget_wch() returns them
 * (characters, KEY_BACKSPACE) and keeps valid UTF-8.  Pure: no ncurses
 * calls.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
	KL_TUI_ENTRY_EDITING, /* the key was taken, editing goes on */
	KL_TUI_ENTRY_DONE,    /* Enter: the text is accepted */
	KL_TUI_ENTRY_CANCEL,  /* Esc: the text before editing is back */
} KlTuiEntryResult;

typedef struct {
	GString *text;
	gchar *saved; /* the text when editing started, for Esc */
	gsize max_chars;
} KlTuiEntry;

void kl_tui_entry_begin(KlTuiEntry *self, const gchar *initial, gsize max_chars);
/* @key: a Unicode character (@is_key FALSE) or an ncurses KEY_* code. */
KlTuiEntryResult kl_tui_entry_key(KlTuiEntry *self, guint key, gboolean is_key);
void kl_tui_entry_clear(KlTuiEntry *self);

G_END_DECLS
