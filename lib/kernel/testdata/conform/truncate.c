/* truncate and ftruncate: growing, shrinking, holes read as zeros, the refusals. */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkfile("f", "hello world", 0644);
	res("truncate to 5", truncate("f", 5));
	pcontent("content", "f");
	res("truncate to 8 (grow)", truncate("f", 8));
	pcontent("content", "f");
	res("truncate negative", truncate("f", -1));
	mkdir("d", 0755);
	res("truncate dir", truncate("d", 0));
	res("truncate missing", truncate("missing", 0));
	symlink("f", "l");
	res("truncate through link", truncate("l", 2));
	pstat("f", "f");
	int fd = open("f", O_RDONLY);
	res("ftruncate O_RDONLY fd", ftruncate(fd, 0));
	close(fd);
	fd = open("f", O_WRONLY);
	res("ftruncate O_WRONLY fd", ftruncate(fd, 3));
	pfstat("after", fd);
	res("ftruncate negative", ftruncate(fd, -5));
	close(fd);
	fd = open("f", O_RDWR | O_APPEND);
	res("ftruncate O_APPEND fd", ftruncate(fd, 1));
	close(fd);
	pstat("f", "f");
	mkfifo("p", 0644);
	res("truncate fifo", truncate("p", 0));
	int pp[2];
	pipe(pp);
	res("ftruncate pipe", ftruncate(pp[1], 0));
	res("ftruncate dir fd", ftruncate(open("d", O_RDONLY), 0));
	res("truncate file/", truncate("f/", 0));
	res("truncate huge", truncate("f", 1LL << 62));
	res("truncate to 1T", truncate("f", 1LL << 40));
	pstat("f", "f");
	truncate("f", 0);
	return 0;
}
