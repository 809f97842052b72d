/*
 * keylime-console: the GTK 4 fleet console of a Keylime verifier.
 */
#include "config.h"

#include <locale.h>

#include <glib/gi18n.h>

#include "kl-gui-application.h"

int
main(int argc, char **argv)
{
	g_autoptr(KlGuiApplication) app = NULL;

	setlocale(LC_ALL, "");
	bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
	bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
	textdomain(GETTEXT_PACKAGE);

	app = kl_gui_application_new();
	return g_application_run(G_APPLICATION(app), argc, argv);
}
