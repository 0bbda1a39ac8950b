/* Hammers the trapped open path (seccomp ADDFD): every open must give a valid fd for the
 * right file. Guards against the Go SIGURG pitfall (DESIGN.md), where an interrupted
 * ADDFD+SEND made open return 0 without installing anything. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 100000, bad = 0;
	struct stat want, got;
	if (stat("/etc/f", &want)) { perror("stat"); return 1; }
	for (int i = 0; i < n; i++) {
		int fd = open("/etc/f", O_RDONLY);
		if (fd < 3 || fstat(fd, &got) || got.st_ino != want.st_ino) bad++;
		char c = 0;
		if (fd >= 3 && (pread(fd, &c, 1, 0) != 1 || c != 'k')) bad++;
		close(fd);
	}
	printf("opens=%d bad=%d\n", n, bad);
	return 0;
}
