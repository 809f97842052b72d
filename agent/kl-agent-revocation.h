/*
 * kl-agent-revocation: signed revocation notifications and the actions
 * they trigger, as upstream's Rust agent handles them (revocation.rs).
 *
 * A notification {"msg": "<JSON text>", "signature": "<base64>"} is
 * verified with RSA-PSS-SHA256 against the RevocationNotifier certificate
 * (revocation_cert, by default <secure>/unzipped/RevocationNotifier-cert.crt,
 * which the tenant's certificate package delivers); then msg is parsed and
 * the actions run one after the other: first those of the revocation_actions
 * option, then those listed in <secure>/unzipped/action_list.  Each name is
 * looked up in revocation_actions_dir, then (only with
 * allow_payload_revocation_actions) in <secure>/unzipped.  An action runs
 * in <secure>/unzipped (work_dir before a payload arrived) with the msg
 * JSON on its standard input.  A missing action, or one that fails or
 * times out, stops the rest.
 *
 * Only executables (scripts with a #! line, binaries) are actions here:
 * upstream's legacy Python actions (local_action_*.py modules with an
 * execute(event) function, run through shim.py) are not supported, as in
 * the Rust agent built without "legacy-python-actions".
 */
#pragma once

#include <json-glib/json-glib.h>

#include "kl-agent-payload.h"
#include "kl-crypto.h"

G_BEGIN_DECLS

#define KL_AGENT_REVOCATION_CERT_NAME		"RevocationNotifier-cert.crt"
#define KL_AGENT_DEFAULT_REVOCATION_ACTIONS_DIR "/usr/libexec/keylime"
#define KL_AGENT_DEFAULT_ACTION_TIMEOUT		60 /* seconds, per action */
#define KL_AGENT_REVOCATION_MAX_MSG		(1024 * 1024)

/* The options involved; strings are borrowed. */
typedef struct {
	const gchar *secure_dir;
	const gchar *revocation_cert;	 /* NULL: <secure>/unzipped/RevocationNotifier-cert.crt;
				       * relative: below <secure>/unzipped */
	const gchar *revocation_actions; /* the option's list text; nullable */
	const gchar *revocation_actions_dir;
	gboolean allow_payload_revocation_actions;
	const gchar *work_dir; /* keylime_dir */
	guint timeout_seconds; /* per action; 0: no limit */
} KlAgentRevocationOptions;

void kl_agent_revocation_options_init(KlAgentRevocationOptions *options,
				      const gchar *secure_dir,
				      const gchar *work_dir);

/* Upstream's list syntax: "a, b", "a b", "[a, 'b', \"c\"]", one per line;
 * brackets and quotes stripped, empty items dropped. */
gchar **kl_agent_parse_action_list(const gchar *text);

gchar *kl_agent_revocation_cert_path(const KlAgentRevocationOptions *options);
X509 *kl_agent_revocation_load_cert(const KlAgentRevocationOptions *options, GError **error);

/* Verifies @signature_b64 over @msg with @cert's key and parses @msg as a
 * JSON object.  A bad signature is KL_ERROR_VERIFICATION_FAILED. */
JsonObject *kl_agent_revocation_verify(X509 *cert,
				       const gchar *msg,
				       const gchar *signature_b64,
				       GError **error);
/* The same for the request body {"msg", "signature"}. */
JsonObject *
kl_agent_revocation_verify_request(X509 *cert, JsonObject *body, gchar **msg, GError **error);

/* The action names to run, in order: revocation_actions then action_list. */
gchar **kl_agent_revocation_get_actions(const KlAgentRevocationOptions *options, GError **error);
/* Where @name is found (see above), or KL_ERROR_NOT_FOUND. */
gchar *kl_agent_revocation_lookup_action(const KlAgentRevocationOptions *options,
					 const gchar *name,
					 GError **error);

/* Runs the actions with @msg (the verified JSON text). */
void kl_agent_revocation_run_actions_async(const KlAgentRevocationOptions *options,
					   const gchar *msg,
					   GCancellable *cancellable,
					   GAsyncReadyCallback callback,
					   gpointer user_data);
gboolean kl_agent_revocation_run_actions_finish(GAsyncResult *result, guint *n_run, GError **error);

/* Loads the certificate, verifies the request body and runs the actions. */
void kl_agent_revocation_process_async(const KlAgentRevocationOptions *options,
				       JsonObject *body,
				       GCancellable *cancellable,
				       GAsyncReadyCallback callback,
				       gpointer user_data);
gboolean kl_agent_revocation_process_finish(GAsyncResult *result, guint *n_run, GError **error);

G_END_DECLS
