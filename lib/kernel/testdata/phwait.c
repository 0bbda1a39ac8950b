// Waits, as a guest process, until the test has looked at the guest's tree from the host
// (TestPathPlaceholders): "/go" appears in the root.
#include <stdio.h>
#include <unistd.h>

int main(void) {
	printf("phwait: ready\n");
	fflush(stdout);
	while (access("/go", F_OK) != 0)
		usleep(10000);
	return 0;
}
