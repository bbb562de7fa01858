// Package errdefs holds the sentinel errors that every nstopo package wraps, and the
// mapping from kernel errnos to them. netnsx re-exports the sentinels; users match them
// with errors.Is and never import this package.
package errdefs

import (
	"errors"
	"fmt"
	"syscall"
)

// The sentinels. Their text starts with "netnsx:" because that is where users find them.
var (
	ErrExists       = errors.New("netnsx: already exists")
	ErrNotFound     = errors.New("netnsx: not found")
	ErrInvalid      = errors.New("netnsx: invalid argument")
	ErrPermission   = errors.New("netnsx: permission denied")
	ErrNotSupported = errors.New("netnsx: not supported")
	// ErrClosed is wrapped together with ErrInvalid by every call on a closed or deleted
	// namespace handle.
	ErrClosed = errors.New("netnsx: namespace handle is closed")
)

// Closed is the error of every call on a closed or deleted namespace handle. It matches
// both ErrInvalid and ErrClosed and reads as ErrClosed alone.
var Closed = Invalid("%w", ErrClosed)

// kernelError keeps both the sentinel and the original error (usually a syscall.Errno,
// possibly annotated with the kernel's extended ack message) reachable with errors.Is.
type kernelError struct {
	sentinel error
	err      error
}

// Error prints the sentinel once: not again when the wrapped error already says it (or
// says ErrClosed, which implies ErrInvalid).
func (e *kernelError) Error() string {
	if errors.Is(e.err, e.sentinel) || errors.Is(e.err, ErrClosed) {
		return e.err.Error()
	}
	return e.sentinel.Error() + ": " + e.err.Error()
}

func (e *kernelError) Unwrap() []error { return []error{e.sentinel, e.err} }

// Kernel maps an error returned by a syscall or a netlink request to the sentinel that
// tells the truth, keeping the errno reachable. Errors that already carry a sentinel, and
// errors with no errno, are returned unchanged. hint is added to permission errors to
// name the capability the operation needs.
func Kernel(err error, hint string) error {
	if err == nil {
		return nil
	}
	for _, s := range []error{ErrExists, ErrNotFound, ErrInvalid, ErrPermission, ErrNotSupported} {
		if errors.Is(err, s) {
			return err
		}
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return err
	}
	var sentinel error
	switch errno {
	case syscall.EEXIST:
		sentinel = ErrExists
	case syscall.ENOENT, syscall.ENODEV, syscall.ESRCH, syscall.ENXIO,
		syscall.ENOTDIR: // a path through a file: a sysctl key below a setting
		sentinel = ErrNotFound
	case syscall.EINVAL, syscall.ERANGE, syscall.EAFNOSUPPORT, syscall.EADDRNOTAVAIL, syscall.ENAMETOOLONG, syscall.EDOM,
		syscall.EISDIR, // a sysctl key that names a directory of settings
		syscall.ELOOP:  // a bridge made a port of a bridge
		sentinel = ErrInvalid
	case syscall.EPERM, syscall.EACCES:
		sentinel = ErrPermission
		if hint != "" {
			err = &hinted{err: err, hint: hint}
		}
	case syscall.EOPNOTSUPP, syscall.EPROTONOSUPPORT, syscall.ENOSYS:
		sentinel = ErrNotSupported
	default:
		return err
	}
	return &kernelError{sentinel: sentinel, err: err}
}

type hinted struct {
	err  error
	hint string
}

func (h *hinted) Error() string { return h.err.Error() + " (needs " + h.hint + ")" }
func (h *hinted) Unwrap() error { return h.err }

// Op is the "op object" part of an error prefix, without a dangling space when the
// object is empty: Op("create", "br0") is "create br0", Op("create", "") is "create".
func Op(op, obj string) string {
	if obj == "" {
		return op
	}
	return op + " " + obj
}

// Invalid wraps a validation failure with ErrInvalid.
func Invalid(format string, args ...any) error {
	return &kernelError{sentinel: ErrInvalid, err: fmt.Errorf(format, args...)}
}
