/*
 * kl-mb-refstate: the measured-boot reference state, validated on input
 * and extracted from a parsed event log as upstream's create_mb_refstate
 * does (spec §7.3).
 */
#define G_LOG_DOMAIN "KlCore"

#include "config.h"

#include <string.h>

#include "kl-json.h"
#include "kl-mb-refstate.h"

struct _KlMbRefstate {
	JsonNode *root; /* an object */
};

GQuark
kl_mb_error_quark(void)
{
	return g_quark_from_static_string("kl-mb-error-quark");
}

void
kl_mb_refstate_free(KlMbRefstate *self)
{
	if (self == NULL)
		return;
	if (self->root != NULL)
		json_node_unref(self->root);
	g_free(self);
}

/* "0x" then lower-case hex digits, as upstream's hex_test */
static gboolean
kl_mb_refstate_is_0xhex(const gchar *text)
{
	if (!g_str_has_prefix(text, "0x") || text[2] == '\0')
		return FALSE;
	for (const gchar *p = text + 2; *p != '\0'; p++) {
		if (!g_ascii_isdigit(*p) && !(*p >= 'a' && *p <= 'f'))
			return FALSE;
	}
	return TRUE;
}

static gboolean
kl_mb_refstate_check_hex(JsonObject *object, const gchar *member, GError **error)
{
	const gchar *value = NULL;
	if (!kl_json_object_get_string(object, member, &value, error))
		return FALSE;
	if (!kl_mb_refstate_is_0xhex(value)) {
		g_set_error(error,
			    KL_MB_ERROR,
			    KL_MB_ERROR_INVALID_REFSTATE,
			    "%s is not 0x followed by lower-case hex digits",
			    member);
		return FALSE;
	}
	return TRUE;
}

/* a digest is {"sha256": "0x..."}: every member a 0xhex string */
static gboolean
kl_mb_refstate_check_digest(JsonNode *node, GError **error)
{
	JsonObject *object = NULL;
	g_autoptr(GList) members = NULL;

	if (!JSON_NODE_HOLDS_OBJECT(node)) {
		g_set_error_literal(error,
				    KL_MB_ERROR,
				    KL_MB_ERROR_INVALID_REFSTATE,
				    "a digest is not an object");
		return FALSE;
	}
	object = json_node_get_object(node);
	members = json_object_get_members(object);
	for (GList *l = members; l != NULL; l = l->next) {
		if (!kl_mb_refstate_check_hex(object, l->data, error))
			return FALSE;
	}
	return TRUE;
}

static gboolean
kl_mb_refstate_check_digest_list(JsonObject *object, const gchar *member, GError **error)
{
	JsonArray *array = NULL;
	if (!kl_json_object_get_array(object, member, &array, error))
		return FALSE;
	for (guint i = 0; i < json_array_get_length(array); i++) {
		if (!kl_mb_refstate_check_digest(json_array_get_element(array, i), error)) {
			g_prefix_error(error, "%s[%u]: ", member, i);
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean
kl_mb_refstate_check_sig_list(JsonObject *object, const gchar *member, GError **error)
{
	JsonArray *array = NULL;
	if (!kl_json_object_get_array(object, member, &array, error))
		return FALSE;
	for (guint i = 0; i < json_array_get_length(array); i++) {
		JsonNode *node = json_array_get_element(array, i);
		const gchar *owner = NULL;
		if (!JSON_NODE_HOLDS_OBJECT(node)) {
			g_set_error(error,
				    KL_MB_ERROR,
				    KL_MB_ERROR_INVALID_REFSTATE,
				    "%s[%u] is not an object",
				    member,
				    i);
			return FALSE;
		}
		if (!kl_json_object_get_string(json_node_get_object(node),
					       "SignatureOwner",
					       &owner,
					       error) ||
		    !kl_mb_refstate_check_hex(json_node_get_object(node), "SignatureData", error)) {
			g_prefix_error(error, "%s[%u]: ", member, i);
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean
kl_mb_refstate_check_scrtm_and_bios(JsonObject *object, GError **error)
{
	JsonArray *array = NULL;
	if (!kl_json_object_get_array(object, "scrtm_and_bios", &array, error))
		return FALSE;
	for (guint i = 0; i < json_array_get_length(array); i++) {
		JsonNode *node = json_array_get_element(array, i);
		JsonObject *entry = NULL;
		JsonNode *scrtm = NULL;
		if (!JSON_NODE_HOLDS_OBJECT(node)) {
			g_set_error(error,
				    KL_MB_ERROR,
				    KL_MB_ERROR_INVALID_REFSTATE,
				    "scrtm_and_bios[%u] is not an object",
				    i);
			return FALSE;
		}
		entry = json_node_get_object(node);
		scrtm = json_object_get_member(entry, "scrtm");
		if (scrtm == NULL) {
			g_set_error(error,
				    KL_MB_ERROR,
				    KL_MB_ERROR_INVALID_REFSTATE,
				    "scrtm_and_bios[%u]: member scrtm is missing",
				    i);
			return FALSE;
		}
		if (!kl_mb_refstate_check_digest(scrtm, error) ||
		    !kl_mb_refstate_check_digest_list(entry, "platform_firmware", error)) {
			g_prefix_error(error, "scrtm_and_bios[%u]: ", i);
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean
kl_mb_refstate_check_kernels(JsonObject *object, GError **error)
{
	const gchar *hex_members[] = {"shim_authcode_sha256",
				      "grub_authcode_sha256",
				      "kernel_authcode_sha256",
				      "initrd_plain_sha256",
				      "vmlinuz_plain_sha256"};
	JsonArray *array = NULL;

	if (!kl_json_object_get_array(object, "kernels", &array, error))
		return FALSE;
	for (guint i = 0; i < json_array_get_length(array); i++) {
		JsonNode *node = json_array_get_element(array, i);
		JsonObject *kernel = NULL;
		const gchar *cmdline = NULL;
		if (!JSON_NODE_HOLDS_OBJECT(node)) {
			g_set_error(error,
				    KL_MB_ERROR,
				    KL_MB_ERROR_INVALID_REFSTATE,
				    "kernels[%u] is not an object",
				    i);
			return FALSE;
		}
		kernel = json_node_get_object(node);
		/* which members a policy needs is the policy's business */
		for (guint j = 0; j < G_N_ELEMENTS(hex_members); j++) {
			if (json_object_has_member(kernel, hex_members[j]) &&
			    !kl_mb_refstate_check_hex(kernel, hex_members[j], error)) {
				g_prefix_error(error, "kernels[%u]: ", i);
				return FALSE;
			}
		}
		if (json_object_has_member(kernel, "kernel_cmdline")) {
			g_autoptr(GRegex) regex = NULL;
			if (!kl_json_object_get_string(kernel, "kernel_cmdline", &cmdline, error)) {
				g_prefix_error(error, "kernels[%u]: ", i);
				return FALSE;
			}
			regex = g_regex_new(cmdline, 0, 0, error);
			if (regex == NULL) {
				g_prefix_error(
					error,
					"kernels[%u]: kernel_cmdline is no regular expression: ",
					i);
				return FALSE;
			}
		}
	}
	return TRUE;
}

static gboolean
kl_mb_refstate_validate(JsonObject *object, GError **error)
{
	const gchar *sig_members[] = {"pk", "kek", "db", "dbx", "vendor_db"};
	const gchar *digest_members[] = {"mokdig", "mokxdig"};
	gboolean has_secureboot = TRUE;

	if (json_object_has_member(object, "has_secureboot") &&
	    !kl_json_object_get_boolean(object, "has_secureboot", &has_secureboot, error))
		return FALSE;
	if (json_object_has_member(object, "scrtm_and_bios") &&
	    !kl_mb_refstate_check_scrtm_and_bios(object, error))
		return FALSE;
	for (guint i = 0; i < G_N_ELEMENTS(sig_members); i++) {
		if (json_object_has_member(object, sig_members[i]) &&
		    !kl_mb_refstate_check_sig_list(object, sig_members[i], error))
			return FALSE;
	}
	for (guint i = 0; i < G_N_ELEMENTS(digest_members); i++) {
		if (json_object_has_member(object, digest_members[i]) &&
		    !kl_mb_refstate_check_digest_list(object, digest_members[i], error))
			return FALSE;
	}
	if (json_object_has_member(object, "kernels") &&
	    !kl_mb_refstate_check_kernels(object, error))
		return FALSE;
	return TRUE;
}

KlMbRefstate *
kl_mb_refstate_new_from_object(JsonObject *object, GError **error)
{
	g_autoptr(KlMbRefstate) self = g_new0(KlMbRefstate, 1);

	g_return_val_if_fail(object != NULL, NULL);

	if (!kl_mb_refstate_validate(object, error)) {
		/* kl-json's getters use KL_ERROR; a refstate error is ours */
		if (error != NULL && *error != NULL && (*error)->domain != KL_MB_ERROR) {
			(*error)->domain = KL_MB_ERROR;
			(*error)->code = KL_MB_ERROR_INVALID_REFSTATE;
		}
		g_prefix_error(error, "measured boot reference state: ");
		return NULL;
	}
	self->root = json_node_init_object(json_node_alloc(), object);
	return g_steal_pointer(&self);
}

KlMbRefstate *
kl_mb_refstate_new_from_json(const gchar *data, gsize length, GError **error)
{
	g_autoptr(JsonObject) object = NULL;

	object = kl_json_parse_object(data,
				      length,
				      KL_MB_REFSTATE_MAX_SIZE,
				      KL_JSON_DEFAULT_MAX_DEPTH,
				      error);
	if (object == NULL) {
		g_prefix_error(error, "measured boot reference state: ");
		return NULL;
	}
	return kl_mb_refstate_new_from_object(object, error);
}

gboolean
kl_mb_refstate_is_empty(KlMbRefstate *self)
{
	g_return_val_if_fail(self != NULL, TRUE);
	return json_object_get_size(json_node_get_object(self->root)) == 0;
}

gboolean
kl_mb_refstate_has_secureboot(KlMbRefstate *self)
{
	JsonObject *object = NULL;
	g_return_val_if_fail(self != NULL, TRUE);
	object = json_node_get_object(self->root);
	/* upstream's default when the member is absent */
	if (!json_object_has_member(object, "has_secureboot"))
		return TRUE;
	return json_object_get_boolean_member(object, "has_secureboot");
}

JsonObject *
kl_mb_refstate_get_object(KlMbRefstate *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return json_node_get_object(self->root);
}

gchar *
kl_mb_refstate_to_json(KlMbRefstate *self, gboolean pretty)
{
	g_return_val_if_fail(self != NULL, NULL);
	return kl_json_node_to_string(self->root, pretty);
}

gchar *
kl_mb_regex_escape(const gchar *text)
{
	/* Python 3.7+ escapes exactly these; everything else stays */
	const gchar *special = "()[]{}?*+-|^$\\.&~# \t\n\r\v\f";
	GString *out = g_string_sized_new(strlen(text) * 2);
	for (const gchar *p = text; *p != '\0'; p++) {
		if (strchr(special, *p) != NULL)
			g_string_append_c(out, '\\');
		g_string_append_c(out, *p);
	}
	return g_string_free(out, FALSE);
}

/* --- extraction from the events ------------------------------------------ */

typedef struct {
	JsonObject *object;
	gint64 number;
	gint64 pcr;
	const gchar *type;
	JsonNode *event; /* "Event", may be NULL */
} KlMbLogEvent;

static gboolean
kl_mb_log_event_init(KlMbLogEvent *ev, JsonNode *node, guint index, GError **error)
{
	memset(ev, 0, sizeof(*ev));
	if (!JSON_NODE_HOLDS_OBJECT(node)) {
		g_set_error(error,
			    KL_MB_ERROR,
			    KL_MB_ERROR_INVALID_LOG,
			    "events[%u] is not an object",
			    index);
		return FALSE;
	}
	ev->object = json_node_get_object(node);
	if (!kl_json_object_get_int(ev->object, "EventNum", 0, G_MAXUINT32, &ev->number, error) ||
	    !kl_json_object_get_int(ev->object, "PCRIndex", 0, G_MAXUINT32, &ev->pcr, error) ||
	    !kl_json_object_get_string(ev->object, "EventType", &ev->type, error)) {
		g_prefix_error(error, "events[%u]: ", index);
		return FALSE;
	}
	ev->event = json_object_get_member(ev->object, "Event");
	return TRUE;
}

/* a string member of the decoded "Event"; NULL if it has none */
static const gchar *
kl_mb_log_event_get_string(KlMbLogEvent *ev, const gchar *member)
{
	JsonNode *node = NULL;
	if (ev->event == NULL || !JSON_NODE_HOLDS_OBJECT(ev->event))
		return NULL;
	node = json_object_get_member(json_node_get_object(ev->event), member);
	if (node == NULL || json_node_get_value_type(node) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string(node);
}

static JsonNode *
kl_mb_log_event_get_variable_data(KlMbLogEvent *ev)
{
	if (ev->event == NULL || !JSON_NODE_HOLDS_OBJECT(ev->event))
		return NULL;
	return json_object_get_member(json_node_get_object(ev->event), "VariableData");
}

/* "0x<sha256 hex>" of the event; upstream writes {} when there is none */
static gchar *
kl_mb_log_event_sha256(KlMbLogEvent *ev)
{
	JsonNode *digests = json_object_get_member(ev->object, "Digests");
	JsonArray *array = NULL;
	if (digests == NULL || !JSON_NODE_HOLDS_ARRAY(digests))
		return NULL;
	array = json_node_get_array(digests);
	for (guint i = 0; i < json_array_get_length(array); i++) {
		JsonNode *node = json_array_get_element(array, i);
		JsonObject *digest = NULL;
		if (!JSON_NODE_HOLDS_OBJECT(node))
			continue;
		digest = json_node_get_object(node);
		if (g_strcmp0(json_object_get_string_member_with_default(digest, "AlgorithmId", ""),
			      "sha256") != 0)
			continue;
		return g_strdup_printf(
			"0x%s",
			json_object_get_string_member_with_default(digest, "Digest", ""));
	}
	return NULL;
}

static JsonNode *
kl_mb_log_event_sha256_digest(KlMbLogEvent *ev)
{
	g_autofree gchar *hex = kl_mb_log_event_sha256(ev);
	g_autoptr(JsonObject) object = json_object_new();
	if (hex != NULL)
		json_object_set_string_member(object, "sha256", hex);
	return json_node_init_object(json_node_alloc(), object);
}

static JsonObject *
kl_mb_sig_new(JsonObject *key)
{
	JsonObject *sig = json_object_new();
	g_autofree gchar *data = g_strdup_printf(
		"0x%s",
		json_object_get_string_member_with_default(key, "SignatureData", ""));
	json_object_set_string_member(
		sig,
		"SignatureOwner",
		json_object_get_string_member_with_default(key, "SignatureOwner", ""));
	json_object_set_string_member(sig, "SignatureData", data);
	return sig;
}

/* VariableData as signature lists ({SignatureType, Keys}) or bare
 * signatures ({SignatureOwner, SignatureData}) → refstate keys */
static JsonArray *
kl_mb_sigs_from_variable_data(JsonNode *data)
{
	JsonArray *out = json_array_new();
	JsonArray *lists = NULL;

	if (data == NULL)
		return out;
	if (JSON_NODE_HOLDS_OBJECT(data)) {
		JsonObject *one = json_node_get_object(data);
		if (json_object_has_member(one, "SignatureOwner"))
			json_array_add_object_element(out, kl_mb_sig_new(one));
		return out;
	}
	if (!JSON_NODE_HOLDS_ARRAY(data))
		return out;
	lists = json_node_get_array(data);
	for (guint i = 0; i < json_array_get_length(lists); i++) {
		JsonNode *node = json_array_get_element(lists, i);
		JsonObject *entry = NULL;
		JsonNode *keys = NULL;
		if (!JSON_NODE_HOLDS_OBJECT(node))
			continue;
		entry = json_node_get_object(node);
		if (json_object_has_member(entry, "SignatureOwner")) {
			json_array_add_object_element(out, kl_mb_sig_new(entry));
			continue;
		}
		keys = json_object_get_member(entry, "Keys");
		if (keys == NULL || !JSON_NODE_HOLDS_ARRAY(keys))
			continue;
		for (guint j = 0; j < json_array_get_length(json_node_get_array(keys)); j++) {
			JsonNode *key = json_array_get_element(json_node_get_array(keys), j);
			if (JSON_NODE_HOLDS_OBJECT(key))
				json_array_add_object_element(
					out,
					kl_mb_sig_new(json_node_get_object(key)));
		}
	}
	return out;
}

static gboolean
kl_mb_refstate_secureboot_from_events(GArray *evs, gboolean *enabled, GError **error)
{
	for (guint i = 0; i < evs->len; i++) {
		KlMbLogEvent *ev = &g_array_index(evs, KlMbLogEvent, i);
		JsonNode *data = NULL;
		if (g_strcmp0(ev->type, "EV_EFI_VARIABLE_DRIVER_CONFIG") != 0 ||
		    g_strcmp0(kl_mb_log_event_get_string(ev, "UnicodeName"), "SecureBoot") != 0)
			continue;
		data = kl_mb_log_event_get_variable_data(ev);
		*enabled = data != NULL && JSON_NODE_HOLDS_OBJECT(data) &&
			   g_strcmp0(json_object_get_string_member_with_default(
					     json_node_get_object(data),
					     "Enabled",
					     ""),
				     "Yes") == 0;
		return TRUE;
	}
	g_set_error_literal(
		error,
		KL_MB_ERROR,
		KL_MB_ERROR_INVALID_LOG,
		"the Secure Boot state could not be determined: no SecureBoot variable");
	return FALSE;
}

static JsonObject *
kl_mb_refstate_scrtm_and_bios(GArray *evs)
{
	JsonObject *entry = json_object_new();
	JsonArray *firmware = json_array_new();

	for (guint i = 0; i < evs->len; i++) {
		KlMbLogEvent *ev = &g_array_index(evs, KlMbLogEvent, i);
		if (g_strcmp0(ev->type, "EV_S_CRTM_VERSION") == 0 &&
		    !json_object_has_member(entry, "scrtm"))
			json_object_set_member(entry, "scrtm", kl_mb_log_event_sha256_digest(ev));
		if (g_strcmp0(ev->type, "EV_EFI_PLATFORM_FIRMWARE_BLOB") == 0 ||
		    g_strcmp0(ev->type, "EV_EFI_PLATFORM_FIRMWARE_BLOB2") == 0)
			json_array_add_element(firmware, kl_mb_log_event_sha256_digest(ev));
	}
	json_object_set_array_member(entry, "platform_firmware", firmware);
	return entry;
}

static void
kl_mb_refstate_add_keys(JsonObject *refstate, GArray *evs)
{
	const gchar *names[] = {"pk", "kek", "db", "dbx"};

	for (guint j = 0; j < G_N_ELEMENTS(names); j++)
		json_object_set_array_member(refstate, names[j], json_array_new());
	json_object_set_array_member(refstate, "vendor_db", json_array_new());
	for (guint i = 0; i < evs->len; i++) {
		KlMbLogEvent *ev = &g_array_index(evs, KlMbLogEvent, i);
		const gchar *name = kl_mb_log_event_get_string(ev, "UnicodeName");
		g_autofree gchar *lower = NULL;
		JsonNode *data = kl_mb_log_event_get_variable_data(ev);

		if (name == NULL)
			continue;
		lower = g_ascii_strdown(name, -1);
		if (g_strcmp0(ev->type, "EV_EFI_VARIABLE_AUTHORITY") == 0 &&
		    g_strcmp0(lower, "vendor_db") == 0) {
			JsonArray *have = json_object_get_array_member(refstate, "vendor_db");
			g_autoptr(JsonArray) sigs = kl_mb_sigs_from_variable_data(data);
			for (guint k = 0; k < json_array_get_length(sigs); k++)
				json_array_add_element(
					have,
					json_node_copy(json_array_get_element(sigs, k)));
			continue;
		}
		if (g_strcmp0(ev->type, "EV_EFI_VARIABLE_DRIVER_CONFIG") != 0)
			continue;
		for (guint j = 0; j < G_N_ELEMENTS(names); j++) {
			/* the last event of a name wins, as upstream's dict update; a
			 * null VariableData keeps what was there */
			if (g_strcmp0(lower, names[j]) != 0 || data == NULL ||
			    JSON_NODE_HOLDS_NULL(data))
				continue;
			json_object_set_array_member(refstate,
						     names[j],
						     kl_mb_sigs_from_variable_data(data));
		}
	}
}

static void
kl_mb_refstate_add_mok(JsonObject *refstate, GArray *evs)
{
	JsonArray *mokdig = json_array_new();
	JsonArray *mokxdig = json_array_new();

	for (guint i = 0; i < evs->len; i++) {
		KlMbLogEvent *ev = &g_array_index(evs, KlMbLogEvent, i);
		const gchar *str = NULL;
		if (g_strcmp0(ev->type, "EV_IPL") != 0)
			continue;
		str = kl_mb_log_event_get_string(ev, "String");
		if (g_strcmp0(str, "MokList") == 0)
			json_array_add_element(mokdig, kl_mb_log_event_sha256_digest(ev));
		else if (g_strcmp0(str, "MokListX") == 0)
			json_array_add_element(mokxdig, kl_mb_log_event_sha256_digest(ev));
	}
	json_object_set_array_member(refstate, "mokdig", mokdig);
	json_object_set_array_member(refstate, "mokxdig", mokxdig);
}

/* the first PCR @pcr EV_IPL whose String contains one of @needles */
static KlMbLogEvent *
kl_mb_refstate_find_ipl(GArray *evs, gint64 pcr, const gchar *const *needles)
{
	for (guint i = 0; i < evs->len; i++) {
		KlMbLogEvent *ev = &g_array_index(evs, KlMbLogEvent, i);
		const gchar *str = NULL;
		if (g_strcmp0(ev->type, "EV_IPL") != 0 || ev->pcr != pcr)
			continue;
		str = kl_mb_log_event_get_string(ev, "String");
		if (str == NULL)
			continue;
		for (guint j = 0; needles[j] != NULL; j++) {
			if (strstr(str, needles[j]) != NULL)
				return ev;
		}
	}
	return NULL;
}

static gboolean
kl_mb_refstate_set_sha256(JsonObject *kernel, const gchar *member, KlMbLogEvent *ev, GError **error)
{
	g_autofree gchar *hex = kl_mb_log_event_sha256(ev);
	if (hex == NULL) {
		g_set_error(error,
			    KL_MB_ERROR,
			    KL_MB_ERROR_INVALID_LOG,
			    "event %" G_GINT64_FORMAT " (%s) has no sha256 digest for %s",
			    ev->number,
			    ev->type,
			    member);
		return FALSE;
	}
	json_object_set_string_member(kernel, member, hex);
	return TRUE;
}

static JsonObject *
kl_mb_refstate_kernel(GArray *evs, gboolean secure_boot, GError **error)
{
	const gchar *const initrd[] = {"initrd", "initramfs", NULL};
	const gchar *const vmlinuz[] = {"vmlinuz", NULL};
	const gchar *const cmdline[] = {"kernel_cmdline", NULL};
	const gchar *fv_app = "^FvVol\\(\\w{8}-\\w{4}-\\w{4}-\\w{4}-\\w{12}\\)/"
			      "FvFile\\(\\w{8}-\\w{4}-\\w{4}-\\w{4}-\\w{12}\\)";
	g_autoptr(GRegex) fv_regex = g_regex_new(fv_app, G_REGEX_OPTIMIZE, 0, NULL);
	g_autoptr(JsonObject) kernel = json_object_new();
	g_autoptr(GPtrArray) apps = g_ptr_array_new();
	KlMbLogEvent *ev = NULL;

	for (guint i = 0; i < evs->len; i++) {
		KlMbLogEvent *app = &g_array_index(evs, KlMbLogEvent, i);
		const gchar *path = NULL;
		if (g_strcmp0(app->type, "EV_EFI_BOOT_SERVICES_APPLICATION") != 0)
			continue;
		/* firmware's own applications (boot menu ...): no reference values */
		path = kl_mb_log_event_get_string(app, "DevicePath");
		if (path != NULL && g_regex_match(fv_regex, path, 0, NULL))
			continue;
		g_ptr_array_add(apps, app);
	}
	if (secure_boot ? (apps->len != 3 && apps->len != 4) : apps->len != 2) {
		g_set_error(error,
			    KL_MB_ERROR,
			    KL_MB_ERROR_INVALID_LOG,
			    "expected %s UEFI applications to be booted (%s), the log has %u",
			    secure_boot ? "3 or 4" : "2",
			    secure_boot ? "shim, GRUB, Linux" : "shim, GRUB",
			    apps->len);
		return NULL;
	}
	if (!kl_mb_refstate_set_sha256(kernel, "shim_authcode_sha256", apps->pdata[0], error) ||
	    !kl_mb_refstate_set_sha256(kernel, "grub_authcode_sha256", apps->pdata[1], error))
		return NULL;
	if (secure_boot &&
	    !kl_mb_refstate_set_sha256(kernel, "kernel_authcode_sha256", apps->pdata[2], error))
		return NULL;
	ev = kl_mb_refstate_find_ipl(evs, 9, initrd);
	if (ev != NULL && !kl_mb_refstate_set_sha256(kernel, "initrd_plain_sha256", ev, error))
		return NULL;
	if (!secure_boot) {
		ev = kl_mb_refstate_find_ipl(evs, 9, vmlinuz);
		if (ev != NULL &&
		    !kl_mb_refstate_set_sha256(kernel, "vmlinuz_plain_sha256", ev, error))
			return NULL;
	}
	ev = kl_mb_refstate_find_ipl(evs, 8, cmdline);
	if (ev != NULL) {
		const gchar *str = kl_mb_log_event_get_string(ev, "String");
		const gchar *prefix = "kernel_cmdline: ";
		/* upstream cuts the prefix's length whatever the string holds */
		g_autofree gchar *escaped = kl_mb_regex_escape(
			strlen(str) > strlen(prefix) ? str + strlen(prefix) : "");
		json_object_set_string_member(kernel, "kernel_cmdline", escaped);
	}
	return g_steal_pointer(&kernel);
}

KlMbRefstate *
kl_mb_refstate_new_from_events(JsonArray *events,
			       gboolean without_secureboot,
			       GPtrArray *warnings,
			       GError **error)
{
	g_autoptr(GArray) evs = g_array_new(FALSE, TRUE, sizeof(KlMbLogEvent));
	g_autoptr(JsonObject) refstate = json_object_new();
	g_autoptr(JsonArray) scrtm_and_bios = json_array_new();
	g_autoptr(JsonArray) kernels = json_array_new();
	JsonObject *kernel = NULL;
	KlMbRefstate *self = NULL;
	gboolean secure_boot = FALSE;

	g_return_val_if_fail(events != NULL, NULL);

	if (json_array_get_length(events) == 0) {
		g_set_error_literal(error,
				    KL_MB_ERROR,
				    KL_MB_ERROR_INVALID_LOG,
				    "no events found in the boot log");
		return NULL;
	}
	for (guint i = 0; i < json_array_get_length(events); i++) {
		KlMbLogEvent ev;
		if (!kl_mb_log_event_init(&ev, json_array_get_element(events, i), i, error))
			return NULL;
		g_array_append_val(evs, ev);
	}
	if (!kl_mb_refstate_secureboot_from_events(evs, &secure_boot, error))
		return NULL;
	if (!secure_boot && !without_secureboot) {
		g_set_error_literal(error,
				    KL_MB_ERROR,
				    KL_MB_ERROR_SECUREBOOT,
				    "the event log has Secure Boot disabled, but -i "
				    "(--without-secureboot) was not given");
		return NULL;
	}
	if (secure_boot && without_secureboot && warnings != NULL)
		g_ptr_array_add(warnings,
				g_strdup("-i/--without-secureboot was given, but the event log has "
					 "Secure Boot enabled: ignoring it"));

	json_object_set_boolean_member(refstate, "has_secureboot", secure_boot);
	json_array_add_object_element(scrtm_and_bios, kl_mb_refstate_scrtm_and_bios(evs));
	json_object_set_array_member(refstate, "scrtm_and_bios", json_array_ref(scrtm_and_bios));
	kl_mb_refstate_add_keys(refstate, evs);
	kl_mb_refstate_add_mok(refstate, evs);
	kernel = kl_mb_refstate_kernel(evs, secure_boot, error);
	if (kernel == NULL)
		return NULL;
	json_array_add_object_element(kernels, kernel);
	json_object_set_array_member(refstate, "kernels", json_array_ref(kernels));
	/* not validated: upstream writes what the log has, even without an S-CRTM */
	self = g_new0(KlMbRefstate, 1);
	self->root = json_node_init_object(json_node_alloc(), refstate);
	return self;
}
