package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/simplegw/simplegw/gateway"
)

// TestMain lets the signal test run the real main() in a child process.
func TestMain(m *testing.M) {
	if os.Getenv("GO_SIMPLEGW_TEST_MAIN") == "1" {
		os.Args = append([]string{"simplegw"}, strings.Fields(os.Getenv("GO_SIMPLEGW_TEST_ARGS"))...)
		main()
		return
	}
	os.Exit(m.Run())
}

func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// field reads the Config field of a string setting.
var field = map[string]func(c gateway.Config) string{
	"http":        func(c gateway.Config) string { return c.HTTPAddr },
	"msrp":        func(c gateway.Config) string { return c.MSRPAddr },
	"msrps":       func(c gateway.Config) string { return c.MSRPSAddr },
	"sip":         func(c gateway.Config) string { return c.SIPAddr },
	"sips":        func(c gateway.Config) string { return c.SIPSAddr },
	"tls-cert":    func(c gateway.Config) string { return c.TLSCertFile },
	"tls-key":     func(c gateway.Config) string { return c.TLSKeyFile },
	"upstream":    func(c gateway.Config) string { return c.Upstream },
	"domain":      func(c gateway.Config) string { return c.Domain },
	"users":       func(c gateway.Config) string { return c.UsersFile },
	"auth-secret": func(c gateway.Config) string { return c.AuthSecret },
	"origins":     func(c gateway.Config) string { return strings.Join(c.Origins, ",") },
	"public-host": func(c gateway.Config) string { return c.PublicHost },
}

func TestDefaults(t *testing.T) {
	l, err := loadConfig(nil, envMap(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := gateway.Config{HTTPAddr: "127.0.0.1:8080", MSRPAddr: "127.0.0.1:2855", SIPAddr: "127.0.0.1:5060", Domain: "localhost"}
	got := l.cfg
	if got.HTTPAddr != want.HTTPAddr || got.MSRPAddr != want.MSRPAddr || got.SIPAddr != want.SIPAddr ||
		got.Domain != want.Domain || got.MSRPSAddr != "" || got.SIPSAddr != "" || got.Upstream != "" ||
		got.UsersFile != "" || got.AuthSecret != "" || got.Origins != nil || got.PublicHost != "" || got.Insecure {
		t.Errorf("defaults: %+v", got)
	}
}

func TestEnvNames(t *testing.T) {
	for name, want := range map[string]string{
		"http":        "SIMPLEGW_HTTP",
		"auth-secret": "SIMPLEGW_AUTH_SECRET",
		"tls-cert":    "SIMPLEGW_TLS_CERT",
		"public-host": "SIMPLEGW_PUBLIC_HOST",
		"config":      "SIMPLEGW_CONFIG",
	} {
		if got := envName(name); got != want {
			t.Errorf("envName(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestPrecedence checks flag > env > file > default for every string setting.
func TestPrecedence(t *testing.T) {
	for name, get := range field {
		t.Run(name, func(t *testing.T) {
			file := writeFile(t, "simplegw.conf", "# test\n"+name+" = from-file\n")
			env := map[string]string{envName("config"): file}
			// file beats default
			l, err := loadConfig(nil, envMap(env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if got := get(l.cfg); got != "from-file" {
				t.Errorf("file: %q", got)
			}
			if src := l.sources[name]; src.kind != "file" || src.where != file+":2" {
				t.Errorf("file source %+v", src)
			}
			// env beats file
			env[envName(name)] = "from-env"
			if l, err = loadConfig(nil, envMap(env), io.Discard); err != nil {
				t.Fatal(err)
			}
			if got := get(l.cfg); got != "from-env" {
				t.Errorf("env: %q", got)
			}
			// flag beats env
			if l, err = loadConfig([]string{"-" + name, "from-flag"}, envMap(env), io.Discard); err != nil {
				t.Fatal(err)
			}
			if got := get(l.cfg); got != "from-flag" {
				t.Errorf("flag: %q", got)
			}
			// an empty flag still beats env (e.g. -msrps "" turns it off)
			if l, err = loadConfig([]string{"-" + name + "="}, envMap(env), io.Discard); err != nil {
				t.Fatal(err)
			}
			if got := get(l.cfg); got != "" {
				t.Errorf("empty flag: %q", got)
			}
		})
	}
}

func TestInsecureBool(t *testing.T) {
	tests := []struct {
		args    []string
		env     map[string]string
		file    string
		want    bool
		wantErr string
	}{
		{want: false},
		{args: []string{"-insecure"}, want: true},
		{env: map[string]string{"SIMPLEGW_INSECURE": "1"}, want: true},
		{file: "insecure = true", want: true},
		{args: []string{"-insecure=false"}, env: map[string]string{"SIMPLEGW_INSECURE": "true"}, want: false},
		{env: map[string]string{"SIMPLEGW_INSECURE": "false"}, file: "insecure = true", want: false},
		{env: map[string]string{"SIMPLEGW_INSECURE": "maybe"}, wantErr: `-insecure: "maybe" is not a boolean (true or false) (from SIMPLEGW_INSECURE)`},
		{file: "insecure = yes", wantErr: `-insecure: "yes" is not a boolean`},
		{args: []string{"-insecure=maybe"}, wantErr: `-insecure`},
	}
	for _, tt := range tests {
		env := map[string]string{}
		for k, v := range tt.env {
			env[k] = v
		}
		if tt.file != "" {
			env["SIMPLEGW_CONFIG"] = writeFile(t, "c.conf", tt.file+"\n")
		}
		l, err := loadConfig(tt.args, envMap(env), io.Discard)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v %v %q: err %v, want %q", tt.args, tt.env, tt.file, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v %v %q: %v", tt.args, tt.env, tt.file, err)
			continue
		}
		if l.cfg.Insecure != tt.want {
			t.Errorf("%v %v %q: Insecure = %v, want %v", tt.args, tt.env, tt.file, l.cfg.Insecure, tt.want)
		}
	}
}

func TestOriginsList(t *testing.T) {
	l, err := loadConfig([]string{"-origins", " app.example.com , ,https://*.example.org,"}, envMap(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(l.cfg.Origins, "|"); got != "app.example.com|https://*.example.org" {
		t.Errorf("Origins = %q", got)
	}
}

func TestConfigFile(t *testing.T) {
	file := writeFile(t, "gw.conf", `
# simplegw settings
   http = 127.0.0.1:9000
msrp=127.0.0.1:9001
auth-secret = "  spaced # secret  "
	# indented comment
origins = a.example, b.example
`)
	// -config flag beats SIMPLEGW_CONFIG.
	env := map[string]string{"SIMPLEGW_CONFIG": writeFile(t, "other.conf", "http = 127.0.0.1:1\n")}
	l, err := loadConfig([]string{"-config", file}, envMap(env), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := l.cfg
	if c.HTTPAddr != "127.0.0.1:9000" || c.MSRPAddr != "127.0.0.1:9001" || c.AuthSecret != "  spaced # secret  " ||
		strings.Join(c.Origins, "|") != "a.example|b.example" || c.SIPAddr != "127.0.0.1:5060" {
		t.Errorf("config = %+v", c)
	}
	// -config "" disables SIMPLEGW_CONFIG.
	if l, err = loadConfig([]string{"-config="}, envMap(env), io.Discard); err != nil || l.cfg.HTTPAddr != "127.0.0.1:8080" {
		t.Errorf("-config= : %v %q", err, l.cfg.HTTPAddr)
	}
}

func TestConfigFileErrors(t *testing.T) {
	tests := []struct {
		content string
		want    string
	}{
		{"http 127.0.0.1:1\n", `:1: want "name = value"`},
		{"# ok\nhttpp = x\n", `:2: unknown setting "httpp"`},
		{"-http = x\n", `unknown setting "-http"`},
		{"config = other.conf\n", ":1: a config file cannot name another config file"},
		{"http = a:1\n\nhttp = b:2\n", `:3: "http" set twice (first on line 1)`},
	}
	for _, tt := range tests {
		p := writeFile(t, "bad.conf", tt.content)
		_, err := loadConfig([]string{"-config", p}, envMap(nil), io.Discard)
		if err == nil || !strings.HasPrefix(err.Error(), "-config: "+p) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err %v, want -config: %s…%s", tt.content, err, p, tt.want)
		}
	}
	_, err := loadConfig([]string{"-config", filepath.Join(t.TempDir(), "missing.conf")}, envMap(nil), io.Discard)
	if err == nil || !strings.HasPrefix(err.Error(), "-config: open ") {
		t.Errorf("missing file: %v", err)
	}
}

// runOnce runs the command to completion (config errors return at once).
func runOnce(t *testing.T, args []string, env map[string]string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // if it ever starts, stop at once
	code = run(ctx, args, envMap(env), &out, &errb)
	return code, out.String(), errb.String()
}

func TestRunErrorsNameTheFlag(t *testing.T) {
	dir := t.TempDir()
	loop := []string{"-http", "127.0.0.1:0", "-msrp", "127.0.0.1:0", "-sip", "127.0.0.1:0"}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"unknown flag", []string{"-htp", "x"}, nil, []string{"simplegw: flag provided but not defined: -htp"}},
		{"positional", []string{"serve"}, nil, []string{`unexpected argument "serve"`}},
		{"http syntax", []string{"-http", "x"}, nil, []string{`simplegw: -http: address "x" is not host:port`}},
		{"msrp syntax", []string{"-msrp", "127.0.0.1"}, nil, []string{"simplegw: -msrp: "}},
		{"msrps without TLS", append(loop, "-msrps", "127.0.0.1:0"), nil, []string{"simplegw: -msrps needs -tls-cert and -tls-key"}},
		{"sips without TLS", append(loop, "-sips", "127.0.0.1:0"), nil, []string{"simplegw: -sips needs -tls-cert and -tls-key"}},
		{"msrps from env", loop, map[string]string{"SIMPLEGW_MSRPS": "127.0.0.1:0"},
			[]string{"-msrps needs -tls-cert and -tls-key (from SIMPLEGW_MSRPS)"}},
		{"cert without key", append(loop, "-tls-cert", "c.pem"), nil, []string{"simplegw: -tls-cert needs -tls-key"}},
		{"unreadable cert", append(loop, "-tls-cert", filepath.Join(dir, "c.pem"), "-tls-key", filepath.Join(dir, "k.pem")), nil,
			[]string{"simplegw: -tls-cert/-tls-key: open "}},
		{"users file missing", append(loop, "-users", filepath.Join(dir, "users.txt")), nil,
			[]string{"simplegw: -users: open " + filepath.Join(dir, "users.txt") + ": no such file"}},
		{"bad origins", append(loop, "-origins", "[x"), nil, []string{"simplegw: -origins: bad pattern"}},
		{"bad upstream", append(loop, "-upstream", "http://core"), nil, []string{"simplegw: -upstream: "}},
		{"empty domain", append(loop, "-domain", ""), nil, []string{"simplegw: -domain must not be empty"}},
		{"bad public host", append(loop, "-public-host", "a:1"), nil, []string{"simplegw: -public-host: "}},
		{"open mode off loopback", []string{"-http", "0.0.0.0:0", "-insecure"}, nil,
			[]string{"-http", "open demo credentials are allowed only on loopback", "-users", "-auth-secret"}},
		{"open mode off loopback via env", nil, map[string]string{"SIMPLEGW_SIP": ":0", "SIMPLEGW_INSECURE": "1"},
			[]string{"-sip", "-users", "-auth-secret"}},
		{"plain off loopback", []string{"-http", "0.0.0.0:0", "-auth-secret", "s"}, nil,
			[]string{"simplegw: -http", "-insecure", "WSS"}},
		{"plain msrp off loopback", []string{"-msrp", "0.0.0.0:0", "-auth-secret", "s"}, nil,
			[]string{"simplegw: -msrp", "-insecure"}},
		{"bad boolean", []string{"-insecure=perhaps"}, nil, []string{"-insecure"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runOnce(t, tt.args, tt.env)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr %q", code, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not contain %q", stderr, w)
				}
			}
		})
	}
}

func TestHelp(t *testing.T) {
	code, stdout, stderr := runOnce(t, []string{"-h"}, nil)
	if code != 0 || stderr != "" {
		t.Fatalf("-h: exit %d, stderr %q", code, stderr)
	}
	for _, s := range settings {
		if !strings.Contains(stdout, "  -"+s.name) || !strings.Contains(stdout, envName(s.name)) {
			t.Errorf("-h does not document -%s and %s", s.name, envName(s.name))
		}
	}
}

var readyRE = regexp.MustCompile(`^simplegw ready http=127\.0\.0\.1:([1-9]\d*) msrp=127\.0\.0\.1:([1-9]\d*) sip=127\.0\.0\.1:([1-9]\d*)$`)

// TestRunReadyThenShutdown runs the command in-process with the real
// services: it prints one ready line with the bound ports, serves, and
// exits 0 when its context (the signal) ends.
func TestRunReadyThenShutdown(t *testing.T) {
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr lockedBuffer
	code := make(chan int, 1)
	go func() {
		c := run(ctx, []string{"-http", "127.0.0.1:0", "-msrp", "127.0.0.1:0", "-sip", "127.0.0.1:0"},
			envMap(map[string]string{"SIMPLEGW_DOMAIN": "example.test"}), pw, &stderr)
		pw.Close()
		code <- c
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		t.Fatalf("no ready line; exit %d, stderr:\n%s", <-code, stderr.String())
	}
	line := sc.Text()
	m := readyRE.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("ready line %q", line)
	}
	resp, err := http.Get("http://127.0.0.1:" + m[1] + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Listeners map[string]string `json:"listeners"`
	}
	err = json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if err != nil || h.Listeners["msrp"] != "127.0.0.1:"+m[2] || h.Listeners["sip"] != "127.0.0.1:"+m[3] {
		t.Errorf("healthz %+v (%v) does not match %q", h, err, line)
	}

	cancel()
	if sc.Scan() {
		t.Errorf("a second stdout line: %q", sc.Text())
	}
	if c := <-code; c != 0 {
		t.Errorf("exit %d, stderr:\n%s", c, stderr.String())
	}
	if !strings.Contains(stderr.String(), "open demo credentials") {
		t.Errorf("open mode not logged as a warning:\n%s", stderr.String())
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers and readers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSignal runs the real main() in a child process and stops it with
// SIGTERM.
func TestSignal(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		"GO_SIMPLEGW_TEST_MAIN=1",
		"GO_SIMPLEGW_TEST_ARGS=-http 127.0.0.1:0 -msrp 127.0.0.1:0 -sip 127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		_ = cmd.Wait()
		t.Fatalf("no ready line; stderr:\n%s", stderr.String())
	}
	if !readyRE.MatchString(sc.Text()) {
		t.Errorf("ready line %q", sc.Text())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
		t.Errorf("extra stdout line %q", sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v; stderr:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "shutting down") {
		t.Errorf("no shutdown log:\n%s", stderr.String())
	}
}
