/*
 * kl-ima-log: the IMA ascii measurement list, read as a stream — one line
 * at a time from a buffer or a GInputStream, never the whole log at once —
 * and replayed into PCR 10 of the sha1, sha256, sha384 or sha512 bank.
 *
 * Each line becomes a KlImaEntry borrowed from the parser's line buffer
 * (valid until the next call), with the template data bytes rebuilt
 * exactly as the kernel hashed them.  Templates ima, ima-ng, ima-sig and
 * ima-buf are understood; everything else (ima-modsig included, as
 * upstream Keylime does) and every malformed line is an "ima.parser.entry"
 * finding with its line number, and parsing goes on.
 *
 * kl_ima_log_replay() is the batch loop of upstream's
 * _process_measurement_list(): replay from a saved incremental state,
 * per-entry PCR index and template-hash checks, violation (ToMToU)
 * entries, a PCR match accepted at any entry of the batch, the quote
 * progress rule, and a callback where kl-ima-verify judges each entry
 * against the runtime policy.
 */
#pragma once

#include <gio/gio.h>

#include "kl-finding.h"

G_BEGIN_DECLS

#define KL_IMA_ERROR kl_ima_error_quark()

typedef enum {
	KL_IMA_ERROR_FAILED,
	KL_IMA_ERROR_INVALID_ARGUMENT, /* unknown bank, bad quoted value, unusable state */
	KL_IMA_ERROR_IO,
	KL_IMA_ERROR_SIGNATURE,	  /* a file signature that does not verify */
	KL_IMA_ERROR_INVALID_KEY, /* a key of a type IMA cannot use */
} KlImaError;

GQuark kl_ima_error_quark(void);

/* A line longer than this is a finding, never a buffer that grows: the
 * longest real entries are ima-buf keys of a few KiB. */
#define KL_IMA_LOG_MAX_LINE (64 * 1024 + 4096)
#define KL_IMA_MAX_DIGEST   64
#define KL_IMA_PCR	    10

typedef enum {
	KL_IMA_TEMPLATE_IMA,
	KL_IMA_TEMPLATE_IMA_NG,
	KL_IMA_TEMPLATE_IMA_SIG,
	KL_IMA_TEMPLATE_IMA_BUF,
	KL_IMA_TEMPLATE_LAST,
} KlImaTemplate;

const gchar *kl_ima_template_to_string(KlImaTemplate template_kind);

/* One parsed line; every pointer borrows from the parser and is valid
 * until the next kl_ima_log_parser_next(). */
typedef struct {
	guint line;	  /* 1-based line number in this batch */
	const gchar *pcr; /* the PCR field as logged, e.g. "10" */
	guint8 template_hash[KL_IMA_MAX_DIGEST];
	gsize template_hash_len;
	KlImaTemplate template_kind;
	const gchar *digest_alg; /* "sha256"; "sha1"/"md5" when the log has no prefix */
	guint8 digest[KL_IMA_MAX_DIGEST];
	gsize digest_len;
	const gchar *digest_hex; /* lowercase hex of digest */
	const gchar *name;	 /* path, or the buffer name for ima-buf */
	gsize name_len;
	const guint8 *sig; /* ima-sig: the v2 signature, NULL if none or malformed */
	gsize sig_len;
	gboolean sig_malformed; /* a signature field that failed the header check */
	const guint8 *buf;	/* ima-buf payload */
	gsize buf_len;
	const guint8 *template_data; /* the bytes the kernel hashed */
	gsize template_data_len;
} KlImaEntry;

typedef struct _KlImaLogParser KlImaLogParser;

KlImaLogParser *kl_ima_log_parser_new_for_data(const gchar *data, gsize len);
KlImaLogParser *kl_ima_log_parser_new_for_stream(GInputStream *stream);
/* Next entry; NULL with @error unset at the end.  Malformed lines are
 * appended to @findings (nullable) as "ima.parser.entry" and skipped. */
const KlImaEntry *kl_ima_log_parser_next(KlImaLogParser *self, GPtrArray *findings, GError **error);
guint kl_ima_log_parser_get_lines(KlImaLogParser *self); /* non-empty lines read so far */
guint kl_ima_log_parser_get_last_line(KlImaLogParser *self);
void kl_ima_log_parser_free(KlImaLogParser *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlImaLogParser, kl_ima_log_parser_free)

/* PCR banks that IMA extends */
typedef enum {
	KL_IMA_BANK_SHA1,
	KL_IMA_BANK_SHA256,
	KL_IMA_BANK_SHA384,
	KL_IMA_BANK_SHA512,
	KL_IMA_BANK_LAST,
} KlImaBank;

gboolean kl_ima_bank_from_string(const gchar *name, KlImaBank *bank, GError **error);
const gchar *kl_ima_bank_to_string(KlImaBank bank);
gsize kl_ima_bank_get_size(KlImaBank bank);

/* The digest the kernel extends into PCR 10 of @bank for @entry, into
 * @out (kl_ima_bank_get_size() bytes): 0xff… for a violation entry (a
 * template hash of @log_hash_alg's size, all zeros), else H_bank(template
 * data).  @log_hash_alg: the log's template hash, nullable for "sha1".
 * kl_ima_log_replay() extends with exactly this. */
gboolean kl_ima_entry_pcr_digest(const KlImaEntry *entry,
				 KlImaBank bank,
				 const gchar *log_hash_alg,
				 guint8 *out,
				 GError **error);

/* Incremental attestation state of one agent (upstream's next_ima_ml_entry,
 * pcr10 and the quote-progress memory).  All zero is the fresh state. */
typedef struct {
	guint64 next_entry; /* lines of the log already attested */
	guint8 pcr10[KL_IMA_BANK_LAST][KL_IMA_MAX_DIGEST];
	guint known_banks; /* bit per KlImaBank valid at next_entry > 0 */
	gboolean have_progress;
	guint64 prev_match; /* match line and batch length of the last quote */
	guint64 prev_len;
} KlImaState;

void kl_ima_state_init(KlImaState *state);
gboolean kl_ima_state_is_fresh(const KlImaState *state);
/* §5.3: a quote that lagged its log must catch up with the lagging lines */
gboolean kl_ima_state_check_quote_progress(KlImaState *state, guint64 match_line, guint64 n_lines);

/* Counts like upstream's "IMA ERRORS: template-hash 0 fnf 1 hash 0 good 781" */
typedef struct {
	guint entries;	     /* parsed entries */
	guint good;	     /* entries without any finding */
	guint template_hash; /* ima.validation.ima_hash */
	guint fnf;	     /* ...not_in_allowlist */
	guint hash;	     /* ...runtime_policy_hash */
	guint signature;     /* ima.validator.ima-sig.invalid_signature */
	guint pcr;	     /* ima.validation.ima_pcr */
	guint keys;	     /* ima.invalid_key */
	guint parser;	     /* ima.parser.entry */
	guint violations;    /* all-zero template hashes (ToMToU, open writers) */
	guint excluded;	     /* entries passed by the exclude list alone */
	guint failures_by_template[KL_IMA_TEMPLATE_LAST];
} KlImaCounts;

gchar *kl_ima_counts_to_string(const KlImaCounts *counts);

typedef struct {
	GPtrArray *findings; /* of KlFinding, in log order */
	KlImaCounts counts;
	guint8 pcr10[KL_IMA_MAX_DIGEST]; /* replayed value after the whole batch */
	gsize pcr10_len;
	gboolean pcr_matched; /* FALSE if a quote was given and never matched */
	guint match_line;     /* line of the match; 0 = before the first entry */
	guint n_lines;	      /* lines in the batch */
	KlImaState state;     /* where the next batch starts */
} KlImaResult;

void kl_ima_result_init(KlImaResult *result);
void kl_ima_result_clear(KlImaResult *result);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(KlImaResult, kl_ima_result_clear)

/* Per-entry judgement, called after the PCR index and template-hash checks
 * for entries that passed them (not for violations); adds findings to
 * @findings and returns whether the entry is good. */
typedef gboolean (*KlImaEntryFunc)(const KlImaEntry *entry,
				   GPtrArray *findings,
				   KlImaCounts *counts,
				   gpointer user_data);

typedef struct {
	KlImaBank bank;
	const gchar *log_hash_alg;  /* nullable: "sha1", the kernel's template hash */
	const guint8 *quoted_pcr10; /* nullable: no quote, replay the whole batch */
	gsize quoted_pcr10_len;
	const KlImaState *resume;      /* nullable: fresh */
	gboolean ignore_tomtou_errors; /* upstream's inverted flag: TRUE adds a finding */
	KlImaEntryFunc judge;	       /* nullable */
	gpointer judge_data;
} KlImaReplayOptions;

/* Initialises @result (clear it with kl_ima_result_clear()).  FALSE only
 * for unusable input (bank, quoted value or state); bad entries are
 * findings.  On any finding the returned state is fresh: as upstream, the
 * next batch replays the log from its start. */
gboolean kl_ima_log_replay(KlImaLogParser *parser,
			   const KlImaReplayOptions *options,
			   KlImaResult *result,
			   GError **error);

G_END_DECLS
