//! A PostgreSQL session through the proxy. The client side is plain on loopback (SSLRequest and
//! GSSENCRequest are answered 'N'); the proxy forwards the startup parameters over verified TLS,
//! answers the server's password request with the token (cleartext as RDS asks, MD5 or
//! SCRAM-SHA-256 where a server asks for them), hands the client a cancel key of its own, and
//! then copies bytes both ways.
//!
//! Messages toward the server and from it are written and parsed by `postgres-protocol`; it has
//! no server side, so the few messages the proxy itself sends a client (ErrorResponse,
//! AuthenticationOk, NegotiateProtocolVersion) and the startup packet it reads are framed here.

use super::log::Record;
use super::metrics::Failure;
use super::pool::{Found, Server, Upstream};
use super::{Negotiation, Refused, Session};
use crate::issuer::Issued;
use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::{md5_hash, sasl};
use postgres_protocol::message::{backend, frontend};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const SSL_REQUEST: i32 = 80877103;
const GSSENC_REQUEST: i32 = 80877104;
const CANCEL_REQUEST: i32 = 80877102;
/// libpq's own limit for a startup packet.
const MAX_STARTUP: usize = 10_000;
/// Authentication and start-up messages are small; anything larger is not PostgreSQL.
const MAX_SETUP_MESSAGE: usize = 1 << 20;
/// How long a client has to send its startup packet (and its password, when the proxy asks).
/// Clients send them at once; a silent one holds only its socket, and since only the owner
/// (or a holder of the local password) gets this far, 10 s is plenty and bounds what a stuck
/// program of the owner's can hold.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a cancel key handed to a client leads: the server's own key for its backend.
#[derive(Debug, Clone)]
pub struct CancelTarget {
    listener: String,
    process_id: i32,
    secret_key: i32,
}

pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut client: S,
    session: &Session<'_>,
    record: &mut Record,
) {
    if let Err(reason) = run(&mut client, session, record).await {
        record.fail(reason);
    }
}

/// A client refused before any upstream work: its startup is read, then an ErrorResponse.
pub async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(mut client: S, code: &str, reason: &str) {
    if let Ok(Ok(Startup::Session { .. })) =
        tokio::time::timeout(CLIENT_TIMEOUT, startup(&mut client)).await
    {
        let _ = client.write_all(&error_response(code, reason)).await;
    }
}

async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    client: &mut S,
    session: &Session<'_>,
    record: &mut Record,
) -> Result<(), String> {
    let started = tokio::time::timeout(CLIENT_TIMEOUT, startup(client))
        .await
        .map_err(|_| "the client sent no startup message".to_string())??;
    let (params, minor) = match started {
        Startup::Cancel {
            process_id,
            secret_key,
        } => {
            record.what = Some("cancel");
            return cancel(session, process_id, secret_key).await;
        }
        Startup::Session { params, minor } => (params, minor),
    };
    record.stage = Failure::Limit;
    let _permit = match session.admit() {
        Ok(permit) => permit,
        Err(reason) => return Err(fail(client, "53300", reason).await),
    };
    record.stage = Failure::RefusedUser;
    let user = params
        .iter()
        .find(|(k, _)| k == b"user")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    record.user = Some(String::from_utf8_lossy(&user).into_owned());
    if session.needs_password {
        check_local_password(client, session).await?;
    }
    record.stage = Failure::Credentials;
    let issued = match session.token().await {
        Ok(issued) => issued,
        Err(reason) => return Err(fail(client, "08001", reason).await),
    };
    record.stage = Failure::RefusedUser;
    if user != issued.user.as_bytes() {
        let reason = format!(
            "this proxy signs in as user \"{}\" for connection `{}`, not as \"{}\"; connect as \"{}\"",
            issued.user,
            session.served.target.name,
            String::from_utf8_lossy(&user),
            issued.user
        );
        return Err(fail(client, "28000", reason).await);
    }
    let unknown_options: Vec<String> = params
        .iter()
        .filter(|(k, _)| k.starts_with(b"_pq_."))
        .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
        .collect();
    let forwarded: Vec<_> = params
        .iter()
        .filter(|(k, _)| !k.starts_with(b"_pq_."))
        .collect();
    let startup = startup_message(&forwarded);
    let mut greeting = Vec::new();
    if minor != 0 || !unknown_options.is_empty() {
        greeting.extend(negotiate_protocol_version(&unknown_options));
    }
    // AuthenticationOk: the client's login is the proxy's, already done.
    greeting.extend([b'R', 0, 0, 0, 8, 0, 0, 0, 0]);
    // A replication connection speaks another protocol after the login: never kept.
    let pool = session
        .served
        .pool
        .as_ref()
        .filter(|_| !params.iter().any(|(k, _)| k == b"replication"));
    let found = pool.and_then(|pool| pool.take(&startup));
    let (mut server, cancel_key) = match found {
        Some(found) => {
            record.what = Some("reused");
            record.stage = Failure::Other;
            let series = &session.served.series;
            series.reused();
            if let Some(pool) = pool {
                series.parked(pool.parked());
            }
            reuse(client, session, found, greeting).await?
        }
        None => sign_in(client, session, record, &issued, startup, greeting).await?,
    };
    record.stage = Failure::Other;
    let Some(pool) = pool else {
        return super::splice(client, &mut server.upstream, record).await;
    };
    let ended = super::relay::relay(client, &mut server.upstream, record).await?;
    drop(cancel_key);
    if ended == super::relay::Ended::Idle && !*session.shared.stopping.borrow() {
        // The client is done: it need not wait for the reset.
        let _ = client.shutdown().await;
        let resetting = pool.resetting(&server);
        if reset(&mut server).await.is_ok() {
            resetting.done(server);
            session.served.series.parked(pool.parked());
        }
    }
    Ok(())
}

/// A kept server connection: the client is greeted as the server greeted the first one, with
/// a cancel key of its own for the same backend. A connection still being reset is waited for
/// after the greeting, so the client reads it while the reset finishes; a reset that changed a
/// parameter reports it as the server would (ParameterStatus may come at any time).
async fn reuse<'a, S: AsyncRead + AsyncWrite + Unpin>(
    client: &mut S,
    session: &Session<'a>,
    found: Found,
    mut greeting: Vec<u8>,
) -> Result<(Server, Option<CancelKey<'a>>), String> {
    let (parameters, backend) = match &found {
        Found::Ready(server) => (server.parameters.clone(), server.backend),
        Found::Claimed(claim) => (claim.parameters.clone(), claim.backend),
    };
    let key = CancelKey::register(session, backend.0, backend.1);
    for parameter in parameters.iter() {
        greeting.extend(parameter);
    }
    greeting.extend(backend_key_data(key.key));
    greeting.extend([b'Z', 0, 0, 0, 5, b'I']);
    write(client, &greeting).await?;
    let server = match found {
        Found::Ready(server) => *server,
        Found::Claimed(claim) => {
            let Some(server) = claim.server().await else {
                let reason = "the server connection kept for this client failed its reset (the server closed it); connect again".to_string();
                return Err(fail(client, "08006", reason).await);
            };
            if !std::sync::Arc::ptr_eq(&server.parameters, &parameters) {
                let changed: Vec<u8> = server
                    .parameters
                    .iter()
                    .filter(|p| !parameters.contains(p))
                    .flatten()
                    .copied()
                    .collect();
                if !changed.is_empty() {
                    write(client, &changed).await?;
                }
            }
            server
        }
    };
    Ok((server, Some(key)))
}

/// A new server connection for this startup packet: TCP, TLS, the token, and the server's
/// start-up messages passed to the client until ReadyForQuery.
async fn sign_in<'a, S: AsyncRead + AsyncWrite + Unpin>(
    client: &mut S,
    session: &Session<'a>,
    record: &mut Record,
    issued: &Issued,
    startup: Vec<u8>,
    greeting: Vec<u8>,
) -> Result<(Server, Option<CancelKey<'a>>), String> {
    record.stage = Failure::UpstreamTls;
    let mut upstream = match open(session).await {
        Ok(upstream) => upstream,
        Err(reason) => return Err(fail(client, "08001", reason).await),
    };
    let opened = std::time::Instant::now();
    record.stage = Failure::UpstreamAuth;
    write(&mut upstream, &startup).await?;
    // The server has as long to log us in as to accept TCP and TLS: a server that stalls
    // must not hold the client for as long as it likes.
    let signed_in = tokio::time::timeout(
        super::tls::UPSTREAM_TIMEOUT,
        authenticate(&mut upstream, issued),
    )
    .await
    .unwrap_or_else(|_| {
        Err(Refused::Proxy(format!(
            "{} did not finish the login within {} s",
            session.upstream_name(),
            super::tls::UPSTREAM_TIMEOUT.as_secs()
        )))
    });
    match signed_in {
        Ok(()) => {}
        Err(Refused::Server(frame)) => {
            let reason = server_error_text(&frame);
            let _ = client.write_all(&frame).await;
            return Err(format!("the server refused the login: {reason}"));
        }
        Err(Refused::Proxy(reason)) => return Err(fail(client, "08001", reason).await),
    }
    let mut server = Server {
        upstream,
        startup: startup.into(),
        parameters: std::sync::Arc::new(Vec::new()),
        backend: (0, 0),
        opened,
    };
    let ready = tokio::time::timeout(
        super::tls::UPSTREAM_TIMEOUT,
        relay_until_ready(&mut server, client, session, greeting),
    )
    .await;
    match ready {
        Ok(result) => Ok((server, result?)),
        Err(_) => {
            let reason = format!(
                "{} did not become ready for queries within {} s",
                session.upstream_name(),
                super::tls::UPSTREAM_TIMEOUT.as_secs()
            );
            Err(fail(client, "08001", reason).await)
        }
    }
}

/// `DISCARD ALL` on a connection whose client left: what the next client finds is a session
/// as fresh as a new login's. Anything but a clean answer, in time, and it is not kept.
async fn reset(server: &mut Server) -> Result<(), String> {
    tokio::time::timeout(Duration::from_secs(5), async {
        let mut buf = BytesMut::new();
        frontend::query("DISCARD ALL", &mut buf).map_err(|e| e.to_string())?;
        write(&mut server.upstream, &buf).await?;
        loop {
            let frame = read_frame(&mut server.upstream).await?;
            match frame[0] {
                // RESET ALL reports the parameters it put back.
                b'S' => server.set_parameter(frame),
                b'Z' if frame.get(5) == Some(&b'I') => return Ok(()),
                b'E' | b'Z' => return Err(server_error_text(&frame)),
                _ => {}
            }
        }
    })
    .await
    .map_err(|_| "the server did not answer DISCARD ALL in time".to_string())?
}

fn backend_key_data((process_id, secret_key): (i32, i32)) -> Vec<u8> {
    let mut frame = vec![b'K', 0, 0, 0, 12];
    frame.extend(process_id.to_be_bytes());
    frame.extend(secret_key.to_be_bytes());
    frame
}

/// Asks the client for a password (cleartext: the client side is loopback or a private
/// socket) and checks it against the local password.
async fn check_local_password<S: AsyncRead + AsyncWrite + Unpin>(
    client: &mut S,
    session: &Session<'_>,
) -> Result<(), String> {
    // AuthenticationCleartextPassword.
    write(client, &[b'R', 0, 0, 0, 8, 0, 0, 0, 3]).await?;
    let given = tokio::time::timeout(CLIENT_TIMEOUT, password_message(client))
        .await
        .map_err(|_| "the client sent no password".to_string())??;
    if session.shared.access.password_matches(&given) {
        return Ok(());
    }
    let reason = "password authentication failed: the proxy asks for its local password (the content of its --local-password-file)".to_string();
    Err(fail(client, "28P01", reason).await)
}

/// A PasswordMessage: `p`, its length, the password and a NUL.
async fn password_message<S: AsyncRead + Unpin>(client: &mut S) -> Result<Vec<u8>, String> {
    let left = |e: std::io::Error| format!("the client left before its password: {e}");
    let kind = client.read_u8().await.map_err(left)?;
    let length = client.read_i32().await.map_err(left)?;
    if kind != b'p' || !(5..=1024).contains(&length) {
        return Err("the client did not answer the password request".to_string());
    }
    let mut body = vec![0; length as usize - 4];
    client.read_exact(&mut body).await.map_err(left)?;
    if body.last() == Some(&0) {
        body.pop();
    }
    Ok(body)
}

/// The StartupMessage toward the server, with the client's parameters byte for byte:
/// `postgres-protocol`'s writer takes `&str`, and a client's `application_name` or
/// `client_encoding`-dependent values need not be UTF-8.
fn startup_message(params: &[&(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut body = 196608i32.to_be_bytes().to_vec();
    for (key, value) in params {
        body.extend(key.iter().filter(|b| **b != 0));
        body.push(0);
        body.extend(value.iter().filter(|b| **b != 0));
        body.push(0);
    }
    body.push(0);
    let mut message = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    message.extend(body);
    message
}

enum Startup {
    Cancel {
        process_id: i32,
        secret_key: i32,
    },
    Session {
        params: Vec<(Vec<u8>, Vec<u8>)>,
        minor: u16,
    },
}

/// Reads the client's startup packet, answering SSLRequest and GSSENCRequest with 'N': the
/// client side stays plain, on loopback or a private socket.
async fn startup<S: AsyncRead + AsyncWrite + Unpin>(client: &mut S) -> Result<Startup, String> {
    loop {
        let length = client
            .read_i32()
            .await
            .map_err(|e| format!("the client left before its startup message: {e}"))?;
        if !(8..=MAX_STARTUP as i32).contains(&length) {
            return Err(format!(
                "a startup packet of {length} bytes: not PostgreSQL"
            ));
        }
        let mut body = vec![0; length as usize - 4];
        client
            .read_exact(&mut body)
            .await
            .map_err(|e| format!("the client's startup message was cut short: {e}"))?;
        let code = i32::from_be_bytes(body[..4].try_into().expect("4 bytes"));
        match code {
            SSL_REQUEST | GSSENC_REQUEST => client
                .write_all(b"N")
                .await
                .map_err(|e| format!("the client left: {e}"))?,
            CANCEL_REQUEST if body.len() == 12 => {
                return Ok(Startup::Cancel {
                    process_id: i32::from_be_bytes(body[4..8].try_into().expect("4 bytes")),
                    secret_key: i32::from_be_bytes(body[8..12].try_into().expect("4 bytes")),
                });
            }
            code if code >> 16 == 3 => {
                return Ok(Startup::Session {
                    params: parameters(&body[4..]),
                    minor: (code & 0xffff) as u16,
                });
            }
            code => {
                let reason = format!(
                    "unsupported frontend protocol {}.{}: the proxy speaks 3.0",
                    code >> 16,
                    code & 0xffff
                );
                let _ = client.write_all(&error_response("08P01", &reason)).await;
                return Err(reason);
            }
        }
    }
}

/// `key\0value\0...\0`, as the startup packet carries them, as bytes: they are forwarded
/// unchanged, whatever their encoding.
fn parameters(bytes: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut words = bytes.split(|b| *b == 0).map(<[u8]>::to_vec);
    let mut params = Vec::new();
    while let (Some(key), Some(value)) = (words.next(), words.next()) {
        if key.is_empty() {
            break;
        }
        params.push((key, value));
    }
    params
}

/// TCP to the endpoint (or its tunnel), then TLS verified against the endpoint's name.
async fn open(session: &Session<'_>) -> Result<Upstream, String> {
    let started = std::time::Instant::now();
    let upstream = open_untimed(session).await?;
    session.served.series.upstream_connected(started.elapsed());
    Ok(upstream)
}

async fn open_untimed(session: &Session<'_>) -> Result<Upstream, String> {
    let shown = session.upstream_name();
    let mut tcp = super::tls::dial(session.connection(), &shown).await?;
    if session.served.target.negotiation == Negotiation::Postgres {
        let mut buf = BytesMut::new();
        frontend::ssl_request(&mut buf);
        tcp.write_all(&buf)
            .await
            .map_err(|e| format!("{shown} closed the connection: {}", super::tls::io_text(&e)))?;
        let answer = tcp
            .read_u8()
            .await
            .map_err(|e| format!("{shown} closed the connection: {}", super::tls::io_text(&e)))?;
        if answer != b'S' {
            return Err(format!(
                "{shown} does not offer TLS; the proxy sends no token in the clear"
            ));
        }
    }
    session.served.tls.handshake(tcp, &shown).await
}

/// Answers the server's authentication requests with the token until AuthenticationOk.
async fn authenticate(upstream: &mut Upstream, issued: &Issued) -> Result<(), Refused> {
    let token = issued.token.expose().as_bytes();
    let mut scram: Option<sasl::ScramSha256> = None;
    loop {
        let frame = read_frame(upstream).await?;
        if frame[0] == b'E' {
            return Err(Refused::Server(frame));
        }
        if frame[0] != b'R' {
            // NoticeResponse or NegotiateProtocolVersion before authentication: nothing to do.
            continue;
        }
        let mut buf = BytesMut::new();
        let message = backend::Message::parse(&mut BytesMut::from(&frame[..]))
            .map_err(|e| format!("the server sent a malformed message: {e}"))?
            .ok_or("the server sent a truncated message")?;
        match message {
            backend::Message::AuthenticationOk => return Ok(()),
            backend::Message::AuthenticationCleartextPassword => {
                frontend::password_message(token, &mut buf).map_err(|e| e.to_string())?;
            }
            backend::Message::AuthenticationMd5Password(body) => {
                let hash = md5_hash(issued.user.as_bytes(), token, body.salt());
                frontend::password_message(hash.as_bytes(), &mut buf).map_err(|e| e.to_string())?;
            }
            backend::Message::AuthenticationSasl(body) => {
                let offers_scram = body
                    .mechanisms()
                    .any(|m| Ok(m == sasl::SCRAM_SHA_256))
                    .map_err(|e| e.to_string())?;
                if !offers_scram {
                    return Err(
                        "the server asks for a SASL mechanism other than SCRAM-SHA-256"
                            .to_string()
                            .into(),
                    );
                }
                let client = sasl::ScramSha256::new(token, sasl::ChannelBinding::unsupported());
                frontend::sasl_initial_response(sasl::SCRAM_SHA_256, client.message(), &mut buf)
                    .map_err(|e| e.to_string())?;
                scram = Some(client);
            }
            backend::Message::AuthenticationSaslContinue(body) => {
                let client = scram.as_mut().ok_or("SASL continue without a SASL start")?;
                client
                    .update(body.data())
                    .map_err(|e| format!("SCRAM: {e}"))?;
                frontend::sasl_response(client.message(), &mut buf).map_err(|e| e.to_string())?;
            }
            backend::Message::AuthenticationSaslFinal(body) => {
                let mut client = scram.take().ok_or("SASL final without a SASL start")?;
                client
                    .finish(body.data())
                    .map_err(|e| format!("SCRAM: the server's proof did not verify: {e}"))?;
                continue;
            }
            _ => {
                return Err("the server asks for an authentication method the proxy cannot answer with a token (GSS, SSPI or Kerberos)".to_string().into());
            }
        }
        write(upstream, &buf).await?;
    }
}

/// Passes the server's start-up messages to the client until ReadyForQuery, swapping the
/// backend's cancel key for one of the proxy's (so a CancelRequest comes to the proxy, which
/// knows the backend's real key). The returned guard forgets the key when the session ends.
async fn relay_until_ready<'a, S: AsyncWrite + Unpin>(
    server: &mut Server,
    client: &mut S,
    session: &Session<'a>,
    mut out: Vec<u8>,
) -> Result<Option<CancelKey<'a>>, String> {
    let mut key = None;
    loop {
        let mut frame = read_frame(&mut server.upstream).await?;
        match frame[0] {
            b'K' if frame.len() == 13 => {
                let process_id = i32::from_be_bytes(frame[5..9].try_into().expect("4 bytes"));
                let secret_key = i32::from_be_bytes(frame[9..13].try_into().expect("4 bytes"));
                server.backend = (process_id, secret_key);
                let ours = CancelKey::register(session, process_id, secret_key);
                frame[9..13].copy_from_slice(&ours.key.1.to_be_bytes());
                key = Some(ours);
            }
            b'S' => server.set_parameter(frame.clone()),
            b'E' => {
                let reason = server_error_text(&frame);
                out.extend(frame);
                let _ = client.write_all(&out).await;
                return Err(format!("the server ended the session: {reason}"));
            }
            b'Z' => {
                out.extend(frame);
                write(client, &out).await?;
                return Ok(key);
            }
            _ => {}
        }
        out.extend(frame);
    }
}

/// A cancel key handed to a client: the backend's process id (shown to users as it is) and a
/// random secret of the proxy's.
struct CancelKey<'a> {
    shared: &'a super::Shared,
    key: (i32, i32),
}

impl<'a> CancelKey<'a> {
    fn register(session: &Session<'a>, process_id: i32, secret_key: i32) -> CancelKey<'a> {
        let mut cancels = session.shared.cancels.lock().expect("cancel map");
        let key = loop {
            let key = (process_id, random_i32());
            if !cancels.contains_key(&key) {
                break key;
            }
        };
        cancels.insert(
            key,
            CancelTarget {
                listener: session.served.target.name.to_string(),
                process_id,
                secret_key,
            },
        );
        CancelKey {
            shared: session.shared,
            key,
        }
    }
}

impl Drop for CancelKey<'_> {
    fn drop(&mut self) {
        if let Ok(mut cancels) = self.shared.cancels.lock() {
            cancels.remove(&self.key);
        }
    }
}

/// A cancel key's secret: from the system's source, as a server's own are, and without
/// building a TLS crypto provider (its cipher-suite lists) for four bytes a session.
fn random_i32() -> i32 {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).expect("the system's random source");
    i32::from_be_bytes(bytes)
}

/// Routes a CancelRequest to the backend the key was handed out for, over a TLS connection of
/// its own (the server takes cancels the way it takes sessions).
async fn cancel(session: &Session<'_>, process_id: i32, secret_key: i32) -> Result<(), String> {
    let target = session
        .shared
        .cancels
        .lock()
        .expect("cancel map")
        .get(&(process_id, secret_key))
        .cloned()
        .filter(|t| t.listener == *session.served.target.name)
        .ok_or_else(|| format!("a CancelRequest for backend {process_id} with a key this proxy did not hand out: ignored"))?;
    let mut upstream = open(session).await?;
    let mut buf = BytesMut::new();
    frontend::cancel_request(target.process_id, target.secret_key, &mut buf);
    write(&mut upstream, &buf).await?;
    // The server closes the connection once it has read the request.
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), upstream.read_to_end(&mut rest)).await;
    Ok(())
}

/// One backend message, its type byte and length included.
async fn read_frame(upstream: &mut Upstream) -> Result<Vec<u8>, String> {
    let mut header = [0u8; 5];
    upstream.read_exact(&mut header).await.map_err(|e| {
        format!(
            "the server closed the connection: {}",
            super::tls::io_text(&e)
        )
    })?;
    let length = i32::from_be_bytes(header[1..5].try_into().expect("4 bytes"));
    if !(4..=MAX_SETUP_MESSAGE as i32).contains(&length) {
        return Err(format!(
            "the server sent a message of {length} bytes: not PostgreSQL"
        ));
    }
    let mut frame = header.to_vec();
    frame.resize(length as usize + 1, 0);
    upstream.read_exact(&mut frame[5..]).await.map_err(|e| {
        format!(
            "the server closed the connection: {}",
            super::tls::io_text(&e)
        )
    })?;
    Ok(frame)
}

async fn write<W: AsyncWrite + Unpin>(to: &mut W, bytes: &[u8]) -> Result<(), String> {
    to.write_all(bytes)
        .await
        .map_err(|e| format!("the connection closed: {e}"))?;
    to.flush()
        .await
        .map_err(|e| format!("the connection closed: {e}"))
}

/// Sends the client an ErrorResponse and gives the reason back for the log.
async fn fail<S: AsyncWrite + Unpin>(client: &mut S, code: &str, reason: String) -> String {
    let _ = client.write_all(&error_response(code, &reason)).await;
    let _ = client.flush().await;
    reason
}

/// A FATAL ErrorResponse from the proxy, marked as the proxy's so nobody hunts for it in the
/// server's log.
fn error_response(code: &str, reason: &str) -> Vec<u8> {
    let message = format!("rdsiam-helper proxy: {reason}");
    let mut body = Vec::new();
    for (field, value) in [
        (b'S', "FATAL"),
        (b'V', "FATAL"),
        (b'C', code),
        (b'M', message.as_str()),
    ] {
        body.push(field);
        body.extend(value.replace('\0', " ").as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut frame = vec![b'E'];
    frame.extend(((body.len() + 4) as i32).to_be_bytes());
    frame.extend(body);
    frame
}

/// NegotiateProtocolVersion: the proxy speaks 3.0 and none of the `_pq_.` options.
fn negotiate_protocol_version(unknown: &[String]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(0i32.to_be_bytes());
    body.extend((unknown.len() as i32).to_be_bytes());
    for option in unknown {
        body.extend(option.as_bytes());
        body.push(0);
    }
    let mut frame = vec![b'v'];
    frame.extend(((body.len() + 4) as i32).to_be_bytes());
    frame.extend(body);
    frame
}

/// The message field of a server's ErrorResponse, for the log.
fn server_error_text(frame: &[u8]) -> String {
    let parsed = backend::Message::parse(&mut BytesMut::from(frame));
    let Ok(Some(backend::Message::ErrorResponse(body))) = parsed else {
        return "an unreadable error".to_string();
    };
    let mut fields = body.fields();
    let mut code = String::new();
    let mut message = String::new();
    while let Ok(Some(field)) = fields.next() {
        match field.type_() {
            b'C' => code = String::from_utf8_lossy(field.value_bytes()).into_owned(),
            b'M' => message = String::from_utf8_lossy(field.value_bytes()).into_owned(),
            _ => {}
        }
    }
    format!("{message} ({code})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn startup_parameters_are_read_in_order() {
        let params = parameters(b"user\0jane\0application_name\0caf\xe9\0\0");
        assert_eq!(
            params,
            vec![
                (b"user".to_vec(), b"jane".to_vec()),
                (b"application_name".to_vec(), b"caf\xe9".to_vec())
            ]
        );
        let refs: Vec<_> = params.iter().collect();
        let message = startup_message(&refs);
        assert_eq!(&message[8..], b"user\0jane\0application_name\0caf\xe9\0\0");
    }

    #[test]
    fn an_error_response_parses_back() {
        let frame = error_response("28000", "no");
        assert_eq!(server_error_text(&frame), "rdsiam-helper proxy: no (28000)");
    }
}
