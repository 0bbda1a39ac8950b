/* Asks the deliberately broken handler of a gouml_brokenhandler build (acct(2) opens its
 * argument as a host path) to open a host file, and says what happened. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc != 3) return 2;
	char req[4096];
	snprintf(req, sizeof req, "%s:%s", argv[2], argv[1]);
	long fd = syscall(SYS_acct, req);
	if (fd < 0) printf("%s %s: %s\n", argv[1], argv[2], strerror(errno));
	else printf("%s %s: opened\n", argv[1], argv[2]);
	return 0;
}
