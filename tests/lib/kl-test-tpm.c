/*
 * The ESYS plumbing shared by the tpm suite and the quote benchmark: one
 * TCTI + ESYS connection to a fixture swtpm, AKs under its RSA (or ECC) EK,
 * PCRs, quotes in Keylime's encoding, NV reads, ActivateCredential.  TSS return codes become GErrors
 * at one spot, kl_test_tpm_check_rc().
 */
#include "config.h"

#include <string.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include <gio/gio.h>

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
};

static gboolean
kl_test_tpm_check_rc(TSS2_RC rc, const gchar *what, GError **error)
{
	if (rc == TSS2_RC_SUCCESS)
		return TRUE;
	g_set_error(error,
		    G_IO_ERROR,
		    G_IO_ERROR_FAILED,
		    "%s: 0x%x %s",
		    what,
		    (guint)rc,
		    Tss2_RC_Decode(rc));
	return FALSE;
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
	if (!kl_test_tpm_check_rc(
		    Tss2_TctiLdr_Initialize(kl_test_swtpm_get_tcti(swtpm), &self->tcti),
		    "Tss2_TctiLdr_Initialize",
		    error))
		return NULL;
	if (!kl_test_tpm_check_rc(Esys_Initialize(&self->esys, self->tcti, NULL),
				  "Esys_Initialize",
				  error))
		return NULL;
	if (!kl_test_tpm_check_rc(Esys_TR_FromTPMPublic(self->esys,
							KL_TEST_SWTPM_EK_HANDLE_RSA,
							ESYS_TR_NONE,
							ESYS_TR_NONE,
							ESYS_TR_NONE,
							&self->ek),
				  "Esys_TR_FromTPMPublic(EK)",
				  error))
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
	ESYS_TR ek = ESYS_TR_NONE;
	TPM2_HANDLE handle = type == TPM2_ALG_ECC ? KL_TEST_SWTPM_EK_HANDLE_ECC
						  : KL_TEST_SWTPM_EK_HANDLE_RSA;

	g_return_val_if_fail(type == TPM2_ALG_RSA || type == TPM2_ALG_ECC, FALSE);
	if (type == self->ek_type)
		return TRUE;
	if (!kl_test_tpm_check_rc(Esys_TR_FromTPMPublic(self->esys,
							handle,
							ESYS_TR_NONE,
							ESYS_TR_NONE,
							ESYS_TR_NONE,
							&ek),
				  "Esys_TR_FromTPMPublic(EK)",
				  error))
		return FALSE;
	Esys_TR_Close(self->esys, &self->ek);
	self->ek = ek;
	self->ek_type = type;
	return TRUE;
}

/* The EK in use as the agent sends it: a marshalled TPM2B_PUBLIC. */
GBytes *
kl_test_tpm_get_ek_public(KlTestTpm *self, GError **error)
{
	TPM2B_PUBLIC *pub = NULL;
	guint8 buf[sizeof(TPM2B_PUBLIC)];
	size_t offset = 0;
	TSS2_RC rc;

	if (!kl_test_tpm_check_rc(Esys_ReadPublic(self->esys,
						  self->ek,
						  ESYS_TR_NONE,
						  ESYS_TR_NONE,
						  ESYS_TR_NONE,
						  &pub,
						  NULL,
						  NULL),
				  "Esys_ReadPublic(EK)",
				  error))
		return NULL;
	rc = Tss2_MU_TPM2B_PUBLIC_Marshal(pub, buf, sizeof(buf), &offset);
	Esys_Free(pub);
	if (!kl_test_tpm_check_rc(rc, "Tss2_MU_TPM2B_PUBLIC_Marshal", error))
		return NULL;
	return g_bytes_new(buf, offset);
}

/*
 * The RSA EK's authPolicy is PolicySecret(endorsement): a fresh session per
 * use.  swtpm's ECC EK (a high-range template) has userWithAuth set and an
 * empty auth value, so a password session is enough for it.
 */
static gboolean
kl_test_tpm_ek_session(KlTestTpm *self, ESYS_TR *session, GError **error)
{
	TPMT_SYM_DEF symmetric = {.algorithm = TPM2_ALG_NULL};

	*session = ESYS_TR_NONE;
	if (self->ek_type == TPM2_ALG_ECC) {
		*session = ESYS_TR_PASSWORD;
		return TRUE;
	}
	if (!kl_test_tpm_check_rc(Esys_StartAuthSession(self->esys,
							ESYS_TR_NONE,
							ESYS_TR_NONE,
							ESYS_TR_NONE,
							ESYS_TR_NONE,
							ESYS_TR_NONE,
							NULL,
							TPM2_SE_POLICY,
							&symmetric,
							TPM2_ALG_SHA256,
							session),
				  "Esys_StartAuthSession",
				  error))
		return FALSE;
	if (!kl_test_tpm_check_rc(Esys_PolicySecret(self->esys,
						    ESYS_TR_RH_ENDORSEMENT,
						    *session,
						    ESYS_TR_PASSWORD,
						    ESYS_TR_NONE,
						    ESYS_TR_NONE,
						    NULL,
						    NULL,
						    NULL,
						    0,
						    NULL,
						    NULL),
				  "Esys_PolicySecret",
				  error)) {
		Esys_FlushContext(self->esys, *session);
		*session = ESYS_TR_NONE;
		return FALSE;
	}
	return TRUE;
}

static void
kl_test_tpm_session_done(KlTestTpm *self, ESYS_TR session)
{
	/* gone already if the command ended the session: ignore the result */
	if (session != ESYS_TR_PASSWORD)
		Esys_FlushContext(self->esys, session);
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

static void
kl_test_tpm_ak_template(TPM2B_PUBLIC *tpl, TPM2_ALG_ID type, TPM2_ALG_ID scheme, TPM2_ALG_ID hash)
{
	tpl->publicArea.type = type;
	tpl->publicArea.nameAlg = TPM2_ALG_SHA256;
	tpl->publicArea.objectAttributes =
		TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
		TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
	if (type == TPM2_ALG_RSA) {
		TPMS_RSA_PARMS *rsa = &tpl->publicArea.parameters.rsaDetail;
		rsa->symmetric.algorithm = TPM2_ALG_NULL;
		rsa->scheme.scheme = scheme;
		rsa->scheme.details.anySig.hashAlg = hash;
		rsa->keyBits = 2048;
	} else {
		TPMS_ECC_PARMS *ecc = &tpl->publicArea.parameters.eccDetail;
		ecc->symmetric.algorithm = TPM2_ALG_NULL;
		ecc->scheme.scheme = scheme;
		ecc->scheme.details.ecdsa.hashAlg = hash;
		ecc->curveID = TPM2_ECC_NIST_P256;
		ecc->kdf.scheme = TPM2_ALG_NULL;
	}
}

/* Loads the created AK under the EK; @ak->handle is set on success. */
static gboolean
kl_test_tpm_load_ak(KlTestTpm *self,
		    TPM2B_PRIVATE *priv,
		    TPM2B_PUBLIC *pub,
		    KlTestTpmAk *ak,
		    GError **error)
{
	ESYS_TR session;
	TSS2_RC rc;

	if (!kl_test_tpm_ek_session(self, &session, error))
		return FALSE;
	rc = Esys_Load(self->esys,
		       self->ek,
		       session,
		       ESYS_TR_NONE,
		       ESYS_TR_NONE,
		       priv,
		       pub,
		       &ak->handle);
	kl_test_tpm_session_done(self, session);
	return kl_test_tpm_check_rc(rc, "Esys_Load(AK)", error);
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
	TPM2B_SENSITIVE_CREATE sensitive = {0};
	TPM2B_PUBLIC tpl = {0};
	TPM2B_DATA outside = {0};
	TPML_PCR_SELECTION creation_pcr = {0};
	TPM2B_PRIVATE *priv = NULL;
	TPM2B_PUBLIC *pub = NULL;
	guint8 buf[sizeof(TPM2B_PUBLIC)];
	size_t offset = 0;
	ESYS_TR session;
	TSS2_RC rc;
	gboolean ok;

	ak->handle = ESYS_TR_NONE;
	kl_test_tpm_ak_template(&tpl, type, scheme, hash);
	if (!kl_test_tpm_ek_session(self, &session, error))
		return NULL;
	rc = Esys_Create(self->esys,
			 self->ek,
			 session,
			 ESYS_TR_NONE,
			 ESYS_TR_NONE,
			 &sensitive,
			 &tpl,
			 &outside,
			 &creation_pcr,
			 &priv,
			 &pub,
			 NULL,
			 NULL,
			 NULL);
	kl_test_tpm_session_done(self, session);
	if (!kl_test_tpm_check_rc(rc, "Esys_Create(AK)", error))
		return NULL;

	ok = (!load || kl_test_tpm_load_ak(self, priv, pub, ak, error)) &&
	     kl_test_tpm_check_rc(Tss2_MU_TPM2B_PUBLIC_Marshal(pub, buf, sizeof(buf), &offset),
				  "Tss2_MU_TPM2B_PUBLIC_Marshal",
				  error);
	Esys_Free(priv);
	Esys_Free(pub);
	if (!ok) {
		if (ak->handle != ESYS_TR_NONE)
			Esys_FlushContext(self->esys, ak->handle);
		return NULL;
	}
	ak->public_blob = g_bytes_new(buf, offset);
	ak->pub = kl_tpm_public_new_from_data(buf, offset, error);
	if (ak->pub == NULL) {
		if (ak->handle != ESYS_TR_NONE)
			Esys_FlushContext(self->esys, ak->handle);
		g_prefix_error(error, "AK public: ");
		return NULL;
	}
	return g_steal_pointer(&ak);
}

gboolean
kl_test_tpm_unload_ak(KlTestTpm *self, KlTestTpmAk *ak, GError **error)
{
	if (!kl_test_tpm_check_rc(Esys_FlushContext(self->esys, ak->handle),
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
	TPM2B_DIGEST *cert = NULL;
	ESYS_TR session;
	TSS2_RC rc;
	GBytes *out;

	if (!kl_makecredential_blob_parse(g_bytes_get_data(blob, NULL),
					  g_bytes_get_size(blob),
					  &id,
					  &secret,
					  error))
		return NULL;
	if (!kl_test_tpm_ek_session(self, &session, error))
		return NULL;
	rc = Esys_ActivateCredential(self->esys,
				     ak->handle,
				     self->ek,
				     ESYS_TR_PASSWORD,
				     session,
				     ESYS_TR_NONE,
				     &id,
				     &secret,
				     &cert);
	kl_test_tpm_session_done(self, session);
	if (!kl_test_tpm_check_rc(rc, "Esys_ActivateCredential", error))
		return NULL;
	out = g_bytes_new(cert->buffer, cert->size);
	Esys_Free(cert);
	return out;
}

/* The Name the TPM computed for a loaded object. */
GBytes *
kl_test_tpm_get_name(KlTestTpm *self, ESYS_TR handle, GError **error)
{
	TPM2B_NAME *name = NULL;
	GBytes *bytes;

	if (!kl_test_tpm_check_rc(Esys_TR_GetName(self->esys, handle, &name),
				  "Esys_TR_GetName",
				  error))
		return NULL;
	bytes = g_bytes_new(name->name, name->size);
	Esys_Free(name);
	return bytes;
}

static void
kl_test_tpm_selection(TPML_PCR_SELECTION *sel, guint32 mask, TPM2_ALG_ID bank)
{
	memset(sel, 0, sizeof(*sel));
	sel->count = 1;
	sel->pcrSelections[0].hash = bank;
	sel->pcrSelections[0].sizeofSelect = 3;
	sel->pcrSelections[0].pcrSelect[0] = (guint8)(mask & 0xff);
	sel->pcrSelections[0].pcrSelect[1] = (guint8)((mask >> 8) & 0xff);
	sel->pcrSelections[0].pcrSelect[2] = (guint8)((mask >> 16) & 0xff);
}

/* The values of @mask in @bank, one PCR_Read each: a read returns at most
 * 8 digests, and one at a time needs no bookkeeping. */
KlPcrBank *
kl_test_tpm_read_pcrs(KlTestTpm *self, guint32 mask, TPM2_ALG_ID bank, GError **error)
{
	g_autoptr(KlPcrBank) values = kl_pcr_bank_new(bank, error);

	if (values == NULL)
		return NULL;
	for (guint pcr = 0; pcr < KL_TPM_PCR_COUNT; pcr++) {
		TPML_PCR_SELECTION sel;
		TPML_DIGEST *digests = NULL;
		gboolean ok;

		if ((mask & (1u << pcr)) == 0)
			continue;
		kl_test_tpm_selection(&sel, 1u << pcr, bank);
		if (!kl_test_tpm_check_rc(Esys_PCR_Read(self->esys,
							ESYS_TR_NONE,
							ESYS_TR_NONE,
							ESYS_TR_NONE,
							&sel,
							NULL,
							NULL,
							&digests),
					  "Esys_PCR_Read",
					  error))
			return NULL;
		if (digests->count != 1) {
			g_set_error(error,
				    G_IO_ERROR,
				    G_IO_ERROR_FAILED,
				    "Esys_PCR_Read: %u values for PCR %u",
				    (guint)digests->count,
				    pcr);
			Esys_Free(digests);
			return NULL;
		}
		ok = kl_pcr_bank_set(values,
				     pcr,
				     digests->digests[0].buffer,
				     digests->digests[0].size,
				     error);
		Esys_Free(digests);
		if (!ok)
			return NULL;
	}
	return g_steal_pointer(&values);
}

gboolean
kl_test_tpm_reset(KlTestTpm *self, guint pcr, GError **error)
{
	g_return_val_if_fail(pcr < KL_TPM_PCR_COUNT, FALSE);
	return kl_test_tpm_check_rc(Esys_PCR_Reset(self->esys,
						   ESYS_TR_PCR0 + pcr,
						   ESYS_TR_PASSWORD,
						   ESYS_TR_NONE,
						   ESYS_TR_NONE),
				    "Esys_PCR_Reset",
				    error);
}

/* PCR_Extend of one bank with @digest, which must be that bank's size. */
gboolean
kl_test_tpm_extend(KlTestTpm *self, guint pcr, TPM2_ALG_ID bank, GBytes *digest, GError **error)
{
	TPML_DIGEST_VALUES values = {.count = 1};
	gsize size = g_bytes_get_size(digest);

	g_return_val_if_fail(pcr < KL_TPM_PCR_COUNT, FALSE);
	if (size == 0 || size != kl_tpm_hash_alg_get_digest_size(bank)) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_INVALID_ARGUMENT,
			    "a %" G_GSIZE_FORMAT "-byte digest for bank 0x%x",
			    size,
			    (guint)bank);
		return FALSE;
	}
	values.digests[0].hashAlg = bank;
	memcpy(&values.digests[0].digest, g_bytes_get_data(digest, NULL), size);
	return kl_test_tpm_check_rc(Esys_PCR_Extend(self->esys,
						    ESYS_TR_PCR0 + pcr,
						    ESYS_TR_PASSWORD,
						    ESYS_TR_NONE,
						    ESYS_TR_NONE,
						    &values),
				    "Esys_PCR_Extend",
				    error);
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
	TPM2B_DATA qualifying = {0};
	TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_NULL};
	TPML_PCR_SELECTION sel;
	TPM2B_ATTEST *quoted = NULL;
	TPMT_SIGNATURE *signature = NULL;
	guint8 buf[sizeof(TPMT_SIGNATURE)];
	size_t offset = 0;
	gsize nonce_len = strlen(nonce);
	KlPcrBank *values;
	gboolean ok;

	if (nonce_len > sizeof(qualifying.buffer)) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_INVALID_ARGUMENT,
			    "a %" G_GSIZE_FORMAT "-byte nonce",
			    nonce_len);
		return NULL;
	}
	qualifying.size = (UINT16)nonce_len;
	memcpy(qualifying.buffer, nonce, nonce_len);
	kl_test_tpm_selection(&sel, mask, bank);
	if (!kl_test_tpm_check_rc(Esys_Quote(self->esys,
					     ak->handle,
					     ESYS_TR_PASSWORD,
					     ESYS_TR_NONE,
					     ESYS_TR_NONE,
					     &qualifying,
					     &scheme,
					     &sel,
					     &quoted,
					     &signature),
				  "Esys_Quote",
				  error))
		return NULL;
	ok = kl_test_tpm_check_rc(
		Tss2_MU_TPMT_SIGNATURE_Marshal(signature, buf, sizeof(buf), &offset),
		"Tss2_MU_TPMT_SIGNATURE_Marshal",
		error);
	if (ok) {
		quote->attest = g_bytes_new(quoted->attestationData, quoted->size);
		quote->signature = g_bytes_new(buf, offset);
	}
	Esys_Free(quoted);
	Esys_Free(signature);
	if (!ok)
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

/* Reads one NV chunk onto @buf. */
static gboolean
kl_test_tpm_nv_read_chunk(KlTestTpm *self,
			  ESYS_TR nv,
			  guint16 chunk,
			  GByteArray *buf,
			  GError **error)
{
	TPM2B_MAX_NV_BUFFER *data = NULL;

	if (!kl_test_tpm_check_rc(Esys_NV_Read(self->esys,
					       nv,
					       nv,
					       ESYS_TR_PASSWORD,
					       ESYS_TR_NONE,
					       ESYS_TR_NONE,
					       chunk,
					       (UINT16)buf->len,
					       &data),
				  "Esys_NV_Read",
				  error))
		return FALSE;
	if (data->size == 0) {
		/* would loop for ever */
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, "Esys_NV_Read: no data");
		Esys_Free(data);
		return FALSE;
	}
	g_byte_array_append(buf, data->buffer, data->size);
	Esys_Free(data);
	return TRUE;
}

/* A whole NV index in KL_TEST_TPM_NV_CHUNK pieces, authorised with the
 * index itself (the EK certificate indices are AUTHREAD with an empty
 * auth value). */
GBytes *
kl_test_tpm_nv_read(KlTestTpm *self, TPM2_HANDLE index, GError **error)
{
	g_autoptr(GByteArray) buf = g_byte_array_new();
	ESYS_TR nv = ESYS_TR_NONE;
	TPM2B_NV_PUBLIC *pub = NULL;
	gboolean ok = TRUE;
	guint16 size;

	if (!kl_test_tpm_check_rc(Esys_TR_FromTPMPublic(self->esys,
							index,
							ESYS_TR_NONE,
							ESYS_TR_NONE,
							ESYS_TR_NONE,
							&nv),
				  "Esys_TR_FromTPMPublic",
				  error))
		return NULL;
	if (!kl_test_tpm_check_rc(Esys_NV_ReadPublic(self->esys,
						     nv,
						     ESYS_TR_NONE,
						     ESYS_TR_NONE,
						     ESYS_TR_NONE,
						     &pub,
						     NULL),
				  "Esys_NV_ReadPublic",
				  error)) {
		Esys_TR_Close(self->esys, &nv);
		return NULL;
	}
	size = pub->nvPublic.dataSize;
	Esys_Free(pub);

	while (ok && buf->len < size) {
		guint16 chunk = (guint16)MIN(size - buf->len, KL_TEST_TPM_NV_CHUNK);
		ok = kl_test_tpm_nv_read_chunk(self, nv, chunk, buf, error);
	}
	Esys_TR_Close(self->esys, &nv);
	if (!ok)
		return NULL;
	return g_byte_array_free_to_bytes(g_steal_pointer(&buf));
}
