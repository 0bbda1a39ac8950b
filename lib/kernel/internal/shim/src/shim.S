/*
 * In-guest SIGSYS handler for gouml's emulator (x86-64, GNU as, AT&T syntax).
 *
 * The supervisor maps two pages at SHIM_ADDR in every guest process: page 0
 * (read+exec, sealed) holds this code at offset 0, the sigactions at 0xc00 and the
 * attribute names the stat path reads at 0xc40; page 1
 * (read+write) holds the data lib/kernel/shim.go lays out. The code is position
 * dependent (it reaches the data with absolute addresses), so it only works at
 * SHIM_ADDR. It uses no libc and little stack; it clobbers only registers the
 * signal frame restores.
 *
 * Two syscall instructions matter to the seccomp filter, which tells them apart
 * by seccomp_data.instruction_pointer (the address after the instruction):
 *   G1 shim_syscall  rt_sigaction/rt_sigprocmask (and the waits with a temporary
 *                    mask) are allowed natively only here;
 *                    the shim calls it, the supervisor single-steps over it.
 *   G2 shim_g2       fork/vfork/clone/execve/execveat/chdir, the signal
 *                    senders (kill, tkill, tgkill, rt_[tg]sigqueueinfo,
 *                    pidfd_send_signal) and the opens (open, openat, openat2,
 *                    creat) from here go to the supervisor; from anywhere else
 *                    they trap to this handler, which retries them when a signal
 *                    interrupts them before the supervisor received them.
 *
 * Regenerate lib/kernel/shim_blob.go with shimsrc/gen.sh after editing.
 */

	.set	SHIM_ADDR, 0x6ffff0000000
	.set	SIGACTION_OFF, 0xc00	/* struct kernel_sigaction installing shim_handler */
	.set	SIGDFL_OFF, 0xc20	/* struct kernel_sigaction, all zero */
	.set	PAGE1_OFF, 0x1000	/* the data page */
	.set	VALUES_OFF, 0x0		/* in page 1: int64 values[NVALUES] for FIRST_NR.. */
	.set	GUEST_OFF, 0x40		/* in page 1: the guest's SIGSYS kernel_sigaction */
	.set	FIRST_NR, 102		/* getuid */
	.set	NVALUES, 7		/* getuid .. getegid */
	.set	SHIM_DATA, 0x5547	/* SECCOMP_RET_DATA of our filter, lands in si_errno */
	.set	XNAMES_OFF, 0xc40	/* in page 0: the hostmeta attribute names, XNAME_SIZE apart */
	.set	XNAME_SIZE, 0x20
	.set	STAT_OFF, 0x80		/* in page 1: what the kernel says about stat (below) */
	.set	NEXCL, 11		/* at most this many excluded inodes */
	.set	PATHS, 120		/* in STAT_OFF: nonzero, path stats too (root, unchrooted) */

	/* Exported so gen.sh can hand them to shim.go, which checks its layout against them. */
	.globl	shim_addr, shim_sigaction_off, shim_sigdfl_off, shim_page1_off
	.globl	shim_values_off, shim_guest_off, shim_first_nr, shim_nvalues, shim_trap_data
	.globl	shim_xnames_off, shim_xname_size, shim_stat_off, shim_nexcl, shim_paths
	.set	shim_addr, SHIM_ADDR
	.set	shim_sigaction_off, SIGACTION_OFF
	.set	shim_sigdfl_off, SIGDFL_OFF
	.set	shim_page1_off, PAGE1_OFF
	.set	shim_values_off, VALUES_OFF
	.set	shim_guest_off, GUEST_OFF
	.set	shim_first_nr, FIRST_NR
	.set	shim_nvalues, NVALUES
	.set	shim_trap_data, SHIM_DATA
	.set	shim_xnames_off, XNAMES_OFF
	.set	shim_xname_size, XNAME_SIZE
	.set	shim_stat_off, STAT_OFF
	.set	shim_nexcl, NEXCL
	.set	shim_paths, PATHS

	.set	EINVAL, 22
	.set	ENOSYS, 38
	.set	EINTR, 4
	.set	ERESTARTSYS, 512	/* ..ERESTARTNOHAND 514 */
	.set	ERESTART_RESTARTBLOCK, 516
	.set	SIGKILL, 9
	.set	SIGSTOP, 19
	.set	SIGSYS, 31
	/* What the kernel keeps of sa_flags (UAPI_SA_FLAGS, x86-64). */
	.set	UAPI_SA_FLAGS, 0xdc000807
	.set	SA_RESETHAND, 0x80000000

	.set	EFAULT, 14
	.set	ERANGE, 34
	.set	ENODATA, 61
	.set	EOPNOTSUPP, 95
	.set	SYS_fstat, 5
	.set	SYS_newfstatat, 262
	.set	SYS_statx, 332
	.set	SYS_fgetxattr, 193
	.set	AT_FDCWD, -100
	.set	AT_SYMLINK_NOFOLLOW, 0x100
	.set	AT_NO_AUTOMOUNT, 0x800
	.set	AT_EMPTY_PATH, 0x1000
	.set	STATX_WANT, 0x17ff	/* STATX_BASIC_STATS | STATX_MNT_ID */
	.set	STATX_MNT_ID, 0x1000
	/* struct statx */
	.set	STX_MASK, 0
	.set	STX_UID, 20
	.set	STX_GID, 24
	.set	STX_MODE, 28
	.set	STX_INO, 32
	.set	STX_DEV_MAJOR, 136
	.set	STX_DEV_MINOR, 140
	.set	STX_SIZE, 40
	.set	STX_MNT_ID, 144
	/* struct stat (x86-64) */
	.set	ST_DEV, 0
	.set	ST_INO, 8
	.set	ST_MODE, 24
	.set	ST_UID, 28
	.set	ST_GID, 32
	.set	ST_RDEV, 40
	.set	S_IFMT, 0170000
	.set	S_IFCHR, 0020000
	.set	S_IFDIR, 0040000
	.set	S_IFBLK, 0060000
	.set	S_IFREG, 0100000
	.set	S_IFLNK, 0120000
	/* the stat path's frame: statx, an attribute value, the ids and mode it works out */
	.set	F_VAL, 256
	.set	VAL_MAX, 64		/* as lib/hostmeta reads them: a longer value is none */
	.set	F_UID, 320
	.set	F_GID, 324
	.set	F_MODE, 328
	.set	F_SET, 332		/* bit 0 uid, 1 gid, 2 rdev set by an attribute */
	.set	F_RDEV, 336
	.set	F_PATH, 344		/* a path stat's path (0: an fd's stat) */
	.set	F_ATFL, 352		/* and its AT_SYMLINK_NOFOLLOW */
	.set	F_ARGS, 360		/* getxattrat's struct xattr_args */
	.set	F_SIZE, 384
	.set	SYS_getxattrat, 464
	.set	SYS_clone, 56
	.set	SYS_fork, 57
	.set	SYS_vfork, 58
	.set	SYS_execve, 59
	.set	SYS_chdir, 80
	.set	SYS_execveat, 322
	.set	SYS_rt_sigsuspend, 130
	.set	SYS_pselect6, 270
	.set	SYS_ppoll, 271
	.set	SYS_epoll_pwait, 281
	.set	SYS_epoll_pwait2, 441
	.set	SYS_rt_sigaction, 13
	.set	SYS_rt_sigprocmask, 14
	.set	SYS_rt_sigreturn, 15
	.set	SYS_getpid, 39
	.set	SYS_gettid, 186
	.set	SYS_tgkill, 234
	.set	SYS_kill, 62
	.set	SYS_tkill, 200
	.set	SYS_rt_sigqueueinfo, 129
	.set	SYS_rt_tgsigqueueinfo, 297
	.set	SYS_pidfd_send_signal, 424
	.set	SYS_open, 2
	.set	SYS_creat, 85
	.set	SYS_openat, 257
	.set	SYS_openat2, 437
	.set	SIG_BLOCK, 0
	.set	SIG_UNBLOCK, 1
	.set	SIG_SETMASK, 2

	.set	SYS_SECCOMP, 1		/* si_code of a seccomp SECCOMP_RET_TRAP */
	.set	SI_ERRNO, 4
	.set	SI_CODE, 8
	.set	SI_SYSCALL, 24
	/* ucontext_t: uc_mcontext.gregs at 40, uc_sigmask at 296 (kernel's struct ucontext). */
	.set	UC_R8, 40
	.set	UC_R9, 48
	.set	UC_R10, 56
	.set	UC_RDI, 104
	.set	UC_RSI, 112
	.set	UC_RDX, 136
	.set	UC_RAX, 144
	.set	UC_RSP, 160
	.set	UC_SIGMASK, 296

	.text
	.globl	shim_handler, shim_restorer, shim_syscall, shim_g1_ret, shim_g2, shim_g2_ret

/*
 * void shim_handler(int signo, siginfo_t *si, ucontext_t *uc) -- must be at offset 0.
 * Runs with SA_NODEFER, so SIGSYS is never blocked here either. From the first
 * check on: rbx = rsp at entry, r12 = uc.
 */
shim_handler:
	cmpl	$SYS_SECCOMP, SI_CODE(%rsi)
	jne	foreign
	cmpl	$SHIM_DATA, SI_ERRNO(%rsi)
	jne	foreign
	mov	%rsp, %rbx
	mov	%rdx, %r12
	movslq	SI_SYSCALL(%rsi), %rax
	lea	-FIRST_NR(%rax), %rcx
	cmp	$NVALUES-1, %rcx
	ja	1f			/* unsigned: also catches nr < FIRST_NR */
	movabs	$SHIM_ADDR+PAGE1_OFF+VALUES_OFF, %rdx
	mov	(%rdx,%rcx,8), %rcx
	mov	%rcx, UC_RAX(%r12)	/* rt_sigreturn puts it in the guest's rax */
	ret
1:	cmp	$SYS_rt_sigprocmask, %eax
	je	sigprocmask
	cmp	$SYS_rt_sigaction, %eax
	je	sigaction
	cmp	$SYS_clone, %eax
	je	forward
	cmp	$SYS_fork, %eax
	je	forward
	cmp	$SYS_vfork, %eax
	je	forward
	cmp	$SYS_execve, %eax
	je	forward
	cmp	$SYS_chdir, %eax
	je	forward
	cmp	$SYS_execveat, %eax
	je	forward
	cmp	$SYS_kill, %eax
	je	forward
	cmp	$SYS_tgkill, %eax
	je	forward
	cmp	$SYS_tkill, %eax
	je	forward
	cmp	$SYS_rt_sigqueueinfo, %eax
	je	forward
	cmp	$SYS_rt_tgsigqueueinfo, %eax
	je	forward
	cmp	$SYS_pidfd_send_signal, %eax
	je	forward
	cmp	$SYS_openat, %eax
	je	forward
	cmp	$SYS_open, %eax
	je	forward
	cmp	$SYS_openat2, %eax
	je	forward
	cmp	$SYS_creat, %eax
	je	forward
	cmp	$SYS_rt_sigsuspend, %eax
	je	sigsuspend
	cmp	$SYS_ppoll, %eax
	je	ppoll
	cmp	$SYS_epoll_pwait, %eax
	je	epoll_pwait
	cmp	$SYS_epoll_pwait2, %eax
	je	epoll_pwait
	cmp	$SYS_pselect6, %eax
	je	pselect6
	cmp	$SYS_fstat, %eax
	je	fstat
	cmp	$SYS_newfstatat, %eax
	je	newfstatat
	/* the path and metadata calls of the list below: forwarded, for the retry */
	lea	routed(%rip), %rcx
2:	movzwl	(%rcx), %edx
	add	$2, %rcx
	cmp	%edx, %eax
	je	forward
	cmp	$0xffff, %edx
	jne	2b
	movq	$-ENOSYS, UC_RAX(%r12)
	ret
/*
 * The calls Linux never interrupts that trap to the kernel (table.go: trapRetried, beside
 * the opens, signals, fork and exec above): a signal that comes before the kernel received
 * one must not fail it with EINTR. TestShimRoutesTheTable holds this list to the table.
 */
routed:
	.short	4, 6, 21, 269, 439, 89	/* stat lstat access faccessat faccessat2 readlink */
	.short	267, 83, 258, 84, 87, 263	/* readlinkat mkdir mkdirat rmdir unlink unlinkat */
	.short	82, 264, 316, 86, 265, 88	/* rename renameat renameat2 link linkat symlink */
	.short	266, 90, 268, 452, 92, 94	/* symlinkat chmod fchmodat fchmodat2 chown lchown */
	.short	93, 260, 132, 235, 261, 280	/* fchown fchownat utime utimes futimesat utimensat */
	.short	76, 133, 259, 79, 137, 188	/* truncate mknod mknodat getcwd statfs setxattr */
	.short	189, 190, 191, 192, 194, 195	/* lsetxattr fsetxattr getxattr lgetxattr listxattr llistxattr */
	.short	196, 197, 198, 199	/* flistxattr removexattr lremovexattr fremovexattr */
	.short	0xffff
einval:
	movq	$-EINVAL, UC_RAX(%r12)
	ret

/*
 * rt_sigprocmask(how, set, oldset, sigsetsize) with SIGSYS taken out of set. The
 * thread's mask is what rt_sigreturn restores from uc_sigmask, so the call is done
 * on uc_sigmask, here, without a system call. As in the kernel: how is checked
 * before oldset is written, SIGKILL and SIGSTOP never get blocked, and a signal
 * the call unblocks is delivered when it returns (at our rt_sigreturn).
 */
sigprocmask:
	cmpq	$8, UC_R10(%r12)
	jne	einval
	mov	UC_SIGMASK(%r12), %rax	/* old */
	mov	%rax, %rcx		/* new */
	mov	UC_RSI(%r12), %rsi
	test	%rsi, %rsi
	jz	2f
	mov	(%rsi), %rsi
	mov	UC_RDI(%r12), %rdi
	cmp	$SIG_BLOCK, %rdi
	jne	1f
	or	%rsi, %rcx
	jmp	2f
1:	cmp	$SIG_UNBLOCK, %rdi
	jne	1f
	not	%rsi
	and	%rsi, %rcx
	jmp	2f
1:	cmp	$SIG_SETMASK, %rdi
	jne	einval
	mov	%rsi, %rcx
2:	btr	$SIGKILL-1, %rcx
	btr	$SIGSTOP-1, %rcx
	btr	$SIGSYS-1, %rcx
	mov	UC_RDX(%r12), %rdx
	test	%rdx, %rdx
	jz	3f
	mov	%rax, (%rdx)
3:	mov	%rcx, UC_SIGMASK(%r12)
	movq	$0, UC_RAX(%r12)
	ret

/*
 * rt_sigaction(sig, act, oldact, sigsetsize). SIGSYS is ours: the guest's
 * disposition only lives in page 1. Any other signal gets SIGSYS taken out of
 * its sa_mask, so no guest handler ever runs with SIGSYS blocked.
 */
sigaction:
	cmpq	$8, UC_R10(%r12)
	jne	einval
	mov	UC_RDI(%r12), %rdi
	mov	UC_RSI(%r12), %rsi
	mov	UC_RDX(%r12), %rdx
	cmp	$SIGSYS, %edi		/* the kernel takes an int */
	je	guest_sigsys
	test	%rsi, %rsi
	jz	1f
	sub	$32, %rsp
	mov	(%rsi), %rax
	mov	%rax, (%rsp)
	mov	8(%rsi), %rax
	mov	%rax, 8(%rsp)
	mov	16(%rsi), %rax
	mov	%rax, 16(%rsp)
	mov	24(%rsi), %rax
	btr	$SIGSYS-1, %rax
	mov	%rax, 24(%rsp)
	mov	%rsp, %rsi
1:	mov	$8, %r10d
	mov	$SYS_rt_sigaction, %eax
	call	g1
	mov	%rax, UC_RAX(%r12)
	mov	%rbx, %rsp
	ret

/* Like the kernel: read act first (it may be oldact), keep only the flags and mask bits it keeps. */
guest_sigsys:
	movabs	$SHIM_ADDR+PAGE1_OFF+GUEST_OFF, %rdi
	test	%rsi, %rsi
	jz	1f
	mov	(%rsi), %rax
	mov	8(%rsi), %rcx
	mov	$UAPI_SA_FLAGS, %r10d
	and	%r10, %rcx
	mov	16(%rsi), %r8
	mov	24(%rsi), %r9
	btr	$SIGKILL-1, %r9
	btr	$SIGSTOP-1, %r9
	btr	$SIGSYS-1, %r9
1:	test	%rdx, %rdx
	jz	2f
	mov	(%rdi), %r10
	mov	%r10, (%rdx)
	mov	8(%rdi), %r10
	mov	%r10, 8(%rdx)
	mov	16(%rdi), %r10
	mov	%r10, 16(%rdx)
	mov	24(%rdi), %r10
	mov	%r10, 24(%rdx)
2:	test	%rsi, %rsi
	jz	3f
	mov	%rax, (%rdi)
	mov	%rcx, 8(%rdi)
	mov	%r8, 16(%rdi)
	mov	%r9, 24(%rdi)
3:	movq	$0, UC_RAX(%r12)
	ret

/*
 * Waits with a temporary signal mask: rt_sigsuspend(mask, size), ppoll(.., mask, size),
 * epoll_pwait[2](.., mask, size), pselect6(.., &{mask, size}). Signal handlers run
 * with that mask while they wait, so it must not block SIGSYS either: made at G1
 * with a copy of the mask without SIGSYS. A handler run meanwhile nests in this
 * one, and the wait's result (EINTR after a handler) is the guest's.
 */
sigsuspend:
	call	loadargs
	test	%rdi, %rdi
	jz	waitcall
	mov	(%rdi), %rcx
	btr	$SIGSYS-1, %rcx
	push	%rcx
	mov	%rsp, %rdi
	jmp	waitcall
ppoll:
	call	loadargs
	test	%r10, %r10
	jz	waitcall
	mov	(%r10), %rcx
	btr	$SIGSYS-1, %rcx
	push	%rcx
	mov	%rsp, %r10
	jmp	waitcall
epoll_pwait:
	call	loadargs
	test	%r8, %r8
	jz	waitcall
	mov	(%r8), %rcx
	btr	$SIGSYS-1, %rcx
	push	%rcx
	mov	%rsp, %r8
	jmp	waitcall
pselect6:
	call	loadargs
	test	%r9, %r9
	jz	waitcall
	mov	(%r9), %rcx		/* struct { const sigset_t *ss; size_t ss_len; } */
	push	8(%r9)
	test	%rcx, %rcx
	jz	1f
	mov	(%rcx), %rcx
	btr	$SIGSYS-1, %rcx
	push	%rcx
	mov	%rsp, %rcx
	push	8(%rsp)			/* ss_len again, next to the new ss */
1:	push	%rcx
	mov	%rsp, %r9
waitcall:
	mov	%r13d, %eax
	call	g1
	mov	%rax, UC_RAX(%r12)
	mov	%rbx, %rsp
	ret

/* Loads the guest's six syscall arguments from uc and keeps nr in r13. */
loadargs:
	mov	%eax, %r13d
	mov	UC_RDI(%r12), %rdi
	mov	UC_RSI(%r12), %rsi
	mov	UC_RDX(%r12), %rdx
	mov	UC_R10(%r12), %r10
	mov	UC_R8(%r12), %r8
	mov	UC_R9(%r12), %r9
	ret

/*
 * fork, vfork, clone, execve, execveat, chdir, the signal senders and the opens:
 * the supervisor must see them, and its filter sends them to it only from G2. Made
 * here, inline: a clone child starts right after the syscall with rsp = the child
 * stack, and must find the rest of this code in registers the kernel copies (rbx,
 * r12, r13).
 *
 * A signal whose handler lacks SA_RESTART interrupts the supervisor's notification
 * until the supervisor has received it (the host's seccomp: WAIT_KILLABLE_RECV makes
 * the wait killable only once it is received), and the call fails with EINTR where
 * Linux, for these calls, would have made it. Nothing was done yet: the call is
 * made again. A call the supervisor itself ends because a signal came while it
 * waited (a FIFO's open) is answered ERESTARTSYS, and its EINTR must reach the guest
 * as on Linux: before answering, the supervisor marks the word at the caller's stack
 * pointer, the cell pushed here, which is cleared before each try. (The host's own
 * restart of such a call, with SA_RESTART, leaves the mark: an EINTR of the
 * restarted call, which waits again, then reaches the guest too.)
 */
forward:
	mov	%eax, %r13d
	push	$0
1:	movq	$0, (%rsp)
	mov	UC_RDI(%r12), %rdi
	mov	UC_RSI(%r12), %rsi
	mov	UC_RDX(%r12), %rdx
	mov	UC_R10(%r12), %r10
	mov	UC_R8(%r12), %r8
	mov	UC_R9(%r12), %r9
	mov	%r13d, %eax
shim_g2:
	syscall
shim_g2_ret:
	cmp	$-EINTR, %rax
	jne	3f
	cmpq	$0, (%rsp)
	je	1b			/* not received: try again */
	jmp	4f			/* the supervisor's: the guest's EINTR */
	/* The restart codes reach here only when no signal handler ran: restart. */
3:	cmp	$-ERESTART_RESTARTBLOCK, %rax
	je	1b
	lea	ERESTARTSYS+2(%rax), %rcx	/* -514..-512 -> 0..2 */
	cmp	$2, %rcx
	jbe	1b
	/*
	 * Back to the handler's frame. A clone child with its own stack finds it in its
	 * copy of memory: the supervisor makes every new process a fork-like clone
	 * (no CLONE_VM); then it resumes the guest on that stack like a real clone child.
	 */
4:	mov	%rbx, %rsp
	test	%rax, %rax
	jnz	2f
	cmp	$SYS_clone, %r13d
	jne	2f
	mov	UC_RSI(%r12), %rcx
	test	%rcx, %rcx
	jz	2f
	mov	%rcx, UC_RSP(%r12)
2:	mov	%rax, UC_RAX(%r12)
	ret

/*
 * Not a trap of our filter: kill(2) from elsewhere, or the guest's own seccomp
 * filter. Do what the guest's own SIGSYS disposition would have done.
 */
foreign:
	movabs	SHIM_ADDR+PAGE1_OFF+GUEST_OFF, %rax
	test	%rax, %rax
	jz	dfl
	cmp	$1, %rax		/* SIG_IGN */
	jne	1f
	/* The kernel does not let a seccomp trap be ignored: it kills instead. */
	cmpl	$SYS_SECCOMP, SI_CODE(%rsi)
	je	dfl
	ret
1:
	/*
	 * The guest's handler: same arguments, returns via our restorer. Give it what
	 * the kernel would: its sa_mask blocked (rt_sigreturn restores uc_sigmask), and
	 * SA_RESETHAND. SIGSYS itself stays unblocked even without SA_NODEFER.
	 */
	mov	%rax, %r13
	movabs	$SHIM_ADDR+PAGE1_OFF+GUEST_OFF, %r12
	testl	$SA_RESETHAND, 8(%r12)
	jz	2f
	movq	$0, (%r12)
2:	mov	24(%r12), %rax
	test	%rax, %rax
	jz	3f
	push	%rdi
	push	%rsi
	push	%rdx
	push	%rax
	mov	$SIG_BLOCK, %edi	/* rt_sigprocmask(SIG_BLOCK, &sa_mask, NULL, 8) */
	mov	%rsp, %rsi
	xor	%edx, %edx
	mov	$8, %r10d
	mov	$SYS_rt_sigprocmask, %eax
	call	g1
	pop	%rax
	pop	%rdx
	pop	%rsi
	pop	%rdi
3:	jmp	*%r13
dfl:
	/*
	 * SIG_DFL. Linux drops a signal with the default action sent to its namespace's
	 * init from inside the namespace (init is unkillable that way; a seccomp trap is
	 * forced, and kills it all the same): so does init here, or kill(1, SIGSYS) by
	 * any guest process would end the machine.
	 */
	cmpl	$SYS_SECCOMP, SI_CODE(%rsi)
	je	1f
	mov	$SYS_getpid, %eax
	call	g1
	cmp	$1, %eax
	jne	1f
	ret
1:
	/*
	 * Reset the disposition and send the signal again. SA_NODEFER leaves SIGSYS
	 * unblocked, so tgkill delivers it at once with the default action: the process
	 * dies by SIGSYS as it would have without us.
	 */
	mov	$SYS_rt_sigaction, %eax	/* rt_sigaction(SIGSYS, &sigdfl, NULL, 8) */
	mov	$SIGSYS, %edi
	movabs	$SHIM_ADDR+SIGDFL_OFF, %rsi
	xor	%edx, %edx
	mov	$8, %r10d
	call	g1
	mov	$SYS_getpid, %eax
	call	g1
	mov	%eax, %edi
	mov	$SYS_gettid, %eax
	call	g1
	mov	%eax, %esi
	mov	$SIGSYS, %edx
	mov	$SYS_tgkill, %eax	/* tgkill(pid, tid, SIGSYS) */
	call	g1
done:
	ret

/*
 * fstat(fd, buf) and newfstatat(fd, "", buf, AT_EMPTY_PATH|...): answered here when fd is a
 * file of the machine's root tree (its mount is the tree copy's, page 1 STAT_OFF+0), as the
 * kernel would answer (lib/kernel/sys_stat.go): the host's stat with lib/hostmeta's
 * attributes applied, and the image root's device number. Anything else, or anything this
 * code does not follow exactly, goes to the kernel from G2. Page 1's data is the guest's to
 * forge: it only changes what the guest is told about its own files. What this path may do
 * natively from G1 the filter limits to fd calls (statx with a NULL path, fstat, fgetxattr
 * of the names in page 0, which the kernel seals).
 */
newfstatat:
	mov	%eax, %r13d
	mov	UC_R10(%r12), %rax
	test	$~(AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH|AT_NO_AUTOMOUNT), %rax
	jnz	stat_fwd
	test	$AT_EMPTY_PATH, %eax
	jz	statpath
	movslq	UC_RDI(%r12), %r14
	cmp	$AT_FDCWD, %r14
	je	stat_fwd
	/*
	 * Only "" names the fd itself. Reading the guest's byte could fault, so the host reads
	 * its (aligned) 8 bytes first: rt_sigprocmask with no valid "how" reads the set and
	 * then fails with EINVAL, changing nothing, or fails with EFAULT.
	 */
	mov	UC_RSI(%r12), %rbp
	mov	%rbp, %rsi
	and	$-8, %rsi
	mov	$-1, %edi
	xor	%edx, %edx
	mov	$8, %r10d
	mov	$SYS_rt_sigprocmask, %eax
	call	g1
	cmp	$-EFAULT, %rax
	je	stat_fwd
	cmpb	$0, (%rbp)
	jne	stat_fwd
	mov	UC_RDX(%r12), %r15
	jmp	statfd
fstat:
	mov	%eax, %r13d
	movslq	UC_RDI(%r12), %r14
	mov	UC_RSI(%r12), %r15
statfd:
	movabs	$SHIM_ADDR+PAGE1_OFF+STAT_OFF, %rbp
	cmpq	$0, (%rbp)
	je	stat_fwd		/* no fast path on this machine */
	sub	$F_SIZE, %rsp
	movq	$0, F_PATH(%rsp)
	mov	%r14, %rdi
	xor	%esi, %esi		/* NULL: the fd itself, never a path */
	mov	$AT_EMPTY_PATH, %edx
	jmp	statx1
	/*
	 * A path stat, newfstatat(dirfd, path, buf, 0|AT_SYMLINK_NOFOLLOW), the same way by
	 * path, for a caller the kernel marked root without chroot (page 1, PATHS; only a hint:
	 * the filter lets the native path calls below run from G1 for such a caller alone,
	 * lib/kernel/ratchet.go). The host resolves the path in the guest's chroot; the answer
	 * counts only on the root tree's mount: every other place (a guest mount, /proc, /sys,
	 * /dev) is another mount there (lib/kernel/placeholder.go). Any error goes to the kernel.
	 */
statpath:
	movabs	$SHIM_ADDR+PAGE1_OFF+STAT_OFF, %rbp
	cmpq	$0, PATHS(%rbp)
	je	stat_fwd
	cmpq	$0, (%rbp)
	je	stat_fwd
	movslq	UC_RDI(%r12), %r14
	mov	UC_RDX(%r12), %r15
	sub	$F_SIZE, %rsp
	mov	UC_RSI(%r12), %rsi
	mov	%rsi, F_PATH(%rsp)
	mov	UC_R10(%r12), %rdx
	mov	%edx, %eax
	and	$AT_SYMLINK_NOFOLLOW, %eax
	mov	%eax, F_ATFL(%rsp)
	mov	%r14, %rdi
statx1:
	mov	$STATX_WANT, %r10d
	mov	%rsp, %r8
	mov	$SYS_statx, %eax
	call	g1
	test	%rax, %rax
	jnz	stat_fwd
	testl	$STATX_MNT_ID, STX_MASK(%rsp)
	jz	stat_fwd
	mov	STX_MNT_ID(%rsp), %rax
	cmp	(%rbp), %rax
	jne	stat_fwd		/* not the root tree's: a device, /proc, a mount ... */
	mov	24(%rbp), %rcx		/* inodes whose stat the kernel rewrites (ubd images) */
	cmp	$NEXCL, %rcx
	ja	stat_fwd
	mov	STX_INO(%rsp), %rax
1:	test	%rcx, %rcx
	jz	2f
	cmp	24(%rbp,%rcx,8), %rax
	je	stat_fwd
	dec	%rcx
	jmp	1b
	/* The guest's buffer, written natively: the host checks it (EFAULT) */
2:	mov	%r14, %rdi
	mov	F_PATH(%rsp), %rsi
	test	%rsi, %rsi
	jnz	3f
	mov	%r15, %rsi
	mov	$SYS_fstat, %eax
	call	g1
	test	%rax, %rax
	jnz	stat_done
	jmp	4f
	/* by path: the same file as statx's, or the path changed meanwhile (the kernel's) */
3:	mov	%r15, %rdx
	mov	F_ATFL(%rsp), %r10d
	mov	$SYS_newfstatat, %eax
	call	g1
	test	%rax, %rax
	jnz	stat_fwd
	mov	STX_INO(%rsp), %rax
	cmp	ST_INO(%r15), %rax
	jne	stat_fwd
	/* new_encode_dev(major, minor) = minor&0xff | major<<8 | (minor&~0xff)<<12 */
	mov	STX_DEV_MINOR(%rsp), %eax
	mov	%eax, %ecx
	and	$0xff, %eax
	and	$~0xff, %ecx
	shl	$12, %rcx
	or	%rcx, %rax
	mov	STX_DEV_MAJOR(%rsp), %ecx
	shl	$8, %rcx
	or	%rcx, %rax
	cmp	ST_DEV(%r15), %rax
	jne	stat_fwd
4:
	mov	STX_UID(%rsp), %eax
	mov	%eax, F_UID(%rsp)
	mov	STX_GID(%rsp), %eax
	mov	%eax, F_GID(%rsp)
	movzwl	STX_MODE(%rsp), %eax
	mov	%eax, F_MODE(%rsp)
	movl	$0, F_SET(%rsp)
	and	$S_IFMT, %eax
	cmp	$S_IFLNK, %eax
	je	stat_fwd		/* a link's owner is kept by its directory: the kernel's */
	/* hostmeta.Apply's order: owner (legacy), uid, gid, mode, dev (legacy), rdev */
	mov	$4, %edi
	call	getx
	jc	3f
	call	num
	jc	3f
	mov	%eax, %ebp
	call	sep
	jc	3f
	call	num
	jc	3f
	call	end
	jc	3f
	mov	%ebp, F_UID(%rsp)
	mov	%eax, F_GID(%rsp)
	orl	$3, F_SET(%rsp)
3:	xor	%edi, %edi
	call	getx
	jc	3f
	call	num
	jc	3f
	call	end
	jc	3f
	mov	%eax, F_UID(%rsp)
	orl	$1, F_SET(%rsp)
3:	mov	$1, %edi
	call	getx
	jc	3f
	call	num
	jc	3f
	call	end
	jc	3f
	mov	%eax, F_GID(%rsp)
	orl	$2, F_SET(%rsp)
3:	mov	$2, %edi
	call	getx
	jc	3f
	mov	$8, %r8d
	call	numb
	jc	3f
	call	end
	jc	3f
	/* the type counts only for an empty regular host file, and only a special type */
	movzwl	STX_MODE(%rsp), %edx
	and	$S_IFMT, %edx		/* the host's type */
	mov	%eax, %ecx
	and	$S_IFMT, %ecx
	jz	4f
	cmp	$S_IFDIR, %ecx
	je	4f
	cmp	$S_IFLNK, %ecx
	je	4f
	call	placeholder
	jne	4f
	mov	%ecx, %edx
4:	and	$07777, %eax
	or	%edx, %eax
	mov	%eax, F_MODE(%rsp)
3:	call	placeholder
	jne	stat_ids
	mov	$5, %edi		/* legacy "c:MAJOR:MINOR" */
	call	getx
	jc	3f
	cmp	$2, %rcx
	jb	3f
	movzbl	(%rsi), %edx
	mov	$S_IFCHR, %ebp
	cmp	$'c', %dl
	je	5f
	mov	$S_IFBLK, %ebp
	cmp	$'b', %dl
	jne	3f
5:	inc	%rsi
	dec	%rcx
	call	sep
	jc	3f
	call	devnum
	jc	3f
	mov	%rax, F_RDEV(%rsp)
	orl	$4, F_SET(%rsp)
	mov	F_MODE(%rsp), %eax
	and	$07777, %eax
	or	%ebp, %eax
	mov	%eax, F_MODE(%rsp)
3:	mov	$3, %edi
	call	getx
	jc	stat_ids
	call	devnum
	jc	stat_ids
	mov	%rax, F_RDEV(%rsp)
	orl	$4, F_SET(%rsp)
stat_ids:
	/*
	 * The guest's user namespace maps root only: any other host id shows as the overflow
	 * id here, where the kernel sees the id itself. Unless an attribute set it, ask.
	 */
	testl	$1, F_SET(%rsp)
	jnz	1f
	cmpl	$0, F_UID(%rsp)
	jne	stat_fwd
1:	testl	$2, F_SET(%rsp)
	jnz	1f
	cmpl	$0, F_GID(%rsp)
	jne	stat_fwd
1:	mov	F_UID(%rsp), %eax
	mov	%eax, ST_UID(%r15)
	mov	F_GID(%rsp), %eax
	mov	%eax, ST_GID(%r15)
	mov	F_MODE(%rsp), %eax
	mov	%eax, ST_MODE(%r15)
	and	$S_IFMT, %eax
	cmp	$S_IFCHR, %eax
	je	1f
	cmp	$S_IFBLK, %eax
	je	1f
	movq	$0, ST_RDEV(%r15)
	jmp	2f
1:	testl	$4, F_SET(%rsp)
	jz	2f
	mov	F_RDEV(%rsp), %rax
	mov	%rax, ST_RDEV(%r15)
	/* an image root's files show the root device (page 1: host st_dev, guest st_dev) */
2:	movabs	$SHIM_ADDR+PAGE1_OFF+STAT_OFF, %rbp
	mov	8(%rbp), %rax
	test	%rax, %rax
	jz	3f
	cmp	ST_DEV(%r15), %rax
	jne	3f
	mov	16(%rbp), %rax
	mov	%rax, ST_DEV(%r15)
3:	xor	%eax, %eax
stat_done:
	mov	%rax, UC_RAX(%r12)
	mov	%rbx, %rsp
	ret
stat_fwd:
	mov	%rbx, %rsp
	mov	%r13d, %eax
	jmp	forward

/* ZF set when the file is a placeholder: an empty regular host file (frame at 8(%rsp)). */
placeholder:
	movzwl	STX_MODE+8(%rsp), %r9d
	and	$S_IFMT, %r9d
	cmp	$S_IFREG, %r9d
	jne	1f
	cmpq	$0, STX_SIZE+8(%rsp)
1:	ret

/*
 * getx: fgetxattr(fd r14, attribute name number edi, the frame's value buffer) from G1.
 * CF clear: rsi, rcx = the value and its length. CF set: the file has none (ENODATA, a value
 * longer than lib/hostmeta reads, a file system without attributes). Any other error goes
 * to the kernel (an O_PATH fd, say).
 */
getx:
	shl	$5, %edi		/* XNAME_SIZE */
	movabs	$SHIM_ADDR+XNAMES_OFF, %rsi
	add	%rdi, %rsi
	lea	F_VAL+8(%rsp), %rdx
	mov	F_PATH+8(%rsp), %rax
	test	%rax, %rax
	jnz	5f
	mov	%r14, %rdi
	mov	$VAL_MAX, %r10d
	mov	$SYS_fgetxattr, %eax
	call	g1
	jmp	6f
	/* by path: getxattrat(dirfd, path, AT_SYMLINK_NOFOLLOW or 0, name, &args, 16) */
5:	mov	%rdx, F_ARGS+8(%rsp)
	movq	$VAL_MAX, F_ARGS+16(%rsp)	/* size VAL_MAX, flags 0 */
	mov	%rsi, %r10
	mov	%r14, %rdi
	mov	%rax, %rsi
	mov	F_ATFL+8(%rsp), %edx
	lea	F_ARGS+8(%rsp), %r8
	mov	$16, %r9d
	mov	$SYS_getxattrat, %eax
	call	g1
6:	test	%rax, %rax
	js	1f
	lea	F_VAL+8(%rsp), %rsi
	mov	%rax, %rcx
	clc
	ret
1:	cmp	$-ENODATA, %rax
	je	2f
	cmp	$-ERANGE, %rax
	je	2f
	cmp	$-EOPNOTSUPP, %rax
	je	2f
	add	$8, %rsp		/* not ours to interpret: drop getx's return address */
	jmp	stat_fwd
2:	stc
	ret

/*
 * num/numb: strconv.ParseUint(s, 10 (num) or r8 (numb), 32) of the bytes at rsi (rcx of
 * them) up to a ':' or the end: eax = the value, rsi/rcx past the digits; CF set on no
 * digit, another byte, or a value above 2^32-1.
 */
num:
	mov	$10, %r8d
numb:
	xor	%eax, %eax
	xor	%r9d, %r9d
1:	test	%rcx, %rcx
	jz	2f
	movzbl	(%rsi), %r10d
	cmp	$':', %r10d
	je	2f
	sub	$'0', %r10d
	cmp	%r8d, %r10d
	jae	3f
	imul	%r8, %rax
	add	%r10, %rax
	mov	$0xffffffff, %r11d
	cmp	%r11, %rax
	ja	3f
	inc	%r9d
	inc	%rsi
	dec	%rcx
	jmp	1b
2:	test	%r9d, %r9d
	jz	3f
	clc
	ret
3:	stc
	ret

/* sep: CF clear after skipping one ':' at rsi; end: CF clear when no bytes are left. */
sep:
	test	%rcx, %rcx
	jz	1f
	cmpb	$':', (%rsi)
	jne	1f
	inc	%rsi
	dec	%rcx
	clc
	ret
1:	stc
	ret
end:
	test	%rcx, %rcx
	jnz	1f
	clc
	ret
1:	stc
	ret

/* devnum: "MAJOR:MINOR" to the end, as makedev() encodes it, in rax; CF set if not. */
devnum:
	call	num
	jc	1f
	mov	%eax, %edi
	call	sep
	jc	1f
	call	num
	jc	1f
	call	end
	jc	1f
	/* ((ma & 0xfffff000) << 32) | ((ma & 0xfff) << 8) | ((mi & 0xffffff00) << 12) | (mi & 0xff) */
	mov	%edi, %edx
	and	$0xfffff000, %edx
	shl	$32, %rdx
	mov	%edi, %ecx
	and	$0xfff, %ecx
	shl	$8, %rcx
	or	%rcx, %rdx
	mov	%eax, %ecx
	and	$0xffffff00, %ecx
	shl	$12, %rcx
	or	%rcx, %rdx
	movzbl	%al, %eax
	or	%rdx, %rax
	clc
1:	ret

/* sa_restorer of the handler. */
shim_restorer:
	mov	$SYS_rt_sigreturn, %eax
	syscall

/* G1: the shim's own calls, and the supervisor single-steps syscalls it injects. */
shim_syscall:
g1:	/* local: a call to the global name would be left to a relocation */
	syscall
shim_g1_ret:
	ret
