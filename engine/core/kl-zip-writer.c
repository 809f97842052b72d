/*
 * A minimal ZIP writer (PKWARE APPNOTE 6.3): local headers, stored data,
 * central directory and end record; no compression, no ZIP64, no data
 * descriptors.  Entries carry Unix modes so that private keys unpack 0600.
 */
#define G_LOG_DOMAIN "KlZip"

#include "config.h"

#include <sys/stat.h>

#include "kl-error.h"
#include "kl-zip-writer.h"

#define KL_ZIP_LOCAL_SIGNATURE	 0x04034b50u
#define KL_ZIP_CENTRAL_SIGNATURE 0x02014b50u
#define KL_ZIP_END_SIGNATURE	 0x06054b50u
#define KL_ZIP_VERSION_NEEDED	 10	       /* 1.0: stored files only */
#define KL_ZIP_VERSION_MADE_BY	 (3 << 8 | 20) /* Unix, 2.0: external attrs are st_mode */
#define KL_ZIP_FLAG_UTF8	 (1 << 11)

typedef struct {
	gchar *name;
	guint32 crc;
	guint32 size;
	guint32 offset;
	guint32 mode;
	guint16 flags;
} KlZipEntry;

struct _KlZipWriter {
	GByteArray *buf;
	GArray *entries; /* of KlZipEntry */
	GHashTable *names;
	guint16 dos_time;
	guint16 dos_date;
	gboolean finished;
};

static guint32 kl_zip_crc_table[256];

static void
kl_zip_crc_table_init(void)
{
	static gsize initialized = 0;

	if (g_once_init_enter(&initialized)) {
		for (guint32 n = 0; n < 256; n++) {
			guint32 c = n;
			for (guint k = 0; k < 8; k++)
				c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
			kl_zip_crc_table[n] = c;
		}
		g_once_init_leave(&initialized, 1);
	}
}

/* CRC-32 (IEEE 802.3, reflected), as zlib's crc32(): start with 0. */
guint32
kl_zip_crc32(guint32 crc, const guint8 *data, gsize len)
{
	kl_zip_crc_table_init();
	crc ^= 0xffffffffu;
	for (gsize i = 0; i < len; i++)
		crc = kl_zip_crc_table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
	return crc ^ 0xffffffffu;
}

static void
kl_zip_entry_clear(gpointer data)
{
	KlZipEntry *entry = data;
	g_free(entry->name);
}

KlZipWriter *
kl_zip_writer_new(void)
{
	KlZipWriter *self = g_new0(KlZipWriter, 1);
	g_autoptr(GDateTime) now = g_date_time_new_now_local();
	gint year = g_date_time_get_year(now);

	self->buf = g_byte_array_new();
	self->entries = g_array_new(FALSE, TRUE, sizeof(KlZipEntry));
	g_array_set_clear_func(self->entries, kl_zip_entry_clear);
	self->names = g_hash_table_new(g_str_hash, g_str_equal);

	/* MS-DOS time has 2-second resolution and starts in 1980 */
	year = CLAMP(year, 1980, 2107);
	self->dos_date = (guint16)((year - 1980) << 9 | g_date_time_get_month(now) << 5 |
				   g_date_time_get_day_of_month(now));
	self->dos_time =
		(guint16)(g_date_time_get_hour(now) << 11 | g_date_time_get_minute(now) << 5 |
			  g_date_time_get_second(now) / 2);
	return self;
}

void
kl_zip_writer_free(KlZipWriter *self)
{
	if (self == NULL)
		return;
	if (self->buf != NULL)
		g_byte_array_unref(self->buf);
	g_hash_table_unref(self->names);
	g_array_unref(self->entries);
	g_free(self);
}

/* Relative, normalized, printable names only: an archive we write must
 * never unpack outside its directory, whatever tool unpacks it. */
static gboolean
kl_zip_name_check(const gchar *name, GError **error)
{
	g_auto(GStrv) parts = NULL;

	if (name == NULL || name[0] == '\0') {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "empty zip entry name");
		return FALSE;
	}
	if (strlen(name) > G_MAXUINT16) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "zip entry name too long");
		return FALSE;
	}
	if (!g_utf8_validate(name, -1, NULL)) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "zip entry name is not valid UTF-8");
		return FALSE;
	}
	for (const gchar *p = name; *p != '\0'; p++) {
		guchar c = (guchar)*p;
		if (c < 0x20 || c == 0x7f || c == '\\') {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "zip entry name contains forbidden character 0x%02x",
				    (guint)c);
			return FALSE;
		}
	}
	if (name[0] == '/') {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "zip entry name '%s' is absolute",
			    name);
		return FALSE;
	}
	parts = g_strsplit(name, "/", -1);
	for (guint i = 0; parts[i] != NULL; i++) {
		if (parts[i][0] == '\0' || g_strcmp0(parts[i], ".") == 0 ||
		    g_strcmp0(parts[i], "..") == 0) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "zip entry name '%s' has an empty, '.' or '..' component",
				    name);
			return FALSE;
		}
	}
	return TRUE;
}

static void
kl_zip_put16(GByteArray *buf, guint16 value)
{
	guint8 b[2] = {value & 0xff, value >> 8};
	g_byte_array_append(buf, b, sizeof(b));
}

static void
kl_zip_put32(GByteArray *buf, guint32 value)
{
	guint8 b[4] = {value & 0xff, (value >> 8) & 0xff, (value >> 16) & 0xff, value >> 24};
	g_byte_array_append(buf, b, sizeof(b));
}

static gboolean
kl_zip_writer_check_open(KlZipWriter *self, GError **error)
{
	if (self->finished) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INTERNAL,
				    "zip archive has already been finished");
		return FALSE;
	}
	return TRUE;
}

gboolean
kl_zip_writer_add(KlZipWriter *self,
		  const gchar *name,
		  GBytes *contents,
		  guint32 unix_mode,
		  GError **error)
{
	KlZipEntry entry = {0};
	gsize size = 0;
	const guint8 *data;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(contents != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	if (!kl_zip_writer_check_open(self, error))
		return FALSE;
	if (!kl_zip_name_check(name, error))
		return FALSE;
	if (g_hash_table_contains(self->names, name)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_CONFLICT,
			    "zip entry '%s' already exists",
			    name);
		return FALSE;
	}
	data = g_bytes_get_data(contents, &size);
	/* without ZIP64 every size and offset must fit 32 bits, and leave room
	 * for this header and the central directory */
	if (size > G_MAXUINT32 - 0x10000 || self->buf->len > G_MAXUINT32 - 0x10000 - size ||
	    self->entries->len >= G_MAXUINT16) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_TOO_LARGE,
			    "zip entry '%s' does not fit a non-ZIP64 archive",
			    name);
		return FALSE;
	}

	entry.name = g_strdup(name);
	entry.crc = kl_zip_crc32(0, data, size);
	entry.size = (guint32)size;
	entry.offset = self->buf->len;
	entry.mode = unix_mode & 07777;
	for (const gchar *p = name; *p != '\0'; p++) {
		if ((guchar)*p >= 0x80)
			entry.flags = KL_ZIP_FLAG_UTF8;
	}

	kl_zip_put32(self->buf, KL_ZIP_LOCAL_SIGNATURE);
	kl_zip_put16(self->buf, KL_ZIP_VERSION_NEEDED);
	kl_zip_put16(self->buf, entry.flags);
	kl_zip_put16(self->buf, 0); /* stored */
	kl_zip_put16(self->buf, self->dos_time);
	kl_zip_put16(self->buf, self->dos_date);
	kl_zip_put32(self->buf, entry.crc);
	kl_zip_put32(self->buf, entry.size); /* compressed size */
	kl_zip_put32(self->buf, entry.size);
	kl_zip_put16(self->buf, (guint16)strlen(name));
	kl_zip_put16(self->buf, 0); /* extra field length */
	g_byte_array_append(self->buf, (const guint8 *)name, (guint)strlen(name));
	if (size > 0)
		g_byte_array_append(self->buf, data, (guint)size);

	g_array_append_val(self->entries, entry);
	g_hash_table_add(self->names, entry.name);
	return TRUE;
}

GBytes *
kl_zip_writer_finish(KlZipWriter *self, GError **error)
{
	guint32 cd_offset;
	guint32 cd_size;

	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (!kl_zip_writer_check_open(self, error))
		return NULL;

	cd_offset = self->buf->len;
	for (guint i = 0; i < self->entries->len; i++) {
		KlZipEntry *entry = &g_array_index(self->entries, KlZipEntry, i);
		guint16 name_len = (guint16)strlen(entry->name);

		kl_zip_put32(self->buf, KL_ZIP_CENTRAL_SIGNATURE);
		kl_zip_put16(self->buf, KL_ZIP_VERSION_MADE_BY);
		kl_zip_put16(self->buf, KL_ZIP_VERSION_NEEDED);
		kl_zip_put16(self->buf, entry->flags);
		kl_zip_put16(self->buf, 0); /* stored */
		kl_zip_put16(self->buf, self->dos_time);
		kl_zip_put16(self->buf, self->dos_date);
		kl_zip_put32(self->buf, entry->crc);
		kl_zip_put32(self->buf, entry->size);
		kl_zip_put32(self->buf, entry->size);
		kl_zip_put16(self->buf, name_len);
		kl_zip_put16(self->buf, 0); /* extra field length */
		kl_zip_put16(self->buf, 0); /* comment length */
		kl_zip_put16(self->buf, 0); /* disk number start */
		kl_zip_put16(self->buf, 0); /* internal attributes */
		kl_zip_put32(self->buf, (guint32)(S_IFREG | entry->mode) << 16);
		kl_zip_put32(self->buf, entry->offset);
		g_byte_array_append(self->buf, (const guint8 *)entry->name, name_len);
	}
	cd_size = self->buf->len - cd_offset;

	kl_zip_put32(self->buf, KL_ZIP_END_SIGNATURE);
	kl_zip_put16(self->buf, 0); /* this disk */
	kl_zip_put16(self->buf, 0); /* disk with the central directory */
	kl_zip_put16(self->buf, (guint16)self->entries->len);
	kl_zip_put16(self->buf, (guint16)self->entries->len);
	kl_zip_put32(self->buf, cd_size);
	kl_zip_put32(self->buf, cd_offset);
	kl_zip_put16(self->buf, 0); /* comment length */

	self->finished = TRUE;
	return g_byte_array_free_to_bytes(g_steal_pointer(&self->buf));
}
