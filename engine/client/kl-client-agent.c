/*
 * KlClientAgent: the fields of one agent and their notifications.  Every
 * setter compares first, so that a refresh that changes nothing notifies
 * nothing and views redraw only what moved (and no freeze_notify(): at
 * 100 000 agents its queue per update cost more than the comparisons).
 */
#define G_LOG_DOMAIN "KlClient"

#include "config.h"

#include <glib/gi18n-lib.h>

#include "kl-client-private.h"

struct _KlClientAgent {
	GObject parent_instance;
	gchar *agent_id;
	guint state;
	guint state_reason;
	gchar *ip;
	guint port;
	guint64 last_attestation;
	guint64 last_success;
	guint64 attestation_count;
	guint consecutive_failures;
	gint severity_level;
	gchar *last_event_id;
	gchar *runtime_policy;
	gchar *mb_policy;
	gchar *hash_alg;
	gchar *sign_alg;
	gchar *enc_alg;
};

G_DEFINE_TYPE(KlClientAgent, kl_client_agent, G_TYPE_OBJECT)

enum {
	PROP_0,
	PROP_AGENT_ID,
	PROP_STATE,
	PROP_STATE_REASON,
	PROP_IP,
	PROP_PORT,
	PROP_LAST_ATTESTATION,
	PROP_LAST_SUCCESS,
	PROP_ATTESTATION_COUNT,
	PROP_CONSECUTIVE_FAILURES,
	PROP_SEVERITY_LEVEL,
	PROP_LAST_EVENT_ID,
	PROP_RUNTIME_POLICY,
	PROP_MB_POLICY,
	PROP_HASH_ALG,
	PROP_SIGN_ALG,
	PROP_ENC_ALG,
	N_PROPS,
};

static GParamSpec *properties[N_PROPS];

/* Upstream's tenant strings for operational states 0–10 (spec §3). */
static const gchar *const kl_client_agent_state_labels[] = {
	N_("Registered"),
	N_("Start"),
	N_("Saved"),
	N_("Get Quote"),
	N_("Get Quote (retry)"),
	N_("Provide V"),
	N_("Provide V (retry)"),
	N_("Failed"),
	N_("Terminated"),
	N_("Invalid Quote"),
	N_("Tenant Quote Failed"),
};

const gchar *
kl_client_agent_state_to_label(guint state)
{
	if (state >= G_N_ELEMENTS(kl_client_agent_state_labels))
		return _("Unknown");
	return _(kl_client_agent_state_labels[state]);
}

static void
kl_client_agent_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	KlClientAgent *self = KL_CLIENT_AGENT(object);

	switch (prop_id) {
	case PROP_AGENT_ID:
		g_value_set_string(value, self->agent_id);
		break;
	case PROP_STATE:
		g_value_set_uint(value, self->state);
		break;
	case PROP_STATE_REASON:
		g_value_set_uint(value, self->state_reason);
		break;
	case PROP_IP:
		g_value_set_string(value, self->ip);
		break;
	case PROP_PORT:
		g_value_set_uint(value, self->port);
		break;
	case PROP_LAST_ATTESTATION:
		g_value_set_uint64(value, self->last_attestation);
		break;
	case PROP_LAST_SUCCESS:
		g_value_set_uint64(value, self->last_success);
		break;
	case PROP_ATTESTATION_COUNT:
		g_value_set_uint64(value, self->attestation_count);
		break;
	case PROP_CONSECUTIVE_FAILURES:
		g_value_set_uint(value, self->consecutive_failures);
		break;
	case PROP_SEVERITY_LEVEL:
		g_value_set_int(value, self->severity_level);
		break;
	case PROP_LAST_EVENT_ID:
		g_value_set_string(value, self->last_event_id);
		break;
	case PROP_RUNTIME_POLICY:
		g_value_set_string(value, self->runtime_policy);
		break;
	case PROP_MB_POLICY:
		g_value_set_string(value, self->mb_policy);
		break;
	case PROP_HASH_ALG:
		g_value_set_string(value, self->hash_alg);
		break;
	case PROP_SIGN_ALG:
		g_value_set_string(value, self->sign_alg);
		break;
	case PROP_ENC_ALG:
		g_value_set_string(value, self->enc_alg);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
		break;
	}
}

static void
kl_client_agent_finalize(GObject *object)
{
	KlClientAgent *self = KL_CLIENT_AGENT(object);

	g_free(self->agent_id);
	g_free(self->ip);
	g_free(self->last_event_id);
	g_free(self->runtime_policy);
	g_free(self->mb_policy);
	g_free(self->hash_alg);
	g_free(self->sign_alg);
	g_free(self->enc_alg);
	G_OBJECT_CLASS(kl_client_agent_parent_class)->finalize(object);
}

static void
kl_client_agent_class_init(KlClientAgentClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

	object_class->get_property = kl_client_agent_get_property;
	object_class->finalize = kl_client_agent_finalize;

	properties[PROP_AGENT_ID] = g_param_spec_string("agent-id", NULL, NULL, NULL, flags);
	properties[PROP_STATE] = g_param_spec_uint("state", NULL, NULL, 0, G_MAXUINT, 0, flags);
	properties[PROP_STATE_REASON] =
		g_param_spec_uint("state-reason", NULL, NULL, 0, G_MAXUINT, 0, flags);
	properties[PROP_IP] = g_param_spec_string("ip", NULL, NULL, NULL, flags);
	properties[PROP_PORT] = g_param_spec_uint("port", NULL, NULL, 0, G_MAXUINT16, 0, flags);
	properties[PROP_LAST_ATTESTATION] =
		g_param_spec_uint64("last-attestation", NULL, NULL, 0, G_MAXUINT64, 0, flags);
	properties[PROP_LAST_SUCCESS] =
		g_param_spec_uint64("last-success", NULL, NULL, 0, G_MAXUINT64, 0, flags);
	properties[PROP_ATTESTATION_COUNT] =
		g_param_spec_uint64("attestation-count", NULL, NULL, 0, G_MAXUINT64, 0, flags);
	properties[PROP_CONSECUTIVE_FAILURES] =
		g_param_spec_uint("consecutive-failures", NULL, NULL, 0, G_MAXUINT, 0, flags);
	properties[PROP_SEVERITY_LEVEL] =
		g_param_spec_int("severity-level", NULL, NULL, -1, G_MAXINT, -1, flags);
	properties[PROP_LAST_EVENT_ID] =
		g_param_spec_string("last-event-id", NULL, NULL, NULL, flags);
	properties[PROP_RUNTIME_POLICY] =
		g_param_spec_string("runtime-policy", NULL, NULL, NULL, flags);
	properties[PROP_MB_POLICY] = g_param_spec_string("mb-policy", NULL, NULL, NULL, flags);
	properties[PROP_HASH_ALG] = g_param_spec_string("hash-alg", NULL, NULL, NULL, flags);
	properties[PROP_SIGN_ALG] = g_param_spec_string("sign-alg", NULL, NULL, NULL, flags);
	properties[PROP_ENC_ALG] = g_param_spec_string("enc-alg", NULL, NULL, NULL, flags);
	g_object_class_install_properties(object_class, N_PROPS, properties);
}

static void
kl_client_agent_init(KlClientAgent *self)
{
	self->severity_level = -1;
	self->ip = g_strdup("");
	self->last_event_id = g_strdup("");
	self->runtime_policy = g_strdup("");
	self->mb_policy = g_strdup("");
	self->hash_alg = g_strdup("");
	self->sign_alg = g_strdup("");
	self->enc_alg = g_strdup("");
}

KlClientAgent *
kl_client_agent_new(const gchar *agent_id)
{
	KlClientAgent *self = g_object_new(KL_TYPE_CLIENT_AGENT, NULL);
	self->agent_id = g_strdup(agent_id);
	return self;
}

static gboolean
kl_client_agent_set_string(KlClientAgent *self, gchar **field, const gchar *value, guint prop)
{
	if (value == NULL)
		value = "";
	if (g_strcmp0(*field, value) == 0)
		return FALSE;
	g_free(*field);
	*field = g_strdup(value);
	g_object_notify_by_pspec(G_OBJECT(self), properties[prop]);
	return TRUE;
}

static gboolean
kl_client_agent_set_uint(KlClientAgent *self, guint *field, guint value, guint prop)
{
	if (*field == value)
		return FALSE;
	*field = value;
	g_object_notify_by_pspec(G_OBJECT(self), properties[prop]);
	return TRUE;
}

static gboolean
kl_client_agent_set_uint64(KlClientAgent *self, guint64 *field, guint64 value, guint prop)
{
	if (*field == value)
		return FALSE;
	*field = value;
	g_object_notify_by_pspec(G_OBJECT(self), properties[prop]);
	return TRUE;
}

static gboolean
kl_client_agent_set_severity(KlClientAgent *self, gint value)
{
	value = MAX(value, -1);
	if (self->severity_level == value)
		return FALSE;
	self->severity_level = value;
	g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_SEVERITY_LEVEL]);
	return TRUE;
}

gboolean
kl_client_agent_update_from_record(KlClientAgent *self, const KlAgentTableRecord *record)
{
	gboolean changed = FALSE;

	g_return_val_if_fail(KL_IS_CLIENT_AGENT(self), FALSE);

	changed |= kl_client_agent_set_uint(self,
					    &self->state,
					    (guint)MAX(record->operational_state, 0),
					    PROP_STATE);
	changed |= kl_client_agent_set_string(self, &self->ip, record->ip, PROP_IP);
	changed |= kl_client_agent_set_uint(self, &self->port, record->port, PROP_PORT);
	changed |= kl_client_agent_set_uint64(self,
					      &self->last_attestation,
					      (guint64)MAX(record->last_attestation, 0),
					      PROP_LAST_ATTESTATION);
	changed |= kl_client_agent_set_uint64(self,
					      &self->last_success,
					      (guint64)MAX(record->last_success, 0),
					      PROP_LAST_SUCCESS);
	changed |= kl_client_agent_set_uint64(self,
					      &self->attestation_count,
					      record->attestation_count,
					      PROP_ATTESTATION_COUNT);
	changed |= kl_client_agent_set_uint(self,
					    &self->consecutive_failures,
					    record->consecutive_failures,
					    PROP_CONSECUTIVE_FAILURES);
	changed |= kl_client_agent_set_severity(self, record->severity_level);
	changed |= kl_client_agent_set_string(self,
					      &self->last_event_id,
					      record->last_event_id,
					      PROP_LAST_EVENT_ID);
	changed |=
		kl_client_agent_set_string(self, &self->hash_alg, record->hash_alg, PROP_HASH_ALG);
	changed |=
		kl_client_agent_set_string(self, &self->sign_alg, record->sign_alg, PROP_SIGN_ALG);
	changed |= kl_client_agent_set_string(self, &self->enc_alg, record->enc_alg, PROP_ENC_ALG);
	return changed;
}

gboolean
kl_client_agent_update_from_proxy(KlClientAgent *self,
				  KlDBusVerifier1Agent *proxy,
				  gboolean live_fields)
{
	gboolean changed = FALSE;

	g_return_val_if_fail(KL_IS_CLIENT_AGENT(self), FALSE);

	/* What the shared-memory table lacks comes from D-Bus in any case. */
	changed |= kl_client_agent_set_uint(self,
					    &self->state_reason,
					    kl_dbus_verifier1_agent_get_state_reason(proxy),
					    PROP_STATE_REASON);
	changed |= kl_client_agent_set_string(self,
					      &self->runtime_policy,
					      kl_dbus_verifier1_agent_get_runtime_policy(proxy),
					      PROP_RUNTIME_POLICY);
	changed |= kl_client_agent_set_string(self,
					      &self->mb_policy,
					      kl_dbus_verifier1_agent_get_mb_policy(proxy),
					      PROP_MB_POLICY);
	if (live_fields) {
		KlAgentTableRecord record = {{0}};

		/* Through a record, so that strings from the bus get the same
		 * display rules as those from the table. */
		record.operational_state =
			(gint32)MIN(kl_dbus_verifier1_agent_get_state(proxy), (guint)G_MAXINT32);
		record.severity_level = kl_dbus_verifier1_agent_get_severity_level(proxy);
		kl_agent_table_set_string(record.ip,
					  sizeof(record.ip),
					  kl_dbus_verifier1_agent_get_ip(proxy));
		record.port = kl_dbus_verifier1_agent_get_port(proxy);
		record.last_attestation =
			(gint64)MIN(kl_dbus_verifier1_agent_get_last_attestation(proxy),
				    (guint64)G_MAXINT64);
		record.last_success = (gint64)MIN(kl_dbus_verifier1_agent_get_last_success(proxy),
						  (guint64)G_MAXINT64);
		record.attestation_count = kl_dbus_verifier1_agent_get_attestation_count(proxy);
		record.consecutive_failures =
			kl_dbus_verifier1_agent_get_consecutive_failures(proxy);
		kl_agent_table_set_string(record.last_event_id,
					  sizeof(record.last_event_id),
					  kl_dbus_verifier1_agent_get_last_event_id(proxy));
		kl_agent_table_set_string(record.hash_alg,
					  sizeof(record.hash_alg),
					  kl_dbus_verifier1_agent_get_hash_alg(proxy));
		kl_agent_table_set_string(record.sign_alg,
					  sizeof(record.sign_alg),
					  kl_dbus_verifier1_agent_get_sign_alg(proxy));
		kl_agent_table_set_string(record.enc_alg,
					  sizeof(record.enc_alg),
					  kl_dbus_verifier1_agent_get_enc_alg(proxy));
		changed |= kl_client_agent_update_from_record(self, &record);
	}
	return changed;
}

#define KL_CLIENT_AGENT_GETTER(type, name, fallback)                      \
	type kl_client_agent_get_##name(KlClientAgent *self)              \
	{                                                                 \
		g_return_val_if_fail(KL_IS_CLIENT_AGENT(self), fallback); \
		return self->name;                                        \
	}

KL_CLIENT_AGENT_GETTER(const gchar *, agent_id, NULL)
KL_CLIENT_AGENT_GETTER(guint, state, 0)
KL_CLIENT_AGENT_GETTER(guint, state_reason, 0)
KL_CLIENT_AGENT_GETTER(const gchar *, ip, NULL)
KL_CLIENT_AGENT_GETTER(guint, port, 0)
KL_CLIENT_AGENT_GETTER(guint64, last_attestation, 0)
KL_CLIENT_AGENT_GETTER(guint64, last_success, 0)
KL_CLIENT_AGENT_GETTER(guint64, attestation_count, 0)
KL_CLIENT_AGENT_GETTER(guint, consecutive_failures, 0)
KL_CLIENT_AGENT_GETTER(gint, severity_level, -1)
KL_CLIENT_AGENT_GETTER(const gchar *, last_event_id, NULL)
KL_CLIENT_AGENT_GETTER(const gchar *, runtime_policy, NULL)
KL_CLIENT_AGENT_GETTER(const gchar *, mb_policy, NULL)
KL_CLIENT_AGENT_GETTER(const gchar *, hash_alg, NULL)
KL_CLIENT_AGENT_GETTER(const gchar *, sign_alg, NULL)
KL_CLIENT_AGENT_GETTER(const gchar *, enc_alg, NULL)
