/*
 * Fuzz target: the agent's payload archive — the central directory and
 * local header checks, then inflating every entry within the limits.
 */
#include "config.h"

#include "kl-fuzz.h"
#include "kl-zip-reader.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GBytes) bytes = g_bytes_new(data, size);
	KlZipLimits limits;
	g_autoptr(KlZipReader) reader = NULL;

	/* small limits keep every input fast */
	kl_zip_limits_init_default(&limits);
	limits.max_total_size = 4 * 1024 * 1024;
	limits.max_entry_size = 1024 * 1024;
	limits.max_entries = 256;
	reader = kl_zip_reader_new(bytes, &limits, NULL);
	if (reader == NULL)
		return 0;
	for (guint i = 0; i < kl_zip_reader_get_n_entries(reader); i++) {
		g_autoptr(GBytes) contents = NULL;
		const gchar *name = kl_zip_reader_get_name(reader, i);

		g_assert(kl_zip_name_is_safe(name, strlen(name), NULL));
		g_assert(kl_zip_reader_lookup(reader, name) == (gint)i);
		contents = kl_zip_reader_extract(reader, i, NULL);
		if (contents != NULL)
			g_assert(g_bytes_get_size(contents) == kl_zip_reader_get_size(reader, i));
	}
	return 0;
}
