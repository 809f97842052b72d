/*
 * Fuzz target: an AK's TPM2B_PUBLIC as the registrar receives it (ak_tpm)
 * — tss2-mu, key construction with on-curve checks, the Name — and the
 * other TPM structures' parsers on the same bytes.
 */
#include "config.h"

#include "kl-fuzz.h"
#include "kl-tpm-types.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(KlTpmPublic) pub = kl_tpm_public_new_from_data(data, size, NULL);
	g_autoptr(GPtrArray) banks = NULL;
	TPMS_ATTEST attest;
	TPMT_SIGNATURE sig;
	TPML_PCR_SELECTION selection;

	if (pub != NULL) {
		g_autoptr(EVP_PKEY_CTX) ctx =
			EVP_PKEY_CTX_new_from_pkey(NULL, kl_tpm_public_get_key(pub), NULL);
		/* what parsed is a usable public key */
		if (ctx == NULL || EVP_PKEY_public_check(ctx) != 1)
			g_error("parsed TPM2B_PUBLIC gives an invalid key");
		if (g_bytes_get_size(kl_tpm_public_get_name(pub)) < 2 + 20)
			g_error("Name too short");
		kl_tpm_public_get_object_attributes(pub);
	}
	kl_tpm_attest_unmarshal(data, size, &attest, NULL);
	kl_tpm_signature_unmarshal(data, size, &sig, NULL);
	kl_tpm_pcrblob_parse(data, size, &selection, &banks, NULL);
	return 0;
}
