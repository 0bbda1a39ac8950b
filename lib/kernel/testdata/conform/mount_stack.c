/* Mounts stacked on one mount point: a bind onto a bind, a tmpfs onto a tmpfs and onto a
 * bind, each new one on top (the files of the one below hidden, not gone), umount uncovering
 * them in the reverse order; a mount over the parent of another mount hides that one too,
 * a lazy umount takes the mounts in it along, and a tmpfs on procfs mounted elsewhere hides
 * its files; /proc/self/mountinfo lists every layer, each one's parent the mount below it. */
#include "conform.h"
#include <sys/mount.h>

static char cwd[PATH_MAX];

/* pinfo prints the mountinfo lines of the mounts below the scratch directory in order: the
 * mount point relative to it, the root's last component ("/" for a new file system, the
 * bound directory's name for a bind) and which of the listed lines is its parent ("-" for a
 * mount outside the scratch directory). Ids, devices and a bind's type (the host's file
 * system natively) differ between the machines. */
static void pinfo(const char *label)
{
	char line[2048];
	int ids[64], n = 0;
	FILE *f = fopen("/proc/self/mountinfo", "r");
	size_t cl = strlen(cwd);
	while (f && fgets(line, sizeof line, f)) {
		int id, parent;
		char root[PATH_MAX], at[PATH_MAX];
		if (sscanf(line, "%d %d %*s %s %s", &id, &parent, root, at) != 4)
			continue;
		if (strncmp(at, cwd, cl) || at[cl] != '/')
			continue;
		const char *r = strrchr(root, '/');
		int p = -1;
		for (int i = 0; i < n; i++)
			if (ids[i] == parent)
				p = i;
		if (n < 64)
			ids[n] = id;
		if (p < 0)
			printf("%s: %d %s root=%s parent=-\n", label, n, at + cl + 1, r);
		else
			printf("%s: %d %s root=%s parent=%d\n", label, n, at + cl + 1, r, p);
		n++;
	}
	if (f)
		fclose(f);
	if (n == 0)
		printf("%s: none\n", label);
}

static void there(const char *label, const char *p)
{
	say("%s: %s\n", label, access(p, F_OK) == 0 ? "there" : errname(errno));
}

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	if (!getcwd(cwd, sizeof cwd))
		return 1;
	mkdir("one", 0755);
	mkdir("two", 0755);
	mkdir("m", 0755);
	mkfile("one/1", "one\n", 0644);
	mkfile("two/2", "two\n", 0644);
	mkfile("m/own", "own\n", 0644);

	/* a bind onto a bind */
	res("bind one on m", mount("one", "m", NULL, MS_BIND, NULL));
	res("bind two on m", mount("two", "m", NULL, MS_BIND, NULL));
	there("m/2", "m/2");
	there("m/1 (covered)", "m/1");
	pinfo("two binds");
	/* a tmpfs on top of both */
	res("tmpfs on m", mount("tmpfs", "m", "tmpfs", 0, "size=1m"));
	mkfile("m/t", "t\n", 0644);
	there("m/2 under the tmpfs", "m/2");
	pinfo("binds and tmpfs");
	/* a tmpfs onto that tmpfs */
	res("tmpfs on the tmpfs", mount("tmpfs", "m", "tmpfs", 0, "size=1m"));
	there("m/t (covered)", "m/t");
	pinfo("two tmpfs");
	res("umount top tmpfs", umount("m"));
	there("m/t again", "m/t");
	res("umount tmpfs", umount("m"));
	there("m/2 again", "m/2");
	there("m/t gone", "m/t");
	res("umount two", umount("m"));
	there("m/1 again", "m/1");
	res("umount one", umount("m"));
	there("m/own again", "m/own");
	res("umount the bare directory", umount("m"));
	pinfo("all gone");

	/* a mount over the parent of another mount hides it, and umount needs the top gone */
	mkdir("p", 0755);
	res("tmpfs on p", mount("tmpfs", "p", "tmpfs", 0, NULL));
	mkdir("p/x", 0755);
	res("bind one on p/x", mount("one", "p/x", NULL, MS_BIND, NULL));
	there("p/x/1", "p/x/1");
	res("tmpfs over p", mount("tmpfs", "p", "tmpfs", 0, NULL));
	there("p/x (hidden)", "p/x");
	res("umount p/x (not a mount now)", umount("p/x"));
	mkdir("p/x", 0755);
	res("bind two on p/x of the top", mount("two", "p/x", NULL, MS_BIND, NULL));
	pinfo("over the parent");
	res("umount the top's p/x", umount("p/x"));
	there("p/x/2 gone", "p/x/2");
	res("umount top p", umount("p"));
	there("p/x/1 back", "p/x/1");
	res("umount p with p/x mounted", umount("p"));
	res("umount p/x", umount("p/x"));
	res("umount p", umount("p"));
	/* a lazy umount takes what is mounted in the mount along */
	mkdir("z", 0755);
	res("tmpfs on z", mount("tmpfs", "z", "tmpfs", 0, NULL));
	mkdir("z/in", 0755);
	res("bind one on z/in", mount("one", "z/in", NULL, MS_BIND, NULL));
	res("tmpfs on z/in", mount("tmpfs", "z/in", "tmpfs", 0, NULL));
	res("umount z (busy)", umount("z"));
	res("umount -l z", umount2("z", MNT_DETACH));
	there("z/in after", "z/in");
	res("umount z/in after", umount("z/in"));
	pinfo("after the lazy umount");

	/* a tmpfs on procfs mounted elsewhere hides the kernel's files there too */
	mkdir("k", 0755);
	res("proc on k", mount("proc", "k", "proc", 0, NULL));
	there("k/self", "k/self");
	res("tmpfs on the proc", mount("tmpfs", "k", "tmpfs", 0, NULL));
	there("k/self under the tmpfs", "k/self");
	pinfo("proc and tmpfs");
	res("umount the tmpfs on proc", umount("k"));
	there("k/self again", "k/self");
	res("umount proc", umount("k"));
	pinfo("the end");
	return 0;
}
