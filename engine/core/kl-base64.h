/*
 * kl-base64: strict base64 for untrusted input.  g_base64_decode() skips
 * characters outside the alphabet and accepts any length; Keylime's
 * fields (TPM structures, certificates, quotes, signatures) are decoded
 * here instead, so that garbage is an error and not a shorter value.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
	KL_BASE64_FLAG_NONE = 0,
	KL_BASE64_FLAG_ALLOW_SPACE = 1 << 0, /* skip ASCII whitespace (PEM-like wrapping) */
	KL_BASE64_FLAG_URL_SAFE = 1 << 1,    /* '-' and '_' instead of '+' and '/' */
} KlBase64Flags;

/*
 * Padding is required and only at the end; @len -1 for NUL-terminated.
 * Errors are KL_ERROR_INVALID_ARGUMENT naming the offset; callers prefix
 * the field's name.
 */
GBytes *kl_base64_decode(const gchar *text, gssize len, KlBase64Flags flags, GError **error);

G_END_DECLS
