/* O_CREAT without O_EXCL (a shell's ">", cp, tar) as root, which the kernel makes in the
 * parent directory it opened once (pathfast.go: createOpenPlain), and the cases it leaves
 * to the ordinary way: links, directories, FIFOs, a set-group-ID directory's group, then
 * the same as an ordinary user.
 * conform: needs host root (it gives a directory to uid 1000 and becomes it) */
#include "conform.h"

/* cr opens path with O_CREAT|flags and mode, prints the result, the fd's flags, its stat,
 * and what it reads (when readable) */
static void cr(const char *label, const char *path, int flags, mode_t mode)
{
	int fd = open(path, O_CREAT | flags, mode);
	if (fd < 0) {
		say("%s: %s\n", label, errname(errno));
		return;
	}
	int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
	say("%s: ok acc=%d nonblock=%d append=%d cloexec=%d\n", label, fl & O_ACCMODE,
	    !!(fl & O_NONBLOCK), !!(fl & O_APPEND), !!(fdfl & FD_CLOEXEC));
	pfstat(label, fd);
	close(fd);
}

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	chmod(".", 0755);
	mkfile("old", "old content\n", 0640);
	mkdir("d", 0755);
	symlink("target", "dangling");
	symlink("old", "lold");
	symlink("d", "ld");
	mkfifo("fifo", 0644);
	mkdir("sgid", 02775);
	chown("sgid", 0, 1000);
	chmod("sgid", 02777);
	mkdir("user", 0755);
	chown("user", 1000, 1000);

	say("-- root\n");
	cr("new 0644", "new", O_WRONLY, 0644);
	cr("new2 0777", "new2", O_RDWR, 0777);
	umask(027);
	cr("new3 0777 umask 027", "new3", O_WRONLY, 0777);
	umask(022);
	cr("new4 04755", "new4", O_WRONLY, 04755);
	cr("new5 01777 cloexec nonblock", "new5", O_WRONLY | O_CLOEXEC | O_NONBLOCK, 01777);
	cr("old O_WRONLY (kept)", "old", O_WRONLY, 0600);
	pcontent("old content", "old");
	cr("old O_APPEND", "old", O_WRONLY | O_APPEND, 0600);
	cr("old O_RDONLY", "old", O_RDONLY, 0600);
	cr("old O_TRUNC", "old", O_WRONLY | O_TRUNC, 0600);
	pcontent("old after O_TRUNC", "old");
	cr("dangling link", "dangling", O_WRONLY, 0600);
	plstat("dangling itself", "dangling");
	pstat("its target", "target");
	cr("link to old", "lold", O_WRONLY, 0600);
	cr("link to old O_NOFOLLOW", "lold", O_WRONLY | O_NOFOLLOW, 0600);
	cr("ld/x (link in parent)", "ld/x", O_WRONLY, 0600);
	cr("d O_WRONLY", "d", O_WRONLY, 0600);
	cr("d O_RDONLY", "d", O_RDONLY, 0600);
	cr("d/ (slash)", "d/", O_RDONLY, 0600);
	cr("x/ (slash, new)", "x/", O_WRONLY, 0600);
	cr("old/x", "old/x", O_WRONLY, 0600);
	cr("missing/x", "missing/x", O_WRONLY, 0600);
	cr("d/../dd", "d/../dd", O_WRONLY, 0600);
	cr("fifo O_RDWR", "fifo", O_RDWR, 0600);
	cr("fifo O_RDONLY|O_NONBLOCK", "fifo", O_RDONLY | O_NONBLOCK, 0600);
	cr("fifo O_WRONLY|O_NONBLOCK (no reader)", "fifo", O_WRONLY | O_NONBLOCK, 0600);
	cr("sgid/f", "sgid/f", O_WRONLY, 0644);
	cr("user/rootfile", "user/rootfile", O_WRONLY, 0644);
	cr("/dev/null", "/dev/null", O_WRONLY, 0644);

	fflush(stdout);
	if (setgroups(0, NULL) < 0 || setgid(1000) < 0 || setuid(1000) < 0) {
		say("becoming 1000: %s\n", errname(errno));
		return 1;
	}
	say("-- uid 1000\n");
	cr("user/mine", "user/mine", O_WRONLY, 0644);
	cr("user/mine again", "user/mine", O_WRONLY | O_TRUNC, 0600);
	cr("user/rootfile", "user/rootfile", O_WRONLY, 0644);
	cr("in root's dir", "nope", O_WRONLY, 0644);
	cr("old (root's 0640)", "old", O_RDONLY, 0644);
	cr("sgid/g", "sgid/g", O_WRONLY, 0644);
	return 0;
}
