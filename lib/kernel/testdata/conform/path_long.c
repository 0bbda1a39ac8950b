/* ENAMETOOLONG: long components, long paths, long symlink targets; deep directories. */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	char name[300];
	memset(name, 'n', 255);
	name[255] = 0;
	resfd("255-byte name", open(name, O_CREAT | O_WRONLY, 0644), 0);
	pstat("stat it", name);
	name[255] = 'n';
	name[256] = 0;
	resfd("256-byte name", open(name, O_CREAT | O_WRONLY, 0644), 0);
	res("mkdir 256-byte name", mkdir(name, 0755));
	res("stat 256-byte name", access(name, F_OK));
	static char path[8192];
	strcpy(path, ".");
	while (strlen(path) < 4100)
		strcat(path, "/.");
	pstat("path of 4101 bytes", path);
	path[4095] = 0;
	if (path[4094] == '/')
		path[4094] = '.';
	pstat("path of 4095 bytes", path);
	static char target[5000];
	memset(target, 't', 4095);
	target[4095] = 0;
	res("symlink target of 4095", symlink(target, "l4095"));
	target[4095] = 't';
	target[4096] = 0;
	res("symlink target of 4096", symlink(target, "l4096"));
	char b[8192];
	resv("readlink of 4095", readlink("l4095", b, sizeof b));
	/* 40 levels of 100-byte names: over PATH_MAX in total, reachable relatively */
	char comp[101];
	memset(comp, 'd', 100);
	comp[100] = 0;
	int ok = 1;
	for (int i = 0; i < 45 && ok; i++)
		ok = mkdir(comp, 0755) == 0 && chdir(comp) == 0;
	say("45 levels made: %s\n", yesno(ok));
	mkfile("deep", "deep\n", 0644);
	pcontent("deep file", "deep");
	char *cwd = getcwd(b, sizeof b);
	say("getcwd over PATH_MAX: %s\n", cwd ? "ok" : errname(errno));
	cwd = getcwd(b, 100);
	say("getcwd into 100 bytes: %s\n", cwd ? "ok" : errname(errno));
	return 0;
}
