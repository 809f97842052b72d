/*
 * The code table is the single place where KL_ERROR meets HTTP and D-Bus.
 */
#define G_LOG_DOMAIN "KlCore"

#include "config.h"

#include "kl-error.h"

typedef struct {
	const gchar *name;
	guint http_status;
} KlErrorInfo;

/* Indexed by KlError; the D-Bus names are org.keylime.Error.<name>. */
static const KlErrorInfo error_info[KL_ERROR_LAST] = {
	[KL_ERROR_INTERNAL] = {"Internal", 500},
	[KL_ERROR_INVALID_ARGUMENT] = {"InvalidArgument", 400},
	[KL_ERROR_NOT_FOUND] = {"NotFound", 404},
	[KL_ERROR_PERMISSION_DENIED] = {"PermissionDenied", 403},
	[KL_ERROR_NOT_AUTHENTICATED] = {"NotAuthenticated", 401},
	[KL_ERROR_CONFLICT] = {"Conflict", 409},
	[KL_ERROR_NOT_SUPPORTED] = {"NotSupported", 405},
	[KL_ERROR_TOO_LARGE] = {"TooLarge", 413},
	[KL_ERROR_TIMED_OUT] = {"TimedOut", 408},
	[KL_ERROR_UNAVAILABLE] = {"Unavailable", 503},
	[KL_ERROR_VERIFICATION_FAILED] = {"VerificationFailed", 400},
};

/*
 * Module domains that are parsers of untrusted input map to
 * InvalidArgument; the rest are failures of this host.  Matched by quark
 * name so that kl-error needs no link-time knowledge of every module.
 */
static const struct {
	const gchar *quark_name;
	KlError code;
} module_domains[] = {
	{"kl-agent-client-error-quark", KL_ERROR_UNAVAILABLE},
	{"kl-api-version-error-quark", KL_ERROR_INVALID_ARGUMENT},
	{"kl-config-error-quark", KL_ERROR_INVALID_ARGUMENT},
	{"kl-attestation-error-quark", KL_ERROR_INVALID_ARGUMENT},
	{"kl-crypto-error-quark", KL_ERROR_INTERNAL},
	{"kl-eventlog-error-quark", KL_ERROR_INVALID_ARGUMENT},
	{"kl-ima-error-quark", KL_ERROR_INVALID_ARGUMENT},
	{"kl-makecredential-error-quark", KL_ERROR_INVALID_ARGUMENT},
	{"kl-mb-error-quark", KL_ERROR_INVALID_ARGUMENT},
	{"kl-runtime-policy-error-quark", KL_ERROR_INVALID_ARGUMENT},
	{"kl-store-error-quark", KL_ERROR_INTERNAL},
	{"kl-tpm-error-quark", KL_ERROR_INVALID_ARGUMENT},
	{"g-key-file-error-quark", KL_ERROR_INVALID_ARGUMENT},
	{"g-convert-error-quark", KL_ERROR_INVALID_ARGUMENT},
};

static const GDBusErrorEntry *
kl_error_dbus_entries(void)
{
	static GDBusErrorEntry entries[KL_ERROR_LAST];
	for (guint i = 0; i < KL_ERROR_LAST; i++) {
		entries[i].error_code = (gint)i;
		entries[i].dbus_error_name = kl_error_to_dbus_name((KlError)i);
	}
	return entries;
}

GQuark
kl_error_quark(void)
{
	static gsize quark = 0;
	if (g_once_init_enter(&quark)) {
		gsize value = 0;
		g_dbus_error_register_error_domain("kl-error-quark",
						   &value,
						   kl_error_dbus_entries(),
						   KL_ERROR_LAST);
		g_once_init_leave(&quark, value);
	}
	return (GQuark)quark;
}

const gchar *
kl_error_to_string(KlError code)
{
	if ((guint)code >= KL_ERROR_LAST)
		return error_info[KL_ERROR_INTERNAL].name;
	return error_info[code].name;
}

const gchar *
kl_error_to_dbus_name(KlError code)
{
	static gchar *names[KL_ERROR_LAST] = {NULL};
	static gsize initialized = 0;
	if (g_once_init_enter(&initialized)) {
		for (guint i = 0; i < KL_ERROR_LAST; i++)
			names[i] = g_strdup_printf("org.keylime.Error.%s", error_info[i].name);
		g_once_init_leave(&initialized, 1);
	}
	if ((guint)code >= KL_ERROR_LAST)
		code = KL_ERROR_INTERNAL;
	return names[code];
}

guint
kl_error_to_http_status(const GError *error)
{
	if (error == NULL)
		return 200;
	if (error->domain != KL_ERROR || (guint)error->code >= KL_ERROR_LAST)
		return 500;
	return error_info[error->code].http_status;
}

static KlError
kl_error_code_from_io_error(gint code)
{
	switch (code) {
	case G_IO_ERROR_NOT_FOUND:
		return KL_ERROR_NOT_FOUND;
	case G_IO_ERROR_PERMISSION_DENIED:
		return KL_ERROR_PERMISSION_DENIED;
	case G_IO_ERROR_INVALID_ARGUMENT:
	case G_IO_ERROR_INVALID_DATA:
	case G_IO_ERROR_INVALID_FILENAME:
	case G_IO_ERROR_PARTIAL_INPUT:
		return KL_ERROR_INVALID_ARGUMENT;
	case G_IO_ERROR_EXISTS:
		return KL_ERROR_CONFLICT;
	case G_IO_ERROR_NOT_SUPPORTED:
		return KL_ERROR_NOT_SUPPORTED;
	case G_IO_ERROR_MESSAGE_TOO_LARGE:
	case G_IO_ERROR_NO_SPACE:
		return KL_ERROR_TOO_LARGE;
	case G_IO_ERROR_TIMED_OUT:
		return KL_ERROR_TIMED_OUT;
	case G_IO_ERROR_CONNECTION_REFUSED:
	case G_IO_ERROR_HOST_UNREACHABLE:
	case G_IO_ERROR_NETWORK_UNREACHABLE:
	case G_IO_ERROR_BUSY:
	case G_IO_ERROR_WOULD_BLOCK:
	case G_IO_ERROR_CONNECTION_CLOSED:
		return KL_ERROR_UNAVAILABLE;
	default:
		return KL_ERROR_INTERNAL;
	}
}

static KlError
kl_error_code_for_domain(const GError *error)
{
	if (error->domain == G_IO_ERROR)
		return kl_error_code_from_io_error(error->code);
	if (error->domain == G_FILE_ERROR) {
		if (error->code == G_FILE_ERROR_NOENT)
			return KL_ERROR_NOT_FOUND;
		if (error->code == G_FILE_ERROR_ACCES || error->code == G_FILE_ERROR_PERM)
			return KL_ERROR_PERMISSION_DENIED;
		return KL_ERROR_INTERNAL;
	}
	if (error->domain == G_TLS_ERROR)
		return KL_ERROR_NOT_AUTHENTICATED;
	for (guint i = 0; i < G_N_ELEMENTS(module_domains); i++) {
		if (g_strcmp0(g_quark_to_string(error->domain), module_domains[i].quark_name) == 0)
			return module_domains[i].code;
	}
	return KL_ERROR_INTERNAL;
}

/* Folds a module or foreign error into KL_ERROR, keeping its message. */
void
kl_error_convert(GError **error)
{
	if (error == NULL || *error == NULL)
		return;
	if ((*error)->domain == KL_ERROR) {
		if ((guint)(*error)->code >= KL_ERROR_LAST)
			(*error)->code = KL_ERROR_INTERNAL;
		return;
	}
	(*error)->code = (gint)kl_error_code_for_domain(*error);
	(*error)->domain = KL_ERROR;
}
