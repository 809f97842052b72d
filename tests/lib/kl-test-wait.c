/*
 * Iterates the thread-default main context until a condition holds or the
 * timeout passes; a timeout source wakes the loop so that the deadline is
 * met even when nothing else happens.
 */
#include "config.h"

#include "kl-test-wait.h"

static gboolean
kl_test_wait_timeout_cb(gpointer user_data)
{
	gboolean *timed_out = user_data;
	*timed_out = TRUE;
	return G_SOURCE_REMOVE;
}

gboolean
kl_test_wait_for(KlTestCondition condition, gpointer user_data, guint timeout_ms)
{
	GMainContext *context = g_main_context_ref_thread_default();
	gboolean timed_out = FALSE;
	GSource *timeout = g_timeout_source_new(timeout_ms);
	gboolean met;

	g_source_set_callback(timeout, kl_test_wait_timeout_cb, &timed_out, NULL);
	g_source_attach(timeout, context);
	while (!(met = condition(user_data)) && !timed_out)
		g_main_context_iteration(context, TRUE);
	g_source_destroy(timeout);
	g_source_unref(timeout);
	g_main_context_unref(context);
	return met;
}

static gboolean
kl_test_pointer_is_set(gpointer user_data)
{
	gpointer *location = user_data;
	return *location != NULL;
}

/* The common case: an async callback stores its result in a pointer. */
gboolean
kl_test_wait_for_pointer(gpointer *location, guint timeout_ms)
{
	return kl_test_wait_for(kl_test_pointer_is_set, location, timeout_ms);
}
