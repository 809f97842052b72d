/*
 * Fuzz target: keylime_tenant's command line (tenant/kl-tenant-args.c).
 * The input is split at NUL bytes into the arguments.
 */
#include "config.h"

#include <string.h>

#include "kl-fuzz.h"
#include "kl-tenant-args.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree gchar *text = g_malloc(size + 1);
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(KlTenantArgs) args = NULL;
	g_autoptr(GError) error = NULL;
	gsize offset = 0;

	memcpy(text, data, size);
	text[size] = '\0';
	while (offset <= size && argv->len < 2 * KL_TENANT_ARGS_MAX_COUNT) {
		g_ptr_array_add(argv, text + offset);
		offset += strlen(text + offset) + 1;
	}
	args = kl_tenant_args_parse((gint)argv->len, (const gchar *const *)argv->pdata, &error);
	g_assert((args == NULL) == (error != NULL));
	if (args == NULL) {
		g_assert(error->domain == G_OPTION_ERROR);
		return 0;
	}
	for (gsize i = 0; i < KL_TENANT_OPT_COUNT; i++) {
		const gchar *value = kl_tenant_args_get(args, (KlTenantOpt)i);
		guint16 port = 0;
		g_autoptr(GError) port_error = NULL;

		if (value == NULL)
			continue;
		g_assert(strlen(value) <= KL_TENANT_ARGS_MAX_LENGTH);
		if (i == KL_TENANT_OPT_TARGETPORT || i == KL_TENANT_OPT_CVPORT ||
		    i == KL_TENANT_OPT_REGISTRARPORT)
			g_assert(kl_tenant_args_port(args, (KlTenantOpt)i, &port, &port_error) ==
				 (port != 0));
	}
	return 0;
}
