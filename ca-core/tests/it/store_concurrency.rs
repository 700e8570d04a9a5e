//! Concurrent writers on one store, each backend: every append gets its own sequence number.

use crate::support::store::{Backend, conformance};
use ca_core::audit::{AuditAction, AuditEvent, AuditRecord, verify_chain};
use ca_core::store::audit_verify;
use ca_core::store::{CertificateRecord, Store, StoreError};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Barrier};

const THREADS: u64 = 8;
const PER_THREAD: u64 = 50;

fn event(thread: u64, i: u64) -> AuditEvent {
    AuditEvent {
        time: 1_700_000_000,
        actor: format!("thread:{thread}"),
        action: AuditAction::Sign,
        object: format!("op:{i}"),
        details: vec![],
    }
}

fn concurrent_writers_get_seqs_1_to_400_and_a_valid_chain<B: Backend>() {
    let backend = B::fresh();
    let store = Arc::new(backend.open());
    let start = Arc::new(Barrier::new(THREADS as usize));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = Arc::clone(&store);
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                let mut seqs = Vec::new();
                for i in 0..PER_THREAD {
                    // Alternate the two kinds of write so both paths race each other.
                    let rec = if i % 2 == 0 {
                        store.append_audit(event(t, i)).unwrap()
                    } else {
                        let serial = vec![t as u8, i as u8];
                        let cert = CertificateRecord {
                            serial: serial.clone(),
                            issuer_ca: "sign".into(),
                            profile: "physician".into(),
                            subject: format!("CN={t}-{i}"),
                            not_after: 1_800_000_000,
                            der: serial,
                            revocation: None,
                        };
                        store.insert_certificate(&cert, event(t, i)).unwrap()
                    };
                    seqs.push(rec.seq);
                }
                seqs
            })
        })
        .collect();
    let mut acknowledged: Vec<u64> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    acknowledged.sort_unstable();
    let total = THREADS * PER_THREAD;
    assert_eq!(acknowledged, (1..=total).collect::<Vec<_>>());

    let log = store.audit_log().unwrap();
    assert_eq!(
        log.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>()
    );
    let head = store.audit_head().unwrap().unwrap();
    assert_eq!(verify_chain(&log, Some((head.0, &head.1))), Ok(total));
    assert_eq!(audit_verify(store.as_ref()).unwrap(), total);
    assert_eq!(
        store.certificates().unwrap().len() as u64,
        THREADS * PER_THREAD / 2
    );
}

fn concurrent_audit_appends_each_get_their_own_durable_record<B: Backend>() {
    // append_audit group-commits concurrent callers: each must still get back the record of its
    // own event, under the sequence number it is stored at.
    let backend = B::fresh();
    let store = Arc::new(backend.open());
    let start = Arc::new(Barrier::new(THREADS as usize));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = Arc::clone(&store);
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                (0..PER_THREAD)
                    .map(|i| {
                        let rec = store.append_audit(event(t, i)).unwrap();
                        assert_eq!(rec.event, event(t, i));
                        rec
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut returned: Vec<_> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    returned.sort_unstable_by_key(|r| r.seq);
    assert_eq!(store.audit_log().unwrap(), returned);
    assert_eq!(audit_verify(store.as_ref()).unwrap(), THREADS * PER_THREAD);
}

/// Queues `PER_THREAD` events of `thread` without waiting; the answers arrive on the channel.
fn queue(store: &impl Store, thread: u64) -> Receiver<(u64, Result<AuditRecord, StoreError>)> {
    let (tx, rx) = std::sync::mpsc::channel();
    for i in 0..PER_THREAD {
        let tx = tx.clone();
        store.append_audit_then(
            event(thread, i),
            Box::new(move |outcome| tx.send((i, outcome)).unwrap()),
        );
    }
    rx
}

fn queued_appends_are_answered_in_order_each_with_its_own_record<B: Backend>() {
    // `append_audit_then` returns at once; the writer answers every event, in submission order,
    // once its record is written.
    let backend = B::fresh();
    let store = backend.open();
    let rx = queue(&store, 0);
    let answers: Vec<_> = rx.iter().collect();
    assert_eq!(answers.len() as u64, PER_THREAD);
    for (n, (i, outcome)) in answers.into_iter().enumerate() {
        let record = outcome.unwrap();
        assert_eq!((i, record.seq), (n as u64, n as u64 + 1));
        assert_eq!(record.event, event(0, i));
    }
    assert_eq!(audit_verify(&store).unwrap(), PER_THREAD);
}

fn dropping_the_store_answers_every_queued_append<B: Backend>() {
    // No caller is left waiting at shutdown: the writer finishes its queue before the store goes.
    let backend = B::fresh();
    let store = backend.open();
    let rx = queue(&store, 1);
    drop(store);
    let answered: Vec<_> = rx.try_iter().collect();
    assert_eq!(answered.len() as u64, PER_THREAD);
    assert!(answered.iter().all(|(_, outcome)| outcome.is_ok()));
}

fn a_panicking_caller_does_not_stop_the_writer<B: Backend>() {
    // `done` runs on the writer thread: a panic there must not leave later callers waiting.
    let backend = B::fresh();
    let store = backend.open();
    let (tx, rx) = std::sync::mpsc::channel();
    store.append_audit_then(
        event(2, 0),
        Box::new(move |_| {
            tx.send(()).unwrap();
            panic!("a caller's callback fails");
        }),
    );
    // Once the callback runs, the next append is in a batch of its own.
    rx.recv().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    store.append_audit_then(
        event(2, 1),
        Box::new(move |outcome| tx.send(outcome).unwrap()),
    );
    let record = rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the writer answers after a caller's panic")
        .unwrap();
    assert_eq!(record.seq, 2);
    assert_eq!(audit_verify(&store).unwrap(), 2);
}

conformance!(
    concurrent_writers_get_seqs_1_to_400_and_a_valid_chain,
    concurrent_audit_appends_each_get_their_own_durable_record,
    queued_appends_are_answered_in_order_each_with_its_own_record,
    dropping_the_store_answers_every_queued_append,
    a_panicking_caller_does_not_stop_the_writer,
);
