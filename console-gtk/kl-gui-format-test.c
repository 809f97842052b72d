/*
 * kl-gui-format: how the console shows times, counters, addresses and
 * states (no display needed).
 */
#include "config.h"

#include <locale.h>

#include "kl-client-event.h"
#include "kl-gui-format.h"

static void
test_format_time(void)
{
	g_autofree gchar *never = kl_gui_format_time(0);
	g_autofree gchar *huge = kl_gui_format_time(G_MAXUINT64);
	g_autofree gchar *some = NULL;

	g_setenv("TZ", "UTC", TRUE);
	tzset();
	some = kl_gui_format_time(1764288000); /* 2025-11-28 00:00:00 UTC */
	g_assert_cmpstr(never, ==, "—");
	g_assert_cmpstr(huge, ==, "—");
	g_assert_cmpstr(some, ==, "2025-11-28 00:00:00");
}

static void
test_format_state(void)
{
	g_auto(GStrv) classes = kl_gui_format_state_classes_closure(NULL, 7);
	g_autofree gchar *label = kl_gui_format_state_closure(NULL, 3);
	g_autofree gchar *unknown = kl_gui_format_state_closure(NULL, 99);

	g_assert_cmpstr(kl_gui_format_state_css_class(3), ==, "kl-state-ok");
	g_assert_cmpstr(kl_gui_format_state_css_class(7), ==, "kl-state-failed");
	g_assert_cmpstr(kl_gui_format_state_css_class(9), ==, "kl-state-failed");
	g_assert_cmpstr(kl_gui_format_state_css_class(10), ==, "kl-state-stopped");
	g_assert_cmpstr(kl_gui_format_state_css_class(1), ==, "kl-state-busy");
	g_assert_cmpstr(kl_gui_format_state_css_class(G_MAXUINT), ==, "kl-state-busy");
	g_assert_cmpuint(g_strv_length(classes), ==, 1);
	g_assert_cmpstr(classes[0], ==, "kl-state-failed");
	g_assert_cmpstr(label, ==, "Get Quote");
	g_assert_cmpstr(unknown, ==, "Unknown");
}

static void
test_format_fields(void)
{
	g_autofree gchar *v4 = kl_gui_format_address_closure(NULL, "127.0.0.1", 9002);
	g_autofree gchar *v6 = kl_gui_format_address_closure(NULL, "::1", 9002);
	g_autofree gchar *none = kl_gui_format_address_closure(NULL, "", 0);
	g_autofree gchar *count = kl_gui_format_uint64_closure(NULL, G_MAXUINT64);
	g_autofree gchar *failures = kl_gui_format_uint_closure(NULL, 3);
	g_autofree gchar *policy = kl_gui_format_or_none_closure(NULL, "");
	g_autofree gchar *named = kl_gui_format_or_none_closure(NULL, "prod");
	g_autofree gchar *finding = kl_gui_format_event_kind_closure(NULL, KL_CLIENT_EVENT_FINDING);
	g_autofree gchar *revocation =
		kl_gui_format_event_kind_closure(NULL, KL_CLIENT_EVENT_REVOCATION);

	g_assert_cmpstr(v4, ==, "127.0.0.1:9002");
	g_assert_cmpstr(v6, ==, "[::1]:9002");
	g_assert_cmpstr(none, ==, "—");
	g_assert_cmpstr(count, ==, "18446744073709551615");
	g_assert_cmpstr(failures, ==, "3");
	g_assert_cmpstr(policy, ==, "none");
	g_assert_cmpstr(named, ==, "prod");
	g_assert_cmpstr(finding, ==, "Finding");
	g_assert_cmpstr(revocation, ==, "Revocation");
}

int
main(int argc, char **argv)
{
	setlocale(LC_ALL, "");
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/console/format/time", test_format_time);
	g_test_add_func("/console/format/state", test_format_state);
	g_test_add_func("/console/format/fields", test_format_fields);
	return g_test_run();
}
