/* A trailing slash after a file of the kernel's /proc that is no directory: ENOTDIR, as for
 * any other file; after a directory (or a link to one) it changes nothing. */
#include "conform.h"

static void slash(const char *p)
{
	struct stat st;
	char lbl[128], b[64];
	int r = stat(p, &st);
	say("stat %s: %s\n", p, r < 0 ? errname(errno) : ftype(st.st_mode));
	r = lstat(p, &st);
	say("lstat %s: %s\n", p, r < 0 ? errname(errno) : ftype(st.st_mode));
	snprintf(lbl, sizeof lbl, "access %s", p);
	res(lbl, access(p, F_OK));
	snprintf(lbl, sizeof lbl, "open %s", p);
	resfd(lbl, open(p, O_RDONLY), 0);
	snprintf(lbl, sizeof lbl, "open O_PATH %s", p);
	resfd(lbl, open(p, O_PATH), 0);
	snprintf(lbl, sizeof lbl, "readlink %s", p);
	res(lbl, readlink(p, b, sizeof b) < 0 ? -1 : 0);
}

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	slash("/proc/cpuinfo/");
	slash("/proc/version/");
	slash("/proc/self/status/");
	slash("/proc/sys/kernel/ostype/");
	slash("/proc/self/exe/");
	slash("/proc/self/cwd/");
	slash("/proc/self/");
	slash("/proc/sys/");
	slash("/proc/cpuinfo//");
	return 0;
}
