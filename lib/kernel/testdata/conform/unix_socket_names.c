/* The names of path-bound Unix sockets: getsockname, getpeername and the accepted socket's
 * name are the path as bound, relative or absolute (the kernel binds through names of its
 * own: socknames.go). */
#include "conform.h"
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX, .sun_path = "sock"};
	bind(s, (void *)&a, sizeof a);
	listen(s, 1);
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	connect(c, (void *)&a, sizeof a);
	struct sockaddr_un g;
	socklen_t l = sizeof g;
	memset(&g, 0, sizeof g);
	res("getsockname", getsockname(s, (void *)&g, &l));
	say("name: %s len: %d\n", g.sun_path, (int)l);
	l = sizeof g;
	memset(&g, 0, sizeof g);
	res("getpeername", getpeername(c, (void *)&g, &l));
	say("peer name: %s\n", g.sun_path);
	int acc = accept(s, (void *)&g, &l);
	res("accept", acc);
	l = sizeof g;
	memset(&g, 0, sizeof g);
	getsockname(acc, (void *)&g, &l);
	say("accepted socket's name: %s\n", g.sun_path);
	mkdir("sub", 0755);
	char abs[PATH_MAX];
	getcwd(abs, sizeof abs - 16);
	strcat(abs, "/sub/dgram");
	int d = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un da = {.sun_family = AF_UNIX};
	snprintf(da.sun_path, sizeof da.sun_path, "%s", abs);
	res("bind absolute", bind(d, (void *)&da, sizeof da));
	socklen_t want = offsetof(struct sockaddr_un, sun_path) + strlen(abs) + 1;
	l = sizeof g;
	memset(&g, 0, sizeof g);
	res("getsockname absolute", getsockname(d, (void *)&g, &l));
	say("same path: %s, length right: %s\n", strcmp(g.sun_path, abs) ? "no" : "yes", l == want ? "yes" : "no");
	l = 4;
	res("getsockname into 4 bytes", getsockname(d, (void *)&g, &l));
	say("full length reported: %s\n", l == want ? "yes" : "no");
	int e = socket(AF_UNIX, SOCK_DGRAM, 0);
	l = sizeof g;
	res("getsockname unbound", getsockname(e, (void *)&g, &l));
	say("unbound length: %d\n", (int)l);
	return 0;
}
