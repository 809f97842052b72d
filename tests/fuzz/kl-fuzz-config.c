/* Fuzz target: Keylime INI config files and every typed getter on them. */
#include "config.h"

#include "kl-config.h"
#include "kl-fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(KlConfig) config = kl_config_new();
	g_auto(GStrv) sections = NULL;

	if (!kl_config_load_data(config, (const gchar *)data, size, "fuzz.conf", NULL))
		return 0;
	sections = kl_config_get_sections(config);
	for (guint i = 0; sections[i] != NULL; i++) {
		g_auto(GStrv) options = kl_config_get_options(config, sections[i]);
		for (guint j = 0; options[j] != NULL; j++) {
			gboolean flag;
			gint64 number;
			gdouble real;
			g_auto(GStrv) list = NULL;
			g_autofree gchar *where =
				kl_config_describe(config, sections[i], options[j]);
			kl_config_get_boolean(config, sections[i], options[j], FALSE, &flag, NULL);
			kl_config_get_int(config,
					  sections[i],
					  options[j],
					  0,
					  G_MININT64,
					  G_MAXINT64,
					  &number,
					  NULL);
			kl_config_get_double(config, sections[i], options[j], 0, &real, NULL);
			kl_config_get_list(config, sections[i], options[j], &list, NULL);
		}
	}
	return 0;
}
