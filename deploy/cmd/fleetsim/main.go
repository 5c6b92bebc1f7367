// Command fleetsim runs simulated displays (the real agent core, headless)
// against a central, for the lab and the fleet benchmarks.
//
//	fleetsim bench [-n 1000,10000] [-ingest 100000] [-per-child 5000] [-json out.json]
//	fleetsim lab   [-n 50] [-data DIR] [-http 127.0.0.1:8080] [-mqtt 127.0.0.1:1883]
//	fleetsim child -mode agents|paho -devices FILE -keys FILE -broker URL -central URL -index0 K [-dir DIR]
//
// bench starts central in this process (embedded broker, as deployed by
// default) and the simulated displays in child processes of this same
// binary (a process may hold 20,000 file descriptors here; one agent holds
// two), then prints a table. See docs/BENCHMARKS.md "Fleet" and
// docs/OPERATIONS.md "Lab".
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: fleetsim bench|lab|child [flags] (see go doc ./deploy/cmd/fleetsim)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "bench":
		err = runBench(ctx, os.Args[2:])
	case "lab":
		err = runLab(ctx, os.Args[2:])
	case "child":
		err = runChild(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (want bench, lab or child)", os.Args[1])
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "fleetsim:", err)
		os.Exit(1)
	}
}
