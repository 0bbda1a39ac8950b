/* O_DIRECTORY, O_NOFOLLOW and opening directories for writing. */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkfile("f", "x", 0644);
	mkdir("d", 0755);
	symlink("f", "lf");
	symlink("d", "ld");
	resfd("O_DIRECTORY on file", open("f", O_RDONLY | O_DIRECTORY), 0);
	resfd("O_DIRECTORY on dir", open("d", O_RDONLY | O_DIRECTORY), 0);
	resfd("O_DIRECTORY on link to dir", open("ld", O_RDONLY | O_DIRECTORY), 0);
	resfd("O_DIRECTORY|O_NOFOLLOW on link to dir", open("ld", O_RDONLY | O_DIRECTORY | O_NOFOLLOW), 0);
	resfd("O_NOFOLLOW on link", open("lf", O_RDONLY | O_NOFOLLOW), 0);
	resfd("O_NOFOLLOW on file", open("f", O_RDONLY | O_NOFOLLOW), 0);
	resfd("O_NOFOLLOW on link in the middle", open("ld/../f", O_RDONLY | O_NOFOLLOW), 0);
	int fd = open("lf", O_PATH | O_NOFOLLOW);
	res("O_PATH|O_NOFOLLOW on link", fd);
	pfstat("fstat of it", fd);
	close(fd);
	resfd("dir O_WRONLY", open("d", O_WRONLY), 0);
	resfd("dir O_RDWR", open("d", O_RDWR), 0);
	resfd("dir O_RDONLY", open("d", O_RDONLY), 0);
	resfd("dir O_CREAT|O_DIRECTORY", open("nd", O_RDONLY | O_CREAT | O_DIRECTORY, 0755), 0);
	plstat("nd", "nd");
	resfd("O_DIRECTORY on missing", open("missing", O_RDONLY | O_DIRECTORY), 0);
	/* the mode argument means nothing without O_CREAT: O_DIRECTORY (a bit of O_TMPFILE)
	 * with a stray mode, as a caller passing garbage in the third register does */
	resfd("O_DIRECTORY with a mode", open("d", O_RDONLY | O_DIRECTORY, 0755), 0);
	resfd("openat O_DIRECTORY with a mode", openat(AT_FDCWD, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 07777), 0);
	resfd("O_DIRECTORY|O_NOFOLLOW with a mode", open("d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0644), 0);
	resfd("file with a mode", open("f", O_RDONLY, 0600), 0);
	fd = open("d", O_RDONLY);
	char b[4];
	res("read on dir fd", read(fd, b, 4));
	close(fd);
	return 0;
}
