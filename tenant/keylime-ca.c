/*
 * keylime_ca: upstream's CA tool with its commands and flags
 * (-c init|create|pkg|revoke|crl|listen, -n NAME, -d DIR).
 *
 * Exit status: 0 done, 1 the operation failed, 2 usage error.
 */
#define G_LOG_DOMAIN "KlCa"

#include "config.h"

#include <locale.h>

#include <glib/gi18n.h>

#include "kl-ca.h"
#include "kl-config.h"

#define KL_CA_EXIT_OK	 0
#define KL_CA_EXIT_FAIL	 1
#define KL_CA_EXIT_USAGE 2

typedef enum {
	KL_CA_COMMAND_INIT,
	KL_CA_COMMAND_CREATE,
	KL_CA_COMMAND_PKG,
	KL_CA_COMMAND_REVOKE,
	KL_CA_COMMAND_CRL,
	KL_CA_COMMAND_LISTEN,
	KL_CA_COMMAND_UNKNOWN,
} KlCaCommand;

static KlCaCommand
kl_ca_command_parse(const gchar *text)
{
	const struct {
		const gchar *name;
		KlCaCommand command;
	} commands[] = {
		{"init", KL_CA_COMMAND_INIT},
		{"create", KL_CA_COMMAND_CREATE},
		{"pkg", KL_CA_COMMAND_PKG},
		{"revoke", KL_CA_COMMAND_REVOKE},
		{"crl", KL_CA_COMMAND_CRL},
		{"listen", KL_CA_COMMAND_LISTEN},
	};
	for (guint i = 0; i < G_N_ELEMENTS(commands); i++) {
		if (g_strcmp0(text, commands[i].name) == 0)
			return commands[i].command;
	}
	return KL_CA_COMMAND_UNKNOWN;
}

static gint
kl_ca_usage_error(GOptionContext *context, const gchar *message)
{
	g_autofree gchar *help = g_option_context_get_help(context, TRUE, NULL);
	g_printerr("keylime_ca: %s\n\n%s", message, help);
	return KL_CA_EXIT_USAGE;
}

static gint
kl_ca_failed(const GError *error)
{
	g_printerr("keylime_ca: %s\n", error->message);
	return KL_CA_EXIT_FAIL;
}

static gint
kl_ca_run(KlCaCommand command, const gchar *dir, const gchar *name, const KlCaSettings *settings)
{
	g_autoptr(KlCa) ca = NULL;
	g_autoptr(GError) error = NULL;

	if (command == KL_CA_COMMAND_INIT) {
		ca = kl_ca_init(dir, settings, &error);
		if (ca == NULL)
			return kl_ca_failed(error);
		/* TRANSLATORS: %s is a directory */
		g_print(_("CA certificate created in %s\n"), kl_ca_get_dir(ca));
		return KL_CA_EXIT_OK;
	}

	ca = kl_ca_open(dir, settings, &error);
	if (ca == NULL)
		return kl_ca_failed(error);

	switch (command) {
	case KL_CA_COMMAND_CREATE: {
		g_autofree gchar *serial = NULL;
		if (!kl_ca_create_cert(ca, name, &error))
			return kl_ca_failed(error);
		/* xgettext cannot see through G_GUINT64_FORMAT: pass the serial as text. */
		serial = g_strdup_printf("%" G_GUINT64_FORMAT, kl_ca_get_last_serial(ca));
		/* TRANSLATORS: first %s is a certificate name, then a serial
		 * number, then a directory */
		g_print(_("Created certificate %s (serial %s) in %s\n"),
			name,
			serial,
			kl_ca_get_dir(ca));
		break;
	}
	case KL_CA_COMMAND_PKG: {
		g_autofree gchar *path = kl_ca_write_package(ca, name, &error);
		if (path == NULL)
			return kl_ca_failed(error);
		/* TRANSLATORS: %s is a file name */
		g_print(_("Wrote certificate package %s\n"), path);
		break;
	}
	case KL_CA_COMMAND_REVOKE:
		if (!kl_ca_revoke(ca, name, &error))
			return kl_ca_failed(error);
		/* TRANSLATORS: %s is a certificate name */
		g_print(_("Revoked certificate %s and regenerated the CRL\n"), name);
		break;
	case KL_CA_COMMAND_CRL:
		if (!kl_ca_regenerate_crl(ca, &error))
			return kl_ca_failed(error);
		/* TRANSLATORS: %s is a directory */
		g_print(_("Regenerated the CRL in %s\n"), kl_ca_get_dir(ca));
		break;
	case KL_CA_COMMAND_INIT:
	case KL_CA_COMMAND_LISTEN:
	case KL_CA_COMMAND_UNKNOWN:
	default:
		/* main() handles these before opening the CA */
		g_printerr("keylime_ca: unexpected command %d\n", (gint)command);
		return KL_CA_EXIT_USAGE;
	}
	return KL_CA_EXIT_OK;
}

int
main(int argc, char **argv)
{
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(KlConfig) config = NULL;
	g_autoptr(KlCaSettings) settings = NULL;
	g_autofree gchar *command_text = NULL;
	g_autofree gchar *name = NULL;
	g_autofree gchar *dir = NULL;
	gboolean insecure = FALSE;
	KlCaCommand command;
	const GOptionEntry entries[] = {
		{"command",
		 'c',
		 G_OPTION_FLAG_NONE,
		 G_OPTION_ARG_STRING,
		 &command_text,
		 N_("Command: init, create, pkg, revoke, crl or listen"),
		 N_("COMMAND")},
		{"name",
		 'n',
		 G_OPTION_FLAG_NONE,
		 G_OPTION_ARG_STRING,
		 &name,
		 N_("The common name of the certificate to create, package or revoke"),
		 N_("NAME")},
		{"dir",
		 'd',
		 G_OPTION_FLAG_NONE,
		 G_OPTION_ARG_FILENAME,
		 &dir,
		 N_("The directory holding the CA's certificates and keys"),
		 N_("DIR")},
		/* upstream's keystore password protection is disabled, so its
	     * packages always hold the plain key: accepted for compatibility */
		{"insecure",
		 'i',
		 G_OPTION_FLAG_NONE,
		 G_OPTION_ARG_NONE,
		 &insecure,
		 N_("Accepted for compatibility: packages always hold unprotected private keys"),
		 NULL},
		{NULL},
	};

	setlocale(LC_ALL, "");
	bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
	bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
	textdomain(GETTEXT_PACKAGE);

	context = g_option_context_new(NULL);
	g_option_context_set_summary(context, _("Manage the Keylime certificate authority."));
	g_option_context_set_description(
		context,
		_("Commands:\n"
		  "  init     create the CA, its CRL and the RevocationNotifier certificate\n"
		  "  create   create a certificate and key pair for NAME\n"
		  "  pkg      write NAME-pkg.zip, the certificate package for NAME\n"
		  "  revoke   revoke the certificate of NAME and regenerate the CRL\n"
		  "  crl      regenerate the CRL\n"));
	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
	if (!g_option_context_parse(context, &argc, &argv, &error))
		return kl_ca_usage_error(context, error->message);
	if (argc > 1) {
		g_autofree gchar *msg = g_strdup_printf(_("unexpected argument '%s'"), argv[1]);
		return kl_ca_usage_error(context, msg);
	}
	if (command_text == NULL)
		return kl_ca_usage_error(context, _("a command is required (-c)"));
	command = kl_ca_command_parse(command_text);
	if (command == KL_CA_COMMAND_UNKNOWN) {
		g_autofree gchar *msg = g_strdup_printf(_("invalid command '%s'"), command_text);
		return kl_ca_usage_error(context, msg);
	}
	if (command == KL_CA_COMMAND_LISTEN) {
		g_printerr("keylime_ca: %s\n",
			   _("the 'listen' command (CRL HTTP server) is not supported"));
		return KL_CA_EXIT_USAGE;
	}
	if (name == NULL && (command == KL_CA_COMMAND_CREATE || command == KL_CA_COMMAND_PKG ||
			     command == KL_CA_COMMAND_REVOKE)) {
		return kl_ca_usage_error(
			context,
			_("you must pass in a name for the certificate using -n (or --name)"));
	}
	if (name != NULL && !kl_ca_name_is_valid(name, &error))
		return kl_ca_usage_error(context, error->message);

	config = kl_config_new();
	if (!kl_config_load_component(config, "ca", &error))
		return kl_ca_failed(error);
	settings = kl_ca_settings_new_from_config(config, &error);
	if (settings == NULL)
		return kl_ca_failed(error);
	if (dir == NULL)
		dir = kl_ca_default_dir();

	return kl_ca_run(command, dir, name, settings);
}
