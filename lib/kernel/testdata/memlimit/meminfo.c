/* meminfo checks that /proc/meminfo and sysinfo follow what the guest does
 * (TestMeminfoFollowsGuest): a child that touches 40 MB of anonymous memory shows in
 * AnonPages and leaves MemFree and MemAvailable that much lower (by the child's own RssAnon,
 * as Linux accounts it), a 20 MB file in a tmpfs (argv[1]) shows in Shmem and Cached and in
 * sysinfo's sharedram, and both come back when the child ends and the file is removed. It
 * prints one yes/no line per check. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <unistd.h>

struct mi {
	long free, avail, anon, shmem, cached;
};

static long field(const char *file, const char *name)
{
	FILE *f = fopen(file, "r");
	char line[256];
	long v = -1;
	size_t n = strlen(name);
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, name, n) && line[n] == ':')
			v = atol(line + n + 1);
	fclose(f);
	return v;
}

static struct mi read_mi(void)
{
	struct mi m = {
		field("/proc/meminfo", "MemFree"), field("/proc/meminfo", "MemAvailable"),
		field("/proc/meminfo", "AnonPages"), field("/proc/meminfo", "Shmem"),
		field("/proc/meminfo", "Cached"),
	};
	return m;
}

/* near: a and b within 4 MB (what the shell and this program may change meanwhile) */
static const char *near(long a, long b) { return labs(a - b) <= 4096 ? "yes" : "no"; }

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	struct mi base = read_mi();
	int p[2];
	if (pipe(p))
		return 2;
	pid_t kid = fork();
	if (kid == 0) {
		volatile char *m = malloc(40 << 20);
		if (!m)
			_exit(2);
		for (int j = 0; j < 40 << 20; j += 4096)
			m[j] = 1;
		write(p[1], "r", 1);
		for (;;)
			pause();
	}
	char c;
	if (read(p[0], &c, 1) != 1)
		return 2;
	char status[64];
	snprintf(status, sizeof status, "/proc/%d/status", kid);
	long rss = field(status, "RssAnon");
	struct mi a = read_mi();
	printf("child RssAnon about 40 MB: %s\n", near(rss, 40 << 10));
	printf("AnonPages grew by it: %s\n", near(a.anon - base.anon, rss));
	printf("MemFree fell by it: %s\n", near(base.free - a.free, rss));
	printf("MemAvailable fell by it: %s\n", near(base.avail - a.avail, rss));

	char path[256];
	snprintf(path, sizeof path, "%s/f", argv[1]);
	FILE *f = fopen(path, "w");
	static char buf[1 << 20];
	memset(buf, 'x', sizeof buf);
	for (int i = 0; f && i < 20; i++)
		fwrite(buf, 1, sizeof buf, f);
	if (!f || fclose(f))
		return 2;
	struct mi b = read_mi();
	struct sysinfo si;
	sysinfo(&si);
	printf("Shmem grew by the tmpfs file: %s\n", near(b.shmem - a.shmem, 20 << 10));
	printf("Cached grew by it: %s\n", near(b.cached - a.cached, 20 << 10));
	printf("MemAvailable fell by it: %s\n", near(a.avail - b.avail, 20 << 10));
	printf("sysinfo sharedram is Shmem: %s\n", near((long)(si.sharedram * si.mem_unit / 1024), b.shmem));

	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
	unlink(path);
	struct mi e = read_mi();
	printf("all back: %s\n", strcmp(near(e.free, base.free), "yes") || strcmp(near(e.shmem, base.shmem), "yes") ||
				       strcmp(near(e.anon, base.anon), "yes") ? "no" : "yes");
	return 0;
}
