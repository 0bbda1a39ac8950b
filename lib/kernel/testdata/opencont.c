/* opencont: read-only opens as guest root, which the kernel lets run natively (opencont.go),
 * then as uid 1000, whose opens the kernel makes itself (TestOpenCont counts both with the
 * `debug` option's call counts). Each open's result is checked: the content read, or the
 * error an ordinary user must get. Usage: opencont N (N opens of each kind). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;

static void want(const char *what, const char *path, int flags, const char *content, int err)
{
	int fd = open(path, flags);
	if (fd < 0) {
		if (errno != err) {
			printf("%s %s: %s, want %s\n", what, path, strerror(errno), err ? strerror(err) : "success");
			failures++;
		}
		return;
	}
	if (err) {
		printf("%s %s: opened, want %s\n", what, path, strerror(err));
		failures++;
	} else if (content) {
		char b[64];
		ssize_t n = read(fd, b, sizeof b - 1);
		b[n < 0 ? 0 : n] = 0;
		if (strcmp(b, content)) {
			printf("%s %s: read \"%s\", want \"%s\"\n", what, path, b, content);
			failures++;
		}
	}
	close(fd);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100;
	for (int i = 0; i < n; i++) {
		want("root", "/oc/public", O_RDONLY, "public\n", 0);
		want("root", "/oc/private", O_RDONLY | O_CLOEXEC, "private\n", 0);
		want("root", "/oc", O_RDONLY | O_DIRECTORY, NULL, 0);
	}
	/* files the host gives other owners (the test chowns them on the host, as a Debian
	 * tree has them): guest root reads them all, whether or not the host would let the
	 * guest's own lookup through (the kernel opens those itself) */
	if (access("/oc/home", F_OK) == 0) {
		want("root", "/oc/home/secret", O_RDONLY, "user's\n", 0);
		want("root", "/oc/home/roots", O_RDONLY, "root's\n", 0);
		want("root", "/oc/home", O_RDONLY | O_DIRECTORY, NULL, 0);
		want("root", "/oc/grp", O_RDONLY, "grp\n", 0);
		want("root", "/oc/shut/f", O_RDONLY, "shut\n", 0);
		want("root", "/oc/shut", O_RDONLY | O_DIRECTORY, NULL, 0);
		want("root", "/oc/zero", O_RDONLY, "zero\n", 0);
		/* O_PATH, which the host opens for names it may reach (sys_file.go) */
		want("root", "/oc/home/secret", O_PATH, NULL, 0);
		want("root", "/oc/home/roots", O_PATH, NULL, 0);
		want("root", "/oc/shut/f", O_PATH, NULL, 0);
	}
	if (setgroups(0, NULL) < 0 || setgid(1000) < 0 || setuid(1000) < 0) {
		printf("becoming 1000: %s\n", strerror(errno));
		return 1;
	}
	for (int i = 0; i < n; i++) {
		want("user", "/oc/public", O_RDONLY, "public\n", 0);
		want("user", "/oc/private", O_RDONLY, NULL, EACCES);
		want("user", "/oc/closed/f", O_RDONLY, NULL, EACCES);
	}
	if (access("/oc/home", F_OK) == 0) {
		want("user", "/oc/home/secret", O_RDONLY, "user's\n", 0);
		want("user", "/oc/home/secret", O_PATH, NULL, 0);
		want("user", "/oc/shut/f", O_PATH, NULL, EACCES);
		want("user", "/oc/home/roots", O_RDONLY, NULL, EACCES);
		want("user", "/oc/grp", O_RDONLY, "grp\n", 0);
		want("user", "/oc/shut/f", O_RDONLY, NULL, EACCES);
		want("user", "/oc/zero", O_RDONLY, NULL, EACCES);
	}
	printf("opencont: %d failures\n", failures);
	return failures != 0;
}
