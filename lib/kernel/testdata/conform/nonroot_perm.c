/* Permission checks as an ordinary user (uid/gid 1000) on root's files, prepared as root:
 * EACCES for what the modes forbid, EPERM for what only owners or root may do.
 * conform: needs host root (it becomes uid 1000) */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	chmod(".", 0755);
	mkfile("private", "secret\n", 0600);
	mkfile("public", "public\n", 0644);
	mkfile("prog", "#!/bin/sh\n", 0700);
	mkdir("rootdir", 0755);
	mkfile("rootdir/f", "", 0644);
	mkdir("closed", 0700);
	mkfile("closed/f", "", 0644);
	mkdir("sticky", 01777);
	mkfile("sticky/roots", "", 0666);
	mkdir("mine", 0755);
	chown("mine", 1000, 1000);
	mkfile("mine/f", "", 0644);
	chown("mine/f", 1000, 1000);
	mkfile("shared", "", 0666);
	if (setgroups(0, NULL) < 0 || setgid(1000) < 0 || setuid(1000) < 0) {
		say("becoming 1000: %s\n", errname(errno));
		return 1;
	}
	say("uid=%d euid=%d gid=%d\n", getuid(), geteuid(), getgid());
	resfd("open private O_RDONLY", open("private", O_RDONLY), 0);
	resfd("open public O_RDONLY", open("public", O_RDONLY), 0);
	resfd("open public O_WRONLY", open("public", O_WRONLY), 0);
	resfd("open public O_RDONLY|O_TRUNC", open("public", O_RDONLY | O_TRUNC), 0);
	resfd("open shared O_RDWR", open("shared", O_RDWR), 0);
	resfd("creat in root's dir", open("rootdir/new", O_CREAT | O_WRONLY, 0644), 0);
	res("mkdir in root's dir", mkdir("rootdir/nd", 0755));
	res("unlink in root's dir", unlink("rootdir/f"));
	res("rename in root's dir", rename("rootdir/f", "rootdir/g"));
	res("symlink in root's dir", symlink("x", "rootdir/s"));
	res("link into root's dir", link("mine/f", "rootdir/l"));
	res("stat in a 0700 dir", access("closed/f", F_OK));
	resfd("open in a 0700 dir", open("closed/f", O_RDONLY), 0);
	if (res("chdir into a 0700 dir", chdir("closed")) == 0)
		chdir("..");
	resfd("opendir 0700 dir", open("closed", O_RDONLY | O_DIRECTORY), 0);
	res("access private R_OK", access("private", R_OK));
	res("access public W_OK", access("public", W_OK));
	res("access public R_OK", access("public", R_OK));
	res("access prog X_OK", access("prog", X_OK));
	res("execute prog", execl("./prog", "prog", NULL));
	res("truncate public", truncate("public", 0));
	res("truncate shared", truncate("shared", 0));
	res("chmod public", chmod("public", 0666));
	res("chown public to self", chown("public", 1000, 1000));
	res("chown own file to root", chown("mine/f", 0, 0));
	res("chown own file, own group", chown("mine/f", 1000, 1000));
	res("chown own file, group 0 (not a member)", chown("mine/f", -1, 0));
	res("chmod own file", chmod("mine/f", 0600));
	res("chmod own file 04755", chmod("mine/f", 04755));
	pstat("mine/f", "mine/f");
	res("chmod own file g+s, group ours", chmod("mine/f", 02755));
	pstat("mine/f", "mine/f");
	struct timespec ts[2] = {{1, 0}, {2, 0}};
	res("utimensat exact on public", utimensat(AT_FDCWD, "public", ts, 0));
	res("utimensat NULL on public", utimensat(AT_FDCWD, "public", NULL, 0));
	res("utimensat NULL on shared (writable)", utimensat(AT_FDCWD, "shared", NULL, 0));
	res("utimensat exact on shared", utimensat(AT_FDCWD, "shared", ts, 0));
	res("unlink root's file in sticky dir", unlink("sticky/roots"));
	res("rename root's file in sticky dir", rename("sticky/roots", "sticky/x"));
	resfd("creat in sticky dir", open("sticky/mine", O_CREAT | O_WRONLY, 0644), 0);
	res("unlink own file in sticky dir", unlink("sticky/mine"));
	res("mknod char device", mknod("mine/null", S_IFCHR | 0666, makedev(1, 3)));
	res("mknod fifo in own dir", mknod("mine/fifo", S_IFIFO | 0666, 0));
	res("rmdir root's dir", rmdir("rootdir"));
	resfd("create at top (root's 0755 dir)", open("top", O_CREAT | O_WRONLY, 0644), 0);
	return 0;
}
