//! The engine's state as bytes, so that a service resumes where it stopped
//! instead of reading every event again.
//!
//! Rules:
//! - A checkpoint holds everything the engine learned from events: each
//!   person's baselines, credits, indicators and alert state, the peer
//!   priors, the hosts' users, the budget's lines, the contact groups, the
//!   register's reads and exposures, the position in the stream.
//! - What the configuration gives (weights, half-lives, the web lists) is
//!   not in it: [`Engine::restore`] takes it from the configuration it is
//!   given, which must be the one the checkpoint was made with.
//! - A checkpoint is valid only with the directory, register, HR history,
//!   contact reports and configuration it was made from; the caller keeps
//!   their fingerprint beside it and starts afresh when they differ
//!   (`custodian_app::detection::live`).
//! - The bytes open with a format number; a checkpoint of another format
//!   is refused, never misread. The engine restored from a checkpoint goes
//!   on exactly as the one that made it would have: the same events give
//!   the same alerts (a test).

use super::*;

/// The checkpoint format this build writes and reads.
pub const CHECKPOINT_FORMAT: u32 = 1;

/// Why a checkpoint cannot be restored.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("the checkpoint is of format {found}, this build reads format {CHECKPOINT_FORMAT}")]
    Format { found: u32 },
    #[error("the checkpoint cannot be read: {0}")]
    Decode(String),
}

pub(super) fn no_weights() -> [f64; N_FEAT] {
    [0.0; N_FEAT]
}

pub(super) fn no_mask() -> [bool; N_FEAT] {
    [false; N_FEAT]
}

pub(super) fn no_decay() -> Decay {
    Decay::new(1.0)
}

impl Engine {
    /// The engine's state (see the rules above).
    pub fn checkpoint(&self) -> Vec<u8> {
        let mut out = CHECKPOINT_FORMAT.to_le_bytes().to_vec();
        // Serialising plain data into a vector cannot fail.
        out.extend(postcard::to_stdvec(self).unwrap_or_default());
        out
    }

    /// The engine a checkpoint was made of, with `cfg` (the configuration
    /// it was made with).
    pub fn restore(cfg: Config, bytes: &[u8]) -> Result<Engine, CheckpointError> {
        let (head, body) = bytes
            .split_first_chunk::<4>()
            .ok_or_else(|| CheckpointError::Decode("it is shorter than its header".into()))?;
        let found = u32::from_le_bytes(*head);
        if found != CHECKPOINT_FORMAT {
            return Err(CheckpointError::Format { found });
        }
        let mut e: Engine =
            postcard::from_bytes(body).map_err(|e| CheckpointError::Decode(e.to_string()))?;
        e.weights = cfg.feature_weights();
        e.half_life_us = cfg.half_life_days * DAY_US as f64;
        e.decay = Decay::new(cfg.baseline_half_life_days);
        e.web = Web::new(&cfg.domains);
        e.peer_mask = cfg.peer_mask();
        e.cfg = cfg;
        Ok(e)
    }

    /// Where the engine is in the stream: the last event's time and id
    /// hash (the order events must come in).
    pub fn position(&self) -> (i64, u64) {
        (self.last_ts, self.last_idh)
    }
}
