//! A directory `ObjectStore`: the directory is the issuer root, served by any web server.
//!
//! Each write is atomic (temporary file in the same directory, then rename), so a web server
//! never serves half a document. Conditional writes are honoured on one machine: "create only
//! if absent" uses a hard link, which fails if the file exists; "replace only if unchanged"
//! re-reads the file just before the rename (a narrow window remains against another writer on
//! the same directory, which is why S3 is the store for several publishers).

use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{Error, ObjectStore};
use crate::plan::{sha256_hex, ObjectMeta, ObservedObject, Precondition};

pub struct DirStore {
    root: PathBuf,
}

impl DirStore {
    pub fn new(root: PathBuf) -> DirStore {
        DirStore { root }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    fn io(&self, operation: &'static str, key: &str) -> impl FnOnce(std::io::Error) -> Error + '_ {
        let location = self.location(key);
        move |error| Error::Io {
            operation,
            location,
            error,
        }
    }

    fn read(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
        match std::fs::read(path) {
            Ok(body) => Ok(Some(body)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl ObjectStore for DirStore {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn location(&self, key: &str) -> String {
        self.path(key).display().to_string()
    }

    async fn get(&self, key: &str) -> Result<Option<ObservedObject>, Error> {
        let body = Self::read(&self.path(key)).map_err(self.io("reading", key))?;
        Ok(body.map(|body| ObservedObject {
            etag: Some(sha256_hex(&body)),
            body,
            meta: None,
        }))
    }

    async fn put(
        &self,
        key: &str,
        body: &[u8],
        _meta: &ObjectMeta,
        precondition: &Precondition,
    ) -> Result<(), Error> {
        let path = self.path(key);
        let dir = path
            .parent()
            .expect("keys are relative paths with a file name");
        std::fs::create_dir_all(dir).map_err(self.io("creating the directory for", key))?;
        let name = path
            .file_name()
            .expect("keys end in a file name")
            .to_string_lossy();
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(body)?;
            file.sync_all()
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_file(&tmp);
            return Err(self.io("writing", key)(e));
        }
        let result = match precondition {
            Precondition::IfNoneMatch => match std::fs::hard_link(&tmp, &path) {
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    Err(Error::PreconditionFailed {
                        location: self.location(key),
                    })
                }
                other => other.map_err(self.io("writing", key)),
            },
            Precondition::IfMatch(etag) => {
                match Self::read(&path).map_err(self.io("reading", key))? {
                    Some(current) if sha256_hex(&current) == *etag => {
                        std::fs::rename(&tmp, &path).map_err(self.io("replacing", key))
                    }
                    _ => Err(Error::PreconditionFailed {
                        location: self.location(key),
                    }),
                }
            }
            Precondition::None => std::fs::rename(&tmp, &path).map_err(self.io("replacing", key)),
        };
        let _ = std::fs::remove_file(&tmp);
        if result.is_ok() {
            // Make the rename itself durable.
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> ObjectMeta {
        ObjectMeta {
            content_type: "application/json".into(),
            cache_control: "public, max-age=300".into(),
        }
    }

    #[tokio::test]
    async fn conditional_writes_hold_on_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path().join("root"));
        assert_eq!(store.get("openid/v1/jwks").await.unwrap(), None);
        store
            .put(
                "openid/v1/jwks",
                b"one",
                &meta(),
                &Precondition::IfNoneMatch,
            )
            .await
            .unwrap();
        let err = store
            .put(
                "openid/v1/jwks",
                b"two",
                &meta(),
                &Precondition::IfNoneMatch,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::PreconditionFailed { .. }));
        let seen = store.get("openid/v1/jwks").await.unwrap().unwrap();
        assert_eq!(seen.body, b"one");
        let stale = Precondition::IfMatch(sha256_hex(b"zero"));
        assert!(store
            .put("openid/v1/jwks", b"two", &meta(), &stale)
            .await
            .is_err());
        store
            .put(
                "openid/v1/jwks",
                b"two",
                &meta(),
                &Precondition::IfMatch(seen.etag.unwrap()),
            )
            .await
            .unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("root/openid/v1/jwks")).unwrap(),
            b"two"
        );
        // No temporary files are left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path().join("root/openid/v1"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["jwks"]);
    }
}
