/*
 * kl-scheduler: a binary min-heap of due times behind one GSource whose
 * ready time is the heap's minimum (see kl-scheduler.h).
 */
#include "config.h"

#include "kl-scheduler.h"

struct _KlScheduler {
	GSource *source;
	GPtrArray *heap; /* of KlSchedulerEntry, borrowed */
	KlSchedulerFunc func;
	gpointer user_data;
	guint64 next_seq;
};

typedef struct {
	GSource source;
	KlScheduler *scheduler;
} KlSchedulerSource;

void
kl_scheduler_entry_init(KlSchedulerEntry *entry)
{
	entry->due = 0;
	entry->index = G_MAXUINT;
	entry->seq = 0;
}

gboolean
kl_scheduler_entry_is_scheduled(const KlSchedulerEntry *entry)
{
	return entry->index != G_MAXUINT;
}

static gboolean
kl_scheduler_before(const KlSchedulerEntry *a, const KlSchedulerEntry *b)
{
	return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static KlSchedulerEntry *
kl_scheduler_at(KlScheduler *self, guint index)
{
	return g_ptr_array_index(self->heap, index);
}

static void
kl_scheduler_place(KlScheduler *self, KlSchedulerEntry *entry, guint index)
{
	self->heap->pdata[index] = entry;
	entry->index = index;
}

static void
kl_scheduler_sift_up(KlScheduler *self, guint index)
{
	KlSchedulerEntry *entry = kl_scheduler_at(self, index);

	while (index > 0) {
		guint parent = (index - 1) / 2;
		KlSchedulerEntry *up = kl_scheduler_at(self, parent);
		if (!kl_scheduler_before(entry, up))
			break;
		kl_scheduler_place(self, up, index);
		index = parent;
	}
	kl_scheduler_place(self, entry, index);
}

static void
kl_scheduler_sift_down(KlScheduler *self, guint index)
{
	KlSchedulerEntry *entry = kl_scheduler_at(self, index);
	guint n = self->heap->len;

	for (;;) {
		guint child = 2 * index + 1;
		KlSchedulerEntry *down;
		if (child >= n)
			break;
		if (child + 1 < n && kl_scheduler_before(kl_scheduler_at(self, child + 1),
							 kl_scheduler_at(self, child)))
			child++;
		down = kl_scheduler_at(self, child);
		if (!kl_scheduler_before(down, entry))
			break;
		kl_scheduler_place(self, down, index);
		index = child;
	}
	kl_scheduler_place(self, entry, index);
}

static void
kl_scheduler_update_ready_time(KlScheduler *self)
{
	if (self->heap->len == 0)
		g_source_set_ready_time(self->source, -1);
	else
		g_source_set_ready_time(self->source, kl_scheduler_at(self, 0)->due);
}

static void
kl_scheduler_remove_at(KlScheduler *self, guint index)
{
	KlSchedulerEntry *entry = kl_scheduler_at(self, index);
	KlSchedulerEntry *last = g_ptr_array_steal_index(self->heap, self->heap->len - 1);

	entry->index = G_MAXUINT;
	if (last == entry)
		return;
	kl_scheduler_place(self, last, index);
	kl_scheduler_sift_down(self, index);
	kl_scheduler_sift_up(self, last->index);
}

static gboolean
kl_scheduler_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
	KlScheduler *self = ((KlSchedulerSource *)source)->scheduler;
	gint64 now = g_get_monotonic_time();
	/* entries scheduled again by the callbacks wait for the next dispatch */
	guint budget = self->heap->len;

	while (budget-- > 0 && self->heap->len > 0) {
		KlSchedulerEntry *entry = kl_scheduler_at(self, 0);
		if (entry->due > now)
			break;
		kl_scheduler_remove_at(self, 0);
		self->func(entry, self->user_data);
	}
	kl_scheduler_update_ready_time(self);
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs kl_scheduler_source_funcs = {
	.dispatch = kl_scheduler_dispatch,
};

KlScheduler *
kl_scheduler_new(GMainContext *context, KlSchedulerFunc func, gpointer user_data)
{
	KlScheduler *self = g_new0(KlScheduler, 1);

	self->heap = g_ptr_array_new();
	self->func = func;
	self->user_data = user_data;
	self->source = g_source_new(&kl_scheduler_source_funcs, sizeof(KlSchedulerSource));
	((KlSchedulerSource *)self->source)->scheduler = self;
	g_source_set_name(self->source, "KlScheduler");
	g_source_set_ready_time(self->source, -1);
	g_source_attach(self->source,
			context != NULL ? context : g_main_context_get_thread_default());
	return self;
}

void
kl_scheduler_free(KlScheduler *self)
{
	if (self == NULL)
		return;
	for (guint i = 0; i < self->heap->len; i++)
		kl_scheduler_at(self, i)->index = G_MAXUINT;
	g_source_destroy(self->source);
	g_source_unref(self->source);
	g_ptr_array_unref(self->heap);
	g_free(self);
}

void
kl_scheduler_schedule(KlScheduler *self, KlSchedulerEntry *entry, gint64 due)
{
	entry->due = due;
	entry->seq = self->next_seq++;
	if (entry->index == G_MAXUINT) {
		g_ptr_array_add(self->heap, entry);
		entry->index = self->heap->len - 1;
		kl_scheduler_sift_up(self, entry->index);
	} else {
		kl_scheduler_sift_up(self, entry->index);
		kl_scheduler_sift_down(self, entry->index);
	}
	kl_scheduler_update_ready_time(self);
}

void
kl_scheduler_schedule_in(KlScheduler *self, KlSchedulerEntry *entry, gdouble delay)
{
	gint64 now = g_get_monotonic_time();

	if (!(delay > 0))
		delay = 0;
	delay = MIN(delay, KL_SCHEDULER_MAX_DELAY);
	kl_scheduler_schedule(self, entry, now + (gint64)(delay * G_USEC_PER_SEC));
}

void
kl_scheduler_cancel(KlScheduler *self, KlSchedulerEntry *entry)
{
	if (entry->index == G_MAXUINT)
		return;
	g_return_if_fail(entry->index < self->heap->len &&
			 kl_scheduler_at(self, entry->index) == entry);
	kl_scheduler_remove_at(self, entry->index);
	kl_scheduler_update_ready_time(self);
}

guint
kl_scheduler_get_size(KlScheduler *self)
{
	return self->heap->len;
}

gdouble
kl_scheduler_retry_time(gboolean exponential, gdouble base, guint n)
{
	gdouble time = 1;

	if (!exponential || !(base > 1))
		return MIN(base < 0 ? -base : base, KL_SCHEDULER_MAX_DELAY);
	/* n is at most max_retries: a loop, not libm; base**n overflows
	 * soon, so it stops at the longest delay */
	for (guint i = 0; i < n && time < KL_SCHEDULER_MAX_DELAY; i++)
		time *= base;
	return MIN(time, KL_SCHEDULER_MAX_DELAY);
}
