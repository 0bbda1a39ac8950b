/* Unix sockets bound on paths: the socket file, connect, errors, names. */
#include "conform.h"
#include <sys/socket.h>
#include <sys/un.h>

static struct sockaddr_un addr(const char *p)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	strncpy(a.sun_path, p, sizeof a.sun_path - 1);
	return a;
}

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = addr("sock");
	res("bind", bind(s, (void *)&a, sizeof a));
	pstat("socket file", "sock");
	res("listen", listen(s, 4));
	int s2 = socket(AF_UNIX, SOCK_STREAM, 0);
	res("bind existing path", bind(s2, (void *)&a, sizeof a));
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	res("connect", connect(c, (void *)&a, sizeof a));
	int acc = accept(s, NULL, NULL);
	res("accept", acc);
	resv("send", write(c, "hi", 2));
	char b[16] = {0};
	resv("recv", read(acc, b, sizeof b));
	struct sockaddr_un m = addr("missing");
	int c2 = socket(AF_UNIX, SOCK_STREAM, 0);
	res("connect missing", connect(c2, (void *)&m, sizeof m));
	mkfile("file", "", 0644);
	struct sockaddr_un f = addr("file");
	res("connect to a regular file", connect(c2, (void *)&f, sizeof f));
	int d = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un da = addr("dgram");
	res("bind dgram", bind(d, (void *)&da, sizeof da));
	res("connect stream to dgram socket", connect(c2, (void *)&da, sizeof da));
	int ds = socket(AF_UNIX, SOCK_DGRAM, 0);
	resv("sendto path", sendto(ds, "dg", 2, 0, (void *)&da, sizeof da));
	memset(b, 0, sizeof b);
	resv("recv dgram", recv(d, b, sizeof b, 0));
	struct sockaddr_un nd = addr("nodir/s");
	res("bind in missing dir", bind(socket(AF_UNIX, SOCK_STREAM, 0), (void *)&nd, sizeof nd));
	mkdir("sub", 0755);
	struct sockaddr_un sa = addr("sub/s");
	int s3 = socket(AF_UNIX, SOCK_STREAM, 0);
	res("bind in subdir", bind(s3, (void *)&sa, sizeof sa));
	listen(s3, 1);
	chdir("sub");
	struct sockaddr_un rel = addr("s");
	int c3 = socket(AF_UNIX, SOCK_STREAM, 0);
	res("connect relative to new cwd", connect(c3, (void *)&rel, sizeof rel));
	chdir("..");
	close(s);
	res("unlink socket", unlink("sock"));
	int s4 = socket(AF_UNIX, SOCK_STREAM, 0);
	res("bind again after unlink", bind(s4, (void *)&a, sizeof a));
	resfd("open socket file", open("sock", O_RDONLY), 0);
	symlink("sock", "lsock");
	listen(s4, 1);
	int c4 = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un la = addr("lsock");
	res("connect through symlink", connect(c4, (void *)&la, sizeof la));
	int s5 = socket(AF_UNIX, SOCK_STREAM, 0);
	res("bind on a symlink name", bind(s5, (void *)&la, sizeof la));
	return 0;
}
