// Package config binds syncwatch's settings in one place: command-line
// flags, SYNCWATCH_* environment variables and the keys of an optional YAML
// file, with that order of precedence (a flag beats the environment, which
// beats the file, which beats the default). It also validates what it
// binds: a bad value is an error naming the flag, variable or key that set
// it and the rule it breaks, never a value silently replaced by another.
//
// The binder is this package's own, on top of the standard flag package,
// rather than kingpin or cobra: those would change what users see (single
// dash flags such as -data-dir, --flag=false for booleans, and the help
// layout all differ), which the command line promises to keep.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Set is the settings of one subcommand.
type Set struct {
	fs           *flag.FlagSet
	options      []*option
	byName       map[string]*option
	checks       []func() error
	interspersed bool
	args         []string
	file         string
	// nodes are the keys of the YAML file that hold structures rather
	// than a flag's value (see Node).
	nodes map[string]func(file string, n *yaml.Node) error
}

type option struct {
	name   string // flag name; the env var is SYNCWATCH_<NAME> and the YAML key <name> with '_' for '-'
	value  flag.Value
	origin string // what set the value last: "" for the default
}

// New returns the settings of subcommand name, writing errors and help to
// out; help prints usage, when there is one, before the flags. Flags may
// follow the subcommand's arguments (see Interspersed).
func New(name, usage string, out io.Writer) *Set {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	if usage != "" {
		fs.Usage = func() {
			fmt.Fprint(fs.Output(), usage)
			fs.PrintDefaults()
		}
	}
	s := &Set{fs: fs, byName: map[string]*option{}, interspersed: true}
	fs.String("config", "", "YAML configuration file (env SYNCWATCH_CONFIG)")
	return s
}

// Interspersed says whether flags may follow arguments (the default). A
// subcommand whose arguments are another command line, such as `run`,
// turns it off so that the wrapped command's flags stay its own.
func (s *Set) Interspersed(on bool) { s.interspersed = on }

// Flags returns the underlying flag set, for flags that have no
// environment variable or YAML key (per-invocation values such as a run
// id) and for help output.
func (s *Set) Flags() *flag.FlagSet { return s.fs }

// Args returns the arguments left after the flags.
func (s *Set) Args() []string { return s.args }

// Usage prints the help of the subcommand.
func (s *Set) Usage() { s.fs.Usage() }

// Names returns the names of the options bound to the environment and
// the YAML file, in the order they were added.
func (s *Set) Names() []string {
	names := make([]string, len(s.options))
	for i, o := range s.options {
		names[i] = o.name
	}
	return names
}

// Var binds v to flag name, environment variable EnvName(name) and YAML
// key YAMLKey(name).
func (s *Set) Var(v flag.Value, name, usage string) {
	o := &option{name: name, value: v}
	s.options = append(s.options, o)
	s.byName[name] = o
	s.fs.Var(v, name, fmt.Sprintf("%s (env %s)", usage, EnvName(name)))
}

// String binds a string option with default def.
func (s *Set) String(p *string, name, def, usage string) {
	*p = def
	s.Var((*stringValue)(p), name, usage)
}

// Bool binds a boolean option with default def.
func (s *Set) Bool(p *bool, name string, def bool, usage string) {
	*p = def
	s.Var((*boolValue)(p), name, usage)
}

// Int binds an integer option with default def.
func (s *Set) Int(p *int, name string, def int, usage string) {
	*p = def
	s.Var((*intValue)(p), name, usage)
}

// Float binds a floating-point option with default def.
func (s *Set) Float(p *float64, name string, def float64, usage string) {
	*p = def
	s.Var((*floatValue)(p), name, usage)
}

// Duration binds a duration option with default def; see ParseDuration.
func (s *Set) Duration(p *time.Duration, name string, def time.Duration, usage string) {
	*p = def
	s.Var((*durationValue)(p), name, usage)
}

// List binds a comma-separated list (a sequence in YAML) with default def.
func (s *Set) List(p *[]string, name string, def []string, usage string) {
	*p = def
	s.Var((*listValue)(p), name, usage)
}

// Node binds a key of the YAML file that holds a structure (a list of
// mappings, say) rather than one value, so it has no flag or environment
// variable; decode receives the file's name and the key's node, and its
// error is returned by Parse as it is.
func (s *Set) Node(key string, decode func(file string, n *yaml.Node) error) {
	if s.nodes == nil {
		s.nodes = map[string]func(string, *yaml.Node) error{}
	}
	s.nodes[key] = decode
}

// Check adds a rule that Parse applies once every layer is read. The rule
// returns an error from Invalid, or nil.
func (s *Set) Check(rule func() error) { s.checks = append(s.checks, rule) }

// Invalid returns the error of option name breaking a rule: it names the
// flag, environment variable or YAML key the value came from, followed by
// the rule format describes, as in `--log-format "xml": want json, text
// or auto`.
func (s *Set) Invalid(name, format string, args ...any) error {
	return fmt.Errorf("%s %s", s.Source(name), fmt.Sprintf(format, args...))
}

// Source says where the value of option name came from: "--name",
// "SYNCWATCH_NAME", "name in config file F", or "--name (default)".
func (s *Set) Source(name string) string {
	o, ok := s.byName[name]
	if !ok || o.origin == "" {
		return "--" + name + " (default)"
	}
	return o.origin
}

// EnvName is the environment variable of flag flagName.
func EnvName(flagName string) string {
	return "SYNCWATCH_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// YAMLKey is the key of flag flagName in the YAML file.
func YAMLKey(flagName string) string { return strings.ReplaceAll(flagName, "-", "_") }

// Parse applies the file named by --config or SYNCWATCH_CONFIG, then the
// environment, then the flags in args, then every rule. The arguments
// that are not flags are left in Args; "--" ends the flags.
func (s *Set) Parse(args []string, getenv func(string) string) error {
	s.file = getenv("SYNCWATCH_CONFIG")
	if path := s.configFlag(args); path != "" {
		s.file = path
	}
	if s.file != "" {
		if err := s.applyFile(s.file); err != nil {
			return err
		}
	}
	for _, o := range s.options {
		if v := getenv(EnvName(o.name)); v != "" {
			if err := o.value.Set(v); err != nil {
				return fmt.Errorf("%s: %w", EnvName(o.name), err)
			}
			o.origin = EnvName(o.name)
		}
	}
	if err := s.parseFlags(args); err != nil {
		return err
	}
	s.fs.Visit(func(f *flag.Flag) {
		if o, ok := s.byName[f.Name]; ok {
			o.origin = "--" + f.Name
		}
	})
	var errs []error
	for _, rule := range s.checks {
		if err := rule(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// parseFlags parses args, taking flags that follow arguments too unless
// interspersing is off.
func (s *Set) parseFlags(args []string) error {
	rest, err := parseInto(s.fs, args, s.interspersed)
	s.args = rest
	return err
}

// parseInto parses args with fs and returns the arguments that are not
// flags: with interspersed, flags may follow them until "--".
func parseInto(fs *flag.FlagSet, args []string, interspersed bool) ([]string, error) {
	var out []string
	for {
		if err := fs.Parse(args); err != nil {
			return out, err
		}
		rest := fs.Args()
		consumed := args[:len(args)-len(rest)]
		if len(rest) == 0 || !interspersed || (len(consumed) > 0 && consumed[len(consumed)-1] == "--") {
			return append(out, rest...), nil
		}
		out = append(out, rest[0])
		args = rest[1:]
	}
}

// configFlag returns the value of --config in args, read the way Parse
// reads flags (so a --config among a wrapped command's arguments is not
// syncwatch's), without setting any other flag. A command line that does
// not parse gives "": Parse reports its error.
func (s *Set) configFlag(args []string) string {
	scratch := flag.NewFlagSet(s.fs.Name(), flag.ContinueOnError)
	scratch.SetOutput(io.Discard)
	var path string
	s.fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "config" {
			scratch.StringVar(&path, f.Name, "", "")
			return
		}
		b, ok := f.Value.(interface{ IsBoolFlag() bool })
		scratch.Var(ignoredValue{boolean: ok && b.IsBoolFlag()}, f.Name, "")
	})
	if _, err := parseInto(scratch, args, s.interspersed); err != nil {
		return ""
	}
	return path
}

// ignoredValue stands for a flag whose value configFlag does not need.
type ignoredValue struct{ boolean bool }

func (ignoredValue) Set(string) error   { return nil }
func (ignoredValue) String() string     { return "" }
func (v ignoredValue) IsBoolFlag() bool { return v.boolean }

func (s *Set) applyFile(path string) error {
	body, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config file: %w", err)
	}
	var doc map[string]yaml.Node
	if err := yaml.Unmarshal(body, &doc); err != nil {
		return fmt.Errorf("parse config file %s: %w", path, err)
	}
	known := map[string]*option{}
	for _, o := range s.options {
		known[YAMLKey(o.name)] = o
	}
	for key, node := range doc {
		if decode, ok := s.nodes[key]; ok {
			if err := decode(path, &node); err != nil {
				return err
			}
			continue
		}
		o, ok := known[key]
		if !ok {
			return fmt.Errorf("config file %s: unknown key %q", path, key)
		}
		o.origin = fmt.Sprintf("%s in config file %s", key, path)
		if lv, ok := o.value.(*listValue); ok && node.Kind == yaml.SequenceNode {
			var items []string
			if err := node.Decode(&items); err != nil {
				return fmt.Errorf("config file %s: %s: %w", path, key, err)
			}
			*lv = items
			continue
		}
		if node.Kind != yaml.ScalarNode {
			return fmt.Errorf("config file %s: %s: want a single value", path, key)
		}
		if err := o.value.Set(node.Value); err != nil {
			return fmt.Errorf("config file %s: %s: %w", path, key, err)
		}
	}
	return nil
}
