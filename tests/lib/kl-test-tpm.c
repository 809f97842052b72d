/*
 * The ESYS plumbing shared by the tpm suite and the quote benchmark: one
 * TCTI + ESYS connection to a fixture swtpm, AKs under its RSA (or ECC) EK,
 * PCRs, quotes in Keylime's encoding, NV reads, ActivateCredential.  The
 * TPM commands are the agent's own (kl-tpm-esys.h), used here on objects
 * the tests choose; TSS return codes become GErrors there.
 */
#include "config.h"

#include <string.h>
#include <tss2/tss2_tctildr.h>

#include "kl-makecredential.h"
#include "kl-quote.h"
#include "kl-test-tpm.h"

struct _KlTestTpm {
	KlTestSwtpm *swtpm;
	KlTestSwtpm *owned_swtpm; /* set by kl_test_tpm_new_fixture() */
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
	ESYS_TR ek;
	TPM2_ALG_ID ek_type; /* which of the fixture's EKs @ek is */
	TPMT_PUBLIC ek_area;
};

/* Makes @handle the EK in use and remembers its public area. */
static gboolean
kl_test_tpm_set_ek(KlTestTpm *self, TPM2_HANDLE handle, TPM2_ALG_ID type, GError **error)
{
	ESYS_TR ek = ESYS_TR_NONE;
	g_autoptr(GBytes) pub = NULL;
	g_autoptr(KlTpmPublic) parsed = NULL;

	if (!kl_tpm_esys_check_rc(Esys_TR_FromTPMPublic(self->esys,
							handle,
							ESYS_TR_NONE,
							ESYS_TR_NONE,
							ESYS_TR_NONE,
							&ek),
				  "Esys_TR_FromTPMPublic(EK)",
				  error))
		return FALSE;
	pub = kl_tpm_esys_read_public(self->esys, ek, error);
	if (pub != NULL)
		parsed = kl_tpm_public_new_from_data(g_bytes_get_data(pub, NULL),
						     g_bytes_get_size(pub),
						     error);
	if (parsed == NULL) {
		Esys_TR_Close(self->esys, &ek);
		return FALSE;
	}
	if (self->ek != ESYS_TR_NONE)
		Esys_TR_Close(self->esys, &self->ek);
	self->ek = ek;
	self->ek_type = type;
	self->ek_area = *kl_tpm_public_get_area(parsed);
	return TRUE;
}

void
kl_test_tpm_free(KlTestTpm *self)
{
	if (self == NULL)
		return;
	if (self->esys != NULL)
		Esys_Finalize(&self->esys);
	if (self->tcti != NULL)
		Tss2_TctiLdr_Finalize(&self->tcti);
	kl_test_swtpm_free(self->owned_swtpm);
	g_free(self);
}

/* Connects to @swtpm, which must outlive the result. */
KlTestTpm *
kl_test_tpm_new(KlTestSwtpm *swtpm, GError **error)
{
	g_autoptr(KlTestTpm) self = g_new0(KlTestTpm, 1);

	g_return_val_if_fail(swtpm != NULL, NULL);
	self->swtpm = swtpm;
	self->ek = ESYS_TR_NONE;
	self->ek_type = TPM2_ALG_RSA;
	if (!kl_tpm_esys_check_rc(
		    Tss2_TctiLdr_Initialize(kl_test_swtpm_get_tcti(swtpm), &self->tcti),
		    "Tss2_TctiLdr_Initialize",
		    error))
		return NULL;
	if (!kl_tpm_esys_check_rc(Esys_Initialize(&self->esys, self->tcti, NULL),
				  "Esys_Initialize",
				  error))
		return NULL;
	if (!kl_test_tpm_set_ek(self, KL_TEST_SWTPM_EK_HANDLE_RSA, TPM2_ALG_RSA, error))
		return NULL;
	return g_steal_pointer(&self);
}

/* A fresh fixture swtpm and a connection to it, freed together. */
KlTestTpm *
kl_test_tpm_new_fixture(GError **error)
{
	g_autoptr(KlTestSwtpm) swtpm = kl_test_swtpm_new(error);
	KlTestTpm *self;

	if (swtpm == NULL)
		return NULL;
	self = kl_test_tpm_new(swtpm, error);
	if (self == NULL)
		return NULL;
	self->owned_swtpm = g_steal_pointer(&swtpm);
	return self;
}

KlTestSwtpm *
kl_test_tpm_get_swtpm(KlTestTpm *self)
{
	return self->swtpm;
}

/* For the rare test that needs a command this file does not wrap. */
ESYS_CONTEXT *
kl_test_tpm_get_esys(KlTestTpm *self)
{
	return self->esys;
}

/*
 * Switches the EK that AKs are created under and credentials activated
 * with: the RSA-2048 one (0x81010001) or the ECC P-384 one (0x81010016).
 */
gboolean
kl_test_tpm_use_ek(KlTestTpm *self, TPM2_ALG_ID type, GError **error)
{
	g_return_val_if_fail(type == TPM2_ALG_RSA || type == TPM2_ALG_ECC, FALSE);
	if (type == self->ek_type)
		return TRUE;
	return kl_test_tpm_set_ek(self,
				  type == TPM2_ALG_ECC ? KL_TEST_SWTPM_EK_HANDLE_ECC
						       : KL_TEST_SWTPM_EK_HANDLE_RSA,
				  type,
				  error);
}

/* The EK in use as the agent sends it: a marshalled TPM2B_PUBLIC. */
GBytes *
kl_test_tpm_get_ek_public(KlTestTpm *self, GError **error)
{
	return kl_tpm_esys_read_public(self->esys, self->ek, error);
}

void
kl_test_tpm_ak_free(KlTestTpmAk *ak)
{
	if (ak == NULL)
		return;
	g_bytes_unref(ak->public_blob);
	kl_tpm_public_free(ak->pub);
	g_free(ak);
}

/*
 * A restricted signing key under the EK: RSA-2048 or ECC P-256 with
 * @scheme over @hash.  Loaded if @load (flush it with
 * kl_test_tpm_unload_ak(): swtpm has 3 transient slots).
 */
KlTestTpmAk *
kl_test_tpm_create_ak(KlTestTpm *self,
		      TPM2_ALG_ID type,
		      TPM2_ALG_ID scheme,
		      TPM2_ALG_ID hash,
		      gboolean load,
		      GError **error)
{
	g_autoptr(KlTestTpmAk) ak = g_new0(KlTestTpmAk, 1);
	TPM2B_PUBLIC tpl;
	TPM2B_PRIVATE *priv = NULL;
	TPM2B_PUBLIC *pub = NULL;
	gboolean ok;

	ak->handle = ESYS_TR_NONE;
	if (!kl_tpm_ak_template(&tpl, scheme, hash, error))
		return NULL;
	g_return_val_if_fail(tpl.publicArea.type == type, NULL);
	if (!kl_tpm_esys_create(self->esys, self->ek, &self->ek_area, &tpl, &priv, &pub, error))
		return NULL;
	ok = !load ||
	     kl_tpm_esys_load(self->esys, self->ek, &self->ek_area, priv, pub, &ak->handle, error);
	if (ok)
		ak->public_blob = kl_tpm_esys_marshal_public(pub, error);
	Esys_Free(priv);
	Esys_Free(pub);
	if (ak->public_blob != NULL)
		ak->pub = kl_tpm_public_new_from_data(g_bytes_get_data(ak->public_blob, NULL),
						      g_bytes_get_size(ak->public_blob),
						      error);
	if (ak->pub == NULL) {
		if (ak->handle != ESYS_TR_NONE)
			Esys_FlushContext(self->esys, ak->handle);
		g_prefix_error(error, "AK: ");
		return NULL;
	}
	return g_steal_pointer(&ak);
}

gboolean
kl_test_tpm_unload_ak(KlTestTpm *self, KlTestTpmAk *ak, GError **error)
{
	if (!kl_tpm_esys_check_rc(Esys_FlushContext(self->esys, ak->handle),
				  "Esys_FlushContext(AK)",
				  error))
		return FALSE;
	ak->handle = ESYS_TR_NONE;
	return TRUE;
}

/*
 * What the agent does with the registrar's blob: parse the tpm2-tools file
 * and TPM2_ActivateCredential(@ak, EK).  Returns the credential.
 */
GBytes *
kl_test_tpm_activate_credential(KlTestTpm *self, KlTestTpmAk *ak, GBytes *blob, GError **error)
{
	TPM2B_ID_OBJECT id = {0};
	TPM2B_ENCRYPTED_SECRET secret = {0};
	g_autoptr(KlSecret) cert = NULL;
	const guint8 *data;
	gsize size = 0;

	if (!kl_makecredential_blob_parse(g_bytes_get_data(blob, NULL),
					  g_bytes_get_size(blob),
					  &id,
					  &secret,
					  error))
		return NULL;
	cert = kl_tpm_esys_activate_credential(self->esys,
					       ak->handle,
					       self->ek,
					       &self->ek_area,
					       &id,
					       &secret,
					       error);
	if (cert == NULL)
		return NULL;
	data = kl_secret_get_data(cert, &size);
	return g_bytes_new(data, size);
}

/* The Name the TPM computed for a loaded object. */
GBytes *
kl_test_tpm_get_name(KlTestTpm *self, ESYS_TR handle, GError **error)
{
	TPM2B_NAME *name = NULL;
	GBytes *bytes;

	if (!kl_tpm_esys_check_rc(Esys_TR_GetName(self->esys, handle, &name),
				  "Esys_TR_GetName",
				  error))
		return NULL;
	bytes = g_bytes_new(name->name, name->size);
	Esys_Free(name);
	return bytes;
}

/* The values of @mask in @bank. */
KlPcrBank *
kl_test_tpm_read_pcrs(KlTestTpm *self, guint32 mask, TPM2_ALG_ID bank, GError **error)
{
	return kl_tpm_esys_read_pcrs(self->esys, mask, bank, error);
}

gboolean
kl_test_tpm_reset(KlTestTpm *self, guint pcr, GError **error)
{
	return kl_tpm_esys_pcr_reset(self->esys, pcr, error);
}

/* PCR_Extend of one bank with @digest, which must be that bank's size. */
gboolean
kl_test_tpm_extend(KlTestTpm *self, guint pcr, TPM2_ALG_ID bank, GBytes *digest, GError **error)
{
	return kl_tpm_esys_pcr_extend(self->esys, pcr, bank, digest, error);
}

void
kl_test_tpm_quote_free(KlTestTpmQuote *quote)
{
	if (quote == NULL)
		return;
	g_clear_pointer(&quote->attest, g_bytes_unref);
	g_clear_pointer(&quote->signature, g_bytes_unref);
	g_clear_pointer(&quote->banks, g_ptr_array_unref);
	g_free(quote);
}

/* TPM2_Quote over @bank:@mask with the AK's own scheme, as the agent does:
 * the nonce's ASCII bytes are the qualifying data. */
KlTestTpmQuote *
kl_test_tpm_quote_raw(KlTestTpm *self,
		      KlTestTpmAk *ak,
		      const gchar *nonce,
		      guint32 mask,
		      TPM2_ALG_ID bank,
		      GError **error)
{
	g_autoptr(KlTestTpmQuote) quote = g_new0(KlTestTpmQuote, 1);
	KlPcrBank *values;

	if (!kl_tpm_esys_quote(self->esys,
			       ak->handle,
			       (const guint8 *)nonce,
			       strlen(nonce),
			       mask,
			       bank,
			       &quote->attest,
			       &quote->signature,
			       error))
		return NULL;
	values = kl_test_tpm_read_pcrs(self, mask, bank, error);
	if (values == NULL)
		return NULL;
	quote->banks = g_ptr_array_new_with_free_func((GDestroyNotify)kl_pcr_bank_free);
	g_ptr_array_add(quote->banks, values);
	return g_steal_pointer(&quote);
}

/* Keylime's quote string "r<attest>:<signature>:<pcrblob>". */
gchar *
kl_test_tpm_quote_encode(GBytes *attest, GBytes *signature, GPtrArray *banks, GError **error)
{
	g_autoptr(GBytes) pcrblob = kl_tpm_pcrblob_build(banks, error);

	if (pcrblob == NULL)
		return NULL;
	return kl_quote_encode(attest, signature, pcrblob);
}

gchar *
kl_test_tpm_quote(KlTestTpm *self,
		  KlTestTpmAk *ak,
		  const gchar *nonce,
		  guint32 mask,
		  TPM2_ALG_ID bank,
		  GError **error)
{
	g_autoptr(KlTestTpmQuote) quote = kl_test_tpm_quote_raw(self, ak, nonce, mask, bank, error);

	if (quote == NULL)
		return NULL;
	return kl_test_tpm_quote_encode(quote->attest, quote->signature, quote->banks, error);
}

/* A whole NV index, authorised with the index itself (the EK certificate
 * indices are AUTHREAD with an empty auth value). */
GBytes *
kl_test_tpm_nv_read(KlTestTpm *self, TPM2_HANDLE index, GError **error)
{
	return kl_tpm_esys_nv_read(self->esys, index, error);
}
