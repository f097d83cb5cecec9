//! The remote cache's trust policy (SPEC 10) as a pure function: from what is configured and
//! what could be loaded, whether this run reads the remote, writes it, and whether what it
//! reads must be signed. `Cache::with_remote` gathers the inputs and applies the decision.

/// What the run has to decide with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustInputs {
    /// `[settings.remote_cache] read` and `write`.
    pub read: bool,
    /// `[settings.remote_cache] write`.
    pub write: bool,
    /// `[settings.signing]`, when present.
    pub signing: Option<SigningState>,
}

/// What `[settings.signing]` gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningState {
    /// This build can verify and sign (the `pqc` feature).
    pub available: bool,
    /// At least one key of `trusted_keys` loaded.
    pub any_trusted: bool,
    /// The signing key of `key_env`.
    pub signer: SignerState,
    /// The variable `key_env` names, for messages.
    pub key_env: String,
}

/// The signing key, as found in the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignerState {
    /// Unset or empty (a pull-request build): read only, by design.
    Absent,
    /// Loaded; `trusted` when its public key is among `trusted_keys`.
    Loaded {
        /// Its public key is among `trusted_keys`.
        trusted: bool,
    },
    /// Set but unusable, with the reason.
    Broken(String),
}

/// What the run does with the remote.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrustDecision {
    /// Read entries from the remote.
    pub read: bool,
    /// Sign and write entries to the remote.
    pub write: bool,
    /// Entries read must carry a valid signature by a trusted key.
    pub require_signature: bool,
    /// Why something configured is not done, in words.
    pub warnings: Vec<String>,
}

impl TrustDecision {
    /// Whether the remote is used at all.
    #[must_use]
    pub fn uses_remote(&self) -> bool {
        self.read || self.write
    }
}

/// Decide. Writes need `write = true`, `[settings.signing]` and a usable key; with
/// `[settings.signing]`, reads need at least one trusted key and are verified; a build that
/// cannot verify signatures does not use a remote that requires them.
#[must_use]
pub fn decide(inputs: &TrustInputs) -> TrustDecision {
    let mut d = TrustDecision {
        read: inputs.read,
        write: false,
        require_signature: inputs.signing.is_some(),
        warnings: Vec::new(),
    };
    let Some(signing) = &inputs.signing else {
        if inputs.write {
            d.warnings.push(
                "not writing to the remote cache: writes are signed, and gates.toml has no [settings.signing]"
                    .to_owned(),
            );
        }
        return d;
    };
    if !signing.available {
        d.read = false;
        d.warnings.push(format!(
            "remote cache off: [settings.signing] requires signed entries, but {}",
            crate::signing::unavailable_reason()
        ));
        return d;
    }
    if !signing.any_trusted && d.read {
        d.warnings.push(
            "remote cache reads are off: no key of [settings.signing] trusted_keys could be loaded, \
             so no remote entry could be trusted"
                .to_owned(),
        );
        d.read = false;
    }
    match &signing.signer {
        SignerState::Loaded { trusted } => {
            if !trusted {
                d.warnings.push(format!(
                    "the signing key in ${} is not among trusted_keys: runs that read the remote \
                     cache will reject what this run writes",
                    signing.key_env
                ));
            }
            d.write = inputs.write;
        }
        SignerState::Absent => {}
        SignerState::Broken(why) => {
            if inputs.write {
                d.warnings
                    .push(format!("not writing to the remote cache: {why}"));
            }
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signing(available: bool, any_trusted: bool, signer: SignerState) -> Option<SigningState> {
        Some(SigningState {
            available,
            any_trusted,
            signer,
            key_env: "KEY".to_owned(),
        })
    }

    /// (read, write, signing) as configured and found.
    type Given = (bool, bool, Option<SigningState>);
    /// (reads, writes, verified, words of each warning).
    type Expected = (bool, bool, bool, &'static [&'static str]);

    /// Every combination that matters: (read, write, signing) -> (read, write, verified,
    /// warning words).
    #[test]
    fn table() {
        use SignerState::{Absent, Broken, Loaded};
        let trusted = Loaded { trusted: true };
        let untrusted = Loaded { trusted: false };
        let broken = Broken("bad key".to_owned());
        let cases: Vec<(Given, Expected)> = vec![
            // No signing: reads unverified, never writes.
            ((true, false, None), (true, false, false, &[])),
            (
                (true, true, None),
                (true, false, false, &["no [settings.signing]"]),
            ),
            (
                (false, true, None),
                (false, false, false, &["no [settings.signing]"]),
            ),
            ((false, false, None), (false, false, false, &[])),
            // Signing, trusted keys loaded.
            (
                (true, true, signing(true, true, trusted.clone())),
                (true, true, true, &[]),
            ),
            (
                (true, false, signing(true, true, trusted.clone())),
                (true, false, true, &[]),
            ),
            (
                (false, true, signing(true, true, trusted.clone())),
                (false, true, true, &[]),
            ),
            (
                (true, true, signing(true, true, Absent)),
                (true, false, true, &[]),
            ),
            (
                (true, true, signing(true, true, untrusted.clone())),
                (true, true, true, &["not among trusted_keys"]),
            ),
            (
                (true, true, signing(true, true, broken.clone())),
                (
                    true,
                    false,
                    true,
                    &["not writing to the remote cache: bad key"],
                ),
            ),
            (
                (true, false, signing(true, true, broken.clone())),
                (true, false, true, &[]),
            ),
            // Signing, no trusted key could be loaded: nothing can be read.
            (
                (true, true, signing(true, false, trusted.clone())),
                (false, true, true, &["reads are off"]),
            ),
            (
                (true, false, signing(true, false, Absent)),
                (false, false, true, &["reads are off"]),
            ),
            (
                (false, true, signing(true, false, untrusted)),
                (false, true, true, &["not among"]),
            ),
            // A build without the `pqc` feature cannot honour [settings.signing].
            (
                (true, true, signing(false, true, trusted)),
                (false, false, true, &["remote cache off"]),
            ),
            (
                (false, false, signing(false, false, broken)),
                (false, false, true, &["remote cache off"]),
            ),
        ];
        for ((read, write, signing), (r, w, verified, words)) in cases {
            let inputs = TrustInputs {
                read,
                write,
                signing,
            };
            let d = decide(&inputs);
            assert_eq!(
                (d.read, d.write, d.require_signature),
                (r, w, verified),
                "{inputs:?}"
            );
            assert_eq!(
                d.warnings.len(),
                words.len(),
                "{inputs:?}: {:?}",
                d.warnings
            );
            for (warning, word) in d.warnings.iter().zip(words) {
                assert!(warning.contains(word), "{inputs:?}: {warning}");
            }
            assert_eq!(d.uses_remote(), r || w);
        }
    }
}
