/*
 * KlVerifierRest: keylime_verifier's REST API v2.0-2.6 (spec §2.3) on one
 * HTTPS listener over libkl-http.  Every route, /version included, needs
 * a client certificate chained to trusted_client_ca (upstream's verifier
 * listens with CERT_REQUIRED).  Each handler translates one request to
 * the KlVerifier API and answers in Keylime's {code, status, results}
 * envelope; KL_ERROR codes map to statuses through kl_error_to_http_status.
 */
#pragma once

#include "kl-http-server.h"
#include "kl-verifier-store.h"
#include "kl-verifier.h"

G_BEGIN_DECLS

typedef struct {
	/* verifier.conf ip, port and TLS files; tls and a REQUIRED client
	 * certificate are forced, trusted_client_ca is needed */
	KlHttpServerOptions server;
	guint64 max_upload_size; /* bytes of a request body; 0: 100 MiB */
	/* measured_boot_policy_name and where its policy lives, for
	 * POST /verify/evidence (NULL: accept-all; NULL dirs: the defaults) */
	const gchar *mb_policy_name;
	const gchar *const *mb_policy_dirs;
} KlVerifierRestOptions;

void kl_verifier_rest_options_init(KlVerifierRestOptions *options);

/* API versions 2.0 to 2.6, current 2.6 */
const KlApiVersion *kl_verifier_rest_supported_versions(gsize *n_versions);

/*
 * The router alone (GET /version included), for callers with a server
 * of their own.  @store is the one @verifier was made with (borrowed; the
 * verifier keeps it alive): the status object reads policy rows and other
 * verifiers' agents from it.  @options may be NULL (defaults).
 */
KlHttpRouter *kl_verifier_rest_router_new(KlVerifier *verifier,
					  KlVerifierStore *store,
					  const KlVerifierRestOptions *options,
					  GError **error);

#define KL_TYPE_VERIFIER_REST (kl_verifier_rest_get_type())
G_DECLARE_FINAL_TYPE(KlVerifierRest, kl_verifier_rest, KL, VERIFIER_REST, GObject)

/* Makes the router and the HTTPS server; listens with _listen(). */
KlVerifierRest *kl_verifier_rest_new(KlVerifier *verifier,
				     KlVerifierStore *store,
				     const KlVerifierRestOptions *options,
				     GError **error);
gboolean kl_verifier_rest_listen(KlVerifierRest *self, GError **error);
void kl_verifier_rest_stop(KlVerifierRest *self);
guint16 kl_verifier_rest_get_port(KlVerifierRest *self);
gchar *kl_verifier_rest_get_url(KlVerifierRest *self); /* https://ip:port */
KlHttpServer *kl_verifier_rest_get_server(KlVerifierRest *self);

/* The status object of GET /v2.x/agents/{id} (spec §2.3) for @agent. */
JsonNode *kl_verifier_rest_status_new(KlVerifier *verifier,
				      KlVerifierStore *store,
				      const KlVerifierAgent *agent);

G_END_DECLS
