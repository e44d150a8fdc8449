//! The S3 Block Public Access flags, of a bucket or of the whole account: what the documents'
//! bucket needs, and how a change of flags reads (for the plan, its messages and doctor).

use serde::Serialize;

/// The four S3 Block Public Access flags, of a bucket or of the whole account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    /// What the bucket needs: ACLs stay blocked, a public bucket policy is allowed and honoured.
    pub const PUBLISHABLE: PublicAccessBlock = PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: false,
        restrict_public_buckets: false,
    };

    /// What S3 gives a new bucket (since April 2023): everything blocked.
    pub const ALL_BLOCKED: PublicAccessBlock = PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };

    /// The flags as (name, value), in the order S3 lists them.
    pub fn flags(&self) -> [(&'static str, bool); 4] {
        [
            ("BlockPublicAcls", self.block_public_acls),
            ("IgnorePublicAcls", self.ignore_public_acls),
            ("BlockPublicPolicy", self.block_public_policy),
            ("RestrictPublicBuckets", self.restrict_public_buckets),
        ]
    }

    /// Each flag that differs between `from` (`None`: no configuration) and `self`, as
    /// `BlockPublicPolicy true -> false` (`not set -> true` without a configuration).
    pub fn flag_changes(&self, from: Option<&PublicAccessBlock>) -> Vec<String> {
        self.flags()
            .into_iter()
            .enumerate()
            .filter_map(|(i, (name, to))| {
                let was = from.map(|f| f.flags()[i].1);
                (was != Some(to)).then(|| {
                    format!(
                        "{name} {} -> {to}",
                        was.map_or("not set".to_owned(), |w| w.to_string())
                    )
                })
            })
            .collect()
    }

    /// The flags that keep a public bucket policy from working and that `to` turns off
    /// (`BlockPublicPolicy`, `RestrictPublicBuckets`), by name.
    pub fn relaxed_by(&self, to: &PublicAccessBlock) -> Vec<&'static str> {
        let mut relaxed = Vec::new();
        if self.block_public_policy && !to.block_public_policy {
            relaxed.push("BlockPublicPolicy");
        }
        if self.restrict_public_buckets && !to.restrict_public_buckets {
            relaxed.push("RestrictPublicBuckets");
        }
        relaxed
    }

    /// Whether a public bucket policy is refused (`BlockPublicPolicy`) or ignored for anonymous
    /// readers (`RestrictPublicBuckets`): either keeps STS from reading the documents.
    pub fn blocks_public_policy(&self) -> bool {
        self.block_public_policy || self.restrict_public_buckets
    }

    /// `BlockPublicAcls=true,IgnorePublicAcls=true,...`, the aws CLI's shorthand syntax.
    pub fn shorthand(&self) -> String {
        format!(
            "BlockPublicAcls={},IgnorePublicAcls={},BlockPublicPolicy={},RestrictPublicBuckets={}",
            self.block_public_acls,
            self.ignore_public_acls,
            self.block_public_policy,
            self.restrict_public_buckets
        )
    }
}
