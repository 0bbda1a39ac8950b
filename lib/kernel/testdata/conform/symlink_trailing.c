/* Trailing slashes on symlinks to files, to directories and to nothing. */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkfile("f", "x", 0644);
	mkdir("d", 0755);
	symlink("f", "lf");
	symlink("d", "ld");
	symlink("gone", "dangle");
	plstat("lstat ld/ follows", "ld/");
	plstat("lstat lf/", "lf/");
	pstat("stat f/", "f/");
	pstat("stat d/", "d/");
	pstat("stat d//", "d//");
	pstat("stat d/.", "d/.");
	resfd("open f/", open("f/", O_RDONLY), 0);
	resfd("open lf/", open("lf/", O_RDONLY), 0);
	resfd("open ld/", open("ld/", O_RDONLY), 0);
	resfd("creat dangle/", open("dangle/", O_CREAT | O_WRONLY, 0644), 0);
	res("mkdir dangle/", mkdir("dangle/", 0755));
	plstat("gone", "gone");
	res("rmdir ld/", rmdir("ld/"));
	res("rename ld/ to m", rename("ld/", "m"));
	plstat("ld", "ld");
	plstat("m", "m");
	res("rename lf/ to n", rename("lf/", "n"));
	res("symlink to name/", symlink("f", "new/"));
	char b[16];
	res("readlink lf/", readlink("lf/", b, sizeof b));
	res("chmod lf/", chmod("lf/", 0600));
	res("truncate lf/", truncate("lf/", 0));
	res("access lf/", access("lf/", F_OK));
	res("access ld/", access("ld/", F_OK));
	return 0;
}
