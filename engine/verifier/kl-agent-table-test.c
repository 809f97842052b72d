/*
 * Tests of the shared-memory agent table: round trips through a separate
 * read-only mapping, slot reuse, in-place growth, a reader racing 100 000
 * updates, and readers given damaged or hostile segments.
 */
#include "config.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kl-agent-table-reader.h"
#include "kl-agent-table.h"
#include "kl-error.h"

/* Offsets of the version 1 layout, as a reader in another language would
 * hard-code them (kl-agent-table.h). */
#define HEADER_VERSION	   8
#define HEADER_RECORD_SIZE 16
#define HEADER_CAPACITY	   24
#define HEADER_N_SLOTS	   32
#define SLOT_SEQ	   0
#define SLOT_STATE	   12
#define SLOT_SEVERITY	   16
#define SLOT_AGENT_ID	   56
#define SLOT_IP		   136
#define SLOT_LAST_EVENT_ID 200

static gsize
slot_offset(guint slot, gsize field)
{
	return KL_AGENT_TABLE_HEADER_SIZE + (gsize)slot * KL_AGENT_TABLE_RECORD_SIZE + field;
}

/* The owner's read-write descriptor, to damage the segment as a broken or
 * hostile writer would. */
static int
open_writable(KlAgentTable *table)
{
	int fd = shm_open(kl_agent_table_get_name(table), O_RDWR | O_CLOEXEC, 0);
	g_assert_cmpint(fd, >=, 0);
	return fd;
}

static void
poke(int fd, gsize offset, gconstpointer data, gsize size)
{
	g_assert_cmpint(pwrite(fd, data, size, (off_t)offset), ==, (gssize)size);
}

static void
fill_record(KlAgentTableRecord *record, guint64 n)
{
	memset(record, 0, sizeof(*record));
	record->operational_state = (gint32)(n % 11);
	record->severity_level = (gint32)(n % 7) - 1;
	record->port = (guint16)(9002 + n % 1000);
	record->last_attestation = (gint64)n;
	record->last_success = (gint64)n * 2;
	record->attestation_count = n;
	record->consecutive_failures = (guint32)n;
	record->flags = (n % 2) != 0 ? KL_AGENT_TABLE_FLAG_STOPPED : 0;
	g_snprintf(record->last_event_id,
		   sizeof(record->last_event_id),
		   "ev-%" G_GUINT64_FORMAT,
		   n);
	/* The checksum of the other fields: a torn copy cannot match. */
	g_snprintf(record->ip,
		   sizeof(record->ip),
		   "%08x",
		   g_str_hash(record->last_event_id) ^ (guint)(n * 2654435761u));
	g_strlcpy(record->hash_alg, "sha256", sizeof(record->hash_alg));
	g_strlcpy(record->sign_alg, "rsassa", sizeof(record->sign_alg));
	g_strlcpy(record->enc_alg, "rsa", sizeof(record->enc_alg));
}

/* TRUE when every field agrees with attestation_count. */
static gboolean
record_is_whole(const KlAgentTableRecord *record)
{
	KlAgentTableRecord expected;
	fill_record(&expected, record->attestation_count);
	return record->operational_state == expected.operational_state &&
	       record->severity_level == expected.severity_level && record->port == expected.port &&
	       record->last_attestation == expected.last_attestation &&
	       record->last_success == expected.last_success &&
	       record->consecutive_failures == expected.consecutive_failures &&
	       (record->flags & KL_AGENT_TABLE_FLAG_STOPPED) == expected.flags &&
	       g_strcmp0(record->last_event_id, expected.last_event_id) == 0 &&
	       g_strcmp0(record->ip, expected.ip) == 0 &&
	       g_strcmp0(record->hash_alg, "sha256") == 0;
}

static void
test_agent_table_round_trip(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlAgentTable) table = kl_agent_table_new(4, &error);
	g_autoptr(KlAgentTableReader) reader = NULL;
	KlAgentTableRecord record;
	KlAgentTableRecord got;
	guint slot_a = G_MAXUINT;
	guint slot_b = G_MAXUINT;
	guint found = G_MAXUINT;
	guint64 generation;

	g_assert_no_error(error);
	g_assert_true(g_str_has_prefix(kl_agent_table_get_name(table), "/keylime-verifier-"));
	g_assert_true(kl_agent_table_add(table, "agent-a", &slot_a, &error));
	g_assert_no_error(error);
	g_assert_true(
		kl_agent_table_add(table, "d432fbb3-d2f1-4a97-9ef7-75bd81c00000", &slot_b, NULL));
	g_assert_cmpuint(slot_a, !=, slot_b);
	g_assert_true(kl_agent_table_lookup(table, "agent-a", &found));
	g_assert_cmpuint(found, ==, slot_a);
	g_assert_false(kl_agent_table_lookup(table, "agent-z", &found));
	g_assert_cmpuint(kl_agent_table_get_n_agents(table), ==, 2);

	reader = kl_agent_table_reader_open(kl_agent_table_get_name(table), &error);
	g_assert_no_error(error);
	g_assert_nonnull(reader);
	g_assert_cmpint(kl_agent_table_reader_get_writer_pid(reader), ==, getpid());
	g_assert_cmpuint(kl_agent_table_reader_get_count(reader), ==, 2);
	g_assert_cmpuint(kl_agent_table_reader_get_n_agents(reader), ==, 2);
	g_assert_false(kl_agent_table_reader_is_closed(reader));

	/* A new agent starts in START, without severity. */
	g_assert_true(kl_agent_table_reader_read(reader, slot_a, &got));
	g_assert_cmpstr(got.agent_id, ==, "agent-a");
	g_assert_cmpint(got.operational_state, ==, KL_AGENT_TABLE_STATE_START);
	g_assert_cmpint(got.severity_level, ==, -1);
	g_assert_cmpuint(got.flags, ==, KL_AGENT_TABLE_FLAG_IN_USE);

	generation = kl_agent_table_reader_get_generation(reader);
	fill_record(&record, 9);
	g_strlcpy(record.ip, "2001:db8::1", sizeof(record.ip));
	g_strlcpy(record.last_event_id, "ima.validation.ima-ng.not_in_allowlist", 200);
	/* The table owns the agent id and the in-use flag. */
	g_strlcpy(record.agent_id, "someone-else", sizeof(record.agent_id));
	kl_agent_table_update(table, slot_b, &record);
	g_assert_cmpuint(kl_agent_table_reader_get_generation(reader), >, generation);

	g_assert_true(kl_agent_table_reader_read(reader, slot_b, &got));
	g_assert_cmpstr(got.agent_id, ==, "d432fbb3-d2f1-4a97-9ef7-75bd81c00000");
	g_assert_cmpint(got.operational_state, ==, 9);
	g_assert_cmpint(got.severity_level, ==, 1);
	g_assert_cmpstr(got.ip, ==, "2001:db8::1");
	g_assert_cmpuint(got.port, ==, 9011);
	g_assert_cmpstr(got.last_event_id, ==, "ima.validation.ima-ng.not_in_allowlist");
	g_assert_cmpint(got.last_attestation, ==, 9);
	g_assert_cmpint(got.last_success, ==, 18);
	g_assert_cmpuint(got.attestation_count, ==, 9);
	g_assert_cmpuint(got.consecutive_failures, ==, 9);
	g_assert_cmpuint(got.flags, ==, KL_AGENT_TABLE_FLAG_IN_USE | KL_AGENT_TABLE_FLAG_STOPPED);
	g_assert_cmpstr(got.hash_alg, ==, "sha256");
	g_assert_cmpstr(got.sign_alg, ==, "rsassa");
	g_assert_cmpstr(got.enc_alg, ==, "rsa");

	/* The writer reads its own records back the same way. */
	kl_agent_table_get(table, slot_b, &record);
	g_assert_cmpmem(&record, sizeof(record), &got, sizeof(got));

	/* Indexes past the used slots and past the mapping are refused. */
	g_assert_false(kl_agent_table_reader_read(reader, 2, &got));
	g_assert_false(kl_agent_table_reader_read(reader, 1000000, &got));
}

static void
test_agent_table_agent_ids(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlAgentTable) table = kl_agent_table_new(2, &error);
	g_autoptr(KlAgentTableReader) reader = NULL;
	g_autofree gchar *longest = g_strnfill(KL_AGENT_TABLE_AGENT_ID_SIZE, 'x');
	g_autofree gchar *too_long = g_strnfill(KL_AGENT_TABLE_AGENT_ID_SIZE + 1, 'x');
	KlAgentTableRecord got;
	guint slot = 0;

	g_assert_no_error(error);
	/* Upstream's varchar(80) fills the field with no terminator. */
	g_assert_true(kl_agent_table_add(table, longest, &slot, &error));
	g_assert_no_error(error);
	reader = kl_agent_table_reader_open(kl_agent_table_get_name(table), &error);
	g_assert_no_error(error);
	g_assert_true(kl_agent_table_reader_read(reader, slot, &got));
	g_assert_cmpstr(got.agent_id, ==, longest);

	g_assert_false(kl_agent_table_add(table, too_long, &slot, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_false(kl_agent_table_add(table, "agent\x1b[31m", &slot, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_false(kl_agent_table_add(table, longest, &slot, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_CONFLICT);
	g_assert_cmpuint(kl_agent_table_get_n_agents(table), ==, 1);
}

static void
test_agent_table_strings(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlAgentTable) table = kl_agent_table_new(1, &error);
	g_autoptr(GString) event_id = g_string_new("measured_boot.policy");
	KlAgentTableRecord record;
	KlAgentTableRecord got;
	guint slot = 0;

	g_assert_no_error(error);
	g_assert_true(kl_agent_table_add(table, "agent", &slot, NULL));
	/* 'é' is two bytes: 20 + 89 × 2 = 198 bytes fit in 199, the 90th
	 * character is left out whole. */
	for (guint i = 0; i < 100; i++)
		g_string_append(event_id, "\xc3\xa9");
	fill_record(&record, 1);
	kl_agent_table_set_string(record.last_event_id,
				  sizeof(record.last_event_id),
				  event_id->str);
	g_assert_cmpuint(strlen(record.last_event_id), ==, 20 + 2 * 89);
	g_assert_true(g_str_has_prefix(event_id->str, record.last_event_id));
	kl_agent_table_set_string(record.ip, sizeof(record.ip), "10.0.0.1\nINFO fake");
	g_assert_cmpstr(record.ip, ==, "10.0.0.1?INFO fake");

	/* A caller's own g_strlcpy() cuts inside a character, leaves control
	 * characters and invalid bytes: the table repairs all of them. */
	g_strlcpy(record.last_event_id, event_id->str, sizeof(record.last_event_id));
	g_assert_false(g_utf8_validate(record.last_event_id, -1, NULL));
	g_strlcpy(record.ip, "10.0.0.1\x1b[2J", sizeof(record.ip));
	g_strlcpy(record.hash_alg, "sha256\xff", sizeof(record.hash_alg));
	memset(record.enc_alg, 'r', sizeof(record.enc_alg)); /* unterminated */
	kl_agent_table_update(table, slot, &record);

	kl_agent_table_get(table, slot, &got);
	g_assert_cmpuint(strlen(got.last_event_id), ==, 20 + 2 * 89);
	g_assert_true(g_str_has_prefix(event_id->str, got.last_event_id));
	g_assert_cmpstr(got.ip, ==, "10.0.0.1?[2J");
	g_assert_true(g_utf8_validate(got.hash_alg, -1, NULL));
	g_assert_true(g_str_has_prefix(got.hash_alg, "sha256"));
	g_assert_cmpuint(strlen(got.enc_alg), ==, KL_AGENT_TABLE_ALG_SIZE - 1);
}

static void
test_agent_table_remove_reuse(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlAgentTable) table = kl_agent_table_new(4, &error);
	g_autoptr(KlAgentTableReader) reader = NULL;
	KlAgentTableRecord record;
	KlAgentTableRecord got;
	guint a = 0, b = 0, c = 0, d = 0, found = 0;

	g_assert_no_error(error);
	g_assert_true(kl_agent_table_add(table, "a", &a, NULL));
	g_assert_true(kl_agent_table_add(table, "b", &b, NULL));
	g_assert_true(kl_agent_table_add(table, "c", &c, NULL));
	fill_record(&record, 42);
	kl_agent_table_update(table, b, &record);
	reader = kl_agent_table_reader_open(kl_agent_table_get_name(table), &error);
	g_assert_no_error(error);

	kl_agent_table_remove(table, b);
	g_assert_false(kl_agent_table_lookup(table, "b", NULL));
	g_assert_false(kl_agent_table_reader_read(reader, b, &got));
	g_assert_cmpuint(kl_agent_table_reader_get_n_agents(reader), ==, 2);
	g_assert_cmpuint(kl_agent_table_reader_get_count(reader), ==, 3);

	/* The freed slot is reused, with none of the old agent's values;
	 * the others did not move. */
	g_assert_true(kl_agent_table_add(table, "d", &d, NULL));
	g_assert_cmpuint(d, ==, b);
	g_assert_true(kl_agent_table_reader_read(reader, d, &got));
	g_assert_cmpstr(got.agent_id, ==, "d");
	g_assert_cmpuint(got.attestation_count, ==, 0);
	g_assert_cmpstr(got.last_event_id, ==, "");
	g_assert_true(kl_agent_table_lookup(table, "a", &found));
	g_assert_cmpuint(found, ==, a);
	g_assert_true(kl_agent_table_reader_read(reader, c, &got));
	g_assert_cmpstr(got.agent_id, ==, "c");

	/* The removed id can come back. */
	g_assert_true(kl_agent_table_add(table, "b", &b, NULL));
	g_assert_cmpuint(b, ==, 3);
	g_assert_cmpuint(kl_agent_table_get_n_agents(table), ==, 4);
}

static void
test_agent_table_grow(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlAgentTable) table = kl_agent_table_new(2, &error);
	g_autoptr(KlAgentTableReader) reader = NULL;
	g_autoptr(KlAgentTableReader) late = NULL;
	KlAgentTableRecord record;
	KlAgentTableRecord got;
	guint slot = 0;

	g_assert_no_error(error);
	reader = kl_agent_table_reader_open(kl_agent_table_get_name(table), &error);
	g_assert_no_error(error);
	for (guint i = 0; i < 1000; i++) {
		g_autofree gchar *id = g_strdup_printf("agent-%u", i);
		g_assert_true(kl_agent_table_add(table, id, &slot, &error));
		g_assert_no_error(error);
		/* Slots are handed out in order: none moved while growing. */
		g_assert_cmpuint(slot, ==, i);
		fill_record(&record, i);
		kl_agent_table_update(table, slot, &record);
	}
	g_assert_cmpuint(kl_agent_table_get_capacity(table), >=, 1000);

	/* The old mapping still covers two records, and sees no further. */
	g_assert_cmpuint(kl_agent_table_reader_get_count(reader), ==, 2);
	g_assert_false(kl_agent_table_reader_read(reader, 999, &got));
	g_assert_true(kl_agent_table_reader_refresh(reader, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(kl_agent_table_reader_get_count(reader), ==, 1000);
	late = kl_agent_table_reader_open(kl_agent_table_get_name(table), &error);
	g_assert_no_error(error);
	for (guint i = 0; i < 1000; i++) {
		g_autofree gchar *id = g_strdup_printf("agent-%u", i);
		g_assert_true(kl_agent_table_reader_read(reader, i, &got));
		g_assert_cmpstr(got.agent_id, ==, id);
		g_assert_cmpuint(got.attestation_count, ==, i);
		g_assert_true(kl_agent_table_reader_read(late, i, &got));
		g_assert_cmpstr(got.agent_id, ==, id);
	}
}

typedef struct {
	gchar *name;
	guint n_agents;
	gint started;
	gint done;
	guint64 consistent;
	guint64 torn;
	guint64 went_back;
} ConcurrentState;

static gpointer
concurrent_reader(gpointer user_data)
{
	ConcurrentState *state = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(KlAgentTableReader) reader = kl_agent_table_reader_open(state->name, &error);
	g_autofree guint64 *last_seen = g_new0(guint64, state->n_agents);
	g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);

	g_assert_no_error(error);
	for (guint i = 0; i < state->n_agents; i++)
		g_ptr_array_add(ids, g_strdup_printf("agent-%u", i));
	g_atomic_int_set(&state->started, 1);
	while (!g_atomic_int_get(&state->done)) {
		for (guint i = 0; i < state->n_agents; i++) {
			KlAgentTableRecord got;
			if (!kl_agent_table_reader_read(reader, i, &got))
				continue;
			if (!record_is_whole(&got) ||
			    g_strcmp0(got.agent_id, g_ptr_array_index(ids, i)) != 0) {
				state->torn++;
				continue;
			}
			if (got.attestation_count < last_seen[i])
				state->went_back++;
			last_seen[i] = got.attestation_count;
			state->consistent++;
		}
	}
	return NULL;
}

static void
test_agent_table_concurrent(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlAgentTable) table = kl_agent_table_new(64, &error);
	/* Few records, so that the reader is often inside the one being
	 * written. */
	ConcurrentState state = {.n_agents = 4};
	KlAgentTableRecord record;
	GThread *thread;

	g_assert_no_error(error);
	for (guint i = 0; i < state.n_agents; i++) {
		g_autofree gchar *id = g_strdup_printf("agent-%u", i);
		guint slot = 0;
		g_assert_true(kl_agent_table_add(table, id, &slot, NULL));
		fill_record(&record, 0);
		kl_agent_table_update(table, slot, &record);
	}
	state.name = g_strdup(kl_agent_table_get_name(table));
	thread = g_thread_new("reader", concurrent_reader, &state);
	while (!g_atomic_int_get(&state.started))
		g_thread_yield();
	for (guint64 n = 1; n <= 100000; n++) {
		fill_record(&record, n);
		kl_agent_table_update(table, (guint)(n % state.n_agents), &record);
	}
	g_atomic_int_set(&state.done, 1);
	g_thread_join(thread);
	g_free(state.name);

	g_test_message("reader saw %" G_GUINT64_FORMAT " consistent records", state.consistent);
	g_assert_cmpuint(state.torn, ==, 0);
	g_assert_cmpuint(state.went_back, ==, 0);
	g_assert_cmpuint(state.consistent, >, 0);
}

static void
assert_reader_refuses(KlAgentTable *table, gint code, const gchar *message)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlAgentTableReader) reader =
		kl_agent_table_reader_open(kl_agent_table_get_name(table), &error);
	g_assert_null(reader);
	g_assert_error(error, KL_ERROR, code);
	g_assert_nonnull(strstr(error->message, message));
}

static void
test_agent_table_bad_header(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlAgentTable) table = kl_agent_table_new(4, &error);
	g_autoptr(KlAgentTableReader) reader = NULL;
	guint8 saved[KL_AGENT_TABLE_HEADER_SIZE];
	const guint32 bad_version = 2;
	const guint32 bad_record_size = 64;
	const guint64 huge = G_MAXUINT64 / 2;
	const guint64 beyond = 5;
	int fd;

	g_assert_no_error(error);
	fd = open_writable(table);
	g_assert_cmpint(pread(fd, saved, sizeof(saved), 0), ==, (gssize)sizeof(saved));

	poke(fd, 0, "NOTATABL", 8);
	assert_reader_refuses(table, KL_ERROR_INVALID_ARGUMENT, "bad magic");
	poke(fd, 0, saved, sizeof(saved));

	poke(fd, HEADER_VERSION, &bad_version, sizeof(bad_version));
	assert_reader_refuses(table, KL_ERROR_NOT_SUPPORTED, "layout version 2");
	poke(fd, 0, saved, sizeof(saved));

	poke(fd, HEADER_RECORD_SIZE, &bad_record_size, sizeof(bad_record_size));
	assert_reader_refuses(table, KL_ERROR_INVALID_ARGUMENT, "record size 64");
	poke(fd, 0, saved, sizeof(saved));

	poke(fd, HEADER_CAPACITY, &huge, sizeof(huge));
	assert_reader_refuses(table, KL_ERROR_INVALID_ARGUMENT, "capacity");
	poke(fd, HEADER_CAPACITY, &beyond, sizeof(beyond));
	assert_reader_refuses(table, KL_ERROR_INVALID_ARGUMENT, "does not fit");
	poke(fd, 0, saved, sizeof(saved));

	/* A used count beyond the capacity is clamped, never followed. */
	poke(fd, HEADER_N_SLOTS, &huge, sizeof(huge));
	reader = kl_agent_table_reader_open(kl_agent_table_get_name(table), &error);
	g_assert_no_error(error);
	g_assert_cmpuint(kl_agent_table_reader_get_count(reader), ==, 4);
	g_clear_pointer(&reader, kl_agent_table_reader_close);
	poke(fd, 0, saved, sizeof(saved));

	/* A segment others may write could be truncated under the mapping. */
	g_assert_cmpint(fchmod(fd, 0666), ==, 0);
	assert_reader_refuses(table, KL_ERROR_PERMISSION_DENIED, "writable by other users");
	g_assert_cmpint(fchmod(fd, 0644), ==, 0);

	g_assert_cmpint(ftruncate(fd, KL_AGENT_TABLE_HEADER_SIZE - 1), ==, 0);
	assert_reader_refuses(table, KL_ERROR_INVALID_ARGUMENT, "has no header");
	g_assert_cmpint(ftruncate(fd, slot_offset(3, 0)), ==, 0);
	assert_reader_refuses(table, KL_ERROR_INVALID_ARGUMENT, "does not fit");
	close(fd);

	reader = kl_agent_table_reader_open("/keylime-verifier-no-such-table", &error);
	g_assert_null(reader);
	g_assert_error(error, KL_ERROR, KL_ERROR_NOT_FOUND);
	g_clear_error(&error);
	reader = kl_agent_table_reader_open("../../etc/passwd", &error);
	g_assert_null(reader);
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
}

static void
test_agent_table_truncated_after_open(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlAgentTable) table = kl_agent_table_new(4, &error);
	g_autoptr(KlAgentTableReader) reader = NULL;
	KlAgentTableRecord got;
	guint slot = 0;
	int fd;

	g_assert_no_error(error);
	g_assert_true(kl_agent_table_add(table, "agent", &slot, NULL));
	reader = kl_agent_table_reader_open(kl_agent_table_get_name(table), &error);
	g_assert_no_error(error);
	g_assert_true(kl_agent_table_reader_read(reader, slot, &got));

	/* The owner shrinks it: the next refresh notices before any read
	 * touches a page past the end (which would be SIGBUS). */
	fd = open_writable(table);
	g_assert_cmpint(ftruncate(fd, 0), ==, 0);
	g_assert_false(kl_agent_table_reader_refresh(reader, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_UNAVAILABLE);
	g_assert_false(kl_agent_table_reader_read(reader, slot, &got));
	g_assert_cmpuint(kl_agent_table_reader_get_count(reader), ==, 0);
	g_assert_true(kl_agent_table_reader_is_closed(reader));

	/* Growing it back does not revive the reader. */
	g_assert_cmpint(ftruncate(fd, (off_t)slot_offset(4, 0)), ==, 0);
	close(fd);
	g_clear_error(&error);
	g_assert_false(kl_agent_table_reader_refresh(reader, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_UNAVAILABLE);
	g_assert_false(kl_agent_table_reader_read(reader, slot, &got));
}

static void
test_agent_table_hostile_records(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlAgentTable) table = kl_agent_table_new(4, &error);
	g_autoptr(KlAgentTableReader) reader = NULL;
	KlAgentTableRecord got;
	guint8 saved[KL_AGENT_TABLE_RECORD_SIZE];
	const gint32 state = 11;
	const gint32 severity = -2;
	const guint64 odd = 1;
	gchar unterminated[KL_AGENT_TABLE_IP_SIZE];
	guint slot = 0;
	int fd;

	g_assert_no_error(error);
	g_assert_true(kl_agent_table_add(table, "agent", &slot, NULL));
	reader = kl_agent_table_reader_open(kl_agent_table_get_name(table), &error);
	g_assert_no_error(error);
	fd = open_writable(table);
	g_assert_cmpint(pread(fd, saved, sizeof(saved), (off_t)slot_offset(slot, 0)),
			==,
			(gssize)sizeof(saved));
	memset(unterminated, 'x', sizeof(unterminated));

	poke(fd, slot_offset(slot, SLOT_STATE), &state, sizeof(state));
	g_assert_false(kl_agent_table_reader_read(reader, slot, &got));
	poke(fd, slot_offset(slot, 0), saved, sizeof(saved));

	poke(fd, slot_offset(slot, SLOT_SEVERITY), &severity, sizeof(severity));
	g_assert_false(kl_agent_table_reader_read(reader, slot, &got));
	poke(fd, slot_offset(slot, 0), saved, sizeof(saved));

	/* A console prints the id: no escape sequences, no other script. */
	poke(fd, slot_offset(slot, SLOT_AGENT_ID), "\x1b[2J", 5);
	g_assert_false(kl_agent_table_reader_read(reader, slot, &got));
	poke(fd, slot_offset(slot, 0), saved, sizeof(saved));

	poke(fd, slot_offset(slot, SLOT_IP), unterminated, sizeof(unterminated));
	g_assert_false(kl_agent_table_reader_read(reader, slot, &got));
	poke(fd, slot_offset(slot, 0), saved, sizeof(saved));

	poke(fd, slot_offset(slot, SLOT_LAST_EVENT_ID), "bad \xc3(", 7);
	g_assert_false(kl_agent_table_reader_read(reader, slot, &got));
	poke(fd, slot_offset(slot, 0), saved, sizeof(saved));

	/* A writer that died inside a record: the reader gives up, bounded. */
	poke(fd, slot_offset(slot, SLOT_SEQ), &odd, sizeof(odd));
	g_assert_false(kl_agent_table_reader_read(reader, slot, &got));
	poke(fd, slot_offset(slot, 0), saved, sizeof(saved));

	g_assert_true(kl_agent_table_reader_read(reader, slot, &got));
	g_assert_cmpstr(got.agent_id, ==, "agent");
	close(fd);
}

/* The reader's mapping of the segment, as the kernel lists it. */
static guint
count_mappings(const gchar *name, const gchar *perms)
{
	g_autofree gchar *maps = NULL;
	g_autofree gchar *path = g_strconcat("/dev/shm", name, NULL);
	g_auto(GStrv) lines = NULL;
	guint n = 0;

	g_assert_true(g_file_get_contents("/proc/self/maps", &maps, NULL, NULL));
	lines = g_strsplit(maps, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		g_auto(GStrv) fields = g_strsplit_set(lines[i], " ", -1);
		if (g_str_has_suffix(lines[i], path) && g_strv_length(fields) > 1 &&
		    g_strcmp0(fields[1], perms) == 0)
			n++;
	}
	return n;
}

static void
test_agent_table_read_only_mapping(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlAgentTable) table = kl_agent_table_new(4, &error);
	g_autoptr(KlAgentTableReader) reader = NULL;
	const gchar *name;
	struct stat st;
	int fd;

	g_assert_no_error(error);
	name = kl_agent_table_get_name(table);
	if (!g_file_test("/dev/shm", G_FILE_TEST_IS_DIR)) {
		g_test_skip("no /dev/shm");
		return;
	}
	g_assert_cmpuint(count_mappings(name, "rw-s"), ==, 1);
	g_assert_cmpuint(count_mappings(name, "r--s"), ==, 0);
	reader = kl_agent_table_reader_open(name, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(count_mappings(name, "r--s"), ==, 1);
	g_clear_pointer(&reader, kl_agent_table_reader_close);
	g_assert_cmpuint(count_mappings(name, "r--s"), ==, 0);

	/* Readable by other users whatever the umask, writable by none. */
	fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(fstat(fd, &st), ==, 0);
	g_assert_cmpuint(st.st_mode & 07777, ==, 0644);
	close(fd);
}

static void
test_agent_table_writer_gone(void)
{
	g_autoptr(GError) error = NULL;
	KlAgentTable *table = kl_agent_table_new(4, &error);
	g_autoptr(KlAgentTableReader) reader = NULL;
	g_autofree gchar *name = NULL;
	KlAgentTableRecord got;
	guint slot = 0;
	guint64 generation;

	g_assert_no_error(error);
	name = g_strdup(kl_agent_table_get_name(table));
	g_assert_true(kl_agent_table_add(table, "agent", &slot, NULL));
	reader = kl_agent_table_reader_open(name, &error);
	g_assert_no_error(error);
	generation = kl_agent_table_reader_get_generation(reader);
	kl_agent_table_free(table);

	/* The mapping outlives the name; the reader learns the writer left. */
	g_assert_true(kl_agent_table_reader_is_closed(reader));
	g_assert_cmpuint(kl_agent_table_reader_get_generation(reader), >, generation);
	g_assert_true(kl_agent_table_reader_read(reader, slot, &got));
	g_assert_null(kl_agent_table_reader_open(name, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_NOT_FOUND);
}

static void
test_agent_table_names(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *name = g_strdup_printf("/kl-agent-table-test-%d", (gint)getpid());
	g_autoptr(KlAgentTable) table = kl_agent_table_new_with_name(name, 1, &error);
	g_autoptr(KlAgentTable) again = NULL;
	g_autoptr(KlAgentTable) other = NULL;

	g_assert_no_error(error);
	g_assert_cmpstr(kl_agent_table_get_name(table), ==, name);
	/* O_EXCL: never take over a segment someone else created. */
	again = kl_agent_table_new_with_name(name, 1, &error);
	g_assert_null(again);
	g_assert_error(error, KL_ERROR, KL_ERROR_CONFLICT);
	g_clear_error(&error);
	/* ... and the failed attempt did not unlink it. */
	other = kl_agent_table_new_with_name(name, 1, &error);
	g_assert_error(error, KL_ERROR, KL_ERROR_CONFLICT);
	g_clear_error(&error);

	g_assert_null(kl_agent_table_new_with_name("no-slash", 1, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_null(kl_agent_table_new_with_name("/a/b", 1, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_null(kl_agent_table_new(0, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_null(kl_agent_table_new(KL_AGENT_TABLE_MAX_CAPACITY + 1, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/agent-table/round-trip", test_agent_table_round_trip);
	g_test_add_func("/agent-table/agent-ids", test_agent_table_agent_ids);
	g_test_add_func("/agent-table/strings", test_agent_table_strings);
	g_test_add_func("/agent-table/remove-reuse", test_agent_table_remove_reuse);
	g_test_add_func("/agent-table/grow", test_agent_table_grow);
	g_test_add_func("/agent-table/concurrent", test_agent_table_concurrent);
	g_test_add_func("/agent-table/bad-header", test_agent_table_bad_header);
	g_test_add_func("/agent-table/truncated-after-open", test_agent_table_truncated_after_open);
	g_test_add_func("/agent-table/hostile-records", test_agent_table_hostile_records);
	g_test_add_func("/agent-table/read-only-mapping", test_agent_table_read_only_mapping);
	g_test_add_func("/agent-table/writer-gone", test_agent_table_writer_gone);
	g_test_add_func("/agent-table/names", test_agent_table_names);
	return g_test_run();
}
