// The ratchet (lib/kernel/ratchet.go), run as a guest by TestShimRatchet. A path stat made
// from the shim's first syscall site (G1) is the kernel's to answer while the process is
// guest root without chroot (statx of a readable file: 0), and fails with EACCES in the filter
// for good once the process stopped being that: after setuid, setresuid, setfsuid, chroot, a
// set-user-ID exec, in every thread, in children forked afterwards and after exec; not in a
// child forked before, not after setgid alone. The fd's own stat (a NULL path) still works.
// G1 comes from the test; built with -mno-red-zone because it calls G1 with a call
// instruction.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "g1.h"

#include "check.h"

static const char *target = "/bin/busybox"; // readable by everyone, in a searchable directory

// g1stat returns what a G1 statx of target gives (0: the kernel answered).
static long g1stat(void) {
	struct statx stx;
	return g1(SYS_statx, AT_FDCWD, (long)target, 0, STATX_BASIC_STATS, (long)&stx);
}

// g1calls checks every call the ratchet takes from G1 against want (0 or -EACCES).
static void g1calls(const char *where, long want) {
	struct stat st;
	struct statx stx;
	long r = g1stat();
	CHECK(r == want, "%s: G1 statx of a path: %ld, want %ld", where, r, want);
	r = g1(SYS_newfstatat, AT_FDCWD, (long)target, (long)&st, 0, 0);
	CHECK(r == want, "%s: G1 newfstatat of a path: %ld, want %ld", where, r, want);
	// (getxattr by path from G1 is the shim's, SIGSYS, before and after: the ratchet's
	// rule for it waits for the filter to let G1 make it natively)
	// the fd's own stat, the shim's fstat path, is never taken
	int fd = open(target, O_RDONLY);
	r = g1(SYS_statx, fd, 0, AT_EMPTY_PATH, STATX_BASIC_STATS, (long)&stx);
	CHECK(r == 0, "%s: G1 statx of an fd (NULL path): %ld", where, r);
	CHECK(fstat(fd, &st) == 0 && st.st_size > 0, "%s: fstat", where);
	close(fd);
}

// child runs f in a child process and returns its failure count.
static void child(const char *what, void (*f)(void)) {
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		fails = 0;
		f();
		fflush(stdout);
		_exit(fails);
	}
	int ws;
	CHECK(waitpid(p, &ws, 0) == p && WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "%s: child status %#x", what, ws);
}

static void expect_eacces(void) { g1calls("a child", -EACCES); }
static void expect_root(void) { g1calls("a child", 0); }

static volatile int go, ready;
static long thread_result = 1;

static void *waiter(void *arg) {
	(void)arg;
	while (!go)
		usleep(1000);
	thread_result = g1stat();
	return NULL;
}

static const char *self;

// run_self execs this program with args (in a child) and checks it succeeded.
static void run_self(const char *what, const char *a1, const char *a2) {
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		execl(self, self, a1, a2, (char *)NULL);
		_exit(99);
	}
	int ws;
	CHECK(waitpid(p, &ws, 0) == p && WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "%s: status %#x", what, ws);
}

static void setuid_case(void) {
	pthread_t th;
	pthread_create(&th, NULL, waiter, NULL);
	pid_t before = fork(); // forked while root: stays root and unratcheted
	if (before == 0) {
		_exit(g1stat() == 0 ? 0 : 1);
	}
	// the raw call: only this thread asks (glibc's setuid asks in every thread)
	CHECK(syscall(SYS_setuid, 1000) == 0, "setuid(1000): %s", strerror(errno));
	CHECK(getuid() == 1000, "getuid %d", getuid());
	g1calls("after setuid", -EACCES);
	go = 1;
	pthread_join(th, NULL);
	CHECK(thread_result == -EACCES, "another thread after setuid: %ld", thread_result);
	int ws;
	CHECK(waitpid(before, &ws, 0) == before && WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "a child forked before setuid: %#x", ws);
	child("a child forked after setuid", expect_eacces);
	run_self("exec after setuid", "expect", "-13");
}

static void setresuid_case(void) {
	CHECK(setresuid(1000, 1000, 0) == 0, "setresuid: %s", strerror(errno));
	g1calls("after setresuid(1000, 1000, 0)", -EACCES);
	CHECK(setresuid(0, 0, 0) == 0, "back to root: %s", strerror(errno));
	g1calls("root again (the ratchet stays)", -EACCES);
}

static void setfsuid_case(void) {
	setfsuid(1000);
	g1calls("after setfsuid(1000)", -EACCES);
	setfsuid(0);
	g1calls("setfsuid(0) again", -EACCES);
}

static void setgid_case(void) {
	CHECK(setgid(1000) == 0 && setgroups(0, NULL) == 0, "setgid: %s", strerror(errno));
	g1calls("after setgid alone", 0);
}

static void chroot_case(void) {
	CHECK(chroot("/") == 0, "chroot: %s", strerror(errno));
	g1calls("after chroot", -EACCES);
}

static void setuid_exec_case(void) {
	// a set-user-ID copy of this program, owned by 1000
	run_self("set-user-ID exec", "suid", "");
}

// The guest's own filter on one thread only: TSYNC cannot put the ratchet in every thread,
// so setuid fails with EAGAIN and nothing changes.
static void *own_filter(void *arg) {
	(void)arg;
	struct sock_filter f[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
	struct sock_fprog prog = {1, f};
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
	CHECK(r == 0, "a thread's own filter: %s", strerror(errno));
	ready = 1;
	while (!go)
		usleep(1000);
	return NULL;
}

static void divergent_case(void) {
	pthread_t th;
	go = 0;
	pthread_create(&th, NULL, own_filter, NULL);
	while (!ready)
		usleep(1000);
	long r = syscall(SYS_setuid, 1000);
	CHECK(r == -1 && errno == EAGAIN, "setuid with a thread's own filter: %ld %s", r, strerror(errno));
	CHECK(getuid() == 0, "getuid %d after the failed setuid", getuid());
	g1calls("after the failed setuid", 0);
	go = 1;
	pthread_join(th, NULL);
}

int main(int argc, char **argv) {
	self = argv[0];
	if (argc == 3 && strcmp(argv[1], "expect") == 0) {
		long want = atol(argv[2]);
		g1calls("after exec", want);
		return fails;
	}
	if (argc == 3 && strcmp(argv[1], "suid") == 0) {
		// the set-user-ID copy: made by root, then run by root
		const char *copy = "/ratchet-suid";
		char cmd[256];
		snprintf(cmd, sizeof cmd, "cp %s %s && chown 1000 %s && chmod 4755 %s", self, copy, copy, copy);
		CHECK(system(cmd) == 0, "making %s", copy);
		fflush(stdout);
		pid_t p = fork();
		if (p == 0) {
			execl(copy, copy, "suidrun", "", (char *)NULL);
			_exit(99);
		}
		int ws;
		CHECK(waitpid(p, &ws, 0) == p && WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "set-user-ID run: %#x", ws);
		return fails;
	}
	if (argc == 3 && strcmp(argv[1], "suidrun") == 0) {
		CHECK(geteuid() == 1000 && getuid() == 0, "ids %d %d", getuid(), geteuid());
		g1calls("a set-user-ID program", -EACCES);
		return fails;
	}
	g1calls("root", 0);
	child("setuid", setuid_case);
	child("setresuid", setresuid_case);
	child("setfsuid", setfsuid_case);
	child("setgid", setgid_case);
	child("chroot", chroot_case);
	child("set-user-ID exec", setuid_exec_case);
	child("a thread with its own filter", divergent_case);
	child("root child", expect_root);
	g1calls("root at the end", 0);
	printf("ratchet: %d failures\n", fails);
	return fails != 0;
}
