//! Calendar arithmetic and the temporal text and numbers the foreign formats need beyond
//! Sluice's own forms: TIMESTAMP as SQL text in UTC (Canal, Maxwell) and DATE, TIME and
//! DATETIME as epoch numbers (Debezium).
//!
//! Hand-written (Howard Hinnant's `days_from_civil` / `civil_from_days`, proleptic Gregorian)
//! because this is all the calendar arithmetic needed and the workspace has no date-time crate.

use std::io::Write as _;

use sluice_core::value::{Date, DateTime, Time, Timestamp};

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1-12, day 1-31).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month, day).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Whether a DATE is a real calendar day. MySQL stores zero dates (`0000-00-00`) and dates with
/// a zero month or day (`2024-00-00`), which name no day and have no epoch number.
pub(crate) fn is_real_date(date: &Date) -> bool {
    (1..=12).contains(&date.month) && date.day >= 1
}

/// `.` and the first `fsp` digits of the six-digit microseconds; nothing for `fsp` 0. The same
/// digits as Sluice's own temporal forms.
pub(crate) fn write_fraction(out: &mut Vec<u8>, micros: u32, fsp: u8) {
    if fsp == 0 {
        return;
    }
    let mut digits = Vec::with_capacity(8);
    let _ = write!(digits, "{micros:06}");
    out.push(b'.');
    out.extend_from_slice(&digits[..usize::from(fsp.min(6)).min(digits.len())]);
}

/// A TIMESTAMP as SQL text in UTC, `YYYY-MM-DD HH:MM:SS[.ffffff]` with the column's fractional
/// digits (unquoted); the zero timestamp as `0000-00-00 00:00:00[.000…]`.
pub(crate) fn write_timestamp_sql(out: &mut Vec<u8>, ts: &Timestamp) {
    if ts.seconds == 0 && ts.micros == 0 {
        out.extend_from_slice(b"0000-00-00 00:00:00");
    } else {
        // Whole days since the epoch of an unsigned count: never negative, far inside i64.
        let days = (ts.seconds / 86_400) as i64;
        let rem = ts.seconds % 86_400;
        let (y, m, d) = civil_from_days(days);
        let _ = write!(
            out,
            "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        );
    }
    write_fraction(out, ts.micros, ts.fsp);
}

/// A DATE as days since the epoch; `None` for a date that names no day.
pub(crate) fn epoch_days(date: &Date) -> Option<i64> {
    is_real_date(date).then(|| {
        days_from_civil(
            i64::from(date.year),
            u32::from(date.month),
            u32::from(date.day),
        )
    })
}

/// A DATETIME read as UTC, in microseconds since the epoch; `None` when its date names no day.
pub(crate) fn epoch_micros(dt: &DateTime) -> Option<i64> {
    let days = epoch_days(&dt.date)?;
    let seconds = i64::from(dt.hour) * 3600 + i64::from(dt.minute) * 60 + i64::from(dt.second);
    Some(days * MICROS_PER_DAY + seconds * MICROS_PER_SECOND + i64::from(dt.micros))
}

/// A TIME (a signed duration, up to ±838 hours) in microseconds.
pub(crate) fn time_micros(t: &Time) -> i64 {
    let seconds = i64::from(t.hours) * 3600 + i64::from(t.minutes) * 60 + i64::from(t.seconds);
    let micros = seconds * MICROS_PER_SECOND + i64::from(t.micros);
    if t.negative {
        -micros
    } else {
        micros
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: u16, month: u8, day: u8) -> Date {
        Date { year, month, day }
    }

    #[test]
    fn calendar_round_trips() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(0, 1, 1), -719_528);
        for days in (-800_000..3_000_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn timestamps_as_sql_text_in_utc() {
        let text = |ts: Timestamp| {
            let mut out = Vec::new();
            write_timestamp_sql(&mut out, &ts);
            String::from_utf8(out).unwrap()
        };
        let ts = |seconds, micros, fsp| Timestamp {
            seconds,
            micros,
            fsp,
        };
        assert_eq!(text(ts(1_589_373_560, 0, 0)), "2020-05-13 12:39:20");
        assert_eq!(
            text(ts(1_477_053_217, 523_000, 6)),
            "2016-10-21 12:33:37.523000"
        );
        assert_eq!(text(ts(2_147_483_647, 5, 3)), "2038-01-19 03:14:07.000");
        assert_eq!(text(ts(0, 0, 0)), "0000-00-00 00:00:00");
        assert_eq!(text(ts(0, 0, 2)), "0000-00-00 00:00:00.00");
    }

    #[test]
    fn epoch_numbers_follow_debezium() {
        // Debezium's documented example: DATETIME 2018-06-20 06:37:03 becomes 1529476623000.
        let dt = DateTime {
            date: date(2018, 6, 20),
            hour: 6,
            minute: 37,
            second: 3,
            micros: 0,
            fsp: 0,
        };
        assert_eq!(epoch_micros(&dt), Some(1_529_476_623_000_000));
        let before_epoch = DateTime {
            date: date(1969, 12, 31),
            hour: 23,
            minute: 59,
            second: 59,
            micros: 500_000,
            fsp: 1,
        };
        assert_eq!(epoch_micros(&before_epoch), Some(-500_000));
        assert_eq!(epoch_days(&date(2024, 2, 29)), Some(19_782));
        assert_eq!(epoch_days(&date(0, 0, 0)), None);
        assert_eq!(epoch_days(&date(2024, 0, 1)), None);
        assert_eq!(epoch_days(&date(2024, 1, 0)), None);
        let t = Time {
            negative: true,
            hours: 838,
            minutes: 59,
            seconds: 59,
            micros: 0,
            fsp: 0,
        };
        assert_eq!(time_micros(&t), -3_020_399_000_000);
    }
}
