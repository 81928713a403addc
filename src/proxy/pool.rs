//! PostgreSQL server connections kept between clients, as pgbouncer's session pooling keeps
//! them: a client that connects once per query (`pgbench -C`, a CGI script, a cron job) then
//! costs no TLS handshake, no token and no backend start on the server.
//!
//! A connection is kept only when its client said Terminate while the server was idle and in no
//! transaction; it is reset with `DISCARD ALL` (which drops temp tables, prepared statements,
//! session settings, LISTENs and advisory locks) and parked. The next client whose startup
//! packet is byte for byte the same (user, database, every parameter) gets it, greeted with the
//! server's own ParameterStatus messages and ReadyForQuery as it was at the login; its cancel
//! key leads to the same backend. Everything else about the client (its owner, its local
//! password, its user against the connection's) is checked as for a new connection.
//!
//! A client that arrives while the connection for its startup packet is still being reset
//! claims it: it is greeted at once (the reset puts the login's parameters back, so the greeting
//! is known before the reset ends) and gets the connection the moment the reset is over. A
//! client that connects once per query so never waits a round trip for its predecessor's reset,
//! and the server connections stay as many as the clients (pgbouncer opens more instead).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_rustls::client::TlsStream;

/// A verified TLS connection to the PostgreSQL server, as the pool keeps it.
pub type Upstream = TlsStream<TcpStream>;

/// Parked connections per listener. A small RDS instance has tens of slots; pgbouncer's
/// default pool is 20 per user and database.
pub const MAX_PARKED: usize = 8;
/// A connection is not handed out after this age: under DSQL's hour per connection, so no
/// client is given a connection about to be cut. (RDS checks the token only at the login, so
/// the token's 15 minutes do not matter here.)
pub const LIFETIME: Duration = Duration::from_secs(50 * 60);

/// A server connection signed in for one startup packet, with what its login said.
pub struct Server {
    pub upstream: Upstream,
    /// The StartupMessage as the proxy forwarded it: the key a next client must match.
    pub startup: Arc<[u8]>,
    /// The server's ParameterStatus messages, in order, as they stand after a reset. Shared
    /// with a client greeted while the reset runs (a reset that changes one copies them).
    pub parameters: Arc<Vec<Vec<u8>>>,
    /// The backend's own process id and cancel secret.
    pub backend: (i32, i32),
    pub opened: Instant,
}

impl Server {
    /// A ParameterStatus message takes the place of the one with its name, if any.
    pub fn set_parameter(&mut self, frame: Vec<u8>) {
        let name = |f: &[u8]| f[5..].split(|b| *b == 0).next().map(<[u8]>::to_vec);
        let key = name(&frame);
        let parameters = Arc::make_mut(&mut self.parameters);
        match parameters.iter_mut().find(|p| name(p) == key) {
            Some(old) => *old = frame,
            None => parameters.push(frame),
        }
    }
}

struct Parked {
    server: Server,
    since: Instant,
}

/// A connection being reset now.
struct InReset {
    id: u64,
    startup: Arc<[u8]>,
    parameters: Arc<Vec<Vec<u8>>>,
    backend: (i32, i32),
    opened: Instant,
    /// Set once a client claimed it: the reset hands the connection over here.
    claimed: Option<oneshot::Sender<Server>>,
}

#[derive(Default)]
struct Inner {
    parked: Vec<Parked>,
    resetting: Vec<InReset>,
    next_id: u64,
}

pub struct Pool {
    idle_timeout: Duration,
    inner: Mutex<Inner>,
}

/// What a client finds for its startup packet.
pub enum Found {
    /// A parked connection, reset already.
    Ready(Box<Server>),
    /// One whose reset is under way: greet the client with what it says, then wait.
    Claimed(Claim),
}

/// A connection being reset, claimed by a client.
pub struct Claim {
    /// The backend and parameters the connection will have once reset.
    pub parameters: Arc<Vec<Vec<u8>>>,
    pub backend: (i32, i32),
    handed: oneshot::Receiver<Server>,
}

impl Claim {
    /// The connection, once its reset is over; None if the reset failed (the server went away
    /// or answered with an error), when the connection is closed instead.
    pub async fn server(self) -> Option<Server> {
        self.handed.await.ok()
    }
}

/// A reset under way. `done` hands the connection to its claimant or parks it; dropped without
/// `done` (the reset failed), the connection is closed and a claimant learns it at once.
pub struct Resetting<'a> {
    pool: &'a Pool,
    id: u64,
}

impl Resetting<'_> {
    pub fn done(self, server: Server) {
        let claimed = self.take_entry().and_then(|entry| entry.claimed);
        match claimed {
            // A claimant that has gone (its client left while it waited) hands it back.
            Some(claimant) => {
                if let Err(server) = claimant.send(server) {
                    self.pool.park(server);
                }
            }
            None => self.pool.park(server),
        }
    }

    fn take_entry(&self) -> Option<InReset> {
        let mut inner = self.pool.lock();
        let at = inner.resetting.iter().position(|r| r.id == self.id)?;
        Some(inner.resetting.swap_remove(at))
    }
}

impl Drop for Resetting<'_> {
    fn drop(&mut self) {
        // After `done` the entry is gone already; otherwise the claimant's sender drops here.
        drop(self.take_entry());
    }
}

impl Pool {
    pub fn new(idle_timeout: Duration) -> Pool {
        Pool {
            idle_timeout,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Not idle past --server-idle-timeout, nor older than LIFETIME: may be handed out.
    fn usable(&self, parked: &Parked) -> bool {
        parked.since.elapsed() < self.idle_timeout && parked.server.opened.elapsed() < LIFETIME
    }

    pub fn parked(&self) -> usize {
        self.lock().parked.len()
    }

    /// A connection for this startup packet: the one parked last (its TCP and TLS state is the
    /// warmest), else one being reset that no other client has claimed.
    pub fn take(&self, startup: &[u8]) -> Option<Found> {
        let mut inner = self.lock();
        while let Some(at) = inner
            .parked
            .iter()
            .rposition(|p| *p.server.startup == *startup && self.usable(p))
        {
            let mut server = inner.parked.remove(at).server;
            if still_open(&mut server) {
                return Some(Found::Ready(Box::new(server)));
            }
        }
        let entry = inner.resetting.iter_mut().find(|r| {
            r.claimed.is_none() && *r.startup == *startup && r.opened.elapsed() < LIFETIME
        })?;
        let (sender, handed) = oneshot::channel();
        entry.claimed = Some(sender);
        Some(Found::Claimed(Claim {
            parameters: entry.parameters.clone(),
            backend: entry.backend,
            handed,
        }))
    }

    /// Registers `server`'s reset, so that a client arriving meanwhile can claim it.
    pub fn resetting(&self, server: &Server) -> Resetting<'_> {
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        inner.resetting.push(InReset {
            id,
            startup: server.startup.clone(),
            parameters: server.parameters.clone(),
            backend: server.backend,
            opened: server.opened,
            claimed: None,
        });
        Resetting { pool: self, id }
    }

    /// Keeps a reset connection. Beyond MAX_PARKED the oldest one is closed.
    pub fn park(&self, server: Server) {
        let evicted = {
            let mut inner = self.lock();
            inner.parked.push(Parked {
                server,
                since: Instant::now(),
            });
            (inner.parked.len() > MAX_PARKED).then(|| inner.parked.remove(0).server)
        };
        if let Some(server) = evicted {
            tokio::spawn(close(server));
        }
    }

    /// Closes the connections idle longer than --server-idle-timeout or older than LIFETIME;
    /// true if any was.
    pub async fn expire(&self) -> bool {
        let expired: Vec<Server> = {
            let mut inner = self.lock();
            let (keep, expired) = std::mem::take(&mut inner.parked)
                .into_iter()
                .partition(|p| self.usable(p));
            inner.parked = keep;
            expired.into_iter().map(|p: Parked| p.server).collect()
        };
        let any = !expired.is_empty();
        for server in expired {
            close(server).await;
        }
        any
    }

    /// At shutdown: every parked connection gets its Terminate.
    pub async fn close_all(&self) {
        let all: Vec<Parked> = std::mem::take(&mut self.lock().parked);
        for parked in all {
            close(parked.server).await;
        }
    }

    /// How often `expire` should run: often enough that an idle connection goes within a
    /// tenth of its timeout past it.
    pub fn sweep_every(&self) -> Duration {
        (self.idle_timeout / 10).clamp(Duration::from_millis(50), Duration::from_secs(5))
    }
}

/// Whether a parked connection is as the reset left it. A parked server sends nothing (DISCARD
/// ALL ended its LISTENs), so anything to read is its goodbye: a backend terminated by an
/// administrator, a server restart, DSQL's hour. One read attempt that must not wait.
fn still_open(server: &mut Server) -> bool {
    use tokio::io::AsyncRead;
    let mut byte = [0u8; 1];
    let mut buf = tokio::io::ReadBuf::new(&mut byte);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    std::pin::Pin::new(&mut server.upstream)
        .poll_read(&mut cx, &mut buf)
        .is_pending()
}

/// Terminate, then TLS close_notify, so the server ends the backend as for a client that
/// leaves (and logs no "unexpected EOF").
pub async fn close(mut server: Server) {
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        server.upstream.write_all(&[b'X', 0, 0, 0, 4]).await?;
        server.upstream.shutdown().await
    })
    .await;
}
