//! IAM Identity Center (SSO) end to end through the binary: a test HOME with real AWS config and
//! SSO token cache files, and fakes of the SSO portal, SSO OIDC and STS on 127.0.0.1.

use crate::common::fake_aws;

use crate::common::fake_aws::identity_center::*;
use crate::common::fake_aws::{Endpoints, FakeAws, Reply, RoleCredentials};
use crate::common::*;

use std::process::Command;

const SSO_ACCESS_TOKEN: &str = "aoaAAAAAGexampleSsoAccessToken0123456789";
/// What an expired login left in the cache; the portal no longer honours it.
const EXPIRED_SSO_ACCESS_TOKEN: &str = "aoaAAAAAGexampleExpiredSsoAccessToken5555";
const SSO_REFRESH_TOKEN: &str = "aorAAAAAGexampleSsoRefreshToken9876543210";
const SSO_CLIENT_SECRET: &str = "eyJraWQiOiJleGFtcGxlQ2xpZW50U2VjcmV0In0";

fn role_credentials(expiration: i64) -> RoleCredentials {
    RoleCredentials {
        access_key_id: ROLE_ACCESS_KEY_ID.into(),
        secret_access_key: ROLE_SECRET_ACCESS_KEY.into(),
        session_token: ROLE_SESSION_TOKEN.into(),
        expiration_millis: expiration * 1000,
    }
}

/// How the SSO token cache file is set up: what `aws sso login` leaves behind.
struct SsoLogin {
    access_token: &'static str,
    expires_in: i64,
    /// Whether the client registration (needed to refresh) is still valid.
    registration_valid: bool,
}

impl SsoLogin {
    fn fresh() -> SsoLogin {
        SsoLogin {
            access_token: SSO_ACCESS_TOKEN,
            expires_in: 3600,
            registration_valid: true,
        }
    }

    fn expired(registration_valid: bool) -> SsoLogin {
        SsoLogin {
            access_token: EXPIRED_SSO_ACCESS_TOKEN,
            expires_in: -3600,
            registration_valid,
        }
    }
}

/// `[profile dev]` using `[sso-session corp]`, as `aws configure sso` writes it.
fn sso_session_profile(home: &Home) {
    home.aws_config(&format!(
        "[profile dev]\nsso_session = corp\nsso_account_id = {ACCOUNT_ID}\n\
         sso_role_name = {ROLE_NAME}\nregion = us-east-1\n\n\
         [sso-session corp]\nsso_start_url = {START_URL}\nsso_region = us-east-1\n\
         sso_registration_scopes = sso:account:access\n"
    ));
}

/// The cache file for an `sso-session` (named by the session), with the client registration
/// fields aws-config needs to refresh it.
fn cache_session_token(home: &Home, login: &SsoLogin) {
    let registration_expires = unix_now() + if login.registration_valid { 86400 } else { -60 };
    let json = serde_json::json!({
        "startUrl": START_URL,
        "region": "us-east-1",
        "accessToken": login.access_token,
        "expiresAt": rfc3339(unix_now() + login.expires_in),
        "clientId": "exampleClientId",
        "clientSecret": SSO_CLIENT_SECRET,
        "registrationExpiresAt": rfc3339(registration_expires),
        "refreshToken": SSO_REFRESH_TOKEN,
    });
    home.write(
        &format!(".aws/sso/cache/{}.json", sha1_hex("corp")),
        &json.to_string(),
    );
}

/// A legacy SSO profile: everything in the profile, no sso_session.
fn legacy_profile(home: &Home) {
    home.aws_config(&format!(
        "[profile legacy]\nsso_start_url = {START_URL}\nsso_region = us-east-1\n\
         sso_account_id = {ACCOUNT_ID}\nsso_role_name = {ROLE_NAME}\nregion = us-east-1\n"
    ));
}

/// The legacy cache file: named by the start URL, no refresh fields.
fn cache_legacy_token(home: &Home, login: &SsoLogin) {
    let json = serde_json::json!({
        "startUrl": START_URL,
        "region": "us-east-1",
        "accessToken": login.access_token,
        "expiresAt": rfc3339(unix_now() + login.expires_in),
    });
    home.write(
        &format!(".aws/sso/cache/{}.json", sha1_hex(START_URL)),
        &json.to_string(),
    );
}

/// Fakes for every AWS endpoint the binary may call, and a catch-all for the rest. Every run
/// goes through `cmd`, so nothing can reach the real AWS.
struct Aws {
    portal: FakeAws,
    oidc: FakeAws,
    sts: FakeAws,
    endpoints: Endpoints,
}

impl Aws {
    fn new(portal: FakeAws) -> Aws {
        Aws::with(
            portal,
            fake_aws::sso_oidc_refusing(),
            fake_aws::sts(|| fake_aws::caller_identity(IDENTITY_CENTER_ARN)),
        )
    }

    fn with(portal: FakeAws, oidc: FakeAws, sts: FakeAws) -> Aws {
        let endpoints = Endpoints::new()
            .with("SSO", &portal)
            .with("SSO_OIDC", &oidc)
            .with("STS", &sts);
        Aws {
            portal,
            oidc,
            sts,
            endpoints,
        }
    }

    /// A portal that honours the fresh login's token and hands out role credentials that
    /// expire at `expiration` (Unix seconds).
    fn accepting(expiration: i64) -> Aws {
        Aws::new(portal(SSO_ACCESS_TOKEN, expiration))
    }

    /// A portal that honours no token: the user signed out, or the session was revoked.
    fn refusing() -> Aws {
        Aws::new(portal("a-token-nobody-has", unix_now() + 3600))
    }

    fn cmd(&self, home: &Home) -> Command {
        self.with_endpoints(home.cmd())
    }

    fn with_endpoints(&self, mut cmd: Command) -> Command {
        self.endpoints.apply(&mut cmd);
        cmd
    }

    fn run(&self, home: &Home, args: &[&str]) -> Run {
        let run = Run::from(self.cmd(home).args(args).output().unwrap());
        self.endpoints.assert_no_other_service_called();
        run
    }

    /// `run` with the binary's clock moved to `now` (Unix seconds).
    fn run_at(&self, home: &Home, now: i64, args: &[&str]) -> Run {
        let mut cmd = self.with_endpoints(home.cmd_at(now));
        let run = Run::from(cmd.args(args).output().unwrap());
        self.endpoints.assert_no_other_service_called();
        run
    }
}

fn portal(accepted_token: &str, expiration: i64) -> FakeAws {
    fake_aws::sso_portal(
        accepted_token,
        ACCOUNT_ID,
        ROLE_NAME,
        role_credentials(expiration),
    )
}

fn connection(home: &Home, profile: &str, user: &str) {
    home.config(format!(
        "[connections.prod]\nhost = \"{HOST}\"\nuser = \"{user}\"\naws_profile = \"{profile}\"\n"
    ));
}

/// No secret of any kind on stderr: the role keys, the SSO tokens, any printed token.
#[track_caller]
fn assert_no_secrets(run: &Run, tokens: &[&str]) {
    let mut secrets = vec![
        ROLE_SECRET_ACCESS_KEY,
        ROLE_SESSION_TOKEN,
        SSO_ACCESS_TOKEN,
        EXPIRED_SSO_ACCESS_TOKEN,
        SSO_REFRESH_TOKEN,
        SSO_CLIENT_SECRET,
        "X-Amz-Signature",
    ];
    secrets.extend_from_slice(tokens);
    for secret in secrets {
        assert!(
            !run.stderr.contains(secret),
            "stderr shows a secret ({secret}):\n{}",
            run.stderr
        );
    }
}

/// Exit 3, nothing on stdout, and a short message naming the fix: no SDK error stack.
#[track_caller]
fn assert_login_needed(run: &Run, fixes: &[&str]) {
    run.code(3);
    assert!(run.stdout.is_empty(), "stdout: {}", run.stdout);
    for fix in fixes {
        run.stderr_has(fix);
    }
    assert!(
        run.stderr.lines().count() <= 3,
        "stderr is not a short message:\n{}",
        run.stderr
    );
    for stack in [
        "Error {",
        "source:",
        "ServiceError",
        "DispatchFailure",
        "Unhandled",
    ] {
        assert!(
            !run.stderr.contains(stack),
            "stderr shows the SDK's error ({stack}):\n{}",
            run.stderr
        );
    }
    assert_no_secrets(run, &[]);
}

#[test]
fn sso_session_profile_prints_a_token_cached_and_bounded_by_the_role_credentials() {
    let home = Home::new();
    sso_session_profile(&home);
    cache_session_token(&home, &SsoLogin::fresh());
    connection(&home, "dev", "jane");
    // Role credentials for 10 minutes: sooner than the token's 15.
    let expiration = unix_now() + 600;
    let aws = Aws::accepting(expiration);

    let first = aws.run(&home, &["token", "prod", "--format", "json"]);
    let first_json = first.ok().json();
    let token = first_json["token"].as_str().unwrap().to_string();
    assert!(token.starts_with(&format!("{HOST}:5432/?Action=connect&DBUser=jane&")));
    assert!(token.contains(&format!("X-Amz-Credential={ROLE_ACCESS_KEY_ID}%2F")));
    assert!(token.contains("X-Amz-Security-Token="));
    assert_eq!(first_json["expires_at"], rfc3339(expiration));

    let portal = aws.portal.requests();
    assert_eq!(portal.len(), 1);
    assert_eq!(
        portal[0].header("x-amz-sso_bearer_token"),
        Some(SSO_ACCESS_TOKEN)
    );
    assert_eq!(portal[0].query("account_id"), Some(ACCOUNT_ID));
    assert_eq!(portal[0].query("role_name"), Some(ROLE_NAME));

    let second = aws.run(&home, &["pg", "prod", "-v"]);
    second.ok().stderr_has("cache hit");
    assert_eq!(second.stdout, format!("{token}\n"));
    assert_eq!(aws.portal.hits(), 1, "a cache hit asks the portal nothing");
    assert_eq!(aws.oidc.hits(), 0, "a fresh SSO token is not refreshed");
    assert_no_secrets(&first, &[&token]);
    assert_no_secrets(&second, &[&token]);
}

struct LoginCase {
    name: &'static str,
    login: Option<SsoLogin>,
    portal_accepts: bool,
    refresh_attempts: usize,
    portal_calls: usize,
}

#[test]
fn expired_or_refused_sso_session_asks_for_aws_sso_login() {
    let cases = [
        LoginCase {
            name: "expired, cannot be refreshed",
            login: Some(SsoLogin::expired(false)),
            portal_accepts: true,
            refresh_attempts: 0,
            portal_calls: 0,
        },
        LoginCase {
            // aws-config tries SSO OIDC, then sends the expired token, which the portal refuses.
            name: "expired, refresh refused",
            login: Some(SsoLogin::expired(true)),
            portal_accepts: true,
            refresh_attempts: 1,
            portal_calls: 1,
        },
        LoginCase {
            name: "portal answers 401",
            login: Some(SsoLogin::fresh()),
            portal_accepts: false,
            refresh_attempts: 0,
            portal_calls: 1,
        },
        LoginCase {
            name: "never logged in",
            login: None,
            portal_accepts: true,
            refresh_attempts: 0,
            portal_calls: 0,
        },
    ];
    for case in cases {
        let home = Home::new();
        sso_session_profile(&home);
        if let Some(login) = &case.login {
            cache_session_token(&home, login);
        }
        connection(&home, "dev", "jane");
        let aws = match case.portal_accepts {
            true => Aws::accepting(unix_now() + 3600),
            false => Aws::refusing(),
        };
        let run = aws.run(&home, &["pg", "prod"]);
        assert_login_needed(
            &run,
            &[
                "aws sso login --profile dev",
                "aws sso login --sso-session corp",
            ],
        );
        let refreshes = aws.oidc.requests();
        assert_eq!(refreshes.len(), case.refresh_attempts, "{}", case.name);
        for refresh in refreshes {
            assert!(refresh.body.contains(SSO_REFRESH_TOKEN), "{}", case.name);
        }
        assert_eq!(aws.portal.hits(), case.portal_calls, "{}", case.name);
    }
}

#[test]
fn an_expired_but_refreshable_sso_session_is_renewed_through_sso_oidc() {
    let home = Home::new();
    sso_session_profile(&home);
    cache_session_token(&home, &SsoLogin::expired(true));
    connection(&home, "dev", "jane");
    let oidc = fake_aws::sso_oidc(|| {
        let body = serde_json::json!({
            "accessToken": SSO_ACCESS_TOKEN,
            "expiresIn": 3600,
            "tokenType": "Bearer",
            "refreshToken": SSO_REFRESH_TOKEN,
        });
        Reply::json(200, body.to_string())
    });
    let aws = Aws::with(
        portal(SSO_ACCESS_TOKEN, unix_now() + 3600),
        oidc,
        fake_aws::sts(|| fake_aws::caller_identity(IDENTITY_CENTER_ARN)),
    );
    let run = aws.run(&home, &["pg", "prod"]);
    run.ok();
    assert!(run.token().contains("X-Amz-Security-Token="));
    assert_no_secrets(&run, &[&run.token()]);
    assert_eq!(aws.oidc.hits(), 1);
    assert_eq!(aws.portal.hits(), 1);
    let cached = std::fs::read_to_string(
        home.path()
            .join(format!(".aws/sso/cache/{}.json", sha1_hex("corp"))),
    )
    .unwrap();
    assert!(
        cached.contains(SSO_ACCESS_TOKEN),
        "the renewed SSO token is saved"
    );
}

#[test]
fn a_role_the_user_is_not_assigned_is_a_short_error_without_a_login_hint_first() {
    let home = Home::new();
    sso_session_profile(&home);
    cache_session_token(&home, &SsoLogin::fresh());
    connection(&home, "dev", "jane");
    let aws = Aws::new(fake_aws::sso_portal(
        SSO_ACCESS_TOKEN,
        ACCOUNT_ID,
        "SomeOtherRole",
        role_credentials(unix_now() + 3600),
    ));
    let run = aws.run(&home, &["pg", "prod"]);
    run.code(3).stderr_has("No access").stderr_has("sso_");
    assert!(run.stdout.is_empty());
    assert!(run.stderr.lines().count() <= 3, "{}", run.stderr);
    assert_no_secrets(&run, &[]);
}

#[test]
fn legacy_sso_profile_works_the_same() {
    let home = Home::new();
    legacy_profile(&home);
    cache_legacy_token(&home, &SsoLogin::fresh());
    connection(&home, "legacy", "jane");
    let expiration = unix_now() + 3600;
    let aws = Aws::accepting(expiration);

    let first = aws.run(&home, &["token", "prod", "--format", "json"]);
    let first_json = first.ok().json();
    let token = first_json["token"].as_str().unwrap().to_string();
    assert!(token.contains(&format!("X-Amz-Credential={ROLE_ACCESS_KEY_ID}%2F")));
    assert!(token.contains("X-Amz-Security-Token="));
    let expires_at =
        chrono::DateTime::parse_from_rfc3339(first_json["expires_at"].as_str().unwrap())
            .unwrap()
            .timestamp();
    assert!(
        expires_at < expiration && expires_at >= unix_now() + 880,
        "credentials outliving the token leave it its 15 minutes"
    );
    assert_eq!(
        aws.portal.requests()[0].header("x-amz-sso_bearer_token"),
        Some(SSO_ACCESS_TOKEN)
    );
    let second = aws.run(&home, &["pg", "prod"]);
    second.ok();
    assert_eq!(second.token(), token);
    assert_eq!(aws.portal.hits(), 1, "a cache hit asks the portal nothing");
    assert_no_secrets(&first, &[&token]);
    assert_no_secrets(&second, &[&token]);
}

#[test]
fn expired_legacy_sso_login_asks_for_aws_sso_login() {
    for login in [Some(SsoLogin::expired(false)), None] {
        let home = Home::new();
        legacy_profile(&home);
        if let Some(login) = &login {
            cache_legacy_token(&home, login);
        }
        connection(&home, "legacy", "jane");
        let aws = Aws::accepting(unix_now() + 3600);
        let run = aws.run(&home, &["pg", "prod"]);
        assert_login_needed(&run, &["aws sso login --profile legacy"]);
        assert!(!run.stderr.contains("--sso-session"), "{}", run.stderr);
        assert_eq!(aws.oidc.hits(), 0, "a legacy login has nothing to refresh");
    }
}

#[test]
fn session_name_user_is_the_identity_center_user_name_resolved_once() {
    let home = Home::new();
    sso_session_profile(&home);
    cache_session_token(&home, &SsoLogin::fresh());
    home.config(format!(
        "[defaults]\nuser = \"{{session_name}}\"\n\n\
         [connections.prod]\nhost = \"{HOST}\"\naws_profile = \"dev\"\n\n\
         [connections.replica]\nhost = \"replica.{HOST}\"\nuser = \"{{session_name}}\"\naws_profile = \"dev\"\n"
    ));
    let aws = Aws::accepting(unix_now() + 3600);

    let first = aws
        .run(&home, &["token", "prod", "--format", "json"])
        .ok()
        .json();
    assert_eq!(first["user"], "jane.doe");
    let token = first["token"].as_str().unwrap();
    assert!(token.starts_with(&format!("{HOST}:5432/?Action=connect&DBUser=jane.doe&")));
    let calls = aws.sts.requests();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].path(), "/");
    assert!(calls[0].body.contains("Action=GetCallerIdentity"));
    // Signed with the role credentials the portal handed out, not some other identity.
    let authorization = calls[0].header("authorization").unwrap();
    assert!(authorization.contains(&format!("Credential={ROLE_ACCESS_KEY_ID}/")));
    assert_eq!(
        calls[0].header("x-amz-security-token"),
        Some(ROLE_SESSION_TOKEN)
    );

    let again = aws.run(&home, &["pg", "prod"]);
    again.ok();
    assert_eq!(again.token(), token);
    let listed = aws.run(&home, &["token", "prod", "--format", "json"]);
    assert_eq!(listed.ok().json()["user"], "jane.doe");
    assert_eq!(aws.sts.hits(), 1, "a cache hit makes no STS call");
    assert_eq!(aws.portal.hits(), 1);

    // Another connection, another token, the same credentials: the name is known already.
    let replica = aws.run(&home, &["token", "replica", "--format", "json", "-v"]);
    replica.stderr_has("`{session_name}` is `jane.doe` (cached in");
    assert_eq!(replica.ok().json()["user"], "jane.doe");
    assert_eq!(aws.sts.hits(), 1, "the name is cached with the credentials");
    assert_eq!(
        aws.portal.hits(),
        2,
        "a token miss still resolves credentials"
    );
    assert_no_secrets(&again, &[token]);
    assert_no_secrets(&replica, &[token]);
}

/// The `{session_name}` cache files, by content.
fn identity_files(home: &Home) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(home.cache_dir()) else {
        return Vec::new();
    };
    dir.flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "identity"))
        .map(|e| {
            let mode =
                std::os::unix::fs::PermissionsExt::mode(&e.metadata().unwrap().permissions());
            assert_eq!(mode & 0o777, 0o600, "{}", e.path().display());
            std::fs::read_to_string(e.path()).unwrap()
        })
        .collect()
}

fn session_name_connections(home: &Home) {
    home.config(format!(
        "[defaults]\nuser = \"{{session_name}}\"\naws_profile = \"dev\"\n\n\
         [connections.prod]\nhost = \"{HOST}\"\n\n\
         [connections.replica]\nhost = \"replica.{HOST}\"\n"
    ));
}

#[test]
fn session_name_is_asked_again_once_the_credentials_it_came_with_expire() {
    let home = Home::new();
    sso_session_profile(&home);
    cache_session_token(&home, &SsoLogin::fresh());
    session_name_connections(&home);
    let start = unix_now();
    // Role credentials for 10 minutes: the name is kept that long, no longer.
    let first = Aws::accepting(start + 600);
    first.run_at(&home, start, &["pg", "prod"]).ok();
    first.run_at(&home, start + 60, &["pg", "replica"]).ok();
    assert_eq!(first.sts.hits(), 1);

    let files = identity_files(&home);
    assert_eq!(files.len(), 1, "one name for one set of credentials");
    let entry: serde_json::Value = serde_json::from_str(&files[0]).unwrap();
    assert_eq!(entry["session_name"], "jane.doe");
    assert_eq!(entry["valid_until"], start + 600);
    for secret in [
        ROLE_ACCESS_KEY_ID,
        ROLE_SECRET_ACCESS_KEY,
        ROLE_SESSION_TOKEN,
        SSO_ACCESS_TOKEN,
        SSO_REFRESH_TOKEN,
        SSO_CLIENT_SECRET,
        IDENTITY_CENTER_ARN,
    ] {
        assert!(!files[0].contains(secret), "{secret} in {}", files[0]);
    }

    // Past the expiry the portal hands out new credentials; whose they are is asked again,
    // once, and the new answer serves the other connection too.
    let later = Aws::accepting(start + 3600);
    later.run_at(&home, start + 610, &["pg", "prod"]).ok();
    assert_eq!(later.sts.hits(), 1, "an expired name is not used");
    later.run_at(&home, start + 620, &["pg", "replica"]).ok();
    assert_eq!(later.sts.hits(), 1);
    assert_eq!(first.sts.hits(), 1);
    let entry: serde_json::Value = serde_json::from_str(&identity_files(&home)[0]).unwrap();
    assert_eq!(entry["valid_until"], start + 3600);
}

fn identity_path(home: &Home) -> std::path::PathBuf {
    std::fs::read_dir(home.cache_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "identity"))
        .unwrap()
}

#[test]
fn a_bad_session_name_cache_file_is_a_miss_and_replaced() {
    let home = Home::new();
    sso_session_profile(&home);
    cache_session_token(&home, &SsoLogin::fresh());
    session_name_connections(&home);
    let aws = Aws::accepting(unix_now() + 3600);
    aws.run(&home, &["pg", "prod"]).ok();
    assert_eq!(aws.sts.hits(), 1);
    let path = identity_path(&home);

    // A name planted or damaged in the file is not signed for: STS is asked and the file
    // rewritten.
    let planted = std::fs::read_to_string(&path)
        .unwrap()
        .replace("jane.doe", "ja\\u0000ne");
    for text in [planted.as_str(), "", "{\"version\":1"] {
        std::fs::write(&path, text).unwrap();
        let hits = aws.sts.hits();
        let run = aws.run(&home, &["token", "replica", "--no-cache"]);
        run.ok();
        assert_eq!(aws.sts.hits(), hits + 1, "--no-cache reads no cached name");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            text,
            "--no-cache writes none"
        );
        aws.run(&home, &["cache", "clear", "replica"]).ok();
        let json = aws
            .run(&home, &["token", "replica", "--format", "json"])
            .ok()
            .json();
        assert_eq!(json["user"], "jane.doe", "{text:?}");
        assert_eq!(aws.sts.hits(), hits + 2, "{text:?}");
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("\"jane.doe\"")
        );
    }
}

#[test]
fn cache_clear_removes_the_cached_session_name() {
    let home = Home::new();
    sso_session_profile(&home);
    cache_session_token(&home, &SsoLogin::fresh());
    session_name_connections(&home);
    let aws = Aws::accepting(unix_now() + 3600);
    aws.run(&home, &["pg", "prod"]).ok();
    assert_eq!(identity_files(&home).len(), 1);
    aws.run(&home, &["cache", "clear"]).ok();
    assert!(
        identity_files(&home).is_empty(),
        "cache clear leaves the name"
    );
    let hits = aws.sts.hits();
    aws.run(&home, &["pg", "prod"]).ok();
    assert_eq!(aws.sts.hits(), hits + 1);
}

#[test]
fn session_name_is_percent_encoded_and_taken_from_iam_user_arns_too() {
    for (arn, user, encoded) in [
        (
            "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_DBAccess_abc/jane.doe@example.com",
            "jane.doe@example.com",
            "jane.doe%40example.com",
        ),
        ("arn:aws:iam::123456789012:user/ops/bob", "bob", "bob"),
    ] {
        let home = Home::new();
        home.static_profile("p", ACCESS_KEY_ID);
        connection(&home, "p", "{session_name}");
        let arn = arn.to_string();
        let aws = Aws::with(
            portal(SSO_ACCESS_TOKEN, unix_now() + 3600),
            fake_aws::sso_oidc_refusing(),
            fake_aws::sts(move || fake_aws::caller_identity(&arn)),
        );
        let run = aws
            .run(&home, &["token", "prod", "--format", "json"])
            .ok()
            .json();
        assert_eq!(run["user"], user);
        let token = run["token"].as_str().unwrap();
        assert!(token.contains(&format!("DBUser={encoded}&")), "{token}");
        assert_eq!(aws.portal.hits(), 0, "static credentials need no portal");
    }
}

/// What a faked STS answers, and what the binary must make of it.
struct StsCase {
    reply: fn() -> Reply,
    code: i32,
    message: &'static str,
}

fn cached_tokens(home: &Home) -> usize {
    std::fs::read_dir(home.cache_dir())
        .map(|dir| {
            dir.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn session_name_that_cannot_be_a_user_or_a_refusing_sts_is_a_clear_error() {
    let cases = [
        StsCase {
            reply: || fake_aws::caller_identity("arn:aws:iam::123456789012:root"),
            code: 1,
            message: "has no role session or user name",
        },
        StsCase {
            reply: || {
                fake_aws::caller_identity("arn:aws:sts::123456789012:assumed-role/r/bad&#10;name")
            },
            code: 1,
            message: "control character",
        },
        StsCase {
            reply: || {
                fake_aws::sts_error(
                    403,
                    "ExpiredToken",
                    "The security token included in the request is expired",
                )
            },
            code: 3,
            message: "ExpiredToken",
        },
        StsCase {
            reply: || fake_aws::sts_error(403, "AccessDenied", "not allowed"),
            code: 1,
            message: "AccessDenied",
        },
    ];
    for case in cases {
        let home = Home::new();
        home.static_profile("p", ACCESS_KEY_ID);
        connection(&home, "p", "{session_name}");
        let aws = Aws::with(
            portal(SSO_ACCESS_TOKEN, unix_now() + 3600),
            fake_aws::sso_oidc_refusing(),
            fake_aws::sts(case.reply),
        );
        let run = aws.run(&home, &["pg", "prod"]);
        run.code(case.code)
            .stderr_has(case.message)
            .stderr_has("session_name");
        assert!(run.stdout.is_empty());
        assert!(run.stderr.lines().count() <= 3, "{}", run.stderr);
        assert!(!run.stderr.contains(SECRET_ACCESS_KEY), "{}", run.stderr);
        assert_eq!(aws.sts.hits(), 1, "{}: not retried", case.message);
        assert_eq!(cached_tokens(&home), 0, "{}: nothing cached", case.message);
    }
}

/// A failing credential_process says why in its own words, on stderr, as the AWS CLI shows
/// them; its stdout, where credentials go, is never shown. The hint names the profile to check,
/// and sends no one to `aws sso login` for a profile that is not SSO.
#[test]
fn a_failing_credential_process_shows_its_stderr_and_never_its_stdout() {
    const OUT: &str = "SECRETSTDOUT";
    let cases = [
        (
            format!("printf '{OUT}'; printf 'token for corp-idp expired' >&2; exit 3"),
            "the credential_process exited with code 3",
            &["  | token for corp-idp expired"][..],
        ),
        (
            // Colour codes are dropped, not passed on to the terminal.
            format!(
                "printf '{OUT}\\n'; printf 'line one\\n\\033[31mrun corp-login\\033[0m\\n' >&2; exit 1"
            ),
            "the credential_process exited with code 1",
            &["  | line one\n  | run corp-login\n"][..],
        ),
        (
            format!("printf '{OUT}'; exit 2"),
            "exited with code 2, for AWS profile `proc` (it wrote nothing on stderr)",
            &[][..],
        ),
        (
            format!("printf 'unshown' >&2; printf 'not JSON {OUT}'"),
            "the credential_process printed no valid credentials",
            &[][..],
        ),
        (
            format!(
                "printf '{{\"Version\":2,\"AccessKeyId\":\"{OUT}\",\"SecretAccessKey\":\"{OUT}\"}}'"
            ),
            "the credential_process printed no valid credentials",
            &[][..],
        ),
    ];
    for (body, message, said) in cases {
        let home = Home::new();
        let script = home.write("bin/creds.sh", &format!("#!/bin/sh\n{body}\n"));
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        home.aws_config(&format!(
            "[profile proc]\ncredential_process = {}\nregion = us-east-1",
            script.display()
        ));
        connection(&home, "proc", "jane");
        let aws = Aws::accepting(unix_now() + 3600);
        for args in [&["pg", "prod"][..], &["pg", "prod", "-v"]] {
            let run = aws.run(&home, args);
            run.code(3).stderr_has(message).stderr_has("[profile proc]");
            for text in said {
                run.stderr_has(text);
            }
            assert!(run.stdout.is_empty(), "{body}: {}", run.stdout);
            for marker in [OUT, "Stderr", "\u{1b}", "sso login", "unshown"] {
                assert!(
                    !run.stderr.contains(marker),
                    "{body}: stderr shows {marker:?}:\n{}",
                    run.stderr
                );
            }
        }
    }
}
