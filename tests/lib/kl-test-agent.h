/*
 * kl-test-agent: a real agent in the test's process — KlAgentService over
 * a KlTpmSoft behind a TLS KlHttpServer that requires a client certificate
 * from the test CA — and the IMA evidence tests feed it (ima-ng lines,
 * PCR 10 extends, runtime policies allowing them).
 *
 * Two steps: kl_test_agent_new() makes the TPM, the secure directory and
 * the payload/revocation options (which the test may change), then
 * kl_test_agent_start() makes the service and its server.  Built after
 * agent/ as kl_test_agent_dep (tests/meson.build): libkl-test itself does
 * not link the agent.
 */
#pragma once

#include <openssl/evp.h>

#include <glib.h>

#include "kl-agent-service.h"
#include "kl-http-server.h"
#include "kl-test-ca.h"
#include "kl-tpm-soft.h"

G_BEGIN_DECLS

typedef struct {
	KlTpm *tpm;
	gchar *secure_dir;
	gchar *ima_path; /* NULL: the agent has no IMA log */
	KlAgentPayloadOptions payload;
	KlAgentRevocationOptions revocation;
	/* what kl_test_agent_start() gives kl_agent_service_new(): agent_id,
	 * tpm, nk, secure_dir, payload, revocation filled in, the rest 0 */
	KlAgentServiceOptions options;
	KlAgentService *service;
	KlHttpServer *server; /* NULL before start or without a server */
	guint16 port;
} KlTestAgent;

/* KlTpmSoft options with an EC EK and ECDSA AK (quick to make). */
void kl_test_agent_tpm_options_ecc(KlTpmOptions *options);

/* An agent @agent_id with @nk, not started.  @tpm: its TPM (a reference
 * is taken), NULL for a new KlTpmSoft with kl_test_agent_tpm_options_ecc().
 * @secure_dir is made (0700); @work_dir is the revocation options'. */
KlTestAgent *kl_test_agent_new(const gchar *agent_id,
			       EVP_PKEY *nk,
			       KlTpm *tpm,
			       const gchar *secure_dir,
			       const gchar *work_dir);
/* Makes the agent's IMA log @path, empty, and serves it. */
void kl_test_agent_set_ima_log(KlTestAgent *agent, const gchar *path);
/* Makes the service from agent->options; with @ca, a TLS server with its
 * server certificate requiring client certificates it issued listens on
 * 127.0.0.1 (agent->port).  @headers_timeout_ms: 0 for the server's. */
void kl_test_agent_start(KlTestAgent *agent, KlTestCa *ca, guint headers_timeout_ms);
void kl_test_agent_free(KlTestAgent *agent);

/* A KlHttpServer for @router listening on 127.0.0.1 (port 0) with TLS:
 * @ca's server certificate, client certificates it issued as @mode asks.
 * @headers_timeout_ms: 0 for the server's. */
KlHttpServer *kl_test_tls_server_new(KlHttpRouter *router,
				     KlTestCa *ca,
				     KlHttpClientCertMode mode,
				     guint headers_timeout_ms);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlTestAgent, kl_test_agent_free)

/* The ima-ng line the kernel logs for @path (its contents: the path, a
 * SHA-256 file hash, a SHA-1 template hash).  @extend (nullable) gets the
 * SHA-256 of its template data: what PCR 10's SHA-256 bank is extended by. */
gchar *kl_test_ima_ng_line(const gchar *path, guint8 extend[32]);
/* The kernel measures @path: its line appended to the agent's IMA log and
 * PCR 10 extended. */
void kl_test_agent_measure(KlTestAgent *agent, const gchar *path);
/* A runtime policy (JSON, base64) allowing the kl_test_ima_ng_line() file
 * hashes of the NULL-terminated @paths. */
gchar *kl_test_runtime_policy_b64(const gchar *const *paths);

G_END_DECLS
