/*
 * kl-tui-agent-rows: state groups, text filter, stable sorting.
 */
#include "config.h"

#include "kl-tui-agent-rows.h"

static GArray *
make_rows(void)
{
	GArray *rows = g_array_new(FALSE, TRUE, sizeof(KlTuiAgentRow));
	KlTuiAgentRow r[] = {
		{"c-agent", "10.0.0.3", 9002, 3, 300, 30, 0, "prod"},
		{"a-agent", "10.0.0.1", 9002, 7, 100, 10, 4, "prod"},
		{"b-agent", "10.0.0.2", 9002, 3, 200, 20, 0, "Lab"},
		{"d-agent", "192.168.1.9", 9002, 10, 100, 0, 4, ""},
	};

	g_array_append_vals(rows, r, G_N_ELEMENTS(r));
	return rows;
}

static void
test_state_filter(void)
{
	g_autoptr(GArray) rows = make_rows();
	guint failed = 0;
	guint attesting = 0;

	for (guint i = 0; i < rows->len; i++) {
		KlTuiAgentRow *row = &g_array_index(rows, KlTuiAgentRow, i);

		g_assert_true(kl_tui_agent_row_matches(row, KL_TUI_STATE_FILTER_ALL, NULL));
		failed += kl_tui_agent_row_matches(row, KL_TUI_STATE_FILTER_FAILED, "");
		attesting += kl_tui_agent_row_matches(row, KL_TUI_STATE_FILTER_ATTESTING, "");
		/* every row is in exactly one of the three groups */
		g_assert_cmpint(
			kl_tui_agent_row_matches(row, KL_TUI_STATE_FILTER_ATTESTING, NULL) +
				kl_tui_agent_row_matches(row, KL_TUI_STATE_FILTER_FAILED, NULL) +
				kl_tui_agent_row_matches(row, KL_TUI_STATE_FILTER_OTHER, NULL),
			==,
			1);
	}
	g_assert_cmpuint(failed, ==, 2);
	g_assert_cmpuint(attesting, ==, 2);
}

static void
test_text_filter(void)
{
	g_autoptr(GArray) rows = make_rows();
	KlTuiAgentRow *b = &g_array_index(rows, KlTuiAgentRow, 2);
	KlTuiAgentRow *d = &g_array_index(rows, KlTuiAgentRow, 3);

	g_assert_true(kl_tui_agent_row_matches(b, KL_TUI_STATE_FILTER_ALL, "B-AG"));
	g_assert_true(kl_tui_agent_row_matches(b, KL_TUI_STATE_FILTER_ALL, "lab"));
	g_assert_true(kl_tui_agent_row_matches(d, KL_TUI_STATE_FILTER_ALL, "168.1.9:9002"));
	g_assert_false(kl_tui_agent_row_matches(b, KL_TUI_STATE_FILTER_ALL, "prod"));
	g_assert_false(kl_tui_agent_row_matches(b, KL_TUI_STATE_FILTER_FAILED, "lab"));
	g_assert_false(kl_tui_agent_row_matches(b, KL_TUI_STATE_FILTER_ALL, "\xff"));
	/* the port is matched with the address */
	g_assert_true(kl_tui_agent_row_matches(b, KL_TUI_STATE_FILTER_ALL, "2:9002"));
	g_assert_false(kl_tui_agent_row_matches(b, KL_TUI_STATE_FILTER_ALL, "9002"));
	/* non-ASCII text is folded as Unicode */
	b->runtime_policy = "Prüfung";
	g_assert_true(kl_tui_agent_row_matches(b, KL_TUI_STATE_FILTER_ALL, "PRÜF"));
	g_assert_false(kl_tui_agent_row_matches(b, KL_TUI_STATE_FILTER_ALL, "prüfx"));
}

static const gchar *
id_at(GArray *rows, guint i)
{
	return g_array_index(rows, KlTuiAgentRow, i).agent_id;
}

static void
test_sort(void)
{
	g_autoptr(GArray) rows = make_rows();

	kl_tui_agent_rows_sort(rows, KL_TUI_SORT_ID, FALSE);
	g_assert_cmpstr(id_at(rows, 0), ==, "a-agent");
	g_assert_cmpstr(id_at(rows, 3), ==, "d-agent");
	kl_tui_agent_rows_sort(rows, KL_TUI_SORT_ID, TRUE);
	g_assert_cmpstr(id_at(rows, 0), ==, "d-agent");
	/* ties (failures 4, 4 and 0, 0) broken by ascending id either way */
	kl_tui_agent_rows_sort(rows, KL_TUI_SORT_FAILURES, TRUE);
	g_assert_cmpstr(id_at(rows, 0), ==, "a-agent");
	g_assert_cmpstr(id_at(rows, 1), ==, "d-agent");
	g_assert_cmpstr(id_at(rows, 2), ==, "b-agent");
	kl_tui_agent_rows_sort(rows, KL_TUI_SORT_LAST_ATTESTATION, FALSE);
	g_assert_cmpstr(id_at(rows, 0), ==, "a-agent");
	g_assert_cmpstr(id_at(rows, 3), ==, "c-agent");
	kl_tui_agent_rows_sort(rows, KL_TUI_SORT_STATE, FALSE);
	g_assert_cmpstr(id_at(rows, 0), ==, "b-agent");
	g_assert_cmpstr(id_at(rows, 3), ==, "d-agent");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/tui-agent-rows/state-filter", test_state_filter);
	g_test_add_func("/tui-agent-rows/text-filter", test_text_filter);
	g_test_add_func("/tui-agent-rows/sort", test_sort);
	return g_test_run();
}
