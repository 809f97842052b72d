/*
 * Installing and running the payload; the command runner.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "kl-agent-payload.h"
#include "kl-agent-revocation.h"
#include "kl-error.h"

void
kl_agent_payload_options_init(KlAgentPayloadOptions *options)
{
	g_return_if_fail(options != NULL);
	memset(options, 0, sizeof(*options));
	options->dec_payload_file = KL_AGENT_DEFAULT_DEC_PAYLOAD_FILE;
	options->enc_keyname = KL_AGENT_DEFAULT_ENC_KEYNAME;
	options->payload_script = KL_AGENT_DEFAULT_PAYLOAD_SCRIPT;
	options->extract_payload_zip = TRUE;
	options->timeout_seconds = KL_AGENT_DEFAULT_SCRIPT_TIMEOUT;
	kl_zip_limits_init_default(&options->limits);
}

gboolean
kl_agent_file_name_is_valid(const gchar *name, GError **error)
{
	if (name == NULL || name[0] == '\0' || strchr(name, '/') != NULL ||
	    g_strcmp0(name, ".") == 0 || g_strcmp0(name, "..") == 0 ||
	    !kl_zip_name_is_safe(name, strlen(name), NULL)) {
		g_autofree gchar *printable = g_strescape(name != NULL ? name : "", NULL);
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "'%s' is not a plain file name",
			    printable);
		return FALSE;
	}
	return TRUE;
}

static void
kl_agent_close_fd(int *fd)
{
	if (*fd >= 0)
		g_close(*fd, NULL);
	*fd = -1;
}

gboolean
kl_agent_remove_tree_at(int dirfd, const gchar *name, GError **error)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		int saved = errno;
		if (saved == ENOENT)
			return TRUE;
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INTERNAL,
			    "cannot stat %s: %s",
			    name,
			    g_strerror(saved));
		return FALSE;
	}
	if (S_ISDIR(st.st_mode)) {
		int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		DIR *dir;
		struct dirent *entry;
		gboolean ok = TRUE;

		if (fd < 0 || (dir = fdopendir(fd)) == NULL) {
			int saved = errno;
			kl_agent_close_fd(&fd);
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INTERNAL,
				    "cannot open %s: %s",
				    name,
				    g_strerror(saved));
			return FALSE;
		}
		while (ok && (entry = readdir(dir)) != NULL) {
			if (g_strcmp0(entry->d_name, ".") == 0 ||
			    g_strcmp0(entry->d_name, "..") == 0)
				continue;
			ok = kl_agent_remove_tree_at(fd, entry->d_name, error);
		}
		closedir(dir);
		if (!ok)
			return FALSE;
	}
	if (unlinkat(dirfd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0) {
		int saved = errno;
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INTERNAL,
			    "cannot remove %s: %s",
			    name,
			    g_strerror(saved));
		return FALSE;
	}
	return TRUE;
}

static gboolean
kl_agent_write_file_at(int dirfd, const gchar *name, const guint8 *data, gsize len, GError **error)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0) {
		int saved = errno;
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INTERNAL,
			    "cannot create %s: %s",
			    name,
			    g_strerror(saved));
		return FALSE;
	}
	while (len > 0) {
		gssize n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;
			kl_agent_close_fd(&fd);
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INTERNAL,
				    "cannot write %s: %s",
				    name,
				    g_strerror(saved));
			return FALSE;
		}
		data += n;
		len -= (gsize)n;
	}
	if (!g_close(fd, error)) {
		g_prefix_error(error, "cannot write %s: ", name);
		return FALSE;
	}
	return TRUE;
}

/* upstream makes the actions the payload lists executable */
static void
kl_agent_payload_chmod_actions(int unzipped)
{
	g_autofree gchar *text = NULL;
	g_auto(GStrv) names = NULL;
	int fd = openat(unzipped, KL_AGENT_ACTION_LIST, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	gchar buf[4096];
	gssize n;

	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	g_close(fd, NULL);
	if (n <= 0)
		return;
	buf[n] = '\0';
	names = kl_agent_parse_action_list(buf);
	for (guint i = 0; names[i] != NULL; i++) {
		struct stat st;
		if (!kl_agent_file_name_is_valid(names[i], NULL) ||
		    fstatat(unzipped, names[i], &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (fchmodat(unzipped, names[i], 0700, 0) != 0)
			g_message("cannot make action %s executable", names[i]);
	}
}

gchar *
kl_agent_payload_install(const gchar *secure_dir,
			 KlSecret *key,
			 GBytes *payload,
			 const KlAgentPayloadOptions *options,
			 GError **error)
{
	int secure = -1;
	int unzipped = -1;
	gsize key_len = 0;
	const guint8 *key_data;
	gsize len = 0;
	const guint8 *data;

	g_return_val_if_fail(secure_dir != NULL, NULL);
	g_return_val_if_fail(key != NULL, NULL);
	g_return_val_if_fail(payload != NULL, NULL);
	g_return_val_if_fail(options != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (!kl_agent_file_name_is_valid(options->dec_payload_file, error)) {
		g_prefix_error(error, "dec_payload_file: ");
		return NULL;
	}
	if (!kl_agent_file_name_is_valid(options->enc_keyname, error)) {
		g_prefix_error(error, "enc_keyname: ");
		return NULL;
	}
	secure = open(secure_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (secure < 0) {
		int saved = errno;
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INTERNAL,
			    "cannot open the secure directory %s: %s",
			    secure_dir,
			    g_strerror(saved));
		return NULL;
	}
	/* clear any old payload */
	if (!kl_agent_remove_tree_at(secure, KL_AGENT_UNZIPPED_DIR, error) ||
	    mkdirat(secure, KL_AGENT_UNZIPPED_DIR, 0700) != 0) {
		int saved = errno;
		kl_agent_close_fd(&secure);
		if (error != NULL && *error == NULL)
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INTERNAL,
				    "cannot create %s/%s: %s",
				    secure_dir,
				    KL_AGENT_UNZIPPED_DIR,
				    g_strerror(saved));
		return NULL;
	}
	unzipped = openat(secure,
			  KL_AGENT_UNZIPPED_DIR,
			  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	kl_agent_close_fd(&secure);
	if (unzipped < 0) {
		int saved = errno;
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INTERNAL,
			    "cannot open %s/%s: %s",
			    secure_dir,
			    KL_AGENT_UNZIPPED_DIR,
			    g_strerror(saved));
		return NULL;
	}

	key_data = kl_secret_get_data(key, &key_len);
	data = g_bytes_get_data(payload, &len);
	if (!kl_agent_write_file_at(unzipped, options->enc_keyname, key_data, key_len, error) ||
	    !kl_agent_write_file_at(unzipped, options->dec_payload_file, data, len, error)) {
		kl_agent_close_fd(&unzipped);
		return NULL;
	}
	g_info("wrote the payload key and the decrypted payload to %s/%s",
	       secure_dir,
	       KL_AGENT_UNZIPPED_DIR);

	if (options->extract_payload_zip) {
		g_autoptr(KlZipReader) reader = kl_zip_reader_new(payload, &options->limits, error);
		if (reader == NULL || !kl_zip_reader_extract_to_dirfd(reader, unzipped, error)) {
			g_prefix_error(error, "cannot unzip the payload: ");
			kl_agent_close_fd(&unzipped);
			return NULL;
		}
		g_info("unzipped %u payload entries", kl_zip_reader_get_n_entries(reader));
	}
	kl_agent_payload_chmod_actions(unzipped);
	kl_agent_close_fd(&unzipped);
	return g_build_filename(secure_dir, KL_AGENT_UNZIPPED_DIR, NULL);
}

/* ---- the command runner ---- */

typedef struct {
	GSubprocess *proc;
	GInputStream *pipe;
	GByteArray *output;
	GSource *timeout;
	gchar *name;
	gboolean timed_out;
} KlAgentCommand;

static void
kl_agent_command_free(gpointer data)
{
	KlAgentCommand *cmd = data;

	if (cmd->timeout != NULL) {
		g_source_destroy(cmd->timeout);
		g_source_unref(cmd->timeout);
	}
	g_clear_object(&cmd->proc);
	g_clear_object(&cmd->pipe);
	g_byte_array_unref(cmd->output);
	g_free(cmd->name);
	g_free(cmd);
}

static void
kl_agent_command_kill(KlAgentCommand *cmd)
{
	const gchar *id = g_subprocess_get_identifier(cmd->proc);

	/* the whole process group: whatever the script started too */
	if (id != NULL) {
		gint64 pid = g_ascii_strtoll(id, NULL, 10);
		if (pid > 1)
			kill(-(pid_t)pid, SIGKILL);
	}
	g_subprocess_force_exit(cmd->proc);
}

static gboolean
kl_agent_command_on_timeout(gpointer user_data)
{
	GTask *task = user_data;
	KlAgentCommand *cmd = g_task_get_task_data(task);

	g_message("%s did not finish in time, killing it", cmd->name);
	cmd->timed_out = TRUE;
	kl_agent_command_kill(cmd);
	return G_SOURCE_REMOVE;
}

static void
kl_agent_command_child_setup(gpointer user_data)
{
	setpgid(0, 0);
}

static void
kl_agent_command_on_wait(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	KlAgentCommand *cmd = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;

	if (!g_subprocess_wait_finish(cmd->proc, res, &error)) {
		kl_agent_command_kill(cmd);
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	if (cmd->output->len > 0) {
		g_autofree gchar *text =
			g_utf8_make_valid((const gchar *)cmd->output->data, cmd->output->len);
		g_info("%s output:\n%s", cmd->name, text);
	}
	if (cmd->timed_out) {
		g_task_return_new_error(task,
					KL_ERROR,
					KL_ERROR_TIMED_OUT,
					"%s timed out and was killed",
					cmd->name);
		return;
	}
	if (!g_subprocess_get_if_exited(cmd->proc)) {
		g_task_return_new_error(task,
					KL_ERROR,
					KL_ERROR_INTERNAL,
					"%s was killed by signal %d",
					cmd->name,
					g_subprocess_get_term_sig(cmd->proc));
		return;
	}
	if (g_subprocess_get_exit_status(cmd->proc) != 0) {
		g_task_return_new_error(task,
					KL_ERROR,
					KL_ERROR_INTERNAL,
					"%s exited with status %d",
					cmd->name,
					g_subprocess_get_exit_status(cmd->proc));
		return;
	}
	g_task_return_pointer(task,
			      g_bytes_new(cmd->output->data, cmd->output->len),
			      (GDestroyNotify)g_bytes_unref);
}

static void kl_agent_command_read_next(GTask *task);

static void
kl_agent_command_on_read(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	KlAgentCommand *cmd = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) chunk = g_input_stream_read_bytes_finish(cmd->pipe, res, &error);

	if (chunk == NULL) {
		kl_agent_command_kill(cmd);
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	if (g_bytes_get_size(chunk) == 0) {
		GCancellable *cancellable = g_task_get_cancellable(task);
		g_subprocess_wait_async(cmd->proc,
					cancellable,
					kl_agent_command_on_wait,
					g_steal_pointer(&task));
		return;
	}
	if (cmd->output->len < KL_AGENT_COMMAND_MAX_OUTPUT) {
		gsize room = KL_AGENT_COMMAND_MAX_OUTPUT - cmd->output->len;
		gsize size = MIN(room, g_bytes_get_size(chunk));
		g_byte_array_append(cmd->output, g_bytes_get_data(chunk, NULL), (guint)size);
	}
	kl_agent_command_read_next(g_steal_pointer(&task));
}

static void
kl_agent_command_read_next(GTask *task)
{
	KlAgentCommand *cmd = g_task_get_task_data(task);

	g_input_stream_read_bytes_async(cmd->pipe,
					4096,
					G_PRIORITY_DEFAULT,
					g_task_get_cancellable(task),
					kl_agent_command_on_read,
					task);
}

static void
kl_agent_command_stdin_written(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GBytes) data = user_data;
	g_autoptr(GError) error = NULL;

	/* a command that does not read its input is not an error */
	if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), res, NULL, &error))
		g_debug("command input: %s", error->message);
	g_output_stream_close(G_OUTPUT_STREAM(source), NULL, NULL);
}

void
kl_agent_command_run_async(const gchar *const *argv,
			   const gchar *cwd,
			   GBytes *input,
			   guint timeout_seconds,
			   GCancellable *cancellable,
			   GAsyncReadyCallback callback,
			   gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(NULL, cancellable, callback, user_data);
	g_autoptr(GSubprocessLauncher) launcher = NULL;
	g_autoptr(GError) error = NULL;
	KlAgentCommand *cmd;

	g_return_if_fail(argv != NULL && argv[0] != NULL);

	g_task_set_source_tag(task, kl_agent_command_run_async);
	cmd = g_new0(KlAgentCommand, 1);
	cmd->name = g_path_get_basename(argv[g_strv_length((gchar **)argv) - 1]);
	cmd->output = g_byte_array_new();
	g_task_set_task_data(task, cmd, kl_agent_command_free);

	/* stdin is @input, or /dev/null */
	launcher = g_subprocess_launcher_new(
		G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE |
		(input != NULL ? G_SUBPROCESS_FLAGS_STDIN_PIPE : G_SUBPROCESS_FLAGS_NONE));
	if (cwd != NULL)
		g_subprocess_launcher_set_cwd(launcher, cwd);
	g_subprocess_launcher_set_child_setup(launcher, kl_agent_command_child_setup, NULL, NULL);
	cmd->proc = g_subprocess_launcher_spawnv(launcher, argv, &error);
	if (cmd->proc == NULL) {
		g_prefix_error(&error, "cannot run %s: ", cmd->name);
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	cmd->pipe = g_object_ref(g_subprocess_get_stdout_pipe(cmd->proc));
	if (input != NULL) {
		GOutputStream *stdin_pipe = g_subprocess_get_stdin_pipe(cmd->proc);

		g_output_stream_write_all_async(stdin_pipe,
						g_bytes_get_data(input, NULL),
						g_bytes_get_size(input),
						G_PRIORITY_DEFAULT,
						cancellable,
						kl_agent_command_stdin_written,
						g_bytes_ref(input));
	}
	if (timeout_seconds > 0) {
		cmd->timeout = g_timeout_source_new_seconds(timeout_seconds);
		g_task_attach_source(task, cmd->timeout, kl_agent_command_on_timeout);
	}
	kl_agent_command_read_next(g_steal_pointer(&task));
}

gboolean
kl_agent_command_run_finish(GAsyncResult *result, GBytes **output, GError **error)
{
	GBytes *bytes;

	g_return_val_if_fail(g_task_is_valid(result, NULL), FALSE);
	bytes = g_task_propagate_pointer(G_TASK(result), error);
	if (bytes == NULL)
		return FALSE;
	if (output != NULL)
		*output = bytes;
	else
		g_bytes_unref(bytes);
	return TRUE;
}

/* ---- the payload run ---- */

typedef struct {
	gchar *secure_dir;
	KlSecret *key;
	GBytes *payload;
	KlAgentPayloadOptions options;
	gchar *dec_payload_file;
	gchar *enc_keyname;
	gchar *payload_script;
	gboolean script_ran;
} KlAgentPayloadRun;

static void
kl_agent_payload_run_free(gpointer data)
{
	KlAgentPayloadRun *run = data;

	g_free(run->secure_dir);
	kl_secret_unref(run->key);
	g_bytes_unref(run->payload);
	g_free(run->dec_payload_file);
	g_free(run->enc_keyname);
	g_free(run->payload_script);
	g_free(run);
}

static void
kl_agent_payload_install_thread(GTask *task,
				gpointer source_object,
				gpointer task_data,
				GCancellable *cancellable)
{
	KlAgentPayloadRun *run = task_data;
	GError *error = NULL;
	gchar *unzipped = kl_agent_payload_install(run->secure_dir,
						   run->key,
						   run->payload,
						   &run->options,
						   &error);

	if (unzipped == NULL)
		g_task_return_error(task, error);
	else
		g_task_return_pointer(task, unzipped, g_free);
}

static void
kl_agent_payload_on_script(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	GError *error = NULL;

	if (!kl_agent_command_run_finish(res, NULL, &error)) {
		g_task_return_error(task, error);
		return;
	}
	g_task_return_boolean(task, TRUE);
}

static void
kl_agent_payload_on_installed(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	KlAgentPayloadRun *run = g_task_get_task_data(task);
	GError *error = NULL;
	g_autofree gchar *unzipped = g_task_propagate_pointer(G_TASK(res), &error);
	g_autofree gchar *script = NULL;
	struct stat st;

	if (unzipped == NULL) {
		g_task_return_error(task, error);
		return;
	}
	if (run->payload_script == NULL || run->payload_script[0] == '\0') {
		g_info("no payload script configured");
		g_task_return_boolean(task, TRUE);
		return;
	}
	script = g_build_filename(unzipped, run->payload_script, NULL);
	if (lstat(script, &st) != 0) {
		g_info("no payload script %s in %s", run->payload_script, unzipped);
		g_task_return_boolean(task, TRUE);
		return;
	}
	if (!S_ISREG(st.st_mode) || chmod(script, 0700) != 0) {
		g_task_return_new_error(
			task,
			KL_ERROR,
			KL_ERROR_PERMISSION_DENIED,
			"payload script %s is not a regular file we can make executable",
			script);
		return;
	}
	g_info("running the payload script %s", script);
	run->script_ran = TRUE;
	{
		const gchar *argv[] = {"sh", "-c", script, NULL};
		GCancellable *cancellable = g_task_get_cancellable(task);
		kl_agent_command_run_async(argv,
					   unzipped,
					   NULL,
					   run->options.timeout_seconds,
					   cancellable,
					   kl_agent_payload_on_script,
					   g_steal_pointer(&task));
	}
}

void
kl_agent_payload_run_async(const gchar *secure_dir,
			   KlSecret *key,
			   GBytes *payload,
			   const KlAgentPayloadOptions *options,
			   GCancellable *cancellable,
			   GAsyncReadyCallback callback,
			   gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(NULL, cancellable, callback, user_data);
	g_autoptr(GTask) install = NULL;
	KlAgentPayloadRun *run = g_new0(KlAgentPayloadRun, 1);
	KlAgentPayloadRun *copy = g_new0(KlAgentPayloadRun, 1);

	g_return_if_fail(secure_dir != NULL && key != NULL && payload != NULL && options != NULL);

	g_task_set_source_tag(task, kl_agent_payload_run_async);
	/* the worker thread gets its own copy of everything */
	for (guint i = 0; i < 2; i++) {
		KlAgentPayloadRun *r = i == 0 ? run : copy;
		r->secure_dir = g_strdup(secure_dir);
		r->key = kl_secret_ref(key);
		r->payload = g_bytes_ref(payload);
		r->options = *options;
		r->dec_payload_file = g_strdup(options->dec_payload_file);
		r->enc_keyname = g_strdup(options->enc_keyname);
		r->payload_script = g_strdup(options->payload_script);
		r->options.dec_payload_file = r->dec_payload_file;
		r->options.enc_keyname = r->enc_keyname;
		r->options.payload_script = r->payload_script;
	}
	g_task_set_task_data(task, run, kl_agent_payload_run_free);
	install = g_task_new(NULL, cancellable, kl_agent_payload_on_installed, g_object_ref(task));
	g_task_set_task_data(install, copy, kl_agent_payload_run_free);
	g_task_run_in_thread(install, kl_agent_payload_install_thread);
}

gboolean
kl_agent_payload_run_finish(GAsyncResult *result, gboolean *script_ran, GError **error)
{
	KlAgentPayloadRun *run;

	g_return_val_if_fail(g_task_is_valid(result, NULL), FALSE);
	run = g_task_get_task_data(G_TASK(result));
	if (script_ran != NULL)
		*script_ran = run->script_ran;
	return g_task_propagate_boolean(G_TASK(result), error);
}
