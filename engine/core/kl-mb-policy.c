/*
 * kl-mb-policy: boot policies as data.  A policy file's rules are compiled
 * against a reference state into a tree of KlMbNode (refs resolved,
 * regexes compiled, digest and key sets built), which is then run over the
 * events like upstream's elchecking tests: "why not" — NULL to accept, a
 * reason to reject.
 */
#define G_LOG_DOMAIN "KlCore"

#include "config.h"

#include <string.h>

#include "kl-crypto.h"
#include "kl-finding.h"
#include "kl-json.h"
#include "kl-mb-policy.h"

/* a JSON value quoted in a reason is cut to this */
#define KL_MB_REASON_VALUE_MAX 160

typedef enum {
	KL_MB_OP_ACCEPT,
	KL_MB_OP_REJECT,
	KL_MB_OP_AND,
	KL_MB_OP_OR,
	KL_MB_OP_DISPATCH,
	KL_MB_OP_FIELD,
	KL_MB_OP_EACH,
	KL_MB_OP_TUPLE,
	KL_MB_OP_STRING,
	KL_MB_OP_REGEX,
	KL_MB_OP_INT,
	KL_MB_OP_DIGESTS,
	KL_MB_OP_ONCE,
	KL_MB_OP_COLLECT,
	KL_MB_OP_KEY_SUBSET,
	KL_MB_OP_KEY_SUPERSET,
} KlMbOp;

typedef struct _KlMbNode KlMbNode;
struct _KlMbNode {
	KlMbOp op;
	gchar *text;   /* reason, field name, expected string, collect name */
	GRegex *regex; /* regex */
	gint64 number; /* int: expected; once: times */
	gboolean flag; /* field: show_name; each: show_elt; tuple: pad; string: ignore_case */
	GPtrArray *
		children; /* KlMbNode: and/or/tuple members; field/each/once test; dispatch tests */
	GPtrArray *keys;  /* dispatch: key names */
	GPtrArray *matches; /* dispatch: per case a GPtrArray (per key) of GPtrArray of JsonNode */
	GHashTable *set;    /* digests: "alg:hex"; keys: "owner\ndata" */
	GPtrArray *sig_types; /* key tests */
};

struct _KlMbPolicy {
	gchar *name;
	guint32 relevant_pcrs;
	GPtrArray *collect; /* names */
	JsonNode *root;
	JsonObject *events; /* borrowed from root */
	JsonObject *final;  /* borrowed from root; may be NULL */
};

struct _KlMbCheck {
	gchar *event_id;
	GPtrArray *collect;
	KlMbNode *events;
	KlMbNode *final;
};

typedef struct {
	KlMbPolicy *policy;
	JsonObject *refstate; /* NULL when only checking the syntax */
	GHashTable *vars;     /* for_each bindings: name → JsonNode (NULL when dry) */
	gboolean dry;	      /* syntax only: references resolve to nothing */
} KlMbEnv;

typedef struct {
	GHashTable *collected; /* name → GPtrArray of JsonNode copies */
	GHashTable *counts;    /* KlMbNode → times run */
	gint64 blame;	       /* EventNum of the first event a tuple/each rejected; -1 */
	gchar *blame_type;
} KlMbEval;

static void
kl_mb_node_free(KlMbNode *self)
{
	if (self == NULL)
		return;
	g_free(self->text);
	if (self->regex != NULL)
		g_regex_unref(self->regex);
	if (self->children != NULL)
		g_ptr_array_unref(self->children);
	if (self->keys != NULL)
		g_ptr_array_unref(self->keys);
	if (self->matches != NULL)
		g_ptr_array_unref(self->matches);
	if (self->set != NULL)
		g_hash_table_unref(self->set);
	if (self->sig_types != NULL)
		g_ptr_array_unref(self->sig_types);
	g_free(self);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlMbNode, kl_mb_node_free)

static KlMbNode *
kl_mb_node_new(KlMbOp op)
{
	KlMbNode *self = g_new0(KlMbNode, 1);
	self->op = op;
	self->children = g_ptr_array_new_with_free_func((GDestroyNotify)kl_mb_node_free);
	return self;
}

static KlMbNode *
kl_mb_node_new_text(KlMbOp op, const gchar *text)
{
	KlMbNode *self = kl_mb_node_new(op);
	self->text = g_strdup(text);
	return self;
}

static KlMbNode *
kl_mb_node_new_field(const gchar *name, KlMbNode *test)
{
	KlMbNode *self = kl_mb_node_new_text(KL_MB_OP_FIELD, name);
	self->flag = TRUE;
	g_ptr_array_add(self->children, test);
	return self;
}

static KlMbNode *
kl_mb_node_new_digests(void)
{
	KlMbNode *self = kl_mb_node_new(KL_MB_OP_DIGESTS);
	self->set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	return self;
}

static void kl_mb_set_error(GError **error, const gchar *format, ...) G_GNUC_PRINTF(2, 3);

static void
kl_mb_set_error(GError **error, const gchar *format, ...)
{
	va_list args;
	g_autofree gchar *message = NULL;
	va_start(args, format);
	message = g_strdup_vprintf(format, args);
	va_end(args);
	g_set_error_literal(error, KL_MB_ERROR, KL_MB_ERROR_INVALID_POLICY, message);
}

/* --- values and references ------------------------------------------------ */

static const gchar *
kl_mb_strip0x(const gchar *hex)
{
	return g_str_has_prefix(hex, "0x") ? hex + 2 : hex;
}

/* A value V: literal JSON, or {"ref": ...}; *out borrowed, NULL when dry. */
static gboolean
kl_mb_resolve(KlMbEnv *env, JsonNode *value, JsonNode **out, GError **error)
{
	JsonObject *object = NULL;
	const gchar *ref = NULL;
	JsonNode *found = NULL;

	*out = NULL;
	if (value == NULL) {
		kl_mb_set_error(error, "a value is missing");
		return FALSE;
	}
	if (!JSON_NODE_HOLDS_OBJECT(value) ||
	    !json_object_has_member(json_node_get_object(value), "ref")) {
		*out = value;
		return TRUE;
	}
	object = json_node_get_object(value);
	if (!kl_json_object_get_string(object, "ref", &ref, error))
		return FALSE;
	if (ref[0] == '$') {
		g_auto(GStrv) parts = g_strsplit(ref + 1, ".", 2);
		JsonNode *bound = NULL;
		if (!g_hash_table_contains(env->vars, parts[0])) {
			kl_mb_set_error(error, "reference %s: no for_each binds %s", ref, parts[0]);
			return FALSE;
		}
		bound = g_hash_table_lookup(env->vars, parts[0]);
		if (bound == NULL || env->dry)
			return TRUE;
		if (parts[1] == NULL) {
			found = bound;
		} else if (JSON_NODE_HOLDS_OBJECT(bound)) {
			found = json_object_get_member(json_node_get_object(bound), parts[1]);
		}
	} else {
		if (env->refstate == NULL || env->dry)
			return TRUE;
		found = json_object_get_member(env->refstate, ref);
	}
	if (found == NULL)
		found = json_object_get_member(object, "default");
	if (found == NULL) {
		g_set_error(error,
			    KL_MB_ERROR,
			    KL_MB_ERROR_INVALID_REFSTATE,
			    "the reference state lacks %s",
			    ref[0] == '$' ? strchr(ref, '.') != NULL ? strchr(ref, '.') + 1 : ref
					  : ref);
		return FALSE;
	}
	*out = found;
	return TRUE;
}

static gboolean
kl_mb_resolve_string(KlMbEnv *env, JsonNode *value, const gchar **out, GError **error)
{
	JsonNode *node = NULL;
	*out = NULL;
	if (!kl_mb_resolve(env, value, &node, error))
		return FALSE;
	if (node == NULL)
		return TRUE;
	if (json_node_get_value_type(node) != G_TYPE_STRING) {
		kl_mb_set_error(error, "a value is not a string");
		return FALSE;
	}
	*out = json_node_get_string(node);
	return TRUE;
}

static gboolean
kl_mb_truthy(JsonNode *node)
{
	if (node == NULL || JSON_NODE_HOLDS_NULL(node))
		return FALSE;
	if (JSON_NODE_HOLDS_ARRAY(node))
		return json_array_get_length(json_node_get_array(node)) > 0;
	if (JSON_NODE_HOLDS_OBJECT(node))
		return json_object_get_size(json_node_get_object(node)) > 0;
	if (json_node_get_value_type(node) == G_TYPE_BOOLEAN)
		return json_node_get_boolean(node);
	if (json_node_get_value_type(node) == G_TYPE_STRING)
		return json_node_get_string(node)[0] != '\0';
	if (json_node_get_value_type(node) == G_TYPE_INT64)
		return json_node_get_int(node) != 0;
	return TRUE;
}

/* --- compiling -------------------------------------------------------------- */

static KlMbNode *kl_mb_compile(KlMbEnv *env, JsonNode *rule, GError **error);

static KlMbNode *
kl_mb_compile_member(KlMbEnv *env, JsonObject *object, const gchar *member, GError **error)
{
	JsonNode *rule = json_object_get_member(object, member);
	KlMbNode *node = NULL;
	if (rule == NULL) {
		kl_mb_set_error(error, "member %s is missing", member);
		return NULL;
	}
	node = kl_mb_compile(env, rule, error);
	if (node == NULL)
		g_prefix_error(error, "%s: ", member);
	return node;
}

static gboolean
kl_mb_compile_list(KlMbEnv *env,
		   JsonObject *object,
		   const gchar *member,
		   GPtrArray *children,
		   GError **error)
{
	JsonArray *array = NULL;
	if (!kl_json_object_get_array(object, member, &array, error))
		return FALSE;
	for (guint i = 0; i < json_array_get_length(array); i++) {
		KlMbNode *child = kl_mb_compile(env, json_array_get_element(array, i), error);
		if (child == NULL) {
			g_prefix_error(error, "%s[%u]: ", member, i);
			return FALSE;
		}
		g_ptr_array_add(children, child);
	}
	return TRUE;
}

static gboolean
kl_mb_get_optional_bool(JsonObject *object,
			const gchar *member,
			gboolean dflt,
			gboolean *value,
			GError **error)
{
	*value = dflt;
	if (!json_object_has_member(object, member))
		return TRUE;
	return kl_json_object_get_boolean(object, member, value, error);
}

static void
kl_mb_digests_add(KlMbNode *node, const gchar *alg, const gchar *hex)
{
	g_autofree gchar *lower = g_ascii_strdown(kl_mb_strip0x(hex), -1);
	g_hash_table_add(node->set, g_strdup_printf("%s:%s", alg, lower));
}

/* a digest object {alg: hex}, a hex string, or a list of those */
static gboolean
kl_mb_digests_add_value(KlMbNode *node, JsonNode *value, const gchar *alg, GError **error)
{
	if (JSON_NODE_HOLDS_ARRAY(value)) {
		JsonArray *array = json_node_get_array(value);
		for (guint i = 0; i < json_array_get_length(array); i++) {
			if (!kl_mb_digests_add_value(node,
						     json_array_get_element(array, i),
						     alg,
						     error))
				return FALSE;
		}
		return TRUE;
	}
	if (JSON_NODE_HOLDS_OBJECT(value)) {
		JsonObject *digest = json_node_get_object(value);
		g_autoptr(GList) members = json_object_get_members(digest);
		for (GList *l = members; l != NULL; l = l->next) {
			const gchar *hex = NULL;
			if (!kl_json_object_get_string(digest, l->data, &hex, error))
				return FALSE;
			kl_mb_digests_add(node, l->data, hex);
		}
		return TRUE;
	}
	if (json_node_get_value_type(value) == G_TYPE_STRING) {
		kl_mb_digests_add(node, alg, json_node_get_string(value));
		return TRUE;
	}
	kl_mb_set_error(error, "a digest is neither an object nor a hex string");
	return FALSE;
}

static KlMbNode *
kl_mb_compile_digests(KlMbEnv *env, JsonObject *object, GError **error)
{
	g_autoptr(KlMbNode) node = kl_mb_node_new_digests();
	const gchar *alg = "sha256";
	JsonNode *value = NULL;

	if (!kl_json_object_get_optional_string(object, "alg", &alg, error))
		return NULL;
	if (alg == NULL)
		alg = "sha256";
	if (!kl_mb_resolve(env, json_object_get_member(object, "allowed"), &value, error)) {
		g_prefix_error(error, "allowed: ");
		return NULL;
	}
	if (value != NULL && !kl_mb_digests_add_value(node, value, alg, error))
		return NULL;
	return g_steal_pointer(&node);
}

static KlMbNode *
kl_mb_compile_keys(KlMbEnv *env, KlMbOp op, JsonObject *object, GError **error)
{
	g_autoptr(KlMbNode) node = kl_mb_node_new(op);
	g_auto(GStrv) types = NULL;
	JsonNode *value = NULL;

	if (!kl_json_object_get_string_array(object, "sig_types", &types, error))
		return NULL;
	node->sig_types = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; types[i] != NULL; i++)
		g_ptr_array_add(node->sig_types, g_ascii_strdown(types[i], -1));
	node->set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	if (!kl_mb_resolve(env, json_object_get_member(object, "keys"), &value, error)) {
		g_prefix_error(error, "keys: ");
		return NULL;
	}
	if (value == NULL)
		return g_steal_pointer(&node);
	if (!JSON_NODE_HOLDS_ARRAY(value)) {
		kl_mb_set_error(error, "keys is not a list");
		return NULL;
	}
	for (guint i = 0; i < json_array_get_length(json_node_get_array(value)); i++) {
		JsonNode *sig = json_array_get_element(json_node_get_array(value), i);
		const gchar *owner = NULL;
		const gchar *data = NULL;
		g_autofree gchar *data_lower = NULL;
		if (!JSON_NODE_HOLDS_OBJECT(sig)) {
			kl_mb_set_error(error, "keys[%u] is not an object", i);
			return NULL;
		}
		if (!kl_json_object_get_string(json_node_get_object(sig),
					       "SignatureOwner",
					       &owner,
					       error) ||
		    !kl_json_object_get_string(json_node_get_object(sig),
					       "SignatureData",
					       &data,
					       error)) {
			g_prefix_error(error, "keys[%u]: ", i);
			return NULL;
		}
		data_lower = g_ascii_strdown(kl_mb_strip0x(data), -1);
		g_hash_table_add(node->set, g_strdup_printf("%s\n%s", owner, data_lower));
	}
	return g_steal_pointer(&node);
}

static KlMbNode *
kl_mb_compile_regex(KlMbEnv *env, JsonObject *object, GError **error)
{
	g_autoptr(KlMbNode) node = kl_mb_node_new(KL_MB_OP_REGEX);
	g_autoptr(GString) pattern = g_string_new(NULL);
	g_autofree gchar *anchored = NULL;
	JsonNode *value = json_object_get_member(object, "pattern");
	gboolean dotall = FALSE;
	gboolean dry = FALSE;

	if (!kl_mb_get_optional_bool(object, "dotall", FALSE, &dotall, error))
		return NULL;
	if (value != NULL && JSON_NODE_HOLDS_ARRAY(value)) {
		JsonArray *parts = json_node_get_array(value);
		for (guint i = 0; i < json_array_get_length(parts); i++) {
			const gchar *part = NULL;
			if (!kl_mb_resolve_string(env,
						  json_array_get_element(parts, i),
						  &part,
						  error)) {
				g_prefix_error(error, "pattern[%u]: ", i);
				return NULL;
			}
			if (part == NULL)
				dry = TRUE;
			else
				g_string_append(pattern, part);
		}
	} else {
		const gchar *part = NULL;
		if (!kl_mb_resolve_string(env, value, &part, error)) {
			g_prefix_error(error, "pattern: ");
			return NULL;
		}
		if (part == NULL)
			dry = TRUE;
		else
			g_string_append(pattern, part);
	}
	if (dry)
		return g_steal_pointer(&node);
	node->text = g_strdup(pattern->str);
	/* Python's re.fullmatch(): anchored at both ends */
	anchored = g_strdup_printf("(?:%s)\\z", pattern->str);
	node->regex =
		g_regex_new(anchored, G_REGEX_ANCHORED | (dotall ? G_REGEX_DOTALL : 0), 0, error);
	if (node->regex == NULL) {
		if (error != NULL && *error != NULL && (*error)->domain != KL_MB_ERROR) {
			(*error)->domain = KL_MB_ERROR;
			(*error)->code = KL_MB_ERROR_INVALID_REFSTATE;
		}
		g_prefix_error(error, "pattern %s: ", pattern->str);
		return NULL;
	}
	return g_steal_pointer(&node);
}

static KlMbNode *
kl_mb_compile_dispatch(KlMbEnv *env, JsonObject *object, GError **error)
{
	g_autoptr(KlMbNode) node = kl_mb_node_new(KL_MB_OP_DISPATCH);
	g_auto(GStrv) keys = NULL;
	JsonArray *cases = NULL;

	if (!kl_json_object_get_string_array(object, "keys", &keys, error) ||
	    !kl_json_object_get_array(object, "cases", &cases, error))
		return NULL;
	if (keys[0] == NULL) {
		kl_mb_set_error(error, "dispatch has no keys");
		return NULL;
	}
	node->keys = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; keys[i] != NULL; i++)
		g_ptr_array_add(node->keys, g_strdup(keys[i]));
	node->matches = g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref);
	for (guint i = 0; i < json_array_get_length(cases); i++) {
		JsonNode *entry = json_array_get_element(cases, i);
		JsonArray *match = NULL;
		GPtrArray *per_key = NULL;
		KlMbNode *test = NULL;
		if (!JSON_NODE_HOLDS_OBJECT(entry)) {
			kl_mb_set_error(error, "cases[%u] is not an object", i);
			return NULL;
		}
		if (!kl_json_object_get_array(json_node_get_object(entry),
					      "match",
					      &match,
					      error)) {
			g_prefix_error(error, "cases[%u]: ", i);
			return NULL;
		}
		if (json_array_get_length(match) != node->keys->len) {
			kl_mb_set_error(error,
					"cases[%u]: match does not have %u values",
					i,
					node->keys->len);
			return NULL;
		}
		per_key = g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref);
		g_ptr_array_add(node->matches, per_key);
		for (guint k = 0; k < node->keys->len; k++) {
			JsonNode *value = json_array_get_element(match, k);
			GPtrArray *alts =
				g_ptr_array_new_with_free_func((GDestroyNotify)json_node_unref);
			g_ptr_array_add(per_key, alts);
			if (JSON_NODE_HOLDS_ARRAY(value)) {
				JsonArray *array = json_node_get_array(value);
				for (guint a = 0; a < json_array_get_length(array); a++)
					g_ptr_array_add(
						alts,
						json_node_copy(json_array_get_element(array, a)));
			} else {
				g_ptr_array_add(alts, json_node_copy(value));
			}
		}
		test = kl_mb_compile_member(env, json_node_get_object(entry), "test", error);
		if (test == NULL) {
			g_prefix_error(error, "cases[%u]: ", i);
			return NULL;
		}
		g_ptr_array_add(node->children, test);
	}
	return g_steal_pointer(&node);
}

static void
kl_mb_digests_add_hashes(KlMbNode *node, const guint8 *data, gsize len)
{
	const gchar *algs[] = {"sha1", "sha256", "sha384", "sha512"};
	for (guint i = 0; i < G_N_ELEMENTS(algs); i++) {
		guint8 md[EVP_MAX_MD_SIZE];
		gsize md_len = 0;
		g_autofree gchar *hex = NULL;
		if (!kl_crypto_digest(algs[i], data, len, md, &md_len, NULL))
			continue;
		hex = kl_crypto_hex_encode(md, md_len);
		kl_mb_digests_add(node, algs[i], hex);
	}
}

/* Event equals @text and the digest is H(@data) */
static KlMbNode *
kl_mb_node_new_event_with_hash(const gchar *text,
			       gboolean ignore_case,
			       const guint8 *data,
			       gsize len)
{
	KlMbNode *and = kl_mb_node_new(KL_MB_OP_AND);
	KlMbNode *string = kl_mb_node_new_text(KL_MB_OP_STRING, text);
	KlMbNode *digests = kl_mb_node_new_digests();
	string->flag = ignore_case;
	kl_mb_digests_add_hashes(digests, data, len);
	g_ptr_array_add(and->children, kl_mb_node_new_field("Event", string));
	g_ptr_array_add(and->children, digests);
	return and;
}

/* TCG PC Client PFP: separators are 00000000 or FFFFFFFF, digest H(4 bytes) */
static KlMbNode *
kl_mb_compile_separator(void)
{
	const guint8 zero[4] = {0, 0, 0, 0};
	const guint8 ones[4] = {0xff, 0xff, 0xff, 0xff};
	KlMbNode * or = kl_mb_node_new(KL_MB_OP_OR);
	g_ptr_array_add(or->children, kl_mb_node_new_event_with_hash("00000000", TRUE, zero, 4));
	g_ptr_array_add(or->children, kl_mb_node_new_event_with_hash("FFFFFFFF", TRUE, ones, 4));
	return or ;
}

static KlMbNode *
kl_mb_compile_efi_action(JsonObject *object, GError **error)
{
	const gchar *pcr1[] = {"Entering ROM Based Setup", NULL};
	const gchar *pcr4[] = {"Calling EFI Application from Boot Option",
			       "Returning from EFI Application from Boot Option",
			       NULL};
	const gchar *pcr5[] = {"Exit Boot Services Invocation",
			       "Exit Boot Services Returned with Failure",
			       "Exit Boot Services Returned with Success",
			       NULL};
	const gchar *pcr6[] = {"UEFI Debug Mode", NULL};
	const gchar **strings = NULL;
	KlMbNode * or = NULL;
	gint64 pcr = 0;

	if (!kl_json_object_get_int(object, "pcr", 0, 23, &pcr, error))
		return NULL;
	switch (pcr) {
	case 1:
		strings = pcr1;
		break;
	case 4:
		strings = pcr4;
		break;
	case 5:
		strings = pcr5;
		break;
	case 6:
		strings = pcr6;
		break;
	default:
		break;
	}
	if (strings == NULL) {
		g_autofree gchar *why = g_strdup_printf(
			"No EV_EFI_ACTION event for %" G_GINT64_FORMAT " is expected in the spec",
			pcr);
		return kl_mb_node_new_text(KL_MB_OP_REJECT, why);
	}
	or = kl_mb_node_new(KL_MB_OP_OR);
	for (guint i = 0; strings[i] != NULL; i++)
		g_ptr_array_add(or->children,
				kl_mb_node_new_event_with_hash(strings[i],
							       FALSE,
							       (const guint8 *)strings[i],
							       strlen(strings[i])));
	return or ;
}

static KlMbNode *
kl_mb_compile_if(KlMbEnv *env, JsonObject *object, GError **error)
{
	JsonNode *cond = json_object_get_member(object, "cond");
	g_autoptr(KlMbNode) then_node = NULL;
	g_autoptr(KlMbNode) else_node = NULL;
	gboolean truth = FALSE;
	gboolean was_dry = FALSE;

	if (cond == NULL) {
		kl_mb_set_error(error, "member cond is missing");
		return NULL;
	}
	if (JSON_NODE_HOLDS_ARRAY(cond)) {
		for (guint i = 0; i < json_array_get_length(json_node_get_array(cond)); i++) {
			JsonNode *value = NULL;
			if (!kl_mb_resolve(env,
					   json_array_get_element(json_node_get_array(cond), i),
					   &value,
					   error)) {
				g_prefix_error(error, "cond[%u]: ", i);
				return NULL;
			}
			truth = truth || kl_mb_truthy(value);
		}
	} else {
		JsonNode *value = NULL;
		if (!kl_mb_resolve(env, cond, &value, error)) {
			g_prefix_error(error, "cond: ");
			return NULL;
		}
		truth = kl_mb_truthy(value);
	}
	/* both branches are compiled so that a syntax error shows at load; the
	 * one not taken without references (it may name absent members) */
	was_dry = env->dry;
	env->dry = was_dry || !truth;
	then_node = kl_mb_compile_member(env, object, "then", error);
	env->dry = was_dry || truth;
	if (then_node != NULL && json_object_has_member(object, "else"))
		else_node = kl_mb_compile_member(env, object, "else", error);
	else if (then_node != NULL)
		else_node = kl_mb_node_new(KL_MB_OP_ACCEPT);
	env->dry = was_dry;
	if (then_node == NULL || else_node == NULL)
		return NULL;
	return truth ? g_steal_pointer(&then_node) : g_steal_pointer(&else_node);
}

static KlMbNode *
kl_mb_compile_for_each(KlMbEnv *env, JsonObject *object, GError **error)
{
	const gchar *var = NULL;
	const gchar *combine = NULL;
	JsonNode *list = NULL;
	g_autoptr(KlMbNode) node = NULL;

	if (!kl_json_object_get_string(object, "as", &var, error) ||
	    !kl_json_object_get_optional_string(object, "combine", &combine, error))
		return NULL;
	if (combine != NULL && g_strcmp0(combine, "or") != 0 && g_strcmp0(combine, "and") != 0) {
		kl_mb_set_error(error, "combine is neither \"or\" nor \"and\"");
		return NULL;
	}
	node = kl_mb_node_new(g_strcmp0(combine, "and") == 0 ? KL_MB_OP_AND : KL_MB_OP_OR);
	if (!kl_mb_resolve(env, json_object_get_member(object, "in"), &list, error)) {
		g_prefix_error(error, "in: ");
		return NULL;
	}
	if (list == NULL || env->dry) {
		/* dry: the body once, its references unresolved */
		KlMbNode *child = NULL;
		g_hash_table_insert(env->vars, g_strdup(var), NULL);
		child = kl_mb_compile_member(env, object, "test", error);
		g_hash_table_remove(env->vars, var);
		if (child == NULL)
			return NULL;
		g_ptr_array_add(node->children, child);
		return g_steal_pointer(&node);
	}
	if (!JSON_NODE_HOLDS_ARRAY(list)) {
		kl_mb_set_error(error, "in is not a list");
		return NULL;
	}
	for (guint i = 0; i < json_array_get_length(json_node_get_array(list)); i++) {
		KlMbNode *child = NULL;
		g_hash_table_insert(env->vars,
				    g_strdup(var),
				    json_array_get_element(json_node_get_array(list), i));
		child = kl_mb_compile_member(env, object, "test", error);
		g_hash_table_remove(env->vars, var);
		if (child == NULL) {
			g_prefix_error(error, "%s[%u]: ", var, i);
			return NULL;
		}
		g_ptr_array_add(node->children, child);
	}
	return g_steal_pointer(&node);
}

/* {"op": "tuple", "in": V, "as": NAME, "item": R}: one item per list member */
static gboolean
kl_mb_compile_tuple_in(KlMbEnv *env, JsonObject *object, GPtrArray *children, GError **error)
{
	const gchar *var = NULL;
	JsonNode *list = NULL;

	if (!kl_json_object_get_string(object, "as", &var, error))
		return FALSE;
	if (!kl_mb_resolve(env, json_object_get_member(object, "in"), &list, error)) {
		g_prefix_error(error, "in: ");
		return FALSE;
	}
	if (list == NULL || env->dry) {
		KlMbNode *child = NULL;
		g_hash_table_insert(env->vars, g_strdup(var), NULL);
		child = kl_mb_compile_member(env, object, "item", error);
		g_hash_table_remove(env->vars, var);
		if (child == NULL)
			return FALSE;
		kl_mb_node_free(child);
		return TRUE;
	}
	if (!JSON_NODE_HOLDS_ARRAY(list)) {
		kl_mb_set_error(error, "in is not a list");
		return FALSE;
	}
	for (guint i = 0; i < json_array_get_length(json_node_get_array(list)); i++) {
		KlMbNode *child = NULL;
		g_hash_table_insert(env->vars,
				    g_strdup(var),
				    json_array_get_element(json_node_get_array(list), i));
		child = kl_mb_compile_member(env, object, "item", error);
		g_hash_table_remove(env->vars, var);
		if (child == NULL) {
			g_prefix_error(error, "%s[%u]: ", var, i);
			return FALSE;
		}
		g_ptr_array_add(children, child);
	}
	return TRUE;
}

static KlMbNode *
kl_mb_compile(KlMbEnv *env, JsonNode *rule, GError **error)
{
	JsonObject *object = NULL;
	const gchar *op = NULL;
	g_autoptr(KlMbNode) node = NULL;

	if (!JSON_NODE_HOLDS_OBJECT(rule)) {
		kl_mb_set_error(error, "a rule is not an object");
		return NULL;
	}
	object = json_node_get_object(rule);
	if (!kl_json_object_get_string(object, "op", &op, error))
		return NULL;

	if (g_strcmp0(op, "accept") == 0)
		return kl_mb_node_new(KL_MB_OP_ACCEPT);
	if (g_strcmp0(op, "reject") == 0) {
		const gchar *reason = NULL;
		if (!kl_json_object_get_string(object, "reason", &reason, error))
			return NULL;
		if (reason[0] == '\0') {
			kl_mb_set_error(error, "reject: the reason is empty");
			return NULL;
		}
		return kl_mb_node_new_text(KL_MB_OP_REJECT, reason);
	}
	if (g_strcmp0(op, "and") == 0 || g_strcmp0(op, "or") == 0) {
		gboolean is_and = g_strcmp0(op, "and") == 0;
		node = kl_mb_node_new(is_and ? KL_MB_OP_AND : KL_MB_OP_OR);
		if (!kl_mb_compile_list(env,
					object,
					is_and ? "all" : "any",
					node->children,
					error)) {
			g_prefix_error(error, "%s: ", op);
			return NULL;
		}
		return g_steal_pointer(&node);
	}
	if (g_strcmp0(op, "tuple") == 0) {
		node = kl_mb_node_new(KL_MB_OP_TUPLE);
		if (!kl_mb_get_optional_bool(object, "pad", FALSE, &node->flag, error))
			return NULL;
		if (json_object_has_member(object, "in")) {
			if (!kl_mb_compile_tuple_in(env, object, node->children, error)) {
				g_prefix_error(error, "tuple: ");
				return NULL;
			}
			return g_steal_pointer(&node);
		}
		if (!kl_mb_compile_list(env, object, "items", node->children, error)) {
			g_prefix_error(error, "tuple: ");
			return NULL;
		}
		return g_steal_pointer(&node);
	}
	if (g_strcmp0(op, "field") == 0 || g_strcmp0(op, "each") == 0 ||
	    g_strcmp0(op, "once") == 0) {
		KlMbNode *test = NULL;
		if (g_strcmp0(op, "field") == 0) {
			const gchar *name = NULL;
			if (!kl_json_object_get_string(object, "name", &name, error))
				return NULL;
			node = kl_mb_node_new_text(KL_MB_OP_FIELD, name);
			if (!kl_mb_get_optional_bool(object, "show_name", TRUE, &node->flag, error))
				return NULL;
		} else if (g_strcmp0(op, "each") == 0) {
			node = kl_mb_node_new(KL_MB_OP_EACH);
			if (!kl_mb_get_optional_bool(object, "show_elt", FALSE, &node->flag, error))
				return NULL;
		} else {
			node = kl_mb_node_new(KL_MB_OP_ONCE);
			node->number = 1;
			if (json_object_has_member(object, "times") &&
			    !kl_json_object_get_int(object,
						    "times",
						    1,
						    G_MAXINT32,
						    &node->number,
						    error))
				return NULL;
		}
		test = kl_mb_compile_member(env, object, "test", error);
		if (test == NULL) {
			g_prefix_error(error, "%s: ", op);
			return NULL;
		}
		g_ptr_array_add(node->children, test);
		return g_steal_pointer(&node);
	}
	if (g_strcmp0(op, "string") == 0) {
		const gchar *expected = NULL;
		node = kl_mb_node_new(KL_MB_OP_STRING);
		if (!kl_mb_get_optional_bool(object, "ignore_case", FALSE, &node->flag, error))
			return NULL;
		if (!kl_mb_resolve_string(env,
					  json_object_get_member(object, "equal"),
					  &expected,
					  error)) {
			g_prefix_error(error, "string: equal: ");
			return NULL;
		}
		node->text = g_strdup(expected != NULL ? expected : "");
		return g_steal_pointer(&node);
	}
	if (g_strcmp0(op, "int") == 0) {
		node = kl_mb_node_new(KL_MB_OP_INT);
		if (!kl_json_object_get_int(object,
					    "equal",
					    G_MININT64,
					    G_MAXINT64,
					    &node->number,
					    error))
			return NULL;
		return g_steal_pointer(&node);
	}
	if (g_strcmp0(op, "collect") == 0) {
		const gchar *into = NULL;
		if (!kl_json_object_get_string(object, "into", &into, error))
			return NULL;
		if (!g_ptr_array_find_with_equal_func(env->policy->collect,
						      into,
						      g_str_equal,
						      NULL)) {
			kl_mb_set_error(error,
					"collect: %s is not in the policy's collect list",
					into);
			return NULL;
		}
		return kl_mb_node_new_text(KL_MB_OP_COLLECT, into);
	}
	if (g_strcmp0(op, "regex") == 0)
		node = kl_mb_compile_regex(env, object, error);
	else if (g_strcmp0(op, "digests") == 0)
		node = kl_mb_compile_digests(env, object, error);
	else if (g_strcmp0(op, "key_subset") == 0)
		node = kl_mb_compile_keys(env, KL_MB_OP_KEY_SUBSET, object, error);
	else if (g_strcmp0(op, "key_superset") == 0)
		node = kl_mb_compile_keys(env, KL_MB_OP_KEY_SUPERSET, object, error);
	else if (g_strcmp0(op, "dispatch") == 0)
		node = kl_mb_compile_dispatch(env, object, error);
	else if (g_strcmp0(op, "separator") == 0)
		node = kl_mb_compile_separator();
	else if (g_strcmp0(op, "efi_action") == 0)
		node = kl_mb_compile_efi_action(object, error);
	else if (g_strcmp0(op, "if") == 0)
		node = kl_mb_compile_if(env, object, error);
	else if (g_strcmp0(op, "for_each") == 0)
		node = kl_mb_compile_for_each(env, object, error);
	else {
		kl_mb_set_error(error, "unknown op \"%s\"", op);
		return NULL;
	}
	if (node == NULL) {
		g_prefix_error(error, "%s: ", op);
		return NULL;
	}
	return g_steal_pointer(&node);
}

/* --- evaluating ----------------------------------------------------------- */

static gchar *
kl_mb_describe(JsonNode *value)
{
	g_autofree gchar *text = NULL;
	if (value == NULL)
		return g_strdup("nothing");
	text = kl_json_node_to_string(value, FALSE);
	if (strlen(text) > KL_MB_REASON_VALUE_MAX)
		return g_strdup_printf("%.*s…", KL_MB_REASON_VALUE_MAX, text);
	return g_steal_pointer(&text);
}

static JsonNode *
kl_mb_member(JsonNode *subject, const gchar *name)
{
	if (subject == NULL || !JSON_NODE_HOLDS_OBJECT(subject))
		return NULL;
	return json_object_get_member(json_node_get_object(subject), name);
}

static const gchar *
kl_mb_member_string(JsonNode *subject, const gchar *name)
{
	JsonNode *node = kl_mb_member(subject, name);
	if (node == NULL || json_node_get_value_type(node) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string(node);
}

/* remember the first event a collected-sequence check rejected */
static void
kl_mb_eval_blame(KlMbEval *eval, JsonNode *element)
{
	JsonNode *num = kl_mb_member(element, "EventNum");
	if (eval->blame >= 0 || num == NULL || json_node_get_value_type(num) != G_TYPE_INT64)
		return;
	eval->blame = json_node_get_int(num);
	eval->blame_type = g_strdup(kl_mb_member_string(element, "EventType"));
}

static gchar *kl_mb_why_not(KlMbEval *eval, KlMbNode *node, JsonNode *subject);

static gchar *
kl_mb_why_not_digests(KlMbNode *node, JsonNode *subject)
{
	JsonNode *digests = kl_mb_member(subject, "Digests");
	JsonArray *array = NULL;

	if (subject == NULL || !JSON_NODE_HOLDS_OBJECT(subject))
		return g_strdup("is not a dict");
	if (digests == NULL)
		return g_strdup("has no Digests");
	if (!JSON_NODE_HOLDS_ARRAY(digests))
		return g_strdup("Digests is not a list");
	array = json_node_get_array(digests);
	for (guint i = 0; i < json_array_get_length(array); i++) {
		JsonNode *digest = json_array_get_element(array, i);
		const gchar *alg = kl_mb_member_string(digest, "AlgorithmId");
		const gchar *hex = kl_mb_member_string(digest, "Digest");
		g_autofree gchar *key = NULL;
		g_autofree gchar *lower = NULL;
		if (alg == NULL || hex == NULL)
			return g_strdup_printf("Digests[%u] lacks a string AlgorithmId or Digest",
					       i);
		lower = g_ascii_strdown(hex, -1);
		key = g_strdup_printf("%s:%s", alg, lower);
		if (g_hash_table_contains(node->set, key))
			return NULL;
	}
	{
		g_autoptr(GList) keys = g_hash_table_get_keys(node->set);
		g_autoptr(GString) good = g_string_new(NULL);
		keys = g_list_sort(keys, (GCompareFunc)g_strcmp0);
		for (GList *l = keys; l != NULL; l = l->next)
			g_string_append_printf(good,
					       "%s%s",
					       good->len > 0 ? ", " : "",
					       (gchar *)l->data);
		return g_strdup_printf("has no digest approved by {%s}", good->str);
	}
}

static gchar *
kl_mb_why_not_bare_key(KlMbNode *node, JsonNode *key)
{
	const gchar *owner = kl_mb_member_string(key, "SignatureOwner");
	const gchar *data = kl_mb_member_string(key, "SignatureData");
	g_autofree gchar *data_lower = NULL;
	g_autofree gchar *entry = NULL;
	if (owner == NULL || data == NULL)
		return g_strdup("lacks SignatureOwner or SignatureData");
	data_lower = g_ascii_strdown(data, -1);
	entry = g_strdup_printf("%s\n%s", owner, data_lower);
	if (!g_hash_table_contains(node->set, entry))
		return g_strdup_printf("(owner %s, data %.16s…) is not an allowed key",
				       owner,
				       data);
	return NULL;
}

/* EFI signature lists: [{"SignatureType", "Keys": [{SignatureOwner, SignatureData}]}] */
static gchar *
kl_mb_why_not_keys(KlMbEval *eval, KlMbNode *node, JsonNode *subject)
{
	JsonArray *lists = NULL;
	guint n_lists = 0;

	/* a bare signature (vendor_db in EV_EFI_VARIABLE_AUTHORITY) */
	if (node->op == KL_MB_OP_KEY_SUBSET &&
	    kl_mb_member_string(subject, "SignatureOwner") != NULL)
		return kl_mb_why_not_bare_key(node, subject);
	if (subject == NULL || !JSON_NODE_HOLDS_ARRAY(subject))
		return g_strdup("is not a list");
	lists = json_node_get_array(subject);
	n_lists = json_array_get_length(lists);
	/* upstream's KeySuperset is a one-member tuple */
	if (node->op == KL_MB_OP_KEY_SUPERSET && n_lists != 1)
		return g_strdup_printf("has %u signature lists rather than 1", n_lists);
	for (guint i = 0; i < n_lists; i++) {
		JsonNode *list = json_array_get_element(lists, i);
		const gchar *type = kl_mb_member_string(list, "SignatureType");
		JsonNode *keys = kl_mb_member(list, "Keys");
		g_autofree gchar *type_lower = NULL;
		g_autoptr(GHashTable) seen =
			g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
		JsonArray *array = NULL;

		if (node->op == KL_MB_OP_KEY_SUBSET &&
		    kl_mb_member_string(list, "SignatureOwner") != NULL) {
			g_autofree gchar *why = kl_mb_why_not_bare_key(node, list);
			if (why != NULL)
				return g_strdup_printf("[%u] %s", i, why);
			continue;
		}
		if (type == NULL)
			return g_strdup_printf("[%u] has no SignatureType", i);
		type_lower = g_ascii_strdown(type, -1);
		if (!g_ptr_array_find_with_equal_func(node->sig_types,
						      type_lower,
						      g_str_equal,
						      NULL))
			return g_strdup_printf(
				"[%u] SignatureType is not one of the allowed types (%s)",
				i,
				type);
		if (keys == NULL || !JSON_NODE_HOLDS_ARRAY(keys))
			return g_strdup_printf("[%u] has no Keys list", i);
		array = json_node_get_array(keys);
		for (guint j = 0; j < json_array_get_length(array); j++) {
			JsonNode *key = json_array_get_element(array, j);
			const gchar *owner = kl_mb_member_string(key, "SignatureOwner");
			const gchar *data = kl_mb_member_string(key, "SignatureData");
			g_autofree gchar *data_lower = NULL;
			g_autofree gchar *entry = NULL;
			if (owner == NULL || data == NULL)
				return g_strdup_printf(
					"[%u] Keys[%u] lacks SignatureOwner or SignatureData",
					i,
					j);
			data_lower = g_ascii_strdown(data, -1);
			entry = g_strdup_printf("%s\n%s", owner, data_lower);
			if (node->op == KL_MB_OP_KEY_SUBSET &&
			    !g_hash_table_contains(node->set, entry))
				return g_strdup_printf("[%u] Keys[%u] (owner %s, data %.16s…) is "
						       "not an allowed key",
						       i,
						       j,
						       owner,
						       data);
			g_hash_table_add(seen, g_steal_pointer(&entry));
		}
		if (node->op == KL_MB_OP_KEY_SUPERSET) {
			GHashTableIter iter;
			gpointer required = NULL;
			g_hash_table_iter_init(&iter, node->set);
			while (g_hash_table_iter_next(&iter, &required, NULL)) {
				if (!g_hash_table_contains(seen, required)) {
					g_auto(GStrv) parts = g_strsplit(required, "\n", 2);
					return g_strdup_printf("[%u] Keys lacks the required key "
							       "(owner %s, data %.16s…)",
							       i,
							       parts[0],
							       parts[1] != NULL ? parts[1] : "");
				}
			}
		}
	}
	(void)eval;
	return NULL;
}

static gchar *
kl_mb_why_not_dispatch(KlMbEval *eval, KlMbNode *node, JsonNode *subject)
{
	g_autoptr(GString) names = g_string_new(NULL);
	g_autoptr(GString) values = g_string_new(NULL);

	if (subject == NULL || !JSON_NODE_HOLDS_OBJECT(subject))
		return g_strdup("is not a dict");
	for (guint k = 0; k < node->keys->len; k++) {
		if (kl_mb_member(subject, node->keys->pdata[k]) == NULL)
			return g_strdup_printf("has no %s", (gchar *)node->keys->pdata[k]);
	}
	for (guint c = 0; c < node->matches->len; c++) {
		GPtrArray *per_key = node->matches->pdata[c];
		gboolean hit = TRUE;
		for (guint k = 0; k < node->keys->len && hit; k++) {
			JsonNode *value = kl_mb_member(subject, node->keys->pdata[k]);
			GPtrArray *alts = per_key->pdata[k];
			hit = FALSE;
			for (guint a = 0; a < alts->len && !hit; a++)
				hit = json_node_equal(value, alts->pdata[a]);
		}
		if (hit)
			return kl_mb_why_not(eval, node->children->pdata[c], subject);
	}
	/* the reason is built only for a rejection: most events hit a case */
	for (guint k = 0; k < node->keys->len; k++) {
		g_autofree gchar *text =
			kl_mb_describe(kl_mb_member(subject, node->keys->pdata[k]));
		g_string_append_printf(names,
				       "%s%s",
				       k > 0 ? ", " : "",
				       (gchar *)node->keys->pdata[k]);
		g_string_append_printf(values, "%s%s", k > 0 ? ", " : "", text);
	}
	return g_strdup_printf("has unexpected (%s) combination (%s)", names->str, values->str);
}

static gchar *
kl_mb_why_not(KlMbEval *eval, KlMbNode *node, JsonNode *subject)
{
	switch (node->op) {
	case KL_MB_OP_ACCEPT:
		return NULL;
	case KL_MB_OP_REJECT:
		return g_strdup(node->text);
	case KL_MB_OP_AND:
		for (guint i = 0; i < node->children->len; i++) {
			gchar *why = kl_mb_why_not(eval, node->children->pdata[i], subject);
			if (why != NULL)
				return why;
		}
		return NULL;
	case KL_MB_OP_OR: {
		g_autoptr(GString) reasons = g_string_new(NULL);
		if (node->children->len == 0)
			return g_strdup("does not pass empty disjunction");
		for (guint i = 0; i < node->children->len; i++) {
			g_autofree gchar *why =
				kl_mb_why_not(eval, node->children->pdata[i], subject);
			if (why == NULL)
				return NULL;
			g_string_append_printf(reasons, "%s%s", i > 0 ? ", " : "", why);
		}
		return g_strdup_printf("[%s]", reasons->str);
	}
	case KL_MB_OP_DISPATCH:
		return kl_mb_why_not_dispatch(eval, node, subject);
	case KL_MB_OP_FIELD: {
		JsonNode *value = NULL;
		g_autofree gchar *why = NULL;
		if (subject == NULL || !JSON_NODE_HOLDS_OBJECT(subject))
			return g_strdup("is not a dict");
		value = kl_mb_member(subject, node->text);
		if (value == NULL)
			return g_strdup_printf("has no '%s' field", node->text);
		why = kl_mb_why_not(eval, node->children->pdata[0], value);
		if (why != NULL && node->flag)
			return g_strdup_printf("%s %s", node->text, why);
		return g_steal_pointer(&why);
	}
	case KL_MB_OP_EACH: {
		JsonArray *array = NULL;
		if (subject == NULL || !JSON_NODE_HOLDS_ARRAY(subject))
			return g_strdup("is not a list");
		array = json_node_get_array(subject);
		for (guint i = 0; i < json_array_get_length(array); i++) {
			JsonNode *element = json_array_get_element(array, i);
			g_autofree gchar *why =
				kl_mb_why_not(eval, node->children->pdata[0], element);
			if (why == NULL)
				continue;
			kl_mb_eval_blame(eval, element);
			if (node->flag) {
				g_autofree gchar *text = kl_mb_describe(element);
				return g_strdup_printf("%s %s", text, why);
			}
			return g_strdup_printf("[%u] %s", i, why);
		}
		return NULL;
	}
	case KL_MB_OP_TUPLE: {
		JsonArray *array = NULL;
		guint len = 0;
		if (subject == NULL || !JSON_NODE_HOLDS_ARRAY(subject))
			return g_strdup("is not a list");
		array = json_node_get_array(subject);
		len = json_array_get_length(array);
		if (len > node->children->len)
			return g_strdup_printf("is longer (%u) than the applicable tests (%u)",
					       len,
					       node->children->len);
		if (len < node->children->len && !node->flag)
			return g_strdup_printf("is shorter (%u) than the applicable tests (%u)",
					       len,
					       node->children->len);
		for (guint i = 0; i < node->children->len; i++) {
			JsonNode *element = i < len ? json_array_get_element(array, i) : NULL;
			g_autofree gchar *why =
				kl_mb_why_not(eval, node->children->pdata[i], element);
			const gchar *type = kl_mb_member_string(element, "EventType");
			JsonNode *num = kl_mb_member(element, "EventNum");
			if (why == NULL)
				continue;
			kl_mb_eval_blame(eval, element);
			if (type != NULL && num != NULL &&
			    json_node_get_value_type(num) == G_TYPE_INT64)
				return g_strdup_printf("[%u] (event %" G_GINT64_FORMAT ", %s) %s",
						       i,
						       json_node_get_int(num),
						       type,
						       why);
			return g_strdup_printf("[%u] %s", i, why);
		}
		return NULL;
	}
	case KL_MB_OP_STRING: {
		const gchar *value = NULL;
		if (subject == NULL || json_node_get_value_type(subject) != G_TYPE_STRING)
			return g_strdup("is not a str");
		value = json_node_get_string(subject);
		if (node->flag ? g_ascii_strcasecmp(value, node->text) == 0
			       : g_strcmp0(value, node->text) == 0)
			return NULL;
		return g_strdup_printf("is not '%s'", node->text);
	}
	case KL_MB_OP_REGEX:
		if (subject == NULL || json_node_get_value_type(subject) != G_TYPE_STRING)
			return g_strdup("is not a str");
		if (node->regex != NULL &&
		    g_regex_match(node->regex, json_node_get_string(subject), 0, NULL))
			return NULL;
		return g_strdup_printf("does not match %s", node->text != NULL ? node->text : "");
	case KL_MB_OP_INT:
		if (subject == NULL || json_node_get_value_type(subject) != G_TYPE_INT64)
			return g_strdup("is not a int");
		if (json_node_get_int(subject) == node->number)
			return NULL;
		return g_strdup_printf("is not %" G_GINT64_FORMAT, node->number);
	case KL_MB_OP_DIGESTS:
		return kl_mb_why_not_digests(node, subject);
	case KL_MB_OP_ONCE: {
		guint count = GPOINTER_TO_UINT(g_hash_table_lookup(eval->counts, node));
		if (count >= node->number)
			return g_strdup(
				node->number == 1
					? "test was already run once"
					: "test was already run the allowed number of times");
		g_hash_table_insert(eval->counts, node, GUINT_TO_POINTER(count + 1));
		return kl_mb_why_not(eval, node->children->pdata[0], subject);
	}
	case KL_MB_OP_COLLECT: {
		GPtrArray *list = g_hash_table_lookup(eval->collected, node->text);
		if (list == NULL)
			return g_strdup_printf("malformed test: %s is not collected", node->text);
		g_ptr_array_add(list,
				subject != NULL ? json_node_copy(subject)
						: json_node_new(JSON_NODE_NULL));
		return NULL;
	}
	case KL_MB_OP_KEY_SUBSET:
	case KL_MB_OP_KEY_SUPERSET:
		return kl_mb_why_not_keys(eval, node, subject);
	default:
		return g_strdup("malformed test");
	}
}

/* --- policies ----------------------------------------------------------------- */

void
kl_mb_policy_free(KlMbPolicy *self)
{
	if (self == NULL)
		return;
	g_free(self->name);
	if (self->collect != NULL)
		g_ptr_array_unref(self->collect);
	if (self->root != NULL)
		json_node_unref(self->root);
	g_free(self);
}

void
kl_mb_check_free(KlMbCheck *self)
{
	if (self == NULL)
		return;
	g_free(self->event_id);
	if (self->collect != NULL)
		g_ptr_array_unref(self->collect);
	kl_mb_node_free(self->events);
	kl_mb_node_free(self->final);
	g_free(self);
}

static KlMbCheck *
kl_mb_policy_compile_env(KlMbPolicy *self, JsonObject *refstate, GError **error)
{
	g_autoptr(GHashTable) vars = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	KlMbEnv env = {self, refstate, vars, refstate == NULL};
	g_autoptr(KlMbCheck) check = g_new0(KlMbCheck, 1);
	JsonNode *events = json_object_get_member(json_node_get_object(self->root), "events");
	JsonNode *final = json_object_get_member(json_node_get_object(self->root), "final");

	check->event_id = g_strdup_printf("measured_boot.policy_%s", self->name);
	check->collect = g_ptr_array_ref(self->collect);
	check->events = kl_mb_compile(&env, events, error);
	if (check->events == NULL) {
		g_prefix_error(error, "policy %s: events: ", self->name);
		return NULL;
	}
	if (final != NULL) {
		check->final = kl_mb_compile(&env, final, error);
		if (check->final == NULL) {
			g_prefix_error(error, "policy %s: final: ", self->name);
			return NULL;
		}
	}
	return g_steal_pointer(&check);
}

KlMbPolicy *
kl_mb_policy_new_from_json(const gchar *data, gsize length, GError **error)
{
	g_autoptr(JsonObject) object = NULL;
	g_autoptr(KlMbPolicy) self = g_new0(KlMbPolicy, 1);
	g_autoptr(KlMbCheck) dry = NULL;
	const gchar *name = NULL;
	JsonArray *pcrs = NULL;

	object = kl_json_parse_object(data, length, KL_MB_POLICY_MAX_SIZE, 64, error);
	if (object == NULL) {
		g_prefix_error(error, "measured boot policy: ");
		return NULL;
	}
	self->root = json_node_init_object(json_node_alloc(), object);
	self->collect = g_ptr_array_new_with_free_func(g_free);
	if (!kl_json_object_get_string(object, "name", &name, error) ||
	    !kl_json_object_get_array(object, "relevant_pcrs", &pcrs, error)) {
		g_prefix_error(error, "measured boot policy: ");
		return NULL;
	}
	self->name = g_strdup(name);
	for (guint i = 0; i < json_array_get_length(pcrs); i++) {
		JsonNode *pcr = json_array_get_element(pcrs, i);
		if (json_node_get_value_type(pcr) != G_TYPE_INT64 || json_node_get_int(pcr) < 0 ||
		    json_node_get_int(pcr) > 23) {
			g_set_error(error,
				    KL_MB_ERROR,
				    KL_MB_ERROR_INVALID_POLICY,
				    "measured boot policy %s: relevant_pcrs[%u] is not a PCR index "
				    "0-23",
				    name,
				    i);
			return NULL;
		}
		self->relevant_pcrs |= 1u << json_node_get_int(pcr);
	}
	if (json_object_has_member(object, "collect")) {
		g_auto(GStrv) names = NULL;
		if (!kl_json_object_get_string_array(object, "collect", &names, error)) {
			g_prefix_error(error, "measured boot policy %s: ", name);
			return NULL;
		}
		for (guint i = 0; names[i] != NULL; i++)
			g_ptr_array_add(self->collect, g_strdup(names[i]));
	}
	if (!json_object_has_member(object, "events")) {
		g_set_error(error,
			    KL_MB_ERROR,
			    KL_MB_ERROR_INVALID_POLICY,
			    "measured boot policy %s: member events is missing",
			    name);
		return NULL;
	}
	/* the rules' syntax, checked now rather than at the first attestation */
	dry = kl_mb_policy_compile_env(self, NULL, error);
	if (dry == NULL) {
		if (error != NULL && *error != NULL && (*error)->domain != KL_MB_ERROR) {
			(*error)->domain = KL_MB_ERROR;
			(*error)->code = KL_MB_ERROR_INVALID_POLICY;
		}
		return NULL;
	}
	return g_steal_pointer(&self);
}

static gboolean
kl_mb_policy_name_is_valid(const gchar *name)
{
	if (name == NULL || name[0] == '\0' || name[0] == '.' || strlen(name) > 128)
		return FALSE;
	for (const gchar *p = name; *p != '\0'; p++) {
		if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' && *p != '.')
			return FALSE;
	}
	return TRUE;
}

KlMbPolicy *
kl_mb_policy_load(const gchar *name, const gchar *const *dirs, GError **error)
{
	g_autoptr(GPtrArray) search = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *basename = NULL;

	if (!kl_mb_policy_name_is_valid(name)) {
		g_set_error(error,
			    KL_MB_ERROR,
			    KL_MB_ERROR_NOT_FOUND,
			    "\"%s\" is not a measured boot policy name",
			    name != NULL ? name : "");
		return NULL;
	}
	if (dirs != NULL) {
		for (guint i = 0; dirs[i] != NULL; i++)
			g_ptr_array_add(search, g_strdup(dirs[i]));
	} else {
		const gchar *env = g_getenv("KL_MB_POLICY_DIR");
		const gchar *const *data_dirs = g_get_system_data_dirs();
		if (env != NULL && env[0] != '\0')
			g_ptr_array_add(search, g_strdup(env));
		/* a site's own policies, then the shipped ones */
		g_ptr_array_add(search,
				g_build_filename(KL_SYSCONFDIR, "keylime", "mb-policies", NULL));
		g_ptr_array_add(search,
				g_build_filename(KL_DATADIR, "keylime-c", "mb-policies", NULL));
		for (guint i = 0; data_dirs[i] != NULL; i++)
			g_ptr_array_add(
				search,
				g_build_filename(data_dirs[i], "keylime-c", "mb-policies", NULL));
	}
	basename = g_strdup_printf("%s.json", name);
	for (guint i = 0; i < search->len; i++) {
		g_autofree gchar *path = g_build_filename(search->pdata[i], basename, NULL);
		g_autofree gchar *data = NULL;
		gsize length = 0;
		g_autoptr(KlMbPolicy) policy = NULL;
		g_autoptr(GError) error_local = NULL;

		if (!g_file_get_contents(path, &data, &length, &error_local)) {
			if (g_error_matches(error_local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
				continue;
			g_propagate_error(error, g_steal_pointer(&error_local));
			return NULL;
		}
		policy = kl_mb_policy_new_from_json(data, length, error);
		if (policy == NULL) {
			g_prefix_error(error, "%s: ", path);
			return NULL;
		}
		if (g_strcmp0(policy->name, name) != 0) {
			g_set_error(error,
				    KL_MB_ERROR,
				    KL_MB_ERROR_INVALID_POLICY,
				    "%s: the policy calls itself \"%s\"",
				    path,
				    policy->name);
			return NULL;
		}
		return g_steal_pointer(&policy);
	}
	g_set_error(error,
		    KL_MB_ERROR,
		    KL_MB_ERROR_NOT_FOUND,
		    "no measured boot policy \"%s\"",
		    name);
	return NULL;
}

const gchar *
kl_mb_policy_get_name(KlMbPolicy *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->name;
}

guint32
kl_mb_policy_get_relevant_pcrs(KlMbPolicy *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->relevant_pcrs;
}

gboolean
kl_mb_policy_check_missing_pcrs(KlMbPolicy *self, guint32 quoted_mask, GPtrArray *findings)
{
	guint32 missing = 0;
	g_autoptr(GString) list = g_string_new(NULL);
	KlFinding *finding = NULL;

	g_return_val_if_fail(self != NULL, FALSE);
	missing = self->relevant_pcrs & ~quoted_mask;
	if (missing == 0)
		return TRUE;
	for (guint i = 0; i < 24; i++) {
		if (missing & (1u << i))
			g_string_append_printf(list, "%s%u", list->len > 0 ? ", " : "", i);
	}
	finding =
		kl_finding_new_printf("measured_boot.missing_pcrs",
				      "PCRs",
				      0,
				      "the quote lacks PCRs %s that measured boot policy %s needs",
				      list->str,
				      self->name);
	g_ptr_array_add(findings, finding);
	return FALSE;
}

KlMbCheck *
kl_mb_policy_compile(KlMbPolicy *self, KlMbRefstate *refstate, GError **error)
{
	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(refstate != NULL, NULL);
	return kl_mb_policy_compile_env(self, kl_mb_refstate_get_object(refstate), error);
}

static void
kl_mb_finding_add(KlMbCheck *self,
		  GPtrArray *findings,
		  gint64 number,
		  const gchar *type,
		  gint64 pcr,
		  const gchar *why)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) context = NULL;
	g_autofree gchar *subject = NULL;
	g_autofree gchar *full = NULL;
	KlFinding *finding = NULL;

	if (number >= 0 && pcr >= 0)
		subject =
			g_strdup_printf("event %" G_GINT64_FORMAT " (%s, PCR %" G_GINT64_FORMAT ")",
					number,
					type != NULL ? type : "?",
					pcr);
	else if (number >= 0)
		subject = g_strdup_printf("event %" G_GINT64_FORMAT " (%s)",
					  number,
					  type != NULL ? type : "?");
	else
		subject = g_strdup("boot events");
	full = g_strdup_printf("%s %s", subject, why);
	finding = kl_finding_new(self->event_id, subject, 0, why);
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "reason");
	json_builder_add_string_value(builder, full);
	if (number >= 0) {
		json_builder_set_member_name(builder, "event");
		json_builder_add_int_value(builder, number);
	}
	json_builder_end_object(builder);
	context = json_builder_get_root(builder);
	g_free(finding->context_json);
	finding->context_json = kl_json_node_to_string(context, FALSE);
	g_ptr_array_add(findings, finding);
}

gboolean
kl_mb_check_evaluate(KlMbCheck *self, JsonArray *events, GPtrArray *findings)
{
	KlMbEval eval = {NULL, NULL, -1, NULL};
	guint before = findings->len;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(events != NULL, FALSE);

	eval.collected = g_hash_table_new_full(g_str_hash,
					       g_str_equal,
					       NULL,
					       (GDestroyNotify)g_ptr_array_unref);
	eval.counts = g_hash_table_new(g_direct_hash, g_direct_equal);
	for (guint i = 0; i < self->collect->len; i++)
		g_hash_table_insert(
			eval.collected,
			self->collect->pdata[i],
			g_ptr_array_new_with_free_func((GDestroyNotify)json_node_unref));
	for (guint i = 0; i < json_array_get_length(events); i++) {
		JsonNode *event = json_array_get_element(events, i);
		g_autofree gchar *why = kl_mb_why_not(&eval, self->events, event);
		JsonNode *num = kl_mb_member(event, "EventNum");
		JsonNode *pcr = kl_mb_member(event, "PCRIndex");
		if (why == NULL)
			continue;
		kl_mb_finding_add(self,
				  findings,
				  num != NULL && json_node_get_value_type(num) == G_TYPE_INT64
					  ? json_node_get_int(num)
					  : (gint64)i,
				  kl_mb_member_string(event, "EventType"),
				  pcr != NULL && json_node_get_value_type(pcr) == G_TYPE_INT64
					  ? json_node_get_int(pcr)
					  : -1,
				  why);
	}
	if (self->final != NULL) {
		g_autoptr(JsonObject) record = json_object_new();
		g_autoptr(JsonNode) subject = NULL;
		g_autofree gchar *why = NULL;
		for (guint i = 0; i < self->collect->len; i++) {
			GPtrArray *list =
				g_hash_table_lookup(eval.collected, self->collect->pdata[i]);
			JsonArray *array = json_array_new();
			for (guint j = 0; j < list->len; j++)
				json_array_add_element(array, json_node_copy(list->pdata[j]));
			json_object_set_array_member(record, self->collect->pdata[i], array);
		}
		subject = json_node_init_object(json_node_alloc(), record);
		why = kl_mb_why_not(&eval, self->final, subject);
		if (why != NULL)
			kl_mb_finding_add(self, findings, eval.blame, eval.blame_type, -1, why);
	}
	g_hash_table_unref(eval.collected);
	g_hash_table_unref(eval.counts);
	g_free(eval.blame_type);
	return findings->len == before;
}

gboolean
kl_mb_policy_evaluate(KlMbPolicy *self,
		      KlMbRefstate *refstate,
		      JsonArray *events,
		      GPtrArray *findings,
		      GError **error)
{
	g_autoptr(KlMbCheck) check = NULL;

	g_return_val_if_fail(self != NULL, FALSE);
	/* upstream: an empty reference state means no boot policy at all */
	if (kl_mb_refstate_is_empty(refstate))
		return TRUE;
	check = kl_mb_policy_compile(self, refstate, error);
	if (check == NULL)
		return FALSE;
	kl_mb_check_evaluate(check, events, findings);
	return TRUE;
}
