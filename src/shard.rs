//! `--shard K/N`: a deterministic share of the gates by a hash of each name (SPEC 10).
//! Being built: see issue "Scale-out and trust".

/// Shard K of N (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub k: u32,
    pub n: u32,
}

impl Shard {
    /// Parse `K/N`.
    pub fn parse(text: &str) -> Result<Self, String> {
        Err(format!("--shard {text}: sharding is not available in this build yet"))
    }

    /// Does this shard own the gate named `name`?
    #[must_use]
    pub fn owns(&self, _name: &str) -> bool {
        true
    }
}
