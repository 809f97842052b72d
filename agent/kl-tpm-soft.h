/*
 * kl-tpm-soft: a KlTpm made of OpenSSL keys, so that the agent's REST and
 * registration code and the registrar benchmark run without swtpm.  The
 * EK (RSA-2048 or ECC P-256 by enc_alg) and the AK (by sign_alg and
 * hash_alg: RSASSA, RSAPSS or ECDSA) are new keys each time, encoded as
 * the TPM would encode them (TCG default EK template, the agent's AK
 * template); there is no EK certificate.  ActivateCredential is
 * TPM2_ActivateCredential done in software; PCRs are kept per bank (sha1,
 * sha256, sha384, sha512) with the TPM's initial values; quotes are
 * TPMS_ATTEST structures signed with the AK.  Nothing is stored.
 */
#pragma once

#include "kl-tpm.h"

G_BEGIN_DECLS

#define KL_TYPE_TPM_SOFT (kl_tpm_soft_get_type())
G_DECLARE_FINAL_TYPE(KlTpmSoft, kl_tpm_soft, KL, TPM_SOFT, KlTpm)

/* Uses enc_alg, hash_alg and sign_alg of @options. */
KlTpm *kl_tpm_soft_new(const KlTpmOptions *options, GError **error);
/* the EK's private key, borrowed: for tests that play the TPM's owner */
EVP_PKEY *kl_tpm_soft_get_ek_key(KlTpmSoft *self);

G_END_DECLS
