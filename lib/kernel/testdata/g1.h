// g1 makes a system call from the shim's first syscall site (syscall; ret), as any guest
// code may. G1, the site's address, comes from the test; a program that includes this is
// built with -mno-red-zone, because it calls G1 with a call instruction.
#ifndef G1
#error G1 undefined
#endif

static long g1(long nr, long a0, long a1, long a2, long a3, long a4) {
	long ret;
	register long r10 __asm__("r10") = a3;
	register long r8 __asm__("r8") = a4;
	__asm__ volatile("call *%[site]"
			 : "=a"(ret)
			 : [site] "r"((long)G1), "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
}
