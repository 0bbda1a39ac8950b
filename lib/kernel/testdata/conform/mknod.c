/* mknod: FIFOs, regular files, sockets and (as root) a character device.
 * conform: needs host root (device nodes) */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	res("mknod fifo", mknod("fifo", S_IFIFO | 0640, 0));
	pstat("fifo", "fifo");
	res("mknod regular", mknod("reg", S_IFREG | 0600, 0));
	pstat("reg", "reg");
	res("mknod type 0 (regular)", mknod("reg0", 0644, 0));
	pstat("reg0", "reg0");
	res("mknod socket", mknod("sock", S_IFSOCK | 0644, 0));
	pstat("sock", "sock");
	res("mknod char 1:3", mknod("null", S_IFCHR | 0666, makedev(1, 3)));
	pstat("null", "null");
	int fd = open("null", O_RDWR);
	res("open it", fd);
	resv("write to it", write(fd, "abc", 3));
	char b[4];
	resv("read from it", read(fd, b, sizeof b));
	close(fd);
	res("mknod char 1:5", mknod("zero", S_IFCHR | 0644, makedev(1, 5)));
	fd = open("zero", O_RDONLY);
	b[0] = 1;
	resv("read zero", read(fd, b, 1));
	say("byte: %d\n", b[0]);
	close(fd);
	res("mknod existing", mknod("fifo", S_IFIFO | 0644, 0));
	res("mknod dir type", mknod("dir", S_IFDIR | 0755, 0));
	res("mknod bad type", mknod("bad", 0170000 | 0644, 0));
	res("mknod in missing dir", mknod("no/fifo", S_IFIFO | 0644, 0));
	res("mkfifo", mkfifo("f2", 0666));
	pstat("f2", "f2");
	res("mknodat", mknodat(AT_FDCWD, "f3", S_IFIFO | 0600, 0));
	res("mknod trailing slash", mknod("f4/", S_IFIFO | 0600, 0));
	return 0;
}
