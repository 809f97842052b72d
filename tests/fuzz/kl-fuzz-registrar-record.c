/*
 * Fuzz target: an agent's registrar record as the tenant reads it
 * (tenant/kl-tenant-registrar.c).  The first two bytes are the HTTP status
 * (big-endian), the rest is the body.
 */
#include "config.h"

#include "kl-error.h"
#include "kl-fuzz.h"
#include "kl-tenant-registrar.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(KlTenantRegistrarRecord) record = NULL;
	g_autoptr(GError) error = NULL;
	guint status;

	if (size < 2)
		return 0;
	status = (guint)data[0] << 8 | data[1];
	/* the id of the seeds */
	record = kl_tenant_registrar_record_parse("d432fbb3-d2f1-4a97-9ef7-75bd81c00000",
						  status,
						  (const gchar *)data + 2,
						  size - 2,
						  &error);
	g_assert((record == NULL) == (error != NULL));
	if (record == NULL) {
		g_assert(error->domain == KL_ERROR);
		return 0;
	}
	g_assert(status == 200);
	g_assert(record->ak != NULL && record->ek != NULL);
	g_assert(record->ip != NULL && record->ip[0] != '\0' && record->port != 0);
	g_assert((record->ekcert == NULL) == (record->ek_certificate == NULL));
	g_assert(!(record->mtls_disabled && record->mtls_cert != NULL));
	return 0;
}
