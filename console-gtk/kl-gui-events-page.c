/*
 * KlGuiEventsPage: a GtkColumnView straight over kl_client_get_events();
 * KlClient keeps the list newest first and bounded, so the page only
 * shows it.
 */
#define G_LOG_DOMAIN "KlConsole"
#include "config.h"

#include "kl-gui-events-page.h"
#include "kl-gui-format.h"

struct _KlGuiEventsPage {
	GtkWidget parent_instance;
	GtkColumnView *column_view;
	GtkNoSelection *selection;
	KlClient *client;
};

G_DEFINE_TYPE(KlGuiEventsPage, kl_gui_events_page, GTK_TYPE_WIDGET)

void
kl_gui_events_page_set_client(KlGuiEventsPage *self, KlClient *client)
{
	g_return_if_fail(KL_IS_GUI_EVENTS_PAGE(self));
	g_set_object(&self->client, client);
	gtk_no_selection_set_model(self->selection,
				   client != NULL ? kl_client_get_events(client) : NULL);
}

GListModel *
kl_gui_events_page_get_model(KlGuiEventsPage *self)
{
	g_return_val_if_fail(KL_IS_GUI_EVENTS_PAGE(self), NULL);
	return G_LIST_MODEL(self->selection);
}

static void
kl_gui_events_page_dispose(GObject *object)
{
	KlGuiEventsPage *self = KL_GUI_EVENTS_PAGE(object);

	gtk_widget_dispose_template(GTK_WIDGET(self), KL_TYPE_GUI_EVENTS_PAGE);
	/* the template's root box is not bound: unparent it here */
	kl_gui_format_unparent_children(GTK_WIDGET(self));
	g_clear_object(&self->selection);
	g_clear_object(&self->client);
	G_OBJECT_CLASS(kl_gui_events_page_parent_class)->dispose(object);
}

static void
kl_gui_events_page_class_init(KlGuiEventsPageClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

	object_class->dispose = kl_gui_events_page_dispose;
	g_type_ensure(KL_TYPE_CLIENT_EVENT);
	gtk_widget_class_set_template_from_resource(widget_class,
						    "/org/keylime/Console/kl-gui-events-page.ui");
	kl_gui_format_add_to_scope(widget_class);
	gtk_widget_class_bind_template_child(widget_class, KlGuiEventsPage, column_view);
	gtk_widget_class_set_layout_manager_type(widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
kl_gui_events_page_init(KlGuiEventsPage *self)
{
	gtk_widget_init_template(GTK_WIDGET(self));
	self->selection = gtk_no_selection_new(NULL);
	gtk_column_view_set_model(self->column_view, GTK_SELECTION_MODEL(self->selection));
}
