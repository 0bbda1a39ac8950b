/* A guest program for TestShimInGuest: what the in-guest shim (SIGSYS) must get right.
 * argv[1] selects the case; every case prints what it saw, the test checks it. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static long sys0(long nr) { return syscall(nr); }

static volatile sig_atomic_t got, gotcode;
static void onsig(int s, siginfo_t *si, void *u) { got = s; gotcode = si->si_code; (void)u; }
static void onusr1(int s) { (void)s; got++; }
static void inhandler(int s) { (void)s; got = (int)sys0(SYS_getuid) + 1; }

static int child_fn(void *arg) {
	int local;
	char *stack = arg;
	/* the child runs on the stack it was given */
	_exit((char *)&local > stack && (char *)&local < stack + 65536 ? 9 : 8);
}

static int waitfor(pid_t p) {
	int st;
	while (waitpid(p, &st, 0) < 0)
		if (errno != EINTR) return -1;
	return st;
}

int main(int argc, char **argv) {
	const char *m = argc > 1 ? argv[1] : "";
	if (!strcmp(m, "ids")) {
		printf("root %ld %ld %ld %ld\n", sys0(SYS_getuid), sys0(SYS_geteuid), sys0(SYS_getgid), sys0(SYS_getegid));
		fflush(stdout);
		if (syscall(SYS_setresgid, 50, 51, 52) || syscall(SYS_setresuid, 1000, 1001, 1002)) perror("setres");
		printf("user %ld %ld %ld %ld\n", sys0(SYS_getuid), sys0(SYS_geteuid), sys0(SYS_getgid), sys0(SYS_getegid));
		pid_t p = fork();
		if (p == 0) {
			printf("child %ld %ld\n", sys0(SYS_getuid), sys0(SYS_geteuid));
			fflush(stdout);
			_exit(0);
		}
		waitfor(p);
		return 0;
	}
	if (!strcmp(m, "mask")) {
		sigset_t all, old;
		sigfillset(&all);
		sigprocmask(SIG_BLOCK, &all, NULL);
		long u = sys0(SYS_getuid); /* a trap with SIGSYS blocked would kill us */
		sigprocmask(SIG_SETMASK, NULL, &old);
		printf("mask uid=%ld sigsys=%d usr1=%d\n", u, sigismember(&old, SIGSYS), sigismember(&old, SIGUSR1));
		struct sigaction sa = {0}, back;
		sa.sa_handler = inhandler;
		sigfillset(&sa.sa_mask);
		sigaction(SIGUSR2, &sa, NULL);
		sigaction(SIGUSR2, NULL, &back);
		sigprocmask(SIG_SETMASK, &(sigset_t){0}, NULL);
		raise(SIGUSR2);
		printf("handler uid+1=%d samask-sigsys=%d samask-usr1=%d\n", (int)got, sigismember(&back.sa_mask, SIGSYS),
		       sigismember(&back.sa_mask, SIGUSR1));
		return 0;
	}
	if (!strcmp(m, "sigsys")) {
		struct sigaction sa = {0}, old = {0};
		sa.sa_sigaction = onsig;
		sa.sa_flags = SA_SIGINFO;
		sigaction(SIGSYS, &sa, NULL);
		sigaction(SIGSYS, NULL, &old);
		kill(getpid(), SIGSYS);
		printf("sigsys same=%d got=%d code=%d uid=%ld\n", old.sa_sigaction == onsig, (int)got, (int)gotcode, sys0(SYS_getuid));
		signal(SIGSYS, SIG_IGN);
		kill(getpid(), SIGSYS);
		printf("ignored\n");
		fflush(stdout);
		signal(SIGSYS, SIG_DFL);
		kill(getpid(), SIGSYS);
		printf("not reached\n");
		return 1;
	}
	if (!strcmp(m, "storm")) {
		/* Forks and execs under a rain of signals whose handler lacks SA_RESTART: Linux never
		 * fails fork or execve with EINTR, and neither may we. */
		struct sigaction sa = {0};
		sa.sa_handler = onusr1;
		sigaction(SIGUSR1, &sa, NULL);
		pid_t me = getpid();
		pid_t rain = fork();
		if (rain == 0) {
			for (;;) {
				if (kill(me, SIGUSR1)) _exit(0);
				usleep(50);
			}
		}
		int eintr = 0, bad = 0, n = 300;
		for (int i = 0; i < n; i++) {
			pid_t p = fork();
			if (p < 0) {
				if (errno == EINTR) eintr++; else bad++;
				continue;
			}
			if (p == 0) {
				if (i % 3 == 0) execl("/bin/true", "true", (char *)0);
				_exit(0);
			}
			if (waitfor(p) != 0) bad++;
		}
		kill(rain, SIGKILL);
		waitfor(rain);
		printf("storm forks=%d eintr=%d bad=%d signals>0=%d\n", n, eintr, bad, got > 0);
		return 0;
	}
	if (!strcmp(m, "spawn")) {
		pid_t p = vfork();
		if (p == 0) {
			execl("/bin/echo", "echo", "vforked", (char *)0);
			_exit(127);
		}
		printf("vfork status=%d\n", waitfor(p));
		fflush(stdout);
		char *av[] = {"echo", "spawned", NULL};
		if (posix_spawn(&p, "/bin/echo", NULL, NULL, av, environ) == 0) printf("spawn status=%d\n", waitfor(p));
		fflush(stdout);
		static char stack[65536] __attribute__((aligned(16)));
		p = clone(child_fn, stack + sizeof stack, SIGCHLD, stack);
		int st = waitfor(p);
		printf("clone exit=%d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		return 0;
	}
	fprintf(stderr, "unknown case %s\n", m);
	return 2;
}
