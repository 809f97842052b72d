/*
 * kl-config: Keylime's configuration files as upstream lays them out and
 * reads them (Python configparser INI):
 *
 *   $KEYLIME_<COMPONENT>_CONFIG, else /etc/keylime/<component>.conf, else
 *   /usr/etc/keylime/<component>.conf; then <component>.conf.d/ *.conf beside
 *   it in lexical order; then KEYLIME_<COMPONENT>_<OPTION> (the component's
 *   own section) and KEYLIME_<COMPONENT>_<SECTION>_<OPTION> from the
 *   environment.  A later source overrides an earlier one.
 *
 * Getters take the default used when the option is absent.  A value that
 * is present but malformed is an error naming file, line and option.
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define KL_CONFIG_ERROR kl_config_error_quark()

typedef enum {
	KL_CONFIG_ERROR_PARSE,
	KL_CONFIG_ERROR_INVALID_VALUE,
	KL_CONFIG_ERROR_NOT_FOUND,
} KlConfigError;

GQuark kl_config_error_quark(void);

#define KL_TYPE_CONFIG (kl_config_get_type())
G_DECLARE_FINAL_TYPE(KlConfig, kl_config, KL, CONFIG, GObject)

KlConfig *kl_config_new(void);
gboolean kl_config_load_component(KlConfig *self, const gchar *component, GError **error);
gboolean kl_config_load_file(KlConfig *self, const gchar *path, GError **error);
gboolean kl_config_load_data(KlConfig *self,
			     const gchar *data,
			     gsize length,
			     const gchar *origin,
			     GError **error);
void kl_config_set_string(KlConfig *self,
			  const gchar *section,
			  const gchar *option,
			  const gchar *value,
			  const gchar *origin);
gboolean kl_config_has_option(KlConfig *self, const gchar *section, const gchar *option);
gchar **kl_config_get_sections(KlConfig *self);
gchar **kl_config_get_options(KlConfig *self, const gchar *section);
const gchar *kl_config_get_string(KlConfig *self,
				  const gchar *section,
				  const gchar *option,
				  const gchar *default_value);
gboolean kl_config_get_boolean(KlConfig *self,
			       const gchar *section,
			       const gchar *option,
			       gboolean default_value,
			       gboolean *value,
			       GError **error);
gboolean kl_config_get_int(KlConfig *self,
			   const gchar *section,
			   const gchar *option,
			   gint64 default_value,
			   gint64 minimum,
			   gint64 maximum,
			   gint64 *value,
			   GError **error);
gboolean kl_config_get_double(KlConfig *self,
			      const gchar *section,
			      const gchar *option,
			      gdouble default_value,
			      gdouble *value,
			      GError **error);
gboolean kl_config_get_list(KlConfig *self,
			    const gchar *section,
			    const gchar *option,
			    gchar ***value,
			    GError **error);
gchar *kl_config_describe(KlConfig *self, const gchar *section, const gchar *option);
gchar **kl_config_list_dropins(const gchar *directory, GError **error);

G_END_DECLS
