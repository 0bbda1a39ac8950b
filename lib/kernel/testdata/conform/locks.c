/* Record locks (fcntl, OFD) and flock between a parent and a child. */
#include "conform.h"
#include <sys/file.h>

static int lk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock f = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
	return fcntl(fd, cmd, &f);
}

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkfile("f", "0123456789", 0644);
	int fd = open("f", O_RDWR);
	res("F_SETLK write 0-4", lk(fd, F_SETLK, F_WRLCK, 0, 5));
	res("F_SETLK read 6-7", lk(fd, F_SETLK, F_RDLCK, 6, 2));
	int ro = open("f", O_RDONLY);
	res("F_SETLK write on O_RDONLY fd", lk(ro, F_SETLK, F_WRLCK, 8, 1));
	res("flock LOCK_EX", flock(fd, LOCK_EX | LOCK_NB));
	pid_t parent = getpid();
	pid_t c = fork();
	if (c == 0) {
		int cfd = open("f", O_RDWR);
		res("child F_SETLK write 2", lk(cfd, F_SETLK, F_WRLCK, 2, 1));
		res("child F_SETLK read 6", lk(cfd, F_SETLK, F_RDLCK, 6, 1));
		res("child F_SETLK write 6", lk(cfd, F_SETLK, F_WRLCK, 6, 1));
		res("child F_SETLK write 9", lk(cfd, F_SETLK, F_WRLCK, 9, 1));
		struct flock g = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
		res("child F_GETLK", fcntl(cfd, F_GETLK, &g));
		say("conflict: type=%s start=%ld len=%ld pid is parent: %s\n",
		    g.l_type == F_WRLCK ? "wr" : g.l_type == F_RDLCK ? "rd" : "un", (long)g.l_start,
		    (long)g.l_len, yesno(g.l_pid == parent));
		res("child flock LOCK_EX|LOCK_NB", flock(cfd, LOCK_EX | LOCK_NB));
		res("child flock LOCK_SH|LOCK_NB", flock(cfd, LOCK_SH | LOCK_NB));
		res("child OFD F_OFD_SETLK write 2", lk(cfd, F_OFD_SETLK, F_WRLCK, 2, 1));
		_exit(0);
	}
	waitpid(c, NULL, 0);
	res("unlock 0-4", lk(fd, F_SETLK, F_UNLCK, 0, 5));
	res("flock LOCK_UN", flock(fd, LOCK_UN));
	c = fork();
	if (c == 0) {
		int cfd = open("f", O_RDWR);
		res("child after unlock F_SETLK write 2", lk(cfd, F_SETLK, F_WRLCK, 2, 1));
		res("child after unlock flock", flock(cfd, LOCK_EX | LOCK_NB));
		_exit(0);
	}
	waitpid(c, NULL, 0);
	int o1 = open("f", O_RDWR), o2 = open("f", O_RDWR);
	res("OFD lock on one description", lk(o1, F_OFD_SETLK, F_WRLCK, 0, 1));
	res("OFD lock on another, same process", lk(o2, F_OFD_SETLK, F_WRLCK, 0, 1));
	res("OFD with l_pid set", ({ struct flock f = {.l_type = F_WRLCK, .l_pid = 1}; fcntl(o2, F_OFD_SETLK, &f); }));
	res("F_SETLK bad type", lk(fd, F_SETLK, 99, 0, 1));
	res("F_SETLK bad fd", lk(99, F_SETLK, F_WRLCK, 0, 1));
	res("flock bad op", flock(fd, 99));
	close(fd);
	close(ro);
	return 0;
}
