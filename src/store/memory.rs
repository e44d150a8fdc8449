//! An in-memory `ObjectStore` for unit tests of the reconcile loop. It counts operations and can
//! fail the k-th call of an operation, after awslabs/mountpoint-s3's test clients: that is how
//! the core's tests say "a second sync makes 0 writes" and "a failed write leaves the published
//! documents as they were". Integration tests use the real stores.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{Error, ObjectStore};
use crate::plan::{sha256_hex, ObjectMeta, ObservedObject, Precondition};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    Get,
    Put,
}

/// What to do to a chosen call.
pub enum Fault {
    /// Fail with this error.
    Fail(fn(&str) -> Error),
    /// Let another writer change the object first, then answer as S3 would.
    Race(Vec<u8>),
}

#[derive(Default)]
struct State {
    objects: BTreeMap<String, (Vec<u8>, ObjectMeta)>,
    counts: BTreeMap<Operation, usize>,
    faults: Vec<(Operation, usize, Fault)>,
}

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// How many calls of `op` were made so far.
    pub fn count(&self, op: Operation) -> usize {
        *self.state.lock().unwrap().counts.get(&op).unwrap_or(&0)
    }

    /// Makes the `nth` (1-based, counted from the start) call of `op` fail with `fault`.
    pub fn fail_nth(&self, op: Operation, nth: usize, fault: Fault) {
        self.state.lock().unwrap().faults.push((op, nth, fault));
    }

    pub fn body(&self, key: &str) -> Option<Vec<u8>> {
        self.state
            .lock()
            .unwrap()
            .objects
            .get(key)
            .map(|(b, _)| b.clone())
    }

    pub fn insert(&self, key: &str, body: &[u8], meta: ObjectMeta) {
        self.state
            .lock()
            .unwrap()
            .objects
            .insert(key.into(), (body.to_vec(), meta));
    }

    fn count_and_fault(state: &mut State, op: Operation) -> Option<Fault> {
        let n = state.counts.entry(op).or_default();
        *n += 1;
        let n = *n;
        let index = state
            .faults
            .iter()
            .position(|(o, k, _)| *o == op && *k == n)?;
        Some(state.faults.remove(index).2)
    }
}

#[async_trait]
impl ObjectStore for MemoryStore {
    fn describe(&self) -> String {
        "memory://".into()
    }

    fn location(&self, key: &str) -> String {
        format!("memory://{key}")
    }

    async fn delete(&self, key: &str) -> Result<(), Error> {
        self.state.lock().unwrap().objects.remove(key);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<ObservedObject>, Error> {
        let mut state = self.state.lock().unwrap();
        if let Some(Fault::Fail(make)) = Self::count_and_fault(&mut state, Operation::Get) {
            return Err(make(key));
        }
        Ok(state.objects.get(key).map(|(body, meta)| ObservedObject {
            body: body.clone(),
            etag: Some(sha256_hex(body)),
            meta: Some(meta.clone()),
        }))
    }

    async fn put(
        &self,
        key: &str,
        body: &[u8],
        meta: &ObjectMeta,
        precondition: &Precondition,
    ) -> Result<(), Error> {
        let mut state = self.state.lock().unwrap();
        match Self::count_and_fault(&mut state, Operation::Put) {
            Some(Fault::Fail(make)) => return Err(make(key)),
            Some(Fault::Race(other)) => {
                state.objects.insert(key.into(), (other, meta.clone()));
            }
            None => {}
        }
        let current = state.objects.get(key).map(|(b, _)| sha256_hex(b));
        let holds = match precondition {
            Precondition::IfNoneMatch => current.is_none(),
            Precondition::IfMatch(etag) => current.as_ref() == Some(etag),
            Precondition::None => true,
        };
        if !holds {
            return Err(Error::PreconditionFailed {
                location: self.location(key),
            });
        }
        state
            .objects
            .insert(key.into(), (body.to_vec(), meta.clone()));
        Ok(())
    }
}
