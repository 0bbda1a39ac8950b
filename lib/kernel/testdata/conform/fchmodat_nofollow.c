/* fchmodat with AT_SYMLINK_NOFOLLOW: on a regular file it works (glibc's fallback through
 * O_PATH and /proc/self/fd), on a symlink Linux refuses with EOPNOTSUPP; fchmodat2 (Linux 6.6) likewise. */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkfile("f", "x", 0644);
	symlink("f", "l");
	res("fchmodat file NOFOLLOW", fchmodat(AT_FDCWD, "f", 0600, AT_SYMLINK_NOFOLLOW));
	pstat("f", "f");
	res("fchmodat link NOFOLLOW", fchmodat(AT_FDCWD, "l", 0600, AT_SYMLINK_NOFOLLOW));
	plstat("l", "l");
	pstat("f through l", "l");
	res("fchmodat link follow", fchmodat(AT_FDCWD, "l", 0640, 0));
	pstat("f", "f");
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
	res("fchmodat2 link NOFOLLOW", syscall(SYS_fchmodat2, AT_FDCWD, "l", 0600, AT_SYMLINK_NOFOLLOW));
	res("fchmodat2 file NOFOLLOW", syscall(SYS_fchmodat2, AT_FDCWD, "f", 0604, AT_SYMLINK_NOFOLLOW));
	pstat("f", "f");
	return 0;
}
