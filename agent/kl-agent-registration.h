/*
 * kl-agent-registration: the agent's side of spec §1.2 against
 * keylime_registrar (or upstream's): GET /version to pick the API version,
 * POST the EK, its certificate and the AK, open the MakeCredential blob
 * with TPM2_ActivateCredential, and PUT the auth_tag.  Failed attempts are
 * retried with exponential backoff.
 */
#pragma once

#include <gio/gio.h>

#include "kl-tpm.h"

G_BEGIN_DECLS

typedef struct {
	const gchar *registrar_url; /* http://host:port */
	const gchar *agent_id;
	KlTpm *tpm;
	const gchar *mtls_cert; /* PEM, or NULL: "disabled" */
	const gchar *contact_ip;
	guint16 contact_port;
	guint max_retries;	/* after the first attempt */
	guint initial_delay_ms; /* doubled after each failure */
	guint max_delay_ms;
} KlAgentRegistrationOptions;

/* Borrowed options must live until the callback. */
void kl_agent_register_async(const KlAgentRegistrationOptions *options,
			     GCancellable *cancellable,
			     GAsyncReadyCallback callback,
			     gpointer user_data);
gboolean kl_agent_register_finish(GAsyncResult *result, GError **error);

G_END_DECLS
