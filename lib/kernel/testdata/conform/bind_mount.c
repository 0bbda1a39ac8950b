/* mount --bind of a directory: both names show the same files, a read-only remount of the
 * bind leaves the source writable, umount while busy or of a non-mount point fails, and after
 * umount the mount point shows its own (empty) directory again. */
#include "conform.h"
#include <sys/mount.h>

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	char cwd[PATH_MAX], src[PATH_MAX + 8], dst[PATH_MAX + 8], p[PATH_MAX + 16];
	if (!getcwd(cwd, sizeof cwd))
		return 1;
	snprintf(src, sizeof src, "%s/src", cwd);
	snprintf(dst, sizeof dst, "%s/dst", cwd);
	mkdir(src, 0755);
	mkdir(dst, 0755);
	mkdir("src/sub", 0755);
	int fd = open("src/f", O_CREAT | O_WRONLY, 0644);
	write(fd, "hello\n", 6);
	close(fd);
	res("bind", mount(src, dst, NULL, MS_BIND, NULL));
	pstat("dst/f", "dst/f");
	fd = open("dst/g", O_CREAT | O_WRONLY, 0600);
	res("create through the bind", fd);
	close(fd);
	pstat("src/g", "src/g");
	struct stat a, b;
	stat("src/f", &a);
	stat("dst/f", &b);
	say("same inode: %s\n", yesno(a.st_ino == b.st_ino));
	res("rename across the bind", rename("dst/g", "src/h"));
	res("remount the bind read-only", mount(NULL, dst, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL));
	res("create on the read-only bind", open("dst/x", O_CREAT | O_WRONLY, 0644));
	resfd("create in the source", open("src/y", O_CREAT | O_WRONLY, 0644), 0);
	res("unlink on the read-only bind", unlink("dst/y"));
	snprintf(p, sizeof p, "%s/sub", dst);
	res("chdir into the bind", chdir(p));
	res("umount while busy", umount(dst));
	res("chdir back", chdir(cwd));
	res("umount the source (no mount)", umount(src));
	res("umount", umount(dst));
	pstat("dst/f after umount", "dst/f");
	res("umount again", umount(dst));
	res("bind a missing directory", mount("missing", dst, NULL, MS_BIND, NULL));
	return 0;
}
