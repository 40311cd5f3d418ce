//! Connections to the ledger's database and the reader threads that own them.
//!
//! A connection that fails is dropped and made again on the next use, so a restarted
//! PostgreSQL costs the calls made while it was down (each refused with the database's error,
//! never served unrecorded) and nothing after.

use std::str::FromStr;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use postgres::{Client, NoTls};
use sluicegate_core::config::Durability;

use crate::LedgerError;

/// How many threads serve reads (each with its own connection, made on first use).
const READERS: usize = 4;

/// How long connecting may take before the call is refused.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Makes connections to the ledger's database, with the session settings every ledger
/// connection runs with.
pub(crate) struct Connector {
    config: postgres::Config,
    durability: Durability,
}

impl Connector {
    pub(crate) fn new(url: &str, durability: Durability) -> Result<Connector, LedgerError> {
        // The URL is a secret: a parse error names neither it nor its parts.
        let mut config = postgres::Config::from_str(url).map_err(|_| {
            LedgerError::Io(
                "the ledger's PostgreSQL URL does not parse (expected postgres://user:password@host:port/database)"
                    .into(),
            )
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.application_name("sluicegate-ledger");
        Ok(Connector { config, durability })
    }

    /// A new connection; `synchronous_commit` follows `storage.durability` (relaxed: a commit
    /// is answered before its WAL is flushed, so a server crash can lose the last moments).
    pub(crate) fn connect(&self) -> Result<Client, LedgerError> {
        let mut client = self.config.connect(NoTls)?;
        let sync = match self.durability {
            Durability::Full => "on",
            Durability::Relaxed => "off",
        };
        client.batch_execute(&format!(
            "SET synchronous_commit = {sync}; SET default_transaction_isolation = 'read committed'"
        ))?;
        Ok(client)
    }

    /// After a use of a connection: a closed one is dropped (the next use connects again).
    pub(crate) fn after_use(&self, client: &mut Option<Client>) {
        if client.as_ref().is_some_and(Client::is_closed) {
            *client = None;
        }
    }
}

/// The connection a thread holds, made when first needed.
pub(crate) fn ensure<'c>(
    connector: &Connector,
    client: &'c mut Option<Client>,
) -> Result<&'c mut Client, LedgerError> {
    if client.as_ref().is_none_or(Client::is_closed) {
        super::stmts::forget();
        *client = Some(connector.connect()?);
    }
    client
        .as_mut()
        .ok_or_else(|| LedgerError::Io("no connection to the ledger database".into()))
}

/// Whether `e` says the connection is gone (closed, or ended by the server: a shutdown, a
/// restart, an administrator's `pg_terminate_backend`), rather than that the statement failed.
pub(crate) fn connection_lost(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    e.is_closed()
        || e.code().is_some_and(|c| {
            *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CRASH_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
        })
}

type ReadJob = Box<dyn FnOnce(Result<&mut Client, LedgerError>) + Send>;

/// The reader threads: each owns one connection and takes the next read from a shared queue.
pub(crate) struct Readers {
    jobs: Option<Sender<ReadJob>>,
    threads: Vec<JoinHandle<()>>,
}

impl Readers {
    pub(crate) fn start(connector: Arc<Connector>) -> Result<Readers, LedgerError> {
        let (jobs, rx) = channel::<ReadJob>();
        let rx = Arc::new(Mutex::new(rx));
        let mut threads = Vec::with_capacity(READERS);
        for i in 0..READERS {
            let (rx, connector) = (rx.clone(), connector.clone());
            let thread = std::thread::Builder::new()
                .name(format!("ledger-pg-reader-{i}"))
                .spawn(move || serve(&connector, &rx))
                .map_err(|e| LedgerError::Io(format!("start a ledger reader thread: {e}")))?;
            threads.push(thread);
        }
        Ok(Readers {
            jobs: Some(jobs),
            threads,
        })
    }

    /// Run `f` on a reader thread's connection and wait for its answer. A read that meets a
    /// connection the server has closed (a restart, a failover) runs again, on whichever
    /// reader takes it next (each drops its closed connection and connects again): reads
    /// change nothing, and each reader thread only learns of a cut by using its connection.
    pub(crate) fn run<T, F>(&self, f: F) -> Result<T, LedgerError>
    where
        T: Send + 'static,
        F: Fn(&mut Client) -> Result<T, LedgerError> + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        let mut tries = 0;
        loop {
            tries += 1;
            match self.run_once(f.clone()) {
                Err(LedgerError::Postgres(e)) if connection_lost(&e) && tries <= READERS => {}
                answer => return answer,
            }
        }
    }

    fn run_once<T, F>(&self, f: Arc<F>) -> Result<T, LedgerError>
    where
        T: Send + 'static,
        F: Fn(&mut Client) -> Result<T, LedgerError> + Send + Sync + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let job: ReadJob = Box::new(move |client| {
            let _ = tx.send(client.and_then(|c| f(c)));
        });
        match self.jobs.as_ref().map(|jobs| jobs.send(job)) {
            Some(Ok(())) => rx.recv().unwrap_or(Err(LedgerError::WriterStopped)),
            _ => Err(LedgerError::WriterStopped),
        }
    }
}

impl Drop for Readers {
    fn drop(&mut self) {
        drop(self.jobs.take());
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn serve(connector: &Connector, rx: &Mutex<Receiver<ReadJob>>) {
    let mut client: Option<Client> = None;
    loop {
        // The lock is held only while waiting for the next job, never while running one.
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        let Ok(job) = job else {
            return;
        };
        job(ensure(connector, &mut client));
        connector.after_use(&mut client);
    }
}
