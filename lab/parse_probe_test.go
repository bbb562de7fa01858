package lab_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/nstopo/nstopo/lab"
)

// TestParseAliasBomb: a small YAML file whose aliases expand to n*n mappings must not
// make Parse walk (and report) every copy: an anchored mapping is checked once.
func TestParseAliasBomb(t *testing.T) {
	const n = 200
	var b strings.Builder
	b.WriteString("name: x\ntopology:\n  defaults:\n    labels: &B\n      bogus: 1\n")
	b.WriteString("  nodes:\n    n0:\n      bridges: &BS\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "        b%d: *B\n", i)
	}
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "    n%d: {bridges: *BS}\n", i)
	}
	_, err := lab.Parse([]byte(b.String()), lab.YAML)
	var fe *lab.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("Parse = %v, want a FieldError for the unknown field", err)
	}
	if got := strings.Count(err.Error(), "unknown field"); got > 2*n {
		t.Errorf("%d-byte file: %d errors, %d bytes of message: the aliases were expanded", b.Len(), got, len(err.Error()))
	}
}
