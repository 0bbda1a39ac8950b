/* What the syscall fuzzer (sysfuzz.c) found in the rewritten jail, each as a deterministic
 * case, run as the guest's init by TestFuzzFindings. Prints "name: OK" or "name: BAD ...";
 * a case that hangs the kernel shows as a missing line and a test that times out. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char buf[4096];
static void ok(const char *n) { printf("%s: OK\n", n); fflush(stdout); }
static void bad(const char *n, const char *why) { printf("%s: BAD %s\n", n, why); fflush(stdout); }

/* 1: a blocking FIFO open interrupted while the process has a signal pending that another
 * thread takes must never return the kernel's internal ERESTARTSYS (512) */
static volatile int stop;
static int leaked, interrupted;
static void on_sig(int s) { (void)s; }
static void *opener(void *arg) {
	(void)arg;
	timer_t tm;
	struct sigevent ev = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGUSR2};
	ev._sigev_un._tid = gettid();
	timer_create(CLOCK_MONOTONIC, &ev, &tm);
	struct itimerspec it = {{0, 50000000}, {0, 50000000}};
	timer_settime(tm, 0, &it, NULL);
	while (!stop) {
		int fd = open("/tmp/rfifo", O_RDONLY);
		if (fd >= 0) { close(fd); continue; }
		if (errno == 512 || errno == 513 || errno == 514 || errno == 516) leaked++;
		else if (errno == EINTR) interrupted++;
	}
	timer_delete(tm);
	return NULL;
}
static void *sleeper(void *arg) { (void)arg; while (!stop) usleep(1000); return NULL; }

static void case_restart(void) {
	mkfifo("/tmp/rfifo", 0644);
	struct sigaction sa = {.sa_handler = on_sig};
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, SIGUSR1);
	pthread_t o, s[3];
	pthread_create(&o, NULL, opener, NULL);
	for (int i = 0; i < 3; i++) pthread_create(&s[i], NULL, sleeper, NULL);
	pthread_sigmask(SIG_BLOCK, &one, NULL);
	for (int i = 0; i < 2000; i++) { kill(getpid(), SIGUSR1); usleep(500); }
	stop = 1;
	int w = open("/tmp/rfifo", O_WRONLY | O_NONBLOCK); /* release a pending open */
	pthread_join(o, NULL);
	if (w >= 0) close(w);
	for (int i = 0; i < 3; i++) pthread_join(s[i], NULL);
	pthread_sigmask(SIG_UNBLOCK, &one, NULL);
	if (leaked) { snprintf(buf, sizeof buf, "%d opens returned a restart code (%d EINTR)", leaked, interrupted); bad("fifo-open-restart-code", buf); }
	else ok("fifo-open-restart-code");
}

/* 2: kill(1, SIGSYS) by another user's process: init ignores it, as Linux's does */
static void case_sigsys_init(void) {
	pid_t p = fork();
	if (p == 0) {
		setgid(1000);
		setuid(1000);
		kill(1, SIGSYS);
		_exit(0);
	}
	waitpid(p, NULL, 0);
	sleep(1);
	/* calls the shim answers: with init's SIGSYS action lost they would kill it */
	sigset_t m;
	if (getuid() != 0 || geteuid() != 0 || sigprocmask(SIG_BLOCK, NULL, &m) != 0) bad("sigsys-to-init", "ids");
	ok("sigsys-to-init");
}

/* 3: a FIFO in the root's own /dev opened for writing by one thread must not stop another
 * thread's calls */
static void *fifo_writer(void *arg) {
	(void)arg;
	int fd = open("/dev/myfifo", O_WRONLY);
	if (fd >= 0) close(fd);
	return NULL;
}
static void case_dev_fifo(void) {
	mkfifo("/dev/myfifo", 0666);
	pthread_t th;
	pthread_create(&th, NULL, fifo_writer, NULL);
	usleep(100000);
	struct utsname u;
	if (uname(&u) != 0) bad("dev-fifo", "uname failed");
	int r = open("/dev/myfifo", O_RDONLY | O_NONBLOCK); /* lets the writer through */
	pthread_join(th, NULL);
	if (r >= 0) close(r);
	unlink("/dev/myfifo");
	ok("dev-fifo");
}

/* 4: a symlink target longer than a block of a mounted image fails at once, and the image
 * still unmounts */
static void case_long_symlink(void) {
	mkdir("/mnt/img", 0755);
	if (mount("/dev/ubdb", "/mnt/img", "ext4", 0, NULL) != 0) { bad("long-symlink", strerror(errno)); return; }
	char target[2001];
	memset(target, 'x', 2000);
	target[2000] = 0;
	int r = symlink(target, "/mnt/img/long");
	int e = errno;
	if (r == 0) bad("long-symlink", "created");
	else if (e != ENAMETOOLONG) { snprintf(buf, sizeof buf, "errno %d", e); bad("long-symlink", buf); }
	if (symlink("short", "/mnt/img/short") != 0) bad("long-symlink", "a short link failed");
	sync();
	if (umount("/mnt/img") != 0) { snprintf(buf, sizeof buf, "umount: %s", strerror(errno)); bad("long-symlink", buf); }
	ok("long-symlink");
}

int main(void) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	case_restart();
	case_sigsys_init();
	case_dev_fifo();
	case_long_symlink();
	printf("done\n");
	reboot(RB_POWER_OFF);
	return 1;
}
