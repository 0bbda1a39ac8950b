/* statx: the basic fields and flags. */
#include "conform.h"

static void px(const char *label, int r, struct statx *x)
{
	if (r < 0) {
		say("%s: %s\n", label, errname(errno));
		return;
	}
	say("%s: basic=%s type=%s mode=%04o nlink=%u uid=%u gid=%u", label,
	    yesno((x->stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS), ftype(x->stx_mode),
	    x->stx_mode & 07777, x->stx_nlink, x->stx_uid, x->stx_gid);
	if (!S_ISDIR(x->stx_mode))
		say(" size=%llu", (unsigned long long)x->stx_size);
	say(" blksize>0=%s\n", yesno(x->stx_blksize > 0));
}

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkfile("f", "hello", 0604);
	symlink("f", "l");
	mkdir("d", 0750);
	struct statx x;
	int r = statx(AT_FDCWD, "f", 0, STATX_BASIC_STATS, &x);
	px("file", r, &x);
	r = statx(AT_FDCWD, "l", 0, STATX_BASIC_STATS, &x);
	px("link followed", r, &x);
	r = statx(AT_FDCWD, "l", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &x);
	px("link", r, &x);
	r = statx(AT_FDCWD, "d", 0, STATX_BASIC_STATS, &x);
	px("dir", r, &x);
	int fd = open("f", O_RDONLY);
	r = statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &x);
	px("AT_EMPTY_PATH", r, &x);
	close(fd);
	r = statx(AT_FDCWD, "missing", 0, STATX_BASIC_STATS, &x);
	px("missing", r, &x);
	r = statx(AT_FDCWD, "f", 0, STATX__RESERVED, &x);
	px("reserved mask", r, &x);
	r = statx(AT_FDCWD, "f", 0x40000000, STATX_BASIC_STATS, &x);
	px("bad flags", r, &x);
	r = statx(AT_FDCWD, "f", AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC, STATX_BASIC_STATS, &x);
	px("both sync flags", r, &x);
	r = statx(AT_FDCWD, "f", AT_STATX_DONT_SYNC, STATX_TYPE | STATX_MODE, &x);
	say("asked for type+mode: has them=%s\n", yesno((x.stx_mask & (STATX_TYPE | STATX_MODE)) == (STATX_TYPE | STATX_MODE)));
	struct stat st;
	stat("f", &st);
	statx(AT_FDCWD, "f", 0, STATX_BASIC_STATS, &x);
	say("ino agrees with stat: %s\n", yesno(x.stx_ino == st.st_ino));
	say("mtime agrees with stat: %s\n", yesno((time_t)x.stx_mtime.tv_sec == st.st_mtim.tv_sec && x.stx_mtime.tv_nsec == st.st_mtim.tv_nsec));
	return 0;
}
