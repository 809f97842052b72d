/*
 * kl-test-swtpm: a private software TPM for one test.  Each fixture has its
 * own temporary directory holding freshly manufactured TPM state and its
 * own local CA that signed the EK and platform certificates, and a swtpm
 * child listening on free loopback ports; nothing is shared with other
 * tests, so they can run in parallel.
 *
 * swtpm_setup 0.7.1 always makes an RSA-2048 EK (persisted at 0x81010001,
 * certificate in NV 0x1c00002) and an ECC NIST P-384 EK (0x81010016,
 * certificate in NV 0x1c00016); it has no option for a P-256 EK, so there
 * is nothing at the TCG P-256 index 0x1c0000a.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define KL_TEST_SWTPM_NV_EK_CERT_RSA   0x01c00002 /* RSA-2048 EK certificate */
#define KL_TEST_SWTPM_NV_EK_CERT_ECC   0x01c00016 /* ECC P-384 EK certificate */
#define KL_TEST_SWTPM_NV_PLATFORM_CERT 0x01c08000
#define KL_TEST_SWTPM_EK_HANDLE_RSA    0x81010001
#define KL_TEST_SWTPM_EK_HANDLE_ECC    0x81010016

typedef struct _KlTestSwtpm KlTestSwtpm;

gboolean kl_test_swtpm_available(void);
KlTestSwtpm *kl_test_swtpm_new(GError **error);
const gchar *kl_test_swtpm_get_tcti(KlTestSwtpm *self);
const gchar *kl_test_swtpm_get_ca_file(KlTestSwtpm *self);
const gchar *kl_test_swtpm_get_state_dir(KlTestSwtpm *self);
guint16 kl_test_swtpm_get_port(KlTestSwtpm *self);
guint16 kl_test_swtpm_get_ctrl_port(KlTestSwtpm *self);
/* Stops swtpm if it still runs (swtpm_ioctl -s ends it) and starts it
 * again on the same ports and state, as a TPM daemon restarts: clients
 * lose their connection, the TPM is started afresh (startup-clear). */
gboolean kl_test_swtpm_restart(KlTestSwtpm *self, GError **error);
void kl_test_swtpm_free(KlTestSwtpm *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlTestSwtpm, kl_test_swtpm_free)

G_END_DECLS
