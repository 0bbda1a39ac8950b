/* Pseudo-terminals: posix_openpt, grantpt, unlockpt, ptsname, the slave's node, ttyname,
 * the line discipline both ways, TIOCGPTPEER, packet mode, window size, a locked slave,
 * /dev/pts's listing, and a session leader's open of its slave making it its controlling
 * terminal. Numbers are not printed: the guest's ptys are its own. Modes and groups of the
 * slaves depend on the options devpts is mounted with, so they are not printed either. */
#include "conform.h"
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>

/* readall reads what a pty has now (up to n bytes, waiting up to 2 s for the first). */
/* readsome reads what arrives, up to a line's end: a pty's output can reach the master in
 * pieces (with ONLCR, "out" and then "\r\n"), natively too on a busy machine. */
static int readsome(int fd, char *b, int n)
{
	struct pollfd p = {fd, POLLIN, 0};
	if (poll(&p, 1, 2000) <= 0)
		return -1;
	int got = 0;
	for (;;) {
		int r = read(fd, b + got, n - got);
		if (r <= 0)
			return got ? got : r;
		got += r;
		if (b[got - 1] == '\n' || got == n || poll(&p, 1, 300) <= 0)
			return got;
	}
}

static void show(const char *label, const char *b, int n)
{
	printf("%s: ", label);
	if (n < 0) {
		printf("%s\n", errname(errno));
		return;
	}
	for (int i = 0; i < n; i++) {
		if (b[i] >= 32 && b[i] < 127)
			putchar(b[i]);
		else
			printf("\\%03o", (unsigned char)b[i]);
	}
	putchar('\n');
}

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	struct stat st;
	int r = stat("/dev/ptmx", &st);
	if (r == 0)
		say("/dev/ptmx: %s %d:%d mode=%04o\n", ftype(st.st_mode), major(st.st_rdev), minor(st.st_rdev), st.st_mode & 07777);
	else
		res("/dev/ptmx", r);
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (res("posix_openpt", m) < 0)
		return 1;
	res("grantpt", grantpt(m));
	res("unlockpt", unlockpt(m));
	char name[64];
	res("ptsname_r", ptsname_r(m, name, sizeof name));
	say("ptsname under /dev/pts/: %s\n", yesno(strncmp(name, "/dev/pts/", 9) == 0));
	int n = -1;
	res("TIOCGPTN", ioctl(m, TIOCGPTN, &n));
	r = stat(name, &st);
	res("stat slave", r);
	say("slave is chr 136:N: %s\n", yesno(S_ISCHR(st.st_mode) && major(st.st_rdev) == 136 && (int)minor(st.st_rdev) == n));
	say("slave owner is me: %s\n", yesno(st.st_uid == getuid()));
	int s = open(name, O_RDWR | O_NOCTTY);
	if (res("open slave", s) < 0)
		return 1;
	say("isatty slave: %s master: %s\n", yesno(isatty(s)), yesno(isatty(m)));
	char *tn = ttyname(s);
	say("ttyname is ptsname: %s\n", yesno(tn && strcmp(tn, name) == 0));
	struct stat a, b;
	fstat(s, &a);
	stat(name, &b);
	say("fstat and stat agree: %s\n", yesno(a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_rdev == b.st_rdev));

	char buf[256];
	write(m, "hello\n", 6);
	show("slave reads", buf, readsome(s, buf, sizeof buf));
	show("master reads the echo", buf, readsome(m, buf, sizeof buf));
	write(s, "out\n", 4);
	show("master reads (ONLCR)", buf, readsome(m, buf, sizeof buf));

	struct termios t;
	res("tcgetattr", tcgetattr(s, &t));
	cfmakeraw(&t);
	res("tcsetattr raw", tcsetattr(s, TCSANOW, &t));
	write(m, "x\003y", 3);
	show("raw slave reads", buf, readsome(s, buf, sizeof buf));

	struct winsize ws = {.ws_row = 33, .ws_col = 77};
	res("TIOCSWINSZ on master", ioctl(m, TIOCSWINSZ, &ws));
	memset(&ws, 0, sizeof ws);
	res("TIOCGWINSZ on slave", ioctl(s, TIOCGWINSZ, &ws));
	say("size: %d %d\n", ws.ws_row, ws.ws_col);

	int p = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	res("TIOCGPTPEER", p);
	if (p >= 0) {
		fstat(p, &b);
		say("peer is the slave: %s\n", yesno(a.st_rdev == b.st_rdev));
		tn = ttyname(p);
		say("peer's ttyname: %s\n", yesno(tn && strcmp(tn, name) == 0));
		close(p);
	}
	res("TIOCGPTPEER on the slave", ioctl(s, TIOCGPTPEER, O_RDWR));

	int one = 1;
	res("TIOCPKT", ioctl(m, TIOCPKT, &one));
	write(s, "ab", 2);
	show("packet", buf, readsome(m, buf, sizeof buf));
	res("tcflush slave", tcflush(s, TCIFLUSH));
	show("flush packet", buf, readsome(m, buf, sizeof buf));
	int pk = -1;
	res("TIOCGPKT", ioctl(m, TIOCGPKT, &pk));
	say("packet mode: %d\n", pk);

	/* a second pty, locked */
	int m2 = posix_openpt(O_RDWR | O_NOCTTY);
	char name2[64];
	ptsname_r(m2, name2, sizeof name2);
	say("second differs: %s\n", yesno(strcmp(name, name2) != 0));
	res("open locked slave", open(name2, O_RDWR | O_NOCTTY));
	int n2 = -1;
	ioctl(m2, TIOCGPTN, &n2);
	DIR *d = opendir("/dev/pts");
	int seen = 0, ptmx = 0;
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (strcmp(e->d_name, "ptmx") == 0)
				ptmx = 1;
			else if (e->d_name[0] != '.' && (atoi(e->d_name) == n || atoi(e->d_name) == n2))
				seen++;
		}
		closedir(d);
	}
	say("/dev/pts lists ptmx: %s, both: %s\n", yesno(ptmx), yesno(seen == 2));
	close(m2);

	/* a new session's leader opens the slave without O_NOCTTY: its controlling terminal */
	pid_t c = fork();
	if (c == 0) {
		setsid();
		int f = open(name, O_RDWR);
		if (f < 0) {
			printf("child open: %s\n", errname(errno));
			_exit(1);
		}
		printf("child ctty: %s\n", yesno(tcgetsid(f) == getpid()));
		int tty = open("/dev/tty", O_RDWR);
		printf("child /dev/tty: %s\n", tty >= 0 ? "ok" : errname(errno));
		write(tty, "via-tty\n", 8);
		_exit(0);
	}
	int status;
	waitpid(c, &status, 0);
	say("child exit: %d\n", WEXITSTATUS(status));
	show("what the child wrote to /dev/tty", buf, readsome(m, buf, sizeof buf));

	close(s);
	write(m, "", 0);
	/* every slave fd closed: the master reads EIO (after the packet-mode flush) */
	one = 0;
	ioctl(m, TIOCPKT, &one);
	r = readsome(m, buf, sizeof buf);
	say("master after the slave closed: %s\n", r < 0 ? errname(errno) : "data");
	close(m);
	return 0;
}
