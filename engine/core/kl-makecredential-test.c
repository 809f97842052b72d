/*
 * kl-makecredential: KDFa and KDFe against vectors computed independently
 * with python3's hmac/hashlib, an RSA blob opened again in software the
 * way the TPM does, inputs we must refuse, the blob parser under hostile
 * lengths, and the auth_tag exactly as upstream compares it.  The TPM
 * itself opens the blobs in tests/tpm/kl-makecredential-tpm-test.c.
 */
#include "config.h"

#include <openssl/core_names.h>
#include <string.h>
#include <tss2/tss2_mu.h>

#include "kl-makecredential.h"
#include "kl-test-data.h"

static gchar *
secret_hex(KlSecret *secret)
{
	gsize size = 0;
	const guint8 *data = kl_secret_get_data(secret, &size);
	return kl_crypto_hex_encode(data, size);
}

static void
seq(guint8 *buf, guint8 first, gsize len)
{
	for (gsize i = 0; i < len; i++)
		buf[i] = (guint8)(first + i);
}

/* python3: hmac.new(key, BE32(i) + label + b'\0' + cu + cv + BE32(bits), h) */
static void
test_kdfa_vectors(void)
{
	guint8 key[48], name[34];
	g_autoptr(GError) error = NULL;
	struct {
		TPM2_ALG_ID alg;
		gsize key_len;
		const gchar *label;
		gboolean with_name;
		guint bits;
		const gchar *expected;
	} vectors[] = {
		{TPM2_ALG_SHA256, 32, "STORAGE", TRUE, 128, "d98939313878365f823837e2ce0286ca"},
		{TPM2_ALG_SHA256,
		 32,
		 "INTEGRITY",
		 FALSE,
		 256,
		 "bacf689f634ece301e1f1b15b072d9c87db6a69585db42b1a0cb8f73ebe2692e"},
		{TPM2_ALG_SHA384,
		 48,
		 "STORAGE",
		 TRUE,
		 256,
		 "2677b68d80fc13c3d904899ba951d8bce06dea58c4beb1b7bcc8320f1d4aab21"},
	};

	seq(key, 0, sizeof(key));
	name[0] = 0x00;
	name[1] = 0x0b;
	seq(name + 2, 100, 32);
	for (guint i = 0; i < G_N_ELEMENTS(vectors); i++) {
		g_autoptr(KlSecret) out =
			kl_makecredential_kdfa(vectors[i].alg,
					       key,
					       vectors[i].key_len,
					       vectors[i].label,
					       vectors[i].with_name ? name : NULL,
					       vectors[i].with_name ? sizeof(name) : 0,
					       NULL,
					       0,
					       vectors[i].bits,
					       &error);
		g_autofree gchar *got = NULL;
		g_assert_no_error(error);
		got = secret_hex(out);
		g_assert_cmpstr(got, ==, vectors[i].expected);
	}
}

/* two blocks, and contextV used: the counter and L must be right */
static void
test_kdfa_multiblock(void)
{
	guint8 key[32];
	g_autoptr(GError) error = NULL;
	g_autoptr(KlSecret) out = NULL;
	g_autofree gchar *got = NULL;

	seq(key, 0, sizeof(key));
	out = kl_makecredential_kdfa(TPM2_ALG_SHA256,
				     key,
				     sizeof(key),
				     "KDFSELFTESTLABEL",
				     (const guint8 *)"CONTEXTU",
				     8,
				     (const guint8 *)"CONTEXTV",
				     8,
				     512,
				     &error);
	g_assert_no_error(error);
	got = secret_hex(out);
	g_assert_cmpstr(got,
			==,
			"6490a53fa974a37f25e1dbbdce46267a3421c2f85d000361a6dc55b5cc4b79ed"
			"f5ac8654ac10edf479b1c5594d216dd26b78ea1301975920afe01e6f793812e6");
}

static void
test_kdfa_refuses(void)
{
	guint8 key[32] = {1};
	g_autoptr(GError) error = NULL;
	g_autoptr(KlSecret) out = NULL;

	out = kl_makecredential_kdfa(0x0042,
				     key,
				     sizeof(key),
				     "STORAGE",
				     NULL,
				     0,
				     NULL,
				     0,
				     128,
				     &error);
	g_assert_error(error, KL_MAKECREDENTIAL_ERROR, KL_MAKECREDENTIAL_ERROR_NOT_SUPPORTED);
	g_assert_null(out);
	g_clear_error(&error);
	out = kl_makecredential_kdfa(TPM2_ALG_SHA256,
				     key,
				     sizeof(key),
				     "STORAGE",
				     NULL,
				     0,
				     NULL,
				     0,
				     0,
				     &error);
	g_assert_error(error, KL_MAKECREDENTIAL_ERROR, KL_MAKECREDENTIAL_ERROR_INVALID_DATA);
	g_assert_null(out);
}

/* python3: hashlib.new(h, BE32(i) + Z + b'IDENTITY\0' + partyU + partyV) */
static void
test_kdfe_vectors(void)
{
	guint8 z[48], pu[48], pv[48];
	g_autoptr(GError) error = NULL;
	g_autoptr(KlSecret) p384 = NULL;
	g_autoptr(KlSecret) p256 = NULL;
	g_autofree gchar *got384 = NULL;
	g_autofree gchar *got256 = NULL;

	seq(z, 0, sizeof(z));
	seq(pu, 48, sizeof(pu));
	seq(pv, 96, sizeof(pv));
	p384 = kl_makecredential_kdfe(TPM2_ALG_SHA384,
				      z,
				      48,
				      "IDENTITY",
				      pu,
				      48,
				      pv,
				      48,
				      384,
				      &error);
	g_assert_no_error(error);
	got384 = secret_hex(p384);
	g_assert_cmpstr(got384,
			==,
			"e264e344d5c1dcadeaf103e06663b8c6a6d8b84092f91194"
			"b3e6be33cc28c433aa8a23fbcf3b942970347ddb3848d2e2");
	/* two blocks */
	p256 = kl_makecredential_kdfe(TPM2_ALG_SHA256,
				      z,
				      32,
				      "IDENTITY",
				      pu,
				      32,
				      pv,
				      32,
				      512,
				      &error);
	g_assert_no_error(error);
	got256 = secret_hex(p256);
	g_assert_cmpstr(got256,
			==,
			"f97787dcf134959edb280dff4310eacf4978a8063f97c48f7049d64339b6d1d0"
			"d2ac9c832d2ae944721a581f5a29b8673c8102c5d7389c1e5fab90de75f0dec0");
}

/* An RSA-2048 EK as the default template, AES-128-CFB, around @key. */
static KlTpmPublic *
rsa_ek_public(EVP_PKEY *key, TPM2_ALG_ID sym)
{
	TPM2B_PUBLIC pub = {0};
	TPMT_PUBLIC *area = &pub.publicArea;
	guint8 buf[sizeof(TPM2B_PUBLIC)];
	size_t offset = 0;
	g_autoptr(BIGNUM) n = NULL;
	g_autoptr(GError) error = NULL;
	KlTpmPublic *ek;

	area->type = TPM2_ALG_RSA;
	area->nameAlg = TPM2_ALG_SHA256;
	area->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
				 TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
				 TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
	area->parameters.rsaDetail.symmetric.algorithm = sym;
	if (sym == TPM2_ALG_AES) {
		area->parameters.rsaDetail.symmetric.keyBits.aes = 128;
		area->parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
	}
	area->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
	area->parameters.rsaDetail.keyBits = 2048;
	g_assert_cmpint(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n), ==, 1);
	area->unique.rsa.size = 256;
	g_assert_cmpint(BN_bn2binpad(n, area->unique.rsa.buffer, 256), ==, 256);
	g_assert_cmpint(Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, buf, sizeof(buf), &offset), ==, 0);
	ek = kl_tpm_public_new_from_data(buf, offset, &error);
	g_assert_no_error(error);
	return ek;
}

static GBytes *
test_name(guint8 first)
{
	guint8 name[34];

	name[0] = 0x00;
	name[1] = 0x0b;
	seq(name + 2, first, 32);
	return g_bytes_new(name, sizeof(name));
}

/* What TPM2_ActivateCredential does with an RSA EK, done in software. */
static KlSecret *
open_rsa_blob(EVP_PKEY *key, GBytes *blob, GBytes *ak_name)
{
	TPM2B_ID_OBJECT id = {0};
	TPM2B_ENCRYPTED_SECRET secret = {0};
	static const guint8 iv[16] = {0};
	guint8 plain[128];
	gint plain_len = 0, final_len = 0;
	gsize name_len = 0, seed_len = 0, integrity_len;
	const guint8 *name = g_bytes_get_data(ak_name, &name_len);
	const guint8 *seed_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(KlSecret) seed = NULL;
	g_autoptr(KlSecret) sym_key = NULL;
	g_autoptr(KlSecret) hmac_key = NULL;
	g_autoptr(GBytes) mac = NULL;
	g_autoptr(GByteArray) msg = g_byte_array_new();
	g_autoptr(EVP_CIPHER_CTX) ctx = EVP_CIPHER_CTX_new();

	g_assert_true(kl_makecredential_blob_parse(g_bytes_get_data(blob, NULL),
						   g_bytes_get_size(blob),
						   &id,
						   &secret,
						   &error));
	g_assert_no_error(error);
	seed = kl_crypto_rsa_oaep_decrypt(key,
					  "sha256",
					  (const guint8 *)"IDENTITY",
					  9,
					  secret.secret,
					  secret.size,
					  &error);
	if (seed == NULL)
		return NULL;
	seed_data = kl_secret_get_data(seed, &seed_len);
	g_assert_cmpuint(seed_len, ==, 32);
	hmac_key = kl_makecredential_kdfa(TPM2_ALG_SHA256,
					  seed_data,
					  seed_len,
					  "INTEGRITY",
					  NULL,
					  0,
					  NULL,
					  0,
					  256,
					  &error);
	g_assert_no_error(error);
	integrity_len = (gsize)(id.credential[0] << 8 | id.credential[1]);
	g_assert_cmpuint(integrity_len, ==, 32);
	g_byte_array_append(msg, id.credential + 2 + integrity_len, id.size - 2 - integrity_len);
	g_byte_array_append(msg, name, name_len);
	mac = kl_crypto_hmac("sha256",
			     kl_secret_get_data(hmac_key, NULL),
			     kl_secret_get_size(hmac_key),
			     msg->data,
			     msg->len,
			     &error);
	g_assert_no_error(error);
	if (!kl_crypto_memeq(g_bytes_get_data(mac, NULL), id.credential + 2, 32))
		return NULL;
	sym_key = kl_makecredential_kdfa(TPM2_ALG_SHA256,
					 seed_data,
					 seed_len,
					 "STORAGE",
					 name,
					 name_len,
					 NULL,
					 0,
					 128,
					 &error);
	g_assert_no_error(error);
	g_assert_cmpint(EVP_DecryptInit_ex2(ctx,
					    EVP_aes_128_cfb128(),
					    kl_secret_get_data(sym_key, NULL),
					    iv,
					    NULL),
			==,
			1);
	g_assert_cmpint(EVP_DecryptUpdate(ctx,
					  plain,
					  &plain_len,
					  id.credential + 2 + integrity_len,
					  (gint)(id.size - 2 - integrity_len)),
			==,
			1);
	g_assert_cmpint(EVP_DecryptFinal_ex(ctx, plain + plain_len, &final_len), ==, 1);
	g_assert_cmpint(plain_len + final_len, >=, 2);
	g_assert_cmpint(plain[0] << 8 | plain[1], ==, plain_len + final_len - 2);
	return kl_secret_new(plain + 2, (gsize)(plain_len + final_len - 2));
}

static void
test_rsa_roundtrip(void)
{
	const gchar *credential = "abcdefghijklmnopqrstuvwxyzABCDEF";
	g_autoptr(EVP_PKEY) key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	g_autoptr(KlTpmPublic) ek = rsa_ek_public(key, TPM2_ALG_AES);
	g_autoptr(GBytes) name = test_name(7);
	g_autoptr(GBytes) other = test_name(8);
	g_autoptr(GBytes) blob = NULL;
	g_autoptr(KlSecret) out = NULL;
	g_autoptr(KlSecret) wrong = NULL;
	g_autoptr(GError) error = NULL;
	const guint8 *data;

	blob = kl_makecredential(ek, name, (const guint8 *)credential, 32, &error);
	g_assert_no_error(error);
	/* magic, version, (2 + 2+32 + 2+32), (2 + 256): as tpm2_makecredential */
	g_assert_cmpuint(g_bytes_get_size(blob), ==, 8 + 2 + 68 + 2 + 256);
	data = g_bytes_get_data(blob, NULL);
	g_assert_cmpmem(data, 8, "\xba\xdc\xc0\xde\x00\x00\x00\x01", 8);
	out = open_rsa_blob(key, blob, name);
	g_assert_nonnull(out);
	g_assert_cmpmem(kl_secret_get_data(out, NULL), kl_secret_get_size(out), credential, 32);
	/* bound to the Name: another AK fails the integrity check */
	wrong = open_rsa_blob(key, blob, other);
	g_assert_null(wrong);
}

static void
test_refuses(void)
{
	guint8 cred[65] = {0};
	g_autoptr(EVP_PKEY) key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	g_autoptr(KlTpmPublic) ek = rsa_ek_public(key, TPM2_ALG_AES);
	g_autoptr(KlTpmPublic) no_sym = rsa_ek_public(key, TPM2_ALG_NULL);
	g_autoptr(GBytes) name = test_name(1);
	g_autoptr(GBytes) short_name = g_bytes_new("\x00\x0b\x01\x02", 4);
	g_autoptr(GBytes) bad_alg = g_bytes_new("\x00\x42\x01\x02", 4);
	g_autoptr(GBytes) blob = NULL;
	g_autoptr(GError) error = NULL;

	blob = kl_makecredential(no_sym, name, cred, 32, &error);
	g_assert_error(error, KL_MAKECREDENTIAL_ERROR, KL_MAKECREDENTIAL_ERROR_NOT_SUPPORTED);
	g_assert_null(blob);
	g_clear_error(&error);
	blob = kl_makecredential(ek, short_name, cred, 32, &error);
	g_assert_error(error, KL_MAKECREDENTIAL_ERROR, KL_MAKECREDENTIAL_ERROR_INVALID_DATA);
	g_clear_error(&error);
	blob = kl_makecredential(ek, bad_alg, cred, 32, &error);
	g_assert_error(error, KL_MAKECREDENTIAL_ERROR, KL_MAKECREDENTIAL_ERROR_INVALID_DATA);
	g_clear_error(&error);
	blob = kl_makecredential(ek, name, cred, 0, &error);
	g_assert_error(error, KL_MAKECREDENTIAL_ERROR, KL_MAKECREDENTIAL_ERROR_INVALID_DATA);
	g_clear_error(&error);
	blob = kl_makecredential(ek, name, cred, 65, &error);
	g_assert_error(error, KL_MAKECREDENTIAL_ERROR, KL_MAKECREDENTIAL_ERROR_INVALID_DATA);
	g_clear_error(&error);
	/* the largest credential still fits */
	blob = kl_makecredential(ek, name, cred, 64, &error);
	g_assert_no_error(error);
	g_assert_nonnull(blob);
}

static gboolean
parse(const guint8 *data, gsize size)
{
	TPM2B_ID_OBJECT id;
	TPM2B_ENCRYPTED_SECRET secret;
	g_autoptr(GError) error = NULL;
	gboolean ok = kl_makecredential_blob_parse(data, size, &id, &secret, &error);

	if (!ok)
		g_assert_error(error,
			       KL_MAKECREDENTIAL_ERROR,
			       KL_MAKECREDENTIAL_ERROR_INVALID_DATA);
	else
		g_assert_no_error(error);
	return ok;
}

static void
test_parse_hostile(void)
{
	/* magic, version 1, ID object (2+2 integrity +3), secret of 4 */
	g_autoptr(GBytes) good = kl_test_hex("badcc0de00000001"
					     "0007"
					     "0002aaaa"
					     "bbbbbb"
					     "0004"
					     "cccccccc");
	gsize size = 0;
	const guint8 *data = g_bytes_get_data(good, &size);
	g_autofree guint8 *buf = g_memdup2(data, size + 1);
	TPM2B_ID_OBJECT id;
	TPM2B_ENCRYPTED_SECRET secret;
	g_autoptr(GError) error = NULL;

	g_assert_true(kl_makecredential_blob_parse(data, size, &id, &secret, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(id.size, ==, 7);
	g_assert_cmpmem(id.credential, 7, "\x00\x02\xaa\xaa\xbb\xbb\xbb", 7);
	g_assert_cmpuint(secret.size, ==, 4);
	g_assert_cmpmem(secret.secret, 4, "\xcc\xcc\xcc\xcc", 4);

	/* every truncation, and one trailing byte */
	for (gsize i = 0; i < size; i++)
		g_assert_false(parse(data, i));
	buf[size] = 0;
	g_assert_false(parse(buf, size + 1));
	g_assert_false(parse(NULL, 0));

#define MUTATE(off, val)                          \
	do {                                      \
		memcpy(buf, data, size);          \
		buf[off] = (val);                 \
		g_assert_false(parse(buf, size)); \
	} while (0)
	MUTATE(0, 0xbb);  /* magic */
	MUTATE(7, 0x02);  /* version 2 */
	MUTATE(4, 0x01);  /* version 0x01000001 */
	MUTATE(8, 0xff);  /* ID object larger than the buffer and the type */
	MUTATE(9, 0x08);  /* ID object one byte too long */
	MUTATE(9, 0x06);  /* ID object one byte short: the secret size is misread */
	MUTATE(9, 0x01);  /* ID object smaller than its integrity size field */
	MUTATE(9, 0x00);  /* empty ID object */
	MUTATE(11, 0x06); /* integrity longer than the ID object */
	MUTATE(11, 0x00); /* no integrity */
	MUTATE(10, 0x80); /* integrity of 0x8002 */
	MUTATE(17, 0xff); /* secret larger than the type */
	MUTATE(18, 0x05); /* secret longer than the buffer */
	MUTATE(18, 0x03); /* secret shorter: trailing bytes */
	MUTATE(18, 0x00); /* empty secret */
#undef MUTATE
	/* and the mutations that stay valid still parse */
	memcpy(buf, data, size);
	buf[12] ^= 0xff;
	g_assert_true(parse(buf, size));
}

/* python3: hmac.new(base64.b64encode(challenge), agent_id, sha384).hexdigest() */
#define AUTH_CHALLENGE "abcdefghijklmnopqrstuvwxyzABCDEF"
#define AUTH_AGENT     "d432fbb3-d2f1-4a97-9ef7-75bd81c00000"
#define AUTH_TAG                                                                                   \
	"bd6e50f05cbb6d705c315e3d096540879eaf8ee687b09c0a5295851331688f053e7ce7682173f6433bd4dc92" \
	"bc3e11cf"

static void
test_auth_tag(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *tag = kl_makecredential_auth_tag(AUTH_CHALLENGE, AUTH_AGENT, &error);
	g_autofree gchar *upper = g_ascii_strup(AUTH_TAG, -1);
	g_autofree gchar *flipped = g_strdup(AUTH_TAG);
	g_autofree gchar *raw_key_tag = NULL;

	g_assert_no_error(error);
	g_assert_cmpstr(tag, ==, AUTH_TAG);
	g_assert_true(kl_makecredential_auth_tag_verify(AUTH_CHALLENGE, AUTH_AGENT, AUTH_TAG));
	/* wrong agent, wrong challenge */
	g_assert_false(kl_makecredential_auth_tag_verify(AUTH_CHALLENGE, "other-agent", AUTH_TAG));
	g_assert_false(kl_makecredential_auth_tag_verify("bbcdefghijklmnopqrstuvwxyzABCDEF",
							 AUTH_AGENT,
							 AUTH_TAG));
	/* keyed with the raw challenge instead of its base64 text: not the tag */
	raw_key_tag = kl_crypto_hmac_sha384_hex((const guint8 *)AUTH_CHALLENGE,
						32,
						(const guint8 *)AUTH_AGENT,
						strlen(AUTH_AGENT),
						&error);
	g_assert_no_error(error);
	g_assert_false(kl_makecredential_auth_tag_verify(AUTH_CHALLENGE, AUTH_AGENT, raw_key_tag));
	/* one hex digit off, truncated, extended, uppercase (upstream compares exactly) */
	flipped[95] = flipped[95] == '0' ? '1' : '0';
	g_assert_false(kl_makecredential_auth_tag_verify(AUTH_CHALLENGE, AUTH_AGENT, flipped));
	flipped[95] = '\0';
	g_assert_false(kl_makecredential_auth_tag_verify(AUTH_CHALLENGE, AUTH_AGENT, flipped));
	g_assert_false(kl_makecredential_auth_tag_verify(AUTH_CHALLENGE, AUTH_AGENT, AUTH_TAG "0"));
	g_assert_false(kl_makecredential_auth_tag_verify(AUTH_CHALLENGE, AUTH_AGENT, upper));
	g_assert_false(kl_makecredential_auth_tag_verify(AUTH_CHALLENGE, AUTH_AGENT, ""));
	g_assert_false(kl_makecredential_auth_tag_verify(AUTH_CHALLENGE, AUTH_AGENT, NULL));
}

static void
test_challenge(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *a = kl_makecredential_challenge_new(&error);
	g_autofree gchar *b = kl_makecredential_challenge_new(&error);

	g_assert_no_error(error);
	g_assert_cmpuint(strlen(a), ==, 32);
	for (guint i = 0; i < 32; i++)
		g_assert_true(g_ascii_isalnum(a[i]));
	g_assert_cmpstr(a, !=, b);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/makecredential/kdfa/vectors", test_kdfa_vectors);
	g_test_add_func("/makecredential/kdfa/multiblock", test_kdfa_multiblock);
	g_test_add_func("/makecredential/kdfa/refuses", test_kdfa_refuses);
	g_test_add_func("/makecredential/kdfe/vectors", test_kdfe_vectors);
	g_test_add_func("/makecredential/rsa/roundtrip", test_rsa_roundtrip);
	g_test_add_func("/makecredential/refuses", test_refuses);
	g_test_add_func("/makecredential/blob/parse-hostile", test_parse_hostile);
	g_test_add_func("/makecredential/auth-tag", test_auth_tag);
	g_test_add_func("/makecredential/challenge", test_challenge);
	return g_test_run();
}
