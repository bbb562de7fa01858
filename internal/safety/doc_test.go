// Package safety_test proves nstopo's guarantees across packages: no thread left in a
// foreign namespace under load, nothing leaked after hundreds of cycles, fixtures of a
// killed process swept, the host never changed by accident, and permission errors that
// name the capability. It holds tests only.
package safety_test
