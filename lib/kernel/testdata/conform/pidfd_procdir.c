/* pidfd_send_signal through an fd of a /proc/PID directory, which Linux takes as a pidfd
 * (Python's test_signal does it): to itself (the handler runs), to a child (it dies of the
 * signal), signal 0, a siginfo of its own making, and an fd of another
 * directory or of a non-process /proc directory (EBADF). */
#include "conform.h"
#include <signal.h>
#include <sys/wait.h>

static volatile sig_atomic_t got;
static void on_usr1(int s) { got = s; }

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	signal(SIGUSR1, on_usr1);
	int self = open("/proc/self", O_DIRECTORY | O_RDONLY);
	res("open /proc/self", self >= 0 ? 0 : -1);
	res("to itself", syscall(SYS_pidfd_send_signal, self, SIGUSR1, NULL, 0));
	say("handler ran: %s\n", yesno(got == SIGUSR1));
	res("signal 0", syscall(SYS_pidfd_send_signal, self, 0, NULL, 0));
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_signo = SIGUSR1;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	got = 0;
	res("own siginfo", syscall(SYS_pidfd_send_signal, self, SIGUSR1, &si, 0));
	say("handler ran: %s\n", yesno(got == SIGUSR1));

	pid_t c = fork();
	if (c == 0) {
		for (;;)
			pause();
	}
	char p[64];
	snprintf(p, sizeof p, "/proc/%d", c);
	int cfd = open(p, O_DIRECTORY | O_RDONLY);
	res("open /proc/CHILD", cfd >= 0 ? 0 : -1);
	si.si_code = SI_USER;
	res("child, SI_USER siginfo", syscall(SYS_pidfd_send_signal, cfd, SIGTERM, &si, 0));
	res("to the child", syscall(SYS_pidfd_send_signal, cfd, SIGTERM, NULL, 0));
	int st;
	waitpid(c, &st, 0);
	say("child: %s\n", WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "exited");

	int sys = open("/proc/sys", O_DIRECTORY | O_RDONLY);
	res("/proc/sys", syscall(SYS_pidfd_send_signal, sys, SIGUSR1, NULL, 0));
	int dot = open(".", O_DIRECTORY | O_RDONLY);
	res("a directory", syscall(SYS_pidfd_send_signal, dot, SIGUSR1, NULL, 0));
	return 0;
}
