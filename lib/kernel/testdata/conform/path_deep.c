/* Below a working directory whose path is longer than PATH_MAX: the limit is on the string a
 * call passes, so short relative paths work there — names made, renamed and removed, ".."
 * up to the scratch directory and back, symlinks (relative, climbing, absolute, into /proc),
 * a dirfd of the deep directory used from elsewhere — while getcwd(2) itself and the
 * readlink of /proc/self/cwd give ENAMETOOLONG, and glibc's getcwd still finds the path. */
#include "conform.h"

#define DEPTH 45

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "child")) {
		char buf[64];
		say("child runs; its exe link: %s\n", readlink("/proc/self/exe", buf, sizeof buf) < 0 ? errname(errno) : "named");
		return 7;
	}
	conform_args(argc, argv);
	char comp[101], b[16384], up[4 * DEPTH + 8];
	memset(comp, 'd', 100);
	comp[100] = 0;
	mkfile("top", "top\n", 0644);
	int ok = 1;
	for (int i = 0; i < DEPTH && ok; i++)
		ok = mkdir(comp, 0755) == 0 && chdir(comp) == 0;
	say("levels made: %s\n", yesno(ok));
	long r = syscall(SYS_getcwd, b, sizeof b);
	say("getcwd(2): %s\n", r >= 0 ? "ok" : errname(errno));
	char *cwd = getcwd(b, sizeof b);
	say("glibc getcwd: %s\n", cwd ? "ok" : errname(errno));
	if (cwd) {
		char *t = strrchr(b, '/');
		say("its last component is ours: %s; its length is over PATH_MAX: %s\n",
		    yesno(t && !strcmp(t + 1, comp)), yesno(strlen(b) > PATH_MAX));
	}
	resv("readlink /proc/self/cwd", readlink("/proc/self/cwd", b, sizeof b));
	pstat("stat /proc/self/cwd", "/proc/self/cwd");

	mkfile("f", "deep\n", 0644);
	pcontent("f", "f");
	res("mkdir sub", mkdir("sub", 0755));
	res("rename f to sub/g", rename("f", "sub/g"));
	pcontent("sub/g", "sub/g");
	res("link sub/g h", link("sub/g", "h"));
	pstat("h", "h");
	res("symlink rel", symlink("sub/g", "rel"));
	pcontent("through rel", "rel");
	res("symlink abs", symlink("/proc/self/status", "abs"));
	say("through abs: %s\n", access("abs", R_OK) == 0 ? "ok" : errname(errno));
	res("symlink to /", symlink("/", "slash"));
	pstat("slash/proc/self", "slash/proc/self");

	/* up to the scratch directory: "../" DEPTH times */
	up[0] = 0;
	for (int i = 0; i < DEPTH; i++)
		strcat(up, "../");
	strcpy(b, up);
	strcat(b, "top");
	pcontent("../ x45 top", b);
	res("symlink climbing", symlink(b, "climb"));
	pcontent("through climbing", "climb");
	strcpy(b, up);
	strcat(b, "..");
	say("../ x46 (above scratch) is a directory: %s\n", access(strcat(b, "/."), X_OK) == 0 ? "yes" : errname(errno));
	strcpy(b, "../");
	strcat(b, comp);
	strcat(b, "/sub/g");
	pcontent("../d/sub/g", b);
	/* past the root: ".." stops there, and /proc and /dev are the kernel's */
	b[0] = 0;
	for (int i = 0; i < 150; i++)
		strcat(b, "../");
	strcat(b, "proc/self/status");
	say("../ x150 proc/self/status: %s\n", access(b, R_OK) == 0 ? "ok" : errname(errno));
	strcpy(strstr(b, "proc/"), "dev/null");
	pstat("../ x150 dev/null", b);
	strcpy(strstr(b, "dev/"), ".");
	say("../ x150 is /: %s\n", yesno(sameino(b, "/")));
	pcount("opendir .", ".");
	pstat("stat .", ".");
	pstat("stat ..", "..");

	/* a program run from there: a script, and this program itself, copied */
	mkfile("s", "#!/bin/sh\necho deep script in \"${PWD##*/}\" | cut -c1-20\n", 0755);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		execl("./s", "s", (char *)NULL);
		say("exec ./s: %s\n", errname(errno));
		_exit(1);
	}
	int status;
	waitpid(pid, &status, 0);
	say("script exit: %d\n", WEXITSTATUS(status));
	int in = open("/proc/self/exe", O_RDONLY), out = open("me", O_CREAT | O_WRONLY, 0755);
	ssize_t n;
	while (in >= 0 && out >= 0 && (n = read(in, b, sizeof b)) > 0)
		write(out, b, n);
	close(in);
	close(out);
	pid = fork();
	if (pid == 0) {
		execl("./me", "me", "child", (char *)NULL);
		say("exec ./me: %s\n", errname(errno));
		_exit(1);
	}
	waitpid(pid, &status, 0);
	say("copy exit: %d\n", WEXITSTATUS(status));
	unlink("me");
	unlink("s");
	int dfd = open(".", O_RDONLY | O_DIRECTORY);
	res("chdir to scratch", chdir(up));
	pcontent("top from scratch", "top");
	int fd = openat(dfd, "sub/g", O_RDONLY);
	res("openat(deep dirfd, sub/g)", fd);
	if (fd >= 0) {
		ssize_t n = read(fd, b, 100);
		say("read %zd\n", n);
		close(fd);
	}
	res("mkdirat(deep dirfd, made)", mkdirat(dfd, "made", 0700));
	int ffd = openat(dfd, "sub/g", O_RDONLY);
	resfd("openat(deep file as dirfd, x)", openat(ffd, "x", O_RDONLY), 0);
	res("fchmod(deep file)", fchmod(ffd, 0640));
	struct stat st;
	res("fstat(deep file)", fstat(ffd, &st));
	say("its mode: %04o\n", st.st_mode & 07777);
	char link[64];
	snprintf(link, sizeof link, "/proc/self/fd/%d", ffd);
	res("readlink its /proc/self/fd link", readlink(link, b, sizeof b));
	snprintf(link, sizeof link, "/proc/self/fd/%d", dfd);
	res("readlink the deep dirfd's link", readlink(link, b, sizeof b));
	close(ffd);
	res("fchdir(deep dirfd)", fchdir(dfd));
	pstat("made", "made");
	res("unlink h", unlink("h"));
	res("rmdir made", rmdir("made"));
	res("unlink sub/g", unlink("sub/g"));
	res("rmdir sub", rmdir("sub"));
	return 0;
}
