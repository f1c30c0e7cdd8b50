//! An app's webhook secret, sealed at rest with SLIPWAY_SECRET_KEY when the server has
//! one (as config vars are), and created the first time it is needed for apps that
//! predate webhooks.

use axum::http::StatusCode;
use slipway_core::crypto::{Cipher, webhook_secret_aad};
use slipway_core::webhook::generate_secret;
use slipway_store::webhooks::{self, StoredSecret};
use uuid::Uuid;

use crate::error::OrNotFound;
use crate::{ApiError, AppState};

/// The app's secret, created now if it has none.
pub(crate) async fn get_or_create(state: &AppState, app_id: Uuid) -> Result<String, ApiError> {
    let stored = match webhooks::secret(&state.pool, app_id)
        .await
        .or_not_found("app")?
    {
        Some(stored) => stored,
        None => {
            let new = seal(state.cipher.as_ref(), app_id, &generate_secret())?;
            webhooks::init_secret(&state.pool, app_id, &new)
                .await
                .or_not_found("app")?
        }
    };
    open(state.cipher.as_ref(), app_id, &stored)
}

/// The app's secret if it has one (an app that predates webhooks has none until it is
/// first shown, and no delivery can have been signed with it).
pub(crate) async fn existing(state: &AppState, app_id: Uuid) -> Result<Option<String>, ApiError> {
    let stored = webhooks::secret(&state.pool, app_id)
        .await
        .or_not_found("app")?;
    stored
        .map(|s| open(state.cipher.as_ref(), app_id, &s))
        .transpose()
}

/// Replaces the app's secret with a new one, which it returns.
pub(crate) async fn rotate(state: &AppState, app_id: Uuid) -> Result<String, ApiError> {
    let secret = generate_secret();
    let new = seal(state.cipher.as_ref(), app_id, &secret)?;
    webhooks::rotate_secret(&state.pool, app_id, &new)
        .await
        .or_not_found("app")?;
    Ok(secret)
}

fn seal(cipher: Option<&Cipher>, app_id: Uuid, secret: &str) -> Result<StoredSecret, ApiError> {
    Ok(match cipher {
        Some(cipher) => StoredSecret {
            bytes: cipher
                .seal(&webhook_secret_aad(&app_id.to_string()), secret)
                .map_err(|e| ApiError::internal("sealing a webhook secret", e))?,
            sealed: true,
        },
        None => StoredSecret {
            bytes: secret.as_bytes().to_vec(),
            sealed: false,
        },
    })
}

fn open(cipher: Option<&Cipher>, app_id: Uuid, stored: &StoredSecret) -> Result<String, ApiError> {
    if !stored.sealed {
        return String::from_utf8(stored.bytes.clone())
            .map_err(|e| ApiError::internal("a stored webhook secret is not text", e));
    }
    let cipher = cipher.ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "secret_key_missing",
            "this app's webhook secret is encrypted with SLIPWAY_SECRET_KEY, which this server \
             does not have: set it (the same value on the API and the workers) and restart",
        )
    })?;
    cipher
        .open(&webhook_secret_aad(&app_id.to_string()), &stored.bytes)
        .map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "secret_key_mismatch",
                e.to_string(),
            )
        })
}
