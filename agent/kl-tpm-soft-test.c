/*
 * KlTpmSoft: keys encoded as a TPM encodes them, ActivateCredential as the
 * inverse of kl_makecredential() for RSA and ECC EKs, PCRs with the TPM's
 * extend rule, and quotes that kl-quote verifies with PCR 16 bound to the
 * NK — through the same KlTpm code the ESYS implementation uses.
 */
#include "config.h"

#include <openssl/pem.h>
#include <string.h>

#include "kl-finding.h"
#include "kl-makecredential.h"
#include "kl-quote.h"
#include "kl-tpm-soft.h"

static KlTpm *
soft_new(TPM2_ALG_ID enc_alg, TPM2_ALG_ID sign_alg, TPM2_ALG_ID hash_alg)
{
	g_autoptr(GError) error = NULL;
	KlTpmOptions options;
	KlTpm *tpm;

	kl_tpm_options_init(&options);
	options.enc_alg = enc_alg;
	options.sign_alg = sign_alg;
	options.hash_alg = hash_alg;
	tpm = kl_tpm_soft_new(&options, &error);
	g_assert_no_error(error);
	g_assert_nonnull(tpm);
	return tpm;
}

static void
test_keys(void)
{
	const struct {
		TPM2_ALG_ID enc, sign;
		const gchar *enc_name, *sign_name;
		gint ak_type;
	} cases[] = {
		{TPM2_ALG_RSA, TPM2_ALG_RSASSA, "rsa", "rsassa", EVP_PKEY_RSA},
		{TPM2_ALG_ECC, TPM2_ALG_ECDSA, "ecc", "ecdsa", EVP_PKEY_EC},
		{TPM2_ALG_RSA, TPM2_ALG_RSAPSS, "rsa", "rsapss", EVP_PKEY_RSA},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(KlTpm) tpm = soft_new(cases[i].enc, cases[i].sign, TPM2_ALG_SHA256);
		KlTpmPublic *ek = kl_tpm_get_ek(tpm);
		KlTpmPublic *ak = kl_tpm_get_ak(tpm);
		TPM2B_PUBLIC tpl;
		const TPMT_PUBLIC *area = kl_tpm_public_get_area(ek);

		g_assert_cmpstr(kl_tpm_get_enc_alg(tpm), ==, cases[i].enc_name);
		g_assert_cmpstr(kl_tpm_get_sign_alg(tpm), ==, cases[i].sign_name);
		g_assert_cmpstr(kl_tpm_get_hash_alg(tpm), ==, "sha256");
		g_assert_null(kl_tpm_get_ek_certificate(tpm));
		/* the EK public is the private key's, with the default template */
		g_assert_cmpint(EVP_PKEY_eq(kl_tpm_public_get_key(ek),
					    kl_tpm_soft_get_ek_key(KL_TPM_SOFT(tpm))),
				==,
				1);
		g_assert_true(kl_tpm_ek_template(&tpl, cases[i].enc, NULL));
		g_assert_cmpuint(area->objectAttributes, ==, tpl.publicArea.objectAttributes);
		g_assert_cmpmem(area->authPolicy.buffer,
				area->authPolicy.size,
				tpl.publicArea.authPolicy.buffer,
				tpl.publicArea.authPolicy.size);
		g_assert_cmpint(EVP_PKEY_get_base_id(kl_tpm_public_get_key(ak)),
				==,
				cases[i].ak_type);
		g_assert_cmpuint(kl_tpm_public_get_object_attributes(ak) &
					 (TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT |
					  TPMA_OBJECT_FIXEDTPM),
				 ==,
				 TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT |
					 TPMA_OBJECT_FIXEDTPM);
		g_assert_cmpuint(g_bytes_get_size(kl_tpm_get_ak_name(tpm)), ==, 34);
	}
}

static void
test_options(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTpm) tpm = NULL;
	KlTpmOptions options;

	kl_tpm_options_init(&options);
	g_assert_cmpint(options.enc_alg, ==, TPM2_ALG_RSA);
	g_assert_cmpint(options.hash_alg, ==, TPM2_ALG_SHA256);
	g_assert_cmpint(options.sign_alg, ==, TPM2_ALG_RSASSA);
	g_assert_cmpuint(options.ek_handle, ==, 0);

	options.sign_alg = TPM2_ALG_ECSCHNORR;
	tpm = kl_tpm_soft_new(&options, &error);
	g_assert_error(error, KL_AGENT_TPM_ERROR, KL_AGENT_TPM_ERROR_NOT_SUPPORTED);
	g_assert_null(tpm);
	g_clear_error(&error);

	kl_tpm_options_init(&options);
	options.enc_alg = TPM2_ALG_SM2;
	tpm = kl_tpm_soft_new(&options, &error);
	g_assert_error(error, KL_AGENT_TPM_ERROR, KL_AGENT_TPM_ERROR_NOT_SUPPORTED);
	g_assert_null(tpm);
	g_clear_error(&error);

	kl_tpm_options_init(&options);
	options.hash_alg = TPM2_ALG_NULL;
	tpm = kl_tpm_soft_new(&options, &error);
	g_assert_error(error, KL_AGENT_TPM_ERROR, KL_AGENT_TPM_ERROR_NOT_SUPPORTED);
	g_assert_null(tpm);
}

static GBytes *
make_credential(KlTpm *tpm, GBytes *name, const guint8 *credential, gsize len)
{
	g_autoptr(GError) error = NULL;
	GBytes *blob = kl_makecredential(kl_tpm_get_ek(tpm), name, credential, len, &error);

	g_assert_no_error(error);
	g_assert_nonnull(blob);
	return blob;
}

static void
check_activate(TPM2_ALG_ID enc_alg)
{
	g_autoptr(KlTpm) tpm = soft_new(enc_alg, TPM2_ALG_RSASSA, TPM2_ALG_SHA256);
	g_autoptr(KlTpm) other = soft_new(enc_alg, TPM2_ALG_RSASSA, TPM2_ALG_SHA256);
	GBytes *name = kl_tpm_get_ak_name(tpm);
	gsize lengths[] = {1, KL_MAKECREDENTIAL_CHALLENGE_LEN, sizeof(TPMU_HA)};
	guint8 credential[sizeof(TPMU_HA)];

	for (guint i = 0; i < sizeof(credential); i++)
		credential[i] = (guint8)(i * 7 + 1);
	for (guint i = 0; i < G_N_ELEMENTS(lengths); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GBytes) blob = make_credential(tpm, name, credential, lengths[i]);
		g_autoptr(KlSecret) secret = kl_tpm_activate_credential(tpm, blob, &error);
		gsize size = 0;
		const guint8 *data;

		g_assert_no_error(error);
		g_assert_nonnull(secret);
		data = kl_secret_get_data(secret, &size);
		g_assert_cmpmem(data, size, credential, lengths[i]);
	}

	/* another AK's Name, another EK, and each part altered: refused */
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GBytes) blob =
			make_credential(tpm, kl_tpm_get_ak_name(other), credential, 32);
		g_autoptr(KlSecret) secret = kl_tpm_activate_credential(tpm, blob, &error);
		g_assert_error(error, KL_AGENT_TPM_ERROR, KL_AGENT_TPM_ERROR_FAILED);
		g_assert_null(secret);
	}
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GBytes) blob = make_credential(tpm, name, credential, 32);
		g_autoptr(KlSecret) secret = kl_tpm_activate_credential(other, blob, &error);
		g_assert_nonnull(error);
		g_assert_null(secret);
	}
	for (guint i = 0; i < 3; i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GBytes) blob = make_credential(tpm, name, credential, 32);
		gsize size = 0;
		const guint8 *data = g_bytes_get_data(blob, &size);
		/* the integrity HMAC, the encrypted identity, the secret's last byte */
		gsize at[] = {8 + 2 + 2 + 3, 8 + 2 + 2 + 32 + 1, size - 1};
		g_autofree guint8 *copy = g_memdup2(data, size);
		g_autoptr(GBytes) flipped = NULL;
		g_autoptr(KlSecret) secret = NULL;

		copy[at[i]] ^= 0x01;
		flipped = g_bytes_new(copy, size);
		secret = kl_tpm_activate_credential(tpm, flipped, &error);
		g_assert_nonnull(error);
		g_assert_null(secret);
	}
}

static void
test_activate_rsa(void)
{
	check_activate(TPM2_ALG_RSA);
}

static void
test_activate_ecc(void)
{
	check_activate(TPM2_ALG_ECC);
}

static void
test_pcrs(void)
{
	g_autoptr(KlTpm) tpm = soft_new(TPM2_ALG_RSA, TPM2_ALG_RSASSA, TPM2_ALG_SHA256);
	g_autoptr(GError) error = NULL;
	g_autoptr(KlPcrBank) bank = kl_tpm_read_pcrs(tpm, 0xffffff, TPM2_ALG_SHA256, &error);
	g_autofree gchar *pcr0 = NULL;
	g_autofree gchar *pcr17 = NULL;
	g_autoptr(KlPcrBank) empty = NULL;
	g_autoptr(KlPcrBank) sm3 = NULL;

	g_assert_no_error(error);
	g_assert_cmpuint(kl_pcr_bank_get_count(bank), ==, 24);
	pcr0 = kl_pcr_bank_get_hex(bank, 0);
	pcr17 = kl_pcr_bank_get_hex(bank, 17);
	g_assert_cmpstr(pcr0,
			==,
			"0000000000000000000000000000000000000000000000000000000000000000");
	g_assert_cmpstr(pcr17,
			==,
			"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
	empty = kl_tpm_read_pcrs(tpm, 0, TPM2_ALG_SHA1, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(kl_pcr_bank_get_count(empty), ==, 0);
	sm3 = kl_tpm_read_pcrs(tpm, 1, TPM2_ALG_SM3_256, &error);
	g_assert_error(error, KL_AGENT_TPM_ERROR, KL_AGENT_TPM_ERROR_NOT_SUPPORTED);
	g_assert_null(sm3);
}

static gchar *
nk_pem_new(void)
{
	g_autoptr(EVP_PKEY) key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long len;

	g_assert_nonnull(key);
	g_assert_cmpint(PEM_write_bio_PUBKEY(bio, key), ==, 1);
	len = BIO_get_mem_data(bio, &data);
	return g_strndup(data, (gsize)len);
}

static void
check_quotes(TPM2_ALG_ID enc_alg,
	     TPM2_ALG_ID sign_alg,
	     TPM2_ALG_ID hash_alg,
	     KlQuoteVerifyFlags flags)
{
	g_autoptr(KlTpm) tpm = soft_new(enc_alg, sign_alg, hash_alg);
	g_autoptr(KlQuoteKey) key = kl_quote_key_new(kl_tpm_public_get_key(kl_tpm_get_ak(tpm)));
	g_autofree gchar *pem = nk_pem_new();
	g_autofree gchar *other_pem = nk_pem_new();
	const gchar *hash = kl_tpm_hash_alg_to_string(hash_alg);
	KlQuoteClockInfo previous;

	kl_quote_clock_info_init(&previous);
	for (guint i = 0; i < 4; i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *nonce = g_strdup_printf("nonce-%u", i);
		/* the last one is the identity quote: PCR 16 alone */
		guint32 mask = i < 3 ? 0x408400u : 0;
		g_autofree gchar *text =
			i < 3 ? kl_tpm_quote(tpm, nonce, mask, hash_alg, pem, &error)
			      : kl_tpm_identity_quote(tpm, nonce, pem, &error);
		g_autoptr(KlQuote) quote = NULL;
		g_autoptr(GPtrArray) findings =
			g_ptr_array_new_with_free_func((GDestroyNotify)kl_finding_free);
		KlQuoteClockInfo clock;
		KlPcrBank *bank;

		g_assert_no_error(error);
		g_assert_nonnull(text);
		quote = kl_quote_new_from_string(text, &error);
		g_assert_no_error(error);
		g_assert_true(kl_quote_verify(quote, key, nonce, hash, flags, findings));
		g_assert_cmpuint(findings->len, ==, 0);
		/* a quote for another nonce fails */
		g_assert_false(kl_quote_verify(quote, key, "other", hash, flags, findings));
		g_ptr_array_set_size(findings, 0);
		bank = kl_quote_get_pcr_bank(quote, hash);
		g_assert_nonnull(bank);
		g_assert_cmpuint(kl_pcr_bank_get_mask(bank), ==, mask | (1u << 16));
		g_assert_true(kl_quote_check_pcr16(bank, pem, findings));
		g_assert_false(kl_quote_check_pcr16(bank, other_pem, findings));
		kl_quote_get_clock_info(quote, &clock);
		g_assert_true(kl_quote_check_clock(&previous, &clock, findings));
		previous = clock;
	}
}

static void
test_quote_rsassa(void)
{
	check_quotes(TPM2_ALG_RSA, TPM2_ALG_RSASSA, TPM2_ALG_SHA256, KL_QUOTE_VERIFY_FLAG_NONE);
	check_quotes(TPM2_ALG_RSA, TPM2_ALG_RSASSA, TPM2_ALG_SHA384, KL_QUOTE_VERIFY_FLAG_NONE);
	check_quotes(TPM2_ALG_RSA, TPM2_ALG_RSASSA, TPM2_ALG_SHA1, KL_QUOTE_VERIFY_FLAG_NONE);
}

static void
test_quote_rsapss(void)
{
	check_quotes(TPM2_ALG_RSA,
		     TPM2_ALG_RSAPSS,
		     TPM2_ALG_SHA256,
		     KL_QUOTE_VERIFY_FLAG_ALLOW_RSAPSS);
}

static void
test_quote_ecdsa(void)
{
	check_quotes(TPM2_ALG_ECC, TPM2_ALG_ECDSA, TPM2_ALG_SHA256, KL_QUOTE_VERIFY_FLAG_NONE);
	check_quotes(TPM2_ALG_RSA, TPM2_ALG_ECDSA, TPM2_ALG_SHA512, KL_QUOTE_VERIFY_FLAG_NONE);
}

static void
test_quote_errors(void)
{
	g_autoptr(KlTpm) tpm = soft_new(TPM2_ALG_RSA, TPM2_ALG_RSASSA, TPM2_ALG_SHA256);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *long_nonce = g_strnfill(KL_TPM_NONCE_MAX + 1, 'n');
	g_autofree gchar *pem = nk_pem_new();
	gchar *quote;

	quote = kl_tpm_quote(tpm, long_nonce, 0, TPM2_ALG_SHA256, pem, &error);
	g_assert_error(error, KL_AGENT_TPM_ERROR, KL_AGENT_TPM_ERROR_INVALID_ARGUMENT);
	g_assert_null(quote);
	g_clear_error(&error);
	quote = kl_tpm_quote(tpm, "n", 1u << 24, TPM2_ALG_SHA256, pem, &error);
	g_assert_error(error, KL_AGENT_TPM_ERROR, KL_AGENT_TPM_ERROR_INVALID_ARGUMENT);
	g_assert_null(quote);
	g_clear_error(&error);
	quote = kl_tpm_quote(tpm, "n", 0, TPM2_ALG_NULL, pem, &error);
	g_assert_error(error, KL_AGENT_TPM_ERROR, KL_AGENT_TPM_ERROR_NOT_SUPPORTED);
	g_assert_null(quote);
}

/* A TPM whose PCR 16 is reset once between the NK binding and the first
 * quote, as a power cycle or another client of a shared TPM would do. */
#define KL_TYPE_TEST_LOSSY_TPM (kl_test_lossy_tpm_get_type())
G_DECLARE_FINAL_TYPE(KlTestLossyTpm, kl_test_lossy_tpm, KL, TEST_LOSSY_TPM, KlTpm)

struct _KlTestLossyTpm {
	KlTpm parent_instance;
	KlTpm *inner;
	guint quotes;
	guint resets_left;
};

G_DEFINE_TYPE(KlTestLossyTpm, kl_test_lossy_tpm, KL_TYPE_TPM)

static KlSecret *
lossy_activate_credential(KlTpm *tpm,
			  const TPM2B_ID_OBJECT *id_object,
			  const TPM2B_ENCRYPTED_SECRET *secret,
			  GError **error)
{
	KlTpm *inner = KL_TEST_LOSSY_TPM(tpm)->inner;
	return KL_TPM_GET_CLASS(inner)->activate_credential(inner, id_object, secret, error);
}

static gboolean
lossy_pcr_reset(KlTpm *tpm, guint pcr, GError **error)
{
	KlTpm *inner = KL_TEST_LOSSY_TPM(tpm)->inner;
	return KL_TPM_GET_CLASS(inner)->pcr_reset(inner, pcr, error);
}

static gboolean
lossy_pcr_extend(KlTpm *tpm, guint pcr, TPM2_ALG_ID bank, GBytes *digest, GError **error)
{
	KlTpm *inner = KL_TEST_LOSSY_TPM(tpm)->inner;
	return KL_TPM_GET_CLASS(inner)->pcr_extend(inner, pcr, bank, digest, error);
}

static KlPcrBank *
lossy_read_pcrs(KlTpm *tpm, guint32 mask, TPM2_ALG_ID bank, GError **error)
{
	KlTpm *inner = KL_TEST_LOSSY_TPM(tpm)->inner;
	return KL_TPM_GET_CLASS(inner)->read_pcrs(inner, mask, bank, error);
}

static gboolean
lossy_quote(KlTpm *tpm,
	    const guint8 *nonce,
	    gsize nonce_len,
	    guint32 mask,
	    TPM2_ALG_ID bank,
	    GBytes **attest,
	    GBytes **signature,
	    GError **error)
{
	KlTestLossyTpm *self = KL_TEST_LOSSY_TPM(tpm);

	self->quotes++;
	if (self->resets_left > 0) {
		self->resets_left--;
		if (!KL_TPM_GET_CLASS(self->inner)->pcr_reset(self->inner, 16, error))
			return FALSE;
	}
	return KL_TPM_GET_CLASS(self->inner)
		->quote(self->inner, nonce, nonce_len, mask, bank, attest, signature, error);
}

static void
kl_test_lossy_tpm_finalize(GObject *object)
{
	g_clear_object(&KL_TEST_LOSSY_TPM(object)->inner);
	G_OBJECT_CLASS(kl_test_lossy_tpm_parent_class)->finalize(object);
}

static void
kl_test_lossy_tpm_class_init(KlTestLossyTpmClass *klass)
{
	KlTpmClass *tpm_class = KL_TPM_CLASS(klass);

	G_OBJECT_CLASS(klass)->finalize = kl_test_lossy_tpm_finalize;
	tpm_class->activate_credential = lossy_activate_credential;
	tpm_class->pcr_reset = lossy_pcr_reset;
	tpm_class->pcr_extend = lossy_pcr_extend;
	tpm_class->read_pcrs = lossy_read_pcrs;
	tpm_class->quote = lossy_quote;
}

static void
kl_test_lossy_tpm_init(KlTestLossyTpm *self)
{
}

static void
test_quote_rebinds_pcr16(void)
{
	g_autoptr(KlTestLossyTpm) tpm = g_object_new(KL_TYPE_TEST_LOSSY_TPM, NULL);
	g_autoptr(KlQuoteKey) key = NULL;
	g_autoptr(KlQuote) quote = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) findings =
		g_ptr_array_new_with_free_func((GDestroyNotify)kl_finding_free);
	g_autofree gchar *pem = nk_pem_new();
	g_autofree gchar *text = NULL;

	tpm->inner = soft_new(TPM2_ALG_RSA, TPM2_ALG_RSASSA, TPM2_ALG_SHA256);
	tpm->resets_left = 1;
	g_assert_true(kl_tpm_set_keys(KL_TPM(tpm),
				      kl_tpm_get_ek_public(tpm->inner),
				      kl_tpm_get_ek_certificate(tpm->inner),
				      kl_tpm_get_ak_public(tpm->inner),
				      &error));
	g_assert_no_error(error);
	key = kl_quote_key_new(kl_tpm_public_get_key(kl_tpm_get_ak(KL_TPM(tpm))));

	text = kl_tpm_quote(KL_TPM(tpm), "nonce", 0x400, TPM2_ALG_SHA256, pem, &error);
	g_assert_no_error(error);
	/* the first quote showed PCR 16 without the binding: bound again */
	g_assert_cmpuint(tpm->quotes, ==, 2);
	quote = kl_quote_new_from_string(text, &error);
	g_assert_no_error(error);
	g_assert_true(kl_quote_verify(quote,
				      key,
				      "nonce",
				      "sha256",
				      KL_QUOTE_VERIFY_FLAG_NONE,
				      findings));
	g_assert_true(kl_quote_check_pcr16(kl_quote_get_pcr_bank(quote, "sha256"), pem, findings));
	g_assert_cmpuint(findings->len, ==, 0);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/tpm-soft/keys", test_keys);
	g_test_add_func("/tpm-soft/options", test_options);
	g_test_add_func("/tpm-soft/activate/rsa", test_activate_rsa);
	g_test_add_func("/tpm-soft/activate/ecc", test_activate_ecc);
	g_test_add_func("/tpm-soft/pcrs", test_pcrs);
	g_test_add_func("/tpm-soft/quote/rsassa", test_quote_rsassa);
	g_test_add_func("/tpm-soft/quote/rsapss", test_quote_rsapss);
	g_test_add_func("/tpm-soft/quote/ecdsa", test_quote_ecdsa);
	g_test_add_func("/tpm-soft/quote/errors", test_quote_errors);
	g_test_add_func("/tpm-soft/quote/rebinds-pcr16", test_quote_rebinds_pcr16);
	return g_test_run();
}
