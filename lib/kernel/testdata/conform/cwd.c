/* chdir, fchdir, getcwd, and a working directory that was removed. */
#include "conform.h"

static void pcwd(const char *label)
{
	char b[PATH_MAX], here[PATH_MAX];
	if (!getcwd(b, sizeof b)) {
		say("%s: %s\n", label, errname(errno));
		return;
	}
	/* print the cwd relative to the scratch directory (its absolute path differs) */
	const char *base = getenv("CONFORM_BASE");
	(void)here;
	say("%s: %s\n", label, base && strncmp(b, base, strlen(base)) == 0 ? b + strlen(base) : "(outside)");
}

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	char b[PATH_MAX];
	getcwd(b, sizeof b);
	setenv("CONFORM_BASE", b, 1);
	mkdir("a", 0755);
	mkdir("a/b", 0755);
	mkfile("f", "", 0644);
	symlink("a/b", "lb");
	res("chdir a", chdir("a"));
	pcwd("cwd");
	res("chdir b", chdir("b"));
	pcwd("cwd");
	res("chdir ../..", chdir("../.."));
	pcwd("cwd");
	res("chdir via symlink", chdir("lb"));
	pcwd("cwd (symlink resolved)");
	res("chdir ..", chdir(".."));
	pcwd("cwd (.. of the real dir)");
	chdir(b);
	res("chdir file", chdir("f"));
	res("chdir missing", chdir("missing"));
	int fd = open("a", O_RDONLY);
	res("fchdir", fchdir(fd));
	pcwd("cwd");
	close(fd);
	fd = open("f", O_RDONLY);
	res("fchdir to file", fchdir(fd));
	close(fd);
	res("fchdir bad fd", fchdir(99));
	res("getcwd size 0", getcwd(b, 0) ? 0 : -1);
	char small[4];
	res("getcwd small buffer", syscall(SYS_getcwd, small, sizeof small));
	chdir(getenv("CONFORM_BASE"));
	mkdir("gone", 0755);
	mkfile("sibling", "s\n", 0640);
	chdir("gone");
	res("rmdir cwd", rmdir("../gone"));
	res("getcwd syscall after rmdir", syscall(SYS_getcwd, b, sizeof b));
	pcwd("getcwd after rmdir");
	struct stat st;
	pst("stat .", stat(".", &st), &st);
	resfd("creat in removed cwd", open("x", O_CREAT | O_WRONLY, 0644), 0);
	res("mkdir in removed cwd", mkdir("y", 0755));
	DIR *d = opendir(".");
	int n = 0;
	while (d && readdir(d))
		n++;
	say("entries in removed cwd: %d\n", n);
	pstat("stat ./", "./");
	pstat("stat ../sibling from removed cwd", "../sibling");
	pcontent("read ../sibling", "../sibling");
	pstat("stat ../gone", "../gone");
	if (d)
		closedir(d);
	res("chdir .. from removed cwd", chdir(".."));
	pcwd("cwd");
	res("chdir /", chdir("/"));
	pcwd("cwd");
	getcwd(b, sizeof b);
	say("getcwd at root: %s\n", b);
	return 0;
}
