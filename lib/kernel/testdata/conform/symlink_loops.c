/* Symlink loops and the limit of 40 links followed per lookup. */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	char a[32], b[32];
	symlink("self", "self");
	resfd("open self-loop", open("self", O_RDONLY), 0);
	pstat("stat self-loop", "self");
	plstat("lstat self-loop", "self");
	symlink("b", "a");
	symlink("a", "b");
	resfd("open a->b->a", open("a", O_RDONLY), 0);
	resfd("open a/x", open("a/x", O_RDONLY), 0);
	resfd("O_CREAT through loop", open("a", O_CREAT | O_WRONLY, 0644), 0);
	res("mkdir a/x", mkdir("a/x", 0755));
	mkfile("end", "end\n", 0644);
	/* c0 -> end, c1 -> c0, ... */
	symlink("end", "c0");
	for (int i = 1; i <= 41; i++) {
		snprintf(a, sizeof a, "c%d", i);
		snprintf(b, sizeof b, "c%d", i - 1);
		symlink(b, a);
	}
	pcontent("chain of 40", "c39");
	pcontent("chain of 41", "c40");
	pcontent("chain of 42", "c41");
	pstat("stat chain of 41", "c40");
	mkdir("d", 0755);
	symlink("d", "e0");
	for (int i = 1; i <= 41; i++) {
		snprintf(a, sizeof a, "e%d", i);
		snprintf(b, sizeof b, "e%d", i - 1);
		symlink(b, a);
	}
	res("mkdir under chain of 40", mkdir("e39/x", 0755));
	res("mkdir under chain of 41", mkdir("e40/y", 0755));
	res("chdir chain of 41", chdir("e40"));
	/* many short links in one path: 20 (not 40, the limit: Linux keeps counting the links of
	 * a lookup that restarts from RCU walk to ref walk, so on a busy host a path of exactly
	 * 40 links is ELOOP now and then, natively too), and 41 */
	symlink(".", "dot");
	char p[512] = "dot";
	for (int i = 0; i < 19; i++)
		strcat(p, "/dot");
	strcat(p, "/end");
	pcontent("20 links in one path", p);
	for (int i = 0; i < 21; i++) {
		memmove(p + 4, p, strlen(p) + 1);
		memcpy(p, "dot/", 4);
	}
	pcontent("41 links in one path", p);
	return 0;
}
