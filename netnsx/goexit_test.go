package netnsx_test

import "runtime"

var runtimeGoexit = runtime.Goexit
