package kernel_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Limits on the package's shape: a file a reader can hold in mind, a function that fits on
// two screens. Generated files (sysnames) and tests are exempt.
const (
	maxFileLines = 800
	maxFuncLines = 120
)

// TestCodeShape keeps lib/kernel's files and functions within the limits above.
func TestCodeShape(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(src), "// Code generated") {
			continue
		}
		if n := strings.Count(string(src), "\n"); n > maxFileLines {
			t.Errorf("%s: %d lines (at most %d)", f, n, maxFileLines)
		}
		af, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			var body *ast.BlockStmt
			name := ""
			switch fn := n.(type) {
			case *ast.FuncDecl:
				body, name = fn.Body, fn.Name.Name
			default:
				return true
			}
			if body == nil {
				return false
			}
			lines := fset.Position(body.End()).Line - fset.Position(body.Pos()).Line + 1
			if lines > maxFuncLines {
				t.Errorf("%s: func %s: %d lines (at most %d)", f, name, lines, maxFuncLines)
			}
			return true
		})
	}
}

// TestPtraceIsMechanism: ptrace.go runs a traced call (attach, rewrite at the interrupt
// stop, follow forks and execs, detach) and knows nothing of what exec and chdir mean. What
// the calls mean is the Trace rows' (table.go's traceHooks, sys_exec.go); the test fails
// when ptrace.go names anything sys_exec.go declares besides the plan it carries and the
// fds it installs and closes.
func TestPtraceIsMechanism(t *testing.T) {
	fset := token.NewFileSet()
	semantics := map[string]bool{}
	exec, err := parser.ParseFile(fset, "sys_exec.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	// the plan: carried, its file installed in the caller, closed, and forgotten
	allowed := map[string]bool{"tracePlan": true, "installFlags": true, "fd": true, "gfd": true, "clearPending": true}
	ast.Inspect(exec, func(n ast.Node) bool {
		switch d := n.(type) {
		case *ast.FuncDecl:
			semantics[d.Name.Name] = true
		case *ast.ValueSpec:
			for _, id := range d.Names {
				semantics[id.Name] = true
			}
		case *ast.TypeSpec:
			semantics[d.Name.Name] = true
			if st, ok := d.Type.(*ast.StructType); ok {
				for _, f := range st.Fields.List {
					for _, id := range f.Names {
						semantics[id.Name] = true
					}
				}
			}
		}
		return true
	})
	semantics["execDone"] = true // sigsys.go's half of a finished exec
	for name := range allowed {
		delete(semantics, name)
	}
	pt, err := parser.ParseFile(fset, "ptrace.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	hook := map[*ast.Ident]bool{} // d.hooks.rewrite: a hook of the row, named like its method
	ast.Inspect(pt, func(n ast.Node) bool {
		if s, ok := n.(*ast.SelectorExpr); ok {
			if x, ok := s.X.(*ast.SelectorExpr); ok && x.Sel.Name == "hooks" {
				hook[s.Sel] = true
			}
		}
		if id, ok := n.(*ast.Ident); ok && semantics[id.Name] && !seen[id.Name] && !hook[id] {
			seen[id.Name] = true
			t.Errorf("ptrace.go:%d names %s, exec or chdir semantics (a Trace row's hook should)", fset.Position(id.Pos()).Line, id.Name)
		}
		return true
	})
}
