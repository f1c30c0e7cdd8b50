//! Getting source code: fetch a commit from a git repository (git2), and its submodules
//! where the app asks for them, and turn its tree into a Docker build context (a tar
//! stream), honouring `.dockerignore` and never following symlinks out of the
//! repository. Blocking code: callers run it on a blocking thread.

mod context;
mod dockerignore;
mod error;
mod fetch;
mod fetched;
mod gitmodules;
mod read;
mod remote;
mod resolve;
mod submodules;

pub use context::{ContextSummary, write_context};
pub use dockerignore::DockerIgnore;
pub use error::SourceError;
pub use fetch::{Login, fetch};
pub use fetched::{Fetched, Submodule};
pub use read::{ReadError, read_file};
pub use remote::check_resolved;
pub use resolve::resolve_commit;
pub use submodules::{SubmoduleFetch, fetch_submodules};
