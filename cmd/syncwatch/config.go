package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// settings binds command-line flags, SYNCWATCH_* environment variables and
// keys of an optional YAML file to variables, with that order of
// precedence: a flag beats the environment, which beats the file, which
// beats the default.
type settings struct {
	fs      *flag.FlagSet
	options []option
}

type option struct {
	name  string // flag name; the env var is SYNCWATCH_<NAME> and the YAML key <name> with '_' for '-'
	value flag.Value
}

// newSettings returns the settings of subcommand name, writing errors and
// help to out; help prints usage, when there is one, before the flags.
func newSettings(name, usage string, out io.Writer) *settings {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	if usage != "" {
		fs.Usage = func() {
			fmt.Fprint(fs.Output(), usage)
			fs.PrintDefaults()
		}
	}
	s := &settings{fs: fs}
	fs.String("config", "", "YAML configuration file (env SYNCWATCH_CONFIG)")
	return s
}

func (s *settings) add(name string, v flag.Value, usage string) {
	s.options = append(s.options, option{name: name, value: v})
	s.fs.Var(v, name, fmt.Sprintf("%s (env %s)", usage, envName(name)))
}

func (s *settings) String(p *string, name, def, usage string) {
	*p = def
	s.add(name, (*stringValue)(p), usage)
}

func (s *settings) Bool(p *bool, name string, def bool, usage string) {
	*p = def
	s.add(name, (*boolValue)(p), usage)
}

func (s *settings) Int(p *int, name string, def int, usage string) {
	*p = def
	s.add(name, (*intValue)(p), usage)
}

func (s *settings) Duration(p *time.Duration, name string, def time.Duration, usage string) {
	*p = def
	s.add(name, (*durationValue)(p), usage)
}

func (s *settings) List(p *[]string, name string, def []string, usage string) {
	*p = def
	s.add(name, (*listValue)(p), usage)
}

func envName(flagName string) string {
	return "SYNCWATCH_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func yamlKey(flagName string) string { return strings.ReplaceAll(flagName, "-", "_") }

// parse applies the file, then the environment, then the flags in args.
func (s *settings) parse(args []string, getenv func(string) string) error {
	path := getenv("SYNCWATCH_CONFIG")
	for i, a := range args {
		if a == "--" {
			break
		}
		for _, prefix := range []string{"--config=", "-config="} {
			if v, ok := strings.CutPrefix(a, prefix); ok {
				path = v
			}
		}
		if (a == "--config" || a == "-config") && i+1 < len(args) {
			path = args[i+1]
		}
	}
	if path != "" {
		if err := s.applyFile(path); err != nil {
			return err
		}
	}
	for _, o := range s.options {
		if v := getenv(envName(o.name)); v != "" {
			if err := o.value.Set(v); err != nil {
				return fmt.Errorf("%s: %w", envName(o.name), err)
			}
		}
	}
	return s.fs.Parse(args)
}

func (s *settings) applyFile(path string) error {
	body, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config file: %w", err)
	}
	var doc map[string]yaml.Node
	if err := yaml.Unmarshal(body, &doc); err != nil {
		return fmt.Errorf("parse config file %s: %w", path, err)
	}
	known := map[string]flag.Value{}
	for _, o := range s.options {
		known[yamlKey(o.name)] = o.value
	}
	for key, node := range doc {
		v, ok := known[key]
		if !ok {
			return fmt.Errorf("config file %s: unknown key %q", path, key)
		}
		if lv, ok := v.(*listValue); ok && node.Kind == yaml.SequenceNode {
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
		if err := v.Set(node.Value); err != nil {
			return fmt.Errorf("config file %s: %s: %w", path, key, err)
		}
	}
	return nil
}

type stringValue string

func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }
func (v *stringValue) String() string     { return string(*v) }

type boolValue bool

func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("want true or false")
	}
	*v = boolValue(b)
	return nil
}
func (v *boolValue) String() string   { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) IsBoolFlag() bool { return true }

type intValue int

func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return errors.New("want an integer")
	}
	*v = intValue(n)
	return nil
}
func (v *intValue) String() string { return strconv.Itoa(int(*v)) }

// durationValue accepts Go durations and a number of days such as "90d".
type durationValue time.Duration

func (v *durationValue) Set(s string) error {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return fmt.Errorf("invalid duration %q", s)
		}
		*v = durationValue(time.Duration(n) * 24 * time.Hour)
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: want e.g. 30s, 5m, 2h or 90d", s)
	}
	*v = durationValue(d)
	return nil
}
func (v *durationValue) String() string { return time.Duration(*v).String() }

// listValue is a comma-separated list.
type listValue []string

func (v *listValue) Set(s string) error {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	*v = out
	return nil
}
func (v *listValue) String() string { return strings.Join(*v, ",") }
