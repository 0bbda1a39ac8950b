/* showexec prints what a program sees of its own exec (argv, /proc/self/cmdline, comm,
 * exe, AT_EXECFN); with "parent" it also runs itself as "child-name sleep" and prints what
 * /proc shows of that child. Built dynamic by TestLoaderVisibility (loader_test.go). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/auxv.h>
#include <sys/wait.h>
static void show(const char *label, const char *path, int nul)
{
	char b[512];
	int fd = open(path, O_RDONLY);
	int n = fd < 0 ? -1 : read(fd, b, sizeof b - 1);
	if (n < 0) { printf("%s: error\n", label); return; }
	for (int i = 0; i < n; i++) if (b[i] == 0 || b[i] == '\n') b[i] = nul ? ' ' : 0;
	b[n] = 0;
	printf("%s: %s\n", label, b);
	if (fd >= 0) close(fd);
}
int main(int argc, char **argv)
{
	char b[256], p[64];
	printf("argc=%d argv0=%s\n", argc, argv[0]);
	show("cmdline", "/proc/self/cmdline", 1);
	show("comm", "/proc/self/comm", 0);
	ssize_t n = readlink("/proc/self/exe", b, sizeof b - 1);
	b[n > 0 ? n : 0] = 0;
	printf("exe: %s\n", b);
	printf("execfn: %s\n", (char *)getauxval(AT_EXECFN));
	if (argc > 1 && !strcmp(argv[1], "parent")) {
		pid_t c = fork();
		if (c == 0) { execl(argv[0], "child-name", "sleep", NULL); _exit(1); }
		usleep(300000);
		snprintf(p, sizeof p, "/proc/%d/cmdline", c); show("child cmdline", p, 1);
		snprintf(p, sizeof p, "/proc/%d/comm", c); show("child comm", p, 0);
		snprintf(p, sizeof p, "/proc/%d/exe", c);
		n = readlink(p, b, sizeof b - 1); b[n > 0 ? n : 0] = 0; printf("child exe: %s\n", b);
		snprintf(p, sizeof p, "/proc/%d/stat", c); show("child stat", p, 0);
		kill(c, 9); wait(NULL);
	}
	if (argc > 1 && !strcmp(argv[1], "sleep")) sleep(10);
	return 0;
}
