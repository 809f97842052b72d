/*
 * KlScheduler: entries come back in due order on one source, cancelled and
 * moved entries behave, and retry_time is upstream's.
 */
#include "config.h"

#include "kl-scheduler.h"

typedef struct {
	KlSchedulerEntry entry;
	guint id;
} Item;

typedef struct {
	GArray *fired; /* of guint id */
	gint64 last_due;
	gboolean in_order;
	GMainLoop *loop;
	guint expected;
} Seen;

static void
record_cb(KlSchedulerEntry *entry, gpointer user_data)
{
	Seen *seen = user_data;
	Item *item = (Item *)entry;

	g_assert_false(kl_scheduler_entry_is_scheduled(entry));
	g_assert_cmpint(g_get_monotonic_time(), >=, entry->due);
	if (entry->due < seen->last_due)
		seen->in_order = FALSE;
	seen->last_due = entry->due;
	g_array_append_val(seen->fired, item->id);
	if (seen->fired->len == seen->expected)
		g_main_loop_quit(seen->loop);
}

static void
test_order(void)
{
	Seen seen = {g_array_new(FALSE, FALSE, sizeof(guint)), 0, TRUE, NULL, 0};
	g_autoptr(KlScheduler) scheduler = kl_scheduler_new(NULL, record_cb, &seen);
	g_autofree Item *items = g_new0(Item, 200);
	gint64 now = g_get_monotonic_time();
	GRand *rand = g_rand_new_with_seed(7);
	guint n_cancelled = 0;

	seen.loop = g_main_loop_new(NULL, FALSE);
	for (guint i = 0; i < 200; i++) {
		items[i].id = i;
		kl_scheduler_entry_init(&items[i].entry);
		kl_scheduler_schedule(scheduler,
				      &items[i].entry,
				      now + g_rand_int_range(rand, 1000, 200000));
	}
	g_assert_cmpuint(kl_scheduler_get_size(scheduler), ==, 200);
	/* move some, cancel every tenth */
	for (guint i = 0; i < 200; i += 3)
		kl_scheduler_schedule(scheduler,
				      &items[i].entry,
				      now + g_rand_int_range(rand, 1000, 200000));
	for (guint i = 0; i < 200; i += 10) {
		kl_scheduler_cancel(scheduler, &items[i].entry);
		g_assert_false(kl_scheduler_entry_is_scheduled(&items[i].entry));
		n_cancelled++;
	}
	kl_scheduler_cancel(scheduler, &items[0].entry); /* twice is harmless */
	g_assert_cmpuint(kl_scheduler_get_size(scheduler), ==, 200 - n_cancelled);
	seen.expected = 200 - n_cancelled;
	g_main_loop_run(seen.loop);

	g_assert_true(seen.in_order);
	g_assert_cmpuint(seen.fired->len, ==, 200 - n_cancelled);
	for (guint i = 0; i < seen.fired->len; i++)
		g_assert_cmpuint(g_array_index(seen.fired, guint, i) % 10, !=, 0);
	g_assert_cmpuint(kl_scheduler_get_size(scheduler), ==, 0);
	g_rand_free(rand);
	g_main_loop_unref(seen.loop);
	g_array_unref(seen.fired);
}

typedef struct {
	KlScheduler *scheduler;
	guint count;
	GMainLoop *loop;
} Again;

static void
again_cb(KlSchedulerEntry *entry, gpointer user_data)
{
	Again *again = user_data;

	if (++again->count == 5) {
		g_main_loop_quit(again->loop);
		return;
	}
	/* rescheduling from the callback is allowed */
	kl_scheduler_schedule_in(again->scheduler, entry, 0.01);
}

static void
test_reschedule_from_callback(void)
{
	Again again = {NULL, 0, g_main_loop_new(NULL, FALSE)};
	KlSchedulerEntry entry;
	gint64 start = g_get_monotonic_time();

	again.scheduler = kl_scheduler_new(NULL, again_cb, &again);
	kl_scheduler_entry_init(&entry);
	kl_scheduler_schedule_in(again.scheduler, &entry, 0);
	g_main_loop_run(again.loop);
	g_assert_cmpuint(again.count, ==, 5);
	/* four waits of 10 ms */
	g_assert_cmpint(g_get_monotonic_time() - start, >=, 40000);
	kl_scheduler_free(again.scheduler);
	g_main_loop_unref(again.loop);
}

static void
test_retry_time(void)
{
	g_assert_cmpfloat(kl_scheduler_retry_time(TRUE, 2, 1), ==, 2);
	g_assert_cmpfloat(kl_scheduler_retry_time(TRUE, 2, 5), ==, 32);
	g_assert_cmpfloat(kl_scheduler_retry_time(FALSE, 2, 5), ==, 2);
	g_assert_cmpfloat(kl_scheduler_retry_time(TRUE, 0.5, 3), ==, 0.5);
	g_assert_cmpfloat(kl_scheduler_retry_time(TRUE, -3, 3), ==, 3);
	/* max_retries up to 10000: base ** n stops at a day, never overflows */
	g_assert_cmpfloat(kl_scheduler_retry_time(TRUE, 2, 10000), ==, KL_SCHEDULER_MAX_DELAY);
	g_assert_cmpfloat(kl_scheduler_retry_time(FALSE, 1e9, 1), ==, KL_SCHEDULER_MAX_DELAY);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/scheduler/order", test_order);
	g_test_add_func("/scheduler/reschedule-from-callback", test_reschedule_from_callback);
	g_test_add_func("/scheduler/retry-time", test_retry_time);
	return g_test_run();
}
