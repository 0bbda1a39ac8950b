/* rename: files over files, directories over directories, the refusals. */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkfile("a", "A\n", 0644);
	mkfile("b", "B\n", 0600);
	res("rename a over b", rename("a", "b"));
	pcontent("b", "b");
	pstat("b", "b");
	plstat("a gone", "a");
	link("b", "b2");
	res("rename onto own hard link", rename("b", "b2"));
	plstat("b still", "b");
	plstat("b2 still", "b2");
	res("rename onto itself", rename("b", "b"));
	mkdir("d", 0755);
	mkdir("e", 0755);
	mkfile("e/x", "", 0644);
	res("file over dir", rename("b", "d"));
	res("dir over file", rename("d", "b"));
	res("dir over non-empty dir", rename("d", "e"));
	mkdir("empty", 0755);
	res("dir over empty dir", rename("d", "empty"));
	plstat("d gone", "d");
	res("dir into own subdir", rename("e", "e/sub"));
	res("dir onto own child path", rename("empty", "empty/x/y"));
	res("rename missing", rename("missing", "x"));
	res("rename into missing dir", rename("b", "nodir/x"));
	res("rename .", rename(".", "x"));
	res("rename to .", rename("b", "."));
	res("rename e/..", rename("e/..", "x"));
	res("rename file with trailing slash", rename("b/", "c"));
	res("rename dir with trailing slash", rename("e/", "e2/"));
	pstat("e2", "e2");
	symlink("e2", "le");
	res("rename symlink", rename("le", "le2"));
	plstat("le2 is a link", "le2");
	mkfile("x", "", 0644);
	int fd = open("x", O_RDONLY);
	rename("x", "y");
	pfstat("open fd follows rename", fd);
	close(fd);
	return 0;
}
