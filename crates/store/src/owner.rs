//! Whose apps a query may see, shared by apps and deployments so neither needs the other
//! to answer "may this caller see that?".

use sqlx::PgPool;
use uuid::Uuid;

use crate::StoreError;

/// Whose apps a query may see. `Any` is the operator's view (and, until users exist, everyone's).
#[derive(Debug, Clone, Copy)]
pub enum Owner {
    Any,
    User(Uuid),
}

impl Owner {
    pub(crate) fn id(self) -> Option<Uuid> {
        match self {
            Owner::Any => None,
            Owner::User(id) => Some(id),
        }
    }
}

/// `Ok` if `owner` may see the app with this id; deleted apps included, since their
/// deployments stay readable until the teardown removes them.
pub(crate) async fn check_visible(
    pool: &PgPool,
    owner: Owner,
    app_id: Uuid,
) -> Result<(), StoreError> {
    let visible: Option<bool> = sqlx::query_scalar(
        "SELECT true FROM apps WHERE id = $1 AND ($2::uuid IS NULL OR owner_id = $2)",
    )
    .bind(app_id)
    .bind(owner.id())
    .fetch_optional(pool)
    .await?;
    visible.map(|_| ()).ok_or(StoreError::NotFound)
}
