/* O_PATH descriptors: what they allow and refuse. */
#include "conform.h"
#include <sys/xattr.h>

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkfile("f", "content\n", 0644);
	mkdir("d", 0755);
	mkfile("d/in", "inner\n", 0644);
	char b[16];
	int fd = open("f", O_PATH);
	res("open O_PATH", fd);
	res("read", read(fd, b, sizeof b));
	res("write", write(fd, "x", 1));
	pfstat("fstat", fd);
	res("fchmod", fchmod(fd, 0600));
	res("fcntl F_GETFL O_PATH", fcntl(fd, F_GETFL) & O_PATH ? 0 : -1);
	res("dup", dup(fd));
	struct stat st;
	res("fstatat AT_EMPTY_PATH", fstatat(fd, "", &st, AT_EMPTY_PATH));
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	int rfd = open(p, O_RDONLY);
	res("reopen through /proc/self/fd", rfd);
	if (rfd >= 0) {
		ssize_t n = read(rfd, b, sizeof b);
		say("read reopened: %zd\n", n);
		close(rfd);
	}
	close(fd);
	int dfd = open("d", O_PATH | O_DIRECTORY);
	res("O_PATH dir", dfd);
	resfd("openat through O_PATH dirfd", openat(dfd, "in", O_RDONLY), 0);
	res("fchdir to O_PATH dir", fchdir(dfd));
	pcontent("relative after fchdir", "in");
	res("getdents on O_PATH dir", syscall(SYS_getdents64, dfd, p, sizeof p));
	close(dfd);
	return 0;
}
