/* dup, dup2, dup3, F_DUPFD(_CLOEXEC), O_CLOEXEC, and which fds survive exec. */
#include "conform.h"

int main(int argc, char **argv)
{
	if (getenv("CONFORM_CHILD")) {
		/* after exec: fds 5..9 were set up by the parent */
		for (int fd = 5; fd <= 9; fd++)
			say("after exec fd %d open: %s\n", fd, yesno(fcntl(fd, F_GETFD) >= 0));
		return 0;
	}
	conform_args(argc, argv);
	mkfile("f", "abc", 0644);
	int fd = open("f", O_RDONLY);
	say("open gives lowest fd: %d\n", fd);
	resv("dup", dup(fd));
	resv("dup2 to 10", dup2(fd, 10));
	resv("dup2 to itself", dup2(fd, fd));
	resv("dup2 bad fd", dup2(99, 11));
	res("dup3 to itself", dup3(fd, fd, 0));
	resv("dup3 O_CLOEXEC", dup3(fd, 12, O_CLOEXEC));
	resv("F_GETFD of it", fcntl(12, F_GETFD));
	res("dup3 bad flag", dup3(fd, 13, O_NONBLOCK));
	resv("F_DUPFD from 20", fcntl(fd, F_DUPFD, 20));
	resv("F_DUPFD_CLOEXEC from 20", fcntl(fd, F_DUPFD_CLOEXEC, 20));
	resv("F_GETFD of it", fcntl(21, F_GETFD));
	int c = open("f", O_RDONLY | O_CLOEXEC);
	resv("O_CLOEXEC F_GETFD", fcntl(c, F_GETFD));
	res("F_SETFD 0", fcntl(c, F_SETFD, 0));
	resv("F_GETFD", fcntl(c, F_GETFD));
	char b[2];
	lseek(fd, 1, SEEK_SET);
	read(10, b, 1);
	say("dups share the offset: %s\n", yesno(lseek(fd, 0, SEEK_CUR) == 2));
	close(c);
	dup2(fd, 5);
	dup3(fd, 6, O_CLOEXEC);
	dup2(fd, 7);
	fcntl(7, F_SETFD, FD_CLOEXEC);
	int p[2];
	pipe2(p, O_CLOEXEC);
	dup2(p[0], 8);
	dup3(p[1], 9, O_CLOEXEC);
	close(p[0]);
	close(p[1]);
	pid_t pid = fork();
	if (pid == 0) {
		setenv("CONFORM_CHILD", "1", 1);
		execl("/proc/self/exe", "child", NULL);
		say("exec: %s\n", errname(errno));
		_exit(1);
	}
	int st;
	waitpid(pid, &st, 0);
	say("child exit: %d\n", WEXITSTATUS(st));
	res("close twice", close(10) == 0 ? close(10) : -2);
	res("F_GETFL bad fd", fcntl(99, F_GETFL));
	return 0;
}
