/* initsig: run as the guest's init. Linux protects a PID namespace's init from its own
 * namespace: SIGKILL and SIGSTOP never reach it, and another signal only when init
 * catches it. Children (guest root) send init signals every way there is — kill, tgkill, rt_sigqueueinfo,
 * pidfd_open's pidfd, an fd of /proc/1 used as a pidfd, kill(0) in init's group — and init
 * checks after each child that it is alive, running, and got exactly the caught signals.
 * One line per case ("NAME: OK" or what went wrong), then "done". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <grp.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got_usr1, got_usr2;

static void on_usr1(int s) { (void)s; got_usr1++; }
static void on_usr2(int s) { (void)s; got_usr2++; }

enum how { KILL, TGKILL, SIGQUEUE, PIDFD, PROCDIR, GROUP, NHOW };
static const char *hows[] = {"kill", "tgkill", "rt_sigqueueinfo", "pidfd_open", "procdir", "group"};

/* send runs in a child: sends sig to init by how, as uid (0 stays root). Exit status 0
 * when the call succeeded, else 100 + errno. */
static int send(enum how how, int sig, int uid) {
	if (uid && (setgroups(0, NULL) || setresgid(uid, uid, uid) || setresuid(uid, uid, uid)))
		return 99;
	long r = -1;
	switch (how) {
	case KILL:
		r = kill(1, sig);
		break;
	case TGKILL:
		r = syscall(SYS_tgkill, 1, 1, sig);
		break;
	case SIGQUEUE: {
		siginfo_t si;
		memset(&si, 0, sizeof si);
		si.si_signo = sig;
		si.si_code = SI_QUEUE;
		si.si_pid = getpid();
		si.si_uid = getuid();
		r = syscall(SYS_rt_sigqueueinfo, 1, sig, &si);
		break;
	}
	case PIDFD: {
		int fd = syscall(SYS_pidfd_open, 1, 0);
		if (fd < 0)
			return 100 + errno;
		r = syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
		break;
	}
	case PROCDIR: {
		int fd = open("/proc/1", O_RDONLY | O_DIRECTORY);
		if (fd < 0)
			return 100 + errno;
		r = syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
		break;
	}
	case GROUP:
		/* the sender is in the group too: it ignores what it can, and SIGKILL or SIGSTOP
		 * end or stop it (main expects that) */
		if (sig == SIGTERM || sig == SIGINT)
			signal(sig, SIG_IGN);
		r = kill(0, sig);
		break;
	default:
		break;
	}
	return r == 0 ? 0 : 100 + errno;
}

int main(void) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getpid() != 1) {
		printf("not init: pid %d\n", getpid());
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_usr2;
	sigaction(SIGUSR2, &sa, NULL);
	signal(SIGHUP, SIG_IGN);
	setsid(); /* init's group, which kill(0) of a child reaches */

	/* sig, what init must see: 1 = caught once, 0 = nothing (and init goes on running) */
	struct { int sig, caught; } sigs[] = {
		{SIGKILL, 0}, {SIGSTOP, 0}, {SIGTERM, 0}, {SIGINT, 0}, {SIGHUP, 0}, {SIGUSR1, 1}, {SIGUSR2, 1},
	};
	for (int h = 0; h < NHOW; h++) {
		for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
			int sig = sigs[i].sig;
			char name[96];
			snprintf(name, sizeof name, "root %s SIG%s", hows[h], sigabbrev_np(sig));
			got_usr1 = got_usr2 = 0;
			pid_t c = fork();
			if (c == 0)
				_exit(send(h, sig, 0));
			int st;
			while (waitpid(c, &st, WUNTRACED) < 0 && errno == EINTR) {
			}
			if (h == GROUP && ((WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP) || (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))) {
				if (WIFSTOPPED(st)) {
					kill(c, SIGKILL);
					while (waitpid(c, &st, 0) < 0 && errno == EINTR) {
					}
				}
				st = 0; /* its own signal reached it */
			}
			/* a caught signal may still be on its way: give it a moment */
			for (int n = 0; n < 100 && sigs[i].caught && !(sig == SIGUSR1 ? got_usr1 : got_usr2); n++)
				usleep(10000);
			int got = sig == SIGUSR1 ? got_usr1 : sig == SIGUSR2 ? got_usr2 : 0;
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				printf("%s: the sender's call failed (status %#x)\n", name, st);
			else if (got != sigs[i].caught)
				printf("%s: init caught it %d times, want %d\n", name, got, sigs[i].caught);
			else
				printf("%s: OK\n", name);
		}
	}
	/* a guest user may not signal root's init at all */
	for (int h = 0; h < NHOW; h++) {
		if (h == GROUP)
			continue; /* kill(0) reaches the sender itself too: it is allowed */
		pid_t c = fork();
		if (c == 0)
			_exit(send(h, SIGUSR1, 1000));
		int st;
		while (waitpid(c, &st, 0) < 0 && errno == EINTR) {
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 100 + EPERM)
			printf("user %s: status %#x, want EPERM\n", hows[h], st);
		else
			printf("user %s: OK\n", hows[h]);
	}
	printf("done\n");
	fflush(stdout);
	syscall(SYS_reboot, 0xfee1dead, 0x28121969, 0x4321fedc, 0);
	return 0;
}
