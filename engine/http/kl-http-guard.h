/*
 * kl-http-guard: bounds what a slow or idle client can hold on a
 * SoupServer (the CVE-2023-38200 class): time limits on the TLS handshake
 * and first request headers, on keep-alive idleness and on a request body,
 * and a bound on simultaneous connections per client IP address.  A
 * connection over a limit is shut down, which libsoup sees as EOF.
 *
 * The state of a connection is object data on its GSocket, so it ends
 * with the socket at the latest; each connection holds a reference to the
 * guard, so a socket that outlives its server still has a guard to report
 * to.
 */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

#define KL_HTTP_GUARD_DEFAULT_HEADERS_TIMEOUT_MS 10000
#define KL_HTTP_GUARD_DEFAULT_IDLE_TIMEOUT_MS	 60000
#define KL_HTTP_GUARD_DEFAULT_BODY_TIMEOUT_MS	 30000
#define KL_HTTP_GUARD_DEFAULT_MAX_PER_CLIENT	 64

/* 0 in any field: its default above */
typedef struct {
	guint headers_timeout_ms; /* accept to first request headers, TLS handshake included */
	guint idle_timeout_ms;	  /* keep-alive: end of a response to the next headers */
	guint body_timeout_ms;	  /* request headers to the whole body */
	guint max_per_client;	  /* simultaneous connections from one IP address */
} KlHttpGuardLimits;

typedef struct _KlHttpGuard KlHttpGuard;

KlHttpGuard *kl_http_guard_new(const KlHttpGuardLimits *limits);
KlHttpGuard *kl_http_guard_ref(KlHttpGuard *self);
void kl_http_guard_unref(KlHttpGuard *self);
void kl_http_guard_attach(KlHttpGuard *self, SoupServer *server);
const KlHttpGuardLimits *kl_http_guard_get_limits(KlHttpGuard *self);
guint kl_http_guard_get_n_connections(KlHttpGuard *self, GInetAddress *address);
void kl_http_guard_close_all(KlHttpGuard *self);
/* Closes everything and stops the guard's timer; call once, when the
 * server goes away (the timer holds a reference to the guard). */
void kl_http_guard_detach(KlHttpGuard *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlHttpGuard, kl_http_guard_unref)

G_END_DECLS
