/*
 * Connection limits for SoupServer.  libsoup 3.2 has no timeouts of its own
 * on accepted connections, so each connection gets a deadline here, set
 * from the message signals:
 *
 *   request-started (new socket)    → headers timer (handshake included:
 *                                     the first message starts at accept)
 *   request-started (known socket)  → idle timer (keep-alive)
 *   got-headers                     → body timer, unless there is no body
 *   got-body, finished, disconnected → no timer while the handler and the
 *                                     reply run
 *
 * One GSource per guard, woken at the earliest deadline, closes what is
 * due: a thousand idle clients cost a thousand deadlines, not a thousand
 * more sources for every main-loop iteration to walk.  A GSocket may be
 * finalized in a GnuTLS worker thread, so the connection set and the
 * per-address counts take a lock.
 */
#define G_LOG_DOMAIN "KlHttp"

#include "config.h"

#include "kl-http-guard.h"

#define KL_HTTP_GUARD_CONNECTION_KEY "kl-http-guard-connection"
#define KL_HTTP_GUARD_TLS_ALERT	     21 /* TLS record content type */

struct _KlHttpGuard {
	gatomicrefcount ref_count;
	KlHttpGuardLimits limits;
	GMainContext *context; /* where the timers run: the server's */
	GMutex mutex;
	GHashTable *clients; /* address string → open connections (GUINT_TO_POINTER) */
	GHashTable *open;    /* of KlHttpGuardConnection not yet ended */
	GSource *sweep;	     /* ready at the earliest deadline */
};

typedef enum {
	KL_HTTP_GUARD_PHASE_HEADERS,
	KL_HTTP_GUARD_PHASE_IDLE,
	KL_HTTP_GUARD_PHASE_BODY,
} KlHttpGuardPhase;

/* object data of an accepted GSocket; also held by its messages' handlers */
typedef struct {
	gatomicrefcount ref_count;
	KlHttpGuard *guard; /* owned */
	GWeakRef socket;
	gchar *peer;		/* the address string counted, NULL if not counted */
	gint64 deadline;	/* monotonic µs; 0: none */
	KlHttpGuardPhase phase; /* what the deadline is for */
} KlHttpGuardConnection;

static const gchar *
kl_http_guard_phase_to_string(KlHttpGuardPhase phase)
{
	switch (phase) {
	case KL_HTTP_GUARD_PHASE_HEADERS:
		return "handshake and request headers";
	case KL_HTTP_GUARD_PHASE_IDLE:
		return "keep-alive idle";
	case KL_HTTP_GUARD_PHASE_BODY:
		return "request body";
	default:
		return "unknown";
	}
}

static guint
kl_http_guard_phase_timeout(KlHttpGuard *self, KlHttpGuardPhase phase)
{
	switch (phase) {
	case KL_HTTP_GUARD_PHASE_HEADERS:
		return self->limits.headers_timeout_ms;
	case KL_HTTP_GUARD_PHASE_IDLE:
		return self->limits.idle_timeout_ms;
	case KL_HTTP_GUARD_PHASE_BODY:
		return self->limits.body_timeout_ms;
	default:
		g_assert_not_reached();
	}
	return 0;
}

static gboolean kl_http_guard_sweep_cb(gpointer user_data);

/* A source that only has a ready time: dispatched at the earliest deadline. */
static gboolean
kl_http_guard_sweep_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
	return callback(user_data);
}

static GSourceFuncs kl_http_guard_sweep_funcs = {
	.dispatch = kl_http_guard_sweep_dispatch,
};

KlHttpGuard *
kl_http_guard_new(const KlHttpGuardLimits *limits)
{
	KlHttpGuard *self = g_new0(KlHttpGuard, 1);

	g_atomic_ref_count_init(&self->ref_count);
	if (limits != NULL)
		self->limits = *limits;
	if (self->limits.headers_timeout_ms == 0)
		self->limits.headers_timeout_ms = KL_HTTP_GUARD_DEFAULT_HEADERS_TIMEOUT_MS;
	if (self->limits.idle_timeout_ms == 0)
		self->limits.idle_timeout_ms = KL_HTTP_GUARD_DEFAULT_IDLE_TIMEOUT_MS;
	if (self->limits.body_timeout_ms == 0)
		self->limits.body_timeout_ms = KL_HTTP_GUARD_DEFAULT_BODY_TIMEOUT_MS;
	if (self->limits.max_per_client == 0)
		self->limits.max_per_client = KL_HTTP_GUARD_DEFAULT_MAX_PER_CLIENT;
	self->context = g_main_context_ref_thread_default();
	g_mutex_init(&self->mutex);
	self->clients = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->open = g_hash_table_new(NULL, NULL);
	self->sweep = g_source_new(&kl_http_guard_sweep_funcs, sizeof(GSource));
	g_source_set_static_name(self->sweep, "[kl-http] connection deadlines");
	/* the source holds the guard; kl_http_guard_detach() breaks the cycle */
	g_source_set_callback(self->sweep,
			      kl_http_guard_sweep_cb,
			      kl_http_guard_ref(self),
			      (GDestroyNotify)kl_http_guard_unref);
	g_source_set_ready_time(self->sweep, -1);
	g_source_attach(self->sweep, self->context);
	return self;
}

KlHttpGuard *
kl_http_guard_ref(KlHttpGuard *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	g_atomic_ref_count_inc(&self->ref_count);
	return self;
}

void
kl_http_guard_unref(KlHttpGuard *self)
{
	g_return_if_fail(self != NULL);
	if (!g_atomic_ref_count_dec(&self->ref_count))
		return;
	g_hash_table_unref(self->clients);
	g_hash_table_unref(self->open);
	g_source_unref(self->sweep);
	g_mutex_clear(&self->mutex);
	g_main_context_unref(self->context);
	g_free(self);
}

const KlHttpGuardLimits *
kl_http_guard_get_limits(KlHttpGuard *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return &self->limits;
}

/*
 * Open connections from @address, as counted against max_per_client; with
 * @address NULL, every accepted connection not yet ended, refused ones
 * included.
 */
guint
kl_http_guard_get_n_connections(KlHttpGuard *self, GInetAddress *address)
{
	g_autofree gchar *key = NULL;
	guint count;

	g_return_val_if_fail(self != NULL, 0);
	g_return_val_if_fail(address == NULL || G_IS_INET_ADDRESS(address), 0);

	key = address != NULL ? g_inet_address_to_string(address) : NULL;
	g_mutex_lock(&self->mutex);
	if (key == NULL)
		count = g_hash_table_size(self->open);
	else
		count = GPOINTER_TO_UINT(g_hash_table_lookup(self->clients, key));
	g_mutex_unlock(&self->mutex);
	return count;
}

/* Counts a connection from @peer; FALSE, counting nothing, over the bound.
 * Under the mutex. */
static gboolean
kl_http_guard_add_client_locked(KlHttpGuard *self, const gchar *peer)
{
	guint count = GPOINTER_TO_UINT(g_hash_table_lookup(self->clients, peer));

	if (count >= self->limits.max_per_client)
		return FALSE;
	g_hash_table_replace(self->clients, g_strdup(peer), GUINT_TO_POINTER(count + 1));
	return TRUE;
}

/* Under the mutex. */
static void
kl_http_guard_remove_client_locked(KlHttpGuard *self, const gchar *peer)
{
	guint count = GPOINTER_TO_UINT(g_hash_table_lookup(self->clients, peer));

	if (count > 1)
		g_hash_table_replace(self->clients, g_strdup(peer), GUINT_TO_POINTER(count - 1));
	else
		g_hash_table_remove(self->clients, peer);
}

static void
kl_http_guard_shutdown(GSocket *socket)
{
	/* libsoup reads EOF and drops the connection itself */
	g_socket_shutdown(socket, TRUE, TRUE, NULL);
}

/* ---- connections ------------------------------------------------------ */

static KlHttpGuardConnection *
kl_http_guard_connection_ref(KlHttpGuardConnection *conn)
{
	g_atomic_ref_count_inc(&conn->ref_count);
	return conn;
}

/*
 * The end of a connection's accounting: when it is shut down here, when
 * libsoup reports it disconnected, when its socket is finalized, or when
 * the server goes away, whichever comes first (libsoup 3.2 keeps some
 * sockets alive after their connection ended).  Any thread.
 */
static void
kl_http_guard_connection_end(KlHttpGuardConnection *conn)
{
	KlHttpGuard *self = conn->guard;

	g_mutex_lock(&self->mutex);
	conn->deadline = 0;
	if (g_hash_table_remove(self->open, conn) && conn->peer != NULL)
		kl_http_guard_remove_client_locked(self, conn->peer);
	g_mutex_unlock(&self->mutex);
}

static void
kl_http_guard_connection_unref(gpointer data)
{
	KlHttpGuardConnection *conn = data;

	if (!g_atomic_ref_count_dec(&conn->ref_count))
		return;
	kl_http_guard_connection_end(conn);
	g_weak_ref_clear(&conn->socket);
	kl_http_guard_unref(conn->guard);
	g_free(conn->peer);
	g_free(conn);
}

/*
 * Shuts the connection down; FALSE if its socket is already gone.  While
 * libsoup reads (handshake, headers, body) it sees the EOF and drops the
 * connection.  Between keep-alive requests it does not read at all, so
 * the descriptor is closed here too, or each idle client would keep one
 * until the server stops.
 */
static gboolean
kl_http_guard_connection_close(KlHttpGuardConnection *conn, gboolean idle)
{
	g_autoptr(GSocket) socket = g_weak_ref_get(&conn->socket);

	kl_http_guard_connection_end(conn);
	if (socket == NULL)
		return FALSE;
	kl_http_guard_shutdown(socket);
	if (idle)
		g_socket_close(socket, NULL);
	return TRUE;
}

static void
kl_http_guard_connection_disarm(KlHttpGuardConnection *conn)
{
	g_mutex_lock(&conn->guard->mutex);
	conn->deadline = 0;
	g_mutex_unlock(&conn->guard->mutex);
}

static void
kl_http_guard_connection_arm(KlHttpGuardConnection *conn, KlHttpGuardPhase phase)
{
	KlHttpGuard *self = conn->guard;
	gint64 ready;

	g_mutex_lock(&self->mutex);
	if (g_hash_table_contains(self->open, conn)) {
		conn->phase = phase;
		conn->deadline = g_get_monotonic_time() +
				 (gint64)kl_http_guard_phase_timeout(self, phase) * 1000;
		ready = g_source_get_ready_time(self->sweep);
		if (ready < 0 || conn->deadline < ready)
			g_source_set_ready_time(self->sweep, conn->deadline);
	}
	g_mutex_unlock(&self->mutex);
}

/* Closes the connections past their deadline; wakes again at the next. */
static gboolean
kl_http_guard_sweep_cb(gpointer user_data)
{
	KlHttpGuard *self = user_data;
	g_autoptr(GPtrArray) due = g_ptr_array_new_with_free_func(kl_http_guard_connection_unref);
	gint64 now = g_get_monotonic_time();
	gint64 next = -1;
	GHashTableIter iter;
	gpointer key;

	g_mutex_lock(&self->mutex);
	g_hash_table_iter_init(&iter, self->open);
	while (g_hash_table_iter_next(&iter, &key, NULL)) {
		KlHttpGuardConnection *conn = key;

		if (conn->deadline == 0)
			continue;
		if (conn->deadline <= now) {
			conn->deadline = 0;
			g_ptr_array_add(due, kl_http_guard_connection_ref(conn));
		} else if (next < 0 || conn->deadline < next) {
			next = conn->deadline;
		}
	}
	g_source_set_ready_time(self->sweep, next);
	g_mutex_unlock(&self->mutex);

	for (guint i = 0; i < due->len; i++) {
		KlHttpGuardConnection *conn = g_ptr_array_index(due, i);

		g_debug("closing the connection from %s: %s timeout (%u ms)",
			conn->peer,
			kl_http_guard_phase_to_string(conn->phase),
			kl_http_guard_phase_timeout(self, conn->phase));
		kl_http_guard_connection_close(conn, conn->phase == KL_HTTP_GUARD_PHASE_IDLE);
	}
	return G_SOURCE_CONTINUE;
}

/* ---- message signals -------------------------------------------------- */

static gboolean
kl_http_guard_message_has_body(SoupServerMessage *msg)
{
	SoupMessageHeaders *headers = soup_server_message_get_request_headers(msg);

	switch (soup_message_headers_get_encoding(headers)) {
	case SOUP_ENCODING_NONE:
		return FALSE;
	case SOUP_ENCODING_CONTENT_LENGTH:
		return soup_message_headers_get_content_length(headers) > 0;
	case SOUP_ENCODING_UNRECOGNIZED:
	case SOUP_ENCODING_EOF:
	case SOUP_ENCODING_CHUNKED:
	case SOUP_ENCODING_BYTERANGES:
	default:
		return TRUE;
	}
}

static void
kl_http_guard_got_headers_cb(SoupServerMessage *msg, gpointer user_data)
{
	KlHttpGuardConnection *conn = user_data;

	if (kl_http_guard_message_has_body(msg))
		kl_http_guard_connection_arm(conn, KL_HTTP_GUARD_PHASE_BODY);
	else
		kl_http_guard_connection_disarm(conn);
}

/* nothing to wait for from the client while the handler and reply run */
static void
kl_http_guard_got_body_cb(SoupServerMessage *msg, gpointer user_data)
{
	kl_http_guard_connection_disarm(user_data);
}

/* libsoup 3.2 starts the next message of a keep-alive connection only
 * once the client sends something: the idle wait starts here */
static void
kl_http_guard_finished_cb(SoupServerMessage *msg, gpointer user_data)
{
	kl_http_guard_connection_arm(user_data, KL_HTTP_GUARD_PHASE_IDLE);
}

static void
kl_http_guard_disconnected_cb(SoupServerMessage *msg, gpointer user_data)
{
	kl_http_guard_connection_end(user_data);
}

static void
kl_http_guard_connection_closure_notify(gpointer data, GClosure *closure)
{
	kl_http_guard_connection_unref(data);
}

static void
kl_http_guard_watch_message(KlHttpGuardConnection *conn, SoupServerMessage *msg)
{
	const struct {
		const gchar *signal;
		GCallback callback;
	} signals[] = {
		{"got-headers", G_CALLBACK(kl_http_guard_got_headers_cb)},
		{"got-body", G_CALLBACK(kl_http_guard_got_body_cb)},
		{"finished", G_CALLBACK(kl_http_guard_finished_cb)},
		{"disconnected", G_CALLBACK(kl_http_guard_disconnected_cb)},
	};

	for (guint i = 0; i < G_N_ELEMENTS(signals); i++)
		g_signal_connect_data(msg,
				      signals[i].signal,
				      signals[i].callback,
				      kl_http_guard_connection_ref(conn),
				      kl_http_guard_connection_closure_notify,
				      0);
}

/*
 * Whether a counted connection has ended without telling us: libsoup 3.2
 * closes a keep-alive connection whose client went away between requests
 * without a signal, and may keep its GSocket alive.  Under the mutex.
 */
static gboolean
kl_http_guard_connection_is_gone_locked(KlHttpGuardConnection *conn)
{
	g_autoptr(GSocket) socket = g_weak_ref_get(&conn->socket);
	GIOCondition condition;
	gchar byte;
	GInputVector vector = {&byte, 1};
	gint flags = G_SOCKET_MSG_PEEK;

	if (socket == NULL || g_socket_is_closed(socket))
		return TRUE;
	if (conn->phase != KL_HTTP_GUARD_PHASE_IDLE || conn->deadline == 0)
		return FALSE;
	condition = g_socket_condition_check(socket, G_IO_IN | G_IO_HUP | G_IO_ERR);
	if (condition & (G_IO_HUP | G_IO_ERR))
		return TRUE;
	if ((condition & G_IO_IN) == 0)
		return FALSE;
	/* readable while idle: end of stream, a TLS alert record (close_notify:
	 * requests are application data, 23, or start with a method's
	 * letter), or the next request's bytes */
	switch (g_socket_receive_message(socket,
					 NULL,
					 &vector,
					 1,
					 NULL,
					 NULL,
					 &flags,
					 NULL,
					 NULL)) {
	case 0:
		return TRUE;
	case 1:
		return byte == KL_HTTP_GUARD_TLS_ALERT;
	default:
		return FALSE;
	}
}

/* Stops counting @peer's connections that ended unseen; under the mutex. */
static void
kl_http_guard_prune_client_locked(KlHttpGuard *self, const gchar *peer)
{
	GHashTableIter iter;
	gpointer key;

	g_hash_table_iter_init(&iter, self->open);
	while (g_hash_table_iter_next(&iter, &key, NULL)) {
		KlHttpGuardConnection *conn = key;

		if (conn->peer == NULL || g_strcmp0(conn->peer, peer) != 0 ||
		    !kl_http_guard_connection_is_gone_locked(conn))
			continue;
		conn->deadline = 0;
		g_hash_table_iter_remove(&iter);
		kl_http_guard_remove_client_locked(self, conn->peer);
	}
}

/* A new connection: counted against its address and given the headers
 * timer, or shut down at once over the bound. */
static KlHttpGuardConnection *
kl_http_guard_accept(KlHttpGuard *self, GSocket *socket, SoupServerMessage *msg)
{
	KlHttpGuardConnection *conn = g_new0(KlHttpGuardConnection, 1);
	g_autoptr(GSocketAddress) remote = g_socket_get_remote_address(socket, NULL);
	g_autofree gchar *peer = NULL;

	g_atomic_ref_count_init(&conn->ref_count);
	conn->guard = kl_http_guard_ref(self);
	g_weak_ref_init(&conn->socket, socket);
	g_object_set_data_full(G_OBJECT(socket),
			       KL_HTTP_GUARD_CONNECTION_KEY,
			       conn,
			       kl_http_guard_connection_unref);
	if (remote != NULL && G_IS_INET_SOCKET_ADDRESS(remote))
		peer = g_inet_address_to_string(
			g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(remote)));
	g_mutex_lock(&self->mutex);
	g_hash_table_add(self->open, conn);
	if (peer != NULL) {
		gboolean counted = kl_http_guard_add_client_locked(self, peer);

		if (!counted) {
			/* at the bound: some of them may have ended unseen */
			kl_http_guard_prune_client_locked(self, peer);
			counted = kl_http_guard_add_client_locked(self, peer);
		}
		if (counted)
			conn->peer = g_steal_pointer(&peer);
	}
	g_mutex_unlock(&self->mutex);
	if (conn->peer == NULL) {
		/* over the bound, or already reset by the peer */
		if (peer != NULL)
			g_debug("refusing a connection from %s: %u connections already open",
				peer,
				self->limits.max_per_client);
		kl_http_guard_connection_close(conn, FALSE);
		return conn;
	}
	kl_http_guard_connection_arm(conn, KL_HTTP_GUARD_PHASE_HEADERS);
	return conn;
}

static void
kl_http_guard_request_started_cb(SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
	KlHttpGuard *self = user_data;
	GSocket *socket = soup_server_message_get_socket(msg);
	KlHttpGuardConnection *conn;

	if (socket == NULL)
		return;
	conn = g_object_get_data(G_OBJECT(socket), KL_HTTP_GUARD_CONNECTION_KEY);
	if (conn == NULL)
		conn = kl_http_guard_accept(self, socket, msg);
	else
		/* the client sent the first bytes of its next request */
		kl_http_guard_connection_arm(conn, KL_HTTP_GUARD_PHASE_HEADERS);
	kl_http_guard_watch_message(conn, msg);
}

static void
kl_http_guard_closure_notify(gpointer data, GClosure *closure)
{
	kl_http_guard_unref(data);
}

/* Applies the limits to every connection @server accepts from now on. */
void
kl_http_guard_attach(KlHttpGuard *self, SoupServer *server)
{
	g_return_if_fail(self != NULL);
	g_return_if_fail(SOUP_IS_SERVER(server));

	g_signal_connect_data(server,
			      "request-started",
			      G_CALLBACK(kl_http_guard_request_started_cb),
			      kl_http_guard_ref(self),
			      kl_http_guard_closure_notify,
			      0);
}

/* Shuts down every connection still open, as when the server stops. */
void
kl_http_guard_close_all(KlHttpGuard *self)
{
	g_autoptr(GPtrArray) open = g_ptr_array_new_with_free_func(kl_http_guard_connection_unref);
	GHashTableIter iter;
	gpointer conn;

	g_return_if_fail(self != NULL);

	g_mutex_lock(&self->mutex);
	g_hash_table_iter_init(&iter, self->open);
	while (g_hash_table_iter_next(&iter, &conn, NULL))
		g_ptr_array_add(open, kl_http_guard_connection_ref(conn));
	g_mutex_unlock(&self->mutex);
	for (guint i = 0; i < open->len; i++) {
		KlHttpGuardConnection *conn_i = g_ptr_array_index(open, i);

		kl_http_guard_connection_close(conn_i, conn_i->phase == KL_HTTP_GUARD_PHASE_IDLE);
	}
}

/* Closes every connection and stops the deadlines: the owner is done. */
void
kl_http_guard_detach(KlHttpGuard *self)
{
	g_return_if_fail(self != NULL);

	kl_http_guard_close_all(self);
	/* drops the source's reference to the guard */
	g_source_destroy(self->sweep);
}
