/*
 * kl-mb-refstate: the measured-boot reference state ("mb_refstate") in
 * upstream Keylime's JSON layout — has_secureboot, scrtm_and_bios, pk, kek,
 * db, dbx, vendor_db, mokdig, mokxdig, kernels — read through checked
 * getters, and written from a parsed UEFI event log (the "events" array of
 * spec §7.1) with the values upstream's create_mb_refstate writes:
 * "0x"-prefixed lower-case hex and a re.escape()d kernel command line.
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define KL_MB_ERROR kl_mb_error_quark()

typedef enum {
	KL_MB_ERROR_INVALID_REFSTATE, /* the message names the member */
	KL_MB_ERROR_INVALID_POLICY,   /* the message names the rule */
	KL_MB_ERROR_NOT_FOUND,	      /* no policy of that name */
	KL_MB_ERROR_SECUREBOOT,	      /* the log has Secure Boot off and no -i */
	KL_MB_ERROR_INVALID_LOG,      /* events lack what a reference state needs */
} KlMbError;

GQuark kl_mb_error_quark(void);

/* reference states are small; a generous limit for hand-edited ones */
#define KL_MB_REFSTATE_MAX_SIZE (16 * 1024 * 1024)

typedef struct _KlMbRefstate KlMbRefstate;

/* "{}" is valid: upstream then skips the policy (accept-all). */
KlMbRefstate *kl_mb_refstate_new_from_json(const gchar *data, gsize length, GError **error);
KlMbRefstate *kl_mb_refstate_new_from_object(JsonObject *object, GError **error);
/* @events: the "events" array of kl_eventlog_events_to_json().  Secure Boot
 * off without @without_secureboot is KL_MB_ERROR_SECUREBOOT; with it on and
 * @without_secureboot set, a warning is appended to @warnings (may be NULL). */
KlMbRefstate *kl_mb_refstate_new_from_events(JsonArray *events,
					     gboolean without_secureboot,
					     GPtrArray *warnings,
					     GError **error);
void kl_mb_refstate_free(KlMbRefstate *self);

gboolean kl_mb_refstate_is_empty(KlMbRefstate *self);
gboolean kl_mb_refstate_has_secureboot(KlMbRefstate *self);
/* borrowed; the validated document */
JsonObject *kl_mb_refstate_get_object(KlMbRefstate *self);
gchar *kl_mb_refstate_to_json(KlMbRefstate *self, gboolean pretty);

/* Python's re.escape() (3.7+): a backslash before each regex metacharacter */
gchar *kl_mb_regex_escape(const gchar *text);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KlMbRefstate, kl_mb_refstate_free)

G_END_DECLS
