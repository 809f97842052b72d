/*
 * kl-eventlog: the UEFI measured boot log (TCG PC Client "crypto agile"
 * binary_bios_measurements) parsed natively: the SHA-1 format Spec ID
 * event, then TCG_PCR_EVENT2 records; the event data Keylime's boot
 * policies look at decoded (EFI variables and signature lists, image
 * loads with device paths, GPT, EV_IPL strings, ...); every bank replayed
 * into PCRs 0-23 with boot aggregates; the replay compared with quoted
 * PCRs as findings; and the log in upstream's tpm2_eventlog JSON shape
 * (spec §7.1) for the boot policy engine.
 *
 * The log comes from an untrusted machine: every length and count is
 * checked, and a malformed log is a KL_EVENTLOG_ERROR naming the event,
 * the byte offset and the field.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "kl-finding.h"
#include "kl-tpm-types.h"

G_BEGIN_DECLS

#define KL_EVENTLOG_ERROR kl_eventlog_error_quark()

typedef enum {
	KL_EVENTLOG_ERROR_INVALID_DATA, /* malformed log: message names offset and field */
	KL_EVENTLOG_ERROR_NOT_FOUND,	/* e.g. a bank the log does not carry */
} KlEventlogError;

GQuark kl_eventlog_error_quark(void);

/* TCG PC Client event types (EFI ones from 0x80000000) */
#define KL_EV_PREBOOT_CERT		    0x00000000u
#define KL_EV_POST_CODE			    0x00000001u
#define KL_EV_UNUSED			    0x00000002u
#define KL_EV_NO_ACTION			    0x00000003u
#define KL_EV_SEPARATOR			    0x00000004u
#define KL_EV_ACTION			    0x00000005u
#define KL_EV_EVENT_TAG			    0x00000006u
#define KL_EV_S_CRTM_CONTENTS		    0x00000007u
#define KL_EV_S_CRTM_VERSION		    0x00000008u
#define KL_EV_CPU_MICROCODE		    0x00000009u
#define KL_EV_PLATFORM_CONFIG_FLAGS	    0x0000000au
#define KL_EV_TABLE_OF_DEVICES		    0x0000000bu
#define KL_EV_COMPACT_HASH		    0x0000000cu
#define KL_EV_IPL			    0x0000000du
#define KL_EV_IPL_PARTITION_DATA	    0x0000000eu
#define KL_EV_NONHOST_CODE		    0x0000000fu
#define KL_EV_NONHOST_CONFIG		    0x00000010u
#define KL_EV_NONHOST_INFO		    0x00000011u
#define KL_EV_OMIT_BOOT_DEVICE_EVENTS	    0x00000012u
#define KL_EV_EFI_EVENT_BASE		    0x80000000u
#define KL_EV_EFI_VARIABLE_DRIVER_CONFIG    0x80000001u
#define KL_EV_EFI_VARIABLE_BOOT		    0x80000002u
#define KL_EV_EFI_BOOT_SERVICES_APPLICATION 0x80000003u
#define KL_EV_EFI_BOOT_SERVICES_DRIVER	    0x80000004u
#define KL_EV_EFI_RUNTIME_SERVICES_DRIVER   0x80000005u
#define KL_EV_EFI_GPT_EVENT		    0x80000006u
#define KL_EV_EFI_ACTION		    0x80000007u
#define KL_EV_EFI_PLATFORM_FIRMWARE_BLOB    0x80000008u
#define KL_EV_EFI_HANDOFF_TABLES	    0x80000009u
#define KL_EV_EFI_PLATFORM_FIRMWARE_BLOB2   0x8000000au
#define KL_EV_EFI_HANDOFF_TABLES2	    0x8000000bu
#define KL_EV_EFI_VARIABLE_BOOT2	    0x8000000cu
#define KL_EV_EFI_HCRTM_EVENT		    0x80000010u
#define KL_EV_EFI_VARIABLE_AUTHORITY	    0x800000e0u
#define KL_EV_EFI_SPDM_FIRMWARE_BLOB	    0x800000e1u
#define KL_EV_EFI_SPDM_FIRMWARE_CONFIG	    0x800000e2u

/* "EV_IPL", "EV_EFI_VARIABLE_DRIVER_CONFIG", ...; NULL if unknown (the
 * JSON then spells it as tpm2_eventlog does: the number in hex). */
const gchar *kl_event_type_to_string(guint32 type);

/* EFI GUID in its mixed-endian text form, e.g. the EFI global variable
 * GUID 8be4df61-93ca-11d2-aa0d-00e098032b8c from bytes 61 df e4 8b ... */
gchar *kl_efi_guid_to_string(const guint8 guid[16]);

/* Well-known GUIDs, lower case, as kl_efi_guid_to_string() prints them */
#define KL_EFI_GUID_GLOBAL_VARIABLE "8be4df61-93ca-11d2-aa0d-00e098032b8c"
#define KL_EFI_GUID_IMAGE_SECURITY  "d719b2cb-3d3a-4596-a3bc-dad00e67656f" /* db, dbx */
#define KL_EFI_GUID_SHIM_LOCK	    "605dab50-e046-4300-abb6-3dd810dd8b23" /* MokList, SbatLevel */
#define KL_EFI_GUID_CERT_X509	    "a5c059a1-94e4-4aa7-87b5-ab155c2bf072"
#define KL_EFI_GUID_CERT_SHA256	    "c1c41626-504c-4092-aca9-41f936934328"

/* One EFI_SIGNATURE_DATA, with the type of the EFI_SIGNATURE_LIST it was in. */
typedef struct {
	gchar *signature_type; /* GUID text */
	gchar *owner;	       /* SignatureOwner GUID text */
	GBytes *data;	       /* SignatureData: DER certificate, SHA-256 digest, ... */
} KlEfiSignature;

/* UEFI_VARIABLE_DATA of EV_EFI_VARIABLE_* events */
typedef struct {
	gchar *guid;	       /* VariableName GUID text */
	gchar *name;	       /* UnicodeName as UTF-8 */
	GBytes *data;	       /* VariableData, raw */
	GPtrArray *signatures; /* KlEfiSignature; for PK KEK db dbx MokList MokListX
				* and EV_EFI_VARIABLE_AUTHORITY; NULL otherwise */
	gint secure_boot;      /* SecureBoot: 1 enabled, 0 disabled; -1 other variables */
} KlEfiVariable;

/* UEFI_IMAGE_LOAD_EVENT of EV_EFI_BOOT_SERVICES_* / RUNTIME_SERVICES_DRIVER */
typedef struct {
	guint64 location;
	guint64 length;
	guint64 link_time_address;
	gchar *device_path; /* text: HD(1,GPT,...)/\EFI\BOOT\BOOTX64.EFI; raw hex for unknown nodes */
} KlEfiImageLoad;

typedef enum {
	KL_EVENT_DECODED_NONE,		   /* raw data only */
	KL_EVENT_DECODED_SPEC_ID,	   /* first event */
	KL_EVENT_DECODED_STARTUP_LOCALITY, /* EV_NO_ACTION "StartupLocality" */
	KL_EVENT_DECODED_STRING,	   /* EV_IPL, EV_EFI_ACTION, EV_S_CRTM_VERSION, ... */
	KL_EVENT_DECODED_VARIABLE,	   /* EV_EFI_VARIABLE_* */
	KL_EVENT_DECODED_IMAGE_LOAD,	   /* EV_EFI_BOOT_SERVICES_APPLICATION, ... */
	KL_EVENT_DECODED_OTHER,		   /* blobs, GPT, handoff tables, post codes: JSON only */
} KlEventDecoded;

/* One digest of one event */
typedef struct {
	TPM2_ALG_ID alg;
	const gchar *alg_name; /* "sha256"; NULL if the algorithm is not known to us */
	GBytes *digest;
} KlEventDigest;

/* One record of the log; owned by the KlEventLog, read-only. */
typedef struct {
	guint number; /* EventNum as tpm2_eventlog counts: 0 is the Spec ID event */
	guint32 pcr;
	guint32 type;
	const gchar *type_name; /* kl_event_type_to_string(); NULL if unknown */
	gsize offset;		/* of the record in the log */
	GPtrArray *digests;	/* KlEventDigest; one SHA-1 digest for event 0 */
	GBytes *data;		/* the event data, raw */
	KlEventDecoded decoded;
	gchar *string;		 /* KL_EVENT_DECODED_STRING: the text, NULs/escapes stripped */
	KlEfiVariable *variable; /* KL_EVENT_DECODED_VARIABLE */
	KlEfiImageLoad *image;	 /* KL_EVENT_DECODED_IMAGE_LOAD */
	JsonNode *event;	 /* the decoded "Event" member of the JSON shape */
} KlEvent;

/* Digest of @event in bank @alg as a borrowed GBytes; NULL if absent */
GBytes *kl_event_get_digest(const KlEvent *event, TPM2_ALG_ID alg);
/* {"EventNum","PCRIndex","EventType","DigestCount","Digests":[{"AlgorithmId","Digest"}],
 *  "EventSize","Event"} (upstream's shape, §7.1); new reference */
JsonNode *kl_event_to_json(const KlEvent *event);

typedef struct _KlEventLog KlEventLog;

/* Parses and replays.  An empty log is an error too (it names offset 0). */
KlEventLog *kl_eventlog_new_from_data(const guint8 *data, gsize size, GError **error);
void kl_eventlog_free(KlEventLog *self);

/* events, number 0 (Spec ID) first; borrowed array of KlEvent */
GPtrArray *kl_eventlog_get_events(KlEventLog *self);
/* the banks of the Spec ID event, in its order */
const TPM2_ALG_ID *kl_eventlog_get_algorithms(KlEventLog *self, guint *n_algs);
/* StartupLocality (0 if the log has none) */
guint8 kl_eventlog_get_startup_locality(KlEventLog *self);

/* Replayed PCRs 0-23 of bank @alg (borrowed); NULL with @error if the log
 * does not carry that bank or we cannot hash it. */
KlPcrBank *kl_eventlog_get_pcrs(KlEventLog *self, TPM2_ALG_ID alg, GError **error);
/* All replayed banks, in Spec ID order (borrowed array of KlPcrBank) */
GPtrArray *kl_eventlog_get_pcr_banks(KlEventLog *self);
/* H(PCR0||...||PCR@last_pcr) of the replayed bank; @last_pcr is 7 or 9 */
gchar *
kl_eventlog_get_boot_aggregate(KlEventLog *self, TPM2_ALG_ID alg, guint last_pcr, GError **error);

/* {"events": [...], "pcrs": {"sha256": {"0": "hex", ...}},
 *  "boot_aggregates": {"sha256": ["<0-7>", "<0-9>"]}}; new reference */
JsonNode *kl_eventlog_to_json(KlEventLog *self);
/* just the "events" array, what the boot policy engine iterates; new reference */
JsonNode *kl_eventlog_events_to_json(KlEventLog *self);

/* PCRs Keylime checks against the log: 0-9 and 11-14 */
#define KL_EVENTLOG_MEASURED_BOOT_PCRS 0x7bffu

/* Compares the replay with @quoted for each PCR in @mask that @quoted
 * carries (pass KL_EVENTLOG_MEASURED_BOOT_PCRS).  A mismatch appends
 * measured_boot.invalid_pcr_<n> (context got = quoted, expected = replayed)
 * to @findings; a bank the log lacks appends
 * measured_boot.parser.invalid_pcrs_hashes.  TRUE if nothing was appended. */
gboolean
kl_eventlog_compare_pcrs(KlEventLog *self, KlPcrBank *quoted, guint32 mask, GPtrArray *findings);

/* The finding for a log that failed to parse:
 * measured_boot.parser.tpm2_eventlog.error with the error message. */
KlFinding *kl_eventlog_parse_failure_finding(const GError *error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlEventLog, kl_eventlog_free)

G_END_DECLS
