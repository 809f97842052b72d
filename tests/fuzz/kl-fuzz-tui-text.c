/*
 * Fuzz target: keylime-tui's cells and filters on hostile text (agent ids,
 * paths and policy names come from the verifier).  The first byte is the
 * cell width; the rest is the text.  A cell is always valid UTF-8 exactly
 * that many columns wide; the row filter and the line editor take any
 * bytes without a critical.
 */
#include "config.h"

#include <string.h>

#include "kl-fuzz.h"
#include "kl-tui-agent-rows.h"
#include "kl-tui-entry.h"
#include "kl-tui-text.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree gchar *text = NULL;
	g_autofree gchar *left = NULL;
	g_autofree gchar *right = NULL;
	KlTuiAgentRow row = {0};
	KlTuiEntry entry = {0};
	guint width;

	if (size == 0)
		return 0;
	width = data[0] % 120;
	text = g_strndup((const gchar *)data + 1, size - 1);

	left = kl_tui_text_fit(text, width, "…");
	right = kl_tui_text_fit_right(text, width, "~");
	g_assert_true(g_utf8_validate(left, -1, NULL));
	g_assert_true(g_utf8_validate(right, -1, NULL));
	g_assert_cmpuint(kl_tui_text_width(left), ==, width);
	g_assert_cmpuint(kl_tui_text_width(right), ==, width);

	row.agent_id = text;
	row.ip = text;
	row.runtime_policy = text;
	row.state = data[0] % 12;
	for (guint filter = 0; filter <= KL_TUI_STATE_FILTER_LAST; filter++) {
		(void)kl_tui_agent_row_matches(&row, filter, text);
		(void)kl_tui_agent_row_matches(&row, filter, "a");
	}

	kl_tui_entry_begin(&entry, NULL, 64);
	for (size_t i = 1; i < size; i++)
		(void)kl_tui_entry_key(&entry,
				       data[i] < 0x80 ? data[i] : 0x80u + data[i] * 31u,
				       FALSE);
	g_assert_true(g_utf8_validate(entry.text->str, -1, NULL));
	g_assert_cmpuint(g_utf8_strlen(entry.text->str, -1), <=, 64);
	kl_tui_entry_clear(&entry);
	return 0;
}
