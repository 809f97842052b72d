/*
 * Fuzz target: the tpm2-tools credential file the agent gets from the
 * registrar.  What parses must have consumed every byte, with both TPM2B
 * sizes inside their types; what fails must say why.
 */
#include "config.h"

#include "kl-fuzz.h"
#include "kl-makecredential.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	TPM2B_ID_OBJECT id;
	TPM2B_ENCRYPTED_SECRET secret;
	g_autoptr(GError) error = NULL;

	if (kl_makecredential_blob_parse(data, size, &id, &secret, &error)) {
		g_assert_no_error(error);
		g_assert_cmpuint(8 + 2 + (gsize)id.size + 2 + secret.size, ==, size);
		g_assert_cmpuint(id.size, <=, sizeof(id.credential));
		g_assert_cmpuint(secret.size, <=, sizeof(secret.secret));
		g_assert_cmpuint((guint)(id.credential[0] << 8 | id.credential[1]) + 2,
				 <=,
				 id.size);
	} else {
		g_assert_nonnull(error);
	}
	return 0;
}
