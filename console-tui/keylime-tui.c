/*
 * keylime-tui: the fleet console for a terminal (over SSH), a client of
 * org.keylime.Verifier1 through libkl-client only.  GLib's main loop
 * drives ncurses: keys come from a stdin GSource, resizes from SIGWINCH
 * (g_unix_signal_add), and every change (KlClient "changed", the event
 * feed, answers to calls) schedules one coalesced redraw.
 *
 * Usage: keylime-tui [--session]; the system bus otherwise (as GIO does,
 * DBUS_SYSTEM_BUS_ADDRESS is honoured).
 */
#define G_LOG_DOMAIN "KlTui"

#include "config.h"

#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <term.h>
#include <termios.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gi18n.h>

#include "kl-tui-app.h"

/* The terminal's modes before a plain (TERM=dumb) session changed them. */
static struct termios kl_tui_saved_termios;
static gboolean kl_tui_termios_saved;

/* The terminal's size, for a screen drawn on /dev/null too. */
static void
kl_tui_screen_fit(void)
{
	struct winsize size;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_row > 0 && size.ws_col > 0)
		resizeterm(size.ws_row, size.ws_col);
}

/*
 * ncurses on the terminal; on one that cannot move its cursor (TERM=dumb)
 * ncurses draws on /dev/null and the frames go out as plain text.
 */
static gboolean
kl_tui_screen_open(KlTuiApp *app)
{
	const gchar *term = g_getenv("TERM");
	int status = 0;
	const char *cup;
	FILE *devnull;

	if (setupterm(term, STDOUT_FILENO, &status) != OK)
		return FALSE;
	cup = tigetstr("cup");
	app->plain = cup == NULL || cup == (const char *)-1;
	del_curterm(cur_term);
	if (!app->plain)
		return initscr() != NULL;
	devnull = fopen("/dev/null", "we");
	if (devnull == NULL || newterm(term, devnull, stdin) == NULL)
		return FALSE;
	/* ncurses sets the modes of its output (/dev/null): keys one at a
	 * time and no echo are set on the terminal here, and undone at exit */
	if (tcgetattr(STDIN_FILENO, &kl_tui_saved_termios) == 0) {
		struct termios raw = kl_tui_saved_termios;

		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		kl_tui_termios_saved = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
	}
	kl_tui_screen_fit();
	return TRUE;
}

static void
kl_tui_screen_close(KlTuiApp *app)
{
	endwin();
	if (app->plain) {
		if (kl_tui_termios_saved)
			tcsetattr(STDIN_FILENO, TCSANOW, &kl_tui_saved_termios);
		fputc('\n', stdout);
	}
}

static gboolean
kl_tui_stdin_cb(gint fd, GIOCondition condition, gpointer user_data)
{
	KlTuiApp *app = user_data;
	wint_t wch;
	int kind;

	if ((condition & (G_IO_HUP | G_IO_ERR)) != 0) {
		g_main_loop_quit(app->loop);
		return G_SOURCE_REMOVE;
	}
	while ((kind = get_wch(&wch)) != ERR) {
		if (kind == KEY_CODE_YES && wch == KEY_RESIZE) {
			kl_tui_app_queue_redraw(app);
			continue;
		}
		kl_tui_app_handle_key(app, (guint)wch, kind == KEY_CODE_YES);
	}
	return G_SOURCE_CONTINUE;
}

static gboolean
kl_tui_winch_cb(gpointer user_data)
{
	KlTuiApp *app = user_data;

	kl_tui_screen_fit();
	/* the next draw starts from a cleared screen */
	clearok(curscr, TRUE);
	kl_tui_app_queue_redraw(app);
	return G_SOURCE_CONTINUE;
}

static gboolean
kl_tui_quit_cb(gpointer user_data)
{
	KlTuiApp *app = user_data;

	g_main_loop_quit(app->loop);
	return G_SOURCE_CONTINUE;
}

static void
kl_tui_connected_cb(GObject *object, GParamSpec *pspec, gpointer user_data)
{
	kl_tui_app_queue_redraw(user_data);
}

static void
kl_tui_changed_cb(KlClient *client, gpointer user_data)
{
	kl_tui_app_queue_redraw(user_data);
}

static void
kl_tui_authorization_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	KlTuiApp *app = user_data;
	g_autoptr(GError) error = NULL;

	/* cannot tell: leave it to the verifier's answer */
	app->may_manage = kl_client_check_authorization_finish(KL_CLIENT(source), result, &error) ||
			  error != NULL;
}

static void
kl_tui_client_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	KlTuiApp *app = user_data;
	g_autoptr(GError) error = NULL;

	app->client = kl_client_new_finish(result, &error);
	if (app->client == NULL) {
		kl_tui_app_set_message(app,
				       TRUE,
				       _("Cannot reach the verifier: %s"),
				       error->message);
		return;
	}
	g_signal_connect(app->client, "notify::connected", G_CALLBACK(kl_tui_connected_cb), app);
	g_signal_connect(app->client, "changed", G_CALLBACK(kl_tui_changed_cb), app);
	kl_client_check_authorization_async(app->client,
					    "org.keylime.verifier.manage-agents",
					    app->cancellable,
					    kl_tui_authorization_cb,
					    app);
	app->view = NULL;
	kl_tui_app_switch(app, &kl_tui_view_agents);
}

int
main(int argc, char **argv)
{
	gboolean session = FALSE;
	gboolean version = FALSE;
	const GOptionEntry entries[] = {
		{"session", 0, 0, G_OPTION_ARG_NONE, &session, N_("Use the session bus"), NULL},
		{"version",
		 0,
		 0,
		 G_OPTION_ARG_NONE,
		 &version,
		 N_("Print the version and exit"),
		 NULL},
		{NULL},
	};
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GDBusConnection) bus = NULL;
	g_autoptr(GMainLoop) loop = NULL;
	g_autoptr(GCancellable) cancellable = NULL;
	/* may_manage: until the verifier's answer is known, try and see */
	KlTuiApp app = {.may_manage = TRUE};
	const gchar *charset = NULL;
	/* another catalogue directory, e.g. <build>/po in the tests (po/README.md) */
	const gchar *localedir = g_getenv("KEYLIME_LOCALEDIR");

	setlocale(LC_ALL, "");
	bindtextdomain(GETTEXT_PACKAGE,
		       localedir != NULL && localedir[0] != '\0' ? localedir : LOCALEDIR);
	bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
	textdomain(GETTEXT_PACKAGE);

	context = g_option_context_new(NULL);
	g_option_context_set_summary(context, _("The Keylime fleet console for a terminal."));
	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("keylime-tui: %s\n", error->message);
		return 2;
	}
	if (version) {
		g_print("keylime-tui %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		g_printerr("keylime-tui: %s\n", _("standard input and output must be a terminal"));
		return 2;
	}
	bus = g_bus_get_sync(session ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM, NULL, &error);
	if (bus == NULL) {
		g_printerr("keylime-tui: %s\n", error->message);
		return 1;
	}

	loop = g_main_loop_new(NULL, FALSE);
	cancellable = g_cancellable_new();
	app.loop = loop;
	app.cancellable = cancellable;
	app.ellipsis = g_get_charset(&charset) ? "…" : "~";

	set_escdelay(25);
	if (!kl_tui_screen_open(&app)) {
		g_printerr("keylime-tui: %s\n", _("cannot initialise the terminal"));
		return 1;
	}
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	curs_set(0);
	kl_tui_draw_init_colors(&app);

	g_unix_fd_add(STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR, kl_tui_stdin_cb, &app);
	/* after initscr(): GLib's handler replaces ncurses' own */
	g_unix_signal_add(SIGWINCH, kl_tui_winch_cb, &app);
	g_unix_signal_add(SIGINT, kl_tui_quit_cb, &app);
	g_unix_signal_add(SIGTERM, kl_tui_quit_cb, &app);
	g_unix_signal_add(SIGHUP, kl_tui_quit_cb, &app);

	kl_client_new_async(bus, cancellable, kl_tui_client_cb, &app);
	kl_tui_app_draw(&app);
	g_main_loop_run(loop);

	kl_tui_screen_close(&app);
	g_cancellable_cancel(cancellable);
	if (app.view != NULL && app.view->leave != NULL)
		app.view->leave(&app);
	kl_tui_view_agents_free(&app);
	kl_tui_view_detail_free(&app);
	kl_tui_view_events_free(&app);
	kl_tui_view_enroll_free(&app);
	kl_tui_view_help_free(&app);
	if (app.redraw_id != 0)
		g_source_remove(app.redraw_id);
	g_free(app.message);
	g_free(app.plain_last);
	g_free(app.detail_agent_id);
	g_clear_object(&app.client);
	return 0;
}
