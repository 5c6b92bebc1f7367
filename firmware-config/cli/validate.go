package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"

	"github.com/atmguard/kiosk/firmware-config/config"
)

func init() {
	register(&command{
		name:    "validate",
		usage:   "[-json] [-draft] [config.toml]",
		summary: "Check a config file and print every problem as file:line: field: message.",
		example: `kiosk-config validate /etc/kiosk/device.toml
kiosk-config validate -json device.toml | jq '.errors[].message'
kiosk-config validate -draft draft.toml   # before enroll: broker, central and keys may be missing`,
		setup: func(fs *flag.FlagSet, env *Env) func(context.Context, []string) int {
			asJSON := fs.Bool("json", false, "print a JSON report on stdout")
			draft := fs.Bool("draft", false, "accept a draft that still lacks what enroll fills in")
			return func(ctx context.Context, args []string) int {
				path, ok := oneArg(env, "validate", args, env.ConfigPath)
				if !ok {
					return ExitUsage
				}
				return runValidate(env, path, *asJSON, *draft)
			}
		},
	})
}

// Report is the -json output of validate.
type Report struct {
	File   string               `json:"file"`
	Valid  bool                 `json:"valid"`
	Errors []*config.FieldError `json:"errors"`
}

func runValidate(env *Env, path string, asJSON, draft bool) int {
	data, err := config.ReadLimited(path, config.MaxConfigBytes)
	if err != nil {
		if asJSON {
			writeJSON(env, Report{File: path, Errors: []*config.FieldError{{File: path, Msg: err.Error()}}})
		}
		return failf(env, ExitIO, "validate", "%v", err)
	}
	parse := config.Parse
	if draft {
		parse = config.ParseDraft
	}
	_, err = parse(data, path)
	rep := Report{File: path, Valid: err == nil, Errors: []*config.FieldError{}}
	var es config.Errors
	if errors.As(err, &es) {
		rep.Errors = es
	} else if err != nil {
		rep.Errors = []*config.FieldError{{File: path, Msg: err.Error()}}
	}
	if asJSON {
		writeJSON(env, rep)
	} else if rep.Valid {
		fmt.Fprintf(env.Stdout, "%s: OK\n", path)
	} else {
		for _, e := range rep.Errors {
			fmt.Fprintln(env.Stderr, e.Error())
		}
		fmt.Fprintf(env.Stderr, "%d problem(s) in %s\n", len(rep.Errors), path)
	}
	if !rep.Valid {
		return ExitInvalid
	}
	return ExitOK
}

func writeJSON(env *Env, v any) {
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
