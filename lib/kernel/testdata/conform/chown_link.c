/* The owner of a symlink itself: lchown, fchownat(AT_SYMLINK_NOFOLLOW), and chown through
 * the link leaving it alone.
 * conform: needs host root (owners other than root) */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkfile("f", "x", 0644);
	symlink("f", "l");
	res("lchown link 2:3", lchown("l", 2, 3));
	plstat("link", "l");
	res("chown through link 4:4", chown("l", 4, 4));
	plstat("link after chown through it", "l");
	res("fchownat AT_SYMLINK_NOFOLLOW", fchownat(AT_FDCWD, "l", 9, 9, AT_SYMLINK_NOFOLLOW));
	plstat("link", "l");
	return 0;
}
