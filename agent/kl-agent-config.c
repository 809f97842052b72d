/*
 * Loading is in three steps: collect the raw value of each option from
 * the layers (a TOML node, or text from the environment), convert each
 * to its type, then resolve keywords and check what depends on several
 * options.  Text values go through kl-config's typed getters so that
 * booleans and integers read the same as in the other components.
 */
#include "config.h"

#include <errno.h>
#include <unistd.h>

#include "kl-agent-config.h"
#include "kl-api-version.h"
#include "kl-config.h"
#include "kl-toml.h"

typedef enum {
	KL_AGENT_OPTION_STRING,
	KL_AGENT_OPTION_BOOLEAN,
	KL_AGENT_OPTION_UINT,
	KL_AGENT_OPTION_LIST,
} KlAgentOptionKind;

typedef struct {
	const gchar *name;
	KlAgentOptionKind kind;
	const gchar *fallback; /* the Rust agent's default, as text */
	guint64 minimum;
	guint64 maximum;
} KlAgentOption;

#define STR(name, fallback)                                  \
	{                                                    \
		name, KL_AGENT_OPTION_STRING, fallback, 0, 0 \
	}
#define BOOL(name, fallback)                                  \
	{                                                     \
		name, KL_AGENT_OPTION_BOOLEAN, fallback, 0, 0 \
	}
#define PORT(name, fallback)                                   \
	{                                                      \
		name, KL_AGENT_OPTION_UINT, fallback, 1, 65535 \
	}
#define UINT(name, fallback, max)                            \
	{                                                    \
		name, KL_AGENT_OPTION_UINT, fallback, 0, max \
	}
#define LIST(name, fallback)                               \
	{                                                  \
		name, KL_AGENT_OPTION_LIST, fallback, 0, 0 \
	}

static const KlAgentOption agent_options[] = {
	STR("version", "2.0"),
	LIST("api_versions", "default"),
	STR("uuid", "d432fbb3-d2f1-4a97-9ef7-75bd81c00000"),
	STR("ip", "127.0.0.1"),
	PORT("port", "9002"),
	STR("contact_ip", "127.0.0.1"),
	PORT("contact_port", "9002"),
	STR("agent_data_path", "default"),
	STR("registrar_ip", "127.0.0.1"),
	PORT("registrar_port", "8890"),
	BOOL("registrar_tls_enabled", "false"),
	PORT("registrar_tls_port", "8891"),
	STR("registrar_tls_ca_cert", "default"),
	LIST("registrar_api_versions", "default"),
	BOOL("enable_agent_mtls", "true"),
	STR("keylime_dir", "/var/lib/keylime"),
	STR("tls_dir", "default"),
	BOOL("tls_accept_invalid_certs", "false"),
	BOOL("tls_accept_invalid_hostnames", "false"),
	STR("server_key", "default"),
	STR("server_key_password", ""),
	STR("server_cert", "default"),
	STR("payload_key", "default"),
	STR("payload_key_password", ""),
	LIST("trusted_client_ca", "default"),
	STR("enc_keyname", "derived_tci_key"),
	STR("dec_payload_file", "decrypted_payload"),
	STR("secure_size", "1m"),
	BOOL("extract_payload_zip", "true"),
	STR("payload_script", "autorun.sh"),
	BOOL("enable_insecure_payload", "false"),
	BOOL("enable_revocation_notifications", "false"),
	STR("revocation_notification_ip", "127.0.0.1"),
	PORT("revocation_notification_port", "8992"),
	STR("revocation_cert", "default"),
	LIST("revocation_actions", ""),
	STR("revocation_actions_dir", "/usr/libexec/keylime"),
	BOOL("allow_payload_revocation_actions", "true"),
	STR("tpm_hash_alg", "sha256"),
	STR("tpm_encryption_alg", "rsa"),
	STR("tpm_signing_alg", "rsassa"),
	STR("tpm_ownerpassword", ""),
	STR("ek_handle", "generate"),
	BOOL("enable_iak_idevid", "false"),
	STR("iak_idevid_template", "detect"),
	STR("iak_idevid_asymmetric_alg", "rsa"),
	STR("iak_idevid_name_alg", "sha256"),
	STR("idevid_password", ""),
	STR("idevid_handle", ""),
	STR("iak_password", ""),
	STR("iak_handle", ""),
	STR("iak_cert", "default"),
	STR("idevid_cert", "default"),
	STR("run_as", "keylime:tss"), /* "" when not started as root */
	STR("ima_ml_path", "default"),
	STR("ima_ml_count_file", "/sys/kernel/security/ima/measurements"),
	STR("measuredboot_ml_path", "default"),
	LIST("disabled_signing_algorithms", "ecschnorr"),
	UINT("exponential_backoff_max_retries", "5", G_MAXUINT32),
	UINT("exponential_backoff_initial_delay", "10000", G_MAXINT64),
	UINT("exponential_backoff_max_delay", "300000", G_MAXINT64),
	STR("verifier_url", "https://localhost:8881"),
	STR("verifier_tls_ca_cert", "default"),
	STR("certification_keys_server_identifier", "ak"),
	STR("uefi_logs_evidence_version", "2.1"),
	{"attestation_interval_seconds", KL_AGENT_OPTION_UINT, "60", 1, G_MAXUINT32},
	STR("tcti", ""),
};

#undef STR
#undef BOOL
#undef PORT
#undef UINT
#undef LIST

#define KL_AGENT_N_OPTIONS G_N_ELEMENTS(agent_options)

typedef struct {
	gchar *string;
	guint64 number;
	gboolean flag;
	gchar **list;
	gchar *source;
} KlAgentValue;

/* One option's value before conversion: a TOML node or environment text. */
typedef struct {
	KlTomlValue *node;
	gchar *text;
	gchar *source;
} KlAgentRaw;

struct _KlAgentConfig {
	GObject parent_instance;
	KlAgentValue values[KL_AGENT_N_OPTIONS];
	KlAgentUuidMode uuid_mode;
	guint64 secure_size;
	gchar *tcti;
};

G_DEFINE_TYPE(KlAgentConfig, kl_agent_config, G_TYPE_OBJECT)

static void
kl_agent_config_finalize(GObject *object)
{
	KlAgentConfig *self = KL_AGENT_CONFIG(object);
	for (guint i = 0; i < KL_AGENT_N_OPTIONS; i++) {
		/* Passwords live here too. */
		if (self->values[i].string != NULL)
			memset(self->values[i].string, 0, strlen(self->values[i].string));
		g_free(self->values[i].string);
		g_strfreev(self->values[i].list);
		g_free(self->values[i].source);
	}
	g_free(self->tcti);
	G_OBJECT_CLASS(kl_agent_config_parent_class)->finalize(object);
}

static void
kl_agent_config_class_init(KlAgentConfigClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = kl_agent_config_finalize;
}

static void
kl_agent_config_init(KlAgentConfig *self)
{
}

static void
kl_agent_raw_free(KlAgentRaw *raw)
{
	g_clear_pointer(&raw->node, kl_toml_value_unref);
	g_free(raw->text);
	g_free(raw->source);
	g_free(raw);
}

static gint
kl_agent_option_index(const gchar *name)
{
	for (guint i = 0; i < KL_AGENT_N_OPTIONS; i++) {
		if (g_str_equal(agent_options[i].name, name))
			return (gint)i;
	}
	return -1;
}

static gboolean
kl_agent_invalid(const gchar *where, const gchar *option, const gchar *expected, GError **error)
{
	g_set_error(error,
		    KL_CONFIG_ERROR,
		    KL_CONFIG_ERROR_INVALID_VALUE,
		    "%s: [agent] %s: expected %s",
		    where,
		    option,
		    expected);
	return FALSE;
}

gchar **
kl_agent_config_parse_list(const gchar *text)
{
	g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *copy = g_strstrip(g_strdup(text));
	gchar *body = copy;
	gsize len = strlen(body);
	const gchar *p;

	if (len >= 2 && body[0] == '[' && body[len - 1] == ']') {
		body[len - 1] = '\0';
		body++;
	}
	p = body;
	while (*p != '\0') {
		g_autoptr(GString) item = g_string_new(NULL);
		if (*p == ',' || g_ascii_isspace(*p)) {
			p++;
			continue;
		}
		if (*p == '\'' || *p == '"') {
			const gchar *end = strchr(p + 1, *p);
			if (end != NULL) {
				g_string_append_len(item, p + 1, end - p - 1);
				p = end + 1;
			}
		}
		while (*p != '\0' && *p != ',' && !g_ascii_isspace(*p))
			g_string_append_c(item, *p++);
		if (item->len > 0)
			g_ptr_array_add(items, g_string_free(g_steal_pointer(&item), FALSE));
	}
	g_ptr_array_add(items, NULL);
	return (gchar **)g_ptr_array_free(g_steal_pointer(&items), FALSE);
}

gboolean
kl_agent_config_parse_size(const gchar *text, guint64 *bytes)
{
	const gchar *suffixes = "kmgtpe";
	gchar *end = NULL;
	guint64 value;
	guint shift = 0;

	if (text == NULL || !g_ascii_isdigit(text[0]))
		return FALSE;
	errno = 0;
	value = g_ascii_strtoull(text, &end, 10);
	if (errno != 0)
		return FALSE;
	if (*end != '\0') {
		const gchar *suffix = strchr(suffixes, g_ascii_tolower(*end));
		if (suffix == NULL || end[1] != '\0')
			return FALSE;
		shift = 10 * (guint)(suffix - suffixes + 1);
	}
	if (value == 0 || (shift > 0 && value > (G_MAXUINT64 >> shift)))
		return FALSE;
	*bytes = value << shift;
	return TRUE;
}

/* Text (environment, or a TOML string given for a typed option). */
static gboolean
kl_agent_convert_text(const KlAgentOption *option,
		      const gchar *text,
		      const gchar *where,
		      KlAgentValue *out,
		      GError **error)
{
	g_autoptr(KlConfig) scratch = NULL;
	gint64 number = 0;

	switch (option->kind) {
	case KL_AGENT_OPTION_STRING:
		out->string = g_strdup(text);
		return TRUE;
	case KL_AGENT_OPTION_LIST:
		out->list = kl_agent_config_parse_list(text);
		return TRUE;
	case KL_AGENT_OPTION_BOOLEAN:
		scratch = kl_config_new();
		kl_config_set_string(scratch, "agent", option->name, text, where);
		return kl_config_get_boolean(scratch,
					     "agent",
					     option->name,
					     FALSE,
					     &out->flag,
					     error);
	case KL_AGENT_OPTION_UINT:
		scratch = kl_config_new();
		kl_config_set_string(scratch, "agent", option->name, text, where);
		if (!kl_config_get_int(scratch,
				       "agent",
				       option->name,
				       0,
				       (gint64)option->minimum,
				       (gint64)option->maximum,
				       &number,
				       error))
			return FALSE;
		out->number = (guint64)number;
		return TRUE;
	default:
		g_assert_not_reached();
	}
}

static gboolean
kl_agent_convert_node(const KlAgentOption *option,
		      KlTomlValue *node,
		      const gchar *where,
		      KlAgentValue *out,
		      GError **error)
{
	KlTomlKind kind = kl_toml_value_get_kind(node);
	g_autofree gchar *range = NULL;
	g_autoptr(GPtrArray) items = NULL;

	if (kind == KL_TOML_KIND_STRING)
		return kl_agent_convert_text(option,
					     kl_toml_value_get_string(node),
					     where,
					     out,
					     error);
	switch (option->kind) {
	case KL_AGENT_OPTION_STRING:
		/* The Rust agent's config crate turns scalars into text. */
		if (kind == KL_TOML_KIND_INTEGER) {
			out->string = g_strdup_printf("%" G_GINT64_FORMAT,
						      kl_toml_value_get_integer(node));
			return TRUE;
		}
		if (kind == KL_TOML_KIND_BOOLEAN) {
			out->string = g_strdup(kl_toml_value_get_boolean(node) ? "true" : "false");
			return TRUE;
		}
		return kl_agent_invalid(where, option->name, "a string", error);
	case KL_AGENT_OPTION_BOOLEAN:
		if (kind != KL_TOML_KIND_BOOLEAN)
			return kl_agent_invalid(where, option->name, "a boolean", error);
		out->flag = kl_toml_value_get_boolean(node);
		return TRUE;
	case KL_AGENT_OPTION_UINT:
		range = g_strdup_printf("an integer from %" G_GUINT64_FORMAT
					" to %" G_GUINT64_FORMAT,
					option->minimum,
					option->maximum);
		if (kind != KL_TOML_KIND_INTEGER || kl_toml_value_get_integer(node) < 0 ||
		    (guint64)kl_toml_value_get_integer(node) < option->minimum ||
		    (guint64)kl_toml_value_get_integer(node) > option->maximum)
			return kl_agent_invalid(where, option->name, range, error);
		out->number = (guint64)kl_toml_value_get_integer(node);
		return TRUE;
	case KL_AGENT_OPTION_LIST:
		if (kind != KL_TOML_KIND_ARRAY)
			return kl_agent_invalid(where,
						option->name,
						"a string or a list of strings",
						error);
		items = g_ptr_array_new_with_free_func(g_free);
		for (guint i = 0; i < kl_toml_value_get_length(node); i++) {
			KlTomlValue *element = kl_toml_value_get_element(node, i);
			if (kl_toml_value_get_kind(element) != KL_TOML_KIND_STRING) {
				g_autofree gchar *at = kl_toml_value_describe(element);
				return kl_agent_invalid(at,
							option->name,
							"a list of strings",
							error);
			}
			if (kl_toml_value_get_string(element)[0] != '\0')
				g_ptr_array_add(items, g_strdup(kl_toml_value_get_string(element)));
		}
		g_ptr_array_add(items, NULL);
		out->list = (gchar **)g_ptr_array_free(g_steal_pointer(&items), FALSE);
		return TRUE;
	default:
		g_assert_not_reached();
	}
}

/* Adds one TOML file's [agent] options to the raw layer. */
static gboolean
kl_agent_layer_file(GHashTable *raw, const gchar *path, GError **error)
{
	g_autoptr(KlTomlValue) root = kl_toml_parse_file(path, error);
	KlTomlValue *agent;

	if (root == NULL)
		return FALSE;
	for (guint i = 0; i < kl_toml_value_get_length(root); i++) {
		const gchar *key = kl_toml_value_get_key(root, i);
		if (!g_str_equal(key, "agent"))
			g_debug("%s: ignoring [%s], the agent reads only [agent]", path, key);
	}
	agent = kl_toml_value_lookup(root, "agent");
	if (agent == NULL)
		return TRUE;
	if (kl_toml_value_get_kind(agent) != KL_TOML_KIND_TABLE) {
		g_autofree gchar *where = kl_toml_value_describe(agent);
		g_set_error(error,
			    KL_CONFIG_ERROR,
			    KL_CONFIG_ERROR_INVALID_VALUE,
			    "%s: 'agent' must be a table",
			    where);
		return FALSE;
	}
	for (guint i = 0; i < kl_toml_value_get_length(agent); i++) {
		const gchar *key = kl_toml_value_get_key(agent, i);
		KlTomlValue *node = kl_toml_value_get_element(agent, i);
		g_autofree gchar *where = kl_toml_value_describe(node);
		KlAgentRaw *entry;

		if (kl_agent_option_index(key) < 0) {
			g_warning("%s: unknown option '%s' in [agent], ignored", where, key);
			continue;
		}
		entry = g_new0(KlAgentRaw, 1);
		entry->node = kl_toml_value_ref(node);
		entry->source = g_steal_pointer(&where);
		g_hash_table_replace(raw, g_strdup(key), entry);
	}
	return TRUE;
}

static gboolean
kl_agent_layer_source(GHashTable *raw, const gchar *source, GError **error)
{
	if (g_file_test(source, G_FILE_TEST_IS_DIR)) {
		g_auto(GStrv) files = kl_config_list_dropins(source, error);
		if (files == NULL)
			return FALSE;
		for (guint i = 0; files[i] != NULL; i++) {
			if (!kl_agent_layer_file(raw, files[i], error))
				return FALSE;
		}
		return TRUE;
	}
	if (!g_file_test(source, G_FILE_TEST_EXISTS))
		return TRUE;
	return kl_agent_layer_file(raw, source, error);
}

/* KEYLIME_AGENT_<OPTION>=value, as the Rust agent's Environment source. */
static void
kl_agent_layer_environment(GHashTable *raw, const gchar *const *envp)
{
	for (guint i = 0; envp != NULL && envp[i] != NULL; i++) {
		const gchar *equals = strchr(envp[i], '=');
		g_autofree gchar *name = NULL;
		g_autofree gchar *option = NULL;
		KlAgentRaw *entry;

		if (equals == NULL || !g_str_has_prefix(envp[i], "KEYLIME_AGENT_"))
			continue;
		name = g_strndup(envp[i], (gsize)(equals - envp[i]));
		if (g_str_equal(name, "KEYLIME_AGENT_CONFIG"))
			continue;
		option = g_ascii_strdown(name + strlen("KEYLIME_AGENT_"), -1);
		if (kl_agent_option_index(option) < 0) {
			g_warning("%s: unknown agent option '%s', ignored", name, option);
			continue;
		}
		entry = g_new0(KlAgentRaw, 1);
		entry->text = g_strdup(equals + 1);
		entry->source = g_steal_pointer(&name);
		g_hash_table_replace(raw, g_steal_pointer(&option), entry);
	}
}

static KlAgentValue *
kl_agent_value(KlAgentConfig *self, const gchar *option)
{
	gint index = kl_agent_option_index(option);
	g_assert(index >= 0);
	return &self->values[index];
}

static const gchar *
kl_agent_string(KlAgentConfig *self, const gchar *option)
{
	return kl_agent_value(self, option)->string;
}

static void
kl_agent_set_string(KlAgentConfig *self, const gchar *option, gchar *value)
{
	KlAgentValue *slot = kl_agent_value(self, option);
	g_free(slot->string);
	slot->string = value;
}

static gboolean
kl_agent_fail(KlAgentConfig *self, const gchar *option, const gchar *expected, GError **error)
{
	return kl_agent_invalid(kl_agent_value(self, option)->source, option, expected, error);
}

/* Upstream's config_get_file_path(). */
static gchar *
kl_agent_file_path(const gchar *option,
		   const gchar *value,
		   const gchar *base,
		   const gchar *fallback,
		   gboolean leave_empty)
{
	if (g_str_equal(value, "default"))
		return g_build_filename(base, fallback, NULL);
	if (value[0] == '\0') {
		if (leave_empty)
			return g_strdup("");
		g_warning("empty value for option %s, using the default %s", option, fallback);
		return g_build_filename(base, fallback, NULL);
	}
	if (g_path_is_absolute(value))
		return g_strdup(value);
	return g_build_filename(base, value, NULL);
}

static gboolean
kl_agent_is_uuid(const gchar *text)
{
	if (strlen(text) != 36)
		return FALSE;
	for (guint i = 0; i < 36; i++) {
		gboolean dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? text[i] != '-' : !g_ascii_isxdigit(text[i]))
			return FALSE;
	}
	return TRUE;
}

static void
kl_agent_resolve_uuid(KlAgentConfig *self)
{
	const gchar *uuid = kl_agent_string(self, "uuid");
	g_autofree gchar *contents = NULL;

	if (g_str_equal(uuid, "hash_ek")) {
		self->uuid_mode = KL_AGENT_UUID_MODE_HASH_EK;
		return;
	}
	if (g_str_equal(uuid, "generate")) {
		self->uuid_mode = KL_AGENT_UUID_MODE_GENERATE;
		kl_agent_set_string(self, "uuid", g_uuid_string_random());
		return;
	}
	if (g_str_equal(uuid, "hostname")) {
		self->uuid_mode = KL_AGENT_UUID_MODE_HOSTNAME;
		kl_agent_set_string(self, "uuid", g_strdup(g_get_host_name()));
		return;
	}
	if (g_str_equal(uuid, "dmidecode") &&
	    g_file_get_contents("/sys/class/dmi/id/product_uuid", &contents, NULL, NULL) &&
	    kl_agent_is_uuid(g_strstrip(contents))) {
		self->uuid_mode = KL_AGENT_UUID_MODE_DMIDECODE;
		kl_agent_set_string(self, "uuid", g_ascii_strdown(contents, -1));
		return;
	}
	if (kl_agent_is_uuid(uuid)) {
		self->uuid_mode = KL_AGENT_UUID_MODE_LITERAL;
		kl_agent_set_string(self, "uuid", g_ascii_strdown(uuid, -1));
		return;
	}
	self->uuid_mode = KL_AGENT_UUID_MODE_FALLBACK;
	g_warning("%s: misformatted agent UUID '%s', using a random one",
		  kl_agent_value(self, "uuid")->source,
		  uuid);
	kl_agent_set_string(self, "uuid", g_uuid_string_random());
}

static gboolean
kl_agent_check_one_of(KlAgentConfig *self,
		      const gchar *option,
		      const gchar *const *accepted,
		      GError **error)
{
	const gchar *value = kl_agent_string(self, option);
	g_autofree gchar *joined = NULL;
	g_autofree gchar *expected = NULL;

	if (g_strv_contains(accepted, value))
		return TRUE;
	joined = g_strjoinv(", ", (gchar **)accepted);
	expected = g_strdup_printf("one of %s (not '%s')", joined, value);
	return kl_agent_fail(self, option, expected, error);
}

/* IP address (IPv6 may be bracketed) or host name, as upstream. */
static gboolean
kl_agent_check_host(KlAgentConfig *self, const gchar *option, GError **error)
{
	const gchar *value = kl_agent_string(self, option);
	gsize len = strlen(value);

	if (len > 2 && value[0] == '[' && value[len - 1] == ']') {
		g_autofree gchar *inner = g_strndup(value + 1, len - 2);
		if (g_hostname_is_ip_address(inner)) {
			kl_agent_set_string(self, option, g_steal_pointer(&inner));
			return TRUE;
		}
	}
	if (g_hostname_is_ip_address(value))
		return TRUE;
	for (gsize i = 0; i < len; i++) {
		if (!(g_ascii_isalnum(value[i]) || value[i] == '-' || value[i] == '.'))
			return kl_agent_fail(self, option, "an IP address or a host name", error);
	}
	if (len == 0 || len > 253 || value[0] == '-' || value[0] == '.')
		return kl_agent_fail(self, option, "an IP address or a host name", error);
	return TRUE;
}

static void
kl_agent_resolve_api_versions(KlAgentConfig *self)
{
	KlAgentValue *slot = kl_agent_value(self, "api_versions");
	gsize n_supported = 0;
	const KlApiVersion *supported = kl_api_version_agent_supported(&n_supported);
	g_autoptr(GArray) chosen = g_array_new(FALSE, FALSE, sizeof(KlApiVersion));
	g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);
	gchar buffer[KL_API_VERSION_STRING_SIZE];
	gchar **list = slot->list;
	gboolean all = list[0] == NULL || (list[1] == NULL && g_str_equal(list[0], "default"));

	if (list[0] != NULL && list[1] == NULL && g_str_equal(list[0], "latest")) {
		g_array_append_val(chosen, supported[n_supported - 1]);
	} else if (!all) {
		for (guint i = 0; list[i] != NULL; i++) {
			KlApiVersion version;
			if (!kl_api_version_parse(list[i], &version, NULL) ||
			    !kl_api_version_is_supported(&version, supported, n_supported)) {
				g_warning("%s: skipping API version \"%s\" of api_versions",
					  slot->source,
					  list[i]);
				continue;
			}
			g_array_append_val(chosen, version);
		}
		if (chosen->len == 0) {
			g_warning("%s: no supported version in api_versions, using all supported",
				  slot->source);
			all = TRUE;
		}
	}
	if (all)
		g_array_append_vals(chosen, supported, (guint)n_supported);
	g_array_sort(chosen, (GCompareFunc)kl_api_version_compare);
	for (guint i = 0; i < chosen->len; i++) {
		const gchar *text =
			kl_api_version_to_string(&g_array_index(chosen, KlApiVersion, i), buffer);
		if (out->len == 0 || !g_str_equal(g_ptr_array_index(out, out->len - 1), text))
			g_ptr_array_add(out, g_strdup(text));
	}
	g_ptr_array_add(out, NULL);
	g_strfreev(slot->list);
	slot->list = (gchar **)g_ptr_array_free(g_steal_pointer(&out), FALSE);
}

static gboolean
kl_agent_resolve(KlAgentConfig *self, const gchar *const *envp, GError **error)
{
	const gchar *const hash_algs[] = {"sha1", "sha256", "sha384", "sha512", "sm3_256", NULL};
	const gchar *const encryption_algs[] = {"rsa",
						"ecc",
						"rsa1024",
						"rsa2048",
						"rsa3072",
						"rsa4096",
						"ecc192",
						"ecc_nist_p192",
						"ecc224",
						"ecc_nist_p224",
						"ecc256",
						"ecc_nist_p256",
						"ecc384",
						"ecc_nist_p384",
						"ecc521",
						"ecc_nist_p521",
						"ecc_sm2",
						"ecc_sm2_p256",
						NULL};
	const gchar *const signing_algs[] = {"rsassa", "rsapss", "ecdsa", "ecschnorr", NULL};
	const gchar *const templates[] =
		{"", "detect", "default", "manual", "H-1", "H-2", "H-3", "H-4", "H-5", NULL};
	const gchar *const iak_algs[] = {"rsa", "ecc", NULL};
	const gchar *const iak_name_algs[] = {"sha256", "sm3_256", "sha384", "sha512", NULL};
	const gchar *const host_options[] = {"ip", "contact_ip", "registrar_ip"};
	const gchar *const keylime_files[][3] = {
		{"agent_data_path", "agent_data.json", ""},
		{"server_key", "server-private.pem", ""},
		{"server_cert", "server-cert.crt", ""},
		{"payload_key", "payload-private.pem", ""},
		{"verifier_tls_ca_cert", "cv_ca/cacert.crt", ""},
		{"registrar_tls_ca_cert", "cv_ca/cacert.crt", ""},
		{"revocation_cert", "secure/unzipped/RevocationNotifier-cert.crt", ""},
		{"iak_cert", "iak-cert.crt", "empty"},
		{"idevid_cert", "idevid-cert.crt", "empty"},
	};
	const gchar *keylime_dir_env = g_environ_getenv((gchar **)envp, "KEYLIME_DIR");
	const gchar *keylime_dir = kl_agent_string(self, "keylime_dir");
	KlAgentValue *ca = kl_agent_value(self, "trusted_client_ca");
	const gchar *run_as;
	g_autofree gchar *base = NULL;
	const gchar *tcti_env[] = {"TCG_TCTI", "TPM2TOOLS_TCTI", "TCTI"};

	if (keylime_dir_env != NULL && keylime_dir_env[0] != '\0')
		keylime_dir = keylime_dir_env;
	else if (keylime_dir[0] == '\0')
		keylime_dir = "/var/lib/keylime";
	if (g_path_is_absolute(keylime_dir)) {
		base = g_canonicalize_filename(keylime_dir, NULL);
	} else {
		g_autofree gchar *cwd = g_get_current_dir();
		base = g_canonicalize_filename(keylime_dir, cwd);
	}
	kl_agent_set_string(self, "keylime_dir", g_strdup(base));

	for (guint i = 0; i < G_N_ELEMENTS(keylime_files); i++) {
		const gchar *option = keylime_files[i][0];
		kl_agent_set_string(self,
				    option,
				    kl_agent_file_path(option,
						       kl_agent_string(self, option),
						       base,
						       keylime_files[i][1],
						       keylime_files[i][2][0] != '\0'));
	}
	if (ca->list[0] == NULL) {
		g_strfreev(ca->list);
		ca->list = g_new0(gchar *, 2);
		ca->list[0] = g_strdup("default");
	}
	for (guint i = 0; ca->list[i] != NULL; i++) {
		gchar *path = kl_agent_file_path("trusted_client_ca",
						 ca->list[i],
						 base,
						 "cv_ca/cacert.crt",
						 FALSE);
		g_free(ca->list[i]);
		ca->list[i] = path;
	}
	kl_agent_set_string(self,
			    "ima_ml_path",
			    kl_agent_file_path("ima_ml_path",
					       kl_agent_string(self, "ima_ml_path"),
					       "/",
					       "sys/kernel/security/ima/ascii_runtime_measurements",
					       FALSE));
	kl_agent_set_string(self,
			    "measuredboot_ml_path",
			    kl_agent_file_path("measuredboot_ml_path",
					       kl_agent_string(self, "measuredboot_ml_path"),
					       "/",
					       "sys/kernel/security/tpm0/binary_bios_measurements",
					       FALSE));
	if (g_str_equal(kl_agent_string(self, "ek_handle"), "generate"))
		kl_agent_set_string(self, "ek_handle", g_strdup(""));

	kl_agent_resolve_uuid(self);
	for (guint i = 0; i < G_N_ELEMENTS(host_options); i++) {
		if (!kl_agent_check_host(self, host_options[i], error))
			return FALSE;
	}
	if (!kl_agent_check_one_of(self, "tpm_hash_alg", hash_algs, error) ||
	    !kl_agent_check_one_of(self, "tpm_encryption_alg", encryption_algs, error) ||
	    !kl_agent_check_one_of(self, "tpm_signing_alg", signing_algs, error) ||
	    !kl_agent_check_one_of(self, "iak_idevid_template", templates, error) ||
	    !kl_agent_check_one_of(self, "iak_idevid_asymmetric_alg", iak_algs, error) ||
	    !kl_agent_check_one_of(self, "iak_idevid_name_alg", iak_name_algs, error))
		return FALSE;
	if (!kl_agent_config_parse_size(kl_agent_string(self, "secure_size"), &self->secure_size))
		return kl_agent_fail(
			self,
			"secure_size",
			"a size in bytes with an optional k, m or g suffix, like \"1m\"",
			error);
	run_as = kl_agent_string(self, "run_as");
	if (run_as[0] != '\0') {
		const gchar *colon = strchr(run_as, ':');
		if (colon == NULL || colon == run_as || colon[1] == '\0' ||
		    strchr(colon + 1, ':') != NULL)
			return kl_agent_fail(self, "run_as", "user:group, or empty", error);
	}
	if (kl_agent_value(self, "enable_revocation_notifications")->flag) {
		const gchar *actions_dir = kl_agent_string(self, "revocation_actions_dir");
		if (kl_agent_string(self, "revocation_notification_ip")[0] == '\0')
			return kl_agent_fail(
				self,
				"revocation_notification_ip",
				"an address when enable_revocation_notifications is true",
				error);
		if (actions_dir[0] == '\0' || !g_file_test(actions_dir, G_FILE_TEST_IS_DIR))
			return kl_agent_fail(self,
					     "revocation_actions_dir",
					     "an existing directory when "
					     "enable_revocation_notifications is true",
					     error);
	}
	kl_agent_resolve_api_versions(self);

	for (guint i = 0; i < G_N_ELEMENTS(tcti_env) && self->tcti == NULL; i++) {
		const gchar *value = g_environ_getenv((gchar **)envp, tcti_env[i]);
		if (value != NULL && value[0] != '\0')
			self->tcti = g_strdup(value);
	}
	if (self->tcti == NULL && kl_agent_string(self, "tcti")[0] != '\0')
		self->tcti = g_strdup(kl_agent_string(self, "tcti"));
	if (self->tcti == NULL)
		self->tcti = g_strdup(KL_AGENT_CONFIG_DEFAULT_TCTI);
	return TRUE;
}

KlAgentConfig *
kl_agent_config_load_sources(const gchar *const *sources, const gchar *const *envp, GError **error)
{
	g_autoptr(KlAgentConfig) self = g_object_new(KL_TYPE_AGENT_CONFIG, NULL);
	g_autoptr(GHashTable) raw = g_hash_table_new_full(g_str_hash,
							  g_str_equal,
							  g_free,
							  (GDestroyNotify)kl_agent_raw_free);

	for (guint i = 0; sources != NULL && sources[i] != NULL; i++) {
		if (!kl_agent_layer_source(raw, sources[i], error))
			return NULL;
	}
	kl_agent_layer_environment(raw, envp);

	for (guint i = 0; i < KL_AGENT_N_OPTIONS; i++) {
		const KlAgentOption *option = &agent_options[i];
		const KlAgentRaw *entry = g_hash_table_lookup(raw, option->name);
		KlAgentValue *slot = &self->values[i];
		gboolean ok;

		if (entry == NULL) {
			const gchar *fallback = option->fallback;
			/* Upstream drops privileges by default only when root. */
			if (g_str_equal(option->name, "run_as") && geteuid() != 0)
				fallback = "";
			slot->source = g_strdup("default");
			ok = kl_agent_convert_text(option, fallback, "default", slot, error);
		} else if (entry->node != NULL) {
			slot->source = g_strdup(entry->source);
			ok = kl_agent_convert_node(option, entry->node, entry->source, slot, error);
		} else {
			slot->source = g_strdup(entry->source);
			ok = kl_agent_convert_text(option, entry->text, entry->source, slot, error);
		}
		if (!ok)
			return NULL;
	}
	if (!kl_agent_resolve(self, envp, error))
		return NULL;
	return g_steal_pointer(&self);
}

KlAgentConfig *
kl_agent_config_load_full(const gchar *const *envp, const gchar *const *system_dirs, GError **error)
{
	const gchar *override = g_environ_getenv((gchar **)envp, "KEYLIME_AGENT_CONFIG");
	g_autoptr(GPtrArray) sources = g_ptr_array_new_with_free_func(g_free);

	if (override != NULL && override[0] != '\0') {
		/* Upstream: this file alone replaces every system file. */
		if (!g_file_test(override, G_FILE_TEST_IS_REGULAR)) {
			g_set_error(error,
				    KL_CONFIG_ERROR,
				    KL_CONFIG_ERROR_NOT_FOUND,
				    "KEYLIME_AGENT_CONFIG names %s, which is not a file",
				    override);
			return NULL;
		}
		g_ptr_array_add(sources, g_strdup(override));
	} else {
		for (guint i = 0; system_dirs != NULL && system_dirs[i] != NULL; i++) {
			g_ptr_array_add(sources,
					g_build_filename(system_dirs[i], "agent.conf", NULL));
			g_ptr_array_add(sources,
					g_build_filename(system_dirs[i], "agent.conf.d", NULL));
		}
	}
	g_ptr_array_add(sources, NULL);
	return kl_agent_config_load_sources((const gchar *const *)sources->pdata, envp, error);
}

KlAgentConfig *
kl_agent_config_load(GError **error)
{
	g_auto(GStrv) envp = g_get_environ();
	const gchar *const system_dirs[] = {"/usr/etc/keylime", "/etc/keylime", NULL};
	return kl_agent_config_load_full((const gchar *const *)envp, system_dirs, error);
}

static KlAgentValue *
kl_agent_checked(KlAgentConfig *self, const gchar *option, KlAgentOptionKind kind)
{
	gint index;

	g_return_val_if_fail(KL_IS_AGENT_CONFIG(self), NULL);
	index = kl_agent_option_index(option);
	g_return_val_if_fail(index >= 0, NULL);
	g_return_val_if_fail(agent_options[index].kind == kind, NULL);
	return &self->values[index];
}

const gchar *
kl_agent_config_get_string(KlAgentConfig *self, const gchar *option)
{
	KlAgentValue *value = kl_agent_checked(self, option, KL_AGENT_OPTION_STRING);
	return value != NULL ? value->string : NULL;
}

guint64
kl_agent_config_get_uint(KlAgentConfig *self, const gchar *option)
{
	KlAgentValue *value = kl_agent_checked(self, option, KL_AGENT_OPTION_UINT);
	return value != NULL ? value->number : 0;
}

gboolean
kl_agent_config_get_boolean(KlAgentConfig *self, const gchar *option)
{
	KlAgentValue *value = kl_agent_checked(self, option, KL_AGENT_OPTION_BOOLEAN);
	return value != NULL ? value->flag : FALSE;
}

const gchar *const *
kl_agent_config_get_list(KlAgentConfig *self, const gchar *option)
{
	KlAgentValue *value = kl_agent_checked(self, option, KL_AGENT_OPTION_LIST);
	return value != NULL ? (const gchar *const *)value->list : NULL;
}

const gchar *
kl_agent_config_get_source(KlAgentConfig *self, const gchar *option)
{
	gint index;

	g_return_val_if_fail(KL_IS_AGENT_CONFIG(self), NULL);
	index = kl_agent_option_index(option);
	g_return_val_if_fail(index >= 0, NULL);
	return self->values[index].source;
}

const gchar *
kl_agent_config_get_uuid(KlAgentConfig *self)
{
	return kl_agent_config_get_string(self, "uuid");
}

KlAgentUuidMode
kl_agent_config_get_uuid_mode(KlAgentConfig *self)
{
	g_return_val_if_fail(KL_IS_AGENT_CONFIG(self), KL_AGENT_UUID_MODE_LITERAL);
	return self->uuid_mode;
}

const gchar *
kl_agent_config_get_ip(KlAgentConfig *self)
{
	return kl_agent_config_get_string(self, "ip");
}

guint16
kl_agent_config_get_port(KlAgentConfig *self)
{
	return (guint16)kl_agent_config_get_uint(self, "port");
}

const gchar *
kl_agent_config_get_contact_ip(KlAgentConfig *self)
{
	return kl_agent_config_get_string(self, "contact_ip");
}

guint16
kl_agent_config_get_contact_port(KlAgentConfig *self)
{
	return (guint16)kl_agent_config_get_uint(self, "contact_port");
}

const gchar *
kl_agent_config_get_registrar_ip(KlAgentConfig *self)
{
	return kl_agent_config_get_string(self, "registrar_ip");
}

guint16
kl_agent_config_get_registrar_port(KlAgentConfig *self)
{
	return (guint16)kl_agent_config_get_uint(self, "registrar_port");
}

gboolean
kl_agent_config_get_enable_agent_mtls(KlAgentConfig *self)
{
	return kl_agent_config_get_boolean(self, "enable_agent_mtls");
}

const gchar *
kl_agent_config_get_keylime_dir(KlAgentConfig *self)
{
	return kl_agent_config_get_string(self, "keylime_dir");
}

const gchar *
kl_agent_config_get_server_key(KlAgentConfig *self)
{
	return kl_agent_config_get_string(self, "server_key");
}

const gchar *
kl_agent_config_get_server_cert(KlAgentConfig *self)
{
	return kl_agent_config_get_string(self, "server_cert");
}

const gchar *
kl_agent_config_get_payload_key(KlAgentConfig *self)
{
	return kl_agent_config_get_string(self, "payload_key");
}

const gchar *const *
kl_agent_config_get_trusted_client_ca(KlAgentConfig *self)
{
	return kl_agent_config_get_list(self, "trusted_client_ca");
}

const gchar *
kl_agent_config_get_agent_data_path(KlAgentConfig *self)
{
	return kl_agent_config_get_string(self, "agent_data_path");
}

const gchar *
kl_agent_config_get_revocation_cert(KlAgentConfig *self)
{
	return kl_agent_config_get_string(self, "revocation_cert");
}

const gchar *
kl_agent_config_get_ima_ml_path(KlAgentConfig *self)
{
	return kl_agent_config_get_string(self, "ima_ml_path");
}

const gchar *
kl_agent_config_get_measuredboot_ml_path(KlAgentConfig *self)
{
	return kl_agent_config_get_string(self, "measuredboot_ml_path");
}

guint64
kl_agent_config_get_secure_size(KlAgentConfig *self)
{
	g_return_val_if_fail(KL_IS_AGENT_CONFIG(self), 0);
	return self->secure_size;
}

const gchar *const *
kl_agent_config_get_api_versions(KlAgentConfig *self)
{
	return kl_agent_config_get_list(self, "api_versions");
}

const gchar *
kl_agent_config_get_tcti(KlAgentConfig *self)
{
	g_return_val_if_fail(KL_IS_AGENT_CONFIG(self), NULL);
	return self->tcti;
}
