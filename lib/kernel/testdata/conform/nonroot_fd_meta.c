/* Metadata calls on fds as an ordinary user on root's file (the regression case):
 * fchmod/fchown/futimens fail like their path twins (fsetxattr: xattr_perm_ro.c).
 * conform: needs host root (it becomes uid 1000) */
#include "conform.h"
#include <sys/xattr.h>

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	chmod(".", 0755);
	mkfile("public", "public\n", 0644);
	mkfile("shared", "", 0666);
	if (setgroups(0, NULL) < 0 || setgid(1000) < 0 || setuid(1000) < 0) {
		say("becoming 1000: %s\n", errname(errno));
		return 1;
	}
	struct timespec ts[2] = {{1, 0}, {2, 0}};
	int fd = open("public", O_RDONLY);
	res("open public", fd);
	res("fchmod", fchmod(fd, 0666));
	res("chmod (path twin)", chmod("public", 0666));
	res("fchown to self", fchown(fd, 1000, 1000));
	res("chown (path twin)", chown("public", 1000, 1000));
	res("fchown -1 -1", fchown(fd, -1, -1));
	res("futimens exact", futimens(fd, ts));
	res("utimensat exact (path twin)", utimensat(AT_FDCWD, "public", ts, 0));
	res("futimens NULL", futimens(fd, NULL));
	res("utimensat NULL (path twin)", utimensat(AT_FDCWD, "public", NULL, 0));
	res("ftruncate (fd not writable)", ftruncate(fd, 0));
	pfstat("public unchanged", fd);
	close(fd);
	fd = open("shared", O_RDWR);
	res("open shared O_RDWR", fd);
	res("futimens NULL on a writable fd", futimens(fd, NULL));
	res("futimens exact on a writable fd", futimens(fd, ts));
	res("fchmod shared", fchmod(fd, 0600));
	res("ftruncate shared", ftruncate(fd, 0));
	pfstat("shared", fd);
	close(fd);
	return 0;
}
