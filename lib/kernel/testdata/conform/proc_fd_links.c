/* /proc/self/fd/N, cwd and exe are symlinks to lstat, with procfs's modes and sizes (a fd
 * link's mode is its file's access), and stat goes through them. */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkfile("f", "x", 0644);
	int fd = open("f", O_RDONLY);
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	plstat("lstat of fd link", p);
	pstat("stat of fd link", p);
	snprintf(p, sizeof p, "/dev/fd/%d", fd);
	plstat("lstat of /dev/fd/N", p);
	struct stat st;
	fstatat(AT_FDCWD, p, &st, AT_SYMLINK_NOFOLLOW);
	say("fstatat nofollow is a link: %s\n", yesno(S_ISLNK(st.st_mode)));
	plstat("lstat /proc/self/cwd", "/proc/self/cwd");
	plstat("lstat /proc/self/exe", "/proc/self/exe");
	plstat("lstat /proc/self/root", "/proc/self/root");
	plstat("lstat /proc/self", "/proc/self");
	plstat("lstat /proc/self/ (the directory)", "/proc/self/");
	plstat("lstat /proc/self/. (the directory)", "/proc/self/.");
	plstat("lstat /proc/thread-self", "/proc/thread-self");
	plstat("lstat /proc/net", "/proc/net");
	plstat("lstat /proc/self/ns/net", "/proc/self/ns/net");
	plstat("lstat /proc/self/fd/99", "/proc/self/fd/99");
	/* a fd link's mode is its file's access */
	int w = open("f", O_WRONLY), rw = open("f", O_RDWR);
	snprintf(p, sizeof p, "/proc/self/fd/%d", w);
	plstat("lstat of write-only fd link", p);
	snprintf(p, sizeof p, "/proc/self/fd/%d", rw);
	plstat("lstat of read-write fd link", p);
	struct statx x;
	int r = statx(AT_FDCWD, p, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &x);
	say("statx nofollow: %d %s mode=%04o size=%llu nlink=%u\n", r, ftype(x.stx_mode), x.stx_mode & 07777,
	    (unsigned long long)x.stx_size, x.stx_nlink);
	r = statx(AT_FDCWD, p, 0, STATX_BASIC_STATS, &x);
	say("statx: %d %s mode=%04o size=%llu nlink=%u\n", r, ftype(x.stx_mode), x.stx_mode & 07777,
	    (unsigned long long)x.stx_size, x.stx_nlink);
	return 0;
}
