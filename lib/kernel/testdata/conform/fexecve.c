/* fexecve and execveat(AT_EMPTY_PATH) of an fd: opened O_RDONLY, O_PATH and O_CLOEXEC;
 * the program is this one, run again with an argument that makes it print and exit. */
#include "conform.h"

static void run(const char *label, int fd, int how)
{
	pid_t p = fork();
	if (p == 0) {
		char *av[] = {"fexecve-child", "child", NULL};
		char *ev[] = {"CONFORM=1", NULL};
		if (how == 0)
			fexecve(fd, av, ev);
		else
			syscall(SYS_execveat, fd, "", av, ev, AT_EMPTY_PATH);
		printf("%s: %s\n", label, errname(errno));
		_exit(127);
	}
	int st;
	waitpid(p, &st, 0);
	say("%s: exit %d\n", label, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "child")) {
		say("child: argv0=%s env=%s\n", argv[0], getenv("CONFORM") ? getenv("CONFORM") : "-");
		return 7;
	}
	conform_args(argc, argv);
	int fd = open("/proc/self/exe", O_RDONLY);
	res("open exe O_RDONLY", fd);
	run("fexecve O_RDONLY", fd, 0);
	run("execveat O_RDONLY", fd, 1);
	close(fd);
	fd = open("/proc/self/exe", O_PATH);
	res("open exe O_PATH", fd);
	run("fexecve O_PATH", fd, 0);
	close(fd);
	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	run("execveat O_CLOEXEC", fd, 1);
	close(fd);
	mkfile("noexec", "#!/bin/sh\n", 0644);
	fd = open("noexec", O_RDONLY);
	run("fexecve not executable", fd, 0);
	close(fd);
	return 0;
}
