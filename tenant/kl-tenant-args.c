/*
 * keylime_tenant's option and command tables and the bounded argv parser
 * over them (see kl-tenant-args.h).
 */
#include "config.h"

#include <string.h>

#include "kl-tenant-args.h"

static const KlTenantOption kl_tenant_options[] = {
	{KL_TENANT_OPT_COMMAND,
	 {"-c", "--command"},
	 "COMMAND",
	 KL_TENANT_COMPLETE_COMMAND,
	 "The command to run (default: add); see COMMANDS"},
	{KL_TENANT_OPT_UUID,
	 {"-u", "--uuid"},
	 "UUID",
	 KL_TENANT_COMPLETE_NONE,
	 "The agent's id (default: d432fbb3-d2f1-4a97-9ef7-75bd81c00000)"},
	{KL_TENANT_OPT_TARGETHOST,
	 {"-t", "--targethost"},
	 "HOST",
	 KL_TENANT_COMPLETE_HOST,
	 "The agent's address (default: the registrar record's)"},
	{KL_TENANT_OPT_TARGETPORT,
	 {"-tp", "--targetport"},
	 "PORT",
	 KL_TENANT_COMPLETE_NONE,
	 "The agent's port (default: the registrar record's)"},
	{KL_TENANT_OPT_CV_TARGETHOST,
	 {"--cv_targethost"},
	 "HOST",
	 KL_TENANT_COMPLETE_HOST,
	 "The agent's address as the verifier should use it (default: --targethost)"},
	{KL_TENANT_OPT_CV,
	 {"-v", "--cv"},
	 "HOST",
	 KL_TENANT_COMPLETE_HOST,
	 "The verifier's address (default: tenant.conf verifier_ip)"},
	{KL_TENANT_OPT_CVPORT,
	 {"-vp", "--cvport"},
	 "PORT",
	 KL_TENANT_COMPLETE_NONE,
	 "The verifier's port (default: tenant.conf verifier_port)"},
	{KL_TENANT_OPT_CVID,
	 {"-vi", "--cvid"},
	 "ID",
	 KL_TENANT_COMPLETE_NONE,
	 "The verifier id for cvlist and bulkinfo (default: default)"},
	{KL_TENANT_OPT_REGISTRARHOST,
	 {"-r", "--registrarhost"},
	 "HOST",
	 KL_TENANT_COMPLETE_HOST,
	 "The registrar's address (default: tenant.conf registrar_ip)"},
	{KL_TENANT_OPT_REGISTRARPORT,
	 {"-rp", "--registrarport"},
	 "PORT",
	 KL_TENANT_COMPLETE_NONE,
	 "The registrar's TLS port (default: tenant.conf registrar_port)"},
	{KL_TENANT_OPT_FILE,
	 {"-f", "--file"},
	 "FILE",
	 KL_TENANT_COMPLETE_FILE,
	 "add: deliver FILE to the agent encrypted (the payload)"},
	{KL_TENANT_OPT_CERT,
	 {"--cert"},
	 "DIR",
	 KL_TENANT_COMPLETE_DIR,
	 "add: deliver a certificate package from the keylime_ca directory DIR"},
	{KL_TENANT_OPT_INCLUDE,
	 {"--include"},
	 "DIR",
	 KL_TENANT_COMPLETE_DIR,
	 "add: put DIR's files into the certificate package (needs --cert)"},
	{KL_TENANT_OPT_VERIFY,
	 {"--verify"},
	 NULL,
	 KL_TENANT_COMPLETE_NONE,
	 "add: wait until the agent derived the payload key (needs a payload)"},
	{KL_TENANT_OPT_TPM_POLICY,
	 {"--tpm_policy"},
	 "JSON",
	 KL_TENANT_COMPLETE_NONE,
	 "add: the PCR policy, e.g. '{\"15\": [\"0000...\"], \"mask\": \"0x8000\"}'"},
	{KL_TENANT_OPT_RUNTIME_POLICY,
	 {"--runtime-policy"},
	 "FILE",
	 KL_TENANT_COMPLETE_FILE,
	 "add, *runtimepolicy: the runtime policy (JSON or DSSE)"},
	{KL_TENANT_OPT_RUNTIME_POLICY_NAME,
	 {"--runtime-policy-name"},
	 "NAME",
	 KL_TENANT_COMPLETE_NONE,
	 "add, *runtimepolicy: the runtime policy's name on the verifier"},
	{KL_TENANT_OPT_ALLOWLIST,
	 {"--allowlist"},
	 "FILE",
	 KL_TENANT_COMPLETE_FILE,
	 "add, *runtimepolicy: a legacy allowlist, converted to a runtime policy"},
	{KL_TENANT_OPT_EXCLUDE,
	 {"--exclude"},
	 "FILE",
	 KL_TENANT_COMPLETE_FILE,
	 "add, *runtimepolicy: a legacy exclude list merged into the policy"},
	{KL_TENANT_OPT_MB_POLICY,
	 {"--mb-policy", "--mb_refstate"},
	 "FILE",
	 KL_TENANT_COMPLETE_FILE,
	 "add, *mbpolicy: the measured-boot reference state"},
	{KL_TENANT_OPT_MB_POLICY_NAME,
	 {"--mb-policy-name"},
	 "NAME",
	 KL_TENANT_COMPLETE_NONE,
	 "add, *mbpolicy: the measured-boot policy's name on the verifier"},
	{KL_TENANT_OPT_SIGN_VERIFICATION_KEY,
	 {"--sign_verification_key", "--signature-verification-key"},
	 "FILE",
	 KL_TENANT_COMPLETE_FILE,
	 "add: a public key (PEM) for IMA signatures, as ima_sign_verification_keys"},
	{KL_TENANT_OPT_AGENT_API_VERSION,
	 {"--agent-api-version", "--supported-version"},
	 "VERSION",
	 KL_TENANT_COMPLETE_NONE,
	 "add: the agent's API version (default: asked with GET /version)"},
	{KL_TENANT_OPT_JSON,
	 {"--json"},
	 NULL,
	 KL_TENANT_COMPLETE_NONE,
	 "Print one JSON document on standard output"},
	{KL_TENANT_OPT_HELP,
	 {"-h", "--help"},
	 NULL,
	 KL_TENANT_COMPLETE_NONE,
	 "Show this help and exit"},
};

G_STATIC_ASSERT(G_N_ELEMENTS(kl_tenant_options) == KL_TENANT_OPT_COUNT);

static const KlTenantCommand kl_tenant_commands[] = {
	{"add", "enrol the agent: registrar, identity quote, payload, verifier"},
	{"delete", "remove the agent from the verifier"},
	{"update", "delete, then add"},
	{"status", "the agent on the registrar and on the verifier"},
	{"cvstatus", "the agent on the verifier"},
	{"regstatus", "the agent on the registrar"},
	{"cvlist", "the agents on the verifier"},
	{"reglist", "the agents on the registrar"},
	{"regdelete", "remove the agent from the registrar"},
	{"reactivate", "restart the verifier's attestation of the agent"},
	{"bulkinfo", "every agent's status on the verifier"},
	{"addruntimepolicy", "store a named runtime policy on the verifier"},
	{"showruntimepolicy", "print a named runtime policy"},
	{"updateruntimepolicy", "replace a named runtime policy"},
	{"deleteruntimepolicy", "remove a named runtime policy"},
	{"listruntimepolicy", "the runtime policies' names"},
	{"addmbpolicy", "store a named measured-boot policy on the verifier"},
	{"showmbpolicy", "print a named measured-boot policy"},
	{"updatembpolicy", "replace a named measured-boot policy"},
	{"deletembpolicy", "remove a named measured-boot policy"},
	{"listmbpolicy", "the measured-boot policies' names"},
};

const KlTenantOption *
kl_tenant_args_options(gsize *n_options)
{
	*n_options = G_N_ELEMENTS(kl_tenant_options);
	return kl_tenant_options;
}

const KlTenantCommand *
kl_tenant_args_commands(gsize *n_commands)
{
	*n_commands = G_N_ELEMENTS(kl_tenant_commands);
	return kl_tenant_commands;
}

void
kl_tenant_args_free(KlTenantArgs *self)
{
	if (self == NULL)
		return;
	for (gsize i = 0; i < KL_TENANT_OPT_COUNT; i++)
		g_free(self->values[i]);
	g_free(self);
}

/* The option named @name (exactly, with its dashes), or NULL. */
static const KlTenantOption *
kl_tenant_args_lookup(const gchar *name, gsize name_len)
{
	for (gsize i = 0; i < G_N_ELEMENTS(kl_tenant_options); i++) {
		for (gsize n = 0; n < KL_TENANT_OPTION_MAX_NAMES; n++) {
			const gchar *candidate = kl_tenant_options[i].names[n];

			if (candidate != NULL && strlen(candidate) == name_len &&
			    strncmp(candidate, name, name_len) == 0)
				return &kl_tenant_options[i];
		}
	}
	return NULL;
}

static gboolean
kl_tenant_args_known_command(const gchar *name)
{
	for (gsize i = 0; i < G_N_ELEMENTS(kl_tenant_commands); i++) {
		if (g_str_equal(kl_tenant_commands[i].name, name))
			return TRUE;
	}
	return FALSE;
}

KlTenantArgs *
kl_tenant_args_parse(gint argc, const gchar *const *argv, GError **error)
{
	g_autoptr(KlTenantArgs) self = g_new0(KlTenantArgs, 1);

	if (argc < 0 || argc > KL_TENANT_ARGS_MAX_COUNT) {
		g_set_error(error,
			    G_OPTION_ERROR,
			    G_OPTION_ERROR_FAILED,
			    "too many arguments (at most %d)",
			    KL_TENANT_ARGS_MAX_COUNT);
		return NULL;
	}
	for (gint i = 0; i < argc; i++) {
		const gchar *arg = argv[i];
		const gchar *equals = NULL;
		const gchar *value = NULL;
		const KlTenantOption *option;
		gsize name_len;

		if (arg == NULL ||
		    strnlen(arg, KL_TENANT_ARGS_MAX_LENGTH + 1) > KL_TENANT_ARGS_MAX_LENGTH) {
			g_set_error(error,
				    G_OPTION_ERROR,
				    G_OPTION_ERROR_BAD_VALUE,
				    "argument %d: longer than %d bytes",
				    i + 1,
				    KL_TENANT_ARGS_MAX_LENGTH);
			return NULL;
		}
		if (arg[0] != '-' || arg[1] == '\0') {
			g_set_error(error,
				    G_OPTION_ERROR,
				    G_OPTION_ERROR_FAILED,
				    "unexpected argument \"%s\"",
				    arg);
			return NULL;
		}
		/* "--name=value" for long options, as argparse */
		if (arg[1] == '-')
			equals = strchr(arg, '=');
		name_len = equals != NULL ? (gsize)(equals - arg) : strlen(arg);
		option = kl_tenant_args_lookup(arg, name_len);
		if (option == NULL) {
			g_set_error(error,
				    G_OPTION_ERROR,
				    G_OPTION_ERROR_UNKNOWN_OPTION,
				    "unknown option %.*s",
				    (int)name_len,
				    arg);
			return NULL;
		}
		if (option->arg == NULL) {
			if (equals != NULL) {
				g_set_error(error,
					    G_OPTION_ERROR,
					    G_OPTION_ERROR_BAD_VALUE,
					    "option %.*s takes no value",
					    (int)name_len,
					    arg);
				return NULL;
			}
			value = "1";
		} else if (equals != NULL) {
			value = equals + 1;
		} else if (i + 1 < argc && argv[i + 1] != NULL) {
			value = argv[++i];
			if (strnlen(value, KL_TENANT_ARGS_MAX_LENGTH + 1) >
			    KL_TENANT_ARGS_MAX_LENGTH) {
				g_set_error(error,
					    G_OPTION_ERROR,
					    G_OPTION_ERROR_BAD_VALUE,
					    "option %s: value longer than %d bytes",
					    arg,
					    KL_TENANT_ARGS_MAX_LENGTH);
				return NULL;
			}
		} else {
			g_set_error(error,
				    G_OPTION_ERROR,
				    G_OPTION_ERROR_BAD_VALUE,
				    "option %s needs a value (%s)",
				    arg,
				    option->arg);
			return NULL;
		}
		g_free(self->values[option->id]);
		self->values[option->id] = g_strdup(value);
	}
	if (self->values[KL_TENANT_OPT_COMMAND] != NULL &&
	    !kl_tenant_args_known_command(self->values[KL_TENANT_OPT_COMMAND])) {
		g_set_error(error,
			    G_OPTION_ERROR,
			    G_OPTION_ERROR_BAD_VALUE,
			    "option --command: unknown command \"%s\"",
			    self->values[KL_TENANT_OPT_COMMAND]);
		return NULL;
	}
	return g_steal_pointer(&self);
}

gboolean
kl_tenant_args_port(const KlTenantArgs *self, KlTenantOpt id, guint16 *port, GError **error)
{
	const gchar *text = self->values[id];
	guint64 value = 0;

	g_return_val_if_fail(id < KL_TENANT_OPT_COUNT, FALSE);
	if (text == NULL || !g_ascii_string_to_unsigned(text, 10, 1, G_MAXUINT16, &value, NULL)) {
		g_set_error(error,
			    G_OPTION_ERROR,
			    G_OPTION_ERROR_BAD_VALUE,
			    "option %s: \"%s\" is not a port (1-65535)",
			    kl_tenant_options[id].names[1] != NULL ? kl_tenant_options[id].names[1]
								   : kl_tenant_options[id].names[0],
			    text != NULL ? text : "");
		return FALSE;
	}
	*port = (guint16)value;
	return TRUE;
}

gchar *
kl_tenant_args_help(const gchar *program)
{
	GString *out = g_string_new(NULL);

	g_string_append_printf(out,
			       "Usage: %s [-c COMMAND] [-u UUID] [OPTION...]\n\n"
			       "Enrol agents with a Keylime verifier and manage them.\n\n"
			       "Options:\n",
			       program);
	for (gsize i = 0; i < G_N_ELEMENTS(kl_tenant_options); i++) {
		const KlTenantOption *option = &kl_tenant_options[i];
		GString *names = g_string_new(NULL);

		for (gsize n = 0; n < KL_TENANT_OPTION_MAX_NAMES && option->names[n] != NULL; n++)
			g_string_append_printf(names, "%s%s", n > 0 ? ", " : "", option->names[n]);
		if (option->arg != NULL)
			g_string_append_printf(names, " %s", option->arg);
		g_string_append_printf(out, "  %-40s %s\n", names->str, option->help);
		g_string_free(names, TRUE);
	}
	g_string_append(out, "\nCommands:\n");
	for (gsize i = 0; i < G_N_ELEMENTS(kl_tenant_commands); i++)
		g_string_append_printf(out,
				       "  %-22s %s\n",
				       kl_tenant_commands[i].name,
				       kl_tenant_commands[i].help);
	g_string_append(out,
			"\nConfiguration: tenant.conf ($KEYLIME_TENANT_CONFIG, else "
			"/etc/keylime/tenant.conf).\n"
			"\nExit status:\n"
			"  0  success\n"
			"  1  the operation failed (the agent, registrar or verifier said no)\n"
			"  2  usage or configuration error\n"
			"  3  a service could not be reached\n");
	return g_string_free(out, FALSE);
}
