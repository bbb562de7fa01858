package netnsx

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A kernel that renames only links that are down (before 6.2; this one, 6.18, renames them up)
// answers EBUSY: ErrInvalid, saying what to do, the errno still reachable.
func TestRenameErrBusy(t *testing.T) {
	l := &Link{name: "eth0"}
	err := renameErr(l, fmt.Errorf("%w: device is up", unix.EBUSY))
	if !errors.Is(err, ErrInvalid) || !errors.Is(err, unix.EBUSY) || !strings.Contains(err.Error(), "take it down first") {
		t.Errorf("EBUSY mapped to %v", err)
	}
	if other := fmt.Errorf("x: %w", unix.EEXIST); renameErr(l, other) != other {
		t.Error("another error was changed")
	}
	if renameErr(l, nil) != nil {
		t.Error("no error became one")
	}
}
