/* Read-only has two levels on Linux: a mount's own flag and its file system's. A bind of a
 * read-only file system stays read-only however the bind is remounted (mount -o
 * remount,bind,rw), and a remount of the file system makes every bind of it read-only or
 * writable again; /proc/self/mounts shows the combination. (Without it, a bind of a
 * directory of a read-only hostfs mount remounted rw wrote into the host's directory.) */
#include "conform.h"
#include <sys/mount.h>

static void try_create(const char *label, const char *p)
{
	int fd = open(p, O_CREAT | O_WRONLY, 0644);
	res(label, fd);
	if (fd >= 0) {
		close(fd);
		unlink(p);
	}
}

/* mounts_says prints whether /proc/self/mounts shows the mount at dir read-only */
static void mounts_says(const char *label, const char *dir)
{
	char line[1024], d[512], o[512];
	const char *mode = "missing";
	FILE *f = fopen("/proc/self/mounts", "r");
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "%*s %511s %*s %511s", d, o) == 2 && strcmp(d, dir) == 0)
			mode = strncmp(o, "ro", 2) == 0 && (o[2] == ',' || o[2] == 0) ? "ro" : "rw";
	if (f)
		fclose(f);
	say("%s: %s\n", label, mode);
}

/* mountinfo_says prints the mount's own flag and its file system's, as mountinfo shows them */
static void mountinfo_says(const char *label, const char *dir)
{
	char line[2048], d[512], o[512], so[512];
	const char *own = "missing", *super = "missing";
	FILE *f = fopen("/proc/self/mountinfo", "r");
	while (f && fgets(line, sizeof line, f)) {
		char *dash = strstr(line, " - ");
		if (!dash || sscanf(line, "%*s %*s %*s %*s %511s %511s", d, o) != 2 || strcmp(d, dir) != 0)
			continue;
		if (sscanf(dash, " - %*s %*s %511s", so) != 1)
			continue;
		own = strncmp(o, "ro", 2) == 0 ? "ro" : "rw";
		super = strncmp(so, "ro", 2) == 0 ? "ro" : "rw";
	}
	if (f)
		fclose(f);
	say("%s: mount %s, file system %s\n", label, own, super);
}

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	char cwd[PATH_MAX], t[PATH_MAX + 8], b[PATH_MAX + 8], c[PATH_MAX + 8];
	if (!getcwd(cwd, sizeof cwd))
		return 1;
	snprintf(t, sizeof t, "%s/t", cwd);
	snprintf(b, sizeof b, "%s/b", cwd);
	snprintf(c, sizeof c, "%s/c", cwd);
	mkdir(t, 0755);
	mkdir(b, 0755);
	mkdir(c, 0755);

	/* a file system mounted read-only, bound, the bind remounted read-write */
	res("mount a tmpfs read-only", mount("tmpfs", t, "tmpfs", MS_RDONLY, "size=1m"));
	try_create("create in it", "t/f");
	res("bind it", mount(t, b, NULL, MS_BIND, NULL));
	try_create("create through the bind", "b/f");
	res("remount the bind read-write", mount(NULL, b, NULL, MS_REMOUNT | MS_BIND, NULL));
	try_create("create through the read-write bind", "b/f");
	res("mkdir through the read-write bind", mkdir("b/d", 0755));
	mounts_says("/proc/self/mounts shows the bind", b);
	mountinfo_says("mountinfo shows the bind", b);
	res("umount the bind", umount(b));

	/* a writable file system and a bind of it: remounting the file system read-only
	 * reaches the bind, and read-write again too */
	res("remount the tmpfs read-write", mount(NULL, t, NULL, MS_REMOUNT, "size=1m"));
	res("mkdir t/d", mkdir("t/d", 0755));
	res("bind t/d", mount("t/d", b, NULL, MS_BIND, NULL));
	try_create("create through the bind of t/d", "b/f");
	res("remount the tmpfs read-only", mount(NULL, t, NULL, MS_REMOUNT | MS_RDONLY, "size=1m"));
	try_create("create through the bind after", "b/f");
	mounts_says("/proc/self/mounts shows the bind of t/d", b);
	mountinfo_says("mountinfo shows the bind of t/d", b);
	mountinfo_says("mountinfo shows the tmpfs", t);
	res("bind the bind", mount(b, c, NULL, MS_BIND, NULL));
	res("remount the second bind read-write", mount(NULL, c, NULL, MS_REMOUNT | MS_BIND, NULL));
	try_create("create through the second bind", "c/f");
	res("remount the tmpfs read-write again", mount(NULL, t, NULL, MS_REMOUNT, "size=1m"));
	try_create("create through the bind again", "b/f");
	try_create("create through the second bind again", "c/f");
	/* a bind made read-only by its own flag stays so when the file system becomes writable */
	res("remount the second bind read-only", mount(NULL, c, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL));
	res("remount the tmpfs read-only once more", mount(NULL, t, NULL, MS_REMOUNT | MS_RDONLY, "size=1m"));
	res("and read-write", mount(NULL, t, NULL, MS_REMOUNT, "size=1m"));
	try_create("create through the read-only second bind", "c/f");
	try_create("create through the first bind", "b/f");
	res("umount c", umount(c));
	res("umount b", umount(b));
	res("umount t", umount(t));
	return 0;
}
