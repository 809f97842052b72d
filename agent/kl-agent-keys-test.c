#include "config.h"

#include "kl-agent-keys.h"
#include "kl-crypto.h"
#include "kl-error.h"
#include "kl-x509.h"

#define AGENT_ID "D432FBB3-D2F1-4A97-9EF7-75BD81C00000"

static EVP_PKEY *nk = NULL;

/* One tenant-side bootstrap: K, V, U = K xor V, auth_tag, payload. */
typedef struct {
	KlSecret *k;
	GBytes *enc_u;
	GBytes *enc_v;
	gchar *auth_tag;
	GBytes *enc_payload;
} Bootstrap;

static GBytes *
encrypt_share(KlSecret *share)
{
	g_autoptr(GError) error = NULL;
	gsize len = 0;
	const guint8 *data = kl_secret_get_data(share, &len);
	GBytes *out = kl_crypto_rsa_oaep_encrypt(nk, "sha1", NULL, 0, data, len, &error);
	g_assert_no_error(error);
	return out;
}

static Bootstrap *
bootstrap_new(gsize key_len, const gchar *agent_id, const gchar *plaintext)
{
	Bootstrap *b = g_new0(Bootstrap, 1);
	g_autoptr(GError) error = NULL;
	g_autoptr(KlSecret) v = NULL;
	g_autoptr(KlSecret) u = NULL;
	gsize len = 0;
	const guint8 *k_data;

	b->k = kl_crypto_random_secret(key_len, &error);
	g_assert_no_error(error);
	v = kl_crypto_random_secret(key_len, &error);
	g_assert_no_error(error);
	u = kl_secret_xor(b->k, v, &error);
	g_assert_no_error(error);
	b->enc_u = encrypt_share(u);
	b->enc_v = encrypt_share(v);
	k_data = kl_secret_get_data(b->k, &len);
	b->auth_tag = kl_crypto_hmac_sha384_hex(k_data,
						len,
						(const guint8 *)agent_id,
						strlen(agent_id),
						&error);
	g_assert_no_error(error);
	g_assert_cmpuint(strlen(b->auth_tag), ==, 96);
	if (plaintext != NULL) {
		b->enc_payload = kl_crypto_aes_gcm_encrypt(b->k,
							   (const guint8 *)plaintext,
							   strlen(plaintext),
							   &error);
		g_assert_no_error(error);
	}
	return b;
}

static void
bootstrap_free(Bootstrap *b)
{
	kl_secret_unref(b->k);
	g_bytes_unref(b->enc_u);
	g_bytes_unref(b->enc_v);
	g_free(b->auth_tag);
	if (b->enc_payload != NULL)
		g_bytes_unref(b->enc_payload);
	g_free(b);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Bootstrap, bootstrap_free)

static void
on_key_derived(KlAgentKeys *keys, gpointer user_data)
{
	guint *count = user_data;
	(*count)++;
}

static void
assert_key_is(KlAgentKeys *keys, Bootstrap *b, const gchar *plaintext)
{
	g_autoptr(KlSecret) k = kl_agent_keys_dup_key(keys);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) plain = NULL;
	g_autofree gchar *hmac = NULL;
	g_autofree gchar *expected = NULL;
	gsize len = 0;
	const guint8 *k_data;

	g_assert_nonnull(k);
	g_assert_true(kl_secret_equal(k, b->k));
	g_assert_cmpuint(kl_agent_keys_get_n_pending_u(keys), ==, 0);
	g_assert_cmpuint(kl_agent_keys_get_n_pending_v(keys), ==, 0);

	hmac = kl_agent_keys_verify_challenge(keys, "abcXYZ123", &error);
	g_assert_no_error(error);
	k_data = kl_secret_get_data(b->k, &len);
	expected = kl_crypto_hmac_sha384_hex(k_data, len, (const guint8 *)"abcXYZ123", 9, &error);
	g_assert_cmpstr(hmac, ==, expected);

	if (plaintext != NULL) {
		g_assert_true(kl_agent_keys_has_payload(keys));
		plain = kl_agent_keys_decrypt_payload(keys, &error);
		g_assert_no_error(error);
		g_assert_cmpmem(g_bytes_get_data(plain, NULL),
				g_bytes_get_size(plain),
				plaintext,
				strlen(plaintext));
	}
}

static void
test_u_then_v(void)
{
	g_autoptr(Bootstrap) b = bootstrap_new(32, AGENT_ID, "secret payload");
	g_autoptr(KlAgentKeys) keys = kl_agent_keys_new(AGENT_ID, nk);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *hmac = NULL;
	guint derived = 0;

	g_signal_connect(keys, "key-derived", G_CALLBACK(on_key_derived), &derived);
	hmac = kl_agent_keys_verify_challenge(keys, "abc", &error);
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_assert_cmpstr(error->message, ==, "Bootstrap key not yet available.");
	g_assert_null(hmac);
	g_clear_error(&error);

	g_assert_true(kl_agent_keys_add_u(keys, b->enc_u, b->auth_tag, b->enc_payload, &error));
	g_assert_no_error(error);
	g_assert_false(kl_agent_keys_has_key(keys));
	g_assert_cmpuint(derived, ==, 0);
	g_assert_true(kl_agent_keys_add_v(keys, b->enc_v, &error));
	g_assert_no_error(error);
	g_assert_true(kl_agent_keys_has_key(keys));
	g_assert_cmpuint(derived, ==, 1);
	assert_key_is(keys, b, "secret payload");

	kl_agent_keys_reset(keys);
	g_assert_false(kl_agent_keys_has_key(keys));
	g_assert_false(kl_agent_keys_has_payload(keys));
}

static void
test_v_then_u(void)
{
	g_autoptr(Bootstrap) b = bootstrap_new(32, AGENT_ID, "payload two");
	g_autoptr(KlAgentKeys) keys = kl_agent_keys_new(AGENT_ID, nk);
	g_autoptr(GError) error = NULL;

	g_assert_true(kl_agent_keys_add_v(keys, b->enc_v, &error));
	g_assert_false(kl_agent_keys_has_key(keys));
	g_assert_true(kl_agent_keys_add_u(keys, b->enc_u, b->auth_tag, b->enc_payload, &error));
	g_assert_no_error(error);
	assert_key_is(keys, b, "payload two");
}

static void
test_wrong_pair_first(void)
{
	g_autoptr(Bootstrap) good = bootstrap_new(32, AGENT_ID, "the right one");
	g_autoptr(Bootstrap) other = bootstrap_new(32, AGENT_ID, "another");
	g_autoptr(KlAgentKeys) keys = kl_agent_keys_new(AGENT_ID, nk);
	g_autoptr(GError) error = NULL;
	guint derived = 0;

	g_signal_connect(keys, "key-derived", G_CALLBACK(on_key_derived), &derived);
	/* U of one bootstrap with V of another: no match */
	g_assert_true(kl_agent_keys_add_u(keys,
					  other->enc_u,
					  other->auth_tag,
					  other->enc_payload,
					  &error));
	g_assert_true(kl_agent_keys_add_v(keys, good->enc_v, &error));
	g_assert_false(kl_agent_keys_has_key(keys));
	g_assert_cmpuint(kl_agent_keys_get_n_pending_u(keys), ==, 1);
	g_assert_cmpuint(kl_agent_keys_get_n_pending_v(keys), ==, 1);
	/* the matching U arrives: (good U, good V) is found among the pairs */
	g_assert_true(
		kl_agent_keys_add_u(keys, good->enc_u, good->auth_tag, good->enc_payload, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(derived, ==, 1);
	assert_key_is(keys, good, "the right one");
}

static void
test_wrong_auth_tag(void)
{
	/* the auth_tag is for another agent's UUID */
	g_autoptr(Bootstrap) b = bootstrap_new(32, "another-agent", "x");
	g_autoptr(Bootstrap) tampered = bootstrap_new(32, AGENT_ID, "y");
	g_autoptr(KlAgentKeys) keys = kl_agent_keys_new(AGENT_ID, nk);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *flipped = g_strdup(tampered->auth_tag);

	g_assert_true(kl_agent_keys_add_u(keys, b->enc_u, b->auth_tag, b->enc_payload, &error));
	g_assert_true(kl_agent_keys_add_v(keys, b->enc_v, &error));
	g_assert_false(kl_agent_keys_has_key(keys));

	/* one hex digit of a correct tag changed */
	flipped[95] = flipped[95] == '0' ? '1' : '0';
	g_assert_true(kl_agent_keys_add_u(keys, tampered->enc_u, flipped, NULL, &error));
	g_assert_true(kl_agent_keys_add_v(keys, tampered->enc_v, &error));
	g_assert_false(kl_agent_keys_has_key(keys));
	g_assert_null(kl_agent_keys_dup_key(keys));
	g_assert_null(kl_agent_keys_decrypt_payload(keys, &error));
	g_assert_nonnull(error);
}

static void
test_aes128(void)
{
	g_autoptr(Bootstrap) b = bootstrap_new(16, AGENT_ID, "short key payload");
	g_autoptr(KlAgentKeys) keys = kl_agent_keys_new(AGENT_ID, nk);
	g_autoptr(GError) error = NULL;

	g_assert_true(kl_agent_keys_add_u(keys, b->enc_u, b->auth_tag, b->enc_payload, &error));
	g_assert_true(kl_agent_keys_add_v(keys, b->enc_v, &error));
	g_assert_no_error(error);
	assert_key_is(keys, b, "short key payload");
}

static void
test_no_payload(void)
{
	g_autoptr(Bootstrap) b = bootstrap_new(32, AGENT_ID, NULL);
	g_autoptr(KlAgentKeys) keys = kl_agent_keys_new(AGENT_ID, nk);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) plain = NULL;

	g_assert_true(kl_agent_keys_add_v(keys, b->enc_v, &error));
	g_assert_true(kl_agent_keys_add_u(keys, b->enc_u, b->auth_tag, NULL, &error));
	assert_key_is(keys, b, NULL);
	g_assert_false(kl_agent_keys_has_payload(keys));
	plain = kl_agent_keys_decrypt_payload(keys, &error);
	g_assert_error(error, KL_ERROR, KL_ERROR_NOT_FOUND);
}

static void
test_tampered_payload(void)
{
	g_autoptr(Bootstrap) b = bootstrap_new(32, AGENT_ID, "integrity matters");
	g_autoptr(KlAgentKeys) keys = kl_agent_keys_new(AGENT_ID, nk);
	g_autoptr(GError) error = NULL;
	gsize len = 0;
	g_autofree guint8 *copy = g_bytes_unref_to_data(g_bytes_ref(b->enc_payload), &len);
	g_autoptr(GBytes) bad = NULL;
	g_autoptr(GBytes) plain = NULL;

	copy[KL_CRYPTO_GCM_IV_SIZE] ^= 1;
	bad = g_bytes_new(copy, len);
	g_assert_true(kl_agent_keys_add_u(keys, b->enc_u, b->auth_tag, bad, &error));
	g_assert_true(kl_agent_keys_add_v(keys, b->enc_v, &error));
	g_assert_true(kl_agent_keys_has_key(keys));
	plain = kl_agent_keys_decrypt_payload(keys, &error);
	g_assert_null(plain);
	g_assert_nonnull(error);
}

static void
test_bad_input(void)
{
	g_autoptr(Bootstrap) b = bootstrap_new(32, AGENT_ID, NULL);
	g_autoptr(KlAgentKeys) keys = kl_agent_keys_new(AGENT_ID, nk);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) garbage = g_bytes_new_static("not rsa", 7);
	g_autoptr(KlSecret) odd = kl_secret_new((const guint8 *)"twenty bytes of key!", 20);
	g_autoptr(GBytes) enc_odd = encrypt_share(odd);
	g_autofree gchar *hmac = NULL;
	g_autofree gchar *short_tag = g_strndup(b->auth_tag, 64);

	g_assert_false(kl_agent_keys_add_u(keys, b->enc_u, "zz", NULL, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_false(kl_agent_keys_add_u(keys, b->enc_u, short_tag, NULL, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_false(kl_agent_keys_add_u(keys, garbage, b->auth_tag, NULL, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "decrypt"));
	g_clear_error(&error);
	g_assert_false(kl_agent_keys_add_v(keys, enc_odd, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_cmpuint(kl_agent_keys_get_n_pending_u(keys), ==, 0);
	g_assert_cmpuint(kl_agent_keys_get_n_pending_v(keys), ==, 0);

	/* the challenge is alphanumeric and not empty */
	g_assert_true(kl_agent_keys_add_u(keys, b->enc_u, b->auth_tag, NULL, &error));
	g_assert_true(kl_agent_keys_add_v(keys, b->enc_v, &error));
	g_assert_true(kl_agent_keys_has_key(keys));
	hmac = kl_agent_keys_verify_challenge(keys, "", &error);
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	hmac = kl_agent_keys_verify_challenge(keys, "abc/../x", &error);
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_assert_null(hmac);
}

static void
test_share_limit(void)
{
	g_autoptr(Bootstrap) b = bootstrap_new(32, AGENT_ID, NULL);
	g_autoptr(KlAgentKeys) keys = kl_agent_keys_new(AGENT_ID, nk);
	g_autoptr(GError) error = NULL;

	for (guint i = 0; i < KL_AGENT_KEYS_MAX_SHARES + 4; i++)
		g_assert_true(kl_agent_keys_add_v(keys, b->enc_v, &error));
	g_assert_cmpuint(kl_agent_keys_get_n_pending_v(keys), ==, KL_AGENT_KEYS_MAX_SHARES);
	g_assert_true(kl_agent_keys_add_u(keys, b->enc_u, b->auth_tag, NULL, &error));
	g_assert_true(kl_agent_keys_has_key(keys));
}

static JsonObject *
parse_object(const gchar *json)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;

	g_assert_true(json_parser_load_from_data(parser, json, -1, &error));
	g_assert_no_error(error);
	return json_object_ref(json_node_get_object(json_parser_get_root(parser)));
}

static void
test_requests(void)
{
	g_autoptr(Bootstrap) b = bootstrap_new(32, AGENT_ID, "via json");
	g_autoptr(KlAgentKeys) keys = kl_agent_keys_new(AGENT_ID, nk);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *u64 =
		g_base64_encode(g_bytes_get_data(b->enc_u, NULL), g_bytes_get_size(b->enc_u));
	g_autofree gchar *v64 =
		g_base64_encode(g_bytes_get_data(b->enc_v, NULL), g_bytes_get_size(b->enc_v));
	g_autofree gchar *p64 = g_base64_encode(g_bytes_get_data(b->enc_payload, NULL),
						g_bytes_get_size(b->enc_payload));
	g_autofree gchar *ujson = g_strdup_printf(
		"{\"auth_tag\": \"%s\", \"encrypted_key\": \"%s\", \"payload\": \"%s\"}",
		b->auth_tag,
		u64,
		p64);
	g_autofree gchar *vjson = g_strdup_printf("{\"encrypted_key\": \"%s\"}", v64);
	g_autofree gchar *bad_b64 =
		g_strdup_printf("{\"auth_tag\": \"%s\", \"encrypted_key\": \"%s!!\"}",
				b->auth_tag,
				u64);
	g_autoptr(JsonObject) ubody = parse_object(ujson);
	g_autoptr(JsonObject) vbody = parse_object(vjson);
	g_autoptr(JsonObject) bad = parse_object(bad_b64);
	g_autoptr(JsonObject) missing = parse_object("{\"auth_tag\": \"00\"}");

	g_assert_false(kl_agent_keys_add_ukey_request(keys, bad, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "encrypted_key"));
	g_clear_error(&error);
	g_assert_false(kl_agent_keys_add_ukey_request(keys, missing, &error));
	g_assert_nonnull(strstr(error->message, "encrypted_key"));
	g_clear_error(&error);
	g_assert_false(kl_agent_keys_add_vkey_request(keys, missing, &error));
	g_assert_nonnull(error);
	g_clear_error(&error);

	g_assert_true(kl_agent_keys_add_ukey_request(keys, ubody, &error));
	g_assert_no_error(error);
	g_assert_true(kl_agent_keys_add_vkey_request(keys, vbody, &error));
	g_assert_no_error(error);
	assert_key_is(keys, b, "via json");
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	int rc;

	g_test_init(&argc, &argv, NULL);
	nk = kl_key_generate_rsa(2048, &error);
	g_assert_no_error(error);
	g_test_add_func("/agent-keys/u-then-v", test_u_then_v);
	g_test_add_func("/agent-keys/v-then-u", test_v_then_u);
	g_test_add_func("/agent-keys/wrong-pair-first", test_wrong_pair_first);
	g_test_add_func("/agent-keys/wrong-auth-tag", test_wrong_auth_tag);
	g_test_add_func("/agent-keys/aes128", test_aes128);
	g_test_add_func("/agent-keys/no-payload", test_no_payload);
	g_test_add_func("/agent-keys/tampered-payload", test_tampered_payload);
	g_test_add_func("/agent-keys/bad-input", test_bad_input);
	g_test_add_func("/agent-keys/share-limit", test_share_limit);
	g_test_add_func("/agent-keys/requests", test_requests);
	rc = g_test_run();
	EVP_PKEY_free(nk);
	return rc;
}
