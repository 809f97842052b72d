/*
 * kl-agent-table: the live agent table in POSIX shared memory and its
 * single writer.  The layout is kl-agent-table-format.h (libkl-core); the
 * readers are engine/client/kl-agent-table-reader.c.
 *
 * The sequence lock follows Boehm's "Can seqlocks get along with
 * programming language memory models?" (MSPC 2012): the writer stores the
 * odd counter, issues a release fence, stores the record's words with
 * relaxed atomic stores and publishes the even counter with a release
 * store; a reader loads the counter with acquire, copies the words with
 * relaxed atomic loads, issues an acquire fence and loads the counter
 * again.  Copying word by word with atomics keeps the concurrent accesses
 * free of data races in the C11 sense; on x86-64 and arm64 they compile to
 * plain loads and stores.  The reader's half is in
 * engine/client/kl-agent-table-reader.c.
 */
#define G_LOG_DOMAIN "KlVerifier"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kl-agent-id.h"
#include "kl-agent-table.h"
#include "kl-error.h"

#define KL_AGENT_TABLE_MODE	    0644
#define KL_AGENT_TABLE_MIN_CAPACITY 64

struct _KlAgentTable {
	gchar *name;
	int fd;
	guint8 *map;
	gsize map_size;
	guint capacity;
	guint n_slots;
	guint n_agents;
	GHashTable *slots;  /* agent id → slot index + 1 */
	GArray *free_slots; /* guint, reused last in first out */
};

/* ---- writer ----------------------------------------------------------- */

static KlAgentTableHeader *
kl_agent_table_header(KlAgentTable *self)
{
	return (KlAgentTableHeader *)self->map;
}

static KlAgentTableSlot *
kl_agent_table_slot(KlAgentTable *self, guint index)
{
	return (KlAgentTableSlot *)(self->map + KL_AGENT_TABLE_HEADER_SIZE +
				    (gsize)index * KL_AGENT_TABLE_RECORD_SIZE);
}

static void
kl_agent_table_publish(KlAgentTable *self)
{
	KlAgentTableHeader *header = kl_agent_table_header(self);
	__atomic_store_n(&header->n_slots, (guint64)self->n_slots, __ATOMIC_RELEASE);
	__atomic_store_n(&header->n_agents, (guint64)self->n_agents, __ATOMIC_RELEASE);
	__atomic_store_n(&header->generation, header->generation + 1, __ATOMIC_RELEASE);
}

/* The only place a record of the segment is written. */
static void
kl_agent_table_write_slot(KlAgentTable *self, guint index, const KlAgentTableSlot *value)
{
	KlAgentTableSlot *slot = kl_agent_table_slot(self, index);
	guint64 seq = slot->seq; /* only this thread writes it */
	guint64 *dest = (guint64 *)(gpointer)((guint8 *)slot + sizeof(guint64));
	const guint64 *src =
		(const guint64 *)(gconstpointer)((const guint8 *)value + sizeof(guint64));

	__atomic_store_n(&slot->seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (gsize i = 0; i < KL_AGENT_TABLE_PAYLOAD_WORDS; i++)
		__atomic_store_n(&dest[i], src[i], __ATOMIC_RELAXED);
	__atomic_store_n(&slot->seq, seq + 2, __ATOMIC_RELEASE);
}

static gboolean
kl_agent_table_create(KlAgentTable *self, guint capacity, GError **error)
{
	KlAgentTableHeader *header;

	self->fd = shm_open(self->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, KL_AGENT_TABLE_MODE);
	if (self->fd < 0) {
		kl_agent_table_set_errno(error, errno, "shm_open", self->name);
		return FALSE;
	}
	/* shm_open() applies the umask; readers of other users need 0644. */
	if (fchmod(self->fd, KL_AGENT_TABLE_MODE) != 0) {
		kl_agent_table_set_errno(error, errno, "fchmod", self->name);
		return FALSE;
	}
	self->map_size = kl_agent_table_segment_size(capacity);
	if (ftruncate(self->fd, (off_t)self->map_size) != 0) {
		kl_agent_table_set_errno(error, errno, "ftruncate", self->name);
		return FALSE;
	}
	self->map = mmap(NULL, self->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	if (self->map == MAP_FAILED) {
		self->map = NULL;
		kl_agent_table_set_errno(error, errno, "mmap", self->name);
		return FALSE;
	}
	self->capacity = capacity;
	header = kl_agent_table_header(self);
	memcpy(header->magic, KL_AGENT_TABLE_MAGIC, sizeof(header->magic));
	header->version = KL_AGENT_TABLE_LAYOUT_VERSION;
	header->header_size = KL_AGENT_TABLE_HEADER_SIZE;
	header->record_size = KL_AGENT_TABLE_RECORD_SIZE;
	header->capacity = capacity;
	header->writer_pid = getpid();
	__atomic_thread_fence(__ATOMIC_RELEASE);
	return TRUE;
}

KlAgentTable *
kl_agent_table_new_with_name(const gchar *name, guint capacity, GError **error)
{
	g_autoptr(KlAgentTable) self = g_new0(KlAgentTable, 1);

	self->fd = -1;
	self->slots = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->free_slots = g_array_new(FALSE, FALSE, sizeof(guint));
	if (capacity == 0 || capacity > KL_AGENT_TABLE_MAX_CAPACITY) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "agent table capacity %u is not within 1 to %u",
			    capacity,
			    KL_AGENT_TABLE_MAX_CAPACITY);
		return NULL;
	}
	if (!kl_agent_table_validate_name(name, error))
		return NULL;
	self->name = g_strdup(name);
	/* On failure, freeing unlinks the name only if this call created it
	 * (fd >= 0). */
	if (!kl_agent_table_create(self, capacity, error))
		return NULL;
	return g_steal_pointer(&self);
}

KlAgentTable *
kl_agent_table_new(guint capacity, GError **error)
{
	/* A random part, so that a local user cannot create the name before
	 * the verifier does (O_EXCL would then fail, never reuse it). */
	for (guint attempt = 0;; attempt++) {
		g_autoptr(GError) error_local = NULL;
		g_autofree gchar *name = g_strdup_printf("/keylime-verifier-%d-%08x",
							 (gint)getpid(),
							 g_random_int());
		KlAgentTable *self = kl_agent_table_new_with_name(name, capacity, &error_local);
		if (self != NULL)
			return self;
		if (attempt >= 8 || !g_error_matches(error_local, KL_ERROR, KL_ERROR_CONFLICT)) {
			g_propagate_error(error, g_steal_pointer(&error_local));
			return NULL;
		}
	}
}

void
kl_agent_table_free(KlAgentTable *self)
{
	if (self == NULL)
		return;
	if (self->map != NULL) {
		KlAgentTableHeader *header = kl_agent_table_header(self);
		__atomic_store_n(&header->flags,
				 header->flags | KL_AGENT_TABLE_HEADER_CLOSED,
				 __ATOMIC_RELEASE);
		__atomic_store_n(&header->generation, header->generation + 1, __ATOMIC_RELEASE);
		munmap(self->map, self->map_size);
	}
	if (self->fd >= 0)
		close(self->fd);
	if (self->name != NULL && self->fd >= 0 && shm_unlink(self->name) != 0)
		g_warning("agent table %s: shm_unlink failed: %s", self->name, g_strerror(errno));
	g_hash_table_unref(self->slots);
	g_array_unref(self->free_slots);
	g_free(self->name);
	g_free(self);
}

const gchar *
kl_agent_table_get_name(KlAgentTable *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->name;
}

guint
kl_agent_table_get_capacity(KlAgentTable *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->capacity;
}

guint
kl_agent_table_get_n_agents(KlAgentTable *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->n_agents;
}

/* Doubles the segment in place; records keep their offsets. */
static gboolean
kl_agent_table_grow(KlAgentTable *self, GError **error)
{
	guint capacity = MIN(MAX(self->capacity * 2, KL_AGENT_TABLE_MIN_CAPACITY),
			     KL_AGENT_TABLE_MAX_CAPACITY);
	gsize size = kl_agent_table_segment_size(capacity);
	guint8 *map;

	if (capacity <= self->capacity) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_TOO_LARGE,
			    "agent table %s is full: %u agents",
			    self->name,
			    self->capacity);
		return FALSE;
	}
	if (ftruncate(self->fd, (off_t)size) != 0) {
		kl_agent_table_set_errno(error, errno, "ftruncate", self->name);
		return FALSE;
	}
	map = mremap(self->map, self->map_size, size, MREMAP_MAYMOVE);
	if (map == MAP_FAILED) {
		/* The old mapping is still valid; the segment is larger than
		 * the header says, which readers accept. */
		kl_agent_table_set_errno(error, errno, "mremap", self->name);
		return FALSE;
	}
	self->map = map;
	self->map_size = size;
	self->capacity = capacity;
	/* After ftruncate, so a reader never sees a capacity the file does
	 * not have. */
	__atomic_store_n(&kl_agent_table_header(self)->capacity,
			 (guint64)capacity,
			 __ATOMIC_RELEASE);
	return TRUE;
}

gboolean
kl_agent_table_add(KlAgentTable *self, const gchar *agent_id, guint *slot, GError **error)
{
	KlAgentTableSlot value = {0};
	guint index;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(slot != NULL, FALSE);

	if (!kl_agent_id_validate(agent_id, error))
		return FALSE;
	if (strlen(agent_id) > KL_AGENT_TABLE_AGENT_ID_SIZE) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "agent id is longer than %u characters",
			    (guint)KL_AGENT_TABLE_AGENT_ID_SIZE);
		return FALSE;
	}
	if (g_hash_table_contains(self->slots, agent_id)) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_CONFLICT,
			    "agent %s is already in the agent table",
			    agent_id);
		return FALSE;
	}
	if (self->free_slots->len > 0) {
		index = g_array_index(self->free_slots, guint, self->free_slots->len - 1);
		g_array_set_size(self->free_slots, self->free_slots->len - 1);
	} else {
		if (self->n_slots == self->capacity && !kl_agent_table_grow(self, error))
			return FALSE;
		index = self->n_slots++;
	}

	value.flags = KL_AGENT_TABLE_FLAG_IN_USE;
	value.operational_state = KL_AGENT_TABLE_STATE_START;
	value.severity_level = -1;
	memcpy(value.agent_id, agent_id, strlen(agent_id));
	kl_agent_table_write_slot(self, index, &value);
	g_hash_table_insert(self->slots, g_strdup(agent_id), GUINT_TO_POINTER(index + 1));
	self->n_agents++;
	kl_agent_table_publish(self);
	*slot = index;
	return TRUE;
}

static gboolean
kl_agent_table_slot_in_use(KlAgentTable *self, guint slot)
{
	return slot < self->n_slots &&
	       (kl_agent_table_slot(self, slot)->flags & KL_AGENT_TABLE_FLAG_IN_USE) != 0;
}

void
kl_agent_table_remove(KlAgentTable *self, guint slot)
{
	KlAgentTableSlot value = {0};
	gchar agent_id[KL_AGENT_TABLE_AGENT_ID_SIZE + 1] = {0};

	g_return_if_fail(self != NULL);
	g_return_if_fail(kl_agent_table_slot_in_use(self, slot));

	memcpy(agent_id, kl_agent_table_slot(self, slot)->agent_id, KL_AGENT_TABLE_AGENT_ID_SIZE);
	g_hash_table_remove(self->slots, agent_id);
	kl_agent_table_write_slot(self, slot, &value);
	g_array_append_val(self->free_slots, slot);
	self->n_agents--;
	kl_agent_table_publish(self);
}

gboolean
kl_agent_table_lookup(KlAgentTable *self, const gchar *agent_id, guint *slot)
{
	gpointer value = NULL;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(agent_id != NULL, FALSE);

	if (!g_hash_table_lookup_extended(self->slots, agent_id, NULL, &value))
		return FALSE;
	if (slot != NULL)
		*slot = GPOINTER_TO_UINT(value) - 1;
	return TRUE;
}

void
kl_agent_table_get(KlAgentTable *self, guint slot, KlAgentTableRecord *out)
{
	g_return_if_fail(self != NULL);
	g_return_if_fail(out != NULL);
	g_return_if_fail(kl_agent_table_slot_in_use(self, slot));

	/* The writer's own records: no other writer, no lock needed. */
	if (!kl_agent_table_slot_to_record(kl_agent_table_slot(self, slot), out))
		g_critical("agent table %s: slot %u does not hold a valid record",
			   self->name,
			   slot);
}

void
kl_agent_table_update(KlAgentTable *self, guint slot, const KlAgentTableRecord *record)
{
	KlAgentTableSlot value = {0};

	g_return_if_fail(self != NULL);
	g_return_if_fail(record != NULL);
	g_return_if_fail(kl_agent_table_slot_in_use(self, slot));
	g_return_if_fail(record->operational_state >= 0 &&
			 record->operational_state <= KL_AGENT_TABLE_STATE_MAX);
	g_return_if_fail(record->severity_level >= -1);

	/* The agent id and the in-use flag belong to the table. */
	memcpy(value.agent_id, kl_agent_table_slot(self, slot)->agent_id, sizeof(value.agent_id));
	value.flags = record->flags | KL_AGENT_TABLE_FLAG_IN_USE;
	value.operational_state = record->operational_state;
	value.severity_level = record->severity_level;
	value.consecutive_failures = record->consecutive_failures;
	value.last_attestation = record->last_attestation;
	value.last_success = record->last_success;
	value.attestation_count = record->attestation_count;
	value.port = record->port;
	kl_agent_table_copy_string(value.ip,
				   sizeof(value.ip),
				   record->ip,
				   strnlen(record->ip, sizeof(record->ip)));
	kl_agent_table_copy_string(value.last_event_id,
				   sizeof(value.last_event_id),
				   record->last_event_id,
				   strnlen(record->last_event_id, sizeof(record->last_event_id)));
	kl_agent_table_copy_string(value.hash_alg,
				   sizeof(value.hash_alg),
				   record->hash_alg,
				   strnlen(record->hash_alg, sizeof(record->hash_alg)));
	kl_agent_table_copy_string(value.sign_alg,
				   sizeof(value.sign_alg),
				   record->sign_alg,
				   strnlen(record->sign_alg, sizeof(record->sign_alg)));
	kl_agent_table_copy_string(value.enc_alg,
				   sizeof(value.enc_alg),
				   record->enc_alg,
				   strnlen(record->enc_alg, sizeof(record->enc_alg)));
	kl_agent_table_write_slot(self, slot, &value);
	__atomic_store_n(&kl_agent_table_header(self)->generation,
			 kl_agent_table_header(self)->generation + 1,
			 __ATOMIC_RELEASE);
}
