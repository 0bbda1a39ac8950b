/* Extended attributes in the user. namespace: set, get, list, remove, flags, errors. */
#include "conform.h"
#include <sys/xattr.h>

static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

static void plist(const char *label, ssize_t n, char *buf)
{
	if (n < 0) {
		say("%s: %s\n", label, errname(errno));
		return;
	}
	char *names[32];
	int k = 0;
	for (char *p = buf; p < buf + n && k < 32; p += strlen(p) + 1)
		names[k++] = p;
	qsort(names, k, sizeof names[0], cmp);
	say("%s:", label);
	for (int i = 0; i < k; i++)
		say(" %s", names[i]);
	say("\n");
}

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkfile("f", "x", 0644);
	symlink("f", "l");
	char b[256];
	res("set user.a", setxattr("f", "user.a", "one", 3, 0));
	res("set user.b", setxattr("f", "user.b", "", 0, 0));
	resv("get user.a size", getxattr("f", "user.a", NULL, 0));
	memset(b, 0, sizeof b);
	resv("get user.a", getxattr("f", "user.a", b, sizeof b));
	say("value: %s\n", b);
	resv("get user.b (empty)", getxattr("f", "user.b", b, sizeof b));
	res("get into 1 byte", getxattr("f", "user.a", b, 1));
	res("get missing", getxattr("f", "user.none", b, sizeof b));
	plist("list", listxattr("f", b, sizeof b), b);
	resv("list size", listxattr("f", NULL, 0));
	res("list into 2 bytes", listxattr("f", b, 2));
	res("XATTR_CREATE existing", setxattr("f", "user.a", "two", 3, XATTR_CREATE));
	res("XATTR_REPLACE missing", setxattr("f", "user.c", "two", 3, XATTR_REPLACE));
	res("XATTR_REPLACE existing", setxattr("f", "user.a", "three", 5, XATTR_REPLACE));
	memset(b, 0, sizeof b);
	getxattr("f", "user.a", b, sizeof b);
	say("value: %s\n", b);
	res("both flags", setxattr("f", "user.a", "x", 1, XATTR_CREATE | XATTR_REPLACE));
	res("remove user.b", removexattr("f", "user.b"));
	res("remove again", removexattr("f", "user.b"));
	plist("list", listxattr("f", b, sizeof b), b);
	res("get through symlink", getxattr("l", "user.a", b, sizeof b));
	res("lsetxattr user. on symlink", lsetxattr("l", "user.x", "1", 1, 0));
	res("lgetxattr user. on symlink", lgetxattr("l", "user.a", b, sizeof b));
	res("unknown namespace", setxattr("f", "bogus.a", "1", 1, 0));
	res("no namespace", setxattr("f", "a", "1", 1, 0));
	res("empty name", setxattr("f", "", "1", 1, 0));
	char longname[300] = "user.";
	memset(longname + 5, 'n', 260);
	longname[265] = 0;
	res("name over 255", setxattr("f", longname, "1", 1, 0));
	int fd = open("f", O_RDONLY);
	res("fsetxattr on O_RDONLY fd", fsetxattr(fd, "user.fd", "v", 1, 0));
	memset(b, 0, sizeof b);
	resv("fgetxattr", fgetxattr(fd, "user.fd", b, sizeof b));
	plist("flist", flistxattr(fd, b, sizeof b), b);
	res("fremovexattr", fremovexattr(fd, "user.fd"));
	close(fd);
	mkdir("d", 0755);
	res("set on dir", setxattr("d", "user.d", "v", 1, 0));
	plist("dir list", listxattr("d", b, sizeof b), b);
	res("set on missing", setxattr("missing", "user.a", "1", 1, 0));
	mkfile("g", "", 0644);
	plist("fresh file list", listxattr("g", b, sizeof b), b);
	char big[70000];
	memset(big, 'v', sizeof big);
	res("value of 70000 bytes", setxattr("f", "user.big", big, sizeof big, 0));
	return 0;
}
