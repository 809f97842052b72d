#include "config.h"

#include "kl-finding.h"

static void
test_finding_fields(void)
{
	g_autoptr(KlFinding) finding =
		kl_finding_new_printf("ima.validation.ima-ng.not_in_allowlist",
				      "/usr/bin/x",
				      12,
				      "not in %s",
				      "the policy");
	g_autofree gchar *component = kl_finding_get_component(finding);
	g_autofree gchar *text = kl_finding_to_string(finding);
	g_autoptr(KlFinding) copy = kl_finding_copy(finding);

	g_assert_cmpstr(component, ==, "ima");
	g_assert_cmpstr(finding->subject, ==, "/usr/bin/x");
	g_assert_cmpuint(finding->line, ==, 12);
	g_assert_cmpstr(finding->context_json, ==, "{\"message\":\"not in the policy\"}");
	g_assert_cmpstr(text,
			==,
			"line 12: ima: /usr/bin/x: not in the policy "
			"(ima.validation.ima-ng.not_in_allowlist)");
	g_assert_cmpstr(copy->event_id, ==, finding->event_id);
	g_assert_cmpstr(copy->context_json, ==, finding->context_json);
}

static void
test_finding_got_expected(void)
{
	g_autoptr(KlFinding) finding =
		kl_finding_new("pcr_validation.invalid_pcr_15", "PCR 15", 0, "value not allowed");
	kl_finding_set_context_got_expected(finding, "00", "ff");
	g_assert_cmpstr(finding->context_json,
			==,
			"{\"got\":\"00\",\"expected\":\"ff\",\"context\":\"value not allowed\"}");
}

/* A path from the evidence cannot forge log lines or colour a terminal. */
static void
test_finding_hostile_subject(void)
{
	g_autoptr(KlFinding) finding = kl_finding_new("ima.parser.entry",
						      "/tmp/x\nINFO all good\x1b[0m\\",
						      3,
						      "bad\rline");
	g_assert_null(strchr(finding->subject, '\n'));
	g_assert_null(strchr(finding->subject, '\x1b'));
	g_assert_cmpstr(finding->subject, ==, "/tmp/x\\x0aINFO all good\\x1b[0m\\x5c");
	g_assert_cmpstr(finding->reason, ==, "bad\\x0dline");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/finding/fields", test_finding_fields);
	g_test_add_func("/finding/got-expected", test_finding_got_expected);
	g_test_add_func("/finding/hostile-subject", test_finding_hostile_subject);
	return g_test_run();
}
