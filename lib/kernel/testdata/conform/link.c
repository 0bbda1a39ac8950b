/* link and linkat: counts, directories, symlinks, AT_SYMLINK_FOLLOW, AT_EMPTY_PATH. */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkfile("f", "data\n", 0644);
	res("link", link("f", "g"));
	pstat("f", "f");
	say("same inode: %s\n", yesno(sameino("f", "g")));
	res("link existing", link("f", "g"));
	mkdir("d", 0755);
	res("link dir", link("d", "d2"));
	res("link missing", link("missing", "m"));
	res("link to missing dir", link("f", "nodir/x"));
	res("link f/ trailing slash", link("f/", "h"));
	res("link to trailing slash", link("f", "h/"));
	symlink("f", "s");
	res("linkat symlink, no follow", linkat(AT_FDCWD, "s", AT_FDCWD, "s2", 0));
	plstat("s2", "s2");
	res("linkat symlink, AT_SYMLINK_FOLLOW", linkat(AT_FDCWD, "s", AT_FDCWD, "s3", AT_SYMLINK_FOLLOW));
	plstat("s3", "s3");
	symlink("gone", "dangle");
	res("linkat dangling, follow", linkat(AT_FDCWD, "dangle", AT_FDCWD, "x", AT_SYMLINK_FOLLOW));
	res("link dangling, no follow", link("dangle", "dangle2"));
	int fd = open("f", O_RDONLY);
	res("linkat AT_EMPTY_PATH (root)", linkat(fd, "", AT_FDCWD, "byfd", AT_EMPTY_PATH));
	pstat("byfd", "byfd");
	res("linkat empty without flag", linkat(fd, "", AT_FDCWD, "byfd2", 0));
	res("linkat bad flag", linkat(AT_FDCWD, "f", AT_FDCWD, "y", 0x1));
	close(fd);
	unlink("f");
	pstat("g after unlink f", "g");
	return 0;
}
