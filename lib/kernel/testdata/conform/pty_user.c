/* Pseudo-terminals as an ordinary user (uid/gid 1000): its own pty's slave opens (grantpt
 * gives it to the user), a slave root opened and left 0620 root's does not, /dev/null
 * opens.
 * conform: needs host root (it becomes uid 1000) */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	int rm = posix_openpt(O_RDWR | O_NOCTTY);
	res("root: openpt", rm >= 0 ? 0 : -1);
	res("root: grantpt", grantpt(rm));
	res("root: unlockpt", unlockpt(rm));
	char rootslave[64];
	snprintf(rootslave, sizeof rootslave, "%s", ptsname(rm));
	if (setgroups(0, NULL) < 0 || setgid(1000) < 0 || setuid(1000) < 0) {
		say("becoming 1000: %s\n", errname(errno));
		return 1;
	}
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	res("user: openpt", m >= 0 ? 0 : -1);
	res("user: grantpt", grantpt(m));
	res("user: unlockpt", unlockpt(m));
	int s = open(ptsname(m), O_RDWR | O_NOCTTY);
	resfd("user: open own slave", s, 0);
	resfd("user: open root's slave", open(rootslave, O_RDWR | O_NOCTTY), 0);
	resfd("user: open /dev/null", open("/dev/null", O_RDWR), 0);
	return 0;
}
