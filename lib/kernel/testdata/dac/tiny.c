/* The program the matrix executes: exits 0 at once (no libc, a few hundred bytes). */
void _start(void)
{
	__asm__ volatile("mov $60, %eax\n\txor %edi, %edi\n\tsyscall");
}
