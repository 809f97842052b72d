/*
 * kl-test-dir: a private temporary directory for one test, removed with
 * everything in it when the test's KlTestDir is freed.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _KlTestDir KlTestDir;

KlTestDir *kl_test_dir_new(void);
const gchar *kl_test_dir_get_path(KlTestDir *self);
gchar *kl_test_dir_build(KlTestDir *self, const gchar *first_element, ...) G_GNUC_NULL_TERMINATED;
gchar *kl_test_dir_write(KlTestDir *self, const gchar *name, const gchar *contents, gssize length);
void kl_test_dir_free(KlTestDir *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlTestDir, kl_test_dir_free)

G_END_DECLS
