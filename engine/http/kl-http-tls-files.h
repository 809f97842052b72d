/*
 * kl-http-tls-files: where a Keylime daemon finds its TLS material, from
 * the tls_dir, server_key, server_key_password, server_cert and
 * trusted_client_ca options of its section, resolved as upstream does:
 * tls_dir "default" is <keylime_dir>/cv_ca (the verifier's CA, shared),
 * "generate" is a CA of the daemon's own that is made on first start,
 * other values are paths (relative ones under keylime_dir); file options
 * "default" are server-private.pem, server-cert.crt and cacert.crt.
 */
#pragma once

#include "kl-config.h"

G_BEGIN_DECLS

typedef struct {
	gchar *dir;
	gchar *server_cert;
	gchar *server_key;
	gchar *server_key_password; /* NULL: the key is not encrypted */
	gchar *trusted_client_ca;
} KlHttpTlsFiles;

/*
 * @generate_dir: the directory name under keylime_dir for "generate"
 * (upstream: "reg_ca" for the registrar, "cv_ca" for the verifier).
 */
KlHttpTlsFiles *kl_http_tls_files_from_config(KlConfig *config,
					      const gchar *section,
					      const gchar *keylime_dir,
					      const gchar *generate_dir,
					      GError **error);
void kl_http_tls_files_free(KlHttpTlsFiles *self);

/* $KEYLIME_DIR, else /var/lib/keylime, as upstream's WORK_DIR */
gchar *kl_http_tls_files_default_keylime_dir(void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlHttpTlsFiles, kl_http_tls_files_free)

G_END_DECLS
