/* mmap of files: shared writes reach the file, private ones do not, msync, refusals. */
#include "conform.h"
#include <sys/mman.h>

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkfile("f", "abcdefgh", 0644);
	int fd = open("f", O_RDWR);
	char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	say("mmap shared: %s\n", m == MAP_FAILED ? errname(errno) : "ok");
	if (m == MAP_FAILED)
		return 1;
	say("mapped: %.8s\n", m);
	m[0] = 'A';
	res("msync", msync(m, 4096, MS_SYNC));
	pcontent("file after shared write", "f");
	pwrite(fd, "Z", 1, 1);
	say("mapping sees pwrite: %c\n", m[1]);
	munmap(m, 4096);
	char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	p[2] = 'P';
	pcontent("file after private write", "f");
	munmap(p, 4096);
	close(fd);
	fd = open("f", O_RDONLY);
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	say("shared writable map of O_RDONLY fd: %s\n", m == MAP_FAILED ? errname(errno) : "ok");
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	say("private writable map of O_RDONLY fd: %s\n", m == MAP_FAILED ? errname(errno) : "ok");
	close(fd);
	fd = open("f", O_WRONLY);
	m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	say("map of O_WRONLY fd: %s\n", m == MAP_FAILED ? errname(errno) : "ok");
	close(fd);
	mkdir("d", 0755);
	fd = open("d", O_RDONLY);
	m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	say("map of a directory: %s\n", m == MAP_FAILED ? errname(errno) : "ok");
	close(fd);
	/* grow through ftruncate, write through the mapping, read with read() */
	fd = open("g", O_RDWR | O_CREAT, 0644);
	ftruncate(fd, 8192);
	m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	memcpy(m + 4096, "page2", 5);
	res("msync MS_ASYNC", msync(m, 8192, MS_ASYNC));
	res("msync bad flags", msync(m, 8192, MS_SYNC | MS_ASYNC));
	char b[8] = {0};
	pread(fd, b, 5, 4096);
	say("read sees mapping: %s\n", b);
	munmap(m, 8192);
	close(fd);
	fd = open("g", O_RDONLY);
	pid_t c = fork();
	if (c == 0) {
		char *cm = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
		say("child mapping sees: %.5s\n", cm + 4096);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	int pp[2];
	pipe(pp);
	m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, pp[0], 0);
	say("map of a pipe: %s\n", m == MAP_FAILED ? errname(errno) : "ok");
	return 0;
}
