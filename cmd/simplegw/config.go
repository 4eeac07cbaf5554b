package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/simplegw/simplegw/gateway"
)

// setting is one configuration key. The same name is the flag (-name), the
// environment variable (SIMPLEGW_NAME, dashes as underscores) and the key
// in the -config file.
type setting struct {
	name   string
	def    string
	usage  string
	isBool bool
}

// settings lists every key in the order -h shows them.
var settings = []setting{
	{name: "http", def: "127.0.0.1:8080", usage: "`host:port` of the HTTP listener: demo at /, WebSockets /sip and /msrp, /healthz (HTTPS when -tls-cert is set)"},
	{name: "msrp", def: "127.0.0.1:2855", usage: "`host:port` of the MSRP relay's plain msrp:// TCP listener"},
	{name: "msrps", def: "", usage: "`host:port` of the MSRP relay's msrps:// TLS listener (empty: off)"},
	{name: "sip", def: "127.0.0.1:5060", usage: "`host:port` for SIP on UDP and TCP (the same port)"},
	{name: "sips", def: "", usage: "`host:port` for SIP over TLS (empty: off)"},
	{name: "tls-cert", def: "", usage: "PEM certificate chain `file` for HTTPS, msrps and sips"},
	{name: "tls-key", def: "", usage: "PEM private key `file` of -tls-cert"},
	{name: "upstream", def: "", usage: "SIP `URI` of the SIP core, e.g. sip:10.0.0.5:5060;transport=tcp (empty: embedded registrar)"},
	{name: "domain", def: "localhost", usage: "SIP `domain` of the embedded registrar and realm of SIP and MSRP digest authentication"},
	{name: "users", def: "", usage: "`file` of name:password lines"},
	{name: "auth-secret", def: "", usage: "shared `secret` of ephemeral credentials (username EXPIRY:NAME, password base64(HMAC-SHA1(secret, username)))"},
	{name: "origins", def: "", usage: "comma-separated allowed Origin `patterns` for WebSockets and CORS, e.g. app.example.com,*.example.org,https://x.example (same origin is always allowed)"},
	{name: "public-host", def: "", usage: "`host` name put in the MSRP relay's Use-Path (default: the relay listener's address)"},
	{name: "insecure", def: "false", isBool: true, usage: "allow plain ws://, msrp:// and SIP without TLS on non-loopback addresses"},
	{name: "pprof", def: "", usage: "loopback `host:port` serving Go's profiler at /debug/pprof/ (empty: off)"},
	{name: "config", def: "", usage: "`file` of 'name = value' lines using the flag names; '#' starts a comment line"},
}

// envName returns the environment variable of a setting: "auth-secret" →
// "SIMPLEGW_AUTH_SECRET".
func envName(name string) string {
	return "SIMPLEGW_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// source says where a value came from, to point error messages at it.
type source struct {
	kind  string // "flag", "env", "file" or "default"
	where string // e.g. "SIMPLEGW_HTTP" or "simplegw.conf:3"
}

// loaded is the outcome of loadConfig.
type loaded struct {
	cfg     gateway.Config
	sources map[string]source // setting name → where its value came from
}

// errUsage is returned for -h/-help; the usage has been written.
var errUsage = errors.New("usage requested")

// loadConfig resolves every setting with precedence flag > environment >
// config file > default and builds the gateway configuration. It checks
// only syntax that belongs to this layer (flags, booleans, the file
// format); gateway.New validates the values.
func loadConfig(args []string, lookupEnv func(string) (string, bool), stdout io.Writer) (*loaded, error) {
	fs := flag.NewFlagSet("simplegw", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	flagVals := make(map[string]*string)
	var insecure bool
	for _, s := range settings {
		if s.isBool {
			fs.BoolVar(&insecure, s.name, false, s.usage)
			continue
		}
		flagVals[s.name] = fs.String(s.name, s.def, s.usage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout, fs)
			return nil, errUsage
		}
		return nil, fmt.Errorf("%v (simplegw -h lists the flags)", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q: every setting is a -flag (simplegw -h lists them)", fs.Arg(0))
	}
	fromFlag := make(map[string]string)
	fs.Visit(func(f *flag.Flag) { fromFlag[f.Name] = f.Value.String() })

	// The config file's own path: flag, then environment.
	var file map[string]fileValue
	cfgPath, cfgSet := fromFlag["config"]
	if !cfgSet {
		cfgPath, cfgSet = lookupEnv(envName("config"))
	}
	if cfgSet && cfgPath != "" {
		var err error
		if file, err = readConfigFile(cfgPath); err != nil {
			return nil, err
		}
	}

	l := &loaded{sources: make(map[string]source)}
	vals := make(map[string]string)
	for _, s := range settings {
		if s.name == "config" {
			continue
		}
		if v, ok := fromFlag[s.name]; ok {
			vals[s.name], l.sources[s.name] = v, source{"flag", "-" + s.name}
		} else if v, ok := lookupEnv(envName(s.name)); ok {
			vals[s.name], l.sources[s.name] = v, source{"env", envName(s.name)}
		} else if fv, ok := file[s.name]; ok {
			vals[s.name], l.sources[s.name] = fv.value, source{"file", fmt.Sprintf("%s:%d", cfgPath, fv.line)}
		} else {
			vals[s.name], l.sources[s.name] = s.def, source{"default", ""}
		}
	}

	insecure, err := strconv.ParseBool(vals["insecure"])
	if err != nil {
		return nil, fmt.Errorf("-insecure: %q is not a boolean (true or false)%s", vals["insecure"], l.sources["insecure"].suffix())
	}
	var origins []string
	for _, o := range strings.Split(vals["origins"], ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, o)
		}
	}
	l.cfg = gateway.Config{
		HTTPAddr:    vals["http"],
		MSRPAddr:    vals["msrp"],
		MSRPSAddr:   vals["msrps"],
		SIPAddr:     vals["sip"],
		SIPSAddr:    vals["sips"],
		TLSCertFile: vals["tls-cert"],
		TLSKeyFile:  vals["tls-key"],
		Upstream:    vals["upstream"],
		Domain:      vals["domain"],
		UsersFile:   vals["users"],
		AuthSecret:  vals["auth-secret"],
		PublicHost:  vals["public-host"],
		Origins:     origins,
		Insecure:    insecure,
		PprofAddr:   vals["pprof"],
	}
	return l, nil
}

// suffix is appended to an error about a value from the environment or
// the config file, so the user knows where to fix it.
func (s source) suffix() string {
	if s.kind == "env" || s.kind == "file" {
		return " (from " + s.where + ")"
	}
	return ""
}

// explain adds where the faulty value came from to a gateway.ConfigError.
func (l *loaded) explain(err error) error {
	var ce *gateway.ConfigError
	if errors.As(err, &ce) {
		if src, ok := l.sources[ce.Flag]; ok && src.suffix() != "" {
			return fmt.Errorf("%w%s", err, src.suffix())
		}
	}
	return err
}

// fileValue is one "name = value" line of a config file.
type fileValue struct {
	value string
	line  int
}

// maxConfigFile bounds the config file; it holds a dozen short lines.
const maxConfigFile = 1 << 20

// readConfigFile parses a config file: "name = value" lines with the flag
// names (without the dash), blank lines, and comment lines starting with
// '#'. Spaces around name and value are ignored; a value may be wrapped in
// double quotes, which are removed. A name may appear once. Errors name
// -config, the file and the line.
func readConfigFile(path string) (map[string]fileValue, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("-config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigFile+1))
	if err != nil {
		return nil, fmt.Errorf("-config: %w", err)
	}
	if len(data) > maxConfigFile {
		return nil, fmt.Errorf("-config: %s is larger than %d bytes", path, maxConfigFile)
	}
	known := make(map[string]bool)
	for _, s := range settings {
		known[s.name] = true
	}
	out := make(map[string]fileValue)
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("-config: %s:%d: want \"name = value\", got %q", path, n, line)
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
			value = value[1 : len(value)-1]
		}
		switch {
		case name == "config":
			return nil, fmt.Errorf("-config: %s:%d: a config file cannot name another config file", path, n)
		case !known[name]:
			return nil, fmt.Errorf("-config: %s:%d: unknown setting %q (names are the flags without the dash)", path, n, name)
		}
		if prev, dup := out[name]; dup {
			return nil, fmt.Errorf("-config: %s:%d: %q set twice (first on line %d)", path, n, name, prev.line)
		}
		out[name] = fileValue{value: value, line: n}
	}
	return out, nil
}

// printUsage writes the -h text: every flag with its environment variable.
func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `simplegw: a gateway that brings web browsers into SIP/SIMPLE instant messaging
(SIP over WebSocket, RFC 7118; MSRP over WebSocket, RFC 7977; MSRP relay, RFC 4976).

Usage: simplegw [flags]

Every flag can also be set by the environment variable SIMPLEGW_<NAME> (dashes as
underscores) or by a "name = value" line in the -config file.
Precedence: flag > environment > config file > default.

`)
	for _, s := range settings {
		f := fs.Lookup(s.name)
		argName, usage := flag.UnquoteUsage(f)
		head := "  -" + s.name
		if argName != "" {
			head += " " + argName
		}
		fmt.Fprintf(w, "%s\n    \t%s\n    \tenv %s", head, usage, envName(s.name))
		if s.def != "" && !s.isBool {
			fmt.Fprintf(w, ", default %q", s.def)
		}
		fmt.Fprintln(w)
	}
}
