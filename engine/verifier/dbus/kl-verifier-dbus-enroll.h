/*
 * kl-verifier-dbus-enroll: org.keylime.Verifier1.Manager.EnrollAgent, the
 * tenant's add flow (libkl-tenant's KlTenantEnrollment) run inside the
 * verifier for a console that speaks only D-Bus: each step is announced
 * with EnrollmentProgress and the verifier step is kl_verifier_add_agent().
 * Apart from KlVerifierDbus because it links libkl-tenant.
 */
#pragma once

#include "kl-tenant-enroll.h"
#include "kl-verifier-dbus.h"

G_BEGIN_DECLS

/*
 * The settings of each enrolment (the registrar's address and CA, the
 * verifier's client certificate, tpm_cert_store, require_ek_cert, the
 * accepted algorithms, timeouts): fresh options with everything but the
 * call's own options filled in.
 */
typedef KlTenantEnrollOptions *(*KlVerifierDbusEnrollConfig)(gpointer user_data);

typedef struct _KlVerifierDbusEnroll KlVerifierDbusEnroll;

/* Serves EnrollAgent on @dbus's Manager until freed (before @dbus). */
KlVerifierDbusEnroll *kl_verifier_dbus_enroll_new(KlVerifierDbus *dbus,
						  KlVerifierDbusEnrollConfig config,
						  gpointer user_data,
						  GDestroyNotify user_data_free);
void kl_verifier_dbus_enroll_free(KlVerifierDbusEnroll *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlVerifierDbusEnroll, kl_verifier_dbus_enroll_free)

G_END_DECLS
