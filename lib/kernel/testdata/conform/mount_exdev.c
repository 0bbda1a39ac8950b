/* rename and link across mounts: EXDEV between the root's files and a tmpfs mounted below,
 * between two binds of the same directory, and between a bind and its source; within one
 * mount both work. A read-only bind of a writable directory refuses writes (EROFS) that its
 * source takes. */
#include "conform.h"
#include <sys/mount.h>

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkdir("t", 0755);
	mkdir("d", 0755);
	mkdir("b1", 0755);
	mkdir("b2", 0755);
	mkfile("f", "root file\n", 0644);
	res("mount tmpfs", mount("tmpfs", "t", "tmpfs", 0, "size=1m"));
	mkfile("t/g", "tmpfs file\n", 0644);
	res("rename root -> tmpfs", rename("f", "t/f"));
	res("rename tmpfs -> root", rename("t/g", "g"));
	res("link root -> tmpfs", link("f", "t/f"));
	res("link tmpfs -> root", link("t/g", "g"));
	/* the source is looked up before the mounts are compared; rename compares first */
	res("link of a missing file root -> tmpfs", link("missing", "t/m"));
	res("rename of a missing file root -> tmpfs", rename("missing", "t/m"));
	res("renameat2 RENAME_EXCHANGE across", syscall(SYS_renameat2, AT_FDCWD, "f", AT_FDCWD, "t/g", 2));
	res("rename within the tmpfs", rename("t/g", "t/h"));
	res("link within the tmpfs", link("t/h", "t/i"));
	int dfd = open("t", O_RDONLY | O_DIRECTORY);
	res("renameat from a dirfd in the tmpfs to the root", renameat(dfd, "h", AT_FDCWD, "h"));
	int ifd = open("t/i", O_RDONLY);
	res("linkat AT_EMPTY_PATH of a tmpfs file to the root", linkat(ifd, "", AT_FDCWD, "x", AT_EMPTY_PATH));
	close(ifd);
	close(dfd);
	mkfile("d/a", "a\n", 0644);
	res("bind d on b1", mount("d", "b1", NULL, MS_BIND, NULL));
	res("bind d on b2", mount("d", "b2", NULL, MS_BIND, NULL));
	say("same file through both binds: %s\n", yesno(sameino("b1/a", "b2/a")));
	res("rename between two binds", rename("b1/a", "b2/c"));
	res("link between two binds", link("b1/a", "b2/c"));
	res("rename between a bind and its source", rename("b1/a", "d/c"));
	res("rename within one bind", rename("b1/a", "b1/c"));
	pstat("seen in the source", "d/c");
	res("remount b2 read-only", mount(NULL, "b2", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL));
	resfd("create on the read-only bind", open("b2/n", O_CREAT | O_WRONLY, 0644), 0);
	res("unlink on the read-only bind", unlink("b2/c"));
	res("truncate on the read-only bind", truncate("b2/c", 0));
	res("chmod on the read-only bind", chmod("b2/c", 0600));
	res("utimensat on the read-only bind", utimensat(AT_FDCWD, "b2/c", NULL, 0));
	resfd("open O_RDWR on the read-only bind", open("b2/c", O_RDWR), 0);
	int fd = open("b2/c", O_RDONLY);
	res("fchmod of a read-only bind's fd", fchmod(fd, 0600));
	res("fchown of a read-only bind's fd", fchown(fd, 0, 0));
	close(fd);
	res("access W_OK on the read-only bind", access("b2/c", W_OK));
	res("unlink in the source", unlink("d/c"));
	resfd("create in b1", open("b1/n", O_CREAT | O_WRONLY, 0644), 0);
	res("umount b1", umount("b1"));
	res("umount b2", umount("b2"));
	res("umount t", umount("t"));
	return 0;
}
