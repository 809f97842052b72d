/*
 * kl-makecredential: the registrar's side of the EK/AK proof (Keylime spec
 * §1.2 and §1.2.1).  TPM2_MakeCredential done in software against an RSA
 * or ECC (P-256, P-384) EK, framed as tpm2-tools' credential file; the
 * parser the agent runs on that file before ActivateCredential; the
 * challenge and the auth_tag HMAC that closes the exchange.
 */
#pragma once

#include <tss2/tss2_tpm2_types.h>

#include <glib.h>

#include "kl-secret.h"
#include "kl-tpm-types.h"

G_BEGIN_DECLS

#define KL_MAKECREDENTIAL_ERROR kl_makecredential_error_quark()

typedef enum {
	KL_MAKECREDENTIAL_ERROR_INVALID_DATA,  /* malformed blob, Name or credential */
	KL_MAKECREDENTIAL_ERROR_NOT_SUPPORTED, /* an EK we cannot encrypt to */
} KlMakecredentialError;

GQuark kl_makecredential_error_quark(void);

/* tpm2-tools' credential file: magic, version, then the two TPM2Bs */
#define KL_MAKECREDENTIAL_BLOB_MAGIC   0xBADCC0DEu
#define KL_MAKECREDENTIAL_BLOB_VERSION 1u

/* Keylime's challenge length: random_password(32) */
#define KL_MAKECREDENTIAL_CHALLENGE_LEN 32

/*
 * The blob that only the TPM holding @ek's private part can open, and only
 * with an object whose Name is @ak_name loaded.  @credential is at most
 * 64 bytes (a TPM2B_DIGEST).
 */
GBytes *kl_makecredential(KlTpmPublic *ek,
			  GBytes *ak_name,
			  const guint8 *credential,
			  gsize len,
			  GError **error);

/* Splits a credential file; every size is checked and nothing may follow. */
gboolean kl_makecredential_blob_parse(const guint8 *data,
				      gsize size,
				      TPM2B_ID_OBJECT *id_object,
				      TPM2B_ENCRYPTED_SECRET *secret,
				      GError **error);

/* TPM 2.0 Part 1 §11.4.10 key derivation, exposed for the tests. */
KlSecret *kl_makecredential_kdfa(TPM2_ALG_ID hash_alg,
				 const guint8 *key,
				 gsize key_len,
				 const gchar *label,
				 const guint8 *context_u,
				 gsize context_u_len,
				 const guint8 *context_v,
				 gsize context_v_len,
				 guint bits,
				 GError **error);
KlSecret *kl_makecredential_kdfe(TPM2_ALG_ID hash_alg,
				 const guint8 *z,
				 gsize z_len,
				 const gchar *label,
				 const guint8 *party_u,
				 gsize party_u_len,
				 const guint8 *party_v,
				 gsize party_v_len,
				 guint bits,
				 GError **error);

/* 32 characters from [A-Za-z0-9], the credential the registrar sends. */
gchar *kl_makecredential_challenge_new(GError **error);

/* hex(HMAC-SHA384(key = base64 text of @challenge, msg = @agent_id)) */
gchar *kl_makecredential_auth_tag(const gchar *challenge, const gchar *agent_id, GError **error);
/* Constant time and exact (lowercase hex), as upstream's compare_digest. */
gboolean kl_makecredential_auth_tag_verify(const gchar *challenge,
					   const gchar *agent_id,
					   const gchar *auth_tag_hex);

G_END_DECLS
