/*
 * keylime_ca's certificate authority: one directory of PEM/DER files, a
 * small state file with the serials, and CRLs regenerated on every change.
 * Every write is atomic, private keys are 0600 from creation.
 */
#define G_LOG_DOMAIN "KlCa"

#include "config.h"

#include <errno.h>

#include <glib/gstdio.h>

#include "kl-ca.h"
#include "kl-error.h"

#define KL_CA_STATE_FILE  "kl-ca-state.ini"
#define KL_CA_STATE_GROUP "ca"

struct _KlCa {
	gchar *dir;
	KlCaSettings *settings;
	X509 *cert;
	EVP_PKEY *key;
	guint64 last_serial;
	GArray *revoked; /* of guint64 */
};

static KlCaSettings *
kl_ca_settings_copy(const KlCaSettings *src)
{
	KlCaSettings *self = g_new0(KlCaSettings, 1);
	self->country = g_strdup(src->country);
	self->ca_name = g_strdup(src->ca_name);
	self->state = g_strdup(src->state);
	self->locality = g_strdup(src->locality);
	self->organization = g_strdup(src->organization);
	self->org_unit = g_strdup(src->org_unit);
	self->crl_dist = g_strdup(src->crl_dist);
	self->ca_lifetime = src->ca_lifetime;
	self->lifetime = src->lifetime;
	self->bits = src->bits;
	return self;
}

/* Upstream's defaults (templates/2.0/mapping.json, component "ca"). */
KlCaSettings *
kl_ca_settings_new(void)
{
	const KlCaSettings defaults = {
		.country = (gchar *)"US",
		.ca_name = (gchar *)"Keylime Certificate Authority",
		.state = (gchar *)"MA",
		.locality = (gchar *)"Lexington",
		.organization = (gchar *)"MITLL",
		.org_unit = (gchar *)"53",
		.crl_dist = (gchar *)"http://localhost:38080/crl",
		.ca_lifetime = 3650,
		.lifetime = 365,
		.bits = 2048,
	};
	return kl_ca_settings_copy(&defaults);
}

static gboolean
kl_ca_settings_get_uint(KlConfig *config,
			const gchar *option,
			guint default_value,
			gint64 minimum,
			gint64 maximum,
			guint *value,
			GError **error)
{
	gint64 tmp = 0;
	if (!kl_config_get_int(config, "ca", option, default_value, minimum, maximum, &tmp, error))
		return FALSE;
	*value = (guint)tmp;
	return TRUE;
}

static void
kl_ca_settings_get_string(KlConfig *config, const gchar *option, gchar **value)
{
	const gchar *tmp = kl_config_get_string(config, "ca", option, *value);
	if (tmp != *value) {
		g_free(*value);
		*value = g_strdup(tmp);
	}
}

KlCaSettings *
kl_ca_settings_new_from_config(KlConfig *config, GError **error)
{
	g_autoptr(KlCaSettings) self = kl_ca_settings_new();

	g_return_val_if_fail(KL_IS_CONFIG(config), NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	kl_ca_settings_get_string(config, "cert_country", &self->country);
	kl_ca_settings_get_string(config, "cert_ca_name", &self->ca_name);
	kl_ca_settings_get_string(config, "cert_state", &self->state);
	kl_ca_settings_get_string(config, "cert_locality", &self->locality);
	kl_ca_settings_get_string(config, "cert_organization", &self->organization);
	kl_ca_settings_get_string(config, "cert_org_unit", &self->org_unit);
	kl_ca_settings_get_string(config, "cert_crl_dist", &self->crl_dist);
	if (!kl_ca_settings_get_uint(config,
				     "cert_ca_lifetime",
				     self->ca_lifetime,
				     1,
				     36500,
				     &self->ca_lifetime,
				     error))
		return NULL;
	if (!kl_ca_settings_get_uint(config,
				     "cert_lifetime",
				     self->lifetime,
				     1,
				     36500,
				     &self->lifetime,
				     error))
		return NULL;
	if (!kl_ca_settings_get_uint(config,
				     "cert_bits",
				     self->bits,
				     2048,
				     16384,
				     &self->bits,
				     error))
		return NULL;
	return g_steal_pointer(&self);
}

void
kl_ca_settings_free(KlCaSettings *self)
{
	if (self == NULL)
		return;
	g_free(self->country);
	g_free(self->ca_name);
	g_free(self->state);
	g_free(self->locality);
	g_free(self->organization);
	g_free(self->org_unit);
	g_free(self->crl_dist);
	g_free(self);
}

/* upstream: $KEYLIME_DIR/ca, KEYLIME_DIR defaulting to /var/lib/keylime */
gchar *
kl_ca_default_dir(void)
{
	const gchar *work_dir = g_getenv("KEYLIME_DIR");
	if (work_dir != NULL && work_dir[0] != '\0')
		return g_build_filename(work_dir, "ca", NULL);
	return g_strdup(KL_CA_DEFAULT_DIR);
}

/* NAME becomes a file name prefix and a CN: keep it one plain component. */
gboolean
kl_ca_name_is_valid(const gchar *name, GError **error)
{
	if (name == NULL || name[0] == '\0') {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "certificate name is empty");
		return FALSE;
	}
	if (g_strcmp0(name, ".") == 0 || g_strcmp0(name, "..") == 0 || strlen(name) > 64 ||
	    !g_utf8_validate(name, -1, NULL)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "invalid certificate name '%s'",
			    name);
		return FALSE;
	}
	for (const gchar *p = name; *p != '\0'; p++) {
		guchar c = (guchar)*p;
		if (c < 0x20 || c == 0x7f || c == '/' || c == '\\') {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "certificate name contains forbidden character 0x%02x",
				    (guint)c);
			return FALSE;
		}
	}
	return TRUE;
}

gchar *
kl_ca_build_path(KlCa *self, const gchar *name, const gchar *suffix)
{
	g_autofree gchar *basename = g_strconcat(name, suffix, NULL);
	return g_build_filename(self->dir, basename, NULL);
}

static gboolean
kl_ca_write_file(const gchar *path, const gchar *data, gsize len, guint mode, GError **error)
{
	return g_file_set_contents_full(path,
					data,
					(gssize)len,
					G_FILE_SET_CONTENTS_CONSISTENT,
					(int)mode,
					error);
}

static gboolean
kl_ca_write_text(const gchar *path, const gchar *text, GError **error)
{
	return kl_ca_write_file(path, text, strlen(text), 0644, error);
}

static gboolean
kl_ca_write_public_key(EVP_PKEY *key, const gchar *path, GError **error)
{
	g_autofree gchar *pem = kl_key_to_pem_public(key, error);
	if (pem == NULL) {
		g_prefix_error(error, "%s: ", path);
		return FALSE;
	}
	return kl_ca_write_text(path, pem, error);
}

static gboolean
kl_ca_write_private_key(EVP_PKEY *key, const gchar *path, GError **error)
{
	/* names @path in its errors */
	return kl_key_save_private_pem_file(key, path, error);
}

static gboolean
kl_ca_write_cert(X509 *cert, const gchar *path, GError **error)
{
	g_autofree gchar *pem = kl_x509_to_pem(cert, error);
	if (pem == NULL) {
		g_prefix_error(error, "%s: ", path);
		return FALSE;
	}
	return kl_ca_write_text(path, pem, error);
}

static gboolean
kl_ca_save_state(KlCa *self, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GPtrArray) revoked = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *path = g_build_filename(self->dir, KL_CA_STATE_FILE, NULL);
	g_autofree gchar *data = NULL;
	gsize len = 0;

	for (guint i = 0; i < self->revoked->len; i++) {
		g_ptr_array_add(revoked,
				g_strdup_printf("%" G_GUINT64_FORMAT,
						g_array_index(self->revoked, guint64, i)));
	}
	g_key_file_set_comment(kf,
			       NULL,
			       NULL,
			       " keylime_ca state: the last serial issued and the revoked serials",
			       NULL);
	g_key_file_set_uint64(kf, KL_CA_STATE_GROUP, "last_serial", self->last_serial);
	g_key_file_set_string_list(kf,
				   KL_CA_STATE_GROUP,
				   "revoked",
				   (const gchar *const *)revoked->pdata,
				   revoked->len);
	data = g_key_file_to_data(kf, &len, NULL);
	return kl_ca_write_file(path, data, len, 0600, error);
}

static gboolean
kl_ca_load_state(KlCa *self, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autofree gchar *path = g_build_filename(self->dir, KL_CA_STATE_FILE, NULL);
	g_auto(GStrv) revoked = NULL;
	gsize n_revoked = 0;
	GError *error_local = NULL;

	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, error)) {
		g_prefix_error(error, "%s: ", path);
		return FALSE;
	}
	self->last_serial =
		g_key_file_get_uint64(kf, KL_CA_STATE_GROUP, "last_serial", &error_local);
	if (error_local != NULL) {
		g_propagate_prefixed_error(error, error_local, "%s: ", path);
		return FALSE;
	}
	if (self->last_serial == 0) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "%s: last_serial must be at least 1",
			    path);
		return FALSE;
	}
	revoked = g_key_file_get_string_list(kf, KL_CA_STATE_GROUP, "revoked", &n_revoked, NULL);
	for (gsize i = 0; i < n_revoked; i++) {
		guint64 serial = 0;
		if (!g_ascii_string_to_unsigned(revoked[i], 10, 1, G_MAXUINT64, &serial, error)) {
			g_prefix_error(error, "%s: revoked: ", path);
			return FALSE;
		}
		g_array_append_val(self->revoked, serial);
	}
	return TRUE;
}

static KlCa *
kl_ca_new(const gchar *dir, const KlCaSettings *settings)
{
	KlCa *self = g_new0(KlCa, 1);
	self->dir = g_canonicalize_filename(dir, NULL);
	self->settings = kl_ca_settings_copy(settings);
	self->revoked = g_array_new(FALSE, FALSE, sizeof(guint64));
	return self;
}

void
kl_ca_free(KlCa *self)
{
	if (self == NULL)
		return;
	g_free(self->dir);
	kl_ca_settings_free(self->settings);
	g_clear_pointer(&self->cert, X509_free);
	g_clear_pointer(&self->key, EVP_PKEY_free);
	g_array_unref(self->revoked);
	g_free(self);
}

const gchar *
kl_ca_get_dir(KlCa *self)
{
	return self->dir;
}

X509 *
kl_ca_get_certificate(KlCa *self)
{
	return self->cert;
}

guint64
kl_ca_get_last_serial(KlCa *self)
{
	return self->last_serial;
}

static void
kl_ca_request_init(KlCa *self, KlCertRequest *request, const gchar *common_name)
{
	memset(request, 0, sizeof(*request));
	request->common_name = common_name;
	request->country = self->settings->country;
	request->state = self->settings->state;
	request->locality = self->settings->locality;
	request->organization = self->settings->organization;
	request->organizational_unit = self->settings->org_unit;
}

KlCa *
kl_ca_init(const gchar *dir, const KlCaSettings *settings, GError **error)
{
	g_autoptr(KlCa) self = NULL;
	g_autofree gchar *cert_path = NULL;
	KlCertRequest request;

	g_return_val_if_fail(dir != NULL, NULL);
	g_return_val_if_fail(settings != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	self = kl_ca_new(dir, settings);
	if (g_mkdir_with_parents(self->dir, 0700) != 0) {
		gint errsv = errno;
		g_set_error(error,
			    G_IO_ERROR,
			    g_io_error_from_errno(errsv),
			    "cannot create directory %s: %s",
			    self->dir,
			    g_strerror(errsv));
		return NULL;
	}
	/* upstream wipes the directory here; refusing keeps a CA that has
	 * issued certificates from being lost by a repeated init */
	cert_path = kl_ca_build_path(self, "cacert", ".crt");
	if (g_file_test(cert_path, G_FILE_TEST_EXISTS)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_CONFLICT,
			    "%s already exists: %s already holds a CA",
			    cert_path,
			    self->dir);
		return NULL;
	}

	self->key = kl_key_generate_rsa(self->settings->bits, error);
	if (self->key == NULL)
		return NULL;
	kl_ca_request_init(self, &request, self->settings->ca_name);
	request.serial = 1; /* the CA is always serial 1, as upstream */
	request.days = self->settings->ca_lifetime;
	request.usage = KL_CERT_USAGE_CA;
	self->cert = kl_x509_issue(&request, self->key, NULL, self->key, error);
	if (self->cert == NULL)
		return NULL;
	self->last_serial = 1;

	{
		g_autofree gchar *private_path = kl_ca_build_path(self, "ca-private", ".pem");
		g_autofree gchar *public_path = kl_ca_build_path(self, "ca-public", ".pem");
		if (!kl_ca_write_private_key(self->key, private_path, error))
			return NULL;
		if (!kl_ca_write_public_key(self->key, public_path, error))
			return NULL;
	}
	if (!kl_ca_save_state(self, error))
		return NULL;
	if (!kl_ca_write_cert(self->cert, cert_path, error))
		return NULL;
	if (!kl_ca_regenerate_crl(self, error))
		return NULL;
	/* upstream's tenant creates this on first use; it signs revocations */
	if (!kl_ca_create_cert(self, KL_CA_REVOCATION_NOTIFIER_NAME, error))
		return NULL;
	return g_steal_pointer(&self);
}

KlCa *
kl_ca_open(const gchar *dir, const KlCaSettings *settings, GError **error)
{
	g_autoptr(KlCa) self = NULL;
	g_autofree gchar *cert_path = NULL;
	g_autofree gchar *key_path = NULL;

	g_return_val_if_fail(dir != NULL, NULL);
	g_return_val_if_fail(settings != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	self = kl_ca_new(dir, settings);
	cert_path = kl_ca_build_path(self, "cacert", ".crt");
	key_path = kl_ca_build_path(self, "ca-private", ".pem");
	if (!g_file_test(cert_path, G_FILE_TEST_EXISTS)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_NOT_FOUND,
			    "%s does not exist: run 'keylime_ca -c init' first",
			    cert_path);
		return NULL;
	}
	self->cert = kl_x509_load_pem_file(cert_path, error);
	if (self->cert == NULL)
		return NULL;
	self->key = kl_key_load_pem_file(key_path, error);
	if (self->key == NULL)
		return NULL;
	if (!kl_x509_public_key_equal(self->cert, self->key)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_VERIFICATION_FAILED,
			    "%s does not hold the key of %s",
			    key_path,
			    cert_path);
		return NULL;
	}
	if (!kl_ca_load_state(self, error))
		return NULL;
	return g_steal_pointer(&self);
}

gboolean
kl_ca_create_cert(KlCa *self, const gchar *name, GError **error)
{
	g_autoptr(EVP_PKEY) key = NULL;
	g_autoptr(X509) cert = NULL;
	g_autofree gchar *cert_path = NULL;
	g_autofree gchar *private_path = NULL;
	g_autofree gchar *public_path = NULL;
	const gchar *dns_names[] = {name, NULL};
	const gchar *ip_addresses[] = {NULL, NULL, NULL};
	KlCertRequest request;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	if (!kl_ca_name_is_valid(name, error))
		return FALSE;
	cert_path = kl_ca_build_path(self, name, "-cert.crt");
	private_path = kl_ca_build_path(self, name, "-private.pem");
	public_path = kl_ca_build_path(self, name, "-public.pem");
	if (g_file_test(cert_path, G_FILE_TEST_EXISTS) ||
	    g_file_test(private_path, G_FILE_TEST_EXISTS)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_CONFLICT,
			    "%s already exists: a certificate named '%s' was already created",
			    cert_path,
			    name);
		return FALSE;
	}

	kl_ca_request_init(self, &request, name);
	request.serial = self->last_serial + 1;
	request.days = self->settings->lifetime;
	request.usage = KL_CERT_USAGE_SERVER_CLIENT;
	if (g_hostname_is_ip_address(name)) {
		ip_addresses[0] = name;
	} else {
		request.dns_names = dns_names;
		if (g_strcmp0(name, "localhost") == 0) {
			ip_addresses[0] = "127.0.0.1";
			ip_addresses[1] = "::1";
		}
	}
	if (ip_addresses[0] != NULL)
		request.ip_addresses = ip_addresses;

	key = kl_key_generate_rsa(self->settings->bits, error);
	if (key == NULL)
		return FALSE;
	cert = kl_x509_issue(&request, key, self->cert, self->key, error);
	if (cert == NULL)
		return FALSE;

	/* the serial is spent before any file exists, so it is never reused */
	self->last_serial = request.serial;
	if (!kl_ca_save_state(self, error))
		return FALSE;
	if (!kl_ca_write_private_key(key, private_path, error))
		return FALSE;
	if (!kl_ca_write_public_key(key, public_path, error))
		return FALSE;
	return kl_ca_write_cert(cert, cert_path, error);
}

static gboolean
kl_ca_package_add_file(KlZipWriter *zip,
		       const gchar *dir,
		       const gchar *basename,
		       guint32 mode,
		       GError **error)
{
	g_autofree gchar *path = g_build_filename(dir, basename, NULL);
	g_autofree gchar *data = NULL;
	g_autoptr(GBytes) bytes = NULL;
	gsize len = 0;

	if (!g_file_get_contents(path, &data, &len, error))
		return FALSE;
	bytes = g_bytes_new_take(g_steal_pointer(&data), len);
	if (!kl_zip_writer_add(zip, basename, bytes, mode, error)) {
		g_prefix_error(error, "%s: ", path);
		return FALSE;
	}
	return TRUE;
}

/* The certificate package as upstream's cmd_certpkg zips it (stored, so
 * the agent unpacks it in tmpfs); the caller may add more and finishes. */
KlZipWriter *
kl_ca_package_new(KlCa *self, const gchar *name, guint64 *serial, gchar **subject, GError **error)
{
	g_autoptr(KlZipWriter) zip = kl_zip_writer_new();
	g_autoptr(X509) cert = NULL;
	g_autofree gchar *cert_path = NULL;
	g_autofree gchar *public_name = NULL;
	g_autofree gchar *cert_name = NULL;
	g_autofree gchar *private_name = NULL;

	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (!kl_ca_name_is_valid(name, error))
		return NULL;
	cert_path = kl_ca_build_path(self, name, "-cert.crt");
	cert = kl_x509_load_pem_file(cert_path, error);
	if (cert == NULL)
		return NULL;
	public_name = g_strconcat(name, "-public.pem", NULL);
	cert_name = g_strconcat(name, "-cert.crt", NULL);
	private_name = g_strconcat(name, "-private.pem", NULL);
	if (!kl_ca_package_add_file(zip, self->dir, public_name, 0644, error))
		return NULL;
	if (!kl_ca_package_add_file(zip, self->dir, cert_name, 0644, error))
		return NULL;
	if (!kl_ca_package_add_file(zip, self->dir, private_name, 0600, error))
		return NULL;
	if (!kl_ca_package_add_file(zip, self->dir, "cacert.crt", 0644, error))
		return NULL;
	if (!kl_ca_package_add_file(zip, self->dir, "cacrl.der", 0644, error))
		return NULL;
	if (!kl_ca_package_add_file(zip, self->dir, "cacrl.pem", 0644, error))
		return NULL;
	if (serial != NULL)
		*serial = kl_x509_get_serial(cert);
	if (subject != NULL)
		*subject = kl_x509_get_subject(cert);
	return g_steal_pointer(&zip);
}

gchar *
kl_ca_write_package(KlCa *self, const gchar *name, GError **error)
{
	g_autoptr(KlZipWriter) zip = NULL;
	g_autoptr(GBytes) archive = NULL;
	g_autofree gchar *path = NULL;

	zip = kl_ca_package_new(self, name, NULL, NULL, error);
	if (zip == NULL)
		return NULL;
	archive = kl_zip_writer_finish(zip, error);
	if (archive == NULL)
		return NULL;
	path = kl_ca_build_path(self, name, "-pkg.zip");
	/* it holds a private key */
	if (!kl_ca_write_file(path,
			      g_bytes_get_data(archive, NULL),
			      g_bytes_get_size(archive),
			      0600,
			      error))
		return NULL;
	return g_steal_pointer(&path);
}

gboolean
kl_ca_revoke(KlCa *self, const gchar *name, GError **error)
{
	g_autoptr(X509) cert = NULL;
	g_autoptr(GPtrArray) trusted = g_ptr_array_new();
	g_autofree gchar *cert_path = NULL;
	guint64 serial;
	gboolean known = FALSE;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	if (!kl_ca_name_is_valid(name, error))
		return FALSE;
	cert_path = kl_ca_build_path(self, name, "-cert.crt");
	cert = kl_x509_load_pem_file(cert_path, error);
	if (cert == NULL)
		return FALSE;
	/* only revoke what this CA signed: a foreign serial would revoke
	 * an unrelated certificate of ours */
	g_ptr_array_add(trusted, self->cert);
	if (!kl_x509_verify_chain(cert, trusted, NULL, error)) {
		g_prefix_error(error, "%s was not issued by this CA: ", cert_path);
		return FALSE;
	}
	serial = kl_x509_get_serial(cert);
	for (guint i = 0; i < self->revoked->len; i++) {
		if (g_array_index(self->revoked, guint64, i) == serial)
			known = TRUE;
	}
	if (!known) {
		g_array_append_val(self->revoked, serial);
		if (!kl_ca_save_state(self, error))
			return FALSE;
	}
	return kl_ca_regenerate_crl(self, error);
}

gboolean
kl_ca_regenerate_crl(KlCa *self, GError **error)
{
	g_autoptr(X509_CRL) crl = NULL;
	g_autoptr(GBytes) der = NULL;
	g_autofree gchar *pem = NULL;
	g_autofree gchar *der_path = NULL;
	g_autofree gchar *pem_path = NULL;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	/* upstream's CRLs expire at once and 'listen' re-issues them; with
	 * no server running, they stay valid as long as a certificate */
	crl = kl_x509_crl_issue(self->cert,
				self->key,
				(const guint64 *)self->revoked->data,
				self->revoked->len,
				self->settings->lifetime,
				error);
	if (crl == NULL)
		return FALSE;
	der = kl_x509_crl_to_der(crl, error);
	if (der == NULL)
		return FALSE;
	pem = kl_x509_crl_to_pem(crl, error);
	if (pem == NULL)
		return FALSE;
	der_path = kl_ca_build_path(self, "cacrl", ".der");
	pem_path = kl_ca_build_path(self, "cacrl", ".pem");
	if (!kl_ca_write_file(der_path,
			      g_bytes_get_data(der, NULL),
			      g_bytes_get_size(der),
			      0644,
			      error))
		return FALSE;
	return kl_ca_write_text(pem_path, pem, error);
}
