/*
 * keylime-check: judges attestation evidence offline, with the same code
 * the verifier runs — a quote against an AK, a nonce and a tpm_policy, or
 * an IMA measurement list against a runtime policy (or a legacy allowlist
 * and exclude list) and a quoted PCR 10, or a UEFI event log replayed
 * against quoted PCRs.  Upstream has no such tool.
 *
 * Exit status: 0 the evidence passes, 1 it fails (every finding printed),
 * 2 the input is unusable (the message names the file, line or field).
 */
#define G_LOG_DOMAIN "KlTenant"

#include "config.h"

#include <locale.h>
#include <stdio.h>

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "kl-crypto.h"
#include "kl-eventlog.h"
#include "kl-finding.h"
#include "kl-ima-verify.h"
#include "kl-json.h"
#include "kl-mb-policy.h"
#include "kl-quote.h"
#include "kl-runtime-policy.h"
#include "kl-tenant-input.h"
#include "kl-tpm-policy.h"
#include "kl-tpm-types.h"
#include "kl-x509.h"

#define KL_CHECK_EXIT_PASS     0
#define KL_CHECK_EXIT_FAIL     1
#define KL_CHECK_EXIT_UNUSABLE 2

/* Evidence files are read whole; an IMA log of a busy machine is large. */
#define KL_CHECK_MAX_INPUT (512 * 1024 * 1024)

static gint
kl_check_unusable(const gchar *what, const GError *error)
{
	if (what != NULL)
		g_printerr("keylime-check: %s: %s\n", what, error->message);
	else
		g_printerr("keylime-check: %s\n", error->message);
	return KL_CHECK_EXIT_UNUSABLE;
}

static gint
kl_check_usage(GOptionContext *context, const gchar *message)
{
	g_autofree gchar *help = g_option_context_get_help(context, TRUE, NULL);
	g_printerr("keylime-check: %s\n\n%s", message, help);
	return KL_CHECK_EXIT_UNUSABLE;
}

static void
kl_check_add_findings(JsonBuilder *builder, GPtrArray *findings)
{
	json_builder_set_member_name(builder, "findings");
	json_builder_begin_array(builder);
	for (guint i = 0; i < findings->len; i++) {
		KlFinding *finding = g_ptr_array_index(findings, i);
		g_autofree gchar *component = kl_finding_get_component(finding);
		json_builder_begin_object(builder);
		json_builder_set_member_name(builder, "component");
		json_builder_add_string_value(builder, component);
		json_builder_set_member_name(builder, "subject");
		json_builder_add_string_value(builder, finding->subject);
		json_builder_set_member_name(builder, "reason");
		json_builder_add_string_value(builder, finding->reason);
		json_builder_set_member_name(builder, "line");
		json_builder_add_int_value(builder, finding->line);
		json_builder_end_object(builder);
	}
	json_builder_end_array(builder);
}

static void
kl_check_print_json(JsonBuilder *builder)
{
	g_autoptr(JsonNode) root = json_builder_get_root(builder);
	g_autoptr(JsonGenerator) generator = json_generator_new();
	g_autofree gchar *text = NULL;

	json_generator_set_pretty(generator, TRUE);
	json_generator_set_root(generator, root);
	text = json_generator_to_data(generator, NULL);
	g_print("%s\n", text);
}

static void
kl_check_print_findings(GPtrArray *findings)
{
	for (guint i = 0; i < findings->len; i++) {
		g_autofree gchar *text = kl_finding_to_string(g_ptr_array_index(findings, i));
		g_print("  %s\n", text);
	}
}

/* --ak-tpm: base64 TPM2B_PUBLIC (the registrar's aik_tpm); --ak: a PEM
 * public key or a binary TPM2B_PUBLIC file. */
static EVP_PKEY *
kl_check_load_ak(const gchar *ak_tpm, const gchar *ak_file, GError **error)
{
	g_autofree guint8 *raw = NULL;
	g_autofree gchar *data = NULL;
	g_autoptr(KlTpmPublic) public_area = NULL;
	gsize length = 0;
	EVP_PKEY *key;

	if (ak_tpm != NULL) {
		g_autofree gchar *text = g_strstrip(g_strdup(ak_tpm));
		raw = g_base64_decode(text, &length);
		if (length == 0) {
			g_set_error_literal(error,
					    G_IO_ERROR,
					    G_IO_ERROR_INVALID_DATA,
					    "--ak-tpm: not base64");
			return NULL;
		}
		public_area = kl_tpm_public_new_from_data(raw, length, error);
		if (public_area == NULL) {
			g_prefix_error(error, "--ak-tpm: ");
			return NULL;
		}
	} else {
		data = kl_tenant_read_input(ak_file, KL_CHECK_MAX_INPUT, &length, error);
		if (data == NULL) {
			g_prefix_error(error, "%s: ", ak_file);
			return NULL;
		}
		if (g_str_has_prefix(data, "-----BEGIN")) {
			key = kl_key_load_pem(data, length, error);
			if (key == NULL)
				g_prefix_error(error, "%s: ", ak_file);
			return key;
		}
		public_area = kl_tpm_public_new_from_data((const guint8 *)data, length, error);
		if (public_area == NULL) {
			g_prefix_error(error, "%s: ", ak_file);
			return NULL;
		}
	}
	key = kl_tpm_public_get_key(public_area);
	EVP_PKEY_up_ref(key);
	return key;
}

static void
kl_check_add_pcrs(JsonBuilder *builder, KlPcrBank *bank)
{
	json_builder_set_member_name(builder, "pcrs");
	json_builder_begin_object(builder);
	for (guint pcr = 0; bank != NULL && pcr < 24; pcr++) {
		g_autofree gchar *index = NULL;
		g_autofree gchar *value = NULL;
		if (!kl_pcr_bank_has(bank, pcr))
			continue;
		index = g_strdup_printf("%u", pcr);
		value = kl_pcr_bank_get_hex(bank, pcr);
		json_builder_set_member_name(builder, index);
		json_builder_add_string_value(builder, value);
	}
	json_builder_end_object(builder);
}

static gint
kl_check_quote(int argc, char **argv)
{
	g_autofree gchar *ak_tpm = NULL;
	g_autofree gchar *ak_file = NULL;
	g_autofree gchar *nonce = NULL;
	g_autofree gchar *quote_file = NULL;
	g_autofree gchar *hash_alg = NULL;
	g_autofree gchar *tpm_policy_text = NULL;
	g_autofree gchar *pubkey_file = NULL;
	gboolean allow_rsapss = FALSE;
	gboolean json = FALSE;
	const GOptionEntry entries[] = {
		{"ak-tpm",
		 0,
		 0,
		 G_OPTION_ARG_STRING,
		 &ak_tpm,
		 N_("The AK as base64 TPM2B_PUBLIC (the registrar's aik_tpm)"),
		 N_("BASE64")},
		{"ak",
		 0,
		 0,
		 G_OPTION_ARG_FILENAME,
		 &ak_file,
		 N_("The AK as a PEM public key or a TPM2B_PUBLIC file"),
		 N_("FILE")},
		{"nonce",
		 0,
		 0,
		 G_OPTION_ARG_STRING,
		 &nonce,
		 N_("The nonce the quote must carry"),
		 N_("STR")},
		{"quote",
		 0,
		 0,
		 G_OPTION_ARG_FILENAME,
		 &quote_file,
		 N_("The quote string r<attest>:<sig>:<pcrs>, - for standard input"),
		 N_("FILE")},
		{"hash-alg",
		 0,
		 0,
		 G_OPTION_ARG_STRING,
		 &hash_alg,
		 N_("The expected hash algorithm (default sha256)"),
		 N_("ALG")},
		{"tpm-policy",
		 0,
		 0,
		 G_OPTION_ARG_STRING,
		 &tpm_policy_text,
		 N_("A tpm_policy to check the quoted PCRs against"),
		 N_("JSON")},
		{"pubkey",
		 0,
		 0,
		 G_OPTION_ARG_FILENAME,
		 &pubkey_file,
		 N_("The agent's NK public key (PEM) that PCR 16 must bind"),
		 N_("FILE")},
		{"allow-rsapss",
		 0,
		 0,
		 G_OPTION_ARG_NONE,
		 &allow_rsapss,
		 N_("Accept RSAPSS signatures, which upstream's verifier rejects"),
		 NULL},
		{"json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print the result as JSON"), NULL},
		{NULL},
	};
	g_autoptr(GOptionContext) context = g_option_context_new(N_("— check a TPM quote"));
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) ak = NULL;
	g_autoptr(KlQuoteKey) quote_key = NULL;
	g_autoptr(KlQuote) quote = NULL;
	g_autoptr(KlTpmPolicy) tpm_policy = NULL;
	g_autoptr(GPtrArray) findings = kl_findings_new();
	g_autofree gchar *quote_text = NULL;
	g_autofree gchar *pubkey = NULL;
	KlPcrBank *bank = NULL;
	GPtrArray *banks;
	gsize length = 0;
	gboolean passed;

	g_option_context_set_translation_domain(context, GETTEXT_PACKAGE);
	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
	if (!g_option_context_parse(context, &argc, &argv, &error))
		return kl_check_usage(context, error->message);
	if ((ak_tpm == NULL) == (ak_file == NULL))
		return kl_check_usage(context,
				      _("give the AK with exactly one of --ak-tpm and --ak"));
	if (nonce == NULL || quote_file == NULL)
		return kl_check_usage(context, _("--nonce and --quote are required"));
	if (hash_alg == NULL)
		hash_alg = g_strdup("sha256");

	ak = kl_check_load_ak(ak_tpm, ak_file, &error);
	if (ak == NULL)
		return kl_check_unusable(NULL, error);
	quote_text = kl_tenant_read_input(quote_file, KL_CHECK_MAX_INPUT, &length, &error);
	if (quote_text == NULL)
		return kl_check_unusable(quote_file, error);
	g_strstrip(quote_text);
	quote = kl_quote_new_from_string(quote_text, &error);
	if (quote == NULL)
		return kl_check_unusable(quote_file, error);
	if (tpm_policy_text != NULL) {
		tpm_policy = kl_tpm_policy_new_from_json(tpm_policy_text,
							 strlen(tpm_policy_text),
							 &error);
		if (tpm_policy == NULL)
			return kl_check_unusable("--tpm-policy", error);
	}
	if (pubkey_file != NULL) {
		pubkey = kl_tenant_read_input(pubkey_file, KL_CHECK_MAX_INPUT, &length, &error);
		if (pubkey == NULL)
			return kl_check_unusable(pubkey_file, error);
	}

	quote_key = kl_quote_key_new(ak);
	passed = kl_quote_verify(quote,
				 quote_key,
				 nonce,
				 hash_alg,
				 allow_rsapss ? KL_QUOTE_VERIFY_FLAG_ALLOW_RSAPSS
					      : KL_QUOTE_VERIFY_FLAG_NONE,
				 findings);
	banks = kl_quote_get_pcr_banks(quote);
	if (banks->len > 0)
		bank = g_ptr_array_index(banks, 0);
	/* PCR checks mean something only for a quote that verified. */
	if (passed && bank != NULL) {
		if (pubkey != NULL)
			kl_quote_check_pcr16(bank, pubkey, findings);
		if (tpm_policy != NULL)
			kl_tpm_policy_check(tpm_policy, bank, 0, findings);
	}
	passed = findings->len == 0;

	if (json) {
		g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
		json_builder_begin_object(builder);
		json_builder_set_member_name(builder, "result");
		json_builder_add_string_value(builder, passed ? "pass" : "fail");
		kl_check_add_pcrs(builder, bank);
		kl_check_add_findings(builder, findings);
		json_builder_set_member_name(builder, "counts");
		json_builder_begin_object(builder);
		json_builder_set_member_name(builder, "findings");
		json_builder_add_int_value(builder, findings->len);
		json_builder_end_object(builder);
		json_builder_end_object(builder);
		kl_check_print_json(builder);
	} else {
		g_print(passed ? _("PASS: the quote verifies\n")
			       : _("FAIL: the quote does not verify\n"));
		kl_check_print_findings(findings);
		for (guint pcr = 0; bank != NULL && pcr < 24; pcr++) {
			g_autofree gchar *value = NULL;
			if (!kl_pcr_bank_has(bank, pcr))
				continue;
			value = kl_pcr_bank_get_hex(bank, pcr);
			g_print("  PCR %2u %s\n", pcr, value);
		}
	}
	return passed ? KL_CHECK_EXIT_PASS : KL_CHECK_EXIT_FAIL;
}

static KlRuntimePolicy *
kl_check_load_policy(const gchar *policy_file,
		     const gchar *policy_key_file,
		     const gchar *allowlist_file,
		     const gchar *exclude_file,
		     GError **error)
{
	g_autofree gchar *data = NULL;
	gsize length = 0;

	if (policy_file != NULL) {
		g_autoptr(EVP_PKEY) key = NULL;
		KlRuntimePolicy *policy;
		data = kl_tenant_read_input(policy_file, KL_CHECK_MAX_INPUT, &length, error);
		if (data == NULL) {
			g_prefix_error(error, "%s: ", policy_file);
			return NULL;
		}
		if (!kl_runtime_policy_is_dsse(data, length)) {
			policy = kl_runtime_policy_new_from_json(data, length, error);
			if (policy == NULL)
				g_prefix_error(error, "%s: ", policy_file);
			return policy;
		}
		/* A signed policy is used only once its signature holds. */
		if (policy_key_file == NULL) {
			g_set_error(error,
				    G_IO_ERROR,
				    G_IO_ERROR_INVALID_ARGUMENT,
				    "%s is signed: give the key with --policy-key",
				    policy_file);
			return NULL;
		}
		key = kl_key_load_pem_file(policy_key_file, error);
		if (key == NULL) {
			g_autoptr(GError) cert_error = NULL;
			g_autoptr(X509) cert = kl_x509_load_pem_file(policy_key_file, &cert_error);
			if (cert == NULL) {
				g_prefix_error(error, "%s: ", policy_key_file);
				return NULL;
			}
			g_clear_error(error);
			key = X509_get_pubkey(cert);
		}
		policy = kl_runtime_policy_new_from_dsse(data, length, key, error);
		if (policy == NULL)
			g_prefix_error(error, "%s: ", policy_file);
		return policy;
	} else {
		g_autoptr(KlRuntimePolicyBuilder) builder = kl_runtime_policy_builder_new();
		g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
		data = kl_tenant_read_input(allowlist_file, KL_CHECK_MAX_INPUT, &length, error);
		if (data == NULL || !kl_runtime_policy_builder_add_allowlist(builder,
									     data,
									     length,
									     warnings,
									     error)) {
			g_prefix_error(error, "%s: ", allowlist_file);
			return NULL;
		}
		for (guint i = 0; i < warnings->len; i++)
			g_printerr("keylime-check: %s: %s\n",
				   allowlist_file,
				   (const gchar *)g_ptr_array_index(warnings, i));
		if (exclude_file != NULL) {
			g_autofree gchar *excludes = kl_tenant_read_input(exclude_file,
									  KL_CHECK_MAX_INPUT,
									  &length,
									  error);
			if (excludes == NULL ||
			    !kl_runtime_policy_builder_add_exclude_list(builder,
									excludes,
									length,
									error)) {
				g_prefix_error(error, "%s: ", exclude_file);
				return NULL;
			}
		}
		return kl_runtime_policy_builder_build(builder, error);
	}
}

static void
kl_check_add_counts(JsonBuilder *builder, const KlImaCounts *counts)
{
	const struct {
		const gchar *name;
		guint value;
	} fields[] = {
		{"entries", counts->entries},
		{"good", counts->good},
		{"template-hash", counts->template_hash},
		{"fnf", counts->fnf},
		{"hash", counts->hash},
		{"signature", counts->signature},
		{"pcr", counts->pcr},
		{"keys", counts->keys},
		{"parser", counts->parser},
		{"violations", counts->violations},
		{"excluded", counts->excluded},
	};

	json_builder_set_member_name(builder, "counts");
	json_builder_begin_object(builder);
	for (guint i = 0; i < G_N_ELEMENTS(fields); i++) {
		json_builder_set_member_name(builder, fields[i].name);
		json_builder_add_int_value(builder, fields[i].value);
	}
	json_builder_end_object(builder);
}

static gint
kl_check_ima(int argc, char **argv)
{
	g_autofree gchar *log_file = NULL;
	g_autofree gchar *policy_file = NULL;
	g_autofree gchar *policy_key_file = NULL;
	g_autofree gchar *allowlist_file = NULL;
	g_autofree gchar *exclude_file = NULL;
	g_autofree gchar *pcr_hex = NULL;
	g_autofree gchar *bank_name = NULL;
	gboolean json = FALSE;
	const GOptionEntry entries[] = {
		{"log",
		 0,
		 0,
		 G_OPTION_ARG_FILENAME,
		 &log_file,
		 N_("The IMA ascii measurement list, - for standard input"),
		 N_("FILE")},
		{"policy",
		 0,
		 0,
		 G_OPTION_ARG_FILENAME,
		 &policy_file,
		 N_("A runtime policy (JSON, or DSSE-signed with --policy-key)"),
		 N_("FILE")},
		{"policy-key",
		 0,
		 0,
		 G_OPTION_ARG_FILENAME,
		 &policy_key_file,
		 N_("The public key or certificate that signed the policy"),
		 N_("FILE")},
		{"allowlist",
		 0,
		 0,
		 G_OPTION_ARG_FILENAME,
		 &allowlist_file,
		 N_("A legacy allowlist instead of a policy"),
		 N_("FILE")},
		{"exclude",
		 0,
		 0,
		 G_OPTION_ARG_FILENAME,
		 &exclude_file,
		 N_("An exclude list to go with --allowlist"),
		 N_("FILE")},
		{"pcr",
		 0,
		 0,
		 G_OPTION_ARG_STRING,
		 &pcr_hex,
		 N_("The quoted PCR 10 the log must replay to"),
		 N_("HEX")},
		{"bank",
		 0,
		 0,
		 G_OPTION_ARG_STRING,
		 &bank_name,
		 N_("The PCR bank: sha1, sha256, sha384 or sha512 (default: from --pcr, else "
		    "sha256)"),
		 N_("ALG")},
		{"json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print the result as JSON"), NULL},
		{NULL},
	};
	g_autoptr(GOptionContext) context =
		g_option_context_new(N_("— check an IMA measurement list"));
	g_autoptr(GError) error = NULL;
	g_autoptr(KlRuntimePolicy) policy = NULL;
	g_autoptr(GBytes) quoted = NULL;
	g_autofree gchar *log = NULL;
	g_autofree gchar *replayed = NULL;
	g_auto(KlImaResult) result = {0};
	gsize length = 0;
	gboolean passed;

	g_option_context_set_translation_domain(context, GETTEXT_PACKAGE);
	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
	if (!g_option_context_parse(context, &argc, &argv, &error))
		return kl_check_usage(context, error->message);
	if (log_file == NULL)
		return kl_check_usage(context, _("--log is required"));
	if ((policy_file == NULL) == (allowlist_file == NULL))
		return kl_check_usage(context, _("give exactly one of --policy and --allowlist"));
	if (exclude_file != NULL && allowlist_file == NULL)
		return kl_check_usage(context, _("--exclude goes with --allowlist"));

	if (pcr_hex != NULL) {
		quoted = kl_crypto_hex_decode(pcr_hex, &error);
		if (quoted == NULL)
			return kl_check_unusable("--pcr", error);
	}
	if (bank_name == NULL) {
		gsize size = quoted != NULL ? g_bytes_get_size(quoted) : 32;
		bank_name = g_strdup(size == 20	  ? "sha1"
				     : size == 48 ? "sha384"
				     : size == 64 ? "sha512"
						  : "sha256");
	}
	policy = kl_check_load_policy(policy_file,
				      policy_key_file,
				      allowlist_file,
				      exclude_file,
				      &error);
	if (policy == NULL)
		return kl_check_unusable(NULL, error);
	log = kl_tenant_read_input(log_file, KL_CHECK_MAX_INPUT, &length, &error);
	if (log == NULL)
		return kl_check_unusable(log_file, error);

	kl_ima_result_init(&result);
	if (!kl_ima_verify_log(log,
			       length,
			       NULL,
			       bank_name,
			       quoted != NULL ? g_bytes_get_data(quoted, NULL) : NULL,
			       policy,
			       NULL,
			       &result,
			       &error))
		return kl_check_unusable(NULL, error);
	passed = result.findings->len == 0;
	replayed = kl_crypto_hex_encode(result.pcr10, result.pcr10_len);

	if (json) {
		g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
		json_builder_begin_object(builder);
		json_builder_set_member_name(builder, "result");
		json_builder_add_string_value(builder, passed ? "pass" : "fail");
		json_builder_set_member_name(builder, "pcr");
		json_builder_add_string_value(builder, replayed);
		kl_check_add_findings(builder, result.findings);
		kl_check_add_counts(builder, &result.counts);
		json_builder_end_object(builder);
		kl_check_print_json(builder);
	} else {
		g_autofree gchar *counts = kl_ima_counts_to_string(&result.counts);
		g_print(passed ? _("PASS: the measurement list is trusted\n")
			       : _("FAIL: the measurement list is not trusted\n"));
		kl_check_print_findings(result.findings);
		/* TRANSLATORS: %s is a PCR bank name, then the PCR value in hex */
		g_print(_("  PCR 10 (%s) replays to %s\n"), bank_name, replayed);
		g_print("  %s\n", counts);
	}
	return passed ? KL_CHECK_EXIT_PASS : KL_CHECK_EXIT_FAIL;
}

/* One bank of --pcrs: {"0": "hex", ...} */
static KlPcrBank *
kl_check_parse_pcr_bank(const gchar *alg_name, JsonObject *values, GError **error)
{
	g_autoptr(KlPcrBank) bank = NULL;
	g_autoptr(GList) members = json_object_get_members(values);
	TPM2_ALG_ID alg = 0;

	if (!kl_tpm_hash_alg_from_string(alg_name, &alg)) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_INVALID_DATA,
			    "unknown PCR bank \"%s\"",
			    alg_name);
		return NULL;
	}
	bank = kl_pcr_bank_new(alg, error);
	if (bank == NULL)
		return NULL;
	for (GList *l = members; l != NULL; l = l->next) {
		const gchar *key = l->data;
		const gchar *hex = NULL;
		guint64 index = 0;
		g_autoptr(GBytes) value = NULL;

		if (!g_ascii_string_to_unsigned(key, 10, 0, KL_TPM_PCR_COUNT - 1, &index, NULL)) {
			g_set_error(error,
				    G_IO_ERROR,
				    G_IO_ERROR_INVALID_DATA,
				    "%s: \"%s\" is not a PCR index 0-23",
				    alg_name,
				    key);
			return NULL;
		}
		if (!kl_json_object_get_string(values, key, &hex, error)) {
			g_prefix_error(error, "%s: ", alg_name);
			return NULL;
		}
		value = kl_crypto_hex_decode(hex, error);
		if (value == NULL || !kl_pcr_bank_set(bank,
						      (guint)index,
						      g_bytes_get_data(value, NULL),
						      g_bytes_get_size(value),
						      error)) {
			g_prefix_error(error, "%s PCR %s: ", alg_name, key);
			return NULL;
		}
	}
	return g_steal_pointer(&bank);
}

/* --pcrs: {"sha256": {"0": "hex", ...}, ...} or {"0": "hex", ...} for
 * sha256; the JSON itself, or a file holding it */
static GPtrArray *
kl_check_parse_pcrs(const gchar *arg, GError **error)
{
	g_autoptr(GPtrArray) banks =
		g_ptr_array_new_with_free_func((GDestroyNotify)kl_pcr_bank_free);
	g_autoptr(JsonObject) root = NULL;
	g_autoptr(GList) members = NULL;
	g_autofree gchar *text = NULL;
	gsize length = 0;
	gboolean per_bank = FALSE;

	while (g_ascii_isspace(*arg))
		arg++;
	if (*arg == '{') {
		text = g_strdup(arg);
		length = strlen(text);
	} else {
		text = kl_tenant_read_input(arg, KL_CHECK_MAX_INPUT, &length, error);
		if (text == NULL)
			return NULL;
	}
	root = kl_json_parse_object(text,
				    length,
				    KL_JSON_DEFAULT_MAX_SIZE,
				    KL_JSON_DEFAULT_MAX_DEPTH,
				    error);
	if (root == NULL)
		return NULL;
	members = json_object_get_members(root);
	for (GList *l = members; l != NULL; l = l->next) {
		if (JSON_NODE_HOLDS_OBJECT(json_object_get_member(root, l->data)))
			per_bank = TRUE;
	}
	if (!per_bank) {
		KlPcrBank *bank = kl_check_parse_pcr_bank("sha256", root, error);
		if (bank == NULL)
			return NULL;
		g_ptr_array_add(banks, bank);
		return g_steal_pointer(&banks);
	}
	for (GList *l = members; l != NULL; l = l->next) {
		JsonObject *values = NULL;
		KlPcrBank *bank;
		if (!kl_json_object_get_object(root, l->data, &values, error))
			return NULL;
		bank = kl_check_parse_pcr_bank(l->data, values, error);
		if (bank == NULL)
			return NULL;
		g_ptr_array_add(banks, bank);
	}
	return g_steal_pointer(&banks);
}

static gint
kl_check_boot(int argc, char **argv)
{
	g_autofree gchar *log_file = NULL;
	g_autofree gchar *pcrs_arg = NULL;
	g_autofree gchar *refstate_file = NULL;
	g_autofree gchar *policy_name = NULL;
	gboolean json = FALSE;
	const GOptionEntry entries[] = {
		{"log",
		 0,
		 0,
		 G_OPTION_ARG_FILENAME,
		 &log_file,
		 N_("The UEFI event log (binary_bios_measurements), - for standard input"),
		 N_("FILE")},
		{"pcrs",
		 0,
		 0,
		 G_OPTION_ARG_STRING,
		 &pcrs_arg,
		 N_("Quoted PCRs the log must replay to: {\"sha256\": {\"0\": \"HEX\", ...}} or "
		    "{\"0\": \"HEX\", ...}, or a file holding that JSON"),
		 N_("JSON")},
		{"refstate",
		 0,
		 0,
		 G_OPTION_ARG_FILENAME,
		 &refstate_file,
		 N_("Measured boot reference state (keylime-policy create measured-boot)"),
		 N_("FILE")},
		{"policy",
		 0,
		 0,
		 G_OPTION_ARG_STRING,
		 &policy_name,
		 N_("Measured boot policy to judge the events with (default: example)"),
		 N_("NAME")},
		{"json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print the result as JSON"), NULL},
		{NULL},
	};
	g_autoptr(GOptionContext) context =
		g_option_context_new(N_("— replay a UEFI measured boot event log"));
	g_autoptr(KlMbPolicy) policy = NULL;
	g_autoptr(KlMbRefstate) refstate = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(KlEventLog) log = NULL;
	g_autoptr(GPtrArray) quoted = NULL;
	g_autoptr(GPtrArray) findings = kl_findings_new();
	g_autofree gchar *data = NULL;
	GPtrArray *banks;
	gsize length = 0;
	guint compared = 0;
	gboolean passed;

	g_option_context_set_translation_domain(context, GETTEXT_PACKAGE);
	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
	if (!g_option_context_parse(context, &argc, &argv, &error))
		return kl_check_usage(context, error->message);
	if (log_file == NULL)
		return kl_check_usage(context, _("--log is required"));
	if (pcrs_arg != NULL) {
		quoted = kl_check_parse_pcrs(pcrs_arg, &error);
		if (quoted == NULL)
			return kl_check_unusable("--pcrs", error);
	}
	if (policy_name != NULL && refstate_file == NULL)
		return kl_check_usage(context, _("--policy needs --refstate"));
	if (refstate_file != NULL) {
		g_autofree gchar *text = NULL;
		gsize text_len = 0;
		/* upstream's default is accept-all; a reference state asks for more */
		policy = kl_mb_policy_load(policy_name != NULL ? policy_name : "example",
					   NULL,
					   &error);
		if (policy == NULL)
			return kl_check_unusable("--policy", error);
		text = kl_tenant_read_input(refstate_file, KL_CHECK_MAX_INPUT, &text_len, &error);
		if (text == NULL)
			return kl_check_unusable(refstate_file, error);
		refstate = kl_mb_refstate_new_from_json(text, text_len, &error);
		if (refstate == NULL)
			return kl_check_unusable(refstate_file, error);
	}
	data = kl_tenant_read_input(log_file, KL_CHECK_MAX_INPUT, &length, &error);
	if (data == NULL)
		return kl_check_unusable(log_file, error);
	log = kl_eventlog_new_from_data((const guint8 *)data, length, &error);
	if (log == NULL)
		return kl_check_unusable(log_file, error);
	banks = kl_eventlog_get_pcr_banks(log);

	for (guint i = 0; quoted != NULL && i < quoted->len; i++) {
		KlPcrBank *bank = g_ptr_array_index(quoted, i);
		compared += (guint)__builtin_popcount(kl_pcr_bank_get_mask(bank) &
						      KL_EVENTLOG_MEASURED_BOOT_PCRS);
		kl_eventlog_compare_pcrs(log, bank, KL_EVENTLOG_MEASURED_BOOT_PCRS, findings);
	}
	if (policy != NULL) {
		g_autoptr(JsonNode) events = kl_eventlog_events_to_json(log);
		if (!kl_mb_policy_evaluate(policy,
					   refstate,
					   json_node_get_array(events),
					   findings,
					   &error))
			return kl_check_unusable(refstate_file, error);
	}
	passed = findings->len == 0;

	if (json) {
		g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
		json_builder_begin_object(builder);
		json_builder_set_member_name(builder, "result");
		json_builder_add_string_value(builder, passed ? "pass" : "fail");
		json_builder_set_member_name(builder, "pcrs");
		json_builder_begin_object(builder);
		for (guint i = 0; i < banks->len; i++) {
			KlPcrBank *bank = g_ptr_array_index(banks, i);
			json_builder_set_member_name(builder,
						     kl_pcr_bank_get_hash_alg_string(bank));
			json_builder_begin_object(builder);
			for (guint pcr = 0; pcr < KL_TPM_PCR_COUNT; pcr++) {
				g_autofree gchar *index = g_strdup_printf("%u", pcr);
				g_autofree gchar *value = kl_pcr_bank_get_hex(bank, pcr);
				json_builder_set_member_name(builder, index);
				json_builder_add_string_value(builder, value);
			}
			json_builder_end_object(builder);
		}
		json_builder_end_object(builder);
		kl_check_add_findings(builder, findings);
		json_builder_set_member_name(builder, "counts");
		json_builder_begin_object(builder);
		json_builder_set_member_name(builder, "events");
		json_builder_add_int_value(builder, kl_eventlog_get_events(log)->len);
		json_builder_set_member_name(builder, "banks");
		json_builder_add_int_value(builder, banks->len);
		json_builder_set_member_name(builder, "compared");
		json_builder_add_int_value(builder, compared);
		json_builder_set_member_name(builder, "mismatched");
		json_builder_add_int_value(builder, findings->len);
		json_builder_end_object(builder);
		json_builder_end_object(builder);
		kl_check_print_json(builder);
	} else {
		if (policy != NULL)
			/* TRANSLATORS: %s is the name of a measured boot policy */
			g_print(passed ? _("PASS: the event log satisfies the %s policy\n")
				       : _("FAIL: the event log breaks the %s policy or the quoted "
					   "PCRs\n"),
				kl_mb_policy_get_name(policy));
		else
			g_print(passed ? _("PASS: the event log replays consistently\n")
				       : _("FAIL: the event log does not match the quoted PCRs\n"));
		kl_check_print_findings(findings);
		/* TRANSLATORS: %u is a number of events */
		g_print(_("  %u events\n"), kl_eventlog_get_events(log)->len);
		for (guint i = 0; i < banks->len; i++) {
			KlPcrBank *bank = g_ptr_array_index(banks, i);
			for (guint pcr = 0; pcr < KL_TPM_PCR_COUNT; pcr++) {
				g_autofree gchar *value = NULL;
				if ((KL_EVENTLOG_MEASURED_BOOT_PCRS & (1u << pcr)) == 0)
					continue;
				value = kl_pcr_bank_get_hex(bank, pcr);
				g_print("  %s PCR %-2u %s\n",
					kl_pcr_bank_get_hash_alg_string(bank),
					pcr,
					value);
			}
		}
	}
	return passed ? KL_CHECK_EXIT_PASS : KL_CHECK_EXIT_FAIL;
}

int
main(int argc, char **argv)
{
	const gchar *command;

	setlocale(LC_ALL, "");
	bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
	bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
	textdomain(GETTEXT_PACKAGE);

	command = argc > 1 ? argv[1] : NULL;
	if (g_strcmp0(command, "quote") == 0)
		return kl_check_quote(argc - 1, argv + 1);
	if (g_strcmp0(command, "ima") == 0)
		return kl_check_ima(argc - 1, argv + 1);
	if (g_strcmp0(command, "boot") == 0)
		return kl_check_boot(argc - 1, argv + 1);
	g_printerr(_(
		"Usage: keylime-check quote --ak-tpm BASE64 | --ak FILE --nonce STR --quote FILE|- "
		"[--hash-alg ALG] [--tpm-policy JSON] [--json]\n"
		"       keylime-check ima --log FILE (--policy FILE | --allowlist FILE [--exclude "
		"FILE]) "
		"[--pcr HEX] [--bank ALG] [--json]\n"
		"       keylime-check boot --log FILE [--pcrs JSON] [--json]\n"
		"Exit status: 0 the evidence passes, 1 it fails, 2 the input is unusable.\n"));
	return KL_CHECK_EXIT_UNUSABLE;
}
