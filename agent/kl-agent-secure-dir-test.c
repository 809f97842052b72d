#include "config.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "kl-agent-secure-dir.h"
#include "kl-error.h"
#include "kl-test-dir.h"

/* The uid the unprivileged path runs as: ours, or a stand-in when the
 * tests run as root. */
static uid_t
test_uid(void)
{
	return geteuid() == 0 ? 54321 : geteuid();
}

static struct stat
stat_path(const gchar *path)
{
	struct stat st;
	g_assert_cmpint(lstat(path, &st), ==, 0);
	return st;
}

static void
test_private_created(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = NULL;
	KlAgentSecureDirKind kind = KL_AGENT_SECURE_DIR_TMPFS;
	struct stat st;

	path = kl_agent_secure_dir_prepare(kl_test_dir_get_path(dir),
					   1024 * 1024,
					   test_uid(),
					   test_uid(),
					   FALSE,
					   &kind,
					   &error);
	g_assert_no_error(error);
	g_assert_cmpint(kind, ==, KL_AGENT_SECURE_DIR_PRIVATE);
	g_assert_true(g_str_has_suffix(path, "/secure"));
	st = stat_path(path);
	g_assert_true(S_ISDIR(st.st_mode));
	g_assert_cmpuint(st.st_mode & 07777, ==, 0700);
	g_assert_cmpuint(st.st_uid, ==, test_uid());

	/* again: the same directory, accepted */
	g_clear_pointer(&path, g_free);
	path = kl_agent_secure_dir_prepare(kl_test_dir_get_path(dir),
					   1024 * 1024,
					   test_uid(),
					   test_uid(),
					   FALSE,
					   &kind,
					   &error);
	g_assert_no_error(error);
	g_assert_nonnull(path);
}

static void
test_private_mode_fixed(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *secure = kl_test_dir_build(dir, "secure", NULL);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = NULL;

	g_assert_cmpint(g_mkdir(secure, 0755), ==, 0);
	g_assert_cmpint(chmod(secure, 0755), ==, 0);
	path = kl_agent_secure_dir_prepare(kl_test_dir_get_path(dir),
					   0,
					   geteuid(),
					   getegid(),
					   FALSE,
					   NULL,
					   &error);
	g_assert_no_error(error);
	g_assert_cmpuint(stat_path(secure).st_mode & 07777, ==, 0700);
}

static void
test_private_other_owner(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *secure = kl_test_dir_build(dir, "secure", NULL);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = NULL;

	/* a directory that exists and belongs to someone other than the agent's
	 * user: refused, never chowned or chmodded */
	g_assert_cmpint(g_mkdir(secure, 0777), ==, 0);
	g_assert_cmpint(chmod(secure, 0777), ==, 0);
	path = kl_agent_secure_dir_prepare(kl_test_dir_get_path(dir),
					   1024 * 1024,
					   geteuid() + 1,
					   getegid(),
					   FALSE,
					   NULL,
					   &error);
	g_assert_error(error, KL_ERROR, KL_ERROR_PERMISSION_DENIED);
	g_assert_null(path);
	g_assert_cmpuint(stat_path(secure).st_mode & 07777, ==, 0777);
	g_assert_cmpuint(stat_path(secure).st_uid, ==, geteuid());
	g_clear_error(&error);

	/* as root: a directory owned by a third user */
	if (geteuid() == 0) {
		g_assert_cmpint(chown(secure, 4242, 4242), ==, 0);
		path = kl_agent_secure_dir_prepare(kl_test_dir_get_path(dir),
						   1024 * 1024,
						   test_uid(),
						   test_uid(),
						   FALSE,
						   NULL,
						   &error);
		g_assert_error(error, KL_ERROR, KL_ERROR_PERMISSION_DENIED);
		g_assert_nonnull(strstr(error->message, "4242"));
	}
}

static void
test_private_symlink(void)
{
	g_autoptr(KlTestDir) dir = kl_test_dir_new();
	g_autofree gchar *secure = kl_test_dir_build(dir, "secure", NULL);
	g_autofree gchar *elsewhere = kl_test_dir_build(dir, "elsewhere", NULL);
	g_autofree gchar *file_dir = kl_test_dir_build(dir, "file", NULL);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = NULL;

	g_assert_cmpint(g_mkdir(elsewhere, 0755), ==, 0);
	g_assert_cmpint(chmod(elsewhere, 0755), ==, 0);
	g_assert_cmpint(symlink(elsewhere, secure), ==, 0);
	path = kl_agent_secure_dir_prepare(kl_test_dir_get_path(dir),
					   1024 * 1024,
					   geteuid(),
					   getegid(),
					   FALSE,
					   NULL,
					   &error);
	g_assert_error(error, KL_ERROR, KL_ERROR_PERMISSION_DENIED);
	g_assert_nonnull(strstr(error->message, "symbolic link"));
	g_assert_null(path);
	g_assert_cmpuint(stat_path(elsewhere).st_mode & 07777, ==, 0755);
	g_clear_error(&error);

	/* the mount path refuses it before mounting anything */
	path = kl_agent_secure_dir_prepare(kl_test_dir_get_path(dir),
					   1024 * 1024,
					   geteuid(),
					   getegid(),
					   TRUE,
					   NULL,
					   &error);
	g_assert_error(error, KL_ERROR, KL_ERROR_PERMISSION_DENIED);
	g_clear_error(&error);

	/* a file where the directory should be */
	g_assert_cmpint(g_mkdir(file_dir, 0700), ==, 0);
	{
		g_autofree gchar *f = g_build_filename(file_dir, "secure", NULL);
		g_assert_true(g_file_set_contents(f, "x", 1, NULL));
		path = kl_agent_secure_dir_prepare(file_dir,
						   1024 * 1024,
						   geteuid(),
						   getegid(),
						   FALSE,
						   NULL,
						   &error);
		g_assert_nonnull(error);
		g_assert_null(path);
	}
}

/* Mounts are real below: root only, and every mount is undone. */
typedef struct {
	KlTestDir *dir;
	gchar *secure;
} MountFixture;

static void
mount_setup(MountFixture *fx, gconstpointer user_data)
{
	fx->dir = kl_test_dir_new();
	fx->secure = kl_test_dir_build(fx->dir, "secure", NULL);
}

static void
mount_teardown(MountFixture *fx, gconstpointer user_data)
{
	for (guint i = 0; i < 8; i++) {
		gboolean is_mount = FALSE;
		if (!kl_agent_secure_dir_is_mount_point(fx->secure, &is_mount, NULL, NULL) ||
		    !is_mount)
			break;
		g_assert_true(kl_agent_secure_dir_unmount(fx->secure, NULL));
	}
	g_free(fx->secure);
	kl_test_dir_free(fx->dir);
}

static gboolean
can_mount(MountFixture *fx)
{
	g_autofree gchar *probe = kl_test_dir_build(fx->dir, "probe", NULL);
	gboolean ok;

	if (geteuid() != 0) {
		g_test_skip("mounting a tmpfs needs root");
		return FALSE;
	}
	g_assert_cmpint(g_mkdir(probe, 0700), ==, 0);
	ok = mount("tmpfs", probe, "tmpfs", 0, "size=64k") == 0;
	if (!ok) {
		g_test_skip("no permission to mount here");
		return FALSE;
	}
	g_assert_cmpint(umount2(probe, MNT_DETACH), ==, 0);
	return TRUE;
}

static void
test_mount_fresh(MountFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = NULL;
	g_autofree gchar *again = NULL;
	g_autofree gchar *marker = NULL;
	KlAgentSecureDirKind kind = KL_AGENT_SECURE_DIR_PRIVATE;
	gboolean is_mount = FALSE;
	gboolean is_tmpfs = FALSE;
	struct stat st;

	if (!can_mount(fx))
		return;
	path = kl_agent_secure_dir_prepare(kl_test_dir_get_path(fx->dir),
					   1024 * 1024,
					   0,
					   0,
					   TRUE,
					   &kind,
					   &error);
	g_assert_no_error(error);
	g_assert_cmpstr(path, ==, fx->secure);
	g_assert_cmpint(kind, ==, KL_AGENT_SECURE_DIR_TMPFS);
	g_assert_true(kl_agent_secure_dir_is_mount_point(path, &is_mount, &is_tmpfs, &error));
	g_assert_true(is_mount);
	g_assert_true(is_tmpfs);
	st = stat_path(path);
	g_assert_cmpuint(st.st_mode & 07777, ==, 0700);
	g_assert_cmpuint(st.st_uid, ==, 0);

	/* the second start reuses it, files and all, without mounting again */
	marker = g_build_filename(path, "marker", NULL);
	g_assert_true(g_file_set_contents(marker, "kept", 4, NULL));
	again = kl_agent_secure_dir_setup(kl_test_dir_get_path(fx->dir), 1024 * 1024, &error);
	g_assert_no_error(error);
	g_assert_true(g_file_test(marker, G_FILE_TEST_EXISTS));
	g_assert_true(kl_agent_secure_dir_unmount(path, &error));
	g_assert_true(kl_agent_secure_dir_is_mount_point(path, &is_mount, NULL, &error));
	g_assert_false(is_mount);
	g_assert_false(g_file_test(marker, G_FILE_TEST_EXISTS));
}

static void
test_mount_for_other_user(MountFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = NULL;
	struct stat st;

	if (!can_mount(fx))
		return;
	/* root mounts it for the user the agent drops to */
	path = kl_agent_secure_dir_prepare(kl_test_dir_get_path(fx->dir),
					   1024 * 1024,
					   4321,
					   4321,
					   TRUE,
					   NULL,
					   &error);
	g_assert_no_error(error);
	st = stat_path(path);
	g_assert_cmpuint(st.st_uid, ==, 4321);
	g_assert_cmpuint(st.st_mode & 07777, ==, 0700);
	/* and the unprivileged agent accepts that tmpfs as it is */
	g_clear_pointer(&path, g_free);
	{
		KlAgentSecureDirKind kind = KL_AGENT_SECURE_DIR_PRIVATE;
		path = kl_agent_secure_dir_prepare(kl_test_dir_get_path(fx->dir),
						   1024 * 1024,
						   4321,
						   4321,
						   FALSE,
						   &kind,
						   &error);
		g_assert_no_error(error);
		g_assert_cmpint(kind, ==, KL_AGENT_SECURE_DIR_TMPFS);
	}
	/* but root's own agent (uid 0) does not */
	g_clear_pointer(&path, g_free);
	path = kl_agent_secure_dir_prepare(kl_test_dir_get_path(fx->dir),
					   1024 * 1024,
					   0,
					   0,
					   TRUE,
					   NULL,
					   &error);
	g_assert_error(error, KL_ERROR, KL_ERROR_PERMISSION_DENIED);
}

/* CVE-2022-23948: a tmpfs mounted there beforehand by someone else */
static void
test_mount_foreign_tmpfs(MountFixture *fx, gconstpointer user_data)
{
	const gchar *options[] = {"size=1m,mode=0755",
				  "size=1m,mode=0700,uid=4242",
				  "size=1m,mode=0777"};

	if (!can_mount(fx))
		return;
	g_assert_cmpint(g_mkdir(fx->secure, 0700), ==, 0);
	for (guint i = 0; i < G_N_ELEMENTS(options); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *path = NULL;

		g_assert_cmpint(mount("tmpfs", fx->secure, "tmpfs", 0, options[i]), ==, 0);
		path = kl_agent_secure_dir_prepare(kl_test_dir_get_path(fx->dir),
						   1024 * 1024,
						   0,
						   0,
						   TRUE,
						   NULL,
						   &error);
		g_assert_error(error, KL_ERROR, KL_ERROR_PERMISSION_DENIED);
		g_assert_null(path);
		g_clear_error(&error);
		/* not mounted over either: still exactly one mount there */
		g_assert_true(kl_agent_secure_dir_unmount(fx->secure, &error));
		{
			gboolean is_mount = TRUE;
			g_assert_true(kl_agent_secure_dir_is_mount_point(fx->secure,
									 &is_mount,
									 NULL,
									 &error));
			g_assert_false(is_mount);
		}
	}
}

static void
test_mount_wrong_fs(MountFixture *fx, gconstpointer user_data)
{
	g_autofree gchar *source = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = NULL;
	gboolean is_mount = FALSE;
	gboolean is_tmpfs = FALSE;

	if (!can_mount(fx))
		return;
	source = kl_test_dir_build(fx->dir, "source", NULL);
	g_assert_cmpint(g_mkdir(source, 0700), ==, 0);
	g_assert_cmpint(g_mkdir(fx->secure, 0700), ==, 0);
	g_assert_cmpint(mount(source, fx->secure, "none", MS_BIND, NULL), ==, 0);
	g_assert_true(kl_agent_secure_dir_is_mount_point(fx->secure, &is_mount, &is_tmpfs, &error));
	g_assert_true(is_mount);
	if (is_tmpfs) {
		g_test_skip("the test directory is itself on a tmpfs");
		return;
	}
	path = kl_agent_secure_dir_prepare(kl_test_dir_get_path(fx->dir),
					   1024 * 1024,
					   0,
					   0,
					   TRUE,
					   NULL,
					   &error);
	g_assert_error(error, KL_ERROR, KL_ERROR_PERMISSION_DENIED);
	g_assert_nonnull(strstr(error->message, "not tmpfs"));
	g_clear_error(&error);
	path = kl_agent_secure_dir_prepare(kl_test_dir_get_path(fx->dir),
					   1024 * 1024,
					   0,
					   0,
					   FALSE,
					   NULL,
					   &error);
	g_assert_error(error, KL_ERROR, KL_ERROR_PERMISSION_DENIED);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/agent-secure-dir/private/created", test_private_created);
	g_test_add_func("/agent-secure-dir/private/mode-fixed", test_private_mode_fixed);
	g_test_add_func("/agent-secure-dir/private/other-owner", test_private_other_owner);
	g_test_add_func("/agent-secure-dir/private/symlink", test_private_symlink);
	g_test_add("/agent-secure-dir/tmpfs/fresh",
		   MountFixture,
		   NULL,
		   mount_setup,
		   test_mount_fresh,
		   mount_teardown);
	g_test_add("/agent-secure-dir/tmpfs/other-user",
		   MountFixture,
		   NULL,
		   mount_setup,
		   test_mount_for_other_user,
		   mount_teardown);
	g_test_add("/agent-secure-dir/tmpfs/foreign",
		   MountFixture,
		   NULL,
		   mount_setup,
		   test_mount_foreign_tmpfs,
		   mount_teardown);
	g_test_add("/agent-secure-dir/tmpfs/wrong-fs",
		   MountFixture,
		   NULL,
		   mount_setup,
		   test_mount_wrong_fs,
		   mount_teardown);
	return g_test_run();
}
