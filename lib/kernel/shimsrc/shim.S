/*
 * In-guest SIGSYS handler for gouml's emulator (x86-64, GNU as, AT&T syntax).
 *
 * The supervisor maps one 4096-byte page at SHIM_ADDR in every guest process:
 * this code at offset 0, the data area that lib/kernel/shim.go lays out from
 * offset 0x800. The code is position dependent (it reaches the data with absolute
 * addresses), so it only works at SHIM_ADDR. It uses no stack beyond its return
 * address and no libc; it clobbers only registers the signal frame restores.
 *
 * Regenerate lib/kernel/shim_blob.go with shimsrc/gen.sh after editing.
 */

	.set	SHIM_ADDR, 0x6ffff0000000
	.set	SIGDFL_OFF, 0x820	/* struct kernel_sigaction, all zero */
	.set	GUEST_OFF, 0x840	/* u64 guest SIGSYS disposition */
	.set	VALUES_OFF, 0x850	/* int64 values[NVALUES] for syscalls FIRST_NR.. */
	.set	FIRST_NR, 102		/* getuid */
	.set	NVALUES, 7		/* getuid .. getegid */
	.set	SHIM_DATA, 0x5547	/* SECCOMP_RET_DATA of our filter, lands in si_errno */

	/* Exported so gen.sh can hand them to shim.go, which checks its layout against them. */
	.globl	shim_addr, shim_sigdfl_off, shim_guest_off, shim_values_off
	.globl	shim_first_nr, shim_nvalues, shim_trap_data
	.set	shim_addr, SHIM_ADDR
	.set	shim_sigdfl_off, SIGDFL_OFF
	.set	shim_guest_off, GUEST_OFF
	.set	shim_values_off, VALUES_OFF
	.set	shim_first_nr, FIRST_NR
	.set	shim_nvalues, NVALUES
	.set	shim_trap_data, SHIM_DATA

	.set	ENOSYS, 38
	.set	SIGSYS, 31
	.set	SYS_SECCOMP, 1		/* si_code of a seccomp SECCOMP_RET_TRAP */
	.set	SI_ERRNO, 4
	.set	SI_CODE, 8
	.set	SI_SYSCALL, 24
	.set	UC_RAX, 144		/* ucontext.uc_mcontext.gregs[REG_RAX] */

	.text
	.globl	shim_handler, shim_restorer, shim_syscall

/* void shim_handler(int signo, siginfo_t *si, ucontext_t *uc) -- must be at offset 0. */
shim_handler:
	cmpl	$SYS_SECCOMP, SI_CODE(%rsi)
	jne	foreign
	cmpl	$SHIM_DATA, SI_ERRNO(%rsi)
	jne	foreign
	movslq	SI_SYSCALL(%rsi), %rax
	sub	$FIRST_NR, %rax
	cmp	$NVALUES-1, %rax
	ja	enosys			/* unsigned: also catches nr < FIRST_NR */
	movabs	$SHIM_ADDR+VALUES_OFF, %rcx
	mov	(%rcx,%rax,8), %rax
	mov	%rax, UC_RAX(%rdx)	/* rt_sigreturn puts it in the guest's rax */
	ret
enosys:
	movq	$-ENOSYS, UC_RAX(%rdx)
	ret

/*
 * Not a trap of our filter: kill(2) from elsewhere, or the guest's own seccomp
 * filter. Do what the guest's own SIGSYS disposition would have done.
 */
foreign:
	movabs	SHIM_ADDR+GUEST_OFF, %rax
	test	%rax, %rax
	jz	dfl
	cmp	$1, %rax		/* SIG_IGN */
	je	done
	jmp	*%rax			/* guest handler: same arguments, returns via our restorer */
dfl:
	/*
	 * SIG_DFL: reset the disposition and send the signal again. SIGSYS stays
	 * blocked until our sigreturn, which then delivers it with the default
	 * action, so the process dies by SIGSYS as it would have without us.
	 */
	mov	$13, %eax		/* rt_sigaction(SIGSYS, &sigdfl, NULL, 8) */
	mov	$SIGSYS, %edi
	movabs	$SHIM_ADDR+SIGDFL_OFF, %rsi
	xor	%edx, %edx
	mov	$8, %r10d
	syscall
	mov	$39, %eax		/* getpid */
	syscall
	mov	%eax, %edi
	mov	$186, %eax		/* gettid */
	syscall
	mov	%eax, %esi
	mov	$SIGSYS, %edx
	mov	$234, %eax		/* tgkill(pid, tid, SIGSYS) */
	syscall
done:
	ret

/* sa_restorer of the handler. */
shim_restorer:
	mov	$15, %eax		/* rt_sigreturn */
	syscall

/* The supervisor single-steps syscalls it injects through here; int3 stops it after. */
shim_syscall:
	syscall
	int3
