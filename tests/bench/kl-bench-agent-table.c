/*
 * Benchmark of the shared-memory agent table at 100 000 agents, each
 * against a baseline measured in the same run:
 *
 *  - writes: kl_agent_table_update() of every agent (sequence lock,
 *    string checks, generation bump) against a memcpy() of the same
 *    record size into a private array;
 *  - consistent reads: kl_agent_table_reader_read() of every agent through
 *    a second, read-only mapping (sequence lock, range and UTF-8 checks)
 *    against a memcpy() of the same bytes out of a private array;
 *  - memory per agent in the segment.
 *
 * The ratio is baseline time / our time: 0.25x means four times slower
 * than copying the bytes.
 *
 * Run: meson test -C build --benchmark --verbose kl-bench-agent-table
 */
#include "config.h"

#include "kl-agent-table-reader.h"
#include "kl-agent-table.h"

#define KL_BENCH_AGENTS 100000u

typedef struct {
	KlAgentTable *table;
	KlAgentTableReader *reader;
	KlAgentTableRecord record;
	guint8 *array;				   /* baseline: the same bytes, private memory */
	guint8 buffer[KL_AGENT_TABLE_RECORD_SIZE]; /* baseline: one record's bytes */
	guint64 round;
	guint64 consistent;
} KlBench;

typedef void (*KlBenchFunc)(KlBench *bench);

/* Microseconds per pass over every agent. */
static gdouble
kl_bench_time(KlBenchFunc func, KlBench *bench, guint passes)
{
	gint64 start;
	func(bench); /* warm up: fault the pages in */
	start = g_get_monotonic_time();
	for (guint i = 0; i < passes; i++)
		func(bench);
	return (gdouble)(g_get_monotonic_time() - start) / passes;
}

static void
kl_bench_report(const gchar *name, gdouble ours_us, gdouble baseline_us, const gchar *baseline)
{
	g_print("%-28s %8.1f ns/agent %8.2f M/s   baseline (%s) %6.1f ns/agent   ratio %.2fx\n",
		name,
		ours_us * 1000.0 / KL_BENCH_AGENTS,
		KL_BENCH_AGENTS / ours_us,
		baseline,
		baseline_us * 1000.0 / KL_BENCH_AGENTS,
		baseline_us / ours_us);
}

static void
bench_update(KlBench *bench)
{
	bench->round++;
	for (guint i = 0; i < KL_BENCH_AGENTS; i++) {
		bench->record.attestation_count = bench->round;
		bench->record.last_attestation = (gint64)bench->round;
		kl_agent_table_update(bench->table, i, &bench->record);
	}
}

static void
bench_memcpy_in(KlBench *bench)
{
	bench->round++;
	for (guint i = 0; i < KL_BENCH_AGENTS; i++) {
		memcpy(bench->buffer, &bench->round, sizeof(bench->round));
		memcpy(bench->array + (gsize)i * KL_AGENT_TABLE_RECORD_SIZE,
		       bench->buffer,
		       KL_AGENT_TABLE_RECORD_SIZE);
	}
}

static void
bench_read(KlBench *bench)
{
	KlAgentTableRecord out;
	for (guint i = 0; i < KL_BENCH_AGENTS; i++) {
		if (kl_agent_table_reader_read(bench->reader, i, &out))
			bench->consistent++;
	}
}

static void
bench_memcpy_out(KlBench *bench)
{
	for (guint i = 0; i < KL_BENCH_AGENTS; i++) {
		memcpy(bench->buffer,
		       bench->array + (gsize)i * KL_AGENT_TABLE_RECORD_SIZE,
		       KL_AGENT_TABLE_RECORD_SIZE);
		/* Keep the copy from being optimised away. */
		bench->consistent += bench->buffer[i % KL_AGENT_TABLE_RECORD_SIZE] == 0xff;
	}
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlAgentTable) table = NULL;
	g_autoptr(KlAgentTableReader) reader = NULL;
	g_autofree guint8 *array = NULL;
	KlBench bench = {0};
	guint passes = 10;
	gint64 start;
	gdouble add_us;

	if (argc > 1)
		passes = (guint)g_ascii_strtoull(argv[1], NULL, 10);

	/* Start small: the adds below grow the segment in place. */
	table = kl_agent_table_new(1024, &error);
	if (table == NULL)
		g_error("%s", error->message);
	start = g_get_monotonic_time();
	for (guint i = 0; i < KL_BENCH_AGENTS; i++) {
		g_autofree gchar *id = g_strdup_printf("d432fbb3-d2f1-4a97-9ef7-%012u", i);
		guint slot = 0;
		if (!kl_agent_table_add(table, id, &slot, &error))
			g_error("%s", error->message);
	}
	add_us = (gdouble)(g_get_monotonic_time() - start);
	reader = kl_agent_table_reader_open(kl_agent_table_get_name(table), &error);
	if (reader == NULL)
		g_error("%s", error->message);

	bench.table = table;
	bench.reader = reader;
	bench.record.operational_state = 3;
	bench.record.severity_level = -1;
	bench.record.port = 9002;
	kl_agent_table_set_string(bench.record.ip, sizeof(bench.record.ip), "192.168.100.200");
	kl_agent_table_set_string(bench.record.last_event_id,
				  sizeof(bench.record.last_event_id),
				  "ima.validation.ima-ng.not_in_allowlist");
	kl_agent_table_set_string(bench.record.hash_alg, sizeof(bench.record.hash_alg), "sha256");
	kl_agent_table_set_string(bench.record.sign_alg, sizeof(bench.record.sign_alg), "rsassa");
	kl_agent_table_set_string(bench.record.enc_alg, sizeof(bench.record.enc_alg), "rsa");
	array = g_malloc0((gsize)KL_BENCH_AGENTS * KL_AGENT_TABLE_RECORD_SIZE);
	bench.array = array;

	g_print("# keylime-c agent table, %u agents, %u passes each\n", KL_BENCH_AGENTS, passes);
	g_print("%-28s %8.1f ns/agent (includes growing from 1024 to %u slots)\n",
		"add",
		add_us * 1000.0 / KL_BENCH_AGENTS,
		kl_agent_table_get_capacity(table));
	kl_bench_report("update (writer)",
			kl_bench_time(bench_update, &bench, passes),
			kl_bench_time(bench_memcpy_in, &bench, passes),
			"memcpy in");
	kl_bench_report("consistent read (reader)",
			kl_bench_time(bench_read, &bench, passes),
			kl_bench_time(bench_memcpy_out, &bench, passes),
			"memcpy out");
	if (kl_agent_table_reader_get_n_agents(reader) != KL_BENCH_AGENTS)
		g_error("reader sees %u agents", kl_agent_table_reader_get_n_agents(reader));
	g_print("%-28s %8u bytes/agent in the segment, %.1f MiB for %u agents "
		"(public record struct %" G_GSIZE_FORMAT " bytes)\n",
		"memory",
		(guint)KL_AGENT_TABLE_RECORD_SIZE,
		(gdouble)(KL_AGENT_TABLE_HEADER_SIZE +
			  (gsize)KL_BENCH_AGENTS * KL_AGENT_TABLE_RECORD_SIZE) /
			(1024.0 * 1024.0),
		KL_BENCH_AGENTS,
		sizeof(KlAgentTableRecord));
	return 0;
}
