/* umount's EBUSY: a mount is busy while a process works in it, holds an open file or
 * directory of it, or has another mount below it; MNT_DETACH takes it away anyway, and what
 * was open stays readable. umount of a directory that is no mount point is EINVAL. */
#include "conform.h"
#include <sys/mount.h>

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof cwd))
		return 1;
	mkdir("m", 0755);
	res("umount a plain directory", umount("m"));
	res("mount tmpfs", mount("tmpfs", "m", "tmpfs", 0, "size=1m"));
	mkfile("m/f", "kept\n", 0644);
	int fd = open("m/f", O_RDONLY);
	res("umount with a file open", umount("m"));
	close(fd);
	fd = open("m", O_RDONLY | O_DIRECTORY);
	res("umount with the directory open", umount("m"));
	close(fd);
	fd = open("m/f", O_PATH);
	res("umount with an O_PATH fd open", umount("m"));
	close(fd);
	res("chdir in", chdir("m"));
	res("umount with the cwd in it", umount(cwd[0] ? "../m" : "m"));
	res("chdir out", chdir(cwd));
	mkdir("m/sub", 0755);
	res("mount below", mount("tmpfs", "m/sub", "tmpfs", 0, "size=1m"));
	res("umount with a mount below", umount("m"));
	res("umount the one below", umount("m/sub"));
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		int in = open("m/f", O_RDONLY);
		char c;
		read(0, &c, 0);
		pause();
		_exit(in < 0);
	}
	/* the child holds m/f once it has run; give it the time to open */
	for (int i = 0; i < 200; i++) {
		char l[64];
		snprintf(l, sizeof l, "/proc/%d/fd/3", p);
		struct stat st;
		if (stat(l, &st) == 0)
			break;
		usleep(10000);
	}
	res("umount with a file open in another process", umount("m"));
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
	fd = open("m/f", O_RDONLY);
	res("umount MNT_DETACH while open", umount2("m", MNT_DETACH));
	char buf[16] = {0};
	resv("read after the detach", read(fd, buf, sizeof buf - 1));
	say("read: %s", buf);
	close(fd);
	pstat("m/f after the detach", "m/f");
	res("umount again", umount("m"));
	return 0;
}
