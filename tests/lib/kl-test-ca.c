/*
 * Test certificates from kl-x509, so that mTLS tests need neither the
 * openssl CLI nor keylime_ca.  EC P-256 keys keep the fixture fast.
 */
#include "config.h"

#include <errno.h>

#include <glib/gstdio.h>

#include "kl-test-ca.h"
#include "kl-x509.h"

struct _KlTestCa {
	gchar *ca_cert_path;
	gchar *ca_key_path;
	gchar *server_cert_path;
	gchar *server_key_path;
	gchar *client_cert_path;
	gchar *client_key_path;
	gchar *client_name;
};

void
kl_test_ca_free(KlTestCa *self)
{
	if (self == NULL)
		return;
	g_free(self->ca_cert_path);
	g_free(self->ca_key_path);
	g_free(self->server_cert_path);
	g_free(self->server_key_path);
	g_free(self->client_cert_path);
	g_free(self->client_key_path);
	g_free(self->client_name);
	g_free(self);
}

static gboolean
kl_test_ca_write_cert(X509 *cert, const gchar *path, GError **error)
{
	g_autofree gchar *pem = kl_x509_to_pem(cert, error);
	if (pem == NULL)
		return FALSE;
	return g_file_set_contents(path, pem, -1, error);
}

/* Issues one certificate and writes it with its key. */
static X509 *
kl_test_ca_issue(const KlCertRequest *request,
		 X509 *issuer,
		 EVP_PKEY *issuer_key,
		 const gchar *cert_path,
		 const gchar *key_path,
		 EVP_PKEY **key_out,
		 GError **error)
{
	g_autoptr(EVP_PKEY) key = kl_key_generate_ec("P-256", error);
	g_autoptr(X509) cert = NULL;

	if (key == NULL)
		return NULL;
	cert = kl_x509_issue(request, key, issuer, issuer_key != NULL ? issuer_key : key, error);
	if (cert == NULL)
		return NULL;
	if (!kl_key_save_private_pem_file(key, key_path, error))
		return NULL;
	if (!kl_test_ca_write_cert(cert, cert_path, error))
		return NULL;
	if (key_out != NULL)
		*key_out = g_steal_pointer(&key);
	return g_steal_pointer(&cert);
}

KlTestCa *
kl_test_ca_new(KlTestDir *dir, const gchar *name, GError **error)
{
	g_autoptr(KlTestCa) self = g_new0(KlTestCa, 1);
	g_autoptr(EVP_PKEY) ca_key = NULL;
	g_autoptr(X509) ca = NULL;
	g_autoptr(X509) server = NULL;
	g_autoptr(X509) client = NULL;
	g_autofree gchar *subdir = kl_test_dir_build(dir, name, NULL);
	g_autofree gchar *ca_name = g_strdup_printf("%s CA", name);
	const gchar *server_dns[] = {"localhost", NULL};
	const gchar *server_ips[] = {"127.0.0.1", NULL};
	KlCertRequest ca_request = {
		.common_name = ca_name,
		.organization = "keylime-c tests",
		.serial = 1,
		.days = 30,
		.usage = KL_CERT_USAGE_CA,
	};
	KlCertRequest server_request = {
		.common_name = "localhost",
		.organization = "keylime-c tests",
		.serial = 2,
		.days = 30,
		.usage = KL_CERT_USAGE_SERVER,
		.dns_names = server_dns,
		.ip_addresses = server_ips,
	};
	KlCertRequest client_request = {
		.organization = "keylime-c tests",
		.serial = 3,
		.days = 30,
		.usage = KL_CERT_USAGE_CLIENT,
	};

	if (g_mkdir_with_parents(subdir, 0700) != 0) {
		g_set_error(error,
			    G_FILE_ERROR,
			    g_file_error_from_errno(errno),
			    "cannot create %s",
			    subdir);
		return NULL;
	}
	self->ca_cert_path = g_build_filename(subdir, "ca-cert.pem", NULL);
	self->ca_key_path = g_build_filename(subdir, "ca-private.pem", NULL);
	self->server_cert_path = g_build_filename(subdir, "server-cert.pem", NULL);
	self->server_key_path = g_build_filename(subdir, "server-private.pem", NULL);
	self->client_cert_path = g_build_filename(subdir, "client-cert.pem", NULL);
	self->client_key_path = g_build_filename(subdir, "client-private.pem", NULL);
	self->client_name = g_strdup_printf("%s-client", name);
	client_request.common_name = self->client_name;

	ca = kl_test_ca_issue(&ca_request,
			      NULL,
			      NULL,
			      self->ca_cert_path,
			      self->ca_key_path,
			      &ca_key,
			      error);
	if (ca == NULL)
		return NULL;
	server = kl_test_ca_issue(&server_request,
				  ca,
				  ca_key,
				  self->server_cert_path,
				  self->server_key_path,
				  NULL,
				  error);
	if (server == NULL)
		return NULL;
	client = kl_test_ca_issue(&client_request,
				  ca,
				  ca_key,
				  self->client_cert_path,
				  self->client_key_path,
				  NULL,
				  error);
	if (client == NULL)
		return NULL;
	return g_steal_pointer(&self);
}

const gchar *
kl_test_ca_get_ca_cert_path(KlTestCa *self)
{
	return self->ca_cert_path;
}

const gchar *
kl_test_ca_get_ca_key_path(KlTestCa *self)
{
	return self->ca_key_path;
}

const gchar *
kl_test_ca_get_server_cert_path(KlTestCa *self)
{
	return self->server_cert_path;
}

const gchar *
kl_test_ca_get_server_key_path(KlTestCa *self)
{
	return self->server_key_path;
}

const gchar *
kl_test_ca_get_client_cert_path(KlTestCa *self)
{
	return self->client_cert_path;
}

const gchar *
kl_test_ca_get_client_key_path(KlTestCa *self)
{
	return self->client_key_path;
}

const gchar *
kl_test_ca_get_client_name(KlTestCa *self)
{
	return self->client_name;
}
