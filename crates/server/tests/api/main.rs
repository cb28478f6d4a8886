//! HTTP tests: the real application on a random port, each test against a fresh database of its own, on
//! SQLite always and on PostgreSQL when it answers (`NAME::sqlite`, `NAME::postgres`).

// First, so that its test-making macros are known to the modules after it.
#[macro_use]
mod helpers;

mod admin;
mod admin_api;
mod audit;
mod auth;
mod cancelled;
mod email;
mod finding;
mod limits;
mod lockout;
mod openapi;
mod operations;
mod pages;
mod presence;
mod profile;
mod second_factor;
mod sessions;
mod slow_clients;
mod stress;
mod suspension;
mod tokens;
