/*
 * Findings are plain boxed structs: checks run in worker threads and hand
 * their findings to the main loop, so they hold no references to anything.
 * Text that came from the evidence (paths, names) is escaped before it can
 * reach a log line or a terminal.
 */
#define G_LOG_DOMAIN "KlCore"

#include "config.h"

#include <json-glib/json-glib.h>

#include "kl-finding.h"

G_DEFINE_BOXED_TYPE(KlFinding, kl_finding, kl_finding_copy, kl_finding_free)

/* Evidence text may carry newlines or escape sequences: show them escaped. */
static gchar *
kl_finding_escape(const gchar *text)
{
	g_autoptr(GString) escaped = NULL;

	if (text == NULL)
		return g_strdup("");
	escaped = g_string_sized_new(strlen(text));
	for (const guchar *p = (const guchar *)text; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '\\')
			g_string_append_printf(escaped, "\\x%02x", *p);
		else
			g_string_append_c(escaped, (gchar)*p);
	}
	if (!g_utf8_validate(escaped->str, -1, NULL)) {
		gchar *valid = g_utf8_make_valid(escaped->str, -1);
		g_string_assign(escaped, valid);
		g_free(valid);
	}
	return g_string_free(g_steal_pointer(&escaped), FALSE);
}

static gchar *
kl_finding_context_message(const gchar *message)
{
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(JsonGenerator) generator = json_generator_new();

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "message");
	json_builder_add_string_value(builder, message);
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	json_generator_set_root(generator, root);
	return json_generator_to_data(generator, NULL);
}

KlFinding *
kl_finding_new(const gchar *event_id, const gchar *subject, guint line, const gchar *reason)
{
	KlFinding *self = g_new0(KlFinding, 1);

	g_return_val_if_fail(event_id != NULL, NULL);
	self->event_id = g_strdup(event_id);
	self->subject = kl_finding_escape(subject);
	self->reason = kl_finding_escape(reason);
	self->line = line;
	self->context_json = kl_finding_context_message(self->reason);
	return self;
}

KlFinding *
kl_finding_new_printf(const gchar *event_id,
		      const gchar *subject,
		      guint line,
		      const gchar *format,
		      ...)
{
	va_list args;
	g_autofree gchar *reason = NULL;

	va_start(args, format);
	reason = g_strdup_vprintf(format, args);
	va_end(args);
	return kl_finding_new(event_id, subject, line, reason);
}

KlFinding *
kl_finding_copy(const KlFinding *self)
{
	KlFinding *copy = g_new0(KlFinding, 1);
	copy->event_id = g_strdup(self->event_id);
	copy->subject = g_strdup(self->subject);
	copy->reason = g_strdup(self->reason);
	copy->line = self->line;
	copy->irrecoverable = self->irrecoverable;
	copy->context_json = g_strdup(self->context_json);
	return copy;
}

void
kl_finding_free(KlFinding *self)
{
	if (self == NULL)
		return;
	g_free(self->event_id);
	g_free(self->subject);
	g_free(self->reason);
	g_free(self->context_json);
	g_free(self);
}

/* The component is the event id's first segment, as upstream groups them. */
gchar *
kl_finding_get_component(const KlFinding *self)
{
	const gchar *dot = strchr(self->event_id, '.');
	if (dot == NULL)
		return g_strdup(self->event_id);
	return g_strndup(self->event_id, dot - self->event_id);
}

/* Upstream's {"got": ..., "expected": ..., "context": ...} shape. */
void
kl_finding_set_context_got_expected(KlFinding *self, const gchar *got, const gchar *expected)
{
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(JsonGenerator) generator = json_generator_new();

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "got");
	json_builder_add_string_value(builder, got);
	json_builder_set_member_name(builder, "expected");
	json_builder_add_string_value(builder, expected);
	json_builder_set_member_name(builder, "context");
	json_builder_add_string_value(builder, self->reason);
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	json_generator_set_root(generator, root);
	g_free(self->context_json);
	self->context_json = json_generator_to_data(generator, NULL);
}

GPtrArray *
kl_findings_new(void)
{
	return g_ptr_array_new_with_free_func((GDestroyNotify)kl_finding_free);
}

/* "line 12: ima: /usr/bin/x: file digest not in the runtime policy
 * (ima.validation.ima-ng.runtime_policy_hash)" */
gchar *
kl_finding_to_string(const KlFinding *self)
{
	g_autofree gchar *component = kl_finding_get_component(self);
	g_autoptr(GString) text = g_string_new(NULL);

	if (self->line > 0)
		g_string_append_printf(text, "line %u: ", self->line);
	g_string_append_printf(text, "%s: ", component);
	if (self->subject[0] != '\0')
		g_string_append_printf(text, "%s: ", self->subject);
	g_string_append_printf(text, "%s (%s)", self->reason, self->event_id);
	return g_string_free(g_steal_pointer(&text), FALSE);
}
