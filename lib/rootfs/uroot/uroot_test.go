package uroot

import (
	"os"
	"path/filepath"
	"testing"
)

func TestBuildDefault(t *testing.T) {
	out := filepath.Join(t.TempDir(), "u.cpio")
	if err := Build(out, Options{Log: testWriter{t}}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(st.Size())
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }
