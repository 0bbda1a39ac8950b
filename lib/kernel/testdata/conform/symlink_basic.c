/* symlink and readlink: targets, lengths, dangling and relative links. */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkfile("f", "target\n", 0644);
	mkdir("d", 0755);
	mkfile("d/f", "inner\n", 0644);
	char b[64];
	res("symlink", symlink("f", "l"));
	memset(b, 0, sizeof b);
	resv("readlink", readlink("l", b, sizeof b));
	say("readlink gives: %s\n", b);
	memset(b, 0, sizeof b);
	resv("readlink short buffer", readlink("l", b, 0) < 0 ? -1 : readlink("d", b, 0));
	symlink("longer-target-name", "ll");
	memset(b, 0, sizeof b);
	resv("readlink into 4 bytes", readlink("ll", b, 4));
	say("truncated: %s\n", b);
	res("readlink on a file", readlink("f", b, sizeof b));
	res("readlink missing", readlink("missing", b, sizeof b));
	res("symlink existing", symlink("x", "l"));
	res("symlink empty target", symlink("", "empty"));
	res("symlink over dir", symlink("x", "d"));
	symlink("missing", "dangle");
	plstat("lstat dangling", "dangle");
	pstat("stat dangling", "dangle");
	symlink("f", "d/rel");
	pcontent("relative to the link's dir", "d/rel");
	symlink("d/f", "deep");
	pcontent("through a subdir", "deep");
	symlink("../f", "d/up");
	pcontent("d/up", "d/up");
	symlink("d", "ld");
	pcontent("ld/f", "ld/f");
	pcontent("ld/up", "ld/up");
	pcontent("ld/../f (.. of the link's target is the cwd)", "ld/../f");
	plstat("lstat ld/", "ld/");
	res("readlink ld/", readlink("ld/", b, sizeof b));
	symlink("/dev/null", "abs");
	pstat("absolute target", "abs");
	res("symlink in missing dir", symlink("f", "nodir/l"));
	int fd = open(".", O_RDONLY);
	memset(b, 0, sizeof b);
	resv("readlinkat dirfd", readlinkat(fd, "l", b, sizeof b));
	resv("readlinkat AT_EMPTY_PATH on dir fd", readlinkat(fd, "", b, sizeof b));
	close(fd);
	fd = open("l", O_PATH | O_NOFOLLOW);
	memset(b, 0, sizeof b);
	resv("readlinkat empty path on O_PATH link fd", readlinkat(fd, "", b, sizeof b));
	say("gives: %s\n", b);
	close(fd);
	return 0;
}
