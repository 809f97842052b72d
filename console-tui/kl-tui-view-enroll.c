/*
 * The enrollment form: a registered agent the verifier does not attest yet
 * (Registrar1 through kl_client_list_unenrolled_agents_async), a runtime
 * policy by name (ListRuntimePolicies) or from a file (added under its
 * file name first), a measured-boot policy, a tpm_policy, and a payload:
 * none, a file, or a certificate package made here from a CA directory,
 * an include directory and revocation actions (kl-tenant-package, as
 * keylime_tenant --cert does).  A review page shows the registrar's record
 * before EnrollAgent runs; the verifier's EnrollmentProgress steps are
 * listed as they come.
 */
#define G_LOG_DOMAIN "KlTui"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "kl-tenant-package.h"
#include "kl-tui-app.h"
#include "kl-tui-entry.h"

enum {
	FIELD_AGENT,
	FIELD_RUNTIME_POLICY,
	FIELD_MB_POLICY,
	FIELD_TPM_POLICY,
	FIELD_PAYLOAD,
	FIELD_PAYLOAD_FILE,
	FIELD_CA_DIR,
	FIELD_INCLUDE_DIR,
	FIELD_ACTIONS,
	FIELD_REVIEW, /* the button */
	N_FIELDS,
};

enum {
	PAYLOAD_NONE,
	PAYLOAD_FILE,
	PAYLOAD_CERT_PACKAGE,
};

typedef enum {
	STAGE_FORM,
	STAGE_REVIEW,
	STAGE_ENROLLING,
	STAGE_DONE,
} KlTuiEnrollStage;

struct _KlTuiEnrollView {
	KlTuiEnrollStage stage;
	guint field;
	gchar *values[N_FIELDS];
	GStrv options[N_FIELDS]; /* choices the arrows cycle through */
	gboolean editing;
	KlTuiEntry entry;
	GVariant *record; /* the registrar's record of the chosen agent */
	GPtrArray *progress;
	gulong progress_id;
	gchar *policy_name;	   /* the runtime policy enrolled with */
	GVariant *package_options; /* EnrollAgent's, while the package is made */
};

static const gchar *kl_tui_enroll_labels[N_FIELDS] = {
	[FIELD_AGENT] = N_("Agent"),
	[FIELD_RUNTIME_POLICY] = N_("Runtime policy (name or file)"),
	[FIELD_MB_POLICY] = N_("Measured boot policy"),
	[FIELD_TPM_POLICY] = N_("TPM policy (JSON)"),
	[FIELD_PAYLOAD] = N_("Payload"),
	[FIELD_PAYLOAD_FILE] = N_("Payload file"),
	[FIELD_CA_DIR] = N_("CA directory"),
	[FIELD_INCLUDE_DIR] = N_("Include directory"),
	[FIELD_ACTIONS] = N_("Revocation actions (a,b)"),
	[FIELD_REVIEW] = N_("[ Review ]"),
};

static const gchar *kl_tui_enroll_payloads[] = {
	[PAYLOAD_NONE] = N_("none"),
	[PAYLOAD_FILE] = N_("file"),
	[PAYLOAD_CERT_PACKAGE] = N_("certificate package"),
};

static guint
kl_tui_enroll_payload(KlTuiEnrollView *self)
{
	for (guint i = 0; i < G_N_ELEMENTS(kl_tui_enroll_payloads); i++) {
		if (g_strcmp0(self->values[FIELD_PAYLOAD], kl_tui_enroll_payloads[i]) == 0)
			return i;
	}
	return PAYLOAD_NONE;
}

static KlTuiEnrollView *
kl_tui_enroll_get(KlTuiApp *app)
{
	if (app->enroll == NULL) {
		KlTuiEnrollView *self = g_new0(KlTuiEnrollView, 1);

		for (guint i = 0; i < N_FIELDS; i++)
			self->values[i] = g_strdup("");
		g_free(self->values[FIELD_PAYLOAD]);
		self->values[FIELD_PAYLOAD] = g_strdup(kl_tui_enroll_payloads[PAYLOAD_NONE]);
		self->options[FIELD_PAYLOAD] =
			g_new0(gchar *, G_N_ELEMENTS(kl_tui_enroll_payloads) + 1);
		for (guint i = 0; i < G_N_ELEMENTS(kl_tui_enroll_payloads); i++)
			self->options[FIELD_PAYLOAD][i] = g_strdup(kl_tui_enroll_payloads[i]);
		self->progress = g_ptr_array_new_with_free_func(g_free);
		app->enroll = self;
	}
	return app->enroll;
}

void
kl_tui_view_enroll_free(KlTuiApp *app)
{
	KlTuiEnrollView *self = app->enroll;

	if (self == NULL)
		return;
	if (self->progress_id != 0 && app->client != NULL)
		g_signal_handler_disconnect(app->client, self->progress_id);
	for (guint i = 0; i < N_FIELDS; i++) {
		g_free(self->values[i]);
		g_strfreev(self->options[i]);
	}
	kl_tui_entry_clear(&self->entry);
	g_clear_pointer(&self->record, g_variant_unref);
	g_ptr_array_unref(self->progress);
	g_free(self->policy_name);
	g_clear_pointer(&self->package_options, g_variant_unref);
	g_clear_pointer(&app->enroll, g_free);
}

static void
kl_tui_enroll_set(KlTuiEnrollView *self, guint field, const gchar *value)
{
	g_free(self->values[field]);
	self->values[field] = g_strdup(value);
}

/* Options of a choice field, with "" (none) first for the policies. */
static void
kl_tui_enroll_set_options(KlTuiEnrollView *self, guint field, GStrv names, gboolean with_none)
{
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();

	if (with_none)
		g_strv_builder_add(builder, "");
	for (guint i = 0; names != NULL && names[i] != NULL; i++)
		g_strv_builder_add(builder, names[i]);
	g_strfreev(self->options[field]);
	self->options[field] = g_strv_builder_end(builder);
	if (field == FIELD_AGENT && self->values[field][0] == '\0' && names != NULL &&
	    names[0] != NULL)
		kl_tui_enroll_set(self, field, names[0]);
}

static void
kl_tui_enroll_agents_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	KlTuiApp *app = user_data;
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) ids =
		kl_client_list_unenrolled_agents_finish(KL_CLIENT(source), result, &error);

	if (ids == NULL) {
		if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			kl_tui_app_set_message(app, TRUE, _("Registrar: %s"), error->message);
		return;
	}
	kl_tui_enroll_set_options(app->enroll, FIELD_AGENT, ids, FALSE);
	if (ids[0] == NULL)
		kl_tui_app_set_message(app, FALSE, _("Every registered agent is enrolled."));
	kl_tui_app_queue_redraw(app);
}

static void
kl_tui_enroll_policies_done(KlTuiApp *app, GObject *source, GAsyncResult *result, guint field)
{
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) names = kl_client_list_policies_finish(KL_CLIENT(source), result, &error);

	if (names == NULL) {
		if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			kl_tui_app_set_message(app, TRUE, _("Policies: %s"), error->message);
		return;
	}
	kl_tui_enroll_set_options(app->enroll, field, names, TRUE);
	kl_tui_app_queue_redraw(app);
}

static void
kl_tui_enroll_runtime_policies_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	kl_tui_enroll_policies_done(user_data, source, result, FIELD_RUNTIME_POLICY);
}

static void
kl_tui_enroll_mb_policies_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	kl_tui_enroll_policies_done(user_data, source, result, FIELD_MB_POLICY);
}

static void
kl_tui_enroll_reload(KlTuiApp *app)
{
	kl_client_list_unenrolled_agents_async(app->client,
					       app->cancellable,
					       kl_tui_enroll_agents_cb,
					       app);
	kl_client_list_policies_async(app->client,
				      KL_CLIENT_POLICY_RUNTIME,
				      app->cancellable,
				      kl_tui_enroll_runtime_policies_cb,
				      app);
	kl_client_list_policies_async(app->client,
				      KL_CLIENT_POLICY_MEASURED_BOOT,
				      app->cancellable,
				      kl_tui_enroll_mb_policies_cb,
				      app);
}

static void
kl_tui_enroll_progress_cb(KlClient *client,
			  const gchar *agent_id,
			  const gchar *step,
			  const gchar *message,
			  gpointer user_data)
{
	KlTuiApp *app = user_data;
	KlTuiEnrollView *self = app->enroll;

	if (self->stage != STAGE_ENROLLING || g_strcmp0(agent_id, self->values[FIELD_AGENT]) != 0)
		return;
	g_ptr_array_add(self->progress, g_strdup_printf("%-12s %s", step, message));
	kl_tui_app_queue_redraw(app);
}

static void
kl_tui_enroll_enter(KlTuiApp *app)
{
	KlTuiEnrollView *self = kl_tui_enroll_get(app);

	if (self->progress_id == 0)
		self->progress_id = g_signal_connect(app->client,
						     "enrollment-progress",
						     G_CALLBACK(kl_tui_enroll_progress_cb),
						     app);
	if (self->stage == STAGE_FORM)
		kl_tui_enroll_reload(app);
}

static void
kl_tui_enroll_draw_form(KlTuiApp *app, KlTuiEnrollView *self, gint top, gint n_cols)
{
	guint payload = kl_tui_enroll_payload(self);

	for (guint i = 0; i < N_FIELDS; i++) {
		gboolean selected = i == self->field;
		gboolean unused =
			(i == FIELD_PAYLOAD_FILE && payload != PAYLOAD_FILE) ||
			((i == FIELD_CA_DIR || i == FIELD_INCLUDE_DIR || i == FIELD_ACTIONS) &&
			 payload != PAYLOAD_CERT_PACKAGE);
		g_autofree gchar *value = NULL;
		KlTuiStyle style = selected ? KL_TUI_STYLE_SELECTED : KL_TUI_STYLE_NORMAL;
		gint y = top + 1 + (gint)i;

		kl_tui_draw_text(app, y, 0, 2, selected ? ">" : " ", style);
		kl_tui_draw_text(app, y, 2, 30, _(kl_tui_enroll_labels[i]), style);
		if (i == FIELD_REVIEW)
			continue;
		if (selected && self->editing)
			value = g_strdup_printf("%s_", self->entry.text->str);
		else if (unused)
			value = g_strdup("-");
		else if (i == FIELD_PAYLOAD)
			value = g_strdup_printf("< %s >", _(self->values[i]));
		else if (self->options[i] != NULL && self->options[i][0] != NULL)
			value = g_strdup_printf("< %s >",
						self->values[i][0] != '\0' ? self->values[i]
									   : _("(none)"));
		else
			value = g_strdup(self->values[i][0] != '\0' ? self->values[i]
								    : _("(none)"));
		kl_tui_draw_text(app, y, 33, (guint)MAX(n_cols - 33, 0), value, style);
	}
}

static void
kl_tui_enroll_draw_review(KlTuiApp *app, KlTuiEnrollView *self, gint top, gint n_rows, gint n_cols)
{
	g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
	guint payload = kl_tui_enroll_payload(self);

	for (guint i = 0; i < FIELD_REVIEW; i++) {
		if ((i == FIELD_PAYLOAD_FILE && payload != PAYLOAD_FILE) ||
		    ((i == FIELD_CA_DIR || i == FIELD_INCLUDE_DIR || i == FIELD_ACTIONS) &&
		     payload != PAYLOAD_CERT_PACKAGE))
			continue;
		g_ptr_array_add(lines,
				g_strdup_printf("%-30s %s",
						_(kl_tui_enroll_labels[i]),
						i == FIELD_PAYLOAD	     ? _(self->values[i])
						: self->values[i][0] != '\0' ? self->values[i]
									     : _("(none)")));
	}
	if (self->record != NULL) {
		const gchar *ip = NULL;
		guint32 port = 0;
		gint64 regcount = 0;
		g_autofree gchar *where = NULL;

		g_variant_lookup(self->record, "ip", "&s", &ip);
		g_variant_lookup(self->record, "port", "u", &port);
		g_variant_lookup(self->record, "regcount", "x", &regcount);
		/* TRANSLATORS: the agent's address and port, then how often it
		 * registered (PRId64: xgettext cannot read G_GINT64_FORMAT) */
		where = g_strdup_printf(ngettext("registered at %s:%u, %" PRId64 " registration",
						 "registered at %s:%u, %" PRId64 " registrations",
						 (gulong)CLAMP(regcount, 0, G_MAXLONG)),
					ip != NULL ? ip : "?",
					port,
					(int64_t)regcount);
		g_ptr_array_add(lines, g_strdup_printf("%-30s %s", _("Registrar"), where));
	}
	g_ptr_array_add(lines, g_strdup(""));
	if (self->stage == STAGE_REVIEW)
		g_ptr_array_add(lines, g_strdup(_("Enter: enroll  Esc: back to the form")));
	for (guint i = 0; i < self->progress->len; i++)
		g_ptr_array_add(lines, g_strdup(g_ptr_array_index(self->progress, i)));
	if (self->stage == STAGE_DONE)
		g_ptr_array_add(lines, g_strdup(_("Enter or Esc: a new enrollment")));
	/* the newest progress stays on screen */
	for (guint i = lines->len > (guint)n_rows - 1 ? lines->len - ((guint)n_rows - 1) : 0, y = 1;
	     i < lines->len;
	     i++, y++)
		kl_tui_draw_text(app,
				 top + (gint)y,
				 1,
				 (guint)n_cols - 1,
				 g_ptr_array_index(lines, i),
				 KL_TUI_STYLE_NORMAL);
}

static void
kl_tui_enroll_draw(KlTuiApp *app, gint top, gint n_rows, gint n_cols)
{
	KlTuiEnrollView *self = kl_tui_enroll_get(app);
	const gchar *titles[] = {
		[STAGE_FORM] = N_("Enroll a registered agent"),
		[STAGE_REVIEW] = N_("Review"),
		[STAGE_ENROLLING] = N_("Enrolling…"),
		[STAGE_DONE] = N_("Enrollment finished"),
	};

	kl_tui_draw_text(app, top, 0, (guint)n_cols, _(titles[self->stage]), KL_TUI_STYLE_HEADER);
	if (self->stage == STAGE_FORM)
		kl_tui_enroll_draw_form(app, self, top, n_cols);
	else
		kl_tui_enroll_draw_review(app, self, top, n_rows, n_cols);
}

static void
kl_tui_enroll_record_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	KlTuiApp *app = user_data;
	g_autoptr(GError) error = NULL;
	GVariant *record = kl_client_get_registered_agent_finish(KL_CLIENT(source), result, &error);

	if (record == NULL) {
		if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			kl_tui_app_set_message(app, TRUE, _("Registrar: %s"), error->message);
		return;
	}
	g_clear_pointer(&app->enroll->record, g_variant_unref);
	app->enroll->record = record;
	kl_tui_app_queue_redraw(app);
}

static void
kl_tui_enroll_review(KlTuiApp *app)
{
	KlTuiEnrollView *self = app->enroll;

	if (self->values[FIELD_AGENT][0] == '\0') {
		kl_tui_app_set_message(app, TRUE, _("Choose an agent first."));
		return;
	}
	self->stage = STAGE_REVIEW;
	g_ptr_array_set_size(self->progress, 0);
	g_clear_pointer(&self->record, g_variant_unref);
	kl_client_get_registered_agent_async(app->client,
					     self->values[FIELD_AGENT],
					     app->cancellable,
					     kl_tui_enroll_record_cb,
					     app);
}

static void
kl_tui_enroll_finish(KlTuiApp *app, const GError *error, const gchar *path)
{
	KlTuiEnrollView *self = app->enroll;

	self->stage = STAGE_DONE;
	if (error != NULL) {
		g_ptr_array_add(self->progress, g_strdup_printf(_("Failed: %s"), error->message));
		kl_tui_app_set_message(app, TRUE, _("Enrollment failed: %s"), error->message);
	} else {
		g_ptr_array_add(self->progress, g_strdup_printf(_("Enrolled as %s."), path));
		kl_tui_app_set_message(app, FALSE, _("Enrolled %s."), self->values[FIELD_AGENT]);
	}
	kl_tui_app_queue_redraw(app);
}

static void
kl_tui_enroll_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	KlTuiApp *app = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = kl_client_enroll_agent_finish(KL_CLIENT(source), result, &error);

	if (path == NULL && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	kl_tui_enroll_finish(app, error, path);
}

static void
kl_tui_enroll_package_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	KlTuiApp *app = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(KlTenantPackage) package = kl_tenant_package_new_finish(result, &error);
	g_autoptr(GVariantDict) options = NULL;

	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	if (package == NULL) {
		kl_tui_enroll_finish(app, error, NULL);
		return;
	}
	options = g_variant_dict_new(app->enroll->package_options);
	kl_tenant_package_add_enroll_options(package, options);
	kl_client_enroll_agent_bytes_async(app->client,
					   g_variant_dict_end(options),
					   package->zip,
					   app->cancellable,
					   kl_tui_enroll_done_cb,
					   app);
}

/* A certificate package for the agent, made in a worker thread (the CA's
 * keys take a while the first time); its metadata and RevocationNotifier
 * key join @options, then EnrollAgent runs. */
static void
kl_tui_enroll_package(KlTuiApp *app, GVariant *options)
{
	KlTuiEnrollView *self = app->enroll;
	g_auto(GStrv) actions = NULL;

	if (self->values[FIELD_ACTIONS][0] != '\0')
		actions = g_strsplit(self->values[FIELD_ACTIONS], ",", -1);
	g_clear_pointer(&self->package_options, g_variant_unref);
	self->package_options = g_variant_ref_sink(options);
	kl_tenant_package_new_async(
		self->values[FIELD_CA_DIR],
		self->values[FIELD_AGENT],
		self->values[FIELD_INCLUDE_DIR][0] != '\0' ? self->values[FIELD_INCLUDE_DIR] : NULL,
		(const gchar *const *)actions,
		app->cancellable,
		kl_tui_enroll_package_cb,
		app);
}

static void
kl_tui_enroll_call(KlTuiApp *app)
{
	KlTuiEnrollView *self = app->enroll;
	g_autoptr(GError) error = NULL;
	g_auto(GVariantDict) options = G_VARIANT_DICT_INIT(NULL);
	int fd = -1;

	g_variant_dict_insert(&options, "agent_id", "s", self->values[FIELD_AGENT]);
	if (self->policy_name != NULL && self->policy_name[0] != '\0')
		g_variant_dict_insert(&options, "runtime_policy_name", "s", self->policy_name);
	if (self->values[FIELD_MB_POLICY][0] != '\0')
		g_variant_dict_insert(&options,
				      "mb_policy_name",
				      "s",
				      self->values[FIELD_MB_POLICY]);
	if (self->values[FIELD_TPM_POLICY][0] != '\0')
		g_variant_dict_insert(&options, "tpm_policy", "s", self->values[FIELD_TPM_POLICY]);
	switch (kl_tui_enroll_payload(self)) {
	case PAYLOAD_FILE:
		fd = g_open(self->values[FIELD_PAYLOAD_FILE], O_RDONLY | O_CLOEXEC, 0);
		if (fd < 0)
			g_set_error(&error,
				    G_IO_ERROR,
				    g_io_error_from_errno(errno),
				    "%s: %s",
				    self->values[FIELD_PAYLOAD_FILE],
				    g_strerror(errno));
		break;
	case PAYLOAD_CERT_PACKAGE:
		kl_tui_enroll_package(app, g_variant_dict_end(&options));
		return;
	default:
		break;
	}
	if (error != NULL) {
		kl_tui_enroll_finish(app, error, NULL);
		return;
	}
	if (fd >= 0) {
		/* the client duplicates the descriptor */
		kl_client_enroll_agent_async(app->client,
					     g_variant_dict_end(&options),
					     fd,
					     app->cancellable,
					     kl_tui_enroll_done_cb,
					     app);
		close(fd);
	} else {
		kl_client_enroll_agent_bytes_async(app->client,
						   g_variant_dict_end(&options),
						   NULL,
						   app->cancellable,
						   kl_tui_enroll_done_cb,
						   app);
	}
}

static void
kl_tui_enroll_policy_added_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	KlTuiApp *app = user_data;
	g_autoptr(GError) error = NULL;

	if (!kl_client_add_policy_finish(KL_CLIENT(source), result, &error)) {
		if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			kl_tui_enroll_finish(app, error, NULL);
		return;
	}
	g_ptr_array_add(app->enroll->progress,
			g_strdup_printf(_("Runtime policy %s added."), app->enroll->policy_name));
	kl_tui_enroll_call(app);
}

/* A runtime policy given as a path is added under its file name first. */
static void
kl_tui_enroll_start(KlTuiApp *app)
{
	KlTuiEnrollView *self = app->enroll;
	const gchar *policy = self->values[FIELD_RUNTIME_POLICY];
	g_autofree gchar *base = NULL;
	int fd;

	self->stage = STAGE_ENROLLING;
	g_ptr_array_set_size(self->progress, 0);
	g_clear_pointer(&self->policy_name, g_free);
	if (strchr(policy, '/') == NULL) {
		self->policy_name = g_strdup(policy);
		kl_tui_enroll_call(app);
		return;
	}
	base = g_path_get_basename(policy);
	if (g_str_has_suffix(base, ".json"))
		base[strlen(base) - strlen(".json")] = '\0';
	self->policy_name = g_steal_pointer(&base);
	fd = g_open(policy, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		g_autoptr(GError) error = g_error_new(G_IO_ERROR,
						      g_io_error_from_errno(errno),
						      "%s: %s",
						      policy,
						      g_strerror(errno));
		kl_tui_enroll_finish(app, error, NULL);
		return;
	}
	kl_client_add_policy_async(app->client,
				   KL_CLIENT_POLICY_RUNTIME,
				   self->policy_name,
				   fd,
				   app->cancellable,
				   kl_tui_enroll_policy_added_cb,
				   app);
	close(fd);
}

static void
kl_tui_enroll_cycle(KlTuiEnrollView *self, gint step)
{
	GStrv options = self->options[self->field];
	guint n = options != NULL ? g_strv_length(options) : 0;
	guint current = 0;

	if (n == 0)
		return;
	for (guint i = 0; i < n; i++) {
		if (g_strcmp0(options[i], self->values[self->field]) == 0)
			current = i;
	}
	current = (current + n + (guint)(step + (gint)n)) % n;
	kl_tui_enroll_set(self, self->field, options[current]);
}

static KlTuiResult
kl_tui_enroll_key_form(KlTuiApp *app, KlTuiEnrollView *self, KlTuiRequest request)
{
	switch (request) {
	case KL_TUI_REQ_UP:
		self->field = self->field > 0 ? self->field - 1 : N_FIELDS - 1;
		break;
	case KL_TUI_REQ_DOWN:
		self->field = (self->field + 1) % N_FIELDS;
		break;
	case KL_TUI_REQ_PREV_OPTION:
		kl_tui_enroll_cycle(self, -1);
		break;
	case KL_TUI_REQ_NEXT_OPTION:
		kl_tui_enroll_cycle(self, 1);
		break;
	case KL_TUI_REQ_RELOAD:
		kl_tui_enroll_reload(app);
		break;
	case KL_TUI_REQ_REVIEW:
		kl_tui_enroll_review(app);
		break;
	case KL_TUI_REQ_OPEN:
		if (self->field == FIELD_REVIEW)
			kl_tui_enroll_review(app);
		else if (self->field == FIELD_PAYLOAD)
			kl_tui_enroll_cycle(self, 1);
		else {
			kl_tui_entry_begin(&self->entry, self->values[self->field], 4096);
			self->editing = TRUE;
		}
		break;
	case KL_TUI_REQ_NONE:
	case KL_TUI_REQ_QUIT:
	case KL_TUI_REQ_HELP:
	case KL_TUI_REQ_BACK:
	case KL_TUI_REQ_VIEW_AGENTS:
	case KL_TUI_REQ_VIEW_EVENTS:
	case KL_TUI_REQ_VIEW_ENROLL:
	case KL_TUI_REQ_PAGE_UP:
	case KL_TUI_REQ_PAGE_DOWN:
	case KL_TUI_REQ_HOME:
	case KL_TUI_REQ_END:
	case KL_TUI_REQ_SORT:
	case KL_TUI_REQ_SORT_REVERSE:
	case KL_TUI_REQ_FILTER_STATE:
	case KL_TUI_REQ_FILTER_TEXT:
	case KL_TUI_REQ_STOP:
	case KL_TUI_REQ_REACTIVATE:
	case KL_TUI_REQ_REMOVE:
	default:
		return KL_TUI_RESULT_IGNORED;
	}
	return KL_TUI_RESULT_HANDLED | KL_TUI_RESULT_REDRAW;
}

static KlTuiResult
kl_tui_enroll_key(KlTuiApp *app, KlTuiRequest request, guint key, gboolean is_key)
{
	KlTuiEnrollView *self = kl_tui_enroll_get(app);

	if (self->editing) {
		KlTuiEntryResult result = kl_tui_entry_key(&self->entry, key, is_key);

		if (result != KL_TUI_ENTRY_EDITING) {
			self->editing = FALSE;
			if (result == KL_TUI_ENTRY_DONE)
				kl_tui_enroll_set(self, self->field, self->entry.text->str);
		}
		return KL_TUI_RESULT_HANDLED | KL_TUI_RESULT_REDRAW;
	}
	switch (self->stage) {
	case STAGE_FORM:
		return kl_tui_enroll_key_form(app, self, request);
	case STAGE_REVIEW:
		if (request == KL_TUI_REQ_OPEN) {
			kl_tui_enroll_start(app);
			return KL_TUI_RESULT_HANDLED | KL_TUI_RESULT_REDRAW;
		}
		if (request == KL_TUI_REQ_BACK) {
			self->stage = STAGE_FORM;
			return KL_TUI_RESULT_HANDLED | KL_TUI_RESULT_REDRAW;
		}
		return KL_TUI_RESULT_IGNORED;
	case STAGE_ENROLLING:
		return request == KL_TUI_REQ_OPEN ? KL_TUI_RESULT_HANDLED : KL_TUI_RESULT_IGNORED;
	case STAGE_DONE:
		if (request == KL_TUI_REQ_OPEN || request == KL_TUI_REQ_BACK) {
			self->stage = STAGE_FORM;
			kl_tui_enroll_set(self, FIELD_AGENT, "");
			kl_tui_enroll_reload(app);
			return KL_TUI_RESULT_HANDLED | KL_TUI_RESULT_REDRAW;
		}
		return KL_TUI_RESULT_IGNORED;
	default:
		return KL_TUI_RESULT_IGNORED;
	}
}

static gboolean
kl_tui_enroll_grabs_keys(KlTuiApp *app)
{
	return app->enroll != NULL && app->enroll->editing;
}

const KlTuiViewOps kl_tui_view_enroll = {
	.id = KL_TUI_VIEW_ENROLL,
	.title = N_("Enroll"),
	.hint = N_("Left/Right:choose  Enter:edit  v:review  R:reload  Esc:back"),
	.enter = kl_tui_enroll_enter,
	.draw = kl_tui_enroll_draw,
	.key = kl_tui_enroll_key,
	.grabs_keys = kl_tui_enroll_grabs_keys,
};
