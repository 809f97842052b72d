/*
 * A console's link of libkl-client, for kl-client-symbols-check.sh: takes
 * the address of every public function so that the linker pulls every
 * object of the library; the check then fails on any sqlite3_, Tss2_,
 * Esys_ or soup_ symbol in the program (ARCHITECTURE.md, "Layering rules"
 * rule 4).  Never run.
 */
#include "config.h"

#include "kl-agent-table-reader.h"
#include "kl-client.h"

static const gpointer kl_client_symbols[] = {
	(gpointer)kl_agent_table_reader_open,
	(gpointer)kl_agent_table_reader_new_for_fd,
	(gpointer)kl_agent_table_reader_close,
	(gpointer)kl_agent_table_reader_refresh,
	(gpointer)kl_agent_table_reader_get_count,
	(gpointer)kl_agent_table_reader_get_n_agents,
	(gpointer)kl_agent_table_reader_get_generation,
	(gpointer)kl_agent_table_reader_get_writer_pid,
	(gpointer)kl_agent_table_reader_is_closed,
	(gpointer)kl_agent_table_reader_read,
	(gpointer)kl_client_new_async,
	(gpointer)kl_client_new_finish,
	(gpointer)kl_client_get_agents,
	(gpointer)kl_client_get_events,
	(gpointer)kl_client_lookup_agent,
	(gpointer)kl_client_severity_to_label,
	(gpointer)kl_client_stop_agent_async,
	(gpointer)kl_client_reactivate_agent_async,
	(gpointer)kl_client_remove_agent_async,
	(gpointer)kl_client_get_failures_async,
	(gpointer)kl_client_get_revocations_async,
	(gpointer)kl_client_add_agent_async,
	(gpointer)kl_client_enroll_agent_async,
	(gpointer)kl_client_add_policy_async,
	(gpointer)kl_client_list_policies_async,
	(gpointer)kl_client_get_policy_async,
	(gpointer)kl_client_delete_policy_async,
	(gpointer)kl_client_agent_state_to_label,
	(gpointer)kl_client_agent_get_type,
	(gpointer)kl_client_event_get_type,
};

int
main(int argc, char **argv)
{
	/* Print one address so that the table is not dropped. */
	if (argc > 1)
		g_print("%p\n", kl_client_symbols[(gsize)argc % G_N_ELEMENTS(kl_client_symbols)]);
	return 0;
}
