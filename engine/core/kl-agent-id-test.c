#include "config.h"

#include "kl-agent-id.h"
#include "kl-error.h"

static void
test_agent_id_valid(void)
{
	const gchar *const valid[] = {
		"d432fbb3-d2f1-4a97-9ef7-75bd81c00000",
		"agent_1.example-com",
		"a",
		"0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
	};
	g_autofree gchar *longest = g_strnfill(KL_AGENT_ID_MAX_LENGTH, 'a');

	for (guint i = 0; i < G_N_ELEMENTS(valid); i++) {
		g_autoptr(GError) error = NULL;
		g_assert_true(kl_agent_id_validate(valid[i], &error));
		g_assert_no_error(error);
	}
	g_assert_true(kl_agent_id_validate(longest, NULL));
}

static void
test_agent_id_hostile(void)
{
	const struct {
		const gchar *id;
		const gchar *message;
	} cases[] = {
		{"", "agent id is empty"},
		{"agent\nINFO fake log line",
		 "agent id has a character not in [A-Za-z0-9_.-] at offset 5 (byte 0x0a)"},
		{"agent\x1b[31mred",
		 "agent id has a character not in [A-Za-z0-9_.-] at offset 5 (byte 0x1b)"},
		{"../../etc/passwd",
		 "agent id has a character not in [A-Za-z0-9_.-] at offset 2 (byte 0x2f)"},
		{"agent id",
		 "agent id has a character not in [A-Za-z0-9_.-] at offset 5 (byte 0x20)"},
		/* A Cyrillic 'а' looks like a Latin 'a'. */
		{"\xd0\xb0gent",
		 "agent id has a character not in [A-Za-z0-9_.-] at offset 0 (byte 0xd0)"},
	};
	g_autoptr(GError) error = NULL;
	g_autofree gchar *megabyte = g_strnfill(1024 * 1024, 'a');

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) case_error = NULL;
		g_assert_false(kl_agent_id_validate(cases[i].id, &case_error));
		g_assert_error(case_error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
		g_assert_cmpstr(case_error->message, ==, cases[i].message);
	}
	g_assert_false(kl_agent_id_validate(NULL, &error));
	g_clear_error(&error);
	g_assert_false(kl_agent_id_validate(megabyte, &error));
	g_assert_cmpstr(error->message, ==, "agent id is longer than 255 characters");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/agent-id/valid", test_agent_id_valid);
	g_test_add_func("/agent-id/hostile", test_agent_id_hostile);
	return g_test_run();
}
