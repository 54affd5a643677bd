//! One folder per dialect. Each folder holds both directions of its dialect:
//! the server side (decode requests, encode answers and errors) and, with the
//! forwarding work, the client side. Dialects meet only in `core` and `lead`.

pub mod bitrix24;
pub mod livetex;
pub mod salesman;
pub mod uis;
