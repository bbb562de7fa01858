package errdefs

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
)

func TestKernel(t *testing.T) {
	for _, tc := range []struct {
		errno    syscall.Errno
		sentinel error
	}{
		{syscall.EEXIST, ErrExists}, {syscall.ENOENT, ErrNotFound}, {syscall.ENODEV, ErrNotFound},
		{syscall.EINVAL, ErrInvalid}, {syscall.ERANGE, ErrInvalid}, {syscall.EADDRNOTAVAIL, ErrInvalid},
		{syscall.EAFNOSUPPORT, ErrInvalid}, {syscall.EPERM, ErrPermission}, {syscall.EACCES, ErrPermission},
		{syscall.EOPNOTSUPP, ErrNotSupported}, {syscall.EISDIR, ErrInvalid}, {syscall.ELOOP, ErrInvalid},
		{syscall.ENOTDIR, ErrNotFound},
	} {
		// The extended ack message arrives wrapped around the errno.
		err := Kernel(fmt.Errorf("%w: detail", tc.errno), "CAP_NET_ADMIN")
		if !errors.Is(err, tc.sentinel) || !errors.Is(err, tc.errno) {
			t.Errorf("Kernel(%v) = %v: want both %v and the errno", tc.errno, err, tc.sentinel)
		}
		if !strings.HasPrefix(err.Error(), tc.sentinel.Error()+": "+tc.errno.Error()) {
			t.Errorf("Kernel(%v) reads %q", tc.errno, err)
		}
	}
	if err := Kernel(syscall.EPERM, "CAP_NET_ADMIN"); !strings.Contains(err.Error(), "needs CAP_NET_ADMIN") {
		t.Errorf("permission error %q does not name the capability", err)
	}
	plain := errors.New("plain")
	if Kernel(plain, "") != plain || Kernel(nil, "") != nil {
		t.Error("Kernel changed an error without an errno")
	}
	already := Invalid("bad %s", "x")
	if Kernel(already, "") != already {
		t.Error("Kernel wrapped an error that already carries a sentinel")
	}
}

func ExampleKernel() {
	err := fmt.Errorf("bridge: create br0: %w", Kernel(syscall.EEXIST, ""))
	fmt.Println(err, errors.Is(err, ErrExists), errors.Is(err, syscall.EEXIST))
	// Output: bridge: create br0: netnsx: already exists: file exists true true
}

func TestSentinelOnce(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
		is   []error
	}{
		{Closed, "netnsx: namespace handle is closed", []error{ErrInvalid, ErrClosed}},
		{Invalid("%w", ErrClosed), "netnsx: namespace handle is closed", []error{ErrInvalid, ErrClosed}},
		{fmt.Errorf("netnsx: links x: %w", Kernel(Closed, "")), "netnsx: links x: netnsx: namespace handle is closed", []error{ErrInvalid, ErrClosed}},
		{Invalid("peer: %w", Kernel(syscall.EINVAL, "")), "peer: netnsx: invalid argument: invalid argument", []error{ErrInvalid, syscall.EINVAL}},
		{Invalid("MTU %d out of range", 1), "netnsx: invalid argument: MTU 1 out of range", []error{ErrInvalid}},
	} {
		if tc.err.Error() != tc.want {
			t.Errorf("%q, want %q", tc.err, tc.want)
		}
		for _, target := range tc.is {
			if !errors.Is(tc.err, target) {
				t.Errorf("%q is not %v", tc.err, target)
			}
		}
	}
}
