/* Reopening through /proc/self/fd/N checks the file's mode, not the first open's: an fd
 * opened O_RDONLY reopens O_RDWR when the mode allows (gouml documents that it never gives
 * more access than the open had: doc.go, "Known limits"). */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkfile("f", "content\n", 0644);
	int fd = open("f", O_RDONLY);
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	int r = open(p, O_RDWR);
	res("reopen O_RDWR (the file's mode allows it)", r);
	if (r >= 0) {
		resv("write through it", write(r, "C", 1));
		close(r);
	}
	pcontent("f", "f");
	resfd("reopen O_WRONLY|O_APPEND", open(p, O_WRONLY | O_APPEND), 0);
	snprintf(p, sizeof p, "/dev/fd/%d", fd);
	resfd("reopen /dev/fd/N O_RDWR", open(p, O_RDWR), 0);
	int pp[2];
	pipe(pp);
	snprintf(p, sizeof p, "/proc/self/fd/%d", pp[0]);
	int w = open(p, O_WRONLY);
	res("reopen pipe read end for writing", w);
	if (w >= 0) {
		char b[8] = {0};
		write(w, "pipe!", 5);
		read(pp[0], b, 5);
		say("pipe got: %s\n", b);
	}
	mkfile("ro", "ro\n", 0444);
	fd = open("ro", O_RDONLY);
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	resfd("reopen 0444 file O_RDWR as root", open(p, O_RDWR), 0);
	return 0;
}
