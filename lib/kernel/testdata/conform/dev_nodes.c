/* /dev/null, /dev/zero, /dev/full, /dev/urandom, /dev/random: nodes and behaviour; /dev/tty
 * without a controlling terminal. */
#include "conform.h"
#include <sys/random.h>

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	const char *nodes[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"};
	for (int i = 0; i < 6; i++)
		pstat(nodes[i], nodes[i]);
	char b[64];
	int fd = open("/dev/null", O_RDWR);
	resv("null write", write(fd, "abc", 3));
	resv("null read", read(fd, b, sizeof b));
	resv("null lseek", lseek(fd, 100, SEEK_SET));
	close(fd);
	fd = open("/dev/zero", O_RDWR);
	memset(b, 1, sizeof b);
	resv("zero read", read(fd, b, sizeof b));
	int z = 1;
	for (int i = 0; i < 64; i++)
		z &= b[i] == 0;
	say("all zero: %s\n", yesno(z));
	resv("zero write", write(fd, "abc", 3));
	close(fd);
	fd = open("/dev/full", O_RDWR);
	resv("full write", write(fd, "abc", 3));
	resv("full read", read(fd, b, 8));
	close(fd);
	fd = open("/dev/urandom", O_RDONLY);
	memset(b, 0, sizeof b);
	resv("urandom read", read(fd, b, 16));
	z = 0;
	for (int i = 0; i < 16; i++)
		z |= b[i];
	say("not all zero: %s\n", yesno(z != 0));
	close(fd);
	fd = open("/dev/random", O_RDONLY | O_NONBLOCK);
	resv("random read", read(fd, b, 16));
	close(fd);
	resv("getrandom", getrandom(b, 16, 0));
	res("creat /dev/null with O_TRUNC", open("/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	pstat("/dev/null still", "/dev/null");
	res("truncate /dev/null", truncate("/dev/null", 0));
	resfd("O_DIRECTORY on /dev/null", open("/dev/null", O_RDONLY | O_DIRECTORY), 0);
	resfd("O_PATH|O_DIRECTORY on /dev/zero", open("/dev/zero", O_PATH | O_DIRECTORY), 0);
	resfd("O_DIRECTORY on /dev/tty", open("/dev/tty", O_RDONLY | O_DIRECTORY), 0);
	fd = open("/dev/null", O_RDONLY);
	pfstat("fstat of an fd of /dev/null", fd);
	close(fd);
	struct stat st;
	stat("/dev", &st);
	say("/dev is a dir: %s\n", yesno(S_ISDIR(st.st_mode)));
	res("access /dev/null W_OK", access("/dev/null", W_OK));
	res("open /dev/nonexistent", open("/dev/nonexistent", O_RDONLY));
	symlink("/dev/null", "n");
	fd = open("n", O_WRONLY);
	resv("write through symlink to /dev/null", write(fd, "x", 1));
	pstat("symlink to /dev/null", "n");
	/* /dev/tty of a process without a controlling terminal (a new session's) is ENXIO */
	fflush(stdout);
	pid_t child = fork();
	if (child == 0) {
		setsid();
		int t = open("/dev/tty", O_RDWR);
		printf("/dev/tty in a new session: %s\n", t < 0 ? errname(errno) : "opened");
		fflush(stdout);
		_exit(0);
	}
	waitpid(child, NULL, 0);
	return 0;
}
