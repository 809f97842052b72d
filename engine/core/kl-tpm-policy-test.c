/*
 * kl-tpm-policy: the tenant's normalisation (lists, lower case, mask),
 * every refused key and value with the member named, and evaluation
 * against a PCR bank with upstream's event ids and got/expected context.
 */
#include "config.h"

#include "kl-error.h"
#include "kl-finding.h"
#include "kl-tpm-policy.h"

#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"
#define ONES  "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
#define AB    "abababababababababababababababababababababababababababababababab"

static KlTpmPolicy *
parse(const gchar *json, GError **error)
{
	return kl_tpm_policy_new_from_json(json, strlen(json), error);
}

static void
test_parse(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTpmPolicy) policy = NULL;
	g_autofree gchar *json = NULL;
	const gchar *const *values;

	policy = parse("{\"15\": [\"" ZEROS "\", \"ABABABABABABABABABABABABABABABABABABABAB"
		       "ABABABABABABABABABABABAB\"], \"22\": \"" ONES "\"}",
		       &error);
	g_assert_no_error(error);
	g_assert_cmphex(kl_tpm_policy_get_pcrs(policy), ==, 0x408000);
	g_assert_cmphex(kl_tpm_policy_get_mask(policy), ==, 0x408000);
	values = kl_tpm_policy_get_values(policy, 15);
	g_assert_cmpuint(g_strv_length((gchar **)values), ==, 2);
	g_assert_cmpstr(values[1], ==, AB);
	values = kl_tpm_policy_get_values(policy, 22);
	g_assert_cmpuint(g_strv_length((gchar **)values), ==, 1);
	g_assert_null(kl_tpm_policy_get_values(policy, 0));
	g_assert_null(kl_tpm_policy_get_values(policy, 99));
	json = kl_tpm_policy_to_json(policy);
	g_assert_cmpstr(json,
			==,
			"{\"15\":[\"" ZEROS "\",\"" AB "\"],\"22\":[\"" ONES
			"\"],\"mask\":\"0x408000\"}");

	/* the tenant's mask may add IMA's PCR 10 */
	g_clear_pointer(&policy, kl_tpm_policy_free);
	policy = parse("{\"15\": \"" ZEROS "\", \"22\": \"" ONES "\", \"mask\": \"0x408400\"}",
		       &error);
	g_assert_no_error(error);
	g_assert_cmphex(kl_tpm_policy_get_mask(policy), ==, 0x408400);
	g_assert_cmphex(kl_tpm_policy_get_pcrs(policy), ==, 0x408000);

	g_clear_pointer(&policy, kl_tpm_policy_free);
	policy = parse("{\"mask\": \"400\"}", &error);
	g_assert_no_error(error);
	g_assert_cmphex(kl_tpm_policy_get_mask(policy), ==, 0x400);
	g_assert_cmphex(kl_tpm_policy_get_pcrs(policy), ==, 0);

	g_clear_pointer(&policy, kl_tpm_policy_free);
	policy = parse("{}", &error);
	g_assert_no_error(error);
	g_assert_cmphex(kl_tpm_policy_get_mask(policy), ==, 0);
}

static void
test_parse_errors(void)
{
	struct {
		const gchar *json;
		const gchar *message;
	} cases[] = {
		{"{\"10\": \"" ZEROS "\"}", "member '10': PCR 10 may not be in tpm_policy"},
		{"{\"16\": \"" ZEROS "\"}", "member '16': PCR 16 may not be in tpm_policy"},
		{"{\"24\": \"" ZEROS "\"}", "member '24': not a PCR index 0..23"},
		{"{\"015\": \"" ZEROS "\"}", "member '015': not a PCR index"},
		{"{\"-1\": \"" ZEROS "\"}", "member '-1': not a PCR index"},
		{"{\"+1\": \"" ZEROS "\"}", "member '+1': not a PCR index"},
		{"{\" 1\": \"" ZEROS "\"}", "member ' 1': not a PCR index"},
		{"{\"pcr\": \"" ZEROS "\"}", "member 'pcr': not a PCR index"},
		{"{\"15\": 7}", "member '15': expected an array, got a number"},
		{"{\"15\": [7]}", "member '15'[0]: expected a string, got a number"},
		{"{\"15\": []}", "member '15': no allowed values"},
		{"{\"15\": \"xyz0\"}", "member '15': value 0: invalid hex digit at offset 0"},
		{"{\"15\": \"abc\"}", "member '15': value 0: hex string has odd length 3"},
		{"{\"15\": [\"" ZEROS "\", \"abcd\"]}",
		 "member '15': value 1: 2 bytes is not a PCR digest size"},
		{"{\"15\": \"" ZEROS "\", \"mask\": \"0x8001\"}", NULL},
		{"{\"15\": \"" ZEROS "\", \"mask\": \"0x1\"}",
		 "member 'mask': 0x1 does not select PCR 15"},
		{"{\"mask\": 5}", "member 'mask': expected a string, got a number"},
		{"{\"mask\": \"0x\"}", "member 'mask': '0x' is not a hex bitmap of PCRs 0..23"},
		{"{\"mask\": \"0x1000000\"}", "member 'mask': '0x1000000' is not a hex bitmap"},
		{"{\"mask\": \"-1\"}", "member 'mask': '-1' is not a hex bitmap"},
		{"{\"mask\": \"0xg\"}", "member 'mask': '0xg' is not a hex bitmap"},
		{"[]", "tpm_policy: "},
		{"{\"15\": ", "tpm_policy: "},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(KlTpmPolicy) policy = parse(cases[i].json, &error);
		if (cases[i].message == NULL) {
			g_assert_no_error(error);
			g_assert_nonnull(policy);
			continue;
		}
		g_assert_null(policy);
		g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
		g_test_message("%s -> %s", cases[i].json, error->message);
		if (!g_str_has_prefix(error->message, cases[i].message))
			g_error("%s: '%s' does not start with '%s'",
				cases[i].json,
				error->message,
				cases[i].message);
	}
}

static KlPcrBank *
make_bank(void)
{
	g_autoptr(GError) error = NULL;
	KlPcrBank *bank = kl_pcr_bank_new(TPM2_ALG_SHA256, &error);
	guint8 zeros[32] = {0};
	guint8 ones[32];

	memset(ones, 0xff, sizeof(ones));
	g_assert_true(kl_pcr_bank_set(bank, 0, ones, 32, &error));
	g_assert_true(kl_pcr_bank_set(bank, 15, zeros, 32, &error));
	g_assert_true(kl_pcr_bank_set(bank, 16, ones, 32, &error));
	g_assert_true(kl_pcr_bank_set(bank, 22, ones, 32, &error));
	g_assert_no_error(error);
	return bank;
}

static void
test_check(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlPcrBank) bank = make_bank();
	KlFinding *finding;

	/* all allowed; PCR 0 and 16 quoted but not in the policy: ignored */
	{
		g_autoptr(KlTpmPolicy) policy =
			parse("{\"15\": [\"" AB "\", \"" ZEROS "\"], \"22\": \"" ONES "\"}",
			      &error);
		g_autoptr(GPtrArray) findings = kl_findings_new();
		g_assert_no_error(error);
		g_assert_true(kl_tpm_policy_check(policy, bank, 0, findings));
		g_assert_cmpuint(findings->len, ==, 0);
	}
	/* a wrong value, with got and expected */
	{
		g_autoptr(KlTpmPolicy) policy =
			parse("{\"0\": \"" ONES "\", \"15\": [\"" AB "\", \"" ONES "\"]}", &error);
		g_autoptr(GPtrArray) findings = kl_findings_new();
		g_assert_no_error(error);
		g_assert_false(kl_tpm_policy_check(policy, bank, 0, findings));
		g_assert_cmpuint(findings->len, ==, 1);
		finding = g_ptr_array_index(findings, 0);
		g_assert_cmpstr(finding->event_id, ==, "pcr_validation.invalid_pcr_15");
		g_assert_cmpstr(finding->subject, ==, "PCR 15");
		g_assert_false(finding->irrecoverable);
		g_assert_nonnull(strstr(finding->context_json, "\"got\":\"" ZEROS "\""));
		g_assert_nonnull(
			strstr(finding->context_json, "\"expected\":\"" AB ", " ONES "\""));
		/* a PCR another check owns (measured boot) is skipped here */
		g_ptr_array_set_size(findings, 0);
		g_assert_true(kl_tpm_policy_check(policy, bank, 1u << 15, findings));
	}
	/* PCRs in the policy but not quoted, and a wrong one */
	{
		g_autoptr(KlTpmPolicy) policy = parse("{\"7\": \"" ZEROS "\", \"22\": \"" ZEROS
						      "\", \"23\": \"" ZEROS "\"}",
						      &error);
		g_autoptr(GPtrArray) findings = kl_findings_new();
		g_assert_no_error(error);
		g_assert_false(kl_tpm_policy_check(policy, bank, 1u << 22, findings));
		g_assert_cmpuint(findings->len, ==, 1);
		finding = g_ptr_array_index(findings, 0);
		g_assert_cmpstr(finding->event_id, ==, "pcr_validation.missing_pcrs");
		g_assert_cmpstr(finding->reason,
				==,
				"PCRs in tpm_policy but not in the quote: 7, 23");
		g_ptr_array_set_size(findings, 0);
		g_assert_false(kl_tpm_policy_check(policy, bank, 0, findings));
		g_assert_cmpuint(findings->len, ==, 2);
		finding = g_ptr_array_index(findings, 0);
		g_assert_cmpstr(finding->event_id, ==, "pcr_validation.invalid_pcr_22");
	}
}

/* the tenant's PCR 10 for IMA: in the mask, never a listed PCR */
static void
test_select(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTpmPolicy) empty = parse("{}", &error);
	g_autoptr(KlTpmPolicy) listed = NULL;
	g_autofree gchar *json = NULL;
	g_autofree gchar *listed_json = NULL;

	g_assert_no_error(error);
	g_assert_cmphex(kl_tpm_policy_get_mask(empty), ==, 0);
	kl_tpm_policy_select(empty, 1u << 10);
	g_assert_cmphex(kl_tpm_policy_get_mask(empty), ==, 0x400);
	g_assert_cmphex(kl_tpm_policy_get_pcrs(empty), ==, 0);
	json = kl_tpm_policy_to_json(empty);
	g_assert_cmpstr(json, ==, "{\"mask\":\"0x400\"}");

	listed = parse("{\"15\": \"" ZEROS "\"}", &error);
	g_assert_no_error(error);
	kl_tpm_policy_select(listed, 1u << 10);
	kl_tpm_policy_select(listed, 0xfbffu);
	/* bits past the last PCR are not PCRs */
	kl_tpm_policy_select(listed, 0xff000000u);
	g_assert_cmphex(kl_tpm_policy_get_mask(listed), ==, 0xffff);
	g_assert_cmphex(kl_tpm_policy_get_pcrs(listed), ==, 1u << 15);
	listed_json = kl_tpm_policy_to_json(listed);
	g_assert_cmpstr(listed_json, ==, "{\"15\":[\"" ZEROS "\"],\"mask\":\"0xffff\"}");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/tpm-policy/parse", test_parse);
	g_test_add_func("/tpm-policy/parse-errors", test_parse_errors);
	g_test_add_func("/tpm-policy/check", test_check);
	g_test_add_func("/tpm-policy/select", test_select);
	return g_test_run();
}
