/* The names of path-bound Unix sockets (gouml documents that getsockname shows the
 * kernel's names: doc.go, "Known limits"). */
#include "conform.h"
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
	return 0;
}
