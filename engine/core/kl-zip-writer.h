/*
 * kl-zip-writer: builds an uncompressed ("stored") ZIP archive in memory.
 *
 * Keylime's certificate packages are stored zips so that the agent can
 * unpack them in its small tmpfs without inflating anything.  Names are
 * checked so that an archive we write never escapes the directory it is
 * unpacked in.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _KlZipWriter KlZipWriter;

KlZipWriter *kl_zip_writer_new(void);
void kl_zip_writer_free(KlZipWriter *self);
gboolean kl_zip_writer_add(KlZipWriter *self,
			   const gchar *name,
			   GBytes *contents,
			   guint32 unix_mode,
			   GError **error);
GBytes *kl_zip_writer_finish(KlZipWriter *self, GError **error);

guint32 kl_zip_crc32(guint32 crc, const guint8 *data, gsize len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlZipWriter, kl_zip_writer_free)

G_END_DECLS
