package synclog

import (
	"encoding/json"
	"errors"
	"math/bits"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzRedact(f *testing.F) {
	for _, s := range []string{
		"",
		"HTTP 503 from supplier after 30s",
		"timeout reading products page 4",
		"login failed for user=bob password=hunter2",
		`{"user": "bob", "password": "p@ss w0rd", "api_key": "k-1"}`,
		`response body: {\"token\":\"abc123\",\"ok\":false}`,
		"GET https://api.supplier.com/v1/products?access_token=abc123&page=2 returned 401",
		"Authorization: Bearer " + testJWT,
		"authorization: Basic dXNlcjpwYXNz",
		"retrying with Bearer 9f8e7d6c5b4a3210",
		"fetch https://feed:S3cret@ftp.supplier.com/prices.csv failed",
		"aws_access_key_id=" + testAWSKeyID + " aws_secret_access_key=" + testAWSSecret,
		"aws secret " + testAWSSecret,
		"-----BEGIN RSA PRIVATE KEY-----" + testPEMBody + "-----END RSA PRIVATE KEY-----",
		"-----BEGIN PRIVATE KEY-----" + testPEMBody,
		"params map[token:abc] client_secret='x' Set-Cookie: sid=1; Path=/",
		"同步失败 token=abc123，请检查",
		"password=[REDACTED] token: [REDACTED]",
		// Oracle JDBC URLs.
		"connect jdbc:oracle:thin:scott/tiger@db.internal:1521:ORCL failed",
		"jdbc:oracle:thin:app/S3cr3t!@//db:1521/shop jdbc:oracle:thin:@db:1521:X",
		// GitHub, Stripe and Slack tokens and Slack webhooks.
		testGitHubToken + " gho_" + testTokenBody + " ghu_" + testTokenBody + " ghs_" + testTokenBody + " ghr_" + testTokenBody,
		"github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW",
		"sk_live_" + testTokenBody + " sk_test_" + testTokenBody + " rk_live_" + testTokenBody + " pk_live_" + testTokenBody,
		"POST https://hooks.slack.com/services/T0123ABCD/B0456EFGH/abcdefghijklmnopqrstuvwx returned 404",
		"hooks.slack.com/workflows/T0123ABCD/A0456EFGH/412345678901234567/abcdefghijklmnopqrstuvwx",
		"xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx xoxp-1-2-3-abcdef0123 xapp-1-A0123ABCD-1234567890123-abcdef",
		// credentials, and secrets in prose.
		"proxy credentials=admin:Pa55w0rd rejected; {\"credential\": \"u:p\"}",
		"NoCredentialProviders: no valid providers in chain",
		"the password is hunter2, token was 9f8e7d6c5b4a. default password is \"admin123\"",
		"password is incorrect; token was rejected; the api key is AbC123xyz",
		// Chinese key words with full-width and ASCII separators.
		"登录失败 密码：hunter2 用户:bob",
		"密码 ： hunter2 密钥=AbC123/xyz+ 秘钥＝abc123",
		"口令\u3000：\u3000s3cret，请检查",
		"私钥：MIIEvQIBADANBg。访问令牌：eyJabc.def；过期",
		"授权码：A1B2C3、验证码：123456,签名：3f2a9c,访问密钥=AK12345",
		`{"用户":"bob","密码":"hunter2"} map[密码:abc] 密码：“hunter2”`,
		"初始密码是 hunter2，请尽快修改 新密码为Abc12345。验证码为：654321",
		"密碼：hunter2 驗證碼=123456 授權碼：x 簽名=y",
		"密码错误，请重试 密码为空 密码是必填项 密码为6位数字 密码为 null 命令执行失败：exit 1",
		"密码：[REDACTED] 密码是 [REDACTED] ghp_[REDACTED] sk_live_[REDACTED] xoxb-[REDACTED]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if len(in) > 8<<10 {
			// Long inputs only slow the search down; TestRedactLongInputs
			// covers them.
			t.Skip()
		}
		out := Redact(in)
		if again := Redact(out); again != out {
			t.Fatalf("not idempotent:\n in    %q\n out   %q\n again %q", in, out, again)
		}
		if containsSecret(out) {
			t.Fatalf("secret survived:\n in  %q\n out %q", in, out)
		}
		if utf8.ValidString(in) && !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 from valid input:\n in  %q\n out %q", in, out)
		}
		if !containsSecret(in) && out != in {
			t.Fatalf("text without secrets changed:\n in  %q\n out %q", in, out)
		}
	})
}

func FuzzFingerprint(f *testing.F) {
	for _, s := range []string{
		"",
		"HTTP 503 from supplier after 30s",
		"run 0190a6e2-7c1b-7d3e-9f00-1234567890ab failed at 2024-05-01T10:00:00.123+08:00 for bob@example.com",
		"commit a1b2c3d4e5f6 on host 10.0.0.5:443, ptr 0xc000123456, mongo 507f1f77bcf86cd799439011",
		`unknown sku "ABC 123" in 'prices' can't parse it's value`,
		"temp=-5 delta +3 range 10-20 x-5 price -12.50",
		"at 2006-01-02 15:04:05.999999999 -0700 MST, Date: Mon, 02 Jan 2006 15:04:05 GMT",
		`{"code":500,"msg":"Internal \"error\""}`,
		"库存同步失败：第 4 页超时\n\tat supplier.go:214",
		"password=[REDACTED]",
		strings.Repeat("stack frame 0x1f4\n", 80),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if len(in) > 4*MaxTemplateInput {
			// Only the first MaxTemplateInput bytes count.
			t.Skip()
		}
		tpl := MessageTemplate(in)
		fp := Fingerprint(in)
		if Fingerprint(in) != fp || MessageTemplate(in) != tpl {
			t.Fatalf("not deterministic for %q", in)
		}
		if in == "" && fp != 0 {
			t.Fatalf("Fingerprint(%q) = %d, want 0", in, fp)
		}
		if len(tpl) <= MaxTemplateInput {
			if again := MessageTemplate(tpl); again != tpl {
				t.Fatalf("template not idempotent:\n in    %q\n tpl   %q\n again %q", in, tpl, again)
			}
			if tpl != "" && Fingerprint(tpl) != fp {
				t.Fatalf("Fingerprint(%q) = %d differs from Fingerprint of its template %q = %d", in, fp, tpl, Fingerprint(tpl))
			}
		}
		if utf8.ValidString(in) && !utf8.ValidString(tpl) {
			t.Fatalf("invalid UTF-8 template %q from %q", tpl, in)
		}
		if tpl != strings.TrimSpace(tpl) || strings.Contains(tpl, "  ") {
			t.Fatalf("whitespace not collapsed in %q", tpl)
		}
	})
}

func FuzzValidate(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`{"sync_type":"products","status":"success","total_count":10,"success_count":8,"failed_count":2}`,
		`{"run_id":"r-1","event_id":"e-1","source":"Acme","sync_type":"Stock","status":"PROCESSING","started_at":"2024-05-01T11:00:00Z"}`,
		`{"run_id":"r-1","sync_type":"prices","status":"failed","message":"HTTP 503 token=abc","started_at":"2024-05-01T11:00:00+08:00","completed_at":"2024-05-01T11:30:00+08:00","attributes":{"page":"4","api_key":"x"}}`,
		`{"sync_type":"order","status":"partial","total_count":18446744073709551615,"success_count":18446744073709551615,"failed_count":0}`,
		`{"sync_type":"order","status":"partial","total_count":18446744073709551615,"success_count":18446744073709551615,"failed_count":1}`,
		`{"sync_type":"manual","status":"pending","completed_at":"1999-12-31T23:59:59Z"}`,
		`{"sync_type":"logistics","status":"success","started_at":"2030-01-01T00:00:00Z"}`,
		`{"run_id":" ","event_id":"a b","source":"-x","sync_type":"","status":"","attributes":{"":""}}`,
		`{"sync_type":"products","status":"success","message":"\u0000\ud800","fingerprint":"42","received_at":"2024-05-01T12:00:00Z"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 16<<10 {
			t.Skip()
		}
		var r Report
		if err := json.Unmarshal(data, &r); err != nil {
			return
		}
		r.Normalize(testNow)
		err := r.Validate(testTypes, testNow)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field == "" || ve.Rule == "" {
				t.Fatalf("Validate() = %#v, want a *ValidationError with field and rule", err)
			}
			return
		}
		if r.TotalCount > MaxCount || r.SuccessCount > MaxCount || r.FailedCount > MaxCount {
			t.Fatalf("valid report with counts %d/%d/%d above MaxCount", r.TotalCount, r.SuccessCount, r.FailedCount)
		}
		if sum, carry := bits.Add64(r.SuccessCount, r.FailedCount, 0); carry != 0 || sum > r.TotalCount {
			t.Fatalf("valid report with success %d + failed %d > total %d", r.SuccessCount, r.FailedCount, r.TotalCount)
		}
		if r.CompletedAt != nil && r.CompletedAt.Before(r.StartedAt) {
			t.Fatalf("valid report completed %v before it started %v", r.CompletedAt, r.StartedAt)
		}
		if r.Status.Terminal() != (r.CompletedAt != nil) {
			t.Fatalf("valid report with status %s and completed_at %v", r.Status, r.CompletedAt)
		}
		if len(r.Message) > MaxMessageBytes || !utf8.ValidString(r.Message) {
			t.Fatalf("valid report with a %d-byte message (valid UTF-8: %v)", len(r.Message), utf8.ValidString(r.Message))
		}
		for _, id := range []string{r.RunID, r.EventID} {
			if id == "" || len(id) > MaxIDLength {
				t.Fatalf("valid report with id %q", id)
			}
		}
		if containsSecret(r.Message) {
			t.Fatalf("valid report with a secret in its message %q", r.Message)
		}
		if r.Fingerprint != Fingerprint(r.Message) {
			t.Fatalf("fingerprint %d, want %d", r.Fingerprint, Fingerprint(r.Message))
		}
	})
}
