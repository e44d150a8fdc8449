//! Keys from PEM files (`--key-file`), read here and parsed by the pure `model::keyfile`.

use std::path::PathBuf;

use async_trait::async_trait;

use super::{Error, KeySource, SourceKeys};
use crate::model::keyfile::jwks_from_pem;

pub struct KeyFiles {
    paths: Vec<PathBuf>,
}

impl KeyFiles {
    pub fn new(paths: Vec<PathBuf>) -> KeyFiles {
        KeyFiles { paths }
    }
}

#[async_trait]
impl KeySource for KeyFiles {
    fn describe(&self) -> String {
        let names: Vec<String> = self.paths.iter().map(|p| p.display().to_string()).collect();
        format!("key files {}", names.join(", "))
    }

    async fn fetch(&self) -> Result<SourceKeys, Error> {
        let mut out = SourceKeys::default();
        for path in &self.paths {
            let shown = path.display().to_string();
            let pem = tokio::fs::read(path)
                .await
                .map_err(|e| Error::KeyFileRead {
                    path: shown.clone(),
                    detail: e.to_string(),
                })?;
            let keys = jwks_from_pem(&pem).map_err(|e| Error::KeyFile {
                path: shown,
                detail: e.to_string(),
            })?;
            out.keys.extend(keys);
        }
        Ok(out)
    }
}
