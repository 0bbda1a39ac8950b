/* statfs and fstatfs: the fields that do not depend on which file system holds the files. */
#include "conform.h"
#include <sys/statfs.h>
#include <sys/statvfs.h>

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	struct statfs a, b;
	res("statfs .", statfs(".", &a));
	say("bsize positive: %s, namelen: %ld\n", yesno(a.f_bsize > 0), (long)a.f_namelen);
	say("blocks >= free >= avail: %s\n", yesno(a.f_blocks >= a.f_bfree && a.f_bfree >= a.f_bavail));
	say("writable: %s\n", yesno(!(a.f_flags & ST_RDONLY)));
	int fd = open(".", O_RDONLY);
	res("fstatfs", fstatfs(fd, &b));
	say("same type as statfs: %s\n", yesno(a.f_type == b.f_type));
	close(fd);
	res("statfs missing", statfs("missing", &a));
	res("statfs /proc", statfs("/proc", &a));
	say("/proc type is procfs: %s\n", yesno(a.f_type == 0x9fa0));
	res("statfs /proc/self", statfs("/proc/self", &a));
	say("/proc/self type is procfs: %s\n", yesno(a.f_type == 0x9fa0));
	res("statfs /proc/self/fd", statfs("/proc/self/fd", &a));
	say("/proc/self/fd type is procfs: %s, bsize %ld, blocks %lu, files %lu, namelen %ld\n", yesno(a.f_type == 0x9fa0),
	    (long)a.f_bsize, (unsigned long)a.f_blocks, (unsigned long)a.f_files, (long)a.f_namelen);
	res("statfs /proc/meminfo", statfs("/proc/meminfo", &a));
	say("/proc/meminfo type is procfs: %s\n", yesno(a.f_type == 0x9fa0));
	res("statfs /proc/self/status", statfs("/proc/self/status", &a));
	say("/proc/self/status type is procfs: %s\n", yesno(a.f_type == 0x9fa0));
	res("statfs read-only mount", statfs(ro, &a));
	say("read-only flag: %s\n", yesno(a.f_flags & ST_RDONLY));
	struct statvfs v;
	res("statvfs read-only mount", statvfs(ro, &v));
	say("statvfs ST_RDONLY: %s\n", yesno(v.f_flag & ST_RDONLY));
	res("statvfs .", statvfs(".", &v));
	say("statvfs ST_RDONLY: %s\n", yesno(v.f_flag & ST_RDONLY));
	mkfile("f", "", 0644);
	res("statfs f/", statfs("f/", &a));
	return 0;
}
