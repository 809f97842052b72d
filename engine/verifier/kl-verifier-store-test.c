/*
 * KlVerifierStore against real sqlite files: every column of an agent
 * through a round trip, the guarded progress update, named policies shared
 * by agents, the bounded history, a file upstream's verifier made, a
 * writer killed in the middle of its transactions, and the cost of the
 * per-quote update.
 */
#include "config.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kl-crypto.h"
#include "kl-error.h"
#include "kl-test-dir.h"
#include "kl-verifier-store.h"

static KlVerifierStore *
open_ok(const gchar *path)
{
	g_autoptr(GError) error = NULL;
	KlVerifierStore *store = kl_verifier_store_open(path, &error);
	g_assert_no_error(error);
	g_assert_nonnull(store);
	return store;
}

static gint64
query_int(KlVerifierStore *store, const gchar *sql)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlStoreQuery) query =
		kl_store_query_new(kl_verifier_store_get_store(store), sql, "test query", &error);
	gboolean has_row = FALSE;

	g_assert_no_error(error);
	g_assert_true(kl_store_query_step(query, &has_row, &error));
	g_assert_no_error(error);
	g_assert_true(has_row);
	return kl_store_query_get_int64(query, 0);
}

static gchar *
query_text(KlVerifierStore *store, const gchar *sql)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlStoreQuery) query =
		kl_store_query_new(kl_verifier_store_get_store(store), sql, "test query", &error);
	gboolean has_row = FALSE;

	g_assert_no_error(error);
	g_assert_true(kl_store_query_step(query, &has_row, &error));
	g_assert_no_error(error);
	g_assert_true(has_row);
	return kl_store_query_dup_text(query, 0);
}

static guint
schema_version(KlVerifierStore *store)
{
	g_autoptr(GError) error = NULL;
	guint version = G_MAXUINT;
	g_assert_true(kl_store_get_version(kl_verifier_store_get_store(store),
					   "verifier",
					   &version,
					   &error));
	g_assert_no_error(error);
	return version;
}

/* Every column set, each value derived from @index and @round. */
static KlVerifierAgent *
make_agent(guint index, gint64 round)
{
	g_autofree gchar *id = g_strdup_printf("agent-%04u", index);
	KlVerifierAgent *agent = kl_verifier_agent_new(id);
	const gchar *hash_algs[] = {"sha512", "sha384", "sha256", NULL};
	const gchar *enc_algs[] = {"ecc", "rsa", NULL};
	const gchar *sign_algs[] = {"ecschnorr", "rsassa", NULL};
	guint8 pcr10[32];
	gint pcr = 10;

	for (guint i = 0; i < sizeof(pcr10); i++)
		pcr10[i] = (guint8)(index * 7 + round + i);
	agent->v = g_strdup_printf("V-secret-%u-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", index);
	agent->ip = g_strdup("192.0.2.10");
	agent->port = 9002;
	agent->verifier_id = g_strdup(index % 2 == 0 ? "default" : "other");
	agent->verifier_ip = g_strdup("127.0.0.1");
	agent->verifier_port = 8881;
	agent->operational_state = KL_VERIFIER_STATE_GET_QUOTE;
	agent->public_key = g_strdup("-----BEGIN PUBLIC KEY-----\nNK\n-----END PUBLIC KEY-----\n");
	agent->tpm_policy = g_strdup("{\"15\": [\"0000000000000000000000000000000000000000\"], "
				     "\"mask\": \"0x408400\"}");
	agent->meta_data = g_strdup("{\"cert_serial\": 4, \"subject\": \"CN=agent\"}");
	agent->ima_sign_verification_keys = g_strdup("");
	agent->revocation_key = g_strdup(
		"-----BEGIN PRIVATE KEY-----\nREVOCATION-SECRET\n-----END PRIVATE KEY-----\n");
	agent->accept_tpm_hash_algs = g_strdupv((gchar **)hash_algs);
	agent->accept_tpm_encryption_algs = g_strdupv((gchar **)enc_algs);
	agent->accept_tpm_signing_algs = g_strdupv((gchar **)sign_algs);
	agent->hash_alg = g_strdup("sha256");
	agent->enc_alg = g_strdup("rsa");
	agent->sign_alg = g_strdup("rsassa");
	agent->boottime = 1700000000 + index;
	agent->ima_pcrs = g_array_new(FALSE, FALSE, sizeof(gint));
	g_array_append_val(agent->ima_pcrs, pcr);
	agent->pcr10 = g_bytes_new(pcr10, sizeof(pcr10));
	agent->next_ima_ml_entry = round * 10;
	agent->learned_ima_keyrings = g_strdup("{\".ima\": \"{}\"}");
	agent->severity_level = round % 7;
	agent->last_event_id = g_strdup_printf("ima.validation.round_%" G_GINT64_FORMAT, round);
	agent->supported_version = g_strdup("2.1");
	agent->ak_tpm = g_strdup("ARgAAQALAAUAcgAAABAAFAALCAAAAAAAAQ==");
	agent->mtls_cert = g_strdup("-----BEGIN CERTIFICATE-----\nC\n-----END CERTIFICATE-----\n");
	agent->attestation_count = round;
	agent->last_received_quote = 1700000100 + round;
	agent->last_successful_attestation = 1700000099 + round;
	agent->has_tpm_clockinfo = TRUE;
	agent->tpm_clockinfo.clock = G_GUINT64_CONSTANT(5000000000) + (guint64)round;
	agent->tpm_clockinfo.reset_count = 3;
	agent->tpm_clockinfo.restart_count = 4;
	agent->tpm_clockinfo.safe = TRUE;
	agent->accept_attestations = FALSE;
	agent->consecutive_attestation_failures = round % 3;
	return agent;
}

static void
assert_strv_equal(GStrv a, GStrv b)
{
	if (a == NULL || b == NULL) {
		g_assert_true(a == b);
		return;
	}
	g_assert_true(g_strv_equal((const gchar *const *)a, (const gchar *const *)b));
}

static void
assert_agent_equal(const KlVerifierAgent *a, const KlVerifierAgent *b)
{
	g_assert_cmpstr(a->agent_id, ==, b->agent_id);
	g_assert_cmpstr(a->v, ==, b->v);
	g_assert_cmpstr(a->ip, ==, b->ip);
	g_assert_cmpint(a->port, ==, b->port);
	g_assert_cmpstr(a->verifier_id, ==, b->verifier_id);
	g_assert_cmpstr(a->verifier_ip, ==, b->verifier_ip);
	g_assert_cmpint(a->verifier_port, ==, b->verifier_port);
	g_assert_cmpint(a->operational_state, ==, b->operational_state);
	g_assert_cmpstr(a->public_key, ==, b->public_key);
	g_assert_cmpstr(a->tpm_policy, ==, b->tpm_policy);
	g_assert_cmpstr(a->meta_data, ==, b->meta_data);
	g_assert_cmpint(a->ima_policy_id, ==, b->ima_policy_id);
	g_assert_cmpint(a->mb_policy_id, ==, b->mb_policy_id);
	g_assert_cmpstr(a->ima_sign_verification_keys, ==, b->ima_sign_verification_keys);
	g_assert_cmpstr(a->revocation_key, ==, b->revocation_key);
	assert_strv_equal(a->accept_tpm_hash_algs, b->accept_tpm_hash_algs);
	assert_strv_equal(a->accept_tpm_encryption_algs, b->accept_tpm_encryption_algs);
	assert_strv_equal(a->accept_tpm_signing_algs, b->accept_tpm_signing_algs);
	g_assert_cmpstr(a->hash_alg, ==, b->hash_alg);
	g_assert_cmpstr(a->enc_alg, ==, b->enc_alg);
	g_assert_cmpstr(a->sign_alg, ==, b->sign_alg);
	g_assert_cmpint(a->boottime, ==, b->boottime);
	if (a->ima_pcrs == NULL || b->ima_pcrs == NULL) {
		g_assert_true(a->ima_pcrs == b->ima_pcrs);
	} else {
		g_assert_cmpmem(a->ima_pcrs->data,
				a->ima_pcrs->len * sizeof(gint),
				b->ima_pcrs->data,
				b->ima_pcrs->len * sizeof(gint));
	}
	if (a->pcr10 == NULL || b->pcr10 == NULL)
		g_assert_true(a->pcr10 == b->pcr10);
	else
		g_assert_true(g_bytes_equal(a->pcr10, b->pcr10));
	g_assert_cmpint(a->next_ima_ml_entry, ==, b->next_ima_ml_entry);
	g_assert_cmpstr(a->learned_ima_keyrings, ==, b->learned_ima_keyrings);
	g_assert_cmpint(a->severity_level, ==, b->severity_level);
	g_assert_cmpstr(a->last_event_id, ==, b->last_event_id);
	g_assert_cmpstr(a->supported_version, ==, b->supported_version);
	g_assert_cmpstr(a->ak_tpm, ==, b->ak_tpm);
	g_assert_cmpstr(a->mtls_cert, ==, b->mtls_cert);
	g_assert_cmpint(a->attestation_count, ==, b->attestation_count);
	g_assert_cmpint(a->last_received_quote, ==, b->last_received_quote);
	g_assert_cmpint(a->last_successful_attestation, ==, b->last_successful_attestation);
	g_assert_cmpint(a->has_tpm_clockinfo, ==, b->has_tpm_clockinfo);
	if (a->has_tpm_clockinfo) {
		g_assert_cmpuint(a->tpm_clockinfo.clock, ==, b->tpm_clockinfo.clock);
		g_assert_cmpuint(a->tpm_clockinfo.reset_count, ==, b->tpm_clockinfo.reset_count);
		g_assert_cmpuint(a->tpm_clockinfo.restart_count,
				 ==,
				 b->tpm_clockinfo.restart_count);
		g_assert_cmpint(a->tpm_clockinfo.safe, ==, b->tpm_clockinfo.safe);
	}
	g_assert_cmpint(a->accept_attestations, ==, b->accept_attestations);
	g_assert_cmpint(a->consecutive_attestation_failures,
			==,
			b->consecutive_attestation_failures);
}

static KlVerifierAgent *
get_ok(KlVerifierStore *store, const gchar *agent_id)
{
	g_autoptr(GError) error = NULL;
	KlVerifierAgent *agent = kl_verifier_store_get_agent(store, agent_id, &error);
	g_assert_no_error(error);
	g_assert_nonnull(agent);
	return agent;
}

static void
put_ok(KlVerifierStore *store, const KlVerifierAgent *agent)
{
	g_autoptr(GError) error = NULL;
	g_assert_true(kl_verifier_store_put_agent(store, agent, &error));
	g_assert_no_error(error);
}

static void
test_agent_round_trip(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_test_dir_build(dir, KL_STORE_VERIFIER_FILE, NULL);
	g_autoptr(KlVerifierStore) store = open_ok(path);
	g_autoptr(KlVerifierAgent) full = make_agent(1, 5);
	g_autoptr(KlVerifierAgent) empty = kl_verifier_agent_new("agent-empty");
	g_autoptr(KlVerifierAgent) copy = kl_verifier_agent_copy(full);
	g_autoptr(KlVerifierAgent) got = NULL;
	g_autoptr(KlVerifierAgent) got_empty = NULL;
	g_autoptr(KlVerifierAgent) second = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *raw_policy = NULL;
	g_autofree gchar *raw_algs = NULL;
	g_autofree gchar *raw_clock = NULL;
	g_autoptr(GPtrArray) ids = NULL;
	g_autoptr(GPtrArray) agents = NULL;
	gboolean deleted = FALSE;

	g_assert_null(kl_verifier_store_get_agent(store, "agent-0001", &error));
	g_assert_no_error(error);

	/* Every column, and a copy that owns its own memory. */
	put_ok(store, full);
	got = get_ok(store, "agent-0001");
	assert_agent_equal(full, got);
	assert_agent_equal(copy, got);

	/* NULL in every nullable column, an empty list and an empty blob. */
	put_ok(store, empty);
	got_empty = get_ok(store, "agent-empty");
	assert_agent_equal(empty, got_empty);
	g_assert_null(got_empty->v);
	g_assert_null(got_empty->pcr10);
	g_assert_cmpint(got_empty->operational_state, ==, KL_VERIFIER_NULL);
	g_assert_cmpint(
		query_int(store,
			  "SELECT count(*) FROM verifiermain WHERE agent_id = 'agent-empty' "
			  "AND port IS NULL AND tpm_policy IS NULL AND pcr10 IS NULL "
			  "AND accept_tpm_hash_algs IS NULL AND tpm_clockinfo IS NULL"),
		==,
		1);
	empty->accept_tpm_hash_algs = g_new0(gchar *, 1);
	empty->ima_pcrs = g_array_new(FALSE, FALSE, sizeof(gint));
	empty->pcr10 = g_bytes_new(NULL, 0);
	put_ok(store, empty);
	g_clear_pointer(&got_empty, kl_verifier_agent_free);
	got_empty = get_ok(store, "agent-empty");
	assert_agent_equal(empty, got_empty);
	g_assert_cmpuint(g_strv_length(got_empty->accept_tpm_hash_algs), ==, 0);
	g_assert_cmpuint(g_bytes_get_size(got_empty->pcr10), ==, 0);

	/* As upstream's JSONPickleType writes them: json.dumps() of the value. */
	raw_policy = query_text(store,
				"SELECT tpm_policy FROM verifiermain WHERE agent_id = "
				"'agent-0001'");
	g_assert_true(g_str_has_prefix(raw_policy, "\"{\\\"15\\\": "));
	raw_algs = query_text(store, "SELECT accept_tpm_encryption_algs FROM verifiermain");
	g_assert_cmpstr(raw_algs, ==, "[\"ecc\",\"rsa\"]");
	raw_clock = query_text(store, "SELECT tpm_clockinfo FROM verifiermain");
	g_assert_nonnull(strstr(raw_clock, "\"resetCount\":3"));

	/* A replacement changes every column. */
	g_clear_pointer(&full, kl_verifier_agent_free);
	full = make_agent(1, 6);
	g_clear_pointer(&full->v, g_free);
	full->operational_state = KL_VERIFIER_STATE_INVALID_QUOTE;
	put_ok(store, full);
	g_clear_pointer(&got, kl_verifier_agent_free);
	got = get_ok(store, "agent-0001");
	assert_agent_equal(full, got);

	/* Listing, by verifier and all. */
	second = make_agent(2, 0);
	put_ok(store, second);
	ids = kl_verifier_store_list_agent_ids(store, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(ids->len, ==, 3);
	g_assert_cmpstr(g_ptr_array_index(ids, 0), ==, "agent-0001");
	g_assert_cmpstr(g_ptr_array_index(ids, 2), ==, "agent-empty");
	g_clear_pointer(&ids, g_ptr_array_unref);
	ids = kl_verifier_store_list_agent_ids(store, "default", &error);
	g_assert_no_error(error);
	g_assert_cmpuint(ids->len, ==, 1);
	g_assert_cmpstr(g_ptr_array_index(ids, 0), ==, "agent-0002");
	agents = kl_verifier_store_list_agents(store, "other", &error);
	g_assert_no_error(error);
	g_assert_cmpuint(agents->len, ==, 1);
	assert_agent_equal(g_ptr_array_index(agents, 0), full);

	g_assert_true(kl_verifier_store_delete_agent(store, "agent-0001", &deleted, &error));
	g_assert_no_error(error);
	g_assert_true(deleted);
	g_assert_true(kl_verifier_store_delete_agent(store, "agent-0001", &deleted, &error));
	g_assert_false(deleted);
	g_assert_null(kl_verifier_store_get_agent(store, "agent-0001", &error));
	g_assert_no_error(error);
}

static void
test_agent_errors_keep_secrets(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_test_dir_build(dir, KL_STORE_VERIFIER_FILE, NULL);
	g_autoptr(KlVerifierStore) store = open_ok(path);
	g_autoptr(KlVerifierAgent) agent = make_agent(3, 1);
	g_autoptr(GError) error = NULL;

	/* A reference to a policy that does not exist: refused, nothing said of V. */
	agent->ima_policy_id = 999;
	g_assert_false(kl_verifier_store_put_agent(store, agent, &error));
	g_assert_error(error, KL_STORE_ERROR, KL_STORE_ERROR_CONSTRAINT);
	g_assert_null(strstr(error->message, "secret"));
	g_assert_null(strstr(error->message, "SECRET"));
	g_clear_error(&error);

	/* A damaged JSON column names the column, not its contents. */
	agent->ima_policy_id = KL_VERIFIER_NULL;
	put_ok(store, agent);
	g_assert_true(kl_store_exec(kl_verifier_store_get_store(store),
				    "UPDATE verifiermain SET accept_tpm_signing_algs = "
				    "'[\"rsassa\", 7, \"hidden-value\"]'",
				    "damaging a column",
				    NULL));
	g_assert_null(kl_verifier_store_get_agent(store, agent->agent_id, &error));
	g_assert_error(error, KL_STORE_ERROR, KL_STORE_ERROR_CORRUPT);
	g_assert_nonnull(strstr(error->message, "accept_tpm_signing_algs"));
	g_assert_null(strstr(error->message, "hidden-value"));
	g_clear_error(&error);
	g_assert_true(kl_store_exec(kl_verifier_store_get_store(store),
				    "UPDATE verifiermain SET accept_tpm_signing_algs = NULL, "
				    "tpm_clockinfo = '{\"clock\": -5, \"resetCount\": 0}'",
				    "damaging a column",
				    NULL));
	g_assert_null(kl_verifier_store_get_agent(store, agent->agent_id, &error));
	g_assert_error(error, KL_STORE_ERROR, KL_STORE_ERROR_CORRUPT);
	g_assert_nonnull(strstr(error->message, "tpm_clockinfo"));
}

static void
assert_progress(KlVerifierStore *store, KlVerifierAgent *agent, gboolean expected)
{
	g_autoptr(GError) error = NULL;
	gboolean updated = !expected;

	g_assert_true(kl_verifier_store_update_progress(store, agent, &updated, &error));
	g_assert_no_error(error);
	g_assert_cmpint(updated, ==, expected);
}

static void
test_agent_progress_guard(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_test_dir_build(dir, KL_STORE_VERIFIER_FILE, NULL);
	g_autoptr(KlVerifierStore) store = open_ok(path);
	g_autoptr(KlVerifierAgent) agent = make_agent(4, 1);
	g_autoptr(KlVerifierAgent) next = make_agent(4, 2);
	g_autoptr(KlVerifierAgent) got = NULL;
	g_autoptr(KlVerifierAgent) ghost = make_agent(5, 1);
	g_autoptr(GError) error = NULL;
	const KlVerifierState stopped[] = {KL_VERIFIER_STATE_TERMINATED,
					   KL_VERIFIER_STATE_TENANT_FAILED};
	gboolean updated = FALSE;

	put_ok(store, agent);

	/* Only the progress columns move: V and the address are the enrollment's. */
	g_free(next->v);
	next->v = g_strdup("not-stored");
	next->port = 1;
	next->operational_state = KL_VERIFIER_STATE_PROVIDE_V;
	next->has_tpm_clockinfo = FALSE;
	g_clear_pointer(&next->pcr10, g_bytes_unref);
	assert_progress(store, next, TRUE);
	got = get_ok(store, agent->agent_id);
	g_assert_cmpstr(got->v, ==, agent->v);
	g_assert_cmpint(got->port, ==, agent->port);
	g_assert_cmpint(got->operational_state, ==, KL_VERIFIER_STATE_PROVIDE_V);
	g_assert_cmpint(got->attestation_count, ==, 2);
	g_assert_cmpint(got->next_ima_ml_entry, ==, 20);
	g_assert_cmpint(got->last_successful_attestation, ==, next->last_successful_attestation);
	g_assert_cmpstr(got->last_event_id, ==, next->last_event_id);
	g_assert_false(got->has_tpm_clockinfo);
	g_assert_null(got->pcr10);

	/* Stopped or being deleted: the update is refused and says so. */
	for (guint i = 0; i < G_N_ELEMENTS(stopped); i++) {
		g_assert_true(kl_verifier_store_set_state(store,
							  agent->agent_id,
							  stopped[i],
							  &updated,
							  &error));
		g_assert_no_error(error);
		g_assert_true(updated);
		next->attestation_count = 99;
		next->operational_state = KL_VERIFIER_STATE_GET_QUOTE;
		assert_progress(store, next, FALSE);
		g_clear_pointer(&got, kl_verifier_agent_free);
		got = get_ok(store, agent->agent_id);
		g_assert_cmpint(got->operational_state, ==, stopped[i]);
		g_assert_cmpint(got->attestation_count, ==, 2);
	}

	/* Reactivated, it moves again; a push agent (NULL state) too. */
	g_assert_true(kl_verifier_store_set_state(store,
						  agent->agent_id,
						  KL_VERIFIER_STATE_START,
						  &updated,
						  &error));
	assert_progress(store, next, TRUE);
	next->operational_state = KL_VERIFIER_NULL;
	assert_progress(store, next, TRUE);
	assert_progress(store, next, TRUE);

	/* Several at once: each says whether it was written. */
	{
		g_autoptr(GPtrArray) batch = g_ptr_array_new();
		g_autoptr(KlVerifierAgent) other = make_agent(6, 1);
		gboolean flags[3] = {FALSE, TRUE, FALSE};

		put_ok(store, other);
		g_assert_true(kl_verifier_store_set_state(store,
							  other->agent_id,
							  KL_VERIFIER_STATE_TERMINATED,
							  NULL,
							  &error));
		g_ptr_array_add(batch, next);
		g_ptr_array_add(batch, other);
		g_ptr_array_add(batch, ghost);
		g_assert_true(kl_verifier_store_update_progress_many(store, batch, flags, &error));
		g_assert_no_error(error);
		g_assert_true(flags[0]);
		g_assert_false(flags[1]);
		g_assert_false(flags[2]);
	}

	/* No such row. */
	assert_progress(store, ghost, FALSE);
	g_assert_true(kl_verifier_store_set_state(store,
						  ghost->agent_id,
						  KL_VERIFIER_STATE_START,
						  &updated,
						  &error));
	g_assert_no_error(error);
	g_assert_false(updated);
}

static KlVerifierPolicy *
runtime_policy(const gchar *name, const gchar *text)
{
	KlVerifierPolicy *policy = kl_verifier_policy_new(KL_VERIFIER_POLICY_RUNTIME, name);
	policy->policy = g_strdup(text);
	policy->generator = 2;
	policy->tpm_policy = g_strdup("{\"mask\": \"0x0\"}");
	return policy;
}

static gchar *
sha256_hex(const gchar *text)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) digest =
		kl_crypto_digest_bytes("sha256", (const guint8 *)text, strlen(text), &error);
	g_assert_no_error(error);
	return kl_crypto_hex_encode(g_bytes_get_data(digest, NULL), g_bytes_get_size(digest));
}

static void
test_policy_shared(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_test_dir_build(dir, KL_STORE_VERIFIER_FILE, NULL);
	g_autoptr(KlVerifierStore) store = open_ok(path);
	const gchar *text = "{\"meta\": {\"version\": 1}, \"digests\": {\"/bin/sh\": [\"ab\"]}}";
	g_autoptr(KlVerifierPolicy) runtime = runtime_policy("web", text);
	g_autoptr(KlVerifierPolicy) other = runtime_policy("db", "{}");
	g_autoptr(KlVerifierPolicy) mb = kl_verifier_policy_new(KL_VERIFIER_POLICY_MB, "fw");
	g_autoptr(KlVerifierPolicy) got = NULL;
	g_autoptr(KlVerifierAgent) a = make_agent(10, 1);
	g_autoptr(KlVerifierAgent) b = make_agent(11, 1);
	g_autoptr(KlVerifierAgent) got_a = NULL;
	g_autoptr(GPtrArray) names = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *expected = sha256_hex(text);
	gint64 runtime_id = 0;
	gint64 mb_id = 0;

	g_assert_true(kl_verifier_store_add_policy(store, runtime, &runtime_id, &error));
	g_assert_no_error(error);
	g_assert_cmpint(runtime_id, >, 0);
	g_assert_true(kl_verifier_store_add_policy(store, other, NULL, &error));
	g_assert_no_error(error);
	mb->policy = g_strdup("{\"has_secureboot\": true}");
	g_assert_true(kl_verifier_store_add_policy(store, mb, &mb_id, &error));
	g_assert_no_error(error);

	/* A name is taken once per kind: upstream's 409. */
	g_assert_false(kl_verifier_store_add_policy(store, runtime, NULL, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_CONFLICT);
	g_clear_error(&error);
	g_assert_false(kl_verifier_store_add_policy(store, mb, NULL, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_CONFLICT);
	g_clear_error(&error);

	/* By name and by id; the checksum is SHA-256 of the stored text. */
	got = kl_verifier_store_get_policy(store, KL_VERIFIER_POLICY_RUNTIME, "web", &error);
	g_assert_no_error(error);
	g_assert_nonnull(got);
	g_assert_cmpint(got->id, ==, runtime_id);
	g_assert_cmpstr(got->policy, ==, text);
	g_assert_cmpstr(got->checksum, ==, expected);
	g_assert_cmpint(got->generator, ==, 2);
	g_assert_cmpstr(got->tpm_policy, ==, "{\"mask\": \"0x0\"}");
	g_clear_pointer(&got, kl_verifier_policy_free);
	got = kl_verifier_store_get_policy_by_id(store, KL_VERIFIER_POLICY_MB, mb_id, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(got->name, ==, "fw");
	g_assert_cmpstr(got->policy, ==, "{\"has_secureboot\": true}");
	g_assert_null(got->checksum);
	g_clear_pointer(&got, kl_verifier_policy_free);
	g_assert_null(kl_verifier_store_get_policy(store, KL_VERIFIER_POLICY_MB, "web", &error));
	g_assert_no_error(error);

	names = kl_verifier_store_list_policy_names(store, KL_VERIFIER_POLICY_RUNTIME, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(names->len, ==, 2);
	g_assert_cmpstr(g_ptr_array_index(names, 0), ==, "db");
	g_assert_cmpstr(g_ptr_array_index(names, 1), ==, "web");

	/* Two agents, one copy of each policy. */
	a->ima_policy_id = runtime_id;
	a->mb_policy_id = mb_id;
	b->ima_policy_id = runtime_id;
	b->mb_policy_id = mb_id;
	put_ok(store, a);
	put_ok(store, b);
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM allowlists"), ==, 2);
	g_assert_cmpint(query_int(store, "SELECT count(DISTINCT ima_policy_id) FROM verifiermain"),
			==,
			1);

	/* Replaced in place: the agents follow, the checksum follows the text. */
	g_free(runtime->policy);
	runtime->policy = g_strdup("{\"meta\": {\"version\": 1}}");
	g_assert_true(kl_verifier_store_replace_policy(store, runtime, &error));
	g_assert_no_error(error);
	got_a = get_ok(store, a->agent_id);
	got = kl_verifier_store_get_policy_by_id(store,
						 KL_VERIFIER_POLICY_RUNTIME,
						 got_a->ima_policy_id,
						 &error);
	g_assert_no_error(error);
	g_assert_cmpstr(got->policy, ==, runtime->policy);
	g_free(expected);
	expected = sha256_hex(runtime->policy);
	g_assert_cmpstr(got->checksum, ==, expected);
	g_clear_pointer(&got, kl_verifier_policy_free);
	g_free(other->name);
	other->name = g_strdup("missing");
	g_assert_false(kl_verifier_store_replace_policy(store, other, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_NOT_FOUND);
	g_clear_error(&error);

	/* In use: refused, until no agent references it. */
	g_assert_false(
		kl_verifier_store_delete_policy(store, KL_VERIFIER_POLICY_RUNTIME, "web", &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_CONFLICT);
	g_clear_error(&error);
	g_assert_false(kl_verifier_store_delete_policy(store, KL_VERIFIER_POLICY_MB, "fw", &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_CONFLICT);
	g_clear_error(&error);
	g_assert_true(kl_verifier_store_delete_agent(store, a->agent_id, NULL, &error));
	g_assert_false(
		kl_verifier_store_delete_policy(store, KL_VERIFIER_POLICY_RUNTIME, "web", &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_CONFLICT);
	g_clear_error(&error);
	b->ima_policy_id = KL_VERIFIER_NULL;
	b->mb_policy_id = KL_VERIFIER_NULL;
	put_ok(store, b);
	g_assert_true(
		kl_verifier_store_delete_policy(store, KL_VERIFIER_POLICY_RUNTIME, "web", &error));
	g_assert_no_error(error);
	g_assert_true(kl_verifier_store_delete_policy(store, KL_VERIFIER_POLICY_MB, "fw", &error));
	g_assert_no_error(error);
	g_assert_false(
		kl_verifier_store_delete_policy(store, KL_VERIFIER_POLICY_RUNTIME, "web", &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_null(
		kl_verifier_store_get_policy(store, KL_VERIFIER_POLICY_RUNTIME, "web", &error));
	g_assert_no_error(error);
}

/* An enrollment in the caller's transaction: a failed write undoes only itself. */
static void
test_policy_in_caller_transaction(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_test_dir_build(dir, KL_STORE_VERIFIER_FILE, NULL);
	g_autoptr(KlVerifierStore) store = open_ok(path);
	g_autoptr(KlVerifierPolicy) policy = runtime_policy("p", "{}");
	g_autoptr(KlVerifierAgent) agent = make_agent(20, 0);
	g_autoptr(KlStoreTransaction) tx = NULL;
	g_autoptr(GError) error = NULL;

	tx = kl_store_transaction_begin(kl_verifier_store_get_store(store), &error);
	g_assert_no_error(error);
	g_assert_true(kl_verifier_store_add_policy(store, policy, &agent->ima_policy_id, &error));
	g_assert_no_error(error);
	g_assert_false(kl_verifier_store_add_policy(store, policy, NULL, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_CONFLICT);
	g_clear_error(&error);
	put_ok(store, agent);
	g_clear_pointer(&tx, kl_store_transaction_free); /* rolled back */
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM allowlists"), ==, 0);
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM verifiermain"), ==, 0);

	tx = kl_store_transaction_begin(kl_verifier_store_get_store(store), &error);
	g_assert_true(kl_verifier_store_add_policy(store, policy, &agent->ima_policy_id, &error));
	put_ok(store, agent);
	g_assert_true(kl_store_transaction_commit(tx, &error));
	g_assert_no_error(error);
	g_assert_cmpint(query_int(store,
				  "SELECT count(*) FROM verifiermain JOIN allowlists "
				  "ON allowlists.id = ima_policy_id"),
			==,
			1);
}

static KlVerifierEvent *
finding(const gchar *agent_id, gint64 time)
{
	g_autofree gchar *event_id =
		g_strdup_printf("pcr_validation.invalid_pcr_%" G_GINT64_FORMAT, time % 24);
	return kl_verifier_event_new(KL_VERIFIER_EVENT_FINDING,
				     agent_id,
				     time,
				     event_id,
				     6,
				     "{\"message\": \"PCR mismatch\"}",
				     "PCR 15");
}

static void
add_events_ok(KlVerifierStore *store, GPtrArray *events)
{
	g_autoptr(GError) error = NULL;
	g_assert_true(kl_verifier_store_add_events(store, events, &error));
	g_assert_no_error(error);
}

static void
test_history(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_test_dir_build(dir, KL_STORE_VERIFIER_FILE, NULL);
	g_autoptr(KlVerifierStore) store = open_ok(path);
	g_autoptr(KlVerifierAgent) a = make_agent(30, 0);
	g_autoptr(KlVerifierAgent) b = make_agent(31, 0);
	g_autoptr(GPtrArray) batch =
		g_ptr_array_new_with_free_func((GDestroyNotify)kl_verifier_event_free);
	g_autoptr(GPtrArray) events = NULL;
	g_autoptr(GError) error = NULL;
	KlVerifierEvent *event;

	put_ok(store, a);
	put_ok(store, b);
	g_assert_cmpuint(kl_verifier_store_get_history_limit(store),
			 ==,
			 KL_VERIFIER_STORE_HISTORY_DEFAULT);
	kl_verifier_store_set_history_limit(store, 5);

	/* One at a time, then a batch of several agents and kinds. */
	for (gint64 t = 1; t <= 6; t++) {
		g_ptr_array_add(batch, finding(a->agent_id, 1000 + t));
		add_events_ok(store, batch);
		g_assert_cmpint(((KlVerifierEvent *)g_ptr_array_index(batch, 0))->id, >, 0);
		g_ptr_array_set_size(batch, 0);
	}
	for (gint64 t = 7; t <= 9; t++)
		g_ptr_array_add(batch, finding(a->agent_id, 1000 + t));
	g_ptr_array_add(batch, finding(b->agent_id, 500));
	g_ptr_array_add(batch,
			kl_verifier_event_new(KL_VERIFIER_EVENT_REVOCATION,
					      a->agent_id,
					      1010,
					      "pcr_validation.invalid_pcr_15",
					      6,
					      "{\"type\": \"revocation\"}",
					      NULL));
	add_events_ok(store, batch);
	g_ptr_array_set_size(batch, 0);

	/* Trimmed to the newest five, newest first. */
	g_assert_cmpint(query_int(store,
				  "SELECT count(*) FROM kl_events WHERE agent_id = 'agent-0030' "
				  "AND kind = 0"),
			==,
			5);
	events = kl_verifier_store_list_events(store,
					       a->agent_id,
					       KL_VERIFIER_EVENT_FINDING,
					       100,
					       &error);
	g_assert_no_error(error);
	g_assert_cmpuint(events->len, ==, 5);
	for (guint i = 0; i < events->len; i++) {
		event = g_ptr_array_index(events, i);
		g_assert_cmpint(event->time, ==, 1009 - (gint64)i);
		g_assert_cmpint(event->kind, ==, KL_VERIFIER_EVENT_FINDING);
		g_assert_cmpstr(event->agent_id, ==, a->agent_id);
		g_assert_cmpuint(event->severity, ==, 6);
		g_assert_cmpstr(event->subject, ==, "PCR 15");
		g_assert_cmpstr(event->context, ==, "{\"message\": \"PCR mismatch\"}");
		if (i > 0)
			g_assert_cmpint(event->id,
					<,
					((KlVerifierEvent *)g_ptr_array_index(events, i - 1))->id);
	}
	g_clear_pointer(&events, g_ptr_array_unref);
	events = kl_verifier_store_list_events(store,
					       a->agent_id,
					       KL_VERIFIER_EVENT_FINDING,
					       2,
					       &error);
	g_assert_cmpuint(events->len, ==, 2);
	g_assert_cmpint(((KlVerifierEvent *)g_ptr_array_index(events, 0))->time, ==, 1009);
	g_clear_pointer(&events, g_ptr_array_unref);

	/* Revocations are counted apart, and another agent keeps its own. */
	events = kl_verifier_store_list_events(store,
					       a->agent_id,
					       KL_VERIFIER_EVENT_REVOCATION,
					       100,
					       &error);
	g_assert_cmpuint(events->len, ==, 1);
	event = g_ptr_array_index(events, 0);
	g_assert_null(event->subject);
	g_assert_cmpstr(event->context, ==, "{\"type\": \"revocation\"}");
	g_clear_pointer(&events, g_ptr_array_unref);

	/* Fleet-wide since a time, newest first, bounded. */
	events = kl_verifier_store_list_events_since(store, 1007, 100, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(events->len, ==, 4); /* 1010 revocation, 1009, 1008, 1007 */
	g_assert_cmpint(((KlVerifierEvent *)g_ptr_array_index(events, 0))->kind,
			==,
			KL_VERIFIER_EVENT_REVOCATION);
	g_assert_cmpint(((KlVerifierEvent *)g_ptr_array_index(events, 3))->time, ==, 1007);
	g_clear_pointer(&events, g_ptr_array_unref);
	events = kl_verifier_store_list_events_since(store, 0, 3, &error);
	g_assert_cmpuint(events->len, ==, 3);
	g_clear_pointer(&events, g_ptr_array_unref);
	events = kl_verifier_store_list_events_since(store, 0, 100, &error);
	g_assert_cmpuint(events->len, ==, 7);
	g_assert_cmpstr(((KlVerifierEvent *)g_ptr_array_index(events, 6))->agent_id,
			==,
			b->agent_id);
	g_clear_pointer(&events, g_ptr_array_unref);

	/* An agent that is gone: nothing of the batch is written. */
	g_ptr_array_add(batch, finding(b->agent_id, 2000));
	g_ptr_array_add(batch, finding("agent-gone", 2001));
	g_assert_false(kl_verifier_store_add_events(store, batch, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM kl_events WHERE time >= 2000"),
			==,
			0);

	/* Deleting the agent drops its history; a progress update keeps it. */
	g_assert_true(kl_verifier_store_update_progress(store, a, NULL, &error));
	put_ok(store, a);
	g_assert_cmpint(
		query_int(store, "SELECT count(*) FROM kl_events WHERE agent_id = 'agent-0030'"),
		==,
		6);
	g_assert_true(kl_verifier_store_delete_agent(store, a->agent_id, NULL, &error));
	g_assert_cmpint(
		query_int(store, "SELECT count(*) FROM kl_events WHERE agent_id = 'agent-0030'"),
		==,
		0);
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM kl_events"), ==, 1);
}

/*
 * The DDL SQLAlchemy emits for upstream's models on sqlite, of a release
 * before push mode (no accept_attestations, consecutive_attestation_failures),
 * with Alembic's table and a row written the way upstream writes it.
 */
static const gchar upstream_ddl[] =
	"CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
	"CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));"
	"INSERT INTO alembic_version VALUES ('8c0f8ded1f90');"
	"CREATE TABLE allowlists (id INTEGER NOT NULL, name VARCHAR(255) NOT NULL, "
	"checksum VARCHAR(128), generator INTEGER, tpm_policy TEXT, ima_policy TEXT, "
	"PRIMARY KEY (id), CONSTRAINT uniq_allowlists0name UNIQUE (name));"
	"CREATE TABLE mbpolicies (id INTEGER NOT NULL, name VARCHAR(255) NOT NULL, "
	"mb_policy TEXT, PRIMARY KEY (id), CONSTRAINT uniq_mbpolicies_name UNIQUE (name));"
	"CREATE TABLE verifiermain (agent_id VARCHAR(80) NOT NULL, v VARCHAR(45), "
	"ip VARCHAR(15), verifier_id VARCHAR(80), verifier_ip VARCHAR(15), "
	"verifier_port INTEGER, port INTEGER, operational_state INTEGER, "
	"public_key VARCHAR(500), tpm_policy TEXT, meta_data VARCHAR(200), "
	"ima_policy_id INTEGER, ima_sign_verification_keys TEXT, mb_policy_id INTEGER, "
	"revocation_key VARCHAR(2800), accept_tpm_hash_algs TEXT, "
	"accept_tpm_encryption_algs TEXT, accept_tpm_signing_algs TEXT, "
	"hash_alg VARCHAR(10), enc_alg VARCHAR(10), sign_alg VARCHAR(10), boottime INTEGER, "
	"ima_pcrs TEXT, pcr10 BLOB, next_ima_ml_entry INTEGER, severity_level INTEGER, "
	"last_event_id VARCHAR(200), learned_ima_keyrings TEXT, supported_version VARCHAR(20), "
	"ak_tpm VARCHAR(500), mtls_cert VARCHAR(2048), attestation_count INTEGER, "
	"last_received_quote INTEGER, last_successful_attestation INTEGER, tpm_clockinfo TEXT, "
	"PRIMARY KEY (agent_id), FOREIGN KEY(ima_policy_id) REFERENCES allowlists (id), "
	"FOREIGN KEY(mb_policy_id) REFERENCES mbpolicies (id));"
	"INSERT INTO allowlists (id, name, checksum, generator, tpm_policy, ima_policy) "
	"VALUES (1, 'upstream-policy', 'abc', 3, '{}', '{\"meta\": {\"version\": 1}}');"
	"INSERT INTO mbpolicies (id, name, mb_policy) VALUES (1, 'upstream-mb', NULL);"
	"INSERT INTO verifiermain VALUES ('d432fbb3-d2f1-4a97-9ef7-75bd81c00000', "
	"'VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVV', '127.0.0.1', 'default', '127.0.0.1', "
	"8881, 9002, 3, NULL, '\"{\\\"mask\\\": \\\"0x400\\\"}\"', "
	"'{\"cert_serial\": 2}', 1, '', 1, '', '[\"sha512\", \"sha384\", \"sha256\"]', "
	"'[\"ecc\", \"rsa\"]', '[\"ecschnorr\", \"rsassa\"]', 'sha256', 'rsa', 'rsassa', "
	"1712345678, '[10]', X'00112233', 42, NULL, NULL, '{}', '2.1', 'AK==', NULL, 7, "
	"1712349999, 1712349998, '{\"clock\": 123456, \"resetCount\": 1, \"restartCount\": 2, "
	"\"safe\": 1}');";

static void
test_adopt_upstream(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_test_dir_build(dir, KL_STORE_VERIFIER_FILE, NULL);
	g_autoptr(KlVerifierStore) store = NULL;
	g_autoptr(KlVerifierAgent) agent = NULL;
	g_autoptr(KlVerifierPolicy) policy = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *id = "d432fbb3-d2f1-4a97-9ef7-75bd81c00000";
	const gchar *hash_algs[] = {"sha512", "sha384", "sha256", NULL};
	gboolean updated = FALSE;

	{
		g_autoptr(KlStore) raw = kl_store_open(path, &error);
		g_assert_no_error(error);
		g_assert_true(kl_store_exec(raw, upstream_ddl, "upstream's schema", &error));
		g_assert_no_error(error);
	}

	store = open_ok(path);
	g_assert_cmpuint(schema_version(store), ==, 2);
	agent = get_ok(store, id);
	g_assert_cmpstr(agent->v, ==, "VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVV");
	g_assert_cmpint(agent->port, ==, 9002);
	g_assert_cmpint(agent->operational_state, ==, KL_VERIFIER_STATE_GET_QUOTE);
	g_assert_null(agent->public_key);
	g_assert_cmpstr(agent->tpm_policy, ==, "{\"mask\": \"0x400\"}");
	g_assert_cmpstr(agent->meta_data, ==, "{\"cert_serial\": 2}");
	g_assert_cmpint(agent->ima_policy_id, ==, 1);
	g_assert_cmpint(agent->mb_policy_id, ==, 1);
	g_assert_true(g_strv_equal((const gchar *const *)agent->accept_tpm_hash_algs, hash_algs));
	g_assert_cmpstr(agent->accept_tpm_signing_algs[1], ==, "rsassa");
	g_assert_cmpint(agent->boottime, ==, 1712345678);
	g_assert_cmpuint(agent->ima_pcrs->len, ==, 1);
	g_assert_cmpint(g_array_index(agent->ima_pcrs, gint, 0), ==, 10);
	g_assert_cmpuint(g_bytes_get_size(agent->pcr10), ==, 4);
	g_assert_cmpint(agent->next_ima_ml_entry, ==, 42);
	g_assert_cmpint(agent->severity_level, ==, KL_VERIFIER_NULL);
	g_assert_null(agent->last_event_id);
	g_assert_cmpstr(agent->learned_ima_keyrings, ==, "{}");
	g_assert_cmpint(agent->attestation_count, ==, 7);
	g_assert_cmpint(agent->last_successful_attestation, ==, 1712349998);
	g_assert_true(agent->has_tpm_clockinfo);
	g_assert_cmpuint(agent->tpm_clockinfo.clock, ==, 123456);
	g_assert_cmpuint(agent->tpm_clockinfo.restart_count, ==, 2);
	g_assert_true(agent->tpm_clockinfo.safe);
	/* Columns of a later release, added: NULL reads as upstream's default. */
	g_assert_true(agent->accept_attestations);
	g_assert_cmpint(agent->consecutive_attestation_failures, ==, KL_VERIFIER_NULL);

	policy = kl_verifier_store_get_policy_by_id(store,
						    KL_VERIFIER_POLICY_RUNTIME,
						    agent->ima_policy_id,
						    &error);
	g_assert_no_error(error);
	g_assert_cmpstr(policy->name, ==, "upstream-policy");
	g_assert_cmpint(policy->generator, ==, 3);

	/* Upstream's data keeps working: progress, history, the policy guard. */
	agent->attestation_count = 8;
	g_assert_true(kl_verifier_store_update_progress(store, agent, &updated, &error));
	g_assert_no_error(error);
	g_assert_true(updated);
	g_assert_false(kl_verifier_store_delete_policy(store,
						       KL_VERIFIER_POLICY_MB,
						       "upstream-mb",
						       &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_CONFLICT);
	g_clear_error(&error);
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM alembic_version"), ==, 1);

	/* A second open migrates nothing and changes nothing. */
	g_clear_pointer(&store, kl_verifier_store_free);
	store = open_ok(path);
	g_assert_cmpuint(schema_version(store), ==, 2);
	g_clear_pointer(&agent, kl_verifier_agent_free);
	agent = get_ok(store, id);
	g_assert_cmpint(agent->attestation_count, ==, 8);
	g_assert_true(kl_store_check_integrity(kl_verifier_store_get_store(store), &error));
	g_assert_no_error(error);
}

static void
test_reopen(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_test_dir_build(dir, KL_STORE_VERIFIER_FILE, NULL);
	g_autoptr(KlVerifierStore) store = open_ok(path);
	g_autoptr(KlVerifierAgent) agent = make_agent(40, 3);
	g_autoptr(KlVerifierAgent) got = NULL;
	g_autofree gchar *schema = NULL;
	g_autofree gchar *schema_again = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_cmpuint(schema_version(store), ==, 2);
	put_ok(store, agent);
	schema = query_text(store, "SELECT group_concat(sql, ';') FROM sqlite_master");
	g_clear_pointer(&store, kl_verifier_store_free);

	store = open_ok(path);
	g_assert_cmpuint(schema_version(store), ==, 2);
	schema_again = query_text(store, "SELECT group_concat(sql, ';') FROM sqlite_master");
	g_assert_cmpstr(schema, ==, schema_again);
	got = get_ok(store, agent->agent_id);
	assert_agent_equal(agent, got);

	/* Another program's file is not taken. */
	g_clear_pointer(&store, kl_verifier_store_free);
	g_free(path);
	path = kl_test_dir_build(dir, "reg_data.sqlite", NULL);
	{
		g_autoptr(KlStore) raw = kl_store_open(path, &error);
		g_assert_true(kl_store_exec(raw,
					    "CREATE TABLE registrarmain (agent_id TEXT)",
					    "registrar",
					    &error));
	}
	g_assert_null(kl_verifier_store_open(path, &error));
	g_assert_error(error, KL_STORE_ERROR, KL_STORE_ERROR_SCHEMA);
}

/* One round of the crash test: an agent's row and its newest event, together. */
static gboolean
crash_round(KlVerifierStore *store, guint index, gint64 round)
{
	g_autoptr(KlVerifierAgent) agent = make_agent(index, round);
	g_autoptr(GPtrArray) events =
		g_ptr_array_new_with_free_func((GDestroyNotify)kl_verifier_event_free);
	g_autoptr(KlStoreTransaction) tx =
		kl_store_transaction_begin(kl_verifier_store_get_store(store), NULL);

	if (tx == NULL || !kl_verifier_store_put_agent(store, agent, NULL))
		return FALSE;
	g_ptr_array_add(events, finding(agent->agent_id, round));
	if (!kl_verifier_store_add_events(store, events, NULL))
		return FALSE;
	return kl_store_transaction_commit(tx, NULL);
}

#define CRASH_AGENTS 20

static void
test_crash(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_test_dir_build(dir, KL_STORE_VERIFIER_FILE, NULL);
	g_autoptr(KlVerifierStore) store = open_ok(path);
	g_autoptr(GPtrArray) agents = NULL;
	g_autoptr(GError) error = NULL;
	gint fds[2];
	gchar byte = 0;
	gint status = 0;
	pid_t pid;

	g_clear_pointer(&store, kl_verifier_store_free);
	g_assert_cmpint(pipe(fds), ==, 0);
	pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		/* The child: no GLib test machinery, only an exit status. */
		KlVerifierStore *child = kl_verifier_store_open(path, NULL);
		close(fds[0]);
		if (child == NULL)
			_exit(2);
		kl_verifier_store_set_history_limit(child, 3);
		for (gint64 round = 1;; round++) {
			for (guint i = 0; i < CRASH_AGENTS; i++) {
				if (!crash_round(child, i, round))
					_exit(3);
			}
			if (round == 3 && write(fds[1], "w", 1) != 1)
				_exit(4);
		}
	}
	close(fds[1]);
	g_assert_cmpint(read(fds[0], &byte, 1), ==, 1);
	close(fds[0]);
	g_usleep(50 * 1000); /* killed somewhere in later rounds, mid-transaction or not */
	g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_false(WIFEXITED(status)); /* else the exit code says which step failed */
	g_assert_cmpint(WTERMSIG(status), ==, SIGKILL);

	store = open_ok(path);
	g_assert_true(kl_store_check_integrity(kl_verifier_store_get_store(store), &error));
	g_assert_no_error(error);
	agents = kl_verifier_store_list_agents(store, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(agents->len, ==, CRASH_AGENTS);
	for (guint i = 0; i < agents->len; i++) {
		KlVerifierAgent *agent = g_ptr_array_index(agents, i);
		g_autoptr(KlVerifierAgent) expected = make_agent(i, agent->attestation_count);
		g_autoptr(GPtrArray) events = NULL;

		/* Every column of one round: no row half-written. */
		g_assert_cmpint(agent->attestation_count, >=, 3);
		assert_agent_equal(expected, agent);
		/* The row and its event were one transaction. */
		events = kl_verifier_store_list_events(store,
						       agent->agent_id,
						       KL_VERIFIER_EVENT_FINDING,
						       10,
						       &error);
		g_assert_no_error(error);
		g_assert_cmpuint(events->len, ==, 3);
		g_assert_cmpint(((KlVerifierEvent *)g_ptr_array_index(events, 0))->time,
				==,
				agent->attestation_count);
	}
}

#define PERF_UPDATES 10000
#define PERF_AGENTS  100
#define PERF_COMMITS 300

/*
 * 10 000 progress updates as a verifier makes them: 100 agents, each main
 * loop turn's updates in one transaction.  A few hundred committed one by
 * one give the per-commit cost (synchronous=FULL waits for the disk), which
 * would make the 10 000 take minutes on a slow disk.
 */
static void
test_progress_performance(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *path = kl_test_dir_build(dir, KL_STORE_VERIFIER_FILE, NULL);
	g_autoptr(KlVerifierStore) store = open_ok(path);
	g_autoptr(GPtrArray) agents =
		g_ptr_array_new_with_free_func((GDestroyNotify)kl_verifier_agent_free);
	g_autoptr(KlVerifierAgent) got = NULL;
	g_autoptr(GError) error = NULL;
	gboolean updated[PERF_AGENTS];
	gint64 start;
	gint64 batched;
	gint64 each;

	for (guint i = 0; i < PERF_AGENTS; i++) {
		g_ptr_array_add(agents, make_agent(i, 0));
		put_ok(store, g_ptr_array_index(agents, i));
	}
	start = g_get_monotonic_time();
	for (gint64 round = 1; round <= PERF_UPDATES / PERF_AGENTS; round++) {
		for (guint i = 0; i < PERF_AGENTS; i++) {
			KlVerifierAgent *agent = g_ptr_array_index(agents, i);
			agent->attestation_count = round;
			agent->last_received_quote = 1700000000 + round;
			updated[i] = FALSE;
		}
		g_assert_true(
			kl_verifier_store_update_progress_many(store, agents, updated, &error));
		g_assert_no_error(error);
		for (guint i = 0; i < PERF_AGENTS; i++)
			g_assert_true(updated[i]);
	}
	batched = g_get_monotonic_time() - start;
	got = get_ok(store, "agent-0099");
	g_assert_cmpint(got->attestation_count, ==, PERF_UPDATES / PERF_AGENTS);

	start = g_get_monotonic_time();
	for (gint64 i = 1; i <= PERF_COMMITS; i++) {
		KlVerifierAgent *agent = g_ptr_array_index(agents, 0);
		agent->attestation_count = i;
		assert_progress(store, agent, TRUE);
	}
	each = g_get_monotonic_time() - start;

	g_test_message("%d progress updates, %d per transaction: %.3f s (%.1f us per update); "
		       "committed one by one: %.1f us per update (%.1f s for %d)",
		       PERF_UPDATES,
		       PERF_AGENTS,
		       batched / 1e6,
		       (gdouble)batched / PERF_UPDATES,
		       (gdouble)each / PERF_COMMITS,
		       (gdouble)each / PERF_COMMITS * PERF_UPDATES / 1e6,
		       PERF_UPDATES);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/verifier-store/agent/round-trip", test_agent_round_trip);
	g_test_add_func("/verifier-store/agent/errors-keep-secrets",
			test_agent_errors_keep_secrets);
	g_test_add_func("/verifier-store/agent/progress-guard", test_agent_progress_guard);
	g_test_add_func("/verifier-store/policy/shared", test_policy_shared);
	g_test_add_func("/verifier-store/policy/caller-transaction",
			test_policy_in_caller_transaction);
	g_test_add_func("/verifier-store/history", test_history);
	g_test_add_func("/verifier-store/adopt-upstream", test_adopt_upstream);
	g_test_add_func("/verifier-store/reopen", test_reopen);
	g_test_add_func("/verifier-store/crash", test_crash);
	/* a measurement, not a check: only with -m perf (speed targets live
	 * in tests/bench) */
	if (g_test_perf())
		g_test_add_func("/verifier-store/progress-performance", test_progress_performance);
	return g_test_run();
}
