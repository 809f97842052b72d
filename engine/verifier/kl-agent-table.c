/*
 * kl-agent-table: the live agent table in POSIX shared memory, its single
 * writer and its read-only readers.  See kl-agent-table.h for the layout.
 *
 * The sequence lock follows Boehm's "Can seqlocks get along with
 * programming language memory models?" (MSPC 2012): the writer stores the
 * odd counter, issues a release fence, stores the record's words with
 * relaxed atomic stores and publishes the even counter with a release
 * store; a reader loads the counter with acquire, copies the words with
 * relaxed atomic loads, issues an acquire fence and loads the counter
 * again.  Copying word by word with atomics keeps the concurrent accesses
 * free of data races in the C11 sense; on x86-64 and arm64 they compile to
 * plain loads and stores.
 */
#define G_LOG_DOMAIN "KlVerifier"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kl-agent-id.h"
#include "kl-agent-table.h"
#include "kl-error.h"

#define KL_AGENT_TABLE_MAGIC	    "KLAGTBL\n"
#define KL_AGENT_TABLE_MODE	    0644
#define KL_AGENT_TABLE_MIN_CAPACITY 64
/* A writer holds the counter odd for well under a microsecond; past this
 * many attempts the writer was preempted mid-record and the caller keeps
 * the previous value rather than spin. */
#define KL_AGENT_TABLE_READ_ATTEMPTS 256
#define KL_AGENT_TABLE_HEADER_CLOSED (1u << 0)

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

G_STATIC_ASSERT(sizeof(KlAgentTableHeader) == KL_AGENT_TABLE_HEADER_SIZE);
G_STATIC_ASSERT(sizeof(KlAgentTableSlot) == KL_AGENT_TABLE_RECORD_SIZE);
G_STATIC_ASSERT(offsetof(KlAgentTableSlot, flags) == sizeof(guint64));
G_STATIC_ASSERT(KL_AGENT_TABLE_RECORD_SIZE % sizeof(guint64) == 0);
G_STATIC_ASSERT(KL_AGENT_TABLE_HEADER_SIZE % sizeof(guint64) == 0);

/* The record after its counter, copied as 64-bit words. */
#define KL_AGENT_TABLE_PAYLOAD_WORDS \
	((KL_AGENT_TABLE_RECORD_SIZE - sizeof(guint64)) / sizeof(guint64))

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

struct _KlAgentTableReader {
	int fd;
	const guint8 *map;
	gsize map_size;
	guint capacity;	 /* records inside the mapping */
	gboolean broken; /* the segment shrank under the mapping: never touch it again */
};

static gsize
kl_agent_table_segment_size(guint64 capacity)
{
	return KL_AGENT_TABLE_HEADER_SIZE + (gsize)capacity * KL_AGENT_TABLE_RECORD_SIZE;
}

static void
kl_agent_table_set_errno(GError **error, int saved_errno, const gchar *what, const gchar *name)
{
	KlError code = KL_ERROR_INTERNAL;
	if (saved_errno == ENOENT)
		code = KL_ERROR_NOT_FOUND;
	else if (saved_errno == EACCES || saved_errno == EPERM)
		code = KL_ERROR_PERMISSION_DENIED;
	else if (saved_errno == EEXIST)
		code = KL_ERROR_CONFLICT;
	g_set_error(error,
		    KL_ERROR,
		    code,
		    "agent table %s: %s failed: %s",
		    name,
		    what,
		    g_strerror(saved_errno));
}

/* ---- strings ---------------------------------------------------------- */

/* Copies @src_len bytes of @src into @dest (@size bytes, NUL-padded) as
 * at most @size - 1 bytes of valid UTF-8, cut at a character boundary,
 * control characters replaced: a console prints these strings as they
 * are. */
static void
kl_agent_table_copy_string(gchar *dest, gsize size, const gchar *src, gsize src_len)
{
	g_autofree gchar *valid = NULL;
	gsize len = src_len;

	memset(dest, 0, size);
	if (!g_utf8_validate_len(src, len, NULL)) {
		valid = g_utf8_make_valid(src, (gssize)len);
		src = valid;
		len = strlen(valid);
	}
	if (len > size - 1) {
		/* src[len] is the first byte left out: while it continues a
		 * character, that character would be cut, so leave it out too. */
		len = size - 1;
		while (len > 0 && ((guchar)src[len] & 0xc0) == 0x80)
			len--;
	}
	memcpy(dest, src, len);
	for (gsize i = 0; i < len; i++) {
		if ((guchar)dest[i] < 0x20 || dest[i] == 0x7f)
			dest[i] = '?';
	}
}

void
kl_agent_table_set_string(gchar *dest, gsize dest_size, const gchar *src)
{
	g_return_if_fail(dest != NULL);
	g_return_if_fail(dest_size > 0);
	kl_agent_table_copy_string(dest,
				   dest_size,
				   src != NULL ? src : "",
				   src != NULL ? strlen(src) : 0);
}

/* A string of the segment: terminated within @size bytes (or exactly
 * @size bytes long when @may_fill), valid UTF-8, no control characters. */
static gboolean
kl_agent_table_check_string(const gchar *src, gsize size, gboolean may_fill, gchar *dest)
{
	const gchar *nul = memchr(src, '\0', size);
	gsize len = nul != NULL ? (gsize)(nul - src) : size;

	gboolean ascii = TRUE;

	if (nul == NULL && !may_fill)
		return FALSE;
	/* One pass for the common all-ASCII case; UTF-8 only when needed. */
	for (gsize i = 0; i < len; i++) {
		if ((guchar)src[i] < 0x20 || src[i] == 0x7f)
			return FALSE;
		if ((guchar)src[i] >= 0x80)
			ascii = FALSE;
	}
	if (!ascii && !g_utf8_validate_len(src, len, NULL))
		return FALSE;
	memcpy(dest, src, len);
	dest[len] = '\0';
	return TRUE;
}

/* Converts a consistent copy of a slot; FALSE for a free slot or fields out
 * of range (a damaged or hostile segment). */
static gboolean
kl_agent_table_slot_to_record(const KlAgentTableSlot *slot, KlAgentTableRecord *out)
{
	if ((slot->flags & KL_AGENT_TABLE_FLAG_IN_USE) == 0)
		return FALSE;
	if (slot->operational_state < 0 || slot->operational_state > KL_AGENT_TABLE_STATE_MAX)
		return FALSE;
	if (slot->severity_level < -1)
		return FALSE;
	memset(out, 0, sizeof(*out));
	if (!kl_agent_table_check_string(slot->agent_id,
					 sizeof(slot->agent_id),
					 TRUE,
					 out->agent_id) ||
	    !kl_agent_id_validate(out->agent_id, NULL))
		return FALSE;
	if (!kl_agent_table_check_string(slot->ip, sizeof(slot->ip), FALSE, out->ip) ||
	    !kl_agent_table_check_string(slot->last_event_id,
					 sizeof(slot->last_event_id),
					 FALSE,
					 out->last_event_id) ||
	    !kl_agent_table_check_string(slot->hash_alg,
					 sizeof(slot->hash_alg),
					 FALSE,
					 out->hash_alg) ||
	    !kl_agent_table_check_string(slot->sign_alg,
					 sizeof(slot->sign_alg),
					 FALSE,
					 out->sign_alg) ||
	    !kl_agent_table_check_string(slot->enc_alg, sizeof(slot->enc_alg), FALSE, out->enc_alg))
		return FALSE;
	out->operational_state = slot->operational_state;
	out->severity_level = slot->severity_level;
	out->port = slot->port;
	out->last_attestation = slot->last_attestation;
	out->last_success = slot->last_success;
	out->attestation_count = slot->attestation_count;
	out->consecutive_failures = slot->consecutive_failures;
	out->flags = slot->flags;
	return TRUE;
}

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
kl_agent_table_validate_name(const gchar *name, GError **error)
{
	gsize len = name != NULL ? strlen(name) : 0;
	if (len < 2 || len > NAME_MAX || name[0] != '/' || strchr(name + 1, '/') != NULL) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "agent table name %s is not of the form /NAME",
			    name != NULL ? name : "(null)");
		return FALSE;
	}
	return TRUE;
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

/* ---- reader ----------------------------------------------------------- */

static const KlAgentTableHeader *
kl_agent_table_reader_header(KlAgentTableReader *self)
{
	return (const KlAgentTableHeader *)self->map;
}

/* Checks a header (a copy, or the live one) against the segment's real
 * size; sets *capacity to what may be mapped. */
static gboolean
kl_agent_table_check_header(const KlAgentTableHeader *header,
			    guint64 capacity,
			    gsize segment_size,
			    guint *capacity_out,
			    GError **error)
{
	if (memcmp(header->magic, KL_AGENT_TABLE_MAGIC, sizeof(header->magic)) != 0) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "not an agent table: bad magic");
		return FALSE;
	}
	if (header->version != KL_AGENT_TABLE_LAYOUT_VERSION) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_NOT_SUPPORTED,
			    "agent table layout version %u, expected %u",
			    header->version,
			    (guint)KL_AGENT_TABLE_LAYOUT_VERSION);
		return FALSE;
	}
	if (header->header_size != KL_AGENT_TABLE_HEADER_SIZE ||
	    header->record_size != KL_AGENT_TABLE_RECORD_SIZE) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "agent table header size %u and record size %u, expected %u and %u",
			    header->header_size,
			    header->record_size,
			    (guint)KL_AGENT_TABLE_HEADER_SIZE,
			    (guint)KL_AGENT_TABLE_RECORD_SIZE);
		return FALSE;
	}
	if (capacity > KL_AGENT_TABLE_MAX_CAPACITY) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "agent table capacity %" G_GUINT64_FORMAT " is more than %u",
			    capacity,
			    KL_AGENT_TABLE_MAX_CAPACITY);
		return FALSE;
	}
	if (kl_agent_table_segment_size(capacity) > segment_size) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "agent table of %" G_GUINT64_FORMAT
			    " records does not fit in its segment of %" G_GSIZE_FORMAT " bytes",
			    capacity,
			    segment_size);
		return FALSE;
	}
	*capacity_out = (guint)capacity;
	return TRUE;
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
