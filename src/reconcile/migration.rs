//! A sync during a move to another issuer (`issuer prepare`, docs/issuer-migration.md): the
//! store's state records the migration, so the API server may sign with either of its two
//! issuers without the issuer-mismatch refusal, and `model::state` records the switch the first
//! time the API server signs with the new one. Publishing the other issuer's store too is
//! `publish`'s (it builds that store).

use crate::model::state::{State, STATE_PATH};
use crate::plan::Observed;

/// Whether the store's recorded migration accepts `api_issuer` as the API server's issuer.
pub(super) fn accepts(observed: &Observed, api_issuer: &str) -> bool {
    observed
        .objects
        .get(STATE_PATH)
        .and_then(Option::as_ref)
        .and_then(|object| State::parse(&object.body).ok())
        .and_then(|state| state.migration)
        .is_some_and(|m| m.accepts_api_issuer(api_issuer))
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;
    use time::OffsetDateTime;

    use super::super::{sync_once, Inputs, SyncError};
    use crate::model::migration::{Migration, MigrationRequest, Side};
    use crate::model::state::{self, Requests, State, STATE_PATH};
    use crate::model::Issuer;
    use crate::plan::{Mode, ObjectMeta};
    use crate::source::{self, KeySource, SourceKeys};
    use crate::store::memory::{MemoryStore, Operation};
    use crate::store::ObjectStore;

    const JWKS: &[u8] = include_bytes!("../../tests/fixtures/kube-apiserver/jwks-rsa.json");
    const OLD: &str = "https://old.example.test/c1";
    const NEW: &str = "https://new.example.test/c1";

    /// An API server signing with `0`.
    struct SignsWith(&'static str);

    #[async_trait]
    impl KeySource for SignsWith {
        fn describe(&self) -> String {
            "fake".into()
        }
        async fn fetch(&self) -> Result<SourceKeys, source::Error> {
            Ok(SourceKeys {
                keys: crate::model::jwk::parse_jwks(JWKS).unwrap().keys,
                issuer: Some(self.0.into()),
                ..SourceKeys::default()
            })
        }
    }

    fn at(hours: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_795_000_000 + hours * 3600).unwrap()
    }

    async fn sync(
        store: &MemoryStore,
        api: &'static str,
        now: OffsetDateTime,
        migration: MigrationRequest,
    ) -> Result<usize, SyncError> {
        let issuer = Issuer::parse(OLD).unwrap();
        let inputs = Inputs {
            issuer: &issuer,
            meta: ObjectMeta {
                content_type: "application/json".into(),
                cache_control: "public, max-age=300".into(),
            },
            mode: Mode::Apply,
            allow_issuer_mismatch: false,
            allow_issuer_change: false,
            issuer_region: None,
            provider: None,
            now,
            retention: state::DEFAULT_RETENTION,
            requests: Requests {
                migration,
                ..Requests::default()
            },
            edge: None,
        };
        Ok(sync_once(inputs, &SignsWith(api), store).await?.writes)
    }

    async fn recorded(store: &MemoryStore) -> Migration {
        let body = store.get(STATE_PATH).await.unwrap().unwrap().body;
        State::parse(&body).unwrap().migration.expect("recorded")
    }

    #[tokio::test]
    async fn a_recorded_migration_accepts_either_issuer_and_records_the_switch_once() {
        let store = MemoryStore::new();
        sync(&store, OLD, at(0), MigrationRequest::Keep)
            .await
            .unwrap();
        // Without a record, the new issuer is a mismatch, as ever.
        let refused = sync(&store, NEW, at(1), MigrationRequest::Keep).await;
        assert!(matches!(refused, Err(SyncError::IssuerMismatch { .. })));

        let record = Migration {
            old: Side {
                issuer: OLD.into(),
                store: "s3://old/c1".into(),
            },
            new: Side {
                issuer: NEW.into(),
                store: "s3://new/c1".into(),
            },
            prepared_at: at(1),
            switched_at: None,
            roles: vec![],
        };
        let writes = sync(&store, OLD, at(1), MigrationRequest::Record(record.clone()));
        assert_eq!(writes.await.unwrap(), 1, "the state records it");
        assert_eq!(recorded(&store).await, record);

        // The API server switched: accepted, and the time recorded once.
        assert_eq!(
            sync(&store, NEW, at(2), MigrationRequest::Keep)
                .await
                .unwrap(),
            1
        );
        assert_eq!(recorded(&store).await.switched_at, Some(at(2)));
        let puts = store.count(Operation::Put);
        assert_eq!(
            sync(&store, NEW, at(3), MigrationRequest::Keep)
                .await
                .unwrap(),
            0
        );
        assert_eq!(store.count(Operation::Put), puts);
        assert_eq!(recorded(&store).await.switched_at, Some(at(2)));
    }
}
