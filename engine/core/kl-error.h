/*
 * kl-error: the one public error domain of keylime-c.
 *
 * Module code raises errors in its own domain or in KL_ERROR; front-ends
 * (REST, D-Bus, command line) fold everything into KL_ERROR with
 * kl_error_convert() so that one code maps to one HTTP status and one D-Bus
 * error name.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define KL_ERROR kl_error_quark()

typedef enum {
	KL_ERROR_INTERNAL,
	KL_ERROR_INVALID_ARGUMENT,
	KL_ERROR_NOT_FOUND,
	KL_ERROR_PERMISSION_DENIED,
	KL_ERROR_NOT_AUTHENTICATED,
	KL_ERROR_CONFLICT,
	KL_ERROR_NOT_SUPPORTED,
	KL_ERROR_TOO_LARGE,
	KL_ERROR_TIMED_OUT,
	KL_ERROR_UNAVAILABLE,
	KL_ERROR_VERIFICATION_FAILED,
	KL_ERROR_LAST
} KlError;

GQuark kl_error_quark(void);
guint kl_error_to_http_status(const GError *error);
const gchar *kl_error_to_dbus_name(KlError code);
const gchar *kl_error_to_string(KlError code);
void kl_error_convert(GError **error);

G_END_DECLS
