/* Below a working directory whose path is longer than PATH_MAX, as an ordinary user: the
 * search permission of every directory on the way still counts, for paths that climb out
 * of the deep directory and back and for a dirfd held from before, and the user's own
 * names are made and removed there.
 * conform: needs host root (it becomes uid 1000) */
#include "conform.h"

#define DEPTH 45

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	char comp[101], b[16384];
	memset(comp, 'd', 100);
	comp[100] = 0;
	chmod(".", 0755);
	int ok = 1;
	for (int i = 0; i < DEPTH && ok; i++)
		ok = mkdir(comp, 0755) == 0 && chdir(comp) == 0;
	say("levels made: %s\n", yesno(ok));
	mkdir("mine", 0755);
	chown("mine", 1000, 1000);
	mkdir("closed", 0700);
	mkfile("closed/f", "closed\n", 0644);
	mkfile("open", "open\n", 0644);
	int closed = open("closed", O_RDONLY | O_DIRECTORY);
	if (setgroups(0, NULL) < 0 || setgid(1000) < 0 || setuid(1000) < 0) {
		say("becoming 1000: %s\n", errname(errno));
		return 1;
	}
	pcontent("open", "open");
	pcontent("closed/f", "closed/f");
	resfd("openat(closed dirfd, f)", openat(closed, "f", O_RDONLY), 0);
	res("create here", open("new", O_CREAT | O_WRONLY, 0644));
	mkfile("mine/f", "mine\n", 0600);
	pstat("mine/f", "mine/f");
	snprintf(b, sizeof b, "../%s/mine/f", comp);
	pcontent("../d/mine/f", b);
	snprintf(b, sizeof b, "../%s/closed/f", comp);
	pcontent("../d/closed/f", b);
	res("symlink in mine", symlink("../closed/f", "mine/l"));
	pcontent("through mine/l", "mine/l");
	res("unlink mine/l", unlink("mine/l"));
	res("unlink mine/f", unlink("mine/f"));
	res("rmdir mine (root's directory)", rmdir("mine"));
	return 0;
}
