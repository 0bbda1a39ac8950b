#define _GNU_SOURCE
/* Calls gouml must emulate, unlike getppid (native in the guest's PID namespace):
 *   getuid_us       answered in the caller's own process by the shim (SIGSYS)
 *   sigprocmask_us  made natively by the shim, SIGSYS taken out of the mask (SIGSYS)
 *   getresuid_us    a seccomp user notification to the kernel (writes guest memory)
 *   getgroups0_us   a seccomp user notification answered from the registers alone
 *                   (getgroups(0, NULL): the trap path's own cost, beside the C floor)
 *   fstat_us        fstat of a file of the root, as glibc 2.36 makes it (newfstatat(fd, "",
 *                   AT_EMPTY_PATH)): answered by the shim's stat path (SIGSYS)
 * Each prints "name N" in microseconds per call. */
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

static double since(struct timespec *a) {
	struct timespec b;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return ((b.tv_sec - a->tv_sec) * 1e9 + (b.tv_nsec - a->tv_nsec)) / 1000.0;
}

int main(int argc, char **argv) {
	(void)argc;
	enum { N = 200000 };
	struct timespec a;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < N; i++) syscall(SYS_getuid);
	printf("getuid_us %.3f\n", since(&a) / N);

	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < N; i++) syscall(SYS_rt_sigprocmask, i & 1 ? SIG_UNBLOCK : SIG_BLOCK, &s, NULL, 8);
	printf("sigprocmask_us %.3f\n", since(&a) / N);

	uid_t r, e, sv;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < N / 4; i++) syscall(SYS_getresuid, &r, &e, &sv);
	printf("getresuid_us %.3f\n", since(&a) / (N / 4));

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < N / 4; i++) syscall(SYS_getgroups, 0, NULL);
	printf("getgroups0_us %.3f\n", since(&a) / (N / 4));

	int fd = open(argv[0], O_RDONLY);
	if (fd >= 0) {
		/* the program's own file (run by its absolute path): of the root tree in the guest */
		struct stat st;
		clock_gettime(CLOCK_MONOTONIC, &a);
		for (int i = 0; i < N / 4; i++) syscall(SYS_newfstatat, fd, "", &st, AT_EMPTY_PATH);
		printf("fstat_us %.3f\n", since(&a) / (N / 4));
	}
	return 0;
}
