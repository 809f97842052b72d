/*
 * keylime_ima_emulator: extends PCR 10 from an IMA ascii measurement list
 * as the kernel would have while writing it, for tests and demos on a
 * software TPM where no kernel measures anything.
 *
 * It replays the log that is there, then follows appends (polling), one
 * TPM2_PCR_Extend per entry and bank with kl_ima_entry_pcr_digest(): the
 * digest kl_ima_log_replay() checks against.  A last line without its
 * newline is left until the newline arrives.  A log that shrinks or is
 * replaced is an error: PCR 10 cannot be reset.
 *
 * On start, when PCR 10 already holds a value that some prefix of the log
 * replays to (an earlier run), it goes on after that prefix; a value no
 * prefix gives is a warning, since the log and PCR 10 will not match.
 *
 * The TPM is shared with keylime_agent: use a resource manager
 * (tpm2-abrmd, /dev/tpmrm0), since swtpm serves one connection at a time.
 */
#include "config.h"

#include <locale.h>
#include <stdlib.h>
#include <tss2/tss2_tctildr.h>

#include <glib-unix.h>

#include "kl-agent-config.h"
#include "kl-crypto.h"
#include "kl-ima-log.h"
#include "kl-tpm-esys.h"

#define KL_EMU_READ_CHUNK	(64 * 1024)
#define KL_EMU_DEFAULT_INTERVAL 200
#define KL_EMU_SECURITYFS	"/sys/kernel/security/"

typedef struct {
	TPM2_ALG_ID alg;
	KlImaBank bank;
} KlEmuBank;

typedef struct {
	gchar *log_path;
	const gchar *log_hash_alg; /* nullable: "sha1" */
	gboolean once;
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
	GArray *banks; /* of KlEmuBank */
	GFile *file;
	GFileInputStream *stream;
	guint64 inode;
	guint64 read_bytes;  /* bytes read from the log so far */
	GByteArray *pending; /* read, not yet extended */
	guint lines;	     /* lines of the log done with */
	guint64 entries;     /* entries in those lines */
	GMainLoop *loop;
	gint exit_status;
} KlEmu;

static void
kl_emu_clear(KlEmu *self)
{
	if (self->esys != NULL)
		Esys_Finalize(&self->esys);
	if (self->tcti != NULL)
		Tss2_TctiLdr_Finalize(&self->tcti);
	g_clear_pointer(&self->banks, g_array_unref);
	g_clear_object(&self->stream);
	g_clear_object(&self->file);
	g_clear_pointer(&self->pending, g_byte_array_unref);
	g_clear_pointer(&self->loop, g_main_loop_unref);
	g_clear_pointer(&self->log_path, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(KlEmu, kl_emu_clear)

static gboolean
kl_emu_add_bank(KlEmu *self, const gchar *name, GError **error)
{
	KlEmuBank bank = {0};

	if (!kl_tpm_hash_alg_from_string(name, &bank.alg) ||
	    !kl_ima_bank_from_string(name, &bank.bank, NULL)) {
		g_set_error(error,
			    KL_IMA_ERROR,
			    KL_IMA_ERROR_INVALID_ARGUMENT,
			    "%s is not a PCR bank IMA extends (sha1, sha256, sha384, sha512)",
			    name);
		return FALSE;
	}
	for (guint i = 0; i < self->banks->len; i++) {
		if (g_array_index(self->banks, KlEmuBank, i).alg == bank.alg)
			return TRUE;
	}
	g_array_append_val(self->banks, bank);
	return TRUE;
}

/* Every bank the TPM has PCR 10 allocated in, as the kernel extends */
static gboolean
kl_emu_find_banks(KlEmu *self, GError **error)
{
	TPMS_CAPABILITY_DATA *data = NULL;
	const TPML_PCR_SELECTION *assigned;

	if (!kl_tpm_esys_check_rc(Esys_GetCapability(self->esys,
						     ESYS_TR_NONE,
						     ESYS_TR_NONE,
						     ESYS_TR_NONE,
						     TPM2_CAP_PCRS,
						     0,
						     1,
						     NULL,
						     &data),
				  "TPM2_GetCapability(PCRS)",
				  error))
		return FALSE;
	assigned = &data->data.assignedPCR;
	for (guint32 i = 0; i < assigned->count && i < TPM2_NUM_PCR_BANKS; i++) {
		const TPMS_PCR_SELECTION *sel = &assigned->pcrSelections[i];
		const gchar *name = kl_tpm_hash_alg_to_string(sel->hash);
		KlImaBank bank;

		if (sel->sizeofSelect <= KL_IMA_PCR / 8 ||
		    (sel->pcrSelect[KL_IMA_PCR / 8] & (1u << (KL_IMA_PCR % 8))) == 0)
			continue;
		if (name == NULL || !kl_ima_bank_from_string(name, &bank, NULL)) {
			g_warning("PCR 10 is allocated in bank 0x%x, which this emulator "
				  "does not extend",
				  (guint)sel->hash);
			continue;
		}
		if (!kl_emu_add_bank(self, name, error)) {
			Esys_Free(data);
			return FALSE;
		}
	}
	Esys_Free(data);
	if (self->banks->len == 0) {
		g_set_error_literal(error,
				    KL_IMA_ERROR,
				    KL_IMA_ERROR_INVALID_ARGUMENT,
				    "the TPM has PCR 10 in no bank IMA extends");
		return FALSE;
	}
	return TRUE;
}

static gboolean
kl_emu_open_tpm(KlEmu *self, const gchar *tcti, GError **error)
{
	if (!kl_tpm_esys_check_rc(Tss2_TctiLdr_Initialize(tcti, &self->tcti),
				  "Tss2_TctiLdr_Initialize",
				  error) ||
	    !kl_tpm_esys_check_rc(Esys_Initialize(&self->esys, self->tcti, NULL),
				  "Esys_Initialize",
				  error)) {
		g_prefix_error(error, "TPM %s: ", tcti != NULL ? tcti : "(tss2's default)");
		return FALSE;
	}
	return TRUE;
}

static GBytes *
kl_emu_read_pcr(KlEmu *self, const KlEmuBank *bank, GError **error)
{
	g_autoptr(KlPcrBank) values = NULL;
	GBytes *value;

	values = kl_tpm_esys_read_pcrs(self->esys, 1u << KL_IMA_PCR, bank->alg, error);
	if (values == NULL)
		return NULL;
	value = kl_pcr_bank_get(values, KL_IMA_PCR);
	if (value == NULL) {
		g_set_error(error,
			    KL_IMA_ERROR,
			    KL_IMA_ERROR_FAILED,
			    "the TPM returned no PCR 10 in bank %s",
			    kl_ima_bank_to_string(bank->bank));
		return NULL;
	}
	return g_bytes_ref(value);
}

static gboolean
kl_emu_open_log(KlEmu *self, GError **error)
{
	g_autofree gchar *real = realpath(self->log_path, NULL);
	g_autoptr(GFileInfo) info = NULL;

	/* the kernel extends for its own list already */
	if (g_str_has_prefix(real != NULL ? real : self->log_path, KL_EMU_SECURITYFS)) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_INVALID_ARGUMENT,
			    "%s is the kernel's own measurement list; give a copy with --log",
			    self->log_path);
		return FALSE;
	}
	self->file = g_file_new_for_path(self->log_path);
	self->stream = g_file_read(self->file, NULL, error);
	if (self->stream == NULL)
		return FALSE;
	info = g_file_input_stream_query_info(self->stream,
					      G_FILE_ATTRIBUTE_UNIX_INODE,
					      NULL,
					      error);
	if (info == NULL) {
		g_prefix_error(error, "%s: ", self->log_path);
		return FALSE;
	}
	self->inode = g_file_info_get_attribute_uint64(info, G_FILE_ATTRIBUTE_UNIX_INODE);
	return TRUE;
}

/* Appends what the log gained since the last call to self->pending */
static gboolean
kl_emu_read_log(KlEmu *self, GError **error)
{
	g_autoptr(GFileInfo) opened = NULL;
	g_autoptr(GFileInfo) named = NULL;
	guint64 size;

	opened = g_file_input_stream_query_info(self->stream,
						G_FILE_ATTRIBUTE_STANDARD_SIZE,
						NULL,
						error);
	if (opened == NULL) {
		g_prefix_error(error, "%s: ", self->log_path);
		return FALSE;
	}
	size = (guint64)g_file_info_get_size(opened);
	if (size < self->read_bytes) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_FAILED,
			    "%s shrank from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT
			    " bytes: PCR 10 cannot be reset to match it",
			    self->log_path,
			    self->read_bytes,
			    size);
		return FALSE;
	}
	named = g_file_query_info(self->file,
				  G_FILE_ATTRIBUTE_UNIX_INODE,
				  G_FILE_QUERY_INFO_NONE,
				  NULL,
				  NULL);
	if (named == NULL ||
	    g_file_info_get_attribute_uint64(named, G_FILE_ATTRIBUTE_UNIX_INODE) != self->inode) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_FAILED,
			    "%s was removed or replaced: PCR 10 cannot be reset to match a new log",
			    self->log_path);
		return FALSE;
	}

	for (;;) {
		guint8 chunk[KL_EMU_READ_CHUNK];
		gssize n = g_input_stream_read(G_INPUT_STREAM(self->stream),
					       chunk,
					       sizeof(chunk),
					       NULL,
					       error);
		if (n < 0) {
			g_prefix_error(error, "%s: ", self->log_path);
			return FALSE;
		}
		if (n == 0)
			return TRUE;
		g_byte_array_append(self->pending, chunk, (guint)n);
		self->read_bytes += (guint64)n;
	}
}

/* Bytes of the complete lines in self->pending; all of it with @final */
static gsize
kl_emu_complete_len(KlEmu *self, gboolean final)
{
	if (final)
		return self->pending->len;
	for (gsize i = self->pending->len; i > 0; i--) {
		if (self->pending->data[i - 1] == '\n')
			return i;
	}
	return 0;
}

static gboolean
kl_emu_check_findings(KlEmu *self, GPtrArray *findings, GError **error)
{
	const KlFinding *finding;

	if (findings->len == 0)
		return TRUE;
	finding = g_ptr_array_index(findings, 0);
	g_set_error(error,
		    KL_IMA_ERROR,
		    KL_IMA_ERROR_FAILED,
		    "%s:%u: %s",
		    self->log_path,
		    self->lines + finding->line,
		    finding->reason);
	return FALSE;
}

/* PCR 10 := H_bank(PCR 10 || digest) in every bank, as the kernel */
static gboolean
kl_emu_extend_entry(KlEmu *self, const KlImaEntry *entry, GError **error)
{
	for (guint i = 0; i < self->banks->len; i++) {
		const KlEmuBank *bank = &g_array_index(self->banks, KlEmuBank, i);
		guint8 digest[KL_IMA_MAX_DIGEST];
		g_autoptr(GBytes) bytes = NULL;

		if (!kl_ima_entry_pcr_digest(entry, bank->bank, self->log_hash_alg, digest, error))
			return FALSE;
		bytes = g_bytes_new(digest, kl_ima_bank_get_size(bank->bank));
		if (!kl_tpm_esys_pcr_extend(self->esys, KL_IMA_PCR, bank->alg, bytes, error))
			return FALSE;
	}
	return TRUE;
}

/* Extends PCR 10 with the entries in the first @len bytes of
 * self->pending and drops them.  A malformed line stops it, after the
 * entries before it. */
static gboolean
kl_emu_extend(KlEmu *self, gsize len, guint *n_entries, GError **error)
{
	g_autoptr(KlImaLogParser) parser = NULL;
	g_autoptr(GPtrArray) findings = kl_findings_new();

	*n_entries = 0;
	parser = kl_ima_log_parser_new_for_data((const gchar *)self->pending->data, len);
	for (;;) {
		g_autoptr(GError) error_local = NULL;
		const KlImaEntry *entry = kl_ima_log_parser_next(parser, findings, &error_local);

		if (error_local != NULL) {
			g_propagate_error(error, g_steal_pointer(&error_local));
			return FALSE;
		}
		if (!kl_emu_check_findings(self, findings, error))
			return FALSE;
		if (entry == NULL)
			break;
		if (!kl_emu_extend_entry(self, entry, error)) {
			g_prefix_error(error, "%s:%u: ", self->log_path, self->lines + entry->line);
			return FALSE;
		}
		(*n_entries)++;
		self->entries++;
	}
	self->lines += kl_ima_log_parser_get_last_line(parser);
	g_byte_array_remove_range(self->pending, 0, (guint)len);
	return TRUE;
}

/* Drops the first @n_lines lines of @len bytes of self->pending, counting
 * their entries as done */
static void
kl_emu_skip(KlEmu *self, gsize len, guint n_lines)
{
	g_autoptr(KlImaLogParser) parser = NULL;
	gsize skip = 0;

	for (guint line = 0; line < n_lines && skip < len; line++) {
		const guint8 *nl = memchr(self->pending->data + skip, '\n', len - skip);
		skip = nl != NULL ? (gsize)(nl - self->pending->data) + 1 : len;
	}
	parser = kl_ima_log_parser_new_for_data((const gchar *)self->pending->data, skip);
	while (kl_ima_log_parser_next(parser, NULL, NULL) != NULL)
		self->entries++;
	self->lines += n_lines;
	g_byte_array_remove_range(self->pending, 0, (guint)skip);
}

/* Where PCR 10 is already: the line some prefix of the log replays to in
 * every bank, or the start with a warning when there is none. */
static gboolean
kl_emu_resume(KlEmu *self, gsize len, GError **error)
{
	guint match = 0;

	for (guint i = 0; i < self->banks->len; i++) {
		const KlEmuBank *bank = &g_array_index(self->banks, KlEmuBank, i);
		g_autoptr(GBytes) pcr = kl_emu_read_pcr(self, bank, error);
		g_autoptr(KlImaLogParser) parser = NULL;
		g_auto(KlImaResult) result = {0};
		KlImaReplayOptions options = {0};

		if (pcr == NULL)
			return FALSE;
		parser = kl_ima_log_parser_new_for_data((const gchar *)self->pending->data, len);
		options.bank = bank->bank;
		options.log_hash_alg = self->log_hash_alg;
		options.quoted_pcr10 = g_bytes_get_data(pcr, &options.quoted_pcr10_len);
		if (!kl_ima_log_replay(parser, &options, &result, error))
			return FALSE;
		if (!result.pcr_matched) {
			g_autofree gchar *hex = kl_crypto_hex_encode(options.quoted_pcr10,
								     options.quoted_pcr10_len);
			g_warning("PCR 10 (%s) is %s, which no prefix of %s replays to: "
				  "the log and PCR 10 will not match",
				  kl_ima_bank_to_string(bank->bank),
				  hex,
				  self->log_path);
			return TRUE;
		}
		if (i > 0 && result.match_line != match) {
			g_warning("PCR 10 matches %s at line %u in one bank and at line %u in "
				  "%s: the log and PCR 10 will not match",
				  self->log_path,
				  match,
				  result.match_line,
				  kl_ima_bank_to_string(bank->bank));
			return TRUE;
		}
		match = result.match_line;
	}
	if (match > 0) {
		kl_emu_skip(self, len, match);
		g_message("PCR 10 already holds %s up to line %u (%" G_GUINT64_FORMAT
			  " entries): going on from there",
			  self->log_path,
			  match,
			  self->entries);
	}
	return TRUE;
}

/* One poll: read, extend the complete lines, report. */
static gboolean
kl_emu_step(KlEmu *self, gboolean first, GError **error)
{
	gsize len;
	guint n_entries = 0;

	if (!kl_emu_read_log(self, error))
		return FALSE;
	len = kl_emu_complete_len(self, self->once);
	if (first) {
		if (!kl_emu_resume(self, len, error))
			return FALSE;
		len = kl_emu_complete_len(self, self->once);
	}
	if (len == 0 && self->pending->len > KL_IMA_LOG_MAX_LINE) {
		g_set_error(error,
			    KL_IMA_ERROR,
			    KL_IMA_ERROR_FAILED,
			    "%s:%u: line too long",
			    self->log_path,
			    self->lines + 1);
		return FALSE;
	}
	if (len > 0 && !kl_emu_extend(self, len, &n_entries, error))
		return FALSE;
	if (first || n_entries > 0)
		g_message("extended PCR 10 with %u entries, now at entry %" G_GUINT64_FORMAT,
			  n_entries,
			  self->entries);
	return TRUE;
}

static gboolean
kl_emu_poll_cb(gpointer user_data)
{
	KlEmu *self = user_data;
	g_autoptr(GError) error = NULL;

	if (kl_emu_step(self, FALSE, &error))
		return G_SOURCE_CONTINUE;
	g_printerr("keylime_ima_emulator: %s\n", error->message);
	self->exit_status = 1;
	g_main_loop_quit(self->loop);
	return G_SOURCE_REMOVE;
}

static gboolean
kl_emu_quit_cb(gpointer user_data)
{
	KlEmu *self = user_data;

	g_main_loop_quit(self->loop);
	return G_SOURCE_CONTINUE;
}

/* --log and --tcti win; agent.conf and its TCTI resolution give the rest */
static gboolean
kl_emu_configure(KlEmu *self, const gchar *log_path, gchar **tcti, GError **error)
{
	g_autoptr(KlAgentConfig) config = NULL;

	if (log_path != NULL && *tcti != NULL) {
		self->log_path = g_strdup(log_path);
		return TRUE;
	}
	config = kl_agent_config_load(error);
	if (config == NULL) {
		g_prefix_error(error, "agent.conf: ");
		return FALSE;
	}
	self->log_path =
		g_strdup(log_path != NULL ? log_path : kl_agent_config_get_ima_ml_path(config));
	if (*tcti == NULL)
		*tcti = g_strdup(kl_agent_config_get_tcti(config));
	return TRUE;
}

int
main(int argc, char **argv)
{
	g_auto(KlEmu) self = {0};
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *log_path = NULL;
	g_autofree gchar *tcti = NULL;
	g_autofree gchar *log_hash_alg = NULL;
	g_auto(GStrv) bank_names = NULL;
	gint interval = KL_EMU_DEFAULT_INTERVAL;
	gboolean once = FALSE;
	KlImaBank log_bank;
	const GOptionEntry entries[] = {
		{"log",
		 0,
		 0,
		 G_OPTION_ARG_FILENAME,
		 &log_path,
		 "The IMA ascii measurement list (default: ima_ml_path of agent.conf)",
		 "FILE"},
		{"tcti",
		 0,
		 0,
		 G_OPTION_ARG_STRING,
		 &tcti,
		 "The TPM (default: TCG_TCTI, TPM2TOOLS_TCTI, TCTI, tcti of agent.conf)",
		 "TCTI"},
		{"bank",
		 0,
		 0,
		 G_OPTION_ARG_STRING_ARRAY,
		 &bank_names,
		 "Extend this bank only, repeatable (default: every bank with PCR 10)",
		 "ALG"},
		{"log-hash-alg",
		 0,
		 0,
		 G_OPTION_ARG_STRING,
		 &log_hash_alg,
		 "The log's template hash, as a policy's ima.log_hash_alg (default: sha1)",
		 "ALG"},
		{"interval",
		 0,
		 0,
		 G_OPTION_ARG_INT,
		 &interval,
		 "Look for appended lines every MS milliseconds (default: 200)",
		 "MS"},
		{"once",
		 0,
		 0,
		 G_OPTION_ARG_NONE,
		 &once,
		 "Extend what the log holds, then exit",
		 NULL},
		{NULL, 0, 0, G_OPTION_ARG_NONE, NULL, NULL, NULL},
	};

	setlocale(LC_ALL, "");
	context = g_option_context_new(NULL);
	g_option_context_set_summary(
		context,
		"Extends TPM PCR 10 from an IMA measurement list as the kernel "
		"would, and follows the\nlist as it grows.  For tests and demos "
		"on a software TPM.");
	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("keylime_ima_emulator: %s\n", error->message);
		return 2;
	}
	if (argc > 1) {
		g_printerr("keylime_ima_emulator: unexpected argument %s\n", argv[1]);
		return 2;
	}
	if (interval <= 0) {
		g_printerr("keylime_ima_emulator: --interval must be a positive number of "
			   "milliseconds\n");
		return 2;
	}

	self.once = once;
	self.log_hash_alg = log_hash_alg;
	self.banks = g_array_new(FALSE, FALSE, sizeof(KlEmuBank));
	self.pending = g_byte_array_new();
	if (log_hash_alg != NULL && !kl_ima_bank_from_string(log_hash_alg, &log_bank, NULL)) {
		g_printerr("keylime_ima_emulator: --log-hash-alg: %s is not sha1, sha256, sha384 "
			   "or sha512\n",
			   log_hash_alg);
		return 2;
	}
	for (guint i = 0; bank_names != NULL && bank_names[i] != NULL; i++) {
		if (!kl_emu_add_bank(&self, bank_names[i], &error)) {
			g_printerr("keylime_ima_emulator: --bank: %s\n", error->message);
			return 2;
		}
	}
	if (!kl_emu_configure(&self, log_path, &tcti, &error) || !kl_emu_open_log(&self, &error) ||
	    !kl_emu_open_tpm(&self, tcti, &error) ||
	    (self.banks->len == 0 && !kl_emu_find_banks(&self, &error)) ||
	    !kl_emu_step(&self, TRUE, &error)) {
		g_printerr("keylime_ima_emulator: %s\n", error->message);
		return 1;
	}
	if (once)
		return 0;

	self.loop = g_main_loop_new(NULL, FALSE);
	g_timeout_add((guint)interval, kl_emu_poll_cb, &self);
	g_unix_signal_add(SIGTERM, kl_emu_quit_cb, &self);
	g_unix_signal_add(SIGINT, kl_emu_quit_cb, &self);
	g_main_loop_run(self.loop);
	return self.exit_status;
}
