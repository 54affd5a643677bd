//! leadgate: one gateway that speaks four legacy CRM lead dialects, keeps every
//! lead durably in one canonical model, and forwards it onwards exactly once.
//!
//! See ARCHITECTURE.md for the code map and the invariants.

#![forbid(unsafe_code)]

pub mod app;
pub mod clock;
pub mod config;
pub mod core;
pub mod dialect;
pub mod digest;
pub mod forward;

pub mod http;
pub mod import;
pub mod lead;
pub mod logging;
pub mod mapping;
pub mod meters;
pub mod ops;
pub mod problems;
pub mod store;
pub mod sync_back;
pub mod traffic;
