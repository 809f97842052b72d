/*
 * keylime-policy: upstream's policy tool for runtime (IMA) policies —
 * "create runtime" from an IMA measurement list, a root filesystem, a
 * legacy allowlist and an exclude list; "convert" of a legacy allowlist;
 * "sign runtime" and "verify runtime" of DSSE envelopes; and "create
 * measured-boot", the measured boot reference state from a UEFI event log.
 *
 * Exit status: 0 done, 1 the operation failed (a signature, writing the
 * output), 2 usage error or unusable input (the message names the file and
 * the line or field).
 */
#define G_LOG_DOMAIN "KlTenant"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "kl-crypto.h"
#include "kl-error.h"
#include "kl-eventlog.h"
#include "kl-mb-refstate.h"
#include "kl-runtime-policy.h"
#include "kl-tenant-input.h"
#include "kl-x509.h"

#define KL_POLICY_EXIT_OK    0
#define KL_POLICY_EXIT_FAIL  1
#define KL_POLICY_EXIT_USAGE 2

#define KL_POLICY_DEFAULT_EC_KEY "keylime-ecdsa-key.pem"
/* inputs are read whole: the same limit as for policies */
#define KL_POLICY_MAX_INPUT KL_RUNTIME_POLICY_MAX_SIZE

/* upstream's BASE_EXCLUDE_DIRS, relative to the root filesystem */
static const gchar *const base_exclude_dirs[] = {"/sys",
						 "/run",
						 "/proc",
						 "/lost+found",
						 "/dev",
						 "/media",
						 "/snap",
						 "/mnt",
						 "/var",
						 "/tmp",
						 NULL};

static gint
kl_policy_usage_error(GOptionContext *context, const gchar *message)
{
	g_autofree gchar *help = NULL;
	if (context != NULL)
		help = g_option_context_get_help(context, TRUE, NULL);
	g_printerr("keylime-policy: %s\n%s%s", message, help != NULL ? "\n" : "", help ? help : "");
	return KL_POLICY_EXIT_USAGE;
}

static gint
kl_policy_input_error(const gchar *path, const GError *error)
{
	g_printerr("keylime-policy: %s: %s\n", path, error->message);
	return KL_POLICY_EXIT_USAGE;
}

static gint
kl_policy_failed(const GError *error)
{
	g_printerr("keylime-policy: %s\n", error->message);
	return KL_POLICY_EXIT_FAIL;
}

static gboolean
kl_policy_write_output(const gchar *path, const gchar *data, gsize len, GError **error)
{
	if (path == NULL || g_strcmp0(path, "-") == 0 || g_strcmp0(path, "/dev/stdout") == 0) {
		if (fwrite(data, 1, len, stdout) != len || fputc('\n', stdout) == EOF ||
		    fflush(stdout) != 0) {
			g_set_error_literal(error,
					    G_IO_ERROR,
					    G_IO_ERROR_FAILED,
					    "cannot write to standard output");
			return FALSE;
		}
		return TRUE;
	}
	if (!g_file_set_contents(path, data, (gssize)len, error)) {
		g_prefix_error(error, "%s: ", path);
		return FALSE;
	}
	return TRUE;
}

/* Algorithm name from a hex digest's length, as upstream guesses it;
 * sha256 stands for sha256 or sm3_256. */
static const gchar *
kl_policy_alg_from_hex_len(gsize len)
{
	switch (len) {
	case 40:
		return "sha1";
	case 64:
		return "sha256";
	case 96:
		return "sha384";
	case 128:
		return "sha512";
	default:
		return NULL;
	}
}

static gboolean
kl_policy_alg_compatible(const gchar *wanted, const gchar *found)
{
	if (g_strcmp0(wanted, found) == 0)
		return TRUE;
	/* same length: a length cannot tell them apart */
	return g_strcmp0(found, "sha256") == 0 && g_strcmp0(wanted, "sm3_256") == 0;
}

typedef struct {
	KlRuntimePolicyBuilder *builder;
	gchar *algo;	    /* --algo, or what the inputs agree on */
	gchar *algo_source; /* which input set it */
	gboolean algo_given;
} KlPolicyCreate;

static void
kl_policy_create_clear(KlPolicyCreate *self)
{
	g_clear_pointer(&self->algo, g_free);
	g_clear_pointer(&self->algo_source, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(KlPolicyCreate, kl_policy_create_clear)

/* One input's algorithm must agree with --algo and earlier inputs. */
static gboolean
kl_policy_create_note_alg(KlPolicyCreate *self,
			  const gchar *alg,
			  const gchar *source,
			  GError **error)
{
	if (alg == NULL)
		return TRUE;
	if (self->algo == NULL) {
		self->algo = g_strdup(alg);
		self->algo_source = g_strdup(source);
		return TRUE;
	}
	if (!kl_policy_alg_compatible(self->algo, alg)) {
		g_set_error(error,
			    KL_RUNTIME_POLICY_ERROR,
			    KL_RUNTIME_POLICY_ERROR_INVALID,
			    /* TRANSLATORS: an algorithm, where another one comes from
			     * (a file or --algo), and that algorithm */
			    _("%s digests, but %s gives %s"),
			    alg,
			    self->algo_source,
			    self->algo);
		return FALSE;
	}
	return TRUE;
}

/* The first digest line of a flat allowlist tells its algorithm. */
static const gchar *
kl_policy_allowlist_alg(const gchar *text)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

	for (guint i = 0; lines[i] != NULL; i++) {
		gchar *line = g_strstrip(lines[i]);
		gsize len = strcspn(line, " \t");
		const gchar *colon;

		if (line[0] == '\0' || line[0] == '{' || line[len] == '\0')
			continue;
		line[len] = '\0';
		colon = strrchr(line, ':');
		if (colon != NULL)
			return kl_policy_alg_from_hex_len(strlen(colon + 1));
		return kl_policy_alg_from_hex_len(len);
	}
	return NULL;
}

/*
 * Digests of ima-ng, ima-sig and ima entries of an ascii measurement list
 * (spec §5.1): "<pcr> <template-hash> <template> <[alg:]digest> <path> …".
 * Lines of other templates are ignored, malformed ones skipped with a
 * warning, as upstream does.
 */
static gboolean
kl_policy_create_add_ima_log(KlPolicyCreate *self, const gchar *path, GError **error)
{
	g_autofree gchar *text = NULL;
	g_auto(GStrv) lines = NULL;
	gsize len = 0;
	const gchar *log_hash_alg = NULL;

	text = kl_tenant_read_input(path, KL_POLICY_MAX_INPUT, &len, error);
	if (text == NULL)
		return FALSE;
	if (strlen(text) != len) {
		g_set_error_literal(error,
				    KL_RUNTIME_POLICY_ERROR,
				    KL_RUNTIME_POLICY_ERROR_INVALID,
				    _("the measurement list contains a NUL byte"));
		return FALSE;
	}
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		g_auto(GStrv) fields = NULL;
		const gchar *digest;
		const gchar *alg;
		const gchar *colon;
		const gchar *entry_path;
		const gchar *template_alg;
		g_autoptr(GError) entry_error = NULL;

		if (lines[i][0] == '\0')
			continue;
		fields = g_strsplit(lines[i], " ", 6);
		if (g_strv_length(fields) < 5) {
			g_printerr(_("keylime-policy: %s: line %u: skipped, expected at least 5 "
				     "fields\n"),
				   path,
				   i + 1);
			continue;
		}
		if (g_strcmp0(fields[2], "ima-ng") != 0 && g_strcmp0(fields[2], "ima-sig") != 0 &&
		    g_strcmp0(fields[2], "ima") != 0)
			continue;
		template_alg = kl_policy_alg_from_hex_len(strlen(fields[1]));
		if (template_alg != NULL && log_hash_alg == NULL)
			log_hash_alg = template_alg;
		colon = strchr(fields[3], ':');
		if (colon != NULL) {
			g_autofree gchar *prefix = g_strndup(fields[3], (gsize)(colon - fields[3]));
			digest = colon + 1;
			alg = g_strv_contains((const gchar *const[]){"sha1",
								     "sha256",
								     "sha384",
								     "sha512",
								     "sm3_256",
								     NULL},
					      prefix)
				      ? g_intern_string(prefix)
				      : NULL;
			if (alg != NULL && g_strcmp0(alg, "sm3_256") != 0 &&
			    g_strcmp0(kl_policy_alg_from_hex_len(strlen(digest)), alg) != 0)
				alg = NULL;
			if (alg != NULL && g_strcmp0(alg, "sm3_256") == 0 && strlen(digest) != 64)
				alg = NULL;
		} else {
			digest = fields[3];
			alg = kl_policy_alg_from_hex_len(strlen(digest));
		}
		if (alg == NULL) {
			g_printerr(_("keylime-policy: %s: line %u: skipped, unknown digest "
				     "algorithm or length\n"),
				   path,
				   i + 1);
			continue;
		}
		entry_path = fields[4];
		if (!kl_runtime_policy_builder_add_digest(self->builder,
							  KL_RUNTIME_POLICY_MAP_DIGESTS,
							  entry_path,
							  digest,
							  &entry_error)) {
			g_printerr("keylime-policy: %s: line %u: %s\n",
				   path,
				   i + 1,
				   entry_error->message);
			continue;
		}
		/* the boot aggregate decides the log's algorithm, as upstream */
		if (g_strcmp0(entry_path, "boot_aggregate") == 0 &&
		    !kl_policy_create_note_alg(self, alg, path, error))
			return FALSE;
	}
	if (log_hash_alg != NULL &&
	    !kl_runtime_policy_builder_set_log_hash_alg(self->builder, log_hash_alg, error))
		return FALSE;
	return TRUE;
}

static gboolean
kl_policy_hash_file(int dirfd, const gchar *name, const EVP_MD *md, gchar **hex, GError **error)
{
	g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new();
	guint8 buf[65536];
	guint8 out[EVP_MAX_MD_SIZE];
	guint out_len = 0;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		gint saved = errno;
		g_set_error_literal(error,
				    G_IO_ERROR,
				    g_io_error_from_errno(saved),
				    g_strerror(saved));
		return FALSE;
	}
	if (ctx == NULL || EVP_DigestInit_ex(ctx, md, NULL) != 1) {
		close(fd);
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot start a digest");
		return FALSE;
	}
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			gint saved = errno;
			close(fd);
			g_set_error_literal(error,
					    G_IO_ERROR,
					    g_io_error_from_errno(saved),
					    g_strerror(saved));
			return FALSE;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)n);
	}
	close(fd);
	if (EVP_DigestFinal_ex(ctx, out, &out_len) != 1) {
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot finish a digest");
		return FALSE;
	}
	*hex = kl_crypto_hex_encode(out, out_len);
	return TRUE;
}

typedef struct {
	KlRuntimePolicyBuilder *builder;
	const EVP_MD *md;
	dev_t root_dev;
	GPtrArray *skip; /* relative paths "/x/y" that are not walked */
	guint files;
} KlPolicyWalk;

/*
 * Regular files owned by root, as upstream; symlinks are never followed,
 * directories on another filesystem than the root's are not entered
 * (upstream compares filesystem types of mount points; a device number
 * is the same idea without reading the mount table).
 */
static void
kl_policy_walk_dir(KlPolicyWalk *walk, int dirfd, const gchar *relative)
{
	DIR *dir = fdopendir(dirfd);
	struct dirent *entry;

	if (dir == NULL) {
		close(dirfd);
		return;
	}
	while ((entry = readdir(dir)) != NULL) {
		struct stat st;
		g_autofree gchar *child = NULL;

		if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
			continue;
		child = g_strconcat(relative, "/", entry->d_name, NULL);
		if (fstatat(dirfd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			int subfd;
			if (st.st_dev != walk->root_dev ||
			    g_strv_contains(base_exclude_dirs, child) ||
			    g_ptr_array_find_with_equal_func(walk->skip, child, g_str_equal, NULL))
				continue;
			subfd = openat(dirfd,
				       entry->d_name,
				       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (subfd >= 0)
				kl_policy_walk_dir(walk, subfd, child);
		} else if (S_ISREG(st.st_mode) && st.st_uid == 0) {
			g_autofree gchar *hex = NULL;
			g_autoptr(GError) error = NULL;

			if (!kl_policy_hash_file(dirfd, entry->d_name, walk->md, &hex, &error)) {
				g_printerr(_("keylime-policy: %s: skipped: %s\n"),
					   child,
					   error->message);
				continue;
			}
			/* IMA logs spaces as '_' */
			g_strdelimit(child, " ", '_');
			if (!kl_runtime_policy_builder_add_digest(walk->builder,
								  KL_RUNTIME_POLICY_MAP_DIGESTS,
								  child,
								  hex,
								  &error)) {
				g_printerr("keylime-policy: %s: %s\n", child, error->message);
				continue;
			}
			walk->files++;
		}
	}
	closedir(dir);
}

static gboolean
kl_policy_create_add_rootfs(KlPolicyCreate *self,
			    const gchar *rootfs,
			    gchar **skip_paths,
			    GError **error)
{
	g_autofree gchar *root = NULL;
	g_autoptr(GPtrArray) skip = g_ptr_array_new_with_free_func(g_free);
	KlPolicyWalk walk = {.builder = self->builder};
	struct stat st;
	int fd;

	root = g_canonicalize_filename(rootfs, NULL);
	walk.md = kl_crypto_get_md(self->algo, error);
	if (walk.md == NULL)
		return FALSE;
	for (guint i = 0; skip_paths != NULL && skip_paths[i] != NULL; i++) {
		g_auto(GStrv) parts = g_strsplit(skip_paths[i], ",", -1);
		for (guint j = 0; parts[j] != NULL; j++) {
			g_autofree gchar *abs = NULL;
			if (parts[j][0] == '\0')
				continue;
			abs = g_canonicalize_filename(parts[j], NULL);
			if (g_strcmp0(abs, root) == 0 ||
			    (g_str_has_prefix(root, abs) && root[strlen(abs)] == '/') ||
			    g_strcmp0(abs, "/") == 0)
				return TRUE; /* the whole root is skipped */
			if (g_strcmp0(root, "/") == 0)
				g_ptr_array_add(skip, g_steal_pointer(&abs));
			else if (g_str_has_prefix(abs, root) && abs[strlen(root)] == '/')
				g_ptr_array_add(skip, g_strdup(abs + strlen(root)));
			else
				g_printerr(_("keylime-policy: ignoring %s: it is not under %s\n"),
					   parts[j],
					   root);
		}
	}
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		gint saved = errno;
		if (fd >= 0)
			close(fd);
		g_set_error(error,
			    G_IO_ERROR,
			    g_io_error_from_errno(saved),
			    "%s: %s",
			    root,
			    g_strerror(saved));
		return FALSE;
	}
	walk.root_dev = st.st_dev;
	walk.skip = skip;
	kl_policy_walk_dir(&walk, fd, "");
	g_debug("hashed %u files under %s", walk.files, root);
	return TRUE;
}

static gboolean
kl_policy_add_allowlist_file(KlRuntimePolicyBuilder *builder, const gchar *path, GError **error)
{
	g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *text = NULL;
	gsize len = 0;

	text = kl_tenant_read_input(path, KL_POLICY_MAX_INPUT, &len, error);
	if (text == NULL)
		return FALSE;
	if (!kl_runtime_policy_builder_add_allowlist(builder, text, len, warnings, error))
		return FALSE;
	for (guint i = 0; i < warnings->len; i++)
		g_printerr("keylime-policy: %s: %s\n",
			   path,
			   (const gchar *)g_ptr_array_index(warnings, i));
	return TRUE;
}

static gboolean
kl_policy_add_exclude_file(KlRuntimePolicyBuilder *builder, const gchar *path, GError **error)
{
	g_autofree gchar *text = NULL;
	gsize len = 0;

	text = kl_tenant_read_input(path, KL_POLICY_MAX_INPUT, &len, error);
	if (text == NULL)
		return FALSE;
	return kl_runtime_policy_builder_add_exclude_list(builder, text, len, error);
}

/* The builder's JSON, parsed back so that nothing invalid is written. */
static gint
kl_policy_write_policy(KlRuntimePolicyBuilder *builder, const gchar *output)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KlRuntimePolicy) check = NULL;
	g_autofree gchar *json = kl_runtime_policy_builder_to_json(builder);

	check = kl_runtime_policy_new_from_json(json, strlen(json), &error);
	if (check == NULL)
		return kl_policy_failed(error);
	if (!kl_policy_write_output(output, json, strlen(json), &error))
		return kl_policy_failed(error);
	return KL_POLICY_EXIT_OK;
}

static gint
kl_policy_create_runtime(int argc, char **argv)
{
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(KlRuntimePolicyBuilder) builder = kl_runtime_policy_builder_new();
	g_autofree gchar *ima_log = NULL;
	g_autofree gchar *rootfs = NULL;
	g_autofree gchar *allowlist = NULL;
	g_autofree gchar *excludelist = NULL;
	g_autofree gchar *base_policy = NULL;
	g_autofree gchar *algo = NULL;
	g_autofree gchar *output = NULL;
	g_auto(GStrv) skip_paths = NULL;
	g_auto(GStrv) ignored_keyrings = NULL;
	g_auto(KlPolicyCreate) create = {.builder = builder};
	const GOptionEntry entries[] = {
		{"ima-measurement-list",
		 'm',
		 G_OPTION_FLAG_NONE,
		 G_OPTION_ARG_FILENAME,
		 &ima_log,
		 N_("Take digests from an IMA ascii measurement list"),
		 N_("FILE")},
		{"rootfs",
		 0,
		 G_OPTION_FLAG_NONE,
		 G_OPTION_ARG_FILENAME,
		 &rootfs,
		 N_("Hash the files of a root filesystem"),
		 N_("DIR")},
		{"skip-path",
		 's',
		 G_OPTION_FLAG_NONE,
		 G_OPTION_ARG_FILENAME_ARRAY,
		 &skip_paths,
		 N_("Directories (comma-separated) not to hash under --rootfs"),
		 N_("DIR")},
		{"allowlist",
		 'a',
		 G_OPTION_FLAG_NONE,
		 G_OPTION_ARG_FILENAME,
		 &allowlist,
		 N_("Take digests from a legacy allowlist"),
		 N_("FILE")},
		{"excludelist",
		 'e',
		 G_OPTION_FLAG_NONE,
		 G_OPTION_ARG_FILENAME,
		 &excludelist,
		 N_("Add the regexes of an exclude list"),
		 N_("FILE")},
		{"base-policy",
		 'p',
		 G_OPTION_FLAG_NONE,
		 G_OPTION_ARG_FILENAME,
		 &base_policy,
		 N_("Merge into this runtime policy"),
		 N_("FILE")},
		{"ignored-keyrings",
		 0,
		 G_OPTION_FLAG_NONE,
		 G_OPTION_ARG_STRING_ARRAY,
		 &ignored_keyrings,
		 N_("Ignore this keyring; may be repeated"),
		 N_("NAME")},
		{"algo",
		 0,
		 G_OPTION_FLAG_NONE,
		 G_OPTION_ARG_STRING,
		 &algo,
		 N_("Digest algorithm: sha1, sha256, sha384, sha512 or sm3_256"),
		 N_("ALG")},
		{"output",
		 'o',
		 G_OPTION_FLAG_NONE,
		 G_OPTION_ARG_FILENAME,
		 &output,
		 N_("Write the policy here instead of standard output"),
		 N_("FILE")},
		{NULL},
	};
	const gchar *const algos[] = {"sha1", "sha256", "sha384", "sha512", "sm3_256", NULL};

	context = g_option_context_new("create runtime");
	g_option_context_set_summary(context, _("Create a runtime (IMA) policy."));
	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
	if (!g_option_context_parse(context, &argc, &argv, &error))
		return kl_policy_usage_error(context, error->message);
	if (argc > 1) {
		g_autofree gchar *msg = g_strdup_printf(_("unexpected argument '%s'"), argv[1]);
		return kl_policy_usage_error(context, msg);
	}
	if (algo != NULL) {
		if (!g_strv_contains(algos, algo)) {
			g_autofree gchar *msg =
				g_strdup_printf(_("invalid digest algorithm '%s'"), algo);
			return kl_policy_usage_error(context, msg);
		}
		create.algo = g_strdup(algo);
		create.algo_source = g_strdup("--algo");
		create.algo_given = TRUE;
	}

	for (guint i = 0; ignored_keyrings != NULL && ignored_keyrings[i] != NULL; i++)
		kl_runtime_policy_builder_add_ignored_keyring(builder, ignored_keyrings[i]);
	if (base_policy != NULL) {
		g_autofree gchar *text = NULL;
		g_autoptr(KlRuntimePolicy) base = NULL;
		gsize len = 0;
		text = kl_tenant_read_input(base_policy, KL_POLICY_MAX_INPUT, &len, &error);
		if (text == NULL)
			return kl_policy_input_error(base_policy, error);
		base = kl_runtime_policy_new_from_json(text, len, &error);
		if (base == NULL || !kl_runtime_policy_builder_add_policy(builder, base, &error))
			return kl_policy_input_error(base_policy, error);
	}
	if (allowlist != NULL) {
		g_autofree gchar *text = NULL;
		gsize len = 0;
		text = kl_tenant_read_input(allowlist, KL_POLICY_MAX_INPUT, &len, &error);
		if (text == NULL)
			return kl_policy_input_error(allowlist, error);
		if (!kl_policy_create_note_alg(&create,
					       kl_policy_allowlist_alg(text),
					       allowlist,
					       &error))
			return kl_policy_input_error(allowlist, error);
		if (!kl_policy_add_allowlist_file(builder, allowlist, &error))
			return kl_policy_input_error(allowlist, error);
	}
	if (excludelist != NULL && !kl_policy_add_exclude_file(builder, excludelist, &error))
		return kl_policy_input_error(excludelist, error);
	if (ima_log != NULL && !kl_policy_create_add_ima_log(&create, ima_log, &error))
		return kl_policy_input_error(ima_log, error);
	if (rootfs != NULL) {
		if (create.algo == NULL)
			create.algo = g_strdup("sha256");
		if (!kl_policy_create_add_rootfs(&create, rootfs, skip_paths, &error))
			return kl_policy_input_error(rootfs, error);
	}
	return kl_policy_write_policy(builder, output);
}

/* upstream's keylime_convert_runtime_policy -a ALLOWLIST [-e EXCLUDES] -o OUT */
static gint
kl_policy_convert(int argc, char **argv)
{
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(KlRuntimePolicyBuilder) builder = kl_runtime_policy_builder_new();
	g_autofree gchar *allowlist = NULL;
	g_autofree gchar *excludelist = NULL;
	g_autofree gchar *output = NULL;
	const GOptionEntry entries[] = {
		{"allowlist",
		 'a',
		 G_OPTION_FLAG_NONE,
		 G_OPTION_ARG_FILENAME,
		 &allowlist,
		 N_("The legacy allowlist (flat or JSON) to convert"),
		 N_("FILE")},
		{"excludelist",
		 'e',
		 G_OPTION_FLAG_NONE,
		 G_OPTION_ARG_FILENAME,
		 &excludelist,
		 N_("The exclude list to add"),
		 N_("FILE")},
		{"output",
		 'o',
		 G_OPTION_FLAG_NONE,
		 G_OPTION_ARG_FILENAME,
		 &output,
		 N_("Write the policy here instead of standard output"),
		 N_("FILE")},
		{NULL},
	};

	context = g_option_context_new("convert");
	g_option_context_set_summary(context,
				     _("Convert a legacy allowlist and exclude list into a runtime "
				       "policy."));
	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
	if (!g_option_context_parse(context, &argc, &argv, &error))
		return kl_policy_usage_error(context, error->message);
	if (argc > 1) {
		g_autofree gchar *msg = g_strdup_printf(_("unexpected argument '%s'"), argv[1]);
		return kl_policy_usage_error(context, msg);
	}
	if (allowlist == NULL)
		return kl_policy_usage_error(context, _("an allowlist is required (-a)"));
	if (!kl_policy_add_allowlist_file(builder, allowlist, &error))
		return kl_policy_input_error(allowlist, error);
	if (excludelist != NULL && !kl_policy_add_exclude_file(builder, excludelist, &error))
		return kl_policy_input_error(excludelist, error);
	return kl_policy_write_policy(builder, output);
}

/* The signing key: -k FILE, or a new P-256 key written to -p (or upstream's
 * default file name). */
static EVP_PKEY *
kl_policy_signing_key(const gchar *keyfile, const gchar *keypath, gint *rc, GError **error)
{
	g_autoptr(EVP_PKEY) key = NULL;

	if (keyfile != NULL) {
		key = kl_key_load_pem_file(keyfile, error);
		if (key == NULL || !EVP_PKEY_is_a(key, "EC")) {
			if (key != NULL)
				g_set_error(error,
					    KL_RUNTIME_POLICY_ERROR,
					    KL_RUNTIME_POLICY_ERROR_INVALID,
					    _("%s: only elliptic curve keys are supported"),
					    keyfile);
			*rc = KL_POLICY_EXIT_USAGE;
			return NULL;
		}
		return g_steal_pointer(&key);
	}
	key = kl_key_generate_ec("P-256", error);
	if (key == NULL ||
	    !kl_key_save_private_pem_file(key,
					  keypath != NULL ? keypath : KL_POLICY_DEFAULT_EC_KEY,
					  error)) {
		*rc = KL_POLICY_EXIT_FAIL;
		return NULL;
	}
	return g_steal_pointer(&key);
}

/* upstream's x509 backend: a self-signed certificate for the signing key */
static X509 *
kl_policy_signing_cert(EVP_PKEY *key, const gchar *cert_out, GError **error)
{
	const gchar *const dns_names[] = {"dsse_lib", NULL};
	KlCertRequest request = {
		.common_name = "dsse_lib",
		.days = 30,
		.usage = KL_CERT_USAGE_CLIENT,
		.dns_names = dns_names,
	};
	g_autoptr(X509) cert = kl_x509_issue(&request, key, NULL, key, error);
	g_autofree gchar *pem = NULL;

	if (cert == NULL)
		return NULL;
	pem = kl_x509_to_pem(cert, error);
	if (pem == NULL)
		return NULL;
	if (!g_file_set_contents(cert_out, pem, -1, error)) {
		g_prefix_error(error, "%s: ", cert_out);
		return NULL;
	}
	return g_steal_pointer(&cert);
}

static gint
kl_policy_sign_runtime(int argc, char **argv)
{
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *policy_path = NULL;
	g_autofree gchar *keyfile = NULL;
	g_autofree gchar *keypath = NULL;
	g_autofree gchar *backend = NULL;
	g_autofree gchar *cert_out = NULL;
	g_autofree gchar *output = NULL;
	g_autofree gchar *text = NULL;
	g_autofree gchar *keyid = NULL;
	g_autofree gchar *envelope = NULL;
	g_autoptr(KlRuntimePolicy) policy = NULL;
	g_autoptr(EVP_PKEY) key = NULL;
	gsize len = 0;
	gint rc = KL_POLICY_EXIT_OK;
	gboolean x509 = FALSE;
	const GOptionEntry entries[] = {
		{"runtime-policy",
		 'r',
		 G_OPTION_FLAG_NONE,
		 G_OPTION_ARG_FILENAME,
		 &policy_path,
		 N_("The runtime policy to sign"),
		 N_("FILE")},
		{"keyfile",
		 'k',
		 G_OPTION_FLAG_NONE,
		 G_OPTION_ARG_FILENAME,
		 &keyfile,
		 N_("The EC private key (PEM) to sign with"),
		 N_("FILE")},
		{"keypath",
		 'p',
		 G_OPTION_FLAG_NONE,
		 G_OPTION_ARG_FILENAME,
		 &keypath,
		 N_("Where to write a new private key when -k is not given"),
		 N_("FILE")},
		{"backend",
		 'b',
		 G_OPTION_FLAG_NONE,
		 G_OPTION_ARG_STRING,
		 &backend,
		 N_("DSSE backend: ecdsa (default) or x509"),
		 N_("BACKEND")},
		{"cert-outfile",
		 'c',
		 G_OPTION_FLAG_NONE,
		 G_OPTION_ARG_FILENAME,
		 &cert_out,
		 N_("Where to write the certificate of the x509 backend"),
		 N_("FILE")},
		{"output",
		 'o',
		 G_OPTION_FLAG_NONE,
		 G_OPTION_ARG_FILENAME,
		 &output,
		 N_("Write the signed policy here instead of standard output"),
		 N_("FILE")},
		{NULL},
	};

	context = g_option_context_new("sign runtime");
	g_option_context_set_summary(context, _("Sign a runtime policy (DSSE)."));
	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
	if (!g_option_context_parse(context, &argc, &argv, &error))
		return kl_policy_usage_error(context, error->message);
	if (argc > 1) {
		g_autofree gchar *msg = g_strdup_printf(_("unexpected argument '%s'"), argv[1]);
		return kl_policy_usage_error(context, msg);
	}
	if (policy_path == NULL)
		return kl_policy_usage_error(context, _("a runtime policy is required (-r)"));
	if (keyfile != NULL && keypath != NULL)
		return kl_policy_usage_error(context,
					     _("only one of -k (--keyfile) and -p (--keypath) "
					       "may be given"));
	if (backend != NULL) {
		g_autofree gchar *lower = g_ascii_strdown(backend, -1);
		if (g_strcmp0(lower, "x509") == 0) {
			x509 = TRUE;
		} else if (g_strcmp0(lower, "ecdsa") != 0) {
			g_autofree gchar *msg =
				g_strdup_printf(_("invalid backend '%s': use ecdsa or x509"),
						backend);
			return kl_policy_usage_error(context, msg);
		}
	}
	if (x509 && cert_out == NULL)
		return kl_policy_usage_error(context,
					     _("the x509 backend needs a certificate output "
					       "file (-c)"));

	/* only a valid policy is signed; its bytes are signed as they are */
	text = kl_tenant_read_input(policy_path, KL_POLICY_MAX_INPUT, &len, &error);
	if (text == NULL)
		return kl_policy_input_error(policy_path, error);
	policy = kl_runtime_policy_new_from_json(text, len, &error);
	if (policy == NULL)
		return kl_policy_input_error(policy_path, error);

	key = kl_policy_signing_key(keyfile, keypath, &rc, &error);
	if (key == NULL) {
		g_printerr("keylime-policy: %s\n", error->message);
		return rc;
	}
	if (x509) {
		g_autoptr(X509) cert = kl_policy_signing_cert(key, cert_out, &error);
		if (cert == NULL)
			return kl_policy_failed(error);
		keyid = kl_runtime_policy_dsse_x509_keyid(cert, &error);
	} else {
		keyid = kl_runtime_policy_dsse_ecdsa_keyid(key, &error);
	}
	if (keyid == NULL)
		return kl_policy_failed(error);
	envelope = kl_runtime_policy_dsse_sign((const guint8 *)text, len, key, keyid, &error);
	if (envelope == NULL) {
		/* a public key given with -k cannot sign */
		g_printerr("keylime-policy: %s: %s\n", keyfile ? keyfile : "", error->message);
		return KL_POLICY_EXIT_USAGE;
	}
	if (!kl_policy_write_output(output, envelope, strlen(envelope), &error))
		return kl_policy_failed(error);
	return KL_POLICY_EXIT_OK;
}

/* A certificate (the x509 backend) or a public key. */
static EVP_PKEY *
kl_policy_load_verify_key(const gchar *path, GError **error)
{
	g_autoptr(X509) cert = kl_x509_load_pem_file(path, NULL);
	if (cert != NULL) {
		EVP_PKEY *key = X509_get_pubkey(cert);
		if (key == NULL)
			g_set_error(error,
				    KL_RUNTIME_POLICY_ERROR,
				    KL_RUNTIME_POLICY_ERROR_INVALID,
				    _("the certificate has no usable public key"));
		return key;
	}
	return kl_key_load_pem_file(path, error);
}

static gint
kl_policy_verify_runtime(int argc, char **argv)
{
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *signed_path = NULL;
	g_autofree gchar *keyfile = NULL;
	g_autofree gchar *output = NULL;
	g_autofree gchar *text = NULL;
	g_autoptr(EVP_PKEY) key = NULL;
	g_autoptr(KlRuntimePolicy) policy = NULL;
	gsize len = 0;
	const GOptionEntry entries[] = {
		{"runtime-policy",
		 'r',
		 G_OPTION_FLAG_NONE,
		 G_OPTION_ARG_FILENAME,
		 &signed_path,
		 N_("The signed (DSSE) runtime policy"),
		 N_("FILE")},
		{"keyfile",
		 'k',
		 G_OPTION_FLAG_NONE,
		 G_OPTION_ARG_FILENAME,
		 &keyfile,
		 N_("The public key or certificate (PEM) to verify with"),
		 N_("FILE")},
		{"output",
		 'o',
		 G_OPTION_FLAG_NONE,
		 G_OPTION_ARG_FILENAME,
		 &output,
		 N_("Write the verified policy here"),
		 N_("FILE")},
		{NULL},
	};

	context = g_option_context_new("verify runtime");
	g_option_context_set_summary(context, _("Verify the signature of a runtime policy."));
	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
	if (!g_option_context_parse(context, &argc, &argv, &error))
		return kl_policy_usage_error(context, error->message);
	if (argc > 1) {
		g_autofree gchar *msg = g_strdup_printf(_("unexpected argument '%s'"), argv[1]);
		return kl_policy_usage_error(context, msg);
	}
	if (signed_path == NULL || keyfile == NULL)
		return kl_policy_usage_error(context,
					     _("a signed policy (-r) and a key (-k) are required"));
	key = kl_policy_load_verify_key(keyfile, &error);
	if (key == NULL)
		return kl_policy_input_error(keyfile, error);
	text = kl_tenant_read_input(signed_path, KL_POLICY_MAX_INPUT, &len, &error);
	if (text == NULL)
		return kl_policy_input_error(signed_path, error);
	policy = kl_runtime_policy_new_from_dsse(text, len, key, &error);
	if (policy == NULL) {
		if (g_error_matches(error,
				    KL_RUNTIME_POLICY_ERROR,
				    KL_RUNTIME_POLICY_ERROR_SIGNATURE)) {
			g_printerr("keylime-policy: %s: %s\n", signed_path, error->message);
			return KL_POLICY_EXIT_FAIL;
		}
		return kl_policy_input_error(signed_path, error);
	}
	if (output != NULL) {
		gsize doc_len = 0;
		const gchar *doc =
			g_bytes_get_data(kl_runtime_policy_get_document(policy), &doc_len);
		if (!g_file_set_contents(output, doc, (gssize)doc_len, &error))
			return kl_policy_failed(error);
	}
	/* TRANSLATORS: %s is a file name */
	g_printerr(_("%s: the signature is valid\n"), signed_path);
	return KL_POLICY_EXIT_OK;
}

/* upstream's create_mb_refstate: keys and values as it writes them */
static gint
kl_policy_create_measured_boot(int argc, char **argv)
{
	g_autofree gchar *eventlog = NULL;
	g_autofree gchar *output = NULL;
	gboolean without_secureboot = FALSE;
	const GOptionEntry entries[] = {
		{"eventlog-file",
		 'e',
		 0,
		 G_OPTION_ARG_FILENAME,
		 &eventlog,
		 N_("Binary UEFI event log (normally "
		    "/sys/kernel/security/tpm0/binary_bios_measurements)"),
		 N_("FILE")},
		{"without-secureboot",
		 'i',
		 0,
		 G_OPTION_ARG_NONE,
		 &without_secureboot,
		 N_("Create a reference state for a machine without Secure Boot (only measured "
		    "boot)"),
		 NULL},
		{"output",
		 'o',
		 0,
		 G_OPTION_ARG_FILENAME,
		 &output,
		 N_("Write the reference state to FILE (default: standard output)"),
		 N_("FILE")},
		{NULL},
	};
	g_autoptr(GOptionContext) context = g_option_context_new(NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(KlEventLog) log = NULL;
	g_autoptr(JsonNode) events = NULL;
	g_autoptr(KlMbRefstate) refstate = NULL;
	g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *data = NULL;
	g_autofree gchar *json = NULL;
	gsize len = 0;

	g_option_context_set_translation_domain(context, GETTEXT_PACKAGE);
	g_option_context_set_summary(context,
				     _("Create a measured boot reference state from a UEFI "
				       "event log."));
	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
	if (!g_option_context_parse(context, &argc, &argv, &error))
		return kl_policy_usage_error(context, error->message);
	if (argc > 1) {
		g_autofree gchar *msg = g_strdup_printf(_("unexpected argument '%s'"), argv[1]);
		return kl_policy_usage_error(context, msg);
	}
	if (eventlog == NULL)
		return kl_policy_usage_error(context, _("an event log (-e) is required"));
	data = kl_tenant_read_input(eventlog, KL_POLICY_MAX_INPUT, &len, &error);
	if (data == NULL)
		return kl_policy_input_error(eventlog, error);
	log = kl_eventlog_new_from_data((const guint8 *)data, len, &error);
	if (log == NULL)
		return kl_policy_input_error(eventlog, error);
	events = kl_eventlog_events_to_json(log);
	refstate = kl_mb_refstate_new_from_events(json_node_get_array(events),
						  without_secureboot,
						  warnings,
						  &error);
	if (refstate == NULL)
		return kl_policy_input_error(eventlog, error);
	for (guint i = 0; i < warnings->len; i++)
		g_printerr("keylime-policy: warning: %s\n", (const gchar *)warnings->pdata[i]);
	json = kl_mb_refstate_to_json(refstate, FALSE);
	if (!kl_policy_write_output(output, json, strlen(json), &error))
		return kl_policy_failed(error);
	return KL_POLICY_EXIT_OK;
}

typedef gint (*KlPolicyCommandFunc)(int argc, char **argv);

int
main(int argc, char **argv)
{
	const struct {
		const gchar *command;
		const gchar *object; /* NULL: none */
		KlPolicyCommandFunc func;
	} commands[] = {
		{"create", "runtime", kl_policy_create_runtime},
		{"create", "measured-boot", kl_policy_create_measured_boot},
		{"convert", NULL, kl_policy_convert},
		{"sign", "runtime", kl_policy_sign_runtime},
		{"verify", "runtime", kl_policy_verify_runtime},
	};
	const gchar *usage = N_("Usage:\n"
				"  keylime-policy create runtime [OPTION…]\n"
				"  keylime-policy create measured-boot -e LOG [-i] [-o FILE]\n"
				"  keylime-policy convert -a ALLOWLIST [-e EXCLUDELIST] [-o FILE]\n"
				"  keylime-policy sign runtime -r POLICY [-k KEY | -p KEYPATH] "
				"[-b ecdsa|x509 -c CERT] [-o FILE]\n"
				"  keylime-policy verify runtime -r SIGNED -k KEY_OR_CERT\n"
				"Run a command with --help for its options.\n");

	setlocale(LC_ALL, "");
	bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
	bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
	textdomain(GETTEXT_PACKAGE);

	if (argc < 2) {
		g_printerr("%s", _(usage));
		return KL_POLICY_EXIT_USAGE;
	}
	if (g_strcmp0(argv[1], "--help") == 0 || g_strcmp0(argv[1], "-h") == 0) {
		g_print("%s", _(usage));
		return KL_POLICY_EXIT_OK;
	}
	for (guint i = 0; i < G_N_ELEMENTS(commands); i++) {
		gint skip = commands[i].object != NULL ? 2 : 1;
		g_autofree gchar *prgname = NULL;
		g_autofree gchar **sub_argv = NULL;

		if (g_strcmp0(argv[1], commands[i].command) != 0)
			continue;
		if (commands[i].object != NULL && g_strcmp0(argv[2], commands[i].object) != 0) {
			g_autofree gchar *msg = NULL;
			gboolean other = FALSE;
			/* another entry may have the same command with this object */
			for (guint k = 0; k < G_N_ELEMENTS(commands); k++)
				other = other || (g_strcmp0(argv[1], commands[k].command) == 0 &&
						  g_strcmp0(argv[2], commands[k].object) == 0);
			if (other)
				continue;
			if (g_strcmp0(argv[1], "create") == 0)
				msg = g_strdup_printf(_("'%s' needs 'runtime' or 'measured-boot'"),
						      argv[1]);
			else
				/* TRANSLATORS: "keylime-policy sign runtime" */
				msg = g_strdup_printf(_("'%s' needs '%s' (the only policy type "
							"supported)"),
						      commands[i].command,
						      commands[i].object);
			return kl_policy_usage_error(NULL, msg);
		}
		/* argv for the command's own option parser: program name first */
		sub_argv = g_new0(gchar *, (gsize)(argc - skip) + 1);
		prgname = g_strdup_printf("keylime-policy %s%s%s",
					  commands[i].command,
					  commands[i].object != NULL ? " " : "",
					  commands[i].object != NULL ? commands[i].object : "");
		sub_argv[0] = prgname;
		for (gint j = skip + 1; j < argc; j++)
			sub_argv[j - skip] = argv[j];
		g_set_prgname(prgname);
		return commands[i].func(argc - skip, sub_argv);
	}
	{
		g_autofree gchar *msg = g_strdup_printf(_("unknown command '%s'"), argv[1]);
		g_printerr("keylime-policy: %s\n%s", msg, _(usage));
	}
	return KL_POLICY_EXIT_USAGE;
}
