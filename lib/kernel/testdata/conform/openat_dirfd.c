/* openat and friends with directory fds, AT_FDCWD, absolute paths and bad dirfds. */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkdir("d", 0755);
	mkdir("d/sub", 0755);
	mkfile("d/f", "in d\n", 0644);
	mkfile("top", "top\n", 0644);
	int dfd = open("d", O_RDONLY | O_DIRECTORY);
	int fd = openat(dfd, "f", O_RDONLY);
	res("openat dirfd f", fd);
	close(fd);
	resfd("openat AT_FDCWD d/f", openat(AT_FDCWD, "d/f", O_RDONLY), 0);
	resfd("openat dirfd ../top", openat(dfd, "../top", O_RDONLY), 0);
	resfd("openat dirfd sub/../f", openat(dfd, "sub/../f", O_RDONLY), 0);
	resfd("openat bad dirfd", openat(99, "f", O_RDONLY), 0);
	resfd("openat bad dirfd absolute", openat(99, "/dev/null", O_RDONLY), 0);
	int ffd = open("top", O_RDONLY);
	resfd("openat file as dirfd", openat(ffd, "x", O_RDONLY), 0);
	resfd("openat file as dirfd, absolute", openat(ffd, "/dev/null", O_RDONLY), 0);
	close(ffd);
	res("mkdirat", mkdirat(dfd, "made", 0700));
	pstat("d/made", "d/made");
	res("symlinkat", symlinkat("f", dfd, "lnk"));
	pcontent("d/lnk", "d/lnk");
	res("renameat", renameat(dfd, "lnk", AT_FDCWD, "moved"));
	char b[32] = {0};
	resv("readlinkat moved", readlinkat(AT_FDCWD, "moved", b, sizeof b - 1));
	say("target: %s\n", b);
	pcontent("moved resolves relative to its new dir", "moved");
	res("unlinkat", unlinkat(dfd, "made", AT_REMOVEDIR));
	res("fchownat", fchownat(dfd, "f", 0, 0, 0));
	res("fchmodat", fchmodat(dfd, "f", 0600, 0));
	pstat("d/f", "d/f");
	res("faccessat", faccessat(dfd, "f", R_OK, 0));
	/* the dirfd keeps naming the directory after a rename */
	rename("d", "e");
	resfd("openat after rename of dir", openat(dfd, "f", O_RDONLY), 0);
	res("mknodat", mknodat(dfd, "fifo", S_IFIFO | 0644, 0));
	plstat("e/fifo", "e/fifo");
	close(dfd);
	return 0;
}
