/* Read-only opens of regular files and directories, which the kernel lets a root caller make
 * natively (opencont.go), and beside each the cases it leaves to itself: other owners' closed
 * files and directories (the host's capabilities of the guest cover root's files only),
 * O_NOATIME, links, "..", a file of another group that only root's capabilities may read.
 * Then the same as an ordinary user, whose opens the kernel checks.
 * conform: needs host root (it gives files to uid 1000 and becomes it) */
#include "conform.h"

/* rd opens path with flags and prints the result, the flags the fd shows (access mode,
 * O_NONBLOCK, O_APPEND, O_DIRECT, close-on-exec) and what a read gives. */
static void rd(const char *label, int dfd, const char *path, int flags)
{
	int fd = openat(dfd, path, flags);
	if (fd < 0) {
		say("%s: %s\n", label, errname(errno));
		return;
	}
	int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
	char buf[64];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	say("%s: ok acc=%d nonblock=%d append=%d direct=%d noatime=%d cloexec=%d read=", label,
	    fl & O_ACCMODE, !!(fl & O_NONBLOCK), !!(fl & O_APPEND), !!(fl & O_DIRECT),
	    !!(fl & O_NOATIME), !!(fdfl & FD_CLOEXEC));
	if (n < 0) {
		say("%s\n", errname(errno));
	} else {
		buf[n] = 0;
		for (char *p = buf; *p; p++)
			if (*p == '\n')
				*p = '_';
		say("\"%s\"\n", buf);
	}
	close(fd);
}

/* fdname says whether /proc/self/fd/N of an open of path names the file by its absolute
 * path (the working directory's, then path). */
static void fdname(const char *label, const char *path)
{
	char cwd[PATH_MAX], want[PATH_MAX + 64], got[PATH_MAX + 64], link[64];
	int fd = open(path, O_RDONLY);
	if (fd < 0 || !getcwd(cwd, sizeof cwd)) {
		say("%s: %s\n", label, errname(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	snprintf(want, sizeof want, "%s/%s", cwd, path);
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, got, sizeof got - 1);
	got[n < 0 ? 0 : n] = 0;
	say("%s: names it: %s\n", label, strcmp(got, want) ? "no" : "yes");
	struct stat a, b;
	fstat(fd, &a);
	stat(path, &b);
	say("%s: fstat is the file: %s\n", label, a.st_dev == b.st_dev && a.st_ino == b.st_ino ? "yes" : "no");
	close(fd);
}

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	chmod(".", 0755);
	mkfile("f", "plain\n", 0644);
	mkfile("none", "root's, mode 0\n", 0);
	mkfile("grp", "root's, another group\n", 0040);
	chown("grp", 0, 1000);
	mkdir("d", 0755);
	mkfile("d/g", "in d\n", 0600);
	mkdir("shut", 0);
	mkfile("shut/h", "in a mode-0 dir\n", 0644);
	mkdir("home", 0700);
	mkfile("home/secret", "user's\n", 0600);
	mkfile("home/roots", "root's in user's dir\n", 0600);
	chown("home/secret", 1000, 1000);
	chown("home", 1000, 1000);
	mkfile("mine", "user's, readable\n", 0644);
	chown("mine", 1000, 1000);
	symlink("f", "lf");
	symlink("d", "ld");
	int dfd = open("d", O_RDONLY | O_DIRECTORY);

	say("-- root\n");
	rd("f", AT_FDCWD, "f", O_RDONLY);
	rd("f nonblock append", AT_FDCWD, "f", O_RDONLY | O_NONBLOCK | O_APPEND);
	rd("f cloexec", AT_FDCWD, "f", O_RDONLY | O_CLOEXEC);
	rd("f noatime", AT_FDCWD, "f", O_RDONLY | O_NOATIME);
	rd("f direct", AT_FDCWD, "f", O_RDONLY | O_DIRECT);
	rd("./f", AT_FDCWD, "./f", O_RDONLY);
	rd("f/", AT_FDCWD, "f/", O_RDONLY);
	rd("f O_DIRECTORY", AT_FDCWD, "f", O_RDONLY | O_DIRECTORY);
	rd("missing", AT_FDCWD, "missing", O_RDONLY);
	rd("missing/x", AT_FDCWD, "missing/x", O_RDONLY);
	rd("f/x", AT_FDCWD, "f/x", O_RDONLY);
	rd("lf", AT_FDCWD, "lf", O_RDONLY);
	rd("lf O_NOFOLLOW", AT_FDCWD, "lf", O_RDONLY | O_NOFOLLOW);
	rd("lf O_NOFOLLOW|O_DIRECTORY", AT_FDCWD, "lf", O_RDONLY | O_NOFOLLOW | O_DIRECTORY);
	rd("ld/g", AT_FDCWD, "ld/g", O_RDONLY);
	rd("d/../f", AT_FDCWD, "d/../f", O_RDONLY);
	rd("dirfd d, g", dfd, "g", O_RDONLY);
	rd("dirfd d, ../f", dfd, "../f", O_RDONLY);
	rd("none (mode 0)", AT_FDCWD, "none", O_RDONLY);
	rd("grp (mode 0040, group 1000)", AT_FDCWD, "grp", O_RDONLY);
	rd("shut/h (dir mode 0)", AT_FDCWD, "shut/h", O_RDONLY);
	rd("home/secret (1000's 0600 in 1000's 0700)", AT_FDCWD, "home/secret", O_RDONLY);
	rd("home/roots (root's in 1000's 0700)", AT_FDCWD, "home/roots", O_RDONLY);
	rd("home/secret noatime", AT_FDCWD, "home/secret", O_RDONLY | O_NOATIME);
	rd("mine noatime", AT_FDCWD, "mine", O_RDONLY | O_NOATIME);
	rd("d (dir)", AT_FDCWD, "d", O_RDONLY);
	rd("d O_DIRECTORY", AT_FDCWD, "d", O_RDONLY | O_DIRECTORY);
	rd("home (1000's 0700 dir)", AT_FDCWD, "home", O_RDONLY | O_DIRECTORY);
	rd("shut (dir mode 0)", AT_FDCWD, "shut", O_RDONLY | O_DIRECTORY);
	rd("ld O_NOFOLLOW", AT_FDCWD, "ld", O_RDONLY | O_NOFOLLOW);
	pcount("list d", "d");
	pcount("list home", "home");
	fdname("fd of f", "f");
	fdname("fd of d/g", "d/g");
	fdname("fd of home/secret", "home/secret");
	{
		int fd = open("f", O_RDONLY);
		pfstat("fstat f", fd);
		close(fd);
		fd = open("home/secret", O_RDONLY);
		pfstat("fstat home/secret", fd);
		close(fd);
	}
	/* the working directory is the base of a relative open */
	if (chdir("d") == 0) {
		rd("in d: g", AT_FDCWD, "g", O_RDONLY);
		rd("in d: ../f", AT_FDCWD, "../f", O_RDONLY);
		chdir("..");
	}
	/* a file replaced under its name between opens: each open finds the name's file */
	mkfile("r.new", "second\n", 0644);
	rd("r before", AT_FDCWD, "f", O_RDONLY);
	rename("r.new", "f");
	rd("r after rename", AT_FDCWD, "f", O_RDONLY);
	mkfifo("fifo", 0644);
	rd("fifo nonblock", AT_FDCWD, "fifo", O_RDONLY | O_NONBLOCK);

	fflush(stdout);
	if (setgroups(0, NULL) < 0 || setgid(1000) < 0 || setuid(1000) < 0) {
		say("becoming 1000: %s\n", errname(errno));
		return 1;
	}
	say("-- uid 1000\n");
	rd("f", AT_FDCWD, "f", O_RDONLY);
	rd("none (mode 0)", AT_FDCWD, "none", O_RDONLY);
	rd("grp (mode 0040, group 1000)", AT_FDCWD, "grp", O_RDONLY);
	rd("d/g (root's 0600)", AT_FDCWD, "d/g", O_RDONLY);
	rd("shut/h (dir mode 0)", AT_FDCWD, "shut/h", O_RDONLY);
	rd("home/secret", AT_FDCWD, "home/secret", O_RDONLY);
	rd("home/roots", AT_FDCWD, "home/roots", O_RDONLY);
	rd("mine noatime", AT_FDCWD, "mine", O_RDONLY | O_NOATIME);
	rd("f noatime (root's)", AT_FDCWD, "f", O_RDONLY | O_NOATIME);
	rd("shut (dir mode 0)", AT_FDCWD, "shut", O_RDONLY | O_DIRECTORY);
	rd("home", AT_FDCWD, "home", O_RDONLY | O_DIRECTORY);
	rd("dirfd d, g", dfd, "g", O_RDONLY);
	return 0;
}
