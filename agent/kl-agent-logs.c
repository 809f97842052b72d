/*
 * Reading the IMA and UEFI logs for a quote.  The IMA securityfs file
 * reports no size, so it is read to its end and bounded while reading.
 */
#include "config.h"

#include <string.h>

#include <gio/gio.h>

#include "kl-agent-logs.h"

static GBytes *
kl_agent_logs_read_bounded(const gchar *path, gsize max, GError **error)
{
	g_autoptr(GFile) file = g_file_new_for_path(path);
	g_autoptr(GFileInputStream) stream = NULL;
	g_autoptr(GByteArray) data = g_byte_array_new();
	guint8 buffer[64 * 1024];

	stream = g_file_read(file, NULL, error);
	if (stream == NULL)
		return NULL;
	for (;;) {
		gssize n = g_input_stream_read(G_INPUT_STREAM(stream),
					       buffer,
					       sizeof(buffer),
					       NULL,
					       error);
		if (n < 0)
			return NULL;
		if (n == 0)
			break;
		if (data->len + (gsize)n > max) {
			g_set_error(error,
				    G_IO_ERROR,
				    G_IO_ERROR_MESSAGE_TOO_LARGE,
				    "%s is larger than %" G_GSIZE_FORMAT " bytes",
				    path,
				    max);
			return NULL;
		}
		g_byte_array_append(data, buffer, (guint)n);
	}
	return g_byte_array_free_to_bytes(g_steal_pointer(&data));
}

gboolean
kl_agent_ima_log_read(const gchar *path,
		      guint64 first,
		      gchar **entries,
		      guint64 *start,
		      GError **error)
{
	g_autoptr(GBytes) bytes = NULL;
	const gchar *data;
	const gchar *end;
	const gchar *p;
	gsize len = 0;
	guint64 index = 0;

	g_return_val_if_fail(path != NULL, FALSE);
	g_return_val_if_fail(entries != NULL && start != NULL, FALSE);

	bytes = kl_agent_logs_read_bounded(path, KL_AGENT_IMA_LOG_MAX, error);
	if (bytes == NULL)
		return FALSE;
	data = g_bytes_get_data(bytes, &len);
	/* an entry the kernel is still writing is sent next time */
	end = len > 0 ? memrchr(data, '\n', len) : NULL;
	end = end != NULL ? end + 1 : data;

	/* skip @first complete lines */
	for (p = data; index < first && p < end; index++) {
		const gchar *nl = memchr(p, '\n', (gsize)(end - p));

		if (nl == NULL)
			break;
		p = nl + 1;
	}
	if (index < first) {
		/* fewer entries than the verifier saw: a new boot */
		p = data;
		index = 0;
	}
	*entries = g_strndup(p, (gsize)(end - p));
	*start = index;
	return TRUE;
}

GBytes *
kl_agent_uefi_log_read(const gchar *path, GError **error)
{
	g_return_val_if_fail(path != NULL, NULL);
	return kl_agent_logs_read_bounded(path, KL_AGENT_UEFI_LOG_MAX, error);
}
