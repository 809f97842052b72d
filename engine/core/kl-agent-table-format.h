/*
 * kl-agent-table-format: the layout of the verifier's live agent table in
 * POSIX shared memory, shared by its one writer (engine/verifier,
 * kl-agent-table.h) and its read-only readers (engine/client,
 * kl-agent-table-reader.h), so that both sides agree on every byte and
 * every check.  It lives in libkl-core because the engine must not link the
 * consoles' client library and the client must not link the engine; the
 * layout itself is pure data and a parser of outside input.
 *
 * The segment holds no secrets — no keys, no V, no policies, no quotes —
 * only what `keylime_tenant -c status` shows to an operator: agent id,
 * operational state, severity, last event id, address, counters, times and
 * negotiated algorithms.
 *
 * Layout (host byte order; version 1): a 128-byte header (magic, layout
 * version, header and record sizes, capacity, number of slots ever used,
 * number of live agents, a generation counter bumped on every change, the
 * writer's pid, flags), then `capacity` records of 448 bytes.  Each record
 * starts with a 64-bit sequence counter: the writer makes it odd, writes the
 * record, makes it even again; a reader copies the record between two reads
 * of the counter and keeps the copy only if both are the same even value.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Upstream's verifiermain.agent_id is varchar(80); the table keeps the
 * same bound, so every agent the verifier stores fits. */
#define KL_AGENT_TABLE_AGENT_ID_SIZE	  80
#define KL_AGENT_TABLE_LAST_EVENT_ID_SIZE 200 /* varchar(200), NUL included here */
#define KL_AGENT_TABLE_IP_SIZE		  64
#define KL_AGENT_TABLE_ALG_SIZE		  16 /* upstream's hash_alg etc. are varchar(10) */

#define KL_AGENT_TABLE_RECORD_SIZE    448 /* bytes per agent in the segment */
#define KL_AGENT_TABLE_HEADER_SIZE    128
#define KL_AGENT_TABLE_MAX_CAPACITY   (4u * 1024u * 1024u)
#define KL_AGENT_TABLE_LAYOUT_VERSION 1

/* Upstream's operational states are 0 (REGISTERED) to 10 (TENANT_FAILED),
 * spec §3; a new record starts in START. */
#define KL_AGENT_TABLE_STATE_START 1
#define KL_AGENT_TABLE_STATE_MAX   10

#define KL_AGENT_TABLE_MAGIC	     "KLAGTBL\n"
#define KL_AGENT_TABLE_HEADER_CLOSED (1u << 0) /* header flag: the writer is gone */

typedef enum {
	KL_AGENT_TABLE_FLAG_IN_USE = 1 << 0,  /* the slot holds an agent */
	KL_AGENT_TABLE_FLAG_STOPPED = 1 << 1, /* polling stopped (failed or tenant stop) */
	KL_AGENT_TABLE_FLAG_PUSH = 1 << 2,    /* push-mode agent: no ip/port, state unused */
} KlAgentTableFlags;

/* One agent, as the writer gives it and a reader gets it back.  Strings are
 * NUL-terminated, valid UTF-8 without control characters; the writer
 * truncates longer ones at a character boundary (last_event_id, ip and the
 * algorithm names are for display). */
typedef struct {
	gchar agent_id[KL_AGENT_TABLE_AGENT_ID_SIZE + 1];
	gint32 operational_state; /* 0–10, spec §3 */
	gint32 severity_level;	  /* index into severity_labels, -1 when none */
	gchar last_event_id[KL_AGENT_TABLE_LAST_EVENT_ID_SIZE];
	gchar ip[KL_AGENT_TABLE_IP_SIZE];
	guint16 port;		      /* 0 when none (push mode) */
	gint64 last_attestation;      /* unix s of the last received quote, 0 = never */
	gint64 last_success;	      /* unix s of the last successful attestation, 0 = never */
	guint64 attestation_count;    /* successful attestations, as upstream counts them */
	guint32 consecutive_failures; /* consecutive_attestation_failures */
	guint32 flags;		      /* KlAgentTableFlags */
	gchar hash_alg[KL_AGENT_TABLE_ALG_SIZE];
	gchar sign_alg[KL_AGENT_TABLE_ALG_SIZE];
	gchar enc_alg[KL_AGENT_TABLE_ALG_SIZE];
} KlAgentTableRecord;

/* The segment's header, as laid out in memory. */
typedef struct {
	gchar magic[8];
	guint32 version;
	guint32 header_size;
	guint32 record_size;
	guint32 flags;	    /* KL_AGENT_TABLE_HEADER_CLOSED once the writer is gone */
	guint64 capacity;   /* records the segment is sized for */
	guint64 n_slots;    /* slots [0, n_slots) have been used; readers scan that far */
	guint64 n_agents;   /* slots in use */
	guint64 generation; /* bumped on every change */
	gint64 writer_pid;
	guint8 reserved[64];
} KlAgentTableHeader;

/* One record of the segment, as laid out in memory. */
typedef struct {
	guint64 seq; /* odd while the writer is inside the record */
	guint32 flags;
	gint32 operational_state;
	gint32 severity_level;
	guint32 consecutive_failures;
	gint64 last_attestation;
	gint64 last_success;
	guint64 attestation_count;
	guint16 port;
	guint8 reserved[6];
	gchar agent_id[KL_AGENT_TABLE_AGENT_ID_SIZE]; /* NUL-padded, 80 bytes may be used */
	gchar ip[KL_AGENT_TABLE_IP_SIZE];	      /* the others NUL-terminated */
	gchar last_event_id[KL_AGENT_TABLE_LAST_EVENT_ID_SIZE];
	gchar hash_alg[KL_AGENT_TABLE_ALG_SIZE];
	gchar sign_alg[KL_AGENT_TABLE_ALG_SIZE];
	gchar enc_alg[KL_AGENT_TABLE_ALG_SIZE];
} KlAgentTableSlot;

/* The record after its counter, copied as 64-bit words. */
#define KL_AGENT_TABLE_PAYLOAD_WORDS \
	((KL_AGENT_TABLE_RECORD_SIZE - sizeof(guint64)) / sizeof(guint64))

/* Bytes of a segment of @capacity records. */
gsize kl_agent_table_segment_size(guint64 capacity);

/* Fills one of a record's strings: at most @dest_size - 1 bytes of valid
 * UTF-8 cut at a character boundary (an event id longer than upstream's
 * varchar(200) is cut, never split inside a character), control
 * characters replaced by '?', NUL-padded.  kl_agent_table_update() applies
 * the same to whatever the record holds. */
void kl_agent_table_set_string(gchar *dest, gsize dest_size, const gchar *src);
/* The same for @src_len bytes of @src, which need not be terminated. */
void kl_agent_table_copy_string(gchar *dest, gsize dest_size, const gchar *src, gsize src_len);

/* A segment name of the form "/NAME" (shm_open's rules). */
gboolean kl_agent_table_validate_name(const gchar *name, GError **error);

/* Sets @error from a failed system call on the segment @name. */
void
kl_agent_table_set_errno(GError **error, int saved_errno, const gchar *what, const gchar *name);

/* Checks a header (a copy, or the live one, whose capacity the caller
 * loaded as @capacity) against the segment's real size; sets
 * *capacity_out to what may be mapped. */
gboolean kl_agent_table_check_header(const KlAgentTableHeader *header,
				     guint64 capacity,
				     gsize segment_size,
				     guint *capacity_out,
				     GError **error);

/* Converts a consistent copy of a slot; FALSE for a free slot or fields out
 * of range (a damaged or hostile segment). */
gboolean kl_agent_table_slot_to_record(const KlAgentTableSlot *slot, KlAgentTableRecord *out);

G_END_DECLS
