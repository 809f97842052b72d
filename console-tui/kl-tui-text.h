/*
 * kl-tui-text: text cut to terminal cells.  A table cell or a status line
 * holds a fixed number of columns; the text in it is UTF-8 from the
 * verifier (agent ids, file paths, policy names) and may be invalid,
 * contain control characters or wide (CJK) characters.  These functions
 * count display columns, never split a character and never let a control
 * character reach the terminal.  Pure: no ncurses.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The display width of @text in columns (invalid bytes and control
 * characters count as one column each: they are shown as '?'). */
guint kl_tui_text_width(const gchar *text);

/*
 * @text made exactly @width columns wide: padded with spaces, or cut on a
 * character boundary with @ellipsis (one column, "…" or "~") as its last
 * column.  Invalid UTF-8 and control characters become '?'; a wide
 * character that does not fit whole is left out (a space pads instead).
 */
gchar *kl_tui_text_fit(const gchar *text, guint width, const gchar *ellipsis);

/* As kl_tui_text_fit(), right-aligned (for numbers). */
gchar *kl_tui_text_fit_right(const gchar *text, guint width, const gchar *ellipsis);

G_END_DECLS
