/*
 * The agent's TPM layer (KlTpmEsys) against a fixture swtpm: the default
 * EKs made from their templates and the persistent ones, their
 * certificates, the AK kept in agent_data.json and made again when the
 * algorithms change, ActivateCredential of the registrar's blob, and
 * quotes that kl-quote verifies with PCR 16 bound to the NK.  After every
 * call the TPM holds no transient object and no session.  Then recovery:
 * a stopped TPM fails calls with an error, a power-cycled one (swtpm_ioctl
 * -i) or a restarted swtpm serves the next call again, also through the
 * agent's REST service.
 */
#include "config.h"

#include <openssl/pem.h>
#include <string.h>
#include <tss2/tss2_rc.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "kl-agent-service.h"
#include "kl-finding.h"
#include "kl-http-server.h"
#include "kl-json.h"
#include "kl-makecredential.h"
#include "kl-quote.h"
#include "kl-test-dir.h"
#include "kl-test-swtpm.h"
#include "kl-test-wait.h"
#include "kl-tpm-esys.h"

#define TEST_NONCE "1234567890abcdefghij"
#define TEST_MASK  0x408400u /* PCRs 10, 15, 22 */
#define TEST_MANY  0x4183ffu /* 0..9, 15, 16, 22: more than one PCR_Read */

#define TEST_HTTP_TIMEOUT_MS 30000

static gboolean
skip_without_swtpm(void)
{
	if (kl_test_swtpm_available())
		return FALSE;
	g_test_skip("swtpm not installed");
	return TRUE;
}

static KlTestSwtpm *
swtpm_new(void)
{
	g_autoptr(GError) error = NULL;
	KlTestSwtpm *swtpm = kl_test_swtpm_new(&error);

	g_assert_no_error(error);
	g_assert_nonnull(swtpm);
	return swtpm;
}

static void
options_init(KlTpmOptions *options, KlTestSwtpm *swtpm)
{
	kl_tpm_options_init(options);
	options->tcti = kl_test_swtpm_get_tcti(swtpm);
}

static KlTpm *
tpm_new(const KlTpmOptions *options)
{
	g_autoptr(GError) error = NULL;
	KlTpm *tpm = kl_tpm_esys_new(options, &error);

	g_assert_no_error(error);
	g_assert_nonnull(tpm);
	return tpm;
}

/* How many handles of @type (TPM2_HT_*) the TPM has loaded. */
static guint
count_handles(KlTpm *tpm, TPM2_HANDLE first)
{
	ESYS_CONTEXT *esys = kl_tpm_esys_get_context(KL_TPM_ESYS(tpm));
	TPMS_CAPABILITY_DATA *data = NULL;
	guint count = 0;

	g_assert_cmpuint(Esys_GetCapability(esys,
					    ESYS_TR_NONE,
					    ESYS_TR_NONE,
					    ESYS_TR_NONE,
					    TPM2_CAP_HANDLES,
					    first,
					    TPM2_MAX_CAP_HANDLES,
					    NULL,
					    &data),
			 ==,
			 TSS2_RC_SUCCESS);
	for (guint i = 0; i < data->data.handles.count; i++) {
		if (data->data.handles.handle[i] >> 24 == first >> 24)
			count++;
	}
	Esys_Free(data);
	return count;
}

/* tss2's TPM2_TRANSIENT_FIRST shifts an int into the sign bit (UBSan) */
#define TEST_TRANSIENT_FIRST	  0x80000000u
#define TEST_LOADED_SESSION_FIRST 0x02000000u

static void
assert_nothing_loaded(KlTpm *tpm)
{
	g_assert_cmpuint(count_handles(tpm, TEST_TRANSIENT_FIRST), ==, 0);
	g_assert_cmpuint(count_handles(tpm, TEST_LOADED_SESSION_FIRST), ==, 0);
}

static const TPMT_PUBLIC *
ek_area(KlTpm *tpm)
{
	return kl_tpm_public_get_area(kl_tpm_get_ek(tpm));
}

/* The certificate parses and certifies the EK's own key. */
static void
assert_ek_cert_matches(KlTpm *tpm)
{
	GBytes *cert = kl_tpm_get_ek_certificate(tpm);
	const guint8 *p;
	g_autoptr(X509) x509 = NULL;

	g_assert_nonnull(cert);
	p = g_bytes_get_data(cert, NULL);
	x509 = d2i_X509(NULL, &p, (long)g_bytes_get_size(cert));
	g_assert_nonnull(x509);
	g_assert_true(p == (const guint8 *)g_bytes_get_data(cert, NULL) + g_bytes_get_size(cert));
	g_assert_cmpint(
		EVP_PKEY_eq(X509_get0_pubkey(x509), kl_tpm_public_get_key(kl_tpm_get_ek(tpm))),
		==,
		1);
}

static void
test_ek_rsa(void)
{
	g_autoptr(KlTestSwtpm) swtpm = NULL;
	g_autoptr(KlTpm) generated = NULL;
	g_autoptr(KlTpm) persistent = NULL;
	KlTpmOptions options;

	if (skip_without_swtpm())
		return;
	swtpm = swtpm_new();
	options_init(&options, swtpm);
	generated = tpm_new(&options);
	g_assert_cmpint(ek_area(generated)->type, ==, TPM2_ALG_RSA);
	g_assert_cmpuint(ek_area(generated)->parameters.rsaDetail.keyBits, ==, 2048);
	g_assert_cmpstr(kl_tpm_get_enc_alg(generated), ==, "rsa");
	assert_ek_cert_matches(generated);
	assert_nothing_loaded(generated);

	/* swtpm_setup persisted the same default EK */
	options.ek_handle = KL_TEST_SWTPM_EK_HANDLE_RSA;
	persistent = tpm_new(&options);
	g_assert_true(
		g_bytes_equal(kl_tpm_get_ek_public(generated), kl_tpm_get_ek_public(persistent)));
	g_assert_true(g_bytes_equal(kl_tpm_get_ek_certificate(generated),
				    kl_tpm_get_ek_certificate(persistent)));
	assert_nothing_loaded(persistent);
}

static void
test_ek_ecc(void)
{
	g_autoptr(KlTestSwtpm) swtpm = NULL;
	g_autoptr(KlTpm) generated = NULL;
	g_autoptr(KlTpm) persistent = NULL;
	KlTpmOptions options;

	if (skip_without_swtpm())
		return;
	swtpm = swtpm_new();
	options_init(&options, swtpm);
	options.enc_alg = TPM2_ALG_ECC;
	generated = tpm_new(&options);
	g_assert_cmpint(ek_area(generated)->type, ==, TPM2_ALG_ECC);
	g_assert_cmpint(ek_area(generated)->parameters.eccDetail.curveID, ==, TPM2_ECC_NIST_P256);
	g_assert_cmpstr(kl_tpm_get_enc_alg(generated), ==, "ecc");
	/* swtpm_setup makes no P-256 EK certificate */
	g_assert_null(kl_tpm_get_ek_certificate(generated));
	assert_nothing_loaded(generated);

	/* its P-384 EK, whose certificate is at the high-range index */
	options.ek_handle = KL_TEST_SWTPM_EK_HANDLE_ECC;
	persistent = tpm_new(&options);
	g_assert_cmpint(ek_area(persistent)->parameters.eccDetail.curveID, ==, TPM2_ECC_NIST_P384);
	assert_ek_cert_matches(persistent);
	assert_nothing_loaded(persistent);
}

static void
test_ek_errors(void)
{
	g_autoptr(KlTestSwtpm) swtpm = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTpm) tpm = NULL;
	KlTpmOptions options;

	if (skip_without_swtpm())
		return;
	swtpm = swtpm_new();
	options_init(&options, swtpm);
	options.ek_handle = 0x81010099;
	tpm = kl_tpm_esys_new(&options, &error);
	g_assert_error(error, KL_AGENT_TPM_ERROR, KL_AGENT_TPM_ERROR_FAILED);
	g_assert_null(tpm);
	g_assert_nonnull(strstr(error->message, "0x81010099"));
	g_clear_error(&error);

	options_init(&options, swtpm);
	options.enc_alg = TPM2_ALG_SM2;
	tpm = kl_tpm_esys_new(&options, &error);
	g_assert_error(error, KL_AGENT_TPM_ERROR, KL_AGENT_TPM_ERROR_NOT_SUPPORTED);
	g_assert_null(tpm);
	g_clear_error(&error);

	options_init(&options, swtpm);
	options.sign_alg = TPM2_ALG_SM2;
	tpm = kl_tpm_esys_new(&options, &error);
	g_assert_error(error, KL_AGENT_TPM_ERROR, KL_AGENT_TPM_ERROR_NOT_SUPPORTED);
	g_assert_null(tpm);
	g_clear_error(&error);

	/* nothing listening: the TCTI connects at once */
	options_init(&options, swtpm);
	options.tcti = "swtpm:host=127.0.0.1,port=1";
	tpm = kl_tpm_esys_new(&options, &error);
	g_assert_error(error, KL_AGENT_TPM_ERROR, KL_AGENT_TPM_ERROR_CONNECTION);
	g_assert_nonnull(strstr(error->message, "Tss2_TctiLdr_Initialize"));
	g_assert_null(tpm);
}

static JsonObject *
store_read(const gchar *path)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *data = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();

	g_assert_true(g_file_get_contents(path, &data, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(json_parser_load_from_data(parser, data, -1, &error));
	g_assert_no_error(error);
	return json_object_ref(json_node_get_object(json_parser_get_root(parser)));
}

static void
test_ak_store(void)
{
	g_autoptr(KlTestSwtpm) swtpm = NULL;
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_test_dir_build(dir, "agent_data.json", NULL);
	g_autoptr(KlTpm) first = NULL;
	g_autoptr(KlTpm) second = NULL;
	g_autoptr(KlTpm) pss = NULL;
	g_autoptr(KlTpm) ecc_ek = NULL;
	g_autoptr(JsonObject) stored = NULL;
	g_autofree guchar *ak_public = NULL;
	gsize ak_public_len = 0;
	GStatBuf st;
	KlTpmOptions options;

	if (skip_without_swtpm())
		return;
	swtpm = swtpm_new();
	options_init(&options, swtpm);
	options.agent_data_path = path;
	first = tpm_new(&options);
	g_assert_cmpstr(kl_tpm_get_hash_alg(first), ==, "sha256");
	g_assert_cmpstr(kl_tpm_get_sign_alg(first), ==, "rsassa");
	g_assert_cmpint(g_stat(path, &st), ==, 0);
	g_assert_cmpuint(st.st_mode & 0777, ==, 0600);
	stored = store_read(path);
	g_assert_cmpstr(json_object_get_string_member(stored, "ak_hash_alg"), ==, "sha256");
	g_assert_cmpstr(json_object_get_string_member(stored, "ak_sign_alg"), ==, "rsassa");
	g_assert_nonnull(json_object_get_string_member(stored, "ak_private"));
	g_assert_nonnull(json_object_get_string_member(stored, "ek_hash"));
	ak_public =
		g_base64_decode(json_object_get_string_member(stored, "ak_public"), &ak_public_len);
	g_assert_cmpmem(ak_public,
			ak_public_len,
			g_bytes_get_data(kl_tpm_get_ak_public(first), NULL),
			g_bytes_get_size(kl_tpm_get_ak_public(first)));

	/* a restart: the same AK, reloaded */
	second = tpm_new(&options);
	g_assert_true(g_bytes_equal(kl_tpm_get_ak_public(first), kl_tpm_get_ak_public(second)));
	g_assert_true(g_bytes_equal(kl_tpm_get_ak_name(first), kl_tpm_get_ak_name(second)));
	assert_nothing_loaded(second);

	/* another scheme: a new AK, stored instead */
	options.sign_alg = TPM2_ALG_RSAPSS;
	pss = tpm_new(&options);
	g_assert_false(g_bytes_equal(kl_tpm_get_ak_name(first), kl_tpm_get_ak_name(pss)));
	g_assert_cmpstr(kl_tpm_get_sign_alg(pss), ==, "rsapss");
	g_clear_pointer(&stored, json_object_unref);
	stored = store_read(path);
	g_assert_cmpstr(json_object_get_string_member(stored, "ak_sign_alg"), ==, "rsapss");

	/* another EK: a new AK too */
	options.enc_alg = TPM2_ALG_ECC;
	ecc_ek = tpm_new(&options);
	g_assert_false(g_bytes_equal(kl_tpm_get_ak_name(pss), kl_tpm_get_ak_name(ecc_ek)));
	assert_nothing_loaded(ecc_ek);
}

/* The AK in @path's store is @tpm's. */
static void
assert_stored(KlTpm *tpm, const gchar *path)
{
	g_autoptr(JsonObject) stored = store_read(path);
	g_autofree guchar *ak_public = NULL;
	gsize len = 0;

	ak_public = g_base64_decode(json_object_get_string_member(stored, "ak_public"), &len);
	g_assert_cmpmem(ak_public,
			len,
			g_bytes_get_data(kl_tpm_get_ak_public(tpm), NULL),
			g_bytes_get_size(kl_tpm_get_ak_public(tpm)));
}

/* As the Rust agent: a store it cannot use is replaced by a new AK. */
static void
test_ak_store_corrupt(void)
{
	g_autoptr(KlTestSwtpm) swtpm = NULL;
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = NULL;
	g_autoptr(KlTpm) tpm = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) ek_hash = NULL;
	g_autofree gchar *ek_hash_b64 = NULL;
	g_autofree gchar *json = NULL;
	KlTpmOptions options;

	if (skip_without_swtpm())
		return;
	swtpm = swtpm_new();
	path = kl_test_dir_write(dir, "agent_data.json", "{\"ak_hash_alg\": ", -1);
	options_init(&options, swtpm);
	options.agent_data_path = path;
	tpm = tpm_new(&options);
	assert_stored(tpm, path);

	/* matching EK and algorithms, but blobs that are not TPM structures */
	ek_hash = kl_crypto_digest_bytes("sha256",
					 g_bytes_get_data(kl_tpm_get_ek_public(tpm), NULL),
					 g_bytes_get_size(kl_tpm_get_ek_public(tpm)),
					 &error);
	g_assert_no_error(error);
	g_clear_object(&tpm);
	ek_hash_b64 = g_base64_encode(g_bytes_get_data(ek_hash, NULL), g_bytes_get_size(ek_hash));
	json = g_strdup_printf("{\"ak_hash_alg\": \"sha256\", \"ak_sign_alg\": \"rsassa\","
			       " \"ak_public\": \"AAEC\", \"ak_private\": \"AAA=\","
			       " \"ek_hash\": \"%s\"}",
			       ek_hash_b64);
	g_assert_true(g_file_set_contents(path, json, -1, &error));
	g_assert_no_error(error);
	tpm = tpm_new(&options);
	assert_stored(tpm, path);
	g_clear_object(&tpm);

	/* a store we may not read is not replaced */
	if (getuid() != 0) {
		g_assert_cmpint(g_chmod(path, 0), ==, 0);
		tpm = kl_tpm_esys_new(&options, &error);
		g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_ACCES);
		g_assert_null(tpm);
	}
}

static void
assert_activates(KlTpm *tpm)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *challenge = kl_makecredential_challenge_new(&error);
	g_autoptr(GBytes) blob = NULL;
	g_autoptr(GBytes) other_blob = NULL;
	g_autoptr(KlSecret) secret = NULL;
	g_autoptr(GBytes) other_name = NULL;
	guint8 *name_data;
	gsize size;

	g_assert_no_error(error);
	blob = kl_makecredential(kl_tpm_get_ek(tpm),
				 kl_tpm_get_ak_name(tpm),
				 (const guint8 *)challenge,
				 strlen(challenge),
				 &error);
	g_assert_no_error(error);
	secret = kl_tpm_activate_credential(tpm, blob, &error);
	g_assert_no_error(error);
	g_assert_nonnull(secret);
	g_assert_cmpmem(kl_secret_get_data(secret, &size), size, challenge, strlen(challenge));
	assert_nothing_loaded(tpm);

	/* bound to another Name: the TPM refuses, and still nothing is left */
	name_data = g_memdup2(g_bytes_get_data(kl_tpm_get_ak_name(tpm), NULL),
			      g_bytes_get_size(kl_tpm_get_ak_name(tpm)));
	name_data[5] ^= 0x01;
	other_name = g_bytes_new_take(name_data, g_bytes_get_size(kl_tpm_get_ak_name(tpm)));
	other_blob = kl_makecredential(kl_tpm_get_ek(tpm),
				       other_name,
				       (const guint8 *)challenge,
				       strlen(challenge),
				       &error);
	g_assert_no_error(error);
	g_clear_pointer(&secret, kl_secret_unref);
	secret = kl_tpm_activate_credential(tpm, other_blob, &error);
	g_assert_error(error, KL_AGENT_TPM_ERROR, KL_AGENT_TPM_ERROR_FAILED);
	g_assert_nonnull(strstr(error->message, "TPM2_ActivateCredential"));
	g_assert_null(secret);
	assert_nothing_loaded(tpm);
}

static void
test_activate_rsa(void)
{
	g_autoptr(KlTestSwtpm) swtpm = NULL;
	g_autoptr(KlTpm) generated = NULL;
	g_autoptr(KlTpm) persistent = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(KlSecret) secret = NULL;
	g_autoptr(GBytes) garbage = g_bytes_new_static("\xba\xdc\xc0\xde", 4);
	KlTpmOptions options;

	if (skip_without_swtpm())
		return;
	swtpm = swtpm_new();
	options_init(&options, swtpm);
	generated = tpm_new(&options);
	assert_activates(generated);
	options.ek_handle = KL_TEST_SWTPM_EK_HANDLE_RSA;
	options.sign_alg = TPM2_ALG_ECDSA;
	persistent = tpm_new(&options);
	assert_activates(persistent);

	secret = kl_tpm_activate_credential(persistent, garbage, &error);
	g_assert_error(error, KL_MAKECREDENTIAL_ERROR, KL_MAKECREDENTIAL_ERROR_INVALID_DATA);
	g_assert_null(secret);
}

static void
test_activate_ecc(void)
{
	g_autoptr(KlTestSwtpm) swtpm = NULL;
	g_autoptr(KlTpm) generated = NULL;
	g_autoptr(KlTpm) persistent = NULL;
	KlTpmOptions options;

	if (skip_without_swtpm())
		return;
	swtpm = swtpm_new();
	options_init(&options, swtpm);
	options.enc_alg = TPM2_ALG_ECC;
	options.sign_alg = TPM2_ALG_ECDSA;
	generated = tpm_new(&options);
	assert_activates(generated);
	options.ek_handle = KL_TEST_SWTPM_EK_HANDLE_ECC;
	persistent = tpm_new(&options);
	assert_activates(persistent);
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

/* H(0^n || H(pem)), computed here rather than by kl-quote */
static gchar *
expected_pcr16(const gchar *alg, const gchar *pem)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) inner =
		kl_crypto_digest_bytes(alg, (const guint8 *)pem, strlen(pem), &error);
	g_autoptr(GByteArray) buf = g_byte_array_new();
	g_autoptr(GBytes) outer = NULL;

	g_assert_no_error(error);
	g_byte_array_set_size(buf, (guint)g_bytes_get_size(inner));
	memset(buf->data, 0, buf->len);
	g_byte_array_append(buf, g_bytes_get_data(inner, NULL), (guint)g_bytes_get_size(inner));
	outer = kl_crypto_digest_bytes(alg, buf->data, buf->len, &error);
	g_assert_no_error(error);
	return kl_crypto_hex_encode(g_bytes_get_data(outer, NULL), g_bytes_get_size(outer));
}

/* Verifies @quote as the verifier does, PCR 16 included; returns the bank. */
static void
assert_quote_verifies(KlTpm *tpm,
		      const gchar *quote_str,
		      const gchar *nonce,
		      guint32 mask,
		      const gchar *pem,
		      KlQuoteVerifyFlags flags)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlQuote) quote = kl_quote_new_from_string(quote_str, &error);
	g_autoptr(KlQuoteKey) key = NULL;
	g_autoptr(GPtrArray) findings =
		g_ptr_array_new_with_free_func((GDestroyNotify)kl_finding_free);
	g_autoptr(GPtrArray) other_findings =
		g_ptr_array_new_with_free_func((GDestroyNotify)kl_finding_free);
	g_autofree gchar *pcr16 = NULL;
	g_autofree gchar *expected = NULL;
	g_autofree gchar *other_pem = nk_pem_new();
	KlPcrBank *bank;

	g_assert_no_error(error);
	g_assert_nonnull(quote);
	key = kl_quote_key_new(kl_tpm_public_get_key(kl_tpm_get_ak(tpm)));
	g_assert_true(
		kl_quote_verify(quote, key, nonce, kl_tpm_get_hash_alg(tpm), flags, findings));
	g_assert_cmpuint(findings->len, ==, 0);
	bank = kl_quote_get_pcr_bank(quote, "sha256");
	g_assert_nonnull(bank);
	g_assert_cmpuint(kl_pcr_bank_get_mask(bank), ==, mask | (1u << 16));
	g_assert_true(kl_quote_check_pcr16(bank, pem, findings));
	g_assert_cmpuint(findings->len, ==, 0);
	pcr16 = kl_pcr_bank_get_hex(bank, 16);
	expected = expected_pcr16("sha256", pem);
	g_assert_cmpstr(pcr16, ==, expected);
	/* another NK does not match */
	g_assert_false(kl_quote_check_pcr16(bank, other_pem, other_findings));
	g_assert_cmpuint(other_findings->len, ==, 1);
}

static void
check_quotes(TPM2_ALG_ID enc_alg, TPM2_ALG_ID sign_alg, KlQuoteVerifyFlags flags)
{
	g_autoptr(KlTestSwtpm) swtpm = NULL;
	g_autoptr(KlTpm) tpm = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *pem = nk_pem_new();
	g_autofree gchar *identity = NULL;
	g_autoptr(KlPcrBank) values = NULL;
	g_autofree gchar *pcr16 = NULL;
	g_autofree gchar *expected = NULL;
	KlTpmOptions options;

	if (skip_without_swtpm())
		return;
	swtpm = swtpm_new();
	options_init(&options, swtpm);
	options.enc_alg = enc_alg;
	options.sign_alg = sign_alg;
	tpm = tpm_new(&options);

	for (guint i = 0; i < 3; i++) {
		g_autofree gchar *nonce = g_strdup_printf("%s%u", TEST_NONCE, i);
		g_autofree gchar *quote =
			kl_tpm_quote(tpm, nonce, TEST_MASK, TPM2_ALG_SHA256, pem, &error);
		g_assert_no_error(error);
		g_assert_nonnull(quote);
		g_assert_true(g_str_has_prefix(quote, "r"));
		assert_quote_verifies(tpm, quote, nonce, TEST_MASK, pem, flags);
		assert_nothing_loaded(tpm);
	}
	identity = kl_tpm_identity_quote(tpm, TEST_NONCE, pem, &error);
	g_assert_no_error(error);
	assert_quote_verifies(tpm, identity, TEST_NONCE, 0, pem, flags);
	assert_nothing_loaded(tpm);

	/* PCR 16 stays as the last quote left it */
	values = kl_tpm_read_pcrs(tpm, 1u << 16, TPM2_ALG_SHA256, &error);
	g_assert_no_error(error);
	pcr16 = kl_pcr_bank_get_hex(values, 16);
	expected = expected_pcr16("sha256", pem);
	g_assert_cmpstr(pcr16, ==, expected);
}

static void
test_quote_rsassa(void)
{
	check_quotes(TPM2_ALG_RSA, TPM2_ALG_RSASSA, KL_QUOTE_VERIFY_FLAG_NONE);
}

static void
test_quote_rsapss(void)
{
	check_quotes(TPM2_ALG_RSA, TPM2_ALG_RSAPSS, KL_QUOTE_VERIFY_FLAG_ALLOW_RSAPSS);
}

static void
test_quote_ecdsa(void)
{
	check_quotes(TPM2_ALG_ECC, TPM2_ALG_ECDSA, KL_QUOTE_VERIFY_FLAG_NONE);
}

static void
test_quote_many_pcrs(void)
{
	g_autoptr(KlTestSwtpm) swtpm = NULL;
	g_autoptr(KlTpm) tpm = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *pem = nk_pem_new();
	g_autofree gchar *quote = NULL;
	g_autofree gchar *long_nonce = g_strnfill(KL_TPM_NONCE_MAX + 1, 'n');
	g_autofree gchar *max_nonce = g_strnfill(KL_TPM_NONCE_MAX, 'n');
	g_autoptr(KlPcrBank) all = NULL;
	KlTpmOptions options;

	if (skip_without_swtpm())
		return;
	swtpm = swtpm_new();
	options_init(&options, swtpm);
	tpm = tpm_new(&options);
	quote = kl_tpm_quote(tpm, max_nonce, TEST_MANY, TPM2_ALG_SHA256, pem, &error);
	g_assert_no_error(error);
	assert_quote_verifies(tpm, quote, max_nonce, TEST_MANY, pem, KL_QUOTE_VERIFY_FLAG_NONE);
	g_clear_pointer(&quote, g_free);

	/* every PCR: three reads' worth */
	all = kl_tpm_read_pcrs(tpm, 0xffffff, TPM2_ALG_SHA256, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(kl_pcr_bank_get_count(all), ==, 24);

	quote = kl_tpm_quote(tpm, long_nonce, TEST_MASK, TPM2_ALG_SHA256, pem, &error);
	g_assert_error(error, KL_AGENT_TPM_ERROR, KL_AGENT_TPM_ERROR_INVALID_ARGUMENT);
	g_assert_null(quote);
	g_clear_error(&error);
	quote = kl_tpm_quote(tpm, TEST_NONCE, 1u << 24, TPM2_ALG_SHA256, pem, &error);
	g_assert_error(error, KL_AGENT_TPM_ERROR, KL_AGENT_TPM_ERROR_INVALID_ARGUMENT);
	g_assert_null(quote);
	g_clear_error(&error);
	/* swtpm has only the sha256 bank active */
	quote = kl_tpm_quote(tpm, TEST_NONCE, TEST_MASK, TPM2_ALG_SHA384, pem, &error);
	g_assert_nonnull(error);
	g_assert_null(quote);
	assert_nothing_loaded(tpm);
}

/* ---- recovery ---- */

static void
test_rc_classes(void)
{
	const struct {
		TSS2_RC rc;
		KlAgentTpmError code;
	} cases[] = {
		{TPM2_RC_RETRY, KL_AGENT_TPM_ERROR_BUSY},
		{TPM2_RC_YIELDED, KL_AGENT_TPM_ERROR_BUSY},
		{TPM2_RC_TESTING, KL_AGENT_TPM_ERROR_BUSY},
		{TSS2_RESMGR_TPM_RC_LAYER | TPM2_RC_RETRY, KL_AGENT_TPM_ERROR_BUSY},
		{TPM2_RC_INITIALIZE, KL_AGENT_TPM_ERROR_NOT_STARTED},
		{TSS2_RESMGR_TPM_RC_LAYER | TPM2_RC_INITIALIZE, KL_AGENT_TPM_ERROR_NOT_STARTED},
		{TSS2_TCTI_RC_IO_ERROR, KL_AGENT_TPM_ERROR_CONNECTION},
		{TSS2_TCTI_RC_NO_CONNECTION, KL_AGENT_TPM_ERROR_CONNECTION},
		{TSS2_TCTI_RC_MALFORMED_RESPONSE, KL_AGENT_TPM_ERROR_CONNECTION},
		{TSS2_SYS_RC_LAYER | TSS2_BASE_RC_IO_ERROR, KL_AGENT_TPM_ERROR_CONNECTION},
		{TPM2_RC_FAILURE, KL_AGENT_TPM_ERROR_FAILED},
		{TPM2_RC_HANDLE | TPM2_RC_1, KL_AGENT_TPM_ERROR_FAILED},
		{TSS2_ESYS_RC_BAD_REFERENCE, KL_AGENT_TPM_ERROR_FAILED},
		/* a TPM 1.2 code that looks like IO_ERROR's base is not one */
		{TSS2_BASE_RC_IO_ERROR, KL_AGENT_TPM_ERROR_FAILED},
	};

	g_assert_true(kl_tpm_esys_check_rc(TSS2_RC_SUCCESS, "TPM2_Nothing", NULL));
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *rc_text = g_strdup_printf("0x%x", (guint)cases[i].rc);

		g_assert_false(kl_tpm_esys_check_rc(cases[i].rc, "TPM2_Something", &error));
		g_assert_error(error, KL_AGENT_TPM_ERROR, (gint)cases[i].code);
		g_assert_true(g_str_has_prefix(error->message, "TPM2_Something: "));
		g_assert_nonnull(strstr(error->message, rc_text));
		g_assert_nonnull(strstr(error->message, Tss2_RC_Decode(cases[i].rc)));
	}
}

static gboolean
skip_without_swtpm_ioctl(void)
{
	g_autofree gchar *path = NULL;

	if (skip_without_swtpm())
		return TRUE;
	path = g_find_program_in_path("swtpm_ioctl");
	if (path != NULL)
		return FALSE;
	g_test_skip("swtpm_ioctl not installed");
	return TRUE;
}

/* swtpm_ioctl @command on the fixture's control port: --stop stops the TPM,
 * -i initialises it again (a power cycle), -s ends swtpm. */
static void
swtpm_ioctl(KlTestSwtpm *swtpm, const gchar *command)
{
	g_autofree gchar *tcp = g_strdup_printf("127.0.0.1:%u", kl_test_swtpm_get_ctrl_port(swtpm));
	const gchar *argv[] = {"swtpm_ioctl", "--tcp", tcp, command, NULL};
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	g_autoptr(GError) error = NULL;
	gint status = 0;

	g_assert_true(g_spawn_sync(NULL,
				   (gchar **)argv,
				   NULL,
				   G_SPAWN_SEARCH_PATH,
				   NULL,
				   NULL,
				   &out,
				   &err,
				   &status,
				   &error));
	g_assert_no_error(error);
	if (!g_spawn_check_wait_status(status, &error))
		g_test_message("swtpm_ioctl %s: %s%s", command, out, err);
	g_assert_no_error(error);
}

static void
swtpm_restart(KlTestSwtpm *swtpm)
{
	g_autoptr(GError) error = NULL;
	gboolean ok = kl_test_swtpm_restart(swtpm, &error);

	g_assert_no_error(error);
	g_assert_true(ok);
}

/* An identity quote that kl-quote verifies, PCR 16 bound to @pem. */
static void
assert_quote_works(KlTpm *tpm, const gchar *pem, KlQuoteVerifyFlags flags)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *quote = kl_tpm_identity_quote(tpm, TEST_NONCE, pem, &error);

	g_assert_no_error(error);
	g_assert_nonnull(quote);
	assert_quote_verifies(tpm, quote, TEST_NONCE, 0, pem, flags);
	assert_nothing_loaded(tpm);
}

static void
assert_quote_fails(KlTpm *tpm, const gchar *pem, KlAgentTpmError code)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *quote = kl_tpm_identity_quote(tpm, TEST_NONCE, pem, &error);

	g_assert_error(error, KL_AGENT_TPM_ERROR, (gint)code);
	g_assert_null(quote);
	g_test_message("as expected: %s", error->message);
}

/* Stopped: every call fails, none hangs or crashes; power-cycled: the next
 * call starts the TPM, reloads the AK and makes the EK again. */
static void
check_power_cycle(TPM2_ALG_ID enc_alg,
		  guint32 ek_handle,
		  TPM2_ALG_ID sign_alg,
		  KlQuoteVerifyFlags flags)
{
	g_autoptr(KlTestSwtpm) swtpm = NULL;
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_test_dir_build(dir, "agent_data.json", NULL);
	g_autoptr(KlTpm) tpm = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(KlPcrBank) values = NULL;
	g_autofree gchar *pem = nk_pem_new();
	KlTpmOptions options;

	if (skip_without_swtpm_ioctl())
		return;
	swtpm = swtpm_new();
	options_init(&options, swtpm);
	options.enc_alg = enc_alg;
	options.ek_handle = ek_handle;
	options.sign_alg = sign_alg;
	options.agent_data_path = path;
	tpm = tpm_new(&options);
	assert_quote_works(tpm, pem, flags);

	swtpm_ioctl(swtpm, "--stop");
	/* a stopped swtpm answers TPM_RC_FAILURE: nothing to recover */
	assert_quote_fails(tpm, pem, KL_AGENT_TPM_ERROR_FAILED);
	values = kl_tpm_read_pcrs(tpm, 1u << 16, TPM2_ALG_SHA256, &error);
	g_assert_error(error, KL_AGENT_TPM_ERROR, KL_AGENT_TPM_ERROR_FAILED);
	g_assert_nonnull(strstr(error->message, "TPM2_PCR_Read"));
	g_assert_null(values);
	g_clear_error(&error);
	assert_quote_fails(tpm, pem, KL_AGENT_TPM_ERROR_FAILED);

	swtpm_ioctl(swtpm, "-i");
	assert_quote_works(tpm, pem, flags);
	assert_quote_works(tpm, pem, flags);

	/* a power cycle the agent did not see fail: the first command starts it */
	swtpm_ioctl(swtpm, "--stop");
	swtpm_ioctl(swtpm, "-i");
	assert_activates(tpm);
	assert_quote_works(tpm, pem, flags);
}

static void
test_recovery_power_cycle_rsa(void)
{
	check_power_cycle(TPM2_ALG_RSA, 0, TPM2_ALG_RSASSA, KL_QUOTE_VERIFY_FLAG_NONE);
}

static void
test_recovery_power_cycle_persistent(void)
{
	check_power_cycle(TPM2_ALG_ECC,
			  KL_TEST_SWTPM_EK_HANDLE_ECC,
			  TPM2_ALG_ECDSA,
			  KL_QUOTE_VERIFY_FLAG_NONE);
}

/* swtpm itself goes away: the connection is dropped, and made again once
 * swtpm is back on the same port and state. */
static void
check_restart(guint32 ek_handle)
{
	g_autoptr(KlTestSwtpm) swtpm = NULL;
	g_autoptr(KlTpm) tpm = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *pem = nk_pem_new();
	g_autofree gchar *quote = NULL;
	KlTpmOptions options;

	if (skip_without_swtpm_ioctl())
		return;
	swtpm = swtpm_new();
	options_init(&options, swtpm);
	options.ek_handle = ek_handle;
	tpm = tpm_new(&options);
	assert_quote_works(tpm, pem, KL_QUOTE_VERIFY_FLAG_NONE);

	swtpm_ioctl(swtpm, "-s");
	assert_quote_fails(tpm, pem, KL_AGENT_TPM_ERROR_CONNECTION);
	g_assert_null(kl_tpm_esys_get_context(KL_TPM_ESYS(tpm)));
	/* one reconnection per call, refused at once while swtpm is away */
	assert_quote_fails(tpm, pem, KL_AGENT_TPM_ERROR_CONNECTION);
	g_assert_null(kl_tpm_esys_get_context(KL_TPM_ESYS(tpm)));

	swtpm_restart(swtpm);
	assert_quote_works(tpm, pem, KL_QUOTE_VERIFY_FLAG_NONE);
	assert_activates(tpm);

	/* restarted behind the agent's back: a call may still find the old
	 * connection, and fails then; the one after works either way */
	swtpm_restart(swtpm);
	quote = kl_tpm_identity_quote(tpm, TEST_NONCE, pem, &error);
	if (quote == NULL) {
		g_assert_error(error, KL_AGENT_TPM_ERROR, KL_AGENT_TPM_ERROR_CONNECTION);
		g_clear_error(&error);
	}
	assert_quote_works(tpm, pem, KL_QUOTE_VERIFY_FLAG_NONE);
}

static void
test_recovery_restart(void)
{
	check_restart(0);
}

static void
test_recovery_restart_persistent(void)
{
	check_restart(KL_TEST_SWTPM_EK_HANDLE_RSA);
}

/* g_test_expect_message() does not see structured logging on GLib 2.74:
 * the service's "TPM: ..." warnings are counted here while a test expects
 * them (rest_warnings != G_MAXUINT); any other warning stays fatal. */
static guint rest_warnings = G_MAXUINT;

static GLogWriterOutput
rest_warning_writer(GLogLevelFlags level,
		    const GLogField *fields,
		    gsize n_fields,
		    gpointer user_data)
{
	const gchar *domain = NULL;
	const gchar *message = NULL;

	for (gsize i = 0; i < n_fields; i++) {
		if (g_str_equal(fields[i].key, "GLIB_DOMAIN"))
			domain = fields[i].value;
		else if (g_str_equal(fields[i].key, "MESSAGE"))
			message = fields[i].value;
	}
	if (rest_warnings != G_MAXUINT && (level & G_LOG_LEVEL_WARNING) != 0 &&
	    g_strcmp0(domain, "KlAgent") == 0 && message != NULL &&
	    g_str_has_prefix(message, "TPM: ")) {
		g_test_message("service warned: %s", message);
		rest_warnings++;
		return G_LOG_WRITER_HANDLED;
	}
	return g_log_writer_default(level, fields, n_fields, user_data);
}

typedef struct {
	GBytes *body;
	GError *error;
	gpointer done;
} TestHttpResult;

static void
http_send_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	TestHttpResult *result = user_data;

	result->body = soup_session_send_and_read_finish(SOUP_SESSION(source), res, &result->error);
	result->done = GINT_TO_POINTER(1);
}

/* GET @url: the HTTP status, the envelope's status text and results. */
static guint
http_get(SoupSession *session, const gchar *url, gchar **status, JsonObject **results)
{
	g_autoptr(SoupMessage) msg = soup_message_new("GET", url);
	g_autoptr(GError) error = NULL;
	TestHttpResult result = {NULL, NULL, NULL};
	const gchar *data;
	gsize length = 0;
	guint code = 0;

	/* no keep-alive: the server is done with each connection at once */
	soup_message_headers_append(soup_message_get_request_headers(msg), "Connection", "close");
	soup_session_send_and_read_async(session,
					 msg,
					 G_PRIORITY_DEFAULT,
					 NULL,
					 http_send_cb,
					 &result);
	g_assert_true(kl_test_wait_for_pointer(&result.done, TEST_HTTP_TIMEOUT_MS));
	g_assert_no_error(result.error);
	data = g_bytes_get_data(result.body, &length);
	g_assert_true(
		kl_json_envelope_parse(data, length, 1 << 20, &code, status, results, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(code, ==, soup_message_get_status(msg));
	g_bytes_unref(result.body);
	return code;
}

static gboolean
never(gpointer user_data)
{
	return FALSE;
}

static void
assert_rest_quote_works(KlTpm *tpm, SoupSession *session, const gchar *url, const gchar *pem)
{
	g_autofree gchar *status = NULL;
	g_autoptr(JsonObject) results = NULL;

	g_assert_cmpuint(http_get(session, url, &status, &results), ==, 200);
	g_assert_cmpstr(status, ==, "Success");
	g_assert_cmpstr(json_object_get_string_member(results, "pubkey"), ==, pem);
	assert_quote_verifies(tpm,
			      json_object_get_string_member(results, "quote"),
			      "abc",
			      0,
			      pem,
			      KL_QUOTE_VERIFY_FLAG_NONE);
}

static void
assert_rest_quote_fails(SoupSession *session, const gchar *url)
{
	g_autofree gchar *status = NULL;
	g_autoptr(JsonObject) results = NULL;

	rest_warnings = 0;
	g_assert_cmpuint(http_get(session, url, &status, &results), ==, 500);
	g_assert_cmpuint(rest_warnings, ==, 1);
	rest_warnings = G_MAXUINT;
	g_assert_cmpstr(status, ==, "Unable to retrieve quote");
}

static void
test_recovery_rest(void)
{
	g_autoptr(KlTestSwtpm) swtpm = NULL;
	g_autoptr(KlTpm) tpm = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) nk = NULL;
	g_autoptr(KlAgentService) service = NULL;
	g_autoptr(KlHttpServer) server = NULL;
	g_autoptr(SoupSession) session = NULL;
	g_autofree gchar *base = NULL;
	g_autofree gchar *url = NULL;
	KlTpmOptions options;
	KlAgentServiceOptions service_options = {0};
	KlHttpServerOptions server_options = {.ip = "127.0.0.1", .tls = FALSE};
	const gchar *pem;

	if (skip_without_swtpm_ioctl())
		return;
	swtpm = swtpm_new();
	options_init(&options, swtpm);
	tpm = tpm_new(&options);
	nk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	g_assert_nonnull(nk);
	service_options.agent_id = "d432fbb3-d2f1-4a97-9ef7-75bd81c00000";
	service_options.tpm = tpm;
	service_options.nk = nk;
	service = kl_agent_service_new(&service_options, &error);
	g_assert_no_error(error);
	pem = kl_agent_service_get_nk_pem(service);
	server = kl_http_server_new(kl_agent_service_get_router(service), &server_options, &error);
	g_assert_no_error(error);
	g_assert_true(kl_http_server_listen(server, &error));
	g_assert_no_error(error);
	base = kl_http_server_get_url(server);
	url = g_strdup_printf("%s/v2.6/quotes/identity?nonce=abc", base);
	session = soup_session_new();

	assert_rest_quote_works(tpm, session, url, pem);
	swtpm_ioctl(swtpm, "--stop");
	assert_rest_quote_fails(session, url);
	assert_rest_quote_fails(session, url);
	swtpm_ioctl(swtpm, "-i");
	assert_rest_quote_works(tpm, session, url, pem);

	swtpm_ioctl(swtpm, "-s");
	assert_rest_quote_fails(session, url);
	swtpm_restart(swtpm);
	assert_rest_quote_works(tpm, session, url, pem);

	/* the server (its guard) lets go of a connection the client closed
	 * from the main loop, before the server goes */
	g_clear_object(&session);
	kl_test_wait_for(never, NULL, 300);
	g_clear_object(&server);
	kl_test_wait_for(never, NULL, 100);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_log_set_writer_func(rest_warning_writer, NULL, NULL);
	g_test_add_func("/agent-tpm/ek/rsa", test_ek_rsa);
	g_test_add_func("/agent-tpm/ek/ecc", test_ek_ecc);
	g_test_add_func("/agent-tpm/ek/errors", test_ek_errors);
	g_test_add_func("/agent-tpm/ak/store", test_ak_store);
	g_test_add_func("/agent-tpm/ak/store-corrupt", test_ak_store_corrupt);
	g_test_add_func("/agent-tpm/activate/rsa", test_activate_rsa);
	g_test_add_func("/agent-tpm/activate/ecc", test_activate_ecc);
	g_test_add_func("/agent-tpm/quote/rsassa", test_quote_rsassa);
	g_test_add_func("/agent-tpm/quote/rsapss", test_quote_rsapss);
	g_test_add_func("/agent-tpm/quote/ecdsa", test_quote_ecdsa);
	g_test_add_func("/agent-tpm/quote/many-pcrs", test_quote_many_pcrs);
	g_test_add_func("/agent-tpm/recovery/rc-classes", test_rc_classes);
	g_test_add_func("/agent-tpm/recovery/power-cycle/rsa", test_recovery_power_cycle_rsa);
	g_test_add_func("/agent-tpm/recovery/power-cycle/persistent",
			test_recovery_power_cycle_persistent);
	g_test_add_func("/agent-tpm/recovery/restart/generated", test_recovery_restart);
	g_test_add_func("/agent-tpm/recovery/restart/persistent", test_recovery_restart_persistent);
	g_test_add_func("/agent-tpm/recovery/rest", test_recovery_rest);
	return g_test_run();
}
