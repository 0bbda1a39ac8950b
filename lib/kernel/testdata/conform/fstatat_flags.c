/* fstatat: AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH, dirfds, bad flags. */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkdir("d", 0755);
	mkfile("d/f", "abc", 0600);
	symlink("f", "d/l");
	struct stat st;
	int dfd = open("d", O_RDONLY | O_DIRECTORY);
	int r = fstatat(dfd, "l", &st, 0);
	pst("fstatat follow", r, &st);
	r = fstatat(dfd, "l", &st, AT_SYMLINK_NOFOLLOW);
	pst("fstatat AT_SYMLINK_NOFOLLOW", r, &st);
	r = fstatat(dfd, "", &st, AT_EMPTY_PATH);
	pst("fstatat AT_EMPTY_PATH on dirfd", r, &st);
	r = fstatat(AT_FDCWD, "", &st, AT_EMPTY_PATH);
	pst("fstatat AT_EMPTY_PATH AT_FDCWD", r, &st);
	r = fstatat(dfd, "", &st, 0);
	pst("fstatat empty without flag", r, &st);
	r = fstatat(dfd, "f", &st, 0x10000);
	pst("fstatat bad flag", r, &st);
	r = fstatat(dfd, "/dev/null", &st, 0);
	pst("fstatat absolute", r, &st);
	int fd = openat(dfd, "f", O_RDONLY);
	r = fstatat(fd, "", &st, AT_EMPTY_PATH);
	pst("fstatat AT_EMPTY_PATH on file fd", r, &st);
	r = fstatat(fd, "x", &st, 0);
	pst("fstatat relative to a file fd", r, &st);
	close(fd);
	r = fstatat(77, "f", &st, 0);
	pst("fstatat bad fd", r, &st);
	r = fstatat(dfd, "l", &st, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT);
	pst("fstatat AT_NO_AUTOMOUNT", r, &st);
	rmdir("gone");
	r = fstatat(dfd, "..", &st, 0);
	say("fstatat .. is cwd: %s\n", yesno(r == 0 && sameino(".", "d/..")));
	close(dfd);
	return 0;
}
