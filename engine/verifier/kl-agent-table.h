/*
 * kl-agent-table: the verifier's live agent table in one POSIX shared-memory
 * segment, written by the verifier's main loop and mapped read-only by the
 * consoles on the same host, so that they can render 100 000 agents without
 * a D-Bus round trip (ARCHITECTURE.md, "The shared-memory engine").
 *
 * The segment is created with mode 0644 so that consoles of other users can
 * map it.  It holds no secrets — no keys, no V, no policies, no quotes —
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
 *
 * Growth: the segment grows in place.  When every slot is taken, the writer
 * doubles the capacity with ftruncate() and remaps its own view; records
 * never move, so a slot index stays valid for the agent's lifetime and the
 * segment keeps its name (the D-Bus property ShmName never changes).
 * Readers see the larger capacity in the header and remap on
 * kl_agent_table_reader_refresh().  tmpfs allocates pages only when they
 * are written, so a doubled capacity costs nothing until it is used, and
 * no maximum has to be reserved up front; the capacity is bounded by
 * KL_AGENT_TABLE_MAX_CAPACITY.  The segment never shrinks.
 *
 * Writer side: single writer (the main loop) and not thread safe by design.
 * Reader side: needs no main loop; one KlAgentTableReader per thread.
 * A reader treats the segment as hostile: the header is checked against the
 * segment's real size, every index against the mapped size, every record's
 * fields against their ranges; a segment writable by other users (which
 * could be truncated under the reader's mapping) is refused.
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

/* Fills one of a record's strings: at most @dest_size - 1 bytes of valid
 * UTF-8 cut at a character boundary (an event id longer than upstream's
 * varchar(200) is cut, never split inside a character), control
 * characters replaced by '?', NUL-padded.  kl_agent_table_update() applies
 * the same to whatever the record holds. */
void kl_agent_table_set_string(gchar *dest, gsize dest_size, const gchar *src);

/* Writer: owns the segment, unlinks it when freed.  _new() picks a name
 * "/keylime-verifier-<pid>-<random>"; both create it with O_EXCL and never
 * take over an existing segment.  _add() hands out a slot index that stays
 * the agent's until _remove(); freed slots are reused.  _update() writes
 * every field but the agent id and the in-use flag, which the table owns. */
typedef struct _KlAgentTable KlAgentTable;

KlAgentTable *kl_agent_table_new(guint capacity, GError **error);
KlAgentTable *kl_agent_table_new_with_name(const gchar *name, guint capacity, GError **error);
void kl_agent_table_free(KlAgentTable *self);
const gchar *kl_agent_table_get_name(KlAgentTable *self);
guint kl_agent_table_get_capacity(KlAgentTable *self);
guint kl_agent_table_get_n_agents(KlAgentTable *self);
gboolean kl_agent_table_add(KlAgentTable *self, const gchar *agent_id, guint *slot, GError **error);
void kl_agent_table_remove(KlAgentTable *self, guint slot);
gboolean kl_agent_table_lookup(KlAgentTable *self, const gchar *agent_id, guint *slot);
void kl_agent_table_get(KlAgentTable *self, guint slot, KlAgentTableRecord *out);
void kl_agent_table_update(KlAgentTable *self, guint slot, const KlAgentTableRecord *record);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlAgentTable, kl_agent_table_free)

/* Reader: a read-only mapping of a writer's segment (PROT_READ, MAP_SHARED).
 * _get_count() is the number of slot indexes to scan, free ones included;
 * _read() fills @out and returns TRUE only for a consistent copy of a slot
 * in use whose fields are all in range (it retries a bounded number of
 * times while the writer is inside the record).  _refresh() maps records
 * added since the segment grew and fails once the segment shrank, after
 * which nothing reads the mapping again.  _is_closed() tells that the
 * writer freed the table (the mapping stays readable).  _new_for_fd()
 * duplicates @fd. */
typedef struct _KlAgentTableReader KlAgentTableReader;

KlAgentTableReader *kl_agent_table_reader_open(const gchar *name, GError **error);
KlAgentTableReader *kl_agent_table_reader_new_for_fd(int fd, GError **error);
void kl_agent_table_reader_close(KlAgentTableReader *self);
gboolean kl_agent_table_reader_refresh(KlAgentTableReader *self, GError **error);
guint kl_agent_table_reader_get_count(KlAgentTableReader *self);
guint kl_agent_table_reader_get_n_agents(KlAgentTableReader *self);
guint64 kl_agent_table_reader_get_generation(KlAgentTableReader *self);
gint64 kl_agent_table_reader_get_writer_pid(KlAgentTableReader *self);
gboolean kl_agent_table_reader_is_closed(KlAgentTableReader *self);
gboolean kl_agent_table_reader_read(KlAgentTableReader *self, guint index, KlAgentTableRecord *out);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlAgentTableReader, kl_agent_table_reader_close)

G_END_DECLS
