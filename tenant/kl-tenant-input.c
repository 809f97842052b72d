/*
 * Reads to the end rather than trusting the size a file reports:
 * securityfs files such as the IMA measurement list say 0.  The limit is
 * checked as the bytes arrive, so a huge input is refused without being
 * held in memory first.
 */
#define G_LOG_DOMAIN "KlTenant"

#include "config.h"

#include <gio/gunixinputstream.h>

#include "kl-error.h"
#include "kl-tenant-input.h"

gchar *
kl_tenant_read_input(const gchar *path, gsize max_size, gsize *length, GError **error)
{
	g_autoptr(GInputStream) stream = NULL;
	g_autoptr(GByteArray) data = g_byte_array_new();
	guint8 buffer[65536];

	g_return_val_if_fail(path != NULL, NULL);

	if (g_strcmp0(path, "-") == 0) {
		stream = g_unix_input_stream_new(0, FALSE);
	} else {
		g_autoptr(GFile) file = g_file_new_for_commandline_arg(path);
		stream = G_INPUT_STREAM(g_file_read(file, NULL, error));
		if (stream == NULL)
			return NULL;
	}
	for (;;) {
		gssize n = g_input_stream_read(stream, buffer, sizeof(buffer), NULL, error);
		if (n < 0)
			return NULL;
		if (n == 0)
			break;
		if ((gsize)n > max_size - data->len) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_TOO_LARGE,
				    "larger than the limit of %" G_GSIZE_FORMAT " bytes",
				    max_size);
			return NULL;
		}
		g_byte_array_append(data, buffer, (guint)n);
	}
	if (length != NULL)
		*length = data->len;
	g_byte_array_append(data, (const guint8 *)"", 1);
	return (gchar *)g_byte_array_free(g_steal_pointer(&data), FALSE);
}
