package seccomp

import "golang.org/x/sys/unix"

// Prog assembles a classic BPF program, as seccomp filters are written.
type Prog struct{ Ins []unix.SockFilter }

// Stmt appends an instruction without jump targets.
func (p *Prog) Stmt(code uint16, k uint32) {
	p.Ins = append(p.Ins, unix.SockFilter{Code: code, K: k})
}

// Jump appends a conditional jump (jt, jf: instructions to skip when true, false).
func (p *Prog) Jump(code uint16, k uint32, jt, jf uint8) {
	p.Ins = append(p.Ins, unix.SockFilter{Code: code, K: k, Jt: jt, Jf: jf})
}

// Run is a range of numbers that share one leaf: from Lo up to the next run's Lo.
type Run[L any] struct {
	Lo   uint32
	Leaf L
}

// Tree emits a binary search over runs (sorted by Lo; the accumulator holds the number),
// with emit writing each run's leaf. The search costs about log2(len(runs)) comparisons,
// whatever the table's size; a subtree longer than a conditional jump can skip gets an
// unconditional one.
func Tree[L any](p *Prog, runs []Run[L], emit func(*Prog, L)) {
	if len(runs) == 1 {
		emit(p, runs[0].Leaf)
		return
	}
	mid := len(runs) / 2
	var left Prog
	Tree(&left, runs[:mid], emit)
	n := len(left.Ins)
	if n <= 255 {
		// if A >= runs[mid].Lo skip the left subtree
		p.Jump(unix.BPF_JMP|unix.BPF_JGE|unix.BPF_K, runs[mid].Lo, uint8(n), 0)
	} else {
		p.Jump(unix.BPF_JMP|unix.BPF_JGE|unix.BPF_K, runs[mid].Lo, 0, 1)
		p.Stmt(unix.BPF_JMP|unix.BPF_JA, uint32(n))
	}
	p.Ins = append(p.Ins, left.Ins...)
	Tree(p, runs[mid:], emit)
}
