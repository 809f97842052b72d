/*
 * kl-scheduler: when each agent of the fleet is due next, on ONE timer
 * source for the whole fleet.  A GMainContext looks at every attached
 * source on every iteration, so 10 000 per-agent timeouts would cost
 * O(n) per wakeup; here the due times live in a binary heap and a single
 * GSource's ready time follows the earliest one.
 *
 * Callers embed a KlSchedulerEntry in their own per-agent record (set it
 * up with kl_scheduler_entry_init()) and get it back in the callback when
 * it is due; an entry is removed from the heap before its callback runs.
 * Times are g_get_monotonic_time() microseconds.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
	gint64 due;  /* monotonic µs */
	guint index; /* position in the heap; G_MAXUINT: not scheduled */
	guint64 seq; /* ties are served first come, first served */
} KlSchedulerEntry;

typedef struct _KlScheduler KlScheduler;

/* Called on the scheduler's context for every entry that is due. */
typedef void (*KlSchedulerFunc)(KlSchedulerEntry *entry, gpointer user_data);

void kl_scheduler_entry_init(KlSchedulerEntry *entry);
gboolean kl_scheduler_entry_is_scheduled(const KlSchedulerEntry *entry);

/* Attaches its source to @context (NULL: the thread-default one). */
KlScheduler *kl_scheduler_new(GMainContext *context, KlSchedulerFunc func, gpointer user_data);
void kl_scheduler_free(KlScheduler *self);

/* Schedules @entry at @due, or moves it there if it is scheduled already. */
void kl_scheduler_schedule(KlScheduler *self, KlSchedulerEntry *entry, gint64 due);
/* @delay seconds from now (0 or less: at the next iteration). */
void kl_scheduler_schedule_in(KlScheduler *self, KlSchedulerEntry *entry, gdouble delay);
/* Removes @entry if it is scheduled. */
void kl_scheduler_cancel(KlScheduler *self, KlSchedulerEntry *entry);
guint kl_scheduler_get_size(KlScheduler *self);

/* The longest wait the scheduler keeps (seconds): a day, as verifier.conf
 * bounds its intervals; longer delays and retry times are cut to it. */
#define KL_SCHEDULER_MAX_DELAY 86400.0

/* Upstream's retry_time (spec §3): @base ** @n when @exponential and
 * @base > 1, else |@base|; seconds, at most KL_SCHEDULER_MAX_DELAY. */
gdouble kl_scheduler_retry_time(gboolean exponential, gdouble base, guint n);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlScheduler, kl_scheduler_free)

G_END_DECLS
