/*
 * kl-test-data: test inputs that must be there — bytes from hex text and
 * fixtures from tests/data — failing the test instead of returning an error.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

GBytes *kl_test_hex(const gchar *hex);
gchar *kl_test_load_data(gsize *length, const gchar *first_element, ...) G_GNUC_NULL_TERMINATED;

G_END_DECLS
