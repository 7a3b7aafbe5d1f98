//! A small SMTP server for tests and benchmarks, on tokio TCP.
//!
//! It speaks enough ESMTP for lettre (EHLO/HELO, MAIL, RCPT, DATA with dot-unstuffing,
//! RSET, NOOP, QUIT), never offers STARTTLS or AUTH, keeps every accepted message, and can
//! be told to refuse or stall at a chosen step. [`ParsedMessage`] reads what it received.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sink = oes_mail::sink::SmtpSink::start().await?;
//! let mailer = oes_mail::Mailer::from_url(Some(&sink.url()), "unused").expect("mailer");
//! // … send …
//! let received = sink.wait_for(1, std::time::Duration::from_secs(5)).await;
//! # Ok(()) }
//! ```

mod mime;

use std::{
    io,
    net::SocketAddr,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinHandle,
};

pub use mime::{ParsedMessage, Part};

/// Longest command line accepted (RFC 5321 allows 512 octets; be generous).
const MAX_LINE: usize = 4096;
/// Largest message accepted; larger ones get 552.
const MAX_MESSAGE: usize = 25 * 1024 * 1024;

/// One message the sink accepted: the envelope and the raw data after dot-unstuffing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub data: Vec<u8>,
}

impl ReceivedMessage {
    /// The data as text (lossy).
    pub fn data_str(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }

    /// Parses the data as a MIME message.
    pub fn parse(&self) -> ParsedMessage {
        ParsedMessage::parse(&self.data)
    }
}

/// The step at which a refusal applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reply to `MAIL FROM`.
    Mail,
    /// Reply to each `RCPT TO`.
    Rcpt,
    /// Reply to the `DATA` command itself, before any content.
    Data,
    /// Reply after the message content (`.`), as content filters do.
    EndOfData,
}

/// How the sink misbehaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Reply `code text` at `stage` instead of accepting.
    Reply {
        stage: Stage,
        code: u16,
        text: String,
    },
    /// Never reply at `stage`; the client waits until it gives up.
    Stall { stage: Stage },
}

impl Refusal {
    /// `550 5.1.1 mailbox unavailable` to RCPT: a permanent failure.
    pub fn permanent_rcpt() -> Self {
        Self::Reply {
            stage: Stage::Rcpt,
            code: 550,
            text: "5.1.1 mailbox unavailable".to_owned(),
        }
    }

    /// `451 4.3.0 try again later` to DATA: a transient failure.
    pub fn transient_data() -> Self {
        Self::Reply {
            stage: Stage::Data,
            code: 451,
            text: "4.3.0 try again later".to_owned(),
        }
    }

    fn applies_at(&self, at: Stage) -> bool {
        match self {
            Self::Reply { stage, .. } | Self::Stall { stage } => *stage == at,
        }
    }
}

struct SinkState {
    messages: Mutex<Vec<ReceivedMessage>>,
    refusal: Mutex<Option<Refusal>>,
    connections: AtomicUsize,
    received: watch::Sender<usize>,
}

impl SinkState {
    fn refusal_at(&self, stage: Stage) -> Option<Refusal> {
        self.refusal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|refusal| refusal.applies_at(stage))
            .cloned()
    }

    fn store(&self, message: ReceivedMessage) {
        let count = {
            let mut messages = self.messages.lock().unwrap_or_else(PoisonError::into_inner);
            messages.push(message);
            messages.len()
        };
        self.received.send_replace(count);
    }
}

/// An SMTP server on `127.0.0.1:<free port>`, stopped when dropped.
pub struct SmtpSink {
    addr: SocketAddr,
    state: Arc<SinkState>,
    shutdown: watch::Sender<bool>,
    accept_task: JoinHandle<()>,
}

impl SmtpSink {
    /// Binds `127.0.0.1:0` and starts accepting connections.
    pub async fn start() -> io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (received, _) = watch::channel(0);
        let state = Arc::new(SinkState {
            messages: Mutex::new(Vec::new()),
            refusal: Mutex::new(None),
            connections: AtomicUsize::new(0),
            received,
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let accept_task = tokio::spawn(accept_loop(listener, Arc::clone(&state), shutdown_rx));
        Ok(Self {
            addr,
            state,
            shutdown,
            accept_task,
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `smtp://127.0.0.1:PORT?tls=none`, ready for [`crate::Mailer::from_url`].
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port())
    }

    /// Every message accepted so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        self.state
            .messages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits until at least `n` messages have arrived or `timeout` passes, then returns all
    /// messages so far (the caller checks how many).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMessage> {
        let mut received = self.state.received.subscribe();
        let _ = tokio::time::timeout(timeout, received.wait_for(|count| *count >= n)).await;
        self.messages()
    }

    /// How many TCP connections have been accepted (to observe connection reuse).
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Misbehave from now on, on new and open connections alike.
    pub fn refuse(&self, refusal: Refusal) {
        *self
            .state
            .refusal
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(refusal);
    }

    /// Accept everything again.
    pub fn accept_all(&self) {
        *self
            .state
            .refusal
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
        self.accept_task.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    state: Arc<SinkState>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                state.connections.fetch_add(1, Ordering::SeqCst);
                let state = Arc::clone(&state);
                let mut shutdown = shutdown.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = shutdown.changed() => {}
                        _ = serve(stream, &state) => {}
                    }
                });
            }
        }
    }
}

/// Reads one line (without its CRLF or LF). `Ok(None)` at end of stream or when the line is
/// too long, which closes the session.
async fn read_line(reader: &mut BufReader<TcpStream>, buf: &mut Vec<u8>) -> io::Result<Option<()>> {
    buf.clear();
    let n = (&mut *reader)
        .take(MAX_LINE as u64 + 2)
        .read_until(b'\n', buf)
        .await?;
    if n == 0 || !buf.ends_with(b"\n") {
        return Ok(None);
    }
    buf.pop();
    if buf.ends_with(b"\r") {
        buf.pop();
    }
    Ok(Some(()))
}

/// Sends one reply in a single write: split writes meet Nagle's algorithm and the client's
/// delayed ACK, which cost ~40 ms per reply on Linux (measured: 265 ms per message).
async fn reply(reader: &mut BufReader<TcpStream>, text: &str) -> io::Result<()> {
    let stream = reader.get_mut();
    stream.write_all(format!("{text}\r\n").as_bytes()).await?;
    stream.flush().await
}

/// Replies as the refusal says; `true` when the command was refused (or stalled).
async fn refused(
    reader: &mut BufReader<TcpStream>,
    state: &SinkState,
    stage: Stage,
) -> io::Result<bool> {
    match state.refusal_at(stage) {
        None => Ok(false),
        Some(Refusal::Reply { code, text, .. }) => {
            reply(reader, &format!("{code} {text}")).await?;
            Ok(true)
        }
        Some(Refusal::Stall { .. }) => std::future::pending().await,
    }
}

/// Extracts the path from `FROM:<a@b> SIZE=…` / `TO:<a@b>`.
fn envelope_path(argument: &str, keyword: &str) -> Option<String> {
    let rest = argument.get(..keyword.len())?;
    if !rest.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = argument[keyword.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let end = rest.find('>')?;
    Some(rest[..end].to_owned())
}

async fn serve(stream: TcpStream, state: &SinkState) -> io::Result<()> {
    let mut reader = BufReader::new(stream);
    reply(&mut reader, "220 oes-sink ESMTP ready").await?;
    let mut line = Vec::new();
    let mut mail_from: Option<String> = None;
    let mut rcpt_to: Vec<String> = Vec::new();

    while read_line(&mut reader, &mut line).await?.is_some() {
        let text = String::from_utf8_lossy(&line).into_owned();
        let (verb, argument) = match text.split_once(' ') {
            Some((verb, argument)) => (verb.to_ascii_uppercase(), argument.trim()),
            None => (text.trim().to_ascii_uppercase(), ""),
        };
        match verb.as_str() {
            "EHLO" => {
                mail_from = None;
                rcpt_to.clear();
                reply(
                    &mut reader,
                    &format!("250-oes-sink greets {argument}\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE {MAX_MESSAGE}"),
                )
                .await?
            }
            "HELO" => {
                mail_from = None;
                rcpt_to.clear();
                reply(&mut reader, "250 oes-sink").await?
            }
            "MAIL" => {
                if mail_from.is_some() {
                    reply(&mut reader, "503 5.5.1 nested MAIL command").await?;
                } else if let Some(path) = envelope_path(argument, "FROM:") {
                    if !refused(&mut reader, state, Stage::Mail).await? {
                        mail_from = Some(path);
                        reply(&mut reader, "250 2.1.0 sender ok").await?;
                    }
                } else {
                    reply(&mut reader, "501 5.5.4 syntax: MAIL FROM:<address>").await?;
                }
            }
            "RCPT" => {
                if mail_from.is_none() {
                    reply(&mut reader, "503 5.5.1 need MAIL first").await?;
                } else if let Some(path) = envelope_path(argument, "TO:") {
                    if !refused(&mut reader, state, Stage::Rcpt).await? {
                        rcpt_to.push(path);
                        reply(&mut reader, "250 2.1.5 recipient ok").await?;
                    }
                } else {
                    reply(&mut reader, "501 5.5.4 syntax: RCPT TO:<address>").await?;
                }
            }
            "DATA" => {
                let Some(from) = mail_from.take().filter(|_| !rcpt_to.is_empty()) else {
                    reply(&mut reader, "503 5.5.1 need RCPT first").await?;
                    continue;
                };
                let to = std::mem::take(&mut rcpt_to);
                if refused(&mut reader, state, Stage::Data).await? {
                    continue;
                }
                reply(&mut reader, "354 end data with <CRLF>.<CRLF>").await?;
                let Some(data) = read_data(&mut reader, &mut line).await? else {
                    return Ok(());
                };
                let Some(data) = data else {
                    reply(&mut reader, "552 5.3.4 message too big").await?;
                    continue;
                };
                if refused(&mut reader, state, Stage::EndOfData).await? {
                    continue;
                }
                state.store(ReceivedMessage {
                    mail_from: from,
                    rcpt_to: to,
                    data,
                });
                reply(&mut reader, "250 2.0.0 queued").await?;
            }
            "RSET" => {
                mail_from = None;
                rcpt_to.clear();
                reply(&mut reader, "250 2.0.0 ok").await?
            }
            "NOOP" => reply(&mut reader, "250 2.0.0 ok").await?,
            "VRFY" => reply(&mut reader, "252 2.1.5 cannot verify").await?,
            "QUIT" => {
                reply(&mut reader, "221 2.0.0 bye").await?;
                return Ok(());
            }
            _ => reply(&mut reader, "502 5.5.2 command not implemented").await?,
        }
    }
    Ok(())
}

/// Reads message content up to the lone `.` line, undoing dot-stuffing and keeping CRLF line
/// ends. `Ok(None)`: the client went away. `Ok(Some(None))`: too big (content discarded).
async fn read_data(
    reader: &mut BufReader<TcpStream>,
    line: &mut Vec<u8>,
) -> io::Result<Option<Option<Vec<u8>>>> {
    let mut data = Vec::new();
    let mut too_big = false;
    // A line longer than the read limit arrives in pieces; only a piece that starts a line
    // can be the terminator or carry a stuffed dot.
    let mut at_line_start = true;
    loop {
        line.clear();
        let n = (&mut *reader)
            .take(MAX_LINE as u64 * 256)
            .read_until(b'\n', line)
            .await?;
        if n == 0 {
            return Ok(None);
        }
        let ends_line = line.ends_with(b"\n");
        let content = line
            .strip_suffix(b"\r\n")
            .or_else(|| line.strip_suffix(b"\n"))
            .unwrap_or(line.as_slice());
        if at_line_start && ends_line && content == b"." {
            return Ok(Some((!too_big).then_some(data)));
        }
        let content = match content.strip_prefix(b".") {
            Some(unstuffed) if at_line_start => unstuffed,
            _ => content,
        };
        if data.len() + content.len() + 2 > MAX_MESSAGE {
            too_big = true;
            data.clear();
        }
        if !too_big {
            data.extend_from_slice(content);
            if ends_line {
                data.extend_from_slice(b"\r\n");
            }
        }
        at_line_start = ends_line;
    }
}
