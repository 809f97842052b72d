/*
 * kl-agent-logs: the measurement logs an integrity quote carries: the IMA
 * ASCII runtime measurements from a given entry on (spec §5.6: the
 * verifier asks only for what it has not seen) and the binary UEFI event
 * log.  Both files are read afresh for every request, as the kernel
 * appends to the IMA one.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Bounds on what one response may carry. */
#define KL_AGENT_IMA_LOG_MAX  (256 * 1024 * 1024)
#define KL_AGENT_UEFI_LOG_MAX (16 * 1024 * 1024)

/*
 * The entries from @first (0-based) to the end, and in @start the index
 * the text begins at.  A @first past the end means the log restarted
 * (a reboot): the whole log is returned and @start is 0, as the Rust agent
 * does.  G_IO_ERROR_NOT_FOUND when there is no log.
 */
gboolean kl_agent_ima_log_read(const gchar *path,
			       guint64 first,
			       gchar **entries,
			       guint64 *start,
			       GError **error);

GBytes *kl_agent_uefi_log_read(const gchar *path, GError **error);

G_END_DECLS
