#include "config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "kl-error.h"
#include "kl-test-data.h"
#include "kl-test-dir.h"
#include "kl-zip-reader.h"
#include "kl-zip-writer.h"

/* A raw archive builder for hostile inputs that kl-zip-writer refuses to
 * write: any name, method, size, mode and CRC. */
typedef struct {
	GByteArray *local;
	GByteArray *central;
	guint16 count;
} RawZip;

static void
put16(GByteArray *buf, guint16 value)
{
	guint8 b[2] = {value & 0xff, value >> 8};
	g_byte_array_append(buf, b, sizeof(b));
}

static void
put32(GByteArray *buf, guint32 value)
{
	guint8 b[4] = {value & 0xff, (value >> 8) & 0xff, (value >> 16) & 0xff, value >> 24};
	g_byte_array_append(buf, b, sizeof(b));
}

static RawZip *
raw_zip_new(void)
{
	RawZip *zip = g_new0(RawZip, 1);
	zip->local = g_byte_array_new();
	zip->central = g_byte_array_new();
	return zip;
}

/* @data is what is stored (already deflated for method 8) */
static void
raw_zip_add_full(RawZip *zip,
		 const gchar *name,
		 gsize name_len,
		 guint16 method,
		 const guint8 *data,
		 gsize len,
		 guint32 crc,
		 guint32 usize,
		 guint32 st_mode)
{
	guint32 offset = zip->local->len;

	put32(zip->local, 0x04034b50);
	put16(zip->local, 20);
	put16(zip->local, 0);
	put16(zip->local, method);
	put16(zip->local, 0);
	put16(zip->local, 0x21);
	put32(zip->local, crc);
	put32(zip->local, (guint32)len);
	put32(zip->local, usize);
	put16(zip->local, (guint16)name_len);
	put16(zip->local, 0);
	g_byte_array_append(zip->local, (const guint8 *)name, (guint)name_len);
	g_byte_array_append(zip->local, data, (guint)len);

	put32(zip->central, 0x02014b50);
	put16(zip->central, 3 << 8 | 20);
	put16(zip->central, 20);
	put16(zip->central, 0);
	put16(zip->central, method);
	put16(zip->central, 0);
	put16(zip->central, 0x21);
	put32(zip->central, crc);
	put32(zip->central, (guint32)len);
	put32(zip->central, usize);
	put16(zip->central, (guint16)name_len);
	put16(zip->central, 0);
	put16(zip->central, 0);
	put16(zip->central, 0);
	put16(zip->central, 0);
	put32(zip->central, st_mode << 16);
	put32(zip->central, offset);
	g_byte_array_append(zip->central, (const guint8 *)name, (guint)name_len);
	zip->count++;
}

static void
raw_zip_add(RawZip *zip, const gchar *name, const gchar *contents)
{
	gsize len = strlen(contents);
	raw_zip_add_full(zip,
			 name,
			 strlen(name),
			 0,
			 (const guint8 *)contents,
			 len,
			 kl_zip_crc32(0, (const guint8 *)contents, len),
			 (guint32)len,
			 S_IFREG | 0644);
}

static GBytes *
raw_zip_finish(RawZip *zip)
{
	guint32 cd_offset = zip->local->len;
	guint32 cd_size = zip->central->len;
	GByteArray *out = zip->local;

	g_byte_array_append(out, zip->central->data, zip->central->len);
	put32(out, 0x06054b50);
	put16(out, 0);
	put16(out, 0);
	put16(out, zip->count);
	put16(out, zip->count);
	put32(out, cd_size);
	put32(out, cd_offset);
	put16(out, 0);
	g_byte_array_unref(zip->central);
	g_free(zip);
	return g_byte_array_free_to_bytes(out);
}

static GBytes *
deflate_raw(const guint8 *data, gsize len)
{
	g_autoptr(GZlibCompressor) compressor =
		g_zlib_compressor_new(G_ZLIB_COMPRESSOR_FORMAT_RAW, 9);
	g_autoptr(GOutputStream) mem = g_memory_output_stream_new_resizable();
	g_autoptr(GOutputStream) out = g_converter_output_stream_new(mem, G_CONVERTER(compressor));
	g_autoptr(GError) error = NULL;

	g_assert_true(g_output_stream_write_all(out, data, len, NULL, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(g_output_stream_close(out, NULL, &error));
	g_assert_no_error(error);
	return g_memory_output_stream_steal_as_bytes(G_MEMORY_OUTPUT_STREAM(mem));
}

static GBytes *
make_deflated(const gchar *name, const guint8 *data, gsize len, guint32 declared)
{
	RawZip *zip = raw_zip_new();
	g_autoptr(GBytes) packed = deflate_raw(data, len);

	raw_zip_add_full(zip,
			 name,
			 strlen(name),
			 8,
			 g_bytes_get_data(packed, NULL),
			 g_bytes_get_size(packed),
			 kl_zip_crc32(0, data, len),
			 declared,
			 S_IFREG | 0644);
	return raw_zip_finish(zip);
}

static GBytes *
load_seed(const gchar *name)
{
	gsize len = 0;
	gchar *data = kl_test_load_data(&len, "fuzz", "zip", name, NULL);
	return g_bytes_new_take(data, len);
}

static gchar *
read_file(const gchar *dir, const gchar *name)
{
	g_autofree gchar *path = g_build_filename(dir, name, NULL);
	g_autoptr(GError) error = NULL;
	gchar *contents = NULL;

	g_assert_true(g_file_get_contents(path, &contents, NULL, &error));
	g_assert_no_error(error);
	return contents;
}

static guint32
file_mode(const gchar *dir, const gchar *name)
{
	g_autofree gchar *path = g_build_filename(dir, name, NULL);
	struct stat st;

	g_assert_cmpint(lstat(path, &st), ==, 0);
	return st.st_mode;
}

static void
test_writer_roundtrip(void)
{
	g_autoptr(KlZipWriter) writer = kl_zip_writer_new();
	g_autoptr(GBytes) a = g_bytes_new_static("alpha\n", 6);
	g_autoptr(GBytes) b = g_bytes_new_static("#!/bin/sh\n", 10);
	g_autoptr(GBytes) empty = g_bytes_new_static("", 0);
	g_autoptr(GBytes) archive = NULL;
	g_autoptr(KlZipReader) reader = NULL;
	g_autoptr(GBytes) contents = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *text = NULL;

	g_assert_true(kl_zip_writer_add(writer, "a.txt", a, 0644, &error));
	g_assert_true(kl_zip_writer_add(writer, "sub/dir/run.sh", b, 0755, &error));
	g_assert_true(kl_zip_writer_add(writer, "empty", empty, 0600, &error));
	archive = kl_zip_writer_finish(writer, &error);
	g_assert_no_error(error);

	reader = kl_zip_reader_new(archive, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(kl_zip_reader_get_n_entries(reader), ==, 3);
	g_assert_cmpstr(kl_zip_reader_get_name(reader, 1), ==, "sub/dir/run.sh");
	g_assert_cmpint(kl_zip_reader_lookup(reader, "empty"), ==, 2);
	g_assert_cmpint(kl_zip_reader_lookup(reader, "missing"), ==, -1);
	g_assert_cmpuint(kl_zip_reader_get_mode(reader, 1), ==, 0755);
	g_assert_cmpuint(kl_zip_reader_get_size(reader, 0), ==, 6);
	g_assert_false(kl_zip_reader_is_dir(reader, 0));
	contents = kl_zip_reader_extract(reader, 0, &error);
	g_assert_no_error(error);
	g_assert_true(g_bytes_equal(contents, a));

	g_assert_true(kl_zip_reader_extract_to_dir(reader, kl_test_dir_get_path(dir), &error));
	g_assert_no_error(error);
	text = read_file(kl_test_dir_get_path(dir), "sub/dir/run.sh");
	g_assert_cmpstr(text, ==, "#!/bin/sh\n");
	g_assert_cmpuint(file_mode(kl_test_dir_get_path(dir), "a.txt") & 07777, ==, 0600);
	g_assert_cmpuint(file_mode(kl_test_dir_get_path(dir), "sub/dir/run.sh") & 07777, ==, 0700);
	g_assert_cmpuint(file_mode(kl_test_dir_get_path(dir), "sub") & 07777, ==, 0700);
	g_assert_true(S_ISREG(file_mode(kl_test_dir_get_path(dir), "empty")));

	/* extracting again must not overwrite anything */
	g_assert_false(kl_zip_reader_extract_to_dir(reader, kl_test_dir_get_path(dir), &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_CONFLICT);
	g_assert_nonnull(strstr(error->message, "a.txt"));
}

static void
test_python_archives(void)
{
	const gchar *seeds[] = {"python-deflated.zip",
				"python-stored.zip",
				"python-streamed.zip",
				"python-empty-file.zip"};

	for (guint i = 0; i < G_N_ELEMENTS(seeds); i++) {
		g_autoptr(GBytes) archive = load_seed(seeds[i]);
		g_autoptr(KlZipReader) reader = NULL;
		g_autoptr(GError) error = NULL;
		g_autoptr(KlTestDir) dir = kl_test_dir_new();

		reader = kl_zip_reader_new(archive, NULL, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(kl_zip_reader_get_n_entries(reader), >, 0);
		g_assert_true(
			kl_zip_reader_extract_to_dir(reader, kl_test_dir_get_path(dir), &error));
		g_assert_no_error(error);
	}

	{
		g_autoptr(GBytes) archive = load_seed("python-deflated.zip");
		g_autoptr(KlZipReader) reader = kl_zip_reader_new(archive, NULL, NULL);
		g_autoptr(KlTestDir) dir = kl_test_dir_new();
		g_autofree gchar *autorun = NULL;
		g_autofree gchar *readme = NULL;
		gint idx;

		g_assert_nonnull(reader);
		idx = kl_zip_reader_lookup(reader, "data/");
		g_assert_cmpint(idx, >=, 0);
		g_assert_true(kl_zip_reader_is_dir(reader, (guint)idx));
		g_assert_true(
			kl_zip_reader_extract_to_dir(reader, kl_test_dir_get_path(dir), NULL));
		autorun = read_file(kl_test_dir_get_path(dir), "autorun.sh");
		g_assert_cmpstr(autorun, ==, "#!/bin/sh\necho hello > autorun-ran\n");
		g_assert_cmpuint(file_mode(kl_test_dir_get_path(dir), "autorun.sh") & 0777,
				 ==,
				 0700);
		readme = read_file(kl_test_dir_get_path(dir), "data/readme.txt");
		g_assert_cmpuint(strlen(readme), ==, 16 * 40);
	}
}

static void
test_deflate(void)
{
	gsize len = 200 * 1024;
	g_autofree guint8 *data = g_malloc(len);
	g_autoptr(GBytes) archive = NULL;
	g_autoptr(GBytes) contents = NULL;
	g_autoptr(KlZipReader) reader = NULL;
	g_autoptr(GError) error = NULL;

	for (gsize i = 0; i < len; i++)
		data[i] = (guint8)g_test_rand_int_range(0, 16);
	archive = make_deflated("random.bin", data, len, (guint32)len);
	reader = kl_zip_reader_new(archive, NULL, &error);
	g_assert_no_error(error);
	contents = kl_zip_reader_extract(reader, 0, &error);
	g_assert_no_error(error);
	g_assert_cmpmem(g_bytes_get_data(contents, NULL), g_bytes_get_size(contents), data, len);
}

static void
test_bomb(void)
{
	gsize len = 16 * 1024 * 1024;
	g_autofree guint8 *zeros = g_malloc0(len);
	g_autoptr(GBytes) archive = make_deflated("zeros.bin", zeros, len, (guint32)len);
	g_autoptr(GBytes) seed = load_seed("bomb.zip");
	g_autoptr(KlZipReader) reader = NULL;
	g_autoptr(GError) error = NULL;
	KlZipLimits limits;

	/* 16 MiB from a few KiB: the ratio limit */
	reader = kl_zip_reader_new(archive, NULL, &error);
	g_assert_error(error, KL_ERROR, KL_ERROR_TOO_LARGE);
	g_assert_nonnull(strstr(error->message, "zeros.bin"));
	g_assert_nonnull(strstr(error->message, "ratio"));
	g_assert_null(reader);
	g_clear_error(&error);

	reader = kl_zip_reader_new(seed, NULL, &error);
	g_assert_error(error, KL_ERROR, KL_ERROR_TOO_LARGE);
	g_assert_nonnull(strstr(error->message, "zeros"));
	g_clear_error(&error);

	/* the per-entry and total limits apply whatever the ratio */
	kl_zip_limits_init_default(&limits);
	limits.max_ratio = G_MAXUINT;
	limits.max_entry_size = 1024 * 1024;
	reader = kl_zip_reader_new(archive, &limits, &error);
	g_assert_error(error, KL_ERROR, KL_ERROR_TOO_LARGE);
	g_assert_nonnull(strstr(error->message, "zeros.bin"));
	g_clear_error(&error);

	kl_zip_limits_init_default(&limits);
	limits.max_ratio = G_MAXUINT;
	limits.max_total_size = 8 * 1024 * 1024;
	reader = kl_zip_reader_new(archive, &limits, &error);
	g_assert_error(error, KL_ERROR, KL_ERROR_TOO_LARGE);
	g_clear_error(&error);

	/* with generous limits it is just a big file */
	limits.max_total_size = len;
	reader = kl_zip_reader_new(archive, &limits, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(kl_zip_reader_get_size(reader, 0), ==, len);
}

static void
test_lying_sizes(void)
{
	const gchar *text = "some text that is not very long at all, some text";
	gsize len = strlen(text);
	g_autoptr(GError) error = NULL;

	/* declared smaller than it inflates: inflation stops at the limit */
	{
		g_autoptr(GBytes) archive = make_deflated("liar", (const guint8 *)text, len, 10);
		g_autoptr(KlZipReader) reader = kl_zip_reader_new(archive, NULL, &error);
		g_autoptr(GBytes) contents = NULL;
		g_assert_no_error(error);
		contents = kl_zip_reader_extract(reader, 0, &error);
		g_assert_error(error, KL_ERROR, KL_ERROR_TOO_LARGE);
		g_assert_nonnull(strstr(error->message, "liar"));
		g_assert_null(contents);
		g_clear_error(&error);
	}
	/* declared larger */
	{
		g_autoptr(GBytes) archive =
			make_deflated("liar", (const guint8 *)text, len, (guint32)len + 5);
		g_autoptr(KlZipReader) reader = kl_zip_reader_new(archive, NULL, &error);
		g_autoptr(GBytes) contents = NULL;
		g_assert_no_error(error);
		contents = kl_zip_reader_extract(reader, 0, &error);
		g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
		g_assert_null(contents);
		g_clear_error(&error);
	}
	/* stored with different sizes */
	{
		RawZip *zip = raw_zip_new();
		g_autoptr(GBytes) archive = NULL;
		g_autoptr(KlZipReader) reader = NULL;
		raw_zip_add_full(zip, "s", 1, 0, (const guint8 *)text, len, 0, 3, S_IFREG | 0644);
		archive = raw_zip_finish(zip);
		reader = kl_zip_reader_new(archive, NULL, &error);
		g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
		g_clear_error(&error);
	}
	/* bad CRC */
	{
		RawZip *zip = raw_zip_new();
		g_autoptr(GBytes) archive = NULL;
		g_autoptr(KlZipReader) reader = NULL;
		g_autoptr(GBytes) contents = NULL;
		g_autoptr(KlTestDir) dir = kl_test_dir_new();
		raw_zip_add_full(zip,
				 "crc",
				 3,
				 0,
				 (const guint8 *)text,
				 len,
				 0x12345678,
				 (guint32)len,
				 S_IFREG | 0644);
		archive = raw_zip_finish(zip);
		reader = kl_zip_reader_new(archive, NULL, &error);
		g_assert_no_error(error);
		contents = kl_zip_reader_extract(reader, 0, &error);
		g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
		g_assert_nonnull(strstr(error->message, "CRC"));
		g_clear_error(&error);
		g_assert_false(
			kl_zip_reader_extract_to_dir(reader, kl_test_dir_get_path(dir), &error));
		g_assert_nonnull(strstr(error->message, "'crc'"));
	}
}

static void
test_bad_names(void)
{
	struct {
		const gchar *name;
		gsize len;
	} names[] = {
		{"../escape.txt", 0},
		{"a/../../etc/passwd", 0},
		{"a/..", 0},
		{"/etc/passwd", 0},
		{"a\\..\\b", 0},
		{"a\001b", 0},
		{"tab\there", 0},
		{"nul\0byte", 8},
		{"./a", 0},
		{"a//b", 0},
		{"", 0},
		{"bad\xff\xfeutf8", 0},
		{"x/\x7f", 0},
	};

	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		RawZip *zip = raw_zip_new();
		gsize len = names[i].len != 0 ? names[i].len : strlen(names[i].name);
		g_autoptr(GBytes) archive = NULL;
		g_autoptr(KlZipReader) reader = NULL;
		g_autoptr(GError) error = NULL;

		raw_zip_add(zip, "good.txt", "fine");
		raw_zip_add_full(zip,
				 names[i].name,
				 len,
				 0,
				 (const guint8 *)"x",
				 1,
				 kl_zip_crc32(0, (const guint8 *)"x", 1),
				 1,
				 S_IFREG | 0644);
		archive = raw_zip_finish(zip);
		reader = kl_zip_reader_new(archive, NULL, &error);
		g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
		g_assert_null(reader);
		g_assert_nonnull(strstr(error->message, "zip entry"));
		g_assert_false(kl_zip_name_is_safe(names[i].name, len, NULL));
	}
	g_assert_true(kl_zip_name_is_safe("a/b/c.txt", 9, NULL));
	g_assert_true(kl_zip_name_is_safe("dir/", 4, NULL));
	g_assert_true(kl_zip_name_is_safe("..hidden", 8, NULL));

	{
		g_autoptr(GBytes) seed = load_seed("dotdot.zip");
		g_autoptr(GError) error = NULL;
		g_autoptr(KlZipReader) reader = kl_zip_reader_new(seed, NULL, &error);
		g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
		g_assert_nonnull(strstr(error->message, "../escape.txt"));
	}
}

static void
test_special_entries(void)
{
	g_autoptr(GError) error = NULL;
	guint32 modes[] = {S_IFLNK | 0777, S_IFCHR | 0600, S_IFIFO | 0600, S_IFBLK | 0600};

	for (guint i = 0; i < G_N_ELEMENTS(modes); i++) {
		RawZip *zip = raw_zip_new();
		g_autoptr(GBytes) archive = NULL;
		g_autoptr(KlZipReader) reader = NULL;
		raw_zip_add_full(zip,
				 "special",
				 7,
				 0,
				 (const guint8 *)"/etc/passwd",
				 11,
				 kl_zip_crc32(0, (const guint8 *)"/etc/passwd", 11),
				 11,
				 modes[i]);
		archive = raw_zip_finish(zip);
		reader = kl_zip_reader_new(archive, NULL, &error);
		g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
		g_assert_nonnull(strstr(error->message, "'special'"));
		g_clear_error(&error);
	}
	{
		g_autoptr(GBytes) seed = load_seed("symlink.zip");
		g_autoptr(KlZipReader) reader = kl_zip_reader_new(seed, NULL, &error);
		g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
		g_assert_nonnull(strstr(error->message, "symbolic link"));
		g_clear_error(&error);
	}
	/* duplicates */
	{
		RawZip *zip = raw_zip_new();
		g_autoptr(GBytes) archive = NULL;
		g_autoptr(KlZipReader) reader = NULL;
		raw_zip_add(zip, "twice", "one");
		raw_zip_add(zip, "twice", "two");
		archive = raw_zip_finish(zip);
		reader = kl_zip_reader_new(archive, NULL, &error);
		g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
		g_assert_nonnull(strstr(error->message, "twice"));
		g_clear_error(&error);
	}
	/* too many entries */
	{
		RawZip *zip = raw_zip_new();
		g_autoptr(GBytes) archive = NULL;
		g_autoptr(KlZipReader) reader = NULL;
		KlZipLimits limits;
		for (guint i = 0; i < 20; i++) {
			g_autofree gchar *name = g_strdup_printf("f%u", i);
			raw_zip_add(zip, name, "x");
		}
		archive = raw_zip_finish(zip);
		kl_zip_limits_init_default(&limits);
		limits.max_entries = 19;
		reader = kl_zip_reader_new(archive, &limits, &error);
		g_assert_error(error, KL_ERROR, KL_ERROR_TOO_LARGE);
		g_clear_error(&error);
		limits.max_entries = 20;
		reader = kl_zip_reader_new(archive, &limits, &error);
		g_assert_no_error(error);
	}
}

/* Entry "b" lives inside the data of entry "a": overlapping entries are
 * how flat zip bombs reuse one compressed kernel. */
static void
test_overlap(void)
{
	g_autoptr(GByteArray) inner = g_byte_array_new();
	RawZip *zip = raw_zip_new();
	g_autoptr(GBytes) archive = NULL;
	g_autoptr(KlZipReader) reader = NULL;
	g_autoptr(GError) error = NULL;
	guint32 crc_b = kl_zip_crc32(0, (const guint8 *)"B", 1);
	guint32 offset_b;

	put32(inner, 0x04034b50);
	put16(inner, 20);
	put16(inner, 0);
	put16(inner, 0);
	put16(inner, 0);
	put16(inner, 0x21);
	put32(inner, crc_b);
	put32(inner, 1);
	put32(inner, 1);
	put16(inner, 1);
	put16(inner, 0);
	g_byte_array_append(inner, (const guint8 *)"bB", 2);

	raw_zip_add_full(zip,
			 "a",
			 1,
			 0,
			 inner->data,
			 inner->len,
			 kl_zip_crc32(0, inner->data, inner->len),
			 inner->len,
			 S_IFREG | 0644);
	offset_b = 30 + 1;
	/* a central record for "b" pointing into "a" */
	put32(zip->central, 0x02014b50);
	put16(zip->central, 3 << 8 | 20);
	put16(zip->central, 20);
	put16(zip->central, 0);
	put16(zip->central, 0);
	put16(zip->central, 0);
	put16(zip->central, 0x21);
	put32(zip->central, crc_b);
	put32(zip->central, 1);
	put32(zip->central, 1);
	put16(zip->central, 1);
	put16(zip->central, 0);
	put16(zip->central, 0);
	put16(zip->central, 0);
	put16(zip->central, 0);
	put32(zip->central, (guint32)(S_IFREG | 0644) << 16);
	put32(zip->central, offset_b);
	g_byte_array_append(zip->central, (const guint8 *)"b", 1);
	zip->count++;
	archive = raw_zip_finish(zip);

	reader = kl_zip_reader_new(archive, NULL, &error);
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "overlaps"));
}

static void
test_local_mismatch(void)
{
	RawZip *zip = raw_zip_new();
	g_autoptr(GBytes) archive = NULL;
	g_autoptr(KlZipReader) reader = NULL;
	g_autoptr(GError) error = NULL;
	GByteArray *local;

	raw_zip_add(zip, "name", "data");
	local = zip->local;
	local->data[30] = 'N'; /* the local header's copy of the name */
	archive = raw_zip_finish(zip);
	reader = kl_zip_reader_new(archive, NULL, &error);
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "local header"));
}

static void
test_truncated(void)
{
	g_autoptr(GBytes) archive = load_seed("python-deflated.zip");
	gsize size = 0;
	const guint8 *data = g_bytes_get_data(archive, &size);

	/* every prefix and every single-byte corruption fails cleanly or
	 * still extracts to the declared sizes */
	for (gsize cut = 0; cut < size; cut++) {
		g_autoptr(GBytes) part = g_bytes_new(data, cut);
		g_autoptr(GError) error = NULL;
		g_autoptr(KlZipReader) reader = kl_zip_reader_new(part, NULL, &error);
		g_assert_null(reader);
		g_assert_nonnull(error);
	}
	for (gsize pos = 0; pos < size; pos++) {
		g_autofree guint8 *copy = g_memdup2(data, size);
		g_autoptr(GBytes) bad = NULL;
		g_autoptr(KlZipReader) reader = NULL;
		copy[pos] ^= 0x5a;
		bad = g_bytes_new(copy, size);
		reader = kl_zip_reader_new(bad, NULL, NULL);
		if (reader == NULL)
			continue;
		for (guint i = 0; i < kl_zip_reader_get_n_entries(reader); i++) {
			g_autoptr(GBytes) contents = kl_zip_reader_extract(reader, i, NULL);
			if (contents != NULL)
				g_assert_cmpuint(g_bytes_get_size(contents),
						 ==,
						 kl_zip_reader_get_size(reader, i));
		}
	}
}

static gboolean
path_exists(const gchar *dir, const gchar *name)
{
	g_autofree gchar *path = g_build_filename(dir, name, NULL);
	struct stat st;
	return lstat(path, &st) == 0;
}

/* Links already in the target directory are never followed. */
static void
test_symlink_tricks(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *target = kl_test_dir_build(dir, "target", NULL);
	g_autofree gchar *outside = kl_test_dir_build(dir, "outside", NULL);
	g_autofree gchar *link_dir = g_build_filename(target, "sub", NULL);
	g_autofree gchar *link_file = g_build_filename(target, "file", NULL);
	g_autofree gchar *link_top = kl_test_dir_build(dir, "top-link", NULL);
	g_autofree gchar *victim = g_build_filename(outside, "victim", NULL);
	g_autoptr(GError) error = NULL;

	g_assert_cmpint(g_mkdir(target, 0700), ==, 0);
	g_assert_cmpint(g_mkdir(outside, 0700), ==, 0);
	g_assert_cmpint(symlink(outside, link_dir), ==, 0);
	g_assert_cmpint(symlink(victim, link_file), ==, 0);
	g_assert_cmpint(symlink(target, link_top), ==, 0);

	{
		RawZip *zip = raw_zip_new();
		g_autoptr(GBytes) archive = NULL;
		g_autoptr(KlZipReader) reader = NULL;
		raw_zip_add(zip, "sub/planted", "evil");
		archive = raw_zip_finish(zip);
		reader = kl_zip_reader_new(archive, NULL, &error);
		g_assert_no_error(error);
		g_assert_false(kl_zip_reader_extract_to_dir(reader, target, &error));
		g_assert_error(error, KL_ERROR, KL_ERROR_CONFLICT);
		g_assert_nonnull(strstr(error->message, "sub/planted"));
		g_clear_error(&error);
		g_assert_false(path_exists(outside, "planted"));
	}
	{
		RawZip *zip = raw_zip_new();
		g_autoptr(GBytes) archive = NULL;
		g_autoptr(KlZipReader) reader = NULL;
		raw_zip_add(zip, "file", "evil");
		archive = raw_zip_finish(zip);
		reader = kl_zip_reader_new(archive, NULL, &error);
		g_assert_no_error(error);
		g_assert_false(kl_zip_reader_extract_to_dir(reader, target, &error));
		g_assert_error(error, KL_ERROR, KL_ERROR_CONFLICT);
		g_clear_error(&error);
		g_assert_false(path_exists(outside, "victim"));
		/* the target itself may not be a link either */
		g_assert_false(kl_zip_reader_extract_to_dir(reader, link_top, &error));
		g_assert_nonnull(error);
		g_clear_error(&error);
	}
	/* a file, then a directory of the same name */
	{
		RawZip *zip = raw_zip_new();
		g_autoptr(GBytes) archive = NULL;
		g_autoptr(KlZipReader) reader = NULL;
		g_autofree gchar *fresh = kl_test_dir_build(dir, "fresh", NULL);
		g_assert_cmpint(g_mkdir(fresh, 0700), ==, 0);
		raw_zip_add(zip, "x", "file");
		raw_zip_add(zip, "x/y", "below a file");
		archive = raw_zip_finish(zip);
		reader = kl_zip_reader_new(archive, NULL, &error);
		g_assert_no_error(error);
		g_assert_false(kl_zip_reader_extract_to_dir(reader, fresh, &error));
		g_assert_nonnull(strstr(error->message, "x/y"));
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/zip-reader/writer-roundtrip", test_writer_roundtrip);
	g_test_add_func("/zip-reader/python-archives", test_python_archives);
	g_test_add_func("/zip-reader/deflate", test_deflate);
	g_test_add_func("/zip-reader/bomb", test_bomb);
	g_test_add_func("/zip-reader/lying-sizes", test_lying_sizes);
	g_test_add_func("/zip-reader/bad-names", test_bad_names);
	g_test_add_func("/zip-reader/special-entries", test_special_entries);
	g_test_add_func("/zip-reader/overlap", test_overlap);
	g_test_add_func("/zip-reader/local-mismatch", test_local_mismatch);
	g_test_add_func("/zip-reader/truncated", test_truncated);
	g_test_add_func("/zip-reader/symlink-tricks", test_symlink_tricks);
	return g_test_run();
}
