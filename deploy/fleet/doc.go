// Package fleet simulates many displays in one process for the lab and the
// benchmarks: each simulated display is the REAL agent core (package
// agent, with its headless presenter), with its own identity, broker
// credentials, bbolt cache file and MQTT connection. Beside it, PahoSet
// runs bare paho subscribers (no verification, no cache, no scheduler) on
// the same topic with the same credentials, as the baseline that shows what
// the agent pipeline adds to the broker's own fan-out.
//
// Both report what each simulated display saw and when (wall clock,
// nanoseconds), so a parent process can compute publish-to-displayed
// latencies across several child processes on the same host.
//
// Caveats
//
//   - One agent holds two file descriptors (its MQTT socket and its bbolt
//     file). With the 20,000 descriptors a process may hold on the
//     benchmark machines, deploy/cmd/fleetsim runs at most 5,000 agents per
//     child process.
//   - Agents use real time for network behaviour (paho's keepalive and
//     reconnect backoff), as in production.
package fleet
