// Package cli is kiosk-config, the field-tech tool: every subcommand as a
// function of its arguments and an Env, so tests run it without a process.
// The main package only calls Run.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/atmguard/kiosk/firmware-config/doctor"
	"github.com/atmguard/kiosk/internal/clock"
)

// Exit codes (docs/CONFIG.md).
const (
	ExitOK      = 0 // done; all checks OK
	ExitInvalid = 1 // validation or check failure: invalid config, bad signature, doctor FAIL, enrollment refused
	ExitUsage   = 2 // bad command line
	ExitIO      = 3 // local file or system error (cannot read, cannot write)
	ExitRemote  = 4 // central or the local agent unreachable or failing (5xx); try again
)

// Env is the outside world of a run.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	Clock  clock.Clock
	HTTP   *http.Client
	// ConfigPath is the default config file (/etc/kiosk/device.toml).
	ConfigPath string

	// doctor adjusts doctor's probes (display, disk) in tests.
	doctor func(*doctor.Options)
}

// DefaultConfigPath is where the agent reads its config.
const DefaultConfigPath = "/etc/kiosk/device.toml"

func (e *Env) defaults() {
	if e.Stdin == nil {
		e.Stdin = os.Stdin
	}
	if e.Stdout == nil {
		e.Stdout = os.Stdout
	}
	if e.Stderr == nil {
		e.Stderr = os.Stderr
	}
	if e.Getenv == nil {
		e.Getenv = os.Getenv
	}
	if e.Clock == nil {
		e.Clock = clock.Real{}
	}
	if e.HTTP == nil {
		e.HTTP = &http.Client{Timeout: 15 * time.Second}
	}
	if e.ConfigPath == "" {
		e.ConfigPath = DefaultConfigPath
	}
}

type command struct {
	name, summary, usage, example string
	// setup defines the flags on fs and returns the run function bound to
	// them (so concurrent runs share nothing).
	setup func(fs *flag.FlagSet, env *Env) func(ctx context.Context, args []string) int
}

var commands []*command

// register adds a command at init time, keeping the list sorted by name.
func register(c *command) {
	commands = append(commands, c)
	sort.Slice(commands, func(i, j int) bool { return commands[i].name < commands[j].name })
}

// Run runs kiosk-config with args (without the program name).
func Run(ctx context.Context, args []string, env Env) int {
	env.defaults()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 {
			if c := find(args[1]); c != nil {
				fs, _ := newFlagSet(c, &env)
				fs.SetOutput(env.Stdout)
				fs.Usage()
				return ExitOK
			}
		}
		usage(env.Stdout)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	c := find(args[0])
	if c == nil {
		fmt.Fprintf(env.Stderr, "kiosk-config: unknown command %q\n\n", args[0])
		usage(env.Stderr)
		return ExitUsage
	}
	fs, run := newFlagSet(c, &env)
	for _, a := range args[1:] {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(env.Stdout)
		}
	}
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	return run(ctx, pos)
}

// parseInterspersed lets flags follow positional arguments
// ("sign device.toml -key k"), as field techs type them; "--" ends flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func find(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func newFlagSet(c *command, env *Env) (*flag.FlagSet, func(context.Context, []string) int) {
	fs := flag.NewFlagSet("kiosk-config "+c.name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	run := c.setup(fs, env)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: kiosk-config %s %s\n\n%s\n\nExample:\n%s\n", c.name, c.usage, c.summary, indent(c.example))
		var hasFlags bool
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintf(w, "\nFlags:\n")
			fs.PrintDefaults()
		}
		fmt.Fprintf(w, "\n%s\n", exitCodesText)
	}
	return fs, run
}

const exitCodesText = `Exit codes: 0 ok; 1 invalid config, bad signature, failed check or refused enrollment;
2 usage; 3 local file/system error; 4 central or agent unreachable (try again).`

func usage(w io.Writer) {
	fmt.Fprintf(w, "kiosk-config: configure, sign, enroll and diagnose a kiosk display.\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, firstLine(c.summary))
	}
	fmt.Fprintf(w, "\nRun `kiosk-config <command> -h` for flags and an example. See docs/CONFIG.md.\n%s\n", exitCodesText)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n")
}

// failf prints "kiosk-config <cmd>: msg" to stderr and returns code.
func failf(env *Env, code int, cmd, format string, a ...any) int {
	fmt.Fprintf(env.Stderr, "kiosk-config %s: %s\n", cmd, fmt.Sprintf(format, a...))
	return code
}

// ioCode classifies a file error: a missing or unreadable file is ExitIO.
func ioCode(err error) int {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return ExitIO
	}
	return ExitInvalid
}

// oneArg takes an optional single positional argument with a default.
func oneArg(env *Env, cmd string, args []string, def string) (string, bool) {
	switch len(args) {
	case 0:
		return def, true
	case 1:
		return args[0], true
	}
	fmt.Fprintf(env.Stderr, "kiosk-config %s: expected at most one file argument, got %d (flags go before the file)\n", cmd, len(args))
	return "", false
}
