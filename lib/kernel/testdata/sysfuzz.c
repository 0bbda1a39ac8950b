/* sysfuzz: a system-call fuzzer that runs as the guest's init (TestSyscallFuzz, make fuzz).
 *
 * What it attacks: what the gouml kernel emulates (lib/kernel/table.go) — every call the
 * seccomp filter traps to the kernel, sends to the in-guest shim, serves under ptrace or
 * decides on an argument — and the passthrough calls that take the paths and fds the
 * kernel hands out. The kernel has a bug when
 *   - linux dies (a Go panic: the test sees the exit status and stderr),
 *   - a call does not return ("sysfuzz: HANG", see below),
 *   - a call returns one of Linux's internal restart codes 512..516, which a process must
 *     never see ("sysfuzz: ODD"),
 *   - anything outside the guest root changes (the test compares a decoy tree beside it;
 *     HOSTDIR names that directory, so paths aimed at it are part of the repertoire),
 *   - the machine does not halt when this program powers it off at the end (while
 *     workers still run: halting under load is part of the test).
 *
 * How: the supervisor (pid 1) forks FUZZWORKERS worker processes of FUZZTHREADS threads each,
 * and forks new ones when they die or end (each lives a few seconds, so process creation,
 * exit and fresh credentials are exercised all the time). A worker thread loops: pick an
 * op, make one or a few calls with arguments drawn from pools of boundary values (fds,
 * pointers, sizes, flags, modes, ids, paths). Each thread publishes the call it is in (number,
 * arguments, start time) in a page shared with the supervisor. The supervisor's main thread
 * only reads that page and makes untrapped calls, so it keeps working when the kernel's
 * trapped path is stuck; forking workers (a traced call) is left to a second thread.
 *
 * Why a long call is a kernel bug: every worker thread gets a harness signal (HSIG, handled,
 * no SA_RESTART) every ~200 ms from a timer of its own, so any call that may block natively
 * (a pipe read, a FIFO open, wait4, accept, sigsuspend …) ends with EINTR within a fraction
 * of a second. The fuzzer never blocks HSIG, never changes its action and never waits with
 * a signal mask that holds it. A call still running after FUZZHANG seconds is stuck in the
 * kernel.
 *
 * What it must not do, so that a failure is the kernel's: end the experiment (halt or reboot
 * before the end, stop processes), unmap or protect memory it uses, lower its own
 * limits, or reach the console, which is the supervisor's report channel (a worker could
 * suspend its output with TCXONC or garble it with termios); workers' stdio is /dev/null
 * and no path in the pools names the console. Calls that would cripple a worker (seccomp
 * filters, credentials, chroot, sigaltstack, arch_prctl, raw rt_sigreturn, unmapping the
 * shim …) run in throwaway children, which exit within seconds (alarm). For the host's sake:
 * RLIMIT_FSIZE bounds every file the guest writes natively, mappings are at most 64 MiB, no
 * fallocate, no freezing ioctls.
 *
 * Environment (unknown words of the kernel command line):
 *   FUZZTIME=seconds (60)    FUZZSEED=n (random; printed: the same seed replays each
 *   FUZZWORKERS=n (3)        thread's choices, not the interleaving of threads)
 *   FUZZTHREADS=n (3)        FUZZHANG=seconds (20): how long a call may take
 *   FUZZOPS=-fifo,-sendmsg   ops or system calls to leave out, to narrow a failure down
 *   FUZZVERBOSE=1            workers log every call on the console (for replays by hand)
 *   HOSTDIR=/host/dir        the host directory that holds the root and the decoys
 *
 * Output: lines that start with "sysfuzz: " (start, HANG, ODD, summary, done).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif
#ifndef SYS_process_madvise
#define SYS_process_madvise 440
#endif
#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441
#endif
#ifndef SYS_process_mrelease
#define SYS_process_mrelease 448
#endif
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x1000
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x80
#endif
#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif
#ifndef O_TMPFILE
#define O_TMPFILE 020200000
#endif

#define L(x) ((long)(x))
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define PICK(a) ((a)[rn(NELEM(a))])

enum { C_FILE, C_FD, C_SOCK, C_PROC, C_CRED, C_SIG, C_MEM, C_SYS, C_FILTER, C_RAW, NCLS };
static const char *const clsname[NCLS] = {"file", "fd", "sock", "proc", "cred", "sig", "mem", "sys", "filter", "raw"};

#define MAXW 8
#define MAXT 8
#define BUFSZ (1 << 20)
#define NSCRATCH 64      /* pages of the region memory ops may unmap, protect and remap */
#define HSIG SIGUSR2     /* the harness signal */
#define NOPS 32
#define FZ "/tmp/fz"     /* the fuzzer's own tree, shared by all workers */
#define UBD_MAX (8 << 20)

/* ---- raw system calls: the fuzzer wants the kernel's answer, not libc's idea of it ---- */

static inline long rawsys(long n, long a, long b, long c, long d, long e, long f) {
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

/* clone_exit makes a clone whose child calls exit at once without touching memory, so any
 * flags are safe: CLONE_THREAD, CLONE_VM on the caller's stack, a garbage CLONE_SETTLS. */
static long clone_exit(long flags, long stack, long ptid, long ctid, long tls) {
	register long r10 __asm__("r10") = ctid;
	register long r8 __asm__("r8") = tls;
	long ret;
	__asm__ volatile("syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "mov $60, %%eax\n\t"
			 "xor %%edi, %%edi\n\t"
			 "syscall\n\t"
			 "hlt\n"
			 "1:"
			 : "=a"(ret)
			 : "a"(SYS_clone), "D"(flags), "S"(stack), "d"(ptid), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
}

/* ---- what the supervisor and the workers share ---- */

struct slot {
	int pid, tid;
	int busy;          /* inside a call (or waiting for a child) since `since` */
	long nr;           /* -2: waiting for a throwaway child */
	long arg[6];
	int64_t since;     /* CLOCK_MONOTONIC ns */
	uint64_t calls;
	char note[72];     /* the path or what the call is about */
	char op[16];
	struct slot *child; /* the thread's throwaway children (and theirs) record here */
};

struct abandoned {     /* a call in progress when its worker died */
	long nr, arg[6];
	int64_t age;
	int pid;
	char note[72], op[16];
};

struct odd {
	int ready;
	long nr, ret, arg[6];
	char op[16];
};

struct ctl {
	volatile int stop, quit;
	int verbose, nworkers, nthreads;
	uint64_t seed;
	struct slot slot[MAXW][MAXT];
	struct slot helper;                 /* the supervisor's forking thread */
	struct slot kidslot[MAXW][MAXT];    /* slot[w][t].child */
	uint64_t calls[NCLS], errs[NCLS];
	uint64_t opcount[NOPS];
	uint64_t children, child_sig, child_alarm, child_stuck;
	unsigned nodd;
	struct odd odd[16];
	unsigned nab;
	struct abandoned ab[16];
	unsigned gen[MAXW];
	uint32_t opsoff;                    /* FUZZOPS: ops left out */
	unsigned char nroff[1024];          /* FUZZOPS: system calls left out */
};

static struct ctl *ctl;

/* ---- per-process state (a worker's, or a throwaway child's copy of it) ---- */

static int widx = -1;                   /* worker index; -1 in the supervisor */
static char *buf;                       /* BUFSZ of garbage, then a PROT_NONE page */
static char *nonepg, *ropg, *scratch, *race;
static int vfd = -1;                    /* FUZZVERBOSE: the console */
static const char *hostdir;
static char *hostpaths[256];
static int nhost;
static char long255[256], long256[257];
static char *ubd_orig;                  /* the start of /dev/ubdb as it was at boot */
static long ubd_len;
static volatile int ring[64];           /* fds returned lately, for every fd argument */
static unsigned ringi;
static volatile int dring[16];          /* of those, directories */
static unsigned dringi;
static volatile int kids[8];            /* recent child pids */
static unsigned kidi;
static int mypid;

static __thread uint64_t rs;            /* this thread's random state */
static __thread struct slot *myslot;    /* NULL in children and the supervisor's monitor */
static __thread int depth;              /* 0 in a worker thread, >0 in a throwaway child */
static __thread int mytid;
static __thread char pbuf[2][9000];     /* path texts */
static __thread char *edge;             /* a page followed by a PROT_NONE page */
static __thread char xbuf[12288];       /* contents of executables being made */
static __thread long salen;             /* the length that goes with the last sockaddr */
static __thread int noted;

/* ---- random numbers ---- */

static uint64_t splitmix(uint64_t *x) {
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}
static uint64_t rnd(void) {
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return rs * 0x2545F4914F6CDD1DULL;
}
static unsigned long rn(unsigned long n) { return n ? rnd() % n : 0; }
static int chance(int pct) { return (int)rn(100) < pct; }

static int64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ms(long ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof line - 2)
		n = sizeof line - 2;
	line[n++] = '\n';
	if (write(1, line, n) < 0) {
		/* the console is all we have */
	}
}

/* ---- system-call names, for reports ---- */

struct row {
	long nr;
	int cls, weight;
	const char *args, *name;
};

/* Argument kinds of a row (a leading '>' means the call returns an fd):
 *  f fd           d dirfd        p path         o open flags   a AT_ flags    m mode
 *  v device       b out buffer   i in buffer    n size         N small count  l length <= 1 MiB
 *  x any value    I small int    u id           k pid          s signal       S sockaddr
 *  L its length   M msghdr       q ioctl req    T times[2]     t timeout      C cap header
 *  c cap data     G gid list     H open_how     h its size     Y fs type      w mount flags
 *  j umount flags R rename flags e family       y sock type    r protocol     z sigset (never
 *  holds HSIG)    Z sigset size  W pselect6's {sigset, size}    P rlimit (never a new one)
 *  F random flags B out buffer of a call the shim makes itself (a bad one kills the caller,
 *  a known limit (doc.go): rarely) */
#define R(n, c, w, a) {SYS_##n, c, w, a, #n}

/* Calls a worker thread may make with any arguments its pools give. */
static const struct row rows[] = {
	/* paths (sys_file.go) */
	R(open, C_FILE, 4, ">pom"), R(openat, C_FILE, 4, ">dpom"), R(openat2, C_FILE, 3, ">dpHh"),
	R(creat, C_FILE, 1, ">pm"), R(stat, C_FILE, 2, "pb"), R(lstat, C_FILE, 2, "pb"),
	R(newfstatat, C_FILE, 2, "dpba"), R(statx, C_FILE, 2, "dpaxb"), R(access, C_FILE, 1, "pI"),
	R(faccessat, C_FILE, 1, "dpI"), R(faccessat2, C_FILE, 1, "dpIa"), R(readlink, C_FILE, 2, "pbn"),
	R(readlinkat, C_FILE, 2, "dpbn"), R(mkdir, C_FILE, 2, "pm"), R(mkdirat, C_FILE, 1, "dpm"),
	R(rmdir, C_FILE, 2, "p"), R(unlink, C_FILE, 2, "p"), R(unlinkat, C_FILE, 1, "dpa"),
	R(rename, C_FILE, 2, "pp"), R(renameat, C_FILE, 1, "dpdp"), R(renameat2, C_FILE, 2, "dpdpR"),
	R(link, C_FILE, 1, "pp"), R(linkat, C_FILE, 1, "dpdpa"), R(symlink, C_FILE, 2, "pp"),
	R(symlinkat, C_FILE, 1, "pdp"), R(chmod, C_FILE, 2, "pm"), R(fchmodat, C_FILE, 1, "dpm"),
	R(fchmodat2, C_FILE, 1, "dpma"), R(chown, C_FILE, 1, "puu"), R(lchown, C_FILE, 1, "puu"),
	R(fchownat, C_FILE, 1, "dpuua"), R(utime, C_FILE, 1, "pT"), R(utimes, C_FILE, 1, "pT"),
	R(futimesat, C_FILE, 1, "dpT"), R(utimensat, C_FILE, 2, "dpTa"), R(truncate, C_FILE, 2, "px"),
	R(mknod, C_FILE, 2, "pmv"), R(mknodat, C_FILE, 1, "dpmv"), R(getcwd, C_FILE, 2, "bn"),
	R(statfs, C_FILE, 1, "pb"), R(inotify_add_watch, C_FILE, 1, "fpF"), R(chdir, C_FILE, 2, "p"),
	R(swapon, C_FILE, 1, "pF"), R(swapoff, C_FILE, 1, "p"), R(memfd_create, C_MEM, 1, ">pF"),
	R(mount, C_SYS, 1, "ppYwi"), R(umount2, C_SYS, 1, "pj"),
	/* fds */
	R(fstat, C_FD, 2, "fb"), R(fchmod, C_FD, 1, "fm"), R(fchown, C_FD, 1, "fuu"), R(fsync, C_FD, 1, "f"),
	R(fdatasync, C_FD, 1, "f"), R(syncfs, C_FD, 1, "f"), R(sync, C_FD, 1, ""), R(ioctl, C_FD, 4, "fqx"),
	R(fchdir, C_FD, 1, "f"), R(dup, C_FD, 1, ">f"), R(dup2, C_FD, 1, ">ff"), R(dup3, C_FD, 1, ">ffF"),
	R(read, C_FD, 2, "fbn"), R(write, C_FD, 2, "fin"), R(pread64, C_FD, 1, "fbnx"),
	R(pwrite64, C_FD, 1, "finx"), R(lseek, C_FD, 1, "fxI"), R(getdents64, C_FD, 2, "fbn"),
	R(getdents, C_FD, 1, "fbn"), R(ftruncate, C_FD, 1, "fx"), R(fcntl, C_FD, 2, "fIx"),
	R(flock, C_FD, 1, "fI"), R(fstatfs, C_FD, 1, "fb"), R(sendfile, C_FD, 1, "ffbl"),
	R(copy_file_range, C_FD, 1, "fbfblF"), R(splice, C_FD, 1, "fbfblF"), R(inotify_init1, C_FD, 1, ">F"),
	R(eventfd2, C_FD, 1, ">xF"), R(epoll_create1, C_FD, 1, ">F"), R(epoll_ctl, C_FD, 1, "fIfi"),
	R(pipe2, C_FD, 1, "bF"), R(close, C_FD, 1, "f"), R(close_range, C_FD, 1, "ffF"),
	R(readahead, C_FD, 1, "fxl"), R(fadvise64, C_FD, 1, "fxxI"),
	/* sockets (sys_net.go) */
	R(socket, C_SOCK, 3, ">eyr"), R(socketpair, C_SOCK, 1, "eyrb"), R(bind, C_SOCK, 3, "fSL"),
	R(connect, C_SOCK, 3, "fSL"), R(sendto, C_SOCK, 3, "finFSL"), R(sendmsg, C_SOCK, 4, "fMF"),
	R(recvmsg, C_SOCK, 1, "fMF"), R(recvfrom, C_SOCK, 1, "fbnFbb"), R(listen, C_SOCK, 1, "fI"),
	R(accept4, C_SOCK, 1, ">fbbF"), R(getsockname, C_SOCK, 1, "fbb"), R(getpeername, C_SOCK, 1, "fbb"),
	R(setsockopt, C_SOCK, 1, "fIIin"), R(getsockopt, C_SOCK, 1, "fIIbb"), R(shutdown, C_SOCK, 1, "fI"),
	/* credentials: asking (changing them is for children, sys_cred.go) */
	R(getresuid, C_CRED, 1, "bbb"), R(getresgid, C_CRED, 1, "bbb"), R(getuid, C_CRED, 1, ""),
	R(geteuid, C_CRED, 1, ""), R(getgid, C_CRED, 1, ""), R(getegid, C_CRED, 1, ""),
	R(getgroups, C_CRED, 1, "Nb"), R(capget, C_CRED, 1, "Cc"),
	/* the machine (sys_misc.go) */
	R(uname, C_SYS, 1, "b"), R(sethostname, C_SYS, 1, "in"), R(setdomainname, C_SYS, 1, "in"),
	R(sysinfo, C_SYS, 1, "b"), R(setsid, C_SYS, 1, ""), R(umask, C_SYS, 1, "m"), R(getrandom, C_SYS, 1, "bnF"),
	/* processes: signals, waits, the filter's own-process rules */
	R(kill, C_PROC, 1, "ks"), R(tgkill, C_PROC, 1, "kks"), R(tkill, C_PROC, 1, "ks"),
	R(rt_sigqueueinfo, C_PROC, 1, "ksi"), R(pidfd_open, C_PROC, 1, ">kF"),
	R(pidfd_send_signal, C_PROC, 1, "fsiF"), R(wait4, C_PROC, 1, "kbFb"), R(waitid, C_PROC, 1, "IkbFb"),
	R(setpgid, C_PROC, 1, "kk"), R(getpgid, C_PROC, 1, "k"), R(getsid, C_PROC, 1, "k"),
	R(sched_getaffinity, C_PROC, 1, "knb"), R(sched_setaffinity, C_PROC, 1, "kni"),
	R(sched_getparam, C_PROC, 1, "kb"), R(sched_setscheduler, C_PROC, 1, "kIi"),
	R(sched_getscheduler, C_PROC, 1, "k"), R(sched_setparam, C_PROC, 1, "ki"),
	R(sched_getattr, C_PROC, 1, "kbnF"), R(sched_setattr, C_PROC, 1, "kiF"),
	R(sched_rr_get_interval, C_PROC, 1, "kb"), R(getpriority, C_PROC, 1, "Ik"),
	R(setpriority, C_PROC, 1, "IkI"), R(prlimit64, C_PROC, 1, "kIPb"), R(get_robust_list, C_PROC, 1, "kbb"),
	R(restart_syscall, C_PROC, 1, ""),
	/* signal masks and waits that go through the shim */
	R(rt_sigprocmask, C_SIG, 2, "IzBZ"), R(rt_sigpending, C_SIG, 1, "bZ"), R(rt_sigsuspend, C_SIG, 1, "zZ"),
	R(rt_sigtimedwait, C_SIG, 1, "zbtZ"), R(ppoll, C_SIG, 1, "iNtzZ"), R(pselect6, C_SIG, 1, "NbbbtW"),
	R(epoll_pwait, C_SIG, 1, "fbItzZ"), R(epoll_pwait2, C_SIG, 1, "fbItzZ"), R(nanosleep, C_SIG, 1, "tb"),
	R(signalfd4, C_SIG, 1, ">fiZF"), R(pause, C_SIG, 1, ""),
};

/* Calls the filter decides alone (Errno rows) and calls no row names. */
static const struct row filtered[] = {
	R(ptrace, C_FILTER, 1, "Ikxx"), R(io_uring_setup, C_FILTER, 1, "nb"), R(io_uring_enter, C_FILTER, 1, "fnnFi"),
	R(unshare, C_FILTER, 1, "F"), R(setns, C_FILTER, 1, "fF"), R(process_vm_readv, C_FILTER, 1, "kiNiNF"),
	R(process_vm_writev, C_FILTER, 1, "kiNiNF"), R(kcmp, C_FILTER, 1, "kkIxx"), R(bpf, C_FILTER, 1, "Iin"),
	R(perf_event_open, C_FILTER, 1, "ikIfF"), R(userfaultfd, C_FILTER, 1, "F"), R(pidfd_getfd, C_FILTER, 1, "ffF"),
	R(clone3, C_FILTER, 1, "in"), R(name_to_handle_at, C_FILTER, 1, "dpbba"), R(open_by_handle_at, C_FILTER, 1, "dio"),
	R(setxattr, C_FILTER, 1, "ppinF"), R(lsetxattr, C_FILTER, 1, "ppinF"), R(fsetxattr, C_FILTER, 1, "fpinF"),
	R(getxattr, C_FILTER, 1, "ppbn"), R(lgetxattr, C_FILTER, 1, "ppbn"), R(fgetxattr, C_FILTER, 1, "fpbn"),
	R(listxattr, C_FILTER, 1, "pbn"), R(flistxattr, C_FILTER, 1, "fbn"), R(removexattr, C_FILTER, 1, "pp"),
	R(fremovexattr, C_FILTER, 1, "fp"), R(keyctl, C_FILTER, 1, "Ixxxx"), R(add_key, C_FILTER, 1, "ppinI"),
	R(request_key, C_FILTER, 1, "pppI"), R(acct, C_FILTER, 1, "p"), R(pivot_root, C_FILTER, 1, "pp"),
	R(sendmmsg, C_FILTER, 1, "fiNF"), R(fanotify_init, C_FILTER, 1, "FF"), R(settimeofday, C_FILTER, 1, "ii"),
	R(clock_settime, C_FILTER, 1, "Ii"), R(clock_adjtime, C_FILTER, 1, "Ii"), R(adjtimex, C_FILTER, 1, "i"),
	R(vhangup, C_FILTER, 1, ""), R(kexec_load, C_FILTER, 1, "xNiF"), R(init_module, C_FILTER, 1, "inp"),
	R(finit_module, C_FILTER, 1, "fpF"), R(delete_module, C_FILTER, 1, "pF"), R(syslog, C_FILTER, 1, "Ibn"),
	R(migrate_pages, C_FILTER, 1, "kxii"), R(move_pages, C_FILTER, 1, "kNiibF"),
	R(process_madvise, C_FILTER, 1, "fiNIF"), R(process_mrelease, C_FILTER, 1, "fF"),
};

/* Calls that would cripple a worker for the rest of its life: only throwaway children make
 * them (changing credentials, chroot, prctl and seccomp of any kind, the signal stack,
 * the thread pointer, limits, unmapping anything). */
static const struct row crows[] = {
	R(setuid, C_CRED, 2, "u"), R(setgid, C_CRED, 2, "u"), R(setreuid, C_CRED, 1, "uu"),
	R(setregid, C_CRED, 1, "uu"), R(setresuid, C_CRED, 2, "uuu"), R(setresgid, C_CRED, 2, "uuu"),
	R(setfsuid, C_CRED, 1, "u"), R(setfsgid, C_CRED, 1, "u"), R(setgroups, C_CRED, 2, "NG"),
	R(capset, C_CRED, 2, "Cc"), R(chroot, C_FILE, 2, "p"), R(prctl, C_SYS, 3, "Ixxxx"),
	R(seccomp, C_SYS, 1, "IFi"), R(sigaltstack, C_SIG, 1, "ib"), R(arch_prctl, C_SYS, 1, "Ix"),
	R(rt_sigprocmask, C_SIG, 1, "IibZ"), R(setrlimit, C_PROC, 1, "Ii"), R(personality, C_SYS, 1, "x"),
	R(munmap, C_MEM, 1, "xn"), R(mprotect, C_MEM, 1, "xnI"), R(brk, C_MEM, 1, "x"),
	R(modify_ldt, C_MEM, 1, "Iin"), R(set_tid_address, C_PROC, 1, "x"), R(set_robust_list, C_PROC, 1, "in"),
	R(rseq, C_PROC, 1, "inIx"), R(madvise, C_MEM, 1, "xnI"), R(mremap, C_MEM, 1, "xnnFx"),
	R(mlockall, C_MEM, 1, "F"), R(rt_sigreturn, C_SIG, 1, ""), R(exit, C_PROC, 1, "x"),
	R(sched_setaffinity, C_PROC, 1, "kni"), R(sethostname, C_SYS, 1, "in"),
};

static const struct {
	long nr;
	const char *name;
} morenames[] = {
	{SYS_execve, "execve"}, {SYS_execveat, "execveat"}, {SYS_fork, "fork"}, {SYS_vfork, "vfork"},
	{SYS_clone, "clone"}, {SYS_reboot, "reboot"}, {SYS_rt_sigaction, "rt_sigaction"}, {SYS_mmap, "mmap"},
	{SYS_exit_group, "exit_group"}, {SYS_gettid, "gettid"}, {SYS_getpid, "getpid"},
	{SYS_timer_create, "timer_create"}, {SYS_alarm, "alarm"}, {-2, "wait4(child)"},
};

static const char *sysname(long nr) {
	static __thread char b[32];
	for (size_t i = 0; i < NELEM(rows); i++)
		if (rows[i].nr == nr)
			return rows[i].name;
	for (size_t i = 0; i < NELEM(filtered); i++)
		if (filtered[i].nr == nr)
			return filtered[i].name;
	for (size_t i = 0; i < NELEM(crows); i++)
		if (crows[i].nr == nr)
			return crows[i].name;
	for (size_t i = 0; i < NELEM(morenames); i++)
		if (morenames[i].nr == nr)
			return morenames[i].name;
	snprintf(b, sizeof b, "syscall_%ld", nr);
	return b;
}

/* ---- making a call ---- */

static void note(const char *s) {
	if (myslot) {
		strncpy(myslot->note, s, sizeof myslot->note - 1);
		myslot->note[sizeof myslot->note - 1] = 0;
	}
	noted = 1;
}

static void record_odd(long nr, long r, const long *a) {
	unsigned i = __atomic_fetch_add(&ctl->nodd, 1, __ATOMIC_RELAXED);
	if (i >= NELEM(ctl->odd))
		return;
	struct odd *o = &ctl->odd[i];
	o->nr = nr;
	o->ret = r;
	memcpy(o->arg, a, sizeof o->arg);
	if (myslot)
		memcpy(o->op, myslot->op, sizeof o->op);
	__atomic_store_n(&o->ready, 1, __ATOMIC_RELEASE);
}

static long sc_(int cls, long nr, const long *a) {
	struct slot *s = myslot;
	if (nr >= 0 && nr < (long)sizeof ctl->nroff && ctl->nroff[nr])
		return -ENOSYS;
	if (s) {
		s->nr = nr;
		memcpy(s->arg, a, sizeof s->arg);
		s->since = now_ns();
		__atomic_store_n(&s->busy, 1, __ATOMIC_RELEASE);
	}
	if (vfd >= 0 && depth == 0)
		dprintf(vfd, "sysfuzz-v %d > %s(%#lx, %#lx, %#lx, %#lx, %#lx, %#lx) %s\n", mytid, sysname(nr), a[0],
			a[1], a[2], a[3], a[4], a[5], s ? s->note : "");
	long r = rawsys(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	if (s) {
		__atomic_store_n(&s->busy, 0, __ATOMIC_RELEASE);
		__atomic_add_fetch(&s->calls, 1, __ATOMIC_RELAXED);
	}
	if (vfd >= 0 && depth == 0)
		dprintf(vfd, "sysfuzz-v %d < %ld\n", mytid, r);
	__atomic_add_fetch(&ctl->calls[cls], 1, __ATOMIC_RELAXED);
	if (r < 0 && r > -4096)
		__atomic_add_fetch(&ctl->errs[cls], 1, __ATOMIC_RELAXED);
	/* ERESTARTSYS .. ERESTART_RESTARTBLOCK: the host turns these into a restart or EINTR
	 * on the way out of a call interrupted by a signal; seen here, the kernel answered one
	 * when no signal was there to turn it */
	if (r <= -512 && r >= -516 && r != -515)
		record_odd(nr, r, a);
	return r;
}
#define SC(cls, nr, ...) sc_(cls, nr, (long[6]){__VA_ARGS__})

/* ---- fds handed out lately ---- */

static void ring_add(long fd) {
	if (fd < 0)
		return;
	if (fd > 600) { /* keep clear of RLIMIT_NOFILE: opens must keep working */
		SC(C_FD, SYS_close, fd);
		return;
	}
	ring[__atomic_fetch_add(&ringi, 1, __ATOMIC_RELAXED) % NELEM(ring)] = (int)fd;
}
static void dring_add(long fd) {
	if (fd >= 0 && fd <= 600)
		dring[__atomic_fetch_add(&dringi, 1, __ATOMIC_RELAXED) % NELEM(dring)] = (int)fd;
	ring_add(fd);
}
static int ring_get(void) {
	int fd = ring[rn(NELEM(ring))];
	return fd > 0 ? fd : -1;
}

/* ---- argument pools ---- */

static const unsigned long sizes[] = {
	0, 1, 2, 3, 4, 7, 8, 15, 16, 24, 28, 32, 64, 100, 107, 108, 109, 110, 111, 128, 255, 256, 511,
	512, 4095, 4096, 4097, 8191, 8192, 65535, 65536, 1UL << 20, (1UL << 20) + 1, 0x7fffffff,
	0x80000000UL, 0xffffffffUL, 1UL << 32, (1UL << 32) + 1, 1UL << 62, 0x7fffffffffffffffUL,
	~0UL, ~0UL - 1, -4096UL,
};

static long gen_any(void) {
	switch (rn(6)) {
	case 0: return PICK(sizes);
	case 1: return (long)rnd();
	case 2: return (int)rnd();
	case 3: return 1L << rn(64);
	case 4: return (long)rn(20) - 4;
	default: return -(long)PICK(sizes);
	}
}
static long gen_size(void) {
	if (chance(10))
		return gen_any();
	if (chance(15))
		return rn(5000);
	return PICK(sizes);
}
static long gen_small(void) { return chance(85) ? (long)rn(70) - 2 : gen_any(); }

/* Pointers the kernel must not be able to use. */
static long bad_ptr(void) {
	static const unsigned long bad[] = {
		0, 1, 8, 0xfff, 0x1000, ~0UL, ~0UL - 4095, 0x7ffffffff000UL, 0x800000000000UL,
		0xffff800000000000UL, 0xffffffffff600000UL, /* the shim's pages (shim.go) */
		0x6ffff0000000UL, 0x6ffff0000ffeUL, 0x6ffff0001000UL, 0x6ffff0001040UL,
	};
	switch (rn(8)) {
	case 0: return L(nonepg);
	case 1: return L(nonepg + rn(4096));
	case 2: return L(edge + 4096);                         /* the guard page */
	case 3: return L(scratch + rn(NSCRATCH) * 4096 + rn(16)); /* mapped or not */
	default: return (long)PICK(bad);
	}
}
/* Where the kernel writes. */
static long ptr_out(void) {
	unsigned r = rn(100);
	if (r < 70)
		return L(buf + (chance(80) ? rn(BUFSZ / 4096) * 4096 : rn(BUFSZ)));
	if (r < 78)
		return L(buf + BUFSZ - 1 - rn(64)); /* runs into the guard page */
	if (r < 83)
		return L(ropg + rn(4096));
	return bad_ptr();
}
/* Where the kernel reads. */
static long ptr_in(void) {
	unsigned r = rn(100);
	if (r < 75)
		return L(buf + (chance(80) ? rn(BUFSZ / 4096) * 4096 : rn(BUFSZ)));
	if (r < 83)
		return L(buf + BUFSZ - 1 - rn(64));
	if (r < 88)
		return L(ropg + rn(4096));
	return bad_ptr();
}

static long gen_fd(void) {
	static const long fixed[] = {0, 1, 2, 3, 4, 5, -1, AT_FDCWD, 1000, 1023, 1024, 65535,
				     0x7fffffff, (long)INT_MIN, 0x100000003L, -2, 0xffffffffL};
	if (chance(60)) {
		int fd = ring_get();
		if (fd >= 0)
			return fd;
	}
	if (chance(30))
		return rn(40);
	return PICK(fixed);
}
static long gen_dirfd(void) {
	if (chance(40))
		return AT_FDCWD;
	if (chance(50)) {
		int fd = dring[rn(NELEM(dring))];
		if (fd > 0)
			return fd;
	}
	return gen_fd();
}

static unsigned long flagset(const unsigned long *f, size_t n) {
	if (chance(8))
		return gen_any();
	unsigned long v = 0;
	for (int k = rn(4); k > 0; k--)
		v |= f[rn(n)];
	return v;
}
static const unsigned long oflags[] = {
	O_WRONLY, O_RDWR, 3, O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_NONBLOCK, O_DSYNC, O_ASYNC,
	O_DIRECT, O_LARGEFILE, O_DIRECTORY, O_NOFOLLOW, O_NOATIME, O_CLOEXEC, O_SYNC, O_PATH,
	O_TMPFILE, O_CREAT | O_WRONLY, O_CREAT | O_EXCL | O_RDWR, O_RDONLY, O_NOCTTY,
};
static const unsigned long atflags[] = {
	AT_SYMLINK_NOFOLLOW, AT_REMOVEDIR, AT_SYMLINK_FOLLOW, AT_NO_AUTOMOUNT, AT_EMPTY_PATH,
	AT_EACCESS, 0x2000, 0x4000, 0x8000, 0,
};
static const unsigned long mflags[] = {
	MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_SYNCHRONOUS, MS_REMOUNT, MS_MANDLOCK,
	MS_DIRSYNC, MS_NOATIME, MS_BIND, MS_MOVE, MS_REC, MS_SILENT, MS_PRIVATE, MS_SHARED,
	MS_SLAVE, MS_UNBINDABLE, 0,
};
static const unsigned long uflags[] = {MNT_FORCE, MNT_DETACH, MNT_EXPIRE, UMOUNT_NOFOLLOW, 0};
static const unsigned long rflags[] = {1 /* NOREPLACE */, 2 /* EXCHANGE */, 4 /* WHITEOUT */, 0};
static const unsigned long modes[] = {
	0, 0777, 0755, 0644, 0600, 0444, 0111, 04755, 02755, 06777, 01777, 07777, S_IFIFO | 0644,
	S_IFCHR | 0644, S_IFBLK | 0600, S_IFSOCK | 0755, S_IFREG | 0644, S_IFDIR | 0755,
	S_IFLNK | 0777, 0xffffffff, 0170000,
};
static const unsigned long ids[] = {
	0, 1, 2, 100, 1000, 65533, 65534, 65535, 65536, 0x7fffffff, 0x80000000, 0xfffffffe,
	0xffffffff, 12345, ~0UL, 1UL << 32,
};

#define DEV(ma, mi) (((unsigned long)(ma) << 8) | (mi)) /* small numbers' encoding */

/* Devices: never the console's numbers (5:0, 5:1, 4:0): that is the supervisor's. */
static long gen_dev(void) {
	static const unsigned long devs[] = {
		0, DEV(1, 3), DEV(1, 5), DEV(1, 7), DEV(1, 8), DEV(1, 9),
		DEV(98, 0), DEV(98, 16), DEV(98, 17), DEV(98, 1), DEV(10, 229),
		DEV(7, 0), DEV(8, 0), DEV(1, 1), DEV(1, 2), DEV(1, 11),
		DEV(136, 0), DEV(5, 2), ~0UL, 0xffffffff,
	};
	unsigned long d = chance(85) ? PICK(devs) : rnd();
	unsigned ma = major(d), mi = minor(d);
	if ((ma == 5 && mi <= 1) || (ma == 4 && mi == 0))
		d = 0;
	return d;
}

static long gen_pid(void) {
	static const long other[] = {2, 3, 0x7fffffff, -0x7fffffff, (long)INT_MIN, 4194304, 999999, 1L << 32};
	switch (rn(12)) {
	case 0: return 0;
	case 1: return mypid;
	case 2: return mytid;
	case 3:
		if (widx >= 0)
			return ctl->slot[widx][rn(ctl->nthreads)].tid;
		return mytid;
	case 4: return ctl->slot[rn(ctl->nworkers)][0].pid;
	case 5: return kids[rn(NELEM(kids))];
	/* Signals to init stay in: pid 1 of a PID namespace only gets the signals it has a
	 * handler for, and the supervisor has none of its own, so on Linux they do nothing;
	 * kill(-1, …) spares init, and workers are respawned. */
	case 6: return 1;
	case 7: return -mypid;
	case 8: return chance(20) ? -1 : 0; /* -1: every process but init and the caller */
	default: return PICK(other);
	}
}

/* Signals: never a stopping one (a stopped worker makes no progress, and the supervisor is
 * not its parent's keeper); the fatal ones now and then (workers are respawned). */
static long gen_sig(void) {
	for (;;) {
		long s = chance(95) ? (long)rn(65) : gen_any();
		if (s == SIGSTOP || s == SIGTSTP || s == SIGTTIN || s == SIGTTOU || s == 32 || s == 33)
			continue; /* 32, 33: glibc's own, which it will not let a handler take */
		if ((s == SIGKILL || s == SIGSEGV || s == SIGBUS || s == SIGILL || s == SIGFPE || s == SIGSYS) &&
		    !chance(20))
			continue;
		return s;
	}
}

/* ---- paths ---- */

static const char *const names[] = {
	"d0", "d1", "d2", "d3", "f0", "f1", "f2", "f3", "p0", "p1", "l0", "l1", "l2", "l3", "l4", "l5",
	"s0", "s1", "e0", "e1", "e2", "e3", "h0", "x", ".", "..", "",
};

static const char *const fixed_paths[] = {
	"/", "", ".", "..", "/..", "/../..", "/../../../../../../..", "//", "/./", "/proc", "/proc/",
	"/proc/self", "/proc/self/fd/3/../..", "/proc/self/cwd/..", "/proc/self/cwd", "/proc/1/root/etc",
	"/proc/self/root/../../..", "/proc/self/root", "/proc/thread-self/root/..", "/proc/1/cwd",
	"/proc/self/exe", "/proc/self/fd/0", "/proc/self/fd/", "/proc/self/mem", "/proc/self/environ",
	"/proc/self/status", "/proc/self/maps", "/proc/self/ns/user", "/proc/self/task/..",
	"/proc/sys/kernel/hostname", "/proc/sys/kernel/ctrl-alt-del", "/proc/mounts", "/proc/net/unix",
	"/proc/../..", "/proc/self/fd/1/../../..", "/proc/self/root/proc/self/root/..", "/dev/fd/0",
	"/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/null", "/dev/zero", "/dev/full", "/dev/urandom",
	"/dev/ubdb", "/dev/ubdb1", "/dev/ubdb/..", "/dev/ubda", "/dev/ubdp", "/dev/ubdz", "/dev/../..",
	"/dev/fd/../..", "/dev/fd/3/../..", "/dev/", "/dev/shm", "/dev/nonexistent", "/dev/fd",
	"/dev/fd/", "/sys", "/etc/passwd", "/bin/busybox", "/bin/sh", "/sysfuzz", "/tmp", "/tmp/fz",
	"/mnt", "/mnt/x", FZ "/nonexistent/x", FZ "/f0/", FZ "/f0/..", FZ "/l0/..", FZ "/d0/../../../..",
	"\x01\xff", FZ "/\xff\xfe", FZ "/d0/./../d1//", FZ "/l0/l1/l2",
};

static const char *const bases[] = {
	FZ "/", FZ "/d0/", FZ "/d1/../", FZ "/l0/", "", "./", "../", "../../../../", "/proc/self/cwd/",
	"/proc/self/root" FZ "/", "/proc/thread-self/cwd/", "/proc/1/cwd/", "/proc/1/root" FZ "/",
	"/mnt/", "/../.." FZ "/", "//tmp//fz//", FZ "/f0/", FZ "/p0/", FZ "/d0/d1/", FZ "/s0/",
};

static const char *const procsub[] = {
	"", "/", "/root", "/cwd", "/exe", "/fd", "/fd/3", "/fd/0/..", "/status", "/stat", "/maps",
	"/mem", "/environ", "/cmdline", "/task", "/ns/mnt", "/mountinfo", "/root/..", "/cwd/../..",
	"/net/unix", "/attr/current", "/oom_score_adj", "/comm", "/fdinfo/0", "/task/1/root",
};
/* of init's: nothing that reaches its memory or its fds (the console) */
static const char *const procsub1[] = {
	"", "/root", "/cwd", "/status", "/stat", "/cmdline", "/root/..", "/cwd/../..", "/exe",
};

/* init's tasks: the supervisor's memory and fds (the console) are not the workers' to touch */
static int init_task(long pid) { return pid == 1 || (ctl->helper.tid && pid == ctl->helper.tid); }

/* Fills o (at least 8192 bytes) with exactly n bytes of path, then a NUL. */
static void long_path(char *o, size_t n) {
	static const char *const units[] = {"./", "d0/../", "/", "x/../"};
	const char *u = PICK(units);
	size_t ul = strlen(u), len;
	strcpy(o, FZ "/");
	len = strlen(o);
	if (chance(25)) {
		memset(o, 'a', n);
		o[n] = 0;
		return;
	}
	while (len + ul + 2 <= n) {
		memcpy(o + len, u, ul);
		len += ul;
	}
	while (len + 2 < n)
		o[len++] = '/';
	memcpy(o + len, "f0", 2);
	len += 2;
	o[n < len ? n : len] = 0;
}

static void gen_path_text(char *o) {
	static const size_t lens[] = {254, 255, 256, 1023, 1024, 4094, 4095, 4096, 4097, 5000, 8190};
	switch (rn(24)) {
	case 0: case 1: case 2: case 3: case 4: case 5:
		strcpy(o, PICK(fixed_paths));
		break;
	case 6: case 7: case 8: case 9: case 10: case 11: case 12: {
		strcpy(o, PICK(bases));
		for (int k = 1 + rn(3); k > 0; k--) {
			strcat(o, PICK(names));
			if (k > 1)
				strcat(o, chance(10) ? "//" : "/");
		}
		if (chance(8))
			strcat(o, PICK(((const char *const[]){"/", "/.", "/..", "/../.."})));
		break;
	}
	case 13: {
		long fd = gen_fd();
		snprintf(o, 8192, "%s/%ld%s", chance(50) ? "/proc/self/fd" : "/dev/fd", fd,
			 PICK(((const char *const[]){"", "/", "/..", "/../..", "/x", "/../../etc/passwd", "/."})));
		break;
	}
	case 14: {
		long pid = gen_pid();
		if (init_task(pid))
			snprintf(o, 8192, "/proc/%ld%s", pid, PICK(procsub1));
		else if (chance(20))
			snprintf(o, 8192, "/proc/%s%s", chance(50) ? "self" : "thread-self", PICK(procsub));
		else
			snprintf(o, 8192, "/proc/%ld%s", pid, PICK(procsub));
		break;
	}
	case 15: case 16: case 17:
		if (nhost) {
			strcpy(o, hostpaths[rn(nhost)]);
			break;
		}
		/* fall through */
	case 18:
		long_path(o, PICK(lens));
		break;
	case 19:
		snprintf(o, 8192, FZ "/%s", chance(50) ? long255 : long256);
		break;
	case 20: {
		size_t n = rn(64);
		for (size_t i = 0; i < n; i++)
			o[i] = 1 + rn(255);
		o[n] = 0;
		break;
	}
	default:
		snprintf(o, 8192, FZ "/%s", PICK(names));
	}
}

/* Where a string goes: mostly a proper buffer; sometimes at the end of a page followed by
 * an unmapped one (with no NUL the string runs into it; with a NUL it just fits), the race
 * buffer another thread keeps rewriting, or nowhere. */
#define RACE_PATH 0
#define RACE_SA 512
#define RACE_IOV 1024
#define RACE_MSG 1152
#define RACE_HOW 1280
static long place(const char *s) {
	size_t n = strlen(s), k;
	unsigned r = rn(100);
	if (r < 86)
		return L(s);
	if (r < 91) {
		k = n < 4096 ? n : 4096;
		memcpy(edge + 4096 - k, s, k);
		return L(edge + 4096 - k);
	}
	if (r < 94) {
		k = n < 4095 ? n : 4095;
		memcpy(edge + 4095 - k, s, k);
		edge[4095] = 0;
		return L(edge + 4095 - k);
	}
	if (r < 97)
		return L(race + RACE_PATH);
	return bad_ptr();
}

static long gen_path(int which) {
	char *o = pbuf[which & 1];
	gen_path_text(o);
	if (!noted)
		note(o);
	return place(o);
}

/* ---- structured arguments ---- */

static __thread union {
	struct sockaddr sa;
	struct sockaddr_un un;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
	struct sockaddr_nl nl;
	char raw[128];
} sa;

static long gen_sockaddr(void) {
	static const char *const sockpaths[] = {FZ "/s0", FZ "/s1", FZ "/p0", FZ "/f0", FZ "/d0", FZ "/l0",
						"/dev/log", "/", "", FZ "/s0/", "/proc/self/fd/3", "/dev/null"};
	memset(&sa, 0, sizeof sa);
	switch (rn(10)) {
	case 0: case 1: case 2: case 3: {
		sa.un.sun_family = AF_UNIX;
		const char *p = PICK(sockpaths);
		if (chance(30)) {
			gen_path_text(pbuf[1]);
			p = pbuf[1];
		} else if (nhost && chance(20))
			p = hostpaths[rn(nhost)];
		size_t n = strlen(p);
		if (n > sizeof sa.un.sun_path)
			n = sizeof sa.un.sun_path;
		memcpy(sa.un.sun_path, p, n); /* 108 bytes: no NUL */
		salen = offsetof(struct sockaddr_un, sun_path) + n + (n < sizeof sa.un.sun_path);
		note(p);
		break;
	}
	case 4:
		sa.un.sun_family = AF_UNIX;
		salen = offsetof(struct sockaddr_un, sun_path) + 1 +
			snprintf(sa.un.sun_path + 1, sizeof sa.un.sun_path - 1, "sysfuzz-%d", (int)rn(4));
		break;
	case 5:
		sa.un.sun_family = AF_UNIX;
		salen = sizeof(sa_family_t); /* autobind */
		break;
	case 6:
		sa.in.sin_family = AF_INET;
		sa.in.sin_port = htons(PICK(((const int[]){0, 1, 22, 80, 4000, 4001, 65535})));
		sa.in.sin_addr.s_addr = htonl(PICK(((const uint32_t[]){0x7f000001, 0, 0x0a000001, 0xffffffff})));
		salen = sizeof sa.in;
		break;
	case 7:
		sa.in6.sin6_family = AF_INET6;
		sa.in6.sin6_port = htons(4000 + rn(2));
		sa.in6.sin6_addr.s6_addr[15] = 1;
		salen = sizeof sa.in6;
		break;
	case 8:
		sa.nl.nl_family = AF_NETLINK;
		sa.nl.nl_pid = rn(3);
		sa.nl.nl_groups = rnd();
		salen = sizeof sa.nl;
		break;
	default:
		for (size_t i = 0; i < sizeof sa.raw; i++)
			sa.raw[i] = rnd();
		sa.sa.sa_family = PICK(((const int[]){AF_UNSPEC, AF_PACKET, 40 /* vsock */, 0xffff, AF_UNIX}));
		salen = rn(129);
	}
	unsigned r = rn(100);
	if (r < 85)
		return L(&sa);
	if (r < 90)
		return L(race + RACE_SA);
	return bad_ptr();
}
static long gen_socklen(void) {
	static const long lens[] = {0, 1, 2, 3, 16, 108, 109, 110, 111, 112, 128, 4096, -1, 0x7fffffff, 0x80000000L};
	return chance(70) ? salen : PICK(lens);
}

static __thread struct msghdr msg;
static __thread struct iovec iov[4];
static __thread char ctrl[256];

static long gen_iovlen(void) {
	static const long n[] = {0, 1, 2, 3, 4, 1024, 1025, 0x7fffffff, -1};
	return chance(80) ? (long)rn(5) : PICK(n);
}

static long gen_msghdr(void) {
	memset(&msg, 0, sizeof msg);
	msg.msg_name = chance(60) ? NULL : (void *)gen_sockaddr();
	msg.msg_namelen = msg.msg_name ? gen_socklen() : (chance(90) ? 0 : gen_any());
	for (int i = 0; i < 4; i++) {
		iov[i].iov_base = (void *)ptr_in();
		iov[i].iov_len = chance(50) ? rn(4097) : gen_size();
	}
	if (chance(15)) { /* a short piece, then one that claims all of memory */
		iov[0].iov_base = buf;
		iov[0].iov_len = 1;
		iov[1].iov_base = buf;
		iov[1].iov_len = chance(50) ? ~0UL : (~0UL >> 1) + rn(3);
	}
	msg.msg_iov = chance(90) ? iov : (struct iovec *)(chance(50) ? bad_ptr() : ptr_in());
	msg.msg_iovlen = gen_iovlen();
	if (chance(25)) {
		struct cmsghdr *c = (struct cmsghdr *)ctrl;
		c->cmsg_level = chance(80) ? SOL_SOCKET : (int)rnd();
		c->cmsg_type = PICK(((const int[]){SCM_RIGHTS, SCM_CREDENTIALS, 3 /* SCM_SECURITY */, 0x7fff}));
		c->cmsg_len = chance(70) ? CMSG_LEN(4 * (1 + rn(4))) : gen_size();
		int *fds = (int *)CMSG_DATA(c);
		for (int i = 0; i < 4; i++)
			fds[i] = c->cmsg_type == SCM_CREDENTIALS ? gen_pid() : gen_fd();
		msg.msg_control = chance(90) ? (void *)ctrl : (void *)bad_ptr();
		msg.msg_controllen = chance(70) ? c->cmsg_len : gen_size();
	}
	msg.msg_flags = rnd();
	unsigned r = rn(100);
	if (r < 85)
		return L(&msg);
	if (r < 90)
		return L(race + RACE_MSG);
	if (r < 94) { /* the header ends at an unmapped page */
		size_t k = rn(sizeof msg);
		memcpy(edge + 4096 - k, &msg, k);
		return L(edge + 4096 - k);
	}
	return bad_ptr();
}

static __thread struct {
	uint64_t flags, mode, resolve, extra[5];
} how;
static long gen_how(void) {
	memset(&how, 0, sizeof how);
	how.flags = flagset(oflags, NELEM(oflags));
	how.mode = chance(70) ? PICK(modes) : (unsigned long)gen_any();
	how.resolve = chance(60) ? 0 : chance(70) ? (1UL << rn(5)) : (uint64_t)gen_any();
	if (chance(10))
		how.extra[rn(5)] = rnd();
	unsigned r = rn(100);
	if (r < 88)
		return L(&how);
	if (r < 92)
		return L(race + RACE_HOW);
	return bad_ptr();
}
static long gen_howsize(void) {
	static const long n[] = {24, 24, 24, 32, 40, 16, 0, 4096, 25, 8, 1L << 40};
	return chance(90) ? PICK(n) : gen_size();
}

static __thread long tsv[4];
static long gen_times(void) {
	static const long v[] = {0, 1, -1, 0x3fffffff /* UTIME_NOW */, 0x3ffffffe /* UTIME_OMIT */,
				 999999999, 1000000000, LONG_MAX, LONG_MIN, 1700000000};
	for (int i = 0; i < 4; i++)
		tsv[i] = PICK(v);
	unsigned r = rn(100);
	return r < 70 ? L(tsv) : r < 85 ? 0 : bad_ptr();
}
static __thread struct timespec ts1;
static long gen_timeout(void) {
	ts1.tv_sec = chance(80) ? 0 : chance(50) ? -1 : LONG_MAX;
	ts1.tv_nsec = chance(90) ? (long)rn(2000000) : 1000000000;
	unsigned r = rn(100);
	return r < 75 ? L(&ts1) : r < 92 ? 0 /* forever: the harness signal ends it */ : bad_ptr();
}

static __thread struct {
	uint32_t version;
	int pid;
} caph;
static __thread uint32_t capd[6];
static long gen_caphdr(void) {
	caph.version = PICK(((const uint32_t[]){0x19980330, 0x20071026, 0x20080522, 0, 0xffffffff}));
	caph.pid = gen_pid();
	return chance(90) ? L(&caph) : bad_ptr();
}
static long gen_capdata(void) {
	for (int i = 0; i < 6; i++)
		capd[i] = chance(50) ? 0xffffffff : chance(50) ? 0 : (uint32_t)rnd();
	return chance(85) ? L(capd) : bad_ptr();
}

static __thread uint32_t gl[64];
static long gen_gidlist(void) {
	for (int i = 0; i < 64; i++)
		gl[i] = PICK(ids);
	return chance(85) ? L(gl) : bad_ptr();
}
static long gen_count(void) { return chance(70) ? (long)rn(65) : gen_size(); }

static long gen_fstype(void) {
	static const char *const fs[] = {"ext4", "ext2", "ext3", "auto", "", "proc", "sysfs", "tmpfs",
					 "hostfs", "devpts", "bind", "overlay", "fuse", "ext4\xff"};
	unsigned r = rn(100);
	return r < 80 ? L(PICK(fs)) : r < 90 ? 0 : bad_ptr();
}

static __thread uint64_t sset[2];
/* A bad pointer for a signal set: never a readable one (the shim's pages, scratch), whose
 * bytes could block HSIG and make a masked wait sleep for ever, natively too. */
static long bad_set_ptr(void) {
	static const unsigned long bad[] = {1, 8, 0xfff, ~0UL, ~0UL - 4095, 0x800000000000UL, 0xffff800000000000UL};
	return chance(20) ? L(nonepg + rn(4096)) : (long)PICK(bad);
}
static long gen_sigset(void) {
	sset[0] = chance(50) ? rnd() : chance(50) ? 0 : ~0ULL;
	sset[1] = rnd();
	sset[0] &= ~(1ULL << (HSIG - 1));
	unsigned r = rn(100);
	return r < 80 ? L(sset) : r < 98 ? 0 : bad_set_ptr(); /* a bad set kills the caller (doc.go) */
}
static long gen_sigsetsize(void) {
	static const long n[] = {0, 4, 16, 128, -1};
	return chance(85) ? 8 : PICK(n);
}
static __thread long psig[2];
static long gen_psig(void) {
	psig[0] = gen_sigset();
	psig[1] = gen_sigsetsize();
	unsigned r = rn(100);
	return r < 70 ? L(psig) : r < 98 ? 0 : bad_ptr();
}

static long gen_ioctl(void) {
	static const unsigned long req[] = {
		0x5401 /* TCGETS */, 0x5402 /* TCSETS */, 0x5403, 0x5404, 0x5413 /* TIOCGWINSZ */,
		0x5414 /* TIOCSWINSZ */, 0x5412 /* TIOCSTI */, 0x541C /* TIOCLINUX */, 0x541D /* TIOCCONS */,
		0x5423 /* TIOCSETD */, 0x5424 /* TIOCGETD */, 0x540E /* TIOCSCTTY */, 0x5422 /* TIOCNOTTY */,
		0x540F /* TIOCGPGRP */, 0x5410 /* TIOCSPGRP */, 0x5429 /* TIOCGSID */, 0x540C, 0x540D,
		0x80045430 /* TIOCGPTN */, 0x40045431 /* TIOCSPTLCK */, 0x5441 /* TIOCGPTPEER */,
		0x541B /* FIONREAD */, 0x5421 /* FIONBIO */, 0x5451 /* FIOCLEX */, 0x5450, 0x5452,
		0x1260 /* BLKGETSIZE */, 0x80081272 /* BLKGETSIZE64 */, 0x1268 /* BLKSSZGET */,
		0x80081270 /* BLKBSZGET */, 0x40081271 /* BLKBSZSET */, 0x1261 /* BLKFLSBUF */,
		0x125f /* BLKRRPART */, 0x1269 /* BLKPG */, 0x125e /* BLKROGET */, 0x125d /* BLKROSET */,
		0x1277 /* BLKDISCARD */, 0x127f /* BLKZEROOUT */, 0x0301 /* HDIO_GETGEO */,
		0x80086601 /* FS_IOC_GETFLAGS */, 0x40086602 /* FS_IOC_SETFLAGS */, 0xc020660b /* FIEMAP */,
		0x40049409 /* FICLONE */, 0x8b01 /* SIOCGIWNAME */, 0x8912 /* SIOCGIFCONF */,
		0x8913 /* SIOCGIFFLAGS */, 0x8914 /* SIOCSIFFLAGS */, 0x8933 /* SIOCGIFINDEX */,
		0x4b33 /* KDGETMODE */, 0x5603 /* VT_GETSTATE */,
	};
	/* FIFREEZE (0xc0045877) is left out on purpose: if the walls failed it would freeze
	 * the host's file system, and the test machine with it */
	return chance(80) ? (long)PICK(req) : chance(50) ? (long)(uint32_t)rnd() : gen_any();
}

static long gen_arg(char k) {
	switch (k) {
	case 'f': return gen_fd();
	case 'd': return gen_dirfd();
	case 'p': return gen_path(noted ? 1 : 0);
	case 'o': return flagset(oflags, NELEM(oflags));
	case 'a': return flagset(atflags, NELEM(atflags));
	case 'm': return chance(85) ? (long)PICK(modes) : gen_any();
	case 'v': return gen_dev();
	case 'b': return ptr_out();
	case 'B': return chance(97) ? L(buf + rn(BUFSZ / 8) * 8) : chance(50) ? 0 : ptr_out();
	case 'i': return ptr_in();
	case 'n': return gen_size();
	case 'N': return gen_count();
	case 'l': return chance(80) ? (long)rn(1 << 20) : (long)PICK(((const long[]){0, 1, 1 << 20}));
	case 'x': return gen_any();
	case 'I': return gen_small();
	case 'u': return chance(85) ? (long)PICK(ids) : gen_any();
	case 'k': return gen_pid();
	case 's': return gen_sig();
	case 'S': return gen_sockaddr();
	case 'L': return gen_socklen();
	case 'M': return gen_msghdr();
	case 'q': return gen_ioctl();
	case 'T': return gen_times();
	case 't': return gen_timeout();
	case 'C': return gen_caphdr();
	case 'c': return gen_capdata();
	case 'G': return gen_gidlist();
	case 'H': return gen_how();
	case 'h': return gen_howsize();
	case 'Y': return gen_fstype();
	case 'w': return flagset(mflags, NELEM(mflags));
	case 'j': return flagset(uflags, NELEM(uflags));
	case 'R': return flagset(rflags, NELEM(rflags));
	case 'e': return chance(85) ? (long)PICK(((const int[]){AF_UNIX, AF_UNIX, AF_INET, AF_INET6, AF_NETLINK,
								AF_PACKET, 40, 31, 38, 15, 44, AF_UNSPEC}))
				    : gen_small();
	case 'y': return (chance(85) ? PICK(((const int[]){SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_RAW}))
				     : (int)gen_small()) |
			 (chance(40) ? SOCK_NONBLOCK : 0) | (chance(30) ? SOCK_CLOEXEC : 0);
	case 'r': return chance(80) ? 0 : gen_small();
	case 'z': return gen_sigset();
	case 'Z': return gen_sigsetsize();
	case 'W': return gen_psig();
	case 'P': return chance(50) ? 0 : bad_ptr();
	case 'F': return chance(30) ? 0 : chance(50) ? (long)(1UL << rn(32)) : gen_any();
	}
	return gen_any();
}

/* Makes one call of a row with fresh arguments; returns its result. */
static long call_row(const struct row *r) {
	long a[6] = {0};
	const char *k = r->args;
	int fdret = *k == '>';
	if (fdret)
		k++;
	noted = 0;
	for (int i = 0; *k && i < 6; i++, k++)
		a[i] = gen_arg(*k);
	/* Root may lower init's limits on Linux too, and RLIMIT_CPU's hard limit then kills
	 * init (the host's CPU timer sends SIGKILL, which even init gets): the machine would
	 * panic by the fuzzer's own hand. Others' limits stay fair game. */
	if (r->nr == SYS_prlimit64 && a[0] == 1 && a[2] != 0)
		a[0] = mypid;
	if (!noted && myslot)
		myslot->note[0] = 0;
	long ret = sc_(r->cls, r->nr, a);
	if (fdret && ret >= 0) {
		if (r->nr == SYS_open || r->nr == SYS_openat || r->nr == SYS_openat2)
			dring_add(ret);
		else
			ring_add(ret);
	}
	return ret;
}

static const struct row *pick_row(const struct row *t, size_t n) {
	static int total[3];
	int which = t == rows ? 0 : t == filtered ? 1 : 2;
	if (!total[which])
		for (size_t i = 0; i < n; i++)
			total[which] += t[i].weight;
	int w = rn(total[which]);
	for (size_t i = 0; i < n; i++) {
		w -= t[i].weight;
		if (w < 0)
			return &t[i];
	}
	return &t[0];
}

/* ---- throwaway children ---- */

static void remember_kid(long pid) {
	if (pid > 0)
		kids[__atomic_fetch_add(&kidi, 1, __ATOMIC_RELAXED) % NELEM(kids)] = (int)pid;
}

/* Waits for a throwaway child. A child that SIGKILL does not end within FUZZHANG seconds
 * shows up as a hang of this pseudo call (nr -2). */
static void reap_child(long pid, const char *what) {
	if (pid <= 0)
		return;
	remember_kid(pid);
	struct slot *s = myslot;
	int64_t t0 = now_ns();
	if (s) {
		s->nr = -2;
		memset(s->arg, 0, sizeof s->arg);
		s->arg[0] = pid;
		snprintf(s->note, sizeof s->note, "%s", what);
		s->since = t0;
		__atomic_store_n(&s->busy, 1, __ATOMIC_RELEASE);
	}
	int killed = 0;
	for (;;) {
		int st = 0;
		long r = rawsys(SYS_wait4, pid, L(&st), __WALL, 0, 0, 0);
		if (r == pid) {
			__atomic_add_fetch(&ctl->children, 1, __ATOMIC_RELAXED);
			if (WIFSIGNALED(st)) {
				__atomic_add_fetch(&ctl->child_sig, 1, __ATOMIC_RELAXED);
				if (WTERMSIG(st) == SIGALRM)
					__atomic_add_fetch(&ctl->child_alarm, 1, __ATOMIC_RELAXED);
			}
			break;
		}
		if (r < 0 && r != -EINTR)
			break; /* reaped elsewhere, or not ours (CLONE_PARENT) */
		if (!killed && now_ns() - t0 > 5000000000LL) {
			rawsys(SYS_kill, pid, SIGKILL, 0, 0, 0, 0);
			__atomic_add_fetch(&ctl->child_stuck, 1, __ATOMIC_RELAXED);
			killed = 1;
		}
		if (depth > 0) /* no harness timer in a child: poll */
			sleep_ms(20);
	}
	if (s) {
		__atomic_store_n(&s->busy, 0, __ATOMIC_RELEASE);
		__atomic_add_fetch(&s->calls, 1, __ATOMIC_RELAXED);
	}
}

/* A throwaway child reports its calls in its parent thread's child record; it must not
 * touch the parent's own (the parent is busy waiting for it). */
static void become_child(void) {
	depth++;
	myslot = myslot ? myslot->child : NULL;
	if (myslot) {
		myslot->pid = rawsys(SYS_getpid, 0, 0, 0, 0, 0, 0);
		myslot->tid = myslot->pid;
		myslot->busy = 0;
	}
}

static void child_body(void) __attribute__((noreturn));

/* A new process by one of fork, vfork (a fork to the guest), or clone with flags from the
 * pool. body: the child runs child_body(); otherwise it exits at once (and then the flags
 * may be anything). */
static long spawn(int body) {
	static const unsigned long cflags[] = {
		CLONE_FS, CLONE_FILES, CLONE_PARENT, CLONE_PTRACE, CLONE_UNTRACED, CLONE_SYSVSEM,
		CLONE_IO, CLONE_VFORK, CLONE_VM, CLONE_VM | CLONE_VFORK, CLONE_PIDFD, CLONE_PARENT_SETTID,
		CLONE_CHILD_SETTID, CLONE_CHILD_CLEARTID, CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID,
		CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWCGROUP, CLONE_NEWTIME, CLONE_DETACHED,
		CLONE_SIGHAND | CLONE_VM, CLONE_THREAD, CLONE_SETTLS, CLONE_SIGHAND,
	};
	int pidfd = -1;
	long exitsig = chance(85) ? SIGCHLD : chance(50) ? 0 : gen_sig();
	if (exitsig == SIGKILL || exitsig == SIGSEGV)
		exitsig = SIGCHLD;
	long pid;
	if (!body) {
		unsigned long f = flagset(cflags, NELEM(cflags)) & 0xffffffffUL & ~0xffUL;
		long stack = chance(50) ? 0 : chance(50) ? L(scratch + rn(NSCRATCH) * 4096) : bad_ptr();
		note("clone, child exits at once");
		pid = clone_exit(f | (exitsig & 0xff), stack, chance(50) ? L(&pidfd) : ptr_out(), ptr_out(),
				 chance(50) ? 0 : gen_any());
		/* a CLONE_THREAD child is not waited for */
		if (f & CLONE_THREAD)
			pid = -1;
	} else {
		noted = 0;
		switch (rn(4)) {
		case 0:
			pid = SC(C_PROC, SYS_fork);
			break;
		case 1:
			pid = SC(C_PROC, SYS_vfork);
			break;
		default: {
			/* the child runs C code on a copy of this stack: no CLONE_VM|THREAD|SETTLS */
			unsigned long f = flagset(cflags, NELEM(cflags)) & 0xffffffffUL & ~0xffUL;
			f &= ~(unsigned long)(CLONE_THREAD | CLONE_SETTLS | CLONE_SIGHAND | CLONE_VM);
			pid = SC(C_PROC, SYS_clone, f | (exitsig & 0xff), 0, chance(50) ? L(&pidfd) : ptr_out(),
				 ptr_out(), 0);
		}
		}
		if (pid == 0)
			child_body();
	}
	if (pidfd > 0)
		ring_add(pidfd);
	return pid;
}

/* ---- ops: each is one attack; a thread runs them at random ---- */

static void fzpath(char *o, const char *name) { snprintf(o, 64, FZ "/%s", name); }

static void op_generic(void) { call_row(pick_row(rows, NELEM(rows))); }
static void op_filtered(void) {
	call_row(pick_row(filtered, NELEM(filtered)));
	/* and calls no row names: ENOSYS, also for x32's numbers (bit 30), which would
	 * otherwise reach the host's x32 entry points past the table */
	static const long unlisted[] = {134, 136, 139, 156, 172, 173, 174, 177, 178, 180, 181, 182, 183,
					184, 185, 205, 211, 212, 214, 215, 236, 500, 511, 512, 547, 600, 1000,
					0xffff, -1, 0x7fffffff};
	long nr = chance(40) ? PICK(unlisted) : chance(50) ? 335 + (long)rn(88) : 463 + (long)rn(49);
	if (chance(30))
		nr = 0x40000000 | (chance(50) ? (long)rn(548) : PICK(((const long[]){SYS_openat, SYS_open, SYS_execve, SYS_mkdir, SYS_getuid})));
	noted = 0;
	SC(C_RAW, nr, gen_any(), gen_any(), gen_any(), gen_any(), gen_any(), gen_any());
}

/* Symlink targets: out of the root, through /proc, loops, FIFOs, devices. */
static const char *link_target(void) {
	static const char *const t[] = {
		"/", "..", "/..", "../../..", "/../../..", "/proc/self/cwd", "/proc/self/cwd/..", "/proc/self/root",
		"/proc/self/root/..", "/proc/1/root", "/proc/self/fd/3", "/proc/self/fd/0", "/dev/fd/0", "/dev/null",
		"/dev/stdin", "/dev/ubdb", FZ "/l0", FZ "/l1", "l0", "l1", "l2", "./l3", "d0", "d1/..", "f0", "p0",
		"s0", "e0", "/etc/passwd", "/bin/busybox", "/sysfuzz", "/tmp", "/mnt", "/proc", "/proc/self",
		"/proc/self/exe", "/proc/self/mem", "", "x/../../../..", "l5/x",
	};
	unsigned r = rn(100);
	if (r < 60)
		return PICK(t);
	if (r < 80 && nhost)
		return hostpaths[rn(nhost)];
	gen_path_text(pbuf[1]);
	return pbuf[1];
}

static void make_exec(const char *path);

/* (Re)creates an entry of the fuzzer's tree as the kind its name says. */
static void op_populate(void) {
	static const char *const n[] = {"d0", "d1", "d2", "d3", "f0", "f1", "f2", "f3", "p0", "p1", "l0", "l1",
					"l2", "l3", "l4", "l5", "s0", "s1", "e0", "e1", "e2", "e3", "h0"};
	char p[64], q[64];
	const char *name = PICK(n);
	fzpath(p, name);
	note(p);
	switch (name[0]) {
	case 'd':
		SC(C_FILE, SYS_mkdir, L(p), 0777);
		if (chance(30)) {
			snprintf(q, sizeof q, "%s/%s", p, PICK(((const char *const[]){"d1", "f0", "x"})));
			SC(C_FILE, SYS_mkdir, L(q), 0755);
		}
		break;
	case 'f': {
		long fd = SC(C_FILE, SYS_open, L(p), O_CREAT | O_WRONLY | (chance(50) ? O_TRUNC : O_APPEND), 0666);
		if (fd >= 0) {
			SC(C_FD, SYS_write, fd, L(buf + rn(4096)), rn(8192));
			SC(C_FD, SYS_close, fd);
		}
		break;
	}
	case 'p':
		SC(C_FILE, SYS_mknod, L(p), S_IFIFO | 0666, 0);
		break;
	case 'l':
		if (chance(50))
			SC(C_FILE, SYS_unlink, L(p));
		SC(C_FILE, SYS_symlink, L(link_target()), L(p));
		break;
	case 's': {
		long s = SC(C_SOCK, SYS_socket, AF_UNIX, chance(50) ? SOCK_DGRAM : SOCK_STREAM, 0);
		struct sockaddr_un un = {.sun_family = AF_UNIX};
		strcpy(un.sun_path, p);
		if (chance(50))
			SC(C_FILE, SYS_unlink, L(p));
		SC(C_SOCK, SYS_bind, s, L(&un), sizeof un);
		SC(C_SOCK, SYS_listen, s, 4);
		ring_add(s);
		break;
	}
	case 'e':
		make_exec(p);
		break;
	case 'h':
		fzpath(q, PICK(((const char *const[]){"f0", "f1", "e0", "p0", "l0", "s0", "d0"})));
		SC(C_FILE, SYS_link, L(q), L(p));
		break;
	}
}

/* A FIFO must never hang the kernel: every call that takes a path, on a FIFO. */
static void op_fifo(void) {
	char p[64], l[64];
	fzpath(p, chance(50) ? "p0" : "p1");
	note(p);
	SC(C_FILE, SYS_mknod, L(p), S_IFIFO | 0666, 0);
	long fd;
	switch (rn(14)) {
	case 0: case 1:
		SC(C_FILE, SYS_truncate, L(p), PICK(((const long[]){0, 1, 4096})));
		break;
	case 2:
		fd = SC(C_FILE, SYS_open, L(p), O_RDONLY); /* no writer: ends with EINTR */
		ring_add(fd);
		break;
	case 3:
		fd = SC(C_FILE, SYS_openat, AT_FDCWD, L(p), O_WRONLY | (chance(50) ? O_TRUNC : 0));
		ring_add(fd);
		break;
	case 4:
		fd = SC(C_FILE, SYS_open, L(p), O_WRONLY | O_NONBLOCK); /* ENXIO */
		ring_add(fd);
		break;
	case 5:
		fd = SC(C_FILE, SYS_open, L(p), O_RDWR);
		if (fd >= 0) {
			SC(C_FD, SYS_write, fd, L(buf), 100);
			SC(C_FD, SYS_read, fd, L(buf + 8192), 100);
			SC(C_FD, SYS_close, fd);
		}
		break;
	case 6: {
		/* the kernel reopens a guest fd for /dev/stdin and /proc/self/fd/N: here a FIFO */
		fd = SC(C_FILE, SYS_open, L(p), O_RDONLY | O_NONBLOCK);
		long to = chance(50) ? (long)rn(3) : fd;
		if (to != fd)
			SC(C_FD, SYS_dup2, fd, to);
		char q[64];
		snprintf(q, sizeof q, "%s/%ld", chance(50) ? "/dev/fd" : "/proc/self/fd", to);
		const char *path = to == 0 && chance(50) ? "/dev/stdin" : q;
		note(path);
		ring_add(SC(C_FILE, SYS_open, L(path), chance(50) ? O_RDONLY : O_WRONLY));
		ring_add(fd);
		break;
	}
	case 7: {
		fd = SC(C_FILE, SYS_open, L(p), O_PATH);
		char q[64];
		snprintf(q, sizeof q, "/proc/self/fd/%ld", fd);
		ring_add(SC(C_FILE, SYS_open, L(q), PICK(((const long[]){O_RDONLY, O_WRONLY, O_RDWR, O_WRONLY | O_TRUNC}))));
		SC(C_FILE, SYS_truncate, L(q), 0);
		ring_add(fd);
		break;
	}
	case 8:
		SC(C_FILE, SYS_stat, L(p), ptr_out());
		SC(C_FILE, SYS_utimensat, AT_FDCWD, L(p), 0, 0);
		SC(C_FILE, SYS_chmod, L(p), 0600);
		SC(C_FILE, SYS_chown, L(p), 1000, 1000);
		SC(C_FILE, SYS_access, L(p), W_OK);
		SC(C_FILE, SYS_statx, AT_FDCWD, L(p), 0, 0xfff, ptr_out());
		break;
	case 9:
		ring_add(SC(C_FILE, SYS_creat, L(p), 0644));
		ring_add(SC(C_FILE, SYS_open, L(p), O_WRONLY | O_TRUNC | O_CREAT, 0644));
		break;
	case 10:
		fzpath(l, chance(50) ? "l4" : "l5");
		SC(C_FILE, SYS_unlink, L(l));
		SC(C_FILE, SYS_symlink, L(p), L(l));
		SC(C_FILE, SYS_truncate, L(l), 0);
		ring_add(SC(C_FILE, SYS_open, L(l), O_RDONLY));
		break;
	case 11: {
		struct sockaddr_un un = {.sun_family = AF_UNIX};
		strcpy(un.sun_path, p);
		long s = SC(C_SOCK, SYS_socket, AF_UNIX, chance(50) ? SOCK_DGRAM : SOCK_STREAM, 0);
		SC(C_SOCK, SYS_connect, s, L(&un), sizeof un);
		SC(C_SOCK, SYS_sendto, s, L(buf), 10, 0, L(&un), sizeof un);
		SC(C_SOCK, SYS_bind, s, L(&un), sizeof un);
		SC(C_FD, SYS_close, s);
		break;
	}
	case 12:
		fd = SC(C_FD, SYS_inotify_init1, 0);
		SC(C_FILE, SYS_inotify_add_watch, fd, L(p), 0xfff);
		SC(C_FILE, SYS_mount, L(p), L("/mnt"), L("ext4"), 0, 0);
		SC(C_FILE, SYS_mount, L("/dev/ubdb"), L(p), L("ext4"), 0, 0);
		SC(C_FILE, SYS_rename, L(p), L(FZ "/f3"));
		ring_add(fd);
		break;
	case 13:
		ring_add(SC(C_FILE, SYS_openat2, AT_FDCWD, L(p), gen_how(), 24));
		SC(C_FILE, SYS_readlink, L(p), ptr_out(), 4096);
		SC(C_FILE, SYS_link, L(p), L(FZ "/h0"));
		break;
	}
}

/* Unix datagram sends are made by the kernel itself (sys_net.go): iovecs whose lengths add
 * up past 2^64, past 1 MiB, or that another thread changes. */
static void op_sendmsg(void) {
	int sv[2] = {-1, -1};
	int type = (chance(70) ? SOCK_DGRAM : chance(50) ? SOCK_STREAM : SOCK_SEQPACKET) | (chance(30) ? SOCK_NONBLOCK : 0);
	note("sendmsg iovecs");
	if (chance(70)) {
		SC(C_SOCK, SYS_socketpair, AF_UNIX, type, 0, L(sv));
	} else {
		sv[0] = SC(C_SOCK, SYS_socket, AF_UNIX, type, 0);
		struct sockaddr_un un = {.sun_family = AF_UNIX};
		fzpath(un.sun_path, chance(50) ? "s0" : "s1");
		SC(C_SOCK, SYS_connect, sv[0], L(&un), sizeof un);
	}
	struct msghdr m = {0};
	struct iovec v[4] = {{buf, 1}, {buf, ~0UL}, {buf, 1}, {buf, 1}};
	switch (rn(6)) {
	case 0:
		break;
	case 1: /* 1 MiB and then some */
		v[0].iov_len = 1 << 20;
		break;
	case 2:
		v[1].iov_len = (~0UL >> 1) + 1;
		break;
	case 3:
		v[0].iov_len = 0;
		v[1].iov_base = (void *)bad_ptr();
		v[1].iov_len = 16;
		break;
	case 4: /* lengths that wrap to a small total */
		v[0].iov_len = ~0UL - 15;
		v[1].iov_len = 32;
		break;
	default:
		v[1].iov_len = gen_size();
	}
	m.msg_iov = v;
	m.msg_iovlen = chance(80) ? 2 : gen_iovlen();
	long mp = chance(85) ? L(&m) : L(race + RACE_MSG);
	SC(C_SOCK, SYS_sendmsg, sv[0], mp, chance(50) ? 0 : PICK(((const long[]){MSG_DONTWAIT, MSG_NOSIGNAL, MSG_DONTWAIT | MSG_NOSIGNAL, MSG_OOB, -1})));
	if (chance(50))
		SC(C_SOCK, SYS_sendmsg, sv[0], gen_msghdr(), chance(50) ? 0 : MSG_DONTWAIT);
	if (sv[1] >= 0)
		SC(C_SOCK, SYS_recvfrom, sv[1], L(buf + 65536), 65536, MSG_DONTWAIT, 0, 0);
	if (chance(70)) {
		SC(C_FD, SYS_close, sv[0]);
		SC(C_FD, SYS_close, sv[1]);
	} else {
		ring_add(sv[0]);
		ring_add(sv[1]);
	}
}

/* Unix socket names are file names in the root (sys_net.go): bind, connect and send to
 * paths of every kind, and sockets of the guest's own network namespace. */
static void op_socket(void) {
	int type = PICK(((const int[]){SOCK_DGRAM, SOCK_STREAM, SOCK_SEQPACKET})) | (chance(50) ? SOCK_NONBLOCK : 0);
	long s, t;
	switch (rn(6)) {
	case 0:
		s = SC(C_SOCK, SYS_socket, AF_UNIX, type, 0);
		SC(C_SOCK, SYS_bind, s, gen_sockaddr(), gen_socklen());
		SC(C_SOCK, SYS_listen, s, rn(3));
		ring_add(s);
		break;
	case 1:
		s = SC(C_SOCK, SYS_socket, AF_UNIX, type, 0);
		SC(C_SOCK, SYS_connect, s, gen_sockaddr(), gen_socklen());
		ring_add(s);
		break;
	case 2:
		s = SC(C_SOCK, SYS_socket, AF_UNIX, SOCK_DGRAM | (chance(50) ? SOCK_NONBLOCK : 0), 0);
		SC(C_SOCK, SYS_sendto, s, ptr_in(), chance(70) ? (long)rn(4096) : gen_size(),
		   chance(50) ? 0 : MSG_DONTWAIT, gen_sockaddr(), gen_socklen());
		SC(C_FD, SYS_close, s);
		break;
	case 3: {
		struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(4000 + rn(2)),
					 .sin_addr.s_addr = htonl(0x7f000001)};
		s = SC(C_SOCK, SYS_socket, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		SC(C_SOCK, SYS_bind, s, L(&in), sizeof in);
		SC(C_SOCK, SYS_listen, s, 1);
		t = SC(C_SOCK, SYS_socket, AF_INET, SOCK_STREAM | (chance(50) ? SOCK_NONBLOCK : 0), 0);
		SC(C_SOCK, SYS_connect, t, L(&in), sizeof in);
		ring_add(SC(C_SOCK, SYS_accept4, s, 0, 0, SOCK_NONBLOCK));
		ring_add(s);
		ring_add(t);
		break;
	}
	case 4: {
		s = SC(C_SOCK, SYS_socket, AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK, chance(70) ? 0 : gen_small());
		struct {
			struct nlmsghdr h;
			char body[64];
		} nl;
		memcpy(&nl, buf + rn(4096), sizeof nl);
		nl.h.nlmsg_len = chance(70) ? sizeof nl : (uint32_t)rnd();
		nl.h.nlmsg_type = PICK(((const int[]){16, 18, 20, 24, 26, 3, 0xffff})); /* RTM_* */
		nl.h.nlmsg_flags = NLM_F_REQUEST | (chance(50) ? NLM_F_DUMP : NLM_F_ACK);
		SC(C_SOCK, SYS_sendto, s, L(&nl), sizeof nl, 0, 0, 0);
		SC(C_SOCK, SYS_recvfrom, s, L(buf + 131072), 65536, MSG_DONTWAIT, 0, 0);
		SC(C_FD, SYS_close, s);
		break;
	}
	default: {
		/* pass directory and socket fds around */
		int sv[2] = {-1, -1};
		SC(C_SOCK, SYS_socketpair, AF_UNIX, type, 0, L(sv));
		struct {
			struct cmsghdr h;
			int fds[4];
		} c = {.h = {CMSG_LEN(4 * sizeof(int)), SOL_SOCKET, SCM_RIGHTS}};
		for (int i = 0; i < 4; i++)
			c.fds[i] = gen_fd();
		struct iovec v = {buf, 1 + rn(64)};
		struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1, .msg_control = &c, .msg_controllen = sizeof c};
		SC(C_SOCK, SYS_sendmsg, sv[0], L(&m), MSG_DONTWAIT);
		memset(&c, 0, sizeof c);
		m.msg_controllen = sizeof c;
		if (SC(C_SOCK, SYS_recvmsg, sv[1], L(&m), MSG_DONTWAIT) >= 0 && c.h.cmsg_type == SCM_RIGHTS)
			for (int i = 0; i < 4; i++)
				ring_add(c.fds[i]);
		SC(C_FD, SYS_close, sv[0]);
		SC(C_FD, SYS_close, sv[1]);
	}
	}
}

/* Directories made and removed while other threads work in them. */
static void op_dirrace(void) {
	char d[64], e[64];
	fzpath(d, PICK(((const char *const[]){"d0", "d1", "d2", "d3"})));
	fzpath(e, PICK(((const char *const[]){"d0", "d1", "d2", "d3", "f0", "l0"})));
	note(d);
	SC(C_FILE, SYS_mkdir, L(d), 0777);
	switch (rn(6)) {
	case 0:
		SC(C_FILE, SYS_chdir, L(d));
		SC(C_FILE, SYS_rmdir, L(d));
		SC(C_FILE, SYS_getcwd, ptr_out(), chance(70) ? 4096 : gen_size());
		ring_add(SC(C_FILE, SYS_open, L(".."), O_RDONLY | O_DIRECTORY));
		SC(C_FILE, SYS_mkdir, L("x"), 0777);
		SC(C_FILE, SYS_chdir, L(".."));
		break;
	case 1:
		SC(C_FILE, SYS_renameat2, AT_FDCWD, L(d), AT_FDCWD, L(e), chance(50) ? 2 /* EXCHANGE */ : 0);
		break;
	case 2: {
		char sub[80];
		snprintf(sub, sizeof sub, "%s/d1", d);
		SC(C_FILE, SYS_mkdir, L(sub), 0777);
		SC(C_FILE, SYS_rename, L(d), L(sub)); /* into itself: EINVAL */
		SC(C_FILE, SYS_rename, L(sub), L(d));
		break;
	}
	case 3: {
		long fd = SC(C_FILE, SYS_open, L(d), O_RDONLY | O_DIRECTORY);
		SC(C_FILE, SYS_rmdir, L(d));
		SC(C_FILE, SYS_mkdirat, fd, L("new"), 0777);
		ring_add(SC(C_FILE, SYS_openat, fd, L(".."), O_RDONLY));
		SC(C_FD, SYS_fchdir, fd);
		SC(C_FD, SYS_getdents64, fd, ptr_out(), 4096);
		dring_add(fd);
		break;
	}
	case 4:
		SC(C_FILE, SYS_rmdir, L(d));
		SC(C_FILE, SYS_symlink, L(link_target()), L(d));
		SC(C_FILE, SYS_chdir, L(d));
		break;
	default:
		SC(C_FILE, SYS_chdir, gen_path(0));
		SC(C_FILE, SYS_getcwd, ptr_out(), gen_size());
		SC(C_FILE, SYS_chdir, L(PICK(((const char *const[]){"/", FZ, "..", "/proc/self/cwd/..", FZ "/d0"}))));
	}
}

/* A directory fd dup2'ed over fds other threads are using, then named through /dev/fd. */
static void op_dup2dir(void) {
	long fd = SC(C_FILE, SYS_open, L(PICK(((const char *const[]){"/", FZ, FZ "/d0", "/proc", "/dev", "/proc/self", ".."}))),
		     chance(70) ? O_RDONLY | O_DIRECTORY : O_PATH);
	long to = chance(30) ? (long)rn(3) : chance(50) ? ring_get() : (long)rn(20);
	SC(C_FD, SYS_dup2, fd, to);
	char q[64];
	snprintf(q, sizeof q, "%s/%ld%s", chance(50) ? "/dev/fd" : "/proc/self/fd", to,
		 PICK(((const char *const[]){"", "/..", "/../..", "/d0", "/x", "/etc/passwd"})));
	note(q);
	ring_add(SC(C_FILE, SYS_open, L(q), flagset(oflags, NELEM(oflags)), 0644));
	SC(C_FILE, SYS_stat, L(q), ptr_out());
	dring_add(fd);
	dring_add(to);
}

/* chdir from several threads at once, and paths relative to where that leaves them. */
static void op_chdir(void) {
	if (chance(60))
		SC(C_FILE, SYS_chdir, gen_path(0));
	else
		SC(C_FD, SYS_fchdir, gen_dirfd());
	call_row(&rows[rn(12)]); /* the first rows take paths */
	if (chance(30))
		SC(C_FILE, SYS_chdir, L(chance(50) ? "/" : FZ));
}

/* ---- exec ---- */

/* A tiny ELF that exits; its fields (and a PT_INTERP) from the pools. */
static size_t make_elf(char *b) {
	static const unsigned char code[] = {0xb8, 0x3c, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05}; /* exit(0) */
	static const char *const interps[] = {FZ "/e0", FZ "/e1", "/sysfuzz", "/bin/busybox", "/proc/self/exe",
					      "/lib64/ld-linux-x86-64.so.2", "", FZ "/p0", FZ "/d0", "/dev/fd/0",
					      "/dev/ubdb", FZ "/l0"};
	int np = 1 + rn(3);
	size_t off = 64 + 56 * np;
	memset(b, 0, 4096);
	unsigned char *e = (unsigned char *)b;
	memcpy(e, "\x7f" "ELF\x02\x01\x01", 7);
	uint16_t *h16 = (uint16_t *)(e + 16);
	h16[0] = chance(85) ? 2 /* ET_EXEC */ : chance(50) ? 3 : (uint16_t)rnd();
	h16[1] = chance(90) ? 62 /* x86-64 */ : (uint16_t)rnd();
	*(uint32_t *)(e + 20) = 1;
	uint64_t *phoff = (uint64_t *)(e + 32);
	*phoff = chance(85) ? 64 : (uint64_t)PICK(((const long[]){0, 4095, 1L << 62, -1, 65}));
	*(uint16_t *)(e + 52) = 64;
	*(uint16_t *)(e + 54) = chance(90) ? 56 : (uint16_t)rnd();
	*(uint16_t *)(e + 56) = chance(90) ? np : PICK(((const uint16_t[]){0, 0xffff, 100}));
	const char *interp = chance(70) ? PICK(interps) : (gen_path_text(pbuf[1]), pbuf[1]);
	size_t ilen = strlen(interp);
	if (ilen > 2000)
		ilen = 2000;
	memcpy(b + off, interp, ilen);
	size_t ioff = off;
	off += ilen + 1;
	size_t coff = off;
	memcpy(b + coff, code, sizeof code);
	size_t total = coff + sizeof code;
	*(uint64_t *)(e + 24) = 0x400000 + coff; /* e_entry */
	for (int i = 0; i < np; i++) {
		uint32_t *p32 = (uint32_t *)(e + 64 + 56 * i);
		uint64_t *p64 = (uint64_t *)(e + 64 + 56 * i + 8);
		if (i == 0) { /* PT_LOAD of the whole file */
			p32[0] = 1;
			p32[1] = 5;
			p64[0] = 0;
			p64[1] = p64[2] = 0x400000;
			p64[3] = total;
			p64[4] = chance(90) ? total : (uint64_t)gen_size();
			p64[5] = 0x1000;
		} else if (i == 1) { /* PT_INTERP */
			p32[0] = 3;
			p32[1] = 4;
			p64[0] = chance(90) ? ioff : (uint64_t)gen_size();
			p64[3] = p64[4] = chance(60) ? ilen + 1 : (uint64_t)PICK(((const long[]){0, 1, 2, 1L << 62, -1, 4096, 1 << 20, 1L << 31}));
			if (chance(20))
				p64[3] = ilen; /* no NUL */
			p64[5] = 1;
		} else {
			p32[0] = chance(50) ? 0x6474e551 /* GNU_STACK */ : (uint32_t)rnd();
			p32[1] = rnd();
			for (int j = 0; j < 6; j++)
				p64[j] = chance(50) ? 0 : (uint64_t)gen_any();
		}
	}
	if (chance(10))
		total = rn(total + 1); /* truncated */
	return total;
}

static size_t make_script(char *b) {
	static const char *const interps[] = {"/bin/sh", FZ "/e0", FZ "/e1", "/sysfuzz", "/proc/self/exe", "",
					      " ", "/dev/fd/3", "/dev/null", "relative/x", FZ "/p0", "/proc/self/fd/0"};
	const char *i = PICK(interps);
	if (chance(20)) {
		gen_path_text(pbuf[1]);
		i = pbuf[1];
	} else if (nhost && chance(15))
		i = hostpaths[rn(nhost)];
	int n = snprintf(b, sizeof xbuf, "#!%s%s%s%s", chance(30) ? " " : "", i, chance(30) ? " -x arg" : "",
			 chance(90) ? "\nexit 0\n" : "");
	if (chance(10)) { /* a first line past BINPRM_BUF_SIZE */
		memset(b + 2, 'a', 300);
		memcpy(b + 302, "\n", 2);
		n = 303;
	}
	return n < 0 ? 0 : (size_t)n;
}

static void make_exec(const char *path) {
	char *b = xbuf;
	size_t n;
	note(path);
	switch (rn(5)) {
	case 0: case 1:
		n = make_elf(b);
		break;
	case 2:
		n = make_script(b);
		break;
	case 3:
		n = rn(300);
		for (size_t i = 0; i < n; i++)
			b[i] = rnd();
		if (n > 4 && chance(50))
			memcpy(b, chance(50) ? "\x7f" "ELF" : "#!/x", 4);
		break;
	default:
		SC(C_FILE, SYS_unlink, L(path));
		SC(C_FILE, SYS_symlink, L(PICK(((const char *const[]){"/sysfuzz", "/bin/busybox", "/proc/self/exe", FZ "/e0"}))),
		   L(path));
		return;
	}
	long fd = SC(C_FILE, SYS_open, L(path), O_WRONLY | O_CREAT | O_TRUNC, 0755);
	if (fd >= 0) {
		SC(C_FD, SYS_write, fd, L(b), n);
		SC(C_FD, SYS_close, fd);
	}
	SC(C_FILE, SYS_chmod, L(path), PICK(((const long[]){0755, 0755, 04755, 02755, 0644, 0111, 0})));
}

static void op_mkexec(void) {
	char p[64];
	fzpath(p, PICK(((const char *const[]){"e0", "e1", "e2", "e3"})));
	make_exec(p);
}

static long gen_argv(void) {
	static __thread char *av[72];
	static const char *const words[] = {"child", "true", "-c", "exit 0", "", "--help"};
	switch (rn(10)) {
	case 0: return 0;
	case 1: return bad_ptr();
	case 2: { /* no NULL before the unmapped page */
		char **e = (char **)(edge + 4096 - 16);
		e[0] = "child";
		e[1] = "x";
		return L(e);
	}
	case 3: { /* large: 48 strings of 16 KiB */
		for (int i = 0; i < 48; i++) {
			char *s = buf + 65536 + i * 16384;
			memset(s, 'A', 16383);
			s[16383] = 0;
			av[i] = s;
		}
		av[0] = "child";
		av[48] = NULL;
		return L(av);
	}
	default: {
		int n = rn(6);
		av[0] = "child";
		for (int i = 1; i <= n; i++)
			av[i] = chance(90) ? (char *)PICK(words) : (char *)bad_ptr();
		av[n + 1] = NULL;
		return L(av);
	}
	}
}

/* In a throwaway child: execve or execveat of anything (the fuzzer's crafted files, the
 * pools' paths, host paths, fds of files and memfds). */
static void do_exec(void) {
	static const char *const targets[] = {FZ "/e0", FZ "/e1", FZ "/e2", FZ "/e3", FZ "/e0", FZ "/e1",
					      "/sysfuzz", "/bin/busybox", "/proc/self/exe", FZ "/p0", FZ "/d0",
					      "/dev/null", FZ "/l0", "/dev/fd/3", "/proc/self/fd/3"};
	long argv = gen_argv(), envp = chance(70) ? 0 : gen_argv();
	noted = 0;
	if (chance(70)) {
		long path;
		if (chance(60)) {
			const char *t = PICK(targets);
			note(t);
			path = place(t);
		} else if (nhost && chance(30)) {
			const char *t = hostpaths[rn(nhost)];
			note(t);
			path = place(t);
		} else
			path = gen_path(0);
		SC(C_PROC, SYS_execve, path, argv, envp);
		return;
	}
	long fd;
	if (chance(40)) { /* a memfd: a file that is in no root */
		fd = SC(C_MEM, SYS_memfd_create, L("x"), 0);
		char *b = xbuf;
		size_t n = chance(70) ? make_elf(b) : make_script(b);
		SC(C_FD, SYS_write, fd, L(b), n);
	} else {
		char p[64];
		fzpath(p, PICK(((const char *const[]){"e0", "e1", "e2", "e3", "d0", "p0"})));
		fd = SC(C_FILE, SYS_open, L(p), chance(50) ? O_RDONLY : O_PATH);
	}
	SC(C_PROC, SYS_execveat, chance(80) ? fd : gen_dirfd(), chance(70) ? L("") : gen_path(0), argv, envp,
	   chance(70) ? AT_EMPTY_PATH : (long)flagset(atflags, NELEM(atflags)));
}

/* In a worker: exec that must fail (the worker must survive it). */
static void op_exec_fail(void) {
	static const char *const nothing[] = {FZ "/nonexistent", "", FZ "/d0/../nonexistent/x", "/proc/self/fd/999/x"};
	long p = chance(50) ? bad_ptr() : place(PICK(nothing));
	note("exec of nothing");
	if (chance(70))
		SC(C_PROC, SYS_execve, p, gen_argv(), chance(50) ? 0 : gen_argv());
	else
		SC(C_PROC, SYS_execveat, gen_dirfd(), p, gen_argv(), 0, chance(50) ? 0 : AT_SYMLINK_NOFOLLOW);
}

/* A clone with any flags whose child exits at once, then a fork or vfork whose child execs
 * (exec changes the process under the kernel's ptrace: the two race in the kernel). */
static void op_exec(void) {
	long pid = spawn(0);
	if (depth >= 2) {
		reap_child(pid, "clone child");
		return;
	}
	long r = chance(50) ? SC(C_PROC, SYS_fork) : SC(C_PROC, SYS_vfork);
	if (r == 0) {
		become_child();
		signal(SIGALRM, SIG_DFL);
		rawsys(SYS_alarm, 3, 0, 0, 0, 0, 0);
		do_exec();
		rawsys(SYS_exit_group, 127, 0, 0, 0, 0, 0);
	}
	reap_child(r, "exec child");
	reap_child(pid, "clone child");
}

static void op_fork(void) {
	if (depth >= 2)
		return;
	long pid = spawn(chance(70));
	reap_child(pid, "child");
}

/* ---- the machine ---- */

static void op_mount(void) {
	static const char *const tgt[] = {"/mnt", "/mnt", FZ "/d0", FZ "/d1", FZ "/f0", FZ "/l0", "/", "/proc", "/dev",
					  "/mnt/", FZ "/p0", "/tmp"};
	static const char *const src[] = {"/dev/ubdb", "/dev/ubdb", "/dev/ubdb1", "/dev/ubda", "/dev/ubdc", FZ "/f0",
					  "none", "/dev/null", "", "/dev/ubdb/..", FZ "/l0", "/proc/self/fd/3"};
	const char *t = PICK(tgt);
	note(t);
	switch (rn(5)) {
	case 0: case 1:
		SC(C_SYS, SYS_mount, chance(85) ? L(PICK(src)) : gen_path(1), place(t), chance(70) ? L("ext4") : gen_fstype(),
		   chance(60) ? 0 : (long)flagset(mflags, NELEM(mflags)),
		   chance(70) ? 0 : chance(50) ? L("ro,errors=remount-ro") : ptr_in());
		break;
	case 2:
		SC(C_SYS, SYS_umount2, place(t), chance(50) ? 0 : (long)flagset(uflags, NELEM(uflags)));
		break;
	case 3: /* the supervisor makes / writable again every few seconds */
		SC(C_SYS, SYS_mount, 0, L("/"), 0, MS_REMOUNT | (chance(30) ? MS_RDONLY : 0), 0);
		break;
	default:
		SC(C_SYS, SYS_mount, L("/dev/ubdb"), L("/mnt"), L("ext4"), 0, 0);
		SC(C_FILE, SYS_mkdir, L("/mnt/d"), 0777);
		ring_add(SC(C_FILE, SYS_open, L("/mnt/d/f"), O_CREAT | O_RDWR, 0644));
		SC(C_FILE, SYS_rename, L("/mnt/d/f"), L(FZ "/f2")); /* across file systems */
		SC(C_FILE, SYS_link, L(FZ "/f1"), L("/mnt/h"));
		SC(C_FILE, SYS_symlink, L("/.."), L("/mnt/up"));
		ring_add(SC(C_FILE, SYS_open, L("/mnt/up/etc/passwd"), O_RDONLY));
		SC(C_FILE, SYS_chdir, L("/mnt/d"));
		SC(C_FD, SYS_sync);
		SC(C_SYS, SYS_umount2, L("/mnt"), chance(50) ? 0 : MNT_DETACH);
		SC(C_FILE, SYS_chdir, L("/"));
	}
}

/* /dev/ubdb: garbage where the file system and the partition table live, then mount it. */
static void op_ubdb(void) {
	long fd = SC(C_FILE, SYS_open, L(chance(80) ? "/dev/ubdb" : "/dev/ubdb1"), O_RDWR | (chance(20) ? O_DIRECT : 0));
	note("/dev/ubdb");
	if (fd < 0)
		return;
	switch (rn(5)) {
	case 0: case 1: { /* a few bytes of garbage where they hurt */
		static const long offs[] = {0, 446, 510, 1024, 1024 + 56, 1024 + 88, 2048, 4096, 8192, 65536, 1 << 20};
		long off = chance(70) ? PICK(offs) + (long)rn(64) : (long)rn(ubd_len ? ubd_len : 4 << 20);
		SC(C_FD, SYS_pwrite64, fd, L(buf + rn(4096)), 1 + rn(chance(80) ? 16 : 4096), off);
		break;
	}
	case 2: /* the original image back, so mounts work again */
		if (ubd_orig)
			SC(C_FD, SYS_pwrite64, fd, L(ubd_orig), ubd_len, 0);
		break;
	case 3: { /* a partition table */
		unsigned char mbr[512];
		memcpy(mbr, buf + rn(4096), sizeof mbr);
		mbr[510] = 0x55;
		mbr[511] = 0xaa;
		if (chance(50))
			mbr[450] = 0x83;
		SC(C_FD, SYS_pwrite64, fd, L(mbr), sizeof mbr, 0);
		SC(C_FD, SYS_ioctl, fd, 0x125f /* BLKRRPART */, 0);
		ring_add(SC(C_FILE, SYS_open, L("/dev/ubdb1"), O_RDWR));
		break;
	}
	default:
		SC(C_FD, SYS_ioctl, fd, gen_ioctl(), ptr_out());
		SC(C_FD, SYS_pwrite64, fd, L(buf), 512, chance(50) ? (ubd_len ? ubd_len : 4 << 20) : gen_any());
	}
	SC(C_FD, SYS_fsync, fd);
	SC(C_FD, SYS_close, fd);
	if (chance(50)) {
		SC(C_SYS, SYS_mount, L("/dev/ubdb"), L("/mnt"), L("ext4"), 0, 0);
		SC(C_SYS, SYS_umount2, L("/mnt"), 0);
	}
}

static void op_reboot(void) {
	/* never the ones that end the machine: halt, power off, restart, kexec, suspend */
	static const unsigned long end[] = {0x01234567, 0xcdef0123, 0x4321fedc, 0xa1b2c3d4, 0x45584543, 0xd000fce2};
	unsigned long m1 = chance(80) ? 0xfee1dead : rnd(), m2 = PICK(((const unsigned long[]){0x28121969, 0x05121996, 0x16041998, 0x20112000, 0}));
	unsigned long cmd = chance(60) ? PICK(((const unsigned long[]){0x89abcdef /* CAD_ON */, 0 /* CAD_OFF */})) : (uint32_t)rnd();
	for (size_t i = 0; i < NELEM(end); i++)
		if ((uint32_t)cmd == end[i])
			cmd = 0;
	note("reboot");
	SC(C_SYS, SYS_reboot, m1, m2, cmd, ptr_in());
}

/* ---- signals and memory ---- */

static void noop(int sig) { (void)sig; }

/* x86-64 delivers a signal to a handler only with SA_RESTORER: a handler returns here. */
extern void fz_restorer(void);
__asm__(".text\n.globl fz_restorer\nfz_restorer:\n\tmov $15, %eax\n\tsyscall\n\thlt\n");

static void op_sig(void) {
	struct {
		unsigned long handler, flags, restorer, mask;
	} act;
	long sig = gen_sig();
	if (sig == HSIG || sig == SIGTTIN || sig == SIGTTOU || sig == SIGTSTP)
		sig = SIGUSR1;
	act.handler = chance(97) ? L(noop) : PICK(((const unsigned long[]){0 /* SIG_DFL */, 1 /* SIG_IGN */, 0x1234}));
	/* A handler that returns from a fault re-runs the faulting instruction forever, on Linux
	 * too; the shim faults on bad masks and sets (a known limit, doc.go): that would look
	 * like a hang. */
	if (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE)
		act.handler = chance(50) ? 0 : 1;
	act.flags = chance(70) ? (unsigned long)PICK(((const long[]){0, SA_RESTART, SA_SIGINFO, SA_NODEFER, SA_RESETHAND, SA_ONSTACK})) : rnd();
	act.flags |= chance(98) ? SA_RESTORER : 0;
	act.restorer = chance(98) ? L(fz_restorer) : rnd();
	act.mask = rnd() & ~(1UL << (HSIG - 1));
	note("rt_sigaction");
	SC(C_SIG, SYS_rt_sigaction, sig, chance(95) ? L(&act) : chance(50) ? 0 : bad_ptr(), gen_arg(chance(50) ? 'B' : 'P'),
	   chance(90) ? 8 : gen_sigsetsize());
	if (chance(50))
		SC(C_SIG, SYS_tgkill, mypid, mytid, sig);
	if (chance(20))
		SC(C_SIG, SYS_rt_sigsuspend, gen_sigset(), 8);
}

static void op_mem(void) {
	static const unsigned long mapflags[] = {MAP_PRIVATE | MAP_ANONYMOUS, MAP_SHARED | MAP_ANONYMOUS, MAP_PRIVATE,
						 MAP_SHARED, MAP_POPULATE, MAP_NORESERVE, MAP_GROWSDOWN, MAP_HUGETLB,
						 MAP_32BIT, MAP_LOCKED, MAP_STACK};
	long page = rn(NSCRATCH - 4), n = 1 + rn(4);
	char *at = scratch + page * 4096;
	switch (rn(6)) {
	case 0: {
		long len = PICK(((const long[]){4096, 8192, 1 << 20, 64 << 20, 0, 1, 4095}));
		unsigned long fl = flagset(mapflags, NELEM(mapflags)) & ~(unsigned long)(MAP_FIXED | 0x100000 /* FIXED_NOREPLACE */);
		long fd = chance(50) ? -1 : gen_fd();
		long p = SC(C_MEM, SYS_mmap, 0, len, rn(8), fl, fd, chance(80) ? 0 : gen_any());
		if (p < 0 && p > -4096)
			break;
		if (chance(50)) /* the new mapping as a buffer for the kernel */
			SC(C_FILE, SYS_stat, L("/"), p);
		SC(C_MEM, SYS_munmap, p, len);
		break;
	}
	case 1:
		SC(C_MEM, SYS_munmap, L(at), n * 4096);
		break;
	case 2:
		SC(C_MEM, SYS_mprotect, L(at), n * 4096, rn(8));
		break;
	case 3:
		SC(C_MEM, SYS_mmap, L(at), n * 4096, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	case 4:
		SC(C_MEM, SYS_madvise, L(at), n * 4096,
		   PICK(((const long[]){MADV_DONTNEED, MADV_FREE, MADV_REMOVE, MADV_DONTFORK, MADV_WIPEONFORK, MADV_MERGEABLE, 1000})));
		break;
	default:
		SC(C_MEM, SYS_mremap, L(at), 4096, 8192, MREMAP_MAYMOVE | MREMAP_FIXED, L(scratch + rn(NSCRATCH - 2) * 4096));
	}
}

/* Files the kernel generates (special.go), read, listed and written. */
static void op_proc(void) {
	static const char *const files[] = {
		"/proc/self/status", "/proc/self/stat", "/proc/self/maps", "/proc/self/mountinfo", "/proc/self/environ",
		"/proc/self/cmdline", "/proc/self/fd", "/proc/self/task", "/proc/self/mem", "/proc/meminfo",
		"/proc/mounts", "/proc/cpuinfo", "/proc/uptime", "/proc/loadavg", "/proc/version", "/proc/partitions",
		"/proc/swaps", "/proc/filesystems", "/proc/cmdline", "/proc/sys/kernel/hostname",
		"/proc/sys/kernel/osrelease", "/proc/sys/kernel/ctrl-alt-del", "/proc/net/unix", "/proc/net/tcp",
		"/proc/1/status", "/proc/1/stat", "/proc/1/cmdline", "/proc/1/root", "/proc", "/proc/self/ns", "/proc/self/attr/current",
		"/proc/self/fdinfo", "/proc/thread-self", "/proc/self/task/1", "/proc/stat",
	};
	char p[96];
	long pid = gen_pid();
	if (chance(30))
		snprintf(p, sizeof p, "/proc/%ld%s", pid, init_task(pid) ? PICK(procsub1) : PICK(procsub));
	else
		strcpy(p, PICK(files));
	note(p);
	switch (rn(5)) {
	case 0: case 1: {
		long fd = SC(C_FILE, SYS_open, L(p), O_RDONLY | (chance(20) ? O_DIRECTORY : 0));
		for (int i = 0; fd >= 0 && i < 4; i++)
			if (SC(C_FD, SYS_read, fd, L(buf + 262144), 65536) <= 0)
				break;
		SC(C_FD, SYS_getdents64, fd, L(buf + 262144), 32768);
		SC(C_FD, SYS_close, fd);
		break;
	}
	case 2:
		SC(C_FILE, SYS_readlink, L(p), ptr_out(), chance(80) ? 4096 : gen_size());
		break;
	case 3: {
		long fd = SC(C_FILE, SYS_open, L(PICK(((const char *const[]){"/proc/sys/kernel/hostname", "/proc/sys/kernel/ctrl-alt-del", "/proc/sys/kernel/domainname"}))),
			     O_WRONLY | (chance(50) ? O_TRUNC : 0));
		SC(C_FD, SYS_write, fd, ptr_in(), chance(80) ? (long)rn(80) : gen_size());
		SC(C_FD, SYS_close, fd);
		break;
	}
	default: { /* a guest's own memory through /proc/self/mem: only its garbage buffer */
		long fd = SC(C_FILE, SYS_open, L("/proc/self/mem"), O_RDWR);
		SC(C_FD, SYS_pread64, fd, L(buf + 131072), 4096, L(buf));
		SC(C_FD, SYS_pwrite64, fd, L(buf + rn(4096)), 64, L(buf + 8192));
		SC(C_FD, SYS_pread64, fd, L(buf), 64, 0x6ffff0000000L);
		SC(C_FD, SYS_close, fd);
	}
	}
}

static void op_close(void) {
	for (int k = 1 + rn(4); k > 0; k--)
		SC(C_FD, SYS_close, chance(80) ? ring_get() : 3 + (long)rn(60));
}

/* ---- what only throwaway children do ---- */

/* The shim's own syscall instructions are reachable by any code of the guest: jump to them
 * with the registers of any call. */
static long jump_site(unsigned long site, long nr, long a, long b, long c, long d, long e, long f) {
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;
	__asm__ volatile("mov %%rsp, %%r12\n\t"
			 "sub $256, %%rsp\n\t" /* past the red zone */
			 "and $-16, %%rsp\n\t"
			 "lea 1f(%%rip), %%rcx\n\t"
			 "push %%rcx\n\t"
			 "jmp *%[site]\n"
			 "1:\n\t"
			 "mov %%r12, %%rsp"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9), [site] "r"(site)
			 : "rcx", "r11", "r12", "memory");
	return ret;
}

static void child_shim(void) {
	unsigned char *p0 = (unsigned char *)0x6ffff0000000UL;
	switch (rn(6)) {
	case 0: {
		unsigned char page[4096];
		if (rawsys(SYS_mincore, L(p0), 4096, L(page), 0, 0, 0) < 0)
			break; /* not mapped (any more) */
		memcpy(page, p0, sizeof page);
		for (int i = 0; i < 4095; i++)
			if (page[i] == 0x0f && page[i + 1] == 0x05 && chance(30)) {
				long nr = chance(50) ? PICK(((const long[]){SYS_execve, SYS_chdir, SYS_fork, SYS_clone, SYS_vfork,
									    SYS_rt_sigprocmask, SYS_rt_sigaction, SYS_openat, SYS_getuid}))
						     : (long)rn(460);
				if (nr == SYS_rt_sigprocmask || nr == SYS_rt_sigaction || nr == SYS_execve || nr == SYS_chdir ||
				    nr == SYS_openat)
					jump_site(L(p0 + i), nr, gen_small(), gen_path(0), ptr_out(), 8, 0, 0);
				else
					jump_site(L(p0 + i), nr, gen_any(), gen_any(), gen_any(), gen_any(), gen_any(), gen_any());
			}
		break;
	}
	case 1:
		SC(C_MEM, SYS_munmap, L(p0), 8192);
		break;
	case 2:
		SC(C_MEM, SYS_mprotect, L(p0), 8192, chance(50) ? PROT_READ : PROT_NONE);
		break;
	case 3:
		for (int i = 0; i < 128; i++)
			p0[4096 + i] = rnd();
		break;
	case 4:
		SC(C_MEM, SYS_mmap, L(p0), 8192, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	default: { /* an i386 entry: the filter kills the process */
		long r;
		__asm__ volatile("int $0x80" : "=a"(r) : "a"(rn(400)), "b"(gen_any()), "c"(gen_any()), "d"(gen_any()) : "memory");
		(void)r;
	}
	}
	/* then calls of every kind through what is left of the shim */
	SC(C_CRED, SYS_getuid);
	SC(C_SIG, SYS_rt_sigprocmask, SIG_BLOCK, L(sset), 0, 8);
	SC(C_SYS, SYS_setresuid, 1000, 1000, 1000);
	SC(C_CRED, SYS_geteuid);
	call_row(pick_row(rows, NELEM(rows)));
	rawsys(SYS_tgkill, mypid, rawsys(SYS_gettid, 0, 0, 0, 0, 0, 0), SIGSYS, 0, 0, 0);
}

/* New credentials, then paths as that user: the kernel checks permissions itself. */
static void child_cred(void) {
	SC(C_CRED, SYS_setgroups, gen_count(), gen_gidlist());
	SC(C_CRED, SYS_setresgid, PICK(ids), PICK(ids), PICK(ids));
	SC(C_CRED, SYS_setresuid, PICK(ids), PICK(ids), PICK(ids));
	if (chance(30))
		SC(C_CRED, SYS_capset, gen_caphdr(), gen_capdata());
	for (int k = 1 + rn(6); k > 0; k--) {
		if (chance(20))
			do_exec();
		else
			call_row(pick_row(rows, NELEM(rows)));
	}
}

typedef void (*opfn)(void);
static void op_cred(void);
static void op_shimop(void);

static void child_body(void) {
	become_child();
	mypid = rawsys(SYS_getpid, 0, 0, 0, 0, 0, 0);
	mytid = mypid;
	signal(SIGALRM, SIG_DFL);
	rawsys(SYS_alarm, 3, 0, 0, 0, 0, 0);
	static const opfn cops[] = {op_fifo, op_sendmsg, op_socket, op_dirrace, op_proc, op_mkexec, op_mount, op_dup2dir,
				    op_chdir, op_sig, op_mem, op_fork};
	for (int k = 1 + rn(8); k > 0; k--) {
		unsigned r = rn(100);
		if (r < 45)
			call_row(pick_row(rows, NELEM(rows)));
		else if (r < 70)
			call_row(pick_row(crows, NELEM(crows)));
		else if (r < 78)
			do_exec();
		else if (r < 82)
			child_cred();
		else if (r < 85)
			child_shim();
		else
			PICK(cops)();
	}
	rawsys(SYS_exit_group, rn(256), 0, 0, 0, 0, 0);
	__builtin_unreachable();
}

static void op_cred(void) {
	long pid = SC(C_PROC, SYS_fork);
	if (pid == 0) {
		become_child();
		mypid = rawsys(SYS_getpid, 0, 0, 0, 0, 0, 0);
		signal(SIGALRM, SIG_DFL);
		rawsys(SYS_alarm, 3, 0, 0, 0, 0, 0);
		if (chance(30))
			SC(C_FILE, SYS_chroot, chance(50) ? L(FZ "/d0") : gen_path(0));
		child_cred();
		rawsys(SYS_exit_group, 0, 0, 0, 0, 0, 0);
	}
	reap_child(pid, "cred child");
}

static void op_shimop(void) {
	long pid = SC(C_PROC, SYS_fork);
	if (pid == 0) {
		become_child();
		mypid = rawsys(SYS_getpid, 0, 0, 0, 0, 0, 0);
		signal(SIGALRM, SIG_DFL);
		rawsys(SYS_alarm, 3, 0, 0, 0, 0, 0);
		child_shim();
		if (chance(50))
			do_exec();
		rawsys(SYS_exit_group, 0, 0, 0, 0, 0, 0);
	}
	reap_child(pid, "shim child");
}

/* ---- the op table ---- */

static const struct {
	const char *name;
	opfn fn;
	int weight;
} ops[] = {
	{"generic", op_generic, 90}, {"filtered", op_filtered, 4}, {"populate", op_populate, 12},
	{"fifo", op_fifo, 6}, {"sendmsg", op_sendmsg, 5}, {"socket", op_socket, 8}, {"dirrace", op_dirrace, 6},
	{"dup2dir", op_dup2dir, 3}, {"chdir", op_chdir, 4}, {"fork", op_fork, 4}, {"exec", op_exec, 3},
	{"execfail", op_exec_fail, 1}, {"mkexec", op_mkexec, 2}, {"mount", op_mount, 2}, {"ubdb", op_ubdb, 1},
	{"cred", op_cred, 2}, {"shim", op_shimop, 1}, {"sig", op_sig, 3}, {"mem", op_mem, 3},
	{"proc", op_proc, 6}, {"close", op_close, 6}, {"reboot", op_reboot, 1},
};

static int pick_op(void) {
	static int total;
	if (!total)
		for (size_t i = 0; i < NELEM(ops); i++)
			if (!(ctl->opsoff & (1u << i)))
				total += ops[i].weight;
	if (!total)
		return 0;
	int w = rn(total);
	for (size_t i = 0; i < NELEM(ops); i++) {
		if (ctl->opsoff & (1u << i))
			continue;
		w -= ops[i].weight;
		if (w < 0)
			return i;
	}
	return 0;
}

/* ---- a worker ---- */

static void *worker_thread(void *arg) {
	int t = (int)(long)arg;
	mytid = rawsys(SYS_gettid, 0, 0, 0, 0, 0, 0);
	myslot = &ctl->slot[widx][t];
	myslot->tid = mytid;
	myslot->pid = mypid;
	myslot->child = &ctl->kidslot[widx][t];
	uint64_t x = ctl->seed ^ ((uint64_t)widx << 48) ^ ((uint64_t)ctl->gen[widx] << 16) ^ (uint64_t)t;
	rs = splitmix(&x) | 1;
	edge = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mprotect(edge + 4096, 4096, PROT_NONE);
	memset(edge, 'e', 4096);
	/* the harness signal, for this thread only */
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = HSIG;
	sev._sigev_un._tid = mytid;
	int timer = -1;
	rawsys(SYS_timer_create, CLOCK_MONOTONIC, L(&sev), L(&timer), 0, 0, 0);
	long period = 150000000 + rn(100000000);
	struct itimerspec its = {{0, period}, {0, period}};
	rawsys(SYS_timer_settime, timer, 0, L(&its), 0, 0, 0);
	while (!ctl->stop) {
		int o = pick_op();
		memcpy(myslot->op, ops[o].name, strlen(ops[o].name) + 1);
		ops[o].fn();
		__atomic_add_fetch(&ctl->opcount[o], 1, __ATOMIC_RELAXED);
		if (rn(30000) == 0) { /* a worker that ends itself now and then */
			note("exit_group");
			SC(C_PROC, SYS_exit_group, rn(256));
		}
	}
	return NULL;
}

static void flip_race(int phase) {
	char *p = race + RACE_PATH;
	const char *a = FZ "/f0", *b = nhost ? hostpaths[phase % nhost] : "/proc/self/cwd/../../..";
	strcpy(p, phase & 1 ? b : a);
	struct sockaddr_un *un = (struct sockaddr_un *)(race + RACE_SA);
	un->sun_family = AF_UNIX;
	snprintf(un->sun_path, sizeof un->sun_path, "%s", phase & 1 ? (nhost ? hostpaths[phase % nhost] : "/") : FZ "/s0");
	struct iovec *v = (struct iovec *)(race + RACE_IOV);
	v[0].iov_base = buf;
	v[0].iov_len = 1;
	v[1].iov_base = buf;
	__atomic_store_n(&v[1].iov_len, phase & 1 ? ~0UL : 1, __ATOMIC_RELAXED);
	struct msghdr *m = (struct msghdr *)(race + RACE_MSG);
	__atomic_store_n(&m->msg_name, phase & 2 ? (void *)un : NULL, __ATOMIC_RELAXED);
	m->msg_namelen = phase & 2 ? sizeof *un : 0;
	m->msg_iov = v;
	m->msg_iovlen = phase & 4 ? 2 : 1;
	uint64_t *h = (uint64_t *)(race + RACE_HOW);
	h[0] = phase & 1 ? (O_RDWR | O_CREAT | O_TRUNC) : O_RDONLY;
	h[1] = 0644;
	h[2] = phase & 2 ? 0 : 0x10; /* RESOLVE_BENEATH */
}

static void worker_main(int w) {
	widx = w;
	mypid = rawsys(SYS_getpid, 0, 0, 0, 0, 0, 0);
	mytid = mypid;
	setsid(); /* its own process group: kill(0, …) stays in it */
	struct sigaction sa = {.sa_handler = noop};
	for (int s = 1; s < 65; s++) {
		if (s == SIGKILL || s == SIGSTOP || s == SIGSEGV || s == SIGBUS || s == SIGILL || s == SIGFPE ||
		    s == SIGSYS || s == SIGCHLD || s == 32 || s == 33)
			continue;
		sigaction(s, &sa, NULL);
	}
	sa.sa_handler = SIG_IGN;
	sigaction(SIGTTIN, &sa, NULL);
	sigaction(SIGTTOU, &sa, NULL);
	sigaction(SIGTSTP, &sa, NULL);
	struct rlimit fsz = {8 << 20, 8 << 20};
	setrlimit(RLIMIT_FSIZE, &fsz);
	if (ctl->verbose)
		vfd = fcntl(1, F_DUPFD, 900);
	int null = open("/dev/null", O_RDWR);
	for (int i = 0; i < 3; i++)
		dup2(null, i);
	if (null > 2)
		close(null);
	buf = mmap(NULL, BUFSZ + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mprotect(buf + BUFSZ, 4096, PROT_NONE);
	uint64_t x = ctl->seed ^ ((uint64_t)w << 40) ^ ctl->gen[w];
	rs = splitmix(&x) | 1;
	for (size_t i = 0; i < BUFSZ / 8; i++)
		((uint64_t *)buf)[i] = rnd();
	memcpy(buf + 4096, "/tmp/fz/f0\0/bin/busybox\0", 24); /* something real among the garbage */
	nonepg = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ropg = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memcpy(ropg, buf, 4096);
	mprotect(ropg, 4096, PROT_READ);
	scratch = mmap(NULL, NSCRATCH * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	race = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	flip_race(0);
	int64_t end = now_ns() + (2 + (int64_t)rn(7)) * 1000000000LL;
	pthread_t th;
	for (int t = 0; t < ctl->nthreads; t++)
		pthread_create(&th, NULL, worker_thread, (void *)(long)t);
	/* This thread rewrites the race buffers while the others pass them to the kernel, and
	 * ends the worker when its time is up — unless a thread has been in a call for over a
	 * second: then the supervisor must get to see it. */
	for (int phase = 0;; phase++) {
		for (int i = 0; i < 200; i++)
			flip_race(phase * 200 + i);
		sleep_ms(2);
		if (phase % 25)
			continue;
		if (!ctl->stop && now_ns() < end)
			continue;
		int slow = 0;
		int64_t now = now_ns();
		for (int t = 0; t < ctl->nthreads; t++) {
			struct slot *s = &ctl->slot[w][t];
			if (__atomic_load_n(&s->busy, __ATOMIC_ACQUIRE) && now - s->since > 1000000000LL)
				slow = 1;
		}
		if (!slow)
			rawsys(SYS_exit_group, 0, 0, 0, 0, 0, 0);
	}
}

/* ---- the supervisor ---- */

static int64_t hang_ns;
static volatile pid_t wpid[MAXW];
static uint64_t respawns, deaths[65], exits;
static uint64_t diedin[1024 + 1]; /* worker deaths by a signal inside a call, by call; [1024]: between calls */
static int hung;

static void abandon(int w, int sig) {
	int64_t now = now_ns(), in = 0;
	/* what is worth showing next to a hang: calls that had taken a good part of it (not
	 * waits for children, which take seconds by design) */
	for (int t = 0; t < ctl->nthreads; t++) {
		struct slot *s = &ctl->slot[w][t];
		if (sig && s->busy && s->nr >= 0 && s->nr < 1024) {
			diedin[s->nr]++;
			in = 1;
		}
		if (s->busy && s->nr != -2 && now - s->since > hang_ns / 4) {
			unsigned i = ctl->nab++ % NELEM(ctl->ab);
			struct abandoned *a = &ctl->ab[i];
			a->nr = s->nr;
			memcpy(a->arg, s->arg, sizeof a->arg);
			a->age = now - s->since;
			a->pid = s->pid;
			memcpy(a->note, s->note, sizeof a->note);
			memcpy(a->op, s->op, sizeof a->op);
		}
		memset(s, 0, sizeof *s);
		memset(&ctl->kidslot[w][t], 0, sizeof ctl->kidslot[w][t]);
	}
	if (sig && !in)
		diedin[1024]++;
}

/* The helper forks workers (fork is a traced call: if the kernel's trapped path is stuck,
 * this thread is, and its slot shows it), reaps every process init inherits, and every
 * few seconds undoes what workers may do to the whole machine (a read-only root, a root
 * directory nobody may enter). */
static void *helper(void *arg) {
	(void)arg;
	myslot = &ctl->helper;
	myslot->pid = 1;
	myslot->tid = rawsys(SYS_gettid, 0, 0, 0, 0, 0, 0);
	strcpy(myslot->op, "supervisor");
	int64_t next_fix = 0;
	while (!ctl->quit) {
		for (int w = 0; w < ctl->nworkers && !ctl->stop; w++) {
			if (wpid[w])
				continue;
			ctl->gen[w]++;
			note("forking a worker");
			myslot->nr = SYS_clone;
			myslot->since = now_ns();
			__atomic_store_n(&myslot->busy, 1, __ATOMIC_RELEASE);
			pid_t p = fork();
			if (p == 0) {
				myslot = NULL;
				worker_main(w);
			}
			for (int t = 0; t < MAXT; t++)
				memset(&ctl->kidslot[w][t], 0, sizeof ctl->kidslot[w][t]);
			__atomic_store_n(&myslot->busy, 0, __ATOMIC_RELEASE);
			if (p > 0) {
				wpid[w] = p;
				respawns++;
			} else
				sleep_ms(100);
		}
		int st;
		pid_t p;
		while ((p = waitpid(-1, &st, WNOHANG | __WALL | WUNTRACED)) > 0) {
			if (WIFSTOPPED(st)) {
				kill(p, SIGCONT);
				continue;
			}
			for (int w = 0; w < ctl->nworkers; w++)
				if (wpid[w] == p) {
					abandon(w, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
					if (WIFSIGNALED(st) && WTERMSIG(st) < 65)
						deaths[WTERMSIG(st)]++;
					else
						exits++;
					wpid[w] = 0;
				}
		}
		if (now_ns() > next_fix && !ctl->stop) {
			next_fix = now_ns() + 2000000000LL;
			note("housekeeping");
			struct statfs sf;
			if (SC(C_SYS, SYS_statfs, L("/"), L(&sf)) == 0 && (sf.f_flags & 1 /* ST_RDONLY */))
				SC(C_SYS, SYS_mount, 0, L("/"), 0, MS_REMOUNT, 0);
			SC(C_SYS, SYS_chmod, L("/"), 0755);
			SC(C_SYS, SYS_mkdir, L("/tmp"), 01777);
			SC(C_SYS, SYS_chmod, L("/tmp"), 01777);
			SC(C_SYS, SYS_mkdir, L(FZ), 0777);
			SC(C_SYS, SYS_chmod, L(FZ), 0777);
		}
		sleep_ms(10);
	}
	return NULL;
}

static void print_call(const char *what, long nr, const long *a, const char *note_, const char *op, const char *where) {
	say("sysfuzz: HANG %s %s nr=%ld args=(%#lx, %#lx, %#lx, %#lx, %#lx, %#lx) \"%.70s\" [op %s, %s]", what, sysname(nr),
	    nr, a[0], a[1], a[2], a[3], a[4], a[5], note_, op, where);
}

/* Reports every call that has taken longer than a second once one has taken longer than
 * FUZZHANG: the oldest is the likely culprit, the rest are what it took down with it. Only
 * worker threads (which get the harness signal) and the helper count: a throwaway child may
 * block for good by design (it may block every signal), and its parent, stuck itself, may
 * no longer kill it. Children's calls are listed last, as context (one of them may have
 * caused the hang). */
static int kidrec(const struct slot *s) {
	return (const char *)s >= (const char *)ctl->kidslot && (const char *)s < (const char *)ctl->kidslot + sizeof ctl->kidslot;
}

static int check_hangs(void) {
	int64_t now = now_ns();
	struct slot *all[2 * MAXW * MAXT + 1];
	int n = 0, over = 0;
	for (int w = 0; w < ctl->nworkers; w++)
		for (int t = 0; t < ctl->nthreads; t++) {
			all[n++] = &ctl->slot[w][t];
			all[n++] = &ctl->kidslot[w][t];
		}
	all[n++] = &ctl->helper;
	for (int i = 0; i < n; i++)
		if (!kidrec(all[i]) && __atomic_load_n(&all[i]->busy, __ATOMIC_ACQUIRE) && now - all[i]->since > hang_ns)
			over = 1;
	if (!over)
		return 0;
	/* busy before idle, workers and helper before children, then oldest first */
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++) {
			struct slot *a = all[i], *b = all[j];
			int ka = !a->busy * 2 + kidrec(a), kb = !b->busy * 2 + kidrec(b);
			if (kb < ka || (kb == ka && b->since < a->since)) {
				all[i] = b;
				all[j] = a;
			}
		}
	for (int i = 0; i < n; i++) {
		struct slot *s = all[i];
		if (!s->busy || now - s->since < 1000000000LL)
			continue;
		char what[32], where[80];
		siginfo_t si = {0};
		/* a zombie: the process died in the call but nobody could reap it (the helper
		 * thread is stuck too); WNOWAIT leaves it for the helper */
		int gone = s->pid > 1 && waitid(P_PID, s->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == s->pid;
		snprintf(what, sizeof what, "%s%.1fs in", i == 0 ? "" : "also ", (now - s->since) / 1e9);
		snprintf(where, sizeof where, "%spid %d tid %d%s", kidrec(s) ? "throwaway child, " : "", s->pid, s->tid,
			 gone ? ", process exited since" : "");
		print_call(what, s->nr, s->arg, s->note, s->op, where);
	}
	unsigned nab = ctl->nab < NELEM(ctl->ab) ? ctl->nab : NELEM(ctl->ab);
	for (unsigned i = 0; i < nab; i++) {
		struct abandoned *a = &ctl->ab[i];
		char what[48], where[48];
		snprintf(what, sizeof what, "(its worker died after %.1fs) in", a->age / 1e9);
		snprintf(where, sizeof where, "pid %d", a->pid);
		print_call(what, a->nr, a->arg, a->note, a->op, where);
	}
	say("sysfuzz: HANG seed=%llu", (unsigned long long)ctl->seed);
	return 1;
}

static unsigned odd_seen;
static void print_odd(void) {
	unsigned n = ctl->nodd < NELEM(ctl->odd) ? ctl->nodd : NELEM(ctl->odd);
	for (; odd_seen < n; odd_seen++) {
		struct odd *o = &ctl->odd[odd_seen];
		if (!__atomic_load_n(&o->ready, __ATOMIC_ACQUIRE))
			break;
		say("sysfuzz: ODD %s(%#lx, %#lx, %#lx, %#lx, %#lx, %#lx) returned %ld [op %s]", sysname(o->nr), o->arg[0],
		    o->arg[1], o->arg[2], o->arg[3], o->arg[4], o->arg[5], o->ret, o->op);
	}
}

static int alive(void) {
	int n = 0;
	for (int w = 0; w < ctl->nworkers; w++)
		n += wpid[w] != 0;
	return n;
}

static long envnum(const char *name, long def) {
	const char *v = getenv(name);
	return v && *v ? strtol(v, NULL, 0) : def;
}

static void setup_hostpaths(void) {
	/* keep in step with the decoy tree of sysfuzz_test.go */
	static const char *const decoys[] = {"secret", "link", "tool.sh", "fifo", "decoy", "decoy/file",
					     "decoy/sub", "decoy/sub/deep", "decoy/dirlink", "decoy/empty",
					     "rootowned", "rootowned/f600", "rootowned/f644", "rootowned/f755",
					     "rootowned/other", "uml", "root", "root/tmp/fz/f0", "new-entry", ""};
	static const char *const pre[] = {"", "/proc/self/cwd", "/proc/self/root", "/proc/1/root", "/proc/1/cwd",
					  "/..", "/../../..", "/dev/fd/3/..", "../../../../../../../../.."};
	hostdir = getenv("HOSTDIR");
	if (!hostdir || !*hostdir)
		return;
	for (size_t i = 0; i < NELEM(pre); i++)
		for (size_t j = 0; j < NELEM(decoys) && nhost < (int)NELEM(hostpaths); j++) {
			char *s = malloc(strlen(pre[i]) + strlen(hostdir) + strlen(decoys[j]) + 3);
			sprintf(s, "%s%s/%s", pre[i], hostdir, decoys[j]);
			hostpaths[nhost++] = s;
		}
}

static void setup_tree(void) {
	mkdir("/tmp", 01777);
	mkdir(FZ, 0777);
	chmod(FZ, 0777);
	memset(long255, 'N', 255);
	memset(long256, 'N', 256);
	int fd = open("/dev/ubdb", O_RDONLY);
	if (fd >= 0) {
		ubd_orig = malloc(UBD_MAX);
		ubd_len = 0;
		long n;
		while (ubd_len < UBD_MAX && (n = read(fd, ubd_orig + ubd_len, UBD_MAX - ubd_len)) > 0)
			ubd_len += n;
		close(fd);
	}
}

int main(void) {
	if (getpid() != 1)
		return 0; /* an exec of this file by the fuzzer itself */
	long secs = envnum("FUZZTIME", 60);
	uint64_t seed = envnum("FUZZSEED", 0);
	if (!seed) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_nsec * 1000003u ^ (uint64_t)ts.tv_sec;
	}
	ctl = mmap(NULL, sizeof *ctl, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ctl->seed = seed;
	ctl->nworkers = envnum("FUZZWORKERS", 3);
	ctl->nthreads = envnum("FUZZTHREADS", 3);
	if (ctl->nworkers < 1 || ctl->nworkers > MAXW)
		ctl->nworkers = 3;
	if (ctl->nthreads < 1 || ctl->nthreads > MAXT)
		ctl->nthreads = 3;
	ctl->verbose = envnum("FUZZVERBOSE", 0) != 0;
	hang_ns = envnum("FUZZHANG", 20) * 1000000000LL;
	const char *off = getenv("FUZZOPS");
	for (const char *w = off; w && *w;) {
		const char *e = strchr(w, ',');
		size_t n = e ? (size_t)(e - w) : strlen(w);
		if (*w == '-' && n > 1) {
			for (size_t i = 0; i < NELEM(ops); i++)
				if (strlen(ops[i].name) == n - 1 && !strncmp(ops[i].name, w + 1, n - 1))
					ctl->opsoff |= 1u << i;
			for (long nr = 0; nr < (long)sizeof ctl->nroff; nr++)
				if (strlen(sysname(nr)) == n - 1 && !strncmp(sysname(nr), w + 1, n - 1))
					ctl->nroff[nr] = 1;
		}
		w = e ? e + 1 : NULL;
	}
	struct rlimit nocore = {0, 0};
	setrlimit(RLIMIT_CORE, &nocore); /* crashing workers must not feed the host's core handler */
	setup_hostpaths();
	setup_tree();
	say("sysfuzz: start seed=%llu time=%lds workers=%d threads=%d hang=%llds hostdir=%s ubdb=%ld", (unsigned long long)seed,
	    secs, ctl->nworkers, ctl->nthreads, (long long)(hang_ns / 1000000000LL), hostdir ? hostdir : "-", ubd_len);

	pthread_t th;
	pthread_create(&th, NULL, helper, NULL);
	int64_t start = now_ns(), end = start + secs * 1000000000LL;
	while (now_ns() < end && !hung) {
		sleep_ms(100);
		print_odd();
		hung = check_hangs();
	}
	/* Let the workers end on their own: their threads stop at the next op; a call that does
	 * not come back is still a hang. */
	ctl->stop = 1;
	int64_t t0 = now_ns();
	while (!hung && alive() && now_ns() - t0 < hang_ns + 5000000000LL) {
		sleep_ms(100);
		hung = check_hangs();
	}
	kill(-1, SIGKILL);
	t0 = now_ns();
	while (alive() && now_ns() - t0 < 5000000000LL)
		sleep_ms(50);
	print_odd();

	char line[1800];
	int n = 0;
	uint64_t calls = 0, errs = 0;
	for (int c = 0; c < NCLS; c++) {
		calls += ctl->calls[c];
		errs += ctl->errs[c];
	}
	n += snprintf(line + n, sizeof line - n, "sysfuzz: summary seed=%llu time=%.1fs calls=%llu errors=%llu",
		      (unsigned long long)seed, (now_ns() - start) / 1e9, (unsigned long long)calls, (unsigned long long)errs);
	for (int c = 0; c < NCLS; c++)
		n += snprintf(line + n, sizeof line - n, " %s=%llu/%llu", clsname[c], (unsigned long long)ctl->calls[c],
			      (unsigned long long)ctl->errs[c]);
	n += snprintf(line + n, sizeof line - n, " respawns=%llu exits=%llu deaths=", (unsigned long long)respawns,
		      (unsigned long long)exits);
	int first = 1;
	for (int s = 0; s < 65; s++)
		if (deaths[s]) {
			n += sigabbrev_np(s) ? snprintf(line + n, sizeof line - n, "%sSIG%s:%llu", first ? "" : ",", sigabbrev_np(s),
							(unsigned long long)deaths[s])
					     : snprintf(line + n, sizeof line - n, "%s%d:%llu", first ? "" : ",", s,
							(unsigned long long)deaths[s]);
			first = 0;
		}
	for (int k = 0; k < 4; k++) { /* the calls workers died in most */
		int best = -1;
		for (int i = 0; i <= 1024; i++)
			if (diedin[i] && (best < 0 || diedin[i] > diedin[best]))
				best = i;
		if (best < 0)
			break;
		n += snprintf(line + n, sizeof line - n, "%s%s:%llu", k ? "," : " died-in=", best == 1024 ? "(no call)" : sysname(best),
			      (unsigned long long)diedin[best]);
		diedin[best] = 0;
	}
	n += snprintf(line + n, sizeof line - n, "%s children=%llu child-alarms=%llu child-kills=%llu hangs=%d odd=%u",
		      first ? "none" : "", (unsigned long long)ctl->children, (unsigned long long)ctl->child_alarm,
		      (unsigned long long)ctl->child_stuck, hung, ctl->nodd);
	n += snprintf(line + n, sizeof line - n, " ops=");
	for (size_t i = 0; i < NELEM(ops) && n < (int)sizeof line; i++)
		n += snprintf(line + n, sizeof line - n, "%s%s:%llu", i ? "," : "", ops[i].name, (unsigned long long)ctl->opcount[i]);
	say("%s", line);
	say("sysfuzz: done");

	/* Power off with workers running again: halting a busy machine is part of the test.
	 * After a hang, leave the machine as it is for a while instead: the test makes the
	 * kernel print where it is stuck. */
	if (hung) {
		sleep_ms(15000);
	} else {
		ctl->stop = 0;
		sleep_ms(500);
	}
	long r = rawsys(SYS_reboot, 0xfee1dead, 0x28121969, RB_POWER_OFF, 0, 0, 0);
	say("sysfuzz: reboot returned %ld", r);
	return 1;
}
