/*
 * Tests of kl-runtime-policy: upstream's policies, every validation rule
 * with the member it names, excludes with Python re.match semantics and a
 * catastrophic regex, digest lookups, keyrings and IMA key ids (checked
 * against ids computed with the openssl CLI), DSSE, the builder and the
 * legacy allowlist and exclude formats.
 */
#include "config.h"

#include <openssl/x509.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "kl-error.h"
#include "kl-runtime-policy.h"
#include "kl-test-data.h"
#include "kl-x509.h"

#define SHA1_BASE  "b261df1756a43b2d35c8ca13389c026840961d36"
#define SHA256_A   "35f6036dcbb4d819a90cc3282659754ab1a225e60f593a209c27b80174ba3180"
#define SHA256_B   "96d7fae8adb7286a419a88f78c13d35fb782d63df654b7db56f154765698b754"
#define SHA1_OTHER "009b0d8ee8fb8d890fa70f9c8e02b3f1eded1509"

/* The key ids of the test keys, from the openssl CLI:
 * openssl rsa -pubin -RSAPublicKey_out -outform DER | sha1sum (last 8)
 * openssl pkey -pubin -outform DER | tail -c 65 | sha1sum (last 8) */
#define RSA_KEYID 0xa687231bu
#define EC_KEYID  0xe6743191u

static KlRuntimePolicyLookup
lookup(KlRuntimePolicy *policy, KlRuntimePolicyMap map, const gchar *name, const gchar *digest)
{
	g_autoptr(GBytes) bytes = kl_test_hex(digest);
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(bytes, &len);
	return kl_runtime_policy_lookup(policy, map, name, data, len);
}

/* A complete v1 policy with @member's value replaced by @value (raw JSON);
 * @member NULL keeps all, @value NULL drops @member. */
static gchar *
policy_with(const gchar *member, const gchar *value)
{
	const struct {
		const gchar *name;
		const gchar *value;
	} members[] = {
		{"meta", "{\"version\": 1, \"generator\": 3, \"timestamp\": \"now\"}"},
		{"release", "0"},
		{"digests", "{\"/usr/bin/bash\": [\"" SHA1_BASE "\", \"" SHA256_A "\"]}"},
		{"excludes", "[\"/tmp/.*\"]"},
		{"keyrings", "{\".ima\": [\"" SHA256_B "\"]}"},
		{"ima",
		 "{\"ignored_keyrings\": [\".builtin_trusted_keys\"], \"log_hash_alg\": "
		 "\"sha1\", \"dm_policy\": null}"},
		{"ima-buf", "{\"kernel_version\": [\"" SHA1_OTHER "\"]}"},
		{"verification-keys", "\"\""},
	};
	GString *out = g_string_new("{");
	gboolean first = TRUE;

	for (guint i = 0; i < G_N_ELEMENTS(members); i++) {
		const gchar *v = members[i].value;
		if (g_strcmp0(member, members[i].name) == 0) {
			if (value == NULL)
				continue;
			v = value;
		}
		g_string_append_printf(out, "%s\"%s\": %s", first ? "" : ", ", members[i].name, v);
		first = FALSE;
	}
	g_string_append_c(out, '}');
	return g_string_free(out, FALSE);
}

static KlRuntimePolicy *
policy_from_text(const gchar *text, GError **error)
{
	return kl_runtime_policy_new_from_json(text, strlen(text), error);
}

static void
test_upstream_policies(void)
{
	const gchar *files[] = {"policy-sha1", "policy-sha256"};
	const gchar *digests[] = {SHA1_BASE, SHA256_A};

	for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(KlRuntimePolicy) policy = NULL;
		g_autofree gchar *expected_checksum = NULL;
		gsize len = 0;
		g_autofree gchar *data = kl_test_load_data(&len, "ima", files[i], NULL);
		gsize doc_len = 0;
		const gchar *doc;

		policy = kl_runtime_policy_new_from_json(data, len, &error);
		g_assert_no_error(error);
		g_assert_nonnull(policy);
		/* GLib's own SHA-256, independent of kl-crypto */
		expected_checksum =
			g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)data, len);
		g_assert_cmpstr(kl_runtime_policy_get_checksum(policy), ==, expected_checksum);
		doc = g_bytes_get_data(kl_runtime_policy_get_document(policy), &doc_len);
		g_assert_cmpmem(doc, doc_len, data, len);
		g_assert_cmpint(kl_runtime_policy_get_generator(policy),
				==,
				KL_RUNTIME_POLICY_GENERATOR_LEGACY_ALLOWLIST);
		g_assert_true(kl_runtime_policy_has_runtime_policy(policy));
		g_assert_cmpint(kl_runtime_policy_get_release(policy), ==, 0);
		g_assert_cmpstr(kl_runtime_policy_get_log_hash_alg(policy), ==, "sha1");
		g_assert_cmpuint(
			kl_runtime_policy_get_n_entries(policy, KL_RUNTIME_POLICY_MAP_DIGESTS),
			==,
			1);
		g_assert_cmpint(lookup(policy,
				       KL_RUNTIME_POLICY_MAP_DIGESTS,
				       "/base_policy_data",
				       digests[i]),
				==,
				KL_RUNTIME_POLICY_LOOKUP_MATCH);
		g_assert_cmpint(lookup(policy,
				       KL_RUNTIME_POLICY_MAP_DIGESTS,
				       "/base_policy_data",
				       SHA256_B),
				==,
				KL_RUNTIME_POLICY_LOOKUP_MISMATCH);
		g_assert_cmpint(lookup(policy, KL_RUNTIME_POLICY_MAP_DIGESTS, "/other", digests[i]),
				==,
				KL_RUNTIME_POLICY_LOOKUP_NOT_LISTED);
		/* keyrings and ima-buf are separate maps */
		g_assert_cmpint(lookup(policy,
				       KL_RUNTIME_POLICY_MAP_KEYRINGS,
				       "/base_policy_data",
				       digests[i]),
				==,
				KL_RUNTIME_POLICY_LOOKUP_NOT_LISTED);
		g_assert_false(kl_runtime_policy_is_excluded(policy, "/base_policy_data"));
		g_assert_cmpuint(kl_runtime_policy_get_verification_keys(policy)->len, ==, 0);
	}
}

static void
test_lookups(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = policy_with(NULL, NULL);
	g_autoptr(KlRuntimePolicy) policy = policy_from_text(text, &error);
	g_autoptr(GPtrArray) listed = NULL;
	g_autoptr(KlRuntimePolicy) extra = NULL;
	guint8 prefix[20];

	g_assert_no_error(error);
	/* digests of different lengths under one path */
	g_assert_cmpint(lookup(policy, KL_RUNTIME_POLICY_MAP_DIGESTS, "/usr/bin/bash", SHA1_BASE),
			==,
			KL_RUNTIME_POLICY_LOOKUP_MATCH);
	g_assert_cmpint(lookup(policy, KL_RUNTIME_POLICY_MAP_DIGESTS, "/usr/bin/bash", SHA256_A),
			==,
			KL_RUNTIME_POLICY_LOOKUP_MATCH);
	/* a prefix of a listed digest is not a match */
	memcpy(prefix,
	       "\x35\xf6\x03\x6d\xcb\xb4\xd8\x19\xa9\x0c\xc3\x28\x26\x59\x75\x4a\xb1\xa2\x25\xe6",
	       20);
	g_assert_cmpint(kl_runtime_policy_lookup(policy,
						 KL_RUNTIME_POLICY_MAP_DIGESTS,
						 "/usr/bin/bash",
						 prefix,
						 sizeof(prefix)),
			==,
			KL_RUNTIME_POLICY_LOOKUP_MISMATCH);
	g_assert_cmpint(lookup(policy, KL_RUNTIME_POLICY_MAP_KEYRINGS, ".ima", SHA256_B),
			==,
			KL_RUNTIME_POLICY_LOOKUP_MATCH);
	g_assert_cmpint(lookup(policy, KL_RUNTIME_POLICY_MAP_KEYRINGS, ".ima", SHA256_A),
			==,
			KL_RUNTIME_POLICY_LOOKUP_MISMATCH);
	g_assert_cmpint(lookup(policy, KL_RUNTIME_POLICY_MAP_IMA_BUF, "kernel_version", SHA1_OTHER),
			==,
			KL_RUNTIME_POLICY_LOOKUP_MATCH);
	g_assert_cmpint(lookup(policy, KL_RUNTIME_POLICY_MAP_IMA_BUF, ".ima", SHA256_B),
			==,
			KL_RUNTIME_POLICY_LOOKUP_NOT_LISTED);

	listed = kl_runtime_policy_get_digests_hex(policy,
						   KL_RUNTIME_POLICY_MAP_DIGESTS,
						   "/usr/bin/bash");
	g_assert_nonnull(listed);
	g_assert_cmpuint(listed->len, ==, 2);
	g_assert_cmpstr(g_ptr_array_index(listed, 0), ==, SHA1_BASE);
	g_assert_cmpstr(g_ptr_array_index(listed, 1), ==, SHA256_A);
	g_assert_null(
		kl_runtime_policy_get_digests_hex(policy, KL_RUNTIME_POLICY_MAP_DIGESTS, "/nope"));

	/* ignored keyrings, and "*" for all of them */
	g_assert_true(kl_runtime_policy_is_keyring_ignored(policy, ".builtin_trusted_keys"));
	g_assert_false(kl_runtime_policy_is_keyring_ignored(policy, ".ima"));
	g_free(text);
	text = policy_with("ima",
			   "{\"ignored_keyrings\": [\"*\"], \"log_hash_alg\": \"sha256\", "
			   "\"dm_policy\": null}");
	extra = policy_from_text(text, &error);
	g_assert_no_error(error);
	g_assert_true(kl_runtime_policy_is_keyring_ignored(extra, ".ima"));
	g_assert_true(kl_runtime_policy_is_keyring_ignored(extra, "anything"));
	g_assert_cmpstr(kl_runtime_policy_get_log_hash_alg(extra), ==, "sha256");
}

static void
test_refcount(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = policy_with(NULL, NULL);
	KlRuntimePolicy *policy = policy_from_text(text, &error);
	KlRuntimePolicy *shared;

	g_assert_no_error(error);
	shared = kl_runtime_policy_ref(policy);
	g_assert_true(shared == policy);
	kl_runtime_policy_unref(policy);
	/* still alive through the second reference */
	g_assert_true(kl_runtime_policy_is_excluded(shared, "/tmp/x"));
	kl_runtime_policy_unref(shared);
}

static void
test_generator(void)
{
	const gchar *empty = "{\"meta\": {\"version\": 1, \"generator\": 1}, \"release\": 0, "
			     "\"digests\": {}, \"excludes\": [], \"keyrings\": {}, \"ima\": "
			     "{\"ignored_keyrings\": [], \"log_hash_alg\": \"sha1\", "
			     "\"dm_policy\": null}, \"ima-buf\": {}, \"verification-keys\": \"\"}";
	g_autoptr(GError) error = NULL;
	g_autoptr(KlRuntimePolicy) policy = policy_from_text(empty, &error);

	g_assert_no_error(error);
	g_assert_cmpint(kl_runtime_policy_get_generator(policy),
			==,
			KL_RUNTIME_POLICY_GENERATOR_EMPTY_ALLOWLIST);
	g_assert_false(kl_runtime_policy_has_runtime_policy(policy));
	g_assert_false(kl_runtime_policy_is_excluded(policy, "/anything"));
	g_assert_cmpuint(kl_runtime_policy_get_n_entries(policy, KL_RUNTIME_POLICY_MAP_DIGESTS),
			 ==,
			 0);
}

static void
test_excludes(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text =
		policy_with("excludes",
			    "[\"/tmp/.*\", \"^/var/log/\", \"boot\", \"/opt/[a-c]+$\", "
			    "\"/home/\\\\w+/\\\\.cache/\"]");
	g_autoptr(KlRuntimePolicy) policy = policy_from_text(text, &error);
	const struct {
		const gchar *path;
		gboolean excluded;
	} cases[] = {
		{"/tmp/foo", TRUE},
		{"/tmp/", TRUE},
		{"/var/log/messages", TRUE},
		/* anchored at the start, like re.match */
		{"/usr/tmp/foo", FALSE},
		{"/x/var/log/a", FALSE},
		/* but not a full match: a prefix is enough */
		{"bootstrap", TRUE},
		{"/boot", FALSE},
		{"/opt/abc", TRUE},
		{"/opt/abcd", FALSE},
		/* \w is Unicode-aware, as in Python 3 */
		{"/home/jos\xc3\xa9/.cache/x", TRUE},
		{"/home/a-b/.cache/x", FALSE},
		{"/usr/bin/bash", FALSE},
		{"", FALSE},
	};

	g_assert_no_error(error);
	g_assert_cmpuint(g_strv_length((gchar **)kl_runtime_policy_get_excludes(policy)), ==, 5);
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		gboolean excluded = !cases[i].excluded;
		g_autoptr(GError) match_error = NULL;
		g_test_message("%s", cases[i].path);
		g_assert_cmpint(kl_runtime_policy_is_excluded(policy, cases[i].path),
				==,
				cases[i].excluded);
		g_assert_true(kl_runtime_policy_match_exclude(policy,
							      cases[i].path,
							      &excluded,
							      &match_error));
		g_assert_no_error(match_error);
		g_assert_cmpint(excluded, ==, cases[i].excluded);
	}
}

static void
test_excludes_hostile(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = NULL;
	g_autoptr(KlRuntimePolicy) policy = NULL;
	g_autoptr(GString) path = g_string_new(NULL);
	gboolean excluded = TRUE;
	gint64 start;

	/* an invalid exclude is named */
	text = policy_with("excludes", "[\"/ok\", \"/tmp/(unclosed\"]");
	g_assert_null(policy_from_text(text, &error));
	g_assert_error(error, KL_RUNTIME_POLICY_ERROR, KL_RUNTIME_POLICY_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "excludes[1]"));
	g_clear_error(&error);
	g_free(text);

	/* each one alone is valid, together they are not: a duplicate group name */
	text = policy_with("excludes", "[\"(?P<a>x)\", \"(?P<a>y)\"]");
	g_assert_null(policy_from_text(text, &error));
	g_assert_error(error, KL_RUNTIME_POLICY_ERROR, KL_RUNTIME_POLICY_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "excludes"));
	g_clear_error(&error);
	g_free(text);

	/* catastrophic backtracking hits PCRE2's match limit: not excluded,
	 * and the caller can tell why */
	text = policy_with("excludes", "[\"(a+)+$\"]");
	policy = policy_from_text(text, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < 40; i++)
		g_string_append_c(path, 'a');
	g_string_append_c(path, '!');
	start = g_get_monotonic_time();
	g_assert_false(kl_runtime_policy_match_exclude(policy, path->str, &excluded, &error));
	g_assert_error(error, KL_RUNTIME_POLICY_ERROR, KL_RUNTIME_POLICY_ERROR_MATCH);
	g_assert_false(excluded);
	g_clear_error(&error);
	g_assert_false(kl_runtime_policy_is_excluded(policy, path->str));
	g_assert_cmpint(g_get_monotonic_time() - start, <, 30 * G_USEC_PER_SEC);
	/* and ordinary paths still match */
	g_assert_true(kl_runtime_policy_is_excluded(policy, "aaa"));

	/* a path that is not UTF-8 is never excluded */
	g_assert_false(kl_runtime_policy_match_exclude(policy, "a\xff", &excluded, &error));
	g_assert_error(error, KL_RUNTIME_POLICY_ERROR, KL_RUNTIME_POLICY_ERROR_MATCH);
	g_assert_false(excluded);
}

static void
test_invalid(void)
{
	const struct {
		const gchar *member;
		const gchar *value; /* NULL: member missing */
		const gchar *message;
	} cases[] = {
		{"meta", NULL, "'meta' is missing"},
		{"release", NULL, "'release' is missing"},
		{"digests", NULL, "'digests' is missing"},
		{"excludes", NULL, "'excludes' is missing"},
		{"keyrings", NULL, "'keyrings' is missing"},
		{"ima", NULL, "'ima' is missing"},
		{"ima-buf", NULL, "'ima-buf' is missing"},
		{"verification-keys", NULL, "'verification-keys' is missing"},
		{"meta", "[]", "member 'meta': expected an object"},
		{"meta", "{\"generator\": 3}", "meta: member 'version' is missing"},
		{"meta", "{\"version\": 1, \"generator\": 4}", "meta: member 'generator': 4"},
		{"meta", "{\"version\": -1, \"generator\": 3}", "meta: member 'version': -1"},
		{"meta", "{\"version\": 1, \"generator\": \"3\"}", "expected an integer"},
		{"meta", "{\"version\": 1, \"generator\": 3, \"timestamp\": 5}", "'timestamp'"},
		{"release", "-1", "member 'release': -1"},
		{"release", "1.5", "member 'release': expected an integer"},
		{"digests", "[]", "member 'digests': expected an object"},
		{"digests",
		 "{\"/usr/bin/bash\": [\"" SHA1_BASE "\", \"" SHA1_BASE "x\"]}",
		 "digests./usr/bin/bash[1]: not a lowercase hex digest of 40–128 characters"},
		{"digests",
		 "{\"/usr/bin/bash\": [\"B261DF1756A43B2D35C8CA13389C026840961D36\"]}",
		 "digests./usr/bin/bash[0]: not a lowercase hex"},
		{"digests", "{\"/a\": [\"abcd\"]}", "digests./a[0]: not a lowercase hex"},
		{"digests",
		 "{\"/a\": [\"" SHA1_BASE "0\"]}", /* 41 characters */
		 "digests./a[0]: not a lowercase hex"},
		{"digests", "{\"/a\": []}", "digests./a: the digest list is empty"},
		{"digests", "{\"/a\": \"" SHA1_BASE "\"}", "digests./a: expected an array"},
		{"digests", "{\"/a\": [5]}", "digests./a[0]: expected a string"},
		{"keyrings", "{\".ima\": [null]}", "keyrings..ima[0]: expected a string"},
		{"ima-buf", "{\"x\": [\"zz\"]}", "ima-buf.x[0]: not a lowercase hex"},
		{"excludes", "[1]", "member 'excludes'[0]: expected a string"},
		{"excludes", "\"/tmp\"", "member 'excludes': expected an array"},
		{"ima",
		 "{\"ignored_keyrings\": [], \"log_hash_alg\": \"md5\", \"dm_policy\": null}",
		 "ima.log_hash_alg: 'md5' is not one of"},
		{"ima",
		 "{\"ignored_keyrings\": [], \"log_hash_alg\": \"sha1\", \"dm_policy\": {}}",
		 "ima.dm_policy: must be null"},
		{"ima",
		 "{\"ignored_keyrings\": [], \"log_hash_alg\": \"sha1\"}",
		 "ima.dm_policy: missing"},
		{"ima",
		 "{\"ignored_keyrings\": {}, \"log_hash_alg\": \"sha1\", \"dm_policy\": null}",
		 "ima: member 'ignored_keyrings': expected an array"},
		{"verification-keys", "{}", "member 'verification-keys': expected a string"},
		{"verification-keys", "\"not json\"", "verification-keys: invalid JSON"},
		{"verification-keys",
		 "\"{\\\"keyids\\\": []}\"",
		 "verification-keys: member 'pubkeys' is missing"},
		{"verification-keys",
		 "\"{\\\"keyids\\\": [], \\\"pubkeys\\\": [\\\"!!!!\\\"]}\"",
		 "verification-keys: pubkeys[0]: not base64"},
		{"verification-keys",
		 "\"{\\\"keyids\\\": [], \\\"pubkeys\\\": [\\\"AAAA\\\"]}\"",
		 "verification-keys: pubkeys[0]: not a DER SubjectPublicKeyInfo"},
		{"verification-keys",
		 "\"{\\\"keyids\\\": [1], \\\"pubkeys\\\": []}\"",
		 "verification-keys: keyids: more key ids than pubkeys"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *text = policy_with(cases[i].member, cases[i].value);
		g_autoptr(KlRuntimePolicy) policy = policy_from_text(text, &error);

		g_test_message("case %u: %s", i, cases[i].message);
		g_assert_null(policy);
		g_assert_nonnull(error);
		g_assert_true(error->domain == KL_RUNTIME_POLICY_ERROR ||
			      error->domain == KL_ERROR);
		if (strstr(error->message, cases[i].message) == NULL)
			g_error("case %u: '%s' does not contain '%s'",
				i,
				error->message,
				cases[i].message);
		/* every error maps to 400 at the REST layer */
		kl_error_convert(&error);
		g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	}
}

static void
test_invalid_documents(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GString) deep = g_string_new(NULL);
	g_autofree gchar *huge = NULL;
	g_autofree gchar *not_object = g_strdup("[1, 2]");

	g_assert_null(kl_runtime_policy_new_from_json("", 0, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_null(policy_from_text("{\"meta\": ", &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_null(policy_from_text(not_object, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);

	/* deep nesting is refused before json-glib recurses */
	for (guint i = 0; i < 100000; i++)
		g_string_append_c(deep, '[');
	g_assert_null(kl_runtime_policy_new_from_json(deep->str, deep->len, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "nested"));
	g_clear_error(&error);

	/* too large: refused without being read (calloc'd pages stay untouched) */
	huge = g_malloc0((gsize)KL_RUNTIME_POLICY_MAX_SIZE + 1);
	g_assert_null(kl_runtime_policy_new_from_json(huge,
						      (gsize)KL_RUNTIME_POLICY_MAX_SIZE + 1,
						      &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_TOO_LARGE);
	g_clear_error(&error);

	/* a DSSE envelope needs a key */
	g_assert_null(policy_from_text("{\"payload\": \"e30=\", \"payloadType\": \"x\", "
				       "\"signatures\": []}",
				       &error));
	g_assert_error(error, KL_RUNTIME_POLICY_ERROR, KL_RUNTIME_POLICY_ERROR_SIGNED);
}

static void
test_large_policy(void)
{
	g_autoptr(KlRuntimePolicyBuilder) builder = kl_runtime_policy_builder_new();
	g_autoptr(KlRuntimePolicy) policy = NULL;
	g_autoptr(GError) error = NULL;
	const guint n = 5000;

	for (guint i = 0; i < n; i++) {
		g_autofree gchar *path = g_strdup_printf("/usr/lib/file-%u", i);
		g_autofree gchar *digest = g_strdup_printf("%040x", i);
		g_assert_true(kl_runtime_policy_builder_add_digest(builder,
								   KL_RUNTIME_POLICY_MAP_DIGESTS,
								   path,
								   digest,
								   &error));
	}
	policy = kl_runtime_policy_builder_build(builder, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(kl_runtime_policy_get_n_entries(policy, KL_RUNTIME_POLICY_MAP_DIGESTS),
			 ==,
			 n);
	g_assert_cmpint(lookup(policy,
			       KL_RUNTIME_POLICY_MAP_DIGESTS,
			       "/usr/lib/file-4242",
			       "0000000000000000000000000000000000001092"),
			==,
			KL_RUNTIME_POLICY_LOOKUP_MATCH);
}

static gchar *
keyring_json(void)
{
	return kl_test_load_data(NULL, "ima", "ima-keyring.json", NULL);
}

static void
test_verification_keys(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *json = keyring_json();
	g_autoptr(GPtrArray) keys = kl_runtime_policy_parse_keyring(json, strlen(json), &error);
	g_autoptr(JsonNode) string = json_node_new(JSON_NODE_VALUE);
	g_autofree gchar *quoted = NULL;
	g_autofree gchar *text = NULL;
	g_autofree gchar *explicit_json = NULL;
	g_autofree gchar *explicit_quoted = NULL;
	g_autoptr(KlRuntimePolicy) policy = NULL;
	g_autoptr(GPtrArray) explicit_keys = NULL;
	KlRuntimePolicyKey *key;

	g_assert_no_error(error);
	g_assert_cmpuint(keys->len, ==, 2);
	key = g_ptr_array_index(keys, 0);
	g_assert_cmphex(key->keyid, ==, RSA_KEYID);
	g_assert_true(EVP_PKEY_is_a(key->key, "RSA"));
	key = g_ptr_array_index(keys, 1);
	g_assert_cmphex(key->keyid, ==, EC_KEYID);

	/* inside a policy, as a JSON string */
	json_node_set_string(string, json);
	quoted = json_to_string(string, FALSE);
	text = policy_with("verification-keys", quoted);
	policy = policy_from_text(text, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(kl_runtime_policy_get_verification_keys(policy)->len, ==, 2);
	key = g_ptr_array_index(kl_runtime_policy_get_verification_keys(policy), 1);
	g_assert_cmphex(key->keyid, ==, EC_KEYID);

	/* explicit key ids win, for the keys they are given for */
	explicit_json = g_strdup(json);
	g_assert_nonnull(strstr(explicit_json, "\"keyids\": []"));
	{
		g_autoptr(GString) s = g_string_new(explicit_json);
		g_string_replace(s, "\"keyids\": []", "\"keyids\": [4294967295]", 1);
		g_free(explicit_json);
		explicit_json = g_string_free(g_steal_pointer(&s), FALSE);
	}
	explicit_keys =
		kl_runtime_policy_parse_keyring(explicit_json, strlen(explicit_json), &error);
	g_assert_no_error(error);
	g_assert_cmphex(((KlRuntimePolicyKey *)g_ptr_array_index(explicit_keys, 0))->keyid,
			==,
			0xffffffffu);
	g_assert_cmphex(((KlRuntimePolicyKey *)g_ptr_array_index(explicit_keys, 1))->keyid,
			==,
			EC_KEYID);

	/* hostile keyrings */
	g_assert_null(kl_runtime_policy_parse_keyring("{\"keyids\": [4294967296], \"pubkeys\": "
						      "[\"AAAA\"]}",
						      44,
						      &error));
	g_assert_nonnull(error);
	g_clear_error(&error);
	g_assert_null(kl_runtime_policy_parse_keyring("[]", 2, &error));
	g_assert_nonnull(error);
	g_clear_error(&error);
	explicit_quoted = g_strdup("{\"keyids\": [\"1\"], \"pubkeys\": []}");
	g_assert_null(
		kl_runtime_policy_parse_keyring(explicit_quoted, strlen(explicit_quoted), &error));
	g_assert_nonnull(error);
}

static void
test_key_id_unsupported(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	guint32 keyid = 0;

	g_assert_nonnull(ed);
	g_assert_false(kl_runtime_policy_compute_key_id(ed, &keyid, &error));
	g_assert_error(error, KL_RUNTIME_POLICY_ERROR, KL_RUNTIME_POLICY_ERROR_INVALID);
}

/* Re-encodes the first signature of @envelope in the URL-safe alphabet. */
static gchar *
envelope_url_safe(const gchar *envelope)
{
	g_autoptr(GString) s = g_string_new(envelope);
	const gchar *sig = strstr(envelope, "\"sig\": \"");
	gsize start;

	g_assert_nonnull(sig);
	start = (gsize)(sig - envelope) + strlen("\"sig\": \"");
	for (gsize i = start; i < s->len && s->str[i] != '"'; i++) {
		if (s->str[i] == '+')
			s->str[i] = '-';
		else if (s->str[i] == '/')
			s->str[i] = '_';
	}
	return g_string_free(g_steal_pointer(&s), FALSE);
}

static void
test_dsse(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) key = kl_key_generate_ec("P-256", &error);
	g_autoptr(EVP_PKEY) other = kl_key_generate_ec("P-256", &error);
	g_autoptr(EVP_PKEY) rsa = kl_key_generate_rsa(2048, &error);
	g_autofree gchar *keyid = NULL;
	g_autofree gchar *pem = NULL;
	g_autofree gchar *expected_keyid = NULL;
	g_autofree gchar *envelope = NULL;
	g_autofree gchar *expected_checksum = NULL;
	g_autofree gchar *url_safe = NULL;
	g_autofree gchar *tampered = NULL;
	g_autoptr(KlRuntimePolicy) policy = NULL;
	g_autoptr(KlRuntimePolicy) policy2 = NULL;
	g_autoptr(GBytes) payload = NULL;
	gsize len = 0;
	g_autofree gchar *data = kl_test_load_data(&len, "ima", "policy-sha256", NULL);
	gsize doc_len = 0;
	const gchar *doc;

	g_assert_no_error(error);
	keyid = kl_runtime_policy_dsse_ecdsa_keyid(key, &error);
	g_assert_no_error(error);
	pem = kl_key_to_pem_public(key, &error);
	expected_keyid = g_compute_checksum_for_string(G_CHECKSUM_SHA256, pem, -1);
	g_assert_cmpstr(keyid, ==, expected_keyid);

	envelope = kl_runtime_policy_dsse_sign((const guint8 *)data, len, key, keyid, &error);
	g_assert_no_error(error);
	g_assert_true(g_str_has_prefix(envelope, "{\"payload\": \""));
	g_assert_nonnull(strstr(envelope,
				"\"payloadType\": \"application/vnd.keylime+json\", "
				"\"signatures\": [{\"keyid\": \""));
	g_assert_true(kl_runtime_policy_is_dsse(envelope, strlen(envelope)));
	g_assert_false(kl_runtime_policy_is_dsse(data, len));

	policy = kl_runtime_policy_new_from_dsse(envelope, strlen(envelope), key, &error);
	g_assert_no_error(error);
	/* checksum over the envelope received, document = the payload */
	expected_checksum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, envelope, -1);
	g_assert_cmpstr(kl_runtime_policy_get_checksum(policy), ==, expected_checksum);
	doc = g_bytes_get_data(kl_runtime_policy_get_document(policy), &doc_len);
	g_assert_cmpmem(doc, doc_len, data, len);
	g_assert_cmpint(
		lookup(policy, KL_RUNTIME_POLICY_MAP_DIGESTS, "/base_policy_data", SHA256_A),
		==,
		KL_RUNTIME_POLICY_LOOKUP_MATCH);

	/* URL-safe base64 is accepted too */
	url_safe = envelope_url_safe(envelope);
	policy2 = kl_runtime_policy_new_from_dsse(url_safe, strlen(url_safe), key, &error);
	g_assert_no_error(error);

	/* wrong key, RSA key, tampered payload, not signed */
	g_assert_null(kl_runtime_policy_new_from_dsse(envelope, strlen(envelope), other, &error));
	g_assert_error(error, KL_RUNTIME_POLICY_ERROR, KL_RUNTIME_POLICY_ERROR_SIGNATURE);
	g_clear_error(&error);
	g_assert_null(kl_runtime_policy_new_from_dsse(envelope, strlen(envelope), rsa, &error));
	g_assert_error(error, KL_RUNTIME_POLICY_ERROR, KL_RUNTIME_POLICY_ERROR_SIGNATURE);
	g_clear_error(&error);
	tampered = g_strdup(envelope);
	tampered[strlen("{\"payload\": \"") + 10] ^= 0x01;
	g_assert_null(kl_runtime_policy_new_from_dsse(tampered, strlen(tampered), key, &error));
	g_assert_nonnull(error);
	g_clear_error(&error);
	g_assert_null(kl_runtime_policy_new_from_dsse(data, len, key, &error));
	g_assert_error(error, KL_RUNTIME_POLICY_ERROR, KL_RUNTIME_POLICY_ERROR_SIGNATURE);
	g_clear_error(&error);
	g_assert_null(kl_runtime_policy_dsse_verify("{\"payload\": 1}", 14, key, &error));
	g_assert_nonnull(error);
	g_clear_error(&error);
	g_assert_null(kl_runtime_policy_dsse_verify("{\"payload\": \"e30=\", \"payloadType\": "
						    "\"x\", \"signatures\": [5]}",
						    58,
						    key,
						    &error));
	g_assert_nonnull(error);
	g_clear_error(&error);
	/* only EC keys sign */
	g_assert_null(kl_runtime_policy_dsse_sign((const guint8 *)"{}", 2, rsa, NULL, &error));
	g_assert_error(error, KL_RUNTIME_POLICY_ERROR, KL_RUNTIME_POLICY_ERROR_SIGNATURE);
	g_clear_error(&error);

	/* a signed payload that is not a valid policy is still refused */
	g_free(envelope);
	envelope = kl_runtime_policy_dsse_sign((const guint8 *)"{}", 2, key, NULL, &error);
	g_assert_no_error(error);
	g_assert_null(strstr(envelope, "keyid"));
	payload = kl_runtime_policy_dsse_verify(envelope, strlen(envelope), key, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(g_bytes_get_size(payload), ==, 2);
	g_assert_null(kl_runtime_policy_new_from_dsse(envelope, strlen(envelope), key, &error));
	g_assert_error(error, KL_ERROR, KL_ERROR_INVALID_ARGUMENT);
}

static void
test_dsse_x509_keyid(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) key = kl_key_generate_ec("P-256", &error);
	KlCertRequest request = {.common_name = "dsse_lib", .days = 30};
	g_autoptr(X509) cert = NULL;
	g_autofree gchar *keyid = NULL;
	g_autofree gchar *pem = NULL;
	g_autofree guchar *decoded = NULL;
	gsize decoded_len = 0;

	g_assert_no_error(error);
	request.usage = KL_CERT_USAGE_CLIENT;
	cert = kl_x509_issue(&request, key, NULL, key, &error);
	g_assert_no_error(error);
	keyid = kl_runtime_policy_dsse_x509_keyid(cert, &error);
	g_assert_no_error(error);
	pem = kl_x509_to_pem(cert, &error);
	decoded = g_base64_decode(keyid, &decoded_len);
	g_assert_cmpmem(decoded, decoded_len, pem, strlen(pem));
}

static void
test_builder(void)
{
	g_autoptr(KlRuntimePolicyBuilder) builder = kl_runtime_policy_builder_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *json = NULL;
	g_autoptr(KlRuntimePolicy) policy = NULL;
	g_autofree gchar *keys = keyring_json();
	const gchar *expected =
		"{\"meta\": {\"version\": 1, \"generator\": 3, \"timestamp\": \"2024-10-09 "
		"18:47:35.306609\"}, \"release\": 0, \"digests\": {\"/usr/bin/a\": [\"" SHA256_A
		"\", \"" SHA1_BASE "\"], \"/usr/bin/b\\u00e9 \\\"q\\\"\": [\"" SHA1_OTHER
		"\"], \"boot_aggregate\": [\"" SHA1_BASE "\"]}, \"excludes\": [\"/tmp/.*\", "
		"\"^/var/log/\"], \"keyrings\": {\".ima\": [\"" SHA256_B
		"\"]}, \"ima\": {\"ignored_keyrings\": [\".evm\"], \"log_hash_alg\": \"sha256\", "
		"\"dm_policy\": null}, \"ima-buf\": {\"kernel_version\": [\"" SHA1_OTHER
		"\"]}, \"verification-keys\": \"\"}";

	kl_runtime_policy_builder_set_timestamp(builder, "2024-10-09 18:47:35.306609");
	/* out of order, duplicated, upper case: sorted, de-duplicated, lower case */
	g_assert_true(kl_runtime_policy_builder_add_digest(builder,
							   KL_RUNTIME_POLICY_MAP_DIGESTS,
							   "/usr/bin/a",
							   SHA256_A,
							   &error));
	g_assert_true(
		kl_runtime_policy_builder_add_digest(builder,
						     KL_RUNTIME_POLICY_MAP_DIGESTS,
						     "/usr/bin/a",
						     "B261DF1756A43B2D35C8CA13389C026840961D36",
						     &error));
	g_assert_true(kl_runtime_policy_builder_add_digest(builder,
							   KL_RUNTIME_POLICY_MAP_DIGESTS,
							   "/usr/bin/a",
							   SHA1_BASE,
							   &error));
	g_assert_true(kl_runtime_policy_builder_add_digest(builder,
							   KL_RUNTIME_POLICY_MAP_DIGESTS,
							   "boot_aggregate",
							   SHA1_BASE,
							   &error));
	g_assert_true(kl_runtime_policy_builder_add_digest(builder,
							   KL_RUNTIME_POLICY_MAP_DIGESTS,
							   "/usr/bin/b\xc3\xa9 \"q\"",
							   SHA1_OTHER,
							   &error));
	g_assert_true(kl_runtime_policy_builder_add_digest(builder,
							   KL_RUNTIME_POLICY_MAP_KEYRINGS,
							   ".ima",
							   SHA256_B,
							   &error));
	g_assert_true(kl_runtime_policy_builder_add_digest(builder,
							   KL_RUNTIME_POLICY_MAP_IMA_BUF,
							   "kernel_version",
							   SHA1_OTHER,
							   &error));
	g_assert_true(kl_runtime_policy_builder_add_exclude(builder, "^/var/log/", &error));
	g_assert_true(kl_runtime_policy_builder_add_exclude(builder, "/tmp/.*", &error));
	g_assert_true(kl_runtime_policy_builder_add_exclude(builder, "/tmp/.*", &error));
	kl_runtime_policy_builder_add_ignored_keyring(builder, ".evm");
	g_assert_true(kl_runtime_policy_builder_set_log_hash_alg(builder, "sha256", &error));
	g_assert_no_error(error);

	json = kl_runtime_policy_builder_to_json(builder);
	g_assert_cmpstr(json, ==, expected);
	policy = kl_runtime_policy_builder_build(builder, &error);
	g_assert_no_error(error);
	g_assert_cmpint(lookup(policy,
			       KL_RUNTIME_POLICY_MAP_DIGESTS,
			       "/usr/bin/b\xc3\xa9 \"q\"",
			       SHA1_OTHER),
			==,
			KL_RUNTIME_POLICY_LOOKUP_MATCH);
	g_assert_true(kl_runtime_policy_is_excluded(policy, "/var/log/x"));
	g_assert_true(kl_runtime_policy_is_keyring_ignored(policy, ".evm"));
	g_assert_cmpstr(kl_runtime_policy_get_log_hash_alg(policy), ==, "sha256");

	/* refused input */
	g_assert_false(kl_runtime_policy_builder_add_digest(builder,
							    KL_RUNTIME_POLICY_MAP_DIGESTS,
							    "/x",
							    "not-hex",
							    &error));
	g_assert_error(error, KL_RUNTIME_POLICY_ERROR, KL_RUNTIME_POLICY_ERROR_INVALID);
	g_clear_error(&error);
	g_assert_false(kl_runtime_policy_builder_add_digest(builder,
							    KL_RUNTIME_POLICY_MAP_DIGESTS,
							    "/\xff",
							    SHA1_BASE,
							    &error));
	g_assert_error(error, KL_RUNTIME_POLICY_ERROR, KL_RUNTIME_POLICY_ERROR_INVALID);
	g_clear_error(&error);
	g_assert_false(kl_runtime_policy_builder_add_exclude(builder, "(", &error));
	g_assert_error(error, KL_RUNTIME_POLICY_ERROR, KL_RUNTIME_POLICY_ERROR_INVALID);
	g_clear_error(&error);
	g_assert_false(kl_runtime_policy_builder_set_log_hash_alg(builder, "md5", &error));
	g_assert_error(error, KL_RUNTIME_POLICY_ERROR, KL_RUNTIME_POLICY_ERROR_INVALID);
	g_clear_error(&error);
	g_assert_false(kl_runtime_policy_builder_set_verification_keys(builder, "{}", &error));
	g_assert_nonnull(error);
	g_clear_error(&error);

	/* verification keys survive the round trip */
	g_assert_true(kl_runtime_policy_builder_set_verification_keys(builder, keys, &error));
	g_clear_pointer(&policy, kl_runtime_policy_unref);
	policy = kl_runtime_policy_builder_build(builder, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(kl_runtime_policy_get_verification_keys(policy)->len, ==, 2);
}

static void
test_builder_merge(void)
{
	g_autoptr(KlRuntimePolicyBuilder) builder = kl_runtime_policy_builder_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = policy_with(NULL, NULL);
	g_autoptr(KlRuntimePolicy) base = policy_from_text(text, &error);
	g_autoptr(KlRuntimePolicy) merged = NULL;
	g_autoptr(GPtrArray) listed = NULL;

	g_assert_no_error(error);
	g_assert_true(kl_runtime_policy_builder_add_digest(builder,
							   KL_RUNTIME_POLICY_MAP_DIGESTS,
							   "/usr/bin/bash",
							   SHA1_OTHER,
							   &error));
	g_assert_true(kl_runtime_policy_builder_add_policy(builder, base, &error));
	merged = kl_runtime_policy_builder_build(builder, &error);
	g_assert_no_error(error);
	listed = kl_runtime_policy_get_digests_hex(merged,
						   KL_RUNTIME_POLICY_MAP_DIGESTS,
						   "/usr/bin/bash");
	g_assert_cmpuint(listed->len, ==, 3);
	g_assert_true(kl_runtime_policy_is_excluded(merged, "/tmp/a"));
	g_assert_true(kl_runtime_policy_is_keyring_ignored(merged, ".builtin_trusted_keys"));
	g_assert_cmpint(lookup(merged, KL_RUNTIME_POLICY_MAP_KEYRINGS, ".ima", SHA256_B),
			==,
			KL_RUNTIME_POLICY_LOOKUP_MATCH);
}

static void
test_allowlist_flat_lines(void)
{
	g_autoptr(KlRuntimePolicyBuilder) builder = kl_runtime_policy_builder_new();
	g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) error = NULL;
	g_autoptr(KlRuntimePolicy) policy = NULL;
	gsize len = 0;
	g_autofree gchar *upstream = kl_test_load_data(&len, "ima", "allowlist-sha256", NULL);
	const gchar *text = "\n" SHA1_BASE "  /usr/bin/bash\n"
			    "sha256:" SHA256_A "\t/usr/bin/with space\n"
			    "   \n" SHA256_B " %keyring:.ima\n" SHA1_OTHER "\n";
	const gchar *bad = SHA1_BASE " /a\nnothex /b\n";

	g_assert_true(kl_runtime_policy_builder_add_allowlist(builder,
							      text,
							      strlen(text),
							      warnings,
							      &error));
	g_assert_no_error(error);
	g_assert_true(
		kl_runtime_policy_builder_add_allowlist(builder, upstream, len, warnings, &error));
	g_assert_no_error(error);
	/* the line with a digest only is skipped, with its number */
	g_assert_cmpuint(warnings->len, ==, 1);
	g_assert_true(g_str_has_prefix(g_ptr_array_index(warnings, 0), "line 6:"));

	policy = kl_runtime_policy_builder_build(builder, &error);
	g_assert_no_error(error);
	g_assert_cmpint(lookup(policy, KL_RUNTIME_POLICY_MAP_DIGESTS, "/usr/bin/bash", SHA1_BASE),
			==,
			KL_RUNTIME_POLICY_LOOKUP_MATCH);
	/* the algorithm prefix is dropped, spaces become '_' as in the IMA log */
	g_assert_cmpint(
		lookup(policy, KL_RUNTIME_POLICY_MAP_DIGESTS, "/usr/bin/with_space", SHA256_A),
		==,
		KL_RUNTIME_POLICY_LOOKUP_MATCH);
	g_assert_cmpint(lookup(policy, KL_RUNTIME_POLICY_MAP_KEYRINGS, ".ima", SHA256_B),
			==,
			KL_RUNTIME_POLICY_LOOKUP_MATCH);
	g_assert_cmpint(lookup(policy, KL_RUNTIME_POLICY_MAP_DIGESTS, "data", SHA256_B),
			==,
			KL_RUNTIME_POLICY_LOOKUP_MATCH);
	g_assert_cmpint(kl_runtime_policy_get_generator(policy),
			==,
			KL_RUNTIME_POLICY_GENERATOR_LEGACY_ALLOWLIST);

	/* a bad digest is an error naming its line */
	g_assert_false(
		kl_runtime_policy_builder_add_allowlist(builder, bad, strlen(bad), NULL, &error));
	g_assert_error(error, KL_RUNTIME_POLICY_ERROR, KL_RUNTIME_POLICY_ERROR_INVALID);
	g_assert_true(g_str_has_prefix(error->message, "line 2: "));
	g_clear_error(&error);
	g_assert_false(kl_runtime_policy_builder_add_allowlist(builder, "a\0b", 3, NULL, &error));
	g_assert_nonnull(error);
	g_clear_error(&error);
	g_assert_false(kl_runtime_policy_builder_add_allowlist(builder,
							       SHA1_BASE " /\xff",
							       43,
							       NULL,
							       &error));
	g_assert_nonnull(error);
}

static void
test_allowlist_json(void)
{
	g_autoptr(KlRuntimePolicyBuilder) builder = kl_runtime_policy_builder_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(KlRuntimePolicy) policy = NULL;
	gsize len = 0;
	g_autofree gchar *v1 = kl_test_load_data(&len, "ima", "policy-sha1", NULL);
	const gchar *old = "{\"meta\": {\"version\": 1}, \"release\": 0, \"hashes\": "
			   "{\"/usr/bin/bash\": [\"" SHA1_OTHER "\"]}, \"keyrings\": {\".ima\": "
			   "[\"" SHA256_B "\"]}, \"ima\": {\"ignored_keyrings\": [\"*\"], "
			   "\"log_hash_alg\": \"sha256\"}, \"excludes\": [\"/tmp/\"]}";
	const gchar *bad = "{\"hashes\": {\"/a\": [\"xyz\"]}}";
	const gchar *neither = "{\"meta\": {}}";
	const gchar *bad_exclude = "{\"hashes\": {}, \"excludes\": [\"(\"]}";

	g_assert_true(
		kl_runtime_policy_builder_add_allowlist(builder, old, strlen(old), NULL, &error));
	g_assert_no_error(error);
	/* a v1 policy is merged as well */
	g_assert_true(kl_runtime_policy_builder_add_allowlist(builder, v1, len, NULL, &error));
	g_assert_no_error(error);
	policy = kl_runtime_policy_builder_build(builder, &error);
	g_assert_no_error(error);
	g_assert_cmpint(lookup(policy, KL_RUNTIME_POLICY_MAP_DIGESTS, "/usr/bin/bash", SHA1_OTHER),
			==,
			KL_RUNTIME_POLICY_LOOKUP_MATCH);
	g_assert_cmpint(
		lookup(policy, KL_RUNTIME_POLICY_MAP_DIGESTS, "/base_policy_data", SHA1_BASE),
		==,
		KL_RUNTIME_POLICY_LOOKUP_MATCH);
	g_assert_cmpint(lookup(policy, KL_RUNTIME_POLICY_MAP_KEYRINGS, ".ima", SHA256_B),
			==,
			KL_RUNTIME_POLICY_LOOKUP_MATCH);
	g_assert_true(kl_runtime_policy_is_excluded(policy, "/tmp/x"));
	g_assert_true(kl_runtime_policy_is_keyring_ignored(policy, ".any"));
	g_assert_cmpint(kl_runtime_policy_get_generator(policy),
			==,
			KL_RUNTIME_POLICY_GENERATOR_LEGACY_ALLOWLIST);

	g_assert_false(
		kl_runtime_policy_builder_add_allowlist(builder, bad, strlen(bad), NULL, &error));
	g_assert_nonnull(strstr(error->message, "hashes./a[0]"));
	g_clear_error(&error);
	g_assert_false(kl_runtime_policy_builder_add_allowlist(builder,
							       neither,
							       strlen(neither),
							       NULL,
							       &error));
	g_assert_error(error, KL_RUNTIME_POLICY_ERROR, KL_RUNTIME_POLICY_ERROR_INVALID);
	g_clear_error(&error);
	g_assert_false(kl_runtime_policy_builder_add_allowlist(builder,
							       bad_exclude,
							       strlen(bad_exclude),
							       NULL,
							       &error));
	g_assert_nonnull(strstr(error->message, "excludes[0]"));
}

static void
test_exclude_list(void)
{
	g_autoptr(KlRuntimePolicyBuilder) builder = kl_runtime_policy_builder_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(KlRuntimePolicy) policy = NULL;
	const gchar *list = "# comment\n\n/tmp/.*\n  ^/var/log/  \n#/usr/.*\n";
	const gchar *bad = "/ok\n\n/bad(\n";

	g_assert_true(
		kl_runtime_policy_builder_add_exclude_list(builder, list, strlen(list), &error));
	g_assert_no_error(error);
	policy = kl_runtime_policy_builder_build(builder, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(g_strv_length((gchar **)kl_runtime_policy_get_excludes(policy)), ==, 2);
	g_assert_true(kl_runtime_policy_is_excluded(policy, "/var/log/x"));
	g_assert_false(kl_runtime_policy_is_excluded(policy, "/usr/bin/x"));

	g_assert_false(
		kl_runtime_policy_builder_add_exclude_list(builder, bad, strlen(bad), &error));
	g_assert_error(error, KL_RUNTIME_POLICY_ERROR, KL_RUNTIME_POLICY_ERROR_INVALID);
	g_assert_true(g_str_has_prefix(error->message, "line 3: "));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/runtime-policy/upstream", test_upstream_policies);
	g_test_add_func("/runtime-policy/lookups", test_lookups);
	g_test_add_func("/runtime-policy/refcount", test_refcount);
	g_test_add_func("/runtime-policy/generator", test_generator);
	g_test_add_func("/runtime-policy/excludes", test_excludes);
	g_test_add_func("/runtime-policy/excludes-hostile", test_excludes_hostile);
	g_test_add_func("/runtime-policy/invalid", test_invalid);
	g_test_add_func("/runtime-policy/invalid-documents", test_invalid_documents);
	g_test_add_func("/runtime-policy/large", test_large_policy);
	g_test_add_func("/runtime-policy/verification-keys", test_verification_keys);
	g_test_add_func("/runtime-policy/key-id-unsupported", test_key_id_unsupported);
	g_test_add_func("/runtime-policy/dsse", test_dsse);
	g_test_add_func("/runtime-policy/dsse-x509-keyid", test_dsse_x509_keyid);
	g_test_add_func("/runtime-policy/builder", test_builder);
	g_test_add_func("/runtime-policy/builder-merge", test_builder_merge);
	g_test_add_func("/runtime-policy/allowlist-flat", test_allowlist_flat_lines);
	g_test_add_func("/runtime-policy/allowlist-json", test_allowlist_json);
	g_test_add_func("/runtime-policy/exclude-list", test_exclude_list);
	return g_test_run();
}
