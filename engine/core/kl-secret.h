/*
 * kl-secret: immutable bytes that hold key material (K, U, V, payload keys,
 * challenges).  Freeing wipes them, they compare in constant time, and a
 * GValue holding one turns into "<redacted>" rather than its contents.
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define KL_TYPE_SECRET (kl_secret_get_type())

typedef struct _KlSecret KlSecret;

GType kl_secret_get_type(void);
KlSecret *kl_secret_new(const guint8 *data, gsize size);
KlSecret *kl_secret_new_take(guint8 *data, gsize size);
KlSecret *kl_secret_ref(KlSecret *self);
void kl_secret_unref(KlSecret *self);
const guint8 *kl_secret_get_data(const KlSecret *self, gsize *size);
gsize kl_secret_get_size(const KlSecret *self);
gboolean kl_secret_equal(const KlSecret *a, const KlSecret *b);
KlSecret *kl_secret_xor(const KlSecret *a, const KlSecret *b, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlSecret, kl_secret_unref)

G_END_DECLS
