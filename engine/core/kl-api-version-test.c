/* Tests for kl-api-version: parsing, ordering, negotiation, path prefixes. */
#include "config.h"

#include "kl-api-version.h"
#include "kl-error.h"

static void
kl_api_version_parse_test(void)
{
	const gchar *bad[] = {"",
			      "2",
			      "2.",
			      ".6",
			      "2.6.1",
			      "26",
			      "2,6",
			      "a.b",
			      "2.10",
			      " 2.6",
			      "2.6 ",
			      "\xd9\xa2.6",
			      "-2.6",
			      "+2.6",
			      "v2.6"};
	KlApiVersion version = {0, 0};
	gchar buffer[KL_API_VERSION_STRING_SIZE];
	g_autoptr(GError) error = NULL;

	g_assert_true(kl_api_version_parse("2.6", &version, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(version.major, ==, 2);
	g_assert_cmpuint(version.minor, ==, 6);
	g_assert_cmpstr(kl_api_version_to_string(&version, buffer), ==, "2.6");
	g_assert_true(kl_api_version_parse("0.0", &version, &error));
	g_assert_cmpstr(kl_api_version_to_string(&version, buffer), ==, "0.0");

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_assert_false(kl_api_version_parse(bad[i], &version, &error));
		g_assert_error(error, KL_API_VERSION_ERROR, KL_API_VERSION_ERROR_INVALID);
		/* hostile text never echoed */
		if (bad[i][0] != '\0')
			g_assert_null(strstr(error->message, bad[i]));
		g_clear_error(&error);
	}
	g_assert_false(kl_api_version_parse(NULL, &version, &error));
	g_assert_nonnull(error);
	g_clear_error(&error);

	/* the module domain is a 400 for REST */
	g_assert_false(kl_api_version_parse("x", &version, &error));
	kl_error_convert(&error);
	g_assert_cmpuint(kl_error_to_http_status(error), ==, 400);
}

static void
kl_api_version_compare_test(void)
{
	KlApiVersion a = {2, 6};
	KlApiVersion b = {3, 0};
	KlApiVersion c = {2, 1};
	KlApiVersion current = KL_API_VERSION_CURRENT;

	g_assert_cmpint(kl_api_version_compare(&a, &b), <, 0);
	g_assert_cmpint(kl_api_version_compare(&b, &a), >, 0);
	g_assert_cmpint(kl_api_version_compare(&c, &a), <, 0);
	g_assert_cmpint(kl_api_version_compare(&a, &current), ==, 0);
}

static void
kl_api_version_supported_test(void)
{
	gsize n_server = 0;
	gsize n_agent = 0;
	const KlApiVersion *server = kl_api_version_server_supported(&n_server);
	const KlApiVersion *agent = kl_api_version_agent_supported(&n_agent);
	KlApiVersion v10 = {1, 0};
	KlApiVersion v20 = {2, 0};
	KlApiVersion v26 = {2, 6};
	KlApiVersion v27 = {2, 7};
	KlApiVersion v30 = {3, 0};

	g_assert_cmpuint(n_server, ==, 9);
	g_assert_cmpuint(n_agent, ==, 6);
	g_assert_true(kl_api_version_is_supported(&v10, server, n_server));
	g_assert_true(kl_api_version_is_supported(&v30, server, n_server));
	g_assert_false(kl_api_version_is_supported(&v27, server, n_server));
	g_assert_false(kl_api_version_is_supported(&v20, agent, n_agent));
	g_assert_true(kl_api_version_is_supported(&v26, agent, n_agent));
	/* sorted ascending, so "latest" is the last of a major */
	for (gsize i = 1; i < n_server; i++)
		g_assert_cmpint(kl_api_version_compare(&server[i - 1], &server[i]), <, 0);
}

static void
kl_api_version_negotiate_test(void)
{
	gsize n_server = 0;
	gsize n_agent = 0;
	const KlApiVersion *server = kl_api_version_server_supported(&n_server);
	const KlApiVersion *agent = kl_api_version_agent_supported(&n_agent);
	const gchar *agent_list[] = {"2.1", "2.2", "2.3", "2.4", "2.5", "2.6", NULL};
	const gchar *future[] = {"2.5", "3.0", "9.9", "bogus", "2.6.0", NULL};
	const gchar *old[] = {"1.0", "2.0", NULL};
	const gchar *none[] = {NULL};
	KlApiVersion below = {3, 0};
	KlApiVersion version = {0, 0};
	gchar buffer[KL_API_VERSION_STRING_SIZE];
	g_autoptr(GError) error = NULL;

	g_assert_true(kl_api_version_pick_highest_common(server,
							 n_server,
							 agent_list,
							 NULL,
							 &version,
							 &error));
	g_assert_no_error(error);
	g_assert_cmpstr(kl_api_version_to_string(&version, buffer), ==, "2.6");

	/* malformed entries are skipped; 3.0 is common but excluded by @below */
	g_assert_true(kl_api_version_pick_highest_common(server,
							 n_server,
							 future,
							 NULL,
							 &version,
							 &error));
	g_assert_cmpstr(kl_api_version_to_string(&version, buffer), ==, "3.0");
	g_assert_true(kl_api_version_pick_highest_common(server,
							 n_server,
							 future,
							 &below,
							 &version,
							 &error));
	g_assert_cmpstr(kl_api_version_to_string(&version, buffer), ==, "2.5");

	/* nothing in common */
	g_assert_false(
		kl_api_version_pick_highest_common(agent, n_agent, old, NULL, &version, &error));
	g_assert_error(error, KL_API_VERSION_ERROR, KL_API_VERSION_ERROR_NOT_SUPPORTED);
	g_clear_error(&error);
	g_assert_false(
		kl_api_version_pick_highest_common(agent, n_agent, none, NULL, &version, &error));
	g_assert_nonnull(error);
	g_clear_error(&error);
	g_assert_false(
		kl_api_version_pick_highest_common(agent, n_agent, NULL, NULL, &version, &error));
	g_assert_nonnull(error);
}

static void
kl_api_version_path_test(void)
{
	gsize n_server = 0;
	gsize n_agent = 0;
	const KlApiVersion *server = kl_api_version_server_supported(&n_server);
	const KlApiVersion *agent = kl_api_version_agent_supported(&n_agent);
	const struct {
		const gchar *segment;
		const gchar *expected; /* NULL: not supported */
	} cases[] = {
		{"v2", "2.6"},
		{"v2.1", "2.1"},
		{"v2.6", "2.6"},
		{"v1", "1.0"},
		{"v1.0", "1.0"},
		{"v3", "3.0"},
		{"v3.0", "3.0"},
		{"v9.9", NULL},
		{"v9", NULL},
		{"v2.7", NULL},
		{"v22", NULL},
		{"v2.", NULL},
		{"v2.6.1", NULL},
		{"v", NULL},
		{"v.6", NULL},
		{"v2.x", NULL},
	};
	KlApiVersion version = {0, 0};
	gchar buffer[KL_API_VERSION_STRING_SIZE];
	g_autoptr(GError) error = NULL;

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		gboolean ok = kl_api_version_from_path_segment(cases[i].segment,
							       server,
							       n_server,
							       &version,
							       &error);
		g_test_message("%s", cases[i].segment);
		if (cases[i].expected == NULL) {
			g_assert_false(ok);
			g_assert_error(error,
				       KL_API_VERSION_ERROR,
				       KL_API_VERSION_ERROR_NOT_SUPPORTED);
			g_assert_cmpstr(error->message, ==, "API Version not supported");
			g_clear_error(&error);
			continue;
		}
		g_assert_no_error(error);
		g_assert_true(ok);
		g_assert_cmpstr(kl_api_version_to_string(&version, buffer), ==, cases[i].expected);
	}

	/* the agent serves no 1.x and no 2.0 */
	g_assert_false(kl_api_version_from_path_segment("v1", agent, n_agent, &version, &error));
	g_assert_nonnull(error);
	g_clear_error(&error);
	g_assert_false(kl_api_version_from_path_segment("v2.0", agent, n_agent, &version, &error));
	g_assert_nonnull(error);
	g_clear_error(&error);
	g_assert_true(kl_api_version_from_path_segment("v2", agent, n_agent, &version, &error));
	g_assert_cmpstr(kl_api_version_to_string(&version, buffer), ==, "2.6");

	/* not a version segment at all */
	g_assert_false(
		kl_api_version_from_path_segment("agents", server, n_server, &version, &error));
	g_assert_error(error, KL_API_VERSION_ERROR, KL_API_VERSION_ERROR_INVALID);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/api-version/parse", kl_api_version_parse_test);
	g_test_add_func("/api-version/compare", kl_api_version_compare_test);
	g_test_add_func("/api-version/supported", kl_api_version_supported_test);
	g_test_add_func("/api-version/negotiate", kl_api_version_negotiate_test);
	g_test_add_func("/api-version/path", kl_api_version_path_test);
	return g_test_run();
}
