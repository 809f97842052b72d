/*
 * kl-verifier-dbus-options: AddAgent's a{sv} as the JSON body of
 * POST /v2.x/agents/{id} (spec §2.3), which kl_verifier_add_agent()
 * checks field by field.  Strings, booleans, integers, doubles and string
 * arrays map to their JSON kinds; anything else is refused naming the key
 * (D-Bus has no null: "" stands for it where upstream allows null).
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* @options: a{sv}.  KL_ERROR_INVALID_ARGUMENT names the refused key. */
JsonObject *kl_verifier_dbus_options_to_body(GVariant *options, GError **error);

G_END_DECLS
