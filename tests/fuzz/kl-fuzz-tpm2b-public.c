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
		EVP_PKEY *key = kl_tpm_public_get_key(pub);
		/* What parsed is an RSA or EC key with a full Name.  (Not
		 * EVP_PKEY_public_check again: its Miller-Rabin step on an odd
		 * composite modulus can answer differently from one call to
		 * the next.)  g_assert aborts, which libFuzzer saves. */
		g_assert_true(EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA ||
			      EVP_PKEY_get_base_id(key) == EVP_PKEY_EC);
		g_assert_cmpint(EVP_PKEY_get_bits(key), >=, 256);
		g_assert_cmpuint(g_bytes_get_size(kl_tpm_public_get_name(pub)), >=, 2 + 20);
		kl_tpm_public_get_object_attributes(pub);
	}
	kl_tpm_attest_unmarshal(data, size, &attest, NULL);
	kl_tpm_signature_unmarshal(data, size, &sig, NULL);
	kl_tpm_pcrblob_parse(data, size, &selection, &banks, NULL);
	return 0;
}
