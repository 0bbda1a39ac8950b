/* /proc's top level as a program sees it: mounts and net are symlinks to self/mounts and
 * self/net (readlink, lstat's type and size, getdents' d_type), self and thread-self links
 * to this process, the rest files and directories of the types Linux gives them. Only the
 * entries both sides have are looked at: the guest's /proc has fewer. */
#include "conform.h"

static const char *names[] = {"mounts", "net", "self", "thread-self", "sys", "cmdline", "cpuinfo",
	"filesystems", "loadavg", "meminfo", "partitions", "stat", "swaps", "uptime", "version"};
#define N (sizeof names / sizeof names[0])

static const char *typename(mode_t m)
{
	return S_ISLNK(m) ? "link" : S_ISDIR(m) ? "dir" : S_ISREG(m) ? "file" : "other";
}

static const char *dtype(unsigned char t)
{
	return t == DT_LNK ? "link" : t == DT_DIR ? "dir" : t == DT_REG ? "file" : "other";
}

/* samefile: the two files read the same (procfs files of one process at one moment) */
static int samefile(const char *a, const char *b)
{
	static char x[65536], y[65536];
	int fa = open(a, O_RDONLY), fb = open(b, O_RDONLY);
	ssize_t na = fa < 0 ? -1 : read(fa, x, sizeof x), nb = fb < 0 ? -1 : read(fb, y, sizeof y);
	if (fa >= 0)
		close(fa);
	if (fb >= 0)
		close(fb);
	return na > 0 && na == nb && memcmp(x, y, na) == 0;
}

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	char b[256], me[64];
	struct stat st;
	for (size_t i = 0; i < N; i++) {
		char p[64];
		snprintf(p, sizeof p, "/proc/%s", names[i]);
		if (lstat(p, &st) < 0) {
			say("lstat %s: %s\n", p, errname(errno));
			continue;
		}
		say("lstat %s: %s %o\n", p, typename(st.st_mode), st.st_mode & 07777);
		if (S_ISDIR(st.st_mode))
			say("size of %s: %lld\n", p, (long long)st.st_size);
		if (!S_ISLNK(st.st_mode))
			continue;
		ssize_t n = readlink(p, b, sizeof b - 1);
		if (n < 0) {
			say("readlink %s: %s\n", p, errname(errno));
			continue;
		}
		b[n] = 0;
		snprintf(me, sizeof me, "%d", getpid());
		if (strcmp(names[i], "self") == 0)
			say("readlink %s is this process: %s\n", p, yesno(strcmp(b, me) == 0));
		else if (strcmp(names[i], "thread-self") == 0)
			say("readlink %s is this thread: %s\n", p, yesno(strncmp(b, me, strlen(me)) == 0 && strstr(b, "/task/") != NULL));
		else
			say("readlink %s: %s, size %lld\n", p, b, (long long)st.st_size);
	}
	DIR *d = opendir("/proc");
	if (!d) {
		say("opendir /proc: %s\n", errname(errno));
		return 1;
	}
	const char *seen[N] = {0};
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		for (size_t i = 0; i < N; i++)
			if (strcmp(e->d_name, names[i]) == 0)
				seen[i] = dtype(e->d_type);
	closedir(d);
	for (size_t i = 0; i < N; i++)
		say("getdents /proc/%s: %s\n", names[i], seen[i] ? seen[i] : "missing");
	/* through the link, as Debian's /etc/mtab -> ../proc/self/mounts and mount(8) read it */
	FILE *f = fopen("/proc/mounts", "r");
	say("open /proc/mounts: %s\n", f ? "ok" : errname(errno));
	if (f) {
		say("its first line names a mount: %s\n", yesno(fgets(b, sizeof b, f) && strchr(b, ' ')));
		fclose(f);
	}
	say("/proc/mounts reads as /proc/self/mounts: %s\n", yesno(samefile("/proc/mounts", "/proc/self/mounts")));
	resfd("open /proc/mounts O_NOFOLLOW", open("/proc/mounts", O_RDONLY | O_NOFOLLOW), 0);
	resfd("open /proc/net O_NOFOLLOW", open("/proc/net", O_RDONLY | O_NOFOLLOW), 0);
	resfd("open /proc/net/dev", open("/proc/net/dev", O_RDONLY), 0);
	return 0;
}
