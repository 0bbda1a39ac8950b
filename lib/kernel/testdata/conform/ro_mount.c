/* A read-only mount (the regression case: truncate on a file of a read-only ubd):
 * every path call that would change it fails with EROFS, reads work. argv[1] is the mount
 * (conform_test.go's roTree). */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	pcontent("read f", rojoin("f"));
	pstat("stat f", rojoin("f"));
	pstat("stat d/g", rojoin("d/g"));
	plstat("lstat l", rojoin("l"));
	pcontent("read through l", rojoin("l"));
	res("truncate f", truncate(rojoin("f"), 0));
	res("truncate f to its size", truncate(rojoin("f"), 10));
	res("truncate missing", truncate(rojoin("missing"), 0));
	resfd("open f O_WRONLY", open(rojoin("f"), O_WRONLY), 0);
	resfd("open f O_RDWR", open(rojoin("f"), O_RDWR), 0);
	resfd("open f O_RDONLY|O_TRUNC", open(rojoin("f"), O_RDONLY | O_TRUNC), 0);
	resfd("open f O_RDONLY", open(rojoin("f"), O_RDONLY), 0);
	resfd("open f O_RDONLY|O_CREAT (exists)", open(rojoin("f"), O_RDONLY | O_CREAT, 0644), 0);
	resfd("open new O_CREAT", open(rojoin("new"), O_WRONLY | O_CREAT, 0644), 0);
	resfd("open f O_CREAT|O_EXCL", open(rojoin("f"), O_WRONLY | O_CREAT | O_EXCL, 0644), 0);
	resfd("O_TMPFILE in it", open(ro, O_TMPFILE | O_RDWR, 0644), 0);
	res("mkdir new", mkdir(rojoin("newdir"), 0755));
	res("mkdir existing", mkdir(rojoin("d"), 0755));
	res("rmdir d", rmdir(rojoin("d")));
	res("unlink f", unlink(rojoin("f")));
	res("unlink missing", unlink(rojoin("missing")));
	res("rename f", rename(rojoin("f"), rojoin("f2")));
	res("rename f onto itself", rename(rojoin("f"), rojoin("f")));
	res("link f", link(rojoin("f"), rojoin("f3")));
	res("symlink", symlink("f", rojoin("s")));
	res("mknod fifo", mknod(rojoin("p"), S_IFIFO | 0644, 0));
	res("chmod f", chmod(rojoin("f"), 0600));
	res("chmod f to its mode", chmod(rojoin("f"), 0644));
	res("chown f", chown(rojoin("f"), 0, 0));
	res("lchown l", lchown(rojoin("l"), 0, 0));
	res("utimensat f", utimensat(AT_FDCWD, rojoin("f"), NULL, 0));
	res("access f W_OK", access(rojoin("f"), W_OK));
	res("access f R_OK", access(rojoin("f"), R_OK));
	res("access x X_OK", access(rojoin("x"), X_OK));
	res("access d W_OK", access(rojoin("d"), W_OK));
	res("faccessat f W_OK AT_EACCESS", faccessat(AT_FDCWD, rojoin("f"), W_OK, AT_EACCESS));
	res("rename out of it", rename(rojoin("f"), "here"));
	mkfile("mine", "", 0644);
	res("rename into it", rename("mine", rojoin("mine")));
	res("link out of it", link(rojoin("f"), "here"));
	res("renameat2 RENAME_EXCHANGE", syscall(SYS_renameat2, AT_FDCWD, rojoin("f"), AT_FDCWD, rojoin("x"), RENAME_EXCHANGE));
	res("truncate through dl/g", truncate(rojoin("dl/g"), 0));
	pcontent("f unchanged", rojoin("f"));
	pstat("f unchanged", rojoin("f"));
	return 0;
}
