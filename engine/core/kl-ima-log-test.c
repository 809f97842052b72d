/*
 * Tests of the IMA measurement list parser and PCR 10 replay: upstream's
 * fixture logs, the spec's worked PCR values, every template, violation
 * entries, incremental resume, quote progress and hostile lines.
 */
#include "config.h"

#include "kl-crypto.h"
#include "kl-ima-log.h"
#include "kl-test-data.h"

#define LOG_SHA1_PCR   "8adcb4304b78ee782bbba3733b191591e75dc83d"
#define LOG_SHA256_PCR "8dcd5e7eb63e363377ec19b0d358601ccc19f25a30486f35784c5288dbb91d9d"
#define LOG_SHA384_PCR                                                                             \
	"268b34ccd4d8e2b8f388f780c363f1c8048d22353a9c411f886cf76b8a32c9dd40fbe42679fb530dd2a34950" \
	"3b"                                                                                       \
	"2666f5"
#define LOG_SHA512_PCR                                                                             \
	"163e39f3abf1f06ca678841e53b775bd88379e399ed6c4bfb53ea1e7872f556783903b8139b2564f6e5a4568" \
	"1"                                                                                        \
	"479ed80e2a4a1dacffef614e3f28a1df9e7afec"

/* computed independently with Python's struct/hashlib */
#define LINE_IMA                                           \
	"10 e746ad8183b6f35e5fff7a6a1059af8b7e64402c ima " \
	"11f6ad8ec52a2984abaafd7c3b516503785c2072 "        \
	"/usr/bin/legacy"
#define LINE_BUF                                                                                 \
	"10 020bf3ba01cd1d2223fe57e955f21f45203d971c ima-buf "                                   \
	"sha256:ace2599b3a2417133544620474ff9d3ba8354bbf7487afde17de9949a5311c67 kexec-cmdline " \
	"726f6f743d2f6465762f7364613120726f"
#define LINE_BARE                                             \
	"10 541d6c9dbe6b4fce9b9d904da2053c40c8a35e32 ima-ng " \
	"95cb0bfd2977c761298d9624e4b4d4c72a39974a /bare"
#define LINE_NOSIG                                             \
	"10 7814404b2a379d114f357c7d524d9963eef1f925 ima-sig " \
	"sha256:594e519ae499312b29433b7dd8a97ff068defcba9755b6d5d00e84c524d67b06 /nosig "
#define LINE_NOSIG_SHA256                                                              \
	"10 4e837d3a67254d17b3954fbd29641d327fb833d87934939358a1ac21c8981ce2 ima-sig " \
	"sha256:594e519ae499312b29433b7dd8a97ff068defcba9755b6d5d00e84c524d67b06 /nosig "

/* upstream's test_ima_verification.py: MEASUREMENTS then SIGNATURES */
static const gchar *upstream_lines[] = {
	"10 0c8a706a75a5689c1e168f0a573a3cbec33061b5 ima-sig "
	"sha256:e4cb9f5709c88376b5fc3743cd88e76b9aae8f3d992d845678de5215edb31216 boot_aggregate ",
	"10 5426cf3031a43f5bfca183d79950698a95a728f6 ima-sig "
	"sha256:f1125b940480d20ad841d26d5ea253edc0704b5ec1548c891edf212cb1a9365e "
	"/lib/modules/5.4.48-openpower1/kernel/drivers/usb/common/usb-common.ko ",
	"10 f8a7b32dba2cb3a5437786d7f9d5caee8db3115b ima-sig "
	"sha256:cd026b58efdf66658685430ff526490d54a430a3f0066a35ac26a8acab66c55d "
	"/lib/modules/5.4.48-openpower1/kernel/drivers/gpu/drm/drm_panel_orientation_quirks.ko ",
	"10 50873c47693cf9458e87eb4a02dd4f594f7a0c0f ima-sig "
	"sha1:1350320e5f7f51553bac8aa403489a1b135bc101 /usr/bin/dd "
	"030202f3452d23010084c2a6cf7de1aeefa119220df0da265a7c44d34380f0d97002e7c778d09cfcf88c018e6"
	"595df3ee70eda926851f159332f852e7981a8fca1bc5e959958d06d234a0896861f13cc60da825905c8ed234d"
	"f26c1deecfa816d5aa9bfb11b905e2814084a86b588be60423afada8dd0dd5a143774c6d890b64195ac42fb47"
	"ef5a9a00f0d6c80711d8e0c2b843ec38c02f60fd46bc46c7b4c329ad2dbb1b7625293703f9c739dc4c2bf07691"
	"26a2f3cb2cd031d1881cd0af64bf20fd474a993b48620f103a5c14999a2f17d60721bcc019a896b4138a688a5"
	"9f50cb6cd94a4cfe3b8052e82dec025fef4feabb08c7ce412e3de850f903797e293ec27c329f57fd84e0",
	"10 06e804489a77ddab51b9ef27e17053c0e5d503bd ima-sig "
	"sha1:1cb84b12db45d7da8de58ba6744187db84082f0e /usr/bin/zmore "
	"030202531f402500483046022100bff9c02dc7b270c83cc94bfec10eecd42831de2cdcb04f024369a14623bc3"
	"a91022100cc4d015ae932fb98d6846645ed7d1bb1afd4621ec9089bc087126f191886dd31",
};

/* replays @log with the simple options; returns whether it worked */
static gboolean
replay(const gchar *log,
       gsize len,
       KlImaBank bank,
       const gchar *log_hash_alg,
       const gchar *quoted_hex,
       const KlImaState *resume,
       KlImaResult *result,
       GError **error)
{
	g_autoptr(KlImaLogParser) parser = kl_ima_log_parser_new_for_data(log, len);
	g_autoptr(GBytes) quoted = quoted_hex != NULL ? kl_test_hex(quoted_hex) : NULL;
	KlImaReplayOptions options = {0};

	options.bank = bank;
	options.log_hash_alg = log_hash_alg;
	options.resume = resume;
	if (quoted != NULL) {
		options.quoted_pcr10 = g_bytes_get_data(quoted, &options.quoted_pcr10_len);
	}
	return kl_ima_log_replay(parser, &options, result, error);
}

static gchar *
result_pcr_hex(const KlImaResult *result)
{
	return kl_crypto_hex_encode(result->pcr10, result->pcr10_len);
}

static gboolean
has_finding(const KlImaResult *result, const gchar *event_id, guint line)
{
	for (guint i = 0; i < result->findings->len; i++) {
		KlFinding *finding = g_ptr_array_index(result->findings, i);
		if (g_strcmp0(finding->event_id, event_id) == 0 && finding->line == line)
			return TRUE;
	}
	return FALSE;
}

static void
dump_findings(const KlImaResult *result)
{
	for (guint i = 0; i < result->findings->len; i++) {
		g_autofree gchar *text =
			kl_finding_to_string(g_ptr_array_index(result->findings, i));
		g_test_message("%s", text);
	}
}

static void
test_fixtures(void)
{
	/* the sm3_256 log has SM3 template hashes (ima_hash=sm3) */
	struct {
		const gchar *name;
		const gchar *log_hash_alg;
	} fixtures[] = {
		{"ima-log-sha1", NULL},
		{"ima-log-sha256", NULL},
		{"ima-log-sha384", "sha1"},
		{"ima-log-sha512", NULL},
		{"ima-log-sm3_256", "sm3_256"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(fixtures); i++) {
		g_auto(KlImaResult) result = {0};
		g_auto(KlImaResult) wrong = {0};
		g_autoptr(GError) error = NULL;
		gsize len = 0;
		g_autofree gchar *log = kl_test_load_data(&len, "ima", fixtures[i].name, NULL);

		g_assert_true(replay(log,
				     len,
				     KL_IMA_BANK_SHA1,
				     fixtures[i].log_hash_alg,
				     NULL,
				     NULL,
				     &result,
				     &error));
		g_assert_no_error(error);
		dump_findings(&result);
		g_assert_cmpuint(result.findings->len, ==, 0);
		g_assert_cmpuint(result.counts.entries, ==, 2);
		g_assert_cmpuint(result.counts.good, ==, 2);
		g_assert_cmpuint(result.n_lines, ==, 2);
		g_assert_cmpuint(result.state.next_entry, ==, 2);
		/* an all-zero boot_aggregate: a violation entry */
		if (g_strcmp0(fixtures[i].name, "ima-log-sha1") == 0)
			g_assert_cmpuint(result.counts.violations, ==, 1);

		/* the template hashes do not check as SHA-256 ones */
		g_assert_true(
			replay(log, len, KL_IMA_BANK_SHA1, "sha256", NULL, NULL, &wrong, &error));
		g_assert_cmpuint(wrong.counts.template_hash, >=, 1);
	}
}

/* ima-log-unknown parses but its 32-byte template hashes are not SHA-1 */
static void
test_fixture_unknown(void)
{
	g_auto(KlImaResult) result = {0};
	g_autoptr(GError) error = NULL;
	gsize len = 0;
	g_autofree gchar *log = kl_test_load_data(&len, "ima", "ima-log-unknown", NULL);

	g_assert_true(replay(log, len, KL_IMA_BANK_SHA1, NULL, NULL, NULL, &result, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(result.counts.entries, ==, 2);
	g_assert_cmpuint(result.counts.parser, ==, 0);
	g_assert_cmpuint(result.counts.template_hash, ==, 2);
	g_assert_true(has_finding(&result, "ima.validation.ima_hash", 1));
	g_assert_true(has_finding(&result, "ima.validation.ima_hash", 2));
	/* any failure: the next batch starts over */
	g_assert_true(kl_ima_state_is_fresh(&result.state));
}

/* spec §13.1: replayed PCR 10 after the 2 entries of ima-log-sha256 */
static void
test_worked_pcr(void)
{
	struct {
		KlImaBank bank;
		const gchar *pcr;
	} banks[] = {
		{KL_IMA_BANK_SHA1, LOG_SHA1_PCR},
		{KL_IMA_BANK_SHA256, LOG_SHA256_PCR},
		{KL_IMA_BANK_SHA384, LOG_SHA384_PCR},
		{KL_IMA_BANK_SHA512, LOG_SHA512_PCR},
	};
	gsize len = 0;
	g_autofree gchar *log = kl_test_load_data(&len, "ima", "ima-log-sha256", NULL);

	for (guint i = 0; i < G_N_ELEMENTS(banks); i++) {
		g_auto(KlImaResult) result = {0};
		g_auto(KlImaResult) quoted = {0};
		g_autoptr(GError) error = NULL;
		g_autofree gchar *pcr = NULL;

		g_assert_true(replay(log, len, banks[i].bank, NULL, NULL, NULL, &result, &error));
		g_assert_no_error(error);
		pcr = result_pcr_hex(&result);
		g_assert_cmpstr(pcr, ==, banks[i].pcr);
		g_assert_cmpuint(result.pcr10_len, ==, kl_ima_bank_get_size(banks[i].bank));

		/* the same value as a quote matches at the last line */
		g_assert_true(
			replay(log, len, banks[i].bank, NULL, banks[i].pcr, NULL, &quoted, &error));
		g_assert_no_error(error);
		g_assert_true(quoted.pcr_matched);
		g_assert_cmpuint(quoted.match_line, ==, 2);
		g_assert_cmpuint(quoted.findings->len, ==, 0);
		g_assert_cmpuint(quoted.state.next_entry, ==, 2);
		g_assert_true(quoted.state.known_banks & (1u << banks[i].bank));
		g_assert_cmpmem(quoted.state.pcr10[banks[i].bank],
				quoted.pcr10_len,
				result.pcr10,
				result.pcr10_len);
	}
}

static void
test_templates(void)
{
	const gchar *log = LINE_IMA "\n" LINE_BUF "\n" LINE_BARE "\n" LINE_NOSIG "\n";
	g_autoptr(KlImaLogParser) parser = kl_ima_log_parser_new_for_data(log, strlen(log));
	g_autoptr(GPtrArray) findings = kl_findings_new();
	g_autoptr(GError) error = NULL;
	const KlImaEntry *entry;
	g_auto(KlImaResult) result = {0};

	/* ima: d (20 raw bytes) || n padded to 256 */
	entry = kl_ima_log_parser_next(parser, findings, &error);
	g_assert_no_error(error);
	g_assert_nonnull(entry);
	g_assert_cmpint(entry->template_kind, ==, KL_IMA_TEMPLATE_IMA);
	g_assert_cmpuint(entry->template_data_len, ==, 20 + 256);
	g_assert_cmpstr(entry->name, ==, "/usr/bin/legacy");
	g_assert_cmpstr(entry->digest_alg, ==, "sha1");
	g_assert_cmpuint(entry->line, ==, 1);

	/* ima-buf: the buffer is raw bytes after a u32le length */
	entry = kl_ima_log_parser_next(parser, findings, &error);
	g_assert_nonnull(entry);
	g_assert_cmpint(entry->template_kind, ==, KL_IMA_TEMPLATE_IMA_BUF);
	g_assert_cmpmem(entry->buf, entry->buf_len, "root=/dev/sda1 ro", 17);
	g_assert_cmpstr(entry->name, ==, "kexec-cmdline");
	g_assert_cmpstr(entry->digest_alg, ==, "sha256");
	g_assert_cmpstr(entry->digest_hex,
			==,
			"ace2599b3a2417133544620474ff9d3ba8354bbf7487afde17de9949a5311c67");

	/* d-ng without "alg:": sha1 by its length, and packed as "sha1:" */
	entry = kl_ima_log_parser_next(parser, findings, &error);
	g_assert_nonnull(entry);
	g_assert_cmpstr(entry->digest_alg, ==, "sha1");
	g_assert_cmpuint(entry->template_data_len, ==, 4 + 6 + 20 + 4 + 6);
	g_assert_cmpmem(entry->template_data + 4, 6, "sha1:\0", 6);

	/* ima-sig with an empty signature field: u32 0 */
	entry = kl_ima_log_parser_next(parser, findings, &error);
	g_assert_nonnull(entry);
	g_assert_cmpint(entry->template_kind, ==, KL_IMA_TEMPLATE_IMA_SIG);
	g_assert_null(entry->sig);
	g_assert_false(entry->sig_malformed);
	g_assert_cmpstr(entry->name, ==, "/nosig");

	g_assert_null(kl_ima_log_parser_next(parser, findings, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(findings->len, ==, 0);

	/* and every template hash checks */
	g_assert_true(
		replay(log, strlen(log), KL_IMA_BANK_SHA256, NULL, NULL, NULL, &result, &error));
	g_assert_no_error(error);
	dump_findings(&result);
	g_assert_cmpuint(result.findings->len, ==, 0);
	g_assert_cmpuint(result.counts.good, ==, 4);
}

static void
test_upstream_signed_lines(void)
{
	g_autoptr(GString) log = g_string_new(NULL);
	g_auto(KlImaResult) result = {0};
	g_autoptr(GError) error = NULL;
	g_autoptr(KlImaLogParser) parser = NULL;
	const KlImaEntry *entry;

	for (guint i = 0; i < G_N_ELEMENTS(upstream_lines); i++)
		g_string_append_printf(log, "%s\n", upstream_lines[i]);
	g_assert_true(
		replay(log->str, log->len, KL_IMA_BANK_SHA1, NULL, NULL, NULL, &result, &error));
	g_assert_no_error(error);
	dump_findings(&result);
	g_assert_cmpuint(result.findings->len, ==, 0);
	g_assert_cmpuint(result.counts.good, ==, 5);

	/* the RSA signature: keyid f3452d23, 256 bytes */
	parser = kl_ima_log_parser_new_for_data(upstream_lines[3], strlen(upstream_lines[3]));
	entry = kl_ima_log_parser_next(parser, NULL, &error);
	g_assert_nonnull(entry);
	g_assert_nonnull(entry->sig);
	g_assert_cmpuint(entry->sig_len, ==, 9 + 256);
	g_assert_cmpuint(entry->sig[3], ==, 0xf3);
}

/* upstream's BAD_SIGNATURES: a corrupted sig_size makes the signature
 * absent, so the template hash no longer matches */
static void
test_malformed_signature(void)
{
	g_autofree gchar *line = g_strdup(upstream_lines[4]);
	gchar *sig = strstr(line, "030202531f4025");
	g_auto(KlImaResult) result = {0};
	g_autoptr(GError) error = NULL;
	g_autoptr(KlImaLogParser) parser = NULL;
	const KlImaEntry *entry;

	g_assert_nonnull(sig);
	sig[17] = '9'; /* sig_size 0x0048 -> 0x0049 */
	parser = kl_ima_log_parser_new_for_data(line, strlen(line));
	entry = kl_ima_log_parser_next(parser, NULL, &error);
	g_assert_nonnull(entry);
	g_assert_null(entry->sig);
	g_assert_true(entry->sig_malformed);

	g_assert_true(
		replay(line, strlen(line), KL_IMA_BANK_SHA1, NULL, NULL, NULL, &result, &error));
	g_assert_true(has_finding(&result, "ima.validation.ima_hash", 1));
	g_assert_cmpuint(result.counts.template_hash, ==, 1);
	g_assert_cmpuint(result.counts.failures_by_template[KL_IMA_TEMPLATE_IMA_SIG], ==, 1);
}

static void
test_log_hash_alg(void)
{
	const gchar *log = LINE_NOSIG_SHA256 "\n";
	g_auto(KlImaResult) ok = {0};
	g_auto(KlImaResult) bad = {0};
	g_autoptr(GError) error = NULL;

	g_assert_true(
		replay(log, strlen(log), KL_IMA_BANK_SHA1, "sha256", NULL, NULL, &ok, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(ok.findings->len, ==, 0);

	g_assert_true(replay(log, strlen(log), KL_IMA_BANK_SHA1, "sha1", NULL, NULL, &bad, &error));
	g_assert_true(has_finding(&bad, "ima.validation.ima_hash", 1));
}

static void
test_violation(void)
{
	const gchar *log =
		"10 0000000000000000000000000000000000000000 ima-ng "
		"sha256:0000000000000000000000000000000000000000000000000000000000000000 "
		"/tmp/open\n";
	g_autoptr(KlImaLogParser) parser = kl_ima_log_parser_new_for_data(log, strlen(log));
	g_autoptr(GError) error = NULL;
	g_auto(KlImaResult) result = {0};
	g_auto(KlImaResult) tomtou = {0};
	KlImaReplayOptions options = {0};
	guint8 buf[64] = {0};
	guint8 expected[64];
	gsize expected_len = 0;

	/* PCR := H(0^32 || 0xff^32) */
	memset(buf + 32, 0xff, 32);
	g_assert_true(kl_crypto_digest("sha256", buf, 64, expected, &expected_len, &error));
	g_assert_true(
		replay(log, strlen(log), KL_IMA_BANK_SHA256, NULL, NULL, NULL, &result, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(result.findings->len, ==, 0);
	g_assert_cmpuint(result.counts.violations, ==, 1);
	g_assert_cmpmem(result.pcr10, result.pcr10_len, expected, expected_len);

	/* upstream's inverted flag: ignore_tomtou_errors=True reports it */
	options.bank = KL_IMA_BANK_SHA256;
	options.ignore_tomtou_errors = TRUE;
	g_assert_true(kl_ima_log_replay(parser, &options, &tomtou, &error));
	g_assert_true(has_finding(&tomtou, "ima.validation.tomtou", 1));
}

static void
test_pcr_field(void)
{
	g_autofree gchar *log = g_strdup(LINE_IMA "\n");
	g_auto(KlImaResult) result = {0};
	g_auto(KlImaResult) ten = {0};
	g_autoptr(GError) error = NULL;

	g_assert_true(replay(log, strlen(log), KL_IMA_BANK_SHA1, NULL, NULL, NULL, &ten, &error));
	log[1] = '1'; /* PCR 11 */
	g_assert_true(
		replay(log, strlen(log), KL_IMA_BANK_SHA1, NULL, NULL, NULL, &result, &error));
	g_assert_true(has_finding(&result, "ima.validation.ima_pcr", 1));
	g_assert_cmpuint(result.counts.pcr, ==, 1);
	/* the entry still extends PCR 10, as upstream */
	g_assert_cmpmem(result.pcr10, result.pcr10_len, ten.pcr10, ten.pcr10_len);
}

static void
test_malformed_lines(void)
{
	g_autoptr(GString) log = g_string_new(NULL);
	g_auto(KlImaResult) result = {0};
	g_autoptr(GError) error = NULL;

	g_string_append(log, LINE_IMA "\n");		   /* 1 */
	g_string_append(log, "\n");			   /* 2 */
	g_string_append(log, "this is not an IMA line\n"); /* 3 */
	g_string_append(log,
			"10 zz8a706a75a5689c1e168f0a573a3cbec33061b5 ima-ng " /* 4 */
			"sha1:1350320e5f7f51553bac8aa403489a1b135bc101 /a\n");
	g_string_append(
		log,
		"10 0c8a706a75a5689c1e168f0a573a3cbec33061b5 ima-modsig " /* 5 */
		"sha256:e4cb9f5709c88376b5fc3743cd88e76b9aae8f3d992d845678de5215edb31216 /m "
		"00 00\n");
	g_string_append(log,
			"10 0c8a706a75a5689c1e168f0a573a3cbec33061b5 ima-ng " /* 6 */
			"sha256:xyz /b\n");
	g_string_append(log, "10 0c8a706a75a5689c1e168f0a573a3cbec33061b5 ima-ng\n"); /* 7 */
	g_string_append(
		log,
		"10 0c8a706a75a5689c1e168f0a573a3cbec33061b5 ima-sig " /* 8 */
		"sha256:e4cb9f5709c88376b5fc3743cd88e76b9aae8f3d992d845678de5215edb31216 /s\n");
	g_string_append(log,
			"10 0c8a706a75a5689c1e168f0a573a3cbec33061b5 ima-buf " /* 9 */
			"sha256:e4cb9f5709c88376b5fc3743cd88e76b9aae8f3d992d845678de5215edb31216 n "
			"0g\n");
	g_string_append(log, "10 0c8a ima-ng a:b:c /c\n");		  /* 10 */
	g_string_append(log, "10 0c8a ima-ng 0c8a /short-bare-digest\n"); /* 11 */
	g_string_append(log,
			"10 0c8a706a75a5689c1e168f0a573a3cbec33061b5 ima " /* 12 */
			"1350320e5f7f51553bac8aa403489a1b135bc101 ");
	for (guint i = 0; i < 300; i++)
		g_string_append_c(log, 'x');  /* a name too long for the ima template */
	g_string_append(log, "\n" LINE_BARE); /* 13, no final newline */

	g_assert_true(
		replay(log->str, log->len, KL_IMA_BANK_SHA1, NULL, NULL, NULL, &result, &error));
	g_assert_no_error(error);
	dump_findings(&result);
	for (guint i = 0; i < result.findings->len; i++) {
		KlFinding *finding = g_ptr_array_index(result.findings, i);
		if (finding->line == 5)
			g_assert_nonnull(strstr(finding->reason, "ima-modsig is not supported"));
	}
	for (guint line = 3; line <= 12; line++)
		g_assert_true(has_finding(&result, "ima.parser.entry", line));
	g_assert_cmpuint(result.counts.parser, ==, 10);
	g_assert_cmpuint(result.counts.entries, ==, 2);
	g_assert_cmpuint(result.counts.good, ==, 2);
	g_assert_cmpuint(result.findings->len, ==, 10);
	g_assert_cmpuint(result.n_lines, ==, 13);
}

static void
test_long_line(void)
{
	g_autoptr(GString) log = g_string_new(LINE_IMA "\n10 ");
	g_autoptr(GInputStream) stream = NULL;
	g_autoptr(KlImaLogParser) parser = NULL;
	g_autoptr(GError) error = NULL;
	KlImaReplayOptions options = {0};
	g_auto(KlImaResult) from_data = {0};
	g_auto(KlImaResult) from_stream = {0};

	for (guint i = 0; i < 3 * KL_IMA_LOG_MAX_LINE; i++)
		g_string_append_c(log, 'a');
	g_string_append(log, "\n" LINE_BARE "\n");

	g_assert_true(
		replay(log->str, log->len, KL_IMA_BANK_SHA1, NULL, NULL, NULL, &from_data, &error));
	g_assert_true(has_finding(&from_data, "ima.parser.entry", 2));
	g_assert_cmpuint(from_data.counts.good, ==, 2);
	g_assert_cmpuint(from_data.findings->len, ==, 1);
	/* the finding names the line, not 200 KiB of it */
	g_assert_cmpuint(strlen(((KlFinding *)g_ptr_array_index(from_data.findings, 0))->subject),
			 <=,
			 1024);

	stream = g_memory_input_stream_new_from_data(log->str, (gssize)log->len, NULL);
	parser = kl_ima_log_parser_new_for_stream(stream);
	options.bank = KL_IMA_BANK_SHA1;
	g_assert_true(kl_ima_log_replay(parser, &options, &from_stream, &error));
	g_assert_no_error(error);
	g_assert_true(has_finding(&from_stream, "ima.parser.entry", 2));
	g_assert_cmpuint(from_stream.counts.good, ==, 2);
	g_assert_cmpmem(from_stream.pcr10,
			from_stream.pcr10_len,
			from_data.pcr10,
			from_data.pcr10_len);
}

static void
test_embedded_nul(void)
{
	const gchar log[] = LINE_BARE "\0x\n" LINE_BARE "\n";
	g_auto(KlImaResult) result = {0};
	g_autoptr(GError) error = NULL;

	g_assert_true(
		replay(log, sizeof(log) - 1, KL_IMA_BANK_SHA1, NULL, NULL, NULL, &result, &error));
	g_assert_true(has_finding(&result, "ima.parser.entry", 1));
	g_assert_cmpuint(result.counts.good, ==, 1);
}

/* a log much bigger than the stream chunk, lines crossing chunk borders */
static void
test_stream_matches_data(void)
{
	g_autoptr(GString) log = g_string_new(NULL);
	g_autoptr(GInputStream) stream = NULL;
	g_autoptr(KlImaLogParser) parser = NULL;
	g_autoptr(GError) error = NULL;
	KlImaReplayOptions options = {0};
	g_auto(KlImaResult) from_data = {0};
	g_auto(KlImaResult) from_stream = {0};

	for (guint i = 0; i < 3000; i++)
		g_string_append(log, (i % 3 == 0) ? LINE_BUF "\n" : LINE_NOSIG "\n");
	g_assert_true(replay(log->str,
			     log->len,
			     KL_IMA_BANK_SHA256,
			     NULL,
			     NULL,
			     NULL,
			     &from_data,
			     &error));
	g_assert_cmpuint(from_data.counts.good, ==, 3000);

	stream = g_memory_input_stream_new_from_data(log->str, (gssize)log->len, NULL);
	parser = kl_ima_log_parser_new_for_stream(stream);
	options.bank = KL_IMA_BANK_SHA256;
	g_assert_true(kl_ima_log_replay(parser, &options, &from_stream, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(from_stream.counts.good, ==, 3000);
	g_assert_cmpuint(from_stream.findings->len, ==, 0);
	g_assert_cmpmem(from_stream.pcr10,
			from_stream.pcr10_len,
			from_data.pcr10,
			from_data.pcr10_len);
}

/* running SHA-1 PCR 10 after each upstream line, from the logged hashes */
static gchar **
upstream_pcrs(void)
{
	gchar **pcrs = g_new0(gchar *, G_N_ELEMENTS(upstream_lines) + 1);
	guint8 running[20] = {0};

	for (guint i = 0; i < G_N_ELEMENTS(upstream_lines); i++) {
		g_autofree gchar *hash_hex = g_strndup(upstream_lines[i] + 3, 40);
		g_autoptr(GBytes) hash = kl_test_hex(hash_hex);
		guint8 buf[40];
		gsize len = 0;
		memcpy(buf, running, 20);
		memcpy(buf + 20, g_bytes_get_data(hash, NULL), 20);
		g_assert_true(kl_crypto_digest("sha1", buf, 40, running, &len, NULL));
		pcrs[i] = kl_crypto_hex_encode(running, 20);
	}
	return pcrs;
}

static gchar *
upstream_log(guint from, guint to)
{
	GString *log = g_string_new(NULL);
	for (guint i = from; i < to; i++)
		g_string_append_printf(log, "%s\n", upstream_lines[i]);
	return g_string_free(log, FALSE);
}

static void
test_incremental(void)
{
	g_auto(GStrv) pcrs = upstream_pcrs();
	g_autofree gchar *first = upstream_log(0, 4);
	g_autofree gchar *second = upstream_log(3, 5);
	g_auto(KlImaResult) one = {0};
	g_auto(KlImaResult) two = {0};
	g_auto(KlImaResult) three = {0};
	g_auto(KlImaResult) stale = {0};
	g_autoptr(GError) error = NULL;
	g_autofree gchar *pcr = NULL;
	KlImaState state;

	/* the quote lags the log by one entry: match at line 3 of 4 */
	g_assert_true(
		replay(first, strlen(first), KL_IMA_BANK_SHA1, NULL, pcrs[2], NULL, &one, &error));
	g_assert_no_error(error);
	dump_findings(&one);
	g_assert_cmpuint(one.findings->len, ==, 0);
	g_assert_cmpuint(one.match_line, ==, 3);
	g_assert_cmpuint(one.state.next_entry, ==, 3);
	pcr = kl_crypto_hex_encode(one.state.pcr10[KL_IMA_BANK_SHA1], 20);
	g_assert_cmpstr(pcr, ==, pcrs[2]);

	/* the next batch starts at entry 3 and the quote now covers line 5 */
	g_assert_true(replay(second,
			     strlen(second),
			     KL_IMA_BANK_SHA1,
			     NULL,
			     pcrs[4],
			     &one.state,
			     &two,
			     &error));
	g_assert_no_error(error);
	dump_findings(&two);
	g_assert_cmpuint(two.findings->len, ==, 0);
	g_assert_cmpuint(two.match_line, ==, 2);
	g_assert_cmpuint(two.state.next_entry, ==, 5);

	/* nothing new: an empty batch matches the saved value at once */
	g_assert_true(replay("", 0, KL_IMA_BANK_SHA1, NULL, pcrs[4], &two.state, &three, &error));
	g_assert_no_error(error);
	g_assert_true(three.pcr_matched);
	g_assert_cmpuint(three.match_line, ==, 0);
	g_assert_cmpuint(three.findings->len, ==, 0);
	g_assert_cmpuint(three.state.next_entry, ==, 5);

	/* a quote the batch never reaches */
	state = two.state;
	g_assert_true(replay("", 0, KL_IMA_BANK_SHA1, NULL, pcrs[0], &state, &stale, &error));
	g_assert_false(stale.pcr_matched);
	g_assert_true(has_finding(&stale, "ima.pcr_mismatch", 0));
	g_assert_true(kl_ima_state_is_fresh(&stale.state));
}

static void
test_pcr_mismatch(void)
{
	gsize len = 0;
	g_autofree gchar *log = kl_test_load_data(&len, "ima", "ima-log-sha256", NULL);
	g_auto(KlImaResult) result = {0};
	g_autoptr(GError) error = NULL;

	g_assert_true(replay(log,
			     len,
			     KL_IMA_BANK_SHA1,
			     NULL,
			     "0123456789012345678901234567890123456789",
			     NULL,
			     &result,
			     &error));
	g_assert_no_error(error);
	g_assert_false(result.pcr_matched);
	g_assert_true(has_finding(&result, "ima.pcr_mismatch", 0));
	g_assert_cmpuint(result.findings->len, ==, 1);
	g_assert_true(kl_ima_state_is_fresh(&result.state));
}

static void
test_quote_progress(void)
{
	g_auto(GStrv) pcrs = upstream_pcrs();
	g_autofree gchar *all = upstream_log(0, 5);
	g_autofree gchar *rest = upstream_log(1, 5);
	g_auto(KlImaResult) one = {0};
	g_auto(KlImaResult) two = {0};
	g_autoptr(GError) error = NULL;
	KlImaState state;

	kl_ima_state_init(&state);
	g_assert_true(kl_ima_state_check_quote_progress(&state, 2, 5)); /* first: ok, lag 3 */
	g_assert_false(kl_ima_state_check_quote_progress(&state, 1, 4));
	g_assert_true(kl_ima_state_check_quote_progress(&state, 4, 4)); /* caught up */
	g_assert_true(kl_ima_state_check_quote_progress(&state, 0, 0));

	/* match at line 1 of 5: lag 4 */
	g_assert_true(
		replay(all, strlen(all), KL_IMA_BANK_SHA1, NULL, pcrs[0], NULL, &one, &error));
	g_assert_cmpuint(one.findings->len, ==, 0);
	g_assert_cmpuint(one.match_line, ==, 1);
	/* the quote moved one entry only: line 1 of the 4 lagging ones */
	g_assert_true(replay(rest,
			     strlen(rest),
			     KL_IMA_BANK_SHA1,
			     NULL,
			     pcrs[1],
			     &one.state,
			     &two,
			     &error));
	g_assert_true(two.pcr_matched);
	g_assert_true(has_finding(&two, "ima.quote_progress", 1));
}

/* Folding kl_ima_entry_pcr_digest() as a TPM extends gives the replay's
 * PCR 10 in every bank: templates, a violation and upstream's lines. */
static void
test_entry_pcr_digest(void)
{
	g_autoptr(GString) log = g_string_new(NULL);

	g_string_append(log, LINE_IMA "\n" LINE_BUF "\n" LINE_BARE "\n" LINE_NOSIG "\n");
	g_string_append(log,
			"10 0000000000000000000000000000000000000000 ima-ng "
			"sha256:0000000000000000000000000000000000000000000000000000000000000000 "
			"/tmp/open\n");
	for (guint i = 0; i < G_N_ELEMENTS(upstream_lines); i++)
		g_string_append_printf(log, "%s\n", upstream_lines[i]);

	for (KlImaBank bank = KL_IMA_BANK_SHA1; bank < KL_IMA_BANK_LAST; bank++) {
		g_autoptr(KlImaLogParser) parser =
			kl_ima_log_parser_new_for_data(log->str, log->len);
		g_autoptr(GPtrArray) findings = kl_findings_new();
		g_auto(KlImaResult) result = {0};
		g_autoptr(GError) error = NULL;
		gsize size = kl_ima_bank_get_size(bank);
		guint8 pcr[2 * KL_IMA_MAX_DIGEST] = {0};
		const KlImaEntry *entry;
		guint entries = 0;
		guint violations = 0;

		while ((entry = kl_ima_log_parser_next(parser, findings, &error)) != NULL) {
			guint8 digest[KL_IMA_MAX_DIGEST];
			gsize len = 0;
			g_assert_true(kl_ima_entry_pcr_digest(entry, bank, NULL, digest, &error));
			g_assert_no_error(error);
			if (g_strcmp0(entry->name, "/tmp/open") == 0) {
				for (gsize j = 0; j < size; j++)
					g_assert_cmpuint(digest[j], ==, 0xff);
				violations++;
			}
			/* PCR := H_bank(PCR || digest) */
			memcpy(pcr + size, digest, size);
			g_assert_true(kl_crypto_digest(kl_ima_bank_to_string(bank),
						       pcr,
						       2 * size,
						       pcr,
						       &len,
						       &error));
			g_assert_cmpuint(len, ==, size);
			entries++;
		}
		g_assert_no_error(error);
		g_assert_cmpuint(findings->len, ==, 0);
		g_assert_cmpuint(entries, ==, 5 + G_N_ELEMENTS(upstream_lines));
		g_assert_cmpuint(violations, ==, 1);

		g_assert_true(replay(log->str, log->len, bank, NULL, NULL, NULL, &result, &error));
		g_assert_no_error(error);
		g_assert_cmpuint(result.counts.violations, ==, 1);
		g_assert_cmpmem(result.pcr10, result.pcr10_len, pcr, size);
	}
}

static void
test_entry_pcr_digest_bad_arguments(void)
{
	const gchar *line = LINE_BARE "\n";
	g_autoptr(KlImaLogParser) parser = kl_ima_log_parser_new_for_data(line, strlen(line));
	g_autoptr(GError) error = NULL;
	const KlImaEntry *entry = kl_ima_log_parser_next(parser, NULL, &error);
	guint8 digest[KL_IMA_MAX_DIGEST];

	g_assert_nonnull(entry);
	g_assert_false(kl_ima_entry_pcr_digest(entry, KL_IMA_BANK_LAST, NULL, digest, &error));
	g_assert_error(error, KL_IMA_ERROR, KL_IMA_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_false(kl_ima_entry_pcr_digest(entry, KL_IMA_BANK_SHA256, "md4x", digest, &error));
	g_assert_nonnull(error);
	g_assert_nonnull(strstr(error->message, "IMA log hash algorithm"));
}

static void
test_bad_arguments(void)
{
	g_autoptr(GError) error = NULL;
	g_auto(KlImaResult) result = {0};
	g_auto(KlImaResult) result2 = {0};
	KlImaBank bank = KL_IMA_BANK_SHA1;
	KlImaState state;

	g_assert_false(kl_ima_bank_from_string("md5", &bank, &error));
	g_assert_error(error, KL_IMA_ERROR, KL_IMA_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_true(kl_ima_bank_from_string("sha384", &bank, &error));
	g_assert_cmpint(bank, ==, KL_IMA_BANK_SHA384);

	/* a quoted value of the wrong size */
	g_assert_false(replay("", 0, KL_IMA_BANK_SHA256, NULL, "00", NULL, &result, &error));
	g_assert_error(error, KL_IMA_ERROR, KL_IMA_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);

	/* a saved state without this bank */
	kl_ima_state_init(&state);
	state.next_entry = 5;
	state.known_banks = 1u << KL_IMA_BANK_SHA1;
	g_assert_false(replay("", 0, KL_IMA_BANK_SHA256, NULL, NULL, &state, &result2, &error));
	g_assert_error(error, KL_IMA_ERROR, KL_IMA_ERROR_INVALID_ARGUMENT);
}

static void
test_counts_string(void)
{
	KlImaCounts counts = {0};
	g_autofree gchar *text = NULL;
	g_autofree gchar *more = NULL;

	counts.fnf = 1;
	counts.good = 781;
	text = kl_ima_counts_to_string(&counts);
	g_assert_cmpstr(text, ==, "IMA ERRORS: template-hash 0 fnf 1 hash 0 good 781");
	counts.signature = 2;
	counts.parser = 3;
	more = kl_ima_counts_to_string(&counts);
	g_assert_cmpstr(more,
			==,
			"IMA ERRORS: template-hash 0 fnf 1 hash 0 good 781 signature 2 parser 3");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/ima-log/fixtures", test_fixtures);
	g_test_add_func("/ima-log/fixture-unknown", test_fixture_unknown);
	g_test_add_func("/ima-log/worked-pcr", test_worked_pcr);
	g_test_add_func("/ima-log/templates", test_templates);
	g_test_add_func("/ima-log/upstream-signed-lines", test_upstream_signed_lines);
	g_test_add_func("/ima-log/malformed-signature", test_malformed_signature);
	g_test_add_func("/ima-log/log-hash-alg", test_log_hash_alg);
	g_test_add_func("/ima-log/violation", test_violation);
	g_test_add_func("/ima-log/pcr-field", test_pcr_field);
	g_test_add_func("/ima-log/malformed-lines", test_malformed_lines);
	g_test_add_func("/ima-log/long-line", test_long_line);
	g_test_add_func("/ima-log/embedded-nul", test_embedded_nul);
	g_test_add_func("/ima-log/stream-matches-data", test_stream_matches_data);
	g_test_add_func("/ima-log/incremental", test_incremental);
	g_test_add_func("/ima-log/pcr-mismatch", test_pcr_mismatch);
	g_test_add_func("/ima-log/quote-progress", test_quote_progress);
	g_test_add_func("/ima-log/entry-pcr-digest", test_entry_pcr_digest);
	g_test_add_func("/ima-log/entry-pcr-digest-bad-arguments",
			test_entry_pcr_digest_bad_arguments);
	g_test_add_func("/ima-log/bad-arguments", test_bad_arguments);
	g_test_add_func("/ima-log/counts-string", test_counts_string);
	return g_test_run();
}
