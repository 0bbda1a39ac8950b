/* Path corners: //, /./, .., the empty path, "/.." staying at the root. */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkdir("a", 0755);
	mkdir("a/b", 0755);
	mkfile("a/b/f", "f\n", 0644);
	mkfile("file", "x", 0644);
	pcontent("a//b//f", "a//b//f");
	pcontent("a/./b/./f", "a/./b/./f");
	pcontent("./a/../a/b/f", "./a/../a/b/f");
	pcontent("a/b/../../a/b/f", "a/b/../../a/b/f");
	pstat("stat ''", "");
	resfd("open ''", open("", O_RDONLY), 0);
	res("chdir ''", chdir(""));
	res("mkdir ''", mkdir("", 0755));
	res("access ''", access("", F_OK));
	char b[8];
	res("readlink ''", readlink("", b, sizeof b));
	pstat("missing/..", "missing/..");
	pstat("file/..", "file/..");
	pstat("file/.", "file/.");
	say("/.. is /: %s\n", yesno(sameino("/..", "/")));
	say("/../.. is /: %s\n", yesno(sameino("/../..", "/")));
	say("//// is /: %s\n", yesno(sameino("////", "/")));
	say("/./. is /: %s\n", yesno(sameino("/./.", "/")));
	say("/../dev/null is /dev/null: %s\n", yesno(sameino("/../dev/null", "/dev/null")));
	say("//dev//null is /dev/null: %s\n", yesno(sameino("//dev//null", "/dev/null")));
	say("/dev/./null is /dev/null: %s\n", yesno(sameino("/dev/./null", "/dev/null")));
	say(". is a/..: %s\n", yesno(sameino(".", "a/..")));
	say(".. of cwd is not cwd: %s\n", yesno(!sameino(".", "..")));
	res("chdir /", chdir("/"));
	res("chdir ..", chdir(".."));
	say("still at root: %s\n", yesno(sameino(".", "/")));
	char c[64];
	say("getcwd: %s\n", getcwd(c, sizeof c) ? c : errname(errno));
	res("chdir ../../..", chdir("../../.."));
	say("getcwd: %s\n", getcwd(c, sizeof c) ? c : errname(errno));
	return 0;
}
