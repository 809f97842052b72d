/*
 * kl-api-version: Keylime REST API versions ("2.6": one digit, a dot, one
 * digit), the sets each component supports, negotiation of the highest
 * common version, and the version prefix of a URL path ("v2" is the latest
 * supported 2.x, "v2.1" is 2.1).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define KL_API_VERSION_ERROR kl_api_version_error_quark()

typedef enum {
	KL_API_VERSION_ERROR_INVALID,
	KL_API_VERSION_ERROR_NOT_SUPPORTED,
} KlApiVersionError;

GQuark kl_api_version_error_quark(void);

typedef struct {
	guint8 major;
	guint8 minor;
} KlApiVersion;

/* "2.6\0" */
#define KL_API_VERSION_STRING_SIZE 4

/* verifier and registrar: CURRENT_VERSION */
#define KL_API_VERSION_CURRENT ((KlApiVersion){2, 6})

const KlApiVersion *kl_api_version_server_supported(gsize *n_versions);
const KlApiVersion *kl_api_version_agent_supported(gsize *n_versions);

gboolean kl_api_version_parse(const gchar *text, KlApiVersion *version, GError **error);
gint kl_api_version_compare(const KlApiVersion *a, const KlApiVersion *b);
const gchar *
kl_api_version_to_string(const KlApiVersion *version, gchar buffer[KL_API_VERSION_STRING_SIZE]);
gboolean kl_api_version_is_supported(const KlApiVersion *version,
				     const KlApiVersion *supported,
				     gsize n_supported);
gboolean kl_api_version_pick_highest_common(const KlApiVersion *ours,
					    gsize n_ours,
					    const gchar *const *theirs,
					    const KlApiVersion *below,
					    KlApiVersion *version,
					    GError **error);
gboolean kl_api_version_from_path_segment(const gchar *segment,
					  const KlApiVersion *supported,
					  gsize n_supported,
					  KlApiVersion *version,
					  GError **error);

G_END_DECLS
