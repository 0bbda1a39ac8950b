/* The guest-DAC matrix (dac_test.go): as root it lays out files and directories of every
 * mode owned by 1001:50, then tries each operation on them as each kind of user (the owner,
 * a member of the group by its gid, one by a supplementary group, anyone else, root), each
 * in a child that setuid()s. It prints one line per case, so the native run and the guest's
 * can be compared line by line. argv[1] is a tiny static program that exits 0 (the file
 * executed). Run in an empty directory whose parents everyone may search. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

struct who {
	const char *name;
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[2];
};

static const struct who whos[] = {
	{"root", 0, 0, 0, {0}},
	{"owner", 1001, 1001, 0, {0}},
	{"group", 1002, 50, 0, {0}},
	{"suppl", 1003, 1003, 2, {60, 50}},
	{"other", 1004, 1004, 1, {60}},
};

static const char *errname(int e)
{
	static char buf[16];
	switch (e) {
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EEXIST: return "EEXIST";
	case EISDIR: return "EISDIR";
	case ENOTDIR: return "ENOTDIR";
	case ELOOP: return "ELOOP";
	case EINVAL: return "EINVAL";
	case ENOEXEC: return "ENOEXEC";
	case ETXTBSY: return "ETXTBSY";
	case ENOTEMPTY: return "ENOTEMPTY";
	case EXDEV: return "EXDEV";
	}
	snprintf(buf, sizeof buf, "E%d", e);
	return buf;
}

static void die(const char *what)
{
	printf("setup %s: %s\n", what, errname(errno));
	exit(1);
}

static void mk(const char *path, int dir, mode_t mode, uid_t uid, gid_t gid, const char *copy)
{
	if (dir) {
		if (mkdir(path, 0700) < 0)
			die(path);
	} else {
		int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
		if (fd < 0)
			die(path);
		if (copy) {
			int in = open(copy, O_RDONLY);
			char b[65536];
			ssize_t n;
			if (in < 0)
				die(copy);
			while ((n = read(in, b, sizeof b)) > 0)
				if (write(fd, b, n) != n)
					die(path);
			close(in);
		} else if (write(fd, "data\n", 5) != 5) {
			die(path);
		}
		close(fd);
	}
	if (chown(path, uid, gid) < 0 || chmod(path, mode) < 0)
		die(path);
}

/* one operation on a path (or two) */
typedef int (*op_fn)(const char *a, const char *b);

static int op_read(const char *a, const char *b) { return open(a, O_RDONLY); }
static int op_write(const char *a, const char *b) { return open(a, O_WRONLY); }
static int op_append(const char *a, const char *b) { return open(a, O_WRONLY | O_APPEND); }
static int op_rdtrunc(const char *a, const char *b) { return open(a, O_RDONLY | O_TRUNC); }
static int op_truncate(const char *a, const char *b) { return truncate(a, 0); }
static int op_chmod(const char *a, const char *b) { return chmod(a, 0644); }
static int op_ls(const char *a, const char *b) { return open(a, O_RDONLY | O_DIRECTORY); }
static int op_stat(const char *a, const char *b) { struct stat st; return stat(a, &st); }
static int op_creat(const char *a, const char *b) { return open(a, O_CREAT | O_WRONLY, 0644); }
static int op_unlink(const char *a, const char *b) { return unlink(a); }
static int op_rmdir(const char *a, const char *b) { return rmdir(a); }
static int op_mkdir(const char *a, const char *b) { return mkdir(a, 0755); }
static int op_symlink(const char *a, const char *b) { return symlink("t", a); }
static int op_rename(const char *a, const char *b) { return rename(a, b); }
static int op_link(const char *a, const char *b) { return link(a, b); }
static int op_chdir(const char *a, const char *b) { return chdir(a); }
static int op_readlink(const char *a, const char *b) { char t[64]; return readlink(a, t, sizeof t); }
static int op_access_r(const char *a, const char *b) { return access(a, R_OK); }
/* a set-user-ID-like process: real ids bob's (1002), effective ids alice's (1001) */
static int asBobAlice(void)
{
	return setgroups(0, NULL) < 0 || setresgid(1002, 1001, 1001) < 0 || setresuid(1002, 1001, 1001) < 0 ? -1 : 0;
}
static int op_access_real(const char *a, const char *b) { return asBobAlice() < 0 ? -1 : access(a, R_OK); }
static int op_access_eff(const char *a, const char *b)
{
	return asBobAlice() < 0 ? -1 : faccessat(AT_FDCWD, a, R_OK, AT_EACCESS);
}
static int op_read_eff(const char *a, const char *b) { return asBobAlice() < 0 ? -1 : open(a, O_RDONLY); }
static int op_opath(const char *a, const char *b) { return open(a, O_PATH); }
static int sockAt(const char *a, int bindIt)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0)
		return s;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", a);
	return bindIt ? bind(s, (struct sockaddr *)&sa, sizeof sa) : connect(s, (struct sockaddr *)&sa, sizeof sa);
}
static int op_bind(const char *a, const char *b) { return sockAt(a, 1); }
static int op_connect(const char *a, const char *b) { return sockAt(a, 0); }
static int op_chmod_sgid(const char *a, const char *b) { return chmod(a, 02755); }
static int op_exec(const char *a, const char *b)
{
	char *argv[] = {(char *)a, NULL};
	return execv(a, argv);
}

/* try runs op as who in a child and prints the outcome */
static void try(const char *label, const struct who *w, op_fn op, const char *a, const char *b)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		if (setgroups(w->ngroups, w->groups) < 0 || setgid(w->gid) < 0 || setuid(w->uid) < 0)
			_exit(200);
		if (op(a, b) < 0)
			_exit(errno);
		_exit(0);
	}
	int st;
	if (waitpid(pid, &st, 0) < 0)
		die("wait");
	if (!WIFEXITED(st))
		printf("%s %s: signal %d\n", label, w->name, WTERMSIG(st));
	else if (WEXITSTATUS(st) == 0)
		printf("%s %s: ok\n", label, w->name);
	else
		printf("%s %s: %s\n", label, w->name, errname(WEXITSTATUS(st)));
}

static const mode_t fileModes[] = {0, 0400, 0040, 0004, 0200, 0020, 0002, 0100, 0010, 0001,
				   0640, 0604, 0755, 0700, 0070, 0007, 0666, 04755, 02750};
static const mode_t dirModes[] = {0, 0700, 0500, 0300, 0100, 0070, 0050, 0030, 0010, 0007,
				  0005, 0003, 0001, 0755, 0777, 01777, 01733, 01770};

static const struct {
	const char *name;
	op_fn fn;
} fileOps[] = {
	{"read", op_read}, {"write", op_write}, {"append", op_append}, {"rdtrunc", op_rdtrunc},
	{"truncate", op_truncate}, {"access-r", op_access_r}, {"chmod", op_chmod},
};

/* directory operations: on the directory itself (dir), or on names in it */
static const struct {
	const char *name;
	op_fn fn;
	const char *a, *b; /* below the case's directory D: "" is D itself */
} dirOps[] = {
	{"ls", op_ls, "", NULL},
	{"chdir", op_chdir, "", NULL},
	{"stat-in", op_stat, "/x", NULL},
	{"read-in", op_read, "/x", NULL},
	{"readlink-in", op_readlink, "/l", NULL},
	{"creat-in", op_creat, "/new", NULL},
	{"mkdir-in", op_mkdir, "/new", NULL},
	{"symlink-in", op_symlink, "/new", NULL},
	{"unlink-root's", op_unlink, "/x", NULL},
	{"unlink-other's", op_unlink, "/o", NULL},
	{"rmdir-in", op_rmdir, "/sub", NULL},
	{"rename-in", op_rename, "/x", "/y"},
	{"rename-out", op_rename, "/o", "../pub/o"},
	{"link-into", op_link, "../pub/mine", "/lk"},
};

/* The cases of a distribution's tree: /etc/shadow, /etc/passwd, /root, /tmp, a home. */
static void scenarios(void)
{
	const struct who bob = {"bob", 1002, 1002, 0, {0}};
	const struct who bobShadow = {"bob+shadow", 1002, 1002, 1, {42}};
	const struct who alice = {"alice", 1001, 1001, 1, {50}};
	mk("etc", 1, 0755, 0, 0, NULL);
	mk("etc/shadow", 0, 0640, 0, 42, NULL);
	mk("etc/passwd", 0, 0644, 0, 0, NULL);
	mk("etc/staff", 0, 0640, 0, 50, NULL);
	mk("root", 1, 0700, 0, 0, NULL);
	mk("root/.profile", 0, 0644, 0, 0, NULL);
	mk("tmp", 1, 01777, 0, 0, NULL);
	mk("tmp/alices", 0, 0666, 1001, 1001, NULL);
	mk("home", 1, 0755, 0, 0, NULL);
	mk("home/bob", 1, 0755, 1002, 1002, NULL);
	mk("home/bob/f", 0, 0644, 1002, 1002, NULL);
	mk("home/bob/rootdir", 1, 0755, 0, 0, NULL);
	try("read /etc/shadow", &bob, op_read, "etc/shadow", NULL);
	try("read /etc/shadow", &bobShadow, op_read, "etc/shadow", NULL);
	try("read /etc/passwd", &bob, op_read, "etc/passwd", NULL);
	try("append /etc/passwd", &bob, op_append, "etc/passwd", NULL);
	try("truncate /etc/passwd", &bob, op_truncate, "etc/passwd", NULL);
	try("chmod /etc/passwd", &bob, op_chmod, "etc/passwd", NULL);
	try("link /etc/passwd into /tmp", &bob, op_link, "etc/passwd", "tmp/pw");
	try("link /etc/shadow into /etc", &bob, op_link, "etc/shadow", "etc/l");
	try("link a missing file into /etc", &bob, op_link, "etc/none", "etc/l");
	try("link a missing file into /root", &bob, op_link, "tmp/none", "root/l");
	try("link own file into /root", &bob, op_link, "home/bob/f", "root/l");
	try("read group file", &alice, op_read, "etc/staff", NULL);
	try("read group file", &bob, op_read, "etc/staff", NULL);
	try("stat /root", &bob, op_stat, "root", NULL);
	try("read /root/.profile", &bob, op_read, "root/.profile", NULL);
	try("stat /root/.profile", &bob, op_stat, "root/.profile", NULL);
	try("create in /root", &bob, op_creat, "root/x", NULL);
	try("mkdir in /root", &bob, op_mkdir, "root/d", NULL);
	try("chdir /root", &bob, op_chdir, "root", NULL);
	try("unlink alice's file in /tmp", &bob, op_unlink, "tmp/alices", NULL);
	try("rename alice's file in /tmp", &bob, op_rename, "tmp/alices", "tmp/mine");
	try("write alice's 0666 file in /tmp", &bob, op_write, "tmp/alices", NULL);
	try("create in /tmp", &bob, op_creat, "tmp/bobs", NULL);
	try("unlink bob's file in /tmp", &alice, op_unlink, "tmp/bobs", NULL);
	try("rename over alice's file in /tmp", &bob, op_rename, "tmp/bobs", "tmp/alices");
	try("unlink own file in /tmp", &bob, op_unlink, "tmp/bobs", NULL);
	try("create in home", &bob, op_creat, "home/bob/new", NULL);
	try("unlink in home", &bob, op_unlink, "home/bob/f", NULL);
	try("unlink root's dir in home", &bob, op_rmdir, "home/bob/rootdir", NULL);
	mk("home/bob/rootdir2", 1, 0755, 0, 0, NULL);
	try("move root's dir out of home", &bob, op_rename, "home/bob/rootdir2", "tmp/rd");
	try("move own dir", &bob, op_mkdir, "home/bob/own", NULL);
	try("move own dir out of home", &bob, op_rename, "home/bob/own", "tmp/own");
	mk("home/alice", 1, 0750, 1001, 50, NULL);
	mk("home/alice/f", 0, 0640, 1001, 50, NULL);
	try("read in alice's group dir", &alice, op_read, "home/alice/f", NULL);
	try("read in alice's group dir", &bob, op_read, "home/alice/f", NULL);
	try("read in alice's group dir", &bobShadow, op_read, "home/alice/f", NULL);
	try("O_PATH in /root", &bob, op_opath, "root/.profile", NULL);
	try("O_PATH of /root", &bob, op_opath, "root", NULL);
	try("bind a socket in /root", &bob, op_bind, "root/sock", NULL);
	try("bind a socket in /tmp", &bob, op_bind, "tmp/sock", NULL);
	/* a listening socket of root's: connecting needs w on it */
	int ls = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "etc/sock");
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 16) < 0)
		die("listen");
	chmod("etc/sock", 0600);
	try("connect to root's 0600 socket", &bob, op_connect, "etc/sock", NULL);
	try("connect to root's 0600 socket", &whos[0], op_connect, "etc/sock", NULL);
	chmod("etc/sock", 0666);
	try("connect to root's 0666 socket", &bob, op_connect, "etc/sock", NULL);
	close(ls);
	try("access (real ids: bob) in alice's group dir", &whos[0], op_access_real, "home/alice/f", NULL);
	try("access AT_EACCESS (effective: alice) in alice's group dir", &whos[0], op_access_eff, "home/alice/f", NULL);
	try("open (effective: alice) in alice's group dir", &whos[0], op_read_eff, "home/alice/f", NULL);
	/* set-group-ID by a non-member is dropped */
	mk("home/bob/sg", 0, 0755, 1002, 50, NULL);
	try("chmod g+s, group not ours", &bob, op_chmod_sgid, "home/bob/sg", NULL);
	struct stat st;
	if (stat("home/bob/sg", &st) == 0)
		printf("home/bob/sg mode %04o\n", st.st_mode & 07777);
}

/* A target process with the ids r/e/s (uid and gid alike), waiting to be killed; alone in
 * a session of its own if newSession, else in a process group of its own (pgrp 0) or in
 * the group pgrp. */
static pid_t target(uid_t r, uid_t e, uid_t s, int newSession, pid_t pgrp)
{
	int p[2];
	char c;
	if (pipe(p) < 0)
		die("pipe");
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		if (newSession)
			setsid();
		else
			setpgid(0, pgrp);
		signal(SIGWINCH, SIG_IGN);
		if (setgroups(0, NULL) < 0 || setresgid(r, e, s) < 0 || setresuid(r, e, s) < 0)
			_exit(1);
		close(p[0]);
		close(p[1]); /* ready */
		for (;;)
			pause();
	}
	close(p[1]);
	if (read(p[0], &c, 1) < 0)
		die("read");
	close(p[0]);
	return pid;
}

static pid_t sigTargetPid, sigTargetTid;
static int sigNo;
static int op_kill(const char *a, const char *b) { return kill(sigTargetPid, sigNo); }
static int op_killpg(const char *a, const char *b) { return kill(-sigTargetPid, sigNo); }
static int op_tgkill(const char *a, const char *b) { return syscall(SYS_tgkill, sigTargetPid, sigTargetTid, sigNo); }
static int op_tkill(const char *a, const char *b) { return syscall(SYS_tkill, sigTargetTid, sigNo); }
static int op_sigqueue(const char *a, const char *b)
{
	union sigval v = {0};
	return sigqueue(sigTargetPid, sigNo, v);
}
static int op_pidfd(const char *a, const char *b)
{
	int fd = syscall(SYS_pidfd_open, sigTargetPid, 0);
	if (fd < 0)
		return fd;
	return syscall(SYS_pidfd_send_signal, fd, sigNo, NULL, 0);
}

/* Signals between users: who may signal a process of which real, effective, saved ids. */
static void signals(void)
{
	static const struct {
		const char *name;
		uid_t r, e, s;
		int newSession;
	} targets[] = {
		{"1001/1001/1001", 1001, 1001, 1001, 0},
		{"1002/1001/1001", 1002, 1001, 1001, 0},
		{"1003/1003/1004", 1003, 1003, 1004, 0},
		{"0/0/0", 0, 0, 0, 0},
		{"1001/1001/1001 other session", 1001, 1001, 1001, 1},
	};
	static const struct {
		const char *name;
		op_fn fn;
	} ops[] = {
		{"kill", op_kill}, {"kill -pgrp", op_killpg}, {"tgkill", op_tgkill}, {"tkill", op_tkill},
		{"sigqueue", op_sigqueue}, {"pidfd_send_signal", op_pidfd},
	};
	static const struct who senders[] = {
		{"root", 0, 0, 0, {0}},
		{"1001", 1001, 1001, 0, {0}},
		{"1002", 1002, 1002, 0, {0}},
		{"1004", 1004, 1004, 0, {0}},
	};
	static const int sigs[] = {0, SIGWINCH, SIGCONT};
	char label[160];
	for (size_t t = 0; t < sizeof targets / sizeof *targets; t++) {
		sigTargetPid = sigTargetTid = target(targets[t].r, targets[t].e, targets[t].s, targets[t].newSession, 0);
		for (size_t o = 0; o < sizeof ops / sizeof *ops; o++)
			for (size_t g = 0; g < sizeof sigs / sizeof *sigs; g++)
				for (size_t w = 0; w < sizeof senders / sizeof *senders; w++) {
					sigNo = sigs[g];
					snprintf(label, sizeof label, "signal %d by %s to %s", sigNo, ops[o].name, targets[t].name);
					try(label, &senders[w], ops[o].fn, NULL, NULL);
				}
		kill(sigTargetPid, SIGKILL);
		waitpid(sigTargetPid, NULL, 0);
	}
	/* a group of two users' processes: the sender may signal one of them */
	pid_t a = target(1001, 1001, 1001, 0, 0);
	pid_t b = target(1002, 1002, 1002, 0, a);
	sigTargetPid = a;
	sigNo = SIGWINCH;
	try("signal to a group of 1001 and 1002", &senders[1], op_killpg, NULL, NULL);
	try("signal to a group of 1001 and 1002", &senders[3], op_killpg, NULL, NULL);
	kill(a, SIGKILL);
	kill(b, SIGKILL);
	waitpid(a, NULL, 0);
	waitpid(b, NULL, 0);
}

int main(int argc, char **argv)
{
	char p[256], label[128];
	if (argc < 2) {
		fprintf(stderr, "usage: matrix TINY\n");
		return 2;
	}
	umask(0);
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	for (size_t m = 0; m < sizeof fileModes / sizeof *fileModes; m++) {
		snprintf(p, sizeof p, "x%04o", fileModes[m]);
		mk(p, 0, fileModes[m], 1001, 50, argv[1]);
		for (size_t w = 0; w < sizeof whos / sizeof *whos; w++) {
			snprintf(label, sizeof label, "file %04o exec", fileModes[m]);
			try(label, &whos[w], op_exec, p, NULL);
		}
	}
	for (size_t m = 0; m < sizeof fileModes / sizeof *fileModes; m++)
		for (size_t o = 0; o < sizeof fileOps / sizeof *fileOps; o++)
			for (size_t w = 0; w < sizeof whos / sizeof *whos; w++) {
				snprintf(p, sizeof p, "f%04o-%s-%s", fileModes[m], fileOps[o].name, whos[w].name);
				mk(p, 0, fileModes[m], 1001, 50, NULL);
				snprintf(label, sizeof label, "file %04o %s", fileModes[m], fileOps[o].name);
				try(label, &whos[w], fileOps[o].fn, p, NULL);
			}
	/* a public directory for renames out and links from */
	mk("pub", 1, 0777, 0, 0, NULL);
	for (size_t w = 0; w < sizeof whos / sizeof *whos; w++) {
		snprintf(p, sizeof p, "pub/%s", whos[w].name);
		mk(p, 0, 0666, whos[w].uid, whos[w].gid, NULL);
	}
	for (size_t m = 0; m < sizeof dirModes / sizeof *dirModes; m++)
		for (size_t o = 0; o < sizeof dirOps / sizeof *dirOps; o++)
			for (size_t w = 0; w < sizeof whos / sizeof *whos; w++) {
				char d[128], a[256], b[256];
				snprintf(d, sizeof d, "d%04o-%s-%s", dirModes[m], dirOps[o].name, whos[w].name);
				mk(d, 1, 0755, 0, 0, NULL);
				snprintf(p, sizeof p, "%s/x", d);
				mk(p, 0, 0644, 0, 0, NULL);
				snprintf(p, sizeof p, "%s/o", d);
				mk(p, 0, 0644, 1004, 1004, NULL);
				snprintf(p, sizeof p, "%s/sub", d);
				mk(p, 1, 0755, 0, 0, NULL);
				snprintf(p, sizeof p, "%s/l", d);
				if (symlink("x", p) < 0)
					die(p);
				if (chown(d, 1001, 50) < 0 || chmod(d, dirModes[m]) < 0)
					die(d);
				if (strncmp(dirOps[o].a, "../", 3) == 0) {
					/* a source outside: the caller's own file in pub */
					snprintf(a, sizeof a, "pub/%s", whos[w].name);
				} else {
					snprintf(a, sizeof a, "%s%s", d, dirOps[o].a);
				}
				if (!dirOps[o].b)
					b[0] = 0;
				else if (strncmp(dirOps[o].b, "../", 3) == 0)
					snprintf(b, sizeof b, "pub/%s-%s", d, whos[w].name);
				else
					snprintf(b, sizeof b, "%s%s", d, dirOps[o].b);
				snprintf(label, sizeof label, "dir %04o %s", dirModes[m], dirOps[o].name);
				try(label, &whos[w], dirOps[o].fn, a, b);
			}
	scenarios();
	signals();
	return 0;
}
