/*
 * kl-agent-table-format: what the agent table's writer and readers share:
 * sizes, string rules, the header check and the record check.  See
 * kl-agent-table-format.h for the layout.
 */
#define G_LOG_DOMAIN "KlCore"

#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>

#include "kl-agent-id.h"
#include "kl-agent-table-format.h"
#include "kl-error.h"

G_STATIC_ASSERT(sizeof(KlAgentTableHeader) == KL_AGENT_TABLE_HEADER_SIZE);
G_STATIC_ASSERT(sizeof(KlAgentTableSlot) == KL_AGENT_TABLE_RECORD_SIZE);
G_STATIC_ASSERT(offsetof(KlAgentTableSlot, flags) == sizeof(guint64));
G_STATIC_ASSERT(KL_AGENT_TABLE_RECORD_SIZE % sizeof(guint64) == 0);
G_STATIC_ASSERT(KL_AGENT_TABLE_HEADER_SIZE % sizeof(guint64) == 0);

gsize
kl_agent_table_segment_size(guint64 capacity)
{
	return KL_AGENT_TABLE_HEADER_SIZE + (gsize)capacity * KL_AGENT_TABLE_RECORD_SIZE;
}

void
kl_agent_table_set_errno(GError **error, int saved_errno, const gchar *what, const gchar *name)
{
	KlError code = KL_ERROR_INTERNAL;
	if (saved_errno == ENOENT)
		code = KL_ERROR_NOT_FOUND;
	else if (saved_errno == EACCES || saved_errno == EPERM)
		code = KL_ERROR_PERMISSION_DENIED;
	else if (saved_errno == EEXIST)
		code = KL_ERROR_CONFLICT;
	g_set_error(error,
		    KL_ERROR,
		    code,
		    "agent table %s: %s failed: %s",
		    name,
		    what,
		    g_strerror(saved_errno));
}

/* ---- strings ---------------------------------------------------------- */

/* Copies @src_len bytes of @src into @dest (@size bytes, NUL-padded) as
 * at most @size - 1 bytes of valid UTF-8, cut at a character boundary,
 * control characters replaced: a console prints these strings as they
 * are. */
void
kl_agent_table_copy_string(gchar *dest, gsize size, const gchar *src, gsize src_len)
{
	g_autofree gchar *valid = NULL;
	gsize len = src_len;

	memset(dest, 0, size);
	if (!g_utf8_validate_len(src, len, NULL)) {
		valid = g_utf8_make_valid(src, (gssize)len);
		src = valid;
		len = strlen(valid);
	}
	if (len > size - 1) {
		/* src[len] is the first byte left out: while it continues a
		 * character, that character would be cut, so leave it out too. */
		len = size - 1;
		while (len > 0 && ((guchar)src[len] & 0xc0) == 0x80)
			len--;
	}
	memcpy(dest, src, len);
	for (gsize i = 0; i < len; i++) {
		if ((guchar)dest[i] < 0x20 || dest[i] == 0x7f)
			dest[i] = '?';
	}
}

void
kl_agent_table_set_string(gchar *dest, gsize dest_size, const gchar *src)
{
	g_return_if_fail(dest != NULL);
	g_return_if_fail(dest_size > 0);
	kl_agent_table_copy_string(dest,
				   dest_size,
				   src != NULL ? src : "",
				   src != NULL ? strlen(src) : 0);
}

/* A string of the segment: terminated within @size bytes (or exactly
 * @size bytes long when @may_fill), valid UTF-8, no control characters. */
static gboolean
kl_agent_table_check_string(const gchar *src, gsize size, gboolean may_fill, gchar *dest)
{
	const gchar *nul = memchr(src, '\0', size);
	gsize len = nul != NULL ? (gsize)(nul - src) : size;

	gboolean ascii = TRUE;

	if (nul == NULL && !may_fill)
		return FALSE;
	/* One pass for the common all-ASCII case; UTF-8 only when needed. */
	for (gsize i = 0; i < len; i++) {
		if ((guchar)src[i] < 0x20 || src[i] == 0x7f)
			return FALSE;
		if ((guchar)src[i] >= 0x80)
			ascii = FALSE;
	}
	if (!ascii && !g_utf8_validate_len(src, len, NULL))
		return FALSE;
	memcpy(dest, src, len);
	dest[len] = '\0';
	return TRUE;
}

/* Converts a consistent copy of a slot; FALSE for a free slot or fields out
 * of range (a damaged or hostile segment). */
gboolean
kl_agent_table_slot_to_record(const KlAgentTableSlot *slot, KlAgentTableRecord *out)
{
	if ((slot->flags & KL_AGENT_TABLE_FLAG_IN_USE) == 0)
		return FALSE;
	if (slot->operational_state < 0 || slot->operational_state > KL_AGENT_TABLE_STATE_MAX)
		return FALSE;
	if (slot->severity_level < -1)
		return FALSE;
	memset(out, 0, sizeof(*out));
	if (!kl_agent_table_check_string(slot->agent_id,
					 sizeof(slot->agent_id),
					 TRUE,
					 out->agent_id) ||
	    !kl_agent_id_validate(out->agent_id, NULL))
		return FALSE;
	if (!kl_agent_table_check_string(slot->ip, sizeof(slot->ip), FALSE, out->ip) ||
	    !kl_agent_table_check_string(slot->last_event_id,
					 sizeof(slot->last_event_id),
					 FALSE,
					 out->last_event_id) ||
	    !kl_agent_table_check_string(slot->hash_alg,
					 sizeof(slot->hash_alg),
					 FALSE,
					 out->hash_alg) ||
	    !kl_agent_table_check_string(slot->sign_alg,
					 sizeof(slot->sign_alg),
					 FALSE,
					 out->sign_alg) ||
	    !kl_agent_table_check_string(slot->enc_alg, sizeof(slot->enc_alg), FALSE, out->enc_alg))
		return FALSE;
	out->operational_state = slot->operational_state;
	out->severity_level = slot->severity_level;
	out->port = slot->port;
	out->last_attestation = slot->last_attestation;
	out->last_success = slot->last_success;
	out->attestation_count = slot->attestation_count;
	out->consecutive_failures = slot->consecutive_failures;
	out->flags = slot->flags;
	return TRUE;
}

gboolean
kl_agent_table_validate_name(const gchar *name, GError **error)
{
	gsize len = name != NULL ? strlen(name) : 0;
	if (len < 2 || len > NAME_MAX || name[0] != '/' || strchr(name + 1, '/') != NULL) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "agent table name %s is not of the form /NAME",
			    name != NULL ? name : "(null)");
		return FALSE;
	}
	return TRUE;
}

/* Checks a header (a copy, or the live one) against the segment's real
 * size; sets *capacity to what may be mapped. */
gboolean
kl_agent_table_check_header(const KlAgentTableHeader *header,
			    guint64 capacity,
			    gsize segment_size,
			    guint *capacity_out,
			    GError **error)
{
	if (memcmp(header->magic, KL_AGENT_TABLE_MAGIC, sizeof(header->magic)) != 0) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "not an agent table: bad magic");
		return FALSE;
	}
	if (header->version != KL_AGENT_TABLE_LAYOUT_VERSION) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_NOT_SUPPORTED,
			    "agent table layout version %u, expected %u",
			    header->version,
			    (guint)KL_AGENT_TABLE_LAYOUT_VERSION);
		return FALSE;
	}
	if (header->header_size != KL_AGENT_TABLE_HEADER_SIZE ||
	    header->record_size != KL_AGENT_TABLE_RECORD_SIZE) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "agent table header size %u and record size %u, expected %u and %u",
			    header->header_size,
			    header->record_size,
			    (guint)KL_AGENT_TABLE_HEADER_SIZE,
			    (guint)KL_AGENT_TABLE_RECORD_SIZE);
		return FALSE;
	}
	if (capacity > KL_AGENT_TABLE_MAX_CAPACITY) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "agent table capacity %" G_GUINT64_FORMAT " is more than %u",
			    capacity,
			    KL_AGENT_TABLE_MAX_CAPACITY);
		return FALSE;
	}
	if (kl_agent_table_segment_size(capacity) > segment_size) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "agent table of %" G_GUINT64_FORMAT
			    " records does not fit in its segment of %" G_GSIZE_FORMAT " bytes",
			    capacity,
			    segment_size);
		return FALSE;
	}
	*capacity_out = (guint)capacity;
	return TRUE;
}
