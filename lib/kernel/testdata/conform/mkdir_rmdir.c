/* mkdir and rmdir errors: EEXIST, ENOTDIR, ENOTEMPTY, ".", "..", trailing slashes. */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	res("mkdir d", mkdir("d", 0755));
	res("mkdir d again", mkdir("d", 0755));
	mkfile("f", "x", 0644);
	res("mkdir over file", mkdir("f", 0755));
	res("mkdir in missing", mkdir("no/x", 0755));
	res("mkdir under file", mkdir("f/x", 0755));
	res("mkdir trailing slash", mkdir("n/", 0755));
	pstat("n", "n");
	res("mkdir trailing slashes", mkdir("m//", 0755));
	symlink("gone", "dangle");
	res("mkdir over dangling symlink", mkdir("dangle", 0755));
	mkfile("d/in", "", 0644);
	res("rmdir non-empty", rmdir("d"));
	res("rmdir file", rmdir("f"));
	res("rmdir missing", rmdir("missing"));
	res("rmdir .", rmdir("."));
	res("rmdir ..", rmdir(".."));
	res("rmdir d/.", rmdir("d/."));
	res("rmdir n/..", rmdir("n/.."));
	res("rmdir n/", rmdir("n/"));
	res("rmdir m//", rmdir("m//"));
	symlink("d", "ld");
	res("rmdir symlink to dir", rmdir("ld"));
	res("rmdir symlink to dir/", rmdir("ld/"));
	unlink("d/in");
	res("rmdir now empty", rmdir("d"));
	plstat("d gone", "d");
	mkdir("p", 0755);
	mkdir("p/q", 0755);
	struct stat st;
	stat("p", &st);
	say("nlink of dir with one subdir: %lu\n", (unsigned long)st.st_nlink);
	rmdir("p/q");
	stat("p", &st);
	say("nlink after rmdir: %lu\n", (unsigned long)st.st_nlink);
	res("mkdir empty name", mkdir("", 0755));
	return 0;
}
