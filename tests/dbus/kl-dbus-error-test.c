/*
 * KL_ERROR crosses a real bus: a service returns each code, and a client
 * gets back the registered D-Bus error name and, decoded, the same
 * KL_ERROR code and message.
 */
#include "config.h"

#include <gio/gio.h>

#include "kl-error.h"
#include "kl-test-wait.h"

static const gchar introspection_xml[] = "<node>"
					 "  <interface name='org.keylime.Test'>"
					 "    <method name='Fail'>"
					 "      <arg type='u' name='code' direction='in'/>"
					 "    </method>"
					 "  </interface>"
					 "</node>";

static void
handle_method_call(GDBusConnection *connection,
		   const gchar *sender,
		   const gchar *object_path,
		   const gchar *interface_name,
		   const gchar *method_name,
		   GVariant *parameters,
		   GDBusMethodInvocation *invocation,
		   gpointer user_data)
{
	guint32 code = 0;
	g_autoptr(GError) error = NULL;

	g_variant_get(parameters, "(u)", &code);
	error = g_error_new(KL_ERROR, (gint)code, "failure %u for the test", code);
	g_dbus_method_invocation_return_gerror(invocation, error);
}

static const GDBusInterfaceVTable vtable = {handle_method_call, NULL, NULL, {NULL}};

static GDBusConnection *
connect_to(GTestDBus *bus)
{
	g_autoptr(GError) error = NULL;
	GDBusConnection *connection = g_dbus_connection_new_for_address_sync(
		g_test_dbus_get_bus_address(bus),
		G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
			G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
		NULL,
		NULL,
		&error);
	g_assert_no_error(error);
	return connection;
}

static void
call_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
	GAsyncResult **out = user_data;
	*out = g_object_ref(result);
}

static void
test_dbus_error_round_trip(void)
{
	g_autoptr(GTestDBus) bus = g_test_dbus_new(G_TEST_DBUS_NONE);
	g_autoptr(GDBusConnection) service = NULL;
	g_autoptr(GDBusConnection) client = NULL;
	g_autoptr(GDBusNodeInfo) info = NULL;
	g_autoptr(GError) error = NULL;
	guint registration;

	g_test_dbus_up(bus);
	service = connect_to(bus);
	client = connect_to(bus);
	info = g_dbus_node_info_new_for_xml(introspection_xml, &error);
	g_assert_no_error(error);
	registration = g_dbus_connection_register_object(service,
							 "/org/keylime/Test",
							 info->interfaces[0],
							 &vtable,
							 NULL,
							 NULL,
							 &error);
	g_assert_no_error(error);

	for (guint code = 0; code < KL_ERROR_LAST; code++) {
		g_autoptr(GAsyncResult) result = NULL;
		g_autoptr(GVariant) reply = NULL;
		g_autoptr(GError) call_error = NULL;
		g_autofree gchar *remote_name = NULL;
		g_autofree gchar *expected_message =
			g_strdup_printf("failure %u for the test", code);

		g_dbus_connection_call(client,
				       g_dbus_connection_get_unique_name(service),
				       "/org/keylime/Test",
				       "org.keylime.Test",
				       "Fail",
				       g_variant_new("(u)", code),
				       NULL,
				       G_DBUS_CALL_FLAGS_NONE,
				       5000,
				       NULL,
				       call_done,
				       &result);
		g_assert_true(kl_test_wait_for_pointer((gpointer *)&result, 10000));
		reply = g_dbus_connection_call_finish(client, result, &call_error);
		g_assert_null(reply);
		remote_name = g_dbus_error_get_remote_error(call_error);
		g_assert_cmpstr(remote_name, ==, kl_error_to_dbus_name((KlError)code));
		g_assert_error(call_error, KL_ERROR, (gint)code);
		g_dbus_error_strip_remote_error(call_error);
		g_assert_cmpstr(call_error->message, ==, expected_message);
	}

	g_dbus_connection_unregister_object(service, registration);
	g_dbus_connection_close_sync(service, NULL, NULL);
	g_dbus_connection_close_sync(client, NULL, NULL);
	g_test_dbus_down(bus);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	/* Register the domain before any error crosses the bus. */
	g_assert_cmpuint(KL_ERROR, !=, 0);
	g_test_add_func("/dbus/error/round-trip", test_dbus_error_round_trip);
	return g_test_run();
}
