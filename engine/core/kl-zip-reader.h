/*
 * kl-zip-reader: reads an untrusted ZIP archive from memory, with limits.
 *
 * The agent unpacks the tenant's payload (a zip made by Python's zipfile,
 * stored or deflated) into its secure directory.  The central directory
 * and every local header are parsed and cross-checked before anything is
 * inflated; names that could escape the target directory, symbolic links,
 * devices, encryption, ZIP64, multi-disk archives, overlapping entries and
 * archives over the limits are refused with an error naming the entry.
 * Inflation stops at the declared size and every entry's CRC-32 is checked.
 *
 * Errors are KL_ERROR codes: KL_ERROR_INVALID_ARGUMENT for a malformed or
 * unsafe archive, KL_ERROR_TOO_LARGE for one over the limits,
 * KL_ERROR_NOT_SUPPORTED for features we refuse, KL_ERROR_CONFLICT when an
 * extracted name already exists, KL_ERROR_INTERNAL for I/O failures.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
	guint64 max_total_size; /* sum of the uncompressed sizes */
	guint64 max_entry_size; /* one entry, uncompressed */
	guint max_entries;
	/* uncompressed / compressed, checked for entries over
	 * KL_ZIP_RATIO_MIN_SIZE only (small files of zeros compress well) */
	guint max_ratio;
} KlZipLimits;

#define KL_ZIP_DEFAULT_MAX_TOTAL_SIZE (64 * 1024 * 1024)
#define KL_ZIP_DEFAULT_MAX_ENTRY_SIZE (64 * 1024 * 1024)
#define KL_ZIP_DEFAULT_MAX_ENTRIES    4096
#define KL_ZIP_DEFAULT_MAX_RATIO      200
#define KL_ZIP_RATIO_MIN_SIZE	      (64 * 1024)

void kl_zip_limits_init_default(KlZipLimits *limits);

typedef struct _KlZipReader KlZipReader;

/* Parses and validates the whole archive; @limits NULL: the defaults. */
KlZipReader *kl_zip_reader_new(GBytes *archive, const KlZipLimits *limits, GError **error);
void kl_zip_reader_free(KlZipReader *self);

guint kl_zip_reader_get_n_entries(KlZipReader *self);
/* the name as stored; directories end with '/' */
const gchar *kl_zip_reader_get_name(KlZipReader *self, guint index);
gboolean kl_zip_reader_is_dir(KlZipReader *self, guint index);
guint64 kl_zip_reader_get_size(KlZipReader *self, guint index);
/* Unix permission bits from the archive (0 when it carries none) */
guint32 kl_zip_reader_get_mode(KlZipReader *self, guint index);
/* index of @name, or -1 */
gint kl_zip_reader_lookup(KlZipReader *self, const gchar *name);

/* Inflates one entry, checking its size and CRC-32. */
GBytes *kl_zip_reader_extract(KlZipReader *self, guint index, GError **error);

/*
 * Unpacks every entry below the directory @dirfd (or @path): directories
 * 0700, files 0600 (0700 when the archive marks them executable by their
 * owner), created with O_EXCL and opened with O_NOFOLLOW at every level so
 * that no symbolic link, existing or raced, is followed and nothing that
 * exists is overwritten.  On error what was written so far stays; callers
 * unpack into a fresh directory.
 */
gboolean kl_zip_reader_extract_to_dirfd(KlZipReader *self, int dirfd, GError **error);
gboolean kl_zip_reader_extract_to_dir(KlZipReader *self, const gchar *path, GError **error);

/* The entry-name rules, for callers that take file names from elsewhere. */
gboolean kl_zip_name_is_safe(const gchar *name, gsize len, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlZipReader, kl_zip_reader_free)

G_END_DECLS
