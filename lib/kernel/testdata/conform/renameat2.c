/* renameat2: RENAME_NOREPLACE and RENAME_EXCHANGE. */
#include "conform.h"

static long r2(const char *a, const char *b, unsigned flags)
{
	return syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, flags);
}

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkfile("a", "A\n", 0644);
	mkfile("b", "B\n", 0600);
	mkdir("d", 0755);
	res("NOREPLACE over existing", r2("a", "b", RENAME_NOREPLACE));
	res("NOREPLACE to new", r2("a", "c", RENAME_NOREPLACE));
	pcontent("c", "c");
	res("EXCHANGE files", r2("b", "c", RENAME_EXCHANGE));
	pcontent("b", "b");
	pcontent("c", "c");
	pstat("b", "b");
	res("EXCHANGE file and dir", r2("b", "d", RENAME_EXCHANGE));
	plstat("b now", "b");
	plstat("d now", "d");
	res("EXCHANGE with missing", r2("b", "missing", RENAME_EXCHANGE));
	res("both flags", r2("b", "d", RENAME_EXCHANGE | RENAME_NOREPLACE));
	res("unknown flag", r2("b", "d", 1 << 10));
	mkdir("p", 0755);
	mkdir("p/q", 0755);
	res("EXCHANGE dir with its subdir", r2("p", "p/q", RENAME_EXCHANGE));
	res("NOREPLACE dir onto itself", r2("p", "p", RENAME_NOREPLACE));
	res("EXCHANGE with itself", r2("p", "p", RENAME_EXCHANGE));
	return 0;
}
