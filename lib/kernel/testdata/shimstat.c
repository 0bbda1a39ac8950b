// The shim's stat path (lib/kernel/shimstat.go), run as a guest by TestShimStat. Each file
// named on the command line is stat'ed by path (the kernel's answer) and through fds (fstat
// and newfstatat(fd, "", AT_EMPTY_PATH), which the shim answers for files of the root
// tree): every byte must be the same. Then what a hostile guest may try against the path:
// rewriting the sealed page with the attribute names, reading other attributes or stat'ing
// paths from the shim's own syscall site, a path that turns from "" into a name while the
// shim looks, an fd swapped while the shim works, forged data in the shim's page.
// G1 (the address of the shim's first syscall site) and SHIM_ADDR come from the test, and
// the program is built with -mno-red-zone because it calls G1 with a call instruction.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "g1.h"

#include "check.h"

static void show(const char *what, const struct stat *s) {
	printf("  %s: dev=%#lx ino=%lu mode=%o uid=%u gid=%u rdev=%#lx size=%ld nlink=%lu\n", what, (unsigned long)s->st_dev,
	       (unsigned long)s->st_ino, s->st_mode, s->st_uid, s->st_gid, (unsigned long)s->st_rdev, (long)s->st_size,
	       (unsigned long)s->st_nlink);
}

// same compares two answers byte for byte (the times too: nothing here touches the files).
static void same(const char *path, const char *how, const struct stat *want, const struct stat *got) {
	if (memcmp(want, got, sizeof *want) != 0) {
		printf("FAIL %s: %s differs from stat by path\n", path, how);
		show("path", want);
		show(how, got);
		fails++;
	}
}

static void compare(const char *path) {
	struct stat want, got;
	int link = 0;
	if (syscall(SYS_lstat, path, &want) != 0) {
		printf("FAIL %s: lstat: %s\n", path, strerror(errno));
		fails++;
		return;
	}
	link = S_ISLNK(want.st_mode);
	if (!link && syscall(SYS_stat, path, &want) != 0) {
		printf("FAIL %s: stat: %s\n", path, strerror(errno));
		fails++;
		return;
	}
	int flags[] = {O_RDONLY | O_NONBLOCK, O_PATH, O_PATH | O_NOFOLLOW};
	for (int i = 0; i < 3; i++) {
		if (link && !(flags[i] & O_NOFOLLOW))
			continue;
		if (!link && (flags[i] & O_NOFOLLOW))
			continue;
		// a device node opens the kernel's device: only its O_PATH fd is the node
		if ((S_ISCHR(want.st_mode) || S_ISBLK(want.st_mode)) && !(flags[i] & O_PATH))
			continue;
		int fd = open(path, flags[i]);
		if (fd < 0) {
			if (flags[i] == (O_RDONLY | O_NONBLOCK) && (errno == EACCES || errno == EISDIR || errno == ENXIO))
				continue;
			printf("FAIL %s: open %#x: %s\n", path, flags[i], strerror(errno));
			fails++;
			continue;
		}
		memset(&got, 0xa5, sizeof got);
		CHECK(syscall(SYS_fstat, fd, &got) == 0, "%s: fstat: %s", path, strerror(errno));
		same(path, flags[i] & O_PATH ? "fstat(O_PATH)" : "fstat", &want, &got);
		memset(&got, 0x5a, sizeof got);
		CHECK(syscall(SYS_newfstatat, fd, "", &got, AT_EMPTY_PATH) == 0, "%s: newfstatat: %s", path, strerror(errno));
		same(path, "newfstatat(fd, \"\")", &want, &got);
		memset(&got, 0x33, sizeof got);
		CHECK(syscall(SYS_newfstatat, fd, "", &got, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0, "%s: newfstatat nofollow: %s",
		      path, strerror(errno));
		same(path, "newfstatat(fd, \"\", NOFOLLOW)", &want, &got);
		close(fd);
	}
}

// errors are Linux's: a bad buffer, a bad path pointer, a bad fd, bad flags, a name after
// AT_EMPTY_PATH (resolved against the fd, by the kernel)
static void errors(void) {
	int fd = open("/st/plain", O_RDONLY);
	struct stat st, byname;
	CHECK(syscall(SYS_fstat, fd, (void *)8) == -1 && errno == EFAULT, "fstat bad buffer: %s", strerror(errno));
	void *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(syscall(SYS_fstat, fd, ro) == -1 && errno == EFAULT, "fstat read-only buffer: %s", strerror(errno));
	CHECK(syscall(SYS_newfstatat, fd, (void *)8, &st, AT_EMPTY_PATH) == -1 && errno == EFAULT, "bad path: %s",
	      strerror(errno));
	void *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(syscall(SYS_newfstatat, fd, none, &st, AT_EMPTY_PATH) == -1 && errno == EFAULT, "PROT_NONE path: %s",
	      strerror(errno));
	CHECK(syscall(SYS_fstat, 999, &st) == -1 && errno == EBADF, "fstat bad fd: %s", strerror(errno));
	CHECK(syscall(SYS_fstat, -1, &st) == -1 && errno == EBADF, "fstat fd -1: %s", strerror(errno));
	CHECK(syscall(SYS_newfstatat, fd, "", &st, AT_EMPTY_PATH | 0x4000000) == -1 && errno == EINVAL, "bad flags: %s",
	      strerror(errno));
	int dir = open("/st", O_RDONLY | O_DIRECTORY);
	CHECK(syscall(SYS_newfstatat, dir, "owned", &st, AT_EMPTY_PATH) == 0 && stat("/st/owned", &byname) == 0 &&
		      memcmp(&st, &byname, sizeof st) == 0,
	      "a name with AT_EMPTY_PATH is resolved against the fd");
	CHECK(syscall(SYS_newfstatat, AT_FDCWD, "", &st, AT_EMPTY_PATH) == 0 && stat(".", &byname) == 0 &&
		      st.st_ino == byname.st_ino,
	      "AT_FDCWD with \"\": the cwd");
	close(dir);
	close(fd);
}

// the kernel's objects are not the root tree's: their stat stays the kernel's
static void kernels(void) {
	const char *paths[] = {"/dev/null", "/dev/zero", "/dev/console", NULL};
	for (int i = 0; paths[i]; i++) {
		struct stat want, got;
		int fd = open(paths[i], O_RDONLY | O_NONBLOCK | O_NOCTTY);
		if (fd < 0 || stat(paths[i], &want) != 0) {
			printf("FAIL %s: %s\n", paths[i], strerror(errno));
			fails++;
			continue;
		}
		CHECK(syscall(SYS_fstat, fd, &got) == 0, "fstat %s", paths[i]);
		same(paths[i], "fstat", &want, &got);
		close(fd);
	}
}

// the page with the attribute names is sealed: no guest can make the filter's trusted
// pointers name another attribute
static void sealed(void) {
	void *p0 = (void *)SHIM_ADDR;
	CHECK(mprotect(p0, 4096, PROT_READ | PROT_WRITE) == -1 && errno == EPERM, "mprotect of page 0: %s", strerror(errno));
	CHECK(munmap(p0, 4096) == -1 && errno == EPERM, "munmap of page 0: %s", strerror(errno));
	CHECK(mmap(p0, 4096, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED && errno == EPERM,
	      "mmap over page 0: %s", strerror(errno));
	CHECK(mremap(p0, 4096, 8192, 0) == MAP_FAILED, "mremap of page 0");
	CHECK(madvise(p0, 4096, MADV_DONTNEED) == -1 && errno == EPERM, "madvise(DONTNEED) of page 0: %s", strerror(errno));
	CHECK(strcmp((char *)SHIM_ADDR + XNAMES, "user.gouml.uid") == 0, "the first name is %s", (char *)SHIM_ADDR + XNAMES);
}

// what the shim's first site lets any guest code do, as another guest user
static void fromsite(void) {
	int fd = open("/st/private/secret", O_RDONLY); // as root
	CHECK(fd >= 0, "open /st/private/secret: %s", strerror(errno));
	CHECK(fsetxattr(fd, "trusted.secret", "guest-root-only", 15, 0) == 0, "set trusted.secret: %s", strerror(errno));
	pid_t pid = fork();
	if (pid == 0) {
		if (setgid(1000) != 0 || setuid(1000) != 0)
			_exit(2);
		char v[64];
		char name[] = "user.gouml.x.trusted.secret"; // how the host keeps the guest's trusted.*
		long r = g1(SYS_fgetxattr, fd, (long)name, (long)v, sizeof v, 0);
		CHECK(r < 0, "G1 fgetxattr of another name read %ld bytes", r);
		r = g1(SYS_fgetxattr, fd, (long)"user.gouml.uid", (long)v, sizeof v, 0);
		CHECK(r == -ENODATA, "G1 fgetxattr of a name outside page 0: %ld", r);
		r = g1(SYS_fgetxattr, fd, SHIM_ADDR + XNAMES, (long)v, sizeof v, 0); // allowed: the file's owner
		CHECK(r == 1 && v[0] == '0', "G1 fgetxattr of page 0's uid name: %ld", r);
		struct statx stx;
		r = g1(SYS_statx, AT_FDCWD, (long)"/st/private/secret", 0, 0x7ff, (long)&stx);
		CHECK(r == -EACCES, "G1 statx of a path in a directory user 1000 cannot search: %ld", r);
		struct stat st;
		r = g1(SYS_newfstatat, AT_FDCWD, (long)"/st/private/secret", (long)&st, 0, 0);
		CHECK(r == -EACCES, "G1 newfstatat of that path: %ld", r);
		r = g1(SYS_newfstatat, AT_FDCWD, (long)"/st/private/secret", (long)&st, AT_EMPTY_PATH, 0);
		CHECK(r == -EACCES, "G1 newfstatat of that path with AT_EMPTY_PATH: %ld", r);
		r = g1(SYS_statx, fd, 0, AT_EMPTY_PATH, 0x7ff, (long)&stx); // allowed: the fd it holds
		CHECK(r == 0, "G1 statx of its own fd: %ld", r);
		fflush(stdout);
		_exit(fails ? 1 : 0);
	}
	int status;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the user-1000 child: status %#x", status);
	close(fd);
}

// a path that turns from "" into the name of a file the caller cannot reach: the caller gets
// its fd's stat or the kernel's refusal, never that file's stat
static char flip[64];
static volatile int stop;
static void *flipper(void *arg) {
	(void)arg;
	while (!stop) {
		strcpy(flip, "/st/private/secret");
		flip[0] = 0;
	}
	return NULL;
}

// an fd that a thread swaps between a root file and /dev/null
static int swapfd;
static void *swapper(void *arg) {
	int a = ((int *)arg)[0], b = ((int *)arg)[1];
	while (!stop) {
		dup2(a, swapfd);
		dup2(b, swapfd);
	}
	return NULL;
}

static void races(void) {
	struct stat secret, plain, null;
	stat("/st/private/secret", &secret);
	stat("/st/plain", &plain);
	stat("/dev/null", &null);
	pid_t pid = fork();
	if (pid == 0) {
		if (setgid(1000) != 0 || setuid(1000) != 0)
			_exit(2);
		int fd = open("/st/plain", O_RDONLY);
		pthread_t th;
		pthread_create(&th, NULL, flipper, NULL);
		int leaked = 0, ok = 0, refused = 0;
		for (int i = 0; i < 20000; i++) {
			struct stat st;
			long r = syscall(SYS_newfstatat, fd, flip, &st, AT_EMPTY_PATH);
			if (r == 0 && st.st_ino == secret.st_ino)
				leaked++;
			else if (r == 0)
				ok++;
			else
				refused++;
		}
		stop = 1;
		pthread_join(th, NULL);
		CHECK(leaked == 0, "the flipped path leaked the secret's stat %d times (ok %d, refused %d)", leaked, ok, refused);
		fflush(stdout);
		_exit(fails ? 1 : 0);
	}
	int status;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the flipping child: status %#x", status);

	int fds[2] = {open("/st/plain", O_RDONLY), open("/dev/null", O_RDONLY)};
	swapfd = open("/st/plain", O_RDONLY);
	stop = 0;
	pthread_t th;
	pthread_create(&th, NULL, swapper, fds);
	int other = 0;
	for (int i = 0; i < 20000; i++) {
		struct stat st;
		if (syscall(SYS_fstat, swapfd, &st) == 0 && st.st_ino != plain.st_ino && st.st_ino != null.st_ino)
			other++;
	}
	stop = 1;
	pthread_join(th, NULL);
	CHECK(other == 0, "fstat of a swapped fd named another file %d times", other);
}

// page 1 is the guest's: what it writes there changes only what it is told about itself
static void forged(void) {
	int fd = open("/st/plain", O_RDONLY);
	struct stat want, got;
	stat("/st/plain", &want);
	uint64_t *sd = (uint64_t *)(SHIM_ADDR + 4096 + STATOFF);
	uint64_t saved[4] = {sd[0], sd[1], sd[2], sd[3]};
	sd[1] = want.st_dev, sd[2] = 0x1234; // "the image root's device"
	syscall(SYS_fstat, fd, &got);
	CHECK(got.st_dev == 0x1234, "a forged device: %#lx (the shim answered?)", (unsigned long)got.st_dev);
	sd[1] = 0;
	sd[3] = 1000; // more excluded inodes than there are: to the kernel
	CHECK(syscall(SYS_fstat, fd, &got) == 0 && memcmp(&got, &want, sizeof got) == 0, "a forged count");
	sd[3] = 0;
	sd[0] = 0; // no stat path: to the kernel
	CHECK(syscall(SYS_fstat, fd, &got) == 0 && memcmp(&got, &want, sizeof got) == 0, "no stat path");
	sd[0] = 12345; // another mount: to the kernel
	CHECK(syscall(SYS_fstat, fd, &got) == 0 && memcmp(&got, &want, sizeof got) == 0, "another mount");
	memcpy(sd, saved, sizeof saved);
	close(fd);
}

int main(int argc, char **argv) {
	if (argc > 1 && strcmp(argv[1], "loop") == 0) {
		// many fstats of one file: the test counts how many reached the kernel
		int fd = open(argv[2], O_RDONLY);
		struct stat st;
		for (int i = 0; i < 5000; i++)
			if (fstat(fd, &st) != 0)
				return 1;
		printf("loop done\n");
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "escapes") == 0) {
		sealed();
		fromsite();
		races();
		forged();
	} else {
		for (int i = 1; i < argc; i++)
			compare(argv[i]);
		errors();
		kernels();
	}
	printf("shimstat: %d failures\n", fails);
	return fails != 0;
}
