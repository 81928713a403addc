//! `--health-check ADDR:PORT`: the probes a Kubernetes pod or a service manager asks, as
//! cloud-sql-proxy answers them, and `/metrics` for Prometheus (see `metrics.rs`). `/startup` once the listeners are bound (this server starts
//! after them), `/liveness` while the process serves, `/readiness` while a token can be issued
//! for every connection and no shutdown has begun. `POST /quitquitquit` (with --quitquitquit,
//! from loopback only) shuts down as SIGTERM does. The probes reveal nothing and grant nothing,
//! so the address may be the pod's own, where the kubelet reaches it.

use super::{Served, Shared};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

pub async fn serve(listener: TcpListener, shared: Arc<Shared>, served: Vec<Arc<Served>>) {
    let served = Arc::new(served);
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        let served = served.clone();
        tokio::spawn(async move {
            // A quit is carried out once its answer has gone out: stopping at once could end
            // the process before the caller hears that it asked successfully.
            let quit = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let asked = quit.clone();
            let for_service = shared.clone();
            let service = hyper::service::service_fn(move |request| {
                let shared = for_service.clone();
                let served = served.clone();
                let asked = asked.clone();
                async move {
                    let response = answer(request, peer, &shared, &served, &asked).await;
                    Ok::<_, std::convert::Infallible>(response)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
            if quit.load(std::sync::atomic::Ordering::SeqCst) {
                shared.stopping.send_replace(true);
            }
        });
    }
}

async fn answer(
    request: Request<Incoming>,
    peer: SocketAddr,
    shared: &Shared,
    served: &[Arc<Served>],
    quit: &std::sync::atomic::AtomicBool,
) -> Response<Full<Bytes>> {
    match (request.method(), request.uri().path()) {
        (&Method::GET, "/startup") | (&Method::GET, "/liveness") => reply(StatusCode::OK, "ok"),
        (&Method::GET, "/metrics") => {
            let mut response = Response::new(Full::new(Bytes::from(shared.metrics.encode())));
            response.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            );
            response
        }
        (&Method::GET, "/readiness") => {
            if *shared.stopping.borrow() {
                return reply(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
            }
            match super::can_issue_all(served).await {
                Ok(()) => reply(StatusCode::OK, "ok"),
                Err(reason) => reply(StatusCode::SERVICE_UNAVAILABLE, &reason),
            }
        }
        // Only from the pod or machine itself: the probes may come over the network (the
        // kubelet dials the pod's address), a shutdown may not.
        (&Method::POST, "/quitquitquit") | (&Method::GET, "/quitquitquit")
            if shared.options.quitquitquit && peer.ip().is_loopback() =>
        {
            quit.store(true, std::sync::atomic::Ordering::SeqCst);
            reply(StatusCode::OK, "shutting down")
        }
        _ => reply(StatusCode::NOT_FOUND, "not found"),
    }
}

fn reply(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{text}\n"))));
    *response.status_mut() = status;
    response
}
