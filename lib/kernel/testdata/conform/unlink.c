/* unlink and unlinkat(AT_REMOVEDIR): what each removes and refuses. */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkfile("f", "x", 0644);
	mkdir("d", 0755);
	int fd = open("f", O_RDONLY);
	res("unlink file", unlink("f"));
	pfstat("open fd after unlink", fd);
	close(fd);
	res("unlink missing", unlink("f"));
	res("unlink dir", unlink("d"));
	res("unlinkat dir AT_REMOVEDIR", unlinkat(AT_FDCWD, "d", AT_REMOVEDIR));
	mkfile("g", "", 0644);
	res("unlinkat file AT_REMOVEDIR", unlinkat(AT_FDCWD, "g", AT_REMOVEDIR));
	res("unlinkat bad flag", unlinkat(AT_FDCWD, "g", 0x1));
	res("unlink g/", unlink("g/"));
	symlink("nowhere", "dl");
	res("unlink dangling symlink", unlink("dl"));
	mkdir("e", 0755);
	symlink("e", "le");
	res("unlink symlink to dir", unlink("le"));
	pstat("e still there", "e");
	symlink("e", "le2");
	res("unlink symlink to dir with slash", unlink("le2/"));
	res("unlink .", unlink("."));
	res("unlink empty", unlink(""));
	mkfifo("fifo", 0644);
	res("unlink fifo", unlink("fifo"));
	mkfile("h", "", 0644);
	link("h", "h2");
	res("unlink one of two links", unlink("h"));
	pstat("h2", "h2");
	return 0;
}
