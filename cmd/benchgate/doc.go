// Command benchgate is the regression gate of `make bench-check`: it has
// benchstat compare a run of the Go benchmarks with the baseline committed
// in docs/bench-baseline.txt, reads benchstat's CSV and fails when a
// benchmark got worse beyond a threshold: any increase of allocs/op, a
// time/op increase beyond -time percent that benchstat finds significant
// (p < -alpha), a B/op increase beyond -bytes percent likewise, or a
// benchmark of the baseline that no longer ran.
//
//	benchgate [-benchstat PATH] [-time 10] [-bytes 10] [-alpha 0.05] baseline.txt new.txt
//
// Exit status: 0 no regression, 1 regression, 2 the comparison could not
// be made (missing file, no benchstat, unreadable output).
package main
