/* creat, mkdir, mknod and the umask; set-id and sticky bits asked at creation. */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	resv("umask was", umask(022));
	close(creat("a", 0777));
	pstat("creat 0777 umask 022", "a");
	umask(077);
	close(creat("b", 0777));
	pstat("creat 0777 umask 077", "b");
	umask(0);
	close(creat("c", 0777));
	pstat("creat 0777 umask 0", "c");
	close(creat("s", 04755));
	pstat("creat 04755 umask 0", "s");
	umask(027);
	mkdir("d", 0777);
	pstat("mkdir 0777 umask 027", "d");
	mkdir("t", 01777);
	pstat("mkdir 01777 umask 027", "t");
	mknod("p", S_IFIFO | 0666, 0);
	pstat("mkfifo 0666 umask 027", "p");
	symlink("a", "l");
	plstat("symlink mode", "l");
	umask(022);
	int fd = creat("a", 0600);
	res("creat existing truncates", fd);
	pfstat("mode kept", fd);
	close(fd);
	resv("umask now", umask(022));
	return 0;
}
