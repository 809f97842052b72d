/*
 * The IMA measurement list parser and PCR 10 replay.  The hot path is
 * one memcpy of the line into a reused buffer, in-place tokenising, hex
 * decoding into fixed arrays and three digests with reused contexts: no
 * allocation per entry, so a 50 000-entry log costs its hashing and little
 * else.
 */
#define G_LOG_DOMAIN "KlCore"

#include "config.h"

#include "kl-crypto.h"
#include "kl-ima-log.h"

#define KL_IMA_STREAM_CHUNK	   (64 * 1024)
#define KL_IMA_EVENT_NAME_LEN_MAX  255 /* the kernel's TCG_EVENT_NAME_LEN_MAX */
#define KL_IMA_FINDING_SUBJECT_MAX 256

struct _KlImaLogParser {
	/* data mode */
	const gchar *data;
	gsize data_len;
	gsize data_pos;
	/* stream mode */
	GInputStream *stream;
	guint8 *chunk;
	gsize chunk_len;
	gsize chunk_pos;
	gboolean eof;
	/* the current line, NUL-terminated and tokenised in place */
	gchar *line;
	gsize line_len;
	guint8 *tdata;
	gsize tdata_alloc;
	gchar digest_hex[KL_IMA_MAX_DIGEST * 2 + 1];
	guint line_no;
	guint n_lines;
	KlImaEntry entry;
};

GQuark
kl_ima_error_quark(void)
{
	static GQuark quark = 0;
	if (quark == 0)
		quark = g_quark_from_static_string("kl-ima-error-quark");
	return quark;
}

const gchar *
kl_ima_template_to_string(KlImaTemplate template_kind)
{
	switch (template_kind) {
	case KL_IMA_TEMPLATE_IMA:
		return "ima";
	case KL_IMA_TEMPLATE_IMA_NG:
		return "ima-ng";
	case KL_IMA_TEMPLATE_IMA_SIG:
		return "ima-sig";
	case KL_IMA_TEMPLATE_IMA_BUF:
		return "ima-buf";
	case KL_IMA_TEMPLATE_LAST:
	default:
		return "unknown";
	}
}

/* hex */

static const gint8 kl_ima_hex_values[256] = {
	['0'] = 1,  ['1'] = 2,	['2'] = 3,  ['3'] = 4,	['4'] = 5,  ['5'] = 6,
	['6'] = 7,  ['7'] = 8,	['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12,
	['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16, ['A'] = 11, ['B'] = 12,
	['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

/* Into a caller's buffer, unlike kl_crypto_hex_decode(): no allocation on
 * the per-entry path.  Either case, like Python's bytes.fromhex(). */
static gboolean
kl_ima_hex_decode(const gchar *hex, gsize hex_len, guint8 *out, gsize out_max, gsize *out_len)
{
	if (hex_len % 2 != 0 || hex_len / 2 > out_max)
		return FALSE;
	for (gsize i = 0; i < hex_len / 2; i++) {
		gint hi = kl_ima_hex_values[(guchar)hex[i * 2]];
		gint lo = kl_ima_hex_values[(guchar)hex[i * 2 + 1]];
		if (hi == 0 || lo == 0)
			return FALSE;
		out[i] = (guint8)(((hi - 1) << 4) | (lo - 1));
	}
	*out_len = hex_len / 2;
	return TRUE;
}

static void
kl_ima_hex_encode_into(const guint8 *data, gsize len, gchar *out)
{
	static const gchar digits[] = "0123456789abcdef";
	for (gsize i = 0; i < len; i++) {
		out[i * 2] = digits[data[i] >> 4];
		out[i * 2 + 1] = digits[data[i] & 0x0f];
	}
	out[len * 2] = '\0';
}

/* parser */

static KlImaLogParser *
kl_ima_log_parser_new(void)
{
	return g_new0(KlImaLogParser, 1);
}

KlImaLogParser *
kl_ima_log_parser_new_for_data(const gchar *data, gsize len)
{
	KlImaLogParser *self = kl_ima_log_parser_new();
	g_return_val_if_fail(data != NULL || len == 0, NULL);
	self->data = data;
	self->data_len = len;
	return self;
}

KlImaLogParser *
kl_ima_log_parser_new_for_stream(GInputStream *stream)
{
	KlImaLogParser *self = kl_ima_log_parser_new();
	g_return_val_if_fail(G_IS_INPUT_STREAM(stream), NULL);
	self->stream = g_object_ref(stream);
	self->chunk = g_malloc(KL_IMA_STREAM_CHUNK);
	return self;
}

void
kl_ima_log_parser_free(KlImaLogParser *self)
{
	if (self == NULL)
		return;
	g_clear_object(&self->stream);
	g_free(self->chunk);
	g_free(self->line);
	g_free(self->tdata);
	g_free(self);
}

guint
kl_ima_log_parser_get_lines(KlImaLogParser *self)
{
	return self->n_lines;
}

guint
kl_ima_log_parser_get_last_line(KlImaLogParser *self)
{
	return self->line_no;
}

static void
kl_ima_parser_report(KlImaLogParser *self, GPtrArray *findings, const gchar *why)
{
	g_autofree gchar *subject = NULL;

	if (findings == NULL)
		return;
	subject = g_strndup(self->line, MIN(self->line_len, KL_IMA_FINDING_SUBJECT_MAX));
	g_ptr_array_add(findings,
			kl_finding_new_printf("ima.parser.entry",
					      subject,
					      self->line_no,
					      "line was not parsable into a valid IMA entry: %s",
					      why));
}

/* Not before the first line: an empty delta costs no buffer.  Zeroed
 * because the exclude regex's JIT reads words past the NUL. */
static void
kl_ima_parser_ensure_line(KlImaLogParser *self)
{
	if (self->line == NULL)
		self->line = g_malloc0(KL_IMA_LOG_MAX_LINE + 1);
}

/* Reads the next physical line into self->line; returns FALSE at the end
 * (error unset) or on a read error.  *too_long: the line was cut off. */
static gboolean
kl_ima_parser_read_line(KlImaLogParser *self, gboolean *too_long, GError **error)
{
	*too_long = FALSE;
	self->line_len = 0;
	if (self->stream == NULL) {
		const gchar *start = self->data + self->data_pos;
		gsize left = self->data_len - self->data_pos;
		const gchar *nl;
		gsize len;

		if (left == 0)
			return FALSE;
		kl_ima_parser_ensure_line(self);
		nl = memchr(start, '\n', left);
		len = nl != NULL ? (gsize)(nl - start) : left;
		self->data_pos += nl != NULL ? len + 1 : len;
		if (len > KL_IMA_LOG_MAX_LINE) {
			*too_long = TRUE;
			len = KL_IMA_FINDING_SUBJECT_MAX;
		}
		memcpy(self->line, start, len);
		self->line[len] = '\0';
		self->line_len = len;
		return TRUE;
	}

	kl_ima_parser_ensure_line(self);
	for (;;) {
		const guint8 *start;
		const guint8 *nl;
		gsize avail;
		gsize take;

		if (self->chunk_pos == self->chunk_len) {
			gssize n;
			if (self->eof)
				break;
			n = g_input_stream_read(self->stream,
						self->chunk,
						KL_IMA_STREAM_CHUNK,
						NULL,
						error);
			if (n < 0) {
				g_prefix_error(error, "reading the IMA log: ");
				return FALSE;
			}
			self->chunk_len = (gsize)n;
			self->chunk_pos = 0;
			if (n == 0) {
				self->eof = TRUE;
				break;
			}
		}
		start = self->chunk + self->chunk_pos;
		avail = self->chunk_len - self->chunk_pos;
		nl = memchr(start, '\n', avail);
		take = nl != NULL ? (gsize)(nl - start) : avail;
		self->chunk_pos += nl != NULL ? take + 1 : take;
		/* Past the limit the rest of the line is read and dropped. */
		if (!*too_long) {
			if (self->line_len + take > KL_IMA_LOG_MAX_LINE) {
				*too_long = TRUE;
				take = MIN(take, KL_IMA_LOG_MAX_LINE - self->line_len);
			}
			memcpy(self->line + self->line_len, start, take);
			self->line_len += take;
		}
		if (nl != NULL) {
			if (*too_long)
				self->line_len = MIN(self->line_len, KL_IMA_FINDING_SUBJECT_MAX);
			self->line[self->line_len] = '\0';
			return TRUE;
		}
	}
	/* end of stream: a last line without '\n' still counts */
	if (*too_long)
		self->line_len = MIN(self->line_len, KL_IMA_FINDING_SUBJECT_MAX);
	self->line[self->line_len] = '\0';
	return self->line_len > 0;
}

/* Upstream's str.split(" ", maxsplit=n): exactly n separators, the last
 * field keeps any further spaces. */
static gboolean
kl_ima_split(gchar *text, gchar **fields, guint n_separators)
{
	gchar *p = text;
	fields[0] = text;
	for (guint i = 1; i <= n_separators; i++) {
		gchar *sp = strchr(p, ' ');
		if (sp == NULL)
			return FALSE;
		*sp = '\0';
		fields[i] = sp + 1;
		p = sp + 1;
	}
	return TRUE;
}

static void
kl_ima_tdata_reserve(KlImaLogParser *self, gsize size)
{
	if (size <= self->tdata_alloc)
		return;
	/* bounded: a line is at most KL_IMA_LOG_MAX_LINE */
	self->tdata_alloc = MAX(size, 1024);
	self->tdata = g_realloc(self->tdata, self->tdata_alloc);
}

static guint8 *
kl_ima_put_u32le(guint8 *p, guint32 value)
{
	p[0] = (guint8)(value & 0xff);
	p[1] = (guint8)((value >> 8) & 0xff);
	p[2] = (guint8)((value >> 16) & 0xff);
	p[3] = (guint8)((value >> 24) & 0xff);
	return p + 4;
}

/* "d" / "d-ng": "alg:hex" or bare hex meaning sha1 (20 B) or md5 (16 B) */
static const gchar *
kl_ima_parse_digest(KlImaLogParser *self, gchar *field)
{
	KlImaEntry *entry = &self->entry;
	gchar *colon = strchr(field, ':');
	const gchar *hex = field;

	if (colon != NULL) {
		if (strchr(colon + 1, ':') != NULL)
			return "digest has more than one ':'";
		*colon = '\0';
		entry->digest_alg = field;
		hex = colon + 1;
	}
	if (!kl_ima_hex_decode(hex,
			       strlen(hex),
			       entry->digest,
			       sizeof(entry->digest),
			       &entry->digest_len))
		return "digest is not valid hex";
	if (colon == NULL) {
		if (entry->digest_len == 20)
			entry->digest_alg = "sha1";
		else if (entry->digest_len == 16)
			entry->digest_alg = "md5";
		else
			return "digest without algorithm is neither sha1 nor md5";
	}
	kl_ima_hex_encode_into(entry->digest, entry->digest_len, self->digest_hex);
	entry->digest_hex = self->digest_hex;
	return NULL;
}

/* Builds the template data as the kernel hashed it (§5.2). */
static const gchar *
kl_ima_build_template(KlImaLogParser *self, const gchar *sig_hex, const gchar *buf_hex)
{
	KlImaEntry *entry = &self->entry;
	gsize alg_len = strlen(entry->digest_alg);
	gsize sig_hex_len = sig_hex != NULL ? strlen(sig_hex) : 0;
	gsize buf_hex_len = buf_hex != NULL ? strlen(buf_hex) : 0;
	guint8 *p;

	/* every field is shorter than the line it came from */
	kl_ima_tdata_reserve(self,
			     alg_len + entry->digest_len + entry->name_len +
				     KL_IMA_EVENT_NAME_LEN_MAX + sig_hex_len / 2 + buf_hex_len / 2 +
				     32);
	p = self->tdata;
	if (entry->template_kind == KL_IMA_TEMPLATE_IMA) {
		if (entry->name_len > KL_IMA_EVENT_NAME_LEN_MAX)
			return "ima template name longer than 255 bytes";
		memcpy(p, entry->digest, entry->digest_len);
		p += entry->digest_len;
		memcpy(p, entry->name, entry->name_len);
		p += entry->name_len;
		memset(p, 0, KL_IMA_EVENT_NAME_LEN_MAX + 1 - entry->name_len);
		p += KL_IMA_EVENT_NAME_LEN_MAX + 1 - entry->name_len;
		entry->template_data = self->tdata;
		entry->template_data_len = (gsize)(p - self->tdata);
		return NULL;
	}

	p = kl_ima_put_u32le(p, (guint32)(alg_len + 2 + entry->digest_len));
	memcpy(p, entry->digest_alg, alg_len);
	p += alg_len;
	*p++ = ':';
	*p++ = '\0';
	memcpy(p, entry->digest, entry->digest_len);
	p += entry->digest_len;
	p = kl_ima_put_u32le(p, (guint32)(entry->name_len + 1));
	memcpy(p, entry->name, entry->name_len);
	p += entry->name_len;
	*p++ = '\0';

	if (entry->template_kind == KL_IMA_TEMPLATE_IMA_SIG) {
		gsize sig_len = 0;
		guint8 *sig = p + 4;
		/* A signature failing the v2 header check is treated as absent,
		 * as upstream does: the template hash then fails. */
		if (sig_hex_len > 0) {
			if (!kl_ima_hex_decode(sig_hex,
					       sig_hex_len,
					       sig,
					       sig_hex_len / 2,
					       &sig_len) ||
			    sig_len < 9 || 9 + (((gsize)sig[7] << 8) | sig[8]) != sig_len) {
				entry->sig_malformed = TRUE;
				sig_len = 0;
			}
		}
		p = kl_ima_put_u32le(p, (guint32)sig_len);
		if (sig_len > 0) {
			entry->sig = sig;
			entry->sig_len = sig_len;
		}
		p += sig_len;
	} else if (entry->template_kind == KL_IMA_TEMPLATE_IMA_BUF) {
		gsize buf_len = 0;
		guint8 *buf = p + 4;
		if (!kl_ima_hex_decode(buf_hex, buf_hex_len, buf, buf_hex_len / 2, &buf_len))
			return "buffer is not valid hex";
		p = kl_ima_put_u32le(p, (guint32)buf_len);
		entry->buf = buf;
		entry->buf_len = buf_len;
		p += buf_len;
	}
	entry->template_data = self->tdata;
	entry->template_data_len = (gsize)(p - self->tdata);
	return NULL;
}

/* Returns NULL if the line parsed, else why not. */
static const gchar *
kl_ima_parse_line(KlImaLogParser *self)
{
	KlImaEntry *entry = &self->entry;
	gchar *fields[4];
	gchar *data[3];
	const gchar *why;

	memset(entry, 0, sizeof(*entry));
	entry->line = self->line_no;
	if (memchr(self->line, '\0', self->line_len) != NULL)
		return "line contains a NUL byte";
	if (!kl_ima_split(self->line, fields, 3))
		return "expected 4 fields";
	entry->pcr = fields[0];
	if (!kl_ima_hex_decode(fields[1],
			       strlen(fields[1]),
			       entry->template_hash,
			       sizeof(entry->template_hash),
			       &entry->template_hash_len))
		return "template hash is not valid hex";

	if (g_strcmp0(fields[2], "ima-ng") == 0)
		entry->template_kind = KL_IMA_TEMPLATE_IMA_NG;
	else if (g_strcmp0(fields[2], "ima-sig") == 0)
		entry->template_kind = KL_IMA_TEMPLATE_IMA_SIG;
	else if (g_strcmp0(fields[2], "ima-buf") == 0)
		entry->template_kind = KL_IMA_TEMPLATE_IMA_BUF;
	else if (g_strcmp0(fields[2], "ima") == 0)
		entry->template_kind = KL_IMA_TEMPLATE_IMA;
	else if (g_strcmp0(fields[2], "ima-modsig") == 0)
		/* upstream Keylime has no parser for it either */
		return "template ima-modsig is not supported";
	else
		/* ima-ngv2, ima-sigv2, evm-sig...: upstream has no parser */
		return "template not supported";

	if (entry->template_kind == KL_IMA_TEMPLATE_IMA ||
	    entry->template_kind == KL_IMA_TEMPLATE_IMA_NG) {
		if (!kl_ima_split(fields[3], data, 1))
			return "expected a digest and a name";
		data[2] = NULL;
	} else {
		if (!kl_ima_split(fields[3], data, 2))
			return "expected a digest, a name and a third field";
	}
	why = kl_ima_parse_digest(self, data[0]);
	if (why != NULL)
		return why;
	entry->name = data[1];
	entry->name_len = strlen(data[1]);
	return kl_ima_build_template(
		self,
		entry->template_kind == KL_IMA_TEMPLATE_IMA_SIG ? data[2] : NULL,
		entry->template_kind == KL_IMA_TEMPLATE_IMA_BUF ? data[2] : NULL);
}

const KlImaEntry *
kl_ima_log_parser_next(KlImaLogParser *self, GPtrArray *findings, GError **error)
{
	g_return_val_if_fail(self != NULL, NULL);

	for (;;) {
		gboolean too_long = FALSE;
		g_autoptr(GError) error_local = NULL;
		const gchar *why;

		if (!kl_ima_parser_read_line(self, &too_long, &error_local)) {
			if (error_local != NULL)
				g_propagate_error(error, g_steal_pointer(&error_local));
			return NULL;
		}
		self->line_no++;
		/* only "\n" is stripped; empty lines count but are skipped */
		if (self->line_len == 0 && !too_long)
			continue;
		self->n_lines++;
		if (too_long) {
			kl_ima_parser_report(self, findings, "line too long");
			continue;
		}
		why = kl_ima_parse_line(self);
		if (why != NULL) {
			/* tokenising wrote NULs: show the line as far as it goes */
			kl_ima_parser_report(self, findings, why);
			continue;
		}
		return &self->entry;
	}
}

/* banks */

static const gchar *kl_ima_bank_names[KL_IMA_BANK_LAST] = {"sha1", "sha256", "sha384", "sha512"};
static const gsize kl_ima_bank_sizes[KL_IMA_BANK_LAST] = {20, 32, 48, 64};

gboolean
kl_ima_bank_from_string(const gchar *name, KlImaBank *bank, GError **error)
{
	for (guint i = 0; i < KL_IMA_BANK_LAST; i++) {
		if (g_strcmp0(name, kl_ima_bank_names[i]) == 0) {
			*bank = (KlImaBank)i;
			return TRUE;
		}
	}
	g_set_error(error,
		    KL_IMA_ERROR,
		    KL_IMA_ERROR_INVALID_ARGUMENT,
		    "unsupported PCR bank '%s' for IMA",
		    name != NULL ? name : "(null)");
	return FALSE;
}

const gchar *
kl_ima_bank_to_string(KlImaBank bank)
{
	g_return_val_if_fail(bank < KL_IMA_BANK_LAST, NULL);
	return kl_ima_bank_names[bank];
}

gsize
kl_ima_bank_get_size(KlImaBank bank)
{
	g_return_val_if_fail(bank < KL_IMA_BANK_LAST, 0);
	return kl_ima_bank_sizes[bank];
}

/* state */

void
kl_ima_state_init(KlImaState *state)
{
	memset(state, 0, sizeof(*state));
}

gboolean
kl_ima_state_is_fresh(const KlImaState *state)
{
	return state->next_entry == 0;
}

gboolean
kl_ima_state_check_quote_progress(KlImaState *state, guint64 match_line, guint64 n_lines)
{
	gboolean ok = TRUE;

	/* The lines the last quote lagged behind were sent again at the start
	 * of this batch; a quote that still has not covered them is stuck. */
	if (state->have_progress && match_line != n_lines) {
		guint64 prev_lag = state->prev_len - state->prev_match;
		if (state->prev_len > state->prev_match && match_line < prev_lag)
			ok = FALSE;
	}
	state->have_progress = TRUE;
	state->prev_match = match_line;
	state->prev_len = n_lines;
	return ok;
}

/* counts and results */

gchar *
kl_ima_counts_to_string(const KlImaCounts *counts)
{
	GString *str = g_string_new(NULL);

	g_string_append_printf(str,
			       "IMA ERRORS: template-hash %u fnf %u hash %u good %u",
			       counts->template_hash,
			       counts->fnf,
			       counts->hash,
			       counts->good);
	if (counts->signature > 0)
		g_string_append_printf(str, " signature %u", counts->signature);
	if (counts->pcr > 0)
		g_string_append_printf(str, " pcr %u", counts->pcr);
	if (counts->keys > 0)
		g_string_append_printf(str, " key %u", counts->keys);
	if (counts->parser > 0)
		g_string_append_printf(str, " parser %u", counts->parser);
	if (counts->violations > 0)
		g_string_append_printf(str, " tomtou %u", counts->violations);
	return g_string_free(str, FALSE);
}

void
kl_ima_result_clear(KlImaResult *result)
{
	g_clear_pointer(&result->findings, g_ptr_array_unref);
	memset(result, 0, sizeof(*result));
}

void
kl_ima_result_init(KlImaResult *result)
{
	/* @result is zeroed or initialised already: initialising twice must
	 * not leak the first findings (g_auto(KlImaResult) r = {0} + init). */
	kl_ima_result_clear(result);
	result->findings = kl_findings_new();
	kl_ima_state_init(&result->state);
}

/* replay */

/* One context per algorithm: re-initialising a context with another
 * algorithm frees and re-creates its provider state every time. */
typedef struct {
	EVP_MD_CTX *bank_ctx;
	EVP_MD_CTX *log_ctx;
	const EVP_MD *bank_md;
	const EVP_MD *log_md;
	gsize bank_len;
	gsize log_len;
} KlImaHasher;

static gboolean
kl_ima_hash(EVP_MD_CTX *ctx,
	    const EVP_MD *md,
	    const guint8 *a,
	    gsize a_len,
	    const guint8 *b,
	    gsize b_len,
	    guint8 *out,
	    GError **error)
{
	if (EVP_DigestInit_ex2(ctx, md, NULL) != 1 || EVP_DigestUpdate(ctx, a, a_len) != 1 ||
	    (b_len > 0 && EVP_DigestUpdate(ctx, b, b_len) != 1) ||
	    EVP_DigestFinal_ex(ctx, out, NULL) != 1) {
		kl_crypto_set_error_openssl(error, KL_IMA_ERROR, KL_IMA_ERROR_FAILED, "digest");
		return FALSE;
	}
	return TRUE;
}

static gboolean
kl_ima_all_bytes(const guint8 *data, gsize len, guint8 value)
{
	for (gsize i = 0; i < len; i++) {
		if (data[i] != value)
			return FALSE;
	}
	return TRUE;
}

/* Algorithms and sizes, no contexts yet */
static gboolean
kl_ima_hasher_init(KlImaHasher *hasher, KlImaBank bank, const gchar *log_hash_alg, GError **error)
{
	if (bank >= KL_IMA_BANK_LAST) {
		g_set_error(error, KL_IMA_ERROR, KL_IMA_ERROR_INVALID_ARGUMENT, "invalid PCR bank");
		return FALSE;
	}
	hasher->bank_len = kl_ima_bank_sizes[bank];
	hasher->bank_md = kl_crypto_get_md(kl_ima_bank_names[bank], error);
	if (hasher->bank_md == NULL)
		return FALSE;
	hasher->log_md = kl_crypto_get_md(log_hash_alg != NULL ? log_hash_alg : "sha1", error);
	if (hasher->log_md == NULL) {
		g_prefix_error(error, "IMA log hash algorithm: ");
		return FALSE;
	}
	hasher->log_len = (gsize)EVP_MD_get_size(hasher->log_md);
	return TRUE;
}

/* What the kernel extends for @entry: ToMToU and open-writers entries are
 * logged with a zero template hash and extend 0xff; everything else
 * extends H_bank(template data). */
static gboolean
kl_ima_hasher_pcr_digest(const KlImaHasher *hasher,
			 const KlImaEntry *entry,
			 guint8 *out,
			 gboolean *violation,
			 GError **error)
{
	*violation = entry->template_hash_len == hasher->log_len &&
		     kl_ima_all_bytes(entry->template_hash, entry->template_hash_len, 0);
	if (*violation) {
		memset(out, 0xff, hasher->bank_len);
		return TRUE;
	}
	return kl_ima_hash(hasher->bank_ctx,
			   hasher->bank_md,
			   entry->template_data,
			   entry->template_data_len,
			   NULL,
			   0,
			   out,
			   error);
}

gboolean
kl_ima_entry_pcr_digest(const KlImaEntry *entry,
			KlImaBank bank,
			const gchar *log_hash_alg,
			guint8 *out,
			GError **error)
{
	KlImaHasher hasher = {0};
	g_autoptr(EVP_MD_CTX) ctx = NULL;
	gboolean violation = FALSE;

	g_return_val_if_fail(entry != NULL, FALSE);
	g_return_val_if_fail(out != NULL, FALSE);

	if (!kl_ima_hasher_init(&hasher, bank, log_hash_alg, error))
		return FALSE;
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL) {
		g_set_error_literal(error, KL_IMA_ERROR, KL_IMA_ERROR_FAILED, "out of memory");
		return FALSE;
	}
	hasher.bank_ctx = ctx;
	return kl_ima_hasher_pcr_digest(&hasher, entry, out, &violation, error);
}

static void
kl_ima_add_finding(GPtrArray *findings, KlFinding *finding)
{
	g_ptr_array_add(findings, finding);
}

/* Checks of upstream's Entry.invalid(); returns whether to judge the entry
 * against the policy. */
static gboolean
kl_ima_check_entry(const KlImaEntry *entry,
		   const guint8 *computed,
		   gsize computed_len,
		   gboolean violation,
		   gboolean ignore_tomtou_errors,
		   GPtrArray *findings,
		   KlImaCounts *counts)
{
	if (g_strcmp0(entry->pcr, "10") != 0) {
		KlFinding *finding = kl_finding_new_printf("ima.validation.ima_pcr",
							   entry->name,
							   entry->line,
							   "IMA PCR is not the configured one: %s",
							   entry->pcr);
		kl_finding_set_context_got_expected(finding, entry->pcr, "10");
		kl_ima_add_finding(findings, finding);
		counts->pcr++;
	}
	if (violation) {
		counts->violations++;
		/* upstream's flag works inverted to its documentation (§14) */
		if (ignore_tomtou_errors)
			kl_ima_add_finding(findings,
					   kl_finding_new("ima.validation.tomtou",
							  entry->name,
							  entry->line,
							  "hash validation was skipped"));
		return FALSE;
	}
	if (computed_len != entry->template_hash_len ||
	    !kl_crypto_memeq(computed, entry->template_hash, computed_len)) {
		gchar got[KL_IMA_MAX_DIGEST * 2 + 1];
		gchar expected[KL_IMA_MAX_DIGEST * 2 + 1];
		KlFinding *finding =
			kl_finding_new("ima.validation.ima_hash",
				       entry->name,
				       entry->line,
				       "IMA template hash does not match the calculated hash");
		kl_ima_hex_encode_into(computed, computed_len, got);
		kl_ima_hex_encode_into(entry->template_hash, entry->template_hash_len, expected);
		kl_finding_set_context_got_expected(finding, got, expected);
		kl_ima_add_finding(findings, finding);
		counts->template_hash++;
		return FALSE;
	}
	return TRUE;
}

gboolean
kl_ima_log_replay(KlImaLogParser *parser,
		  const KlImaReplayOptions *options,
		  KlImaResult *result,
		  GError **error)
{
	KlImaHasher hasher = {0};
	g_autoptr(EVP_MD_CTX) bank_ctx = NULL;
	g_autoptr(EVP_MD_CTX) log_ctx = NULL;
	KlImaState fresh;
	const KlImaState *resume = options->resume;
	guint8 running[KL_IMA_MAX_DIGEST] = {0};
	gboolean found;
	guint findings_before;

	g_return_val_if_fail(parser != NULL, FALSE);
	g_return_val_if_fail(options != NULL, FALSE);
	g_return_val_if_fail(result != NULL, FALSE);

	kl_ima_result_init(result);

	if (options->bank >= KL_IMA_BANK_LAST) {
		g_set_error(error, KL_IMA_ERROR, KL_IMA_ERROR_INVALID_ARGUMENT, "invalid PCR bank");
		return FALSE;
	}
	hasher.bank_len = kl_ima_bank_sizes[options->bank];
	if (options->quoted_pcr10 != NULL && options->quoted_pcr10_len != hasher.bank_len) {
		g_set_error(error,
			    KL_IMA_ERROR,
			    KL_IMA_ERROR_INVALID_ARGUMENT,
			    "quoted PCR 10 has %" G_GSIZE_FORMAT
			    " bytes, the %s bank %" G_GSIZE_FORMAT,
			    options->quoted_pcr10_len,
			    kl_ima_bank_names[options->bank],
			    hasher.bank_len);
		return FALSE;
	}
	if (resume == NULL) {
		kl_ima_state_init(&fresh);
		resume = &fresh;
	}
	if (!kl_ima_state_is_fresh(resume)) {
		if ((resume->known_banks & (1u << options->bank)) == 0) {
			g_set_error(error,
				    KL_IMA_ERROR,
				    KL_IMA_ERROR_INVALID_ARGUMENT,
				    "saved IMA state has no %s PCR 10 value",
				    kl_ima_bank_names[options->bank]);
			return FALSE;
		}
		memcpy(running, resume->pcr10[options->bank], hasher.bank_len);
	}
	if (!kl_ima_hasher_init(&hasher, options->bank, options->log_hash_alg, error))
		return FALSE;

	result->state = *resume;
	found = options->quoted_pcr10 == NULL ||
		kl_crypto_memeq(running, options->quoted_pcr10, hasher.bank_len);
	findings_before = result->findings->len;

	for (;;) {
		const KlImaEntry *entry;
		guint8 pcr_hash[KL_IMA_MAX_DIGEST];
		guint8 log_hash[KL_IMA_MAX_DIGEST];
		guint entry_findings;
		gboolean violation;
		gboolean good = TRUE;
		g_autoptr(GError) error_local = NULL;

		entry_findings = result->findings->len;
		entry = kl_ima_log_parser_next(parser, result->findings, &error_local);
		result->counts.parser += result->findings->len - entry_findings;
		if (entry == NULL) {
			if (error_local != NULL) {
				/* a read error ends the batch; it cannot match past it */
				kl_ima_add_finding(
					result->findings,
					kl_finding_new("ima.parser.entry",
						       "IMA log",
						       kl_ima_log_parser_get_last_line(parser) + 1,
						       error_local->message));
				result->counts.parser++;
			}
			break;
		}
		result->counts.entries++;
		entry_findings = result->findings->len;
		/* only now: an empty delta needs no digest contexts */
		if (bank_ctx == NULL) {
			bank_ctx = EVP_MD_CTX_new();
			log_ctx = EVP_MD_CTX_new();
			if (bank_ctx == NULL || log_ctx == NULL) {
				g_set_error_literal(error,
						    KL_IMA_ERROR,
						    KL_IMA_ERROR_FAILED,
						    "out of memory");
				return FALSE;
			}
			hasher.bank_ctx = bank_ctx;
			hasher.log_ctx = log_ctx;
		}

		if (!kl_ima_hasher_pcr_digest(&hasher, entry, pcr_hash, &violation, error))
			return FALSE;
		if (!violation) {
			if (hasher.log_md == hasher.bank_md) {
				memcpy(log_hash, pcr_hash, hasher.bank_len);
			} else if (!kl_ima_hash(hasher.log_ctx,
						hasher.log_md,
						entry->template_data,
						entry->template_data_len,
						NULL,
						0,
						log_hash,
						error)) {
				return FALSE;
			}
		}
		if (!kl_ima_hash(hasher.bank_ctx,
				 hasher.bank_md,
				 running,
				 hasher.bank_len,
				 pcr_hash,
				 hasher.bank_len,
				 running,
				 error))
			return FALSE;

		if (kl_ima_check_entry(entry,
				       log_hash,
				       hasher.log_len,
				       violation,
				       options->ignore_tomtou_errors,
				       result->findings,
				       &result->counts) &&
		    options->judge != NULL) {
			good = options->judge(entry,
					      result->findings,
					      &result->counts,
					      options->judge_data);
		}
		if (!good || result->findings->len > entry_findings)
			result->counts.failures_by_template[entry->template_kind]++;
		else
			result->counts.good++;

		if (!found && kl_crypto_memeq(running, options->quoted_pcr10, hasher.bank_len)) {
			found = TRUE;
			result->match_line = entry->line;
			result->state.next_entry = resume->next_entry + entry->line;
			memcpy(result->state.pcr10[options->bank], running, hasher.bank_len);
			result->state.known_banks = 1u << options->bank;
		}
	}

	result->n_lines = kl_ima_log_parser_get_last_line(parser);
	memcpy(result->pcr10, running, hasher.bank_len);
	result->pcr10_len = hasher.bank_len;
	result->pcr_matched = found;
	if (options->quoted_pcr10 == NULL) {
		/* no quote: the whole batch is the new starting point */
		result->state.next_entry = resume->next_entry + result->n_lines;
		memcpy(result->state.pcr10[options->bank], running, hasher.bank_len);
		result->state.known_banks = 1u << options->bank;
	} else if (!found) {
		g_autofree gchar *quoted =
			kl_crypto_hex_encode(options->quoted_pcr10, options->quoted_pcr10_len);
		g_autofree gchar *replayed = kl_crypto_hex_encode(running, hasher.bank_len);
		KlFinding *finding =
			kl_finding_new_printf("ima.pcr_mismatch",
					      "PCR 10",
					      0,
					      "IMA measurement list does not match TPM PCR %s",
					      quoted);
		kl_finding_set_context_got_expected(finding, replayed, quoted);
		kl_ima_add_finding(result->findings, finding);
	} else if (!kl_ima_state_check_quote_progress(&result->state,
						      result->match_line,
						      result->n_lines)) {
		kl_ima_add_finding(
			result->findings,
			kl_finding_new_printf("ima.quote_progress",
					      "PCR 10",
					      result->match_line,
					      "quote did not progress: matched at line %u of %u",
					      result->match_line,
					      result->n_lines));
	}

	/* as upstream: any failure replays from the start next time */
	if (result->findings->len > findings_before)
		kl_ima_state_init(&result->state);
	return TRUE;
}
