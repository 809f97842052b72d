/*
 * kl-shm-dump: prints a verifier's shared-memory agent table as one JSON
 * object per agent (a line each), read through KlAgentTableReader exactly
 * as a local console maps it: read-only, every record validated.  For the
 * end-to-end test, which compares it with D-Bus GetAgent.
 *   kl-shm-dump /keylime-verifier-NAME
 */
#include "config.h"

#include <json-glib/json-glib.h>

#include "kl-agent-table-reader.h"

static void
kl_shm_dump_record(const KlAgentTableRecord *record)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonGenerator) generator = json_generator_new();
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *text = NULL;

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "agent_id");
	json_builder_add_string_value(builder, record->agent_id);
	json_builder_set_member_name(builder, "operational_state");
	json_builder_add_int_value(builder, record->operational_state);
	json_builder_set_member_name(builder, "severity_level");
	json_builder_add_int_value(builder, record->severity_level);
	json_builder_set_member_name(builder, "last_event_id");
	json_builder_add_string_value(builder, record->last_event_id);
	json_builder_set_member_name(builder, "ip");
	json_builder_add_string_value(builder, record->ip);
	json_builder_set_member_name(builder, "port");
	json_builder_add_int_value(builder, record->port);
	json_builder_set_member_name(builder, "attestation_count");
	json_builder_add_int_value(builder, (gint64)MIN(record->attestation_count, G_MAXINT64));
	json_builder_set_member_name(builder, "consecutive_failures");
	json_builder_add_int_value(builder, record->consecutive_failures);
	json_builder_set_member_name(builder, "stopped");
	json_builder_add_boolean_value(builder, (record->flags & KL_AGENT_TABLE_FLAG_STOPPED) != 0);
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	json_generator_set_root(generator, root);
	text = json_generator_to_data(generator, NULL);
	g_print("%s\n", text);
}

int
main(int argc, char **argv)
{
	g_autoptr(KlAgentTableReader) reader = NULL;
	g_autoptr(GError) error = NULL;
	guint count;

	if (argc != 2) {
		g_printerr("usage: kl-shm-dump /SHM-NAME\n");
		return 2;
	}
	reader = kl_agent_table_reader_open(argv[1], &error);
	if (reader == NULL) {
		g_printerr("kl-shm-dump: %s\n", error->message);
		return 1;
	}
	count = kl_agent_table_reader_get_count(reader);
	for (guint i = 0; i < count; i++) {
		KlAgentTableRecord record;

		/* FALSE: a free slot, or one the writer never finished */
		if (kl_agent_table_reader_read(reader, i, &record))
			kl_shm_dump_record(&record);
	}
	return 0;
}
