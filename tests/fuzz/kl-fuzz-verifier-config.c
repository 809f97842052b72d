/*
 * Fuzz target: kl-verifier-config over an arbitrary verifier.conf.  The
 * input is loaded as the file; tls_dir is then forced to a path that is
 * never "generate", so that nothing is written, and every option the
 * verifier reads is interpreted (or refused with an error).
 */
#include "config.h"

#include "kl-fuzz.h"
#include "kl-verifier-config.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(KlConfig) config = kl_config_new();
	g_autoptr(KlVerifierConfig) settings = NULL;
	g_autoptr(GError) error = NULL;
	KlVerifierOptions defaults = {0};

	if (!kl_config_load_data(config, (const gchar *)data, size, "fuzz.conf", NULL))
		return 0;
	kl_config_set_string(config, "verifier", "tls_dir", "/nonexistent/fuzz-tls", "fuzz");
	defaults.verifier_id = "default";
	defaults.quote_interval = 2;
	defaults.request_timeout = 60;
	defaults.max_upload_size = 1;
	settings = kl_verifier_config_new(config, "/nonexistent/fuzz-state", &defaults, &error);
	/* one or the other, never both */
	g_assert_true((settings == NULL) != (error == NULL));
	if (settings != NULL) {
		g_assert_nonnull(settings->database_path);
		g_assert_nonnull(settings->tls);
		g_assert_true(settings->options.request_timeout > 0);
	}
	return 0;
}
