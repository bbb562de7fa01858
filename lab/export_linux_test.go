package lab

// Workers lets the benchmarks compare one goroutine with several.
var Workers = &workers
