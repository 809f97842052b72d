/*
 * Revocation notifications: verification and the revocation actions.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "kl-agent-keys.h"
#include "kl-agent-revocation.h"
#include "kl-base64.h"
#include "kl-error.h"
#include "kl-json.h"
#include "kl-x509.h"

void
kl_agent_revocation_options_init(KlAgentRevocationOptions *options,
				 const gchar *secure_dir,
				 const gchar *work_dir)
{
	g_return_if_fail(options != NULL);
	memset(options, 0, sizeof(*options));
	options->secure_dir = secure_dir;
	options->work_dir = work_dir;
	options->revocation_actions_dir = KL_AGENT_DEFAULT_REVOCATION_ACTIONS_DIR;
	options->allow_payload_revocation_actions = TRUE;
	options->timeout_seconds = KL_AGENT_DEFAULT_ACTION_TIMEOUT;
}

gchar **
kl_agent_parse_action_list(const gchar *text)
{
	g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *copy = g_strstrip(g_strdup(text != NULL ? text : ""));
	g_auto(GStrv) parts = NULL;
	gchar *p = copy;
	gsize len = strlen(copy);

	/* one pair of surrounding brackets, as in "['a', 'b']" */
	if (len >= 2 && copy[0] == '[' && copy[len - 1] == ']') {
		copy[len - 1] = '\0';
		p = copy + 1;
	}
	parts = g_strsplit_set(p, ", \t\r\n", -1);
	for (guint i = 0; parts[i] != NULL; i++) {
		gchar *item = parts[i];
		gsize ilen = strlen(item);

		if (ilen >= 2 && (item[0] == '\'' || item[0] == '"') && item[ilen - 1] == item[0]) {
			item[ilen - 1] = '\0';
			item++;
		}
		if (item[0] != '\0')
			g_ptr_array_add(items, g_strdup(item));
	}
	g_ptr_array_add(items, NULL);
	return (gchar **)g_ptr_array_free(g_steal_pointer(&items), FALSE);
}

gchar *
kl_agent_revocation_cert_path(const KlAgentRevocationOptions *options)
{
	const gchar *cert = options->revocation_cert;

	if (cert == NULL || cert[0] == '\0')
		cert = KL_AGENT_REVOCATION_CERT_NAME;
	if (g_path_is_absolute(cert))
		return g_strdup(cert);
	return g_build_filename(options->secure_dir, KL_AGENT_UNZIPPED_DIR, cert, NULL);
}

X509 *
kl_agent_revocation_load_cert(const KlAgentRevocationOptions *options, GError **error)
{
	g_autofree gchar *path = NULL;
	X509 *cert;

	g_return_val_if_fail(options != NULL, NULL);
	path = kl_agent_revocation_cert_path(options);
	cert = kl_x509_load_pem_file(path, error);
	if (cert == NULL)
		g_prefix_error(error, "revocation certificate %s: ", path);
	return cert;
}

JsonObject *
kl_agent_revocation_verify(X509 *cert, const gchar *msg, const gchar *signature_b64, GError **error)
{
	g_autoptr(GBytes) signature = NULL;
	g_autoptr(GError) error_local = NULL;
	EVP_PKEY *key;

	g_return_val_if_fail(cert != NULL, NULL);
	g_return_val_if_fail(msg != NULL, NULL);
	g_return_val_if_fail(signature_b64 != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	signature = kl_base64_decode(signature_b64, -1, KL_BASE64_FLAG_NONE, &error_local);
	if (signature == NULL) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_VERIFICATION_FAILED,
			    "revocation signature is not base64: %s",
			    error_local->message);
		return NULL;
	}
	key = X509_get0_pubkey(cert);
	if (key == NULL || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_VERIFICATION_FAILED,
				    "the revocation certificate has no RSA key");
		return NULL;
	}
	if (!kl_crypto_rsa_pss_verify(key,
				      (const guint8 *)msg,
				      strlen(msg),
				      g_bytes_get_data(signature, NULL),
				      g_bytes_get_size(signature),
				      &error_local)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_VERIFICATION_FAILED,
			    "Invalid revocation message signature: %s",
			    error_local->message);
		return NULL;
	}
	return kl_json_parse_object(msg,
				    strlen(msg),
				    KL_AGENT_REVOCATION_MAX_MSG,
				    KL_JSON_DEFAULT_MAX_DEPTH,
				    error);
}

JsonObject *
kl_agent_revocation_verify_request(X509 *cert, JsonObject *body, gchar **msg, GError **error)
{
	const gchar *text = NULL;
	const gchar *signature = NULL;
	JsonObject *object;

	g_return_val_if_fail(body != NULL, NULL);
	if (!kl_json_object_get_string(body, "msg", &text, error) ||
	    !kl_json_object_get_string(body, "signature", &signature, error))
		return NULL;
	object = kl_agent_revocation_verify(cert, text, signature, error);
	if (object != NULL && msg != NULL)
		*msg = g_strdup(text);
	return object;
}

gchar **
kl_agent_revocation_get_actions(const KlAgentRevocationOptions *options, GError **error)
{
	g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func(g_free);
	g_auto(GStrv) configured = kl_agent_parse_action_list(options->revocation_actions);
	g_autofree gchar *list_path = g_build_filename(options->secure_dir,
						       KL_AGENT_UNZIPPED_DIR,
						       KL_AGENT_ACTION_LIST,
						       NULL);
	g_autofree gchar *list_text = NULL;
	gsize list_len = 0;
	g_autoptr(GError) error_local = NULL;

	for (guint i = 0; configured[i] != NULL; i++)
		g_ptr_array_add(all, g_strdup(configured[i]));
	if (g_file_get_contents(list_path, &list_text, &list_len, &error_local)) {
		g_auto(GStrv) listed = NULL;
		if (list_len > 64 * 1024 || strlen(list_text) != list_len) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "%s is not a short text file",
				    list_path);
			return NULL;
		}
		listed = kl_agent_parse_action_list(list_text);
		for (guint i = 0; listed[i] != NULL; i++)
			g_ptr_array_add(all, g_strdup(listed[i]));
	} else {
		g_info("no action_list in the secure directory");
	}
	for (guint i = 0; i < all->len; i++) {
		if (!kl_agent_file_name_is_valid(g_ptr_array_index(all, i), error)) {
			g_prefix_error(error, "revocation action: ");
			return NULL;
		}
	}
	g_ptr_array_add(all, NULL);
	return (gchar **)g_ptr_array_free(g_steal_pointer(&all), FALSE);
}

gchar *
kl_agent_revocation_lookup_action(const KlAgentRevocationOptions *options,
				  const gchar *name,
				  GError **error)
{
	g_autofree gchar *installed = NULL;
	struct stat st;

	g_return_val_if_fail(options != NULL, NULL);
	if (!kl_agent_file_name_is_valid(name, error)) {
		g_prefix_error(error, "revocation action: ");
		return NULL;
	}
	/* pre-installed actions: the administrator's, links allowed */
	if (options->revocation_actions_dir != NULL) {
		installed = g_build_filename(options->revocation_actions_dir, name, NULL);
		if (stat(installed, &st) == 0 && S_ISREG(st.st_mode))
			return g_steal_pointer(&installed);
	}
	/* the tenant's, from the payload: a regular file, not a link */
	if (options->allow_payload_revocation_actions && options->secure_dir != NULL) {
		g_autofree gchar *payload =
			g_build_filename(options->secure_dir, KL_AGENT_UNZIPPED_DIR, name, NULL);
		if (lstat(payload, &st) == 0 && S_ISREG(st.st_mode))
			return g_steal_pointer(&payload);
	}
	g_set_error(error, KL_ERROR, KL_ERROR_NOT_FOUND, "Could not find action %s", name);
	return NULL;
}

/* ---- running the actions ---- */

typedef struct {
	KlAgentRevocationOptions options;
	gchar *secure_dir;
	gchar *revocation_cert;
	gchar *revocation_actions;
	gchar *revocation_actions_dir;
	gchar *work_dir;
	gchar *msg;
	gchar **actions;
	guint next;
} KlAgentRevocationRun;

static void
kl_agent_revocation_run_free(gpointer data)
{
	KlAgentRevocationRun *run = data;

	g_free(run->secure_dir);
	g_free(run->revocation_cert);
	g_free(run->revocation_actions);
	g_free(run->revocation_actions_dir);
	g_free(run->work_dir);
	g_free(run->msg);
	g_strfreev(run->actions);
	g_free(run);
}

static KlAgentRevocationRun *
kl_agent_revocation_run_new(const KlAgentRevocationOptions *options)
{
	KlAgentRevocationRun *run = g_new0(KlAgentRevocationRun, 1);

	run->secure_dir = g_strdup(options->secure_dir);
	run->revocation_cert = g_strdup(options->revocation_cert);
	run->revocation_actions = g_strdup(options->revocation_actions);
	run->revocation_actions_dir = g_strdup(options->revocation_actions_dir);
	run->work_dir = g_strdup(options->work_dir);
	run->options = *options;
	run->options.secure_dir = run->secure_dir;
	run->options.revocation_cert = run->revocation_cert;
	run->options.revocation_actions = run->revocation_actions;
	run->options.revocation_actions_dir = run->revocation_actions_dir;
	run->options.work_dir = run->work_dir;
	return run;
}

static void kl_agent_revocation_run_next(GTask *task);

static void
kl_agent_revocation_on_action(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	KlAgentRevocationRun *run = g_task_get_task_data(task);
	GError *error = NULL;
	const gchar *name = run->actions[run->next];

	if (!kl_agent_command_run_finish(res, NULL, &error)) {
		g_prefix_error(&error, "error executing revocation action %s: ", name);
		g_task_return_error(task, error);
		return;
	}
	g_info("revocation action %s successful", name);
	run->next++;
	kl_agent_revocation_run_next(g_steal_pointer(&task));
}

static void
kl_agent_revocation_run_next(GTask *task)
{
	KlAgentRevocationRun *run = g_task_get_task_data(task);
	g_autofree gchar *path = NULL;
	GError *error = NULL;

	if (run->actions[run->next] == NULL) {
		if (run->next == 0)
			g_info("no revocation actions to run");
		g_task_return_boolean(task, TRUE);
		g_object_unref(task);
		return;
	}
	path = kl_agent_revocation_lookup_action(&run->options, run->actions[run->next], &error);
	if (path == NULL) {
		g_task_return_error(task, error);
		g_object_unref(task);
		return;
	}
	g_info("executing revocation action %s", run->actions[run->next]);
	{
		/* the event on stdin, in the payload's directory */
		const gchar *argv[] = {path, NULL};
		g_autofree gchar *cwd =
			g_build_filename(run->secure_dir, KL_AGENT_UNZIPPED_DIR, NULL);
		g_autoptr(GBytes) input = g_bytes_new(run->msg, strlen(run->msg));

		kl_agent_command_run_async(argv,
					   g_file_test(cwd, G_FILE_TEST_IS_DIR) ? cwd
										: run->work_dir,
					   input,
					   run->options.timeout_seconds,
					   g_task_get_cancellable(task),
					   kl_agent_revocation_on_action,
					   task);
	}
}

static void
kl_agent_revocation_start(GTask *task, const gchar *msg)
{
	KlAgentRevocationRun *run = g_task_get_task_data(task);
	GError *error = NULL;

	run->msg = g_strdup(msg);
	run->actions = kl_agent_revocation_get_actions(&run->options, &error);
	if (run->actions == NULL) {
		g_task_return_error(task, error);
		g_object_unref(task);
		return;
	}
	kl_agent_revocation_run_next(task);
}

void
kl_agent_revocation_run_actions_async(const KlAgentRevocationOptions *options,
				      const gchar *msg,
				      GCancellable *cancellable,
				      GAsyncReadyCallback callback,
				      gpointer user_data)
{
	GTask *task = g_task_new(NULL, cancellable, callback, user_data);

	g_return_if_fail(options != NULL && msg != NULL);
	g_task_set_source_tag(task, kl_agent_revocation_run_actions_async);
	g_task_set_task_data(task,
			     kl_agent_revocation_run_new(options),
			     kl_agent_revocation_run_free);
	kl_agent_revocation_start(task, msg);
}

gboolean
kl_agent_revocation_run_actions_finish(GAsyncResult *result, guint *n_run, GError **error)
{
	KlAgentRevocationRun *run;

	g_return_val_if_fail(g_task_is_valid(result, NULL), FALSE);
	run = g_task_get_task_data(G_TASK(result));
	if (n_run != NULL)
		*n_run = run->next;
	return g_task_propagate_boolean(G_TASK(result), error);
}

void
kl_agent_revocation_process_async(const KlAgentRevocationOptions *options,
				  JsonObject *body,
				  GCancellable *cancellable,
				  GAsyncReadyCallback callback,
				  gpointer user_data)
{
	GTask *task = g_task_new(NULL, cancellable, callback, user_data);
	g_autoptr(X509) cert = NULL;
	g_autoptr(JsonObject) event = NULL;
	g_autofree gchar *msg = NULL;
	GError *error = NULL;

	g_return_if_fail(options != NULL && body != NULL);
	g_task_set_source_tag(task, kl_agent_revocation_process_async);
	g_task_set_task_data(task,
			     kl_agent_revocation_run_new(options),
			     kl_agent_revocation_run_free);

	cert = kl_agent_revocation_load_cert(options, &error);
	if (cert != NULL)
		event = kl_agent_revocation_verify_request(cert, body, &msg, &error);
	if (event == NULL) {
		g_task_return_error(task, error);
		g_object_unref(task);
		return;
	}
	g_info("revocation signature validated");
	kl_agent_revocation_start(task, msg);
}

gboolean
kl_agent_revocation_process_finish(GAsyncResult *result, guint *n_run, GError **error)
{
	return kl_agent_revocation_run_actions_finish(result, n_run, error);
}
