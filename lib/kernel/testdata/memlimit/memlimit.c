/* memlimit tries allocations against a machine of mem=64M (TestMemLimit): one longer than
 * the machine's memory fails as under Linux's default overcommit heuristic, reservations
 * that are not charged (PROT_NONE, MAP_NORESERVE) and shorter ones succeed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void try(const char *label, size_t len, int prot, int flags)
{
	void *p = mmap(NULL, len, prot, flags, -1, 0);
	printf("%s: %s\n", label, p == MAP_FAILED ? strerror(errno) : "ok");
	if (p != MAP_FAILED)
		munmap(p, len);
}

int main(void)
{
	const int anon = MAP_PRIVATE | MAP_ANONYMOUS;
	try("private 150M", 150 << 20, PROT_READ | PROT_WRITE, anon);
	try("shared 150M", 150 << 20, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
	try("PROT_NONE 150M", 150 << 20, PROT_NONE, anon);
	try("MAP_NORESERVE 150M", 150 << 20, PROT_READ | PROT_WRITE, anon | MAP_NORESERVE);
	try("private 16M", 16 << 20, PROT_READ | PROT_WRITE, anon);
	void *m = malloc(150 << 20);
	printf("malloc 150M: %s\n", m ? "ok" : "failed");
	m = malloc(8 << 20);
	printf("malloc 8M: %s\n", m ? "ok" : "failed");
	void *b0 = sbrk(0);
	printf("sbrk 150M: %s\n", sbrk(150 << 20) == (void *)-1 ? strerror(errno) : "ok");
	printf("break kept: %s\n", sbrk(0) == b0 ? "yes" : "no");
	printf("sbrk 1M: %s\n", sbrk(1 << 20) == (void *)-1 ? strerror(errno) : "ok");
	return 0;
}
