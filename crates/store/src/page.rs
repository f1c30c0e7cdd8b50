//! Keyset pagination, shared by every list that grows. Rows are read newest first on
//! `(created_at, id)` (ids are UUIDv7, so `id` breaks ties between rows of the same
//! microsecond), and a page continues strictly below the last key of the one before.
//! A row added while a client walks the pages is newer than every key it holds, so it
//! can neither repeat a row already seen nor push an older row out of reach, as an
//! offset would.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Rows a page holds when the client does not say.
pub const DEFAULT_LIMIT: u32 = 100;
/// The most a page may hold: a bound on every answer's size and time.
pub const MAX_LIMIT: u32 = 1000;

/// Where a page stops: the key of its last row. Clients hold it only as the opaque text
/// of [`Cursor::encode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

/// A query string that cannot make a page; `field` names the parameter at fault.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PageError {
    #[error("limit must be a whole number from 1 to {MAX_LIMIT}")]
    Limit,
    #[error("cursor is not one this server gave out; use next_cursor from a previous page")]
    Cursor,
}

impl PageError {
    /// The query parameter at fault.
    pub fn field(&self) -> &'static str {
        match self {
            PageError::Limit => "limit",
            PageError::Cursor => "cursor",
        }
    }
}

/// Microseconds since the epoch (Postgres keeps no finer) then the id's 16 bytes.
const CURSOR_BYTES: usize = 8 + 16;

impl Cursor {
    pub fn encode(&self) -> String {
        let mut bytes = [0u8; CURSOR_BYTES];
        bytes[..8].copy_from_slice(&self.created_at.timestamp_micros().to_be_bytes());
        bytes[8..].copy_from_slice(self.id.as_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub fn decode(raw: &str) -> Result<Self, PageError> {
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| PageError::Cursor)?;
        let bytes: [u8; CURSOR_BYTES] = bytes.try_into().map_err(|_| PageError::Cursor)?;
        let (micros, id) = bytes.split_at(8);
        let micros = i64::from_be_bytes(micros.try_into().map_err(|_| PageError::Cursor)?);
        let created_at = DateTime::from_timestamp_micros(micros).ok_or(PageError::Cursor)?;
        let id = Uuid::from_slice(id).map_err(|_| PageError::Cursor)?;
        Ok(Self { created_at, id })
    }
}

/// Which page to read: at most `limit` rows, strictly older than `after` if given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    limit: u32,
    after: Option<Cursor>,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            limit: DEFAULT_LIMIT,
            after: None,
        }
    }
}

impl PageRequest {
    /// The newest `limit` rows.
    pub fn first(limit: u32) -> Result<Self, PageError> {
        Self::new(limit, None)
    }

    pub fn new(limit: u32, after: Option<Cursor>) -> Result<Self, PageError> {
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(PageError::Limit);
        }
        Ok(Self { limit, after })
    }

    /// From a query string's `limit` and `cursor`, as clients send them.
    pub fn parse(limit: Option<&str>, cursor: Option<&str>) -> Result<Self, PageError> {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(raw) => raw.parse().map_err(|_| PageError::Limit)?,
        };
        let after = cursor.map(Cursor::decode).transpose()?;
        Self::new(limit, after)
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    pub fn after(&self) -> Option<Cursor> {
        self.after
    }

    /// The cursor's parts as query parameters (both `NULL` on the first page).
    pub(crate) fn after_key(&self) -> (Option<DateTime<Utc>>, Option<Uuid>) {
        (self.after.map(|c| c.created_at), self.after.map(|c| c.id))
    }

    /// One row more than the page holds: its presence is how we know a next page exists,
    /// without a second query to count.
    pub(crate) fn fetch_limit(&self) -> i64 {
        i64::from(self.limit) + 1
    }
}

/// One page of rows, newest first, and where the next one starts (`None`: this is the last).
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    /// Cuts the `limit + 1` rows a query fetched down to the page; `key` gives a row's key.
    pub(crate) fn from_rows(
        mut rows: Vec<T>,
        request: &PageRequest,
        key: impl Fn(&T) -> Cursor,
    ) -> Self {
        let limit = request.limit as usize;
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(key)
        } else {
            None
        };
        Self { items: rows, next }
    }

    /// The opaque `next_cursor` a client sends back for the next page.
    pub fn next_cursor(&self) -> Option<String> {
        self.next.as_ref().map(Cursor::encode)
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

/// The condition and order every paged query shares: `$after_at`/`$after_id` are the
/// cursor's parts, both NULL on the first page. A macro so that queries stay
/// `&'static str`; `$t` is the table alias (with its dot) or empty.
macro_rules! keyset {
    ($t:literal, $after_at:literal, $after_id:literal, $limit:literal) => {
        concat!(
            " AND (",
            $after_at,
            "::timestamptz IS NULL OR (",
            $t,
            "created_at, ",
            $t,
            "id) < (",
            $after_at,
            ", ",
            $after_id,
            "::uuid)) ORDER BY ",
            $t,
            "created_at DESC, ",
            $t,
            "id DESC LIMIT ",
            $limit
        )
    };
}
pub(crate) use keyset;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_are_url_safe() {
        let cursor = Cursor {
            created_at: DateTime::from_timestamp_micros(1_764_633_600_123_456).unwrap(),
            id: Uuid::now_v7(),
        };
        let text = cursor.encode();
        assert!(
            text.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{text}"
        );
        assert_eq!(Cursor::decode(&text), Ok(cursor));
    }

    #[test]
    fn malformed_cursors_and_limits_name_their_field() {
        let short = URL_SAFE_NO_PAD.encode([1u8; CURSOR_BYTES - 1]);
        for bad in ["", "not base64!", "AAAA", short.as_str()] {
            assert_eq!(
                PageRequest::parse(None, Some(bad)).map_err(|e| e.field()),
                Err("cursor"),
                "{bad:?}"
            );
        }
        for bad in ["0", "1001", "-1", "ten", "1.5", ""] {
            assert_eq!(
                PageRequest::parse(Some(bad), None).map_err(|e| e.field()),
                Err("limit"),
                "{bad:?}"
            );
        }
        assert_eq!(
            PageRequest::parse(Some("1000"), None).unwrap().limit(),
            1000
        );
        assert_eq!(PageRequest::parse(None, None), Ok(PageRequest::default()));
    }

    #[test]
    fn a_page_knows_whether_more_follow_from_the_extra_row() {
        let request = PageRequest::first(2).unwrap();
        let key = |n: &i64| Cursor {
            created_at: DateTime::from_timestamp_micros(*n).unwrap(),
            id: Uuid::nil(),
        };
        let full = Page::from_rows(vec![3, 2, 1], &request, key);
        assert_eq!(
            (full.items.as_slice(), full.next),
            (&[3, 2][..], Some(key(&2)))
        );
        let last = Page::from_rows(vec![3, 2], &request, key);
        assert_eq!((last.items.as_slice(), last.next), (&[3, 2][..], None));
    }
}
