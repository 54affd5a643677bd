//! The composition root: the only module that knows every dialect, the
//! store, the forwarder, the admin API and `translate`, and wires them
//! together from the settings. Nothing else in the crate imports it; the
//! `leadgate` binary and the end-to-end tests start it.

pub mod gateway;
pub mod import;
pub mod operations;
pub mod reload;
mod serving;
pub mod stores;
pub mod targets;
pub mod translate;
pub mod wiring;

pub use gateway::{Gateway, StartError};
