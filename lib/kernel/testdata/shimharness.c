/* Runs the shim page (lib/kernel/shim.go) the way gouml's supervisor sets it up in a
 * guest process, without the supervisor: maps the page built by the Go test at
 * SHIM_ADDR, installs its SIGSYS handler and a seccomp filter that traps like
 * gouml's, then reports what the trapped system calls returned (TestShimHandler).
 *
 * usage: shimharness MODE PAGEFILE [DATAFILE DATAOFF]
 *   ids              print the results of the trapped calls
 *   foreign-ign      kill(self, SIGSYS) with the page's guest disposition SIG_IGN
 *   foreign-handler  the guest disposition is patched to a handler of this program:
 *                    kill(self, SIGSYS), then a trap of a second, "guest" filter
 *   foreign-dfl      kill(self, SIGSYS) with guest disposition SIG_DFL: must die
 *   foreign-dfl-trap a trap of a "guest" filter with SIG_DFL: must die
 *   blocked          a trapped call with SIGSYS blocked: dies (a kernel rule)
 *   update           print ids, write DATAFILE at SHIM_ADDR+DATAOFF, print ids
 *   bench            time 1e6 trapped getuid calls (log only)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define SHIM_ADDR 0x6ffff0000000UL
#define SHIM_SIGACTION 0x800
#define SHIM_GUEST 0x840
#define SHIM_TRAP_DATA 0x5547
#define GUEST_TRAP_DATA 0x1234
#define GUEST_TRAP_NR SYS_getcwd
#define GUEST_TRAP_RET 4242
#define PAGE 4096

/* Raw system calls: the value in rax, not libc's -1/errno translation. */
static long raw4(long nr, long a, long b, long c, long d) {
	long ret;
	register long r10 __asm__("r10") = d;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
	return ret;
}
static long raw0(long nr) { return raw4(nr, 0, 0, 0, 0); }

static void die(const char *what) {
	fprintf(stderr, "shimharness: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void read_file(const char *path, unsigned char *buf, size_t n) {
	FILE *f = fopen(path, "rb");
	if (!f) die(path);
	size_t got = fread(buf, 1, n, f);
	if (got != n || fgetc(f) != EOF) {
		fprintf(stderr, "shimharness: %s: want exactly %zu bytes\n", path, n);
		exit(2);
	}
	fclose(f);
}

/* Writes into the read-only page the way the supervisor does: through /proc/PID/mem,
 * which may write read-only private mappings. Kernels booted with
 * proc_mem.force_override=never|ptrace refuse that for a process on itself; then
 * fall back to making the page writable for a moment. */
static const char *poke(unsigned long addr, const void *buf, size_t n) {
	int fd = open("/proc/self/mem", O_RDWR);
	if (fd >= 0) {
		ssize_t w = pwrite(fd, buf, n, (off_t)addr);
		close(fd);
		if (w == (ssize_t)n) return "procmem";
	}
	unsigned long page = addr & ~(unsigned long)(PAGE - 1);
	if (mprotect((void *)page, PAGE, PROT_READ | PROT_WRITE)) die("mprotect rw");
	memcpy((void *)addr, buf, n);
	if (mprotect((void *)page, PAGE, PROT_READ | PROT_EXEC)) die("mprotect rx");
	return "mprotect";
}

static void map_shim(const unsigned char *page) {
	void *p = mmap((void *)SHIM_ADDR, PAGE, PROT_READ | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED) die("mmap shim page");
	if (p != (void *)SHIM_ADDR) {
		fprintf(stderr, "shimharness: mmap put the page at %p (no MAP_FIXED_NOREPLACE?)\n", p);
		exit(2);
	}
	fprintf(stderr, "shimharness: loaded the page by %s\n", poke(SHIM_ADDR, page, PAGE));
	long r = raw4(SYS_rt_sigaction, SIGSYS, SHIM_ADDR + SHIM_SIGACTION, 0, 8);
	if (r) {
		fprintf(stderr, "shimharness: rt_sigaction: %ld\n", r);
		exit(2);
	}
}

/* Traps nrs[] with SECCOMP_RET_TRAP|data, allows everything else. */
static void trap_filter(const int *nrs, int n, unsigned data) {
	struct sock_filter f[64];
	int i = 0;
	f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	for (int k = 0; k < n; k++)
		f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nrs[k], n - k, 0);
	f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP | data);
	struct sock_fprog prog = {.len = (unsigned short)i, .filter = f};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) die("PR_SET_NO_NEW_PRIVS");
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) die("seccomp");
}

static void print_ids(void) {
	/* ptrace (101) and setpgid (109) are trapped too, to reach the handler's
	 * -ENOSYS for the numbers just outside its table. */
	printf("getuid=%ld geteuid=%ld getgid=%ld getegid=%ld syslog=%ld ptrace=%ld setpgid=%ld\n",
	       raw0(SYS_getuid), raw0(SYS_geteuid), raw0(SYS_getgid), raw0(SYS_getegid),
	       raw0(SYS_syslog), raw0(SYS_ptrace), raw0(SYS_setpgid));
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	printf("sigsys-blocked=%d\n", sigismember(&cur, SIGSYS));
	fflush(stdout);
}

static volatile int g_signo, g_code, g_errno, g_syscall, g_pid_ok, g_uc_ok;

static void guest_handler(int signo, siginfo_t *si, void *ucv) {
	ucontext_t *uc = ucv;
	g_signo = signo;
	g_code = si->si_code;
	g_errno = si->si_errno;
	g_syscall = si->si_code == 1 ? si->si_syscall : -1;
	g_pid_ok = si->si_code == SI_USER && si->si_pid == getpid();
	g_uc_ok = uc != NULL;
	if (si->si_code == 1) /* a trap of the guest's filter: answer it like a guest would */
		uc->uc_mcontext.gregs[REG_RAX] = GUEST_TRAP_RET;
}

static double ns_per_call(long nr, int n) {
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++) raw0(nr);
	clock_gettime(CLOCK_MONOTONIC, &b);
	return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
}

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: shimharness MODE PAGEFILE [DATAFILE DATAOFF]\n");
		return 2;
	}
	const char *mode = argv[1];
	static unsigned char page[PAGE];
	read_file(argv[2], page, PAGE);
	if (!strcmp(mode, "foreign-handler")) {
		uint64_t h = (uint64_t)(uintptr_t)guest_handler;
		memcpy(page + SHIM_GUEST, &h, 8);
	}
	/* SIGSYS kills the dfl modes; a core dump would only slow the test down. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	map_shim(page);
	static const int ours[] = {SYS_getuid, SYS_geteuid, SYS_getgid, SYS_getegid, SYS_syslog, SYS_ptrace, SYS_setpgid};
	trap_filter(ours, sizeof ours / sizeof ours[0], SHIM_TRAP_DATA);

	if (!strcmp(mode, "ids")) {
		print_ids();
	} else if (!strcmp(mode, "foreign-ign")) {
		kill(getpid(), SIGSYS);
		printf("survived\n");
		print_ids();
	} else if (!strcmp(mode, "foreign-dfl")) {
		/* Nothing trapped after the kill: with SIGSYS reset to SIG_DFL, a trap
		 * would kill the process too and hide a handler that failed to. */
		kill(getpid(), SIGSYS);
		printf("survived\n");
	} else if (!strcmp(mode, "foreign-handler")) {
		kill(getpid(), SIGSYS);
		printf("kill: signo=%d code=%d pid-ok=%d uc-ok=%d\n", g_signo, g_code, g_pid_ok, g_uc_ok);
		/* A queued signal that forges our si_errno is still not a seccomp trap. */
		siginfo_t si;
		memset(&si, 0, sizeof si);
		si.si_signo = SIGSYS;
		si.si_code = SI_QUEUE;
		si.si_errno = SHIM_TRAP_DATA;
		si.si_pid = getpid();
		long q = raw4(SYS_rt_tgsigqueueinfo, getpid(), gettid(), SIGSYS, (long)&si);
		printf("queue: ret=%ld signo=%d code=%d errno=%#x\n", q, g_signo, g_code, g_errno);
		static const int guest[] = {GUEST_TRAP_NR};
		trap_filter(guest, 1, GUEST_TRAP_DATA);
		long r = raw0(GUEST_TRAP_NR);
		printf("trap: signo=%d code=%d errno=%#x syscall=%d ret=%ld\n", g_signo, g_code, g_errno, g_syscall, r);
		print_ids();
	} else if (!strcmp(mode, "foreign-dfl-trap")) {
		static const int guest[] = {GUEST_TRAP_NR};
		trap_filter(guest, 1, GUEST_TRAP_DATA);
		raw0(GUEST_TRAP_NR);
		printf("survived\n"); /* and nothing trapped after, as in foreign-dfl */
	} else if (!strcmp(mode, "blocked")) {
		/* The kernel cannot deliver a seccomp trap's SIGSYS while the thread blocks
		 * it: it resets SIGSYS to SIG_DFL and kills the process instead. */
		sigset_t s;
		sigemptyset(&s);
		sigaddset(&s, SIGSYS);
		sigprocmask(SIG_BLOCK, &s, NULL);
		raw0(SYS_getuid);
		printf("survived\n");
	} else if (!strcmp(mode, "update")) {
		if (argc != 5) {
			fprintf(stderr, "usage: shimharness update PAGEFILE DATAFILE DATAOFF\n");
			return 2;
		}
		print_ids();
		static unsigned char data[PAGE];
		FILE *f = fopen(argv[3], "rb");
		if (!f) die(argv[3]);
		size_t n = fread(data, 1, sizeof data, f);
		fclose(f);
		unsigned long off = strtoul(argv[4], NULL, 0);
		if (off + n > PAGE) {
			fprintf(stderr, "shimharness: data runs past the page\n");
			return 2;
		}
		poke(SHIM_ADDR + off, data, n);
		print_ids();
	} else if (!strcmp(mode, "bench")) {
		double shim = ns_per_call(SYS_getuid, 1000000);
		double allowed = ns_per_call(SYS_getpid, 100000);
		printf("ns/call: getuid via shim %.0f, getpid allowed %.0f\n", shim, allowed);
	} else {
		fprintf(stderr, "shimharness: unknown mode %s\n", mode);
		return 2;
	}
	return 0;
}
