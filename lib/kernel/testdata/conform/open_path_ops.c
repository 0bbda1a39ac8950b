/* What an O_PATH descriptor is good for besides what open_path.c checks: fd flags, fstat
 * of files and directories, fchdir, the *at calls with AT_EMPTY_PATH, fchownat,
 * linkat(AT_EMPTY_PATH) and readlinkat of a symlink opened O_PATH|O_NOFOLLOW. */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkfile("f", "content\n", 0644);
	mkdir("d", 0755);
	symlink("f", "l");
	int fd = open("f", O_PATH);
	res("open O_PATH", fd);
	resv("F_GETFD", fcntl(fd, F_GETFD));
	res("F_SETFD", fcntl(fd, F_SETFD, FD_CLOEXEC));
	resv("F_GETFD after", fcntl(fd, F_GETFD));
	resv("F_GETFL & O_ACCMODE", fcntl(fd, F_GETFL) & (O_ACCMODE | O_PATH) ? 1 : 0);
	pfstat("fstat", fd);
	struct stat st;
	int r = fstatat(fd, "", &st, AT_EMPTY_PATH);
	pst("fstatat AT_EMPTY_PATH", r, &st);
	res("fchownat AT_EMPTY_PATH", fchownat(fd, "", 0, 0, AT_EMPTY_PATH));
	res("fchmod", fchmod(fd, 0600));
	res("fchdir to file", fchdir(fd));
	res("linkat AT_EMPTY_PATH", linkat(fd, "", AT_FDCWD, "f2", AT_EMPTY_PATH));
	plstat("f2", "f2");
	res("faccessat2 AT_EMPTY_PATH", syscall(SYS_faccessat2, fd, "", R_OK, AT_EMPTY_PATH));
	int d2 = dup3(fd, 20, O_CLOEXEC);
	resv("dup3", d2);
	resv("dup3 F_GETFD", fcntl(20, F_GETFD));
	close(fd);

	int dfd = open("d", O_PATH | O_DIRECTORY);
	res("open dir O_PATH", dfd);
	pfstat("fstat dir", dfd);
	resfd("openat dirfd", openat(dfd, "new", O_CREAT | O_WRONLY, 0644), 0);
	res("mkdirat dirfd", mkdirat(dfd, "sub", 0755));
	res("fstatat dirfd name", fstatat(dfd, "new", &st, 0));
	res("unlinkat dirfd", unlinkat(dfd, "new", 0));
	res("fchdir", fchdir(dfd));
	pstat("stat sub after fchdir", "sub");
	res("fchdir back", chdir(".."));
	close(dfd);

	int lfd = open("l", O_PATH | O_NOFOLLOW);
	res("open symlink O_PATH|O_NOFOLLOW", lfd);
	pfstat("fstat symlink", lfd);
	char b[64];
	ssize_t n = readlinkat(lfd, "", b, sizeof b);
	if (n >= 0)
		say("readlinkat empty: %.*s\n", (int)n, b);
	else
		say("readlinkat empty: %s\n", errname(errno));
	res("fchownat symlink AT_EMPTY_PATH", fchownat(lfd, "", 0, 0, AT_EMPTY_PATH));
	close(lfd);
	return 0;
}
