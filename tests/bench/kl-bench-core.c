/*
 * Benchmarks of libkl-core's hot paths, each against a baseline measured
 * in the same run, printed as a ratio (baseline time / our time):
 *
 *  - digests and HMACs with algorithms fetched once (kl-crypto) against
 *    fetching them per call, the easy mistake on a per-attestation path;
 *  - checked JSON parsing (size and depth scan first) against json-glib
 *    alone, to show what the limits cost.
 *
 * Run: meson test -C build --benchmark --verbose
 */
#include "config.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "kl-crypto.h"
#include "kl-json.h"

typedef void (*KlBenchFunc)(gpointer user_data);

static gdouble
kl_bench_time(KlBenchFunc func, gpointer user_data, guint iterations)
{
	gint64 start;
	/* Warm up caches and the allocator before the clock starts. */
	for (guint i = 0; i < iterations / 10 + 1; i++)
		func(user_data);
	start = g_get_monotonic_time();
	for (guint i = 0; i < iterations; i++)
		func(user_data);
	return (gdouble)(g_get_monotonic_time() - start) / iterations;
}

static void
kl_bench_report(const gchar *name, gdouble ours_us, gdouble baseline_us, const gchar *baseline)
{
	g_print("%-34s %8.3f us/op   baseline (%s) %8.3f us/op   ratio %.2fx\n",
		name,
		ours_us,
		baseline,
		baseline_us,
		baseline_us / ours_us);
}

static guint8 bench_data[64];

static void
bench_digest_cached(gpointer user_data)
{
	guint8 out[EVP_MAX_MD_SIZE];
	gsize out_len = 0;
	if (!kl_crypto_digest("sha256", bench_data, sizeof(bench_data), out, &out_len, NULL))
		g_error("digest failed");
}

static void
bench_digest_fetch_per_call(gpointer user_data)
{
	guint8 out[EVP_MAX_MD_SIZE];
	guint out_len = 0;
	EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (md == NULL || !EVP_Digest(bench_data, sizeof(bench_data), out, &out_len, md, NULL))
		g_error("digest failed");
	EVP_MD_free(md);
}

static void
bench_hmac_cached(gpointer user_data)
{
	g_autofree gchar *tag =
		kl_crypto_hmac_sha384_hex(bench_data, 32, (const guint8 *)"agent-1", 7, NULL);
	if (tag == NULL)
		g_error("hmac failed");
}

static void
bench_hmac_fetch_per_call(gpointer user_data)
{
	guint8 out[EVP_MAX_MD_SIZE];
	gsize out_len = 0;
	g_autofree gchar *tag = NULL;
	gchar digest_name[] = "SHA384";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);

	if (!EVP_MAC_init(ctx, bench_data, 32, params) ||
	    !EVP_MAC_update(ctx, (const guint8 *)"agent-1", 7) ||
	    !EVP_MAC_final(ctx, out, &out_len, sizeof(out)))
		g_error("hmac failed");
	tag = kl_crypto_hex_encode(out, out_len);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
}

static gchar *bench_json_text;

static void
bench_json_checked(gpointer user_data)
{
	g_autoptr(JsonObject) object = kl_json_parse_object(bench_json_text,
							    strlen(bench_json_text),
							    KL_JSON_DEFAULT_MAX_SIZE,
							    KL_JSON_DEFAULT_MAX_DEPTH,
							    NULL);
	if (object == NULL)
		g_error("parse failed");
}

static void
bench_json_plain(gpointer user_data)
{
	g_autoptr(JsonParser) parser = json_parser_new_immutable();
	if (!json_parser_load_from_data(parser, bench_json_text, -1, NULL))
		g_error("parse failed");
}

/* A registration-sized body: base64 keys and a PEM certificate. */
static gchar *
bench_make_registration_body(void)
{
	g_autoptr(GString) body = g_string_new("{\"aik_tpm\": \"");
	for (guint i = 0; i < 380; i++)
		g_string_append_c(
			body,
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[i % 64]);
	g_string_append(body, "\", \"ek_tpm\": \"");
	for (guint i = 0; i < 380; i++)
		g_string_append_c(body, 'A' + (gchar)(i % 26));
	g_string_append(body, "\", \"mtls_cert\": \"-----BEGIN CERTIFICATE-----\\n");
	for (guint i = 0; i < 1400; i++)
		g_string_append_c(body, (i % 65 == 64) ? '\\' : 'Q');
	g_string_append(
		body,
		"\\n-----END CERTIFICATE-----\\n\", \"ip\": \"127.0.0.1\", \"port\": 9002}");
	return g_string_free(g_steal_pointer(&body), FALSE);
}

int
main(int argc, char **argv)
{
	guint iterations = 100000;

	if (argc > 1)
		iterations = (guint)g_ascii_strtoull(argv[1], NULL, 10);
	memset(bench_data, 0x5a, sizeof(bench_data));
	bench_json_text = bench_make_registration_body();

	g_print("# keylime-c core benchmarks, %u iterations each\n", iterations);
	kl_bench_report("sha256 of 64 bytes",
			kl_bench_time(bench_digest_cached, NULL, iterations),
			kl_bench_time(bench_digest_fetch_per_call, NULL, iterations),
			"EVP_MD_fetch per call");
	kl_bench_report("HMAC-SHA384 auth tag",
			kl_bench_time(bench_hmac_cached, NULL, iterations),
			kl_bench_time(bench_hmac_fetch_per_call, NULL, iterations),
			"EVP_MAC_fetch per call");
	kl_bench_report("registration body, 2.3 KB JSON",
			kl_bench_time(bench_json_checked, NULL, iterations / 4),
			kl_bench_time(bench_json_plain, NULL, iterations / 4),
			"json-glib without limits");
	g_free(bench_json_text);
	return 0;
}
