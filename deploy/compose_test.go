package deploy

import (
	"bufio"
	"context"
	"encoding/xml"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"

	"github.com/syncwatch/syncwatch/internal/testutil"
)

// root is the repository's root, seen from this package's directory.
const root = ".."

// testEnv stands for the .env that deploy/gen-env.sh writes.
var testEnv = map[string]string{
	"CLICKHOUSE_PASSWORD":         "ch-password-1",
	"CLICKHOUSE_GRAFANA_PASSWORD": "ch-grafana-password-2",
	"SYNCWATCH_INGEST_TOKEN":      "ingest-token-3",
	"SYNCWATCH_QUERY_TOKEN":       "query-token-4",
	"SYNCWATCH_ADMIN_TOKEN":       "admin-token-5",
	"GRAFANA_ADMIN_PASSWORD":      "grafana-admin-6",
}

// loadProject loads docker-compose.yml as docker compose does, with env as
// the only environment (no .env, nothing from the test's process), with
// the given profiles.
func loadProject(t *testing.T, env map[string]string, profiles ...string) (*types.Project, error) {
	t.Helper()
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnv(list),
		cli.WithProfiles(profiles),
	)
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

// project loads the compose file with testEnv and the demo profile.
func project(t *testing.T) *types.Project {
	t.Helper()
	p, err := loadProject(t, testEnv, "demo")
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	if !ok {
		t.Fatalf("docker-compose.yml has no service %s", name)
	}
	return s
}

func env(s types.ServiceConfig, key string) string {
	if v, ok := s.Environment[key]; ok && v != nil {
		return *v
	}
	return ""
}

// mount returns the service's volume mounted at target.
func mount(t *testing.T, s types.ServiceConfig, target string) types.ServiceVolumeConfig {
	t.Helper()
	for _, v := range s.Volumes {
		if v.Target == target {
			return v
		}
	}
	t.Fatalf("service %s mounts nothing at %s", s.Name, target)
	return types.ServiceVolumeConfig{}
}

// mountOf returns where the service mounts the repository's path rel.
func mountOf(t *testing.T, s types.ServiceConfig, rel string) types.ServiceVolumeConfig {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && v.Source == abs {
			return v
		}
	}
	t.Fatalf("service %s does not mount %s", s.Name, rel)
	return types.ServiceVolumeConfig{}
}

// flagValue returns the value of --name=value in a command.
func flagValue(t *testing.T, cmd []string, name string) string {
	t.Helper()
	for i, a := range cmd {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
		if a == "--"+name && i+1 < len(cmd) {
			return cmd[i+1]
		}
	}
	t.Fatalf("command %v has no --%s", cmd, name)
	return ""
}

// port returns the port of a host:port address.
func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return p
}

func readYAML(t *testing.T, rel string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
}

// TestComposeNeedsSecrets checks that the stack does not start with
// made-up secrets: without them, loading fails and says how to make them.
func TestComposeNeedsSecrets(t *testing.T) {
	_, err := loadProject(t, nil)
	if err == nil || !strings.Contains(err.Error(), "deploy/gen-env.sh") {
		t.Fatalf("loading without .env: %v; want an error that names deploy/gen-env.sh", err)
	}
	for key := range testEnv {
		partial := map[string]string{}
		for k, v := range testEnv {
			if k != key {
				partial[k] = v
			}
		}
		if _, err := loadProject(t, partial, "demo"); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("loading without %s: %v; want an error naming it", key, err)
		}
	}
}

// TestGenEnvFeedsCompose runs deploy/gen-env.sh and loads the compose file
// with the .env it writes, as docker compose would.
func TestGenEnvFeedsCompose(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, ".env")
	if out, err := exec.Command("sh", filepath.Join(root, "deploy", "gen-env.sh"), envFile).CombinedOutput(); err != nil {
		t.Fatalf("gen-env.sh: %v\n%s", err, out)
	}
	st, err := os.Stat(envFile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		t.Errorf(".env has mode %v: others may read the secrets", st.Mode().Perm())
	}
	values := map[string]string{}
	f, err := os.Open(envFile)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			values[k] = v
		}
	}
	f.Close()
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	for key := range testEnv {
		if !hex32.MatchString(values[key]) {
			t.Errorf(".env: %s = %q, want 32 random hex digits", key, values[key])
		}
	}
	if values["CLICKHOUSE_PASSWORD"] == values["CLICKHOUSE_GRAFANA_PASSWORD"] {
		t.Error("the two ClickHouse passwords are equal")
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root), cli.WithEnvFiles(envFile), cli.WithDotEnv)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose with the generated .env: %v", err)
	}
	if got := env(p.Services["syncwatch"], "SYNCWATCH_INGEST_TOKENS"); got != values["SYNCWATCH_INGEST_TOKEN"] {
		t.Errorf("syncwatch's ingest tokens %q, .env has %q", got, values["SYNCWATCH_INGEST_TOKEN"])
	}
	// It never overwrites secrets already in use.
	if err := exec.Command("sh", filepath.Join(root, "deploy", "gen-env.sh"), envFile).Run(); err == nil {
		t.Error("gen-env.sh overwrote an existing .env")
	}
}

// TestComposeServices checks the services, their images, mounts, ports,
// health checks and start order.
func TestComposeServices(t *testing.T) {
	p := project(t)
	var names []string
	for n := range p.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	if want := []string{"alertmanager", "clickhouse", "demo", "grafana", "prometheus", "syncwatch"}; !slices.Equal(names, want) {
		t.Errorf("services %v, want %v", names, want)
	}
	if !slices.Equal(p.Services["demo"].Profiles, []string{"demo"}) {
		t.Errorf("demo profiles %v: the demo must be optional", p.Services["demo"].Profiles)
	}
	plain, err := loadProject(t, testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := plain.Services["demo"]; ok {
		t.Error("the demo runs without --profile demo")
	}

	pinned := regexp.MustCompile(`^[a-z0-9./_-]+:v?[0-9]+(\.[0-9]+)+$`)
	for _, s := range p.Services {
		switch {
		case s.Build != nil:
			dockerfile := s.Build.Dockerfile
			if dockerfile == "" {
				dockerfile = "Dockerfile"
			}
			abs, _ := filepath.Abs(root)
			if s.Build.Context != abs {
				t.Errorf("%s builds from %s, want the repository", s.Name, s.Build.Context)
			}
			if _, err := os.Stat(filepath.Join(s.Build.Context, dockerfile)); err != nil {
				t.Errorf("%s: %v", s.Name, err)
			}
			if s.Image != "syncwatch:local" {
				t.Errorf("%s: built image named %q", s.Name, s.Image)
			}
		case !pinned.MatchString(s.Image):
			t.Errorf("%s: image %q is not pinned to a version", s.Name, s.Image)
		}

		for _, v := range s.Volumes {
			switch v.Type {
			case types.VolumeTypeBind:
				if _, err := os.Stat(v.Source); err != nil {
					t.Errorf("%s mounts %s, which does not exist: %v", s.Name, v.Source, err)
				}
				if !v.ReadOnly {
					t.Errorf("%s mounts %s writable; configuration is mounted read-only", s.Name, v.Source)
				}
			case types.VolumeTypeVolume:
				if _, ok := p.Volumes[v.Source]; !ok {
					t.Errorf("%s uses volume %s, which is not declared", s.Name, v.Source)
				}
			default:
				t.Errorf("%s: mount of type %s", s.Name, v.Type)
			}
		}

		if s.Name == "demo" {
			if s.HealthCheck == nil || !s.HealthCheck.Disable {
				t.Error("demo: the image's health check asks a server; the demo must disable it")
			}
		} else if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) < 2 {
			t.Errorf("%s has no health check", s.Name)
		}
	}

	// Start order: each waits until what it needs is healthy.
	wantDeps := map[string][]string{
		"syncwatch":  {"clickhouse"},
		"prometheus": {"alertmanager"},
		"grafana":    {"clickhouse", "prometheus"},
		"demo":       {"syncwatch"},
	}
	for name, s := range p.Services {
		var deps []string
		for dep, d := range s.DependsOn {
			deps = append(deps, dep)
			if d.Condition != types.ServiceConditionHealthy {
				t.Errorf("%s depends on %s with condition %q, want service_healthy", name, dep, d.Condition)
			}
		}
		sort.Strings(deps)
		if !slices.Equal(deps, wantDeps[name]) {
			t.Errorf("%s depends on %v, want %v", name, deps, wantDeps[name])
		}
	}

	// Only the user interfaces are published, on loopback by default.
	published := map[string]string{}
	for _, s := range p.Services {
		for _, pc := range s.Ports {
			published[pc.Published] = s.Name
			if pc.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %s on %q, want 127.0.0.1 unless SYNCWATCH_PUBLISH_ADDR says otherwise", s.Name, pc.Published, pc.HostIP)
			}
			if fmt.Sprint(pc.Target) != pc.Published {
				t.Errorf("%s publishes container port %d as %s", s.Name, pc.Target, pc.Published)
			}
		}
	}
	if want := map[string]string{"3000": "grafana", "8080": "syncwatch", "9090": "prometheus", "9093": "alertmanager"}; fmt.Sprint(published) != fmt.Sprint(want) {
		t.Errorf("published ports %v, want %v", published, want)
	}
	open := map[string]string{"SYNCWATCH_PUBLISH_ADDR": "0.0.0.0"}
	for k, v := range testEnv {
		open[k] = v
	}
	if po, err := loadProject(t, open); err != nil || po.Services["grafana"].Ports[0].HostIP != "0.0.0.0" {
		t.Errorf("SYNCWATCH_PUBLISH_ADDR does not set the published address: %v", err)
	}
}

// TestComposeSyncwatchWiring checks that syncwatch, its health check,
// Prometheus' scrape target, the demo and the image agree on the port,
// that syncwatch reaches the ClickHouse service with its credentials, and
// that tokens come from the environment.
func TestComposeSyncwatchWiring(t *testing.T) {
	p := project(t)
	sw := service(t, p, "syncwatch")
	ch := service(t, p, "clickhouse")

	listen := env(sw, "SYNCWATCH_LISTEN")
	swPort := port(t, listen)
	if host, _, _ := net.SplitHostPort(listen); host != "0.0.0.0" {
		t.Errorf("SYNCWATCH_LISTEN %q: other containers cannot reach it", listen)
	}
	if len(sw.Ports) != 1 || fmt.Sprint(sw.Ports[0].Target) != swPort {
		t.Errorf("syncwatch publishes %v, listens on %s", sw.Ports, swPort)
	}
	hc := []string(sw.HealthCheck.Test)
	if hc[0] != "CMD" || !strings.HasSuffix(hc[1], "/syncwatch") || hc[2] != "healthcheck" {
		t.Errorf("syncwatch's health check %v: want syncwatch healthcheck", hc)
	}
	u, err := url.Parse(flagValue(t, hc[1:], "url"))
	if err != nil || u.Hostname() != "127.0.0.1" || u.Port() != swPort || u.Path != "/readyz" {
		t.Errorf("syncwatch's health check asks %v, want http://127.0.0.1:%s/readyz", u, swPort)
	}

	var prom struct {
		RuleFiles []string `yaml:"rule_files"`
		Alerting  struct {
			Alertmanagers []struct {
				StaticConfigs []struct {
					Targets []string `yaml:"targets"`
				} `yaml:"static_configs"`
			} `yaml:"alertmanagers"`
		} `yaml:"alerting"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "deploy/prometheus/prometheus.yml", &prom)
	var targets []string
	for _, sc := range prom.ScrapeConfigs {
		if sc.JobName == "syncwatch" {
			for _, s := range sc.StaticConfigs {
				targets = append(targets, s.Targets...)
			}
		}
	}
	if want := []string{"syncwatch:" + swPort}; !slices.Equal(targets, want) {
		t.Errorf("Prometheus scrapes job syncwatch at %v, want %v (the alerting rules need job=\"syncwatch\")", targets, want)
	}

	demo := service(t, p, "demo")
	du, err := url.Parse(flagValue(t, demo.Command, "server"))
	if err != nil || du.Hostname() != "syncwatch" || du.Port() != swPort || demo.Command[0] != "demo" {
		t.Errorf("demo command %v: want demo --server http://syncwatch:%s", demo.Command, swPort)
	}
	if env(demo, "SYNCWATCH_TOKEN") != testEnv["SYNCWATCH_INGEST_TOKEN"] {
		t.Error("the demo does not report with the ingest token")
	}

	// The image: listen port, entry point and health check.
	df := dockerfile(t)
	if df.env["SYNCWATCH_LISTEN"] != "" && port(t, df.env["SYNCWATCH_LISTEN"]) != swPort {
		t.Errorf("the image listens on %s, compose on %s", df.env["SYNCWATCH_LISTEN"], swPort)
	}
	if !slices.Contains(df.expose, swPort) {
		t.Errorf("the image exposes %v, not %s", df.expose, swPort)
	}
	if df.entrypoint != hc[1] {
		t.Errorf("the image's entry point is %s, the health check runs %s", df.entrypoint, hc[1])
	}

	// ClickHouse: the DSN names the service, its native port, and the user,
	// password and database the server is started with.
	dsn, err := url.Parse(env(sw, "SYNCWATCH_CLICKHOUSE_DSN"))
	if err != nil {
		t.Fatalf("SYNCWATCH_CLICKHOUSE_DSN: %v", err)
	}
	if dsn.Scheme != "clickhouse" || dsn.Hostname() != "clickhouse" || dsn.Port() != "9000" {
		t.Errorf("DSN %s://%s: want the clickhouse service's native port 9000", dsn.Scheme, dsn.Host)
	}
	pass, _ := dsn.User.Password()
	if dsn.User.Username() != env(ch, "CLICKHOUSE_USER") || pass != env(ch, "CLICKHOUSE_PASSWORD") || pass != testEnv["CLICKHOUSE_PASSWORD"] {
		t.Errorf("DSN user %q: want the server's CLICKHOUSE_USER %q with its password", dsn.User.Username(), env(ch, "CLICKHOUSE_USER"))
	}
	if dsn.Path != "/"+env(ch, "CLICKHOUSE_DB") {
		t.Errorf("DSN database %q, the server creates %q", dsn.Path, env(ch, "CLICKHOUSE_DB"))
	}
	if env(sw, "SYNCWATCH_DATA_DIR") != "/var/lib/syncwatch" || mount(t, sw, "/var/lib/syncwatch").Type != types.VolumeTypeVolume {
		t.Error("syncwatch's spool is not on a named volume")
	}

	// With tokens configured syncwatch listens beyond loopback; they come
	// from the environment.
	for key, from := range map[string]string{
		"SYNCWATCH_INGEST_TOKENS": "SYNCWATCH_INGEST_TOKEN",
		"SYNCWATCH_QUERY_TOKENS":  "SYNCWATCH_QUERY_TOKEN",
		"SYNCWATCH_ADMIN_TOKENS":  "SYNCWATCH_ADMIN_TOKEN",
	} {
		if env(sw, key) != testEnv[from] {
			t.Errorf("%s = %q, want $%s", key, env(sw, key), from)
		}
	}
}

// TestComposeMonitoringWiring checks Prometheus, Alertmanager and Grafana:
// their configuration files are mounted where their commands and each
// other look for them, and Grafana's datasources reach the services.
func TestComposeMonitoringWiring(t *testing.T) {
	p := project(t)
	prom := service(t, p, "prometheus")
	am := service(t, p, "alertmanager")
	gf := service(t, p, "grafana")
	ch := service(t, p, "clickhouse")

	// Prometheus: its configuration, the rules, and Alertmanager.
	cfg := flagValue(t, prom.Command, "config.file")
	if mountOf(t, prom, "deploy/prometheus/prometheus.yml").Target != cfg {
		t.Errorf("Prometheus reads %s, which is not deploy/prometheus/prometheus.yml", cfg)
	}
	var pc struct {
		RuleFiles []string `yaml:"rule_files"`
		Alerting  struct {
			Alertmanagers []struct {
				StaticConfigs []struct {
					Targets []string `yaml:"targets"`
				} `yaml:"static_configs"`
			} `yaml:"alertmanagers"`
		} `yaml:"alerting"`
	}
	readYAML(t, "deploy/prometheus/prometheus.yml", &pc)
	rules := mountOf(t, prom, "alerts/rules").Target
	if len(pc.RuleFiles) != 1 || path.Dir(pc.RuleFiles[0]) != rules || path.Base(pc.RuleFiles[0]) != "*.yml" {
		t.Errorf("Prometheus loads rules %v, alerts/rules is mounted at %s", pc.RuleFiles, rules)
	}
	amPort := fmt.Sprint(am.Ports[0].Target)
	if len(pc.Alerting.Alertmanagers) != 1 || !slices.Equal(pc.Alerting.Alertmanagers[0].StaticConfigs[0].Targets, []string{"alertmanager:" + amPort}) {
		t.Errorf("Prometheus sends alerts to %+v, want alertmanager:%s", pc.Alerting.Alertmanagers, amPort)
	}
	if !strings.Contains(strings.Join(am.HealthCheck.Test, " "), ":"+amPort+"/") {
		t.Errorf("Alertmanager's health check %v does not ask port %s", am.HealthCheck.Test, amPort)
	}

	// Alertmanager: its configuration, the templates beside it, and the
	// secret files it names under a mounted directory.
	amCfg := flagValue(t, am.Command, "config.file")
	if mountOf(t, am, "alerts/alertmanager.yml").Target != amCfg {
		t.Errorf("Alertmanager reads %s, which is not alerts/alertmanager.yml", amCfg)
	}
	var amDoc map[string]any
	readYAML(t, "alerts/alertmanager.yml", &amDoc)
	for _, tmpl := range amDoc["templates"].([]any) {
		dir := path.Dir(path.Join(path.Dir(amCfg), tmpl.(string)))
		if mountOf(t, am, "alerts/templates").Target != dir {
			t.Errorf("Alertmanager loads templates %s, alerts/templates is elsewhere", tmpl)
		}
	}
	secretsMount := mount(t, am, "/etc/alertmanager/secrets")
	var files []string
	collectFiles(amDoc, &files)
	if len(files) == 0 {
		t.Error("alerts/alertmanager.yml names no secret file")
	}
	for _, f := range files {
		if path.Dir(f) != secretsMount.Target {
			t.Errorf("Alertmanager reads %s, outside the mounted secrets directory %s", f, secretsMount.Target)
		}
		if _, err := os.Stat(filepath.Join(secretsMount.Source, path.Base(f))); err == nil {
			t.Errorf("%s is in the repository's default secrets directory: secrets stay out of it", path.Base(f))
		}
	}

	// Grafana: provisioning, dashboards, the plugin, and the datasources.
	mountOf(t, gf, "grafana/provisioning/datasources")
	mountOf(t, gf, "grafana/provisioning/dashboards")
	if mountOf(t, gf, "grafana/provisioning/datasources").Target != "/etc/grafana/provisioning/datasources" ||
		mountOf(t, gf, "grafana/provisioning/dashboards").Target != "/etc/grafana/provisioning/dashboards" {
		t.Error("Grafana's provisioning is not mounted where Grafana reads it")
	}
	var prov struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, "grafana/provisioning/dashboards/syncwatch.yaml", &prov)
	dashboards := mountOf(t, gf, "grafana/dashboards").Target
	if prov.Providers[0].Options.Path != dashboards {
		t.Errorf("the dashboard provider reads %s, grafana/dashboards is mounted at %s", prov.Providers[0].Options.Path, dashboards)
	}
	home := env(gf, "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
	if path.Dir(home) != dashboards {
		t.Errorf("home dashboard %s is not among the mounted dashboards", home)
	} else if _, err := os.Stat(filepath.Join(root, "grafana", "dashboards", path.Base(home))); err != nil {
		t.Errorf("home dashboard: %v", err)
	}
	if !regexp.MustCompile(`^grafana-clickhouse-datasource@4\.\d+\.\d+$`).MatchString(env(gf, "GF_PLUGINS_PREINSTALL_SYNC")) {
		t.Errorf("GF_PLUGINS_PREINSTALL_SYNC %q: want the ClickHouse plugin pinned to a 4.x version", env(gf, "GF_PLUGINS_PREINSTALL_SYNC"))
	}
	if env(gf, "GF_SECURITY_ADMIN_PASSWORD") != testEnv["GRAFANA_ADMIN_PASSWORD"] {
		t.Error("Grafana's admin password does not come from the environment")
	}

	var ds struct {
		Datasources []struct {
			UID            string            `yaml:"uid"`
			URL            string            `yaml:"url"`
			JSONData       map[string]any    `yaml:"jsonData"`
			SecureJSONData map[string]string `yaml:"secureJsonData"`
		} `yaml:"datasources"`
	}
	readYAML(t, "grafana/provisioning/datasources/syncwatch.yaml", &ds)
	users := clickHouseUsers(t)
	for _, d := range ds.Datasources {
		switch d.UID {
		case "prometheus":
			u, err := url.Parse(d.URL)
			if err != nil || u.Hostname() != "prometheus" || u.Port() != fmt.Sprint(prom.Ports[0].Target) {
				t.Errorf("Prometheus datasource %s: want the prometheus service on port %d", d.URL, prom.Ports[0].Target)
			}
		case "clickhouse":
			if d.JSONData["host"] != "clickhouse" || fmt.Sprint(d.JSONData["port"]) != "9000" || d.JSONData["protocol"] != "native" {
				t.Errorf("ClickHouse datasource %v: want the clickhouse service's native port 9000", d.JSONData)
			}
			if d.JSONData["defaultDatabase"] != env(ch, "CLICKHOUSE_DB") {
				t.Errorf("ClickHouse datasource database %v, the server's is %s", d.JSONData["defaultDatabase"], env(ch, "CLICKHOUSE_DB"))
			}
			user, ok := users[fmt.Sprint(d.JSONData["username"])]
			if !ok {
				t.Errorf("ClickHouse datasource user %v is not defined in deploy/clickhouse/users.d", d.JSONData["username"])
				continue
			}
			if !slices.Contains(user.grants, "GRANT SELECT ON "+env(ch, "CLICKHOUSE_DB")+".*") || len(user.grants) != 1 {
				t.Errorf("Grafana's ClickHouse user has grants %v, want SELECT on the syncwatch database only", user.grants)
			}
			// The password reaches both sides from the same variable.
			ref := strings.Trim(strings.TrimPrefix(d.SecureJSONData["password"], "$"), "{}")
			if env(gf, ref) == "" || env(gf, ref) != env(ch, user.passwordEnv) || env(ch, user.passwordEnv) != testEnv["CLICKHOUSE_GRAFANA_PASSWORD"] {
				t.Errorf("Grafana sends $%s, ClickHouse expects $%s: want the same CLICKHOUSE_GRAFANA_PASSWORD on both", ref, user.passwordEnv)
			}
		}
	}
	if mountOf(t, ch, "deploy/clickhouse/users.d/grafana.xml").Target != "/etc/clickhouse-server/users.d/grafana.xml" {
		t.Error("Grafana's ClickHouse user is not mounted into users.d")
	}
}

// collectFiles gathers the values of every *_file key of a YAML document.
func collectFiles(v any, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && strings.HasSuffix(k, "_file") {
				*out = append(*out, s)
				continue
			}
			collectFiles(val, out)
		}
	case []any:
		for _, val := range x {
			collectFiles(val, out)
		}
	}
}

// chUser is a user of deploy/clickhouse/users.d.
type chUser struct {
	passwordEnv string
	grants      []string
	profile     string
}

func clickHouseUsers(t *testing.T) map[string]chUser {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "deploy", "clickhouse", "users.d", "grafana.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Profiles struct {
			Any []struct {
				XMLName  xml.Name
				Readonly int `xml:"readonly"`
			} `xml:",any"`
		} `xml:"profiles"`
		Users struct {
			Any []struct {
				XMLName  xml.Name
				Password struct {
					FromEnv string `xml:"from_env,attr"`
					Text    string `xml:",chardata"`
				} `xml:"password"`
				Profile string   `xml:"profile"`
				Grants  []string `xml:"grants>query"`
			} `xml:",any"`
		} `xml:"users"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("users.d/grafana.xml: %v", err)
	}
	readonly := map[string]int{}
	for _, p := range doc.Profiles.Any {
		readonly[p.XMLName.Local] = p.Readonly
	}
	out := map[string]chUser{}
	for _, u := range doc.Users.Any {
		if strings.TrimSpace(u.Password.Text) != "" || u.Password.FromEnv == "" {
			t.Errorf("ClickHouse user %s: the password must come from_env, not the file", u.XMLName.Local)
		}
		if readonly[u.Profile] == 0 {
			t.Errorf("ClickHouse user %s: profile %q is not read-only", u.XMLName.Local, u.Profile)
		}
		out[u.XMLName.Local] = chUser{passwordEnv: u.Password.FromEnv, grants: u.Grants, profile: u.Profile}
	}
	return out
}

// secretKey matches the names of settings that hold secrets.
var secretKey = regexp.MustCompile(`(?i)password|token|secret|dsn|_key$`)

// TestComposeHasNoSecrets checks the compose file as written: every
// setting that holds a secret takes it from the environment.
func TestComposeHasNoSecrets(t *testing.T) {
	var doc struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	readYAML(t, "docker-compose.yml", &doc)
	n := 0
	for name, s := range doc.Services {
		for k, v := range s.Environment {
			if !secretKey.MatchString(k) {
				continue
			}
			n++
			if !strings.Contains(v, "${") {
				t.Errorf("%s: %s is written in the file; take it from the environment", name, k)
			}
		}
	}
	if n < 8 {
		t.Errorf("only %d secret settings found", n)
	}
	raw, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range testEnv {
		if strings.Contains(string(raw), v) {
			t.Errorf("docker-compose.yml contains %q", v)
		}
	}
	ignore := dockerignore(t)
	for _, must := range []string{".git", ".env"} {
		if !slices.Contains(ignore, must) {
			t.Errorf(".dockerignore does not exclude %s", must)
		}
	}
}

// dockerignore returns the patterns of .dockerignore.
func dockerignore(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, strings.TrimSuffix(line, "/"))
		}
	}
	return out
}

// dockerfileInfo is what the tests read from the Dockerfile.
type dockerfileInfo struct {
	from        []string
	env         map[string]string
	user        string
	expose      []string
	healthcheck string
	entrypoint  string
	cmd         string
	text        string
}

func dockerfile(t *testing.T) dockerfileInfo {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	info := dockerfileInfo{env: map[string]string{}, text: string(b)}
	joined := strings.ReplaceAll(string(b), "\\\n", " ")
	jsonArg := regexp.MustCompile(`"([^"]*)"`)
	for _, line := range strings.Split(joined, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "FROM":
			info.from = append(info.from, strings.Fields(rest)[0])
		case "ENV":
			for _, kv := range strings.Fields(rest) {
				if k, v, ok := strings.Cut(kv, "="); ok {
					info.env[k] = v
				}
			}
		case "USER":
			info.user = rest
		case "EXPOSE":
			info.expose = append(info.expose, strings.Fields(rest)...)
		case "HEALTHCHECK":
			info.healthcheck = rest
		case "ENTRYPOINT":
			if m := jsonArg.FindStringSubmatch(rest); m != nil {
				info.entrypoint = m[1]
			}
		case "CMD":
			info.cmd = rest
		}
	}
	return info
}

// TestDockerfile checks the image: a Go builder of the module's Go version
// without cgo, a distroless final stage run as a non-root user, a health
// check by syncwatch itself, and a build context that holds the sources.
func TestDockerfile(t *testing.T) {
	df := dockerfile(t)
	if len(df.from) != 2 {
		t.Fatalf("stages %v: want a builder and a final stage", df.from)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	if df.from[0] != "golang:"+string(m[1]) {
		t.Errorf("builder %s: want golang:%s, the Go of go.mod", df.from[0], m[1])
	}
	if df.env["CGO_ENABLED"] != "0" {
		t.Error("the builder does not set CGO_ENABLED=0")
	}
	if !strings.Contains(df.from[1], "distroless/static") || !strings.HasSuffix(df.from[1], ":nonroot") {
		t.Errorf("final stage %s: want distroless static, nonroot", df.from[1])
	}
	if df.user == "" || df.user == "root" || strings.HasPrefix(df.user, "0") {
		t.Errorf("USER %q: the image must not run as root", df.user)
	}
	if !strings.Contains(df.healthcheck, `"healthcheck"`) || !strings.Contains(df.healthcheck, df.entrypoint) {
		t.Errorf("HEALTHCHECK %q: want %s healthcheck", df.healthcheck, df.entrypoint)
	}
	if df.cmd != `["serve"]` {
		t.Errorf("CMD %s, want [\"serve\"]", df.cmd)
	}
	ignore := dockerignore(t)
	for _, needed := range []string{"go.mod", "go.sum", "cmd", "clickhouse", "collector", "*.go", "**/*.go", "**/*.sql", "**/*.html"} {
		if slices.Contains(ignore, needed) {
			t.Errorf(".dockerignore excludes %s, which the build needs", needed)
		}
	}
}

// TestStaticBuild builds syncwatch as the Dockerfile does, without cgo,
// and checks the binary runs and knows its health check.
func TestStaticBuild(t *testing.T) {
	bin := testutil.BuildSyncwatch(t, t.TempDir(), "CGO_ENABLED=0")
	if out, err := exec.Command(bin, "version").CombinedOutput(); err != nil {
		t.Fatalf("syncwatch version: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	hc := exec.Command(bin, "healthcheck", "--timeout", "2s")
	hc.Env = []string{"SYNCWATCH_LISTEN=0.0.0.0:" + port(t, addr)}
	out, err := hc.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("healthcheck with nothing listening: %v (want exit 1)\n%s", err, out)
	}
}

// TestPrometheusConfigValid checks deploy/prometheus/prometheus.yml with
// promtool (Debian's, which scripts/install-deps.sh installs), with the
// rule files found where the compose file mounts them.
func TestPrometheusConfigValid(t *testing.T) {
	promtool := testutil.Tool(t, "promtool")
	b, err := os.ReadFile(filepath.Join(root, "deploy", "prometheus", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := filepath.Abs(filepath.Join(root, "alerts", "rules"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.ReplaceAll(string(b), "/etc/prometheus/rules/", rules+"/")
	if cfg == string(b) {
		t.Fatal("prometheus.yml does not load rules from /etc/prometheus/rules/")
	}
	p := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "config", p).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "SUCCESS") {
		t.Errorf("promtool check config:\n%s", out)
	}
}
