/* chmod, fchmod, fchmodat (and fchmodat2's AT_SYMLINK_NOFOLLOW): every bit as root. */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkfile("f", "x", 0644);
	mkdir("d", 0755);
	symlink("f", "l");
	res("chmod 0", chmod("f", 0));
	pstat("f", "f");
	res("chmod 07777", chmod("f", 07777));
	pstat("f", "f");
	res("chmod 0177777 (type bits ignored)", chmod("f", 0177777));
	pstat("f", "f");
	res("chmod through symlink", chmod("l", 0600));
	pstat("f", "f");
	plstat("link unchanged", "l");
	res("chmod dir 01777", chmod("d", 01777));
	pstat("d", "d");
	res("chmod dir 02755", chmod("d", 02755));
	pstat("d", "d");
	int fd = open("f", O_RDONLY);
	res("fchmod 0640 on O_RDONLY fd", fchmod(fd, 0640));
	pfstat("fstat", fd);
	close(fd);
	res("fchmodat", fchmodat(AT_FDCWD, "f", 0444, 0));
	pstat("f", "f");
	res("fchmodat bad flag", syscall(SYS_fchmodat, AT_FDCWD, "f", 0444, 0x100));
	res("fchmodat2 AT_SYMLINK_NOFOLLOW on link", syscall(452, AT_FDCWD, "l", 0600, AT_SYMLINK_NOFOLLOW));
	res("fchmodat2 AT_SYMLINK_NOFOLLOW on file", syscall(452, AT_FDCWD, "f", 0600, AT_SYMLINK_NOFOLLOW));
	pstat("f", "f");
	res("fchmodat2 AT_EMPTY_PATH", syscall(452, open("f", O_RDONLY), "", 0640, AT_EMPTY_PATH));
	pstat("f", "f");
	res("chmod missing", chmod("missing", 0644));
	res("fchmod bad fd", fchmod(99, 0644));
	mkfifo("p", 0600);
	res("chmod fifo", chmod("p", 0666));
	pstat("p", "p");
	return 0;
}
