//! leadgate: one gateway that speaks four legacy CRM lead dialects, keeps every
//! lead durably in one canonical model, and (later) forwards it onwards.
//!
//! See ARCHITECTURE.md for the code map and the invariants.

#![forbid(unsafe_code)]

pub mod config;
pub mod core;
pub mod deliver;
pub mod dialect;
pub mod gateway;
pub mod http;
pub mod lead;
pub mod mapping;
pub mod store;
