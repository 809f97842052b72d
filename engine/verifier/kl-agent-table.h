/*
 * kl-agent-table: the writer of the verifier's live agent table in one POSIX
 * shared-memory segment, written by the verifier's main loop and mapped
 * read-only by the consoles on the same host, so that they can render
 * 100 000 agents without a D-Bus round trip (ARCHITECTURE.md, "The
 * shared-memory engine").  The layout and KlAgentTableRecord are in
 * kl-agent-table-format.h (libkl-core); the reader is KlAgentTableReader
 * in engine/client/kl-agent-table-reader.h (libkl-client).
 *
 * The segment is created with mode 0644 so that consoles of other users can
 * map it; it holds no secrets (see kl-agent-table-format.h).
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
 * Single writer (the main loop) and not thread safe by design.
 */
#pragma once

#include <glib.h>

#include "kl-agent-table-format.h"

G_BEGIN_DECLS

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

G_END_DECLS
