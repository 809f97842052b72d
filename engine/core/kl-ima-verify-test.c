/*
 * Tests of IMA batch verification against runtime policies, following
 * upstream's test_ima_verification.py (its log lines and keys) plus
 * entries made here: keys loaded into .ima that sign later entries,
 * generic ima-buf events, excludes, boot aggregates and incremental runs.
 */
#include "config.h"

#include <openssl/rsa.h>

#include "kl-crypto.h"
#include "kl-ima-verify.h"
#include "kl-test-data.h"
#include "kl-x509.h"

/* upstream's MEASUREMENTS (3 unsigned ima-sig), SIGNATURES (RSA, EC) */
static const gchar *measurements =
	"10 0c8a706a75a5689c1e168f0a573a3cbec33061b5 ima-sig "
	"sha256:e4cb9f5709c88376b5fc3743cd88e76b9aae8f3d992d845678de5215edb31216 boot_aggregate \n"
	"10 5426cf3031a43f5bfca183d79950698a95a728f6 ima-sig "
	"sha256:f1125b940480d20ad841d26d5ea253edc0704b5ec1548c891edf212cb1a9365e "
	"/lib/modules/5.4.48-openpower1/kernel/drivers/usb/common/usb-common.ko \n"
	"10 f8a7b32dba2cb3a5437786d7f9d5caee8db3115b ima-sig "
	"sha256:cd026b58efdf66658685430ff526490d54a430a3f0066a35ac26a8acab66c55d "
	"/lib/modules/5.4.48-openpower1/kernel/drivers/gpu/drm/drm_panel_orientation_quirks.ko \n";

static const gchar *signatures =
	"10 50873c47693cf9458e87eb4a02dd4f594f7a0c0f ima-sig "
	"sha1:1350320e5f7f51553bac8aa403489a1b135bc101 /usr/bin/dd "
	"030202f3452d23010084c2a6cf7de1aeefa119220df0da265a7c44d34380f0d97002e7c778d09cfcf88c018e6"
	"595df3ee70eda926851f159332f852e7981a8fca1bc5e959958d06d234a0896861f13cc60da825905c8ed234d"
	"f26c1deecfa816d5aa9bfb11b905e2814084a86b588be60423afada8dd0dd5a143774c6d890b64195ac42fb47"
	"ef5a9a00f0d6c80711d8e0c2b843ec38c02f60fd46bc46c7b4c329ad2dbb1b7625293703f9c739dc4c2bf07691"
	"26a2f3cb2cd031d1881cd0af64bf20fd474a993b48620f103a5c14999a2f17d60721bcc019a896b4138a688a5"
	"9f50cb6cd94a4cfe3b8052e82dec025fef4feabb08c7ce412e3de850f903797e293ec27c329f57fd84e0\n"
	"10 06e804489a77ddab51b9ef27e17053c0e5d503bd ima-sig "
	"sha1:1cb84b12db45d7da8de58ba6744187db84082f0e /usr/bin/zmore "
	"030202531f402500483046022100bff9c02dc7b270c83cc94bfec10eecd42831de2cdcb04f024369a14623bc3"
	"a91022100cc4d015ae932fb98d6846645ed7d1bb1afd4621ec9089bc087126f191886dd31\n";

/* upstream's KEYRINGS: an EC certificate loaded into .ima */
static const gchar *keyrings_line =
	"10 978351440c6c8a17568f0c366b9ede28efd14f8c ima-buf "
	"sha256:a7d52aaa18c23d2d9bb2abb4308c0eeee67387a42259f4a6b1a42257065f3d5a .ima "
	"308201d130820178a003020102020101300906072a8648ce3d0401301b3119301706035504030c1054657374"
	"696e672d45434453412d4341301e170d3231303631313133353831365a170d3232303631313133353831365a"
	"3021311f301d06035504030c1665636473612d63612d7369676e65642d65632d6b65793059301306072a8648"
	"ce3d020106082a8648ce3d030107034200044ce55be36765b59de2767f6d6721be8bea8e3db4ccc25ab76c30"
	"f5d1c11752ae1699cc39d31b378f69fecbe65ce1eb09e075f840fe4c052bafb9039742b76202a381a73081a4"
	"30090603551d1304023000301d0603551d0e04160414b6fb3c083d19695be441c5f59afb95742cb6058c3056"
	"0603551d23044f304d80140a51da379e45bd7ac623c3f765b53e1e2dde5195a11fa41d301b31193017060355"
	"04030c1054657374696e672d45434453412d434182142bb351b0d645e4d8594316ac3c96fc6d9c8379153013"
	"0603551d25040c300a06082b06010505070302300b0603551d0f040403020780300906072a8648ce3d040103"
	"48003045022033d47b623c9feefab7d6e68b001ac6463433f99b61ce7b951a32da065a5d17af022100f3d73e"
	"38070053aec63a941ed36ae0dcfa25ed9cd538c459732a7e782132a4ca\n";

typedef enum {
	POLICY_TEST,  /* upstream's ALLOWLIST */
	POLICY_WRONG, /* wrong digests for dd and zmore */
	POLICY_EMPTY, /* a policy listing nothing */
} PolicyKind;

static const gchar *policy_test_digests[][2] = {
	{"boot_aggregate", "e4cb9f5709c88376b5fc3743cd88e76b9aae8f3d992d845678de5215edb31216"},
	{"/lib/modules/5.4.48-openpower1/kernel/drivers/usb/common/usb-common.ko",
	 "f1125b940480d20ad841d26d5ea253edc0704b5ec1548c891edf212cb1a9365e"},
	{"/lib/modules/5.4.48-openpower1/kernel/drivers/gpu/drm/drm_panel_orientation_quirks.ko",
	 "cd026b58efdf66658685430ff526490d54a430a3f0066a35ac26a8acab66c55d"},
	{"/usr/bin/dd", "1350320e5f7f51553bac8aa403489a1b135bc101"},
	{"/usr/bin/zmore", "1cb84b12db45d7da8de58ba6744187db84082f0e"},
	{"/usr/bin/zless", "233ad3a8e77c63a7d9a56063ec2cad1eafa58850"},
};

static KlRuntimePolicyBuilder *
builder_new(PolicyKind kind, gboolean exclude_all)
{
	KlRuntimePolicyBuilder *builder = kl_runtime_policy_builder_new();
	g_autoptr(GError) error = NULL;

	if (kind == POLICY_TEST) {
		for (guint i = 0; i < G_N_ELEMENTS(policy_test_digests); i++)
			g_assert_true(
				kl_runtime_policy_builder_add_digest(builder,
								     KL_RUNTIME_POLICY_MAP_DIGESTS,
								     policy_test_digests[i][0],
								     policy_test_digests[i][1],
								     &error));
		g_assert_true(kl_runtime_policy_builder_add_digest(
			builder,
			KL_RUNTIME_POLICY_MAP_KEYRINGS,
			".ima",
			"a7d52aaa18c23d2d9bb2abb4308c0eeee67387a42259f4a6b1a42257065f3d5a",
			&error));
	} else if (kind == POLICY_WRONG) {
		g_assert_true(kl_runtime_policy_builder_add_digest(
			builder,
			KL_RUNTIME_POLICY_MAP_DIGESTS,
			"/usr/bin/dd",
			"1350320e5f7f51553bac8aa403489a1b135bc102",
			&error));
		g_assert_true(kl_runtime_policy_builder_add_digest(
			builder,
			KL_RUNTIME_POLICY_MAP_DIGESTS,
			"/usr/bin/zmore",
			"1cb84b12db45d7da8de58ba6744187db84082f01",
			&error));
	}
	if (exclude_all) {
		for (guint i = 0; i < G_N_ELEMENTS(policy_test_digests); i++) {
			g_autofree gchar *regex =
				g_regex_escape_string(policy_test_digests[i][0], -1);
			g_assert_true(
				kl_runtime_policy_builder_add_exclude(builder, regex, &error));
		}
	}
	g_assert_no_error(error);
	return builder;
}

static KlRuntimePolicy *
policy_build(KlRuntimePolicyBuilder *builder)
{
	g_autoptr(GError) error = NULL;
	KlRuntimePolicy *policy = kl_runtime_policy_builder_build(builder, &error);
	g_assert_no_error(error);
	g_assert_nonnull(policy);
	return policy;
}

static KlRuntimePolicy *
policy_new(PolicyKind kind, gboolean exclude_all)
{
	g_autoptr(KlRuntimePolicyBuilder) builder = builder_new(kind, exclude_all);
	return policy_build(builder);
}

static EVP_PKEY *
load_key(const gchar *name)
{
	g_autofree gchar *path = g_test_build_filename(G_TEST_DIST, "data", "ima", name, NULL);
	g_autoptr(GError) error = NULL;
	EVP_PKEY *key = kl_key_load_pem_file(path, &error);
	g_assert_no_error(error);
	return key;
}

/* the tenant's keyring: upstream's RSA and/or EC key */
static GPtrArray *
tenant_keys(gboolean rsa, gboolean ec)
{
	GPtrArray *keys =
		g_ptr_array_new_with_free_func((GDestroyNotify)kl_runtime_policy_key_free);
	const gchar *names[] = {rsa ? "upstream-rsa2048pub.pem" : NULL,
				ec ? "upstream-secp256k1.pem" : NULL};

	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		KlRuntimePolicyKey *key;
		if (names[i] == NULL)
			continue;
		key = g_new0(KlRuntimePolicyKey, 1);
		key->key = load_key(names[i]);
		g_assert_true(kl_runtime_policy_compute_key_id(key->key, &key->keyid, NULL));
		g_ptr_array_add(keys, key);
	}
	return keys;
}

typedef struct {
	KlRuntimePolicy *policy;
	GPtrArray *keys;
	KlImaKeyrings *learned;
	const gchar *const *boot_aggregates;
	const KlImaState *resume;
	gboolean tomtou;
} Run;

static void
run(const gchar *log, const Run *args, KlImaResult *result)
{
	g_autoptr(KlImaLogParser) parser = kl_ima_log_parser_new_for_data(log, strlen(log));
	g_autoptr(GError) error = NULL;
	KlImaVerifyOptions options = {0};

	options.bank = KL_IMA_BANK_SHA1;
	options.policy = args->policy;
	options.verification_keys = args->keys;
	options.learned = args->learned;
	options.boot_aggregates = args->boot_aggregates;
	options.resume = args->resume;
	options.ignore_tomtou_errors = args->tomtou;
	g_assert_true(kl_ima_verify(parser, &options, result, &error));
	g_assert_no_error(error);
	for (guint i = 0; i < result->findings->len; i++) {
		g_autofree gchar *text =
			kl_finding_to_string(g_ptr_array_index(result->findings, i));
		g_test_message("%s", text);
	}
}

static guint
count_findings(const KlImaResult *result, const gchar *event_id)
{
	guint n = 0;
	for (guint i = 0; i < result->findings->len; i++) {
		KlFinding *finding = g_ptr_array_index(result->findings, i);
		if (g_strcmp0(finding->event_id, event_id) == 0)
			n++;
	}
	return n;
}

/* an entry built here: template data as the kernel lays it out, SHA-1
 * template hash; @extra is the sig or buf field (not for ima-ng) */
static gchar *
make_line(const gchar *template_name,
	  const gchar *alg,
	  const guint8 *digest,
	  gsize digest_len,
	  const gchar *name,
	  const guint8 *extra,
	  gsize extra_len)
{
	g_autoptr(GByteArray) data = g_byte_array_new();
	guint8 hash[20];
	gsize hash_len = 0;
	g_autofree gchar *hash_hex = NULL;
	g_autofree gchar *digest_hex = kl_crypto_hex_encode(digest, digest_len);
	g_autofree gchar *extra_hex = NULL;
	guint32 len;

	len = GUINT32_TO_LE((guint32)(strlen(alg) + 2 + digest_len));
	g_byte_array_append(data, (const guint8 *)&len, 4);
	g_byte_array_append(data, (const guint8 *)alg, (guint)strlen(alg));
	g_byte_array_append(data, (const guint8 *)":\0", 2);
	g_byte_array_append(data, digest, (guint)digest_len);
	len = GUINT32_TO_LE((guint32)(strlen(name) + 1));
	g_byte_array_append(data, (const guint8 *)&len, 4);
	g_byte_array_append(data, (const guint8 *)name, (guint)strlen(name) + 1);
	if (g_strcmp0(template_name, "ima-ng") != 0) {
		len = GUINT32_TO_LE((guint32)extra_len);
		g_byte_array_append(data, (const guint8 *)&len, 4);
		g_byte_array_append(data, extra, (guint)extra_len);
		extra_hex = kl_crypto_hex_encode(extra, extra_len);
	}
	g_assert_true(kl_crypto_digest("sha1", data->data, data->len, hash, &hash_len, NULL));
	hash_hex = kl_crypto_hex_encode(hash, hash_len);
	return g_strdup_printf("10 %s %s %s:%s %s%s%s\n",
			       hash_hex,
			       template_name,
			       alg,
			       digest_hex,
			       name,
			       extra_hex != NULL ? " " : "",
			       extra_hex != NULL ? extra_hex : "");
}

static GBytes *
sign_v2(EVP_PKEY *key, guint32 keyid, const guint8 *digest, gsize digest_len)
{
	g_autoptr(EVP_PKEY_CTX) ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	gsize sig_len = 0;
	g_autofree guint8 *out = NULL;

	g_assert_cmpint(EVP_PKEY_sign_init(ctx), ==, 1);
	if (EVP_PKEY_is_a(key, "RSA"))
		g_assert_cmpint(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), ==, 1);
	g_assert_cmpint(EVP_PKEY_CTX_set_signature_md(ctx, kl_crypto_get_md("sha256", NULL)),
			==,
			1);
	g_assert_cmpint(EVP_PKEY_sign(ctx, NULL, &sig_len, digest, digest_len), ==, 1);
	out = g_malloc(9 + sig_len);
	g_assert_cmpint(EVP_PKEY_sign(ctx, out + 9, &sig_len, digest, digest_len), ==, 1);
	out[0] = 3;
	out[1] = 2;
	out[2] = 4; /* sha256 */
	out[3] = (guint8)(keyid >> 24);
	out[4] = (guint8)(keyid >> 16);
	out[5] = (guint8)(keyid >> 8);
	out[6] = (guint8)keyid;
	out[7] = (guint8)(sig_len >> 8);
	out[8] = (guint8)sig_len;
	return g_bytes_new_take(g_steal_pointer(&out), 9 + sig_len);
}

static void
test_measurements(void)
{
	g_autoptr(KlRuntimePolicy) test = policy_new(POLICY_TEST, FALSE);
	g_autoptr(KlRuntimePolicy) empty = policy_new(POLICY_EMPTY, FALSE);
	g_auto(KlImaResult) none = {0};
	g_auto(KlImaResult) with_test = {0};
	g_auto(KlImaResult) with_empty = {0};
	Run args = {0};

	/* no policy, no keyrings: every entry passes */
	run(measurements, &args, &none);
	g_assert_cmpuint(none.findings->len, ==, 0);
	g_assert_cmpuint(none.counts.good, ==, 3);

	args.policy = test;
	run(measurements, &args, &with_test);
	g_assert_cmpuint(with_test.findings->len, ==, 0);

	/* nothing listed: every file is "not in allowlist" */
	args.policy = empty;
	run(measurements, &args, &with_empty);
	g_assert_cmpuint(count_findings(&with_empty, "ima.validation.ima-ng.not_in_allowlist"),
			 ==,
			 3);
	g_assert_cmpuint(with_empty.counts.fnf, ==, 3);
	g_assert_cmpuint(with_empty.counts.failures_by_template[KL_IMA_TEMPLATE_IMA_SIG], ==, 3);
}

static void
test_signatures(void)
{
	g_autoptr(KlImaKeyrings) learned = kl_ima_keyrings_new();
	g_autoptr(GPtrArray) rsa_only = tenant_keys(TRUE, FALSE);
	g_autoptr(GPtrArray) both = tenant_keys(TRUE, TRUE);
	g_auto(GStrv) lines = g_strsplit(signatures, "\n", -1);
	g_autofree gchar *first = g_strconcat(lines[0], "\n", NULL);
	g_autofree gchar *second = g_strconcat(lines[1], "\n", NULL);
	g_auto(KlImaResult) empty_ring = {0};
	g_auto(KlImaResult) rsa_first = {0};
	g_auto(KlImaResult) rsa_second = {0};
	g_auto(KlImaResult) all = {0};
	Run args = {0};

	/* keyrings exist but hold nothing, and there is no policy */
	args.learned = learned;
	run(signatures, &args, &empty_ring);
	g_assert_cmpuint(count_findings(&empty_ring, "ima.validator.ima-sig.invalid_signature"),
			 ==,
			 2);
	g_assert_cmpuint(empty_ring.counts.signature, ==, 2);

	args.keys = rsa_only;
	run(first, &args, &rsa_first);
	g_assert_cmpuint(rsa_first.findings->len, ==, 0);
	run(second, &args, &rsa_second);
	g_assert_cmpuint(count_findings(&rsa_second, "ima.validator.ima-sig.invalid_signature"),
			 ==,
			 1);

	args.keys = both;
	run(signatures, &args, &all);
	g_assert_cmpuint(all.findings->len, ==, 0);
	g_assert_cmpuint(all.counts.good, ==, 2);
}

static void
test_mixed(void)
{
	g_autoptr(KlRuntimePolicy) test = policy_new(POLICY_TEST, FALSE);
	g_autoptr(KlRuntimePolicy) wrong = policy_new(POLICY_WRONG, FALSE);
	g_autoptr(KlRuntimePolicy) empty = policy_new(POLICY_EMPTY, FALSE);
	g_autoptr(KlRuntimePolicy) test_excluded = policy_new(POLICY_TEST, TRUE);
	g_autoptr(KlRuntimePolicy) wrong_excluded = policy_new(POLICY_WRONG, TRUE);
	g_autoptr(GPtrArray) keys = tenant_keys(TRUE, TRUE);
	g_autoptr(GPtrArray) no_keys =
		g_ptr_array_new_with_free_func((GDestroyNotify)kl_runtime_policy_key_free);
	g_autoptr(KlImaKeyrings) learned = kl_ima_keyrings_new();
	g_autofree gchar *combined = g_strconcat(measurements, signatures, NULL);
	Run args = {0};

	{
		/* every entry in the policy, no keyrings */
		g_auto(KlImaResult) result = {0};
		args.policy = test;
		run(combined, &args, &result);
		g_assert_cmpuint(result.findings->len, ==, 0);
	}
	{
		/* keys but no policy: the unsigned modules fail */
		g_auto(KlImaResult) result = {0};
		args.policy = NULL;
		args.keys = keys;
		run(combined, &args, &result);
		g_assert_cmpuint(count_findings(&result, "ima.validator.ima-sig.invalid_signature"),
				 ==,
				 3);
	}
	{
		/* policy and keys */
		g_auto(KlImaResult) result = {0};
		args.policy = test;
		run(combined, &args, &result);
		g_assert_cmpuint(result.findings->len, ==, 0);
	}
	{
		/* valid signatures win over wrong digests */
		g_auto(KlImaResult) result = {0};
		args.policy = wrong;
		run(signatures, &args, &result);
		g_assert_cmpuint(result.findings->len, ==, 0);
	}
	{
		/* valid signatures, nothing listed */
		g_auto(KlImaResult) result = {0};
		args.policy = empty;
		run(signatures, &args, &result);
		g_assert_cmpuint(result.findings->len, ==, 0);
	}
	{
		/* no key for the signatures: fall back to the digests */
		g_auto(KlImaResult) ok = {0};
		g_auto(KlImaResult) bad = {0};
		args.keys = no_keys;
		args.learned = learned;
		args.policy = test;
		run(signatures, &args, &ok);
		g_assert_cmpuint(ok.findings->len, ==, 0);
		args.policy = wrong;
		run(signatures, &args, &bad);
		g_assert_cmpuint(count_findings(&bad, "ima.validation.ima-ng.runtime_policy_hash"),
				 ==,
				 2);
		g_assert_cmpuint(bad.counts.hash, ==, 2);
		args.learned = NULL;
	}
	{
		/* everything excluded: wrong digests pass, and so do signatures */
		g_auto(KlImaResult) unsigned_result = {0};
		g_auto(KlImaResult) signed_result = {0};
		args.keys = NULL;
		args.policy = wrong_excluded;
		run(measurements, &args, &unsigned_result);
		g_assert_cmpuint(unsigned_result.findings->len, ==, 0);
		g_assert_cmpuint(unsigned_result.counts.excluded, ==, 3);
		args.keys = keys;
		args.policy = test_excluded;
		run(signatures, &args, &signed_result);
		g_assert_cmpuint(signed_result.findings->len, ==, 0);
	}
}

/* upstream's BAD_SIGNATURES: fail even when excluded or listed */
static void
test_bad_signatures(void)
{
	g_autoptr(KlRuntimePolicy) test = policy_new(POLICY_TEST, FALSE);
	g_autoptr(KlRuntimePolicy) excluded = policy_new(POLICY_TEST, TRUE);
	g_autoptr(GPtrArray) keys = tenant_keys(TRUE, TRUE);
	g_autofree gchar *bad = g_strdup(signatures);
	gchar *sig_size = strstr(bad, "030202531f4025");
	g_auto(KlImaResult) listed = {0};
	g_auto(KlImaResult) exclude = {0};
	Run args = {0};

	sig_size[17] = '9';
	args.keys = keys;
	args.policy = test;
	run(bad, &args, &listed);
	g_assert_cmpuint(count_findings(&listed, "ima.validation.ima_hash"), ==, 1);
	args.policy = excluded;
	run(bad, &args, &exclude);
	g_assert_cmpuint(count_findings(&exclude, "ima.validation.ima_hash"), ==, 1);
	g_assert_cmpuint(exclude.counts.template_hash, ==, 1);
	g_assert_cmpuint(exclude.counts.good, ==, 1);
}

static void
test_keyrings(void)
{
	g_autoptr(KlRuntimePolicy) test = policy_new(POLICY_TEST, FALSE);
	g_autoptr(KlRuntimePolicy) empty = policy_new(POLICY_EMPTY, FALSE);
	g_autoptr(KlRuntimePolicyBuilder) builder = builder_new(POLICY_EMPTY, FALSE);
	g_autoptr(KlRuntimePolicyBuilder) builder_all = builder_new(POLICY_EMPTY, FALSE);
	g_autoptr(KlRuntimePolicy) ignored = NULL;
	g_autoptr(KlRuntimePolicy) ignored_all = NULL;
	g_autoptr(KlImaKeyrings) learned = kl_ima_keyrings_new();
	Run args = {0};

	{
		/* listed in keyrings[.ima]: learned under the cert's key id */
		g_auto(KlImaResult) result = {0};
		args.policy = test;
		args.learned = learned;
		run(keyrings_line, &args, &result);
		g_assert_cmpuint(result.findings->len, ==, 0);
		g_assert_nonnull(kl_ima_keyrings_lookup(learned, 0x2cb6058c));
	}
	{
		/* not listed: not learned; and a failure forgets what was */
		g_auto(KlImaResult) result = {0};
		args.policy = empty;
		run(keyrings_line, &args, &result);
		g_assert_cmpuint(count_findings(&result, "ima.validation.ima-ng.not_in_allowlist"),
				 ==,
				 1);
		g_assert_cmpuint(kl_ima_keyrings_get_n_keys(learned), ==, 0);
	}
	{
		/* an ignored keyring passes and teaches nothing */
		g_auto(KlImaResult) result = {0};
		g_auto(KlImaResult) result_all = {0};
		kl_runtime_policy_builder_add_ignored_keyring(builder, ".ima");
		ignored = policy_build(builder);
		kl_runtime_policy_builder_add_ignored_keyring(builder_all, "*");
		ignored_all = policy_build(builder_all);
		args.policy = ignored;
		run(keyrings_line, &args, &result);
		g_assert_cmpuint(result.findings->len, ==, 0);
		args.policy = ignored_all;
		run(keyrings_line, &args, &result_all);
		g_assert_cmpuint(result_all.findings->len, ==, 0);
		g_assert_cmpuint(kl_ima_keyrings_get_n_keys(learned), ==, 0);
	}
}

/* a key loaded into .ima vouches for the files it signed, in this batch
 * and in later ones */
static void
test_learned_key_signs(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) key = kl_key_generate_ec("P-256", &error);
	KlCertRequest request = {.common_name = "ima-signing", .days = 30};
	g_autoptr(X509) cert = NULL;
	g_autoptr(GBytes) der = NULL;
	guint8 cert_digest[32];
	guint8 file_digest[32];
	gsize len = 0;
	g_autofree gchar *cert_hex = NULL;
	g_autofree gchar *key_line = NULL;
	g_autofree gchar *file_line = NULL;
	g_autofree gchar *log = NULL;
	g_autoptr(GBytes) sig = NULL;
	const ASN1_OCTET_STRING *skid;
	const guint8 *skid_data;
	guint32 keyid;
	g_autoptr(KlRuntimePolicyBuilder) builder = builder_new(POLICY_EMPTY, FALSE);
	g_autoptr(KlRuntimePolicy) policy = NULL;
	g_autoptr(KlImaKeyrings) learned = kl_ima_keyrings_new();
	g_autoptr(KlImaKeyrings) fresh = kl_ima_keyrings_new();
	g_auto(KlImaResult) one = {0};
	g_auto(KlImaResult) two = {0};
	g_auto(KlImaResult) without = {0};
	Run args = {0};

	request.usage = KL_CERT_USAGE_CLIENT;
	cert = kl_x509_issue(&request, key, NULL, key, &error);
	g_assert_no_error(error);
	der = kl_x509_to_der(cert, &error);
	g_assert_true(kl_crypto_digest("sha256",
				       g_bytes_get_data(der, NULL),
				       g_bytes_get_size(der),
				       cert_digest,
				       &len,
				       NULL));
	cert_hex = kl_crypto_hex_encode(cert_digest, 32);
	key_line = make_line("ima-buf",
			     "sha256",
			     cert_digest,
			     32,
			     ".ima",
			     g_bytes_get_data(der, NULL),
			     g_bytes_get_size(der));

	/* evmctl uses the certificate's subject key identifier */
	skid = X509_get0_subject_key_id(cert);
	g_assert_nonnull(skid);
	skid_data = ASN1_STRING_get0_data(skid);
	len = (gsize)ASN1_STRING_length(skid);
	keyid = ((guint32)skid_data[len - 4] << 24) | ((guint32)skid_data[len - 3] << 16) |
		((guint32)skid_data[len - 2] << 8) | skid_data[len - 1];
	g_assert_true(kl_crypto_digest("sha256",
				       (const guint8 *)"#!/bin/sh\n",
				       10,
				       file_digest,
				       &len,
				       NULL));
	sig = sign_v2(key, keyid, file_digest, 32);
	file_line = make_line("ima-sig",
			      "sha256",
			      file_digest,
			      32,
			      "/usr/bin/signed",
			      g_bytes_get_data(sig, NULL),
			      g_bytes_get_size(sig));

	g_assert_true(kl_runtime_policy_builder_add_digest(builder,
							   KL_RUNTIME_POLICY_MAP_KEYRINGS,
							   ".ima",
							   cert_hex,
							   &error));
	policy = policy_build(builder);
	args.policy = policy;
	args.learned = learned;

	/* the key, then the file it signed, in one batch */
	log = g_strconcat(key_line, file_line, NULL);
	run(log, &args, &one);
	g_assert_cmpuint(one.findings->len, ==, 0);
	g_assert_cmpuint(kl_ima_keyrings_get_n_keys(learned), ==, 1);

	/* a later batch: the learned key still vouches */
	args.resume = &one.state;
	run(file_line, &args, &two);
	g_assert_cmpuint(two.findings->len, ==, 0);
	g_assert_cmpuint(two.state.next_entry, ==, 3);

	/* without the key the file is judged by the (empty) digest list */
	args.resume = NULL;
	args.learned = fresh;
	run(file_line, &args, &without);
	g_assert_cmpuint(count_findings(&without, "ima.validation.ima-ng.not_in_allowlist"), ==, 1);
}

static void
test_policy_verification_keys(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) rsa = load_key("upstream-rsa2048pub.pem");
	g_autoptr(KlRuntimePolicyBuilder) builder = builder_new(POLICY_EMPTY, FALSE);
	g_autoptr(KlRuntimePolicy) policy = NULL;
	g_autofree guint8 *der = NULL;
	g_autofree gchar *b64 = NULL;
	g_autofree gchar *keyring = NULL;
	g_auto(KlImaResult) result = {0};
	gint der_len = i2d_PUBKEY(rsa, &der);
	g_auto(GStrv) lines = g_strsplit(signatures, "\n", -1);
	g_autofree gchar *dd = g_strconcat(lines[0], "\n", NULL);
	Run args = {0};

	b64 = g_base64_encode(der, (gsize)der_len);
	keyring = g_strdup_printf("{\"keyids\": [], \"pubkeys\": [\"%s\"]}", b64);
	g_assert_true(kl_runtime_policy_builder_set_verification_keys(builder, keyring, &error));
	g_assert_no_error(error);
	policy = policy_build(builder);

	/* no learned keyrings: the policy's keys alone make keyrings exist */
	args.policy = policy;
	run(dd, &args, &result);
	g_assert_cmpuint(result.findings->len, ==, 0);
}

static void
test_generic_buf(void)
{
	const gchar *cmdline = "root=/dev/sda1 ro";
	guint8 digest[32];
	gsize len = 0;
	g_autofree gchar *line = NULL;
	g_autofree gchar *hex = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(KlRuntimePolicyBuilder) builder = builder_new(POLICY_EMPTY, FALSE);
	g_autoptr(KlRuntimePolicyBuilder) wrong_builder = builder_new(POLICY_EMPTY, FALSE);
	g_autoptr(KlRuntimePolicy) policy = NULL;
	g_autoptr(KlRuntimePolicy) wrong = NULL;
	g_auto(KlImaResult) ok = {0};
	g_auto(KlImaResult) bad = {0};
	Run args = {0};

	g_assert_true(kl_crypto_digest("sha256",
				       (const guint8 *)cmdline,
				       strlen(cmdline),
				       digest,
				       &len,
				       NULL));
	line = make_line("ima-buf",
			 "sha256",
			 digest,
			 32,
			 "kexec-cmdline",
			 (const guint8 *)cmdline,
			 strlen(cmdline));
	hex = kl_crypto_hex_encode(digest, 32);
	g_assert_true(kl_runtime_policy_builder_add_digest(builder,
							   KL_RUNTIME_POLICY_MAP_IMA_BUF,
							   "kexec-cmdline",
							   hex,
							   &error));
	policy = policy_build(builder);
	g_assert_true(
		kl_runtime_policy_builder_add_digest(wrong_builder,
						     KL_RUNTIME_POLICY_MAP_IMA_BUF,
						     "kexec-cmdline",
						     "00112233445566778899aabbccddeeff00112233",
						     &error));
	wrong = policy_build(wrong_builder);

	args.policy = policy;
	run(line, &args, &ok);
	g_assert_cmpuint(ok.findings->len, ==, 0);
	args.policy = wrong;
	run(line, &args, &bad);
	g_assert_cmpuint(count_findings(&bad, "ima.validation.ima-ng.runtime_policy_hash"), ==, 1);
}

static void
test_invalid_key(void)
{
	g_autoptr(EVP_PKEY_CTX) ctx = EVP_PKEY_CTX_new_from_name(NULL, "ED25519", NULL);
	g_autoptr(EVP_PKEY) key = NULL;
	g_autofree guint8 *der = NULL;
	guint8 digest[32];
	gsize len = 0;
	gint der_len;
	g_autofree gchar *line = NULL;
	g_auto(KlImaResult) result = {0};
	Run args = {0};

	g_assert_cmpint(EVP_PKEY_keygen_init(ctx), ==, 1);
	g_assert_cmpint(EVP_PKEY_generate(ctx, &key), ==, 1);
	der_len = i2d_PUBKEY(key, &der);
	g_assert_true(kl_crypto_digest("sha256", der, (gsize)der_len, digest, &len, NULL));
	line = make_line("ima-buf", "sha256", digest, 32, ".ima", der, (gsize)der_len);
	run(line, &args, &result);
	g_assert_cmpuint(count_findings(&result, "ima.invalid_key"), ==, 1);
	g_assert_cmpuint(result.counts.keys, ==, 1);
}

static void
test_excludes(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlRuntimePolicyBuilder) builder = builder_new(POLICY_EMPTY, FALSE);
	g_autoptr(KlRuntimePolicy) policy = NULL;
	g_autoptr(GString) log = g_string_new(NULL);
	const gchar *excludes[] = {"/tmp/.*", "^/var/log/", "/usr/lib/python3"};
	const gchar *paths[] = {"/tmp/a",
				"/var/log/messages",
				"/usr/lib/python3/x.pyc",
				"/etc/passwd",
				"/var/lib/x",
				"/usr/tmp/a"};
	g_auto(KlImaResult) result = {0};
	Run args = {0};

	for (guint i = 0; i < G_N_ELEMENTS(excludes); i++)
		g_assert_true(kl_runtime_policy_builder_add_exclude(builder, excludes[i], &error));
	g_assert_true(
		kl_runtime_policy_builder_add_digest(builder,
						     KL_RUNTIME_POLICY_MAP_DIGESTS,
						     "/etc/passwd",
						     "00112233445566778899aabbccddeeff00112233",
						     &error));
	policy = policy_build(builder);
	for (guint i = 0; i < G_N_ELEMENTS(paths); i++) {
		guint8 digest[32];
		gsize len = 0;
		g_autofree gchar *line = NULL;
		g_assert_true(kl_crypto_digest("sha256",
					       (const guint8 *)paths[i],
					       strlen(paths[i]),
					       digest,
					       &len,
					       NULL));
		line = make_line("ima-ng", "sha256", digest, 32, paths[i], NULL, 0);
		g_string_append(log, line);
	}
	args.policy = policy;
	run(log->str, &args, &result);
	/* excludes are anchored at the start, not full matches */
	g_assert_cmpuint(result.counts.excluded, ==, 3);
	g_assert_cmpuint(count_findings(&result, "ima.validation.ima-ng.runtime_policy_hash"),
			 ==,
			 1);
	g_assert_cmpuint(count_findings(&result, "ima.validation.ima-ng.not_in_allowlist"), ==, 2);
	g_assert_cmpuint(result.counts.good, ==, 3);
}

static void
test_boot_aggregates(void)
{
	g_autoptr(KlRuntimePolicy) wrong = policy_new(POLICY_WRONG, FALSE);
	g_auto(GStrv) lines = g_strsplit(measurements, "\n", -1);
	g_autofree gchar *boot = g_strconcat(lines[0], "\n", NULL);
	const gchar *aggregates[] = {
		"1111111111111111111111111111111111111111",
		"e4cb9f5709c88376b5fc3743cd88e76b9aae8f3d992d845678de5215edb31216",
		NULL,
	};
	g_auto(KlImaResult) without = {0};
	g_auto(KlImaResult) with = {0};
	Run args = {0};

	args.policy = wrong;
	run(boot, &args, &without);
	g_assert_cmpuint(count_findings(&without, "ima.validation.ima-ng.not_in_allowlist"), ==, 1);
	args.boot_aggregates = aggregates;
	run(boot, &args, &with);
	g_assert_cmpuint(with.findings->len, ==, 0);
}

static void
test_tomtou(void)
{
	const gchar *log =
		"10 0000000000000000000000000000000000000000 ima-ng "
		"sha256:0000000000000000000000000000000000000000000000000000000000000000 "
		"/tmp/open\n";
	g_autoptr(KlRuntimePolicy) empty = policy_new(POLICY_EMPTY, FALSE);
	g_auto(KlImaResult) quiet = {0};
	g_auto(KlImaResult) loud = {0};
	Run args = {0};

	/* violations skip the policy too */
	args.policy = empty;
	run(log, &args, &quiet);
	g_assert_cmpuint(quiet.findings->len, ==, 0);
	args.tomtou = TRUE;
	run(log, &args, &loud);
	g_assert_cmpuint(count_findings(&loud, "ima.validation.tomtou"), ==, 1);
}

static void
test_verify_log(void)
{
	gsize len = 0;
	g_autofree gchar *log = kl_test_load_data(&len, "ima", "ima-log-sha256", NULL);
	g_autofree gchar *policy_json = kl_test_load_data(NULL, "ima", "policy-sha256", NULL);
	g_autoptr(KlRuntimePolicy) policy = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) quoted = NULL;
	g_auto(KlImaResult) no_policy = {0};
	g_auto(KlImaResult) with_policy = {0};
	g_auto(KlImaResult) bad_bank = {0};
	g_autofree gchar *summary = NULL;

	policy = kl_runtime_policy_new_from_json(policy_json, strlen(policy_json), &error);
	g_assert_no_error(error);
	quoted = kl_crypto_hex_decode(
		"8dcd5e7eb63e363377ec19b0d358601ccc19f25a30486f35784c5288dbb91d9d",
		&error);

	g_assert_true(kl_ima_verify_log(log,
					len,
					NULL,
					"sha256",
					g_bytes_get_data(quoted, NULL),
					NULL,
					NULL,
					&no_policy,
					&error));
	g_assert_no_error(error);
	g_assert_true(no_policy.pcr_matched);
	g_assert_cmpuint(no_policy.match_line, ==, 2);
	g_assert_cmpuint(no_policy.findings->len, ==, 0);

	/* upstream's base policy lists neither file */
	g_assert_true(kl_ima_verify_log(log,
					len,
					NULL,
					"sha256",
					g_bytes_get_data(quoted, NULL),
					policy,
					NULL,
					&with_policy,
					&error));
	g_assert_true(with_policy.pcr_matched);
	g_assert_cmpuint(with_policy.counts.fnf, ==, 2);
	summary = kl_ima_counts_to_string(&with_policy.counts);
	g_assert_cmpstr(summary, ==, "IMA ERRORS: template-hash 0 fnf 2 hash 0 good 0");

	g_assert_false(
		kl_ima_verify_log(log, len, NULL, "md5", NULL, NULL, NULL, &bad_bank, &error));
	g_assert_error(error, KL_IMA_ERROR, KL_IMA_ERROR_INVALID_ARGUMENT);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/ima-verify/measurements", test_measurements);
	g_test_add_func("/ima-verify/signatures", test_signatures);
	g_test_add_func("/ima-verify/mixed", test_mixed);
	g_test_add_func("/ima-verify/bad-signatures", test_bad_signatures);
	g_test_add_func("/ima-verify/keyrings", test_keyrings);
	g_test_add_func("/ima-verify/learned-key-signs", test_learned_key_signs);
	g_test_add_func("/ima-verify/policy-verification-keys", test_policy_verification_keys);
	g_test_add_func("/ima-verify/generic-buf", test_generic_buf);
	g_test_add_func("/ima-verify/invalid-key", test_invalid_key);
	g_test_add_func("/ima-verify/excludes", test_excludes);
	g_test_add_func("/ima-verify/boot-aggregates", test_boot_aggregates);
	g_test_add_func("/ima-verify/tomtou", test_tomtou);
	g_test_add_func("/ima-verify/verify-log", test_verify_log);
	return g_test_run();
}
