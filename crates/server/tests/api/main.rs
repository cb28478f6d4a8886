//! HTTP tests: the real application on a random port, each test against a fresh PostgreSQL database.

mod admin;
mod admin_api;
mod auth;
mod helpers;
mod limits;
mod openapi;
mod operations;
mod profile;
mod slow_clients;
mod tokens;
