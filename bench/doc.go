// Package bench holds shoal's end-to-end benchmarks (in bench_test.go and
// harness_test.go): submit rate through the API, submit-to-running latency
// on an idle dev agent with the real sandbox, and the controller's memory
// with 100,000 queued jobs. They print figures and assert none:
//
//	go test -run '^$' -bench . -benchtime 1x -count 1 ./bench/
//
// The figures are printed, one "name: value unit" line each, after all
// benchmarks have run. The sandbox benchmark needs root and is skipped
// without it. contrib/bench.sh measures the CLI side with the real binary.
package bench
