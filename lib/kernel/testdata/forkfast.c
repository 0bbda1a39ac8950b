/* Run as init by TestForkFast: a child made by a fork the kernel lets run natively
 * (lib/kernel/forkfast.go) must get its parent's credentials and root as they were at the
 * fork, however late it makes its first trapped call, and nothing a guest can write into
 * its memory may give it others. Prints "NAME: OK" or "NAME: FAIL why" per case, then
 * "done". getresuid is made with syscall(): it traps to the kernel (getuid is answered by
 * the shim from the page fork copied). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* lib/kernel/internal/shim: Addr + Page1Off + TokenOff */
#define TOKEN ((volatile unsigned char *)(0x6ffff0000000UL + 0x1000 + 0x110))  /* shim.TokenOff */
#define PAGE1 ((void *)(0x6ffff0000000UL + 0x1000))

static void ok(const char *n) { printf("%s: OK\n", n); fflush(stdout); }
static void bad(const char *n, const char *why, long v) {
	printf("%s: FAIL %s (%ld)\n", n, why, v);
	fflush(stdout);
}

/* the real uid the kernel gives the caller (a trapped call) */
static long kuid(void) {
	uid_t r, e, s;
	if (syscall(SYS_getresuid, &r, &e, &s)) return -errno;
	return r;
}

/* waits for one byte on fd with passthrough calls only */
static void waitbyte(int fd) {
	char c;
	while (read(fd, &c, 1) < 0 && errno == EINTR) {}
}

/* the exit status of pid: its uid as seen by the kernel, or 200+signal */
static int reap(pid_t pid) {
	int st;
	if (waitpid(pid, &st, 0) != pid) return -1;
	if (WIFSIGNALED(st)) return 200 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

static int tokenzero(void) {
	for (int i = 0; i < 16; i++)
		if (TOKEN[i]) return 0;
	return 1;
}

static void *idle(void *a) {
	(void)a;
	for (;;) pause();
	return 0;
}

int main(void) {
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* 1. A child that makes its first call after its parent dropped its privileges keeps
	 * the parent's at the fork; a child forked after the drop has the new ones. */
	{
		int p[2];
		pipe(p);
		pid_t c = fork();
		if (c == 0) {
			waitbyte(p[0]);
			_exit(kuid() == 0 ? 0 : 1);
		}
		pid_t drop = fork();
		if (drop == 0) {
			/* a process that forks, then drops, then lets its child call */
			int q[2];
			pipe(q);
			pid_t cc = fork();
			if (cc == 0) {
				waitbyte(q[0]);
				_exit(kuid() == 0 ? 0 : 1);
			}
			if (setuid(1000)) _exit(9);
			if (!tokenzero()) _exit(8); /* nothing of the root's token is left */
			pid_t after = fork();
			if (after == 0) _exit(kuid() == 1000 ? 0 : 1);
			write(q[1], "x", 1);
			int a = reap(cc), b = reap(after);
			_exit(a == 0 && b == 0 ? 0 : 10 + (a != 0) + 2 * (b != 0));
		}
		int d = reap(drop);
		write(p[1], "x", 1);
		int r = reap(c);
		if (d != 0) bad("late-first-call", "a child's credentials after its parent's setuid", d);
		else if (r != 0) bad("late-first-call", "the first child's credentials", r);
		else ok("late-first-call");
		close(p[0]), close(p[1]);
	}

	/* 2. The parent dies before its child's first call: the child, reparented to init
	 * (root), keeps the parent's credentials. */
	{
		int p[2];
		pipe(p);
		pid_t mid = fork();
		if (mid == 0) {
			if (setuid(1000)) _exit(9);
			pid_t g = fork();
			if (g == 0) {
				while (getppid() != 1) usleep(1000);
				long u = kuid();
				write(p[1], &u, sizeof u);
				_exit(0);
			}
			_exit(0);
		}
		reap(mid);
		long u = -1;
		read(p[0], &u, sizeof u);
		if (u == 1000) ok("orphan-first-call");
		else bad("orphan-first-call", "an orphan's uid", u);
		while (waitpid(-1, 0, WNOHANG) > 0) {}
		close(p[0]), close(p[1]);
	}

	/* 3. Signals to a child that has not called yet: its parent (same uid) may, another
	 * uid may not. */
	{
		int pp[2], g[2];
		pipe(pp), pipe(g);
		pid_t s = fork();
		if (s == 0) {
			if (setuid(1001)) _exit(9);
			pid_t c = 0;
			read(pp[0], &c, sizeof c);
			int k = kill(c, SIGTERM);
			_exit(k == 0 ? 1 : errno == EPERM ? 0 : 100 + errno);
		}
		pid_t a = fork();
		if (a == 0) {
			if (setuid(1000)) _exit(9);
			pid_t c = fork();
			if (c == 0) {
				for (;;) pause();
			}
			write(pp[1], &c, sizeof c);
			waitbyte(g[0]);
			int k = kill(c, SIGTERM);
			int r = reap(c);
			_exit(k == 0 && r == 200 + SIGTERM ? 0 : 2 + (k != 0));
		}
		int o = reap(s);
		write(g[1], "x", 1);
		int r = reap(a);
		if (o != 0) bad("kill-before-first-call", "another uid's kill", o);
		else if (r != 0) bad("kill-before-first-call", "the parent's kill", r);
		else ok("kill-before-first-call");
		close(pp[0]), close(pp[1]), close(g[0]), close(g[1]);
	}

	/* 4. A token is good once: a process that copies the token its parent left (here: its
	 * own, already used by its own first call) into a new child's page gets nothing: the
	 * new child, which carries no token of its own any more, is killed at its first call. */
	{
		pid_t mid = fork();
		if (mid == 0) {
			kuid(); /* its first call: its token is used */
			unsigned char used[16];
			for (int i = 0; i < 16; i++) used[i] = TOKEN[i];
			if (setuid(1000)) _exit(9);
			pid_t c = fork();
			if (c == 0) {
				for (int i = 0; i < 16; i++) TOKEN[i] = used[i];
				_exit(kuid() == 0 ? 3 : 4);
			}
			_exit(reap(c));
		}
		int r = reap(mid);
		if (r == 200 + SIGKILL) ok("token-used-once");
		else bad("token-used-once", "a child with a used token was not killed", r);
	}

	/* 5. A process whose page cannot be written when it drops its privileges: the kernel
	 * cannot wipe its token, so that token's ticket is revoked, and a child that forges it
	 * is killed (the legitimate child too, which only a guest that write-protects its shim
	 * page can cause). */
	{
		pid_t mid = fork();
		if (mid == 0) {
			int q[2];
			pipe(q);
			pid_t a = fork();
			if (a == 0) {
				waitbyte(q[0]);
				_exit(kuid() == 0 ? 3 : 4);
			}
			unsigned char saved[16];
			for (int i = 0; i < 16; i++) saved[i] = TOKEN[i];
			mprotect(PAGE1, 4096, PROT_READ);
			if (setuid(1000)) _exit(9);
			mprotect(PAGE1, 4096, PROT_READ | PROT_WRITE);
			pid_t b = fork();
			if (b == 0) {
				for (int i = 0; i < 16; i++) TOKEN[i] = saved[i];
				_exit(kuid() == 0 ? 3 : 4);
			}
			int rb = reap(b);
			write(q[1], "x", 1);
			int ra = reap(a);
			_exit(rb == 200 + SIGKILL && ra == 200 + SIGKILL ? 0 : 10 + (rb == 3) + 2 * (ra == 3));
		}
		int r = reap(mid);
		if (r == 0) ok("unwipeable-token-revoked");
		else bad("unwipeable-token-revoked", "a forged or revoked token gave credentials", r);
	}

	/* 6. A multi-threaded process forks under ptrace, its child has its credentials. */
	{
		pid_t mid = fork();
		if (mid == 0) {
			if (setuid(1000)) _exit(9);
			pthread_t th;
			pthread_create(&th, 0, idle, 0);
			pid_t c = fork();
			if (c == 0) _exit(kuid() == 1000 ? 0 : 1);
			_exit(reap(c));
		}
		int r = reap(mid);
		if (r == 0) ok("threaded-parent");
		else bad("threaded-parent", "a threaded parent's child", r);
	}

	/* 7. Many forks whose children never call: their tickets are collected, and a child
	 * that calls late still has its own. */
	{
		int p[2];
		pipe(p);
		pid_t late = fork();
		if (late == 0) {
			if (setuid(1000)) _exit(9);
			pid_t c = fork();
			if (c == 0) {
				waitbyte(p[0]);
				_exit(kuid() == 1000 ? 0 : 1);
			}
			_exit(reap(c) == 0 ? 0 : 1);
		}
		for (int i = 0; i < 3000; i++) {
			pid_t c = fork();
			if (c == 0) _exit(0);
			if (c < 0) break;
			waitpid(c, 0, 0);
		}
		write(p[1], "x", 1);
		int r = reap(late);
		if (r == 0) ok("tickets-collected");
		else bad("tickets-collected", "a late child after many forks", r);
		close(p[0]), close(p[1]);
	}

	/* 8. chroot: a child forked before it is outside, one forked after is inside. */
	{
		mkdir("/tmp/jail", 0755);
		mkdir("/tmp/jail/tmp", 0755);
		pid_t mid = fork();
		if (mid == 0) {
			if (chroot("/tmp/jail") || chdir("/")) _exit(9);
			if (!tokenzero()) _exit(8);
			pid_t c = fork();
			if (c == 0) {
				struct stat st;
				/* /bin/busybox is outside the jail */
				_exit(stat("/bin/busybox", &st) == 0 ? 1 : 0);
			}
			_exit(reap(c));
		}
		int r = reap(mid);
		if (r == 0) ok("chroot-child");
		else bad("chroot-child", "a child of a chrooted process", r);
	}

	/* 9. kill(-1) by a non-root process that may not signal everyone reaches its child that
	 * has not called yet (the kernel signals the allowed ones itself). */
	{
		int g[2];
		pipe(g);
		pid_t rootkid = fork(); /* a root process kill(-1) must skip */
		if (rootkid == 0) {
			waitbyte(g[0]);
			_exit(0);
		}
		pid_t a = fork();
		if (a == 0) {
			/* kill(-1) spares its caller: a needs no protection of its own, and c is born
			 * with SIGTERM's default action (resetting it in c raced with the kill, and a
			 * c that was still ignoring it paused for ever) */
			if (setuid(1000)) _exit(9);
			pid_t c = fork();
			if (c == 0)
				for (;;) pause();
			int k = kill(-1, SIGTERM);
			int r = reap(c);
			_exit(k == 0 && r == 200 + SIGTERM ? 0 : 2 + (k != 0));
		}
		int r = reap(a);
		write(g[1], "x", 1);
		int rr = reap(rootkid);
		if (r == 0 && rr == 0) ok("kill-all-reaches-new-child");
		else bad("kill-all-reaches-new-child", "kill(-1) of a non-root process", r * 1000 + rr);
		close(g[0]), close(g[1]);
	}

	printf("done\n");
	fflush(stdout);
	reboot(RB_POWER_OFF);
	return 1;
}
