/*
 * kl-agent-identity: the agent's own keys on disk, made on first start and
 * reused after: the NK (payload_key, RSA-2048, what U and V are encrypted
 * to and what PCR 16 binds) and the mTLS server key and self-signed
 * certificate (ECC P-256, CN = the agent's uuid, the contact IP as SAN),
 * as the Rust agent makes them.
 */
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <glib.h>

G_BEGIN_DECLS

/* Loads @path, or makes an RSA-2048 key there (0600). */
EVP_PKEY *kl_agent_identity_load_nk(const gchar *path, GError **error);

/* The NK's SubjectPublicKeyInfo PEM: the `pubkey` the agent serves. */
gchar *kl_agent_identity_nk_pem(EVP_PKEY *nk, GError **error);

/* Loads or makes the TLS server key and certificate at the two paths. */
gboolean kl_agent_identity_ensure_server_cert(const gchar *key_path,
					      const gchar *cert_path,
					      const gchar *agent_id,
					      const gchar *contact_ip,
					      GError **error);

G_END_DECLS
