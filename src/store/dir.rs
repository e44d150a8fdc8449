//! A directory `ObjectStore`: the directory is the issuer root, served by any web server.
//!
//! Each write is atomic (temporary file in the same directory, then rename), so a web server
//! never serves half a document. Conditional writes are honoured on one machine: "create only
//! if absent" uses a hard link, which fails if the file exists; "replace only if unchanged"
//! re-reads the file just before the rename (a narrow window remains against another writer on
//! the same directory, which is why S3 is the store for several publishers).
//!
//! The directory may be writable by others than the (possibly root) user running sync, so the
//! temporary file is created with `O_CREAT|O_EXCL` under a random name: a symlink or file
//! planted at any name is never written through. Temporary files a killed run left behind are
//! removed by the next write of the same key (only names of our pattern, only regular files,
//! and only when older than [`LEFTOVER_AGE`], so a concurrent writer's file is left alone).
//! Published files are 0644 and the directories created for them 0755 whatever the umask:
//! a web server running as another user must read them.
//!
//! The root itself: a missing root is created (like `mkdir`) when its parent directory exists;
//! a missing parent is refused, because it is a typo or an unmounted volume far more often than
//! a wish to create a tree. A root that is a dangling symbolic link or not a directory is
//! refused with what to do.

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;

use super::{Error, ObjectStore};
use crate::plan::{sha256_hex, ObjectMeta, ObservedObject, Precondition};

/// Mode of every published file: readable by a web server running as another user.
const FILE_MODE: u32 = 0o644;
/// Mode of the directories this store creates (the root and `openid/v1`, `.well-known`).
const DIR_MODE: u32 = 0o755;
/// A temporary file older than this is a leftover of a killed run: a write takes milliseconds.
pub const LEFTOVER_AGE: Duration = Duration::from_secs(300);
/// Marks temporary files: `.NAME.tmp-SUFFIX`, SUFFIX alphanumeric (a PID in older versions).
const TMP_MARK: &str = ".tmp-";

pub struct DirStore {
    root: PathBuf,
}

/// What the root is before a write.
enum Root {
    Exists,
    /// Missing, its parent exists: the first write creates it.
    Missing,
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

    fn refuse(&self, problem: String) -> Error {
        Error::DirRoot {
            root: self.root.display().to_string(),
            problem,
        }
    }

    /// Checks the root without changing anything (dry runs and `--check` see the same refusal).
    fn root(&self) -> Result<Root, Error> {
        let io = |e: std::io::Error| self.refuse(format!("cannot be read ({e})"));
        match std::fs::symlink_metadata(&self.root) {
            Ok(link) if link.file_type().is_symlink() => {
                let target = std::fs::read_link(&self.root)
                    .map(|t| t.display().to_string())
                    .unwrap_or_else(|_| "?".into());
                match std::fs::metadata(&self.root) {
                    Ok(m) if m.is_dir() => Ok(Root::Exists),
                    Ok(_) => Err(self.refuse(format!(
                        "is a symbolic link to {target}, which is not a directory; point --store at a directory"
                    ))),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(self.refuse(format!(
                        "is a symbolic link to {target}, which does not exist; create {target} (mkdir -p), or point --store at an existing directory"
                    ))),
                    Err(e) => Err(io(e)),
                }
            }
            Ok(m) if m.is_dir() => Ok(Root::Exists),
            Ok(_) => Err(self
                .refuse("is not a directory; --store names the directory to publish into".into())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let parent = match self.root.parent() {
                    Some(p) if p.as_os_str().is_empty() => Path::new("."),
                    Some(p) => p,
                    None => Path::new("/"),
                };
                if parent.is_dir() {
                    Ok(Root::Missing)
                } else {
                    Err(self.refuse(format!(
                        "does not exist, nor does its parent {}; sync creates the store directory but not its parents (an unmounted volume or a typo is likelier): create it with mkdir -p {}, or fix --store",
                        parent.display(),
                        self.root.display()
                    )))
                }
            }
            Err(e) => Err(io(e)),
        }
    }

    fn read(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
        match std::fs::read(path) {
            Ok(body) => Ok(Some(body)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates `dir` (below the root) and its missing parents, each 0755 whatever the umask.
    /// A symbolic link inside the store is refused: whoever can write the root could otherwise
    /// point `openid` elsewhere and have a root-run sync write there.
    fn create_dirs(&self, dir: &Path) -> std::io::Result<()> {
        if dir == self.root {
            return Ok(());
        }
        match std::fs::symlink_metadata(dir) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(std::io::Error::other(format!(
                    "{} is a symbolic link; sync does not write through links inside the store: replace it with a directory",
                    dir.display()
                )))
            }
            Ok(m) if m.is_dir() => return Ok(()),
            _ => {}
        }
        if let Some(parent) = dir.parent() {
            self.create_dirs(parent)?;
        }
        match DirBuilder::new().mode(DIR_MODE).create(dir) {
            Ok(()) => std::fs::set_permissions(dir, Permissions::from_mode(DIR_MODE)),
            Err(e) => Err(e),
        }
    }

    /// Removes the temporary files of `name` that a killed run left in `dir`: names
    /// `.NAME.tmp-SUFFIX` with an alphanumeric SUFFIX, regular files only (`symlink_metadata`
    /// never follows a link, and a link is never removed), older than [`LEFTOVER_AGE`].
    fn remove_leftovers(dir: &Path, name: &str) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let prefix = format!(".{name}{TMP_MARK}");
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some(suffix) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
                continue;
            };
            if suffix.is_empty() || !suffix.bytes().all(|b| b.is_ascii_alphanumeric()) {
                continue;
            }
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let old = meta
                .modified()
                .ok()
                .and_then(|m| m.elapsed().ok())
                .is_some_and(|age| age >= LEFTOVER_AGE);
            if meta.file_type().is_file() && old {
                match std::fs::remove_file(&path) {
                    Ok(()) => tracing::info!(
                        path = %path.display(),
                        "removed a temporary file left by an interrupted run"
                    ),
                    Err(e) => tracing::warn!(
                        path = %path.display(),
                        error = %e,
                        "could not remove a temporary file left by an interrupted run"
                    ),
                }
            }
        }
    }

    /// Creates a fresh temporary file beside `path` and writes `body` to it, mode 0644.
    /// `create_new` is `O_CREAT|O_EXCL`: it fails on any existing name, a symlink included,
    /// so nothing planted in the directory is ever written through.
    fn write_tmp(dir: &Path, name: &str, body: &[u8]) -> std::io::Result<PathBuf> {
        let mut attempts = 0;
        loop {
            let suffix: String = std::iter::repeat_with(fastrand::alphanumeric)
                .take(12)
                .collect();
            let tmp = dir.join(format!(".{name}{TMP_MARK}{suffix}"));
            let file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(FILE_MODE)
                .open(&tmp);
            let mut file: File = match file {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempts < 8 => {
                    attempts += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let written = (|| {
                // The umask may have narrowed the creation mode: set it on the open file.
                file.set_permissions(Permissions::from_mode(FILE_MODE))?;
                file.write_all(body)?;
                file.sync_all()
            })();
            return match written {
                Ok(()) => Ok(tmp),
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    Err(e)
                }
            };
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

    async fn delete(&self, key: &str) -> Result<(), Error> {
        match std::fs::remove_file(self.path(key)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(self.io("deleting", key)(e)),
            _ => Ok(()),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<ObservedObject>, Error> {
        if let Root::Missing = self.root()? {
            return Ok(None);
        }
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
        if let Root::Missing = self.root()? {
            DirBuilder::new()
                .mode(DIR_MODE)
                .create(&self.root)
                .and_then(|()| {
                    std::fs::set_permissions(&self.root, Permissions::from_mode(DIR_MODE))
                })
                .map_err(|e| self.refuse(format!("could not be created ({e})")))?;
        }
        let path = self.path(key);
        let dir = path
            .parent()
            .expect("keys are relative paths with a file name");
        self.create_dirs(dir)
            .map_err(self.io("creating the directory for", key))?;
        let name = path
            .file_name()
            .expect("keys end in a file name")
            .to_string_lossy();
        Self::remove_leftovers(dir, &name);
        let tmp = Self::write_tmp(dir, &name, body).map_err(self.io("writing", key))?;
        let result = match precondition {
            Precondition::IfNoneMatch => match std::fs::hard_link(&tmp, &path) {
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    Err(Error::PreconditionFailed {
                        location: self.location(key),
                    })
                }
                other => other.map_err(self.io("writing", key)),
            },
            Precondition::IfMatch(etag) => match Self::read(&path) {
                Ok(Some(current)) if sha256_hex(&current) == *etag => {
                    std::fs::rename(&tmp, &path).map_err(self.io("replacing", key))
                }
                Err(e) => Err(self.io("reading", key)(e)),
                Ok(_) => Err(Error::PreconditionFailed {
                    location: self.location(key),
                }),
            },
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
