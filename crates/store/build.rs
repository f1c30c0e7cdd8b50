//! `sqlx::migrate!` embeds `migrations/` when this crate compiles: a new migration file
//! must rebuild it, or tests run against a schema without it.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
