/*
 * KlClientEvent: one entry of the verifier's event feed — a finding of a
 * failed attestation or a revocation — immutable once made.  KlClient keeps
 * them newest first (kl_client_get_events()); GetFailures and
 * GetRevocations return them too.
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum {
	KL_CLIENT_EVENT_FINDING,
	KL_CLIENT_EVENT_REVOCATION,
} KlClientEventKind;

GType kl_client_event_kind_get_type(void) G_GNUC_CONST;
#define KL_TYPE_CLIENT_EVENT_KIND (kl_client_event_kind_get_type())

#define KL_TYPE_CLIENT_EVENT (kl_client_event_get_type())
G_DECLARE_FINAL_TYPE(KlClientEvent, kl_client_event, KL, CLIENT_EVENT, GObject)

KlClientEventKind kl_client_event_get_kind(KlClientEvent *self);
const gchar *kl_client_event_get_agent_id(KlClientEvent *self);
guint64 kl_client_event_get_time(KlClientEvent *self);
const gchar *kl_client_event_get_event_id(KlClientEvent *self);
/* an index into the verifier's severity labels, -1 when unknown */
gint kl_client_event_get_severity(KlClientEvent *self);
/* the label of the severity ("" when unknown), as the verifier names it */
const gchar *kl_client_event_get_severity_label(KlClientEvent *self);
/* what failed: a file path for an IMA entry, "" when none */
const gchar *kl_client_event_get_subject(KlClientEvent *self);
/* the event's context, JSON as the verifier sent it */
const gchar *kl_client_event_get_context(KlClientEvent *self);

G_END_DECLS
