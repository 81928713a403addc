//! The browser side of a sign-in: opening a URL (the platform's opener, or `$BROWSER` as the
//! AWS CLI honours it), and the one-shot listener on 127.0.0.1 the browser is sent back to.

use crate::error::{Error, Result};
use crate::report;
use std::process::{Command, Stdio};
use std::time::Instant;

/// Opens `url` in the user's browser, or only prints it with `--no-browser`. The URL goes to
/// stderr either way: stdout may be a GUI's password field.
pub fn open(url: &str, open_browser: bool) {
    eprintln!("rdsiam-helper: sign in to AWS IAM Identity Center at:\n  {url}");
    if !open_browser {
        return;
    }
    let command = match std::env::var("BROWSER") {
        Ok(browser) if !browser.trim().is_empty() => from_browser_variable(&browser, url),
        _ => platform_opener(url),
    };
    let Some(mut command) = command else {
        report::warn(format_args!("cannot open a browser; open the URL above"));
        return;
    };
    // The browser's own output must not reach our stdout (a GUI reads it as the password).
    let spawned = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match spawned {
        // Reaped in the background: a browser may run for as long as it likes.
        Ok(mut child) => drop(std::thread::spawn(move || child.wait())),
        Err(err) => report::warn(format_args!(
            "cannot open a browser ({}); open the URL above",
            crate::error::describe_io(&err)
        )),
    }
}

/// `$BROWSER` as Python's webbrowser (and so the AWS CLI) reads it: the first of a
/// `:`-separated list, a `%s` replaced by the URL, else the URL appended.
fn from_browser_variable(browser: &str, url: &str) -> Option<Command> {
    let first = browser.split(':').find(|c| !c.trim().is_empty())?;
    let mut words = shlex::split(first)?;
    if words.iter().any(|w| w.contains("%s")) {
        words = words.iter().map(|w| w.replace("%s", url)).collect();
    } else {
        words.push(url.to_string());
    }
    let mut command = Command::new(words.first()?);
    command.args(&words[1..]);
    Some(command)
}

fn platform_opener(url: &str) -> Option<Command> {
    let mut command = if cfg!(target_os = "macos") {
        Command::new("open")
    } else if cfg!(windows) {
        // The shell's URL handler, as `start` uses, without cmd.exe: it would split the URL
        // at every `&` of the query string.
        let mut handler = Command::new("rundll32");
        handler.arg("url.dll,FileProtocolHandler");
        handler
    } else {
        Command::new("xdg-open")
    };
    command.arg(url);
    Some(command)
}

/// The loopback listener the authorization code comes back to.
pub struct Listener {
    server: tiny_http::Server,
    pub redirect_uri: String,
}

/// What the browser brought back.
pub enum Callback {
    Code(String),
    /// The user (or the portal) refused: the OAuth `error` and its description.
    Refused(String),
}

const CALLBACK_PATH: &str = "/oauth/callback";

impl Listener {
    pub fn bind() -> Result<Listener> {
        let server = tiny_http::Server::http("127.0.0.1:0").map_err(|e| {
            Error::failure(format!(
                "cannot listen on 127.0.0.1 for the sign-in's redirect: {e}"
            ))
            .hint("or sign in with --use-device-code")
        })?;
        let port = server
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .ok_or_else(|| Error::failure("the sign-in listener has no TCP port"))?;
        Ok(Listener {
            server,
            redirect_uri: format!("http://127.0.0.1:{port}{CALLBACK_PATH}"),
        })
    }

    /// Waits until `until` for the one request that carries our `state`. Anything else (a
    /// favicon, a forged or stale redirect) is answered 400 and ignored.
    pub fn wait(&self, state: &str, until: Instant) -> Result<Option<Callback>> {
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let request = self
                .server
                .recv_timeout(left)
                .map_err(|e| Error::failure("the sign-in listener failed").caused_by(e))?;
            let Some(request) = request else {
                return Ok(None);
            };
            let (path, query) = request.url().split_once('?').unwrap_or((request.url(), ""));
            let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect();
            let param = |name: &str| {
                params
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
            };
            if path != CALLBACK_PATH || param("state").as_deref() != Some(state) {
                let _ = request.respond(page(400, "This is not the sign-in you started."));
                continue;
            }
            if let Some(error) = param("error") {
                let reason = match param("error_description") {
                    Some(description) => format!("{error}: {description}"),
                    None => error,
                };
                let _ = request.respond(page(200, "Sign-in refused. You can close this window."));
                return Ok(Some(Callback::Refused(one_line(&reason))));
            }
            let Some(code) = param("code") else {
                let _ = request.respond(page(400, "The redirect carries no authorization code."));
                continue;
            };
            let _ = request.respond(page(
                200,
                "Signed in to AWS. You can close this window and return to your database client.",
            ));
            return Ok(Some(Callback::Code(code)));
        }
    }
}

fn page(status: u16, text: &str) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let body = format!(
        "<!doctype html><html><head><title>rdsiam-helper</title></head><body><p>{text}</p></body></html>"
    );
    let html = tiny_http::Header::from_bytes("Content-Type", "text/html; charset=utf-8")
        .expect("a valid header");
    tiny_http::Response::from_string(body)
        .with_status_code(status)
        .with_header(html)
}

/// A reason from a redirect, bounded and printable: it is someone else's text.
pub fn one_line(text: &str) -> String {
    let text: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    text
}

#[cfg(test)]
mod tests {
    use super::from_browser_variable;

    fn argv(browser: &str) -> Vec<String> {
        let command = from_browser_variable(browser, "http://x/a?b=1&c=2").unwrap();
        std::iter::once(command.get_program())
            .chain(command.get_args())
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn browser_variable_is_read_as_python_webbrowser_reads_it() {
        assert_eq!(argv("firefox"), ["firefox", "http://x/a?b=1&c=2"]);
        assert_eq!(
            argv("'/opt/my browser/run' --new-window"),
            ["/opt/my browser/run", "--new-window", "http://x/a?b=1&c=2"]
        );
        assert_eq!(
            argv("chromium --app=%s"),
            ["chromium", "--app=http://x/a?b=1&c=2"]
        );
        assert_eq!(argv(":w3m:lynx"), ["w3m", "http://x/a?b=1&c=2"]);
        assert!(from_browser_variable(" : ", "u").is_none());
    }
}
