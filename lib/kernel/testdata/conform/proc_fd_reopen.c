/* Reopening files through /proc/self/fd/N and /dev/fd/N. */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkfile("f", "content\n", 0644);
	int fd = open("f", O_RDONLY);
	char p[64], b[32];
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	int r = open(p, O_RDONLY);
	res("reopen O_RDONLY", r);
	say("new description (own offset): %s\n", yesno(read(fd, b, 3) == 3 && lseek(r, 0, SEEK_CUR) == 0));
	close(r);
	unlink("f");
	r = open(p, O_RDONLY);
	res("reopen a deleted file", r);
	memset(b, 0, sizeof b);
	if (r >= 0)
		read(r, b, sizeof b - 1);
	say("read: %s", b);
	close(r);
	snprintf(p, sizeof p, "/dev/fd/%d", fd);
	resfd("reopen /dev/fd/N", open(p, O_RDONLY), 0);
	int pp[2];
	pipe(pp);
	snprintf(p, sizeof p, "/proc/self/fd/%d", pp[0]);
	int rr = open(p, O_RDONLY);
	res("reopen pipe read end", rr);
	write(pp[1], "pipe!", 5);
	memset(b, 0, sizeof b);
	read(rr, b, 5);
	say("pipe got: %s\n", b);
	close(rr);
	resfd("reopen closed fd", open("/proc/self/fd/77", O_RDONLY), 0);
	mkdir("d", 0755);
	int dfd = open("d", O_RDONLY);
	snprintf(p, sizeof p, "/proc/self/fd/%d", dfd);
	resfd("reopen dir", open(p, O_RDONLY | O_DIRECTORY), 0);
	snprintf(p, sizeof p, "/proc/self/fd/%d/x", dfd);
	resfd("create through /proc/self/fd/N/x", open(p, O_CREAT | O_WRONLY, 0644), 0);
	pstat("d/x", "d/x");
	return 0;
}
