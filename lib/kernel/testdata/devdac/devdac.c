/* The device-node permission matrix (devdac_test.go). argv[1] is a directory of character
 * device nodes named null, zero, full, console, tty0 and kmsg with devtmpfs's modes:
 * natively, nodes the test makes with mknod; in the guest, the kernel's own /dev. As root it
 * gives the memory devices owners and modes with chown and chmod, then opens them each way
 * as each kind of user, each in a child that setuid()s, and prints one line per case, so the
 * native run and the guest's can be compared line by line. Then, the nodes left as
 * devtmpfs makes them, it tries the defaults (a user may not read the console, may not
 * write the kernel log, may open /dev/null), and an owner's chmod of its own
 * node. No node is opened by root, so the native run touches no host device. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
	{"owner", 1001, 1001, 0, {0}},
	{"group", 1002, 50, 0, {0}},
	{"suppl", 1003, 1003, 2, {60, 50}},
	{"other", 1004, 1004, 1, {60}},
};

static const struct {
	const char *name;
	int flags;
} opens[] = {
	{"rdonly", O_RDONLY},
	{"wronly", O_WRONLY},
	{"rdwr", O_RDWR},
	{"rdonly|trunc", O_RDONLY | O_TRUNC},
	{"path", O_PATH},
};

static const char *dir;

static const char *result(int r)
{
	static char buf[16];
	if (r >= 0)
		return "ok";
	switch (errno) {
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	}
	snprintf(buf, sizeof buf, "E%d", errno);
	return buf;
}

static void die(const char *what)
{
	perror(what);
	exit(2);
}

/* as runs op(node, arg) as a user in a child and returns its printed result. */
static void as(const struct who *w, const char *label, const char *node, int (*op)(const char *, int), int arg)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		char p[512];
		snprintf(p, sizeof p, "%s/%s", dir, node);
		if (setgroups(w->ngroups, w->groups) || setgid(w->gid) || setuid(w->uid))
			die("setuid");
		int r = op(p, arg);
		printf("%s %s %s\n", label, w->name, result(r));
		fflush(stdout);
		_exit(0);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("child");
}

static int do_open(const char *p, int flags)
{
	int fd = open(p, flags | O_NONBLOCK | O_NOCTTY);
	if (fd >= 0)
		close(fd);
	return fd;
}

static int do_chmod(const char *p, int mode) { return chmod(p, mode); }

static void setup(const char *node, mode_t mode, uid_t uid, gid_t gid)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, node);
	if (chown(p, uid, gid) || chmod(p, mode))
		die(p);
}

int main(int argc, char **argv)
{
	static const struct {
		mode_t mode;
		uid_t uid;
		gid_t gid;
	} setups[] = {
		{0600, 0, 0}, {0666, 0, 0}, {0660, 1001, 50}, {0604, 1001, 0}, {0640, 0, 50},
		{0000, 1001, 50}, {0060, 1001, 50}, {0006, 1001, 50}, {0620, 0, 50}, {0400, 1001, 50},
	};
	static const char *mem[] = {"null", "zero", "full"};
	if (argc != 2)
		return 2;
	dir = argv[1];
	for (size_t n = 0; n < sizeof mem / sizeof *mem; n++)
		for (size_t s = 0; s < sizeof setups / sizeof *setups; s++) {
			setup(mem[n], setups[s].mode, setups[s].uid, setups[s].gid);
			for (size_t o = 0; o < sizeof opens / sizeof *opens; o++)
				for (size_t w = 0; w < sizeof whos / sizeof *whos; w++) {
					char label[128];
					snprintf(label, sizeof label, "%s %04o %u:%u %s", mem[n], (unsigned)setups[s].mode,
						 (unsigned)setups[s].uid, (unsigned)setups[s].gid, opens[o].name);
					as(&whos[w], label, mem[n], do_open, opens[o].flags);
				}
		}
	/* an owner may chmod its node, nobody else; then the new mode holds */
	setup("zero", 0600, 1001, 50);
	as(&whos[3], "zero chmod-by-other", "zero", do_chmod, 0666);
	as(&whos[0], "zero chmod-by-owner", "zero", do_chmod, 0606);
	as(&whos[3], "zero after-chmod rdonly", "zero", do_open, O_RDONLY);
	for (size_t n = 0; n < sizeof mem / sizeof *mem; n++)
		setup(mem[n], 0666, 0, 0);

	/* devtmpfs's defaults */
	static const struct {
		const char *node;
		int flags;
	} defaults[] = {
		{"console", O_RDONLY}, {"console", O_WRONLY}, {"tty0", O_RDWR}, {"kmsg", O_WRONLY},
		{"null", O_RDWR},
	};
	for (size_t d = 0; d < sizeof defaults / sizeof *defaults; d++) {
		char label[64];
		snprintf(label, sizeof label, "default %s flags=%d", defaults[d].node, defaults[d].flags);
		as(&whos[3], label, defaults[d].node, do_open, defaults[d].flags);
	}
	return 0;
}
