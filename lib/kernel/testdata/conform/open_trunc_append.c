/* O_TRUNC and O_APPEND: sizes, where writes land, O_RDONLY|O_TRUNC. */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkfile("f", "hello world\n", 0644);
	int fd = open("f", O_WRONLY | O_TRUNC);
	res("open O_TRUNC", fd);
	pfstat("after O_TRUNC", fd);
	close(fd);
	mkfile("f", "hello\n", 0644);
	fd = open("f", O_WRONLY | O_APPEND);
	res("open O_APPEND", fd);
	resv("lseek 0", lseek(fd, 0, SEEK_SET));
	resv("write", write(fd, "more\n", 5));
	resv("offset after append write", lseek(fd, 0, SEEK_CUR));
	resv("pwrite at 0 with O_APPEND", pwrite(fd, "X", 1, 0));
	close(fd);
	pcontent("content", "f");
	fd = open("f", O_RDONLY | O_TRUNC);
	res("O_RDONLY|O_TRUNC", fd);
	pstat("after O_RDONLY|O_TRUNC", "f");
	close(fd);
	mkfile("g", "data", 0444);
	resfd("O_WRONLY on 0444 as root", open("g", O_WRONLY), 0);
	resfd("O_TRUNC on 0444 as root", open("g", O_RDWR | O_TRUNC), 0);
	pstat("g", "g");
	fd = open("f", O_RDWR | O_APPEND);
	resv("fcntl F_GETFL has O_APPEND", fcntl(fd, F_GETFL) & O_APPEND ? 1 : 0);
	res("clear O_APPEND", fcntl(fd, F_SETFL, 0));
	resv("F_GETFL after", fcntl(fd, F_GETFL) & O_APPEND ? 1 : 0);
	resv("write at 0", pwrite(fd, "ab", 2, 0));
	close(fd);
	pcontent("content", "f");
	return 0;
}
