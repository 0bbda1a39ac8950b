/* O_TMPFILE: an unnamed file in a directory, linked in later or never. */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	int fd = open(".", O_TMPFILE | O_RDWR, 0640);
	res("O_TMPFILE|O_RDWR", fd);
	if (fd < 0)
		return 0;
	resv("write", write(fd, "tmp\n", 4));
	pfstat("fstat", fd);
	DIR *d = opendir(".");
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	say("entries in dir: %d\n", n);
	res("linkat AT_EMPTY_PATH", linkat(fd, "", AT_FDCWD, "named", AT_EMPTY_PATH));
	pstat("named", "named");
	pcontent("named content", "named");
	close(fd);
	fd = open(".", O_TMPFILE | O_RDWR | O_EXCL, 0600);
	res("O_TMPFILE|O_EXCL", fd);
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	res("linkat of O_EXCL tmpfile", linkat(AT_FDCWD, p, AT_FDCWD, "excl", AT_SYMLINK_FOLLOW));
	close(fd);
	fd = open(".", O_TMPFILE | O_RDWR, 0600);
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	res("linkat via /proc/self/fd", linkat(AT_FDCWD, p, AT_FDCWD, "viaproc", AT_SYMLINK_FOLLOW));
	pstat("viaproc", "viaproc");
	close(fd);
	resfd("O_TMPFILE read-only", open(".", O_TMPFILE | O_RDONLY, 0600), 0);
	mkfile("file", "", 0644);
	resfd("O_TMPFILE on a file", open("file", O_TMPFILE | O_RDWR, 0600), 0);
	resfd("O_TMPFILE on missing", open("missing", O_TMPFILE | O_RDWR, 0600), 0);
	return 0;
}
