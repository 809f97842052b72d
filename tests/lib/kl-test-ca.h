/*
 * kl-test-ca: an in-process certificate authority for mTLS tests: a CA,
 * a server certificate for localhost (DNS:localhost, IP:127.0.0.1) and a
 * client certificate, written as PEM files below a KlTestDir.
 */
#pragma once

#include <glib.h>

#include "kl-test-dir.h"

G_BEGIN_DECLS

typedef struct _KlTestCa KlTestCa;

KlTestCa *kl_test_ca_new(KlTestDir *dir, const gchar *name, GError **error);
void kl_test_ca_free(KlTestCa *self);

const gchar *kl_test_ca_get_ca_cert_path(KlTestCa *self);
const gchar *kl_test_ca_get_ca_key_path(KlTestCa *self);
const gchar *kl_test_ca_get_server_cert_path(KlTestCa *self);
const gchar *kl_test_ca_get_server_key_path(KlTestCa *self);
const gchar *kl_test_ca_get_client_cert_path(KlTestCa *self);
const gchar *kl_test_ca_get_client_key_path(KlTestCa *self);
const gchar *kl_test_ca_get_client_name(KlTestCa *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlTestCa, kl_test_ca_free)

G_END_DECLS
