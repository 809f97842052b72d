/*
 * KlRevocationNotifier: builds and signs upstream's revocation message and
 * delivers it to the verifier's other agents (through KlAgentClient) and
 * to a webhook (its own SoupSession), without blocking the main loop.
 *
 * One send() is a batch: each delivery (one agent, or the webhook with its
 * retries) holds the batch, and the last one to finish emits "done" with
 * the counts.  Deliveries hold a reference on the notifier, so a batch
 * always completes; the webhook's retries are timeouts on the main
 * context, never sleeps.
 */
#define G_LOG_DOMAIN "KlVerifier"

#include "config.h"

#include <string.h>

#include <libsoup/soup.h>

#include "kl-crypto.h"
#include "kl-error.h"
#include "kl-json.h"
#include "kl-revocation-notifier.h"
#include "kl-x509.h"

/* bytes of a webhook's reply that are read (only the status counts) */
#define KL_REVOCATION_WEBHOOK_MAX_REPLY 65536
/* the longest wait between webhook attempts, seconds */
#define KL_REVOCATION_MAX_RETRY_WAIT 3600.0

struct _KlRevocationNotifier {
	GObject parent_instance;
	gboolean to_agents;
	gchar *webhook_url;
	gchar *webhook_name; /* the URL without its password, for logs */
	guint max_retries;
	gdouble retry_interval;
	gboolean exponential_backoff;
	gdouble request_timeout;
	KlAgentClient *client;
	SoupSession *webhook_session;
	GMainContext *context;
	guint pending;
};

G_DEFINE_TYPE(KlRevocationNotifier, kl_revocation_notifier, G_TYPE_OBJECT)

enum {
	SIGNAL_DONE,
	N_SIGNALS,
};

static guint signals[N_SIGNALS];

/* ---- the message (spec §9) ---- */

/* A value of the msg dict: a Python str, or None for NULL. */
static void
kl_revocation_append_string(GString *out, const gchar *value)
{
	g_autofree gchar *valid = NULL;

	if (value == NULL) {
		g_string_append(out, "null");
		return;
	}
	if (!g_utf8_validate(value, -1, NULL)) {
		valid = g_utf8_make_valid(value, -1);
		value = valid;
	}
	kl_json_append_python_string(out, value);
}

static void
kl_revocation_append_member(GString *out, const gchar *name, const gchar *value)
{
	if (out->len > 1)
		g_string_append(out, ", ");
	kl_json_append_python_string(out, name);
	g_string_append(out, ": ");
	kl_revocation_append_string(out, value);
}

/* time.asctime() of a UTC time: "Mon Aug  3 07:14:14 2026", in English
 * whatever the locale. */
static gchar *
kl_revocation_asctime(gint64 time)
{
	static const gchar *const days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
	static const gchar *const months[] = {"Jan",
					      "Feb",
					      "Mar",
					      "Apr",
					      "May",
					      "Jun",
					      "Jul",
					      "Aug",
					      "Sep",
					      "Oct",
					      "Nov",
					      "Dec"};
	g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc(time);

	if (when == NULL) {
		g_warning("revocation: event time %" G_GINT64_FORMAT " is out of range, using now",
			  time);
		when = g_date_time_new_now_utc();
	}
	return g_strdup_printf("%s %s %2d %02d:%02d:%02d %d",
			       days[g_date_time_get_day_of_week(when) - 1],
			       months[g_date_time_get_month(when) - 1],
			       g_date_time_get_day_of_month(when),
			       g_date_time_get_hour(when),
			       g_date_time_get_minute(when),
			       g_date_time_get_second(when),
			       g_date_time_get_year(when));
}

gchar *
kl_revocation_message_new(KlRevocationType type,
			  const KlVerifierAgent *agent,
			  gint64 time,
			  const gchar *event_id,
			  const gchar *severity_label,
			  const gchar *context_json)
{
	GString *out = g_string_new("{");
	g_autofree gchar *event_time = kl_revocation_asctime(time);
	const gchar *type_name = NULL;

	g_return_val_if_fail(agent != NULL, NULL);

	switch (type) {
	case KL_REVOCATION_TYPE_REVOCATION:
		type_name = "revocation";
		break;
	case KL_REVOCATION_TYPE_COMM_ERROR:
		type_name = "comm_error";
		break;
	default:
		g_return_val_if_reached(NULL);
	}

	/* upstream's key order, json.dumps()'s separators */
	kl_revocation_append_member(out, "type", type_name);
	kl_revocation_append_member(out, "ip", agent->ip);
	kl_revocation_append_member(out, "agent_id", agent->agent_id);
	g_string_append(out, ", \"port\": ");
	if (agent->port == KL_VERIFIER_NULL)
		g_string_append(out, "null");
	else
		g_string_append_printf(out, "%" G_GINT64_FORMAT, agent->port);
	kl_revocation_append_member(out, "tpm_policy", agent->tpm_policy);
	kl_revocation_append_member(out, "meta_data", agent->meta_data);
	kl_revocation_append_member(out, "event_time", event_time);
	if (event_id != NULL) {
		kl_revocation_append_member(out, "event_id", event_id);
		kl_revocation_append_member(out, "severity_label", severity_label);
		/* upstream's Event keeps json.dumps() of its context */
		kl_revocation_append_member(out,
					    "context",
					    context_json != NULL ? context_json : "null");
	}
	g_string_append_c(out, '}');
	return g_string_free(out, FALSE);
}

gchar *
kl_revocation_transport_new(const gchar *msg, const gchar *revocation_key_pem, GError **error)
{
	g_autoptr(EVP_PKEY) key = NULL;
	g_autoptr(GBytes) signature = NULL;
	g_autofree gchar *signature_b64 = NULL;
	GString *out;

	g_return_val_if_fail(msg != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (!g_utf8_validate(msg, -1, NULL)) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "revocation message is not UTF-8");
		return NULL;
	}
	if (revocation_key_pem != NULL && revocation_key_pem[0] != '\0') {
		key = kl_key_load_pem(revocation_key_pem, strlen(revocation_key_pem), error);
		if (key == NULL) {
			g_prefix_error(error, "revocation_key: ");
			return NULL;
		}
		signature = kl_crypto_rsa_pss_sign(key, (const guint8 *)msg, strlen(msg), error);
		if (signature == NULL) {
			g_prefix_error(error, "revocation_key: ");
			return NULL;
		}
		signature_b64 = g_base64_encode(g_bytes_get_data(signature, NULL),
						g_bytes_get_size(signature));
	}

	out = g_string_new("{\"msg\": ");
	kl_json_append_python_string(out, msg);
	g_string_append(out, ", \"signature\": ");
	kl_json_append_python_string(out, signature_b64 != NULL ? signature_b64 : "");
	g_string_append_c(out, '}');
	return g_string_free(out, FALSE);
}

/* ---- one send() ---- */

typedef struct {
	gint ref_count;
	KlRevocationNotifier *notifier; /* owned */
	guint n_sent;
	guint n_failed;
} KlRevocationBatch;

static KlRevocationBatch *
kl_revocation_batch_ref(KlRevocationBatch *batch)
{
	batch->ref_count++;
	return batch;
}

/* The last reference reports the batch. */
static void
kl_revocation_batch_unref(KlRevocationBatch *batch)
{
	if (--batch->ref_count > 0)
		return;
	g_signal_emit(batch->notifier, signals[SIGNAL_DONE], 0, batch->n_sent, batch->n_failed);
	g_object_unref(batch->notifier);
	g_free(batch);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlRevocationBatch, kl_revocation_batch_unref)

static void
kl_revocation_batch_count(KlRevocationBatch *batch, gboolean sent)
{
	KlRevocationNotifier *self = batch->notifier;

	if (sent)
		batch->n_sent++;
	else
		batch->n_failed++;
	g_assert(self->pending > 0);
	self->pending--;
}

/* ---- agents ---- */

static void
kl_revocation_agent_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(KlRevocationBatch) batch = user_data;
	g_autoptr(GError) error = NULL;
	gboolean sent;

	sent = kl_agent_client_post_revocation_finish(KL_AGENT_CLIENT(source), result, &error);
	if (!sent)
		g_warning("revocation notification not delivered: %s", error->message);
	kl_revocation_batch_count(batch, sent);
}

/* ---- the webhook ---- */

typedef struct {
	KlRevocationBatch *batch; /* owned */
	GBytes *body;
	guint attempt; /* 1 for the first */
	SoupMessage *msg;
	GCancellable *cancellable;
	GSource *deadline;
	gboolean timed_out;
	GByteArray *reply;
	guint8 *buffer;
	GInputStream *stream;
} KlRevocationWebhook;

static void
kl_revocation_webhook_free(KlRevocationWebhook *hook)
{
	g_assert(hook->deadline == NULL);
	g_clear_pointer(&hook->body, g_bytes_unref);
	g_clear_object(&hook->msg);
	g_clear_object(&hook->cancellable);
	g_clear_pointer(&hook->reply, g_byte_array_unref);
	g_free(hook->buffer);
	g_clear_object(&hook->stream);
	kl_revocation_batch_unref(hook->batch);
	g_free(hook);
}

/* upstream's retry_time(): base**n if exponential and base > 1, else |base| */
static gdouble
kl_revocation_retry_time(gboolean exponential, gdouble base, guint n)
{
	gdouble wait = ABS(base);

	if (exponential && base > 1.0) {
		wait = 1.0;
		for (guint i = 0; i < n && wait < KL_REVOCATION_MAX_RETRY_WAIT; i++)
			wait *= base;
	}
	return MIN(wait, KL_REVOCATION_MAX_RETRY_WAIT);
}

static void kl_revocation_webhook_attempt(KlRevocationWebhook *hook);

static gboolean
kl_revocation_webhook_retry_cb(gpointer user_data)
{
	kl_revocation_webhook_attempt(user_data);
	return G_SOURCE_REMOVE;
}

/* An attempt ended: @status 200 or 202 is success, else @reason says why. */
static void
kl_revocation_webhook_attempt_done(KlRevocationWebhook *hook, guint status, const gchar *reason)
{
	KlRevocationNotifier *self = hook->batch->notifier;
	GSource *retry;
	gdouble wait;

	if (hook->deadline != NULL) {
		g_source_destroy(hook->deadline);
		g_clear_pointer(&hook->deadline, g_source_unref);
	}
	g_clear_object(&hook->msg);
	g_clear_object(&hook->stream);
	g_clear_object(&hook->cancellable);
	g_clear_pointer(&hook->reply, g_byte_array_unref);
	g_clear_pointer(&hook->buffer, g_free);

	if (status == SOUP_STATUS_OK || status == SOUP_STATUS_ACCEPTED) {
		g_debug("revocation webhook %s: HTTP %u", self->webhook_name, status);
		kl_revocation_batch_count(hook->batch, TRUE);
		kl_revocation_webhook_free(hook);
		return;
	}
	if (hook->attempt > self->max_retries) {
		g_warning("revocation webhook %s failed after %u attempt(s): %s",
			  self->webhook_name,
			  hook->attempt,
			  reason);
		kl_revocation_batch_count(hook->batch, FALSE);
		kl_revocation_webhook_free(hook);
		return;
	}
	wait = kl_revocation_retry_time(self->exponential_backoff,
					self->retry_interval,
					hook->attempt);
	g_message("revocation webhook %s: %s; retrying in %.3g s",
		  self->webhook_name,
		  reason,
		  wait);
	hook->attempt++;
	retry = g_timeout_source_new((guint)(wait * 1000.0 + 0.5));
	g_source_set_callback(retry, kl_revocation_webhook_retry_cb, hook, NULL);
	g_source_attach(retry, self->context);
	g_source_unref(retry);
}

static gchar *
kl_revocation_webhook_reason(KlRevocationWebhook *hook, const GError *error)
{
	if (hook->timed_out)
		return g_strdup_printf("no answer within %g s",
				       hook->batch->notifier->request_timeout);
	return g_strdup(error->message);
}

static void
kl_revocation_webhook_closed_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	KlRevocationWebhook *hook = user_data;
	g_autofree gchar *reason = NULL;
	guint status = soup_message_get_status(hook->msg);

	/* only the status counts; a close error changes nothing */
	g_input_stream_close_finish(G_INPUT_STREAM(source), result, NULL);
	reason = g_strdup_printf("HTTP %u %s",
				 status,
				 soup_message_get_reason_phrase(hook->msg) != NULL
					 ? soup_message_get_reason_phrase(hook->msg)
					 : "");
	kl_revocation_webhook_attempt_done(hook, status, reason);
}

static void kl_revocation_webhook_read(KlRevocationWebhook *hook);

static void
kl_revocation_webhook_read_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	KlRevocationWebhook *hook = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *reason = NULL;
	gssize n;

	n = g_input_stream_read_finish(G_INPUT_STREAM(source), result, &error);
	if (n < 0) {
		reason = kl_revocation_webhook_reason(hook, error);
		kl_revocation_webhook_attempt_done(hook, SOUP_STATUS_NONE, reason);
		return;
	}
	if (n > 0 && hook->reply->len + (gsize)n <= KL_REVOCATION_WEBHOOK_MAX_REPLY) {
		g_byte_array_append(hook->reply, hook->buffer, (guint)n);
		kl_revocation_webhook_read(hook);
		return;
	}
	/* the end, or more than we read: the status is what counts */
	g_input_stream_close_async(hook->stream,
				   G_PRIORITY_DEFAULT,
				   NULL,
				   kl_revocation_webhook_closed_cb,
				   hook);
}

/* Reads the reply so that its connection can be reused. */
static void
kl_revocation_webhook_read(KlRevocationWebhook *hook)
{
	g_input_stream_read_async(hook->stream,
				  hook->buffer,
				  4096,
				  G_PRIORITY_DEFAULT,
				  hook->cancellable,
				  kl_revocation_webhook_read_cb,
				  hook);
}

static void
kl_revocation_webhook_sent_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	KlRevocationWebhook *hook = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *reason = NULL;

	hook->stream = soup_session_send_finish(SOUP_SESSION(source), result, &error);
	if (hook->stream == NULL) {
		reason = kl_revocation_webhook_reason(hook, error);
		kl_revocation_webhook_attempt_done(hook, SOUP_STATUS_NONE, reason);
		return;
	}
	hook->reply = g_byte_array_new();
	hook->buffer = g_malloc(4096);
	kl_revocation_webhook_read(hook);
}

static gboolean
kl_revocation_webhook_deadline_cb(gpointer user_data)
{
	KlRevocationWebhook *hook = user_data;

	hook->timed_out = TRUE;
	g_cancellable_cancel(hook->cancellable);
	g_clear_pointer(&hook->deadline, g_source_unref);
	return G_SOURCE_REMOVE;
}

static void
kl_revocation_webhook_attempt(KlRevocationWebhook *hook)
{
	KlRevocationNotifier *self = hook->batch->notifier;

	hook->timed_out = FALSE;
	hook->cancellable = g_cancellable_new();
	hook->msg = soup_message_new(SOUP_METHOD_POST, self->webhook_url);
	/* checked by new() */
	g_assert(hook->msg != NULL);
	soup_message_set_request_body_from_bytes(hook->msg, "application/json", hook->body);
	hook->deadline = g_timeout_source_new((guint)(self->request_timeout * 1000.0 + 0.5));
	g_source_set_callback(hook->deadline, kl_revocation_webhook_deadline_cb, hook, NULL);
	g_source_attach(hook->deadline, self->context);
	soup_session_send_async(self->webhook_session,
				hook->msg,
				G_PRIORITY_DEFAULT,
				hook->cancellable,
				kl_revocation_webhook_sent_cb,
				hook);
}

/* ---- the object ---- */

static void
kl_revocation_notifier_finalize(GObject *object)
{
	KlRevocationNotifier *self = KL_REVOCATION_NOTIFIER(object);

	g_free(self->webhook_url);
	g_free(self->webhook_name);
	g_clear_object(&self->client);
	g_clear_object(&self->webhook_session);
	g_clear_pointer(&self->context, g_main_context_unref);
	G_OBJECT_CLASS(kl_revocation_notifier_parent_class)->finalize(object);
}

static void
kl_revocation_notifier_class_init(KlRevocationNotifierClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->finalize = kl_revocation_notifier_finalize;

	/* (guint n_sent, guint n_failed): every delivery of one send() ended */
	signals[SIGNAL_DONE] = g_signal_new("done",
					    G_TYPE_FROM_CLASS(klass),
					    G_SIGNAL_RUN_LAST,
					    0,
					    NULL,
					    NULL,
					    NULL,
					    G_TYPE_NONE,
					    2,
					    G_TYPE_UINT,
					    G_TYPE_UINT);
}

static void
kl_revocation_notifier_init(KlRevocationNotifier *self)
{
}

/* The webhook's URL and session. */
static gboolean
kl_revocation_notifier_setup_webhook(KlRevocationNotifier *self,
				     const KlRevocationNotifierOptions *options,
				     GError **error)
{
	g_autoptr(GUri) uri = NULL;
	g_autoptr(GTlsDatabase) database = NULL;
	const gchar *scheme;

	uri = g_uri_parse(options->webhook_url, SOUP_HTTP_URI_FLAGS, error);
	if (uri == NULL) {
		g_prefix_error(error, "webhook_url: ");
		return FALSE;
	}
	scheme = g_uri_get_scheme(uri);
	if ((g_ascii_strcasecmp(scheme, "http") != 0 && g_ascii_strcasecmp(scheme, "https") != 0) ||
	    g_uri_get_host(uri) == NULL || g_uri_get_host(uri)[0] == '\0') {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "webhook_url: not an http(s) URL with a host");
		return FALSE;
	}
	self->webhook_url = g_strdup(options->webhook_url);
	self->webhook_name = g_uri_to_string_partial(uri, G_URI_HIDE_PASSWORD);

	self->webhook_session =
		soup_session_new_with_options("user-agent", "keylime-verifier", NULL);
	if (options->webhook_ca_file != NULL && options->webhook_ca_file[0] != '\0') {
		database = g_tls_file_database_new(options->webhook_ca_file, error);
		if (database == NULL) {
			g_prefix_error(error, "webhook CA file %s: ", options->webhook_ca_file);
			return FALSE;
		}
		soup_session_set_tls_database(self->webhook_session, database);
	}
	return TRUE;
}

KlRevocationNotifier *
kl_revocation_notifier_new(const KlRevocationNotifierOptions *options,
			   KlAgentClient *client,
			   GError **error)
{
	g_autoptr(KlRevocationNotifier) self = NULL;

	g_return_val_if_fail(options != NULL, NULL);
	g_return_val_if_fail(client == NULL || KL_IS_AGENT_CLIENT(client), NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (options->to_agents && client == NULL) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "agent notifications need the agent client");
		return NULL;
	}
	if (!(options->request_timeout > 0.0) || options->request_timeout > 86400.0 ||
	    !(options->retry_interval >= 0.0) || options->retry_interval > 86400.0) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "request_timeout must be in (0, 86400] and retry_interval in [0, "
			    "86400] seconds (got %g and %g)",
			    options->request_timeout,
			    options->retry_interval);
		return NULL;
	}

	self = g_object_new(KL_TYPE_REVOCATION_NOTIFIER, NULL);
	self->to_agents = options->to_agents;
	self->max_retries = options->max_retries;
	self->retry_interval = options->retry_interval;
	self->exponential_backoff = options->exponential_backoff;
	self->request_timeout = options->request_timeout;
	self->client = client != NULL ? g_object_ref(client) : NULL;
	self->context = g_main_context_ref_thread_default();
	if (options->webhook_url != NULL && options->webhook_url[0] != '\0' &&
	    !kl_revocation_notifier_setup_webhook(self, options, error))
		return NULL;
	return g_steal_pointer(&self);
}

/* Drops send()'s own reference from the main loop, so that "done" is
 * never emitted inside send(), even without deliveries. */
static gboolean
kl_revocation_batch_release_cb(gpointer user_data)
{
	kl_revocation_batch_unref(user_data);
	return G_SOURCE_REMOVE;
}

void
kl_revocation_notifier_send(KlRevocationNotifier *self,
			    const gchar *transport_json,
			    GPtrArray *targets)
{
	KlRevocationBatch *batch;
	KlRevocationWebhook *hook;
	GSource *release;

	g_return_if_fail(KL_IS_REVOCATION_NOTIFIER(self));
	g_return_if_fail(transport_json != NULL);

	batch = g_new0(KlRevocationBatch, 1);
	batch->ref_count = 1;
	batch->notifier = g_object_ref(self);

	for (guint i = 0; self->to_agents && targets != NULL && i < targets->len; i++) {
		const KlAgentTarget *target = g_ptr_array_index(targets, i);

		self->pending++;
		kl_agent_client_post_revocation_async(self->client,
						      target,
						      transport_json,
						      NULL,
						      kl_revocation_agent_cb,
						      kl_revocation_batch_ref(batch));
	}
	if (self->webhook_url != NULL) {
		self->pending++;
		hook = g_new0(KlRevocationWebhook, 1);
		hook->batch = kl_revocation_batch_ref(batch);
		hook->body = g_bytes_new(transport_json, strlen(transport_json));
		hook->attempt = 1;
		kl_revocation_webhook_attempt(hook);
	}
	release = g_idle_source_new();
	g_source_set_callback(release, kl_revocation_batch_release_cb, batch, NULL);
	g_source_attach(release, self->context);
	g_source_unref(release);
}

guint
kl_revocation_notifier_get_pending(KlRevocationNotifier *self)
{
	g_return_val_if_fail(KL_IS_REVOCATION_NOTIFIER(self), 0);
	return self->pending;
}
