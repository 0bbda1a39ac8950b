/* statfs per file system type and mount flags: a tmpfs mounted nosuid,nodev,noexec with a
 * size, through statfs, fstatfs and statvfs; its lines in /proc/self/mountinfo and
 * /proc/mounts; a read-only remount and a bind of it; and /proc, /sys and /dev/pts. */
#include "conform.h"
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>

static void pfs(const char *label, int r, const struct statfs *s)
{
	if (r < 0) {
		printf("%s: %s\n", label, errname(errno));
		return;
	}
	printf("%s: type %#lx bsize %ld blocks %lu free %s namelen %ld flags %#lx\n", label, (unsigned long)s->f_type,
	       (long)s->f_bsize, (unsigned long)s->f_blocks, yesno(s->f_bfree == s->f_blocks), (long)s->f_namelen,
	       (unsigned long)s->f_flags);
}

static void pstatfs(const char *label, const char *path)
{
	struct statfs s;
	int r = statfs(path, &s);
	pfs(label, r, &s);
}

/* pkstatfs is pstatfs without the flags. */
static void pkstatfs(const char *label, const char *path)
{
	struct statfs s;
	int r = statfs(path, &s);
	s.f_flags = 0;
	pfs(label, r, &s);
}

/* pmount prints the mountinfo and /proc/mounts fields of the mount at <cwd>/name that do
 * not depend on the machine: the per-mount options, the type, the file system's rw/ro, and
 * /proc/mounts's options up to relatime. */
static void pmount(const char *label, const char *name)
{
	char cwd[PATH_MAX], want[PATH_MAX + 64], line[1024];
	getcwd(cwd, sizeof cwd);
	snprintf(want, sizeof want, "%s/%s", cwd, name);
	FILE *f = fopen("/proc/self/mountinfo", "r");
	int found = 0;
	while (f && fgets(line, sizeof line, f)) {
		char at[PATH_MAX], opts[256], type[64], super[256];
		char *dash = strstr(line, " - ");
		if (!dash || sscanf(line, "%*d %*d %*s %*s %s %255s", at, opts) != 2 || strcmp(at, want))
			continue;
		if (sscanf(dash + 3, "%63s %*s %255s", type, super) != 2)
			continue;
		super[2] = 0;
		printf("%s mountinfo: %s - %s %s\n", label, opts, type, super);
		found = 1;
	}
	if (f)
		fclose(f);
	if (!found)
		printf("%s mountinfo: none\n", label);
	f = fopen("/proc/mounts", "r");
	found = 0;
	while (f && fgets(line, sizeof line, f)) {
		char at[PATH_MAX], type[64], opts[256];
		if (sscanf(line, "%*s %s %63s %255s", at, type, opts) != 3 || strcmp(at, want))
			continue;
		char *rel = strstr(opts, "relatime");
		if (rel)
			rel[8] = 0;
		printf("%s mounts: %s %s\n", label, type, opts);
		found = 1;
	}
	if (f)
		fclose(f);
	if (!found)
		printf("%s mounts: none\n", label);
}

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkdir("m", 0755);
	mkdir("b", 0755);
	res("mount tmpfs", mount("tmpfs", "m", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=1m"));
	pstatfs("statfs", "m");
	mkfile("m/f", "", 0644);
	int fd = open("m/f", O_RDONLY);
	struct statfs s;
	int r = fstatfs(fd, &s);
	pfs("fstatfs of a file", r, &s);
	close(fd);
	fd = open("m", O_PATH);
	r = fstatfs(fd, &s);
	pfs("fstatfs of an O_PATH fd", r, &s);
	close(fd);
	struct statvfs v;
	res("statvfs", statvfs("m", &v));
	say("statvfs flag %#lx, frsize %lu\n", v.f_flag, v.f_frsize);
	pmount("tmpfs", "m");
	res("remount read-only", mount(NULL, "m", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID, "size=1m"));
	pstatfs("statfs read-only", "m");
	pmount("read-only", "m");
	res("remount read-write", mount(NULL, "m", NULL, MS_REMOUNT, "size=2m"));
	pstatfs("statfs after remount", "m");
	pmount("after remount", "m");
	res("bind", mount("m", "b", NULL, MS_BIND, NULL));
	pstatfs("statfs of the bind", "b");
	res("remount the bind ro,nodev", mount(NULL, "b", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NODEV, NULL));
	pstatfs("statfs of the bind", "b");
	pstatfs("statfs of its source", "m");
	pmount("bind", "b");
	res("umount the bind", umount("b"));
	res("umount", umount("m"));
	pmount("after umount", "m");
	/* the kernel's own: their flags are the host's mount options natively */
	pkstatfs("/proc", "/proc");
	pkstatfs("/proc/self/status", "/proc/self/status");
	fd = open("/proc/meminfo", O_RDONLY);
	r = fstatfs(fd, &s);
	s.f_flags = 0;
	pfs("fstatfs /proc/meminfo", r, &s);
	close(fd);
	pkstatfs("/sys", "/sys");
	pkstatfs("/sys/kernel", "/sys/kernel");
	pkstatfs("/dev/pts", "/dev/pts");
	fd = open("/dev/pts/ptmx", O_RDONLY | O_NOCTTY);
	r = fstatfs(fd, &s);
	s.f_flags = 0;
	pfs("fstatfs /dev/pts/ptmx", r, &s);
	close(fd);
	return 0;
}
