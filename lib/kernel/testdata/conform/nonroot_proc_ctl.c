/* Between users: an ordinary user may change the limits, priority and scheduling of its
 * own processes but not of root's (prlimit, setpriority of a process and of a group mixing
 * both, sched_setaffinity, kill).
 * conform: needs host root (becomes another user) */
#include "conform.h"
#include <sched.h>
#include <sys/resource.h>

static pid_t sleeper(void)
{
	pid_t p = fork();
	if (p == 0) {
		for (;;)
			pause();
	}
	return p;
}

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	res("setpgid", setpgid(0, 0));
	pid_t rootc = sleeper();
	pid_t u = fork();
	if (u == 0) {
		if (setresgid(1000, 1000, 1000) || setresuid(1000, 1000, 1000)) {
			say("setresuid: %s\n", errname(errno));
			_exit(1);
		}
		pid_t mine = sleeper();
		struct rlimit rl = {32, 32};
		res("prlimit own child", prlimit(mine, RLIMIT_NOFILE, &rl, NULL));
		res("prlimit root's", prlimit(rootc, RLIMIT_NOFILE, &rl, NULL));
		res("prlimit root's get", prlimit(rootc, RLIMIT_NOFILE, NULL, &rl));
		res("setpriority own child", setpriority(PRIO_PROCESS, mine, 8));
		res("setpriority root's", setpriority(PRIO_PROCESS, rootc, 8));
		errno = 0;
		int p = getpriority(PRIO_PROCESS, rootc);
		say("getpriority root's: %d %s\n", p, errno ? errname(errno) : "");
		res("setpriority mixed pgrp", setpriority(PRIO_PGRP, 0, 9));
		errno = 0;
		p = getpriority(PRIO_PROCESS, mine);
		say("own child after: %d %s\n", p, errno ? errname(errno) : "");
		errno = 0;
		p = getpriority(PRIO_PROCESS, 0);
		say("self after: %d %s\n", p, errno ? errname(errno) : "");
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(0, &set);
		res("sched_setaffinity own child", sched_setaffinity(mine, sizeof set, &set));
		res("sched_setaffinity root's", sched_setaffinity(rootc, sizeof set, &set));
		res("sched_getaffinity root's", sched_getaffinity(rootc, sizeof set, &set));
		res("kill root's", kill(rootc, 0));
		kill(mine, SIGKILL);
		waitpid(mine, NULL, 0);
		_exit(0);
	}
	int st;
	waitpid(u, &st, 0);
	errno = 0;
	int p = getpriority(PRIO_PROCESS, rootc);
	say("root's child: %d %s\n", p, errno ? errname(errno) : "");
	kill(rootc, SIGKILL);
	waitpid(rootc, NULL, 0);
	say("user part: exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return 0;
}
