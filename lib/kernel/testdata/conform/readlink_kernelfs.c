/* readlink and realpath of the kernel's own files that are no links: /proc/sys and a sysctl
 * in it, /proc/cpuinfo, /dev/null give EINVAL (realpath(3) and so procps's sysctl -w rely
 * on it: they gave ENOENT), a missing name ENOENT, and the links among them still read.
 */
#include "conform.h"

static void one(const char *p)
{
	char b[PATH_MAX];
	ssize_t n = readlink(p, b, sizeof b);
	say("readlink %s: %s\n", p, n < 0 ? errname(errno) : "a link");
	char *r = realpath(p, NULL);
	say("realpath %s: %s\n", p, r ? r : errname(errno));
	free(r);
}

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	one("/proc/sys");
	one("/proc/sys/net/ipv4/ip_forward");
	one("/proc/sys/kernel/hostname");
	one("/proc/sys/nonexistent");
	one("/proc/cpuinfo");
	one("/dev/null");
	char b[PATH_MAX];
	say("readlink /proc/net: %s\n", readlink("/proc/net", b, sizeof b) == 8 ? "self/net" : errname(errno));
	return 0;
}
