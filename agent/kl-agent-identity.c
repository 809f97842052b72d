/*
 * The agent's key files.  A key that exists is used as it is; one that
 * does not is made and saved before anything is sent with it, so a
 * restart serves the same NK and the same certificate the registrar has.
 */
#include "config.h"

#include <gio/gio.h>

#include "kl-agent-identity.h"
#include "kl-crypto.h"
#include "kl-x509.h"

#define KL_AGENT_NK_BITS	  2048
#define KL_AGENT_CERT_DAYS	  3650
#define KL_AGENT_SERVER_KEY_CURVE "P-256"

EVP_PKEY *
kl_agent_identity_load_nk(const gchar *path, GError **error)
{
	EVP_PKEY *nk;

	g_return_val_if_fail(path != NULL, NULL);

	if (g_file_test(path, G_FILE_TEST_EXISTS))
		return kl_key_load_pem_file(path, error);
	g_message("making the payload key (NK) %s", path);
	nk = kl_key_generate_rsa(KL_AGENT_NK_BITS, error);
	if (nk == NULL)
		return NULL;
	if (!kl_key_save_private_pem_file(nk, path, error)) {
		EVP_PKEY_free(nk);
		return NULL;
	}
	return nk;
}

gchar *
kl_agent_identity_nk_pem(EVP_PKEY *nk, GError **error)
{
	g_return_val_if_fail(nk != NULL, NULL);
	return kl_key_to_pem_public(nk, error);
}

gboolean
kl_agent_identity_ensure_server_cert(const gchar *key_path,
				     const gchar *cert_path,
				     const gchar *agent_id,
				     const gchar *contact_ip,
				     GError **error)
{
	g_autofree gchar *pem = NULL;
	g_autoptr(EVP_PKEY) key = NULL;
	g_autoptr(X509) cert = NULL;
	const gchar *ips[] = {contact_ip, NULL};
	KlCertRequest request = {
		.common_name = agent_id,
		.days = KL_AGENT_CERT_DAYS,
		.usage = KL_CERT_USAGE_SERVER,
		.ip_addresses = contact_ip != NULL && g_hostname_is_ip_address(contact_ip) ? ips
											   : NULL,
	};

	g_return_val_if_fail(key_path != NULL && cert_path != NULL, FALSE);
	g_return_val_if_fail(agent_id != NULL, FALSE);

	if (g_file_test(key_path, G_FILE_TEST_EXISTS)) {
		key = kl_key_load_pem_file(key_path, error);
	} else {
		g_message("making the mTLS server key %s", key_path);
		key = kl_key_generate_ec(KL_AGENT_SERVER_KEY_CURVE, error);
		if (key != NULL && !kl_key_save_private_pem_file(key, key_path, error))
			g_clear_pointer(&key, EVP_PKEY_free);
	}
	if (key == NULL)
		return FALSE;
	if (g_file_test(cert_path, G_FILE_TEST_EXISTS))
		return TRUE;

	g_message("making the mTLS server certificate %s", cert_path);
	cert = kl_x509_issue(&request, key, NULL, key, error);
	if (cert == NULL)
		return FALSE;
	pem = kl_x509_to_pem(cert, error);
	if (pem == NULL)
		return FALSE;
	return g_file_set_contents_full(cert_path,
					pem,
					-1,
					G_FILE_SET_CONTENTS_CONSISTENT,
					0644,
					error);
}
