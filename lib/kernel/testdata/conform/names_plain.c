/* Calls on names (mkdir, unlink, rename, readlink, exclusive creates) as root, where the
 * kernel opens the parent once with RESOLVE_NO_SYMLINKS (pathfast.go), and beside each the
 * cases it leaves to the ordinary way: a link in the parent, "..", a trailing slash. */
#include "conform.h"

static void rl(const char *label, int dfd, const char *p)
{
	char b[64];
	ssize_t n = readlinkat(dfd, p, b, sizeof b - 1);
	if (n < 0) {
		say("%s: %s\n", label, errname(errno));
		return;
	}
	b[n] = 0;
	say("%s: -> %s\n", label, b);
}

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	umask(022);
	mkdir("a", 0755);
	mkdir("a/b", 0755);
	symlink("a", "la");
	mkfile("f", "x", 0644);
	int dfd = open("a", O_RDONLY | O_DIRECTORY);

	res("mkdir a/b/c", mkdir("a/b/c", 0700));
	pstat("a/b/c", "a/b/c");
	res("mkdir la/b/c2 (link in parent)", mkdir("la/b/c2", 0755));
	res("mkdir a/b/c again", mkdir("a/b/c", 0755));
	res("mkdir f/x", mkdir("f/x", 0755));
	res("mkdir missing/x", mkdir("missing/x", 0755));
	res("mkdirat a, b/d", mkdirat(dfd, "b/d", 0751));
	pstat("a/b/d", "a/b/d");
	res("mkdirat a, ../e", mkdirat(dfd, "../e", 0755));
	pstat("e", "e");

	symlink("xyz", "a/lnk");
	rl("readlink la", AT_FDCWD, "la");
	rl("readlink a/lnk", AT_FDCWD, "a/lnk");
	rl("readlink la/lnk (link in parent)", AT_FDCWD, "la/lnk");
	rl("readlinkat a, lnk", dfd, "lnk");
	rl("readlinkat a, ../la", dfd, "../la");
	rl("readlink a/b", AT_FDCWD, "a/b");
	rl("readlink f", AT_FDCWD, "f");
	rl("readlink f/x", AT_FDCWD, "f/x");
	rl("readlink missing/x", AT_FDCWD, "missing/x");
	rl("readlink la/", AT_FDCWD, "la/");

	res("unlink la/lnk (link in parent)", unlink("la/lnk"));
	rl("readlink a/lnk after", AT_FDCWD, "a/lnk");
	res("unlink a/b/c (a directory)", unlink("a/b/c"));
	res("rmdir a/b/c", rmdir("a/b/c"));
	res("unlinkat a, b/d, AT_REMOVEDIR", unlinkat(dfd, "b/d", AT_REMOVEDIR));
	res("unlink f/x", unlink("f/x"));
	res("unlink missing/x", unlink("missing/x"));
	res("rmdir la/b/c2/", rmdir("la/b/c2/"));

	res("rename f a/g", rename("f", "a/g"));
	pcontent("a/g", "a/g");
	res("rename a/g la/h (link in parent)", rename("a/g", "la/h"));
	pcontent("a/h", "a/h");
	res("renameat a, h -> a, ../f", renameat(dfd, "h", dfd, "../f"));
	pcontent("f", "f");
	res("rename f/x y", rename("f/x", "y"));
	res("rename missing/x y", rename("missing/x", "y"));
	symlink("target", "lk");
	res("lchown lk 7:8", lchown("lk", 7, 8));
	res("rename lk a/lk2", rename("lk", "a/lk2"));
	plstat("a/lk2", "a/lk2");
	rl("readlink a/lk2", AT_FDCWD, "a/lk2");
	res("rename a/lk2 over a/b? (a directory)", rename("a/lk2", "a/b"));
	res("unlink a/lk2", unlink("a/lk2"));
	symlink("target", "a/lk2");
	plstat("a/lk2 made again (no owner kept)", "a/lk2");

	resfd("create a/n 0640", open("a/n", O_CREAT | O_EXCL | O_WRONLY, 0640), 0);
	pstat("a/n", "a/n");
	resfd("create a/n again", open("a/n", O_CREAT | O_EXCL | O_WRONLY, 0640), 0);
	resfd("create la/n2 (link in parent)", open("la/n2", O_CREAT | O_EXCL | O_WRONLY, 0600), 0);
	pstat("a/n2", "a/n2");
	resfd("createat a, n3", openat(dfd, "n3", O_CREAT | O_EXCL | O_RDWR, 0666), 0);
	pstat("a/n3", "a/n3");
	symlink("nowhere", "dang");
	resfd("create over a dangling link", open("dang", O_CREAT | O_EXCL | O_WRONLY, 0644), 0);
	pstat("nowhere", "nowhere");
	resfd("create missing/n", open("missing/n", O_CREAT | O_EXCL | O_WRONLY, 0644), 0);
	resfd("create f/n", open("f/n", O_CREAT | O_EXCL | O_WRONLY, 0644), 0);
	resfd("create new/ (slash)", open("new/", O_CREAT | O_EXCL | O_WRONLY, 0644), 0);
	resfd("create a/b (a directory)", open("a/b", O_CREAT | O_EXCL | O_WRONLY, 0644), 0);
	resfd("create a/s 04755", open("a/s", O_CREAT | O_EXCL | O_WRONLY, 04755), 0);
	pstat("a/s", "a/s");
	mkdir("sg", 0755);
	chown("sg", 0, 100);
	chmod("sg", 02775);
	resfd("create sg/n in a set-group-ID directory", open("sg/n", O_CREAT | O_EXCL | O_WRONLY, 0644), 0);
	pstat("sg/n", "sg/n");
	int fd = open("a/w", O_CREAT | O_EXCL | O_WRONLY | O_APPEND, 0644);
	say("create a/w O_APPEND: %s, append %s\n", fd < 0 ? errname(errno) : "ok",
	    fd >= 0 && (fcntl(fd, F_GETFL) & O_APPEND) ? "kept" : "lost");
	say("write: %s\n", fd >= 0 && write(fd, "hi", 2) == 2 ? "ok" : errname(errno));
	close(fd);
	pcontent("a/w", "a/w");
	return 0;
}
