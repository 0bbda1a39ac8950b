/* getuid in a loop: a call gouml traps (credentials are the guest's own), unlike getppid,
 * which runs natively in the guest's PID namespace. Prints "getuid_us N". */
#include <stdio.h>
#include <time.h>
#include <unistd.h>
int main(void) {
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < 200000; i++) getuid();
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("getuid_us %.3f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 200000 / 1000.0);
	return 0;
}
