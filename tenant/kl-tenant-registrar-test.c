/*
 * kl-tenant-registrar: the registrar record as the tenant reads it —
 * upstream's mandatory keys, the port as integer or string, mtls_cert
 * "disabled", the EK certificate, error replies.
 */
#include "config.h"

#include <string.h>

#include "kl-error.h"
#include "kl-json.h"
#include "kl-tenant-registrar.h"
#include "kl-test-data.h"

#define KL_TEST_AGENT_ID "d432fbb3-d2f1-4a97-9ef7-75bd81c00000"

/* a registration request of tests/data (RSA EK with a certificate) as a
 * registrar record's results */
static JsonObject *
kl_test_results_new(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = NULL;
	JsonObject *results;
	gsize len = 0;

	text = kl_test_load_data(&len, "fuzz", "registrar-request", "rsa-ekcert.json", NULL);
	results = kl_json_parse_object(text, len, 1024 * 1024, 16, &error);
	g_assert_no_error(error);
	json_object_set_int_member(results, "regcount", 1);
	json_object_set_string_member(results, "agent_id", KL_TEST_AGENT_ID);
	return results;
}

static KlTenantRegistrarRecord *
kl_test_parse(guint status, JsonObject *results, GError **error)
{
	g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), results);
	g_autofree gchar *body = kl_json_envelope_new(status, "Success", node);

	return kl_tenant_registrar_record_parse(KL_TEST_AGENT_ID,
						status,
						body,
						strlen(body),
						error);
}

static void
test_registrar_record_valid(void)
{
	g_autoptr(JsonObject) results = kl_test_results_new();
	g_autoptr(KlTenantRegistrarRecord) record = NULL;
	g_autoptr(GError) error = NULL;

	record = kl_test_parse(200, results, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(record->agent_id, ==, KL_TEST_AGENT_ID);
	g_assert_cmpstr(record->aik_tpm, ==, json_object_get_string_member(results, "aik_tpm"));
	g_assert_cmpstr(record->ek_tpm, ==, json_object_get_string_member(results, "ek_tpm"));
	g_assert_nonnull(record->ak);
	g_assert_nonnull(record->ek);
	g_assert_nonnull(record->ek_certificate);
	g_assert_cmpstr(record->ip, ==, json_object_get_string_member(results, "ip"));
	g_assert_cmpuint(record->port, ==, json_object_get_int_member(results, "port"));
	g_assert_cmpint(record->regcount, ==, 1);
}

/* upstream's mandatory keys: aik_tpm, regcount, ek_tpm, ip, port */
static void
test_registrar_record_mandatory(void)
{
	const gchar *keys[] = {"aik_tpm", "regcount", "ek_tpm", "ip", "port"};

	for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
		g_autoptr(JsonObject) results = kl_test_results_new();
		g_autoptr(KlTenantRegistrarRecord) record = NULL;
		g_autoptr(GError) error = NULL;

		json_object_remove_member(results, keys[i]);
		record = kl_test_parse(200, results, &error);
		g_assert_null(record);
		g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
		g_assert_nonnull(strstr(error->message, keys[i]));
	}
}

static void
test_registrar_record_port(void)
{
	const gchar *bad[] = {"0", "65536", "90x2", "", "-1"};
	g_autoptr(JsonObject) results = kl_test_results_new();
	g_autoptr(KlTenantRegistrarRecord) record = NULL;
	g_autoptr(GError) error = NULL;

	json_object_set_string_member(results, "port", "9003");
	record = kl_test_parse(200, results, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(record->port, ==, 9003);
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(KlTenantRegistrarRecord) refused = NULL;
		g_autoptr(GError) error_bad = NULL;

		json_object_set_string_member(results, "port", bad[i]);
		refused = kl_test_parse(200, results, &error_bad);
		g_assert_error(error_bad, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	}
	json_object_set_int_member(results, "port", 70000);
	g_clear_pointer(&record, kl_tenant_registrar_record_free);
	g_clear_error(&error);
	record = kl_test_parse(200, results, &error);
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
}

static void
test_registrar_record_mtls_and_ekcert(void)
{
	g_autoptr(JsonObject) results = kl_test_results_new();
	g_autoptr(KlTenantRegistrarRecord) record = NULL;
	g_autoptr(GError) error = NULL;

	json_object_set_string_member(results, "mtls_cert", "disabled");
	json_object_set_null_member(results, "ekcert");
	record = kl_test_parse(200, results, &error);
	g_assert_no_error(error);
	g_assert_true(record->mtls_disabled);
	g_assert_null(record->mtls_cert);
	g_assert_null(record->ekcert);
	g_assert_null(record->ek_certificate);

	/* a certificate that does not parse is refused, not ignored */
	json_object_set_string_member(results, "ekcert", "bm90IGEgY2VydGlmaWNhdGU=");
	g_clear_pointer(&record, kl_tenant_registrar_record_free);
	record = kl_test_parse(200, results, &error);
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "ekcert"));
}

static void
test_registrar_record_bad_keys(void)
{
	g_autoptr(JsonObject) results = kl_test_results_new();
	g_autoptr(KlTenantRegistrarRecord) record = NULL;
	g_autoptr(GError) error = NULL;

	/* base64 of two bytes: no TPM2B_PUBLIC */
	json_object_set_string_member(results, "aik_tpm", "AAA=");
	record = kl_test_parse(200, results, &error);
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "aik_tpm"));
}

static void
test_registrar_record_other_agent(void)
{
	g_autoptr(JsonObject) results = kl_test_results_new();
	g_autoptr(KlTenantRegistrarRecord) record = NULL;
	g_autoptr(GError) error = NULL;

	json_object_set_string_member(results, "agent_id", "someone-else");
	record = kl_test_parse(200, results, &error);
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "agent_id"));
	g_clear_error(&error);

	/* an older registrar leaves it out */
	json_object_remove_member(results, "agent_id");
	record = kl_test_parse(200, results, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(record->agent_id, ==, KL_TEST_AGENT_ID);
}

static void
test_registrar_record_errors(void)
{
	g_autoptr(KlTenantRegistrarRecord) record = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *not_found =
		"{\"code\": 404, \"status\": \"agent not found\", \"results\": {}}";

	record = kl_tenant_registrar_record_parse(KL_TEST_AGENT_ID,
						  404,
						  not_found,
						  strlen(not_found),
						  &error);
	g_assert_error(error, KL_ERROR, KL_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, KL_TEST_AGENT_ID));
	g_clear_error(&error);

	record = kl_tenant_registrar_record_parse(KL_TEST_AGENT_ID, 500, "oops", 4, &error);
	g_assert_error(error, KL_ERROR, KL_ERROR_UNAVAILABLE);
	g_assert_nonnull(strstr(error->message, "500"));
	g_clear_error(&error);

	record = kl_tenant_registrar_record_parse(KL_TEST_AGENT_ID, 200, "[1, 2]", 6, &error);
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);

	record = kl_tenant_registrar_record_parse(KL_TEST_AGENT_ID, 200, NULL, 0, &error);
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/tenant-registrar/valid", test_registrar_record_valid);
	g_test_add_func("/tenant-registrar/mandatory", test_registrar_record_mandatory);
	g_test_add_func("/tenant-registrar/port", test_registrar_record_port);
	g_test_add_func("/tenant-registrar/mtls-and-ekcert", test_registrar_record_mtls_and_ekcert);
	g_test_add_func("/tenant-registrar/bad-keys", test_registrar_record_bad_keys);
	g_test_add_func("/tenant-registrar/other-agent", test_registrar_record_other_agent);
	g_test_add_func("/tenant-registrar/errors", test_registrar_record_errors);
	return g_test_run();
}
