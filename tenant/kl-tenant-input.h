/*
 * kl-tenant-input: the tools' one way to read an input file whole — a
 * path, or "-" for standard input — bounded while reading, NUL-terminated
 * so that text inputs can be used as strings.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

gchar *kl_tenant_read_input(const gchar *path, gsize max_size, gsize *length, GError **error);

G_END_DECLS
