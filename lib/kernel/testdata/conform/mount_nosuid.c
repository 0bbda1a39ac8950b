/* A nosuid mount: a set-user-ID program on it runs with its caller's ids; the same program
 * on a mount without nosuid runs as its owner. The bits themselves still show in stat.
 * conform: needs host root (a set-uid file run by uid 1000) */
#include "conform.h"
#include <sys/mount.h>

static void copy(const char *path)
{
	char buf[65536];
	int in = open("/proc/self/exe", O_RDONLY), out = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0755);
	ssize_t n;
	if (in < 0 || out < 0) {
		printf("setup copy: %s\n", errname(errno));
		return;
	}
	while ((n = read(in, buf, sizeof buf)) > 0)
		write(out, buf, n);
	close(in);
	close(out);
}

/* run runs path as uid/gid 1000 and prints the ids it ran with. */
static void run(const char *label, const char *path)
{
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		if (setgid(1000) < 0 || setuid(1000) < 0) {
			printf("%s: setuid %s\n", label, errname(errno));
			fflush(stdout);
			_exit(1);
		}
		execl(path, path, "child", label, (char *)NULL);
		printf("%s: %s\n", label, errname(errno));
		fflush(stdout);
		_exit(1);
	}
	int st;
	waitpid(p, &st, 0);
}

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "child")) {
		printf("%s: uid %d euid %d gid %d egid %d\n", argv[2], getuid(), geteuid(), getgid(), getegid());
		return 0;
	}
	conform_args(argc, argv);
	chmod(".", 0755);
	mkdir("m", 0755);
	mkdir("s", 0755);
	res("mount tmpfs nosuid", mount("tmpfs", "m", "tmpfs", MS_NOSUID, "size=4m"));
	res("mount tmpfs", mount("tmpfs", "s", "tmpfs", 0, "size=4m"));
	chmod("m", 0755);
	chmod("s", 0755);
	copy("m/prog");
	copy("s/prog");
	res("chmod 06755 on nosuid", chmod("m/prog", 06755));
	res("chmod 06755", chmod("s/prog", 06755));
	pstat("on nosuid", "m/prog");
	run("run set-id on nosuid", "m/prog");
	run("run set-id", "s/prog");
	res("remount nosuid", mount(NULL, "s", NULL, MS_REMOUNT | MS_NOSUID, "size=4m"));
	run("run set-id after remount nosuid", "s/prog");
	res("remount without nosuid", mount(NULL, "m", NULL, MS_REMOUNT, "size=4m"));
	run("run set-id after remount without nosuid", "m/prog");
	res("umount", umount("m"));
	res("umount", umount("s"));
	return 0;
}
