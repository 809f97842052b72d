/*
 * kl-agent-payload: what the agent does with a decrypted payload, as
 * upstream's Rust agent does it (payloads.rs):
 *
 *   1. recreate <secure>/unzipped (removed without following links);
 *   2. write K to unzipped/<enc_keyname> and the payload to
 *      unzipped/<dec_payload_file>, both 0600;
 *   3. with extract_payload_zip, unpack the payload into unzipped/ through
 *      kl-zip-reader, with its limits;
 *   4. make the files named in unzipped/action_list 0700;
 *   5. if unzipped/<payload_script> (autorun.sh) exists: chmod 0700 and run
 *      `sh -c <absolute path>` in unzipped/, with the agent's environment,
 *      stdin empty, stdout and stderr logged, killed (with its process
 *      group) after a timeout.
 *
 * Also the asynchronous command runner that kl-agent-revocation shares.
 */
#pragma once

#include <gio/gio.h>

#include "kl-secret.h"
#include "kl-zip-reader.h"

G_BEGIN_DECLS

#define KL_AGENT_UNZIPPED_DIR		  "unzipped"
#define KL_AGENT_ACTION_LIST		  "action_list"
#define KL_AGENT_DEFAULT_DEC_PAYLOAD_FILE "decrypted_payload"
#define KL_AGENT_DEFAULT_ENC_KEYNAME	  "derived_tci_key"
#define KL_AGENT_DEFAULT_PAYLOAD_SCRIPT	  "autorun.sh"
#define KL_AGENT_DEFAULT_SCRIPT_TIMEOUT	  300 /* seconds */
/* output kept for the log, per command */
#define KL_AGENT_COMMAND_MAX_OUTPUT (64 * 1024)

/* The [agent] options involved; strings are borrowed. */
typedef struct {
	const gchar *dec_payload_file;
	const gchar *enc_keyname;
	const gchar *payload_script; /* "" or NULL: none */
	gboolean extract_payload_zip;
	guint timeout_seconds; /* 0: no limit */
	KlZipLimits limits;
} KlAgentPayloadOptions;

/* upstream's defaults; limits from kl_zip_limits_init_default() */
void kl_agent_payload_options_init(KlAgentPayloadOptions *options);

/* Steps 1-4, synchronously; returns the unzipped/ path. */
gchar *kl_agent_payload_install(const gchar *secure_dir,
				KlSecret *key,
				GBytes *payload,
				const KlAgentPayloadOptions *options,
				GError **error);

/* Steps 1-5: installation in a worker thread, then the script. */
void kl_agent_payload_run_async(const gchar *secure_dir,
				KlSecret *key,
				GBytes *payload,
				const KlAgentPayloadOptions *options,
				GCancellable *cancellable,
				GAsyncReadyCallback callback,
				gpointer user_data);
/* @script_ran: whether a payload script was found and run; a script that
 * fails, is killed or times out (KL_ERROR_TIMED_OUT) is an error. */
gboolean kl_agent_payload_run_finish(GAsyncResult *result, gboolean *script_ran, GError **error);

/*
 * Runs @argv in @cwd with @input (nullable: empty) on stdin and
 * stdout+stderr merged, in its own process group; after @timeout_seconds
 * (0: none) the group is killed.  Succeeds when the command exits with
 * status 0; @output (nullable) gets up to KL_AGENT_COMMAND_MAX_OUTPUT bytes
 * of what it printed, which is also logged at info level.
 */
void kl_agent_command_run_async(const gchar *const *argv,
				const gchar *cwd,
				GBytes *input,
				guint timeout_seconds,
				GCancellable *cancellable,
				GAsyncReadyCallback callback,
				gpointer user_data);
gboolean kl_agent_command_run_finish(GAsyncResult *result, GBytes **output, GError **error);

/* A name for a file directly in a directory: no '/', not '.', '..' or
 * empty, no control characters. */
gboolean kl_agent_file_name_is_valid(const gchar *name, GError **error);

/* rm -rf @name below @dirfd without following symbolic links. */
gboolean kl_agent_remove_tree_at(int dirfd, const gchar *name, GError **error);

G_END_DECLS
