/* ptyshell: openpty, fork, and a shell on the pty's slave as its controlling terminal
 * (login_tty); the parent types commands into the master and copies what comes back to
 * stdout until the shell hangs up. argv[1] is the shell, argv[2] the input. */
#define _GNU_SOURCE
#include <errno.h>
#include <pty.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utmp.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: ptyshell SHELL INPUT\n");
		return 2;
	}
	int m, s;
	char name[64];
	if (openpty(&m, &s, name, NULL, NULL) < 0) {
		perror("openpty");
		return 1;
	}
	printf("openpty: %s\n", name);
	/* typing into a terminal stays refused, even into the guest's own pty */
	printf("TIOCSTI: %s\n", ioctl(s, TIOCSTI, "x") == 0 ? "allowed" : "refused");
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		close(m);
		if (login_tty(s) < 0) {
			perror("login_tty");
			_exit(1);
		}
		execl(argv[1], argv[1], "-i", (char *)NULL);
		perror("exec");
		_exit(127);
	}
	close(s);
	write(m, argv[2], strlen(argv[2]));
	char b[4096];
	for (;;) {
		ssize_t n = read(m, b, sizeof b);
		if (n <= 0)
			break; /* EIO: the shell and its children closed the slave */
		fwrite(b, 1, n, stdout);
	}
	int st;
	waitpid(c, &st, 0);
	printf("\nshell exit: %d\n", WEXITSTATUS(st));
	return 0;
}
