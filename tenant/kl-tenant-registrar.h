/*
 * kl-tenant-registrar: the tenant's view of an agent's registrar record
 * (spec §1.3 step 1, §2.2): GET /v{v}/agents/{id} on the registrar's TLS
 * port with the tenant's client certificate, and the bounded parse of the
 * reply with upstream's mandatory keys (aik_tpm, regcount, ek_tpm, ip,
 * port) checked and the AK, EK and EK certificate decoded.
 */
#pragma once

#include <gio/gio.h>

#include "kl-crypto.h"
#include "kl-tpm-types.h"

G_BEGIN_DECLS

/* replies above this are refused */
#define KL_TENANT_REGISTRAR_MAX_REPLY (1024 * 1024)

typedef struct {
	gchar *agent_id;	/* as the record names it, or the one asked for */
	gchar *aik_tpm;		/* b64 TPM2B_PUBLIC, as received (the verifier's ak_tpm) */
	KlTpmPublic *ak;	/* decoded aik_tpm */
	gchar *ek_tpm;		/* b64 TPM2B_PUBLIC */
	KlTpmPublic *ek;	/* decoded ek_tpm */
	gchar *ekcert;		/* as received; NULL when null or absent */
	X509 *ek_certificate;	/* decoded ekcert; NULL without one */
	gchar *mtls_cert;	/* PEM; NULL when null or absent */
	gboolean mtls_disabled; /* mtls_cert was "disabled" */
	gchar *ip;
	guint16 port;
	gint64 regcount;
} KlTenantRegistrarRecord;

void kl_tenant_registrar_record_free(KlTenantRegistrarRecord *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlTenantRegistrarRecord, kl_tenant_registrar_record_free)

/* A reply's HTTP @status and body to the record; 404 is KL_ERROR_NOT_FOUND,
 * a malformed record KL_ERROR_INVALID_ARGUMENT naming the field. */
KlTenantRegistrarRecord *kl_tenant_registrar_record_parse(const gchar *agent_id,
							  guint status,
							  const gchar *body,
							  gsize len,
							  GError **error);

/* The GET, over https with @ca trusted and the client certificate. */
typedef struct {
	const gchar *host;
	guint16 port;
	const gchar *ca_path;	  /* PEM CA file for the registrar's certificate */
	const gchar *client_cert; /* PEM files; both or neither */
	const gchar *client_key;
	gdouble timeout; /* seconds; 0: none */
} KlTenantRegistrarTarget;

void kl_tenant_registrar_get_agent_async(const KlTenantRegistrarTarget *target,
					 const gchar *agent_id,
					 GCancellable *cancellable,
					 GAsyncReadyCallback callback,
					 gpointer user_data);
KlTenantRegistrarRecord *kl_tenant_registrar_get_agent_finish(GAsyncResult *result, GError **error);

G_END_DECLS
