/*
 * tpm_policy: parsed with kl-json's checked getters so that every error
 * names the member, normalised once, then compared against quoted PCRs as
 * lower-case hex strings, as upstream compares them.
 */
#define G_LOG_DOMAIN "KlCore"

#include "config.h"

#include "kl-error.h"
#include "kl-finding.h"
#include "kl-json.h"
#include "kl-tpm-policy.h"

/* PCRs the tenant refuses in tpm_policy: IMA and the NK binding. */
#define KL_TPM_POLICY_FORBIDDEN ((1u << 10) | (1u << 16))

/* A policy document is a few KB; bound it like any request body. */
#define KL_TPM_POLICY_MAX_SIZE (256 * 1024)

struct _KlTpmPolicy {
	gchar **values[KL_TPM_PCR_COUNT]; /* NULL-terminated, lower-case hex */
	guint32 pcrs;
	guint32 mask;
};

void
kl_tpm_policy_free(KlTpmPolicy *self)
{
	if (self == NULL)
		return;
	for (guint i = 0; i < KL_TPM_PCR_COUNT; i++)
		g_strfreev(self->values[i]);
	g_free(self);
}

static gboolean kl_tpm_policy_invalid(GError **error, const gchar *member, const gchar *format, ...)
	G_GNUC_PRINTF(3, 4);

static gboolean
kl_tpm_policy_invalid(GError **error, const gchar *member, const gchar *format, ...)
{
	va_list args;
	g_autofree gchar *message = NULL;

	va_start(args, format);
	message = g_strdup_vprintf(format, args);
	va_end(args);
	g_set_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT, "member '%s': %s", member, message);
	return FALSE;
}

/* Decimal 0..23 without sign, spaces or leading zeros. */
static gboolean
kl_tpm_policy_parse_index(const gchar *member, guint *index, GError **error)
{
	guint64 value = 0;

	if (!g_ascii_string_to_unsigned(member, 10, 0, KL_TPM_PCR_COUNT - 1, &value, NULL) ||
	    !g_ascii_isdigit(member[0]) || (member[0] == '0' && member[1] != '\0'))
		return kl_tpm_policy_invalid(error,
					     member,
					     "not a PCR index 0..%u or \"mask\"",
					     (guint)KL_TPM_PCR_COUNT - 1);
	if ((KL_TPM_POLICY_FORBIDDEN & (1u << value)) != 0)
		return kl_tpm_policy_invalid(
			error,
			member,
			"PCR %u may not be in tpm_policy (10 is IMA's, 16 the NK binding)",
			(guint)value);
	*index = (guint)value;
	return TRUE;
}

static gboolean
kl_tpm_policy_parse_mask(const gchar *text, guint32 *mask, GError **error)
{
	guint64 value = 0;
	const gchar *digits = text;

	if (g_str_has_prefix(text, "0x") || g_str_has_prefix(text, "0X"))
		digits += 2;
	if (digits[0] == '\0' || strlen(digits) > 8 ||
	    !g_ascii_string_to_unsigned(digits, 16, 0, (1u << KL_TPM_PCR_COUNT) - 1, &value, NULL))
		return kl_tpm_policy_invalid(error,
					     "mask",
					     "'%s' is not a hex bitmap of PCRs 0..%u",
					     text,
					     (guint)KL_TPM_PCR_COUNT - 1);
	*mask = (guint32)value;
	return TRUE;
}

static gboolean
kl_tpm_policy_parse_values(KlTpmPolicy *self,
			   JsonObject *object,
			   const gchar *member,
			   guint index,
			   GError **error)
{
	JsonNode *node = json_object_get_member(object, member);
	g_auto(GStrv) values = NULL;

	/* a single string is a list of one, as the tenant wraps it */
	if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING) {
		const gchar *value = NULL;
		if (!kl_json_object_get_string(object, member, &value, error))
			return FALSE;
		values = g_new0(gchar *, 2);
		values[0] = g_strdup(value);
	} else if (!kl_json_object_get_string_array(object, member, &values, error)) {
		return FALSE;
	}
	if (values[0] == NULL)
		return kl_tpm_policy_invalid(error, member, "no allowed values");
	for (guint i = 0; values[i] != NULL; i++) {
		g_autoptr(GBytes) raw = NULL;
		g_autoptr(GError) error_local = NULL;
		gsize size;
		gchar *lower;

		raw = kl_crypto_hex_decode(values[i], &error_local);
		if (raw == NULL)
			return kl_tpm_policy_invalid(error,
						     member,
						     "value %u: %s",
						     i,
						     error_local->message);
		size = g_bytes_get_size(raw);
		if (size != 20 && size != 32 && size != 48 && size != 64)
			return kl_tpm_policy_invalid(error,
						     member,
						     "value %u: %" G_GSIZE_FORMAT
						     " bytes is not a PCR digest size",
						     i,
						     size);
		lower = g_ascii_strdown(values[i], -1);
		g_free(values[i]);
		values[i] = lower;
	}
	self->values[index] = g_steal_pointer(&values);
	self->pcrs |= 1u << index;
	return TRUE;
}

KlTpmPolicy *
kl_tpm_policy_new_from_object(JsonObject *object, GError **error)
{
	g_autoptr(KlTpmPolicy) self = g_new0(KlTpmPolicy, 1);
	g_autoptr(GList) members = NULL;
	const gchar *mask_text = NULL;

	g_return_val_if_fail(object != NULL, NULL);

	members = json_object_get_members(object);
	members = g_list_sort(members, (GCompareFunc)g_strcmp0);
	for (GList *l = members; l != NULL; l = l->next) {
		const gchar *member = l->data;
		guint index = 0;

		if (g_strcmp0(member, "mask") == 0)
			continue;
		if (!kl_tpm_policy_parse_index(member, &index, error))
			return NULL;
		if (self->values[index] != NULL) {
			kl_tpm_policy_invalid(error, member, "PCR %u is listed twice", index);
			return NULL;
		}
		if (!kl_tpm_policy_parse_values(self, object, member, index, error))
			return NULL;
	}

	self->mask = self->pcrs;
	if (!kl_json_object_get_optional_string(object, "mask", &mask_text, error))
		return NULL;
	if (mask_text != NULL) {
		guint32 missing;
		/* the tenant ORs in IMA's and measured boot's PCRs, so the
		 * mask may select more, never less */
		if (!kl_tpm_policy_parse_mask(mask_text, &self->mask, error))
			return NULL;
		missing = self->pcrs & ~self->mask;
		if (missing != 0) {
			kl_tpm_policy_invalid(error,
					      "mask",
					      "%s does not select PCR %u",
					      mask_text,
					      (guint)g_bit_nth_lsf(missing, -1));
			return NULL;
		}
	}
	return g_steal_pointer(&self);
}

KlTpmPolicy *
kl_tpm_policy_new_from_json(const gchar *json, gsize len, GError **error)
{
	g_autoptr(JsonObject) object = NULL;

	object = kl_json_parse_object(json, len, KL_TPM_POLICY_MAX_SIZE, 4, error);
	if (object == NULL) {
		g_prefix_error(error, "tpm_policy: ");
		return NULL;
	}
	return kl_tpm_policy_new_from_object(object, error);
}

guint32
kl_tpm_policy_get_mask(KlTpmPolicy *self)
{
	return self->mask;
}

guint32
kl_tpm_policy_get_pcrs(KlTpmPolicy *self)
{
	return self->pcrs;
}

const gchar *const *
kl_tpm_policy_get_values(KlTpmPolicy *self, guint pcr)
{
	if (pcr >= KL_TPM_PCR_COUNT)
		return NULL;
	return (const gchar *const *)self->values[pcr];
}

void
kl_tpm_policy_select(KlTpmPolicy *self, guint32 pcrs)
{
	g_return_if_fail(self != NULL);
	self->mask |= pcrs & ((1u << KL_TPM_PCR_COUNT) - 1u);
}

gchar *
kl_tpm_policy_to_json(KlTpmPolicy *self)
{
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *mask = g_strdup_printf("0x%x", self->mask);

	json_builder_begin_object(builder);
	for (guint pcr = 0; pcr < KL_TPM_PCR_COUNT; pcr++) {
		g_autofree gchar *member = NULL;
		if (self->values[pcr] == NULL)
			continue;
		member = g_strdup_printf("%u", pcr);
		json_builder_set_member_name(builder, member);
		json_builder_begin_array(builder);
		for (guint i = 0; self->values[pcr][i] != NULL; i++)
			json_builder_add_string_value(builder, self->values[pcr][i]);
		json_builder_end_array(builder);
	}
	json_builder_set_member_name(builder, "mask");
	json_builder_add_string_value(builder, mask);
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	return kl_json_node_to_string(root, FALSE);
}

gboolean
kl_tpm_policy_check(KlTpmPolicy *self, KlPcrBank *bank, guint32 skip, GPtrArray *findings)
{
	guint32 quoted;
	guint32 missing;
	guint before;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(bank != NULL, FALSE);
	g_return_val_if_fail(findings != NULL, FALSE);

	before = findings->len;
	quoted = kl_pcr_bank_get_mask(bank);
	for (guint pcr = 0; pcr < KL_TPM_PCR_COUNT; pcr++) {
		g_autofree gchar *got = NULL;
		g_autofree gchar *expected = NULL;
		g_autofree gchar *event_id = NULL;
		g_autofree gchar *subject = NULL;
		KlFinding *finding;

		if ((quoted & (1u << pcr)) == 0 || (skip & (1u << pcr)) != 0 ||
		    self->values[pcr] == NULL)
			continue;
		got = kl_pcr_bank_get_hex(bank, pcr);
		if (g_strv_contains((const gchar *const *)self->values[pcr], got))
			continue;
		expected = g_strjoinv(", ", self->values[pcr]);
		event_id = g_strdup_printf("pcr_validation.invalid_pcr_%u", pcr);
		subject = g_strdup_printf("PCR %u", pcr);
		finding = kl_finding_new_printf(event_id,
						subject,
						0,
						"PCR %u (%s) has a value tpm_policy does not allow",
						pcr,
						kl_pcr_bank_get_hash_alg_string(bank));
		kl_finding_set_context_got_expected(finding, got, expected);
		g_ptr_array_add(findings, finding);
	}

	missing = self->pcrs & ~quoted;
	if (missing != 0) {
		g_autoptr(GString) list = g_string_new(NULL);
		for (guint pcr = 0; pcr < KL_TPM_PCR_COUNT; pcr++) {
			if ((missing & (1u << pcr)) != 0)
				g_string_append_printf(list,
						       "%s%u",
						       list->len > 0 ? ", " : "",
						       pcr);
		}
		g_ptr_array_add(findings,
				kl_finding_new_printf(KL_TPM_POLICY_EVENT_MISSING_PCRS,
						      "tpm_policy",
						      0,
						      "PCRs in tpm_policy but not in the quote: %s",
						      list->str));
	}
	return findings->len == before;
}
