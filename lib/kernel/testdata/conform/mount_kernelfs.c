/* procfs, sysfs and devtmpfs mounted at another directory (a chroot's /proc, as debootstrap
 * makes it): the same files as /proc, /sys and /dev, the mount's own flags in mountinfo and
 * /proc/mounts, and umount giving the directory back.
 * conform: needs host root (mounting devtmpfs) */
#include "conform.h"
#include <sys/mount.h>
#include <sys/statfs.h>

static void pline(const char *label, const char *name)
{
	char cwd[PATH_MAX], want[PATH_MAX + 64], line[1024];
	getcwd(cwd, sizeof cwd);
	snprintf(want, sizeof want, "%s/%s", cwd, name);
	FILE *f = fopen("/proc/self/mountinfo", "r");
	int found = 0;
	while (f && fgets(line, sizeof line, f)) {
		char root[PATH_MAX], at[PATH_MAX], opts[256], type[64], src[64], super[256];
		char *dash = strstr(line, " - ");
		if (!dash || sscanf(line, "%*d %*d %*s %s %s %255s", root, at, opts) != 3 || strcmp(at, want))
			continue;
		if (sscanf(dash + 3, "%63s %63s %255s", type, src, super) != 3)
			continue;
		super[2] = 0; /* rw or ro: the rest is the file system's size and the like */
		printf("%s mountinfo: %s %s - %s %s %s\n", label, root, opts, type, src, super);
		found = 1;
	}
	if (f)
		fclose(f);
	if (!found)
		printf("%s mountinfo: none\n", label);
}

static void ptype(const char *label, const char *path)
{
	struct statfs s;
	if (statfs(path, &s) < 0)
		printf("%s: %s\n", label, errname(errno));
	else
		printf("%s: type %#lx\n", label, (unsigned long)s.f_type);
}

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkdir("p", 0755);
	mkdir("s", 0755);
	mkdir("d", 0755);
	mkfile("file", "", 0644);
	res("mount proc", mount("proc", "p", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL));
	ptype("statfs p", "p");
	ptype("statfs p/self/status", "p/self/status");
	char buf[64] = {0};
	ssize_t n = readlink("p/self", buf, sizeof buf - 1);
	say("p/self is our pid: %s\n", yesno(n > 0 && atoi(buf) == getpid()));
	pcontent("p/sys/kernel/ostype", "p/sys/kernel/ostype");
	FILE *f = fopen("p/self/status", "r");
	char line[256] = "";
	if (f) {
		fgets(line, sizeof line, f);
		fclose(f);
	}
	say("first status line: %s", line[0] ? line : "none\n");
	pline("proc", "p");
	res("mount sysfs", mount("sysfs", "s", "sysfs", 0, NULL));
	ptype("statfs s", "s");
	pstat("s/kernel", "s/kernel");
	pline("sysfs", "s");
	res("mount devtmpfs", mount("devtmpfs", "d", "devtmpfs", MS_NOSUID, NULL));
	pstat("d/null", "d/null");
	pstat("d/zero", "d/zero");
	int fd = open("d/zero", O_RDONLY);
	char c = 1;
	resv("read d/zero", fd < 0 ? -1 : read(fd, &c, 1));
	say("byte: %d\n", c);
	if (fd >= 0)
		close(fd);
	pline("devtmpfs", "d");
	res("mount proc on a file", mount("proc", "file", "proc", 0, NULL));
	res("mount proc on a missing directory", mount("proc", "missing", "proc", 0, NULL));
	res("umount p", umount("p"));
	res("umount s", umount("s"));
	res("umount d", umount("d"));
	plstat("p/self after umount", "p/self");
	pcount("p after umount", "p");
	pcount("s after umount", "s");
	pline("after umount", "p");
	res("umount p again", umount("p"));
	return 0;
}
