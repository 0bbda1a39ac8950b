/* /dev/fd, /dev/stdin, /dev/stdout, /dev/stderr: links and reopening. */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	char b[64] = {0};
	const char *links[] = {"/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr"};
	for (int i = 0; i < 4; i++) {
		memset(b, 0, sizeof b);
		readlink(links[i], b, sizeof b);
		say("%s -> %s\n", links[i], b);
	}
	int p[2];
	pipe(p);
	write(p[1], "from the pipe\n", 14);
	close(p[1]);
	dup2(p[0], 0);
	close(p[0]);
	int fd = open("/dev/stdin", O_RDONLY);
	res("open /dev/stdin (a pipe)", fd);
	memset(b, 0, sizeof b);
	read(fd, b, sizeof b - 1);
	say("read: %s", b);
	close(fd);
	mkfile("f", "file on 0\n", 0644);
	fd = open("f", O_RDONLY);
	dup2(fd, 0);
	close(fd);
	read(0, b, 5);
	fd = open("/dev/stdin", O_RDONLY);
	memset(b, 0, sizeof b);
	read(fd, b, sizeof b - 1);
	say("/dev/stdin of a file starts at 0: %s", b);
	close(fd);
	fd = open("/dev/fd/0", O_RDONLY);
	res("open /dev/fd/0", fd);
	close(fd);
	say("/dev/fd/0 is the file: %s\n", yesno(sameino("/dev/fd/0", "f")));
	pcount("entries in /dev/fd (0-3, 3 the listing)", "/dev/fd");
	mkfile("out", "", 0644);
	fd = open("out", O_WRONLY);
	dup2(fd, 1);
	close(fd);
	fd = open("/dev/stdout", O_WRONLY);
	write(fd, "via /dev/stdout\n", 16);
	close(fd);
	fd = open("/dev/fd/1", O_WRONLY | O_APPEND);
	write(fd, "via /dev/fd/1\n", 14);
	close(fd);
	dup2(2, 1);
	pcontent("out", "out");
	res("open /dev/fd/99", open("/dev/fd/99", O_RDONLY));
	return 0;
}
