/* conform.h: the printing helpers the conformance programs share (conform_test.go).
 *
 * Every program runs twice, natively and inside the guest, each time in a fresh scratch
 * directory as its cwd, and its stdout is compared line by line. So a program prints only
 * what must be equal on both sides: results as errno names, modes, sizes, link counts, ids
 * (both sides run as root), and relations ("same inode: yes") where the values themselves
 * legitimately differ (inode numbers, times, device numbers, pids, absolute paths).
 *
 * argv[1], when given, is the directory of a read-only mount holding the files of
 * conform_test.go's roTree; programs that do not use it ignore it. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

/* every helper is static and not every program uses each */
#define H static __attribute__((unused))

H const char *errname(int e)
{
	switch (e) {
#define E(x) case x: return #x;
	E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG) E(ENOEXEC) E(EBADF)
	E(ECHILD) E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT) E(EBUSY) E(EEXIST) E(EXDEV)
	E(ENODEV) E(ENOTDIR) E(EISDIR) E(EINVAL) E(ENFILE) E(EMFILE) E(ENOTTY) E(ETXTBSY)
	E(EFBIG) E(ENOSPC) E(ESPIPE) E(EROFS) E(EMLINK) E(EPIPE) E(ERANGE) E(ENAMETOOLONG)
	E(ENOSYS) E(ENOTEMPTY) E(ELOOP) E(ENODATA) E(EOPNOTSUPP) E(EADDRINUSE)
	E(EADDRNOTAVAIL) E(ECONNREFUSED) E(ENOTSOCK) E(EDESTADDRREQ) E(EPROTOTYPE)
	E(EISCONN) E(ENOTCONN) E(EOVERFLOW) E(EDEADLK) E(ENOLCK) E(ESTALE) E(EBADFD)
#undef E
	}
	static char buf[32];
	snprintf(buf, sizeof buf, "errno%d", e);
	return buf;
}

/* Lines go out whole and in order even when a program forks or the output is a pipe. */
__attribute__((constructor)) static void conform_init(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(022);
	signal(SIGPIPE, SIG_IGN);
	/* Whatever the runner left open (the guest's shell keeps its script open) is not the
	 * program's business: start from 0, 1, 2 only. */
	syscall(SYS_close_range, 3, ~0U, 0);
}

#define say(...) printf(__VA_ARGS__)


/* res prints "label: ok" for r >= 0, "label: ERRNO" otherwise; it returns r. */
H long res(const char *label, long r)
{
	if (r < 0)
		printf("%s: %s\n", label, errname(errno));
	else
		printf("%s: ok\n", label);
	return r;
}

/* resv is res printing the value on success. */
H long resv(const char *label, long r)
{
	if (r < 0)
		printf("%s: %s\n", label, errname(errno));
	else
		printf("%s: = %ld\n", label, r);
	return r;
}

/* resfd is res for a call returning an fd, which it closes unless keep. */
H int resfd(const char *label, int fd, int keep)
{
	res(label, fd);
	if (fd >= 0 && !keep) {
		close(fd);
		return -1;
	}
	return fd;
}

H const char *ftype(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: return "reg";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "lnk";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "sock";
	case S_IFCHR: return "chr";
	case S_IFBLK: return "blk";
	}
	return "?";
}

/* pst prints a stat result without what differs between file systems or runs: no inode,
 * device or times, and no size for directories (it depends on the file system). */
H void pst(const char *label, int r, const struct stat *st)
{
	if (r < 0) {
		printf("%s: %s\n", label, errname(errno));
		return;
	}
	printf("%s: %s mode=%04o", label, ftype(st->st_mode), st->st_mode & 07777);
	if (!S_ISDIR(st->st_mode))
		printf(" size=%lld nlink=%lu", (long long)st->st_size, (unsigned long)st->st_nlink);
	printf(" uid=%u gid=%u", st->st_uid, st->st_gid);
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		printf(" rdev=%u:%u", major(st->st_rdev), minor(st->st_rdev));
	printf("\n");
}

H void pstat(const char *label, const char *path)
{
	struct stat st;
	int r = stat(path, &st);
	pst(label, r, &st);
}

H void plstat(const char *label, const char *path)
{
	struct stat st;
	int r = lstat(path, &st);
	pst(label, r, &st);
}

H void pfstat(const char *label, int fd)
{
	struct stat st;
	int r = fstat(fd, &st);
	pst(label, r, &st);
}

/* mkfile creates path with content and mode (umask does not apply: it is set after). */
H void mkfile(const char *path, const char *content, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		printf("setup %s: %s\n", path, errname(errno));
		return;
	}
	if (content && write(fd, content, strlen(content)) < 0)
		printf("setup write %s: %s\n", path, errname(errno));
	fchmod(fd, mode);
	close(fd);
}

/* pcontent prints a file's content (up to 200 bytes) with newlines escaped. */
H void pcontent(const char *label, const char *path)
{
	char buf[256];
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		printf("%s: %s\n", label, errname(errno));
		return;
	}
	ssize_t n = read(fd, buf, 200);
	close(fd);
	if (n < 0) {
		printf("%s: read %s\n", label, errname(errno));
		return;
	}
	printf("%s: \"", label);
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == '\n')
			printf("\\n");
		else if (buf[i] < 32 || buf[i] > 126)
			printf("\\x%02x", (unsigned char)buf[i]);
		else
			putchar(buf[i]);
	}
	printf("\"\n");
}

/* pcount prints how many entries (besides . and ..) a directory lists. */
H void pcount(const char *label, const char *path)
{
	DIR *d = opendir(path);
	if (!d) {
		printf("%s: %s\n", label, errname(errno));
		return;
	}
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	printf("%s: %d\n", label, n);
}

H const char *yesno(int b) { return b ? "yes" : "no"; }

/* sameino reports whether two paths name the same file (stat, following links). */
H int sameino(const char *a, const char *b)
{
	struct stat x, y;
	if (stat(a, &x) < 0 || stat(b, &y) < 0)
		return 0;
	return x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/* ro is the read-only mount's directory (argv[1]). */
H const char *ro = "/ro";
H void conform_args(int argc, char **argv)
{
	if (argc > 1)
		ro = argv[1];
}

/* rojoin returns ro + "/" + name in a static buffer (one of four, for calls with two). */
H const char *rojoin(const char *name)
{
	static char buf[4][PATH_MAX];
	static int i;
	i = (i + 1) % 4;
	snprintf(buf[i], PATH_MAX, "%s/%s", ro, name);
	return buf[i];
}
