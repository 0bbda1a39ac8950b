/* Path-call microbenchmark (issue 18): the trapped path calls of find, du, grep -r, git status,
 * tar extract and rm -rf, on a tree of small files. Build static: gcc -O2 -static -o paths paths.c.
 * Run: paths TREE SCRATCH, where TREE holds dNN/eNN/fNN (run.sh makes it) and a symlink TREE/link
 * to TREE/d00, and SCRATCH is a writable directory. Prints "name microseconds-per-call" lines,
 * the best of ROUNDS passes over every file. ONLY (optional) runs the metrics whose names
 * contain it, e.g. fstatat to profile one call. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 5
#define MAXF 4096

static char *abs_[MAXF], *name_[MAXF], *link_[MAXF];
static char *dabs_[MAXF];
static int dir_[MAXF], nf, nlink, nd;

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static void die(const char *what, const char *p) {
	fprintf(stderr, "paths: %s %s: %m\n", what, p);
	exit(1);
}

/* collect TREE/dNN/eNN/fNN: absolute names, and a directory fd plus a name, as fts keeps them */
static void collect(const char *tree) {
	char p[4096];
	for (int d = 0; d < 100; d++)
		for (int e = 0; e < 100; e++) {
			snprintf(p, sizeof p, "%s/d%02d/e%02d", tree, d, e);
			int dfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (dfd < 0) {
				if (e == 0)
					d = 100; /* past the last dNN */
				break;
			}
			dabs_[nd++] = strdup(p);
			DIR *dir = fdopendir(dup(dfd));
			struct dirent *de;
			while (dir && (de = readdir(dir)) && nf < MAXF) {
				if (de->d_name[0] == '.')
					continue;
				snprintf(p, sizeof p, "%s/d%02d/e%02d/%s", tree, d, e, de->d_name);
				abs_[nf] = strdup(p);
				name_[nf] = strdup(de->d_name);
				dir_[nf] = dfd;
				if (d == 0) {
					snprintf(p, sizeof p, "%s/link/e%02d/%s", tree, e, de->d_name);
					link_[nlink++] = strdup(p);
				}
				nf++;
			}
			if (dir)
				closedir(dir);
		}
	if (nf == 0)
		die("no files below", tree);
}

/* ONLY (the third argument): run only the metrics whose names contain it (profiling one call) */
static const char *only;
static int want(const char *label) { return !only || strstr(label, only); }

#define BENCH(label, n, body)                                                   \
	do {                                                                    \
		if (!want(label))                                               \
			break;                                                  \
		double best = 1e9;                                              \
		for (int r = 0; r < ROUNDS; r++) {                              \
			double t = now();                                       \
			for (int i = 0; i < (n); i++) {                         \
				body;                                           \
			}                                                       \
			t = (now() - t) / (n);                                  \
			if (t < best)                                           \
				best = t;                                       \
		}                                                               \
		printf("%s %.3f\n", label, best * 1e6);                         \
		fflush(stdout);                                                 \
	} while (0)

int main(int argc, char **argv) {
	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: paths TREE SCRATCH [ONLY]\n");
		return 2;
	}
	if (argc == 4)
		only = argv[3];
	collect(argv[1]);
	struct stat st;
	BENCH("stat_abs_us", nf, if (stat(abs_[i], &st) < 0) die("stat", abs_[i]));
	BENCH("lstat_abs_us", nf, if (lstat(abs_[i], &st) < 0) die("lstat", abs_[i]));
	BENCH("fstatat_rel_us", nf,
	      if (fstatat(dir_[i], name_[i], &st, AT_SYMLINK_NOFOLLOW) < 0) die("fstatat", name_[i]));
	BENCH("stat_via_link_us", nlink, if (stat(link_[i], &st) < 0) die("stat", link_[i]));
	BENCH("open_abs_us", nf, {
		int fd = open(abs_[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die("open", abs_[i]);
		close(fd);
	});
	BENCH("openat_rel_us", nf, {
		int fd = openat(dir_[i], name_[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			die("openat", name_[i]);
		close(fd);
	});
	BENCH("opendir_abs_us", nd, {
		int fd = open(dabs_[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			die("open", dabs_[i]);
		close(fd);
	});
	BENCH("access_abs_us", nf, if (access(abs_[i], R_OK) < 0) die("access", abs_[i]));
	/* tar extract and rm -rf: create a file in a directory, then remove it */
	int sfd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		die("open", argv[2]);
	char nm[32], nm2[32];
	int tfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tfd < 0)
		die("open", argv[1]);
	char lb[64];
	BENCH("readlinkat_us", nf, if (readlinkat(tfd, "link", lb, sizeof lb) < 0) die("readlinkat", "link"));
	BENCH("mkdirat_rmdir_us", nf, {
		snprintf(nm, sizeof nm, "d%d", i);
		if (mkdirat(sfd, nm, 0755) < 0)
			die("mkdirat", nm);
		if (unlinkat(sfd, nm, AT_REMOVEDIR) < 0)
			die("rmdir", nm);
	});
	/* a shell's ">" on an existing file, then cp's and tar's O_CREAT without O_EXCL on new
	 * names (the first pass creates "w") */
	BENCH("creat_trunc_us", nf, {
		int fd = openat(sfd, "w", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			die("creat", "w");
		close(fd);
	});
	unlinkat(sfd, "w", 0);
	if (want("create_noexcl_us")) {
		double bn = 1e9;
		for (int r = 0; r < ROUNDS; r++) {
			double t = now();
			for (int i = 0; i < nf; i++) {
				snprintf(nm, sizeof nm, "c%d", i);
				int fd = openat(sfd, nm, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
				if (fd < 0)
					die("create", nm);
				close(fd);
			}
			t = (now() - t) / nf;
			if (t < bn)
				bn = t;
			for (int i = 0; i < nf; i++) {
				snprintf(nm, sizeof nm, "c%d", i);
				unlinkat(sfd, nm, 0);
			}
		}
		printf("create_noexcl_us %.3f\n", bn * 1e6);
	}
	if (want("renameat_us")) {
		double br = 1e9;
		for (int r = 0; r < ROUNDS; r++) {
			for (int i = 0; i < nf; i++) {
				snprintf(nm, sizeof nm, "r%d", i);
				int fd = openat(sfd, nm, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
				if (fd < 0)
					die("create", nm);
				close(fd);
			}
			double t = now();
			for (int i = 0; i < nf; i++) {
				snprintf(nm, sizeof nm, "r%d", i);
				snprintf(nm2, sizeof nm2, "s%d", i);
				if (renameat(sfd, nm, sfd, nm2) < 0)
					die("renameat", nm);
			}
			t = (now() - t) / nf;
			if (t < br)
				br = t;
			for (int i = 0; i < nf; i++) {
				snprintf(nm2, sizeof nm2, "s%d", i);
				unlinkat(sfd, nm2, 0);
			}
		}
		printf("renameat_us %.3f\n", br * 1e6);
	}
	if (!want("create_close_us unlinkat_us"))
		return 0;
	double bc = 1e9, bu = 1e9;
	for (int r = 0; r < ROUNDS; r++) {
		double t = now();
		for (int i = 0; i < nf; i++) {
			snprintf(nm, sizeof nm, "n%d", i);
			int fd = openat(sfd, nm, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
			if (fd < 0)
				die("create", nm);
			close(fd);
		}
		t = (now() - t) / nf;
		if (t < bc)
			bc = t;
		t = now();
		for (int i = 0; i < nf; i++) {
			snprintf(nm, sizeof nm, "n%d", i);
			if (unlinkat(sfd, nm, 0) < 0)
				die("unlinkat", nm);
		}
		t = (now() - t) / nf;
		if (t < bu)
			bu = t;
	}
	printf("create_close_us %.3f\nunlinkat_us %.3f\n", bc * 1e6, bu * 1e6);
	return 0;
}
