package kernel

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// callStats counts the trapped calls a machine served and the time their handlers took, by
// system call, under the `debug` option; the kernel prints them at halt. It is how the
// fast paths of issue 18 were chosen (bench/workloads, one workload per boot): a trap costs
// the same few microseconds whatever the call, so the calls a workload traps most are the
// ones worth answering elsewhere.
type callStats struct {
	n    [maxNr]atomic.Uint64
	ns   [maxNr]atomic.Uint64
	cont [maxNr]atomic.Uint64 // of n, those answered with CONTINUE (run natively)
}

// add records one call of number nr whose handler ran from start on.
func (s *callStats) add(nr int, start time.Time) {
	if s == nil || nr < 0 || nr >= maxNr {
		return
	}
	s.n[nr].Add(1)
	s.ns[nr].Add(uint64(time.Since(start)))
}

// addCont records that a call of number nr just added was let through (CONTINUE).
func (s *callStats) addCont(nr int) {
	if s == nil || nr < 0 || nr >= maxNr {
		return
	}
	s.cont[nr].Add(1)
}

// print writes the counts, the most frequent first: one line per call, then the total.
func (s *callStats) print(w io.Writer) {
	if s == nil {
		return
	}
	type row struct {
		nr    int
		n, ns uint64
	}
	var rows []row
	var total, totalNs uint64
	for nr := range s.n {
		if n := s.n[nr].Load(); n > 0 {
			rows = append(rows, row{nr, n, s.ns[nr].Load()})
			total += n
			totalNs += s.ns[nr].Load()
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].n > rows[j].n || rows[i].n == rows[j].n && rows[i].nr < rows[j].nr })
	var b strings.Builder
	fmt.Fprintf(&b, "linux: trapped calls: %d, %.1f ms in handlers\n", total, float64(totalNs)/1e6)
	for _, r := range rows {
		fmt.Fprintf(&b, "linux:   %-18s %8d %8.1f µs each", sysName(r.nr), r.n, float64(r.ns)/float64(r.n)/1e3)
		if c := s.cont[r.nr].Load(); c > 0 {
			fmt.Fprintf(&b, ", %d let through", c)
		}
		b.WriteString("\n")
	}
	io.WriteString(w, b.String())
}
