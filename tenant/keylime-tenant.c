/*
 * keylime_tenant: upstream's tenant command line (spec §11) over
 * libkl-tenant: "add" runs KlTenantEnrollment with the verifier step done
 * over REST (POST /agents/{id}, then GET until the agent is there); the
 * other commands are one or two requests to the verifier or the
 * registrar.  Options come from kl-tenant-args' table, settings from
 * tenant.conf (kl-config, KEYLIME_TENANT_CONFIG).  Human output by
 * default, one JSON document with --json; errors on stderr; exit codes in
 * kl-tenant-args.h.
 */
#include "config.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>

#include "kl-agent-client.h"
#include "kl-client-agent.h"
#include "kl-config.h"
#include "kl-error.h"
#include "kl-http-tls-files.h"
#include "kl-json.h"
#include "kl-runtime-policy.h"
#include "kl-tenant-args.h"
#include "kl-tenant-enroll.h"
#include "kl-tenant-input.h"
#include "kl-tenant-rest.h"

#define KL_TENANT_PROGRAM	     "keylime_tenant"
#define KL_TENANT_SECTION	     "tenant"
#define KL_TENANT_DEFAULT_UUID	     "d432fbb3-d2f1-4a97-9ef7-75bd81c00000"
#define KL_TENANT_MAX_POLICY	     (64 * 1024 * 1024)
#define KL_TENANT_MAX_SMALL_INPUT    (1024 * 1024)
#define KL_TENANT_OPSTATE_TERMINATED 8

typedef struct {
	KlTenantArgs *args;
	KlConfig *config;
	gboolean json;
	const gchar *command;
	const gchar *agent_id;
	gchar *keylime_dir;
	/* tenant.conf, with the command line's hosts and ports over it */
	gchar *verifier_host;
	guint16 verifier_port;
	gchar *registrar_host;
	guint16 registrar_port;
	gchar *tls_dir;
	gchar *client_cert;
	gchar *client_key;
	gchar *server_ca;
	gdouble request_timeout;
	gint64 max_retries;
	gdouble retry_interval;
	gboolean exponential_backoff;
	gint64 max_payload_size;
	KlTenantRest *verifier;
	KlTenantRest *registrar;
	/* add */
	GMainLoop *loop;
	gboolean add_ok;
	GError *add_error;
	JsonObject *verifier_body; /* between the verifier step and its end */
} KlTenant;

static void
kl_tenant_clear(KlTenant *self)
{
	g_clear_pointer(&self->args, kl_tenant_args_free);
	g_clear_object(&self->config);
	g_free(self->keylime_dir);
	g_free(self->verifier_host);
	g_free(self->registrar_host);
	g_free(self->tls_dir);
	g_free(self->client_cert);
	g_free(self->client_key);
	g_free(self->server_ca);
	g_clear_pointer(&self->verifier, kl_tenant_rest_free);
	g_clear_pointer(&self->registrar, kl_tenant_rest_free);
	g_clear_pointer(&self->loop, g_main_loop_unref);
	g_clear_error(&self->add_error);
	g_clear_pointer(&self->verifier_body, json_object_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(KlTenant, kl_tenant_clear)

/* --- output ------------------------------------------------------------ */

static void
kl_tenant_print_json(JsonNode *node)
{
	g_autofree gchar *text = kl_json_node_to_string(node, TRUE);

	g_print("%s\n", text);
}

/* The error on stderr (and as {"error": ...} with --json); its exit code. */
static gint
kl_tenant_fail(KlTenant *self, const gchar *step, const GError *error)
{
	gint code = KL_TENANT_EXIT_FAILED;

	if (error->domain == G_OPTION_ERROR || error->domain == KL_CONFIG_ERROR)
		code = KL_TENANT_EXIT_USAGE;
	else if (kl_tenant_rest_error_is_unreachable(error) ||
		 (error->domain == KL_AGENT_CLIENT_ERROR &&
		  error->code == KL_AGENT_CLIENT_ERROR_RETRYABLE))
		code = KL_TENANT_EXIT_UNREACHABLE;
	g_printerr("%s: %s\n", KL_TENANT_PROGRAM, error->message);
	if (self->json) {
		g_autoptr(JsonBuilder) builder = json_builder_new();
		g_autoptr(JsonNode) root = NULL;

		json_builder_begin_object(builder);
		json_builder_set_member_name(builder, "command");
		json_builder_add_string_value(builder, self->command);
		json_builder_set_member_name(builder, "agent_id");
		json_builder_add_string_value(builder, self->agent_id);
		json_builder_set_member_name(builder, "step");
		if (step != NULL)
			json_builder_add_string_value(builder, step);
		else
			json_builder_add_null_value(builder);
		json_builder_set_member_name(builder, "error");
		json_builder_add_string_value(builder, error->message);
		json_builder_set_member_name(builder, "exit_code");
		json_builder_add_int_value(builder, code);
		json_builder_end_object(builder);
		root = json_builder_get_root(builder);
		kl_tenant_print_json(root);
	}
	return code;
}

static gint
kl_tenant_fail_message(KlTenant *self, KlError code, const gchar *format, ...) G_GNUC_PRINTF(3, 4);

static gint
kl_tenant_fail_message(KlTenant *self, KlError code, const gchar *format, ...)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *message = NULL;
	va_list args;

	va_start(args, format);
	message = g_strdup_vprintf(format, args);
	va_end(args);
	error = g_error_new_literal(KL_ERROR, (gint)code, message);
	return kl_tenant_fail(self, NULL, error);
}

static gint kl_tenant_usage(KlTenant *self, const gchar *format, ...) G_GNUC_PRINTF(2, 3);

static gint
kl_tenant_usage(KlTenant *self, const gchar *format, ...)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *message = NULL;
	va_list args;

	va_start(args, format);
	message = g_strdup_vprintf(format, args);
	va_end(args);
	error = g_error_new_literal(G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, message);
	return kl_tenant_fail(self, NULL, error);
}

/* The command line's files and values were unusable: a usage error (2),
 * whatever the reader's error domain. */
static gint
kl_tenant_fail_input(KlTenant *self, const GError *error)
{
	g_autoptr(GError) usage =
		g_error_new_literal(G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, error->message);

	return kl_tenant_fail(self, NULL, usage);
}

/* A reply that is not 2xx as an error naming the service and request. */
static gint
kl_tenant_fail_reply(KlTenant *self,
		     const gchar *what,
		     const gchar *method,
		     const gchar *path,
		     const KlTenantReply *reply)
{
	return kl_tenant_fail_message(self,
				      reply->status == 404 ? KL_ERROR_NOT_FOUND : KL_ERROR_INTERNAL,
				      "%s: %s %s: HTTP %u: %s",
				      what,
				      method,
				      path,
				      reply->status,
				      reply->message != NULL ? reply->message : "");
}

static gboolean
kl_tenant_reply_ok(const KlTenantReply *reply)
{
	return reply->status >= 200 && reply->status < 300;
}

/* A status object with operational_state as upstream's tenant prints it. */
static JsonObject *
kl_tenant_status_with_label(JsonNode *results)
{
	JsonObject *copy;
	JsonNode *state;

	if (results == NULL || !JSON_NODE_HOLDS_OBJECT(results))
		return json_object_new();
	/* the reply is the caller's own: labelled in place */
	copy = json_node_dup_object(results);
	state = json_object_get_member(copy, "operational_state");
	if (state != NULL && JSON_NODE_HOLDS_VALUE(state) &&
	    json_node_get_value_type(state) == G_TYPE_INT64) {
		gint64 value = json_node_get_int(state);

		json_object_set_string_member(
			copy,
			"operational_state",
			kl_client_agent_state_to_label(
				value >= 0 && value <= G_MAXUINT ? (guint)value : G_MAXUINT));
	}
	return copy;
}

/* "key: value" lines of an object, in its order; nested values as JSON. */
static void
kl_tenant_print_object(JsonObject *object, const gchar *indent)
{
	g_autoptr(GList) members = json_object_get_members(object);

	for (GList *l = members; l != NULL; l = l->next) {
		JsonNode *node = json_object_get_member(object, l->data);

		if (JSON_NODE_HOLDS_VALUE(node) &&
		    json_node_get_value_type(node) == G_TYPE_STRING) {
			g_print("%s%s: %s\n",
				indent,
				(const gchar *)l->data,
				json_node_get_string(node));
		} else {
			g_autofree gchar *text = kl_json_node_to_string(node, FALSE);

			g_print("%s%s: %s\n", indent, (const gchar *)l->data, text);
		}
	}
}

/* --- settings ---------------------------------------------------------- */

static gchar *
kl_tenant_tls_path(KlTenant *self, const gchar *option, const gchar *fallback)
{
	const gchar *value = kl_config_get_string(self->config, KL_TENANT_SECTION, option, "");

	if (value[0] == '\0' || g_str_equal(value, "default"))
		return g_build_filename(self->tls_dir, fallback, NULL);
	if (g_path_is_absolute(value))
		return g_strdup(value);
	return g_build_filename(self->tls_dir, value, NULL);
}

static gboolean
kl_tenant_host_port(KlTenant *self,
		    KlTenantOpt host_opt,
		    KlTenantOpt port_opt,
		    const gchar *host_option,
		    const gchar *port_option,
		    gint64 port_default,
		    gchar **host,
		    guint16 *port,
		    GError **error)
{
	gint64 value = 0;

	if (kl_tenant_args_get(self->args, host_opt) != NULL)
		*host = g_strdup(kl_tenant_args_get(self->args, host_opt));
	else
		*host = g_strdup(kl_config_get_string(self->config,
						      KL_TENANT_SECTION,
						      host_option,
						      "127.0.0.1"));
	if (kl_tenant_args_get(self->args, port_opt) != NULL)
		return kl_tenant_args_port(self->args, port_opt, port, error);
	if (!kl_config_get_int(self->config,
			       KL_TENANT_SECTION,
			       port_option,
			       port_default,
			       1,
			       65535,
			       &value,
			       error))
		return FALSE;
	*port = (guint16)value;
	return TRUE;
}

static gboolean
kl_tenant_load_settings(KlTenant *self, GError **error)
{
	const gchar *tls_dir;
	const gchar *password;
	g_auto(GStrv) server_cas = NULL;

	self->config = kl_config_new();
	if (!kl_config_load_component(self->config, "tenant", error))
		return FALSE;
	self->keylime_dir = kl_http_tls_files_default_keylime_dir();
	if (!kl_tenant_host_port(self,
				 KL_TENANT_OPT_CV,
				 KL_TENANT_OPT_CVPORT,
				 "verifier_ip",
				 "verifier_port",
				 8881,
				 &self->verifier_host,
				 &self->verifier_port,
				 error) ||
	    !kl_tenant_host_port(self,
				 KL_TENANT_OPT_REGISTRARHOST,
				 KL_TENANT_OPT_REGISTRARPORT,
				 "registrar_ip",
				 "registrar_port",
				 8891,
				 &self->registrar_host,
				 &self->registrar_port,
				 error))
		return FALSE;
	/* tls_dir "default" shares the verifier's CA directory, as upstream */
	tls_dir = kl_config_get_string(self->config, KL_TENANT_SECTION, "tls_dir", "default");
	if (tls_dir[0] == '\0' || g_str_equal(tls_dir, "default"))
		self->tls_dir = g_build_filename(self->keylime_dir, "cv_ca", NULL);
	else if (g_path_is_absolute(tls_dir))
		self->tls_dir = g_strdup(tls_dir);
	else
		self->tls_dir = g_build_filename(self->keylime_dir, tls_dir, NULL);
	password = kl_config_get_string(self->config, KL_TENANT_SECTION, "client_key_password", "");
	if (password[0] != '\0') {
		g_autofree gchar *where =
			kl_config_describe(self->config, KL_TENANT_SECTION, "client_key_password");

		g_set_error(error,
			    KL_CONFIG_ERROR,
			    KL_CONFIG_ERROR_INVALID_VALUE,
			    "%s: encrypted client keys are not supported; leave it empty",
			    where);
		return FALSE;
	}
	self->client_cert = kl_tenant_tls_path(self, "client_cert", "client-cert.crt");
	self->client_key = kl_tenant_tls_path(self, "client_key", "client-private.pem");
	if (!kl_config_get_list(self->config,
				KL_TENANT_SECTION,
				"trusted_server_ca",
				&server_cas,
				error))
		return FALSE;
	if (server_cas != NULL && g_strv_length(server_cas) > 1) {
		g_autofree gchar *where =
			kl_config_describe(self->config, KL_TENANT_SECTION, "trusted_server_ca");

		g_set_error(error,
			    KL_CONFIG_ERROR,
			    KL_CONFIG_ERROR_INVALID_VALUE,
			    "%s: one CA file is supported; put the certificates in one PEM bundle",
			    where);
		return FALSE;
	}
	if (server_cas == NULL || server_cas[0] == NULL || server_cas[0][0] == '\0' ||
	    g_str_equal(server_cas[0], "default"))
		self->server_ca = g_build_filename(self->tls_dir, "cacert.crt", NULL);
	else if (g_path_is_absolute(server_cas[0]))
		self->server_ca = g_strdup(server_cas[0]);
	else
		self->server_ca = g_build_filename(self->tls_dir, server_cas[0], NULL);
	return kl_config_get_double(self->config,
				    KL_TENANT_SECTION,
				    "request_timeout",
				    60.0,
				    &self->request_timeout,
				    error) &&
	       kl_config_get_int(self->config,
				 KL_TENANT_SECTION,
				 "max_retries",
				 5,
				 0,
				 1000,
				 &self->max_retries,
				 error) &&
	       kl_config_get_double(self->config,
				    KL_TENANT_SECTION,
				    "retry_interval",
				    2.0,
				    &self->retry_interval,
				    error) &&
	       kl_config_get_boolean(self->config,
				     KL_TENANT_SECTION,
				     "exponential_backoff",
				     TRUE,
				     &self->exponential_backoff,
				     error) &&
	       kl_config_get_int(self->config,
				 KL_TENANT_SECTION,
				 "max_payload_size",
				 KL_TENANT_MAX_PAYLOAD_SIZE,
				 1,
				 KL_TENANT_MAX_PAYLOAD_SIZE,
				 &self->max_payload_size,
				 error);
}

/* The mTLS clients; a missing certificate file is a configuration error. */
static KlTenantRest *
kl_tenant_service(KlTenant *self, gboolean registrar, GError **error)
{
	const gchar *files[] = {self->server_ca, self->client_cert, self->client_key};
	const gchar *options[] = {"trusted_server_ca", "client_cert", "client_key"};
	KlTenantRest **slot = registrar ? &self->registrar : &self->verifier;

	if (*slot != NULL)
		return *slot;
	for (gsize i = 0; i < G_N_ELEMENTS(files); i++) {
		if (!g_file_test(files[i], G_FILE_TEST_IS_REGULAR)) {
			g_set_error(error,
				    KL_CONFIG_ERROR,
				    KL_CONFIG_ERROR_NOT_FOUND,
				    "tenant.conf %s: %s is not a file (tls_dir %s)",
				    options[i],
				    files[i],
				    self->tls_dir);
			return NULL;
		}
	}
	*slot = kl_tenant_rest_new(registrar ? "registrar" : "verifier",
				   registrar ? self->registrar_host : self->verifier_host,
				   registrar ? self->registrar_port : self->verifier_port,
				   self->server_ca,
				   self->client_cert,
				   self->client_key,
				   self->request_timeout,
				   error);
	return *slot;
}

/* One request; a transport error is reported and is the exit code. */
static KlTenantReply *
kl_tenant_call(KlTenant *self,
	       gboolean registrar,
	       const gchar *method,
	       const gchar *path,
	       JsonNode *body,
	       gint *exit_code)
{
	g_autoptr(GError) error = NULL;
	KlTenantRest *rest = kl_tenant_service(self, registrar, &error);
	KlTenantReply *reply = NULL;

	if (rest != NULL)
		reply = kl_tenant_rest_request(rest, method, path, body, &error);
	if (reply == NULL)
		*exit_code = kl_tenant_fail(self, NULL, error);
	return reply;
}

static gchar *
kl_tenant_agent_path(KlTenant *self, const gchar *suffix)
{
	g_autofree gchar *escaped = g_uri_escape_string(self->agent_id, NULL, FALSE);

	return g_strdup_printf("/agents/%s%s", escaped, suffix != NULL ? suffix : "");
}

/* The wait before retry @attempt (0-based): tenant.conf retry_interval,
 * grown exponentially with exponential_backoff, as upstream. */
static void
kl_tenant_backoff(KlTenant *self, gint64 attempt)
{
	gdouble seconds = self->retry_interval;

	if (self->exponential_backoff)
		seconds = MIN(60.0, self->retry_interval * (gdouble)(1 << MIN(attempt, 5)));
	/* a quick first look: the verifier usually answers at once */
	if (attempt == 0)
		seconds = MIN(seconds, 0.2);
	g_usleep((gulong)(MAX(0.0, seconds) * G_USEC_PER_SEC));
}

/* --- status commands --------------------------------------------------- */

/* GET the agent on the verifier; @results (transfer full) set when 200. */
static gint
kl_tenant_get_cv_status(KlTenant *self, JsonObject **results)
{
	g_autofree gchar *path = kl_tenant_agent_path(self, NULL);
	g_autoptr(KlTenantReply) reply = NULL;
	gint code = KL_TENANT_EXIT_OK;

	reply = kl_tenant_call(self, FALSE, "GET", path, NULL, &code);
	if (reply == NULL)
		return code;
	if (reply->status == 404) {
		*results = NULL;
		return KL_TENANT_EXIT_FAILED;
	}
	if (!kl_tenant_reply_ok(reply))
		return kl_tenant_fail_reply(self, "verifier", "GET", path, reply);
	*results = kl_tenant_status_with_label(reply->results);
	return KL_TENANT_EXIT_OK;
}

static gint
kl_tenant_get_reg_status(KlTenant *self, JsonObject **results)
{
	g_autofree gchar *path = kl_tenant_agent_path(self, NULL);
	g_autoptr(KlTenantReply) reply = NULL;
	gint code = KL_TENANT_EXIT_OK;

	reply = kl_tenant_call(self, TRUE, "GET", path, NULL, &code);
	if (reply == NULL)
		return code;
	if (reply->status == 404) {
		*results = NULL;
		return KL_TENANT_EXIT_FAILED;
	}
	if (!kl_tenant_reply_ok(reply))
		return kl_tenant_fail_reply(self, "registrar", "GET", path, reply);
	*results = reply->results != NULL && JSON_NODE_HOLDS_OBJECT(reply->results)
			   ? json_node_dup_object(reply->results)
			   : json_object_new();
	return KL_TENANT_EXIT_OK;
}

/* {"<id>": object} with --json, else the object's lines under a title. */
static void
kl_tenant_print_agent(KlTenant *self, const gchar *title, JsonObject *object)
{
	if (self->json) {
		g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
		g_autoptr(JsonObject) outer = json_object_new();

		json_object_set_object_member(outer, self->agent_id, json_object_ref(object));
		json_node_set_object(root, outer);
		kl_tenant_print_json(root);
		return;
	}
	g_print("%s %s:\n", title, self->agent_id);
	kl_tenant_print_object(object, "  ");
}

static gint
kl_tenant_not_found(KlTenant *self, const gchar *where)
{
	return kl_tenant_fail_message(self,
				      KL_ERROR_NOT_FOUND,
				      "%s: agent %s not found",
				      where,
				      self->agent_id);
}

static gint
kl_tenant_cvstatus(KlTenant *self)
{
	g_autoptr(JsonObject) results = NULL;
	gint code = kl_tenant_get_cv_status(self, &results);

	if (code != KL_TENANT_EXIT_OK)
		return results == NULL && code == KL_TENANT_EXIT_FAILED
			       ? kl_tenant_not_found(self, "verifier")
			       : code;
	kl_tenant_print_agent(self, "Verifier: agent", results);
	return KL_TENANT_EXIT_OK;
}

static gint
kl_tenant_regstatus(KlTenant *self)
{
	g_autoptr(JsonObject) results = NULL;
	gint code = kl_tenant_get_reg_status(self, &results);

	if (code != KL_TENANT_EXIT_OK)
		return results == NULL && code == KL_TENANT_EXIT_FAILED
			       ? kl_tenant_not_found(self, "registrar")
			       : code;
	kl_tenant_print_agent(self, "Registrar: agent", results);
	return KL_TENANT_EXIT_OK;
}

/* status: both views; the agent must be on at least one of them. */
static gint
kl_tenant_status(KlTenant *self)
{
	g_autoptr(JsonObject) registrar = NULL;
	g_autoptr(JsonObject) verifier = NULL;
	gint reg_code = kl_tenant_get_reg_status(self, &registrar);
	gint cv_code;

	if (reg_code > KL_TENANT_EXIT_FAILED)
		return reg_code;
	cv_code = kl_tenant_get_cv_status(self, &verifier);
	if (cv_code > KL_TENANT_EXIT_FAILED)
		return cv_code;
	if (self->json) {
		g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
		g_autoptr(JsonObject) outer = json_object_new();
		g_autoptr(JsonObject) inner = json_object_new();

		if (registrar != NULL)
			json_object_set_object_member(inner,
						      "registrar",
						      json_object_ref(registrar));
		else
			json_object_set_null_member(inner, "registrar");
		if (verifier != NULL)
			json_object_set_object_member(inner, "verifier", json_object_ref(verifier));
		else
			json_object_set_null_member(inner, "verifier");
		json_object_set_object_member(outer, self->agent_id, g_steal_pointer(&inner));
		json_node_set_object(root, outer);
		kl_tenant_print_json(root);
	} else {
		g_print("Agent %s\n", self->agent_id);
		g_print(" registrar:%s\n", registrar != NULL ? "" : " not registered");
		if (registrar != NULL)
			kl_tenant_print_object(registrar, "  ");
		g_print(" verifier:%s\n", verifier != NULL ? "" : " not enrolled");
		if (verifier != NULL)
			kl_tenant_print_object(verifier, "  ");
	}
	if (registrar == NULL && verifier == NULL)
		return kl_tenant_fail_message(self,
					      KL_ERROR_NOT_FOUND,
					      "agent %s is neither on the registrar nor on the "
					      "verifier",
					      self->agent_id);
	return KL_TENANT_EXIT_OK;
}

/* A list: the results as they came with --json, else one id per line. */
static gint
kl_tenant_list(KlTenant *self, gboolean registrar)
{
	g_autofree gchar *path = NULL;
	g_autoptr(KlTenantReply) reply = NULL;
	gint code = KL_TENANT_EXIT_OK;
	JsonObject *results;
	JsonArray *uuids = NULL;
	g_autoptr(GError) error = NULL;

	if (registrar) {
		path = g_strdup("/agents/");
	} else {
		const gchar *vid = kl_tenant_args_get(self->args, KL_TENANT_OPT_CVID);
		g_autofree gchar *escaped =
			g_uri_escape_string(vid != NULL ? vid : "default", NULL, FALSE);

		path = g_strdup_printf("/agents/?verifier=%s", escaped);
	}
	reply = kl_tenant_call(self, registrar, "GET", path, NULL, &code);
	if (reply == NULL)
		return code;
	if (!kl_tenant_reply_ok(reply))
		return kl_tenant_fail_reply(self,
					    registrar ? "registrar" : "verifier",
					    "GET",
					    path,
					    reply);
	if (reply->results == NULL || !JSON_NODE_HOLDS_OBJECT(reply->results))
		return kl_tenant_fail_message(self,
					      KL_ERROR_INVALID_ARGUMENT,
					      "%s: GET %s: no results object",
					      registrar ? "registrar" : "verifier",
					      path);
	results = json_node_get_object(reply->results);
	if (!kl_json_object_get_array(results, "uuids", &uuids, &error)) {
		g_prefix_error(&error, "%s: GET %s: ", registrar ? "registrar" : "verifier", path);
		return kl_tenant_fail(self, NULL, error);
	}
	if (self->json) {
		kl_tenant_print_json(reply->results);
		return KL_TENANT_EXIT_OK;
	}
	for (guint i = 0; i < json_array_get_length(uuids); i++) {
		JsonNode *node = json_array_get_element(uuids, i);

		/* the verifier lists rows: [["id"], ...] */
		if (JSON_NODE_HOLDS_ARRAY(node) && json_array_get_length(json_node_get_array(node)))
			node = json_array_get_element(json_node_get_array(node), 0);
		if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING)
			g_print("%s\n", json_node_get_string(node));
	}
	return KL_TENANT_EXIT_OK;
}

static gint
kl_tenant_bulkinfo(KlTenant *self)
{
	const gchar *vid = kl_tenant_args_get(self->args, KL_TENANT_OPT_CVID);
	g_autofree gchar *escaped = g_uri_escape_string(vid != NULL ? vid : "default", NULL, FALSE);
	g_autofree gchar *path = g_strdup_printf("/agents/?bulk=True&verifier=%s", escaped);
	g_autoptr(KlTenantReply) reply = NULL;
	g_autoptr(JsonObject) out = json_object_new();
	g_autoptr(GList) members = NULL;
	gint code = KL_TENANT_EXIT_OK;

	reply = kl_tenant_call(self, FALSE, "GET", path, NULL, &code);
	if (reply == NULL)
		return code;
	if (!kl_tenant_reply_ok(reply))
		return kl_tenant_fail_reply(self, "verifier", "GET", path, reply);
	if (reply->results == NULL || !JSON_NODE_HOLDS_OBJECT(reply->results))
		return kl_tenant_fail_message(self,
					      KL_ERROR_INVALID_ARGUMENT,
					      "verifier: GET %s: no results object",
					      path);
	members = json_object_get_members(json_node_get_object(reply->results));
	for (GList *l = members; l != NULL; l = l->next) {
		JsonNode *node =
			json_object_get_member(json_node_get_object(reply->results), l->data);

		json_object_set_object_member(out, l->data, kl_tenant_status_with_label(node));
	}
	if (self->json) {
		g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);

		json_node_set_object(root, out);
		kl_tenant_print_json(root);
		return KL_TENANT_EXIT_OK;
	}
	for (GList *l = members; l != NULL; l = l->next) {
		g_print("Agent %s:\n", (const gchar *)l->data);
		kl_tenant_print_object(json_object_get_object_member(out, l->data), "  ");
	}
	return KL_TENANT_EXIT_OK;
}

/* A request whose success is all there is to say (reactivate, regdelete). */
static gint
kl_tenant_simple(KlTenant *self,
		 gboolean registrar,
		 const gchar *method,
		 const gchar *path,
		 const gchar *done)
{
	g_autoptr(KlTenantReply) reply = NULL;
	gint code = KL_TENANT_EXIT_OK;

	reply = kl_tenant_call(self, registrar, method, path, NULL, &code);
	if (reply == NULL)
		return code;
	if (!kl_tenant_reply_ok(reply))
		return kl_tenant_fail_reply(self,
					    registrar ? "registrar" : "verifier",
					    method,
					    path,
					    reply);
	if (self->json) {
		g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
		g_autoptr(JsonObject) object = json_object_new();

		json_object_set_string_member(object, "agent_id", self->agent_id);
		json_object_set_int_member(object, "code", reply->status);
		json_object_set_string_member(object, "status", reply->message);
		json_node_set_object(root, object);
		kl_tenant_print_json(root);
	} else {
		g_print("Agent %s %s\n", self->agent_id, done);
	}
	return KL_TENANT_EXIT_OK;
}

/* delete: DELETE, and with 202 wait until the verifier let the agent go. */
static gint
kl_tenant_delete_agent(KlTenant *self, gboolean missing_ok, gboolean quiet)
{
	g_autofree gchar *path = kl_tenant_agent_path(self, NULL);
	g_autoptr(KlTenantReply) reply = NULL;
	gint code = KL_TENANT_EXIT_OK;

	reply = kl_tenant_call(self, FALSE, "DELETE", path, NULL, &code);
	if (reply == NULL)
		return code;
	if (reply->status == 404 && missing_ok)
		return KL_TENANT_EXIT_OK;
	if (!kl_tenant_reply_ok(reply))
		return kl_tenant_fail_reply(self, "verifier", "DELETE", path, reply);
	for (gint64 attempt = 0; reply->status == 202; attempt++) {
		g_autoptr(KlTenantReply) status = NULL;

		if (attempt > self->max_retries)
			return kl_tenant_fail_message(
				self,
				KL_ERROR_TIMED_OUT,
				"verifier: agent %s still there after %" G_GINT64_FORMAT " tries",
				self->agent_id,
				self->max_retries);
		kl_tenant_backoff(self, attempt);
		status = kl_tenant_call(self, FALSE, "GET", path, NULL, &code);
		if (status == NULL)
			return code;
		if (status->status == 404)
			break;
	}
	if (quiet)
		return KL_TENANT_EXIT_OK;
	if (self->json) {
		g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
		g_autoptr(JsonObject) object = json_object_new();

		json_object_set_string_member(object, "agent_id", self->agent_id);
		json_object_set_boolean_member(object, "deleted", TRUE);
		json_node_set_object(root, object);
		kl_tenant_print_json(root);
	} else {
		g_print("Agent %s deleted from the verifier\n", self->agent_id);
	}
	return KL_TENANT_EXIT_OK;
}

/* --- policies ---------------------------------------------------------- */

static gchar *
kl_tenant_read_text(const gchar *option, const gchar *path, gsize max, GError **error)
{
	gsize len = 0;
	gchar *text = kl_tenant_read_input(path, max, &len, error);

	if (text == NULL)
		g_prefix_error(error, "%s %s: ", option, path);
	else if (strlen(text) != len) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "%s %s: holds a NUL byte",
			    option,
			    path);
		g_clear_pointer(&text, g_free);
	}
	return text;
}

/* The runtime policy of --runtime-policy, --allowlist and --exclude as the
 * verifier takes it (JSON or DSSE text); NULL without those options. */
static gboolean
kl_tenant_runtime_policy(KlTenant *self, gchar **policy, GError **error)
{
	const gchar *file = kl_tenant_args_get(self->args, KL_TENANT_OPT_RUNTIME_POLICY);
	const gchar *allowlist = kl_tenant_args_get(self->args, KL_TENANT_OPT_ALLOWLIST);
	const gchar *exclude = kl_tenant_args_get(self->args, KL_TENANT_OPT_EXCLUDE);
	g_autoptr(KlRuntimePolicyBuilder) builder = NULL;
	g_autofree gchar *text = NULL;
	g_autoptr(KlRuntimePolicy) parsed = NULL;

	*policy = NULL;
	if (file != NULL && allowlist != NULL) {
		g_set_error(error,
			    G_OPTION_ERROR,
			    G_OPTION_ERROR_BAD_VALUE,
			    "--runtime-policy and --allowlist exclude each other");
		return FALSE;
	}
	if (file == NULL && allowlist == NULL) {
		if (exclude != NULL) {
			g_set_error(error,
				    G_OPTION_ERROR,
				    G_OPTION_ERROR_BAD_VALUE,
				    "--exclude needs --runtime-policy or --allowlist");
			return FALSE;
		}
		return TRUE;
	}
	if (file != NULL) {
		text = kl_tenant_read_text("--runtime-policy", file, KL_TENANT_MAX_POLICY, error);
		if (text == NULL)
			return FALSE;
		if (kl_runtime_policy_is_dsse(text, strlen(text))) {
			if (exclude != NULL) {
				g_set_error(error,
					    G_OPTION_ERROR,
					    G_OPTION_ERROR_BAD_VALUE,
					    "--exclude cannot change a signed runtime policy");
				return FALSE;
			}
			*policy = g_steal_pointer(&text);
			return TRUE;
		}
		parsed = kl_runtime_policy_new_from_json(text, strlen(text), error);
		if (parsed == NULL) {
			g_prefix_error(error, "--runtime-policy %s: ", file);
			return FALSE;
		}
		if (exclude == NULL) {
			*policy = g_steal_pointer(&text);
			return TRUE;
		}
	}
	builder = kl_runtime_policy_builder_new();
	if (parsed != NULL && !kl_runtime_policy_builder_add_policy(builder, parsed, error))
		return FALSE;
	if (allowlist != NULL) {
		g_autofree gchar *list =
			kl_tenant_read_text("--allowlist", allowlist, KL_TENANT_MAX_POLICY, error);

		if (list == NULL || !kl_runtime_policy_builder_add_allowlist(builder,
									     list,
									     strlen(list),
									     NULL,
									     error))
			return FALSE;
	}
	if (exclude != NULL) {
		g_autofree gchar *list =
			kl_tenant_read_text("--exclude", exclude, KL_TENANT_MAX_POLICY, error);

		if (list == NULL ||
		    !kl_runtime_policy_builder_add_exclude_list(builder, list, strlen(list), error))
			return FALSE;
	}
	*policy = kl_runtime_policy_builder_to_json(builder);
	return TRUE;
}

/* --mb-policy (or tenant.conf mb_refstate): JSON text, checked. */
static gboolean
kl_tenant_mb_policy(KlTenant *self, gboolean use_config, gchar **policy, GError **error)
{
	const gchar *file = kl_tenant_args_get(self->args, KL_TENANT_OPT_MB_POLICY);
	g_autofree gchar *text = NULL;
	g_autoptr(JsonNode) node = NULL;

	*policy = NULL;
	if (file == NULL && use_config)
		file = kl_config_get_string(self->config, KL_TENANT_SECTION, "mb_refstate", "");
	if (file == NULL || file[0] == '\0')
		return TRUE;
	text = kl_tenant_read_text("--mb-policy", file, KL_TENANT_MAX_POLICY, error);
	if (text == NULL)
		return FALSE;
	node = kl_json_parse(text, strlen(text), KL_TENANT_MAX_POLICY, 64, error);
	if (node == NULL) {
		g_prefix_error(error, "--mb-policy %s: ", file);
		return FALSE;
	}
	*policy = g_steal_pointer(&text);
	return TRUE;
}

static const gchar *
kl_tenant_policy_name(KlTenant *self, gboolean mb, GError **error)
{
	const gchar *name = kl_tenant_args_get(self->args,
					       mb ? KL_TENANT_OPT_MB_POLICY_NAME
						  : KL_TENANT_OPT_RUNTIME_POLICY_NAME);

	if (name == NULL || name[0] == '\0') {
		g_set_error(error,
			    G_OPTION_ERROR,
			    G_OPTION_ERROR_BAD_VALUE,
			    "-c %s needs %s",
			    self->command,
			    mb ? "--mb-policy-name" : "--runtime-policy-name");
		return NULL;
	}
	return name;
}

/* add/update/show/delete/list of /allowlists or /mbpolicies. */
static gint
kl_tenant_policy_command(KlTenant *self, gboolean mb, const gchar *verb)
{
	const gchar *collection = mb ? "/mbpolicies" : "/allowlists";
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTenantReply) reply = NULL;
	g_autoptr(JsonNode) body = NULL;
	g_autofree gchar *path = NULL;
	const gchar *method = "GET";
	const gchar *name = NULL;
	gint code = KL_TENANT_EXIT_OK;

	if (!g_str_equal(verb, "list")) {
		g_autofree gchar *escaped = NULL;

		name = kl_tenant_policy_name(self, mb, &error);
		if (name == NULL)
			return kl_tenant_fail(self, NULL, error);
		escaped = g_uri_escape_string(name, NULL, FALSE);
		path = g_strdup_printf("%s/%s", collection, escaped);
	} else {
		path = g_strdup(collection);
	}
	if (g_str_equal(verb, "add") || g_str_equal(verb, "update")) {
		g_autofree gchar *policy = NULL;
		g_autoptr(JsonObject) object = json_object_new();

		method = g_str_equal(verb, "add") ? "POST" : "PUT";
		if (mb ? !kl_tenant_mb_policy(self, FALSE, &policy, &error)
		       : !kl_tenant_runtime_policy(self, &policy, &error))
			return kl_tenant_fail_input(self, error);
		if (policy == NULL)
			return kl_tenant_usage(self,
					       "-c %s needs %s",
					       self->command,
					       mb ? "--mb-policy"
						  : "--runtime-policy or --allowlist");
		if (mb) {
			json_object_set_string_member(object, "mb_policy", policy);
		} else {
			g_autofree gchar *b64 =
				g_base64_encode((const guchar *)policy, strlen(policy));

			json_object_set_string_member(object, "runtime_policy", b64);
			json_object_set_string_member(object, "runtime_policy_key", "");
		}
		body = json_node_new(JSON_NODE_OBJECT);
		json_node_set_object(body, object);
	} else if (g_str_equal(verb, "delete")) {
		method = "DELETE";
	}
	reply = kl_tenant_call(self, FALSE, method, path, body, &code);
	if (reply == NULL)
		return code;
	if (!kl_tenant_reply_ok(reply))
		return kl_tenant_fail_reply(self, "verifier", method, path, reply);
	if (self->json) {
		g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
		g_autoptr(JsonObject) object = json_object_new();

		json_object_set_int_member(object, "code", reply->status);
		json_object_set_string_member(object, "status", reply->message);
		if (reply->results != NULL)
			json_object_set_member(object, "results", json_node_copy(reply->results));
		else
			json_object_set_object_member(object, "results", json_object_new());
		json_node_set_object(root, object);
		kl_tenant_print_json(root);
		return KL_TENANT_EXIT_OK;
	}
	if (g_str_equal(verb, "show") || g_str_equal(verb, "list")) {
		const gchar *member = g_str_equal(verb, "show")
					      ? (mb ? "mb_policy" : "runtime_policy")
					      : (mb ? "mbpolicy names" : "runtimepolicy names");
		JsonObject *results =
			reply->results != NULL && JSON_NODE_HOLDS_OBJECT(reply->results)
				? json_node_get_object(reply->results)
				: NULL;
		JsonNode *node = results != NULL ? json_object_get_member(results, member) : NULL;

		if (node == NULL)
			return kl_tenant_fail_message(self,
						      KL_ERROR_INVALID_ARGUMENT,
						      "verifier: GET %s: no \"%s\" in the reply",
						      path,
						      member);
		if (JSON_NODE_HOLDS_ARRAY(node)) {
			JsonArray *names = json_node_get_array(node);

			for (guint i = 0; i < json_array_get_length(names); i++) {
				JsonNode *element = json_array_get_element(names, i);

				if (JSON_NODE_HOLDS_VALUE(element) &&
				    json_node_get_value_type(element) == G_TYPE_STRING)
					g_print("%s\n", json_node_get_string(element));
			}
		} else if (JSON_NODE_HOLDS_VALUE(node) &&
			   json_node_get_value_type(node) == G_TYPE_STRING) {
			/* the policy as it was given, byte for byte */
			g_print("%s", json_node_get_string(node));
		} else {
			g_autofree gchar *text = kl_json_node_to_string(node, TRUE);

			g_print("%s\n", text);
		}
		return KL_TENANT_EXIT_OK;
	}
	g_printerr("%s: %s %s: %s\n",
		   KL_TENANT_PROGRAM,
		   mb ? "measured-boot policy" : "runtime policy",
		   name,
		   g_str_equal(verb, "add")	 ? "added"
		   : g_str_equal(verb, "update") ? "updated"
						 : "deleted");
	return KL_TENANT_EXIT_OK;
}

/* --- add ---------------------------------------------------------------- */

/* --sign_verification_key: a PEM public key as upstream's keyring JSON
 * ({"keyids": [id], "pubkeys": [b64 DER]}). */
static gchar *
kl_tenant_verification_keyring(const gchar *path, GError **error)
{
	g_autofree gchar *pem = kl_tenant_read_text("--sign_verification_key",
						    path,
						    KL_TENANT_MAX_SMALL_INPUT,
						    error);
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *b64 = NULL;
	g_autofree gchar *json = NULL;
	g_autoptr(GPtrArray) check = NULL;
	EVP_PKEY *key = NULL;
	BIO *bio;
	guint8 *der = NULL;
	gint der_len;
	guint32 keyid = 0;

	if (pem == NULL)
		return NULL;
	bio = BIO_new_mem_buf(pem, (int)strlen(pem));
	if (bio != NULL)
		key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (key == NULL) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INVALID_ARGUMENT,
			    "--sign_verification_key %s: not a PEM public key",
			    path);
		return NULL;
	}
	der_len = i2d_PUBKEY(key, &der);
	if (der_len <= 0 || !kl_runtime_policy_compute_key_id(key, &keyid, error)) {
		EVP_PKEY_free(key);
		OPENSSL_free(der);
		if (error != NULL && *error == NULL)
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INVALID_ARGUMENT,
				    "--sign_verification_key %s: cannot encode the key",
				    path);
		return NULL;
	}
	b64 = g_base64_encode(der, (gsize)der_len);
	OPENSSL_free(der);
	EVP_PKEY_free(key);
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "keyids");
	json_builder_begin_array(builder);
	json_builder_add_int_value(builder, keyid);
	json_builder_end_array(builder);
	json_builder_set_member_name(builder, "pubkeys");
	json_builder_begin_array(builder);
	json_builder_add_string_value(builder, b64);
	json_builder_end_array(builder);
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	json = kl_json_node_to_string(root, FALSE);
	/* what the verifier will parse */
	check = kl_runtime_policy_parse_keyring(json, strlen(json), error);
	if (check == NULL)
		return NULL;
	return g_steal_pointer(&json);
}

static gboolean
kl_tenant_add_options(KlTenant *self, KlTenantEnrollOptions *options, GError **error)
{
	const KlTenantArgs *args = self->args;
	const gchar *file = kl_tenant_args_get(args, KL_TENANT_OPT_FILE);
	const gchar *cert = kl_tenant_args_get(args, KL_TENANT_OPT_CERT);
	const gchar *include = kl_tenant_args_get(args, KL_TENANT_OPT_INCLUDE);
	const gchar *tpm_policy = kl_tenant_args_get(args, KL_TENANT_OPT_TPM_POLICY);
	const gchar *sign_key = kl_tenant_args_get(args, KL_TENANT_OPT_SIGN_VERIFICATION_KEY);
	const gchar *script;
	gint64 verify_ms;

	if (file != NULL && cert != NULL) {
		g_set_error(error,
			    G_OPTION_ERROR,
			    G_OPTION_ERROR_BAD_VALUE,
			    "-f/--file and --cert exclude each other");
		return FALSE;
	}
	if (include != NULL && cert == NULL) {
		g_set_error(error,
			    G_OPTION_ERROR,
			    G_OPTION_ERROR_BAD_VALUE,
			    "--include needs --cert");
		return FALSE;
	}
	if (kl_tenant_args_get(args, KL_TENANT_OPT_VERIFY) != NULL && file == NULL &&
	    cert == NULL) {
		g_set_error(error,
			    G_OPTION_ERROR,
			    G_OPTION_ERROR_BAD_VALUE,
			    "--verify needs a payload (-f/--file or --cert)");
		return FALSE;
	}
	options->agent_id = g_strdup(self->agent_id);
	options->registrar_host = g_strdup(self->registrar_host);
	options->registrar_port = self->registrar_port;
	options->registrar_ca = g_strdup(self->server_ca);
	options->client_cert = g_strdup(self->client_cert);
	options->client_key = g_strdup(self->client_key);
	options->agent_host = g_strdup(kl_tenant_args_get(args, KL_TENANT_OPT_TARGETHOST));
	if (kl_tenant_args_get(args, KL_TENANT_OPT_TARGETPORT) != NULL &&
	    !kl_tenant_args_port(args, KL_TENANT_OPT_TARGETPORT, &options->agent_port, error))
		return FALSE;
	options->cv_agent_host = g_strdup(kl_tenant_args_get(args, KL_TENANT_OPT_CV_TARGETHOST));
	if (!kl_config_get_boolean(self->config,
				   KL_TENANT_SECTION,
				   "enable_agent_mtls",
				   TRUE,
				   &options->agent_mtls,
				   error) ||
	    !kl_config_get_boolean(self->config,
				   KL_TENANT_SECTION,
				   "require_ek_cert",
				   TRUE,
				   &options->require_ek_cert,
				   error))
		return FALSE;
	options->tpm_cert_store = g_strdup(kl_config_get_string(self->config,
								KL_TENANT_SECTION,
								"tpm_cert_store",
								"/var/lib/keylime/tpm_cert_store"));
	script = kl_config_get_string(self->config, KL_TENANT_SECTION, "ek_check_script", "");
	if (script[0] != '\0')
		options->ek_check_script = g_strdup(script);
	/* tenant.conf's lists replace upstream's defaults */
	{
		const gchar *const keys[] = {"accept_tpm_hash_algs",
					     "accept_tpm_encryption_algs",
					     "accept_tpm_signing_algs"};
		gchar ***lists[] = {&options->accept_hash_algs,
				    &options->accept_enc_algs,
				    &options->accept_sign_algs};

		for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
			gchar ***list = lists[i];

			if (!kl_config_has_option(self->config, KL_TENANT_SECTION, keys[i]))
				continue;
			g_clear_pointer(list, g_strfreev);
			if (!kl_config_get_list(self->config,
						KL_TENANT_SECTION,
						keys[i],
						list,
						error))
				return FALSE;
		}
	}
	if (tpm_policy != NULL) {
		g_autoptr(JsonObject) parsed =
			kl_json_parse_object(tpm_policy, strlen(tpm_policy), 65536, 8, error);

		if (parsed == NULL) {
			g_prefix_error(error, "--tpm_policy: ");
			return FALSE;
		}
		g_free(options->tpm_policy);
		options->tpm_policy = g_strdup(tpm_policy);
	}
	if (!kl_tenant_runtime_policy(self, &options->runtime_policy, error) ||
	    !kl_tenant_mb_policy(self, TRUE, &options->mb_policy, error))
		return FALSE;
	options->runtime_policy_name =
		g_strdup(kl_tenant_args_get(args, KL_TENANT_OPT_RUNTIME_POLICY_NAME));
	options->mb_policy_name = g_strdup(kl_tenant_args_get(args, KL_TENANT_OPT_MB_POLICY_NAME));
	if (sign_key != NULL) {
		options->ima_sign_verification_keys =
			kl_tenant_verification_keyring(sign_key, error);
		if (options->ima_sign_verification_keys == NULL)
			return FALSE;
	}
	options->supported_version =
		g_strdup(kl_tenant_args_get(args, KL_TENANT_OPT_AGENT_API_VERSION));
	if (file != NULL) {
		gsize len = 0;
		gchar *data =
			kl_tenant_read_input(file, (gsize)self->max_payload_size, &len, error);

		if (data == NULL) {
			g_prefix_error(error, "-f %s: ", file);
			return FALSE;
		}
		options->payload_kind = KL_TENANT_PAYLOAD_FILE;
		options->payload_file = g_bytes_new_take(data, len);
	} else if (cert != NULL) {
		options->payload_kind = KL_TENANT_PAYLOAD_CERT_PACKAGE;
		/* upstream: "default" is <keylime_dir>/ca */
		options->ca_dir = g_str_equal(cert, "default")
					  ? g_build_filename(self->keylime_dir, "ca", NULL)
					  : g_strdup(cert);
		options->include_dir = g_strdup(include);
	}
	options->verify = kl_tenant_args_get(args, KL_TENANT_OPT_VERIFY) != NULL;
	options->verify_tries = (guint)MAX(1, self->max_retries);
	verify_ms = (gint64)(self->retry_interval * 1000.0);
	options->verify_interval_ms = (guint)CLAMP(verify_ms, 10, 600000);
	options->request_timeout = self->request_timeout;
	return TRUE;
}

static void
kl_tenant_progress_cb(KlTenantEnrollment *enrollment,
		      const gchar *step,
		      const gchar *message,
		      gpointer user_data)
{
	g_printerr("[%s] %s\n", step, message);
}

/* After the POST: GET until the verifier reports the agent's state. */
static gboolean
kl_tenant_wait_enrolled(KlTenant *self, GError **error)
{
	g_autofree gchar *path = kl_tenant_agent_path(self, NULL);

	for (gint64 attempt = 0; attempt <= self->max_retries; attempt++) {
		g_autoptr(KlTenantReply) reply = NULL;

		reply = kl_tenant_rest_request(self->verifier, "GET", path, NULL, error);
		if (reply == NULL)
			return FALSE;
		if (reply->status == 200 && reply->results != NULL &&
		    JSON_NODE_HOLDS_OBJECT(reply->results) &&
		    json_object_has_member(json_node_get_object(reply->results),
					   "operational_state"))
			return TRUE;
		kl_tenant_backoff(self, attempt);
	}
	g_set_error(error,
		    KL_ERROR,
		    KL_ERROR_TIMED_OUT,
		    "verifier %s:%u: agent %s not listed after %" G_GINT64_FORMAT " tries",
		    self->verifier_host,
		    self->verifier_port,
		    self->agent_id,
		    self->max_retries + 1);
	return FALSE;
}

/* The flow's verifier step: keeps the body and leaves the main loop, so
 * that kl_tenant_add() makes its synchronous requests outside of it. */
static void
kl_tenant_verifier_step(KlTenantEnrollment *enrollment,
			const gchar *agent_id,
			JsonObject *body,
			gpointer user_data)
{
	KlTenant *self = user_data;

	self->verifier_body = json_object_ref(body);
	g_main_loop_quit(self->loop);
}

/* POST the body to the verifier, then wait until it lists the agent. */
static GError *
kl_tenant_enroll_with_verifier(KlTenant *self, JsonObject *body)
{
	g_autofree gchar *path = kl_tenant_agent_path(self, NULL);
	g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
	g_autoptr(KlTenantReply) reply = NULL;
	GError *error = NULL;

	json_node_set_object(node, body);
	g_printerr("[verifier] POST https://%s:%u/v2.x%s\n",
		   self->verifier_host,
		   self->verifier_port,
		   path);
	reply = kl_tenant_rest_request(self->verifier, "POST", path, node, &error);
	if (reply != NULL && !kl_tenant_reply_ok(reply)) {
		error = g_error_new(KL_ERROR,
				    reply->status == 409 ? KL_ERROR_CONFLICT
							 : KL_ERROR_INVALID_ARGUMENT,
				    "verifier %s:%u refused agent %s: HTTP %u: %s",
				    self->verifier_host,
				    self->verifier_port,
				    self->agent_id,
				    reply->status,
				    reply->message);
	} else if (reply != NULL && !kl_tenant_wait_enrolled(self, &error)) {
		/* nothing half-enrolled: the verifier lets the agent go again */
		g_autoptr(KlTenantReply) undo =
			kl_tenant_rest_request(self->verifier, "DELETE", path, NULL, NULL);
	}
	return error;
}

static void
kl_tenant_add_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	KlTenant *self = user_data;

	self->add_ok = kl_tenant_enrollment_run_finish(KL_TENANT_ENROLLMENT(source),
						       result,
						       &self->add_error);
	g_main_loop_quit(self->loop);
}

static gint
kl_tenant_add(KlTenant *self)
{
	g_autoptr(KlTenantEnrollOptions) options = kl_tenant_enroll_options_new();
	g_autoptr(KlTenantEnrollment) enrollment = NULL;
	g_autoptr(JsonObject) status = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *failed;
	gint code;

	if (!kl_tenant_add_options(self, options, &error))
		return kl_tenant_fail_input(self, error);
	/* the verifier's client first: a configuration error before any step */
	if (kl_tenant_service(self, FALSE, &error) == NULL)
		return kl_tenant_fail(self, NULL, error);
	enrollment = kl_tenant_enrollment_new(g_steal_pointer(&options),
					      kl_tenant_verifier_step,
					      self,
					      NULL);
	g_signal_connect(enrollment, "progress", G_CALLBACK(kl_tenant_progress_cb), self);
	self->loop = g_main_loop_new(NULL, FALSE);
	kl_tenant_enrollment_run_async(enrollment, NULL, kl_tenant_add_done_cb, self);
	g_main_loop_run(self->loop);
	if (self->verifier_body != NULL) {
		g_autoptr(JsonObject) body = g_steal_pointer(&self->verifier_body);

		kl_tenant_enrollment_verifier_done(enrollment,
						   kl_tenant_enroll_with_verifier(self, body));
		g_main_loop_run(self->loop);
	}
	if (!self->add_ok) {
		failed = kl_tenant_enrollment_get_failed_step(enrollment);
		if (g_strcmp0(failed, KL_TENANT_STEP_VERIFY) == 0) {
			/* as upstream: the agent stays enrolled but stopped */
			g_autofree gchar *path = kl_tenant_agent_path(self, "/stop");
			g_autoptr(KlTenantReply) stop =
				kl_tenant_rest_request(self->verifier, "PUT", path, NULL, NULL);

			g_printerr("[verify] agent %s stopped on the verifier%s\n",
				   self->agent_id,
				   stop != NULL && kl_tenant_reply_ok(stop) ? "" : " (failed)");
		}
		return kl_tenant_fail(self, failed, self->add_error);
	}
	code = kl_tenant_get_cv_status(self, &status);
	if (code != KL_TENANT_EXIT_OK)
		return code == KL_TENANT_EXIT_FAILED ? kl_tenant_not_found(self, "verifier") : code;
	if (self->json) {
		kl_tenant_print_agent(self, "Verifier: agent", status);
	} else {
		JsonNode *state = json_object_get_member(status, "operational_state");

		g_print("Agent %s enrolled with verifier %s:%u (%s)\n",
			self->agent_id,
			self->verifier_host,
			self->verifier_port,
			state != NULL && JSON_NODE_HOLDS_VALUE(state) &&
					json_node_get_value_type(state) == G_TYPE_STRING
				? json_node_get_string(state)
				: "unknown state");
	}
	return KL_TENANT_EXIT_OK;
}

/* --- main --------------------------------------------------------------- */

static gint
kl_tenant_run(KlTenant *self)
{
	const gchar *command = self->command;

	if (g_str_equal(command, "add"))
		return kl_tenant_add(self);
	if (g_str_equal(command, "update")) {
		gint code = kl_tenant_delete_agent(self, TRUE, TRUE);

		return code != KL_TENANT_EXIT_OK ? code : kl_tenant_add(self);
	}
	if (g_str_equal(command, "delete"))
		return kl_tenant_delete_agent(self, FALSE, FALSE);
	if (g_str_equal(command, "status"))
		return kl_tenant_status(self);
	if (g_str_equal(command, "cvstatus"))
		return kl_tenant_cvstatus(self);
	if (g_str_equal(command, "regstatus"))
		return kl_tenant_regstatus(self);
	if (g_str_equal(command, "cvlist"))
		return kl_tenant_list(self, FALSE);
	if (g_str_equal(command, "reglist"))
		return kl_tenant_list(self, TRUE);
	if (g_str_equal(command, "bulkinfo"))
		return kl_tenant_bulkinfo(self);
	if (g_str_equal(command, "reactivate")) {
		g_autofree gchar *path = kl_tenant_agent_path(self, "/reactivate");

		return kl_tenant_simple(self, FALSE, "PUT", path, "reactivated on the verifier");
	}
	if (g_str_equal(command, "regdelete")) {
		g_autofree gchar *path = kl_tenant_agent_path(self, NULL);

		return kl_tenant_simple(self, TRUE, "DELETE", path, "deleted from the registrar");
	}
	if (g_str_has_suffix(command, "runtimepolicy")) {
		g_autofree gchar *verb =
			g_strndup(command, strlen(command) - strlen("runtimepolicy"));

		return kl_tenant_policy_command(self, FALSE, verb);
	}
	if (g_str_has_suffix(command, "mbpolicy")) {
		g_autofree gchar *verb = g_strndup(command, strlen(command) - strlen("mbpolicy"));

		return kl_tenant_policy_command(self, TRUE, verb);
	}
	/* kl_tenant_args_parse() accepts only the table's commands */
	g_assert_not_reached();
}

int
main(int argc, char **argv)
{
	g_auto(KlTenant) self = {0};
	g_autoptr(GError) error = NULL;

	self.command = "add";
	self.agent_id = KL_TENANT_DEFAULT_UUID;
	self.args = kl_tenant_args_parse(argc - 1, (const gchar *const *)argv + 1, &error);
	if (self.args == NULL) {
		g_printerr("%s: %s\nTry \"%s --help\".\n",
			   KL_TENANT_PROGRAM,
			   error->message,
			   KL_TENANT_PROGRAM);
		return KL_TENANT_EXIT_USAGE;
	}
	if (kl_tenant_args_get(self.args, KL_TENANT_OPT_HELP) != NULL) {
		g_autofree gchar *help = kl_tenant_args_help(KL_TENANT_PROGRAM);

		g_print("%s", help);
		return KL_TENANT_EXIT_OK;
	}
	self.json = kl_tenant_args_get(self.args, KL_TENANT_OPT_JSON) != NULL;
	if (kl_tenant_args_get(self.args, KL_TENANT_OPT_COMMAND) != NULL)
		self.command = kl_tenant_args_get(self.args, KL_TENANT_OPT_COMMAND);
	if (kl_tenant_args_get(self.args, KL_TENANT_OPT_UUID) != NULL)
		self.agent_id = kl_tenant_args_get(self.args, KL_TENANT_OPT_UUID);
	if (self.agent_id[0] == '\0')
		return kl_tenant_usage(&self, "-u/--uuid: empty agent id");
	if (!kl_tenant_load_settings(&self, &error))
		return kl_tenant_fail(&self, NULL, error);
	return kl_tenant_run(&self);
}
