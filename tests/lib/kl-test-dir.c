/*
 * Temporary state directories: each test gets its own, so tests never share
 * files and can run in parallel.
 */
#include "config.h"

#include <glib/gstdio.h>

#include "kl-test-dir.h"

struct _KlTestDir {
	gchar *path;
};

KlTestDir *
kl_test_dir_new(void)
{
	g_autoptr(GError) error = NULL;
	KlTestDir *self = g_new0(KlTestDir, 1);
	self->path = g_dir_make_tmp("keylime-test-XXXXXX", &error);
	g_assert_no_error(error);
	return self;
}

const gchar *
kl_test_dir_get_path(KlTestDir *self)
{
	return self->path;
}

gchar *
kl_test_dir_build(KlTestDir *self, const gchar *first_element, ...)
{
	va_list args;
	g_autoptr(GPtrArray) parts = g_ptr_array_new();
	const gchar *element;

	g_ptr_array_add(parts, self->path);
	va_start(args, first_element);
	for (element = first_element; element != NULL; element = va_arg(args, const gchar *))
		g_ptr_array_add(parts, (gpointer)element);
	va_end(args);
	g_ptr_array_add(parts, NULL);
	return g_build_filenamev((gchar **)parts->pdata);
}

/* Writes a file below the directory and returns its path. */
gchar *
kl_test_dir_write(KlTestDir *self, const gchar *name, const gchar *contents, gssize length)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = g_build_filename(self->path, name, NULL);
	g_autofree gchar *parent = g_path_get_dirname(path);

	g_assert_cmpint(g_mkdir_with_parents(parent, 0700), ==, 0);
	g_file_set_contents(path, contents, length, &error);
	g_assert_no_error(error);
	return g_steal_pointer(&path);
}

static void
kl_test_dir_remove_tree(const gchar *path)
{
	g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
	const gchar *name;

	if (dir == NULL) {
		g_unlink(path);
		return;
	}
	while ((name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *child = g_build_filename(path, name, NULL);
		if (g_file_test(child, G_FILE_TEST_IS_DIR) &&
		    !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
			kl_test_dir_remove_tree(child);
		else
			g_unlink(child);
	}
	g_rmdir(path);
}

void
kl_test_dir_free(KlTestDir *self)
{
	if (self == NULL)
		return;
	/* KL_TEST_KEEP=1 leaves the files for a post-mortem. */
	if (g_getenv("KL_TEST_KEEP") != NULL)
		g_test_message("kept test directory %s", self->path);
	else
		kl_test_dir_remove_tree(self->path);
	g_free(self->path);
	g_free(self);
}
