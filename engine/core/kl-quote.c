/*
 * Keylime's quote string and its verification.  Parsing is structural
 * (a malformed quote is a GError); verification is semantic and reports
 * the first failed check as a finding, in upstream's order, so that the
 * same evidence gives the same event as upstream.
 */
#define G_LOG_DOMAIN "KlCore"

#include "config.h"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "kl-base64.h"
#include "kl-finding.h"
#include "kl-quote.h"

struct _KlQuote {
	GBytes *attest_raw; /* the signed bytes */
	TPMS_ATTEST attest;
	TPMT_SIGNATURE signature;
	TPML_PCR_SELECTION pcrblob_selection;
	GPtrArray *banks; /* of KlPcrBank, selection order */
};

void
kl_quote_free(KlQuote *self)
{
	if (self == NULL)
		return;
	if (self->attest_raw != NULL)
		g_bytes_unref(self->attest_raw);
	if (self->banks != NULL)
		g_ptr_array_unref(self->banks);
	g_free(self);
}

static GBytes *
kl_quote_base64_decode(const gchar *text, gsize len, const gchar *part, GError **error)
{
	g_autoptr(GError) error_local = NULL;
	GBytes *bytes = kl_base64_decode(text, (gssize)len, KL_BASE64_FLAG_NONE, &error_local);

	if (bytes == NULL)
		g_set_error(error,
			    KL_TPM_ERROR,
			    KL_TPM_ERROR_INVALID_DATA,
			    "quote %s: %s",
			    part,
			    error_local->message);
	return bytes;
}

KlQuote *
kl_quote_new_from_string(const gchar *quote, GError **error)
{
	g_autoptr(KlQuote) self = g_new0(KlQuote, 1);
	g_autoptr(GBytes) sig = NULL;
	g_autoptr(GBytes) pcrblob = NULL;
	const gchar *parts[3];
	gsize lens[3];
	const gchar *p;
	gsize len;

	g_return_val_if_fail(quote != NULL, NULL);

	len = strnlen(quote, KL_QUOTE_MAX_LENGTH + 1);
	if (len > KL_QUOTE_MAX_LENGTH) {
		g_set_error(error,
			    KL_TPM_ERROR,
			    KL_TPM_ERROR_INVALID_DATA,
			    "quote: longer than %u characters",
			    (guint)KL_QUOTE_MAX_LENGTH);
		return NULL;
	}
	/* 'r' is the only form since API 2.0 (earlier ones were compressed) */
	if (quote[0] != 'r') {
		g_set_error(error,
			    KL_TPM_ERROR,
			    KL_TPM_ERROR_INVALID_DATA,
			    "quote: does not start with 'r'");
		return NULL;
	}
	p = quote + 1;
	for (guint i = 0; i < 3; i++) {
		const gchar *colon = strchr(p, ':');
		if (i < 2 && colon == NULL) {
			g_set_error(error,
				    KL_TPM_ERROR,
				    KL_TPM_ERROR_INVALID_DATA,
				    "quote: %u parts, expected attest:signature:pcrblob",
				    i + 1);
			return NULL;
		}
		if (i == 2 && colon != NULL) {
			g_set_error(error,
				    KL_TPM_ERROR,
				    KL_TPM_ERROR_INVALID_DATA,
				    "quote: more than 3 parts");
			return NULL;
		}
		parts[i] = p;
		lens[i] = colon != NULL ? (gsize)(colon - p) : strlen(p);
		p = colon != NULL ? colon + 1 : NULL;
	}

	self->attest_raw = kl_quote_base64_decode(parts[0], lens[0], "attest", error);
	if (self->attest_raw == NULL)
		return NULL;
	sig = kl_quote_base64_decode(parts[1], lens[1], "signature", error);
	if (sig == NULL)
		return NULL;
	pcrblob = kl_quote_base64_decode(parts[2], lens[2], "pcrblob", error);
	if (pcrblob == NULL)
		return NULL;
	if (!kl_tpm_attest_unmarshal(g_bytes_get_data(self->attest_raw, NULL),
				     g_bytes_get_size(self->attest_raw),
				     &self->attest,
				     error))
		return NULL;
	if (!kl_tpm_signature_unmarshal(g_bytes_get_data(sig, NULL),
					g_bytes_get_size(sig),
					&self->signature,
					error))
		return NULL;
	if (!kl_tpm_pcrblob_parse(g_bytes_get_data(pcrblob, NULL),
				  g_bytes_get_size(pcrblob),
				  &self->pcrblob_selection,
				  &self->banks,
				  error))
		return NULL;
	return g_steal_pointer(&self);
}

gchar *
kl_quote_encode(GBytes *attest, GBytes *signature, GBytes *pcrblob)
{
	gsize size = 0;
	const guint8 *data = g_bytes_get_data(attest, &size);
	g_autofree gchar *b64_attest = g_base64_encode(data, size);
	g_autofree gchar *b64_sig = NULL;
	g_autofree gchar *b64_pcrblob = NULL;

	data = g_bytes_get_data(signature, &size);
	b64_sig = g_base64_encode(data, size);
	data = g_bytes_get_data(pcrblob, &size);
	b64_pcrblob = g_base64_encode(data, size);
	return g_strdup_printf("r%s:%s:%s", b64_attest, b64_sig, b64_pcrblob);
}

const TPMS_ATTEST *
kl_quote_get_attest(KlQuote *self)
{
	return &self->attest;
}

const TPMT_SIGNATURE *
kl_quote_get_signature(KlQuote *self)
{
	return &self->signature;
}

void
kl_quote_get_clock_info(KlQuote *self, KlQuoteClockInfo *clock_info)
{
	clock_info->clock = self->attest.clockInfo.clock;
	clock_info->reset_count = self->attest.clockInfo.resetCount;
	clock_info->restart_count = self->attest.clockInfo.restartCount;
	clock_info->safe = self->attest.clockInfo.safe == TPM2_YES;
}

GPtrArray *
kl_quote_get_pcr_banks(KlQuote *self)
{
	return self->banks;
}

KlPcrBank *
kl_quote_get_pcr_bank(KlQuote *self, const gchar *hash_alg)
{
	TPM2_ALG_ID alg = TPM2_ALG_NULL;

	if (!kl_tpm_hash_alg_from_string(hash_alg, &alg))
		return NULL;
	for (guint i = 0; i < self->banks->len; i++) {
		KlPcrBank *bank = g_ptr_array_index(self->banks, i);
		if (kl_pcr_bank_get_hash_alg(bank) == alg)
			return bank;
	}
	return NULL;
}

/* verification */

static gboolean kl_quote_fail(GPtrArray *findings, const gchar *check, const gchar *format, ...)
	G_GNUC_PRINTF(3, 4);

static gboolean
kl_quote_fail(GPtrArray *findings, const gchar *check, const gchar *format, ...)
{
	va_list args;
	g_autofree gchar *reason = NULL;
	KlFinding *finding;

	if (findings == NULL)
		return FALSE;
	va_start(args, format);
	reason = g_strdup_vprintf(format, args);
	va_end(args);
	finding = kl_finding_new(KL_QUOTE_EVENT_ID, check, 0, reason);
	finding->irrecoverable = TRUE;
	g_ptr_array_add(findings, finding);
	return FALSE;
}

static const gchar *
kl_quote_alg_name(TPM2_ALG_ID alg, const gchar *(*to_string)(TPM2_ALG_ID), gchar *buf, gsize len)
{
	const gchar *name = to_string(alg);
	if (name != NULL)
		return name;
	g_snprintf(buf, len, "0x%04x", (guint)alg);
	return buf;
}

/* TPMS_SIGNATURE_ECC's r and s as the DER ECDSA-Sig-Value OpenSSL wants. */
/*
 * An AK prepared for verifying quotes: one verify context per signature
 * scheme and digest, set up on first use and duplicated per quote.
 * Setting up a context costs as much as the RSA verification itself.
 */
typedef struct {
	const EVP_MD *md;
	TPM2_ALG_ID sig_alg;
	EVP_PKEY_CTX *ctx;
} KlQuoteKeyContext;

struct _KlQuoteKey {
	gatomicrefcount refcount;
	EVP_PKEY *pkey;
	GMutex mutex;
	GArray *contexts; /* of KlQuoteKeyContext */
};

KlQuoteKey *
kl_quote_key_new(EVP_PKEY *ak)
{
	KlQuoteKey *self;

	g_return_val_if_fail(ak != NULL, NULL);
	self = g_new0(KlQuoteKey, 1);
	g_atomic_ref_count_init(&self->refcount);
	EVP_PKEY_up_ref(ak);
	self->pkey = ak;
	g_mutex_init(&self->mutex);
	self->contexts = g_array_new(FALSE, FALSE, sizeof(KlQuoteKeyContext));
	return self;
}

KlQuoteKey *
kl_quote_key_ref(KlQuoteKey *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	g_atomic_ref_count_inc(&self->refcount);
	return self;
}

void
kl_quote_key_unref(KlQuoteKey *self)
{
	g_return_if_fail(self != NULL);
	if (!g_atomic_ref_count_dec(&self->refcount))
		return;
	for (guint i = 0; i < self->contexts->len; i++)
		EVP_PKEY_CTX_free(g_array_index(self->contexts, KlQuoteKeyContext, i).ctx);
	g_array_unref(self->contexts);
	g_mutex_clear(&self->mutex);
	EVP_PKEY_free(self->pkey);
	g_free(self);
}

EVP_PKEY *
kl_quote_key_get_pkey(KlQuoteKey *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->pkey;
}

static EVP_PKEY_CTX *
kl_quote_key_new_context(KlQuoteKey *self, const EVP_MD *md, TPM2_ALG_ID sig_alg)
{
	g_autoptr(EVP_PKEY_CTX) ctx = EVP_PKEY_CTX_new_from_pkey(NULL, self->pkey, NULL);

	if (ctx == NULL || EVP_PKEY_verify_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, md) != 1)
		return NULL;
	if (sig_alg == TPM2_ALG_RSASSA && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1)
		return NULL;
	if (sig_alg == TPM2_ALG_RSAPSS &&
	    (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_AUTO) != 1))
		return NULL;
	return g_steal_pointer(&ctx);
}

/* A private copy of the prepared context: safe from any thread. */
static EVP_PKEY_CTX *
kl_quote_key_dup_context(KlQuoteKey *self, const EVP_MD *md, TPM2_ALG_ID sig_alg)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->mutex);
	KlQuoteKeyContext entry = {md, sig_alg, NULL};

	for (guint i = 0; i < self->contexts->len; i++) {
		KlQuoteKeyContext *cached = &g_array_index(self->contexts, KlQuoteKeyContext, i);
		if (cached->md == md && cached->sig_alg == sig_alg)
			return EVP_PKEY_CTX_dup(cached->ctx);
	}
	entry.ctx = kl_quote_key_new_context(self, md, sig_alg);
	if (entry.ctx == NULL)
		return NULL;
	g_array_append_val(self->contexts, entry);
	return EVP_PKEY_CTX_dup(entry.ctx);
}

static guint8 *
kl_quote_ecdsa_der(EVP_PKEY *ak, const TPMS_SIGNATURE_ECC *ecc, gsize *der_len, gchar **problem)
{
	gsize coord = ((gsize)EVP_PKEY_get_bits(ak) + 7) / 8;
	ECDSA_SIG *sig;
	BIGNUM *r;
	BIGNUM *s;
	guint8 *der = NULL;
	int len;

	if (ecc->signatureR.size == 0 || ecc->signatureR.size > coord ||
	    ecc->signatureS.size == 0 || ecc->signatureS.size > coord) {
		*problem =
			g_strdup_printf("ECDSA r and s sizes %u and %u do not fit the %u-bit key",
					(guint)ecc->signatureR.size,
					(guint)ecc->signatureS.size,
					(guint)EVP_PKEY_get_bits(ak));
		return NULL;
	}
	sig = ECDSA_SIG_new();
	r = BN_bin2bn(ecc->signatureR.buffer, ecc->signatureR.size, NULL);
	s = BN_bin2bn(ecc->signatureS.buffer, ecc->signatureS.size, NULL);
	if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(sig);
		*problem = g_strdup("cannot encode the ECDSA signature");
		return NULL;
	}
	len = i2d_ECDSA_SIG(sig, &der);
	ECDSA_SIG_free(sig);
	if (len <= 0) {
		*problem = g_strdup("cannot encode the ECDSA signature");
		return NULL;
	}
	*der_len = (gsize)len;
	return der;
}

/* Prehashed verification: the digest is of the TPMS_ATTEST bytes. */
static gboolean
kl_quote_verify_signature(KlQuote *self,
			  KlQuoteKey *ak,
			  const EVP_MD *md,
			  const guint8 *digest,
			  gsize digest_len,
			  gchar **problem)
{
	g_autoptr(EVP_PKEY_CTX) ctx = kl_quote_key_dup_context(ak, md, self->signature.sigAlg);
	const TPMT_SIGNATURE *sig = &self->signature;
	const guint8 *sig_data;
	gsize sig_len;
	guint8 *der = NULL;
	int rc;

	if (ctx == NULL) {
		*problem = g_strdup("cannot set up signature verification");
		ERR_clear_error();
		return FALSE;
	}
	if (sig->sigAlg == TPM2_ALG_RSASSA || sig->sigAlg == TPM2_ALG_RSAPSS) {
		sig_data = sig->signature.rsassa.sig.buffer;
		sig_len = sig->signature.rsassa.sig.size;
	} else {
		der = kl_quote_ecdsa_der(ak->pkey, &sig->signature.ecdsa, &sig_len, problem);
		if (der == NULL)
			return FALSE;
		sig_data = der;
	}
	rc = EVP_PKEY_verify(ctx, sig_data, sig_len, digest, digest_len);
	OPENSSL_free(der);
	ERR_clear_error();
	if (rc != 1) {
		*problem = g_strdup("signature does not verify with the AK");
		return FALSE;
	}
	return TRUE;
}

/* pull: the nonce's bytes; push: the base64 nonce decoded */
static gboolean
kl_quote_nonce_matches(const TPM2B_DATA *extra, const gchar *nonce)
{
	gsize len = strlen(nonce);
	g_autoptr(GBytes) decoded = NULL;

	if (extra->size == len && memcmp(extra->buffer, nonce, len) == 0)
		return TRUE;
	decoded = kl_quote_base64_decode(nonce, len, "nonce", NULL);
	if (decoded == NULL || g_bytes_get_size(decoded) != extra->size)
		return FALSE;
	return memcmp(g_bytes_get_data(decoded, NULL), extra->buffer, extra->size) == 0;
}

static gboolean
kl_quote_selection_equal(const TPML_PCR_SELECTION *a, const TPML_PCR_SELECTION *b)
{
	if (a->count != b->count)
		return FALSE;
	for (guint i = 0; i < a->count; i++) {
		if (a->pcrSelections[i].hash != b->pcrSelections[i].hash)
			return FALSE;
		if (kl_tpm_pcr_selection_get_mask(&a->pcrSelections[i]) !=
		    kl_tpm_pcr_selection_get_mask(&b->pcrSelections[i]))
			return FALSE;
	}
	return TRUE;
}

static gchar *
kl_quote_selection_to_string(const TPML_PCR_SELECTION *selection)
{
	g_autoptr(GString) text = g_string_new(NULL);
	gchar buf[16];

	for (guint i = 0; i < selection->count; i++) {
		const TPMS_PCR_SELECTION *entry = &selection->pcrSelections[i];
		g_string_append_printf(
			text,
			"%s%s:0x%06x",
			i > 0 ? "," : "",
			kl_quote_alg_name(entry->hash, kl_tpm_hash_alg_to_string, buf, sizeof(buf)),
			kl_tpm_pcr_selection_get_mask(entry));
	}
	if (text->len == 0)
		g_string_append(text, "none");
	return g_string_free(g_steal_pointer(&text), FALSE);
}

gboolean
kl_quote_verify(KlQuote *self,
		KlQuoteKey *ak,
		const gchar *nonce,
		const gchar *hash_alg,
		KlQuoteVerifyFlags flags,
		GPtrArray *findings)
{
	const TPMT_SIGNATURE *sig = &self->signature;
	const TPMS_QUOTE_INFO *info = &self->attest.attested.quote;
	TPM2_ALG_ID expected_hash = TPM2_ALG_NULL;
	TPM2_ALG_ID sig_hash = kl_tpm_signature_get_hash_alg(sig);
	const EVP_MD *md;
	g_autoptr(EVP_MD_CTX) pcr_ctx = NULL;
	guint8 digest[EVP_MAX_MD_SIZE];
	guint digest_len = 0;
	gchar buf[16];
	g_autofree gchar *problem = NULL;
	int key_type;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(ak != NULL, FALSE);
	g_return_val_if_fail(nonce != NULL, FALSE);
	g_return_val_if_fail(hash_alg != NULL, FALSE);

	/* 1. the scheme must suit the AK */
	key_type = EVP_PKEY_get_base_id(ak->pkey);
	if (key_type == EVP_PKEY_RSA) {
		if (sig->sigAlg == TPM2_ALG_RSAPSS &&
		    (flags & KL_QUOTE_VERIFY_FLAG_ALLOW_RSAPSS) == 0)
			return kl_quote_fail(findings,
					     KL_QUOTE_CHECK_SIGNATURE_SCHEME,
					     "rsapss signatures are not accepted");
		if (sig->sigAlg != TPM2_ALG_RSASSA && sig->sigAlg != TPM2_ALG_RSAPSS)
			return kl_quote_fail(findings,
					     KL_QUOTE_CHECK_SIGNATURE_SCHEME,
					     "%s signature from an RSA AK",
					     kl_quote_alg_name(sig->sigAlg,
							       kl_tpm_sign_alg_to_string,
							       buf,
							       sizeof(buf)));
	} else if (key_type == EVP_PKEY_EC) {
		if (sig->sigAlg != TPM2_ALG_ECDSA)
			return kl_quote_fail(findings,
					     KL_QUOTE_CHECK_SIGNATURE_SCHEME,
					     "%s signature from an ECC AK",
					     kl_quote_alg_name(sig->sigAlg,
							       kl_tpm_sign_alg_to_string,
							       buf,
							       sizeof(buf)));
	} else {
		return kl_quote_fail(findings,
				     KL_QUOTE_CHECK_SIGNATURE_SCHEME,
				     "the AK is neither RSA nor ECC");
	}

	/* 2. the signature's hash must be the negotiated one */
	if (!kl_tpm_hash_alg_from_string(hash_alg, &expected_hash))
		return kl_quote_fail(findings,
				     KL_QUOTE_CHECK_HASH_ALG,
				     "expected hash algorithm '%s' is not a TPM hash algorithm",
				     hash_alg);
	if (sig_hash != expected_hash)
		return kl_quote_fail(
			findings,
			KL_QUOTE_CHECK_HASH_ALG,
			"signed with %s, expected %s",
			kl_quote_alg_name(sig_hash, kl_tpm_hash_alg_to_string, buf, sizeof(buf)),
			hash_alg);
	md = kl_crypto_get_md(hash_alg, NULL);
	if (md == NULL)
		return kl_quote_fail(findings,
				     KL_QUOTE_CHECK_HASH_ALG,
				     "hash algorithm %s is unavailable",
				     hash_alg);

	/* 3. the signature over the attest bytes */
	if (EVP_Digest(g_bytes_get_data(self->attest_raw, NULL),
		       g_bytes_get_size(self->attest_raw),
		       digest,
		       &digest_len,
		       md,
		       NULL) != 1) {
		ERR_clear_error();
		return kl_quote_fail(findings,
				     KL_QUOTE_CHECK_SIGNATURE,
				     "cannot hash the attest structure");
	}
	if (!kl_quote_verify_signature(self, ak, md, digest, digest_len, &problem))
		return kl_quote_fail(findings, KL_QUOTE_CHECK_SIGNATURE, "%s", problem);

	/* 4.-6. what the TPM attested */
	if (self->attest.magic != TPM2_GENERATED_VALUE)
		return kl_quote_fail(findings,
				     KL_QUOTE_CHECK_MAGIC,
				     "magic 0x%08x is not TPM_GENERATED_VALUE",
				     self->attest.magic);
	if (self->attest.type != TPM2_ST_ATTEST_QUOTE)
		return kl_quote_fail(findings,
				     KL_QUOTE_CHECK_TYPE,
				     "type 0x%04x is not TPM_ST_ATTEST_QUOTE",
				     (guint)self->attest.type);
	if (!kl_quote_nonce_matches(&self->attest.extraData, nonce))
		return kl_quote_fail(findings,
				     KL_QUOTE_CHECK_NONCE,
				     "extraData (%u bytes) is not the nonce",
				     (guint)self->attest.extraData.size);

	/* 7. the pcrblob carries the PCRs the TPM quoted */
	if (!kl_quote_selection_equal(&info->pcrSelect, &self->pcrblob_selection)) {
		g_autofree gchar *quoted = kl_quote_selection_to_string(&info->pcrSelect);
		g_autofree gchar *sent = kl_quote_selection_to_string(&self->pcrblob_selection);
		return kl_quote_fail(findings,
				     KL_QUOTE_CHECK_PCR_SELECTION,
				     "quoted selection %s differs from the pcrblob's %s",
				     quoted,
				     sent);
	}

	/* 8. pcrDigest = H_sighash(values in selection order) */
	pcr_ctx = EVP_MD_CTX_new();
	if (pcr_ctx == NULL || EVP_DigestInit_ex(pcr_ctx, md, NULL) != 1) {
		ERR_clear_error();
		return kl_quote_fail(findings,
				     KL_QUOTE_CHECK_PCR_DIGEST,
				     "cannot hash the PCR values");
	}
	for (guint i = 0; i < self->banks->len; i++) {
		KlPcrBank *bank = g_ptr_array_index(self->banks, i);
		for (guint pcr = 0; pcr < KL_TPM_PCR_COUNT; pcr++) {
			GBytes *value = kl_pcr_bank_get(bank, pcr);
			if (value == NULL)
				continue;
			EVP_DigestUpdate(pcr_ctx,
					 g_bytes_get_data(value, NULL),
					 g_bytes_get_size(value));
		}
	}
	if (EVP_DigestFinal_ex(pcr_ctx, digest, &digest_len) != 1) {
		ERR_clear_error();
		return kl_quote_fail(findings,
				     KL_QUOTE_CHECK_PCR_DIGEST,
				     "cannot hash the PCR values");
	}
	if (info->pcrDigest.size != digest_len ||
	    memcmp(info->pcrDigest.buffer, digest, digest_len) != 0)
		return kl_quote_fail(findings,
				     KL_QUOTE_CHECK_PCR_DIGEST,
				     "pcrDigest does not match the %s of the pcrblob's values",
				     hash_alg);
	return TRUE;
}

void
kl_quote_clock_info_init(KlQuoteClockInfo *clock_info)
{
	clock_info->clock = 0;
	clock_info->reset_count = 0;
	clock_info->restart_count = 0;
	clock_info->safe = TRUE;
}

/* Spec §4.3 step 5.  A TPM Reset sets restartCount back to 0 (TPM 2.0
 * Part 1 §36), so a lower restartCount is only a rollback when resetCount
 * stayed the same. */
gboolean
kl_quote_check_clock(const KlQuoteClockInfo *previous,
		     const KlQuoteClockInfo *current,
		     GPtrArray *findings)
{
	gboolean reset_changed;
	gboolean restart_changed;

	g_return_val_if_fail(previous != NULL, FALSE);
	g_return_val_if_fail(current != NULL, FALSE);

	if (current->reset_count < previous->reset_count)
		return kl_quote_fail(findings,
				     KL_QUOTE_CHECK_CLOCK,
				     "resetCount decreased from %u to %u",
				     previous->reset_count,
				     current->reset_count);
	reset_changed = current->reset_count != previous->reset_count;
	restart_changed = current->restart_count != previous->restart_count;
	if (!reset_changed && current->restart_count < previous->restart_count)
		return kl_quote_fail(findings,
				     KL_QUOTE_CHECK_CLOCK,
				     "restartCount decreased from %u to %u",
				     previous->restart_count,
				     current->restart_count);
	if (!current->safe)
		return kl_quote_fail(findings,
				     KL_QUOTE_CHECK_CLOCK,
				     "clock is not safe: it may have been reported before");
	if (!(reset_changed && restart_changed) && current->clock <= previous->clock)
		return kl_quote_fail(findings,
				     KL_QUOTE_CHECK_CLOCK,
				     "clock went from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT,
				     previous->clock,
				     current->clock);
	return TRUE;
}

gboolean
kl_quote_check_pcr16(KlPcrBank *bank, const gchar *pubkey_pem, GPtrArray *findings)
{
	const gchar *alg = kl_pcr_bank_get_hash_alg_string(bank);
	gsize size = kl_pcr_bank_get_digest_size(bank);
	guint8 buf[2 * EVP_MAX_MD_SIZE] = {0};
	guint8 expected[EVP_MAX_MD_SIZE];
	gsize len = 0;
	GBytes *got;
	g_autofree gchar *got_hex = NULL;
	g_autofree gchar *expected_hex = NULL;
	KlFinding *finding;

	g_return_val_if_fail(bank != NULL, FALSE);
	g_return_val_if_fail(pubkey_pem != NULL, FALSE);

	got = kl_pcr_bank_get(bank, 16);
	if (got == NULL) {
		finding = kl_finding_new(KL_QUOTE_EVENT_MISSING_PCR16,
					 "PCR 16",
					 0,
					 "PCR 16 (the NK binding) is not in the quote");
		g_ptr_array_add(findings, finding);
		return FALSE;
	}
	/* the agent resets PCR 16 and extends it once with H(NK PEM) */
	if (!kl_crypto_digest(alg,
			      (const guint8 *)pubkey_pem,
			      strlen(pubkey_pem),
			      buf + size,
			      &len,
			      NULL) ||
	    !kl_crypto_digest(alg, buf, 2 * size, expected, &len, NULL)) {
		finding = kl_finding_new_printf(KL_QUOTE_EVENT_INVALID_PCR16,
						"PCR 16",
						0,
						"cannot compute %s digests",
						alg);
		g_ptr_array_add(findings, finding);
		return FALSE;
	}
	if (g_bytes_get_size(got) == len && memcmp(g_bytes_get_data(got, NULL), expected, len) == 0)
		return TRUE;
	got_hex = kl_pcr_bank_get_hex(bank, 16);
	expected_hex = kl_crypto_hex_encode(expected, len);
	finding = kl_finding_new_printf(KL_QUOTE_EVENT_INVALID_PCR16,
					"PCR 16",
					0,
					"PCR 16 (%s) does not bind the agent's NK public key",
					alg);
	kl_finding_set_context_got_expected(finding, got_hex, expected_hex);
	g_ptr_array_add(findings, finding);
	return FALSE;
}
