//! `?limit=` and `?cursor=` for every list that grows (the keyset itself is
//! `slipway_store::page`). One extractor, so that every list reads, bounds and refuses
//! them alike.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Query};
use axum::http::StatusCode;
use axum::http::request::Parts;
use slipway_store::page::{PageError, PageRequest};

use crate::ApiError;

/// The page a list request asks for. Any other query parameter is refused with a 422
/// naming it: a mistyped `?limt=5` would otherwise quietly return the default page.
pub(crate) struct Paged(pub PageRequest);

impl<S: Send + Sync> FromRequestParts<S> for Paged {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Query(query) = Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))?;
        if let Some(unknown) = query
            .keys()
            .find(|k| !matches!(k.as_str(), "limit" | "cursor"))
        {
            return Err(ApiError::invalid(
                unknown.clone(),
                format!("unknown query parameter {unknown}; lists take limit and cursor"),
            ));
        }
        let page = PageRequest::parse(
            query.get("limit").map(String::as_str),
            query.get("cursor").map(String::as_str),
        )?;
        Ok(Self(page))
    }
}

impl From<PageError> for ApiError {
    fn from(e: PageError) -> Self {
        ApiError::invalid(e.field(), e.to_string())
    }
}

/// The query parameters, as every list operation documents them.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by the extractor above; this type only describes them
pub(crate) struct PageParams {
    /// How many rows the page holds: 1–1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page, to read the next (older) rows; without
    /// it, the newest. Opaque: send it back as it came.
    cursor: Option<String>,
}
