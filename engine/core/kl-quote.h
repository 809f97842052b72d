/*
 * kl-quote: a TPM quote as Keylime sends it — "r<b64 TPMS_ATTEST>:<b64
 * TPMT_SIGNATURE>:<b64 pcrblob>" — and its verification in upstream's
 * order (spec §4.3): signature scheme for the AK's type, signature hash,
 * signature, magic, type, nonce, PCR selection, PCR digest.  Also the
 * clock check between two quotes (§4.3 step 5) and the PCR 16 binding of
 * the agent's NK (§4.5).
 *
 * Failures are KlFindings with upstream's event ids; a quote-level failure
 * is "qoute_validation.quote_validation" (upstream's spelling),
 * irrecoverable, with the failed check as its subject.  The AK is an
 * EVP_PKEY the caller parsed once (kl_tpm_public_new_from_data()).
 */
#pragma once

#include <glib.h>

#include "kl-crypto.h"
#include "kl-tpm-types.h"

G_BEGIN_DECLS

#define KL_QUOTE_EVENT_ID	     "qoute_validation.quote_validation"
#define KL_QUOTE_EVENT_INVALID_PCR16 "pcr_validation.invalid_pcr_16"
#define KL_QUOTE_EVENT_MISSING_PCR16 "pcr_validation.missing_pcr_16"

/* the subject of a quote finding: which check failed */
#define KL_QUOTE_CHECK_SIGNATURE_SCHEME "signature scheme"
#define KL_QUOTE_CHECK_HASH_ALG		"signature hash algorithm"
#define KL_QUOTE_CHECK_SIGNATURE	"signature"
#define KL_QUOTE_CHECK_MAGIC		"magic"
#define KL_QUOTE_CHECK_TYPE		"type"
#define KL_QUOTE_CHECK_NONCE		"nonce"
#define KL_QUOTE_CHECK_PCR_SELECTION	"PCR selection"
#define KL_QUOTE_CHECK_PCR_DIGEST	"PCR digest"
#define KL_QUOTE_CHECK_CLOCK		"clock"

/* Quote strings above this are refused before decoding. */
#define KL_QUOTE_MAX_LENGTH (128 * 1024)

typedef enum {
	KL_QUOTE_VERIFY_FLAG_NONE = 0,
	/* upstream's pull path rejects RSAPSS quotes; accept them */
	KL_QUOTE_VERIFY_FLAG_ALLOW_RSAPSS = 1 << 0,
} KlQuoteVerifyFlags;

typedef struct {
	guint64 clock;
	guint32 reset_count;
	guint32 restart_count;
	gboolean safe;
} KlQuoteClockInfo;

typedef struct _KlQuote KlQuote;

/* An AK prepared once for verifying its quotes (keep one per agent). */
typedef struct _KlQuoteKey KlQuoteKey;

KlQuoteKey *kl_quote_key_new(EVP_PKEY *ak); /* takes its own reference */
KlQuoteKey *kl_quote_key_ref(KlQuoteKey *self);
void kl_quote_key_unref(KlQuoteKey *self);
EVP_PKEY *kl_quote_key_get_pkey(KlQuoteKey *self);

KlQuote *kl_quote_new_from_string(const gchar *quote, GError **error);
gchar *kl_quote_encode(GBytes *attest, GBytes *signature, GBytes *pcrblob);
void kl_quote_free(KlQuote *self);

gboolean kl_quote_verify(KlQuote *self,
			 KlQuoteKey *ak,
			 const gchar *nonce,
			 const gchar *hash_alg,
			 KlQuoteVerifyFlags flags,
			 GPtrArray *findings);

const TPMS_ATTEST *kl_quote_get_attest(KlQuote *self);
const TPMT_SIGNATURE *kl_quote_get_signature(KlQuote *self);
void kl_quote_get_clock_info(KlQuote *self, KlQuoteClockInfo *clock_info);
GPtrArray *kl_quote_get_pcr_banks(KlQuote *self); /* of KlPcrBank, borrowed, selection order */
KlPcrBank *kl_quote_get_pcr_bank(KlQuote *self, const gchar *hash_alg); /* borrowed or NULL */

/* {clock 0, resetCount 0, restartCount 0, safe 1}: before the first quote */
void kl_quote_clock_info_init(KlQuoteClockInfo *clock_info);
gboolean kl_quote_check_clock(const KlQuoteClockInfo *previous,
			      const KlQuoteClockInfo *current,
			      GPtrArray *findings);

/* PCR 16 must be H(0^n || H(pubkey_pem)) in @bank's algorithm. */
gboolean kl_quote_check_pcr16(KlPcrBank *bank, const gchar *pubkey_pem, GPtrArray *findings);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlQuote, kl_quote_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlQuoteKey, kl_quote_key_unref)

G_END_DECLS
