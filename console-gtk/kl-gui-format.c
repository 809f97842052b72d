/*
 * kl-gui-format: display strings for agents and events.  The closures are
 * what the .ui list factories call through <closure function="...">.
 */
#define G_LOG_DOMAIN "KlConsole"
#include "config.h"

#include <glib/gi18n.h>

#include "kl-client-agent.h"
#include "kl-client-event.h"
#include "kl-gui-format.h"

gchar *
kl_gui_format_time(guint64 unix_seconds)
{
	g_autoptr(GDateTime) time = NULL;

	if (unix_seconds == 0 || unix_seconds > (guint64)G_MAXINT64)
		return g_strdup("—");
	time = g_date_time_new_from_unix_local((gint64)unix_seconds);
	if (time == NULL)
		return g_strdup("—");
	return g_date_time_format(time, "%Y-%m-%d %H:%M:%S");
}

const gchar *
kl_gui_format_state_css_class(guint state)
{
	/* spec §3: 3 Get Quote is the healthy state; 7 and 9 failed; 8 and
	 * 10 stopped; the rest are on their way */
	switch (state) {
	case 3:
		return "kl-state-ok";
	case 7:
	case 9:
		return "kl-state-failed";
	case 8:
	case 10:
		return "kl-state-stopped";
	default:
		return "kl-state-busy";
	}
}

gchar *
kl_gui_format_time_closure(gpointer item, guint64 unix_seconds)
{
	return kl_gui_format_time(unix_seconds);
}

gchar *
kl_gui_format_uint64_closure(gpointer item, guint64 value)
{
	return g_strdup_printf("%" G_GUINT64_FORMAT, value);
}

gchar *
kl_gui_format_uint_closure(gpointer item, guint value)
{
	return g_strdup_printf("%u", value);
}

gchar *
kl_gui_format_state_closure(gpointer item, guint state)
{
	return g_strdup(kl_client_agent_state_to_label(state));
}

GStrv
kl_gui_format_state_classes_closure(gpointer item, guint state)
{
	GStrv classes = g_new0(gchar *, 2);

	classes[0] = g_strdup(kl_gui_format_state_css_class(state));
	return classes;
}

gchar *
kl_gui_format_address_closure(gpointer item, const gchar *ip, guint port)
{
	if (ip == NULL || ip[0] == '\0')
		return g_strdup("—");
	if (strchr(ip, ':') != NULL)
		return g_strdup_printf("[%s]:%u", ip, port);
	return g_strdup_printf("%s:%u", ip, port);
}

gchar *
kl_gui_format_or_none_closure(gpointer item, const gchar *text)
{
	/* TRANSLATORS: shown for an empty field, such as no runtime policy */
	return g_strdup(text == NULL || text[0] == '\0' ? _("none") : text);
}

gchar *
kl_gui_format_event_kind_closure(gpointer item, gint kind)
{
	return g_strdup(kind == KL_CLIENT_EVENT_REVOCATION ? _("Revocation") : _("Finding"));
}

void
kl_gui_format_add_to_scope(GtkWidgetClass *widget_class)
{
	GtkBuilderScope *scope = gtk_builder_cscope_new();
	GtkBuilderCScope *cscope = GTK_BUILDER_CSCOPE(scope);

	gtk_builder_cscope_add_callback_symbols(cscope,
						"kl_gui_format_time_closure",
						G_CALLBACK(kl_gui_format_time_closure),
						"kl_gui_format_uint64_closure",
						G_CALLBACK(kl_gui_format_uint64_closure),
						"kl_gui_format_uint_closure",
						G_CALLBACK(kl_gui_format_uint_closure),
						"kl_gui_format_state_closure",
						G_CALLBACK(kl_gui_format_state_closure),
						"kl_gui_format_state_classes_closure",
						G_CALLBACK(kl_gui_format_state_classes_closure),
						"kl_gui_format_address_closure",
						G_CALLBACK(kl_gui_format_address_closure),
						"kl_gui_format_or_none_closure",
						G_CALLBACK(kl_gui_format_or_none_closure),
						"kl_gui_format_event_kind_closure",
						G_CALLBACK(kl_gui_format_event_kind_closure),
						NULL);
	gtk_widget_class_set_template_scope(widget_class, scope);
	g_object_unref(scope);
}

void
kl_gui_format_unparent_children(GtkWidget *widget)
{
	GtkWidget *child;

	while ((child = gtk_widget_get_first_child(widget)) != NULL)
		gtk_widget_unparent(child);
}
