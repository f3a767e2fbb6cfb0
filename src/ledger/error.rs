use sea_orm::{DbErr, TransactionError};

/// Why the ledger refused or failed a write.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("database: {0}")]
    Db(#[from] DbErr),
    /// The writer no longer holds the task (its lease was taken over, or the task was
    /// cancelled): it must stop without writing.
    #[error("the task is no longer held by this worker")]
    Fenced,
    /// The task is not in a state the transition starts from (cancelling a finished task).
    #[error("the task is not active")]
    NotActive,
    /// The tool call is no longer waiting for a decision.
    #[error("the tool call was decided already")]
    AlreadyDecided,
    /// The task (or the caller's hold on it) is gone.
    #[error("no such task")]
    NotFound,
}

impl From<TransactionError<LedgerError>> for LedgerError {
    fn from(e: TransactionError<LedgerError>) -> Self {
        match e {
            TransactionError::Connection(db) => Self::Db(db),
            TransactionError::Transaction(inner) => inner,
        }
    }
}
