//! `rdsiam-helper proxy`: a listener per connection on loopback. A client connects with no
//! password and no TLS; the proxy opens verified TLS to the database, answers its password
//! request with the cached token, and from then on copies bytes both ways.
//!
//! The only place that runs a tokio runtime for long: every other command stays on the
//! runtime-free hot path (`main` starts none).

pub mod access;
mod framing;
mod health;
mod local;
mod log;
mod metrics;
mod mysql;
mod peer;
mod pool;
mod postgres;
mod relay;
mod tls;

use crate::config::Connection;
use crate::error::{Error, Result};
use crate::issuer::{self, Issued};
use crate::platform::files::{self, Stamp};
use crate::values::{ConnectionName, Wire};
use access::{Access, Verdict};
use peer::Peer;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

pub use tls::Negotiation;

/// Why the proxy cannot tell who a client runs as on this platform, if it cannot.
pub fn owner_uncheckable() -> Option<&'static str> {
    peer::UNCHECKABLE
}

/// What the command line decided, as plain values.
#[derive(Debug, Clone)]
pub struct Options {
    pub max_connections: Option<u32>,
    pub max_sigterm_delay: Duration,
    pub health_check: Option<SocketAddr>,
    pub quitquitquit: bool,
    pub quit_on_idle: Option<Duration>,
    pub structured_logs: bool,
    /// PostgreSQL server connections kept between clients, closed after this long unused;
    /// None with --no-server-reuse.
    pub server_reuse: Option<Duration>,
}

/// One connection served: where clients reach it, and how the proxy reaches the database.
pub struct Target {
    pub name: ConnectionName,
    pub connection: Connection,
    pub listen: SocketAddr,
    /// PostgreSQL only: the folder for `.s.PGSQL.PORT`.
    pub unix_socket: Option<PathBuf>,
    pub negotiation: Negotiation,
}

/// A target with its TLS set-up, shared by every client session.
struct Served {
    target: Target,
    tls: tls::Upstream,
    /// MySQL: clients holding a server connection while the proxy waits for their answer to
    /// its greeting. Bounded, so silent local sockets cannot use up a small server's slots.
    handshakes: Arc<Semaphore>,
    /// PostgreSQL: server connections kept for the next client (see pool.rs).
    pool: Option<pool::Pool>,
    /// This listener's metric series.
    series: metrics::Series,
    /// The last token issued, with the cache file it came through: a client per query
    /// (`pgbench -C`, a cron job) then costs one `stat`, not a file read on a blocking thread.
    token: Mutex<Option<Remembered>>,
}

/// A token as the shared cache held it. Used while it is fresh and its cache file is the one it
/// came from: a `cache clear` or a token the CLI signed since is read again.
struct Remembered {
    issued: Issued,
    file: PathBuf,
    stamp: Stamp,
}

impl Remembered {
    /// After `issue`: the cache file it wrote or read, as it stands now.
    fn of(issued: &Issued, connection: &Connection) -> Option<Remembered> {
        let file = issuer::cache_file(connection)?;
        let meta = std::fs::symlink_metadata(&file).ok()?;
        Some(Remembered {
            issued: issued.clone(),
            stamp: files::stamp(&meta),
            file,
        })
    }

    fn current(&self, connection: &Connection) -> bool {
        self.issued
            .is_fresh(crate::clock::now(), connection.refresh_before)
            && std::fs::symlink_metadata(&self.file).is_ok_and(|m| files::stamp(&m) == self.stamp)
    }
}

/// The state every session and the health check share.
struct Shared {
    options: Options,
    /// Open client connections, watched by the drain and by --quit-on-idle.
    active: watch::Sender<usize>,
    /// Set once shutdown began: stop accepting, readiness fails.
    stopping: watch::Sender<bool>,
    limit: Option<Arc<Semaphore>>,
    access: Access,
    metrics: metrics::Metrics,
    /// Set once the drain is over: sessions still open are cut, each with its log line.
    cut: watch::Sender<bool>,
    /// PostgreSQL CancelRequest keys handed to clients, to the upstream backend they cancel.
    cancels: Mutex<HashMap<(i32, i32), postgres::CancelTarget>>,
    next_id: AtomicU64,
}

/// Binds every listener (so errors come out before anything runs), then serves until a signal,
/// `/quitquitquit` or --quit-on-idle, and drains.
pub fn run(targets: Vec<Target>, options: Options, access: Access) -> Result<i32> {
    let runtime = runtime()?;
    let code = runtime.block_on(serve(targets, options, access));
    // Sessions still open after the drain are cut here.
    runtime.shutdown_background();
    code
}

/// One thread does everything (tokio's current-thread runtime), as pgbouncer is one event
/// loop: with two workers, perf showed about 45% of the proxy's time in the kernel switching
/// between them, for a relay that is mostly waiting on sockets. `RDSIAM_HELPER_PROXY_THREADS=N`
/// asks for N worker threads instead (for many busy clients on a machine with cores to spare;
/// the benchmark compares them, docs/proxy.md "Cost").
fn runtime() -> Result<tokio::runtime::Runtime> {
    let threads: usize = std::env::var("RDSIAM_HELPER_PROXY_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let mut builder = match threads {
        0 | 1 => tokio::runtime::Builder::new_current_thread(),
        n => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(n);
            builder
        }
    };
    builder
        .enable_all()
        .build()
        .map_err(|e| Error::failure("cannot start the proxy's runtime").caused_by(e))
}

async fn serve(targets: Vec<Target>, options: Options, access: Access) -> Result<i32> {
    // Before anything is announced: a SIGTERM right after "listening" must drain, not kill.
    let signals = local::Signals::new()?;
    let shared = Arc::new(Shared {
        limit: options
            .max_connections
            .map(|n| Arc::new(Semaphore::new(n as usize))),
        options,
        access,
        metrics: metrics::Metrics::new(),
        cut: watch::channel(false).0,
        active: watch::channel(0).0,
        stopping: watch::channel(false).0,
        cancels: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(1),
    });
    let mut served = Vec::new();
    for target in targets {
        let tls = tls::Upstream::new(&target.connection, target.negotiation)?;
        let pool = match (target.connection.engine.wire(), shared.options.server_reuse) {
            (Wire::Postgres, Some(idle)) => Some(pool::Pool::new(idle)),
            _ => None,
        };
        let series = shared.metrics.series(&target.name, pool.is_some());
        served.push(Arc::new(Served {
            target,
            tls,
            series,
            handshakes: Arc::new(Semaphore::new(mysql::HANDSHAKES)),
            pool,
            token: Mutex::new(None),
        }));
    }
    let mut sockets = Vec::new();
    let mut accepting = Vec::new();
    for served in &served {
        let listener = bind_tcp(&served.target).await?;
        log::event(
            shared.options.structured_logs,
            &served.target.name,
            &format!("listening on {}", served.target.listen),
        );
        if served.pool.is_some() {
            accepting.push(tokio::spawn(sweep(served.clone())));
        }
        accepting.push(tokio::spawn(accept_tcp(
            listener,
            served.clone(),
            shared.clone(),
        )));
        if let Some(dir) = &served.target.unix_socket {
            let (listener, path) = local::bind(dir, served.target.listen.port())?;
            log::event(
                shared.options.structured_logs,
                &served.target.name,
                &format!("listening on {}", path.display()),
            );
            sockets.push(path);
            accepting.push(tokio::spawn(local::accept(
                listener,
                served.clone(),
                shared.clone(),
            )));
        }
    }
    if let Some(address) = shared.options.health_check {
        let listener = TcpListener::bind(address).await.map_err(|e| {
            Error::failure(format!("cannot listen on {address} for --health-check")).caused_by(e)
        })?;
        tokio::spawn(health::serve(listener, shared.clone(), served.clone()));
    }
    if let Some(idle) = shared.options.quit_on_idle {
        tokio::spawn(quit_when_idle(shared.clone(), idle));
    }
    let second_signal = wait_for_stop(&shared, signals).await;
    for task in accepting {
        task.abort();
    }
    for path in sockets {
        let _ = std::fs::remove_file(path);
    }
    drain(&shared, second_signal).await;
    cut_the_rest(&shared).await;
    for served in &served {
        if let Some(pool) = &served.pool {
            pool.close_all().await;
        }
    }
    Ok(0)
}

/// Closes parked server connections once unused for --server-idle-timeout.
async fn sweep(served: Arc<Served>) {
    let Some(pool) = &served.pool else { return };
    let mut tick = tokio::time::interval(pool.sweep_every());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if pool.expire().await {
            served.series.parked(pool.parked());
        }
    }
}

/// Waits for SIGTERM, SIGINT, `/quitquitquit` or idleness; returns a future that resolves on
/// the next signal, which ends the drain at once.
async fn wait_for_stop(
    shared: &Shared,
    signals: local::Signals,
) -> impl std::future::Future<Output = ()> + use<> {
    let mut signals = signals;
    let mut stopping = shared.stopping.subscribe();
    let why = tokio::select! {
        why = signals.recv() => why,
        _ = stopping.wait_for(|s| *s) => "a shutdown request",
    };
    shared.stopping.send_replace(true);
    let open = *shared.active.borrow();
    log::event(
        shared.options.structured_logs,
        "",
        &format!(
            "{why}: no longer accepting; waiting up to {} for {open} open connection(s)",
            humantime::format_duration(shared.options.max_sigterm_delay)
        ),
    );
    async move {
        signals.recv().await;
    }
}

/// Waits until no connection is open, the delay has passed, or another signal came.
async fn drain(shared: &Shared, second_signal: impl std::future::Future<Output = ()>) {
    let mut active = shared.active.subscribe();
    let delay = shared.options.max_sigterm_delay;
    let outcome = tokio::select! {
        _ = active.wait_for(|n| *n == 0) => "every connection closed",
        _ = tokio::time::sleep(delay) => "--max-sigterm-delay passed; closing the rest",
        _ = second_signal => "a second signal; closing the rest",
    };
    log::event(
        shared.options.structured_logs,
        "",
        &format!("{outcome}; exiting"),
    );
}

/// Sessions still open after the drain are cut; each writes its log line before the exit.
async fn cut_the_rest(shared: &Shared) {
    shared.cut.send_replace(true);
    let mut active = shared.active.subscribe();
    let _ = tokio::time::timeout(Duration::from_secs(2), active.wait_for(|n| *n == 0)).await;
}

/// --quit-on-idle: once no client has been connected for the whole period, shut down.
async fn quit_when_idle(shared: Arc<Shared>, idle: Duration) {
    let mut active = shared.active.subscribe();
    loop {
        let _ = active.wait_for(|n| *n == 0).await;
        let quiet = tokio::select! {
            _ = tokio::time::sleep(idle) => true,
            _ = active.wait_for(|n| *n > 0) => false,
        };
        if quiet && *active.borrow() == 0 {
            log::event(
                shared.options.structured_logs,
                "",
                &format!(
                    "no client for {}: shutting down (--quit-on-idle)",
                    humantime::format_duration(idle)
                ),
            );
            shared.stopping.send_replace(true);
            return;
        }
    }
}

async fn bind_tcp(target: &Target) -> Result<TcpListener> {
    TcpListener::bind(target.listen).await.map_err(|e| {
        Error::failure(format!(
            "cannot listen on {} for `{}`",
            target.listen, target.name
        ))
        .caused_by(e)
        .hint("another program (or another proxy) may hold the port: choose another with --listen or local_port")
    })
}

async fn accept_tcp(listener: TcpListener, served: Arc<Served>, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, address)) => {
                let _ = stream.set_nodelay(true);
                let owner = match stream.local_addr() {
                    Ok(local) => peer::tcp(address, local),
                    Err(err) => {
                        Peer::Unknown(format!("the connection has no local address: {err}"))
                    }
                };
                spawn_session(
                    stream,
                    address.to_string(),
                    owner,
                    served.clone(),
                    shared.clone(),
                );
            }
            Err(err) => accept_failed(&shared, &served, err).await,
        }
    }
}

/// Out of file descriptors, for example: say so, and keep serving once some are free.
async fn accept_failed(shared: &Shared, served: &Served, err: std::io::Error) {
    log::event(
        shared.options.structured_logs,
        &served.target.name,
        &format!("accept failed: {err}"),
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Counts the connection open until its session ends, whatever way it ends.
struct Open(Arc<Shared>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.active.send_modify(|n| *n -= 1);
    }
}

fn spawn_session<S>(
    stream: S,
    client: String,
    owner: Peer,
    served: Arc<Served>,
    shared: Arc<Shared>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    shared.active.send_modify(|n| *n += 1);
    let open = Open(shared.clone());
    tokio::spawn(async move {
        let _open = open;
        let mut record = log::Record::new(&served.target, client);
        record.id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        served.series.opened();
        let needs_password = match shared.access.judge(&owner) {
            Verdict::In => false,
            Verdict::NeedsPassword => true,
            Verdict::Refused(reason) => {
                refuse(stream, &served, &reason).await;
                record.stage = metrics::Failure::RefusedUser;
                record.fail(reason);
                finish(&shared, &served, &record);
                return;
            }
        };
        let session = Session {
            served: &served,
            shared: &shared,
            needs_password,
        };
        let mut cut = shared.cut.subscribe();
        let was_cut = {
            let serving = async {
                match served.target.connection.engine.wire() {
                    Wire::Postgres => postgres::serve(stream, &session, &mut record).await,
                    Wire::Mysql => mysql::serve(stream, &session, &mut record).await,
                }
            };
            tokio::select! {
                _ = serving => false,
                _ = cut.wait_for(|c| *c) => true,
            }
        };
        if was_cut {
            record.ending = "cut at shutdown (still open when the drain ended)";
        }
        finish(&shared, &served, &record);
    });
}

/// A session's end: its log line and its counts.
fn finish(shared: &Shared, served: &Served, record: &log::Record) {
    served.series.closed(
        record.failure(),
        record.bytes_from_client,
        record.bytes_to_client,
    );
    record.emit(shared.options.structured_logs);
}

/// A client refused before its session began (its owner, the connection limit): the engine's
/// own error, as the server would refuse it.
async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(stream: S, served: &Served, reason: &str) {
    match served.target.connection.engine.wire() {
        Wire::Postgres => postgres::refuse(stream, "28000", reason).await,
        Wire::Mysql => mysql::refuse(stream, 1045, b"28000", reason).await,
    }
}

/// What a session needs of the proxy.
struct Session<'a> {
    served: &'a Served,
    shared: &'a Shared,
    /// The client must give the local password (its owner was not let in by uid).
    needs_password: bool,
}

impl Session<'_> {
    /// A slot under --max-connections, taken once the client is known to want a session
    /// (a PostgreSQL CancelRequest is not one, and is always served).
    fn admit(&self) -> std::result::Result<Option<tokio::sync::OwnedSemaphorePermit>, String> {
        match &self.shared.limit {
            None => Ok(None),
            Some(limit) => limit.clone().try_acquire_owned().map(Some).map_err(|_| {
                format!(
                    "too many connections (--max-connections {})",
                    self.shared.options.max_connections.unwrap_or_default()
                )
            }),
        }
    }

    fn connection(&self) -> &Connection {
        &self.served.target.connection
    }

    /// A token through the shared cache: a hit is one small file read; a miss signs under the
    /// cache's lock, so this proxy and the CLI on the same machine sign once between them. The
    /// last one is remembered while its cache file is unchanged. With `verify` every token is
    /// checked afresh, as the CLI does.
    async fn token(&self) -> std::result::Result<Issued, String> {
        let started = Instant::now();
        let connection = self.connection();
        let remembered = lock(&self.served.token)
            .as_ref()
            .filter(|r| !connection.verify && r.current(connection))
            .map(|r| r.issued.clone());
        let issued = match remembered {
            Some(issued) => issued,
            None => {
                let (issued, remembered) = self.issue().await?;
                *lock(&self.served.token) = remembered;
                issued
            }
        };
        self.served.series.token_issued(started.elapsed());
        Ok(issued)
    }

    /// `issue` starts its own current-thread runtime on a miss, hence a blocking thread.
    async fn issue(&self) -> std::result::Result<(Issued, Option<Remembered>), String> {
        let connection = self.connection().clone();
        tokio::task::spawn_blocking(move || {
            issuer::issue(&connection, true).map(|issued| {
                let remembered = Remembered::of(&issued, &connection);
                (issued, remembered)
            })
        })
        .await
        .map_err(|e| format!("the token could not be issued: {e}"))?
        .map_err(|e| {
            let mut text = e.one_line();
            for hint in e.hints {
                text.push_str("; ");
                text.push_str(&hint);
            }
            format!("no token for this connection: {text}")
        })
    }

    fn upstream_name(&self) -> String {
        let c = self.connection();
        match c.tunnel {
            Some(tunnel) => format!("{}:{} via {tunnel}", c.host, c.port),
            None => format!("{}:{}", c.host, c.port),
        }
    }
}

/// Checks that every connection can get a token now: readiness, and the proxy's start.
async fn can_issue_all(served: &[Arc<Served>]) -> std::result::Result<(), String> {
    for served in served {
        let connection = served.target.connection.clone();
        let name = served.target.name.clone();
        tokio::task::spawn_blocking(move || issuer::issue(&connection, true))
            .await
            .map_err(|e| format!("{name}: {e}"))?
            .map_err(|e| format!("{name}: {}", e.one_line()))?;
    }
    Ok(())
}

/// A lock whose holder panicked still guards a whole value: every writer replaces it at once.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// How long a session took, for the log line.
fn elapsed_ms(start: Instant) -> u128 {
    start.elapsed().as_millis()
}

/// After authentication: bytes both ways until either side closes, counted for the log line.
/// A server that closes without TLS close_notify (MariaDB after COM_QUIT, a terminated
/// backend) has ended the session, not broken it; so has a peer that resets.
async fn splice<C, U>(
    client: &mut C,
    upstream: &mut U,
    record: &mut log::Record,
) -> Result<(), String>
where
    C: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    let mut counted = Counted {
        inner: client,
        record,
    };
    let result = tokio::io::copy_bidirectional(&mut counted, upstream).await;
    let record = counted.record;
    match result {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => {
            record.ending = "closed by the server";
            Ok(())
        }
        // Many clients just close their socket with bytes unread (the MariaDB client's
        // KILL QUERY connection does): a reset at the end of a session is how it ended.
        Err(err)
            if matches!(
                err.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ) =>
        {
            record.ending = "closed (reset)";
            Ok(())
        }
        Err(err) => Err(format!("the connection broke: {}", tls::io_text(&err))),
    }
}

/// The client's stream, counting what crosses it each way into the session's record as it
/// goes (a session cut at shutdown still reports its bytes).
struct Counted<'r, S> {
    inner: S,
    record: &'r mut log::Record,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<'_, S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        self.record.bytes_from_client += (buf.filled().len() - before) as u64;
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<'_, S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        if let std::task::Poll::Ready(Ok(n)) = polled {
            self.record.bytes_to_client += n as u64;
        }
        polled
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Why signing in to the server failed, in either protocol: the server's own error message,
/// passed to the client as it is, or the proxy's reason, which the client gets in its
/// protocol's error form.
enum Refused {
    Server(Vec<u8>),
    Proxy(String),
}

impl From<String> for Refused {
    fn from(reason: String) -> Refused {
        Refused::Proxy(reason)
    }
}

impl From<&str> for Refused {
    fn from(reason: &str) -> Refused {
        Refused::Proxy(reason.to_string())
    }
}
