/* chown, fchown, fchownat as root: owners, -1, through symlinks (chown_link has the
 * owners of symlinks themselves).
 * conform: needs host root (files given to uid 1000) */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkfile("f", "x", 0644);
	symlink("f", "l");
	mkdir("d", 0755);
	res("chown 1000:1000", chown("f", 1000, 1000));
	pstat("f", "f");
	res("chown -1:5", chown("f", -1, 5));
	pstat("f", "f");
	res("chown 7:-1", chown("f", 7, -1));
	pstat("f", "f");
	res("chown -1:-1", chown("f", -1, -1));
	pstat("f", "f");
	res("lchown link 2:3", lchown("l", 2, 3));
	pstat("target unchanged", "f");
	res("chown through link 4:4", chown("l", 4, 4));
	pstat("target", "f");
	int fd = open("f", O_RDONLY);
	res("fchown on O_RDONLY fd", fchown(fd, 0, 0));
	pfstat("fstat", fd);
	close(fd);
	res("fchownat AT_SYMLINK_NOFOLLOW", fchownat(AT_FDCWD, "l", 9, 9, AT_SYMLINK_NOFOLLOW));
	pstat("target of link", "f");
	res("fchownat bad flag", fchownat(AT_FDCWD, "f", 0, 0, 0x1));
	fd = open("d", O_RDONLY);
	res("fchownat AT_EMPTY_PATH", fchownat(fd, "", 1000, 1000, AT_EMPTY_PATH));
	close(fd);
	pstat("d", "d");
	res("chown missing", chown("missing", 0, 0));
	res("chown to 65535", chown("f", 65535, 65535));
	pstat("f", "f");
	mkfile("x", "", 0755);
	chmod("x", 06755);
	res("chown -1:-1 of a set-id file", chown("x", -1, -1));
	pstat("x", "x");
	return 0;
}
