/*
 * API versions are compared as (major, minor) pairs, never as strings or
 * floats: "2.10" cannot occur (upstream's `\d.\d`), but "2.6" < "3.0" must
 * hold whatever the text.
 */
#define G_LOG_DOMAIN "KlCore"

#include "config.h"

#include "kl-api-version.h"

/* upstream keylime/api_version.py: 1.0 is deprecated but still served */
static const KlApiVersion kl_api_version_server[] = {
	{1, 0},
	{2, 0},
	{2, 1},
	{2, 2},
	{2, 3},
	{2, 4},
	{2, 5},
	{2, 6},
	{3, 0},
};

/* rust-keylime's pull agent */
static const KlApiVersion kl_api_version_agent[] = {
	{2, 1},
	{2, 2},
	{2, 3},
	{2, 4},
	{2, 5},
	{2, 6},
};

GQuark
kl_api_version_error_quark(void)
{
	return g_quark_from_static_string("kl-api-version-error-quark");
}

const KlApiVersion *
kl_api_version_server_supported(gsize *n_versions)
{
	g_return_val_if_fail(n_versions != NULL, NULL);
	*n_versions = G_N_ELEMENTS(kl_api_version_server);
	return kl_api_version_server;
}

const KlApiVersion *
kl_api_version_agent_supported(gsize *n_versions)
{
	g_return_val_if_fail(n_versions != NULL, NULL);
	*n_versions = G_N_ELEMENTS(kl_api_version_agent);
	return kl_api_version_agent;
}

gboolean
kl_api_version_parse(const gchar *text, KlApiVersion *version, GError **error)
{
	g_return_val_if_fail(version != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	/* the text is hostile: the error describes it without echoing it */
	if (text == NULL || !g_ascii_isdigit(text[0]) || text[1] != '.' ||
	    !g_ascii_isdigit(text[2]) || text[3] != '\0') {
		g_set_error_literal(error,
				    KL_API_VERSION_ERROR,
				    KL_API_VERSION_ERROR_INVALID,
				    "API version is not of the form <digit>.<digit>");
		return FALSE;
	}
	version->major = (guint8)(text[0] - '0');
	version->minor = (guint8)(text[2] - '0');
	return TRUE;
}

gint
kl_api_version_compare(const KlApiVersion *a, const KlApiVersion *b)
{
	g_return_val_if_fail(a != NULL, 0);
	g_return_val_if_fail(b != NULL, 0);

	if (a->major != b->major)
		return a->major < b->major ? -1 : 1;
	if (a->minor != b->minor)
		return a->minor < b->minor ? -1 : 1;
	return 0;
}

const gchar *
kl_api_version_to_string(const KlApiVersion *version, gchar buffer[KL_API_VERSION_STRING_SIZE])
{
	g_return_val_if_fail(version != NULL, NULL);
	g_return_val_if_fail(buffer != NULL, NULL);

	buffer[0] = (gchar)('0' + MIN(version->major, 9));
	buffer[1] = '.';
	buffer[2] = (gchar)('0' + MIN(version->minor, 9));
	buffer[3] = '\0';
	return buffer;
}

gboolean
kl_api_version_is_supported(const KlApiVersion *version,
			    const KlApiVersion *supported,
			    gsize n_supported)
{
	g_return_val_if_fail(version != NULL, FALSE);

	for (gsize i = 0; i < n_supported; i++) {
		if (kl_api_version_compare(version, &supported[i]) == 0)
			return TRUE;
	}
	return FALSE;
}

/*
 * The peer's list comes from the network: malformed entries are skipped
 * rather than failing the negotiation, as upstream does.  @below, if given,
 * excludes it and newer versions (the tenant talks to agents below 3.0).
 */
gboolean
kl_api_version_pick_highest_common(const KlApiVersion *ours,
				   gsize n_ours,
				   const gchar *const *theirs,
				   const KlApiVersion *below,
				   KlApiVersion *version,
				   GError **error)
{
	gboolean found = FALSE;
	KlApiVersion best = {0, 0};

	g_return_val_if_fail(ours != NULL || n_ours == 0, FALSE);
	g_return_val_if_fail(version != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	for (guint i = 0; theirs != NULL && theirs[i] != NULL; i++) {
		KlApiVersion candidate;
		if (!kl_api_version_parse(theirs[i], &candidate, NULL))
			continue;
		if (below != NULL && kl_api_version_compare(&candidate, below) >= 0)
			continue;
		if (!kl_api_version_is_supported(&candidate, ours, n_ours))
			continue;
		if (!found || kl_api_version_compare(&candidate, &best) > 0) {
			best = candidate;
			found = TRUE;
		}
	}
	if (!found) {
		g_set_error_literal(error,
				    KL_API_VERSION_ERROR,
				    KL_API_VERSION_ERROR_NOT_SUPPORTED,
				    "no API version in common");
		return FALSE;
	}
	*version = best;
	return TRUE;
}

/*
 * "v2.1" names 2.1; "v2" names the newest supported 2.x (upstream's
 * LATEST map).  Anything else is an unsupported version, not a parse
 * error: the caller answers both with "API Version not supported".
 */
gboolean
kl_api_version_from_path_segment(const gchar *segment,
				 const KlApiVersion *supported,
				 gsize n_supported,
				 KlApiVersion *version,
				 GError **error)
{
	KlApiVersion wanted = {0, 0};

	g_return_val_if_fail(segment != NULL, FALSE);
	g_return_val_if_fail(supported != NULL || n_supported == 0, FALSE);
	g_return_val_if_fail(version != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	if (segment[0] != 'v') {
		g_set_error_literal(error,
				    KL_API_VERSION_ERROR,
				    KL_API_VERSION_ERROR_INVALID,
				    "path does not start with an API version");
		return FALSE;
	}
	if (g_ascii_isdigit(segment[1]) && segment[2] == '\0') {
		gboolean found = FALSE;
		for (gsize i = 0; i < n_supported; i++) {
			if (supported[i].major != (guint8)(segment[1] - '0'))
				continue;
			if (!found || kl_api_version_compare(&supported[i], &wanted) > 0)
				wanted = supported[i];
			found = TRUE;
		}
		if (!found) {
			g_set_error_literal(error,
					    KL_API_VERSION_ERROR,
					    KL_API_VERSION_ERROR_NOT_SUPPORTED,
					    "API Version not supported");
			return FALSE;
		}
		*version = wanted;
		return TRUE;
	}
	if (!kl_api_version_parse(segment + 1, &wanted, NULL) ||
	    !kl_api_version_is_supported(&wanted, supported, n_supported)) {
		g_set_error_literal(error,
				    KL_API_VERSION_ERROR,
				    KL_API_VERSION_ERROR_NOT_SUPPORTED,
				    "API Version not supported");
		return FALSE;
	}
	*version = wanted;
	return TRUE;
}
