package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// configFlag names the settings file flag of every command with settings.
const configFlag = "config"

// envInUsage finds the environment variable a flag's help names, as in
// "… (PLUGS_NATS_URL)"; help_test checks every setting names one.
var envInUsage = regexp.MustCompile(`\((PLUGS_[A-Z0-9_]+)\)`)

// fillSettings fills each flag of fs not given on the command line (given
// names those that were) from its environment variable, or else from the
// YAML settings file named by --config (file) or PLUGS_CONFIG, whose keys
// are flag names. So a flag beats the environment, which beats the file,
// which beats the default. Every problem is reported, each on its own
// line, not just the first: a bad value anywhere, an unknown key in the
// file.
func fillSettings(fs *flag.FlagSet, given map[string]bool, file string) error {
	path := file
	if !given[configFlag] {
		path = os.Getenv("PLUGS_CONFIG")
	}
	values, err := readSettingsFile(path)
	if err != nil {
		return usageErr("%v", err)
	}

	var problems []string
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || f.Name == configFlag {
			return
		}
		env := envName(f)
		if v, ok := os.LookupEnv(env); ok {
			if err := fs.Set(f.Name, v); err != nil {
				problems = append(problems, fmt.Sprintf("%s=%q: %v", env, v, setError(err)))
			}
			return
		}
		v, ok := values[f.Name]
		if !ok {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %s: %q: %v", path, f.Name, v, setError(err)))
		}
	})
	for key := range values {
		if fs.Lookup(key) == nil || key == configFlag {
			problems = append(problems, fmt.Sprintf("%s: unknown setting %q (the keys are the flags of this command: see -h)", path, key))
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return usageErr("invalid settings:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

// envName is the environment variable of a flag: the one its help names,
// or PLUGS_ and the flag's name in capitals with '-' as '_'.
func envName(f *flag.Flag) string {
	if m := envInUsage.FindAllStringSubmatch(f.Usage, -1); m != nil {
		return m[len(m)-1][1]
	}
	return "PLUGS_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
}

// readSettingsFile reads a YAML mapping of flag names to scalars (or lists,
// joined with commas as list flags take them); an empty path is no file.
func readSettingsFile(path string) (map[string]string, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("settings file: %w", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("settings file %s: %w", path, err)
	}
	out := make(map[string]string, len(raw))
	var problems []string
	for k, v := range raw {
		s, err := settingString(v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %s: %v", path, k, err))
			continue
		}
		out[k] = s
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, errors.New(strings.Join(problems, "\n  "))
	}
	return out, nil
}

func settingString(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case []any:
		parts := make([]string, 0, len(v))
		for _, e := range v {
			s, err := settingString(e)
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	case nil:
		return "", nil
	}
	return "", fmt.Errorf("must be a string, number, boolean or list, not %T", v)
}

// setError drops the flag package's wording around a parse error.
func setError(err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		return ne.Err
	}
	return err
}
