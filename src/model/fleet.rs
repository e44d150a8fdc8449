//! A fleet's pure vocabulary: how a cluster of a fleet is named, and which Secret holds its
//! kubeconfig. Shared by the fleet file (`config::fleet_file`), Cluster API discovery
//! (`model::cluster_api`) and the `Secrets` effect (`fleet::secrets`).

/// One key of one Secret: where a cluster's kubeconfig is kept.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecretRef {
    pub namespace: String,
    pub name: String,
    pub key: String,
}

/// `Secret NAMESPACE/NAME (key KEY)`, as messages name it.
impl std::fmt::Display for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Secret {}/{} (key {})",
            self.namespace, self.name, self.key
        )
    }
}

/// What a metadata-only list returns per Secret (never its data).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretMeta {
    pub namespace: String,
    pub name: String,
    pub resource_version: String,
    pub labels: std::collections::BTreeMap<String, String>,
}

/// A fleet name: an IAM tag value (`[\p{L}\p{Z}\p{N}_.:/=+\-@]`, at most 256) and a metric
/// label, kept to ASCII and 128 characters so that it also reads well in a log line.
pub fn usable_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/=+@".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_iam_tags_and_metric_labels() {
        assert!(usable_name("prod-1"));
        assert!(usable_name("capi-system/workload-a"));
        assert!(!usable_name(""));
        assert!(!usable_name("a b"));
        assert!(!usable_name("é"));
        assert!(!usable_name(&"a".repeat(129)));
    }
}
