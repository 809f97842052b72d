/*
 * kl-agent-table-reader: a read-only mapping of the verifier's live agent
 * table (the layout is kl-agent-table-format.h; the writer is
 * engine/verifier/kl-agent-table.h), for consoles on the verifier's host.
 *
 * A reader treats the segment as hostile: the header is checked against the
 * segment's real size, every index against the mapped size, every record's
 * fields against their ranges; a segment writable by other users (which
 * could be truncated under the reader's mapping) is refused.  It needs no
 * main loop; one KlAgentTableReader per thread.
 *
 * _get_count() is the number of slot indexes to scan, free ones included;
 * _read() fills @out and returns TRUE only for a consistent copy of a slot
 * in use whose fields are all in range (it retries a bounded number of
 * times while the writer is inside the record).  _refresh() maps records
 * added since the segment grew and fails once the segment shrank, after
 * which nothing reads the mapping again.  _is_closed() tells that the
 * writer freed the table (the mapping stays readable).  _new_for_fd()
 * duplicates @fd.
 */
#pragma once

#include <glib.h>

#include "kl-agent-table-format.h"

G_BEGIN_DECLS

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
