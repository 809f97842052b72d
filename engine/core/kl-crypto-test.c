/*
 * Tests for kl-crypto: known-answer vectors, interoperability with the
 * openssl command line and python3-cryptography (what upstream Keylime
 * uses), and hostile input.
 */
#include "config.h"

#include <string.h>

#include "kl-crypto.h"
#include "kl-test-data.h"
#include "kl-test-dir.h"
#include "kl-x509.h"

/* Runs @argv; returns stdout, or NULL with the test skipped if argv[0] is
 * not installed.  A non-zero exit fails the test. */
static gchar *
run_tool(const gchar *const *argv)
{
	gint status = 0;
	g_autofree gchar *path = g_find_program_in_path(argv[0]);
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) args = g_ptr_array_new();

	if (path == NULL) {
		g_autofree gchar *msg = g_strdup_printf("%s not installed", argv[0]);
		g_test_skip(msg);
		return NULL;
	}
	g_ptr_array_add(args, path);
	for (guint i = 1; argv[i] != NULL; i++)
		g_ptr_array_add(args, (gpointer)argv[i]);
	g_ptr_array_add(args, NULL);
	g_assert_true(g_spawn_sync(NULL,
				   (gchar **)args->pdata,
				   NULL,
				   G_SPAWN_DEFAULT,
				   NULL,
				   NULL,
				   &out,
				   &err,
				   &status,
				   &error));
	g_assert_no_error(error);
	if (!g_spawn_check_wait_status(status, &error))
		g_test_message("%s stderr: %s", argv[0], err);
	g_assert_no_error(error);
	return g_steal_pointer(&out);
}

static gboolean
have_tool(const gchar *name)
{
	g_autofree gchar *path = g_find_program_in_path(name);
	if (path == NULL) {
		g_autofree gchar *msg = g_strdup_printf("%s not installed", name);
		g_test_skip(msg);
		return FALSE;
	}
	return TRUE;
}

static KlSecret *
hex_secret(const gchar *hex)
{
	g_autoptr(GBytes) bytes = kl_test_hex(hex);
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(bytes, &len);
	return kl_secret_new(data, len);
}

static gchar *
bytes_hex(GBytes *bytes)
{
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(bytes, &len);
	return kl_crypto_hex_encode(data, len);
}

static void
test_random_bytes(void)
{
	guint8 a[32] = {0};
	guint8 b[32] = {0};
	g_autoptr(GError) error = NULL;
	g_autoptr(KlSecret) secret = NULL;

	g_assert_true(kl_crypto_random_bytes(a, sizeof(a), &error));
	g_assert_no_error(error);
	g_assert_true(kl_crypto_random_bytes(b, sizeof(b), &error));
	g_assert_false(kl_crypto_memeq(a, b, sizeof(a)));
	secret = kl_crypto_random_secret(32, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(kl_secret_get_size(secret), ==, 32);
}

static void
test_random_password_mapping(void)
{
	/* b % 62 into ascii_letters + digits: lowercase first, as Python */
	const guint8 raw[] = {0, 25, 26, 51, 52, 61, 62, 255};
	g_autofree gchar *pw = kl_crypto_password_from_bytes(raw, sizeof(raw));
	g_assert_cmpstr(pw, ==, "azAZ09ah");
}

static void
test_random_password_python(void)
{
	const guint8 raw[] = {7, 100, 200, 33, 61, 150, 9, 254};
	g_autofree gchar *pw = kl_crypto_password_from_bytes(raw, sizeof(raw));
	g_autofree gchar *py = NULL;
	const gchar *argv[] = {"python3",
			       "-c",
			       "import string,sys\n"
			       "c = string.ascii_letters + string.digits\n"
			       "raw = bytes([7, 100, 200, 33, 61, 150, 9, 254])\n"
			       "sys.stdout.write(''.join(c[b % len(c)] for b in raw))\n",
			       NULL};

	py = run_tool(argv);
	if (py == NULL)
		return;
	g_assert_cmpstr(pw, ==, py);
}

static void
test_random_password(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *a = kl_crypto_random_password(32, &error);
	g_autofree gchar *b = NULL;

	g_assert_no_error(error);
	g_assert_cmpuint(strlen(a), ==, 32);
	for (guint i = 0; a[i] != '\0'; i++)
		g_assert_true(g_ascii_isalnum(a[i]));
	b = kl_crypto_random_password(32, &error);
	g_assert_cmpstr(a, !=, b);
}

static void
test_digest_known_answer(void)
{
	struct {
		const gchar *alg;
		const gchar *hex;
	} vectors[] = {
		{"sha1", "a9993e364706816aba3e25717850c26c9cd0d89d"},
		{"sha256", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"sha384",
		 "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc23"
		 "58baeca134c825a7"},
		{"sha512",
		 "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a8"
		 "36ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
		{"sm3_256", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(vectors); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GBytes) md =
			kl_crypto_digest_bytes(vectors[i].alg, (const guint8 *)"abc", 3, &error);
		g_autofree gchar *hex = NULL;
		g_assert_no_error(error);
		hex = bytes_hex(md);
		g_assert_cmpstr(hex, ==, vectors[i].hex);
	}
}

static void
test_digest_cached(void)
{
	g_autoptr(GError) error = NULL;
	const EVP_MD *a = kl_crypto_get_md("sha256", &error);
	const EVP_MD *b = kl_crypto_get_md("sha256", &error);

	g_assert_no_error(error);
	g_assert_nonnull(a);
	g_assert_true(a == b);
	g_assert_null(kl_crypto_get_md("md5", &error));
	g_assert_error(error, KL_CRYPTO_ERROR, KL_CRYPTO_ERROR_NOT_SUPPORTED);
	g_assert_nonnull(strstr(error->message, "md5"));
}

static void
test_hmac_rfc4231(void)
{
	const gchar *msg = "what do ya want for nothing?";
	g_autoptr(GError) error = NULL;
	g_autofree gchar *hex = kl_crypto_hmac_sha384_hex((const guint8 *)"Jefe",
							  4,
							  (const guint8 *)msg,
							  strlen(msg),
							  &error);

	g_assert_no_error(error);
	g_assert_cmpstr(hex,
			==,
			"af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
			"8e2240ca5e69e2c78b3239ecfab21649");
}

static void
test_hmac_openssl_interop(void)
{
	const gchar *uuid = "d432fbb3-d2f1-4a97-9ef7-75bd81c00000";
	guint8 key[32];
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *msg_path = kl_test_dir_write(dir, "msg", uuid, -1);
	g_autofree gchar *key_hex = NULL;
	g_autofree gchar *macopt = NULL;
	g_autofree gchar *ours = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *expected = NULL;

	if (!have_tool("openssl"))
		return;
	g_assert_true(kl_crypto_random_bytes(key, sizeof(key), &error));
	key_hex = kl_crypto_hex_encode(key, sizeof(key));
	macopt = g_strdup_printf("hexkey:%s", key_hex);
	{
		const gchar *argv[] = {"openssl",
				       "dgst",
				       "-sha384",
				       "-mac",
				       "HMAC",
				       "-macopt",
				       macopt,
				       msg_path,
				       NULL};
		out = run_tool(argv);
	}
	ours = kl_crypto_hmac_sha384_hex(key,
					 sizeof(key),
					 (const guint8 *)uuid,
					 strlen(uuid),
					 &error);
	g_assert_no_error(error);
	g_assert_cmpuint(strlen(ours), ==, 96);
	expected = g_strdup_printf("= %s\n", ours);
	g_assert_true(g_str_has_suffix(out, expected));
}

static void
test_memeq(void)
{
	g_assert_true(kl_crypto_memeq("abcd", "abcd", 4));
	g_assert_false(kl_crypto_memeq("abcd", "abce", 4));
	g_assert_true(kl_crypto_memeq(NULL, NULL, 0));
	g_assert_true(kl_crypto_hex_equal("00ff", "00ff"));
	g_assert_false(kl_crypto_hex_equal("00ff", "00fe"));
	g_assert_false(kl_crypto_hex_equal("00ff", "00ff00"));
	g_assert_false(kl_crypto_hex_equal("00ff", NULL));
}

static void
test_hex(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) bytes = kl_test_hex("00A1ff");
	g_autofree gchar *hex = bytes_hex(bytes);

	g_assert_cmpstr(hex, ==, "00a1ff");
	g_assert_null(kl_crypto_hex_decode("abc", &error));
	g_assert_error(error, KL_CRYPTO_ERROR, KL_CRYPTO_ERROR_INVALID_INPUT);
	g_assert_nonnull(strstr(error->message, "odd length"));
	g_clear_error(&error);
	g_assert_null(kl_crypto_hex_decode("0g", &error));
	g_assert_error(error, KL_CRYPTO_ERROR, KL_CRYPTO_ERROR_INVALID_INPUT);
	g_assert_nonnull(strstr(error->message, "offset 1"));
}

static void
test_aes_gcm_roundtrip(void)
{
	const gchar *plain = "keylime payload";
	const gsize sizes[] = {32, 16};

	for (guint i = 0; i < G_N_ELEMENTS(sizes); i++) {
		gsize len = 0;
		const guint8 *data;
		g_autoptr(GError) error = NULL;
		g_autoptr(KlSecret) key = kl_crypto_random_secret(sizes[i], &error);
		g_autoptr(GBytes) ct = NULL;
		g_autoptr(GBytes) pt = NULL;
		g_autoptr(GBytes) empty = NULL;
		g_autoptr(GBytes) empty_pt = NULL;

		ct = kl_crypto_aes_gcm_encrypt(key, (const guint8 *)plain, strlen(plain), &error);
		g_assert_no_error(error);
		g_assert_cmpuint(g_bytes_get_size(ct), ==, 16 + strlen(plain) + 16);
		data = g_bytes_get_data(ct, &len);
		pt = kl_crypto_aes_gcm_decrypt(key, data, len, &error);
		g_assert_no_error(error);
		g_assert_cmpmem(g_bytes_get_data(pt, NULL),
				g_bytes_get_size(pt),
				plain,
				strlen(plain));

		empty = kl_crypto_aes_gcm_encrypt(key, NULL, 0, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(g_bytes_get_size(empty), ==, 32);
		data = g_bytes_get_data(empty, &len);
		empty_pt = kl_crypto_aes_gcm_decrypt(key, data, len, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(g_bytes_get_size(empty_pt), ==, 0);
	}
}

/* Wycheproof aes_gcm_test.json, AES-256 with 128-bit IVs, tcId 200/203/204 */
static void
test_aes_gcm_known_answer(void)
{
	struct {
		const gchar *key, *iv, *msg, *ct, *tag;
	} vectors[] = {
		{"b4cd11db0b3e0b9b34eafd9fe027746976379155e76116afde1b96d21298e34f",
		 "00c49f4ebb07393f07ebc3825f7b0830",
		 "",
		 "",
		 "306fe8c9645cc849823e333a685b90b2"},
		{"e7f7a48df99edd92b81f508618aa96526b279debd9ddb292d385ddbae80b2259",
		 "7ee376910f08f497aa6c3aa7113697fd",
		 "5e51dbbb861b5ec60751c0996e00527f",
		 "469478d448f7e97d755541aa09ad95b0",
		 "254ada5cf662d90c5e11b2bd9c4db4c4"},
		{"4f84782bfbb64a973c3de3dcfa3430367fd68bc0b4c3b31e5d7c8141ba3e6a67",
		 "5d1bde6fa0994b33efd8f23f531248a7",
		 "78cb6650a1908a842101ea85804fed00cc56fbdafafba0ef4d1ca607dcae57b6",
		 "cb960201fa5ad41d41d1c2c8037c71d52b72e76b16b589d71b976627c9734c9d",
		 "8dfce16467c3a6ebb3e7242c9a551962"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(vectors); i++) {
		gsize len = 0;
		const guint8 *data;
		g_autoptr(GError) error = NULL;
		g_autoptr(KlSecret) key = hex_secret(vectors[i].key);
		g_autoptr(GBytes) iv = kl_test_hex(vectors[i].iv);
		g_autoptr(GBytes) msg = kl_test_hex(vectors[i].msg);
		g_autoptr(GBytes) out = NULL;
		g_autoptr(GBytes) back = NULL;
		g_autofree gchar *expected =
			g_strconcat(vectors[i].iv, vectors[i].ct, vectors[i].tag, NULL);
		g_autofree gchar *hex = NULL;
		g_autofree gchar *msg_hex = NULL;

		out = kl_crypto_aes_gcm_encrypt_with_iv(key,
							g_bytes_get_data(iv, NULL),
							g_bytes_get_size(iv),
							g_bytes_get_data(msg, NULL),
							g_bytes_get_size(msg),
							&error);
		g_assert_no_error(error);
		hex = bytes_hex(out);
		g_assert_cmpstr(hex, ==, expected);
		data = g_bytes_get_data(out, &len);
		back = kl_crypto_aes_gcm_decrypt(key, data, len, &error);
		g_assert_no_error(error);
		msg_hex = bytes_hex(back);
		g_assert_cmpstr(msg_hex, ==, vectors[i].msg);
	}
}

static const gchar *py_aesgcm_encrypt =
	"import os,sys\n"
	"from cryptography.hazmat.primitives.ciphers.aead import AESGCM\n"
	"key = bytes.fromhex(sys.argv[1]); pt = bytes.fromhex(sys.argv[2])\n"
	"iv = os.urandom(16)\n"
	"sys.stdout.write((iv + AESGCM(key).encrypt(iv, pt, None)).hex())\n";

static const gchar *py_aesgcm_decrypt =
	"import sys\n"
	"from cryptography.hazmat.primitives.ciphers.aead import AESGCM\n"
	"key = bytes.fromhex(sys.argv[1]); data = bytes.fromhex(sys.argv[2])\n"
	"sys.stdout.write(AESGCM(key).decrypt(data[:16], data[16:], None).hex())\n";

static gboolean
have_python_cryptography(void)
{
	gint status = 0;
	const gchar *argv[] = {"python3", "-c", "import cryptography", NULL};
	g_autofree gchar *path = g_find_program_in_path("python3");

	if (path == NULL) {
		g_test_skip("python3 not installed");
		return FALSE;
	}
	argv[0] = path;
	if (!g_spawn_sync(NULL,
			  (gchar **)argv,
			  NULL,
			  G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
			  NULL,
			  NULL,
			  NULL,
			  NULL,
			  &status,
			  NULL) ||
	    !g_spawn_check_wait_status(status, NULL)) {
		g_test_skip("python3-cryptography not installed");
		return FALSE;
	}
	return TRUE;
}

static void
test_aes_gcm_python_interop(void)
{
	const gchar *plain = "#!/bin/sh\necho payload from the tenant\n";
	const gsize sizes[] = {32, 16};

	if (!have_python_cryptography())
		return;
	for (guint i = 0; i < G_N_ELEMENTS(sizes); i++) {
		gsize len = 0;
		const guint8 *data;
		g_autoptr(GError) error = NULL;
		g_autoptr(KlSecret) key = kl_crypto_random_secret(sizes[i], &error);
		g_autofree gchar *key_hex =
			kl_crypto_hex_encode(kl_secret_get_data(key, NULL), sizes[i]);
		g_autofree gchar *plain_hex =
			kl_crypto_hex_encode((const guint8 *)plain, strlen(plain));
		g_autofree gchar *py_ct = NULL;
		g_autofree gchar *py_pt = NULL;
		g_autofree gchar *our_ct_hex = NULL;
		g_autoptr(GBytes) py_ct_bytes = NULL;
		g_autoptr(GBytes) our_pt = NULL;
		g_autoptr(GBytes) our_ct = NULL;

		/* python encrypts, we decrypt */
		{
			const gchar *argv[] =
				{"python3", "-c", py_aesgcm_encrypt, key_hex, plain_hex, NULL};
			py_ct = run_tool(argv);
		}
		py_ct_bytes = kl_test_hex(py_ct);
		data = g_bytes_get_data(py_ct_bytes, &len);
		our_pt = kl_crypto_aes_gcm_decrypt(key, data, len, &error);
		g_assert_no_error(error);
		g_assert_cmpmem(g_bytes_get_data(our_pt, NULL),
				g_bytes_get_size(our_pt),
				plain,
				strlen(plain));

		/* we encrypt, python decrypts */
		our_ct = kl_crypto_aes_gcm_encrypt(key,
						   (const guint8 *)plain,
						   strlen(plain),
						   &error);
		g_assert_no_error(error);
		our_ct_hex = bytes_hex(our_ct);
		{
			const gchar *argv[] =
				{"python3", "-c", py_aesgcm_decrypt, key_hex, our_ct_hex, NULL};
			py_pt = run_tool(argv);
		}
		g_assert_cmpstr(py_pt, ==, plain_hex);
	}
}

static void
test_aes_gcm_short(void)
{
	guint8 data[31] = {0};
	g_autoptr(GError) error = NULL;
	g_autoptr(KlSecret) key = kl_crypto_random_secret(32, &error);

	g_assert_null(kl_crypto_aes_gcm_decrypt(key, data, sizeof(data), &error));
	g_assert_error(error, KL_CRYPTO_ERROR, KL_CRYPTO_ERROR_INVALID_INPUT);
	g_assert_nonnull(strstr(error->message, "31 bytes"));
	g_clear_error(&error);
	g_assert_null(kl_crypto_aes_gcm_decrypt(key, data, 0, &error));
	g_assert_error(error, KL_CRYPTO_ERROR, KL_CRYPTO_ERROR_INVALID_INPUT);
}

static void
test_aes_gcm_tampered(void)
{
	gsize len = 0;
	g_autofree guint8 *copy = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(KlSecret) key = kl_crypto_random_secret(32, &error);
	g_autoptr(KlSecret) other = kl_crypto_random_secret(32, &error);
	g_autoptr(GBytes) ct = kl_crypto_aes_gcm_encrypt(key, (const guint8 *)"secret", 6, &error);

	g_assert_no_error(error);
	copy = g_bytes_unref_to_data(g_bytes_ref(ct), &len);

	/* flipped tag bit */
	copy[len - 1] ^= 0x01;
	g_assert_null(kl_crypto_aes_gcm_decrypt(key, copy, len, &error));
	g_assert_error(error, KL_CRYPTO_ERROR, KL_CRYPTO_ERROR_DECRYPT);
	g_assert_nonnull(strstr(error->message, "tag mismatch"));
	g_clear_error(&error);
	copy[len - 1] ^= 0x01;

	/* flipped ciphertext bit */
	copy[16] ^= 0x80;
	g_assert_null(kl_crypto_aes_gcm_decrypt(key, copy, len, &error));
	g_assert_error(error, KL_CRYPTO_ERROR, KL_CRYPTO_ERROR_DECRYPT);
	g_clear_error(&error);
	copy[16] ^= 0x80;

	/* wrong key */
	g_assert_null(kl_crypto_aes_gcm_decrypt(other, copy, len, &error));
	g_assert_error(error, KL_CRYPTO_ERROR, KL_CRYPTO_ERROR_DECRYPT);
}

static void
test_aes_gcm_key_size(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlSecret) key = kl_crypto_random_secret(24, &error);
	guint8 data[48] = {0};

	g_assert_null(kl_crypto_aes_gcm_encrypt(key, (const guint8 *)"x", 1, &error));
	g_assert_error(error, KL_CRYPTO_ERROR, KL_CRYPTO_ERROR_INVALID_KEY);
	g_assert_nonnull(strstr(error->message, "24 bytes"));
	g_clear_error(&error);
	g_assert_null(kl_crypto_aes_gcm_decrypt(key, data, sizeof(data), &error));
	g_assert_error(error, KL_CRYPTO_ERROR, KL_CRYPTO_ERROR_INVALID_KEY);
}

/* An RSA-2048 key pair written to @dir as priv.pem and pub.pem. */
static EVP_PKEY *
make_rsa_key(KlTestDir *dir)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) key = kl_key_generate_rsa(2048, &error);
	g_autofree gchar *priv = NULL;
	g_autofree gchar *pub = NULL;
	g_autofree gchar *p1 = NULL;
	g_autofree gchar *p2 = NULL;

	g_assert_no_error(error);
	priv = kl_key_to_pem_private(key, &error);
	g_assert_no_error(error);
	pub = kl_key_to_pem_public(key, &error);
	g_assert_no_error(error);
	p1 = kl_test_dir_write(dir, "priv.pem", priv, -1);
	p2 = kl_test_dir_write(dir, "pub.pem", pub, -1);
	return g_steal_pointer(&key);
}

static void
check_oaep_interop(const gchar *md, const guint8 *label, gsize label_len)
{
	const gchar *plain = "0123456789abcdef0123456789abcdef";
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autoptr(EVP_PKEY) key = NULL;
	g_autoptr(GBytes) ct = NULL;
	g_autoptr(KlSecret) back = NULL;
	g_autofree gchar *priv = kl_test_dir_build(dir, "priv.pem", NULL);
	g_autofree gchar *pub = kl_test_dir_build(dir, "pub.pem", NULL);
	g_autofree gchar *ct_path = NULL;
	g_autofree gchar *pt_path = NULL;
	g_autofree gchar *ct2_path = kl_test_dir_build(dir, "ct2", NULL);
	g_autofree gchar *out = NULL;
	g_autofree gchar *ct2 = NULL;
	g_autofree gchar *opt_md = g_strdup_printf("rsa_oaep_md:%s", md);
	g_autofree gchar *opt_mgf = g_strdup_printf("rsa_mgf1_md:%s", md);
	g_autofree gchar *label_hex = kl_crypto_hex_encode(label, label_len);
	g_autofree gchar *opt_label = g_strdup_printf("rsa_oaep_label:%s", label_hex);
	gsize ct2_len = 0;

	if (!have_tool("openssl"))
		return;
	key = make_rsa_key(dir);
	pt_path = kl_test_dir_write(dir, "pt", plain, -1);

	/* we encrypt, openssl decrypts */
	ct = kl_crypto_rsa_oaep_encrypt(key,
					md,
					label,
					label_len,
					(const guint8 *)plain,
					strlen(plain),
					&error);
	g_assert_no_error(error);
	g_assert_cmpuint(g_bytes_get_size(ct), ==, 256);
	ct_path = kl_test_dir_write(dir,
				    "ct",
				    g_bytes_get_data(ct, NULL),
				    (gssize)g_bytes_get_size(ct));
	{
		const gchar *argv[] = {"openssl",
				       "pkeyutl",
				       "-decrypt",
				       "-inkey",
				       priv,
				       "-in",
				       ct_path,
				       "-pkeyopt",
				       "rsa_padding_mode:oaep",
				       "-pkeyopt",
				       opt_md,
				       "-pkeyopt",
				       opt_mgf,
				       label_len > 0 ? "-pkeyopt" : NULL,
				       opt_label,
				       NULL};
		out = run_tool(argv);
	}
	g_assert_cmpstr(out, ==, plain);

	/* openssl encrypts, we decrypt */
	{
		const gchar *argv[] = {"openssl",
				       "pkeyutl",
				       "-encrypt",
				       "-pubin",
				       "-inkey",
				       pub,
				       "-in",
				       pt_path,
				       "-out",
				       ct2_path,
				       "-pkeyopt",
				       "rsa_padding_mode:oaep",
				       "-pkeyopt",
				       opt_md,
				       "-pkeyopt",
				       opt_mgf,
				       label_len > 0 ? "-pkeyopt" : NULL,
				       opt_label,
				       NULL};
		g_free(run_tool(argv));
	}
	g_assert_true(g_file_get_contents(ct2_path, &ct2, &ct2_len, &error));
	back = kl_crypto_rsa_oaep_decrypt(key,
					  md,
					  label,
					  label_len,
					  (const guint8 *)ct2,
					  ct2_len,
					  &error);
	g_assert_no_error(error);
	g_assert_cmpmem(kl_secret_get_data(back, NULL),
			kl_secret_get_size(back),
			plain,
			strlen(plain));

	/* a different label must not decrypt */
	if (label_len > 0) {
		g_autoptr(KlSecret) bad = kl_crypto_rsa_oaep_decrypt(key,
								     md,
								     NULL,
								     0,
								     (const guint8 *)ct2,
								     ct2_len,
								     &error);
		g_assert_null(bad);
		g_assert_error(error, KL_CRYPTO_ERROR, KL_CRYPTO_ERROR_DECRYPT);
	}
}

static void
test_rsa_oaep_sha1_openssl_interop(void)
{
	check_oaep_interop("sha1", NULL, 0);
}

static void
test_rsa_oaep_sha256_label_openssl_interop(void)
{
	/* MakeCredential: "IDENTITY" with its NUL */
	check_oaep_interop("sha256", (const guint8 *)"IDENTITY", 9);
}

static void
test_rsa_oaep_bad_length(void)
{
	guint8 data[255] = {0};
	guint8 big[300] = {0};
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) key = kl_key_generate_rsa(2048, &error);
	g_autoptr(EVP_PKEY) ec = kl_key_generate_ec("P-256", &error);
	g_autoptr(KlSecret) s = NULL;
	g_autoptr(GBytes) ct = NULL;

	g_assert_no_error(error);
	s = kl_crypto_rsa_oaep_decrypt(key, "sha1", NULL, 0, data, sizeof(data), &error);
	g_assert_null(s);
	g_assert_error(error, KL_CRYPTO_ERROR, KL_CRYPTO_ERROR_INVALID_INPUT);
	g_assert_nonnull(strstr(error->message, "255 bytes"));
	g_clear_error(&error);

	/* garbage of the right length */
	memset(data, 0x5a, sizeof(data));
	{
		guint8 right[256];
		memset(right, 0x5a, sizeof(right));
		right[0] = 0;
		s = kl_crypto_rsa_oaep_decrypt(key, "sha1", NULL, 0, right, sizeof(right), &error);
		g_assert_null(s);
		g_assert_error(error, KL_CRYPTO_ERROR, KL_CRYPTO_ERROR_DECRYPT);
		g_clear_error(&error);
	}

	/* plaintext too long for the key */
	ct = kl_crypto_rsa_oaep_encrypt(key, "sha1", NULL, 0, big, sizeof(big), &error);
	g_assert_null(ct);
	g_assert_error(error, KL_CRYPTO_ERROR, KL_CRYPTO_ERROR_INVALID_INPUT);
	g_clear_error(&error);

	/* not an RSA key */
	ct = kl_crypto_rsa_oaep_encrypt(ec, "sha1", NULL, 0, big, 16, &error);
	g_assert_null(ct);
	g_assert_error(error, KL_CRYPTO_ERROR, KL_CRYPTO_ERROR_INVALID_KEY);
}

static void
test_rsa_pss(void)
{
	const gchar *msg = "revocation message";
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autoptr(EVP_PKEY) key = make_rsa_key(dir);
	g_autoptr(GBytes) sig = NULL;
	g_autofree guint8 *copy = NULL;
	g_autofree gchar *pub = kl_test_dir_build(dir, "pub.pem", NULL);
	g_autofree gchar *msg_path = kl_test_dir_write(dir, "msg", msg, -1);
	g_autofree gchar *sig_path = NULL;
	g_autofree gchar *out = NULL;
	gsize len = 0;

	sig = kl_crypto_rsa_pss_sign(key, (const guint8 *)msg, strlen(msg), &error);
	g_assert_no_error(error);
	g_assert_true(kl_crypto_rsa_pss_verify(key,
					       (const guint8 *)msg,
					       strlen(msg),
					       g_bytes_get_data(sig, NULL),
					       g_bytes_get_size(sig),
					       &error));
	g_assert_no_error(error);

	copy = g_bytes_unref_to_data(g_bytes_ref(sig), &len);
	copy[10] ^= 0x04;
	g_assert_false(
		kl_crypto_rsa_pss_verify(key, (const guint8 *)msg, strlen(msg), copy, len, &error));
	g_assert_error(error, KL_CRYPTO_ERROR, KL_CRYPTO_ERROR_VERIFY);
	g_clear_error(&error);
	g_assert_false(
		kl_crypto_rsa_pss_verify(key, (const guint8 *)msg, strlen(msg), copy, 12, &error));
	g_assert_error(error, KL_CRYPTO_ERROR, KL_CRYPTO_ERROR_VERIFY);

	if (!have_tool("openssl"))
		return;
	sig_path = kl_test_dir_write(dir,
				     "sig",
				     g_bytes_get_data(sig, NULL),
				     (gssize)g_bytes_get_size(sig));
	{
		const gchar *argv[] = {"openssl",
				       "dgst",
				       "-sha256",
				       "-verify",
				       pub,
				       "-sigopt",
				       "rsa_padding_mode:pss",
				       "-sigopt",
				       "rsa_pss_saltlen:max",
				       "-signature",
				       sig_path,
				       msg_path,
				       NULL};
		out = run_tool(argv);
	}
	g_assert_cmpstr(out, ==, "Verified OK\n");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/crypto/random/bytes", test_random_bytes);
	g_test_add_func("/crypto/random/password", test_random_password);
	g_test_add_func("/crypto/random/password-mapping", test_random_password_mapping);
	g_test_add_func("/crypto/random/password-python", test_random_password_python);
	g_test_add_func("/crypto/digest/known-answer", test_digest_known_answer);
	g_test_add_func("/crypto/digest/cached", test_digest_cached);
	g_test_add_func("/crypto/hmac/rfc4231", test_hmac_rfc4231);
	g_test_add_func("/crypto/hmac/openssl-interop", test_hmac_openssl_interop);
	g_test_add_func("/crypto/memeq", test_memeq);
	g_test_add_func("/crypto/hex", test_hex);
	g_test_add_func("/crypto/aes-gcm/roundtrip", test_aes_gcm_roundtrip);
	g_test_add_func("/crypto/aes-gcm/known-answer", test_aes_gcm_known_answer);
	g_test_add_func("/crypto/aes-gcm/python-interop", test_aes_gcm_python_interop);
	g_test_add_func("/crypto/aes-gcm/short", test_aes_gcm_short);
	g_test_add_func("/crypto/aes-gcm/tampered", test_aes_gcm_tampered);
	g_test_add_func("/crypto/aes-gcm/key-size", test_aes_gcm_key_size);
	g_test_add_func("/crypto/rsa-oaep/sha1-openssl-interop",
			test_rsa_oaep_sha1_openssl_interop);
	g_test_add_func("/crypto/rsa-oaep/sha256-label-openssl-interop",
			test_rsa_oaep_sha256_label_openssl_interop);
	g_test_add_func("/crypto/rsa-oaep/bad-length", test_rsa_oaep_bad_length);
	g_test_add_func("/crypto/rsa-pss/sign-verify", test_rsa_pss);
	return g_test_run();
}
