/* utimensat and futimens: exact times, UTIME_NOW, UTIME_OMIT, symlinks, ctime. */
#include "conform.h"
#include <time.h>

static void ptimes(const char *label, const char *path, int flags)
{
	struct stat st;
	if (fstatat(AT_FDCWD, path, &st, flags) < 0) {
		say("%s: %s\n", label, errname(errno));
		return;
	}
	say("%s: atime=%lld.%09ld mtime=%lld.%09ld\n", label, (long long)st.st_atim.tv_sec,
	    st.st_atim.tv_nsec, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkfile("f", "x", 0644);
	symlink("f", "l");
	struct timespec ts[2] = {{1000000000, 123456789}, {1200000000, 987654321}};
	res("utimensat exact", utimensat(AT_FDCWD, "f", ts, 0));
	ptimes("f", "f", 0);
	struct timespec om[2] = {{0, UTIME_OMIT}, {1300000000, 5}};
	res("atime UTIME_OMIT", utimensat(AT_FDCWD, "f", om, 0));
	ptimes("f", "f", 0);
	struct timespec both[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
	struct stat a, b;
	stat("f", &a);
	res("both UTIME_OMIT", utimensat(AT_FDCWD, "f", both, 0));
	stat("f", &b);
	say("ctime unchanged by double OMIT: %s\n", yesno(a.st_ctim.tv_sec == b.st_ctim.tv_sec && a.st_ctim.tv_nsec == b.st_ctim.tv_nsec));
	time_t before = time(NULL);
	struct timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
	res("atime UTIME_NOW", utimensat(AT_FDCWD, "f", now, 0));
	stat("f", &b);
	say("atime is now: %s, mtime kept: %s\n", yesno(b.st_atim.tv_sec >= before), yesno(b.st_mtim.tv_sec == 1300000000));
	res("NULL times", utimensat(AT_FDCWD, "f", NULL, 0));
	stat("f", &b);
	say("both now: %s\n", yesno(b.st_atim.tv_sec >= before && b.st_mtim.tv_sec >= before));
	struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
	res("tv_nsec out of range", utimensat(AT_FDCWD, "f", bad, 0));
	res("AT_SYMLINK_NOFOLLOW on link", utimensat(AT_FDCWD, "l", ts, AT_SYMLINK_NOFOLLOW));
	ptimes("link", "l", AT_SYMLINK_NOFOLLOW);
	say("target kept its times: %s\n", yesno(b.st_mtim.tv_sec >= before));
	int fd = open("f", O_RDONLY);
	res("futimens on O_RDONLY fd", futimens(fd, ts));
	ptimes("f", "f", 0);
	res("futimens bad fd", futimens(99, ts));
	close(fd);
	res("utimensat missing", utimensat(AT_FDCWD, "missing", ts, 0));
	res("utimensat bad flag", utimensat(AT_FDCWD, "f", ts, 0x1));
	fd = open("f", O_RDONLY);
	res("utimensat(fd, NULL) (futimens form)", syscall(SYS_utimensat, fd, NULL, ts, 0));
	ptimes("f", "f", 0);
	close(fd);
	mkdir("d", 0755);
	res("utimensat dir", utimensat(AT_FDCWD, "d", ts, 0));
	ptimes("d", "d", 0);
	return 0;
}
