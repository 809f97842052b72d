/*
 * kl-verifier-config: verifier.conf as keylime_verifier uses it (spec
 * §10.3): the [verifier] and [revocations] options the engine reads, as a
 * KlVerifierOptions, plus what the program itself needs: the listener
 * (ip, port, server TLS files resolved from tls_dir as the registrar does),
 * the client certificate for agents (client_cert, client_key,
 * trusted_server_ca) and the database file (database_url).
 *
 * The KlConfig is loaded by the caller (kl_config_load_component(),
 * "verifier": drop-ins and KEYLIME_VERIFIER_* environment overrides).  A
 * value that is present but bad is an error naming its file, line,
 * section and option; a value this verifier cannot serve (mode = push,
 * zeromq notifications, a non-sqlite database) is KL_ERROR_NOT_SUPPORTED
 * naming the option.
 */
#pragma once

#include "kl-config.h"
#include "kl-http-tls-files.h"
#include "kl-verifier.h"

G_BEGIN_DECLS

#define KL_VERIFIER_CONFIG_SECTION	       "verifier"
#define KL_VERIFIER_CONFIG_REVOCATIONS_SECTION "revocations"
/* tls_dir = generate makes its CA here, under keylime_dir (upstream's). */
#define KL_VERIFIER_CONFIG_GENERATE_DIR "cv_ca"

typedef struct {
	/* The engine's options: each field starts as the caller's default
	 * and is replaced when verifier.conf sets it; strings point into
	 * this struct or into the defaults. */
	KlVerifierOptions options;

	/* the tenant-facing listener (HTTPS, client certificate required) */
	gchar *ip;
	guint16 port;
	KlHttpTlsFiles *tls; /* server_cert, server_key, trusted_client_ca */

	/* to agents (and an https webhook) */
	gchar *client_cert;	  /* resolved under tls->dir */
	gchar *client_key;	  /* resolved under tls->dir */
	gchar *trusted_server_ca; /* resolved under tls->dir */

	gchar *database_path; /* the sqlite file database_url names */

	/* [revocations] */
	gboolean notify_agents;	 /* "agent" enabled */
	gboolean notify_webhook; /* "webhook" enabled (then webhook_url is set) */

	/* storage behind the string fields of options */
	gchar *verifier_id;
	gchar *severity_labels;
	gchar *severity_policy;
	gchar *mb_default_policy_name;
	gchar *webhook_url;
	GStrv revocation_notifiers;
} KlVerifierConfig;

/*
 * @defaults: kl_verifier_options_init() (or a test's); copied into the
 * result's options, then overridden by @config.  @keylime_dir: the state
 * directory (relative tls_dir and the default database live there).
 * Makes the CA when tls_dir = generate and it is missing.
 */
KlVerifierConfig *kl_verifier_config_new(KlConfig *config,
					 const gchar *keylime_dir,
					 const KlVerifierOptions *defaults,
					 GError **error);
void kl_verifier_config_free(KlVerifierConfig *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlVerifierConfig, kl_verifier_config_free)

G_END_DECLS
