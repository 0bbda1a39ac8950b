/* A nodev mount: a device node on it is made and stats as one, but opening it is EACCES
 * (O_PATH is not an open of the device); on a mount without nodev it opens the device.
 * conform: needs host root (mknod of a character device) */
#include "conform.h"
#include <sys/mount.h>

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkdir("m", 0755);
	mkdir("b", 0755);
	res("mount tmpfs nodev", mount("tmpfs", "m", "tmpfs", MS_NODEV, "size=1m"));
	res("mknod null on nodev", mknod("m/null", S_IFCHR | 0666, makedev(1, 3)));
	pstat("stat", "m/null");
	resfd("open it", open("m/null", O_RDONLY), 0);
	resfd("open it for writing", open("m/null", O_WRONLY), 0);
	resfd("open it O_PATH", open("m/null", O_PATH), 0);
	res("mknod zero on nodev", mknod("m/zero", S_IFCHR | 0666, makedev(1, 5)));
	res("bind the nodev mount", mount("m", "b", NULL, MS_BIND, NULL));
	resfd("open through the bind", open("b/null", O_RDONLY), 0);
	res("remount the bind with devices", mount(NULL, "b", NULL, MS_REMOUNT | MS_BIND, NULL));
	int fd = open("b/zero", O_RDONLY);
	res("open through the remounted bind", fd);
	char c = 1;
	if (fd >= 0) {
		resv("read zero", read(fd, &c, 1));
		say("byte: %d\n", c);
		close(fd);
	}
	resfd("open on the source, still nodev", open("m/zero", O_RDONLY), 0);
	res("umount the bind", umount("b"));
	res("remount without nodev", mount(NULL, "m", NULL, MS_REMOUNT, "size=1m"));
	fd = open("m/null", O_WRONLY);
	res("open after the remount", fd);
	if (fd >= 0) {
		resv("write null", write(fd, "x", 1));
		close(fd);
	}
	res("umount", umount("m"));
	/* a node reopened through /proc/self/fd opens its device, by the node's mode: root's
	 * O_PATH fd of a root-only node, inherited, gives uid 1000 nothing, root its device */
	res("mount tmpfs with devices", mount("tmpfs", "m", "tmpfs", 0, "size=1m"));
	chmod("m", 0755);
	res("mknod a root-only zero", mknod("m/zero", S_IFCHR | 0600, makedev(1, 5)));
	fd = open("m/zero", O_PATH);
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	int r = open(p, O_RDONLY);
	res("root reopens it", r);
	if (r >= 0) {
		c = 1;
		resv("read", read(r, &c, 1));
		say("byte: %d\n", c);
		close(r);
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (setgid(1000) < 0 || setuid(1000) < 0)
			_exit(1);
		resfd("uid 1000 reopens it", open(p, O_RDONLY), 0);
		resfd("uid 1000 opens it", open("m/zero", O_RDONLY), 0);
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	close(fd);
	res("umount", umount("m"));
	return 0;
}
