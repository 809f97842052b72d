/*
 * Tests of IMA signature v2 parsing and verification, with signatures
 * made here by OpenSSL (RSA and EC) and upstream's signed /usr/bin/dd and
 * /usr/bin/zmore entries, and of keys carried by ima-buf entries.
 */
#include "config.h"

#include <openssl/core_names.h>
#include <openssl/rsa.h>

#include "kl-crypto.h"
#include "kl-ima-log.h"
#include "kl-ima-sig.h"
#include "kl-test-data.h"
#include "kl-x509.h"

/* upstream's test_ima_verification.py SIGNATURES: RSA then EC */
#define DD_DIGEST "1350320e5f7f51553bac8aa403489a1b135bc101"
#define DD_SIG                                                                                     \
	"030202f3452d23010084c2a6cf7de1aeefa119220df0da265a7c44d34380f0d97002e7c778d09cfcf88c018e" \
	"6"                                                                                        \
	"595df3ee70eda926851f159332f852e7981a8fca1bc5e959958d06d234a0896861f13cc60da825905c8ed234" \
	"d"                                                                                        \
	"f26c1deecfa816d5aa9bfb11b905e2814084a86b588be60423afada8dd0dd5a143774c6d890b64195ac42fb4" \
	"7"                                                                                        \
	"ef5a9a00f0d6c80711d8e0c2b843ec38c02f60fd46bc46c7b4c329ad2dbb1b7625293703f9c739dc4c2bf076" \
	"91"                                                                                       \
	"26a2f3cb2cd031d1881cd0af64bf20fd474a993b48620f103a5c14999a2f17d60721bcc019a896b4138a688a" \
	"5"                                                                                        \
	"9f50cb6cd94a4cfe3b8052e82dec025fef4feabb08c7ce412e3de850f903797e293ec27c329f57fd84e0"
#define ZMORE_DIGEST "1cb84b12db45d7da8de58ba6744187db84082f0e"
#define ZMORE_SIG                                                                                  \
	"030202531f402500483046022100bff9c02dc7b270c83cc94bfec10eecd42831de2cdcb04f024369a14623bc" \
	"3"                                                                                        \
	"a91022100cc4d015ae932fb98d6846645ed7d1bb1afd4621ec9089bc087126f191886dd31"
/* upstream's KEYRINGS: a DER certificate loaded into .ima */
#define IMA_CERT                                                                                   \
	"308201d130820178a003020102020101300906072a8648ce3d0401301b3119301706035504030c1054657374" \
	"696e672d45434453412d4341301e170d3231303631313133353831365a170d3232303631313133353831365a" \
	"3021311f301d06035504030c1665636473612d63612d7369676e65642d65632d6b65793059301306072a8648" \
	"ce3d020106082a8648ce3d030107034200044ce55be36765b59de2767f6d6721be8bea8e3db4ccc25ab76c30" \
	"f5d1c11752ae1699cc39d31b378f69fecbe65ce1eb09e075f840fe4c052bafb9039742b76202a381a73081a4" \
	"30090603551d1304023000301d0603551d0e04160414b6fb3c083d19695be441c5f59afb95742cb6058c3056" \
	"0603551d23044f304d80140a51da379e45bd7ac623c3f765b53e1e2dde5195a11fa41d301b31193017060355" \
	"04030c1054657374696e672d45434453412d434182142bb351b0d645e4d8594316ac3c96fc6d9c8379153013" \
	"0603551d25040c300a06082b06010505070302300b0603551d0f040403020780300906072a8648ce3d040103" \
	"48003045022033d47b623c9feefab7d6e68b001ac6463433f99b61ce7b951a32da065a5d17af022100f3d73e" \
	"38070053aec63a941ed36ae0dcfa25ed9cd538c459732a7e782132a4ca"

static EVP_PKEY *
load_key(const gchar *name)
{
	g_autofree gchar *path = g_test_build_filename(G_TEST_DIST, "data", "ima", name, NULL);
	g_autoptr(GError) error = NULL;
	EVP_PKEY *key = kl_key_load_pem_file(path, &error);
	g_assert_no_error(error);
	g_assert_nonnull(key);
	return key;
}

/* keyidv2 computed here, apart from kl_runtime_policy_compute_key_id():
 * SHA-1 of the PKCS#1 RSAPublicKey or of the encoded EC point */
static guint32
test_keyid(EVP_PKEY *key)
{
	guint8 buf[1024];
	gsize len = 0;
	guint8 md[20];
	gsize md_len = 0;

	if (EVP_PKEY_is_a(key, "RSA")) {
		guint8 *p = buf;
		gint n = i2d_PublicKey(key, &p);
		g_assert_cmpint(n, >, 0);
		len = (gsize)n;
	} else {
		g_assert_cmpint(EVP_PKEY_get_octet_string_param(key,
								OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
								buf,
								sizeof(buf),
								&len),
				==,
				1);
		g_assert_cmpuint(buf[0], ==, 0x04);
	}
	g_assert_true(kl_crypto_digest("sha1", buf, len, md, &md_len, NULL));
	return ((guint32)md[16] << 24) | ((guint32)md[17] << 16) | ((guint32)md[18] << 8) | md[19];
}

/* signature_v2_hdr || signature, signed over the prehashed @digest */
static GBytes *
test_sign(EVP_PKEY *key, guint32 keyid, const gchar *alg, const guint8 *digest, gsize digest_len)
{
	g_autoptr(EVP_PKEY_CTX) ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	const EVP_MD *md = kl_crypto_get_md(alg, NULL);
	gsize sig_len = 0;
	g_autofree guint8 *out = NULL;

	g_assert_nonnull(ctx);
	g_assert_cmpint(EVP_PKEY_sign_init(ctx), ==, 1);
	if (EVP_PKEY_is_a(key, "RSA"))
		g_assert_cmpint(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), ==, 1);
	g_assert_cmpint(EVP_PKEY_CTX_set_signature_md(ctx, md), ==, 1);
	g_assert_cmpint(EVP_PKEY_sign(ctx, NULL, &sig_len, digest, digest_len), ==, 1);
	out = g_malloc(9 + sig_len);
	g_assert_cmpint(EVP_PKEY_sign(ctx, out + 9, &sig_len, digest, digest_len), ==, 1);
	out[0] = 3;
	out[1] = 2;
	out[2] = (guint8)kl_ima_sig_hash_algo_from_string(alg);
	out[3] = (guint8)(keyid >> 24);
	out[4] = (guint8)(keyid >> 16);
	out[5] = (guint8)(keyid >> 8);
	out[6] = (guint8)keyid;
	out[7] = (guint8)(sig_len >> 8);
	out[8] = (guint8)sig_len;
	return g_bytes_new_take(g_steal_pointer(&out), 9 + sig_len);
}

static GPtrArray *
policy_keys_new(EVP_PKEY *key, guint32 keyid)
{
	GPtrArray *keys =
		g_ptr_array_new_with_free_func((GDestroyNotify)kl_runtime_policy_key_free);
	KlRuntimePolicyKey *item = g_new0(KlRuntimePolicyKey, 1);
	EVP_PKEY_up_ref(key);
	item->key = key;
	item->keyid = keyid;
	g_ptr_array_add(keys, item);
	return keys;
}

static void
test_header(void)
{
	const guint8 good[] = {3, 2, 4, 0xde, 0xad, 0xbe, 0xef, 0, 2, 0xaa, 0xbb};
	guint8 bad[sizeof(good)];
	KlImaSigHeader header = {0};
	g_autoptr(GError) error = NULL;

	g_assert_true(kl_ima_sig_parse(good, sizeof(good), &header, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(header.keyid, ==, 0xdeadbeef);
	g_assert_cmpuint(header.sig_size, ==, 2);
	g_assert_cmpuint(header.hash_algo, ==, 4);
	g_assert_cmpuint(header.sig[0], ==, 0xaa);

	/* portable signatures are type 5 */
	memcpy(bad, good, sizeof(good));
	bad[0] = 5;
	g_assert_true(kl_ima_sig_parse(bad, sizeof(bad), &header, &error));

	g_assert_false(kl_ima_sig_parse(good, 8, &header, &error));
	g_assert_error(error, KL_IMA_ERROR, KL_IMA_ERROR_SIGNATURE);
	g_clear_error(&error);
	g_assert_false(kl_ima_sig_parse(good, sizeof(good) - 1, &header, &error));
	g_assert_error(error, KL_IMA_ERROR, KL_IMA_ERROR_SIGNATURE);
	g_clear_error(&error);
	bad[0] = 4;
	g_assert_false(kl_ima_sig_parse(bad, sizeof(bad), &header, &error));
	g_clear_error(&error);
	bad[0] = 3;
	bad[1] = 1;
	g_assert_false(kl_ima_sig_parse(bad, sizeof(bad), &header, &error));
	g_clear_error(&error);
	g_assert_false(kl_ima_sig_parse(NULL, 0, &header, &error));
}

static void
test_hash_algos(void)
{
	g_assert_cmpstr(kl_ima_sig_hash_algo_to_string(2), ==, "sha1");
	g_assert_cmpstr(kl_ima_sig_hash_algo_to_string(4), ==, "sha256");
	g_assert_cmpstr(kl_ima_sig_hash_algo_to_string(6), ==, "sha512");
	g_assert_cmpstr(kl_ima_sig_hash_algo_to_string(19), ==, "streebog512");
	g_assert_null(kl_ima_sig_hash_algo_to_string(3));
	g_assert_cmpint(kl_ima_sig_hash_algo_from_string("sha384"), ==, 5);
	g_assert_cmpint(kl_ima_sig_hash_algo_from_string("sm3_256"), ==, -1);
}

static void
test_sign_verify(EVP_PKEY *key, const gchar *alg)
{
	g_autoptr(GError) error = NULL;
	guint8 digest[EVP_MAX_MD_SIZE];
	gsize digest_len = 0;
	guint32 keyid = test_keyid(key);
	guint32 computed = 0;
	g_autoptr(GBytes) sig = NULL;
	g_autoptr(GPtrArray) keys = NULL;
	g_autoptr(KlImaKeyrings) learned = kl_ima_keyrings_new();
	g_autoptr(GPtrArray) other_keys = NULL;
	g_autoptr(EVP_PKEY) other = kl_key_generate_ec("P-256", &error);
	const guint8 *data;
	gsize len = 0;

	g_assert_true(kl_ima_sig_hash_algo_from_string(alg) > 0);
	g_assert_true(kl_runtime_policy_compute_key_id(key, &computed, &error));
	g_assert_cmpuint(computed, ==, keyid);
	g_assert_true(kl_crypto_digest(alg, (const guint8 *)"file", 4, digest, &digest_len, NULL));
	sig = test_sign(key, keyid, alg, digest, digest_len);
	data = g_bytes_get_data(sig, &len);

	/* from the policy's verification keys */
	keys = policy_keys_new(key, keyid);
	g_assert_true(kl_ima_sig_verify(data, len, digest, digest_len, alg, keys, NULL, &error));
	g_assert_no_error(error);

	/* from keys learned from the log */
	kl_ima_keyrings_add(learned, ".ima", keyid, key);
	g_assert_true(kl_ima_sig_verify(data, len, digest, digest_len, alg, NULL, learned, &error));
	g_assert_no_error(error);

	/* the wrong file */
	digest[0] ^= 1;
	g_assert_false(kl_ima_sig_verify(data, len, digest, digest_len, alg, keys, NULL, &error));
	g_assert_error(error, KL_IMA_ERROR, KL_IMA_ERROR_SIGNATURE);
	g_clear_error(&error);
	digest[0] ^= 1;

	/* a digest of another algorithm than the header names */
	g_assert_false(kl_ima_sig_verify(data,
					 len,
					 digest,
					 digest_len,
					 g_strcmp0(alg, "sha384") == 0 ? "sha256" : "sha384",
					 keys,
					 NULL,
					 &error));
	g_clear_error(&error);

	/* no key with that id */
	g_assert_false(kl_ima_sig_verify(data, len, digest, digest_len, alg, NULL, NULL, &error));
	g_assert_error(error, KL_IMA_ERROR, KL_IMA_ERROR_SIGNATURE);
	g_clear_error(&error);

	/* another key under the same id does not verify */
	other_keys = policy_keys_new(other, keyid);
	g_assert_false(
		kl_ima_sig_verify(data, len, digest, digest_len, alg, other_keys, NULL, &error));
	g_clear_error(&error);

	/* the policy's keys come first */
	g_assert_false(
		kl_ima_sig_verify(data, len, digest, digest_len, alg, other_keys, learned, &error));
	g_clear_error(&error);
}

static void
test_rsa(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) key = kl_key_generate_rsa(2048, &error);
	g_assert_no_error(error);
	test_sign_verify(key, "sha256");
	test_sign_verify(key, "sha1");
	test_sign_verify(key, "sha512");
}

static void
test_ec(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) p256 = kl_key_generate_ec("P-256", &error);
	g_autoptr(EVP_PKEY) p384 = kl_key_generate_ec("P-384", &error);
	g_assert_no_error(error);
	test_sign_verify(p256, "sha256");
	test_sign_verify(p384, "sha384");
}

/* upstream's vectors with upstream's keys */
static void
test_upstream(void)
{
	g_autoptr(EVP_PKEY) rsa = load_key("upstream-rsa2048pub.pem");
	g_autoptr(EVP_PKEY) ec = load_key("upstream-secp256k1.pem");
	g_autoptr(KlImaKeyrings) learned = kl_ima_keyrings_new();
	g_autoptr(GBytes) dd_sig = kl_test_hex(DD_SIG);
	g_autoptr(GBytes) dd_digest = kl_test_hex(DD_DIGEST);
	g_autoptr(GBytes) zmore_sig = kl_test_hex(ZMORE_SIG);
	g_autoptr(GBytes) zmore_digest = kl_test_hex(ZMORE_DIGEST);
	g_autoptr(GError) error = NULL;
	guint32 keyid = 0;

	g_assert_true(kl_runtime_policy_compute_key_id(rsa, &keyid, &error));
	g_assert_cmphex(keyid, ==, 0xf3452d23);
	g_assert_cmphex(test_keyid(rsa), ==, 0xf3452d23);
	kl_ima_keyrings_add(learned, "tenant", keyid, rsa);
	kl_runtime_policy_compute_key_id(ec, &keyid, &error);
	g_assert_no_error(error);
	g_assert_cmphex(keyid, ==, 0x531f4025);

	g_assert_true(kl_ima_sig_verify(g_bytes_get_data(dd_sig, NULL),
					g_bytes_get_size(dd_sig),
					g_bytes_get_data(dd_digest, NULL),
					g_bytes_get_size(dd_digest),
					"sha1",
					NULL,
					learned,
					&error));
	g_assert_no_error(error);
	/* the EC key is not there yet */
	g_assert_false(kl_ima_sig_verify(g_bytes_get_data(zmore_sig, NULL),
					 g_bytes_get_size(zmore_sig),
					 g_bytes_get_data(zmore_digest, NULL),
					 g_bytes_get_size(zmore_digest),
					 "sha1",
					 NULL,
					 learned,
					 &error));
	g_clear_error(&error);
	kl_ima_keyrings_add(learned, "tenant", keyid, ec);
	g_assert_cmpuint(kl_ima_keyrings_get_n_keys(learned), ==, 2);
	g_assert_true(kl_ima_sig_verify(g_bytes_get_data(zmore_sig, NULL),
					g_bytes_get_size(zmore_sig),
					g_bytes_get_data(zmore_digest, NULL),
					g_bytes_get_size(zmore_digest),
					"sha1",
					NULL,
					learned,
					&error));
	g_assert_no_error(error);
}

static void
test_key_from_buffer(void)
{
	g_autoptr(GBytes) cert = kl_test_hex(IMA_CERT);
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) from_cert = NULL;
	g_autoptr(EVP_PKEY) rsa = kl_key_generate_rsa(2048, &error);
	g_autoptr(EVP_PKEY) from_pem = NULL;
	g_autoptr(EVP_PKEY) from_der = NULL;
	g_autoptr(EVP_PKEY) from_private = NULL;
	g_autoptr(EVP_PKEY) not_a_key = NULL;
	g_autoptr(EVP_PKEY) ed25519 = NULL;
	g_autoptr(EVP_PKEY) unsupported = NULL;
	g_autoptr(EVP_PKEY_CTX) ctx = NULL;
	g_autofree gchar *pem = NULL;
	g_autofree gchar *private_pem = NULL;
	g_autofree guint8 *der = NULL;
	g_autofree gchar *ed_pem = NULL;
	gint der_len;
	guint32 keyid = 0;

	/* a certificate: the key id is the end of its subject key identifier */
	from_cert = kl_ima_key_from_buffer(g_bytes_get_data(cert, NULL),
					   g_bytes_get_size(cert),
					   &keyid,
					   &error);
	g_assert_no_error(error);
	g_assert_nonnull(from_cert);
	g_assert_cmphex(keyid, ==, 0x2cb6058c);

	/* public key PEM and DER, private key PEM: computed key ids */
	pem = kl_key_to_pem_public(rsa, &error);
	from_pem = kl_ima_key_from_buffer((const guint8 *)pem, strlen(pem), &keyid, &error);
	g_assert_no_error(error);
	g_assert_nonnull(from_pem);
	g_assert_cmphex(keyid, ==, test_keyid(rsa));
	der_len = i2d_PUBKEY(rsa, &der);
	g_assert_cmpint(der_len, >, 0);
	from_der = kl_ima_key_from_buffer(der, (gsize)der_len, &keyid, &error);
	g_assert_nonnull(from_der);
	g_assert_cmphex(keyid, ==, test_keyid(rsa));
	private_pem = kl_key_to_pem_private(rsa, &error);
	from_private = kl_ima_key_from_buffer((const guint8 *)private_pem,
					      strlen(private_pem),
					      &keyid,
					      &error);
	g_assert_nonnull(from_private);
	g_assert_true(EVP_PKEY_eq(from_private, rsa) == 1);

	/* a command line is no key, and not an error */
	not_a_key = kl_ima_key_from_buffer((const guint8 *)"root=/dev/sda1", 14, &keyid, &error);
	g_assert_null(not_a_key);
	g_assert_no_error(error);
	g_assert_null(kl_ima_key_from_buffer(NULL, 0, &keyid, &error));
	g_assert_no_error(error);

	/* a key IMA cannot use */
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "ED25519", NULL);
	g_assert_cmpint(EVP_PKEY_keygen_init(ctx), ==, 1);
	g_assert_cmpint(EVP_PKEY_generate(ctx, &ed25519), ==, 1);
	ed_pem = kl_key_to_pem_public(ed25519, &error);
	g_assert_no_error(error);
	unsupported =
		kl_ima_key_from_buffer((const guint8 *)ed_pem, strlen(ed_pem), &keyid, &error);
	g_assert_null(unsupported);
	g_assert_error(error, KL_IMA_ERROR, KL_IMA_ERROR_INVALID_KEY);
}

static void
test_keyrings_json(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) rsa = load_key("upstream-rsa2048pub.pem");
	g_autoptr(EVP_PKEY) ec = load_key("upstream-secp256k1.pem");
	g_autoptr(KlImaKeyrings) keyrings = kl_ima_keyrings_new();
	g_autoptr(KlImaKeyrings) copy = NULL;
	g_autofree gchar *json = NULL;
	g_autofree gchar *again = NULL;

	kl_ima_keyrings_add(keyrings, ".ima", 0xf3452d23, rsa);
	kl_ima_keyrings_add(keyrings, ".evm", 0x531f4025, ec);
	kl_ima_keyrings_add(keyrings, ".ima", 0xf3452d23, rsa); /* replaces */
	g_assert_cmpuint(kl_ima_keyrings_get_n_keys(keyrings), ==, 2);
	g_assert_true(kl_ima_keyrings_lookup(keyrings, 0x531f4025) == ec);
	g_assert_null(kl_ima_keyrings_lookup(keyrings, 0x12345678));

	json = kl_ima_keyrings_to_json(keyrings, &error);
	g_assert_no_error(error);
	g_assert_nonnull(strstr(json, "\".ima\""));
	copy = kl_ima_keyrings_new_from_json(json, strlen(json), &error);
	g_assert_no_error(error);
	g_assert_nonnull(copy);
	g_assert_cmpuint(kl_ima_keyrings_get_n_keys(copy), ==, 2);
	g_assert_true(EVP_PKEY_eq(kl_ima_keyrings_lookup(copy, 0xf3452d23), rsa) == 1);
	again = kl_ima_keyrings_to_json(copy, &error);
	g_assert_cmpstr(again, ==, json);

	kl_ima_keyrings_clear(copy);
	g_assert_cmpuint(kl_ima_keyrings_get_n_keys(copy), ==, 0);

	g_assert_null(kl_ima_keyrings_new_from_json("[]", 2, &error));
	g_assert_nonnull(error);
	g_clear_error(&error);
	g_assert_null(kl_ima_keyrings_new_from_json("{\"a\": 1}", 8, &error));
	g_assert_nonnull(error);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/ima-sig/header", test_header);
	g_test_add_func("/ima-sig/hash-algos", test_hash_algos);
	g_test_add_func("/ima-sig/rsa", test_rsa);
	g_test_add_func("/ima-sig/ec", test_ec);
	g_test_add_func("/ima-sig/upstream", test_upstream);
	g_test_add_func("/ima-sig/key-from-buffer", test_key_from_buffer);
	g_test_add_func("/ima-sig/keyrings-json", test_keyrings_json);
	return g_test_run();
}
