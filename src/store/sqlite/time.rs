//! Times as the store keeps them: microseconds since 1970 in an INTEGER
//! column, so ranges compare as numbers and sort on their indexes. A bottom
//! module, so the readers and the counters both use it without needing
//! each other.

use chrono::{DateTime, Utc};

pub(super) fn micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}
