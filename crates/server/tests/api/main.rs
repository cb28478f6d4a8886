//! HTTP tests: the real application on a random port, each test against a fresh PostgreSQL database.

mod admin;
mod admin_api;
mod auth;
mod helpers;
mod limits;
mod lockout;
mod openapi;
mod operations;
mod presence;
mod profile;
mod slow_clients;
mod tokens;
