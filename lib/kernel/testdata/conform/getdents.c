/* getdents64: the listing (sorted here), d_type, ".", "..", rewinding, changes. */
#include "conform.h"

static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

static void list(const char *label, int fd)
{
	char buf[4096];
	char *names[64];
	int n = 0;
	long r;
	while ((r = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
		for (long off = 0; off < r;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			const char *t = d->d_type == DT_DIR ? "dir" : d->d_type == DT_REG ? "reg" : d->d_type == DT_LNK ? "lnk" : d->d_type == DT_FIFO ? "fifo" : d->d_type == DT_SOCK ? "sock" : d->d_type == DT_UNKNOWN ? "unknown" : "other";
			if (n < 64)
				asprintf(&names[n++], "%s(%s)", d->d_name, t);
			off += d->d_reclen;
		}
	}
	if (r < 0)
		say("%s: %s\n", label, errname(errno));
	qsort(names, n, sizeof names[0], cmp);
	say("%s:", label);
	for (int i = 0; i < n; i++)
		say(" %s", names[i]);
	say("\n");
}

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkdir("d", 0755);
	mkfile("d/b", "", 0644);
	mkfile("d/a", "", 0644);
	mkdir("d/sub", 0755);
	symlink("a", "d/link");
	mkfifo("d/fifo", 0644);
	int fd = open("d", O_RDONLY | O_DIRECTORY);
	list("listing", fd);
	list("at end", fd);
	lseek(fd, 0, SEEK_SET);
	list("rewound", fd);
	unlink("d/b");
	mkfile("d/c", "", 0644);
	lseek(fd, 0, SEEK_SET);
	list("after changes", fd);
	close(fd);
	int f = open("d/a", O_RDONLY);
	char buf[256];
	res("getdents64 on a file", syscall(SYS_getdents64, f, buf, sizeof buf));
	close(f);
	fd = open("d", O_RDONLY);
	res("getdents64 tiny buffer", syscall(SYS_getdents64, fd, buf, 8));
	res("getdents64 bad fd", syscall(SYS_getdents64, 99, buf, sizeof buf));
	close(fd);
	mkdir("empty", 0755);
	fd = open("empty", O_RDONLY);
	list("empty dir", fd);
	rmdir("empty");
	lseek(fd, 0, SEEK_SET);
	list("removed dir", fd);
	close(fd);
	DIR *dp = opendir("d");
	int n = 0;
	while (readdir(dp))
		n++;
	closedir(dp);
	say("readdir count: %d\n", n);
	return 0;
}
