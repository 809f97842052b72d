/*
 * kl-tenant-package: the certificate-package payload (see
 * kl-tenant-package.h).
 */
#define G_LOG_DOMAIN "KlTenant"

#include "config.h"

#include <string.h>
#include <sys/stat.h>

#include <json-glib/json-glib.h>

#include "kl-tenant-package.h"

#include "engine/core/kl-ca.h"
#include "engine/core/kl-error.h"
#include "engine/core/kl-json.h"

/* an --include file read whole (the whole payload is bounded later) */
#define KL_TENANT_PACKAGE_MAX_FILE (1024 * 1024)

void
kl_tenant_package_free(KlTenantPackage *self)
{
	if (self == NULL)
		return;
	g_clear_pointer(&self->zip, g_bytes_unref);
	g_free(self->metadata);
	if (self->revocation_key != NULL)
		explicit_bzero(self->revocation_key, strlen(self->revocation_key));
	g_free(self->revocation_key);
	g_free(self);
}

static GBytes *
kl_tenant_package_read(const gchar *path, GError **error)
{
	gchar *data = NULL;
	gsize len = 0;

	if (!g_file_get_contents(path, &data, &len, error))
		return NULL;
	if (len > KL_TENANT_PACKAGE_MAX_FILE) {
		g_free(data);
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_TOO_LARGE,
			    "%s is larger than %u bytes",
			    path,
			    (guint)KL_TENANT_PACKAGE_MAX_FILE);
		return NULL;
	}
	return g_bytes_new_take(data, len);
}

static gint
kl_tenant_package_compare_names(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(*(const gchar *const *)a, *(const gchar *const *)b);
}

/* The regular files of @dir, in name order, with their permission bits. */
static gboolean
kl_tenant_package_add_include(KlZipWriter *zip, const gchar *dir, GError **error)
{
	g_autoptr(GDir) handle = NULL;
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	const gchar *name;

	handle = g_dir_open(dir, 0, error);
	if (handle == NULL)
		return FALSE;
	while ((name = g_dir_read_name(handle)) != NULL)
		g_ptr_array_add(names, g_strdup(name));
	g_ptr_array_sort(names, kl_tenant_package_compare_names);
	for (guint i = 0; i < names->len; i++) {
		const gchar *entry = g_ptr_array_index(names, i);
		g_autofree gchar *path = g_build_filename(dir, entry, NULL);
		g_autoptr(GBytes) contents = NULL;
		struct stat st;

		if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		contents = kl_tenant_package_read(path, error);
		if (contents == NULL)
			return FALSE;
		if (!kl_zip_writer_add(zip, entry, contents, st.st_mode & 0777, error)) {
			g_prefix_error(error, "--include %s: ", dir);
			return FALSE;
		}
	}
	return TRUE;
}

KlTenantPackage *
kl_tenant_package_new(const gchar *ca_dir,
		      const gchar *agent_id,
		      const gchar *include_dir,
		      const gchar *const *revocation_actions,
		      GError **error)
{
	g_autoptr(KlTenantPackage) package = g_new0(KlTenantPackage, 1);
	g_autoptr(KlCaSettings) settings = kl_ca_settings_new();
	g_autoptr(KlCa) ca = NULL;
	g_autoptr(KlZipWriter) zip = NULL;
	g_autoptr(GBytes) notifier_cert = NULL;
	g_autoptr(GBytes) notifier_key = NULL;
	g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *cacert = NULL;
	g_autofree gchar *agent_cert = NULL;
	g_autofree gchar *notifier_cert_path = NULL;
	g_autofree gchar *notifier_key_path = NULL;
	g_autofree gchar *subject = NULL;
	g_autofree gchar *actions = NULL;
	guint64 serial = 0;

	g_return_val_if_fail(ca_dir != NULL && agent_id != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	cacert = g_build_filename(ca_dir, "cacert.crt", NULL);
	if (g_file_test(cacert, G_FILE_TEST_EXISTS))
		ca = kl_ca_open(ca_dir, settings, error);
	else
		ca = kl_ca_init(ca_dir, settings, error);
	if (ca == NULL)
		return NULL;
	agent_cert = kl_ca_build_path(ca, agent_id, "-cert.crt");
	if (!g_file_test(agent_cert, G_FILE_TEST_EXISTS) && !kl_ca_create_cert(ca, agent_id, error))
		return NULL;
	zip = kl_ca_package_new(ca, agent_id, &serial, &subject, error);
	if (zip == NULL)
		return NULL;

	/* the RevocationNotifier: its certificate to the agent, its key to
	 * the verifier (upstream makes it once per CA) */
	notifier_key_path = kl_ca_build_path(ca, KL_CA_REVOCATION_NOTIFIER_NAME, "-private.pem");
	if (!g_file_test(notifier_key_path, G_FILE_TEST_EXISTS) &&
	    !kl_ca_create_cert(ca, KL_CA_REVOCATION_NOTIFIER_NAME, error))
		return NULL;
	notifier_cert_path = kl_ca_build_path(ca, KL_CA_REVOCATION_NOTIFIER_NAME, "-cert.crt");
	notifier_cert = kl_tenant_package_read(notifier_cert_path, error);
	if (notifier_cert == NULL)
		return NULL;
	notifier_key = kl_tenant_package_read(notifier_key_path, error);
	if (notifier_key == NULL)
		return NULL;
	if (!kl_zip_writer_add(zip, "RevocationNotifier-cert.crt", notifier_cert, 0644, error))
		return NULL;

	if (include_dir != NULL && !kl_tenant_package_add_include(zip, include_dir, error))
		return NULL;
	if (revocation_actions != NULL && revocation_actions[0] != NULL) {
		g_autoptr(GBytes) list = NULL;

		actions = g_strjoinv(",", (gchar **)revocation_actions);
		list = g_bytes_new(actions, strlen(actions));
		if (!kl_zip_writer_add(zip, "action_list", list, 0644, error)) {
			g_prefix_error(error, "revocation actions: ");
			return NULL;
		}
	}
	package->zip = kl_zip_writer_finish(zip, error);
	if (package->zip == NULL)
		return NULL;
	package->revocation_key =
		g_strndup(g_bytes_get_data(notifier_key, NULL), g_bytes_get_size(notifier_key));

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "cert_serial");
	json_builder_add_int_value(builder, (gint64)serial);
	json_builder_set_member_name(builder, "subject");
	json_builder_add_string_value(builder, subject);
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	package->metadata = kl_json_node_to_string(root, FALSE);
	return g_steal_pointer(&package);
}

typedef struct {
	gchar *ca_dir;
	gchar *agent_id;
	gchar *include_dir;
	GStrv revocation_actions;
} KlTenantPackageRequest;

static void
kl_tenant_package_request_free(KlTenantPackageRequest *request)
{
	g_free(request->ca_dir);
	g_free(request->agent_id);
	g_free(request->include_dir);
	g_strfreev(request->revocation_actions);
	g_free(request);
}

static void
kl_tenant_package_thread(GTask *task,
			 gpointer source_object,
			 gpointer task_data,
			 GCancellable *cancellable)
{
	KlTenantPackageRequest *request = task_data;
	GError *error = NULL;
	KlTenantPackage *package =
		kl_tenant_package_new(request->ca_dir,
				      request->agent_id,
				      request->include_dir,
				      (const gchar *const *)request->revocation_actions,
				      &error);

	if (package == NULL)
		g_task_return_error(task, error);
	else
		g_task_return_pointer(task, package, (GDestroyNotify)kl_tenant_package_free);
}

void
kl_tenant_package_new_async(const gchar *ca_dir,
			    const gchar *agent_id,
			    const gchar *include_dir,
			    const gchar *const *revocation_actions,
			    GCancellable *cancellable,
			    GAsyncReadyCallback callback,
			    gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(NULL, cancellable, callback, user_data);
	KlTenantPackageRequest *request = g_new0(KlTenantPackageRequest, 1);

	request->ca_dir = g_strdup(ca_dir);
	request->agent_id = g_strdup(agent_id);
	request->include_dir = g_strdup(include_dir);
	request->revocation_actions = g_strdupv((gchar **)revocation_actions);
	g_task_set_source_tag(task, kl_tenant_package_new_async);
	g_task_set_task_data(task, request, (GDestroyNotify)kl_tenant_package_request_free);
	g_task_run_in_thread(task, kl_tenant_package_thread);
}

KlTenantPackage *
kl_tenant_package_new_finish(GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, NULL), NULL);
	g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == kl_tenant_package_new_async,
			     NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

void
kl_tenant_package_add_enroll_options(const KlTenantPackage *self, GVariantDict *options)
{
	g_return_if_fail(self != NULL && options != NULL);
	g_variant_dict_insert(options, "cert_package", "b", TRUE);
	g_variant_dict_insert(options, "metadata", "s", self->metadata);
	g_variant_dict_insert(options, "revocation_key", "s", self->revocation_key);
}
