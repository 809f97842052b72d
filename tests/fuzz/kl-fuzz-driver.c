/*
 * Runs a fuzz target without libFuzzer: every file of the corpus
 * directories given on the command line, then for each of them a fixed
 * number of mutations (bit flips, truncations, byte insertions, splices)
 * from a seeded generator, so a run is reproducible.
 */
#include "config.h"

#include <glib.h>

#include "kl-fuzz.h"

#define KL_FUZZ_MUTATIONS_PER_INPUT 300
/* Large seeds (event logs, policies) get fewer mutations, so that every
 * target runs over about the same number of bytes. */
#define KL_FUZZ_BYTES_PER_INPUT (2 * 1024 * 1024)

static void
kl_fuzz_run(const guint8 *data, gsize size)
{
	/* A private copy so that reads past the end are ASan errors; never
	 * NULL, as libFuzzer never passes NULL either. */
	g_autofree guint8 *copy = g_malloc(size > 0 ? size : 1);
	if (size > 0)
		memcpy(copy, data, size);
	LLVMFuzzerTestOneInput(copy, size);
}

static GByteArray *
kl_fuzz_mutate(GRand *rand, GBytes *input, GPtrArray *corpus)
{
	gsize size = 0;
	const guint8 *data = g_bytes_get_data(input, &size);
	GByteArray *out = g_byte_array_new();
	guint rounds = (guint)g_rand_int_range(rand, 1, 5);

	g_byte_array_append(out, data, (guint)size);
	for (guint r = 0; r < rounds; r++) {
		guint position = out->len > 0 ? (guint)g_rand_int_range(rand, 0, (gint32)out->len)
					      : 0;
		switch (g_rand_int_range(rand, 0, 5)) {
		case 0:
			if (out->len > 0)
				out->data[position] ^= (guint8)(1u << g_rand_int_range(rand, 0, 8));
			break;
		case 1:
			g_byte_array_set_size(out, position);
			break;
		case 2: {
			const guint8 interesting[] =
				{0x00, 0xff, 0x7f, 0x80, '"', '[', '{', '\n', '='};
			guint8 byte =
				interesting[g_rand_int_range(rand, 0, G_N_ELEMENTS(interesting))];
			g_byte_array_set_size(out, out->len + 1);
			memmove(out->data + position + 1,
				out->data + position,
				out->len - 1 - position);
			out->data[position] = byte;
			break;
		}
		case 3:
			if (out->len > position)
				g_byte_array_remove_range(
					out,
					position,
					out->len - position > 8 ? 8 : out->len - position);
			break;
		default: {
			/* Splice in the tail of another corpus input. */
			GBytes *other =
				g_ptr_array_index(corpus,
						  g_rand_int_range(rand, 0, (gint32)corpus->len));
			gsize other_size = 0;
			const guint8 *other_data = g_bytes_get_data(other, &other_size);
			gsize from = other_size > 0
					     ? (gsize)g_rand_int_range(rand, 0, (gint32)other_size)
					     : 0;
			g_byte_array_set_size(out, position);
			g_byte_array_append(out, other_data + from, (guint)(other_size - from));
			break;
		}
		}
	}
	return out;
}

static void
kl_fuzz_load_corpus(const gchar *path, GPtrArray *corpus)
{
	g_autoptr(GDir) dir = NULL;
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	const gchar *name;

	if (!g_file_test(path, G_FILE_TEST_IS_DIR)) {
		gchar *data = NULL;
		gsize size = 0;
		if (!g_file_get_contents(path, &data, &size, NULL))
			g_error("cannot read corpus input %s", path);
		g_ptr_array_add(corpus, g_bytes_new_take(data, size));
		return;
	}
	dir = g_dir_open(path, 0, NULL);
	if (dir == NULL)
		g_error("cannot open corpus directory %s", path);
	while ((name = g_dir_read_name(dir)) != NULL)
		g_ptr_array_add(names, g_build_filename(path, name, NULL));
	g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);
	for (guint i = 0; i < names->len; i++)
		kl_fuzz_load_corpus(g_ptr_array_index(names, i), corpus);
}

int
main(int argc, char **argv)
{
	g_autoptr(GPtrArray) corpus = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	g_autoptr(GRand) rand = g_rand_new_with_seed(0x6b6c);
	guint runs = 0;

	for (int i = 1; i < argc; i++)
		kl_fuzz_load_corpus(argv[i], corpus);
	if (corpus->len == 0) {
		g_printerr("usage: %s CORPUS-DIR-OR-FILE...\n", argv[0]);
		return 2;
	}
	for (guint i = 0; i < corpus->len; i++) {
		GBytes *input = g_ptr_array_index(corpus, i);
		gsize size = MAX(g_bytes_get_size(input), 1);
		guint mutations = (guint)CLAMP(KL_FUZZ_BYTES_PER_INPUT / size,
					       20,
					       KL_FUZZ_MUTATIONS_PER_INPUT);

		kl_fuzz_run(g_bytes_get_data(input, NULL), g_bytes_get_size(input));
		runs++;
		for (guint m = 0; m < mutations; m++) {
			g_autoptr(GByteArray) mutated = kl_fuzz_mutate(rand, input, corpus);
			kl_fuzz_run(mutated->data, mutated->len);
			runs++;
		}
	}
	g_print("%u inputs from %u corpus files ran without a crash\n", runs, corpus->len);
	return 0;
}
