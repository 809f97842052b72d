/*
 * kl-test-wait: wait for a condition by running the main context, never by
 * sleeping, so that asynchronous servers and clients in the same thread make
 * progress.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef gboolean (*KlTestCondition)(gpointer user_data);

gboolean kl_test_wait_for(KlTestCondition condition, gpointer user_data, guint timeout_ms);
gboolean kl_test_wait_for_pointer(gpointer *location, guint timeout_ms);

G_END_DECLS
