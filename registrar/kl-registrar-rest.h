/*
 * kl-registrar-rest: the registrar's REST API (spec §2.2) on a
 * KlHttpRouter.  Registration and activation are open, as upstream's, so
 * agents can reach them on the plain-HTTP port; listing, showing and
 * deleting need a verified mTLS client certificate.
 */
#pragma once

#include "kl-http-router.h"
#include "kl-registrar.h"

G_BEGIN_DECLS

/* API versions 2.0 to 2.6, current 2.6 */
const KlApiVersion *kl_registrar_rest_supported_versions(gsize *n_versions);

/* The router both listeners share; GET /version included. */
KlHttpRouter *kl_registrar_rest_router_new(KlRegistrar *registrar, GError **error);

G_END_DECLS
