//! `ca install [--url URL] [--path PATH]`: downloads the RDS global CA bundle, checks that it
//! parses and holds certificates, and replaces the old file atomically (0644). A broken or
//! partial download leaves the old bundle in place.

use crate::ca_bundle;
use crate::clients::{CA_BUNDLE_URL, DEFAULT_CA_BUNDLE};
use crate::config::expand_home;
use crate::error::{Error, Result};
use crate::files;
use crate::secret::Contents;
use http_body_util::{BodyExt, Empty, Limited};
use std::path::Path;

/// The real bundle is about 160 KB; anything far larger is not it.
const MAX_BYTES: usize = 4 * 1024 * 1024;
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

pub fn install(url: Option<&str>, path: Option<&Path>) -> Result<i32> {
    let url = url.unwrap_or(CA_BUNDLE_URL);
    let uri = check_url(url)?;
    let path = match path {
        Some(path) => expand_home(path),
        None => expand_home(Path::new(DEFAULT_CA_BUNDLE)),
    };
    let bytes = download(&uri).map_err(|problem| {
        Error::failure(format!("could not download {url}: {problem}"))
            .hint(format!("{} was left as it was", path.display()))
    })?;
    let certificates = ca_bundle::parse(&bytes).map_err(|problem| {
        Error::failure(format!(
            "the download from {url} is not a CA bundle: {problem}"
        ))
        .hint(format!("{} was left as it was", path.display()))
    })?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    }
    // It parsed as PEM, so it is text.
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::failure(format!("the download from {url} is not text"))
            .hint(format!("{} was left as it was", path.display()))
    })?;
    files::replace(&path, &Contents::Plain(text))?;
    // A CA bundle is public; clients run by other users (a service) may need to read it.
    crate::platform::privacy::make_public(&path)
        .map_err(|e| Error::io("set the mode of", &path, e))?;
    eprintln!(
        "rdsiam-helper: wrote {} ({} certificates)",
        path.display(),
        certificates.len()
    );
    Ok(0)
}

/// https anywhere; plain http only to a loopback address (the tests' local server).
fn check_url(url: &str) -> Result<hyper::Uri> {
    let uri: hyper::Uri = url.parse().map_err(|_| {
        Error::usage("--url: not a URL").hint("e.g. --url https://HOST/global-bundle.pem")
    })?;
    let loopback = matches!(
        uri.host(),
        Some("127.0.0.1" | "localhost" | "[::1]" | "::1")
    );
    match uri.scheme_str() {
        Some("https") => Ok(uri),
        Some("http") if loopback => Ok(uri),
        _ => Err(
            Error::usage("--url: the CA bundle is only downloaded over https")
                .hint("plain http is accepted only from a loopback address (127.0.0.1)"),
        ),
    }
}

fn download(uri: &hyper::Uri) -> std::result::Result<Vec<u8>, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        tokio::time::timeout(TIMEOUT, fetch(uri.clone()))
            .await
            .map_err(|_| "timed out".to_string())?
    })
}

async fn fetch(uri: hyper::Uri) -> std::result::Result<Vec<u8>, String> {
    // The SDK's own TLS stack (rustls with the platform's roots), not a second one.
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| format!("no trusted root certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, Empty<hyper::body::Bytes>>(https);
    let response = client.get(uri).await.map_err(|e| describe(&e))?;
    if !response.status().is_success() {
        return Err(format!("the server answered {}", response.status()));
    }
    let expected = response
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let body = Limited::new(response.into_body(), MAX_BYTES)
        .collect()
        .await
        .map_err(|e| format!("the download broke off ({e})"))?
        .to_bytes();
    if expected.is_some_and(|n| n != body.len()) {
        return Err("the download broke off before its end".to_string());
    }
    Ok(body.to_vec())
}

/// The innermost cause: hyper-util's outer error says only "client error (Connect)".
fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let chain: Vec<String> = std::iter::successors(Some(err), |e| e.source())
        .map(|e| e.to_string())
        .collect();
    chain.last().cloned().unwrap_or_default()
}
