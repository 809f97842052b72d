/*
 * KlClientEvent: an immutable entry of the event feed; its properties are
 * read-only so that list views can bind them.
 */
#define G_LOG_DOMAIN "KlClient"

#include "config.h"

#include "kl-client-private.h"

struct _KlClientEvent {
	GObject parent_instance;
	KlClientEventKind kind;
	gchar *agent_id;
	guint64 time;
	gchar *event_id;
	gint severity;
	gchar *severity_label;
	gchar *subject;
	gchar *context;
};

G_DEFINE_TYPE(KlClientEvent, kl_client_event, G_TYPE_OBJECT)

enum {
	PROP_0,
	PROP_KIND,
	PROP_AGENT_ID,
	PROP_TIME,
	PROP_EVENT_ID,
	PROP_SEVERITY,
	PROP_SEVERITY_LABEL,
	PROP_SUBJECT,
	PROP_CONTEXT,
	N_PROPS,
};

static GParamSpec *properties[N_PROPS];

GType
kl_client_event_kind_get_type(void)
{
	static gsize type_id = 0;
	static const GEnumValue values[] = {
		{KL_CLIENT_EVENT_FINDING, "KL_CLIENT_EVENT_FINDING", "finding"},
		{KL_CLIENT_EVENT_REVOCATION, "KL_CLIENT_EVENT_REVOCATION", "revocation"},
		{0, NULL, NULL},
	};
	if (g_once_init_enter(&type_id)) {
		GType type =
			g_enum_register_static(g_intern_static_string("KlClientEventKind"), values);
		g_once_init_leave(&type_id, type);
	}
	return type_id;
}

static void
kl_client_event_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	KlClientEvent *self = KL_CLIENT_EVENT(object);

	switch (prop_id) {
	case PROP_KIND:
		g_value_set_enum(value, (gint)self->kind);
		break;
	case PROP_AGENT_ID:
		g_value_set_string(value, self->agent_id);
		break;
	case PROP_TIME:
		g_value_set_uint64(value, self->time);
		break;
	case PROP_EVENT_ID:
		g_value_set_string(value, self->event_id);
		break;
	case PROP_SEVERITY:
		g_value_set_int(value, self->severity);
		break;
	case PROP_SEVERITY_LABEL:
		g_value_set_string(value, self->severity_label);
		break;
	case PROP_SUBJECT:
		g_value_set_string(value, self->subject);
		break;
	case PROP_CONTEXT:
		g_value_set_string(value, self->context);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
		break;
	}
}

static void
kl_client_event_finalize(GObject *object)
{
	KlClientEvent *self = KL_CLIENT_EVENT(object);

	g_free(self->agent_id);
	g_free(self->event_id);
	g_free(self->severity_label);
	g_free(self->subject);
	g_free(self->context);
	G_OBJECT_CLASS(kl_client_event_parent_class)->finalize(object);
}

static void
kl_client_event_class_init(KlClientEventClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

	object_class->get_property = kl_client_event_get_property;
	object_class->finalize = kl_client_event_finalize;

	properties[PROP_KIND] = g_param_spec_enum("kind",
						  NULL,
						  NULL,
						  KL_TYPE_CLIENT_EVENT_KIND,
						  KL_CLIENT_EVENT_FINDING,
						  flags);
	properties[PROP_AGENT_ID] = g_param_spec_string("agent-id", NULL, NULL, NULL, flags);
	properties[PROP_TIME] = g_param_spec_uint64("time", NULL, NULL, 0, G_MAXUINT64, 0, flags);
	properties[PROP_EVENT_ID] = g_param_spec_string("event-id", NULL, NULL, NULL, flags);
	properties[PROP_SEVERITY] =
		g_param_spec_int("severity", NULL, NULL, -1, G_MAXINT, -1, flags);
	properties[PROP_SEVERITY_LABEL] =
		g_param_spec_string("severity-label", NULL, NULL, NULL, flags);
	properties[PROP_SUBJECT] = g_param_spec_string("subject", NULL, NULL, NULL, flags);
	properties[PROP_CONTEXT] = g_param_spec_string("context", NULL, NULL, NULL, flags);
	g_object_class_install_properties(object_class, N_PROPS, properties);
}

static void
kl_client_event_init(KlClientEvent *self)
{
	self->severity = -1;
}

KlClientEvent *
kl_client_event_new(KlClientEventKind kind,
		    const gchar *agent_id,
		    guint64 time,
		    const gchar *event_id,
		    gint severity,
		    const gchar *severity_label,
		    const gchar *subject,
		    const gchar *context)
{
	KlClientEvent *self = g_object_new(KL_TYPE_CLIENT_EVENT, NULL);

	self->kind = kind;
	self->agent_id = g_strdup(agent_id != NULL ? agent_id : "");
	self->time = time;
	self->event_id = g_strdup(event_id != NULL ? event_id : "");
	self->severity = MAX(severity, -1);
	self->severity_label = g_strdup(severity_label != NULL ? severity_label : "");
	self->subject = g_strdup(subject != NULL ? subject : "");
	self->context = g_strdup(context != NULL ? context : "");
	return self;
}

KlClientEventKind
kl_client_event_get_kind(KlClientEvent *self)
{
	g_return_val_if_fail(KL_IS_CLIENT_EVENT(self), KL_CLIENT_EVENT_FINDING);
	return self->kind;
}

const gchar *
kl_client_event_get_agent_id(KlClientEvent *self)
{
	g_return_val_if_fail(KL_IS_CLIENT_EVENT(self), NULL);
	return self->agent_id;
}

guint64
kl_client_event_get_time(KlClientEvent *self)
{
	g_return_val_if_fail(KL_IS_CLIENT_EVENT(self), 0);
	return self->time;
}

const gchar *
kl_client_event_get_event_id(KlClientEvent *self)
{
	g_return_val_if_fail(KL_IS_CLIENT_EVENT(self), NULL);
	return self->event_id;
}

gint
kl_client_event_get_severity(KlClientEvent *self)
{
	g_return_val_if_fail(KL_IS_CLIENT_EVENT(self), -1);
	return self->severity;
}

const gchar *
kl_client_event_get_severity_label(KlClientEvent *self)
{
	g_return_val_if_fail(KL_IS_CLIENT_EVENT(self), NULL);
	return self->severity_label;
}

const gchar *
kl_client_event_get_subject(KlClientEvent *self)
{
	g_return_val_if_fail(KL_IS_CLIENT_EVENT(self), NULL);
	return self->subject;
}

const gchar *
kl_client_event_get_context(KlClientEvent *self)
{
	g_return_val_if_fail(KL_IS_CLIENT_EVENT(self), NULL);
	return self->context;
}
