/*
 * Tests for kl-eventlog: the two real firmware logs replayed and checked
 * against tpm2_eventlog (with its StartupLocality mistake asserted), the
 * decoded forms the boot policies read, and hostile logs: garbage, empty,
 * every truncation, impossible sizes and counts.
 */
#include "config.h"

#include <string.h>

#include "kl-eventlog.h"
#include "kl-json.h"
#include "kl-test-data.h"

/* sha256 PCR 0 of binary_bios_measurements with locality 3 as the TCG
 * spec says (tpm2-tools 5.4 extends the locality event instead) */
#define KL_TEST_PCR0_LOCALITY3 "0ee9a7feba8f4172f1a7451594aa5731665a4d353ac61814042ce107a00742f2"

static GBytes *
kl_test_load(const gchar *name)
{
	gsize len = 0;
	gchar *contents = kl_test_load_data(&len, "eventlogs", name, NULL);

	return g_bytes_new_take(contents, len);
}

static KlEventLog *
kl_test_parse(const gchar *name)
{
	g_autoptr(GBytes) bytes = kl_test_load(name);
	g_autoptr(GError) error = NULL;
	KlEventLog *log = kl_eventlog_new_from_data(g_bytes_get_data(bytes, NULL),
						    g_bytes_get_size(bytes),
						    &error);
	g_assert_no_error(error);
	g_assert_nonnull(log);
	return log;
}

static const KlEvent *
kl_test_find_variable(KlEventLog *log, guint32 type, const gchar *name)
{
	GPtrArray *events = kl_eventlog_get_events(log);
	for (guint i = 0; i < events->len; i++) {
		const KlEvent *event = g_ptr_array_index(events, i);
		if (event->type == type && event->variable != NULL &&
		    g_strcmp0(event->variable->name, name) == 0)
			return event;
	}
	return NULL;
}

/* tpm2_eventlog's "pcrs:" section: bank → (pcr → hex) */
static GHashTable *
kl_test_tpm2_eventlog_pcrs(const gchar *name)
{
	g_autofree gchar *path =
		g_test_build_filename(G_TEST_DIST, "data", "eventlogs", name, NULL);
	g_autofree gchar *program = g_find_program_in_path("tpm2_eventlog");
	g_autofree gchar *out = NULL;
	g_auto(GStrv) lines = NULL;
	g_autoptr(GError) error = NULL;
	GHashTable *banks;
	GHashTable *bank = NULL;
	gboolean in_pcrs = FALSE;
	gint status = 0;
	const gchar *argv[] = {NULL, NULL, NULL};

	if (program == NULL)
		return NULL;
	argv[0] = program;
	argv[1] = path;
	g_assert_true(g_spawn_sync(NULL,
				   (gchar **)argv,
				   NULL,
				   G_SPAWN_STDERR_TO_DEV_NULL,
				   NULL,
				   NULL,
				   &out,
				   NULL,
				   &status,
				   &error));
	g_assert_no_error(error);
	banks = g_hash_table_new_full(g_str_hash,
				      g_str_equal,
				      g_free,
				      (GDestroyNotify)g_hash_table_unref);
	lines = g_strsplit(out, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		g_auto(GStrv) kv = NULL;
		if (g_str_has_prefix(lines[i], "pcrs:")) {
			in_pcrs = TRUE;
			continue;
		}
		if (!in_pcrs)
			continue;
		if (g_str_has_prefix(lines[i], "  ") && !g_str_has_prefix(lines[i], "    ") &&
		    g_str_has_suffix(lines[i], ":")) {
			g_autofree gchar *alg = g_strndup(lines[i] + 2, strlen(lines[i]) - 3);
			bank = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
			g_hash_table_insert(banks, g_steal_pointer(&alg), bank);
			continue;
		}
		kv = g_strsplit(lines[i], ":", 2);
		if (bank == NULL || g_strv_length(kv) != 2)
			continue;
		g_strstrip(kv[0]);
		g_strstrip(kv[1]);
		g_assert_true(g_str_has_prefix(kv[1], "0x"));
		g_hash_table_insert(bank, g_strdup(kv[0]), g_strdup(kv[1] + 2));
	}
	g_assert_cmpuint(g_hash_table_size(banks), >, 0);
	return banks;
}

/* every PCR tpm2_eventlog reports equals ours, except @exception_pcr0 */
static void
kl_test_compare_oracle(const gchar *name, gboolean pcr0_differs)
{
	g_autoptr(KlEventLog) log = kl_test_parse(name);
	g_autoptr(GHashTable) banks = kl_test_tpm2_eventlog_pcrs(name);
	GHashTableIter iter;
	gpointer key;
	gpointer value;
	guint compared = 0;

	if (banks == NULL) {
		g_test_skip("tpm2_eventlog is not installed");
		return;
	}
	g_assert_cmpuint(g_hash_table_size(banks), ==, kl_eventlog_get_pcr_banks(log)->len);
	g_hash_table_iter_init(&iter, banks);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		TPM2_ALG_ID alg = 0;
		KlPcrBank *bank;
		GHashTableIter pcrs;
		gpointer pcr;
		gpointer hex;

		g_assert_true(kl_tpm_hash_alg_from_string(key, &alg));
		bank = kl_eventlog_get_pcrs(log, alg, NULL);
		g_assert_nonnull(bank);
		g_hash_table_iter_init(&pcrs, value);
		while (g_hash_table_iter_next(&pcrs, &pcr, &hex)) {
			guint index = (guint)g_ascii_strtoull(pcr, NULL, 10);
			g_autofree gchar *ours = kl_pcr_bank_get_hex(bank, index);
			if (index == 0 && pcr0_differs)
				g_assert_cmpstr(ours, !=, hex);
			else
				g_assert_cmpstr(ours, ==, hex);
			compared++;
		}
	}
	g_assert_cmpuint(compared, >=, 11);
}

static void
kl_eventlog_test_oracle_bios(void)
{
	kl_test_compare_oracle("binary_bios_measurements", TRUE);
}

static void
kl_eventlog_test_oracle_secureboot(void)
{
	kl_test_compare_oracle("binary_bios_measurements-secureboot", FALSE);
}

/* The TCG rule: StartupLocality sets PCR 0's initial value to 0..0|3 and
 * is not extended; checked against the known value and recomputed here. */
static void
kl_eventlog_test_startup_locality(void)
{
	g_autoptr(KlEventLog) log = kl_test_parse("binary_bios_measurements");
	g_autoptr(KlEventLog) sb = kl_test_parse("binary_bios_measurements-secureboot");
	KlPcrBank *bank = kl_eventlog_get_pcrs(log, TPM2_ALG_SHA256, NULL);
	GPtrArray *events = kl_eventlog_get_events(log);
	g_autofree gchar *pcr0 = kl_pcr_bank_get_hex(bank, 0);
	guint8 pcr[32] = {0};
	guint8 buf[64];
	gsize len = 0;
	g_autofree gchar *manual = NULL;

	g_assert_cmpuint(kl_eventlog_get_startup_locality(log), ==, 3);
	g_assert_cmpuint(kl_eventlog_get_startup_locality(sb), ==, 0);
	g_assert_cmpstr(pcr0, ==, KL_TEST_PCR0_LOCALITY3);

	pcr[31] = 3;
	for (guint i = 1; i < events->len; i++) {
		const KlEvent *event = g_ptr_array_index(events, i);
		if (event->pcr != 0 || event->type == KL_EV_NO_ACTION)
			continue;
		memcpy(buf, pcr, 32);
		memcpy(buf + 32,
		       g_bytes_get_data(kl_event_get_digest(event, TPM2_ALG_SHA256), NULL),
		       32);
		g_assert_true(kl_crypto_digest("sha256", buf, 64, pcr, &len, NULL));
	}
	manual = kl_crypto_hex_encode(pcr, 32);
	g_assert_cmpstr(manual, ==, KL_TEST_PCR0_LOCALITY3);
}

static void
kl_eventlog_test_unused_pcrs(void)
{
	g_autoptr(KlEventLog) log = kl_test_parse("binary_bios_measurements-secureboot");
	KlPcrBank *bank = kl_eventlog_get_pcrs(log, TPM2_ALG_SHA256, NULL);
	g_autofree gchar *pcr10 = kl_pcr_bank_get_hex(bank, 10);
	g_autofree gchar *pcr17 = kl_pcr_bank_get_hex(bank, 17);
	g_autofree gchar *pcr23 = kl_pcr_bank_get_hex(bank, 23);
	g_autoptr(GError) error = NULL;

	g_assert_cmpuint(kl_pcr_bank_get_count(bank), ==, 24);
	g_assert_cmpstr(pcr10,
			==,
			"0000000000000000000000000000000000000000000000000000000000000000");
	g_assert_cmpstr(pcr17,
			==,
			"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
	g_assert_cmpstr(pcr23,
			==,
			"0000000000000000000000000000000000000000000000000000000000000000");
	/* this log has only the sha256 bank */
	g_assert_null(kl_eventlog_get_pcrs(log, TPM2_ALG_SHA1, &error));
	g_assert_error(error, KL_EVENTLOG_ERROR, KL_EVENTLOG_ERROR_NOT_FOUND);
}

static void
kl_eventlog_test_boot_aggregate(void)
{
	g_autoptr(KlEventLog) log = kl_test_parse("binary_bios_measurements");
	KlPcrBank *bank = kl_eventlog_get_pcrs(log, TPM2_ALG_SHA1, NULL);
	g_autoptr(GByteArray) buf = g_byte_array_new();
	g_autofree gchar *agg7 = NULL;
	g_autofree gchar *agg9 = NULL;
	g_autofree gchar *manual = NULL;
	g_autoptr(JsonNode) json = NULL;
	JsonArray *aggs;
	guint8 out[20];
	gsize len = 0;

	for (guint i = 0; i <= 7; i++) {
		gsize size = 0;
		const guint8 *value = g_bytes_get_data(kl_pcr_bank_get(bank, i), &size);
		g_byte_array_append(buf, value, (guint)size);
	}
	g_assert_cmpuint(buf->len, ==, 160);
	g_assert_true(kl_crypto_digest("sha1", buf->data, buf->len, out, &len, NULL));
	manual = kl_crypto_hex_encode(out, len);
	agg7 = kl_eventlog_get_boot_aggregate(log, TPM2_ALG_SHA1, 7, NULL);
	agg9 = kl_eventlog_get_boot_aggregate(log, TPM2_ALG_SHA1, 9, NULL);
	g_assert_cmpstr(agg7, ==, manual);
	g_assert_cmpstr(agg9, !=, agg7);

	json = kl_eventlog_to_json(log);
	aggs = json_object_get_array_member(
		json_object_get_object_member(json_node_get_object(json), "boot_aggregates"),
		"sha1");
	g_assert_cmpstr(json_array_get_string_element(aggs, 0), ==, agg7);
	g_assert_cmpstr(json_array_get_string_element(aggs, 1), ==, agg9);
}

static void
kl_eventlog_test_guid(void)
{
	const guint8 global[16] = {0x61,
				   0xdf,
				   0xe4,
				   0x8b,
				   0xca,
				   0x93,
				   0xd2,
				   0x11,
				   0xaa,
				   0x0d,
				   0x00,
				   0xe0,
				   0x98,
				   0x03,
				   0x2b,
				   0x8c};
	g_autofree gchar *text = kl_efi_guid_to_string(global);
	g_autoptr(KlEventLog) log = kl_test_parse("binary_bios_measurements-secureboot");
	const KlEvent *db = kl_test_find_variable(log, KL_EV_EFI_VARIABLE_DRIVER_CONFIG, "db");

	g_assert_cmpstr(text, ==, KL_EFI_GUID_GLOBAL_VARIABLE);
	g_assert_cmpstr(text, !=, "61dfe48b-ca93-d211-aa0d-00e098032b8c");
	g_assert_nonnull(db);
	g_assert_cmpstr(db->variable->guid, ==, KL_EFI_GUID_IMAGE_SECURITY);
}

static void
kl_eventlog_test_secureboot_variables(void)
{
	g_autoptr(KlEventLog) log = kl_test_parse("binary_bios_measurements-secureboot");
	g_autoptr(KlEventLog) off = kl_test_parse("binary_bios_measurements");
	const KlEvent *sb =
		kl_test_find_variable(log, KL_EV_EFI_VARIABLE_DRIVER_CONFIG, "SecureBoot");
	const KlEvent *sb_off =
		kl_test_find_variable(off, KL_EV_EFI_VARIABLE_DRIVER_CONFIG, "SecureBoot");
	const KlEvent *pk = kl_test_find_variable(log, KL_EV_EFI_VARIABLE_DRIVER_CONFIG, "PK");
	const KlEvent *kek = kl_test_find_variable(log, KL_EV_EFI_VARIABLE_DRIVER_CONFIG, "KEK");
	const KlEvent *dbx = kl_test_find_variable(log, KL_EV_EFI_VARIABLE_DRIVER_CONFIG, "dbx");
	const KlEvent *sbat = kl_test_find_variable(log, KL_EV_EFI_VARIABLE_AUTHORITY, "SbatLevel");
	const KlEvent *vendor =
		kl_test_find_variable(log, KL_EV_EFI_VARIABLE_AUTHORITY, "vendor_db");
	KlEfiSignature *sig;
	JsonObject *event;
	JsonArray *lists;
	gsize len = 0;
	const guint8 *data;

	g_assert_nonnull(sb);
	g_assert_cmpint(sb->variable->secure_boot, ==, 1);
	event = json_node_get_object(sb->event);
	g_assert_cmpstr(json_object_get_string_member(event, "UnicodeName"), ==, "SecureBoot");
	g_assert_cmpstr(
		json_object_get_string_member(json_object_get_object_member(event, "VariableData"),
					      "Enabled"),
		==,
		"Yes");
	g_assert_nonnull(sb_off);
	g_assert_cmpint(sb_off->variable->secure_boot, ==, 0);

	/* PK: one X.509 certificate owned by Red Hat's GUID */
	g_assert_nonnull(pk);
	g_assert_cmpuint(pk->variable->signatures->len, ==, 1);
	sig = g_ptr_array_index(pk->variable->signatures, 0);
	g_assert_cmpstr(sig->signature_type, ==, KL_EFI_GUID_CERT_X509);
	g_assert_cmpstr(sig->owner, ==, "a0baa8a3-041d-48a8-bc87-c36d121b5e3d");
	data = g_bytes_get_data(sig->data, &len);
	g_assert_cmpuint(len, ==, 0x3b4 - 16);
	g_assert_cmpuint(data[0], ==, 0x30);
	g_assert_cmpuint(data[1], ==, 0x82);
	lists = json_object_get_array_member(json_node_get_object(pk->event), "VariableData");
	g_assert_cmpuint(json_array_get_length(lists), ==, 1);

	/* KEK: three lists of one certificate each */
	g_assert_nonnull(kek);
	g_assert_cmpuint(kek->variable->signatures->len, ==, 3);
	sig = g_ptr_array_index(kek->variable->signatures, 1);
	g_assert_cmpstr(sig->owner, ==, "77fa9abd-0359-4d32-bd60-28f4e78f784b");

	/* dbx: SHA-256 hashes, 32 bytes each */
	g_assert_nonnull(dbx);
	g_assert_cmpuint(dbx->variable->signatures->len, >, 10);
	for (guint i = 0; i < dbx->variable->signatures->len; i++) {
		sig = g_ptr_array_index(dbx->variable->signatures, i);
		if (g_strcmp0(sig->signature_type, KL_EFI_GUID_CERT_SHA256) == 0)
			g_assert_cmpuint(g_bytes_get_size(sig->data), ==, 32);
	}

	/* SbatLevel stays raw; vendor_db is one EFI_SIGNATURE_DATA */
	g_assert_nonnull(sbat);
	g_assert_null(sbat->variable->signatures);
	g_assert_cmpstr(sbat->variable->guid, ==, KL_EFI_GUID_SHIM_LOCK);
	g_assert_cmpstr(
		json_object_get_string_member(json_node_get_object(sbat->event), "VariableData"),
		==,
		"736261742c312c323032333031323930300a7368696d2c320a677275622c330a677275622e64656269"
		"61"
		"6e2c340a");
	g_assert_nonnull(vendor);
	g_assert_cmpuint(vendor->variable->signatures->len, ==, 1);
}

static void
kl_eventlog_test_ipl_and_images(void)
{
	g_autoptr(KlEventLog) log = kl_test_parse("binary_bios_measurements-secureboot");
	GPtrArray *events = kl_eventlog_get_events(log);
	const KlEvent *shim = NULL;
	const KlEvent *grub = NULL;
	const KlEvent *cmdline = NULL;
	const KlEvent *moklist = NULL;
	g_autoptr(JsonNode) json = NULL;
	JsonObject *object;

	for (guint i = 0; i < events->len; i++) {
		const KlEvent *event = g_ptr_array_index(events, i);
		if (event->type == KL_EV_EFI_BOOT_SERVICES_APPLICATION) {
			if (shim == NULL)
				shim = event;
			else if (grub == NULL)
				grub = event;
		}
		if (event->type == KL_EV_IPL && event->pcr == 8 &&
		    g_str_has_prefix(event->string, "kernel_cmdline: "))
			cmdline = event;
		if (event->type == KL_EV_IPL && g_strcmp0(event->string, "MokList") == 0)
			moklist = event;
	}
	g_assert_nonnull(shim);
	g_assert_cmpstr(shim->image->device_path,
			==,
			"PciRoot(0x0)/Pci(0x2,0x3)/Pci(0x0,0x0)/"
			"HD(1,GPT,a88ed452-9a52-45c4-91ce-3da7707caaab,0x800,0x12c000)/"
			"\\EFI\\redhat\\shimx64.efi");
	g_assert_nonnull(grub);
	g_assert_cmpstr(grub->image->device_path, ==, "\\EFI\\redhat\\grubx64.efi");
	object = json_node_get_object(grub->event);
	g_assert_cmpint(json_object_get_int_member(object, "LengthOfDevicePath"), ==, 56);
	g_assert_cmpint(json_object_get_int_member(object, "ImageLocationInMemory"),
			==,
			0x7cea4018);

	g_assert_nonnull(cmdline);
	g_assert_null(strchr(cmdline->string, '\n'));
	/* the trailing NUL is gone, nothing else */
	g_assert_cmpuint(strlen(cmdline->string) + 1, ==, g_bytes_get_size(cmdline->data));
	g_assert_true(g_str_has_prefix(cmdline->string,
				       "kernel_cmdline: (hd0,gpt2)/vmlinuz-5.14.0-503.11.1.el9_5"));
	g_assert_cmpstr(
		json_object_get_string_member(json_node_get_object(cmdline->event), "String"),
		==,
		cmdline->string);
	g_assert_nonnull(moklist);
	g_assert_cmpuint(moklist->pcr, ==, 14);

	/* upstream's shape */
	json = kl_event_to_json(grub);
	object = json_node_get_object(json);
	g_assert_cmpint(json_object_get_int_member(object, "EventNum"), ==, grub->number);
	g_assert_cmpint(json_object_get_int_member(object, "PCRIndex"), ==, 4);
	g_assert_cmpstr(json_object_get_string_member(object, "EventType"),
			==,
			"EV_EFI_BOOT_SERVICES_APPLICATION");
	g_assert_cmpint(json_object_get_int_member(object, "DigestCount"), ==, 1);
	g_assert_cmpstr(json_object_get_string_member(
				json_array_get_object_element(
					json_object_get_array_member(object, "Digests"),
					0),
				"Digest"),
			==,
			"0abc88ee4d2915c3c5c010a331be980766d6445419c22fe236867b92d254f01f");
	g_assert_cmpint(json_object_get_int_member(object, "EventSize"), ==, 88);
}

static void
kl_eventlog_test_other_events(void)
{
	g_autoptr(KlEventLog) log = kl_test_parse("binary_bios_measurements");
	g_autoptr(JsonNode) json = kl_eventlog_events_to_json(log);
	GPtrArray *events = kl_eventlog_get_events(log);
	JsonArray *array = json_node_get_array(json);
	const KlEvent *first = g_ptr_array_index(events, 0);
	gboolean seen_separator = FALSE, seen_action = FALSE, seen_crtm = FALSE;
	gboolean seen_blob = FALSE, seen_handoff = FALSE, seen_gpt = FALSE;
	guint n_algs = 0;
	const TPM2_ALG_ID *algs = kl_eventlog_get_algorithms(log, &n_algs);

	g_assert_cmpuint(n_algs, ==, 2);
	g_assert_cmpuint(algs[0], ==, TPM2_ALG_SHA1);
	g_assert_cmpuint(algs[1], ==, TPM2_ALG_SHA256);
	g_assert_cmpuint(json_array_get_length(array), ==, events->len);
	g_assert_cmpint(first->decoded, ==, KL_EVENT_DECODED_SPEC_ID);
	for (guint i = 0; i < events->len; i++) {
		const KlEvent *event = g_ptr_array_index(events, i);
		JsonObject *object = json_array_get_object_element(array, i);
		g_assert_cmpuint(event->number, ==, i);
		g_assert_cmpint(json_object_get_int_member(object, "EventNum"), ==, i);
		if (event->type == KL_EV_SEPARATOR) {
			g_assert_cmpstr(json_node_get_string(event->event), ==, "00000000");
			seen_separator = TRUE;
		} else if (event->type == KL_EV_EFI_ACTION) {
			g_assert_cmpstr(event->string,
					==,
					"Calling EFI Application from Boot Option");
			seen_action = TRUE;
		} else if (event->type == KL_EV_S_CRTM_VERSION) {
			g_assert_cmpstr(event->string, ==, "N40ET41W ");
			seen_crtm = TRUE;
		} else if (event->type == KL_EV_EFI_PLATFORM_FIRMWARE_BLOB && !seen_blob) {
			JsonObject *blob = json_node_get_object(event->event);
			g_assert_cmpint(json_object_get_int_member(blob, "BlobBase"),
					==,
					0xfff00000);
			g_assert_cmpint(json_object_get_int_member(blob, "BlobLength"), ==, 0x59d0);
			seen_blob = TRUE;
		} else if (event->type == KL_EV_EFI_HANDOFF_TABLES) {
			JsonObject *tables = json_node_get_object(event->event);
			g_assert_cmpint(
				json_object_get_int_member(tables, "NumberOfTables"),
				==,
				json_array_get_length(
					json_object_get_array_member(tables, "TableEntry")));
			seen_handoff = TRUE;
		} else if (event->type == KL_EV_EFI_GPT_EVENT) {
			JsonObject *gpt = json_node_get_object(event->event);
			g_assert_cmpint(json_object_get_int_member(gpt, "NumberOfPartitions"),
					==,
					json_array_get_length(
						json_object_get_array_member(gpt, "Partitions")));
			seen_gpt = TRUE;
		}
	}
	g_assert_true(seen_separator && seen_action && seen_crtm);
	g_assert_true(seen_blob && seen_handoff && seen_gpt);
}

static void
kl_eventlog_test_bogus_and_empty(void)
{
	g_autoptr(GBytes) bogus = kl_test_load("binary_bios_measurements-bogus");
	g_autoptr(GBytes) empty = kl_test_load("binary_bios_measurements-empty");
	g_autoptr(GError) error = NULL;
	g_autoptr(KlEventLog) log = NULL;
	g_autoptr(KlFinding) finding = NULL;

	log = kl_eventlog_new_from_data(g_bytes_get_data(bogus, NULL),
					g_bytes_get_size(bogus),
					&error);
	g_assert_null(log);
	g_assert_error(error, KL_EVENTLOG_ERROR, KL_EVENTLOG_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "at offset 0x"));
	finding = kl_eventlog_parse_failure_finding(error);
	g_assert_cmpstr(finding->event_id, ==, "measured_boot.parser.tpm2_eventlog.error");
	g_clear_error(&error);

	log = kl_eventlog_new_from_data((const guint8 *)"", g_bytes_get_size(empty), &error);
	g_assert_null(log);
	g_assert_error(error, KL_EVENTLOG_ERROR, KL_EVENTLOG_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "offset 0x0"));
}

/* prefixes of the first 8 KiB: an error naming the offset, or (at an
 * event boundary) a shorter valid log */
static void
kl_test_truncations(const gchar *name)
{
	g_autoptr(GBytes) bytes = kl_test_load(name);
	g_autoptr(KlEventLog) full = kl_test_parse(name);
	GPtrArray *events = kl_eventlog_get_events(full);
	gsize size = MIN(g_bytes_get_size(bytes), 8192);
	g_autoptr(GHashTable) boundaries = g_hash_table_new(g_direct_hash, g_direct_equal);
	guint n_ok = 0;

	for (guint i = 1; i < events->len; i++) {
		const KlEvent *event = g_ptr_array_index(events, i);
		g_hash_table_add(boundaries, GSIZE_TO_POINTER(event->offset));
	}
	/* every cut in the first 2 KiB, then every 61st byte (ASan is slow) */
	for (gsize len = 0; len < size; len += len < 2048 ? 1 : 61) {
		g_autofree guint8 *copy = g_memdup2(g_bytes_get_data(bytes, NULL), MAX(len, 1));
		g_autoptr(GError) error = NULL;
		g_autoptr(KlEventLog) log = kl_eventlog_new_from_data(copy, len, &error);
		if (log != NULL) {
			g_assert_true(g_hash_table_contains(boundaries, GSIZE_TO_POINTER(len)));
			n_ok++;
			continue;
		}
		g_assert_error(error, KL_EVENTLOG_ERROR, KL_EVENTLOG_ERROR_INVALID_DATA);
		g_assert_nonnull(strstr(error->message, "at offset 0x"));
	}
	g_assert_cmpuint(n_ok, >, 3);
}

static void
kl_eventlog_test_truncated(void)
{
	g_autoptr(GBytes) bytes = kl_test_load("binary_bios_measurements");
	g_autoptr(GError) error = NULL;
	g_autoptr(KlEventLog) log = NULL;

	kl_test_truncations("binary_bios_measurements");
	kl_test_truncations("binary_bios_measurements-secureboot");

	/* cut inside the last event: the message names the field */
	log = kl_eventlog_new_from_data(g_bytes_get_data(bytes, NULL),
					g_bytes_get_size(bytes) - 1,
					&error);
	g_assert_null(log);
	g_assert_nonnull(strstr(error->message, "eventSize"));
}

/* ---- synthetic logs ---- */

static void
kl_test_put32(GByteArray *buf, guint32 v)
{
	guint8 b[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >> 24) & 0xff};
	g_byte_array_append(buf, b, 4);
}

static void
kl_test_put16(GByteArray *buf, guint16 v)
{
	guint8 b[2] = {v & 0xff, (v >> 8) & 0xff};
	g_byte_array_append(buf, b, 2);
}

static void
kl_test_put64(GByteArray *buf, guint64 v)
{
	kl_test_put32(buf, (guint32)v);
	kl_test_put32(buf, (guint32)(v >> 32));
}

/* Spec ID event with the sha256 bank only */
static GByteArray *
kl_test_header(guint32 n_algs)
{
	GByteArray *buf = g_byte_array_new();
	guint8 zero[20] = {0};
	kl_test_put32(buf, 0);
	kl_test_put32(buf, KL_EV_NO_ACTION);
	g_byte_array_append(buf, zero, 20);
	kl_test_put32(buf, 16 + 4 + 4 + 4 + 4 + 1);
	g_byte_array_append(buf, (const guint8 *)"Spec ID Event03", 16);
	kl_test_put32(buf, 0);
	g_byte_array_append(buf, (const guint8 *)"\x00\x02\x00\x02", 4);
	kl_test_put32(buf, n_algs);
	kl_test_put16(buf, TPM2_ALG_SHA256);
	kl_test_put16(buf, 32);
	g_byte_array_append(buf, zero, 1);
	return buf;
}

static void
kl_test_event(GByteArray *buf, guint32 pcr, guint32 type, const guint8 *data, guint32 size)
{
	guint8 digest[32] = {0};
	gsize len = 0;
	g_assert_true(kl_crypto_digest("sha256", data, size, digest, &len, NULL));
	kl_test_put32(buf, pcr);
	kl_test_put32(buf, type);
	kl_test_put32(buf, 1);
	kl_test_put16(buf, TPM2_ALG_SHA256);
	g_byte_array_append(buf, digest, 32);
	kl_test_put32(buf, size);
	g_byte_array_append(buf, data, size);
}

static gchar *
kl_test_parse_error(GByteArray *buf)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlEventLog) log = kl_eventlog_new_from_data(buf->data, buf->len, &error);
	g_assert_null(log);
	g_assert_error(error, KL_EVENTLOG_ERROR, KL_EVENTLOG_ERROR_INVALID_DATA);
	return g_strdup(error->message);
}

static void
kl_eventlog_test_hostile(void)
{
	g_autoptr(GByteArray) huge_algs = kl_test_header(0xffffffff);
	g_autoptr(GByteArray) ok = kl_test_header(1);
	g_autoptr(GByteArray) huge_size = NULL;
	g_autoptr(GByteArray) huge_count = NULL;
	g_autoptr(GByteArray) huge_name = NULL;
	g_autoptr(GByteArray) bad_pcr = NULL;
	g_autoptr(GByteArray) var = g_byte_array_new();
	g_autofree gchar *msg = NULL;
	guint header_len;
	guint8 zero[32] = {0};

	msg = kl_test_parse_error(huge_algs);
	g_assert_nonnull(strstr(msg, "numberOfAlgorithms 4294967295"));
	g_clear_pointer(&msg, g_free);

	header_len = ok->len;
	kl_test_event(ok, 4, KL_EV_SEPARATOR, zero, 4);

	/* eventSize larger than the log */
	huge_size = g_byte_array_new();
	g_byte_array_append(huge_size, ok->data, ok->len);
	kl_test_put32(huge_size, 4);
	kl_test_put32(huge_size, KL_EV_IPL);
	kl_test_put32(huge_size, 1);
	kl_test_put16(huge_size, TPM2_ALG_SHA256);
	g_byte_array_append(huge_size, zero, 32);
	kl_test_put32(huge_size, 0xffffffff);
	g_byte_array_append(huge_size, zero, 10);
	msg = kl_test_parse_error(huge_size);
	g_assert_nonnull(strstr(msg, "event 2 at offset 0x"));
	g_assert_nonnull(strstr(msg, "eventSize 4294967295 exceeds the 10 bytes left"));
	g_clear_pointer(&msg, g_free);

	/* digestCount not the Spec ID's */
	huge_count = g_byte_array_new();
	g_byte_array_append(huge_count, ok->data, header_len);
	kl_test_put32(huge_count, 0);
	kl_test_put32(huge_count, KL_EV_IPL);
	kl_test_put32(huge_count, 0x7fffffff);
	msg = kl_test_parse_error(huge_count);
	g_assert_nonnull(strstr(msg, "digestCount 2147483647"));
	g_clear_pointer(&msg, g_free);

	/* PCR out of range */
	bad_pcr = g_byte_array_new();
	g_byte_array_append(bad_pcr, ok->data, header_len);
	kl_test_event(bad_pcr, 24, KL_EV_SEPARATOR, zero, 4);
	msg = kl_test_parse_error(bad_pcr);
	g_assert_nonnull(strstr(msg, "pcrIndex 24"));
	g_clear_pointer(&msg, g_free);

	/* an EFI variable whose name length runs past its data */
	g_byte_array_append(var, zero, 16);
	kl_test_put64(var, G_MAXUINT64);
	kl_test_put64(var, 0);
	huge_name = g_byte_array_new();
	g_byte_array_append(huge_name, ok->data, header_len);
	kl_test_event(huge_name, 7, KL_EV_EFI_VARIABLE_DRIVER_CONFIG, var->data, var->len);
	msg = kl_test_parse_error(huge_name);
	g_assert_nonnull(strstr(msg, "UnicodeNameLength"));
	g_clear_pointer(&msg, g_free);

	/* the well-formed one parses */
	{
		g_autoptr(KlEventLog) log = kl_eventlog_new_from_data(ok->data, ok->len, NULL);
		g_assert_nonnull(log);
		g_assert_cmpuint(kl_eventlog_get_events(log)->len, ==, 2);
	}
}

/* a synthetic PK with a signature list whose SignatureSize does not divide */
static void
kl_eventlog_test_bad_signature_list(void)
{
	g_autoptr(GByteArray) log = kl_test_header(1);
	g_autoptr(GByteArray) var = g_byte_array_new();
	g_autofree gchar *msg = NULL;
	guint8 guid[16] = {0};

	g_byte_array_append(var, guid, 16);
	kl_test_put64(var, 2);
	kl_test_put64(var, 28 + 17);
	g_byte_array_append(var, (const guint8 *)"P\0K\0", 4);
	g_byte_array_append(var, guid, 16);
	kl_test_put32(var, 28 + 17);
	kl_test_put32(var, 0);
	kl_test_put32(var, 16);
	g_byte_array_append(var, guid, 16);
	g_byte_array_append(var, guid, 1);
	kl_test_event(log, 7, KL_EV_EFI_VARIABLE_DRIVER_CONFIG, var->data, var->len);
	msg = kl_test_parse_error(log);
	g_assert_nonnull(strstr(msg, "SignatureSize 16 does not divide the 17 bytes"));
}

static void
kl_eventlog_test_compare(void)
{
	g_autoptr(KlEventLog) log = kl_test_parse("binary_bios_measurements");
	KlPcrBank *replayed = kl_eventlog_get_pcrs(log, TPM2_ALG_SHA256, NULL);
	g_autoptr(KlPcrBank) quoted = kl_pcr_bank_new(TPM2_ALG_SHA256, NULL);
	g_autoptr(KlPcrBank) sha384 = kl_pcr_bank_new(TPM2_ALG_SHA384, NULL);
	g_autoptr(GPtrArray) findings = kl_findings_new();
	guint8 bad[32];
	guint8 bad384[48] = {0};
	KlFinding *finding;
	g_autofree gchar *expected = kl_pcr_bank_get_hex(replayed, 4);

	for (guint i = 0; i < KL_TPM_PCR_COUNT; i++) {
		gsize len = 0;
		const guint8 *value = g_bytes_get_data(kl_pcr_bank_get(replayed, i), &len);
		g_assert_true(kl_pcr_bank_set(quoted, i, value, len, NULL));
	}
	g_assert_true(
		kl_eventlog_compare_pcrs(log, quoted, KL_EVENTLOG_MEASURED_BOOT_PCRS, findings));
	g_assert_cmpuint(findings->len, ==, 0);

	/* PCR 4 wrong: one finding; PCR 10 wrong: not a measured boot PCR */
	memset(bad, 0xab, sizeof(bad));
	g_assert_true(kl_pcr_bank_set(quoted, 4, bad, sizeof(bad), NULL));
	g_assert_true(kl_pcr_bank_set(quoted, 10, bad, sizeof(bad), NULL));
	g_assert_false(
		kl_eventlog_compare_pcrs(log, quoted, KL_EVENTLOG_MEASURED_BOOT_PCRS, findings));
	g_assert_cmpuint(findings->len, ==, 1);
	finding = g_ptr_array_index(findings, 0);
	g_assert_cmpstr(finding->event_id, ==, "measured_boot.invalid_pcr_4");
	g_assert_nonnull(strstr(finding->context_json, expected));
	g_assert_nonnull(strstr(finding->context_json, "abababab"));

	/* a bank the log lacks */
	g_ptr_array_set_size(findings, 0);
	g_assert_true(kl_pcr_bank_set(sha384, 0, bad384, sizeof(bad384), NULL));
	g_assert_false(
		kl_eventlog_compare_pcrs(log, sha384, KL_EVENTLOG_MEASURED_BOOT_PCRS, findings));
	g_assert_cmpuint(findings->len, ==, 1);
	finding = g_ptr_array_index(findings, 0);
	g_assert_cmpstr(finding->event_id, ==, "measured_boot.parser.invalid_pcrs_hashes");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/eventlog/oracle/bios", kl_eventlog_test_oracle_bios);
	g_test_add_func("/eventlog/oracle/secureboot", kl_eventlog_test_oracle_secureboot);
	g_test_add_func("/eventlog/startup-locality", kl_eventlog_test_startup_locality);
	g_test_add_func("/eventlog/unused-pcrs", kl_eventlog_test_unused_pcrs);
	g_test_add_func("/eventlog/boot-aggregate", kl_eventlog_test_boot_aggregate);
	g_test_add_func("/eventlog/guid", kl_eventlog_test_guid);
	g_test_add_func("/eventlog/secureboot-variables", kl_eventlog_test_secureboot_variables);
	g_test_add_func("/eventlog/ipl-and-images", kl_eventlog_test_ipl_and_images);
	g_test_add_func("/eventlog/other-events", kl_eventlog_test_other_events);
	g_test_add_func("/eventlog/bogus-and-empty", kl_eventlog_test_bogus_and_empty);
	g_test_add_func("/eventlog/truncated", kl_eventlog_test_truncated);
	g_test_add_func("/eventlog/hostile", kl_eventlog_test_hostile);
	g_test_add_func("/eventlog/bad-signature-list", kl_eventlog_test_bad_signature_list);
	g_test_add_func("/eventlog/compare", kl_eventlog_test_compare);
	return g_test_run();
}
