/* Reopening through /proc/self/fd as an ordinary user: the file's mode decides, as for an
 * open by name (root's 0644 file reopens read-only only; the user's own 0400 file cannot
 * be reopened for writing either).
 * conform: needs host root (it becomes uid 1000) */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	chmod(".", 0755);
	mkfile("roots", "r\n", 0644);
	mkfile("mine", "m\n", 0400);
	chown("mine", 1000, 1000);
	if (setgroups(0, NULL) < 0 || setgid(1000) < 0 || setuid(1000) < 0) {
		say("becoming 1000: %s\n", errname(errno));
		return 1;
	}
	char p[64];
	int fd = open("roots", O_RDONLY);
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	resfd("reopen root's file O_RDONLY", open(p, O_RDONLY), 0);
	resfd("reopen root's file O_RDWR", open(p, O_RDWR), 0);
	resfd("reopen root's file O_WRONLY|O_TRUNC", open(p, O_WRONLY | O_TRUNC), 0);
	close(fd);
	fd = open("mine", O_RDONLY);
	snprintf(p, sizeof p, "/dev/fd/%d", fd);
	resfd("reopen own 0400 file O_RDWR", open(p, O_RDWR), 0);
	pcontent("root's file", "roots");
	return 0;
}
