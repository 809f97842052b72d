/*
 * The secure directory: checked through one O_NOFOLLOW descriptor, so that
 * what is checked is what is mounted on or used.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "kl-agent-secure-dir.h"
#include "kl-error.h"

static void
kl_agent_close_fd(int *fd)
{
	if (*fd >= 0)
		g_close(*fd, NULL);
	*fd = -1;
}

static gboolean
kl_agent_secure_fd_is_mount(int fd, gboolean *is_mount, gboolean *is_tmpfs, GError **error)
{
	struct statx stx = {0};
	struct statfs sfs = {0};

	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) != 0 ||
	    fstatfs(fd, &sfs) != 0) {
		int saved = errno;
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INTERNAL,
			    "cannot stat the secure directory: %s",
			    g_strerror(saved));
		return FALSE;
	}
	if (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) {
		*is_mount = (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
	} else {
		/* before Linux 5.8: a different device than the parent */
		struct stat parent;
		if (fstatat(fd, "..", &parent, 0) != 0) {
			int saved = errno;
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INTERNAL,
				    "cannot stat the secure directory's parent: %s",
				    g_strerror(saved));
			return FALSE;
		}
		*is_mount = parent.st_dev != makedev(stx.stx_dev_major, stx.stx_dev_minor);
	}
	*is_tmpfs = (gulong)sfs.f_type == (gulong)TMPFS_MAGIC;
	return TRUE;
}

gboolean
kl_agent_secure_dir_is_mount_point(const gchar *path,
				   gboolean *is_mount,
				   gboolean *is_tmpfs,
				   GError **error)
{
	int fd;
	gboolean mount = FALSE;
	gboolean tmpfs = FALSE;
	gboolean ok;

	g_return_val_if_fail(path != NULL, FALSE);

	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int saved = errno;
		g_set_error(error,
			    KL_ERROR,
			    saved == ENOENT ? KL_ERROR_NOT_FOUND : KL_ERROR_INTERNAL,
			    "cannot open %s: %s",
			    path,
			    g_strerror(saved));
		return FALSE;
	}
	ok = kl_agent_secure_fd_is_mount(fd, &mount, &tmpfs, error);
	g_close(fd, NULL);
	if (is_mount != NULL)
		*is_mount = mount;
	if (is_tmpfs != NULL)
		*is_tmpfs = tmpfs;
	return ok;
}

/* The tmpfs found or made there must be ours alone. */
static gboolean
kl_agent_secure_check_tmpfs(int fd, const gchar *path, uid_t owner_uid, GError **error)
{
	struct stat st;

	if (fstat(fd, &st) != 0) {
		int saved = errno;
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INTERNAL,
			    "cannot stat %s: %s",
			    path,
			    g_strerror(saved));
		return FALSE;
	}
	if (st.st_uid != owner_uid || (st.st_mode & 07777) != 0700) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_PERMISSION_DENIED,
			    "%s is a tmpfs owned by uid %u with mode 0%o, not uid %u with 0700: "
			    "refusing a secure directory someone else may have mounted",
			    path,
			    (guint)st.st_uid,
			    (guint)(st.st_mode & 07777),
			    (guint)owner_uid);
		return FALSE;
	}
	return TRUE;
}

static gboolean
kl_agent_secure_mount(int fd,
		      const gchar *path,
		      guint64 secure_size,
		      uid_t owner_uid,
		      gid_t owner_gid,
		      GError **error)
{
	g_autofree gchar *target = g_strdup_printf("/proc/self/fd/%d", fd);
	g_autofree gchar *options =
		g_strdup_printf("size=%" G_GUINT64_FORMAT ",mode=0700,uid=%u,gid=%u",
				secure_size,
				(guint)owner_uid,
				(guint)owner_gid);

	/* through the descriptor: the directory we checked, even if the path
	 * was swapped for a link since; not noexec, autorun.sh runs from it */
	if (mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, options) != 0) {
		int saved = errno;
		g_set_error(error,
			    KL_ERROR,
			    saved == EPERM ? KL_ERROR_PERMISSION_DENIED : KL_ERROR_INTERNAL,
			    "cannot mount a tmpfs on %s: %s",
			    path,
			    g_strerror(saved));
		return FALSE;
	}
	g_info("mounted a tmpfs of %" G_GUINT64_FORMAT " bytes on %s", secure_size, path);
	return TRUE;
}

static int
kl_agent_secure_open(int parent, const gchar *path, GError **error)
{
	int fd = openat(parent,
			KL_AGENT_SECURE_DIR_NAME,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int saved = errno;
		g_set_error(error,
			    KL_ERROR,
			    saved == ELOOP || saved == ENOTDIR ? KL_ERROR_PERMISSION_DENIED
							       : KL_ERROR_INTERNAL,
			    "cannot open %s: %s",
			    path,
			    saved == ELOOP || saved == ENOTDIR
				    ? "not a directory or a symbolic link"
				    : g_strerror(saved));
	}
	return fd;
}

gchar *
kl_agent_secure_dir_prepare(const gchar *keylime_dir,
			    guint64 secure_size,
			    uid_t owner_uid,
			    gid_t owner_gid,
			    gboolean mount_tmpfs,
			    KlAgentSecureDirKind *kind,
			    GError **error)
{
	g_autofree gchar *path = NULL;
	int parent = -1;
	int fd = -1;
	gboolean created = FALSE;
	gboolean is_mount = FALSE;
	gboolean is_tmpfs = FALSE;
	struct stat st;

	g_return_val_if_fail(keylime_dir != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (secure_size == 0)
		secure_size = KL_AGENT_SECURE_DEFAULT_SIZE;
	path = g_build_filename(keylime_dir, KL_AGENT_SECURE_DIR_NAME, NULL);

	parent = open(keylime_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (parent < 0) {
		int saved = errno;
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_NOT_FOUND,
			    "cannot open keylime_dir %s: %s",
			    keylime_dir,
			    g_strerror(saved));
		return NULL;
	}
	if (mkdirat(parent, KL_AGENT_SECURE_DIR_NAME, 0700) == 0) {
		created = TRUE;
	} else if (errno != EEXIST) {
		int saved = errno;
		kl_agent_close_fd(&parent);
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INTERNAL,
			    "cannot create %s: %s",
			    path,
			    g_strerror(saved));
		return NULL;
	}
	fd = kl_agent_secure_open(parent, path, error);
	if (fd < 0) {
		kl_agent_close_fd(&parent);
		return NULL;
	}
	if (!kl_agent_secure_fd_is_mount(fd, &is_mount, &is_tmpfs, error) || fstat(fd, &st) != 0) {
		if (error != NULL && *error == NULL)
			g_set_error(error, KL_ERROR, KL_ERROR_INTERNAL, "cannot stat %s", path);
		kl_agent_close_fd(&fd);
		kl_agent_close_fd(&parent);
		return NULL;
	}

	if (is_mount) {
		if (!is_tmpfs) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_PERMISSION_DENIED,
				    "%s is already mounted on a file system that is not tmpfs; "
				    "unmount it to continue",
				    path);
			kl_agent_close_fd(&fd);
			kl_agent_close_fd(&parent);
			return NULL;
		}
		if (!kl_agent_secure_check_tmpfs(fd, path, owner_uid, error)) {
			kl_agent_close_fd(&fd);
			kl_agent_close_fd(&parent);
			return NULL;
		}
		g_debug("reusing the tmpfs at %s", path);
		if (kind != NULL)
			*kind = KL_AGENT_SECURE_DIR_TMPFS;
		kl_agent_close_fd(&fd);
		kl_agent_close_fd(&parent);
		return g_steal_pointer(&path);
	}

	/* the directory itself: ours, or freshly made by us as root */
	if (st.st_uid != owner_uid && st.st_uid != geteuid()) {
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_PERMISSION_DENIED,
			    "%s is owned by uid %u, not by uid %u",
			    path,
			    (guint)st.st_uid,
			    (guint)owner_uid);
		kl_agent_close_fd(&fd);
		kl_agent_close_fd(&parent);
		return NULL;
	}

	if (mount_tmpfs) {
		gboolean ok =
			kl_agent_secure_mount(fd, path, secure_size, owner_uid, owner_gid, error);
		kl_agent_close_fd(&fd);
		if (!ok) {
			kl_agent_close_fd(&parent);
			return NULL;
		}
		/* what is there now must be the tmpfs we made */
		fd = kl_agent_secure_open(parent, path, error);
		kl_agent_close_fd(&parent);
		if (fd < 0)
			return NULL;
		if (!kl_agent_secure_fd_is_mount(fd, &is_mount, &is_tmpfs, error) ||
		    !kl_agent_secure_check_tmpfs(fd, path, owner_uid, error)) {
			kl_agent_close_fd(&fd);
			return NULL;
		}
		kl_agent_close_fd(&fd);
		if (!is_mount || !is_tmpfs) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_INTERNAL,
				    "%s is not a tmpfs after mounting one",
				    path);
			return NULL;
		}
		if (kind != NULL)
			*kind = KL_AGENT_SECURE_DIR_TMPFS;
		return g_steal_pointer(&path);
	}

	kl_agent_close_fd(&parent);
	if (st.st_uid != owner_uid) {
		/* root made it for the user the agent will run as */
		if (!created || fchown(fd, owner_uid, owner_gid) != 0) {
			g_set_error(error,
				    KL_ERROR,
				    KL_ERROR_PERMISSION_DENIED,
				    "%s is owned by uid %u, not by uid %u",
				    path,
				    (guint)st.st_uid,
				    (guint)owner_uid);
			kl_agent_close_fd(&fd);
			return NULL;
		}
	}
	if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) != 0) {
		int saved = errno;
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_PERMISSION_DENIED,
			    "cannot make %s private: %s",
			    path,
			    g_strerror(saved));
		kl_agent_close_fd(&fd);
		return NULL;
	}
	kl_agent_close_fd(&fd);
	g_info("%s is a private directory, not a tmpfs: secrets may reach the disk", path);
	if (kind != NULL)
		*kind = KL_AGENT_SECURE_DIR_PRIVATE;
	return g_steal_pointer(&path);
}

gchar *
kl_agent_secure_dir_setup(const gchar *keylime_dir, guint64 secure_size, GError **error)
{
	uid_t euid = geteuid();
	return kl_agent_secure_dir_prepare(keylime_dir,
					   secure_size,
					   euid,
					   getegid(),
					   euid == 0,
					   NULL,
					   error);
}

gboolean
kl_agent_secure_dir_unmount(const gchar *path, GError **error)
{
	g_return_val_if_fail(path != NULL, FALSE);

	if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) != 0) {
		int saved = errno;
		g_set_error(error,
			    KL_ERROR,
			    KL_ERROR_INTERNAL,
			    "cannot unmount %s: %s",
			    path,
			    g_strerror(saved));
		return FALSE;
	}
	return TRUE;
}
