//! Serving on server threads, each with a single-threaded async runtime of its own.
//!
//! One acceptor takes the connections and hands each to the thread with the fewest open ones;
//! that thread then runs every request of the connection from start to end. A request never
//! moves between threads, so nothing is woken on another core along its way: with tokio's
//! work-stealing runtime, the two threads of a 2-core machine woke each other (futex calls,
//! rescheduling interrupts) around every request, and the load generator on the same cores paid
//! for it too. Keep-alive connections make the hand-over a once-per-connection cost.
//!
//! Each thread has its own handle to the store ([`AppState::for_current_runtime`]): its own Redis
//! connections, the shared SQLite pool. Background work (registry refresh, materialization jobs)
//! stays on the runtime that called [`serve_with`](crate::serve_with).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;

use crate::error::{Error, Result};
use crate::{AppState, app};

/// A connection on its way to a server thread.
type Handover = (std::net::TcpStream, SocketAddr);

/// One server thread as the acceptor sees it.
struct Worker {
    connections: mpsc::UnboundedSender<Handover>,
    /// Connections handed over and not yet closed.
    open: Arc<AtomicUsize>,
}

/// Serves `state` on `listener` with `threads` server threads until `shutdown` completes, then
/// lets every thread finish its requests in flight. Fails when a thread cannot start (its store
/// handle cannot connect) or stops early.
pub(crate) async fn serve_on_threads(
    listener: TcpListener,
    state: AppState,
    threads: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let address = listener.local_addr().map_err(Error::Serve)?;
    let (stop, stopping) = watch::channel(false);
    let mut running = JoinSet::new();
    let mut workers = Vec::with_capacity(threads);
    for number in 0..threads.max(1) {
        let (connections, arriving) = mpsc::unbounded_channel();
        let open = Arc::new(AtomicUsize::new(0));
        let (ready, started) = oneshot::channel();
        let thread = ServerThread {
            state: state.clone(),
            arriving,
            open: Arc::clone(&open),
            address,
            stopping: stopping.clone(),
        };
        let handle = std::thread::Builder::new()
            .name(format!("larder-serve-{number}"))
            .spawn(move || thread.run(ready))
            .map_err(Error::Serve)?;
        running.spawn_blocking(move || {
            handle
                .join()
                .unwrap_or_else(|_| Err(Error::Thread("a server thread panicked".into())))
        });
        // A thread that cannot start says why before the server says it is listening.
        match started.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = stop.send(true);
                return Err(e);
            }
            Err(_) => {
                let _ = stop.send(true);
                return Err(Error::Thread(
                    "a server thread stopped while starting".into(),
                ));
            }
        }
        workers.push(Worker { connections, open });
    }
    eprintln!("Listening on http://{address}");
    tracing::info!(%address, threads = workers.len(), project = state.store().project(), "feature server started");
    tokio::pin!(shutdown);
    let outcome = loop {
        tokio::select! {
            () = &mut shutdown => break Ok(()),
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => hand_over(&workers, stream, peer),
                Err(e) => accept_failed(e).await,
            },
            stopped = running.join_next() => {
                break Err(match stopped {
                    Some(Ok(Err(e))) => e,
                    _ => Error::Thread("a server thread stopped on its own".into()),
                });
            }
        }
    };
    drop(listener);
    let _ = stop.send(true);
    while let Some(finished) = running.join_next().await {
        if let Ok(Err(e)) = finished {
            tracing::warn!(error = %e, "a server thread failed while stopping");
        }
    }
    outcome
}

/// Gives `stream` to the server thread with the fewest open connections (the first of equals).
fn hand_over(workers: &[Worker], stream: TcpStream, peer: SocketAddr) {
    // Responses go out in one write each; without Nagle's delay a pipelined client's next
    // answer never waits for the previous one's acknowledgement.
    let _ = stream.set_nodelay(true);
    let stream = match stream.into_std() {
        Ok(stream) => stream,
        Err(e) => {
            tracing::warn!(error = %e, %peer, "cannot hand a connection over; closing it");
            return;
        }
    };
    let Some(worker) = workers
        .iter()
        .min_by_key(|w| w.open.load(Ordering::Relaxed))
    else {
        return;
    };
    worker.open.fetch_add(1, Ordering::Relaxed);
    if worker.connections.send((stream, peer)).is_err() {
        worker.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What `accept` errors mean for the loop: per-connection ones (the peer gave up) are skipped;
/// running out of file descriptors waits a moment, as hyper's and axum's own loops do.
async fn accept_failed(e: io::Error) {
    let per_connection = matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    );
    if !per_connection {
        tracing::error!(error = %e, "accepting a connection failed; retrying in a second");
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// What a server thread owns.
struct ServerThread {
    state: AppState,
    arriving: mpsc::UnboundedReceiver<Handover>,
    open: Arc<AtomicUsize>,
    address: SocketAddr,
    stopping: watch::Receiver<bool>,
}

impl ServerThread {
    /// Builds the thread's runtime and store handle, says so on `ready`, and serves the
    /// connections handed to it until the server stops.
    fn run(self, ready: oneshot::Sender<Result<()>>) -> Result<()> {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => {
                let _ = ready.send(Err(Error::Serve(e)));
                return Ok(());
            }
        };
        runtime.block_on(async move {
            let state = match self.state.for_current_runtime().await {
                Ok(state) => state,
                Err(e) => {
                    let _ = ready.send(Err(e.into()));
                    return Ok(());
                }
            };
            let _ = ready.send(Ok(()));
            let connections = HandedOver {
                arriving: self.arriving,
                open: self.open,
                address: self.address,
            };
            let mut stopping = self.stopping;
            axum::serve(connections, app(state))
                .with_graceful_shutdown(async move {
                    let _ = stopping.wait_for(|&stop| stop).await;
                })
                .await
                .map_err(Error::Serve)
        })
    }
}

/// The connections handed to one server thread, as axum's listener.
struct HandedOver {
    arriving: mpsc::UnboundedReceiver<Handover>,
    open: Arc<AtomicUsize>,
    address: SocketAddr,
}

impl axum::serve::Listener for HandedOver {
    type Io = Counted;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Counted, SocketAddr) {
        loop {
            let Some((stream, peer)) = self.arriving.recv().await else {
                // The acceptor is gone: the server is stopping, and axum stops asking.
                return std::future::pending().await;
            };
            let counted = |stream| Counted {
                stream,
                open: Arc::clone(&self.open),
            };
            match TcpStream::from_std(stream) {
                Ok(stream) => return (counted(stream), peer),
                Err(e) => {
                    self.open.fetch_sub(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, %peer, "cannot take over a connection; closing it");
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.address)
    }
}

/// A connection that counts itself out of its thread's open connections when it closes.
struct Counted {
    stream: TcpStream,
    open: Arc<AtomicUsize>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
