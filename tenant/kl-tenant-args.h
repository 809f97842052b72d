/*
 * kl-tenant-args: keylime_tenant's command line, upstream's argparse flags
 * (single-dash multi-letter ones such as -tp, -vp and -rp included, which
 * GOptionContext cannot parse), declared once in a table from which the
 * --help text comes and against which the man page and the bash completion
 * are tested.  The parse is bounded: argument count and length are capped.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* exit codes, documented in --help and keylime_tenant(1) */
typedef enum {
	KL_TENANT_EXIT_OK = 0,
	KL_TENANT_EXIT_FAILED = 1,	/* the agent, registrar or verifier said no */
	KL_TENANT_EXIT_USAGE = 2,	/* usage or configuration error */
	KL_TENANT_EXIT_UNREACHABLE = 3, /* a service could not be reached */
} KlTenantExit;

#define KL_TENANT_ARGS_MAX_COUNT  256
#define KL_TENANT_ARGS_MAX_LENGTH 4096

typedef enum {
	KL_TENANT_OPT_COMMAND,
	KL_TENANT_OPT_UUID,
	KL_TENANT_OPT_TARGETHOST,
	KL_TENANT_OPT_TARGETPORT,
	KL_TENANT_OPT_CV_TARGETHOST,
	KL_TENANT_OPT_CV,
	KL_TENANT_OPT_CVPORT,
	KL_TENANT_OPT_CVID,
	KL_TENANT_OPT_REGISTRARHOST,
	KL_TENANT_OPT_REGISTRARPORT,
	KL_TENANT_OPT_FILE,
	KL_TENANT_OPT_CERT,
	KL_TENANT_OPT_INCLUDE,
	KL_TENANT_OPT_VERIFY,
	KL_TENANT_OPT_TPM_POLICY,
	KL_TENANT_OPT_RUNTIME_POLICY,
	KL_TENANT_OPT_RUNTIME_POLICY_NAME,
	KL_TENANT_OPT_ALLOWLIST,
	KL_TENANT_OPT_EXCLUDE,
	KL_TENANT_OPT_MB_POLICY,
	KL_TENANT_OPT_MB_POLICY_NAME,
	KL_TENANT_OPT_SIGN_VERIFICATION_KEY,
	KL_TENANT_OPT_AGENT_API_VERSION,
	KL_TENANT_OPT_JSON,
	KL_TENANT_OPT_HELP,
	KL_TENANT_OPT_COUNT
} KlTenantOpt;

/* what the bash completion offers for an option's value */
typedef enum {
	KL_TENANT_COMPLETE_NONE,
	KL_TENANT_COMPLETE_COMMAND,
	KL_TENANT_COMPLETE_FILE,
	KL_TENANT_COMPLETE_DIR,
	KL_TENANT_COMPLETE_HOST,
} KlTenantComplete;

#define KL_TENANT_OPTION_MAX_NAMES 3

typedef struct {
	KlTenantOpt id;
	const gchar *names[KL_TENANT_OPTION_MAX_NAMES]; /* with dashes; NULL-padded */
	const gchar *arg;				/* value name; NULL: a flag */
	KlTenantComplete complete;
	const gchar *help;
} KlTenantOption;

typedef struct {
	const gchar *name;
	const gchar *help;
} KlTenantCommand;

/* The tables, in --help order; @n_options / @n_commands are set. */
const KlTenantOption *kl_tenant_args_options(gsize *n_options);
const KlTenantCommand *kl_tenant_args_commands(gsize *n_commands);

/* What the command line gave: values by option (flags are "1"), NULL when
 * absent; a repeated option keeps its last value, as argparse does. */
typedef struct {
	gchar *values[KL_TENANT_OPT_COUNT];
} KlTenantArgs;

void kl_tenant_args_free(KlTenantArgs *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlTenantArgs, kl_tenant_args_free)

/* argv without the program name; errors are G_OPTION_ERROR naming the
 * argument.  The command is checked against the command table. */
KlTenantArgs *kl_tenant_args_parse(gint argc, const gchar *const *argv, GError **error);

static inline const gchar *
kl_tenant_args_get(const KlTenantArgs *self, KlTenantOpt id)
{
	return self->values[id];
}

/* A port value: 1..65535. */
gboolean
kl_tenant_args_port(const KlTenantArgs *self, KlTenantOpt id, guint16 *port, GError **error);

/* The --help text. */
gchar *kl_tenant_args_help(const gchar *program);

G_END_DECLS
