//! A MySQL / MariaDB session through the proxy. The proxy reads the server's greeting first,
//! greets the client as that server (its version, its connection id, so `KILL QUERY` works, its
//! capabilities less TLS and compression), takes the client's handshake with any or no
//! password, then logs in upstream over verified TLS with the token: `mysql_clear_password` as
//! RDS asks for it through an AuthSwitchRequest, `mysql_native_password` or
//! `caching_sha2_password` where a server asks. Then bytes are relayed.
//!
//! Packet payloads are parsed and written by `mysql_common`; only the 4-byte packet header is
//! framed here.

use super::log::Record;
use super::metrics::Failure;
use super::{Refused, Session};
use mysql_common::auth::plugins::caching_sha2_password::scramble_sha256;
use mysql_common::auth::plugins::mysql_native_password::scramble_native;
use mysql_common::constants::CapabilityFlags;
use mysql_common::io::ParseBuf;
use mysql_common::packets::{
    AuthPlugin, AuthSwitchRequest, ErrPacket, HandshakePacket, HandshakeResponse, ServerError,
    SqlState, SslRequest,
};
use mysql_common::proto::MySerialize;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// How long a client has to answer the greeting. Clients answer at once; a silent one holds a
/// real server connection (the greeting is the server's), so it is let go after 10 s, and at
/// most `HANDSHAKES` clients of a listener are in their handshake at a time.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// ER_HANDSHAKE_ERROR: the client's handshake response cannot be read.
const BAD_HANDSHAKE: u16 = 1043;
/// ER_CON_COUNT_ERROR.
const TOO_MANY: u16 = 1040;
/// Clients of one MySQL listener between the server's greeting and their own answer.
pub const HANDSHAKES: usize = 16;
/// Handshake packets are small; a larger one is not MySQL.
const MAX_HANDSHAKE_PACKET: usize = 1 << 20;
/// ER_UNKNOWN_ERROR: the proxy could not reach or log in to the server.
const PROXY_ERROR: u16 = 1105;
/// ER_ACCESS_DENIED_ERROR.
const ACCESS_DENIED: u16 = 1045;

/// What never crosses the proxy toward the client: TLS (loopback is plain), zstd compression
/// (its level byte is not carried by the handshake packets the proxy writes), and flags that
/// only make sense with those. zlib compression (`CLIENT_COMPRESS`) does cross: when the client
/// asks for it and the server offers it, both ends compress the bytes after the login, which
/// the proxy relays as they are.
fn not_for_client() -> CapabilityFlags {
    CapabilityFlags::CLIENT_SSL
        | CapabilityFlags::CLIENT_ZSTD_COMPRESSION_ALGORITHM
        | CapabilityFlags::CLIENT_SSL_VERIFY_SERVER_CERT
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

/// A client refused before any upstream work: an ERR packet in place of the greeting.
pub async fn refuse<S: AsyncWrite + Unpin>(
    mut client: S,
    code: u16,
    state: &[u8; 5],
    reason: &str,
) {
    let _ = write_packet(&mut client, 0, &error_packet(code, state, reason)).await;
}

async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    client: &mut S,
    session: &Session<'_>,
    record: &mut Record,
) -> Result<(), String> {
    record.stage = Failure::Limit;
    let _permit = match session.admit() {
        Ok(permit) => permit,
        Err(reason) => return Err(fail(client, 0, TOO_MANY, b"08004", reason).await),
    };
    let in_handshake = tokio::time::timeout(
        CLIENT_TIMEOUT,
        session.served.handshakes.clone().acquire_owned(),
    )
    .await;
    let Ok(Ok(in_handshake)) = in_handshake else {
        let reason = format!(
            "{HANDSHAKES} other clients of this listener were still in their handshake for {} s",
            CLIENT_TIMEOUT.as_secs()
        );
        return Err(fail(client, 0, TOO_MANY, b"08004", reason).await);
    };
    record.stage = Failure::Credentials;
    let issued = match session.token().await {
        Ok(issued) => issued,
        Err(reason) => return Err(fail(client, 0, PROXY_ERROR, b"HY000", reason).await),
    };
    record.stage = Failure::UpstreamTls;
    let connecting = std::time::Instant::now();
    let shown = session.upstream_name();
    let mut tcp = match super::tls::dial(session.connection(), &shown).await {
        Ok(tcp) => tcp,
        Err(reason) => return Err(fail(client, 0, PROXY_ERROR, b"HY000", reason).await),
    };
    let read_greeting = tokio::time::timeout(super::tls::UPSTREAM_TIMEOUT, read_packet(&mut tcp));
    let (_, greeting_bytes) = match read_greeting.await {
        Ok(read) => read?,
        Err(_) => {
            let reason = format!(
                "{shown} sent no greeting within {} s",
                super::tls::UPSTREAM_TIMEOUT.as_secs()
            );
            return Err(fail(client, 0, PROXY_ERROR, b"HY000", reason).await);
        }
    };
    if greeting_bytes.first() == Some(&0xFF) {
        let _ = write_packet(client, 0, &greeting_bytes).await;
        return Err(format!(
            "the server refused the connection: {}",
            server_error_text(&greeting_bytes)
        ));
    }
    let greeting: HandshakePacket = ParseBuf(&greeting_bytes)
        .parse(())
        .map_err(|e| format!("{shown} sent a greeting that is not MySQL's: {e}"))?;
    if !greeting
        .capabilities()
        .contains(CapabilityFlags::CLIENT_SSL)
    {
        let reason = format!("{shown} does not offer TLS; the proxy sends no token in the clear");
        return Err(fail(client, 0, PROXY_ERROR, b"HY000", reason).await);
    }

    let mut connect_time = connecting.elapsed();
    // The client's side: greeted as the server, with a challenge of the proxy's; its answer
    // matters only when the client must give the local password.
    record.stage = Failure::ClientProtocol;
    let challenge = challenge();
    write_packet(
        client,
        0,
        &serialize(&client_greeting(&greeting, &challenge)),
    )
    .await?;
    let (client_seq, response_bytes) = tokio::time::timeout(CLIENT_TIMEOUT, read_packet(client))
        .await
        .map_err(|_| "the client sent no handshake response".to_string())??;
    let mut reply_seq = client_seq.wrapping_add(1);
    if response_bytes.len() == 32 {
        let reason = "the client asked for TLS; the proxy is plain on loopback: connect with --ssl-mode=DISABLED (MySQL) or --skip-ssl (MariaDB)".to_string();
        return Err(fail(client, reply_seq, PROXY_ERROR, b"08004", reason).await);
    }
    let response: HandshakeResponse = match ParseBuf(&response_bytes).parse(()) {
        Ok(response) => response,
        Err(e) => {
            let reason = format!("the client's handshake response cannot be read: {e}");
            return Err(fail(client, reply_seq, BAD_HANDSHAKE, b"08S01", reason).await);
        }
    };
    if response_bytes.len() < 8 {
        let reason = "the client's handshake response is too short".to_string();
        return Err(fail(client, reply_seq, BAD_HANDSHAKE, b"08S01", reason).await);
    }
    let user = String::from_utf8_lossy(response.user()).into_owned();
    record.user = Some(user.clone());
    record.stage = Failure::RefusedUser;
    if session.needs_password {
        reply_seq = check_local_password(client, session, &response, &challenge, reply_seq).await?;
    }
    drop(in_handshake);
    if !user.is_empty() && user != issued.user.as_str() {
        let reason = format!(
            "this proxy signs in as user '{}' for connection `{}`, not as '{user}'",
            issued.user, session.served.target.name
        );
        return Err(fail(client, reply_seq, ACCESS_DENIED, b"28000", reason).await);
    }

    // The server's side: TLS, then the client's choices with our user and the token.
    let capabilities = upstream_capabilities(&greeting, &response);
    let max_packet = u32::from_le_bytes(response_bytes[4..8].try_into().expect("4 bytes"));
    let ssl = SslRequest::new(capabilities, max_packet, response.collation())
        .with_mariadb_capabilities(
            response.mariadb_ext_capabilities() & greeting.mariadb_ext_capabilities(),
        );
    record.stage = Failure::UpstreamTls;
    let tls_started = std::time::Instant::now();
    write_packet(&mut tcp, 1, &serialize(&ssl)).await?;
    let mut upstream = match session.served.tls.handshake(tcp, &shown).await {
        Ok(upstream) => upstream,
        Err(reason) => return Err(fail(client, reply_seq, PROXY_ERROR, b"HY000", reason).await),
    };
    // TCP and the greeting, then TLS: the wait for the client in between is not the server's.
    connect_time += tls_started.elapsed();
    session.served.series.upstream_connected(connect_time);
    record.stage = Failure::UpstreamAuth;
    let plugin = greeting
        .auth_plugin()
        .map(AuthPlugin::into_owned)
        .unwrap_or(AuthPlugin::MysqlNativePassword);
    let token = issued.token.expose().as_bytes();
    let login = HandshakeResponse::new(
        Some(answer(&plugin, &greeting.nonce(), token)?),
        greeting.server_version_parsed().unwrap_or((8, 0, 0)),
        Some(issued.user.as_bytes()),
        response.db_name(),
        Some(plugin.clone()),
        capabilities,
        response.connect_attributes(),
        max_packet,
    )
    .with_mariadb_ext_capabilities(
        response.mariadb_ext_capabilities() & greeting.mariadb_ext_capabilities(),
    );
    let mut login = serialize(&login);
    // The client's character set, which the constructor would replace with a default.
    login[8] = response.collation();
    write_packet(&mut upstream, 2, &login).await?;
    // Bounded as TCP and TLS are: a server that stalls must not hold the client.
    let signed_in = tokio::time::timeout(
        super::tls::UPSTREAM_TIMEOUT,
        authenticate(&mut upstream, plugin, token),
    )
    .await
    .unwrap_or_else(|_| {
        Err(Refused::Proxy(format!(
            "{shown} did not finish the login within {} s",
            super::tls::UPSTREAM_TIMEOUT.as_secs()
        )))
    });
    match signed_in {
        Ok(ok) => write_packet(client, reply_seq, &ok).await?,
        Err(Refused::Server(packet)) => {
            let _ = write_packet(client, reply_seq, &packet).await;
            return Err(format!(
                "the server refused the login: {}",
                server_error_text(&packet)
            ));
        }
        Err(Refused::Proxy(reason)) => {
            return Err(fail(client, reply_seq, PROXY_ERROR, b"HY000", reason).await);
        }
    }
    record.stage = Failure::Other;
    super::splice(client, &mut upstream, record).await
}

/// The server's greeting as the client sees it: a fresh challenge and no TLS or compression.
fn client_greeting<'a>(
    server: &'a HandshakePacket<'a>,
    challenge: &[u8; 20],
) -> HandshakePacket<'a> {
    let mut scramble_2 = challenge[8..].to_vec();
    scramble_2.push(0);
    let capabilities = (server.capabilities() - not_for_client())
        | CapabilityFlags::CLIENT_PLUGIN_AUTH
        | CapabilityFlags::CLIENT_SECURE_CONNECTION;
    HandshakePacket::new(
        10,
        server.server_version_ref(),
        server.connection_id(),
        challenge[..8].try_into().expect("8 bytes"),
        Some(scramble_2),
        capabilities,
        server.default_collation(),
        server.status_flags(),
        Some(AuthPlugin::MysqlNativePassword.as_bytes()),
    )
    .with_mariadb_ext_capabilities(server.mariadb_ext_capabilities())
}

/// What the client asked for that the server offers, plus what the proxy's own login needs:
/// TLS, 4.1 auth, plugin names, and room for a token longer than 255 bytes.
fn upstream_capabilities(
    greeting: &HandshakePacket<'_>,
    response: &HandshakeResponse<'_>,
) -> CapabilityFlags {
    let offered = greeting.capabilities();
    let needed = CapabilityFlags::CLIENT_SSL
        | CapabilityFlags::CLIENT_PROTOCOL_41
        | CapabilityFlags::CLIENT_SECURE_CONNECTION
        | CapabilityFlags::CLIENT_PLUGIN_AUTH
        | CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA;
    ((response.capabilities() - not_for_client()) | needed) & offered | CapabilityFlags::CLIENT_SSL
}

/// Checks the client's answer to the greeting's challenge against the local password, as
/// `mysql_native_password` computes it; a client that answered with another plugin is first
/// switched to that one. Returns the sequence id for the next packet to the client.
async fn check_local_password<S: AsyncRead + AsyncWrite + Unpin>(
    client: &mut S,
    session: &Session<'_>,
    response: &HandshakeResponse<'_>,
    challenge: &[u8; 20],
    mut seq: u8,
) -> Result<u8, String> {
    let password = session
        .shared
        .access
        .password()
        .map(|p| p.expose().as_bytes());
    let expected = password.and_then(|p| scramble_native(challenge, p));
    let native = response
        .auth_plugin()
        .is_none_or(|p| *p == AuthPlugin::MysqlNativePassword);
    let answer = if native {
        response.scramble_buf().to_vec()
    } else {
        let mut data = challenge.to_vec();
        data.push(0);
        let switch = AuthSwitchRequest::new(AuthPlugin::MysqlNativePassword.as_bytes(), data);
        write_packet(client, seq, &serialize(&switch)).await?;
        let (client_seq, answer) = tokio::time::timeout(CLIENT_TIMEOUT, read_packet(client))
            .await
            .map_err(|_| "the client sent no password".to_string())??;
        seq = client_seq.wrapping_add(1);
        answer
    };
    match expected {
        Some(expected) if super::access::constant_time_eq(&expected, &answer) => Ok(seq),
        _ => {
            let reason = "access denied: the proxy asks for its local password (the content of its --local-password-file)".to_string();
            Err(fail(client, seq, ACCESS_DENIED, b"28000", reason).await)
        }
    }
}

/// Twenty random printable bytes: clients treat the challenge as a C string.
fn challenge() -> [u8; 20] {
    use tokio_rustls::rustls::crypto::aws_lc_rs::default_provider;
    let mut bytes = [0u8; 20];
    default_provider()
        .secure_random
        .fill(&mut bytes)
        .expect("the system's random source");
    bytes.map(|b| 0x21 + b % 0x5e)
}

/// The token as `plugin` wants it, for this challenge.
fn answer(plugin: &AuthPlugin<'_>, nonce: &[u8], token: &[u8]) -> Result<Vec<u8>, String> {
    match plugin {
        AuthPlugin::MysqlClearPassword => {
            let mut data = token.to_vec();
            data.push(0);
            Ok(data)
        }
        AuthPlugin::MysqlNativePassword => Ok(scramble_native(nonce, token)
            .map(|s| s.to_vec())
            .unwrap_or_default()),
        AuthPlugin::CachingSha2Password => {
            let nonce: &[u8; 20] = nonce
                .get(..20)
                .and_then(|n| n.try_into().ok())
                .ok_or("caching_sha2_password sent a short challenge")?;
            Ok(scramble_sha256(nonce, token)
                .map(|s| s.to_vec())
                .unwrap_or_default())
        }
        // Anything else: an empty answer, and the server asks again with a switch request.
        _ => Ok(Vec::new()),
    }
}

/// Follows the server's auth exchange until OK (returned, for the client) or ERR.
async fn authenticate<U: AsyncRead + AsyncWrite + Unpin>(
    upstream: &mut U,
    mut plugin: AuthPlugin<'static>,
    token: &[u8],
) -> Result<Vec<u8>, Refused> {
    loop {
        let (seq, packet) = read_packet(upstream).await?;
        let reply = match packet.first() {
            Some(0x00) => return Ok(packet),
            Some(0xFF) => return Err(Refused::Server(packet)),
            Some(0xFE) => {
                let (switched, data) = auth_switch(&packet);
                plugin = switched;
                answer(&plugin, &data, token)?
            }
            // caching_sha2_password: 3 = the fast path worked, 4 = send the password, which
            // is safe here because the connection is TLS.
            Some(0x01) if plugin == AuthPlugin::CachingSha2Password => match packet.get(1) {
                Some(3) => continue,
                Some(4) => answer(&AuthPlugin::MysqlClearPassword, &[], token)?,
                _ => return Err("caching_sha2_password asked for an RSA key exchange; the connection is TLS, so the server should not".to_string().into()),
            },
            _ => {
                return Err(format!(
                    "the server answered the login with an unexpected packet (first byte {:?})",
                    packet.first()
                )
                .into());
            }
        };
        write_packet(upstream, seq.wrapping_add(1), &reply).await?;
    }
}

/// An AuthSwitchRequest's plugin and challenge. Aurora MySQL's switch to
/// `mysql_clear_password` may end right after the plugin name, with no terminator and no data
/// (sqlx PR #2533): that is taken as the name and an empty challenge.
fn auth_switch(packet: &[u8]) -> (AuthPlugin<'static>, Vec<u8>) {
    match ParseBuf(packet).parse::<AuthSwitchRequest>(()) {
        Ok(switch) => (
            switch.auth_plugin().into_owned(),
            switch.plugin_data().to_vec(),
        ),
        Err(_) => (
            AuthPlugin::from_bytes(&packet[1..]).into_owned(),
            Vec::new(),
        ),
    }
}

fn serialize(packet: &impl MySerialize) -> Vec<u8> {
    let mut buf = Vec::new();
    packet.serialize(&mut buf);
    buf
}

fn error_packet(code: u16, state: &[u8; 5], reason: &str) -> Vec<u8> {
    let message = format!("rdsiam-helper proxy: {reason}");
    serialize(&ErrPacket::Error(ServerError::new(
        code,
        Some(SqlState::new(*state)),
        message.into_bytes(),
    )))
}

async fn fail<S: AsyncWrite + Unpin>(
    client: &mut S,
    seq: u8,
    code: u16,
    state: &[u8; 5],
    reason: String,
) -> String {
    let _ = write_packet(client, seq, &error_packet(code, state, &reason)).await;
    reason
}

fn server_error_text(packet: &[u8]) -> String {
    match ParseBuf(packet).parse::<ErrPacket>(CapabilityFlags::CLIENT_PROTOCOL_41) {
        Ok(ErrPacket::Error(error)) => format!("{} ({})", error.message_str(), error.error_code()),
        _ => "an unreadable error".to_string(),
    }
}

/// One packet: its sequence id and payload.
async fn read_packet<R: AsyncRead + Unpin>(from: &mut R) -> Result<(u8, Vec<u8>), String> {
    let mut header = [0u8; 4];
    from.read_exact(&mut header).await.map_err(|e| {
        format!(
            "the connection closed during the handshake: {}",
            super::tls::io_text(&e)
        )
    })?;
    let length = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
    if length > MAX_HANDSHAKE_PACKET {
        return Err(format!("a handshake packet of {length} bytes: not MySQL"));
    }
    let mut payload = vec![0; length];
    from.read_exact(&mut payload).await.map_err(|e| {
        format!(
            "the connection closed during the handshake: {}",
            super::tls::io_text(&e)
        )
    })?;
    Ok((header[3], payload))
}

async fn write_packet<W: AsyncWrite + Unpin>(
    to: &mut W,
    seq: u8,
    payload: &[u8],
) -> Result<(), String> {
    let length = (payload.len() as u32).to_le_bytes();
    let mut packet = Vec::with_capacity(payload.len() + 4);
    packet.extend_from_slice(&length[..3]);
    packet.push(seq);
    packet.extend_from_slice(payload);
    to.write_all(&packet)
        .await
        .map_err(|e| format!("the connection closed: {e}"))?;
    to.flush()
        .await
        .map_err(|e| format!("the connection closed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aurora_switch_without_terminator_is_clear_password() {
        let (plugin, data) = auth_switch(b"\xfemysql_clear_password");
        assert_eq!(plugin, AuthPlugin::MysqlClearPassword);
        assert!(data.is_empty());
        let (plugin, _) = auth_switch(b"\xfemysql_clear_password\0");
        assert_eq!(plugin, AuthPlugin::MysqlClearPassword);
    }

    #[test]
    fn clear_password_answer_is_the_token_and_a_nul() {
        let data = answer(&AuthPlugin::MysqlClearPassword, &[], b"tok").unwrap();
        assert_eq!(data, b"tok\0");
    }
}
