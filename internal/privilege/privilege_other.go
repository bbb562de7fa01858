//go:build !linux

// Package privilege tells what the process may do with namespaces.
package privilege

// Has reports false: namespaces need Linux.
func Has() bool { return false }

// InitialUserNS reports true: there are no user namespaces.
func InitialUserNS() bool { return true }
