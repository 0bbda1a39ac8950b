/* Pipes and FIFOs: EPIPE, non-blocking opens, a FIFO between processes, pipe2 flags. */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	int p[2];
	res("pipe", pipe(p));
	resv("write", write(p[1], "abc", 3));
	char b[16] = {0};
	resv("read", read(p[0], b, sizeof b));
	close(p[0]);
	resv("write with no reader", write(p[1], "x", 1));
	close(p[1]);
	res("pipe2 O_CLOEXEC|O_NONBLOCK", pipe2(p, O_CLOEXEC | O_NONBLOCK));
	resv("F_GETFD", fcntl(p[0], F_GETFD));
	resv("F_GETFL has O_NONBLOCK", !!(fcntl(p[0], F_GETFL) & O_NONBLOCK));
	resv("read empty non-blocking", read(p[0], b, 1));
	resv("F_GETPIPE_SZ", fcntl(p[0], F_GETPIPE_SZ));
	resv("pipe2 bad flag", pipe2(p, O_APPEND));
	res("mkfifo", mkfifo("fifo", 0644));
	pstat("fifo", "fifo");
	resfd("open O_WRONLY|O_NONBLOCK without reader", open("fifo", O_WRONLY | O_NONBLOCK), 0);
	int r = open("fifo", O_RDONLY | O_NONBLOCK);
	res("open O_RDONLY|O_NONBLOCK", r);
	int w = open("fifo", O_WRONLY | O_NONBLOCK);
	res("open O_WRONLY|O_NONBLOCK with reader", w);
	resv("write", write(w, "fifo!", 5));
	memset(b, 0, sizeof b);
	resv("read", read(r, b, sizeof b));
	say("got: %s\n", b);
	close(w);
	resv("read after writer closed (EOF)", read(r, b, sizeof b));
	close(r);
	pid_t c = fork();
	if (c == 0) {
		int fw = open("fifo", O_WRONLY);
		write(fw, "from child", 10);
		_exit(0);
	}
	r = open("fifo", O_RDONLY);
	res("blocking open for reading meets the child", r);
	memset(b, 0, sizeof b);
	int n = 0, k;
	while ((k = read(r, b + n, sizeof b - 1 - n)) > 0)
		n += k;
	say("got: %s\n", b);
	waitpid(c, NULL, 0);
	close(r);
	r = open("fifo", O_RDWR);
	res("open O_RDWR (Linux allows)", r);
	close(r);
	resfd("open fifo O_RDONLY|O_NONBLOCK|O_TRUNC", open("fifo", O_RDONLY | O_NONBLOCK | O_TRUNC), 0);
	pstat("fifo still", "fifo");
	return 0;
}
