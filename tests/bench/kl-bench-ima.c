/*
 * Benchmark of IMA batch verification: a generated 50 000-entry ima-ng
 * log (sha256 bank, SHA-1 template hashes) judged against a policy that
 * lists every file and has 10 exclude patterns, against a floor measured
 * in the same run — per entry, SHA-1 and SHA-256 of a 110-byte template
 * and one SHA-256 PCR extend with fetched digests and reused contexts,
 * the hashing no verifier can skip.  Also the cost of an empty delta.
 *
 * Run: meson test -C build --benchmark --verbose kl-bench-ima
 */
#include "config.h"

#include "kl-crypto.h"
#include "kl-ima-verify.h"

#define BENCH_ENTRIES 50000u
#define BENCH_ROUNDS  5

typedef struct {
	gchar *log;
	gsize log_len;
	guint8 pcr[32];
	KlRuntimePolicy *policy;
} Bench;

static void
put_u32le(GByteArray *array, guint32 value)
{
	guint32 le = GUINT32_TO_LE(value);
	g_byte_array_append(array, (const guint8 *)&le, 4);
}

static void
bench_generate(Bench *bench)
{
	g_autoptr(GString) log = g_string_sized_new(BENCH_ENTRIES * 180);
	g_autoptr(KlRuntimePolicyBuilder) builder = kl_runtime_policy_builder_new();
	g_autoptr(GError) error = NULL;
	const gchar *excludes[] = {"/tmp/.*",
				   "^/var/log/",
				   "/proc/.*",
				   "/sys/.*",
				   "/run/user/[0-9]+/",
				   "/home/[^/]+/\\.cache/",
				   "/var/cache/",
				   "/dev/shm/",
				   "/usr/share/doc/.*\\.gz",
				   "/var/lib/docker/overlay2/"};
	guint8 running[32] = {0};

	for (guint i = 0; i < G_N_ELEMENTS(excludes); i++) {
		if (!kl_runtime_policy_builder_add_exclude(builder, excludes[i], &error))
			g_error("%s", error->message);
	}
	for (guint i = 0; i < BENCH_ENTRIES; i++) {
		g_autofree gchar *path =
			g_strdup_printf("/usr/lib/x86_64-linux-gnu/bench/dir%03u/libfile%06u.so.1",
					i % 1000,
					i);
		g_autoptr(GByteArray) data = g_byte_array_new();
		g_autofree gchar *digest_hex = NULL;
		g_autofree gchar *thash_hex = NULL;
		guint8 digest[32];
		guint8 thash[20];
		guint8 pcr_hash[32];
		guint8 extend[64];
		gsize len = 0;

		kl_crypto_digest("sha256", (const guint8 *)path, strlen(path), digest, &len, NULL);
		put_u32le(data, 6 + 2 + 32);
		g_byte_array_append(data, (const guint8 *)"sha256:\0", 8);
		g_byte_array_append(data, digest, 32);
		put_u32le(data, (guint32)strlen(path) + 1);
		g_byte_array_append(data, (const guint8 *)path, (guint)strlen(path) + 1);
		kl_crypto_digest("sha1", data->data, data->len, thash, &len, NULL);
		kl_crypto_digest("sha256", data->data, data->len, pcr_hash, &len, NULL);
		memcpy(extend, running, 32);
		memcpy(extend + 32, pcr_hash, 32);
		kl_crypto_digest("sha256", extend, 64, running, &len, NULL);

		digest_hex = kl_crypto_hex_encode(digest, 32);
		thash_hex = kl_crypto_hex_encode(thash, 20);
		g_string_append_printf(log,
				       "10 %s ima-ng sha256:%s %s\n",
				       thash_hex,
				       digest_hex,
				       path);
		if (!kl_runtime_policy_builder_add_digest(builder,
							  KL_RUNTIME_POLICY_MAP_DIGESTS,
							  path,
							  digest_hex,
							  &error))
			g_error("%s", error->message);
	}
	bench->policy = kl_runtime_policy_builder_build(builder, &error);
	if (bench->policy == NULL)
		g_error("%s", error->message);
	memcpy(bench->pcr, running, 32);
	bench->log_len = log->len;
	bench->log = g_string_free(g_steal_pointer(&log), FALSE);
}

/* seconds for one verification of the whole log */
static gdouble
bench_verify(Bench *bench)
{
	g_autoptr(GError) error = NULL;
	g_auto(KlImaResult) result = {0};
	gint64 start = g_get_monotonic_time();

	if (!kl_ima_verify_log(bench->log,
			       bench->log_len,
			       NULL,
			       "sha256",
			       bench->pcr,
			       bench->policy,
			       NULL,
			       &result,
			       &error))
		g_error("%s", error->message);
	if (result.findings->len != 0 || result.match_line != BENCH_ENTRIES ||
	    result.counts.good != BENCH_ENTRIES)
		g_error("benchmark log did not verify: %u findings, match at %u",
			result.findings->len,
			result.match_line);
	return (gdouble)(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
}

/* the floor: the three digests per entry and nothing else */
static gdouble
bench_floor(void)
{
	const EVP_MD *sha1 = kl_crypto_get_md("sha1", NULL);
	const EVP_MD *sha256 = kl_crypto_get_md("sha256", NULL);
	g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new();
	guint8 template_data[110];
	guint8 running[64] = {0};
	guint8 out[32];
	gint64 start;

	memset(template_data, 0x5a, sizeof(template_data));
	start = g_get_monotonic_time();
	for (guint i = 0; i < BENCH_ENTRIES; i++) {
		template_data[i % sizeof(template_data)]++;
		if (EVP_DigestInit_ex2(ctx, sha1, NULL) != 1 ||
		    EVP_DigestUpdate(ctx, template_data, sizeof(template_data)) != 1 ||
		    EVP_DigestFinal_ex(ctx, out, NULL) != 1 ||
		    EVP_DigestInit_ex2(ctx, sha256, NULL) != 1 ||
		    EVP_DigestUpdate(ctx, template_data, sizeof(template_data)) != 1 ||
		    EVP_DigestFinal_ex(ctx, running + 32, NULL) != 1 ||
		    EVP_DigestInit_ex2(ctx, sha256, NULL) != 1 ||
		    EVP_DigestUpdate(ctx, running, 64) != 1 ||
		    EVP_DigestFinal_ex(ctx, running, NULL) != 1)
			g_error("digest failed");
	}
	return (gdouble)(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
}

/* an attestation with no new IMA entries: quoted PCR == saved PCR */
static gdouble
bench_empty_delta(Bench *bench, guint iterations)
{
	KlImaState state;
	gint64 start;

	kl_ima_state_init(&state);
	state.next_entry = BENCH_ENTRIES;
	state.known_banks = 1u << KL_IMA_BANK_SHA256;
	memcpy(state.pcr10[KL_IMA_BANK_SHA256], bench->pcr, 32);
	start = g_get_monotonic_time();
	for (guint i = 0; i < iterations; i++) {
		g_auto(KlImaResult) result = {0};
		if (!kl_ima_verify_log("",
				       0,
				       &state,
				       "sha256",
				       bench->pcr,
				       bench->policy,
				       NULL,
				       &result,
				       NULL) ||
		    !result.pcr_matched || result.findings->len != 0)
			g_error("empty delta failed");
	}
	return (gdouble)(g_get_monotonic_time() - start) / iterations;
}

int
main(int argc, char **argv)
{
	Bench bench = {0};
	gdouble ours = G_MAXDOUBLE;
	gdouble floor_s = G_MAXDOUBLE;
	gdouble empty_us;

	bench_generate(&bench);
	/* best of several rounds, interleaved so both see the same machine */
	for (guint i = 0; i < BENCH_ROUNDS; i++) {
		ours = MIN(ours, bench_verify(&bench));
		floor_s = MIN(floor_s, bench_floor());
	}
	empty_us = bench_empty_delta(&bench, 100000);

	g_print("# IMA verification, %u ima-ng entries, sha256 bank, policy of %u files + 10 "
		"excludes\n",
		BENCH_ENTRIES,
		BENCH_ENTRIES);
	g_print("%-34s %10.0f entries/s  (%.3f us/entry)\n",
		"kl_ima_verify_log",
		BENCH_ENTRIES / ours,
		ours * G_USEC_PER_SEC / BENCH_ENTRIES);
	g_print("%-34s %10.0f entries/s  (%.3f us/entry)\n",
		"floor: sha1+sha256+extend",
		BENCH_ENTRIES / floor_s,
		floor_s * G_USEC_PER_SEC / BENCH_ENTRIES);
	g_print("%-34s %10.2fx of the floor\n", "ratio", floor_s / ours);
	g_print("%-34s %10.3f us/op\n", "empty IMA delta (quote matches)", empty_us);

	kl_runtime_policy_unref(bench.policy);
	g_free(bench.log);
	return 0;
}
