//! What a use case can answer besides its result. The server maps these to
//! HTTP statuses in one place, the CLI to messages and exit codes in one
//! place.

use custodian_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A person, document, case or record named in the request does not
    /// exist.
    #[error("{0}")]
    NotFound(String),
    /// The request itself is malformed or inconsistent.
    #[error("{0}")]
    Invalid(String),
    /// It contradicts what is on record (revoking a revoked token, …).
    #[error("{0}")]
    Conflict(String),
    /// The request is over a bound (bytes, lines).
    #[error("{0}")]
    TooLarge(String),
    /// A rule of the product forbids it (only the owner approves, …).
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A dataset folder that cannot be read (named, with the reason).
    #[error(transparent)]
    Import(#[from] custodian_ingest::ImportError),
    /// Writing an output file (rejects, scores) failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Something that is not the caller's fault (a content that does not
    /// open, a PDF that cannot be written).
    #[error("{0}")]
    Failed(String),
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;
