package netnsx

import "github.com/nstopo/nstopo/internal/errdefs"

// The sentinel errors every nstopo package wraps. Match them with errors.Is.
var (
	ErrExists       = errdefs.ErrExists       // the name is taken
	ErrNotFound     = errdefs.ErrNotFound     // no such namespace, link, address or route
	ErrInvalid      = errdefs.ErrInvalid      // a bad argument, or a closed or nil handle
	ErrPermission   = errdefs.ErrPermission   // needs CAP_SYS_ADMIN and CAP_NET_ADMIN
	ErrNotSupported = errdefs.ErrNotSupported // not on this OS or kernel
	// ErrClosed is wrapped, together with ErrInvalid, by every call on a namespace
	// handle that was closed or deleted.
	ErrClosed = errdefs.ErrClosed
)
