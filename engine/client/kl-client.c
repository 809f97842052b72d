/*
 * KlClient: the D-Bus client cache of org.keylime.Verifier1 with the
 * shared-memory fast path.  See kl-client.h for what it offers.
 *
 * The Manager proxy follows the verifier's name owner: when the verifier
 * appears the client picks its source of agents (the shared-memory table
 * if ShmName maps, the ObjectManager's objects otherwise) and backfills the
 * events; when it vanishes the agent list is emptied.  The agent list is a
 * GListStore kept in agent-id order together with a sorted array of the
 * same objects, so that every insertion and removal is found by binary
 * search and reported as one precise items-changed.
 */
#define G_LOG_DOMAIN "KlClient"

#include "config.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>

#include "kl-agent-id.h"
#include "kl-agent-table-reader.h"
#include "kl-client-private.h"
#include "kl-client.h"
#include "kl-error.h"

#define KL_CLIENT_MANAGER_IFACE	      "org.keylime.Verifier1.Manager"
#define KL_CLIENT_AGENT_IFACE	      "org.keylime.Verifier1.Agent"
#define KL_CLIENT_AGENT_PATH_PREFIX   KL_CLIENT_OBJECT_PATH "/agents/"
#define KL_CLIENT_CHANGED_INTERVAL_MS 100
#define KL_CLIENT_REFRESH_INTERVAL_MS 250

struct _KlClient {
	GObject parent_instance;
	GDBusConnection *connection;
	KlDBusVerifier1Manager *manager;
	GDBusObjectManager *object_manager;
	GCancellable *cancellable; /* cancelled on dispose: backfill and the like */
	gboolean connected;

	GListStore *agents;	  /* KlClientAgent, by agent id */
	GPtrArray *sorted;	  /* the same objects in the same order (borrowed) */
	GHashTable *agents_by_id; /* agent id (owned by the agent) → KlClientAgent */

	KlAgentTableReader *reader; /* non-NULL: agents come from the table */
	gchar *shm_name;	    /* the ShmName the reader maps */
	gchar *considered_shm_name; /* the ShmName the source was picked for */
	guint64 generation;	    /* of the table at the last refresh */
	GArray *slot_seq;	    /* guint64: each slot's counter when last read */
	GPtrArray *slot_agents;	    /* KlClientAgent (or NULL) each slot held then */
	gboolean generation_seen;
	guint refresh_interval_ms;
	guint refresh_source;

	GListStore *events; /* KlClientEvent, newest first */
	guint max_events;
	GHashTable *live_event_keys; /* while a backfill runs: events seen live */
	guint backfill_serial;
	/* The round AttestationFailed announced last: its IMA findings come
	 * as ImaEntriesFailed right after, with their paths, and are shown
	 * once, with this severity. */
	gchar *round_agent_id;
	guint64 round_time;
	guint round_severity;

	guint changed_source;
};

G_DEFINE_TYPE(KlClient, kl_client, G_TYPE_OBJECT)

enum {
	PROP_0,
	PROP_CONNECTED,
	PROP_USES_SHM,
	N_PROPS,
};

static GParamSpec *properties[N_PROPS];

enum {
	SIGNAL_CHANGED,
	SIGNAL_ENROLLMENT_PROGRESS,
	N_SIGNALS,
};

static guint signals[N_SIGNALS];

/* ---- "changed" ---------------------------------------------------------- */

static gboolean
kl_client_changed_cb(gpointer user_data)
{
	KlClient *self = KL_CLIENT(user_data);

	self->changed_source = 0;
	g_signal_emit(self, signals[SIGNAL_CHANGED], 0);
	return G_SOURCE_REMOVE;
}

static void
kl_client_queue_changed(KlClient *self)
{
	if (self->changed_source != 0)
		return;
	self->changed_source = g_timeout_add_full(G_PRIORITY_DEFAULT_IDLE,
						  KL_CLIENT_CHANGED_INTERVAL_MS,
						  kl_client_changed_cb,
						  self,
						  NULL);
	g_source_set_name_by_id(self->changed_source, "[kl-client] changed");
}

/* ---- the sorted agent list ---------------------------------------------- */

/* The position of @agent_id in the list, or where it would go. */
static guint
kl_client_agent_position(KlClient *self, const gchar *agent_id, gboolean *found)
{
	guint low = 0;
	guint high = self->sorted->len;

	*found = FALSE;
	while (low < high) {
		guint mid = low + (high - low) / 2;
		KlClientAgent *agent = g_ptr_array_index(self->sorted, mid);
		gint cmp = strcmp(kl_client_agent_get_agent_id(agent), agent_id);
		if (cmp == 0) {
			*found = TRUE;
			return mid;
		}
		if (cmp < 0)
			low = mid + 1;
		else
			high = mid;
	}
	return low;
}

static void
kl_client_insert_agent(KlClient *self, KlClientAgent *agent)
{
	gboolean found = FALSE;
	guint position =
		kl_client_agent_position(self, kl_client_agent_get_agent_id(agent), &found);

	g_return_if_fail(!found);
	g_hash_table_insert(self->agents_by_id,
			    (gpointer)kl_client_agent_get_agent_id(agent),
			    g_object_ref(agent));
	g_ptr_array_insert(self->sorted, (gint)position, agent);
	g_list_store_insert(self->agents, position, agent);
}

static void
kl_client_remove_agent_by_id(KlClient *self, const gchar *agent_id)
{
	gboolean found = FALSE;
	guint position = kl_client_agent_position(self, agent_id, &found);

	if (!found)
		return;
	g_ptr_array_remove_index(self->sorted, position);
	g_list_store_remove(self->agents, position);
	/* Last: the key is the agent's own string. */
	g_hash_table_remove(self->agents_by_id, agent_id);
}

static gint
kl_client_agent_compare(gconstpointer a, gconstpointer b)
{
	KlClientAgent *agent_a = *(KlClientAgent *const *)a;
	KlClientAgent *agent_b = *(KlClientAgent *const *)b;
	return strcmp(kl_client_agent_get_agent_id(agent_a), kl_client_agent_get_agent_id(agent_b));
}

/* Adds @added (owned references), in one items-changed when the list was
 * empty (the first refresh of 100 000 agents), one per agent otherwise. */
static void
kl_client_insert_agents(KlClient *self, GPtrArray *added)
{
	if (added->len == 0)
		return;
	if (self->sorted->len == 0) {
		g_ptr_array_sort(added, kl_client_agent_compare);
		for (guint i = 0; i < added->len; i++) {
			KlClientAgent *agent = g_ptr_array_index(added, i);
			g_hash_table_insert(self->agents_by_id,
					    (gpointer)kl_client_agent_get_agent_id(agent),
					    g_object_ref(agent));
			g_ptr_array_add(self->sorted, agent);
		}
		g_list_store_splice(self->agents, 0, 0, added->pdata, added->len);
		return;
	}
	for (guint i = 0; i < added->len; i++)
		kl_client_insert_agent(self, g_ptr_array_index(added, i));
}

static void
kl_client_clear_agents(KlClient *self)
{
	guint n = self->sorted->len;

	if (n == 0)
		return;
	g_ptr_array_set_size(self->sorted, 0);
	g_list_store_remove_all(self->agents);
	g_hash_table_remove_all(self->agents_by_id);
	kl_client_queue_changed(self);
}

/* ---- agents from D-Bus objects ------------------------------------------ */

static gchar *
kl_client_agent_path(const gchar *agent_id)
{
	g_autofree gchar *escaped = g_dbus_escape_object_path(agent_id);
	return g_strconcat(KL_CLIENT_AGENT_PATH_PREFIX, escaped, NULL);
}

static KlDBusVerifier1Agent *
kl_client_object_agent(GDBusObject *object)
{
	if (!KL_DBUS_IS_OBJECT(object))
		return NULL;
	return kl_dbus_object_peek_verifier1_agent(KL_DBUS_OBJECT(object));
}

/* The agent id of a proxy, or NULL for one that is not valid. */
static const gchar *
kl_client_proxy_agent_id(KlDBusVerifier1Agent *proxy)
{
	const gchar *agent_id = kl_dbus_verifier1_agent_get_agent_id(proxy);

	if (agent_id == NULL || !kl_agent_id_validate(agent_id, NULL))
		return NULL;
	return agent_id;
}

static void
kl_client_object_added(KlClient *self, GDBusObject *object)
{
	KlDBusVerifier1Agent *proxy = kl_client_object_agent(object);
	const gchar *agent_id;
	KlClientAgent *agent;

	if (proxy == NULL || (agent_id = kl_client_proxy_agent_id(proxy)) == NULL)
		return;
	agent = g_hash_table_lookup(self->agents_by_id, agent_id);
	if (agent != NULL) {
		if (kl_client_agent_update_from_proxy(agent, proxy, self->reader == NULL))
			kl_client_queue_changed(self);
		return;
	}
	/* With the table, the list is the table's. */
	if (self->reader != NULL || !self->connected)
		return;
	agent = kl_client_agent_new(agent_id);
	kl_client_agent_update_from_proxy(agent, proxy, TRUE);
	kl_client_insert_agent(self, agent);
	g_object_unref(agent);
	kl_client_queue_changed(self);
}

static void
kl_client_object_added_cb(GDBusObjectManager *manager, GDBusObject *object, gpointer user_data)
{
	kl_client_object_added(KL_CLIENT(user_data), object);
}

static void
kl_client_object_removed_cb(GDBusObjectManager *manager, GDBusObject *object, gpointer user_data)
{
	KlClient *self = KL_CLIENT(user_data);
	KlDBusVerifier1Agent *proxy = kl_client_object_agent(object);
	const gchar *agent_id;

	if (self->reader != NULL || proxy == NULL ||
	    (agent_id = kl_client_proxy_agent_id(proxy)) == NULL)
		return;
	if (!g_hash_table_contains(self->agents_by_id, agent_id))
		return;
	kl_client_remove_agent_by_id(self, agent_id);
	kl_client_queue_changed(self);
}

static void
kl_client_interface_properties_changed_cb(GDBusObjectManagerClient *manager,
					  GDBusObjectProxy *object_proxy,
					  GDBusProxy *interface_proxy,
					  GVariant *changed_properties,
					  const gchar *const *invalidated_properties,
					  gpointer user_data)
{
	kl_client_object_added(KL_CLIENT(user_data), G_DBUS_OBJECT(object_proxy));
}

/* Removes the agents whose id is not in @seen; TRUE if any was. */
static gboolean
kl_client_remove_unseen(KlClient *self, GHashTable *seen)
{
	g_autoptr(GPtrArray) removed = g_ptr_array_new_with_free_func(g_free);
	GHashTableIter iter;
	gpointer key;

	g_hash_table_iter_init(&iter, self->agents_by_id);
	while (g_hash_table_iter_next(&iter, &key, NULL)) {
		if (!g_hash_table_contains(seen, key))
			g_ptr_array_add(removed, g_strdup(key));
	}
	for (guint i = 0; i < removed->len; i++)
		kl_client_remove_agent_by_id(self, g_ptr_array_index(removed, i));
	return removed->len > 0;
}

/* Makes the list that of the ObjectManager's objects, touching only the
 * agents that differ (a switch from the table to the objects keeps the
 * rows that both have). */
static void
kl_client_sync_objects(KlClient *self)
{
	GList *objects = g_dbus_object_manager_get_objects(self->object_manager);
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	for (GList *l = objects; l != NULL; l = l->next) {
		KlDBusVerifier1Agent *proxy = kl_client_object_agent(G_DBUS_OBJECT(l->data));
		const gchar *agent_id = proxy != NULL ? kl_client_proxy_agent_id(proxy) : NULL;

		if (agent_id == NULL)
			continue;
		g_hash_table_add(seen, g_strdup(agent_id));
		kl_client_object_added(self, G_DBUS_OBJECT(l->data));
	}
	g_list_free_full(objects, g_object_unref);
	if (kl_client_remove_unseen(self, seen))
		kl_client_queue_changed(self);
}

/* ---- agents from the shared-memory table -------------------------------- */

static void kl_client_use_objects(KlClient *self);

/* A new agent of the table, with what the table lacks from its object if
 * the ObjectManager knows it already. */
static KlClientAgent *
kl_client_agent_new_from_record(KlClient *self, const KlAgentTableRecord *record)
{
	KlClientAgent *agent = kl_client_agent_new(record->agent_id);
	g_autofree gchar *path = kl_client_agent_path(record->agent_id);
	g_autoptr(GDBusObject) object =
		g_dbus_object_manager_get_object(self->object_manager, path);

	kl_client_agent_update_from_record(agent, record);
	if (object != NULL && kl_client_object_agent(object) != NULL)
		kl_client_agent_update_from_proxy(agent, kl_client_object_agent(object), FALSE);
	return agent;
}

/* Brings the list up to the table.  Only slots whose sequence counter moved
 * since they were last read are read again (at 100 000 agents a full read
 * is some tens of ms); an agent leaves the list when its slot changed and
 * it is found in no changed slot (a moved agent is written to its new slot,
 * which changes too).  The first refresh after mapping reads every slot and
 * drops whatever the list held that the table does not. */
static void
kl_client_refresh_table(KlClient *self)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GHashTable) touched = NULL; /* agent id → agent, found in changed slots */
	g_autoptr(GPtrArray) added = NULL;
	g_autoptr(GPtrArray) displaced = NULL;
	gboolean first = self->slot_seq->len == 0;
	gboolean changed = FALSE;
	gboolean removed_any = FALSE;
	guint64 generation;
	guint count;

	/* A writer that freed its table while keeping the name: the objects
	 * until the verifier publishes another ShmName. */
	if (kl_agent_table_reader_is_closed(self->reader)) {
		g_debug("agent table %s was closed; using D-Bus", self->shm_name);
		kl_client_use_objects(self);
		return;
	}
	generation = kl_agent_table_reader_get_generation(self->reader);
	if (self->generation_seen && generation == self->generation)
		return;
	if (!kl_agent_table_reader_refresh(self->reader, &error)) {
		g_debug("agent table %s: %s; using D-Bus", self->shm_name, error->message);
		kl_client_use_objects(self);
		return;
	}
	self->generation = generation;
	self->generation_seen = TRUE;

	touched = g_hash_table_new(g_str_hash, g_str_equal);
	added = g_ptr_array_new_with_free_func(g_object_unref);
	displaced = g_ptr_array_new_with_free_func(g_object_unref);
	count = kl_agent_table_reader_get_count(self->reader);
	if (self->slot_seq->len < count) {
		g_array_set_size(self->slot_seq, count);
		g_ptr_array_set_size(self->slot_agents, (gint)count);
	}
	for (guint i = 0; i < count; i++) {
		guint64 seq = kl_agent_table_reader_get_sequence(self->reader, i);
		KlClientAgent *old = g_ptr_array_index(self->slot_agents, i);
		KlAgentTableRecord record;
		KlClientAgent *agent;

		if (!first && (seq & 1) == 0 && seq == g_array_index(self->slot_seq, guint64, i))
			continue;
		if (!kl_agent_table_reader_read(self->reader, i, &record)) {
			/* Writer inside: read again next time.  Otherwise a free
			 * (or damaged) slot. */
			if ((seq & 1) != 0)
				continue;
			if (old != NULL)
				g_ptr_array_add(displaced, g_object_ref(old));
			g_ptr_array_index(self->slot_agents, i) = NULL;
			g_clear_object(&old);
			g_array_index(self->slot_seq, guint64, i) = seq;
			continue;
		}
		agent = g_hash_table_lookup(self->agents_by_id, record.agent_id);
		if (agent == NULL)
			agent = g_hash_table_lookup(touched, record.agent_id);
		if (agent == NULL) {
			agent = kl_client_agent_new_from_record(self, &record);
			g_ptr_array_add(added, agent);
		} else if (kl_client_agent_update_from_record(agent, &record)) {
			changed = TRUE;
		}
		g_hash_table_insert(touched, (gpointer)kl_client_agent_get_agent_id(agent), agent);
		if (old != agent) {
			if (old != NULL)
				g_ptr_array_add(displaced, g_object_ref(old));
			g_clear_object(&old);
			g_ptr_array_index(self->slot_agents, i) = g_object_ref(agent);
		}
		/* The counter loaded before the copy: if the writer came in
		 * between, the slot is read once more next time. */
		g_array_index(self->slot_seq, guint64, i) = seq;
	}

	if (first) {
		removed_any = kl_client_remove_unseen(self, touched);
	} else {
		for (guint i = 0; i < displaced->len; i++) {
			KlClientAgent *old = g_ptr_array_index(displaced, i);
			const gchar *agent_id = kl_client_agent_get_agent_id(old);
			if (g_hash_table_lookup(touched, agent_id) == NULL &&
			    g_hash_table_lookup(self->agents_by_id, agent_id) == old) {
				kl_client_remove_agent_by_id(self, agent_id);
				removed_any = TRUE;
			}
		}
	}
	kl_client_insert_agents(self, added);
	if (changed || added->len > 0 || removed_any)
		kl_client_queue_changed(self);
}

static gboolean
kl_client_refresh_cb(gpointer user_data)
{
	KlClient *self = KL_CLIENT(user_data);

	if (self->reader != NULL)
		kl_client_refresh_table(self);
	return G_SOURCE_CONTINUE;
}

static void
kl_client_close_table(KlClient *self)
{
	g_clear_handle_id(&self->refresh_source, g_source_remove);
	g_clear_pointer(&self->reader, kl_agent_table_reader_close);
	g_clear_pointer(&self->shm_name, g_free);
	self->generation_seen = FALSE;
	g_array_set_size(self->slot_seq, 0);
	g_ptr_array_set_size(self->slot_agents, 0);
}

/* Gives up on the table: the agents come from the objects from now on. */
static void
kl_client_use_objects(KlClient *self)
{
	gboolean used_shm = self->reader != NULL;

	kl_client_close_table(self);
	if (self->connected)
		kl_client_sync_objects(self);
	else
		kl_client_clear_agents(self);
	if (used_shm)
		g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_USES_SHM]);
}

/* Picks where the agents come from and brings the list up to date from
 * there; the list empties only when the verifier is gone. */
static void
kl_client_select_source(KlClient *self)
{
	g_autoptr(GError) error = NULL;
	const gchar *shm_name = kl_dbus_verifier1_manager_get_shm_name(self->manager);
	gboolean used_shm = self->reader != NULL;
	KlAgentTableReader *reader = NULL;

	kl_client_close_table(self);
	g_free(self->considered_shm_name);
	self->considered_shm_name = g_strdup(self->connected && shm_name != NULL ? shm_name : "");
	if (self->connected && shm_name != NULL && shm_name[0] != '\0') {
		reader = kl_agent_table_reader_open(shm_name, &error);
		if (reader == NULL)
			g_debug("cannot map the agent table: %s; using D-Bus", error->message);
	}
	if (!self->connected) {
		kl_client_clear_agents(self);
	} else if (reader != NULL) {
		/* The refresh compares the table with the list as it is. */
		self->reader = reader;
		self->shm_name = g_strdup(shm_name);
		kl_client_refresh_table(self);
		/* The refresh may have given up on the table again. */
		if (self->reader != NULL) {
			self->refresh_source = g_timeout_add(self->refresh_interval_ms,
							     kl_client_refresh_cb,
							     self);
			g_source_set_name_by_id(self->refresh_source, "[kl-client] agent table");
		}
	} else {
		kl_client_sync_objects(self);
	}
	if (used_shm != (self->reader != NULL))
		g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_USES_SHM]);
}

/* ---- events ------------------------------------------------------------- */

static gchar *
kl_client_event_key(KlClientEventKind kind,
		    const gchar *agent_id,
		    guint64 time,
		    const gchar *event_id)
{
	return g_strdup_printf("%d|%s|%" G_GUINT64_FORMAT "|%s",
			       (gint)kind,
			       agent_id,
			       time,
			       event_id);
}

/* An event with its severity's label; G_MAXUINT32: no severity. */
static KlClientEvent *
kl_client_make_event(KlClient *self,
		     KlClientEventKind kind,
		     const gchar *agent_id,
		     guint64 time,
		     const gchar *event_id,
		     guint32 severity,
		     const gchar *subject,
		     const gchar *context)
{
	gint level = severity == G_MAXUINT32 ? -1 : (gint)MIN(severity, (guint32)G_MAXINT);

	return kl_client_event_new(kind,
				   agent_id,
				   time,
				   event_id,
				   level,
				   kl_client_severity_to_label(self, level),
				   subject,
				   context);
}

/* One row of GetEvents (sstsuss), GetFailures (tsuss) or GetRevocations
 * (tsus), the last two for @agent_id; NULL for a kind this client does
 * not know. */
static KlClientEvent *
kl_client_event_from_row(KlClient *self, GVariant *row, const gchar *agent_id)
{
	const gchar *type = g_variant_get_type_string(row);
	const gchar *kind = "finding";
	const gchar *event_id = NULL;
	const gchar *subject = "";
	const gchar *context = NULL;
	guint64 time = 0;
	guint32 severity = 0;

	if (g_str_equal(type, "(sstsuss)")) {
		g_variant_get(row,
			      "(&s&st&su&s&s)",
			      &kind,
			      &agent_id,
			      &time,
			      &event_id,
			      &severity,
			      &subject,
			      &context);
	} else if (g_str_equal(type, "(tsuss)")) {
		g_variant_get(row, "(t&su&s&s)", &time, &event_id, &severity, &subject, &context);
	} else {
		g_return_val_if_fail(g_str_equal(type, "(tsus)"), NULL);
		kind = "revocation";
		g_variant_get(row, "(t&su&s)", &time, &event_id, &severity, &context);
	}
	if (g_str_equal(kind, "finding") || g_str_equal(kind, "revocation"))
		return kl_client_make_event(self,
					    g_str_equal(kind, "finding")
						    ? KL_CLIENT_EVENT_FINDING
						    : KL_CLIENT_EVENT_REVOCATION,
					    agent_id,
					    time,
					    event_id,
					    severity,
					    subject,
					    context);
	return NULL;
}

static void
kl_client_add_live_event(KlClient *self,
			 KlClientEventKind kind,
			 const gchar *agent_id,
			 guint64 time,
			 const gchar *event_id,
			 guint32 severity,
			 const gchar *subject,
			 const gchar *context)
{
	g_autoptr(KlClientEvent) event = kl_client_make_event(self,
							      kind,
							      agent_id,
							      time,
							      event_id,
							      severity,
							      subject,
							      context);
	guint n;

	if (self->live_event_keys != NULL)
		g_hash_table_add(self->live_event_keys,
				 kl_client_event_key(kind, agent_id, time, event_id));
	g_list_store_insert(self->events, 0, event);
	n = g_list_model_get_n_items(G_LIST_MODEL(self->events));
	if (n > self->max_events)
		g_list_store_splice(self->events, self->max_events, n - self->max_events, NULL, 0);
}

static void
kl_client_attestation_failed_cb(KlDBusVerifier1Manager *manager,
				const gchar *object_path,
				const gchar *agent_id,
				guint64 time,
				guint severity,
				GVariant *events,
				gpointer user_data)
{
	KlClient *self = KL_CLIENT(user_data);
	gsize n = g_variant_n_children(events);

	g_free(self->round_agent_id);
	self->round_agent_id = g_strdup(agent_id);
	self->round_time = time;
	self->round_severity = severity;
	/* Inserted last first, so that the feed reads in check order. */
	for (gsize i = n; i > 0; i--) {
		const gchar *event_id = NULL;
		const gchar *context = NULL;
		gboolean irrecoverable = FALSE;

		g_variant_get_child(events, i - 1, "(&s&sb)", &event_id, &context, &irrecoverable);
		/* the verifier sends these again in ImaEntriesFailed */
		if (g_str_has_prefix(event_id, "ima."))
			continue;
		kl_client_add_live_event(self,
					 KL_CLIENT_EVENT_FINDING,
					 agent_id,
					 time,
					 event_id,
					 severity,
					 "",
					 context);
	}
}

static void
kl_client_ima_entries_failed_cb(KlDBusVerifier1Manager *manager,
				const gchar *object_path,
				const gchar *agent_id,
				guint64 time,
				GVariant *entries,
				gpointer user_data)
{
	KlClient *self = KL_CLIENT(user_data);
	gsize n = g_variant_n_children(entries);
	guint severity = g_strcmp0(agent_id, self->round_agent_id) == 0 && time == self->round_time
				 ? self->round_severity
				 : G_MAXUINT32;

	for (gsize i = n; i > 0; i--) {
		g_autoptr(GVariant) extras = NULL;
		const gchar *path = NULL;
		const gchar *reason = NULL;
		const gchar *event_id = NULL;
		const gchar *context = NULL;
		guint32 line = 0;

		g_variant_get_child(entries,
				    i - 1,
				    "(u&s&s@a{sv})",
				    &line,
				    &path,
				    &reason,
				    &extras);
		if (!g_variant_lookup(extras, "event_id", "&s", &event_id))
			event_id = reason;
		if (!g_variant_lookup(extras, "context", "&s", &context))
			context = "";
		kl_client_add_live_event(self,
					 KL_CLIENT_EVENT_FINDING,
					 agent_id,
					 time,
					 event_id,
					 severity,
					 path,
					 context);
	}
}

static void
kl_client_revocation_cb(KlDBusVerifier1Manager *manager,
			const gchar *object_path,
			const gchar *agent_id,
			guint64 time,
			const gchar *event_id,
			guint severity,
			const gchar *context_json,
			gpointer user_data)
{
	kl_client_add_live_event(KL_CLIENT(user_data),
				 KL_CLIENT_EVENT_REVOCATION,
				 agent_id,
				 time,
				 event_id,
				 severity,
				 "",
				 context_json);
}

static void
kl_client_enrollment_progress_cb(KlDBusVerifier1Manager *manager,
				 const gchar *agent_id,
				 const gchar *step,
				 const gchar *message,
				 gpointer user_data)
{
	g_signal_emit(KL_CLIENT(user_data),
		      signals[SIGNAL_ENROLLMENT_PROGRESS],
		      0,
		      agent_id,
		      step,
		      message);
}

/* A pending GetEvents does not keep the client alive: dropping the client
 * cancels it. */
typedef struct {
	GWeakRef self;
	guint serial;
} KlClientBackfill;

static void
kl_client_backfill_free(KlClientBackfill *backfill)
{
	g_weak_ref_clear(&backfill->self);
	g_free(backfill);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlClientBackfill, kl_client_backfill_free)

static void
kl_client_backfill_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(KlClientBackfill) backfill = user_data;
	g_autoptr(KlClient) self = g_weak_ref_get(&backfill->self);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) events = NULL;
	g_autoptr(GPtrArray) backfilled = NULL;
	guint n;

	reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
	if (self == NULL) {
		/* The client is gone. */
	} else if (backfill->serial != self->backfill_serial) {
		/* A newer connection started its own backfill. */
	} else if (reply == NULL) {
		if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			g_debug("GetEvents failed: %s", error->message);
		g_clear_pointer(&self->live_event_keys, g_hash_table_unref);
	} else {
		backfilled = g_ptr_array_new_with_free_func(g_object_unref);
		events = g_variant_get_child_value(reply, 0);
		n = g_list_model_get_n_items(G_LIST_MODEL(self->events));
		for (gsize i = 0;
		     i < g_variant_n_children(events) && n + backfilled->len < self->max_events;
		     i++) {
			g_autoptr(GVariant) row = g_variant_get_child_value(events, i);
			g_autoptr(KlClientEvent) event = kl_client_event_from_row(self, row, NULL);
			g_autofree gchar *key = NULL;

			if (event == NULL)
				continue;
			key = kl_client_event_key(kl_client_event_get_kind(event),
						  kl_client_event_get_agent_id(event),
						  kl_client_event_get_time(event),
						  kl_client_event_get_event_id(event));
			if (!g_hash_table_contains(self->live_event_keys, key))
				g_ptr_array_add(backfilled, g_steal_pointer(&event));
		}
		/* Live events arrived meanwhile are newer: the backfill goes
		 * after them. */
		g_list_store_splice(self->events, n, 0, backfilled->pdata, backfilled->len);
		g_clear_pointer(&self->live_event_keys, g_hash_table_unref);
	}
}

static void
kl_client_backfill(KlClient *self)
{
	KlClientBackfill *backfill = g_new0(KlClientBackfill, 1);

	g_list_store_remove_all(self->events);
	g_clear_pointer(&self->live_event_keys, g_hash_table_unref);
	self->live_event_keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_weak_ref_init(&backfill->self, self);
	backfill->serial = ++self->backfill_serial;
	g_dbus_connection_call(self->connection,
			       KL_CLIENT_BUS_NAME,
			       KL_CLIENT_OBJECT_PATH,
			       KL_CLIENT_MANAGER_IFACE,
			       "GetEvents",
			       g_variant_new("(tu)", (guint64)0, (guint32)self->max_events),
			       G_VARIANT_TYPE("(a(sstsuss))"),
			       G_DBUS_CALL_FLAGS_NONE,
			       -1,
			       self->cancellable,
			       kl_client_backfill_done,
			       backfill);
}

/* ---- connection --------------------------------------------------------- */

static void
kl_client_update_connected(KlClient *self)
{
	g_autofree gchar *owner = g_dbus_proxy_get_name_owner(G_DBUS_PROXY(self->manager));
	gboolean connected = owner != NULL;

	if (connected == self->connected)
		return;
	self->connected = connected;
	kl_client_select_source(self);
	if (connected)
		kl_client_backfill(self);
	g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_CONNECTED]);
	kl_client_queue_changed(self);
}

static void
kl_client_name_owner_cb(GObject *object, GParamSpec *pspec, gpointer user_data)
{
	kl_client_update_connected(KL_CLIENT(user_data));
}

static void
kl_client_manager_properties_changed_cb(GDBusProxy *proxy,
					GVariant *changed_properties,
					const gchar *const *invalidated_properties,
					gpointer user_data)
{
	KlClient *self = KL_CLIENT(user_data);
	const gchar *shm_name;

	/* A proxy invalidates its properties when the owner leaves: that is
	 * a disconnection, not a new ShmName. */
	kl_client_update_connected(self);
	shm_name = kl_dbus_verifier1_manager_get_shm_name(self->manager);
	/* Only a new ShmName is worth another try at mapping it. */
	if (self->connected &&
	    g_strcmp0(shm_name != NULL ? shm_name : "", self->considered_shm_name) != 0)
		kl_client_select_source(self);
	kl_client_queue_changed(self);
}

static void
kl_client_start(KlClient *self)
{
	g_signal_connect_object(self->manager,
				"notify::g-name-owner",
				G_CALLBACK(kl_client_name_owner_cb),
				self,
				0);
	g_signal_connect_object(self->manager,
				"g-properties-changed",
				G_CALLBACK(kl_client_manager_properties_changed_cb),
				self,
				0);
	g_signal_connect_object(self->manager,
				"attestation-failed",
				G_CALLBACK(kl_client_attestation_failed_cb),
				self,
				0);
	g_signal_connect_object(self->manager,
				"ima-entries-failed",
				G_CALLBACK(kl_client_ima_entries_failed_cb),
				self,
				0);
	g_signal_connect_object(self->manager,
				"revocation",
				G_CALLBACK(kl_client_revocation_cb),
				self,
				0);
	g_signal_connect_object(self->manager,
				"enrollment-progress",
				G_CALLBACK(kl_client_enrollment_progress_cb),
				self,
				0);
	g_signal_connect_object(self->object_manager,
				"object-added",
				G_CALLBACK(kl_client_object_added_cb),
				self,
				0);
	g_signal_connect_object(self->object_manager,
				"object-removed",
				G_CALLBACK(kl_client_object_removed_cb),
				self,
				0);
	g_signal_connect_object(self->object_manager,
				"interface-proxy-properties-changed",
				G_CALLBACK(kl_client_interface_properties_changed_cb),
				self,
				0);
	kl_client_update_connected(self);
}

static void
kl_client_object_manager_ready(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	KlClient *self = g_task_get_source_object(task);
	GError *error = NULL;

	self->object_manager = kl_dbus_object_manager_client_new_finish(result, &error);
	if (self->object_manager == NULL) {
		g_task_return_error(task, error);
		return;
	}
	kl_client_start(self);
	g_task_return_pointer(task, g_object_ref(self), g_object_unref);
}

static void
kl_client_manager_ready(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	KlClient *self = g_task_get_source_object(task);
	GCancellable *cancellable = g_task_get_cancellable(task);
	GError *error = NULL;

	self->manager = kl_dbus_verifier1_manager_proxy_new_finish(result, &error);
	if (self->manager == NULL) {
		g_task_return_error(task, error);
		return;
	}
	kl_dbus_object_manager_client_new(self->connection,
					  G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_NONE,
					  KL_CLIENT_BUS_NAME,
					  KL_CLIENT_OBJECT_PATH,
					  cancellable,
					  kl_client_object_manager_ready,
					  g_steal_pointer(&task));
}

void
kl_client_new_async(GDBusConnection *connection,
		    GCancellable *cancellable,
		    GAsyncReadyCallback callback,
		    gpointer user_data)
{
	g_autoptr(KlClient) self = NULL;
	GTask *task;

	g_return_if_fail(G_IS_DBUS_CONNECTION(connection));

	/* Registers org.keylime.Error.* so that replies map back to KL_ERROR. */
	(void)kl_error_quark();
	self = g_object_new(KL_TYPE_CLIENT, NULL);
	self->connection = g_object_ref(connection);
	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, kl_client_new_async);
	kl_dbus_verifier1_manager_proxy_new(connection,
					    G_DBUS_PROXY_FLAGS_NONE,
					    KL_CLIENT_BUS_NAME,
					    KL_CLIENT_OBJECT_PATH,
					    cancellable,
					    kl_client_manager_ready,
					    task);
}

KlClient *
kl_client_new_finish(GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == kl_client_new_async, NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

/* ---- GObject ------------------------------------------------------------ */

static void
kl_client_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	KlClient *self = KL_CLIENT(object);

	switch (prop_id) {
	case PROP_CONNECTED:
		g_value_set_boolean(value, self->connected);
		break;
	case PROP_USES_SHM:
		g_value_set_boolean(value, self->reader != NULL);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
		break;
	}
}

static void
kl_client_dispose(GObject *object)
{
	KlClient *self = KL_CLIENT(object);

	g_cancellable_cancel(self->cancellable);
	g_clear_handle_id(&self->changed_source, g_source_remove);
	kl_client_close_table(self);
	g_clear_object(&self->object_manager);
	g_clear_object(&self->manager);
	G_OBJECT_CLASS(kl_client_parent_class)->dispose(object);
}

static void
kl_client_finalize(GObject *object)
{
	KlClient *self = KL_CLIENT(object);

	g_clear_object(&self->connection);
	g_clear_object(&self->cancellable);
	g_free(self->considered_shm_name);
	g_free(self->round_agent_id);
	g_ptr_array_unref(self->sorted);
	g_array_unref(self->slot_seq);
	g_ptr_array_unref(self->slot_agents);
	g_clear_object(&self->agents);
	g_hash_table_unref(self->agents_by_id);
	g_clear_object(&self->events);
	g_clear_pointer(&self->live_event_keys, g_hash_table_unref);
	G_OBJECT_CLASS(kl_client_parent_class)->finalize(object);
}

static void
kl_client_class_init(KlClientClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->get_property = kl_client_get_property;
	object_class->dispose = kl_client_dispose;
	object_class->finalize = kl_client_finalize;

	properties[PROP_CONNECTED] = g_param_spec_boolean(
		"connected",
		NULL,
		NULL,
		FALSE,
		G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
	properties[PROP_USES_SHM] = g_param_spec_boolean("uses-shm",
							 NULL,
							 NULL,
							 FALSE,
							 G_PARAM_READABLE | G_PARAM_STATIC_STRINGS |
								 G_PARAM_EXPLICIT_NOTIFY);
	g_object_class_install_properties(object_class, N_PROPS, properties);

	signals[SIGNAL_CHANGED] = g_signal_new("changed",
					       G_TYPE_FROM_CLASS(klass),
					       G_SIGNAL_RUN_LAST,
					       0,
					       NULL,
					       NULL,
					       NULL,
					       G_TYPE_NONE,
					       0);
	signals[SIGNAL_ENROLLMENT_PROGRESS] = g_signal_new("enrollment-progress",
							   G_TYPE_FROM_CLASS(klass),
							   G_SIGNAL_RUN_LAST,
							   0,
							   NULL,
							   NULL,
							   NULL,
							   G_TYPE_NONE,
							   3,
							   G_TYPE_STRING,
							   G_TYPE_STRING,
							   G_TYPE_STRING);
}

/* Free slots hold NULL. */
static void
kl_client_unref0(gpointer object)
{
	if (object != NULL)
		g_object_unref(object);
}

static void
kl_client_init(KlClient *self)
{
	self->cancellable = g_cancellable_new();
	self->agents = g_list_store_new(KL_TYPE_CLIENT_AGENT);
	self->sorted = g_ptr_array_new();
	self->slot_seq = g_array_new(FALSE, TRUE, sizeof(guint64));
	self->slot_agents = g_ptr_array_new_with_free_func(kl_client_unref0);
	self->agents_by_id = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_object_unref);
	self->events = g_list_store_new(KL_TYPE_CLIENT_EVENT);
	self->max_events = KL_CLIENT_MAX_EVENTS;
	self->refresh_interval_ms = KL_CLIENT_REFRESH_INTERVAL_MS;
}

/* ---- accessors ---------------------------------------------------------- */

GDBusConnection *
kl_client_get_connection(KlClient *self)
{
	g_return_val_if_fail(KL_IS_CLIENT(self), NULL);
	return self->connection;
}

gboolean
kl_client_get_connected(KlClient *self)
{
	g_return_val_if_fail(KL_IS_CLIENT(self), FALSE);
	return self->connected;
}

gboolean
kl_client_get_uses_shm(KlClient *self)
{
	g_return_val_if_fail(KL_IS_CLIENT(self), FALSE);
	return self->reader != NULL;
}

GListModel *
kl_client_get_agents(KlClient *self)
{
	g_return_val_if_fail(KL_IS_CLIENT(self), NULL);
	return G_LIST_MODEL(self->agents);
}

KlClientAgent *
kl_client_lookup_agent(KlClient *self, const gchar *agent_id)
{
	g_return_val_if_fail(KL_IS_CLIENT(self), NULL);
	g_return_val_if_fail(agent_id != NULL, NULL);
	return g_hash_table_lookup(self->agents_by_id, agent_id);
}

GListModel *
kl_client_get_events(KlClient *self)
{
	g_return_val_if_fail(KL_IS_CLIENT(self), NULL);
	return G_LIST_MODEL(self->events);
}

static const gchar *
kl_client_nonnull(const gchar *value)
{
	return value != NULL ? value : "";
}

const gchar *
kl_client_get_version(KlClient *self)
{
	g_return_val_if_fail(KL_IS_CLIENT(self), NULL);
	return kl_client_nonnull(kl_dbus_verifier1_manager_get_version(self->manager));
}

const gchar *
kl_client_get_verifier_id(KlClient *self)
{
	g_return_val_if_fail(KL_IS_CLIENT(self), NULL);
	return kl_client_nonnull(kl_dbus_verifier1_manager_get_verifier_id(self->manager));
}

guint
kl_client_get_num_agents(KlClient *self)
{
	g_return_val_if_fail(KL_IS_CLIENT(self), 0);
	return kl_dbus_verifier1_manager_get_num_agents(self->manager);
}

guint
kl_client_get_num_failed(KlClient *self)
{
	g_return_val_if_fail(KL_IS_CLIENT(self), 0);
	return kl_dbus_verifier1_manager_get_num_failed(self->manager);
}

gdouble
kl_client_get_quote_interval(KlClient *self)
{
	g_return_val_if_fail(KL_IS_CLIENT(self), 0);
	return kl_dbus_verifier1_manager_get_quote_interval(self->manager);
}

const gchar *
kl_client_severity_to_label(KlClient *self, gint severity_level)
{
	const gchar *const *labels;

	g_return_val_if_fail(KL_IS_CLIENT(self), "");

	labels = kl_dbus_verifier1_manager_get_severity_labels(self->manager);
	if (labels == NULL || severity_level < 0)
		return "";
	for (gint i = 0; labels[i] != NULL; i++) {
		if (i == severity_level)
			return labels[i];
	}
	return "";
}

void
kl_client_set_max_events(KlClient *self, guint max_events)
{
	guint n;

	g_return_if_fail(KL_IS_CLIENT(self));
	g_return_if_fail(max_events > 0);

	self->max_events = max_events;
	n = g_list_model_get_n_items(G_LIST_MODEL(self->events));
	if (n > max_events)
		g_list_store_splice(self->events, max_events, n - max_events, NULL, 0);
}

void
kl_client_set_refresh_interval(KlClient *self, guint interval_ms)
{
	g_return_if_fail(KL_IS_CLIENT(self));
	g_return_if_fail(interval_ms > 0);

	self->refresh_interval_ms = interval_ms;
	if (self->refresh_source != 0) {
		g_source_remove(self->refresh_source);
		self->refresh_source = g_timeout_add(interval_ms, kl_client_refresh_cb, self);
		g_source_set_name_by_id(self->refresh_source, "[kl-client] agent table");
	}
}

/* ---- method calls ------------------------------------------------------- */

static void
kl_client_call_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	GError *error = NULL;
	GVariant *reply = g_dbus_connection_call_with_unix_fd_list_finish(G_DBUS_CONNECTION(source),
									  NULL,
									  result,
									  &error);
	if (reply == NULL) {
		g_dbus_error_strip_remote_error(error);
		g_task_return_error(task, error);
		return;
	}
	g_task_return_pointer(task, reply, (GDestroyNotify)g_variant_unref);
}

/* Calls @method; @fd (duplicated) is handle 0 of @parameters when >= 0;
 * @agent_id (or NULL) is kept as the task's data. */
static void
kl_client_call(KlClient *self,
	       const gchar *object_path,
	       const gchar *interface_name,
	       const gchar *method,
	       GVariant *parameters,
	       const gchar *reply_type,
	       int fd,
	       const gchar *agent_id,
	       gpointer source_tag,
	       GCancellable *cancellable,
	       GAsyncReadyCallback callback,
	       gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);
	g_autoptr(GUnixFDList) fd_list = NULL;

	g_task_set_source_tag(task, source_tag);
	/* The finish functions name the agent in what they return. */
	g_task_set_task_data(task, g_strdup(agent_id), g_free);
	if (fd >= 0) {
		GError *error = NULL;

		fd_list = g_unix_fd_list_new();
		if (g_unix_fd_list_append(fd_list, fd, &error) < 0) {
			g_variant_unref(g_variant_ref_sink(parameters));
			g_task_return_error(task, error);
			return;
		}
	}
	g_dbus_connection_call_with_unix_fd_list(self->connection,
						 KL_CLIENT_BUS_NAME,
						 object_path,
						 interface_name,
						 method,
						 parameters,
						 G_VARIANT_TYPE(reply_type),
						 G_DBUS_CALL_FLAGS_NONE,
						 -1,
						 fd_list,
						 cancellable,
						 kl_client_call_done,
						 g_steal_pointer(&task));
}

static GVariant *
kl_client_call_finish(KlClient *self, GAsyncResult *result, gpointer source_tag, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, self), NULL);
	g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == source_tag, NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

static gboolean
kl_client_check_agent_id(gpointer source_object,
			 const gchar *agent_id,
			 gpointer source_tag,
			 GAsyncReadyCallback callback,
			 gpointer user_data)
{
	GError *error = NULL;

	if (kl_agent_id_validate(agent_id, &error))
		return TRUE;
	g_task_report_error(source_object, callback, user_data, source_tag, error);
	return FALSE;
}

static void
kl_client_agent_call(KlClient *self,
		     const gchar *agent_id,
		     const gchar *method,
		     GVariant *parameters,
		     const gchar *reply_type,
		     gpointer source_tag,
		     GCancellable *cancellable,
		     GAsyncReadyCallback callback,
		     gpointer user_data)
{
	g_autofree gchar *path = NULL;

	if (!kl_client_check_agent_id((gpointer)self, agent_id, source_tag, callback, user_data)) {
		if (parameters != NULL)
			g_variant_unref(g_variant_ref_sink(parameters));
		return;
	}
	path = kl_client_agent_path(agent_id);
	kl_client_call(self,
		       path,
		       KL_CLIENT_AGENT_IFACE,
		       method,
		       parameters,
		       reply_type,
		       -1,
		       agent_id,
		       source_tag,
		       cancellable,
		       callback,
		       user_data);
}

static gboolean
kl_client_finish_void(KlClient *self, GAsyncResult *result, gpointer source_tag, GError **error)
{
	g_autoptr(GVariant) reply = kl_client_call_finish(self, result, source_tag, error);
	return reply != NULL;
}

void
kl_client_stop_agent_async(KlClient *self,
			   const gchar *agent_id,
			   GCancellable *cancellable,
			   GAsyncReadyCallback callback,
			   gpointer user_data)
{
	g_return_if_fail(KL_IS_CLIENT(self));
	kl_client_agent_call(self,
			     agent_id,
			     "Stop",
			     NULL,
			     "()",
			     kl_client_stop_agent_async,
			     cancellable,
			     callback,
			     user_data);
}

gboolean
kl_client_stop_agent_finish(KlClient *self, GAsyncResult *result, GError **error)
{
	return kl_client_finish_void(self, result, kl_client_stop_agent_async, error);
}

void
kl_client_reactivate_agent_async(KlClient *self,
				 const gchar *agent_id,
				 GCancellable *cancellable,
				 GAsyncReadyCallback callback,
				 gpointer user_data)
{
	g_return_if_fail(KL_IS_CLIENT(self));
	kl_client_agent_call(self,
			     agent_id,
			     "Reactivate",
			     NULL,
			     "()",
			     kl_client_reactivate_agent_async,
			     cancellable,
			     callback,
			     user_data);
}

gboolean
kl_client_reactivate_agent_finish(KlClient *self, GAsyncResult *result, GError **error)
{
	return kl_client_finish_void(self, result, kl_client_reactivate_agent_async, error);
}

void
kl_client_remove_agent_async(KlClient *self,
			     const gchar *agent_id,
			     GCancellable *cancellable,
			     GAsyncReadyCallback callback,
			     gpointer user_data)
{
	g_return_if_fail(KL_IS_CLIENT(self));
	if (!kl_client_check_agent_id((gpointer)self,
				      agent_id,
				      kl_client_remove_agent_async,
				      callback,
				      user_data))
		return;
	kl_client_call(self,
		       KL_CLIENT_OBJECT_PATH,
		       KL_CLIENT_MANAGER_IFACE,
		       "RemoveAgent",
		       g_variant_new("(s)", agent_id),
		       "()",
		       -1,
		       NULL,
		       kl_client_remove_agent_async,
		       cancellable,
		       callback,
		       user_data);
}

gboolean
kl_client_remove_agent_finish(KlClient *self, GAsyncResult *result, GError **error)
{
	return kl_client_finish_void(self, result, kl_client_remove_agent_async, error);
}

void
kl_client_get_failures_async(KlClient *self,
			     const gchar *agent_id,
			     guint max,
			     GCancellable *cancellable,
			     GAsyncReadyCallback callback,
			     gpointer user_data)
{
	g_return_if_fail(KL_IS_CLIENT(self));
	kl_client_agent_call(self,
			     agent_id,
			     "GetFailures",
			     g_variant_new("(u)", (guint32)max),
			     "(a(tsuss))",
			     kl_client_get_failures_async,
			     cancellable,
			     callback,
			     user_data);
}

/* The events of a GetFailures or GetRevocations reply. */
static GPtrArray *
kl_client_events_finish(KlClient *self, GAsyncResult *result, gpointer source_tag, GError **error)
{
	g_autoptr(GVariant) reply = kl_client_call_finish(self, result, source_tag, error);
	g_autoptr(GVariant) rows = NULL;
	GPtrArray *out;

	if (reply == NULL)
		return NULL;
	rows = g_variant_get_child_value(reply, 0);
	out = g_ptr_array_new_with_free_func(g_object_unref);
	for (gsize i = 0; i < g_variant_n_children(rows); i++) {
		g_autoptr(GVariant) row = g_variant_get_child_value(rows, i);
		KlClientEvent *event =
			kl_client_event_from_row(self, row, g_task_get_task_data(G_TASK(result)));
		if (event != NULL)
			g_ptr_array_add(out, event);
	}
	return out;
}

GPtrArray *
kl_client_get_failures_finish(KlClient *self, GAsyncResult *result, GError **error)
{
	return kl_client_events_finish(self, result, kl_client_get_failures_async, error);
}

void
kl_client_get_revocations_async(KlClient *self,
				const gchar *agent_id,
				guint max,
				GCancellable *cancellable,
				GAsyncReadyCallback callback,
				gpointer user_data)
{
	g_return_if_fail(KL_IS_CLIENT(self));
	kl_client_agent_call(self,
			     agent_id,
			     "GetRevocations",
			     g_variant_new("(u)", (guint32)max),
			     "(a(tsus))",
			     kl_client_get_revocations_async,
			     cancellable,
			     callback,
			     user_data);
}

GPtrArray *
kl_client_get_revocations_finish(KlClient *self, GAsyncResult *result, GError **error)
{
	return kl_client_events_finish(self, result, kl_client_get_revocations_async, error);
}

void
kl_client_add_agent_async(KlClient *self,
			  const gchar *agent_id,
			  GVariant *options,
			  GCancellable *cancellable,
			  GAsyncReadyCallback callback,
			  gpointer user_data)
{
	g_autoptr(GVariant) sunk = NULL;

	g_return_if_fail(KL_IS_CLIENT(self));
	g_return_if_fail(options != NULL && g_variant_is_of_type(options, G_VARIANT_TYPE_VARDICT));

	sunk = g_variant_ref_sink(options);
	if (!kl_client_check_agent_id((gpointer)self,
				      agent_id,
				      kl_client_add_agent_async,
				      callback,
				      user_data))
		return;
	kl_client_call(self,
		       KL_CLIENT_OBJECT_PATH,
		       KL_CLIENT_MANAGER_IFACE,
		       "AddAgent",
		       g_variant_new("(s@a{sv})", agent_id, sunk),
		       "(o)",
		       -1,
		       NULL,
		       kl_client_add_agent_async,
		       cancellable,
		       callback,
		       user_data);
}

static gchar *
kl_client_finish_path(KlClient *self, GAsyncResult *result, gpointer source_tag, GError **error)
{
	g_autoptr(GVariant) reply = kl_client_call_finish(self, result, source_tag, error);
	gchar *path = NULL;

	if (reply == NULL)
		return NULL;
	g_variant_get(reply, "(o)", &path);
	return path;
}

gchar *
kl_client_add_agent_finish(KlClient *self, GAsyncResult *result, GError **error)
{
	return kl_client_finish_path(self, result, kl_client_add_agent_async, error);
}

void
kl_client_enroll_agent_async(KlClient *self,
			     GVariant *options,
			     int payload_fd,
			     GCancellable *cancellable,
			     GAsyncReadyCallback callback,
			     gpointer user_data)
{
	g_autoptr(GVariant) sunk = NULL;

	g_return_if_fail(KL_IS_CLIENT(self));
	g_return_if_fail(options != NULL && g_variant_is_of_type(options, G_VARIANT_TYPE_VARDICT));
	g_return_if_fail(payload_fd >= 0);

	sunk = g_variant_ref_sink(options);
	kl_client_call(self,
		       KL_CLIENT_OBJECT_PATH,
		       KL_CLIENT_MANAGER_IFACE,
		       "EnrollAgent",
		       g_variant_new("(@a{sv}h)", sunk, (gint32)0),
		       "(o)",
		       payload_fd,
		       NULL,
		       kl_client_enroll_agent_async,
		       cancellable,
		       callback,
		       user_data);
}

gchar *
kl_client_enroll_agent_finish(KlClient *self, GAsyncResult *result, GError **error)
{
	return kl_client_finish_path(self, result, kl_client_enroll_agent_async, error);
}

/* An anonymous file holding @bytes (NULL: empty), read from its start. */
static int
kl_client_memfd_new(GBytes *bytes, GError **error)
{
	gsize size = 0;
	const guint8 *data = bytes != NULL ? g_bytes_get_data(bytes, &size) : NULL;
	int fd = memfd_create("kl-client-payload", MFD_CLOEXEC);

	while (fd >= 0 && size > 0) {
		gssize written = write(fd, data, size);

		if (written < 0 && errno == EINTR)
			continue;
		if (written <= 0) {
			close(fd);
			fd = -1;
			break;
		}
		data += written;
		size -= (gsize)written;
	}
	if (fd >= 0 && lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		g_set_error(error,
			    G_IO_ERROR,
			    g_io_error_from_errno(errno),
			    "payload: cannot write an anonymous file: %s",
			    g_strerror(errno));
	return fd;
}

void
kl_client_enroll_agent_bytes_async(KlClient *self,
				   GVariant *options,
				   GBytes *payload,
				   GCancellable *cancellable,
				   GAsyncReadyCallback callback,
				   gpointer user_data)
{
	GError *error = NULL;
	int fd;

	g_return_if_fail(KL_IS_CLIENT(self));
	g_return_if_fail(options != NULL && g_variant_is_of_type(options, G_VARIANT_TYPE_VARDICT));

	fd = kl_client_memfd_new(payload, &error);
	if (fd < 0) {
		g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);

		g_variant_unref(g_variant_ref_sink(options));
		g_task_set_source_tag(task, kl_client_enroll_agent_async);
		g_task_return_error(task, error);
		return;
	}
	/* the call duplicates the descriptor */
	kl_client_enroll_agent_async(self, options, fd, cancellable, callback, user_data);
	close(fd);
}

static const gchar *
kl_client_policy_method(KlClientPolicyKind kind, const gchar *verb)
{
	static const gchar *const runtime[] = {"AddRuntimePolicy",
					       "ListRuntimePolicies",
					       "GetRuntimePolicy",
					       "DeleteRuntimePolicy"};
	static const gchar *const mb[] = {"AddMbPolicy",
					  "ListMbPolicies",
					  "GetMbPolicy",
					  "DeleteMbPolicy"};
	const gchar *const *names = kind == KL_CLIENT_POLICY_MEASURED_BOOT ? mb : runtime;

	if (g_str_equal(verb, "add"))
		return names[0];
	if (g_str_equal(verb, "list"))
		return names[1];
	if (g_str_equal(verb, "get"))
		return names[2];
	return names[3];
}

void
kl_client_add_policy_async(KlClient *self,
			   KlClientPolicyKind kind,
			   const gchar *name,
			   int policy_fd,
			   GCancellable *cancellable,
			   GAsyncReadyCallback callback,
			   gpointer user_data)
{
	g_return_if_fail(KL_IS_CLIENT(self));
	g_return_if_fail(name != NULL);
	g_return_if_fail(policy_fd >= 0);

	kl_client_call(self,
		       KL_CLIENT_OBJECT_PATH,
		       KL_CLIENT_MANAGER_IFACE,
		       kl_client_policy_method(kind, "add"),
		       g_variant_new("(sh)", name, (gint32)0),
		       "()",
		       policy_fd,
		       NULL,
		       kl_client_add_policy_async,
		       cancellable,
		       callback,
		       user_data);
}

gboolean
kl_client_add_policy_finish(KlClient *self, GAsyncResult *result, GError **error)
{
	return kl_client_finish_void(self, result, kl_client_add_policy_async, error);
}

void
kl_client_list_policies_async(KlClient *self,
			      KlClientPolicyKind kind,
			      GCancellable *cancellable,
			      GAsyncReadyCallback callback,
			      gpointer user_data)
{
	g_return_if_fail(KL_IS_CLIENT(self));
	kl_client_call(self,
		       KL_CLIENT_OBJECT_PATH,
		       KL_CLIENT_MANAGER_IFACE,
		       kl_client_policy_method(kind, "list"),
		       NULL,
		       "(as)",
		       -1,
		       NULL,
		       kl_client_list_policies_async,
		       cancellable,
		       callback,
		       user_data);
}

GStrv
kl_client_list_policies_finish(KlClient *self, GAsyncResult *result, GError **error)
{
	g_autoptr(GVariant) reply =
		kl_client_call_finish(self, result, kl_client_list_policies_async, error);
	GStrv names = NULL;

	if (reply == NULL)
		return NULL;
	g_variant_get(reply, "(^as)", &names);
	return names;
}

void
kl_client_get_policy_async(KlClient *self,
			   KlClientPolicyKind kind,
			   const gchar *name,
			   GCancellable *cancellable,
			   GAsyncReadyCallback callback,
			   gpointer user_data)
{
	g_return_if_fail(KL_IS_CLIENT(self));
	g_return_if_fail(name != NULL);
	kl_client_call(self,
		       KL_CLIENT_OBJECT_PATH,
		       KL_CLIENT_MANAGER_IFACE,
		       kl_client_policy_method(kind, "get"),
		       g_variant_new("(s)", name),
		       "(s)",
		       -1,
		       NULL,
		       kl_client_get_policy_async,
		       cancellable,
		       callback,
		       user_data);
}

gchar *
kl_client_get_policy_finish(KlClient *self, GAsyncResult *result, GError **error)
{
	g_autoptr(GVariant) reply =
		kl_client_call_finish(self, result, kl_client_get_policy_async, error);
	gchar *policy = NULL;

	if (reply == NULL)
		return NULL;
	g_variant_get(reply, "(s)", &policy);
	return policy;
}

void
kl_client_delete_policy_async(KlClient *self,
			      KlClientPolicyKind kind,
			      const gchar *name,
			      GCancellable *cancellable,
			      GAsyncReadyCallback callback,
			      gpointer user_data)
{
	g_return_if_fail(KL_IS_CLIENT(self));
	g_return_if_fail(name != NULL);
	kl_client_call(self,
		       KL_CLIENT_OBJECT_PATH,
		       KL_CLIENT_MANAGER_IFACE,
		       kl_client_policy_method(kind, "delete"),
		       g_variant_new("(s)", name),
		       "()",
		       -1,
		       NULL,
		       kl_client_delete_policy_async,
		       cancellable,
		       callback,
		       user_data);
}

gboolean
kl_client_delete_policy_finish(KlClient *self, GAsyncResult *result, GError **error)
{
	return kl_client_finish_void(self, result, kl_client_delete_policy_async, error);
}
