/*
 * Strict base64 decoding: the alphabet, the padding and the length are
 * checked before g_base64_decode() sees the text.
 */
#include "config.h"

#include <string.h>

#include "kl-base64.h"
#include "kl-error.h"

static gboolean
kl_base64_is_alphabet(gchar c, KlBase64Flags flags)
{
	if (g_ascii_isalnum(c))
		return TRUE;
	if ((flags & KL_BASE64_FLAG_URL_SAFE) != 0)
		return c == '-' || c == '_';
	return c == '+' || c == '/';
}

GBytes *
kl_base64_decode(const gchar *text, gssize len, KlBase64Flags flags, GError **error)
{
	g_autoptr(GString) clean = NULL;
	gsize text_len;
	gsize pad = 0;
	gsize out_len = 0;
	guchar *out;

	g_return_val_if_fail(text != NULL || len == 0, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	text_len = len < 0 ? strlen(text) : (gsize)len;
	clean = g_string_sized_new(text_len + 1);
	for (gsize i = 0; i < text_len; i++) {
		gchar c = text[i];

		if ((flags & KL_BASE64_FLAG_ALLOW_SPACE) != 0 && g_ascii_isspace(c))
			continue;
		if (c == '=') {
			pad++;
		} else if (pad > 0 || !kl_base64_is_alphabet(c, flags)) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "invalid base64 character at offset %" G_GSIZE_FORMAT,
				    i);
			return NULL;
		}
		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		g_string_append_c(clean, c);
	}
	if (clean->len % 4 != 0 || pad > 2) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "invalid base64 length %" G_GSIZE_FORMAT,
			    clean->len);
		return NULL;
	}
	if (clean->len == 0)
		return g_bytes_new(NULL, 0);
	out = g_base64_decode(clean->str, &out_len);
	return g_bytes_new_take(out, out_len);
}
