/* fd calls on a read-only mount (the regression case): fchmod, fchown, futimens,
 * ftruncate (fsetxattr: xattr_perm_ro.c), fallocate fail like their path twins; an O_PATH or directory fd
 * the same. */
#include "conform.h"
#include <sys/xattr.h>

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	int fd = open(rojoin("f"), O_RDONLY);
	res("open f O_RDONLY", fd);
	res("fchmod", fchmod(fd, 0600));
	res("fchmod 04755", fchmod(fd, 04755));
	res("fchown", fchown(fd, 0, 0));
	res("fchown -1 -1", fchown(fd, -1, -1));
	res("futimens NULL", futimens(fd, NULL));
	struct timespec ts[2] = {{1, 0}, {2, 0}};
	res("futimens exact", futimens(fd, ts));
	res("ftruncate (fd not writable)", ftruncate(fd, 0));
	res("fallocate (fd not writable)", fallocate(fd, 0, 0, 10));
	char b[16] = {0};
	resv("read", read(fd, b, sizeof b));
	pfstat("fstat", fd);
	close(fd);
	int dfd = open(rojoin("d"), O_RDONLY | O_DIRECTORY);
	res("fchmod dir fd", fchmod(dfd, 0700));
	res("fchownat AT_EMPTY_PATH dir", fchownat(dfd, "", 0, 0, AT_EMPTY_PATH));
	res("mkdirat", mkdirat(dfd, "x", 0755));
	res("unlinkat g", unlinkat(dfd, "g", 0));
	res("openat g O_WRONLY", openat(dfd, "g", O_WRONLY));
	res("fchmodat g", fchmodat(dfd, "g", 0644, 0));
	res("utimensat g", utimensat(dfd, "g", ts, 0));
	res("symlinkat", symlinkat("g", dfd, "s"));
	res("mknodat", mknodat(dfd, "p", S_IFIFO | 0600, 0));
	res("linkat", linkat(dfd, "g", dfd, "g2", 0));
	close(dfd);
	int pfd = open(rojoin("f"), O_PATH);
	res("fchownat AT_EMPTY_PATH on O_PATH fd", fchownat(pfd, "", 0, 0, AT_EMPTY_PATH));
	res("utimensat AT_EMPTY_PATH on O_PATH fd", utimensat(pfd, "", ts, AT_EMPTY_PATH));
	close(pfd);
	fd = open(rojoin("f"), O_RDONLY);
	res("fdatasync", fdatasync(fd));
	res("fsync", fsync(fd));
	close(fd);
	pstat("f unchanged", rojoin("f"));
	return 0;
}
