/*
 * kl-registrar-request: an agent's registration body (spec §2.2) read and
 * checked: the AK and EK as TPM2B_PUBLIC with every length checked, the AK
 * attributes of a TPM-resident restricted signing key, the EK certificate's
 * key equal to the EK, the mTLS certificate, address and port.  The result
 * is the record to store and what MakeCredential needs.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "kl-registrar-agent.h"
#include "kl-tpm-types.h"

G_BEGIN_DECLS

/* [registrar] tpm_identity: which identities an agent may register with */
typedef enum {
	KL_REGISTRAR_TPM_IDENTITY_DEFAULT, /* an EK, with or without certificate */
	KL_REGISTRAR_TPM_IDENTITY_EK_CERT, /* an EK certificate is required */
} KlRegistrarTpmIdentity;

gboolean kl_registrar_tpm_identity_from_string(const gchar *text,
					       KlRegistrarTpmIdentity *identity,
					       GError **error);

/* fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | restricted | sign */
#define KL_REGISTRAR_AK_ATTRIBUTES                                                          \
	(TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN | \
	 TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT)

typedef struct {
	KlRegistrarAgent *agent; /* no key, regcount or active yet */
	KlTpmPublic *ek;
	KlTpmPublic *ak;
} KlRegistrarRequest;

KlRegistrarRequest *kl_registrar_request_parse(const gchar *agent_id,
					       JsonObject *body,
					       KlRegistrarTpmIdentity identity,
					       GError **error);
void kl_registrar_request_free(KlRegistrarRequest *request);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlRegistrarRequest, kl_registrar_request_free)

G_END_DECLS
