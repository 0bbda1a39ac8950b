/* Runs the shim pages (lib/kernel/shim.go) the way gouml's supervisor sets them up in
 * a guest process, without the supervisor: maps the pages built by the Go test at
 * SHIM_ADDR, installs their SIGSYS handler and a seccomp filter that routes calls like
 * gouml's, then reports what the trapped system calls did (TestShimHandler).
 * The test compiles it with -D for the offsets below, so they track internal/shim/blob.go.
 *
 * usage: shimharness MODE PAGESFILE [DATAFILE DATAOFF]
 *   ids              print the results of the trapped calls
 *   update           print ids, write DATAFILE at SHIM_ADDR+DATAOFF, print ids
 *   foreign-ign      sigaction(SIGSYS, SIG_IGN), then kill(self, SIGSYS)
 *   foreign-handler  sigaction(SIGSYS, handler): kill(self, SIGSYS), a forged
 *                    queued SIGSYS, then a trap of a second, "guest" filter
 *   foreign-dfl      kill(self, SIGSYS) with the guest's SIGSYS at SIG_DFL: must die
 *   foreign-dfl-trap a trap of a "guest" filter with SIG_DFL: must die
 *   foreign-ign-trap a trap of a "guest" filter with SIG_IGN: must die too (the
 *                    kernel does not let a seccomp trap be ignored)
 *   blocked          SIGSYS blocked natively (through G1), then a trap: dies (a kernel rule)
 *   mask             rt_sigprocmask blocking everything, then trapped calls
 *   sigaction-sigsys the guest's own SIGSYS handler, kept apart from ours
 *   sigaction-mask   a handler whose sa_mask blocks everything
 *   fork, vfork, clone, execve, chdir   the calls the shim remakes at G2
 *   waits            rt_sigsuspend, ppoll, pselect6, epoll_pwait[2] with a mask
 *                    blocking all but SIGUSR1, which is pending: its handler runs
 *                    with SIGSYS unblocked
 *   retry            chdir at G2 answered by a user-notification "supervisor" thread
 *                    with EINTR and the restart codes before it lets it through
 *   marked           chdir at G2 answered EINTR after the supervisor marked the cell at
 *                    the caller's stack pointer (the guest sees EINTR), then again
 *                    unmarked (retried) and let through
 *   execd            (what execve runs) print "execd" and exit
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#if !defined(SHIM_ADDR) || !defined(SHIM_SIGACTION) || !defined(SHIM_PAGE1) || !defined(SHIM_GUEST) || \
	!defined(SHIM_SYSCALL) || !defined(SHIM_G1_RET) || !defined(SHIM_G2_RET) || !defined(SHIM_TRAP_DATA)
#error "compile with -DSHIM_ADDR=... and the other offsets from shim.go (see shimHarness)"
#endif
#define GUEST_TRAP_DATA 0x1234
#define GUEST_TRAP_NR SYS_getcwd
#define GUEST_TRAP_RET 4242
#define PAGE 4096

/* The shim reads the ucontext at these offsets (shim.S UC_*). */
_Static_assert(offsetof(ucontext_t, uc_mcontext.gregs[REG_RAX]) == 144, "REG_RAX");
_Static_assert(offsetof(ucontext_t, uc_mcontext.gregs[REG_RSP]) == 160, "REG_RSP");
_Static_assert(offsetof(ucontext_t, uc_sigmask) == 296, "uc_sigmask");

struct ksigaction {
	uint64_t handler, flags, restorer, mask;
};

/* Raw system calls: the value in rax, not libc's -1/errno translation. */
static long raw6(long nr, long a, long b, long c, long d, long e, long f) {
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}
static long raw4(long nr, long a, long b, long c, long d) { return raw6(nr, a, b, c, d, 0, 0); }
static long raw0(long nr) { return raw4(nr, 0, 0, 0, 0); }

/* A system call made at G1, where the filter lets rt_sigaction/rt_sigprocmask through
 * natively. The call pushes a return address: step over the red zone first. */
static long g1call4(long nr, long a, long b, long c, long d) {
	long ret;
	register long r10 __asm__("r10") = d;
	__asm__ volatile("sub $128, %%rsp\n\tcall *%[g1]\n\tadd $128, %%rsp"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), [g1] "r"(SHIM_ADDR + SHIM_SYSCALL)
			 : "rcx", "r11", "memory");
	return ret;
}

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

/* Writes into the pages the way the supervisor does: through /proc/PID/mem, which may
 * write read-only private mappings. Kernels booted with proc_mem.force_override=never
 * or ptrace refuse that for a process on itself; then fall back to making the page
 * writable for a moment. */
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

static void map_at(unsigned long addr, int prot) {
	void *p = mmap((void *)addr, PAGE, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED) die("mmap shim page");
	if (p != (void *)addr) {
		fprintf(stderr, "shimharness: mmap put a page at %p, not %#lx (no MAP_FIXED_NOREPLACE?)\n", p, addr);
		exit(2);
	}
}

static void map_shim(const unsigned char *pages) {
	map_at(SHIM_ADDR, PROT_READ | PROT_EXEC);
	fprintf(stderr, "shimharness: loaded page 0 by %s\n", poke(SHIM_ADDR, pages, PAGE));
	map_at(SHIM_ADDR + SHIM_PAGE1, PROT_READ | PROT_WRITE);
	memcpy((void *)(SHIM_ADDR + SHIM_PAGE1), pages + PAGE, PAGE);
	long r = raw4(SYS_rt_sigaction, SIGSYS, SHIM_ADDR + SHIM_SIGACTION, 0, 8);
	if (r) {
		fprintf(stderr, "shimharness: rt_sigaction: %ld\n", r);
		exit(2);
	}
}

/* A seccomp filter built with forward jumps to labels, resolved at the end. */
enum { NEXT = -1, L_KILL, L_TRAP, L_ALLOW, L_G1, L_G2, L_CLONE, NLABELS };
struct prog {
	struct sock_filter f[64];
	int jt[64], jf[64], n, pos[NLABELS];
};
static void emit(struct prog *p, struct sock_filter ins, int jt, int jf) {
	p->f[p->n] = ins;
	p->jt[p->n] = jt;
	p->jf[p->n] = jf;
	p->n++;
}
static void stmt(struct prog *p, unsigned short code, unsigned k) {
	emit(p, (struct sock_filter)BPF_STMT(code, k), NEXT, NEXT);
}
static void jump(struct prog *p, unsigned short code, unsigned k, int jt, int jf) {
	emit(p, (struct sock_filter)BPF_JUMP(code, k, 0, 0), jt, jf);
}
static void label(struct prog *p, int l) { p->pos[l] = p->n; }
/* Installs the filter; returns what seccomp(2) does (a listener fd with
 * SECCOMP_FILTER_FLAG_NEW_LISTENER). */
static int install_flags(struct prog *p, unsigned flags) {
	for (int i = 0; i < p->n; i++) {
		if (p->jt[i] != NEXT) p->f[i].jt = (unsigned char)(p->pos[p->jt[i]] - i - 1);
		if (p->jf[i] != NEXT) p->f[i].jf = (unsigned char)(p->pos[p->jf[i]] - i - 1);
	}
	struct sock_fprog prog = {.len = (unsigned short)p->n, .filter = p->f};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) die("PR_SET_NO_NEW_PRIVS");
	int r = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	if (r < 0) die("seccomp");
	return r;
}
static void install(struct prog *p) { install_flags(p, 0); }
/* Jumps to yes when instruction_pointer == ip, else to no. */
static void ip_is(struct prog *p, unsigned long ip, int yes, int no) {
	stmt(p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer));
	jump(p, BPF_JMP | BPF_JEQ | BPF_K, (unsigned)ip, NEXT, no);
	stmt(p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer) + 4);
	jump(p, BPF_JMP | BPF_JEQ | BPF_K, (unsigned)(ip >> 32), yes, no);
}

/* gouml's filter as far as the shim is concerned (there is no supervisor here, so
 * what it would receive from G2 is allowed). */
static void shim_filter(void) {
	static const int trapped[] = {SYS_getuid, SYS_geteuid, SYS_getgid, SYS_getegid,
				      /* just outside the values, for -ENOSYS */
				      SYS_syslog, SYS_ptrace, SYS_setpgid};
	static const int g1[] = {SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_rt_sigsuspend, SYS_ppoll,
				 SYS_pselect6, SYS_epoll_pwait, SYS_epoll_pwait2};
	static const int g2[] = {SYS_fork, SYS_vfork, SYS_execve, SYS_execveat, SYS_chdir};
	struct prog p = {.n = 0};
	stmt(&p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	jump(&p, BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, NEXT, L_KILL);
	stmt(&p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	for (size_t i = 0; i < sizeof trapped / sizeof trapped[0]; i++)
		jump(&p, BPF_JMP | BPF_JEQ | BPF_K, trapped[i], L_TRAP, NEXT);
	for (size_t i = 0; i < sizeof g1 / sizeof g1[0]; i++)
		jump(&p, BPF_JMP | BPF_JEQ | BPF_K, g1[i], L_G1, NEXT);
	for (size_t i = 0; i < sizeof g2 / sizeof g2[0]; i++)
		jump(&p, BPF_JMP | BPF_JEQ | BPF_K, g2[i], L_G2, NEXT);
	jump(&p, BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, L_CLONE, L_ALLOW);
	label(&p, L_CLONE);
	stmt(&p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]));
	jump(&p, BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, L_ALLOW, L_G2);
	label(&p, L_G1);
	ip_is(&p, SHIM_ADDR + SHIM_G1_RET, L_ALLOW, L_TRAP);
	label(&p, L_G2);
	ip_is(&p, SHIM_ADDR + SHIM_G2_RET, L_ALLOW, L_TRAP);
	label(&p, L_ALLOW);
	stmt(&p, BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	label(&p, L_TRAP);
	stmt(&p, BPF_RET | BPF_K, SECCOMP_RET_TRAP | SHIM_TRAP_DATA);
	label(&p, L_KILL);
	stmt(&p, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	install(&p);
}

/* A second filter, the guest's own: traps GUEST_TRAP_NR with GUEST_TRAP_DATA. */
static void guest_filter(void) {
	struct prog p = {.n = 0};
	stmt(&p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	jump(&p, BPF_JMP | BPF_JEQ | BPF_K, GUEST_TRAP_NR, L_TRAP, L_ALLOW);
	label(&p, L_ALLOW);
	stmt(&p, BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	label(&p, L_TRAP);
	stmt(&p, BPF_RET | BPF_K, SECCOMP_RET_TRAP | GUEST_TRAP_DATA);
	install(&p);
}

static uint64_t cur_mask(void) {
	uint64_t m = ~0ULL;
	long r = raw4(SYS_rt_sigprocmask, SIG_BLOCK, 0, (long)&m, 8);
	if (r) {
		fprintf(stderr, "shimharness: rt_sigprocmask read: %ld\n", r);
		exit(2);
	}
	return m;
}

static void print_ids(void) {
	printf("getuid=%ld geteuid=%ld getgid=%ld getegid=%ld syslog=%ld ptrace=%ld setpgid=%ld\n",
	       raw0(SYS_getuid), raw0(SYS_geteuid), raw0(SYS_getgid), raw0(SYS_getegid),
	       raw0(SYS_syslog), raw0(SYS_ptrace), raw0(SYS_setpgid));
	sigset_t cur;
	sigfillset(&cur);
	if (sigprocmask(SIG_BLOCK, NULL, &cur)) die("sigprocmask");
	printf("sigsys-blocked=%d\n", sigismember(&cur, SIGSYS));
	fflush(stdout);
}

static volatile long g_signo, g_code, g_errno, g_syscall, g_pid_ok, g_uc_ok, g_uid, g_calls;
static volatile uint64_t g_mask;

static void guest_handler(int signo, siginfo_t *si, void *ucv) {
	ucontext_t *uc = ucv;
	g_calls++;
	g_signo = signo;
	g_code = si->si_code;
	g_errno = si->si_errno;
	g_syscall = si->si_code == 1 ? si->si_syscall : -1;
	g_pid_ok = si->si_code == SI_USER && si->si_pid == getpid();
	g_uc_ok = uc != NULL;
	g_uid = raw0(SYS_getuid); /* a trap of our filter inside the guest's SIGSYS handler */
	g_mask = cur_mask();
	if (si->si_code == 1) /* a trap of the guest's filter: answer it like a guest would */
		uc->uc_mcontext.gregs[REG_RAX] = GUEST_TRAP_RET;
}

static int wait_status(long pid) {
	int st;
	if (pid <= 0) return -1000 + (int)pid;
	if (waitpid((pid_t)pid, &st, 0) != pid) die("waitpid");
	return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

#define CLONE_STACK (64 * 1024)
static char *clone_stack;

/* Runs in the clone child on the stack the parent gave it: exits 9 when a local
 * really lives in that stack, 10 when not, 11 when getuid is not the page's. */
__attribute__((noinline, noreturn, used)) void clone_child(void) {
	volatile char local;
	int in = (char *)&local >= clone_stack && (char *)&local < clone_stack + CLONE_STACK;
	if (raw0(SYS_getuid) != 1001) raw4(SYS_exit_group, 11, 0, 0, 0); /* the shim works in the child too */
	raw4(SYS_exit_group, in ? 9 : 10, 0, 0, 0);
	__builtin_unreachable();
}

/* What the "supervisor" answers the notifications for chdir at G2 with, in order:
 * EINTR, ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND, ERESTART_RESTARTBLOCK (with no
 * signal pending the kernel hands these to user space as they are), then "continue". */
static const int retry_errors[] = {-4, -512, -513, -514, -516, 0};
#define NRETRY ((int)(sizeof retry_errors / sizeof retry_errors[0]))
static int notif_fd;
static volatile int notifications;

static void *notif_supervisor(void *arg) {
	(void)arg;
	for (int i = 0; i < NRETRY; i++) {
		struct seccomp_notif req;
		struct seccomp_notif_resp resp;
		memset(&req, 0, sizeof req);
		if (ioctl(notif_fd, SECCOMP_IOCTL_NOTIF_RECV, &req)) die("SECCOMP_IOCTL_NOTIF_RECV");
		notifications++;
		memset(&resp, 0, sizeof resp);
		resp.id = req.id;
		resp.error = retry_errors[i];
		if (!resp.error) resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		if (ioctl(notif_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp)) die("SECCOMP_IOCTL_NOTIF_SEND");
	}
	return NULL;
}

/* The supervisor's answer to a call it ends itself because of a signal: the word at the
 * caller's stack pointer (/proc/TID/syscall) marked, then EINTR, which the shim must pass on;
 * then an unmarked EINTR, which it must retry, and CONTINUE. */
static void *notif_marker(void *arg) {
	(void)arg;
	for (int i = 0; i < 3; i++) {
		struct seccomp_notif req;
		struct seccomp_notif_resp resp;
		memset(&req, 0, sizeof req);
		if (ioctl(notif_fd, SECCOMP_IOCTL_NOTIF_RECV, &req)) die("SECCOMP_IOCTL_NOTIF_RECV");
		notifications++;
		memset(&resp, 0, sizeof resp);
		resp.id = req.id;
		resp.error = -EINTR;
		if (i == 0) {
			char path[64], buf[256];
			snprintf(path, sizeof path, "/proc/self/task/%u/syscall", req.pid);
			FILE *f = fopen(path, "r");
			unsigned long long v[9] = {0};
			if (!f || !fgets(buf, sizeof buf, f) ||
			    sscanf(buf, "%llu %llx %llx %llx %llx %llx %llx %llx %llx", &v[0], &v[1], &v[2], &v[3],
				   &v[4], &v[5], &v[6], &v[7], &v[8]) != 9)
				die("/proc/TID/syscall");
			fclose(f);
			*(volatile long *)v[7] = 1;
		} else if (i == 2) {
			resp.error = 0;
			resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		}
		if (ioctl(notif_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp)) die("SECCOMP_IOCTL_NOTIF_SEND");
	}
	return NULL;
}

static void notif_filter(void) {
	struct prog p = {.n = 0};
	stmt(&p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	jump(&p, BPF_JMP | BPF_JEQ | BPF_K, SYS_chdir, NEXT, L_ALLOW);
	ip_is(&p, SHIM_ADDR + SHIM_G2_RET, L_TRAP, L_ALLOW);
	label(&p, L_ALLOW);
	stmt(&p, BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	label(&p, L_TRAP);
	stmt(&p, BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
	notif_fd = install_flags(&p, SECCOMP_FILTER_FLAG_NEW_LISTENER);
}

/* One wait with a temporary mask blocking everything but SIGUSR1, while SIGUSR1 is
 * pending (blocked outside the wait): the handler must run inside the wait, with the
 * wait's mask but SIGSYS unblocked, and the wait must end with EINTR. */
static void wait_case(const char *name, long nr) {
	uint64_t usr1 = 1ULL << (SIGUSR1 - 1);
	uint64_t mask = ~usr1;
	struct timespec ts = {5, 0};
	struct {
		const uint64_t *ss;
		size_t len;
	} pss = {&mask, 8};
	struct epoll_event ev;
	static int epfd = -1;
	if (epfd < 0 && (epfd = epoll_create1(0)) < 0) die("epoll_create1");
	raw4(SYS_rt_sigprocmask, SIG_BLOCK, (long)&usr1, 0, 8);
	kill(getpid(), SIGUSR1);
	long calls = g_calls, r;
	g_uid = -1;
	g_mask = ~0ULL;
	switch (nr) {
	case SYS_rt_sigsuspend: r = raw4(nr, (long)&mask, 8, 0, 0); break;
	case SYS_ppoll: r = raw6(nr, 0, 0, (long)&ts, (long)&mask, 8, 0); break;
	case SYS_pselect6: r = raw6(nr, 0, 0, 0, 0, (long)&ts, (long)&pss); break;
	case SYS_epoll_pwait: r = raw6(nr, epfd, (long)&ev, 1, 5000, (long)&mask, 8); break;
	default: r = raw6(nr, epfd, (long)&ev, 1, (long)&ts, (long)&mask, 8); break;
	}
	uint64_t after = cur_mask();
	printf("%s: ret=%ld handled=%ld uid=%ld sigsys-blocked=%d usr2-blocked=%d after=%#lx\n", name, r,
	       g_calls - calls, g_uid, (int)(g_mask >> (SIGSYS - 1) & 1), (int)(g_mask >> (SIGUSR2 - 1) & 1),
	       (unsigned long)after);
	raw4(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&usr1, 0, 8);
}

int main(int argc, char **argv) {
	if (argc == 2 && !strcmp(argv[1], "execd")) {
		/* The shim pages and their handler are gone with the old image (the filter
		 * stays): only plain allowed calls here. */
		raw4(SYS_write, 1, (long)"execd\n", 6, 0);
		raw4(SYS_exit_group, 0, 0, 0, 0);
	}
	if (argc < 3) {
		fprintf(stderr, "usage: shimharness MODE PAGESFILE [DATAFILE DATAOFF]\n");
		return 2;
	}
	const char *mode = argv[1];
	static unsigned char pages[2 * PAGE];
	read_file(argv[2], pages, sizeof pages);
	/* SIGSYS kills the dfl modes; a core dump would only slow the test down. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	map_shim(pages);
	shim_filter();

	if (!strcmp(mode, "ids")) {
		print_ids();
	} else if (!strcmp(mode, "foreign-ign")) {
		signal(SIGSYS, SIG_IGN);
		kill(getpid(), SIGSYS);
		printf("survived\n");
		print_ids();
	} else if (!strcmp(mode, "foreign-dfl")) {
		/* Nothing trapped after the kill: with SIGSYS reset to SIG_DFL, a trap
		 * would kill the process too and hide a handler that failed to. */
		kill(getpid(), SIGSYS);
		printf("survived\n");
	} else if (!strcmp(mode, "foreign-handler")) {
		struct sigaction sa = {.sa_sigaction = guest_handler, .sa_flags = SA_SIGINFO};
		if (sigaction(SIGSYS, &sa, NULL)) die("sigaction");
		kill(getpid(), SIGSYS);
		printf("kill: signo=%ld code=%ld pid-ok=%ld uc-ok=%ld uid=%ld sigsys-blocked=%d\n", g_signo, g_code,
		       g_pid_ok, g_uc_ok, g_uid, (int)(g_mask >> (SIGSYS - 1) & 1));
		/* A queued signal that forges our si_errno is still not a seccomp trap. */
		siginfo_t si;
		memset(&si, 0, sizeof si);
		si.si_signo = SIGSYS;
		si.si_code = SI_QUEUE;
		si.si_errno = SHIM_TRAP_DATA;
		si.si_pid = getpid();
		long q = raw4(SYS_rt_tgsigqueueinfo, getpid(), gettid(), SIGSYS, (long)&si);
		printf("queue: ret=%ld signo=%ld code=%ld errno=%#lx\n", q, g_signo, g_code, g_errno);
		guest_filter();
		long r = raw0(GUEST_TRAP_NR);
		printf("trap: signo=%ld code=%ld errno=%#lx syscall=%ld ret=%ld uid=%ld calls=%ld\n", g_signo, g_code,
		       g_errno, g_syscall, r, g_uid, g_calls);
		print_ids();
	} else if (!strcmp(mode, "foreign-dfl-trap")) {
		guest_filter();
		raw0(GUEST_TRAP_NR);
		printf("survived\n"); /* and nothing trapped after, as in foreign-dfl */
	} else if (!strcmp(mode, "foreign-ign-trap")) {
		signal(SIGSYS, SIG_IGN);
		guest_filter();
		raw0(GUEST_TRAP_NR);
		printf("survived\n");
	} else if (!strcmp(mode, "blocked")) {
		/* Blocked natively, past the shim: the kernel cannot deliver a seccomp
		 * trap's SIGSYS while the thread blocks it, so it resets SIGSYS to SIG_DFL
		 * and kills the process. This is why the shim keeps it unblocked. */
		uint64_t s = 1ULL << (SIGSYS - 1);
		g1call4(SYS_rt_sigprocmask, SIG_BLOCK, (long)&s, 0, 8);
		raw0(SYS_getuid);
		printf("survived\n");
	} else if (!strcmp(mode, "mask")) {
		uint64_t full = ~0ULL, old = 0;
		long r = raw4(SYS_rt_sigprocmask, SIG_BLOCK, (long)&full, 0, 8);
		long uid = raw0(SYS_getuid);
		old = cur_mask();
		printf("block: ret=%ld uid=%ld mask=%#lx sigsys-blocked=%d usr1-blocked=%d\n", r, uid,
		       (unsigned long)old, (int)(old >> (SIGSYS - 1) & 1), (int)(old >> (SIGUSR1 - 1) & 1));
		/* Really in force after the handler's sigreturn: SIGUSR1 (default: terminate)
		 * stays pending instead of killing us. */
		kill(getpid(), SIGUSR1);
		uint64_t pend = 0;
		raw4(SYS_rt_sigpending, (long)&pend, 8, 0, 0);
		printf("usr1: survived pending=%d\n", (int)(pend >> (SIGUSR1 - 1) & 1));
		printf("einval: size=%ld how=%ld\n", raw4(SYS_rt_sigprocmask, SIG_BLOCK, 0, (long)&old, 16),
		       raw4(SYS_rt_sigprocmask, 7, (long)&full, 0, 8));
		uint64_t three = 1ULL << (SIGUSR1 - 1) | 1ULL << (SIGUSR2 - 1) | 1ULL << (SIGSYS - 1);
		r = raw4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&three, (long)&old, 8);
		uint64_t now = cur_mask();
		printf("setmask: ret=%ld old=%#lx now=%#lx\n", r, (unsigned long)old, (unsigned long)now);
		/* Unblocking delivers the pending SIGUSR1 (inside the shim's handler). */
		struct sigaction sa = {.sa_sigaction = guest_handler, .sa_flags = SA_SIGINFO};
		if (sigaction(SIGUSR1, &sa, NULL)) die("sigaction");
		r = raw4(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&full, 0, 8);
		now = cur_mask();
		printf("unblock: ret=%ld now=%#lx usr1-delivered=%ld signo=%ld\n", r, (unsigned long)now, g_calls, g_signo);
	} else if (!strcmp(mode, "sigaction-sigsys")) {
		struct sigaction sa = {.sa_sigaction = guest_handler, .sa_flags = SA_SIGINFO};
		sigaddset(&sa.sa_mask, SIGUSR2);
		int r1 = sigaction(SIGSYS, &sa, NULL);
		struct sigaction old;
		memset(&old, 0, sizeof old);
		int r2 = sigaction(SIGSYS, NULL, &old);
		printf("sigaction: set=%d get=%d handler-ok=%d siginfo=%d usr2-in-mask=%d\n", r1, r2,
		       old.sa_sigaction == guest_handler, !!(old.sa_flags & SA_SIGINFO), sigismember(&old.sa_mask, SIGUSR2));
		struct ksigaction k = {0};
		g1call4(SYS_rt_sigaction, SIGSYS, 0, (long)&k, 8);
		printf("kernel: ours=%d\n", k.handler == SHIM_ADDR);
		kill(getpid(), SIGSYS);
		printf("kill: calls=%ld signo=%ld pid-ok=%ld usr2-blocked=%d sigsys-blocked=%d after: usr2-blocked=%d\n",
		       g_calls, g_signo, g_pid_ok, (int)(g_mask >> (SIGUSR2 - 1) & 1), (int)(g_mask >> (SIGSYS - 1) & 1),
		       (int)(cur_mask() >> (SIGUSR2 - 1) & 1));
		print_ids();
		/* The stored action keeps what the kernel would keep of an action. */
		struct ksigaction all = {(uint64_t)(uintptr_t)guest_handler, ~0ULL, 0x1234, ~0ULL}, a2, a3;
		long r3 = raw4(SYS_rt_sigaction, SIGUSR2, (long)&all, 0, 8);
		long r4 = raw4(SYS_rt_sigaction, SIGUSR2, 0, (long)&a2, 8);
		long r5 = raw4(SYS_rt_sigaction, SIGSYS, (long)&all, 0, 8);
		long r6 = raw4(SYS_rt_sigaction, SIGSYS, 0, (long)&a3, 8);
		printf("kept: rets=%ld,%ld,%ld,%ld same=%d mask-sigsys=%d\n", r3, r4, r5, r6,
		       !memcmp(&a2, &a3, sizeof a2), (int)(a3.mask >> (SIGSYS - 1) & 1));
		fprintf(stderr, "shimharness: kernel kept flags %#lx mask %#lx\n", (unsigned long)a2.flags,
			(unsigned long)a2.mask);
		/* act == oldact: the old action comes back, the new one is stored. */
		struct ksigaction same = {1 /* SIG_IGN */, 0, 0, 0};
		long r7 = raw4(SYS_rt_sigaction, SIGSYS, (long)&same, (long)&same, 8);
		printf("swap: ret=%ld old-ok=%d\n", r7, same.handler == (uint64_t)(uintptr_t)guest_handler);
		kill(getpid(), SIGSYS);
		printf("ignored: calls=%ld einval=%ld\n", g_calls, raw4(SYS_rt_sigaction, SIGSYS, 0, (long)&a3, 16));
		/* SA_RESETHAND: the handler runs once, then SIGSYS is back to SIG_DFL. */
		sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
		int r8 = sigaction(SIGSYS, &sa, NULL);
		kill(getpid(), SIGSYS);
		int r9 = sigaction(SIGSYS, NULL, &old);
		printf("resethand: rets=%d,%d calls=%ld now-dfl=%d\n", r8, r9, g_calls, old.sa_handler == SIG_DFL);
	} else if (!strcmp(mode, "sigaction-mask")) {
		struct sigaction sa = {.sa_sigaction = guest_handler, .sa_flags = SA_SIGINFO};
		sigfillset(&sa.sa_mask);
		int r = sigaction(SIGUSR1, &sa, NULL);
		kill(getpid(), SIGUSR1);
		printf("usr1: set=%d calls=%ld signo=%ld uid=%ld sigsys-blocked=%d usr2-blocked=%d\n", r, g_calls,
		       g_signo, g_uid, (int)(g_mask >> (SIGSYS - 1) & 1), (int)(g_mask >> (SIGUSR2 - 1) & 1));
		struct sigaction old;
		memset(&old, 0, sizeof old);
		r = sigaction(SIGUSR1, NULL, &old);
		printf("sa_mask: get=%d handler-ok=%d sigsys=%d usr2=%d\n", r, old.sa_sigaction == guest_handler,
		       sigismember(&old.sa_mask, SIGSYS), sigismember(&old.sa_mask, SIGUSR2));
		struct ksigaction k;
		printf("einval: %ld\n", raw4(SYS_rt_sigaction, SIGUSR1, 0, (long)&k, 16));
	} else if (!strcmp(mode, "fork")) {
		fflush(stdout);
		long pid = raw0(SYS_fork);
		if (pid == 0) raw4(SYS_exit_group, raw0(SYS_getuid) == 1001 ? 7 : 8, 0, 0, 0);
		printf("fork: status=%d\n", wait_status(pid));
	} else if (!strcmp(mode, "vfork")) {
		fflush(stdout);
		long pid;
		/* The child shares our stack: it must not touch it, so it exits right here. */
		__asm__ volatile("syscall\n\t"
				 "test %%rax, %%rax\n\t"
				 "jnz 1f\n\t"
				 "mov $231, %%eax\n\t" /* exit_group(7) */
				 "mov $7, %%edi\n\t"
				 "syscall\n"
				 "1:"
				 : "=a"(pid)
				 : "a"(SYS_vfork)
				 : "rcx", "r11", "rdi", "memory");
		printf("vfork: status=%d\n", wait_status(pid));
	} else if (!strcmp(mode, "clone")) {
		fflush(stdout);
		clone_stack = mmap(NULL, CLONE_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (clone_stack == MAP_FAILED) die("mmap stack");
		long pid;
		register long r10 __asm__("r10") = 0;
		register long r8 __asm__("r8") = 0;
		/* The child starts here on the new stack and calls clone_child. */
		__asm__ volatile("syscall\n\t"
				 "test %%rax, %%rax\n\t"
				 "jnz 1f\n\t"
				 "call clone_child\n"
				 "1:"
				 : "=a"(pid)
				 : "a"(SYS_clone), "D"(SIGCHLD), "S"(clone_stack + CLONE_STACK), "d"(0), "r"(r10), "r"(r8)
				 : "rcx", "r11", "memory");
		printf("clone: status=%d\n", wait_status(pid));
	} else if (!strcmp(mode, "execve")) {
		char *av[] = {"shimharness", "execd", NULL};
		long r = raw4(SYS_execve, (long)"/nonexistent/shimharness", (long)av, (long)environ, 0);
		printf("missing: %ld\n", r);
		fflush(stdout);
		r = raw4(SYS_execve, (long)"/proc/self/exe", (long)av, (long)environ, 0);
		printf("execve failed: %ld\n", r);
	} else if (!strcmp(mode, "chdir")) {
		long r1 = raw4(SYS_chdir, (long)"/nonexistent", 0, 0, 0);
		long r2 = raw4(SYS_chdir, (long)"/tmp", 0, 0, 0);
		char cwd[256];
		printf("chdir: missing=%ld tmp=%ld cwd=%s\n", r1, r2, getcwd(cwd, sizeof cwd) ? cwd : "?");
	} else if (!strcmp(mode, "waits")) {
		struct sigaction sa = {.sa_sigaction = guest_handler, .sa_flags = SA_SIGINFO};
		if (sigaction(SIGUSR1, &sa, NULL)) die("sigaction");
		wait_case("rt_sigsuspend", SYS_rt_sigsuspend);
		wait_case("ppoll", SYS_ppoll);
		wait_case("pselect6", SYS_pselect6);
		wait_case("epoll_pwait", SYS_epoll_pwait);
		wait_case("epoll_pwait2", SYS_epoll_pwait2);
		/* Without a mask the calls are made as they are. */
		struct timespec zero = {0, 0};
		struct {
			const uint64_t *ss;
			size_t len;
		} nomask = {NULL, 8};
		struct epoll_event ev;
		int epfd = epoll_create1(0);
		printf("no mask: ppoll=%ld pselect6=%ld,%ld epoll_pwait=%ld epoll_pwait2=%ld\n",
		       raw6(SYS_ppoll, 0, 0, (long)&zero, 0, 8, 0),
		       raw6(SYS_pselect6, 0, 0, 0, 0, (long)&zero, 0),
		       raw6(SYS_pselect6, 0, 0, 0, 0, (long)&zero, (long)&nomask),
		       raw6(SYS_epoll_pwait, epfd, (long)&ev, 1, 0, 0, 8),
		       raw6(SYS_epoll_pwait2, epfd, (long)&ev, 1, (long)&zero, 0, 8));
	} else if (!strcmp(mode, "retry")) {
		notif_filter();
		pthread_t th;
		if (pthread_create(&th, NULL, notif_supervisor, NULL)) die("pthread_create");
		long r = raw4(SYS_chdir, (long)"/tmp", 0, 0, 0);
		char cwd[256];
		printf("retry: ret=%ld notifications=%d cwd=%s\n", r, notifications, getcwd(cwd, sizeof cwd) ? cwd : "?");
		fflush(stdout);
		if (r == 0) pthread_join(th, NULL);
	} else if (!strcmp(mode, "marked")) {
		notif_filter();
		pthread_t th;
		if (pthread_create(&th, NULL, notif_marker, NULL)) die("pthread_create");
		long first = raw4(SYS_chdir, (long)"/tmp", 0, 0, 0);
		long second = raw4(SYS_chdir, (long)"/tmp", 0, 0, 0);
		char cwd[256];
		printf("marked: first=%ld second=%ld notifications=%d cwd=%s\n", first, second, notifications,
		       getcwd(cwd, sizeof cwd) ? cwd : "?");
		fflush(stdout);
		if (second == 0) pthread_join(th, NULL);
	} else if (!strcmp(mode, "update")) {
		if (argc != 5) {
			fprintf(stderr, "usage: shimharness update PAGESFILE DATAFILE DATAOFF\n");
			return 2;
		}
		print_ids();
		static unsigned char data[2 * PAGE];
		FILE *f = fopen(argv[3], "rb");
		if (!f) die(argv[3]);
		size_t n = fread(data, 1, sizeof data, f);
		fclose(f);
		unsigned long off = strtoul(argv[4], NULL, 0);
		if (off + n > 2 * PAGE) {
			fprintf(stderr, "shimharness: data runs past the pages\n");
			return 2;
		}
		poke(SHIM_ADDR + off, data, n);
		print_ids();
	} else {
		fprintf(stderr, "shimharness: unknown mode %s\n", mode);
		return 2;
	}
	return 0;
}
