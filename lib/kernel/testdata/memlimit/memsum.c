/* memsum makes three processes hold 30 MB each, more than a machine of mem=64M has
 * (TestMemLimitSum): the kernel's OOM killer must kill one; this program reports which
 * signal ended the first child to end, then ends the others. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	pid_t kids[3];
	for (int i = 0; i < 3; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			volatile char *p = malloc(30 << 20);
			if (!p)
				_exit(2);
			for (int j = 0; j < 30 << 20; j += 4096)
				p[j] = 1; /* volatile: the pages are really touched */
			for (;;)
				pause();
		}
	}
	int st;
	pid_t first = wait(&st);
	printf("first child ended: %s\n", WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "by itself");
	for (int i = 0; i < 3; i++)
		if (kids[i] != first)
			kill(kids[i], SIGKILL);
	while (wait(NULL) > 0)
		;
	return 0;
}
