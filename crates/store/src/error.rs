#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique constraint refused the write; carries the API field it concerns.
    #[error("{field} is already taken")]
    Conflict { field: &'static str },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl StoreError {
    /// Maps a unique violation on `constraint` to a conflict on `field`.
    pub(crate) fn from_unique(e: sqlx::Error, constraint: &str, field: &'static str) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.constraint() == Some(constraint) => {
                StoreError::Conflict { field }
            }
            _ => StoreError::Db(e),
        }
    }
}
