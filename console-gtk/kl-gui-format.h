/*
 * kl-gui-format: how keylime-console shows an agent's fields — times,
 * counters, the state's translated label and CSS class — as plain
 * functions and as GtkBuilder closures for the list factories
 * (kl_gui_format_add_to_scope()), and the one chore the pages share in
 * dispose.
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* local "YYYY-MM-DD HH:MM:SS" of unix seconds; "—" for 0 (never) */
gchar *kl_gui_format_time(guint64 unix_seconds);
/* one of kl-state-ok, -busy, -failed, -stopped (style.css) */
const gchar *kl_gui_format_state_css_class(guint state);

/* unparents every child of @widget (the dispose of a GtkWidget subclass) */
void kl_gui_format_unparent_children(GtkWidget *widget);

/* registers the closures below in the template scope of @widget_class */
void kl_gui_format_add_to_scope(GtkWidgetClass *widget_class);

/* GtkBuilder closures: (item, value) -> string or strv */
gchar *kl_gui_format_time_closure(gpointer item, guint64 unix_seconds);
gchar *kl_gui_format_uint64_closure(gpointer item, guint64 value);
gchar *kl_gui_format_uint_closure(gpointer item, guint value);
gchar *kl_gui_format_state_closure(gpointer item, guint state);
GStrv kl_gui_format_state_classes_closure(gpointer item, guint state);
gchar *kl_gui_format_address_closure(gpointer item, const gchar *ip, guint port);
gchar *kl_gui_format_or_none_closure(gpointer item, const gchar *text);
/* a KlClientEventKind: "Finding" or "Revocation" */
gchar *kl_gui_format_event_kind_closure(gpointer item, gint kind);

G_END_DECLS
