/* Fuzz target: TOML (agent.conf) and a walk over every node of the tree. */
#include "config.h"

#include "kl-fuzz.h"
#include "kl-toml.h"

static void
kl_fuzz_walk(const KlTomlValue *value)
{
	g_autofree gchar *where = kl_toml_value_describe(value);

	switch (kl_toml_value_get_kind(value)) {
	case KL_TOML_KIND_TABLE:
		for (guint i = 0; i < kl_toml_value_get_length(value); i++) {
			const gchar *key = kl_toml_value_get_key(value, i);
			g_assert(kl_toml_value_lookup(value, key) ==
				 kl_toml_value_get_element(value, i));
			kl_fuzz_walk(kl_toml_value_get_element(value, i));
		}
		break;
	case KL_TOML_KIND_ARRAY:
		for (guint i = 0; i < kl_toml_value_get_length(value); i++)
			kl_fuzz_walk(kl_toml_value_get_element(value, i));
		break;
	case KL_TOML_KIND_STRING:
		g_assert(g_utf8_validate(kl_toml_value_get_string(value), -1, NULL));
		break;
	case KL_TOML_KIND_INTEGER:
		(void)kl_toml_value_get_integer(value);
		break;
	case KL_TOML_KIND_FLOAT:
		(void)kl_toml_value_get_float(value);
		break;
	case KL_TOML_KIND_BOOLEAN:
		(void)kl_toml_value_get_boolean(value);
		break;
	default:
		g_assert_not_reached();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTomlValue) root = kl_toml_parse((const gchar *)data, size, "fuzz.toml", &error);

	if (root == NULL) {
		/* Every error names file:line:column. */
		g_assert(g_str_has_prefix(error->message, "fuzz.toml:"));
		return 0;
	}
	kl_fuzz_walk(root);
	return 0;
}
