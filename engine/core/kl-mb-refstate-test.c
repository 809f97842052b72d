/*
 * Tests for kl-mb-refstate: validation of hand-written reference states and
 * extraction from synthetic event logs as upstream's create_mb_refstate.
 */
#include "config.h"

#include "kl-mb-refstate.h"
#include "kl-mb-test-events.h"

static JsonObject *
kl_mb_refstate_test_kernel(KlMbRefstate *refstate)
{
	JsonArray *kernels =
		json_object_get_array_member(kl_mb_refstate_get_object(refstate), "kernels");
	g_assert_cmpuint(json_array_get_length(kernels), ==, 1);
	return json_array_get_object_element(kernels, 0);
}

static void
kl_mb_refstate_test_regex_escape(void)
{
	/* what Python 3.7+'s re.escape() gives */
	const struct {
		const gchar *in;
		const gchar *out;
	} cases[] = {
		{"a b-c.d_e/f=g,h:i", "a\\ b\\-c\\.d_e/f=g,h:i"},
		{"(hd0,gpt2)/vmlinuz", "\\(hd0,gpt2\\)/vmlinuz"},
		{"x*+?|^$\\[]{}&~#", "x\\*\\+\\?\\|\\^\\$\\\\\\[\\]\\{\\}\\&\\~\\#"},
		{"a\tb", "a\\\tb"},
		{"", ""},
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *out = kl_mb_regex_escape(cases[i].in);
		g_assert_cmpstr(out, ==, cases[i].out);
	}
}

static void
kl_mb_refstate_test_from_events_secureboot(void)
{
	g_autoptr(JsonArray) events = kl_mb_test_log_new(TRUE);
	g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) error = NULL;
	g_autoptr(KlMbRefstate) refstate =
		kl_mb_refstate_new_from_events(events, FALSE, warnings, &error);
	g_autoptr(KlMbRefstate) reparsed = NULL;
	g_autofree gchar *shim = kl_mb_test_digest("shim");
	g_autofree gchar *expected = g_strdup_printf("0x%s", shim);
	g_autofree gchar *json = NULL;
	JsonObject *object;
	JsonObject *kernel;
	JsonArray *sigs;

	g_assert_no_error(error);
	g_assert_nonnull(refstate);
	g_assert_cmpuint(warnings->len, ==, 0);
	g_assert_true(kl_mb_refstate_has_secureboot(refstate));
	g_assert_false(kl_mb_refstate_is_empty(refstate));
	object = kl_mb_refstate_get_object(refstate);
	g_assert_cmpuint(json_array_get_length(json_object_get_array_member(object, "pk")), ==, 1);
	sigs = json_object_get_array_member(object, "db");
	g_assert_cmpuint(json_array_get_length(sigs), ==, 2);
	g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(sigs, 1),
						      "SignatureData"),
			==,
			"0xaa04");
	g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(sigs, 1),
						      "SignatureOwner"),
			==,
			KL_MB_TEST_OWNER);
	g_assert_cmpuint(json_array_get_length(json_object_get_array_member(object, "dbx")), ==, 2);
	g_assert_cmpuint(json_array_get_length(json_object_get_array_member(object, "mokdig")),
			 ==,
			 1);
	g_assert_cmpuint(json_array_get_length(json_object_get_array_member(object, "mokxdig")),
			 ==,
			 0);
	g_assert_cmpuint(json_array_get_length(json_object_get_array_member(
				 json_array_get_object_element(
					 json_object_get_array_member(object, "scrtm_and_bios"),
					 0),
				 "platform_firmware")),
			 ==,
			 2);
	kernel = kl_mb_refstate_test_kernel(refstate);
	g_assert_cmpstr(json_object_get_string_member(kernel, "shim_authcode_sha256"),
			==,
			expected);
	g_assert_true(json_object_has_member(kernel, "kernel_authcode_sha256"));
	g_assert_true(json_object_has_member(kernel, "initrd_plain_sha256"));
	g_assert_false(json_object_has_member(kernel, "vmlinuz_plain_sha256"));
	g_assert_cmpstr(json_object_get_string_member(kernel, "kernel_cmdline"),
			==,
			"\\(hd0,gpt2\\)/vmlinuz\\-6\\.1\\ root=/dev/sda1\\ ro\\ quiet");

	/* what we write, we read back */
	json = kl_mb_refstate_to_json(refstate, FALSE);
	reparsed = kl_mb_refstate_new_from_json(json, strlen(json), &error);
	g_assert_no_error(error);
	g_assert_nonnull(reparsed);
}

static void
kl_mb_refstate_test_from_events_no_secureboot(void)
{
	g_autoptr(JsonArray) events = kl_mb_test_log_new(FALSE);
	g_autoptr(GError) error = NULL;
	g_autoptr(KlMbRefstate) refused =
		kl_mb_refstate_new_from_events(events, FALSE, NULL, &error);
	g_autoptr(KlMbRefstate) refstate = NULL;
	JsonObject *kernel;

	/* Secure Boot off needs -i: nothing written */
	g_assert_error(error, KL_MB_ERROR, KL_MB_ERROR_SECUREBOOT);
	g_assert_null(refused);
	g_clear_error(&error);

	refstate = kl_mb_refstate_new_from_events(events, TRUE, NULL, &error);
	g_assert_no_error(error);
	g_assert_false(kl_mb_refstate_has_secureboot(refstate));
	kernel = kl_mb_refstate_test_kernel(refstate);
	g_assert_false(json_object_has_member(kernel, "kernel_authcode_sha256"));
	g_assert_true(json_object_has_member(kernel, "vmlinuz_plain_sha256"));
	g_assert_cmpuint(
		json_array_get_length(
			json_object_get_array_member(kl_mb_refstate_get_object(refstate), "pk")),
		==,
		0);
}

static void
kl_mb_refstate_test_from_events_warning(void)
{
	g_autoptr(JsonArray) events = kl_mb_test_log_new(TRUE);
	g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) error = NULL;
	g_autoptr(KlMbRefstate) refstate =
		kl_mb_refstate_new_from_events(events, TRUE, warnings, &error);

	g_assert_no_error(error);
	g_assert_cmpuint(warnings->len, ==, 1);
	g_assert_nonnull(strstr(warnings->pdata[0], "--without-secureboot"));
	/* the log wins */
	g_assert_true(kl_mb_refstate_has_secureboot(refstate));
}

static void
kl_mb_refstate_test_from_events_firmware_apps(void)
{
	g_autoptr(JsonArray) events = kl_mb_test_log_new(TRUE);
	g_autoptr(GError) error = NULL;
	g_autoptr(KlMbRefstate) refstate = NULL;
	g_autofree gchar *grub = kl_mb_test_digest("grub");
	g_autofree gchar *expected = g_strdup_printf("0x%s", grub);

	/* a firmware boot menu: ignored, shim stays first */
	kl_mb_test_add_app(events,
			   "bootmenu",
			   "FvVol(7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1)/"
			   "FvFile(462caa21-7614-4503-836e-8ab6f4662331)");
	refstate = kl_mb_refstate_new_from_events(events, FALSE, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(json_object_get_string_member(kl_mb_refstate_test_kernel(refstate),
						      "grub_authcode_sha256"),
			==,
			expected);
}

static void
kl_mb_refstate_test_from_events_bad(void)
{
	g_autoptr(JsonArray) empty = json_array_new();
	g_autoptr(JsonArray) apps = kl_mb_test_log_new(TRUE);
	g_autoptr(JsonArray) no_sb = json_array_new();
	g_autoptr(JsonArray) garbage = json_array_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(KlMbRefstate) refstate = NULL;
	g_autofree gchar *zero = g_strnfill(64, '0');

	refstate = kl_mb_refstate_new_from_events(empty, FALSE, NULL, &error);
	g_assert_error(error, KL_MB_ERROR, KL_MB_ERROR_INVALID_LOG);
	g_assert_null(refstate);
	g_clear_error(&error);

	/* five applications: not a shim, GRUB, Linux boot */
	kl_mb_test_add_app(apps, "extra1", "HD(1)/a.efi");
	kl_mb_test_add_app(apps, "extra2", "HD(1)/b.efi");
	refstate = kl_mb_refstate_new_from_events(apps, FALSE, NULL, &error);
	g_assert_error(error, KL_MB_ERROR, KL_MB_ERROR_INVALID_LOG);
	g_assert_nonnull(strstr(error->message, "has 5"));
	g_clear_error(&error);

	kl_mb_test_add(no_sb, 0, "EV_NO_ACTION", zero, NULL);
	refstate = kl_mb_refstate_new_from_events(no_sb, FALSE, NULL, &error);
	g_assert_error(error, KL_MB_ERROR, KL_MB_ERROR_INVALID_LOG);
	g_assert_nonnull(strstr(error->message, "SecureBoot"));
	g_clear_error(&error);

	json_array_add_string_element(garbage, "not an event");
	refstate = kl_mb_refstate_new_from_events(garbage, FALSE, NULL, &error);
	g_assert_error(error, KL_MB_ERROR, KL_MB_ERROR_INVALID_LOG);
	g_clear_error(&error);
}

static void
kl_mb_refstate_test_parse(void)
{
	const gchar *good = "{\"has_secureboot\": false, \"scrtm_and_bios\": [{\"scrtm\": "
			    "{\"sha256\": \"0xab\"}, "
			    "\"platform_firmware\": [{\"sha256\": \"0x01\"}]}], \"pk\": [], "
			    "\"kek\": [], \"db\": [], "
			    "\"dbx\": [{\"SignatureOwner\": \"x\", \"SignatureData\": \"0xcc\"}], "
			    "\"mokdig\": [], "
			    "\"mokxdig\": [], \"kernels\": [{\"shim_authcode_sha256\": \"0x01\", "
			    "\"kernel_cmdline\": "
			    "\"root=.*\"}], \"future_member\": 1}";
	g_autoptr(GError) error = NULL;
	g_autoptr(KlMbRefstate) refstate = kl_mb_refstate_new_from_json(good, strlen(good), &error);
	g_autoptr(KlMbRefstate) empty = kl_mb_refstate_new_from_json("{}", 2, &error);

	g_assert_no_error(error);
	g_assert_false(kl_mb_refstate_has_secureboot(refstate));
	g_assert_true(kl_mb_refstate_is_empty(empty));
	/* upstream's default */
	g_assert_true(kl_mb_refstate_has_secureboot(empty));
}

static void
kl_mb_refstate_test_parse_bad(void)
{
	const struct {
		const gchar *json;
		const gchar *names; /* the member the error must name */
	} cases[] = {
		{"[]", NULL},
		{"{\"has_secureboot\": \"yes\"}", "has_secureboot"},
		{"{\"pk\": [{\"SignatureOwner\": \"x\", \"SignatureData\": \"cc\"}]}", "pk[0]"},
		{"{\"dbx\": [{\"SignatureOwner\": \"x\", \"SignatureData\": \"0xCC\"}]}",
		 "SignatureData"},
		{"{\"kek\": [{\"SignatureData\": \"0xcc\"}]}", "SignatureOwner"},
		{"{\"db\": {}}", "db"},
		{"{\"mokdig\": [{\"sha256\": \"0x\"}]}", "mokdig[0]"},
		{"{\"mokxdig\": [\"0x00\"]}", "mokxdig[0]"},
		{"{\"scrtm_and_bios\": [{\"platform_firmware\": []}]}", "scrtm"},
		{"{\"scrtm_and_bios\": [{\"scrtm\": {\"sha256\": \"0x00\"}}]}",
		 "platform_firmware"},
		{"{\"kernels\": {}}", "kernels"},
		{"{\"kernels\": [{\"initrd_plain_sha256\": \"0xg0\"}]}", "initrd_plain_sha256"},
		{"{\"kernels\": [{\"kernel_cmdline\": \"(unclosed\"}]}", "kernel_cmdline"},
		{"{\"kernels\": [{\"kernel_cmdline\": 7}]}", "kernel_cmdline"},
		{"not json", NULL},
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(KlMbRefstate) refstate =
			kl_mb_refstate_new_from_json(cases[i].json, strlen(cases[i].json), &error);
		g_assert_null(refstate);
		g_assert_nonnull(error);
		if (cases[i].names != NULL) {
			g_assert_error(error, KL_MB_ERROR, KL_MB_ERROR_INVALID_REFSTATE);
			if (strstr(error->message, cases[i].names) == NULL)
				g_error("case %u: \"%s\" does not name %s",
					i,
					error->message,
					cases[i].names);
		}
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/mb-refstate/regex-escape", kl_mb_refstate_test_regex_escape);
	g_test_add_func("/mb-refstate/from-events/secureboot",
			kl_mb_refstate_test_from_events_secureboot);
	g_test_add_func("/mb-refstate/from-events/no-secureboot",
			kl_mb_refstate_test_from_events_no_secureboot);
	g_test_add_func("/mb-refstate/from-events/warning",
			kl_mb_refstate_test_from_events_warning);
	g_test_add_func("/mb-refstate/from-events/firmware-apps",
			kl_mb_refstate_test_from_events_firmware_apps);
	g_test_add_func("/mb-refstate/from-events/bad", kl_mb_refstate_test_from_events_bad);
	g_test_add_func("/mb-refstate/parse", kl_mb_refstate_test_parse);
	g_test_add_func("/mb-refstate/parse-bad", kl_mb_refstate_test_parse_bad);
	return g_test_run();
}
