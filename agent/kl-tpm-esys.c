/*
 * KlTpm on tpm2-tss ESYS.  The EK is acquired for each use that needs it
 * (AK create and load, ActivateCredential) and released after: a generated
 * EK is a transient primary, recreated from its template (deterministic)
 * and flushed; a persistent one is only an ESYS_TR.  The AK is loaded
 * under the EK once, then kept as a saved context; each use loads that
 * context and flushes it, and a context the TPM refuses (after a TPM
 * reset) is rebuilt from the AK blobs.
 *
 * Every vfunc goes through kl_tpm_esys_run(), which owns the recovery:
 * TPM2_Startup after TPM_RC_INITIALIZE, a pause after a busy TPM, and a
 * new TCTI and ESYS context after the connection was lost.
 */
#include "config.h"

#include <openssl/crypto.h>
#include <string.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include <json-glib/json-glib.h>

#include "kl-json.h"
#include "kl-tpm-esys.h"

/* the Rust agent's agent_data.json, with base64 blobs */
#define KL_TPM_ESYS_STORE_MAX_SIZE (64 * 1024)

/* A busy TPM is asked again this often, after this pause (ESYS has already
 * resubmitted at once a few times by then). */
#define KL_TPM_ESYS_BUSY_RETRIES  3
#define KL_TPM_ESYS_BUSY_DELAY_MS 50

struct _KlTpmEsys {
	KlTpm parent_instance;
	gchar *tcti_conf; /* for reconnecting; NULL: tss2's default */
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;    /* NULL after the connection was lost */
	TPM2_HANDLE ek_handle; /* a persistent EK, or 0: generated from ek_template */
	ESYS_TR ek_persistent; /* ek_handle in this ESYS context; ESYS_TR_NONE until resolved */
	TPM2B_PUBLIC ek_template;
	TPM2B_PUBLIC ek_public;
	TPM2B_PRIVATE ak_private;
	TPM2B_PUBLIC ak_public;
	TPMS_CONTEXT *ak_context; /* the loaded AK, saved; NULL until first loaded */
};

G_DEFINE_TYPE(KlTpmEsys, kl_tpm_esys, KL_TYPE_TPM)

/* What the caller can do about @rc: see kl-tpm-esys.h. */
static KlAgentTpmError
kl_tpm_esys_rc_to_code(TSS2_RC rc)
{
	TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;
	TSS2_RC base = rc & ~TSS2_RC_LAYER_MASK;

	if (layer == TSS2_TCTI_RC_LAYER ||
	    (layer != TSS2_TPM_RC_LAYER && layer != TSS2_RESMGR_TPM_RC_LAYER &&
	     (base == TSS2_BASE_RC_IO_ERROR || base == TSS2_BASE_RC_NO_CONNECTION)))
		return KL_AGENT_TPM_ERROR_CONNECTION;
	/* the TPM's own codes, also as a resource manager forwards them */
	if (layer != TSS2_TPM_RC_LAYER && layer != TSS2_RESMGR_TPM_RC_LAYER)
		return KL_AGENT_TPM_ERROR_FAILED;
	switch (base) {
	case TPM2_RC_INITIALIZE:
		return KL_AGENT_TPM_ERROR_NOT_STARTED;
	case TPM2_RC_RETRY:
	case TPM2_RC_YIELDED:
	case TPM2_RC_TESTING:
		return KL_AGENT_TPM_ERROR_BUSY;
	default:
		return KL_AGENT_TPM_ERROR_FAILED;
	}
}

gboolean
kl_tpm_esys_check_rc(TSS2_RC rc, const gchar *command, GError **error)
{
	if (rc == TSS2_RC_SUCCESS)
		return TRUE;
	g_set_error(error,
		    KL_AGENT_TPM_ERROR,
		    kl_tpm_esys_rc_to_code(rc),
		    "%s: 0x%x %s",
		    command,
		    (guint)rc,
		    Tss2_RC_Decode(rc));
	return FALSE;
}

GBytes *
kl_tpm_esys_marshal_public(const TPM2B_PUBLIC *pub, GError **error)
{
	guint8 buf[sizeof(TPM2B_PUBLIC)];
	size_t offset = 0;

	if (!kl_tpm_esys_check_rc(Tss2_MU_TPM2B_PUBLIC_Marshal(pub, buf, sizeof(buf), &offset),
				  "Tss2_MU_TPM2B_PUBLIC_Marshal",
				  error))
		return NULL;
	return g_bytes_new(buf, offset);
}

GBytes *
kl_tpm_esys_read_public(ESYS_CONTEXT *esys, ESYS_TR object, GError **error)
{
	TPM2B_PUBLIC *pub = NULL;
	GBytes *bytes;

	if (!kl_tpm_esys_check_rc(Esys_ReadPublic(esys,
						  object,
						  ESYS_TR_NONE,
						  ESYS_TR_NONE,
						  ESYS_TR_NONE,
						  &pub,
						  NULL,
						  NULL),
				  "TPM2_ReadPublic",
				  error))
		return NULL;
	bytes = kl_tpm_esys_marshal_public(pub, error);
	Esys_Free(pub);
	return bytes;
}

gboolean
kl_tpm_esys_ek_session_start(ESYS_CONTEXT *esys,
			     const TPMT_PUBLIC *ek,
			     ESYS_TR *session,
			     GError **error)
{
	TPMT_SYM_DEF symmetric = {.algorithm = TPM2_ALG_NULL};

	*session = ESYS_TR_NONE;
	/* high-range EKs such as swtpm's P-384 one allow the (empty) auth value */
	if ((ek->objectAttributes & TPMA_OBJECT_USERWITHAUTH) != 0) {
		*session = ESYS_TR_PASSWORD;
		return TRUE;
	}
	if (!kl_tpm_esys_check_rc(Esys_StartAuthSession(esys,
							ESYS_TR_NONE,
							ESYS_TR_NONE,
							ESYS_TR_NONE,
							ESYS_TR_NONE,
							ESYS_TR_NONE,
							NULL,
							TPM2_SE_POLICY,
							&symmetric,
							ek->nameAlg,
							session),
				  "TPM2_StartAuthSession",
				  error))
		return FALSE;
	if (!kl_tpm_esys_check_rc(Esys_PolicySecret(esys,
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
				  "TPM2_PolicySecret",
				  error)) {
		Esys_FlushContext(esys, *session);
		*session = ESYS_TR_NONE;
		return FALSE;
	}
	return TRUE;
}

void
kl_tpm_esys_session_flush(ESYS_CONTEXT *esys, ESYS_TR session)
{
	/* a policy session outlives the command (continueSession is set) */
	if (session == ESYS_TR_PASSWORD || session == ESYS_TR_NONE)
		return;
	/* a TPM that lost it (power cycle): forget it in ESYS too */
	if (Esys_FlushContext(esys, session) != TSS2_RC_SUCCESS)
		Esys_TR_Close(esys, &session);
}

gboolean
kl_tpm_esys_create(ESYS_CONTEXT *esys,
		   ESYS_TR ek,
		   const TPMT_PUBLIC *ek_area,
		   const TPM2B_PUBLIC *tpl,
		   TPM2B_PRIVATE **out_private,
		   TPM2B_PUBLIC **out_public,
		   GError **error)
{
	TPM2B_SENSITIVE_CREATE sensitive = {0};
	TPM2B_DATA outside = {0};
	TPML_PCR_SELECTION creation_pcr = {0};
	ESYS_TR session;
	TSS2_RC rc;

	if (!kl_tpm_esys_ek_session_start(esys, ek_area, &session, error))
		return FALSE;
	rc = Esys_Create(esys,
			 ek,
			 session,
			 ESYS_TR_NONE,
			 ESYS_TR_NONE,
			 &sensitive,
			 tpl,
			 &outside,
			 &creation_pcr,
			 out_private,
			 out_public,
			 NULL,
			 NULL,
			 NULL);
	kl_tpm_esys_session_flush(esys, session);
	return kl_tpm_esys_check_rc(rc, "TPM2_Create", error);
}

gboolean
kl_tpm_esys_load(ESYS_CONTEXT *esys,
		 ESYS_TR ek,
		 const TPMT_PUBLIC *ek_area,
		 const TPM2B_PRIVATE *in_private,
		 const TPM2B_PUBLIC *in_public,
		 ESYS_TR *object,
		 GError **error)
{
	ESYS_TR session;
	TSS2_RC rc;

	*object = ESYS_TR_NONE;
	if (!kl_tpm_esys_ek_session_start(esys, ek_area, &session, error))
		return FALSE;
	rc = Esys_Load(esys,
		       ek,
		       session,
		       ESYS_TR_NONE,
		       ESYS_TR_NONE,
		       in_private,
		       in_public,
		       object);
	kl_tpm_esys_session_flush(esys, session);
	return kl_tpm_esys_check_rc(rc, "TPM2_Load", error);
}

KlSecret *
kl_tpm_esys_activate_credential(ESYS_CONTEXT *esys,
				ESYS_TR ak,
				ESYS_TR ek,
				const TPMT_PUBLIC *ek_area,
				const TPM2B_ID_OBJECT *id_object,
				const TPM2B_ENCRYPTED_SECRET *secret,
				GError **error)
{
	TPM2B_DIGEST *cert = NULL;
	ESYS_TR session;
	KlSecret *out;
	TSS2_RC rc;

	if (!kl_tpm_esys_ek_session_start(esys, ek_area, &session, error))
		return NULL;
	rc = Esys_ActivateCredential(esys,
				     ak,
				     ek,
				     ESYS_TR_PASSWORD,
				     session,
				     ESYS_TR_NONE,
				     id_object,
				     secret,
				     &cert);
	kl_tpm_esys_session_flush(esys, session);
	if (!kl_tpm_esys_check_rc(rc, "TPM2_ActivateCredential", error))
		return NULL;
	out = kl_secret_new(cert->buffer, cert->size);
	OPENSSL_cleanse(cert, sizeof(*cert));
	Esys_Free(cert);
	return out;
}

static void
kl_tpm_esys_selection(TPML_PCR_SELECTION *sel, guint32 mask, TPM2_ALG_ID bank)
{
	memset(sel, 0, sizeof(*sel));
	sel->count = 1;
	sel->pcrSelections[0].hash = bank;
	sel->pcrSelections[0].sizeofSelect = 3;
	sel->pcrSelections[0].pcrSelect[0] = (guint8)(mask & 0xff);
	sel->pcrSelections[0].pcrSelect[1] = (guint8)((mask >> 8) & 0xff);
	sel->pcrSelections[0].pcrSelect[2] = (guint8)((mask >> 16) & 0xff);
}

/* Takes the values one TPM2_PCR_Read returned (at most 8) into @values. */
static gboolean
kl_tpm_esys_take_pcrs(KlPcrBank *values,
		      guint32 asked,
		      const TPML_PCR_SELECTION *sel,
		      const TPML_DIGEST *digests,
		      guint32 *got,
		      GError **error)
{
	guint next = 0;

	*got = 0;
	for (guint i = 0; i < sel->count; i++) {
		if (sel->pcrSelections[i].hash == kl_pcr_bank_get_hash_alg(values))
			*got |= kl_tpm_pcr_selection_get_mask(&sel->pcrSelections[i]);
	}
	if (*got == 0 || (*got & ~asked) != 0) {
		g_set_error(error,
			    KL_AGENT_TPM_ERROR,
			    KL_AGENT_TPM_ERROR_INVALID_DATA,
			    "TPM2_PCR_Read: PCRs 0x%x of bank %s for 0x%x asked (bank not active?)",
			    *got,
			    kl_pcr_bank_get_hash_alg_string(values),
			    asked);
		return FALSE;
	}
	for (guint pcr = 0; pcr < KL_TPM_PCR_COUNT; pcr++) {
		if ((*got & (1u << pcr)) == 0)
			continue;
		if (next >= digests->count) {
			g_set_error(error,
				    KL_AGENT_TPM_ERROR,
				    KL_AGENT_TPM_ERROR_INVALID_DATA,
				    "TPM2_PCR_Read: %u values for PCRs 0x%x",
				    (guint)digests->count,
				    *got);
			return FALSE;
		}
		if (!kl_pcr_bank_set(values,
				     pcr,
				     digests->digests[next].buffer,
				     digests->digests[next].size,
				     error)) {
			g_prefix_error(error, "TPM2_PCR_Read: ");
			return FALSE;
		}
		next++;
	}
	return TRUE;
}

KlPcrBank *
kl_tpm_esys_read_pcrs(ESYS_CONTEXT *esys, guint32 mask, TPM2_ALG_ID bank, GError **error)
{
	g_autoptr(KlPcrBank) values = kl_pcr_bank_new(bank, error);
	guint32 remaining = mask;

	if (values == NULL)
		return NULL;
	/* a read returns what fits in one TPML_DIGEST: ask again for the rest */
	while (remaining != 0) {
		TPML_PCR_SELECTION sel;
		TPML_PCR_SELECTION *sel_out = NULL;
		TPML_DIGEST *digests = NULL;
		guint32 got = 0;
		gboolean ok;

		kl_tpm_esys_selection(&sel, remaining, bank);
		if (!kl_tpm_esys_check_rc(Esys_PCR_Read(esys,
							ESYS_TR_NONE,
							ESYS_TR_NONE,
							ESYS_TR_NONE,
							&sel,
							NULL,
							&sel_out,
							&digests),
					  "TPM2_PCR_Read",
					  error))
			return NULL;
		ok = kl_tpm_esys_take_pcrs(values, remaining, sel_out, digests, &got, error);
		Esys_Free(sel_out);
		Esys_Free(digests);
		if (!ok)
			return NULL;
		remaining &= ~got;
	}
	return g_steal_pointer(&values);
}

gboolean
kl_tpm_esys_pcr_reset(ESYS_CONTEXT *esys, guint pcr, GError **error)
{
	g_return_val_if_fail(pcr < KL_TPM_PCR_COUNT, FALSE);
	return kl_tpm_esys_check_rc(Esys_PCR_Reset(esys,
						   ESYS_TR_PCR0 + pcr,
						   ESYS_TR_PASSWORD,
						   ESYS_TR_NONE,
						   ESYS_TR_NONE),
				    "TPM2_PCR_Reset",
				    error);
}

gboolean
kl_tpm_esys_pcr_extend(ESYS_CONTEXT *esys,
		       guint pcr,
		       TPM2_ALG_ID bank,
		       GBytes *digest,
		       GError **error)
{
	TPML_DIGEST_VALUES values = {.count = 1};
	gsize size = g_bytes_get_size(digest);

	g_return_val_if_fail(pcr < KL_TPM_PCR_COUNT, FALSE);
	if (size == 0 || size != kl_tpm_hash_alg_get_digest_size(bank)) {
		g_set_error(error,
			    KL_AGENT_TPM_ERROR,
			    KL_AGENT_TPM_ERROR_INVALID_ARGUMENT,
			    "a %" G_GSIZE_FORMAT "-byte digest for bank 0x%x",
			    size,
			    (guint)bank);
		return FALSE;
	}
	values.digests[0].hashAlg = bank;
	memcpy(&values.digests[0].digest, g_bytes_get_data(digest, NULL), size);
	return kl_tpm_esys_check_rc(Esys_PCR_Extend(esys,
						    ESYS_TR_PCR0 + pcr,
						    ESYS_TR_PASSWORD,
						    ESYS_TR_NONE,
						    ESYS_TR_NONE,
						    &values),
				    "TPM2_PCR_Extend",
				    error);
}

gboolean
kl_tpm_esys_quote(ESYS_CONTEXT *esys,
		  ESYS_TR ak,
		  const guint8 *nonce,
		  gsize nonce_len,
		  guint32 mask,
		  TPM2_ALG_ID bank,
		  GBytes **attest,
		  GBytes **signature,
		  GError **error)
{
	TPM2B_DATA qualifying = {0};
	TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_NULL};
	TPML_PCR_SELECTION sel;
	TPM2B_ATTEST *quoted = NULL;
	TPMT_SIGNATURE *sig = NULL;
	guint8 buf[sizeof(TPMT_SIGNATURE)];
	size_t offset = 0;
	gboolean ok;

	if (nonce_len > sizeof(qualifying.buffer)) {
		g_set_error(error,
			    KL_AGENT_TPM_ERROR,
			    KL_AGENT_TPM_ERROR_INVALID_ARGUMENT,
			    "a %" G_GSIZE_FORMAT "-byte nonce",
			    nonce_len);
		return FALSE;
	}
	qualifying.size = (UINT16)nonce_len;
	if (nonce_len > 0)
		memcpy(qualifying.buffer, nonce, nonce_len);
	kl_tpm_esys_selection(&sel, mask, bank);
	if (!kl_tpm_esys_check_rc(Esys_Quote(esys,
					     ak,
					     ESYS_TR_PASSWORD,
					     ESYS_TR_NONE,
					     ESYS_TR_NONE,
					     &qualifying,
					     &scheme,
					     &sel,
					     &quoted,
					     &sig),
				  "TPM2_Quote",
				  error))
		return FALSE;
	ok = kl_tpm_esys_check_rc(Tss2_MU_TPMT_SIGNATURE_Marshal(sig, buf, sizeof(buf), &offset),
				  "Tss2_MU_TPMT_SIGNATURE_Marshal",
				  error);
	if (ok) {
		*attest = g_bytes_new(quoted->attestationData, quoted->size);
		*signature = g_bytes_new(buf, offset);
	}
	Esys_Free(quoted);
	Esys_Free(sig);
	return ok;
}

gboolean
kl_tpm_esys_nv_exists(ESYS_CONTEXT *esys, TPM2_HANDLE index, gboolean *exists, GError **error)
{
	TPMS_CAPABILITY_DATA *data = NULL;

	if (!kl_tpm_esys_check_rc(Esys_GetCapability(esys,
						     ESYS_TR_NONE,
						     ESYS_TR_NONE,
						     ESYS_TR_NONE,
						     TPM2_CAP_HANDLES,
						     index,
						     1,
						     NULL,
						     &data),
				  "TPM2_GetCapability(handles)",
				  error))
		return FALSE;
	*exists = data->data.handles.count > 0 && data->data.handles.handle[0] == index;
	Esys_Free(data);
	return TRUE;
}

static gboolean
kl_tpm_esys_nv_buffer_max(ESYS_CONTEXT *esys, guint16 *max, GError **error)
{
	TPMS_CAPABILITY_DATA *data = NULL;
	gboolean found;

	if (!kl_tpm_esys_check_rc(Esys_GetCapability(esys,
						     ESYS_TR_NONE,
						     ESYS_TR_NONE,
						     ESYS_TR_NONE,
						     TPM2_CAP_TPM_PROPERTIES,
						     TPM2_PT_NV_BUFFER_MAX,
						     1,
						     NULL,
						     &data),
				  "TPM2_GetCapability(NV_BUFFER_MAX)",
				  error))
		return FALSE;
	found = data->data.tpmProperties.count > 0 &&
		data->data.tpmProperties.tpmProperty[0].property == TPM2_PT_NV_BUFFER_MAX &&
		data->data.tpmProperties.tpmProperty[0].value > 0;
	if (found)
		*max = (guint16)MIN(data->data.tpmProperties.tpmProperty[0].value,
				    sizeof(((TPM2B_MAX_NV_BUFFER *)NULL)->buffer));
	Esys_Free(data);
	if (!found) {
		g_set_error_literal(error,
				    KL_AGENT_TPM_ERROR,
				    KL_AGENT_TPM_ERROR_INVALID_DATA,
				    "TPM2_GetCapability: no TPM2_PT_NV_BUFFER_MAX");
		return FALSE;
	}
	return TRUE;
}

static gboolean
kl_tpm_esys_nv_read_chunk(ESYS_CONTEXT *esys,
			  ESYS_TR nv,
			  guint16 chunk,
			  GByteArray *buf,
			  GError **error)
{
	TPM2B_MAX_NV_BUFFER *data = NULL;

	if (!kl_tpm_esys_check_rc(Esys_NV_Read(esys,
					       nv,
					       nv,
					       ESYS_TR_PASSWORD,
					       ESYS_TR_NONE,
					       ESYS_TR_NONE,
					       chunk,
					       (UINT16)buf->len,
					       &data),
				  "TPM2_NV_Read",
				  error))
		return FALSE;
	if (data->size == 0 || data->size > chunk) {
		g_set_error(error,
			    KL_AGENT_TPM_ERROR,
			    KL_AGENT_TPM_ERROR_INVALID_DATA,
			    "TPM2_NV_Read: %u bytes for %u asked",
			    (guint)data->size,
			    (guint)chunk);
		Esys_Free(data);
		return FALSE;
	}
	g_byte_array_append(buf, data->buffer, data->size);
	Esys_Free(data);
	return TRUE;
}

GBytes *
kl_tpm_esys_nv_read(ESYS_CONTEXT *esys, TPM2_HANDLE index, GError **error)
{
	g_autoptr(GByteArray) buf = g_byte_array_new();
	ESYS_TR nv = ESYS_TR_NONE;
	TPM2B_NV_PUBLIC *pub = NULL;
	gboolean ok = TRUE;
	guint16 max = 0;
	guint16 size;

	if (!kl_tpm_esys_nv_buffer_max(esys, &max, error))
		return NULL;
	if (!kl_tpm_esys_check_rc(Esys_TR_FromTPMPublic(esys,
							index,
							ESYS_TR_NONE,
							ESYS_TR_NONE,
							ESYS_TR_NONE,
							&nv),
				  "Esys_TR_FromTPMPublic(NV)",
				  error))
		return NULL;
	if (!kl_tpm_esys_check_rc(Esys_NV_ReadPublic(esys,
						     nv,
						     ESYS_TR_NONE,
						     ESYS_TR_NONE,
						     ESYS_TR_NONE,
						     &pub,
						     NULL),
				  "TPM2_NV_ReadPublic",
				  error)) {
		Esys_TR_Close(esys, &nv);
		return NULL;
	}
	size = pub->nvPublic.dataSize;
	Esys_Free(pub);
	while (ok && buf->len < size) {
		guint16 chunk = (guint16)MIN((guint)(size - buf->len), (guint)max);
		ok = kl_tpm_esys_nv_read_chunk(esys, nv, chunk, buf, error);
	}
	Esys_TR_Close(esys, &nv);
	if (!ok)
		return NULL;
	return g_byte_array_free_to_bytes(g_steal_pointer(&buf));
}

/* ---- the class ---- */

static const TPMT_PUBLIC *
kl_tpm_esys_ek_area(KlTpmEsys *self)
{
	return &self->ek_public.publicArea;
}

/* The persistent EK's ESYS_TR, resolved once per ESYS context. */
static gboolean
kl_tpm_esys_ek_resolve(KlTpmEsys *self, GError **error)
{
	ESYS_TR ek = ESYS_TR_NONE;

	if (self->ek_persistent != ESYS_TR_NONE)
		return TRUE;
	if (!kl_tpm_esys_check_rc(Esys_TR_FromTPMPublic(self->esys,
							self->ek_handle,
							ESYS_TR_NONE,
							ESYS_TR_NONE,
							ESYS_TR_NONE,
							&ek),
				  "Esys_TR_FromTPMPublic(EK)",
				  error)) {
		g_prefix_error(error, "EK handle 0x%x: ", self->ek_handle);
		return FALSE;
	}
	self->ek_persistent = ek;
	return TRUE;
}

/*
 * The EK as a handle for one use; kl_tpm_esys_ek_release() after.  A
 * generated EK is created again from its template each time, so a TPM
 * reset loses nothing; @ek_public, if not NULL, receives its public area.
 */
static gboolean
kl_tpm_esys_ek_acquire(KlTpmEsys *self, ESYS_TR *ek, TPM2B_PUBLIC **ek_public, GError **error)
{
	TPM2B_SENSITIVE_CREATE sensitive = {0};
	TPM2B_DATA outside = {0};
	TPML_PCR_SELECTION creation_pcr = {0};

	*ek = ESYS_TR_NONE;
	if (self->ek_handle != 0) {
		if (!kl_tpm_esys_ek_resolve(self, error))
			return FALSE;
		if (ek_public != NULL && !kl_tpm_esys_check_rc(Esys_ReadPublic(self->esys,
									       self->ek_persistent,
									       ESYS_TR_NONE,
									       ESYS_TR_NONE,
									       ESYS_TR_NONE,
									       ek_public,
									       NULL,
									       NULL),
							       "TPM2_ReadPublic(EK)",
							       error))
			return FALSE;
		*ek = self->ek_persistent;
		return TRUE;
	}
	return kl_tpm_esys_check_rc(Esys_CreatePrimary(self->esys,
						       ESYS_TR_RH_ENDORSEMENT,
						       ESYS_TR_PASSWORD,
						       ESYS_TR_NONE,
						       ESYS_TR_NONE,
						       &sensitive,
						       &self->ek_template,
						       &outside,
						       &creation_pcr,
						       ek,
						       ek_public,
						       NULL,
						       NULL,
						       NULL),
				    "TPM2_CreatePrimary(EK)",
				    error);
}

/* Flushes a transient object; one the TPM lost is forgotten by ESYS too. */
static void
kl_tpm_esys_flush(KlTpmEsys *self, ESYS_TR object)
{
	if (object != ESYS_TR_NONE && Esys_FlushContext(self->esys, object) != TSS2_RC_SUCCESS)
		Esys_TR_Close(self->esys, &object);
}

static void
kl_tpm_esys_ek_release(KlTpmEsys *self, ESYS_TR ek)
{
	if (ek != self->ek_persistent)
		kl_tpm_esys_flush(self, ek);
}

/* Loads the AK under the EK and saves its context for later uses. */
static gboolean
kl_tpm_esys_ak_load_under_ek(KlTpmEsys *self, ESYS_TR *ak, GError **error)
{
	ESYS_TR ek = ESYS_TR_NONE;
	TPMS_CONTEXT *context = NULL;
	gboolean ok;

	if (!kl_tpm_esys_ek_acquire(self, &ek, NULL, error))
		return FALSE;
	ok = kl_tpm_esys_load(self->esys,
			      ek,
			      kl_tpm_esys_ek_area(self),
			      &self->ak_private,
			      &self->ak_public,
			      ak,
			      error);
	kl_tpm_esys_ek_release(self, ek);
	if (!ok)
		return FALSE;
	if (!kl_tpm_esys_check_rc(Esys_ContextSave(self->esys, *ak, &context),
				  "TPM2_ContextSave(AK)",
				  error)) {
		kl_tpm_esys_flush(self, *ak);
		*ak = ESYS_TR_NONE;
		return FALSE;
	}
	g_clear_pointer(&self->ak_context, Esys_Free);
	self->ak_context = context;
	return TRUE;
}

/* The AK loaded for one use; flush it with kl_tpm_esys_ak_release(). */
static gboolean
kl_tpm_esys_ak_acquire(KlTpmEsys *self, ESYS_TR *ak, GError **error)
{
	*ak = ESYS_TR_NONE;
	if (self->ak_context != NULL) {
		TSS2_RC rc = Esys_ContextLoad(self->esys, self->ak_context, ak);
		if (rc == TSS2_RC_SUCCESS)
			return TRUE;
		/* contexts do not survive a TPM reset or power cycle */
		g_debug("TPM2_ContextLoad(AK): %s, loading the AK again", Tss2_RC_Decode(rc));
		*ak = ESYS_TR_NONE;
	}
	return kl_tpm_esys_ak_load_under_ek(self, ak, error);
}

static void
kl_tpm_esys_ak_release(KlTpmEsys *self, ESYS_TR ak)
{
	kl_tpm_esys_flush(self, ak);
}

/* ---- the connection and its recovery ---- */

static gboolean
kl_tpm_esys_connect(KlTpmEsys *self, GError **error)
{
	g_assert(self->esys == NULL && self->tcti == NULL);
	if (!kl_tpm_esys_check_rc(Tss2_TctiLdr_Initialize(self->tcti_conf, &self->tcti),
				  "Tss2_TctiLdr_Initialize",
				  error))
		return FALSE;
	if (!kl_tpm_esys_check_rc(Esys_Initialize(&self->esys, self->tcti, NULL),
				  "Esys_Initialize",
				  error)) {
		Tss2_TctiLdr_Finalize(&self->tcti);
		return FALSE;
	}
	return TRUE;
}

/* Forgets the connection and every ESYS_TR of it; the saved AK context and
 * the blobs stay. */
static void
kl_tpm_esys_disconnect(KlTpmEsys *self)
{
	if (self->esys != NULL)
		Esys_Finalize(&self->esys);
	if (self->tcti != NULL)
		Tss2_TctiLdr_Finalize(&self->tcti);
	self->ek_persistent = ESYS_TR_NONE;
}

/* TPM2_Startup(CLEAR) after a power cycle; a TPM someone else started in
 * the meantime answers TPM_RC_INITIALIZE, which is as good. */
static gboolean
kl_tpm_esys_startup(KlTpmEsys *self, GError **error)
{
	TSS2_RC rc = Esys_Startup(self->esys, TPM2_SU_CLEAR);

	if (rc == TPM2_RC_INITIALIZE)
		return TRUE;
	if (!kl_tpm_esys_check_rc(rc, "TPM2_Startup", error))
		return FALSE;
	g_message("the TPM was not started (power cycle?): TPM2_Startup(CLEAR) sent");
	return TRUE;
}

/* One call of a vfunc: its arguments and results. */
typedef struct {
	guint pcr;
	guint32 mask;
	TPM2_ALG_ID bank;
	GBytes *digest;
	const guint8 *nonce;
	gsize nonce_len;
	const TPM2B_ID_OBJECT *id_object;
	const TPM2B_ENCRYPTED_SECRET *secret;
	const KlTpmOptions *options;
	GBytes *ek_public;
	KlSecret *out_secret;
	KlPcrBank *out_values;
	GBytes **out_attest;
	GBytes **out_signature;
} KlTpmEsysCall;

typedef gboolean (*KlTpmEsysFunc)(KlTpmEsys *self, KlTpmEsysCall *call, GError **error);

/*
 * Runs @func on the TPM with the recovery described in kl-tpm-esys.h, all
 * bounded: at most one connection, one TPM2_Startup and
 * KL_TPM_ESYS_BUSY_RETRIES pauses per call.  @func must leave nothing
 * loaded when it fails, as it may run again.
 */
static gboolean
kl_tpm_esys_run(KlTpmEsys *self, KlTpmEsysFunc func, KlTpmEsysCall *call, GError **error)
{
	gboolean started = FALSE;
	gboolean need_startup = FALSE;
	guint busy = 0;

	if (self->esys == NULL) {
		if (!kl_tpm_esys_connect(self, error)) {
			g_prefix_error(error, "reconnecting to the TPM: ");
			return FALSE;
		}
		g_message("reconnected to the TPM");
	}
	for (;;) {
		g_autoptr(GError) error_local = NULL;

		if ((!need_startup || kl_tpm_esys_startup(self, &error_local)) &&
		    func(self, call, &error_local))
			return TRUE;
		need_startup = FALSE;
		if (g_error_matches(error_local,
				    KL_AGENT_TPM_ERROR,
				    KL_AGENT_TPM_ERROR_NOT_STARTED) &&
		    !started) {
			started = need_startup = TRUE;
			continue;
		}
		if (g_error_matches(error_local, KL_AGENT_TPM_ERROR, KL_AGENT_TPM_ERROR_BUSY) &&
		    busy < KL_TPM_ESYS_BUSY_RETRIES) {
			busy++;
			g_debug("TPM busy (%s), attempt %u", error_local->message, busy);
			g_usleep(KL_TPM_ESYS_BUSY_DELAY_MS * 1000);
			continue;
		}
		/* the command may have run: not repeated; the next call connects */
		if (g_error_matches(error_local,
				    KL_AGENT_TPM_ERROR,
				    KL_AGENT_TPM_ERROR_CONNECTION)) {
			g_message("lost the TPM connection: %s", error_local->message);
			kl_tpm_esys_disconnect(self);
		}
		g_propagate_error(error, g_steal_pointer(&error_local));
		return FALSE;
	}
}

static gboolean
kl_tpm_esys_activate_credential_func(KlTpmEsys *self, KlTpmEsysCall *call, GError **error)
{
	ESYS_TR ak = ESYS_TR_NONE;
	ESYS_TR ek = ESYS_TR_NONE;

	if (!kl_tpm_esys_ak_acquire(self, &ak, error))
		return FALSE;
	if (!kl_tpm_esys_ek_acquire(self, &ek, NULL, error)) {
		kl_tpm_esys_ak_release(self, ak);
		return FALSE;
	}
	call->out_secret = kl_tpm_esys_activate_credential(self->esys,
							   ak,
							   ek,
							   kl_tpm_esys_ek_area(self),
							   call->id_object,
							   call->secret,
							   error);
	kl_tpm_esys_ek_release(self, ek);
	kl_tpm_esys_ak_release(self, ak);
	return call->out_secret != NULL;
}

static KlSecret *
kl_tpm_esys_activate_credential_vfunc(KlTpm *tpm,
				      const TPM2B_ID_OBJECT *id_object,
				      const TPM2B_ENCRYPTED_SECRET *secret,
				      GError **error)
{
	KlTpmEsysCall call = {.id_object = id_object, .secret = secret};

	if (!kl_tpm_esys_run(KL_TPM_ESYS(tpm), kl_tpm_esys_activate_credential_func, &call, error))
		return NULL;
	return call.out_secret;
}

static gboolean
kl_tpm_esys_pcr_reset_func(KlTpmEsys *self, KlTpmEsysCall *call, GError **error)
{
	return kl_tpm_esys_pcr_reset(self->esys, call->pcr, error);
}

static gboolean
kl_tpm_esys_pcr_reset_vfunc(KlTpm *tpm, guint pcr, GError **error)
{
	KlTpmEsysCall call = {.pcr = pcr};

	return kl_tpm_esys_run(KL_TPM_ESYS(tpm), kl_tpm_esys_pcr_reset_func, &call, error);
}

static gboolean
kl_tpm_esys_pcr_extend_func(KlTpmEsys *self, KlTpmEsysCall *call, GError **error)
{
	return kl_tpm_esys_pcr_extend(self->esys, call->pcr, call->bank, call->digest, error);
}

static gboolean
kl_tpm_esys_pcr_extend_vfunc(KlTpm *tpm,
			     guint pcr,
			     TPM2_ALG_ID bank,
			     GBytes *digest,
			     GError **error)
{
	KlTpmEsysCall call = {.pcr = pcr, .bank = bank, .digest = digest};

	return kl_tpm_esys_run(KL_TPM_ESYS(tpm), kl_tpm_esys_pcr_extend_func, &call, error);
}

static gboolean
kl_tpm_esys_read_pcrs_func(KlTpmEsys *self, KlTpmEsysCall *call, GError **error)
{
	call->out_values = kl_tpm_esys_read_pcrs(self->esys, call->mask, call->bank, error);
	return call->out_values != NULL;
}

static KlPcrBank *
kl_tpm_esys_read_pcrs_vfunc(KlTpm *tpm, guint32 mask, TPM2_ALG_ID bank, GError **error)
{
	KlTpmEsysCall call = {.mask = mask, .bank = bank};

	if (!kl_tpm_esys_run(KL_TPM_ESYS(tpm), kl_tpm_esys_read_pcrs_func, &call, error))
		return NULL;
	return call.out_values;
}

static gboolean
kl_tpm_esys_quote_func(KlTpmEsys *self, KlTpmEsysCall *call, GError **error)
{
	ESYS_TR ak = ESYS_TR_NONE;
	gboolean ok;

	if (!kl_tpm_esys_ak_acquire(self, &ak, error))
		return FALSE;
	ok = kl_tpm_esys_quote(self->esys,
			       ak,
			       call->nonce,
			       call->nonce_len,
			       call->mask,
			       call->bank,
			       call->out_attest,
			       call->out_signature,
			       error);
	kl_tpm_esys_ak_release(self, ak);
	return ok;
}

static gboolean
kl_tpm_esys_quote_vfunc(KlTpm *tpm,
			const guint8 *nonce,
			gsize nonce_len,
			guint32 mask,
			TPM2_ALG_ID bank,
			GBytes **attest,
			GBytes **signature,
			GError **error)
{
	KlTpmEsysCall call = {
		.nonce = nonce,
		.nonce_len = nonce_len,
		.mask = mask,
		.bank = bank,
		.out_attest = attest,
		.out_signature = signature,
	};

	return kl_tpm_esys_run(KL_TPM_ESYS(tpm), kl_tpm_esys_quote_func, &call, error);
}

static void
kl_tpm_esys_finalize(GObject *object)
{
	KlTpmEsys *self = KL_TPM_ESYS(object);

	g_clear_pointer(&self->ak_context, Esys_Free);
	OPENSSL_cleanse(&self->ak_private, sizeof(self->ak_private));
	kl_tpm_esys_disconnect(self);
	g_free(self->tcti_conf);
	G_OBJECT_CLASS(kl_tpm_esys_parent_class)->finalize(object);
}

static void
kl_tpm_esys_class_init(KlTpmEsysClass *klass)
{
	KlTpmClass *tpm_class = KL_TPM_CLASS(klass);

	G_OBJECT_CLASS(klass)->finalize = kl_tpm_esys_finalize;
	tpm_class->activate_credential = kl_tpm_esys_activate_credential_vfunc;
	tpm_class->pcr_reset = kl_tpm_esys_pcr_reset_vfunc;
	tpm_class->pcr_extend = kl_tpm_esys_pcr_extend_vfunc;
	tpm_class->read_pcrs = kl_tpm_esys_read_pcrs_vfunc;
	tpm_class->quote = kl_tpm_esys_quote_vfunc;
}

static void
kl_tpm_esys_init(KlTpmEsys *self)
{
	self->ek_persistent = ESYS_TR_NONE;
}

ESYS_CONTEXT *
kl_tpm_esys_get_context(KlTpmEsys *self)
{
	g_return_val_if_fail(KL_IS_TPM_ESYS(self), NULL);
	return self->esys;
}

/* The EK's public area: read from the persistent handle, or the generated
 * primary's, which is flushed again. */
static gboolean
kl_tpm_esys_setup_ek(KlTpmEsys *self, const KlTpmOptions *options, GError **error)
{
	TPM2B_PUBLIC *pub = NULL;
	ESYS_TR ek = ESYS_TR_NONE;

	self->ek_handle = options->ek_handle;
	if (self->ek_handle == 0 &&
	    !kl_tpm_ek_template(&self->ek_template, options->enc_alg, error))
		return FALSE;
	if (!kl_tpm_esys_ek_acquire(self, &ek, &pub, error))
		return FALSE;
	kl_tpm_esys_ek_release(self, ek);
	self->ek_public = *pub;
	Esys_Free(pub);
	return TRUE;
}

/* The NV indices where the certificate of an EK like @ek would be. */
static guint
kl_tpm_esys_ek_cert_indices(const TPMT_PUBLIC *ek, TPM2_HANDLE indices[2])
{
	if (ek->type == TPM2_ALG_RSA) {
		switch (ek->parameters.rsaDetail.keyBits) {
		case 2048:
			indices[0] = KL_TPM_NV_EK_CERT_RSA2048;
			indices[1] = KL_TPM_NV_EK_CERT_RSA2048_HR;
			return 2;
		case 3072:
			indices[0] = KL_TPM_NV_EK_CERT_RSA3072_HR;
			return 1;
		case 4096:
			indices[0] = KL_TPM_NV_EK_CERT_RSA4096_HR;
			return 1;
		default:
			return 0;
		}
	}
	if (ek->type == TPM2_ALG_ECC) {
		switch (ek->parameters.eccDetail.curveID) {
		case TPM2_ECC_NIST_P256:
			indices[0] = KL_TPM_NV_EK_CERT_ECC_P256;
			indices[1] = KL_TPM_NV_EK_CERT_ECC_P256_HR;
			return 2;
		case TPM2_ECC_NIST_P384:
			indices[0] = KL_TPM_NV_EK_CERT_ECC_P384_HR;
			return 1;
		case TPM2_ECC_NIST_P521:
			indices[0] = KL_TPM_NV_EK_CERT_ECC_P521_HR;
			return 1;
		default:
			return 0;
		}
	}
	return 0;
}

/*
 * The EK certificate whose key is the EK's: the first of the candidate
 * indices that holds one (a TPM may have certificates for other EKs).
 * NULL without error when there is none.  Trailing padding is cut off.
 */
static gboolean
kl_tpm_esys_find_ek_cert(KlTpmEsys *self, KlTpmPublic *ek, GBytes **cert, GError **error)
{
	TPM2_HANDLE indices[2];
	guint n = kl_tpm_esys_ek_cert_indices(kl_tpm_public_get_area(ek), indices);

	*cert = NULL;
	for (guint i = 0; i < n; i++) {
		g_autoptr(GBytes) data = NULL;
		g_autoptr(X509) x509 = NULL;
		const guint8 *p;
		gboolean exists = FALSE;
		EVP_PKEY *key;

		if (!kl_tpm_esys_nv_exists(self->esys, indices[i], &exists, error))
			return FALSE;
		if (!exists)
			continue;
		data = kl_tpm_esys_nv_read(self->esys, indices[i], error);
		if (data == NULL) {
			g_prefix_error(error, "EK certificate 0x%x: ", indices[i]);
			return FALSE;
		}
		p = g_bytes_get_data(data, NULL);
		x509 = d2i_X509(NULL, &p, (long)g_bytes_get_size(data));
		if (x509 == NULL) {
			g_debug("NV 0x%x: not an X.509 certificate", indices[i]);
			continue;
		}
		key = X509_get0_pubkey(x509);
		if (key == NULL || EVP_PKEY_eq(key, kl_tpm_public_get_key(ek)) != 1) {
			g_debug("NV 0x%x: a certificate for another key", indices[i]);
			continue;
		}
		*cert = g_bytes_new_from_bytes(
			data,
			0,
			(gsize)(p - (const guint8 *)g_bytes_get_data(data, NULL)));
		return TRUE;
	}
	return TRUE;
}

/* agent_data.json's ek_hash: SHA-256 of the EK's TPM2B_PUBLIC */
static GBytes *
kl_tpm_esys_ek_hash(GBytes *ek_public, GError **error)
{
	return kl_crypto_digest_bytes("sha256",
				      g_bytes_get_data(ek_public, NULL),
				      g_bytes_get_size(ek_public),
				      error);
}

static gboolean
kl_tpm_esys_store_get_blob(JsonObject *root, const gchar *member, GBytes **out, GError **error)
{
	const gchar *text = NULL;
	guchar *raw;
	gsize len = 0;

	if (!kl_json_object_get_string(root, member, &text, error))
		return FALSE;
	raw = g_base64_decode(text, &len);
	*out = g_bytes_new_take(raw, len);
	return TRUE;
}

/*
 * Reads the AK from @path into @self if it was made under @ek_public with
 * the algorithms of @options.  FALSE with no error: absent or stale; a
 * G_FILE_ERROR: unreadable; other errors: not a valid store.
 */
static gboolean
kl_tpm_esys_store_load(KlTpmEsys *self,
		       const gchar *path,
		       const KlTpmOptions *options,
		       GBytes *ek_public,
		       GError **error)
{
	g_autofree gchar *data = NULL;
	gsize len = 0;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(JsonObject) root = NULL;
	g_autoptr(GBytes) ek_hash = NULL;
	g_autoptr(GBytes) stored_ek_hash = NULL;
	g_autoptr(GBytes) ak_public = NULL;
	g_autoptr(GBytes) ak_private = NULL;
	const gchar *hash_alg = NULL;
	const gchar *sign_alg = NULL;
	TPM2_ALG_ID stored_hash = TPM2_ALG_NULL;
	TPM2_ALG_ID stored_sign = TPM2_ALG_NULL;
	size_t offset = 0;

	if (!g_file_get_contents(path, &data, &len, &error_local)) {
		if (g_error_matches(error_local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			return FALSE;
		g_propagate_error(error, g_steal_pointer(&error_local));
		return FALSE;
	}
	root = kl_json_parse_object(data,
				    len,
				    KL_TPM_ESYS_STORE_MAX_SIZE,
				    KL_JSON_DEFAULT_MAX_DEPTH,
				    error);
	if (root == NULL || !kl_json_object_get_string(root, "ak_hash_alg", &hash_alg, error) ||
	    !kl_json_object_get_string(root, "ak_sign_alg", &sign_alg, error) ||
	    !kl_tpm_esys_store_get_blob(root, "ak_public", &ak_public, error) ||
	    !kl_tpm_esys_store_get_blob(root, "ak_private", &ak_private, error) ||
	    !kl_tpm_esys_store_get_blob(root, "ek_hash", &stored_ek_hash, error)) {
		g_prefix_error(error, "%s: ", path);
		return FALSE;
	}
	ek_hash = kl_tpm_esys_ek_hash(ek_public, error);
	if (ek_hash == NULL)
		return FALSE;
	if (!kl_tpm_hash_alg_from_string(hash_alg, &stored_hash) ||
	    !kl_tpm_sign_alg_from_string(sign_alg, &stored_sign) ||
	    stored_hash != options->hash_alg || stored_sign != options->sign_alg ||
	    !g_bytes_equal(ek_hash, stored_ek_hash)) {
		g_debug("%s: an AK for another EK or other algorithms", path);
		return FALSE;
	}
	if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(g_bytes_get_data(ak_public, NULL),
					   g_bytes_get_size(ak_public),
					   &offset,
					   &self->ak_public) != TSS2_RC_SUCCESS ||
	    offset != g_bytes_get_size(ak_public)) {
		g_set_error(error,
			    KL_AGENT_TPM_ERROR,
			    KL_AGENT_TPM_ERROR_INVALID_DATA,
			    "%s: ak_public is not a TPM2B_PUBLIC",
			    path);
		return FALSE;
	}
	offset = 0;
	if (Tss2_MU_TPM2B_PRIVATE_Unmarshal(g_bytes_get_data(ak_private, NULL),
					    g_bytes_get_size(ak_private),
					    &offset,
					    &self->ak_private) != TSS2_RC_SUCCESS ||
	    offset != g_bytes_get_size(ak_private)) {
		g_set_error(error,
			    KL_AGENT_TPM_ERROR,
			    KL_AGENT_TPM_ERROR_INVALID_DATA,
			    "%s: ak_private is not a TPM2B_PRIVATE",
			    path);
		return FALSE;
	}
	return TRUE;
}

static gboolean
kl_tpm_esys_store_save(KlTpmEsys *self,
		       const gchar *path,
		       const KlTpmOptions *options,
		       GBytes *ek_public,
		       GBytes *ak_public,
		       GError **error)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(GBytes) ek_hash = kl_tpm_esys_ek_hash(ek_public, error);
	g_autofree gchar *ak_public_b64 = NULL;
	g_autofree gchar *ak_private_b64 = NULL;
	g_autofree gchar *ek_hash_b64 = NULL;
	g_autofree gchar *text = NULL;
	guint8 buf[sizeof(TPM2B_PRIVATE)];
	size_t offset = 0;
	gboolean ok;

	if (ek_hash == NULL)
		return FALSE;
	if (!kl_tpm_esys_check_rc(
		    Tss2_MU_TPM2B_PRIVATE_Marshal(&self->ak_private, buf, sizeof(buf), &offset),
		    "Tss2_MU_TPM2B_PRIVATE_Marshal",
		    error))
		return FALSE;
	ak_private_b64 = g_base64_encode(buf, offset);
	OPENSSL_cleanse(buf, sizeof(buf));
	ak_public_b64 =
		g_base64_encode(g_bytes_get_data(ak_public, NULL), g_bytes_get_size(ak_public));
	ek_hash_b64 = g_base64_encode(g_bytes_get_data(ek_hash, NULL), g_bytes_get_size(ek_hash));

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "ak_hash_alg");
	json_builder_add_string_value(builder, kl_tpm_hash_alg_to_string(options->hash_alg));
	json_builder_set_member_name(builder, "ak_sign_alg");
	json_builder_add_string_value(builder, kl_tpm_sign_alg_to_string(options->sign_alg));
	json_builder_set_member_name(builder, "ak_public");
	json_builder_add_string_value(builder, ak_public_b64);
	json_builder_set_member_name(builder, "ak_private");
	json_builder_add_string_value(builder, ak_private_b64);
	json_builder_set_member_name(builder, "ek_hash");
	json_builder_add_string_value(builder, ek_hash_b64);
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	text = kl_json_node_to_string(root, TRUE);
	ok = g_file_set_contents_full(path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
	OPENSSL_cleanse(text, strlen(text));
	return ok;
}

/* A new AK under the EK, as @options asks. */
static gboolean
kl_tpm_esys_create_ak(KlTpmEsys *self, const KlTpmOptions *options, GError **error)
{
	TPM2B_PUBLIC tpl;
	TPM2B_PRIVATE *out_private = NULL;
	TPM2B_PUBLIC *out_public = NULL;
	ESYS_TR ek = ESYS_TR_NONE;
	gboolean ok;

	if (!kl_tpm_ak_template(&tpl, options->sign_alg, options->hash_alg, error))
		return FALSE;
	if (!kl_tpm_esys_ek_acquire(self, &ek, NULL, error))
		return FALSE;
	ok = kl_tpm_esys_create(self->esys,
				ek,
				kl_tpm_esys_ek_area(self),
				&tpl,
				&out_private,
				&out_public,
				error);
	kl_tpm_esys_ek_release(self, ek);
	if (!ok) {
		g_prefix_error(error, "AK: ");
		return FALSE;
	}
	self->ak_private = *out_private;
	self->ak_public = *out_public;
	OPENSSL_cleanse(out_private, sizeof(*out_private));
	Esys_Free(out_private);
	Esys_Free(out_public);
	g_clear_pointer(&self->ak_context, Esys_Free);
	return TRUE;
}

/* The stored AK if it still fits, else a new one, stored. */
static gboolean
kl_tpm_esys_setup_ak(KlTpmEsys *self,
		     const KlTpmOptions *options,
		     GBytes *ek_public,
		     GError **error)
{
	g_autoptr(GBytes) ak_public = NULL;
	gboolean stored = FALSE;
	ESYS_TR ak = ESYS_TR_NONE;

	if (options->agent_data_path != NULL) {
		g_autoptr(GError) error_local = NULL;
		stored = kl_tpm_esys_store_load(self,
						options->agent_data_path,
						options,
						ek_public,
						&error_local);
		/* as the Rust agent: an unreadable store is replaced, but a
		 * file we may not read is not overwritten */
		if (error_local != NULL && error_local->domain == G_FILE_ERROR) {
			g_propagate_error(error, g_steal_pointer(&error_local));
			return FALSE;
		}
		if (error_local != NULL)
			g_message("ignoring the AK store: %s", error_local->message);
	}
	if (!stored && !kl_tpm_esys_create_ak(self, options, error))
		return FALSE;
	/* load once: proves the AK belongs to this EK and saves its context */
	if (!kl_tpm_esys_ak_load_under_ek(self, &ak, error)) {
		g_prefix_error(error, "AK: ");
		return FALSE;
	}
	kl_tpm_esys_ak_release(self, ak);
	ak_public = kl_tpm_esys_marshal_public(&self->ak_public, error);
	if (ak_public == NULL)
		return FALSE;
	if (!stored && options->agent_data_path != NULL &&
	    !kl_tpm_esys_store_save(self,
				    options->agent_data_path,
				    options,
				    ek_public,
				    ak_public,
				    error))
		return FALSE;
	return TRUE;
}

static gboolean
kl_tpm_esys_setup_ek_func(KlTpmEsys *self, KlTpmEsysCall *call, GError **error)
{
	return kl_tpm_esys_setup_ek(self, call->options, error);
}

static gboolean
kl_tpm_esys_setup_ak_func(KlTpmEsys *self, KlTpmEsysCall *call, GError **error)
{
	return kl_tpm_esys_setup_ak(self, call->options, call->ek_public, error);
}

KlTpm *
kl_tpm_esys_new(const KlTpmOptions *options, GError **error)
{
	g_autoptr(KlTpmEsys) self = g_object_new(KL_TYPE_TPM_ESYS, NULL);
	g_autoptr(GBytes) ek_public = NULL;
	g_autoptr(GBytes) ek_cert = NULL;
	g_autoptr(GBytes) ak_public = NULL;
	g_autoptr(KlTpmPublic) ek = NULL;
	g_autoptr(GError) error_cert = NULL;
	KlTpmEsysCall call = {0};

	g_return_val_if_fail(options != NULL, NULL);

	self->tcti_conf = g_strdup(options->tcti);
	if (!kl_tpm_esys_connect(self, error))
		return NULL;
	call.options = options;
	if (!kl_tpm_esys_run(self, kl_tpm_esys_setup_ek_func, &call, error))
		return NULL;
	ek_public = kl_tpm_esys_marshal_public(&self->ek_public, error);
	if (ek_public == NULL)
		return NULL;
	ek = kl_tpm_public_new_from_data(g_bytes_get_data(ek_public, NULL),
					 g_bytes_get_size(ek_public),
					 error);
	if (ek == NULL) {
		g_prefix_error(error, "EK: ");
		return NULL;
	}
	/* as the Rust agent: a certificate we cannot read is left out, and
	 * the registrar's tpm_identity policy decides */
	if (!kl_tpm_esys_find_ek_cert(self, ek, &ek_cert, &error_cert))
		g_message("no EK certificate: %s", error_cert->message);
	call.ek_public = ek_public;
	if (!kl_tpm_esys_run(self, kl_tpm_esys_setup_ak_func, &call, error))
		return NULL;
	ak_public = kl_tpm_esys_marshal_public(&self->ak_public, error);
	if (ak_public == NULL)
		return NULL;
	if (!kl_tpm_set_keys(KL_TPM(self), ek_public, ek_cert, ak_public, error))
		return NULL;
	return KL_TPM(g_steal_pointer(&self));
}
