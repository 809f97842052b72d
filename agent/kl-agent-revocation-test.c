#include "config.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "kl-agent-revocation.h"
#include "kl-crypto.h"
#include "kl-error.h"
#include "kl-json.h"
#include "kl-test-dir.h"
#include "kl-test-wait.h"
#include "kl-x509.h"

#define MSG                                                                                     \
	"{\"type\": \"revocation\", \"ip\": \"127.0.0.1\", \"agent_id\": \"bad-agent\", "       \
	"\"port\": 9002, \"tpm_policy\": \"{}\", \"meta_data\": \"{\\\"cert_serial\\\": 2}\", " \
	"\"event_time\": \"Mon Aug  3 07:14:14 2026\"}"

static EVP_PKEY *notifier_key = NULL;
static X509 *notifier_cert = NULL;

/* A secure dir with the certificate package's notifier certificate, an
 * actions dir, and the options pointing at them. */
typedef struct {
	KlTestDir *dir;
	gchar *secure;
	gchar *unzipped;
	gchar *actions;
	gchar *work;
	KlAgentRevocationOptions options;
} Fixture;

static void
write_script(const gchar *dir, const gchar *name, const gchar *body, guint mode)
{
	g_autofree gchar *path = g_build_filename(dir, name, NULL);
	g_autofree gchar *text = g_strdup_printf("#!/bin/sh\n%s\n", body);
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	g_assert_cmpint(chmod(path, mode), ==, 0);
}

static void
fixture_setup(Fixture *fx, gconstpointer user_data)
{
	g_autofree gchar *pem = NULL;
	g_autofree gchar *cert_path = NULL;
	g_autoptr(GError) error = NULL;

	fx->dir = kl_test_dir_new();
	fx->secure = kl_test_dir_build(fx->dir, "secure", NULL);
	fx->unzipped = g_build_filename(fx->secure, "unzipped", NULL);
	fx->actions = kl_test_dir_build(fx->dir, "actions", NULL);
	fx->work = kl_test_dir_build(fx->dir, "work", NULL);
	g_assert_cmpint(g_mkdir_with_parents(fx->unzipped, 0700), ==, 0);
	g_assert_cmpint(g_mkdir(fx->actions, 0700), ==, 0);
	g_assert_cmpint(g_mkdir(fx->work, 0700), ==, 0);
	pem = kl_x509_to_pem(notifier_cert, &error);
	g_assert_no_error(error);
	cert_path = g_build_filename(fx->unzipped, KL_AGENT_REVOCATION_CERT_NAME, NULL);
	g_assert_true(g_file_set_contents(cert_path, pem, -1, NULL));

	kl_agent_revocation_options_init(&fx->options, fx->secure, fx->work);
	fx->options.revocation_actions_dir = fx->actions;
	fx->options.timeout_seconds = 10;
}

static void
fixture_teardown(Fixture *fx, gconstpointer user_data)
{
	g_free(fx->secure);
	g_free(fx->unzipped);
	g_free(fx->actions);
	g_free(fx->work);
	kl_test_dir_free(fx->dir);
}

static gchar *
sign(EVP_PKEY *key, const gchar *msg)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) sig =
		kl_crypto_rsa_pss_sign(key, (const guint8 *)msg, strlen(msg), &error);
	g_assert_no_error(error);
	return g_base64_encode(g_bytes_get_data(sig, NULL), g_bytes_get_size(sig));
}

static JsonObject *
make_body(const gchar *msg, const gchar *signature)
{
	JsonObject *body = json_object_new();
	json_object_set_string_member(body, "msg", msg);
	json_object_set_string_member(body, "signature", signature);
	return body;
}

static void
on_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GAsyncResult **result = user_data;
	*result = g_object_ref(res);
}

static gboolean
process(Fixture *fx, JsonObject *body, guint *n_run, GError **error)
{
	GAsyncResult *result = NULL;
	gboolean ok;

	kl_agent_revocation_process_async(&fx->options, body, NULL, on_done, &result);
	g_assert_true(kl_test_wait_for_pointer((gpointer *)&result, 30000));
	ok = kl_agent_revocation_process_finish(result, n_run, error);
	g_object_unref(result);
	return ok;
}

static gboolean
file_exists(const gchar *dir, const gchar *name)
{
	g_autofree gchar *path = g_build_filename(dir, name, NULL);
	return g_file_test(path, G_FILE_TEST_EXISTS);
}

static void
test_signed_runs_action(Fixture *fx, gconstpointer user_data)
{
	g_autofree gchar *signature = sign(notifier_key, MSG);
	g_autoptr(JsonObject) body = make_body(MSG, signature);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *marker = g_build_filename(fx->work, "marker", NULL);
	g_autofree gchar *script = g_strdup_printf("cat > '%s'\npwd > '%s.cwd'", marker, marker);
	g_autofree gchar *copied = NULL;
	g_autofree gchar *cwd = NULL;
	g_autofree gchar *cwd_path = g_strdup_printf("%s.cwd", marker);
	g_autoptr(JsonObject) event = NULL;
	guint n_run = 0;
	GDir *work;
	const gchar *name;
	guint n_files = 0;

	write_script(fx->actions, "local_action_marker", script, 0755);
	fx->options.revocation_actions = "[local_action_marker]";
	g_assert_true(process(fx, body, &n_run, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(n_run, ==, 1);

	/* the action got the msg JSON on stdin, and ran in the payload's
	 * directory */
	g_assert_true(g_file_get_contents(marker, &copied, NULL, NULL));
	event = kl_json_parse_object(copied, strlen(copied), 65536, 8, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(json_object_get_string_member(event, "agent_id"), ==, "bad-agent");
	g_assert_true(g_file_get_contents(cwd_path, &cwd, NULL, NULL));
	g_strchomp(cwd);
	g_assert_cmpstr(cwd, ==, fx->unzipped);
	/* nothing else was left behind */
	work = g_dir_open(fx->work, 0, NULL);
	while ((name = g_dir_read_name(work)) != NULL)
		n_files++;
	g_dir_close(work);
	g_assert_cmpuint(n_files, ==, 2);
}

static void
test_tampered(Fixture *fx, gconstpointer user_data)
{
	g_autofree gchar *signature = sign(notifier_key, MSG);
	g_autofree gchar *tampered = g_strdup(MSG);
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) other = kl_key_generate_rsa(2048, &error);
	g_autofree gchar *other_sig = sign(other, MSG);
	g_autofree gchar *marker = g_build_filename(fx->work, "marker", NULL);
	g_autofree gchar *script = g_strdup_printf("touch '%s'", marker);
	const gchar *sigs[] = {NULL, NULL, "", "not base64!", "AAAA"};

	write_script(fx->actions, "local_action_marker", script, 0755);
	fx->options.revocation_actions = "local_action_marker";
	*strstr(tampered, "bad-agent") = 'B';
	{
		g_autoptr(JsonObject) body = make_body(tampered, signature);
		g_assert_false(process(fx, body, NULL, &error));
		g_assert_error(error, KL_ERROR, KL_ERROR_VERIFICATION_FAILED);
		g_clear_error(&error);
	}
	sigs[0] = other_sig;
	sigs[1] = signature;
	for (guint i = 0; i < G_N_ELEMENTS(sigs); i++) {
		g_autoptr(JsonObject) body = make_body(i == 1 ? "{}" : MSG, sigs[i]);
		g_assert_false(process(fx, body, NULL, &error));
		g_assert_error(error, KL_ERROR, KL_ERROR_VERIFICATION_FAILED);
		g_clear_error(&error);
	}
	g_assert_false(file_exists(fx->work, "marker"));

	/* no certificate yet: nothing runs either */
	{
		g_autoptr(JsonObject) body = make_body(MSG, signature);
		fx->options.revocation_cert = "/nonexistent/cert.crt";
		g_assert_false(process(fx, body, NULL, &error));
		g_assert_nonnull(error);
		g_clear_error(&error);
	}
	/* missing members */
	{
		g_autoptr(JsonObject) body = json_object_new();
		json_object_set_string_member(body, "msg", MSG);
		fx->options.revocation_cert = NULL;
		g_assert_false(process(fx, body, NULL, &error));
		g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	}
	g_assert_false(file_exists(fx->work, "marker"));
}

static void
test_payload_actions(Fixture *fx, gconstpointer user_data)
{
	g_autofree gchar *signature = sign(notifier_key, MSG);
	g_autoptr(JsonObject) body = make_body(MSG, signature);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *list = g_build_filename(fx->unzipped, "action_list", NULL);
	g_autofree gchar *script_a = g_strdup_printf("echo a >> '%s/order'", fx->work);
	g_autofree gchar *script_b = g_strdup_printf("echo b >> '%s/order'", fx->work);
	g_autofree gchar *script_c = g_strdup_printf("echo c >> '%s/order'", fx->work);
	g_autofree gchar *order = NULL;
	g_autofree gchar *order_path = g_build_filename(fx->work, "order", NULL);
	guint n_run = 0;

	write_script(fx->actions, "configured", script_a, 0755);
	write_script(fx->unzipped, "from_payload", script_b, 0700);
	/* a pre-installed action of the same name wins over the payload's */
	write_script(fx->actions, "both", script_c, 0755);
	write_script(fx->unzipped, "both", "exit 1", 0700);
	g_assert_true(g_file_set_contents(list, "from_payload,both\n", -1, NULL));
	fx->options.revocation_actions = "configured";

	g_assert_true(process(fx, body, &n_run, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(n_run, ==, 3);
	g_assert_true(g_file_get_contents(order_path, &order, NULL, NULL));
	g_assert_cmpstr(order, ==, "a\nb\nc\n");
	g_unlink(order_path);

	/* payload actions disallowed: "from_payload" is not found, and the
	 * remaining actions do not run */
	fx->options.allow_payload_revocation_actions = FALSE;
	g_assert_false(process(fx, body, &n_run, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, "from_payload"));
	g_assert_cmpuint(n_run, ==, 1);
	g_clear_pointer(&order, g_free);
	g_assert_true(g_file_get_contents(order_path, &order, NULL, NULL));
	g_assert_cmpstr(order, ==, "a\n");
}

static void
test_failing_action(Fixture *fx, gconstpointer user_data)
{
	g_autofree gchar *signature = sign(notifier_key, MSG);
	g_autoptr(JsonObject) body = make_body(MSG, signature);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *marker = g_build_filename(fx->work, "after", NULL);
	g_autofree gchar *script = g_strdup_printf("touch '%s'", marker);
	guint n_run = 0;

	write_script(fx->actions, "fails", "echo oops >&2; exit 2", 0755);
	write_script(fx->actions, "after", script, 0755);
	write_script(fx->actions, "slow", "sleep 60", 0755);
	fx->options.revocation_actions = "fails after";
	g_assert_false(process(fx, body, &n_run, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_INTERNAL);
	g_assert_nonnull(strstr(error->message, "fails"));
	g_assert_cmpuint(n_run, ==, 0);
	g_assert_false(g_file_test(marker, G_FILE_TEST_EXISTS));
	g_clear_error(&error);

	fx->options.revocation_actions = "slow after";
	fx->options.timeout_seconds = 1;
	g_assert_false(process(fx, body, &n_run, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_TIMED_OUT);
	g_assert_false(g_file_test(marker, G_FILE_TEST_EXISTS));
	g_clear_error(&error);

	/* names with path separators are refused before anything runs */
	fx->options.revocation_actions = "after, ../../bin/true";
	g_assert_false(process(fx, body, &n_run, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_assert_false(g_file_test(marker, G_FILE_TEST_EXISTS));
}

static void
test_lookup(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *found = NULL;
	g_autofree gchar *outside = kl_test_dir_build(fx->dir, "outside-script", NULL);
	g_autofree gchar *link = g_build_filename(fx->unzipped, "linked", NULL);

	write_script(fx->unzipped, "payload_only", "true", 0700);
	found = kl_agent_revocation_lookup_action(&fx->options, "payload_only", &error);
	g_assert_no_error(error);
	g_assert_true(g_str_has_prefix(found, fx->unzipped));
	g_clear_pointer(&found, g_free);

	/* a link planted in the payload is not an action */
	g_assert_true(g_file_set_contents(outside, "#!/bin/sh\n", -1, NULL));
	g_assert_cmpint(symlink(outside, link), ==, 0);
	found = kl_agent_revocation_lookup_action(&fx->options, "linked", &error);
	g_assert_error(error, KL_ERROR, KL_ERROR_NOT_FOUND);
	g_clear_error(&error);
	found = kl_agent_revocation_lookup_action(&fx->options, "a/b", &error);
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
}

static void
test_parse_list(void)
{
	struct {
		const gchar *text;
		const gchar *expected;
	} cases[] = {
		{"a b c", "a|b|c"},
		{"[a, b]", "a|b"},
		{"['a', \"b\", c]", "a|b|c"},
		{"aa,bb,cc", "aa|bb|cc"},
		{"aa\nbb\r\ncc\t", "aa|bb|cc"},
		{"local_action_a,local_action_b", "local_action_a|local_action_b"},
		{"", ""},
		{"[]", ""},
		{" \n \t \r", ""},
		{"'', ''", ""},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_auto(GStrv) items = kl_agent_parse_action_list(cases[i].text);
		g_autofree gchar *joined = g_strjoinv("|", items);
		g_assert_cmpstr(joined, ==, cases[i].expected);
	}
}

static void
test_cert_path(void)
{
	KlAgentRevocationOptions options;
	g_autofree gchar *def = NULL;
	g_autofree gchar *rel = NULL;
	g_autofree gchar *abs = NULL;

	kl_agent_revocation_options_init(&options, "/var/lib/keylime/secure", "/var/lib/keylime");
	def = kl_agent_revocation_cert_path(&options);
	g_assert_cmpstr(def, ==, "/var/lib/keylime/secure/unzipped/RevocationNotifier-cert.crt");
	options.revocation_cert = "other.crt";
	rel = kl_agent_revocation_cert_path(&options);
	g_assert_cmpstr(rel, ==, "/var/lib/keylime/secure/unzipped/other.crt");
	options.revocation_cert = "/etc/keylime/rev.crt";
	abs = kl_agent_revocation_cert_path(&options);
	g_assert_cmpstr(abs, ==, "/etc/keylime/rev.crt");
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	KlCertRequest request = {
		.common_name = "RevocationNotifier",
		.days = 30,
		.usage = KL_CERT_USAGE_CLIENT,
	};
	int rc;

	/* as keylime_agent does: an action that does not read stdin */
	signal(SIGPIPE, SIG_IGN);
	g_test_init(&argc, &argv, NULL);
	notifier_key = kl_key_generate_rsa(2048, &error);
	g_assert_no_error(error);
	notifier_cert = kl_x509_issue(&request, notifier_key, NULL, notifier_key, &error);
	g_assert_no_error(error);

	g_test_add_func("/agent-revocation/parse-list", test_parse_list);
	g_test_add_func("/agent-revocation/cert-path", test_cert_path);
	g_test_add("/agent-revocation/signed-runs-action",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_signed_runs_action,
		   fixture_teardown);
	g_test_add("/agent-revocation/tampered",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_tampered,
		   fixture_teardown);
	g_test_add("/agent-revocation/payload-actions",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_payload_actions,
		   fixture_teardown);
	g_test_add("/agent-revocation/failing-action",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_failing_action,
		   fixture_teardown);
	g_test_add("/agent-revocation/lookup",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_lookup,
		   fixture_teardown);
	rc = g_test_run();
	X509_free(notifier_cert);
	EVP_PKEY_free(notifier_key);
	return rc;
}
