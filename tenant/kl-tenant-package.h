/*
 * kl-tenant-package: the certificate-package payload of "keylime_tenant
 * --cert" (spec §8), as upstream's tenant builds it: keylime_ca's package
 * for the agent (its certificate and keys named by its id, cacert.crt and
 * the CRL), RevocationNotifier-cert.crt, the --include directory's regular
 * files and an action_list; the RevocationNotifier private key goes to the
 * verifier as revocation_key, the certificate's serial and subject as the
 * agent's metadata.
 *
 * The CA directory is initialised when it has no cacert.crt; the agent's
 * certificate is issued once and reused when the agent is enrolled again.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
	GBytes *zip;	       /* stored zip, the plaintext payload */
	gchar *metadata;       /* {"cert_serial": N, "subject": "..."} as JSON text */
	gchar *revocation_key; /* RevocationNotifier-private.pem */
} KlTenantPackage;

KlTenantPackage *kl_tenant_package_new(const gchar *ca_dir,
				       const gchar *agent_id,
				       const gchar *include_dir /* nullable */,
				       const gchar *const *revocation_actions /* nullable */,
				       GError **error);
void kl_tenant_package_free(KlTenantPackage *self);

/* org.keylime.Verifier1.EnrollAgent's options for a package made here (the
 * consoles'): cert_package, metadata and revocation_key. */
void kl_tenant_package_add_enroll_options(const KlTenantPackage *self, GVariantDict *options);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlTenantPackage, kl_tenant_package_free)

/* kl_tenant_package_new() in a worker thread, for main loops that must
 * not stall while the CA makes its RSA keys and the files are read. */
void kl_tenant_package_new_async(const gchar *ca_dir,
				 const gchar *agent_id,
				 const gchar *include_dir /* nullable */,
				 const gchar *const *revocation_actions /* nullable */,
				 GCancellable *cancellable,
				 GAsyncReadyCallback callback,
				 gpointer user_data);
KlTenantPackage *kl_tenant_package_new_finish(GAsyncResult *result, GError **error);

G_END_DECLS
