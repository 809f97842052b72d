/*
 * Secrets are reference counted and never copied implicitly; the last unref
 * cleanses the bytes with OPENSSL_cleanse(), which the compiler cannot
 * optimise away.
 */
#define G_LOG_DOMAIN "KlCore"

#include "config.h"

#include <openssl/crypto.h>

#include "kl-error.h"
#include "kl-secret.h"

struct _KlSecret {
	gatomicrefcount refcount;
	guint8 *data;
	gsize size;
};

static void
kl_secret_value_to_string(const GValue *src, GValue *dest)
{
	g_value_set_static_string(dest, "<redacted>");
}

static KlSecret *
kl_secret_boxed_copy(KlSecret *self)
{
	return kl_secret_ref(self);
}

static void
kl_secret_register_transforms(GType type)
{
	g_value_register_transform_func(type, G_TYPE_STRING, kl_secret_value_to_string);
}

G_DEFINE_BOXED_TYPE_WITH_CODE(KlSecret,
			      kl_secret,
			      kl_secret_boxed_copy,
			      kl_secret_unref,
			      kl_secret_register_transforms(g_define_type_id))

/* Takes ownership of @data, which must come from g_malloc(). */
KlSecret *
kl_secret_new_take(guint8 *data, gsize size)
{
	KlSecret *self = g_new0(KlSecret, 1);
	g_atomic_ref_count_init(&self->refcount);
	self->data = data;
	self->size = size;
	return self;
}

KlSecret *
kl_secret_new(const guint8 *data, gsize size)
{
	/* One spare byte so that an empty secret still has a buffer. */
	guint8 *copy = g_malloc0(size + 1);
	if (size > 0)
		memcpy(copy, data, size);
	return kl_secret_new_take(copy, size);
}

KlSecret *
kl_secret_ref(KlSecret *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	g_atomic_ref_count_inc(&self->refcount);
	return self;
}

void
kl_secret_unref(KlSecret *self)
{
	g_return_if_fail(self != NULL);
	if (!g_atomic_ref_count_dec(&self->refcount))
		return;
	if (self->data != NULL)
		OPENSSL_cleanse(self->data, self->size);
	g_free(self->data);
	g_free(self);
}

const guint8 *
kl_secret_get_data(const KlSecret *self, gsize *size)
{
	g_return_val_if_fail(self != NULL, NULL);
	if (size != NULL)
		*size = self->size;
	return self->data;
}

gsize
kl_secret_get_size(const KlSecret *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->size;
}

/* Constant time in the contents; sizes are not secret. */
gboolean
kl_secret_equal(const KlSecret *a, const KlSecret *b)
{
	g_return_val_if_fail(a != NULL && b != NULL, FALSE);
	if (a->size != b->size)
		return FALSE;
	return CRYPTO_memcmp(a->data, b->data, a->size) == 0;
}

/* K = U xor V: both halves must have the same size. */
KlSecret *
kl_secret_xor(const KlSecret *a, const KlSecret *b, GError **error)
{
	guint8 *out;

	g_return_val_if_fail(a != NULL && b != NULL, NULL);
	if (a->size != b->size) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "key shares differ in size: %" G_GSIZE_FORMAT " and %" G_GSIZE_FORMAT
			    " bytes",
			    a->size,
			    b->size);
		return NULL;
	}
	out = g_malloc0(a->size + 1);
	for (gsize i = 0; i < a->size; i++)
		out[i] = a->data[i] ^ b->data[i];
	return kl_secret_new_take(out, a->size);
}
