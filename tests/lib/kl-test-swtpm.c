/*
 * A software TPM per test: swtpm_setup manufactures fresh state with EK and
 * platform certificates signed by a local CA whose configuration and keys
 * live in the fixture's temporary directory, then swtpm runs as a real
 * child of the test (never --daemon: PID 1 may not reap orphans) until
 * kl_test_swtpm_free() stops and reaps it.
 *
 * The swtpm TCTI derives the control port as data port + 1, so the fixture
 * reserves two consecutive loopback ports.  The control socket is bound and
 * listening before swtpm starts and is handed over as fd 3; swtpm 0.7.1
 * reads TPM commands from a "--server fd=" directly instead of accepting on
 * it, so the data port is reserved by a bound socket that is closed just
 * before the spawn, and a lost race is retried with new ports.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "kl-test-dir.h"
#include "kl-test-swtpm.h"
#include "kl-test-wait.h"

#define KL_TEST_SWTPM_CTRL_FD	  3
#define KL_TEST_SWTPM_START_TRIES 8
#define KL_TEST_SWTPM_READY_MS	  10000
#define KL_TEST_SWTPM_STOP_MS	  5000
#define KL_TEST_SWTPM_POLL_MS	  10

struct _KlTestSwtpm {
	KlTestDir *dir;
	GSubprocess *proc;
	guint16 port;
	gchar *tcti;
	gchar *ca_file;
	gchar *state_dir;
};

/* Tracks one g_subprocess_wait_async() so that it can be cancelled and its
 * callback drained before the stack frame goes away. */
typedef struct {
	gboolean done;
	gboolean exited;
} KlTestSwtpmWait;

typedef struct {
	KlTestSwtpmWait *wait;
	guint16 port;
} KlTestSwtpmReady;

gboolean
kl_test_swtpm_available(void)
{
	const gchar *programs[] = {"swtpm", "swtpm_setup", "swtpm_localca", NULL};

	for (guint i = 0; programs[i] != NULL; i++) {
		g_autofree gchar *path = g_find_program_in_path(programs[i]);
		if (path == NULL)
			return FALSE;
	}
	return TRUE;
}

static gboolean
kl_test_swtpm_tick_cb(gpointer user_data)
{
	return G_SOURCE_CONTINUE;
}

static gboolean
kl_test_swtpm_wait_done(gpointer user_data)
{
	KlTestSwtpmWait *wait = user_data;
	return wait->done;
}

static void
kl_test_swtpm_wait_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	KlTestSwtpmWait *wait = user_data;
	wait->exited = g_subprocess_wait_finish(G_SUBPROCESS(source), res, NULL);
	wait->done = TRUE;
}

/* Polls @condition every few milliseconds: connect() readiness produces no
 * main-context event of its own. */
static gboolean
kl_test_swtpm_poll(KlTestCondition condition, gpointer user_data, guint timeout_ms)
{
	g_autoptr(GMainContext) context = g_main_context_ref_thread_default();
	GSource *tick = g_timeout_source_new(KL_TEST_SWTPM_POLL_MS);
	gboolean met;

	g_source_set_callback(tick, kl_test_swtpm_tick_cb, NULL, NULL);
	g_source_attach(tick, context);
	met = kl_test_wait_for(condition, user_data, timeout_ms);
	g_source_destroy(tick);
	g_source_unref(tick);
	return met;
}

/* After a cancel the callback still has to run before @wait goes away. */
static void
kl_test_swtpm_drain(KlTestSwtpmWait *wait)
{
	g_autoptr(GMainContext) context = g_main_context_ref_thread_default();
	while (!wait->done)
		g_main_context_iteration(context, TRUE);
}

/* Waits up to @timeout_ms for @proc to exit; the child is reaped by GLib's
 * child watch either way once it has exited. */
static gboolean
kl_test_swtpm_wait_exit(GSubprocess *proc, guint timeout_ms)
{
	KlTestSwtpmWait wait = {FALSE, FALSE};
	g_autoptr(GCancellable) cancellable = g_cancellable_new();

	g_subprocess_wait_async(proc, cancellable, kl_test_swtpm_wait_cb, &wait);
	if (!kl_test_swtpm_poll(kl_test_swtpm_wait_done, &wait, timeout_ms)) {
		g_cancellable_cancel(cancellable);
		kl_test_swtpm_drain(&wait);
	}
	return wait.exited;
}

/* Opens @path for appending so that several children can share one log. */
static gint
kl_test_swtpm_open_log(const gchar *path, GError **error)
{
	gint fd = g_open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		g_set_error(error,
			    G_IO_ERROR,
			    g_io_error_from_errno(errno),
			    "cannot open %s: %s",
			    path,
			    g_strerror(errno));
	}
	return fd;
}

static gchar *
kl_test_swtpm_read_log(const gchar *path)
{
	gchar *contents = NULL;
	if (!g_file_get_contents(path, &contents, NULL, NULL))
		return g_strdup("(no log)");
	return contents;
}

/* Per-fixture swtpm_setup.conf and swtpm-localca.{conf,options}: the CA
 * state (keys, serial, lock) lives under @ca_dir, never in
 * /var/lib/swtpm-localca. */
static gchar *
kl_test_swtpm_write_config(KlTestSwtpm *self, const gchar *ca_dir, GError **error)
{
	g_autofree gchar *localca = g_find_program_in_path("swtpm_localca");
	g_autofree gchar *localca_conf_text = NULL;
	g_autofree gchar *localca_conf = NULL;
	g_autofree gchar *localca_options = NULL;
	g_autofree gchar *setup_conf_text = NULL;

	if (localca == NULL) {
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no swtpm_localca");
		return NULL;
	}
	localca_conf_text = g_strdup_printf("statedir = %s\n"
					    "signingkey = %s/signkey.pem\n"
					    "issuercert = %s/issuercert.pem\n"
					    "certserial = %s/certserial\n",
					    ca_dir,
					    ca_dir,
					    ca_dir,
					    ca_dir);
	localca_conf = kl_test_dir_write(self->dir, "swtpm-localca.conf", localca_conf_text, -1);
	localca_options = kl_test_dir_write(self->dir,
					    "swtpm-localca.options",
					    "--platform-manufacturer keylime-c\n"
					    "--platform-version 2.1\n"
					    "--platform-model swtpm\n",
					    -1);
	setup_conf_text = g_strdup_printf("create_certs_tool = %s\n"
					  "create_certs_tool_config = %s\n"
					  "create_certs_tool_options = %s\n"
					  "active_pcr_banks = sha256\n",
					  localca,
					  localca_conf,
					  localca_options);
	return kl_test_dir_write(self->dir, "swtpm_setup.conf", setup_conf_text, -1);
}

static gboolean
kl_test_swtpm_manufacture(KlTestSwtpm *self, GError **error)
{
	g_autofree gchar *ca_dir = kl_test_dir_build(self->dir, "ca", NULL);
	g_autofree gchar *log_path = kl_test_dir_build(self->dir, "swtpm_setup.log", NULL);
	g_autofree gchar *setup_conf = NULL;
	g_autofree gchar *root_pem = NULL;
	g_autofree gchar *issuer_pem = NULL;
	g_autofree gchar *root_path = NULL;
	g_autofree gchar *issuer_path = NULL;
	g_autofree gchar *bundle = NULL;
	g_autoptr(GSubprocessLauncher) launcher = NULL;
	g_autoptr(GSubprocess) proc = NULL;
	gint log_fd;

	if (g_mkdir_with_parents(ca_dir, 0700) != 0 ||
	    g_mkdir_with_parents(self->state_dir, 0700) != 0) {
		g_set_error(error,
			    G_IO_ERROR,
			    g_io_error_from_errno(errno),
			    "cannot create directories: %s",
			    g_strerror(errno));
		return FALSE;
	}
	setup_conf = kl_test_swtpm_write_config(self, ca_dir, error);
	if (setup_conf == NULL)
		return FALSE;

	log_fd = kl_test_swtpm_open_log(log_path, error);
	if (log_fd < 0)
		return FALSE;
	launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDERR_MERGE);
	g_subprocess_launcher_take_stdout_fd(launcher, log_fd);
	proc = g_subprocess_launcher_spawn(launcher,
					   error,
					   "swtpm_setup",
					   "--tpm2",
					   "--tpmstate",
					   self->state_dir,
					   "--create-ek-cert",
					   "--create-platform-cert",
					   "--lock-nvram",
					   "--config",
					   setup_conf,
					   "--logfile",
					   log_path,
					   NULL);
	if (proc == NULL) {
		g_prefix_error(error, "swtpm_setup: ");
		return FALSE;
	}
	if (!g_subprocess_wait_check(proc, NULL, error)) {
		g_autofree gchar *log = kl_test_swtpm_read_log(log_path);
		g_prefix_error(error, "swtpm_setup: ");
		g_test_message("swtpm_setup log:\n%s", log);
		return FALSE;
	}

	/* The EK certificates are signed by the intermediate issuercert.pem,
	 * which the root created alongside it signed. */
	root_path = g_build_filename(ca_dir, "swtpm-localca-rootca-cert.pem", NULL);
	issuer_path = g_build_filename(ca_dir, "issuercert.pem", NULL);
	if (!g_file_get_contents(root_path, &root_pem, NULL, error) ||
	    !g_file_get_contents(issuer_path, &issuer_pem, NULL, error)) {
		g_prefix_error(error, "local CA: ");
		return FALSE;
	}
	bundle = g_strconcat(root_pem, issuer_pem, NULL);
	self->ca_file = kl_test_dir_write(self->dir, "ca-bundle.pem", bundle, -1);
	return TRUE;
}

/* Binds the data port P (not listening: only to keep it from others) and
 * binds and listens on the control port P + 1. */
static gboolean
kl_test_swtpm_reserve_ports(GSocket **server_out, GSocket **ctrl_out, GError **error)
{
	for (guint i = 0; i < 1024; i++) {
		g_autoptr(GSocket) server = NULL;
		g_autoptr(GSocket) ctrl = NULL;
		g_autoptr(GInetAddress) loopback =
			g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
		g_autoptr(GSocketAddress) any = g_inet_socket_address_new(loopback, 0);
		g_autoptr(GSocketAddress) bound = NULL;
		g_autoptr(GSocketAddress) next = NULL;
		guint16 port;

		server = g_socket_new(G_SOCKET_FAMILY_IPV4,
				      G_SOCKET_TYPE_STREAM,
				      G_SOCKET_PROTOCOL_TCP,
				      error);
		if (server == NULL || !g_socket_bind(server, any, FALSE, error))
			return FALSE;
		bound = g_socket_get_local_address(server, error);
		if (bound == NULL)
			return FALSE;
		port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
		if (port == G_MAXUINT16)
			continue;
		ctrl = g_socket_new(G_SOCKET_FAMILY_IPV4,
				    G_SOCKET_TYPE_STREAM,
				    G_SOCKET_PROTOCOL_TCP,
				    error);
		if (ctrl == NULL)
			return FALSE;
		next = g_inet_socket_address_new(loopback, port + 1);
		/* SO_REUSEADDR: connections accepted on it inherit the flag, and
		 * only then does their TIME_WAIT let kl_test_swtpm_restart() bind
		 * the port again; a listening socket still keeps others out */
		if (!g_socket_bind(ctrl, next, TRUE, NULL))
			continue;
		if (!g_socket_listen(ctrl, error))
			return FALSE;
		*server_out = g_steal_pointer(&server);
		*ctrl_out = g_steal_pointer(&ctrl);
		return TRUE;
	}
	g_set_error_literal(error,
			    G_IO_ERROR,
			    G_IO_ERROR_ADDRESS_IN_USE,
			    "no two consecutive free loopback ports");
	return FALSE;
}

static gboolean
kl_test_swtpm_port_accepts(gpointer user_data)
{
	KlTestSwtpmReady *ready = user_data;
	g_autoptr(GSocket) sock = NULL;
	g_autoptr(GInetAddress) loopback = NULL;
	g_autoptr(GSocketAddress) addr = NULL;

	if (ready->wait->done)
		return TRUE;
	sock = g_socket_new(G_SOCKET_FAMILY_IPV4,
			    G_SOCKET_TYPE_STREAM,
			    G_SOCKET_PROTOCOL_TCP,
			    NULL);
	if (sock == NULL)
		return FALSE;
	loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	addr = g_inet_socket_address_new(loopback, ready->port);
	return g_socket_connect(sock, addr, NULL, NULL);
}

/* One attempt to start swtpm; FALSE without @error means the data port was
 * taken in the meantime and a retry with other ports makes sense. */
static gboolean
kl_test_swtpm_try_start(KlTestSwtpm *self, gboolean *retry, GError **error)
{
	g_autoptr(GSocket) server = NULL;
	g_autoptr(GSocket) ctrl = NULL;
	g_autoptr(GSubprocessLauncher) launcher = NULL;
	g_autoptr(GSubprocess) proc = NULL;
	g_autoptr(GSocketAddress) bound = NULL;
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	g_autofree gchar *log_path = kl_test_dir_build(self->dir, "swtpm.log", NULL);
	g_autofree gchar *tpmstate = g_strdup_printf("dir=%s", self->state_dir);
	g_autofree gchar *server_opt = NULL;
	g_autofree gchar *ctrl_opt = g_strdup_printf("type=tcp,fd=%d", KL_TEST_SWTPM_CTRL_FD);
	KlTestSwtpmWait wait = {FALSE, FALSE};
	KlTestSwtpmReady ready = {&wait, 0};
	gint log_fd;
	gint ctrl_fd;
	gboolean up;

	*retry = FALSE;
	if (!kl_test_swtpm_reserve_ports(&server, &ctrl, error))
		return FALSE;
	bound = g_socket_get_local_address(server, error);
	if (bound == NULL)
		return FALSE;
	self->port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
	ready.port = self->port;
	server_opt = g_strdup_printf("type=tcp,port=%u,bindaddr=127.0.0.1", self->port);

	log_fd = kl_test_swtpm_open_log(log_path, error);
	if (log_fd < 0)
		return FALSE;
	ctrl_fd = dup(g_socket_get_fd(ctrl));
	if (ctrl_fd < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "dup failed");
		close(log_fd);
		return FALSE;
	}
	launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDERR_MERGE);
	g_subprocess_launcher_take_stdout_fd(launcher, log_fd);
	g_subprocess_launcher_take_fd(launcher, ctrl_fd, KL_TEST_SWTPM_CTRL_FD);

	/* Release the data port at the last moment; swtpm binds it at once. */
	g_socket_close(server, NULL);
	proc = g_subprocess_launcher_spawn(launcher,
					   error,
					   "swtpm",
					   "socket",
					   "--tpm2",
					   "--tpmstate",
					   tpmstate,
					   "--server",
					   server_opt,
					   "--ctrl",
					   ctrl_opt,
					   "--flags",
					   "not-need-init,startup-clear",
					   "--log",
					   "fd=1,level=1",
					   NULL);
	if (proc == NULL) {
		g_prefix_error(error, "swtpm: ");
		return FALSE;
	}
	g_socket_close(ctrl, NULL);

	g_subprocess_wait_async(proc, cancellable, kl_test_swtpm_wait_cb, &wait);
	up = kl_test_swtpm_poll(kl_test_swtpm_port_accepts, &ready, KL_TEST_SWTPM_READY_MS);
	if (!wait.done) {
		g_cancellable_cancel(cancellable);
		kl_test_swtpm_drain(&wait);
	}
	if (wait.exited) {
		/* Most likely EADDRINUSE on the data port: try other ports. */
		g_test_message("swtpm on port %u exited with status %d, retrying",
			       self->port,
			       g_subprocess_get_status(proc));
		*retry = TRUE;
		return FALSE;
	}
	if (!up) {
		g_subprocess_force_exit(proc);
		g_subprocess_wait(proc, NULL, NULL);
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_TIMED_OUT,
			    "swtpm did not accept connections on port %u within %u ms",
			    self->port,
			    (guint)KL_TEST_SWTPM_READY_MS);
		return FALSE;
	}
	self->proc = g_steal_pointer(&proc);
	return TRUE;
}

/* The control port again, handed over as in kl_test_swtpm_try_start();
 * SO_REUSEADDR because swtpm_ioctl -s leaves it in TIME_WAIT. */
static GSocket *
kl_test_swtpm_listen_ctrl(KlTestSwtpm *self, GError **error)
{
	g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) addr = g_inet_socket_address_new(loopback, self->port + 1);
	g_autoptr(GSocket) ctrl = g_socket_new(G_SOCKET_FAMILY_IPV4,
					       G_SOCKET_TYPE_STREAM,
					       G_SOCKET_PROTOCOL_TCP,
					       error);

	if (ctrl == NULL || !g_socket_bind(ctrl, addr, TRUE, error) ||
	    !g_socket_listen(ctrl, error))
		return NULL;
	return g_steal_pointer(&ctrl);
}

/* swtpm again on the fixture's ports and state, after it stopped (swtpm
 * binds its data port with SO_REUSEADDR). */
static gboolean
kl_test_swtpm_respawn(KlTestSwtpm *self, GError **error)
{
	g_autoptr(GSocket) ctrl = NULL;
	g_autoptr(GSubprocessLauncher) launcher = NULL;
	g_autoptr(GSubprocess) proc = NULL;
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	g_autofree gchar *log_path = kl_test_dir_build(self->dir, "swtpm.log", NULL);
	g_autofree gchar *tpmstate = g_strdup_printf("dir=%s", self->state_dir);
	g_autofree gchar *server_opt =
		g_strdup_printf("type=tcp,port=%u,bindaddr=127.0.0.1", self->port);
	g_autofree gchar *ctrl_opt = g_strdup_printf("type=tcp,fd=%d", KL_TEST_SWTPM_CTRL_FD);
	KlTestSwtpmWait wait = {FALSE, FALSE};
	KlTestSwtpmReady ready = {&wait, self->port};
	gint log_fd;
	gint ctrl_fd;
	gboolean up;

	ctrl = kl_test_swtpm_listen_ctrl(self, error);
	if (ctrl == NULL)
		return FALSE;
	log_fd = kl_test_swtpm_open_log(log_path, error);
	if (log_fd < 0)
		return FALSE;
	ctrl_fd = dup(g_socket_get_fd(ctrl));
	if (ctrl_fd < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "dup failed");
		close(log_fd);
		return FALSE;
	}
	launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDERR_MERGE);
	g_subprocess_launcher_take_stdout_fd(launcher, log_fd);
	g_subprocess_launcher_take_fd(launcher, ctrl_fd, KL_TEST_SWTPM_CTRL_FD);
	proc = g_subprocess_launcher_spawn(launcher,
					   error,
					   "swtpm",
					   "socket",
					   "--tpm2",
					   "--tpmstate",
					   tpmstate,
					   "--server",
					   server_opt,
					   "--ctrl",
					   ctrl_opt,
					   "--flags",
					   "not-need-init,startup-clear",
					   "--log",
					   "fd=1,level=1",
					   NULL);
	if (proc == NULL) {
		g_prefix_error(error, "swtpm: ");
		return FALSE;
	}
	g_socket_close(ctrl, NULL);
	g_subprocess_wait_async(proc, cancellable, kl_test_swtpm_wait_cb, &wait);
	up = kl_test_swtpm_poll(kl_test_swtpm_port_accepts, &ready, KL_TEST_SWTPM_READY_MS);
	if (!wait.done) {
		g_cancellable_cancel(cancellable);
		kl_test_swtpm_drain(&wait);
	}
	if (wait.exited || !up) {
		if (!wait.exited) {
			g_subprocess_force_exit(proc);
			g_subprocess_wait(proc, NULL, NULL);
		}
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_FAILED,
			    "swtpm did not start again on port %u; see %s/swtpm.log",
			    self->port,
			    kl_test_dir_get_path(self->dir));
		return FALSE;
	}
	self->proc = g_steal_pointer(&proc);
	return TRUE;
}

static gboolean
kl_test_swtpm_setup(KlTestSwtpm *self, GError **error)
{
	gint64 t0 = g_get_monotonic_time();
	gint64 t1;

	if (!kl_test_swtpm_manufacture(self, error))
		return FALSE;
	t1 = g_get_monotonic_time();
	for (guint i = 0; i < KL_TEST_SWTPM_START_TRIES; i++) {
		gboolean retry = FALSE;
		if (kl_test_swtpm_try_start(self, &retry, error)) {
			self->tcti = g_strdup_printf("swtpm:host=127.0.0.1,port=%u", self->port);
			g_test_message(
				"swtpm fixture on port %u: swtpm_setup %.0f ms, start %.0f ms",
				self->port,
				(t1 - t0) / 1000.0,
				(g_get_monotonic_time() - t1) / 1000.0);
			return TRUE;
		}
		if (!retry)
			return FALSE;
	}
	g_set_error(error,
		    G_IO_ERROR,
		    G_IO_ERROR_FAILED,
		    "swtpm did not start in %u attempts; see %s/swtpm.log",
		    (guint)KL_TEST_SWTPM_START_TRIES,
		    kl_test_dir_get_path(self->dir));
	return FALSE;
}

KlTestSwtpm *
kl_test_swtpm_new(GError **error)
{
	g_autoptr(KlTestSwtpm) self = g_new0(KlTestSwtpm, 1);
	g_autoptr(GMainContext) context = g_main_context_new();
	gboolean ok;

	self->dir = kl_test_dir_new();
	self->state_dir = kl_test_dir_build(self->dir, "tpmstate", NULL);

	/* A private context: the fixture may be created from any thread. */
	g_main_context_push_thread_default(context);
	ok = kl_test_swtpm_setup(self, error);
	g_main_context_pop_thread_default(context);
	if (!ok)
		return NULL;
	return g_steal_pointer(&self);
}

const gchar *
kl_test_swtpm_get_tcti(KlTestSwtpm *self)
{
	return self->tcti;
}

const gchar *
kl_test_swtpm_get_ca_file(KlTestSwtpm *self)
{
	return self->ca_file;
}

const gchar *
kl_test_swtpm_get_state_dir(KlTestSwtpm *self)
{
	return self->state_dir;
}

guint16
kl_test_swtpm_get_port(KlTestSwtpm *self)
{
	return self->port;
}

guint16
kl_test_swtpm_get_ctrl_port(KlTestSwtpm *self)
{
	return self->port + 1;
}

static void
kl_test_swtpm_stop(KlTestSwtpm *self)
{
	g_autoptr(GMainContext) context = g_main_context_new();

	g_main_context_push_thread_default(context);
	/* swtpm saves its state on every change and exits cleanly on TERM. */
	g_subprocess_send_signal(self->proc, SIGTERM);
	if (!kl_test_swtpm_wait_exit(self->proc, KL_TEST_SWTPM_STOP_MS)) {
		g_test_message("swtpm on port %u ignored SIGTERM, killing it", self->port);
		g_subprocess_force_exit(self->proc);
		g_subprocess_wait(self->proc, NULL, NULL);
	}
	g_main_context_pop_thread_default(context);
}

gboolean
kl_test_swtpm_restart(KlTestSwtpm *self, GError **error)
{
	g_autoptr(GMainContext) context = g_main_context_new();
	gboolean ok;

	if (self->proc != NULL) {
		kl_test_swtpm_stop(self);
		g_clear_object(&self->proc);
	}
	g_main_context_push_thread_default(context);
	ok = kl_test_swtpm_respawn(self, error);
	g_main_context_pop_thread_default(context);
	return ok;
}

void
kl_test_swtpm_free(KlTestSwtpm *self)
{
	if (self == NULL)
		return;
	if (self->proc != NULL) {
		kl_test_swtpm_stop(self);
		g_object_unref(self->proc);
	}
	kl_test_dir_free(self->dir);
	g_free(self->tcti);
	g_free(self->ca_file);
	g_free(self->state_dir);
	g_free(self);
}
