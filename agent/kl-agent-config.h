/*
 * kl-agent-config: the [agent] options of agent.conf (TOML) with the Rust
 * keylime_agent's names, defaults and precedence:
 *
 *   built-in defaults
 *   < /usr/etc/keylime/agent.conf < /usr/etc/keylime/agent.conf.d/ *.conf
 *   < /etc/keylime/agent.conf     < /etc/keylime/agent.conf.d/ *.conf
 *   < KEYLIME_AGENT_<OPTION> (upper case) from the environment.
 *
 * As upstream, $KEYLIME_AGENT_CONFIG replaces all the files (it must
 * exist); drop-ins are read in lexical order.  Unknown options are logged
 * and ignored.  After loading, keywords are resolved (Appendix C):
 * "default" paths become files under keylime_dir ($KEYLIME_DIR wins),
 * relative paths are taken relative to keylime_dir (the measurement logs
 * relative to /), ek_handle "generate" becomes "", api_versions are
 * filtered against what the agent supports, and the uuid is decided:
 *
 *   a UUID         used as written (folded to lower case);
 *   "generate"     a random v4 UUID, new at every start;
 *   "hash_ek"      kept as the marker "hash_ek": the agent replaces it by
 *                  the hex SHA-256 of the EK public key PEM once it has
 *                  the EK (kl_agent_config_get_uuid_mode() says so);
 *   "hostname"     this machine's host name;
 *   "dmidecode"    the SMBIOS system UUID (/sys/class/dmi/id/product_uuid);
 *   anything else  (and "environment" with no KEYLIME_AGENT_UUID) is
 *                  malformed: a warning and a random v4 UUID, as upstream.
 *
 * The TPM TCTI comes from $TCG_TCTI, $TPM2TOOLS_TCTI, $TCTI, the "tcti"
 * option (a keylime-c extension), else "device:/dev/tpmrm0".
 *
 * Errors are KL_CONFIG_ERROR_INVALID_VALUE naming the source
 * (file:line:column or the environment variable) and the option.
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum {
	KL_AGENT_UUID_MODE_LITERAL,
	KL_AGENT_UUID_MODE_GENERATE,
	KL_AGENT_UUID_MODE_HASH_EK,
	KL_AGENT_UUID_MODE_HOSTNAME,
	KL_AGENT_UUID_MODE_DMIDECODE,
	KL_AGENT_UUID_MODE_FALLBACK, /* malformed value: random, with a warning */
} KlAgentUuidMode;

#define KL_AGENT_CONFIG_DEFAULT_TCTI "device:/dev/tpmrm0"

#define KL_TYPE_AGENT_CONFIG (kl_agent_config_get_type())
G_DECLARE_FINAL_TYPE(KlAgentConfig, kl_agent_config, KL, AGENT_CONFIG, GObject)

/* As keylime_agent at start: the process environment and system dirs. */
KlAgentConfig *kl_agent_config_load(GError **error);
/* envp: the environment to read (NULL: none); system_dirs: lowest
 * precedence first, each holding agent.conf and agent.conf.d/. */
KlAgentConfig *kl_agent_config_load_full(const gchar *const *envp,
					 const gchar *const *system_dirs,
					 GError **error);
/* sources: files and drop-in directories, lowest precedence first; a
 * missing source is skipped. */
KlAgentConfig *
kl_agent_config_load_sources(const gchar *const *sources, const gchar *const *envp, GError **error);

/* Any option by its agent.conf name; wrong name or type is a critical. */
const gchar *kl_agent_config_get_string(KlAgentConfig *self, const gchar *option);
guint64 kl_agent_config_get_uint(KlAgentConfig *self, const gchar *option);
gboolean kl_agent_config_get_boolean(KlAgentConfig *self, const gchar *option);
const gchar *const *kl_agent_config_get_list(KlAgentConfig *self, const gchar *option);
/* Where an option's value came from: "file:line:column", the environment
 * variable, or "default". */
const gchar *kl_agent_config_get_source(KlAgentConfig *self, const gchar *option);

const gchar *kl_agent_config_get_uuid(KlAgentConfig *self);
KlAgentUuidMode kl_agent_config_get_uuid_mode(KlAgentConfig *self);
const gchar *kl_agent_config_get_ip(KlAgentConfig *self);
guint16 kl_agent_config_get_port(KlAgentConfig *self);
const gchar *kl_agent_config_get_contact_ip(KlAgentConfig *self);
guint16 kl_agent_config_get_contact_port(KlAgentConfig *self);
const gchar *kl_agent_config_get_registrar_ip(KlAgentConfig *self);
guint16 kl_agent_config_get_registrar_port(KlAgentConfig *self);
gboolean kl_agent_config_get_enable_agent_mtls(KlAgentConfig *self);
const gchar *kl_agent_config_get_keylime_dir(KlAgentConfig *self);
const gchar *kl_agent_config_get_server_key(KlAgentConfig *self);
const gchar *kl_agent_config_get_server_cert(KlAgentConfig *self);
const gchar *kl_agent_config_get_payload_key(KlAgentConfig *self);
const gchar *const *kl_agent_config_get_trusted_client_ca(KlAgentConfig *self);
const gchar *kl_agent_config_get_agent_data_path(KlAgentConfig *self);
const gchar *kl_agent_config_get_revocation_cert(KlAgentConfig *self);
const gchar *kl_agent_config_get_ima_ml_path(KlAgentConfig *self);
const gchar *kl_agent_config_get_measuredboot_ml_path(KlAgentConfig *self);
/* secure_size in bytes ("1m" = 1048576). */
guint64 kl_agent_config_get_secure_size(KlAgentConfig *self);
const gchar *const *kl_agent_config_get_api_versions(KlAgentConfig *self);
const gchar *kl_agent_config_get_tcti(KlAgentConfig *self);

/* "512k", "1m", "2G", "4096": a tmpfs size in bytes, > 0. */
gboolean kl_agent_config_parse_size(const gchar *text, guint64 *bytes);
/* Rust's list syntax: optional [ ], items separated by commas or blanks,
 * optionally quoted; empty items dropped. */
gchar **kl_agent_config_parse_list(const gchar *text);

G_END_DECLS
