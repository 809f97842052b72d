/*
 * Fuzz target: every way a certificate or key arrives from outside —
 * DER, PEM, Keylime's "PEM or base64 DER" ekcert field, PEM bundles, key
 * PEM and CRL PEM.
 */
#include "config.h"

#include "kl-crypto.h"
#include "kl-fuzz.h"
#include "kl-x509.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree gchar *text = g_strndup((const gchar *)data, size);
	g_autoptr(X509) der = kl_x509_load_der(data, size, NULL);
	g_autoptr(X509) pem = kl_x509_load_pem((const gchar *)data, size, NULL);
	g_autoptr(X509) ekcert = kl_x509_load_pem_or_base64_der(text, NULL);
	g_autoptr(GPtrArray) bundle = kl_x509_load_pem_bundle((const gchar *)data, size, NULL);
	g_autoptr(EVP_PKEY) key = kl_key_load_pem((const gchar *)data, size, NULL);
	g_autoptr(X509_CRL) crl = kl_x509_crl_load_pem((const gchar *)data, size, NULL);

	/* What parsed must survive the accessors the daemons call. */
	if (der != NULL) {
		g_autofree gchar *subject = kl_x509_get_subject(der);
		g_autoptr(GBytes) encoded = kl_x509_to_der(der, NULL);
		kl_x509_get_serial(der);
	}
	if (ekcert != NULL) {
		g_autofree gchar *subject = kl_x509_get_subject(ekcert);
		g_autofree gchar *encoded = kl_x509_to_pem(ekcert, NULL);
	}
	return 0;
}
