/*
 * kl-test-agent: a real in-process agent (KlAgentService, KlTpmSoft,
 * KlHttpServer with mTLS) and the IMA evidence tests feed it.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>

#include "kl-crypto.h"
#include "kl-runtime-policy.h"
#include "kl-test-agent.h"

void
kl_test_agent_tpm_options_ecc(KlTpmOptions *options)
{
	kl_tpm_options_init(options);
	options->enc_alg = TPM2_ALG_ECC;
	options->sign_alg = TPM2_ALG_ECDSA;
}

KlTestAgent *
kl_test_agent_new(const gchar *agent_id,
		  EVP_PKEY *nk,
		  KlTpm *tpm,
		  const gchar *secure_dir,
		  const gchar *work_dir)
{
	g_autoptr(KlTestAgent) agent = g_new0(KlTestAgent, 1);
	g_autoptr(GError) error = NULL;
	KlTpmOptions tpm_options;

	if (tpm != NULL) {
		agent->tpm = g_object_ref(tpm);
	} else {
		kl_test_agent_tpm_options_ecc(&tpm_options);
		agent->tpm = kl_tpm_soft_new(&tpm_options, &error);
		g_assert_no_error(error);
	}
	agent->secure_dir = g_strdup(secure_dir);
	g_assert_cmpint(g_mkdir_with_parents(agent->secure_dir, 0700), ==, 0);
	kl_agent_payload_options_init(&agent->payload);
	kl_agent_revocation_options_init(&agent->revocation, agent->secure_dir, work_dir);

	agent->options.agent_id = agent_id;
	agent->options.tpm = agent->tpm;
	agent->options.nk = nk;
	agent->options.secure_dir = agent->secure_dir;
	agent->options.payload = &agent->payload;
	agent->options.revocation = &agent->revocation;
	return g_steal_pointer(&agent);
}

void
kl_test_agent_set_ima_log(KlTestAgent *agent, const gchar *path)
{
	g_autoptr(GError) error = NULL;

	g_free(agent->ima_path);
	agent->ima_path = g_strdup(path);
	g_assert_true(g_file_set_contents(agent->ima_path, "", 0, &error));
	g_assert_no_error(error);
	agent->options.ima_ml_path = agent->ima_path;
}

KlHttpServer *
kl_test_tls_server_new(KlHttpRouter *router,
		       KlTestCa *ca,
		       KlHttpClientCertMode mode,
		       guint headers_timeout_ms)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlHttpServer) server = NULL;
	KlHttpServerOptions options = {0};

	options.tls = TRUE;
	options.server_cert = kl_test_ca_get_server_cert_path(ca);
	options.server_key = kl_test_ca_get_server_key_path(ca);
	options.trusted_client_ca = kl_test_ca_get_ca_cert_path(ca);
	options.client_cert = mode;
	options.headers_timeout_ms = headers_timeout_ms;
	server = kl_http_server_new(router, &options, &error);
	g_assert_no_error(error);
	g_assert_true(kl_http_server_listen(server, &error));
	g_assert_no_error(error);
	return g_steal_pointer(&server);
}

void
kl_test_agent_start(KlTestAgent *agent, KlTestCa *ca, guint headers_timeout_ms)
{
	g_autoptr(GError) error = NULL;

	agent->service = kl_agent_service_new(&agent->options, &error);
	g_assert_no_error(error);
	if (ca == NULL)
		return;
	agent->server = kl_test_tls_server_new(kl_agent_service_get_router(agent->service),
					       ca,
					       KL_HTTP_CLIENT_CERT_REQUIRED,
					       headers_timeout_ms);
	agent->port = kl_http_server_get_port(agent->server);
}

void
kl_test_agent_free(KlTestAgent *agent)
{
	if (agent->server != NULL)
		kl_http_server_stop(agent->server);
	g_clear_object(&agent->server);
	g_clear_object(&agent->service);
	g_clear_object(&agent->tpm);
	g_free(agent->secure_dir);
	g_free(agent->ima_path);
	g_free(agent);
}

gchar *
kl_test_ima_ng_line(const gchar *path, guint8 extend[32])
{
	g_autoptr(GByteArray) data = g_byte_array_new();
	g_autofree gchar *digest_hex = NULL;
	g_autofree gchar *thash_hex = NULL;
	guint8 digest[32];
	guint8 thash[20];
	gsize len = 0;
	guint32 le;

	g_assert_true(
		kl_crypto_digest("sha256", (const guint8 *)path, strlen(path), digest, &len, NULL));
	le = GUINT32_TO_LE(6 + 2 + 32);
	g_byte_array_append(data, (const guint8 *)&le, 4);
	g_byte_array_append(data, (const guint8 *)"sha256:\0", 8);
	g_byte_array_append(data, digest, 32);
	le = GUINT32_TO_LE((guint32)strlen(path) + 1);
	g_byte_array_append(data, (const guint8 *)&le, 4);
	g_byte_array_append(data, (const guint8 *)path, (guint)strlen(path) + 1);
	g_assert_true(kl_crypto_digest("sha1", data->data, data->len, thash, &len, NULL));
	if (extend != NULL)
		g_assert_true(
			kl_crypto_digest("sha256", data->data, data->len, extend, &len, NULL));
	digest_hex = kl_crypto_hex_encode(digest, 32);
	thash_hex = kl_crypto_hex_encode(thash, 20);
	return g_strdup_printf("10 %s ima-ng sha256:%s %s\n", thash_hex, digest_hex, path);
}

void
kl_test_agent_measure(KlTestAgent *agent, const gchar *path)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) bytes = NULL;
	g_autofree gchar *line = NULL;
	guint8 extend[32];
	FILE *file;

	g_assert_nonnull(agent->ima_path);
	line = kl_test_ima_ng_line(path, extend);
	/* the agent answers on this thread: no quote sees one without the other */
	file = fopen(agent->ima_path, "a");
	g_assert_nonnull(file);
	g_assert_cmpint(fputs(line, file), >=, 0);
	g_assert_cmpint(fclose(file), ==, 0);
	bytes = g_bytes_new(extend, sizeof(extend));
	g_assert_true(KL_TPM_GET_CLASS(agent->tpm)
			      ->pcr_extend(agent->tpm, 10, TPM2_ALG_SHA256, bytes, &error));
	g_assert_no_error(error);
}

gchar *
kl_test_runtime_policy_b64(const gchar *const *paths)
{
	g_autoptr(KlRuntimePolicyBuilder) builder = kl_runtime_policy_builder_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *json = NULL;

	for (guint i = 0; paths[i] != NULL; i++) {
		guint8 digest[32];
		gsize len = 0;
		g_autofree gchar *hex = NULL;

		g_assert_true(kl_crypto_digest("sha256",
					       (const guint8 *)paths[i],
					       strlen(paths[i]),
					       digest,
					       &len,
					       NULL));
		hex = kl_crypto_hex_encode(digest, 32);
		g_assert_true(kl_runtime_policy_builder_add_digest(builder,
								   KL_RUNTIME_POLICY_MAP_DIGESTS,
								   paths[i],
								   hex,
								   &error));
		g_assert_no_error(error);
	}
	json = kl_runtime_policy_builder_to_json(builder);
	return g_base64_encode((const guint8 *)json, strlen(json));
}
