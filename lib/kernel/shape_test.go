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
