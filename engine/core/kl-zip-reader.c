/*
 * A bounded ZIP reader (PKWARE APPNOTE 6.3): end record, central
 * directory, local headers cross-checked against it, stored and deflated
 * entries (raw deflate through GIO's GZlibDecompressor), optional data
 * descriptors as Python's zipfile writes them to unseekable streams.
 * No ZIP64, no encryption, no multi-disk archives.
 */
#define G_LOG_DOMAIN "KlZip"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "kl-error.h"
#include "kl-zip-reader.h"
#include "kl-zip-writer.h"

#define KL_ZIP_LOCAL_SIGNATURE	    0x04034b50u
#define KL_ZIP_CENTRAL_SIGNATURE    0x02014b50u
#define KL_ZIP_END_SIGNATURE	    0x06054b50u
#define KL_ZIP_DESCRIPTOR_SIGNATURE 0x08074b50u
#define KL_ZIP_END_SIZE		    22
#define KL_ZIP_CENTRAL_SIZE	    46
#define KL_ZIP_LOCAL_SIZE	    30

#define KL_ZIP_FLAG_ENCRYPTED	      (1u << 0)
#define KL_ZIP_FLAG_DESCRIPTOR	      (1u << 3)
#define KL_ZIP_FLAG_STRONG_ENCRYPTION (1u << 6)
#define KL_ZIP_FLAG_MASKED_HEADER     (1u << 13)
/* bits 1-2 are deflate options that some writers set in one header only */
#define KL_ZIP_FLAG_OPTION_BITS (3u << 1)

#define KL_ZIP_METHOD_STORED  0
#define KL_ZIP_METHOD_DEFLATE 8
#define KL_ZIP_HOST_UNIX      3

typedef struct {
	gchar *name;
	gsize local_offset;
	gsize data_offset;
	gsize end_offset; /* after the data and its descriptor */
	guint32 crc;
	guint32 csize;
	guint32 usize;
	guint32 mode;
	guint16 method;
	guint16 flags;
	gboolean is_dir;
} KlZipReaderEntry;

struct _KlZipReader {
	GBytes *archive;
	const guint8 *data;
	gsize size;
	KlZipLimits limits;
	GArray *entries;   /* of KlZipReaderEntry */
	GHashTable *index; /* name -> index + 1 */
};

void
kl_zip_limits_init_default(KlZipLimits *limits)
{
	g_return_if_fail(limits != NULL);
	limits->max_total_size = KL_ZIP_DEFAULT_MAX_TOTAL_SIZE;
	limits->max_entry_size = KL_ZIP_DEFAULT_MAX_ENTRY_SIZE;
	limits->max_entries = KL_ZIP_DEFAULT_MAX_ENTRIES;
	limits->max_ratio = KL_ZIP_DEFAULT_MAX_RATIO;
}

static guint16
kl_zip_get16(const guint8 *p)
{
	return (guint16)(p[0] | p[1] << 8);
}

static guint32
kl_zip_get32(const guint8 *p)
{
	return (guint32)p[0] | (guint32)p[1] << 8 | (guint32)p[2] << 16 | (guint32)p[3] << 24;
}

/* A name for error messages: control bytes, backslashes and invalid
 * UTF-8 escaped, so that hostile names cannot forge log lines. */
static gchar *
kl_zip_printable(const gchar *name, gsize len)
{
	GString *out = g_string_sized_new(len + 2);
	gboolean utf8 = g_utf8_validate(name, (gssize)len, NULL);

	for (gsize i = 0; i < len; i++) {
		guchar c = (guchar)name[i];
		if (c < 0x20 || c == 0x7f || c == '\\' || (c >= 0x80 && !utf8))
			g_string_append_printf(out, "\\x%02x", (guint)c);
		else
			g_string_append_c(out, (gchar)c);
	}
	return g_string_free(out, FALSE);
}

gboolean
kl_zip_name_is_safe(const gchar *name, gsize len, GError **error)
{
	g_autofree gchar *printable = NULL;
	gsize start = 0;

	g_return_val_if_fail(name != NULL || len == 0, FALSE);

	if (len == 0) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "zip entry has an empty name");
		return FALSE;
	}
	printable = kl_zip_printable(name, len);
	if (memchr(name, '\0', len) != NULL) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "zip entry '%s': name contains a NUL byte",
			    printable);
		return FALSE;
	}
	if (!g_utf8_validate(name, (gssize)len, NULL)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "zip entry '%s': name is not valid UTF-8",
			    printable);
		return FALSE;
	}
	for (gsize i = 0; i < len; i++) {
		guchar c = (guchar)name[i];
		if (c < 0x20 || c == 0x7f || c == '\\') {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "zip entry '%s': name contains forbidden character 0x%02x",
				    printable,
				    (guint)c);
			return FALSE;
		}
	}
	if (name[0] == '/') {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "zip entry '%s': name is absolute",
			    printable);
		return FALSE;
	}
	/* components: none empty (a trailing '/' marks a directory), '.' or '..' */
	for (gsize i = 0; i <= len; i++) {
		gsize clen;
		if (i < len && name[i] != '/')
			continue;
		clen = i - start;
		if ((clen == 0 && i != len) || (clen == 1 && name[start] == '.') ||
		    (clen == 2 && name[start] == '.' && name[start + 1] == '.')) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "zip entry '%s': name has an empty, '.' or '..' component",
				    printable);
			return FALSE;
		}
		if (clen > 255) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "zip entry '%s': name component longer than 255 bytes",
				    printable);
			return FALSE;
		}
		start = i + 1;
	}
	return TRUE;
}

static void
kl_zip_reader_entry_clear(gpointer data)
{
	KlZipReaderEntry *entry = data;
	g_free(entry->name);
}

void
kl_zip_reader_free(KlZipReader *self)
{
	if (self == NULL)
		return;
	g_clear_pointer(&self->index, g_hash_table_unref);
	g_clear_pointer(&self->entries, g_array_unref);
	g_clear_pointer(&self->archive, g_bytes_unref);
	g_free(self);
}

static gboolean
kl_zip_reader_find_end(KlZipReader *self, gsize *end_offset, GError **error)
{
	gsize lowest;

	if (self->size < KL_ZIP_END_SIZE) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "zip archive is %" G_GSIZE_FORMAT " bytes, too short for an end record",
			    self->size);
		return FALSE;
	}
	/* the end record is followed by its comment, up to 64 KiB, and
	 * nothing else: its length must reach the end exactly */
	lowest = self->size > KL_ZIP_END_SIZE + 0xffff ? self->size - KL_ZIP_END_SIZE - 0xffff : 0;
	for (gsize pos = self->size - KL_ZIP_END_SIZE;; pos--) {
		const guint8 *p = self->data + pos;
		if (kl_zip_get32(p) == KL_ZIP_END_SIGNATURE &&
		    pos + KL_ZIP_END_SIZE + kl_zip_get16(p + 20) == self->size) {
			*end_offset = pos;
			return TRUE;
		}
		if (pos == lowest)
			break;
	}
	g_set_error_literal(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "zip archive has no end of central directory record");
	return FALSE;
}

/* Cross-checks the local header of @entry against its central record. */
static gboolean
kl_zip_reader_check_local(KlZipReader *self,
			  KlZipReaderEntry *entry,
			  const guint8 *central_name,
			  gsize name_len,
			  gsize cd_offset,
			  const gchar *printable,
			  GError **error)
{
	const guint8 *p;
	guint16 flags;
	guint32 crc;
	guint32 csize;
	guint32 usize;
	gsize lname;
	gsize lextra;

	if (entry->local_offset > cd_offset ||
	    cd_offset - entry->local_offset < KL_ZIP_LOCAL_SIZE) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "zip entry '%s': local header outside the archive data",
			    printable);
		return FALSE;
	}
	p = self->data + entry->local_offset;
	if (kl_zip_get32(p) != KL_ZIP_LOCAL_SIGNATURE) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "zip entry '%s': bad local header signature",
			    printable);
		return FALSE;
	}
	flags = kl_zip_get16(p + 6);
	crc = kl_zip_get32(p + 14);
	csize = kl_zip_get32(p + 18);
	usize = kl_zip_get32(p + 22);
	lname = kl_zip_get16(p + 26);
	lextra = kl_zip_get16(p + 28);
	if (entry->local_offset + KL_ZIP_LOCAL_SIZE + lname + lextra > cd_offset) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "zip entry '%s': local header runs into the central directory",
			    printable);
		return FALSE;
	}
	if ((flags & ~KL_ZIP_FLAG_OPTION_BITS) != (entry->flags & ~KL_ZIP_FLAG_OPTION_BITS) ||
	    kl_zip_get16(p + 8) != entry->method || lname != name_len ||
	    memcmp(p + KL_ZIP_LOCAL_SIZE, central_name, name_len) != 0) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "zip entry '%s': local header does not match the central directory",
			    printable);
		return FALSE;
	}
	/* with a data descriptor the local header may leave these zero */
	if ((crc != entry->crc || csize != entry->csize || usize != entry->usize) &&
	    !((entry->flags & KL_ZIP_FLAG_DESCRIPTOR) && crc == 0 && csize == 0 && usize == 0)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "zip entry '%s': local sizes or CRC differ from the central directory",
			    printable);
		return FALSE;
	}
	entry->data_offset = entry->local_offset + KL_ZIP_LOCAL_SIZE + lname + lextra;
	if (entry->csize > cd_offset - entry->data_offset) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "zip entry '%s': data runs into the central directory",
			    printable);
		return FALSE;
	}
	entry->end_offset = entry->data_offset + entry->csize;
	if (entry->flags & KL_ZIP_FLAG_DESCRIPTOR) {
		const guint8 *d = self->data + entry->end_offset;
		gsize dlen = 12;
		if (cd_offset - entry->end_offset >= 4 &&
		    kl_zip_get32(d) == KL_ZIP_DESCRIPTOR_SIGNATURE) {
			d += 4;
			dlen = 16;
		}
		if (cd_offset - entry->end_offset < dlen || kl_zip_get32(d) != entry->crc ||
		    kl_zip_get32(d + 4) != entry->csize || kl_zip_get32(d + 8) != entry->usize) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "zip entry '%s': data descriptor missing or different from the "
				    "central directory",
				    printable);
			return FALSE;
		}
		entry->end_offset += dlen;
	}
	return TRUE;
}

static gboolean
kl_zip_reader_parse_entry(KlZipReader *self,
			  const guint8 *p,
			  gsize name_len,
			  gsize cd_offset,
			  guint64 *total,
			  GError **error)
{
	KlZipReaderEntry entry = {0};
	const gchar *name = (const gchar *)p + KL_ZIP_CENTRAL_SIZE;
	g_autofree gchar *printable = kl_zip_printable(name, name_len);
	guint16 made_by = kl_zip_get16(p + 4);
	guint32 external = kl_zip_get32(p + 38);
	guint32 st_mode = 0;
	guint32 local_offset;

	if (!kl_zip_name_is_safe(name, name_len, error))
		return FALSE;
	entry.flags = kl_zip_get16(p + 8);
	entry.method = kl_zip_get16(p + 10);
	entry.crc = kl_zip_get32(p + 16);
	entry.csize = kl_zip_get32(p + 20);
	entry.usize = kl_zip_get32(p + 24);
	local_offset = kl_zip_get32(p + 42);
	entry.local_offset = local_offset;
	entry.is_dir = name[name_len - 1] == '/';

	if (entry.flags &
	    (KL_ZIP_FLAG_ENCRYPTED | KL_ZIP_FLAG_STRONG_ENCRYPTION | KL_ZIP_FLAG_MASKED_HEADER)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_NOT_SUPPORTED,
			    "zip entry '%s' is encrypted",
			    printable);
		return FALSE;
	}
	if (entry.method != KL_ZIP_METHOD_STORED && entry.method != KL_ZIP_METHOD_DEFLATE) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_NOT_SUPPORTED,
			    "zip entry '%s' uses compression method %u, not stored or deflate",
			    printable,
			    (guint)entry.method);
		return FALSE;
	}
	if (entry.csize == G_MAXUINT32 || entry.usize == G_MAXUINT32 ||
	    local_offset == G_MAXUINT32 || kl_zip_get16(p + 34) != 0) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_NOT_SUPPORTED,
			    "zip entry '%s' needs ZIP64 or another disk",
			    printable);
		return FALSE;
	}
	if ((made_by >> 8) == KL_ZIP_HOST_UNIX)
		st_mode = external >> 16;
	if (S_ISLNK(st_mode)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "zip entry '%s' is a symbolic link",
			    printable);
		return FALSE;
	}
	if ((st_mode & S_IFMT) != 0 && !S_ISREG(st_mode) && !S_ISDIR(st_mode)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "zip entry '%s' is a special file (mode 0%o)",
			    printable,
			    st_mode);
		return FALSE;
	}
	if ((S_ISDIR(st_mode) && !entry.is_dir) || (S_ISREG(st_mode) && entry.is_dir) ||
	    (entry.is_dir && (entry.usize != 0 || entry.csize > 2))) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "zip entry '%s': inconsistent directory entry",
			    printable);
		return FALSE;
	}
	entry.mode = st_mode & 07777;
	if (entry.method == KL_ZIP_METHOD_STORED && entry.csize != entry.usize) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "zip entry '%s' is stored but its sizes differ",
			    printable);
		return FALSE;
	}
	if (entry.usize > self->limits.max_entry_size) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_TOO_LARGE,
			    "zip entry '%s' expands to %u bytes, more than the limit of "
			    "%" G_GUINT64_FORMAT,
			    printable,
			    entry.usize,
			    self->limits.max_entry_size);
		return FALSE;
	}
	*total += entry.usize;
	if (*total > self->limits.max_total_size) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_TOO_LARGE,
			    "zip entry '%s': archive expands to more than the limit of "
			    "%" G_GUINT64_FORMAT " bytes",
			    printable,
			    self->limits.max_total_size);
		return FALSE;
	}
	if (entry.usize > KL_ZIP_RATIO_MIN_SIZE &&
	    (guint64)entry.usize > (guint64)entry.csize * self->limits.max_ratio) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_TOO_LARGE,
			    "zip entry '%s' has a compression ratio over %u (%u to %u bytes)",
			    printable,
			    self->limits.max_ratio,
			    entry.csize,
			    entry.usize);
		return FALSE;
	}
	if (!kl_zip_reader_check_local(self,
				       &entry,
				       p + KL_ZIP_CENTRAL_SIZE,
				       name_len,
				       cd_offset,
				       printable,
				       error))
		return FALSE;

	entry.name = g_strndup(name, name_len);
	if (g_hash_table_contains(self->index, entry.name)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "zip entry '%s' appears twice",
			    printable);
		g_free(entry.name);
		return FALSE;
	}
	g_array_append_val(self->entries, entry);
	g_hash_table_insert(self->index, entry.name, GUINT_TO_POINTER(self->entries->len));
	return TRUE;
}

static gint
kl_zip_entry_cmp_offset(gconstpointer a, gconstpointer b)
{
	const KlZipReaderEntry *const *ea = a;
	const KlZipReaderEntry *const *eb = b;

	if ((*ea)->local_offset < (*eb)->local_offset)
		return -1;
	return (*ea)->local_offset > (*eb)->local_offset ? 1 : 0;
}

/* Entries that share bytes are how non-recursive zip bombs multiply one
 * compressed kernel; a sane writer never produces them. */
static gboolean
kl_zip_reader_check_overlap(KlZipReader *self, GError **error)
{
	g_autoptr(GPtrArray) sorted = g_ptr_array_sized_new(self->entries->len);

	for (guint i = 0; i < self->entries->len; i++)
		g_ptr_array_add(sorted, &g_array_index(self->entries, KlZipReaderEntry, i));
	g_ptr_array_sort(sorted, kl_zip_entry_cmp_offset);
	for (guint i = 1; i < sorted->len; i++) {
		KlZipReaderEntry *prev = g_ptr_array_index(sorted, i - 1);
		KlZipReaderEntry *cur = g_ptr_array_index(sorted, i);
		if (cur->local_offset < prev->end_offset) {
			g_autofree gchar *printable =
				kl_zip_printable(cur->name, strlen(cur->name));
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "zip entry '%s' overlaps another entry",
				    printable);
			return FALSE;
		}
	}
	return TRUE;
}

KlZipReader *
kl_zip_reader_new(GBytes *archive, const KlZipLimits *limits, GError **error)
{
	g_autoptr(KlZipReader) self = g_new0(KlZipReader, 1);
	gsize end = 0;
	const guint8 *e;
	guint n_disk;
	guint n_total;
	gsize cd_size;
	gsize cd_offset;
	gsize pos;
	guint64 total = 0;

	g_return_val_if_fail(archive != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	self->archive = g_bytes_ref(archive);
	self->data = g_bytes_get_data(archive, &self->size);
	if (limits != NULL)
		self->limits = *limits;
	else
		kl_zip_limits_init_default(&self->limits);
	self->entries = g_array_new(FALSE, TRUE, sizeof(KlZipReaderEntry));
	g_array_set_clear_func(self->entries, kl_zip_reader_entry_clear);
	self->index = g_hash_table_new(g_str_hash, g_str_equal);

	if (!kl_zip_reader_find_end(self, &end, error))
		return NULL;
	e = self->data + end;
	n_disk = kl_zip_get16(e + 8);
	n_total = kl_zip_get16(e + 10);
	cd_size = kl_zip_get32(e + 12);
	cd_offset = kl_zip_get32(e + 16);
	if (kl_zip_get16(e + 4) != 0 || kl_zip_get16(e + 6) != 0 || n_disk != n_total) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_NOT_SUPPORTED,
				    "multi-disk zip archives are not supported");
		return NULL;
	}
	if (n_total == 0xffff || cd_size == G_MAXUINT32 || cd_offset == G_MAXUINT32) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_NOT_SUPPORTED,
				    "ZIP64 archives are not supported");
		return NULL;
	}
	if (n_total > self->limits.max_entries) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_TOO_LARGE,
			    "zip archive has %u entries, more than the limit of %u",
			    n_total,
			    self->limits.max_entries);
		return NULL;
	}
	/* nothing may hide between the central directory and the end record */
	if (cd_offset > end || cd_size != end - cd_offset) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "zip central directory does not end at the end record");
		return NULL;
	}

	pos = cd_offset;
	for (guint i = 0; i < n_total; i++) {
		const guint8 *p = self->data + pos;
		gsize name_len;
		gsize record;

		if (end - pos < KL_ZIP_CENTRAL_SIZE ||
		    kl_zip_get32(p) != KL_ZIP_CENTRAL_SIGNATURE) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "zip central directory record %u is truncated or has a bad "
				    "signature",
				    i);
			return NULL;
		}
		name_len = kl_zip_get16(p + 28);
		record = KL_ZIP_CENTRAL_SIZE + name_len + kl_zip_get16(p + 30) +
			 kl_zip_get16(p + 32);
		if (end - pos < record) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "zip central directory record %u is truncated",
				    i);
			return NULL;
		}
		if (!kl_zip_reader_parse_entry(self, p, name_len, cd_offset, &total, error))
			return NULL;
		pos += record;
	}
	if (pos != end) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "zip central directory has trailing data");
		return NULL;
	}
	if (!kl_zip_reader_check_overlap(self, error))
		return NULL;
	return g_steal_pointer(&self);
}

static KlZipReaderEntry *
kl_zip_reader_get_entry(KlZipReader *self, guint index)
{
	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(index < self->entries->len, NULL);
	return &g_array_index(self->entries, KlZipReaderEntry, index);
}

guint
kl_zip_reader_get_n_entries(KlZipReader *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->entries->len;
}

const gchar *
kl_zip_reader_get_name(KlZipReader *self, guint index)
{
	KlZipReaderEntry *entry = kl_zip_reader_get_entry(self, index);
	return entry != NULL ? entry->name : NULL;
}

gboolean
kl_zip_reader_is_dir(KlZipReader *self, guint index)
{
	KlZipReaderEntry *entry = kl_zip_reader_get_entry(self, index);
	return entry != NULL && entry->is_dir;
}

guint64
kl_zip_reader_get_size(KlZipReader *self, guint index)
{
	KlZipReaderEntry *entry = kl_zip_reader_get_entry(self, index);
	return entry != NULL ? entry->usize : 0;
}

guint32
kl_zip_reader_get_mode(KlZipReader *self, guint index)
{
	KlZipReaderEntry *entry = kl_zip_reader_get_entry(self, index);
	return entry != NULL ? entry->mode : 0;
}

gint
kl_zip_reader_lookup(KlZipReader *self, const gchar *name)
{
	g_return_val_if_fail(self != NULL, -1);
	g_return_val_if_fail(name != NULL, -1);
	return (gint)GPOINTER_TO_UINT(g_hash_table_lookup(self->index, name)) - 1;
}

static GBytes *
kl_zip_reader_inflate(KlZipReaderEntry *entry, const guint8 *in, GError **error)
{
	g_autoptr(GZlibDecompressor) decompressor =
		g_zlib_decompressor_new(G_ZLIB_COMPRESSOR_FORMAT_RAW);
	/* one spare byte tells "more than declared" from "exactly declared" */
	gsize capacity = (gsize)entry->usize + 1;
	g_autofree guint8 *out = g_malloc(capacity);
	gsize in_pos = 0;
	gsize out_pos = 0;

	for (;;) {
		g_autoptr(GError) error_local = NULL;
		gsize nread = 0;
		gsize nwritten = 0;
		GConverterResult res;

		if (out_pos >= capacity) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_TOO_LARGE,
				    "inflates to more than its declared %u bytes",
				    entry->usize);
			return NULL;
		}
		res = g_converter_convert(G_CONVERTER(decompressor),
					  in + in_pos,
					  entry->csize - in_pos,
					  out + out_pos,
					  capacity - out_pos,
					  G_CONVERTER_INPUT_AT_END,
					  &nread,
					  &nwritten,
					  &error_local);
		in_pos += nread;
		out_pos += nwritten;
		if (res == G_CONVERTER_ERROR) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "corrupt deflate data: %s",
				    error_local->message);
			return NULL;
		}
		if (res == G_CONVERTER_FINISHED)
			break;
		if (nread == 0 && nwritten == 0) {
			g_set_error_literal(error,
					    KL_ERROR,
					    KL_ERROR_INVALID_ARGUMENT,
					    "deflate data makes no progress");
			return NULL;
		}
	}
	if (out_pos != entry->usize || in_pos != entry->csize) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "inflates to %" G_GSIZE_FORMAT " bytes from %" G_GSIZE_FORMAT
			    ", declared %u from %u",
			    out_pos,
			    in_pos,
			    entry->usize,
			    entry->csize);
		return NULL;
	}
	return g_bytes_new_take(g_steal_pointer(&out), out_pos);
}

GBytes *
kl_zip_reader_extract(KlZipReader *self, guint index, GError **error)
{
	KlZipReaderEntry *entry;
	g_autoptr(GBytes) contents = NULL;
	gsize size = 0;
	const guint8 *data;
	g_autofree gchar *printable = NULL;

	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(index < self->entries->len, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	entry = &g_array_index(self->entries, KlZipReaderEntry, index);
	printable = kl_zip_printable(entry->name, strlen(entry->name));
	if (entry->method == KL_ZIP_METHOD_STORED) {
		contents = g_bytes_new_from_bytes(self->archive, entry->data_offset, entry->csize);
	} else {
		contents = kl_zip_reader_inflate(entry, self->data + entry->data_offset, error);
		if (contents == NULL) {
			g_prefix_error(error, "zip entry '%s': ", printable);
			return NULL;
		}
	}
	data = g_bytes_get_data(contents, &size);
	if (kl_zip_crc32(0, data, size) != entry->crc) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "zip entry '%s': CRC-32 mismatch",
			    printable);
		return NULL;
	}
	return g_steal_pointer(&contents);
}

static void
kl_zip_close_fd(int *fd)
{
	if (*fd >= 0)
		g_close(*fd, NULL);
	*fd = -1;
}

/* mkdirat() if missing, then open it without following a link */
static int
kl_zip_open_subdir(int parent, const gchar *component, const gchar *printable, GError **error)
{
	int fd;

	if (mkdirat(parent, component, 0700) != 0 && errno != EEXIST) {
		int saved = errno;
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INTERNAL,
			    "zip entry '%s': cannot create directory '%s': %s",
			    printable,
			    component,
			    g_strerror(saved));
		return -1;
	}
	fd = openat(parent, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int saved = errno;
		g_set_error(error,
			    KL_ERROR,
			    saved == ELOOP || saved == ENOTDIR ? KL_ERROR_CONFLICT
							       : KL_ERROR_INTERNAL,
			    "zip entry '%s': '%s' is not a directory we made: %s",
			    printable,
			    component,
			    g_strerror(saved));
		return -1;
	}
	return fd;
}

static gboolean
kl_zip_write_all(int fd, const guint8 *data, gsize size)
{
	while (size > 0) {
		gssize n = write(fd, data, size);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return FALSE;
		}
		data += n;
		size -= (gsize)n;
	}
	return TRUE;
}

static gboolean
kl_zip_reader_extract_one(KlZipReader *self, guint index, int dirfd, GError **error)
{
	KlZipReaderEntry *entry = &g_array_index(self->entries, KlZipReaderEntry, index);
	g_autofree gchar *printable = kl_zip_printable(entry->name, strlen(entry->name));
	g_auto(GStrv) parts = g_strsplit(entry->name, "/", -1);
	guint n_parts = g_strv_length(parts);
	int cur = -1;
	int fd;
	mode_t mode = (entry->mode & 0100) ? 0700 : 0600;
	g_autoptr(GBytes) contents = NULL;
	gsize size = 0;
	const guint8 *data;
	gboolean ok;

	if (entry->is_dir)
		n_parts--; /* the empty component after the trailing '/' */
	/* directories on the way, each opened without following links */
	for (guint i = 0; i + 1 < n_parts || (entry->is_dir && i < n_parts); i++) {
		int next = kl_zip_open_subdir(cur >= 0 ? cur : dirfd, parts[i], printable, error);
		kl_zip_close_fd(&cur);
		if (next < 0)
			return FALSE;
		cur = next;
	}
	if (entry->is_dir) {
		kl_zip_close_fd(&cur);
		return TRUE;
	}

	contents = kl_zip_reader_extract(self, index, error);
	if (contents == NULL) {
		kl_zip_close_fd(&cur);
		return FALSE;
	}
	fd = openat(cur >= 0 ? cur : dirfd,
		    parts[n_parts - 1],
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    mode);
	if (fd < 0) {
		int saved = errno;
		kl_zip_close_fd(&cur);
		g_set_error(error,
			    KL_ERROR,
			    saved == EEXIST || saved == ELOOP ? KL_ERROR_CONFLICT
							      : KL_ERROR_INTERNAL,
			    "zip entry '%s': cannot create file: %s",
			    printable,
			    g_strerror(saved));
		return FALSE;
	}
	kl_zip_close_fd(&cur);
	data = g_bytes_get_data(contents, &size);
	ok = fchmod(fd, mode) == 0 && kl_zip_write_all(fd, data, size);
	if (!ok) {
		int saved = errno;
		kl_zip_close_fd(&fd);
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INTERNAL,
			    "zip entry '%s': cannot write file: %s",
			    printable,
			    g_strerror(saved));
		return FALSE;
	}
	if (!g_close(fd, NULL)) {
		int saved = errno;
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INTERNAL,
			    "zip entry '%s': cannot close file: %s",
			    printable,
			    g_strerror(saved));
		return FALSE;
	}
	return TRUE;
}

gboolean
kl_zip_reader_extract_to_dirfd(KlZipReader *self, int dirfd, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(dirfd >= 0, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	for (guint i = 0; i < self->entries->len; i++) {
		if (!kl_zip_reader_extract_one(self, i, dirfd, error))
			return FALSE;
	}
	return TRUE;
}

gboolean
kl_zip_reader_extract_to_dir(KlZipReader *self, const gchar *path, GError **error)
{
	int fd;
	gboolean ok;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(path != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int saved = errno;
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INTERNAL,
			    "cannot open directory %s: %s",
			    path,
			    g_strerror(saved));
		return FALSE;
	}
	ok = kl_zip_reader_extract_to_dirfd(self, fd, error);
	g_close(fd, NULL);
	return ok;
}
