/*
 * Reading a registration.  Everything here comes from an unauthenticated
 * client on the open port: each field is decoded strictly, bounded, and
 * refused with KL_ERROR_INVALID_ARGUMENT naming the field.
 */
#include "config.h"

#include <string.h>

#include "kl-agent-id.h"
#include "kl-base64.h"
#include "kl-error.h"
#include "kl-json.h"
#include "kl-registrar-request.h"
#include "kl-x509.h"

/* upstream's column sizes, with room: a TPM2B_PUBLIC is at most ~600 bytes */
#define KL_REGISTRAR_MAX_TPM_PUBLIC 4096
#define KL_REGISTRAR_MAX_CERT	    (64 * 1024)
#define KL_REGISTRAR_MAX_HOST	    253

gboolean
kl_registrar_tpm_identity_from_string(const gchar *text,
				      KlRegistrarTpmIdentity *identity,
				      GError **error)
{
	g_return_val_if_fail(text != NULL, FALSE);
	g_return_val_if_fail(identity != NULL, FALSE);

	if (g_strcmp0(text, "default") == 0) {
		*identity = KL_REGISTRAR_TPM_IDENTITY_DEFAULT;
		return TRUE;
	}
	if (g_strcmp0(text, "ek_cert") == 0) {
		*identity = KL_REGISTRAR_TPM_IDENTITY_EK_CERT;
		return TRUE;
	}
	if (g_strcmp0(text, "iak_idevid") == 0 || g_strcmp0(text, "ek_cert_or_iak_idevid") == 0) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_NOT_SUPPORTED,
			    "tpm_identity %s: IAK/IDevID registration is not supported",
			    text);
		return FALSE;
	}
	g_set_error(error,
		    KL_ERROR,
		    KL_ERROR_INVALID_ARGUMENT,
		    "tpm_identity %s: expected default or ek_cert",
		    text);
	return FALSE;
}

void
kl_registrar_request_free(KlRegistrarRequest *request)
{
	if (request == NULL)
		return;
	kl_registrar_agent_free(request->agent);
	kl_tpm_public_free(request->ek);
	kl_tpm_public_free(request->ak);
	g_free(request);
}

/* A TPM2B_PUBLIC field; its canonical base64 goes in *canonical. */
static KlTpmPublic *
kl_registrar_request_read_public(JsonObject *body,
				 const gchar *member,
				 gchar **canonical,
				 GError **error)
{
	const gchar *text = NULL;
	g_autoptr(GBytes) bytes = NULL;
	g_autoptr(GError) error_local = NULL;
	KlTpmPublic *public;
	gsize len = 0;
	const guint8 *data;

	if (!kl_json_object_get_string(body, member, &text, error))
		return NULL;
	if (strlen(text) > KL_REGISTRAR_MAX_TPM_PUBLIC) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "%s: longer than %u characters",
			    member,
			    (guint)KL_REGISTRAR_MAX_TPM_PUBLIC);
		return NULL;
	}
	bytes = kl_base64_decode(text, -1, KL_BASE64_FLAG_NONE, &error_local);
	if (bytes == NULL) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "%s: %s",
			    member,
			    error_local->message);
		return NULL;
	}
	data = g_bytes_get_data(bytes, &len);
	public = kl_tpm_public_new_from_data(data, len, &error_local);
	if (public == NULL) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "%s: %s",
			    member,
			    error_local->message);
		return NULL;
	}
	*canonical = g_base64_encode(data, len);
	return public;
}

static gboolean
kl_registrar_request_check_ak(KlTpmPublic *ak, GError **error)
{
	TPMA_OBJECT attributes = kl_tpm_public_get_object_attributes(ak);
	TPMA_OBJECT checked = KL_REGISTRAR_AK_ATTRIBUTES | TPMA_OBJECT_DECRYPT;

	/* a key the TPM made and keeps, that signs only TPM-made structures
	 * (restricted) and can neither decrypt nor leave the TPM */
	if ((attributes & checked) != KL_REGISTRAR_AK_ATTRIBUTES) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "aik_tpm: object attributes 0x%08x are not those of a restricted "
			    "signing key (need 0x%08x set and decrypt clear)",
			    (guint)attributes,
			    (guint)KL_REGISTRAR_AK_ATTRIBUTES);
		return FALSE;
	}
	return TRUE;
}

/* The EK certificate as canonical base64 DER, its key checked against @ek. */
static gboolean
kl_registrar_request_read_ekcert(JsonObject *body, KlTpmPublic *ek, gchar **ekcert, GError **error)
{
	const gchar *text = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GBytes) der = NULL;
	X509 *cert;

	if (!kl_json_object_get_optional_string(body, "ekcert", &text, error))
		return FALSE;
	/* upstream's emulator agents send "emulator" for no certificate */
	if (text == NULL || text[0] == '\0' || g_strcmp0(text, "emulator") == 0)
		return TRUE;
	if (strlen(text) > KL_REGISTRAR_MAX_CERT) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "ekcert: longer than %u characters",
			    (guint)KL_REGISTRAR_MAX_CERT);
		return FALSE;
	}
	cert = kl_x509_load_pem_or_base64_der(text, &error_local);
	if (cert == NULL) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "ekcert: %s",
			    error_local->message);
		return FALSE;
	}
	if (!kl_x509_public_key_equal(cert, kl_tpm_public_get_key(ek))) {
		X509_free(cert);
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "ekcert: its public key is not ek_tpm");
		return FALSE;
	}
	der = kl_x509_to_der(cert, error);
	X509_free(cert);
	if (der == NULL)
		return FALSE;
	*ekcert = g_base64_encode(g_bytes_get_data(der, NULL), g_bytes_get_size(der));
	return TRUE;
}

static gboolean
kl_registrar_request_read_mtls_cert(JsonObject *body, gchar **mtls_cert, GError **error)
{
	const gchar *text = NULL;
	g_autoptr(GError) error_local = NULL;
	X509 *cert;

	if (!kl_json_object_get_optional_string(body, "mtls_cert", &text, error))
		return FALSE;
	if (text == NULL || text[0] == '\0')
		return TRUE;
	if (g_strcmp0(text, "disabled") == 0) {
		*mtls_cert = g_strdup(text);
		return TRUE;
	}
	if (strlen(text) > KL_REGISTRAR_MAX_CERT) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "mtls_cert: longer than %u characters",
			    (guint)KL_REGISTRAR_MAX_CERT);
		return FALSE;
	}
	cert = kl_x509_load_pem(text, strlen(text), &error_local);
	if (cert == NULL) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "mtls_cert: %s",
			    error_local->message);
		return FALSE;
	}
	*mtls_cert = kl_x509_to_pem(cert, error);
	X509_free(cert);
	return *mtls_cert != NULL;
}

/* An address literal or a DNS name: what the verifier will connect to. */
static gboolean
kl_registrar_request_read_ip(JsonObject *body, gchar **ip, GError **error)
{
	const gchar *text = NULL;

	if (!kl_json_object_get_optional_string(body, "ip", &text, error))
		return FALSE;
	if (text == NULL || text[0] == '\0')
		return TRUE;
	if (strlen(text) > KL_REGISTRAR_MAX_HOST) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "ip: longer than %u characters",
			    (guint)KL_REGISTRAR_MAX_HOST);
		return FALSE;
	}
	for (const gchar *p = text; *p != '\0'; p++) {
		if (!g_ascii_isalnum(*p) && strchr(".-:_%", *p) == NULL) {
			g_set_error_literal(error,
					    KL_ERROR,
					    KL_ERROR_INVALID_ARGUMENT,
					    "ip: not an address or host name");
			return FALSE;
		}
	}
	*ip = g_strdup(text);
	return TRUE;
}

/* upstream accepts the port as a number or a string of digits */
static gboolean
kl_registrar_request_read_port(JsonObject *body, gint64 *port, GError **error)
{
	JsonNode *node = json_object_get_member(body, "port");
	const gchar *text;
	guint64 value = 0;

	if (node == NULL || JSON_NODE_HOLDS_NULL(node))
		return TRUE;
	if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING) {
		text = json_node_get_string(node);
		if (!g_ascii_string_to_unsigned(text, 10, 1, 65535, &value, NULL)) {
			g_set_error_literal(error,
					    KL_ERROR,
					    KL_ERROR_INVALID_ARGUMENT,
					    "port: not a port number");
			return FALSE;
		}
		*port = (gint64)value;
		return TRUE;
	}
	return kl_json_object_get_int(body, "port", 1, 65535, port, error);
}

KlRegistrarRequest *
kl_registrar_request_parse(const gchar *agent_id,
			   JsonObject *body,
			   KlRegistrarTpmIdentity identity,
			   GError **error)
{
	g_autoptr(KlRegistrarRequest) request = g_new0(KlRegistrarRequest, 1);
	KlRegistrarAgent *agent;

	g_return_val_if_fail(agent_id != NULL, NULL);
	g_return_val_if_fail(body != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (!kl_agent_id_validate(agent_id, error))
		return NULL;
	request->agent = agent = kl_registrar_agent_new(agent_id);

	/* IAK/IDevID fields would need checks we do not make; refusing
	 * beats storing an identity nobody verified */
	if (json_object_has_member(body, "iak_tpm") || json_object_has_member(body, "idevid_tpm")) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "iak_tpm: IAK/IDevID registration is not supported; "
				    "set enable_iak_idevid = false on the agent");
		return NULL;
	}

	request->ak = kl_registrar_request_read_public(body, "aik_tpm", &agent->aik_tpm, error);
	if (request->ak == NULL)
		return NULL;
	if (!kl_registrar_request_check_ak(request->ak, error))
		return NULL;
	request->ek = kl_registrar_request_read_public(body, "ek_tpm", &agent->ek_tpm, error);
	if (request->ek == NULL)
		return NULL;
	if (!kl_registrar_request_read_ekcert(body, request->ek, &agent->ekcert, error))
		return NULL;
	if (agent->ekcert == NULL && identity == KL_REGISTRAR_TPM_IDENTITY_EK_CERT) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "ekcert: required by this registrar (tpm_identity = ek_cert)");
		return NULL;
	}
	if (!kl_registrar_request_read_mtls_cert(body, &agent->mtls_cert, error))
		return NULL;
	if (!kl_registrar_request_read_ip(body, &agent->ip, error))
		return NULL;
	if (!kl_registrar_request_read_port(body, &agent->port, error))
		return NULL;
	return g_steal_pointer(&request);
}
