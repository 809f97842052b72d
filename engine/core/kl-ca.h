/*
 * kl-ca: the file-based certificate authority of keylime_ca, laid out as
 * upstream's ca_util lays it out in its directory:
 *
 *   cacert.crt ca-private.pem ca-public.pem cacrl.der cacrl.pem
 *   NAME-cert.crt NAME-private.pem NAME-public.pem NAME-pkg.zip
 *
 * plus a state file (kl-ca-state.ini: last serial, revoked serials) in
 * place of upstream's encrypted private.yml.  keylime_tenant uses it too,
 * to build certificate-package payloads.
 */
#pragma once

#include <glib.h>

#include "kl-config.h"
#include "kl-x509.h"
#include "kl-zip-writer.h"

G_BEGIN_DECLS

/* upstream's defaults: keylime's config/ca mapping */
#define KL_CA_DEFAULT_DIR	       "/var/lib/keylime/ca"
#define KL_CA_REVOCATION_NOTIFIER_NAME "RevocationNotifier"

/* The [ca] options of ca.conf; strings owned by the struct. */
typedef struct {
	gchar *country;
	gchar *ca_name;
	gchar *state;
	gchar *locality;
	gchar *organization;
	gchar *org_unit;
	gchar *crl_dist; /* not yet written into certificates */
	guint ca_lifetime;
	guint lifetime;
	guint bits;
} KlCaSettings;

KlCaSettings *kl_ca_settings_new(void);
KlCaSettings *kl_ca_settings_new_from_config(KlConfig *config, GError **error);
void kl_ca_settings_free(KlCaSettings *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlCaSettings, kl_ca_settings_free)

typedef struct _KlCa KlCa;

gchar *kl_ca_default_dir(void);
gboolean kl_ca_name_is_valid(const gchar *name, GError **error);

KlCa *kl_ca_init(const gchar *dir, const KlCaSettings *settings, GError **error);
KlCa *kl_ca_open(const gchar *dir, const KlCaSettings *settings, GError **error);
void kl_ca_free(KlCa *self);

const gchar *kl_ca_get_dir(KlCa *self);
X509 *kl_ca_get_certificate(KlCa *self);
guint64 kl_ca_get_last_serial(KlCa *self);
gchar *kl_ca_build_path(KlCa *self, const gchar *name, const gchar *suffix);

gboolean kl_ca_create_cert(KlCa *self, const gchar *name, GError **error);
KlZipWriter *
kl_ca_package_new(KlCa *self, const gchar *name, guint64 *serial, gchar **subject, GError **error);
gchar *kl_ca_write_package(KlCa *self, const gchar *name, GError **error);
gboolean kl_ca_revoke(KlCa *self, const gchar *name, GError **error);
gboolean kl_ca_regenerate_crl(KlCa *self, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlCa, kl_ca_free)

G_END_DECLS
