/*
 * kl-agent-secure-dir: <keylime_dir>/secure, where the agent keeps K, the
 * decrypted payload and its unpacked files.
 *
 * As root the agent mounts a tmpfs of secure_size there (mode 0700, owned
 * by the user it will run as), so secrets never reach a disk.  An existing
 * mount is reused only when it is a tmpfs owned by that user with mode
 * 0700: any other file system, or a tmpfs someone else mounted and owns
 * (CVE-2022-23948: a local user pre-mounting the secure directory), is an
 * error.  Without root no mount is possible: the directory is then a
 * private 0700 directory owned by the agent's user, never a symbolic link
 * and never someone else's.
 */
#pragma once

#include <sys/types.h>

#include <glib.h>

G_BEGIN_DECLS

#define KL_AGENT_SECURE_DIR_NAME "secure"
/* the default secure_size, 1m, in bytes */
#define KL_AGENT_SECURE_DEFAULT_SIZE (1024 * 1024)

typedef enum {
	KL_AGENT_SECURE_DIR_PRIVATE, /* an ordinary 0700 directory */
	KL_AGENT_SECURE_DIR_TMPFS,   /* a tmpfs mounted at it */
} KlAgentSecureDirKind;

/*
 * Checks, creates or mounts <keylime_dir>/secure and returns its path.
 * @owner_uid/@owner_gid: the user the agent runs as (after dropping
 * root); @mount_tmpfs: mount a tmpfs when none is there (needs root).
 * When not mounting, an existing tmpfs mount point owned by @owner_uid
 * with mode 0700 is accepted as it is.
 */
gchar *kl_agent_secure_dir_prepare(const gchar *keylime_dir,
				   guint64 secure_size, /* bytes; 0: the default */
				   uid_t owner_uid,
				   gid_t owner_gid,
				   gboolean mount_tmpfs,
				   KlAgentSecureDirKind *kind,
				   GError **error);

/* The agent's call: mounts when running as root, owned by the effective uid. */
gchar *kl_agent_secure_dir_setup(const gchar *keylime_dir, guint64 secure_size, GError **error);

/* Whether @path is a mount point, and whether of a tmpfs. */
gboolean kl_agent_secure_dir_is_mount_point(const gchar *path,
					    gboolean *is_mount,
					    gboolean *is_tmpfs,
					    GError **error);

/* Lazily unmounts the tmpfs at @path (tests, shutdown). */
gboolean kl_agent_secure_dir_unmount(const gchar *path, GError **error);

G_END_DECLS
