/*
 * Tests for kl-mb-policy: the shipped accept-all, reject-all and example
 * policies over synthetic logs (Secure Boot on and off, an altered kernel,
 * a changed dbx, an unexpected kernel command line) and over the real
 * Secure Boot log in tests/data/eventlogs; hostile policy files.
 */
#include "config.h"

#include <glib/gstdio.h>

#include "kl-eventlog.h"
#include "kl-finding.h"
#include "kl-json.h"
#include "kl-mb-policy.h"
#include "kl-mb-test-events.h"

static KlMbPolicy *
kl_mb_policy_test_load(const gchar *name)
{
	g_autofree gchar *dir =
		g_test_build_filename(G_TEST_DIST, "..", "data", "mb-policies", NULL);
	const gchar *dirs[] = {dir, NULL};
	g_autoptr(GError) error = NULL;
	KlMbPolicy *policy = kl_mb_policy_load(name, dirs, &error);
	g_assert_no_error(error);
	g_assert_nonnull(policy);
	return policy;
}

/* findings of @policy_name for @events against a refstate made from @ref_events */
static GPtrArray *
kl_mb_policy_test_run(const gchar *policy_name,
		      JsonArray *ref_events,
		      gboolean without_sb,
		      JsonArray *events)
{
	g_autoptr(KlMbPolicy) policy = kl_mb_policy_test_load(policy_name);
	g_autoptr(GError) error = NULL;
	g_autoptr(KlMbRefstate) refstate =
		kl_mb_refstate_new_from_events(ref_events, without_sb, NULL, &error);
	g_autoptr(GPtrArray) findings = kl_findings_new();

	g_assert_no_error(error);
	g_assert_true(kl_mb_policy_evaluate(policy, refstate, events, findings, &error));
	g_assert_no_error(error);
	for (guint i = 0; i < findings->len; i++) {
		g_autofree gchar *text = kl_finding_to_string(findings->pdata[i]);
		g_autofree gchar *event_id =
			g_strdup_printf("measured_boot.policy_%s", policy_name);
		g_test_message("%s", text);
		g_assert_cmpstr(((KlFinding *)findings->pdata[i])->event_id, ==, event_id);
	}
	return g_steal_pointer(&findings);
}

static void
kl_mb_policy_test_assert_one(GPtrArray *findings, const gchar *subject, const gchar *reason_part)
{
	KlFinding *finding;
	g_assert_cmpuint(findings->len, ==, 1);
	finding = findings->pdata[0];
	g_assert_cmpstr(finding->subject, ==, subject);
	if (strstr(finding->reason, reason_part) == NULL)
		g_error("\"%s\" lacks \"%s\"", finding->reason, reason_part);
	g_assert_nonnull(strstr(finding->context_json, "\"reason\""));
}

static void
kl_mb_policy_test_example_secureboot(void)
{
	g_autoptr(JsonArray) events = kl_mb_test_log_new(TRUE);
	g_autoptr(GPtrArray) findings = kl_mb_policy_test_run("example", events, FALSE, events);
	g_assert_cmpuint(findings->len, ==, 0);
}

static void
kl_mb_policy_test_example_no_secureboot(void)
{
	g_autoptr(JsonArray) events = kl_mb_test_log_new(FALSE);
	g_autoptr(JsonArray) sb_events = kl_mb_test_log_new(TRUE);
	g_autoptr(JsonArray) untouched_events = kl_mb_test_log_new(FALSE);
	g_autoptr(GPtrArray) findings = kl_mb_policy_test_run("example", events, TRUE, events);
	g_autoptr(GPtrArray) mismatch = NULL;
	g_autoptr(GPtrArray) vmlinuz = NULL;
	gboolean secure_boot_named = FALSE;

	g_assert_cmpuint(findings->len, ==, 0);

	/* a reference state with Secure Boot against a log without */
	mismatch = kl_mb_policy_test_run("example", sb_events, FALSE, events);
	g_assert_cmpuint(mismatch->len, >, 0);
	for (guint i = 0; i < mismatch->len; i++) {
		KlFinding *finding = mismatch->pdata[i];
		if (g_strcmp0(finding->subject, "event 4 (EV_EFI_VARIABLE_DRIVER_CONFIG, PCR 7)") ==
			    0 &&
		    strstr(finding->reason, "Enabled is not 'Yes'") != NULL)
			secure_boot_named = TRUE;
	}
	g_assert_true(secure_boot_named);

	/* without Secure Boot GRUB's plain digest of the kernel counts */
	kl_mb_test_set_digest(kl_mb_test_find(events, "EV_IPL", "(hd0,gpt2)/vmlinuz-6.1"), "evil");
	vmlinuz = kl_mb_policy_test_run("example", untouched_events, TRUE, events);
	g_assert_cmpuint(vmlinuz->len, ==, 1);
	g_assert_nonnull(strstr(((KlFinding *)vmlinuz->pdata[0])->reason, "vmlinuz"));
}

static void
kl_mb_policy_test_example_altered_kernel(void)
{
	g_autoptr(JsonArray) ref_events = kl_mb_test_log_new(TRUE);
	g_autoptr(JsonArray) events = kl_mb_test_log_new(TRUE);
	JsonObject *kernel = NULL;
	g_autofree gchar *subject = NULL;
	g_autoptr(GPtrArray) findings = NULL;

	/* the third application is the kernel */
	for (guint i = 0, n = 0; i < json_array_get_length(events); i++) {
		JsonObject *object = json_array_get_object_element(events, i);
		if (g_strcmp0(json_object_get_string_member(object, "EventType"),
			      "EV_EFI_BOOT_SERVICES_APPLICATION") == 0 &&
		    ++n == 3)
			kernel = object;
	}
	g_assert_nonnull(kernel);
	kl_mb_test_set_digest(kernel, "rootkit");
	findings = kl_mb_policy_test_run("example", ref_events, FALSE, events);
	subject = g_strdup_printf("event %" G_GINT64_FORMAT " (EV_EFI_BOOT_SERVICES_APPLICATION)",
				  json_object_get_int_member(kernel, "EventNum"));
	kl_mb_policy_test_assert_one(findings, subject, "has no digest approved by");
}

static void
kl_mb_policy_test_example_changed_dbx(void)
{
	g_autoptr(JsonArray) ref_events = kl_mb_test_log_new(TRUE);
	g_autoptr(JsonArray) events = kl_mb_test_log_new(TRUE);
	g_autoptr(JsonArray) more = kl_mb_test_log_new(TRUE);
	g_autoptr(GPtrArray) findings = NULL;
	g_autoptr(GPtrArray) superset = NULL;

	/* the log's dbx lacks a revocation the reference state requires */
	json_object_set_member(
		json_object_get_object_member(json_array_get_object_element(events, 8), "Event"),
		"VariableData",
		kl_mb_test_siglist(KL_MB_TEST_SHA256, "cc01", NULL));
	findings = kl_mb_policy_test_run("example", ref_events, FALSE, events);
	kl_mb_policy_test_assert_one(findings,
				     "event 8 (EV_EFI_VARIABLE_DRIVER_CONFIG, PCR 7)",
				     "lacks the required key");

	/* more revocations than required are fine */
	json_object_set_member(
		json_object_get_object_member(json_array_get_object_element(more, 8), "Event"),
		"VariableData",
		kl_mb_test_siglist(KL_MB_TEST_SHA256, "cc01", "cc02", "cc03", NULL));
	superset = kl_mb_policy_test_run("example", ref_events, FALSE, more);
	g_assert_cmpuint(superset->len, ==, 0);
}

static void
kl_mb_policy_test_example_cmdline(void)
{
	g_autoptr(JsonArray) ref_events = kl_mb_test_log_new(TRUE);
	g_autoptr(JsonArray) events = kl_mb_test_log_new(TRUE);
	JsonObject *event =
		kl_mb_test_find(events, "EV_IPL", "kernel_cmdline: " KL_MB_TEST_CMDLINE);
	g_autoptr(GPtrArray) findings = NULL;

	json_object_set_member(
		event,
		"Event",
		kl_mb_test_string_event("kernel_cmdline: " KL_MB_TEST_CMDLINE " init=/bin/sh"));
	findings = kl_mb_policy_test_run("example", ref_events, FALSE, events);
	kl_mb_policy_test_assert_one(findings, "boot events", "kernel_cmdlines");
	g_assert_nonnull(strstr(((KlFinding *)findings->pdata[0])->reason, "does not match"));
}

static void
kl_mb_policy_test_example_unexpected(void)
{
	g_autoptr(JsonArray) ref_events = kl_mb_test_log_new(TRUE);
	g_autoptr(JsonArray) events = kl_mb_test_log_new(TRUE);
	g_autoptr(GPtrArray) findings = NULL;
	g_autofree gchar *digest = kl_mb_test_digest("post");
	g_autofree gchar *subject = NULL;
	g_autoptr(JsonArray) twice = kl_mb_test_log_new(TRUE);
	g_autoptr(GPtrArray) twice_findings = NULL;
	JsonObject *pk = json_array_get_object_element(twice, 5);

	kl_mb_test_add(events, 3, "EV_POST_CODE", digest, NULL);
	findings = kl_mb_policy_test_run("example", ref_events, FALSE, events);
	subject = g_strdup_printf("event %u (EV_POST_CODE, PCR 3)",
				  json_array_get_length(events) - 1);
	kl_mb_policy_test_assert_one(findings,
				     subject,
				     "has unexpected (PCRIndex, EventType) combination");

	/* PK may be measured only once */
	json_array_add_object_element(twice, json_object_ref(pk));
	twice_findings = kl_mb_policy_test_run("example", ref_events, FALSE, twice);
	g_assert_cmpuint(twice_findings->len, ==, 1);
	g_assert_nonnull(
		strstr(((KlFinding *)twice_findings->pdata[0])->reason, "already run once"));
}

static void
kl_mb_policy_test_example_separator(void)
{
	g_autoptr(JsonArray) ref_events = kl_mb_test_log_new(TRUE);
	g_autoptr(JsonArray) events = kl_mb_test_log_new(TRUE);
	JsonObject *separator = kl_mb_test_find(events, "EV_SEPARATOR", NULL);
	g_autoptr(GPtrArray) findings = NULL;

	/* the right data with a digest that is not H(data) */
	kl_mb_test_set_digest(separator, "not a separator");
	findings = kl_mb_policy_test_run("example", ref_events, FALSE, events);
	kl_mb_policy_test_assert_one(findings,
				     "event 9 (EV_SEPARATOR, PCR 0)",
				     "has no digest approved by");
}

static void
kl_mb_policy_test_accept_reject_all(void)
{
	g_autoptr(JsonArray) sb = kl_mb_test_log_new(TRUE);
	g_autoptr(JsonArray) no_sb = kl_mb_test_log_new(FALSE);
	g_autoptr(JsonArray) altered = kl_mb_test_log_new(TRUE);
	JsonArray *logs[] = {sb, no_sb, altered};

	kl_mb_test_set_digest(json_array_get_object_element(altered, 20), "rootkit");
	for (guint i = 0; i < G_N_ELEMENTS(logs); i++) {
		g_autoptr(GPtrArray) accepted =
			kl_mb_policy_test_run("accept-all", sb, FALSE, logs[i]);
		g_autoptr(GPtrArray) rejected =
			kl_mb_policy_test_run("reject-all", sb, FALSE, logs[i]);
		g_assert_cmpuint(accepted->len, ==, 0);
		g_assert_cmpuint(rejected->len, ==, 1);
	}
}

static void
kl_mb_policy_test_refstate_mismatch(void)
{
	g_autoptr(KlMbPolicy) policy = kl_mb_policy_test_load("example");
	g_autoptr(KlMbPolicy) reject = kl_mb_policy_test_load("reject-all");
	g_autoptr(JsonArray) events = kl_mb_test_log_new(TRUE);
	g_autoptr(KlMbRefstate) refstate =
		kl_mb_refstate_new_from_events(events, FALSE, NULL, NULL);
	g_autofree gchar *json = kl_mb_refstate_to_json(refstate, FALSE);
	g_autoptr(JsonObject) object =
		kl_json_parse_object(json, strlen(json), G_MAXSIZE, 64, NULL);
	g_autoptr(KlMbRefstate) no_pk = NULL;
	g_autoptr(KlMbRefstate) no_kernel_digest = NULL;
	g_autoptr(KlMbRefstate) empty = kl_mb_refstate_new_from_json("{}", 2, NULL);
	g_autoptr(KlMbCheck) check = NULL;
	g_autoptr(GPtrArray) findings = kl_findings_new();
	g_autoptr(GError) error = NULL;

	json_object_remove_member(object, "pk");
	no_pk = kl_mb_refstate_new_from_object(object, &error);
	g_assert_no_error(error);
	check = kl_mb_policy_compile(policy, no_pk, &error);
	g_assert_error(error, KL_MB_ERROR, KL_MB_ERROR_INVALID_REFSTATE);
	g_assert_nonnull(strstr(error->message, "lacks pk"));
	g_assert_null(check);
	g_clear_error(&error);

	json_object_set_array_member(object, "pk", json_array_new());
	json_object_remove_member(
		json_array_get_object_element(json_object_get_array_member(object, "kernels"), 0),
		"kernel_authcode_sha256");
	no_kernel_digest = kl_mb_refstate_new_from_object(object, &error);
	g_assert_no_error(error);
	g_assert_false(kl_mb_policy_evaluate(policy, no_kernel_digest, events, findings, &error));
	g_assert_error(error, KL_MB_ERROR, KL_MB_ERROR_INVALID_REFSTATE);
	g_assert_nonnull(strstr(error->message, "kernel_authcode_sha256"));
	g_clear_error(&error);

	/* upstream: an empty reference state is not evaluated at all */
	g_assert_true(kl_mb_policy_evaluate(reject, empty, events, findings, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(findings->len, ==, 0);
}

static void
kl_mb_policy_test_pcrs(void)
{
	g_autoptr(KlMbPolicy) example = kl_mb_policy_test_load("example");
	g_autoptr(KlMbPolicy) accept = kl_mb_policy_test_load("accept-all");
	g_autoptr(GPtrArray) findings = kl_findings_new();

	g_assert_cmpstr(kl_mb_policy_get_name(example), ==, "example");
	g_assert_cmphex(kl_mb_policy_get_relevant_pcrs(example), ==, 0x43ff);
	g_assert_cmphex(kl_mb_policy_get_relevant_pcrs(accept), ==, 0);
	g_assert_true(kl_mb_policy_check_missing_pcrs(example, 0xffffff, findings));
	g_assert_true(kl_mb_policy_check_missing_pcrs(accept, 0, findings));
	g_assert_false(kl_mb_policy_check_missing_pcrs(example, 0x03ff, findings));
	g_assert_cmpuint(findings->len, ==, 1);
	g_assert_cmpstr(((KlFinding *)findings->pdata[0])->event_id,
			==,
			"measured_boot.missing_pcrs");
	g_assert_nonnull(strstr(((KlFinding *)findings->pdata[0])->reason, "14"));
}

/* a site's own policy, using rules the shipped ones do not */
static void
kl_mb_policy_test_custom(void)
{
	const gchar *text =
		"{\"name\": \"site\", \"relevant_pcrs\": [4], \"collect\": [\"apps\"],"
		" \"events\": {\"op\": \"dispatch\", \"keys\": [\"PCRIndex\"], \"cases\": ["
		"  {\"match\": [4], \"test\": {\"op\": \"and\", \"all\": ["
		"    {\"op\": \"field\", \"name\": \"EventNum\", \"test\": {\"op\": "
		"\"not-an-op\"}}]}}]}}";
	const gchar *site = "{\"name\": \"site\", \"relevant_pcrs\": [4], \"collect\": [\"apps\"],"
			    " \"events\": {\"op\": \"or\", \"any\": ["
			    "  {\"op\": \"field\", \"name\": \"PCRIndex\", \"test\": {\"op\": "
			    "\"int\", \"equal\": 4}, \"show_name\": false},"
			    "  {\"op\": \"field\", \"name\": \"EventType\", \"test\": {\"op\": "
			    "\"string\", \"equal\": \"ev_separator\", \"ignore_case\": true}},"
			    "  {\"op\": \"once\", \"times\": 2, \"test\": {\"op\": \"accept\"}}]},"
			    " \"final\": {\"op\": \"field\", \"name\": \"apps\", \"test\": "
			    "{\"op\": \"tuple\", \"pad\": true,"
			    "  \"items\": [{\"op\": \"accept\"}]}}}";
	g_autoptr(GError) error = NULL;
	g_autoptr(KlMbPolicy) bad = kl_mb_policy_new_from_json(text, strlen(text), &error);
	g_autoptr(KlMbPolicy) policy = NULL;
	g_autoptr(JsonArray) events = kl_mb_test_log_new(TRUE);
	g_autoptr(KlMbRefstate) refstate =
		kl_mb_refstate_new_from_events(events, FALSE, NULL, NULL);
	g_autoptr(GPtrArray) findings = kl_findings_new();

	g_assert_error(error, KL_MB_ERROR, KL_MB_ERROR_INVALID_POLICY);
	g_assert_nonnull(strstr(error->message, "not-an-op"));
	g_assert_null(bad);
	g_clear_error(&error);

	policy = kl_mb_policy_new_from_json(site, strlen(site), &error);
	g_assert_no_error(error);
	g_assert_true(kl_mb_policy_evaluate(policy, refstate, events, findings, &error));
	/* PCR 4 events and separators pass; two others by "once"; the rest fail */
	for (guint i = 0; i < findings->len; i++)
		g_assert_cmpstr(((KlFinding *)findings->pdata[i])->reason,
				==,
				"[is not 4, EventType is not 'ev_separator', test was already run "
				"the allowed number of times]");
	g_assert_cmpuint(findings->len, ==, json_array_get_length(events) - 4 - 8 - 2);
}

static void
kl_mb_policy_test_bad_policies(void)
{
	const gchar *cases[] = {
		"",
		"[]",
		"{\"relevant_pcrs\": [], \"events\": {\"op\": \"accept\"}}",
		"{\"name\": \"x\", \"events\": {\"op\": \"accept\"}}",
		"{\"name\": \"x\", \"relevant_pcrs\": [24], \"events\": {\"op\": \"accept\"}}",
		"{\"name\": \"x\", \"relevant_pcrs\": [\"0\"], \"events\": {\"op\": \"accept\"}}",
		"{\"name\": \"x\", \"relevant_pcrs\": []}",
		"{\"name\": \"x\", \"relevant_pcrs\": [], \"events\": []}",
		"{\"name\": \"x\", \"relevant_pcrs\": [], \"events\": {\"op\": \"collect\", "
		"\"into\": \"y\"}}",
		"{\"name\": \"x\", \"relevant_pcrs\": [], \"events\": {\"op\": \"reject\", "
		"\"reason\": \"\"}}",
		"{\"name\": \"x\", \"relevant_pcrs\": [], \"events\": {\"op\": \"regex\", "
		"\"pattern\": \"(\"}}",
		"{\"name\": \"x\", \"relevant_pcrs\": [], \"events\": {\"op\": \"dispatch\", "
		"\"keys\": [\"a\"], "
		"\"cases\": [{\"match\": [1, 2], \"test\": {\"op\": \"accept\"}}]}}",
		"{\"name\": \"x\", \"relevant_pcrs\": [], \"events\": {\"op\": \"string\", "
		"\"equal\": {\"ref\": \"$k.a\"}}}",
		"{\"name\": \"x\", \"relevant_pcrs\": [], \"events\": {\"op\": \"for_each\", "
		"\"in\": [], \"as\": \"k\", "
		"\"combine\": \"xor\", \"test\": {\"op\": \"accept\"}}}",
		"{\"name\": \"x\", \"relevant_pcrs\": [], \"events\": {\"op\": \"efi_action\", "
		"\"pcr\": 99}}",
		"{\"name\": \"x\", \"relevant_pcrs\": [], \"events\": {\"op\": \"once\", "
		"\"times\": 0, \"test\": {\"op\": \"accept\"}}}",
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(KlMbPolicy) policy =
			kl_mb_policy_new_from_json(cases[i], strlen(cases[i]), &error);
		if (policy != NULL)
			g_error("case %u parsed", i);
		g_assert_nonnull(error);
		g_test_message("case %u: %s", i, error->message);
	}
}

static void
kl_mb_policy_test_load_names(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *tmp = g_dir_make_tmp("kl-mb-policy-XXXXXX", &error);
	g_autofree gchar *path = g_build_filename(tmp, "renamed.json", NULL);
	const gchar *dirs[] = {tmp, NULL};
	const gchar *bad_names[] = {"../example", "", ".hidden", "a/b"};
	g_autoptr(KlMbPolicy) policy = NULL;

	g_assert_no_error(error);
	for (guint i = 0; i < G_N_ELEMENTS(bad_names); i++) {
		policy = kl_mb_policy_load(bad_names[i], dirs, &error);
		g_assert_error(error, KL_MB_ERROR, KL_MB_ERROR_NOT_FOUND);
		g_clear_error(&error);
	}
	policy = kl_mb_policy_load("missing", dirs, &error);
	g_assert_error(error, KL_MB_ERROR, KL_MB_ERROR_NOT_FOUND);
	g_clear_error(&error);

	/* the file's name and the policy's must agree */
	g_assert_true(g_file_set_contents(
		path,
		"{\"name\": \"other\", \"relevant_pcrs\": [], \"events\": {\"op\": \"accept\"}}",
		-1,
		NULL));
	policy = kl_mb_policy_load("renamed", dirs, &error);
	g_assert_error(error, KL_MB_ERROR, KL_MB_ERROR_INVALID_POLICY);
	g_assert_null(policy);
	g_clear_error(&error);
	g_assert_true(g_file_set_contents(
		path,
		"{\"name\": \"renamed\", \"relevant_pcrs\": [], \"events\": {\"op\": \"accept\"}}",
		-1,
		NULL));
	policy = kl_mb_policy_load("renamed", dirs, &error);
	g_assert_no_error(error);
	g_assert_nonnull(policy);
	g_unlink(path);
	g_rmdir(tmp);
}

/* the real Secure Boot log: its own reference state passes, one altered
 * digest is named */
static void
kl_mb_policy_test_real_log(void)
{
	g_autofree gchar *path = g_test_build_filename(G_TEST_DIST,
						       "data",
						       "eventlogs",
						       "binary_bios_measurements-secureboot",
						       NULL);
	g_autofree gchar *data = NULL;
	gsize length = 0;
	g_autoptr(GError) error = NULL;
	g_autoptr(KlEventLog) log = NULL;
	g_autoptr(JsonNode) events = NULL;
	g_autoptr(KlMbRefstate) refstate = NULL;
	g_autoptr(KlMbPolicy) policy = kl_mb_policy_test_load("example");
	g_autoptr(KlMbCheck) check = NULL;
	g_autoptr(GPtrArray) findings = kl_findings_new();
	g_autoptr(GPtrArray) altered = kl_findings_new();
	g_autoptr(GPtrArray) altered_kernel = kl_findings_new();
	JsonArray *array;
	JsonObject *mok;
	JsonObject *kernel = NULL;
	g_autofree gchar *subject = NULL;
	g_autofree gchar *mok_digest = NULL;

	g_assert_true(g_file_get_contents(path, &data, &length, &error));
	log = kl_eventlog_new_from_data((const guint8 *)data, length, &error);
	g_assert_no_error(error);
	events = kl_eventlog_events_to_json(log);
	array = json_node_get_array(events);
	refstate = kl_mb_refstate_new_from_events(array, FALSE, NULL, &error);
	g_assert_no_error(error);
	check = kl_mb_policy_compile(policy, refstate, &error);
	g_assert_no_error(error);
	g_assert_true(kl_mb_check_evaluate(check, array, findings));
	g_assert_cmpuint(findings->len, ==, 0);

	/* the MokList digest (PCR 14), judged event by event */
	mok = kl_mb_test_find(array, "EV_IPL", "MokList");
	mok_digest = g_strdup(json_object_get_string_member(
		json_array_get_object_element(json_object_get_array_member(mok, "Digests"), 0),
		"Digest"));
	kl_mb_test_set_digest(mok, "altered");
	g_assert_false(kl_mb_check_evaluate(check, array, altered));
	subject = g_strdup_printf("event %" G_GINT64_FORMAT " (EV_IPL, PCR 14)",
				  json_object_get_int_member(mok, "EventNum"));
	kl_mb_policy_test_assert_one(altered, subject, "has no digest approved by");
	g_clear_pointer(&subject, g_free);

	/* the kernel's Authenticode digest, judged at the end but named */
	json_object_set_string_member(
		json_array_get_object_element(json_object_get_array_member(mok, "Digests"), 0),
		"Digest",
		mok_digest);
	for (guint i = 0, n = 0; i < json_array_get_length(array); i++) {
		JsonObject *object = json_array_get_object_element(array, i);
		if (g_strcmp0(json_object_get_string_member(object, "EventType"),
			      "EV_EFI_BOOT_SERVICES_APPLICATION") == 0 &&
		    ++n == 3)
			kernel = object;
	}
	g_assert_nonnull(kernel);
	kl_mb_test_set_digest(kernel, "altered");
	g_assert_false(kl_mb_check_evaluate(check, array, altered_kernel));
	subject = g_strdup_printf("event %" G_GINT64_FORMAT " (EV_EFI_BOOT_SERVICES_APPLICATION)",
				  json_object_get_int_member(kernel, "EventNum"));
	kl_mb_policy_test_assert_one(altered_kernel, subject, "has no digest approved by");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/mb-policy/example/secureboot", kl_mb_policy_test_example_secureboot);
	g_test_add_func("/mb-policy/example/no-secureboot",
			kl_mb_policy_test_example_no_secureboot);
	g_test_add_func("/mb-policy/example/altered-kernel",
			kl_mb_policy_test_example_altered_kernel);
	g_test_add_func("/mb-policy/example/changed-dbx", kl_mb_policy_test_example_changed_dbx);
	g_test_add_func("/mb-policy/example/cmdline", kl_mb_policy_test_example_cmdline);
	g_test_add_func("/mb-policy/example/unexpected", kl_mb_policy_test_example_unexpected);
	g_test_add_func("/mb-policy/example/separator", kl_mb_policy_test_example_separator);
	g_test_add_func("/mb-policy/accept-reject-all", kl_mb_policy_test_accept_reject_all);
	g_test_add_func("/mb-policy/refstate-mismatch", kl_mb_policy_test_refstate_mismatch);
	g_test_add_func("/mb-policy/pcrs", kl_mb_policy_test_pcrs);
	g_test_add_func("/mb-policy/custom", kl_mb_policy_test_custom);
	g_test_add_func("/mb-policy/bad-policies", kl_mb_policy_test_bad_policies);
	g_test_add_func("/mb-policy/load-names", kl_mb_policy_test_load_names);
	g_test_add_func("/mb-policy/real-log", kl_mb_policy_test_real_log);
	return g_test_run();
}
