/*
 * KlGuiAgentsPage: kl_client_get_agents() through a GtkSortListModel
 * driven by the column view's sorter, then a GtkFilterListModel (state
 * dropdown, search text).  Cells bind to KlClientAgent properties in the
 * .ui factories, so a changed field redraws only its cell; the filter and
 * the sort order are re-applied at most once a second after KlClient's
 * "changed", and only when they depend on changing fields.
 */
#define G_LOG_DOMAIN "KlConsole"
#include "config.h"

#include <glib/gi18n.h>

#include "kl-gui-agents-page.h"
#include "kl-gui-format.h"

#define KL_GUI_AGENTS_PAGE_RESORT_MS 1000
#define KL_GUI_AGENTS_PAGE_N_STATES  11

struct _KlGuiAgentsPage {
	GtkWidget parent_instance;
	GtkSearchEntry *search_entry;
	GtkDropDown *state_dropdown;
	GtkLabel *count_label;
	GtkColumnView *column_view;
	GtkColumnViewColumn *column_id;
	GtkColumnViewColumn *column_address;
	GtkColumnViewColumn *column_state;
	GtkColumnViewColumn *column_last;
	GtkColumnViewColumn *column_count;
	GtkColumnViewColumn *column_failures;
	GtkColumnViewColumn *column_policy;
	GtkSingleSelection *selection;
	GtkCustomFilter *filter;
	GtkFilterListModel *filter_model;
	GtkSortListModel *sort_model;
	KlClient *client;
	gint state_filter;
	gchar *search_text; /* casefolded, NULL when empty */
	guint resort_id;
	gboolean resort_pending;
};

G_DEFINE_TYPE(KlGuiAgentsPage, kl_gui_agents_page, GTK_TYPE_WIDGET)

enum {
	SIGNAL_AGENT_ACTIVATED,
	N_SIGNALS,
};

static guint signals[N_SIGNALS];

static gboolean
kl_gui_agents_page_filter_func(gpointer item, gpointer user_data)
{
	KlGuiAgentsPage *self = KL_GUI_AGENTS_PAGE(user_data);
	KlClientAgent *agent = KL_CLIENT_AGENT(item);
	g_autofree gchar *id = NULL;

	if (self->state_filter >= 0 &&
	    kl_client_agent_get_state(agent) != (guint)self->state_filter)
		return FALSE;
	if (self->search_text == NULL)
		return TRUE;
	if (strstr(kl_client_agent_get_ip(agent), self->search_text) != NULL)
		return TRUE;
	id = g_utf8_casefold(kl_client_agent_get_agent_id(agent), -1);
	return strstr(id, self->search_text) != NULL;
}

static void
kl_gui_agents_page_update_count(KlGuiAgentsPage *self)
{
	GListModel *agents = gtk_sort_list_model_get_model(self->sort_model);
	guint shown = g_list_model_get_n_items(G_LIST_MODEL(self->filter_model));
	guint total = agents != NULL ? g_list_model_get_n_items(agents) : 0;
	g_autofree gchar *text = NULL;

	/* TRANSLATORS: agents shown of all agents, e.g. "12 of 10000" */
	text = g_strdup_printf(_("%u of %u"), shown, total);
	gtk_label_set_text(self->count_label, text);
}

static void
kl_gui_agents_page_items_changed_cb(GListModel *model,
				    guint position,
				    guint removed,
				    guint added,
				    gpointer user_data)
{
	kl_gui_agents_page_update_count(KL_GUI_AGENTS_PAGE(user_data));
}

/*
 * The operator chose another filter: the rows are rebuilt from the top.
 * GTK 4.8's list item manager loses its rows ("Duplicate item detected in
 * list", then an empty view) when one filter change removes and re-adds
 * thousands of rows of a scrolled view; with the view detached while the
 * filter changes, it starts afresh.  @rebuild is FALSE for the periodic
 * re-filter, which keeps the scroll position.
 */
static void
kl_gui_agents_page_refilter(KlGuiAgentsPage *self, gboolean rebuild)
{
	if (rebuild)
		gtk_single_selection_set_model(self->selection, NULL);
	gtk_filter_changed(GTK_FILTER(self->filter), GTK_FILTER_CHANGE_DIFFERENT);
	if (rebuild)
		gtk_single_selection_set_model(self->selection, G_LIST_MODEL(self->filter_model));
	kl_gui_agents_page_update_count(self);
}

static gboolean
kl_gui_agents_page_resort_cb(gpointer user_data)
{
	KlGuiAgentsPage *self = KL_GUI_AGENTS_PAGE(user_data);
	GtkSorter *sorter = gtk_column_view_get_sorter(self->column_view);

	if (!self->resort_pending) {
		self->resort_id = 0;
		return G_SOURCE_REMOVE;
	}
	self->resort_pending = FALSE;
	/* states change under a state filter; the other fields are not
	 * filtered on */
	if (self->state_filter >= 0)
		kl_gui_agents_page_refilter(self, FALSE);
	if (sorter != NULL && gtk_sorter_get_order(sorter) != GTK_SORTER_ORDER_NONE)
		gtk_sorter_changed(sorter, GTK_SORTER_CHANGE_DIFFERENT);
	return G_SOURCE_CONTINUE;
}

static void
kl_gui_agents_page_client_changed_cb(KlClient *client, gpointer user_data)
{
	KlGuiAgentsPage *self = KL_GUI_AGENTS_PAGE(user_data);

	self->resort_pending = TRUE;
	if (self->resort_id == 0) {
		self->resort_id = g_timeout_add(KL_GUI_AGENTS_PAGE_RESORT_MS,
						kl_gui_agents_page_resort_cb,
						self);
		g_source_set_name_by_id(self->resort_id, "[keylime-console] agents resort");
	}
}

void
kl_gui_agents_page_set_client(KlGuiAgentsPage *self, KlClient *client)
{
	g_return_if_fail(KL_IS_GUI_AGENTS_PAGE(self));
	if (self->client != NULL)
		g_signal_handlers_disconnect_by_data(self->client, self);
	g_set_object(&self->client, client);
	kl_gui_agents_page_set_agents(self, client != NULL ? kl_client_get_agents(client) : NULL);
	if (client != NULL)
		g_signal_connect_object(client,
					"changed",
					G_CALLBACK(kl_gui_agents_page_client_changed_cb),
					self,
					0);
}

void
kl_gui_agents_page_set_agents(KlGuiAgentsPage *self, GListModel *agents)
{
	g_return_if_fail(KL_IS_GUI_AGENTS_PAGE(self));
	gtk_sort_list_model_set_model(self->sort_model, agents);
	kl_gui_agents_page_update_count(self);
}

GListModel *
kl_gui_agents_page_get_model(KlGuiAgentsPage *self)
{
	g_return_val_if_fail(KL_IS_GUI_AGENTS_PAGE(self), NULL);
	return G_LIST_MODEL(self->filter_model);
}

void
kl_gui_agents_page_set_state_filter(KlGuiAgentsPage *self, gint state)
{
	g_return_if_fail(KL_IS_GUI_AGENTS_PAGE(self));
	if (state < 0 || state >= KL_GUI_AGENTS_PAGE_N_STATES)
		state = -1;
	/* position 0 is "All states"; this calls back into the filter */
	gtk_drop_down_set_selected(self->state_dropdown, (guint)(state + 1));
}

static void
kl_gui_agents_page_apply_search(KlGuiAgentsPage *self, const gchar *text)
{
	g_autofree gchar *folded = text != NULL && text[0] != '\0' ? g_utf8_casefold(text, -1)
								   : NULL;

	if (g_strcmp0(folded, self->search_text) == 0)
		return;
	g_free(self->search_text);
	self->search_text = g_steal_pointer(&folded);
	kl_gui_agents_page_refilter(self, TRUE);
}

void
kl_gui_agents_page_set_search_text(KlGuiAgentsPage *self, const gchar *text)
{
	g_return_if_fail(KL_IS_GUI_AGENTS_PAGE(self));
	gtk_editable_set_text(GTK_EDITABLE(self->search_entry), text != NULL ? text : "");
	/* at once, rather than after the entry's typing delay */
	kl_gui_agents_page_apply_search(self, text);
}

void
kl_gui_agents_page_sort_by(KlGuiAgentsPage *self, const gchar *column_id, GtkSortType order)
{
	struct {
		const gchar *id;
		GtkColumnViewColumn *column;
	} columns[] = {
		{"id", self->column_id},
		{"address", self->column_address},
		{"state", self->column_state},
		{"last", self->column_last},
		{"count", self->column_count},
		{"failures", self->column_failures},
		{"policy", self->column_policy},
	};

	g_return_if_fail(KL_IS_GUI_AGENTS_PAGE(self));
	for (guint i = 0; i < G_N_ELEMENTS(columns); i++) {
		if (g_strcmp0(columns[i].id, column_id) == 0) {
			gtk_column_view_sort_by_column(self->column_view, columns[i].column, order);
			return;
		}
	}
	g_warning("no column %s", column_id);
}

static void
kl_gui_agents_page_search_changed_cb(GtkSearchEntry *entry, gpointer user_data)
{
	kl_gui_agents_page_apply_search(KL_GUI_AGENTS_PAGE(user_data),
					gtk_editable_get_text(GTK_EDITABLE(entry)));
}

static void
kl_gui_agents_page_state_changed_cb(GtkDropDown *dropdown, GParamSpec *pspec, gpointer user_data)
{
	KlGuiAgentsPage *self = KL_GUI_AGENTS_PAGE(user_data);
	guint selected = gtk_drop_down_get_selected(dropdown);

	/* the dropdown's model is set in init, before the filter exists */
	if (self->filter == NULL)
		return;
	self->state_filter =
		selected == 0 || selected == GTK_INVALID_LIST_POSITION ? -1 : (gint)selected - 1;
	kl_gui_agents_page_refilter(self, TRUE);
}

static void
kl_gui_agents_page_activate_cb(GtkColumnView *view, guint position, gpointer user_data)
{
	KlGuiAgentsPage *self = KL_GUI_AGENTS_PAGE(user_data);
	g_autoptr(KlClientAgent) agent =
		g_list_model_get_item(G_LIST_MODEL(self->filter_model), position);

	if (agent != NULL)
		g_signal_emit(self,
			      signals[SIGNAL_AGENT_ACTIVATED],
			      0,
			      kl_client_agent_get_agent_id(agent));
}

static void
kl_gui_agents_page_dispose(GObject *object)
{
	KlGuiAgentsPage *self = KL_GUI_AGENTS_PAGE(object);

	g_clear_handle_id(&self->resort_id, g_source_remove);
	if (self->client != NULL)
		g_signal_handlers_disconnect_by_data(self->client, self);
	g_clear_object(&self->client);
	if (self->filter_model != NULL)
		g_signal_handlers_disconnect_by_data(self->filter_model, self);
	gtk_widget_dispose_template(GTK_WIDGET(self), KL_TYPE_GUI_AGENTS_PAGE);
	/* the template's root box is not bound: unparent it here */
	kl_gui_format_unparent_children(GTK_WIDGET(self));
	g_clear_object(&self->selection);
	g_clear_object(&self->filter_model);
	g_clear_object(&self->sort_model);
	g_clear_object(&self->filter);
	G_OBJECT_CLASS(kl_gui_agents_page_parent_class)->dispose(object);
}

static void
kl_gui_agents_page_finalize(GObject *object)
{
	KlGuiAgentsPage *self = KL_GUI_AGENTS_PAGE(object);

	g_free(self->search_text);
	G_OBJECT_CLASS(kl_gui_agents_page_parent_class)->finalize(object);
}

static void
kl_gui_agents_page_class_init(KlGuiAgentsPageClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

	object_class->dispose = kl_gui_agents_page_dispose;
	object_class->finalize = kl_gui_agents_page_finalize;

	signals[SIGNAL_AGENT_ACTIVATED] = g_signal_new("agent-activated",
						       G_TYPE_FROM_CLASS(klass),
						       G_SIGNAL_RUN_LAST,
						       0,
						       NULL,
						       NULL,
						       NULL,
						       G_TYPE_NONE,
						       1,
						       G_TYPE_STRING);

	g_type_ensure(KL_TYPE_CLIENT_AGENT);
	gtk_widget_class_set_template_from_resource(widget_class,
						    "/org/keylime/Console/kl-gui-agents-page.ui");
	kl_gui_format_add_to_scope(widget_class);
	gtk_widget_class_bind_template_child(widget_class, KlGuiAgentsPage, search_entry);
	gtk_widget_class_bind_template_child(widget_class, KlGuiAgentsPage, state_dropdown);
	gtk_widget_class_bind_template_child(widget_class, KlGuiAgentsPage, count_label);
	gtk_widget_class_bind_template_child(widget_class, KlGuiAgentsPage, column_view);
	gtk_widget_class_bind_template_child(widget_class, KlGuiAgentsPage, column_id);
	gtk_widget_class_bind_template_child(widget_class, KlGuiAgentsPage, column_address);
	gtk_widget_class_bind_template_child(widget_class, KlGuiAgentsPage, column_state);
	gtk_widget_class_bind_template_child(widget_class, KlGuiAgentsPage, column_last);
	gtk_widget_class_bind_template_child(widget_class, KlGuiAgentsPage, column_count);
	gtk_widget_class_bind_template_child(widget_class, KlGuiAgentsPage, column_failures);
	gtk_widget_class_bind_template_child(widget_class, KlGuiAgentsPage, column_policy);
	gtk_widget_class_bind_template_callback(widget_class, kl_gui_agents_page_search_changed_cb);
	gtk_widget_class_bind_template_callback(widget_class, kl_gui_agents_page_state_changed_cb);
	gtk_widget_class_bind_template_callback(widget_class, kl_gui_agents_page_activate_cb);
	gtk_widget_class_set_layout_manager_type(widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
kl_gui_agents_page_init(KlGuiAgentsPage *self)
{
	g_autoptr(GtkStringList) states = gtk_string_list_new(NULL);

	self->state_filter = -1;
	gtk_widget_init_template(GTK_WIDGET(self));

	gtk_string_list_append(states, _("All states"));
	for (guint i = 0; i < KL_GUI_AGENTS_PAGE_N_STATES; i++)
		gtk_string_list_append(states, kl_client_agent_state_to_label(i));
	gtk_drop_down_set_model(self->state_dropdown, G_LIST_MODEL(states));

	/* sorted first, then filtered: a filter change does not sort again */
	self->sort_model = gtk_sort_list_model_new(
		NULL,
		g_object_ref(gtk_column_view_get_sorter(self->column_view)));
	self->filter = gtk_custom_filter_new(kl_gui_agents_page_filter_func, self, NULL);
	self->filter_model = gtk_filter_list_model_new(g_object_ref(G_LIST_MODEL(self->sort_model)),
						       g_object_ref(GTK_FILTER(self->filter)));
	g_signal_connect(self->filter_model,
			 "items-changed",
			 G_CALLBACK(kl_gui_agents_page_items_changed_cb),
			 self);
	self->selection = gtk_single_selection_new(g_object_ref(G_LIST_MODEL(self->filter_model)));
	gtk_single_selection_set_autoselect(self->selection, FALSE);
	gtk_single_selection_set_can_unselect(self->selection, TRUE);
	gtk_column_view_set_model(self->column_view, GTK_SELECTION_MODEL(self->selection));
	kl_gui_agents_page_sort_by(self, "id", GTK_SORT_ASCENDING);
	kl_gui_agents_page_update_count(self);
}
