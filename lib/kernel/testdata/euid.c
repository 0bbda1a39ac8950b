/* Prints the caller's ids; "drop" first becomes uid/gid 1000 and then runs /suid, a
 * set-user-ID-root copy of this program (TestMkrootfsOwnersAndSetuid). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
	if (argc > 1 && strcmp(argv[1], "drop") == 0) {
		if (setgid(1000) || setuid(1000)) { perror("setuid"); return 1; }
		printf("dropped uid=%d euid=%d\n", getuid(), geteuid());
		fflush(stdout);
		execl("/suid", "suid", (char *)0);
		perror("exec");
		return 1;
	}
	printf("%s uid=%d euid=%d gid=%d egid=%d\n", argv[0], getuid(), geteuid(), getgid(), getegid());
	return 0;
}
