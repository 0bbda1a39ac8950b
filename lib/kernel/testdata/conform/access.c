/* access, faccessat, faccessat2: root's view of modes, AT_EACCESS, symlinks, bad modes. */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkfile("rw", "", 0644);
	mkfile("x", "", 0755);
	mkfile("none", "", 0);
	mkfile("ux", "", 0100);
	mkfile("ox", "", 0001);
	mkdir("d", 0);
	symlink("gone", "dangle");
	const char *files[] = {"rw", "x", "none", "ux", "ox", "d"};
	const char *modes[] = {"F_OK", "R_OK", "W_OK", "X_OK"};
	int m[] = {F_OK, R_OK, W_OK, X_OK};
	char label[64];
	for (int i = 0; i < 6; i++)
		for (int j = 0; j < 4; j++) {
			snprintf(label, sizeof label, "access %s %s", files[i], modes[j]);
			res(label, access(files[i], m[j]));
		}
	res("access missing", access("missing", F_OK));
	res("access bad mode", access("rw", 8));
	res("access dangling", access("dangle", F_OK));
	res("faccessat AT_EACCESS", faccessat(AT_FDCWD, "x", X_OK, AT_EACCESS));
	res("faccessat2 AT_SYMLINK_NOFOLLOW on dangling", syscall(439, AT_FDCWD, "dangle", F_OK, AT_SYMLINK_NOFOLLOW));
	res("faccessat2 AT_EACCESS", syscall(439, AT_FDCWD, "none", W_OK, AT_EACCESS));
	int fd = open("x", O_RDONLY);
	res("faccessat2 AT_EMPTY_PATH", syscall(439, fd, "", X_OK, AT_EMPTY_PATH));
	close(fd);
	res("faccessat2 bad flag", syscall(439, AT_FDCWD, "x", F_OK, 0x1));
	res("faccessat (old) ignores flags", syscall(SYS_faccessat, AT_FDCWD, "x", F_OK, 0x1));
	res("access file/", access("rw/", F_OK));
	return 0;
}
