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
	/* another catalogue directory, e.g. <build>/po in the tests (po/README.md) */
	const gchar *localedir = g_getenv("KEYLIME_LOCALEDIR");

	setlocale(LC_ALL, "");
	bindtextdomain(GETTEXT_PACKAGE,
		       localedir != NULL && localedir[0] != '\0' ? localedir : LOCALEDIR);
	bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
	textdomain(GETTEXT_PACKAGE);

	app = kl_gui_application_new();
	return g_application_run(G_APPLICATION(app), argc, argv);
}
