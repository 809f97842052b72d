/*
 * Fuzz target: the crypto inputs an attacker controls — a Keylime payload
 * (IV || ciphertext || tag) under a fixed key of each size, and hex text.
 */
#include "config.h"

#include "kl-crypto.h"
#include "kl-fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const guint8 key_bytes[32] = {1,	 2,  3,	 4,  5,	 6,  7,	 8,  9,	 10, 11,
					     12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
					     23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
	g_autoptr(KlSecret) key256 = kl_secret_new(key_bytes, 32);
	g_autoptr(KlSecret) key128 = kl_secret_new(key_bytes, 16);
	g_autoptr(GBytes) plain256 = kl_crypto_aes_gcm_decrypt(key256, data, size, NULL);
	g_autoptr(GBytes) plain128 = kl_crypto_aes_gcm_decrypt(key128, data, size, NULL);
	g_autofree gchar *text = g_strndup((const gchar *)data, size);
	g_autoptr(GBytes) decoded = kl_crypto_hex_decode(text, NULL);

	/* Decoding what we encode gives it back. */
	if (decoded != NULL) {
		gsize decoded_size = 0;
		const guint8 *raw = g_bytes_get_data(decoded, &decoded_size);
		g_autofree gchar *again = kl_crypto_hex_encode(raw, decoded_size);
		g_autoptr(GBytes) round_trip = kl_crypto_hex_decode(again, NULL);
		g_assert_true(g_bytes_equal(round_trip, decoded));
	}
	return 0;
}
