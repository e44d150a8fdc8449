//! The write gate: how the daemon stops between two writes, never in the middle of one. It
//! lives in `publish`, below `run`, because the publish step wraps its effects in it.
//!
//! Each pass's store and IAM provider writes go through [`Gated`], which counts the writes in
//! flight. On SIGTERM the loop [`closes`](WriteGate::close) the gate: a write already started
//! is let finish, a write not yet started waits forever (its pass is then dropped), and the loop
//! waits until no write is in flight. Reads are not gated: abandoning a read changes nothing.
//!
//! Stopping between writes is safe because every write is atomic (an S3 PutObject, a rename in
//! a directory, one IAM call) and `reconcile` orders them so that any prefix is consistent: the
//! JWKS, then the discovery document, then the retention state, then IAM.

use std::collections::BTreeMap;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::iam::{self, Account, OidcProviders, ProviderState};
use crate::plan::{ObjectMeta, ObservedObject, Precondition};
use crate::store::{self, ObjectStore};

/// Shared between the loop (which closes it) and each pass's effects (which enter it).
pub struct WriteGate {
    /// `(closed, writes in flight)`.
    state: watch::Sender<(bool, usize)>,
}

impl Default for WriteGate {
    fn default() -> Self {
        WriteGate {
            state: watch::Sender::new((false, 0)),
        }
    }
}

/// Held while one write is in flight.
struct Permit<'a>(&'a WriteGate);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.0.state.send_modify(|(_, in_flight)| *in_flight -= 1);
    }
}

impl WriteGate {
    /// A permit for one write, or `None` once the gate is closed.
    fn enter(&self) -> Option<Permit<'_>> {
        let mut entered = false;
        self.state.send_if_modified(|(closed, in_flight)| {
            if !*closed {
                *in_flight += 1;
                entered = true;
            }
            entered
        });
        // Not `then_some`: it would build (and drop, decrementing) a permit when closed.
        entered.then(|| Permit(self))
    }

    /// No write starts after this.
    pub fn close(&self) {
        self.state.send_modify(|(closed, _)| *closed = true);
    }

    /// Resolves when no write is in flight.
    pub async fn idle(&self) {
        let mut rx = self.state.subscribe();
        // The sender lives as long as `self`, so waiting cannot fail.
        let _ = rx.wait_for(|(_, in_flight)| *in_flight == 0).await;
    }

    /// Runs `write` unless the gate is closed; then never resolves (the loop drops the pass).
    async fn write<T>(&self, write: impl std::future::Future<Output = T>) -> T {
        match self.enter() {
            Some(_permit) => write.await,
            None => std::future::pending().await,
        }
    }
}

/// An effect whose writes go through a [`WriteGate`].
pub struct Gated<'a, T: ?Sized> {
    pub inner: &'a T,
    pub gate: &'a WriteGate,
}

#[async_trait]
impl ObjectStore for Gated<'_, dyn ObjectStore + '_> {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn location(&self, key: &str) -> String {
        self.inner.location(key)
    }

    async fn region(&self) -> Result<Option<String>, store::Error> {
        self.inner.region().await
    }

    async fn get(&self, key: &str) -> Result<Option<ObservedObject>, store::Error> {
        self.inner.get(key).await
    }

    async fn put(
        &self,
        key: &str,
        body: &[u8],
        meta: &ObjectMeta,
        precondition: &Precondition,
    ) -> Result<(), store::Error> {
        self.gate
            .write(self.inner.put(key, body, meta, precondition))
            .await
    }

    async fn delete(&self, key: &str) -> Result<(), store::Error> {
        self.gate.write(self.inner.delete(key)).await
    }
}

#[async_trait]
impl OidcProviders for Gated<'_, dyn OidcProviders + '_> {
    async fn account(&self) -> Result<Account, iam::Error> {
        self.inner.account().await
    }

    async fn get(&self, arn: &str) -> Result<Option<ProviderState>, iam::Error> {
        self.inner.get(arn).await
    }

    async fn create(
        &self,
        url: &str,
        client_ids: &[String],
        thumbprints: &[String],
        tags: &BTreeMap<String, String>,
    ) -> Result<String, iam::Error> {
        self.gate
            .write(self.inner.create(url, client_ids, thumbprints, tags))
            .await
    }

    async fn set_thumbprints(&self, arn: &str, thumbprints: &[String]) -> Result<(), iam::Error> {
        self.gate
            .write(self.inner.set_thumbprints(arn, thumbprints))
            .await
    }

    async fn add_client_id(&self, arn: &str, client_id: &str) -> Result<(), iam::Error> {
        self.gate
            .write(self.inner.add_client_id(arn, client_id))
            .await
    }

    async fn remove_client_id(&self, arn: &str, client_id: &str) -> Result<(), iam::Error> {
        self.gate
            .write(self.inner.remove_client_id(arn, client_id))
            .await
    }

    async fn tag(&self, arn: &str, tags: &BTreeMap<String, String>) -> Result<(), iam::Error> {
        self.gate.write(self.inner.tag(arn, tags)).await
    }

    async fn delete(&self, arn: &str) -> Result<(), iam::Error> {
        self.gate.write(self.inner.delete(arn)).await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::memory::MemoryStore;

    fn meta() -> ObjectMeta {
        ObjectMeta {
            content_type: "application/json".into(),
            cache_control: "public, max-age=300".into(),
        }
    }

    #[tokio::test]
    async fn an_open_gate_passes_writes_and_reads_through() {
        let (memory, gate) = (MemoryStore::new(), WriteGate::default());
        let inner: &dyn ObjectStore = &memory;
        let store = Gated { inner, gate: &gate };
        store
            .put("a", b"1", &meta(), &Precondition::IfNoneMatch)
            .await
            .unwrap();
        assert_eq!(store.get("a").await.unwrap().unwrap().body, b"1");
        tokio::time::timeout(Duration::from_secs(1), gate.idle())
            .await
            .expect("no write in flight");
    }

    #[tokio::test]
    async fn a_closed_gate_starts_no_write_but_still_reads() {
        let (memory, gate) = (MemoryStore::new(), WriteGate::default());
        let inner: &dyn ObjectStore = &memory;
        let store = Gated { inner, gate: &gate };
        gate.close();
        let meta = meta();
        let put = store.put("a", b"1", &meta, &Precondition::IfNoneMatch);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), put)
                .await
                .is_err(),
            "the write must wait forever"
        );
        assert!(memory.body("a").is_none());
        assert!(store.get("a").await.unwrap().is_none());
        assert_eq!(
            *gate.state.borrow(),
            (true, 0),
            "a refused write holds no permit"
        );
        gate.idle().await;
    }

    #[tokio::test]
    async fn idle_waits_for_the_write_in_flight() {
        let gate = WriteGate::default();
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let write = gate.write(async move {
            let _ = released.await;
            "written"
        });
        tokio::pin!(write);
        // Start the write, then close the gate while it is in flight.
        assert!(futures::poll!(&mut write).is_pending());
        gate.close();
        let idle = gate.idle();
        tokio::pin!(idle);
        assert!(
            futures::poll!(&mut idle).is_pending(),
            "a write is in flight"
        );
        release.send(()).unwrap();
        assert_eq!(write.await, "written");
        idle.await;
        assert!(gate.enter().is_none());
    }
}
