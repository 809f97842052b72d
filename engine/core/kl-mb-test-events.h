/*
 * kl-mb-test-events: synthetic UEFI event logs in the JSON shape of spec
 * §7.1 for the kl-mb-refstate and kl-mb-policy tests — a shim, GRUB and
 * Linux boot with Secure Boot on or off.  Test-only.
 */
#pragma once

#include <string.h>

#include <json-glib/json-glib.h>

#include "kl-crypto.h"

#define KL_MB_TEST_GLOBAL  "8be4df61-93ca-11d2-aa0d-00e098032b8c"
#define KL_MB_TEST_IMAGE   "d719b2cb-3d3a-4596-a3bc-dad00e67656f"
#define KL_MB_TEST_X509	   "a5c059a1-94e4-4aa7-87b5-ab155c2bf072"
#define KL_MB_TEST_SHA256  "c1c41626-504c-4092-aca9-41f936934328"
#define KL_MB_TEST_OWNER   "77fa9abd-0359-4d32-bd60-28f4e78f784b"
#define KL_MB_TEST_CMDLINE "(hd0,gpt2)/vmlinuz-6.1 root=/dev/sda1 ro quiet"

/* SHA-256 of @data as hex */
/* json_node_init_object() takes its own reference; these hand ours over. */
static inline JsonNode *
kl_mb_test_take_object(JsonObject *object)
{
	JsonNode *node = json_node_init_object(json_node_alloc(), object);
	json_object_unref(object);
	return node;
}

static inline JsonNode *
kl_mb_test_take_array(JsonArray *array)
{
	JsonNode *node = json_node_init_array(json_node_alloc(), array);
	json_array_unref(array);
	return node;
}

static inline gchar *
kl_mb_test_sha256(const gchar *data, gsize len)
{
	guint8 md[64];
	gsize md_len = 0;
	g_assert_true(kl_crypto_digest("sha256", (const guint8 *)data, len, md, &md_len, NULL));
	return kl_crypto_hex_encode(md, md_len);
}

/* a stand-in digest named after what it measures */
static inline gchar *
kl_mb_test_digest(const gchar *label)
{
	return kl_mb_test_sha256(label, strlen(label));
}

static inline JsonObject *
kl_mb_test_add(JsonArray *events,
	       guint pcr,
	       const gchar *type,
	       const gchar *sha256,
	       JsonNode *event)
{
	JsonObject *object = json_object_new();
	JsonArray *digests = json_array_new();
	JsonObject *digest = json_object_new();

	json_object_set_int_member(object, "EventNum", json_array_get_length(events));
	json_object_set_int_member(object, "PCRIndex", pcr);
	json_object_set_string_member(object, "EventType", type);
	json_object_set_int_member(object, "DigestCount", 1);
	json_object_set_string_member(digest, "AlgorithmId", "sha256");
	json_object_set_string_member(digest, "Digest", sha256);
	json_array_add_object_element(digests, digest);
	json_object_set_array_member(object, "Digests", digests);
	json_object_set_int_member(object, "EventSize", 0);
	json_object_set_member(object,
			       "Event",
			       event != NULL ? event : json_node_new(JSON_NODE_NULL));
	json_array_add_object_element(events, object);
	return object;
}

static inline JsonNode *
kl_mb_test_string_event(const gchar *text)
{
	JsonObject *object = json_object_new();
	json_object_set_string_member(object, "String", text);
	return kl_mb_test_take_object(object);
}

static inline void
kl_mb_test_add_ipl(JsonArray *events, guint pcr, const gchar *text, const gchar *label)
{
	g_autofree gchar *digest = label != NULL ? kl_mb_test_digest(label)
						 : kl_mb_test_sha256(text, strlen(text));
	kl_mb_test_add(events, pcr, "EV_IPL", digest, kl_mb_test_string_event(text));
}

static inline void
kl_mb_test_add_variable(JsonArray *events,
			guint pcr,
			const gchar *type,
			const gchar *guid,
			const gchar *name,
			JsonNode *data)
{
	JsonObject *object = json_object_new();
	g_autofree gchar *digest = kl_mb_test_digest(name);
	json_object_set_string_member(object, "VariableName", guid);
	json_object_set_string_member(object, "UnicodeName", name);
	json_object_set_member(object, "VariableData", data);
	kl_mb_test_add(events, pcr, type, digest, kl_mb_test_take_object(object));
}

/* [{"SignatureType", "Keys": [{SignatureOwner, SignatureData}, ...]}]; NULL-terminated data */
static inline JsonNode *
kl_mb_test_siglist(const gchar *type, ...)
{
	JsonArray *lists = json_array_new();
	JsonObject *list = json_object_new();
	JsonArray *keys = json_array_new();
	va_list args;
	const gchar *data;

	va_start(args, type);
	while ((data = va_arg(args, const gchar *)) != NULL) {
		JsonObject *key = json_object_new();
		json_object_set_string_member(key, "SignatureOwner", KL_MB_TEST_OWNER);
		json_object_set_string_member(key, "SignatureData", data);
		json_array_add_object_element(keys, key);
	}
	va_end(args);
	json_object_set_string_member(list, "SignatureType", type);
	json_object_set_array_member(list, "Keys", keys);
	json_array_add_object_element(lists, list);
	return kl_mb_test_take_array(lists);
}

static inline void
kl_mb_test_add_app(JsonArray *events, const gchar *label, const gchar *path)
{
	JsonObject *object = json_object_new();
	g_autofree gchar *digest = kl_mb_test_digest(label);
	json_object_set_int_member(object, "ImageLocationInMemory", 0);
	json_object_set_int_member(object, "ImageLengthInMemory", 0);
	json_object_set_int_member(object, "ImageLinkTimeAddress", 0);
	json_object_set_string_member(object, "DevicePath", path);
	kl_mb_test_add(events,
		       4,
		       "EV_EFI_BOOT_SERVICES_APPLICATION",
		       digest,
		       kl_mb_test_take_object(object));
}

static inline void
kl_mb_test_add_action(JsonArray *events, guint pcr, const gchar *text)
{
	g_autofree gchar *digest = kl_mb_test_sha256(text, strlen(text));
	kl_mb_test_add(events,
		       pcr,
		       "EV_EFI_ACTION",
		       digest,
		       json_node_init_string(json_node_alloc(), text));
}

/* shim, GRUB, Linux; Secure Boot on (PK, KEK, db, dbx set) or off (empty
 * key lists, no kernel Authenticode measurement) */
static inline JsonArray *
kl_mb_test_log_new(gboolean secure_boot)
{
	JsonArray *events = json_array_new();
	g_autofree gchar *zero = g_strnfill(64, '0');
	g_autofree gchar *scrtm = kl_mb_test_digest("scrtm");
	g_autofree gchar *fw1 = kl_mb_test_digest("fw1");
	g_autofree gchar *fw2 = kl_mb_test_digest("fw2");
	const guint8 sep[4] = {0, 0, 0, 0};
	g_autofree gchar *sep_digest = kl_mb_test_sha256((const gchar *)sep, sizeof(sep));
	JsonObject *sb = json_object_new();

	kl_mb_test_add(events, 0, "EV_NO_ACTION", zero, NULL);
	kl_mb_test_add(events,
		       0,
		       "EV_S_CRTM_VERSION",
		       scrtm,
		       json_node_init_string(json_node_alloc(), "1.0"));
	kl_mb_test_add(events, 0, "EV_EFI_PLATFORM_FIRMWARE_BLOB", fw1, NULL);
	kl_mb_test_add(events, 0, "EV_EFI_PLATFORM_FIRMWARE_BLOB2", fw2, NULL);
	json_object_set_string_member(sb, "Enabled", secure_boot ? "Yes" : "No");
	kl_mb_test_add_variable(events,
				7,
				"EV_EFI_VARIABLE_DRIVER_CONFIG",
				KL_MB_TEST_GLOBAL,
				"SecureBoot",
				kl_mb_test_take_object(sb));
	if (secure_boot) {
		kl_mb_test_add_variable(events,
					7,
					"EV_EFI_VARIABLE_DRIVER_CONFIG",
					KL_MB_TEST_GLOBAL,
					"PK",
					kl_mb_test_siglist(KL_MB_TEST_X509, "aa01", NULL));
		kl_mb_test_add_variable(events,
					7,
					"EV_EFI_VARIABLE_DRIVER_CONFIG",
					KL_MB_TEST_GLOBAL,
					"KEK",
					kl_mb_test_siglist(KL_MB_TEST_X509, "aa02", NULL));
		kl_mb_test_add_variable(events,
					7,
					"EV_EFI_VARIABLE_DRIVER_CONFIG",
					KL_MB_TEST_IMAGE,
					"db",
					kl_mb_test_siglist(KL_MB_TEST_X509, "aa03", "aa04", NULL));
		kl_mb_test_add_variable(
			events,
			7,
			"EV_EFI_VARIABLE_DRIVER_CONFIG",
			KL_MB_TEST_IMAGE,
			"dbx",
			kl_mb_test_siglist(KL_MB_TEST_SHA256, "cc01", "cc02", NULL));
	} else {
		const gchar *names[] = {"PK", "KEK", "db", "dbx"};
		for (guint i = 0; i < G_N_ELEMENTS(names); i++)
			kl_mb_test_add_variable(events,
						7,
						"EV_EFI_VARIABLE_DRIVER_CONFIG",
						i < 2 ? KL_MB_TEST_GLOBAL : KL_MB_TEST_IMAGE,
						names[i],
						kl_mb_test_take_array(json_array_new()));
	}
	for (guint pcr = 0; pcr < 8; pcr++)
		kl_mb_test_add(events,
			       pcr,
			       "EV_SEPARATOR",
			       sep_digest,
			       json_node_init_string(json_node_alloc(), "00000000"));
	kl_mb_test_add_action(events, 4, "Calling EFI Application from Boot Option");
	kl_mb_test_add_app(events, "shim", "HD(1,GPT,1234)/\\EFI\\redhat\\shimx64.efi");
	kl_mb_test_add_app(events, "grub", "HD(1,GPT,1234)/\\EFI\\redhat\\grubx64.efi");
	if (secure_boot) {
		JsonObject *sig = json_object_new();
		kl_mb_test_add_app(events, "kernel", "");
		json_object_set_string_member(sig, "SignatureOwner", KL_MB_TEST_OWNER);
		json_object_set_string_member(sig, "SignatureData", "aa03");
		kl_mb_test_add_variable(events,
					7,
					"EV_EFI_VARIABLE_AUTHORITY",
					KL_MB_TEST_IMAGE,
					"db",
					kl_mb_test_take_object(sig));
	}
	kl_mb_test_add_ipl(events, 14, "MokList", "mok");
	kl_mb_test_add_ipl(events, 8, "grub_cmd: linux " KL_MB_TEST_CMDLINE, NULL);
	kl_mb_test_add_ipl(events, 8, "kernel_cmdline: " KL_MB_TEST_CMDLINE, NULL);
	kl_mb_test_add_ipl(events, 9, "(hd0,gpt2)/vmlinuz-6.1", "vmlinuz");
	kl_mb_test_add_ipl(events, 9, "(hd0,gpt2)/initramfs-6.1.img", "initrd");
	kl_mb_test_add_action(events, 5, "Exit Boot Services Invocation");
	return events;
}

/* the first event of @type (and string, when given) */
static inline JsonObject *
kl_mb_test_find(JsonArray *events, const gchar *type, const gchar *string)
{
	for (guint i = 0; i < json_array_get_length(events); i++) {
		JsonObject *object = json_array_get_object_element(events, i);
		JsonNode *event = json_object_get_member(object, "Event");
		if (g_strcmp0(json_object_get_string_member(object, "EventType"), type) != 0)
			continue;
		if (string != NULL && (!JSON_NODE_HOLDS_OBJECT(event) ||
				       g_strcmp0(json_object_get_string_member_with_default(
							 json_node_get_object(event),
							 "String",
							 ""),
						 string) != 0))
			continue;
		return object;
	}
	g_assert_not_reached();
	return NULL;
}

static inline void
kl_mb_test_set_digest(JsonObject *event, const gchar *label)
{
	JsonArray *digests = json_object_get_array_member(event, "Digests");
	g_autofree gchar *digest = kl_mb_test_digest(label);
	json_object_set_string_member(json_array_get_object_element(digests, 0), "Digest", digest);
}
