//! What the in-memory effects of `iam::memory` and `bootstrap::memory` share for unit tests:
//! every call counted by name, and an optional failure for a chosen call (after awslabs/
//! mountpoint-s3's counting and failing test clients). Nothing here talks to anything.

use std::collections::BTreeMap;

/// A call name and the error it fails with.
type Failure<E> = (&'static str, fn() -> E);

/// The calls made so far, by name, and the call that fails, if any.
pub struct Calls<E> {
    counts: BTreeMap<&'static str, usize>,
    fail: Option<Failure<E>>,
}

impl<E> Default for Calls<E> {
    fn default() -> Self {
        Calls {
            counts: BTreeMap::new(),
            fail: None,
        }
    }
}

impl<E> Calls<E> {
    /// Counts a call of `name`; the chosen failure when `name` is the failing call.
    pub fn record(&mut self, name: &'static str) -> Result<(), E> {
        *self.counts.entry(name).or_default() += 1;
        if let Some((failing, error)) = self.fail {
            if failing == name {
                return Err(error());
            }
        }
        Ok(())
    }

    /// Calls of `name` so far.
    pub fn count(&self, name: &str) -> usize {
        *self.counts.get(name).unwrap_or(&0)
    }

    /// Calls so far of any name but `reads`.
    pub fn writes(&self, reads: &[&str]) -> usize {
        self.counts
            .iter()
            .filter(|(name, _)| !reads.contains(name))
            .map(|(_, n)| n)
            .sum()
    }

    /// Makes every call of `name` fail with `error()`; `None` makes none fail.
    pub fn fail(&mut self, failure: Option<Failure<E>>) {
        self.fail = failure;
    }
}
