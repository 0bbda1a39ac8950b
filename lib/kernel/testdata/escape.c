/* Escape attempts run as the guest's init by TestEscapes. Every case prints "name: OK" or
 * "name: ESCAPE <detail>". The directory holding the guest root also holds "secret"
 * ("SECRET"), "hostbin" (a script that creates "ran" beside it) and "dsock" (a datagram
 * socket the test listens on); HOSTDIR is its host path and HOSTPID a host process that is
 * not part of the guest. Cases whose effect can only be judged from outside (rename, link,
 * chmod … of host files) are checked again by the test on the host. The hostfs cases are
 * escape_hostfs.c's. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/vm_sockets.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/openat2.h>
#include <sys/xattr.h>

static const char *hostdir;
static pid_t hostpid;
static char buf[4096];

static void ok(const char *n) { printf("%s: OK\n", n); }
static void esc(const char *n, const char *why) { printf("%s: ESCAPE %s\n", n, why); }

static int secret_fd(int fd) {
	char b[16] = {0};
	int n = read(fd, b, 15);
	return n >= 6 && memcmp(b, "SECRET", 6) == 0;
}

static void try_open(const char *n, int dirfd, const char *p) {
	int fd = openat(dirfd, p, O_RDONLY);
	if (fd >= 0 && secret_fd(fd)) esc(n, p); else ok(n);
	if (fd >= 0) close(fd);
}

static const char *host(const char *name) {
	static char p[4][512];
	static int i;
	i = (i + 1) % 4;
	snprintf(p[i], sizeof p[i], "%s/%s", hostdir, name);
	return p[i];
}

/* expect: the call must have failed (r < 0); with want != 0 also with that errno */
static void expect_fail(const char *n, long r, int want) {
	if (r >= 0) { snprintf(buf, sizeof buf, "succeeded (%ld)", r); esc(n, buf); return; }
	if (want && errno != want) { snprintf(buf, sizeof buf, "errno %d, want %d", errno, want); esc(n, buf); return; }
	ok(n);
}

/* a thread that keeps pointing a msghdr at a host socket while another sends with it */
static struct msghdr race_msg;
static struct sockaddr_un race_addr;
static volatile int race_stop;
static void *race_thread(void *arg) {
	(void)arg;
	/* mostly set, briefly unset: the kernel must see "no name" sometimes, and the host,
	 * reading again later, a name */
	while (!race_stop) {
		__atomic_store_n(&race_msg.msg_name, NULL, __ATOMIC_SEQ_CST);
		__atomic_store_n(&race_msg.msg_namelen, 0, __ATOMIC_SEQ_CST);
		for (volatile int k = 0; k < 200; k++);
		__atomic_store_n(&race_msg.msg_namelen, sizeof race_addr, __ATOMIC_SEQ_CST);
		__atomic_store_n(&race_msg.msg_name, (void *)&race_addr, __ATOMIC_SEQ_CST);
		for (volatile int k = 0; k < 2000; k++);
	}
	return NULL;
}

/* a thread that keeps turning an openat2 O_PATH open into a read-only one */
static struct open_how flags_how;
static void *flags_thread(void *arg) {
	for (;;) {
		__atomic_store_n(&flags_how.flags, (unsigned long long)O_RDONLY, __ATOMIC_SEQ_CST);
		__atomic_store_n(&flags_how.flags, (unsigned long long)O_PATH, __ATOMIC_SEQ_CST);
	}
	return arg;
}

static int run_child(const char *path) {
	pid_t p = fork();
	if (p == 0) {
		char *argv[] = {(char *)path, NULL};
		execv(path, argv);
		_exit(99);
	}
	int st = 0;
	waitpid(p, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* copy_file copies from to to with mode; 0 on success. */
static int copy_file(const char *from, const char *to, mode_t mode) {
	int in = open(from, O_RDONLY), out = open(to, O_CREAT | O_WRONLY | O_TRUNC, mode);
	ssize_t n;
	int r = in < 0 || out < 0 ? -1 : 0;
	while (r == 0 && (n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, n) != n) r = -1;
	if (in >= 0) close(in);
	if (out >= 0) close(out);
	return r;
}

/* Mount flags as the boundary: nothing on a noexec mount runs or maps executable, a set-id
 * program on a nosuid mount gives no ids, a device node on a nodev mount opens nothing, and
 * a read-only bind takes no write, by any name (a bind, /proc/self/fd, fexecve, a dirfd). */
static void mount_flags(void) {
	mkdir("/nx", 0755);
	mkdir("/nxb", 0755);
	if (mount("tmpfs", "/nx", "tmpfs", MS_NOEXEC | MS_NOSUID | MS_NODEV, "size=4m") < 0) {
		esc("mount-flags", "mounting a tmpfs failed");
		return;
	}
	copy_file("/escape", "/nx/prog", 0755);
	int fd = open("/nx/s.sh", O_CREAT | O_WRONLY | O_TRUNC, 0755);
	dprintf(fd, "#!/bin/sh\nexit 42\n");
	close(fd);
	if (run_child("/nx/s.sh") == 42) esc("noexec-script", "ran"); else ok("noexec-script");
	/* /escape without HOSTDIR exits 1 at once: anything but 99 (exec failed) ran it */
	if (run_child("/nx/prog") != 99) esc("noexec-elf", "ran"); else ok("noexec-elf");
	fd = open("/nx/prog", O_RDONLY);
	void *m = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	if (m != MAP_FAILED) { esc("noexec-mmap", "mapped executable"); munmap(m, 4096); } else ok("noexec-mmap");
	m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m != MAP_FAILED && mprotect(m, 4096, PROT_READ | PROT_EXEC) == 0) esc("noexec-mprotect", "made executable"); else ok("noexec-mprotect");
	if (m != MAP_FAILED) munmap(m, 4096);
	{
		char *argv[] = {"prog", NULL}, *envp[] = {NULL};
		pid_t p = fork();
		if (p == 0) { fexecve(fd, argv, envp); _exit(99); }
		int st = 0;
		waitpid(p, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 99) esc("noexec-fexecve", "ran"); else ok("noexec-fexecve");
		snprintf(buf, sizeof buf, "/proc/self/fd/%d", fd);
		p = fork();
		if (p == 0) { execve(buf, argv, envp); _exit(99); }
		waitpid(p, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 99) esc("noexec-proc-fd", "ran"); else ok("noexec-proc-fd");
	}
	close(fd);
	if (mount("/nx", "/nxb", NULL, MS_BIND, NULL) == 0) {
		if (run_child("/nxb/prog") != 99) esc("noexec-bind", "ran"); else ok("noexec-bind");
		int nfd = open("/nxb", O_RDONLY | O_DIRECTORY);
		pid_t p = fork();
		if (p == 0) { char *argv[] = {"prog", NULL}, *envp[] = {NULL}; execveat(nfd, "prog", argv, envp, 0); _exit(99); }
		int st = 0;
		waitpid(p, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 99) esc("noexec-execveat", "ran"); else ok("noexec-execveat");
		close(nfd);
		umount("/nxb");
	} else esc("noexec-bind", "binding the noexec mount failed");
	/* nosuid: a set-uid-root copy of /bin/busybox run by uid 1000 as "id -u" must say 1000 */
	if (copy_file("/bin/busybox", "/nx/id", 04755) == 0 && chmod("/nx/id", 04755) == 0 &&
	    mount(NULL, "/nx", NULL, MS_REMOUNT | MS_NOSUID | MS_NODEV, "size=4m") == 0) {
		chmod("/nx", 0755);
		/* busybox runs the applet named by argv[0]: "id -u" prints the effective uid */
		{
			int pfd[2];
			pipe(pfd);
			pid_t p = fork();
			if (p == 0) {
				dup2(pfd[1], 1);
				if (setgid(1000) < 0 || setuid(1000) < 0) _exit(98);
				char *argv[] = {"/nx/id", "-u", NULL};
				execv("/nx/id", argv);
				_exit(99);
			}
			close(pfd[1]);
			char out[32] = {0};
			read(pfd[0], out, sizeof out - 1);
			close(pfd[0]);
			waitpid(p, NULL, 0);
			if (atoi(out) != 1000) { snprintf(buf, sizeof buf, "euid %s", out); esc("nosuid-setuid", buf); } else ok("nosuid-setuid");
		}
	} else esc("nosuid-setuid", "setting up the set-uid copy failed");
	/* nodev: the node exists and stats as a device, but opens nothing, by any name */
	if (mknod("/nx/null", S_IFCHR | 0666, makedev(1, 3)) == 0 && mknod("/nx/ubd", S_IFBLK | 0666, makedev(98, 0)) == 0) {
		expect_fail("nodev-open", open("/nx/null", O_RDWR), EACCES);
		expect_fail("nodev-open-block", open("/nx/ubd", O_RDONLY), EACCES);
		int pfd = open("/nx/null", O_PATH);
		snprintf(buf, sizeof buf, "/proc/self/fd/%d", pfd);
		expect_fail("nodev-proc-fd", open(buf, O_RDWR), 0);
		close(pfd);
		int dfd = open("/nx", O_RDONLY | O_DIRECTORY);
		expect_fail("nodev-dirfd", openat(dfd, "ubd", O_RDONLY), EACCES);
		close(dfd);
		symlink("/nx/ubd", "/tmp/ubdlink");
		expect_fail("nodev-symlink", open("/tmp/ubdlink", O_RDONLY), EACCES);
		if (mount("/nx", "/nxb", NULL, MS_BIND, NULL) == 0) {
			expect_fail("nodev-bind", open("/nxb/ubd", O_RDONLY), EACCES);
			umount("/nxb");
		} else esc("nodev-bind", "binding the nodev mount failed");
	} else esc("nodev-open", "mknod failed");
	umount2("/nx", MNT_DETACH);
	/* a read-only bind of a writable directory: no write through it by any name */
	mkdir("/tmp/rw", 0755);
	fd = open("/tmp/rw/f", O_CREAT | O_WRONLY, 0644);
	close(fd);
	if (mount("/tmp/rw", "/nxb", NULL, MS_BIND, NULL) == 0 &&
	    mount(NULL, "/nxb", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) == 0) {
		expect_fail("robind-open", open("/nxb/f", O_WRONLY), EROFS);
		expect_fail("robind-create", open("/nxb/new", O_CREAT | O_WRONLY, 0644), EROFS);
		expect_fail("robind-truncate", truncate("/nxb/f", 0), EROFS);
		int rfd = open("/nxb/f", O_RDONLY);
		snprintf(buf, sizeof buf, "/proc/self/fd/%d", rfd);
		expect_fail("robind-proc-fd", open(buf, O_WRONLY), 0);
		expect_fail("robind-fchmod", fchmod(rfd, 0666), EROFS);
		expect_fail("robind-write", write(rfd, "x", 1), 0);
		expect_fail("robind-link-out", link("/nxb/f", "/tmp/rw/g"), EXDEV);
		expect_fail("robind-rename-out", rename("/nxb/f", "/tmp/rw/g"), EXDEV);
		close(rfd);
		int dfd = open("/nxb", O_RDONLY | O_DIRECTORY);
		expect_fail("robind-dirfd", openat(dfd, "new", O_CREAT | O_WRONLY, 0644), EROFS);
		expect_fail("robind-dirfd-mkdir", mkdirat(dfd, "d", 0755), EROFS);
		close(dfd);
		umount("/nxb");
	} else esc("robind-open", "binding read-only failed");
}

#include "escape_hostfs.c"

int main(void) {
	hostdir = getenv("HOSTDIR");
	hostpid = atoi(getenv("HOSTPID") ? getenv("HOSTPID") : "0");
	if (!hostdir || hostpid <= 1) { printf("missing HOSTDIR/HOSTPID\n"); return 1; }

	/* the launcher and the kernel must not leave fds behind */
	int extra = 0;
	char which[256] = "";
	for (int fd = 3; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0) {
			extra++;
			snprintf(which + strlen(which), sizeof which - strlen(which), " %d", fd);
		}
	if (extra) { snprintf(buf, sizeof buf, "inherited fds:%s", which); esc("fds-inherited", buf); } else ok("fds-inherited");

	try_open("dotdot-abs", AT_FDCWD, "/../secret");
	try_open("dotdot-many", AT_FDCWD, "/../../../../../../../../../../secret");
	chdir("/tmp");
	try_open("dotdot-rel", AT_FDCWD, "../../../../../secret");
	int rootfd = open("/", O_RDONLY | O_DIRECTORY);
	try_open("dirfd-root", rootfd, "../secret");
	int tmpfd = open("/tmp", O_RDONLY | O_DIRECTORY);
	try_open("dirfd-sub", tmpfd, "../../../secret");
	symlink("/../secret", "/tmp/l1");
	try_open("symlink-abs", AT_FDCWD, "/tmp/l1");
	symlink(host("secret"), "/tmp/l2");
	try_open("symlink-hostpath", AT_FDCWD, "/tmp/l2");
	symlink("../../../secret", "/tmp/l3");
	try_open("symlink-rel", AT_FDCWD, "/tmp/l3");
	symlink("/", "/tmp/r");
	try_open("symlink-dir", AT_FDCWD, "/tmp/r/../secret");
	symlink(hostdir, "/tmp/hd");
	try_open("symlink-hostdir", AT_FDCWD, "/tmp/hd/secret");
	try_open("symlink-via-dirfd", tmpfd, "l3");
	try_open("proc-self-root", AT_FDCWD, "/proc/self/root/../secret");
	try_open("proc-self-cwd", AT_FDCWD, "/proc/self/cwd/../../../secret");
	try_open("proc-1-root", AT_FDCWD, "/proc/1/root/../secret");
	snprintf(buf, sizeof buf, "/proc/%d/root/%s/secret", hostpid, hostdir);
	try_open("proc-hostpid-root", AT_FDCWD, buf);
	try_open("proc-self-fd-dotdot", AT_FDCWD, "/proc/self/fd/3/../secret");
	try_open("dev-dotdot", AT_FDCWD, "/dev/../../secret");
	try_open("dev-fd-dotdot", AT_FDCWD, "/dev/fd/3/../../secret");
	{
		struct { unsigned long long flags, mode, resolve; } how = {O_RDONLY, 0, 0};
		int fd = syscall(SYS_openat2, AT_FDCWD, "/../secret", &how, sizeof how);
		if (fd >= 0 && secret_fd(fd)) esc("openat2", "/../secret"); else ok("openat2");
	}
	struct stat st;
	expect_fail("stat-hostpath", stat(host("secret"), &st), ENOENT);
	expect_fail("stat-dotdot", stat("/../secret", &st), ENOENT);
	/* path stats the shim answers for guest root by a native lookup (statpath): through the
	 * placeholders over /proc, /dev and /sys, /proc's root and cwd links, and a dirfd */
	expect_fail("stat-proc-dotdot", stat("/proc/../../secret", &st), ENOENT);
	expect_fail("stat-dev-dotdot", stat("/dev/../../secret", &st), ENOENT);
	expect_fail("stat-sys-dotdot", stat("/sys/../../secret", &st), ENOENT);
	expect_fail("stat-proc-root-dotdot", stat("/proc/self/root/../secret", &st), ENOENT);
	expect_fail("stat-proc-1-cwd-dotdot", stat("/proc/1/cwd/../../../secret", &st), ENOENT);
	expect_fail("lstat-hostpath", lstat(host("secret"), &st), ENOENT);
	{
		int d = open("/", O_PATH | O_DIRECTORY);
		expect_fail("fstatat-dirfd-dotdot", fstatat(d, "../../secret", &st, AT_SYMLINK_NOFOLLOW), ENOENT);
		close(d);
	}
	ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
	if (n < 0) esc("readlink-exe", "failed");
	else { buf[n] = 0; if (strstr(buf, hostdir) || strcmp(buf, "/escape")) esc("readlink-exe", buf); else ok("readlink-exe"); }
	chdir("/tmp");
	for (int i = 0; i < 10; i++) chdir("..");
	if (!getcwd(buf, sizeof buf) || strcmp(buf, "/")) esc("chdir-dotdot", buf); else ok("chdir-dotdot");
	try_open("chdir-dotdot-open", AT_FDCWD, "secret");
	expect_fail("chdir-hostdir", chdir(hostdir), ENOENT);

	/* name-changing calls aimed outside: judged on the host too */
	close(open("/tmp/mv", O_CREAT | O_WRONLY, 0644));
	rename("/tmp/mv", "/../moved");
	rename("/tmp/mv", host("moved2"));
	ok("rename-out");
	expect_fail("link-from-out", link("/../secret", "/tmp/hl"), ENOENT);
	expect_fail("link-from-hostpath", link(host("secret"), "/tmp/hl2"), ENOENT);
	close(open("/tmp/lk", O_CREAT | O_WRONLY, 0644));
	link("/tmp/lk", "/../linked");
	ok("link-out");
	mkdir("/../newdir", 0755);
	unlink("/../secret");
	truncate("/../secret", 0);
	truncate(host("secret"), 0);
	chmod("/../secret", 0777);
	chown("/../secret", 1, 1);
	symlink("x", "/../newlink");
	mknod("/../fifo", S_IFIFO | 0644, 0);
	ok("modify-out");
	/* device nodes are metadata: /dev/mem's number opens nothing */
	mknod("/tmp/mem", S_IFCHR | 0600, makedev(1, 1));
	expect_fail("mknod-dev-mem", open("/tmp/mem", O_RDONLY), ENXIO);
	mknod("/tmp/sda", S_IFBLK | 0600, makedev(8, 0));
	expect_fail("mknod-dev-sda", open("/tmp/sda", O_RDONLY), ENXIO);

	/* executing host files */
	if (run_child(host("hostbin")) == 42) esc("exec-hostpath", "ran"); else ok("exec-hostpath");
	symlink(host("hostbin"), "/tmp/hb");
	if (run_child("/tmp/hb") == 42) esc("exec-symlink-out", "ran"); else ok("exec-symlink-out");
	{
		int fd = open("/tmp/s.sh", O_CREAT | O_WRONLY | O_TRUNC, 0755);
		dprintf(fd, "#!%s\n", host("hostbin"));
		close(fd);
		if (run_child("/tmp/s.sh") == 42) esc("exec-shebang-out", "ran"); else ok("exec-shebang-out");
	}
	if (run_child("/../hostbin") == 42) esc("exec-dotdot", "ran"); else ok("exec-dotdot");

	/* other processes and host-global objects */
	expect_fail("kill-hostpid", kill(hostpid, 0), ESRCH);
	expect_fail("kill-hostpid-sig", kill(hostpid, SIGTERM), ESRCH);
	expect_fail("tgkill-hostpid", syscall(SYS_tgkill, hostpid, hostpid, 0), ESRCH);
	expect_fail("ptrace-hostpid", ptrace(PTRACE_ATTACH, hostpid, 0, 0), 0);
	{
		struct iovec l = {buf, 16}, r = {(void *)0x400000, 16};
		expect_fail("process_vm_readv", process_vm_readv(hostpid, &l, 1, &r, 1, 0), 0);
	}
	{
		/* the guest's network is its own: with its loopback up, the host's loopback
		 * listener (HOSTPORT) is not there */
		int s = socket(AF_INET, SOCK_STREAM, 0);
		struct ifreq ifr = {0};
		strcpy(ifr.ifr_name, "lo");
		ifr.ifr_flags = IFF_UP | IFF_RUNNING;
		if (s < 0 || ioctl(s, SIOCSIFFLAGS, &ifr) < 0) { esc("lo-up", strerror(errno)); }
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(getenv("HOSTPORT") ? getenv("HOSTPORT") : "1")),
			.sin_addr.s_addr = htonl(0x7f000001)};
		expect_fail("connect-host-loopback", s < 0 ? 0 : connect(s, (void *)&a, sizeof a), ECONNREFUSED);
		if (s >= 0) close(s);
	}
	expect_fail("socket-vsock", socket(AF_VSOCK, SOCK_STREAM, 0), EAFNOSUPPORT);
	{
		int s = socket(AF_UNIX, SOCK_DGRAM, 0);
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		snprintf(a.sun_path, sizeof a.sun_path, "%s", host("gsock"));
		expect_fail("bind-unix-hostpath", bind(s, (void *)&a, sizeof a), 0);
		snprintf(a.sun_path, sizeof a.sun_path, "%s", host("dsock"));
		expect_fail("sendto-unix-hostpath", sendto(s, "ESCAPED", 7, 0, (void *)&a, sizeof a), 0);
		expect_fail("connect-unix-hostpath", connect(s, (void *)&a, sizeof a), 0);
		struct sockaddr_un ab = {.sun_family = AF_UNIX};
		const char *hp = getenv("HOSTPID");
		int an = snprintf(ab.sun_path + 1, sizeof ab.sun_path - 1, "gouml-escape-test-%s", hp ? hp : "");
		/* abstract names are the guest's own: the host's "gouml-escape-test-PID" (the test
		 * listens there) is not reachable */
		expect_fail("sendto-abstract-host", sendto(s, "ESCAPED", 7, 0, (void *)&ab, sizeof(sa_family_t) + 1 + an), ECONNREFUSED);
		struct msghdr m = {0};
		struct iovec v = {"ESCAPED", 7};
		m.msg_name = &a; m.msg_namelen = sizeof a; m.msg_iov = &v; m.msg_iovlen = 1;
		expect_fail("sendmsg-unix-hostpath", sendmsg(s, &m, 0), 0);
		symlink(host("dsock"), "/tmp/dsl");
		struct sockaddr_un sl = {.sun_family = AF_UNIX};
		strcpy(sl.sun_path, "/tmp/dsl");
		expect_fail("sendto-symlink-out", sendto(s, "ESCAPED", 7, 0, (void *)&sl, sizeof sl), ENOENT);
		expect_fail("connect-symlink-out", connect(s, (void *)&sl, sizeof sl), ENOENT);
		symlink("../../dsock", "/tmp/dsl2");
		strcpy(sl.sun_path, "/tmp/dsl2");
		expect_fail("sendto-relsymlink-out", sendto(s, "ESCAPED", 7, 0, (void *)&sl, sizeof sl), ENOENT);
		strcpy(sl.sun_path, "/../gsock2");
		bind(s, (void *)&sl, sizeof sl); /* lands in the root: judged on the host */
		ok("bind-dotdot");
		close(s);
	}
	{
		char c = 'x';
		expect_fail("tiocsti", ioctl(0, TIOCSTI, &c), EPERM);
		/* the guest's own ptys: typing into them stays refused too, and their slave
		 * names lead to the guest's devpts instance only (its first pty is number 0,
		 * whatever the host's /dev/pts holds) */
		int pm = open("/dev/ptmx", O_RDWR | O_NOCTTY);
		int unlock = 0, n = -1;
		if (pm < 0 || ioctl(pm, TIOCSPTLCK, &unlock) < 0 || ioctl(pm, TIOCGPTN, &n) < 0) {
			esc("guest-pty", "no guest pty");
		} else {
			char pn[32];
			snprintf(pn, sizeof pn, "/dev/pts/%d", n);
			int ps = open(pn, O_RDWR | O_NOCTTY);
			if (ps < 0) esc("guest-pty", "its slave does not open");
			else {
				expect_fail("tiocsti-guest-pty", ioctl(ps, TIOCSTI, &c), EPERM);
				expect_fail("tiocsti-guest-master", ioctl(pm, TIOCSTI, &c), EPERM);
				close(ps);
			}
			expect_fail("host-pty-number", open("/dev/pts/99", O_RDWR | O_NOCTTY), ENOENT);
			close(pm);
		}
	}
	expect_fail("io_uring_setup", syscall(425, 1, buf), ENOSYS);
	expect_fail("unshare-user", unshare(CLONE_NEWUSER), EPERM);
	expect_fail("clone-newns", syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0), EPERM);
	expect_fail("clone3", syscall(435, buf, 88), ENOSYS);
	expect_fail("open_by_handle_at", syscall(SYS_open_by_handle_at, rootfd, buf, O_RDONLY), EPERM);
	/* the classic chroot break-out (chroot with the cwd left outside, then "..") and its
	 * variants, in a child so the rest of the suite keeps its root */
	{
		mkdir("/tmp/cj", 0755);
		mkdir("/tmp/cj/sub", 0755);
		fflush(stdout);
		pid_t p = fork();
		if (p == 0) {
			if (chroot("/tmp/cj") != 0) { esc("chroot-break", "chroot failed"); _exit(0); }
			for (int i = 0; i < 20; i++) chdir("..");
			chroot(".");
			try_open("chroot-break", AT_FDCWD, "secret");
			try_open("chroot-break-abs", AT_FDCWD, "/../../../secret");
			snprintf(buf, sizeof buf, "%s/secret", hostdir);
			try_open("chroot-hostpath", AT_FDCWD, buf);
			int fd = open("/sub", O_RDONLY | O_DIRECTORY);
			chroot("/sub");
			try_open("chroot-fd-outside", fd, "../../../secret");
			try_open("chroot-dotdot", AT_FDCWD, "/../secret");
			fflush(stdout);
			_exit(0);
		}
		waitpid(p, 0, 0);
	}

	/* datagram sendmsg without an address works, and racing a host address into it does not */
	{
		int sv[2];
		socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
		struct iovec v[2] = {{"da", 2}, {"ta", 2}};
		struct msghdr m = {0};
		m.msg_iov = v; m.msg_iovlen = 2;
		char r[8] = {0};
		if (sendmsg(sv[0], &m, 0) != 4 || recv(sv[1], r, sizeof r, 0) != 4 || memcmp(r, "data", 4)) esc("sendmsg-dgram-works", r); else ok("sendmsg-dgram-works");
		race_addr.sun_family = AF_UNIX;
		snprintf(race_addr.sun_path, sizeof race_addr.sun_path, "%s", host("dsock"));
		struct iovec rv = {"ESCAPED", 7};
		race_msg.msg_iov = &rv; race_msg.msg_iovlen = 1;
		int d = socket(AF_UNIX, SOCK_DGRAM, 0);
		pthread_t th;
		pthread_create(&th, NULL, race_thread, NULL);
		int sent = 0, notconn = 0, other = 0;
		for (int i = 0; i < 20000; i++) {
			if (sendmsg(d, &race_msg, MSG_DONTWAIT) == 7) sent++;
			else if (errno == ENOTCONN) notconn++;
			else other++;
		}
		race_stop = 1;
		pthread_join(th, NULL);
		close(d);
		/* also judged on the host: nothing may arrive at dsock */
		snprintf(buf, sizeof buf, "%d sent (%d unconnected, %d refused)", sent, notconn, other);
		if (sent) esc("sendmsg-name-race", buf); else ok("sendmsg-name-race");
		if (getenv("RACE_DEBUG")) printf("race: %s\n", buf);
	}

	/* swap a symlink between a directory inside and one "outside" while opening through it */
	{
		mkdir("/tmp/realdir", 0755);
		close(open("/tmp/realdir/secret", O_CREAT | O_WRONLY, 0644));
		symlink("realdir", "/tmp/sw");
		pid_t p = fork();
		if (p == 0) {
			for (int i = 0; i < 20000; i++) {
				symlink(i % 2 ? "realdir" : "../..", "/tmp/sw.new");
				rename("/tmp/sw.new", "/tmp/sw");
			}
			_exit(0);
		}
		int bad = 0;
		for (int i = 0; i < 20000; i++) {
			int fd = open("/tmp/sw/secret", O_RDONLY);
			if (fd >= 0) { if (secret_fd(fd)) bad++; close(fd); }
		}
		kill(p, SIGKILL);
		waitpid(p, 0, 0);
		if (bad) { snprintf(buf, sizeof buf, "%d opens", bad); esc("symlink-swap-race", buf); } else ok("symlink-swap-race");
	}
	/* A filter of the guest's own with a notification listener would get the calls the
	 * kernel traps (the most recent filter's listener wins among equal actions), and could
	 * let them run natively with host paths: installing one must fail (Linux allows one
	 * listener per filter chain: EBUSY). */
	{
		fflush(stdout);
		pid_t p = fork();
		if (p == 0) {
			struct sock_filter f[] = {
				BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
				BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 0, 1),
				BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
				BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
			};
			struct sock_fprog prog = {4, f};
			prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
			long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
			_exit(r >= 0 ? 1 : 0);
		}
		int st = 0;
		waitpid(p, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			snprintf(buf, sizeof buf, "status %#x", st);
			esc("seccomp-listener", buf);
		} else ok("seccomp-listener");
	}
	/* Bind mounts inside the guest: the source is a path of the guest's trees, resolved
	 * there whatever it says, and nothing reached through the new mount leaves them. */
	{
		mkdir("/bmnt", 0755);
		expect_fail("bind-host-path", mount(hostdir, "/bmnt", NULL, MS_BIND, NULL), 0);
		symlink(hostdir, "/tmp/hostlink");
		expect_fail("bind-host-symlink", mount("/tmp/hostlink", "/bmnt", NULL, MS_BIND, NULL), 0);
		expect_fail("bind-proc", mount("/proc", "/bmnt", NULL, MS_BIND, NULL), 0);
		const char *srcs[] = {"/..", "/../../..", "/proc/1/root", "/proc/self/cwd/.."};
		for (int i = 0; i < 4; i++) {
			char n[64];
			snprintf(n, sizeof n, "bind-%d", i);
			if (mount(srcs[i], "/bmnt", NULL, MS_BIND, NULL) < 0) {
				ok(n); /* refused: nothing reached */
				continue;
			}
			struct stat st;
			if (stat("/bmnt/escape", &st) < 0) esc(n, "the bind of the guest's root does not show it");
			try_open(n, AT_FDCWD, "/bmnt/../secret");
			try_open(n, AT_FDCWD, "/bmnt/../../../secret");
			int bfd = open("/bmnt", O_RDONLY | O_DIRECTORY);
			try_open(n, bfd, "../secret");
			close(bfd);
			umount("/bmnt");
		}
		mkdir("/tmp/bsrc", 0755);
		mkdir("/tmp/bsrc/d", 0755);
		if (mount("/tmp/bsrc", "/bmnt", NULL, MS_BIND, NULL) == 0) {
			chdir("/bmnt/d");
			try_open("bind-cwd-dotdot", AT_FDCWD, "../../../../../secret");
			int dfd = open(".", O_RDONLY | O_DIRECTORY);
			try_open("bind-dirfd-dotdot", dfd, "../../../../secret");
			fchdir(dfd);
			try_open("bind-fchdir-dotdot", AT_FDCWD, "../../../../secret");
			close(dfd);
			chdir("/");
			umount2("/bmnt", MNT_DETACH);
		} else esc("bind-cwd-dotdot", "binding a directory of the guest failed");
	}
	/* openat2 reads its flags from memory when the host runs it: an ordinary user whose
	 * O_PATH open another thread turns into O_RDONLY must not read root's private file */
	{
		int fd = open("/tmp/rootonly", O_CREAT | O_WRONLY | O_TRUNC, 0600);
		write(fd, "SECRET\n", 7);
		close(fd);
		fflush(stdout);
		pid_t p = fork();
		if (p == 0) {
			if (setgroups(0, NULL) < 0 || setgid(1000) < 0 || setuid(1000) < 0) _exit(98);
			flags_how.flags = O_PATH;
			pthread_t th;
			pthread_create(&th, NULL, flags_thread, NULL);
			int bad = 0;
			for (int i = 0; i < 20000; i++) {
				int f = syscall(SYS_openat2, AT_FDCWD, "/tmp/rootonly", &flags_how, sizeof flags_how);
				if (f >= 0) { if (secret_fd(f)) bad++; close(f); }
			}
			_exit(bad ? 1 : 0);
		}
		int st = 0;
		waitpid(p, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			snprintf(buf, sizeof buf, "status %#x", st);
			esc("openat2-flags-race", buf);
		} else ok("openat2-flags-race");
	}
	mount_flags();
	if (getenv("HOSTFS")) hostfs_escapes(); else esc("hostfs", "no HOSTFS: the test gave no hostfs= directory");
	printf("done\n");
	fflush(stdout);
	reboot(RB_POWER_OFF);
	return 1;
}
