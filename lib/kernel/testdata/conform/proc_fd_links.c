/* /proc/self/fd/N are symlinks to lstat (gouml documents that they stat as the file they
 * name: doc.go, "Known limits"). */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkfile("f", "x", 0644);
	int fd = open("f", O_RDONLY);
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	plstat("lstat of fd link", p);
	pstat("stat of fd link", p);
	snprintf(p, sizeof p, "/dev/fd/%d", fd);
	plstat("lstat of /dev/fd/N", p);
	struct stat st;
	fstatat(AT_FDCWD, p, &st, AT_SYMLINK_NOFOLLOW);
	say("fstatat nofollow is a link: %s\n", yesno(S_ISLNK(st.st_mode)));
	plstat("lstat /proc/self/cwd", "/proc/self/cwd");
	plstat("lstat /proc/self/exe", "/proc/self/exe");
	return 0;
}
