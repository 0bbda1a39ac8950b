/* Symlinks into /proc and /dev and ".." out of them (the regression case): Debian's
 * /etc/mtab -> ../proc/self/mounts (a link climbing to / and into /proc from the scratch
 * directory), /proc/../etc, /dev/../etc, a link to /proc/self. */
#include "conform.h"

static int haslinefor(const char *path, const char *mnt)
{
	char line[1024], a[512], b[512];
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int found = 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "%511s %511s", a, b) == 2 && strcmp(b, mnt) == 0)
			found = 1;
	fclose(f);
	return found;
}

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	char b[256] = {0};
	struct stat st;
	/* Debian's /etc/mtab, made here: the root's own /etc may have it or not (a fresh
	 * minbase tree has none), so the link climbs from this directory to / instead */
	char cwd[4096], rel[4096] = "";
	if (getcwd(cwd, sizeof cwd)) {
		for (char *c = cwd; *c; c++)
			if (*c == '/' && c[1])
				strcat(rel, "../");
	}
	strcat(rel, "proc/self/mounts");
	symlink(rel, "etcmtab");
	lstat("etcmtab", &st);
	say("mtab-like link is a symlink: %s\n", yesno(S_ISLNK(st.st_mode)));
	resfd("open mtab-like link", open("etcmtab", O_RDONLY), 0);
	say("mtab-like link has a line for /: %s\n", yesno(haslinefor("etcmtab", "/") == 1));
	symlink("../proc/self/mounts", "mtab");
	say("relative link to ../proc/self/mounts from here: %s\n", yesno(haslinefor("mtab", "/") == 1));
	say("/proc/self/mounts has a line for /: %s\n", yesno(haslinefor("/proc/self/mounts", "/") == 1));
	say("/proc/../etc/passwd is /etc/passwd: %s\n", yesno(sameino("/proc/../etc/passwd", "/etc/passwd")));
	say("/proc/self/../../etc/passwd is /etc/passwd: %s\n", yesno(sameino("/proc/self/../../etc/passwd", "/etc/passwd")));
	say("/proc/self/.. is /proc: %s\n", yesno(sameino("/proc/self/..", "/proc")));
	say("/dev/../etc is /etc: %s\n", yesno(sameino("/dev/../etc", "/etc")));
	say("/dev/.. is /: %s\n", yesno(sameino("/dev/..", "/")));
	say("/proc/.. is /: %s\n", yesno(sameino("/proc/..", "/")));
	resfd("open /dev/../etc/passwd", open("/dev/../etc/passwd", O_RDONLY), 0);
	resfd("open /proc/../etc/passwd", open("/proc/../etc/passwd", O_RDONLY), 0);
	symlink("/proc/self", "x");
	pstat("x (-> /proc/self)", "x");
	resfd("open x/status", open("x/status", O_RDONLY), 0);
	say("x/.. is /proc: %s\n", yesno(sameino("x/..", "/proc")));
	say("x/../../etc is /etc: %s\n", yesno(sameino("x/../../etc", "/etc")));
	memset(b, 0, sizeof b);
	readlink("x/exe", b, sizeof b);
	say("x/exe is this program: %s\n", yesno(sameino("x/exe", "/proc/self/exe")));
	symlink("/proc", "p");
	say("p/self/.. is /proc: %s\n", yesno(sameino("p/self/..", "/proc")));
	symlink("/dev", "dv");
	resfd("open dv/null", open("dv/null", O_WRONLY), 0);
	say("dv/../etc is /etc: %s\n", yesno(sameino("dv/../etc", "/etc")));
	symlink("/dev/null", "n");
	say("n is /dev/null: %s\n", yesno(sameino("n", "/dev/null")));
	say("/dev/fd/.. is /proc/self: %s\n", yesno(sameino("/dev/fd/..", "/proc/self")));
	resfd("open /dev/fd/../status", open("/dev/fd/../status", O_RDONLY), 0);
	resfd("open /dev/stdin/../x (through a pipe or file)", open("/dev/stdin/../x", O_RDONLY), 0);
	say("/proc/self/cwd/.. is ..: %s\n", yesno(sameino("/proc/self/cwd/..", "..")));
	say("/proc/self/root/etc is /etc: %s\n", yesno(sameino("/proc/self/root/etc", "/etc")));
	int fd = open("/proc", O_RDONLY | O_DIRECTORY);
	say("openat(/proc fd, ../etc) is /etc: %s\n", yesno(({ struct stat a, e; fstatat(fd, "../etc", &a, 0) == 0 && stat("/etc", &e) == 0 && a.st_ino == e.st_ino; })));
	close(fd);
	fd = open("/dev", O_RDONLY | O_DIRECTORY);
	resfd("openat(/dev fd, ../etc/passwd)", openat(fd, "../etc/passwd", O_RDONLY), 0);
	close(fd);
	return 0;
}
