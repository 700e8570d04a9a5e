//! Group commit of audit records on their own (`Store::append_audit`), shared by the backends:
//! callers queue events; one writer thread takes everything queued as one batch, hands it to the
//! backend's commit (sled: one journal write and sync; PostgreSQL: one transaction) and answers
//! each caller. A batch is all or nothing: every caller in it hears the same error.

use super::{AuditDone, StoreError};
use crate::engine::audit::{AuditEvent, AuditRecord};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// Makes one batch durable: chains `events` in order onto the audit log and returns their
/// records, one per event, or the error every caller of the batch gets.
pub(crate) type Commit =
    Box<dyn FnMut(Vec<AuditEvent>) -> Result<Vec<AuditRecord>, StoreError> + Send>;

/// The writer thread and its queue. Dropping it lets the thread commit what is queued, then
/// joins it.
pub(crate) struct GroupCommit {
    queue: Arc<Queue>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Queue {
    state: Mutex<QueueState>,
    /// Signalled when the queue stops being empty, and on stop.
    ready: Condvar,
}

#[derive(Default)]
struct QueueState {
    /// Events not yet taken by the writer, in arrival order, with whom to tell.
    pending: Vec<(AuditEvent, AuditDone)>,
    stop: bool,
}

impl Queue {
    /// The queue even if a holder panicked: it is a plain list, valid after any push or take.
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.queue.lock().stop = true;
        self.queue.ready.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What a caller hears when the writer panicked or is gone.
pub(crate) fn writer_failed() -> StoreError {
    StoreError::Backend("the audit writer failed".into())
}

impl GroupCommit {
    /// Starts the writer thread (named `audit-writer`) around `commit`.
    pub(crate) fn start(mut commit: Commit) -> Result<Self, StoreError> {
        let queue = Arc::new(Queue::default());
        let thread = {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name("audit-writer".into())
                .spawn(move || run(&queue, &mut commit))
                .map_err(|e| StoreError::Backend(format!("starting the audit writer: {e}")))?
        };
        Ok(Self {
            queue,
            thread: Some(thread),
        })
    }

    /// Queues `event`; `done` gets its record once its batch is committed. The writer takes
    /// everything queued while it committed the previous batch.
    pub(crate) fn submit(&self, event: AuditEvent, done: AuditDone) {
        let mut state = self.queue.lock();
        state.pending.push((event, done));
        // The writer waits only on an empty queue; while it writes, it takes this one next.
        let wake = state.pending.len() == 1;
        drop(state);
        if wake {
            self.queue.ready.notify_one();
        }
    }

    /// [`GroupCommit::submit`] and wait for the outcome.
    pub(crate) fn append(&self, event: AuditEvent) -> Result<AuditRecord, StoreError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.submit(
            event,
            Box::new(move |outcome| {
                let _ = tx.send(outcome);
            }),
        );
        rx.recv().unwrap_or_else(|_| Err(writer_failed()))
    }
}

fn run(queue: &Queue, commit: &mut Commit) {
    loop {
        let batch = {
            let mut state = queue.lock();
            while state.pending.is_empty() && !state.stop {
                state = queue
                    .ready
                    .wait(state)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            if state.pending.is_empty() {
                return;
            }
            std::mem::take(&mut state.pending)
        };
        let (events, dones): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        // A panic, in committing or in a caller's `done`, answers the rest of this batch with an
        // error (a `done` dropped unanswered drops its channel) and leaves the thread serving the
        // next one, so no caller waits forever.
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| commit(events)))
            .unwrap_or_else(|_| Err(writer_failed()));
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| match outcome {
            Ok(records) => {
                for (done, record) in dones.into_iter().zip(records) {
                    done(Ok(record));
                }
            }
            Err(e) => {
                for done in dones {
                    done(Err(e.clone()));
                }
            }
        }));
    }
}
