package lab_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/nstopo/nstopo/lab"
	"github.com/nstopo/nstopo/netnsx"
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

// TestParseProbeStrict: what the strict parser must refuse rather than silently resolve.
func TestParseProbeStrict(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    lab.Format
		data string
	}{
		{"json duplicate key", lab.JSON, `{"name":"a","name":"b","topology":{"nodes":{"x":{}}}}`},
		{"json duplicate node", lab.JSON, `{"name":"a","topology":{"nodes":{"x":{},"x":{"ipv4only":true}}}}`},
		{"yaml second document", lab.YAML, "name: a\ntopology: {nodes: {x: {}}}\n---\nname: b\n"},
		{"yaml third document", lab.YAML, "name: a\ntopology: {nodes: {x: {}}}\n---\n---\nname: b\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if s, err := lab.Parse([]byte(tc.data), tc.f); !errors.Is(err, netnsx.ErrInvalid) {
				t.Errorf("Parse = %+v, %v; want ErrInvalid", s, err)
			}
		})
	}
}

// TestParseProbeTrailingSeparator: a "---" after the document starts an empty one, which
// holds nothing to ignore.
func TestParseProbeTrailingSeparator(t *testing.T) {
	if _, err := lab.Parse([]byte("name: a\ntopology: {nodes: {x: {}}}\n---\n"), lab.YAML); err != nil {
		t.Error(err)
	}
}

// TestValidateProbeEmptyNodeName: a node named "" (and with prefix "..", a namespace
// named "..") is a problem Validate reports, not one Build finds.
func TestValidateProbeEmptyNodeName(t *testing.T) {
	for _, prefix := range []string{"", ".", ".."} {
		s := &lab.Spec{Name: "a", Prefix: prefix, Topology: lab.Topology{Nodes: map[string]lab.Node{"": {}}}}
		var fe *lab.FieldError
		if err := s.Validate(); !errors.As(err, &fe) || !errors.Is(err, netnsx.ErrInvalid) {
			t.Errorf("prefix %q, node \"\": Validate = %v, want a FieldError", prefix, err)
		}
	}
}
