/*
 * The verifier's client to pull agents: one SoupSession for the fleet, a
 * FIFO of requests in front of it, per-request deadlines and a bounded
 * body reader.
 *
 * One session rather than a pool: libsoup keeps connections per ip:port
 * inside a session, so one session already gives each agent its own
 * keep-alive connections, and one max-conns bounds the sockets of the
 * whole fleet; a pool would only split that bound and the connection
 * cache.  The session has no TLS database: each agent's certificate is
 * pinned per message (kl-http-tls), never checked against a CA.
 *
 * libsoup would queue requests beyond max-conns itself, but its deadline
 * ("timeout") would then include the time spent waiting; our queue holds
 * requests until one of max_in_flight slots is free, and the deadline
 * starts when a request takes a slot.
 */
#define G_LOG_DOMAIN "KlVerifier"

#include "config.h"

#include <string.h>

#include <libsoup/soup.h>

#include "kl-agent-client.h"
#include "kl-error.h"
#include "kl-http-tls.h"
#include "kl-json.h"

/* Spelled out: clang-format mangles G_DEFINE_QUARK's dashed argument. */
GQuark
kl_agent_client_error_quark(void)
{
	return g_quark_from_static_string("kl-agent-client-error-quark");
}

/* read size of the body loop */
#define KL_AGENT_CLIENT_CHUNK 65536
/* an error reply's text is only for the message */
#define KL_AGENT_CLIENT_MAX_ERROR_BODY 65536
/* agent text quoted in an error message */
#define KL_AGENT_CLIENT_MAX_STATUS_TEXT 200
/* a registrar record's mtls_cert */
#define KL_AGENT_CLIENT_MAX_PIN_PEM 65536
/* remembered pins per ip:port before the table is started afresh */
#define KL_AGENT_CLIENT_MAX_PINS 65536

struct _KlAgentClient {
	GObject parent_instance;
	KlAgentClientOptions options;
	SoupSession *session;
	GTlsCertificate *client_cert;
	GMainContext *context;
	GQueue queue; /* of GTask, waiting for a slot */
	guint in_flight;
	gboolean pumping;
	/* "ip:port" -> the GTlsCertificate last pinned for it */
	GHashTable *pins;
};

G_DEFINE_TYPE(KlAgentClient, kl_agent_client, G_TYPE_OBJECT)

typedef enum {
	KL_AGENT_REQUEST_QUEUED,
	KL_AGENT_REQUEST_RUNNING,
	KL_AGENT_REQUEST_DONE,
} KlAgentRequestState;

typedef enum {
	KL_AGENT_REQUEST_QUOTE,
	KL_AGENT_REQUEST_VKEY,
	KL_AGENT_REQUEST_VERSION,
	KL_AGENT_REQUEST_REVOCATION,
} KlAgentRequestKind;

typedef struct {
	KlAgentClient *client; /* owned */
	KlAgentRequestKind kind;
	KlAgentRequestState state;
	gchar *what; /* "agent X (ip:port) GET /path" */
	gchar *url;
	gchar *host_port;
	const gchar *method;
	GBytes *body;
	GTlsCertificate *pinned;
	SoupMessage *msg;
	GInputStream *stream;
	GByteArray *data;
	guint8 *buffer;
	gsize limit;
	GCancellable *cancellable; /* ours: the deadline and the caller's */
	GCancellable *caller_cancellable;
	gulong caller_cancel_id;
	GSource *deadline;
	gboolean timed_out;
	GList *link; /* in the client's queue while QUEUED */
} KlAgentRequest;

static void kl_agent_client_pump(KlAgentClient *self);

static void
kl_agent_request_free(gpointer data)
{
	KlAgentRequest *req = data;

	g_assert(req->deadline == NULL && req->caller_cancel_id == 0);
	g_free(req->what);
	g_free(req->url);
	g_free(req->host_port);
	g_clear_pointer(&req->body, g_bytes_unref);
	g_clear_object(&req->pinned);
	g_clear_object(&req->msg);
	g_clear_object(&req->stream);
	g_clear_pointer(&req->data, g_byte_array_unref);
	g_free(req->buffer);
	g_clear_object(&req->cancellable);
	g_clear_object(&req->caller_cancellable);
	g_clear_object(&req->client);
	g_free(req);
}

KlAgentClientResult
kl_agent_client_classify(const GError *error)
{
	if (error == NULL)
		return KL_AGENT_CLIENT_RESULT_OK;
	if (error->domain != KL_AGENT_CLIENT_ERROR)
		return KL_AGENT_CLIENT_RESULT_FATAL;
	switch ((KlAgentClientError)error->code) {
	case KL_AGENT_CLIENT_ERROR_RETRYABLE:
		return KL_AGENT_CLIENT_RESULT_RETRYABLE;
	case KL_AGENT_CLIENT_ERROR_VERSION:
		return KL_AGENT_CLIENT_RESULT_VERSION;
	case KL_AGENT_CLIENT_ERROR_FATAL:
		return KL_AGENT_CLIENT_RESULT_FATAL;
	default:
		return KL_AGENT_CLIENT_RESULT_FATAL;
	}
}

void
kl_agent_client_options_init(KlAgentClientOptions *options)
{
	g_return_if_fail(options != NULL);
	memset(options, 0, sizeof(*options));
	options->mtls = TRUE;
	options->request_timeout = KL_AGENT_CLIENT_DEFAULT_TIMEOUT;
	options->max_response_size = KL_AGENT_CLIENT_DEFAULT_MAX_RESPONSE;
	options->max_in_flight = KL_AGENT_CLIENT_DEFAULT_MAX_IN_FLIGHT;
	options->max_connections = KL_AGENT_CLIENT_DEFAULT_MAX_CONNECTIONS;
	options->max_connections_per_agent = KL_AGENT_CLIENT_DEFAULT_MAX_PER_AGENT;
}

GTlsCertificate *
kl_agent_client_pin_new(const gchar *pem, gsize len, GError **error)
{
	GTlsCertificate *cert;

	g_return_val_if_fail(pem != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (len == 0 || len > KL_AGENT_CLIENT_MAX_PIN_PEM) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "mtls_cert: %" G_GSIZE_FORMAT " bytes, expected 1 to %u",
			    len,
			    (guint)KL_AGENT_CLIENT_MAX_PIN_PEM);
		return NULL;
	}
	cert = g_tls_certificate_new_from_pem(pem, (gssize)len, error);
	if (cert == NULL)
		g_prefix_error(error, "mtls_cert: ");
	return cert;
}

/* Agent text for a log line: bounded, control characters escaped. */
static gchar *
kl_agent_client_printable(const gchar *text, gsize len)
{
	g_autofree gchar *cut = g_strndup(text, MIN(len, KL_AGENT_CLIENT_MAX_STATUS_TEXT));
	return g_strescape(cut, NULL);
}

static gboolean
kl_agent_client_status_is_retryable(guint status)
{
	/* upstream retries 408, 500 and 599 (its code for transport errors);
	 * 503 is an agent saying so */
	return status == SOUP_STATUS_REQUEST_TIMEOUT ||
	       status == SOUP_STATUS_INTERNAL_SERVER_ERROR ||
	       status == SOUP_STATUS_SERVICE_UNAVAILABLE || status == 599;
}

JsonObject *
kl_agent_client_parse_reply(guint status,
			    const gchar *body,
			    gsize len,
			    gsize max_size,
			    GError **error)
{
	g_autoptr(GError) error_local = NULL;
	g_autoptr(JsonObject) results = NULL;
	g_autofree gchar *text = NULL;
	g_autofree gchar *printable = NULL;
	guint code = 0;

	g_return_val_if_fail(body != NULL || len == 0, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (!kl_json_envelope_parse(body != NULL ? body : "",
				    len,
				    max_size,
				    &code,
				    &text,
				    &results,
				    &error_local)) {
		if (status == SOUP_STATUS_OK) {
			g_set_error(error,
				    KL_AGENT_CLIENT_ERROR,
				    KL_AGENT_CLIENT_ERROR_FATAL,
				    "HTTP 200 but not a Keylime reply: %s",
				    error_local->message);
			return NULL;
		}
		/* error replies are classified by their status alone */
		printable = kl_agent_client_printable(body != NULL ? body : "", len);
	} else {
		printable = kl_agent_client_printable(text, strlen(text));
	}

	if (status == SOUP_STATUS_OK) {
		if (code != SOUP_STATUS_OK) {
			g_set_error(error,
				    KL_AGENT_CLIENT_ERROR,
				    KL_AGENT_CLIENT_ERROR_FATAL,
				    "HTTP 200 with code %u in the reply: %s",
				    code,
				    printable);
			return NULL;
		}
		return g_steal_pointer(&results);
	}
	if (kl_agent_client_status_is_retryable(status)) {
		g_set_error(error,
			    KL_AGENT_CLIENT_ERROR,
			    KL_AGENT_CLIENT_ERROR_RETRYABLE,
			    "HTTP %u: %s",
			    status,
			    printable);
		return NULL;
	}
	/* §2.1: clients look for this text in 400 replies */
	if (status == SOUP_STATUS_BAD_REQUEST && text != NULL &&
	    strcasestr(text, "API version not supported") != NULL) {
		g_set_error(error,
			    KL_AGENT_CLIENT_ERROR,
			    KL_AGENT_CLIENT_ERROR_VERSION,
			    "HTTP 400: %s",
			    printable);
		return NULL;
	}
	g_set_error(error,
		    KL_AGENT_CLIENT_ERROR,
		    KL_AGENT_CLIENT_ERROR_FATAL,
		    "HTTP %u: %s",
		    status,
		    printable);
	return NULL;
}

gboolean
kl_agent_client_parse_versions(JsonObject *results,
			       gchar ***supported,
			       KlApiVersion *common,
			       GError **error)
{
	g_auto(GStrv) versions = NULL;
	g_autoptr(GError) error_local = NULL;
	const gchar *current = NULL;
	gsize n_ours = 0;
	const KlApiVersion *ours = kl_api_version_agent_supported(&n_ours);

	g_return_val_if_fail(results != NULL, FALSE);
	g_return_val_if_fail(common != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	/* older agents send only supported_version */
	if (json_object_has_member(results, "supported_versions")) {
		if (!kl_json_object_get_string_array(results,
						     "supported_versions",
						     &versions,
						     &error_local)) {
			g_set_error(error,
				    KL_AGENT_CLIENT_ERROR,
				    KL_AGENT_CLIENT_ERROR_FATAL,
				    "%s",
				    error_local->message);
			return FALSE;
		}
	} else {
		if (!kl_json_object_get_string(results,
					       "supported_version",
					       &current,
					       &error_local)) {
			g_set_error(error,
				    KL_AGENT_CLIENT_ERROR,
				    KL_AGENT_CLIENT_ERROR_FATAL,
				    "%s",
				    error_local->message);
			return FALSE;
		}
		versions = g_new0(gchar *, 2);
		versions[0] = g_strdup(current);
	}
	if (!kl_api_version_pick_highest_common(ours,
						n_ours,
						(const gchar *const *)versions,
						NULL,
						common,
						&error_local)) {
		g_autofree gchar *joined = g_strjoinv(", ", versions);
		g_autofree gchar *printable = kl_agent_client_printable(joined, strlen(joined));
		g_set_error(error,
			    KL_AGENT_CLIENT_ERROR,
			    KL_AGENT_CLIENT_ERROR_FATAL,
			    "%s: the agent supports [%s]",
			    error_local->message,
			    printable);
		return FALSE;
	}
	if (supported != NULL)
		*supported = g_steal_pointer(&versions);
	return TRUE;
}

static void
kl_agent_client_dispose(GObject *object)
{
	KlAgentClient *self = KL_AGENT_CLIENT(object);

	/* each request holds a reference: nothing is queued or running here */
	g_assert(g_queue_is_empty(&self->queue) && self->in_flight == 0);
	g_clear_object(&self->session);
	g_clear_object(&self->client_cert);
	g_clear_pointer(&self->pins, g_hash_table_unref);
	g_clear_pointer(&self->context, g_main_context_unref);
	G_OBJECT_CLASS(kl_agent_client_parent_class)->dispose(object);
}

static void
kl_agent_client_class_init(KlAgentClientClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->dispose = kl_agent_client_dispose;
}

static void
kl_agent_client_init(KlAgentClient *self)
{
	g_queue_init(&self->queue);
}

KlAgentClient *
kl_agent_client_new(const KlAgentClientOptions *options, GError **error)
{
	g_autoptr(KlAgentClient) self = NULL;

	g_return_val_if_fail(options != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	self = g_object_new(KL_TYPE_AGENT_CLIENT, NULL);
	self->options = *options;
	self->options.client_cert = NULL;
	self->options.client_key = NULL;
	if (!(self->options.request_timeout > 0.0))
		self->options.request_timeout = KL_AGENT_CLIENT_DEFAULT_TIMEOUT;
	/* the deadline is a guint of milliseconds */
	self->options.request_timeout = MIN(self->options.request_timeout, 86400.0);
	if (self->options.max_response_size == 0)
		self->options.max_response_size = KL_AGENT_CLIENT_DEFAULT_MAX_RESPONSE;
	/* the body is one buffer in memory */
	self->options.max_response_size = MIN(self->options.max_response_size, (guint64)G_MAXINT);
	if (self->options.max_in_flight == 0)
		self->options.max_in_flight = KL_AGENT_CLIENT_DEFAULT_MAX_IN_FLIGHT;
	if (self->options.max_connections == 0)
		self->options.max_connections = KL_AGENT_CLIENT_DEFAULT_MAX_CONNECTIONS;
	/* every request in flight may need its own socket */
	self->options.max_connections =
		MAX(self->options.max_connections, self->options.max_in_flight);
	if (self->options.max_connections_per_agent == 0)
		self->options.max_connections_per_agent = KL_AGENT_CLIENT_DEFAULT_MAX_PER_AGENT;

	if ((options->client_cert == NULL) != (options->client_key == NULL)) {
		g_set_error_literal(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "client_cert and client_key: both or neither");
		return NULL;
	}
	if (options->client_cert != NULL) {
		self->client_cert = kl_http_tls_certificate_new(options->client_cert,
								options->client_key,
								error);
		if (self->client_cert == NULL)
			return NULL;
	}

	/* no TLS database (pins instead), no proxy from the environment, no
	 * redirects (per message), no decompression (the body limit counts
	 * what the agent sent) */
	self->session = soup_session_new_with_options(
		"tls-database",
		NULL,
		"proxy-resolver",
		NULL,
		"max-conns",
		(gint)MIN(self->options.max_connections, (guint)G_MAXINT),
		"max-conns-per-host",
		(gint)MIN(self->options.max_connections_per_agent, (guint)G_MAXINT),
		"timeout",
		0,
		"user-agent",
		"keylime-c-verifier/" PACKAGE_VERSION,
		NULL);
	soup_session_remove_feature_by_type(self->session, SOUP_TYPE_CONTENT_DECODER);
	self->pins = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
	self->context = g_main_context_ref_thread_default();
	return g_steal_pointer(&self);
}

guint
kl_agent_client_get_in_flight(KlAgentClient *self)
{
	g_return_val_if_fail(KL_IS_AGENT_CLIENT(self), 0);
	return self->in_flight;
}

guint
kl_agent_client_get_queued(KlAgentClient *self)
{
	g_return_val_if_fail(KL_IS_AGENT_CLIENT(self), 0);
	return self->queue.length;
}

/* Ends a request with @results (owned) or @error (owned), frees its slot
 * and starts the next ones. */
static void
kl_agent_request_done(GTask *task, JsonObject *results, GError *error)
{
	KlAgentRequest *req = g_task_get_task_data(task);
	KlAgentClient *self = req->client;
	KlAgentRequestState state = req->state;

	g_assert(state != KL_AGENT_REQUEST_DONE);
	req->state = KL_AGENT_REQUEST_DONE;
	if (req->deadline != NULL) {
		g_source_destroy(req->deadline);
		g_clear_pointer(&req->deadline, g_source_unref);
	}
	if (req->caller_cancel_id != 0) {
		g_cancellable_disconnect(req->caller_cancellable, req->caller_cancel_id);
		req->caller_cancel_id = 0;
	}
	if (state == KL_AGENT_REQUEST_QUEUED) {
		g_queue_delete_link(&self->queue, req->link);
		req->link = NULL;
	} else {
		g_assert(self->in_flight > 0);
		self->in_flight--;
	}
	/* the stream and the message are not needed any more: an unread
	 * stream closes its connection, a read one goes back to the pool */
	g_clear_object(&req->stream);
	g_clear_pointer(&req->data, g_byte_array_unref);
	g_clear_pointer(&req->buffer, g_free);

	if (error != NULL) {
		if (error->domain == KL_AGENT_CLIENT_ERROR)
			g_prefix_error(&error, "%s: ", req->what);
		g_task_return_error(task, error);
	} else {
		g_task_return_pointer(task, results, (GDestroyNotify)json_object_unref);
	}
	/* the queue's reference, or the running request's */
	g_object_unref(task);
	kl_agent_client_pump(self);
}

static GError *
kl_agent_request_error(KlAgentClientError code, const gchar *format, ...) G_GNUC_PRINTF(2, 3);

static GError *
kl_agent_request_error(KlAgentClientError code, const gchar *format, ...)
{
	va_list args;
	GError *error;

	va_start(args, format);
	error = g_error_new_valist(KL_AGENT_CLIENT_ERROR, (gint)code, format, args);
	va_end(args);
	return error;
}

/* The body is complete: parse it by the kind of request. */
static void
kl_agent_request_finish_body(GTask *task)
{
	KlAgentRequest *req = g_task_get_task_data(task);
	guint status = soup_message_get_status(req->msg);
	g_autoptr(JsonObject) results = NULL;
	GError *error = NULL;
	const gchar *quote = NULL;

	/* upstream's agents answer a notification with "results" null or {}
	 * (and upstream's verifier looks only at the status) */
	if (req->kind == KL_AGENT_REQUEST_REVOCATION && status == SOUP_STATUS_OK) {
		kl_agent_request_done(task, json_object_new(), NULL);
		return;
	}
	results = kl_agent_client_parse_reply(status,
					      (const gchar *)req->data->data,
					      req->data->len,
					      req->limit,
					      &error);
	if (results == NULL) {
		kl_agent_request_done(task, NULL, error);
		return;
	}
	if (req->kind == KL_AGENT_REQUEST_QUOTE &&
	    !kl_json_object_get_string(results, "quote", &quote, &error)) {
		GError *fatal = kl_agent_request_error(KL_AGENT_CLIENT_ERROR_FATAL,
						       "results: %s",
						       error->message);
		g_error_free(error);
		kl_agent_request_done(task, NULL, fatal);
		return;
	}
	kl_agent_request_done(task, g_steal_pointer(&results), NULL);
}

/* A transport failure, the deadline, the caller, or a refused handshake. */
static GError *
kl_agent_request_transport_error(KlAgentRequest *req, GError *error)
{
	g_autoptr(GError) owned = error;

	if (req->timed_out)
		return kl_agent_request_error(KL_AGENT_CLIENT_ERROR_RETRYABLE,
					      "timed out after %.3g s",
					      req->client->options.request_timeout);
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return g_steal_pointer(&owned);
	if (req->msg != NULL && kl_http_message_pin_refused(req->msg))
		return kl_agent_request_error(KL_AGENT_CLIENT_ERROR_FATAL,
					      "refused: the agent's TLS certificate is not its "
					      "registered mtls_cert");
	/* the agent refused our certificate: like a 401/403, retrying does
	 * not change it */
	if (g_error_matches(error, G_TLS_ERROR, G_TLS_ERROR_CERTIFICATE_REQUIRED) ||
	    g_error_matches(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE))
		return kl_agent_request_error(KL_AGENT_CLIENT_ERROR_FATAL,
					      "the agent refused the verifier's TLS client "
					      "certificate (%s): %s",
					      req->client->client_cert != NULL ? "client_cert"
									       : "none configured",
					      error->message);
	return kl_agent_request_error(KL_AGENT_CLIENT_ERROR_RETRYABLE, "%s", error->message);
}

static void kl_agent_request_read(GTask *task);

static void
kl_agent_request_read_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	GTask *task = G_TASK(user_data);
	KlAgentRequest *req = g_task_get_task_data(task);
	GError *error = NULL;
	gssize n;

	n = g_input_stream_read_finish(G_INPUT_STREAM(source), result, &error);
	if (n < 0) {
		kl_agent_request_done(task, NULL, kl_agent_request_transport_error(req, error));
		return;
	}
	if (n == 0) {
		kl_agent_request_finish_body(task);
		return;
	}
	if ((gsize)n > req->limit - req->data->len) {
		guint status = soup_message_get_status(req->msg);
		if (status != SOUP_STATUS_OK) {
			/* keep what fits: the status decides */
			g_byte_array_append(req->data,
					    req->buffer,
					    (guint)(req->limit - req->data->len));
			kl_agent_request_finish_body(task);
			return;
		}
		kl_agent_request_done(
			task,
			NULL,
			kl_agent_request_error(KL_AGENT_CLIENT_ERROR_FATAL,
					       "reply too large: more than %" G_GSIZE_FORMAT
					       " bytes",
					       req->limit));
		return;
	}
	g_byte_array_append(req->data, req->buffer, (guint)n);
	kl_agent_request_read(task);
}

static void
kl_agent_request_read(GTask *task)
{
	KlAgentRequest *req = g_task_get_task_data(task);

	g_input_stream_read_async(req->stream,
				  req->buffer,
				  KL_AGENT_CLIENT_CHUNK,
				  G_PRIORITY_DEFAULT,
				  req->cancellable,
				  kl_agent_request_read_cb,
				  task);
}

static void
kl_agent_request_sent_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	GTask *task = G_TASK(user_data);
	KlAgentRequest *req = g_task_get_task_data(task);
	SoupMessageHeaders *headers;
	guint status;
	GError *error = NULL;

	req->stream = soup_session_send_finish(SOUP_SESSION(source), result, &error);
	if (req->stream == NULL) {
		kl_agent_request_done(task, NULL, kl_agent_request_transport_error(req, error));
		return;
	}
	/* a reused connection was accepted for an earlier message */
	if (req->pinned != NULL && !kl_http_message_peer_is_pinned(req->msg, req->pinned)) {
		kl_agent_request_done(task,
				      NULL,
				      kl_agent_request_error(KL_AGENT_CLIENT_ERROR_FATAL,
							     "refused: the agent's TLS certificate "
							     "is not its registered mtls_cert"));
		return;
	}
	status = soup_message_get_status(req->msg);
	req->limit = status == SOUP_STATUS_OK ? (gsize)req->client->options.max_response_size
					      : MIN((gsize)req->client->options.max_response_size,
						    (gsize)KL_AGENT_CLIENT_MAX_ERROR_BODY);
	headers = soup_message_get_response_headers(req->msg);
	if (status == SOUP_STATUS_OK &&
	    soup_message_headers_get_encoding(headers) == SOUP_ENCODING_CONTENT_LENGTH &&
	    soup_message_headers_get_content_length(headers) > (goffset)req->limit) {
		kl_agent_request_done(
			task,
			NULL,
			kl_agent_request_error(KL_AGENT_CLIENT_ERROR_FATAL,
					       "reply too large: %" G_GOFFSET_FORMAT
					       " bytes, more than %" G_GSIZE_FORMAT,
					       soup_message_headers_get_content_length(headers),
					       req->limit));
		return;
	}
	req->data = g_byte_array_new();
	req->buffer = g_malloc(KL_AGENT_CLIENT_CHUNK);
	kl_agent_request_read(task);
}

static gboolean
kl_agent_request_deadline_cb(gpointer user_data)
{
	KlAgentRequest *req = user_data;

	req->timed_out = TRUE;
	g_cancellable_cancel(req->cancellable);
	g_clear_pointer(&req->deadline, g_source_unref);
	return G_SOURCE_REMOVE;
}

/* Takes a slot: builds the message and sends it. */
static void
kl_agent_request_start(GTask *task)
{
	KlAgentRequest *req = g_task_get_task_data(task);
	KlAgentClient *self = req->client;
	GTlsCertificate *last_pin;

	req->state = KL_AGENT_REQUEST_RUNNING;
	self->in_flight++;
	if (g_cancellable_is_cancelled(req->cancellable)) {
		kl_agent_request_done(task,
				      NULL,
				      g_error_new_literal(G_IO_ERROR,
							  G_IO_ERROR_CANCELLED,
							  "Operation was cancelled"));
		return;
	}
	req->msg = soup_message_new(req->method, req->url);
	if (req->msg == NULL) {
		kl_agent_request_done(task,
				      NULL,
				      kl_agent_request_error(KL_AGENT_CLIENT_ERROR_FATAL,
							     "not a valid URL: %s",
							     req->url));
		return;
	}
	soup_message_add_flags(req->msg, SOUP_MESSAGE_NO_REDIRECT);
	if (req->body != NULL)
		soup_message_set_request_body_from_bytes(req->msg, "application/json", req->body);
	if (req->pinned != NULL) {
		kl_http_message_pin_certificate(req->msg, req->pinned);
		/* an idle connection to this ip:port was accepted under another
		 * pin (the agent re-registered): do not reuse it */
		last_pin = g_hash_table_lookup(self->pins, req->host_port);
		if (last_pin != NULL && !g_tls_certificate_is_same(last_pin, req->pinned))
			soup_message_add_flags(req->msg, SOUP_MESSAGE_NEW_CONNECTION);
		if (last_pin != req->pinned) {
			if (g_hash_table_size(self->pins) >= KL_AGENT_CLIENT_MAX_PINS)
				g_hash_table_remove_all(self->pins);
			g_hash_table_replace(self->pins,
					     g_strdup(req->host_port),
					     g_object_ref(req->pinned));
		}
	}
	if (self->client_cert != NULL)
		soup_message_set_tls_client_certificate(req->msg, self->client_cert);

	req->deadline = g_timeout_source_new((guint)(self->options.request_timeout * 1000.0 + 0.5));
	g_source_set_callback(req->deadline, kl_agent_request_deadline_cb, req, NULL);
	g_source_attach(req->deadline, self->context);
	soup_session_send_async(self->session,
				req->msg,
				G_PRIORITY_DEFAULT,
				req->cancellable,
				kl_agent_request_sent_cb,
				task);
}

static void
kl_agent_client_pump(KlAgentClient *self)
{
	/* a request that ends at once would pump again from inside */
	if (self->pumping)
		return;
	self->pumping = TRUE;
	while (self->in_flight < self->options.max_in_flight && !g_queue_is_empty(&self->queue)) {
		GTask *task = g_queue_pop_head(&self->queue);
		KlAgentRequest *req = g_task_get_task_data(task);
		req->link = NULL;
		kl_agent_request_start(task);
	}
	self->pumping = FALSE;
}

/* In the client's context: a queued request the caller cancelled leaves. */
static gboolean
kl_agent_request_cancel_queued_cb(gpointer user_data)
{
	GTask *task = G_TASK(user_data);
	KlAgentRequest *req = g_task_get_task_data(task);

	if (req->state == KL_AGENT_REQUEST_QUEUED)
		kl_agent_request_done(task,
				      NULL,
				      g_error_new_literal(G_IO_ERROR,
							  G_IO_ERROR_CANCELLED,
							  "Operation was cancelled"));
	return G_SOURCE_REMOVE;
}

/* Any thread: the caller cancelled. */
static void
kl_agent_request_caller_cancelled_cb(GCancellable *cancellable, gpointer user_data)
{
	GTask *task = G_TASK(user_data);
	KlAgentRequest *req = g_task_get_task_data(task);
	GSource *source = g_idle_source_new();

	g_cancellable_cancel(req->cancellable);
	g_source_set_callback(source,
			      kl_agent_request_cancel_queued_cb,
			      g_object_ref(task),
			      g_object_unref);
	g_source_attach(source, req->client->context);
	g_source_unref(source);
}

static void
kl_agent_client_enqueue(KlAgentClient *self,
			const KlAgentTarget *agent,
			KlAgentRequestKind kind,
			const gchar *method,
			const gchar *path,
			const gchar *query,
			GBytes *body,
			GCancellable *cancellable,
			GAsyncReadyCallback callback,
			gpointer user_data,
			gpointer source_tag)
{
	GTask *task = g_task_new(self, cancellable, callback, user_data);
	KlAgentRequest *req = g_new0(KlAgentRequest, 1);
	g_autofree gchar *host = NULL;
	const gchar *agent_id = agent->agent_id != NULL ? agent->agent_id : "(unnamed)";

	g_task_set_source_tag(task, source_tag);
	g_task_set_task_data(task, req, kl_agent_request_free);
	req->client = g_object_ref(self);
	req->kind = kind;
	req->state = KL_AGENT_REQUEST_QUEUED;
	req->method = method;
	req->body = body != NULL ? g_bytes_ref(body) : NULL;
	req->cancellable = g_cancellable_new();
	/* an IPv6 literal is bracketed in URLs */
	host = strchr(agent->ip, ':') != NULL ? g_strdup_printf("[%s]", agent->ip)
					      : g_strdup(agent->ip);
	req->host_port = g_strdup_printf("%s:%u", host, agent->port);
	req->what = g_strdup_printf("agent %s (%s) %s %s", agent_id, req->host_port, method, path);
	req->url = g_strdup_printf("%s://%s%s%s%s",
				   self->options.mtls ? "https" : "http",
				   req->host_port,
				   path,
				   query != NULL ? "?" : "",
				   query != NULL ? query : "");
	if (self->options.mtls)
		req->pinned = g_object_ref(agent->mtls_cert);

	g_queue_push_tail(&self->queue, task);
	req->link = self->queue.tail;
	if (cancellable != NULL) {
		req->caller_cancellable = g_object_ref(cancellable);
		req->caller_cancel_id =
			g_cancellable_connect(cancellable,
					      G_CALLBACK(kl_agent_request_caller_cancelled_cb),
					      task,
					      NULL);
	}
	kl_agent_client_pump(self);
}

/* Misuse a caller can make with outside data: reported, not asserted. */
static gboolean
kl_agent_client_check_target(KlAgentClient *self,
			     const KlAgentTarget *agent,
			     GAsyncReadyCallback callback,
			     gpointer user_data,
			     gpointer source_tag)
{
	const gchar *problem = NULL;

	if (agent->ip == NULL || agent->ip[0] == '\0')
		problem = "no address";
	else if (agent->port == 0)
		problem = "no port";
	else if (self->options.mtls && agent->mtls_cert == NULL)
		problem = "no mtls_cert to pin";
	if (problem == NULL)
		return TRUE;
	g_task_report_new_error(self,
				callback,
				user_data,
				source_tag,
				KL_AGENT_CLIENT_ERROR,
				KL_AGENT_CLIENT_ERROR_FATAL,
				"agent %s: %s",
				agent->agent_id != NULL ? agent->agent_id : "(unnamed)",
				problem);
	return FALSE;
}

static gboolean
kl_agent_client_nonce_is_valid(const gchar *nonce)
{
	gsize len = strlen(nonce);

	if (len == 0 || len > 64)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isalnum(nonce[i]))
			return FALSE;
	}
	return TRUE;
}

void
kl_agent_client_get_integrity_quote_async(KlAgentClient *self,
					  const KlAgentTarget *agent,
					  const gchar *nonce,
					  guint32 mask,
					  gboolean partial,
					  guint64 ima_ml_entry,
					  GCancellable *cancellable,
					  GAsyncReadyCallback callback,
					  gpointer user_data)
{
	gchar version[KL_API_VERSION_STRING_SIZE];
	g_autofree gchar *path = NULL;
	g_autofree gchar *mask_text = NULL;
	g_autofree gchar *entry_text = NULL;
	g_autofree gchar *query = NULL;

	g_return_if_fail(KL_IS_AGENT_CLIENT(self));
	g_return_if_fail(agent != NULL && nonce != NULL);

	if (!kl_agent_client_check_target(self,
					  agent,
					  callback,
					  user_data,
					  kl_agent_client_get_integrity_quote_async))
		return;
	if (!kl_agent_client_nonce_is_valid(nonce)) {
		g_task_report_new_error(self,
					callback,
					user_data,
					kl_agent_client_get_integrity_quote_async,
					KL_AGENT_CLIENT_ERROR,
					KL_AGENT_CLIENT_ERROR_FATAL,
					"agent %s: the nonce must be 1 to 64 letters and digits",
					agent->agent_id != NULL ? agent->agent_id : "(unnamed)");
		return;
	}
	path = g_strdup_printf("/v%s/quotes/integrity",
			       kl_api_version_to_string(&agent->api_version, version));
	mask_text = g_strdup_printf("0x%x", mask);
	entry_text = g_strdup_printf("%" G_GUINT64_FORMAT, ima_ml_entry);
	query = soup_form_encode("nonce",
				 nonce,
				 "mask",
				 mask_text,
				 "partial",
				 partial ? "1" : "0",
				 "ima_ml_entry",
				 entry_text,
				 NULL);
	kl_agent_client_enqueue(self,
				agent,
				KL_AGENT_REQUEST_QUOTE,
				SOUP_METHOD_GET,
				path,
				query,
				NULL,
				cancellable,
				callback,
				user_data,
				kl_agent_client_get_integrity_quote_async);
}

JsonObject *
kl_agent_client_get_integrity_quote_finish(KlAgentClient *self,
					   GAsyncResult *result,
					   GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, self), NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

void
kl_agent_client_post_vkey_async(KlAgentClient *self,
				const KlAgentTarget *agent,
				const gchar *encrypted_key_b64,
				GCancellable *cancellable,
				GAsyncReadyCallback callback,
				gpointer user_data)
{
	gchar version[KL_API_VERSION_STRING_SIZE];
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(GBytes) body = NULL;
	g_autofree gchar *path = NULL;
	gchar *text;

	g_return_if_fail(KL_IS_AGENT_CLIENT(self));
	g_return_if_fail(agent != NULL && encrypted_key_b64 != NULL);

	if (!kl_agent_client_check_target(self,
					  agent,
					  callback,
					  user_data,
					  kl_agent_client_post_vkey_async))
		return;
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "encrypted_key");
	json_builder_add_string_value(builder, encrypted_key_b64);
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	text = kl_json_node_to_string(root, FALSE);
	body = g_bytes_new_take(text, strlen(text));
	path = g_strdup_printf("/v%s/keys/vkey",
			       kl_api_version_to_string(&agent->api_version, version));
	kl_agent_client_enqueue(self,
				agent,
				KL_AGENT_REQUEST_VKEY,
				SOUP_METHOD_POST,
				path,
				NULL,
				body,
				cancellable,
				callback,
				user_data,
				kl_agent_client_post_vkey_async);
}

gboolean
kl_agent_client_post_vkey_finish(KlAgentClient *self, GAsyncResult *result, GError **error)
{
	g_autoptr(JsonObject) results = NULL;

	g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
	results = g_task_propagate_pointer(G_TASK(result), error);
	return results != NULL;
}

void
kl_agent_client_get_version_async(KlAgentClient *self,
				  const KlAgentTarget *agent,
				  GCancellable *cancellable,
				  GAsyncReadyCallback callback,
				  gpointer user_data)
{
	g_return_if_fail(KL_IS_AGENT_CLIENT(self));
	g_return_if_fail(agent != NULL);

	if (!kl_agent_client_check_target(self,
					  agent,
					  callback,
					  user_data,
					  kl_agent_client_get_version_async))
		return;
	kl_agent_client_enqueue(self,
				agent,
				KL_AGENT_REQUEST_VERSION,
				SOUP_METHOD_GET,
				"/version",
				NULL,
				NULL,
				cancellable,
				callback,
				user_data,
				kl_agent_client_get_version_async);
}

gboolean
kl_agent_client_get_version_finish(KlAgentClient *self,
				   GAsyncResult *result,
				   gchar ***supported,
				   KlApiVersion *common,
				   GError **error)
{
	g_autoptr(JsonObject) results = NULL;
	KlAgentRequest *req;

	g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
	g_return_val_if_fail(common != NULL, FALSE);

	results = g_task_propagate_pointer(G_TASK(result), error);
	if (results == NULL)
		return FALSE;
	if (!kl_agent_client_parse_versions(results, supported, common, error)) {
		req = g_task_get_task_data(G_TASK(result));
		g_prefix_error(error, "%s: ", req->what);
		return FALSE;
	}
	return TRUE;
}

/* ---- copies of targets and revocation notifications (spec §9) ---- */

KlAgentTarget *
kl_agent_target_copy(const KlAgentTarget *target)
{
	KlAgentTarget *copy;

	g_return_val_if_fail(target != NULL, NULL);

	copy = g_new0(KlAgentTarget, 1);
	copy->agent_id = g_strdup(target->agent_id);
	copy->ip = g_strdup(target->ip);
	copy->port = target->port;
	copy->api_version = target->api_version;
	copy->mtls_cert = target->mtls_cert != NULL ? g_object_ref(target->mtls_cert) : NULL;
	return copy;
}

void
kl_agent_target_free(KlAgentTarget *target)
{
	if (target == NULL)
		return;
	/* a copy's strings are its own (see kl_agent_target_copy()) */
	g_free((gchar *)target->agent_id);
	g_free((gchar *)target->ip);
	g_clear_object(&target->mtls_cert);
	g_free(target);
}

void
kl_agent_client_post_revocation_async(KlAgentClient *self,
				      const KlAgentTarget *agent,
				      const gchar *transport_json,
				      GCancellable *cancellable,
				      GAsyncReadyCallback callback,
				      gpointer user_data)
{
	gchar version[KL_API_VERSION_STRING_SIZE];
	g_autoptr(GBytes) body = NULL;
	g_autofree gchar *path = NULL;

	g_return_if_fail(KL_IS_AGENT_CLIENT(self));
	g_return_if_fail(agent != NULL && transport_json != NULL);

	if (!kl_agent_client_check_target(self,
					  agent,
					  callback,
					  user_data,
					  kl_agent_client_post_revocation_async))
		return;
	body = g_bytes_new(transport_json, strlen(transport_json));
	path = g_strdup_printf("/v%s/notifications/revocation",
			       kl_api_version_to_string(&agent->api_version, version));
	kl_agent_client_enqueue(self,
				agent,
				KL_AGENT_REQUEST_REVOCATION,
				SOUP_METHOD_POST,
				path,
				NULL,
				body,
				cancellable,
				callback,
				user_data,
				kl_agent_client_post_revocation_async);
}

gboolean
kl_agent_client_post_revocation_finish(KlAgentClient *self, GAsyncResult *result, GError **error)
{
	g_autoptr(JsonObject) results = NULL;

	g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
	results = g_task_propagate_pointer(G_TASK(result), error);
	return results != NULL;
}
