/* A noexec mount: exec of a program or a #! script on it is EACCES, and so is mapping one
 * of its files executable (EPERM); reading it is not refused. A remount without noexec runs
 * the same program; a bind of the mount starts noexec, as its source is. */
#include "conform.h"
#include <sys/mman.h>
#include <sys/mount.h>

/* copy copies this program to path, mode 0755. */
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

/* run runs path with the argument "child" and prints what the exec said. */
static void run(const char *label, const char *path)
{
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		execl(path, path, "child", (char *)NULL);
		printf("%s: %s\n", label, errname(errno));
		fflush(stdout);
		_exit(1);
	}
	int st;
	waitpid(p, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		printf("%s: ran\n", label);
}

static void mapx(const char *label, const char *path)
{
	int fd = open(path, O_RDONLY);
	void *m = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		printf("%s: %s\n", label, errname(errno));
	else {
		printf("%s: ok\n", label);
		munmap(m, 4096);
	}
	m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	printf("%s, read-only: %s\n", label, m == MAP_FAILED ? errname(errno) : "ok");
	if (m != MAP_FAILED)
		munmap(m, 4096); /* a mapping keeps the mount busy */
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "child"))
		return 0;
	conform_args(argc, argv);
	mkdir("m", 0755);
	mkdir("b", 0755);
	res("mount tmpfs noexec", mount("tmpfs", "m", "tmpfs", MS_NOEXEC, "size=1m"));
	copy("m/prog");
	mkfile("m/script", "#!/bin/sh\nexit 0\n", 0755);
	run("exec a program on noexec", "m/prog");
	run("exec a script on noexec", "m/script");
	mapx("mmap PROT_EXEC on noexec", "m/prog");
	pcontent("read the script", "m/script");
	res("access X_OK", access("m/prog", X_OK));
	res("bind the noexec mount", mount("m", "b", NULL, MS_BIND, NULL));
	run("exec through the bind", "b/prog");
	res("remount the bind exec", mount(NULL, "b", NULL, MS_REMOUNT | MS_BIND, NULL));
	run("exec through the remounted bind", "b/prog");
	run("exec on the source, still noexec", "m/prog");
	res("umount the bind", umount("b"));
	res("remount without noexec", mount(NULL, "m", NULL, MS_REMOUNT, "size=1m"));
	run("exec after the remount", "m/prog");
	mapx("mmap PROT_EXEC after the remount", "m/prog");
	res("remount noexec again", mount(NULL, "m", NULL, MS_REMOUNT | MS_NOEXEC, "size=1m"));
	run("exec after noexec again", "m/prog");
	res("umount", umount("m"));
	return 0;
}
