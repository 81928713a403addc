//! `login` and sign-in from a GUI's password command, end to end through the binary: a fake
//! SSO OIDC on 127.0.0.1 that behaves as Identity Center does (RegisterClient, /authorize with
//! PKCE, the device grant, refresh), a stand-in browser through $BROWSER that approves as a
//! person would, and botocore reading the token cache the binary wrote.

use crate::common::fake_aws;

use crate::common::fake_aws::identity_center::*;
use crate::common::fake_aws::{Endpoints, FakeAws, Reply, RoleCredentials};
use crate::common::*;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

const NEW_ACCESS_TOKEN: &str = "aoaAAAAAGexampleSignedInAccessToken777";
const RENEWED_ACCESS_TOKEN: &str = "aoaAAAAAGexampleRenewedAccessToken888";
const EXPIRED_ACCESS_TOKEN: &str = "aoaAAAAAGexampleExpiredAccessToken999";
const REFRESH_TOKEN: &str = "aorAAAAAGexampleLoginRefreshToken4242";
const CLIENT_SECRET: &str = "eyJraWQiOiJsb2dpbkNsaWVudFNlY3JldCJ9";
/// Every secret of a sign-in: none may reach stdout, stderr, the browser's argv or a log.
const SECRETS: [&str; 5] = [
    NEW_ACCESS_TOKEN,
    RENEWED_ACCESS_TOKEN,
    REFRESH_TOKEN,
    CLIENT_SECRET,
    ROLE_SECRET_ACCESS_KEY,
];

/// What the person at the browser does.
#[derive(Clone, Copy, PartialEq)]
enum Person {
    Approves,
    Denies,
    /// Approves, but a forged redirect (another page, another sign-in) reaches the listener
    /// first.
    ApprovesAfterAForgery,
}

/// The fake's memory: registrations, codes handed out, the device grant's progress.
#[derive(Default)]
struct OidcState {
    registrations: Vec<serde_json::Value>,
    /// code -> (client id, code challenge, redirect URI)
    codes: HashMap<String, (String, String, String)>,
    device_approved: Option<bool>,
    device_polls: usize,
    grants: Vec<String>,
}

/// A fake IAM Identity Center OIDC service that checks what the real one checks: the client
/// secret, PKCE's verifier against the challenge, the redirect URI, the state round trip.
struct Oidc {
    server: FakeAws,
    state: Arc<Mutex<OidcState>>,
}

fn json_body(request: &fake_aws::Request) -> serde_json::Value {
    serde_json::from_str(&request.body).unwrap_or_default()
}

fn query(url: &str) -> HashMap<String, String> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// A redirect to the listener with a code and a state it did not send; returns the answer.
fn forge(redirect_uri: &str) -> String {
    use std::io::{Read, Write};
    let rest = redirect_uri.strip_prefix("http://").unwrap();
    let (address, path) = rest.split_once('/').unwrap();
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    // A listener that took the forgery would hang the fake here; the test then fails.
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET /{path}?code=forged-code&state=forged HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = [0u8; 12];
    let _ = stream.read_exact(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

fn redirect(location: String) -> Reply {
    Reply {
        status: 302,
        headers: vec![("Location".into(), location)],
        body: String::new(),
    }
}

fn token_reply(access_token: &str) -> Reply {
    Reply::json(
        200,
        serde_json::json!({
            "accessToken": access_token,
            "tokenType": "Bearer",
            "expiresIn": 3600,
            "refreshToken": REFRESH_TOKEN,
        })
        .to_string(),
    )
}

impl Oidc {
    fn start(person: Person) -> Oidc {
        let state = Arc::new(Mutex::new(OidcState::default()));
        let shared = state.clone();
        let server = FakeAws::start(move |request| {
            let mut state = shared.lock().unwrap();
            handle(&mut state, person, request)
        });
        Oidc { server, state }
    }

    fn registrations(&self) -> Vec<serde_json::Value> {
        self.state.lock().unwrap().registrations.clone()
    }

    fn grants(&self) -> Vec<String> {
        self.state.lock().unwrap().grants.clone()
    }
}

fn handle(state: &mut OidcState, person: Person, request: &fake_aws::Request) -> Reply {
    let error = |code: &str, message: &str| Reply::aws_json_error(400, code, message);
    match (request.method.as_str(), request.path()) {
        ("POST", "/client/register") => {
            let body = json_body(request);
            state.registrations.push(body);
            let id = format!("client-{}", state.registrations.len());
            Reply::json(
                200,
                serde_json::json!({
                    "clientId": id,
                    "clientSecret": CLIENT_SECRET,
                    "clientIdIssuedAt": unix_now(),
                    "clientSecretExpiresAt": unix_now() + 90 * 86400,
                })
                .to_string(),
            )
        }
        ("GET", "/authorize") => {
            let q = query(&request.url);
            let redirect_uri = q["redirect_uri"].clone();
            assert!(
                redirect_uri.starts_with("http://127.0.0.1:"),
                "{redirect_uri}"
            );
            assert_eq!(q["response_type"], "code");
            assert_eq!(q["code_challenge_method"], "S256");
            let state_param = &q["state"];
            if person == Person::Denies {
                return redirect(format!(
                    "{redirect_uri}?error=access_denied&error_description=The+user+declined&state={state_param}"
                ));
            }
            if person == Person::ApprovesAfterAForgery {
                assert!(forge(&redirect_uri).starts_with("HTTP/1.1 400"));
            }
            let code = format!("code-{}", state.codes.len() + 1);
            state.codes.insert(
                code.clone(),
                (
                    q["client_id"].clone(),
                    q["code_challenge"].clone(),
                    redirect_uri.clone(),
                ),
            );
            redirect(format!("{redirect_uri}?code={code}&state={state_param}"))
        }
        ("POST", "/device_authorization") => {
            let body = json_body(request);
            assert_eq!(body["startUrl"], START_URL);
            assert_eq!(body["clientSecret"], CLIENT_SECRET);
            Reply::json(
                200,
                serde_json::json!({
                    "deviceCode": "device-code-1",
                    "userCode": "ABCD-EFGH",
                    "verificationUri": format!("http://{}/device", request.header("host").unwrap()),
                    "verificationUriComplete": format!("http://{}/device?user_code=ABCD-EFGH", request.header("host").unwrap()),
                    "expiresIn": 600,
                    "interval": 1,
                })
                .to_string(),
            )
        }
        ("GET", "/device") => {
            state.device_approved = Some(person == Person::Approves);
            Reply::json(200, "{}")
        }
        ("POST", "/token") => {
            let body = json_body(request);
            let grant = body["grantType"].as_str().unwrap_or_default().to_string();
            state.grants.push(grant.clone());
            if body["clientSecret"] != CLIENT_SECRET {
                return error("InvalidClientException", "bad client secret");
            }
            match grant.as_str() {
                "authorization_code" => {
                    let code = body["code"].as_str().unwrap_or_default();
                    let Some((client, challenge, redirect_uri)) = state.codes.remove(code) else {
                        return error("InvalidGrantException", "unknown code");
                    };
                    let verifier = body["codeVerifier"].as_str().unwrap_or_default();
                    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .encode(Sha256::digest(verifier.as_bytes()));
                    if computed != challenge
                        || body["clientId"] != client.as_str()
                        || body["redirectUri"] != redirect_uri.as_str()
                    {
                        return error("InvalidGrantException", "PKCE or redirect mismatch");
                    }
                    token_reply(NEW_ACCESS_TOKEN)
                }
                "urn:ietf:params:oauth:grant-type:device_code" => {
                    state.device_polls += 1;
                    match (state.device_polls, state.device_approved) {
                        (_, Some(false)) => {
                            error("AccessDeniedException", "The user denied the request")
                        }
                        (1, _) => error("AuthorizationPendingException", "pending"),
                        (2, _) => error("SlowDownException", "slow down"),
                        (_, Some(true)) => token_reply(NEW_ACCESS_TOKEN),
                        (_, None) => error("AuthorizationPendingException", "pending"),
                    }
                }
                "refresh_token" if body["refreshToken"] == REFRESH_TOKEN => {
                    token_reply(RENEWED_ACCESS_TOKEN)
                }
                _ => error("InvalidGrantException", "refresh token expired"),
            }
        }
        _ => Reply::aws_json_error(404, "NotFoundException", "no such operation"),
    }
}

/// The fakes one sign-in and its use need, and the stand-in browser.
struct Aws {
    oidc: Oidc,
    portal: FakeAws,
    endpoints: Endpoints,
    browser: PathBuf,
    opened: PathBuf,
}

impl Aws {
    /// A portal honouring `accepted` (the token a sign-in or renewal hands out).
    fn new(home: &Home, person: Person, accepted: &str) -> Aws {
        Aws::with_browser(home, person, accepted, "curl -sS -L -o /dev/null \"$1\"")
    }

    fn with_browser(home: &Home, person: Person, accepted: &str, action: &str) -> Aws {
        let opened = home.path().join("browser.opened");
        let browser = home.write(
            "bin/browser.sh",
            &format!(
                "#!/bin/sh\necho \"$1\" >> \"{}\"\n{action}\n",
                opened.display()
            ),
        );
        std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
        let oidc = Oidc::start(person);
        let portal = fake_aws::sso_portal(
            accepted,
            ACCOUNT_ID,
            ROLE_NAME,
            RoleCredentials {
                access_key_id: ROLE_ACCESS_KEY_ID.into(),
                secret_access_key: ROLE_SECRET_ACCESS_KEY.into(),
                session_token: ROLE_SESSION_TOKEN.into(),
                expiration_millis: (unix_now() + 3600) * 1000,
            },
        );
        let sts = fake_aws::sts(|| fake_aws::caller_identity(IDENTITY_CENTER_ARN));
        let endpoints = Endpoints::new()
            .with("SSO", &portal)
            .with("SSO_OIDC", &oidc.server)
            .serve("STS", sts);
        Aws {
            oidc,
            portal,
            endpoints,
            browser,
            opened,
        }
    }

    fn env(&self) -> Vec<(String, String)> {
        let browser = ("BROWSER".to_string(), self.browser.display().to_string());
        self.endpoints.env().into_iter().chain([browser]).collect()
    }

    fn cmd(&self, home: &Home) -> Command {
        let mut cmd = home.cmd();
        cmd.envs(self.env());
        cmd
    }

    #[track_caller]
    fn run(&self, home: &Home, args: &[&str]) -> Run {
        self.run_with(home, args, &[])
    }

    #[track_caller]
    fn run_with(&self, home: &Home, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.cmd(home);
        cmd.args(args).envs(env.iter().copied());
        let run = Run::from(cmd.output().unwrap());
        assert_no_sign_in_secrets(&run);
        self.endpoints.assert_no_other_service_called();
        run
    }

    /// How many times the browser was opened, and no secret was on its command line.
    fn browser_opened(&self) -> usize {
        let urls = std::fs::read_to_string(&self.opened).unwrap_or_default();
        assert_no_secret("the browser's argv", &urls, &SECRETS);
        urls.lines().count()
    }
}

#[track_caller]
fn assert_no_sign_in_secrets(run: &Run) {
    assert_no_secret("stderr", &run.stderr, &SECRETS);
    for secret in SECRETS {
        assert!(
            !run.stdout.contains(secret),
            "stdout has a secret:\n{}",
            run.stdout
        );
    }
}

fn browser_program() -> bool {
    require_program("curl", "apt-get install curl").is_some()
}

/// `[profile dev]` with `[sso-session corp]`, and connection `prod` signing with it.
fn setup(home: &Home, sso_login: Option<&str>) {
    home.aws_config(&format!(
        "[profile dev]\nsso_session = corp\nsso_account_id = {ACCOUNT_ID}\n\
         sso_role_name = {ROLE_NAME}\nregion = us-east-1\n\n\
         [sso-session corp]\nsso_start_url = {START_URL}\nsso_region = us-east-1\n\
         sso_registration_scopes = sso:account:access\n"
    ));
    let sso_login = sso_login
        .map(|v| format!("sso_login = \"{v}\"\n"))
        .unwrap_or_default();
    home.config(format!(
        "[defaults]\n{sso_login}\n[connections.prod]\nhost = \"{HOST}\"\nuser = \"jane\"\naws_profile = \"dev\"\n"
    ));
}

fn cache_file(home: &Home, id: &str) -> PathBuf {
    home.path()
        .join(".aws/sso/cache")
        .join(format!("{}.json", sha1_hex(id)))
}

/// What an expired `aws sso login` left: a dead access token and no way to refresh it.
fn expired_session(home: &Home) {
    let json = serde_json::json!({
        "startUrl": START_URL,
        "region": "us-east-1",
        "accessToken": EXPIRED_ACCESS_TOKEN,
        "expiresAt": rfc3339(unix_now() - 3600),
    });
    home.write(
        &format!(".aws/sso/cache/{}.json", sha1_hex("corp")),
        &json.to_string(),
    );
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The token cache file holds what botocore and aws-config read, privately.
#[track_caller]
fn assert_token_file(path: &Path, access_token: &str) {
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", path.display());
    let json = read_json(path);
    assert_eq!(json["startUrl"], START_URL);
    assert_eq!(json["region"], "us-east-1");
    assert_eq!(json["accessToken"], access_token);
    assert_eq!(json["refreshToken"], REFRESH_TOKEN);
    assert_eq!(json["clientSecret"], CLIENT_SECRET);
    assert!(json["clientId"].as_str().unwrap().starts_with("client-"));
    for field in ["expiresAt", "registrationExpiresAt"] {
        let at = chrono::DateTime::parse_from_rfc3339(json[field].as_str().unwrap()).unwrap();
        assert!(at.timestamp() > unix_now() + 600, "{field}: {at}");
    }
}

/// botocore (the AWS CLI's and boto3's core) signs a call with profile `dev`: it reads the
/// token file, gets role credentials from the portal with it, and calls STS.
fn botocore_caller_arn(home: &Home, aws: &Aws) -> String {
    let script = "import botocore.session\n\
                  s = botocore.session.Session(profile='dev')\n\
                  print(s.create_client('sts', region_name='us-east-1').get_caller_identity()['Arn'])\n";
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(aws.env())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "botocore failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn botocore_installed() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import botocore"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        let message = "botocore is not installed; install it with: pip install botocore";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
        eprintln!("SKIPPED: {message}");
    }
    ok
}

#[test]
fn login_with_the_browser_writes_a_token_cache_that_botocore_uses() {
    if !browser_program() || !botocore_installed() {
        return;
    }
    let home = Home::new();
    setup(&home, None);
    let aws = Aws::new(&home, Person::Approves, NEW_ACCESS_TOKEN);
    let run = aws.run(&home, &["--verbose", "login", "prod"]);
    run.ok()
        .stderr_has("signed in to AWS IAM Identity Center for AWS profile `dev`");
    assert_eq!(run.stdout, "", "login prints nothing on stdout");
    assert_eq!(aws.browser_opened(), 1);
    let registrations = aws.oidc.registrations();
    assert_eq!(registrations.len(), 1);
    let registration = &registrations[0];
    assert_eq!(registration["clientType"], "public");
    assert_eq!(registration["issuerUrl"], START_URL);
    assert_eq!(
        registration["grantTypes"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(
        registration["scopes"],
        serde_json::json!(["sso:account:access"])
    );
    assert_eq!(aws.oidc.grants(), ["authorization_code"]);
    assert_token_file(&cache_file(&home, "corp"), NEW_ACCESS_TOKEN);
    assert_eq!(botocore_caller_arn(&home, &aws), IDENTITY_CENTER_ARN);
    assert_eq!(
        aws.portal.hits(),
        1,
        "botocore got role credentials with the new token"
    );

    // The registration is reused while it is valid: a second sign-in registers nothing.
    aws.run(&home, &["login", "--aws-profile", "dev"]).ok();
    assert_eq!(aws.oidc.registrations().len(), 1);
    assert_eq!(aws.browser_opened(), 2);
    // And the binary itself signs with the session.
    let token = aws.run(&home, &["pg", "prod"]).ok().token();
    assert!(token.starts_with(HOST), "{token}");
}

#[test]
fn login_with_a_device_code_polls_through_pending_and_slow_down() {
    if !browser_program() || !botocore_installed() {
        return;
    }
    let home = Home::new();
    setup(&home, None);
    let aws = Aws::new(&home, Person::Approves, NEW_ACCESS_TOKEN);
    let run = aws.run(
        &home,
        &["login", "--sso-session", "corp", "--use-device-code"],
    );
    run.ok()
        .stderr_has("ABCD-EFGH")
        .stderr_has("for sso-session `corp`");
    assert_eq!(aws.browser_opened(), 1);
    let device = "urn:ietf:params:oauth:grant-type:device_code";
    assert_eq!(aws.oidc.grants(), [device, device, device]);
    assert_eq!(
        aws.oidc.registrations()[0]["grantTypes"],
        serde_json::json!([device, "refresh_token"])
    );
    assert_token_file(&cache_file(&home, "corp"), NEW_ACCESS_TOKEN);
    assert_eq!(botocore_caller_arn(&home, &aws), IDENTITY_CENTER_ARN);
}

#[test]
fn no_browser_prints_the_url_and_waits_for_it() {
    let home = Home::new();
    setup(&home, None);
    let aws = Aws::with_browser(&home, Person::Approves, NEW_ACCESS_TOKEN, "");
    let run = aws.run_with(
        &home,
        &["login", "prod", "--no-browser"],
        &[("RDSIAM_HELPER_LOGIN_TIMEOUT", "2")],
    );
    run.code(3)
        .stderr_has("/authorize?response_type=code")
        .stderr_has("was not completed in time")
        .stderr_has("rdsiam-helper login --aws-profile dev");
    assert_eq!(aws.browser_opened(), 0, "--no-browser opens nothing");
    assert!(!cache_file(&home, "corp").exists());
}

#[test]
fn denial_and_timeout_exit_3_with_the_reason() {
    if !browser_program() {
        return;
    }
    let home = Home::new();
    setup(&home, Some("browser"));
    expired_session(&home);
    let denied = Aws::new(&home, Person::Denies, NEW_ACCESS_TOKEN);
    denied
        .run(&home, &["login", "prod"])
        .code(3)
        .stderr_has("was denied (access_denied: The user declined)");
    denied
        .run(&home, &["login", "prod", "--use-device-code"])
        .code(3)
        .stderr_has("was denied (AccessDeniedException: The user denied the request)");
    // The GUI's password command: the same reason, exit 3, and no token.
    let run = denied.run(&home, &["pg", "prod"]);
    run.code(3).stderr_has("was denied (access_denied");
    assert_eq!(run.stdout, "");

    // Nobody approves: a browser that opens and is left alone.
    let home = Home::new();
    setup(&home, Some("browser"));
    expired_session(&home);
    let ignored = Aws::with_browser(&home, Person::Approves, NEW_ACCESS_TOKEN, "");
    let started = std::time::Instant::now();
    let run = ignored.run_with(
        &home,
        &["pg", "prod"],
        &[("RDSIAM_HELPER_LOGIN_TIMEOUT", "2")],
    );
    run.code(3).stderr_has("was not completed in time");
    assert!(started.elapsed().as_secs() < 20);
    assert_eq!(ignored.browser_opened(), 1);
}

#[test]
fn a_gui_password_command_signs_in_and_prints_a_token() {
    if !browser_program() {
        return;
    }
    let home = Home::new();
    setup(&home, Some("browser"));
    expired_session(&home);
    let aws = Aws::new(&home, Person::Approves, NEW_ACCESS_TOKEN);
    // TablePlus runs its command through a shell with an environment of its own: HOME, and
    // here the fakes' endpoints and the stand-in browser, which a desktop session provides.
    let mut line = String::from("env -i");
    line.push_str(&format!(" HOME='{}'", home.path().display()));
    for (name, value) in aws.env() {
        line.push_str(&format!(" {name}='{value}'"));
    }
    line.push_str(&format!(" /bin/sh -c '{} pg prod'", binary().display()));
    let run = Run::from(
        Command::new("/bin/sh")
            .arg("-c")
            .arg(&line)
            .output()
            .unwrap(),
    );
    assert_no_sign_in_secrets(&run);
    run.ok().stderr_has("signing in through the browser");
    assert!(run.token().starts_with(HOST), "{}", run.stdout);
    assert_eq!(run.stdout.lines().count(), 1, "only the token on stdout");
    assert_eq!(aws.browser_opened(), 1);
    assert_token_file(&cache_file(&home, "corp"), NEW_ACCESS_TOKEN);

    // Without sso_login = "browser" the same expiry is the old exit 3, naming the fix.
    let home = Home::new();
    setup(&home, None);
    expired_session(&home);
    let aws = Aws::new(&home, Person::Approves, NEW_ACCESS_TOKEN);
    aws.run(&home, &["pg", "prod"])
        .code(3)
        .stderr_has("has expired")
        .stderr_has("rdsiam-helper login --aws-profile dev");
    assert_eq!(aws.browser_opened(), 0);
}

#[test]
fn a_refused_refresh_token_leads_to_a_sign_in() {
    if !browser_program() {
        return;
    }
    let home = Home::new();
    setup(&home, Some("browser"));
    let json = serde_json::json!({
        "startUrl": START_URL,
        "region": "us-east-1",
        "accessToken": EXPIRED_ACCESS_TOKEN,
        "expiresAt": rfc3339(unix_now() - 60),
        "clientId": "client-old",
        "clientSecret": CLIENT_SECRET,
        "registrationExpiresAt": rfc3339(unix_now() + 86400),
        "refreshToken": "aorAAAAAGrevokedRefreshToken",
    });
    home.write(
        &format!(".aws/sso/cache/{}.json", sha1_hex("corp")),
        &json.to_string(),
    );
    let aws = Aws::new(&home, Person::Approves, NEW_ACCESS_TOKEN);
    let run = aws.run(&home, &["token", "prod"]);
    assert!(run.ok().token().starts_with(HOST));
    assert_eq!(aws.oidc.grants(), ["refresh_token", "authorization_code"]);
    assert_eq!(aws.browser_opened(), 1);
    assert_token_file(&cache_file(&home, "corp"), NEW_ACCESS_TOKEN);
}

#[test]
fn ten_concurrent_password_commands_open_the_browser_once() {
    if !browser_program() {
        return;
    }
    let home = Home::new();
    setup(&home, Some("browser"));
    expired_session(&home);
    // A person takes a moment to approve.
    let aws = Aws::with_browser(
        &home,
        Person::Approves,
        NEW_ACCESS_TOKEN,
        "sleep 1; curl -sS -L -o /dev/null \"$1\"",
    );
    let children: Vec<_> = (0..10)
        .map(|_| {
            aws.cmd(&home)
                .args(["pg", "prod"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let run = Run::from(child.wait_with_output().unwrap());
        assert_no_sign_in_secrets(&run);
        assert!(run.ok().token().starts_with(HOST));
    }
    assert_eq!(aws.browser_opened(), 1);
    assert_eq!(aws.oidc.registrations().len(), 1);
}

#[test]
fn refresh_never_opens_a_browser() {
    if !browser_program() {
        return;
    }
    let home = Home::new();
    setup(&home, Some("browser"));
    let aws = Aws::new(&home, Person::Approves, NEW_ACCESS_TOKEN);
    aws.run(&home, &["login", "prod"]).ok();
    aws.run(&home, &["setup", "pgpass", "prod", "--write"]).ok();
    expired_session(&home);
    aws.run(&home, &["cache", "clear"]).ok();
    aws.run(&home, &["refresh", "prod"])
        .code(3)
        .stderr_has("rdsiam-helper login --aws-profile dev");
    assert_eq!(aws.browser_opened(), 1, "only the explicit login opened it");
}

#[test]
fn a_refresh_token_renews_the_session_quietly() {
    if !browser_program() {
        return;
    }
    let home = Home::new();
    setup(&home, Some("browser"));
    let aws = Aws::new(&home, Person::Approves, RENEWED_ACCESS_TOKEN);
    aws.run(&home, &["login", "prod"]).ok();
    // Two minutes left: within the SDKs' five-minute renewal window.
    let path = cache_file(&home, "corp");
    let mut json = read_json(&path);
    json["expiresAt"] = rfc3339(unix_now() + 120).into();
    std::fs::write(&path, json.to_string()).unwrap();
    let token = aws.run(&home, &["pg", "prod"]).ok().token();
    assert!(token.starts_with(HOST));
    assert_eq!(aws.browser_opened(), 1, "no browser for a renewal");
    assert_eq!(aws.oidc.grants(), ["authorization_code", "refresh_token"]);
    assert_eq!(read_json(&path)["accessToken"], RENEWED_ACCESS_TOKEN);
}

#[test]
fn a_redirect_without_our_state_is_ignored() {
    if !browser_program() {
        return;
    }
    let home = Home::new();
    setup(&home, None);
    let aws = Aws::new(&home, Person::ApprovesAfterAForgery, NEW_ACCESS_TOKEN);
    aws.run_with(
        &home,
        &["login", "prod"],
        &[("RDSIAM_HELPER_LOGIN_TIMEOUT", "15")],
    )
    .ok();
    assert_eq!(aws.oidc.grants(), ["authorization_code"]);
    assert_token_file(&cache_file(&home, "corp"), NEW_ACCESS_TOKEN);
}

#[test]
fn a_legacy_profile_signs_in_to_the_start_url_cache_file() {
    if !browser_program() || !botocore_installed() {
        return;
    }
    let home = Home::new();
    home.aws_config(&format!(
        "[profile dev]\nsso_start_url = {START_URL}\nsso_region = us-east-1\n\
         sso_account_id = {ACCOUNT_ID}\nsso_role_name = {ROLE_NAME}\nregion = us-east-1\n"
    ));
    home.config(format!(
        "[connections.prod]\nhost = \"{HOST}\"\nuser = \"jane\"\naws_profile = \"dev\"\n"
    ));
    let aws = Aws::new(&home, Person::Approves, NEW_ACCESS_TOKEN);
    aws.run(&home, &["-v", "login", "prod"]).ok();
    let registration = &aws.oidc.registrations()[0];
    assert_eq!(
        registration["grantTypes"],
        serde_json::json!(["authorization_code"])
    );
    assert!(registration.get("scopes").is_none(), "{registration}");
    assert_token_file(&cache_file(&home, START_URL), NEW_ACCESS_TOKEN);
    assert_eq!(botocore_caller_arn(&home, &aws), IDENTITY_CENTER_ARN);
    assert!(
        aws.run(&home, &["pg", "prod"])
            .ok()
            .token()
            .starts_with(HOST)
    );
}

#[test]
fn bad_targets_are_usage_errors() {
    let home = Home::new();
    setup(&home, None);
    home.aws_config("[profile static]\nregion = us-east-1\n");
    let aws = Aws::new(&home, Person::Approves, NEW_ACCESS_TOKEN);
    aws.run(&home, &["login", "--aws-profile", "static"])
        .code(2)
        .stderr_has("not an IAM Identity Center profile");
    aws.run(&home, &["login", "--aws-profile", "nope"])
        .code(2)
        .stderr_has("`nope` does not exist");
    aws.run(&home, &["login", "--sso-session", "nope"])
        .code(2)
        .stderr_has("sso-session `nope` is not in the AWS config");
    aws.run(&home, &["login"]).code(2);
    home.config("[defaults]\nsso_login = \"sometimes\"\n");
    aws.run(&home, &["pg", "prod"])
        .code(1)
        .stderr_has("unknown sso_login `sometimes`");
    assert_eq!(aws.browser_opened(), 0);
}
