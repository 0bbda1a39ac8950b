/* stat fields that must agree: types, modes, sizes, link counts, blocks, inode identity. */
#include "conform.h"
#include <sys/socket.h>
#include <sys/un.h>

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkfile("f", "12345", 0640);
	mkdir("d", 0711);
	symlink("f", "l");
	mkfifo("p", 0600);
	link("f", "h");
	pstat("reg", "f");
	pstat("dir", "d");
	plstat("lnk", "l");
	pstat("lnk followed", "l");
	pstat("fifo", "p");
	struct stat a, b;
	stat("f", &a);
	stat("h", &b);
	say("hard links share inode: %s\n", yesno(a.st_ino == b.st_ino && a.st_dev == b.st_dev));
	stat("d", &b);
	say("dir has another inode: %s\n", yesno(a.st_ino != b.st_ino));
	say("same device: %s\n", yesno(a.st_dev == b.st_dev));
	say("blksize positive: %s\n", yesno(a.st_blksize > 0));
	say("blocks of 5-byte file: %s\n", a.st_blocks > 0 && a.st_blocks <= 64 ? "small" : "other");
	int fd = open("sparse", O_CREAT | O_WRONLY, 0644);
	ftruncate(fd, 10 << 20);
	fstat(fd, &b);
	say("sparse 10M size: %lld blocks zero: %s\n", (long long)b.st_size, yesno(b.st_blocks == 0));
	close(fd);
	say("mtime==ctime of a new file: %s\n", yesno(a.st_mtim.tv_sec == a.st_ctim.tv_sec));
	fd = open(".", O_RDONLY);
	fstat(fd, &b);
	struct stat c;
	stat(".", &c);
	say("fstat(.) is stat(.): %s\n", yesno(b.st_ino == c.st_ino));
	close(fd);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	fstat(fd, &b);
	say("socket fd type: %s\n", ftype(b.st_mode));
	close(fd);
	int pp[2];
	pipe(pp);
	fstat(pp[0], &b);
	say("pipe fd type: %s mode=%04o\n", ftype(b.st_mode), b.st_mode & 07777);
	return 0;
}
