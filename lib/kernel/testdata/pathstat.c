// The shim's path stats (lib/kernel/internal/shim/src/shim.S, statpath), run as a guest by
// TestShimPathStat. stat and lstat by path (newfstatat, which the shim answers for guest root
// without chroot on the root tree) must give byte for byte what the kernel gives (the old
// stat and lstat calls, which always go to the kernel), errors included: for every file
// named on the command line and for paths into /proc, /dev, /sys, a ubd image, a tmpfs and a
// bind mount,
// ".." across them, links, relative paths from directory fds and the working directory;
// then as a chrooted root and after setuid(1000) (an unsearchable directory is EACCES, in
// a thread, a child and after exec); then a thread renaming a path component while another
// stats through it.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static int compared;

// kstat is the kernel's stat of name from dirfd (the old calls, from the directory itself):
// 0 or the errno.
static int kstat(int dirfd, const char *name, int nofollow, struct stat *b) {
	int saved = -1, e = 0;
	memset(b, 0, sizeof *b);
	if (dirfd != AT_FDCWD && name[0] != '/') {
		saved = open(".", O_PATH | O_DIRECTORY);
		if (fchdir(dirfd) != 0)
			return -1;
	}
	if (syscall(nofollow ? SYS_lstat : SYS_stat, name, b) != 0)
		e = errno;
	if (saved >= 0) {
		fchdir(saved);
		close(saved);
	}
	return e;
}

// compare stats name relative to dirfd (AT_FDCWD: the working directory) both ways, the
// shim's (fstatat) and the kernel's. Where two answers of the kernel differ (a /proc file
// made anew at each call, its times "now"), the type, mode and owner must agree.
static void compare(int dirfd, const char *name, int nofollow) {
	struct stat a, b, b2;
	memset(&a, 0, sizeof a);
	int ea = 0;
	// once first: the kernel's own lookup of a /proc link reads it, which sets its atime
	// once (relatime), and the answers after that are the ones to compare
	kstat(dirfd, name, nofollow, &b);
	if (fstatat(dirfd, name, &a, nofollow ? AT_SYMLINK_NOFOLLOW : 0) != 0)
		ea = errno;
	int eb = kstat(dirfd, name, nofollow, &b);
	int eb2 = kstat(dirfd, name, nofollow, &b2);
	compared++;
	if (eb == 0 && eb2 == 0 && memcmp(&b, &b2, sizeof b) != 0) {
		CHECK(ea == 0 && a.st_mode == b.st_mode && a.st_uid == b.st_uid && a.st_gid == b.st_gid,
		      "%s%s (dirfd %d): errno %d mode %o/%o uid %u/%u gid %u/%u", nofollow ? "lstat " : "stat ", name, dirfd,
		      ea, a.st_mode, b.st_mode, a.st_uid, b.st_uid, a.st_gid, b.st_gid);
		return;
	}
	CHECK(ea == eb, "%s%s (dirfd %d): errno %d (%s), the kernel's %d (%s)", nofollow ? "lstat " : "stat ", name, dirfd,
	      ea, strerror(ea), eb, strerror(eb));
	if (ea == 0 && eb == 0 && memcmp(&a, &b, sizeof a) != 0)
		CHECK(0, "%s%s (dirfd %d): dev %#lx/%#lx ino %lu/%lu mode %o/%o uid %u/%u gid %u/%u rdev %#lx/%#lx size %ld/%ld "
			 "nlink %lu/%lu mtime %ld.%09ld/%ld.%09ld atime %ld.%09ld/%ld.%09ld ctime %ld.%09ld/%ld.%09ld blocks %ld/%ld blksize %ld/%ld",
		      nofollow ? "lstat " : "stat ", name, dirfd, (long)a.st_dev, (long)b.st_dev, (long)a.st_ino, (long)b.st_ino,
		      a.st_mode, b.st_mode, a.st_uid, b.st_uid, a.st_gid, b.st_gid, (long)a.st_rdev, (long)b.st_rdev,
		      (long)a.st_size, (long)b.st_size, (long)a.st_nlink, (long)b.st_nlink, (long)a.st_mtime, a.st_mtim.tv_nsec,
		      (long)b.st_mtime, b.st_mtim.tv_nsec, (long)a.st_atime, a.st_atim.tv_nsec, (long)b.st_atime, b.st_atim.tv_nsec,
		      (long)a.st_ctime, a.st_ctim.tv_nsec, (long)b.st_ctime, b.st_ctim.tv_nsec, (long)a.st_blocks, (long)b.st_blocks,
		      (long)a.st_blksize, (long)b.st_blksize);
}

static void both(int dirfd, const char *name) {
	compare(dirfd, name, 0);
	compare(dirfd, name, 1);
}

static const char *fixed[] = {
    "/", "/.", "/..", "/st", "/st/", "/st/plain/", "/st/nope", "/nope/x", "/st/link", "/st/ownedlink", "/st/dirlink",
    "/st/dirlink/plain", "/etc/mtab", "/proc", "/proc/", "/proc/self", "/proc/self/status", "/proc/1", "/proc/1/exe",
    "/proc/self/fd/0", "/proc/self/cwd", "/proc/..", "/dev", "/dev/null", "/dev/tty", "/dev/pts", "/dev/ptmx",
    "/dev/console", "/dev/stdin", "/dev/fd", "/dev/..", "/sys", "/sys/kernel", "/sys/..", "/mnt", "/mnt/", "/mnt/x",
    "/mnt/..", "/mnt/../st/plain", "/mnt/under", "/b", "/b/plain", "/b/owned", "/b/..", "/b/../st/owned", "/bin/sh",
    "/bin/busybox", "/st/dir", "/st/dir/..", "/u", "/u/", "/u/uf", "/u/under", "/u/..", "/u/../st/plain", "/u/lost+found",
    "/u.img", NULL,
};

static void all(const char *where, int argc, char **argv) {
	int before = fails;
	for (int i = 1; i < argc; i++)
		both(AT_FDCWD, argv[i]);
	for (int i = 0; fixed[i]; i++)
		both(AT_FDCWD, fixed[i]);
	// relative: from directory fds and the working directory
	const char *dirs[] = {"/st", "/proc", "/dev", "/mnt", "/b", "/u", "/", NULL};
	const char *names[] = {"plain", "owned", "self", "null", "x", "uf", "..", ".", "st/plain", "../st/plain", "dir/..", NULL};
	for (int d = 0; dirs[d]; d++) {
		int fd = open(dirs[d], O_RDONLY | O_DIRECTORY);
		if (fd < 0)
			continue; // as 1000, a directory it may not read
		for (int n = 0; names[n]; n++)
			both(fd, names[n]);
		if (chdir(dirs[d]) == 0) {
			for (int n = 0; names[n]; n++)
				both(AT_FDCWD, names[n]);
			chdir("/");
		}
		close(fd);
	}
	printf("%s: %d failures\n", where, fails - before);
}

static volatile int stop;

// racer renames a directory of the path back and forth: /st/ra holds "f" owned by 1000
// (attributes), /st/rb holds "f" plain; the stats of /st/r/f must be one or the other.
static void *racer(void *arg) {
	(void)arg;
	while (!stop) {
		rename("/st/ra", "/st/r");
		rename("/st/r", "/st/ra");
		rename("/st/rb", "/st/r");
		rename("/st/r", "/st/rb");
	}
	return NULL;
}

static void race(void) {
	struct stat a, b, s;
	CHECK(syscall(SYS_stat, "/st/ra/f", &a) == 0 && syscall(SYS_stat, "/st/rb/f", &b) == 0, "the race's files");
	pthread_t th;
	pthread_create(&th, NULL, racer, NULL);
	int seen = 0;
	for (int i = 0; i < 20000; i++) {
		if (stat("/st/r/f", &s) != 0)
			continue;
		seen++;
		// the file is one or the other, never another (the owner may come from either
		// in a race with itself: both are the caller's own files, which it may read)
		CHECK(s.st_ino == a.st_ino || s.st_ino == b.st_ino, "a raced stat of ino %lu", (long)s.st_ino);
		CHECK(s.st_dev == a.st_dev, "a raced stat of dev %#lx", (long)s.st_dev);
	}
	stop = 1;
	pthread_join(th, NULL);
	printf("race: %d stats answered\n", seen);
}

static void *thread_stat(void *arg) {
	struct stat s;
	int r = stat("/st/private/secret", &s);
	*(int *)arg = r == 0 ? 0 : errno;
	return NULL;
}

int main(int argc, char **argv) {
	if (argc > 1 && strcmp(argv[1], "exec-user") == 0) {
		struct stat s;
		CHECK(stat("/st/private/secret", &s) != 0 && errno == EACCES, "after exec as 1000: %s", strerror(errno));
		return fails;
	}
	if (argc > 1 && strcmp(argv[1], "loop") == 0) {
		struct stat s;
		for (int i = 0; i < 5000; i++)
			stat("/st/plain", &s), lstat("/st/owned", &s);
		printf("loop done\n");
		return 0;
	}
	all("root", argc, argv);
	race();
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		fails = 0;
		CHECK(chroot("/") == 0, "chroot: %s", strerror(errno));
		all("chrooted", argc, argv);
		fflush(stdout);
		_exit(fails);
	}
	int ws;
	CHECK(waitpid(p, &ws, 0) == p && WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "chrooted: %#x", ws);
	fflush(stdout);
	p = fork();
	if (p == 0) {
		fails = 0;
		CHECK(setgid(1000) == 0 && setuid(1000) == 0, "setuid: %s", strerror(errno));
		struct stat s;
		CHECK(stat("/st/private/secret", &s) != 0 && errno == EACCES, "as 1000: %s", strerror(errno));
		int terr = -1;
		pthread_t th;
		pthread_create(&th, NULL, thread_stat, &terr);
		pthread_join(th, NULL);
		CHECK(terr == EACCES, "a thread as 1000: %s", strerror(terr));
		pid_t c = fork();
		if (c == 0) {
			_exit(stat("/st/private/secret", &s) != 0 && errno == EACCES ? 0 : 1);
		}
		int cws;
		CHECK(waitpid(c, &cws, 0) == c && WIFEXITED(cws) && WEXITSTATUS(cws) == 0, "a child as 1000: %#x", cws);
		fflush(stdout);
		c = fork();
		if (c == 0) {
			execl(argv[0], argv[0], "exec-user", (char *)NULL);
			_exit(99);
		}
		CHECK(waitpid(c, &cws, 0) == c && WIFEXITED(cws) && WEXITSTATUS(cws) == 0, "exec as 1000: %#x", cws);
		all("as 1000", argc, argv);
		fflush(stdout);
		_exit(fails);
	}
	CHECK(waitpid(p, &ws, 0) == p && WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "as 1000: %#x", ws);
	printf("pathstat: %d compared, %d failures\n", compared, fails);
	return fails != 0;
}
