/*
 * Resolving a daemon's TLS files from its configuration, and making them
 * with kl-ca when tls_dir = generate.
 */
#define G_LOG_DOMAIN "KlHttp"

#include "config.h"

#include <glib/gstdio.h>

#include "kl-ca.h"
#include "kl-error.h"
#include "kl-http-tls-files.h"

#define KL_HTTP_TLS_DEFAULT_DIR	   "cv_ca"
#define KL_HTTP_TLS_DEFAULT_KEY	   "server-private.pem"
#define KL_HTTP_TLS_DEFAULT_CERT   "server-cert.crt"
#define KL_HTTP_TLS_DEFAULT_CA	   "cacert.crt"
#define KL_HTTP_TLS_SERVER_NAME	   "server"
#define KL_HTTP_TLS_CLIENT_NAME	   "client"
#define KL_HTTP_TLS_GENERATE_VALUE "generate"

void
kl_http_tls_files_free(KlHttpTlsFiles *self)
{
	if (self == NULL)
		return;
	g_free(self->dir);
	g_free(self->server_cert);
	g_free(self->server_key);
	g_free(self->server_key_password);
	g_free(self->trusted_client_ca);
	g_free(self);
}

gchar *
kl_http_tls_files_default_keylime_dir(void)
{
	const gchar *dir = g_getenv("KEYLIME_DIR");

	return g_strdup(dir != NULL && dir[0] != '\0' ? dir : "/var/lib/keylime");
}

static gchar *
kl_http_tls_files_resolve(const gchar *base, const gchar *value, const gchar *default_name)
{
	if (value == NULL || value[0] == '\0' || g_strcmp0(value, "default") == 0)
		value = default_name;
	if (g_path_is_absolute(value))
		return g_strdup(value);
	return g_build_filename(base, value, NULL);
}

/* A CA with a server and a client certificate, as upstream's generate
 * makes them; what exists already is kept. */
static gboolean
kl_http_tls_files_generate(const gchar *dir, GError **error)
{
	g_autoptr(KlCaSettings) settings = kl_ca_settings_new();
	g_autoptr(KlCa) ca = NULL;
	g_autofree gchar *ca_cert = g_build_filename(dir, KL_HTTP_TLS_DEFAULT_CA, NULL);
	const gchar *names[] = {KL_HTTP_TLS_SERVER_NAME, KL_HTTP_TLS_CLIENT_NAME};

	if (g_file_test(ca_cert, G_FILE_TEST_EXISTS)) {
		ca = kl_ca_open(dir, settings, error);
	} else {
		g_message("tls_dir = generate: making a CA in %s", dir);
		ca = kl_ca_init(dir, settings, error);
	}
	if (ca == NULL)
		return FALSE;
	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autofree gchar *cert = kl_ca_build_path(ca, names[i], "-cert.crt");

		if (g_file_test(cert, G_FILE_TEST_EXISTS))
			continue;
		if (!kl_ca_create_cert(ca, names[i], error))
			return FALSE;
	}
	return TRUE;
}

KlHttpTlsFiles *
kl_http_tls_files_from_config(KlConfig *config,
			      const gchar *section,
			      const gchar *keylime_dir,
			      const gchar *generate_dir,
			      GError **error)
{
	g_autoptr(KlHttpTlsFiles) self = g_new0(KlHttpTlsFiles, 1);
	g_auto(GStrv) cas = NULL;
	const gchar *tls_dir;
	const gchar *password;
	gboolean generate;

	g_return_val_if_fail(config != NULL, NULL);
	g_return_val_if_fail(section != NULL, NULL);
	g_return_val_if_fail(keylime_dir != NULL, NULL);
	g_return_val_if_fail(generate_dir != NULL, NULL);

	tls_dir = kl_config_get_string(config, section, "tls_dir", "default");
	generate = g_strcmp0(tls_dir, KL_HTTP_TLS_GENERATE_VALUE) == 0;
	if (generate)
		self->dir = g_build_filename(keylime_dir, generate_dir, NULL);
	else
		self->dir =
			kl_http_tls_files_resolve(keylime_dir, tls_dir, KL_HTTP_TLS_DEFAULT_DIR);

	self->server_key = kl_http_tls_files_resolve(
		self->dir,
		kl_config_get_string(config, section, "server_key", "default"),
		KL_HTTP_TLS_DEFAULT_KEY);
	self->server_cert = kl_http_tls_files_resolve(
		self->dir,
		kl_config_get_string(config, section, "server_cert", "default"),
		KL_HTTP_TLS_DEFAULT_CERT);
	password = kl_config_get_string(config, section, "server_key_password", "");
	if (password != NULL && password[0] != '\0')
		self->server_key_password = g_strdup(password);

	if (!kl_config_get_list(config, section, "trusted_client_ca", &cas, error))
		return NULL;
	if (cas != NULL && g_strv_length(cas) > 1) {
		g_autofree gchar *where = kl_config_describe(config, section, "trusted_client_ca");

		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_NOT_SUPPORTED,
			    "%s: one CA file is supported; put the certificates in one "
			    "PEM bundle",
			    where);
		return NULL;
	}
	self->trusted_client_ca = kl_http_tls_files_resolve(self->dir,
							    cas != NULL ? cas[0] : NULL,
							    KL_HTTP_TLS_DEFAULT_CA);

	if (generate && !kl_http_tls_files_generate(self->dir, error))
		return NULL;
	return g_steal_pointer(&self);
}
