package synclog

import (
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"
)

const (
	testJWT         = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	testAWSKeyID    = "AKIAIOSFODNN7EXAMPLE"
	testAWSSecret   = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testTokenBody   = "4eC39HqLyjWDarjtT1zdp7dc0123456789AB"
	testGitHubToken = "ghp_" + testTokenBody
	testPEMBody     = "\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\nVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n"
)

func TestRedact(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		// Key/value pairs.
		{"password equals", "login failed for user=bob password=hunter2", "login failed for user=bob password=[REDACTED]"},
		{"passwd colon", "ftp login: passwd: s3cr3t! rejected", "ftp login: passwd: [REDACTED] rejected"},
		{"pass", "dsn user=bob pass=hunter2 host=db", "dsn user=bob pass=[REDACTED] host=db"},
		{"db_pass", "db_pass: s3cret", "db_pass: [REDACTED]"},
		{"pwd uppercase", "PWD=abc123 user=bob", "PWD=[REDACTED] user=bob"},
		{"password case-insensitive", "PassWord: Hunter2", "PassWord: [REDACTED]"},
		{"db password prefix", "config db.password=Tr0ub4dor&3 invalid", "config db.password=[REDACTED]&3 invalid"},
		{"json password", `{"user": "bob", "password": "p@ss w0rd", "retry": 3}`, `{"user": "bob", "password": "[REDACTED]", "retry": 3}`},
		{"json compact with escapes", `{"password":"a\"b\\c","x":1}`, `{"password":"[REDACTED]","x":1}`},
		{"escaped json in text", `response body: {\"token\":\"abc123\",\"ok\":false}`, `response body: {\"token\":\"[REDACTED]\",\"ok\":false}`},
		{"client_secret single quotes", "client_secret='xyz789' scope='read'", "client_secret='[REDACTED]' scope='read'"},
		{"secret spaced equals", "secret = topsecretvalue", "secret = [REDACTED]"},
		{"access_token query", "GET https://api.supplier.com/v1/products?access_token=abc123&page=2 returned 401", "GET https://api.supplier.com/v1/products?access_token=[REDACTED]&page=2 returned 401"},
		{"token query first", "/oauth?token=abc&x=1", "/oauth?token=[REDACTED]&x=1"},
		{"refresh_token colon", "refresh_token: def456, expires_in: 3600", "refresh_token: [REDACTED], expires_in: 3600"},
		{"auth token header", "X-Auth-Token: 0123456789abcdef", "X-Auth-Token: [REDACTED]"},
		{"api_key", "api_key=AbC123", "api_key=[REDACTED]"},
		{"apikey", "apikey: zzz999", "apikey: [REDACTED]"},
		{"api-key quoted", `X-Api-Key="k-1"`, `X-Api-Key="[REDACTED]"`},
		{"access_key", "access_key=ak-42", "access_key=[REDACTED]"},
		{"access_key_id", "access_key_id=" + testAWSKeyID, "access_key_id=[REDACTED]"},
		{"secret_access_key", "aws_secret_access_key = " + testAWSSecret, "aws_secret_access_key = [REDACTED]"},
		{"go map value", "params map[password:abc user:bob]", "params map[password:[REDACTED] user:bob]"},
		{"go map last value", "params map[token:abc]", "params map[token:[REDACTED]]"},
		{"go assignment", `token := "abc"`, `token := "[REDACTED]"`},
		{"ruby hash", `{"password" => "abc"}`, `{"password" => "[REDACTED]"}`},
		{"cookie header", "Set-Cookie: sid=abc123; Path=/", "Set-Cookie: [REDACTED]; Path=/"},
		{"chinese text around", "同步失败 token=abc123，请检查", "同步失败 token=[REDACTED]，请检查"},
		{"several secrets", "user=bob password=x1 api_key=y2 token=z3", "user=bob password=[REDACTED] api_key=[REDACTED] token=[REDACTED]"},
		{"unterminated quote", `password="abc`, `password="[REDACTED]`},
		// Authorization headers and bearer tokens.
		{"authorization bearer jwt", "Authorization: Bearer " + testJWT, "Authorization: Bearer [REDACTED]"},
		{"authorization basic", "authorization: Basic dXNlcjpwYXNz", "authorization: Basic [REDACTED]"},
		{"authorization bare", "Authorization: abcdef", "Authorization: [REDACTED]"},
		{"authorization json", `{"Authorization": "Bearer abc.def"}`, `{"Authorization": "[REDACTED]"}`},
		{"bare bearer", "retrying with Bearer 9f8e7d6c5b4a3210 after 401", "retrying with Bearer [REDACTED] after 401"},
		{"token value with bearer", "access_token: Bearer abc123", "access_token: Bearer [REDACTED]"},
		// Credentials in URLs.
		{"url basic auth", "fetch https://feed:S3cret@ftp.supplier.com/prices.csv failed", "fetch https://feed:[REDACTED]@ftp.supplier.com/prices.csv failed"},
		{"url with at in password", "https://user:p@ss@host/x", "https://user:[REDACTED]@host/x"},
		{"url empty user", "redis://:hunter2@cache:6379/0", "redis://:[REDACTED]@cache:6379/0"},
		{"mongodb url", "mongodb://admin:p%40ss@db:27017/shop", "mongodb://admin:[REDACTED]@db:27017/shop"},
		// Tokens and keys recognised by their shape.
		{"jwt", "session " + testJWT + " expired", "session [REDACTED] expired"},
		{"aws access key id", "using " + testAWSKeyID + " for s3", "using [REDACTED] for s3"},
		{"aws temporary key id", "ASIAY34FZKBOKMUTVV7A,", "[REDACTED],"},
		{"aws secret after word", "aws secret " + testAWSSecret, "aws secret [REDACTED]"},
		{"aws secret after colon", "AWS: " + testAWSSecret + ".", "AWS: [REDACTED]."},
		{"pem block", "key:\n-----BEGIN RSA PRIVATE KEY-----" + testPEMBody + "-----END RSA PRIVATE KEY-----\nnext", "key:\n-----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY-----\nnext"},
		{"pem truncated", "loaded -----BEGIN PRIVATE KEY-----" + testPEMBody + "MIIB", "loaded -----BEGIN PRIVATE KEY-----[REDACTED]"},
		{"pem openssh", "-----BEGIN OPENSSH PRIVATE KEY-----abc-----END OPENSSH PRIVATE KEY-----", "-----BEGIN OPENSSH PRIVATE KEY-----[REDACTED]-----END OPENSSH PRIVATE KEY-----"},
		// Oracle JDBC URLs: user/password@host.
		{"oracle jdbc thin", "connect jdbc:oracle:thin:scott/tiger@db.internal:1521:ORCL failed", "connect jdbc:oracle:thin:scott/[REDACTED]@db.internal:1521:ORCL failed"},
		{"oracle jdbc service", "url=jdbc:oracle:thin:app/S3cr3t!@//db:1521/shop.example", "url=jdbc:oracle:thin:app/[REDACTED]@//db:1521/shop.example"},
		{"oracle jdbc uppercase", "JDBC:ORACLE:OCI:Sys/Pa55@host", "JDBC:ORACLE:OCI:Sys/[REDACTED]@host"},
		{"oracle jdbc without credentials", "jdbc:oracle:thin:@db.internal:1521:ORCL unreachable", "jdbc:oracle:thin:@db.internal:1521:ORCL unreachable"},
		{"oracle jdbc service without credentials", "jdbc:oracle:thin:@//db:1521/shop", "jdbc:oracle:thin:@//db:1521/shop"},
		// GitHub, Stripe and Slack tokens: the prefix stays.
		{"github classic token", "git clone failed with " + testGitHubToken + ": 403", "git clone failed with ghp_[REDACTED]: 403"},
		{"github token kinds", "gho_" + testTokenBody + " ghu_" + testTokenBody + " ghs_" + testTokenBody + " ghr_" + testTokenBody, "gho_[REDACTED] ghu_[REDACTED] ghs_[REDACTED] ghr_[REDACTED]"},
		{"github fine-grained token", "GITHUB=github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW", "GITHUB=github_pat_[REDACTED]"},
		{"github token in url", "https://oauth2:" + testGitHubToken + "@github.com/acme/repo", "https://oauth2:[REDACTED]@github.com/acme/repo"},
		{"stripe live secret key", "stripe error for sk_live_" + testTokenBody + ", retrying", "stripe error for sk_live_[REDACTED], retrying"},
		{"stripe test secret key", "key sk_test_51HqLyjWDarjtT1zdp7dc", "key sk_test_[REDACTED]"},
		{"stripe restricted key", "rk_live_" + testTokenBody, "rk_live_[REDACTED]"},
		{"stripe publishable key stays", "pk_live_" + testTokenBody + " pk_test_51HqLyjWDarjtT1zdp7dc", "pk_live_" + testTokenBody + " pk_test_51HqLyjWDarjtT1zdp7dc"},
		{"slack webhook", "POST https://hooks.slack.com/services/T0123ABCD/B0456EFGH/abcdefghijklmnopqrstuvwx returned 404", "POST https://hooks.slack.com/services/T0123ABCD/B0456EFGH/[REDACTED] returned 404"},
		{"slack workflow webhook", "hooks.slack.com/workflows/T0123ABCD/A0456EFGH/412345678901234567/abcdefghijklmnopqrstuvwx", "hooks.slack.com/workflows/T0123ABCD/A0456EFGH/412345678901234567/[REDACTED]"},
		{"slack bot token", "slack: invalid_auth for xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "slack: invalid_auth for xoxb-[REDACTED]"},
		{"slack user token", "xoxp-1234567890-1234567890-1234567890123-0123456789abcdef0123456789abcdef", "xoxp-[REDACTED]"},
		{"slack app token", "xapp-1-A0123ABCD-1234567890123-abcdef0123456789", "xapp-[REDACTED]"},
		// Credentials given as a key.
		{"credentials equals", "proxy credentials=admin:Pa55w0rd rejected", "proxy credentials=[REDACTED] rejected"},
		{"credential colon", `{"credential": "u:p"}`, `{"credential": "[REDACTED]"}`},
		// Secrets in prose.
		{"password is", "the password is hunter2, please change it", "the password is [REDACTED], please change it"},
		{"token was", "Token was 9f8e7d6c5b4a. Retrying", "Token was [REDACTED]. Retrying"},
		{"password is quoted", `default password is "admin123"`, `default password is "[REDACTED]"`},
		{"api key is", "the api key is AbC123xyz", "the api key is [REDACTED]"},
		{"password is incorrect", "password is incorrect for user bob", "password is incorrect for user bob"},
		{"password is words", "password is wrong; token is invalid; token was expired; password is required; secret is missing; password was empty", "password is wrong; token is invalid; token was expired; password is required; secret is missing; password was empty"},
		{"token is not", "token is not valid, the token was rejected and the password is too short", "token is not valid, the token was rejected and the password is too short"},
		{"password is a", "Password is a required field", "Password is a required field"},
		// Chinese key words, with full-width and ASCII separators.
		{"chinese password full-width colon", "登录失败 密码：hunter2", "登录失败 密码：[REDACTED]"},
		{"chinese password ascii colon", "密码:hunter2 用户:bob", "密码:[REDACTED] 用户:bob"},
		{"chinese password spaced", "密码 ： hunter2", "密码 ： [REDACTED]"},
		{"chinese password ideographic space", "密码\u3000：\u3000hunter2", "密码\u3000：\u3000[REDACTED]"},
		{"chinese key equals", "密钥=AbC123/xyz+", "密钥=[REDACTED]"},
		{"chinese key full-width equals", "秘钥＝abc123", "秘钥＝[REDACTED]"},
		{"chinese passphrase", "口令: s3cret，请检查", "口令: [REDACTED]，请检查"},
		{"chinese private key", "私钥：MIIEvQIBADANBg。", "私钥：[REDACTED]。"},
		{"chinese token", "访问令牌：eyJabc.def；过期", "访问令牌：[REDACTED]；过期"},
		{"chinese auth code", "授权码：A1B2C3、验证码：123456", "授权码：[REDACTED]、验证码：[REDACTED]"},
		{"chinese access key", "访问密钥=AK12345 区域=cn-north-1", "访问密钥=[REDACTED] 区域=cn-north-1"},
		{"chinese signature", "签名：3f2a9c,时间戳：1700000000", "签名：[REDACTED],时间戳：1700000000"},
		{"chinese value in chinese", "密码：张三的密码123。", "密码：[REDACTED]。"},
		{"chinese json", `{"用户":"bob","密码":"hunter2"}`, `{"用户":"bob","密码":"[REDACTED]"}`},
		{"chinese quoted", "密码：“hunter2”", "密码：“[REDACTED]”"},
		{"chinese go map", "map[密码:abc 用户:bob]", "map[密码:[REDACTED] 用户:bob]"},
		{"chinese password is", "初始密码是 hunter2，请尽快修改", "初始密码是 [REDACTED]，请尽快修改"},
		{"chinese password is no space", "新密码为Abc12345。", "新密码为[REDACTED]。"},
		{"chinese code is colon", "验证码为：654321", "验证码为：[REDACTED]"},
		{"traditional chinese", "密碼：hunter2 驗證碼=123456", "密碼：[REDACTED] 驗證碼=[REDACTED]"},
		// Chinese text about secrets that holds none stays.
		{"chinese password wrong", "密码错误，请重试", "密码错误，请重试"},
		{"chinese password empty", "密码为空", "密码为空"},
		{"chinese password required", "密码是必填项", "密码是必填项"},
		{"chinese password length", "密码为6位数字", "密码为6位数字"},
		{"chinese signature failed", "签名验证失败：时间戳过期", "签名验证失败：时间戳过期"},
		{"chinese token expired", "令牌已过期，请重新登录", "令牌已过期，请重新登录"},
		{"chinese password is null", "密码为 null", "密码为 null"},
		{"chinese command failed", "命令执行失败：exit 1，名称：sync-products", "命令执行失败：exit 1，名称：sync-products"},
		{"aws credential error", "NoCredentialProviders: no valid providers in chain", "NoCredentialProviders: no valid providers in chain"},
		{"invalid credentials", "invalid credentials: check the user name", "invalid credentials: check the user name"},
		{"token prefixes inside words", "task_live_0123456789abcdefghij pk_live_x mask_test_0123456789abcdefgh ghp_short xoxb-1", "task_live_0123456789abcdefghij pk_live_x mask_test_0123456789abcdefgh ghp_short xoxb-1"},
		{"slack without webhook", "POST https://hooks.slack.com/services/ returned 404", "POST https://hooks.slack.com/services/ returned 404"},
		{"bypass is on", "bypass is on, pwd is /srv/sync", "bypass is on, pwd is /srv/sync"},
		// Placeholders stay as they are.
		{"already redacted", "password=[REDACTED] token: [REDACTED]", "password=[REDACTED] token: [REDACTED]"},
		{"empty json value", `{"password": ""}`, `{"password": ""}`},
		// Ordinary text stays unchanged.
		{"empty", "", ""},
		{"http status", "HTTP 503 from supplier after 30s", "HTTP 503 from supplier after 30s"},
		{"timeout", "timeout reading products page 4", "timeout reading products page 4"},
		{"url without credentials", "GET https://api.supplier.com/v1/products?page=4&limit=100 returned 502", "GET https://api.supplier.com/v1/products?page=4&limit=100 returned 502"},
		{"url with port", "postgres://db.internal:5432/shop unreachable", "postgres://db.internal:5432/shop unreachable"},
		{"dial error", "dial tcp 10.0.0.5:443: connect: connection refused", "dial tcp 10.0.0.5:443: connect: connection refused"},
		{"counts", "processed 120 of 150 items, 30 failed (20.0%)", "processed 120 of 150 items, 30 failed (20.0%)"},
		{"chinese", "库存同步失败：供应商接口超时", "库存同步失败：供应商接口超时"},
		{"json syntax error", "unexpected token } in JSON at position 42", "unexpected token } in JSON at position 42"},
		{"unmarshal error", "json: cannot unmarshal string into Go struct field Product.price of type float64", "json: cannot unmarshal string into Go struct field Product.price of type float64"},
		{"unique constraint", `duplicate key value violates unique constraint "products_pkey"`, `duplicate key value violates unique constraint "products_pkey"`},
		{"bearer word", "Bearer token missing in request", "Bearer token missing in request"},
		{"passed count", "passed=5 passes: 3 passport=no", "passed=5 passes: 3 passport=no"},
		{"invalid token", "invalid token, please re-authenticate", "invalid token, please re-authenticate"},
		{"uuid", "run 0190a6e2-7c1b-7d3e-9f00-1234567890ab done", "run 0190a6e2-7c1b-7d3e-9f00-1234567890ab done"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Redact(tt.in)
			if got != tt.want {
				t.Errorf("Redact(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if again := Redact(got); again != got {
				t.Errorf("Redact is not idempotent: Redact(%q) = %q", got, again)
			}
			if containsSecret(got) {
				t.Errorf("containsSecret(%q) = true after redaction", got)
			}
			if tt.in == tt.want && containsSecret(tt.in) {
				t.Errorf("containsSecret(%q) = true for ordinary text", tt.in)
			}
		})
	}
}

func TestContainsSecret(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"password=hunter2", true},
		{"password=[REDACTED]", false},
		{Redacted, false},
		{"Authorization: Bearer [REDACTED]", false},
		{"https://user:[REDACTED]@host", false},
		{"-----BEGIN PRIVATE KEY-----[REDACTED]", false},
		{"-----BEGIN PRIVATE KEY-----abc", true},
		{testJWT, true},
		{testAWSKeyID, true},
		{"HTTP 503 from supplier after 30s", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := containsSecret(tt.in); got != tt.want {
				t.Errorf("containsSecret(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestRedactAttributes(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]string
		want map[string]string
	}{
		{"nil", nil, nil},
		{"empty", map[string]string{}, nil},
		{
			name: "secret keys",
			in: map[string]string{
				"password": "hunter2", "DB_PASSWD": "x", "pwd": "y", "client_secret": "z",
				"access_token": "t", "X-Api-Key": "k", "apikey": "k2", "aws_access_key_id": testAWSKeyID,
				"Authorization": "Bearer abc", "cookie": "sid=1", "credentials": "c", "private_key": "-----BEGIN",
				"empty_token": "", "数据库密码": "hunter2", "口令": "x", "API密钥": "k", "秘钥": "k", "私钥": "k",
				"访问令牌": "t", "授权码": "c", "验证码": "123456", "签名": "s", "访问密钥": "ak", "密碼": "p",
			},
			want: map[string]string{
				"password": Redacted, "DB_PASSWD": Redacted, "pwd": Redacted, "client_secret": Redacted,
				"access_token": Redacted, "X-Api-Key": Redacted, "apikey": Redacted, "aws_access_key_id": Redacted,
				"Authorization": Redacted, "cookie": Redacted, "credentials": Redacted, "private_key": Redacted,
				"empty_token": Redacted, "数据库密码": Redacted, "口令": Redacted, "API密钥": Redacted, "秘钥": Redacted, "私钥": Redacted,
				"访问令牌": Redacted, "授权码": Redacted, "验证码": Redacted, "签名": Redacted, "访问密钥": Redacted, "密碼": Redacted,
			},
		},
		{
			name: "secrets in values",
			in: map[string]string{
				"url":   "https://feed:S3cret@ftp.supplier.com/prices.csv",
				"query": "page=2&api_key=abc",
				"note":  "sent " + testJWT,
				"备注":    "密码：hunter2",
				"hook":  "https://hooks.slack.com/services/T0123ABCD/B0456EFGH/abcdefghijklmnopqrstuvwx",
			},
			want: map[string]string{
				"url":   "https://feed:[REDACTED]@ftp.supplier.com/prices.csv",
				"query": "page=2&api_key=[REDACTED]",
				"note":  "sent [REDACTED]",
				"备注":    "密码：[REDACTED]",
				"hook":  "https://hooks.slack.com/services/T0123ABCD/B0456EFGH/[REDACTED]",
			},
		},
		{
			name: "ordinary values",
			in:   map[string]string{"supplier": "acme", "page": "4", "endpoint": "https://api.acme.com/v1/stock", "": "", "供应商": "海尔", "密度": "0.5"},
			want: map[string]string{"supplier": "acme", "page": "4", "endpoint": "https://api.acme.com/v1/stock", "": "", "供应商": "海尔", "密度": "0.5"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := maps.Clone(tt.in)
			got := RedactAttributes(tt.in)
			if !maps.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Errorf("RedactAttributes(%v)\n got %v\nwant %v", tt.in, got, tt.want)
			}
			if !maps.Equal(tt.in, before) {
				t.Errorf("RedactAttributes changed its input: %v, was %v", tt.in, before)
			}
		})
	}
}

func TestRedactAttributesReturnsNewMap(t *testing.T) {
	in := map[string]string{"supplier": "acme"}
	out := RedactAttributes(in)
	out["supplier"] = "changed"
	if in["supplier"] != "acme" {
		t.Fatalf("RedactAttributes returned its input map")
	}
}

func TestRedactFallback(t *testing.T) {
	// Every result, however contrived the input, is free of secrets.
	for _, in := range []string{
		"token=" + strings.Repeat("token=", 20) + "x",
		"aws " + testAWSKeyID + " " + testAWSSecret,
		"https://a:b@c https://d:e@f password=g",
	} {
		out := Redact(in)
		if containsSecret(out) || Redact(out) != out {
			t.Errorf("Redact(%q) = %q: not settled", in, out)
		}
	}
}

// TestRedactLongInputs guards against inputs that make the search for
// secrets quadratic: a 64 KiB message of one repeated fragment once took
// close to a minute.
func TestRedactLongInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	for _, unit := range []string{
		"eyJ", "passwordpassword", "token ", "token\n", "password=a ", `password="`, "x://", "https://u:p@h ",
		"AKIA", "Bearer ", "aws ", "-----BEGIN PRIVATE KEY-----", "api", "\"", "'a",
		"jdbc:oracle:thin:a/", "jdbc:oracle:thin:a/b@", "ghp_", "ghp_0123456789", "sk_live_", "xoxb-", "hooks.slack.com/services/a/",
		"credentials=", "password is ", "token was a", "密码：", "密码：a", "密码为", "令", "名a", "密码 ", "访问密钥＝",
	} {
		t.Run(unit, func(t *testing.T) {
			in := strings.Repeat(unit, MaxMessageBytes/len(unit))
			start := time.Now()
			out := Redact(in)
			MessageTemplate(in)
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("Redact of %d bytes took %v", len(in), d)
			}
			if containsSecret(out) {
				t.Errorf("secret survived")
			}
		})
	}
}

// benchmarkMessage is a realistic 4 KiB failure message: an HTTP error with
// request details, a response body and a stack trace, one token included.
func benchmarkMessage() string {
	var b strings.Builder
	b.WriteString("sync products failed for supplier acme-foods after 3 retries: GET https://api.acme-foods.com/v2/products?page=17&per_page=100&updated_since=2024-05-01T00:00:00Z returned HTTP 502 Bad Gateway (took 30.2s)\n")
	b.WriteString("request headers: Accept: application/json, User-Agent: syncwatch-agent/1.4.2, Authorization: Bearer " + testJWT + "\n")
	b.WriteString(`response body: {"error":{"code":502,"message":"upstream timeout","request_id":"0190a6e2-7c1b-7d3e-9f00-1234567890ab"}}` + "\n")
	for i := 0; b.Len() < 4096; i++ {
		b.WriteString("\tgithub.com/acme/sync/internal/supplier.(*Client).fetchPage(0xc000123456, {0x1a2b3c4d, 0x10}, 0x11)\n\t\t/build/internal/supplier/client.go:214 +0x1f4\n")
	}
	return b.String()[:4096]
}

func BenchmarkRedact(b *testing.B) {
	msg := benchmarkMessage()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		Redact(msg)
	}
}

func BenchmarkRedactPlain(b *testing.B) {
	msg := strings.Repeat("timeout reading products page 4 from supplier after 30s; ", 72)[:4096]
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		Redact(msg)
	}
}

// Normalize keeps a report's attributes map when nothing in it is a
// secret, and replaces it (leaving the original alone) when something is.
func TestRedactAttributesInNormalize(t *testing.T) {
	clean := map[string]string{"host": "worker-3", "exit_code": "0"}
	if got, changed := redactAttributes(clean); changed || !sameMap(got, clean) {
		t.Errorf("clean attributes were copied: %v", got)
	}
	secret := map[string]string{"host": "worker-3", "API_Key": "abc123"}
	got, changed := redactAttributes(secret)
	if !changed || sameMap(got, secret) || secret["API_Key"] != "abc123" {
		t.Fatalf("secret attributes were redacted in place: %v", secret)
	}
	if got["API_Key"] != Redacted || got["host"] != "worker-3" {
		t.Fatalf("redacted %v", got)
	}
	if out := RedactAttributes(clean); sameMap(out, clean) {
		t.Error("RedactAttributes returned its input map")
	}
}

// secretKey's allocation-free path for ASCII keys agrees with the plain
// definition: lowercased, without '_', '-', '.' and spaces, containing a
// secret word.
func FuzzSecretKey(f *testing.F) {
	for _, k := range []string{"password", "DB_PASSWORD", "x-api-key", "Api.Key", "host", "ÄPIKEY", "tok en", "", strings.Repeat("a", 70) + "token", "数据库密码", "API密钥", "访问 令牌", "密度"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		compact := strings.Map(func(r rune) rune {
			switch r {
			case '_', '-', '.', ' ':
				return -1
			}
			return r
		}, strings.ToLower(key))
		want := false
		for _, w := range secretAttributeWords {
			if strings.Contains(compact, w) {
				want = true
			}
		}
		if got := secretKey(key); got != want {
			t.Fatalf("secretKey(%q) = %v, want %v", key, got, want)
		}
	})
}

// sameMap reports whether a and b are the same map (not merely equal).
func sameMap(a, b map[string]string) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}
