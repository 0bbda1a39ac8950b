/* read, write, pread, pwrite, lseek (SEEK_DATA, SEEK_HOLE), on files and pipes. */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	int fd = open("f", O_RDWR | O_CREAT, 0644);
	resv("write", write(fd, "hello world", 11));
	resv("lseek cur", lseek(fd, 0, SEEK_CUR));
	resv("lseek end-5", lseek(fd, -5, SEEK_END));
	char b[32] = {0};
	resv("read", read(fd, b, sizeof b - 1));
	say("got: %s\n", b);
	resv("read at EOF", read(fd, b, sizeof b));
	resv("pwrite at 6", pwrite(fd, "WORLD", 5, 6));
	resv("offset unchanged", lseek(fd, 0, SEEK_CUR));
	memset(b, 0, sizeof b);
	resv("pread at 0", pread(fd, b, 5, 0));
	say("got: %s\n", b);
	resv("lseek negative", lseek(fd, -100, SEEK_SET));
	resv("lseek bad whence", lseek(fd, 0, 17));
	resv("lseek past end", lseek(fd, 100, SEEK_SET));
	resv("write past end", write(fd, "!", 1));
	struct stat st;
	fstat(fd, &st);
	say("size: %lld\n", (long long)st.st_size);
	pread(fd, b, 3, 50);
	say("hole reads zero: %s\n", yesno(b[0] == 0 && b[1] == 0 && b[2] == 0));
	resv("pread negative offset", pread(fd, b, 1, -1));
	close(fd);
	/* a sparse file: 64K of data, a 1M hole, 64K of data */
	fd = open("sparse", O_RDWR | O_CREAT, 0644);
	char blk[65536];
	memset(blk, 'x', sizeof blk);
	write(fd, blk, sizeof blk);
	pwrite(fd, blk, sizeof blk, 1 << 20);
	resv("SEEK_DATA 0", lseek(fd, 0, SEEK_DATA));
	resv("SEEK_HOLE 0", lseek(fd, 0, SEEK_HOLE));
	resv("SEEK_DATA from the hole", lseek(fd, 100000, SEEK_DATA));
	resv("SEEK_HOLE from the second extent", lseek(fd, (1 << 20) + 10, SEEK_HOLE));
	resv("SEEK_DATA at EOF", lseek(fd, (1 << 20) + 65536, SEEK_DATA));
	resv("SEEK_HOLE past EOF", lseek(fd, 5 << 20, SEEK_HOLE));
	close(fd);
	int p[2];
	pipe(p);
	resv("lseek on pipe", lseek(p[0], 0, SEEK_CUR));
	resv("pread on pipe", pread(p[0], b, 1, 0));
	resv("pwrite on pipe", pwrite(p[1], b, 1, 0));
	resv("write to read end", write(p[0], "x", 1));
	resv("read from write end", read(p[1], b, 1));
	resv("read bad fd", read(99, b, 1));
	fd = open("f", O_RDONLY);
	resv("write to O_RDONLY fd", write(fd, "x", 1));
	resv("read 0 bytes", read(fd, b, 0));
	close(fd);
	fd = open("f", O_WRONLY);
	resv("read from O_WRONLY fd", read(fd, b, 1));
	struct iovec iov[2] = {{"ab", 2}, {"cd", 2}};
	resv("writev", writev(fd, iov, 2));
	close(fd);
	pcontent("f", "f");
	return 0;
}
