/*
 * keylime-console against a real deployment (TAP): the app runs in this
 * process on the bus of console-ui-test.py's keylime_verifier and
 * keylime_registrar, and the cases drive it as a user would — the wizard's
 * actions and fields, the pages' filters — and read what the widgets
 * show.  The cases run in order on one deployment: enroll agent 1 through
 * the wizard, see it reach Get Quote on the agents page, see an unlisted
 * file fail on the agent and events pages, enroll agent 2, stop and
 * reactivate it; closing the window keeps its size and page in GSettings.
 * Each page is saved as a PNG in KL_TEST_ARTIFACTS.
 *
 * Environment (set by console-ui-test.py): KL_UI_WORK (a scratch
 * directory), KL_UI_AGENT1, KL_UI_AGENT2,
 * KL_UI_RUNTIME_POLICY (a policy file for agent 1), KL_UI_IMA_LOG,
 * KL_UI_EVIL_LINE and KL_UI_EVIL_PATH (an ima-ng line of a file outside
 * the policy), KL_UI_QUOTE_INTERVAL, KL_TEST_ARTIFACTS.
 */
#include "config.h"

#include <stdio.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gtk/gtk.h>

#include "kl-gui-application.h"
#include "kl-gui-enroll-wizard.h"
#include "kl-gui-window.h"
#include "kl-test-wait.h"

/* an enrollment runs the tenant's whole flow against swtpm */
#define KL_UI_ENROLL_TIMEOUT_MS 40000

static KlGuiApplication *app;
static KlGuiWindow *window;
static const gchar *agent1;
static const gchar *agent2;
static guint quote_interval_ms;

static const gchar *
kl_ui_env(const gchar *name)
{
	const gchar *value = g_getenv(name);

	if (value == NULL)
		g_error("%s is not set: run this through console-ui-test.sh", name);
	return value;
}

/* Saves @widget as it is drawn now to KL_TEST_ARTIFACTS/@name.png. */
static void
kl_ui_screenshot(GtkWidget *widget, const gchar *name)
{
	const gchar *dir = g_getenv("KL_TEST_ARTIFACTS");
	g_autoptr(GdkPaintable) paintable = NULL;
	g_autoptr(GtkSnapshot) snapshot = NULL;
	g_autoptr(GskRenderNode) node = NULL;
	g_autoptr(GdkTexture) texture = NULL;
	g_autofree gchar *file = NULL;
	gint width = gtk_widget_get_width(widget);
	gint height = gtk_widget_get_height(widget);

	if (dir == NULL || width <= 0 || height <= 0)
		return;
	gtk_test_widget_wait_for_draw(widget);
	paintable = gtk_widget_paintable_new(widget);
	snapshot = gtk_snapshot_new();
	gdk_paintable_snapshot(paintable, GDK_SNAPSHOT(snapshot), width, height);
	node = gtk_snapshot_free_to_node(g_steal_pointer(&snapshot));
	g_assert_nonnull(node);
	texture =
		gsk_renderer_render_texture(gtk_native_get_renderer(gtk_widget_get_native(widget)),
					    node,
					    &GRAPHENE_RECT_INIT(0, 0, (float)width, (float)height));
	g_mkdir_with_parents(dir, 0755);
	file = g_strdup_printf("%s/%s.png", dir, name);
	g_assert_true(gdk_texture_save_to_png(texture, file));
	g_test_message("screenshot %s", file);
}

/* --- conditions ---------------------------------------------------------- */

static gboolean
kl_ui_have_client(gpointer user_data)
{
	KlClient *client = kl_gui_application_get_client(app);

	return client != NULL && kl_client_get_connected(client);
}

static gboolean
kl_ui_model_has_string(GListModel *model, const gchar *text)
{
	for (guint i = 0; i < g_list_model_get_n_items(model); i++) {
		g_autoptr(GtkStringObject) item = g_list_model_get_item(model, i);

		if (g_strcmp0(gtk_string_object_get_string(item), text) == 0)
			return TRUE;
	}
	return FALSE;
}

static gboolean
kl_ui_wizard_lists_agent(gpointer user_data)
{
	KlGuiEnrollWizard *wizard = KL_GUI_ENROLL_WIZARD(user_data);

	return kl_ui_model_has_string(kl_gui_enroll_wizard_get_agents(wizard), agent1) ||
	       kl_ui_model_has_string(kl_gui_enroll_wizard_get_agents(wizard), agent2);
}

static gboolean
kl_ui_wizard_finished(gpointer user_data)
{
	return kl_gui_enroll_wizard_get_status(KL_GUI_ENROLL_WIZARD(user_data)) >=
	       KL_GUI_ENROLL_DONE;
}

typedef struct {
	KlGuiPolicyChooser *chooser;
	const gchar *name;
} KlUiChooserName;

static gboolean
kl_ui_chooser_has_name(gpointer user_data)
{
	KlUiChooserName *want = user_data;

	return g_strcmp0(kl_gui_policy_chooser_get_name(want->chooser), want->name) == 0;
}

/* the agents page's row of @agent_id, NULL if it is filtered out */
static KlClientAgent *
kl_ui_agents_row(const gchar *agent_id)
{
	GListModel *model = kl_gui_agents_page_get_model(kl_gui_window_get_agents_page(window));

	for (guint i = 0; i < g_list_model_get_n_items(model); i++) {
		g_autoptr(KlClientAgent) agent = g_list_model_get_item(model, i);

		if (g_strcmp0(kl_client_agent_get_agent_id(agent), agent_id) == 0)
			return agent;
	}
	return NULL;
}

typedef struct {
	const gchar *agent_id;
	guint state;
} KlUiAgentState;

static gboolean
kl_ui_agent_in_state(gpointer user_data)
{
	KlUiAgentState *want = user_data;
	KlClientAgent *agent = kl_ui_agents_row(want->agent_id);

	return agent != NULL && kl_client_agent_get_state(agent) == want->state &&
	       kl_client_agent_get_attestation_count(agent) > 0;
}

static gboolean
kl_ui_agent_page_shows_path(gpointer user_data)
{
	g_auto(GStrv) paths = kl_gui_agent_page_dup_ima_paths(kl_gui_window_get_agent_page(window));

	return g_strv_contains((const gchar *const *)paths, user_data);
}

static gboolean
kl_ui_agent_page_shows_state(gpointer user_data)
{
	return g_strcmp0(kl_gui_agent_page_get_field_text(kl_gui_window_get_agent_page(window),
							  "state"),
			 kl_client_agent_state_to_label(GPOINTER_TO_UINT(user_data))) == 0;
}

static gboolean
kl_ui_events_page_shows_path(gpointer user_data)
{
	GListModel *model = kl_gui_events_page_get_model(kl_gui_window_get_events_page(window));

	for (guint i = 0; i < g_list_model_get_n_items(model); i++) {
		g_autoptr(KlClientEvent) event = g_list_model_get_item(model, i);

		if (g_strcmp0(kl_client_event_get_subject(event), user_data) == 0 &&
		    g_strcmp0(kl_client_event_get_agent_id(event), agent1) == 0)
			return TRUE;
	}
	return FALSE;
}

/* --- the wizard ---------------------------------------------------------- */

static KlGuiEnrollWizard *
kl_ui_open_wizard(void)
{
	KlGuiEnrollWizard *wizard;

	g_assert_true(gtk_widget_activate_action(GTK_WIDGET(window), "win.enroll", NULL));
	wizard = KL_GUI_ENROLL_WIZARD(kl_gui_window_get_enroll_wizard(window));
	g_assert_nonnull(wizard);
	g_assert_cmpstr(kl_gui_enroll_wizard_get_page(wizard), ==, "agent");
	g_assert_true(kl_test_wait_for(kl_ui_wizard_lists_agent, wizard, 10000));
	return wizard;
}

static void
kl_ui_next(KlGuiEnrollWizard *wizard, const gchar *expected_page)
{
	gtk_widget_activate_action(GTK_WIDGET(wizard), "wizard.next", NULL);
	g_assert_cmpstr(kl_gui_enroll_wizard_get_page(wizard), ==, expected_page);
}

static void
kl_ui_enroll(KlGuiEnrollWizard *wizard)
{
	g_auto(GStrv) steps = NULL;

	kl_ui_next(wizard, "progress");
	g_assert_true(kl_test_wait_for(kl_ui_wizard_finished, wizard, KL_UI_ENROLL_TIMEOUT_MS));
	steps = kl_gui_enroll_wizard_dup_steps(wizard);
	for (guint i = 0; steps[i] != NULL; i++)
		g_test_message("step %s", steps[i]);
	g_test_message("result %s", kl_gui_enroll_wizard_get_result(wizard));
	g_assert_cmpstr(kl_gui_enroll_wizard_get_result(wizard), !=, NULL);
	g_assert_cmpint(kl_gui_enroll_wizard_get_status(wizard), ==, KL_GUI_ENROLL_DONE);
	/* the flow's steps, in order, as EnrollmentProgress reported them */
	g_assert_cmpuint(g_strv_length(steps), >=, 3);
	g_assert_true(g_str_has_prefix(steps[0], "registrar:"));
	g_assert_true(g_str_has_prefix(steps[g_strv_length(steps) - 1], "done:"));
}

static void
test_wizard_enrolls_first_agent(void)
{
	KlGuiEnrollWizard *wizard = kl_ui_open_wizard();
	g_autoptr(GFile) policy = g_file_new_for_path(kl_ui_env("KL_UI_RUNTIME_POLICY"));
	g_autofree gchar *ca_path = g_build_filename(kl_ui_env("KL_UI_WORK"), "console-ca", NULL);
	g_autoptr(GFile) ca_dir = g_file_new_for_path(ca_path);
	KlUiChooserName imported = {
		kl_gui_enroll_wizard_get_policy_chooser(wizard, KL_CLIENT_POLICY_RUNTIME),
		"ui-runtime",
	};

	/* Next stays on a page until it is complete */
	g_assert_true(kl_gui_enroll_wizard_select_agent(wizard, agent1));
	kl_ui_screenshot(GTK_WIDGET(wizard), "wizard-agent");
	kl_ui_next(wizard, "runtime");
	kl_gui_policy_chooser_import(imported.chooser, policy, imported.name);
	g_assert_true(kl_test_wait_for(kl_ui_chooser_has_name, &imported, 10000));
	kl_ui_screenshot(GTK_WIDGET(wizard), "wizard-runtime-policy");
	kl_ui_next(wizard, "mb");
	kl_ui_next(wizard, "tpm");
	kl_gui_enroll_wizard_set_tpm_policy(wizard, "{\"mask\": ");
	kl_ui_next(wizard, "tpm");
	kl_gui_enroll_wizard_set_tpm_policy(wizard, "[\"0x400\"]");
	kl_ui_next(wizard, "tpm");
	kl_gui_enroll_wizard_set_tpm_policy(wizard, "{\"mask\": \"0x400\"}");
	kl_ui_next(wizard, "payload");
	/* a certificate package from a CA directory the console initialises */
	kl_gui_enroll_wizard_set_package(wizard, ca_dir, NULL, "local_action_a, ,");
	kl_ui_next(wizard, "review");
	kl_ui_screenshot(GTK_WIDGET(wizard), "wizard-review");
	kl_ui_enroll(wizard);
	kl_ui_screenshot(GTK_WIDGET(wizard), "wizard-progress");
	/* the package came from the CA, which now holds the agent's certificate */
	{
		g_autofree gchar *cert_name = g_strdup_printf("%s-cert.crt", agent1);
		g_autofree gchar *cert = g_build_filename(ca_path, cert_name, NULL);

		g_assert_true(g_file_test(cert, G_FILE_TEST_IS_REGULAR));
	}
	gtk_window_destroy(GTK_WINDOW(wizard));
	g_assert_null(kl_gui_window_get_enroll_wizard(window));
}

static void
test_agents_page_shows_get_quote(void)
{
	KlGuiAgentsPage *page = kl_gui_window_get_agents_page(window);
	KlUiAgentState want = {agent1, 3};
	GListModel *model = kl_gui_agents_page_get_model(page);

	kl_gui_window_show_page(window, "agents");
	g_assert_true(kl_test_wait_for(kl_ui_agent_in_state, &want, 4 * quote_interval_ms + 5000));
	g_assert_cmpstr(kl_client_agent_state_to_label(3), ==, "Get Quote");
	kl_ui_screenshot(GTK_WIDGET(window), "agents-page");

	/* the state filter and the search text narrow the rows */
	kl_gui_agents_page_set_state_filter(page, 7);
	g_assert_null(kl_ui_agents_row(agent1));
	kl_gui_agents_page_set_state_filter(page, 3);
	g_assert_nonnull(kl_ui_agents_row(agent1));
	kl_gui_agents_page_set_state_filter(page, -1);
	kl_gui_agents_page_set_search_text(page, "no-such-agent");
	g_assert_cmpuint(g_list_model_get_n_items(model), ==, 0);
	kl_gui_agents_page_set_search_text(page, agent1 + 24);
	g_assert_cmpuint(g_list_model_get_n_items(model), ==, 1);
	kl_gui_agents_page_set_search_text(page, "");
	g_assert_nonnull(kl_ui_agents_row(agent1));
}

static void
test_ima_failure_on_agent_and_events_pages(void)
{
	const gchar *path = kl_ui_env("KL_UI_EVIL_PATH");
	KlGuiAgentPage *page = kl_gui_window_get_agent_page(window);
	g_autoptr(GError) error = NULL;
	FILE *log;

	kl_gui_window_show_agent(window, agent1);
	g_assert_cmpstr(kl_gui_agent_page_get_agent_id(page), ==, agent1);
	g_assert_cmpstr(kl_gui_agent_page_get_field_text(page, "runtime-policy"), ==, "ui-runtime");
	g_assert_false(kl_ui_agent_page_shows_path((gpointer)path));

	log = fopen(kl_ui_env("KL_UI_IMA_LOG"), "a");
	g_assert_nonnull(log);
	fputs(kl_ui_env("KL_UI_EVIL_LINE"), log);
	fclose(log);

	/* within one quote interval of the emulator's extend (it polls the
	 * log), plus the quote's round trip */
	g_assert_true(kl_test_wait_for(kl_ui_agent_page_shows_path,
				       (gpointer)path,
				       2 * quote_interval_ms + 4000));
	/* the state comes with the next table refresh: Invalid Quote (9) */
	g_assert_true(kl_test_wait_for(kl_ui_agent_page_shows_state, GUINT_TO_POINTER(9), 3000));
	kl_ui_screenshot(GTK_WIDGET(window), "agent-page");
	kl_gui_window_show_page(window, "events");
	g_assert_true(kl_test_wait_for(kl_ui_events_page_shows_path, (gpointer)path, 2000));
	kl_ui_screenshot(GTK_WIDGET(window), "events-page");
}

static void
test_wizard_enrolls_second_agent(void)
{
	KlGuiEnrollWizard *wizard = kl_ui_open_wizard();
	KlUiAgentState want = {agent2, 3};
	g_autofree gchar *payload_path = NULL;
	g_autoptr(GFile) payload = NULL;
	g_autoptr(GError) error = NULL;
	gint fd;

	/* agent 1 is attested: only agent 2 is offered */
	g_assert_cmpuint(g_list_model_get_n_items(kl_gui_enroll_wizard_get_agents(wizard)), ==, 1);
	g_assert_false(kl_gui_enroll_wizard_select_agent(wizard, agent1));
	g_assert_true(kl_gui_enroll_wizard_select_agent(wizard, agent2));
	kl_ui_next(wizard, "runtime");
	kl_ui_next(wizard, "mb");
	kl_ui_next(wizard, "tpm");
	kl_gui_enroll_wizard_set_tpm_policy(wizard, "{\"mask\": \"0x0\"}");
	kl_ui_next(wizard, "payload");
	/* a payload file is required once "a single file" is chosen */
	kl_gui_enroll_wizard_set_payload(wizard, KL_GUI_PAYLOAD_FILE, NULL);
	kl_ui_next(wizard, "payload");
	fd = g_file_open_tmp("kl-ui-payload-XXXXXX", &payload_path, &error);
	g_assert_no_error(error);
	g_assert_true(g_file_set_contents(payload_path, "console payload\n", -1, &error));
	close(fd);
	payload = g_file_new_for_path(payload_path);
	kl_gui_enroll_wizard_set_payload(wizard, KL_GUI_PAYLOAD_FILE, payload);
	kl_ui_next(wizard, "review");
	kl_ui_enroll(wizard);
	gtk_window_destroy(GTK_WINDOW(wizard));
	g_unlink(payload_path);

	kl_gui_window_show_page(window, "agents");
	g_assert_true(kl_test_wait_for(kl_ui_agent_in_state, &want, 4 * quote_interval_ms + 5000));
	/* sorted by state, descending: agent 1 (Invalid Quote, 9) first */
	kl_gui_agents_page_sort_by(kl_gui_window_get_agents_page(window),
				   "state",
				   GTK_SORT_DESCENDING);
	{
		GListModel *model =
			kl_gui_agents_page_get_model(kl_gui_window_get_agents_page(window));
		g_autoptr(KlClientAgent) first = g_list_model_get_item(model, 0);

		g_assert_cmpuint(g_list_model_get_n_items(model), ==, 2);
		g_assert_cmpstr(kl_client_agent_get_agent_id(first), ==, agent1);
	}
	kl_gui_agents_page_sort_by(kl_gui_window_get_agents_page(window), "id", GTK_SORT_ASCENDING);
	kl_ui_screenshot(GTK_WIDGET(window), "agents-page-two");
}

static void
test_agent_page_stops_and_reactivates(void)
{
	KlGuiAgentPage *page = kl_gui_window_get_agent_page(window);
	KlUiAgentState stopped = {agent2, 10};
	KlUiAgentState attested = {agent2, 3};

	kl_gui_window_show_agent(window, agent2);
	g_assert_true(gtk_widget_activate_action(GTK_WIDGET(page), "agent.stop", NULL));
	g_assert_true(kl_test_wait_for(kl_ui_agent_in_state, &stopped, 10000));
	g_assert_true(kl_test_wait_for(kl_ui_agent_page_shows_state, GUINT_TO_POINTER(10), 3000));
	g_assert_true(gtk_widget_activate_action(GTK_WIDGET(page), "agent.reactivate", NULL));
	g_assert_true(
		kl_test_wait_for(kl_ui_agent_in_state, &attested, 4 * quote_interval_ms + 5000));
}

static void
test_window_state_saved(void)
{
	g_autoptr(GSettings) settings = g_settings_new(KL_GUI_APPLICATION_ID);
	g_autofree gchar *page = NULL;
	gint width = 0;
	gint height = 0;

	kl_gui_window_show_page(window, "events");
	gtk_window_close(GTK_WINDOW(window));
	window = NULL; /* closing destroys it */
	page = g_settings_get_string(settings, "selected-page");
	g_assert_cmpstr(page, ==, "events");
	g_settings_get(settings, "window-size", "(ii)", &width, &height);
	g_assert_cmpint(width, ==, 1100);
	g_assert_cmpint(height, ==, 640);
	g_assert_false(g_settings_get_boolean(settings, "window-maximized"));
}

int
main(int argc, char **argv)
{
	g_autoptr(GDBusConnection) bus = NULL;
	g_autoptr(GError) error = NULL;
	GtkWindow *active;
	int status;

	if (g_getenv("DISPLAY") == NULL && g_getenv("WAYLAND_DISPLAY") == NULL) {
		printf("1..0 # SKIP no display\n");
		return 0;
	}
	gtk_test_init(&argc, &argv, NULL);
	/* pages shown at once: screenshots of the page, not a transition */
	g_object_set(gtk_settings_get_default(), "gtk-enable-animations", FALSE, NULL);
	agent1 = kl_ui_env("KL_UI_AGENT1");
	agent2 = kl_ui_env("KL_UI_AGENT2");
	quote_interval_ms = (guint)(g_ascii_strtod(kl_ui_env("KL_UI_QUOTE_INTERVAL"), NULL) * 1000);

	bus = g_bus_get_sync(G_BUS_TYPE_SESSION, NULL, &error);
	g_assert_no_error(error);
	app = kl_gui_application_new();
	g_application_set_flags(G_APPLICATION(app), G_APPLICATION_NON_UNIQUE);
	kl_gui_application_set_connection(app, bus);
	g_assert_true(g_application_register(G_APPLICATION(app), NULL, &error));
	g_assert_no_error(error);
	g_assert_true(kl_test_wait_for(kl_ui_have_client, NULL, 10000));
	g_application_activate(G_APPLICATION(app));
	active = gtk_application_get_active_window(GTK_APPLICATION(app));
	g_assert_nonnull(active);
	window = KL_GUI_WINDOW(active);
	gtk_window_set_default_size(active, 1100, 640);
	gtk_test_widget_wait_for_draw(GTK_WIDGET(window));

	g_test_add_func("/console/enroll-first-agent", test_wizard_enrolls_first_agent);
	g_test_add_func("/console/agents-page-get-quote", test_agents_page_shows_get_quote);
	g_test_add_func("/console/ima-failure-shown", test_ima_failure_on_agent_and_events_pages);
	g_test_add_func("/console/enroll-second-agent", test_wizard_enrolls_second_agent);
	g_test_add_func("/console/stop-reactivate", test_agent_page_stops_and_reactivates);
	g_test_add_func("/console/window-state-saved", test_window_state_saved);
	status = g_test_run();

	if (window != NULL)
		gtk_window_destroy(GTK_WINDOW(window));
	g_clear_object(&app);
	return status;
}
