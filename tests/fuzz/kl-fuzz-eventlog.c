/*
 * Fuzz target: a UEFI measured boot log as an agent sends it — parsed,
 * replayed, turned into the policy engine's JSON and compared with a
 * quoted sha256 bank built from the first input bytes.
 */
#include "config.h"

#include "kl-eventlog.h"
#include "kl-fuzz.h"
#include "kl-json.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(KlEventLog) log = kl_eventlog_new_from_data(data, size, NULL);
	g_autoptr(KlPcrBank) quoted = kl_pcr_bank_new(TPM2_ALG_SHA256, NULL);
	g_autoptr(GPtrArray) findings = kl_findings_new();
	g_autoptr(JsonNode) json = NULL;
	g_autofree gchar *text = NULL;
	g_autofree gchar *aggregate = NULL;
	guint8 value[32] = {0};

	if (log == NULL)
		return 0;
	json = kl_eventlog_to_json(log);
	text = kl_json_node_to_string(json, FALSE);
	aggregate = kl_eventlog_get_boot_aggregate(log, TPM2_ALG_SHA256, 9, NULL);
	memcpy(value, data, MIN(size, sizeof(value)));
	for (guint i = 0; i < KL_TPM_PCR_COUNT; i++)
		kl_pcr_bank_set(quoted, i, value, sizeof(value), NULL);
	kl_eventlog_compare_pcrs(log, quoted, KL_EVENTLOG_MEASURED_BOOT_PCRS, findings);
	return 0;
}
