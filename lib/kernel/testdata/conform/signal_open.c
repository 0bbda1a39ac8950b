/* Signals against opens. Linux never interrupts the open of a regular file, however many
 * signals whose handlers lack SA_RESTART arrive (here SIGCHLD from a storm of exiting
 * children and from a child that sends it in a loop, as a shell's children do); it does
 * interrupt an open that waits, a FIFO's waiting for its peer: EINTR without SA_RESTART,
 * restarted with it. In the guest every open is a trapped call, so the storm aims at the
 * moment before the kernel receives it (lib/kernel/doc.go).
 *
 * argv[2], when given, is the number of opens of the storm (default 4000). */
#include "conform.h"
#include <sys/mman.h>
#include <sys/time.h>

static volatile sig_atomic_t handled;
static volatile int *shared; /* the alarms the parent handled, for its child to see */

static void on_signal(int sig)
{
	(void)sig;
	handled++;
	if (shared)
		__atomic_add_fetch(shared, 1, __ATOMIC_SEQ_CST);
}

static void handle(int sig, int flags)
{
	struct sigaction sa = {.sa_handler = on_signal, .sa_flags = flags};
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) < 0)
		printf("sigaction %d: %s\n", sig, errname(errno));
}

/* every 10 ms from now on, or never again (us 0) */
static void alarms(long us)
{
	struct itimerval it = {{0, us}, {0, us}};
	if (setitimer(ITIMER_REAL, &it, NULL) < 0)
		printf("setitimer: %s\n", errname(errno));
}

/* one open of the regular file "f" by a different route each time */
static int open_once(int i)
{
	switch (i % 4) {
	case 0: return open("f", O_RDONLY);
	case 1: return openat(AT_FDCWD, "f", O_RDONLY | O_CLOEXEC);
	case 2: return creat("f", 0644);
	default: {
		/* openat2 with a struct open_how {flags, mode, resolve} */
		unsigned long long how[3] = {O_RDWR, 0, 0};
		return syscall(SYS_openat2, AT_FDCWD, "f", how, sizeof how);
	}
	}
}

/* one path or metadata call, a different one each time: none of them waits, and Linux
 * never fails them with EINTR; each leaves the files as they were */
static int path_once(int i)
{
	char b[64];
	switch (i % 10) {
	case 0: return mkdir("d", 0755);
	case 1: return rmdir("d");
	case 2: return access("f", R_OK);
	case 3: return readlink("l", b, sizeof b) < 0 ? -1 : 0;
	case 4: return rename("f", "g");
	case 5: return rename("g", "f");
	case 6: return chmod("f", 0644);
	case 7: return utimensat(AT_FDCWD, "f", NULL, 0);
	case 8: return truncate("f", 5);
	default: return syscall(SYS_getcwd, b, sizeof b) < 0 ? -1 : 0;
	}
}

/* what the storm does each round: an open (then closed) or a path call */
static int opens(int i)
{
	int fd = open_once(i);
	if (fd >= 0)
		close(fd);
	return fd < 0 ? -1 : 0;
}

static void storm(int rounds, int (*call)(int), const char *what)
{
	handled = 0;
	handle(SIGCHLD, 0);
	pid_t parent = getpid();
	pid_t sender = fork();
	if (sender == 0) {
		for (;;)
			kill(parent, SIGCHLD);
	}
	int eintr = 0, other = 0, children = 0;
	/* at least rounds opens, and enough signals handled meanwhile that the storm was one */
	for (int i = 0; i < rounds || handled < 200; i++) {
		if (i % 8 == 0) {
			pid_t c = fork();
			if (c == 0)
				_exit(0);
			if (c > 0)
				children++;
		}
		if (call(i) == 0)
			;
		else if (errno == EINTR)
			eintr++;
		else if (other++ == 0)
			printf("%s %d: %s\n", what, i, errname(errno));
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
	kill(sender, SIGKILL);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	say("%s interrupted (EINTR): %d\n", what, eintr);
	say("%s failed otherwise: %d\n", what, other);
	say("children forked: %s, signals handled: %s\n", children > 0 ? "yes" : "no",
	    handled >= 200 ? "many" : "few");
	signal(SIGCHLD, SIG_DFL);
}

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkfile("f", "data\n", 0644);
	storm(argc > 2 ? atoi(argv[2]) : 4000, opens, "regular file opens");
	symlink("f", "l");
	storm(argc > 2 ? atoi(argv[2]) : 4000, path_once, "path calls");

	/* A FIFO's open waits for its peer and is interrupted: EINTR without SA_RESTART. */
	res("mkfifo", mkfifo("fifo", 0644));
	handle(SIGALRM, 0);
	handled = 0;
	alarms(10000);
	res("fifo open, alarm without SA_RESTART", open("fifo", O_RDONLY));
	alarms(0);
	say("alarm handled: %s\n", handled > 0 ? "yes" : "no");

	/* With SA_RESTART it goes on waiting through the alarms until a writer comes (a child,
	 * once the parent has handled three of them). */
	shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED) {
		printf("mmap: %s\n", errname(errno));
		return 1;
	}
	handle(SIGALRM, SA_RESTART);
	pid_t c = fork();
	if (c == 0) {
		while (__atomic_load_n(shared, __ATOMIC_SEQ_CST) < 3)
			usleep(1000);
		int w = open("fifo", O_WRONLY);
		_exit(w < 0);
	}
	alarms(10000);
	int r = open("fifo", O_RDONLY);
	alarms(0);
	resfd("fifo open, alarm with SA_RESTART", r, 0);
	if (r < 0)
		kill(c, SIGKILL); /* its open would wait for a reader for ever */
	int st;
	while (waitpid(c, &st, 0) < 0 && errno == EINTR)
		;
	say("writer: %s, alarms handled: %s\n", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "ok" : "failed",
	    *shared >= 3 ? "3 or more" : "fewer");
	return 0;
}
