/* The owners of symbolic links through the calls that move, copy, replace and remove them
 * (the kernel keeps a link's owner in its directory: linkowner.go): rename within and
 * between directories, over another link and over a file, RENAME_EXCHANGE with a link and
 * with a file, RENAME_NOREPLACE, hard links (linkat by name and by an O_PATH fd), unlink
 * and a new link at the same name, a renamed directory of links, a long name, an O_PATH fd
 * followed across a rename, and links made by ordinary users (a set-group-ID directory, a
 * sticky one). Hard links are not lchown'ed afterwards: each name keeps a copy (Known
 * limits in linkowner.go).
 * conform: needs host root (owners other than root, and it becomes uids 1000 and 1001) */
#include "conform.h"

static void own(const char *path, uid_t u, gid_t g)
{
	char label[300];
	snprintf(label, sizeof label, "lchown %.200s %u:%u", path, u, g);
	res(label, lchown(path, u, g));
}

static void show(const char *path)
{
	char label[300];
	snprintf(label, sizeof label, "%.200s", path);
	plstat(label, path);
}

/* as runs fn in a child with the given ids and waits for it */
static void as(uid_t u, gid_t g, void (*fn)(void))
{
	pid_t p = fork();
	if (p == 0) {
		if (setgroups(0, NULL) < 0 || setgid(g) < 0 || setuid(u) < 0) {
			say("becoming %u: %s\n", u, errname(errno));
			_exit(1);
		}
		fn();
		_exit(0);
	}
	int st;
	waitpid(p, &st, 0);
}

static void user_links(void)
{
	res("1000: symlink u1", symlink("target", "u1"));
	show("u1");
	res("1000: symlink sgid/u2", symlink("target", "sgid/u2"));
	show("sgid/u2");
	res("1000: symlink sticky/mine", symlink("target", "sticky/mine"));
	res("1000: lchown u1 to own group", lchown("u1", -1, 1000));
	res("1000: lchown u1 to root", lchown("u1", 0, 0));
	res("1000: lchown l3 (not own)", lchown("l3", 1000, 1000));
	show("u1");
}

static void other_user(void)
{
	res("1001: unlink sticky/mine", unlink("sticky/mine"));
	res("1001: rename sticky/mine", rename("sticky/mine", "sticky/taken"));
	res("1001: symlink sticky/theirs", symlink("target", "sticky/theirs"));
	show("sticky/theirs");
}

static void owner_removes(void)
{
	res("1000: unlink sticky/mine", unlink("sticky/mine"));
	res("1000: unlink sticky/theirs", unlink("sticky/theirs"));
}

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	chmod(".", 0755);
	mkdir("sub", 0755);
	mkfile("f", "f\n", 0644);
	res("chown f 6:6", chown("f", 6, 6));

	/* rename within a directory and into another */
	symlink("target", "l1");
	symlink("target", "l2");
	own("l1", 2, 3);
	own("l2", 4, 5);
	res("rename l1 l3", rename("l1", "l3"));
	res("rename l2 sub/l2", rename("l2", "sub/l2"));
	show("l3");
	show("sub/l2");
	show("l1 (gone)");

	/* exchanges: link with link, link with file */
	res("exchange l3 sub/l2", renameat2(AT_FDCWD, "l3", AT_FDCWD, "sub/l2", RENAME_EXCHANGE));
	show("l3");
	show("sub/l2");
	res("exchange f l3", renameat2(AT_FDCWD, "f", AT_FDCWD, "l3", RENAME_EXCHANGE));
	show("f");
	show("l3");
	res("exchange back", renameat2(AT_FDCWD, "f", AT_FDCWD, "l3", RENAME_EXCHANGE));
	show("f");
	show("l3");

	/* RENAME_NOREPLACE onto a link changes nothing */
	res("noreplace l3 sub/l2", renameat2(AT_FDCWD, "l3", AT_FDCWD, "sub/l2", RENAME_NOREPLACE));
	show("l3");
	show("sub/l2");

	/* a link renamed over a link, then a new link where the first was */
	symlink("target", "x");
	symlink("target", "y");
	own("x", 7, 7);
	own("y", 8, 8);
	res("rename x y", rename("x", "y"));
	show("y");
	res("symlink x again", symlink("target", "x"));
	show("x");

	/* a file renamed over a link, then a new link at that name */
	mkfile("reg", "r\n", 0600);
	res("chown reg 9:9", chown("reg", 9, 9));
	res("rename reg y", rename("reg", "y"));
	show("y");
	res("unlink y", unlink("y"));
	res("symlink y again", symlink("target", "y"));
	show("y");

	/* hard links of a link: each name shows the owner, and the other name keeps it */
	res("link sub/l2 hl", linkat(AT_FDCWD, "sub/l2", AT_FDCWD, "hl", 0));
	show("hl");
	show("sub/l2");
	res("unlink sub/l2", unlink("sub/l2"));
	show("hl");
	res("symlink sub/l2 again", symlink("target", "sub/l2"));
	show("sub/l2");

	/* an O_PATH fd of a link: its owner, lchown through it, a rename under it */
	int fd = open("l3", O_PATH | O_NOFOLLOW);
	res("open l3 O_PATH|O_NOFOLLOW", fd);
	pfstat("fstat l3 fd", fd);
	res("fchownat l3 fd AT_EMPTY_PATH 11:12", fchownat(fd, "", 11, 12, AT_EMPTY_PATH));
	show("l3");
	res("rename l3 sub/l4", rename("l3", "sub/l4"));
	pfstat("fstat fd after rename", fd);
	res("fchownat fd 13:14", fchownat(fd, "", 13, 14, AT_EMPTY_PATH));
	show("sub/l4");
	res("linkat fd AT_EMPTY_PATH hl2", linkat(fd, "", AT_FDCWD, "hl2", AT_EMPTY_PATH));
	show("hl2");
	struct statx sx;
	if (res("statx hl2", statx(AT_FDCWD, "hl2", AT_SYMLINK_NOFOLLOW, STATX_UID | STATX_GID, &sx)) == 0)
		say("statx hl2: uid=%u gid=%u\n", sx.stx_uid, sx.stx_gid);
	close(fd);

	/* a renamed directory takes its links' owners along; a long name works too */
	mkdir("d1", 0755);
	symlink("target", "d1/a");
	own("d1/a", 15, 16);
	char longname[300] = "d1/";
	memset(longname + 3, 'n', 250);
	longname[253] = 0;
	res("symlink long name", symlink("target", longname));
	own(longname, 17, 18);
	res("rename d1 sub/d2", rename("d1", "sub/d2"));
	show("sub/d2/a");
	char moved[300] = "sub/d2/";
	memcpy(moved + 7, longname + 3, 251);
	plstat("long name after the rename", moved);
	res("rename long name to short", rename(moved, "sub/d2/short"));
	show("sub/d2/short");

	/* back to root and to the same owner */
	own("sub/d2/a", 0, 0);
	show("sub/d2/a");
	own("sub/d2/short", -1, -1);
	show("sub/d2/short");

	/* links made and removed by ordinary users */
	mkdir("sgid", 0777);
	chown("sgid", 0, 50);
	chmod("sgid", 02777);
	mkdir("sticky", 0777);
	chmod("sticky", 01777);
	chmod(".", 0777);
	symlink("target", "l3");
	own("l3", 3, 3);
	as(1000, 1000, user_links);
	show("u1");
	show("sgid/u2");
	show("sticky/mine");
	as(1001, 1001, other_user);
	show("sticky/mine");
	as(1000, 1000, owner_removes);
	show("sticky/theirs");
	chmod(".", 0755);
	return 0;
}
