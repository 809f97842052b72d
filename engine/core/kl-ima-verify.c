/*
 * Per-entry judgement of IMA entries against a runtime policy, as
 * upstream's ima.py (_validate_ima_ng, _validate_ima_sig,
 * _validate_ima_buf), plugged into kl_ima_log_replay() as its judge.
 */
#define G_LOG_DOMAIN "KlCore"

#include "config.h"

#include "kl-ima-verify.h"

typedef struct {
	const KlImaVerifyOptions *options;
	KlRuntimePolicy *policy; /* NULL: no runtime policy */
	GPtrArray *keys;	 /* verification keys, nullable */
	gboolean keyrings_exist;
} KlImaJudge;

static gchar *
kl_ima_verify_expected(KlRuntimePolicy *policy, KlRuntimePolicyMap map, const gchar *name)
{
	g_autoptr(GPtrArray) hex = kl_runtime_policy_get_digests_hex(policy, map, name);
	if (hex == NULL)
		return g_strdup("");
	g_ptr_array_add(hex, NULL);
	return g_strjoinv(",", (gchar **)hex->pdata);
}

/* upstream's _validate_ima_ng() on one of the three maps */
static gboolean
kl_ima_verify_digests(KlImaJudge *judge,
		      const KlImaEntry *entry,
		      KlRuntimePolicyMap map,
		      GPtrArray *findings,
		      KlImaCounts *counts)
{
	KlRuntimePolicyLookup lookup;

	if (judge->policy == NULL)
		return TRUE;
	/* Upstream tries the excludes first; a listed digest passes either
	 * way, so the regex only runs for entries that would fail without it. */
	lookup = kl_runtime_policy_lookup(judge->policy,
					  map,
					  entry->name,
					  entry->digest,
					  entry->digest_len);
	if (lookup == KL_RUNTIME_POLICY_LOOKUP_MATCH)
		return TRUE;
	if (kl_runtime_policy_is_excluded(judge->policy, entry->name)) {
		counts->excluded++;
		return TRUE;
	}
	/* boot aggregates of a parsed UEFI log extend the policy's list */
	if (lookup != KL_RUNTIME_POLICY_LOOKUP_MATCH && judge->options->boot_aggregates != NULL &&
	    map == KL_RUNTIME_POLICY_MAP_DIGESTS && g_strcmp0(entry->name, "boot_aggregate") == 0) {
		for (guint i = 0; judge->options->boot_aggregates[i] != NULL; i++) {
			if (g_ascii_strcasecmp(judge->options->boot_aggregates[i],
					       entry->digest_hex) == 0)
				return TRUE;
		}
	}
	switch (lookup) {
	case KL_RUNTIME_POLICY_LOOKUP_MATCH:
		return TRUE;
	case KL_RUNTIME_POLICY_LOOKUP_NOT_LISTED:
		g_ptr_array_add(findings,
				kl_finding_new_printf("ima.validation.ima-ng.not_in_allowlist",
						      entry->name,
						      entry->line,
						      "File not found in allowlist: %s",
						      entry->name));
		counts->fnf++;
		return FALSE;
	case KL_RUNTIME_POLICY_LOOKUP_MISMATCH:
	default: {
		g_autofree gchar *expected =
			kl_ima_verify_expected(judge->policy, map, entry->name);
		KlFinding *finding =
			kl_finding_new_printf("ima.validation.ima-ng.runtime_policy_hash",
					      entry->name,
					      entry->line,
					      "Hash not found in runtime policy: %s",
					      entry->digest_hex);
		kl_finding_set_context_got_expected(finding, entry->digest_hex, expected);
		g_ptr_array_add(findings, finding);
		counts->hash++;
		return FALSE;
	}
	}
}

/* upstream's _validate_ima_sig() */
static gboolean
kl_ima_verify_sig(KlImaJudge *judge,
		  const KlImaEntry *entry,
		  GPtrArray *findings,
		  KlImaCounts *counts)
{
	g_autoptr(GError) error_local = NULL;

	if (judge->keyrings_exist && entry->sig != NULL) {
		if (judge->policy != NULL &&
		    kl_runtime_policy_is_excluded(judge->policy, entry->name)) {
			counts->excluded++;
			return TRUE;
		}
		if (kl_ima_sig_verify(entry->sig,
				      entry->sig_len,
				      entry->digest,
				      entry->digest_len,
				      entry->digest_alg,
				      judge->keys,
				      judge->options->learned,
				      &error_local))
			return TRUE;
		g_debug("line %u: %s: %s", entry->line, entry->name, error_local->message);
	}
	if (judge->policy != NULL)
		return kl_ima_verify_digests(judge,
					     entry,
					     KL_RUNTIME_POLICY_MAP_DIGESTS,
					     findings,
					     counts);
	if (!judge->keyrings_exist)
		return TRUE;
	g_ptr_array_add(findings,
			kl_finding_new_printf("ima.validator.ima-sig.invalid_signature",
					      entry->name,
					      entry->line,
					      "signature for file %s could not be validated%s%s",
					      entry->name,
					      error_local != NULL ? ": " : "",
					      error_local != NULL ? error_local->message : ""));
	counts->signature++;
	return FALSE;
}

/* upstream's _validate_ima_buf(); the device-mapper validator is left out
 * because the policy schema forces ima.dm_policy to null (§5.7) */
static gboolean
kl_ima_verify_buf(KlImaJudge *judge,
		  const KlImaEntry *entry,
		  GPtrArray *findings,
		  KlImaCounts *counts)
{
	g_autoptr(GError) error_local = NULL;
	g_autoptr(EVP_PKEY) key = NULL;
	guint32 keyid = 0;

	key = kl_ima_key_from_buffer(entry->buf, entry->buf_len, &keyid, &error_local);
	if (error_local != NULL) {
		g_ptr_array_add(
			findings,
			kl_finding_new_printf("ima.invalid_key",
					      entry->name,
					      entry->line,
					      "key from %s does not have a supported key: %s",
					      entry->name,
					      error_local->message));
		counts->keys++;
		return FALSE;
	}
	if (key == NULL)
		return kl_ima_verify_digests(judge,
					     entry,
					     KL_RUNTIME_POLICY_MAP_IMA_BUF,
					     findings,
					     counts);
	if (judge->policy != NULL &&
	    kl_runtime_policy_is_keyring_ignored(judge->policy, entry->name))
		return TRUE;
	if (!kl_ima_verify_digests(judge, entry, KL_RUNTIME_POLICY_MAP_KEYRINGS, findings, counts))
		return FALSE;
	/* only a key the policy accepts may vouch for file signatures */
	if (judge->options->learned != NULL)
		kl_ima_keyrings_add(judge->options->learned, entry->name, keyid, key);
	return TRUE;
}

static gboolean
kl_ima_verify_entry(const KlImaEntry *entry,
		    GPtrArray *findings,
		    KlImaCounts *counts,
		    gpointer user_data)
{
	KlImaJudge *judge = user_data;

	switch (entry->template_kind) {
	case KL_IMA_TEMPLATE_IMA_SIG:
		return kl_ima_verify_sig(judge, entry, findings, counts);
	case KL_IMA_TEMPLATE_IMA_BUF:
		return kl_ima_verify_buf(judge, entry, findings, counts);
	case KL_IMA_TEMPLATE_IMA:
	case KL_IMA_TEMPLATE_IMA_NG:
	case KL_IMA_TEMPLATE_LAST:
	default:
		return kl_ima_verify_digests(judge,
					     entry,
					     KL_RUNTIME_POLICY_MAP_DIGESTS,
					     findings,
					     counts);
	}
}

gboolean
kl_ima_verify(KlImaLogParser *parser,
	      const KlImaVerifyOptions *options,
	      KlImaResult *result,
	      GError **error)
{
	KlImaJudge judge = {options, NULL, NULL, FALSE};
	KlImaReplayOptions replay = {0};

	g_return_val_if_fail(parser != NULL, FALSE);
	g_return_val_if_fail(options != NULL, FALSE);

	if (options->policy != NULL && kl_runtime_policy_has_runtime_policy(options->policy))
		judge.policy = options->policy;
	judge.keys = options->verification_keys;
	if (judge.keys == NULL && options->policy != NULL)
		judge.keys = kl_runtime_policy_get_verification_keys(options->policy);
	judge.keyrings_exist =
		options->learned != NULL || (judge.keys != NULL && judge.keys->len > 0);

	replay.bank = options->bank;
	replay.log_hash_alg = options->policy != NULL
				      ? kl_runtime_policy_get_log_hash_alg(options->policy)
				      : NULL;
	replay.quoted_pcr10 = options->quoted_pcr10;
	replay.quoted_pcr10_len = options->quoted_pcr10_len;
	replay.resume = options->resume;
	replay.ignore_tomtou_errors = options->ignore_tomtou_errors;
	replay.judge = kl_ima_verify_entry;
	replay.judge_data = &judge;
	if (!kl_ima_log_replay(parser, &replay, result, error))
		return FALSE;

	/* a failed batch is replayed from the start next time, and the
	 * keys it taught are learned again on the way */
	if (kl_ima_state_is_fresh(&result->state) && result->findings->len > 0 &&
	    options->learned != NULL)
		kl_ima_keyrings_clear(options->learned);
	return TRUE;
}

gboolean
kl_ima_verify_log(const gchar *log,
		  gsize len,
		  const KlImaState *resume,
		  const gchar *bank,
		  const guint8 *quoted_pcr10,
		  KlRuntimePolicy *policy,
		  KlImaKeyrings *learned,
		  KlImaResult *result,
		  GError **error)
{
	g_autoptr(KlImaLogParser) parser = kl_ima_log_parser_new_for_data(log, len);
	KlImaVerifyOptions options = {0};

	if (!kl_ima_bank_from_string(bank, &options.bank, error)) {
		kl_ima_result_init(result); /* the caller clears it either way */
		return FALSE;
	}
	options.resume = resume;
	options.quoted_pcr10 = quoted_pcr10;
	options.quoted_pcr10_len = quoted_pcr10 != NULL ? kl_ima_bank_get_size(options.bank) : 0;
	options.policy = policy;
	options.learned = learned;
	return kl_ima_verify(parser, &options, result, error);
}
