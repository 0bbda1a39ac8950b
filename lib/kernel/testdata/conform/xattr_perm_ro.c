/* xattrs where they must be refused: EROFS on a read-only mount (path and fd calls, the
 * issue's regression case) and EACCES/EPERM for an ordinary user on root's file; an
 * attribute named like gouml's metadata changes no owner or mode.
 * conform: needs host root (it becomes uid 1000) */
#include "conform.h"
#include <sys/xattr.h>

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	char b[16];
	res("setxattr on read-only f", setxattr(rojoin("f"), "user.a", "1", 1, 0));
	res("removexattr on read-only f", removexattr(rojoin("f"), "user.a"));
	res("getxattr on read-only f", getxattr(rojoin("f"), "user.a", b, sizeof b));
	int fd = open(rojoin("f"), O_RDONLY);
	res("fsetxattr on read-only f", fsetxattr(fd, "user.a", "1", 1, 0));
	res("fremovexattr on read-only f", fremovexattr(fd, "user.a"));
	close(fd);
	chmod(".", 0755);
	mkfile("public", "", 0644);
	mkfile("shared", "", 0666);
	mkfile("mine", "", 0644);
	chown("mine", 1000, 1000);
	if (setgroups(0, NULL) < 0 || setgid(1000) < 0 || setuid(1000) < 0) {
		say("becoming 1000: %s\n", errname(errno));
		return 1;
	}
	fd = open("public", O_RDONLY);
	res("fsetxattr user. on root's file", fsetxattr(fd, "user.x", "1", 1, 0));
	res("setxattr user. (path twin)", setxattr("public", "user.x", "1", 1, 0));
	res("fremovexattr on root's file", fremovexattr(fd, "user.x"));
	close(fd);
	fd = open("shared", O_RDWR);
	res("fsetxattr user. on a writable file", fsetxattr(fd, "user.y", "1", 1, 0));
	close(fd);
	res("setxattr user. on own file", setxattr("mine", "user.x", "1", 1, 0));
	res("setxattr trusted. as a user", setxattr("mine", "trusted.x", "1", 1, 0));
	/* gouml keeps guest owners and modes in user.gouml.* attributes of the host file: a
	 * guest's attribute of that name must not reach them */
	res("setxattr user.gouml.uid on own file", setxattr("mine", "user.gouml.uid", "0", 1, 0));
	res("setxattr user.gouml.mode on own file", setxattr("mine", "user.gouml.mode", "104755", 6, 0));
	pstat("own file after", "mine");
	res("getxattr user.gouml.uid", getxattr("mine", "user.gouml.uid", b, sizeof b));
	return 0;
}
