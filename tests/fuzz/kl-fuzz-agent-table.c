/*
 * Fuzz target: the agent table reader over a segment of fuzzed bytes (a
 * memfd standing in for the verifier's shared memory): header validation
 * against the real size, then every record a console would read.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kl-agent-table-reader.h"
#include "kl-fuzz.h"

static void
kl_fuzz_check_record(const KlAgentTableRecord *record)
{
	g_assert(record->agent_id[0] != '\0');
	g_assert((record->flags & KL_AGENT_TABLE_FLAG_IN_USE) != 0);
	g_assert(record->operational_state >= 0 &&
		 record->operational_state <= KL_AGENT_TABLE_STATE_MAX);
	g_assert(record->severity_level >= -1);
	g_assert(g_utf8_validate(record->agent_id, -1, NULL));
	g_assert(g_utf8_validate(record->ip, -1, NULL));
	g_assert(g_utf8_validate(record->last_event_id, -1, NULL));
	g_assert(g_utf8_validate(record->hash_alg, -1, NULL));
	g_assert(g_utf8_validate(record->sign_alg, -1, NULL));
	g_assert(g_utf8_validate(record->enc_alg, -1, NULL));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlAgentTableReader) reader = NULL;
	int fd = memfd_create("kl-fuzz-agent-table", MFD_CLOEXEC);

	g_assert(fd >= 0);
	g_assert(size == 0 || write(fd, data, size) == (ssize_t)size);
	/* A memfd is 0777; the reader refuses segments others may write. */
	g_assert(fchmod(fd, 0644) == 0);
	reader = kl_agent_table_reader_new_for_fd(fd, &error);
	close(fd);
	if (reader == NULL) {
		g_assert(error != NULL);
		return 0;
	}
	g_assert(kl_agent_table_reader_refresh(reader, NULL));
	g_assert(kl_agent_table_reader_get_n_agents(reader) <=
		 kl_agent_table_reader_get_count(reader));
	(void)kl_agent_table_reader_get_generation(reader);
	(void)kl_agent_table_reader_get_writer_pid(reader);
	(void)kl_agent_table_reader_is_closed(reader);
	for (guint i = 0; i <= kl_agent_table_reader_get_count(reader); i++) {
		KlAgentTableRecord record;
		if (kl_agent_table_reader_read(reader, i, &record))
			kl_fuzz_check_record(&record);
	}
	return 0;
}
