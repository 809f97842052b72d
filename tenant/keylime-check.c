/*
 * keylime-check: judges attestation evidence offline, with the same code
 * the verifier runs — a quote against an AK, a nonce and a tpm_policy, or
 * an IMA measurement list against a runtime policy (or a legacy allowlist
 * and exclude list) and a quoted PCR 10.  Upstream has no such tool.
 *
 * Exit status: 0 the evidence passes, 1 it fails (every finding printed),
 * 2 the input is unusable (the message names the file, line or field).
 */
#define G_LOG_DOMAIN "KlTenant"

#include "config.h"

#include <locale.h>
#include <stdio.h>

#include <gio/gunixinputstream.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "kl-crypto.h"
#include "kl-finding.h"
#include "kl-ima-verify.h"
#include "kl-quote.h"
#include "kl-runtime-policy.h"
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

/* A file, or standard input for "-". */
static gchar *
kl_check_read(const gchar *path, gsize *length, GError **error)
{
	g_autoptr(GInputStream) stream = NULL;
	g_autoptr(GOutputStream) memory = NULL;
	g_autoptr(GFile) file = NULL;
	gssize copied;

	if (g_strcmp0(path, "-") == 0) {
		stream = g_unix_input_stream_new(0, FALSE);
	} else {
		file = g_file_new_for_commandline_arg(path);
		stream = G_INPUT_STREAM(g_file_read(file, NULL, error));
		if (stream == NULL)
			return NULL;
	}
	memory = g_memory_output_stream_new_resizable();
	copied = g_output_stream_splice(memory,
					stream,
					G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE,
					NULL,
					error);
	if (copied < 0)
		return NULL;
	if ((gsize)copied > KL_CHECK_MAX_INPUT) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_MESSAGE_TOO_LARGE,
			    "larger than %u MiB",
			    (guint)(KL_CHECK_MAX_INPUT / (1024 * 1024)));
		return NULL;
	}
	*length = (gsize)copied;
	/* NUL-terminate: the quote and the policies are text. */
	if (!g_output_stream_write_all(memory, "", 1, NULL, NULL, error) ||
	    !g_output_stream_close(memory, NULL, error))
		return NULL;
	return g_memory_output_stream_steal_data(G_MEMORY_OUTPUT_STREAM(memory));
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
		data = kl_check_read(ak_file, &length, error);
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
	quote_text = kl_check_read(quote_file, &length, &error);
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
		pubkey = kl_check_read(pubkey_file, &length, &error);
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
		data = kl_check_read(policy_file, &length, error);
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
		data = kl_check_read(allowlist_file, &length, error);
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
			g_autofree gchar *excludes = kl_check_read(exclude_file, &length, error);
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
	log = kl_check_read(log_file, &length, &error);
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
	g_printerr(_(
		"Usage: keylime-check quote --ak-tpm BASE64 | --ak FILE --nonce STR --quote FILE|- "
		"[--hash-alg ALG] [--tpm-policy JSON] [--json]\n"
		"       keylime-check ima --log FILE (--policy FILE | --allowlist FILE [--exclude "
		"FILE]) "
		"[--pcr HEX] [--bank ALG] [--json]\n"
		"Exit status: 0 the evidence passes, 1 it fails, 2 the input is unusable.\n"));
	return KL_CHECK_EXIT_UNUSABLE;
}
