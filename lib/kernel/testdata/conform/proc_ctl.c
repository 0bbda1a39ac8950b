/* Controlling one's own processes: pidfd_open and pidfd_send_signal to a child, prlimit on
 * a child, setpriority/getpriority of one's own process group (a new one: never the
 * runner's) and of a child, sendmmsg and recvmmsg on a socketpair. Nice values only rise,
 * from the one the test started with (a test run under nice(1) starts above 0), and are
 * shown relative to it: lowering one needs CAP_SYS_NICE of the host, which a guest's root
 * lacks. No PRIO_USER: natively it would renice every process of the user. */
#include "conform.h"
#include <sys/resource.h>
#include <sys/socket.h>

/* nicer is base raised by d, at most 19 (the weakest priority) */
static int nicer(int base, int d)
{
	return base + d > 19 ? 19 : base + d;
}

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	errno = 0;
	int base = getpriority(PRIO_PROCESS, 0);
	if (errno)
		base = 0;
	/* a process group of its own: the runner's holds the test itself */
	res("setpgid", setpgid(0, 0));
	pid_t c = fork();
	if (c == 0) {
		for (;;)
			pause();
	}
	int pfd = syscall(SYS_pidfd_open, c, 0);
	res("pidfd_open child", pfd);
	res("pidfd_send_signal 0", syscall(SYS_pidfd_send_signal, pfd, 0, NULL, 0));
	struct rlimit rl = {64, 64}, old;
	res("prlimit child set NOFILE", prlimit(c, RLIMIT_NOFILE, &rl, &old));
	res("prlimit child get", prlimit(c, RLIMIT_NOFILE, NULL, &rl));
	say("child NOFILE: %lu %lu\n", (unsigned long)rl.rlim_cur, (unsigned long)rl.rlim_max);
	res("prlimit self get", prlimit(0, RLIMIT_NOFILE, NULL, &old));
	res("setpriority child", setpriority(PRIO_PROCESS, c, nicer(base, 5)));
	errno = 0;
	int p = getpriority(PRIO_PROCESS, c);
	say("getpriority child: base%+d %s\n", p - base, errno ? errname(errno) : "");
	res("setpriority own pgrp", setpriority(PRIO_PGRP, 0, nicer(base, 6)));
	errno = 0;
	p = getpriority(PRIO_PGRP, 0);
	say("getpriority own pgrp: base%+d %s\n", p - base, errno ? errname(errno) : "");
	res("setpriority own pgrp by id", setpriority(PRIO_PGRP, getpgrp(), nicer(base, 7)));
	res("pidfd_send_signal KILL", syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0));
	int st;
	waitpid(c, &st, 0);
	say("child: %s\n", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? "killed" : "other");
	res("pidfd_send_signal ended", syscall(SYS_pidfd_send_signal, pfd, 0, NULL, 0));
	res("pidfd_send_signal bad fd", syscall(SYS_pidfd_send_signal, 0, 0, NULL, 0));
	close(pfd);

	int sv[2];
	res("socketpair", socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
	struct iovec iv[2] = {{"one", 3}, {"three", 5}};
	struct mmsghdr m[2];
	memset(m, 0, sizeof m);
	m[0].msg_hdr.msg_iov = &iv[0];
	m[0].msg_hdr.msg_iovlen = 1;
	m[1].msg_hdr.msg_iov = &iv[1];
	m[1].msg_hdr.msg_iovlen = 1;
	resv("sendmmsg", sendmmsg(sv[0], m, 2, 0));
	say("msg_len: %u %u\n", m[0].msg_len, m[1].msg_len);
	char b0[8], b1[8];
	struct iovec rv[2] = {{b0, 8}, {b1, 8}};
	memset(m, 0, sizeof m);
	m[0].msg_hdr.msg_iov = &rv[0];
	m[0].msg_hdr.msg_iovlen = 1;
	m[1].msg_hdr.msg_iov = &rv[1];
	m[1].msg_hdr.msg_iovlen = 1;
	resv("recvmmsg", recvmmsg(sv[1], m, 2, MSG_DONTWAIT, NULL));
	say("got: %.*s %.*s\n", (int)m[0].msg_len, b0, (int)m[1].msg_len, b1);
	return 0;
}
