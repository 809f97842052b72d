/*
 * kl-tui-text: UTF-8 safe cutting and padding of terminal cells (see
 * kl-tui-text.h).
 */
#define G_LOG_DOMAIN "KlTui"

#include "config.h"

#include <string.h>

#include "kl-tui-text.h"

/* One character of @text at @p, made displayable: '?' for invalid bytes
 * and control characters.  Sets *next past it and returns its columns. */
static guint
kl_tui_text_next(const gchar *p, const gchar **next, gunichar *out)
{
	gunichar c = g_utf8_get_char_validated(p, -1);

	if (c == (gunichar)-1 || c == (gunichar)-2) {
		*next = p + 1;
		*out = '?';
		return 1;
	}
	*next = g_utf8_next_char(p);
	if (g_unichar_iscntrl(c) || c == 0x2028 || c == 0x2029) {
		*out = '?';
		return 1;
	}
	*out = c;
	if (g_unichar_iszerowidth(c))
		return 0;
	return g_unichar_iswide(c) ? 2 : 1;
}

guint
kl_tui_text_width(const gchar *text)
{
	guint width = 0;
	const gchar *p = text != NULL ? text : "";

	while (*p != '\0') {
		gunichar c;
		width += kl_tui_text_next(p, &p, &c);
	}
	return width;
}

/* Appends the displayable form of @text to @out, at most @width columns. */
static guint
kl_tui_text_append(GString *out, const gchar *text, guint width)
{
	guint used = 0;
	const gchar *p = text;

	while (*p != '\0') {
		gunichar c;
		const gchar *next;
		guint cols = kl_tui_text_next(p, &next, &c);

		if (used + cols > width)
			break;
		g_string_append_unichar(out, c);
		used += cols;
		p = next;
	}
	return used;
}

static gchar *
kl_tui_text_fit_full(const gchar *text, guint width, const gchar *ellipsis, gboolean right)
{
	g_autoptr(GString) cell = g_string_new(NULL);
	const gchar *t = text != NULL ? text : "";
	guint total = kl_tui_text_width(t);
	guint used;

	if (width == 0)
		return g_strdup("");
	if (total <= width) {
		if (right) {
			for (guint i = total; i < width; i++)
				g_string_append_c(cell, ' ');
		}
		kl_tui_text_append(cell, t, width);
		for (guint i = total; !right && i < width; i++)
			g_string_append_c(cell, ' ');
		return g_string_free(g_steal_pointer(&cell), FALSE);
	}
	used = kl_tui_text_append(cell, t, width - 1);
	for (; used < width - 1; used++)
		g_string_append_c(cell, ' ');
	g_string_append(cell, ellipsis);
	return g_string_free(g_steal_pointer(&cell), FALSE);
}

gchar *
kl_tui_text_fit(const gchar *text, guint width, const gchar *ellipsis)
{
	return kl_tui_text_fit_full(text, width, ellipsis, FALSE);
}

gchar *
kl_tui_text_fit_right(const gchar *text, guint width, const gchar *ellipsis)
{
	return kl_tui_text_fit_full(text, width, ellipsis, TRUE);
}
