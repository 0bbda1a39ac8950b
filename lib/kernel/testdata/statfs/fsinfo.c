/* fsinfo prints, for each path argument, what statfs says of it that is the kernel's and not
 * the host's: the type, the name length and the flags (TestStatfsAgainstRealLinuxUML runs
 * it in linux.uml and in ours). */
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <sys/statfs.h>

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		struct statfs s;
		if (statfs(argv[i], &s) < 0) {
			printf("%s: %s\n", argv[i], strerror(errno));
			continue;
		}
		printf("%s: type %#lx namelen %ld flags %#lx\n", argv[i], (unsigned long)s.f_type, (long)s.f_namelen,
		       (unsigned long)s.f_flags);
	}
	return 0;
}
