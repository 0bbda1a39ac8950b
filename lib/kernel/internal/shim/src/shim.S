/*
 * In-guest SIGSYS handler for gouml's emulator (x86-64, GNU as, AT&T syntax).
 *
 * The supervisor maps two pages at SHIM_ADDR in every guest process: page 0
 * (read+exec) holds this code at offset 0 and the sigactions at 0x800; page 1
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
 *   G2 shim_g2       fork/vfork/clone/execve/execveat/chdir and the signal
 *                    senders (kill, tkill, tgkill, rt_[tg]sigqueueinfo,
 *                    pidfd_send_signal) from here go to the supervisor; from
 *                    anywhere else they trap to this handler.
 *
 * Regenerate lib/kernel/shim_blob.go with shimsrc/gen.sh after editing.
 */

	.set	SHIM_ADDR, 0x6ffff0000000
	.set	SIGACTION_OFF, 0x800	/* struct kernel_sigaction installing shim_handler */
	.set	SIGDFL_OFF, 0x820	/* struct kernel_sigaction, all zero */
	.set	PAGE1_OFF, 0x1000	/* the data page */
	.set	VALUES_OFF, 0x0		/* in page 1: int64 values[NVALUES] for FIRST_NR.. */
	.set	GUEST_OFF, 0x40		/* in page 1: the guest's SIGSYS kernel_sigaction */
	.set	FIRST_NR, 102		/* getuid */
	.set	NVALUES, 7		/* getuid .. getegid */
	.set	SHIM_DATA, 0x5547	/* SECCOMP_RET_DATA of our filter, lands in si_errno */

	/* Exported so gen.sh can hand them to shim.go, which checks its layout against them. */
	.globl	shim_addr, shim_sigaction_off, shim_sigdfl_off, shim_page1_off
	.globl	shim_values_off, shim_guest_off, shim_first_nr, shim_nvalues, shim_trap_data
	.set	shim_addr, SHIM_ADDR
	.set	shim_sigaction_off, SIGACTION_OFF
	.set	shim_sigdfl_off, SIGDFL_OFF
	.set	shim_page1_off, PAGE1_OFF
	.set	shim_values_off, VALUES_OFF
	.set	shim_guest_off, GUEST_OFF
	.set	shim_first_nr, FIRST_NR
	.set	shim_nvalues, NVALUES
	.set	shim_trap_data, SHIM_DATA

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
	movq	$-ENOSYS, UC_RAX(%r12)
	ret
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
 * fork, vfork, clone, execve, execveat, chdir and the signal senders: the
 * supervisor must see them, and its filter sends them to it only from G2 (a
 * signal sender, which Linux never fails with EINTR, is retried like the rest). Made here, inline: a clone child
 * starts right after the syscall with rsp = the child stack, and must find the
 * rest of this code in registers the kernel copies (rbx, r12, r13).
 */
forward:
	mov	%eax, %r13d
1:	mov	UC_RDI(%r12), %rdi
	mov	UC_RSI(%r12), %rsi
	mov	UC_RDX(%r12), %rdx
	mov	UC_R10(%r12), %r10
	mov	UC_R8(%r12), %r8
	mov	UC_R9(%r12), %r9
	mov	%r13d, %eax
shim_g2:
	syscall
shim_g2_ret:
	/*
	 * None of these may fail with EINTR, and the supervisor's notification can be
	 * interrupted before it is received: retry on EINTR and the restart codes.
	 */
	cmp	$-EINTR, %rax
	je	1b
	cmp	$-ERESTART_RESTARTBLOCK, %rax
	je	1b
	lea	ERESTARTSYS+2(%rax), %rcx	/* -514..-512 -> 0..2 */
	cmp	$2, %rcx
	jbe	1b
	/*
	 * Back to the handler's frame. A clone child with its own stack finds it in its
	 * copy of memory: the supervisor makes every new process a fork-like clone
	 * (no CLONE_VM); then it resumes the guest on that stack like a real clone child.
	 */
	mov	%rbx, %rsp
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
