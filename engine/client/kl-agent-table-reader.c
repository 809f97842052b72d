/*
 * kl-agent-table-reader: the read-only side of the agent table's sequence
 * lock (see engine/verifier/kl-agent-table.c for the writer's half): load
 * the counter with acquire, copy the words with relaxed atomic loads, an
 * acquire fence, load the counter again and keep the copy only if both are
 * the same even value.
 */
#define G_LOG_DOMAIN "KlClient"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kl-agent-table-reader.h"
#include "kl-error.h"

/* A writer holds the counter odd for well under a microsecond; past this
 * many attempts the writer was preempted mid-record and the caller keeps
 * the previous value rather than spin. */
#define KL_AGENT_TABLE_READ_ATTEMPTS 256

struct _KlAgentTableReader {
	int fd;
	const guint8 *map;
	gsize map_size;
	guint capacity;	 /* records inside the mapping */
	gboolean broken; /* the segment shrank under the mapping: never touch it again */
};

static const KlAgentTableHeader *
kl_agent_table_reader_header(KlAgentTableReader *self)
{
	return (const KlAgentTableHeader *)self->map;
}

static gboolean
kl_agent_table_reader_stat(KlAgentTableReader *self, gsize *size, GError **error)
{
	struct stat st;

	if (fstat(self->fd, &st) != 0) {
		kl_agent_table_set_errno(error, errno, "fstat", "segment");
		return FALSE;
	}
	if (!S_ISREG(st.st_mode)) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "agent table segment is not a shared-memory object");
		return FALSE;
	}
	/* Whoever can write the segment can truncate it under our mapping, and
	 * a read past its end is SIGBUS; only its owner may. */
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_PERMISSION_DENIED,
			    "agent table segment is writable by other users (mode %04o)",
			    (guint)(st.st_mode & 07777));
		return FALSE;
	}
	if (st.st_size < 0 || (guint64)st.st_size > G_MAXSIZE) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "agent table segment has an invalid size");
		return FALSE;
	}
	*size = (gsize)st.st_size;
	return TRUE;
}

KlAgentTableReader *
kl_agent_table_reader_new_for_fd(int fd, GError **error)
{
	g_autoptr(KlAgentTableReader) self = g_new0(KlAgentTableReader, 1);
	KlAgentTableHeader header;
	gsize size = 0;
	gssize n;

	g_return_val_if_fail(fd >= 0, NULL);

	self->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (self->fd < 0) {
		kl_agent_table_set_errno(error, errno, "dup", "segment");
		return NULL;
	}
	if (!kl_agent_table_reader_stat(self, &size, error))
		return NULL;
	if (size < sizeof(header)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "agent table segment of %" G_GSIZE_FORMAT " bytes has no header",
			    size);
		return NULL;
	}
	/* Validate a copy first: nothing is mapped before its sizes are known
	 * to fit in the segment. */
	n = pread(self->fd, &header, sizeof(header), 0);
	if (n != (gssize)sizeof(header)) {
		kl_agent_table_set_errno(error, n < 0 ? errno : EIO, "read", "segment");
		return NULL;
	}
	if (!kl_agent_table_check_header(&header, header.capacity, size, &self->capacity, error))
		return NULL;
	self->map_size = kl_agent_table_segment_size(self->capacity);
	self->map = mmap(NULL, self->map_size, PROT_READ, MAP_SHARED, self->fd, 0);
	if (self->map == MAP_FAILED) {
		self->map = NULL;
		kl_agent_table_set_errno(error, errno, "mmap", "segment");
		return NULL;
	}
	return g_steal_pointer(&self);
}

KlAgentTableReader *
kl_agent_table_reader_open(const gchar *name, GError **error)
{
	KlAgentTableReader *self;
	int fd;

	if (!kl_agent_table_validate_name(name, error))
		return NULL;
	fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		kl_agent_table_set_errno(error, errno, "shm_open", name);
		return NULL;
	}
	self = kl_agent_table_reader_new_for_fd(fd, error);
	close(fd);
	if (self == NULL)
		g_prefix_error(error, "%s: ", name);
	return self;
}

void
kl_agent_table_reader_close(KlAgentTableReader *self)
{
	if (self == NULL)
		return;
	if (self->map != NULL)
		munmap((gpointer)self->map, self->map_size);
	if (self->fd >= 0)
		close(self->fd);
	g_free(self);
}

gboolean
kl_agent_table_reader_refresh(KlAgentTableReader *self, GError **error)
{
	const KlAgentTableHeader *header;
	guint64 capacity;
	guint checked = 0;
	gsize size = 0;
	gpointer map;

	g_return_val_if_fail(self != NULL, FALSE);

	if (self->broken) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_UNAVAILABLE,
				    "agent table segment shrank; open it again");
		return FALSE;
	}
	if (!kl_agent_table_reader_stat(self, &size, error))
		return FALSE;
	if (size < self->map_size) {
		/* Only a hostile owner shrinks a segment; from now on no read
		 * touches the mapping. */
		self->broken = TRUE;
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_UNAVAILABLE,
			    "agent table segment shrank from %" G_GSIZE_FORMAT
			    " to %" G_GSIZE_FORMAT " bytes",
			    self->map_size,
			    size);
		return FALSE;
	}
	header = kl_agent_table_reader_header(self);
	capacity = __atomic_load_n(&header->capacity, __ATOMIC_ACQUIRE);
	if (capacity <= self->capacity)
		return TRUE;
	if (!kl_agent_table_check_header(header, capacity, size, &checked, error))
		return FALSE;
	map = mremap((gpointer)self->map,
		     self->map_size,
		     kl_agent_table_segment_size(checked),
		     MREMAP_MAYMOVE);
	if (map == MAP_FAILED) {
		kl_agent_table_set_errno(error, errno, "mremap", "segment");
		return FALSE;
	}
	self->map = map;
	self->map_size = kl_agent_table_segment_size(checked);
	self->capacity = checked;
	return TRUE;
}

guint
kl_agent_table_reader_get_count(KlAgentTableReader *self)
{
	guint64 n_slots;

	g_return_val_if_fail(self != NULL, 0);

	if (self->broken)
		return 0;
	n_slots = __atomic_load_n(&kl_agent_table_reader_header(self)->n_slots, __ATOMIC_ACQUIRE);
	return (guint)MIN(n_slots, (guint64)self->capacity);
}

guint
kl_agent_table_reader_get_n_agents(KlAgentTableReader *self)
{
	guint64 n_agents;

	g_return_val_if_fail(self != NULL, 0);

	if (self->broken)
		return 0;
	n_agents = __atomic_load_n(&kl_agent_table_reader_header(self)->n_agents, __ATOMIC_ACQUIRE);
	return (guint)MIN(n_agents, (guint64)kl_agent_table_reader_get_count(self));
}

guint64
kl_agent_table_reader_get_generation(KlAgentTableReader *self)
{
	g_return_val_if_fail(self != NULL, 0);
	if (self->broken)
		return 0;
	return __atomic_load_n(&kl_agent_table_reader_header(self)->generation, __ATOMIC_ACQUIRE);
}

gint64
kl_agent_table_reader_get_writer_pid(KlAgentTableReader *self)
{
	g_return_val_if_fail(self != NULL, 0);
	if (self->broken)
		return 0;
	return __atomic_load_n(&kl_agent_table_reader_header(self)->writer_pid, __ATOMIC_RELAXED);
}

gboolean
kl_agent_table_reader_is_closed(KlAgentTableReader *self)
{
	guint32 flags;

	g_return_val_if_fail(self != NULL, TRUE);

	if (self->broken)
		return TRUE;
	flags = __atomic_load_n(&kl_agent_table_reader_header(self)->flags, __ATOMIC_ACQUIRE);
	return (flags & KL_AGENT_TABLE_HEADER_CLOSED) != 0;
}

gboolean
kl_agent_table_reader_read(KlAgentTableReader *self, guint index, KlAgentTableRecord *out)
{
	const KlAgentTableSlot *slot;
	KlAgentTableSlot copy;
	guint64 *dest = (guint64 *)(gpointer)((guint8 *)&copy + sizeof(guint64));
	const guint64 *src;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(out != NULL, FALSE);

	if (self->broken || index >= self->capacity)
		return FALSE;
	slot = (const KlAgentTableSlot *)(gconstpointer)(self->map + KL_AGENT_TABLE_HEADER_SIZE +
							 (gsize)index * KL_AGENT_TABLE_RECORD_SIZE);
	src = (const guint64 *)(gconstpointer)((const guint8 *)slot + sizeof(guint64));
	for (guint attempt = 0; attempt < KL_AGENT_TABLE_READ_ATTEMPTS; attempt++) {
		guint64 before = __atomic_load_n(&slot->seq, __ATOMIC_ACQUIRE);
		guint64 after;

		if ((before & 1) == 0) {
			for (gsize i = 0; i < KL_AGENT_TABLE_PAYLOAD_WORDS; i++)
				dest[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			after = __atomic_load_n(&slot->seq, __ATOMIC_RELAXED);
			if (after == before)
				return kl_agent_table_slot_to_record(&copy, out);
		}
		if (attempt >= 8)
			sched_yield();
	}
	return FALSE;
}
