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

use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Notify;
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
/// How long a client waits for a connection whose reset is under way (one round trip to the
/// server) before it opens one of its own. Waiting is what keeps the number of server
/// connections at the number of clients: without it each reset in flight made the next client
/// open another connection, and a `pgbench -C` run used up a small server's slots.
const RESET_WAIT: Duration = Duration::from_secs(2);

/// A server connection signed in for one startup packet, with what its login said.
pub struct Server {
    pub upstream: Upstream,
    /// The StartupMessage as the proxy forwarded it: the key a next client must match.
    pub startup: Vec<u8>,
    /// The server's ParameterStatus messages, in order, as they stand after a reset.
    pub parameters: Vec<Vec<u8>>,
    /// The backend's own process id and cancel secret.
    pub backend: (i32, i32),
    pub opened: Instant,
}

impl Server {
    /// A ParameterStatus message takes the place of the one with its name, if any.
    pub fn set_parameter(&mut self, frame: Vec<u8>) {
        let name = |f: &[u8]| f[5..].split(|b| *b == 0).next().map(<[u8]>::to_vec);
        let key = name(&frame);
        match self.parameters.iter_mut().find(|p| name(p) == key) {
            Some(old) => *old = frame,
            None => self.parameters.push(frame),
        }
    }
}

struct Parked {
    server: Server,
    since: Instant,
}

#[derive(Default)]
struct Inner {
    parked: Vec<Parked>,
    /// The startup packets of connections being reset now.
    resetting: Vec<Vec<u8>>,
}

pub struct Pool {
    idle_timeout: Duration,
    inner: Mutex<Inner>,
    changed: Notify,
}

/// A reset under way; when it ends (parked or not), waiting clients look again.
pub struct Resetting<'a> {
    pool: &'a Pool,
    startup: Vec<u8>,
}

impl Drop for Resetting<'_> {
    fn drop(&mut self) {
        let mut inner = self.pool.lock();
        if let Some(at) = inner.resetting.iter().position(|s| *s == self.startup) {
            inner.resetting.swap_remove(at);
        }
        drop(inner);
        self.pool.changed.notify_waiters();
    }
}

impl Pool {
    pub fn new(idle_timeout: Duration) -> Pool {
        Pool {
            idle_timeout,
            inner: Mutex::new(Inner::default()),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn parked(&self) -> usize {
        self.lock().parked.len()
    }

    /// A parked connection for this startup packet: the one parked last (its TCP and TLS state
    /// is the warmest), waiting for one being reset if there is no other.
    pub async fn take(&self, startup: &[u8]) -> Option<Server> {
        let deadline = tokio::time::Instant::now() + RESET_WAIT;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            {
                let mut inner = self.lock();
                let fresh = |p: &Parked| {
                    p.since.elapsed() < self.idle_timeout && p.server.opened.elapsed() < LIFETIME
                };
                while let Some(at) = inner
                    .parked
                    .iter()
                    .rposition(|p| p.server.startup == startup && fresh(p))
                {
                    let mut server = inner.parked.remove(at).server;
                    if still_open(&mut server) {
                        return Some(server);
                    }
                }
                if !inner.resetting.iter().any(|s| s == startup) {
                    return None;
                }
                // Registered before the lock is let go, so a reset ending now still wakes us.
                changed.as_mut().enable();
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return None;
            }
        }
    }

    pub fn resetting(&self, startup: &[u8]) -> Resetting<'_> {
        self.lock().resetting.push(startup.to_vec());
        Resetting {
            pool: self,
            startup: startup.to_vec(),
        }
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
                .partition(|p| {
                    p.since.elapsed() < self.idle_timeout && p.server.opened.elapsed() < LIFETIME
                });
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
