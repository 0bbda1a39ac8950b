/* hostfs escape attempts, included by escape.c. The machine runs with hostfs=LAB, where LAB
 * (a host directory beside the guest root) holds "rw" and "ro": rw/f ("lab"), rw/sub/s,
 * rw/abs -> HOSTDIR/secret (an absolute host path), rw/rel -> ../../secret, rw/up -> ../..,
 * rw/hsw (a host-side thread swaps it between a directory and a symlink to HOSTDIR while the
 * guest runs), ro/f, ro/sub/s, and with HOSTMNT=1 a host tmpfs mounted at ro/mnt holding w.
 * Nothing outside LAB may be read or changed, and nothing below LAB/ro may change at all: the
 * test judges both on the host too. */

static long openat2_(int dirfd, const char *p, unsigned long long resolve)
{
	struct { unsigned long long flags, mode, resolve; } how = {O_RDONLY, 0, resolve};
	return syscall(SYS_openat2, dirfd, p, &how, sizeof how);
}

/* openat2_secret: an openat2 with these RESOLVE flags must not read the secret */
static void openat2_secret(const char *n, int dirfd, const char *p, unsigned long long resolve)
{
	long fd = openat2_(dirfd, p, resolve);
	if (fd >= 0 && secret_fd(fd)) esc(n, p); else ok(n);
	if (fd >= 0) close(fd);
}

/* a child swaps the symlink "link" in dir between "good" and "bad" while the caller opens
 * link/secret; no open may read the host's secret */
static void swap_race(const char *n, const char *dir, const char *good, const char *bad)
{
	char link[256], tmp[256], p[256];
	snprintf(link, sizeof link, "%s/sw", dir);
	snprintf(tmp, sizeof tmp, "%s/sw.new", dir);
	snprintf(p, sizeof p, "%s/sw/secret", dir);
	symlink(good, link);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		for (int i = 0; i < 5000; i++) {
			unlink(tmp);
			symlink(i % 2 ? good : bad, tmp);
			rename(tmp, link);
		}
		_exit(0);
	}
	int bad_opens = 0;
	for (int i = 0; i < 5000; i++) {
		int fd = open(p, O_RDONLY);
		if (fd >= 0) { if (secret_fd(fd)) bad_opens++; close(fd); }
	}
	kill(c, SIGKILL);
	waitpid(c, 0, 0);
	if (bad_opens) { snprintf(buf, sizeof buf, "%d opens", bad_opens); esc(n, buf); } else ok(n);
}

/* the ways out of a writable hostfs mount at /h */
static void hostfs_rw(void)
{
	char p[512];
	try_open("hostfs-dotdot", AT_FDCWD, "/h/../secret");
	try_open("hostfs-dotdot-many", AT_FDCWD, "/h/../../../../../../secret");
	int hfd = open("/h", O_RDONLY | O_DIRECTORY);
	try_open("hostfs-dirfd-dotdot", hfd, "../secret");
	try_open("hostfs-dirfd-dotdot-many", hfd, "../../../../secret");
	int sfd = open("/h/sub", O_RDONLY | O_DIRECTORY);
	try_open("hostfs-subdirfd-dotdot", sfd, "../../../secret");
	chdir("/h/sub");
	try_open("hostfs-cwd-dotdot", AT_FDCWD, "../../../../../secret");
	chdir("/");
	try_open("hostfs-symlink-abs", AT_FDCWD, "/h/abs");
	try_open("hostfs-symlink-rel", AT_FDCWD, "/h/rel");
	try_open("hostfs-symlink-up", AT_FDCWD, "/h/up/secret");
	try_open("hostfs-symlink-up-dotdot", AT_FDCWD, "/h/up/../secret");
	try_open("hostfs-symlink-dirfd", sfd, "../rel");
	symlink(hostdir, "/h/hd");
	try_open("hostfs-symlink-hostdir", AT_FDCWD, "/h/hd/secret");
	symlink("../../../../../../..", "/h/deep");
	try_open("hostfs-symlink-deep", AT_FDCWD, "/h/deep/secret");
	snprintf(p, sizeof p, "/proc/self/fd/%d/../secret", hfd);
	try_open("hostfs-proc-fd-dotdot", AT_FDCWD, p);
	snprintf(p, sizeof p, "/proc/self/fd/%d/rel", hfd);
	try_open("hostfs-proc-fd-symlink", AT_FDCWD, p);
	snprintf(p, sizeof p, "/proc/self/fd/%d/../../secret", sfd);
	try_open("hostfs-proc-subfd-dotdot", AT_FDCWD, p);
	try_open("hostfs-proc-cwd", AT_FDCWD, "/proc/self/cwd/h/../../secret");
	/* openat2's own resolution, from a dirfd on the mount (the kernel does not model the
	 * guest's RESOLVE scoping yet: Linux's EXDEV and ELOOP are ENOENT here, so only what
	 * is opened is judged) */
	openat2_secret("hostfs-openat2-beneath", hfd, "../secret", RESOLVE_BENEATH);
	openat2_secret("hostfs-openat2-in-root", hfd, "../../secret", RESOLVE_IN_ROOT);
	openat2_secret("hostfs-openat2-in-root-abs", hfd, "abs", RESOLVE_IN_ROOT);
	openat2_secret("hostfs-openat2-in-root-rel", hfd, "rel", RESOLVE_IN_ROOT);
	openat2_secret("hostfs-openat2-no-symlinks", hfd, "rel", RESOLVE_NO_SYMLINKS);
	openat2_secret("hostfs-openat2-no-xdev", hfd, "../secret", RESOLVE_NO_XDEV);
	openat2_secret("hostfs-openat2-no-magic", AT_FDCWD, "/h/rel", RESOLVE_NO_MAGICLINKS);
	openat2_secret("hostfs-openat2-plain", hfd, "up/secret", 0);
	/* renames across the mount, and out of it by any name: judged on the host too */
	close(open("/tmp/hmv", O_CREAT | O_WRONLY, 0644));
	expect_fail("hostfs-rename-in", rename("/tmp/hmv", "/h/hmv"), EXDEV);
	expect_fail("hostfs-rename-out", rename("/h/f", "/tmp/hf"), EXDEV);
	rename("/h/f", "/h/../moved");
	rename("/h/f", "/h/up/../moved2");
	rename("/h/f", "/h/deep/moved3");
	snprintf(p, sizeof p, "%s/moved4", hostdir);
	rename("/h/f", p);
	expect_fail("hostfs-renameat-dirfd-out", renameat(hfd, "f", hfd, "../moved5"), EXDEV);
	ok("hostfs-rename-up");
	/* hard links: to outside files, and between the trees */
	expect_fail("hostfs-link-from-out", link("/h/../secret", "/h/hl1"), ENOENT);
	linkat(AT_FDCWD, "/h/rel", AT_FDCWD, "/h/hl2", AT_SYMLINK_FOLLOW);
	try_open("hostfs-link-follow-rel", AT_FDCWD, "/h/hl2");
	linkat(AT_FDCWD, "/h/abs", AT_FDCWD, "/h/hl3", AT_SYMLINK_FOLLOW);
	try_open("hostfs-link-follow-abs", AT_FDCWD, "/h/hl3");
	linkat(hfd, "up/secret", hfd, "hl4", AT_SYMLINK_FOLLOW);
	try_open("hostfs-link-follow-up", AT_FDCWD, "/h/hl4");
	expect_fail("hostfs-link-root-in", link("/escape", "/h/esc"), EXDEV);
	expect_fail("hostfs-link-out", link("/h/sub/s", "/tmp/hs"), EXDEV);
	{
		int efd = open("/escape", O_RDONLY);
		expect_fail("hostfs-linkat-empty-path-in", linkat(efd, "", hfd, "esc2", AT_EMPTY_PATH), EXDEV);
		close(efd);
		int lfd = open("/h/sub/s", O_RDONLY);
		expect_fail("hostfs-linkat-empty-path-out", linkat(lfd, "", AT_FDCWD, "/tmp/hs2", AT_EMPTY_PATH), EXDEV);
		close(lfd);
	}
	/* a symlink swapped by the guest on the mount, and one the host swaps on its own */
	mkdir("/h/swdir", 0755);
	close(open("/h/swdir/secret", O_CREAT | O_WRONLY, 0644));
	swap_race("hostfs-symlink-swap-race", "/h", "swdir", "../..");
	swap_race("hostfs-symlink-swap-race-abs", "/h", "swdir", hostdir);
	{
		int bad_opens = 0;
		for (int i = 0; i < 5000; i++) {
			int fd = open("/h/hsw/secret", O_RDONLY);
			if (fd >= 0) { if (secret_fd(fd)) bad_opens++; close(fd); }
		}
		if (bad_opens) { snprintf(buf, sizeof buf, "%d opens", bad_opens); esc("hostfs-host-swap-race", buf); } else ok("hostfs-host-swap-race");
	}
	/* binds of directories of the mount, and of a symlink leading up */
	mkdir("/hb", 0755);
	if (mount("/h/sub", "/hb", NULL, MS_BIND, NULL) == 0) {
		try_open("hostfs-bind-dotdot", AT_FDCWD, "/hb/../secret");
		int bfd = open("/hb", O_RDONLY | O_DIRECTORY);
		try_open("hostfs-bind-dirfd-dotdot", bfd, "../../../secret");
		close(bfd);
		umount("/hb");
	} else esc("hostfs-bind-dotdot", strerror(errno));
	if (mount("/h/up", "/hb", NULL, MS_BIND, NULL) == 0) {
		try_open("hostfs-bind-symlink-up", AT_FDCWD, "/hb/secret");
		try_open("hostfs-bind-symlink-up-dotdot", AT_FDCWD, "/hb/../secret");
		umount("/hb");
	} else ok("hostfs-bind-symlink-up");
	close(sfd);
	close(hfd);
	/* mounts naming other host directories: relative to hostfs= whatever they say */
	mkdir("/hx", 0755);
	const char *srcs[] = {"/..", "../..", "/rw/../..", "/rw/up", "/rw/abs", hostdir};
	for (int i = 0; i < 6; i++) {
		char n[64];
		snprintf(n, sizeof n, "hostfs-mount-out-%d", i);
		if (mount("none", "/hx", "hostfs", 0, srcs[i]) < 0) { ok(n); continue; }
		try_open(n, AT_FDCWD, "/hx/secret");
		try_open(n, AT_FDCWD, "/hx/../secret");
		umount("/hx");
	}
}

static void ro_fails(const char *n, long r) { expect_fail(n, r, EROFS); }

/* every way to write below a read-only hostfs mount at /hr: nothing below LAB/ro changes */
static void hostfs_ro(void)
{
	char p[512];
	ro_fails("hostfs-ro-open", open("/hr/f", O_WRONLY));
	ro_fails("hostfs-ro-create", open("/hr/new", O_CREAT | O_WRONLY, 0644));
	ro_fails("hostfs-ro-truncate", truncate("/hr/f", 0));
	ro_fails("hostfs-ro-rename", rename("/hr/f", "/hr/g"));
	close(open("/tmp/rmv", O_CREAT | O_WRONLY, 0644));
	expect_fail("hostfs-ro-rename-in", rename("/tmp/rmv", "/hr/rmv"), 0);
	ro_fails("hostfs-ro-unlink", unlink("/hr/f"));
	ro_fails("hostfs-ro-rmdir", rmdir("/hr/sub"));
	ro_fails("hostfs-ro-mkdir", mkdir("/hr/d", 0755));
	ro_fails("hostfs-ro-mknod", mknod("/hr/fifo", S_IFIFO | 0644, 0));
	ro_fails("hostfs-ro-symlink", symlink("f", "/hr/sl"));
	ro_fails("hostfs-ro-link", link("/hr/f", "/hr/f2"));
	expect_fail("hostfs-ro-link-in", link("/escape", "/hr/esc"), 0);
	ro_fails("hostfs-ro-chmod", chmod("/hr/f", 0777));
	ro_fails("hostfs-ro-chown", chown("/hr/f", 1, 1));
	ro_fails("hostfs-ro-utimes", utimensat(AT_FDCWD, "/hr/f", NULL, 0));
	ro_fails("hostfs-ro-setxattr", setxattr("/hr/f", "user.x", "1", 1, 0));
	expect_fail("hostfs-ro-setxattr-gouml", setxattr("/hr/f", "user.gouml.mode", "1", 1, 0), 0);
	int dfd = open("/hr/sub", O_RDONLY | O_DIRECTORY);
	ro_fails("hostfs-ro-dirfd-create", openat(dfd, "new", O_CREAT | O_WRONLY, 0644));
	ro_fails("hostfs-ro-dirfd-open", openat(dfd, "s", O_WRONLY));
	ro_fails("hostfs-ro-dirfd-mkdir", mkdirat(dfd, "d", 0755));
	ro_fails("hostfs-ro-dirfd-unlink", unlinkat(dfd, "s", 0));
	ro_fails("hostfs-ro-dirfd-rename", renameat(dfd, "s", dfd, "t"));
	ro_fails("hostfs-ro-dirfd-utimes", utimensat(dfd, "s", NULL, 0));
	snprintf(p, sizeof p, "/proc/self/fd/%d/s", dfd);
	ro_fails("hostfs-ro-proc-dirfd", open(p, O_WRONLY));
	close(dfd);
	int rfd = open("/hr/f", O_RDONLY);
	snprintf(p, sizeof p, "/proc/self/fd/%d", rfd);
	expect_fail("hostfs-ro-proc-fd-reopen", open(p, O_WRONLY), 0);
	ro_fails("hostfs-ro-fchmod", fchmod(rfd, 0777));
	ro_fails("hostfs-ro-fchown", fchown(rfd, 1, 1));
	ro_fails("hostfs-ro-futimens", futimens(rfd, NULL));
	ro_fails("hostfs-ro-fsetxattr", fsetxattr(rfd, "user.x", "1", 1, 0));
	expect_fail("hostfs-ro-ftruncate", ftruncate(rfd, 0), 0);
	expect_fail("hostfs-ro-write", write(rfd, "x", 1), 0);
	close(rfd);
	int pfd = open("/hr/f", O_PATH);
	snprintf(p, sizeof p, "/proc/self/fd/%d", pfd);
	expect_fail("hostfs-ro-opath-reopen", open(p, O_RDWR), 0);
	expect_fail("hostfs-ro-opath-reopen-trunc", open(p, O_WRONLY | O_TRUNC), 0);
	ro_fails("hostfs-ro-opath-fchmodat", fchmodat(AT_FDCWD, p, 0777, 0));
	close(pfd);
	symlink("/hr/f", "/tmp/rol");
	ro_fails("hostfs-ro-via-symlink", open("/tmp/rol", O_WRONLY));
	ro_fails("hostfs-ro-via-symlink-trunc", truncate("/tmp/rol", 0));
	/* a bind of a directory of the read-only mount, remounted read-write: still read-only */
	mkdir("/hb", 0755);
	if (mount("/hr/sub", "/hb", NULL, MS_BIND, NULL) == 0) {
		ro_fails("hostfs-ro-bind", open("/hb/s", O_WRONLY));
		mount(NULL, "/hb", NULL, MS_REMOUNT | MS_BIND, NULL);
		ro_fails("hostfs-ro-bind-remount-rw", open("/hb/s", O_WRONLY));
		ro_fails("hostfs-ro-bind-remount-rw-create", open("/hb/new", O_CREAT | O_WRONLY, 0644));
		umount("/hb");
	} else esc("hostfs-ro-bind", strerror(errno));
	/* a writable hostfs mount of the same tree with a bind below it: remounting the mount
	 * read-only makes the bind read-only too */
	mkdir("/hw", 0755);
	if (mount("none", "/hw", "hostfs", 0, "/ro") == 0) {
		if (mount("/hw/sub", "/hb", NULL, MS_BIND, NULL) == 0) {
			if (mount(NULL, "/hw", NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0) esc("hostfs-remount-ro-bind", "remount failed");
			ro_fails("hostfs-remount-ro-bind", open("/hb/s", O_WRONLY));
			ro_fails("hostfs-remount-ro-bind-create", open("/hb/new", O_CREAT | O_WRONLY, 0644));
			umount("/hb");
		} else esc("hostfs-remount-ro-bind", strerror(errno));
		/* a file open for writing below, on a host mount inside the directory: the mount
		 * cannot become read-only under it (Linux: EBUSY), or the writer would write on */
		if (getenv("HOSTMNT")) {
			mount(NULL, "/hw", NULL, MS_REMOUNT, NULL);
			int wfd = open("/hw/mnt/w", O_WRONLY);
			if (wfd < 0) esc("hostfs-remount-ro-writer", "opening the writer failed");
			else {
				if (mount(NULL, "/hw", NULL, MS_REMOUNT | MS_RDONLY, NULL) == 0) {
					/* judged on the host too: w must stay empty */
					write(wfd, "ESCAPED", 7);
					esc("hostfs-remount-ro-writer", "remounted read-only under a writer");
				} else if (errno != EBUSY) {
					snprintf(buf, sizeof buf, "errno %d, want EBUSY", errno);
					esc("hostfs-remount-ro-writer", buf);
				} else ok("hostfs-remount-ro-writer");
				close(wfd);
				mount(NULL, "/hw", NULL, MS_REMOUNT | MS_RDONLY, NULL);
			}
			ro_fails("hostfs-ro-below-host-mount", open("/hw/mnt/w", O_WRONLY));
			ro_fails("hostfs-ro-below-host-mount-create", open("/hw/mnt/new", O_CREAT | O_WRONLY, 0644));
		}
		umount("/hw");
	} else esc("hostfs-remount-ro-bind", "mounting LAB/ro read-write failed");
}

static void hostfs_escapes(void)
{
	mkdir("/h", 0755);
	mkdir("/hr", 0755);
	if (mount("none", "/h", "hostfs", 0, "/rw") < 0) { esc("hostfs-mount", strerror(errno)); return; }
	ok("hostfs-mount");
	hostfs_rw();
	umount2("/h", MNT_DETACH);
	if (mount("none", "/hr", "hostfs", MS_RDONLY, "/ro") < 0) { esc("hostfs-mount-ro", strerror(errno)); return; }
	ok("hostfs-mount-ro");
	hostfs_ro();
	umount2("/hr", MNT_DETACH);
}
