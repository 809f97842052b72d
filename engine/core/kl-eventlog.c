/*
 * kl-eventlog: the TCG PC Client crypto-agile event log parsed natively
 * (instead of upstream's tpm2_eventlog call), its event data decoded into
 * the forms Keylime's boot policies read, and every bank replayed.
 *
 * All reads go through a bounded reader whose errors name the event, the
 * absolute byte offset and the field: the log is attacker-controlled.
 */
#define G_LOG_DOMAIN "KlCore"

#include "config.h"

#include <string.h>

#include "kl-eventlog.h"

GQuark
kl_eventlog_error_quark(void)
{
	return g_quark_from_static_string("kl-eventlog-error-quark");
}

/* bounds: the Spec ID event may list at most this many banks */
#define KL_EVENTLOG_MAX_ALGS 16
/* a device path rendered as text is never longer than this many nodes */
#define KL_EVENTLOG_MAX_PATH_NODES 64

struct _KlEventLog {
	GPtrArray *events; /* KlEvent */
	GArray *algs;	   /* TPM2_ALG_ID, Spec ID order */
	GArray *sizes;	   /* guint16 digest sizes, same order */
	GPtrArray *banks;  /* KlPcrBank replayed, for the algorithms we can hash */
	guint8 locality;
};

/* ---- bounded reader ---- */

typedef struct {
	const guint8 *data; /* the whole log: offsets in messages are absolute */
	gsize pos;
	gsize end;
	guint event;
} KlReader;

static void
kl_reader_init_sub(KlReader *sub, const KlReader *parent, gsize start, gsize len)
{
	sub->data = parent->data;
	sub->pos = start;
	sub->end = start + len;
	sub->event = parent->event;
}

static gsize
kl_reader_left(const KlReader *r)
{
	return r->end - r->pos;
}

static gboolean
kl_reader_take(KlReader *r, const gchar *field, gsize len, const guint8 **out, GError **error)
{
	if (len > kl_reader_left(r)) {
		g_set_error(error,
			    KL_EVENTLOG_ERROR,
			    KL_EVENTLOG_ERROR_INVALID_DATA,
			    "event %u at offset 0x%" G_GSIZE_MODIFIER "x: %s needs %" G_GSIZE_FORMAT
			    " bytes but only %" G_GSIZE_FORMAT " are left",
			    r->event,
			    r->pos,
			    field,
			    len,
			    kl_reader_left(r));
		return FALSE;
	}
	*out = r->data + r->pos;
	r->pos += len;
	return TRUE;
}

static gboolean
kl_reader_u8(KlReader *r, const gchar *field, guint8 *value, GError **error)
{
	const guint8 *p = NULL;
	if (!kl_reader_take(r, field, 1, &p, error))
		return FALSE;
	*value = p[0];
	return TRUE;
}

static gboolean
kl_reader_u16(KlReader *r, const gchar *field, guint16 *value, GError **error)
{
	const guint8 *p = NULL;
	if (!kl_reader_take(r, field, 2, &p, error))
		return FALSE;
	*value = (guint16)(p[0] | (p[1] << 8));
	return TRUE;
}

static gboolean
kl_reader_u32(KlReader *r, const gchar *field, guint32 *value, GError **error)
{
	const guint8 *p = NULL;
	if (!kl_reader_take(r, field, 4, &p, error))
		return FALSE;
	*value = (guint32)p[0] | ((guint32)p[1] << 8) | ((guint32)p[2] << 16) |
		 ((guint32)p[3] << 24);
	return TRUE;
}

static gboolean
kl_reader_u64(KlReader *r, const gchar *field, guint64 *value, GError **error)
{
	guint32 lo = 0;
	guint32 hi = 0;
	if (!kl_reader_u32(r, field, &lo, error) || !kl_reader_u32(r, field, &hi, error))
		return FALSE;
	*value = ((guint64)hi << 32) | lo;
	return TRUE;
}

static gboolean
kl_reader_guid(KlReader *r, const gchar *field, gchar **guid, GError **error)
{
	const guint8 *p = NULL;
	if (!kl_reader_take(r, field, 16, &p, error))
		return FALSE;
	*guid = kl_efi_guid_to_string(p);
	return TRUE;
}

/* a count of @unit-byte items that must fit in what is left */
static gboolean
kl_reader_check_count(KlReader *r,
		      const gchar *field,
		      guint64 count,
		      gsize unit,
		      gsize field_offset,
		      GError **error)
{
	if (count > kl_reader_left(r) / unit) {
		g_set_error(error,
			    KL_EVENTLOG_ERROR,
			    KL_EVENTLOG_ERROR_INVALID_DATA,
			    "event %u at offset 0x%" G_GSIZE_MODIFIER "x: %s %" G_GUINT64_FORMAT
			    " exceeds the %" G_GSIZE_FORMAT " bytes left",
			    r->event,
			    field_offset,
			    field,
			    count,
			    kl_reader_left(r));
		return FALSE;
	}
	return TRUE;
}

static gboolean
kl_reader_check_end(KlReader *r, const gchar *what, GError **error)
{
	if (kl_reader_left(r) != 0) {
		g_set_error(error,
			    KL_EVENTLOG_ERROR,
			    KL_EVENTLOG_ERROR_INVALID_DATA,
			    "event %u at offset 0x%" G_GSIZE_MODIFIER "x: %" G_GSIZE_FORMAT
			    " trailing bytes after %s",
			    r->event,
			    r->pos,
			    kl_reader_left(r),
			    what);
		return FALSE;
	}
	return TRUE;
}

/* ---- names and text ---- */

static const struct {
	guint32 type;
	const gchar *name;
} kl_event_types[] = {
	{KL_EV_PREBOOT_CERT, "EV_PREBOOT_CERT"},
	{KL_EV_POST_CODE, "EV_POST_CODE"},
	{KL_EV_UNUSED, "EV_UNUSED"},
	{KL_EV_NO_ACTION, "EV_NO_ACTION"},
	{KL_EV_SEPARATOR, "EV_SEPARATOR"},
	{KL_EV_ACTION, "EV_ACTION"},
	{KL_EV_EVENT_TAG, "EV_EVENT_TAG"},
	{KL_EV_S_CRTM_CONTENTS, "EV_S_CRTM_CONTENTS"},
	{KL_EV_S_CRTM_VERSION, "EV_S_CRTM_VERSION"},
	{KL_EV_CPU_MICROCODE, "EV_CPU_MICROCODE"},
	{KL_EV_PLATFORM_CONFIG_FLAGS, "EV_PLATFORM_CONFIG_FLAGS"},
	{KL_EV_TABLE_OF_DEVICES, "EV_TABLE_OF_DEVICES"},
	{KL_EV_COMPACT_HASH, "EV_COMPACT_HASH"},
	{KL_EV_IPL, "EV_IPL"},
	{KL_EV_IPL_PARTITION_DATA, "EV_IPL_PARTITION_DATA"},
	{KL_EV_NONHOST_CODE, "EV_NONHOST_CODE"},
	{KL_EV_NONHOST_CONFIG, "EV_NONHOST_CONFIG"},
	{KL_EV_NONHOST_INFO, "EV_NONHOST_INFO"},
	{KL_EV_OMIT_BOOT_DEVICE_EVENTS, "EV_OMIT_BOOT_DEVICE_EVENTS"},
	{KL_EV_EFI_EVENT_BASE, "EV_EFI_EVENT_BASE"},
	{KL_EV_EFI_VARIABLE_DRIVER_CONFIG, "EV_EFI_VARIABLE_DRIVER_CONFIG"},
	{KL_EV_EFI_VARIABLE_BOOT, "EV_EFI_VARIABLE_BOOT"},
	{KL_EV_EFI_BOOT_SERVICES_APPLICATION, "EV_EFI_BOOT_SERVICES_APPLICATION"},
	{KL_EV_EFI_BOOT_SERVICES_DRIVER, "EV_EFI_BOOT_SERVICES_DRIVER"},
	{KL_EV_EFI_RUNTIME_SERVICES_DRIVER, "EV_EFI_RUNTIME_SERVICES_DRIVER"},
	{KL_EV_EFI_GPT_EVENT, "EV_EFI_GPT_EVENT"},
	{KL_EV_EFI_ACTION, "EV_EFI_ACTION"},
	{KL_EV_EFI_PLATFORM_FIRMWARE_BLOB, "EV_EFI_PLATFORM_FIRMWARE_BLOB"},
	{KL_EV_EFI_HANDOFF_TABLES, "EV_EFI_HANDOFF_TABLES"},
	{KL_EV_EFI_PLATFORM_FIRMWARE_BLOB2, "EV_EFI_PLATFORM_FIRMWARE_BLOB2"},
	{KL_EV_EFI_HANDOFF_TABLES2, "EV_EFI_HANDOFF_TABLES2"},
	{KL_EV_EFI_VARIABLE_BOOT2, "EV_EFI_VARIABLE_BOOT2"},
	{KL_EV_EFI_HCRTM_EVENT, "EV_EFI_HCRTM_EVENT"},
	{KL_EV_EFI_VARIABLE_AUTHORITY, "EV_EFI_VARIABLE_AUTHORITY"},
	{KL_EV_EFI_SPDM_FIRMWARE_BLOB, "EV_EFI_SPDM_FIRMWARE_BLOB"},
	{KL_EV_EFI_SPDM_FIRMWARE_CONFIG, "EV_EFI_SPDM_FIRMWARE_CONFIG"},
};

const gchar *
kl_event_type_to_string(guint32 type)
{
	for (guint i = 0; i < G_N_ELEMENTS(kl_event_types); i++) {
		if (kl_event_types[i].type == type)
			return kl_event_types[i].name;
	}
	return NULL;
}

/* EFI_GUID is {u32, u16, u16, u8[8]} little-endian: the first three
 * fields are printed byte-swapped, the last eight bytes in order. */
gchar *
kl_efi_guid_to_string(const guint8 guid[16])
{
	return g_strdup_printf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
			       "%02x%02x%02x%02x%02x%02x",
			       guid[3],
			       guid[2],
			       guid[1],
			       guid[0],
			       guid[5],
			       guid[4],
			       guid[7],
			       guid[6],
			       guid[8],
			       guid[9],
			       guid[10],
			       guid[11],
			       guid[12],
			       guid[13],
			       guid[14],
			       guid[15]);
}

/* UTF-16LE of @n_units code units to UTF-8; trailing NULs dropped */
static gchar *
kl_eventlog_utf16_to_utf8(const guint8 *data, gsize n_units)
{
	g_autofree gunichar2 *units = g_new0(gunichar2, n_units + 1);

	for (gsize i = 0; i < n_units; i++)
		units[i] = (gunichar2)(data[2 * i] | (data[2 * i + 1] << 8));
	while (n_units > 0 && units[n_units - 1] == 0)
		n_units--;
	return g_utf16_to_utf8(units, (glong)n_units, NULL, NULL, NULL);
}

/* bytes as text: up to the first NUL, invalid UTF-8 replaced */
static gchar *
kl_eventlog_bytes_to_string(const guint8 *data, gsize len)
{
	const guint8 *nul;

	/* an empty event has no data pointer at all */
	if (len == 0)
		return g_strdup("");
	nul = memchr(data, 0, len);
	if (nul != NULL)
		len = (gsize)(nul - data);
	return g_utf8_make_valid((const gchar *)data, (gssize)len);
}

static JsonNode *
kl_json_string_node(const gchar *value)
{
	JsonNode *node = json_node_new(JSON_NODE_VALUE);
	json_node_set_string(node, value);
	return node;
}

static JsonNode *
kl_json_hex_node(const guint8 *data, gsize len)
{
	g_autofree gchar *hex = kl_crypto_hex_encode(data, len);
	return kl_json_string_node(hex);
}

static JsonNode *
kl_json_object_node(JsonObject *object)
{
	JsonNode *node = json_node_new(JSON_NODE_OBJECT);
	json_node_take_object(node, object);
	return node;
}

static JsonNode *
kl_json_array_node(JsonArray *array)
{
	JsonNode *node = json_node_new(JSON_NODE_ARRAY);
	json_node_take_array(node, array);
	return node;
}

/* ---- data model ---- */

static void
kl_event_digest_free(KlEventDigest *self)
{
	if (self == NULL)
		return;
	g_bytes_unref(self->digest);
	g_free(self);
}

static void
kl_efi_signature_free(KlEfiSignature *self)
{
	if (self == NULL)
		return;
	g_free(self->signature_type);
	g_free(self->owner);
	if (self->data != NULL)
		g_bytes_unref(self->data);
	g_free(self);
}

static void
kl_efi_variable_free(KlEfiVariable *self)
{
	if (self == NULL)
		return;
	g_free(self->guid);
	g_free(self->name);
	if (self->data != NULL)
		g_bytes_unref(self->data);
	if (self->signatures != NULL)
		g_ptr_array_unref(self->signatures);
	g_free(self);
}

static void
kl_efi_image_load_free(KlEfiImageLoad *self)
{
	if (self == NULL)
		return;
	g_free(self->device_path);
	g_free(self);
}

static void
kl_event_free(KlEvent *self)
{
	if (self == NULL)
		return;
	if (self->digests != NULL)
		g_ptr_array_unref(self->digests);
	if (self->data != NULL)
		g_bytes_unref(self->data);
	g_free(self->string);
	kl_efi_variable_free(self->variable);
	kl_efi_image_load_free(self->image);
	if (self->event != NULL)
		json_node_unref(self->event);
	g_free(self);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlEvent, kl_event_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlEventDigest, kl_event_digest_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlEfiSignature, kl_efi_signature_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlEfiVariable, kl_efi_variable_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlEfiImageLoad, kl_efi_image_load_free)

void
kl_eventlog_free(KlEventLog *self)
{
	if (self == NULL)
		return;
	g_ptr_array_unref(self->events);
	g_array_unref(self->algs);
	g_array_unref(self->sizes);
	g_ptr_array_unref(self->banks);
	g_free(self);
}

GBytes *
kl_event_get_digest(const KlEvent *event, TPM2_ALG_ID alg)
{
	g_return_val_if_fail(event != NULL, NULL);
	for (guint i = 0; i < event->digests->len; i++) {
		KlEventDigest *digest = g_ptr_array_index(event->digests, i);
		if (digest->alg == alg)
			return digest->digest;
	}
	return NULL;
}

/* ---- EFI signature lists ---- */

static JsonObject *
kl_efi_signature_to_json(const KlEfiSignature *sig)
{
	JsonObject *object = json_object_new();
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(sig->data, &len);
	json_object_set_string_member(object, "SignatureOwner", sig->owner);
	json_object_set_member(object, "SignatureData", kl_json_hex_node(data, len));
	return object;
}

/* EFI_SIGNATURE_LIST[]: @signatures gets every EFI_SIGNATURE_DATA,
 * @json the tpm2_eventlog form [{SignatureType, ..., Keys: [...]}]. */
static gboolean
kl_eventlog_parse_signature_lists(KlReader *r,
				  GPtrArray *signatures,
				  JsonArray *json,
				  GError **error)
{
	while (kl_reader_left(r) > 0) {
		gsize list_offset = r->pos;
		g_autofree gchar *type = NULL;
		guint32 list_size = 0;
		guint32 header_size = 0;
		guint32 sig_size = 0;
		const guint8 *skip = NULL;
		KlReader body;
		JsonObject *list_json;
		JsonArray *keys;

		if (!kl_reader_guid(r, "SignatureType", &type, error) ||
		    !kl_reader_u32(r, "SignatureListSize", &list_size, error) ||
		    !kl_reader_u32(r, "SignatureHeaderSize", &header_size, error) ||
		    !kl_reader_u32(r, "SignatureSize", &sig_size, error))
			return FALSE;
		if (list_size < 28 || list_size - 28 > kl_reader_left(r)) {
			g_set_error(error,
				    KL_EVENTLOG_ERROR,
				    KL_EVENTLOG_ERROR_INVALID_DATA,
				    "event %u at offset 0x%" G_GSIZE_MODIFIER
				    "x: SignatureListSize %u does not fit the %" G_GSIZE_FORMAT
				    " bytes of the list",
				    r->event,
				    list_offset + 16,
				    list_size,
				    kl_reader_left(r) + 28);
			return FALSE;
		}
		kl_reader_init_sub(&body, r, r->pos, list_size - 28);
		r->pos += list_size - 28;
		if (!kl_reader_take(&body, "SignatureHeader", header_size, &skip, error))
			return FALSE;
		if (sig_size < 16 || kl_reader_left(&body) % sig_size != 0) {
			g_set_error(error,
				    KL_EVENTLOG_ERROR,
				    KL_EVENTLOG_ERROR_INVALID_DATA,
				    "event %u at offset 0x%" G_GSIZE_MODIFIER
				    "x: SignatureSize %u does not divide the %" G_GSIZE_FORMAT
				    " bytes of signatures",
				    r->event,
				    list_offset + 24,
				    sig_size,
				    kl_reader_left(&body));
			return FALSE;
		}
		list_json = json_object_new();
		keys = json_array_new();
		json_object_set_string_member(list_json, "SignatureType", type);
		json_object_set_int_member(list_json, "SignatureListSize", list_size);
		json_object_set_int_member(list_json, "SignatureHeaderSize", header_size);
		json_object_set_int_member(list_json, "SignatureSize", sig_size);
		json_object_set_array_member(list_json, "Keys", keys);
		json_array_add_object_element(json, list_json);
		while (kl_reader_left(&body) > 0) {
			g_autoptr(KlEfiSignature) sig = g_new0(KlEfiSignature, 1);
			const guint8 *data = NULL;
			if (!kl_reader_guid(&body, "SignatureOwner", &sig->owner, error) ||
			    !kl_reader_take(&body, "SignatureData", sig_size - 16, &data, error))
				return FALSE;
			sig->signature_type = g_strdup(type);
			sig->data = g_bytes_new(data, sig_size - 16);
			json_array_add_object_element(keys, kl_efi_signature_to_json(sig));
			g_ptr_array_add(signatures, g_steal_pointer(&sig));
		}
	}
	return TRUE;
}

/* ---- EFI variables ---- */

static gboolean
kl_eventlog_variable_has_lists(guint32 type, const gchar *name)
{
	const gchar *always[] = {"MokList", "MokListX", NULL};
	const gchar *config[] = {"PK", "KEK", "db", "dbx", NULL};
	if (g_strv_contains(always, name))
		return TRUE;
	return type == KL_EV_EFI_VARIABLE_DRIVER_CONFIG && g_strv_contains(config, name);
}

/* authority events carry one EFI_SIGNATURE_DATA (the certificate used) */
static gboolean
kl_eventlog_variable_is_authority_signature(guint32 type, const gchar *name)
{
	const gchar *names[] = {"db", "vendor_db", "MokListRT", NULL};
	return type == KL_EV_EFI_VARIABLE_AUTHORITY && g_strv_contains(names, name);
}

static gboolean
kl_eventlog_decode_variable(KlEvent *event, KlReader *r, GError **error)
{
	g_autoptr(KlEfiVariable) var = g_new0(KlEfiVariable, 1);
	g_autoptr(JsonObject) json = json_object_new();
	guint64 name_len = 0;
	guint64 data_len = 0;
	gsize field_offset;
	const guint8 *name = NULL;
	const guint8 *data = NULL;

	var->secure_boot = -1;
	if (!kl_reader_guid(r, "VariableName", &var->guid, error) ||
	    !kl_reader_u64(r, "UnicodeNameLength", &name_len, error))
		return FALSE;
	field_offset = r->pos;
	if (!kl_reader_u64(r, "VariableDataLength", &data_len, error))
		return FALSE;
	if (!kl_reader_check_count(r, "UnicodeNameLength", name_len, 2, field_offset - 8, error))
		return FALSE;
	if (!kl_reader_take(r, "UnicodeName", (gsize)name_len * 2, &name, error))
		return FALSE;
	if (!kl_reader_check_count(r, "VariableDataLength", data_len, 1, field_offset, error))
		return FALSE;
	if (!kl_reader_take(r, "VariableData", (gsize)data_len, &data, error))
		return FALSE;
	if (!kl_reader_check_end(r, "UEFI_VARIABLE_DATA", error))
		return FALSE;
	var->name = kl_eventlog_utf16_to_utf8(name, (gsize)name_len);
	if (var->name == NULL) {
		g_set_error(error,
			    KL_EVENTLOG_ERROR,
			    KL_EVENTLOG_ERROR_INVALID_DATA,
			    "event %u at offset 0x%" G_GSIZE_MODIFIER
			    "x: UnicodeName is not valid UTF-16",
			    r->event,
			    field_offset + 8);
		return FALSE;
	}
	var->data = g_bytes_new(data, (gsize)data_len);

	json_object_set_string_member(json, "VariableName", var->guid);
	json_object_set_int_member(json, "UnicodeNameLength", (gint64)name_len);
	json_object_set_int_member(json, "VariableDataLength", (gint64)data_len);
	json_object_set_string_member(json, "UnicodeName", var->name);
	if (g_strcmp0(var->name, "SecureBoot") == 0 && data_len <= 1) {
		JsonObject *sb = json_object_new();
		var->secure_boot = data_len == 1 && data[0] != 0 ? 1 : 0;
		json_object_set_string_member(sb, "Enabled", var->secure_boot ? "Yes" : "No");
		json_object_set_object_member(json, "VariableData", sb);
	} else if (kl_eventlog_variable_has_lists(event->type, var->name)) {
		KlReader lists;
		JsonArray *array = json_array_new();
		json_object_set_array_member(json, "VariableData", array);
		var->signatures =
			g_ptr_array_new_with_free_func((GDestroyNotify)kl_efi_signature_free);
		kl_reader_init_sub(&lists, r, r->pos - (gsize)data_len, (gsize)data_len);
		if (!kl_eventlog_parse_signature_lists(&lists, var->signatures, array, error))
			return FALSE;
	} else if (kl_eventlog_variable_is_authority_signature(event->type, var->name) &&
		   data_len >= 16) {
		g_autoptr(KlEfiSignature) sig = g_new0(KlEfiSignature, 1);
		JsonArray *array = json_array_new();
		sig->owner = kl_efi_guid_to_string(data);
		sig->data = g_bytes_new(data + 16, (gsize)data_len - 16);
		json_array_add_object_element(array, kl_efi_signature_to_json(sig));
		json_object_set_array_member(json, "VariableData", array);
		var->signatures =
			g_ptr_array_new_with_free_func((GDestroyNotify)kl_efi_signature_free);
		g_ptr_array_add(var->signatures, g_steal_pointer(&sig));
	} else {
		json_object_set_member(json,
				       "VariableData",
				       kl_json_hex_node(data, (gsize)data_len));
	}
	event->decoded = KL_EVENT_DECODED_VARIABLE;
	event->variable = g_steal_pointer(&var);
	event->event = kl_json_object_node(g_steal_pointer(&json));
	return TRUE;
}

/* ---- device paths ---- */

static guint32
kl_le32(const guint8 *p)
{
	return (guint32)p[0] | ((guint32)p[1] << 8) | ((guint32)p[2] << 16) | ((guint32)p[3] << 24);
}

static guint64
kl_le64(const guint8 *p)
{
	return ((guint64)kl_le32(p + 4) << 32) | kl_le32(p);
}

static guint16
kl_le16(const guint8 *p)
{
	return (guint16)(p[0] | (p[1] << 8));
}

/* One node's text, as efivar/EDK2 print them; NULL for unknown nodes. */
static gchar *
kl_eventlog_device_path_node(guint8 type, guint8 subtype, const guint8 *p, gsize len)
{
	if (type == 0x01 && subtype == 0x01 && len >= 2)
		return g_strdup_printf("Pci(0x%x,0x%x)", p[1], p[0]);
	if (type == 0x01 && subtype == 0x04 && len >= 16) {
		g_autofree gchar *guid = kl_efi_guid_to_string(p);
		return g_strdup_printf("VenHw(%s)", guid);
	}
	if (type == 0x02 && subtype == 0x01 && len >= 8) {
		guint32 hid = kl_le32(p);
		guint32 uid = kl_le32(p + 4);
		if (hid == 0x0a0341d0)
			return g_strdup_printf("PciRoot(0x%x)", uid);
		if (hid == 0x0a0841d0)
			return g_strdup_printf("PcieRoot(0x%x)", uid);
		return g_strdup_printf("Acpi(PNP%04x,0x%x)", hid >> 16, uid);
	}
	if (type == 0x03 && subtype == 0x01 && len >= 4)
		return g_strdup_printf("Ata(%u,%u,%u)", p[0], p[1], kl_le16(p + 2));
	if (type == 0x03 && subtype == 0x02 && len >= 4)
		return g_strdup_printf("Scsi(%u,%u)", kl_le16(p), kl_le16(p + 2));
	if (type == 0x03 && subtype == 0x05 && len >= 2)
		return g_strdup_printf("USB(%u,%u)", p[0], p[1]);
	if (type == 0x03 && subtype == 0x0b && len >= 33)
		return g_strdup_printf("MAC(%02x%02x%02x%02x%02x%02x,0x%x)",
				       p[0],
				       p[1],
				       p[2],
				       p[3],
				       p[4],
				       p[5],
				       p[32]);
	if (type == 0x03 && subtype == 0x0a && len >= 16) {
		g_autofree gchar *guid = kl_efi_guid_to_string(p);
		return g_strdup_printf("VenMsg(%s)", guid);
	}
	if (type == 0x03 && subtype == 0x12 && len >= 6)
		return g_strdup_printf("Sata(%u,%u,%u)",
				       kl_le16(p),
				       kl_le16(p + 2),
				       kl_le16(p + 4));
	if (type == 0x03 && subtype == 0x17 && len >= 12)
		return g_strdup_printf("NVMe(0x%x,%02x-%02x-%02x-%02x-%02x-%02x-%02x-%02x)",
				       kl_le32(p),
				       p[4],
				       p[5],
				       p[6],
				       p[7],
				       p[8],
				       p[9],
				       p[10],
				       p[11]);
	if (type == 0x04 && subtype == 0x01 && len >= 38) {
		guint32 part = kl_le32(p);
		guint64 start = kl_le64(p + 4);
		guint64 size = kl_le64(p + 12);
		if (p[37] == 0x02) {
			g_autofree gchar *guid = kl_efi_guid_to_string(p + 20);
			return g_strdup_printf("HD(%u,GPT,%s,0x%" G_GINT64_MODIFIER
					       "x,0x%" G_GINT64_MODIFIER "x)",
					       part,
					       guid,
					       start,
					       size);
		}
		if (p[37] == 0x01)
			return g_strdup_printf("HD(%u,MBR,0x%08x,0x%" G_GINT64_MODIFIER
					       "x,0x%" G_GINT64_MODIFIER "x)",
					       part,
					       kl_le32(p + 20),
					       start,
					       size);
		return NULL;
	}
	if (type == 0x04 && subtype == 0x03 && len >= 16) {
		g_autofree gchar *guid = kl_efi_guid_to_string(p);
		return g_strdup_printf("VenMedia(%s)", guid);
	}
	if (type == 0x04 && subtype == 0x04 && len % 2 == 0)
		return kl_eventlog_utf16_to_utf8(p, len / 2);
	if (type == 0x04 && (subtype == 0x06 || subtype == 0x07) && len >= 16) {
		g_autofree gchar *guid = kl_efi_guid_to_string(p);
		return g_strdup_printf(subtype == 0x06 ? "FvFile(%s)" : "Fv(%s)", guid);
	}
	if (type == 0x04 && subtype == 0x08 && len >= 20)
		return g_strdup_printf("Offset(0x%" G_GINT64_MODIFIER "x,0x%" G_GINT64_MODIFIER
				       "x)",
				       kl_le64(p + 4),
				       kl_le64(p + 12));
	return NULL;
}

/* A device path as text; unknown nodes as Path(type,subtype,hex), a
 * malformed tail as hex (the image digest, not the path, is what counts). */
static gchar *
kl_eventlog_device_path_to_text(const guint8 *data, gsize len)
{
	g_autoptr(GString) text = g_string_new(NULL);
	gsize pos = 0;

	for (guint n = 0; pos < len && n < KL_EVENTLOG_MAX_PATH_NODES; n++) {
		guint8 type;
		guint8 subtype;
		guint16 node_len;
		g_autofree gchar *node = NULL;

		if (len - pos < 4)
			break;
		type = data[pos];
		subtype = data[pos + 1];
		node_len = kl_le16(data + pos + 2);
		if (node_len < 4 || node_len > len - pos)
			break;
		if (type == 0x7f && subtype == 0xff) {
			pos += node_len;
			break;
		}
		if (type == 0x7f) {
			g_string_append_c(text, ',');
			pos += node_len;
			continue;
		}
		node = kl_eventlog_device_path_node(type, subtype, data + pos + 4, node_len - 4u);
		if (node == NULL) {
			g_autofree gchar *hex = kl_crypto_hex_encode(data + pos + 4, node_len - 4u);
			node = g_strdup_printf("Path(%u,%u,%s)", type, subtype, hex);
		}
		if (text->len > 0 && text->str[text->len - 1] != ',')
			g_string_append_c(text, '/');
		g_string_append(text, node);
		pos += node_len;
	}
	if (pos < len) {
		g_autofree gchar *hex = kl_crypto_hex_encode(data + pos, len - pos);
		if (text->len > 0)
			g_string_append_c(text, '/');
		g_string_append(text, hex);
	}
	return g_string_free(g_steal_pointer(&text), FALSE);
}

static gboolean
kl_eventlog_decode_image_load(KlEvent *event, KlReader *r, GError **error)
{
	g_autoptr(KlEfiImageLoad) image = g_new0(KlEfiImageLoad, 1);
	JsonObject *json;
	guint64 path_len = 0;
	gsize field_offset;
	const guint8 *path = NULL;

	if (!kl_reader_u64(r, "ImageLocationInMemory", &image->location, error) ||
	    !kl_reader_u64(r, "ImageLengthInMemory", &image->length, error) ||
	    !kl_reader_u64(r, "ImageLinkTimeAddress", &image->link_time_address, error))
		return FALSE;
	field_offset = r->pos;
	if (!kl_reader_u64(r, "LengthOfDevicePath", &path_len, error) ||
	    !kl_reader_check_count(r, "LengthOfDevicePath", path_len, 1, field_offset, error) ||
	    !kl_reader_take(r, "DevicePath", (gsize)path_len, &path, error) ||
	    !kl_reader_check_end(r, "UEFI_IMAGE_LOAD_EVENT", error))
		return FALSE;
	image->device_path = kl_eventlog_device_path_to_text(path, (gsize)path_len);

	json = json_object_new();
	json_object_set_int_member(json, "ImageLocationInMemory", (gint64)image->location);
	json_object_set_int_member(json, "ImageLengthInMemory", (gint64)image->length);
	json_object_set_int_member(json, "ImageLinkTimeAddress", (gint64)image->link_time_address);
	json_object_set_int_member(json, "LengthOfDevicePath", (gint64)path_len);
	json_object_set_string_member(json, "DevicePath", image->device_path);
	event->decoded = KL_EVENT_DECODED_IMAGE_LOAD;
	event->image = g_steal_pointer(&image);
	event->event = kl_json_object_node(json);
	return TRUE;
}

/* ---- other structured events (JSON only) ---- */

static gboolean
kl_eventlog_read_description(KlReader *r, JsonObject *json, const gchar *prefix, GError **error)
{
	guint8 size = 0;
	const guint8 *desc = NULL;
	g_autofree gchar *size_name = g_strdup_printf("%sDescriptionSize", prefix);
	g_autofree gchar *desc_name = g_strdup_printf("%sDescription", prefix);
	g_autofree gchar *text = NULL;

	if (!kl_reader_u8(r, size_name, &size, error) ||
	    !kl_reader_take(r, desc_name, size, &desc, error))
		return FALSE;
	text = kl_eventlog_bytes_to_string(desc, size);
	json_object_set_int_member(json, size_name, size);
	json_object_set_string_member(json, desc_name, text);
	return TRUE;
}

static gboolean
kl_eventlog_decode_blob(KlEvent *event, KlReader *r, gboolean with_description, GError **error)
{
	g_autoptr(JsonObject) json = json_object_new();
	guint64 base = 0;
	guint64 length = 0;

	if (with_description && !kl_eventlog_read_description(r, json, "Blob", error))
		return FALSE;
	if (!kl_reader_u64(r, "BlobBase", &base, error) ||
	    !kl_reader_u64(r, "BlobLength", &length, error) ||
	    !kl_reader_check_end(r, "UEFI_PLATFORM_FIRMWARE_BLOB", error))
		return FALSE;
	json_object_set_int_member(json, "BlobBase", (gint64)base);
	json_object_set_int_member(json, "BlobLength", (gint64)length);
	event->decoded = KL_EVENT_DECODED_OTHER;
	event->event = kl_json_object_node(g_steal_pointer(&json));
	return TRUE;
}

static gboolean
kl_eventlog_decode_handoff(KlEvent *event, KlReader *r, gboolean with_description, GError **error)
{
	g_autoptr(JsonObject) json = json_object_new();
	JsonArray *tables = json_array_new();
	guint64 count = 0;
	gsize field_offset;

	json_object_set_array_member(json, "TableEntry", tables);
	if (with_description && !kl_eventlog_read_description(r, json, "Table", error))
		return FALSE;
	field_offset = r->pos;
	if (!kl_reader_u64(r, "NumberOfTables", &count, error) ||
	    !kl_reader_check_count(r, "NumberOfTables", count, 24, field_offset, error))
		return FALSE;
	json_object_set_int_member(json, "NumberOfTables", (gint64)count);
	for (guint64 i = 0; i < count; i++) {
		JsonObject *entry = json_object_new();
		g_autofree gchar *guid = NULL;
		guint64 table = 0;
		json_array_add_object_element(tables, entry);
		if (!kl_reader_guid(r, "VendorGuid", &guid, error) ||
		    !kl_reader_u64(r, "VendorTable", &table, error))
			return FALSE;
		json_object_set_string_member(entry, "VendorGuid", guid);
		json_object_set_int_member(entry, "VendorTable", (gint64)table);
	}
	if (!kl_reader_check_end(r, "UEFI_HANDOFF_TABLE_POINTERS", error))
		return FALSE;
	event->decoded = KL_EVENT_DECODED_OTHER;
	event->event = kl_json_object_node(g_steal_pointer(&json));
	return TRUE;
}

static gboolean
kl_eventlog_decode_gpt(KlEvent *event, KlReader *r, GError **error)
{
	g_autoptr(JsonObject) json = json_object_new();
	JsonObject *header = json_object_new();
	JsonArray *parts = json_array_new();
	const guint8 *h = NULL;
	guint32 entry_size;
	guint64 count = 0;
	gsize field_offset;
	g_autofree gchar *disk_guid = NULL;

	json_object_set_object_member(json, "UEFIPartitionHeader", header);
	json_object_set_array_member(json, "Partitions", parts);
	/* UEFI_PARTITION_TABLE_HEADER as logged: always 92 bytes */
	if (!kl_reader_take(r, "UEFIPartitionHeader", 92, &h, error))
		return FALSE;
	entry_size = kl_le32(h + 84);
	disk_guid = kl_efi_guid_to_string(h + 56);
	json_object_set_int_member(header, "Signature", (gint64)kl_le64(h));
	json_object_set_int_member(header, "Revision", kl_le32(h + 8));
	json_object_set_int_member(header, "HeaderSize", kl_le32(h + 12));
	json_object_set_int_member(header, "HeaderCRC32", kl_le32(h + 16));
	json_object_set_int_member(header, "MyLBA", (gint64)kl_le64(h + 24));
	json_object_set_int_member(header, "AlternateLBA", (gint64)kl_le64(h + 32));
	json_object_set_int_member(header, "FirstUsableLBA", (gint64)kl_le64(h + 40));
	json_object_set_int_member(header, "LastUsableLBA", (gint64)kl_le64(h + 48));
	json_object_set_string_member(header, "DiskGUID", disk_guid);
	json_object_set_int_member(header, "PartitionEntryLBA", (gint64)kl_le64(h + 72));
	json_object_set_int_member(header, "NumberOfPartitionEntry", kl_le32(h + 80));
	json_object_set_int_member(header, "SizeOfPartitionEntry", entry_size);
	json_object_set_int_member(header, "PartitionEntryArrayCRC32", kl_le32(h + 88));
	field_offset = r->pos;
	if (!kl_reader_u64(r, "NumberOfPartitions", &count, error))
		return FALSE;
	if (count > 0 && entry_size < 128) {
		g_set_error(error,
			    KL_EVENTLOG_ERROR,
			    KL_EVENTLOG_ERROR_INVALID_DATA,
			    "event %u at offset 0x%" G_GSIZE_MODIFIER
			    "x: SizeOfPartitionEntry %u is below 128",
			    r->event,
			    field_offset - 8,
			    entry_size);
		return FALSE;
	}
	if (count > 0 &&
	    !kl_reader_check_count(r, "NumberOfPartitions", count, entry_size, field_offset, error))
		return FALSE;
	json_object_set_int_member(json, "NumberOfPartitions", (gint64)count);
	for (guint64 i = 0; i < count; i++) {
		JsonObject *part = json_object_new();
		const guint8 *p = NULL;
		g_autofree gchar *type_guid = NULL;
		g_autofree gchar *unique_guid = NULL;
		g_autofree gchar *name = NULL;
		json_array_add_object_element(parts, part);
		if (!kl_reader_take(r, "UEFIPartitionEntry", entry_size, &p, error))
			return FALSE;
		type_guid = kl_efi_guid_to_string(p);
		unique_guid = kl_efi_guid_to_string(p + 16);
		name = kl_eventlog_utf16_to_utf8(p + 56, 36);
		json_object_set_string_member(part, "PartitionTypeGUID", type_guid);
		json_object_set_string_member(part, "UniquePartitionGUID", unique_guid);
		json_object_set_int_member(part, "StartingLBA", (gint64)kl_le64(p + 32));
		json_object_set_int_member(part, "EndingLBA", (gint64)kl_le64(p + 40));
		json_object_set_int_member(part, "Attributes", (gint64)kl_le64(p + 48));
		json_object_set_string_member(part, "PartitionName", name != NULL ? name : "");
	}
	if (!kl_reader_check_end(r, "UEFI_GPT_DATA", error))
		return FALSE;
	event->decoded = KL_EVENT_DECODED_OTHER;
	event->event = kl_json_object_node(g_steal_pointer(&json));
	return TRUE;
}

static void
kl_eventlog_set_string(KlEvent *event, gchar *text, gboolean as_object)
{
	event->decoded = KL_EVENT_DECODED_STRING;
	event->string = text;
	if (as_object) {
		JsonObject *json = json_object_new();
		json_object_set_string_member(json, "String", text);
		event->event = kl_json_object_node(json);
	} else {
		event->event = kl_json_string_node(text);
	}
}

#define KL_STARTUP_LOCALITY "StartupLocality"

/* Decodes @event's data (at @offset in the log); structures the policies
 * read are strict, the rest is kept raw. */
static gboolean
kl_eventlog_decode(KlEvent *event, const KlReader *parent, gsize offset, GError **error)
{
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(event->data, &len);
	KlReader r;

	kl_reader_init_sub(&r, parent, offset, len);
	switch (event->type) {
	case KL_EV_EFI_VARIABLE_DRIVER_CONFIG:
	case KL_EV_EFI_VARIABLE_BOOT:
	case KL_EV_EFI_VARIABLE_BOOT2:
	case KL_EV_EFI_VARIABLE_AUTHORITY:
		return kl_eventlog_decode_variable(event, &r, error);
	case KL_EV_EFI_BOOT_SERVICES_APPLICATION:
	case KL_EV_EFI_BOOT_SERVICES_DRIVER:
	case KL_EV_EFI_RUNTIME_SERVICES_DRIVER:
		return kl_eventlog_decode_image_load(event, &r, error);
	case KL_EV_EFI_GPT_EVENT:
		return kl_eventlog_decode_gpt(event, &r, error);
	case KL_EV_EFI_PLATFORM_FIRMWARE_BLOB:
		return kl_eventlog_decode_blob(event, &r, FALSE, error);
	case KL_EV_EFI_PLATFORM_FIRMWARE_BLOB2:
		return kl_eventlog_decode_blob(event, &r, TRUE, error);
	case KL_EV_EFI_HANDOFF_TABLES:
		return kl_eventlog_decode_handoff(event, &r, FALSE, error);
	case KL_EV_EFI_HANDOFF_TABLES2:
		return kl_eventlog_decode_handoff(event, &r, TRUE, error);
	case KL_EV_IPL:
		kl_eventlog_set_string(event, kl_eventlog_bytes_to_string(data, len), TRUE);
		return TRUE;
	case KL_EV_EFI_ACTION:
	case KL_EV_ACTION:
		kl_eventlog_set_string(event, kl_eventlog_bytes_to_string(data, len), FALSE);
		return TRUE;
	case KL_EV_S_CRTM_VERSION: {
		/* usually UTF-16 (e.g. "N40ET41W "), sometimes plain bytes */
		g_autofree gchar *text = NULL;
		if (len >= 2 && len % 2 == 0 && data[1] == 0)
			text = kl_eventlog_utf16_to_utf8(data, len / 2);
		if (text == NULL)
			text = kl_eventlog_bytes_to_string(data, len);
		kl_eventlog_set_string(event, g_steal_pointer(&text), TRUE);
		return TRUE;
	}
	case KL_EV_POST_CODE:
		if (len == 16)
			return kl_eventlog_decode_blob(event, &r, FALSE, error);
		kl_eventlog_set_string(event, kl_eventlog_bytes_to_string(data, len), TRUE);
		return TRUE;
	case KL_EV_NO_ACTION:
		if (len == sizeof(KL_STARTUP_LOCALITY) + 1 &&
		    memcmp(data, KL_STARTUP_LOCALITY, sizeof(KL_STARTUP_LOCALITY)) == 0) {
			JsonObject *json = json_object_new();
			json_object_set_string_member(json, "Signature", KL_STARTUP_LOCALITY);
			json_object_set_int_member(json, "StartupLocality", data[len - 1]);
			event->decoded = KL_EVENT_DECODED_STARTUP_LOCALITY;
			event->event = kl_json_object_node(json);
			return TRUE;
		}
		break;
	case KL_EV_SEPARATOR:
	case KL_EV_PREBOOT_CERT:
	case KL_EV_UNUSED:
	case KL_EV_EVENT_TAG:
	case KL_EV_S_CRTM_CONTENTS:
	case KL_EV_CPU_MICROCODE:
	case KL_EV_PLATFORM_CONFIG_FLAGS:
	case KL_EV_TABLE_OF_DEVICES:
	case KL_EV_COMPACT_HASH:
	case KL_EV_IPL_PARTITION_DATA:
	case KL_EV_NONHOST_CODE:
	case KL_EV_NONHOST_CONFIG:
	case KL_EV_NONHOST_INFO:
	case KL_EV_OMIT_BOOT_DEVICE_EVENTS:
	case KL_EV_EFI_EVENT_BASE:
	case KL_EV_EFI_HCRTM_EVENT:
	case KL_EV_EFI_SPDM_FIRMWARE_BLOB:
	case KL_EV_EFI_SPDM_FIRMWARE_CONFIG:
	default:
		break;
	}
	event->decoded = KL_EVENT_DECODED_NONE;
	event->event = kl_json_hex_node(data, len);
	return TRUE;
}

/* ---- the log ---- */

/* TCG_PCR_EVENT with TCG_EfiSpecIdEvent: fills the algorithm table */
static gboolean
kl_eventlog_parse_spec_id(KlEventLog *self, KlReader *r, GError **error)
{
	g_autoptr(KlEvent) event = g_new0(KlEvent, 1);
	g_autoptr(KlEventDigest) digest = g_new0(KlEventDigest, 1);
	JsonObject *spec = json_object_new();
	JsonArray *algs_json = json_array_new();
	const guint8 *sha1 = NULL;
	const guint8 *data = NULL;
	const guint8 *signature = NULL;
	guint32 size = 0;
	guint32 platform_class = 0;
	guint32 n_algs = 0;
	guint8 minor = 0, major = 0, errata = 0, uintn = 0, vendor_size = 0;
	const guint8 *vendor = NULL;
	gsize field_offset;
	KlReader s;

	event->offset = r->pos;
	event->event = kl_json_object_node(spec);
	json_object_set_array_member(spec, "Algorithms", algs_json);
	if (kl_reader_left(r) == 0) {
		g_set_error_literal(error,
				    KL_EVENTLOG_ERROR,
				    KL_EVENTLOG_ERROR_INVALID_DATA,
				    "event 0 at offset 0x0: the event log is empty");
		return FALSE;
	}
	if (!kl_reader_u32(r, "pcrIndex", &event->pcr, error) ||
	    !kl_reader_u32(r, "eventType", &event->type, error) ||
	    !kl_reader_take(r, "digest", 20, &sha1, error))
		return FALSE;
	field_offset = r->pos;
	if (!kl_reader_u32(r, "eventSize", &size, error))
		return FALSE;
	if (size > kl_reader_left(r)) {
		g_set_error(error,
			    KL_EVENTLOG_ERROR,
			    KL_EVENTLOG_ERROR_INVALID_DATA,
			    "event 0 at offset 0x%" G_GSIZE_MODIFIER
			    "x: eventSize %u exceeds the %" G_GSIZE_FORMAT " bytes left",
			    field_offset,
			    size,
			    kl_reader_left(r));
		return FALSE;
	}
	kl_reader_init_sub(&s, r, r->pos, size);
	if (!kl_reader_take(r, "event", size, &data, error))
		return FALSE;
	if (event->type != KL_EV_NO_ACTION || event->pcr != 0) {
		g_set_error(error,
			    KL_EVENTLOG_ERROR,
			    KL_EVENTLOG_ERROR_INVALID_DATA,
			    "event 0 at offset 0x0: not a crypto-agile log: the first event is "
			    "type 0x%x in PCR %u, not the EV_NO_ACTION Spec ID event",
			    event->type,
			    event->pcr);
		return FALSE;
	}
	if (!kl_reader_take(&s, "Signature", 16, &signature, error))
		return FALSE;
	if (memcmp(signature, "Spec ID Event03\0", 16) != 0) {
		g_set_error(error,
			    KL_EVENTLOG_ERROR,
			    KL_EVENTLOG_ERROR_INVALID_DATA,
			    "event 0 at offset 0x%" G_GSIZE_MODIFIER
			    "x: Signature is not \"Spec ID Event03\" (not a crypto-agile log)",
			    s.pos - 16);
		return FALSE;
	}
	if (!kl_reader_u32(&s, "platformClass", &platform_class, error) ||
	    !kl_reader_u8(&s, "specVersionMinor", &minor, error) ||
	    !kl_reader_u8(&s, "specVersionMajor", &major, error) ||
	    !kl_reader_u8(&s, "specErrata", &errata, error) ||
	    !kl_reader_u8(&s, "uintnSize", &uintn, error))
		return FALSE;
	field_offset = s.pos;
	if (!kl_reader_u32(&s, "numberOfAlgorithms", &n_algs, error))
		return FALSE;
	if (n_algs == 0 || n_algs > KL_EVENTLOG_MAX_ALGS) {
		g_set_error(error,
			    KL_EVENTLOG_ERROR,
			    KL_EVENTLOG_ERROR_INVALID_DATA,
			    "event 0 at offset 0x%" G_GSIZE_MODIFIER
			    "x: numberOfAlgorithms %u is not between 1 and %u",
			    field_offset,
			    n_algs,
			    (guint)KL_EVENTLOG_MAX_ALGS);
		return FALSE;
	}
	for (guint i = 0; i < n_algs; i++) {
		guint16 alg = 0;
		guint16 dsize = 0;
		gsize known;
		JsonObject *entry;
		field_offset = s.pos;
		if (!kl_reader_u16(&s, "algorithmId", &alg, error) ||
		    !kl_reader_u16(&s, "digestSize", &dsize, error))
			return FALSE;
		known = kl_tpm_hash_alg_get_digest_size(alg);
		if (dsize == 0 || dsize > EVP_MAX_MD_SIZE || (known != 0 && known != dsize)) {
			g_set_error(error,
				    KL_EVENTLOG_ERROR,
				    KL_EVENTLOG_ERROR_INVALID_DATA,
				    "event 0 at offset 0x%" G_GSIZE_MODIFIER
				    "x: digestSize %u is wrong for algorithm 0x%04x",
				    field_offset + 2,
				    dsize,
				    alg);
			return FALSE;
		}
		for (guint j = 0; j < self->algs->len; j++) {
			if (g_array_index(self->algs, TPM2_ALG_ID, j) == alg) {
				g_set_error(error,
					    KL_EVENTLOG_ERROR,
					    KL_EVENTLOG_ERROR_INVALID_DATA,
					    "event 0 at offset 0x%" G_GSIZE_MODIFIER
					    "x: algorithmId 0x%04x listed twice",
					    field_offset,
					    alg);
				return FALSE;
			}
		}
		g_array_append_val(self->algs, alg);
		g_array_append_val(self->sizes, dsize);
		entry = json_object_new();
		if (kl_tpm_hash_alg_to_string(alg) != NULL)
			json_object_set_string_member(entry,
						      "algorithmId",
						      kl_tpm_hash_alg_to_string(alg));
		else
			json_object_set_int_member(entry, "algorithmId", alg);
		json_object_set_int_member(entry, "digestSize", dsize);
		json_array_add_object_element(algs_json, entry);
	}
	if (!kl_reader_u8(&s, "vendorInfoSize", &vendor_size, error) ||
	    !kl_reader_take(&s, "vendorInfo", vendor_size, &vendor, error) ||
	    !kl_reader_check_end(&s, "the Spec ID event", error))
		return FALSE;
	json_object_set_string_member(spec, "Signature", "Spec ID Event03");
	json_object_set_int_member(spec, "platformClass", platform_class);
	json_object_set_int_member(spec, "specVersionMinor", minor);
	json_object_set_int_member(spec, "specVersionMajor", major);
	json_object_set_int_member(spec, "specErrata", errata);
	json_object_set_int_member(spec, "uintnSize", uintn);
	json_object_set_int_member(spec, "numberOfAlgorithms", n_algs);
	json_object_set_int_member(spec, "vendorInfoSize", vendor_size);

	event->number = 0;
	event->type_name = kl_event_type_to_string(event->type);
	event->decoded = KL_EVENT_DECODED_SPEC_ID;
	event->data = g_bytes_new(data, size);
	event->digests = g_ptr_array_new_with_free_func((GDestroyNotify)kl_event_digest_free);
	digest->alg = TPM2_ALG_SHA1;
	digest->alg_name = kl_tpm_hash_alg_to_string(TPM2_ALG_SHA1);
	digest->digest = g_bytes_new(sha1, 20);
	g_ptr_array_add(event->digests, g_steal_pointer(&digest));
	g_ptr_array_add(self->events, g_steal_pointer(&event));
	return TRUE;
}

static gint
kl_eventlog_alg_index(KlEventLog *self, TPM2_ALG_ID alg)
{
	for (guint i = 0; i < self->algs->len; i++) {
		if (g_array_index(self->algs, TPM2_ALG_ID, i) == alg)
			return (gint)i;
	}
	return -1;
}

/* one TCG_PCR_EVENT2 */
static gboolean
kl_eventlog_parse_event2(KlEventLog *self, KlReader *r, guint number, GError **error)
{
	g_autoptr(KlEvent) event = g_new0(KlEvent, 1);
	guint32 count = 0;
	guint32 size = 0;
	guint32 seen = 0;
	gsize field_offset;
	const guint8 *data = NULL;

	r->event = number;
	event->number = number;
	event->offset = r->pos;
	event->digests = g_ptr_array_new_with_free_func((GDestroyNotify)kl_event_digest_free);
	if (!kl_reader_u32(r, "pcrIndex", &event->pcr, error))
		return FALSE;
	if (event->pcr >= KL_TPM_PCR_COUNT) {
		g_set_error(error,
			    KL_EVENTLOG_ERROR,
			    KL_EVENTLOG_ERROR_INVALID_DATA,
			    "event %u at offset 0x%" G_GSIZE_MODIFIER "x: pcrIndex %u is above 23",
			    number,
			    event->offset,
			    event->pcr);
		return FALSE;
	}
	if (!kl_reader_u32(r, "eventType", &event->type, error))
		return FALSE;
	field_offset = r->pos;
	if (!kl_reader_u32(r, "digestCount", &count, error))
		return FALSE;
	/* every event carries one digest per bank of the Spec ID event */
	if (count != self->algs->len) {
		g_set_error(error,
			    KL_EVENTLOG_ERROR,
			    KL_EVENTLOG_ERROR_INVALID_DATA,
			    "event %u at offset 0x%" G_GSIZE_MODIFIER
			    "x: digestCount %u is not the %u algorithms of the Spec ID event",
			    number,
			    field_offset,
			    count,
			    self->algs->len);
		return FALSE;
	}
	for (guint i = 0; i < count; i++) {
		g_autoptr(KlEventDigest) digest = g_new0(KlEventDigest, 1);
		guint16 alg = 0;
		gint idx;
		const guint8 *value = NULL;
		guint16 dsize;
		field_offset = r->pos;
		if (!kl_reader_u16(r, "digests.hashAlg", &alg, error))
			return FALSE;
		idx = kl_eventlog_alg_index(self, alg);
		if (idx < 0 || (seen & (1u << idx)) != 0) {
			g_set_error(error,
				    KL_EVENTLOG_ERROR,
				    KL_EVENTLOG_ERROR_INVALID_DATA,
				    "event %u at offset 0x%" G_GSIZE_MODIFIER
				    "x: digests.hashAlg 0x%04x is %s",
				    number,
				    field_offset,
				    alg,
				    idx < 0 ? "not in the Spec ID event" : "repeated");
			return FALSE;
		}
		seen |= 1u << idx;
		dsize = g_array_index(self->sizes, guint16, (guint)idx);
		if (!kl_reader_take(r, "digests.digest", dsize, &value, error))
			return FALSE;
		digest->alg = alg;
		digest->alg_name = kl_tpm_hash_alg_to_string(alg);
		digest->digest = g_bytes_new(value, dsize);
		g_ptr_array_add(event->digests, g_steal_pointer(&digest));
	}
	field_offset = r->pos;
	if (!kl_reader_u32(r, "eventSize", &size, error))
		return FALSE;
	if (size > kl_reader_left(r)) {
		g_set_error(error,
			    KL_EVENTLOG_ERROR,
			    KL_EVENTLOG_ERROR_INVALID_DATA,
			    "event %u at offset 0x%" G_GSIZE_MODIFIER
			    "x: eventSize %u exceeds the %" G_GSIZE_FORMAT " bytes left",
			    number,
			    field_offset,
			    size,
			    kl_reader_left(r));
		return FALSE;
	}
	if (!kl_reader_take(r, "event", size, &data, error))
		return FALSE;
	event->type_name = kl_event_type_to_string(event->type);
	event->data = g_bytes_new(data, size);
	if (!kl_eventlog_decode(event, r, field_offset + 4, error))
		return FALSE;
	g_ptr_array_add(self->events, g_steal_pointer(&event));
	return TRUE;
}

/* PCR_new = H(PCR_old || digest) per bank; StartupLocality sets PCR 0's
 * initial value instead of being extended (TCG PC Client spec). */
static gboolean
kl_eventlog_replay(KlEventLog *self, GError **error)
{
	for (guint b = 0; b < self->algs->len; b++) {
		TPM2_ALG_ID alg = g_array_index(self->algs, TPM2_ALG_ID, b);
		const gchar *name = kl_tpm_hash_alg_to_string(alg);
		gsize dsize = g_array_index(self->sizes, guint16, b);
		guint8 pcrs[KL_TPM_PCR_COUNT][EVP_MAX_MD_SIZE];
		gboolean extended0 = FALSE;
		g_autoptr(KlPcrBank) bank = NULL;

		/* a bank we cannot hash is parsed but not replayed */
		if (name == NULL || kl_crypto_get_md(name, NULL) == NULL)
			continue;
		bank = kl_pcr_bank_new(alg, error);
		if (bank == NULL)
			return FALSE;
		memset(pcrs, 0, sizeof(pcrs));
		for (guint i = 17; i <= 22; i++)
			memset(pcrs[i], 0xff, dsize);
		for (guint e = 1; e < self->events->len; e++) {
			KlEvent *event = g_ptr_array_index(self->events, e);
			guint8 buf[2 * EVP_MAX_MD_SIZE];
			gsize out_len = 0;
			GBytes *digest;

			if (event->type == KL_EV_NO_ACTION) {
				if (event->decoded == KL_EVENT_DECODED_STARTUP_LOCALITY &&
				    event->pcr == 0) {
					gsize len = 0;
					const guint8 *d = g_bytes_get_data(event->data, &len);
					if (extended0) {
						g_set_error(
							error,
							KL_EVENTLOG_ERROR,
							KL_EVENTLOG_ERROR_INVALID_DATA,
							"event %u at offset 0x%" G_GSIZE_MODIFIER
							"x: StartupLocality after PCR 0 was "
							"extended",
							event->number,
							event->offset);
						return FALSE;
					}
					self->locality = d[len - 1];
					memset(pcrs[0], 0, dsize);
					pcrs[0][dsize - 1] = self->locality;
				}
				continue;
			}
			digest = kl_event_get_digest(event, alg);
			memcpy(buf, pcrs[event->pcr], dsize);
			memcpy(buf + dsize, g_bytes_get_data(digest, NULL), dsize);
			if (!kl_crypto_digest(name,
					      buf,
					      2 * dsize,
					      pcrs[event->pcr],
					      &out_len,
					      error))
				return FALSE;
			if (event->pcr == 0)
				extended0 = TRUE;
		}
		for (guint i = 0; i < KL_TPM_PCR_COUNT; i++) {
			if (!kl_pcr_bank_set(bank, i, pcrs[i], dsize, error))
				return FALSE;
		}
		g_ptr_array_add(self->banks, g_steal_pointer(&bank));
	}
	return TRUE;
}

KlEventLog *
kl_eventlog_new_from_data(const guint8 *data, gsize size, GError **error)
{
	g_autoptr(KlEventLog) self = g_new0(KlEventLog, 1);
	KlReader r = {.data = data, .pos = 0, .end = size, .event = 0};

	g_return_val_if_fail(data != NULL || size == 0, NULL);
	self->events = g_ptr_array_new_with_free_func((GDestroyNotify)kl_event_free);
	self->algs = g_array_new(FALSE, FALSE, sizeof(TPM2_ALG_ID));
	self->sizes = g_array_new(FALSE, FALSE, sizeof(guint16));
	self->banks = g_ptr_array_new_with_free_func((GDestroyNotify)kl_pcr_bank_free);
	if (!kl_eventlog_parse_spec_id(self, &r, error))
		return NULL;
	for (guint number = 1; kl_reader_left(&r) > 0; number++) {
		if (!kl_eventlog_parse_event2(self, &r, number, error))
			return NULL;
	}
	if (!kl_eventlog_replay(self, error))
		return NULL;
	return g_steal_pointer(&self);
}

GPtrArray *
kl_eventlog_get_events(KlEventLog *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->events;
}

const TPM2_ALG_ID *
kl_eventlog_get_algorithms(KlEventLog *self, guint *n_algs)
{
	g_return_val_if_fail(self != NULL, NULL);
	if (n_algs != NULL)
		*n_algs = self->algs->len;
	return (const TPM2_ALG_ID *)self->algs->data;
}

guint8
kl_eventlog_get_startup_locality(KlEventLog *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->locality;
}

GPtrArray *
kl_eventlog_get_pcr_banks(KlEventLog *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->banks;
}

KlPcrBank *
kl_eventlog_get_pcrs(KlEventLog *self, TPM2_ALG_ID alg, GError **error)
{
	g_return_val_if_fail(self != NULL, NULL);
	for (guint i = 0; i < self->banks->len; i++) {
		KlPcrBank *bank = g_ptr_array_index(self->banks, i);
		if (kl_pcr_bank_get_hash_alg(bank) == alg)
			return bank;
	}
	g_set_error(error,
		    KL_EVENTLOG_ERROR,
		    KL_EVENTLOG_ERROR_NOT_FOUND,
		    "the event log has no replayable %s bank",
		    kl_tpm_hash_alg_to_string(alg) != NULL ? kl_tpm_hash_alg_to_string(alg)
							   : "unknown");
	return NULL;
}

gchar *
kl_eventlog_get_boot_aggregate(KlEventLog *self, TPM2_ALG_ID alg, guint last_pcr, GError **error)
{
	KlPcrBank *bank;
	g_autoptr(GByteArray) buf = g_byte_array_new();
	guint8 out[EVP_MAX_MD_SIZE];
	gsize out_len = 0;

	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(last_pcr < KL_TPM_PCR_COUNT, NULL);
	bank = kl_eventlog_get_pcrs(self, alg, error);
	if (bank == NULL)
		return NULL;
	for (guint i = 0; i <= last_pcr; i++) {
		gsize len = 0;
		const guint8 *value = g_bytes_get_data(kl_pcr_bank_get(bank, i), &len);
		g_byte_array_append(buf, value, (guint)len);
	}
	if (!kl_crypto_digest(kl_pcr_bank_get_hash_alg_string(bank),
			      buf->data,
			      buf->len,
			      out,
			      &out_len,
			      error))
		return NULL;
	return kl_crypto_hex_encode(out, out_len);
}

/* ---- JSON ---- */

JsonNode *
kl_event_to_json(const KlEvent *event)
{
	JsonObject *json = json_object_new();
	JsonArray *digests = json_array_new();

	g_return_val_if_fail(event != NULL, NULL);
	json_object_set_int_member(json, "EventNum", event->number);
	json_object_set_int_member(json, "PCRIndex", event->pcr);
	if (event->type_name != NULL) {
		json_object_set_string_member(json, "EventType", event->type_name);
	} else {
		g_autofree gchar *type = g_strdup_printf("0x%08x", event->type);
		json_object_set_string_member(json, "EventType", type);
	}
	json_object_set_int_member(json, "DigestCount", event->digests->len);
	for (guint i = 0; i < event->digests->len; i++) {
		KlEventDigest *digest = g_ptr_array_index(event->digests, i);
		JsonObject *entry = json_object_new();
		gsize len = 0;
		const guint8 *value = g_bytes_get_data(digest->digest, &len);
		if (digest->alg_name != NULL) {
			json_object_set_string_member(entry, "AlgorithmId", digest->alg_name);
		} else {
			g_autofree gchar *alg = g_strdup_printf("0x%04x", digest->alg);
			json_object_set_string_member(entry, "AlgorithmId", alg);
		}
		json_object_set_member(entry, "Digest", kl_json_hex_node(value, len));
		json_array_add_object_element(digests, entry);
	}
	json_object_set_array_member(json, "Digests", digests);
	json_object_set_int_member(json, "EventSize", (gint64)g_bytes_get_size(event->data));
	if (event->decoded == KL_EVENT_DECODED_SPEC_ID) {
		/* tpm2_eventlog's form of the header event */
		JsonArray *spec = json_array_new();
		json_array_add_element(spec, json_node_copy(event->event));
		json_object_set_array_member(json, "SpecID", spec);
	}
	json_object_set_member(json, "Event", json_node_copy(event->event));
	return kl_json_object_node(json);
}

JsonNode *
kl_eventlog_events_to_json(KlEventLog *self)
{
	JsonArray *events = json_array_new();

	g_return_val_if_fail(self != NULL, NULL);
	for (guint i = 0; i < self->events->len; i++)
		json_array_add_element(events,
				       kl_event_to_json(g_ptr_array_index(self->events, i)));
	return kl_json_array_node(events);
}

JsonNode *
kl_eventlog_to_json(KlEventLog *self)
{
	JsonObject *json = json_object_new();
	JsonObject *pcrs = json_object_new();
	JsonObject *aggregates = json_object_new();

	g_return_val_if_fail(self != NULL, NULL);
	json_object_set_member(json, "events", kl_eventlog_events_to_json(self));
	json_object_set_object_member(json, "pcrs", pcrs);
	json_object_set_object_member(json, "boot_aggregates", aggregates);
	for (guint b = 0; b < self->banks->len; b++) {
		KlPcrBank *bank = g_ptr_array_index(self->banks, b);
		TPM2_ALG_ID alg = kl_pcr_bank_get_hash_alg(bank);
		JsonObject *values = json_object_new();
		JsonArray *agg = json_array_new();
		for (guint i = 0; i < KL_TPM_PCR_COUNT; i++) {
			g_autofree gchar *key = g_strdup_printf("%u", i);
			g_autofree gchar *hex = kl_pcr_bank_get_hex(bank, i);
			json_object_set_string_member(values, key, hex);
		}
		json_object_set_object_member(pcrs, kl_pcr_bank_get_hash_alg_string(bank), values);
		for (guint last = 7; last <= 9; last += 2) {
			g_autofree gchar *hex =
				kl_eventlog_get_boot_aggregate(self, alg, last, NULL);
			json_array_add_string_element(agg, hex != NULL ? hex : "");
		}
		json_object_set_array_member(aggregates,
					     kl_pcr_bank_get_hash_alg_string(bank),
					     agg);
	}
	return kl_json_object_node(json);
}

/* ---- comparison with a quote ---- */

gboolean
kl_eventlog_compare_pcrs(KlEventLog *self, KlPcrBank *quoted, guint32 mask, GPtrArray *findings)
{
	KlPcrBank *replayed;
	gboolean ok = TRUE;
	g_autoptr(GError) error_local = NULL;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(quoted != NULL, FALSE);
	g_return_val_if_fail(findings != NULL, FALSE);
	replayed = kl_eventlog_get_pcrs(self, kl_pcr_bank_get_hash_alg(quoted), &error_local);
	if (replayed == NULL) {
		KlFinding *finding =
			kl_finding_new_printf("measured_boot.parser.invalid_pcrs_hashes",
					      "event log",
					      0,
					      "%s",
					      error_local->message);
		g_ptr_array_add(findings, finding);
		return FALSE;
	}
	for (guint pcr = 0; pcr < KL_TPM_PCR_COUNT; pcr++) {
		g_autofree gchar *got = NULL;
		g_autofree gchar *expected = NULL;
		g_autofree gchar *event_id = NULL;
		g_autofree gchar *subject = NULL;
		KlFinding *finding;

		if ((mask & (1u << pcr)) == 0 || !kl_pcr_bank_has(quoted, pcr))
			continue;
		got = kl_pcr_bank_get_hex(quoted, pcr);
		expected = kl_pcr_bank_get_hex(replayed, pcr);
		if (g_strcmp0(got, expected) == 0)
			continue;
		event_id = g_strdup_printf("measured_boot.invalid_pcr_%u", pcr);
		subject = g_strdup_printf("PCR %u", pcr);
		finding = kl_finding_new_printf(
			event_id,
			subject,
			0,
			"PCR %u (%s) in the quote does not match the event log replay",
			pcr,
			kl_pcr_bank_get_hash_alg_string(quoted));
		kl_finding_set_context_got_expected(finding, got, expected);
		g_ptr_array_add(findings, finding);
		ok = FALSE;
	}
	return ok;
}

KlFinding *
kl_eventlog_parse_failure_finding(const GError *error)
{
	g_return_val_if_fail(error != NULL, NULL);
	return kl_finding_new_printf("measured_boot.parser.tpm2_eventlog.error",
				     "event log",
				     0,
				     "the UEFI event log could not be parsed: %s",
				     error->message);
}
