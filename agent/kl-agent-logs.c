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

/*
 * The lines from @first on, read as a stream: the entries the verifier has
 * already seen are skipped, not copied, so a long log costs one pass and
 * memory for the new entries only.  FALSE with *@short_log when the file
 * has fewer than @first complete lines.
 */
static gboolean
kl_agent_ima_log_read_from(const gchar *path,
			   guint64 first,
			   GByteArray *out,
			   gboolean *short_log,
			   GError **error)
{
	g_autoptr(GFile) file = g_file_new_for_path(path);
	g_autoptr(GFileInputStream) stream = NULL;
	guint8 buffer[64 * 1024];
	guint64 index = 0;

	*short_log = FALSE;
	stream = g_file_read(file, NULL, error);
	if (stream == NULL)
		return FALSE;
	for (;;) {
		gssize n = g_input_stream_read(G_INPUT_STREAM(stream),
					       buffer,
					       sizeof(buffer),
					       NULL,
					       error);
		const guint8 *p = buffer;
		const guint8 *end;

		if (n < 0)
			return FALSE;
		if (n == 0)
			break;
		end = buffer + n;
		while (index < first && p < end) {
			const guint8 *nl = memchr(p, '\n', (gsize)(end - p));

			if (nl == NULL) {
				p = end;
				break;
			}
			index++;
			p = nl + 1;
		}
		if (p == end)
			continue;
		if (out->len + (gsize)(end - p) > KL_AGENT_IMA_LOG_MAX) {
			g_set_error(error,
				    G_IO_ERROR,
				    G_IO_ERROR_MESSAGE_TOO_LARGE,
				    "%s: more than %u bytes of new entries",
				    path,
				    (guint)KL_AGENT_IMA_LOG_MAX);
			return FALSE;
		}
		g_byte_array_append(out, p, (guint)(end - p));
	}
	*short_log = index < first;
	return !*short_log;
}

gboolean
kl_agent_ima_log_read(const gchar *path,
		      guint64 first,
		      gchar **entries,
		      guint64 *start,
		      GError **error)
{
	g_autoptr(GByteArray) out = g_byte_array_new();
	gboolean short_log = FALSE;
	const guint8 *nl;

	g_return_val_if_fail(path != NULL, FALSE);
	g_return_val_if_fail(entries != NULL && start != NULL, FALSE);

	*start = first;
	if (!kl_agent_ima_log_read_from(path, first, out, &short_log, error)) {
		if (!short_log)
			return FALSE;
		/* fewer entries than the verifier saw: a new boot, from 0 */
		g_byte_array_set_size(out, 0);
		*start = 0;
		if (!kl_agent_ima_log_read_from(path, 0, out, &short_log, error))
			return FALSE;
	}
	/* an entry the kernel is still writing is sent next time */
	nl = out->len > 0 ? memrchr(out->data, '\n', out->len) : NULL;
	g_byte_array_set_size(out, nl != NULL ? (guint)(nl - out->data + 1) : 0);
	g_byte_array_append(out, (const guint8 *)"", 1);
	*entries = (gchar *)g_byte_array_free(g_steal_pointer(&out), FALSE);
	return TRUE;
}

GBytes *
kl_agent_uefi_log_read(const gchar *path, GError **error)
{
	g_return_val_if_fail(path != NULL, NULL);
	return kl_agent_logs_read_bounded(path, KL_AGENT_UEFI_LOG_MAX, error);
}
